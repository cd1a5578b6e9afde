/* PTHI frames (docs/protocol.md section 5). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <linux/uuid.h>

#include "core/err.h"
#include "core/parse.h"
#include "proto/pthi.h"

static const uint32_t all_commands[] = {
    PP_PTHI_GET_PROVISIONING_STATE,
    PP_PTHI_GET_CODE_VERSIONS,
    PP_PTHI_GET_UUID,
    PP_PTHI_CFG_GET_PID,
    PP_PTHI_GET_PROVISIONING_TLS_MODE,
    PP_PTHI_CFG_START_CONFIGURATION,
};
#define N_COMMANDS (sizeof(all_commands) / sizeof(all_commands[0]))

/* SMBIOS 3.x section 7.2.1 example, as in the hello tests. */
static const char uuid_text[] = "00112233-4455-6677-8899-aabbccddeeff";
static const uint8_t uuid_smbios[16] = {0x33, 0x22, 0x11, 0x00, 0x55, 0x44, 0x77, 0x66,
					0x88, 0x99, 0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0xff};

static void put32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
	p[2] = (uint8_t)(v >> 16);
	p[3] = (uint8_t)(v >> 24);
}

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
}

static void header_bytes(uint8_t *p, uint32_t command, uint32_t length)
{
	p[0] = 1;
	p[1] = 1;
	p[2] = 0;
	p[3] = 0;
	put32(p + 4, command);
	put32(p + 8, length);
}

static void expect_rc(int rc, int want, const struct pp_err *err, const char *needle)
{
	if (rc != want)
		fail_msg("rc %d, expected %d (%s)", rc, want, err->msg);
	if (needle && !strstr(err->msg, needle))
		fail_msg("message '%s' lacks '%s'", err->msg, needle);
}

/* A response for each command with success status and sample data. */
static void sample_response(uint32_t command, struct pp_pthi_response *r)
{
	memset(r, 0, sizeof(*r));
	r->command = command;
	r->status = PP_PTHI_STATUS_SUCCESS;
	switch (command) {
	case PP_PTHI_GET_PROVISIONING_STATE:
		r->provisioning_state = PP_PTHI_STATE_IN;
		break;
	case PP_PTHI_GET_PROVISIONING_TLS_MODE:
		r->tls_mode = PP_PTHI_TLS_PSK;
		break;
	case PP_PTHI_GET_UUID: {
		struct pp_err err;
		assert_int_equal(pp_uuid_parse(uuid_text, r->uuid, &err), 0);
		break;
	}
	case PP_PTHI_CFG_GET_PID:
		memcpy(r->pid, "0000037M", 9);
		break;
	case PP_PTHI_GET_CODE_VERSIONS: {
		struct pp_pthi_code_versions *cv = &r->code_versions;
		memcpy(cv->bios, "PSKPROV.EMU.0001", 17);
		cv->count = 3;
		memcpy(cv->versions[0].description, "BIOS", 5);
		memcpy(cv->versions[0].version, "1.0", 4);
		memcpy(cv->versions[1].description, "AMT", 4);
		memcpy(cv->versions[1].version, "6.2.61", 7);
		memcpy(cv->versions[2].description, "Flash", 6);
		memcpy(cv->versions[2].version, "6.2.61-3535", 12);
		break;
	}
	default:
		break;
	}
}

static size_t write_ok(const struct pp_pthi_response *r, uint8_t *out, size_t cap)
{
	struct pp_err err = {0};
	size_t len = 0;
	int rc = pp_pthi_response_write(r, out, cap, &len, &err);
	if (rc != 0)
		fail_msg("response_write: %s", err.msg);
	return len;
}

static void test_request_round_trip(void **state)
{
	(void)state;
	uint8_t buf[64];
	struct pp_pthi_request req;
	struct pp_err err = {0};
	size_t len;

	/* Known bytes for GetProvisioningState. */
	const uint8_t want[12] = {1, 1, 0, 0, 0x11, 0, 0, 0x04, 0, 0, 0, 0};
	assert_int_equal(
	    pp_pthi_request_write(PP_PTHI_GET_PROVISIONING_STATE, buf, sizeof(buf), &len, &err), 0);
	assert_int_equal(len, 12);
	assert_memory_equal(buf, want, 12);

	for (size_t i = 0; i < N_COMMANDS; i++) {
		uint8_t exp[12];
		header_bytes(exp, all_commands[i], 0);
		assert_int_equal(
		    pp_pthi_request_write(all_commands[i], buf, sizeof(buf), &len, &err), 0);
		assert_int_equal(len, PP_PTHI_HEADER_LEN);
		assert_memory_equal(buf, exp, 12);
		req.command = 0;
		assert_int_equal(pp_pthi_request_parse(buf, len, &req, &err), 0);
		assert_int_equal(req.command, all_commands[i]);
		assert_non_null(pp_pthi_command_name(all_commands[i]));
	}
	assert_string_equal(pp_pthi_command_name(0x0400005C), "GetUUID");
	assert_null(pp_pthi_command_name(0x0480005C));
	assert_null(pp_pthi_command_name(0));
}

