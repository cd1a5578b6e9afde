/* Hello v2/v3 codec (docs/protocol.md section 2). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/err.h"
#include "core/parse.h"
#include "proto/hello.h"

/* SMBIOS 3.x section 7.2.1: the UUID 00112233-4455-6677-8899-AABBCCDDEEFF is stored as
 * 33 22 11 00 55 44 77 66 88 99 AA BB CC DD EE FF. */
static const char uuid_text[] = "00112233-4455-6677-8899-aabbccddeeff";
static const uint8_t uuid_smbios[16] = {0x33, 0x22, 0x11, 0x00, 0x55, 0x44, 0x77, 0x66,
					0x88, 0x99, 0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0xff};

/* A v2 hello built by hand: admin 1, version 2, retry 3, the UUID above, PID 0000037M
 * (Intel's documented example). */
static const uint8_t v2_wire[PP_HELLO_V2_LEN] = {
    0x01, 0x00, 0x02, 0x00, 0x03, 0x00, 0x00, 0x00, 0x33, 0x22, 0x11, 0x00, 0x55, 0x44, 0x77, 0x66,
    0x88, 0x99, 0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0xff, '0',  '0',  '0',  '0',  '0',  '3',  '7',  'M',
};

/* v3: admin 0, version 3, retry 14, the UUID, then hashes. */
static size_t build_v3(uint8_t *out, const uint8_t *types, const uint8_t *lens, size_t n)
{
	size_t o = 0;
	const uint8_t head[8] = {0x00, 0x00, 0x03, 0x00, 14, 0, 0, 0};
	memcpy(out, head, 8);
	o = 8;
	memcpy(out + o, uuid_smbios, 16);
	o += 16;
	out[o++] = (uint8_t)n;
	for (size_t i = 0; i < n; i++) {
		out[o++] = types[i];
		out[o++] = lens[i];
		for (size_t j = 0; j < lens[i]; j++)
			out[o++] = (uint8_t)(0x10 * i + j);
	}
	return o;
}

static const uint8_t v3_types[3] = {1, 2, 3};
static const uint8_t v3_lens[3] = {20, 32, 48};

static void test_v2_known_vector(void **state)
{
	(void)state;
	struct pp_hello h;
	struct pp_err err = {0};
	char text[37];

	assert_int_equal(pp_hello_parse(v2_wire, sizeof(v2_wire), &h, &err), 0);
	assert_int_equal(h.version, 2);
	assert_int_equal(h.admin_credentials_set, 1);
	assert_int_equal(h.retry_count, 3);
	assert_string_equal(h.pid, "0000037M");
	assert_int_equal(h.hash_count, 0);
	/* Wire bytes are SMBIOS order; the struct holds display order. */
	pp_uuid_format(h.uuid, text);
	assert_string_equal(text, uuid_text);
	const uint8_t rfc[16] = {0x00, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77,
				 0x88, 0x99, 0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0xff};
	assert_memory_equal(h.uuid, rfc, 16);

	uint8_t out[PP_HELLO_MAX_LEN];
	size_t len = 0;
	assert_int_equal(pp_hello_write(&h, out, sizeof(out), &len, &err), 0);
	assert_int_equal(len, PP_HELLO_V2_LEN);
	assert_memory_equal(out, v2_wire, sizeof(v2_wire));
}

static void test_v2_write_from_text(void **state)
{
	(void)state;
	struct pp_hello h;
	struct pp_err err = {0};
	uint8_t out[PP_HELLO_V2_LEN];
	size_t len = 0;

	memset(&h, 0, sizeof(h));
	h.version = PP_HELLO_V2;
	h.admin_credentials_set = 1;
	h.retry_count = 3;
	assert_int_equal(pp_uuid_parse("00112233-4455-6677-8899-AABBCCDDEEFF", h.uuid, &err), 0);
	memcpy(h.pid, "0000037M", 9);
	/* Exactly the capacity needed is enough. */
	assert_int_equal(pp_hello_write(&h, out, sizeof(out), &len, &err), 0);
	assert_int_equal(len, 32);
	assert_memory_equal(out + 8, uuid_smbios, 16);
	assert_memory_equal(out, v2_wire, sizeof(v2_wire));
}

