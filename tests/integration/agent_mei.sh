#!/usr/bin/env bash
# agent_mei: `pskprov agent` over the Linux MEI driver (src/agent/transport_mei.c). The
# driver is played by tests/mei_shim (LD_PRELOAD, $PP_MEI_SHIM): it answers for a device
# path, checks the AMTHI GUID at IOCTL_MEI_CONNECT_CLIENT and passes whole PTHI
# messages to the emulated device's socket, and logs the conversation (commands,
# lengths, statuses). A real server provisions a device the agent reported through it;
# then the driver's faults: busy (retried), a firmware reset (reconnected), a short
# answer, a stall (the timeout), no AMTHI client, permission denied, no device; and the
# default device /dev/mei0. Every agent run is under `timeout`. Addresses 127.0.48.x.
. "$(dirname "$0")/lib/common.sh"
set -e

for tool in jq timeout; do
	command -v "$tool" >/dev/null || fail "$tool is required"
done
[ -n "${PP_MEI_SHIM:-}" ] && [ -f "$PP_MEI_SHIM" ] || fail "PP_MEI_SHIM must name the built shim"

NET=127.0.48
SRV=$NET.1 DEV=$NET.2
PB=$(port_base)
HELLO_PORT=$((PB + 1)) API_PORT=$((PB + 2)) TLS_PORT=$((PB + 3)) HTTP_PORT=$((PB + 4))
NOWHERE_PORT=$((PB + 5))
AMTHI=12f80028-b4b7-4b2d-aca8-46e0ff65814c

. "$(dirname "$0")/lib/proc.sh"

