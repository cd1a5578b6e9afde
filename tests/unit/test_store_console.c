/* The operator's views and actions (store.h, docs/api.md) on both backends: SQLite, and
 * with the argument "pg" PostgreSQL (skipped without a server: test_store_pgenv.h).
 * Devices are made the real way (hello, claim, bind, complete or fail, a clone
 * quarantined), then listed with every filter and sort, paged by keyset, searched;
 * job events of real job lives; requeue and release with their refusals; key stock;
 * the upgrade from schema version 5. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <cmocka.h>
#include <libpq-fe.h>
#include <sqlite3.h>

#include "core/parse.h"
#include "core/secret.h"
#include "store/store.h"
#include "test_store_dual.h"
#include "test_store_pgschema.h"
#include "test_store_util.h"

#define T0 1700000000
#define NDEV 30

struct fixture {
	struct pp_dual d;
	int64_t alpha, beta;
};

/* ---- backends ---- */

static int64_t raw_int(struct fixture *f, const char *sql)
{
	int64_t v = 0;
	if (f->d.pg) {
		PGresult *r = PQexec(f->d.raw, sql);
		if (PQresultStatus(r) != PGRES_TUPLES_OK)
			fail_msg("raw sql '%s': %s", sql, PQerrorMessage(f->d.raw));
		v = PQntuples(r) ? strtoll(PQgetvalue(r, 0, 0), NULL, 10) : 0;
		PQclear(r);
		return v;
	}
	sqlite3 *db = pp_test_sqlite_open(f->d.db);
	sqlite3_stmt *st = NULL;
	assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK);
	if (sqlite3_step(st) == SQLITE_ROW)
		v = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	sqlite3_close(db);
	return v;
}

/* The fixture starts with its struct pp_dual (test_store_dual.h). */
_Static_assert(offsetof(struct fixture, d) == 0, "struct pp_dual first");

static int setup_sqlite(void **state)
{
	return pp_dual_setup_state(state, sizeof(struct fixture), false, "pp-console", 0x3B);
}

static int setup_pg(void **state)
{
	return pp_dual_setup_state(state, sizeof(struct fixture), true, "pp_con", 0x3B);
}

/* ---- helpers ---- */

static void uuid_of(unsigned n, uint8_t out[16])
{
	for (int i = 0; i < 16; i++)
		out[i] = (uint8_t)(0xa0 + i * 3);
	out[14] = (uint8_t)(n >> 8);
	out[15] = (uint8_t)n;
}

static void key(struct fixture *f, int64_t batch, unsigned n)
{
	char pid[9], pps[33], mebx[33];
	pp_test_pid(n, pid);
	pp_test_pps(n, 31, 7, "CQ", pps);
	snprintf(mebx, sizeof(mebx), "Mebx#%06u", n);
	struct pp_key_new k = {.pid = pid,
			       .pps = pps,
			       .mebx_password = mebx,
			       .batch_id = batch,
			       .state = PP_KEY_EXPORTED};
	struct pp_err err = {0};
	if (pp_store_key_insert(f->d.s, &k, &err) < 0)
		fail_msg("key %s: %s", pid, err.msg);
}

/* Device dev's address: numeric and text orders differ (9.x < 10.x < 100.x). */
static void addr_of(unsigned dev, uint8_t a[4])
{
	static const uint8_t first[] = {10, 9, 100, 10, 192};
	a[0] = first[dev % 5];
	a[1] = (uint8_t)(dev % 3);
	a[2] = 0;
	a[3] = (uint8_t)(dev * 37 % 251);
}

static int64_t hello(struct fixture *f, unsigned dev, unsigned keyn, int64_t now,
		     enum pp_hello_outcome *out)
{
	struct pp_hello_in h = {.source = "hello", .now = now};
	struct pp_err err = {0};
	int64_t job = 0;
	enum pp_hello_outcome o;
	uuid_of(dev, h.uuid);
	pp_test_pid(keyn, h.pid);
	addr_of(dev, h.addr);
	if (pp_store_hello(f->d.s, &h, out ? out : &o, &job, &err) < 0)
		fail_msg("hello %u: %s", dev, err.msg);
	return job;
}

static int64_t claim(struct fixture *f, const char *owner, int64_t now)
{
	struct pp_job j;
	size_t n = 0;
	struct pp_err err = {0};
	if (pp_store_jobs_claim(f->d.s, owner, now, 60, 1, &j, &n, &err) < 0)
		fail_msg("claim: %s", err.msg);
	assert_int_equal(n, 1);
	return j.id;
}

static int bind(struct fixture *f, int64_t job, unsigned dev, const char *host, int64_t now)
{
	uint8_t u[16];
	struct pp_err err = {0};
	char out[64];
	uuid_of(dev, u);
	return pp_store_job_bind(f->d.s, job, "w1", u, host, out, now, &err);
}

/* NDEV devices in two batches: provisioned, failed, configuring, one quarantined clone
 * (device 200 proving device 1's key); host names in mixed case, ties in last_seen. */
static void populate(struct fixture *f)
{
	struct pp_err err = {0};
	f->alpha = pp_test_batch(f->d.s, "alpha", false, 0, 3, 1);
	f->beta = pp_test_batch(f->d.s, "beta", false, 0, 5, 2);
	for (unsigned d = 1; d <= NDEV; d++) {
		char host[64];
		int64_t now = T0 + d / 3; /* ties */
		key(f, d % 2 ? f->alpha : f->beta, d);
		int64_t job = hello(f, d, d, now, NULL);
		assert_int_equal(claim(f, "w1", now), job);
		snprintf(host, sizeof(host), "%s-%02u", d % 4 ? "Amt" : "lab", (d * 7) % NDEV);
		assert_int_equal(bind(f, job, d, d % 6 ? host : "", now), 0);
		if (d % 3 == 0) {
			assert_int_equal(
			    pp_store_job_fail(f->d.s, job, "w1", "TLS-PSK: wrong key", &err), 0);
		} else if (d % 3 == 1) {
			assert_int_equal(
			    pp_store_job_step(f->d.s, job, "w1", PP_STEP_COMMIT_SENT, &err), 0);
			assert_int_equal(pp_store_job_complete(f->d.s, job, "w1", host,
							       "example.org", now, &err),
					 0);
		}
	}
	int64_t job = hello(f, 200, 1, T0 + 20, NULL);
	assert_int_equal(claim(f, "w1", T0 + 20), job);
	assert_int_equal(bind(f, job, 200, "clone", T0 + 20), PP_STORE_BIND_CLONE);
}

struct rows {
	int n;
	struct pp_device_info d[NDEV + 8];
};

