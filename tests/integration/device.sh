#!/usr/bin/env bash
# device: factory-load from a CSV exported by `keys export`, show; `device run` against
# independent peers: hellos from the device's own address (hello-listen), TLS-PSK with
# openssl s_client and gnutls-cli (the PID as identity hint, a wrong key refused, then
# the backoff), WS-Management with Digest through the whole setup over TLS-PSK (a small
# Digest client on top of s_client), the plain HTTP port after CommitChanges read with
# curl --digest, Unprovision back to In-Setup with the next key; the tls13 and
# amt-legacy profiles; no secret in any log or output.
. "$(dirname "$0")/lib/common.sh"
set -e

for tool in openssl gnutls-cli curl jq od base64 timeout; do
	command -v "$tool" >/dev/null || fail "$tool is required"
done

# This file's loopback addresses and ports (other test files use other 127.0.x nets).
NET=127.0.31
SRV=$NET.1 DEV=$NET.2 DEV_TLS13=$NET.3 DEV_LEGACY=$NET.4
PB=$(port_base)
HELLO_PORT=$((PB + 1)) HTTP_PORT=$((PB + 2)) TLS_PORT=$((PB + 3))

. "$(dirname "$0")/lib/proc.sh"

b64() { printf '%s' "$1" | base64 | tr -d '\n'; }

. "$(dirname "$0")/lib/wsman.sh"
expect_status() { [ "$(status)" = "$1" ] || fail "$2: HTTP $(status), expected $1: $RESP"; ok; }
expect_rv() {
	expect_status 200 "$2"
	[ "$(xval ReturnValue)" = "$1" ] || fail "$2: ReturnValue '$(xval ReturnValue)', expected $1"
	ok
}
expect_fault() {
	expect_status 400 "$2"
	printf '%s' "$RESP" | grep -qF "<s:Value>$1</s:Value>" || fail "$2: no fault $1: $RESP"
	ok
}

# ---- keys ----
CSV="$T/keys.csv"
init_keys 6 dev
PID1=$(field 1 1) PPS1=$(field 1 2) MEBX1=$(field 1 3)
PID2=$(field 2 1) PPS2=$(field 2 2)
PID3=$(field 3 1) PPS3=$(field 3 2)
PID4=$(field 4 1) PPS4=$(field 4 2)
PID5=$(field 5 1) PPS5=$(field 5 2)
PID6=$(field 6 1)
ADMIN_USER=pskadmin
ADMIN_PW='Adm1n-Pa55!x'
NEW_MEBX='N3w-Mebx-Pw!'
SECRETS="$T/secrets"
: >"$SECRETS"
for i in 1 2 3 4 5 6; do
	printf '%s\n%s\n%s\n' "$(field "$i" 2)" "$(nodash "$(field "$i" 2)")" "$(field "$i" 3)" >>"$SECRETS"
done
printf '%s\n%s\n' "$ADMIN_PW" "$NEW_MEBX" >>"$SECRETS"

# ---- factory-load ----
run "$P" device factory-load --state "$T/d1"
expect_rc 2 "factory-load without --csv"
expect_one_line_err
run "$P" device factory-load --state "$T/x" --csv "$T/nope.csv"
expect_rc 1 "missing CSV"
expect_one_line_err
printf 'pid,pps,mebx_password,batch\nnot-a-pid,x,y,z\n' >"$T/bad.csv"
chmod 600 "$T/bad.csv"
run "$P" device factory-load --state "$T/x" --csv "$T/bad.csv"
expect_rc 1 "malformed CSV"
expect_one_line_err
[ ! -e "$T/x" ] || fail "a refused factory load left a state directory"
ok
awk -F, 'NR==2 { $2 = substr($2, 1, length($2)-1) (substr($2, length($2)) == "A" ? "B" : "A") } { print }' \
	OFS=, "$CSV" >"$T/corrupt.csv"
