#!/bin/sh
# The operator's console finds any device fast: 100,000 devices (BENCH_DEVICES) written
# straight into a fresh data directory's SQLite store (the schema `pskprov init` made),
# a server on it, then curl times GET /api/v1/devices: the first page, a page deep by
# cursor (BENCH_DEEP pages of 500 in), and searches (q=) by PID, by address, by a UUID
# fragment and by host name, each the median of BENCH_RUNS (default 5). Prints
# milliseconds and the machine; never pass/fail (docs/api.md: "find any device in under
# a second").
set -eu
P=${PSKPROV:-build/pskprov}
N=${BENCH_DEVICES:-100000}
DEEP=${BENCH_DEEP:-100}
R=${BENCH_RUNS:-5}
D=$(mktemp -d /tmp/pskprov-bench.XXXXXX)
SPID=""
trap '[ -z "$SPID" ] || kill "$SPID" 2>/dev/null; rm -rf "$D"' EXIT
export PSKPROV_DIR="$D/data"
. "$(dirname "$0")/lib.sh"

echo "machine: $(uname -srm); $(grep -m1 'model name' /proc/cpuinfo | sed 's/.*: //'); nproc $(nproc); load $(cut -d' ' -f1-3 /proc/loadavg)"
"$P" init >/dev/null 2>&1
TOKEN=$("$P" token create --role read --name bench 2>/dev/null)
t0=$(date +%s.%N)
python3 - "$PSKPROV_DIR/pskprov.db" "$N" <<'PY'
import random, sqlite3, sys, uuid
db, n = sys.argv[1], int(sys.argv[2])
rnd = random.Random(7)
alpha = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"
states = ["provisioned"] * 90 + ["failed"] * 5 + ["configuring"] * 3 + ["seen", "quarantined"]
c = sqlite3.connect(db)
c.execute("PRAGMA journal_mode=WAL")
rows = []
for i in range(n):
    pid = "".join(rnd.choice(alpha) for _ in range(8))
    a = (10 << 24) | (i + 1)
    addr = "%d.%d.%d.%d" % (a >> 24, (a >> 16) & 255, (a >> 8) & 255, a & 255)
    st = rnd.choice(states)
    t = 1764633600 + i
    rows.append((str(uuid.UUID(int=rnd.getrandbits(128), version=4)), pid, addr, a, st,
                 1 if st == "quarantined" else 0, "amt-" + pid.lower(), "example.test",
                 "" if st != "failed" else "TLS-PSK handshake: wrong key", t, t + 60, t))
c.executemany("INSERT INTO devices (uuid, pid, address, address_num, state, quarantined, "
              "host_name, domain, last_error, first_seen, last_seen, updated) "
              "VALUES (?,?,?,?,?,?,?,?,?,?,?,?)", rows)
c.commit()
c.execute("ANALYZE")
c.close()
PY
t1=$(date +%s.%N)
echo "devices: $N written in $(echo "$t1 - $t0" | bc) s"
bench_server compat || exit 1
A="http://127.0.0.1:$AP/api/v1/devices"
get_ms() { # URL: the answer's time in ms (a 200, else the script stops)
	curl -s -o "$D/r.json" -w '%{http_code} %{time_total}\n' -H "Authorization: Bearer $TOKEN" "$1" >"$D/w"
	[ "$(cut -d' ' -f1 "$D/w")" = 200 ] || { echo "GET $1: $(cat "$D/w") $(head -c 200 "$D/r.json")"; exit 1; }
	awk '{printf "%.1f\n", $2 * 1000}' "$D/w"
}
median_ms() { # URL: the median of R answers
	i=0
	: >"$D/times"
	while [ "$i" -lt "$R" ]; do get_ms "$1" >>"$D/times"; i=$((i + 1)); done
	sort -n "$D/times" | awk '{v[NR] = $1} END {print v[int((NR + 1) / 2)]}'
}
line() { printf '%-34s %8s ms  (%s)\n' "$1" "$2" "$3"; }
line "first page (50)" "$(median_ms "$A")" "total $(jq .total "$D/r.json")"
line "first page (500, sort host_name)" "$(median_ms "$A?limit=500&sort=host_name")" "$(jq '.devices | length' "$D/r.json") rows"
cur=$(jq -r .next_cursor "$D/r.json")
i=1
while [ "$i" -lt "$DEEP" ] && [ "$cur" != null ]; do
	get_ms "$A?limit=500&sort=host_name&cursor=$cur" >/dev/null
	cur=$(jq -r .next_cursor "$D/r.json")
	i=$((i + 1))
done
line "page $((DEEP + 1)) of 500 by cursor" "$(median_ms "$A?limit=500&sort=host_name&cursor=$cur")" "$(jq '.devices | length' "$D/r.json") rows, $((DEEP * 500)) in"
# A device in the middle of the store to look for.
python3 - "$PSKPROV_DIR/pskprov.db" "$N" >"$D/target" <<'PY'
import sqlite3, sys
c = sqlite3.connect(sys.argv[1])
print(*c.execute("SELECT pid, address, uuid, host_name FROM devices WHERE id = ?", (int(sys.argv[2]) // 2,)).fetchone())
PY
read -r pid addr uuid host <"$D/target"
line "search by PID" "$(median_ms "$A?q=$pid")" "q=$pid, $(jq .total "$D/r.json") found"
line "search by address" "$(median_ms "$A?q=$addr")" "q=$addr, $(jq .total "$D/r.json") found"
frag=$(printf '%s' "$uuid" | cut -c1-8)
line "search by UUID fragment" "$(median_ms "$A?q=$frag")" "q=$frag, $(jq .total "$D/r.json") found"
line "search by host name" "$(median_ms "$A?q=$host")" "q=$host, $(jq .total "$D/r.json") found"
line "filter state=failed, sort last_seen" "$(median_ms "$A?state=failed&sort=last_seen&order=desc")" "total $(jq .total "$D/r.json")"