static int rows_cb(void *ctx, const struct pp_device_info *d)
{
	struct rows *r = ctx;
	assert_true(r->n < NDEV + 8);
	r->d[r->n++] = *d;
	return 0;
}

static int query(struct fixture *f, const struct pp_device_query *q, struct rows *r,
		 uint64_t *total)
{
	struct pp_err err = {0};
	memset(r, 0, sizeof(*r));
	return pp_store_device_query(f->d.s, q, rows_cb, r, total, &err);
}

static struct pp_device_query q_all(void)
{
	return (struct pp_device_query){.state = -1, .quarantined = -1, .limit = 500};
}

/* Compares two devices as sort s orders them (ascending), the id breaking ties. */
static int cmp_sort(enum pp_device_sort s, const struct pp_device_info *a,
		    const struct pp_device_info *b)
{
	int c = 0;
	int64_t x = 0, y = 0;
	switch (s) {
	case PP_DEV_SORT_LAST_SEEN:
		x = a->last_seen, y = b->last_seen;
		break;
	case PP_DEV_SORT_ADDRESS:
		x = ((int64_t)a->addr[0] << 24) | (a->addr[1] << 16) | (a->addr[2] << 8) |
		    a->addr[3];
		y = ((int64_t)b->addr[0] << 24) | (b->addr[1] << 16) | (b->addr[2] << 8) |
		    b->addr[3];
		break;
	case PP_DEV_SORT_HOST_NAME:
		c = strcmp(a->host_name, b->host_name);
		break;
	case PP_DEV_SORT_STATE:
		c = strcmp(pp_device_state_name(a->state), pp_device_state_name(b->state));
		break;
	case PP_DEV_SORT_PID:
		c = strcmp(a->pid, b->pid);
		break;
	default:
		break;
	}
	if (c == 0 && x != y)
		c = x < y ? -1 : 1;
	if (c == 0 && a->id != b->id)
		c = a->id < b->id ? -1 : 1;
	return c;
}

/* ---- tests ---- */

static void test_sort_names(void **state)
{
	(void)state;
	struct pp_err err = {0};
	enum pp_device_sort s;
	for (int i = 0; i < PP_DEV_SORT_MAX; i++) {
		assert_int_equal(
		    pp_device_sort_parse(pp_device_sort_name((enum pp_device_sort)i), &s, &err), 0);
		assert_int_equal((int)s, i);
	}
	assert_string_equal(pp_device_sort_name(PP_DEV_SORT_MAX), "?");
	assert_int_equal(pp_device_sort_parse("size", &s, &err), -PP_EINVAL);
	pp_test_expect_msg(&err, "unknown sort 'size'");
	assert_int_equal(pp_device_sort_parse(NULL, &s, &err), -PP_EINVAL);
}

/* Every sort both ways, paged 4 at a time: each device once, in order, ties by id. */
static void test_sorts_and_paging(void **state)
{
	struct fixture *f = *state;
	populate(f);
	struct rows all, page;
	struct pp_device_query q = q_all();
	uint64_t total = 0;
	assert_int_equal(query(f, &q, &all, &total), 0);
	assert_int_equal(total, NDEV + 1);
	assert_int_equal(all.n, NDEV + 1);
	for (int s = 0; s < PP_DEV_SORT_MAX; s++) {
		for (int desc = 0; desc < 2; desc++) {
			struct pp_device_cursor cur;
			struct pp_device_info seen[NDEV + 8];
			int n = 0, pages = 0;
			q = q_all();
			q.sort = (enum pp_device_sort)s;
			q.desc = desc;
			q.limit = 4;
			for (;;) {
				assert_int_equal(query(f, &q, &page, &total), 0);
				assert_int_equal(total, NDEV + 1);
				pages++;
				for (int i = 0; i < page.n; i++)
					seen[n++] = page.d[i];
				if (page.n < 4)
					break;
				pp_device_cursor_from(q.sort, &page.d[page.n - 1], &cur);
				q.after = &cur;
			}
			assert_int_equal(n, NDEV + 1);
			assert_int_equal(pages, (NDEV + 1) / 4 + 1);
			for (int i = 1; i < n; i++) {
				int c = cmp_sort(q.sort, &seen[i - 1], &seen[i]);
				if (desc ? c <= 0 : c >= 0)
					fail_msg("sort %s %s: row %d out of order",
						 pp_device_sort_name(q.sort), desc ? "desc" : "asc",
						 i);
			}
		}
	}
	/* Address order is numeric: 9.x before 10.x before 100.x. */
	q = q_all();
	q.sort = PP_DEV_SORT_ADDRESS;
	assert_int_equal(query(f, &q, &page, NULL), 0);
	assert_int_equal(page.d[0].addr[0], 9);
	assert_int_equal(page.d[page.n - 1].addr[0], 192);
}

static void test_filters(void **state)
{
	struct fixture *f = *state;
	struct pp_err err = {0};
	populate(f);
	struct pp_store_counts counts;
	assert_int_equal(pp_store_counts(f->d.s, &counts, &err), 0);
	struct rows r;
	uint64_t total = 0;
	for (int st = 0; st < PP_DEV_STATE_MAX; st++) {
		struct pp_device_query q = q_all();
		q.state = st;
		assert_int_equal(query(f, &q, &r, &total), 0);
		assert_int_equal(total, counts.devices_by_state[st]);
		assert_int_equal((uint64_t)r.n, total);
		for (int i = 0; i < r.n; i++)
			assert_int_equal(r.d[i].state, st);
	}
	assert_int_equal(counts.devices_by_state[PP_DEV_QUARANTINED], 1);
	/* Batches: the key held now (device 200 holds device 1's, of alpha). */
	struct pp_device_query q = q_all();
	q.batch = "alpha";
	assert_int_equal(query(f, &q, &r, &total), 0);
	assert_int_equal(total, NDEV / 2 + 1);
	for (int i = 0; i < r.n; i++)
		assert_string_equal(r.d[i].batch, "alpha");
	q.batch = "beta";
	q.state = PP_DEV_PROVISIONED;
	assert_int_equal(query(f, &q, &r, &total), 0);
	for (int i = 0; i < r.n; i++) {
		assert_string_equal(r.d[i].batch, "beta");
		assert_int_equal(r.d[i].state, PP_DEV_PROVISIONED);
	}
	assert_true(total > 0);
	q.batch = "gamma";
	assert_int_equal(pp_store_device_query(f->d.s, &q, rows_cb, &r, &total, &err),
			 -PP_ENOTFOUND);
	pp_test_expect_msg(&err, "no batch 'gamma'");
	/* Quarantined, with its reason. */
	q = q_all();
	q.quarantined = 1;
	assert_int_equal(query(f, &q, &r, &total), 0);
	assert_int_equal(total, 1);
	assert_true(r.d[0].quarantined);
	assert_non_null(strstr(r.d[0].quarantine_reason, "cloned key"));
	q.quarantined = 0;
	assert_int_equal(query(f, &q, &r, &total), 0);
	assert_int_equal(total, NDEV);
	/* The page is cut at the limit, the total is not. */
	q = q_all();
	q.limit = 3;
	assert_int_equal(query(f, &q, &r, &total), 0);
	assert_int_equal(r.n, 3);
	assert_int_equal(total, NDEV + 1);
	/* No total asked. */
	assert_int_equal(query(f, &q, &r, NULL), 0);
	assert_int_equal(r.n, 3);
}

