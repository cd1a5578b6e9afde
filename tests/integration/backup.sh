#!/usr/bin/env bash
# pskprov backup while the server runs and keys are being written, and pskprov restore
# of the file into a new data directory: the copy is 0600, never written over a file,
# holds no master key and no plaintext secret; the restored directory works with the
# same secrets; a wrong key, a non-empty directory and a newer schema are refused
# before anything is written, and an older schema is upgraded. A data directory whose
# database is newer than the program is refused by name.
. "$(dirname "$0")/lib/common.sh"
. "$(dirname "$0")/lib/proc.sh"
set -e
N=2000
HP=$(port_base)
AP=$((HP + 5))
command -v sqlite3 >/dev/null || skip "no sqlite3 command to edit the test's copies"

init_keys $N b1
start_server "$T/server.log" 127.0.0.1:$HP 127.0.0.1:$AP
# Writers at work during the copy: a key batch at a time.
(for i in 1 2 3 4 5; do "$P" keys generate --count 500 --batch "w$i" >/dev/null; done) &
WPID=$!
BGPIDS="$BGPIDS $WPID"
t0=$(date +%s%N)
run "$P" backup --out "$T/b.db"
expect_rc 0 "backup while the server runs"
echo "backup of $(stat -c %s "$T/b.db") bytes while the server runs: $((($(date +%s%N) - t0) / 1000000)) ms"
expect_out "backup written to $T/b.db (schema "
wait $WPID
expect_mode "$T/b.db" 600
[ "$(sqlite3 "$T/b.db" 'PRAGMA integrity_check')" = ok ] || fail "the backup is damaged"
ok
[ "$(sqlite3 "$T/b.db" 'PRAGMA journal_mode')" = delete ] || fail "the backup needs a -wal"
ok
# Never over a file, which stays as it was.
sum=$(sha256sum <"$T/b.db")
run "$P" backup --out "$T/b.db"
expect_rc 1 "backup over an existing file"
expect_err "already exists; not overwriting"
expect_one_line_err
[ "$(sha256sum <"$T/b.db")" = "$sum" ] || fail "the existing backup was changed"
ok
run "$P" backup
expect_rc 2 "backup without --out"
expect_err "--out FILE is required"
run "$P" backup --json --out "$T/b2.db"
expect_rc 0 "backup --json"
[ "$(printf '%s' "$OUT" | jq -r .file)" = "$T/b2.db" ] || fail "backup --json: $OUT"
ok
kill $SPID
wait $SPID 2>/dev/null || true
run "$P" audit list --json
[ "$(printf '%s' "$OUT" | jq '[.[] | select(.action == "backup")] | length')" -eq 2 ] ||
	fail "two backups, not two audit entries"
ok
# Sealed secrets only: no PPS, no MEBx password, no master key (hex or raw).
csv_secrets 300 >"$T/secrets"
{ head -c 64 "$PSKPROV_DIR/master.key"; echo; } >>"$T/secrets"
scan_for_secrets "$T/secrets" "$T/b.db" "$LOG"
# The key's 32 raw bytes: its hex in the hex of the file.
od -An -tx1 -v "$T/b.db" | tr -d ' \n' | grep -qF "$(head -c 64 "$PSKPROV_DIR/master.key")" &&
	fail "the raw master key is in the backup"
ok

# Restore: a working data directory with the same secrets.
R=$T/restored
run "$P" -d "$R" restore "$T/b.db" --master-key "$PSKPROV_DIR/master.key"
expect_rc 0 restore
expect_out "restored $R"
expect_mode "$R" 700
expect_mode "$R/master.key" 600
expect_mode "$R/pskprov.conf" 600
expect_mode "$R/pskprov.db" 600
cmp -s "$R/master.key" "$PSKPROV_DIR/master.key" || fail "the restored key differs"
ok
for i in 1 $((N / 2)) $N; do
	run_secret "$P" -d "$R" keys show "$(field "$i" 1)" --reveal --json
	expect_rc 0 "restored key $i"
	[ "$(printf '%s' "$OUT" | jq -r .pps)" = "$(field "$i" 2)" ] || fail "restored PPS $i differs"
	ok
done
run "$P" -d "$R" audit verify
expect_rc 0 "restored audit chain"
run "$P" -d "$R" master-key verify --json
expect_rc 0 "restored master-key verify"
[ "$(printf '%s' "$OUT" | jq .sealed_secrets)" -ge $((2 * N)) ] || fail "verify: $OUT"
ok
run "$P" -d "$R" audit list --json
[ "$(printf '%s' "$OUT" | jq '[.[] | select(.action == "restore")] | length')" -eq 1 ] ||
	fail "no restore audit entry"
ok
# A server runs on it.
start_server "$T/server2.log" 127.0.0.1:$((HP + 1)) 127.0.0.1:$((AP + 1)) -d "$R"
kill $SPID
wait $SPID 2>/dev/null || true
ok

