#!/bin/sh
# Keys generated and stored per second through the real command (one batch of
# 1,000,000 in one transaction), and the time to write a 100,000-record setup.bin.
# Prints figures; never pass/fail.
set -eu
P=${PSKPROV:-build/pskprov}
N=${BENCH_KEYS:-1000000}
U=${BENCH_USB:-100000}
D=$(mktemp -d /tmp/pskprov-bench.XXXXXX)
trap 'rm -rf "$D"' EXIT
export PSKPROV_DIR="$D/data"
"$P" init >/dev/null
t0=$(date +%s.%N)
"$P" keys generate --count "$N" --batch bench >/dev/null
t1=$(date +%s.%N)
echo "keys generate: $N keys in $(echo "$t1 - $t0" | bc) s = $(echo "$N / ($t1 - $t0)" | bc) keys/s (one transaction, sealed, SQLite WAL)"
"$P" keys generate --count "$U" --batch usb >/dev/null
t0=$(date +%s.%N)
"$P" usb create --batch usb --out "$D/setup.bin" --server 127.0.0.1:9971 --scramble >/dev/null
t1=$(date +%s.%N)
echo "usb create: $U records ($(stat -c %s "$D/setup.bin") bytes) in $(echo "$t1 - $t0" | bc) s (keys read and unsealed, file written 0600 and fsynced, keys marked exported)"
du -h "$PSKPROV_DIR/pskprov.db" | awk '{print "database size: " $1}'
