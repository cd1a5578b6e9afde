/* The emulated firmware's host-interface answers (lib/firmware/pthi.h, docs/protocol.md section 5),
 * checked through the host-side parser of proto/pthi.h, in every state, and the
 * refusal of malformed request frames. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <dirent.h>
#include <unistd.h>

#include <cmocka.h>

#include "firmware/device.h"
#include "firmware/pthi.h"
#include "core/err.h"
#include "core/parse.h"
#include "proto/pthi.h"
#include "test_firmware_fixture.h"

static const char uuid_text[] = "00112233-4455-6677-8899-aabbccddeeff";

static int setup(void **state)
{
	struct fixture *f = fw_fixture_new("test_firmware_pthi");
	struct pp_err err = {0};
	uint8_t uuid[16];
	if (!f)
		return -1;
	if (pp_uuid_parse(uuid_text, uuid, &err) < 0)
		return -1;
	struct pp_amt_create_opts opts = {.uuid = uuid, .pbkdf2_iterations = PP_AMT_DEV_PBKDF2_MIN};
	char state_dir[96];
	snprintf(state_dir, sizeof(state_dir), "%s/dev", f->dir);
	if (pp_amt_create(state_dir, &opts, &f->dev, &err) < 0) {
		print_error("create: %s\n", err.msg);
		rm_tree(f->dir);
		free(f);
		return -1;
	}
	*state = f;
	return 0;
}

static void to_in_setup(struct pp_amt_device *d)
{
	fw_load_example_key(d);
}

static void to_post_setup(struct pp_amt_device *d)
{
	struct pp_err err = {0};
	to_in_setup(d);
	if (pp_amt_set_admin_acl(d, "pskadmin", "AAAAAAAAAAAAAAAAAAAAAA==", &err) < 0 ||
	    pp_amt_commit(d, &err) < 0)
		fail_msg("commit: %s", err.msg);
}

/* One request through the device, the answer through the host-side parser. Returns
 * what pp_pthi_response_parse returns (0, or -PP_ESTATE for a refusal status). */
static int ask(struct pp_amt_device *d, uint32_t command, struct pp_pthi_response *out,
	       struct pp_amt_pthi_result *res)
{
	uint8_t req[PP_PTHI_HEADER_LEN], resp[PP_PTHI_MAX_FRAME];
	size_t req_len = 0, resp_len = 0;
	struct pp_err err = {0};

	assert_int_equal(pp_pthi_request_write(command, req, sizeof(req), &req_len, &err), 0);
	int rc = pp_amt_pthi_handle_ex(d, req, req_len, resp, sizeof(resp), &resp_len, res, &err);
	if (rc != 0)
		fail_msg("handle: %d %s", rc, err.msg);
	assert_true(resp_len >= PP_PTHI_HEADER_LEN + 4);
	memset(out, 0, sizeof(*out));
	return pp_pthi_response_parse(resp, resp_len, command, out, &err);
}

static void test_pre_setup(void **state)
{
	struct fixture *f = *state;
	struct pp_pthi_response r;
	struct pp_amt_pthi_result res;
	uint8_t want_uuid[16];
	struct pp_err err = {0};

	assert_int_equal(ask(f->dev, PP_PTHI_GET_PROVISIONING_STATE, &r, &res), 0);
	assert_int_equal(r.provisioning_state, PP_PTHI_STATE_PRE);
	assert_int_equal(res.command, PP_PTHI_GET_PROVISIONING_STATE);
	assert_int_equal(res.status, PP_PTHI_STATUS_SUCCESS);

	assert_int_equal(ask(f->dev, PP_PTHI_GET_UUID, &r, NULL), 0);
	assert_int_equal(pp_uuid_parse(uuid_text, want_uuid, &err), 0);
	assert_memory_equal(r.uuid, want_uuid, 16);

	assert_int_equal(ask(f->dev, PP_PTHI_GET_PROVISIONING_TLS_MODE, &r, NULL), 0);
	assert_int_equal(r.tls_mode, PP_PTHI_TLS_PSK);

	/* No key: CFG_GetPID answers with a status and no data. */
	assert_int_equal(ask(f->dev, PP_PTHI_CFG_GET_PID, &r, &res), -PP_ESTATE);
	assert_int_equal(r.status, PP_PTHI_STATUS_INVALID_PROVISIONING_STATE);
	assert_int_equal(res.status, PP_PTHI_STATUS_INVALID_PROVISIONING_STATE);

	/* Nothing to start without a key. */
	assert_int_equal(ask(f->dev, PP_PTHI_CFG_START_CONFIGURATION, &r, &res), -PP_ESTATE);
	assert_int_equal(r.status, PP_PTHI_STATUS_INVALID_PROVISIONING_STATE);
	assert_int_equal(res.command, PP_PTHI_CFG_START_CONFIGURATION);
	assert_int_equal(pp_amt_state(f->dev), PP_AMT_PRE_SETUP);
}