static void test_v2_every_field_value(void **state)
{
	(void)state;
	uint8_t buf[PP_HELLO_V2_LEN], out[PP_HELLO_V2_LEN];
	struct pp_hello h;
	size_t len;

	for (unsigned admin = 0; admin <= 1; admin++)
		for (unsigned retry = 0; retry <= PP_HELLO_RETRY_MAX; retry++) {
			memcpy(buf, v2_wire, sizeof(buf));
			buf[0] = (uint8_t)admin;
			buf[4] = (uint8_t)retry;
			assert_int_equal(pp_hello_parse(buf, sizeof(buf), &h, NULL), 0);
			assert_int_equal(h.admin_credentials_set, admin);
			assert_int_equal(h.retry_count, retry);
			assert_int_equal(pp_hello_write(&h, out, sizeof(out), &len, NULL), 0);
			assert_memory_equal(out, buf, sizeof(buf));
		}
	/* Every PID symbol is accepted in every position. */
	const char *alpha = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ";
	for (size_t i = 0; i < 36; i++) {
		memcpy(buf, v2_wire, sizeof(buf));
		buf[24 + i % 8] = (uint8_t)alpha[i];
		assert_int_equal(pp_hello_parse(buf, sizeof(buf), &h, NULL), 0);
		assert_int_equal(h.pid[i % 8], alpha[i]);
	}
}

static void test_v3_round_trip(void **state)
{
	(void)state;
	uint8_t buf[PP_HELLO_MAX_LEN + 8], out[PP_HELLO_MAX_LEN];
	struct pp_hello h;
	struct pp_err err = {0};
	size_t n, len = 0;
	char text[37];

	n = build_v3(buf, v3_types, v3_lens, 3);
	assert_int_equal(n, 25 + 22 + 34 + 50);
	assert_int_equal(pp_hello_parse(buf, n, &h, &err), 0);
	assert_int_equal(h.version, 3);
	assert_int_equal(h.admin_credentials_set, 0);
	assert_int_equal(h.retry_count, 14);
	assert_string_equal(h.pid, "");
	pp_uuid_format(h.uuid, text);
	assert_string_equal(text, uuid_text);
	assert_int_equal(h.hash_count, 3);
	for (size_t i = 0; i < 3; i++) {
		assert_int_equal(h.hashes[i].type, v3_types[i]);
		assert_int_equal(h.hashes[i].len, v3_lens[i]);
		assert_int_equal(pp_hello_hash_len(v3_types[i]), v3_lens[i]);
		for (size_t j = 0; j < v3_lens[i]; j++)
			assert_int_equal(h.hashes[i].hash[j], (uint8_t)(0x10 * i + j));
	}
	assert_int_equal(pp_hello_write(&h, out, sizeof(out), &len, &err), 0);
	assert_int_equal(len, n);
	assert_memory_equal(out, buf, n);

	/* Zero hashes is well-formed: 25 bytes. */
	n = build_v3(buf, NULL, NULL, 0);
	assert_int_equal(n, 25);
	assert_int_equal(pp_hello_parse(buf, n, &h, &err), 0);
	assert_int_equal(h.hash_count, 0);
	assert_int_equal(pp_hello_write(&h, out, sizeof(out), &len, &err), 0);
	assert_int_equal(len, 25);
	assert_memory_equal(out, buf, n);
}

