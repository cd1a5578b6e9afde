#!/usr/bin/env bash
# agent: `pskprov agent` and the device's host interface. Usage and URL checks; fake
# devices (a socket that never answers, one that answers garbage). Then, with a running
# device (`device run` serving DIR/pthi.sock; skipped until it does) and a stand-in for
# the server's POST /api/v1/hello (a small Python HTTP server): the exact JSON the agent
# sends, a 202, a 400 with an error text, a server that starts late or not at all (the
# backoff and its bound), CFG_StartConfiguration (the device's hellos start again),
# "already provisioned", "no PID"; malformed PTHI frames (the device logs one line,
# closes the connection and keeps serving); the connection cap; the socket's mode, a
# path taken by a file, a stale socket. Last, with the real `pskprov server`: bad JSON
# refused, and a device the agent reported ends provisioned over TLS-PSK. No secret in
# any output. Every command runs under `timeout`. Addresses 127.0.44.x, random ports.
. "$(dirname "$0")/lib/common.sh"
set -e

for tool in jq timeout curl; do
	command -v "$tool" >/dev/null || fail "$tool is required"
done

NET=127.0.44
SRV=$NET.1 DEV=$NET.2 DEV_PRE=$NET.3 DEV_POST=$NET.4 DEV_E2E=$NET.5
PB=$(port_base)
API_PORT=$((PB + 1)) HELLO_PORT=$((PB + 2)) TLS_PORT=$((PB + 3)) HTTP_PORT=$((PB + 4))
PID=0000-037M
PPS=NKLD-G5DC-RRNQ-E9YZ-ZIJL-7LFL-VJED-69XJ
MEBXPW='Factory#Key1'

. "$(dirname "$0")/lib/proc.sh"

# agent ARGS...: one agent run, bounded.
agent() {
	run timeout 60 "$P" agent "$@"
	[ "$RC" -ne 124 ] || fail "agent timed out"
}

# ---- usage and the server URL ----
S=$T/none.sock
agent
expect_rc 2 "no options"
agent --device-socket "$S"
expect_rc 2 "no --server"
expect_err "--server"
# Without --address the address comes from the default route, once the device has been
# read (agent_netns.sh tests the discovery).
agent --device-socket "$S" --server http://$SRV:$API_PORT
expect_rc 1 "no --address, no device"
expect_err "cannot read the device"
for bad in "https://$SRV:$API_PORT/" "ftp://$SRV/" "http://example.com:8971/" \
	"http://10.1.2.3:8971/" "http://user:secret@$SRV:$API_PORT/" "not a url" \
	"http://$SRV:0/"; do
	agent --device-socket "$S" --server "$bad" --address $DEV
	expect_rc 2 "bad URL '$bad'"
done
agent --device-socket "$S" --server "https://$SRV/" --address $DEV
expect_err "only http:// URLs"
agent --device-socket "$S" --server "http://10.1.2.3/" --address $DEV
expect_err "is not a loopback address"
agent --device-socket "$S" --server "http://host.example/" --address $DEV
expect_err "must be an IPv4 address"
agent --device-socket "$S" --server "http://user:pw@$SRV/" --address $DEV
expect_err "user information in the URL is refused"
agent --device-socket "$S" --server http://$SRV:$API_PORT --address 10.0.0.2
expect_rc 2 "non-loopback --address"
agent --device-socket "$S" --server http://$SRV:$API_PORT --address $DEV --retries 99
expect_rc 2 "--retries over the cap"
agent --device-socket "$S" --server http://$SRV:$API_PORT --address $DEV
expect_rc 1 "missing device socket"
expect_err "does not exist: is the device running?"
expect_one_line_err
: >"$T/plain"
agent --device-socket "$T/plain" --server http://$SRV:$API_PORT --address $DEV
expect_rc 1 "a file that is not a socket"

command -v python3 >/dev/null || skip "python3 (the stand-in server and fake devices) is missing"

