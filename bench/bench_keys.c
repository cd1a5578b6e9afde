/* Key generation and derivation rates. Prints figures; never passes or fails.
 *
 * Usage: bench_keys [seconds per figure, default 1]
 *        bench_keys --bare-insert N DB
 *
 * --bare-insert is the yardstick of `pskprov keys generate` (bench/keys_cli.sh): N key
 * rows inserted into DB, a database `pskprov init` made (so the table, its columns and
 * indexes are the real schema), the way SQLite inserts fastest: one prepared statement,
 * one transaction, rows sorted by PID, with the PRAGMAs of lib/store/sqlite.c. The rows
 * are made before the clock starts: valid PIDs, and random bytes of the sealed PPS and
 * MEBx password's lengths in place of the sealed blobs (no crypto). The clock runs from
 * opening the database to closing it, as the command's does. */
#include <inttypes.h>
#include <sqlite3.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#include "core/parse.h"
#include "core/secret.h"
#include "keys/keys.h"
#include "store/seal.h"
#include "../tests/unit/test_store_util.h"

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void machine_info(void)
{
	struct utsname u;
	if (uname(&u) == 0)
		printf("machine: %s %s %s\n", u.sysname, u.release, u.machine);
	char model[256] = "unknown";
	FILE *f = fopen("/proc/cpuinfo", "re");
	if (f) {
		char line[512];
		while (fgets(line, sizeof(line), f)) {
			if (strncmp(line, "model name", 10) != 0)
				continue;
			const char *colon = strchr(line, ':');
			if (!colon)
				continue;
			colon++;
			while (*colon == ' ' || *colon == '\t')
				colon++;
			snprintf(model, sizeof(model), "%s", colon);
			model[strcspn(model, "\n")] = '\0';
			break;
		}
		fclose(f);
	}
	printf("cpu: %s, %ld online\n", model, sysconf(_SC_NPROCESSORS_ONLN));
}

/* Each bench runs its body in rounds of `batch` until `secs` have passed. */
#define BENCH(label, unit, secs, batch, body)                                                      \
	do {                                                                                       \
		unsigned long n_ = 0;                                                              \
		double t0_ = now(), t_;                                                            \
		do {                                                                               \
			for (unsigned long i_ = 0; i_ < (batch); i_++) {                           \
				body;                                                              \
			}                                                                          \
			n_ += (batch);                                                             \
			t_ = now() - t0_;                                                          \
		} while (t_ < (secs));                                                             \
		printf("%-44s %12.0f %s/s  (%lu in %.2f s)\n", label, (double)n_ / t_, unit, n_,   \
		       t_);                                                                        \
	} while (0)

/* ---- --bare-insert ---- */

#define BARE_MEBX_LEN 16 /* pskprov.conf mebx_password_length, default */
#define BARE_PPS_BLOB (PP_PPS_LEN + PP_SEAL_OVERHEAD)
#define BARE_MEBX_BLOB (BARE_MEBX_LEN + PP_SEAL_OVERHEAD)
#define PID_SPACE 78364164096ULL /* 36^7 */

struct bare_row {
	char pid[PP_PID_LEN + 1];
	uint8_t pps[BARE_PPS_BLOB];
	uint8_t mebx[BARE_MEBX_BLOB];
};

static uint64_t xorshift(uint64_t *s)
{
	uint64_t x = *s;
	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	return *s = x;
}

