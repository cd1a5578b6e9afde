# Shared by the integration tests: a scratch directory, assertions, secret scans.
# Each test script sources this, runs the real binary ($PSKPROV) and exits non-zero on
# the first failed assertion.
set -u
: "${PSKPROV:?PSKPROV must name the pskprov binary}"
P="$PSKPROV"
T=$(mktemp -d "${TMPDIR:-/tmp}/pp-it-$(basename "$0" .sh).XXXXXX")
LOG="$T/commands.log"
: >"$LOG"
export PSKPROV_DIR="$T/data"
unset PSKPROV_MASTER_KEY
PASSES=0
cleanup() {
	rc=$?
	if [ "$rc" -ne 0 ] && [ "$rc" -ne 77 ]; then
		echo "--- last commands (log: $LOG)" >&2
		tail -20 "$LOG" >&2 || true
		for f in "$T"/*.log; do
			[ -f "$f" ] && [ "$f" != "$LOG" ] || continue
			echo "--- errors in $(basename "$f")" >&2
			grep -E ' (error|warn) ' "$f" | grep -v 'malformed hello' | tail -8 >&2 || true
		done
	fi
	# A process of the test may still be writing there (a device saving its state as it
	# stops): try again for a moment rather than fail a test that passed.
	if [ -z "${KEEP:-}" ]; then
		for _ in 1 2 3 4 5 6 7 8 9 10; do
			rm -rf "$T" 2>/dev/null && break
			sleep 0.2
		done
		[ ! -e "$T" ] || echo "note: could not remove $T" >&2
	fi
	exit "$rc"
}
trap cleanup EXIT

fail() { echo "FAIL: $*" >&2; exit 1; }

# port_base: the first of 10 ports for the test's listeners, drawn below the kernel's
# ephemeral range (32768 and up), where the outgoing connections of tests running at
# the same time take their ports.
port_base() { echo $((10000 + (RANDOM % 2270) * 10)); }
ok() { PASSES=$((PASSES + 1)); }

# run CMD...: runs it, keeping stdout in $OUT, stderr in $ERR, exit code in $RC; stdout
# and stderr are also appended to $LOG (the log later scanned for secrets).
run() {
	set +e
	"$@" >"$T/out" 2>"$T/err"
	RC=$?
	set -e
	OUT=$(cat "$T/out")
	ERR=$(cat "$T/err")
	{ echo "\$ $*"; cat "$T/out" "$T/err"; } >>"$LOG"
}
# Like run, but its output holds secrets on purpose (--reveal, exports): not logged.
run_secret() {
	set +e
	"$@" >"$T/out" 2>"$T/err"
	RC=$?
	set -e
	OUT=$(cat "$T/out")
	ERR=$(cat "$T/err")
	echo "\$ $* (output not logged: holds secrets)" >>"$LOG"
}

expect_rc() { [ "$RC" -eq "$1" ] || fail "$2: exit $RC, expected $1 (stderr: $ERR)"; ok; }
expect_out() { printf '%s' "$OUT" | grep -qF -- "$1" || fail "stdout lacks '$1': $OUT"; ok; }
expect_err() { printf '%s' "$ERR" | grep -qF -- "$1" || fail "stderr lacks '$1': $ERR"; ok; }
# One line on stderr for a failure.
expect_one_line_err() {
	n=$(printf '%s\n' "$ERR" | grep -c . || true)
	[ "$n" -eq 1 ] || fail "expected a one-line error, got $n lines: $ERR"
	ok
}
expect_mode() {
	m=$(stat -c %a "$1")
	[ "$m" = "$2" ] || fail "$1 has mode $m, expected $2"
	ok
}
count_lines() { grep -c "$1" "$2" || true; }

# scan_for_secrets FILE_WITH_ONE_SECRET_PER_LINE PATH...: no secret occurs in any path.
scan_for_secrets() {
	list=$1
	shift
	[ -s "$list" ] || fail "secret list $list is empty"
	for f in "$@"; do
		[ -e "$f" ] || continue
		if grep -a -F -f "$list" "$f" >/dev/null 2>&1; then
			fail "a plaintext secret appears in $f"
		fi
	done
	ok
}

# have_vectors SUBDIR FILE...: true when the external test vectors are present under
# $PP_VECTORS_DIR/SUBDIR. When one is missing the part of the test that needs them is
# skipped, and finish exits 77 (a skip for ctest), unless PSKPROV_REQUIRE_VECTORS=1
# makes that a failure.
SKIPPED=""
have_vectors() {
	d="${PP_VECTORS_DIR:-}/$1"
	shift
	for f in "$@"; do
		[ -n "${PP_VECTORS_DIR:-}" ] && [ -f "$d/$f" ] && continue
		[ "${PSKPROV_REQUIRE_VECTORS:-}" != 1 ] ||
			fail "vector $d/$f is missing and PSKPROV_REQUIRE_VECTORS=1"
		echo "note: vector $d/$f not found: its checks are skipped" >&2
		SKIPPED="$SKIPPED $f"
		return 1
	done
}

finish() {
	echo "$(basename "$0"): $PASSES checks passed"
	if [ -n "$SKIPPED" ]; then
		echo "$(basename "$0"): SKIPPED the checks that need$SKIPPED"
		exit 77
	fi
}
