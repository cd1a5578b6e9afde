/* The contract of devices, jobs, rotation, escrow and lockout (docs/dev/store-jobs.md),
 * run against any backend. Included by test_store_jobs.c (SQLite) and test_store_pg.c
 * (PostgreSQL), each of which defines, before including this file, the struct fixture
 * members it needs after the common ones, and after it the backend hooks declared
 * below. */
#ifndef PSKPROV_TEST_STORE_CONTRACT_H
#define PSKPROV_TEST_STORE_CONTRACT_H

#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>
#include <openssl/evp.h>

#include "core/err.h"
#include "core/secret.h"
#include "keys/keys.h"
#include "store/store.h"
#include "store/store_impl.h"
#include "test_store_util.h"

/* ---- backend hooks (defined by the including file) ---- */

struct fixture;
static struct pp_store *backend_open_other(struct fixture *f);
/* Everything the database holds, as bytes to search (malloc'd). */
static uint8_t *backend_bytes(struct fixture *f, size_t *len);
/* Makes the append of audit action "device.provisioned" fail (on) or work (off). */
static void backend_inject_audit_failure(struct fixture *f, bool on);
/* Closes f->s and opens the same store again. */
static void backend_reopen(struct fixture *f);
/* SQL on a connection of the test's own, beside the store (fails the test on error). */
static void backend_raw_exec(struct fixture *f, const char *sql);
/* The first column of the first row. */
static int64_t backend_raw_int(struct fixture *f, const char *sql);
/* Sets meta.schema_version (the column differs: SQLite value, PostgreSQL ivalue). */
static void backend_schema_version(struct fixture *f, int version);

/* ---- helpers ---- */

#define T0 1700000000

static const char c_alphabet[] = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ";

static void c_expect_msg(const struct pp_err *err, const char *needle)
{
	pp_test_expect_msg(err, needle);
}

static void c_pid(unsigned long n, char out[9])
{
	pp_test_pid(n, out);
}

static void c_pps(unsigned long n, char out[33])
{
	pp_test_pps(n, 29, 13, "WQ", out);
}

static void c_mebx(unsigned long n, char out[33])
{
	snprintf(out, 33, "KeyMebx#%06lu", n);
}

static void c_uuid(unsigned n, uint8_t out[16])
{
	for (int i = 0; i < 16; i++)
		out[i] = (uint8_t)(0x10 + i * 7);
	out[12] = (uint8_t)(n >> 24);
	out[13] = (uint8_t)(n >> 16);
	out[14] = (uint8_t)(n >> 8);
	out[15] = (uint8_t)n;
}

static void c_uuid_text(unsigned n, char out[37])
{
	uint8_t u[16];
	c_uuid(n, u);
	snprintf(out, 37, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x",
		 u[0], u[1], u[2], u[3], u[4], u[5], u[6], u[7], u[8], u[9], u[10], u[11], u[12],
		 u[13], u[14], u[15]);
}

static int64_t c_batch(struct fixture *f, const char *name, bool derived, uint32_t shared)
{
	return pp_test_batch(f->s, name, derived, shared, 5, 3);
}

static void c_key(struct fixture *f, int64_t batch, unsigned long n, bool derived,
		  enum pp_key_state st, uint32_t max_devices)
{
	char pid[9], pps[33], mebx[33];
	c_pid(n, pid);
	c_pps(n, pps);
	c_mebx(n, mebx);
	struct pp_key_new k = {.pid = pid,
			       .pps = derived ? NULL : pps,
			       .mebx_password = mebx,
			       .batch_id = batch,
			       .max_devices = max_devices,
			       .state = st};
	struct pp_err err = {0};
	if (pp_store_key_insert(f->s, &k, &err) < 0)
		fail_msg("key %s: %s", pid, err.msg);
}

static enum pp_hello_outcome c_hello_at(struct fixture *f, unsigned dev, unsigned long key,
					uint8_t last_octet, int64_t now, int64_t *job)
{
	struct pp_hello_in h = {.source = "hello", .now = now};
	c_uuid(dev, h.uuid);
	c_pid(key, h.pid);
	h.addr[0] = 127;
	h.addr[1] = 0;
	h.addr[2] = (uint8_t)(dev & 0xff);
	h.addr[3] = last_octet;
	enum pp_hello_outcome out = PP_HELLO_UNKNOWN_PID;
	int64_t id = -1;
	struct pp_err err = {0};
	if (pp_store_hello(f->s, &h, &out, &id, &err) < 0)
		fail_msg("hello dev %u key %lu: %s", dev, key, err.msg);
	if (job)
		*job = id;
	return out;
}

static enum pp_hello_outcome c_hello(struct fixture *f, unsigned dev, unsigned long key,
				     int64_t *job)
{
	return c_hello_at(f, dev, key, 2, T0, job);
}

static void c_device(struct fixture *f, unsigned dev, struct pp_device_info *d)
{
	uint8_t u[16];
	struct pp_err err = {0};
	c_uuid(dev, u);
	if (pp_store_device_get(f->s, u, d, &err) < 0)
		fail_msg("device %u: %s", dev, err.msg);
}

static void c_job(struct fixture *f, int64_t id, struct pp_job *j)
{
	struct pp_err err = {0};
	if (pp_store_job_get(f->s, id, j, &err) < 0)
		fail_msg("job %lld: %s", (long long)id, err.msg);
}

static void c_keyinfo(struct fixture *f, unsigned long n, struct pp_key_info *k)
{
	char pid[9];
	struct pp_err err = {0};
	c_pid(n, pid);
	if (pp_store_key_get(f->s, pid, k, &err) < 0)
		fail_msg("key %s: %s", pid, err.msg);
}

/* Claims one job (the first runnable) as owner at now. */
static int64_t c_claim1(struct fixture *f, const char *owner, int64_t now, uint32_t lease)
{
	struct pp_job out[1];
	size_t n = 99;
	struct pp_err err = {0};
	if (pp_store_jobs_claim(f->s, owner, now, lease, 1, out, &n, &err) < 0)
		fail_msg("claim: %s", err.msg);
	assert_int_equal(n, 1);
	assert_int_equal(out[0].state, PP_JOB_RUNNING);
	assert_string_equal(out[0].owner, owner);
	assert_int_equal(out[0].lease_until, now + lease);
	return out[0].id;
}

static size_t c_claim_n(struct fixture *f, const char *owner, int64_t now)
{
	struct pp_job out[16];
	size_t n = 99;
	struct pp_err err = {0};
	if (pp_store_jobs_claim(f->s, owner, now, 60, 16, out, &n, &err) < 0)
		fail_msg("claim: %s", err.msg);
	return n;
}

static void c_escrow(struct fixture *f, unsigned dev, const char *pw, const char *mebx,
		     struct pp_device_secrets *got)
{
	uint8_t u[16];
	struct pp_err err = {0};
	c_uuid(dev, u);
	memset(got, 0, sizeof(*got));
	snprintf(got->admin_user, sizeof(got->admin_user), "admin");
	snprintf(got->admin_password, sizeof(got->admin_password), "%s", pw);
	snprintf(got->mebx_password, sizeof(got->mebx_password), "%s", mebx);
	if (pp_store_device_escrow(f->s, u, got, &err) < 0)
		fail_msg("escrow dev %u: %s", dev, err.msg);
}

struct audit_find {
	const char *action;
	int n;
	char subject[96];
	char detail[512];
	char actor[64];
};

static int c_audit_cb(void *ctx, const struct pp_audit_entry *e)
{
	struct audit_find *a = ctx;
	if (strcmp(e->action, a->action) == 0) {
		a->n++;
		snprintf(a->subject, sizeof(a->subject), "%s", e->subject);
		snprintf(a->detail, sizeof(a->detail), "%s", e->detail);
		snprintf(a->actor, sizeof(a->actor), "%s", e->actor);
	}
	return 0;
}

static struct audit_find c_audit(struct fixture *f, const char *action)
{
	struct audit_find a = {.action = action};
	struct pp_err err = {0};
	uint64_t n = 0;
	if (pp_store_audit_list(f->s, 0, c_audit_cb, &a, &err) < 0)
		fail_msg("audit list: %s", err.msg);
	if (pp_store_audit_verify(f->s, &n, &err) < 0)
		fail_msg("audit verify: %s", err.msg);
	return a;
}

struct job_seen {
	int n;
	int64_t ids[64];
	enum pp_job_state states[64];
	int stop_after;
};

static int c_job_cb(void *ctx, const struct pp_job *j)
{
	struct job_seen *s = ctx;
	if (s->n < 64) {
		s->ids[s->n] = j->id;
		s->states[s->n] = j->state;
	}
	s->n++;
	return s->stop_after && s->n == s->stop_after ? 1 : 0;
}

static int c_job_count(struct fixture *f, int state)
{
	struct job_seen seen = {0};
	struct pp_job_filter jf = {.state = state};
	struct pp_err err = {0};
	if (pp_store_job_list(f->s, &jf, c_job_cb, &seen, &err) < 0)
		fail_msg("job list: %s", err.msg);
	return seen.n;
}

/* A job from hello to just before completion: claimed by owner at T0, steps up to
 * commit-sent, escrow (admin password pw, MEBx "NewMebx#<dev>"), next key `next`. */
static int64_t c_run_job(struct fixture *f, unsigned dev, unsigned long key, unsigned long next,
			 const char *owner)
{
	int64_t job = 0;
	struct pp_err err = {0};
	struct pp_device_secrets sec;
	char pw[40], mebx[33], npid[9], npps[33];
	enum pp_hello_outcome o = c_hello(f, dev, key, &job);
	if (o != PP_HELLO_NEW_JOB)
		fail_msg("hello dev %u: outcome %d", dev, (int)o);
	assert_int_equal(c_claim1(f, owner, T0, 60), job);
	assert_int_equal(pp_store_job_step(f->s, job, owner, PP_STEP_READ, &err), 0);
	snprintf(pw, sizeof(pw), "AdminPw!%u", dev);
	snprintf(mebx, sizeof(mebx), "NewMebx#%u", dev);
	c_escrow(f, dev, pw, mebx, &sec);
	assert_int_equal(pp_store_job_step(f->s, job, owner, PP_STEP_ACL, &err), 0);
	assert_int_equal(pp_store_job_step(f->s, job, owner, PP_STEP_MEBX, &err), 0);
	if (next) {
		struct pp_pid p;
		struct pp_pps s;
		c_pid(next, npid);
		c_pps(next, npps);
		if (pp_store_job_next_key(f->s, job, owner, npid, npps, &p, &s, &err) < 0)
			fail_msg("next key: %s", err.msg);
		assert_string_equal(p.s, npid);
		assert_int_equal(pp_store_job_step(f->s, job, owner, PP_STEP_PSK, &err), 0);
	}
	assert_int_equal(pp_store_job_step(f->s, job, owner, PP_STEP_COMMIT_SENT, &err), 0);
	return job;
}

/* pp_store_job_bind as device dev (c_uuid) proving the job's key. */
static int c_bind(struct fixture *f, int64_t job, const char *owner, unsigned dev, const char *cand,
		  char name[64])
{
	uint8_t u[16];
	struct pp_err err = {0};
	c_uuid(dev, u);
	return pp_store_job_bind(f->s, job, owner, u, cand, name, T0, &err);
}

/* ---- tests ---- */

static void c_test_names(void **state)
{
	(void)state;
	assert_string_equal(pp_device_state_name(PP_DEV_SEEN), "seen");
	assert_string_equal(pp_device_state_name(PP_DEV_QUARANTINED), "quarantined");
	assert_string_equal(pp_device_state_name((enum pp_device_state)99), "?");
	assert_string_equal(pp_job_state_name(PP_JOB_RETRY), "retry");
	assert_string_equal(pp_job_state_name((enum pp_job_state) - 1), "?");
	assert_string_equal(pp_job_step_name(PP_STEP_COMMIT_SENT), "commit-sent");
	assert_string_equal(pp_job_step_name(PP_STEP_DONE), "done");
	assert_string_equal(pp_job_step_name(PP_STEP_MAX), "?");
}

