#!/usr/bin/env bash
# cli: the command line speaks in one voice: unknown commands and options get a
# "did you mean", the data directory option works anywhere on the line, the top-level
# help lists every command, repeated revokes succeed and say so.
. "$(dirname "$0")/lib/common.sh"
set -e

# --- unknown commands: one line, exit 2, the nearest name suggested ---
run "$P" sever
expect_rc 2 "unknown command"
expect_err "unknown command 'sever' (did you mean 'server'?)"
expect_one_line_err
run "$P" frobnicate
expect_rc 2 "unknown command, nothing near"
expect_err "see 'pskprov --help'"
run "$P" keys gnerate
expect_rc 2 "unknown keys command"
expect_err "did you mean 'keys generate'?"
run "$P" token revok a
expect_rc 2 "unknown token command"
expect_err "did you mean 'token revoke'?"

# --- unknown options, in the program's voice (not getopt's) ---
run "$P" --frob
expect_rc 2 "unknown top-level option"
expect_err "pskprov: unknown option '--frob'"
run "$P" token create --rloe read --name a
expect_rc 2 "unknown option"
expect_err "pskprov token create: unknown option '--rloe' (did you mean '--role'?)"
run "$P" token create --role
expect_rc 2 "missing value"
expect_err "pskprov token create: option '--role' needs a value"
run "$P" token list --json=yes
expect_rc 2 "value given to a flag"
expect_err "pskprov token list: option '--json' takes no value"
printf '%s' "$ERR" | grep -q "unrecognized option\|requires an argument\|invalid option" &&
	fail "getopt's own words leaked: $ERR"
ok

# --- the top-level help lists every command ---
run "$P" --help
expect_rc 0 "help"
for c in init keys usb audit token device fleet server devices jobs status demo agent; do
	printf '%s\n' "$OUT" | grep -qE "^  $c " || fail "top-level help lacks '$c'"
done
ok

# --- -d/--dir before or after the command ---
D2="$T/other"
run "$P" init --dir "$D2"
expect_rc 0 "init --dir after the command"
[ -f "$D2/pskprov.conf" ] || fail "--dir after the command was not used"
ok
run "$P" status -d "$D2" --json
expect_rc 0 "status -d after the command"
run "$P" status --dir="$D2"
expect_rc 0 "status --dir=DIR"
expect_out "$D2"
run "$P" status --dir
expect_rc 2 "--dir without a value"
expect_err "option '--dir' needs a value"
# After "--" a -d belongs to the command, not to the program.
run "$P" -d "$D2" keys check -- -d
expect_rc 1 "keys check -- -d"
expect_err "1 symbols, expected 8 (PID)"
printf '%s' "$ERR" | grep -q "needs a value" && fail "-d after -- was taken as --dir: $ERR"
ok

# --- one grammar for every --server: [http://]IPV4[:PORT][/PATH] ---
for cmd in "device run --state $T/none --address 127.0.0.2" "fleet --count 1 --csv $T/none.csv" \
	"agent --device-socket $T/none.sock --address 127.0.0.2" "usb create --batch b --out $T/x.bin"; do
	# shellcheck disable=SC2086 # the command's words
	run "$P" $cmd --server "ftp://127.0.0.1"
	expect_rc 2 "$cmd --server ftp://"
	expect_err "--server: only http:// URLs are supported"
	expect_one_line_err
	# shellcheck disable=SC2086
	run "$P" $cmd --server "http://admin@127.0.0.1"
	expect_rc 2 "$cmd --server with user information"
	expect_err "user information in the URL is refused"
done
run "$P" fleet --count 1 --csv "$T/none.csv" --server http://127.0.0.1:9971/x
expect_rc 2 "fleet --server with a path"
expect_err "no path is expected here"
run "$P" device run --state "$T/none" --address 127.0.0.2 --server 10.1.1.1
expect_rc 2 "device --server off loopback"
expect_err "is not a loopback address"

# --- a device's state directory is --state-dir, as in fleet (--state still works);
# --state in devices and jobs is a filter ---
run "$P" device create --state-dir "$T/dev1" --json
expect_rc 0 "device create --state-dir"
[ -f "$T/dev1/device.json" ] || fail "--state-dir did not make the state"
ok
run "$P" device show --state "$T/dev1" --json
expect_rc 0 "device show --state (the old name)"
run "$P" device show --help
expect_out "--state-dir DIR"
run "$P" -d "$D2" devices list --state nope
expect_rc 2 "devices list with a bad state"
expect_err "seen"

# --- a repeated revoke says so and succeeds ---
run "$P" -d "$D2" token create --role read --name ci
expect_rc 0 "token create"
run "$P" -d "$D2" token revoke ci
expect_rc 0 "token revoke"
expect_out "revoked token 'ci'"
run "$P" -d "$D2" token revoke ci
expect_rc 0 "token revoke again"
expect_out "already revoked"
run "$P" -d "$D2" token revoke nobody
expect_rc 1 "token revoke of an unknown name"
expect_err "no active token named 'nobody'"
finish
