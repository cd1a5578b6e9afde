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
	uint8_t uuid[4][16];
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

/* Device i proves key k from addr and its job fails (clone: k belongs to another). */
static int64_t add_failed(struct fixture *f, int i, int k, const uint8_t addr[4], int expect)
{
	struct pp_err err = {0};
	struct pp_hello_in h = {.source = "hello", .now = T0 + i};
	memset(f->uuid[i], 0x10 + i, 16);
	memcpy(h.uuid, f->uuid[i], 16);
	memcpy(h.pid, f->u.pid[k], 9);
	memcpy(h.addr, addr, 4);
	enum pp_hello_outcome oc;
	int64_t job = 0;
	assert_int_equal(pp_store_hello(f->u.s, &h, &oc, &job, &err), 0);
	struct pp_job claimed[1];
	size_t n = 0;
	assert_int_equal(pp_store_jobs_claim(f->u.s, "w", T0 + i, 60, 1, claimed, &n, &err), 0);
	assert_int_equal(claimed[0].id, job);
	assert_int_equal(pp_store_job_bind(f->u.s, job, "w", f->uuid[i], NULL, NULL, T0 + i, &err),
			 expect);
	if (expect == 0)
		assert_int_equal(pp_store_job_fail(f->u.s, job, "w", "no answer", &err), 0);
	return job;
}

struct seen {
	int n;
	struct pp_device_info d[8];
};

static int seen_cb(void *ctx, const struct pp_device_info *d)
{
	struct seen *s = ctx;
	assert_true(s->n < 8);
	s->d[s->n++] = *d;
	return 0;
}

static void test_query(void **state)
{
	struct fixture *f = *state;
	struct pp_err err = {0};
	static const uint8_t a2[4] = {9, 1, 2, 3}, a3[4] = {10, 200, 0, 1};
	uc_add_key(&f->u, PP_KEY_EXPORTED);
	add_failed(f, 2, 2, a2, 0);
	add_failed(f, 3, 0, a3, PP_STORE_BIND_CLONE);
	struct pp_uc_device_query q = {.state = -1};
	struct pp_uc_device_page page;
	struct seen s = {0};
	assert_int_equal(pp_uc_device_query(f->u.s, &q, seen_cb, &s, &page, &err), 0);
	assert_int_equal(s.n, 4);
	assert_int_equal(page.total, 4);
	assert_int_equal(page.shown, 4);
	assert_string_equal(page.next_cursor, "");
	/* Address order, descending, two a page: the cursor leads on, no row twice. */
	q.sort = "address";
	q.desc = true;
	q.limit = 2;
	memset(&s, 0, sizeof(s));
	assert_int_equal(pp_uc_device_query(f->u.s, &q, seen_cb, &s, &page, &err), 0);
	assert_int_equal(s.n, 2);
	assert_int_equal(s.d[0].addr[1], 200); /* 10.200.0.1 */
	assert_int_equal(page.total, 4);
	assert_true(strncmp(page.next_cursor, "address.", 8) == 0);
	char cur[PP_UC_CURSOR_MAX];
	snprintf(cur, sizeof(cur), "%s", page.next_cursor);
	q.after = cur;
	assert_int_equal(pp_uc_device_query(f->u.s, &q, seen_cb, &s, &page, &err), 0);
	assert_int_equal(s.n, 4);
	assert_int_equal(s.d[3].addr[0], 9); /* 9.1.2.3 last */
	/* A cursor of another sort, or not one: refused. */
	q.sort = "pid";
	assert_int_equal(pp_uc_device_query(f->u.s, &q, seen_cb, &s, &page, &err), -PP_EINVAL);
	uc_expect_err(&f->u, &err, "a bad cursor");
	q.sort = "address";
	q.after = "address.1.2.zz";
	assert_int_equal(pp_uc_device_query(f->u.s, &q, seen_cb, &s, &page, &err), -PP_EINVAL);
	q = (struct pp_uc_device_query){.state = -1, .sort = "size"};
	assert_int_equal(pp_uc_device_query(f->u.s, &q, seen_cb, &s, &page, &err), -PP_EINVAL);
	uc_expect_err(&f->u, &err, "unknown sort 'size'");
	/* Filters and search. */
	q = (struct pp_uc_device_query){.state = -1, .quarantined = true};
	memset(&s, 0, sizeof(s));
	assert_int_equal(pp_uc_device_query(f->u.s, &q, seen_cb, &s, &page, &err), 0);
	assert_int_equal(s.n, 1);
	assert_memory_equal(s.d[0].uuid, f->uuid[3], 16);
	q = (struct pp_uc_device_query){.state = PP_DEV_FAILED, .search = "9.1.2"};
	memset(&s, 0, sizeof(s));
	assert_int_equal(pp_uc_device_query(f->u.s, &q, seen_cb, &s, &page, &err), 0);
	assert_int_equal(s.n, 1);
	assert_memory_equal(s.d[0].uuid, f->uuid[2], 16);
	q = (struct pp_uc_device_query){.state = -1, .batch = "nope"};
	assert_int_equal(pp_uc_device_query(f->u.s, &q, seen_cb, &s, &page, &err), -PP_ENOTFOUND);
	uc_expect_err(&f->u, &err, "no batch 'nope'");
}