static void test_v3_max_len(void **state)
{
	(void)state;
	uint8_t types[PP_HELLO_MAX_HASHES], lens[PP_HELLO_MAX_HASHES];
	uint8_t buf[PP_HELLO_MAX_LEN + 64], out[PP_HELLO_MAX_LEN];
	struct pp_hello h;
	struct pp_err err = {0};
	size_t n, len = 0;

	memset(types, PP_HELLO_HASH_SHA384, sizeof(types));
	memset(lens, 48, sizeof(lens));
	n = build_v3(buf, types, lens, PP_HELLO_MAX_HASHES);
	assert_int_equal(n, PP_HELLO_MAX_LEN);
	assert_int_equal(PP_HELLO_MAX_LEN, 24 + 1 + 255 * 50);
	assert_int_equal(PP_HELLO_MAX_LEN, 12775);
	assert_int_equal(pp_hello_parse(buf, n, &h, &err), 0);
	assert_int_equal(h.hash_count, PP_HELLO_MAX_HASHES);
	/* PP_HELLO_MAX_LEN is exactly enough; one less is not, and nothing is written. */
	assert_int_equal(pp_hello_write(&h, out, PP_HELLO_MAX_LEN, &len, &err), 0);
	assert_int_equal(len, PP_HELLO_MAX_LEN);
	assert_memory_equal(out, buf, n);
	memset(out, 0x5a, sizeof(out));
	len = 77;
	assert_int_equal(pp_hello_write(&h, out, PP_HELLO_MAX_LEN - 1, &len, &err), -PP_ETOOBIG);
	assert_int_equal(err.code, PP_ETOOBIG);
	assert_int_equal(len, 77);
	for (size_t i = 0; i < sizeof(out); i++)
		assert_int_equal(out[i], 0x5a);
}

static void test_truncated_every_byte(void **state)
{
	(void)state;
	uint8_t buf[PP_HELLO_MAX_LEN];
	struct pp_hello h;
	struct pp_err err;
	size_t n;

	for (size_t cut = 0; cut < sizeof(v2_wire); cut++) {
		pp_err_clear(&err);
		assert_int_equal(pp_hello_parse(v2_wire, cut, &h, &err), -PP_ETRUNC);
		assert_int_equal(err.code, PP_ETRUNC);
		assert_non_null(strstr(err.msg, "truncated"));
	}
	n = build_v3(buf, v3_types, v3_lens, 3);
	for (size_t cut = 0; cut < n; cut++) {
		pp_err_clear(&err);
		assert_int_equal(pp_hello_parse(buf, cut, &h, &err), -PP_ETRUNC);
		assert_non_null(strstr(err.msg, "truncated"));
	}
	/* A NULL buffer of length 0 is simply empty. */
	assert_int_equal(pp_hello_parse(NULL, 0, &h, &err), -PP_ETRUNC);
}

static void test_trailing_bytes(void **state)
{
	(void)state;
	uint8_t buf[PP_HELLO_MAX_LEN + 8];
	struct pp_hello h;
	struct pp_err err = {0};
	size_t n;

	memcpy(buf, v2_wire, sizeof(v2_wire));
	buf[32] = 0;
	assert_int_equal(pp_hello_parse(buf, 33, &h, &err), -PP_ETOOBIG);
	assert_non_null(strstr(err.msg, "1 trailing byte"));
	assert_int_equal(pp_hello_parse(buf, 40, &h, &err), -PP_ETOOBIG);
	assert_non_null(strstr(err.msg, "8 trailing bytes"));

	n = build_v3(buf, v3_types, v3_lens, 3);
	buf[n] = 0xff;
	assert_int_equal(pp_hello_parse(buf, n + 1, &h, &err), -PP_ETOOBIG);
	assert_non_null(strstr(err.msg, "hello v3: 1 trailing byte"));
	n = build_v3(buf, NULL, NULL, 0);
	buf[n] = 0x00;
	assert_int_equal(pp_hello_parse(buf, n + 1, &h, &err), -PP_ETOOBIG);
}

