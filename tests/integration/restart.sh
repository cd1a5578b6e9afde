#!/usr/bin/env bash
# The server is killed with SIGKILL in the middle of a fleet's setup and started
# again: every device ends provisioned exactly once, no key is consumed twice, the
# audit log stays intact, and no plaintext secret reaches the logs or the database.
. "$(dirname "$0")/lib/common.sh"
set -e
N=150
HP=$(port_base)
AP=$((HP + 5))
BASE=127.211.$((RANDOM % 200)).1

init_keys $N r
printf '[server]\nlease_seconds = 2\n' >>"$PSKPROV_DIR/pskprov.conf"

. "$(dirname "$0")/lib/proc.sh"
server() { start_server "$T/server.log" 127.0.0.1:$HP 127.0.0.1:$AP; }
provisioned() {
	for _ in 1 2 3 4 5; do
		if "$P" status --json >"$T/st.json" 2>"$T/st.err"; then
			jq '.devices.provisioned' "$T/st.json"
			return 0
		fi
		echo "status failed: $(cat "$T/st.err")" >&2
		sleep 0.2
	done
	fail "pskprov status keeps failing"
}

server
timeout 120 "$P" fleet --count $N --csv "$T/k.csv" --server 127.0.0.1:$HP --base "$BASE" \
	--time-scale 0.01 --latency 100 --timeout 100 --json >"$T/fleet.json" 2>"$T/fleet.log" &
FPID=$!
BGPIDS="$BGPIDS $FPID"
# Kill the server part-way: about 12 WS-Management requests make one setup, so at
# 5 per device on average most devices are in the middle of theirs.
for _ in $(seq 1 500); do
	r=$(curl -sf "http://127.0.0.1:$AP/metrics" | awk '/^pskprov_wsman_requests_total/ {print $2}')
	[ "${r:-0}" -ge $((N * 5)) ] && break
	sleep 0.01
done
kill -9 $SPID
wait $SPID 2>/dev/null || true
AT_KILL=$(provisioned)
echo "server killed with $AT_KILL of $N provisioned"
[ "$AT_KILL" -lt $N ] || fail "the fleet finished before the kill; nothing was tested"
ok
sleep 0.5
server
set +e
wait $FPID
FRC=$?
set -e
[ "$FRC" -eq 0 ] || fail "fleet exit $FRC: $(tail -5 "$T/fleet.log")"
ok
# Devices that committed just before the kill are found on their HTTP port once the
# dead server's leases end (2 s here): wait, bounded, for the records to converge.
for _ in $(seq 1 150); do
	[ "$("$P" status --json | jq '.jobs.done')" -eq $N ] && break
	sleep 0.2
done
kill -INT $SPID
wait $SPID 2>/dev/null || true

run "$P" status --json
[ "$(printf '%s' "$OUT" | jq '.devices.provisioned')" -eq $N ] || fail "not every device provisioned: $OUT"
[ "$(printf '%s' "$OUT" | jq '.jobs.done')" -eq $N ] || fail "jobs done: $OUT"
[ "$(printf '%s' "$OUT" | jq '.jobs.failed + .jobs.running + .jobs.pending + .jobs.retry')" -eq 0 ] || fail "unfinished jobs: $OUT"
# every hello key consumed once; every device holds exactly one rotated key in use
[ "$(printf '%s' "$OUT" | jq '.keys.consumed')" -eq $N ] || fail "consumed keys: $OUT"
[ "$(printf '%s' "$OUT" | jq '.keys.in_use')" -eq $N ] || fail "rotated keys: $OUT"
ok
run "$P" audit list --json
DUP=$(printf '%s' "$OUT" | jq '[.[] | select(.action == "device.provisioned") | .subject] | group_by(.) | map(select(length > 1)) | length')
CNT=$(printf '%s' "$OUT" | jq '[.[] | select(.action == "device.provisioned")] | length')
[ "$DUP" -eq 0 ] || fail "$DUP devices recorded as provisioned twice"
[ "$CNT" -eq $N ] || fail "$CNT provisioned entries, expected $N"
ok
run "$P" audit verify
expect_rc 0 "audit verify"

# the second server took over the first one's jobs after their leases ran out
grep -q "provisioned as" "$T/server.log" || fail "no provisioning logged"
ok

# no plaintext secret in logs or database: the hello keys, the escrowed credentials
tail -n +2 "$T/k.csv" | cut -d, -f2 | tr -d - >"$T/secrets"
tail -n +2 "$T/k.csv" | cut -d, -f3 >>"$T/secrets"
for u in $("$P" devices list --json | jq -r '.[0:20][].uuid'); do
	"$P" devices credentials "$u" --reveal --json 2>/dev/null |
		jq -r '.admin_password, .mebx_password' >>"$T/secrets"
done
awk 'length >= 8' "$T/secrets" >"$T/secrets.long"
scan_for_secrets "$T/secrets.long" "$T/server.log" "$T/fleet.log" "$T/fleet.json" "$LOG" \
	"$PSKPROV_DIR"/pskprov.db*
finish
