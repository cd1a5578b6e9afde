#!/usr/bin/env bash
# server: the configuration server against independent TLS-PSK peers (openssl s_server
# and gnutls-serv stand in for a device: the handshake completes, then the job fails
# cleanly because they do not speak WS-Management), hellos that are malformed, v3 or
# for unknown PIDs, the HTTP API's checks, the hello rate limit, and a whole setup for
# every TLS profile.
. "$(dirname "$0")/lib/common.sh"
set -e
PB=$(port_base)
HP=$PB AP=$((PB + 1)) DP=$((PB + 2))
NET=127.213.$((RANDOM % 200))

run "$P" init
expect_rc 0 init
printf '[server]\nmax_attempts = 1\nio_timeout_ms = 3000\n[keys]\nlockout_failures = 1\n' >>"$PSKPROV_DIR/pskprov.conf"
run "$P" keys generate --count 4 --batch s
expect_rc 0 generate
run "$P" keys export --batch s --format csv --out "$T/k.csv"

. "$(dirname "$0")/lib/proc.sh"
start_server "$T/server.log" 127.0.0.1:$HP 127.0.0.1:$AP --device-port $DP
TOKEN=$(cat "$PSKPROV_DIR/api.token")
expect_mode "$PSKPROV_DIR/api.token" 600
wait_metric() { # NAME MIN
	for _ in $(seq 1 100); do
		[ "$(metric "$1")" -ge "$2" ] 2>/dev/null && return 0
		sleep 0.1
	done
	fail "metric $1 did not reach $2 (is $(metric "$1"))"
}
job_error() { # UUID -> last_error once the job failed
	for _ in $(seq 1 100); do
		e=$("$P" jobs list --json | jq -r --arg u "$1" '.[] | select(.uuid == $u and .state == "failed") | .last_error')
		[ -n "$e" ] && { echo "$e"; return 0; }
		sleep 0.1
	done
	fail "job for $1 did not fail"
}

# --- openssl s_server as the device: hint = PID, key = PPS. It prints what it
# decrypts, so our WS-Management request in its output proves the handshake. ---
sleep 60 | openssl s_server -accept "$NET.1:$DP" -nocert -psk "$(hex_of 1)" \
	-psk_hint "$(pid_of 1)" -tls1_2 >"$T/s_server.log" 2>&1 &
OPID=$!
sleep 0.5
[ "$(agent_hello 11111111-2222-3333-4444-000000000001 "$(pid_of 1)" "$NET.1")" = 202 ] ||
	fail "agent hello refused: $(cat "$T/api.out")"
ok
E=$(job_error 11111111-2222-3333-4444-000000000001)
kill $OPID 2>/dev/null || true
wait $OPID 2>/dev/null || true
echo "openssl s_server: job failed with: $E"
grep -q "POST /wsman" "$T/s_server.log" || fail "s_server never decrypted our request: $(head -5 "$T/s_server.log")"
grep -q "CIPHER is ECDHE-PSK" "$T/s_server.log" || fail "not an ECDHE-PSK suite: $(grep CIPHER "$T/s_server.log")"
case "$E" in *"did not answer"* | *WS-Management*) ok ;; *) fail "unexpected failure: $E" ;; esac

# --- gnutls-serv as the device ---
printf '%s:%s\n' "$(pid_of 2)" "$(hex_of 2)" >"$T/psk.txt"
chmod 600 "$T/psk.txt"
# gnutls-serv cannot pick its address: it listens on all, on a port of this test.
# Plain PSK (our tls12 profile's third suite): gnutls-serv 3.7.9 crashes after an
# ECDHE-PSK handshake while printing the session, a bug of its own.
gnutls-serv --http --pskpasswd "$T/psk.txt" --pskhint "$(pid_of 2)" -p "$DP" \
	--priority 'NORMAL:-VERS-ALL:+VERS-TLS1.2:-KX-ALL:+PSK' >"$T/gnutls.log" 2>&1 </dev/null &