chmod 600 "$T/corrupt.csv"
run "$P" device factory-load --state "$T/x" --csv "$T/corrupt.csv"
expect_rc 1 "corrupted PPS"
expect_err "checksum"
run "$P" device factory-load --state "$T/x" --csv "$CSV" --pid 0000-037M
expect_rc 1 "PID not in the CSV"
expect_err "no row for PID 0000-037M"
run "$P" device factory-load --state "$T/x" --csv "$CSV" --pid 0000-037N
expect_rc 2 "malformed --pid"
run "$P" device factory-load --state "$T/x" --csv "$CSV" --server 192.0.2.1
expect_rc 2 "non-loopback server"
[ ! -e "$T/x" ] || fail "a refused factory load left a state directory"
cp "$CSV" "$T/loose.csv"
chmod 644 "$T/loose.csv"
run "$P" device factory-load --state "$T/dloose" --csv "$T/loose.csv" --pid "$PID6"
expect_rc 0 "factory-load from a 0644 CSV (warns)"
expect_err "should be mode 0600"

run "$P" device factory-load --state "$T/d1" --csv "$CSV"
expect_rc 0 "factory-load, first row"
expect_out "In-Setup"
expect_out "PID $PID1"
expect_mode "$T/d1" 700
expect_mode "$T/d1/device.json" 600
run "$P" device factory-load --state "$T/d1" --csv "$CSV" --pid "$PID2"
expect_rc 1 "factory-load over an existing device"
expect_err "already holds a device"
expect_one_line_err
run "$P" device factory-load --state "$T/d2" --csv "$CSV" --pid "$(nodash "$PID4" | tr A-Z a-z)"
expect_rc 0 "factory-load --pid (lower case, no dash)"
expect_out "PID $PID4"
run "$P" device factory-load --state "$T/d3" --csv "$CSV" --pid "$PID5"
expect_rc 0 "factory-load --pid"

# ---- show ----
run "$P" device show --state "$T/d1"
expect_rc 0 "show"
expect_out "In-Setup"
expect_out "$PID1"
run "$P" device show --state "$T/d1" --json
expect_rc 0 "show --json"
printf '%s' "$OUT" | jq -e --arg pid "$PID1" \
	'.state == "In-Setup" and .provisioning_state == 1 and .pid == $pid and
	 (.realm | test("^Digest:[0-9A-F]{32}$")) and
	 (.uuid | test("^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")) and
	 .admin_user == null and .mebx_password_factory_default == false' >/dev/null ||
	fail "show --json: $OUT"
ok
UUID1=$(printf '%s' "$OUT" | jq -r .uuid)
REALM1=$(printf '%s' "$OUT" | jq -r .realm)
run "$P" device show --state "$T/nowhere"
expect_rc 1 "show without a device"
expect_one_line_err
chmod 644 "$T/d1/device.json"
run "$P" device show --state "$T/d1"
expect_rc 1 "show refuses a state file others can read"
expect_err "0600"
chmod 600 "$T/d1/device.json"

# ---- run: usage and errors ----
run "$P" device run --state "$T/d1" --address 192.0.2.7
expect_rc 2 "run on a non-loopback address"
expect_one_line_err
run "$P" device run --state "$T/d1"
expect_rc 2 "run without --address"
run "$P" device run --state "$T/nowhere" --address "$DEV" --port "$TLS_PORT"
expect_rc 1 "run without a device"
expect_one_line_err

# ---- run: hellos from the device's own address ----
"$P" device hello-listen --listen "$SRV:$HELLO_PORT" --count 3 --timeout 30 --json \
	>"$T/hl1.out" 2>"$T/hl1.err" &
HL=$!
BGPIDS="$BGPIDS $HL"
wait_for "$T/hl1.err" "listening for hellos"
RUNLOG="$T/run1.log"
"$P" device run --state "$T/d1" --address "$DEV" --server "$SRV:$HELLO_PORT" \
	--port "$TLS_PORT" --http-port "$HTTP_PORT" --time-scale 0.001 --log-level debug \
	2>"$RUNLOG" &
