/* PID / PPS codec, generation, derivation and MEBx passwords (docs/protocol.md section 1). */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include "core/err.h"
#include "core/secret.h"
#include "keys/keys.h"

/* Intel's worked example. */
#define EX_PID "0000-037M"
#define EX_PPS "NKLD-G5DC-RRNQ-E9YZ-ZIJL-7LFL-VJED-69XJ"
#define EX_PPS_BARE "NKLDG5DCRRNQE9YZZIJL7LFLVJED69XJ"

static const char alphabet[] = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ";

/* Independent of the library: the checksum as docs/protocol.md section 1 states it. */
static char ref_checksum(const char *s, size_t n)
{
	unsigned sum = 0;
	for (size_t i = 0; i < n; i++)
		sum += (unsigned char)s[i];
	sum %= 36;
	return (char)(sum < 10 ? '0' + sum : 'A' + sum - 10);
}

static int symbol_value(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'A' && c <= 'Z')
		return c - 'A' + 10;
	return -1;
}

static void lower_str(char *s)
{
	for (; *s; s++)
		if (*s >= 'A' && *s <= 'Z')
			*s = (char)(*s - 'A' + 'a');
}

/* Chi-square statistic of k counts against the uniform distribution. */
static double chi_square(const unsigned long *counts, size_t k)
{
	unsigned long total = 0;
	for (size_t i = 0; i < k; i++)
		total += counts[i];
	double expect = (double)total / (double)k, x = 0;
	for (size_t i = 0; i < k; i++) {
		double d = (double)counts[i] - expect;
		x += d * d / expect;
	}
	return x;
}

/* 35 degrees of freedom: mean 35, sd 8.4. P(chi2 > 100) is about 5e-8, so a fair
 * generator never trips it, while `byte % 36` over a million symbols scores ~2000. */
#define CHI2_BOUND_35 100.0

static void test_checksum(void **state)
{
	(void)state;
	assert_int_equal(pp_key_checksum("0000037", 7), 'M');
	assert_int_equal(pp_key_checksum("NKL", 3), 'D');
	assert_int_equal(pp_key_checksum("69X", 3), 'J');
	assert_int_equal(pp_key_checksum("000", 3), '0');     /* 144 = 4 x 36 */
	assert_int_equal(pp_key_checksum("0AP", 3), 'D');     /* 193 mod 36 = 13 */
	assert_int_equal(pp_key_checksum("ZZZZZZZ", 7), 'I'); /* 630 mod 36 = 18 */
	assert_int_equal(pp_key_checksum("", 0), '0');
}

static void test_worked_example_round_trip(void **state)
{
	(void)state;
	struct pp_err err;
	struct pp_pid pid;
	struct pp_pps pps;
	char text[PP_PPS_TEXT];

	const char *pids[] = {EX_PID, "0000037M", "0000-037m", "0000037m"};
	for (size_t i = 0; i < sizeof(pids) / sizeof(pids[0]); i++) {
		memset(&pid, 0xAA, sizeof(pid));
		assert_int_equal(pp_pid_parse(pids[i], &pid, &err), 0);
		assert_string_equal(pid.s, "0000037M");
		assert_true(pp_pid_valid(&pid));
		pp_pid_format(&pid, text);
		assert_string_equal(text, EX_PID);
	}

	char lower[PP_PPS_TEXT], lower_bare[PP_PPS_LEN + 1], mixed[PP_PPS_TEXT];
	snprintf(lower, sizeof(lower), "%s", EX_PPS);
	lower_str(lower);
	snprintf(lower_bare, sizeof(lower_bare), "%s", EX_PPS_BARE);
	lower_str(lower_bare);
	snprintf(mixed, sizeof(mixed), "%s", EX_PPS);
	for (size_t i = 0; mixed[i]; i += 3)
		if (mixed[i] >= 'A' && mixed[i] <= 'Z')
			mixed[i] = (char)(mixed[i] - 'A' + 'a');
	const char *ppss[] = {EX_PPS, EX_PPS_BARE, lower, lower_bare, mixed};
	for (size_t i = 0; i < sizeof(ppss) / sizeof(ppss[0]); i++) {
		assert_int_equal(pp_pps_parse(ppss[i], &pps, &err), 0);
		assert_string_equal(pps.s, EX_PPS_BARE);
		assert_true(pp_pps_valid(&pps));
		pp_pps_format(&pps, text);
		assert_string_equal(text, EX_PPS);
		/* and the formatted text parses back to the same value */
		struct pp_pps again;
		assert_int_equal(pp_pps_parse(text, &again, &err), 0);
		assert_true(pp_ct_eq(again.s, pps.s, sizeof(pps.s)));
		pp_wipe(&again, sizeof(again));
	}
	pp_wipe(&pps, sizeof(pps));
}

/* Every single-symbol change of the PID: accepted exactly when the checksum still
 * matches (a change by a multiple of 36 in ASCII, e.g. '0' -> 'T', keeps it). */