GPID=$!
for _ in $(seq 1 50); do grep -q "IPv4.*done" "$T/gnutls.log" 2>/dev/null && break; sleep 0.1; done
grep -q "IPv4.*done" "$T/gnutls.log" || fail "gnutls-serv did not start: $(cat "$T/gnutls.log")"
[ "$(agent_hello 11111111-2222-3333-4444-000000000002 "$(pid_of 2)" "$NET.2")" = 202 ] || fail "agent hello 2"
E=$(job_error 11111111-2222-3333-4444-000000000002)
kill $GPID 2>/dev/null || true
wait $GPID 2>/dev/null || true
echo "gnutls-serv: job failed with: $E"
# gnutls-serv --http answers with an HTML page: the handshake and HTTP worked, the body
# is no SOAP envelope.
case "$E" in *WS-Management* | *"HTTP "* | *Digest* | *"closed the connection"* | *headers*) ok ;;
*) fail "expected a failure after the handshake, got: $E" ;;
esac
grep -q "PSK authentication. Connected as '$(pid_of 2)'" "$T/gnutls.log" ||
	fail "gnutls-serv did not authenticate our PSK: $(tail -5 "$T/gnutls.log")"
ok

# --- a peer with the wrong key: the handshake itself fails, with the reason ---
openssl s_server -accept "$NET.3:$DP" -nocert -psk "$(hex_of 4)" -psk_hint "$(pid_of 3)" \
	-tls1_2 -www >"$T/s_server3.log" 2>&1 </dev/null &
OPID=$!
sleep 0.5
agent_hello 11111111-2222-3333-4444-000000000003 "$(pid_of 3)" "$NET.3" >/dev/null
E=$(job_error 11111111-2222-3333-4444-000000000003)
kill $OPID 2>/dev/null || true
wait $OPID 2>/dev/null || true
case "$E" in *"different PPS"*) ok ;; *) fail "wrong key: got: $E" ;; esac
run "$P" keys show "$(pid_of 3)" --json
[ "$(printf '%s' "$OUT" | jq .failure_count)" -ge 1 ] || fail "handshake failure not counted on the key"
# one failure is the lockout limit here: the key is locked and reported
run "$P" keys report --json
printf '%s' "$OUT" | jq -e --arg p "$(row 3 | cut -d, -f1)" '.locked_out | any(.pid == $p)' >/dev/null ||
	fail "keys report does not list the locked-out PID: $OUT"
run "$P" keys report
expect_out "locked out"
ok

# --- a hint that is not the PID of the hello: refused, nothing guessed ---
openssl s_server -accept "$NET.4:$DP" -nocert -psk "$(hex_of 1)" -psk_hint "$(pid_of 1)" \
	-tls1_2 -www >"$T/s_server4.log" 2>&1 </dev/null &
OPID=$!
sleep 0.5
agent_hello 11111111-2222-3333-4444-000000000004 "$(pid_of 4)" "$NET.4" >/dev/null
E=$(job_error 11111111-2222-3333-4444-000000000004)
kill $OPID 2>/dev/null || true
case "$E" in *"$(pid_of 1)"* | *hint* | *expected*) ok ;; *) fail "hint mismatch: got: $E" ;; esac

# --- hellos on the wire: unknown PID, malformed, v3, oversize ---
hello_v2() { # UUID-hex(32) PID -> bytes (InterfaceVersion 2)
	printf '\x00\x00\x02\x00\x00\x00\x00\x00'
	printf '%s' "$1" | sed 's/../\\x&/g' | xargs -0 printf
	printf '%s' "$2"
}
send() { # bytes on stdin -> the hello port
	cat >"$T/hello.bin"
	bash -c "cat '$T/hello.bin' >/dev/tcp/127.0.0.1/$HP" 2>/dev/null || true
}
hello_v2 0123456789abcdef0123456789abcdef 0000037M | send
hello_v2 0123456789abcdef0123456789abcde0 0000037N | send
wait_metric 'pskprov_hello_outcomes_total{outcome="unknown_pid"}' 1
printf 'GET / HTTP/1.0\r\n\r\n' | send
wait_metric pskprov_hellos_malformed_total 1
{ printf '\x00\x00\x03\x00\x00\x00\x00\x00'; printf '0123456789abcdef'; printf '\x01\x02\x20'; head -c 32 /dev/zero; } | send
wait_metric pskprov_hellos_v3_declined_total 1
# A real v3 hello: 30 hashes (SHA-256, SHA-384, SHA-1 in turn), 1,085 bytes: counted as
# v3 and declined, never malformed.
hello_v3() { # COUNT -> bytes
	printf '\x00\x00\x03\x00\x02\x00\x00\x00'
	printf 'v3v3v3v3v3v3v3v3'
	printf "\\x$(printf '%02x' "$1")"
	for i in $(seq 1 "$1"); do
		case $((i % 3)) in
		1) printf '\x02\x20'; head -c 32 /dev/urandom ;;
		2) printf '\x03\x30'; head -c 48 /dev/urandom ;;
		0) printf '\x01\x14'; head -c 20 /dev/urandom ;;
		esac
	done
}
MALFORMED=$(metric pskprov_hellos_malformed_total)
hello_v3 30 | send
[ "$(wc -c <"$T/hello.bin")" -eq 1085 ] || fail "v3 hello is $(wc -c <"$T/hello.bin") bytes"
wait_metric pskprov_hellos_v3_declined_total 2
# The largest v3 hello (255 entries of SHA-384: 12,775 bytes) too.
{ printf '\x00\x00\x03\x00\x00\x00\x00\x00'; printf 'v3v3v3v3v3v3v3v4\xff'
  for _ in $(seq 1 255); do printf '\x03\x30'; head -c 48 /dev/zero; done; } | send
