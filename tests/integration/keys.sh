#!/usr/bin/env bash
# keys: init, generate, list, show, check, export, import, revoke, audit; bad input
# changes nothing; no plaintext secret in the database or the logs.
. "$(dirname "$0")/lib/common.sh"
set -e

# --- init ---
run "$P" init
expect_rc 0 "init"
expect_mode "$PSKPROV_DIR" 700
expect_mode "$PSKPROV_DIR/master.key" 600
expect_mode "$PSKPROV_DIR/pskprov.conf" 600
expect_mode "$PSKPROV_DIR/pskprov.db" 600
run "$P" init
expect_rc 1 "second init"
expect_err "already holds a pskprov data set"
run "$P" keys list
expect_rc 0 "list on an empty store"

# --- generate ---
run "$P" keys generate --count 50 --batch b1
expect_rc 0 "generate"
expect_out "batch b1: 50 unique keys"
run "$P" keys list --batch b1 --json
expect_rc 0 "list --json"
[ "$(printf '%s' "$OUT" | jq length)" -eq 50 ] || fail "50 keys expected"
[ "$(printf '%s' "$OUT" | jq '[.[] | select(.state == "available")] | length')" -eq 50 ] ||
	fail "all keys available"
printf '%s' "$OUT" | jq -r '.[].pid' >"$T/pids"
[ "$(sort -u "$T/pids" | wc -l)" -eq 50 ] || fail "PIDs are not unique"
while read -r pid; do
	run "$P" keys check "$pid"
	[ "$RC" -eq 0 ] || fail "generated PID $pid does not check"
done <"$T/pids"
ok
PID1=$(head -1 "$T/pids")

# bad arguments: usage errors (exit 2), one line, nothing changes
for args in "--count 0" "--count abc" "--count 10000001" "--count 5 --shared 1" \
	"--count 5 --batch bad/name" "--count 5 --mebx-password maybe" "--batch x"; do
	# shellcheck disable=SC2086
	run "$P" keys generate $args
	expect_rc 2 "generate $args"
	expect_one_line_err
done
run "$P" keys generate --count 5 --batch b1
expect_rc 1 "duplicate batch"
expect_one_line_err
run "$P" keys list --json
[ "$(printf '%s' "$OUT" | jq length)" -eq 50 ] || fail "a failed generate changed the store"
ok

# --- check ---
run "$P" keys check 0000-037M
expect_rc 0 "Intel PID"
expect_out "valid PID"
run "$P" keys check nkld-g5dc-rrnq-e9yz-zijl-7lfl-vjed-69xj
expect_rc 0 "Intel PPS, lower case"
expect_out "valid PPS"
run "$P" keys check NKLD-G5DC-RRNQ-E9YZ-ZIJL-7LFL-VJED-69XK
expect_rc 1 "corrupted PPS"
expect_err "PPS group 8: checksum is 'K', expected 'J'"
run sh -c "echo 0000-037N | '$P' keys check -"
expect_rc 1 "PID from stdin"
expect_err "checksum"
run "$P" keys check hello
expect_rc 1 "not a key"