RUN=$!
BGPIDS="$BGPIDS $RUN"
wait_for "$RUNLOG" "TLS-PSK (compat) on $DEV:$TLS_PORT"
wait_exit "$HL" 30
[ "$WRC" -eq 0 ] || fail "hello-listen: exit $WRC: $(cat "$T/hl1.err")"
[ "$(wc -l <"$T/hl1.out")" -eq 3 ] || fail "3 hellos expected: $(cat "$T/hl1.out")"
jq -e -s --arg from "$DEV" --arg pid "$(nodash "$PID1")" --arg uuid "$UUID1" \
	'all(.[]; .from == $from and .version == 2 and .pid == $pid and .uuid == $uuid and
	          .admin_credentials_set == 1) and
	 ([.[].retry_count] == [0, 1, 2])' "$T/hl1.out" >/dev/null ||
	fail "hellos: $(cat "$T/hl1.out")"
ok
run "$P" device run --state "$T/d2" --address "$DEV" --port "$TLS_PORT"
expect_rc 1 "a second device on a taken address and port"
expect_err "cannot listen on $DEV:$TLS_PORT"

# ---- TLS-PSK with independent peers ----
s_client() { # ADDR PORT PID HEX ARGS...: output in $T/sc.out
	timeout 10 openssl s_client -connect "$1:$2" -psk "$4" -psk_identity "$3" "${@:5}" \
		</dev/null >"$T/sc.out" 2>&1 || true
}
completed() { grep -c "handshake with .* complete" "$RUNLOG" || true; }
s_client "$DEV" "$TLS_PORT" "$(nodash "$PID1")" "$(hexkey "$PPS1")" -tls1_2
grep -q "PSK identity hint: $(nodash "$PID1")" "$T/sc.out" || fail "s_client: no hint: $(cat "$T/sc.out")"
grep -q "^New, TLSv1.2, Cipher is ECDHE-PSK-CHACHA20-POLY1305" "$T/sc.out" ||
	fail "s_client: handshake: $(cat "$T/sc.out")"
ok

n0=$(completed)
set +e
# In a subshell: its report of a crashed child goes to /dev/null with its stderr.
(timeout 10 gnutls-cli --pskusername "$(nodash "$PID1")" --pskkey "$(hexkey "$PPS1")" \
	--priority NORMAL:-VERS-ALL:+VERS-TLS1.2:-KX-ALL:+PSK:+ECDHE-PSK \
	-p "$TLS_PORT" "$DEV" </dev/null >"$T/gn.out" 2>&1 || exit $?) 2>/dev/null
grc=$?
set -e
for _ in $(seq 50); do [ "$(completed)" -gt "$n0" ] && break; sleep 0.1; done
[ "$(completed)" -gt "$n0" ] || fail "gnutls-cli (ECDHE-PSK): the device saw no complete handshake"
if [ "$grc" -eq 0 ]; then
	grep -q "Handshake was completed" "$T/gn.out" || fail "gnutls-cli: $(cat "$T/gn.out")"
else
	# gnutls-cli 3.7 crashes printing an ECDHE-PSK client session after the handshake
	# (see tests/unit/test_tls_peers.c); the device verified the client's Finished.
	echo "note: gnutls-cli exited $grc after the ECDHE-PSK handshake (known gnutls-cli bug)"
fi
ok
timeout 10 gnutls-cli --pskusername "$(nodash "$PID1")" --pskkey "$(hexkey "$PPS1")" \
	--priority NORMAL:-VERS-ALL:+VERS-TLS1.2:-KX-ALL:+PSK -p "$TLS_PORT" "$DEV" \
	</dev/null >"$T/gn.out" 2>&1 || fail "gnutls-cli (PSK): $(cat "$T/gn.out")"
grep -q "Handshake was completed" "$T/gn.out" || fail "gnutls-cli (PSK): $(cat "$T/gn.out")"
ok

# A client holding another PPS fails; the device then refuses connections for 1 s.
s_client "$DEV" "$TLS_PORT" "$(nodash "$PID1")" "$(hexkey "$PPS2")" -tls1_2
grep -q "SSL alert number" "$T/sc.out" || fail "a wrong key completed a handshake: $(cat "$T/sc.out")"
ok
wait_for "$RUNLOG" "failed (bad-key)"
wait_for "$RUNLOG" "backing off 1000 ms"
s_client "$DEV" "$TLS_PORT" "$(nodash "$PID1")" "$(hexkey "$PPS1")" -tls1_2
grep -q "errno=111" "$T/sc.out" || fail "connection not refused during the backoff: $(cat "$T/sc.out")"
ok
wait_for "$RUNLOG" "backoff over" 5
s_client "$DEV" "$TLS_PORT" "$(nodash "$PID1")" "$(hexkey "$PPS1")" -tls1_2
grep -q "^New, TLSv1.2, Cipher is ECDHE-PSK" "$T/sc.out" || fail "after the backoff: $(cat "$T/sc.out")"
ok

