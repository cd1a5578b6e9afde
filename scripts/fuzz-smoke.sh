#!/bin/sh
# Runs every fuzz target for FUZZ_SECS seconds from its seed corpus
# (tests/fuzz/corpus/<target>/); a crash fails the run. A target's input cap is the
# max_len of tests/fuzz/<target>.options (libFuzzer's options file format), else 4096:
# formats with multi-record inputs (PSKC, setup.bin, SOAP) need more to be reached.
set -eu
FUZZ_BUILD=${FUZZ_BUILD:-build-fuzz}
FUZZ_SECS=${FUZZ_SECS:-10}
n=0
for bin in "$FUZZ_BUILD"/fuzz_*; do
	[ -x "$bin" ] || continue
	name=$(basename "$bin")
	seeds="tests/fuzz/corpus/$name"
	work=$(mktemp -d)
	[ -d "$seeds" ] && cp -r "$seeds"/. "$work"/ 2>/dev/null || true
	max_len=4096
	opts="tests/fuzz/$name.options"
	if [ -f "$opts" ]; then
		v=$(sed -n 's/^max_len *= *\([0-9][0-9]*\) *$/\1/p' "$opts" | head -1)
		[ -n "$v" ] || { echo "fuzz: $opts has no max_len = N line" >&2; exit 1; }
		max_len=$v
	fi
	echo "fuzz: $name for ${FUZZ_SECS}s, inputs up to $max_len bytes"
	if ! "$bin" -max_total_time="$FUZZ_SECS" -max_len="$max_len" -rss_limit_mb=2048 \
		-print_final_stats=0 \
		-artifact_prefix="$FUZZ_BUILD/$name-" "$work" >"$FUZZ_BUILD/$name.log" 2>&1; then
		tail -40 "$FUZZ_BUILD/$name.log" >&2
		rm -rf "$work"
		echo "fuzz: $name FAILED (log: $FUZZ_BUILD/$name.log)" >&2
		exit 1
	fi
	grep -E '^#[0-9]+.*DONE' "$FUZZ_BUILD/$name.log" | tail -1 || true
	rm -rf "$work"
	n=$((n + 1))
done
[ "$n" -gt 0 ] || { echo "fuzz: no fuzz targets were built" >&2; exit 1; }
echo "fuzz: $n targets ran clean"
