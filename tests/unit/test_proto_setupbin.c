/* setup.bin: round trips, Intel's own files decoded exactly, malformed input, and
 * in-place consumption (docs/protocol.md section 6). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cmocka.h>

#include "core/bytes.h"
#include "core/fileio.h"
#include "proto/setupbin.h"

#define BLK PP_USB_BLOCK
#define BODY PP_USB_REC_HEADER_BYTES

static const uint8_t power_package[16] = {0x73, 0x22, 0x73, 0x46, 0x23, 0xdc, 0x43, 0x2f,
					  0xa9, 0x8a, 0x13, 0xd3, 0x79, 0x82, 0xd8, 0x55};

/* ---- helpers ---- */

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
}

static void put32(uint8_t *p, uint32_t v)
{
	put16(p, (uint16_t)v);
	put16(p + 2, (uint16_t)(v >> 16));
}

static uint32_t get32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* A PSK-era record: passwords, manageability, PID/PPS, server address. */
static void make_record(struct pp_usb_record *r, uint32_t number, const char *cur, const char *pid)
{
	struct pp_err err;
	const uint8_t ip[4] = {192, 168, 7, 20};
	pp_usb_record_init(r, number);
	assert_int_equal(pp_usb_record_add_string(r, 1, 1, cur, &err), 0);
	assert_int_equal(pp_usb_record_add_string(r, 1, 2, "N3w-Passw0rd!", &err), 0);
	assert_int_equal(pp_usb_record_add_u8(r, 1, 3, 1, &err), 0);
	assert_int_equal(pp_usb_record_add_string(r, 2, 1, pid, &err), 0);
	assert_int_equal(
	    pp_usb_record_add_string(r, 2, 2, "NKLDG5DCRRNQE9YZZIJL7LFLVJED69XJ", &err), 0);
	assert_int_equal(pp_usb_record_add_string(r, 2, 4, "prov.example.org", &err), 0);
	assert_int_equal(pp_usb_record_add_ipv4(r, 2, 17, ip, &err), 0);
	assert_int_equal(pp_usb_record_add_u16(r, 2, 18, 9971, &err), 0);
}

/* A file of n PSK records into buf (cap >= 512 x (n + 1)); returns its length. */
static size_t build_file(uint8_t *buf, size_t cap, unsigned version, bool scramble, uint32_t n,
			 uint16_t hdr_flags)
{
	struct pp_err err;
	struct pp_usb_header h;
	size_t size;
	assert_int_equal(pp_usb_file_size(n, &size), 0);
	assert_true(size <= cap);
	assert_int_equal(pp_usb_header_init(&h, version, hdr_flags, n, &err), 0);
	assert_int_equal(pp_usb_header_add_module(&h, 2, &err), 0);
	assert_int_equal(pp_usb_header_add_module(&h, 1, &err), 0);
	assert_int_equal(h.record_header_bytes, 46);
	assert_int_equal(pp_usb_header_write(&h, buf, &err), 0);
	for (uint32_t i = 0; i < n; i++) {
		struct pp_usb_record r;
		char pid[9];
		snprintf(pid, sizeof(pid), "PID%05u", (unsigned)(i + 1) % 100000u);
		make_record(&r, i + 1, "admin", pid);
		assert_int_equal(pp_usb_record_write(&r, scramble, buf + BLK * (i + 1), &err), 0);
		pp_usb_record_wipe(&r);
	}
	return size;
}

/* Offset of the i-th entry of a block's body (descrambled view not needed: entry
 * headers sit at the same offsets either way). */
static size_t entry_off(const struct pp_usb_record *r, size_t i)
{
	return BODY + r->vars[i].off - PP_USB_ENTRY_HEADER;
}

/* Adds delta to a body byte, honouring the scrambling. */
static void poke(uint8_t *block, size_t off, uint8_t raw)
{
	bool scrambled = get32(block + 4) & PP_USB_REC_SCRAMBLED;
	block[off] = scrambled ? (uint8_t)(raw + 0x11) : raw;
}

static void poke16(uint8_t *block, size_t off, uint16_t v)
{
	poke(block, off, (uint8_t)v);
	poke(block, off + 1, (uint8_t)(v >> 8));
}

static int parse_file(const uint8_t *buf, size_t len, struct pp_err *err)
{
	struct pp_usb_file f;
	int rc = pp_usb_file_parse(buf, len, &f, err);
	if (rc == 0)
		pp_usb_file_free(&f);
	return rc;
}

/* Intel's files live outside the repository (PP_VECTORS_DIR). Without them the tests
 * that read them are skipped, and main() reports the run as skipped to ctest (exit 77,
 * SKIP_RETURN_CODE) unless PSKPROV_REQUIRE_VECTORS=1 makes a missing file a failure. */
static int vectors_missing;

static int vectors_required(void)
{
	const char *v = getenv("PSKPROV_REQUIRE_VECTORS");
	return v && strcmp(v, "1") == 0;
}

static void read_vector(const char *name, struct pp_buf *b)
{
	char path[512];
	struct pp_err err;
	snprintf(path, sizeof(path), "%s/intel-acu/%s", PP_VECTORS_DIR, name);
	if (access(path, F_OK) != 0) {
		if (vectors_required())
			fail_msg("%s is missing and PSKPROV_REQUIRE_VECTORS=1", path);
		vectors_missing = 1;
		print_message("vector %s not found: test skipped\n", path);
		skip();
	}
	pp_buf_init(b, 1 << 20);
	int rc = pp_file_read(path, 1 << 20, b, &err);
	if (rc < 0)
		fail_msg("cannot read %s: %s", path, err.msg);
}

static void expect_var(const struct pp_usb_record *r, size_t i, uint16_t m, uint16_t v,
		       const void *value, size_t len)
{
	assert_true(i < r->n_vars);
	assert_int_equal(r->vars[i].module, m);
	assert_int_equal(r->vars[i].variable, v);
	assert_int_equal(r->vars[i].len, len);
	assert_memory_equal(r->body + r->vars[i].off, value, len);
}

/* ---- round trips ---- */

