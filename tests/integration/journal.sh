#!/usr/bin/env bash
# journal: the server's native journal entries, read where journald would read them. In
# a mount namespace of its own (root: unshare -m; else skipped, 77) a tmpfs on /run holds
# /run/systemd/journal/socket, bound by a stand-in for journald that keeps every entry
# (sd_journal_sendv's datagrams, journal-native protocol) as a JSON object a line. The
# server is started as systemd starts it: stderr the journal stream ($JOURNAL_STREAM
# names it), no --log-format. A fleet is provisioned; the entries must carry PRIORITY=,
# SYSLOG_IDENTIFIER=, SUBSYSTEM= and, for each device provisioned, DEVICE_UUID=,
# PSKPROV_PID=, JOB= and STEP=; nothing goes to stderr as text; no PPS or MEBx password
# appears anywhere.
. "$(dirname "$0")/lib/common.sh"
. "$(dirname "$0")/lib/proc.sh"
set -e
[ "$(id -u)" -eq 0 ] || skip "needs root for a mount namespace (unshare -m)"
unshare -m true 2>/dev/null || skip "unshare -m is not allowed here"
command -v python3 >/dev/null || skip "python3 is missing"
N=4
PB=$(port_base)
HP=$PB AP=$((PB + 1))
BASE=127.215.$((RANDOM % 200)).1

init_keys $N j
csv_secrets $N >"$T/secrets"
printf '[server]\nlease_seconds = 5\n' >>"$PSKPROV_DIR/pskprov.conf"

cat >"$T/journald.py" <<'EOF'
# A stand-in for journald: journal-native datagrams (KEY=value lines, or KEY, a newline,
# a 64-bit little-endian length and the value for values with newlines) to JSON lines.
import json, os, socket, struct, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
s.settimeout(120)
with open(sys.argv[2], "a", buffering=1) as out:
    try:
        while True:
            d, e = s.recv(65536), {}
            while d:
                nl = d.index(b"\n")
                line, d = d[:nl], d[nl + 1:]
                if b"=" in line:
                    k, v = line.split(b"=", 1)
                else:
                    (n,) = struct.unpack("<Q", d[:8])
                    k, v, d = line, d[8:8 + n], d[8 + n + 1:]
                e[k.decode()] = v.decode("utf-8", "replace")
            out.write(json.dumps(e) + "\n")
    except socket.timeout:
        pass
EOF
SLOG=$T/server.log
JOUT=$T/journal.jsonl
: >"$SLOG"
: >"$JOUT"
# Within the namespace: the tmpfs, journald's stand-in, then the server (exec: SPID is
# the server's pid). JOURNAL_STREAM names the file stderr goes to, as systemd would.
JS=$(stat -c '%d:%i' "$SLOG")
unshare -m bash -c '
	mount -t tmpfs -o mode=0755 tmpfs /run && mkdir -p /run/systemd/journal || exit 1
	python3 "$1" /run/systemd/journal/socket "$2" & echo $! >"$3"
	for _ in $(seq 50); do [ -S /run/systemd/journal/socket ] && break; sleep 0.1; done
	shift 3
	exec "$@"' bash "$T/journald.py" "$JOUT" "$T/journald.pid" \
	env JOURNAL_STREAM="$JS" "$P" server --hello 127.0.0.1:$HP --api 127.0.0.1:$AP \
	>>"$SLOG" 2>&1 &
SPID=$!
BGPIDS="$BGPIDS $SPID"
wait_healthz "http://127.0.0.1:$AP" "$SPID" "$SLOG"
BGPIDS="$BGPIDS $(cat "$T/journald.pid")"
run_fleet 120 --count $N --csv "$T/k.csv" --server 127.0.0.1:$HP --base "$BASE" \
	--time-scale 0.01 --timeout 100
ok
wait_for "$JOUT" "provisioned as" 10
for _ in $(seq 50); do
	[ "$(grep -c 'provisioned as' "$JOUT")" -ge $N ] && break
	sleep 0.1
done
kill -TERM "$SPID"
wait_exit "$SPID" 15
[ "$WRC" -eq 0 ] || fail "exit $WRC"
ok
wait_for "$JOUT" '"MESSAGE": "stopped:' 5

# Everything went to the journal, nothing to the stream.
[ ! -s "$SLOG" ] || fail "text on stderr under the journal: $(head -3 "$SLOG")"
ok
jq -e -s 'length >= 5 and all(.[]; .SYSLOG_IDENTIFIER == "pskprov" and
	(.PRIORITY | test("^[3467]$")) and (.SUBSYSTEM | length > 0) and (.MESSAGE | length > 0))' \
	"$JOUT" >/dev/null || fail "entries without their fields: $(head -3 "$JOUT")"
ok
# One entry per device provisioned, with its fields, the same as the message says.
n=$(jq -c 'select(.MESSAGE | test("provisioned as")) | . as $e |
	select($e.PRIORITY == "6" and $e.SUBSYSTEM == "jobs" and $e.STEP == "done" and
	       ($e.JOB | test("^[0-9]+$")) and ($e.DEVICE_UUID | test("^[0-9a-f-]{36}$")) and
	       ($e.MESSAGE | startswith("job \($e.JOB) uuid=\($e.DEVICE_UUID) pid=\($e.PSKPROV_PID) ")))' \
	"$JOUT" | wc -l)
[ "$n" -eq $N ] || fail "$n of $N provisioned entries with DEVICE_UUID, PSKPROV_PID, JOB, STEP"
ok
for i in $(seq $N); do
	grep -qF "\"PSKPROV_PID\": \"$(pid_of "$i")\"" "$JOUT" || fail "no entry for PID $(pid_of "$i")"
done
ok
# The location is the caller's business, not log.c's: none is sent.
! grep -qF '"CODE_FILE"' "$JOUT" || fail "entries name log.c as their source"
ok
scan_for_secrets "$T/secrets" "$JOUT" "$SLOG" "$FLOG" "$T/fleet.json" "$LOG"
finish