static void test_request_rejects(void **state)
{
	(void)state;
	uint8_t buf[PP_PTHI_MAX_FRAME + 16];
	struct pp_pthi_request req = {.command = 0x1234};
	struct pp_err err = {0};
	size_t len;

	/* Truncated at every byte, and trailing bytes. */
	header_bytes(buf, PP_PTHI_GET_UUID, 0);
	for (size_t cut = 0; cut < PP_PTHI_HEADER_LEN; cut++)
		expect_rc(pp_pthi_request_parse(buf, cut, &req, &err), -PP_ETRUNC, &err,
			  "truncated");
	buf[12] = 0;
	expect_rc(pp_pthi_request_parse(buf, 13, &req, &err), -PP_ETOOBIG, &err, "1 trailing byte");

	/* Version. */
	header_bytes(buf, PP_PTHI_GET_UUID, 0);
	buf[0] = 2;
	expect_rc(pp_pthi_request_parse(buf, 12, &req, &err), -PP_EVERSION, &err,
		  "version 2.1 is not supported");
	header_bytes(buf, PP_PTHI_GET_UUID, 0);
	buf[1] = 0;
	expect_rc(pp_pthi_request_parse(buf, 12, &req, &err), -PP_EVERSION, &err, "1.0");
	buf[1] = 2;
	expect_rc(pp_pthi_request_parse(buf, 12, &req, &err), -PP_EVERSION, &err, "1.2");

	/* Reserved. */
	header_bytes(buf, PP_PTHI_GET_UUID, 0);
	buf[3] = 0x80;
	expect_rc(pp_pthi_request_parse(buf, 12, &req, &err), -PP_EINVAL, &err,
		  "reserved header field is 0x8000");

	/* Unknown command, and a response code sent as a request. */
	const uint32_t unknown[] = {0, 0x04000012, 0x0400005D, 0x7f7fffff, 0x14000011};
	for (size_t i = 0; i < sizeof(unknown) / sizeof(unknown[0]); i++) {
		header_bytes(buf, unknown[i], 0);
		expect_rc(pp_pthi_request_parse(buf, 12, &req, &err), -PP_EINVAL, &err,
			  "unknown command");
	}
	header_bytes(buf, PP_PTHI_GET_UUID | PP_PTHI_RESPONSE_BIT, 0);
	expect_rc(pp_pthi_request_parse(buf, 12, &req, &err), -PP_EPROTO, &err, "response bit");
	header_bytes(buf, 0xffffffff, 0);
	expect_rc(pp_pthi_request_parse(buf, 12, &req, &err), -PP_EPROTO, &err, "response bit");

	/* A payload on a command that takes none, whether present or not. */
	memset(buf, 0, sizeof(buf));
	header_bytes(buf, PP_PTHI_CFG_START_CONFIGURATION, 4);
	expect_rc(pp_pthi_request_parse(buf, 16, &req, &err), -PP_EPROTO, &err,
		  "payloadLength is 4, the command takes none");
	expect_rc(pp_pthi_request_parse(buf, 12, &req, &err), -PP_EPROTO, &err, "takes none");
	header_bytes(buf, PP_PTHI_GET_UUID, PP_PTHI_MAX_PAYLOAD);
	expect_rc(pp_pthi_request_parse(buf, PP_PTHI_MAX_FRAME, &req, &err), -PP_EPROTO, &err,
		  "takes none");

	/* Payload lengths over the cap or that would overflow. */
	const uint32_t huge[] = {PP_PTHI_MAX_PAYLOAD + 1, 0x10000, 0xfffffff4, 0xffffffff};
	for (size_t i = 0; i < sizeof(huge) / sizeof(huge[0]); i++) {
		header_bytes(buf, PP_PTHI_GET_UUID, huge[i]);
		expect_rc(pp_pthi_request_parse(buf, 12, &req, &err), -PP_ETOOBIG, &err,
			  "larger than 4096");
	}
	assert_int_equal(req.command, 0x1234); /* untouched by every failure */

	/* The writer only writes known commands, into a big enough buffer. */
	expect_rc(pp_pthi_request_write(0x04000012, buf, sizeof(buf), &len, &err), -PP_EINVAL, &err,
		  "unknown command 0x04000012");
	expect_rc(pp_pthi_request_write(PP_PTHI_GET_UUID, buf, 11, &len, &err), -PP_ETOOBIG, &err,
		  NULL);
}