static void test_roundtrip_versions(void **state)
{
	(void)state;
	uint8_t buf[3 * BLK], again[3 * BLK];
	for (unsigned v = 1; v <= 4; v++) {
		for (int s = 0; s < 2; s++) {
			struct pp_err err;
			struct pp_usb_file f;
			size_t len = build_file(buf, sizeof(buf), v, s, 2, 0);
			assert_int_equal(len, 3 * BLK);
			assert_memory_equal(buf, pp_usb_guid(v), 16);
			assert_int_equal(buf[24], v);
			assert_int_equal(buf[25], 0);
			/* Scrambling covers the entries and the zeros after them. */
			assert_int_equal(buf[BLK + BODY], s ? 0x12 : 0x01);
			assert_int_equal(buf[2 * BLK - 1], s ? 0x11 : 0x00);
			assert_int_equal(get32(buf + BLK + 4), s ? 3u : 1u);

			int rc = pp_usb_file_parse(buf, len, &f, &err);
			if (rc)
				fail_msg("v%u s%d: %s", v, s, err.msg);
			assert_int_equal(f.header.version, v);
			assert_int_equal(f.header.major, v);
			assert_int_equal(f.header.data_record_count, 2);
			assert_int_equal(f.header.data_records_consumed, 0);
			assert_int_equal(f.header.n_modules, 2);
			assert_int_equal(f.header.modules[0], 1);
			assert_int_equal(f.header.modules[1], 2);
			assert_int_equal(f.notes, 0);
			assert_int_equal(f.n_records, 2);

			const struct pp_usb_record *r = &f.records[1];
			char str[64];
			uint8_t u8, ip[4];
			uint16_t port;
			assert_int_equal(r->type, PP_USB_TYPE_DATA);
			assert_int_equal(r->number, 2);
			assert_int_equal(r->n_vars, 8);
			assert_int_equal(pp_usb_record_get_string(r, 1, 1, str, sizeof(str), &err),
					 0);
			assert_string_equal(str, "admin");
			assert_int_equal(pp_usb_record_get_string(r, 1, 2, str, sizeof(str), &err),
					 0);
			assert_string_equal(str, "N3w-Passw0rd!");
			assert_int_equal(pp_usb_record_get_string(r, 2, 1, str, sizeof(str), &err),
					 0);
			assert_string_equal(str, "PID00002");
			assert_int_equal(pp_usb_record_get_string(r, 2, 2, str, sizeof(str), &err),
					 0);
			assert_string_equal(str, "NKLDG5DCRRNQE9YZZIJL7LFLVJED69XJ");
			assert_int_equal(pp_usb_record_get_u8(r, 1, 3, &u8, &err), 0);
			assert_int_equal(u8, 1);
			assert_int_equal(pp_usb_record_get_u16(r, 2, 18, &port, &err), 0);
			assert_int_equal(port, 9971);
			assert_int_equal(pp_usb_record_get_ipv4(r, 2, 17, ip, &err), 0);
			assert_int_equal(ip[0], 192);
			assert_int_equal(ip[3], 20);
			/* Stored reversed: d c b a. */
			const uint8_t *raw;
			size_t rlen;
			assert_int_equal(pp_usb_record_get(r, 2, 17, &raw, &rlen), 0);
			assert_int_equal(rlen, 4);
			assert_int_equal(raw[0], 20);
			assert_int_equal(raw[3], 192);

			size_t olen = 0;
			assert_int_equal(pp_usb_file_write(&f, again, sizeof(again), &olen, &err),
					 0);
			assert_int_equal(olen, len);
			assert_memory_equal(again, buf, len);
			pp_usb_file_free(&f);
		}
	}
}

