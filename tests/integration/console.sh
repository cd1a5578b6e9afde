#!/usr/bin/env bash
# console: the web console in headless Chromium, driven by Selenium (console.py), against
# a server whose fleet includes failures: a device holding a wrong key, a device that
# drops its connection with one attempt allowed (so it ends failed, with a reason), and a
# clone of a provisioned device's factory key (quarantined). console.py signs in, checks
# the overview against `pskprov status --json`, watches the live view move while a second
# fleet runs, finds devices by PID and by address, reads the failure and quarantine
# reasons, is refused the credentials with a read token and shown them with an admin
# token (the audit page lists the reveal), and finds no CSP violation, no script error
# and no token in any URL the browser visited. Screenshots go to $PP_ARTIFACTS (default
# build/artifacts/console/).
# Skipped (77) without chromium, chromedriver or python3-selenium, unless CI is set:
# there their absence is a failure (scripts/deps.sh installs them).
. "$(dirname "$0")/lib/common.sh"
set -e

CHROMEDRIVER=${CHROMEDRIVER:-/usr/bin/chromedriver}
# Debian's python3, where python3-selenium is installed (a python3 earlier in PATH, from
# pyenv or a venv, does not see it).
PY=/usr/bin/python3
[ -x "$PY" ] || PY=python3
missing=""
command -v chromium >/dev/null 2>&1 || missing="$missing chromium"
[ -x "$CHROMEDRIVER" ] || missing="$missing chromium-driver"
"$PY" -c 'import selenium' 2>/dev/null || missing="$missing python3-selenium"
for tool in curl jq timeout; do
	command -v $tool >/dev/null || missing="$missing $tool"
done
if [ -n "$missing" ]; then
	[ -n "${CI:-}" ] && fail "missing:$missing (scripts/deps.sh installs them)"
	skip "missing:$missing (scripts/deps.sh installs them)"
fi

PB=$(port_base)
HELLO_PORT=$((PB + 1)) API_PORT=$((PB + 4)) HTTP_PORT=$((PB + 2)) TLS_PORT=$((PB + 3))
NET=127.0.$((140 + RANDOM % 40))
N1=12  # the first fleet: a wrong key (row 12) and a dropped connection (row 11)
N2=40  # the second fleet, watched live: rows 13..52
ART=${PP_ARTIFACTS:-${PP_SOURCE_DIR:-$(pwd)}/build/artifacts/console}
mkdir -p "$ART"

. "$(dirname "$0")/lib/proc.sh"

CSV="$T/keys.csv"
init_keys $((N1 + N2)) lab
# One attempt a job: the device that drops its connection fails instead of retrying.
test_server_conf "$TLS_PORT" "$HTTP_PORT"
printf 'max_attempts = 1\n' >>"$PSKPROV_DIR/pskprov.conf"
SLOG="$T/server.log"
start_server "$SLOG" "127.0.0.1:$HELLO_PORT" "127.0.0.1:$API_PORT" --log-level info

# Tokens into 0600 files: console.py reads them there (never argv, never a log).
umask 077
run timeout 30 "$P" token create --role read --name console-read --out "$T/read.tok"
expect_rc 0 "read token"
run timeout 30 "$P" token create --role admin --name console-admin --out "$T/admin.tok"
expect_rc 0 "admin token"

# ---- the first fleet: two faulty devices of twelve ----
# The dropping device's next hello would come a minute later (time scale 1), after the
# fleet has ended at its timeout, so its failed job stays its last.
set +e
timeout 60 "$P" fleet --count $N1 --csv "$CSV" --server "127.0.0.1:$HELLO_PORT" \
	--base "$NET.1" --port "$TLS_PORT" --http-port "$HTTP_PORT" --time-scale 1 \
	--faults wrong-key=1,disconnect=1 --timeout 5 --json >"$T/fleet1.json" 2>"$T/fleet1.log"
set -e
[ "$(jq .provisioned "$T/fleet1.json")" -eq $((N1 - 2)) ] || fail "fleet 1: $(cat "$T/fleet1.json")"
ok
run "$P" devices list --json
expect_rc 0 "devices list"
FAILED=$(printf '%s' "$OUT" | jq -c '[.[] | select(.state == "failed")][0]')
[ "$FAILED" != null ] || fail "no failed device after fleet 1: $OUT"
ok

# ---- a clone: the factory key of row 1 (provisioned) loaded into a second device ----
CLONE_PID=$(field 1 1)
run "$P" device factory-load --state-dir "$T/clone" --csv "$CSV" --pid "$CLONE_PID"
expect_rc 0 "factory-load the clone"
"$P" device run --state-dir "$T/clone" --address "$NET.250" --server "127.0.0.1:$HELLO_PORT" \
	--port "$TLS_PORT" --http-port "$HTTP_PORT" --time-scale 0.01 >"$T/clone.log" 2>&1 &
BGPIDS="$BGPIDS $!"
for _ in $(seq 150); do
	run "$P" status --json
	[ "$(printf '%s' "$OUT" | jq .devices.quarantined)" -ge 1 ] && break
	sleep 0.2
done
[ "$(printf '%s' "$OUT" | jq .devices.quarantined)" -eq 1 ] || fail "the clone was not quarantined: $OUT"
ok
run "$P" devices list --json
CLONE=$(printf '%s' "$OUT" | jq -c '[.[] | select(.state == "quarantined")][0]')
PROVISIONED=$(printf '%s' "$OUT" | jq -c '[.[] | select(.state == "provisioned")][0]')

# ---- the second fleet's keys: rows N1+1.. of the CSV, in two halves run one after the
# other (console.py watches the page between them) ----
H2=$((N2 / 2))
{
	head -1 "$CSV"
	tail -n +$((N1 + 2)) "$CSV" | head -$H2
} >"$T/keys2a.csv"
{
	head -1 "$CSV"
	tail -n +$((N1 + 2 + H2)) "$CSV"
} >"$T/keys2b.csv"

# ---- the browser ----
export PP_URL="http://127.0.0.1:$API_PORT" PP_ARTIFACTS="$ART" CHROMEDRIVER
export PP_READ_TOKEN_FILE="$T/read.tok" PP_ADMIN_TOKEN_FILE="$T/admin.tok"
export PP_FAILED="$FAILED" PP_CLONE="$CLONE" PP_PROVISIONED="$PROVISIONED"
FLEET2="$P fleet --count $H2 --server 127.0.0.1:$HELLO_PORT --port $TLS_PORT --http-port $HTTP_PORT --time-scale 0.01 --latency 50 --timeout 60 --json"
export PP_FLEET2A="$FLEET2 --csv $T/keys2a.csv --base $NET.20"
export PP_FLEET2B="$FLEET2 --csv $T/keys2b.csv --base $NET.80"
export PP_FLEET2_OUT="$T/fleet2.json"
set +e
timeout 300 "$PY" "$(dirname "$0")/console.py" 2>&1 | tee "$T/console.out"
PRC=${PIPESTATUS[0]}
set -e
[ "$PRC" -eq 0 ] || fail "console.py: exit $PRC"
PASSES=$((PASSES + $(grep -c '^ok ' "$T/console.out" || true)))

# No token or secret in the server's log or what the test printed.
{
	cat "$T/read.tok"
	echo
	cat "$T/admin.tok"
	echo
} | grep . >"$T/secrets"
csv_secrets $((N1 + N2)) >>"$T/secrets"
scan_for_secrets "$T/secrets" "$SLOG" "$T/console.out" "$LOG"
finish
