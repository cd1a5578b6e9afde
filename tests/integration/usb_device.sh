#!/usr/bin/env bash
# usb_device: the device side of USB one-touch and the manufacturer's PSKC load.
# setup.bin files made by `usb create` are read by `device usb-boot` and `device run
# --usb` on factory-new devices (`device create`): records taken in order, consumed in
# place (valid bits, count), the device holding the record's PID and server; a boot cut
# short after the device was saved is finished without taking a second record; every
# refusal (wrong current password, exhausted, corrupted, truncated, a device whose
# password was changed) leaves the file byte-identical; a do-not-consume file is never
# written; a device that already has a key leaves the file alone. `device factory-load
# --pskc` with a transport key and with a passphrase; tampered, truncated and wrong-key
# containers refused with no state directory left behind. Then a USB-loaded and a
# PSKC-loaded device run against `pskprov server` and both end provisioned. No secret
# in any log.
. "$(dirname "$0")/lib/common.sh"
set -e

for tool in jq cmp curl timeout dd od awk; do
	command -v "$tool" >/dev/null || fail "$tool is required"
done

# This file's loopback addresses (127.0.52.x) and ports (other test files use other nets).
NET=127.0.52
SRV=$NET.1 DEV_USB=$NET.2 DEV_PSKC=$NET.3
PB=$(port_base)
HELLO_PORT=$((PB + 1)) HTTP_PORT=$((PB + 2)) TLS_PORT=$((PB + 3)) API_PORT=$((PB + 4))

. "$(dirname "$0")/lib/proc.sh"

# inspect FILE: `usb inspect --json` into $J.
inspect() {
	run "$P" usb inspect "$1" --json
	expect_rc 0 "inspect $1"
	J=$OUT
}
consumed() { printf '%s' "$J" | jq .header.data_records_consumed; }
states() { printf '%s' "$J" | jq -r '[.records[].state] | join(",")'; }
# rec_pid N: the PID (no dash) of record N in $J.
rec_pid() {
	printf '%s' "$J" | jq -r --argjson n "$1" \
		'.records[] | select(.number == $n) | .variables[] | select(.name == "PID") | .value'
}
# boot DIR FILE: `device usb-boot --json`, bounded.
boot() {
	run timeout 30 "$P" device usb-boot --state "$1" --usb "$2" --json
	[ "$RC" -ne 124 ] || fail "device usb-boot timed out"
}
outcome() { printf '%s' "$OUT" | jq -r .outcome; }
new_device() {
	run "$P" device create --state "$1"
	expect_rc 0 "device create $1"
	expect_out "Pre-Setup"
	expect_mode "$1/device.json" 600
}
show() {
	run "$P" device show --state "$1" --json
	expect_rc 0 "device show $1"
	SHOW=$OUT
}
expect_state() { # DIR STATE [PID]
	show "$1"
	[ "$(printf '%s' "$SHOW" | jq -r .state)" = "$2" ] || fail "$1: state, expected $2: $SHOW"
	if [ -n "${3:-}" ]; then
		[ "$(nodash "$(printf '%s' "$SHOW" | jq -r .pid)")" = "$(nodash "$3")" ] ||
			fail "$1: PID, expected $3: $SHOW"
	fi
	ok
}
same_file() { cmp -s "$1" "$2" || fail "$3: the file changed"; ok; }

# ---- data directory and keys ----
run "$P" init
expect_rc 0 "init"
for b in ub:3 run:1 wp:1 nc:2 cx:2 cr:2 cc:2 pk:3 pp:1; do
	run "$P" keys generate --count "${b#*:}" --batch "${b%:*}"
	expect_rc 0 "generate ${b%:*}"
