#!/bin/sh
# Rejects functions the house style bans (docs/HACKING.md), in C sources.
# Fuzz targets are held to the same rule.
set -eu
pattern='\b(strcpy|strcat|sprintf|vsprintf|strtok|atoi|atol|atoll|gets|sscanf|system|popen|strncpy|rand|srand|tmpnam|mktemp)[[:space:]]*\('
hits=$(git ls-files '*.c' '*.h' | xargs -r grep -nE "$pattern" | grep -vE '^[^:]+:[0-9]+:\s*(/\*|\*|//)' || true)
# memcmp on secrets: any memcmp in a line that mentions a secret name.
secret_hits=$(git ls-files '*.c' '*.h' | xargs -r grep -nE '\bmemcmp[[:space:]]*\(.*(pps|password|secret|key|tag|mac)' || true)
if [ -n "$hits$secret_hits" ]; then
	echo "banned: functions the house style forbids:" >&2
	[ -n "$hits" ] && echo "$hits" >&2
	[ -n "$secret_hits" ] && echo "$secret_hits (use pp_ct_eq)" >&2
	exit 1
fi
echo "banned: ok"
