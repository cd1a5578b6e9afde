/* Bulk key inserts (store.h pp_key_bulk): keys checked and sealed on another thread,
 * inserted on the store's, and read back one by one as pp_store_key_insert's are. */
#include <pthread.h>
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
#include "core/secret.h"
#include "keys/keys.h"
#include "store/masterkey.h"
#include "store/store.h"
#include "test_store_util.h"

struct fixture {
	char dir[256];
	char db[300];
	struct pp_master_key mk;
	struct pp_store *s;
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	if (!f || pp_test_scratch("pp-bulk", f->dir, sizeof(f->dir), f->db, sizeof(f->db)) < 0)
		return -1;
	pp_test_master_key(&f->mk, 0xB7, 3);
	struct pp_err err = {0};
	return pp_test_opened(state, f, pp_store_open_sqlite(f->db, &f->mk, true, &f->s, &err),
			      &err);
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	pp_store_close(f->s);
	pp_test_remove_db(f->db);
	rmdir(f->dir);
	free(f);
	return 0;
}

struct key_text {
	char pid[PP_PID_LEN + 1], pps[PP_PPS_LEN + 1], mebx[PP_MEBX_PW_MAX + 1];
};

static void key_text(unsigned long n, struct key_text *t)
{
	pp_test_pid(n * 7919 + 3, t->pid);
	pp_test_pps(n, 29, 13, "BK", t->pps);
	snprintf(t->mebx, sizeof(t->mebx), "Bulk#Mebx%05lu!", n);
}

enum { N = 2000 };

/* What the sealing thread gets and gives. */
struct seal_job {
	struct pp_key_bulk *kb;
	int64_t batch;
	struct key_text *keys;
	struct pp_key_bulk_row *rows;
	int rc;
	struct pp_err err;
};

static void *seal_thread(void *arg)
{
	struct seal_job *j = arg;
	for (size_t i = 0; i < N && j->rc == 0; i++) {
		struct pp_key_new k = {.pid = j->keys[i].pid,
				       .pps = j->keys[i].pps,
				       .mebx_password = j->keys[i].mebx,
				       .batch_id = j->batch,
				       .state = PP_KEY_AVAILABLE};
		j->rc = pp_key_bulk_seal(j->kb, &k, &j->rows[i], &j->err);
	}
	return NULL;
}

static void assert_nonces_distinct(const struct pp_key_bulk_row *rows, size_t n)
{
	/* 2n nonces of 12 bytes: every PPS and every MEBx blob its own. */
	const uint8_t **all = calloc(2 * n, sizeof(*all));
	assert_non_null(all);
	for (size_t i = 0; i < n; i++) {
		all[2 * i] = rows[i].pps + 1;
		all[2 * i + 1] = rows[i].mebx + 1;
	}
	for (size_t i = 0; i < 2 * n; i++)
		for (size_t k = 0; k < i; k++)
			assert_true(memcmp(all[i], all[k], PP_SEAL_NONCE_LEN) != 0);
	free(all);
}

