#!/usr/bin/env bash
# fleet: N devices in one process, each on its own loopback address. Hellos come from
# every device's own address (none from a silent one); a small WS-Management client on
# top of openssl s_client plays the configuration server and provisions the devices that
# can be provisioned (the disconnect device drops its 5th request and ends provisioned
# after a retry; the wrong-key device fails its handshake; the silent one accepts
# nothing); injected latency shows; the fleet ends by itself with exit 0 and a summary.
# Also: usage errors, too few CSV rows, the timeout, kept state directories.
. "$(dirname "$0")/lib/common.sh"
set -e

for tool in openssl curl jq od base64 timeout; do
	command -v "$tool" >/dev/null || fail "$tool is required"
done

# This file's loopback addresses: devices from 127.0.32.1, the hello receiver 127.0.33.1.
BASE=127.0.32.1 NET=127.0.32 SRV=127.0.33.1
PB=$(port_base)
HELLO_PORT=$((PB + 5)) HTTP_PORT=$((PB + 6)) TLS_PORT=$((PB + 7))

. "$(dirname "$0")/lib/proc.sh"
now_ms() { echo $(($(date +%s%N) / 1000000)); }

. "$(dirname "$0")/lib/wsman.sh"
expect_rv() {
	[ "$(status)" = 200 ] && [ "$(xval ReturnValue)" = "$1" ] ||
		fail "$2: HTTP $(status), ReturnValue '$(xval ReturnValue)', expected $1: $RESP"
	ok
}

ADMIN_USER=fleetadmin
ADMIN_PW='Fl33t-Adm1n!'
ws_get "$AMT/AMT_GeneralSettings" >"$T/get.xml"
ws_invoke AMT_SetupAndConfigurationService CommitChanges "" >"$T/commit.xml"
ws_invoke AMT_TimeSynchronizationService GetLowAccuracyTimeSynch "" >"$T/time.xml"
# provision N: the minimal setup of device N (row N of the CSV): read the realm, set
# the admin account, commit.
provision() {
	W_ADDR=$NET.$1 W_PID=$(nodash "$(field "$1" 1)") W_HEX=$(hexkey "$(field "$1" 2)")
	local mebx dp
	mebx=$(field "$1" 3)
	wsman admin "$mebx" "$T/get.xml"
	[ "$(status)" = 200 ] || fail "device $1: Get: $RESP"
	dp=$(printf '%s' "$ADMIN_USER:$REALM:$ADMIN_PW" | openssl dgst -md5 -binary | base64)
	ws_invoke AMT_AuthorizationService SetAdminAclEntryEx \
		"<h:Username>$ADMIN_USER</h:Username><h:DigestPassword>$dp</h:DigestPassword>" >"$T/acl.xml"
	wsman admin "$mebx" "$T/acl.xml"
	expect_rv 0 "device $1: SetAdminAclEntryEx"
	wsman admin "$mebx" "$T/commit.xml"
	expect_rv 0 "device $1: CommitChanges"
}

# ---- keys ----
CSV="$T/keys.csv"
init_keys 10 fleet
SECRETS="$T/secrets"
csv_secrets 10 >"$SECRETS"
printf '%s\n' "$ADMIN_PW" >>"$SECRETS"

# ---- usage and errors ----
run "$P" fleet --count 3 --csv "$CSV"
expect_rc 2 "fleet without --server"
expect_one_line_err
run "$P" fleet --count 3 --csv "$CSV" --server 192.0.2.1:9971
expect_rc 2 "non-loopback server"
run "$P" fleet --count 3 --csv "$CSV" --server "$SRV:$HELLO_PORT" --faults wrong-key=1,bogus=1
expect_rc 2 "unknown fault"
expect_err "unknown fault 'bogus'"
run "$P" fleet --count 3 --csv "$CSV" --server "$SRV:$HELLO_PORT" --faults silent=4
expect_rc 2 "more faulty devices than devices"
run "$P" fleet --count 3 --csv "$CSV" --server "$SRV:$HELLO_PORT" --latency 999999
expect_rc 2 "latency out of range"
run "$P" fleet --count 11 --csv "$CSV" --server "$SRV:$HELLO_PORT"
expect_rc 1 "more devices than CSV rows"
expect_err "has 10 key rows; --count 11 needs 11"
expect_one_line_err
run "$P" fleet --count 10 --csv "$CSV" --server "$SRV:$HELLO_PORT" --base 127.255.255.250
expect_rc 1 "addresses beyond 127/8"
expect_err "leave 127.0.0.0/8"