/* hello -> claim -> steps -> escrow -> next key -> complete, and each repeat. */
static void c_test_job_life(void **state)
{
	struct fixture *f = *state;
	struct pp_err err = {0};
	int64_t b = c_batch(f, "life", false, 0);
	c_key(f, b, 1, false, PP_KEY_EXPORTED, 0);
	uint8_t u[16];
	c_uuid(1, u);

	int64_t job = 0;
	assert_int_equal(c_hello(f, 1, 1, &job), PP_HELLO_NEW_JOB);
	assert_true(job > 0);
	/* A hello binds nothing: no device, the key as it was. */
	struct pp_device_info d;
	assert_int_equal(pp_store_device_get(f->s, u, &d, &err), -PP_ENOTFOUND);
	char pid1[9], pid2[9], pps2[33], pps9[33], pid9[9];
	c_pid(1, pid1);
	c_pid(2, pid2);
	c_pps(2, pps2);
	c_pid(9, pid9);
	c_pps(9, pps9);
	struct pp_key_info k;
	c_keyinfo(f, 1, &k);
	assert_int_equal(k.state, PP_KEY_EXPORTED);
	assert_int_equal(k.use_count, 0);

	struct pp_job j;
	c_job(f, job, &j);
	assert_int_equal(j.state, PP_JOB_PENDING);
	assert_int_equal(j.step, PP_STEP_NONE);
	assert_int_equal(j.attempts, 0);
	assert_string_equal(j.pid, pid1);
	assert_string_equal(j.next_pid, "");
	assert_string_equal(j.owner, "");
	assert_int_equal(j.next_attempt_at, T0);
	assert_int_equal(j.created, T0);
	assert_memory_equal(j.uuid, u, 16);

	/* Not runnable before its time; runnable at it. */
	assert_int_equal(c_claim_n(f, "w1", T0 - 1), 0);
	struct pp_job cl[2];
	size_t n = 0;
	assert_int_equal(pp_store_jobs_claim(f->s, "w1", T0, 30, 2, cl, &n, &err), 0);
	assert_int_equal(n, 1);
	assert_int_equal(cl[0].id, job);
	assert_int_equal(cl[0].attempts, 1);
	assert_int_equal(cl[0].state, PP_JOB_RUNNING);
	assert_int_equal(cl[0].lease_until, T0 + 30);
	assert_string_equal(cl[0].owner, "w1");
	/* Held: nobody else gets it while the lease runs. */
	assert_int_equal(c_claim_n(f, "w2", T0 + 29), 0);
	assert_int_equal(pp_store_jobs_renew(f->s, "w1", T0 + 20, 30, &err), 0);
	c_job(f, job, &j);
	assert_int_equal(j.lease_until, T0 + 50);
	assert_int_equal(c_claim_n(f, "w2", T0 + 45), 0);

	/* The device proves the key: bound, its row made. */
	assert_int_equal(c_bind(f, job, "w2", 1, NULL, NULL), -PP_ESTATE);
	assert_int_equal(c_bind(f, job, "w1", 1, NULL, NULL), 0);
	c_job(f, job, &j);
	assert_true(j.bound);
	c_device(f, 1, &d);
	assert_int_equal(d.state, PP_DEV_CONFIGURING);
	assert_memory_equal(d.uuid, u, 16);
	assert_string_equal(d.pid, pid1);
	assert_int_equal(d.addr[0], 127);
	assert_int_equal(d.addr[3], 2);
	assert_int_equal(d.first_seen, T0);
	assert_int_equal(d.last_seen, T0);
	assert_false(d.quarantined);
	assert_false(d.has_credentials);
	assert_int_equal(d.provisioned_at, 0);
	c_keyinfo(f, 1, &k);
	assert_int_equal(k.state, PP_KEY_IN_USE);
	assert_int_equal(k.use_count, 1);

	/* Steps: recorded, never lowered; a repeat is harmless. */
	assert_int_equal(pp_store_job_step(f->s, job, "w1", PP_STEP_READ, &err), 0);
	assert_int_equal(pp_store_job_step(f->s, job, "w1", PP_STEP_ACL, &err), 0);
	assert_int_equal(pp_store_job_step(f->s, job, "w1", PP_STEP_ACL, &err), 0);
	assert_int_equal(pp_store_job_step(f->s, job, "w1", PP_STEP_READ, &err), 0);
	c_job(f, job, &j);
	assert_int_equal(j.step, PP_STEP_ACL);
	assert_int_equal(pp_store_job_step(f->s, job, "w1", PP_STEP_DONE, &err), -PP_EINVAL);
	assert_int_equal(pp_store_job_step(f->s, job, "w1", PP_STEP_NONE, &err), -PP_EINVAL);
	assert_int_equal(pp_store_job_step(f->s, job, "w1", (enum pp_job_step)42, &err),
			 -PP_EINVAL);
	assert_int_equal(pp_store_job_step(f->s, job + 100, "w1", PP_STEP_MEBX, &err),
			 -PP_ENOTFOUND);
	assert_int_equal(pp_store_job_step(f->s, job, "", PP_STEP_MEBX, &err), -PP_EINVAL);
	assert_int_equal(pp_store_job_step(f->s, job, "has space", PP_STEP_MEBX, &err), -PP_EINVAL);

	/* Rotation before escrow: refused. */
	struct pp_pid np;
	struct pp_pps nps;
	assert_int_equal(pp_store_job_next_key(f->s, job, "w1", pid2, pps2, &np, &nps, &err),
			 -PP_ESTATE);
	c_expect_msg(&err, "escrow");

	/* Escrow; a repeat with other values gets the stored ones. */
	struct pp_device_secrets sec, again, got;
	c_escrow(f, 1, "Admin!Pass1", "NewMebx#1", &sec);
	assert_string_equal(sec.admin_password, "Admin!Pass1");
	c_escrow(f, 1, "Other!Pass2", "Other#2", &again);
	assert_string_equal(again.admin_user, "admin");
	assert_string_equal(again.admin_password, "Admin!Pass1");
	assert_string_equal(again.mebx_password, "NewMebx#1");
	assert_int_equal(pp_store_device_secrets(f->s, u, &got, &err), 0);
	assert_string_equal(got.admin_password, "Admin!Pass1");
	assert_string_equal(got.mebx_password, "NewMebx#1");
	c_device(f, 1, &d);
	assert_true(d.has_credentials);
	assert_int_equal(pp_store_job_step(f->s, job, "w1", PP_STEP_MEBX, &err), 0);

	/* Next key; a repeat returns the first and ignores the new candidate. */
	assert_int_equal(pp_store_job_next_key(f->s, job, "w1", pid2, pps2, &np, &nps, &err), 0);
	assert_string_equal(np.s, pid2);
	assert_string_equal(nps.s, pps2);
	memset(&np, 0, sizeof(np));
	memset(&nps, 0, sizeof(nps));
	assert_int_equal(pp_store_job_next_key(f->s, job, "w1", pid9, pps9, &np, &nps, &err), 0);
	assert_string_equal(np.s, pid2);
	assert_string_equal(nps.s, pps2);
	assert_int_equal(pp_store_job_next_key(f->s, job, "w1", NULL, NULL, &np, &nps, &err), 0);
	assert_string_equal(np.s, pid2);
	assert_int_equal(pp_store_key_get(f->s, pid9, &k, &err), -PP_ENOTFOUND);
	c_job(f, job, &j);
	assert_string_equal(j.next_pid, pid2);
	c_keyinfo(f, 2, &k);
	assert_int_equal(k.state, PP_KEY_IN_USE);
	assert_int_equal(k.max_devices, 1);
	assert_int_equal(k.use_count, 1);
	assert_string_equal(k.batch, "life");
	assert_false(k.derived);
	struct pp_pps kp;
	char kmebx[PP_STORE_MEBX_MAX + 1];
	assert_int_equal(pp_store_key_secrets(f->s, pid2, &kp, kmebx, sizeof(kmebx), &err), 0);
	assert_string_equal(kp.s, pps2);
	assert_string_equal(kmebx, "NewMebx#1");

	for (enum pp_job_step st = PP_STEP_PSK; st <= PP_STEP_COMMIT_SENT; st++)
		assert_int_equal(pp_store_job_step(f->s, job, "w1", st, &err), 0);
	c_job(f, job, &j);
	assert_int_equal(j.step, PP_STEP_COMMIT_SENT);

	/* Complete, then complete again: the same, once. */
	assert_int_equal(
	    pp_store_job_complete(f->s, job, "w1", "host-1", "example.org", T0 + 40, &err), 0);
	assert_int_equal(c_audit(f, "device.provisioned").n, 1);
	assert_int_equal(
	    pp_store_job_complete(f->s, job, "w1", "host-1", "example.org", T0 + 41, &err), 0);
	struct audit_find af = c_audit(f, "device.provisioned");
	assert_int_equal(af.n, 1);
	char ut[37];
	c_uuid_text(1, ut);
	assert_string_equal(af.subject, ut);
	assert_string_equal(af.actor, "w1");
	assert_non_null(strstr(af.detail, pid1));
	assert_non_null(strstr(af.detail, pid2));
	assert_null(strstr(af.detail, "Admin!Pass1"));

	c_job(f, job, &j);
	assert_int_equal(j.state, PP_JOB_DONE);
	assert_int_equal(j.step, PP_STEP_DONE);
	assert_int_equal(j.updated, T0 + 40);
	c_device(f, 1, &d);
	assert_int_equal(d.state, PP_DEV_PROVISIONED);
	assert_string_equal(d.host_name, "host-1");
	assert_string_equal(d.domain, "example.org");
	assert_int_equal(d.provisioned_at, T0 + 40);
	assert_string_equal(d.pid, pid2);
	assert_true(d.has_credentials);
	c_keyinfo(f, 1, &k);
	assert_int_equal(k.state, PP_KEY_CONSUMED);
	c_keyinfo(f, 2, &k);
	assert_int_equal(k.state, PP_KEY_IN_USE);

	/* After completion: steps, rotation and another owner's complete are refused. */
	assert_int_equal(pp_store_job_step(f->s, job, "w1", PP_STEP_TIME, &err), -PP_ESTATE);
	assert_int_equal(pp_store_job_next_key(f->s, job, "w1", pid9, pps9, &np, &nps, &err),
			 -PP_ESTATE);
	assert_int_equal(pp_store_job_complete(f->s, job, "w2", NULL, NULL, T0 + 42, &err),
			 -PP_ESTATE);
	assert_int_equal(pp_store_job_complete(f->s, job + 7, "w1", NULL, NULL, T0, &err),
			 -PP_ENOTFOUND);
	assert_int_equal(c_claim_n(f, "w2", T0 + 1000), 0);

	struct pp_store_counts c;
	assert_int_equal(pp_store_counts(f->s, &c, &err), 0);
	assert_int_equal(c.keys_by_state[PP_KEY_CONSUMED], 1);
	assert_int_equal(c.keys_by_state[PP_KEY_IN_USE], 1);
	assert_int_equal(c.devices_by_state[PP_DEV_PROVISIONED], 1);
	assert_int_equal(c.jobs_by_state[PP_JOB_DONE], 1);
	assert_int_equal(c.jobs_by_state[PP_JOB_RUNNING], 0);
	pp_wipe(&kp, sizeof(kp));
	pp_wipe(&nps, sizeof(nps));
}

/* A crashed owner: its lease ends, another claims, the first is refused. */
static void c_test_lease_expiry(void **state)
{
	struct fixture *f = *state;
	struct pp_err err = {0};
	int64_t b = c_batch(f, "lease", false, 0);
	c_key(f, b, 1, false, PP_KEY_EXPORTED, 0);
	c_key(f, b, 3, false, PP_KEY_EXPORTED, 0);
	int64_t job = 0;
	assert_int_equal(c_hello(f, 1, 1, &job), PP_HELLO_NEW_JOB);
	assert_int_equal(c_claim1(f, "A", T0, 30), job);
	assert_int_equal(pp_store_job_step(f->s, job, "A", PP_STEP_READ, &err), 0);
	assert_int_equal(pp_store_job_step(f->s, job, "A", PP_STEP_ACL, &err), 0);
	struct pp_device_secrets sec;
	c_escrow(f, 1, "Admin!Pass1", "NewMebx#1", &sec);

	/* Lease in the past: B takes it, resuming after A's last step. */
	assert_int_equal(c_claim_n(f, "B", T0 + 30), 0); /* lease_until < now, not <= */
	struct pp_job cl[1];
	size_t n = 0;
	assert_int_equal(pp_store_jobs_claim(f->s, "B", T0 + 31, 30, 1, cl, &n, &err), 0);
	assert_int_equal(n, 1);
	assert_int_equal(cl[0].id, job);
	assert_int_equal(cl[0].attempts, 2);
	assert_int_equal(cl[0].step, PP_STEP_ACL);
	assert_string_equal(cl[0].owner, "B");

	char pid2[9], pps2[33];
	c_pid(2, pid2);
	c_pps(2, pps2);
	struct pp_pid np;
	struct pp_pps nps;
	assert_int_equal(pp_store_job_step(f->s, job, "A", PP_STEP_MEBX, &err), -PP_ESTATE);
	c_expect_msg(&err, "lease lost");
	assert_int_equal(pp_store_job_complete(f->s, job, "A", "h", "d", T0 + 32, &err),
			 -PP_ESTATE);
	assert_int_equal(pp_store_job_retry(f->s, job, "A", T0 + 99, "x", &err), -PP_ESTATE);
	assert_int_equal(pp_store_job_fail(f->s, job, "A", "x", &err), -PP_ESTATE);
	assert_int_equal(pp_store_job_next_key(f->s, job, "A", pid2, pps2, &np, &nps, &err),
			 -PP_ESTATE);
	/* A's renewal does not take it back. */
	assert_int_equal(pp_store_jobs_renew(f->s, "A", T0 + 33, 300, &err), 0);
	struct pp_job j;
	c_job(f, job, &j);
	assert_string_equal(j.owner, "B");
	assert_int_equal(j.lease_until, T0 + 61);
	assert_int_equal(j.step, PP_STEP_ACL);
	assert_string_equal(j.next_pid, "");

	/* B finishes it. */
	assert_int_equal(pp_store_job_next_key(f->s, job, "B", pid2, pps2, &np, &nps, &err), 0);
	assert_int_equal(pp_store_job_complete(f->s, job, "B", "h", "d", T0 + 40, &err), 0);
	assert_int_equal(pp_store_job_complete(f->s, job, "A", "h", "d", T0 + 41, &err),
			 -PP_ESTATE);

	/* Renewal keeps a live owner's job: B's lease never runs out. */
	int64_t job2 = 0;
	assert_int_equal(c_hello(f, 3, 3, &job2), PP_HELLO_NEW_JOB);
	assert_int_equal(c_claim1(f, "A", T0 + 100, 30), job2);
	assert_int_equal(pp_store_jobs_renew(f->s, "A", T0 + 125, 30, &err), 0);
	assert_int_equal(c_claim_n(f, "B", T0 + 140), 0);
	assert_int_equal(pp_store_jobs_renew(f->s, "A", T0 + 150, 30, &err), 0);
	assert_int_equal(c_claim_n(f, "B", T0 + 170), 0);
	assert_int_equal(c_claim_n(f, "B", T0 + 181), 1);
	assert_int_equal(pp_store_jobs_renew(f->s, "A", T0 + 100, 0, &err), -PP_EINVAL);
	assert_int_equal(pp_store_jobs_claim(f->s, "A", T0, 0, 1, cl, &n, &err), -PP_EINVAL);
	assert_int_equal(pp_store_jobs_claim(f->s, "A", T0, 10, 0, cl, &n, &err), 0);
	assert_int_equal(n, 0);
	pp_wipe(&nps, sizeof(nps));
}

/* A hello binds nothing: one job per (UUID, address), a second address a second job
 * (a replayed hello never pulls a job away), no device row, the key untouched. */
static void c_test_hello_twice(void **state)
{
	struct fixture *f = *state;
	int64_t b = c_batch(f, "twice", false, 0);
	c_key(f, b, 1, false, PP_KEY_AVAILABLE, 0);
	int64_t j1 = 0, j2 = 0, j3 = 0;
	assert_int_equal(c_hello_at(f, 1, 1, 2, T0, &j1), PP_HELLO_NEW_JOB);
	assert_int_equal(c_hello_at(f, 1, 1, 2, T0 + 5, &j2), PP_HELLO_JOB_ACTIVE);
	assert_int_equal(j1, j2);
	assert_int_equal(c_hello_at(f, 1, 1, 9, T0 + 6, &j3), PP_HELLO_NEW_JOB);
	assert_true(j3 != j1);
	assert_int_equal(c_job_count(f, -1), 2);
	struct pp_job j;
	c_job(f, j1, &j);
	assert_int_equal(j.addr[3], 2);
	assert_int_equal(j.updated, T0 + 5);
	assert_false(j.bound);
	/* No device row, the key neither bound nor in use. */
	struct pp_device_info d;
	uint8_t u1[16];
	c_uuid(1, u1);
	struct pp_err err = {0};
	assert_int_equal(pp_store_device_get(f->s, u1, &d, &err), -PP_ENOTFOUND);
	struct pp_key_info k;
	c_keyinfo(f, 1, &k);
	assert_int_equal(k.state, PP_KEY_AVAILABLE);
	assert_int_equal(k.use_count, 0);
	/* While running, a hello from elsewhere leaves it where it is. */
	assert_int_equal(c_claim1(f, "w", T0 + 6, 60), j1);
	assert_int_equal(c_hello_at(f, 1, 1, 2, T0 + 7, &j2), PP_HELLO_JOB_ACTIVE);
	assert_int_equal(j2, j1);
	assert_int_equal(c_hello_at(f, 1, 1, 9, T0 + 7, &j2), PP_HELLO_JOB_ACTIVE);
	assert_int_equal(j2, j3);
	c_job(f, j1, &j);
	assert_int_equal(j.addr[3], 2);
	assert_int_equal(j.state, PP_JOB_RUNNING);
	assert_int_equal(pp_store_job_retry(f->s, j1, "w", T0 + 100, "no answer", &err), 0);
	assert_int_equal(c_hello_at(f, 1, 1, 2, T0 + 8, &j2), PP_HELLO_JOB_ACTIVE);
	assert_int_equal(j2, j1);
	assert_int_equal(c_job_count(f, -1), 2);
	/* Bad input. */
	struct pp_hello_in h = {.source = "hello", .now = T0};
	c_uuid(1, h.uuid);
	snprintf(h.pid, sizeof(h.pid), "abc");
	enum pp_hello_outcome o;
	assert_int_equal(pp_store_hello(f->s, &h, &o, NULL, &err), -PP_EINVAL);
	c_pid(1, h.pid);
	h.source = "udp";
	assert_int_equal(pp_store_hello(f->s, &h, &o, NULL, &err), -PP_EINVAL);
	h.source = "agent";
	assert_int_equal(pp_store_hello(f->s, &h, &o, NULL, &err), 0);
	assert_int_equal(o, PP_HELLO_NEW_JOB);
	assert_int_equal(pp_store_hello(f->s, NULL, &o, NULL, &err), -PP_EINVAL);
}

/* Forged hellos for one PID (random UUIDs, other addresses) keep at most
 * PP_STORE_UNPROVEN_PER_PID unproven jobs; a running or bound one is never dropped. */
static void c_test_unproven_bound(void **state)
{
	struct fixture *f = *state;
	struct pp_err err = {0};
	int64_t b = c_batch(f, "bound", false, 0);
	c_key(f, b, 1, false, PP_KEY_EXPORTED, 0);
	int64_t genuine = 0, j = 0;
	assert_int_equal(c_hello_at(f, 1, 1, 2, T0, &genuine), PP_HELLO_NEW_JOB);
	assert_int_equal(c_claim1(f, "w", T0, 60), genuine);
	for (unsigned i = 0; i < 50; i++)
		assert_int_equal(c_hello_at(f, 100 + i, 1, 5, T0 + 1 + i, &j), PP_HELLO_NEW_JOB);
	/* The running one and the four most recent forgeries. */
	assert_int_equal(c_job_count(f, -1), 1 + PP_STORE_UNPROVEN_PER_PID);
	struct pp_job jj;
	c_job(f, genuine, &jj);
	assert_int_equal(jj.state, PP_JOB_RUNNING);
	c_job(f, j, &jj);
	assert_int_equal(jj.state, PP_JOB_PENDING);
	assert_int_equal(pp_store_job_get(f->s, genuine + 1, &jj, &err), -PP_ENOTFOUND);
	/* Bound, it is the device's for good; forgeries go on being cut to the bound. */
	assert_int_equal(c_bind(f, genuine, "w", 1, NULL, NULL), 0);
	assert_int_equal(pp_store_job_retry(f->s, genuine, "w", T0 + 500, "later", &err), 0);
	for (unsigned i = 0; i < 10; i++)
		assert_int_equal(c_hello_at(f, 200 + i, 1, 6, T0 + 100 + i, &j),
				 PP_HELLO_SUSPECT_CLONE);
	c_job(f, genuine, &jj);
	assert_true(jj.bound);
	assert_int_equal(jj.state, PP_JOB_RETRY);
	assert_int_equal(c_job_count(f, -1), 1 + PP_STORE_UNPROVEN_PER_PID);
	/* No device rows for any of them. */
	struct pp_store_counts c;
	assert_int_equal(pp_store_counts(f->s, &c, &err), 0);
	assert_int_equal(c.devices_by_state[PP_DEV_CONFIGURING], 1);
	uint64_t total = 0;
	for (int i = 0; i < PP_DEV_STATE_MAX; i++)
		total += c.devices_by_state[i];
	assert_int_equal(total, 1);
}

/* Provisioned: the old key is a stale hello; the rotated one a new setup; another
 * device with the rotated key is a suspected clone, quarantined once it proves it. */
