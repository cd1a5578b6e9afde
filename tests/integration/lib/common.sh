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
# skip REASON: this test cannot run here; exit 77, which ctest reports as Skipped.
skip() {
	echo "SKIP: $(basename "$0"): $*"
	exit 77
}
# need_pg: the throwaway cluster (scripts/pg-test.sh) must be there; without it the
# test is skipped, or fails when PSKPROV_REQUIRE_PG=1 (CI).
need_pg() {
	[ -n "${PSKPROV_TEST_PG:-}" ] && return 0
	[ "${PSKPROV_REQUIRE_PG:-}" = 1 ] &&
		fail "PSKPROV_TEST_PG is not set and PSKPROV_REQUIRE_PG=1 (run under scripts/pg-test.sh)"
	skip "PSKPROV_TEST_PG is not set (run under scripts/pg-test.sh)"
}
# pg_schema PREFIX: a fresh schema of the test's own in the test database; sets SCHEMA
# and CONN (the conninfo that selects it). pg_drop_schema removes it.
pg_schema() {
	SCHEMA="$1_$$_$RANDOM"
	psql "$PSKPROV_TEST_PG" -qc "CREATE SCHEMA $SCHEMA" >/dev/null || fail "cannot create a schema"
	CONN="$PSKPROV_TEST_PG options=-csearch_path=$SCHEMA"
}
pg_drop_schema() { psql "$PSKPROV_TEST_PG" -qc "DROP SCHEMA $SCHEMA CASCADE" >/dev/null 2>&1 || true; }

# port_base: the first of 10 ports for the test's listeners, drawn below the kernel's
# ephemeral range (32768 and up), where the outgoing connections of tests running at
# the same time take their ports.
port_base() { echo $((10000 + (RANDOM % 2270) * 10)); }
ok() { PASSES=$((PASSES + 1)); }

# run CMD...: runs it, keeping stdout in $OUT, stderr in $ERR, exit code in $RC; stdout
# and stderr are also appended to $LOG (the log later scanned for secrets).
run_unlogged() {
	set +e
	"$@" >"$T/out" 2>"$T/err"
	RC=$?
	set -e
	OUT=$(cat "$T/out")
	ERR=$(cat "$T/err")
}
run() {
	run_unlogged "$@"
	{ echo "\$ $*"; cat "$T/out" "$T/err"; } >>"$LOG"
}
# Like run, but its output holds secrets on purpose (--reveal, exports): not logged.
run_secret() {
	run_unlogged "$@"
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

# Keys as the tests write them: a PID or PPS without dashes, and the TLS PSK (the hex of
# the 32 ASCII bytes of the PPS, docs/protocol.md section 1); md5hex for HTTP Digest.
nodash() { printf '%s' "$1" | tr -d -; }
hexkey() { printf '%s' "$1" | tr -d - | od -An -tx1 | tr -d ' \n'; }
md5hex() { printf '%s' "$1" | openssl dgst -md5 -r | cut -d' ' -f1; }

# The key CSV a test exported (pid,pps,mebx_password,batch; $CSV, else $T/k.csv):
# row N (1-based, after the header), one field of it, its PID without dashes, its PSK.
row() { sed -n "$(($1 + 1))p" "${CSV:-$T/k.csv}"; }
field() { row "$1" | cut -d, -f"$2"; }
pid_of() { nodash "$(field "$1" 1)"; }
hex_of() { hexkey "$(field "$1" 2)"; }

# init_keys COUNT BATCH: `pskprov init`, COUNT keys in BATCH, exported to $CSV (set it
# first to choose the file; else $T/k.csv).
init_keys() {
	CSV=${CSV:-$T/k.csv}
	run "$P" init
	expect_rc 0 init
	run "$P" keys generate --count "$1" --batch "$2"
	expect_rc 0 generate
	run "$P" keys export --batch "$2" --format csv --out "$CSV"
	expect_rc 0 export
}
# csv_secrets N: the secrets of the first N rows of $CSV, one a line (PPS dashed and
# not, MEBx password), for scan_for_secrets.
csv_secrets() {
	for i in $(seq "$1"); do
		printf '%s\n%s\n%s\n' "$(field "$i" 2)" "$(nodash "$(field "$i" 2)")" "$(field "$i" 3)"
	done
}

# test_server_conf DEVICE_PORT HTTP_PORT [LEASE_SECONDS]: the data directory's config
# for a server that reaches emulated devices on the test's ports.
test_server_conf() {
	printf '[server]\ndevice_port = %s\ndevice_http_port = %s\nlease_seconds = %s\n' \
		"$1" "$2" "${3:-5}" >"$PSKPROV_DIR/pskprov.conf"
}

# wait_healthz BASE_URL [PID [LOG]]: waits up to 10 s for BASE_URL/healthz to answer 200;
# fails at once when process PID has ended, with the last lines of LOG.
wait_healthz() {
	for _ in $(seq 100); do
		curl -sf -m 2 -o /dev/null "$1/healthz" 2>/dev/null && return 0
		if [ -n "${2:-}" ] && ! kill -0 "$2" 2>/dev/null; then
			fail "the server exited: $(tail -5 "${3:-/dev/null}" 2>/dev/null)"
		fi
		sleep 0.1
	done
	fail "$1/healthz did not answer in 10 s: $(tail -5 "${3:-/dev/null}" 2>/dev/null)"
}

# The server's API on 127.0.0.1:$AP: one Prometheus sample, and a host agent's hello
# (bearer $TOKEN; prints the HTTP code, the body in $T/api.out).
metric() { curl -sf "http://127.0.0.1:$AP/metrics" | awk -v m="$1" '$1 == m {print $2}'; }
agent_hello() { # UUID PID ADDRESS
	curl -s -o "$T/api.out" -w '%{http_code}' -X POST -H 'Content-Type: application/json' \
		-H "Authorization: Bearer $TOKEN" \
		--data "{\"uuid\":\"$1\",\"pid\":\"$2\",\"address\":\"$3\"}" "http://127.0.0.1:$AP/api/v1/hello"
}

finish() {
	echo "$(basename "$0"): $PASSES checks passed"
	if [ -n "$SKIPPED" ]; then
		echo "$(basename "$0"): SKIPPED the checks that need$SKIPPED"
		exit 77
	fi
}