static void test_header_and_frame_length(void **state)
{
	(void)state;
	uint8_t buf[32];
	struct pp_pthi_header h = {.major = 7,
				   .minor = 9,
				   .reserved = 0xbeef,
				   .command = 0xdeadbeef,
				   .length = 0x01020304};
	struct pp_pthi_header d;
	struct pp_err err = {0};
	size_t rest = 99;

	/* encode writes what it is given; decode judges it. */
	assert_int_equal(pp_pthi_header_encode(&h, buf, sizeof(buf), &err), 0);
	const uint8_t want[12] = {7, 9, 0xef, 0xbe, 0xef, 0xbe, 0xad, 0xde, 4, 3, 2, 1};
	assert_memory_equal(buf, want, 12);
	expect_rc(pp_pthi_header_encode(&h, buf, 11, &err), -PP_ETOOBIG, &err, NULL);
	expect_rc(pp_pthi_header_decode(buf, 12, &d, &err), -PP_EVERSION, &err, "7.9");

	h = (struct pp_pthi_header){1, 1, 0, PP_PTHI_GET_UUID | PP_PTHI_RESPONSE_BIT, 20};
	assert_int_equal(pp_pthi_header_encode(&h, buf, sizeof(buf), &err), 0);
	assert_int_equal(pp_pthi_header_decode(buf, 12, &d, &err), 0);
	assert_memory_equal(&d, &h, sizeof(h));
	/* More than 12 bytes given: only the header is read. */
	assert_int_equal(pp_pthi_header_decode(buf, sizeof(buf), &d, &err), 0);

	assert_int_equal(pp_pthi_frame_remaining(buf, 12, &rest, &err), 0);
	assert_int_equal(rest, 20);
	header_bytes(buf, PP_PTHI_GET_CODE_VERSIONS | PP_PTHI_RESPONSE_BIT, PP_PTHI_MAX_PAYLOAD);
	assert_int_equal(pp_pthi_frame_remaining(buf, 12, &rest, &err), 0);
	assert_int_equal(rest, PP_PTHI_MAX_FRAME - 12);
	header_bytes(buf, PP_PTHI_GET_CODE_VERSIONS, PP_PTHI_MAX_PAYLOAD + 1);
	rest = 99;
	expect_rc(pp_pthi_frame_remaining(buf, 12, &rest, &err), -PP_ETOOBIG, &err,
		  "payloadLength 4085");
	assert_int_equal(rest, 99);
	header_bytes(buf, PP_PTHI_GET_CODE_VERSIONS, 0xffffffff);
	expect_rc(pp_pthi_frame_remaining(buf, 12, &rest, &err), -PP_ETOOBIG, &err, NULL);
	for (size_t cut = 0; cut < 12; cut++)
		expect_rc(pp_pthi_frame_remaining(buf, cut, &rest, &err), -PP_ETRUNC, &err,
			  "truncated header");
	header_bytes(buf, 0, 0);
	buf[2] = 1;
	expect_rc(pp_pthi_frame_remaining(buf, 12, &rest, &err), -PP_EINVAL, &err, "reserved");
	buf[2] = 0;
	buf[0] = 0;
	expect_rc(pp_pthi_frame_remaining(buf, 12, &rest, &err), -PP_EVERSION, &err, "0.1");
}

static void test_response_known_bytes(void **state)
{
	(void)state;
	uint8_t buf[PP_PTHI_MAX_FRAME];
	struct pp_pthi_response r, p;
	struct pp_err err = {0};
	size_t len;
	char text[37];

	/* GetProvisioningState: In-Setup. */
	sample_response(PP_PTHI_GET_PROVISIONING_STATE, &r);
	len = write_ok(&r, buf, sizeof(buf));
	const uint8_t state_want[20] = {1, 1, 0, 0, 0x11, 0, 0x80, 0x04, 8, 0,
					0, 0, 0, 0, 0,    0, 1,    0,    0, 0};
	assert_int_equal(len, 20);
	assert_memory_equal(buf, state_want, 20);
	assert_int_equal(pp_pthi_response_parse(buf, len, PP_PTHI_GET_PROVISIONING_STATE, &p, &err),
			 0);
	assert_int_equal(p.status, 0);
	assert_int_equal(p.provisioning_state, PP_PTHI_STATE_IN);

	/* GetUUID: data in SMBIOS order, struct in display order. */
	sample_response(PP_PTHI_GET_UUID, &r);
	len = write_ok(&r, buf, sizeof(buf));
	assert_int_equal(len, 12 + 4 + 16);
	assert_int_equal(buf[8], 20);
	assert_memory_equal(buf + 16, uuid_smbios, 16);
	assert_int_equal(pp_pthi_response_parse(buf, len, PP_PTHI_GET_UUID, &p, &err), 0);
	pp_uuid_format(p.uuid, text);
	assert_string_equal(text, uuid_text);

	/* CFG_GetPID. */
	sample_response(PP_PTHI_CFG_GET_PID, &r);
	len = write_ok(&r, buf, sizeof(buf));
	assert_int_equal(len, 24);
	assert_memory_equal(buf + 16, "0000037M", 8);
	assert_int_equal(pp_pthi_response_parse(buf, len, PP_PTHI_CFG_GET_PID, &p, &err), 0);
	assert_string_equal(p.pid, "0000037M");

	/* GetProvisioningTLSMode, both values. */
	for (uint32_t m = PP_PTHI_TLS_PSK; m <= PP_PTHI_TLS_PKI; m++) {
		sample_response(PP_PTHI_GET_PROVISIONING_TLS_MODE, &r);
		r.tls_mode = m;
		len = write_ok(&r, buf, sizeof(buf));
		assert_int_equal(len, 20);
		assert_int_equal(buf[16], m);
		assert_int_equal(
		    pp_pthi_response_parse(buf, len, PP_PTHI_GET_PROVISIONING_TLS_MODE, &p, &err),
		    0);
		assert_int_equal(p.tls_mode, m);
	}

	/* CFG_StartConfiguration: status only. */
	sample_response(PP_PTHI_CFG_START_CONFIGURATION, &r);
	len = write_ok(&r, buf, sizeof(buf));
	const uint8_t start_want[16] = {1, 1, 0, 0, 0x29, 0, 0x80, 0x04, 4, 0, 0, 0, 0, 0, 0, 0};
	assert_int_equal(len, 16);
	assert_memory_equal(buf, start_want, 16);
	assert_int_equal(
	    pp_pthi_response_parse(buf, len, PP_PTHI_CFG_START_CONFIGURATION, &p, &err), 0);

	/* GetCodeVersions layout. */
	sample_response(PP_PTHI_GET_CODE_VERSIONS, &r);
	len = write_ok(&r, buf, sizeof(buf));
	assert_int_equal(len, 12 + 4 + 65 + 4 + 3 * 44);
	assert_int_equal(buf[8], 4 + 65 + 4 + 3 * 44);
	assert_memory_equal(buf + 16, "PSKPROV.EMU.0001", 16);
	for (size_t i = 16; i < 65; i++)
		assert_int_equal(buf[16 + i], 0);
	assert_int_equal(buf[16 + 65], 3); /* count */
	const uint8_t *e = buf + 16 + 69;
	assert_int_equal(e[0], 4);
	assert_int_equal(e[1], 0);
	assert_memory_equal(e + 2, "BIOS", 4);
	for (size_t i = 6; i < 22; i++)
		assert_int_equal(e[i], 0);
	assert_int_equal(e[22], 3);
	assert_memory_equal(e + 24, "1.0", 3);
	e += 2 * 44;
	assert_int_equal(e[22], 11);
	assert_memory_equal(e + 24, "6.2.61-3535", 11);
	assert_int_equal(pp_pthi_response_parse(buf, len, PP_PTHI_GET_CODE_VERSIONS, &p, &err), 0);
	assert_string_equal(p.code_versions.bios, "PSKPROV.EMU.0001");
	assert_int_equal(p.code_versions.count, 3);
	assert_string_equal(p.code_versions.versions[1].description, "AMT");
	assert_string_equal(p.code_versions.versions[2].version, "6.2.61-3535");
}