static void test_pid_every_corruption(void **state)
{
	(void)state;
	unsigned accepted_changes = 0, rejected = 0;
	for (size_t k = 0; k < PP_PID_LEN; k++) {
		for (size_t a = 0; a < 36; a++) {
			char bare[PP_PID_LEN + 1] = "0000037M";
			bare[k] = alphabet[a];
			char text[PP_PID_TEXT];
			snprintf(text, sizeof(text), "%.4s-%.4s", bare, bare + 4);
			bool ok = ref_checksum(bare, 7) == bare[7];
			for (int low = 0; low < 2; low++) {
				if (low)
					lower_str(text);
				struct pp_pid pid;
				struct pp_err err = {0};
				int rc = pp_pid_parse(text, &pid, &err);
				if (ok) {
					assert_int_equal(rc, 0);
					assert_string_equal(pid.s, bare);
				} else {
					char want[128];
					snprintf(want, sizeof(want),
						 "PID: checksum is '%c', expected '%c'", bare[7],
						 ref_checksum(bare, 7));
					assert_int_equal(rc, -PP_ECHECKSUM);
					assert_int_equal(err.code, PP_ECHECKSUM);
					assert_string_equal(err.msg, want);
				}
			}
			if (ok && bare[k] != "0000037M"[k])
				accepted_changes++;
			if (!ok)
				rejected++;
		}
	}
	/* The loop really saw both outcomes: '0' <-> 'T' (48 + 36 = 84) keeps the sum. */
	assert_true(accepted_changes > 0);
	assert_true(rejected > 200);
}

static void test_pps_every_corruption(void **state)
{
	(void)state;
	unsigned accepted_changes = 0, rejected = 0, checksum_pos_accepts = 0;
	for (size_t k = 0; k < PP_PPS_LEN; k++) {
		size_t g = k / 4;
		for (size_t a = 0; a < 36; a++) {
			char bare[PP_PPS_LEN + 1];
			snprintf(bare, sizeof(bare), "%s", EX_PPS_BARE);
			bare[k] = alphabet[a];
			char text[PP_PPS_TEXT];
			size_t o = 0;
			for (size_t i = 0; i < PP_PPS_LEN; i++) {
				if (i && i % 4 == 0)
					text[o++] = '-';
				text[o++] = bare[i];
			}
			text[o] = '\0';
			const char *grp = bare + g * 4;
			bool ok = ref_checksum(grp, 3) == grp[3];
			for (int variant = 0; variant < 3; variant++) {
				char input[PP_PPS_TEXT];
				snprintf(input, sizeof(input), "%s", variant == 2 ? bare : text);
				if (variant == 1)
					lower_str(input);
				struct pp_pps pps;
				struct pp_err err = {0};
				int rc = pp_pps_parse(input, &pps, &err);
				if (ok) {
					assert_int_equal(rc, 0);
					assert_string_equal(pps.s, bare);
				} else {
					char want[128];
					snprintf(want, sizeof(want),
						 "PPS group %zu: checksum is '%c', expected '%c'",
						 g + 1, grp[3], ref_checksum(grp, 3));
					assert_int_equal(rc, -PP_ECHECKSUM);
					assert_string_equal(err.msg, want);
					/* never echoes the PPS: no group of it in the message */
					for (size_t j = 0; j < PP_PPS_LEN; j += 4) {
						char four[5];
						memcpy(four, bare + j, 4);
						four[4] = '\0';
						assert_null(strstr(err.msg, four));
					}
					/* and the output was wiped */
					for (size_t j = 0; j < sizeof(pps); j++)
						assert_int_equal(((unsigned char *)&pps)[j], 0);
				}
				pp_wipe(&pps, sizeof(pps));
			}
			if (ok && bare[k] != EX_PPS_BARE[k])
				accepted_changes++;
			if (ok && k % 4 == 3)
				checksum_pos_accepts++;
			if (!ok)
				rejected++;
		}
	}
	assert_true(accepted_changes > 0);
	assert_int_equal(checksum_pos_accepts, 8); /* only the original checksum symbol */
	assert_true(rejected > 1000);
}

static void expect_pid_error(const char *text, int code, const char *msg)
{
	struct pp_pid pid;
	struct pp_err err = {0};
	assert_int_equal(pp_pid_parse(text, &pid, &err), -code);
	assert_int_equal(err.code, code);
	assert_string_equal(err.msg, msg);
}

static void expect_pps_error(const char *text, int code, const char *msg)
{
	struct pp_pps pps;
	struct pp_err err = {0};
	assert_int_equal(pp_pps_parse(text, &pps, &err), -code);
	assert_int_equal(err.code, code);
	assert_string_equal(err.msg, msg);
	if (text && strlen(text) >= 8) /* never echoes the text */
		for (size_t i = 0; i + 4 <= strlen(text); i++) {
			char four[5];
			memcpy(four, text + i, 4);
			four[4] = '\0';
			if (strchr(four, '-') == NULL)
				assert_null(strstr(err.msg, four));
		}
}

