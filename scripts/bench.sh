#!/bin/sh
# Runs every benchmark and prints its figures (never pass/fail): the micro-benchmarks
# under build/, then the whole-program ones in bench/*.sh.
set -eu
BUILD=${1:-build}
echo "== machine"
uname -srm
grep -m1 'model name' /proc/cpuinfo || true
echo "cpus: $(nproc), memory: $(free -h | awk '/^Mem:/ {print $2}')"
for b in "$BUILD"/bench_*; do
	[ -x "$b" ] || continue
	echo "== $(basename "$b")"
	"$b" || echo "(exit $?)"
done
for s in bench/*.sh; do
	[ -f "$s" ] && [ "$s" != bench/lib.sh ] || continue
	echo "== $s"
	# Each script in the shell its first line names (bash or sh).
	shell=sh
	head -1 "$s" | grep -q bash && shell=bash
	PSKPROV="$BUILD/pskprov" $shell "$s" || echo "(exit $?)"
done
