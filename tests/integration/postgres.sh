#!/usr/bin/env bash
# PostgreSQL: two server instances with their own data directories (same master key)
# share one database; a fleet sends its hellos to the first; both claim jobs from the
# shared table (FOR UPDATE SKIP LOCKED); the first is killed part-way and the second
# finishes its jobs after the leases end. Every device provisioned exactly once.
# Needs PSKPROV_TEST_PG (make check starts a throwaway cluster: scripts/pg-test.sh).
. "$(dirname "$0")/lib/common.sh"
set -e
need_pg
N=120
PB=$(port_base)
BASE=127.214.$((RANDOM % 200)).1
export PSKPROV_MASTER_KEY
PSKPROV_MASTER_KEY=$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')
pg_schema pp_it
S1= S2=
# Stops what this test started, keeping the script's exit status for cleanup().
pg_cleanup() {
	local rc=$?
	kill $S1 $S2 2>/dev/null || true
	pg_drop_schema
	return $rc
}
trap 'pg_cleanup; cleanup' EXIT

D1="$T/a" D2="$T/b"
run "$P" -d "$D1" init --postgres "$CONN"
expect_rc 0 "init a"
expect_out "PostgreSQL"
run "$P" -d "$D2" init --postgres "$CONN"
expect_rc 0 "init b (same database, same master key)"
for d in "$D1" "$D2"; do printf '[server]\nlease_seconds = 2\n' >>"$d/pskprov.conf"; done
run "$P" -d "$D1" init --postgres "host=x password=y"
expect_rc 2 "a password in the conninfo"
run "$P" -d "$D1" keys generate --count $N --batch pg
expect_rc 0 "generate (through a)"
run "$P" -d "$D2" keys list --batch pg --json
[ "$(printf '%s' "$OUT" | jq length)" -eq $N ] || fail "b does not see a's keys"
ok
run "$P" -d "$D2" keys export --batch pg --format csv --out "$T/k.csv"
expect_rc 0 "export (through b)"

"$P" -d "$D1" server --hello 127.0.0.1:$PB --api 127.0.0.1:$((PB + 1)) >"$T/server-a.log" 2>&1 &
S1=$!
"$P" -d "$D2" server --hello 127.0.0.1:$((PB + 2)) --api 127.0.0.1:$((PB + 3)) >"$T/server-b.log" 2>&1 &
S2=$!
for p in $((PB + 1)) $((PB + 3)); do
	for _ in $(seq 1 50); do curl -sf "http://127.0.0.1:$p/healthz" >/dev/null && break; sleep 0.1; done
done
timeout 150 "$P" fleet --count $N --csv "$T/k.csv" --server 127.0.0.1:$PB --base "$BASE" \
	--time-scale 0.01 --latency 60 --timeout 120 >"$T/fleet.out" 2>"$T/fleet.log" &
FPID=$!
for _ in $(seq 1 500); do
	r=$(curl -sf "http://127.0.0.1:$((PB + 1))/metrics" | awk '/^pskprov_wsman_requests_total/ {print $2}')
	[ "${r:-0}" -ge $((N * 3)) ] && break
	sleep 0.01
done
kill -9 $S1
echo "instance a killed part-way"
set +e
wait $FPID
FRC=$?
set -e
[ "$FRC" -eq 0 ] || fail "fleet exit $FRC: $(tail -3 "$T/fleet.log")"
ok
for _ in $(seq 1 150); do
	[ "$("$P" -d "$D2" status --json | jq '.jobs.done')" -eq $N ] && break
	sleep 0.2
done
kill -INT $S2
wait $S2 2>/dev/null || true
run "$P" -d "$D2" status --json
[ "$(printf '%s' "$OUT" | jq '.devices.provisioned')" -eq $N ] || fail "not all provisioned: $OUT"
[ "$(printf '%s' "$OUT" | jq '.keys.consumed')" -eq $N ] || fail "consumed: $OUT"
ok
A=$(grep -c "provisioned as" "$T/server-a.log" || true)
B=$(grep -c "provisioned as" "$T/server-b.log" || true)
echo "provisioned by a: $A, by b: $B (a was killed)"
[ "$B" -gt 0 ] || fail "instance b provisioned nothing"
ok
run "$P" -d "$D2" audit list --json
[ "$(printf '%s' "$OUT" | jq '[.[] | select(.action == "device.provisioned") | .subject] | group_by(.) | map(select(length > 1)) | length')" -eq 0 ] ||
	fail "a device provisioned twice"
ok
run "$P" -d "$D1" audit verify
expect_rc 0 "audit verify"
finish
