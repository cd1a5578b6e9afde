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
nodash() { printf '%s' "$1" | tr -d -; }
hexkey() { printf '%s' "$1" | tr -d - | od -An -tx1 | tr -d ' \n'; }
md5hex() { printf '%s' "$1" | openssl dgst -md5 -r | cut -d' ' -f1; }
now_ms() { echo $(($(date +%s%N) / 1000000)); }

# ---- a small WS-Management client over TLS-PSK (s_client) with Digest ----
NS='xmlns:s="http://www.w3.org/2003/05/soap-envelope" xmlns:wsa="http://schemas.xmlsoap.org/ws/2004/08/addressing" xmlns:wsman="http://schemas.dmtf.org/wbem/wsman/1/wsman.xsd"'
AMT=http://intel.com/wbem/wscim/1/amt-schema/1
ANON=http://schemas.xmlsoap.org/ws/2004/08/addressing/role/anonymous
envelope() { # ACTION RESOURCE_URI BODY
	printf '<?xml version="1.0" encoding="UTF-8"?><s:Envelope %s><s:Header><wsa:Action s:mustUnderstand="true">%s</wsa:Action><wsa:To s:mustUnderstand="true">/wsman</wsa:To><wsman:ResourceURI s:mustUnderstand="true">%s</wsman:ResourceURI><wsa:MessageID s:mustUnderstand="true">uuid:%s</wsa:MessageID><wsa:ReplyTo><wsa:Address>%s</wsa:Address></wsa:ReplyTo></s:Header><s:Body>%s</s:Body></s:Envelope>' \
		"$NS" "$1" "$2" "$(cat /proc/sys/kernel/random/uuid)" "$ANON" "$3"
}
ws_get() { envelope http://schemas.xmlsoap.org/ws/2004/09/transfer/Get "$1" ""; }
ws_invoke() { # CLASS METHOD PARAMS_XML
	envelope "$AMT/$1/$2" "$AMT/$1" "<h:$2_INPUT xmlns:h=\"$AMT/$1\">$3</h:$2_INPUT>"
}
http_req() { # BODY_FILE [AUTHORIZATION]
	printf 'POST /wsman HTTP/1.1\r\nHost: %s\r\nContent-Type: application/soap+xml;charset=UTF-8\r\nConnection: close\r\n' "$W_ADDR"
	[ -z "${2:-}" ] || printf 'Authorization: %s\r\n' "$2"
	printf 'Content-Length: %s\r\n\r\n' "$(wc -c <"$1")"
	cat "$1"
}
tls_http() {
	timeout 10 openssl s_client -quiet -connect "$W_ADDR:$TLS_PORT" -psk "$W_HEX" \
		-psk_identity "$W_PID" -tls1_2 <"$1" 2>/dev/null | tr -d '\r' || true
}
wsman() { # USER PASS BODY_FILE: sets RESP
	http_req "$3" >"$T/req1"
	local chal realm nonce ha1 ha2 cn rs
	chal=$(tls_http "$T/req1")
	realm=$(printf '%s\n' "$chal" | sed -n 's/^WWW-Authenticate: .*realm="\([^"]*\)".*/\1/p')
	nonce=$(printf '%s\n' "$chal" | sed -n 's/^WWW-Authenticate: .*nonce="\([^"]*\)".*/\1/p')
	[ -n "$nonce" ] || fail "$W_ADDR: no Digest challenge: $(printf '%s' "$chal" | head -3)"
	ha1=$(md5hex "$1:$realm:$2")
	ha2=$(md5hex "POST:/wsman")
	cn=$(openssl rand -hex 8)
	rs=$(md5hex "$ha1:$nonce:00000001:$cn:auth:$ha2")
	http_req "$3" "Digest username=\"$1\", realm=\"$realm\", nonce=\"$nonce\", uri=\"/wsman\", algorithm=MD5, response=\"$rs\", qop=auth, nc=00000001, cnonce=\"$cn\"" >"$T/req2"
	RESP=$(tls_http "$T/req2")
	REALM=$realm
}
status() { printf '%s\n' "$RESP" | head -1 | cut -d' ' -f2; }
xval() { printf '%s' "$RESP" | grep -o "$1>[^<]*<" | head -1 | sed 's/^[^>]*>//; s/<$//'; }
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
run "$P" init
expect_rc 0 "init"
run "$P" keys generate --count 10 --batch fleet
expect_rc 0 "generate"
CSV="$T/keys.csv"
run "$P" keys export --batch fleet --format csv --out "$CSV"
expect_rc 0 "export"
field() { sed -n "$(($1 + 1))p" "$CSV" | cut -d, -f"$2"; }
SECRETS="$T/secrets"
: >"$SECRETS"
for i in $(seq 10); do
	printf '%s\n%s\n%s\n' "$(field "$i" 2)" "$(nodash "$(field "$i" 2)")" "$(field "$i" 3)" >>"$SECRETS"
done
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
       .devices_per_s > 0 and
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