static void test_code_versions(void **state)
{
	struct fixture *f = *state;
	struct pp_pthi_response r;

	assert_int_equal(ask(f->dev, PP_PTHI_GET_CODE_VERSIONS, &r, NULL), 0);
	const struct pp_pthi_code_versions *cv = &r.code_versions;
	assert_string_equal(cv->bios, "pskprov emulated BIOS");
	assert_int_equal(cv->count, 3);
	assert_string_equal(cv->versions[0].description, "AMT");
	assert_string_equal(cv->versions[0].version, "6.2.61");
	assert_string_equal(cv->versions[1].description, "Build Number");
	assert_string_equal(cv->versions[1].version, "3535");
	assert_string_equal(cv->versions[2].description, "Sku");
	assert_string_equal(cv->versions[2].version, "AMT Pro");
}

static void test_in_setup(void **state)
{
	struct fixture *f = *state;
	struct pp_pthi_response r;
	struct pp_amt_pthi_result res;
	uint32_t count;
	uint64_t delay;

	to_in_setup(f->dev);
	assert_int_equal(ask(f->dev, PP_PTHI_GET_PROVISIONING_STATE, &r, NULL), 0);
	assert_int_equal(r.provisioning_state, PP_PTHI_STATE_IN);
	assert_int_equal(ask(f->dev, PP_PTHI_CFG_GET_PID, &r, NULL), 0);
	assert_string_equal(r.pid, EX_PID_BARE);

	/* Two hellos of the schedule go by, then CFG_StartConfiguration starts it again at
	 * RetryCount 0, due at once. */
	assert_int_equal(pp_amt_hello_next(f->dev, 0, 1.0, &count, &delay), PP_AMT_HELLO_SEND);
	assert_int_equal(count, 0);
	assert_int_equal(pp_amt_hello_next(f->dev, delay, 1.0, &count, &delay), PP_AMT_HELLO_SEND);
	assert_int_equal(count, 1);
	assert_int_equal(pp_amt_hello_next(f->dev, 60001, 1.0, &count, &delay), PP_AMT_HELLO_WAIT);

	assert_int_equal(ask(f->dev, PP_PTHI_CFG_START_CONFIGURATION, &r, &res), 0);
	assert_int_equal(r.status, PP_PTHI_STATUS_SUCCESS);
	assert_int_equal(res.command, PP_PTHI_CFG_START_CONFIGURATION);
	assert_int_equal(res.status, PP_PTHI_STATUS_SUCCESS);
	assert_int_equal(pp_amt_hello_next(f->dev, 60002, 1.0, &count, &delay), PP_AMT_HELLO_SEND);
	assert_int_equal(count, 0);

	/* It is audited (memory only) and changes no durable state. */
	struct pp_amt_audit_event ev;
	size_t n = pp_amt_audit_count(f->dev);
	assert_true(n > 0);
	assert_int_equal(pp_amt_audit_get(f->dev, n - 1, &ev), 0);
	assert_non_null(strstr(ev.text, "start configuration"));
	assert_int_equal(pp_amt_state(f->dev), PP_AMT_IN_SETUP);
}