# ---- WS-Management with Digest over TLS-PSK: the whole setup ----
W_ADDR=$DEV W_PORT=$TLS_PORT W_PID=$(nodash "$PID1") W_HEX=$(hexkey "$PPS1")
ws_get "$AMT/AMT_GeneralSettings" >"$T/get.xml"
wsman admin "$MEBX1" "$T/get.xml"
printf '%s\n' "$CHAL" | grep -q "^HTTP/1.1 401" || fail "no 401 without credentials: $CHAL"
printf '%s\n' "$CHAL" | grep -q "^WWW-Authenticate: Digest realm=\"$REALM1\", nonce=\"[0-9a-f]*\", qop=\"auth\", algorithm=MD5" ||
	fail "challenge: $CHAL"
ok
expect_status 200 "Get AMT_GeneralSettings"
[ "$(xval DigestRealm)" = "$REALM1" ] || fail "DigestRealm: $RESP"
[ "$(xval AMTNetworkEnabled)" = "1" ] || fail "AMTNetworkEnabled: $RESP"
printf '%s' "$RESP" | grep -q "GetResponse</wsa:Action>" || fail "response action: $RESP"
ok
wsman admin 'Wr0ng-Passw0rd!' "$T/get.xml"
expect_status 401 "wrong MEBx password"
# The device's log says which MEBx password a server logs in with (named, never shown).
wait_for "$RUNLOG" "logs in first with the MEBx password issued with PID $PID1"
wsman nobody "$MEBX1" "$T/get.xml"
expect_status 401 "unknown user"
http_req "$T/get.xml" "" /other >"$T/req1"
RESP=$(tls_http "$T/req1")
expect_status 404 "wrong path"

ws_get "$AMT/AMT_SetupAndConfigurationService" >"$T/b.xml"
wsman admin "$MEBX1" "$T/b.xml"
expect_status 200 "Get AMT_SetupAndConfigurationService"
[ "$(xval ProvisioningState)" = 1 ] && [ "$(xval ProvisioningMode)" = 1 ] || fail "setup: $RESP"
ok
# One instance per InstanceID: a Get without the selector is refused as firmware does.
ws_get "$CIM/CIM_SoftwareIdentity" >"$T/b.xml"
wsman admin "$MEBX1" "$T/b.xml"
expect_fault wsman:InvalidSelectors "Get CIM_SoftwareIdentity without a selector"
ws_get_sel "$CIM/CIM_SoftwareIdentity" InstanceID "AMT FW Core Version" >"$T/b.xml"
wsman admin "$MEBX1" "$T/b.xml"
expect_status 200 "Get CIM_SoftwareIdentity"
[ "$(xval VersionString)" = 6.2.61 ] && [ "$(xval InstanceID)" = "AMT FW Core Version" ] ||
	fail "software identity: $RESP"
ok
ws_invoke AMT_SetupAndConfigurationService NoSuchMethod "" >"$T/b.xml"
wsman admin "$MEBX1" "$T/b.xml"
expect_fault wsa:ActionNotSupported "unknown method"
ws_get "$AMT/AMT_NoSuchClass" >"$T/b.xml"
wsman admin "$MEBX1" "$T/b.xml"
expect_fault wsa:DestinationUnreachable "unknown class"
ws_invoke AMT_AuthorizationService SetAdminAclEntryEx "<h:Username>$ADMIN_USER</h:Username>" >"$T/b.xml"
wsman admin "$MEBX1" "$T/b.xml"
expect_fault wsman:InvalidParameter "SetAdminAclEntryEx without DigestPassword"
ws_invoke AMT_SetupAndConfigurationService CommitChanges "" >"$T/commit.xml"
wsman admin "$MEBX1" "$T/commit.xml"
expect_rv 2057 "CommitChanges before the admin account (DATA_MISSING)"