static void c_test_hello_after_provisioned(void **state)
{
	struct fixture *f = *state;
	struct pp_err err = {0};
	int64_t b = c_batch(f, "prov", false, 0);
	c_key(f, b, 1, false, PP_KEY_EXPORTED, 0);
	c_key(f, b, 5, false, PP_KEY_EXPORTED, 0);
	int64_t job = c_run_job(f, 1, 1, 2, "w");
	assert_int_equal(pp_store_job_complete(f->s, job, "w", "h1", "d", T0 + 10, &err), 0);
	struct pp_device_info d;
	c_device(f, 1, &d);
	int64_t seen = d.last_seen;

	int64_t j = -1;
	assert_int_equal(c_hello_at(f, 1, 1, 77, seen + 20, &j), PP_HELLO_ALREADY_PROVISIONED);
	assert_int_equal(j, 0);
	/* Any other good key too: a provisioned device keeps its escrow and state. */
	assert_int_equal(c_hello(f, 1, 5, &j), PP_HELLO_ALREADY_PROVISIONED);
	c_device(f, 1, &d);
	assert_int_equal(d.state, PP_DEV_PROVISIONED);
	assert_string_equal(d.host_name, "h1");
	assert_int_equal(d.addr[3], 2); /* a hello moves nothing */
	assert_int_equal(d.last_seen, seen + 20);
	struct pp_key_info k;
	c_keyinfo(f, 5, &k);
	assert_int_equal(k.state, PP_KEY_EXPORTED);

	/* Unprovisioned, back with the key it was given: a new setup. */
	int64_t job2 = 0;
	assert_int_equal(c_hello_at(f, 1, 2, 3, T0 + 30, &job2), PP_HELLO_NEW_JOB);
	assert_true(job2 > job);
	assert_int_equal(c_claim1(f, "w", T0 + 30, 60), job2);
	char name[64];
	assert_int_equal(c_bind(f, job2, "w", 1, "h1", name), 0);
	assert_string_equal(name, "h1"); /* its own name is no conflict */
	c_device(f, 1, &d);
	assert_int_equal(d.state, PP_DEV_CONFIGURING);
	assert_int_equal(d.addr[3], 3);
	char pid2[9], pid3[9], pps3[33];
	c_pid(2, pid2);
	c_pid(3, pid3);
	c_pps(3, pps3);
	assert_string_equal(d.pid, pid2);
	struct pp_pid np;
	struct pp_pps nps;
	assert_int_equal(pp_store_job_next_key(f->s, job2, "w", pid3, pps3, &np, &nps, &err), 0);
	assert_int_equal(pp_store_job_complete(f->s, job2, "w", "other", "d", T0 + 40, &err), 0);
	c_device(f, 1, &d);
	assert_string_equal(d.host_name, "h1"); /* the reserved name wins */
	c_keyinfo(f, 2, &k);
	assert_int_equal(k.state, PP_KEY_CONSUMED);
	c_keyinfo(f, 3, &k);
	assert_int_equal(k.state, PP_KEY_IN_USE);
	assert_int_equal(c_hello(f, 1, 2, &j), PP_HELLO_ALREADY_PROVISIONED);

	/* Another device with the consumed key, and with the rotated one: suspected, tried. */
	int64_t js = 0;
	assert_int_equal(c_hello_at(f, 2, 2, 4, T0 + 50, &j), PP_HELLO_SUSPECT_CLONE);
	assert_true(j > 0);
	assert_int_equal(c_hello_at(f, 2, 3, 5, T0 + 51, &js), PP_HELLO_SUSPECT_CLONE);
	assert_int_equal(c_audit(f, "device.quarantined").n, 0);
	assert_int_equal(c_claim1(f, "w", T0 + 52, 60), j);
	assert_int_equal(c_claim1(f, "w", T0 + 52, 60), js);
	/* It proves the rotated key: a clone. */
	assert_int_equal(c_bind(f, js, "w", 2, "h2", NULL), PP_STORE_BIND_CLONE);
	c_device(f, 2, &d);
	assert_int_equal(d.state, PP_DEV_QUARANTINED);
	assert_non_null(strstr(d.last_error, pid3));
	struct pp_job jj;
	c_job(f, js, &jj);
	assert_int_equal(jj.state, PP_JOB_FAILED);
	assert_int_equal(c_audit(f, "device.quarantined").n, 1);
	assert_int_equal(c_hello(f, 2, 3, &j), PP_HELLO_QUARANTINED);
	c_device(f, 1, &d);
	assert_int_equal(d.state, PP_DEV_PROVISIONED);
	pp_wipe(&nps, sizeof(nps));
}

struct note_seen {
	int n;
	struct pp_hello_note first, last;
};

static int c_note_cb(void *ctx, const struct pp_hello_note *n)
{
	struct note_seen *s = ctx;
	if (s->n++ == 0)
		s->first = *n;
	s->last = *n;
	return 0;
}

static struct note_seen c_notes(struct fixture *f, enum pp_hello_note_kind kind)
{
	struct note_seen s;
	struct pp_err err = {0};
	memset(&s, 0, sizeof(s));
	if (pp_store_hello_notes(f->s, kind, c_note_cb, &s, &err) < 0)
		fail_msg("notes: %s", err.msg);
	return s;
}

/* A hello cannot quarantine anyone; a device that proves a key that is another's is
 * quarantined and reported; a lie about the UUID is corrected by the proof. */
static void c_test_clone_quarantine(void **state)
{
	struct fixture *f = *state;
	struct pp_err err = {0};
	int64_t b = c_batch(f, "clone", false, 0);
	c_key(f, b, 1, false, PP_KEY_EXPORTED, 0);
	c_key(f, b, 2, false, PP_KEY_EXPORTED, 0);
	c_key(f, b, 3, false, PP_KEY_EXPORTED, 0);
	int64_t j1 = 0, j2 = 0, j = -1;
	/* A forged hello first (device 2 claims key 1), then the genuine device. */
	assert_int_equal(c_hello(f, 2, 1, &j2), PP_HELLO_NEW_JOB);
	assert_int_equal(c_hello(f, 1, 1, &j1), PP_HELLO_NEW_JOB);
	assert_int_equal(c_audit(f, "device.quarantined").n, 0);
	assert_int_equal(c_claim1(f, "w", T0, 60), j2);
	assert_int_equal(c_claim1(f, "w", T0, 60), j1);
	/* The genuine device proves it first. */
	char name[64];
	assert_int_equal(c_bind(f, j1, "w", 1, "host", name), 0);
	assert_string_equal(name, "host");
	assert_int_equal(c_bind(f, j1, "w", 1, "ignored", name), 0); /* idempotent */
	assert_string_equal(name, "host");
	struct pp_device_info d;
	c_device(f, 1, &d);
	assert_int_equal(d.state, PP_DEV_CONFIGURING);
	assert_string_equal(d.host_name, "host");
	struct pp_key_info k;
	c_keyinfo(f, 1, &k);
	assert_int_equal(k.use_count, 1);
	assert_int_equal(k.state, PP_KEY_IN_USE);
	/* Now device 2 is a suspected clone at hello; if it proves the key, a clone. */
	assert_int_equal(c_hello_at(f, 2, 1, 2, T0 + 1, &j), PP_HELLO_SUSPECT_CLONE);
	assert_int_equal(j, j2);
	struct note_seen ns = c_notes(f, PP_NOTE_SUSPECT_CLONE);
	assert_int_equal(ns.n, 1);
	char pid1[9], u1[37], u2[37], u5[37];
	c_pid(1, pid1);
	c_uuid_text(1, u1);
	c_uuid_text(2, u2);
	c_uuid_text(5, u5);
	assert_string_equal(ns.first.pid, pid1);
	assert_int_equal(c_bind(f, j2, "w", 2, "host", name), PP_STORE_BIND_CLONE);
	c_device(f, 2, &d);
	assert_int_equal(d.state, PP_DEV_QUARANTINED);
	assert_true(d.quarantined);
	assert_non_null(strstr(d.last_error, pid1));
	struct audit_find a = c_audit(f, "device.quarantined");
	assert_int_equal(a.n, 1);
	assert_string_equal(a.subject, u2);
	assert_non_null(strstr(a.detail, u1));
	assert_non_null(strstr(a.detail, u2));
	assert_non_null(strstr(a.detail, pid1));
	struct pp_job jj;
	c_job(f, j2, &jj);
	assert_int_equal(jj.state, PP_JOB_FAILED);
	assert_int_equal(pp_store_job_step(f->s, j2, "w", PP_STEP_READ, &err), -PP_ESTATE);
	/* The first device is untouched. */
	c_device(f, 1, &d);
	assert_int_equal(d.state, PP_DEV_CONFIGURING);
	assert_false(d.quarantined);
	c_keyinfo(f, 1, &k);
	assert_int_equal(k.use_count, 1);
	/* Quarantine sticks, whatever the key; no job, no new audit entry, no escrow. */
	assert_int_equal(c_hello(f, 2, 1, &j), PP_HELLO_QUARANTINED);
	assert_int_equal(j, 0);
	assert_int_equal(c_hello(f, 2, 2, &j), PP_HELLO_QUARANTINED);
	c_keyinfo(f, 2, &k);
	assert_int_equal(k.state, PP_KEY_EXPORTED);
	assert_int_equal(k.use_count, 0);
	assert_int_equal(c_audit(f, "device.quarantined").n, 1);
	struct pp_device_secrets sec = {
	    .admin_user = "admin", .admin_password = "pw", .mebx_password = "Mebx#1"};
	uint8_t u2b[16];
	c_uuid(2, u2b);
	assert_int_equal(pp_store_device_escrow(f->s, u2b, &sec, &err), -PP_EPERM);

	/* A hello that lies about the UUID: the device proves key 3 as device 3. */
	int64_t j5 = 0;
	assert_int_equal(c_hello(f, 5, 3, &j5), PP_HELLO_NEW_JOB);
	assert_int_equal(c_claim1(f, "w", T0 + 2, 60), j5);
	assert_int_equal(c_bind(f, j5, "w", 3, NULL, name), 0);
	assert_string_equal(name, "");
	c_job(f, j5, &jj);
	uint8_t u3b[16];
	c_uuid(3, u3b);
	assert_memory_equal(jj.uuid, u3b, 16);
	assert_true(jj.bound);
	a = c_audit(f, "job.uuid-corrected");
	assert_int_equal(a.n, 1);
	assert_non_null(strstr(a.detail, u5));
	uint8_t u5b[16];
	c_uuid(5, u5b);
	assert_int_equal(pp_store_device_get(f->s, u5b, &d, &err), -PP_ENOTFOUND);
	struct pp_store_counts c;
	assert_int_equal(pp_store_counts(f->s, &c, &err), 0);
	assert_int_equal(c.devices_by_state[PP_DEV_QUARANTINED], 1);
	assert_int_equal(c.devices_by_state[PP_DEV_CONFIGURING], 2);

	/* A clone after the first setup: the key consumed, another UUID proves it. */
	assert_int_equal(pp_store_job_complete(f->s, j1, "w", NULL, NULL, T0 + 3, &err), 0);
	c_keyinfo(f, 1, &k);
	assert_int_equal(k.state, PP_KEY_CONSUMED);
	int64_t j4 = 0;
	assert_int_equal(c_hello_at(f, 4, 1, 2, T0 + 4, &j4), PP_HELLO_SUSPECT_CLONE);
	assert_int_equal(c_claim1(f, "w", T0 + 4, 60), j4);
	/* Found by the step READ (bound to the job's own UUID), inside a caller's batch:
	 * the quarantine is kept when the savepoint is released. */
	assert_int_equal(pp_store_begin(f->s, &err), 0);
	assert_int_equal(pp_store_savepoint(f->s, &err), 0);
	assert_int_equal(pp_store_job_step(f->s, j4, "w", PP_STEP_READ, &err), PP_STORE_BIND_CLONE);
	c_expect_msg(&err, "quarantined");
	assert_int_equal(pp_store_savepoint_release(f->s, &err), 0);
	assert_int_equal(pp_store_commit(f->s, &err), 0);
	c_device(f, 4, &d);
	assert_int_equal(d.state, PP_DEV_QUARANTINED);
	c_job(f, j4, &jj);
	assert_int_equal(jj.step, PP_STEP_NONE);
	assert_int_equal(c_audit(f, "device.quarantined").n, 2);
	ns = c_notes(f, PP_NOTE_SUSPECT_CLONE);
	assert_true(ns.n >= 2);
	c_device(f, 1, &d);
	assert_int_equal(d.state, PP_DEV_PROVISIONED);
	/* Refusals: a job not held, a bound job for another device. */
	assert_int_equal(c_bind(f, j1, "w", 1, NULL, NULL), -PP_ESTATE);
	assert_int_equal(pp_store_job_bind(f->s, j5, "w", u5b, NULL, NULL, T0, &err), -PP_ESTATE);
	assert_int_equal(pp_store_job_bind(f->s, j5, "w", NULL, NULL, NULL, T0, &err), -PP_EINVAL);
	assert_int_equal(pp_store_job_bind(f->s, j5, "w", u3b, "bad name", NULL, T0, &err),
			 -PP_EINVAL);
	assert_int_equal(pp_store_job_bind(f->s, 9999, "w", u3b, NULL, NULL, T0, &err),
			 -PP_ENOTFOUND);
}

/* A shared key: distinct devices up to its limit, each with a unique host name;
 * consumed when all are provisioned; one more that proves it is quarantined. */
static void c_test_shared_limit(void **state)
{
	struct fixture *f = *state;
	struct pp_err err = {0};
	int64_t b = c_batch(f, "shared", false, 5);
	c_key(f, b, 1, false, PP_KEY_EXPORTED, 3);
	int64_t jobs[4] = {0};
	char names[3][64];
	for (unsigned i = 0; i < 3; i++) {
		assert_int_equal(c_hello(f, i + 1, 1, &jobs[i]), PP_HELLO_NEW_JOB);
		assert_int_equal(c_claim1(f, "w", T0, 60), jobs[i]);
		assert_int_equal(c_bind(f, jobs[i], "w", i + 1, "pc", names[i]), 0);
	}
	char u1[37];
	c_uuid_text(1, u1);
	char want[64];
	assert_string_equal(names[0], "pc");
	snprintf(want, sizeof(want), "pc-%.8s", u1);
	assert_string_equal(names[1], want);
	snprintf(want, sizeof(want), "pc-%.8s-2", u1);
	assert_string_equal(names[2], want);
	struct pp_key_info k;
	c_keyinfo(f, 1, &k);
	assert_int_equal(k.use_count, 3);
	assert_true(k.shared);
	/* Known devices come back freely; a fourth is suspected, and a clone once proven. */
	int64_t j = 0;
	assert_int_equal(c_hello(f, 2, 1, &j), PP_HELLO_JOB_ACTIVE);
	assert_int_equal(j, jobs[1]);
	assert_int_equal(c_hello(f, 4, 1, &jobs[3]), PP_HELLO_SUSPECT_CLONE);
	assert_int_equal(c_claim1(f, "w", T0, 60), jobs[3]);
	assert_int_equal(c_bind(f, jobs[3], "w", 4, "pc", NULL), PP_STORE_BIND_CLONE);
	struct audit_find a = c_audit(f, "device.quarantined");
	assert_int_equal(a.n, 1);
	assert_non_null(strstr(a.detail, "limit"));
	char u4[37];
	c_uuid_text(4, u4);
	assert_non_null(strstr(a.detail, u4));
	c_keyinfo(f, 1, &k);
	assert_int_equal(k.use_count, 3);

	/* Provisioning: in-use until the third device is done; the reserved names stay. */
	for (unsigned i = 0; i < 3; i++) {
		assert_int_equal(
		    pp_store_job_complete(f->s, jobs[i], "w", "pc", NULL, T0 + 1, &err), 0);
		c_keyinfo(f, 1, &k);
		assert_int_equal(k.state, i < 2 ? PP_KEY_IN_USE : PP_KEY_CONSUMED);
		struct pp_device_info d;
		c_device(f, i + 1, &d);
		assert_int_equal(d.state, PP_DEV_PROVISIONED);
		assert_string_equal(d.host_name, names[i]);
	}
}

/* Unknown PIDs leave a bounded sample, never a row each; keys that may not be used. */
static void c_test_unknown_and_unusable(void **state)
{
	struct fixture *f = *state;
	struct pp_err err = {0};
	int64_t b = c_batch(f, "unusable", false, 0);
	c_key(f, b, 1, false, PP_KEY_EXPORTED, 0);
	c_key(f, b, 2, false, PP_KEY_AVAILABLE, 0);
	c_key(f, b, 3, false, PP_KEY_AVAILABLE, 0);
	char pid1[9], pid2[9];
	c_pid(1, pid1);
	c_pid(2, pid2);
	assert_int_equal(pp_store_key_set_state(f->s, pid1, PP_KEY_REVOKED, &err), 0);
	assert_int_equal(pp_store_key_set_state(f->s, pid2, PP_KEY_EXPIRED, &err), 0);

	int64_t j = -1;
	assert_int_equal(c_hello(f, 1, 999, &j), PP_HELLO_UNKNOWN_PID);
	assert_int_equal(j, 0);
	assert_int_equal(c_hello_at(f, 1, 999, 2, T0 + 1, &j), PP_HELLO_UNKNOWN_PID);
	struct pp_device_info d;
	uint8_t u1[16];
	c_uuid(1, u1);
	assert_int_equal(pp_store_device_get(f->s, u1, &d, &err), -PP_ENOTFOUND);
	struct note_seen ns = c_notes(f, PP_NOTE_UNKNOWN_PID);
	assert_int_equal(ns.n, 1);
	char pid999[9];
	c_pid(999, pid999);
	assert_string_equal(ns.first.pid, pid999);
	assert_int_equal(ns.first.count, 2);
	assert_int_equal(ns.first.first_seen, T0);
	assert_int_equal(ns.first.last_seen, T0 + 1);
	assert_memory_equal(ns.first.uuid, u1, 16);
	assert_int_equal(c_hello(f, 2, 1, &j), PP_HELLO_KEY_UNUSABLE);
	assert_int_equal(c_hello(f, 3, 2, &j), PP_HELLO_KEY_UNUSABLE);
	struct pp_key_info k;
	c_keyinfo(f, 1, &k);
	assert_int_equal(k.state, PP_KEY_REVOKED);
	assert_int_equal(k.use_count, 0);
	assert_int_equal(c_job_count(f, -1), 0);
	/* A good key gets a job. */
	assert_int_equal(c_hello(f, 1, 3, &j), PP_HELLO_NEW_JOB);
	/* Revoked meanwhile: hellos refused, and the job cannot be bound. */
	char pid3[9];
	c_pid(3, pid3);
	assert_int_equal(c_claim1(f, "w", T0, 60), j);
	assert_int_equal(pp_store_key_set_state(f->s, pid3, PP_KEY_REVOKED, &err), 0);
	int64_t j2 = -1;
	assert_int_equal(c_hello(f, 1, 3, &j2), PP_HELLO_KEY_UNUSABLE);
	assert_int_equal(j2, 0);
	assert_int_equal(c_bind(f, j, "w", 1, NULL, NULL), -PP_ESTATE);
	/* An unknown-PID flood: the sample stays at its bound, newest first; no rows. */
	for (unsigned i = 0; i < 3 * PP_STORE_NOTES_MAX; i++)
		assert_int_equal(c_hello_at(f, 500 + i, 5000 + i, 7, T0 + 10 + i, NULL),
				 PP_HELLO_UNKNOWN_PID);
	ns = c_notes(f, PP_NOTE_UNKNOWN_PID);
	assert_int_equal(ns.n, PP_STORE_NOTES_MAX);
	char newest[9], oldest[9];
	c_pid(5000 + 3 * PP_STORE_NOTES_MAX - 1, newest);
	c_pid(5000 + 2 * PP_STORE_NOTES_MAX, oldest);
	assert_string_equal(ns.first.pid, newest);
	assert_string_equal(ns.last.pid, oldest);
	struct pp_store_counts c;
	assert_int_equal(pp_store_counts(f->s, &c, &err), 0);
	for (int i = 0; i < PP_DEV_STATE_MAX; i++)
		assert_int_equal(c.devices_by_state[i], 0);
	assert_int_equal(pp_store_hello_notes(f->s, PP_NOTE_KIND_MAX, c_note_cb, &ns, &err),
			 -PP_EINVAL);
}