done
# ---- setup.bin files ----
F=$T/ub.bin
run "$P" usb create --batch ub --out "$F" --server "$SRV:$HELLO_PORT"
expect_rc 0 "usb create"
expect_mode "$F" 600
printf 'N0t-Admin!x\n' >"$T/curpw"
run sh -c "'$P' usb create --batch wp --out '$T/wp.bin' --server '$SRV:$HELLO_PORT' --current-password - <'$T/curpw'"
expect_rc 0 "usb create --current-password"
run "$P" usb create --batch nc --out "$T/nc.bin" --server "$SRV:$HELLO_PORT" --no-consume
expect_rc 0 "usb create --no-consume"
run "$P" usb create --batch cx --out "$T/cx.bin" --server "$SRV:$HELLO_PORT" --scramble
expect_rc 0 "usb create cx"
run "$P" usb create --batch cr --out "$T/cr.bin" --server "$SRV:$HELLO_PORT"
expect_rc 0 "usb create cr"
run "$P" usb create --batch run --out "$T/run.bin" --server "$SRV:$HELLO_PORT"
expect_rc 0 "usb create run"
run "$P" usb create --batch cc --out "$T/cc.bin" --server "$SRV:$HELLO_PORT"
expect_rc 0 "usb create cc"

SECRETS="$T/secrets"
: >"$SECRETS"
for b in ub run wp nc cx cr cc pk pp; do
	run_secret "$P" keys export --batch "$b" --format csv --out "$T/$b.csv"
	[ "$RC" -eq 0 ] || fail "export $b: $ERR"
	tail -n +2 "$T/$b.csv" | while IFS=, read -r _ pps mebx _; do
		printf '%s\n%s\n%s\n' "$pps" "$(nodash "$pps")" "$mebx"
	done >>"$SECRETS"
done
ok
# The keys in CSV (after usb create, which takes available keys only): the secrets
# scanned for, and the key of a record for the interrupted-boot case.
csv_pid() { sed -n "$(($2 + 1))p" "$T/$1.csv" | cut -d, -f1; }

inspect "$F"
[ "$(consumed)" -eq 0 ] && [ "$(states)" = "valid,valid,valid" ] || fail "new file: $J"
R1=$(rec_pid 1) R2=$(rec_pid 2) R3=$(rec_pid 3)
ok

# ---- first device takes record 1, second record 2 ----
new_device "$T/d1"
boot "$T/d1" "$F"
expect_rc 0 "usb-boot d1"
[ "$(outcome)" = applied ] || fail "d1 outcome: $OUT"
printf '%s' "$OUT" | jq -e --arg p "$R1" --arg s "$SRV:$HELLO_PORT" \
	'.record == 1 and (.record_pid | gsub("-"; "")) == $p and (.pid | gsub("-"; "")) == $p and
	 .record_server == $s and .state == "In-Setup"' >/dev/null || fail "d1: $OUT"
expect_err "took record 1 of '$F'"
expect_err "marked used"
inspect "$F"
[ "$(consumed)" -eq 1 ] && [ "$(states)" = "consumed,valid,valid" ] || fail "after d1: $J"
expect_state "$T/d1" In-Setup "$R1"
printf '%s' "$SHOW" | jq -e --arg s "$SRV" --argjson p "$HELLO_PORT" \
	'.server.ipv4 == $s and .server.port == $p and .mebx_password_factory_default == false' \
	>/dev/null || fail "d1 server and password: $SHOW"
ok

new_device "$T/d2"
run "$P" device usb-boot --state "$T/d2" --usb "$F"
expect_rc 0 "usb-boot d2 (text)"
expect_out "In-Setup"
expect_err "took record 2"
inspect "$F"
[ "$(consumed)" -eq 2 ] && [ "$(states)" = "consumed,consumed,valid" ] || fail "after d2: $J"
expect_state "$T/d2" In-Setup "$R2"

# A second boot of a loaded device takes nothing.
cp "$F" "$T/before"
boot "$T/d1" "$F"
expect_rc 0 "second boot of d1"
[ "$(outcome)" = ignored ] || fail "second boot: $OUT"
expect_err "the device already has a key; the USB file is left alone"
same_file "$T/before" "$F" "second boot of a loaded device"
expect_state "$T/d1" In-Setup "$R1"

