#!/usr/bin/env bash
# Memory and start-up cost of `pskprov fleet` per idle device: runs a small and a large
# fleet with no server (every device idles In-Setup: listener open, hellos refused) and
# prints the difference in peak RSS per device. Figures only, never pass/fail.
#   PSKPROV=build/pskprov bench/fleet_mem.sh [SMALL] [LARGE]
set -eu
P=${PSKPROV:-build/pskprov}
SMALL=${1:-200}
LARGE=${2:-2000}
command -v /usr/bin/time >/dev/null || { echo "fleet_mem: needs /usr/bin/time" >&2; exit 1; }
T=$(mktemp -d /tmp/pskprov-bench.XXXXXX)
trap 'rm -rf "$T"' EXIT
export PSKPROV_DIR="$T/data"
unset PSKPROV_MASTER_KEY
"$P" init >/dev/null
"$P" keys generate --count "$LARGE" --batch bench >/dev/null
"$P" keys export --batch bench --format csv --out "$T/keys.csv" >/dev/null
PORT=$((30000 + (RANDOM % 2000) * 10))
measure() { # N -> "peak_rss_kb wall_s"
	/usr/bin/time -f "%M %e" -o "$T/time" "$P" fleet --count "$1" --csv "$T/keys.csv" \
		--server "127.0.99.1:$((PORT + 1))" --base 127.98.0.1 --port "$((PORT + 3))" \
		--http-port "$((PORT + 2))" --timeout 2 >/dev/null 2>&1 || true
	tail -1 "$T/time"
}
read -r rss_s wall_s <<<"$(measure "$SMALL")"
read -r rss_l wall_l <<<"$(measure "$LARGE")"
per_dev=$(echo "scale=2; ($rss_l - $rss_s) / ($LARGE - $SMALL)" | bc)
start_ms=$(echo "scale=3; ($wall_l - $wall_s) * 1000 / ($LARGE - $SMALL)" | bc)
echo "fleet of $SMALL: peak RSS $rss_s KB; fleet of $LARGE: peak RSS $rss_l KB"
echo "per idle device: $per_dev KB of RSS (state files on tmpfs not included), $start_ms ms to create and start"
