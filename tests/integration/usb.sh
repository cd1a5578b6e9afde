#!/usr/bin/env bash
# usb: create every version, inspect ours and Intel's files, secrets hidden, keys marked
# exported, bad files rejected with one line, no overwrite.
. "$(dirname "$0")/lib/common.sh"
set -e

run "$P" init
expect_rc 0 init
run "$P" keys generate --count 20 --batch u1
expect_rc 0 generate

# --- create: v1 default, server address and port ---
run "$P" usb create --batch u1 --count 5 --out "$T/a.bin" --server 127.0.0.1:9971
expect_rc 0 "usb create"
expect_out "setup.bin v1, 5 records"
expect_mode "$T/a.bin" 600
[ "$(stat -c %s "$T/a.bin")" -eq $((512 * 6)) ] || fail "size of a 5-record file"
ok
run "$P" keys list --batch u1 --state exported --json
[ "$(printf '%s' "$OUT" | jq length)" -eq 5 ] || fail "5 keys marked exported"
printf '%s' "$OUT" | jq -r '.[].pid' | tr -d - | sort >"$T/exported"
ok
run "$P" usb inspect "$T/a.bin" --json
expect_rc 0 "inspect --json"
J="$OUT"
[ "$(printf '%s' "$J" | jq .header.version)" -eq 1 ] || fail "version 1"
[ "$(printf '%s' "$J" | jq .header.data_record_count)" -eq 5 ] || fail "record count"
[ "$(printf '%s' "$J" | jq '[.records[] | select(.state == "valid")] | length')" -eq 5 ] ||
	fail "5 valid records"
printf '%s' "$J" | jq -r '.records[].variables[] | select(.name == "PID") | .value' | sort >"$T/inrec"
cmp -s "$T/exported" "$T/inrec" || fail "records hold the exported PIDs"
printf '%s' "$J" | jq -e '[.records[0].variables[] | select(.module == 2 and .variable == 17)][0].value == "127.0.0.1"' >/dev/null || fail "server IPv4"
printf '%s' "$J" | jq -e '[.records[0].variables[] | select(.module == 2 and .variable == 18)][0].value == "9971"' >/dev/null || fail "server port"
printf '%s' "$J" | jq -e '[.records[].variables[] | select(.name == "PPS" or (.name | test("password"))) | .value] | all(. == null)' >/dev/null ||
	fail "secrets hidden (null)"
printf '%s' "$J" | jq -e '[.records[0].variables[] | select(.module == 1 and .variable == 1)][0].length == 5' >/dev/null || fail "current password admin (5 bytes)"
ok
# the PPS in a record is the key's PPS
PID=$(head -1 "$T/inrec")
run_secret "$P" usb inspect "$T/a.bin" --reveal --json
RPPS=$(printf '%s' "$OUT" | jq -r --arg p "$PID" '.records[] | select(any(.variables[]; .name == "PID" and .value == $p)) | .variables[] | select(.name == "PPS") | .value')
run_secret "$P" keys show "$PID" --reveal --json
[ "$(printf '%s' "$OUT" | jq -r .pps | tr -d -)" = "$RPPS" ] || fail "record PPS matches the key"
ok

# --- create --json; one record is "1 record" ---
run "$P" usb create --batch u1 --count 1 --out "$T/one.bin" --json
expect_rc 0 "usb create --json"
printf '%s' "$OUT" | jq -e '.records == 1 and .version == 1 and .bytes == 1024 and .mode == "0600" and .no_consume == false' >/dev/null ||
	fail "usb create --json: $OUT"
run "$P" usb create --batch u1 --count 1 --out "$T/one-text.bin"
expect_out "setup.bin v1, 1 record (1024 bytes"
ok