# ---- fake devices: a socket that never answers, one that answers garbage ----
cat >"$T/fakedev.py" <<'EOF'
import os, socket, sys, time
path, mode = sys.argv[1], sys.argv[2]
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.bind(path)
s.listen(4)
deadline = time.time() + 30
while time.time() < deadline:
    c, _ = s.accept()
    if mode == "silent":
        time.sleep(5)
    else:
        c.recv(12)
        # a response header with a payloadLength over the 4096-byte frame cap
        c.sendall(bytes([1, 1, 0, 0, 0x11, 0, 0x80, 4, 0xff, 0xff, 0, 0]))
        time.sleep(1)
    c.close()
EOF
timeout 40 python3 "$T/fakedev.py" "$T/silent.sock" silent &
BGPIDS="$BGPIDS $!"
timeout 40 python3 "$T/fakedev.py" "$T/garbage.sock" garbage &
BGPIDS="$BGPIDS $!"
for _ in $(seq 50); do
	[ -S "$T/silent.sock" ] && [ -S "$T/garbage.sock" ] && break
	sleep 0.1
done
start=$(date +%s)
agent --device-socket "$T/silent.sock" --server http://$SRV:$API_PORT --address $DEV --timeout 1
expect_rc 1 "a device that never answers"
expect_err "did not answer in time"
[ $(($(date +%s) - start)) -le 4 ] || fail "the PTHI timeout was not kept"
ok
agent --device-socket "$T/garbage.sock" --server http://$SRV:$API_PORT --address $DEV
expect_rc 1 "a device that answers garbage"
expect_err "GetProvisioningState"
expect_err "larger than 4096 bytes"

# ---- the stand-in for the server's POST /api/v1/hello ----
# fake_api PORT CODE LOG [DELAY]: answers every POST with CODE (202: {"status"},
# otherwise {"error"}); appends "PATH CONTENT-TYPE BODY" to LOG.
fake_api() {
	timeout 60 python3 "$(dirname "$0")/lib/fakeapi.py" $SRV "$1" "$2" "$3" ${4:-} &
	FAKEPID=$!
	BGPIDS="$BGPIDS $FAKEPID"
}
stop_fake() {
	kill "$FAKEPID" 2>/dev/null || true
	wait "$FAKEPID" 2>/dev/null || true
}

# ---- devices: In-Setup (factory load), Pre-Setup, Post-Setup ----
printf 'pid,pps,mebx_password,batch\n%s,%s,%s,agent\n' "$PID" "$PPS" "$MEBXPW" >"$T/key.csv"
chmod 600 "$T/key.csv"
D=$T/dev
run timeout 20 "$P" device factory-load --state "$D" --csv "$T/key.csv"
expect_rc 0 "factory-load"

# run_device DIR ADDR LOG: starts `device run`; sets DEVPID; false when the device does
# not serve its host interface (DIR/pthi.sock).
run_device() {
	timeout 120 "$P" device run --state "$1" --address "$2" --server $SRV:$HELLO_PORT \
		--port $TLS_PORT --http-port $HTTP_PORT --log-level debug >"$3" 2>&1 &
	DEVPID=$!
	BGPIDS="$BGPIDS $DEVPID"
	for _ in $(seq 50); do
		grep -qF "serving the host interface" "$3" && [ -S "$1/pthi.sock" ] && return 0
		kill -0 "$DEVPID" 2>/dev/null || break
		sleep 0.1
	done
	return 1
}
stop_device() {
	kill "$DEVPID" 2>/dev/null || true
	wait "$DEVPID" 2>/dev/null || true
}

run_device "$D" $DEV "$T/dev.log" ||
	fail "'device run' does not serve DIR/pthi.sock ($(tail -1 "$T/dev.log"))"
