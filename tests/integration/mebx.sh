#!/usr/bin/env bash
# mebx: the device's keyboard console driven from a pipe. A factory-new device (--create)
# through login with 'admin', the forced change to a strong password and the key and
# server entries (Intel's worked example key); a second session with the new password;
# wrong passwords (3 tries), weak and mismatched new passwords, a bad PID, a PPS with a
# wrong checksum (the group and the expected symbol named), an unknown menu choice, bad
# server entries, a provisioned device's refusals, the full unprovision; no secret in
# any output. Every command runs under `timeout`: nothing here can hang.
. "$(dirname "$0")/lib/common.sh"
set -e

for tool in jq timeout; do
	command -v "$tool" >/dev/null || fail "$tool is required"
done

PID=0000-037M
PPS=NKLD-G5DC-RRNQ-E9YZ-ZIJL-7LFL-VJED-69XJ
PPS_BAD3=NKLD-G5DC-RRNE-E9YZ-ZIJL-7LFL-VJED-69XJ # group 3 checksum 'E', expected 'Q'
NEWPW='NewPassw0rd!'
PW2='0ther#Passw0rd'
WRONG=(Wrong#Pass1 Wrong#Pass2 Wrong#Pass3)

# mebx DIR [ARGS...] < input: one console session, bounded.
mebx() {
	d=$1
	shift
	run timeout 20 "$P" device mebx --state "$d" "$@"
	[ "$RC" -ne 124 ] || fail "device mebx timed out"
}
show() { run timeout 10 "$P" device show --state "$1" --json; }
feed() { printf '%s\n' "$@" >"$T/in"; }

# ---- usage ----
mebx "$T/none" </dev/null
expect_rc 1 "no device without --create"
expect_err "use --create"
run timeout 10 "$P" device mebx
expect_rc 2 "mebx without --state"

# ---- happy path: a factory-new device, scripted ----
D=$T/d1
feed admin "$NEWPW" "$NEWPW" 1 "$PID" "$PPS" 2 127.0.0.1 9971 3 5
mebx "$D" --create <"$T/in"
expect_rc 0 "scripted console session"
expect_err "created a factory-new device"
expect_err "The factory password must be changed"
expect_err "MEBx password changed"
expect_err "key set: PID $PID"
# Which MEBx password the server will log in with: named, never shown.
expect_err "the configuration server logs in with the MEBx password issued with PID $PID"
expect_err "set the MEBx password issued with that key"
printf '%s' "$ERR" | grep -qF "$NEWPW" && fail "the console printed the MEBx password"
expect_err "configuration server set: 127.0.0.1 port 9971"
expect_out "state     In-Setup"
expect_out "pid       $PID"
expect_out "server    127.0.0.1 port 9971"
expect_out "password  set (hidden)"
expect_mode "$D/device.json" 600
show "$D"
expect_rc 0 "device show"
[ "$(jq -r .state <<<"$OUT")" = "In-Setup" ] || fail "state after the console: $OUT"
[ "$(jq -r .pid <<<"$OUT")" = "$PID" ] || fail "pid after the console: $OUT"
ok

# The new password opens the console; no forced change this time. --create on a
# directory that holds a device only opens it.
feed "$NEWPW" 3 5
mebx "$D" --create <"$T/in"
expect_rc 0 "second session with the new password"
printf '%s' "$ERR" | grep -qF "factory password must be changed" && fail "forced change again"
printf '%s' "$ERR" | grep -qF "created a factory-new" && fail "--create replaced a device"
expect_out "pid       $PID"

# 'admin' no longer works.
feed admin admin admin
mebx "$D" <"$T/in"
expect_rc 1 "factory password after the change"

# ---- wrong password three times ----
feed "${WRONG[@]}" 5
mebx "$D" <"$T/in"
expect_rc 1 "three wrong passwords"
expect_err "wrong password (try 1 of 3)"
expect_err "wrong password (try 2 of 3)"
expect_err "wrong password 3 times: leaving the console"
printf '%s' "$ERR" | grep -qF "MEBx: " && fail "menu shown after wrong passwords"
# The failed logins reached the state file's audit events.
show "$D"
n=$(jq '[.audit[] | select(.text == "console login failed")] | length' <<<"$OUT")
[ "$n" -ge 3 ] || fail "failed logins not audited: $OUT"
ok

# Input that ends before the password.
mebx "$D" </dev/null
expect_rc 1 "empty input"
expect_err "input ended before the password"

# ---- weak and mismatched new passwords ----
D2=$T/d2
feed admin short alllowercase1! NOUPPER1! NoDigits!! NoSymbol123 "$NEWPW" "$PW2"
mebx "$D2" --create <"$T/in"
expect_rc 1 "weak new passwords"
expect_err "MEBx password:"
expect_err "no acceptable new password after 3 tries"
feed admin short "$NEWPW" "$PW2" NoSymbol123
mebx "$D2" <"$T/in"
expect_rc 1 "mismatched new passwords"
expect_err "refused: the two passwords differ"
show "$D2"
[ "$(jq -r .state <<<"$OUT")" = "Pre-Setup" ] || fail "state changed: $OUT"
[ "$(jq -r .mebx_password_factory_default <<<"$OUT")" = "true" ] || fail "password changed: $OUT"
ok
# A weak one, then a good one (asked twice): accepted within the three tries.
feed admin short "$NEWPW" "$NEWPW" 5
mebx "$D2" <"$T/in"
expect_rc 0 "a weak password, then a strong one"
expect_err "MEBx password changed"

# ---- bad PID and PPS: the session stops at the first refusal ----
feed "$NEWPW" 1 0000-037X
mebx "$D2" <"$T/in"
expect_rc 1 "bad PID checksum"
expect_err "PID: checksum is 'X', expected 'M'"
expect_err "stopping at the first refusal"

feed "$NEWPW" 1 "$PID" "$PPS_BAD3" 5
mebx "$D2" <"$T/in"
expect_rc 1 "bad PPS checksum"
expect_err "PPS group 3: checksum is 'E', expected 'Q'"
feed "$NEWPW" 1 "$PID" NKLD-G5DC 5
mebx "$D2" <"$T/in"
expect_rc 1 "short PPS"
expect_err "refused: PPS"
show "$D2"
[ "$(jq -r .state <<<"$OUT")" = "Pre-Setup" ] || fail "a refused key was stored: $OUT"
ok

# Lower case and no dashes are the same key.
feed "$NEWPW" 1 0000037m "$(printf '%s' "$PPS" | tr -d - | tr 'A-Z' 'a-z')" 5
mebx "$D2" <"$T/in"
expect_rc 0 "key without dashes, lower case"
expect_err "key set: PID $PID"

# ---- menu and server entries ----
# An unknown choice is refused without repeating what was typed (here a PPS typed
# one line too early).
feed "$NEWPW" "$PPS"
mebx "$D2" <"$T/in"
expect_rc 1 "unknown choice"
expect_err "refused: unknown choice (enter 1 to 5)"
feed "$NEWPW" 2 1.2.3.999
mebx "$D2" <"$T/in"
expect_rc 1 "bad IPv4"
expect_err "refused: not an IPv4 address"
feed "$NEWPW" 2 'bad_name!' 
mebx "$D2" <"$T/in"
expect_rc 1 "bad FQDN"
expect_err "refused: not an IPv4 address or a DNS name"
feed "$NEWPW" 2 127.0.0.1 70000
mebx "$D2" <"$T/in"
expect_rc 1 "bad port"
expect_err "refused: the port is a number from 1 to 65535"
feed "$NEWPW" 2 prov.example.com "" 3 5
mebx "$D2" <"$T/in"
expect_rc 0 "server by name, default port"
expect_err "configuration server set: prov.example.com port 9971"
expect_out "server    prov.example.com port 9971"

# ---- a provisioned device ----
# Post-Setup as the WS-Management setup leaves it (admin account set, state 2); the
# whole setup over TLS-PSK is device.sh's. The file keeps its mode 0600.
jq '.state = 2 | .admin = {"user": "pskadmin", "ha1": "00112233445566778899aabbccddeeff"}' \
	"$D/device.json" >"$T/post.json"
install -m 600 "$T/post.json" "$D/device.json"
show "$D"
[ "$(jq -r .state <<<"$OUT")" = "Post-Setup" ] || fail "fixture not Post-Setup: $OUT"
ok
feed "$NEWPW" 1 "$PID" "$PPS"
mebx "$D" <"$T/in"
expect_rc 1 "key on a provisioned device"
expect_err "refused: the device is provisioned (Post-Setup)"
feed "$NEWPW" 2 127.0.0.1 9971
mebx "$D" <"$T/in"
expect_rc 1 "server on a provisioned device"
expect_err "refused: the device is provisioned (Post-Setup)"
# Showing works, and says nothing secret.
feed "$NEWPW" 3 5
mebx "$D" <"$T/in"
expect_rc 0 "show on a provisioned device"
expect_out "state     Post-Setup (provisioned)"
expect_out "admin     pskadmin"

# Unprovision: anything but 'yes' changes nothing; 'yes' goes back to Pre-Setup with
# the factory password.
feed "$NEWPW" 4 no 5
mebx "$D" <"$T/in"
expect_rc 0 "unprovision not confirmed"
expect_err "not confirmed: nothing changed"
feed "$NEWPW" 4 yes 5
mebx "$D" <"$T/in"
expect_rc 0 "full unprovision"
expect_err "unprovisioned: the device is in Pre-Setup"
show "$D"
[ "$(jq -r .state <<<"$OUT")" = "Pre-Setup" ] || fail "not Pre-Setup after unprovision: $OUT"
[ "$(jq -r .pid <<<"$OUT")" = "null" ] || fail "PID kept after unprovision: $OUT"
ok
feed admin "$PW2" "$PW2" 3 5
mebx "$D" <"$T/in"
expect_rc 0 "factory password after unprovision"
expect_err "The factory password must be changed"
expect_out "pid       (none)"

# ---- a running device's console is refused ----
if timeout 10 "$P" device run --help >/dev/null 2>&1; then
	NET=127.0.46
	PB=$(port_base)
	feed "$PW2" 1 "$PID" "$PPS" 5
	mebx "$D" <"$T/in"
	expect_rc 0 "key for the running test"
	timeout 30 "$P" device run --state "$D" --address $NET.2 --server $NET.1:$((PB + 1)) \
		--port $((PB + 3)) --http-port $((PB + 2)) >"$T/run.log" 2>&1 &
	RUNPID=$!
	for _ in $(seq 50); do
		[ -S "$D/pthi.sock" ] && break
		sleep 0.1
	done
	if [ -S "$D/pthi.sock" ]; then
		feed "$PW2" 5
		mebx "$D" <"$T/in"
		expect_rc 1 "console of a running device"
		expect_err "is running: stop it before using its console"
	else
		echo "note: 'device run' does not serve DIR/pthi.sock yet: running-device check skipped"
	fi
	kill "$RUNPID" 2>/dev/null || true
	wait "$RUNPID" 2>/dev/null || true
	if grep -qE "AddressSanitizer|LeakSanitizer|runtime error:" "$T/run.log"; then
		fail "sanitizer report from device run: $(grep -m3 -E "Sanitizer|runtime" "$T/run.log")"
	fi
fi

# ---- no secret anywhere in what the console printed ----
{
	printf '%s\n' "$NEWPW" "$PW2" "$PPS" "$PPS_BAD3" "${WRONG[@]}"
	printf '%s\n' "$PPS" | tr -d -
	printf '%s\n' "$PPS_BAD3" | tr -d -
} >"$T/secrets"
scan_for_secrets "$T/secrets" "$LOG" "$T/run.log"

finish