/* Handshake failures lock a (PID, address) pair, not the key: forged hellos naming
 * another address cannot lock the genuine device out. Time unlocks; success resets. */
static void c_test_lockout(void **state)
{
	struct fixture *f = *state;
	struct pp_err err = {0};
	int64_t b = c_batch(f, "lock", false, 0);
	c_key(f, b, 1, false, PP_KEY_EXPORTED, 0);
	char pid[9], nope[9];
	c_pid(1, pid);
	c_pid(77, nope);
	/* c_hello_at(dev 1, octet n) comes from 127.0.1.n. */
	const uint8_t bad[4] = {127, 0, 1, 66}, good[4] = {127, 0, 1, 2};
	for (int i = 0; i < 2; i++)
		assert_int_equal(pp_store_key_failure(f->s, pid, bad, T0, 3, 60, &err), 0);
	struct pp_key_info k;
	c_keyinfo(f, 1, &k);
	assert_int_equal(k.failure_count, 2);
	assert_int_equal(k.locked_until, 0);
	int64_t j = 0, jg = 0;
	assert_int_equal(c_hello_at(f, 1, 1, 66, T0 + 1, &j), PP_HELLO_NEW_JOB);
	assert_int_equal(pp_store_key_failure(f->s, pid, bad, T0 + 2, 3, 60, &err), 0);
	c_keyinfo(f, 1, &k);
	assert_int_equal(k.failure_count, 3);
	assert_int_equal(k.locked_until, T0 + 62);
	assert_int_equal(c_hello_at(f, 1, 1, 66, T0 + 3, &j), PP_HELLO_KEY_UNUSABLE);
	/* The same PID and UUID from the device's own address: not locked. */
	assert_int_equal(c_hello_at(f, 1, 1, 2, T0 + 3, &jg), PP_HELLO_NEW_JOB);
	assert_int_equal(pp_store_key_failure(f->s, pid, good, T0 + 3, 3, 60, &err), 0);
	assert_int_equal(c_hello_at(f, 1, 1, 2, T0 + 4, &j), PP_HELLO_JOB_ACTIVE);
	assert_int_equal(j, jg);
	assert_int_equal(c_hello_at(f, 1, 1, 66, T0 + 62, &j), PP_HELLO_JOB_ACTIVE);
	/* One more failure after the lock: locked again at once. */
	assert_int_equal(pp_store_key_failure(f->s, pid, bad, T0 + 70, 3, 60, &err), 0);
	c_keyinfo(f, 1, &k);
	assert_int_equal(k.locked_until, T0 + 130);
	assert_int_equal(c_hello_at(f, 1, 1, 66, T0 + 71, &j), PP_HELLO_KEY_UNUSABLE);
	/* A flood of failures from many addresses: each pair is its own, the genuine
	 * address stays open. */
	for (unsigned i = 0; i < 3 * PP_STORE_PAIRS_MAX; i++) {
		const uint8_t a[4] = {127, 9, (uint8_t)(i >> 8), (uint8_t)i};
		for (int n = 0; n < 3; n++)
			assert_int_equal(pp_store_key_failure(f->s, pid, a, T0 + 80, 3, 60, &err),
					 0);
	}
	assert_int_equal(c_hello_at(f, 1, 1, 2, T0 + 81, &j), PP_HELLO_JOB_ACTIVE);
	/* A success ends it. */
	assert_int_equal(pp_store_key_success(f->s, pid, &err), 0);
	c_keyinfo(f, 1, &k);
	assert_int_equal(k.failure_count, 0);
	assert_int_equal(k.locked_until, 0);
	assert_int_equal(c_hello_at(f, 1, 1, 66, T0 + 82, &j), PP_HELLO_JOB_ACTIVE);
	/* Refusals. */
	assert_int_equal(pp_store_key_failure(f->s, nope, bad, T0, 3, 60, &err), -PP_ENOTFOUND);
	assert_int_equal(pp_store_key_success(f->s, nope, &err), -PP_ENOTFOUND);
	assert_int_equal(pp_store_key_failure(f->s, pid, bad, T0, 0, 60, &err), -PP_EINVAL);
	assert_int_equal(pp_store_key_failure(f->s, "bad", bad, T0, 3, 60, &err), -PP_EINVAL);
	assert_int_equal(pp_store_key_failure(f->s, pid, NULL, T0, 3, 60, &err), -PP_EINVAL);
}

/* Group commit: one transaction, each operation in a savepoint. A rolled-back one
 * leaves nothing; the others commit. */
static void c_test_savepoints(void **state)
{
	struct fixture *f = *state;
	struct pp_err err = {0};
	int64_t b = c_batch(f, "sp", false, 0);
	for (unsigned long i = 1; i <= 4; i++)
		c_key(f, b, i, false, PP_KEY_EXPORTED, 0);

	assert_int_equal(pp_store_savepoint(f->s, &err), -PP_ESTATE);
	assert_int_equal(pp_store_savepoint_release(f->s, &err), -PP_ESTATE);
	assert_int_equal(pp_store_begin(f->s, &err), 0);
	assert_int_equal(pp_store_savepoint_rollback(f->s, &err), -PP_ESTATE);

	assert_int_equal(pp_store_savepoint(f->s, &err), 0);
	assert_int_equal(c_hello(f, 1, 1, NULL), PP_HELLO_NEW_JOB);
	assert_int_equal(pp_store_savepoint_release(f->s, &err), 0);

	assert_int_equal(pp_store_savepoint(f->s, &err), 0);
	assert_int_equal(c_hello(f, 2, 2, NULL), PP_HELLO_NEW_JOB);
	assert_int_equal(pp_store_audit_append(f->s, "t", "t.undone", NULL, NULL, &err), 0);
	/* Nested savepoints: the inner one kept, the outer rolled back with it. */
	assert_int_equal(pp_store_savepoint(f->s, &err), 0);
	assert_int_equal(c_hello(f, 3, 3, NULL), PP_HELLO_NEW_JOB);
	assert_int_equal(pp_store_savepoint_release(f->s, &err), 0);
	assert_int_equal(pp_store_savepoint_rollback(f->s, &err), 0);

	/* An operation failing on its own leaves the transaction usable. */
	char pid1[9], pps1[33];
	c_pid(1, pid1);
	c_pps(1, pps1);
	int64_t j1 = 0;
	j1 = c_claim1(f, "w", T0, 60);
	assert_int_equal(c_bind(f, j1, "w", 1, NULL, NULL), 0);
	struct pp_device_secrets sec;
	c_escrow(f, 1, "Admin!Pass1", "NewMebx#1", &sec);
	struct pp_pid np;
	struct pp_pps nps;
	assert_int_equal(pp_store_job_next_key(f->s, j1, "w", pid1, pps1, &np, &nps, &err),
			 -PP_EEXIST);
	assert_int_equal(pp_store_savepoint(f->s, &err), 0);
	assert_int_equal(c_hello(f, 4, 4, NULL), PP_HELLO_NEW_JOB);
	assert_int_equal(pp_store_savepoint_release(f->s, &err), 0);
	assert_int_equal(pp_store_commit(f->s, &err), 0);
	assert_int_equal(pp_store_savepoint(f->s, &err), -PP_ESTATE);

	struct pp_device_info d;
	uint8_t u[16];
	c_device(f, 1, &d);
	assert_true(d.has_credentials);
	for (unsigned dev = 2; dev <= 4; dev++) {
		c_uuid(dev, u);
		assert_int_equal(pp_store_device_get(f->s, u, &d, &err), -PP_ENOTFOUND);
	}
	struct pp_key_info k;
	c_keyinfo(f, 2, &k);
	assert_int_equal(k.state, PP_KEY_EXPORTED);
	assert_int_equal(k.use_count, 0);
	c_keyinfo(f, 3, &k);
	assert_int_equal(k.state, PP_KEY_EXPORTED);
	c_keyinfo(f, 1, &k);
	assert_int_equal(k.use_count, 1);
	assert_int_equal(c_job_count(f, -1), 2);
	assert_int_equal(c_audit(f, "t.undone").n, 0);
	struct pp_job jj;
	c_job(f, j1, &jj);
	assert_string_equal(jj.next_pid, "");
	assert_int_equal(jj.state, PP_JOB_RUNNING);
	/* The same devices again, outside any transaction. */
	assert_int_equal(c_hello(f, 2, 2, NULL), PP_HELLO_NEW_JOB);
	/* A transaction rolled back with savepoints open ends them all. */
	assert_int_equal(pp_store_begin(f->s, &err), 0);
	assert_int_equal(pp_store_savepoint(f->s, &err), 0);
	assert_int_equal(c_hello(f, 3, 3, NULL), PP_HELLO_NEW_JOB);
	assert_int_equal(pp_store_rollback(f->s, &err), 0);
	assert_int_equal(pp_store_savepoint_release(f->s, &err), -PP_ESTATE);
	c_uuid(3, u);
	assert_int_equal(pp_store_device_get(f->s, u, &d, &err), -PP_ENOTFOUND);
}

/* A write that fails at its last statement leaves nothing of its earlier ones, alone
 * and inside a caller's transaction. */
static void c_test_atomic_failure(void **state)
{
	struct fixture *f = *state;
	struct pp_err err = {0};
	int64_t b = c_batch(f, "atomic", false, 0);
	c_key(f, b, 1, false, PP_KEY_EXPORTED, 0);
	c_key(f, b, 3, false, PP_KEY_EXPORTED, 0);
	int64_t job = c_run_job(f, 1, 1, 2, "w");

	backend_inject_audit_failure(f, true);
	assert_true(pp_store_job_complete(f->s, job, "w", "h", "d", T0 + 5, &err) < 0);
	struct pp_job j;
	c_job(f, job, &j);
	assert_int_equal(j.state, PP_JOB_RUNNING);
	assert_int_equal(j.step, PP_STEP_COMMIT_SENT);
	struct pp_device_info d;
	c_device(f, 1, &d);
	assert_int_equal(d.state, PP_DEV_CONFIGURING);
	struct pp_key_info k;
	c_keyinfo(f, 1, &k);
	assert_int_equal(k.state, PP_KEY_IN_USE);

	/* In a transaction: the failed call is undone, the rest commits. */
	assert_int_equal(pp_store_begin(f->s, &err), 0);
	assert_int_equal(c_hello(f, 3, 3, NULL), PP_HELLO_NEW_JOB);
	assert_true(pp_store_job_complete(f->s, job, "w", "h", "d", T0 + 6, &err) < 0);
	assert_int_equal(pp_store_job_step(f->s, job, "w", PP_STEP_COMMIT_SENT, &err), 0);
	assert_int_equal(pp_store_commit(f->s, &err), 0);
	backend_inject_audit_failure(f, false);
	c_job(f, job, &j);
	assert_int_equal(j.state, PP_JOB_RUNNING);
	assert_int_equal(c_job_count(f, PP_JOB_PENDING), 1);
	c_device(f, 1, &d);
	assert_int_equal(d.state, PP_DEV_CONFIGURING);

	assert_int_equal(pp_store_job_complete(f->s, job, "w", "h", "d", T0 + 7, &err), 0);
	c_device(f, 1, &d);
	assert_int_equal(d.state, PP_DEV_PROVISIONED);
	uint64_t n = 0;
	assert_int_equal(pp_store_audit_verify(f->s, &n, &err), 0);
}

/* The rotated PID: accepted from its device, a clone from any other. */
static void c_test_rotated_pid(void **state)
{
	struct fixture *f = *state;
	struct pp_err err = {0};
	int64_t b = c_batch(f, "rot", false, 0);
	c_key(f, b, 1, false, PP_KEY_EXPORTED, 0);
	int64_t job = c_run_job(f, 1, 1, 2, "w");
	int64_t j = 0;
	/* Mid-configuration, the device answers with either PID. */
	assert_int_equal(c_hello_at(f, 1, 2, 2, T0 + 1, &j), PP_HELLO_JOB_ACTIVE);
	assert_int_equal(j, job);
	assert_int_equal(c_hello_at(f, 1, 1, 2, T0 + 2, &j), PP_HELLO_JOB_ACTIVE);
	assert_int_equal(j, job);
	struct pp_key_info k;
	c_keyinfo(f, 2, &k);
	assert_int_equal(k.use_count, 1);
	/* Another device with it is a suspected clone, not a second setup. */
	int64_t js = 0;
	assert_int_equal(c_hello(f, 5, 2, &js), PP_HELLO_SUSPECT_CLONE);
	assert_int_equal(c_audit(f, "device.quarantined").n, 0);
	char pid2[9];
	c_pid(2, pid2);
	struct note_seen ns = c_notes(f, PP_NOTE_SUSPECT_CLONE);
	assert_int_equal(ns.n, 1);
	assert_string_equal(ns.first.pid, pid2);
	/* Crash after the rotation: the new owner resumes with the stored key. */
	assert_int_equal(c_claim_n(f, "w2", T0 + 61), 2);
	struct pp_pid np;
	struct pp_pps nps;
	char pid3[9], pps3[33], pps2[33];
	c_pid(3, pid3);
	c_pps(3, pps3);
	c_pps(2, pps2);
	assert_int_equal(pp_store_job_next_key(f->s, job, "w2", pid3, pps3, &np, &nps, &err), 0);
	assert_string_equal(np.s, pid2);
	assert_string_equal(nps.s, pps2);
	assert_int_equal(pp_store_job_complete(f->s, job, "w2", "h", "d", T0 + 62, &err), 0);
	struct pp_device_info d;
	c_device(f, 1, &d);
	assert_string_equal(d.pid, pid2);
	pp_wipe(&nps, sizeof(nps));
}