# ---- a fleet of 8 with every fault, provisioned by the test's client ----
"$P" device hello-listen --listen "$SRV:$HELLO_PORT" --timeout 120 --json \
	>"$T/hellos.out" 2>"$T/hellos.err" &
HL=$!
BGPIDS="$BGPIDS $HL"
wait_for "$T/hellos.err" "listening for hellos"
FLOG="$T/fleet.log"
"$P" fleet --count 8 --csv "$CSV" --server "$SRV:$HELLO_PORT" --base "$BASE" \
	--port "$TLS_PORT" --http-port "$HTTP_PORT" --time-scale 0.001 --latency 200 \
	--faults wrong-key=1,silent=1,disconnect=1 --timeout 120 --log-level info --json \
	>"$T/fleet.json" 2>"$FLOG" &
FL=$!
BGPIDS="$BGPIDS $FL"
wait_for "$FLOG" "8 devices from $BASE" 30

# Hellos from every device's own address but the silent one (device 7).
for _ in $(seq 100); do
	[ "$(jq -r .from "$T/hellos.out" | sort -u | wc -l)" -ge 7 ] && break
	sleep 0.1
done
jq -r .from "$T/hellos.out" | sort -u >"$T/from"
for i in 1 2 3 4 5 6 8; do
	grep -qx "$NET.$i" "$T/from" || fail "no hello from $NET.$i: $(cat "$T/from")"
	jq -e -s --arg a "$NET.$i" --arg pid "$(nodash "$(field "$i" 1)")" \
		'[.[] | select(.from == $a)] | all(.pid == $pid)' "$T/hellos.out" >/dev/null ||
		fail "hello from $NET.$i with another PID"
done
grep -qx "$NET.7" "$T/from" && fail "a hello from the silent device"
ok

# The silent device accepts nothing; the wrong-key one fails the handshake with the
# PPS the server holds for its PID.
set +e
timeout 10 openssl s_client -connect "$NET.7:$TLS_PORT" -psk "$(hexkey "$(field 7 2)")" \
	-psk_identity "$(nodash "$(field 7 1)")" -tls1_2 </dev/null >"$T/sc.out" 2>&1
timeout 10 openssl s_client -connect "$NET.8:$TLS_PORT" -psk "$(hexkey "$(field 8 2)")" \
	-psk_identity "$(nodash "$(field 8 1)")" -tls1_2 </dev/null >"$T/sc8.out" 2>&1
set -e
grep -q "errno=111" "$T/sc.out" || fail "the silent device accepted a connection"
grep -q "SSL alert number" "$T/sc8.out" || fail "wrong-key device: $(cat "$T/sc8.out")"
grep -q "PSK identity hint: $(nodash "$(field 8 1)")" "$T/sc8.out" || fail "wrong-key hint"
ok

# Latency: each answer waits 200 ms, so the two exchanges of a request take >= 400 ms.
W_ADDR=$NET.1 W_PID=$(nodash "$(field 1 1)") W_HEX=$(hexkey "$(field 1 2)")
t0=$(now_ms)
wsman admin "$(field 1 3)" "$T/get.xml"
t1=$(now_ms)
[ "$(status)" = 200 ] || fail "Get on device 1: $RESP"
[ $((t1 - t0)) -ge 400 ] || fail "latency not applied: $((t1 - t0)) ms"
ok

for i in 1 2 3 4 5; do
	provision "$i"
done

# The disconnect device drops its 5th authenticated request, once; the retry works.
W_ADDR=$NET.6 W_PID=$(nodash "$(field 6 1)") W_HEX=$(hexkey "$(field 6 2)")
M6=$(field 6 3)
for n in 1 2 3 4; do
	wsman admin "$M6" "$T/get.xml"
	[ "$(status)" = 200 ] || fail "device 6 request $n: $RESP"
