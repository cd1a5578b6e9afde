# bash completion for pskprov (installed as
# /usr/share/bash-completion/completions/pskprov).
#
# Commands, subcommands, options and option values come from the program's own
# --help (one source: what `pskprov keys export --help` shows is what completes), read
# once per shell and command; batch names (--batch) from the store of the data
# directory in use (-d DIR, $PSKPROV_DIR), through `pskprov keys list`.

declare -gA _pskprov_help_cache

# _pskprov_help PROG WORDS...: the --help text of `PROG WORDS... --help`, cached.
_pskprov_help()
{
	local prog=$1
	shift
	local key="$prog $*"
	if [[ -z ${_pskprov_help_cache[$key]+set} ]]; then
		_pskprov_help_cache[$key]=$(timeout 2 "$prog" "$@" --help 2>/dev/null)
	fi
	printf '%s\n' "${_pskprov_help_cache[$key]}"
}

# The names listed under "commands:" in a help text.
_pskprov_commands_of()
{
	sed -n '/^commands:/,$ s/^  \([a-z][a-z0-9-]*\) .*/\1/p'
}

# The options of a help text: those of the usage block (up to its first blank line)
# and of the lines that describe an option.
_pskprov_options_of()
{
	awk '/^usage:/ { u = 1 } u && /^$/ { u = 0 } u || /^ *-/ { print }' |
		grep -oE -- '(^|[[ |(,])--?[a-zA-Z][a-zA-Z0-9-]*' | grep -oE -- '--?[a-zA-Z][a-zA-Z0-9-]*' |
		sort -u
}

# Batch names in the store: the BATCH column of `pskprov keys list`.
_pskprov_batches()
{
	local prog=$1 dir=$2
	local -a d=()
	[[ -n $dir ]] && d=(-d "$dir")
	timeout 3 "$prog" "${d[@]}" keys list 2>/dev/null | awk 'NR > 1 { print $2 }' | sort -u
}

_pskprov()
{
	local cur=${COMP_WORDS[COMP_CWORD]} prev=""
	((COMP_CWORD > 0)) && prev=${COMP_WORDS[COMP_CWORD - 1]}
	local prog=${COMP_WORDS[0]} dir="" cmd="" sub="" i w
	COMPREPLY=()
	command -v "$prog" >/dev/null 2>&1 || prog=pskprov

	# The words before the cursor: -d DIR anywhere, the command, its subcommand.
	for ((i = 1; i < COMP_CWORD; i++)); do
		w=${COMP_WORDS[i]}
		case $w in
		-d | --dir)
			((i++))
			dir=${COMP_WORDS[i]}
			;;
		--dir=*) dir=${w#--dir=} ;;
		-*) ;;
		*)
			if [[ -z $cmd ]]; then
				cmd=$w
			elif [[ -z $sub ]] && _pskprov_help "$prog" "$cmd" | _pskprov_commands_of |
				grep -qxF -- "$w"; then
				sub=$w
			fi
			;;
		esac
	done

	local help
	if [[ -z $cmd ]]; then
		help=$(_pskprov_help "$prog")
	elif [[ -n $sub ]]; then
		help=$(_pskprov_help "$prog" "$cmd" "$sub")
	else
		help=$(_pskprov_help "$prog" "$cmd")
	fi

	# The value of the option before the cursor.
	case $prev in
	-d | --dir)
		compopt -o filenames 2>/dev/null
		mapfile -t COMPREPLY < <(compgen -d -- "$cur")
		return 0
		;;
	--batch)
		mapfile -t COMPREPLY < <(compgen -W "$(_pskprov_batches "$prog" "$dir")" -- "$cur")
		return 0
		;;
	--*)
		# "--format csv|pskc", "--sort first_seen|...": the choices; "--out FILE", "--state-dir DIR": paths;
		# any other value ("--count N"): nothing to offer.
		local spec
		spec=$(printf '%s\n' "$help" |
			grep -oE -- "$prev[ =]([A-Z][A-Z0-9_]*|[a-z0-9._-]+(\|[a-z0-9._-]+)+)" | head -1)
		spec=${spec#"$prev"?}
		if [[ $spec == *"|"* ]]; then
			mapfile -t COMPREPLY < <(compgen -W "${spec//|/ }" -- "$cur")
			return 0
		fi
		case $spec in
		DIR)
			compopt -o filenames 2>/dev/null
			mapfile -t COMPREPLY < <(compgen -d -- "$cur")
			return 0
			;;
		FILE | KEYFILE | PATH)
			compopt -o filenames 2>/dev/null
			mapfile -t COMPREPLY < <(compgen -f -- "$cur")
			return 0
			;;
		?*) return 0 ;;
		esac
		;;
	esac

	if [[ $cur == -* ]]; then
		mapfile -t COMPREPLY < <(compgen -W "$(printf '%s\n' "$help" | _pskprov_options_of)" -- "$cur")
	elif [[ -z $cmd || (-z $sub && -n $(printf '%s\n' "$help" | _pskprov_commands_of)) ]]; then
		mapfile -t COMPREPLY < <(compgen -W "$(printf '%s\n' "$help" | _pskprov_commands_of)" -- "$cur")
	else
		# A positional argument (keys import FILE, usb inspect FILE, ...).
		compopt -o filenames 2>/dev/null
		mapfile -t COMPREPLY < <(compgen -f -- "$cur")
	fi
	return 0
}

complete -F _pskprov pskprov
