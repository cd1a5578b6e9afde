#!/usr/bin/env bash
# packaging_server: packaging/systemd/pskprov.service passes `systemd-analyze verify` (a
# copy whose ExecStart names the built binary) and `security --offline=true` with an
# exposure of 2.0 or less (printed); then the unit's ExecStart command line runs as
# systemd would run it: as an unprivileged user (nobody, when the test is root) on a
# 0700 state directory of its own, the master key only in a credentials directory
# ($CREDENTIALS_DIRECTORY/master-key), $NOTIFY_SOCKET a datagram socket this test reads
# and $WATCHDOG_USEC set. It must send READY=1 (after which /healthz and /readyz
# answer 200), WATCHDOG=1 and STATUS= lines, then STOPPING=1 on SIGTERM, and exit 0.
# Without systemd-analyze: skipped (77).
. "$(dirname "$0")/lib/common.sh"
. "$(dirname "$0")/lib/proc.sh"
set -e

UNIT=$PP_SOURCE_DIR/packaging/systemd/pskprov.service
[ -f "$UNIT" ] || fail "$UNIT is missing"
command -v systemd-analyze >/dev/null || skip "systemd-analyze is missing"
command -v python3 >/dev/null || skip "python3 is missing"

# What the unit promises, read from the file itself.
for line in "Type=notify" "User=pskprov" "StateDirectory=pskprov" "StateDirectoryMode=0700" \
	"ProtectSystem=strict" "PrivateTmp=yes" "NoNewPrivileges=yes" "CapabilityBoundingSet=" \
	"AmbientCapabilities=" "RestrictAddressFamilies=AF_INET AF_INET6 AF_UNIX" \
	"SystemCallFilter=@system-service" "LoadCredential=master-key:/etc/pskprov/master-key" \
	"ExecReload=/bin/kill -HUP \$MAINPID"; do
	grep -qxF -- "$line" "$UNIT" || fail "the unit lacks '$line'"
	ok
done
grep -qE '^WatchdogSec=[0-9]+' "$UNIT" || fail "the unit has no WatchdogSec="
ok
# The key never in the environment.
! grep -qE '^(Environment|EnvironmentFile)=.*MASTER_KEY' "$UNIT" || fail "a master key in the environment"
ok

mkdir -p "$T/units"
sed "s|^ExecStart=/usr/bin/pskprov |ExecStart=$P |" "$UNIT" >"$T/units/pskprov.service"
run timeout 60 systemd-analyze verify --man=no "$T/units/pskprov.service"
bad=$(printf '%s\n%s\n' "$OUT" "$ERR" | grep -F "pskprov.service" || true)
[ -z "$bad" ] || fail "systemd-analyze verify: $bad"
[ "$RC" -eq 0 ] || echo "note: verify exited $RC for reasons outside the unit: $ERR" >&2
ok
# A broken copy is caught (the check can fail).
sed 's/^Type=notify/Type=notifyy/' "$T/units/pskprov.service" >"$T/units/broken.service"
run timeout 60 systemd-analyze verify --man=no "$T/units/broken.service"
printf '%s\n' "$ERR" | grep -qF "broken.service" || fail "verify did not see a bad Type= ($ERR)"
ok

run timeout 60 systemd-analyze security --offline=true "$T/units/pskprov.service"
score=$(printf '%s\n' "$OUT" | sed -n 's/.*Overall exposure level for [^:]*: \([0-9.]*\).*/\1/p')
[ -n "$score" ] || fail "no exposure score (exit $RC): $OUT $ERR"
echo "exposure score of pskprov.service: $score (0 best, 10 worst)"
awk -v s="$score" 'BEGIN { exit !(s <= 2.0) }' || fail "exposure $score is over 2.0: $OUT"
ok

# ---- The ExecStart command line, run as the service would be ---------------------
EXEC=$(sed -n 's/^ExecStart=//p' "$UNIT")
case "$EXEC" in
"/usr/bin/pskprov -d /var/lib/pskprov server") ;;
*) fail "ExecStart is not the server on the state directory: $EXEC" ;;
esac
ok
STATE=$T/state/pskprov
CREDS=$T/creds
# The credentials directory is made read-only below: writable again before the scratch
# directory goes, whatever the exit.
trap 'st=$?; chmod -R u+w "$CREDS" 2>/dev/null; (exit $st); on_exit' EXIT
chmod 0711 "$T"
mkdir -p "$T/state" "$CREDS"
mkdir -m 0700 "$STATE"
AS=()
if [ "$(id -u)" -eq 0 ]; then
	chown 65534:65534 "$STATE" "$CREDS"
	AS=(setpriv --reuid=65534 --regid=65534 --clear-groups --inh-caps=-all)
	chmod 0711 "$T/state"
	[ -x "$P" ] && setpriv --reuid=65534 --regid=65534 --clear-groups test -x "$P" ||
		skip "nobody cannot run $P (a build directory others cannot enter)"
