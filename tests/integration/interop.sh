#!/usr/bin/env bash
# interop: pskprov's WS-Management held against Intel's own message library,
# @device-management-toolkit/wsman-messages (test-only; tests/interop, installed by
# scripts/deps.sh). A real provisioning run (server + two emulated devices), then
#  part A: the standard requests Intel's RPS and MeshCentral send to a provisioned AMT
#          device, built by the library, sent with curl --digest to the device's plain
#          HTTP port, each answer checked field by field as firmware answers
#          (tests/interop/check_answers.py);
#  part B: every request the server sent during setup (the device's --wsman-trace) compared
#          with the library's envelope for the same operation (tests/interop/compare.js);
#          a self-test of the comparator on hand-written fixtures always runs, the trace
#          comparison only when `device run --help` lists --wsman-trace.
# Exits non-zero when any check fails.
. "$(dirname "$0")/lib/common.sh"
set -e

for tool in node python3 curl jq timeout; do
	command -v "$tool" >/dev/null ||
		fail "$tool is required (scripts/deps.sh installs it: make deps)"
done
if [ -n "${PP_SOURCE_DIR:-}" ]; then
	I="$PP_SOURCE_DIR/tests/interop"
else
	I="$(cd "$(dirname "$0")/../interop" && pwd)"
fi
node "$I/installed.js" ||
	fail "tests/interop/node_modules is missing or stale: run scripts/deps.sh (make deps)"

# This file's loopback addresses: the server on 127.0.71.1, devices from 127.0.71.11.
NET=127.0.71
SRV_ADDR=$NET.1 BASE=$NET.11
PB=$(port_base)
HELLO_PORT=$((PB + 1)) API_PORT=$((PB + 4)) HTTP_PORT=$((PB + 2)) TLS_PORT=$((PB + 3))
N=2

. "$(dirname "$0")/lib/proc.sh"
FAILED=""

# ---- part B's comparator on hand-written fixtures (runs before anything starts) ----
echo "part B self-test: the comparator on tests/interop/fixtures"
timeout 60 node "$I/compare.js" "$I/fixtures/match" || fail "compare.js: the matching fixture"
ok
set +e
timeout 60 node "$I/compare.js" "$I/fixtures/mismatch" >"$T/mismatch.out" 2>&1
MRC=$?
set -e
cat "$T/mismatch.out"
[ "$MRC" -eq 1 ] || fail "compare.js: the mismatching fixture: exit $MRC, expected 1"
grep -q 'SetTLSPSK.*FAIL: SetTLSPSK_INPUT parameter order PPS,PID, Intel PID,PPS' "$T/mismatch.out" ||
	fail "compare.js: PPS before PID not reported"
grep -q 'SetMEBxPassword.*FAIL: .*lacks {[^}]*AMT_SetupAndConfigurationService}Password' \
	"$T/mismatch.out" || fail "compare.js: a parameter in the wrong namespace not reported"
grep -q 'GeneralSettings.Put.*FAIL: not the whole instance: lacks DHCPv6' "$T/mismatch.out" ||
	fail "compare.js: a Put of part of AMT_GeneralSettings not reported"
grep -q 'CommitChanges.*\]  ok$' "$T/mismatch.out" || fail "compare.js: a matching request failed"
ok
# The whole setup sequence as the server sends it after its rewrite passes --sequence;
# the mismatching set (three requests, the wrong first) does not.
timeout 60 node "$I/compare.js" --sequence "$I/fixtures/sequence" >"$T/sequence.out" 2>&1 ||
	fail "compare.js --sequence on the expected sequence: $(cat "$T/sequence.out")"
grep -q '^sequence of 127.0.0.3 .* ok$' "$T/sequence.out" ||
	fail "compare.js --sequence: $(cat "$T/sequence.out")"
set +e
timeout 60 node "$I/compare.js" --sequence "$I/fixtures/mismatch" >"$T/sequence.out" 2>&1
MRC=$?
set -e
[ "$MRC" -eq 1 ] && grep -q '^sequence of 127.0.0.2 .* FAIL: request 1 is' "$T/sequence.out" ||
	fail "compare.js --sequence on the mismatching set: $(cat "$T/sequence.out")"
ok

# ---- the devices trace the server's requests into TRACE ----
TRACE="$T/trace"
mkdir -m 700 "$TRACE"