/* CPU seconds of this process: on a shared machine wall time includes other tenants. */
static double cpu_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int u64_cmp(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

/* n rows with distinct PIDs in increasing order (a PID's text orders as its 7 symbols'
 * base-36 value). */
static struct bare_row *bare_rows(uint64_t n)
{
	uint64_t *code = calloc(n, sizeof(*code));
	struct bare_row *r = calloc(n, sizeof(*r));
	uint64_t rng = 0x9E3779B97F4A7C15ULL, have = 0;
	while (code && r && have < n) {
		for (uint64_t i = have; i < n; i++)
			code[i] = xorshift(&rng) % PID_SPACE;
		qsort(code, n, sizeof(*code), u64_cmp);
		have = n ? 1 : 0;
		for (uint64_t i = 1; i < n; i++)
			if (code[i] != code[have - 1])
				code[have++] = code[i];
	}
	for (uint64_t i = 0; code && r && i < n; i++) {
		pp_test_pid(code[i], r[i].pid);
		for (size_t k = 0; k < sizeof(r[i].pps); k++)
			r[i].pps[k] = (uint8_t)xorshift(&rng);
		for (size_t k = 0; k < sizeof(r[i].mebx); k++)
			r[i].mebx[k] = (uint8_t)xorshift(&rng);
	}
	free(code);
	if (!code) {
		free(r);
		return NULL;
	}
	return r;
}

static int bare_fail(sqlite3 *db, const char *what)
{
	fprintf(stderr, "bench_keys: %s: %s\n", what, db ? sqlite3_errmsg(db) : "cannot open");
	return 1;
}

/* lib/store/sqlite.c configure() and ST_KEY_INSERT. */
static const char bare_pragmas[] = "PRAGMA journal_mode = WAL;"
				   "PRAGMA synchronous = NORMAL;"
				   "PRAGMA temp_store = MEMORY;"
				   "PRAGMA foreign_keys = ON;"
				   "PRAGMA journal_size_limit = 67108864;"
				   "PRAGMA cache_size = -32768;";
static const char bare_insert_sql[] =
    "INSERT INTO keys (pid, batch_id, pps, mebx, state, max_devices, created, updated) "
    "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?7)";

static int bare_insert_all(sqlite3 *db, const struct bare_row *r, uint64_t n)
{
	sqlite3_stmt *st = NULL;
	if (sqlite3_exec(db,
			 "BEGIN IMMEDIATE; INSERT INTO batches (name, derived, secret, "
			 "shared_max, created) VALUES ('bare', 0, NULL, 0, 0)",
			 NULL, NULL, NULL) != SQLITE_OK)
		return bare_fail(db, "begin");
	sqlite3_int64 batch = sqlite3_last_insert_rowid(db);
	if (sqlite3_prepare_v3(db, bare_insert_sql, -1, SQLITE_PREPARE_PERSISTENT, &st, NULL) !=
	    SQLITE_OK)
		return bare_fail(db, "prepare");
	int rc = SQLITE_OK;
	for (uint64_t i = 0; i < n && rc == SQLITE_OK; i++) {
		sqlite3_bind_text(st, 1, r[i].pid, PP_PID_LEN, SQLITE_STATIC);
		sqlite3_bind_int64(st, 2, batch);
		sqlite3_bind_blob(st, 3, r[i].pps, sizeof(r[i].pps), SQLITE_STATIC);
		sqlite3_bind_blob(st, 4, r[i].mebx, sizeof(r[i].mebx), SQLITE_STATIC);
		sqlite3_bind_text(st, 5, "available", -1, SQLITE_STATIC);
		sqlite3_bind_int64(st, 6, 1);
		sqlite3_bind_int64(st, 7, (sqlite3_int64)time(NULL));
		rc = sqlite3_step(st) == SQLITE_DONE ? SQLITE_OK : SQLITE_ERROR;
		sqlite3_reset(st);
	}
	sqlite3_finalize(st);
	if (rc != SQLITE_OK)
		return bare_fail(db, "insert");
	if (sqlite3_exec(db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK)
		return bare_fail(db, "commit");
	return 0;
}

static int bare_insert(const char *count, const char *path)
{
	uint64_t n;
	struct pp_err err;
	if (pp_parse_u64(count, 1, 10000000, &n, "count", &err) < 0) {
		fprintf(stderr, "bench_keys: %s\n", err.msg);
		return 2;
	}
	double t0 = now();
	struct bare_row *r = bare_rows(n);
	if (!r) {
		fprintf(stderr, "bench_keys: out of memory\n");
		return 1;
	}
	double t1 = now(), c1 = cpu_now();
	sqlite3 *db = NULL;
	int rc = 1;
	if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, NULL) !=
	    SQLITE_OK)
		bare_fail(db, path);
	else if (sqlite3_exec(db, bare_pragmas, NULL, NULL, NULL) != SQLITE_OK)
		bare_fail(db, "pragmas");
	else
		rc = bare_insert_all(db, r, n);
	if (sqlite3_close(db) != SQLITE_OK && rc == 0)
		rc = bare_fail(db, "close");
	double t2 = now(), c2 = cpu_now();
	free(r);
	if (rc == 0)
		printf("bare insert: %" PRIu64 " rows in %.3f s = %.0f rows/s, CPU %.3f s (rows "
		       "made beforehand in %.3f s)\n",
		       n, t2 - t1, (double)n / (t2 - t1), c2 - c1, t1 - t0);
	return rc;
}