static void test_bulk_round_trip(void **state)
{
	struct fixture *f = *state;
	struct pp_err err = {0};
	int64_t batch = pp_test_batch(f->s, "bulk", false, 0, 1, 0);
	struct key_text *keys = calloc(N, sizeof(*keys));
	struct pp_key_bulk_row *rows = calloc(N, sizeof(*rows));
	assert_non_null(keys);
	assert_non_null(rows);
	for (size_t i = 0; i < N; i++)
		key_text(i, &keys[i]);
	struct seal_job j = {.batch = batch, .keys = keys, .rows = rows};
	assert_int_equal(pp_store_key_bulk_new(f->s, batch, &j.kb, &err), 0);
	pthread_t t;
	assert_int_equal(pthread_create(&t, NULL, seal_thread, &j), 0);
	assert_int_equal(pthread_join(t, NULL), 0);
	if (j.rc < 0)
		fail_msg("seal: %s", j.err.msg);
	for (size_t i = 0; i < N; i++) {
		assert_string_equal(rows[i].pid, keys[i].pid);
		assert_int_equal(rows[i].pps_len, pp_sealed_len(PP_PPS_LEN));
		assert_int_equal(rows[i].mebx_len, pp_sealed_len(strlen(keys[i].mebx)));
		/* No plaintext in a row. */
		assert_null(memmem(rows[i].pps, sizeof(rows[i].pps), keys[i].pps, 8));
		assert_null(memmem(rows[i].mebx, sizeof(rows[i].mebx), keys[i].mebx, 8));
		if (pp_store_key_bulk_insert(f->s, &rows[i], &err) < 0)
			fail_msg("insert %zu: %s", i, err.msg);
	}
	assert_nonces_distinct(rows, N);
	for (size_t i = 0; i < N; i++) {
		struct pp_pps pps;
		char mebx[PP_STORE_MEBX_MAX + 1];
		struct pp_key_info info;
		assert_int_equal(
		    pp_store_key_secrets(f->s, keys[i].pid, &pps, mebx, sizeof(mebx), &err), 0);
		assert_string_equal(pps.s, keys[i].pps);
		assert_string_equal(mebx, keys[i].mebx);
		assert_int_equal(pp_store_key_get(f->s, keys[i].pid, &info, &err), 0);
		assert_int_equal(info.state, PP_KEY_AVAILABLE);
		assert_int_equal(info.max_devices, 1);
		assert_string_equal(info.batch, "bulk");
		pp_wipe(&pps, sizeof(pps));
	}
	/* The same row again: the PID is taken, and the message holds no secret. */
	assert_int_equal(pp_store_key_bulk_insert(f->s, &rows[0], &err), -PP_EEXIST);
	pp_test_expect_msg(&err, "already in the store");
	assert_null(strstr(err.msg, keys[0].pps));
	pp_key_bulk_free(j.kb);
	pp_key_bulk_free(NULL);
	pp_wipe(keys, N * sizeof(*keys));
	free(keys);
	free(rows);
}

/* A row's blobs are bound to its PID: moved onto another PID, they do not open. */
static void test_bulk_row_bound_to_pid(void **state)
{
	struct fixture *f = *state;
	struct pp_err err = {0};
	int64_t batch = pp_test_batch(f->s, "bound", false, 0, 1, 0);
	struct pp_key_bulk *kb = NULL;
	struct key_text t, other;
	key_text(1, &t);
	key_text(2, &other);
	struct pp_key_new k = {.pid = t.pid,
			       .pps = t.pps,
			       .mebx_password = t.mebx,
			       .batch_id = batch,
			       .state = PP_KEY_AVAILABLE};
	struct pp_key_bulk_row row;
	assert_int_equal(pp_store_key_bulk_new(f->s, batch, &kb, &err), 0);
	assert_int_equal(pp_key_bulk_seal(kb, &k, &row, &err), 0);
	memcpy(row.pid, other.pid, sizeof(row.pid));
	assert_int_equal(pp_store_key_bulk_insert(f->s, &row, &err), 0);
	struct pp_pps pps;
	char mebx[PP_STORE_MEBX_MAX + 1];
	assert_int_equal(pp_store_key_secrets(f->s, other.pid, &pps, mebx, sizeof(mebx), &err),
			 -PP_ECRYPTO);
	pp_key_bulk_free(kb);
}

/* Derived and shared batches: no PPS stored, the PPS derived on reading; the batch's
 * device limit. */