# --- every version, scrambled and not, no-consume, fqdn ---
for v in v1 v2 v3 v4; do
	run "$P" usb create --batch u1 --count 2 --out "$T/$v.bin" --format "$v" --scramble --no-consume --server-fqdn provisionserver.example.test
	expect_rc 0 "create $v"
	run "$P" usb inspect "$T/$v.bin" --json
	expect_rc 0 "inspect $v"
	[ "$(printf '%s' "$OUT" | jq .header.version)" -eq "${v#v}" ] || fail "version $v"
	printf '%s' "$OUT" | jq -e '.header.no_consume and all(.records[]; .scrambled)' >/dev/null || fail "flags $v"
	printf '%s' "$OUT" | jq -e '[.records[0].variables[] | select(.module == 2 and .variable == 4)][0].value == "provisionserver.example.test"' >/dev/null || fail "fqdn $v"
	ok
done

# --- refusals ---
cp "$T/a.bin" "$T/a.copy"
run "$P" usb create --batch u1 --count 1 --out "$T/a.bin"
expect_rc 1 "overwrite"
expect_err "already exists"
cmp -s "$T/a.bin" "$T/a.copy" || fail "file overwritten"
ok
run "$P" keys list --batch u1 --state available --json
AVAIL=$(printf '%s' "$OUT" | jq length)
run "$P" usb create --batch u1 --count 1000 --out "$T/toomany.bin"
expect_rc 1 "count over available"
expect_one_line_err
[ ! -e "$T/toomany.bin" ] || fail "file left behind"
run "$P" keys list --batch u1 --state available --json
[ "$(printf '%s' "$OUT" | jq length)" -eq "$AVAIL" ] || fail "a failed create changed the store"
ok
run "$P" usb create --batch nosuch --out "$T/x.bin"
expect_rc 1 "unknown batch"
for args in "--format v5" "--server 1.2.3" "--server 1.2.3.4:0" "--server-fqdn -bad-" "--count 0" \
	"--server 1.2.3.4 --server-fqdn a.example"; do
	# shellcheck disable=SC2086
	run "$P" usb create --batch u1 --out "$T/x.bin" $args
	expect_rc 2 "usb create $args"
	expect_one_line_err
done

# --- inspect Intel's own files, in place (skipped when they are absent) ---
if have_vectors intel-acu Setup.bin Setup-default.bin; then
	V="$PP_VECTORS_DIR/intel-acu"
	run "$P" usb inspect "$V/Setup.bin" --json
	expect_rc 0 "inspect Intel Setup.bin"
	printf '%s' "$OUT" | jq -e '.header.version == 4 and .header.data_record_count == 1 and .header.no_consume' >/dev/null || fail "Intel header"
	printf '%s' "$OUT" | jq -e '.records[0].state == "valid" and .records[0].scrambled' >/dev/null || fail "Intel record"
	printf '%s' "$OUT" | jq -e '[.records[0].variables[] | select(.module == 1 and .variable == 3)][0].value == "1"' >/dev/null || fail "manageability selection"
	ok
	run_secret "$P" usb inspect "$V/Setup-default.bin" --reveal --json
	expect_rc 0 "inspect Intel Setup-default.bin"
	printf '%s' "$OUT" | jq -e '[.records[0].variables[] | select(.module == 1 and .variable == 1)][0].value == "admin"' >/dev/null || fail "current password admin"
	printf '%s' "$OUT" | jq -e '[.records[0].variables[] | select(.module == 1 and .variable == 2)][0].value == "HeyH0Password!"' >/dev/null || fail "new password"
	ok
	run "$P" usb inspect "$V/Setup-default.bin"
	expect_out "(hidden)"
	if printf '%s' "$OUT" | grep -q HeyH0Password; then fail "secret shown without --reveal"; fi
	ok
fi

# --- bad files: one line, exit 1 ---
head -c 1000 "$T/a.bin" >"$T/trunc.bin"
run "$P" usb inspect "$T/trunc.bin"
expect_rc 1 "truncated"
expect_one_line_err
head -c 512 /dev/urandom >"$T/rand.bin"
run "$P" usb inspect "$T/rand.bin"
expect_rc 1 "random bytes"
expect_one_line_err
: >"$T/empty.bin"
run "$P" usb inspect "$T/empty.bin"
expect_rc 1 "empty"
cp "$T/a.bin" "$T/count.bin"
printf '\x63\x00\x00\x00' | dd of="$T/count.bin" bs=1 seek=28 conv=notrunc 2>/dev/null
run "$P" usb inspect "$T/count.bin"
expect_rc 1 "record count beyond the file"
expect_one_line_err
run "$P" usb inspect "$T/nonexistent.bin"
expect_rc 1 "missing file"