/* Retry, then final failure, then a new hello starts again. */
static void c_test_retry_and_fail(void **state)
{
	struct fixture *f = *state;
	struct pp_err err = {0};
	int64_t b = c_batch(f, "retry", false, 0);
	c_key(f, b, 1, false, PP_KEY_EXPORTED, 0);
	int64_t job = 0;
	assert_int_equal(c_hello(f, 1, 1, &job), PP_HELLO_NEW_JOB);
	assert_int_equal(c_claim1(f, "w", T0, 60), job);
	assert_int_equal(pp_store_job_step(f->s, job, "w", PP_STEP_READ, &err), 0);
	assert_int_equal(
	    pp_store_job_retry(f->s, job, "w", T0 + 100, "connect: refused\n\x1b[31m", &err), 0);
	struct pp_job j;
	c_job(f, job, &j);
	assert_int_equal(j.state, PP_JOB_RETRY);
	assert_string_equal(j.owner, "");
	assert_int_equal(j.lease_until, 0);
	assert_int_equal(j.next_attempt_at, T0 + 100);
	assert_string_equal(j.last_error, "connect: refused??[31m");
	/* Bytes that are not UTF-8 (a lone continuation, an overlong form, a surrogate)
	 * are replaced; real UTF-8 is kept. */
	assert_int_equal(c_claim1(f, "w", T0 + 100, 60), job);
	assert_int_equal(pp_store_job_retry(f->s, job, "w", T0 + 100,
					    "a\x80"
					    "b\xc0\xaf"
					    "c\xed\xa0\x80"
					    "d\xc3\xa9",
					    &err),
			 0);
	c_job(f, job, &j);
	assert_string_equal(j.last_error, "a?b??c???d\xc3\xa9");
	assert_int_equal(j.step, PP_STEP_READ);
	assert_int_equal(pp_store_job_step(f->s, job, "w", PP_STEP_ACL, &err), -PP_ESTATE);
	assert_int_equal(c_claim_n(f, "w", T0 + 99), 0);
	assert_int_equal(c_claim1(f, "w", T0 + 100, 60), job);
	c_job(f, job, &j);
	assert_int_equal(j.attempts, 3);
	assert_int_equal(j.step, PP_STEP_READ);

	/* A long reason is cut, never inside a UTF-8 sequence. */
	char reason[400];
	memset(reason, 'x', sizeof(reason));
	memcpy(reason + 198, "\xc3\xa9\xc3\xa9", 4);
	reason[sizeof(reason) - 1] = '\0';
	assert_int_equal(pp_store_job_fail(f->s, job, "w", reason, &err), 0);
	c_job(f, job, &j);
	assert_int_equal(j.state, PP_JOB_FAILED);
	assert_int_equal(strlen(j.last_error), 198); /* the cut falls inside the second é */
	assert_int_equal((unsigned char)j.last_error[197], 'x');
	assert_int_equal(pp_store_job_retry(f->s, job, "w", T0, "x", &err), -PP_ESTATE);
	assert_int_equal(pp_store_job_fail(f->s, job, "w", "again", &err), -PP_ESTATE);
	struct pp_device_info d;
	c_device(f, 1, &d);
	assert_int_equal(d.state, PP_DEV_FAILED);
	assert_string_equal(d.last_error, j.last_error);
	struct audit_find a = c_audit(f, "job.failed");
	assert_int_equal(a.n, 1);
	assert_string_equal(a.actor, "w");
	/* Keys stay with the device; a new hello makes a new job. */
	struct pp_key_info k;
	c_keyinfo(f, 1, &k);
	assert_int_equal(k.state, PP_KEY_IN_USE);
	int64_t job2 = 0;
	assert_int_equal(c_hello(f, 1, 1, &job2), PP_HELLO_NEW_JOB);
	assert_true(job2 != job);
	c_device(f, 1, &d);
	assert_int_equal(d.state, PP_DEV_FAILED); /* until the device proves the key again */
	assert_int_equal(c_job_count(f, PP_JOB_FAILED), 1);
	assert_int_equal(c_job_count(f, PP_JOB_PENDING), 1);
}

/* Escrow and rotation refusals; rotation in a derived batch. */
static void c_test_escrow_and_rotation_errors(void **state)
{
	struct fixture *f = *state;
	struct pp_err err = {0};
	int64_t b = c_batch(f, "esc", true, 0);
	c_key(f, b, 1, true, PP_KEY_EXPORTED, 0);
	c_key(f, b, 4, true, PP_KEY_EXPORTED, 0);
	uint8_t u[16];
	c_uuid(9, u);
	struct pp_device_secrets sec;
	memset(&sec, 0, sizeof(sec));
	snprintf(sec.admin_user, sizeof(sec.admin_user), "admin");
	snprintf(sec.admin_password, sizeof(sec.admin_password), "Pw!1234567");
	snprintf(sec.mebx_password, sizeof(sec.mebx_password), "Mebx!123");
	assert_int_equal(pp_store_device_escrow(f->s, u, &sec, &err), -PP_ENOTFOUND);
	assert_int_equal(pp_store_device_secrets(f->s, u, &sec, &err), -PP_ENOTFOUND);

	int64_t job = 0;
	assert_int_equal(c_hello(f, 1, 1, &job), PP_HELLO_NEW_JOB);
	c_uuid(1, u);
	/* No escrow before a device proved the key. */
	assert_int_equal(pp_store_device_escrow(f->s, u, &sec, &err), -PP_ENOTFOUND);
	assert_int_equal(c_claim1(f, "w", T0, 60), job);
	assert_int_equal(c_bind(f, job, "w", 1, NULL, NULL), 0);
	assert_int_equal(pp_store_device_secrets(f->s, u, &sec, &err), -PP_ENOTFOUND);
	struct pp_device_secrets bad = sec;
	bad.admin_password[0] = '\0';
	assert_int_equal(pp_store_device_escrow(f->s, u, &bad, &err), -PP_EINVAL);
	bad = sec;
	snprintf(bad.mebx_password, sizeof(bad.mebx_password), "has space");
	assert_int_equal(pp_store_device_escrow(f->s, u, &bad, &err), -PP_EINVAL);
	assert_null(strstr(err.msg, "has space"));
	bad = sec;
	bad.admin_user[0] = '\0';
	assert_int_equal(pp_store_device_escrow(f->s, u, &bad, &err), -PP_EINVAL);
	assert_int_equal(pp_store_device_escrow(f->s, u, NULL, &err), -PP_EINVAL);

	char pid1[9], pid2[9], pps2[33];
	c_pid(1, pid1);
	c_pid(2, pid2);
	c_pps(2, pps2);
	struct pp_pid np;
	struct pp_pps nps;
	assert_int_equal(pp_store_job_next_key(f->s, job, "w", pid2, pps2, &np, &nps, &err),
			 -PP_ESTATE);
	assert_int_equal(pp_store_device_escrow(f->s, u, &sec, &err), 0);
	/* A PID already in the store: draw again. */
	assert_int_equal(pp_store_job_next_key(f->s, job, "w", pid1, pps2, &np, &nps, &err),
			 -PP_EEXIST);
	char pid4[9];
	c_pid(4, pid4);
	assert_int_equal(pp_store_job_next_key(f->s, job, "w", pid4, pps2, &np, &nps, &err),
			 -PP_EEXIST);
	assert_int_equal(pp_store_job_next_key(f->s, job, "w", "bad", pps2, &np, &nps, &err),
			 -PP_EINVAL);
	assert_int_equal(pp_store_job_next_key(f->s, job, "w", pid2, "short", &np, &nps, &err),
			 -PP_EINVAL);
	assert_int_equal(pp_store_job_next_key(f->s, job, "w", pid2, NULL, &np, &nps, &err),
			 -PP_EINVAL);
	struct pp_job j;
	c_job(f, job, &j);
	assert_string_equal(j.next_pid, "");
	/* In a derived batch the rotated key keeps its own random PPS. */
	assert_int_equal(pp_store_job_next_key(f->s, job, "w", pid2, pps2, &np, &nps, &err), 0);
	struct pp_key_info k;
	c_keyinfo(f, 2, &k);
	assert_string_equal(k.batch, "esc");
	assert_false(k.derived);
	c_keyinfo(f, 1, &k);
	assert_true(k.derived);
	struct pp_pps got;
	char mebx[PP_STORE_MEBX_MAX + 1];
	assert_int_equal(pp_store_key_secrets(f->s, pid2, &got, mebx, sizeof(mebx), &err), 0);
	assert_string_equal(got.s, pps2);
	assert_string_equal(mebx, "Mebx!123");
	/* Host names are checked on completion. */
	char longname[80];
	memset(longname, 'a', sizeof(longname));
	longname[64] = '\0';
	assert_int_equal(pp_store_job_complete(f->s, job, "w", longname, "d", T0, &err),
			 -PP_EINVAL);
	assert_int_equal(pp_store_job_complete(f->s, job, "w", "a b", "d", T0, &err), -PP_EINVAL);
	longname[63] = '\0';
	assert_int_equal(pp_store_job_complete(f->s, job, "w", longname, "", T0, &err), 0);
	pp_wipe(&got, sizeof(got));
	pp_wipe(&nps, sizeof(nps));
}

struct dev_seen {
	int n;
	enum pp_device_state states[64];
	int stop_after;
	int fail_at;
};

static int c_dev_cb(void *ctx, const struct pp_device_info *d)
{
	struct dev_seen *s = ctx;
	if (s->n < 64)
		s->states[s->n] = d->state;
	s->n++;
	if (s->fail_at && s->n == s->fail_at)
		return -PP_EIO;
	return s->stop_after && s->n == s->stop_after ? 1 : 0;
}

static void c_test_lists_and_counts(void **state)
{
	struct fixture *f = *state;
	struct pp_err err = {0};
	int64_t b = c_batch(f, "lists", false, 0);
	for (unsigned long i = 1; i <= 6; i++)
		c_key(f, b, i, false, PP_KEY_EXPORTED, 0);
	c_key(f, b, 20, false, PP_KEY_AVAILABLE, 0);
	int64_t jobs[7] = {0};
	for (unsigned dev = 1; dev <= 5; dev++)
		assert_int_equal(c_hello(f, dev, dev, &jobs[dev]), PP_HELLO_NEW_JOB);
	for (unsigned dev = 1; dev <= 5; dev++) {
		assert_int_equal(c_claim1(f, "w", T0, 60), jobs[dev]);
		assert_int_equal(c_bind(f, jobs[dev], "w", dev, NULL, NULL), 0);
	}
	assert_int_equal(c_hello(f, 6, 1, &jobs[6]), PP_HELLO_SUSPECT_CLONE);
	assert_int_equal(c_claim1(f, "w", T0, 60), jobs[6]);
	assert_int_equal(c_bind(f, jobs[6], "w", 6, NULL, NULL), PP_STORE_BIND_CLONE);
	assert_int_equal(c_hello(f, 7, 99, NULL), PP_HELLO_UNKNOWN_PID);
	assert_int_equal(pp_store_job_complete(f->s, jobs[1], "w", NULL, NULL, T0, &err), 0);
	assert_int_equal(pp_store_job_fail(f->s, jobs[2], "w", "broken", &err), 0);
	assert_int_equal(pp_store_job_retry(f->s, jobs[3], "w", T0 + 50, "later", &err), 0);
	assert_int_equal(c_hello(f, 8, 20, NULL), PP_HELLO_NEW_JOB);

	struct dev_seen ds = {0};
	assert_int_equal(pp_store_device_list(f->s, NULL, c_dev_cb, &ds, &err), 0);
	assert_int_equal(ds.n, 6);
	assert_int_equal(ds.states[0], PP_DEV_PROVISIONED);
	assert_int_equal(ds.states[1], PP_DEV_FAILED);
	assert_int_equal(ds.states[5], PP_DEV_QUARANTINED);
	struct pp_device_filter df = {.state = PP_DEV_CONFIGURING, .limit = 0};
	memset(&ds, 0, sizeof(ds));
	assert_int_equal(pp_store_device_list(f->s, &df, c_dev_cb, &ds, &err), 0);
	assert_int_equal(ds.n, 3);
	df.limit = 2;
	memset(&ds, 0, sizeof(ds));
	assert_int_equal(pp_store_device_list(f->s, &df, c_dev_cb, &ds, &err), 0);
	assert_int_equal(ds.n, 2);
	df = (struct pp_device_filter){.state = -1};
	memset(&ds, 0, sizeof(ds));
	ds.stop_after = 3;
	assert_int_equal(pp_store_device_list(f->s, &df, c_dev_cb, &ds, &err), 0);
	assert_int_equal(ds.n, 3);
	memset(&ds, 0, sizeof(ds));
	ds.fail_at = 2;
	assert_int_equal(pp_store_device_list(f->s, &df, c_dev_cb, &ds, &err), -PP_EIO);
	df.state = PP_DEV_STATE_MAX;
	assert_int_equal(pp_store_device_list(f->s, &df, c_dev_cb, &ds, &err), -PP_EINVAL);

	struct job_seen js = {0};
	assert_int_equal(pp_store_job_list(f->s, NULL, c_job_cb, &js, &err), 0);
	assert_int_equal(js.n, 7);
	for (int i = 1; i < 7; i++)
		assert_true(js.ids[i - 1] < js.ids[i]);
	assert_int_equal(js.states[0], PP_JOB_DONE);
	assert_int_equal(c_job_count(f, PP_JOB_RUNNING), 2);
	assert_int_equal(c_job_count(f, PP_JOB_RETRY), 1);
	assert_int_equal(c_job_count(f, PP_JOB_PENDING), 1);
	struct pp_job_filter jf = {.state = -1, .limit = 2};
	memset(&js, 0, sizeof(js));
	assert_int_equal(pp_store_job_list(f->s, &jf, c_job_cb, &js, &err), 0);
	assert_int_equal(js.n, 2);
	jf.state = 17;
	assert_int_equal(pp_store_job_list(f->s, &jf, c_job_cb, &js, &err), -PP_EINVAL);

	struct pp_store_counts c;
	assert_int_equal(pp_store_counts(f->s, &c, &err), 0);
	assert_int_equal(c.devices_by_state[PP_DEV_SEEN], 0);
	assert_int_equal(c.devices_by_state[PP_DEV_CONFIGURING], 3);
	assert_int_equal(c.devices_by_state[PP_DEV_PROVISIONED], 1);
	assert_int_equal(c.devices_by_state[PP_DEV_FAILED], 1);
	assert_int_equal(c.devices_by_state[PP_DEV_QUARANTINED], 1);
	assert_int_equal(c.jobs_by_state[PP_JOB_PENDING], 1);
	assert_int_equal(c.jobs_by_state[PP_JOB_RUNNING], 2);
	assert_int_equal(c.jobs_by_state[PP_JOB_RETRY], 1);
	assert_int_equal(c.jobs_by_state[PP_JOB_DONE], 1);
	assert_int_equal(c.jobs_by_state[PP_JOB_FAILED], 2);
	assert_int_equal(c.keys_by_state[PP_KEY_AVAILABLE], 1);
	assert_int_equal(c.keys_by_state[PP_KEY_EXPORTED], 1);
	assert_int_equal(c.keys_by_state[PP_KEY_IN_USE], 4);
	assert_int_equal(c.keys_by_state[PP_KEY_CONSUMED], 1);
}

/* Claim order: oldest runnable first, then id; inside a caller's transaction too. */
static void c_test_claim_order(void **state)
{
	struct fixture *f = *state;
	struct pp_err err = {0};
	int64_t b = c_batch(f, "order", false, 0);
	int64_t ids[5];
	for (unsigned long i = 1; i <= 5; i++) {
		c_key(f, b, i, false, PP_KEY_EXPORTED, 0);
		/* Newer hellos first: device 5 at T0, device 1 at T0 + 4. */
		assert_int_equal(c_hello_at(f, (unsigned)i, i, 2, T0 + 5 - (int64_t)i, &ids[i - 1]),
				 PP_HELLO_NEW_JOB);
	}
	struct pp_job out[3];
	size_t n = 0;
	assert_int_equal(pp_store_begin(f->s, &err), 0);
	assert_int_equal(pp_store_jobs_claim(f->s, "w", T0 + 3, 60, 3, out, &n, &err), 0);
	assert_int_equal(pp_store_commit(f->s, &err), 0);
	assert_int_equal(n, 3);
	assert_int_equal(out[0].id, ids[4]);
	assert_int_equal(out[1].id, ids[3]);
	assert_int_equal(out[2].id, ids[2]);
	/* A rolled-back claim is no claim. */
	assert_int_equal(pp_store_begin(f->s, &err), 0);
	assert_int_equal(pp_store_jobs_claim(f->s, "x", T0 + 10, 60, 3, out, &n, &err), 0);
	assert_int_equal(n, 2);
	assert_int_equal(pp_store_rollback(f->s, &err), 0);
	assert_int_equal(pp_store_jobs_claim(f->s, "y", T0 + 10, 60, 3, out, &n, &err), 0);
	assert_int_equal(n, 2);
	assert_int_equal(out[0].id, ids[1]);
	assert_int_equal(out[1].id, ids[0]);
	assert_string_equal(out[1].owner, "y");
	assert_int_equal(out[1].attempts, 1);
}

/* Needles that must never reach the database in clear after a full job. */
static void c_scan_clear(const uint8_t *b, size_t len, const char *const *needles, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		size_t l = strlen(needles[i]);
		if (memmem(b, len, needles[i], l))
			fail_msg("'%s' is in the database in clear", needles[i]);
		/* Half of a PPS is still too much. */
		if (l == 32 && memmem(b, len, needles[i] + 8, 16))
			fail_msg("part of a PPS is in the database in clear");
	}
}

static void c_test_no_plaintext(void **state)
{
	struct fixture *f = *state;
	struct pp_err err = {0};
	int64_t b = c_batch(f, "clear", false, 0);
	c_key(f, b, 1, false, PP_KEY_EXPORTED, 0);
	int64_t job = c_run_job(f, 1, 1, 2, "w");
	assert_int_equal(pp_store_job_complete(f->s, job, "w", "host", "dom", T0 + 5, &err), 0);
	char pps1[33], pps2[33], mebx1[33];
	c_pps(1, pps1);
	c_pps(2, pps2);
	c_mebx(1, mebx1);
	const char *needles[] = {pps1, pps2, mebx1, "AdminPw!1", "NewMebx#1"};
	size_t len = 0;
	uint8_t *bytes = backend_bytes(f, &len);
	assert_non_null(bytes);
	/* The scan sees the rows: the PIDs are there. */
	char pid1[9], pid2[9];
	c_pid(1, pid1);
	c_pid(2, pid2);
	assert_non_null(memmem(bytes, len, pid1, 8));
	assert_non_null(memmem(bytes, len, pid2, 8));
	c_scan_clear(bytes, len, needles, sizeof(needles) / sizeof(needles[0]));
	free(bytes);
}

/* Two handles claiming at once never get the same job. */
#define RACE_JOBS 60

struct claimer {
	struct pp_store *s;
	const char *owner;
	int64_t got[RACE_JOBS];
	size_t n;
	int rc;
	char msg[256];
};

