#!/usr/bin/env bash
# e2e: the configuration server and the device emulator together. init, a batch, the
# manufacturer CSV, `pskprov server` on loopback test ports with a short lease, a fleet
# of 20 devices (one holding a corrupted PPS, one silent, one that drops its connection
# in the middle of setup) sending hellos: every device that can be provisioned is (the
# dropped one after the server's retry), the faulty ones are not, and the server's
# records agree with the devices' own state. The admin credentials the server escrowed
# open WS-Management on a provisioned device's plain HTTP port (curl --digest), served
# by `device run` from the state the fleet kept; the keys used are consumed and each
# device holds a rotated key. No secret in any log.
. "$(dirname "$0")/lib/common.sh"
set -e

for tool in curl jq timeout; do
	command -v "$tool" >/dev/null || fail "$tool is required"
done

# This file's loopback addresses: the server on 127.0.0.1 (test ports), devices from
# 127.0.35.1.
BASE=127.0.35.1 NET=127.0.35
PB=$(port_base)
HELLO_PORT=$((PB + 1)) API_PORT=$((PB + 4)) HTTP_PORT=$((PB + 2)) TLS_PORT=$((PB + 3))
N=20
FAULTS=wrong-key=1,silent=1,disconnect=1 # devices 20, 19 and 18
EXPECTED=18

. "$(dirname "$0")/lib/proc.sh"
lower() { printf '%s' "$1" | tr A-Z a-z; }

# ---- data directory, keys, the manufacturer CSV ----
CSV="$T/keys.csv"
init_keys "$N" e2e
SECRETS="$T/secrets"
csv_secrets "$N" >"$SECRETS"
# Test ports and a short lease (a job whose session broke is claimed again soon).
test_server_conf "$TLS_PORT" "$HTTP_PORT"

# ---- the server ----
SLOG="$T/server.log"
start_server "$SLOG" "127.0.0.1:$HELLO_PORT" "127.0.0.1:$API_PORT" --log-level info
ok

# ---- the fleet ----
FLOG="$T/fleet.log"
run_fleet 200 --count "$N" --csv "$CSV" --server "127.0.0.1:$HELLO_PORT" \
	--base "$BASE" --port "$TLS_PORT" --http-port "$HTTP_PORT" --time-scale 0.01 \
	--latency 20 --faults "$FAULTS" --timeout 150 --state-dir "$T/states" --log-level info
jq -e --argjson n "$EXPECTED" \
	'.provisioned == $n and .expected == $n and .failed == 0 and .result == "complete" and
	 .first_hello_to_provisioned_ms.count == $n and
	 .faults["wrong-key"].provisioned == 0 and .faults["wrong-key"].failed_handshakes >= 1 and
	 .faults.silent.provisioned == 0' "$T/fleet.json" >/dev/null ||
	fail "fleet summary: $(cat "$T/fleet.json")"
jq -e '.faults.disconnect.provisioned == 1 and .faults.disconnect.dropped_connections == 1' \
	"$T/fleet.json" >/dev/null || fail "disconnect device: $(cat "$T/fleet.json")"
ok

# ---- the server's records agree with the devices ----
run "$P" devices list --json
expect_rc 0 "devices list"
printf '%s' "$OUT" >"$T/devices.json"
[ "$(jq '[.[] | select(.state == "provisioned")] | length' "$T/devices.json")" -eq "$EXPECTED" ] ||
	fail "server: provisioned devices: $(jq -c '[.[] | {address, state}]' "$T/devices.json")"
WRONG=$NET.20 SILENT=$NET.19
# The wrong-key device never proved a key: no device record, only its failed,
# unbound job at that address.
jq -e --arg a "$WRONG" '[.[] | select(.address == $a)] | length == 0' "$T/devices.json" \
	>/dev/null || fail "server: a record for the wrong-key device: $(cat "$T/devices.json")"
run "$P" jobs list --json
expect_rc 0 "jobs list"
printf '%s' "$OUT" | jq -e --arg a "$WRONG" '[.[] | select(.address == $a)] | length >= 1 and
	all(.state == "failed" and .bound == false and (.last_error | test("different PPS")))' \
	>/dev/null || fail "server: wrong-key job: $OUT"
jq -e --arg a "$SILENT" '[.[] | select(.address == $a)] | length == 0' "$T/devices.json" \
	>/dev/null || fail "server: a record for the silent device"
ok
for i in $(seq "$EXPECTED"); do
	addr=$NET.$i
	pid0=$(field "$i" 1)
	rec=$(jq -c --arg a "$addr" '.[] | select(.address == $a)' "$T/devices.json")
	[ -n "$rec" ] || fail "server: no record for $addr"
	run "$P" device show --state "$T/states/$(printf 'dev-%06d' "$i")" --json
	expect_rc 0 "device $i show"
	printf '%s' "$OUT" | jq -e --argjson rec "$rec" --arg pid0 "$pid0" \
		'.state == "Post-Setup" and .uuid == $rec.uuid and .pid == $pid0 and
		 .host_name == $rec.host_name and .domain_name == $rec.domain and
		 .admin_user != null and .next_pid != null and .next_pid != $pid0 and
		 .next_pid == $rec.pid' >/dev/null ||
		fail "device $i ($addr): device $OUT, server $rec"
	[ "$(printf '%s' "$rec" | jq -r .host_name)" = "amt-$(lower "$(nodash "$pid0")")" ] ||
		fail "device $i host name: $rec"