DIGEST_PW=$(printf '%s' "$ADMIN_USER:$REALM1:$ADMIN_PW" | openssl dgst -md5 -binary | base64)
ws_invoke AMT_AuthorizationService SetAdminAclEntryEx \
	"<h:Username>$ADMIN_USER</h:Username><h:DigestPassword>$DIGEST_PW</h:DigestPassword>" >"$T/b.xml"
wsman admin "$MEBX1" "$T/b.xml"
expect_rv 0 "SetAdminAclEntryEx"
printf '%s' "$RESP" | grep -q "SetAdminAclEntryEx_OUTPUT" || fail "output element: $RESP"
ok
ws_invoke AMT_SetupAndConfigurationService SetMEBxPassword "<h:Password>weak</h:Password>" >"$T/b.xml"
wsman admin "$MEBX1" "$T/b.xml"
expect_rv 2054 "SetMEBxPassword refused by the policy (INVALID_PASSWORD)"
ws_invoke AMT_SetupAndConfigurationService SetMEBxPassword "<h:Password>$NEW_MEBX</h:Password>" >"$T/b.xml"
wsman admin "$MEBX1" "$T/b.xml"
expect_rv 0 "SetMEBxPassword"
wsman admin "$MEBX1" "$T/get.xml"
expect_status 401 "the old MEBx password after SetMEBxPassword"
ws_invoke AMT_SetupAndConfigurationService SetTLSPSK \
	"<h:PID>$(b64 "$PID3")</h:PID><h:PPS>$(b64 NOTAPPS)</h:PPS>" >"$T/b.xml"
wsman admin "$NEW_MEBX" "$T/b.xml"
expect_rv 43 "SetTLSPSK with a malformed PPS (INVALID_PPS_FORMAT)"
ws_invoke AMT_SetupAndConfigurationService SetTLSPSK \
	"<h:PID>$(b64 "$PID3")</h:PID><h:PPS>$(b64 "$PPS3")</h:PPS>" >"$T/b.xml"
wsman admin "$NEW_MEBX" "$T/b.xml"
expect_rv 0 "SetTLSPSK"
ws_put_names host1 example.test >"$T/b.xml"
wsman admin "$NEW_MEBX" "$T/b.xml"
expect_status 200 "Put AMT_GeneralSettings"
[ "$(xval HostName)" = host1 ] && [ "$(xval DomainName)" = example.test ] || fail "Put: $RESP"
ok
ws_invoke AMT_TimeSynchronizationService GetLowAccuracyTimeSynch "" >"$T/b.xml"
wsman admin "$NEW_MEBX" "$T/b.xml"
expect_rv 0 "GetLowAccuracyTimeSynch"
TA0=$(xval Ta0)
NOW=$(date +%s)
[ "$TA0" -ge $((NOW - 5)) ] && [ "$TA0" -le $((NOW + 5)) ] || fail "Ta0 $TA0, host clock $NOW"
ok
ws_invoke AMT_TimeSynchronizationService SetHighAccuracyTimeSynch \
	"<h:Ta0>$TA0</h:Ta0><h:Tm1>$NOW</h:Tm1><h:Tm2>$NOW</h:Tm2>" >"$T/b.xml"
wsman admin "$NEW_MEBX" "$T/b.xml"
expect_rv 0 "SetHighAccuracyTimeSynch"
ws_invoke AMT_TimeSynchronizationService SetHighAccuracyTimeSynch "<h:Ta0>x</h:Ta0>" >"$T/b.xml"
wsman admin "$NEW_MEBX" "$T/b.xml"
expect_fault wsman:InvalidParameter "SetHighAccuracyTimeSynch with bad parameters"

wsman admin "$NEW_MEBX" "$T/commit.xml"
expect_rv 0 "CommitChanges"
wait_for "$RUNLOG" "In-Setup -> Post-Setup (provisioned)"