/* Every command: write, parse, compare fields, write again to the same bytes; every
 * truncation rejected; trailing bytes rejected. */
static void test_response_round_trip_and_truncation(void **state)
{
	(void)state;
	uint8_t buf[PP_PTHI_MAX_FRAME + 4], again[PP_PTHI_MAX_FRAME];
	struct pp_pthi_response r, p, untouched;
	struct pp_err err = {0};

	for (size_t i = 0; i < N_COMMANDS; i++) {
		uint32_t cmd = all_commands[i];
		sample_response(cmd, &r);
		size_t len = write_ok(&r, buf, sizeof(buf));
		memset(&p, 0, sizeof(p)); /* padding compares equal below */
		assert_int_equal(pp_pthi_response_parse(buf, len, cmd, &p, &err), 0);
		assert_int_equal(p.command, cmd);
		assert_int_equal(p.status, PP_PTHI_STATUS_SUCCESS);
		assert_memory_equal(&p, &r, sizeof(p)); /* both zero-filled beyond the data */
		assert_int_equal(write_ok(&p, again, sizeof(again)), len);
		assert_memory_equal(again, buf, len);

		memset(&untouched, 0x77, sizeof(untouched));
		for (size_t cut = 0; cut < len; cut++) {
			memset(&p, 0x77, sizeof(p));
			expect_rc(pp_pthi_response_parse(buf, cut, cmd, &p, &err), -PP_ETRUNC, &err,
				  "truncated");
			assert_memory_equal(&p, &untouched, sizeof(p));
		}
		buf[len] = 0;
		expect_rc(pp_pthi_response_parse(buf, len + 1, cmd, &p, &err), -PP_ETOOBIG, &err,
			  "1 trailing byte");
		buf[len + 1] = 0;
		expect_rc(pp_pthi_response_parse(buf, len + 2, cmd, &p, &err), -PP_ETOOBIG, &err,
			  "2 trailing bytes");
	}
}

