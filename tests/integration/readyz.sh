#!/usr/bin/env bash
# readyz: /healthz says the process lives, /readyz that it can do its work. With every
# store write failing as on a full disk (the server's file size limit lowered to one
# byte with prlimit: each write that would grow a file fails with EFBIG, the errno a
# full disk's ENOSPC shares a path with in SQLite), /healthz stays 200 while /readyz
# answers 503 naming the store and the failed writes are counted; given room again, /readyz
# comes back to 200 by itself and hellos are recorded again.
. "$(dirname "$0")/lib/common.sh"
set -e
command -v prlimit >/dev/null || fail "prlimit (util-linux) is missing"
PB=$(port_base)
HP=$PB AP=$((PB + 1))
run "$P" init
expect_rc 0 init
run "$P" keys generate --count 2 --batch r
expect_rc 0 generate
run_secret "$P" keys export --batch r --format csv --out "$T/k.csv"
PID1=$(sed -n 2p "$T/k.csv" | cut -d, -f1)
# The log goes through a pipe: a pipe has no file size limit.
"$P" server --hello 127.0.0.1:$HP --api 127.0.0.1:$AP 2>&1 | cat >"$T/server.log" &
for _ in $(seq 1 50); do curl -sf "http://127.0.0.1:$AP/healthz" >/dev/null && break; sleep 0.1; done
SPID=$(pgrep -f "server --hello 127.0.0.1:$HP" | head -1)
[ -n "$SPID" ] || fail "server not found"
stop_server() {
	local rc=$?
	kill "$SPID" 2>/dev/null || true
	return $rc
}
trap 'stop_server; cleanup' EXIT
TOKEN=$(cat "$PSKPROV_DIR/api.token")
code() { curl -s -o "$T/r.out" -w '%{http_code}' "http://127.0.0.1:$AP/$1"; }
hello() { # UUID
	curl -s -o /dev/null -w '%{http_code}' -X POST -H 'Content-Type: application/json' \
		-H "Authorization: Bearer $TOKEN" \
		--data "{\"uuid\":\"$1\",\"pid\":\"$PID1\",\"address\":\"127.0.0.9\"}" \
		"http://127.0.0.1:$AP/api/v1/hello"
}
wait_code() { # PATH CODE
	for _ in $(seq 1 100); do [ "$(code "$1")" = "$2" ] && return 0; sleep 0.1; done
	fail "/$1 did not answer $2 (last: $(code "$1") $(cat "$T/r.out"))"
}
wait_code readyz 200
ok
# A disk with no room.
prlimit --pid "$SPID" --fsize=1:
for i in $(seq 1 20); do hello "11111111-2222-3333-4444-0000000000$(printf %02d "$i")" >/dev/null; done
wait_code readyz 503
echo "full disk: /readyz 503: $(cat "$T/r.out")"
grep -q '"store_error"' "$T/r.out" || fail "the 503 does not name the store: $(cat "$T/r.out")"
ok
[ "$(code healthz)" = 200 ] || fail "/healthz is not 200 while the process lives"
ok
ERRS=$(curl -sf "http://127.0.0.1:$AP/metrics" | awk '$1 == "pskprov_store_errors_total" {print $2}')
echo "store errors counted while full: $ERRS"
# Room again: ready by itself, no restart.
prlimit --pid "$SPID" --fsize=unlimited:
wait_code readyz 200
ok
before=$("$P" jobs list --json | jq length)
[ "$(hello 11111111-2222-3333-4444-000000000099)" = 202 ] || fail "hello after recovery"
for _ in $(seq 1 50); do [ "$("$P" jobs list --json | jq length)" -gt "$before" ] && break; sleep 0.1; done
[ "$("$P" jobs list --json | jq length)" -gt "$before" ] || fail "no hello recorded after the disk had room again"
ok
kill -0 "$SPID" || fail "the server died"
ok
finish
