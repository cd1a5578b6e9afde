# Shared by the whole-program benchmarks (sourced; $P names the binary, $D a scratch
# directory, PSKPROV_DIR the data directory).

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# bench_keys COUNT BATCH CSV: a key batch exported as CSV.
bench_keys() {
	"$P" keys generate --count "$1" --batch "$2" >/dev/null
	rm -f "$3"
	"$P" keys export --batch "$2" --format csv --out "$3" >/dev/null
}

# bench_server PROFILE: a server on free loopback ports, warn-level log in $D/server.log;
# sets HP (hellos), AP (API) and SPID; returns 1 when /healthz never answers within
# 30 s. BENCH_WRAP, when set, is a command the server runs under (a profiler).
bench_server() {
	HP=$(free_port)
	AP=$(free_port)
	${BENCH_WRAP:-} "$P" server --hello 127.0.0.1:$HP --api 127.0.0.1:$AP --profile "$1" \
		--log-level warn >"$D/server.log" 2>&1 &
	SPID=$!
	i=0
	until curl -sf "http://127.0.0.1:$AP/healthz" >/dev/null 2>&1; do
		i=$((i + 1))
		[ $i -lt 300 ] || { echo "the server did not start"; return 1; }
		sleep 0.1
	done
}

# bench_progress AP OUT: until killed, appends "seconds-since-epoch provisioned" to OUT
# every 100 ms, from the server's /metrics.
bench_progress() {
	while :; do
		n=$(curl -sf "http://127.0.0.1:$1/metrics" | awk '/^pskprov_provisioned_total/ {print $2}')
		echo "$(date +%s.%N) ${n:-0}" >>"$2"
		sleep 0.1
	done
}

# progress_figures OUT T0 ELAPSED TOTAL: when the first device was provisioned (seconds
# after T0) and the share provisioned at half of ELAPSED.
progress_figures() {
	awk -v t0="$2" -v el="$3" -v total="$4" '
		$2 > 0 && first == "" { first = $1 - t0 }
		$1 - t0 <= el / 2 { half = $2 }
		END { printf "first device provisioned %.2f s after the hellos; %d of %d (%.0f%%) done at half the run (%.2f s)\n", first, half, total, 100 * half / total, el / 2 }' "$1"
}