/* The number of matches of text, and whether device dev is among them. */
static uint64_t search(struct fixture *f, const char *text, unsigned dev, bool *found)
{
	struct rows r;
	struct pp_device_query q = q_all();
	uint64_t total = 0;
	uint8_t u[16];
	q.text = text;
	assert_int_equal(query(f, &q, &r, &total), 0);
	assert_int_equal((uint64_t)r.n, total);
	uuid_of(dev, u);
	*found = false;
	for (int i = 0; i < r.n; i++)
		*found |= memcmp(r.d[i].uuid, u, 16) == 0;
	return total;
}

static void test_search(void **state)
{
	struct fixture *f = *state;
	struct pp_err err = {0};
	bool found;
	populate(f);
	struct pp_device_info d7;
	uint8_t u[16];
	uuid_of(7, u);
	assert_int_equal(pp_store_device_get(f->d.s, u, &d7, &err), 0);
	char ut[37], pid_dash[10], lower[9], addr[16], host[64];
	pp_uuid_format(u, ut);
	/* A UUID fragment, in capitals (stored lower-case): only device 7 ends so. */
	assert_int_equal(search(f, ut + 28, 7, &found), 1);
	assert_true(found);
	/* The PID with and without its dash, and in lower case. */
	snprintf(pid_dash, sizeof(pid_dash), "%.4s-%.4s", d7.pid, d7.pid + 4);
	assert_int_equal(search(f, pid_dash, 7, &found), 1);
	assert_true(found);
	assert_int_equal(search(f, d7.pid, 7, &found), 1);
	for (int i = 0; i < 8; i++)
		lower[i] = (char)(d7.pid[i] | 0x20);
	lower[8] = '\0';
	assert_true(search(f, lower, 7, &found) >= 1);
	assert_true(found);
	/* The whole address. */
	snprintf(addr, sizeof(addr), "%u.%u.%u.%u", d7.addr[0], d7.addr[1], d7.addr[2], d7.addr[3]);
	assert_true(search(f, addr, 7, &found) >= 1);
	assert_true(found);
	/* A host name fragment, case-insensitive ("Amt-19" as "amt-19"). */
	assert_string_equal(d7.host_name, "Amt-19");
	assert_int_equal(search(f, "amt-19", 7, &found), 1);
	assert_true(found);
	snprintf(host, sizeof(host), "LAB-");
	uint64_t labs = search(f, host, 7, &found);
	assert_false(found);
	assert_true(labs >= 4);
	/* LIKE's wildcards are plain characters here. */
	assert_int_equal(search(f, "%", 7, &found), 0);
	assert_int_equal(search(f, "A_t", 7, &found), 0);
	assert_int_equal(search(f, "no-such-thing", 7, &found), 0);
	/* Filters and search together. */
	struct rows r;
	struct pp_device_query q = q_all();
	uint64_t total = 0;
	q.text = "lab-";
	q.state = PP_DEV_FAILED;
	assert_int_equal(query(f, &q, &r, &total), 0);
	for (int i = 0; i < r.n; i++) {
		assert_int_equal(r.d[i].state, PP_DEV_FAILED);
		assert_int_equal(strncasecmp(r.d[i].host_name, "lab-", 4), 0);
	}
}

static void test_bad_queries(void **state)
{
	struct fixture *f = *state;
	struct pp_err err = {0};
	struct rows r;
	struct pp_device_query q = q_all();
	q.limit = 0;
	assert_int_equal(pp_store_device_query(f->d.s, &q, rows_cb, &r, NULL, &err), -PP_EINVAL);
	pp_test_expect_msg(&err, "limit 0 out of range 1..501");
	q.limit = PP_STORE_ROWS_MAX + 1;
	assert_int_equal(pp_store_device_query(f->d.s, &q, rows_cb, &r, NULL, &err), -PP_EINVAL);
	q = q_all();
	char long_text[80];
	memset(long_text, 'a', 65);
	long_text[65] = '\0';
	q.text = long_text;
	assert_int_equal(pp_store_device_query(f->d.s, &q, rows_cb, &r, NULL, &err), -PP_EINVAL);
	pp_test_expect_msg(&err, "longer than 64");
	long_text[64] = '\0';
	assert_int_equal(pp_store_device_query(f->d.s, &q, rows_cb, &r, NULL, &err), 0);
	q.text = "a\nb";
	assert_int_equal(pp_store_device_query(f->d.s, &q, rows_cb, &r, NULL, &err), -PP_EINVAL);
	pp_test_expect_msg(&err, "printable");
	q.text = "caf\xc3\xa9";
	assert_int_equal(pp_store_device_query(f->d.s, &q, rows_cb, &r, NULL, &err), -PP_EINVAL);
	q = q_all();
	q.state = PP_DEV_STATE_MAX;
	assert_int_equal(pp_store_device_query(f->d.s, &q, rows_cb, &r, NULL, &err), -PP_EINVAL);
	q = q_all();
	q.sort = PP_DEV_SORT_MAX;
	assert_int_equal(pp_store_device_query(f->d.s, &q, rows_cb, &r, NULL, &err), -PP_EINVAL);
	q = q_all();
	q.quarantined = 2;
	assert_int_equal(pp_store_device_query(f->d.s, &q, rows_cb, &r, NULL, &err), -PP_EINVAL);
	q = q_all();
	struct pp_device_cursor bad = {.id = -1};
	q.after = &bad;
	assert_int_equal(pp_store_device_query(f->d.s, &q, rows_cb, &r, NULL, &err), -PP_EINVAL);
	pp_test_expect_msg(&err, "bad cursor");
	/* An empty store: no rows, total 0. */
	uint64_t total = 9;
	q = q_all();
	assert_int_equal(query(f, &q, &r, &total), 0);
	assert_int_equal(r.n, 0);
	assert_int_equal(total, 0);
}

struct events {
	int n;
	struct pp_job_event e[PP_JOB_EVENTS_MAX + 8];
};