static void test_record_builder(void **state)
{
	(void)state;
	struct pp_err err;
	struct pp_usb_record a, b;
	const uint8_t one = 1;
	/* Added out of order: kept sorted, same bytes as added in order. */
	pp_usb_record_init(&a, 1);
	assert_int_equal(pp_usb_record_add_u8(&a, 2, 29, 1, &err), 0);
	assert_int_equal(pp_usb_record_add_string(&a, 1, 2, "Secret-1", &err), 0);
	assert_int_equal(pp_usb_record_add(&a, 7, 9, "\x00\x01\x02", 3, &err), 0);
	assert_int_equal(pp_usb_record_add_string(&a, 1, 1, "admin", &err), 0);
	assert_int_equal(pp_usb_record_add_u8(&a, 2, 13, 2, &err), 0);
	pp_usb_record_init(&b, 1);
	assert_int_equal(pp_usb_record_add_string(&b, 1, 1, "admin", &err), 0);
	assert_int_equal(pp_usb_record_add_string(&b, 1, 2, "Secret-1", &err), 0);
	assert_int_equal(pp_usb_record_add_u8(&b, 2, 13, 2, &err), 0);
	assert_int_equal(pp_usb_record_add_u8(&b, 2, 29, 1, &err), 0);
	assert_int_equal(pp_usb_record_add(&b, 7, 9, "\x00\x01\x02", 3, &err), 0);
	assert_int_equal(a.n_vars, 5);
	assert_int_equal(a.body_used, b.body_used);
	assert_memory_equal(a.body, b.body, sizeof(a.body));
	assert_memory_equal(a.vars, b.vars, sizeof(a.vars[0]) * a.n_vars);

	uint8_t wa[BLK], wb[BLK];
	assert_int_equal(pp_usb_record_write(&a, true, wa, &err), 0);
	assert_int_equal(pp_usb_record_write(&b, true, wb, &err), 0);
	assert_memory_equal(wa, wb, BLK);

	/* Duplicates, types, lengths, NUL in strings. */
	assert_int_equal(pp_usb_record_add_u8(&a, 2, 13, 1, &err), -PP_EEXIST);
	assert_int_equal(pp_usb_record_add_u8(&a, 1, 2, 1, &err), -PP_EINVAL);
	assert_int_equal(pp_usb_record_add_string(&a, 2, 1, "SHORT", &err), -PP_EINVAL);
	assert_int_equal(pp_usb_record_add_string(&a, 2, 2, "NKLD", &err), -PP_EINVAL);
	assert_int_equal(pp_usb_record_add(&a, 2, 1, "ABCD\0EFG", 8, &err), -PP_EINVAL);
	assert_int_equal(pp_usb_record_add(&a, 1, 3, "\x01\x01", 2, &err), -PP_EINVAL);
	assert_int_equal(pp_usb_record_add(&a, 1, 6, power_package, 15, &err), -PP_EINVAL);
	assert_int_equal(pp_usb_record_add(&a, 0, 1, &one, 1, &err), -PP_EINVAL);
	assert_int_equal(pp_usb_record_add(&a, 1, 0, &one, 1, &err), -PP_EINVAL);
	assert_int_equal(pp_usb_record_add_string(&a, 1, 2, "", &err), -PP_EINVAL);
	assert_int_equal(a.n_vars, 5);

	/* Full body: 480 bytes is the largest value; a second entry no longer fits. */
	uint8_t big[481];
	memset(big, 0xab, sizeof(big));
	pp_usb_record_init(&b, 3);
	assert_int_equal(pp_usb_record_add(&b, 9, 1, big, 481, &err), -PP_ETOOBIG);
	assert_int_equal(pp_usb_record_add(&b, 9, 1, big, 480, &err), 0);
	assert_int_equal(b.body_used, PP_USB_BODY_LEN);
	assert_int_equal(pp_usb_record_add(&b, 9, 2, NULL, 0, &err), -PP_ETOOBIG);
	struct pp_usb_record c;
	assert_int_equal(pp_usb_record_write(&b, false, wa, &err), 0);
	assert_int_equal(pp_usb_record_parse(wa, BLK, &c, &err), 0);
	assert_int_equal(c.n_vars, 1);
	assert_int_equal(c.body_used, PP_USB_BODY_LEN);
	/* 61 empty unknown entries fill the body exactly. */
	pp_usb_record_init(&b, 4);
	for (uint16_t i = 1; i <= PP_USB_VARS_MAX; i++)
		assert_int_equal(pp_usb_record_add(&b, 9, i, NULL, 0, &err), 0);
	assert_int_equal(pp_usb_record_add(&b, 9, 100, NULL, 0, &err), -PP_ETOOBIG);
	assert_int_equal(pp_usb_record_write(&b, true, wa, &err), 0);
	assert_int_equal(pp_usb_record_parse(wa, BLK, &c, &err), 0);
	assert_int_equal(c.n_vars, PP_USB_VARS_MAX);

	/* The writer refuses what would not parse back. */
	pp_usb_record_init(&b, 0);
	assert_int_equal(pp_usb_record_write(&b, false, wa, &err), -PP_EINVAL);
	b = a;
	b.vars[0].module = 3; /* now out of order */
	assert_int_equal(pp_usb_record_write(&b, false, wa, &err), -PP_EINVAL);
	b = a;
	b.vars[1].off = PP_USB_BODY_LEN - 2;
	assert_int_equal(pp_usb_record_write(&b, false, wa, &err), -PP_EINVAL);
	b = a;
	b.type = 2;
	assert_int_equal(pp_usb_record_write(&b, false, wa, &err), -PP_EINVAL);
	pp_usb_record_wipe(&a);
	pp_usb_record_wipe(&b);
	pp_usb_record_wipe(&c);
}

static void test_getters(void **state)
{
	(void)state;
	struct pp_err err;
	struct pp_usb_record r;
	char small[5];
	uint8_t u8, ip[4];
	uint16_t u16;
	make_record(&r, 1, "admin", "PID00001");
	assert_int_equal(pp_usb_record_get_u8(&r, 1, 6, &u8, &err), -PP_ENOTFOUND);
	assert_int_equal(pp_usb_record_get_u8(&r, 1, 1, &u8, &err), -PP_EINVAL);
	assert_int_equal(pp_usb_record_get_u16(&r, 1, 3, &u16, &err), -PP_EINVAL);
	assert_int_equal(pp_usb_record_get_ipv4(&r, 2, 18, ip, &err), -PP_EINVAL);
	assert_int_equal(pp_usb_record_get_string(&r, 1, 1, small, sizeof(small), &err),
			 -PP_ETOOBIG);
	char six[6];
	assert_int_equal(pp_usb_record_get_string(&r, 1, 1, six, sizeof(six), &err), 0);
	assert_string_equal(six, "admin");

	const struct pp_usb_var_info *vi = pp_usb_var_lookup(2, 2);
	assert_non_null(vi);
	assert_true(vi->secret);
	assert_int_equal(vi->type, PP_USB_VT_STRING);
	assert_int_equal(vi->min_len, 32);
	assert_true(pp_usb_var_lookup(1, 1)->secret);
	assert_true(pp_usb_var_lookup(1, 2)->secret);
	assert_false(pp_usb_var_lookup(2, 1)->secret);
	assert_int_equal(pp_usb_var_lookup(2, 17)->type, PP_USB_VT_IPV4_REV);
	assert_int_equal(pp_usb_var_lookup(1, 6)->type, PP_USB_VT_GUID);
	assert_null(pp_usb_var_lookup(2, 23));
	size_t n;
	const struct pp_usb_var_info *cat = pp_usb_var_catalogue(&n);
	assert_int_equal(n, 14);
	for (size_t i = 1; i < n; i++)
		assert_true((cat[i - 1].module << 16 | cat[i - 1].variable) <
			    (cat[i].module << 16 | cat[i].variable));
	pp_usb_record_wipe(&r);
}

/* ---- Intel's files ---- */

static void check_intel_record(const struct pp_usb_record *r, bool full)
{
	const uint8_t one = 1, two = 2, zero = 0, seven = 7;
	size_t i = 0;
	assert_int_equal(r->type, 1);
	assert_int_equal(r->flags, PP_USB_REC_VALID | PP_USB_REC_SCRAMBLED);
	assert_int_equal(r->number, 1);
	assert_int_equal(r->notes, 0);
	expect_var(r, i++, 1, 1, "admin", 5);
	expect_var(r, i++, 1, 2, "HeyH0Password!", 14);
	if (full)
		expect_var(r, i++, 1, 3, &one, 1);
	expect_var(r, i++, 1, 6, power_package, 16);
	if (full)
		expect_var(r, i++, 2, 10, &seven, 1);
	expect_var(r, i++, 2, 13, &two, 1);
	/* Not in docs/protocol.md: decoded generically, bytes kept. */
	expect_var(r, i++, 2, 23, &one, 1);
	expect_var(r, i++, 2, 25, &one, 1);
	expect_var(r, i++, 2, 26, &zero, 1);
	expect_var(r, i++, 2, 27, &one, 1);
	expect_var(r, i++, 2, 29, &one, 1);
	assert_int_equal(r->n_vars, i);
	assert_int_equal(r->body_used, full ? 160 : 136);
	/* The rest of the descrambled body is zero. */
	for (size_t k = r->body_used; k < PP_USB_BODY_LEN; k++)
		assert_int_equal(r->body[k], 0);
}