static void test_post_setup(void **state)
{
	struct fixture *f = *state;
	struct pp_pthi_response r;
	uint32_t count;
	uint64_t delay;

	to_post_setup(f->dev);
	assert_int_equal(ask(f->dev, PP_PTHI_GET_PROVISIONING_STATE, &r, NULL), 0);
	assert_int_equal(r.provisioning_state, PP_PTHI_STATE_POST);
	assert_int_equal(ask(f->dev, PP_PTHI_CFG_START_CONFIGURATION, &r, NULL), -PP_ESTATE);
	assert_int_equal(r.status, PP_PTHI_STATUS_INVALID_PROVISIONING_STATE);
	/* A provisioned device stays quiet. */
	assert_int_equal(pp_amt_hello_next(f->dev, 0, 1.0, &count, &delay), PP_AMT_HELLO_IDLE);
	assert_int_equal(pp_amt_state(f->dev), PP_AMT_POST_SETUP);
}

static void put32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
	p[2] = (uint8_t)(v >> 16);
	p[3] = (uint8_t)(v >> 24);
}

static void frame(uint8_t *p, uint8_t major, uint8_t minor, uint16_t reserved, uint32_t command,
		  uint32_t length)
{
	p[0] = major;
	p[1] = minor;
	p[2] = (uint8_t)reserved;
	p[3] = (uint8_t)(reserved >> 8);
	put32(p + 4, command);
	put32(p + 8, length);
}

static void test_malformed(void **state)
{
	struct fixture *f = *state;
	uint8_t buf[64];
	uint8_t resp[PP_PTHI_MAX_FRAME];
	struct {
		const char *what;
		uint8_t major, minor;
		uint16_t reserved;
		uint32_t command, length;
		size_t len; /* bytes handed over */
		int want;
		const char *needle;
	} cases[] = {
	    {"empty", 1, 1, 0, PP_PTHI_GET_UUID, 0, 0, -PP_ETRUNC, "truncated header"},
	    {"short header", 1, 1, 0, PP_PTHI_GET_UUID, 0, 11, -PP_ETRUNC, "truncated header"},
	    {"version 2.0", 2, 0, 0, PP_PTHI_GET_UUID, 0, 12, -PP_EVERSION, "version 2.0"},
	    {"version 1.2", 1, 2, 0, PP_PTHI_GET_UUID, 0, 12, -PP_EVERSION, "version 1.2"},
	    {"reserved", 1, 1, 0x0100, PP_PTHI_GET_UUID, 0, 12, -PP_EINVAL, "reserved"},
	    {"response bit", 1, 1, 0, PP_PTHI_GET_UUID | PP_PTHI_RESPONSE_BIT, 0, 12, -PP_EPROTO,
	     "response bit"},
	    {"unknown", 1, 1, 0, 0x04000099, 0, 12, -PP_EINVAL, "unknown command"},
	    {"payload", 1, 1, 0, PP_PTHI_GET_UUID, 4, 16, -PP_EPROTO, "takes none"},
	    {"huge length", 1, 1, 0, PP_PTHI_GET_UUID, 0xffffffffu, 12, -PP_ETOOBIG, "larger than"},
	    {"trailing", 1, 1, 0, PP_PTHI_GET_UUID, 0, 13, -PP_ETOOBIG, "trailing"},
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct pp_err err = {0};
		size_t resp_len = 12345;
		struct pp_amt_pthi_result res = {.command = 7, .status = 7};
		memset(buf, 0, sizeof(buf));
		frame(buf, cases[i].major, cases[i].minor, cases[i].reserved, cases[i].command,
		      cases[i].length);
		memset(resp, 0xa5, sizeof(resp));
		int rc = pp_amt_pthi_handle_ex(f->dev, buf, cases[i].len, resp, sizeof(resp),
					       &resp_len, &res, &err);
		if (rc != cases[i].want)
			fail_msg("%s: rc %d, expected %d (%s)", cases[i].what, rc, cases[i].want,
				 err.msg);
		if (!strstr(err.msg, cases[i].needle))
			fail_msg("%s: message '%s' lacks '%s'", cases[i].what, err.msg,
				 cases[i].needle);
		/* Nothing answered, nothing changed. */
		assert_int_equal(resp_len, 12345);
		assert_int_equal(resp[0], 0xa5);
		assert_int_equal(res.command, 7);
	}
	assert_int_equal(pp_amt_state(f->dev), PP_AMT_PRE_SETUP);

	/* A NULL request with a length is refused, not read. */
	struct pp_err err = {0};
	size_t resp_len = 0;
	assert_true(pp_amt_pthi_handle(f->dev, NULL, 12, resp, sizeof(resp), &resp_len, &err) < 0);
	assert_int_equal(pp_amt_pthi_handle(f->dev, buf, 12, NULL, 0, &resp_len, &err), -PP_EINVAL);
}