[ "$(wc -c <"$T/hello.bin")" -eq 12775 ] || fail "largest v3 hello is $(wc -c <"$T/hello.bin") bytes"
wait_metric pskprov_hellos_v3_declined_total 3
[ "$(metric pskprov_hellos_malformed_total)" -eq "$MALFORMED" ] ||
	fail "v3 hellos counted as malformed: $(grep 'malformed hello' "$T/server.log" | tail -2)"
grep -q "version 3 hello (certificate-based setup, 30 certificate hashes) declined" "$T/server.log" ||
	fail "30-hash v3 not logged: $(grep 'hello' "$T/server.log" | tail -3)"
head -c 13000 /dev/zero | send
wait_metric pskprov_hellos_oversize_total 1
grep -q "version 3 hello (certificate-based setup, 1 certificate hash) declined" "$T/server.log" ||
	fail "v3 not logged"
ok

# --- the API: checks on input and the token ---
code=$(curl -s -o "$T/api.out" -w '%{http_code}' -X POST -H 'Content-Type: application/json' \
	-H "Authorization: Bearer $TOKEN" --data '{"uuid":1}' "http://127.0.0.1:$AP/api/v1/hello")
[ "$code" = 400 ] || fail "bad JSON: HTTP $code"
code=$(agent_hello 11111111-2222-3333-4444-00000000000x "$(pid_of 1)" 127.0.0.9)
[ "$code" = 400 ] || fail "bad UUID: HTTP $code"
jq -e '.error | test("UUID")' "$T/api.out" >/dev/null || fail "bad UUID message: $(cat "$T/api.out")"
code=$(agent_hello 11111111-2222-3333-4444-000000000009 0000-037N 127.0.0.9)
[ "$code" = 400 ] || fail "bad PID checksum: HTTP $code"
code=$(curl -s -o /dev/null -w '%{http_code}' -X POST -H 'Content-Type: application/json' \
	-H "Authorization: Bearer $TOKEN" \
	--data '{"uuid":"11111111-2222-3333-4444-000000000009","pid":"0000-037M","address":"127.0.0.9","x":1}' "http://127.0.0.1:$AP/api/v1/hello")
[ "$code" = 400 ] || fail "unknown JSON key: HTTP $code"
code=$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$AP/api/v1/status")
[ "$code" = 401 ] || fail "status without a token: HTTP $code"
code=$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer nope" "http://127.0.0.1:$AP/api/v1/status")
[ "$code" = 401 ] || fail "status with a wrong token: HTTP $code"
curl -sf -H "Authorization: Bearer $TOKEN" "http://127.0.0.1:$AP/api/v1/status" | jq -e '.instance' >/dev/null ||
	fail "status with the token"
code=$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$AP/nope")
[ "$code" = 404 ] || fail "unknown path: HTTP $code"
# --- API hygiene: every error is JSON with the right status; unsupported methods close ---
api_err() { # EXPECTED_CODE WHAT CURL_ARGS... : the status and a JSON {"error": ...} body
	local want=$1 what=$2
	shift 2
	code=$(curl -s -m 5 -o "$T/api.out" -w '%{http_code}' "$@")
	[ "$code" = "$want" ] || fail "$what: HTTP $code, expected $want: $(cat "$T/api.out")"
	jq -e '.error | type == "string"' "$T/api.out" >/dev/null || fail "$what: not a JSON error: $(cat "$T/api.out")"
	ok
}
HURL="http://127.0.0.1:$AP/api/v1/hello"
GOOD='{"uuid":"11111111-2222-3333-4444-000000000010","pid":"0000-037M","address":"127.0.0.10"}'
api_err 404 "unknown path" "http://127.0.0.1:$AP/nope"
api_err 405 "DELETE /healthz" -X DELETE "http://127.0.0.1:$AP/healthz"
api_err 405 "GET on the hello" -H "Authorization: Bearer $TOKEN" "$HURL"
api_err 401 "hello without a token" -X POST -H 'Content-Type: application/json' --data "$GOOD" "$HURL"
grep -q '"missing or wrong bearer token"' "$T/api.out" || fail "401 message: $(cat "$T/api.out")"
api_err 401 "hello with a wrong token" -X POST -H 'Content-Type: application/json' \
	-H "Authorization: Bearer $(printf '%064d' 0)" --data "$GOOD" "$HURL"
