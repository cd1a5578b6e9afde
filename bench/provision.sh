#!/bin/sh
# Provisioning throughput on this machine: a fleet of N devices (default 2,000) against
# the server, server and fleet sharing the CPUs. Prints devices per second, median and
# 99th percentile time from first hello to Provisioned, the server's peak RSS; the bare
# TLS-PSK connection rate of OpenSSL on loopback (bench_tls_connect) and the ratio; then
# a memory run: M devices (default 10,000) in flight at once with 100 ms of injected
# latency, and the server's peak RSS. Figures only, never pass/fail.
set -eu
# 10,000 emulated devices need about 20,000 descriptors in the fleet.
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
P=${PSKPROV:-build/pskprov}
BUILD=$(dirname "$P")
N=${BENCH_DEVICES:-2000}
M=${BENCH_INFLIGHT:-10000}
PROFILE=${BENCH_PROFILE:-tls12}
D=$(mktemp -d /tmp/pskprov-bench-prov.XXXXXX)
SPID=
trap 'kill $SPID 2>/dev/null || true; rm -rf "$D"' EXIT
export PSKPROV_DIR="$D/data"

. "$(dirname "$0")/lib.sh"

run_case() { # COUNT LATENCY_MS TAG FLEETS
	rm -rf "$PSKPROV_DIR"
	"$P" init >/dev/null
	printf '[server]\nmax_sessions = 20000\n%s\n' "${5:-}" >>"$PSKPROV_DIR/pskprov.conf"
	per=$(($1 / $4))
	for f in $(seq 1 "$4"); do
		bench_keys "$per" "bench$f" "$D/k$f.csv"
	done
	bench_server "$PROFILE" || return 1
	idle=$(awk '/^VmRSS/ {print $2}' /proc/$SPID/status)
	# One fleet process holds about 2 descriptors a device: more devices than the
	# descriptor limit allows run as several fleets at once.
	FPIDS=""
	rm -f "$D/progress"
	bench_progress "$AP" "$D/progress" &
	PROG=$!
	t0=$(date +%s.%N)
	for f in $(seq 1 "$4"); do
		"$P" fleet --count "$per" --csv "$D/k$f.csv" --server 127.0.0.1:$HP \
			--base "127.$((229 + f)).0.1" --profile "$PROFILE" --time-scale 0.05 \
			--latency "$2" --timeout 600 --json >"$D/fleet$f.json" 2>"$D/fleet$f.log" &
		FPIDS="$FPIDS $!"
	done
	for p in $FPIDS; do wait "$p" || echo "(a fleet exited $?)"; done
	kill $PROG 2>/dev/null || true
	wait $PROG 2>/dev/null || true
	peak=$(awk '/^VmHWM/ {print $2}' /proc/$SPID/status)
	metrics=$(curl -sf "http://127.0.0.1:$AP/metrics" || true)
	kill -INT $SPID
	wait $SPID 2>/dev/null || true
	SPID=
	prov=0
	el=0
	lat=""
	for f in $(seq 1 "$4"); do
		prov=$((prov + $(jq '.provisioned' "$D/fleet$f.json")))
		e=$(jq '.elapsed_s' "$D/fleet$f.json")
		el=$(echo "if ($e > $el) $e else $el" | bc)
		lat="$lat median $(jq '.first_hello_to_provisioned_ms.median' "$D/fleet$f.json") ms p99 $(jq '.first_hello_to_provisioned_ms.p99' "$D/fleet$f.json") ms;"
	done
	peak_sessions=$(printf '%s\n' "$metrics" | awk '/^pskprov_sessions_peak/ {print $2}')
	commits=$(printf '%s\n' "$metrics" | awk '/^pskprov_store_commits_total/ {print $2}')
	ops=$(printf '%s\n' "$metrics" | awk '/^pskprov_store_ops_total/ {print $2}')
	echo "$3: $prov of $1 provisioned in $el s = $(echo "scale=0; $prov / $el" | bc) devices/s;" \
		"first hello to Provisioned:$lat server RSS idle $idle kB, peak $peak kB; peak sessions $peak_sessions" \
		"($(echo "scale=1; ($peak - $idle) / $peak_sessions" | bc) KiB a session in flight);" \
		"store $ops ops in $commits commits"
	RATE=$(echo "scale=1; $prov / $el" | bc)
	echo "  progress: $(progress_figures "$D/progress" "$t0" "$el" "$1")"
}

echo "machine: $(uname -srm), $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(nproc) CPUs"
echo "profile $PROFILE; server and fleet on the same machine"
run_case "$N" 0 "throughput ($N devices, no injected latency)" 1
PROV_RATE=$RATE
TLS=$("$BUILD/bench_tls_connect" 3 "$PROFILE" | grep 'connections/s')
echo "$TLS"
TLS_RATE=$(printf '%s\n' "$TLS" | sed -n 's/.*= \([0-9]*\) connections\/s.*/\1/p')
[ -n "$TLS_RATE" ] && echo "ratio: provisioning $PROV_RATE devices/s is $(echo "scale=3; $PROV_RATE / $TLS_RATE" | bc) of the bare TLS-PSK connection rate $TLS_RATE/s (a setup is one handshake plus about 12 WS-Management round trips)"
[ "$M" -gt 0 ] || exit 0
run_case "$M" 100 "in flight ($M devices in 2 fleets, 100 ms injected latency per answer)" 2
# The memory of one session, all of them at once: admission off, so every device has
# its session in flight together (the figure the in-flight RSS divides by).
run_case "$M" 100 "in flight, admission off (admission_floor = 0: every session at once)" 2 "admission_floor = 0"