# ---- exhausted ----
new_device "$T/d3"
boot "$T/d3" "$F"
expect_rc 0 "usb-boot d3"
inspect "$F"
[ "$(consumed)" -eq 3 ] && [ "$(states)" = "consumed,consumed,consumed" ] || fail "after d3: $J"
expect_state "$T/d3" In-Setup "$R3"
cp "$F" "$T/before"
new_device "$T/d4"
boot "$T/d4" "$F"
expect_rc 1 "exhausted file"
expect_one_line_err
expect_err "no unused record left in '$F'"
same_file "$T/before" "$F" "exhausted"
expect_state "$T/d4" Pre-Setup

# ---- wrong current password ----
cp "$T/wp.bin" "$T/before"
boot "$T/d4" "$T/wp.bin"
expect_rc 1 "wrong current password"
expect_one_line_err
expect_err "the record's current MEBx password does not match this device"
same_file "$T/before" "$T/wp.bin" "wrong current password"
expect_state "$T/d4" Pre-Setup

# ---- corrupted and truncated ----
cp "$T/cx.bin" "$T/cx.good"
# A reserved byte of record 1's header (offset 8..15 must be zero).
printf '\001' | dd of="$T/cx.bin" bs=1 seek=$((512 + 9)) conv=notrunc status=none
cmp -s "$T/cx.good" "$T/cx.bin" && fail "the byte flip changed nothing"
cp "$T/cx.bin" "$T/before"
boot "$T/d4" "$T/cx.bin"
expect_rc 1 "corrupted file"
expect_one_line_err
expect_err "'$T/cx.bin' is not a valid setup.bin: "
same_file "$T/before" "$T/cx.bin" "corrupted"
# A flipped byte inside an entry header of record 2 (its first entry's length).
cp "$T/cx.good" "$T/cx2.bin"
printf '\377' | dd of="$T/cx2.bin" bs=1 seek=$((1024 + 24 + 4)) conv=notrunc status=none
cp "$T/cx2.bin" "$T/before"
boot "$T/d4" "$T/cx2.bin"
expect_rc 1 "corrupted record 2"
expect_err "is not a valid setup.bin: "
same_file "$T/before" "$T/cx2.bin" "corrupted record 2"
head -c 1024 "$T/cx.good" >"$T/cx4.bin"
cp "$T/cx4.bin" "$T/before"
boot "$T/d4" "$T/cx4.bin"
expect_rc 1 "a record missing"
expect_err "is not a valid setup.bin: the header announces 2 records"
same_file "$T/before" "$T/cx4.bin" "a record missing"
head -c 1200 "$T/cx.good" >"$T/cx3.bin"
cp "$T/cx3.bin" "$T/before"
boot "$T/d4" "$T/cx3.bin"
expect_rc 1 "truncated file"
expect_one_line_err
expect_err "is not a valid setup.bin: "
same_file "$T/before" "$T/cx3.bin" "truncated"
boot "$T/d4" "$T/missing.bin"
expect_rc 1 "missing file"
expect_err "cannot open"
expect_state "$T/d4" Pre-Setup
# The intact copy works (scrambled records).
boot "$T/d4" "$T/cx.good"
expect_rc 0 "scrambled file"
[ "$(outcome)" = applied ] || fail "scrambled: $OUT"
inspect "$T/cx.good"
expect_state "$T/d4" In-Setup "$(rec_pid 1)"

# ---- do-not-consume ----
inspect "$T/nc.bin"
N1=$(rec_pid 1)
cp "$T/nc.bin" "$T/before"
for d in n1 n2; do
	new_device "$T/$d"
	boot "$T/$d" "$T/nc.bin"
	expect_rc 0 "no-consume $d"
	[ "$(outcome)" = kept ] || fail "no-consume $d: $OUT"
	expect_err "do-not-consume file: left unchanged"
	same_file "$T/before" "$T/nc.bin" "do-not-consume ($d)"
	expect_state "$T/$d" In-Setup "$N1"
