#!/usr/bin/env bash
# signals: the server as a service. SIGTERM drains (no new claim or hello, the sessions
# in flight finish, exit 0), within drain_seconds (the bound exits with the jobs left to
# their leases, which a later server takes over), and a second SIGTERM exits at once;
# SIGHUP reloads the configuration file (live keys applied, the others logged as
# needing a restart, a broken file refused with the running one kept); a second server
# on the same data directory is refused; the JSON log is one valid object a line, with
# the job fields, and holds no PPS or MEBx password.
. "$(dirname "$0")/lib/common.sh"
. "$(dirname "$0")/lib/proc.sh"
set -e
N=12
PB=$(port_base)
HP=$PB AP=$((PB + 1)) HP2=$((PB + 2))
BASE=127.214.$((RANDOM % 200)).1

init_keys $N g
csv_secrets $N >"$T/secrets"
conf() { # DRAIN_SECONDS [MORE]
	printf '[server]\nlease_seconds = 2\nmax_sessions = 4\ndrain_seconds = %s\n%s' "$1" "${2:-}" \
		>"$PSKPROV_DIR/pskprov.conf"
}
SLOG=$T/server.log
server() { start_server "$SLOG" 127.0.0.1:$HP 127.0.0.1:$AP --log-format json "$@"; }
# The fleet in the background: slow devices (every WS-Management answer after LATENCY
# ms), so that sessions are in flight when the signal comes.
fleet() { # LATENCY
	timeout 120 "$P" fleet --count $N --csv "$T/k.csv" --server 127.0.0.1:$HP --base "$BASE" \
		--time-scale 0.01 --latency "$1" --timeout 110 --json >"$T/fleet.json" 2>>"$T/fleet.log" &
	FPID=$!
	BGPIDS="$BGPIDS $FPID"
}
wait_sessions() { # at least one session in flight, within 20 s
	for _ in $(seq 200); do
		[ "$(metric pskprov_sessions_active)" -ge 1 ] 2>/dev/null && return 0
		sleep 0.1
	done
	fail "no session started: $(tail -3 "$SLOG")"
}
jlines() { grep -c "$1" "$SLOG" || true; }

# ---- a second server on the same data directory ----
conf 30
server
run "$P" server --hello 127.0.0.1:$HP2 --api 127.0.0.1:$((PB + 3))
expect_rc 1 "a second server on the data directory"
expect_err "another pskprov server (pid $SPID) runs on the data directory '$PSKPROV_DIR'"
expect_one_line_err

# ---- SIGHUP ----
conf 30 "io_timeout_ms = 4000
log_level = debug
hello = 127.0.0.1:$HP2
"
kill -HUP "$SPID"
wait_for "$SLOG" '"message":"reloaded '"$PSKPROV_DIR"'/pskprov.conf: 2 settings changed (log level debug)"'
ok
wait_for "$SLOG" 'pskprov.conf: hello changed: needs a restart (the running values are kept)'
ok
# The listener stayed where it was.
curl -sf -m 2 -o /dev/null "http://127.0.0.1:$AP/healthz" || fail "the API is gone after SIGHUP"
(exec 3<>"/dev/tcp/127.0.0.1/$HP") 2>/dev/null || fail "the hello listener moved"
ok
printf '[server]\nio_timeout_ms = fast\n' >"$PSKPROV_DIR/pskprov.conf"
kill -HUP "$SPID"
wait_for "$SLOG" 'io_timeout_ms' 5
grep -F '"level":"error"' "$SLOG" | grep -qF 'the running configuration is kept' ||
	fail "a broken file on SIGHUP: $(tail -2 "$SLOG")"
ok
curl -sf -m 2 -o /dev/null "http://127.0.0.1:$AP/healthz" || fail "a broken file stopped the server"
ok