static void test_intel_setup_bin(void **state)
{
	(void)state;
	struct pp_buf b;
	struct pp_err err;
	struct pp_usb_file f;
	read_vector("Setup.bin", &b);
	assert_int_equal(b.len, 1024);
	int rc = pp_usb_file_parse(b.data, b.len, &f, &err);
	if (rc)
		fail_msg("Setup.bin: %s", err.msg);
	const struct pp_usb_header *h = &f.header;
	assert_int_equal(h->version, 4);
	assert_int_equal(h->record_chunk_count, 1);
	assert_int_equal(h->record_header_bytes, 46);
	assert_int_equal(h->record_number, 0);
	assert_int_equal(h->major, 4);
	assert_int_equal(h->minor, 0);
	assert_int_equal(h->flags, PP_USB_HDR_NO_CONSUME);
	assert_int_equal(h->data_record_count, 1);
	assert_int_equal(h->data_records_consumed, 0);
	assert_int_equal(h->data_record_chunk_count, 1);
	/* ACU writes an empty module list yet RecordHeaderBytes 46: reported, accepted. */
	assert_int_equal(h->n_modules, 0);
	assert_int_equal(h->notes, PP_USB_NOTE_HEADER_BYTES);
	assert_int_equal(f.notes, PP_USB_NOTE_HEADER_BYTES | PP_USB_NOTE_MODULE_LIST);
	assert_int_equal(f.n_records, 1);
	check_intel_record(&f.records[0], true);

	char pw[33];
	uint8_t u8;
	assert_int_equal(pp_usb_record_get_string(&f.records[0], 1, 2, pw, sizeof(pw), &err), 0);
	assert_string_equal(pw, "HeyH0Password!");
	assert_int_equal(pp_usb_record_get_u8(&f.records[0], 2, 10, &u8, &err), 0);
	assert_int_equal(u8, 7);

	/* Written back byte for byte. */
	uint8_t out[1024];
	size_t olen;
	assert_int_equal(pp_usb_file_write(&f, out, sizeof(out), &olen, &err), 0);
	assert_int_equal(olen, 1024);
	assert_memory_equal(out, b.data, 1024);
	pp_usb_file_free(&f);
	pp_buf_free(&b);
}

static void test_intel_setup_default_bin(void **state)
{
	(void)state;
	struct pp_buf b;
	struct pp_err err;
	struct pp_usb_file f;
	read_vector("Setup-default.bin", &b);
	assert_int_equal(b.len, 1024);
	int rc = pp_usb_file_parse(b.data, b.len, &f, &err);
	if (rc)
		fail_msg("Setup-default.bin: %s", err.msg);
	const struct pp_usb_header *h = &f.header;
	assert_int_equal(h->version, 4);
	assert_int_equal(h->record_header_bytes, 46);
	assert_int_equal(h->major, 4);
	assert_int_equal(h->minor, 0);
	assert_int_equal(h->flags, PP_USB_HDR_NO_CONSUME);
	assert_int_equal(h->data_record_count, 1);
	assert_int_equal(h->data_records_consumed, 0);
	assert_int_equal(h->n_modules, 2);
	assert_int_equal(h->modules[0], 1);
	assert_int_equal(h->modules[1], 2);
	assert_int_equal(f.notes, 0);
	check_intel_record(&f.records[0], false);
	assert_int_equal(
	    pp_usb_record_get(&f.records[0], 1, 3, &(const uint8_t *){NULL}, &(size_t){0}),
	    -PP_ENOTFOUND);

	uint8_t out[1024];
	size_t olen;
	assert_int_equal(pp_usb_file_write(&f, out, sizeof(out), &olen, &err), 0);
	assert_memory_equal(out, b.data, 1024);
	pp_usb_file_free(&f);
	pp_buf_free(&b);
}

/* ---- malformed input ---- */

static void test_truncation_every_length(void **state)
{
	(void)state;
	uint8_t buf[4 * BLK];
	struct pp_err err;
	size_t len = build_file(buf, sizeof(buf), 1, true, 2, 0);
	assert_int_equal(parse_file(buf, len, &err), 0);
	for (size_t n = 0; n < len; n++) {
		/* A heap copy of exactly n bytes, so ASan sees any over-read. */
		uint8_t *p = malloc(n ? n : 1);
		assert_non_null(p);
		memcpy(p, buf, n);
		int rc = parse_file(p, n, &err);
		if (n >= BLK && n % BLK)
			assert_int_equal(rc, -PP_EINVAL);
		else
			assert_int_equal(rc, -PP_ETRUNC);
		free(p);
	}
	/* One block too many. */
	memset(buf + len, 0, BLK);
	assert_int_equal(parse_file(buf, len + BLK, &err), -PP_ETOOBIG);
	/* Per-block parsers: exactly 512. */
	struct pp_usb_record r;
	struct pp_usb_header h;
	assert_int_equal(pp_usb_record_parse(buf + BLK, BLK - 1, &r, &err), -PP_ETRUNC);
	assert_int_equal(pp_usb_record_parse(buf + BLK, BLK + 1, &r, &err), -PP_ETOOBIG);
	assert_int_equal(pp_usb_header_parse(buf, BLK - 1, &h, &err), -PP_ETRUNC);
}