int main(int argc, char **argv)
{
	double secs = 1.0;
	struct pp_err err;
	if (argc == 4 && strcmp(argv[1], "--bare-insert") == 0)
		return bare_insert(argv[2], argv[3]);
	if (argc > 1 && pp_parse_double(argv[1], 0.05, 600, &secs, "seconds", &err) < 0) {
		fprintf(stderr, "bench_keys: %s\n", err.msg);
		return 2;
	}
	machine_info();

	struct pp_keygen *g = NULL;
	if (pp_keygen_new(&g) < 0) {
		fprintf(stderr, "bench_keys: cannot create a generator\n");
		return 1;
	}
	struct pp_pid pid;
	struct pp_pps pps;
	char text[PP_PPS_TEXT], pw[PP_MEBX_PW_MAX + 1];
	unsigned sink = 0;
	int fails = 0;

	BENCH("generate PID+PPS pairs (pp_keygen)", "pairs", secs, 4096, {
		fails |= pp_keygen_pid(g, &pid);
		fails |= pp_keygen_pps(g, &pps);
		sink += (unsigned char)pid.s[0] + (unsigned char)pps.s[0];
	});
	BENCH("generate + format PID+PPS pairs", "pairs", secs, 4096, {
		fails |= pp_keygen_pid(g, &pid);
		fails |= pp_keygen_pps(g, &pps);
		pp_pid_format(&pid, text);
		sink += (unsigned char)text[5];
		pp_pps_format(&pps, text);
		sink += (unsigned char)text[5];
	});
	BENCH("generate PID+PPS one-off (pp_*_generate)", "pairs", secs, 1024, {
		fails |= pp_pid_generate(&pid);
		fails |= pp_pps_generate(&pps);
		sink += (unsigned char)pps.s[0];
	});
	BENCH("generate MEBx passwords, 16 chars", "passwords", secs, 1024, {
		fails |= pp_keygen_password(g, 16, pw);
		sink += (unsigned char)pw[0];
	});
	enum { CODES = 1000000 };
	uint64_t *codes = calloc(CODES, sizeof(*codes));
	double c0 = now();
	fails |= codes ? pp_keygen_pid_codes(g, codes, CODES) : -1;
	double c1 = now();
	printf("%-44s %12.0f PIDs/s  (%d in %.2f s)\n", "draw 1,000,000 sorted distinct PIDs",
	       CODES / (c1 - c0), CODES, c1 - c0);
	free(codes);

	uint8_t secret[32];
	for (size_t i = 0; i < sizeof(secret); i++)
		secret[i] = (uint8_t)(i * 7 + 1);
	if (pp_keygen_pid(g, &pid) < 0)
		fails = 1;
	BENCH("derive PPS (HMAC-SHA256, pp_pps_derive)", "keys", secs, 1024, {
		fails |= pp_pps_derive(secret, sizeof(secret), &pid, &pps);
		pid.s[0] = pps.s[0]; /* vary the PID, keep it valid */
		pid.s[PP_PID_LEN - 1] = pp_key_checksum(pid.s, PP_PID_LEN - 1);
		sink += (unsigned char)pps.s[1];
	});

	pp_pps_format(&pps, text);
	BENCH("parse PPS text (pp_pps_parse)", "keys", secs, 4096, {
		fails |= pp_pps_parse(text, &pps, NULL);
		sink += (unsigned char)pps.s[2];
	});

	printf("(checksum of outputs %u%s)\n", sink, fails ? ", SOME CALLS FAILED" : "");
	pp_wipe(&pps, sizeof(pps));
	pp_wipe(text, sizeof(text));
	pp_wipe(pw, sizeof(pw));
	pp_keygen_free(g);
	return 0;
}