static void test_error_messages(void **state)
{
	(void)state;
	expect_pid_error("0000-037X", PP_ECHECKSUM, "PID: checksum is 'X', expected 'M'");
	expect_pid_error("0000-037x", PP_ECHECKSUM, "PID: checksum is 'X', expected 'M'");
	expect_pid_error("00*0-037M", PP_EINVAL, "PID: character 3 is not 0-9 or A-Z");
	expect_pid_error("0000-037M\n", PP_EINVAL,
			 "PID: character 10 is not 0-9 or A-Z (whitespace)");
	expect_pid_error(" 0000037M", PP_EINVAL, "PID: character 1 is not 0-9 or A-Z (whitespace)");
	expect_pid_error("0000_037M", PP_EINVAL, "PID: character 5 is not 0-9 or A-Z");
	expect_pid_error("0000-037\xc3\x9c", PP_EINVAL, "PID: character 9 is not 0-9 or A-Z");
	expect_pid_error("0000-037", PP_EINVAL, "PID: 7 symbols, expected 8");
	expect_pid_error("0000-037MM", PP_EINVAL, "PID: 9 symbols, expected 8");
	expect_pid_error("", PP_EINVAL, "PID: 0 symbols, expected 8");
	expect_pid_error(NULL, PP_EINVAL, "PID: no text");

	expect_pps_error("NKLD-G5DC-0APE-E9YZ-ZIJL-7LFL-VJED-69XJ", PP_ECHECKSUM,
			 "PPS group 3: checksum is 'E', expected 'D'");
	expect_pps_error("NKLD-G5DC-RRNQ-E9YZ-ZIJL-7LFL-VJED-69XK", PP_ECHECKSUM,
			 "PPS group 8: checksum is 'K', expected 'J'");
	expect_pps_error("NKLE-G5DC-RRNQ-E9YZ-ZIJL-7LFL-VJED-69XK", PP_ECHECKSUM,
			 "PPS group 1: checksum is 'E', expected 'D'"); /* the first bad group */
	expect_pps_error("NKLD-G5DC-RRNQ-E9YZ-ZIJL-7LFL-VJED-69X", PP_EINVAL,
			 "PPS: 31 symbols, expected 32");
	expect_pps_error("NKLD-G5DC-RRNQ-E9YZ-ZIJL-7LFL-VJED-69XJA", PP_EINVAL,
			 "PPS: 33 symbols, expected 32");
	expect_pps_error(EX_PID, PP_EINVAL, "PPS: 8 symbols, expected 32");
	expect_pps_error("NKLD-G5DC-RRNQ-E9YZ-ZIJL-7LFL-VJED-69XJ\r\n", PP_EINVAL,
			 "PPS: character 40 is not 0-9 or A-Z (whitespace)");
	expect_pps_error("NKLD G5DC RRNQ E9YZ ZIJL 7LFL VJED 69XJ", PP_EINVAL,
			 "PPS: character 5 is not 0-9 or A-Z (whitespace)");
	expect_pps_error(NULL, PP_EINVAL, "PPS: no text");

	char longtext[400];
	memset(longtext, 'A', sizeof(longtext) - 1);
	longtext[sizeof(longtext) - 1] = '\0';
	expect_pps_error(longtext, PP_EINVAL, "PPS: more than 256 characters, expected 32 symbols");
	expect_pid_error(longtext, PP_EINVAL, "PID: more than 256 characters, expected 8 symbols");

	/* a NULL err is allowed */
	struct pp_pid pid;
	assert_int_equal(pp_pid_parse("0000-037X", &pid, NULL), -PP_ECHECKSUM);
}

/* Dashes: all of them at the group boundaries, or none. */
static void test_dash_rules(void **state)
{
	(void)state;
	expect_pid_error("-0000037M", PP_EINVAL,
			 "PID: dash at character 1 is not between two groups of 4");
	expect_pid_error("0000037M-", PP_EINVAL,
			 "PID: dash at character 9 is not between two groups of 4");
	expect_pid_error("0000--037M", PP_EINVAL,
			 "PID: dash at character 6 is not between two groups of 4");
	expect_pid_error("000-0037M", PP_EINVAL,
			 "PID: dash at character 4 is not between two groups of 4");
	expect_pid_error("0000-037M-", PP_EINVAL,
			 "PID: dash at character 10 is not between two groups of 4");
	expect_pps_error("NKL-DG5DC-RRNQ-E9YZ-ZIJL-7LFL-VJED-69XJ", PP_EINVAL,
			 "PPS: dash at character 4 is not between two groups of 4");
	expect_pps_error("NKLDG5DC-RRNQ-E9YZ-ZIJL-7LFL-VJED-69XJ", PP_EINVAL,
			 "PPS: 6 dashes, expected 7 (one between each two groups of 4) or none");
	expect_pps_error("NKLD-G5DCRRNQE9YZZIJL7LFLVJED69XJ", PP_EINVAL,
			 "PPS: 1 dashes, expected 7 (one between each two groups of 4) or none");
	expect_pps_error("NKLD-G5DC-RRNQ-E9YZ--ZIJL-7LFL-VJED-69XJ", PP_EINVAL,
			 "PPS: dash at character 21 is not between two groups of 4");
	expect_pps_error("--------", PP_EINVAL, "PPS: 0 symbols, expected 32");
}

static void test_key_check(void **state)
{
	(void)state;
	struct pp_err err = {0};
	enum pp_key_kind kind = 0;
	assert_int_equal(pp_key_check(EX_PID, &kind, &err), 0);
	assert_int_equal(kind, PP_KEY_KIND_PID);
	kind = 0;
	assert_int_equal(pp_key_check("0000037m", &kind, &err), 0);
	assert_int_equal(kind, PP_KEY_KIND_PID);
	kind = 0;
	assert_int_equal(pp_key_check(EX_PPS, &kind, &err), 0);
	assert_int_equal(kind, PP_KEY_KIND_PPS);
	assert_int_equal(pp_key_check(EX_PPS_BARE, NULL, &err), 0);

	kind = 0;
	assert_int_equal(pp_key_check("0000-037X", &kind, &err), -PP_ECHECKSUM);
	assert_string_equal(err.msg, "PID: checksum is 'X', expected 'M'");
	assert_int_equal(kind, 0);
	assert_int_equal(pp_key_check("NKLD-G5DC-RRNQ-E9YZ-ZIJL-7LFL-VJED-69XK", &kind, &err),
			 -PP_ECHECKSUM);
	assert_string_equal(err.msg, "PPS group 8: checksum is 'K', expected 'J'");
	assert_int_equal(pp_key_check("NKLD-G5DC-RRNQ", &kind, &err), -PP_EINVAL);
	assert_string_equal(err.msg, "key: 12 symbols, expected 8 (PID) or 32 (PPS)");
	assert_int_equal(pp_key_check("0000+037M", &kind, &err), -PP_EINVAL);
	assert_string_equal(err.msg, "key: character 5 is not 0-9 or A-Z");
	assert_int_equal(pp_key_check("000-0037M", &kind, &err), -PP_EINVAL);
	assert_string_equal(err.msg, "PID: dash at character 4 is not between two groups of 4");
	assert_int_equal(pp_key_check("", &kind, &err), -PP_EINVAL);
	assert_string_equal(err.msg, "key: 0 symbols, expected 8 (PID) or 32 (PPS)");
	assert_int_equal(pp_key_check(NULL, &kind, &err), -PP_EINVAL);
	assert_int_equal(kind, 0);
}