done
boot "$T/n1" "$T/nc.bin"
expect_rc 0 "no-consume, second boot"
[ "$(outcome)" = ignored ] || fail "no-consume second boot: $OUT"
same_file "$T/before" "$T/nc.bin" "do-not-consume, second boot"

# ---- a Pre-Setup device whose password was changed at the console ----
new_device "$T/dm"
printf 'admin\nCh4nged-Pw!x\nCh4nged-Pw!x\n5\n' >"$T/mebx.in"
run timeout 20 "$P" device mebx --state "$T/dm" <"$T/mebx.in"
expect_rc 0 "console password change"
cp "$T/cr.bin" "$T/before"
boot "$T/dm" "$T/cr.bin"
expect_rc 1 "changed password"
expect_one_line_err
expect_err "no longer the factory default"
same_file "$T/before" "$T/cr.bin" "changed password"
expect_state "$T/dm" Pre-Setup

# ---- a boot cut short after the device was saved, before the file was written ----
# The same state, made by hand: a device loaded with record 1's key and password (the
# CSV of the same batch), the record still valid. Its next boot only marks record 1.
inspect "$T/cr.bin"
C1=$(rec_pid 1)
run "$P" device factory-load --state "$T/dc" --csv "$T/cr.csv" --pid "$C1"
expect_rc 0 "factory-load with record 1's key"
boot "$T/dc" "$T/cr.bin"
expect_rc 0 "finish an interrupted boot"
[ "$(outcome)" = finished ] && [ "$(printf '%s' "$OUT" | jq .record)" -eq 1 ] ||
	fail "interrupted boot: $OUT"
inspect "$T/cr.bin"
[ "$(consumed)" -eq 1 ] && [ "$(states)" = "consumed,valid" ] || fail "after finishing: $J"
expect_state "$T/dc" In-Setup "$C1"
cp "$T/cr.bin" "$T/before"
boot "$T/dc" "$T/cr.bin"
expect_rc 0 "after finishing, again"
[ "$(outcome)" = ignored ] || fail "finished device, again: $OUT"
same_file "$T/before" "$T/cr.bin" "finished device, again"

# ---- two devices booting from one file at once take different records ----
new_device "$T/c1"
new_device "$T/c2"
timeout 30 "$P" device usb-boot --state "$T/c1" --usb "$T/cc.bin" --json >"$T/c1.json" 2>"$T/c1.err" &
B1=$!
timeout 30 "$P" device usb-boot --state "$T/c2" --usb "$T/cc.bin" --json >"$T/c2.json" 2>"$T/c2.err" &
B2=$!
wait "$B1" || fail "concurrent boot 1: $(cat "$T/c1.err")"
wait "$B2" || fail "concurrent boot 2: $(cat "$T/c2.err")"
cat "$T/c1.err" "$T/c2.err" >>"$LOG"
[ "$(jq -s '[.[].record] | sort | join(",")' -r "$T/c1.json" "$T/c2.json")" = "1,2" ] ||
	fail "concurrent boots: $(cat "$T/c1.json" "$T/c2.json")"
inspect "$T/cc.bin"
[ "$(consumed)" -eq 2 ] && [ "$(states)" = "consumed,consumed" ] || fail "concurrent: $J"
ok

# ---- device run --usb: a refusal ends the run; a loaded device ignores the file ----
cp "$T/cr.bin" "$T/before"
run timeout 20 "$P" device run --state "$T/dm" --address "$NET.9" --usb "$T/cr.bin" \
	--port "$TLS_PORT" --http-port "$HTTP_PORT"
expect_rc 1 "device run --usb, refused"
expect_err "no longer the factory default"
same_file "$T/before" "$T/cr.bin" "device run --usb, refused"
RLOG="$T/device-run-ignored.log"
"$P" device run --state "$T/d2" --address "$NET.9" --usb "$T/cr.bin" --port "$TLS_PORT" \
	--http-port "$HTTP_PORT" 2>"$RLOG" &
