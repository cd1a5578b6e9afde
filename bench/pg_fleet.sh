#!/bin/sh
# PostgreSQL against SQLite, same machine, same run: a fleet of N devices (default
# 1,000; BENCH_PG_DEVICES) provisioned by one server on SQLite, then by one server on a
# throwaway PostgreSQL 15 cluster on loopback (scripts/pg-test.sh). Prints both rates
# (devices/s), the store's operations and commits, and the ratio PostgreSQL / SQLite;
# BENCH_PG_ROUNDS (default 1) runs the pair that many times (the machine's load moves
# the figures: take the median). BENCH_KEEP=1 keeps the scratch directory (logs).
# Figures only, never pass/fail. Skips with one line when the PostgreSQL 15 binaries
# are missing.
#
# Durability, alike on both: SQLite runs WAL with synchronous = NORMAL (a commit is
# written to the operating system, not flushed); the pg-test.sh cluster runs with
# fsync = off and the store's sessions here ask for synchronous_commit = on (a commit
# waits for its WAL to be written, not flushed).
set -eu
ulimit -n 8192 2>/dev/null || true
P=${PSKPROV:-build/pskprov}
N=${BENCH_PG_DEVICES:-1000}
ROUNDS=${BENCH_PG_ROUNDS:-1}
PROFILE=${BENCH_PROFILE:-tls12}
PGBIN=${PGBIN:-/usr/lib/postgresql/15/bin}
SRC=$(cd "$(dirname "$0")/.." && pwd)

if [ ! -x "$PGBIN/initdb" ] || [ ! -x "$PGBIN/pg_ctl" ] || ! command -v psql >/dev/null; then
	echo "SKIP: pg_fleet: no PostgreSQL 15 binaries in $PGBIN (install postgresql-15)"
	exit 0
fi

D=$(mktemp -d /tmp/pskprov-bench-pg.XXXXXX)
SPID=
PSKPROV_PG_DIR=
stop_all() {
	[ -z "$SPID" ] || kill "$SPID" 2>/dev/null || true
	[ -z "$PSKPROV_PG_DIR" ] || sh "$SRC/scripts/pg-test.sh" stop "$PSKPROV_PG_DIR" 2>/dev/null || true
	[ -n "${BENCH_KEEP:-}" ] || rm -rf "$D"
}
trap stop_all EXIT
trap 'exit 130' INT TERM

. "$(dirname "$0")/lib.sh"

eval "$(sh "$SRC/scripts/pg-test.sh" start 2>"$D/pg-test.log")" || {
	echo "SKIP: pg_fleet: the PostgreSQL cluster did not start: $(tail -1 "$D/pg-test.log")"
	exit 0
}

# Each run has addresses of its own (127.R.0.1 and up): the last run's sockets may
# still hold theirs in TIME_WAIT.
RUN=200
# run_store TAG [CONNINFO]: init (SQLite, or PostgreSQL at CONNINFO), a key batch of N,
# one server, one fleet; prints a line and sets RATE (empty when the fleet gave no
# summary).
run_store() {
	RUN=$((RUN + 1))
	export PSKPROV_DIR="$D/data-$1"
	rm -rf "$PSKPROV_DIR"
	if [ $# -ge 2 ]; then
		"$P" init --postgres "$2" >/dev/null
	else
		"$P" init >/dev/null
	fi
	bench_keys "$N" bench "$D/k.csv"
	bench_server "$PROFILE" || return 1
	"$P" fleet --count "$N" --csv "$D/k.csv" --server 127.0.0.1:$HP --base "127.$RUN.0.1" \
		--profile "$PROFILE" --time-scale 0.05 --timeout 600 --json \
		>"$D/fleet.json" 2>"$D/fleet.log" || echo "(the fleet exited $?)"
	metrics=$(curl -sf "http://127.0.0.1:$AP/metrics" || true)
	kill -INT $SPID
	wait $SPID 2>/dev/null || true
	SPID=
	prov=$(jq -r '.provisioned // empty' "$D/fleet.json" 2>/dev/null || true)
	el=$(jq -r '.elapsed_s // empty' "$D/fleet.json" 2>/dev/null || true)
	RATE=
	if [ -z "$prov" ] || [ -z "$el" ]; then
		echo "$1: the fleet gave no summary: $(tail -n 1 "$D/fleet.log")"
		return 0
	fi
	ops=$(printf '%s\n' "$metrics" | awk '/^pskprov_store_ops_total/ {print $2}')
	commits=$(printf '%s\n' "$metrics" | awk '/^pskprov_store_commits_total/ {print $2}')
	RATE=$(echo "scale=1; $prov / $el" | bc)
	echo "$1: $prov of $N provisioned in $el s = $RATE devices/s;" \
		"store $ops ops in $commits commits;" \
		"median $(jq '.first_hello_to_provisioned_ms.median' "$D/fleet.json") ms" \
		"p99 $(jq '.first_hello_to_provisioned_ms.p99' "$D/fleet.json") ms first hello to Provisioned"
}

echo "machine: $(uname -srm), $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(nproc) CPUs, load average $(cut -d' ' -f1-3 /proc/loadavg)"
echo "profile $PROFILE; $N devices; one server, one fleet and PostgreSQL on the same machine"
PGOPT="-csynchronous_commit=on"
echo "PostgreSQL $("$PGBIN/postgres" --version | awk '{print $3}') on a Unix socket:" \
	"fsync $(psql "$PSKPROV_TEST_PG" -Atc 'SHOW fsync')," \
	"synchronous_commit $(psql "$PSKPROV_TEST_PG options=$PGOPT" -Atc 'SHOW synchronous_commit');" \
	"SQLite WAL, synchronous NORMAL"
r=1
while [ $r -le "$ROUNDS" ]; do
	run_store sqlite
	SQ=$RATE
	psql "$PSKPROV_TEST_PG" -qc "CREATE SCHEMA bench_$r" >/dev/null
	run_store postgres \
		"$PSKPROV_TEST_PG options='$PGOPT -csearch_path=bench_$r'"
	PGR=$RATE
	[ -n "$SQ" ] && [ -n "$PGR" ] && echo "ratio (round $r): PostgreSQL $PGR / SQLite $SQ devices/s = $(echo "scale=2; $PGR / $SQ" | bc)" \
		"(load average now $(cut -d' ' -f1 /proc/loadavg))"
	r=$((r + 1))
done
