#!/bin/sh
# Where provisioning spends its CPU: a fleet of N devices (default 2,000) against the
# server, both sampled by `perf record` (no instrumentation in the program), and each
# process's CPU time from /proc. Prints CPU per provisioned device for the server and for
# the emulator (the fleet), split by part: TLS and crypto, HTTP, XML, the store, the
# event loop, the kernel (system calls, loopback network), libc (allocation, copies),
# and pskprov's own code. Figures only, never pass/fail; skipped when perf is missing or
# not permitted. BENCH_DEVICES, BENCH_PROFILE (default tls12) as in provision.sh.
set -eu
P=${PSKPROV:-build/pskprov}
N=${BENCH_DEVICES:-2000}
PROFILE=${BENCH_PROFILE:-tls12}
if ! command -v perf >/dev/null 2>&1 || ! perf record -q -o /dev/null -- true >/dev/null 2>&1; then
	echo "cost model: skipped (perf is missing or not permitted)"
	exit 0
fi
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
D=$(mktemp -d /tmp/pskprov-bench-cost.XXXXXX)
SPID=
RPID=
trap 'kill $RPID $SPID 2>/dev/null || true; [ -n "${KEEP:-}" ] || rm -rf "$D"' EXIT
export PSKPROV_DIR="$D/data"
unset PSKPROV_MASTER_KEY

. "$(dirname "$0")/lib.sh"
# CPU seconds (user + system) of a process so far.
cpu_s() { awk -v hz="$(getconf CLK_TCK)" '{printf "%.3f", ($14 + $15) / hz}' "/proc/$1/stat"; }

# parts DATA: "part percent" lines from a perf.data, by shared object and symbol.
parts() {
	perf report -i "$1" --stdio --no-children --sort dso,sym --percent-limit 0 2>/dev/null |
		awk '
		/^#/ || NF < 4 { next }
		{
			pct = $1; sub(/%/, "", pct); dso = $2; sym = $4
			if (dso ~ /libssl|libcrypto/ || sym ~ /^pp_tls_|^bufferevent_openssl/) p = "TLS and crypto"
			else if (dso ~ /libxml2/ || sym ~ /^pp_soap|^pp_wsxml|^pp_xml/) p = "XML (libxml2, envelopes)"
			else if (sym ~ /^evhttp|^evbuffer|^bufferevent|^evkeyval|^evutil/) p = "HTTP and buffers (libevent)"
			else if (dso ~ /libevent/ || sym ~ /^event_|^epoll/) p = "event loop (libevent)"
			else if (dso ~ /libsqlite3|libpq/ || sym ~ /^pp_store|^sq_|^pg_/) p = "store (SQLite, libpq)"
			else if (dso ~ /kernel/) p = "kernel (system calls, loopback network)"
			else if (dso ~ /libc\.so|libc-|ld-linux/) p = "libc (allocation, copies)"
			else if (sym ~ /^pp_digest/) p = "HTTP Digest"
			else if (dso ~ /pskprov/) p = "pskprov (engine, sessions, emulator)"
			else p = "other (" dso ")"
			sum[p] += pct
		}
		END { for (p in sum) printf "%s\t%.2f\n", p, sum[p] }' | sort -t "$(printf '\t')" -k2 -rn
}

# report NAME CPU_S DATA: CPU per device by part.
report() {
	per_dev=$(echo "scale=4; $2 * 1000 / $N" | bc)
	echo "$1: $2 s of CPU for $N devices = $per_dev ms a device"
	parts "$3" | while IFS="$(printf '\t')" read -r part pct; do
		ms=$(echo "scale=4; $per_dev * $pct / 100" | bc)
		printf '  %-42s %6.2f%%  %7.3f ms a device\n' "$part" "$pct" "$ms"
	done
}

"$P" init >/dev/null
printf '[server]\nmax_sessions = 20000\n' >>"$PSKPROV_DIR/pskprov.conf"
bench_keys "$N" cost "$D/k.csv"
bench_server "$PROFILE" || exit 0
perf record -q -F 999 -p "$SPID" -o "$D/server.data" >/dev/null 2>&1 &
RPID=$!
sleep 0.3
s0=$(cpu_s "$SPID")
perf record -q -F 999 -o "$D/fleet.data" -- "$P" fleet --count "$N" --csv "$D/k.csv" \
	--server 127.0.0.1:$HP --base 127.231.0.1 --profile "$PROFILE" --time-scale 0.05 \
	--timeout 600 --json >"$D/fleet.json" 2>"$D/fleet.log" || echo "(the fleet exited $?)"
s1=$(cpu_s "$SPID")
kill -INT "$RPID" 2>/dev/null || true
wait "$RPID" 2>/dev/null || true
RPID=
kill -INT "$SPID"
wait "$SPID" 2>/dev/null || true
SPID=
prov=$(jq '.provisioned' "$D/fleet.json")
fleet_cpu=$(jq -r '.cpu_s // empty' "$D/fleet.json")
echo "machine: $(uname -srm), $(nproc) CPUs; profile $PROFILE; $prov of $N provisioned"
report "server" "$(echo "$s1 - $s0" | bc)" "$D/server.data"
if [ -z "$fleet_cpu" ]; then
	# The fleet's own CPU from perf's sample count at 999 Hz.
	samples=$(perf report -i "$D/fleet.data" --stdio 2>/dev/null |
		sed -n 's/^# Samples: \([0-9.]*\)\([K]*\).*/\1 \2/p' | head -1)
	n=${samples% *}
	[ "${samples#* }" = K ] && n=$(echo "$n * 1000" | bc)
	fleet_cpu=$(echo "scale=3; $n / 999" | bc)
fi
report "emulator (fleet)" "$fleet_cpu" "$D/fleet.data"
# The yardstick, same run: one bare TLS-PSK connection (connect, handshake, close).
BUILD=$(dirname "$P")
bare=$("$BUILD/bench_tls_connect" 3 "$PROFILE" | sed -n 's/^cpu per connection: server side \([0-9]*\) us.*/\1/p')
server_ms=$(echo "scale=4; ($s1 - $s0) * 1000 / $N" | bc)
fleet_ms=$(echo "scale=4; $fleet_cpu * 1000 / $N" | bc)
if [ -n "$bare" ] && [ "$bare" -gt 0 ]; then
	echo "server CPU a device / server CPU of one bare TLS-PSK connection ($bare us):" \
		"$(echo "scale=2; $server_ms * 1000 / $bare" | bc)x (goal <= 3x)"
fi
echo "emulator CPU a device / server CPU a device: $(echo "scale=2; $fleet_ms / $server_ms" | bc)x" \
	"(goal <= 1x: the load generator is not the bottleneck)"