expect_mode "$D/pthi.sock" 600
S=$D/pthi.sock
UUID=$(timeout 10 "$P" device show --state "$D" --json | jq -r .uuid)
[ ${#UUID} -eq 36 ] || fail "no UUID from device show"

# Server down: 1 s, 2 s, then give up after 3 attempts.
start=$(date +%s)
agent --device-socket "$S" --server http://$SRV:$API_PORT --address $DEV --retries 2
expect_rc 1 "server down"
expect_err "retrying in 1 s (attempt 2 of 3)"
expect_err "retrying in 2 s (attempt 3 of 3)"
expect_err "not reachable"
expect_err "after 3 attempts"
el=$(($(date +%s) - start))
[ "$el" -ge 3 ] && [ "$el" -le 10 ] || fail "backoff took $el s, expected about 3"
ok

# Idle local clients do not shut out the agent (issue 9): 40 connections that never
# send a byte (more than the 32 slots), then the agent still reads the device through
# the host interface (it gets as far as the server, which is down here).
python3 -c '
import socket, sys, time
conns = []
for _ in range(40):
    c = socket.socket(socket.AF_UNIX)
    c.connect(sys.argv[1])
    conns.append(c)
    time.sleep(0.01)
print("open", flush=True)
time.sleep(60)
' "$S" >"$T/idle.out" 2>&1 &
IDLEPID=$!
BGPIDS="$BGPIDS $IDLEPID"
for _ in $(seq 50); do grep -q open "$T/idle.out" && break; sleep 0.1; done
grep -q open "$T/idle.out" || fail "the idle clients did not connect: $(cat "$T/idle.out")"
sleep 0.3
agent --device-socket "$S" --server http://$SRV:$API_PORT --address $DEV --retries 0 --timeout 3
expect_rc 1 "agent with 40 idle clients on the host interface (server down)"
expect_err "not reachable"
grep -qF "closed the idlest one" "$T/dev.log" || fail "the device did not shed an idle client"
ok
kill "$IDLEPID" 2>/dev/null || true
wait "$IDLEPID" 2>/dev/null || true

# Accepted: the exact JSON, then CFG_StartConfiguration restarts the hellos.
fake_api $API_PORT 202 "$T/api.log"
wait_port $SRV $API_PORT
agent --device-socket "$S" --server http://$SRV:$API_PORT --address $DEV
expect_rc 0 "agent against an accepting server"
expect_out "device    $UUID"
expect_out "pid       $PID"
expect_out "state     In-Setup"
expect_out "tls mode  PSK"
expect_out "AMT 6.2.61"
expect_out "accepted the hello (HTTP 202)"
expect_out "started   CFG_StartConfiguration"
want="/api/v1/hello application/json {\"uuid\":\"$UUID\",\"pid\":\"$PID\",\"address\":\"$DEV\"}"
[ "$(tail -1 "$T/api.log")" = "$want" ] || fail "request was: $(tail -1 "$T/api.log")"
ok
wait_for "$T/dev.log" "CFG_StartConfiguration: hellos start again"
# --json, and a URL with its own path.
agent --device-socket "$S" --server http://$SRV:$API_PORT/api/v1/hello --address $DEV --json
expect_rc 0 "agent --json"
[ "$(jq -r .result <<<"$OUT")" = "started" ] || fail "json: $OUT"
[ "$(jq -r .uuid <<<"$OUT")" = "$UUID" ] || fail "json uuid: $OUT"
[ "$(jq -r .pid <<<"$OUT")" = "$PID" ] || fail "json pid: $OUT"
[ "$(jq -r .server_status <<<"$OUT")" = "202" ] || fail "json status: $OUT"
[ "$(jq -r '.firmware.table.AMT' <<<"$OUT")" = "6.2.61" ] || fail "json firmware: $OUT"
ok
stop_fake

# Refused: the server's error text, exit 1, no retry.
fake_api $API_PORT 400 "$T/api400.log"
wait_port $SRV $API_PORT
agent --device-socket "$S" --server http://$SRV:$API_PORT --address $DEV
expect_rc 1 "server refused"
expect_err "server refused: PID 0000-037M is revoked"
expect_one_line_err
[ "$(wc -l <"$T/api400.log")" -eq 1 ] || fail "a refused hello was retried"
ok
stop_fake

# The server comes up while the agent backs off.
fake_api $API_PORT 202 "$T/late.log" 1.5
agent --device-socket "$S" --server http://$SRV:$API_PORT --address $DEV --retries 4
expect_rc 0 "server up late"
expect_err "retrying in 1 s"
expect_out "accepted the hello"
stop_fake

# ---- malformed frames: logged, connection closed, the device keeps serving ----
cat >"$T/badframe.py" <<'EOF'
import socket, sys
frames = {
    "version": bytes([2, 0, 0, 0, 0x11, 0, 0, 4, 0, 0, 0, 0]),
    "unknown": bytes([1, 1, 0, 0, 0x99, 0, 0, 4, 0, 0, 0, 0]),
    "oversize": bytes([1, 1, 0, 0, 0x11, 0, 0, 4, 0xff, 0xff, 0xff, 0xff]),
    "payload": bytes([1, 1, 0, 0, 0x11, 0, 0, 4, 4, 0, 0, 0, 1, 2, 3, 4]),
}
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.settimeout(5)
s.connect(sys.argv[1])
s.sendall(frames[sys.argv[2]])
print("closed" if s.recv(64) == b"" else "answered")
EOF
for f in version unknown oversize payload; do
	run timeout 10 python3 "$T/badframe.py" "$S" $f
	expect_rc 0 "bad frame $f sent"
	expect_out "closed"
done
wait_for "$T/dev.log" "malformed request, closing the connection: PTHI: header version 2.0"
wait_for "$T/dev.log" "unknown command 0x04000099"
wait_for "$T/dev.log" "makes the frame larger than 4096 bytes"
wait_for "$T/dev.log" "payloadLength is 4, the command takes none"
# At most 32 connections: a 33rd takes the slot of the idlest one (the first, which
# never sent anything), and is served, as are the 31 others.
cat >"$T/conncap.py" <<'EOF'
import socket, sys
req = bytes([1, 1, 0, 0, 0x11, 0, 0, 4, 0, 0, 0, 0])  # GetProvisioningState
conns = []
for i in range(32):
    c = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    c.settimeout(5)
    c.connect(sys.argv[1])
    conns.append(c)
    if i > 0:  # all but the first have been answered once: not the idlest
        c.sendall(req)
        assert len(c.recv(64)) == 20
extra = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
extra.settimeout(5)
extra.connect(sys.argv[1])
extra.sendall(req)
last = "served" if len(extra.recv(64)) == 20 else "refused"
first = "closed" if conns[0].recv(16) == b"" else "open"
answered = 0
for c in conns[1:]:
    c.sendall(req)
    if len(c.recv(64)) == 20:
        answered += 1
print(last, first, answered)
EOF
run timeout 20 python3 "$T/conncap.py" "$S"
expect_rc 0 "connection cap probe"
[ "$OUT" = "served closed 31" ] || fail "connection cap: $OUT"
ok
wait_for "$T/dev.log" "32 connections open (the cap): closed the idlest one"

fake_api $API_PORT 202 "$T/api2.log"
wait_port $SRV $API_PORT
agent --device-socket "$S" --server http://$SRV:$API_PORT --address $DEV
expect_rc 0 "the device serves after malformed frames"
stop_device
[ -e "$S" ] && fail "the PTHI socket was not removed at stop"
ok

# ---- a Post-Setup device: already provisioned, exit 0, nothing sent ----
# As the WS-Management setup leaves it (device.sh goes through that setup).
jq '.state = 2 | .admin = {"user": "pskadmin", "ha1": "00112233445566778899aabbccddeeff"}' \
	"$D/device.json" >"$T/post.json"
install -m 600 "$T/post.json" "$D/device.json"
: >"$T/api2.log"
# A PTHI path taken by something else is refused; a stale socket (a killed run's) is
# replaced.
: >"$S"
run timeout 20 "$P" device run --state "$D" --address $DEV_POST --server $SRV:$HELLO_PORT \
	--port $TLS_PORT --http-port $HTTP_PORT
expect_rc 1 "PTHI path taken by a file"
expect_err "exists and is not a socket"
rm -f "$S"
# (Not under timeout: kill -9 must reach pskprov itself; it lives a second at most.)
"$P" device run --state "$D" --address $DEV_POST --server $SRV:$HELLO_PORT \
	--port $TLS_PORT --http-port $HTTP_PORT >"$T/killed.log" 2>&1 &
KPID=$!
BGPIDS="$BGPIDS $KPID"
wait_for "$T/killed.log" "serving the host interface"
disown "$KPID" # no "Killed" job report
kill -9 "$KPID"
for _ in $(seq 50); do
	kill -0 "$KPID" 2>/dev/null || break
	sleep 0.1
done
[ -S "$S" ] || fail "no stale socket after kill -9"
run_device "$D" $DEV_POST "$T/post.log" || fail "device run did not replace a stale socket"
agent --device-socket "$S" --server http://$SRV:$API_PORT --address $DEV_POST
expect_rc 0 "already provisioned"
expect_out "device is already provisioned"
[ ! -s "$T/api2.log" ] || fail "a provisioned device was reported"
ok
agent --device-socket "$S" --server http://$SRV:$API_PORT --address $DEV_POST --json
[ "$(jq -r .result <<<"$OUT")" = "already-provisioned" ] || fail "json: $OUT"
ok
stop_device

# ---- a Pre-Setup device: no PID ----
# A full unprovision takes it back to Pre-Setup (the console's menu 4, when it exists).
if timeout 10 "$P" device mebx --help >/dev/null 2>&1; then
	printf '%s\n' "$MEBXPW" 4 yes >"$T/in"
	run timeout 20 "$P" device mebx --state "$D" <"$T/in"
	expect_rc 0 "unprovision"
	run_device "$D" $DEV_PRE "$T/pre.log" || fail "device run (Pre-Setup) did not serve PTHI"
	agent --device-socket "$S" --server http://$SRV:$API_PORT --address $DEV_PRE
	expect_rc 1 "no PID"
	expect_err "the device has no PID: give it a key first (console, USB or factory load)"
	expect_one_line_err
	[ ! -s "$T/api2.log" ] || fail "a device without a PID was reported"
	ok
	stop_device
else
	echo "note: 'device mebx' is missing: the Pre-Setup check is skipped"
fi
stop_fake

# ---- end to end: the real server provisions a device the agent reported ----
# The device's own hellos go nowhere (no listener on its --server): only the agent's
# POST /api/v1/hello tells the server about it; the TLS-PSK setup does the rest.
if timeout 10 "$P" server --help >/dev/null 2>&1; then
	E=$T/e2e
	E_HELLO=$((PB + 5)) E_API=$((PB + 6))
	run timeout 30 "$P" init
	expect_rc 0 init
	run timeout 30 "$P" keys generate --count 1 --batch agent
	expect_rc 0 "keys generate"
	run_secret timeout 30 "$P" keys export --batch agent --format csv --out "$T/e2e.csv"
	expect_rc 0 "keys export"
	run timeout 20 "$P" device factory-load --state "$E" --csv "$T/e2e.csv"
	expect_rc 0 "factory-load (end to end)"
	run_device "$E" $DEV_E2E "$T/e2e-dev.log" || fail "device run (end to end) did not serve PTHI"
	# The hello needs an agent token (a file only its owner may read); made before the
	# server starts, which reads the tokens then and every 2 s.
	run timeout 30 "$P" token create --role agent --name e2e-agent --out "$T/agent.tok"
	expect_rc 0 "token create --out"
	expect_mode "$T/agent.tok" 600
	ATOK=$(cat "$T/agent.tok")
	timeout 120 "$P" server --hello $SRV:$E_HELLO --api $SRV:$E_API --device-port $TLS_PORT \
		--device-http-port $HTTP_PORT >"$T/server.log" 2>&1 &
	SRVPID=$!
	BGPIDS="$BGPIDS $SRVPID"
	wait_port $SRV $E_API
	# The real API refuses what is not exactly {"uuid","pid","address"}.
	# The API hello needs a token of the agent role (api.token has the admin role).
	run curl -s -m 10 -o "$T/bad.json" -w '%{http_code}' -H 'Content-Type: application/json' \
		-d '{"uuid":"x","pid":"0000-037M","address":"127.0.0.1"}' \
		http://$SRV:$E_API/api/v1/hello
	[ "$OUT" = "401" ] || fail "a hello without a token: HTTP $OUT"
	ok
	run curl -s -m 10 -o "$T/bad.json" -w '%{http_code}' -H 'Content-Type: application/json' \
		-H "Authorization: Bearer $ATOK" \
		-d '{"uuid":"x","pid":"0000-037M","address":"127.0.0.1","extra":1}' \
		http://$SRV:$E_API/api/v1/hello
	[ "$OUT" = "400" ] || fail "bad JSON to the API: HTTP $OUT"
	ok
	agent --device-socket "$E/pthi.sock" --server http://$SRV:$E_API --address $DEV_E2E
	expect_rc 1 "agent without a token"
	expect_err "server refused: missing or wrong bearer token"
	cp "$T/agent.tok" "$T/open.tok"
	chmod 644 "$T/open.tok"
	agent --device-socket "$E/pthi.sock" --server http://$SRV:$E_API --address $DEV_E2E \
		--token-file "$T/open.tok"
	expect_rc 1 "agent with a token file others may read"
	agent --device-socket "$E/pthi.sock" --server http://$SRV:$E_API --address $DEV_E2E \
		--token-file "$T/agent.tok"
	expect_rc 0 "agent against the real server"
	expect_out "accepted the hello (HTTP 202)"
	wait_provisioned "$E" "$T/server.log"
	agent --device-socket "$E/pthi.sock" --server http://$SRV:$E_API --address $DEV_E2E \
		--token-file "$PSKPROV_DIR/api.token"
	expect_rc 0 "agent after provisioning"
	expect_out "device is already provisioned"
	kill "$SRVPID" 2>/dev/null || true
	wait "$SRVPID" 2>/dev/null || true
	stop_device
	tail -n +2 "$T/e2e.csv" | cut -d, -f2 >>"$T/e2e-secrets"
	tail -n +2 "$T/e2e.csv" | cut -d, -f2 | tr -d - >>"$T/e2e-secrets"
	tail -n +2 "$T/e2e.csv" | cut -d, -f3 >>"$T/e2e-secrets"
	scan_for_secrets "$T/e2e-secrets" "$LOG" "$T/e2e-dev.log" "$T/server.log"
else
	echo "note: 'pskprov server' is missing: the end-to-end check is skipped"
fi

# The device's own logs (a sanitizer build reports there, not in an exit code).
for f in "$T/dev.log" "$T/post.log" "$T/pre.log" "$T/e2e-dev.log" "$T/server.log"; do
	[ -e "$f" ] || continue
	if grep -qE "AddressSanitizer|LeakSanitizer|runtime error:" "$f"; then
		fail "sanitizer report in $f: $(grep -m3 -E "Sanitizer|runtime error" "$f")"
	fi
done
ok

printf '%s\n%s\n%s\n' "$PPS" "$(printf '%s' "$PPS" | tr -d -)" "$MEBXPW" >"$T/secrets"
scan_for_secrets "$T/secrets" "$LOG" "$T/dev.log" "$T/post.log" "$T/pre.log"

finish