api_err 415 "hello as a form" -X POST -H "Authorization: Bearer $TOKEN" --data "$GOOD" "$HURL"
api_err 415 "hello as text/plain" -X POST -H "Authorization: Bearer $TOKEN" \
	-H 'Content-Type: text/plain' --data "$GOOD" "$HURL"
head -c 6000 /dev/zero | tr '\0' ' ' >"$T/big.json"
api_err 413 "hello over 4 KiB" -X POST -H "Authorization: Bearer $TOKEN" \
	-H 'Content-Type: application/json' --data-binary "@$T/big.json" "$HURL"
for a in 0.0.0.0 255.255.255.255 224.0.0.1 239.1.2.3 240.0.0.1 0.1.2.3; do
	api_err 400 "hello for $a" -X POST -H "Authorization: Bearer $TOKEN" -H 'Content-Type: application/json' \
		--data "{\"uuid\":\"11111111-2222-3333-4444-000000000011\",\"pid\":\"0000-037M\",\"address\":\"$a\"}" "$HURL"
	jq -e '.field == "address"' "$T/api.out" >/dev/null || fail "$a: no field: $(cat "$T/api.out")"
done
api_err 400 "hello with a bad PID" -X POST -H "Authorization: Bearer $TOKEN" -H 'Content-Type: application/json' \
	--data '{"uuid":"11111111-2222-3333-4444-000000000011","pid":"0000-037N","address":"127.0.0.11"}' "$HURL"
jq -e '.field == "pid"' "$T/api.out" >/dev/null || fail "bad PID: no field: $(cat "$T/api.out")"
# CONNECT: answered 405 and the connection closed (before: left open).
python3 - "$AP" >"$T/connect.out" <<'PY'
import socket, sys, time
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=5)
s.sendall(b"CONNECT 127.0.0.1:22 HTTP/1.1\r\nHost: 127.0.0.1:22\r\n\r\n")
t0, data = time.monotonic(), b""
while True:
    try:
        d = s.recv(4096)
    except socket.timeout:
        print("OPEN after 5 s:", data[:40]); sys.exit(0)
    if not d:
        break
    data += d
print("CLOSED in %.2f s: %s" % (time.monotonic() - t0, data.split(b"\r\n")[0].decode()))
PY
echo "CONNECT: $(cat "$T/connect.out")"
grep -q "CLOSED in .*405" "$T/connect.out" || fail "CONNECT: $(cat "$T/connect.out")"
ok
# the page at / is the web console (its own tests: integration/web and console); the
# failures this test caused are counted
curl -sf -D "$T/page.h" "http://127.0.0.1:$AP/" >"$T/page.html" || fail "console page"
grep -q "<title>pskprov console</title>" "$T/page.html" || fail "console page title"
grep -qi "^Content-Security-Policy: default-src 'none'" "$T/page.h" || fail "console page CSP"
[ "$(metric pskprov_jobs_failed_total)" -ge 1 ] || fail "the failed jobs are not counted"
ok

# --- the per-source hello rate limit (30 a minute by default) ---
for i in $(seq 1 40); do
	hello_v2 0123456789abcdef0123456789abcd$(printf "%02x" "$i") 0000037M | send
done
wait_metric pskprov_hellos_rate_limited_total 1
kill -INT $SPID
wait $SPID 2>/dev/null || true

# --- every TLS profile, the whole setup ---
for prof in amt-legacy tls12 tls13; do
	run "$P" demo --devices 5 --profile "$prof"
	expect_rc 0 "demo --profile $prof"
	expect_out "demo: every device provisioned"
done

# --- nothing secret in the logs ---
tail -n +2 "$T/k.csv" | cut -d, -f2 | tr -d - >"$T/secrets"
tail -n +2 "$T/k.csv" | cut -d, -f3 >>"$T/secrets"
scan_for_secrets "$T/secrets" "$T/server.log" "$LOG" "$PSKPROV_DIR"/pskprov.db*
finish