done
ok
run "$P" keys list --json
expect_rc 0 "keys list"
for i in $(seq "$EXPECTED"); do
	printf '%s' "$OUT" | jq -e --arg pid "$(field "$i" 1)" \
		'.[] | select(.pid == $pid) | .state == "consumed"' >/dev/null ||
		fail "key of device $i not consumed"
done
ok

# ---- the escrowed credentials open the provisioned device's HTTP port ----
UUID1=$(jq -r --arg a "$NET.1" '.[] | select(.address == $a) | .uuid' "$T/devices.json")
run_secret "$P" devices credentials "$UUID1" --reveal --json
expect_rc 0 "devices credentials --reveal"
ADMIN_USER=$(printf '%s' "$OUT" | jq -r .admin_user)
ADMIN_PW=$(printf '%s' "$OUT" | jq -r .admin_password)
printf '%s\n%s\n' "$ADMIN_PW" "$(printf '%s' "$OUT" | jq -r .mebx_password)" >>"$SECRETS"
[ -n "$ADMIN_USER" ] && [ "${#ADMIN_PW}" -ge 8 ] || fail "credentials: no admin account"
ok
DLOG="$T/device1.log"
"$P" device run --state "$T/states/dev-000001" --address "$NET.1" --port "$TLS_PORT" \
	--http-port "$HTTP_PORT" 2>"$DLOG" &
DEV=$!
BGPIDS="$BGPIDS $DEV"
wait_for "$DLOG" "WS-Management on http://$NET.1:$HTTP_PORT/wsman"
cat >"$T/get.xml" <<'EOF'
<?xml version="1.0" encoding="UTF-8"?>
<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope" xmlns:wsa="http://schemas.xmlsoap.org/ws/2004/08/addressing" xmlns:wsman="http://schemas.dmtf.org/wbem/wsman/1/wsman.xsd">
<s:Header>
<wsa:Action s:mustUnderstand="true">http://schemas.xmlsoap.org/ws/2004/09/transfer/Get</wsa:Action>
<wsa:To s:mustUnderstand="true">/wsman</wsa:To>
<wsman:ResourceURI s:mustUnderstand="true">http://intel.com/wbem/wscim/1/amt-schema/1/AMT_GeneralSettings</wsman:ResourceURI>
<wsa:MessageID s:mustUnderstand="true">uuid:9b5e7c52-6a43-4d0e-8d2f-5b0d6f6d6e01</wsa:MessageID>
<wsa:ReplyTo><wsa:Address>http://schemas.xmlsoap.org/ws/2004/08/addressing/role/anonymous</wsa:Address></wsa:ReplyTo>
</s:Header>
<s:Body/>
</s:Envelope>
EOF
# Credentials in a 0600 config file, not in curl's argv.
(umask 077 && printf 'user = "%s:%s"\n' "$ADMIN_USER" "$ADMIN_PW" >"$T/curl.cfg")
BODY=$(timeout 10 curl -s -f --digest -K "$T/curl.cfg" \
	-H 'Content-Type: application/soap+xml;charset=UTF-8' --data-binary @"$T/get.xml" \
	"http://$NET.1:$HTTP_PORT/wsman") || fail "curl --digest with the escrowed credentials failed"
HOST1=$(jq -r --arg a "$NET.1" '.[] | select(.address == $a) | .host_name' "$T/devices.json")
printf '%s' "$BODY" | grep -q "<g:HostName>$HOST1</g:HostName>" &&
	printf '%s' "$BODY" | grep -q "<g:DomainName>example.test</g:DomainName>" ||
	fail "AMT_GeneralSettings over HTTP: $BODY"
ok
(umask 077 && printf 'user = "%s:%s"\n' "$ADMIN_USER" "not-the-Passw0rd" >"$T/curl-bad.cfg")
CODE=$(timeout 10 curl -s -o /dev/null -w '%{http_code}' --digest -K "$T/curl-bad.cfg" \
	--data-binary @"$T/get.xml" "http://$NET.1:$HTTP_PORT/wsman" || true)
[ "$CODE" = 401 ] || fail "a wrong admin password: HTTP $CODE"
ok

# ---- shutdown, audit, secrets ----
kill -TERM "$DEV"
wait_exit "$DEV" 10
[ "$WRC" -eq 0 ] || fail "device run: exit $WRC"
kill -TERM "$SPID"
wait_exit "$SPID" 20
[ "$WRC" -eq 0 ] || fail "server: exit $WRC after SIGTERM: $(tail -5 "$SLOG")"
BGPIDS=""
run "$P" audit verify
expect_rc 0 "audit verify"
scan_for_secrets "$SECRETS" "$LOG" "$SLOG" "$FLOG" "$DLOG" "$T/fleet.json" "$T/devices.json"
if grep -l "Sanitizer\|runtime error" "$SLOG" "$FLOG" "$DLOG" 2>/dev/null; then
	fail "sanitizer report"
fi
ok
finish