done
wsman admin "$M6" "$T/time.xml"
[ -z "$RESP" ] || fail "device 6 answered its 5th request: $RESP"
wait_for "$FLOG" "$NET.6: fault: dropping the connection at request 5"
wsman admin "$M6" "$T/time.xml"
expect_rv 0 "device 6: the retried request"
provision 6

wait_exit "$FL" 60
[ "$WRC" -eq 0 ] || fail "fleet: exit $WRC: $(tail -5 "$FLOG")"
jq -e '.devices == 8 and .expected == 6 and .provisioned == 6 and .failed == 0 and
       .result == "complete" and .first_hello_to_provisioned_ms.count == 6 and
       .first_hello_to_provisioned_ms.median > 0 and
       .first_hello_to_provisioned_ms.p99 >= .first_hello_to_provisioned_ms.median and
       .devices_per_s > 0 and .cpu_s > 0 and
       .faults["wrong-key"].devices == 1 and .faults["wrong-key"].provisioned == 0 and
       .faults["wrong-key"].failed_handshakes >= 1 and
       .faults.silent.devices == 1 and .faults.silent.provisioned == 0 and
       .faults.disconnect.devices == 1 and .faults.disconnect.provisioned == 1 and
       .faults.disconnect.dropped_connections == 1' "$T/fleet.json" >/dev/null ||
	fail "fleet summary: $(cat "$T/fleet.json")"
ok
for i in 1 2 3 4 5 6; do
	grep -q "$NET.$i: In-Setup -> Post-Setup (provisioned)" "$FLOG" || fail "device $i not provisioned"
done
ok
stop_bg

# ---- nothing listens at --server: said at once, not after the whole timeout ----
t0=$(now_ms)
run timeout 30 "$P" fleet --count 2 --csv "$CSV" --server "$SRV:$HELLO_PORT" --base "$NET.101" \
	--port "$TLS_PORT" --http-port "$HTTP_PORT" --timeout 60 --json
t1=$(now_ms)
expect_rc 1 "a fleet with no server"
expect_err "connection refused"
expect_err "nothing listens at $SRV:$HELLO_PORT"
[ $((t1 - t0)) -lt 20000 ] || fail "no server: took $((t1 - t0)) ms, expected a prompt end"
printf '%s' "$OUT" | jq -e '.result == "no server (connection refused)" and .provisioned == 0' \
	>/dev/null || fail "no-server summary: $OUT"
ok

# ---- the timeout, human summary, kept state directories ----
run "$P" fleet --count 2 --csv "$CSV" --server "$SRV:$HELLO_PORT" --base "$NET.101" \
	--port "$TLS_PORT" --http-port "$HTTP_PORT" --timeout 1 --state-dir "$T/states"
expect_rc 1 "a fleet that times out"
expect_out "provisioned      0 (2 expected)"
expect_out "(timed out)"
expect_mode "$T/states/dev-000001/device.json" 600
expect_mode "$T/states/dev-000002/device.json" 600
run "$P" device show --state "$T/states/dev-000002" --json
expect_rc 0 "show a fleet device"
UUID2=$(printf '%s' "$OUT" | jq -r .uuid)
printf '%s' "$OUT" | jq -e --arg pid "$(field 2 1)" --arg srv "$SRV" \
	'.state == "In-Setup" and .pid == $pid and .server.ipv4 == $srv' >/dev/null ||
	fail "fleet device state: $OUT"
ok
run "$P" fleet --count 2 --csv "$CSV" --server "$SRV:$HELLO_PORT" --base "$NET.101" \
	--port "$TLS_PORT" --http-port "$HTTP_PORT" --timeout 1 --state-dir "$T/states" --json
expect_rc 1 "a fleet from kept state directories"
printf '%s' "$OUT" | jq -e '.result == "timed out" and .provisioned == 0 and .devices == 2' \
	>/dev/null || fail "timeout summary: $OUT"
ok
run "$P" device show --state "$T/states/dev-000002" --json
[ "$(printf '%s' "$OUT" | jq -r .uuid)" = "$UUID2" ] || fail "a kept device was made again"
ok

scan_for_secrets "$SECRETS" "$LOG" "$FLOG" "$T/fleet.json" "$T/hellos.out" "$T/hellos.err"
if grep -l "Sanitizer\|runtime error" "$FLOG" "$T/hellos.err" 2>/dev/null; then
	fail "sanitizer report"
fi
ok
finish