static void test_length_overflow(void **state)
{
	(void)state;
	uint8_t buf[3 * BLK], bad[3 * BLK];
	struct pp_err err;
	for (int s = 0; s < 2; s++) {
		size_t len = build_file(buf, sizeof(buf), 2, s, 2, 0);
		for (int rn = 0; rn < 2; rn++) {
			uint8_t *blk0 = buf + BLK * (rn + 1);
			struct pp_usb_record r;
			assert_int_equal(pp_usb_record_parse(blk0, BLK, &r, &err), 0);
			for (size_t i = 0; i < r.n_vars; i++) {
				size_t eo = entry_off(&r, i);
				size_t left = BLK - eo - PP_USB_ENTRY_HEADER;
				const uint16_t lens[] = {
				    0xffff, 0x8000, 0x7fff, (uint16_t)left + 1, (uint16_t)left + 4,
				    481,    0xfffd};
				for (size_t k = 0; k < sizeof(lens) / sizeof(lens[0]); k++) {
					memcpy(bad, buf, len);
					uint8_t *blk = bad + BLK * (rn + 1);
					poke16(blk, eo + 4, lens[k]);
					assert_true(parse_file(bad, len, &err) < 0);
					struct pp_usb_record t;
					assert_true(pp_usb_record_parse(blk, BLK, &t, &err) < 0);
				}
			}
			pp_usb_record_wipe(&r);
		}
		/* Record ChunkCount and HeaderBytes. */
		const uint16_t vals[] = {0, 2, 23, 25, 0xffff};
		for (size_t k = 0; k < sizeof(vals) / sizeof(vals[0]); k++) {
			memcpy(bad, buf, len);
			put16(bad + BLK + 16, vals[k]);
			assert_int_equal(parse_file(bad, len, &err), -PP_EINVAL);
			memcpy(bad, buf, len);
			put16(bad + BLK + 18, vals[k]);
			assert_int_equal(parse_file(bad, len, &err), -PP_EINVAL);
		}
		/* Header chunk counts. */
		memcpy(bad, buf, len);
		put16(bad + 16, 2);
		assert_int_equal(parse_file(bad, len, &err), -PP_EINVAL);
		memcpy(bad, buf, len);
		put16(bad + 36, 0);
		assert_int_equal(parse_file(bad, len, &err), -PP_EINVAL);
	}
}

static void test_version_errors(void **state)
{
	(void)state;
	uint8_t buf[3 * BLK], bad[3 * BLK];
	struct pp_err err;
	size_t len = build_file(buf, sizeof(buf), 3, true, 2, 0);
	memcpy(bad, buf, len);
	bad[15] ^= 0x01;
	assert_int_equal(parse_file(bad, len, &err), -PP_EVERSION);
	assert_non_null(strstr(err.msg, "unknown file type GUID"));
	/* Major version must match the GUID. */
	memcpy(bad, buf, len);
	bad[24] = 4;
	assert_int_equal(parse_file(bad, len, &err), -PP_EVERSION);
	/* Minor version is compatible by definition. */
	memcpy(bad, buf, len);
	bad[25] = 7;
	struct pp_usb_file f;
	assert_int_equal(pp_usb_file_parse(bad, len, &f, &err), 0);
	assert_int_equal(f.header.minor, 7);
	pp_usb_file_free(&f);
	struct pp_usb_header h;
	assert_int_equal(pp_usb_header_init(&h, 5, 0, 0, &err), -PP_EVERSION);
	assert_int_equal(pp_usb_header_init(&h, 0, 0, 0, &err), -PP_EVERSION);
	assert_null(pp_usb_guid(5));
}

static void test_body_rules(void **state)
{
	(void)state;
	uint8_t buf[3 * BLK], bad[3 * BLK];
	struct pp_err err;
	for (int s = 0; s < 2; s++) {
		size_t len = build_file(buf, sizeof(buf), 1, s, 2, 0);
		uint8_t *blk = bad + 2 * BLK; /* record 2 */
		struct pp_usb_record r;
		assert_int_equal(pp_usb_record_parse(buf + 2 * BLK, BLK, &r, &err), 0);

		/* Unsorted: 1/1 and 1/2 swapped in variable id. */
		memcpy(bad, buf, len);
		poke16(blk, entry_off(&r, 0) + 2, 2);
		poke16(blk, entry_off(&r, 1) + 2, 1);
		assert_int_equal(parse_file(bad, len, &err), -PP_EINVAL);
		assert_non_null(strstr(err.msg, "sorted"));
		/* Duplicate. */
		memcpy(bad, buf, len);
		poke16(blk, entry_off(&r, 1) + 2, 1);
		assert_int_equal(parse_file(bad, len, &err), -PP_EINVAL);

		/* Padding after "admin" (5 bytes, padded to 8). */
		memcpy(bad, buf, len);
		poke(blk, BODY + r.vars[0].off + 6, 0x20);
		assert_int_equal(parse_file(bad, len, &err), -PP_EINVAL);
		assert_non_null(strstr(err.msg, "padding"));

		/* Entry reserved field. */
		memcpy(bad, buf, len);
		poke16(blk, entry_off(&r, 2) + 6, 1);
		assert_int_equal(parse_file(bad, len, &err), -PP_EINVAL);
		assert_non_null(strstr(err.msg, "reserved"));
		/* Record reserved bytes. */
		memcpy(bad, buf, len);
		blk[12] = 1;
		assert_int_equal(parse_file(bad, len, &err), -PP_EINVAL);
		/* Header reserved field. */
		memcpy(bad, buf, len);
		put16(bad + 38, 1);
		assert_int_equal(parse_file(bad, len, &err), -PP_EINVAL);
		/* Header bytes after the module list. */
		memcpy(bad, buf, len);
		bad[300] = 1;
		assert_int_equal(parse_file(bad, len, &err), -PP_EINVAL);

		/* Bytes after the terminator. */
		memcpy(bad, buf, len);
		poke(blk, BODY + r.body_used + 9, 1);
		assert_int_equal(parse_file(bad, len, &err), -PP_EINVAL);
		memcpy(bad, buf, len);
		poke(blk, BLK - 1, 1);
		assert_int_equal(parse_file(bad, len, &err), -PP_EINVAL);
		/* A zero module with a non-zero variable ends the list but the rest must be
		 * zero. */
		memcpy(bad, buf, len);
		poke16(blk, BODY + r.body_used + 2, 5);
		assert_int_equal(parse_file(bad, len, &err), -PP_EINVAL);

		/* A typed variable with the wrong length: PID of 7 declared bytes. */
		memcpy(bad, buf, len);
		size_t pid = 3; /* vars: 1/1 1/2 1/3 2/1 ... */
		assert_int_equal(r.vars[pid].variable, 1);
		assert_int_equal(r.vars[pid].module, 2);
		poke16(blk, entry_off(&r, pid) + 4, 7);
		poke(blk, BODY + r.vars[pid].off + 7, 0);
		assert_int_equal(parse_file(bad, len, &err), -PP_EINVAL);
		/* A NUL inside a string variable. */
		memcpy(bad, buf, len);
		poke(blk, BODY + r.vars[pid].off + 3, 0);
		assert_int_equal(parse_file(bad, len, &err), -PP_EINVAL);
		assert_non_null(strstr(err.msg, "NUL"));

		/* RecordType other than 0/1; type 0 is accepted. */
		memcpy(bad, buf, len);
		put32(blk, 2);
		assert_int_equal(parse_file(bad, len, &err), -PP_EINVAL);
		memcpy(bad, buf, len);
		put32(blk, 0);
		assert_int_equal(parse_file(bad, len, &err), 0);

		/* Unknown record flag bits: noted, kept, written back. */
		memcpy(bad, buf, len);
		put32(blk + 4, get32(blk + 4) | 0x100);
		struct pp_usb_file f;
		assert_int_equal(pp_usb_file_parse(bad, len, &f, &err), 0);
		assert_int_equal(f.notes, PP_USB_NOTE_REC_FLAGS);
		uint8_t out[3 * BLK];
		size_t olen;
		assert_int_equal(pp_usb_file_write(&f, out, sizeof(out), &olen, &err), 0);
		assert_memory_equal(out, bad, len);
		pp_usb_file_free(&f);
		pp_usb_record_wipe(&r);
	}
}