# ---- provisioned: no TLS-PSK; WS-Management with Digest on plain HTTP ----
s_client "$DEV" "$TLS_PORT" "$(nodash "$PID1")" "$(hexkey "$PPS1")" -tls1_2
grep -q "errno=111" "$T/sc.out" || fail "TLS-PSK still open after CommitChanges: $(cat "$T/sc.out")"
ok
# Credentials in a 0600 config file, not in curl's argv.
CURLCFG="$T/curl.cfg"
(umask 077 && printf 'user = "%s:%s"\n' "$ADMIN_USER" "$ADMIN_PW" >"$CURLCFG")
curl_ws() { # BODY_FILE [CONFIG]: sets RESP (headers and body)
	RESP=$(timeout 10 curl -s -i --digest -K "${2:-$CURLCFG}" \
		-H 'Content-Type: application/soap+xml;charset=UTF-8' --data-binary @"$1" \
		"http://$DEV:$HTTP_PORT/wsman" | tr -d '\r' |
		awk '/^HTTP\/1\.1 / { buf = "" } { buf = buf $0 "\n" } END { printf "%s", buf }') || true
}
curl_ws "$T/get.xml"
expect_status 200 "curl --digest AMT_GeneralSettings"
[ "$(xval HostName)" = host1 ] && [ "$(xval DomainName)" = example.test ] &&
	[ "$(xval DigestRealm)" = "$REALM1" ] || fail "curl: $RESP"
ok
(umask 077 && printf 'user = "%s:%s"\n' "$ADMIN_USER" "wrong-Passw0rd!" >"$T/curl-bad.cfg")
RESP=$(timeout 10 curl -s -o /dev/null -w '%{http_code}' --digest -K "$T/curl-bad.cfg" \
	--data-binary @"$T/get.xml" "http://$DEV:$HTTP_PORT/wsman" || true)
[ "$RESP" = 401 ] || fail "wrong admin password: HTTP $RESP"
ok
(umask 077 && printf 'user = "admin:%s"\n' "$NEW_MEBX" >"$T/curl-mebx.cfg")
RESP=$(timeout 10 curl -s -o /dev/null -w '%{http_code}' --digest -K "$T/curl-mebx.cfg" \
	--data-binary @"$T/get.xml" "http://$DEV:$HTTP_PORT/wsman" || true)
[ "$RESP" = 401 ] || fail "the MEBx password opened WS-Management in Post-Setup: HTTP $RESP"
ok
run "$P" device show --state "$T/d1" --json
expect_rc 0 "show a provisioned device"
printf '%s' "$OUT" | jq -e --arg u "$ADMIN_USER" --arg next "$PID3" \
	'.state == "Post-Setup" and .admin_user == $u and .host_name == "host1" and
	 .domain_name == "example.test" and .next_pid == $next' >/dev/null ||
	fail "show after CommitChanges: $OUT"
ok

# ---- Unprovision: back to In-Setup with the next key; hellos again ----
"$P" device hello-listen --listen "$SRV:$HELLO_PORT" --count 1 --timeout 30 --json \
	>"$T/hl2.out" 2>"$T/hl2.err" &
HL=$!
BGPIDS="$BGPIDS $HL"
wait_for "$T/hl2.err" "listening for hellos"
ws_invoke AMT_SetupAndConfigurationService Unprovision \
	"<h:ProvisioningMode>1</h:ProvisioningMode>" >"$T/b.xml"
curl_ws "$T/b.xml"
expect_rv 0 "Unprovision over HTTP"
wait_for "$RUNLOG" "Post-Setup -> In-Setup"
wait_exit "$HL" 30
[ "$WRC" -eq 0 ] || fail "no hello after Unprovision"
jq -e --arg pid "$(nodash "$PID3")" '.pid == $pid and .retry_count == 0' "$T/hl2.out" >/dev/null ||
	fail "hello after Unprovision: $(cat "$T/hl2.out")"
ok
RESP=$(timeout 10 curl -s -o /dev/null -w '%{http_code}' "http://$DEV:$HTTP_PORT/wsman" || true)
[ "$RESP" = 000 ] || fail "HTTP port still open in In-Setup: $RESP"
ok
s_client "$DEV" "$TLS_PORT" "$(nodash "$PID3")" "$(hexkey "$PPS3")" -tls1_2
grep -q "PSK identity hint: $(nodash "$PID3")" "$T/sc.out" &&
	grep -q "^New, TLSv1.2, Cipher is ECDHE-PSK" "$T/sc.out" || fail "next key: $(cat "$T/sc.out")"
