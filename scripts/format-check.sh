#!/bin/sh
# Fails when any tracked C file differs from what clang-format makes of it.
set -eu
bad=0
for f in $(git ls-files '*.c' '*.h'); do
	if ! clang-format --dry-run --Werror "$f" >/dev/null 2>&1; then
		echo "format: $f is not clang-formatted (run: make format)" >&2
		bad=1
	fi
done
[ "$bad" -eq 0 ] && echo "format: ok"
exit "$bad"