static void test_code_versions_limits(void **state)
{
	(void)state;
	uint8_t buf[PP_PTHI_MAX_FRAME], again[PP_PTHI_MAX_FRAME];
	struct pp_pthi_response r, p;
	struct pp_err err = {0};
	size_t len;

	/* Empty table. */
	memset(&r, 0, sizeof(r));
	r.command = PP_PTHI_GET_CODE_VERSIONS;
	len = write_ok(&r, buf, sizeof(buf));
	assert_int_equal(len, 12 + 4 + 69);
	assert_int_equal(pp_pthi_response_parse(buf, len, PP_PTHI_GET_CODE_VERSIONS, &p, &err), 0);
	assert_int_equal(p.code_versions.count, 0);
	assert_string_equal(p.code_versions.bios, "");

	/* Full table, longest strings. */
	memset(r.code_versions.bios, 'B', 64);
	r.code_versions.bios[64] = '\0';
	r.code_versions.count = PP_PTHI_MAX_VERSIONS;
	for (size_t i = 0; i < PP_PTHI_MAX_VERSIONS; i++) {
		memset(r.code_versions.versions[i].description, 'a' + (int)(i % 26), 20);
		memset(r.code_versions.versions[i].version, '~', 20);
	}
	len = write_ok(&r, buf, sizeof(buf));
	assert_int_equal(len, 12 + 4 + 69 + 50 * 44);
	memset(&p, 0, sizeof(p));
	assert_true(len <= PP_PTHI_MAX_FRAME);
	assert_int_equal(pp_pthi_response_parse(buf, len, PP_PTHI_GET_CODE_VERSIONS, &p, &err), 0);
	assert_memory_equal(&p, &r, sizeof(p));
	assert_int_equal(write_ok(&p, again, sizeof(again)), len);
	assert_memory_equal(again, buf, len);

	/* Count over the cap, with consistent length: rejected by the parser. */
	memset(buf, 0, sizeof(buf));
	header_bytes(buf, PP_PTHI_GET_CODE_VERSIONS | PP_PTHI_RESPONSE_BIT, 4 + 69 + 51 * 44);
	put32(buf + 16 + 65, 51);
	expect_rc(
	    pp_pthi_response_parse(buf, 12 + 4 + 69 + 51 * 44, PP_PTHI_GET_CODE_VERSIONS, &p, &err),
	    -PP_ETOOBIG, &err, "51 version entries, the cap is 50");
	put32(buf + 16 + 65, 0xffffffff);
	expect_rc(
	    pp_pthi_response_parse(buf, 12 + 4 + 69 + 51 * 44, PP_PTHI_GET_CODE_VERSIONS, &p, &err),
	    -PP_ETOOBIG, &err, "4294967295 version entries");

	/* Count disagreeing with the length, either way. */
	memset(&r, 0, sizeof(r));
	sample_response(PP_PTHI_GET_CODE_VERSIONS, &r);
	len = write_ok(&r, buf, sizeof(buf));
	put32(buf + 16 + 65, 4);
	expect_rc(pp_pthi_response_parse(buf, len, PP_PTHI_GET_CODE_VERSIONS, &p, &err), -PP_EPROTO,
		  &err, "201 data bytes, expected 245 for 4 entries");
	put32(buf + 16 + 65, 2);
	expect_rc(pp_pthi_response_parse(buf, len, PP_PTHI_GET_CODE_VERSIONS, &p, &err), -PP_EPROTO,
		  &err, "for 2 entries");
	/* Data shorter than the fixed part. */
	header_bytes(buf, PP_PTHI_GET_CODE_VERSIONS | PP_PTHI_RESPONSE_BIT, 4 + 68);
	expect_rc(pp_pthi_response_parse(buf, 12 + 4 + 68, PP_PTHI_GET_CODE_VERSIONS, &p, &err),
		  -PP_EPROTO, &err, "expected at least 69");
}

static void test_code_versions_bad_strings(void **state)
{
	(void)state;
	uint8_t good[PP_PTHI_MAX_FRAME], buf[PP_PTHI_MAX_FRAME];
	struct pp_pthi_response r, p;
	struct pp_err err = {0};
	size_t len;
	const size_t bios = 16, entry0 = 16 + 69;

	sample_response(PP_PTHI_GET_CODE_VERSIONS, &r);
	len = write_ok(&r, good, sizeof(good));

	/* BIOS field without a NUL. */
	memcpy(buf, good, len);
	memset(buf + bios, 'X', 65);
	expect_rc(pp_pthi_response_parse(buf, len, PP_PTHI_GET_CODE_VERSIONS, &p, &err), -PP_EINVAL,
		  &err, "not NUL-terminated");
	/* Not printable, and garbage after the NUL. */
	memcpy(buf, good, len);
	buf[bios + 2] = 0x1b;
	expect_rc(pp_pthi_response_parse(buf, len, PP_PTHI_GET_CODE_VERSIONS, &p, &err), -PP_EINVAL,
		  &err, "BIOS version byte 2 is 0x1b");
	memcpy(buf, good, len);
	buf[bios + 64] = 'Z';
	expect_rc(pp_pthi_response_parse(buf, len, PP_PTHI_GET_CODE_VERSIONS, &p, &err), -PP_EINVAL,
		  &err, "BIOS version padding byte 64");

	/* Entry strings: length over 20, non-printable, padding, NUL inside. */
	memcpy(buf, good, len);
	put16(buf + entry0, 21);
	expect_rc(pp_pthi_response_parse(buf, len, PP_PTHI_GET_CODE_VERSIONS, &p, &err), -PP_EINVAL,
		  &err, "entry 0 description length 21");
	memcpy(buf, good, len);
	put16(buf + entry0 + 22, 0xffff);
	expect_rc(pp_pthi_response_parse(buf, len, PP_PTHI_GET_CODE_VERSIONS, &p, &err), -PP_EINVAL,
		  &err, "entry 0 version length 65535");
	memcpy(buf, good, len);
	buf[entry0 + 2] = 0x7f;
	expect_rc(pp_pthi_response_parse(buf, len, PP_PTHI_GET_CODE_VERSIONS, &p, &err), -PP_EINVAL,
		  &err, "description byte 0 is 0x7f");
	memcpy(buf, good, len);
	buf[entry0 + 44 + 2 + 19] = '1';
	expect_rc(pp_pthi_response_parse(buf, len, PP_PTHI_GET_CODE_VERSIONS, &p, &err), -PP_EINVAL,
		  &err, "description padding byte 19");
	memcpy(buf, good, len);
	put16(buf + entry0, 5); /* "BIOS" then a NUL counted as a character */
	expect_rc(pp_pthi_response_parse(buf, len, PP_PTHI_GET_CODE_VERSIONS, &p, &err), -PP_EINVAL,
		  &err, "description byte 4 is 0x00");

	/* The writer refuses what the parser refuses. */
	struct pp_pthi_response w = r;
	memset(w.code_versions.bios, 'X', sizeof(w.code_versions.bios));
	expect_rc(pp_pthi_response_write(&w, buf, sizeof(buf), &len, &err), -PP_EINVAL, &err,
		  "BIOS version over 64");
	w = r;
	w.code_versions.bios[0] = '\n';
	expect_rc(pp_pthi_response_write(&w, buf, sizeof(buf), &len, &err), -PP_EINVAL, &err,
		  "not printable");
	w = r;
	memset(w.code_versions.versions[1].version, 'v', 21);
	expect_rc(pp_pthi_response_write(&w, buf, sizeof(buf), &len, &err), -PP_EINVAL, &err,
		  "entry 1 version over 20");
	w = r;
	w.code_versions.versions[2].description[0] = (char)0xc3;
	expect_rc(pp_pthi_response_write(&w, buf, sizeof(buf), &len, &err), -PP_EINVAL, &err,
		  "description byte 0 is 0xc3");
	w = r;
	w.code_versions.count = PP_PTHI_MAX_VERSIONS + 1;
	expect_rc(pp_pthi_response_write(&w, buf, sizeof(buf), &len, &err), -PP_ETOOBIG, &err,
		  "cap is 50");
}