RPID=$!
BGPIDS="$BGPIDS $RPID"
wait_for "$RLOG" "USB: the device already has a key; the USB file is left alone"
wait_for "$RLOG" "In-Setup, UUID"
stop_bg
same_file "$T/before" "$T/cr.bin" "device run --usb, loaded device"
cat "$RLOG" >>"$LOG"

# ---- PSKC: the manufacturer's container ----
run "$P" keys transport-key --out "$T/tk"
expect_rc 0 "transport-key"
run "$P" keys transport-key --out "$T/tk2"
expect_rc 0 "second transport-key"
run "$P" keys export --batch pk --format pskc --transport-key "$T/tk" --out "$T/pk.pskc"
expect_rc 0 "export pskc"
PK1=$(csv_pid pk 1) PK2=$(csv_pid pk 2)
run "$P" device factory-load --state "$T/p1" --pskc "$T/pk.pskc" --transport-key "$T/tk"
expect_rc 0 "factory-load --pskc"
expect_out "In-Setup"
expect_state "$T/p1" In-Setup "$PK1"
expect_mode "$T/p1/device.json" 600
run "$P" device factory-load --state "$T/p2" --pskc "$T/pk.pskc" --transport-key "$T/tk" \
	--key-name pskprov --pid "$PK2"
expect_rc 0 "factory-load --pskc --pid"
expect_state "$T/p2" In-Setup "$PK2"
run "$P" device factory-load --state "$T/p1" --pskc "$T/pk.pskc" --transport-key "$T/tk"
expect_rc 1 "factory-load over a device"
expect_err "already holds a device"

# refusals: no state directory left behind
refused() { # LABEL DIR ARGS...
	local label=$1 dir=$2
	shift 2
	run "$P" device factory-load --state "$dir" "$@"
	expect_rc 1 "$label"
	expect_one_line_err
	[ ! -e "$dir" ] || fail "$label: $dir left behind"
	ok
}
refused "wrong transport key" "$T/px1" --pskc "$T/pk.pskc" --transport-key "$T/tk2"
expect_err "wrong transport key or tampered file"
awk 'BEGIN{d=0} /CipherValue>/ && !d { i=index($0,"CipherValue>")+12; c=substr($0,i,1); r=(c=="A")?"B":"A"; $0=substr($0,1,i-1) r substr($0,i+1); d=1 } {print}' \
	"$T/pk.pskc" >"$T/tampered.pskc"
cmp -s "$T/pk.pskc" "$T/tampered.pskc" && fail "tampering changed nothing"
refused "tampered container" "$T/px2" --pskc "$T/tampered.pskc" --transport-key "$T/tk"
head -c 1500 "$T/pk.pskc" >"$T/trunc.pskc"
refused "truncated container" "$T/px3" --pskc "$T/trunc.pskc" --transport-key "$T/tk"
refused "wrong key name" "$T/px4" --pskc "$T/pk.pskc" --transport-key "$T/tk" --key-name other
refused "unknown PID" "$T/px5" --pskc "$T/pk.pskc" --transport-key "$T/tk" --pid "$(csv_pid ub 1)"
expect_err "has no key for PID"
mkdir "$T/px6"
refused "existing empty directory kept" "$T/px6/sub" --pskc "$T/trunc.pskc" --transport-key "$T/tk"
[ -d "$T/px6" ] && [ -z "$(ls -A "$T/px6")" ] || fail "px6 changed"
ok
run "$P" device factory-load --state "$T/px7" --csv "$T/pk.csv" --pskc "$T/pk.pskc" --transport-key "$T/tk"
expect_rc 2 "--csv and --pskc"
run "$P" device factory-load --state "$T/px7" --pskc "$T/pk.pskc"
expect_rc 2 "--pskc without a key"
run "$P" device factory-load --state "$T/px7" --csv "$T/pk.csv" --transport-key "$T/tk"
expect_rc 2 "--csv with a transport key"
[ ! -e "$T/px7" ] || fail "usage errors left a directory"
ok