static int events_cb(void *ctx, const struct pp_job_event *e)
{
	struct events *v = ctx;
	assert_true(v->n < PP_JOB_EVENTS_MAX + 8);
	v->e[v->n++] = *e;
	return 0;
}

static void events_of(struct fixture *f, int64_t job, struct events *v)
{
	struct pp_err err = {0};
	memset(v, 0, sizeof(*v));
	if (pp_store_job_events(f->d.s, job, events_cb, v, &err) < 0)
		fail_msg("events of %lld: %s", (long long)job, err.msg);
}

static void expect_events(const struct events *v, const char *const *names, int n)
{
	for (int i = 0; i < v->n && i < n; i++)
		if (strcmp(v->e[i].event, names[i]) != 0)
			fail_msg("event %d: '%s', expected '%s'", i, v->e[i].event, names[i]);
	assert_int_equal(v->n, n);
}

/* hello -> claim -> bind -> escrow -> next key -> commit-sent -> done. */
static void test_events_of_a_life(void **state)
{
	struct fixture *f = *state;
	struct pp_err err = {0};
	int64_t b = pp_test_batch(f->d.s, "life", false, 0, 3, 1);
	key(f, b, 1);
	int64_t job = hello(f, 1, 1, T0, NULL);
	assert_int_equal(claim(f, "w1", T0 + 1), job);
	assert_int_equal(pp_store_job_step(f->d.s, job, "w1", PP_STEP_READ, &err), 0);
	struct pp_device_secrets sec = {.admin_user = "admin"};
	snprintf(sec.admin_password, sizeof(sec.admin_password), "Adm1n!pass");
	snprintf(sec.mebx_password, sizeof(sec.mebx_password), "Mebx!new1");
	uint8_t u[16];
	uuid_of(1, u);
	assert_int_equal(pp_store_device_escrow(f->d.s, u, &sec, &err), 0);
	assert_int_equal(pp_store_device_escrow(f->d.s, u, &sec, &err), 0); /* a repeat */
	char npid[9], npps[33];
	pp_test_pid(99, npid);
	pp_test_pps(99, 31, 7, "CQ", npps);
	struct pp_pid p;
	struct pp_pps s;
	assert_int_equal(pp_store_job_next_key(f->d.s, job, "w1", npid, npps, &p, &s, &err), 0);
	pp_wipe(&s, sizeof(s));
	assert_int_equal(pp_store_job_step(f->d.s, job, "w1", PP_STEP_PSK, &err), 0);
	assert_int_equal(pp_store_job_step(f->d.s, job, "w1", PP_STEP_COMMIT_SENT, &err), 0);
	assert_int_equal(pp_store_job_complete(f->d.s, job, "w1", "amt-1", "", T0 + 5, &err), 0);
	struct events v;
	events_of(f, job, &v);
	static const char *const life[] = {"queued",   "claimed",     "bound", "escrowed",
					   "next-key", "commit-sent", "done"};
	expect_events(&v, life, 7);
	assert_non_null(strstr(v.e[0].detail, "hello from 9.1.0.37"));
	assert_string_equal(v.e[1].detail, "w1 attempt 1");
	assert_int_equal(v.e[1].time, T0 + 1);
	assert_non_null(strstr(v.e[4].detail, npid));
	for (int i = 0; i < v.n; i++) {
		assert_int_equal(v.e[i].job_id, job);
		assert_null(strstr(v.e[i].detail, "Adm1n"));
		assert_null(strstr(v.e[i].detail, npps));
	}
	assert_int_equal(pp_store_job_events(f->d.s, job + 1000, events_cb, &v, &err),
			 -PP_ENOTFOUND);
}

static void test_events_retry_fail_clone(void **state)
{
	struct fixture *f = *state;
	struct pp_err err = {0};
	int64_t b = pp_test_batch(f->d.s, "rf", false, 0, 3, 1);
	key(f, b, 1);
	key(f, b, 2);
	int64_t job = hello(f, 1, 1, T0, NULL);
	assert_int_equal(claim(f, "w1", T0), job);
	assert_int_equal(pp_store_job_retry(f->d.s, job, "w1", T0 + 30, "no answer", &err), 0);
	assert_int_equal(claim(f, "w2", T0 + 30), job);
	assert_int_equal(pp_store_job_fail(f->d.s, job, "w2", "gave up", &err), 0);
	struct events v;
	events_of(f, job, &v);
	static const char *const rf[] = {"queued", "claimed", "retry", "claimed", "failed"};
	expect_events(&v, rf, 5);
	assert_non_null(strstr(v.e[2].detail, "no answer; next attempt at"));
	assert_string_equal(v.e[3].detail, "w2 attempt 2");
	assert_string_equal(v.e[4].detail, "gave up");
	/* A clone: key 2 bound to device 2, then device 3 proves it. */
	int64_t j2 = hello(f, 2, 2, T0, NULL);
	assert_int_equal(claim(f, "w1", T0 + 40), j2);
	assert_int_equal(bind(f, j2, 2, "", T0 + 40), 0);
	int64_t j3 = hello(f, 3, 2, T0 + 41, NULL);
	assert_int_equal(claim(f, "w1", T0 + 41), j3);
	assert_int_equal(bind(f, j3, 3, "", T0 + 41), PP_STORE_BIND_CLONE);
	events_of(f, j3, &v);
	static const char *const cl[] = {"queued", "claimed", "quarantined"};
	expect_events(&v, cl, 3);
	assert_non_null(strstr(v.e[2].detail, "cloned key"));
	/* A job whose hello named another device: bound, then uuid-corrected. */
	key(f, b, 4);
	int64_t j4 = hello(f, 4, 4, T0 + 50, NULL);
	assert_int_equal(claim(f, "w1", T0 + 50), j4);
	assert_int_equal(bind(f, j4, 5, "", T0 + 50), 0);
	events_of(f, j4, &v);
	static const char *const uc[] = {"queued", "claimed", "bound", "uuid-corrected"};
	expect_events(&v, uc, 4);
}