static void test_bulk_derived_shared(void **state)
{
	struct fixture *f = *state;
	struct pp_err err = {0};
	int64_t batch = pp_test_batch(f->s, "derived", true, 5, 3, 1);
	struct pp_key_bulk *kb = NULL;
	struct key_text t;
	key_text(3, &t);
	struct pp_key_new k = {
	    .pid = t.pid, .mebx_password = t.mebx, .batch_id = batch, .state = PP_KEY_EXPORTED};
	struct pp_key_bulk_row row;
	assert_int_equal(pp_store_key_bulk_new(f->s, batch, &kb, &err), 0);
	assert_int_equal(pp_key_bulk_seal(kb, &k, &row, &err), 0);
	assert_int_equal(row.pps_len, 0);
	assert_int_equal(row.max_devices, 5);
	assert_int_equal(pp_store_key_bulk_insert(f->s, &row, &err), 0);

	uint8_t secret[32];
	for (unsigned i = 0; i < 32; i++)
		secret[i] = (uint8_t)(i * 3 + 1);
	struct pp_pid pid;
	struct pp_pps want, pps;
	char mebx[PP_STORE_MEBX_MAX + 1];
	assert_int_equal(pp_pid_parse(t.pid, &pid, &err), 0);
	assert_int_equal(pp_pps_derive(secret, sizeof(secret), &pid, &want), 0);
	assert_int_equal(pp_store_key_secrets(f->s, t.pid, &pps, mebx, sizeof(mebx), &err), 0);
	assert_string_equal(pps.s, want.s);
	assert_string_equal(mebx, t.mebx);
	struct pp_key_info info;
	assert_int_equal(pp_store_key_get(f->s, t.pid, &info, &err), 0);
	assert_int_equal(info.state, PP_KEY_EXPORTED);
	assert_true(info.derived);
	assert_int_equal(info.max_devices, 5);
	pp_key_bulk_free(kb);
}

static void expect_seal_refused(struct pp_key_bulk *kb, const struct pp_key_new *k, int code,
				const char *needle)
{
	struct pp_key_bulk_row row;
	struct pp_err err = {0};
	assert_int_equal(pp_key_bulk_seal(kb, k, &row, &err), code);
	pp_test_expect_msg(&err, needle);
}

static void test_bulk_refusals(void **state)
{
	struct fixture *f = *state;
	struct pp_err err = {0};
	struct pp_key_bulk *kb = (struct pp_key_bulk *)&err; /* must be cleared */
	assert_int_equal(pp_store_key_bulk_new(f->s, 999, &kb, &err), -PP_ENOTFOUND);
	assert_null(kb);
	int64_t plain = pp_test_batch(f->s, "plain", false, 0, 1, 0);
	int64_t derived = pp_test_batch(f->s, "drv", true, 0, 5, 2);
	struct pp_key_bulk *kd = NULL;
	assert_int_equal(pp_store_key_bulk_new(f->s, plain, &kb, &err), 0);
	assert_int_equal(pp_store_key_bulk_new(f->s, derived, &kd, &err), 0);
	struct key_text t;
	key_text(4, &t);
	struct pp_key_new k = {.pid = t.pid,
			       .pps = t.pps,
			       .mebx_password = t.mebx,
			       .batch_id = plain,
			       .state = PP_KEY_AVAILABLE};
	struct pp_key_new bad = k;
	bad.batch_id = derived;
	expect_seal_refused(kb, &bad, -PP_EINVAL, "not the bulk's");
	expect_seal_refused(kd, &bad, -PP_EINVAL, "is derived");
	bad = k;
	bad.pps = NULL;
	expect_seal_refused(kb, &bad, -PP_EINVAL, "no PPS");
	bad = k;
	bad.pid = "0000037m";
	expect_seal_refused(kb, &bad, -PP_EINVAL, "PID");
	bad = k;
	bad.pid = "0000037N"; /* checksum */
	expect_seal_refused(kb, &bad, -PP_ECHECKSUM, "PID");
	bad = k;
	bad.mebx_password = "";
	expect_seal_refused(kb, &bad, -PP_EINVAL, "MEBx password");
	bad = k;
	bad.state = PP_KEY_CONSUMED;
	expect_seal_refused(kb, &bad, -PP_ESTATE, "cannot be 'consumed'");
	bad = k;
	bad.max_devices = 2;
	expect_seal_refused(kb, &bad, -PP_EINVAL, "over the batch's limit of 1");
	char lower[PP_PPS_LEN + 1];
	memcpy(lower, t.pps, sizeof(lower));
	lower[5] = 'a';
	bad = k;
	bad.pps = lower;
	expect_seal_refused(kb, &bad, -PP_EINVAL, "PPS symbol 6");
	/* Nothing was stored. */
	struct pp_key_info info;
	assert_int_equal(pp_store_key_get(f->s, t.pid, &info, &err), -PP_ENOTFOUND);
	pp_key_bulk_free(kb);
	pp_key_bulk_free(kd);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_bulk_round_trip, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_bulk_row_bound_to_pid, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_bulk_derived_shared, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_bulk_refusals, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