static void *claimer_run(void *arg)
{
	struct claimer *c = arg;
	struct pp_err err = {0};
	for (int idle = 0; idle < 3;) {
		struct pp_job out[2];
		size_t n = 0;
		int rc = pp_store_jobs_claim(c->s, c->owner, T0 + 10, 600, 2, out, &n, &err);
		if (rc == -PP_EBUSY)
			continue;
		if (rc < 0) {
			c->rc = rc;
			snprintf(c->msg, sizeof(c->msg), "%s", err.msg);
			return NULL;
		}
		if (n == 0)
			idle++;
		for (size_t i = 0; i < n && c->n < RACE_JOBS; i++)
			c->got[c->n++] = out[i].id;
		/* A little work between claims, so the claimers interleave. */
		struct timespec ts = {.tv_sec = 0, .tv_nsec = 200000};
		nanosleep(&ts, NULL);
	}
	return NULL;
}

static void c_test_concurrent_claims(void **state)
{
	struct fixture *f = *state;
	int64_t b = c_batch(f, "race", false, 0);
	struct pp_err err = {0};
	assert_int_equal(pp_store_begin(f->s, &err), 0);
	for (unsigned long i = 1; i <= RACE_JOBS; i++) {
		c_key(f, b, i, false, PP_KEY_EXPORTED, 0);
		assert_int_equal(c_hello(f, (unsigned)i, i, NULL), PP_HELLO_NEW_JOB);
	}
	assert_int_equal(pp_store_commit(f->s, &err), 0);
	struct claimer a = {.s = backend_open_other(f), .owner = "inst-a"};
	struct claimer c = {.s = backend_open_other(f), .owner = "inst-b"};
	pthread_t ta, tc;
	assert_int_equal(pthread_create(&ta, NULL, claimer_run, &a), 0);
	assert_int_equal(pthread_create(&tc, NULL, claimer_run, &c), 0);
	pthread_join(ta, NULL);
	pthread_join(tc, NULL);
	pp_store_close(a.s);
	pp_store_close(c.s);
	if (a.rc < 0 || c.rc < 0)
		fail_msg("claimer failed: %s%s", a.msg, c.msg);
	assert_int_equal(a.n + c.n, RACE_JOBS);
	bool seen[RACE_JOBS + 1] = {false};
	int64_t base = 0;
	struct job_seen js = {0};
	assert_int_equal(pp_store_job_list(f->s, NULL, c_job_cb, &js, &err), 0);
	base = js.ids[0];
	for (size_t i = 0; i < a.n + c.n; i++) {
		int64_t id = i < a.n ? a.got[i] : c.got[i - a.n];
		int64_t k = id - base;
		assert_true(k >= 0 && k < RACE_JOBS);
		if (seen[k])
			fail_msg("job %lld claimed twice", (long long)id);
		seen[k] = true;
	}
	/* Each row says who holds it, and that holder is the one that got it. */
	for (size_t i = 0; i < a.n; i++) {
		struct pp_job j;
		c_job(f, a.got[i], &j);
		assert_string_equal(j.owner, "inst-a");
		assert_int_equal(j.attempts, 1);
	}
	printf("     concurrent claims: %zu by inst-a, %zu by inst-b\n", a.n, c.n);
}

static int c_tls_list_cb(void *ctx, const struct pp_device_info *d)
{
	char *out = ctx;
	snprintf(out, 96, "%s %s", d->tls_version, d->tls_cipher);
	return 1;
}

/* What the last TLS handshake negotiated: set, read back by get and list, kept by later
 * hellos, replaced by the next handshake; bad input refused without a trace. */
static void c_test_device_tls(void **state)
{
	struct fixture *f = *state;
	struct pp_err err = {0};
	int64_t b = c_batch(f, "tls", false, 0);
	c_key(f, b, 1, false, PP_KEY_AVAILABLE, 0);
	int64_t job = 0;
	assert_int_equal(c_hello(f, 1, 1, &job), PP_HELLO_NEW_JOB);
	assert_int_equal(c_claim1(f, "w", T0, 60), job);
	assert_int_equal(c_bind(f, job, "w", 1, NULL, NULL), 0);
	struct pp_device_info d, before;
	c_device(f, 1, &before);
	assert_string_equal(before.tls_version, "");
	assert_string_equal(before.tls_cipher, "");

	uint8_t u[16];
	c_uuid(1, u);
	assert_int_equal(pp_store_device_set_tls(f->s, u, "TLSv1", "PSK-AES128-CBC-SHA", &err), 0);
	c_device(f, 1, &d);
	assert_string_equal(d.tls_version, "TLSv1");
	assert_string_equal(d.tls_cipher, "PSK-AES128-CBC-SHA");
	/* Nothing else moved. */
	assert_int_equal(d.state, before.state);
	assert_string_equal(d.pid, before.pid);
	assert_int_equal(d.first_seen, before.first_seen);
	assert_int_equal(d.last_seen, before.last_seen);
	char listed[96] = "";
	struct pp_device_filter all = {.state = -1, .limit = 0};
	assert_int_equal(pp_store_device_list(f->s, &all, c_tls_list_cb, listed, &err), 0);
	assert_string_equal(listed, "TLSv1 PSK-AES128-CBC-SHA");

	/* A later hello keeps it; the next handshake replaces it. */
	assert_int_equal(c_hello_at(f, 1, 1, 7, T0 + 5, NULL), PP_HELLO_NEW_JOB);
	c_device(f, 1, &d);
	assert_string_equal(d.tls_version, "TLSv1");
	assert_int_equal(d.addr[3], 2); /* a hello moves no device */
	assert_int_equal(
	    pp_store_device_set_tls(f->s, u, "TLSv1.2", "ECDHE-PSK-CHACHA20-POLY1305", &err), 0);
	c_device(f, 1, &d);
	assert_string_equal(d.tls_version, "TLSv1.2");
	assert_string_equal(d.tls_cipher, "ECDHE-PSK-CHACHA20-POLY1305");

	/* Bounds: 15 and 63 characters fit, one more does not. */
	char v15[16], c63[64], v16[17], c64[65];
	memset(v15, 'v', 15);
	v15[15] = '\0';
	memset(v16, 'v', 16);
	v16[16] = '\0';
	memset(c63, 'C', 63);
	c63[63] = '\0';
	memset(c64, 'C', 64);
	c64[64] = '\0';
	assert_int_equal(pp_store_device_set_tls(f->s, u, v15, c63, &err), 0);
	c_device(f, 1, &d);
	assert_string_equal(d.tls_version, v15);
	assert_string_equal(d.tls_cipher, c63);
	assert_int_equal(pp_store_device_set_tls(f->s, u, v16, c63, &err), -PP_EINVAL);
	c_expect_msg(&err, "TLS version: must be 1..15 characters");
	assert_int_equal(pp_store_device_set_tls(f->s, u, v15, c64, &err), -PP_EINVAL);
	c_expect_msg(&err, "TLS cipher: must be 1..63 characters");
	assert_int_equal(pp_store_device_set_tls(f->s, u, "", "X", &err), -PP_EINVAL);
	assert_int_equal(pp_store_device_set_tls(f->s, u, NULL, "X", &err), -PP_EINVAL);
	assert_int_equal(pp_store_device_set_tls(f->s, u, "TLSv1", NULL, &err), -PP_EINVAL);
	assert_int_equal(pp_store_device_set_tls(f->s, u, "TLS v1", "X", &err), -PP_EINVAL);
	c_expect_msg(&err, "TLS version: character 4 is not");
	assert_int_equal(pp_store_device_set_tls(f->s, u, "TLSv1", "PSK\nX", &err), -PP_EINVAL);
	assert_null(strstr(err.msg, "PSK"));
	assert_int_equal(pp_store_device_set_tls(f->s, u, "TLSv1", "PSK'X", &err), -PP_EINVAL);
	assert_int_equal(pp_store_device_set_tls(f->s, NULL, "TLSv1", "X", &err), -PP_EINVAL);
	c_device(f, 1, &d);
	assert_string_equal(d.tls_version, v15); /* unchanged by the refusals */

	/* An unknown device. */
	uint8_t other[16];
	c_uuid(99, other);
	assert_int_equal(pp_store_device_set_tls(f->s, other, "TLSv1", "X", &err), -PP_ENOTFOUND);
	c_expect_msg(&err, "no device");
	/* Inside a transaction: a refusal leaves it usable; rollback undoes a set. */
	assert_int_equal(pp_store_begin(f->s, &err), 0);
	assert_int_equal(pp_store_device_set_tls(f->s, other, "TLSv1", "X", &err), -PP_ENOTFOUND);
	assert_int_equal(pp_store_device_set_tls(f->s, u, "TLSv1", "PSK-AES256-CBC-SHA", &err), 0);
	assert_int_equal(pp_store_rollback(f->s, &err), 0);
	c_device(f, 1, &d);
	assert_string_equal(d.tls_cipher, c63);
	assert_int_equal(pp_store_begin(f->s, &err), 0);
	assert_int_equal(pp_store_device_set_tls(f->s, u, "TLSv1", "PSK-AES256-CBC-SHA", &err), 0);
	assert_int_equal(pp_store_commit(f->s, &err), 0);
	c_device(f, 1, &d);
	assert_string_equal(d.tls_cipher, "PSK-AES256-CBC-SHA");
}

/* ---- batches, keys, secrets, key states, transactions (once test_store.c's, SQLite
 * only) ---- */

struct batch_seen {
	int n;
	char names[8][65];
	uint64_t counts[8];
	bool derived[8];
};

static int batch_cb(void *ctx, const struct pp_batch_info *b)
{
	struct batch_seen *s = ctx;
	if (s->n < 8) {
		memcpy(s->names[s->n], b->name, sizeof(b->name));
		s->counts[s->n] = b->key_count;
		s->derived[s->n] = b->derived;
	}
	s->n++;
	return 0;
}

static void c_test_batches(void **state)
{
	struct fixture *f = *state;
	struct pp_err err = {0};
	int64_t a = c_batch(f, "plain-2024.A_1", false, 0);
	int64_t d = c_batch(f, "derived", true, 0);
	int64_t sh = c_batch(f, "shared", false, 5);
	assert_true(a != d && d != sh);

	/* Duplicate name. */
	struct pp_batch_new dup = {.name = "derived"};
	assert_int_equal(pp_store_batch_create(f->s, &dup, NULL, &err), -PP_EEXIST);
	c_expect_msg(&err, "'derived' already exists");

	/* Names and secrets. */
	static const char *const bad_names[] = {
	    "",
	    "has space",
	    "slash/no",
	    "semi;colon",
	    "quote'",
	    "ünï",
	    "12345678901234567890123456789012345678901234567890123456789012345"};
	for (size_t i = 0; i < sizeof(bad_names) / sizeof(bad_names[0]); i++) {
		struct pp_batch_new b = {.name = bad_names[i]};
		assert_int_equal(pp_store_batch_create(f->s, &b, NULL, &err), -PP_EINVAL);
	}
	struct pp_batch_new b64 = {
	    .name = "1234567890123456789012345678901234567890123456789012345678901234"};
	assert_int_equal(pp_store_batch_create(f->s, &b64, NULL, &err), 0);
	uint8_t secret[32] = {1};
	struct pp_batch_new nosecret = {.name = "d2", .derived = true};
	assert_int_equal(pp_store_batch_create(f->s, &nosecret, NULL, &err), -PP_EINVAL);
	struct pp_batch_new shortsecret = {
	    .name = "d2", .derived = true, .secret = secret, .secret_len = 31};
	assert_int_equal(pp_store_batch_create(f->s, &shortsecret, NULL, &err), -PP_EINVAL);
	struct pp_batch_new plainsecret = {.name = "d2", .secret = secret, .secret_len = 32};
	assert_int_equal(pp_store_batch_create(f->s, &plainsecret, NULL, &err), -PP_EINVAL);

	/* Get. */
	for (unsigned long i = 0; i < 3; i++)
		c_key(f, a, 100 + i, false, PP_KEY_AVAILABLE, 0);
	c_key(f, d, 200, true, PP_KEY_AVAILABLE, 0);
	struct pp_batch_info info;
	assert_int_equal(pp_store_batch_get(f->s, "plain-2024.A_1", &info, &err), 0);
	assert_int_equal(info.id, a);
	assert_false(info.derived);
	assert_int_equal(info.shared_max, 0);
	assert_int_equal(info.key_count, 3);
	assert_true(info.created > 1700000000);
	assert_int_equal(pp_store_batch_get(f->s, "shared", &info, &err), 0);
	assert_int_equal(info.shared_max, 5);
	assert_int_equal(info.key_count, 0);
	assert_int_equal(pp_store_batch_get(f->s, "derived", &info, &err), 0);
	assert_true(info.derived);
	assert_int_equal(info.key_count, 1);
	assert_int_equal(pp_store_batch_get(f->s, "nope", &info, &err), -PP_ENOTFOUND);
	c_expect_msg(&err, "no batch named 'nope'");
	assert_int_equal(pp_store_batch_get(f->s, "bad name", &info, &err), -PP_EINVAL);

	/* List, in creation order. */
	struct batch_seen seen = {0};
	assert_int_equal(pp_store_batch_list(f->s, batch_cb, &seen, &err), 0);
	assert_int_equal(seen.n, 4);
	assert_string_equal(seen.names[0], "plain-2024.A_1");
	assert_int_equal(seen.counts[0], 3);
	assert_string_equal(seen.names[1], "derived");
	assert_true(seen.derived[1]);
	assert_string_equal(seen.names[2], "shared");
	assert_int_equal(seen.names[3][0], '1');

	/* Survives a reopen. */
	backend_reopen(f);
	assert_int_equal(pp_store_batch_get(f->s, "derived", &info, &err), 0);
	assert_int_equal(info.id, d);
}

/* ---- keys ---- */

static void c_test_key_insert(void **state)
{
	struct fixture *f = *state;
	struct pp_err err = {0};
	int64_t plain = c_batch(f, "plain", false, 0);
	int64_t derived = c_batch(f, "derived", true, 0);
	int64_t shared = c_batch(f, "shared", false, 3);
	char pid[9], pps[33], mebx[33];
	c_pid(1, pid);
	c_pps(1, pps);
	c_mebx(1, mebx);
	struct pp_key_new k = {.pid = pid,
			       .pps = pps,
			       .mebx_password = mebx,
			       .batch_id = plain,
			       .state = PP_KEY_AVAILABLE};
	assert_int_equal(pp_store_key_insert(f->s, &k, &err), 0);
	/* Same PID again, in any batch. */
	assert_int_equal(pp_store_key_insert(f->s, &k, &err), -PP_EEXIST);
	c_expect_msg(&err, pid);
	k.batch_id = shared;
	assert_int_equal(pp_store_key_insert(f->s, &k, &err), -PP_EEXIST);

	/* PID shape: dashes, lower case, bad checksum, wrong length. */
	char bad[16];
	snprintf(bad, sizeof(bad), "%.4s-%.4s", pid, pid + 4);
	k.pid = bad;
	k.batch_id = plain;
	assert_int_equal(pp_store_key_insert(f->s, &k, &err), -PP_EINVAL);
	c_pid(2, bad);
	bad[7] = bad[7] == 'A' ? 'B' : 'A';
	assert_true(pp_store_key_insert(f->s, &k, &err) < 0);
	/* Lower case: parses, but is not the canonical form the store keeps. */
	c_pid(36UL * 36 * 11 + 36 * 12 + 2, bad);
	for (char *c = bad; *c; c++)
		if (*c >= 'A' && *c <= 'Z')
			*c = (char)(*c - 'A' + 'a');
	assert_true(strcmp(bad, pid) != 0);
	assert_int_equal(pp_store_key_insert(f->s, &k, &err), -PP_EINVAL);
	c_expect_msg(&err, "canonical");
	k.pid = "0000037";
	assert_true(pp_store_key_insert(f->s, &k, &err) < 0);
	k.pid = NULL;
	assert_int_equal(pp_store_key_insert(f->s, &k, &err), -PP_EINVAL);

	/* PPS shape; the message never quotes it. */
	c_pid(3, pid);
	k.pid = pid;
	char badpps[40];
	memcpy(badpps, pps, 33);
	badpps[5] = 'a';
	k.pps = badpps;
	assert_int_equal(pp_store_key_insert(f->s, &k, &err), -PP_EINVAL);
	assert_null(strstr(err.msg, "WQ"));
	badpps[5] = 'A';
	badpps[31] = '\0';
	assert_int_equal(pp_store_key_insert(f->s, &k, &err), -PP_EINVAL);
	k.pps = NULL;
	assert_int_equal(pp_store_key_insert(f->s, &k, &err), -PP_EINVAL);
	c_expect_msg(&err, "no PPS");

	/* MEBx password. */
	k.pps = pps;
	k.mebx_password = "";
	assert_int_equal(pp_store_key_insert(f->s, &k, &err), -PP_EINVAL);
	k.mebx_password = "has space";
	assert_int_equal(pp_store_key_insert(f->s, &k, &err), -PP_EINVAL);
	k.mebx_password = "123456789012345678901234567890123";
	assert_int_equal(pp_store_key_insert(f->s, &k, &err), -PP_EINVAL);
	k.mebx_password = NULL;
	assert_int_equal(pp_store_key_insert(f->s, &k, &err), -PP_EINVAL);
	k.mebx_password = mebx;

	/* Derived batch: no PPS of its own. */
	k.batch_id = derived;
	assert_int_equal(pp_store_key_insert(f->s, &k, &err), -PP_EINVAL);
	c_expect_msg(&err, "derived");
	k.pps = NULL;
	assert_int_equal(pp_store_key_insert(f->s, &k, &err), 0);

	/* Unknown batch. */
	c_pid(4, pid);
	k.pps = pps;
	k.batch_id = 9999;
	assert_int_equal(pp_store_key_insert(f->s, &k, &err), -PP_ENOTFOUND);

	/* Initial states: available, exported, in-use only. */
	k.batch_id = plain;
	k.state = PP_KEY_CONSUMED;
	assert_int_equal(pp_store_key_insert(f->s, &k, &err), -PP_ESTATE);
	k.state = PP_KEY_IN_USE;
	assert_int_equal(pp_store_key_insert(f->s, &k, &err), 0);

	/* Max devices: 1 for unique keys; up to shared_max for a shared batch. */
	c_pid(5, pid);
	k.state = PP_KEY_AVAILABLE;
	k.max_devices = 2;
	assert_int_equal(pp_store_key_insert(f->s, &k, &err), -PP_EINVAL);
	k.batch_id = shared;
	k.max_devices = 4;
	assert_int_equal(pp_store_key_insert(f->s, &k, &err), -PP_EINVAL);
	k.max_devices = 0;
	assert_int_equal(pp_store_key_insert(f->s, &k, &err), 0);
	struct pp_key_info info;
	assert_int_equal(pp_store_key_get(f->s, pid, &info, &err), 0);
	assert_int_equal(info.max_devices, 3);
	assert_true(info.shared);
	c_pid(6, pid);
	k.max_devices = 2;
	assert_int_equal(pp_store_key_insert(f->s, &k, &err), 0);
	assert_int_equal(pp_store_key_get(f->s, pid, &info, &err), 0);
	assert_int_equal(info.max_devices, 2);
}