/* Beyond PP_JOB_EVENTS_MAX, the oldest claims and retries go; start and end stay. */
static void test_events_cap(void **state)
{
	struct fixture *f = *state;
	struct pp_err err = {0};
	int64_t b = pp_test_batch(f->d.s, "cap", false, 0, 3, 1);
	key(f, b, 1);
	int64_t job = hello(f, 1, 1, T0, NULL);
	for (int i = 0; i < 40; i++) {
		assert_int_equal(claim(f, "w1", T0 + 10 * i), job);
		assert_int_equal(
		    pp_store_job_retry(f->d.s, job, "w1", T0 + 10 * i + 10, "later", &err), 0);
	}
	assert_int_equal(claim(f, "w1", T0 + 400), job);
	assert_int_equal(pp_store_job_fail(f->d.s, job, "w1", "enough", &err), 0);
	struct events v;
	events_of(f, job, &v);
	assert_int_equal(v.n, PP_JOB_EVENTS_MAX);
	assert_string_equal(v.e[0].event, "queued");
	assert_string_equal(v.e[v.n - 1].event, "failed");
	assert_string_equal(v.e[v.n - 2].event, "claimed");
	assert_string_equal(v.e[v.n - 2].detail, "w1 attempt 41");
	int claims = 0;
	for (int i = 0; i < v.n; i++)
		claims += strcmp(v.e[i].event, "claimed") == 0;
	assert_int_equal(claims, (PP_JOB_EVENTS_MAX - 2) / 2);
}

/* The last audit entry (its strings copied: they live only during the callback). */
static struct {
	char action[64], actor[64], subject[64], detail[256];
} last_audit;

static int audit_cb(void *ctx, const struct pp_audit_entry *e)
{
	(void)ctx;
	snprintf(last_audit.action, sizeof(last_audit.action), "%s", e->action);
	snprintf(last_audit.actor, sizeof(last_audit.actor), "%s", e->actor);
	snprintf(last_audit.subject, sizeof(last_audit.subject), "%s", e->subject);
	snprintf(last_audit.detail, sizeof(last_audit.detail), "%s", e->detail);
	return 0;
}

static void expect_audit(struct fixture *f, const char *action, const char *actor,
			 const char *subject)
{
	struct pp_err err = {0};
	uint64_t n = 0;
	assert_int_equal(pp_store_audit_list(f->d.s, 0, audit_cb, NULL, &err), 0);
	assert_string_equal(last_audit.action, action);
	assert_string_equal(last_audit.actor, actor);
	assert_string_equal(last_audit.subject, subject);
	assert_int_equal(pp_store_audit_verify(f->d.s, &n, &err), 0);
}

static void test_requeue(void **state)
{
	struct fixture *f = *state;
	struct pp_err err = {0};
	struct pp_job j;
	char id[24], ut[37];
	int64_t b = pp_test_batch(f->d.s, "rq", false, 0, 3, 1);
	key(f, b, 1);
	int64_t job = hello(f, 1, 1, T0, NULL);
	assert_int_equal(pp_store_job_requeue(f->d.s, job + 99, "cli:root", T0, &err),
			 -PP_ENOTFOUND);
	assert_int_equal(pp_store_job_requeue(f->d.s, job, "cli:root", T0, &err), -PP_ESTATE);
	pp_test_expect_msg(&err, "is pending, not failed");
	assert_int_equal(claim(f, "w1", T0), job);
	assert_int_equal(bind(f, job, 1, "", T0), 0);
	assert_int_equal(pp_store_job_step(f->d.s, job, "w1", PP_STEP_ACL, &err), 0);
	assert_int_equal(pp_store_job_fail(f->d.s, job, "w1", "MEBx refused", &err), 0);
	/* Another job of the device active: refused. */
	struct pp_hello_in h = {.source = "agent", .now = T0 + 1, .addr = {10, 9, 9, 9}};
	enum pp_hello_outcome o;
	int64_t other = 0;
	uuid_of(1, h.uuid);
	pp_test_pid(1, h.pid);
	assert_int_equal(pp_store_hello(f->d.s, &h, &o, &other, &err), 0);
	assert_int_equal(o, PP_HELLO_NEW_JOB);
	assert_int_equal(pp_store_job_requeue(f->d.s, job, "cli:root", T0 + 2, &err), -PP_ESTATE);
	pp_test_expect_msg(&err, "of its device is pending");
	assert_int_equal(claim(f, "w1", T0 + 2), other);
	assert_int_equal(pp_store_job_fail(f->d.s, other, "w1", "no answer", &err), 0);
	/* Now it runs again: pending, attempts 0, step kept, device configuring. */
	assert_int_equal(pp_store_job_requeue(f->d.s, job, "cli:root", T0 + 3, &err), 0);
	assert_int_equal(pp_store_job_get(f->d.s, job, &j, &err), 0);
	assert_int_equal(j.state, PP_JOB_PENDING);
	assert_int_equal(j.attempts, 0);
	assert_int_equal(j.step, PP_STEP_ACL);
	assert_int_equal(j.next_attempt_at, T0 + 3);
	assert_string_equal(j.owner, "");
	struct pp_device_info d;
	assert_int_equal(pp_store_device_get(f->d.s, h.uuid, &d, &err), 0);
	assert_int_equal(d.state, PP_DEV_CONFIGURING);
	snprintf(id, sizeof(id), "%lld", (long long)job);
	expect_audit(f, "job.requeued", "cli:root", id);
	pp_uuid_format(h.uuid, ut);
	for (int i = 0; ut[i]; i++)
		ut[i] = (char)(ut[i] >= 'A' && ut[i] <= 'F' ? ut[i] + 32 : ut[i]);
	assert_string_equal(last_audit.detail, ut);
	struct events v;
	events_of(f, job, &v);
	assert_string_equal(v.e[v.n - 1].event, "requeued");
	assert_string_equal(v.e[v.n - 1].detail, "by cli:root");
	/* It is claimed again and goes on. */
	assert_int_equal(claim(f, "w2", T0 + 3), job);
	assert_int_equal(pp_store_job_requeue(f->d.s, job, "cli:root", T0 + 4, &err), -PP_ESTATE);
	/* No actor: refused. */
	assert_int_equal(pp_store_job_requeue(f->d.s, job, "", T0 + 4, &err), -PP_EINVAL);
}

