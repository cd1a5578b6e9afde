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
# sets HP (hellos), AP (API) and SPID; returns 1 when /healthz never answers.
bench_server() {
	HP=$(free_port)
	AP=$(free_port)
	"$P" server --hello 127.0.0.1:$HP --api 127.0.0.1:$AP --profile "$1" --log-level warn \
		>"$D/server.log" 2>&1 &
	SPID=$!
	i=0
	until curl -sf "http://127.0.0.1:$AP/healthz" >/dev/null 2>&1; do
		i=$((i + 1))
		[ $i -lt 100 ] || { echo "the server did not start"; return 1; }
		sleep 0.1
	done
}