# ---- data directory, keys, server, two devices provisioned ----
CSV="$T/keys.csv"
init_keys "$N" interop
test_server_conf "$TLS_PORT" "$HTTP_PORT"
SLOG="$T/server.log"
start_server "$SLOG" "$SRV_ADDR:$HELLO_PORT" "$SRV_ADDR:$API_PORT" --log-level info
ok
FLOG="$T/fleet.log"
run_fleet 120 --count "$N" --csv "$CSV" --server "$SRV_ADDR:$HELLO_PORT" \
	--base "$BASE" --port "$TLS_PORT" --http-port "$HTTP_PORT" --time-scale 0.01 \
	--timeout 90 --state-dir "$T/states" --log-level info \
	--wsman-trace "$TRACE"
jq -e --argjson n "$N" '.provisioned == $n' "$T/fleet.json" >/dev/null ||
	fail "fleet summary: $(cat "$T/fleet.json")"
ok
run "$P" devices list --json
expect_rc 0 "devices list"
printf '%s' "$OUT" >"$T/devices.json"

# ---- part A: the requests RPS and MeshCentral send, answered as firmware would ----
DEV_ADDR=$BASE
UUID1=$(jq -r --arg a "$DEV_ADDR" '.[] | select(.address == $a) | .uuid' "$T/devices.json")
HOST1=$(jq -r --arg a "$DEV_ADDR" '.[] | select(.address == $a) | .host_name' "$T/devices.json")
if [ -z "$UUID1" ] || [ "$UUID1" = null ]; then
	fail "no server record for $DEV_ADDR"
fi
run_secret "$P" devices credentials "$UUID1" --reveal --json
expect_rc 0 "devices credentials --reveal"
SECRETS="$T/secrets"
printf '%s\n' "$(printf '%s' "$OUT" | jq -r .admin_password)" >"$SECRETS"
# Credentials in a 0600 curl config file, never in argv.
(umask 077 && printf '%s' "$OUT" | jq -r '"user = \"" + .admin_user + ":" + .admin_password + "\""' \
	>"$T/curl.cfg")
OUT=""
DLOG="$T/device1.log"
"$P" device run --state "$T/states/dev-000001" --address "$DEV_ADDR" --port "$TLS_PORT" \
	--http-port "$HTTP_PORT" 2>"$DLOG" &
DEV=$!
BGPIDS="$BGPIDS $DEV"
wait_for "$DLOG" "WS-Management on http://$DEV_ADDR:$HTTP_PORT/wsman"
echo "part A: requests built by wsman-messages, answered by $DEV_ADDR:$HTTP_PORT"
set +e
timeout 120 python3 "$I/check_answers.py" --url "http://$DEV_ADDR:$HTTP_PORT/wsman" \
	--curl-config "$T/curl.cfg" --uuid "$UUID1" --host-name "$HOST1" --requests "$I/requests.js" \
	--work "$T/partA" | tee "$T/partA.out"
ARC=${PIPESTATUS[0]}
set -e
[ "$ARC" -eq 0 ] || FAILED="$FAILED part-A"
ok

# ---- part B: the server's requests against Intel's envelopes ----
echo "part B: the server's requests (traced by the devices) against wsman-messages"
set -- "$TRACE"/*.xml
[ -e "$1" ] || fail "--wsman-trace wrote nothing to $TRACE"
for f in "$@"; do
	expect_mode "$f" 600
done
set +e
timeout 120 node "$I/compare.js" --sequence "$TRACE" | tee "$T/partB.out"
BRC=${PIPESTATUS[0]}
set -e
[ "$BRC" -eq 0 ] || FAILED="$FAILED part-B"
scan_for_secrets "$SECRETS" "$TRACE"/*

kill -TERM "$DEV"
wait_exit "$DEV" 10
[ "$WRC" -eq 0 ] || fail "device run: exit $WRC"
kill -TERM "$SPID"
wait_exit "$SPID" 20
[ "$WRC" -eq 0 ] || fail "server: exit $WRC after SIGTERM: $(tail -5 "$SLOG")"
BGPIDS=""
scan_for_secrets "$SECRETS" "$LOG" "$SLOG" "$FLOG" "$DLOG"
[ -z "$FAILED" ] || fail "interop checks failed:$FAILED (see the FAIL lines above)"
finish
