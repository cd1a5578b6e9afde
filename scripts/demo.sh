#!/bin/sh
# The demo on the embedded default (SQLite): a data directory, a batch of keys, a USB
# setup file, its inspection, an export, and the audit log check.
set -eu
P=${1:-build/pskprov}
DIR=$(mktemp -d /tmp/pskprov-demo.XXXXXX)
trap 'rm -rf "$DIR"' EXIT
export PSKPROV_DIR="$DIR/data"

step() { printf '\n== %s\n' "$*"; }

step "pskprov init"
"$P" init
step "pskprov keys generate --count 1000 --batch demo"
"$P" keys generate --count 1000 --batch demo
step "pskprov keys generate --count 3 --batch kiosk --shared 5"
"$P" keys generate --count 3 --batch kiosk --shared 5
step "pskprov keys list --batch kiosk"
"$P" keys list --batch kiosk
step "pskprov usb create --batch demo --count 10 --server 127.0.0.1:9971 --scramble"
"$P" usb create --batch demo --count 10 --out "$DIR/setup.bin" --server 127.0.0.1:9971 --scramble
step "pskprov usb inspect setup.bin (secrets hidden)"
"$P" usb inspect "$DIR/setup.bin" | head -30
step "pskprov keys list --state exported --limit 5"
"$P" keys list --state exported --limit 5
step "pskprov keys export --batch kiosk --format csv"
"$P" keys export --batch kiosk --format csv --out "$DIR/kiosk.csv"
ls -l "$DIR/kiosk.csv"
step "pskprov audit verify"
"$P" audit verify
printf '\ndemo: done\n'