static void c_test_key_get(void **state)
{
	struct fixture *f = *state;
	struct pp_err err = {0};
	int64_t b = c_batch(f, "get", false, 0);
	c_key(f, b, 42, false, PP_KEY_EXPORTED, 0);
	char pid[9];
	c_pid(42, pid);
	struct pp_key_info info;
	assert_int_equal(pp_store_key_get(f->s, pid, &info, &err), 0);
	assert_string_equal(info.pid, pid);
	assert_string_equal(info.batch, "get");
	assert_int_equal(info.state, PP_KEY_EXPORTED);
	assert_false(info.derived);
	assert_false(info.shared);
	assert_int_equal(info.max_devices, 1);
	assert_int_equal(info.use_count, 0);
	assert_int_equal(info.failure_count, 0);
	assert_int_equal(info.locked_until, 0);
	assert_int_equal(info.exported_at, 0);
	assert_true(info.created > 1700000000);
	assert_int_equal(info.created, info.updated);

	c_pid(43, pid);
	assert_int_equal(pp_store_key_get(f->s, pid, &info, &err), -PP_ENOTFOUND);
	c_expect_msg(&err, pid);
	assert_int_equal(pp_store_key_get(f->s, "0000-037M", &info, &err), -PP_EINVAL);
}

struct key_seen {
	int n;
	int stop_after; /* 0: never */
	int fail_at;    /* 0: never */
	char pids[64][9];
	enum pp_key_state states[64];
	bool shared[64];
	struct pp_store *s; /* for the re-entry test */
	int nested_rc;
};

static int key_cb(void *ctx, const struct pp_key_info *k)
{
	struct key_seen *s = ctx;
	if (s->n < 64) {
		memcpy(s->pids[s->n], k->pid, 9);
		s->states[s->n] = k->state;
		s->shared[s->n] = k->shared;
	}
	s->n++;
	if (s->fail_at && s->n == s->fail_at)
		return -PP_EIO;
	if (s->stop_after && s->n == s->stop_after)
		return 1;
	return 0;
}

static int key_cb_nested(void *ctx, const struct pp_key_info *k)
{
	struct key_seen *s = ctx;
	struct key_seen inner = {0};
	struct pp_key_info again;
	/* Reading another way is fine. Starting the same listing again is refused where
	 * the backend holds the listing's statement open under the callback (SQLite), and
	 * works where it reads a page before calling back (PostgreSQL): either way whole. */
	if (pp_store_key_get(s->s, k->pid, &again, NULL) < 0)
		return -PP_EIO;
	s->nested_rc = pp_store_key_list(s->s, NULL, key_cb, &inner, NULL);
	if (s->nested_rc == 0 && inner.n != 15)
		s->nested_rc = -PP_ESTORE;
	s->n++;
	return 1;
}

static void c_test_key_list(void **state)
{
	struct fixture *f = *state;
	struct pp_err err = {0};
	int64_t a = c_batch(f, "a", false, 0);
	int64_t b = c_batch(f, "b", false, 4);
	/* Inserted out of order: listing is in PID order. */
	for (unsigned long i = 10; i > 0; i--)
		c_key(f, a, i, false, i % 2 ? PP_KEY_AVAILABLE : PP_KEY_EXPORTED, 0);
	for (unsigned long i = 20; i < 25; i++)
		c_key(f, b, i, false, PP_KEY_AVAILABLE, 0);

	struct key_seen seen = {0};
	assert_int_equal(pp_store_key_list(f->s, NULL, key_cb, &seen, &err), 0);
	assert_int_equal(seen.n, 15);
	for (int i = 1; i < 15; i++)
		assert_true(strcmp(seen.pids[i - 1], seen.pids[i]) < 0);

	struct pp_key_filter fl = {.batch = "a", .state = -1};
	memset(&seen, 0, sizeof(seen));
	assert_int_equal(pp_store_key_list(f->s, &fl, key_cb, &seen, &err), 0);
	assert_int_equal(seen.n, 10);
	assert_false(seen.shared[0]);

	fl = (struct pp_key_filter){.batch = "a", .state = PP_KEY_EXPORTED};
	memset(&seen, 0, sizeof(seen));
	assert_int_equal(pp_store_key_list(f->s, &fl, key_cb, &seen, &err), 0);
	assert_int_equal(seen.n, 5);
	for (int i = 0; i < 5; i++)
		assert_int_equal(seen.states[i], PP_KEY_EXPORTED);

	fl = (struct pp_key_filter){.state = PP_KEY_AVAILABLE};
	memset(&seen, 0, sizeof(seen));
	assert_int_equal(pp_store_key_list(f->s, &fl, key_cb, &seen, &err), 0);
	assert_int_equal(seen.n, 10);

	fl = (struct pp_key_filter){.batch = "b", .state = -1, .limit = 2};
	memset(&seen, 0, sizeof(seen));
	assert_int_equal(pp_store_key_list(f->s, &fl, key_cb, &seen, &err), 0);
	assert_int_equal(seen.n, 2);
	assert_true(seen.shared[0]);
	char p20[9], p21[9], p22[9];
	c_pid(20, p20);
	c_pid(21, p21);
	c_pid(22, p22);
	assert_string_equal(seen.pids[0], p20);
	assert_string_equal(seen.pids[1], p21);
	/* Next page. */
	fl.after = seen.pids[1];
	char after[9];
	memcpy(after, seen.pids[1], 9);
	fl.after = after;
	memset(&seen, 0, sizeof(seen));
	assert_int_equal(pp_store_key_list(f->s, &fl, key_cb, &seen, &err), 0);
	assert_int_equal(seen.n, 2);
	assert_string_equal(seen.pids[0], p22);

	fl = (struct pp_key_filter){.batch = "b", .state = PP_KEY_REVOKED};
	memset(&seen, 0, sizeof(seen));
	assert_int_equal(pp_store_key_list(f->s, &fl, key_cb, &seen, &err), 0);
	assert_int_equal(seen.n, 0);

	/* Unknown batch, bad state. */
	fl = (struct pp_key_filter){.batch = "zzz", .state = -1};
	assert_int_equal(pp_store_key_list(f->s, &fl, key_cb, &seen, &err), -PP_ENOTFOUND);
	fl = (struct pp_key_filter){.state = PP_KEY_STATE_MAX};
	assert_int_equal(pp_store_key_list(f->s, &fl, key_cb, &seen, &err), -PP_EINVAL);

	/* Callbacks stop early or abort. */
	memset(&seen, 0, sizeof(seen));
	seen.stop_after = 3;
	assert_int_equal(pp_store_key_list(f->s, NULL, key_cb, &seen, &err), 0);
	assert_int_equal(seen.n, 3);
	memset(&seen, 0, sizeof(seen));
	seen.fail_at = 4;
	assert_int_equal(pp_store_key_list(f->s, NULL, key_cb, &seen, &err), -PP_EIO);
	assert_int_equal(seen.n, 4);
	/* The store is usable after both. */
	memset(&seen, 0, sizeof(seen));
	assert_int_equal(pp_store_key_list(f->s, NULL, key_cb, &seen, &err), 0);
	assert_int_equal(seen.n, 15);

	/* Re-entry into the same listing is refused, not corrupted. */
	memset(&seen, 0, sizeof(seen));
	seen.s = f->s;
	assert_int_equal(pp_store_key_list(f->s, NULL, key_cb_nested, &seen, &err), 0);
	if (strcmp(pp_store_backend(f->s), "sqlite") == 0)
		assert_int_equal(seen.nested_rc, -PP_EBUSY);
	else
		assert_int_equal(seen.nested_rc, 0);
}

/* ---- secrets ---- */

static void c_test_secrets_plain(void **state)
{
	struct fixture *f = *state;
	struct pp_err err = {0};
	int64_t b = c_batch(f, "plain", false, 0);
	for (unsigned long i = 1; i <= 5; i++)
		c_key(f, b, i, false, PP_KEY_AVAILABLE, 0);
	for (unsigned long i = 1; i <= 5; i++) {
		char pid[9], pps[33], mebx[33], got_mebx[PP_STORE_MEBX_MAX + 1];
		struct pp_pps got;
		c_pid(i, pid);
		c_pps(i, pps);
		c_mebx(i, mebx);
		assert_int_equal(
		    pp_store_key_secrets(f->s, pid, &got, got_mebx, sizeof(got_mebx), &err), 0);
		assert_string_equal(got.s, pps);
		assert_string_equal(got_mebx, mebx);
		/* One at a time. */
		memset(&got, 0, sizeof(got));
		assert_int_equal(pp_store_key_secrets(f->s, pid, &got, NULL, 0, &err), 0);
		assert_string_equal(got.s, pps);
		assert_int_equal(
		    pp_store_key_secrets(f->s, pid, NULL, got_mebx, sizeof(got_mebx), &err), 0);
		assert_string_equal(got_mebx, mebx);
	}
	/* Too little room for the password: refused, nothing left in the buffer. */
	char pid[9], small[8];
	struct pp_pps got;
	c_pid(1, pid);
	assert_int_equal(pp_store_key_secrets(f->s, pid, &got, small, sizeof(small), &err),
			 -PP_ETOOBIG);
	for (size_t i = 0; i < sizeof(small); i++)
		assert_int_equal(small[i], 0);
	for (size_t i = 0; i < sizeof(got.s); i++)
		assert_int_equal(got.s[i], 0);
	c_pid(99, pid);
	assert_int_equal(pp_store_key_secrets(f->s, pid, &got, NULL, 0, &err), -PP_ENOTFOUND);

	/* Survives reopening (the key check passed, the same key opens the blobs). */
	backend_reopen(f);
	c_pid(3, pid);
	char pps[33];
	c_pps(3, pps);
	assert_int_equal(pp_store_key_secrets(f->s, pid, &got, NULL, 0, &err), 0);
	assert_string_equal(got.s, pps);

	/* A blob moved to another row does not open there. */
	char pid1[9], pid2[9];
	c_pid(1, pid1);
	c_pid(2, pid2);
	char sql[160];
	snprintf(sql, sizeof(sql),
		 "UPDATE keys SET pps = (SELECT pps FROM keys WHERE pid = '%s') WHERE pid = '%s'",
		 pid1, pid2);
	backend_raw_exec(f, sql);
	/* And the MEBx blob moved into the PPS column of its own row. */
	c_pid(4, pid);
	snprintf(sql, sizeof(sql), "UPDATE keys SET pps = mebx WHERE pid = '%s'", pid);
	backend_raw_exec(f, sql);
	assert_int_equal(pp_store_key_secrets(f->s, pid2, &got, NULL, 0, &err), -PP_ECRYPTO);
	assert_null(strstr(err.msg, "WQ"));
	assert_int_equal(pp_store_key_secrets(f->s, pid, &got, NULL, 0, &err), -PP_ECRYPTO);
	assert_int_equal(pp_store_key_secrets(f->s, pid1, &got, NULL, 0, &err), 0);
}

static void c_test_secrets_derived(void **state)
{
	struct fixture *f = *state;
	struct pp_err err = {0};
	int64_t b = c_batch(f, "derived", true, 0);
	uint8_t secret[32];
	for (int i = 0; i < 32; i++)
		secret[i] = (uint8_t)(i * 5 + 3); /* as c_batch */
	for (unsigned long i = 1; i <= 5; i++)
		c_key(f, b, i, true, PP_KEY_AVAILABLE, 0);
	for (unsigned long i = 1; i <= 5; i++) {
		char pid[9], mebx[33], got_mebx[33];
		struct pp_pid p;
		struct pp_pps want, got;
		c_pid(i, pid);
		c_mebx(i, mebx);
		assert_int_equal(pp_pid_parse(pid, &p, &err), 0);
		assert_int_equal(pp_pps_derive(secret, sizeof(secret), &p, &want), 0);
		assert_int_equal(
		    pp_store_key_secrets(f->s, pid, &got, got_mebx, sizeof(got_mebx), &err), 0);
		assert_string_equal(got.s, want.s);
		assert_string_equal(got_mebx, mebx);
		struct pp_key_info info;
		assert_int_equal(pp_store_key_get(f->s, pid, &info, &err), 0);
		assert_true(info.derived);
	}
	/* The keys hold no PPS column at all. */
	assert_int_equal(backend_raw_int(f, "SELECT count(*) FROM keys WHERE pps IS NOT NULL"), 0);
	/* A batch secret moved to another batch does not open. */
	c_batch(f, "other", true, 0);
	backend_raw_exec(f, "UPDATE batches SET secret = (SELECT secret FROM batches WHERE name = "
			    "'other') WHERE name = 'derived'");
	char pid[9];
	struct pp_pps got;
	c_pid(1, pid);
	assert_int_equal(pp_store_key_secrets(f->s, pid, &got, NULL, 0, &err), -PP_ECRYPTO);
}

/* ---- states ---- */

static void expect_state(struct fixture *f, const char *pid, enum pp_key_state st)
{
	struct pp_key_info info;
	assert_int_equal(pp_store_key_get(f->s, pid, &info, NULL), 0);
	assert_int_equal(info.state, st);
}

static void c_test_state_transitions(void **state)
{
	struct fixture *f = *state;
	struct pp_err err = {0};
	int64_t b = c_batch(f, "st", false, 0);
	/* The whole table: for every (from, to), a fresh key driven to from. */
	static const enum pp_key_state path[] = {PP_KEY_AVAILABLE, PP_KEY_EXPORTED, PP_KEY_IN_USE,
						 PP_KEY_CONSUMED};
	static const bool allowed[PP_KEY_STATE_MAX][PP_KEY_STATE_MAX] = {
	    [PP_KEY_AVAILABLE] =
		{[PP_KEY_EXPORTED] = 1, [PP_KEY_REVOKED] = 1, [PP_KEY_EXPIRED] = 1},
	    [PP_KEY_EXPORTED] = {[PP_KEY_IN_USE] = 1, [PP_KEY_REVOKED] = 1, [PP_KEY_EXPIRED] = 1},
	    [PP_KEY_IN_USE] = {[PP_KEY_CONSUMED] = 1, [PP_KEY_REVOKED] = 1},
	};
	unsigned long n = 1000;
	for (int from = 0; from < PP_KEY_STATE_MAX; from++) {
		for (int to = 0; to < PP_KEY_STATE_MAX; to++) {
			char pid[9];
			c_pid(++n, pid);
			c_key(f, b, n, false, PP_KEY_AVAILABLE, 0);
			/* Drive to `from`. */
			if (from == PP_KEY_REVOKED || from == PP_KEY_EXPIRED) {
				assert_int_equal(pp_store_key_set_state(
						     f->s, pid, (enum pp_key_state)from, &err),
						 0);
			} else {
				for (int i = 1; i < 4 && path[i - 1] != (enum pp_key_state)from;
				     i++)
					assert_int_equal(
					    pp_store_key_set_state(f->s, pid, path[i], &err), 0);
			}
			expect_state(f, pid, (enum pp_key_state)from);
			int rc = pp_store_key_set_state(f->s, pid, (enum pp_key_state)to, &err);
			assert_int_equal(pp_key_transition_allowed((enum pp_key_state)from,
								   (enum pp_key_state)to),
					 allowed[from][to]);
			if (allowed[from][to]) {
				assert_int_equal(rc, 0);
				expect_state(f, pid, (enum pp_key_state)to);
			} else {
				assert_int_equal(rc, -PP_ESTATE);
				char want[80];
				snprintf(want, sizeof(want), "cannot go from '%s' to '%s'",
					 pp_key_state_name((enum pp_key_state)from),
					 pp_key_state_name((enum pp_key_state)to));
				c_expect_msg(&err, want);
				c_expect_msg(&err, pid);
				expect_state(f, pid, (enum pp_key_state)from);
			}
		}
	}
	/* Exporting records when. */
	char pid[9];
	c_pid(++n, pid);
	c_key(f, b, n, false, PP_KEY_AVAILABLE, 0);
	assert_int_equal(pp_store_key_set_state(f->s, pid, PP_KEY_EXPORTED, &err), 0);
	struct pp_key_info info;
	assert_int_equal(pp_store_key_get(f->s, pid, &info, &err), 0);
	assert_true(info.exported_at > 1700000000);
	assert_true(info.updated >= info.created);

	assert_int_equal(pp_store_key_set_state(f->s, pid, PP_KEY_STATE_MAX, &err), -PP_EINVAL);
	c_pid(++n, pid);
	assert_int_equal(pp_store_key_set_state(f->s, pid, PP_KEY_REVOKED, &err), -PP_ENOTFOUND);
}

