#!/usr/bin/env bash
# hostile_device: devices that hold a valid key and then misbehave, played by
# `openssl s_server` (it completes the TLS-PSK handshake, then writes whatever this
# script feeds it): an answer with a 4 GB Content-Length, an endless chunked answer,
# endless headers, and an answer dripped one byte a second. Each job must fail with a
# reason, on time, while the server's memory stays bounded and it goes on serving.
. "$(dirname "$0")/lib/common.sh"
set -e
PB=$(port_base)
HP=$PB AP=$((PB + 1)) DP=$((PB + 2))
NET=127.214.$((RANDOM % 200))

run "$P" init
expect_rc 0 init
printf '[server]\nmax_attempts = 1\nio_timeout_ms = 2000\nexchange_timeout_ms = 3000\n' >>"$PSKPROV_DIR/pskprov.conf"
run "$P" keys generate --count 6 --batch h
expect_rc 0 generate
run_secret "$P" keys export --batch h --format csv --out "$T/k.csv"

. "$(dirname "$0")/lib/proc.sh"
start_server "$T/server.log" 127.0.0.1:$HP 127.0.0.1:$AP --device-port $DP
TOKEN=$(cat "$PSKPROV_DIR/api.token")
rss_kb() { awk '/^VmRSS/ {print $2}' "/proc/$SPID/status"; }
job_error() { # UUID -> last_error once the job failed (bounded wait)
	for _ in $(seq 1 300); do
		e=$("$P" jobs list --json | jq -r --arg u "$1" '.[] | select(.uuid == $u and .state == "failed") | .last_error')
		[ -n "$e" ] && { echo "$e"; return 0; }
		sleep 0.1
	done
	fail "job for $1 did not fail"
}
# device N PAYLOAD_COMMAND: s_server on $NET.N with key N; the payload (after a second,
# so our first request is on its way) is written into the TLS connection.
device() {
	(sleep 1; timeout 60 bash -c "$2") | timeout 90 openssl s_server -quiet \
		-accept "$NET.$1:$DP" -nocert -psk "$(hex_of "$1")" -psk_hint "$(pid_of "$1")" \
		-tls1_2 >"$T/peer$1.log" 2>&1 &
	BGPIDS="$BGPIDS $!"
	sleep 0.5
}

RSS0=$(rss_kb)
device 1 "printf 'HTTP/1.1 200 OK\r\nContent-Type: application/soap+xml\r\nContent-Length: 4000000000\r\n\r\n'; head -c 300000000 /dev/zero"
device 2 "printf 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n'; while :; do printf '100000\r\n'; head -c 1048576 /dev/zero; printf '\r\n'; done"
device 3 "printf 'HTTP/1.1 200 OK\r\n'; while :; do printf 'X-Filler: %01000d\r\n' 0; done"
device 4 "printf 'HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n'; for i in \$(seq 1 40); do printf '<'; sleep 1; done"
T0=$(date +%s)
for n in 1 2 3 4; do
	[ "$(agent_hello "11111111-2222-3333-4444-00000000000$n" "$(pid_of $n)" "$NET.$n")" = 202 ] ||
		fail "agent hello $n refused: $(cat "$T/api.out")"
done
E1=$(job_error 11111111-2222-3333-4444-000000000001)
E2=$(job_error 11111111-2222-3333-4444-000000000002)
E3=$(job_error 11111111-2222-3333-4444-000000000003)
E4=$(job_error 11111111-2222-3333-4444-000000000004)
T1=$(date +%s)
RSS1=$(rss_kb)
echo "4 GB body: $E1"
echo "endless chunks: $E2"
echo "endless headers: $E3"
echo "drip: $E4"
echo "server RSS: $RSS0 kB before, $RSS1 kB after; all four failed in $((T1 - T0)) s"
case "$E1" in *"size limit"*) ok ;; *) fail "4 GB body: $E1" ;; esac
case "$E2" in *"size limit"*) ok ;; *) fail "endless chunks: $E2" ;; esac
case "$E3" in *"size limit"*) ok ;; *) fail "endless headers: $E3" ;; esac
case "$E4" in *"exchange deadline"*) ok ;; *) fail "drip: $E4" ;; esac
# Bounded: a few MB of buffers at most, never the hundreds the devices sent.
[ $((RSS1 - RSS0)) -lt 65536 ] || fail "server grew by $((RSS1 - RSS0)) kB"
ok
[ "$(metric pskprov_deadlines_missed_total)" -ge 1 ] || fail "no deadline counted"
ok
# Nothing listens at device 5's address: a refused connection, not a TLS failure.
TLS0=$(curl -sf "http://127.0.0.1:$AP/metrics" | awk '/^pskprov_tls_failures_total/ {n += $2} END {print n + 0}')
[ "$(agent_hello 11111111-2222-3333-4444-000000000005 "$(pid_of 5)" "$NET.5")" = 202 ] || fail "agent hello 5"
E5=$(job_error 11111111-2222-3333-4444-000000000005)
echo "nobody listening: $E5"
case "$E5" in *"cannot connect to the device"*) ok ;; *) fail "refused connect: $E5" ;; esac
TLS1=$(curl -sf "http://127.0.0.1:$AP/metrics" | awk '/^pskprov_tls_failures_total/ {n += $2} END {print n + 0}')
[ "$TLS1" = "$TLS0" ] || fail "a refused connect was counted as a TLS failure ($TLS0 -> $TLS1)"
ok
# The server is still serving.
curl -sf "http://127.0.0.1:$AP/healthz" >/dev/null || fail "server no longer answers"
ok

# The whole session has a deadline too: with a session shorter than one exchange, the
# drip is cut by the session's.
kill $SPID
wait $SPID 2>/dev/null || true
printf 'session_timeout_ms = 1500\n' >>"$PSKPROV_DIR/pskprov.conf"
start_server "$T/server.log" 127.0.0.1:$HP 127.0.0.1:$AP --device-port $DP
device 6 "printf 'HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n'; for i in \$(seq 1 40); do printf '<'; sleep 1; done"
[ "$(agent_hello 11111111-2222-3333-4444-000000000006 "$(pid_of 6)" "$NET.6")" = 202 ] || fail "agent hello 6"
E6=$(job_error 11111111-2222-3333-4444-000000000006)
echo "drip, short session: $E6"
case "$E6" in *"session deadline (1500 ms)"*) ok ;; *) fail "session deadline: $E6" ;; esac
finish