/* Release, refusals, and the quarantine coming back at the next proof. */
static void test_release(void **state)
{
	struct fixture *f = *state;
	struct pp_err err = {0};
	int64_t b = pp_test_batch(f->d.s, "rel", false, 0, 3, 1);
	key(f, b, 1);
	int64_t j1 = hello(f, 1, 1, T0, NULL);
	assert_int_equal(claim(f, "w1", T0), j1);
	assert_int_equal(bind(f, j1, 1, "", T0), 0);
	int64_t j2 = hello(f, 2, 1, T0 + 1, NULL);
	assert_int_equal(claim(f, "w1", T0 + 1), j2);
	assert_int_equal(bind(f, j2, 2, "", T0 + 1), PP_STORE_BIND_CLONE);
	uint8_t u1[16], u2[16], u9[16];
	uuid_of(1, u1);
	uuid_of(2, u2);
	uuid_of(9, u9);
	/* Its job cannot be retried while it is quarantined. */
	assert_int_equal(pp_store_job_requeue(f->d.s, j2, "cli:root", T0 + 2, &err), -PP_ESTATE);
	pp_test_expect_msg(&err, "release the quarantine first");
	/* Refusals. */
	assert_int_equal(pp_store_device_release(f->d.s, u1, "cli:root", "ok", T0 + 2, &err),
			 -PP_ESTATE);
	pp_test_expect_msg(&err, "is configuring, not quarantined");
	assert_int_equal(pp_store_device_release(f->d.s, u9, "cli:root", "ok", T0 + 2, &err),
			 -PP_ENOTFOUND);
	assert_int_equal(pp_store_device_release(f->d.s, u2, "cli:root", "", T0 + 2, &err),
			 -PP_EINVAL);
	assert_int_equal(pp_store_device_release(f->d.s, u2, "cli:root", "a\tb", T0 + 2, &err),
			 -PP_EINVAL);
	char longr[220];
	memset(longr, 'r', 200);
	longr[200] = '\0';
	assert_int_equal(pp_store_device_release(f->d.s, u2, "cli:root", longr, T0 + 2, &err),
			 -PP_EINVAL);
	/* While quarantined, its hellos make no job. */
	enum pp_hello_outcome o;
	assert_int_equal(hello(f, 2, 1, T0 + 2, &o), 0);
	assert_int_equal(o, PP_HELLO_QUARANTINED);
	/* Released: failed, the flag and reason kept as history, audited. */
	assert_int_equal(
	    pp_store_device_release(f->d.s, u2, "api:ops", "checked: lab re-flash", T0 + 3, &err),
	    0);
	struct pp_device_info d;
	assert_int_equal(pp_store_device_get(f->d.s, u2, &d, &err), 0);
	assert_int_equal(d.state, PP_DEV_FAILED);
	assert_true(d.quarantined);
	assert_non_null(strstr(d.quarantine_reason, "cloned key"));
	char ut[37];
	pp_uuid_format(u2, ut);
	for (int i = 0; ut[i]; i++)
		ut[i] = (char)(ut[i] >= 'A' && ut[i] <= 'F' ? ut[i] + 32 : ut[i]);
	expect_audit(f, "device.released", "api:ops", ut);
	assert_string_equal(last_audit.detail, "checked: lab re-flash");
	/* Its next hello makes a job; proving device 1's key again quarantines it again. */
	int64_t j3 = hello(f, 2, 1, T0 + 4, &o);
	assert_int_equal(o, PP_HELLO_SUSPECT_CLONE); /* tried all the same */
	assert_true(j3 > 0);
	assert_int_equal(claim(f, "w1", T0 + 4), j3);
	assert_int_equal(bind(f, j3, 2, "", T0 + 4), PP_STORE_BIND_CLONE);
	assert_int_equal(pp_store_device_get(f->d.s, u2, &d, &err), 0);
	assert_int_equal(d.state, PP_DEV_QUARANTINED);
	/* A released device with a key of its own is configured. */
	key(f, b, 2);
	assert_int_equal(pp_store_device_release(f->d.s, u2, "api:ops", "new key", T0 + 5, &err),
			 0);
	int64_t j4 = hello(f, 2, 2, T0 + 6, &o);
	assert_int_equal(o, PP_HELLO_NEW_JOB);
	assert_int_equal(claim(f, "w1", T0 + 6), j4);
	assert_int_equal(bind(f, j4, 2, "", T0 + 6), 0);
	assert_int_equal(pp_store_device_get(f->d.s, u2, &d, &err), 0);
	assert_int_equal(d.state, PP_DEV_CONFIGURING);
}

struct jobs {
	int n;
	int64_t id[64];
	enum pp_job_state st[64];
	bool bound[64];
	char error[64][PP_STORE_TEXT_MAX + 1];
};

static int jobs_cb(void *ctx, const struct pp_job *j)
{
	struct jobs *v = ctx;
	assert_true(v->n < 64);
	v->id[v->n] = j->id;
	v->bound[v->n] = j->bound;
	snprintf(v->error[v->n], sizeof(v->error[0]), "%s", j->last_error);
	v->st[v->n++] = j->state;
	return 0;
}

static void test_job_pages(void **state)
{
	struct fixture *f = *state;
	struct pp_err err = {0};
	populate(f);
	struct jobs v = {0};
	uint8_t u[16];
	/* Device 200's job (quarantined) and device 1's. */
	uuid_of(1, u);
	assert_int_equal(pp_store_device_jobs(f->d.s, u, 10, jobs_cb, &v, &err), 0);
	assert_int_equal(v.n, 1);
	assert_int_equal(v.st[0], PP_JOB_DONE);
	assert_int_equal(pp_store_device_jobs(f->d.s, u, 0, jobs_cb, &v, &err), -PP_EINVAL);
	assert_int_equal(pp_store_device_jobs(f->d.s, u, 101, jobs_cb, &v, &err), -PP_EINVAL);
	/* All jobs, newest first, 7 a page, every one once. */
	struct pp_job_page p = {.state = -1, .limit = 7, .bound = -1};
	int64_t prev = INT64_MAX, n = 0;
	for (;;) {
		memset(&v, 0, sizeof(v));
		assert_int_equal(pp_store_job_page(f->d.s, &p, jobs_cb, &v, &err), 0);
		for (int i = 0; i < v.n; i++) {
			assert_true(v.id[i] < prev);
			prev = v.id[i];
		}
		n += v.n;
		if (v.n < 7)
			break;
		p.before_id = v.id[v.n - 1];
	}
	assert_int_equal(n, NDEV + 1);
	/* By state. */
	p = (struct pp_job_page){.state = PP_JOB_FAILED, .limit = 500, .bound = -1};
	memset(&v, 0, sizeof(v));
	assert_int_equal(pp_store_job_page(f->d.s, &p, jobs_cb, &v, &err), 0);
	assert_int_equal(v.n, NDEV / 3 + 1); /* the clone's too */
	for (int i = 0; i < v.n; i++)
		assert_int_equal(v.st[i], PP_JOB_FAILED);
	p.limit = 0;
	assert_int_equal(pp_store_job_page(f->d.s, &p, jobs_cb, &v, &err), -PP_EINVAL);
	p.limit = 1;
	p.state = 9;
	assert_int_equal(pp_store_job_page(f->d.s, &p, jobs_cb, &v, &err), -PP_EINVAL);
}

/* The jobs a search finds (state -1 any, bound -1 any), all on one page. */
static int job_search(struct fixture *f, const char *text, int state, int bound, struct jobs *v)
{
	struct pp_err err = {0};
	struct pp_job_page p = {.state = state, .limit = 64, .text = text, .bound = bound};
	memset(v, 0, sizeof(*v));
	return pp_store_job_page(f->d.s, &p, jobs_cb, v, &err);
}

