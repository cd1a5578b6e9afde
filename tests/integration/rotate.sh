#!/usr/bin/env bash
# pskprov master-key rotate, killed with SIGKILL at random moments (a bounded loop):
# after every kill the data directory holds a key that opens every sealed secret (the
# old one before the commit, the new one after; the next command completes an
# interrupted rotation), the secrets are the ones exported before, and the audit chain
# holds one "master-key-rotate" per committed rotation. With a PostgreSQL server
# (scripts/pg-test.sh) the same rotation runs on a PostgreSQL store.
. "$(dirname "$0")/lib/common.sh"
set -e
N=20000
KILLS=10

init_keys $N b1
run "$P" keys generate --count 3 --batch d1 --derived
expect_rc 0 "derived batch"
KEY="$PSKPROV_DIR/master.key"

# pps_of PID: the PPS the store gives for a key now.
pps_of() {
	run_secret "$P" keys show "$1" --reveal --json
	expect_rc 0 "keys show $1"
	printf '%s' "$OUT" | jq -r .pps
}
check_secrets() {
	for i in 1 $((N / 2)) $N; do
		[ "$(pps_of "$(field "$i" 1)")" = "$(field "$i" 2)" ] ||
			fail "key $(field "$i" 1): the PPS changed ($1)"
		ok
	done
}
rotations() {
	"$P" audit list --json | jq '[.[] | select(.action == "master-key-rotate")] | length'
}

# A server running on the data directory would seal what it writes under the old key:
# rotation is refused while it holds the directory's lock, and works once it stopped.
PB=$(port_base)
"$P" server --hello "127.0.0.1:$PB" --api "127.0.0.1:$((PB + 1))" >"$T/server.log" 2>&1 &
SRV=$!
wait_healthz "http://127.0.0.1:$((PB + 1))" $SRV "$T/server.log"
run "$P" master-key rotate
expect_rc 1 "rotate while a server runs"
expect_err "pskprov server (pid $SRV) runs on the data directory"
expect_err "stop it before rotating the master key"
kill -TERM $SRV
wait $SRV || fail "the server did not stop cleanly"
ok

# A whole rotation first: its time bounds the moments of the kills.
cp "$KEY" "$T/k0"
start=$(date +%s%N)
run "$P" master-key rotate
expect_rc 0 rotate
expect_out "re-sealed $((2 * N + 3 + 1)) secrets"
ms=$((($(date +%s%N) - start) / 1000000))
echo "one rotation of $((2 * N + 4)) sealed secrets: ${ms} ms"
cmp -s "$KEY" "$T/k0" && fail "the key file did not change"
ok
expect_mode "$KEY" 600
[ ! -e "$KEY.new" ] || fail "master.key.new left after a rotation"
ok
check_secrets "after one rotation"

committed=1
completed=0
for i in $(seq $KILLS); do
	cp "$KEY" "$T/before"
	"$P" master-key rotate >"$T/rot.out" 2>"$T/rot.err" &
	pid=$!
	sleep "$(awk -v r=$RANDOM -v ms="$ms" 'BEGIN { printf "%.3f", r / 32768 * ms * 1.2 / 1000 }')"
	kill -9 $pid 2>/dev/null || true
	wait $pid 2>/dev/null || true
	run "$P" master-key verify
	expect_rc 0 "verify after kill $i"
	expect_out "every sealed secret opens under the master key: $((2 * N + 4))"
	if printf '%s' "$ERR" | grep -q "completed an interrupted master-key rotation"; then
		completed=$((completed + 1))
	fi
	[ ! -e "$KEY.new" ] || cmp -s "$KEY" "$T/before" ||
		fail "kill $i: both a new key file and a stale master.key.new"
	ok
	cmp -s "$KEY" "$T/before" || committed=$((committed + 1))
	expect_mode "$KEY" 600
done
echo "$KILLS kills: $committed rotations committed in all, $completed completed on the next open"
check_secrets "after the kills"
[ "$(rotations)" -eq "$committed" ] || fail "audit: $(rotations) rotations, $committed committed"
ok
run "$P" audit verify
expect_rc 0 "audit verify"
# A stale master.key.new (a rotation killed before its commit) goes with the next one.
printf '%064d\n' 0 >"$KEY.new"
chmod 600 "$KEY.new"
run "$P" master-key rotate
expect_rc 0 "rotate over a stale master.key.new"
expect_err "removed '$KEY.new'"
check_secrets "after the last rotation"
# The old key no longer opens the store (the key reaches the program through the
# environment, never argv or the log).
PSKPROV_MASTER_KEY="$(head -c 64 "$T/k0")" run "$P" status
expect_rc 1 "the first key after the rotations"
expect_err "master key does not match"
# A key from the environment is not rotated.
PSKPROV_MASTER_KEY="$(head -c 64 "$KEY")" run "$P" master-key rotate
expect_rc 1 "rotate with PSKPROV_MASTER_KEY"
expect_err "unset the variable"
expect_one_line_err
run "$P" master-key rotate --nope
expect_rc 2 "unknown option"
csv_secrets 20 >"$T/secrets"
{ head -c 64 "$KEY"; echo; head -c 64 "$T/k0"; echo; } >>"$T/secrets"
scan_for_secrets "$T/secrets" "$LOG" "$PSKPROV_DIR/pskprov.db"

if [ -n "${PSKPROV_TEST_PG:-}" ]; then
	pg_schema rot
	export PSKPROV_DIR="$T/pg"
	run "$P" init --postgres "$CONN"
	expect_rc 0 "init --postgres"
	CSV=$T/pg.csv
	run "$P" keys generate --count 50 --batch p1
	expect_rc 0 "pg generate"
	run "$P" keys export --batch p1 --format csv --out "$CSV"
	expect_rc 0 "pg export"
	cp "$PSKPROV_DIR/master.key" "$T/pg0"
	run "$P" master-key rotate
	expect_rc 0 "pg rotate"
	expect_out "re-sealed 100 secrets"
	cmp -s "$PSKPROV_DIR/master.key" "$T/pg0" && fail "pg: the key file did not change"
	N=50
	check_secrets "PostgreSQL"
	run "$P" backup --out "$T/pg.backup"
	expect_rc 1 "backup of a PostgreSQL store"
	expect_err "pg_dump"
	[ ! -e "$T/pg.backup" ] || fail "a backup file of a PostgreSQL store"
	ok
	pg_drop_schema
fi
finish