/* ---- transactions ---- */

static void c_test_rollback(void **state)
{
	struct fixture *f = *state;
	struct pp_err err = {0};
	struct pp_batch_info bi;
	struct pp_key_info ki;
	char pid[9];

	assert_int_equal(pp_store_commit(f->s, &err), -PP_ESTATE);
	assert_int_equal(pp_store_rollback(f->s, &err), -PP_ESTATE);

	assert_int_equal(pp_store_begin(f->s, &err), 0);
	assert_int_equal(pp_store_begin(f->s, &err), -PP_ESTATE);
	int64_t b = c_batch(f, "gone", true, 0);
	for (unsigned long i = 1; i <= 50; i++)
		c_key(f, b, i, true, PP_KEY_AVAILABLE, 0);
	assert_int_equal(pp_store_audit_append(f->s, "test", "batch.create", "gone", NULL, &err),
			 0);
	assert_int_equal(pp_store_batch_get(f->s, "gone", &bi, &err), 0);
	assert_int_equal(bi.key_count, 50);
	assert_int_equal(pp_store_rollback(f->s, &err), 0);

	assert_int_equal(pp_store_batch_get(f->s, "gone", &bi, &err), -PP_ENOTFOUND);
	c_pid(1, pid);
	assert_int_equal(pp_store_key_get(f->s, pid, &ki, &err), -PP_ENOTFOUND);
	struct key_seen seen = {0};
	assert_int_equal(pp_store_key_list(f->s, NULL, key_cb, &seen, &err), 0);
	assert_int_equal(seen.n, 0);
	uint64_t entries = 99;
	assert_int_equal(pp_store_audit_verify(f->s, &entries, &err), 0);
	assert_int_equal(entries, 0);

	/* Same name, likely the same id, now not derived: the store must not remember the
	 * rolled-back batch. */
	int64_t b2 = c_batch(f, "gone", false, 0);
	c_key(f, b2, 1, false, PP_KEY_AVAILABLE, 0);
	assert_int_equal(pp_store_key_get(f->s, pid, &ki, &err), 0);
	assert_false(ki.derived);

	/* Commit keeps. */
	assert_int_equal(pp_store_begin(f->s, &err), 0);
	c_key(f, b2, 2, false, PP_KEY_AVAILABLE, 0);
	assert_int_equal(pp_store_commit(f->s, &err), 0);
	c_pid(2, pid);
	backend_reopen(f);
	assert_int_equal(pp_store_key_get(f->s, pid, &ki, &err), 0);

	/* Closing with a transaction open rolls it back. */
	assert_int_equal(pp_store_begin(f->s, &err), 0);
	c_key(f, b2, 3, false, PP_KEY_AVAILABLE, 0);
	backend_reopen(f);
	c_pid(3, pid);
	assert_int_equal(pp_store_key_get(f->s, pid, &ki, &err), -PP_ENOTFOUND);

	/* A failed insert inside a transaction leaves the transaction usable. */
	assert_int_equal(pp_store_begin(f->s, &err), 0);
	c_key(f, b2, 4, false, PP_KEY_AVAILABLE, 0);
	char pps[33], mebx[33];
	c_pid(4, pid);
	c_pps(4, pps);
	c_mebx(4, mebx);
	struct pp_key_new dup = {.pid = pid, .pps = pps, .mebx_password = mebx, .batch_id = b2};
	assert_int_equal(pp_store_key_insert(f->s, &dup, &err), -PP_EEXIST);
	c_key(f, b2, 5, false, PP_KEY_AVAILABLE, 0);
	assert_int_equal(pp_store_commit(f->s, &err), 0);
	c_pid(5, pid);
	assert_int_equal(pp_store_key_get(f->s, pid, &ki, &err), 0);
}

/* ---- the audit chain (once test_store.c's) ---- */

struct c_audit_seen {
	int n;
	uint64_t seqs[32];
	char actions[32][32];
	char hashes[32][65];
};

static int c_audit_seen_cb(void *ctx, const struct pp_audit_entry *e)
{
	struct c_audit_seen *s = ctx;
	if (s->n < 32) {
		s->seqs[s->n] = e->seq;
		snprintf(s->actions[s->n], sizeof(s->actions[0]), "%s", e->action);
		memcpy(s->hashes[s->n], e->hash, 65);
	}
	s->n++;
	return 0;
}

static void c_test_audit_chain(void **state)
{
	struct fixture *f = *state;
	struct pp_err err = {0};
	uint64_t entries = 0;
	assert_int_equal(pp_store_audit_verify(f->s, &entries, &err), 0);
	assert_int_equal(entries, 0);
	pp_test_audit_append_n(f->s, 10);
	assert_int_equal(pp_store_audit_verify(f->s, &entries, &err), 0);
	assert_int_equal(entries, 10);

	struct c_audit_seen seen = {0};
	assert_int_equal(pp_store_audit_list(f->s, 0, c_audit_seen_cb, &seen, &err), 0);
	assert_int_equal(seen.n, 10);
	for (int i = 0; i < 10; i++)
		assert_int_equal(seen.seqs[i], (uint64_t)i + 1);
	assert_string_equal(seen.actions[0], "act.1");
	assert_int_equal(strlen(seen.hashes[9]), 64);
	assert_string_not_equal(seen.hashes[8], seen.hashes[9]);

	/* The first hash by the documented formula, computed here independently. */
	int64_t t = backend_raw_int(f, "SELECT time FROM audit WHERE seq = 1");
	assert_int_equal(
	    backend_raw_int(f,
			    "SELECT count(*) FROM audit WHERE seq = 1 AND prev_hash = "
			    "'0000000000000000000000000000000000000000000000000000000000000000'"),
	    1);
	{
		uint8_t msg[256], md[32];
		size_t n = 0;
		memset(msg, 0, 32);
		n = 32;
		for (int i = 7; i >= 0; i--)
			msg[n++] = (uint8_t)(1ull >> (8 * i));
		for (int i = 7; i >= 0; i--)
			msg[n++] = (uint8_t)((uint64_t)t >> (8 * i));
		const char *fields[] = {"admin", "act.1", "0000037M", "detail 1: ünicode ok"};
		for (int k = 0; k < 4; k++) {
			size_t l = strlen(fields[k]);
			msg[n++] = 0;
			msg[n++] = 0;
			msg[n++] = 0;
			msg[n++] = (uint8_t)l;
			memcpy(msg + n, fields[k], l);
			n += l;
		}
		unsigned int mdlen = 0;
		assert_int_equal(EVP_Digest(msg, n, md, &mdlen, EVP_sha256(), NULL), 1);
		char hex[65];
		for (int i = 0; i < 32; i++)
			snprintf(hex + 2 * i, 3, "%02x", md[i]);
		assert_string_equal(hex, seen.hashes[0]);
	}

	/* since_seq. */
	memset(&seen, 0, sizeof(seen));
	assert_int_equal(pp_store_audit_list(f->s, 7, c_audit_seen_cb, &seen, &err), 0);
	assert_int_equal(seen.n, 3);
	assert_int_equal(seen.seqs[0], 8);
}

static void c_test_audit_refusals(void **state)
{
	struct fixture *f = *state;
	struct pp_err err = {0};
	assert_int_equal(pp_store_audit_append(f->s, NULL, "x", NULL, NULL, &err), -PP_EINVAL);
	assert_int_equal(pp_store_audit_append(f->s, "", "x", NULL, NULL, &err), -PP_EINVAL);
	assert_int_equal(pp_store_audit_append(f->s, "a", "", NULL, NULL, &err), -PP_EINVAL);
	assert_int_equal(pp_store_audit_append(f->s, "a", "x", "two\nlines", NULL, &err),
			 -PP_EINVAL);
	assert_int_equal(pp_store_audit_append(f->s, "a", "x", NULL, "esc\x1b[0m", &err),
			 -PP_EINVAL);
	/* Not UTF-8: a lone continuation byte, an overlong '/', a cut sequence. */
	assert_int_equal(pp_store_audit_append(f->s, "a", "x", NULL, "a\x80", &err), -PP_EINVAL);
	pp_test_expect_msg(&err, "not UTF-8 at byte 2");
	assert_int_equal(pp_store_audit_append(f->s, "a", "x", "\xc0\xaf", NULL, &err), -PP_EINVAL);
	assert_int_equal(pp_store_audit_append(f->s, "a", "x", NULL, "\xe2\x82", &err), -PP_EINVAL);
	char big[PP_AUDIT_DETAIL_MAX + 2];
	memset(big, 'd', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	assert_int_equal(pp_store_audit_append(f->s, "a", "x", NULL, big, &err), -PP_EINVAL);
	big[PP_AUDIT_DETAIL_MAX] = '\0';
	assert_int_equal(pp_store_audit_append(f->s, "a", "x", NULL, big, &err), 0);
	uint64_t entries = 0;
	assert_int_equal(pp_store_audit_verify(f->s, &entries, &err), 0);
	assert_int_equal(entries, 1);
}

/* The audit chain is the generic layer's, one behaviour on every backend: an entry is
 * written in a transaction (its own, or the caller's, undone with it), never outside
 * one, and chained the same way whatever the backend. */
static void c_test_audit_transactions(void **state)
{
	struct fixture *f = *state;
	struct pp_err err = {0};
	uint64_t n = 0;
	assert_int_equal(pp_store_audit_append(f->s, "t", "a.one", "s", "first", &err), 0);
	/* The internal entry point refuses to run outside a transaction. */
	assert_int_equal(pp_store_audit_at(f->s, T0, "t", "a.bare", "", "", &err), -PP_ESTATE);
	c_expect_msg(&err, "outside a transaction");
	assert_int_equal(pp_store_begin(f->s, &err), 0);
	assert_int_equal(pp_store_audit_append(f->s, "t", "a.undone", "s", "", &err), 0);
	assert_int_equal(pp_store_audit_at(f->s, T0, "t", "a.undone", "s", "", &err), 0);
	assert_int_equal(pp_store_rollback(f->s, &err), 0);
	assert_int_equal(c_audit(f, "a.undone").n, 0);
	assert_int_equal(pp_store_begin(f->s, &err), 0);
	assert_int_equal(pp_store_audit_at(f->s, T0, "t", "a.kept", "s", "x", &err), 0);
	assert_int_equal(pp_store_audit_append(f->s, "t", "a.kept", "s", "y", &err), 0);
	/* A refused entry inside the transaction leaves it usable and the chain whole. */
	assert_int_equal(pp_store_audit_append(f->s, "", "a.bad", "s", "", &err), -PP_EINVAL);
	assert_int_equal(pp_store_commit(f->s, &err), 0);
	assert_int_equal(c_audit(f, "a.kept").n, 2);
	assert_int_equal(pp_store_audit_verify(f->s, &n, &err), 0);
	assert_int_equal(n, 3);
}

/* Counts: zero where no row is, every state counted from one call. */
static void c_test_counts_empty(void **state)
{
	struct fixture *f = *state;
	struct pp_err err = {0};
	struct pp_store_counts c;
	memset(&c, 0xff, sizeof(c));
	assert_int_equal(pp_store_counts(f->s, &c, &err), 0);
	for (int i = 0; i < PP_KEY_STATE_MAX; i++)
		assert_int_equal(c.keys_by_state[i], 0);
	for (int i = 0; i < PP_DEV_STATE_MAX; i++)
		assert_int_equal(c.devices_by_state[i], 0);
	for (int i = 0; i < PP_JOB_STATE_MAX; i++)
		assert_int_equal(c.jobs_by_state[i], 0);
	int64_t b = c_batch(f, "count", false, 0);
	c_key(f, b, 1, false, PP_KEY_AVAILABLE, 0);
	c_key(f, b, 2, false, PP_KEY_EXPORTED, 0);
	assert_int_equal(pp_store_counts(f->s, &c, &err), 0);
	assert_int_equal(c.keys_by_state[PP_KEY_AVAILABLE], 1);
	assert_int_equal(c.keys_by_state[PP_KEY_EXPORTED], 1);
	assert_int_equal(c.keys_by_state[PP_KEY_IN_USE], 0);
}

/* Takes the tables back to schema version 3 (before binding on proof). */
#define C_UNDO_V4_SQL                                                                              \
	"DROP TABLE hello_notes; DROP TABLE key_failures; "                                        \
	"DROP INDEX devices_host_name; DROP INDEX jobs_pid_unbound; "                              \
	"DROP INDEX jobs_one_active; ALTER TABLE jobs DROP COLUMN bound; "                         \
	"CREATE UNIQUE INDEX jobs_one_active ON jobs (uuid) "                                      \
	"WHERE state IN ('pending', 'running', 'retry')"

/* Version 3 to 4: bindings that hellos made (no proof) are dropped, so the genuine
 * device is no clone; proven ones (done or past READ) stay. */
static void c_test_migration_from_v3(void **state)
{
	struct fixture *f = *state;
	struct pp_err err = {0};
	char pid2[9], u7[37], sql[256];
	int64_t b = c_batch(f, "mig3", false, 0);
	c_key(f, b, 1, false, PP_KEY_EXPORTED, 0);
	c_key(f, b, 2, false, PP_KEY_EXPORTED, 0);
	int64_t job = c_run_job(f, 1, 1, 0, "w");
	assert_int_equal(pp_store_job_complete(f->s, job, "w", "h1", NULL, T0 + 1, &err), 0);
	pp_store_close(f->s);
	f->s = NULL;
	backend_raw_exec(f, C_UNDO_V4_SQL);
	/* A forged hello, as version 3 recorded it, bound key 2 to device 7. */
	c_pid(2, pid2);
	c_uuid_text(7, u7);
	snprintf(sql, sizeof(sql),
		 "INSERT INTO key_uses (pid, uuid, first_seen) VALUES ('%s', '%s', 1); "
		 "UPDATE keys SET use_count = use_count + 1, state = 'in-use' WHERE pid = '%s'",
		 pid2, u7, pid2);
	backend_raw_exec(f, sql);
	backend_schema_version(f, 3);
	backend_reopen(f);
	assert_int_equal(backend_raw_int(f, "SELECT count(*) FROM key_uses"), 1);
	assert_int_equal(backend_raw_int(f, "SELECT count(*) FROM jobs WHERE state = 'done' AND "
					    "bound = (1 = 1)"),
			 1);
	struct pp_key_info k;
	c_keyinfo(f, 2, &k);
	assert_int_equal(k.use_count, 0);
	c_keyinfo(f, 1, &k);
	assert_int_equal(k.use_count, 1);
	/* The genuine holder of key 2 proves it: bound, not a clone. */
	int64_t j2 = 0;
	assert_int_equal(c_hello(f, 2, 2, &j2), PP_HELLO_NEW_JOB);
	assert_int_equal(c_claim1(f, "w", T0 + 2, 60), j2);
	assert_int_equal(c_bind(f, j2, "w", 2, "h1", NULL), 0);
	struct pp_device_info d;
	c_device(f, 2, &d);
	assert_int_equal(d.state, PP_DEV_CONFIGURING);
	assert_true(strcmp(d.host_name, "h1") != 0); /* unique among devices */
	/* Device 1 is still the one of key 1. */
	assert_int_equal(c_hello(f, 1, 1, NULL), PP_HELLO_ALREADY_PROVISIONED);
}

#define CONTRACT_TESTS(T)                                                                          \
	cmocka_unit_test(c_test_names), T(c_test_job_life), T(c_test_lease_expiry),                \
	    T(c_test_hello_twice), T(c_test_unproven_bound), T(c_test_hello_after_provisioned),    \
	    T(c_test_clone_quarantine), T(c_test_shared_limit), T(c_test_unknown_and_unusable),    \
	    T(c_test_lockout), T(c_test_savepoints), T(c_test_atomic_failure),                     \
	    T(c_test_rotated_pid), T(c_test_retry_and_fail), T(c_test_escrow_and_rotation_errors), \
	    T(c_test_lists_and_counts), T(c_test_claim_order), T(c_test_no_plaintext),             \
	    T(c_test_concurrent_claims), T(c_test_device_tls), T(c_test_audit_transactions),       \
	    T(c_test_batches), T(c_test_key_insert), T(c_test_key_get), T(c_test_key_list),        \
	    T(c_test_secrets_plain), T(c_test_secrets_derived), T(c_test_state_transitions),       \
	    T(c_test_rollback), T(c_test_counts_empty), T(c_test_migration_from_v3),               \
	    T(c_test_audit_chain), T(c_test_audit_refusals)

#endif
