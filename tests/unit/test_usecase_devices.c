/* lib/usecase/devices over a temporary SQLite store: a device found by UUID, PID,
 * address and host name; state names; listings; the audited credentials reveal; the
 * failures with their one-line texts. */
#include <ctype.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "core/err.h"
#include "core/parse.h"
#include "core/secret.h"
#include "keys/keys.h"
#include "store/store.h"
#include "usecase/devices.h"

#include "usecase_fixture.h"

#define T0 1700000000

struct fixture {
	struct uc_store u;
	uint8_t uuid[3][16];
};

static int teardown(void **state)
{
	struct fixture *f = *state;
	uc_store_close(&f->u);
	free(f);
	return 0;
}

/* Device i says hello from addr with key i, proves it and is provisioned as host. */
static void add_device(struct fixture *f, int i, const uint8_t addr[4], const char *host)
{
	struct pp_err err = {0};
	struct pp_hello_in h = {.source = "hello", .now = T0 + i};
	memset(f->uuid[i], 0x10 + i, 16);
	memcpy(h.uuid, f->uuid[i], 16);
	memcpy(h.pid, f->u.pid[i], 9);
	memcpy(h.addr, addr, 4);
	enum pp_hello_outcome oc;
	int64_t job = 0;
	assert_int_equal(pp_store_hello(f->u.s, &h, &oc, &job, &err), 0);
	assert_int_equal(oc, PP_HELLO_NEW_JOB);
	struct pp_job claimed[1];
	size_t n = 0;
	assert_int_equal(pp_store_jobs_claim(f->u.s, "w", T0 + i, 60, 1, claimed, &n, &err), 0);
	assert_int_equal(n, 1);
	if (pp_store_job_bind(f->u.s, job, "w", f->uuid[i], host, NULL, T0 + i, &err) != 0)
		fail_msg("bind: %s", err.msg);
	struct pp_device_secrets sec = {"admin", "Admin!Pass1", "Mebx!Pass2"};
	assert_int_equal(pp_store_device_escrow(f->u.s, f->uuid[i], &sec, &err), 0);
	if (pp_store_job_complete(f->u.s, job, "w", host, "example.test", T0 + i, &err) < 0)
		fail_msg("complete: %s", err.msg);
}

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	if (!f || uc_store_open(&f->u, "ucdev") < 0)
		return -1;
	static const uint8_t a0[4] = {10, 1, 2, 3}, a1[4] = {10, 1, 2, 4};
	uc_add_key(&f->u, PP_KEY_EXPORTED);
	uc_add_key(&f->u, PP_KEY_EXPORTED);
	add_device(f, 0, a0, "host0");
	add_device(f, 1, a1, "host1");
	*state = f;
	return 0;
}

static void find_expect(struct fixture *f, const char *ref, int dev,
			enum pp_uc_device_ref_kind kind)
{
	struct pp_err err = {0};
	struct pp_device_info d;
	enum pp_uc_device_ref_kind k;
	if (pp_uc_device_find(f->u.s, ref, &d, &k, &err) < 0)
		fail_msg("find '%s': %s", ref, err.msg);
	assert_memory_equal(d.uuid, f->uuid[dev], 16);
	assert_int_equal(k, kind);
}

static void test_find(void **state)
{
	struct fixture *f = *state;
	char uuid[37], dashed[PP_PID_TEXT];
	pp_uuid_format(f->uuid[1], uuid);
	find_expect(f, uuid, 1, PP_UC_REF_UUID);
	find_expect(f, f->u.pid[0], 0, PP_UC_REF_PID);
	struct pp_pid p;
	memcpy(p.s, f->u.pid[1], sizeof(p.s));
	pp_pid_format(&p, dashed);
	find_expect(f, dashed, 1, PP_UC_REF_PID);
	find_expect(f, "10.1.2.4", 1, PP_UC_REF_ADDRESS);
	find_expect(f, "host0", 0, PP_UC_REF_HOST_NAME);
	find_expect(f, "HOST1.Example.Test", 1, PP_UC_REF_HOST_NAME);
}

static void test_find_failures(void **state)
{
	struct fixture *f = *state;
	struct pp_err err = {0};
	struct pp_device_info d;
	assert_int_equal(pp_uc_device_find(f->u.s, "10.9.9.9", &d, NULL, &err), -PP_ENOTFOUND);
	uc_expect_err(&f->u, &err, "no device with address '10.9.9.9'");
	assert_int_equal(pp_uc_device_find(f->u.s, "nohost", &d, NULL, &err), -PP_ENOTFOUND);
	uc_expect_err(&f->u, &err, "no device with host name 'nohost'");
	assert_int_equal(
	    pp_uc_device_find(f->u.s, "00000000-0000-0000-0000-000000000009", &d, NULL, &err),
	    -PP_ENOTFOUND);
	uc_expect_err(&f->u, &err, "no device with UUID");
	assert_int_equal(pp_uc_device_find(f->u.s, "host0.other.test", &d, NULL, &err),
			 -PP_ENOTFOUND);
	assert_int_equal(pp_uc_device_find(f->u.s, "a b", &d, NULL, &err), -PP_EINVAL);
	uc_expect_err(&f->u, &err, "'a b' is not a UUID, PID, IPv4 address or host name");
	/* A PPS given by mistake is not echoed back. */
	assert_int_equal(pp_uc_device_find(f->u.s, f->u.pps[0], &d, NULL, &err), -PP_EINVAL);
	uc_expect_err(&f->u, &err, "a PPS is not a device name");
	assert_null(strstr(err.msg, f->u.pps[0]));
}