struct hist {
	int jobs, events;
	char last[24];
};

static int hist_cb(void *ctx, const struct pp_job *j, const struct pp_job_event *ev, size_t n)
{
	struct hist *h = ctx;
	(void)j;
	h->jobs++;
	h->events += (int)n;
	if (n)
		snprintf(h->last, sizeof(h->last), "%s", ev[n - 1].event);
	return 0;
}

static int audit_last(void *ctx, const struct pp_audit_entry *e)
{
	snprintf(ctx, 64, "%s %s", e->action, e->actor);
	return 0;
}

static void test_actions(void **state)
{
	struct fixture *f = *state;
	struct pp_err err = {0};
	static const uint8_t a2[4] = {9, 1, 2, 3}, a3[4] = {10, 200, 0, 1};
	uc_add_key(&f->u, PP_KEY_EXPORTED);
	int64_t failed = add_failed(f, 2, 2, a2, 0);
	int64_t clone = add_failed(f, 3, 0, a3, PP_STORE_BIND_CLONE);
	struct hist h = {0};
	assert_int_equal(pp_uc_device_history(f->u.s, f->uuid[2], hist_cb, &h, &err), 0);
	assert_int_equal(h.jobs, 1);
	assert_int_equal(h.events, 4); /* queued claimed bound failed */
	assert_string_equal(h.last, "failed");
	/* jobs retry */
	struct pp_job j;
	char id[24], last[64];
	assert_int_equal(pp_uc_job_retry(f->u.s, "x1", "cli:test", T0 + 9, &j, &err), -PP_EINVAL);
	assert_int_equal(pp_uc_job_retry(f->u.s, "0", "cli:test", T0 + 9, &j, &err), -PP_EINVAL);
	assert_int_equal(pp_uc_job_retry(f->u.s, "99999", "cli:test", T0 + 9, &j, &err),
			 -PP_ENOTFOUND);
	snprintf(id, sizeof(id), "%lld", (long long)clone);
	assert_int_equal(pp_uc_job_retry(f->u.s, id, "cli:test", T0 + 9, &j, &err), -PP_ESTATE);
	uc_expect_err(&f->u, &err, "release the quarantine first");
	snprintf(id, sizeof(id), "%lld", (long long)failed);
	if (pp_uc_job_retry(f->u.s, id, "cli:test", T0 + 9, &j, &err) < 0)
		fail_msg("retry: %s", err.msg);
	assert_int_equal(j.state, PP_JOB_PENDING);
	assert_int_equal(pp_store_audit_list(f->u.s, 0, audit_last, last, &err), 0);
	assert_string_equal(last, "job.requeued cli:test");
	/* devices release */
	struct pp_device_info d;
	assert_int_equal(pp_uc_device_release(f->u.s, "host0", "cli:test", "ok", T0 + 9, &d, &err),
			 -PP_ESTATE);
	uc_expect_err(&f->u, &err, "is provisioned, not quarantined");
	assert_int_equal(
	    pp_uc_device_release(f->u.s, "10.200.0.1", "cli:test", "", T0 + 9, &d, &err),
	    -PP_EINVAL);
	if (pp_uc_device_release(f->u.s, "10.200.0.1", "cli:test", "lab check", T0 + 9, &d, &err) <
	    0)
		fail_msg("release: %s", err.msg);
	assert_int_equal(d.state, PP_DEV_FAILED);
	assert_true(d.quarantined);
	assert_int_equal(pp_store_audit_list(f->u.s, 0, audit_last, last, &err), 0);
	assert_string_equal(last, "device.released cli:test");
	snprintf(id, sizeof(id), "%lld", (long long)clone);
	assert_int_equal(pp_uc_job_retry(f->u.s, id, "cli:test", T0 + 10, &j, &err), 0);
}

