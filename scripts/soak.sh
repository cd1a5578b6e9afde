#!/usr/bin/env bash
# make soak: the attacks of docs/threat-model.md together, against one server and a
# fleet of emulated devices, for a few minutes (SOAK_SECS, default 180), on loopback
# only. It prints what held, as figures; it is not part of `make check`.
#
# At once, while the fleet provisions:
#   - slowloris on the hello port (connections dripping a byte every 2 s, reconnecting),
#   - idle connections to the API,
#   - forged hellos: the fleet's PIDs with random UUIDs from other addresses,
#   - a flood of hellos with PIDs the store never had,
#   - devices that hold a key and then misbehave (a 4 GB answer, a drip, endless
#     headers: `openssl s_server` playing the device),
#   - a replay of fleet PIDs from an address whose TLS listener has the wrong key.
# Held means: every fleet device provisioned once, none quarantined or locked out, the
# server's memory and descriptors bounded, /healthz and /readyz answering throughout.
set -u
P=${1:?usage: soak.sh PSKPROV_BINARY}
SECS=${SOAK_SECS:-180}
N=${SOAK_DEVICES:-300}
HERE=$(cd "$(dirname "$0")/.." && pwd)
SL="$HERE/tests/integration/lib/slowloris.py"
T=$(mktemp -d "${TMPDIR:-/tmp}/pp-soak.XXXXXX")
export PSKPROV_DIR="$T/data"
unset PSKPROV_MASTER_KEY
PB=$((41000 + (RANDOM % 1000) * 4))
HP=$PB AP=$((PB + 1)) DP=$((PB + 2)) WP=$((PB + 3))
BG=""
cleanup() {
	# shellcheck disable=SC2086
	kill $BG 2>/dev/null
	wait 2>/dev/null
	[ -n "${KEEP:-}" ] || rm -rf "$T"
}
trap cleanup EXIT
say() { printf '%s\n' "$*"; }
die() {
	say "soak: $*" >&2
	exit 1
}

"$P" init >/dev/null || die "init failed"
printf '[server]\nmax_attempts = 5\nhello_rate_per_min = 100000\nexchange_timeout_ms = 5000\n' \
	>>"$PSKPROV_DIR/pskprov.conf"
# A fresh fleet of N devices per round, rounds until the time is up.
ROUNDS=${SOAK_ROUNDS:-20}
for r in $(seq 1 "$ROUNDS"); do
	"$P" keys generate --count "$N" --batch "fleet$r" >/dev/null || die "keys"
	"$P" keys export --batch "fleet$r" --format csv --out "$T/fleet$r.csv" >/dev/null || die "export"
	tail -n +2 "$T/fleet$r.csv" | cut -d, -f1 | tr -d - >>"$T/fleet.pids"
done
"$P" keys generate --count 4 --batch hostile >/dev/null || die "keys"
"$P" keys export --batch hostile --format csv --out "$T/hostile.csv" >/dev/null || die "export"
hrow() { sed -n "$(($1 + 1))p" "$T/hostile.csv"; }
hpid() { hrow "$1" | cut -d, -f1 | tr -d -; }
hhex() { hrow "$1" | cut -d, -f2 | tr -d - | tr -d '\n' | od -An -tx1 | tr -d ' \n'; }

"$P" server --hello 127.0.0.1:$HP --api 127.0.0.1:$AP --device-port $DP \
	>"$T/server.log" 2>&1 &
SPID=$!
BG="$BG $SPID"
for _ in $(seq 1 100); do curl -sf "http://127.0.0.1:$AP/healthz" >/dev/null && break; sleep 0.1; done
TOKEN=$(cat "$PSKPROV_DIR/api.token")
metric() { curl -sf -m 5 "http://127.0.0.1:$AP/metrics" | awk -v m="$1" '$1 == m {print $2}'; }
say "soak: $N devices, ${SECS} s, on $(uname -sr), $(nproc) CPUs; server pid $SPID"