/* The sampler, on deterministic bytes. */
static void test_sample_deterministic(void **state)
{
	(void)state;
	char out[64];
	size_t produced;
	const uint8_t edge[] = {0, 9, 10, 35, 36, 251, 252, 253, 254, 255, 71};
	size_t used = pp_key_sample(edge, sizeof(edge), out, sizeof(out), &produced);
	assert_int_equal(used, sizeof(edge));
	assert_int_equal(produced, 7); /* 252..255 are skipped */
	assert_memory_equal(out, "09AZ0ZZ", 7);

	/* stops as soon as it has enough, and reports what it read */
	const uint8_t some[] = {255, 1, 254, 2, 3, 4};
	used = pp_key_sample(some, sizeof(some), out, 2, &produced);
	assert_int_equal(produced, 2);
	assert_int_equal(used, 4);
	assert_memory_equal(out, "12", 2);
	used = pp_key_sample(some, sizeof(some), out, 0, &produced);
	assert_int_equal(used, 0);
	assert_int_equal(produced, 0);

	/* Every byte value K times: each symbol exactly 7K times, chi-square 0. The naive
	 * `b % 36` on the same bytes gives 0-3 eight times in 256: the bound catches it. */
	enum { K = 4000 };
	static uint8_t bytes[256 * K];
	static char syms[256 * K];
	for (size_t i = 0; i < sizeof(bytes); i++)
		bytes[i] = (uint8_t)i;
	used = pp_key_sample(bytes, sizeof(bytes), syms, sizeof(syms), &produced);
	assert_int_equal(used, sizeof(bytes));
	assert_int_equal(produced, 252 * K);
	unsigned long counts[36] = {0}, naive[36] = {0};
	for (size_t i = 0; i < produced; i++) {
		int v = symbol_value(syms[i]);
		assert_true(v >= 0);
		counts[v]++;
	}
	for (size_t i = 0; i < 36; i++)
		assert_int_equal(counts[i], 7 * K);
	assert_true(chi_square(counts, 36) < 1e-9);
	for (size_t i = 0; i < sizeof(bytes); i++)
		naive[bytes[i] % 36]++;
	assert_true(chi_square(naive, 36) > CHI2_BOUND_35);
}

static int cmp_pid(const void *a, const void *b)
{
	return strcmp(((const struct pp_pid *)a)->s, ((const struct pp_pid *)b)->s);
}

static int cmp_pps(const void *a, const void *b)
{
	return strcmp(((const struct pp_pps *)a)->s, ((const struct pp_pps *)b)->s);
}

static void test_generated_keys_valid_and_distinct(void **state)
{
	(void)state;
	enum { N = 10000 };
	struct pp_keygen *g = NULL;
	assert_int_equal(pp_keygen_new(&g), 0);
	struct pp_pid *pids = calloc(N, sizeof(*pids));
	struct pp_pps *ppss = calloc(N, sizeof(*ppss));
	assert_non_null(pids);
	assert_non_null(ppss);
	for (size_t i = 0; i < N; i++) {
		assert_int_equal(pp_keygen_pid(g, &pids[i]), 0);
		assert_int_equal(pp_keygen_pps(g, &ppss[i]), 0);
		assert_int_equal(strlen(pids[i].s), PP_PID_LEN);
		assert_int_equal(strlen(ppss[i].s), PP_PPS_LEN);
		for (size_t j = 0; j < PP_PPS_LEN; j++)
			assert_true(symbol_value(ppss[i].s[j]) >= 0); /* upper case 0-9 A-Z */
		for (size_t j = 0; j < PP_PID_LEN; j++)
			assert_true(symbol_value(pids[i].s[j]) >= 0);
		char text[PP_PPS_TEXT];
		struct pp_pid pid;
		struct pp_pps pps;
		struct pp_err err;
		pp_pid_format(&pids[i], text);
		assert_int_equal(pp_pid_parse(text, &pid, &err), 0);
		assert_string_equal(pid.s, pids[i].s);
		pp_pps_format(&ppss[i], text);
		assert_int_equal(pp_pps_parse(text, &pps, &err), 0);
		assert_string_equal(pps.s, ppss[i].s);
		assert_int_equal(pp_key_check(text, NULL, &err), 0);
		pp_wipe(text, sizeof(text));
		pp_wipe(&pps, sizeof(pps));
	}
	qsort(pids, N, sizeof(*pids), cmp_pid);
	qsort(ppss, N, sizeof(*ppss), cmp_pps);
	unsigned pid_dups = 0;
	for (size_t i = 1; i < N; i++) {
		assert_string_not_equal(ppss[i - 1].s, ppss[i].s); /* 2^124: never */
		if (strcmp(pids[i - 1].s, pids[i].s) == 0)
			pid_dups++;
	}
	/* A PID has only 36^7 = 7.8e10 values: one birthday collision in 10,000 happens
	 * with odds 6e-4, three with odds below 1e-10. */
	assert_true(pid_dups <= 2);
	pp_wipe(ppss, N * sizeof(*ppss));
	free(ppss);
	free(pids);
	pp_keygen_free(g);
	pp_keygen_free(NULL);
}