# Refusals, each before anything is written.
run "$P" -d "$R" restore "$T/b.db" --master-key "$PSKPROV_DIR/master.key"
expect_rc 1 "restore into a non-empty directory"
expect_err "is not empty"
expect_one_line_err
"$P" -d "$T/other" init >/dev/null
run "$P" -d "$T/r2" restore "$T/b.db" --master-key "$T/other/master.key"
expect_rc 1 "restore with the wrong key"
expect_err "is not the master key"
expect_one_line_err
[ ! -e "$T/r2" ] || fail "a failed restore left $T/r2"
ok
run "$P" -d "$T/r2" restore "$T/b.db"
expect_rc 2 "restore without --master-key"
run "$P" -d "$T/r2" restore --master-key "$PSKPROV_DIR/master.key"
expect_rc 2 "restore without a file"
expect_err "which backup FILE?"
run "$P" -d "$T/r2" restore "$T/nope.db" --master-key "$PSKPROV_DIR/master.key"
expect_rc 1 "restore of a missing file"
expect_one_line_err
run "$P" -d "$T/r2" restore "$T" --master-key "$PSKPROV_DIR/master.key"
expect_rc 1 "restore of a directory"
expect_err "is not a regular file"
run "$P" -d "$T/r2" restore "$PSKPROV_DIR/master.key" --master-key "$PSKPROV_DIR/master.key"
expect_rc 1 "restore of a file that is not a database"
expect_err "damaged or not a database"
expect_one_line_err
cp "$T/b.db" "$T/newer.db"
sqlite3 "$T/newer.db" "UPDATE meta SET value = 99 WHERE name = 'schema_version'"
run "$P" -d "$T/r2" restore "$T/newer.db" --master-key "$PSKPROV_DIR/master.key"
expect_rc 1 "restore of a newer schema"
expect_err "schema version 99; this pskprov knows up to"
expect_one_line_err
[ ! -e "$T/r2" ] || fail "a refused restore left $T/r2"
ok
# The previous release's schema (4, before API tokens): restored and upgraded.
cp "$T/b.db" "$T/older.db"
sqlite3 "$T/older.db" "DROP TABLE api_tokens; UPDATE meta SET value = 4 WHERE name = 'schema_version'"
run "$P" -d "$T/r3" restore "$T/older.db" --master-key "$PSKPROV_DIR/master.key"
expect_rc 0 "restore of schema 4"
expect_out "schema 4"
run "$P" -d "$T/r3" token create --name t1 --role read
expect_rc 0 "a token in the upgraded store"
[ "$(sqlite3 "$T/r3/pskprov.db" "SELECT value FROM meta WHERE name = 'schema_version'")" -ge 5 ] ||
	fail "not upgraded"
ok

# A data directory whose database is newer than this program: refused by name.
sqlite3 "$R/pskprov.db" "UPDATE meta SET value = 99 WHERE name = 'schema_version'"
run "$P" -d "$R" status
expect_rc 1 "status on a newer schema"
expect_err "has schema version 99; this pskprov knows up to"
expect_err "(upgrade pskprov)"
expect_one_line_err

# PostgreSQL (with a server: scripts/pg-test.sh): backup refuses and names pg_dump; the
# documented pg_dump / pg_restore path brings the store back after it is dropped, and
# a data directory made by hand with the old key opens it.
if [ -n "${PSKPROV_TEST_PG:-}" ] && command -v pg_dump >/dev/null; then
	pg_schema bk
	export PSKPROV_DIR="$T/pg"
	CSV=$T/pg.csv
	run "$P" init --postgres "$CONN"
	expect_rc 0 "init --postgres"
	run "$P" keys generate --count 20 --batch p1
	expect_rc 0 "pg generate"
	run "$P" keys export --batch p1 --format csv --out "$CSV"
	expect_rc 0 "pg export"
	run "$P" backup --out "$T/pg.db"
	expect_rc 1 "backup of a PostgreSQL store"
	expect_err "pg_dump --format=custom --file=$T/pg.db"
	expect_one_line_err
	[ ! -e "$T/pg.db" ] || fail "a file from a refused backup"
	ok
	pg_dump --format=custom --schema="$SCHEMA" --file="$T/pg.dump" "$CONN" ||
		fail "pg_dump"
	pg_restore --list "$T/pg.dump" | grep -q "TABLE $SCHEMA keys " || fail "pg_restore --list"
	ok
	psql "$PSKPROV_TEST_PG" -qc "DROP SCHEMA $SCHEMA CASCADE" >/dev/null
	pg_restore --no-owner --dbname="$PSKPROV_TEST_PG" "$T/pg.dump" || fail "pg_restore"
	ok
	mkdir -m 700 "$T/pg2"
	cp "$PSKPROV_DIR/master.key" "$T/pg2/master.key"
	printf '[store]\nbackend = postgres\npostgres_url = %s\n' "$CONN" >"$T/pg2/pskprov.conf"
	chmod 600 "$T/pg2/master.key" "$T/pg2/pskprov.conf"
	run "$P" -d "$T/pg2" master-key verify
	expect_rc 0 "verify the restored PostgreSQL store"
	expect_out "every sealed secret opens under the master key: 40"
	run_secret "$P" -d "$T/pg2" keys show "$(field 7 1)" --reveal --json
	expect_rc 0 "pg restored key"
	[ "$(printf '%s' "$OUT" | jq -r .pps)" = "$(field 7 2)" ] || fail "pg restored PPS differs"
	ok
	"$P" -d "$T/pg3" init >/dev/null
	cp "$T/pg2/pskprov.conf" "$T/pg3/pskprov.conf"
	run "$P" -d "$T/pg3" status
	expect_rc 1 "the restored PostgreSQL store with another key"
	expect_err "master key does not match this database"
	pg_drop_schema
fi
finish