static void test_bad_versions(void **state)
{
	(void)state;
	const uint16_t bad[] = {0, 1, 4, 0x0200, 0xffff};
	uint8_t buf[PP_HELLO_V2_LEN];
	struct pp_hello h;
	struct pp_err err;
	char want[64];

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		memcpy(buf, v2_wire, sizeof(buf));
		buf[2] = (uint8_t)(bad[i] & 0xff);
		buf[3] = (uint8_t)(bad[i] >> 8);
		pp_err_clear(&err);
		assert_int_equal(pp_hello_parse(buf, sizeof(buf), &h, &err), -PP_EVERSION);
		assert_int_equal(err.code, PP_EVERSION);
		snprintf(want, sizeof(want), "InterfaceVersion %u ", (unsigned)bad[i]);
		assert_non_null(strstr(err.msg, want));
		/* Judged before anything else, even with only the header present. */
		assert_int_equal(pp_hello_parse(buf, 4, &h, &err), -PP_EVERSION);
	}
	/* The writer refuses them too. */
	assert_int_equal(pp_hello_parse(v2_wire, sizeof(v2_wire), &h, &err), 0);
	h.version = 4;
	size_t len;
	assert_int_equal(pp_hello_write(&h, buf, sizeof(buf), &len, &err), -PP_EVERSION);
	assert_non_null(strstr(err.msg, "InterfaceVersion 4 "));
}

static void expect_field(const uint8_t *buf, size_t n, const char *needle)
{
	struct pp_hello h;
	struct pp_err err = {0};
	assert_int_equal(pp_hello_parse(buf, n, &h, &err), -PP_EINVAL);
	assert_int_equal(err.code, PP_EINVAL);
	if (!strstr(err.msg, needle))
		fail_msg("message '%s' lacks '%s'", err.msg, needle);
}

static void test_bad_fields_v2(void **state)
{
	(void)state;
	uint8_t buf[PP_HELLO_V2_LEN];

	memcpy(buf, v2_wire, sizeof(buf));
	buf[0] = 2;
	expect_field(buf, sizeof(buf), "AdminCredentialsSet is 2");
	memcpy(buf, v2_wire, sizeof(buf));
	buf[1] = 1; /* 0x0101 */
	expect_field(buf, sizeof(buf), "AdminCredentialsSet is 257");

	memcpy(buf, v2_wire, sizeof(buf));
	buf[4] = 15;
	expect_field(buf, sizeof(buf), "RetryCount is 15");
	memcpy(buf, v2_wire, sizeof(buf));
	memset(buf + 4, 0xff, 4);
	expect_field(buf, sizeof(buf), "RetryCount is 4294967295");

	const uint8_t bad_pid[] = {'m', '-', ' ', 0x00, 0x80, 0xff, '@', '[', '/', ':'};
	for (size_t i = 0; i < sizeof(bad_pid); i++) {
		char want[48];
		memcpy(buf, v2_wire, sizeof(buf));
		buf[24 + i % 8] = bad_pid[i];
		snprintf(want, sizeof(want), "PID byte %zu is 0x%02x", i % 8, bad_pid[i]);
		expect_field(buf, sizeof(buf), want);
	}
}