static void test_small_buffer(void **state)
{
	struct fixture *f = *state;
	uint8_t req[PP_PTHI_HEADER_LEN], resp[PP_PTHI_MAX_FRAME];
	size_t req_len = 0, resp_len = 0;
	struct pp_err err = {0};

	assert_int_equal(
	    pp_pthi_request_write(PP_PTHI_GET_CODE_VERSIONS, req, sizeof(req), &req_len, &err), 0);
	assert_int_equal(pp_amt_pthi_handle(f->dev, req, req_len, resp, 100, &resp_len, &err),
			 -PP_ETOOBIG);
	assert_int_equal(resp_len, 0);
	/* The smallest answer, a refusal status, needs 16 bytes. */
	assert_int_equal(
	    pp_pthi_request_write(PP_PTHI_CFG_GET_PID, req, sizeof(req), &req_len, &err), 0);
	assert_int_equal(pp_amt_pthi_handle(f->dev, req, req_len, resp, 15, &resp_len, &err),
			 -PP_ETOOBIG);
	assert_int_equal(pp_amt_pthi_handle(f->dev, req, req_len, resp, 16, &resp_len, &err), 0);
	assert_int_equal(resp_len, 16);
}

/* Every request through a byte-exact response: the frames are what docs/protocol.md says. */
static void test_wire_bytes(void **state)
{
	struct fixture *f = *state;
	uint8_t req[PP_PTHI_HEADER_LEN], resp[PP_PTHI_MAX_FRAME];
	size_t req_len = 0, resp_len = 0;
	struct pp_err err = {0};

	to_in_setup(f->dev);
	assert_int_equal(pp_pthi_request_write(PP_PTHI_GET_UUID, req, sizeof(req), &req_len, &err),
			 0);
	assert_int_equal(
	    pp_amt_pthi_handle(f->dev, req, req_len, resp, sizeof(resp), &resp_len, &err), 0);
	static const uint8_t want[] = {
	    1,    1,    0,    0,    0x5c, 0x00, 0x80, 0x04, 20,   0,    0,    0,    /* header */
	    0,    0,    0,    0,                                                    /* status */
	    0x33, 0x22, 0x11, 0x00, 0x55, 0x44, 0x77, 0x66, 0x88, 0x99, 0xaa, 0xbb, /* uuid */
	    0xcc, 0xdd, 0xee, 0xff,
	};
	assert_int_equal(resp_len, sizeof(want));
	assert_memory_equal(resp, want, sizeof(want));

	assert_int_equal(
	    pp_pthi_request_write(PP_PTHI_CFG_GET_PID, req, sizeof(req), &req_len, &err), 0);
	assert_int_equal(
	    pp_amt_pthi_handle(f->dev, req, req_len, resp, sizeof(resp), &resp_len, &err), 0);
	assert_int_equal(resp_len, 12 + 4 + 8);
	assert_memory_equal(resp + 16, EX_PID_BARE, 8);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_pre_setup, setup, fw_teardown),
	    cmocka_unit_test_setup_teardown(test_code_versions, setup, fw_teardown),
	    cmocka_unit_test_setup_teardown(test_in_setup, setup, fw_teardown),
	    cmocka_unit_test_setup_teardown(test_post_setup, setup, fw_teardown),
	    cmocka_unit_test_setup_teardown(test_malformed, setup, fw_teardown),
	    cmocka_unit_test_setup_teardown(test_small_buffer, setup, fw_teardown),
	    cmocka_unit_test_setup_teardown(test_wire_bytes, setup, fw_teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
