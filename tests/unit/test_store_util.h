/* Helpers the store tests and benchmarks share: made-up PIDs, a scratch directory, a
 * test master key, message checks. */
#ifndef PSKPROV_TEST_STORE_UTIL_H
#define PSKPROV_TEST_STORE_UTIL_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/err.h"
#include "store/masterkey.h"
#include "store/store.h"

/* A canonical PID from n: 7 base-36 symbols and the checksum of docs/protocol.md section 1. */
static inline void pp_test_pid(uint64_t n, char out[9])
{
	static const char a[] = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ";
	unsigned sum = 0;
	for (int i = 6; i >= 0; i--) {
		out[i] = a[n % 36];
		n /= 36;
	}
	for (int i = 0; i < 7; i++)
		sum += (unsigned char)out[i];
	out[7] = a[sum % 36];
	out[8] = '\0';
}

/* A fixed master key of its own for each test file: k[i] = seed ^ (i * mul). */
static inline void pp_test_master_key(struct pp_master_key *mk, uint8_t seed, unsigned mul)
{
	for (size_t i = 0; i < sizeof(mk->k); i++)
		mk->k[i] = (uint8_t)(seed ^ (i * mul));
}

/* A fresh 0700 directory under $TMPDIR (else /tmp) named tag-XXXXXX, and the path of
 * a database file in it; -1 when it cannot be made. */
static inline int pp_test_scratch(const char *tag, char *dir, size_t dcap, char *db, size_t bcap)
{
	const char *base = getenv("TMPDIR");
	snprintf(dir, dcap, "%s/%s-XXXXXX", base && *base ? base : "/tmp", tag);
	if (!mkdtemp(dir))
		return -1;
	snprintf(db, bcap, "%s/pskprov.db", dir);
	return 0;
}

/* The end of a fixture's setup: rc is the store's open. */
static inline int pp_test_opened(void **state, void *f, int rc, const struct pp_err *err)
{
	if (rc < 0) {
		fprintf(stderr, "setup: %s\n", err->msg);
		return -1;
	}
	*state = f;
	return 0;
}

/* A 32-symbol PPS for key n, distinct per test file by (a, b) and its first two
 * symbols (the store checks the shape only). */
static inline void pp_test_pps(uint64_t n, unsigned a, unsigned b, const char prefix[2],
			       char out[33])
{
	static const char al[] = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ";
	for (int i = 0; i < 32; i++)
		out[i] = al[(n * a + (uint64_t)i * b + (n >> (i % 8))) % 36];
	memcpy(out, prefix, 2);
	out[32] = '\0';
}

#ifdef fail_msg /* cmocka's: tests only */
static inline void pp_test_expect_msg(const struct pp_err *err, const char *needle)
{
	if (!strstr(err->msg, needle))
		fail_msg("message '%s' lacks '%s'", err->msg, needle);
}
#endif

#ifdef fail_msg
/* A second handle on the same store, for the tests of concurrency: rc is its open,
 * which set *o (read here, after the call: argument order is unspecified). */
static inline struct pp_store *pp_test_handle(int rc, struct pp_store **o, const struct pp_err *err)
{
	if (rc < 0)
		fail_msg("second handle: %s", err->msg);
	return *o;
}
#endif

#if defined(fail_msg) && defined(SQLITE_OK)
/* The test's own handle on an SQLite store's file, beside the store's. */
static inline sqlite3 *pp_test_sqlite_open(const char *path)
{
	sqlite3 *db = NULL;
	assert_int_equal(sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE, NULL), SQLITE_OK);
	sqlite3_busy_timeout(db, 2000);
	return db;
}

static inline void pp_test_sqlite_exec(sqlite3 *db, const char *sql)
{
	char *msg = NULL;
	if (sqlite3_exec(db, sql, NULL, NULL, &msg) != SQLITE_OK)
		fail_msg("raw sql '%s': %s", sql, msg ? msg : "?");
}
#endif

#ifdef fail_msg
/* n audit entries act.1 .. act.n by "admin", some with a subject or a detail. */
static inline void pp_test_audit_append_n(struct pp_store *s, int n)
{
	for (int i = 1; i <= n; i++) {
		char action[32], detail[64];
		snprintf(action, sizeof(action), "act.%d", i);
		snprintf(detail, sizeof(detail), "detail %d: ünicode ok", i);
		struct pp_err err = {0};
		if (pp_store_audit_append(s, "admin", action, i % 2 ? "0000037M" : NULL,
					  i % 3 ? detail : NULL, &err) < 0)
			fail_msg("append %d: %s", i, err.msg);
	}
}
#endif

/* Removes an SQLite database with its -wal, -shm and -journal files. */
static inline void pp_test_remove_db(const char *db)
{
	static const char *const suffix[] = {"", "-wal", "-shm", "-journal"};
	for (size_t i = 0; i < sizeof(suffix) / sizeof(suffix[0]); i++) {
		char p[4200];
		snprintf(p, sizeof(p), "%s%s", db, suffix[i]);
		unlink(p);
	}
}

#ifdef fail_msg
/* A batch; a derived one gets the secret secret[i] = i * mul + add. */
static inline int64_t pp_test_batch(struct pp_store *s, const char *name, bool derived,
				    uint32_t shared, unsigned mul, unsigned add)
{
	uint8_t secret[32];
	for (unsigned i = 0; i < 32; i++)
		secret[i] = (uint8_t)(i * mul + add);
	struct pp_batch_new b = {.name = name,
				 .derived = derived,
				 .secret = derived ? secret : NULL,
				 .secret_len = derived ? sizeof(secret) : 0,
				 .shared_max = shared};
	int64_t id = 0;
	struct pp_err err = {0};
	if (pp_store_batch_create(s, &b, &id, &err) < 0)
		fail_msg("batch %s: %s", name, err.msg);
	return id;
}
#endif

#endif