# --- show / reveal ---
run "$P" keys show "$PID1"
expect_rc 0 "show"
expect_out "pps            (hidden)"
expect_out "mebx password  (hidden)"
run_secret "$P" keys show "$PID1" --reveal --json
expect_rc 0 "show --reveal"
PPS1=$(printf '%s' "$OUT" | jq -r .pps)
MEBX1=$(printf '%s' "$OUT" | jq -r .mebx_password)
echo "$PPS1" | "$P" keys check - >/dev/null || fail "revealed PPS does not check"
[ ${#MEBX1} -ge 8 ] || fail "MEBx password too short"
run "$P" audit list --json
printf '%s' "$OUT" | jq -e '[.[] | select(.action == "keys.reveal")] | length == 1' >/dev/null ||
	fail "reveal not audited"
ok
run "$P" keys show 0000-037M
expect_rc 1 "show unknown PID"
expect_one_line_err
run "$P" keys show 0000-037N
expect_rc 2 "show malformed PID"

# --- shared and derived ---
run "$P" keys generate --count 2 --batch kiosk --shared 5
expect_rc 0 "generate shared"
expect_out "SHARED"
expect_out "warning: shared keys"
run "$P" keys list --batch kiosk
expect_out "SHARED 0/5"
run "$P" keys generate --count 3 --batch d1 --derived
expect_rc 0 "generate derived"
run "$P" keys list --batch d1 --json
DPID=$(printf '%s' "$OUT" | jq -r '.[0].pid')
printf '%s' "$OUT" | jq -e 'all(.derived)' >/dev/null || fail "derived flag"
run_secret "$P" keys show "$DPID" --reveal --json
DPPS=$(printf '%s' "$OUT" | jq -r .pps)
echo "$DPPS" | "$P" keys check - >/dev/null || fail "derived PPS does not check"
ok

# --- export ---
run "$P" keys export --batch b1 --format csv --out "$T/b1.csv"
expect_rc 0 "export"
expect_mode "$T/b1.csv" 600
[ "$(head -1 "$T/b1.csv")" = "pid,pps,mebx_password,batch" ] || fail "CSV header"
[ "$(tail -n +2 "$T/b1.csv" | wc -l)" -eq 50 ] || fail "50 rows expected"
grep -q "^$PID1,$PPS1," "$T/b1.csv" || fail "exported row for $PID1 does not hold its PPS"
ok
cp "$T/b1.csv" "$T/b1.copy"
run "$P" keys export --batch b1 --format csv --out "$T/b1.csv"
expect_rc 1 "export over an existing file"
expect_err "already exists"
cmp -s "$T/b1.csv" "$T/b1.copy" || fail "export overwrote a file"
ok
run "$P" keys list --batch b1 --state exported --json
[ "$(printf '%s' "$OUT" | jq length)" -eq 50 ] || fail "exported keys not marked"
ok
run "$P" keys export --batch nosuch --format csv --out "$T/x.csv"
expect_rc 1 "export unknown batch"
[ ! -e "$T/x.csv" ] || fail "file left behind"
run "$P" keys export --batch b1 --format xml --out "$T/x.csv"
expect_rc 2 "export unknown format"

# --- import into a second data directory ---
D2="$T/data2"
run "$P" -d "$D2" init
expect_rc 0 "init 2"
# a corrupted row 4 (a PPS checksum): nothing is imported
awk -F, 'NR==4 { $2 = substr($2, 1, length($2)-1) (substr($2, length($2)) == "A" ? "B" : "A") } { print }' OFS=, "$T/b1.csv" >"$T/bad.csv"
chmod 600 "$T/bad.csv"
run "$P" -d "$D2" keys import "$T/bad.csv"
expect_rc 1 "import corrupted"
expect_err "line 4: PPS group 8: checksum"
expect_one_line_err
run "$P" -d "$D2" keys list --json
[ "$(printf '%s' "$OUT" | jq length)" -eq 0 ] || fail "a failed import changed the store"
ok
printf 'pid,pps,mebx\n' >"$T/hdr.csv"
run "$P" -d "$D2" keys import "$T/hdr.csv"
expect_rc 1 "import bad header"
expect_err "header"
run "$P" -d "$D2" keys import "$T/nonexistent.csv"
expect_rc 1 "import missing file"
run "$P" -d "$D2" keys import "$T/b1.csv"
expect_rc 0 "import"
expect_out "imported 50 keys"
run_secret "$P" -d "$D2" keys show "$PID1" --reveal --json
[ "$(printf '%s' "$OUT" | jq -r .pps)" = "$PPS1" ] || fail "imported PPS differs"
[ "$(printf '%s' "$OUT" | jq -r .state)" = "exported" ] || fail "imported state"
ok
run "$P" -d "$D2" keys import "$T/b1.csv"
expect_rc 1 "import twice"
expect_err "is already in the store"
run "$P" -d "$D2" keys list --json
[ "$(printf '%s' "$OUT" | jq length)" -eq 50 ] || fail "a failed import changed the store"
ok

# a PID repeated inside one file is named as such, with both lines (issue 9)
D3="$T/data3"
run "$P" -d "$D3" init
expect_rc 0 "init 3"
{ cat "$T/b1.csv"; sed -n 3p "$T/b1.csv"; } >"$T/dup.csv"
chmod 600 "$T/dup.csv"
DUPPID=$(sed -n 3p "$T/b1.csv" | cut -d, -f1)
run "$P" -d "$D3" keys import "$T/dup.csv"
expect_rc 1 "import a file with a PID twice"
expect_err "PID $DUPPID appears twice in the file (lines 3 and 52)"
expect_one_line_err
run "$P" -d "$D3" keys list --json
[ "$(printf '%s' "$OUT" | jq length)" -eq 0 ] || fail "a failed import changed the store"
ok
# CSV injection: a password starting with '=' (allowed by the firmware, never generated)
# leaves as a neutralised cell "'=..." and comes back unchanged from that file.
printf "pid,pps,mebx_password,batch\n%s,%s,'=Ab1!cmd|x,inj\n" "$PID1" "$PPS1" >"$T/inj.csv"
chmod 600 "$T/inj.csv"
run "$P" -d "$D3" keys import "$T/inj.csv"
expect_rc 0 "import a neutralised password"
run_secret "$P" -d "$D3" keys show "$PID1" --reveal --json
[ "$(printf '%s' "$OUT" | jq -r .mebx_password)" = "=Ab1!cmd|x" ] || fail "neutralised password not read back"
ok
run_secret "$P" -d "$D3" keys export --batch inj --format csv --out "$T/inj-out.csv"
expect_rc 0 "export a password starting with ="
grep -qF "\"'=Ab1!cmd|x\"" "$T/inj-out.csv" || fail "formula cell not neutralised on export"
ok
! cut -d, -f3 "$T/b1.csv" | grep -q '^[-=+@]' || fail "a generated password starts with a formula character"
ok

# --- revoke ---
run "$P" keys revoke "$PID1"
expect_rc 0 "revoke"
run "$P" keys revoke "$PID1"
expect_rc 0 "revoke twice"
expect_out "was already revoked"
run "$P" keys revoke "$PID1" --json
expect_rc 0 "revoke --json"
[ "$(printf '%s' "$OUT" | jq -r .already_revoked)" = "true" ] || fail "revoke --json"
run "$P" keys show "$PID1" --json
[ "$(printf '%s' "$OUT" | jq -r .state)" = "revoked" ] || fail "revoked state"
ok

# --- master key handling ---
run env PSKPROV_MASTER_KEY=0000000000000000000000000000000000000000000000000000000000000000 "$P" keys list
expect_rc 1 "wrong master key"
expect_err "master key"
chmod 644 "$PSKPROV_DIR/master.key"
run "$P" keys list
expect_rc 1 "world-readable master key"
expect_err "0600"
chmod 600 "$PSKPROV_DIR/master.key"

# --- audit ---
run "$P" audit verify
expect_rc 0 "audit verify"
expect_out "audit log intact"
# tamper with one entry behind the store's back
cp "$PSKPROV_DIR/pskprov.db" "$T/db.bak"
sqlite3 "$PSKPROV_DIR/pskprov.db" "PRAGMA wal_checkpoint; DROP TRIGGER IF EXISTS audit_no_update; DROP TRIGGER IF EXISTS audit_no_delete;" >/dev/null 2>&1 || true
for trg in $(sqlite3 "$PSKPROV_DIR/pskprov.db" "SELECT name FROM sqlite_master WHERE type='trigger'"); do
	sqlite3 "$PSKPROV_DIR/pskprov.db" "DROP TRIGGER $trg" >/dev/null
done
sqlite3 "$PSKPROV_DIR/pskprov.db" "UPDATE audit SET detail = 'count=9999' WHERE action = 'keys.generate'" ||
	fail "could not tamper"
run "$P" audit verify
expect_rc 1 "tampered audit"
expect_err "audit log is broken"

# --- no plaintext secret in the databases or the logs ---
tail -n +2 "$T/b1.csv" | cut -d, -f2 | tr -d - >"$T/secrets"
tail -n +2 "$T/b1.csv" | cut -d, -f2 >>"$T/secrets"
tail -n +2 "$T/b1.csv" | cut -d, -f3 | tr -d '"' | grep -v '^$' >>"$T/secrets"
echo "$DPPS" >>"$T/secrets"
echo "$DPPS" | tr -d - >>"$T/secrets"
echo "$MEBX1" >>"$T/secrets"
# Quoted MEBx fields split at their commas above: keep only pieces long enough that a
# chance match in a binary file is out of the question.
awk 'length >= 8' "$T/secrets" >"$T/secrets.long"
scan_for_secrets "$T/secrets.long" "$T/db.bak" "$PSKPROV_DIR"/pskprov.db* "$D2"/pskprov.db* "$LOG"
finish