static void test_generated_symbols_uniform(void **state)
{
	(void)state;
	enum { N = 40000, FREE = PP_PID_FREE + PP_PPS_FREE };
	static unsigned long pos[FREE][36];
	unsigned long all[36] = {0}, naive[36] = {0};
	memset(pos, 0, sizeof(pos));
	struct pp_keygen *g = NULL;
	assert_int_equal(pp_keygen_new(&g), 0);
	for (size_t i = 0; i < N; i++) {
		struct pp_pid pid;
		struct pp_pps pps;
		assert_int_equal(pp_keygen_pid(g, &pid), 0);
		assert_int_equal(pp_keygen_pps(g, &pps), 0);
		size_t f = 0;
		for (size_t j = 0; j < PP_PID_FREE; j++)
			pos[f++][symbol_value(pid.s[j])]++;
		for (size_t j = 0; j < PP_PPS_LEN; j++)
			if (j % 4 != 3) /* checksums are not uniform */
				pos[f++][symbol_value(pps.s[j])]++;
		assert_int_equal(f, FREE);
	}
	pp_keygen_free(g);
	for (size_t f = 0; f < FREE; f++) {
		double x = chi_square(pos[f], 36);
		if (x >= CHI2_BOUND_35)
			print_error("free symbol %zu: chi-square %.1f\n", f, x);
		assert_true(x < CHI2_BOUND_35);
		for (size_t s = 0; s < 36; s++)
			all[s] += pos[f][s];
	}
	double x = chi_square(all, 36);
	assert_true(x < CHI2_BOUND_35);

	/* The same test fails a biased generator: `b % 36` on as many random bytes. */
	static uint8_t bytes[(size_t)N * FREE];
	assert_int_equal(RAND_bytes(bytes, sizeof(bytes)), 1);
	for (size_t i = 0; i < sizeof(bytes); i++)
		naive[bytes[i] % 36]++;
	double xb = chi_square(naive, 36);
	assert_true(xb > 10 * CHI2_BOUND_35);
}

static void test_keygen_uniform(void **state)
{
	(void)state;
	struct pp_keygen *g = NULL;
	assert_int_equal(pp_keygen_new(&g), 0);
	static uint8_t v[740000];
	unsigned long counts[74] = {0};
	assert_int_equal(pp_keygen_uniform(g, 74, v, sizeof(v)), 0);
	for (size_t i = 0; i < sizeof(v); i++) {
		assert_true(v[i] < 74);
		counts[v[i]]++;
	}
	/* 73 degrees of freedom: P(chi2 > 200) is about 1e-13. */
	assert_true(chi_square(counts, 74) < 200.0);
	uint8_t one[4];
	assert_int_equal(pp_keygen_uniform(g, 256, one, sizeof(one)), 0);
	assert_int_equal(pp_keygen_uniform(g, 1, one, sizeof(one)), -PP_EINVAL);
	assert_int_equal(pp_keygen_uniform(g, 257, one, sizeof(one)), -PP_EINVAL);
	assert_int_equal(pp_keygen_uniform(NULL, 36, one, sizeof(one)), -PP_EINVAL);
	pp_keygen_free(g);
}

/* Every modulus: values in range and uniform (the remainder is computed by
 * multiplication; an error in it shows as a value out of range or a skew). */
static void test_keygen_uniform_every_n(void **state)
{
	(void)state;
	struct pp_keygen *g = NULL;
	assert_int_equal(pp_keygen_new(&g), 0);
	static uint8_t v[256 * 200];
	for (unsigned n = 2; n <= 256; n++) {
		unsigned long counts[256] = {0};
		size_t count = (size_t)n * 200;
		assert_int_equal(pp_keygen_uniform(g, n, v, count), 0);
		for (size_t i = 0; i < count; i++) {
			assert_true(v[i] < n);
			counts[v[i]]++;
		}
		/* n - 1 degrees of freedom; mean n - 1, deviation sqrt(2(n - 1)): 12
		 * deviations above happens with odds far below 1e-12. */
		double bound = (n - 1) + 12.0 * sqrt(2.0 * (n - 1)) + 20.0;
		double x = chi_square(counts, n);
		if (x >= bound)
			fail_msg("n = %u: chi-square %.1f over %.1f", n, x, bound);
	}
	pp_keygen_free(g);
}

static void test_pid_from_code(void **state)
{
	(void)state;
	struct pp_pid pid, prev;
	char want[PP_PID_LEN + 1] = "0000000";
	want[7] = pp_key_checksum(want, 7);
	pp_pid_from_code(0, &pid);
	assert_string_equal(pid.s, want);
	pp_pid_from_code(PP_PID_CODES, &pid); /* taken modulo */
	assert_string_equal(pid.s, want);
	memcpy(want, "ZZZZZZZ", 7);
	want[7] = pp_key_checksum(want, 7);
	pp_pid_from_code(PP_PID_CODES - 1, &pid);
	assert_string_equal(pid.s, want);
	/* 1 x 36 + 10: the symbols 1 and A, the last one least significant. */
	pp_pid_from_code(36 + 10, &pid);
	assert_memory_equal(pid.s, "000001A", 7);
	/* Codes order as the PIDs' text does, across digits and letters. */
	pp_pid_from_code(0, &prev);
	for (uint64_t c = 1; c < PP_PID_CODES; c = c * 7 + 5) {
		pp_pid_from_code(c, &pid);
		assert_true(pp_pid_valid(&pid));
		assert_true(strcmp(prev.s, pid.s) < 0);
		prev = pid;
	}
}

