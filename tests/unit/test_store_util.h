/* Helpers the store tests and benchmarks share: made-up PIDs, a scratch directory, a
 * test master key, message checks. */
#ifndef PSKPROV_TEST_STORE_UTIL_H
#define PSKPROV_TEST_STORE_UTIL_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/err.h"
#include "store/masterkey.h"

/* A canonical PID from n: 7 base-36 symbols and the checksum of protocol.md 1. */
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

#endif