static void test_counts(void **state)
{
	(void)state;
	uint8_t buf[3 * BLK], bad[3 * BLK];
	struct pp_err err;
	size_t len = build_file(buf, sizeof(buf), 4, false, 2, 0);
	memcpy(bad, buf, len);
	put32(bad + 28, 3);
	assert_int_equal(parse_file(bad, len, &err), -PP_ETRUNC);
	put32(bad + 28, 0xffffffff);
	assert_int_equal(parse_file(bad, len, &err), -PP_ETRUNC);
	put32(bad + 28, 1);
	assert_int_equal(parse_file(bad, len, &err), -PP_ETOOBIG);
	/* Consumed > count. */
	memcpy(bad, buf, len);
	put32(bad + 32, 3);
	assert_int_equal(parse_file(bad, len, &err), -PP_EINVAL);
	/* Record numbers must run 1, 2, ... */
	memcpy(bad, buf, len);
	put32(bad + 2 * BLK + 20, 3);
	assert_int_equal(parse_file(bad, len, &err), -PP_EINVAL);
	memcpy(bad, buf, len);
	put32(bad + BLK + 20, 0);
	assert_int_equal(parse_file(bad, len, &err), -PP_EINVAL);
	/* Header RecordNumber must be 0. */
	memcpy(bad, buf, len);
	put32(bad + 20, 1);
	assert_int_equal(parse_file(bad, len, &err), -PP_EINVAL);
	/* An empty file (header only) is well formed. */
	uint8_t hdr[BLK];
	assert_int_equal(build_file(hdr, sizeof(hdr), 1, false, 0, 0), BLK);
	struct pp_usb_file f;
	assert_int_equal(pp_usb_file_parse(hdr, BLK, &f, &err), 0);
	assert_int_equal(f.n_records, 0);
	pp_usb_file_free(&f);
}

static void test_header_modules(void **state)
{
	(void)state;
	struct pp_err err;
	struct pp_usb_header h, p;
	uint8_t blk[BLK];
	assert_int_equal(pp_usb_header_init(&h, 1, 0, 0, &err), 0);
	assert_int_equal(h.record_header_bytes, 42);
	for (uint16_t m = 1; m <= PP_USB_MODULES_MAX; m++)
		assert_int_equal(pp_usb_header_add_module(&h, (uint16_t)(100 - m), &err), 0);
	assert_int_equal(pp_usb_header_add_module(&h, 99, &err), 0); /* already there */
	assert_int_equal(pp_usb_header_add_module(&h, 200, &err), -PP_ETOOBIG);
	assert_int_equal(pp_usb_header_add_module(&h, 0, &err), -PP_EINVAL);
	assert_int_equal(h.record_header_bytes, 42 + 2 * PP_USB_MODULES_MAX);
	assert_int_equal(h.modules[0], 100 - PP_USB_MODULES_MAX);
	assert_int_equal(pp_usb_header_write(&h, blk, &err), 0);
	assert_int_equal(pp_usb_header_parse(blk, BLK, &p, &err), 0);
	assert_int_equal(p.n_modules, PP_USB_MODULES_MAX);
	assert_int_equal(p.notes, 0);
	/* A 33rd module on the wire. */
	put16(blk + 40 + 2 * PP_USB_MODULES_MAX, 7);
	assert_int_equal(pp_usb_header_parse(blk, BLK, &p, &err), -PP_ETOOBIG);
	/* Unknown header flags: noted. */
	assert_int_equal(pp_usb_header_init(&h, 2, 0x8001, 0, &err), 0);
	assert_int_equal(pp_usb_header_write(&h, blk, &err), 0);
	assert_int_equal(pp_usb_header_parse(blk, BLK, &p, &err), 0);
	assert_int_equal(p.notes, PP_USB_NOTE_HDR_FLAGS);
	assert_string_equal(pp_usb_note_str(PP_USB_NOTE_HDR_FLAGS), "unknown header flag bits");
}

/* ---- consumption ---- */

struct tmpdir {
	char dir[256];
	char path[300];
};

static void tmp_make(struct tmpdir *t)
{
	const char *base = getenv("TMPDIR");
	snprintf(t->dir, sizeof(t->dir), "%s/pp_usb_XXXXXX", base && *base ? base : "/tmp");
	assert_non_null(mkdtemp(t->dir));
	snprintf(t->path, sizeof(t->path), "%s/setup.bin", t->dir);
}

static void tmp_write(struct tmpdir *t, const uint8_t *data, size_t len)
{
	struct pp_err err;
	unlink(t->path);
	assert_int_equal(pp_file_create(t->path, data, len, 0600, &err), 0);
}

static void tmp_read(struct tmpdir *t, struct pp_buf *b)
{
	struct pp_err err;
	pp_buf_init(b, 1 << 20);
	assert_int_equal(pp_file_read(t->path, 1 << 20, b, &err), 0);
}