static void test_response_wrong_command(void **state)
{
	(void)state;
	uint8_t buf[64];
	struct pp_pthi_response r, p;
	struct pp_err err = {0};
	size_t len;

	sample_response(PP_PTHI_GET_UUID, &r);
	len = write_ok(&r, buf, sizeof(buf));
	/* Answering another command. */
	expect_rc(pp_pthi_response_parse(buf, len, PP_PTHI_CFG_GET_PID, &p, &err), -PP_EPROTO, &err,
		  "answers command 0x0480005c, expected 0x0480003b");
	/* Missing response bit: the request code echoed back. */
	put32(buf + 4, PP_PTHI_GET_UUID);
	expect_rc(pp_pthi_response_parse(buf, len, PP_PTHI_GET_UUID, &p, &err), -PP_EPROTO, &err,
		  "lacks the response bit");
	/* Other high bits set. */
	put32(buf + 4, PP_PTHI_GET_UUID | PP_PTHI_RESPONSE_BIT | 0x10000000);
	expect_rc(pp_pthi_response_parse(buf, len, PP_PTHI_GET_UUID, &p, &err), -PP_EPROTO, &err,
		  "answers command");
	/* Header problems, with the command named. */
	len = write_ok(&r, buf, sizeof(buf));
	buf[0] = 3;
	expect_rc(pp_pthi_response_parse(buf, len, PP_PTHI_GET_UUID, &p, &err), -PP_EVERSION, &err,
		  "GetUUID response: PTHI: header version 3.1");
	len = write_ok(&r, buf, sizeof(buf));
	buf[2] = 1;
	expect_rc(pp_pthi_response_parse(buf, len, PP_PTHI_GET_UUID, &p, &err), -PP_EINVAL, &err,
		  "reserved");
	/* An unknown expected command is the caller's mistake. */
	expect_rc(pp_pthi_response_parse(buf, len, 0x04000099, &p, &err), -PP_EINVAL, &err,
		  "unknown");
	/* No errors object: the code still comes back. */
	assert_int_equal(pp_pthi_response_parse(buf, len, PP_PTHI_GET_UUID, &p, NULL), -PP_EINVAL);
	assert_int_equal(pp_pthi_response_parse(buf, 3, PP_PTHI_GET_UUID, &p, NULL), -PP_ETRUNC);
}

static void test_response_data_length(void **state)
{
	(void)state;
	uint8_t buf[PP_PTHI_MAX_FRAME];
	struct pp_pthi_response p;
	struct pp_err err = {0};

	/* payloadLength with no room for the status. */
	for (uint32_t pl = 0; pl < 4; pl++) {
		memset(buf, 0, sizeof(buf));
		header_bytes(buf, PP_PTHI_GET_PROVISIONING_STATE | PP_PTHI_RESPONSE_BIT, pl);
		expect_rc(
		    pp_pthi_response_parse(buf, 12 + pl, PP_PTHI_GET_PROVISIONING_STATE, &p, &err),
		    -PP_EPROTO, &err, "no room for the status");
	}
	/* Data one byte short and one byte long, frame self-consistent, for each fixed-size
	 * command. */
	const struct {
		uint32_t cmd;
		size_t data;
	} fixed[] = {
	    {PP_PTHI_GET_PROVISIONING_STATE, 4},
	    {PP_PTHI_GET_PROVISIONING_TLS_MODE, 4},
	    {PP_PTHI_GET_UUID, 16},
	    {PP_PTHI_CFG_GET_PID, 8},
	    {PP_PTHI_CFG_START_CONFIGURATION, 0},
	};
	for (size_t i = 0; i < sizeof(fixed) / sizeof(fixed[0]); i++) {
		for (int d = -1; d <= 1; d += 2) {
			if (fixed[i].data == 0 && d < 0)
				continue;
			size_t data = fixed[i].data + (size_t)(ptrdiff_t)d;
			char want[64];
			memset(buf, '0', sizeof(buf));
			header_bytes(buf, fixed[i].cmd | PP_PTHI_RESPONSE_BIT,
				     (uint32_t)(4 + data));
			put32(buf + 12, 0);
			snprintf(want, sizeof(want), "%zu data bytes, expected %zu", data,
				 fixed[i].data);
			expect_rc(pp_pthi_response_parse(buf, 16 + data, fixed[i].cmd, &p, &err),
				  -PP_EPROTO, &err, want);
		}
	}
	/* Over the frame cap. */
	header_bytes(buf, PP_PTHI_GET_CODE_VERSIONS | PP_PTHI_RESPONSE_BIT, 0xffffffff);
	expect_rc(pp_pthi_response_parse(buf, sizeof(buf), PP_PTHI_GET_CODE_VERSIONS, &p, &err),
		  -PP_ETOOBIG, &err, "larger than 4096");
}

