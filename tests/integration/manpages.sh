#!/usr/bin/env bash
# manpages: every command of `pskprov --help` has its page, docs/man/pskprov-CMD.[18].scd,
# and every option that a --help shows (the program's, each command's and each
# subcommand's: `pskprov keys generate --help`, ...) is in that page, as is the name of
# every subcommand. Commands added later are covered as they appear in the table of
# src/main.c. Every key of the config `pskprov init` writes is in pskprov.conf(5). Each
# page has the sections a man page needs, and scdoc (when installed) renders it. A copy of the pages with an option and a page taken out must fail the same
# check.
. "$(dirname "$0")/lib/common.sh"
set -e

MAN=$PP_SOURCE_DIR/docs/man
[ -d "$MAN" ] || fail "$MAN is missing"

# The options a help text shows: --long and -s, not the dashes inside words (in-use,
# PSK-AES, XXXX-XXXC).
options_of() {
	grep -oE -- '(^|[^a-zA-Z0-9_-])--?[a-zA-Z][a-zA-Z0-9-]*' | sed -E 's/^[^-]+//' | sort -u
}
# The names listed under "commands:".
commands_of() { sed -n '/^commands:/,$ s/^  \([a-z][a-z0-9-]*\) .*/\1/p'; }
# mentions PAGE WORD: WORD stands alone in PAGE (--count, not --count-max).
mentions() { grep -qE -- "(^|[^a-zA-Z0-9_-])$2([^a-zA-Z0-9_-]|$)" "$1"; }

# help WORDS...: `pskprov WORDS... --help` into $HELP; it must succeed.
help() {
	run "$P" "$@" --help
	[ "$RC" -eq 0 ] || fail "'pskprov $* --help' exited $RC: $ERR"
	[ -n "$OUT" ] || fail "'pskprov $* --help' printed nothing"
	HELP=$OUT
}

# check_pages DIR: prints one line per problem with the pages of DIR.
check_pages() {
	local dir=$1 cmd sub page opt
	help
	local top=$HELP
	[ -f "$dir/pskprov.1.scd" ] || echo "no page pskprov.1.scd"
	for opt in $(printf '%s\n' "$top" | options_of); do
		[ ! -f "$dir/pskprov.1.scd" ] || mentions "$dir/pskprov.1.scd" "$opt" ||
			echo "pskprov.1.scd: option $opt of 'pskprov --help' is missing"
	done
	for cmd in $(printf '%s\n' "$top" | commands_of); do
		page=$(ls "$dir"/pskprov-"$cmd".[18].scd 2>/dev/null | head -1)
		if [ -z "$page" ]; then
			echo "command '$cmd' has no page pskprov-$cmd.1.scd or .8.scd"
			continue
		fi
		mentions "$dir/pskprov.1.scd" "$cmd" ||
			echo "pskprov.1.scd: command '$cmd' is not listed"
		help "$cmd"
		local chelp=$HELP texts=$HELP
		for sub in $(printf '%s\n' "$chelp" | commands_of); do
			mentions "$page" "$sub" || echo "$(basename "$page"): subcommand '$sub' is missing"
			help "$cmd" "$sub"
			texts+=$'\n'$HELP
		done
		for opt in $(printf '%s\n' "$texts" | options_of); do
			mentions "$page" "$opt" ||
				echo "$(basename "$page"): option $opt of 'pskprov $cmd ... --help' is missing"
		done
	done
}

# check_sections PAGE: the parts every page has.
check_sections() {
	local page=$1 name sec
	name=$(basename "$page" .scd)
	head -1 "$page" | grep -qixF "${name%.*}(${name##*.})" ||
		echo "$(basename "$page"): the first line is not '${name%.*}(${name##*.})'"
	local want=("# NAME" "# SYNOPSIS" "# DESCRIPTION" "# FILES" "# SEE ALSO")
	case $name in
	*.[18]) want+=("# OPTIONS" "# EXIT STATUS" "# EXAMPLES") ;;
	*) want+=("# EXAMPLE") ;;
	esac
	for sec in "${want[@]}"; do
		grep -qxF "$sec" "$page" || echo "$(basename "$page"): no section '$sec'"
	done
}

# check_conf_keys PAGE: every section and key of the config `pskprov init` writes (every
# key, commented, at its default) is in pskprov.conf(5).
check_conf_keys() {
	local page=$1 line
	while IFS= read -r line; do
		case $line in
		"["*"]") grep -qxF "# $line" "$page" || echo "$(basename "$page"): no section '# $line'" ;;
		"# "[a-z]*" = "* | "# "[a-z]*" ="*)
			line=${line#"# "}
			line=${line%% *}
			grep -qE -- "^\*$line\* =" "$page" || echo "$(basename "$page"): key '$line' is missing"
			;;
		esac
	done <"$T/conf/pskprov.conf"
}

problems=$(check_pages "$MAN")
[ -z "$problems" ] || fail "the man pages and --help differ:
$problems"
ok
run "$P" -d "$T/conf" init
[ "$RC" -eq 0 ] || fail "init: $ERR"
problems=$(check_conf_keys "$MAN/pskprov.conf.5.scd")
[ -z "$problems" ] || fail "pskprov.conf(5) and the config init writes differ:
$problems"
ok
npages=0
for page in "$MAN"/*.scd; do
	problems=$(check_sections "$page")
	[ -z "$problems" ] || fail "$problems"
	if command -v scdoc >/dev/null; then
		scdoc <"$page" >"$T/page" 2>"$T/scdoc.err" || fail "scdoc $(basename "$page"): $(cat "$T/scdoc.err")"
		grep -q '^\.SH' "$T/page" || fail "scdoc $(basename "$page"): no sections rendered"
	fi
	npages=$((npages + 1))
	ok
done
command -v scdoc >/dev/null || echo "note: scdoc is missing; the pages were not rendered"

# The check can fail: a copy without the keys page's --passphrase-file, without the
# usb page and without a subcommand of the devices page.
cp -r "$MAN" "$T/man"
sed -i 's/--passphrase-file/--pass-file/g' "$T/man/pskprov-keys.1.scd"
rm "$T/man/pskprov-usb.1.scd"
sed -i 's/credentials/creds/g' "$T/man/pskprov-devices.1.scd"
problems=$(check_pages "$T/man")
for want in "pskprov-keys.1.scd: option --passphrase-file" "command 'usb' has no page" \
	"pskprov-devices.1.scd: subcommand 'credentials' is missing"; do
	printf '%s\n' "$problems" | grep -qF -- "$want" || fail "a broken copy passed: no '$want' in: $problems"
	ok
done
sed -i 's/^\*lease_seconds\* =/*lease* =/' "$T/man/pskprov.conf.5.scd"
check_conf_keys "$T/man/pskprov.conf.5.scd" | grep -qF "key 'lease_seconds' is missing" ||
	fail "a pskprov.conf(5) without lease_seconds passed"
ok
sed -i '/^# EXIT STATUS$/d' "$T/man/pskprov-jobs.1.scd"
check_sections "$T/man/pskprov-jobs.1.scd" | grep -qF "no section '# EXIT STATUS'" ||
	fail "a page without EXIT STATUS passed"
ok
echo "$npages pages checked against every --help"
finish