# mei_agent NAME FAULT DEVPATH ARGS...: one agent run through the shim (with --mei
# DEVPATH, except for /dev/mei0, the default), bounded; the shim's log in
# $T/shim-NAME.log. Only the agent gets the shim.
mei_agent() {
	local name=$1 fault=$2 dev=$3
	shift 3
	[ "$dev" = /dev/mei0 ] || set -- --mei "$dev" "$@"
	SHIMLOG=$T/shim-$name.log
	: >"$SHIMLOG"
	run timeout 60 env LD_PRELOAD="$PP_MEI_SHIM" PP_MEI_SHIM_DEV="$dev" \
		PP_MEI_SHIM_SOCKET="$E/pthi.sock" PP_MEI_SHIM_LOG="$SHIMLOG" \
		PP_MEI_SHIM_FAULT="$fault" \
		ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}verify_asan_link_order=0" \
		"$P" agent "$@"
	[ "$RC" -ne 124 ] || fail "agent ($name) timed out: $(cat "$SHIMLOG")"
}
shim_has() { grep -qF -- "$1" "$SHIMLOG" || fail "shim log lacks '$1': $(cat "$SHIMLOG")"; ok; }
srv_args() { echo --server http://$SRV:$API_PORT --address $DEV --token-file "$T/agent.tok"; }

# ---- a server, a device with a key, an agent token ----
E=$T/dev
init_keys 1 mei
run timeout 20 "$P" device factory-load --state "$E" --csv "$CSV"
expect_rc 0 "factory-load"
run timeout 30 "$P" token create --role agent --name mei-agent --out "$T/agent.tok"
expect_rc 0 "token create"
# The device's own hellos go nowhere: only the agent tells the server about it.
timeout 300 "$P" device run --state "$E" --address $DEV --server $SRV:$NOWHERE_PORT \
	--port $TLS_PORT --http-port $HTTP_PORT --log-level debug >"$T/dev.log" 2>&1 &
BGPIDS="$BGPIDS $!"
wait_for "$T/dev.log" "serving the host interface"
timeout 300 "$P" server --hello $SRV:$HELLO_PORT --api $SRV:$API_PORT --device-port $TLS_PORT \
	--device-http-port $HTTP_PORT >"$T/server.log" 2>&1 &
BGPIDS="$BGPIDS $!"
wait_port $SRV $API_PORT
UUID=$(timeout 10 "$P" device show --state "$E" --json | jq -r .uuid)

# ---- the driver's failures, before the device is reported ----
# A short answer: a clear error, exit 1.
mei_agent short short "$T/mei0" $(srv_args)
expect_rc 1 "short answer"
expect_err "malformed answer from the device"
expect_one_line_err
shim_has "truncated"
# A stall: the --timeout is kept.
start=$(date +%s)
mei_agent stall stall "$T/mei0" $(srv_args) --timeout 2
el=$(($(date +%s) - start))
expect_rc 1 "stalled device"
expect_err "GetProvisioningState: the device did not answer in time"
expect_one_line_err
[ "$el" -lt 15 ] || fail "a stalled device held the agent $el s"
ok
# No AMTHI client, permission denied, no device.
mei_agent noclient noclient "$T/mei0" $(srv_args)
expect_rc 1 "no AMTHI client"
expect_err "$T/mei0 has no AMTHI client ("
expect_one_line_err
shim_has "connect $AMTHI: ENOTTY"
mei_agent eacces eacces "$T/mei0" $(srv_args)
expect_rc 1 "permission denied"
expect_err "cannot open $T/mei0: permission denied (run as root or as a member of the group that owns it)"
expect_one_line_err
mei_agent missing missing "$T/mei0" $(srv_args)
expect_rc 1 "missing device"
expect_err "no MEI device at $T/mei0: the mei_me driver is not loaded, or this machine has no Intel ME"
expect_one_line_err
# A driver whose AMTHI client takes messages smaller than a PTHI header.
mei_agent maxmsg maxmsg:8 "$T/mei0" $(srv_args)
expect_rc 1 "max_msg_length under a header"
expect_err "the AMTHI client's max_msg_length 8 is out of range"
expect_one_line_err
# Without the shim: the default path, which does not exist here.
if [ ! -e /dev/mei0 ]; then
	run timeout 60 "$P" agent $(srv_args)
	expect_rc 1 "no /dev/mei0"
	expect_err "no MEI device at /dev/mei0: the mei_me driver is not loaded"
	expect_one_line_err
fi
# Both transports at once is a usage error.
run timeout 60 "$P" agent --mei "$T/mei0" --device-socket "$E/pthi.sock" $(srv_args)
expect_rc 2 "--mei with --device-socket"
expect_err "alternatives"

# ---- busy twice at open and twice at write, then provisioned end to end ----
mei_agent busy busy:2 "$T/mei0" $(srv_args)
expect_rc 0 "agent through MEI (busy twice)"
expect_out "device    $UUID"
expect_out "accepted the hello (HTTP 202)"
expect_out "started   CFG_StartConfiguration"
[ "$(grep -c '^open .*: EBUSY$' "$SHIMLOG")" -eq 2 ] &&
	[ "$(grep -c '^write: EBUSY$' "$SHIMLOG")" -eq 2 ] ||
	fail "expected 2 opens and 2 writes refused EBUSY: $(cat "$SHIMLOG")"
ok
shim_has "connect $AMTHI max_msg_length 4096"
for cmd in 04000011 0400005c 0400001a 0400002b 0400003b 04000029; do
	shim_has "request 0x$cmd length 12"
done
shim_has "answer 0x04800011 status 0 length 20"
shim_has "answer 0x04800029 status 0 length 16"
[ "$(grep -c '^open [^ ]*$' "$SHIMLOG")" -eq "$(grep -c '^close' "$SHIMLOG")" ] ||
	fail "an MEI fd was left open: $(cat "$SHIMLOG")"
ok
echo "--- the shim's record of the provisioning run (busy:2):"
cat "$SHIMLOG"
wait_provisioned "$E" "$T/server.log"
run timeout 20 "$P" jobs list --json
expect_rc 0 "jobs list"
[ "$(jq -r --arg u "$UUID" '[.[] | select(.uuid == $u and .state == "done")] | length' \
	<<<"$OUT")" = 1 ] || fail "no done job for $UUID: $OUT"
ok

# ---- a firmware reset after 2 answers: reconnected, the request sent again ----
mei_agent reset reset:2 "$T/mei0" $(srv_args)
expect_rc 0 "agent through a firmware reset"
expect_out "device is already provisioned"
shim_has "read: ENODEV (firmware reset)"
[ "$(grep -c "^connect $AMTHI max_msg_length" "$SHIMLOG")" -eq 2 ] ||
	fail "expected a reconnect: $(cat "$SHIMLOG")"
[ "$(grep -c 'request 0x0400001a' "$SHIMLOG")" -eq 2 ] ||
	fail "the request after the reset was not sent again: $(cat "$SHIMLOG")"
ok
echo "--- the shim's record of the reset run:"
cat "$SHIMLOG"

# ---- the default device: /dev/mei0 when neither --mei nor --device-socket ----
mei_agent default "" /dev/mei0 $(srv_args)
expect_rc 0 "agent on the default device"
expect_out "device is already provisioned"
shim_has "open /dev/mei0"
shim_has "connect $AMTHI"

# Every MEI fd the agent opened, it closed, on every path (failures included).
for f in "$T"/shim-*.log; do
	[ "$(grep -c '^open [^ ]*$' "$f")" -eq "$(grep -c '^close' "$f")" ] ||
		fail "an MEI fd was left open ($(basename "$f")): $(cat "$f")"
done
ok

# The device's and server's logs (a sanitizer build reports there).
for f in "$T/dev.log" "$T/server.log"; do
	if grep -qE "AddressSanitizer|LeakSanitizer|runtime error:" "$f"; then
		fail "sanitizer report in $f: $(grep -m3 -E "Sanitizer|runtime error" "$f")"
	fi
done
ok
csv_secrets 1 >"$T/secrets"
cat "$T/agent.tok" >>"$T/secrets"
scan_for_secrets "$T/secrets" "$LOG" "$T"/shim-*.log "$T/dev.log" "$T/server.log"

finish