static void test_bad_fields_v3(void **state)
{
	(void)state;
	uint8_t buf[PP_HELLO_MAX_LEN + 600];
	struct pp_hello h;
	struct pp_err err = {0};
	size_t n;

	/* Hash length not matching its type, each way. */
	const uint8_t t1[1] = {PP_HELLO_HASH_SHA256}, l1[1] = {20};
	n = build_v3(buf, t1, l1, 1);
	expect_field(buf, n, "hash 0 of type 2 has length 20, expected 32");
	const uint8_t t2[2] = {1, 1}, l2[2] = {20, 32};
	n = build_v3(buf, t2, l2, 2);
	expect_field(buf, n, "hash 1 of type 1 has length 32, expected 20");
	const uint8_t t3[1] = {PP_HELLO_HASH_SHA384}, l3[1] = {0};
	n = build_v3(buf, t3, l3, 1);
	expect_field(buf, n, "has length 0, expected 48");
	/* Unknown types. */
	const uint8_t bad_types[] = {0, 4, 0xff};
	for (size_t i = 0; i < sizeof(bad_types); i++) {
		const uint8_t t[1] = {bad_types[i]}, l[1] = {32};
		n = build_v3(buf, t, l, 1);
		expect_field(buf, n, "has type");
		assert_int_equal(pp_hello_hash_len(bad_types[i]), 0);
	}
	/* Header fields are checked in v3 as well. */
	n = build_v3(buf, v3_types, v3_lens, 3);
	buf[0] = 7;
	expect_field(buf, n, "hello v3: AdminCredentialsSet is 7");
	n = build_v3(buf, v3_types, v3_lens, 3);
	buf[4] = 15;
	expect_field(buf, n, "hello v3: RetryCount is 15");

	/* hashCount 255 with nothing behind it: truncated, never "over a cap". */
	n = build_v3(buf, NULL, NULL, 0);
	buf[24] = 0xff;
	assert_int_equal(pp_hello_parse(buf, n, &h, &err), -PP_ETRUNC);
	assert_non_null(strstr(err.msg, "hash 0 of 255"));

	/* hashCount claiming more entries than there are bytes. */
	n = build_v3(buf, v3_types, v3_lens, 3);
	buf[24] = 4;
	assert_int_equal(pp_hello_parse(buf, n, &h, &err), -PP_ETRUNC);
	assert_non_null(strstr(err.msg, "hash 3 of 4"));
	n = build_v3(buf, v3_types, v3_lens, 1);
	buf[24] = PP_HELLO_MAX_HASHES;
	assert_int_equal(pp_hello_parse(buf, n, &h, &err), -PP_ETRUNC);
	/* ... and fewer: the rest is trailing. */
	n = build_v3(buf, v3_types, v3_lens, 3);
	buf[24] = 2;
	assert_int_equal(pp_hello_parse(buf, n, &h, &err), -PP_ETOOBIG);
	assert_non_null(strstr(err.msg, "50 trailing bytes"));
}

static void test_failure_leaves_output(void **state)
{
	(void)state;
	struct pp_hello h, before;
	uint8_t buf[PP_HELLO_V2_LEN];

	memset(&h, 0xa5, sizeof(h));
	before = h;
	memcpy(buf, v2_wire, sizeof(buf));
	buf[31] = 'a';
	assert_int_equal(pp_hello_parse(buf, sizeof(buf), &h, NULL), -PP_EINVAL);
	assert_memory_equal(&h, &before, sizeof(h));
	assert_int_equal(pp_hello_parse(buf, 31, &h, NULL), -PP_ETRUNC);
	assert_memory_equal(&h, &before, sizeof(h));
}

