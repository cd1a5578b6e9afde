#!/usr/bin/env bash
# completion: packaging/completion/pskprov.bash, sourced in bash, completes commands,
# subcommands, options and their values (read from the program's --help) and batch names
# from the store of the data directory given with -d.
. "$(dirname "$0")/lib/common.sh"
set -e

COMP=$PP_SOURCE_DIR/packaging/completion/pskprov.bash
[ -f "$COMP" ] || fail "$COMP is missing"
command -v timeout >/dev/null || skip "timeout is missing"

run "$P" -d "$T/data" init
[ "$RC" -eq 0 ] || fail "init: $ERR"
for b in plant-7 lab; do
	run "$P" -d "$T/data" keys generate --count 2 --batch "$b"
	[ "$RC" -eq 0 ] || fail "keys generate: $ERR"
done
mkdir -p "$T/files/sub"
: >"$T/files/keys.csv"

# complete WORD...: COMPREPLY, one per line, for the command line WORD... with the cursor
# on the last word, in a fresh bash that sourced the script.
complete_words() {
	bash -c '
		source "$1"; shift
		COMP_WORDS=("$@"); COMP_CWORD=$((${#COMP_WORDS[@]} - 1))
		_pskprov || exit 1
		printf "%s\n" "${COMPREPLY[@]}" | sort' _ "$COMP" "$@"
}
# expect "WANTED WORDS" WORD...: COMPREPLY is exactly WANTED WORDS (in any order).
expect() {
	local want got
	want=$(printf '%s\n' $1 | sed '/^$/d' | sort)
	shift
	got=$(complete_words "$@" | sed '/^$/d')
	[ "$got" = "$want" ] || fail "completing '$*': got [$(echo $got)], want [$(echo $want)]"
	ok
}

# Every command of the program's table, and only those.
cmds=$("$P" --help | sed -n '/^commands:/,$ s/^  \([a-z][a-z0-9-]*\) .*/\1/p')
[ -n "$cmds" ] || fail "no commands in pskprov --help"
expect "$cmds" "$P" ""
expect "keys" "$P" ke
expect "device devices" "$P" dev
expect "" "$P" nosuch
expect "--dir --help --version -V -d -h" "$P" -
# Subcommands, then options of the subcommand.
expect "generate" "$P" keys gen
expect "transport-key" "$P" keys tr
expect "create inspect reconcile" "$P" usb ""
expect "--batch --count --derived --json --mebx-password --shared" "$P" keys generate --
expect "--server --server-fqdn" "$P" usb create --serv
expect "--all" "$P" token list --a
# Option values from the help text.
expect "csv pskc" "$P" keys export --format ""
expect "read admin agent" "$P" token create --role ""
expect "tls12 tls13" "$P" device run --profile tls
expect "" "$P" keys generate --count ""
# Batch names from the store named by -d, before or after the command.
expect "plant-7 lab" "$P" -d "$T/data" keys export --batch ""
expect "plant-7" "$P" keys list -d "$T/data" --batch pl
expect "lab" "$P" usb create --dir="$T/data" --batch l
# Paths: files for --out and positional FILEs, directories for --state-dir.
expect "$T/files/keys.csv $T/files/sub" "$P" keys import "$T/files/"
expect "$T/files/sub" "$P" device show --state-dir "$T/files/"
# -d takes a directory, and is skipped when finding the command.
expect "$T/files/sub" "$P" -d "$T/files/"
expect "list show credentials release" "$P" -d "$T/data" devices ""
expect "list retry" "$P" jobs ""
expect "--after --batch --desc --json --limit --quarantined --search --sort --state" \
	"$P" devices list --
expect "first_seen last_seen host_name address state pid" "$P" devices list --sort ""
expect "first_seen" "$P" devices list --sort fi
expect "failed" "$P" devices list --state fa
expect "--json --reason" "$P" devices release --
finish