/* A sender with a wrong PPS: a hello, a claim, the handshake fails; never bound. */
static int64_t unproven(struct fixture *f, unsigned dev, unsigned keyn, int64_t now)
{
	struct pp_err err = {0};
	int64_t job = hello(f, dev, keyn, now, NULL);
	assert_int_equal(claim(f, "w1", now), job);
	assert_int_equal(pp_store_job_fail(f->d.s, job, "w1", "TLS-PSK handshake: wrong key", &err),
			 0);
	return job;
}

/* A bound job with a next key (PID 98): found by its next PID. */
static int64_t rotated(struct fixture *f, unsigned dev, unsigned keyn, int64_t now)
{
	struct pp_err err = {0};
	struct pp_device_secrets sec = {.admin_user = "admin"};
	char npid[9], npps[33];
	struct pp_pid p;
	struct pp_pps pps;
	uint8_t u[16];
	int64_t job = hello(f, dev, keyn, now, NULL);
	assert_int_equal(claim(f, "w1", now), job);
	assert_int_equal(bind(f, job, dev, "", now), 0);
	snprintf(sec.admin_password, sizeof(sec.admin_password), "Adm1n!pass");
	snprintf(sec.mebx_password, sizeof(sec.mebx_password), "Mebx!new1");
	uuid_of(dev, u);
	assert_int_equal(pp_store_device_escrow(f->d.s, u, &sec, &err), 0);
	pp_test_pid(98, npid);
	pp_test_pps(98, 31, 7, "CQ", npps);
	assert_int_equal(pp_store_job_next_key(f->d.s, job, "w1", npid, npps, &p, &pps, &err), 0);
	pp_wipe(&pps, sizeof(pps));
	pp_wipe(npps, sizeof(npps));
	return job;
}

static void test_job_search(void **state)
{
	struct fixture *f = *state;
	struct jobs v;
	populate(f);
	key(f, f->alpha, 40);
	int64_t bad = unproven(f, 300, 40, T0 + 30);
	char pid[9], dashed[10], lower[9], addr[16], ut[37];
	uint8_t u[16], a[4];
	pp_test_pid(40, pid);
	snprintf(dashed, sizeof(dashed), "%.4s-%.4s", pid, pid + 4);
	for (int i = 0; i < 9; i++)
		lower[i] = (char)(pid[i] >= 'A' && pid[i] <= 'Z' ? pid[i] | 0x20 : pid[i]);
	addr_of(300, a);
	snprintf(addr, sizeof(addr), "%u.%u.%u.%u", a[0], a[1], a[2], a[3]);
	uuid_of(300, u);
	pp_uuid_format(u, ut);
	/* The unproven sender by its PID (with, without its dash, in lower case), its
	 * address and a UUID fragment in capitals: its failed unbound job and reason. */
	const char *texts[] = {pid, dashed, lower, addr, ut + 24};
	for (size_t i = 0; i < sizeof(texts) / sizeof(texts[0]); i++) {
		assert_int_equal(job_search(f, texts[i], -1, 0, &v), 0);
		if (v.n != 1 || v.id[0] != bad)
			fail_msg("search '%s': %d jobs, first %lld", texts[i], v.n,
				 (long long)(v.n ? v.id[0] : 0));
		assert_int_equal(v.st[0], PP_JOB_FAILED);
		assert_false(v.bound[0]);
		assert_string_equal(v.error[0], "TLS-PSK handshake: wrong key");
	}
	/* Not among the bound; with any binding, and with the state filter. */
	assert_int_equal(job_search(f, dashed, -1, 1, &v), 0);
	assert_int_equal(v.n, 0);
	assert_int_equal(job_search(f, dashed, -1, -1, &v), 0);
	assert_int_equal(v.n, 1);
	assert_int_equal(job_search(f, dashed, PP_JOB_FAILED, 0, &v), 0);
	assert_int_equal(v.n, 1);
	assert_int_equal(job_search(f, dashed, PP_JOB_DONE, -1, &v), 0);
	assert_int_equal(v.n, 0);
	/* The binding alone: every populated job is bound, the sender's is not. */
	assert_int_equal(job_search(f, NULL, -1, 0, &v), 0);
	assert_int_equal(v.n, 1);
	assert_int_equal(v.id[0], bad);
	assert_int_equal(job_search(f, "", -1, 1, &v), 0);
	assert_int_equal(v.n, NDEV + 1);
	for (int i = 0; i < v.n; i++) {
		assert_true(v.bound[i]);
		assert_true(i == 0 || v.id[i] < v.id[i - 1]);
	}
	/* A device's next PID finds its job too. */
	key(f, f->beta, 41);
	int64_t rot = rotated(f, 301, 41, T0 + 31);
	pp_test_pid(98, pid);
	snprintf(dashed, sizeof(dashed), "%.4s-%.4s", pid, pid + 4);
	assert_int_equal(job_search(f, dashed, -1, 1, &v), 0);
	assert_int_equal(v.n, 1);
	assert_int_equal(v.id[0], rot);
}