# --- reconcile: a used file comes back from the field ---
run "$P" keys generate --count 4 --batch rc
run "$P" usb create --batch rc --out "$T/rc.bin" --server 127.0.0.1:9971
expect_rc 0 "create for reconcile"
run "$P" usb inspect "$T/rc.bin" --json
printf '%s' "$OUT" | jq -r '.records[].variables[] | select(.name == "PID") | .value' >"$T/rcpids"
# The file holds them undashed; every listing shows the one display form XXXX-XXXC.
dashed() { printf '%s-%s' "${1:0:4}" "${1:4:4}"; }
PID1=$(dashed "$(sed -n 1p "$T/rcpids")")
PID2=$(dashed "$(sed -n 2p "$T/rcpids")")
# Two machines took records 1 and 2 (their valid bits cleared, as the firmware does).
for n in 1 2; do
	printf '\x00' | dd of="$T/rc.bin" bs=1 seek=$((512 * n + 4)) conv=notrunc 2>/dev/null
done
# A hello with record 1's PID reaches the server. A hello proves nothing (anyone can
# send one): it must not count as the machine being heard from; only a device that
# proves the key in a TLS-PSK handshake does (use_count).
HP=$(port_base)
. "$(dirname "$0")/lib/proc.sh"
start_server "$T/server.log" 127.0.0.1:$HP 127.0.0.1:$((HP + 5))
{
	printf '\x00\x00\x02\x00\x00\x00\x00\x00'
	printf '\x11\x22\x33\x44\x55\x66\x77\x88\x99\xaa\xbb\xcc\xdd\xee\xff\x00'
	printf '%s' "$PID1" | tr -d -
} >"$T/hello.bin"
bash -c "cat '$T/hello.bin' >/dev/tcp/127.0.0.1/$HP"
for _ in $(seq 1 50); do
	[ "$("$P" jobs list --json | jq 'length')" -ge 1 ] && break
	sleep 0.1
done
[ "$("$P" jobs list --json | jq 'length')" -eq 1 ] || fail "the hello made no job"
[ "$("$P" keys show "$PID1" --json | jq .use_count)" -eq 0 ] || fail "a hello bound record 1's key"
kill -INT $SPID
wait $SPID 2>/dev/null || true
run "$P" usb reconcile "$T/rc.bin" --json
expect_rc 0 "reconcile"
[ "$(printf '%s' "$OUT" | jq .consumed)" -eq 2 ] || fail "2 consumed: $OUT"
[ "$(printf '%s' "$OUT" | jq .still_valid)" -eq 2 ] || fail "2 valid: $OUT"
[ "$(printf '%s' "$OUT" | jq .never_heard_from)" -eq 2 ] || fail "2 silent: $OUT"
printf '%s' "$OUT" | jq -e --arg p "$PID2" '.records[] | select(.pid == $p) | (.heard_from | not) and .key_state == "in-use"' >/dev/null ||
	fail "record 2: its key is in-use and never heard from"
printf '%s' "$OUT" | jq -e --arg p "$PID1" '.records[] | select(.pid == $p) | .heard_from | not' >/dev/null ||
	fail "record 1: a bare hello is not heard from"
ok
run "$P" usb reconcile "$T/rc.bin"
expect_rc 0 "reconcile twice"
expect_out "NEVER HEARD FROM"
expect_out "(0 marked in-use now)"
run "$P" audit list --json
printf '%s' "$OUT" | jq -e '[.[] | select(.action == "usb.reconcile")] | length == 2' >/dev/null || fail "reconcile audited"
ok
# a file from another store's batch: its keys are unknown here
D2="$T/other"
run "$P" -d "$D2" init
run "$P" -d "$D2" usb reconcile "$T/rc.bin"
expect_rc 1 "reconcile against another store"
expect_err "keys this store does not know"
run "$P" usb reconcile "$T/trunc.bin"
expect_rc 1 "reconcile a truncated file"
expect_one_line_err
finish
