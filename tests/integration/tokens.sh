#!/usr/bin/env bash
# tokens: `pskprov token create|list|revoke` and the server's roles. A token is printed
# once (or written to a new 0600 file), the database holds its SHA-256 and never the
# token; duplicates, bad roles and names are one-line errors; every create and revoke
# is audited. Against a running server: read tokens may GET /api/v1/status, agent
# tokens may POST /api/v1/hello and nothing else (403), no or unknown tokens get 401,
# api.token stays an admin token; a revoked token is refused within seconds and a new
# one accepted as fast; last use is recorded. No token in any log or output kept.
# Addresses 127.215.x.1, random ports, bounded waits.
. "$(dirname "$0")/lib/common.sh"
set -e
for tool in jq curl sha256sum timeout; do
	command -v "$tool" >/dev/null || fail "$tool is required"
done
PB=$(port_base)
HP=$PB AP=$((PB + 1)) DP=$((PB + 2))
IP=127.215.$((RANDOM % 200)).1
TOKRE='^ppt_[0-9a-f]{64}$'

run timeout 30 "$P" init
expect_rc 0 init

# ---- create: shown once, stdout or a 0600 file ----
run_secret timeout 30 "$P" token create --role read --name reader
expect_rc 0 "create read"
READ_TOK=$OUT
printf '%s' "$READ_TOK" | grep -Eq "$TOKRE" || fail "read token is not ppt_ and 64 hex digits"
printf '%s' "$ERR" | grep -qF "shown once" || fail "no note that the token is shown once: $ERR"
printf '%s' "$ERR" | grep -qF -- "$READ_TOK" && fail "token on stderr"
ok
run_secret timeout 30 "$P" token create --role admin --name ops --json
expect_rc 0 "create admin --json"
ADMIN_TOK=$(printf '%s' "$OUT" | jq -r .token)
[ "$(printf '%s' "$OUT" | jq -r .role)" = admin ] || fail "json role"
printf '%s' "$ADMIN_TOK" | grep -Eq "$TOKRE" || fail "admin token malformed"
[ "$ADMIN_TOK" != "$READ_TOK" ] || fail "two tokens alike"
ok
run timeout 30 "$P" token create --role agent --name host-1 --out "$T/agent.tok"
expect_rc 0 "create agent --out"
expect_mode "$T/agent.tok" 600
AGENT_TOK=$(cat "$T/agent.tok")
printf '%s' "$AGENT_TOK" | grep -Eq "$TOKRE" || fail "agent token file malformed"
printf '%s%s' "$OUT" "$ERR" | grep -qF -- "$AGENT_TOK" && fail "--out token printed"
expect_out "written to $T/agent.tok"
# --out never overwrites, and a refused file leaves no token behind.
echo keep >"$T/taken"
run timeout 30 "$P" token create --role agent --name host-2 --out "$T/taken"
expect_rc 1 "--out onto an existing file"
expect_one_line_err
[ "$(cat "$T/taken")" = keep ] || fail "--out overwrote a file"
run timeout 30 "$P" token list --all --json
printf '%s' "$OUT" | jq -e 'map(.name) | index("host-2") == null' >/dev/null ||
	fail "a token whose file was refused is stored"
ok

# ---- refusals: one line, non-zero ----
run timeout 30 "$P" token create --role read --name reader
expect_rc 1 "duplicate name"
expect_err "a token named 'reader' already exists"
expect_one_line_err
run timeout 30 "$P" token create --role root --name x
expect_rc 2 "bad role"
expect_err "--role must be read, admin or agent"
run timeout 30 "$P" token create --role read --name 'a b'
expect_rc 2 "bad name"
expect_one_line_err
run timeout 30 "$P" token create --role read
expect_rc 2 "no name"
run timeout 30 "$P" token revoke nobody
expect_rc 1 "revoke unknown"
expect_err "no active token named 'nobody'"
expect_one_line_err

# ---- list: never the token ----
run timeout 30 "$P" token list
expect_rc 0 list
expect_out reader
expect_out host-1
printf '%s' "$OUT" | grep -q ppt_ && fail "list shows a token"
ok
run timeout 30 "$P" token list --json
[ "$(printf '%s' "$OUT" | jq -r 'map(.name + ":" + .role) | join(",")')" = \
	"reader:read,ops:admin,host-1:agent" ] || fail "list --json: $OUT"
printf '%s' "$OUT" | grep -q ppt_ && fail "list --json shows a token"
ok

# ---- the database holds hashes, never tokens ----
for tok in "$READ_TOK" "$ADMIN_TOK" "$AGENT_TOK"; do
	h=$(printf '%s' "$tok" | sha256sum | cut -d' ' -f1)
	cat "$PSKPROV_DIR"/pskprov.db* | grep -aqF "$h" || fail "hash of a token not stored"
	cat "$PSKPROV_DIR"/pskprov.db* | grep -aqF -- "${tok#ppt_}" && fail "a token is in the database"
	ok
done
run timeout 30 "$P" audit list --json
[ "$(printf '%s' "$OUT" | jq '[.[] | select(.action == "token.create")] | length')" = 3 ] ||
	fail "token.create not audited 3 times: $OUT"