fi
# The data directory as `pskprov init` makes it, as the service's user; the key then
# moves to the credentials directory (what LoadCredential= gives the service).
"${AS[@]}" "$P" -d "$STATE" init >"$T/init.log" 2>&1 || fail "init: $(cat "$T/init.log")"
mv "$STATE/master.key" "$CREDS/master-key"
chmod 0400 "$CREDS/master-key"
chmod 0500 "$CREDS"
HP=$(port_base)
AP=$((HP + 1))
printf '[server]\nhello = 127.0.0.1:%s\napi = 127.0.0.1:%s\n' "$HP" "$AP" >"$STATE/pskprov.conf"
[ "$(id -u)" -ne 0 ] || chown 65534:65534 "$STATE/pskprov.conf"

# The notification socket: every datagram, one a line, in notify.out.
NSOCK=$T/notify.sock
python3 - "$NSOCK" "$T/notify.out" <<'EOF' &
import os, socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
os.chmod(sys.argv[1], 0o666)
s.settimeout(60)
with open(sys.argv[2], "a", buffering=1) as out:
    try:
        while True:
            out.write(s.recv(4096).decode().replace("\n", " | ") + "\n")
    except socket.timeout:
        pass
EOF
BGPIDS="$BGPIDS $!"
for _ in $(seq 50); do [ -S "$NSOCK" ] && break; sleep 0.1; done
[ -S "$NSOCK" ] || fail "the notification socket was not made"

# ExecStart with the paths of this test; systemd's environment for the service.
read -r -a ARGV <<<"$EXEC"
ARGV[0]=$P
ARGV[2]=$STATE
env -i PATH=/usr/bin:/bin NOTIFY_SOCKET="$NSOCK" CREDENTIALS_DIRECTORY="$CREDS" \
	WATCHDOG_USEC=1000000 "${AS[@]}" "${ARGV[@]}" >"$T/server.log" 2>&1 &
SPID=$!
BGPIDS="$BGPIDS $SPID"
wait_for "$T/notify.out" "READY=1" 10
ok
curl -sf -m 5 -o /dev/null "http://127.0.0.1:$AP/healthz" || fail "/healthz after READY=1"
ok
curl -sf -m 5 -o /dev/null "http://127.0.0.1:$AP/readyz" || fail "/readyz after READY=1: $(tail -3 "$T/server.log")"
ok
if [ "$(id -u)" -eq 0 ]; then
	uid=$(ps -o uid= -p "$SPID" | tr -d ' ')
	[ "$uid" = 65534 ] || fail "the server runs as uid $uid, not nobody"
	ok
fi
grep -qF "STATUS=0 sessions, 0 provisioned, 0 failed, 0 hellos; ready" "$T/notify.out" ||
	fail "no STATUS= with the counts: $(cat "$T/notify.out")"
ok
wait_for "$T/notify.out" "WATCHDOG=1" 5
ok
# A second server on the same data directory is refused, naming the first.
run env -i PATH=/usr/bin:/bin CREDENTIALS_DIRECTORY="$CREDS" "${AS[@]}" "${ARGV[@]}"
expect_rc 1 "a second server"
expect_err "another pskprov server (pid $SPID) runs on the data directory"
expect_one_line_err

kill -TERM "$SPID"
wait_exit "$SPID" 15
[ "$WRC" -eq 0 ] || fail "exit $WRC after SIGTERM: $(tail -3 "$T/server.log")"
ok
grep -qF "STOPPING=1" "$T/notify.out" || fail "no STOPPING=1: $(cat "$T/notify.out")"
ok

# Without the credential (and no key file) the server does not start: the key came from
# the credentials directory, nowhere else.
run env -i PATH=/usr/bin:/bin "${AS[@]}" "${ARGV[@]}"
expect_rc 1 "no credential"
expect_err "master.key"
cat "$CREDS/master-key" >"$T/secrets"
scan_for_secrets "$T/secrets" "$T/server.log" "$T/notify.out" "$LOG"
finish
