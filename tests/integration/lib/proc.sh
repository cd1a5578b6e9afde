# Background processes of a test: started with "cmd & BGPIDS="$BGPIDS $!"", all
# stopped on exit (TERM, then KILL after 5 s), the script's exit status kept; bounded
# waits for a line in a log and for a process to end. Sourced after common.sh.
BGPIDS=""
stop_bg() {
	for p in $BGPIDS; do
		kill "$p" 2>/dev/null || true
	done
	for p in $BGPIDS; do
		for _ in $(seq 50); do
			kill -0 "$p" 2>/dev/null || break
			sleep 0.1
		done
		kill -9 "$p" 2>/dev/null || true
	done
	BGPIDS=""
}
on_exit() {
	local status=$?
	stop_bg
	(exit "$status")
	cleanup
}
trap on_exit EXIT
wait_for() {
	for _ in $(seq $((${3:-10} * 10))); do
		grep -qF -- "$2" "$1" 2>/dev/null && return 0
		sleep 0.1
	done
	fail "timed out waiting for '$2' in $1: $(tail -5 "$1" 2>/dev/null)"
}
# wait_port ADDR PORT: waits up to 10 s for a listener on ADDR:PORT.
wait_port() {
	for _ in $(seq 100); do
		(exec 3<>"/dev/tcp/$1/$2") 2>/dev/null && return 0
		sleep 0.1
	done
	fail "nothing listens on $1:$2"
}
# wait_provisioned DIR SERVER_LOG: waits up to 30 s for the device of state directory
# DIR to be Post-Setup, then for the server's "provisioned as" line (the device commits
# before the server records it).
wait_provisioned() {
	local st=""
	for _ in $(seq 300); do
		st=$(timeout 10 "$P" device show --state "$1" --json | jq -r .state)
		[ "$st" = "Post-Setup" ] && break
		sleep 0.1
	done
	[ "$st" = "Post-Setup" ] || fail "not provisioned after the agent: $st ($(tail -3 "$2"))"
	ok
	wait_for "$2" "provisioned as" 30
}
wait_exit() {
	for _ in $(seq $(($2 * 10))); do
		kill -0 "$1" 2>/dev/null || break
		sleep 0.1
	done
	kill -0 "$1" 2>/dev/null && fail "process $1 still running after $2 s"
	set +e
	wait "$1"
	WRC=$?
	set -e
}

# start_server LOG HELLO_ADDR:PORT API_ADDR:PORT [ARGS...]: `pskprov server` in the
# background, output appended to LOG, its process in SPID (stopped on exit); returns
# once its /healthz answers.
start_server() {
	local log=$1 hello=$2 api=$3
	shift 3
	"$P" server --hello "$hello" --api "$api" "$@" >>"$log" 2>&1 &
	SPID=$!
	BGPIDS="$BGPIDS $SPID"
	wait_healthz "http://$api" "$SPID" "$log"
}

# run_fleet SECONDS ARGS...: `pskprov fleet ARGS... --json` within SECONDS, its summary in
# $T/fleet.json and its log in $FLOG ($T/fleet.log unless set); fails when the server
# started by start_server died meanwhile, or when the fleet did not exit 0.
run_fleet() {
	local secs=$1
	shift
	FLOG=${FLOG:-$T/fleet.log}
	set +e
	timeout "$secs" "$P" fleet "$@" --json >"$T/fleet.json" 2>"$FLOG"
	FRC=$?
	set -e
	if [ -n "${SPID:-}" ] && ! kill -0 "$SPID" 2>/dev/null; then
		fail "the server died during the fleet: $(tail -5 "${SLOG:-$T/server.log}")"
	fi
	[ "$FRC" -eq 0 ] || fail "fleet: exit $FRC: $(cat "$T/fleet.json"); $(tail -3 "$FLOG")"
}
