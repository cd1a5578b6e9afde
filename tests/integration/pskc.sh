#!/usr/bin/env bash
# PSKC (RFC 6030) export and import through the CLI: transport key and passphrase;
# tampered, truncated and wrong-key files rejected without touching the store.
. "$(dirname "$0")/lib/common.sh"
set -e
run "$P" init
expect_rc 0 init
run "$P" keys generate --count 20 --batch m1
expect_rc 0 generate
run "$P" keys transport-key --out "$T/tk"
expect_rc 0 "transport-key"
expect_mode "$T/tk" 600
run "$P" keys transport-key --out "$T/tk"
expect_rc 1 "transport-key overwrite"
run "$P" keys export --batch m1 --format pskc --transport-key "$T/tk" --out "$T/m1.pskc"
expect_rc 0 "export pskc"
expect_mode "$T/m1.pskc" 600
grep -q 'urn:ietf:params:xml:ns:keyprov:pskc' "$T/m1.pskc" || fail "not a PSKC document"
ok
run "$P" keys export --batch m1 --format csv --out "$T/m1.csv"
expect_rc 0 "export csv"
run "$P" keys export --batch m1 --format pskc --out "$T/x.pskc"
expect_rc 2 "pskc without protection"
run "$P" keys export --batch m1 --format csv --transport-key "$T/tk" --out "$T/x.csv"
expect_rc 2 "csv with a transport key"

D2="$T/d2"
run "$P" -d "$D2" init
expect_rc 0 "init 2"
count() { "$P" -d "$D2" keys list --json | jq length; }

# tampered: flip one base64 character of the first CipherValue
awk 'BEGIN{d=0} /CipherValue>/ && !d { i=index($0,"CipherValue>")+12; c=substr($0,i,1); r=(c=="A")?"B":"A"; $0=substr($0,1,i-1) r substr($0,i+1); d=1 } {print}' "$T/m1.pskc" >"$T/tampered.pskc"
chmod 600 "$T/tampered.pskc"
cmp -s "$T/m1.pskc" "$T/tampered.pskc" && fail "tampering did not change the file"
run "$P" -d "$D2" keys import "$T/tampered.pskc" --transport-key "$T/tk"
expect_rc 1 "tampered"
expect_one_line_err
[ "$(count)" -eq 0 ] || fail "a tampered import changed the store"
ok
head -c 2000 "$T/m1.pskc" >"$T/trunc.pskc"
chmod 600 "$T/trunc.pskc"
run "$P" -d "$D2" keys import "$T/trunc.pskc" --transport-key "$T/tk"
expect_rc 1 "truncated"
expect_one_line_err
run "$P" keys transport-key --out "$T/tk2"
run "$P" -d "$D2" keys import "$T/m1.pskc" --transport-key "$T/tk2"
expect_rc 1 "wrong transport key"
expect_err "wrong transport key or tampered file"
run "$P" -d "$D2" keys import "$T/m1.pskc"
expect_rc 1 "no key given"
expect_err "give --transport-key or --passphrase"
[ "$(count)" -eq 0 ] || fail "a failed import changed the store"
ok

run "$P" -d "$D2" keys import "$T/m1.pskc" --transport-key "$T/tk"
expect_rc 0 "import pskc"
expect_out "imported 20 keys"
# the secrets survived: compare with the CSV of the same batch
PID=$(sed -n 2p "$T/m1.csv" | cut -d, -f1)
PPS=$(sed -n 2p "$T/m1.csv" | cut -d, -f2)
run_secret "$P" -d "$D2" keys show "$PID" --reveal --json
[ "$(printf '%s' "$OUT" | jq -r .pps)" = "$PPS" ] || fail "PPS differs after PSKC import"
ok

# passphrase mode, from a 0600 file and from stdin
printf 'correct horse battery staple\n' >"$T/pass"
chmod 600 "$T/pass"
run "$P" keys generate --count 3 --batch m2
run "$P" keys export --batch m2 --format pskc --passphrase-file "$T/pass" --out "$T/m2.pskc"
expect_rc 0 "export passphrase"
run sh -c "echo 'wrong horse battery staple' | '$P' -d '$D2' keys import '$T/m2.pskc' --passphrase"
expect_rc 1 "wrong passphrase"
expect_err "wrong passphrase or tampered file"
run sh -c "echo 'correct horse battery staple' | '$P' -d '$D2' keys import '$T/m2.pskc' --passphrase"
expect_rc 0 "import passphrase"
[ "$(count)" -eq 23 ] || fail "23 keys expected"
ok
chmod 644 "$T/pass"
run "$P" keys export --batch m2 --format pskc --passphrase-file "$T/pass" --out "$T/m3.pskc"
expect_rc 1 "world-readable passphrase file"
expect_err "0600"

# no plaintext secret in the PSKC files or the log
tail -n +2 "$T/m1.csv" | cut -d, -f2 | tr -d - >"$T/secrets"
tail -n +2 "$T/m1.csv" | cut -d, -f3 | awk 'length >= 8' >>"$T/secrets"
scan_for_secrets "$T/secrets" "$T/m1.pskc" "$T/m2.pskc" "$LOG" "$D2"/pskprov.db*
finish