static void test_keygen_pid_codes(void **state)
{
	(void)state;
	/* 1.5e6 of 36^7 codes: about 14 repeats in the first draw, all to be redrawn. */
	enum { N = 1500000 };
	struct pp_keygen *g = NULL;
	assert_int_equal(pp_keygen_new(&g), 0);
	uint64_t *codes = calloc(N, sizeof(*codes));
	assert_non_null(codes);
	assert_int_equal(pp_keygen_pid_codes(g, codes, N), 0);
	unsigned long first[36] = {0}, last[36] = {0};
	for (size_t i = 0; i < N; i++) {
		assert_true(codes[i] < PP_PID_CODES);
		if (i)
			assert_true(codes[i - 1] < codes[i]); /* sorted, no repeat */
		first[codes[i] / (PP_PID_CODES / 36)]++;
		last[codes[i] % 36]++;
	}
	/* Sorted, yet as uniform as drawn: the first and the last symbol. */
	assert_true(chi_square(first, 36) < CHI2_BOUND_35);
	assert_true(chi_square(last, 36) < CHI2_BOUND_35);
	/* A second batch is another set. */
	uint64_t again[4];
	assert_int_equal(pp_keygen_pid_codes(g, again, 4), 0);
	assert_true(again[0] < again[1] && again[1] < again[2] && again[2] < again[3]);
	assert_int_equal(pp_keygen_pid_codes(g, codes, 0), 0);
	assert_int_equal(pp_keygen_pid_codes(g, NULL, 0), 0);
	assert_int_equal(pp_keygen_pid_codes(g, NULL, 1), -PP_EINVAL);
	assert_int_equal(pp_keygen_pid_codes(NULL, codes, 1), -PP_EINVAL);
	assert_int_equal(pp_keygen_pid_codes(g, codes, PP_PID_CODES / 2 + 1), -PP_EINVAL);
	free(codes);
	pp_keygen_free(g);
}

static void test_oneshot_generate(void **state)
{
	(void)state;
	struct pp_pid a, b;
	struct pp_pps x, y;
	assert_int_equal(pp_pid_generate(&a), 0);
	assert_int_equal(pp_pid_generate(&b), 0);
	assert_int_equal(pp_pps_generate(&x), 0);
	assert_int_equal(pp_pps_generate(&y), 0);
	assert_true(pp_pid_valid(&a));
	assert_true(pp_pid_valid(&b));
	assert_true(pp_pps_valid(&x));
	assert_true(pp_pps_valid(&y));
	assert_false(pp_ct_eq(x.s, y.s, PP_PPS_LEN));
	assert_int_equal(pp_pid_generate(NULL), -PP_EINVAL);
	assert_int_equal(pp_pps_generate(NULL), -PP_EINVAL);
	pp_wipe(&x, sizeof(x));
	pp_wipe(&y, sizeof(y));
}

/* A generator shared across fork() must not hand the child the parent's next keys. */
static void test_keygen_fork(void **state)
{
	(void)state;
	struct pp_keygen *g = NULL;
	assert_int_equal(pp_keygen_new(&g), 0);
	struct pp_pps first, parent, child;
	assert_int_equal(pp_keygen_pps(g, &first), 0); /* the pool is full now */
	int fds[2];
	assert_int_equal(pipe(fds), 0);
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		struct pp_pps mine;
		int ok =
		    pp_keygen_pps(g, &mine) == 0 && write(fds[1], mine.s, PP_PPS_LEN) == PP_PPS_LEN;
		_exit(ok ? 0 : 1);
	}
	close(fds[1]);
	assert_int_equal(pp_keygen_pps(g, &parent), 0);
	memset(&child, 0, sizeof(child));
	assert_int_equal(read(fds[0], child.s, PP_PPS_LEN), PP_PPS_LEN);
	close(fds[0]);
	int status = 0;
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	assert_true(pp_pps_valid(&child));
	assert_false(pp_ct_eq(child.s, parent.s, PP_PPS_LEN));
	pp_keygen_free(g);
}

/* The derivation as documented in keys.h, written out independently. */
static void ref_derive(const uint8_t *secret, size_t slen, const char *pid, char *out, size_t n)
{
	size_t got = 0;
	for (uint32_t i = 0; got < n; i++) {
		uint8_t msg[26], mac[32];
		size_t mlen = 22;
		unsigned int maclen = 0;
		memcpy(msg, "pskprov pps v1", 14);
		memcpy(msg + 14, pid, 8);
		if (i) {
			msg[22] = (uint8_t)(i >> 24);
			msg[23] = (uint8_t)(i >> 16);
			msg[24] = (uint8_t)(i >> 8);
			msg[25] = (uint8_t)i;
			mlen = 26;
		}
		assert_non_null(HMAC(EVP_sha256(), secret, (int)slen, msg, mlen, mac, &maclen));
		for (size_t j = 0; j < 32 && got < n; j++)
			if (mac[j] < 252)
				out[got++] = alphabet[mac[j] % 36];
	}
}