/* Wildcards, pages of a search, bad searches. */
static void test_job_search_pages(void **state)
{
	struct fixture *f = *state;
	struct jobs v;
	populate(f);
	key(f, f->alpha, 40);
	unproven(f, 300, 40, T0 + 30);
	/* LIKE's wildcards are plain; no match; a search paged by id. */
	assert_int_equal(job_search(f, "%", -1, -1, &v), 0);
	assert_int_equal(v.n, 0);
	assert_int_equal(job_search(f, "no-such-thing", -1, -1, &v), 0);
	assert_int_equal(v.n, 0);
	struct pp_err err = {0};
	struct pp_job_page p = {.state = -1, .limit = 1, .text = "-", .bound = 1};
	int64_t n = 0;
	for (;; n++) {
		memset(&v, 0, sizeof(v));
		assert_int_equal(pp_store_job_page(f->d.s, &p, jobs_cb, &v, &err), 0);
		if (v.n == 0)
			break;
		assert_true(v.bound[0]);
		p.before_id = v.id[0];
	}
	assert_int_equal(n, NDEV + 1); /* every bound job: "-" is in every UUID */
	/* Bad searches. */
	assert_int_equal(job_search(f, "a\x01b", -1, -1, &v), -PP_EINVAL);
	char big[PP_DEVICE_TEXT_MAX + 2];
	memset(big, 'a', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	assert_int_equal(job_search(f, big, -1, -1, &v), -PP_EINVAL);
	big[PP_DEVICE_TEXT_MAX] = '\0';
	assert_int_equal(job_search(f, big, -1, -1, &v), 0);
	assert_int_equal(job_search(f, NULL, -1, 2, &v), -PP_EINVAL);
	assert_int_equal(job_search(f, NULL, -1, -2, &v), -PP_EINVAL);
}

struct stock {
	int n;
	struct pp_key_stock k[4];
};

static int stock_cb(void *ctx, const struct pp_key_stock *k)
{
	struct stock *v = ctx;
	assert_true(v->n < 4);
	v->k[v->n++] = *k;
	return 0;
}

static void test_key_stock(void **state)
{
	struct fixture *f = *state;
	struct pp_err err = {0};
	populate(f);
	int64_t empty = pp_test_batch(f->d.s, "empty", false, 0, 3, 1);
	(void)empty;
	key(f, f->beta, 500); /* one exported key left */
	struct stock v = {0};
	assert_int_equal(pp_store_key_stock(f->d.s, stock_cb, &v, &err), 0);
	assert_int_equal(v.n, 3);
	assert_string_equal(v.k[0].batch, "alpha");
	assert_string_equal(v.k[1].batch, "beta");
	assert_string_equal(v.k[2].batch, "empty");
	assert_int_equal(v.k[0].total, NDEV / 2);
	assert_int_equal(v.k[1].total, NDEV / 2 + 1);
	assert_int_equal(v.k[1].by_state[PP_KEY_EXPORTED], 1);
	assert_int_equal(v.k[2].total, 0);
	/* Provisioned devices consumed their keys; the others hold them in use. */
	uint64_t consumed = v.k[0].by_state[PP_KEY_CONSUMED] + v.k[1].by_state[PP_KEY_CONSUMED];
	assert_int_equal(consumed, NDEV / 3);
	assert_int_equal(v.k[0].quarantined_devices, 1);
	assert_int_equal(v.k[1].quarantined_devices, 0);
	uint64_t sum = 0;
	for (int s = 0; s < PP_KEY_STATE_MAX; s++)
		sum += v.k[0].by_state[s];
	assert_int_equal(sum, v.k[0].total);
}

/* A version-5 database (no job_events, no address_num, no sort indexes) upgrades:
 * addresses get their numbers, events are written from then on. */
static void test_upgrade_from_v5(void **state)
{
	struct fixture *f = *state;
	struct pp_err err = {0};
	populate(f);
	pp_store_close(f->d.s);
	f->d.s = NULL;
	pp_dual_exec(
	    &f->d,
	    "DROP TABLE job_events; DROP INDEX devices_last_seen; "
	    "DROP INDEX devices_host_sort; DROP INDEX devices_address_num; "
	    "DROP INDEX devices_state_sort; DROP INDEX devices_pid_sort; "
	    "DROP INDEX IF EXISTS jobs_state_id; ALTER TABLE devices DROP COLUMN address_num");
	pp_dual_exec(&f->d, f->d.pg ? "UPDATE meta SET ivalue = 5 WHERE name = 'schema_version'"
				    : "UPDATE meta SET value = 5 WHERE name = 'schema_version'");
	assert_int_equal(pp_dual_open_store(&f->d, false, &err), 0);
	assert_int_equal(raw_int(f, f->d.pg
					? "SELECT ivalue FROM meta WHERE name = 'schema_version'"
					: "SELECT value FROM meta WHERE name = 'schema_version'"),
			 PP_STORE_SCHEMA_VERSION);
	assert_int_equal(raw_int(f, "SELECT count(*) FROM devices WHERE address_num = 0"), 0);
	assert_int_equal(raw_int(f, "SELECT count(*) FROM job_events"), 0);
	/* Address order is numeric again. */
	struct rows r;
	struct pp_device_query q = q_all();
	q.sort = PP_DEV_SORT_ADDRESS;
	assert_int_equal(query(f, &q, &r, NULL), 0);
	for (int i = 1; i < r.n; i++)
		assert_true(cmp_sort(q.sort, &r.d[i - 1], &r.d[i]) < 0);
	/* A new job's events. */
	key(f, f->alpha, 300);
	int64_t job = hello(f, 300, 300, T0 + 30, NULL);
	struct events v;
	events_of(f, job, &v);
	assert_int_equal(v.n, 1);
	assert_string_equal(v.e[0].event, "queued");
}

/* A device's row, made when it first proves its key, counts the hello that made its job
 * and dates from it; later hellos count on. */
static void test_device_first_hello(void **state)
{
	struct fixture *f = *state;
	struct pp_err err = {0};
	int64_t b = pp_test_batch(f->d.s, "fh", false, 0, 3, 1);
	key(f, b, 1);
	int64_t job = hello(f, 1, 1, T0, NULL);
	assert_int_equal(claim(f, "w1", T0 + 5), job);
	assert_int_equal(bind(f, job, 1, "", T0 + 5), 0);
	uint8_t u[16];
	uuid_of(1, u);
	struct pp_device_info d;
	assert_int_equal(pp_store_device_get(f->d.s, u, &d, &err), 0);
	assert_int_equal(d.first_seen, T0);
	assert_int_equal(d.hello_count, 1);
	hello(f, 1, 1, T0 + 9, NULL);
	assert_int_equal(pp_store_device_get(f->d.s, u, &d, &err), 0);
	assert_int_equal(d.hello_count, 2);
	assert_int_equal(d.last_seen, T0 + 9);
}

#define CONSOLE_TESTS(T)                                                                           \
	T(test_sorts_and_paging), T(test_filters), T(test_search), T(test_bad_queries),            \
	    T(test_events_of_a_life), T(test_events_retry_fail_clone), T(test_events_cap),         \
	    T(test_requeue), T(test_release), T(test_job_pages), T(test_job_search),               \
	    T(test_job_search_pages), T(test_key_stock), T(test_upgrade_from_v5),                  \
	    T(test_device_first_hello)

/* No argument: the SQLite suite; "pg": the PostgreSQL one (ctest runs both, the
 * second as unit/test_store_console_pg). */
int main(int argc, char **argv)
{
	if (argc > 1 && strcmp(argv[1], "pg") == 0) {
		if (!pg_test_conninfo())
			return pg_test_missing("test_store_console pg");
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup_pg, pp_dual_teardown_state)
		const struct CMUnitTest pg_tests[] = {CONSOLE_TESTS(T)};
#undef T
		return cmocka_run_group_tests_name("console on PostgreSQL", pg_tests, NULL, NULL);
	}
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup_sqlite, pp_dual_teardown_state)
	const struct CMUnitTest sq_tests[] = {cmocka_unit_test(test_sort_names), CONSOLE_TESTS(T)};
#undef T
	return cmocka_run_group_tests_name("console on SQLite", sq_tests, NULL, NULL);
}