static void tmp_done(struct tmpdir *t)
{
	unlink(t->path);
	rmdir(t->dir);
}

static void expect_unchanged(struct tmpdir *t, const uint8_t *data, size_t len)
{
	struct pp_buf b;
	tmp_read(t, &b);
	assert_int_equal(b.len, len);
	assert_memory_equal(b.data, data, len);
	pp_buf_free(&b);
}

static void test_consume_sequence(void **state)
{
	(void)state;
	struct tmpdir t;
	uint8_t buf[3 * BLK];
	struct pp_err err;
	struct pp_usb_record r;
	char pid[9];
	size_t len = build_file(buf, sizeof(buf), 1, true, 2, 0);
	tmp_make(&t);
	tmp_write(&t, buf, len);

	int rc = pp_usb_consume_next(t.path, "admin", &r, &err);
	if (rc)
		fail_msg("%s", err.msg);
	assert_int_equal(r.number, 1);
	assert_int_equal(r.flags, PP_USB_REC_SCRAMBLED);
	assert_int_equal(pp_usb_record_get_string(&r, 2, 1, pid, sizeof(pid), &err), 0);
	assert_string_equal(pid, "PID00001");
	pp_usb_record_wipe(&r);

	struct pp_buf b;
	tmp_read(&t, &b);
	assert_int_equal(b.len, len);
	/* Only the valid bit and the count changed. */
	assert_int_equal(get32(b.data + BLK + 4), PP_USB_REC_SCRAMBLED);
	assert_int_equal(get32(b.data + 32), 1);
	put32(b.data + BLK + 4, get32(buf + BLK + 4));
	put32(b.data + 32, 0);
	assert_memory_equal(b.data, buf, len);
	pp_buf_free(&b);

	assert_int_equal(pp_usb_consume_next(t.path, "admin", &r, &err), 0);
	assert_int_equal(r.number, 2);
	assert_int_equal(pp_usb_record_get_string(&r, 2, 1, pid, sizeof(pid), &err), 0);
	assert_string_equal(pid, "PID00002");
	pp_usb_record_wipe(&r);

	tmp_read(&t, &b);
	struct pp_usb_file f;
	assert_int_equal(pp_usb_file_parse(b.data, b.len, &f, &err), 0);
	assert_int_equal(f.header.data_records_consumed, 2);
	assert_int_equal(f.notes, 0);
	assert_false(f.records[0].flags & PP_USB_REC_VALID);
	assert_false(f.records[1].flags & PP_USB_REC_VALID);
	pp_usb_file_free(&f);

	assert_int_equal(pp_usb_consume_next(t.path, "admin", &r, &err), -PP_ENOTFOUND);
	assert_non_null(strstr(err.msg, "no valid record left"));
	assert_int_equal(r.n_vars, 0);
	expect_unchanged(&t, b.data, b.len);
	pp_buf_free(&b);

	assert_int_equal(pp_usb_consume_next(t.dir, "admin", &r, &err), -PP_EIO);
	tmp_done(&t);
	assert_int_equal(pp_usb_consume_next(t.path, "admin", &r, &err), -PP_ENOTFOUND);
}

static void test_consume_refusals(void **state)
{
	(void)state;
	struct tmpdir t;
	uint8_t buf[3 * BLK];
	struct pp_err err;
	struct pp_usb_record r;
	tmp_make(&t);

	/* Do-not-consume: the record is returned, the file is untouched. */
	size_t len = build_file(buf, sizeof(buf), 2, true, 2, PP_USB_HDR_NO_CONSUME);
	tmp_write(&t, buf, len);
	for (int i = 0; i < 2; i++) {
		assert_int_equal(pp_usb_consume_next(t.path, "admin", &r, &err), 0);
		assert_int_equal(r.number, 1);
		assert_true(r.flags & PP_USB_REC_VALID);
		pp_usb_record_wipe(&r);
		expect_unchanged(&t, buf, len);
	}

	/* The device's password was changed already. */
	len = build_file(buf, sizeof(buf), 1, true, 2, 0);
	tmp_write(&t, buf, len);
	assert_int_equal(pp_usb_consume_next(t.path, "Chang3d!", &r, &err), -PP_ESTATE);
	assert_null(strstr(err.msg, "Chang3d!"));
	assert_int_equal(r.n_vars, 0);
	expect_unchanged(&t, buf, len);

	/* The record's current password is not the device's. */
	struct pp_usb_header h;
	assert_int_equal(pp_usb_header_init(&h, 1, 0, 1, &err), 0);
	assert_int_equal(pp_usb_header_add_module(&h, 1, &err), 0);
	assert_int_equal(pp_usb_header_add_module(&h, 2, &err), 0);
	assert_int_equal(pp_usb_header_write(&h, buf, &err), 0);
	make_record(&r, 1, "admin2", "PID00001");
	assert_int_equal(pp_usb_record_write(&r, true, buf + BLK, &err), 0);
	pp_usb_record_wipe(&r);
	tmp_write(&t, buf, 2 * BLK);
	assert_int_equal(pp_usb_consume_next(t.path, "admin", &r, &err), -PP_EPERM);
	assert_null(strstr(err.msg, "admin2"));
	expect_unchanged(&t, buf, 2 * BLK);
	make_record(&r, 1, "admi", "PID00001");
	assert_int_equal(pp_usb_record_write(&r, false, buf + BLK, &err), 0);
	pp_usb_record_wipe(&r);
	tmp_write(&t, buf, 2 * BLK);
	assert_int_equal(pp_usb_consume_next(t.path, "admin", &r, &err), -PP_EPERM);
	expect_unchanged(&t, buf, 2 * BLK);
	/* No 1/1 at all. */
	pp_usb_record_init(&r, 1);
	assert_int_equal(pp_usb_record_add_string(&r, 2, 1, "PID00001", &err), 0);
	assert_int_equal(pp_usb_record_write(&r, false, buf + BLK, &err), 0);
	tmp_write(&t, buf, 2 * BLK);
	assert_int_equal(pp_usb_consume_next(t.path, "admin", &r, &err), -PP_EPERM);
	expect_unchanged(&t, buf, 2 * BLK);

	/* Corrupted: bad padding in the last record; truncated; bad GUID. */
	len = build_file(buf, sizeof(buf), 1, true, 2, 0);
	buf[3 * BLK - 1] = 0x12;
	tmp_write(&t, buf, len);
	assert_int_equal(pp_usb_consume_next(t.path, "admin", &r, &err), -PP_EINVAL);
	assert_non_null(strstr(err.msg, "corrupted"));
	expect_unchanged(&t, buf, len);
	buf[3 * BLK - 1] = 0x11;
	tmp_write(&t, buf, len - 1);
	assert_int_equal(pp_usb_consume_next(t.path, "admin", &r, &err), -PP_EINVAL);
	expect_unchanged(&t, buf, len - 1);
	tmp_write(&t, buf, len - BLK);
	assert_int_equal(pp_usb_consume_next(t.path, "admin", &r, &err), -PP_ETRUNC);
	expect_unchanged(&t, buf, len - BLK);
	buf[0] ^= 0xff;
	tmp_write(&t, buf, len);
	assert_int_equal(pp_usb_consume_next(t.path, "admin", &r, &err), -PP_EVERSION);
	expect_unchanged(&t, buf, len);
	tmp_done(&t);
}