static void test_write_rejects(void **state)
{
	(void)state;
	struct pp_hello good, h;
	struct pp_err err = {0};
	uint8_t out[PP_HELLO_MAX_LEN];
	size_t len;

	assert_int_equal(pp_hello_parse(v2_wire, sizeof(v2_wire), &good, &err), 0);

	h = good;
	h.hash_count = 1;
	h.hashes[0].type = 1;
	h.hashes[0].len = 20;
	assert_int_equal(pp_hello_write(&h, out, sizeof(out), &len, &err), -PP_EINVAL);
	assert_non_null(strstr(err.msg, "v2 carries none"));

	h = good;
	memcpy(h.pid, "0000037", 8); /* 7 characters */
	assert_int_equal(pp_hello_write(&h, out, sizeof(out), &len, &err), -PP_EINVAL);
	assert_non_null(strstr(err.msg, "PID is not 8 characters"));
	h = good;
	memset(h.pid, 'A', sizeof(h.pid)); /* no NUL at all */
	assert_int_equal(pp_hello_write(&h, out, sizeof(out), &len, &err), -PP_EINVAL);
	h = good;
	h.pid[3] = 'x';
	assert_int_equal(pp_hello_write(&h, out, sizeof(out), &len, &err), -PP_EINVAL);
	assert_non_null(strstr(err.msg, "PID byte 3 is 0x78"));
	h = good;
	h.admin_credentials_set = 2;
	assert_int_equal(pp_hello_write(&h, out, sizeof(out), &len, &err), -PP_EINVAL);
	h = good;
	h.retry_count = 15;
	assert_int_equal(pp_hello_write(&h, out, sizeof(out), &len, &err), -PP_EINVAL);
	h = good;
	assert_int_equal(pp_hello_write(&h, out, PP_HELLO_V2_LEN - 1, &len, &err), -PP_ETOOBIG);

	/* v3: no PID, hashes valid and within the cap. */
	h = good;
	h.version = PP_HELLO_V3;
	assert_int_equal(pp_hello_write(&h, out, sizeof(out), &len, &err), -PP_EINVAL);
	assert_non_null(strstr(err.msg, "v3 carries none"));
	h.pid[0] = '\0';
	assert_int_equal(pp_hello_write(&h, out, sizeof(out), &len, &err), 0);
	assert_int_equal(len, 25);
	h.hash_count = PP_HELLO_MAX_HASHES + 1;
	assert_int_equal(pp_hello_write(&h, out, sizeof(out), &len, &err), -PP_ETOOBIG);
	h.hash_count = 1;
	h.hashes[0].type = PP_HELLO_HASH_SHA256;
	h.hashes[0].len = 48;
	assert_int_equal(pp_hello_write(&h, out, sizeof(out), &len, &err), -PP_EINVAL);
	h.hashes[0].type = 9;
	assert_int_equal(pp_hello_write(&h, out, sizeof(out), &len, &err), -PP_EINVAL);
	h.hashes[0].type = PP_HELLO_HASH_SHA384;
	assert_int_equal(pp_hello_write(&h, out, sizeof(out), &len, &err), 0);
	assert_int_equal(len, 25 + 2 + 48);
}

/* What real AMT v3 firmware sends: 20-30 hashes of SHA-256 and SHA-384, a few SHA-1
 * (types cycle 2, 3, 2, 3, 1). */
static const uint8_t cycle[5] = {2, 3, 2, 3, 1};

static size_t build_real_v3(uint8_t *buf, size_t count)
{
	uint8_t types[PP_HELLO_MAX_HASHES], lens[PP_HELLO_MAX_HASHES];
	for (size_t i = 0; i < count; i++) {
		types[i] = cycle[i % 5];
		lens[i] = (uint8_t)pp_hello_hash_len(types[i]);
	}
	return build_v3(buf, types, lens, count);
}

static void check_v3_parses(const uint8_t *buf, size_t n, size_t count)
{
	static struct pp_hello h;
	static uint8_t out[PP_HELLO_MAX_LEN];
	struct pp_err err = {0};
	size_t len = 0;
	assert_int_equal(pp_hello_parse(buf, n, &h, &err), 0);
	assert_int_equal(h.version, PP_HELLO_V3);
	assert_int_equal(h.hash_count, count);
	assert_int_equal(h.hashes[count - 1].len, pp_hello_hash_len(h.hashes[count - 1].type));
	assert_int_equal(h.hashes[count - 1].hash[0], (uint8_t)(0x10 * (count - 1)));
	assert_int_equal(pp_hello_write(&h, out, sizeof(out), &len, &err), 0);
	assert_int_equal(len, n);
	assert_memory_equal(out, buf, n);
}

/* Every cut of a valid v3 message is truncated (never another error). */
static void check_every_cut(const uint8_t *buf, size_t n)
{
	static struct pp_hello h;
	struct pp_err err;
	for (size_t cut = 0; cut < n; cut++) {
		pp_err_clear(&err);
		int rc = pp_hello_parse(buf, cut, &h, &err);
		if (rc != -PP_ETRUNC)
			fail_msg("cut at %zu of %zu: %d (%s)", cut, n, rc, err.msg);
	}
}