static void test_derive(void **state)
{
	(void)state;
	uint8_t secret[32], secret2[32];
	for (size_t i = 0; i < sizeof(secret); i++) {
		secret[i] = (uint8_t)i;
		secret2[i] = (uint8_t)i;
	}
	secret2[31] ^= 1;
	struct pp_pid pid, pid2;
	struct pp_err err;
	assert_int_equal(pp_pid_parse(EX_PID, &pid, &err), 0);
	assert_int_equal(pp_pid_parse("0000-038N", &pid2, &err), 0);

	struct pp_pps a, b, c, d;
	assert_int_equal(pp_pps_derive(secret, sizeof(secret), &pid, &a), 0);
	assert_int_equal(pp_pps_derive(secret, sizeof(secret), &pid, &b), 0);
	assert_int_equal(pp_pps_derive(secret, sizeof(secret), &pid2, &c), 0);
	assert_int_equal(pp_pps_derive(secret2, sizeof(secret2), &pid, &d), 0);
	assert_true(pp_pps_valid(&a));
	assert_true(pp_pps_valid(&c));
	assert_true(pp_pps_valid(&d));
	assert_string_equal(a.s, b.s);
	assert_string_not_equal(a.s, c.s);
	assert_string_not_equal(a.s, d.s);
	char text[PP_PPS_TEXT];
	pp_pps_format(&a, text);
	/* Known answer: derived keys are never stored, so this must never change. */
	assert_string_equal(text, "42ZC-6ZWF-1258-69TF-7U19-GH0B-6B4S-QJD7");
	struct pp_pps back;
	assert_int_equal(pp_pps_parse(text, &back, &err), 0);
	assert_string_equal(back.s, a.s);

	/* The free symbols are the first 24 of the stream; the stream matches the
	 * reference far into its counter blocks (200 symbols need about 7 blocks). */
	char stream[200], ref[200];
	assert_int_equal(pp_key_derive_symbols(secret, sizeof(secret), &pid, stream, 200), 0);
	ref_derive(secret, sizeof(secret), pid.s, ref, 200);
	assert_memory_equal(stream, ref, 200);
	for (size_t g = 0; g < 8; g++)
		assert_memory_equal(a.s + 4 * g, stream + 3 * g, 3);

	/* A 16-byte secret (the minimum) works, and other PIDs too. */
	for (int i = 0; i < 50; i++) {
		struct pp_pid p;
		assert_int_equal(pp_pid_generate(&p), 0);
		assert_int_equal(pp_pps_derive(secret, 16, &p, &c), 0);
		assert_true(pp_pps_valid(&c));
		char r[24];
		ref_derive(secret, 16, p.s, r, 24);
		for (size_t g = 0; g < 8; g++)
			assert_memory_equal(c.s + 4 * g, r + 3 * g, 3);
	}
	pp_wipe(&a, sizeof(a));
	pp_wipe(&b, sizeof(b));
	pp_wipe(&c, sizeof(c));
	pp_wipe(&d, sizeof(d));
	pp_wipe(&back, sizeof(back));
}

static void test_derive_errors(void **state)
{
	(void)state;
	uint8_t secret[32] = {1};
	struct pp_pid pid, bad;
	struct pp_pps out;
	struct pp_err err;
	assert_int_equal(pp_pid_parse(EX_PID, &pid, &err), 0);
	assert_int_equal(pp_pps_derive(secret, 15, &pid, &out), -PP_EINVAL);
	for (size_t i = 0; i < sizeof(out); i++)
		assert_int_equal(((unsigned char *)&out)[i], 0);
	assert_int_equal(pp_pps_derive(NULL, 32, &pid, &out), -PP_EINVAL);
	assert_int_equal(pp_pps_derive(secret, 32, NULL, &out), -PP_EINVAL);
	assert_int_equal(pp_pps_derive(secret, 32, &pid, NULL), -PP_EINVAL);
	memcpy(bad.s, "0000037X", 9); /* wrong checksum */
	assert_int_equal(pp_pps_derive(secret, 32, &bad, &out), -PP_EINVAL);
	memcpy(bad.s, "0000037m", 9); /* not canonical */
	assert_int_equal(pp_pps_derive(secret, 32, &bad, &out), -PP_EINVAL);
	assert_int_equal(pp_key_derive_symbols(secret, 32, &pid, NULL, 1), -PP_EINVAL);
}

static void test_valid(void **state)
{
	(void)state;
	struct pp_pid pid;
	struct pp_pps pps;
	memcpy(pid.s, "0000037M", 9);
	assert_true(pp_pid_valid(&pid));
	pid.s[8] = 'X';
	assert_false(pp_pid_valid(&pid));
	memcpy(pid.s, "0000-37M", 9);
	assert_false(pp_pid_valid(&pid));
	memcpy(pps.s, EX_PPS_BARE, 33);
	assert_true(pp_pps_valid(&pps));
	pps.s[5] = 'g';
	assert_false(pp_pps_valid(&pps));

	pp_pid_from_symbols("0000037", &pid);
	assert_string_equal(pid.s, "0000037M");
	pp_pps_from_symbols("NKLG5DRRNE9YZIJ7LFVJE69X", &pps);
	assert_string_equal(pps.s, EX_PPS_BARE);
}

static void expect_pw_error(const char *pw, const char *msg)
{
	struct pp_err err = {0};
	assert_int_equal(pp_mebx_password_check(pw, &err), -PP_EINVAL);
	assert_int_equal(err.code, PP_EINVAL);
	assert_string_equal(err.msg, msg);
	if (pw && *pw)
		assert_null(strstr(err.msg, pw));
}