/* A crash after the valid bit was cleared and before the count was incremented. */
static void test_consume_after_crash(void **state)
{
	(void)state;
	struct tmpdir t;
	uint8_t buf[4 * BLK];
	struct pp_err err;
	struct pp_usb_record r;
	struct pp_usb_file f;
	size_t len = build_file(buf, sizeof(buf), 1, true, 3, 0);
	put32(buf + BLK + 4, get32(buf + BLK + 4) & ~PP_USB_REC_VALID);

	assert_int_equal(pp_usb_file_parse(buf, len, &f, &err), 0);
	assert_int_equal(f.header.data_records_consumed, 0);
	assert_int_equal(f.notes, PP_USB_NOTE_CONSUMED);
	pp_usb_file_free(&f);

	tmp_make(&t);
	tmp_write(&t, buf, len);
	assert_int_equal(pp_usb_consume_next(t.path, "admin", &r, &err), 0);
	assert_int_equal(r.number, 2);
	pp_usb_record_wipe(&r);
	struct pp_buf b;
	tmp_read(&t, &b);
	assert_int_equal(pp_usb_file_parse(b.data, b.len, &f, &err), 0);
	assert_int_equal(f.header.data_records_consumed, 1); /* still one behind */
	assert_int_equal(f.notes, PP_USB_NOTE_CONSUMED);
	assert_false(f.records[1].flags & PP_USB_REC_VALID);
	assert_true(f.records[2].flags & PP_USB_REC_VALID);
	pp_usb_file_free(&f);
	pp_buf_free(&b);

	assert_int_equal(pp_usb_consume_next(t.path, "admin", &r, &err), 0);
	assert_int_equal(r.number, 3);
	pp_usb_record_wipe(&r);
	assert_int_equal(pp_usb_consume_next(t.path, "admin", &r, &err), -PP_ENOTFOUND);

	/* A count already at DataRecordCount stays there; the valid bit still rules. */
	put32(buf + 32, 3);
	tmp_write(&t, buf, len);
	assert_int_equal(pp_usb_consume_next(t.path, "admin", &r, &err), 0);
	assert_int_equal(r.number, 2);
	pp_usb_record_wipe(&r);
	tmp_read(&t, &b);
	assert_int_equal(get32(b.data + 32), 3);
	assert_int_equal(get32(b.data + 2 * BLK + 4), PP_USB_REC_SCRAMBLED);
	pp_buf_free(&b);
	tmp_done(&t);
}

/* Two consumers at once: the second is refused while the first holds the lock. */
static void test_consume_locked(void **state)
{
	(void)state;
	struct tmpdir t;
	uint8_t buf[3 * BLK];
	struct pp_err err;
	struct pp_usb_record r;
	size_t len = build_file(buf, sizeof(buf), 1, true, 2, 0);
	tmp_make(&t);
	tmp_write(&t, buf, len);
	int fd = open(t.path, O_RDONLY | O_CLOEXEC);
	assert_true(fd >= 0);
	assert_int_equal(flock(fd, LOCK_EX | LOCK_NB), 0);
	assert_int_equal(pp_usb_consume_next(t.path, "admin", &r, &err), -PP_EBUSY);
	expect_unchanged(&t, buf, len);
	close(fd);
	assert_int_equal(pp_usb_consume_next(t.path, "admin", &r, &err), 0);
	assert_int_equal(r.number, 1);
	pp_usb_record_wipe(&r);
	tmp_done(&t);
}

/* Intel's file at runtime in a temporary copy: do-not-consume, current "admin". */
static void test_consume_intel(void **state)
{
	(void)state;
	struct tmpdir t;
	struct pp_buf b;
	struct pp_err err;
	struct pp_usb_record r;
	char pw[33];
	read_vector("Setup.bin", &b);
	tmp_make(&t);
	tmp_write(&t, b.data, b.len);
	assert_int_equal(pp_usb_consume_next(t.path, "admin", &r, &err), 0);
	assert_int_equal(pp_usb_record_get_string(&r, 1, 2, pw, sizeof(pw), &err), 0);
	assert_string_equal(pw, "HeyH0Password!");
	pp_usb_record_wipe(&r);
	expect_unchanged(&t, b.data, b.len);
	pp_buf_free(&b);
	tmp_done(&t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_roundtrip_versions),
	    cmocka_unit_test(test_record_builder),
	    cmocka_unit_test(test_getters),
	    cmocka_unit_test(test_intel_setup_bin),
	    cmocka_unit_test(test_intel_setup_default_bin),
	    cmocka_unit_test(test_truncation_every_length),
	    cmocka_unit_test(test_length_overflow),
	    cmocka_unit_test(test_version_errors),
	    cmocka_unit_test(test_body_rules),
	    cmocka_unit_test(test_counts),
	    cmocka_unit_test(test_header_modules),
	    cmocka_unit_test(test_consume_sequence),
	    cmocka_unit_test(test_consume_refusals),
	    cmocka_unit_test(test_consume_after_crash),
	    cmocka_unit_test(test_consume_locked),
	    cmocka_unit_test(test_consume_intel),
	};
	int failed = cmocka_run_group_tests(tests, NULL, NULL);
	if (failed == 0 && vectors_missing)
		return 77;
	return failed;
}