# ---- the attackers ----
timeout $((SECS + 30)) python3 "$SL" hello 127.0.0.1 $HP --sources 127.201.0.1 --nsrc 40 \
	--per-source 8 --interval 2 --duration "$SECS" --reconnect >"$T/slowloris.json" 2>&1 &
BG="$BG $!"
timeout $((SECS + 30)) python3 "$SL" idle 127.0.0.1 $AP --count 300 --duration "$SECS" \
	>"$T/idle.json" 2>&1 &
BG="$BG $!"
cat >"$T/hello.py" <<'EOF'
import random, socket, sys, time, uuid
port, mode, pidfile, net, secs = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4], float(sys.argv[5])
pids = open(pidfile).read().split()
def junk_pid():  # a well-formed PID the store never had (checksum: sum of ASCII mod 36)
    body = "".join(random.choice("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ") for _ in range(7))
    c = sum(map(ord, body)) % 36
    return body + (chr(48 + c) if c < 10 else chr(55 + c))
end, sent, i = time.time() + secs, 0, 0
while time.time() < end and sent < 200000:
    pid = random.choice(pids) if mode == "forged" else junk_pid()
    src = "%s.%d.%d" % (net, 1 + (i // 250) % 200, i % 250 + 1)
    i += 1
    s = socket.socket()
    s.settimeout(2)
    try:
        s.bind((src, 0))
        s.connect(("127.0.0.1", port))
        s.sendall(b"\x00\x00\x02\x00\x00\x00\x00\x00" + uuid.uuid4().bytes_le + pid.encode())
        sent += 1
    except OSError:
        pass
    finally:
        s.close()
    if mode == "forged":
        time.sleep(0.02)
print(sent)
EOF
timeout $((SECS + 30)) python3 "$T/hello.py" $HP forged "$T/fleet.pids" 127.202 "$SECS" \
	>"$T/forged.out" 2>&1 &
BG="$BG $!"
timeout $((SECS + 30)) python3 "$T/hello.py" $HP junk "$T/fleet.pids" 127.203 "$SECS" \
	>"$T/junk.out" 2>&1 &
BG="$BG $!"
# Misbehaving devices with valid keys, told to the server through the agent API.
hostile() { # N PAYLOAD
	(sleep 1; timeout "$SECS" bash -c "$2") | timeout "$SECS" openssl s_server -quiet \
		-accept "127.204.0.$1:$DP" -nocert -psk "$(hhex "$1")" -psk_hint "$(hpid "$1")" \
		-tls1_2 >/dev/null 2>&1 &
	BG="$BG $!"
	sleep 0.3
	curl -s -o /dev/null -X POST -H 'Content-Type: application/json' \
		-H "Authorization: Bearer $TOKEN" \
		--data "{\"uuid\":\"$(python3 -c 'import uuid; print(uuid.uuid4())')\",\"pid\":\"$(hpid "$1")\",\"address\":\"127.204.0.$1\"}" \
		"http://127.0.0.1:$AP/api/v1/hello"
}
hostile 1 "printf 'HTTP/1.1 200 OK\r\nContent-Length: 4000000000\r\n\r\n'; head -c 300000000 /dev/zero"
hostile 2 "printf 'HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n'; while :; do printf '<'; sleep 1; done"
hostile 3 "printf 'HTTP/1.1 200 OK\r\n'; while :; do printf 'X-Filler: %01000d\r\n' 0; done"
# A wrong-key listener where fleet PIDs are replayed: its failures must lock nothing
# for the genuine devices.
timeout "$SECS" openssl s_server -quiet -accept "127.205.0.1:$DP" -nocert \
	-psk "$(hhex 4)" -psk_hint "$(head -1 "$T/fleet.pids")" -tls1_2 -www \
	</dev/null >/dev/null 2>&1 &
BG="$BG $!"

# ---- the watcher: memory, descriptors, liveness, readiness, once a second ----
(
	while kill -0 $SPID 2>/dev/null; do
		rss=$(awk '/^VmRSS/ {print $2}' /proc/$SPID/status 2>/dev/null)
		fds=$(ls /proc/$SPID/fd 2>/dev/null | wc -l)
		h=$(curl -s -m 2 -o /dev/null -w '%{http_code}' "http://127.0.0.1:$AP/healthz")
		r=$(curl -s -m 2 -o /dev/null -w '%{http_code}' "http://127.0.0.1:$AP/readyz")
		echo "$rss $fds $h $r"
		sleep 1
	done
) >"$T/watch.log" &
BG="$BG $!"

# ---- the fleets: one after another while the attacks go on ----
sleep 2
T0=$(date +%s)
FRC=0 PROV=0 DONE_ROUNDS=0 FT=0
for r in $(seq 1 "$ROUNDS"); do
	[ $(($(date +%s) - T0)) -lt "$SECS" ] || break
	f0=$(date +%s)
	timeout $((SECS + 60)) "$P" fleet --count "$N" --csv "$T/fleet$r.csv" \
		--server "127.0.0.1:$HP" --base "127.$((206 + r / 200)).$((r % 200)).1" --port $DP \
		--http-port $WP --time-scale 0.01 --timeout "$SECS" --state-dir "$T/states$r" \
		--json >"$T/fleet$r.json" 2>"$T/fleet$r.log" || FRC=$?
	FT=$((FT + $(date +%s) - f0))
	PROV=$((PROV + $(jq -r '.provisioned // 0' "$T/fleet$r.json" 2>/dev/null || echo 0)))
	DONE_ROUNDS=$r
done
# The attacks run their full time.
while [ $(($(date +%s) - T0)) -lt "$SECS" ]; do sleep 1; done
T1=$(date +%s)
sleep 5

# ---- what held ----
prov=$PROV
quar=$("$P" devices list --json 2>/dev/null | jq '[.[] | select(.state == "quarantined")] | length')
rows=$("$P" devices list --json 2>/dev/null | jq 'length')
locked=$("$P" keys report --json 2>/dev/null | jq '.locked_out | length')
read -r rss_max fds_max <<<"$(awk '{if ($1 > r) r = $1; if ($2 > f) f = $2} END {print r + 0, f + 0}' "$T/watch.log")"
h_bad=$(awk '$3 != 200' "$T/watch.log" | wc -l)
r_bad=$(awk '$4 != 200' "$T/watch.log" | wc -l)
samples=$(wc -l <"$T/watch.log")
cpu=$(awk '{print ($14 + $15) / 100}' /proc/$SPID/stat 2>/dev/null)
say "fleets: $prov of $((N * DONE_ROUNDS)) provisioned in $DONE_ROUNDS rounds of $N ($FT s of fleet time in a $((T1 - T0)) s run; worst fleet exit $FRC)"
say "fleet devices quarantined: $quar; keys locked out: $locked; device rows in the store: $rows"
say "server: peak RSS ${rss_max} kB, peak descriptors $fds_max, CPU ${cpu} s"
say "/healthz not 200 in $h_bad of $samples samples; /readyz not 200 in $r_bad"
say "forged hellos sent: $(cat "$T/forged.out"); unknown-PID hellos sent: $(cat "$T/junk.out")"
say "slowloris: $(tail -1 "$T/slowloris.json")"
say "idle API clients: $(tail -1 "$T/idle.json")"
for m in pskprov_hello_connections_shed_total pskprov_deadlines_missed_total \
	pskprov_api_connections_shed_total pskprov_accept_pauses_total pskprov_provisioned_total \
	pskprov_jobs_failed_total 'pskprov_hello_outcomes_total{outcome="unknown_pid"}' \
	'pskprov_hello_outcomes_total{outcome="suspect_clone"}'; do
	say "  $m $(metric "$m")"
done
held=1
[ "$prov" = $((N * DONE_ROUNDS)) ] && [ "$DONE_ROUNDS" -ge 1 ] || held=0
[ "$quar" = 0 ] && [ "$locked" = 0 ] && [ "$h_bad" = 0 ] || held=0
kill -0 $SPID 2>/dev/null || held=0
if [ $held = 1 ]; then say "soak: held"; else say "soak: NOT HELD (log: KEEP=1 to keep $T)"; exit 1; fi
