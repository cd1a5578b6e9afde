#!/usr/bin/env bash
# Shared and cloned keys: two devices loaded with the same unique key (a cloned or
# stolen key): one is provisioned, the other quarantined, audited and reported. Three
# devices on a key shared by at most two: two provisioned, the third quarantined.
. "$(dirname "$0")/lib/common.sh"
set -e
HP=$(port_base)
AP=$((HP + 5))
NET=127.0.61
# The devices and the server are stopped, and waited for, before the scratch directory
# goes: a device still saving its state must not race the cleanup.
. "$(dirname "$0")/lib/proc.sh"

run "$P" init
run "$P" keys generate --count 1 --batch uniq
run "$P" keys generate --count 1 --batch kiosk --shared 2
expect_rc 0 "shared batch"
run "$P" keys export --batch uniq --format csv --out "$T/uniq.csv"
run "$P" keys export --batch kiosk --format csv --out "$T/kiosk.csv"
start_server "$T/server.log" 127.0.0.1:$HP 127.0.0.1:$AP

start_device() { # N CSV
	run "$P" device factory-load --state "$T/dev$1" --csv "$2"
	expect_rc 0 "factory-load dev$1"
	"$P" device run --state "$T/dev$1" --address "$NET.$1" --server 127.0.0.1:$HP \
		--time-scale 0.01 >"$T/dev$1.log" 2>&1 &
	BGPIDS="$BGPIDS $!"
}
start_device 1 "$T/uniq.csv"
start_device 2 "$T/uniq.csv"
start_device 3 "$T/kiosk.csv"
start_device 4 "$T/kiosk.csv"
start_device 5 "$T/kiosk.csv"

# Wait (bounded) until 3 devices are provisioned and 2 quarantined.
for _ in $(seq 1 150); do
	run "$P" status --json
	p=$(printf '%s' "$OUT" | jq .devices.provisioned)
	q=$(printf '%s' "$OUT" | jq .devices.quarantined)
	[ "$p" -ge 3 ] && [ "$q" -ge 2 ] && break
	sleep 0.2
done
[ "$p" -eq 3 ] || fail "3 provisioned expected, got $p: $OUT"
[ "$q" -eq 2 ] || fail "2 quarantined expected, got $q: $OUT"
ok
# One of dev1/dev2 each way.
s1=$("$P" device show --state "$T/dev1" --json | jq -r .state)
s2=$("$P" device show --state "$T/dev2" --json | jq -r .state)
echo "unique key: dev1 $s1, dev2 $s2"
[ "$s1" != "$s2" ] || fail "both devices on the unique key ended $s1"
ok
run "$P" devices list
expect_out "QUARANTINED"
run "$P" audit list --json
[ "$(printf '%s' "$OUT" | jq '[.[] | select(.action == "device.quarantined")] | length')" -eq 2 ] ||
	fail "two quarantines audited"
ok
run "$P" keys report --json
[ "$(printf '%s' "$OUT" | jq '.quarantined | length')" -eq 2 ] || fail "report: quarantined"
[ "$(printf '%s' "$OUT" | jq '.shared | length')" -eq 1 ] || fail "report: shared"
[ "$(printf '%s' "$OUT" | jq '.shared[0].devices')" -eq 2 ] || fail "report: shared key used by 2"
ok
run "$P" keys list --batch kiosk
expect_out "SHARED"
run "$P" keys report
expect_out "QUARANTINED"
finish
