#!/usr/bin/env bash
# fd_exhaustion: the server under a 256-descriptor limit (ulimit -n in a subshell) and
# 400 idle API connections. The server shares its descriptors out at start (hello and
# API caps, a reserve for the store, the rest for sessions, max_sessions fitted), sheds
# the oldest API connection at the cap, and when accept still runs out of descriptors
# (phase 2: an API cap set beyond the budget) it pauses that listener instead of
# spinning and logs it now and then. Either way: CPU stays low over 10 s, /healthz
# answers, a fleet is provisioned, and the log does not flood.
# Before: 1,100 slow API connections under 1,024 descriptors took the server to 93-100%
# CPU and 16.8 million log lines in 45 s, and /healthz stopped answering.
. "$(dirname "$0")/lib/common.sh"
set -e
command -v python3 >/dev/null || fail "python3 is required"
N=30
PB=$(port_base)
NET=127.218.$((RANDOM % 100))
SL="$(dirname "$0")/lib/slowloris.py"
TCK=$(getconf CLK_TCK)

run "$P" init
expect_rc 0 init
run "$P" keys generate --count $((2 * N)) --batch f
expect_rc 0 generate
run "$P" keys export --batch f --format csv --out "$T/k.csv"
expect_rc 0 export
head -1 "$T/k.csv" >"$T/k1.csv"
sed -n "2,$((N + 1))p" "$T/k.csv" >>"$T/k1.csv"
head -1 "$T/k.csv" >"$T/k2.csv"
sed -n "$((N + 2)),$((2 * N + 1))p" "$T/k.csv" >>"$T/k2.csv"

SPID="" BG=""
stop_all() {
	local rc=$?
	kill $SPID $BG 2>/dev/null || true
	return $rc
}
trap 'stop_all; cleanup' EXIT
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }

# phase NAME HELLO_PORT API_PORT FLEET_CSV FLEET_BASE [SERVER OPTIONS...]
phase() {
	local name=$1 hp=$2 ap=$3 csv=$4 base=$5
	shift 5
	local log="$T/server-$name.log"
	bash -c 'ulimit -n 256 && exec "$@"' sh "$P" server --hello 127.0.0.1:$hp \
		--api 127.0.0.1:$ap "$@" >"$log" 2>&1 &
	SPID=$!
	for _ in $(seq 1 50); do curl -sf -m 2 "http://127.0.0.1:$ap/healthz" >/dev/null && break; sleep 0.1; done
	curl -sf -m 2 "http://127.0.0.1:$ap/healthz" >/dev/null || fail "$name: server did not start"
	timeout 60 python3 "$SL" idle 127.0.0.1 $ap --count 400 --duration 40 >"$T/idle-$name.json" &
	local apid=$!
	BG="$BG $apid"
	sleep 3
	local c0 c1 t0 t1 code
	c0=$(cpu_ticks $SPID)
	t0=$(date +%s%N)
	sleep 10
	c1=$(cpu_ticks $SPID)
	t1=$(date +%s%N)
	CPU=$(((c1 - c0) * 100 * 1000000000 / TCK / (t1 - t0)))
	t0=$(date +%s%N)
	code=$(curl -s -m 20 -o /dev/null -w '%{http_code}' "http://127.0.0.1:$ap/healthz" || true)
	HZ_MS=$((($(date +%s%N) - t0) / 1000000))
	timeout 90 "$P" fleet --count $N --csv "$csv" --server 127.0.0.1:$hp --base "$base" \
		--time-scale 0.01 --timeout 80 --json >"$T/fleet-$name.json" 2>"$T/fleet-$name.log" || true
	METRICS=$(curl -s -m 20 "http://127.0.0.1:$ap/metrics" || true)
	kill -TERM $apid 2>/dev/null || true
	wait $apid 2>/dev/null || true
	EMFILE_LINES=$(grep -c -i "too many open files" "$log" || true)
	LOG_LINES=$(wc -l <"$log")
	echo "$name: CPU ${CPU}% over 10 s; /healthz HTTP $code in $HZ_MS ms;" \
		"fleet $(jq -c '{provisioned, devices, result}' "$T/fleet-$name.json" 2>/dev/null);" \
		"$EMFILE_LINES EMFILE log lines, $LOG_LINES log lines; idle clients: $(cat "$T/idle-$name.json")"
	printf '%s\n' "$METRICS" | grep -E '^pskprov_(api_connections|accept_pauses)' | sed 's/^/  /'
	grep -E "descriptors:|max_sessions" "$log" | sed 's/^/  /' || true
	[ "$code" = 200 ] || fail "$name: /healthz answered HTTP $code"
	[ "$CPU" -lt 20 ] || fail "$name: the server used ${CPU}% CPU"
	[ "$EMFILE_LINES" -le 5 ] || fail "$name: $EMFILE_LINES EMFILE log lines"
	jq -e --argjson n $N '.provisioned == $n' "$T/fleet-$name.json" >/dev/null ||
		fail "$name: fleet: $(cat "$T/fleet-$name.json")"
	kill -0 $SPID || fail "$name: the server died"
	kill $SPID
	wait $SPID 2>/dev/null || true
	ok
}

# 1. The shares from the limit: 48 hello, 24 API connections, 120 sessions.
phase capped $PB $((PB + 1)) "$T/k1.csv" "$NET.1"
grep -q "descriptors: limit 256" "$T/server-capped.log" || fail "limit not logged"
grep -q "max_sessions 20000 does not fit in the descriptor limit 256" "$T/server-capped.log" ||
	fail "max_sessions not fitted: $(grep descriptors "$T/server-capped.log")"
printf '%s\n' "$METRICS" | awk '$1 == "pskprov_api_connections_shed_total" {exit !($2 >= 300)}' ||
	fail "API connections not shed at the cap"
ok
# 2. An API cap beyond the budget: accept runs out of descriptors and pauses.
phase emfile $((PB + 2)) $((PB + 3)) "$T/k2.csv" "$NET.101" --api-max-conns 1000
grep -q "exceed the .* descriptors left" "$T/server-emfile.log" || fail "over-budget cap not warned"
printf '%s\n' "$METRICS" | awk '$1 == "pskprov_accept_pauses_total" {exit !($2 >= 1)}' ||
	fail "no accept pause counted"
ok
finish