ok
s_client "$DEV" "$TLS_PORT" "$(nodash "$PID1")" "$(hexkey "$PPS1")" -tls1_2
grep -q "SSL alert number" "$T/sc.out" || fail "the used key still works: $(cat "$T/sc.out")"
ok
wait_for "$RUNLOG" "failed (unknown-pid)"

kill -TERM "$RUN"
wait_exit "$RUN" 10
[ "$WRC" -eq 0 ] || fail "device run: exit $WRC after SIGTERM"
grep -q "stopped" "$RUNLOG" || fail "no 'stopped' line"
ok
run "$P" device show --state "$T/d1" --json
printf '%s' "$OUT" | jq -e --arg pid "$PID3" '.state == "In-Setup" and .pid == $pid and .admin_user == null' \
	>/dev/null || fail "show after Unprovision: $OUT"
ok

# ---- the tls13 and amt-legacy profiles ----
"$P" device run --state "$T/d2" --address "$DEV_TLS13" --port "$TLS_PORT" --profile tls13 \
	--log-level debug 2>"$T/run2.log" &
RUN2=$!
BGPIDS="$BGPIDS $RUN2"
"$P" device run --state "$T/d3" --address "$DEV_LEGACY" --port "$TLS_PORT" --profile amt-legacy \
	--log-level debug 2>"$T/run3.log" &
RUN3=$!
BGPIDS="$BGPIDS $RUN3"
wait_for "$T/run2.log" "TLS-PSK (tls13) on"
wait_for "$T/run3.log" "TLS-PSK (amt-legacy) on"
s_client "$DEV_TLS13" "$TLS_PORT" "$(nodash "$PID4")" "$(hexkey "$PPS4")" -tls1_3
grep -q "TLSv1.3, Cipher is TLS_AES_128_GCM_SHA256" "$T/sc.out" || fail "tls13: $(cat "$T/sc.out")"
ok
timeout 10 gnutls-cli --pskusername "$(nodash "$PID4")" --pskkey "$(hexkey "$PPS4")" \
	--priority NORMAL:-VERS-ALL:+VERS-TLS1.3:-KX-ALL:+ECDHE-PSK:+DHE-PSK -p "$TLS_PORT" \
	"$DEV_TLS13" </dev/null >"$T/gn.out" 2>&1 || fail "gnutls-cli tls13: $(cat "$T/gn.out")"
grep -q "Handshake was completed" "$T/gn.out" || fail "gnutls-cli tls13: $(cat "$T/gn.out")"
ok
s_client "$DEV_TLS13" "$TLS_PORT" "$(nodash "$PID4")" "$(hexkey "$PPS5")" -tls1_3
grep -q "SSL alert number" "$T/sc.out" || fail "tls13 with a wrong key: $(cat "$T/sc.out")"
ok
s_client "$DEV_LEGACY" "$TLS_PORT" "$(nodash "$PID5")" "$(hexkey "$PPS5")" -tls1 \
	-cipher 'PSK-AES128-CBC-SHA:@SECLEVEL=0'
grep -q "PSK identity hint: $(nodash "$PID5")" "$T/sc.out" &&
	grep -q "Cipher is PSK-AES128-CBC-SHA" "$T/sc.out" &&
	grep -q "Protocol  : TLSv1$" "$T/sc.out" || fail "amt-legacy: $(cat "$T/sc.out")"
ok
for p in $RUN2 $RUN3; do
	kill -TERM "$p"
	wait_exit "$p" 10
	[ "$WRC" -eq 0 ] || fail "device run: exit $WRC after SIGTERM"
done
ok
stop_bg

# ---- no secret anywhere but the state files; no sanitizer report ----
scan_for_secrets "$SECRETS" "$LOG" "$T"/run*.log "$T"/hl*.out "$T"/hl*.err
if grep -l "Sanitizer\|runtime error" "$T"/run*.log "$T"/hl*.err 2>/dev/null; then
	fail "sanitizer report"
fi
ok
finish
