#!/usr/bin/env bash
# PostgreSQL stopped and started under a running fleet (issue 9, finding 4): two server
# instances share one database; part-way through a fleet, PostgreSQL stops for 5 s and
# starts again. Both instances connect again by themselves (no manual restart): /readyz
# says 503 while it is down and 200 after, /metrics shows the reconnect, every device
# is provisioned, none twice. Needs PSKPROV_TEST_PG and PSKPROV_PG_DIR (scripts/pg-test.sh).
. "$(dirname "$0")/lib/common.sh"
set -e
need_pg
[ -n "${PSKPROV_PG_DIR:-}" ] || fail "PSKPROV_PG_DIR is not set (run under scripts/pg-test.sh)"
PGBIN=${PGBIN:-/usr/lib/postgresql/15/bin}
as_owner() { if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
pgctl() { as_owner "$PGBIN/pg_ctl" -D "$PSKPROV_PG_DIR/data" -w -t 60 "$@" >/dev/null; }
# pg_ctl start does not reuse the options of the first start (port, socket directory):
# take them from postmaster.opts (the binary and quoted words; no spaces in them).
PGOPTS=$(cut -d' ' -f2- "$PSKPROV_PG_DIR/data/postmaster.opts" | tr -d '"')
pgstart() { pgctl start -l "$PSKPROV_PG_DIR/server.log" -o "$PGOPTS"; }
N=${PG_RESTART_N:-200}
PB=$(port_base)
BASE=127.215.$((RANDOM % 200)).1
export PSKPROV_MASTER_KEY
PSKPROV_MASTER_KEY=$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')
pg_schema pp_rs
S1= S2= FPID=
pg_cleanup() {
	local rc=$?
	kill $S1 $S2 $FPID 2>/dev/null || true
	# Leave the cluster running for whoever started it.
	[ -f "$PSKPROV_PG_DIR/data/postmaster.pid" ] || pgstart || true
	pg_drop_schema
	return $rc
}
trap 'pg_cleanup; cleanup' EXIT

D1="$T/a" D2="$T/b"
run "$P" -d "$D1" init --postgres "$CONN"
expect_rc 0 "init a"
run "$P" -d "$D2" init --postgres "$CONN"
expect_rc 0 "init b"
# Default lease (60 s): a 5 s outage must not cost the leases.
run "$P" -d "$D1" keys generate --count $N --batch rs
expect_rc 0 "generate"
run "$P" -d "$D1" keys export --batch rs --format csv --out "$T/k.csv"
expect_rc 0 "export"

"$P" -d "$D1" server --hello 127.0.0.1:$PB --api 127.0.0.1:$((PB + 1)) >"$T/server-a.log" 2>&1 &
S1=$!
"$P" -d "$D2" server --hello 127.0.0.1:$((PB + 2)) --api 127.0.0.1:$((PB + 3)) >"$T/server-b.log" 2>&1 &
S2=$!
A1="http://127.0.0.1:$((PB + 1))" A2="http://127.0.0.1:$((PB + 3))"
ready_code() { curl -s -o "$T/ready.json" -w '%{http_code}' --max-time 5 "$1/readyz" || true; }
for a in "$A1" "$A2"; do
	for _ in $(seq 1 100); do [ "$(ready_code "$a")" = 200 ] && break; sleep 0.1; done
	[ "$(ready_code "$a")" = 200 ] || fail "$a/readyz before the restart: $(cat "$T/ready.json")"
done
ok
metric() { curl -sf --max-time 5 "$1/metrics" | awk -v m="$2" '$1 == m {print $2}'; }

timeout 240 "$P" fleet --count $N --csv "$T/k.csv" --server 127.0.0.1:$PB --base "$BASE" \
	--time-scale 0.01 --latency 250 --timeout 220 >"$T/fleet.out" 2>"$T/fleet.log" &
FPID=$!
# Part-way: some provisioned, not all.
for _ in $(seq 1 600); do
	p=$(( $(metric "$A1" pskprov_provisioned_total) + $(metric "$A2" pskprov_provisioned_total) ))
	[ "$p" -ge $((N / 10)) ] && break
	sleep 0.05
done
echo "stopping PostgreSQL with $p of $N provisioned"
pgctl -m fast stop
T0=$(date +%s)
sleep 1
c1=$(ready_code "$A1")
body=$(cat "$T/ready.json")
c2=$(ready_code "$A2")
[ "$c1" = 503 ] && [ "$c2" = 503 ] || fail "/readyz while PostgreSQL is down: $c1 $c2 ($body)"
printf '%s' "$body" | jq -e '.store == false and .status == "not ready" and (.store_error | length > 0)' \
	>/dev/null || fail "/readyz body while down: $body"
[ "$(metric "$A1" pskprov_store_up)" = 0 ] || [ "$(metric "$A2" pskprov_store_up)" = 0 ] ||
	fail "pskprov_store_up stays 1 on both while PostgreSQL is down"
curl -sf --max-time 5 "$A1/healthz" >/dev/null || fail "/healthz (liveness) while the store is down"
ok
echo "while down: $body"
sleep $((5 - ($(date +%s) - T0) > 0 ? 5 - ($(date +%s) - T0) : 0))
pgstart
echo "PostgreSQL started again after $(($(date +%s) - T0)) s"
for a in "$A1" "$A2"; do
	for _ in $(seq 1 150); do [ "$(ready_code "$a")" = 200 ] && break; sleep 0.1; done
	[ "$(ready_code "$a")" = 200 ] || fail "$a/readyz after the restart: $(cat "$T/ready.json")"
	[ "$(metric "$a" pskprov_store_up)" = 1 ] || fail "$a: pskprov_store_up after the restart"
done
ok
set +e
wait $FPID
FRC=$?
FPID=
set -e
[ "$FRC" -eq 0 ] || fail "fleet exit $FRC: $(tail -3 "$T/fleet.log")"
ok
for _ in $(seq 1 150); do
	[ "$("$P" -d "$D2" status --json | jq '.jobs.done')" -eq $N ] && break
	sleep 0.2
done
R1=$(metric "$A1" pskprov_store_reconnects_total) R2=$(metric "$A2" pskprov_store_reconnects_total)
L1=$(metric "$A1" pskprov_store_lost_batches_total) L2=$(metric "$A2" pskprov_store_lost_batches_total)
echo "reconnects: a $R1, b $R2; lost batches: a $L1, b $L2"
[ "$R1" -ge 1 ] && [ "$R2" -ge 1 ] || fail "no reconnect in the metrics: a $R1 b $R2"
ok
kill -INT $S1 $S2
wait $S1 $S2 2>/dev/null || true
S1= S2=
run "$P" -d "$D2" status --json
[ "$(printf '%s' "$OUT" | jq '.devices.provisioned')" -eq $N ] || fail "not all provisioned: $OUT"
[ "$(printf '%s' "$OUT" | jq '.keys.consumed')" -eq $N ] || fail "consumed: $OUT"
ok
run "$P" -d "$D2" audit list --json
[ "$(printf '%s' "$OUT" | jq '[.[] | select(.action == "device.provisioned")] | length')" -eq $N ] ||
	fail "device.provisioned entries != $N"
[ "$(printf '%s' "$OUT" | jq '[.[] | select(.action == "device.provisioned") | .subject] | group_by(.) | map(select(length > 1)) | length')" -eq 0 ] ||
	fail "a device provisioned twice"
ok
run "$P" -d "$D1" audit verify
expect_rc 0 "audit verify"
echo "provisioned by a: $(grep -c "provisioned as" "$T/server-a.log" || true), by b: $(grep -c "provisioned as" "$T/server-b.log" || true)"
finish