# ---- SIGTERM: the sessions in flight finish (at most 4 at once: max_sessions) ----
conf 30
kill -HUP "$SPID"
fleet 400
wait_sessions
kill -TERM "$SPID"
wait_for "$SLOG" '"message":"signal 15: draining'
ok
# During the drain: no new hello is taken (the listener stops accepting) while the
# API still answers.
drain_at=$(grep -n '"message":"signal 15: draining' "$SLOG" | cut -d: -f1)
wait_exit "$SPID" 40
[ "$WRC" -eq 0 ] || fail "exit $WRC after a drain"
ok
grep -qF '"message":"drained: no session in flight"' "$SLOG" || fail "no drain: $(tail -3 "$SLOG")"
ok
# The sessions in flight at the signal, and only they, ended provisioned after it:
# nothing was claimed during the drain.
inflight=$(sed -n "${drain_at}p" "$SLOG" | jq -r .message | sed -n 's/.*hello, \([0-9]*\) sessions in flight.*/\1/p')
after=$(tail -n +"$drain_at" "$SLOG" | grep -c 'provisioned as' || true)
echo "sessions in flight at SIGTERM: $inflight; provisioned during the drain: $after"
[ "${inflight:-0}" -ge 1 ] && [ "$after" -eq "$inflight" ] ||
	fail "drain: $inflight in flight, $after provisioned after the signal"
ok
[ "$("$P" status --json | jq '.devices.provisioned')" -lt $N ] ||
	fail "every device was done: the drain claimed new jobs"
ok

# ---- SIGTERM with the bound reached: the jobs are left to their leases ----
conf 1
server
wait_sessions
kill -TERM "$SPID"
wait_exit "$SPID" 10
[ "$WRC" -eq 0 ] || fail "exit $WRC at the drain bound"
ok
grep -qE '"message":"drain_seconds reached: [0-9]+ sessions left to their leases' "$SLOG" ||
	fail "the bound: $(tail -3 "$SLOG")"
ok

# ---- two SIGTERMs: the second exits at once ----
conf 60
server
wait_sessions
kill -TERM "$SPID"
wait_for "$SLOG" 'a second signal exits at once' 5
kill -TERM "$SPID"
wait_exit "$SPID" 5
[ "$WRC" -eq 0 ] || fail "exit $WRC after two signals"
ok
grep -qE '"message":"second signal: exiting now: [0-9]+ sessions left to their leases' "$SLOG" ||
	fail "the second signal: $(tail -3 "$SLOG")"
ok

# ---- a server again: the jobs left behind finish; the fleet ends ----
conf 30
server
set +e
wait "$FPID"
FRC=$?
set -e
[ "$FRC" -eq 0 ] || fail "the fleet: exit $FRC: $(cat "$T/fleet.json"); $(tail -3 "$T/fleet.log")"
ok
[ "$("$P" status --json | jq '.devices.provisioned')" -eq $N ] || fail "not every device provisioned"
ok

# ---- the JSON log ----
jq -e -c . "$SLOG" >/dev/null || fail "a line of the JSON log is not JSON"
while IFS= read -r line; do
	printf '%s' "$line" | jq -e 'type == "object" and has("time") and has("level") and
		has("subsystem") and has("message")' >/dev/null || fail "not a log object: $line"
done <"$SLOG"
ok
# Every provisioned line carries the job's fields, the same as its message says.
n=$(jq -c 'select(.message | test("provisioned as")) | . as $e |
	select(($e.job | type) == "number" and $e.step == "done" and
	       ($e.device_uuid | test("^[0-9a-f-]{36}$")) and
	       ($e.message | startswith("job \($e.job) uuid=\($e.device_uuid) pid=\($e.pid) ")))' \
	"$SLOG" | wc -l)
[ "$n" -eq "$(jlines 'provisioned as')" ] && [ "$n" -ge $N ] ||
	fail "$n provisioned lines with their fields, of $(jlines 'provisioned as')"
ok
scan_for_secrets "$T/secrets" "$SLOG" "$T/fleet.log" "$T/fleet.json" "$LOG"
finish