static void test_password_check(void **state)
{
	(void)state;
	struct pp_err err;
	const char *good[] = {"Passw0rd!", "Aa1!aaaa", "aA9~bbbbbbbbbbbbbbbbbbbbbbbbbbbb",
			      "P@ssw0rd",  "Xy7$_abc", "Zz0'<>&;"};
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++)
		assert_int_equal(pp_mebx_password_check(good[i], &err), 0);

	expect_pw_error("Aa1!aaa", "MEBx password: 7 characters, expected 8 to 32");
	expect_pw_error("", "MEBx password: 0 characters, expected 8 to 32");
	expect_pw_error("aA9~bbbbbbbbbbbbbbbbbbbbbbbbbbbbb",
			"MEBx password: more than 32 characters, expected 8 to 32");
	expect_pw_error("Pass w0rd!", "MEBx password: character 5 is not printable ASCII "
				      "(0x21 to 0x7E, no spaces)");
	expect_pw_error("Pass\tw0rd!", "MEBx password: character 5 is not printable ASCII "
				       "(0x21 to 0x7E, no spaces)");
	expect_pw_error("Passw0rd!\x7f", "MEBx password: character 10 is not printable ASCII "
					 "(0x21 to 0x7E, no spaces)");
	expect_pw_error("Pässw0rd!", "MEBx password: character 2 is not printable ASCII "
				     "(0x21 to 0x7E, no spaces)");
	expect_pw_error("Pass:w0rd", "MEBx password: character 5 is a colon, comma or double "
				     "quote, which AMT does not allow");
	expect_pw_error("Pass,w0rd", "MEBx password: character 5 is a colon, comma or double "
				     "quote, which AMT does not allow");
	expect_pw_error("Pass\"w0rd", "MEBx password: character 5 is a colon, comma or double "
				      "quote, which AMT does not allow");
	expect_pw_error("passw0rd!", "MEBx password: no upper-case letter (A-Z)");
	expect_pw_error("PASSW0RD!", "MEBx password: no lower-case letter (a-z)");
	expect_pw_error("Password!", "MEBx password: no digit (0-9)");
	expect_pw_error("Passw0rdd", "MEBx password: no symbol such as ! # $ % (underscore does "
				     "not count)");
	/* Intel's own example of a password AMT refuses */
	expect_pw_error("Location_1", "MEBx password: no symbol such as ! # $ % (underscore "
				      "does not count)");
	expect_pw_error(NULL, "MEBx password: missing");
	assert_int_equal(pp_mebx_password_check("short", NULL), -PP_EINVAL);
}

static void test_password_generate(void **state)
{
	(void)state;
	struct pp_keygen *g = NULL;
	assert_int_equal(pp_keygen_new(&g), 0);
	char pw[PP_MEBX_PW_MAX + 1], prev[PP_MEBX_PW_MAX + 1] = "";
	const char *allowed = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
			      "!#$%*+-.=?@^";
	for (size_t len = PP_MEBX_PW_MIN; len <= PP_MEBX_PW_MAX; len++) {
		for (int i = 0; i < 300; i++) {
			struct pp_err err = {0};
			assert_int_equal(pp_keygen_password(g, len, pw), 0);
			assert_int_equal(strlen(pw), len);
			assert_int_equal(pp_mebx_password_check(pw, &err), 0);
			assert_int_equal(strspn(pw, allowed), len);
			assert_string_not_equal(pw, prev);
			memcpy(prev, pw, sizeof(pw));
		}
	}
	assert_int_equal(pp_keygen_password(g, 7, pw), -PP_EINVAL);
	assert_int_equal(pp_keygen_password(g, 33, pw), -PP_EINVAL);
	assert_int_equal(pp_keygen_password(NULL, 12, pw), -PP_EINVAL);
	assert_int_equal(pp_keygen_password(g, 12, NULL), -PP_EINVAL);
	pp_wipe(pw, sizeof(pw));
	pp_wipe(prev, sizeof(prev));
	pp_keygen_free(g);
}

/* CSV injection (issue 9): a generated password never starts with = + - @ (or TAB,
 * CR), while the rest of the password still uses every symbol of the alphabet. */
static void test_password_no_formula_lead(void **state)
{
	(void)state;
	struct pp_keygen *g = NULL;
	assert_int_equal(pp_keygen_new(&g), 0);
	char pw[PP_MEBX_PW_MAX + 1];
	unsigned formula_first = 0, formula_later = 0;
	for (int i = 0; i < 100000; i++) {
		size_t len = PP_MEBX_PW_MIN + (size_t)i % (PP_MEBX_PW_MAX - PP_MEBX_PW_MIN + 1);
		assert_int_equal(pp_keygen_password(g, len, pw), 0);
		if (pp_formula_lead(pw[0]))
			formula_first++;
		for (size_t k = 1; k < len; k++)
			formula_later += pp_formula_lead(pw[k]);
	}
	assert_int_equal(formula_first, 0);
	assert_true(formula_later > 10000); /* still drawn after the first character */
	const char *leads = "=+-@\t\r", *not_leads = "!#$%*.?^'Aa0_ ";
	for (const char *p = leads; *p; p++)
		assert_true(pp_formula_lead(*p));
	for (const char *p = not_leads; *p; p++)
		assert_false(pp_formula_lead(*p));
	pp_wipe(pw, sizeof(pw));
	pp_keygen_free(g);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_checksum),
	    cmocka_unit_test(test_worked_example_round_trip),
	    cmocka_unit_test(test_pid_every_corruption),
	    cmocka_unit_test(test_pps_every_corruption),
	    cmocka_unit_test(test_error_messages),
	    cmocka_unit_test(test_dash_rules),
	    cmocka_unit_test(test_key_check),
	    cmocka_unit_test(test_sample_deterministic),
	    cmocka_unit_test(test_generated_keys_valid_and_distinct),
	    cmocka_unit_test(test_generated_symbols_uniform),
	    cmocka_unit_test(test_keygen_uniform),
	    cmocka_unit_test(test_keygen_uniform_every_n),
	    cmocka_unit_test(test_pid_from_code),
	    cmocka_unit_test(test_keygen_pid_codes),
	    cmocka_unit_test(test_oneshot_generate),
	    cmocka_unit_test(test_keygen_fork),
	    cmocka_unit_test(test_derive),
	    cmocka_unit_test(test_derive_errors),
	    cmocka_unit_test(test_valid),
	    cmocka_unit_test(test_password_check),
	    cmocka_unit_test(test_password_generate),
	    cmocka_unit_test(test_password_no_formula_lead),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