static void test_v3_real_sizes(void **state)
{
	(void)state;
	static uint8_t buf[PP_HELLO_MAX_LEN + 64];
	static struct pp_hello h;
	struct pp_err err = {0};
	size_t n;

	/* 23 hashes: 903 bytes, over the 825 the old cap of 16 allowed. */
	n = build_real_v3(buf, 23);
	assert_int_equal(n, 25 + 4 * (34 + 50 + 34 + 50 + 22) + 34 + 50 + 34);
	assert_true(n > 825);
	check_v3_parses(buf, n, 23);
	check_every_cut(buf, n);
	/* A trailing byte. */
	buf[n] = 0;
	assert_int_equal(pp_hello_parse(buf, n + 1, &h, &err), -PP_ETOOBIG);
	assert_non_null(strstr(err.msg, "hello v3: 1 trailing byte"));
	/* A wrong len for its type in the last entry, each type. */
	for (uint8_t t = 1; t <= 3; t++) {
		n = build_real_v3(buf, 23);
		size_t last = n - 2 - pp_hello_hash_len(2); /* entry 22 is type 2 (SHA-256) */
		assert_int_equal(buf[last], 2);
		buf[last] = t;
		if (t != 2) {
			char want[64];
			snprintf(want, sizeof(want),
				 "hash 22 of type %u has length 32, expected %zu", t,
				 pp_hello_hash_len(t));
			expect_field(buf, n, want);
		}
	}
	/* 30 hashes, as sent by the integration test. */
	n = build_real_v3(buf, 30);
	check_v3_parses(buf, n, 30);

	/* 255 real-mix hashes, and 255 SHA-384 ones: the largest hello. */
	n = build_real_v3(buf, 255);
	check_v3_parses(buf, n, 255);
	check_every_cut(buf, n);
	uint8_t types[PP_HELLO_MAX_HASHES], lens[PP_HELLO_MAX_HASHES];
	memset(types, PP_HELLO_HASH_SHA384, sizeof(types));
	memset(lens, 48, sizeof(lens));
	n = build_v3(buf, types, lens, PP_HELLO_MAX_HASHES);
	assert_int_equal(n, PP_HELLO_MAX_LEN);
	check_v3_parses(buf, n, 255);
	check_every_cut(buf, n);
	/* One byte more is more than any hello. */
	buf[n] = 0;
	assert_int_equal(pp_hello_parse(buf, n + 1, &h, &err), -PP_ETOOBIG);
	assert_non_null(strstr(err.msg, "more than any hello"));
	/* The last entry of the largest hello with a wrong length. */
	n = build_v3(buf, types, lens, PP_HELLO_MAX_HASHES);
	buf[n - 49] = 32;
	assert_int_equal(pp_hello_parse(buf, n, &h, &err), -PP_EINVAL);
	assert_non_null(strstr(err.msg, "hash 254 of type 3 has length 32, expected 48"));
}

static void test_v3_failure_leaves_output(void **state)
{
	(void)state;
	static uint8_t buf[PP_HELLO_MAX_LEN];
	static struct pp_hello h, before;
	size_t n = build_real_v3(buf, 200);
	memset(&h, 0xa5, sizeof(h));
	before = h;
	/* An error at the very end, after 199 good entries: entry 199's len byte. */
	size_t last_len = pp_hello_hash_len(cycle[199 % 5]);
	assert_int_equal(buf[n - last_len - 1], last_len);
	buf[n - last_len - 1] = 9;
	assert_int_equal(pp_hello_parse(buf, n, &h, NULL), -PP_EINVAL);
	assert_memory_equal(&h, &before, sizeof(h));
	n = build_real_v3(buf, 200);
	assert_int_equal(pp_hello_parse(buf, n - 1, &h, NULL), -PP_ETRUNC);
	assert_memory_equal(&h, &before, sizeof(h));
	assert_int_equal(pp_hello_parse(buf, n, NULL, NULL), -PP_EINVAL);
}