static void test_find_ambiguous(void **state)
{
	struct fixture *f = *state;
	struct pp_err err = {0};
	struct pp_device_info d;
	static const uint8_t a0[4] = {10, 1, 2, 3};
	uc_add_key(&f->u, PP_KEY_EXPORTED);
	add_device(f, 2, a0, "host2");
	assert_int_equal(pp_uc_device_find(f->u.s, "10.1.2.3", &d, NULL, &err), -PP_EEXIST);
	uc_expect_err(&f->u, &err, "2 devices have address '10.1.2.3'; name one by UUID");
	find_expect(f, "host2", 2, PP_UC_REF_HOST_NAME);
}

/* A host name that is also a valid PID still names its device. */
static void test_find_pid_shaped_host(void **state)
{
	struct fixture *f = *state;
	static const uint8_t a2[4] = {10, 1, 2, 5};
	struct pp_pid p;
	char host[9];
	assert_int_equal(pp_pid_generate(&p), 0);
	for (int i = 0; i < 9; i++)
		host[i] = (char)tolower((unsigned char)p.s[i]);
	uc_add_key(&f->u, PP_KEY_EXPORTED);
	add_device(f, 2, a2, host);
	find_expect(f, host, 2, PP_UC_REF_PID);
	find_expect(f, p.s, 2, PP_UC_REF_PID);
}

static void test_states(void **state)
{
	struct fixture *f = *state;
	struct pp_err err = {0};
	int st = -1;
	assert_int_equal(pp_uc_device_state_parse("provisioned", &st, &err), 0);
	assert_int_equal(st, PP_DEV_PROVISIONED);
	assert_int_equal(pp_uc_job_state_parse("done", &st, &err), 0);
	assert_int_equal(st, PP_JOB_DONE);
	assert_int_equal(pp_uc_device_state_parse("bogus", &st, &err), -PP_EINVAL);
	uc_expect_err(&f->u, &err,
		      "unknown state 'bogus' (valid: seen, configuring, provisioned, failed, "
		      "quarantined)");
	assert_int_equal(pp_uc_job_state_parse("x", &st, &err), -PP_EINVAL);
	uc_expect_err(&f->u, &err, "(valid: pending, running, retry, done, failed)");
}

static void test_lists(void **state)
{
	struct fixture *f = *state;
	struct pp_err err = {0};
	uint64_t n = 99;
	assert_int_equal(pp_uc_device_list(f->u.s, -1, NULL, NULL, &n, &err), 0);
	assert_int_equal(n, 2);
	assert_int_equal(pp_uc_device_list(f->u.s, PP_DEV_PROVISIONED, NULL, NULL, &n, &err), 0);
	assert_int_equal(n, 2);
	assert_int_equal(pp_uc_device_list(f->u.s, PP_DEV_FAILED, NULL, NULL, &n, &err), 0);
	assert_int_equal(n, 0);
	assert_int_equal(pp_uc_job_list(f->u.s, PP_JOB_DONE, NULL, NULL, &n, &err), 0);
	assert_int_equal(n, 2);
	assert_int_equal(pp_uc_job_list(f->u.s, PP_JOB_PENDING, NULL, NULL, &n, &err), 0);
	assert_int_equal(n, 0);
}

static int audit_count(void *ctx, const struct pp_audit_entry *e)
{
	unsigned *n = ctx;
	*n += !strcmp(e->action, "devices.reveal");
	return 0;
}

static void test_credentials(void **state)
{
	struct fixture *f = *state;
	struct pp_err err = {0};
	struct pp_device_info d;
	struct pp_device_secrets sec;
	if (pp_uc_device_credentials(f->u.s, "host1", "test", &d, &sec, &err) < 0)
		fail_msg("credentials: %s", err.msg);
	assert_memory_equal(d.uuid, f->uuid[1], 16);
	assert_string_equal(sec.admin_user, "admin");
	assert_string_equal(sec.mebx_password, "Mebx!Pass2");
	pp_wipe(&sec, sizeof(sec));
	unsigned n = 0;
	assert_int_equal(pp_store_audit_list(f->u.s, 0, audit_count, &n, &err), 0);
	assert_int_equal(n, 1);
	assert_int_equal(pp_uc_device_credentials(f->u.s, "10.7.7.7", "test", &d, &sec, &err),
			 -PP_ENOTFOUND);
	uc_expect_err(&f->u, &err, "no device with address '10.7.7.7'");
	assert_null(strstr(err.msg, "Admin!Pass1"));
	n = 0;
	assert_int_equal(pp_store_audit_list(f->u.s, 0, audit_count, &n, &err), 0);
	assert_int_equal(n, 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_find, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_find_failures, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_find_ambiguous, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_find_pid_shaped_host, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_states, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_lists, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_credentials, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
