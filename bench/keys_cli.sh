#!/bin/sh
# Keys generated and stored per second through the real command (one batch of
# 1,000,000 in one transaction) beside its yardstick, a bare SQLite insert of the same
# rows (build/bench_keys --bare-insert: same schema, PRAGMAs and blob sizes, one prepared
# statement, sorted by PID, no crypto), each into a fresh data directory, BENCH_RUNS
# times (default 3) with the median ratio; then the time to write a 100,000-record
# setup.bin. Prints figures; never pass/fail.
set -eu
P=${PSKPROV:-build/pskprov}
B=${BENCH_KEYS_BIN:-$(dirname "$P")/bench_keys}
N=${BENCH_KEYS:-1000000}
U=${BENCH_USB:-100000}
R=${BENCH_RUNS:-3}
D=$(mktemp -d /tmp/pskprov-bench.XXXXXX)
trap 'rm -rf "$D"' EXIT

# CPU: user + system seconds of the finished children of this shell, from the `times`
# builtin run in this shell (in a subshell it would count the subshell's).
children_cpu() {
	times >"$D/times"
	CPU=$(tail -n 1 "$D/times" | awk '{n = 0; for (i = 1; i <= 2; i++) {split($i, a, /[ms]/); n += a[1] * 60 + a[2]} print n}')
}

echo "machine: $(uname -srm); $(grep -m1 'model name' /proc/cpuinfo | sed 's/.*: //'); nproc $(nproc); load $(cut -d' ' -f1-3 /proc/loadavg)"
ratios=""
cratios=""
i=1
while [ "$i" -le "$R" ]; do
	rm -rf "$D/bare" "$D/real"
	PSKPROV_DIR="$D/bare" "$P" init >/dev/null
	bare=$("$B" --bare-insert "$N" "$D/bare/pskprov.db")
	tb=$(echo "$bare" | sed -n 's/.* in \([0-9.]*\) s = .*/\1/p')
	cb=$(echo "$bare" | sed -n 's/.*, CPU \([0-9.]*\) s .*/\1/p')
	PSKPROV_DIR="$D/real" "$P" init >/dev/null
	children_cpu
	c0=$CPU
	t0=$(date +%s.%N)
	PSKPROV_DIR="$D/real" "$P" keys generate --count "$N" --batch bench >/dev/null
	t1=$(date +%s.%N)
	children_cpu
	cpu=$(echo "$CPU - $c0" | bc)
	tr=$(echo "$t1 - $t0" | bc)
	ratio=$(echo "scale=2; $tr / $tb" | bc)
	ratios="$ratios $ratio"
	cratio=$(echo "scale=2; $cpu / $cb" | bc)
	cratios="$cratios $cratio"
	echo "run $i: $bare"
	echo "run $i: keys generate: $N keys in $tr s = $(echo "$N / $tr" | bc) keys/s, CPU $cpu s (the command: generated, sealed, one transaction, SQLite WAL); ratio to bare insert $ratio (CPU $cratio)"
	i=$((i + 1))
done
median() { echo "$1" | tr ' ' '\n' | sed '/^$/d' | sort -n | awk '{a[NR] = $1} END {print a[int((NR + 1) / 2)]}'; }
echo "keys generate / bare insert, median of $R: $(median "$ratios") wall, $(median "$cratios") CPU (on a busy machine the CPU ratio is the steadier)"
rm -rf "$D/bare"

export PSKPROV_DIR="$D/real"
"$P" keys generate --count "$U" --batch usb >/dev/null
t0=$(date +%s.%N)
"$P" usb create --batch usb --out "$D/setup.bin" --server 127.0.0.1:9971 --scramble >/dev/null
t1=$(date +%s.%N)
echo "usb create: $U records ($(stat -c %s "$D/setup.bin") bytes) in $(echo "$t1 - $t0" | bc) s (keys read and unsealed, file written 0600 and fsynced, keys marked exported)"
du -h "$PSKPROV_DIR/pskprov.db" | awk '{print "database size: " $1}'