/* Every one-byte change of a valid message either is rejected or is itself a valid
 * message that writes back byte for byte. */
static void test_mutations_round_trip(void **state)
{
	(void)state;
	uint8_t buf[PP_HELLO_MAX_LEN], src[PP_HELLO_MAX_LEN], out[PP_HELLO_MAX_LEN];
	size_t lens[2];
	struct pp_hello h;
	size_t len;

	memcpy(src, v2_wire, sizeof(v2_wire));
	lens[0] = sizeof(v2_wire);
	for (int which = 0; which < 2; which++) {
		if (which == 1)
			lens[1] = build_v3(src, v3_types, v3_lens, 3);
		size_t n = lens[which];
		for (size_t pos = 0; pos < n; pos++)
			for (unsigned v = 0; v < 256; v++) {
				memcpy(buf, src, n);
				buf[pos] = (uint8_t)v;
				if (pp_hello_parse(buf, n, &h, NULL) < 0)
					continue;
				assert_int_equal(pp_hello_write(&h, out, sizeof(out), &len, NULL),
						 0);
				assert_int_equal(len, n);
				assert_memory_equal(out, buf, n);
			}
	}
}

static void test_retry_delay(void **state)
{
	(void)state;
	const uint32_t min = 60u * 1000u;
	const uint32_t want[PP_HELLO_RETRY_MAX] = {
	    min,      min,      min,      min,      10 * min, 10 * min, 10 * min,
	    10 * min, 10 * min, 60 * min, 60 * min, 60 * min, 60 * min, 60 * min,
	};
	for (uint32_t i = 0; i < PP_HELLO_RETRY_MAX; i++)
		assert_int_equal(pp_hello_retry_delay_ms(i), want[i]);
	assert_int_equal(pp_hello_retry_delay_ms(14), PP_HELLO_NO_RETRY);
	assert_int_equal(pp_hello_retry_delay_ms(15), PP_HELLO_NO_RETRY);
	assert_int_equal(pp_hello_retry_delay_ms(UINT32_MAX), PP_HELLO_NO_RETRY);

	/* The documented send times: 0,1,2,3,4,14,24,34,44,54,114,174,234,294,354 min. */
	const uint32_t at_min[15] = {0, 1, 2, 3, 4, 14, 24, 34, 44, 54, 114, 174, 234, 294, 354};
	uint64_t t = 0;
	for (uint32_t i = 0; i < 15; i++) {
		assert_int_equal(t, (uint64_t)at_min[i] * min);
		t += pp_hello_retry_delay_ms(i);
	}
	/* Within each group of five the hellos are evenly spaced. */
	for (uint32_t g = 0; g < 3; g++)
		for (uint32_t k = 5 * g; k < 5 * g + 3; k++)
			assert_int_equal(pp_hello_retry_delay_ms(k),
					 pp_hello_retry_delay_ms(k + 1));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_v2_known_vector),
	    cmocka_unit_test(test_v2_write_from_text),
	    cmocka_unit_test(test_v2_every_field_value),
	    cmocka_unit_test(test_v3_round_trip),
	    cmocka_unit_test(test_v3_max_len),
	    cmocka_unit_test(test_truncated_every_byte),
	    cmocka_unit_test(test_v3_real_sizes),
	    cmocka_unit_test(test_v3_failure_leaves_output),
	    cmocka_unit_test(test_trailing_bytes),
	    cmocka_unit_test(test_bad_versions),
	    cmocka_unit_test(test_bad_fields_v2),
	    cmocka_unit_test(test_bad_fields_v3),
	    cmocka_unit_test(test_failure_leaves_output),
	    cmocka_unit_test(test_write_rejects),
	    cmocka_unit_test(test_mutations_round_trip),
	    cmocka_unit_test(test_retry_delay),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