static void test_response_bad_values(void **state)
{
	(void)state;
	uint8_t buf[64];
	struct pp_pthi_response r, p;
	struct pp_err err = {0};
	size_t len;

	sample_response(PP_PTHI_GET_PROVISIONING_STATE, &r);
	len = write_ok(&r, buf, sizeof(buf));
	put32(buf + 16, 3);
	expect_rc(pp_pthi_response_parse(buf, len, PP_PTHI_GET_PROVISIONING_STATE, &p, &err),
		  -PP_EINVAL, &err, "provisioning state 3");
	r.provisioning_state = 3;
	expect_rc(pp_pthi_response_write(&r, buf, sizeof(buf), &len, &err), -PP_EINVAL, &err,
		  "provisioning state 3");
	for (uint32_t s = 0; s <= 2; s++) {
		r.provisioning_state = s;
		len = write_ok(&r, buf, sizeof(buf));
		assert_int_equal(
		    pp_pthi_response_parse(buf, len, PP_PTHI_GET_PROVISIONING_STATE, &p, &err), 0);
		assert_int_equal(p.provisioning_state, s);
	}

	sample_response(PP_PTHI_GET_PROVISIONING_TLS_MODE, &r);
	len = write_ok(&r, buf, sizeof(buf));
	put32(buf + 16, 0);
	expect_rc(pp_pthi_response_parse(buf, len, PP_PTHI_GET_PROVISIONING_TLS_MODE, &p, &err),
		  -PP_EINVAL, &err, "TLS mode 0");
	put32(buf + 16, 3);
	expect_rc(pp_pthi_response_parse(buf, len, PP_PTHI_GET_PROVISIONING_TLS_MODE, &p, &err),
		  -PP_EINVAL, &err, "TLS mode 3");
	r.tls_mode = 0;
	expect_rc(pp_pthi_response_write(&r, buf, sizeof(buf), &len, &err), -PP_EINVAL, &err,
		  "TLS mode 0");

	sample_response(PP_PTHI_CFG_GET_PID, &r);
	len = write_ok(&r, buf, sizeof(buf));
	buf[16 + 7] = 'm';
	expect_rc(pp_pthi_response_parse(buf, len, PP_PTHI_CFG_GET_PID, &p, &err), -PP_EINVAL, &err,
		  "PID byte 7 is 0x6d");
	buf[16 + 7] = 0;
	expect_rc(pp_pthi_response_parse(buf, len, PP_PTHI_CFG_GET_PID, &p, &err), -PP_EINVAL, &err,
		  "PID byte 7 is 0x00");
	r.pid[2] = '-';
	expect_rc(pp_pthi_response_write(&r, buf, sizeof(buf), &len, &err), -PP_EINVAL, &err,
		  "PID byte 2");
	memcpy(r.pid, "ABC", 4);
	expect_rc(pp_pthi_response_write(&r, buf, sizeof(buf), &len, &err), -PP_EINVAL, &err,
		  "PID is not 8 characters");

	/* The writer refuses unknown commands and small buffers, writing nothing. */
	sample_response(PP_PTHI_GET_UUID, &r);
	r.command = 0x04000005;
	expect_rc(pp_pthi_response_write(&r, buf, sizeof(buf), &len, &err), -PP_EINVAL, &err,
		  "unknown command");
	r.command = PP_PTHI_GET_UUID | PP_PTHI_RESPONSE_BIT;
	expect_rc(pp_pthi_response_write(&r, buf, sizeof(buf), &len, &err), -PP_EINVAL, &err,
		  "unknown command");
	r.command = PP_PTHI_GET_UUID;
	memset(buf, 0xee, sizeof(buf));
	len = 5;
	expect_rc(pp_pthi_response_write(&r, buf, 31, &len, &err), -PP_ETOOBIG, &err,
		  "needs 32 bytes");
	assert_int_equal(len, 5);
	for (size_t i = 0; i < sizeof(buf); i++)
		assert_int_equal(buf[i], 0xee);
}