# passphrase: from a 0600 file and from standard input
printf 'correct horse battery staple\n' >"$T/pass"
chmod 600 "$T/pass"
printf 'correct horse battery staple\n' >>"$SECRETS"
run "$P" keys export --batch pp --format pskc --passphrase-file "$T/pass" --out "$T/pp.pskc"
expect_rc 0 "export pskc (passphrase)"
PP1=$(csv_pid pp 1)
run "$P" device factory-load --state "$T/q1" --pskc "$T/pp.pskc" --passphrase-file "$T/pass"
expect_rc 0 "factory-load --passphrase-file"
expect_state "$T/q1" In-Setup "$PP1"
run sh -c "echo 'wrong horse battery staple' | '$P' device factory-load --state '$T/qx' --pskc '$T/pp.pskc' --passphrase"
expect_rc 1 "wrong passphrase"
expect_err "wrong passphrase or tampered file"
[ ! -e "$T/qx" ] || fail "wrong passphrase left a directory"
run sh -c "'$P' device factory-load --state '$T/q2' --pskc '$T/pp.pskc' --passphrase <'$T/pass'"
expect_rc 0 "factory-load --passphrase (stdin)"
expect_state "$T/q2" In-Setup "$PP1"
chmod 644 "$T/pass"
run "$P" device factory-load --state "$T/qy" --pskc "$T/pp.pskc" --passphrase-file "$T/pass"
expect_rc 1 "passphrase file readable by others"
[ ! -e "$T/qy" ] || fail "a refused passphrase file left a directory"
ok

# ---- end to end: a device from USB (device run --usb) and one from PSKC ----
test_server_conf "$TLS_PORT" "$HTTP_PORT"
SLOG="$T/server.log"
start_server "$SLOG" "$SRV:$HELLO_PORT" "$SRV:$API_PORT" --log-level info
ok

inspect "$T/run.bin"
RU=$(rec_pid 1)
new_device "$T/eu"
ULOG="$T/device-usb.log"
# No --server: the hellos go where the record says.
"$P" device run --state "$T/eu" --address "$DEV_USB" --usb "$T/run.bin" --port "$TLS_PORT" \
	--http-port "$HTTP_PORT" --time-scale 0.01 2>"$ULOG" &
BGPIDS="$BGPIDS $!"
PLOG="$T/device-pskc.log"
"$P" device run --state "$T/p1" --address "$DEV_PSKC" --server "$SRV:$HELLO_PORT" \
	--port "$TLS_PORT" --http-port "$HTTP_PORT" --time-scale 0.01 2>"$PLOG" &
BGPIDS="$BGPIDS $!"
wait_for "$ULOG" "took record 1 of '$T/run.bin'"
wait_for "$ULOG" "In-Setup"
inspect "$T/run.bin"
[ "$(states)" = consumed ] || fail "run --usb did not consume: $J"
for _ in $(seq 600); do
	n=$("$P" devices list --json 2>/dev/null |
		jq --arg a "$DEV_USB" --arg b "$DEV_PSKC" \
			'[.[] | select((.address == $a or .address == $b) and .state == "provisioned")] | length' ||
		echo 0)
	[ "$n" = 2 ] && break
	sleep 0.1
done
[ "$n" = 2 ] || fail "not both provisioned: $("$P" devices list --json | jq -c '[.[] | {address, state, last_error}]'); $(tail -3 "$ULOG") $(tail -3 "$PLOG")"
wait_for "$ULOG" "-> Post-Setup" 20
wait_for "$PLOG" "-> Post-Setup" 20
ok
stop_bg
expect_state "$T/eu" Post-Setup "$RU"
expect_state "$T/p1" Post-Setup "$PK1"
run "$P" keys list --json
for pid in "$RU" "$PK1"; do
	printf '%s' "$OUT" | jq -e --arg p "$pid" \
		'.[] | select((.pid | gsub("-"; "")) == ($p | gsub("-"; ""))) | .state == "consumed"' \
		>/dev/null || fail "key $pid not consumed"
done
ok

# ---- no secret in any log ----
scan_for_secrets "$SECRETS" "$LOG" "$SLOG" "$ULOG" "$PLOG"
finish