static void test_cursor_text(void **state)
{
	(void)state;
	struct pp_err err = {0};
	struct pp_device_cursor c = {.id = 42, .num = -7}, back;
	char t[PP_UC_CURSOR_MAX];
	snprintf(c.text, sizeof(c.text), "Amt-0102.lab");
	pp_uc_cursor_format(PP_DEV_SORT_HOST_NAME, &c, t);
	assert_int_equal(pp_uc_cursor_parse(t, PP_DEV_SORT_HOST_NAME, &back, &err), 0);
	assert_int_equal(back.id, 42);
	assert_int_equal(back.num, -7);
	assert_string_equal(back.text, "Amt-0102.lab");
	assert_int_equal(pp_uc_cursor_parse(t, PP_DEV_SORT_PID, &back, &err), -PP_EINVAL);
	assert_int_equal(pp_uc_cursor_parse("host_name.1.2.4", PP_DEV_SORT_HOST_NAME, &back, &err),
			 -PP_EINVAL); /* odd hex */
	assert_int_equal(pp_uc_cursor_parse("host_name.-1.2.", PP_DEV_SORT_HOST_NAME, &back, &err),
			 -PP_EINVAL);
	assert_int_equal(pp_uc_cursor_parse("host_name.1.2.00", PP_DEV_SORT_HOST_NAME, &back, &err),
			 -PP_EINVAL); /* a NUL inside */
	assert_int_equal(pp_uc_cursor_parse(NULL, PP_DEV_SORT_HOST_NAME, &back, &err), -PP_EINVAL);
}

/* One JSON shape for --json and the API: absent values are null, never "". */
static void test_json_shapes(void **state)
{
	(void)state;
	struct pp_pid pid;
	char dashed[PP_PID_TEXT];
	assert_int_equal(pp_pid_generate(&pid), 0);
	pp_pid_format(&pid, dashed);
	struct pp_device_info d;
	memset(&d, 0, sizeof(d));
	memcpy(d.pid, pid.s, 9);
	d.addr[0] = 127;
	d.addr[3] = 9;
	d.state = PP_DEV_FAILED;
	snprintf(d.last_error, sizeof(d.last_error), "%s", "no answer");
	json_t *o = pp_uc_device_json(&d);
	assert_non_null(o);
	assert_string_equal(json_string_value(json_object_get(o, "pid")), dashed);
	assert_int_equal(dashed[4], '-');
	assert_string_equal(json_string_value(json_object_get(o, "address")), "127.0.0.9");
	assert_string_equal(json_string_value(json_object_get(o, "state")), "failed");
	assert_true(json_is_null(json_object_get(o, "batch")));
	assert_true(json_is_null(json_object_get(o, "quarantine_reason")));
	assert_true(json_is_null(json_object_get(o, "tls_version")));
	assert_true(json_is_null(json_object_get(o, "tls_cipher")));
	json_decref(o);
	snprintf(d.tls_version, sizeof(d.tls_version), "%s", "TLSv1.2");
	o = pp_uc_device_json(&d);
	assert_string_equal(json_string_value(json_object_get(o, "tls_version")), "TLSv1.2");
	json_decref(o);

	struct pp_job j;
	memset(&j, 0, sizeof(j));
	j.id = 7;
	memcpy(j.pid, pid.s, 9);
	j.state = PP_JOB_RETRY;
	j.lease_until = 5;
	o = pp_uc_job_json(&j);
	assert_int_equal(json_integer_value(json_object_get(o, "id")), 7);
	assert_true(json_is_null(json_object_get(o, "next_pid")));
	assert_true(json_is_null(json_object_get(o, "owner")));
	assert_string_equal(json_string_value(json_object_get(o, "state")), "retry");
	assert_int_equal(json_integer_value(json_object_get(o, "lease_until")), 5);
	json_decref(o);

	struct pp_job_event e = {.job_id = 7, .time = 99, .event = "queued", .detail = "hello"};
	o = pp_uc_job_event_json(&e);
	assert_int_equal(json_object_size(o), 3);
	assert_int_equal(json_integer_value(json_object_get(o, "time")), 99);
	assert_string_equal(json_string_value(json_object_get(o, "event")), "queued");
	json_decref(o);
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
	    cmocka_unit_test_setup_teardown(test_query, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_actions, setup, teardown),
	    cmocka_unit_test(test_cursor_text),
	    cmocka_unit_test(test_json_shapes),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