static void test_response_failure_status(void **state)
{
	(void)state;
	uint8_t buf[64];
	struct pp_pthi_response r, p;
	struct pp_err err = {0};
	size_t len;

	for (size_t i = 0; i < N_COMMANDS; i++) {
		sample_response(all_commands[i], &r);
		r.status = PP_PTHI_STATUS_NOT_PERMITTED;
		/* Data fields are ignored with a failure status, even invalid ones. */
		r.provisioning_state = 0xffffffff;
		len = write_ok(&r, buf, sizeof(buf));
		assert_int_equal(len, 16);
		assert_int_equal(buf[8], 4);
		assert_int_equal(buf[12], 0x10);
		memset(&p, 0x55, sizeof(p));
		expect_rc(pp_pthi_response_parse(buf, len, all_commands[i], &p, &err), -PP_ESTATE,
			  &err, "status 0x10 (not permitted)");
		assert_int_equal(p.command, all_commands[i]);
		assert_int_equal(p.status, PP_PTHI_STATUS_NOT_PERMITTED);
		assert_int_equal(p.provisioning_state, 0);
		/* And it writes back the same. */
		uint8_t again[64];
		assert_int_equal(write_ok(&p, again, sizeof(again)), len);
		assert_memory_equal(again, buf, len);
	}
	/* A status this code has no name for still parses as a failure. */
	header_bytes(buf, PP_PTHI_GET_UUID | PP_PTHI_RESPONSE_BIT, 4);
	put32(buf + 12, 0x4000);
	expect_rc(pp_pthi_response_parse(buf, 16, PP_PTHI_GET_UUID, &p, &err), -PP_ESTATE, &err,
		  "0x4000 (unknown status)");
	assert_int_equal(p.status, 0x4000);
	assert_null(pp_pthi_status_name(0x4000));
	assert_string_equal(pp_pthi_status_name(PP_PTHI_STATUS_INTERNAL_ERROR), "internal error");
	/* A failure status must not carry data. */
	header_bytes(buf, PP_PTHI_GET_UUID | PP_PTHI_RESPONSE_BIT, 4 + 16);
	put32(buf + 12, PP_PTHI_STATUS_INTERNAL_ERROR);
	memcpy(buf + 16, uuid_smbios, 16);
	expect_rc(pp_pthi_response_parse(buf, 32, PP_PTHI_GET_UUID, &p, &err), -PP_EPROTO, &err,
		  "with 16 data bytes, expected none");
}

/* Every one-byte change of each valid response either is rejected or parses (or fails
 * only on its status) to something that writes back byte for byte. */
static void test_response_mutations(void **state)
{
	(void)state;
	uint8_t src[PP_PTHI_MAX_FRAME], buf[PP_PTHI_MAX_FRAME], out[PP_PTHI_MAX_FRAME];
	struct pp_pthi_response r, p;
	size_t len;

	for (size_t i = 0; i < N_COMMANDS; i++) {
		sample_response(all_commands[i], &r);
		size_t n = write_ok(&r, src, sizeof(src));
		for (size_t pos = 0; pos < n; pos++)
			for (unsigned v = 0; v < 256; v += (pos < 20 ? 1 : 7)) {
				memcpy(buf, src, n);
				buf[pos] = (uint8_t)v;
				int rc = pp_pthi_response_parse(buf, n, all_commands[i], &p, NULL);
				if (rc != 0 && rc != -PP_ESTATE)
					continue;
				assert_int_equal(
				    pp_pthi_response_write(&p, out, sizeof(out), &len, NULL), 0);
				assert_int_equal(len, n);
				assert_memory_equal(out, buf, n);
			}
	}
}

/* The AMTHI client's GUID in the kernel's uuid_le order (IOCTL_MEI_CONNECT_CLIENT):
 * what GUID_INIT makes of 12F80028-B4B7-4B2D-ACA8-46E0FF65814C, byte for byte. */
static void test_amthi_guid(void **state)
{
	(void)state;
	const guid_t g =
	    GUID_INIT(0x12F80028, 0xB4B7, 0x4B2D, 0xAC, 0xA8, 0x46, 0xE0, 0xFF, 0x65, 0x81, 0x4C);
	const uint8_t want[16] = {0x28, 0x00, 0xf8, 0x12, 0xb7, 0xb4, 0x2d, 0x4b,
				  0xac, 0xa8, 0x46, 0xe0, 0xff, 0x65, 0x81, 0x4c};
	assert_int_equal(sizeof(g.b), sizeof(pp_pthi_amthi_guid_le));
	assert_memory_equal(g.b, pp_pthi_amthi_guid_le, 16);
	assert_memory_equal(want, pp_pthi_amthi_guid_le, 16);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_request_round_trip),
	    cmocka_unit_test(test_request_rejects),
	    cmocka_unit_test(test_header_and_frame_length),
	    cmocka_unit_test(test_response_known_bytes),
	    cmocka_unit_test(test_response_round_trip_and_truncation),
	    cmocka_unit_test(test_code_versions_limits),
	    cmocka_unit_test(test_code_versions_bad_strings),
	    cmocka_unit_test(test_response_wrong_command),
	    cmocka_unit_test(test_response_data_length),
	    cmocka_unit_test(test_response_bad_values),
	    cmocka_unit_test(test_response_failure_status),
	    cmocka_unit_test(test_response_mutations),
	    cmocka_unit_test(test_amthi_guid),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