ok

# ---- a running server: roles ----
. "$(dirname "$0")/lib/proc.sh"
start_server "$T/server.log" $IP:$HP $IP:$AP --device-port $DP
BOOT_TOK=$(cat "$PSKPROV_DIR/api.token")

status() { # TOKEN|'' -> HTTP code
	if [ -n "$1" ]; then
		curl -s -m 5 -o "$T/api.out" -w '%{http_code}' -H "Authorization: Bearer $1" \
			"http://$IP:$AP/api/v1/status"
	else
		curl -s -m 5 -o "$T/api.out" -w '%{http_code}' "http://$IP:$AP/api/v1/status"
	fi
}
hello() { # TOKEN|'' -> HTTP code
	set -- "${1:-}" -X POST -H 'Content-Type: application/json' --data \
		'{"uuid":"11111111-2222-3333-4444-0000000000aa","pid":"0000-037M","address":"127.0.0.9"}'
	if [ -n "$1" ]; then
		curl -s -m 5 -o "$T/api.out" -w '%{http_code}' -H "Authorization: Bearer $1" \
			"${@:2}" "http://$IP:$AP/api/v1/hello"
	else
		curl -s -m 5 -o "$T/api.out" -w '%{http_code}' "${@:2}" "http://$IP:$AP/api/v1/hello"
	fi
}
expect_code() { [ "$1" = "$2" ] || fail "$3: HTTP $1, expected $2 ($(cat "$T/api.out" 2>/dev/null))"; ok; }

expect_code "$(status "$READ_TOK")" 200 "status, read token"
expect_code "$(status "$ADMIN_TOK")" 200 "status, admin token"
expect_code "$(status "$BOOT_TOK")" 200 "status, api.token (bootstrap admin)"
expect_code "$(status "$AGENT_TOK")" 403 "status, agent token"
jq -e '.error | test("agent")' "$T/api.out" >/dev/null || fail "403 does not say why"
expect_code "$(status "")" 401 "status, no token"
expect_code "$(status "ppt_$(printf '%064d' 0)")" 401 "status, unknown token"
expect_code "$(status "${READ_TOK%?}")" 401 "status, a token cut short"
expect_code "$(hello "$AGENT_TOK")" 202 "hello, agent token"
expect_code "$(hello "$ADMIN_TOK")" 202 "hello, admin token"
expect_code "$(hello "$READ_TOK")" 403 "hello, read token"
expect_code "$(hello "")" 401 "hello, no token"

# ---- revoke and create while it runs: within seconds ----
run timeout 30 "$P" token revoke reader
expect_rc 0 "revoke reader"
t0=$(date +%s%N)
gone=""
for _ in $(seq 1 100); do
	[ "$(status "$READ_TOK")" = 401 ] && { gone=1; break; }
	sleep 0.1
done
[ -n "$gone" ] || fail "revoked token still accepted after 10 s"
ms=$((($(date +%s%N) - t0) / 1000000))
[ "$ms" -le 6000 ] || fail "revoke took $ms ms to take effect"
echo "revoked token refused after $ms ms"
ok
run_secret timeout 30 "$P" token create --role read --name reader
expect_rc 0 "the name is free again"
NEW_TOK=$OUT
seen=""
for _ in $(seq 1 100); do
	[ "$(status "$NEW_TOK")" = 200 ] && { seen=1; break; }
	sleep 0.1
done
[ -n "$seen" ] || fail "a new token not accepted within 10 s"
ok
expect_code "$(status "$READ_TOK")" 401 "the old token stays refused"
# Last use, written back by the refresh.
used=""
for _ in $(seq 1 100); do
	run timeout 30 "$P" token list --json
	[ "$(printf '%s' "$OUT" | jq '.[] | select(.name == "host-1") | .last_used')" -gt 0 ] &&
		{ used=1; break; }
	sleep 0.1
done
[ -n "$used" ] || fail "last use of host-1 not recorded"
ok
run timeout 30 "$P" token list --all --json
[ "$(printf '%s' "$OUT" | jq -r '[.[] | select(.name == "reader") | .state] | join(",")')" = \
	"revoked,active" ] || fail "list --all: $OUT"
ok
run timeout 30 "$P" audit list --json
printf '%s' "$OUT" | jq -e '[.[] | select(.action == "token.revoke" and .subject == "reader")] | length == 1' >/dev/null ||
	fail "revoke not audited"
ok
run timeout 30 "$P" audit verify
expect_rc 0 "audit chain"

# ---- no token anywhere it should not be ----
kill $SPID
for _ in $(seq 50); do kill -0 $SPID 2>/dev/null || break; sleep 0.1; done
printf '%s\n' "$READ_TOK" "$ADMIN_TOK" "$AGENT_TOK" "$NEW_TOK" "$BOOT_TOK" >"$T/secrets"
scan_for_secrets "$T/secrets" "$T/server.log" "$LOG" "$PSKPROV_DIR"/pskprov.db*
ok
echo "tokens: $PASSES checks passed"
