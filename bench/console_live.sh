#!/bin/sh
# The operator's console at fleet scale (issue 10's "done when": follow a 2,000-device run
# live in the browser, find any device in under a second, see why each failed device
# failed, every figure on the pages matching the store). A server on a fresh data
# directory, a read token signed in to the overview in headless Chromium (Selenium 4,
# console_live.py), then a fleet of N devices (BENCH_CONSOLE_DEVICES, default 2,000), a
# few holding a wrong key (BENCH_CONSOLE_WRONG_KEY, 5) and a few dropping their
# connection with one attempt allowed (BENCH_CONSOLE_DISCONNECT, 10), each device
# answering WS-Management after BENCH_CONSOLE_LATENCY ms (80) and the server running at
# most BENCH_CONSOLE_SESSIONS sessions at once (100): about 20 s of run on 2 CPUs.
# Prints: the page's figures against /api/v1/status sampled every 250 ms (how far the
# page lagged, in devices and seconds), the final page against `pskprov status --json`,
# the header search and the device list's search timed in the browser for
# BENCH_CONSOLE_SEARCHES (20) random devices by PID, address and UUID fragment, each
# failed device's page (reason shown, load time), the machine and the browser. Figures
# only, never pass/fail; skipped (exit 0, one line) without chromium, chromedriver or
# python3-selenium.
set -eu
P=${PSKPROV:-build/pskprov}
N=${BENCH_CONSOLE_DEVICES:-2000}
WRONG=${BENCH_CONSOLE_WRONG_KEY:-5}
DROP=${BENCH_CONSOLE_DISCONNECT:-10}
LAT=${BENCH_CONSOLE_LATENCY:-80}
SESSIONS=${BENCH_CONSOLE_SESSIONS:-100}
PROFILE=${BENCH_PROFILE:-tls12}
CHROMEDRIVER=${CHROMEDRIVER:-/usr/bin/chromedriver}
# Debian's python3, where python3-selenium is installed.
PY=/usr/bin/python3
[ -x "$PY" ] || PY=python3

missing=""
command -v chromium >/dev/null 2>&1 || missing="$missing chromium"
[ -x "$CHROMEDRIVER" ] || missing="$missing chromium-driver"
"$PY" -c 'import selenium' 2>/dev/null || missing="$missing python3-selenium"
for tool in curl jq; do
	command -v $tool >/dev/null 2>&1 || missing="$missing $tool"
done
if [ -n "$missing" ]; then
	echo "console_live: skipped, missing:$missing (scripts/deps.sh installs them)"
	exit 0
fi
# One fleet process holds about 2 descriptors a device.
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)" 2>/dev/null || true

D=$(mktemp -d /tmp/pskprov-bench-console.XXXXXX)
SPID=""
trap '[ -z "$SPID" ] || kill "$SPID" 2>/dev/null; rm -rf "$D"' EXIT
export PSKPROV_DIR="$D/data"
. "$(dirname "$0")/lib.sh"

echo "machine: $(uname -srm); $(grep -m1 'model name' /proc/cpuinfo | sed 's/.*: //'); nproc $(nproc); load $(cut -d' ' -f1-3 /proc/loadavg)"
"$P" init >/dev/null
# The devices' ports below the ephemeral range (a port there may be held by a
# connection of an earlier run from the same address), addresses from a random /16.
DEV_PORT=$((10000 + ($$ % 2000) * 10))
printf '[server]\ndevice_port = %s\ndevice_http_port = %s\nmax_attempts = 1\nmax_sessions = %s\n' \
	"$DEV_PORT" $((DEV_PORT + 1)) "$SESSIONS" >>"$PSKPROV_DIR/pskprov.conf"
bench_keys "$N" fleet "$D/keys.csv"
# The tokens before the server starts: it knows them from its first call (a token made
# while it runs is taken within seconds).
umask 077
"$P" token create --role read --name console-bench --out "$D/read.tok" >/dev/null
"$P" token create --role read --name console-bench-store --out "$D/store.tok" >/dev/null
umask 022
bench_server "$PROFILE" || exit 1

echo "fleet: $N devices ($WRONG with a wrong key, $DROP dropping their connection, one attempt a job);" \
	"WS-Management answers after $LAT ms; at most $SESSIONS sessions at once; profile $PROFILE"
export PP_URL="http://127.0.0.1:$AP" CHROMEDRIVER PSKPROV="$P"
export PP_READ_TOKEN_FILE="$D/read.tok" PP_STORE_TOKEN_FILE="$D/store.tok"
export PP_DEVICES="$N" PP_WRONG="$WRONG" PP_DROP="$DROP" PP_SEARCHES="${BENCH_CONSOLE_SEARCHES:-20}"
export PP_FLEET_OUT="$D/fleet.json" PP_FLEET_LOG="$D/fleet.log"
export PP_FLEET="$P fleet --count $N --csv $D/keys.csv --server 127.0.0.1:$HP \
--base 127.$((200 + $$ % 40)).0.1 --port $DEV_PORT --http-port $((DEV_PORT + 1)) \
--profile $PROFILE --time-scale 1 --latency $LAT --faults wrong-key=$WRONG,disconnect=$DROP \
--timeout 150 --json"
rc=0
timeout 280 "$PY" "$(dirname "$0")/console_live.py" || rc=$?
[ "$rc" -eq 0 ] || { echo "console_live.py exited $rc; fleet: $(tail -2 "$D/fleet.log" 2>/dev/null)"; exit "$rc"; }
