/* The keys use-cases over temporary SQLite stores: generate a batch, export it as CSV
 * and PSKC, import both into another store, revoke, and the failures (bad count,
 * existing file, unknown batch, corrupt or tampered file) with their messages, none
 * of which may hold a PPS. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>
#include <sqlite3.h>

#include "core/fileio.h"
#include "core/secret.h"
#include "store/masterkey.h"
#include "usecase/keys.h"

#define N_KEYS 20

struct fixture {
	char dir[256];
	struct pp_master_key mk;
	struct pp_store *a, *b;        /* generated in a, imported into b */
	char pps[N_KEYS][PP_PPS_TEXT]; /* the batch's PPSs, dashed, to look for in errors */
	char pps_raw[N_KEYS][PP_PPS_LEN + 1];
	size_t npps;
};

static void expect_msg(const struct pp_err *err, const char *needle)
{
	if (!strstr(err->msg, needle))
		fail_msg("message '%s' lacks '%s'", err->msg, needle);
}

/* No PPS of the batch, in either form, in the message. */
static void expect_no_secret(const struct fixture *f, const struct pp_err *err)
{
	for (size_t i = 0; i < f->npps; i++)
		if (strstr(err->msg, f->pps[i]) || strstr(err->msg, f->pps_raw[i]))
			fail_msg("message '%s' holds PPS %zu", err->msg, i);
}

static void path_in(const struct fixture *f, const char *name, char out[320])
{
	snprintf(out, 320, "%s/%s", f->dir, name);
}

static struct pp_store *open_store(struct fixture *f, const char *name)
{
	char p[320];
	struct pp_err err = {0};
	struct pp_store *s = NULL;
	path_in(f, name, p);
	if (pp_store_open_sqlite(p, &f->mk, true, &s, &err) < 0)
		fail_msg("open %s: %s", name, err.msg);
	return s;
}

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	const char *base = getenv("TMPDIR");
	snprintf(f->dir, sizeof(f->dir), "%s/pp-uckeys-XXXXXX", base && *base ? base : "/tmp");
	if (!f || !mkdtemp(f->dir))
		return -1;
	for (size_t i = 0; i < sizeof(f->mk.k); i++)
		f->mk.k[i] = (uint8_t)(0x5C ^ i);
	f->a = open_store(f, "a.db");
	f->b = open_store(f, "b.db");
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	pp_store_close(f->a);
	pp_store_close(f->b);
	static const char *const names[] = {"a.db",     "a.db-wal", "a.db-shm", "b.db",
					    "b.db-wal", "b.db-shm", "b1.csv",   "b1.pskc",
					    "bad.csv",  "x.csv"};
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		char p[320];
		path_in(f, names[i], p);
		unlink(p);
	}
	rmdir(f->dir);
	pp_wipe(f, sizeof(*f));
	free(f);
	return 0;
}

struct progress_seen {
	uint64_t calls, done, total;
};

static void on_progress(void *ctx, uint64_t done, uint64_t total)
{
	struct progress_seen *p = ctx;
	p->calls++;
	p->done = done;
	p->total = total;
}

static int remember_pps(void *ctx, const struct pp_key_info *k)
{
	struct fixture *f = ctx;
	struct pp_keys_shown shown;
	struct pp_pid pid;
	struct pp_err err = {0};
	memcpy(pid.s, k->pid, sizeof(pid.s));
	if (pp_keys_show(f->a, &pid, true, "test", &shown, &err) < 0)
		fail_msg("show: %s", err.msg);
	pp_pps_format(&shown.pps, f->pps[f->npps]);
	memcpy(f->pps_raw[f->npps++], shown.pps.s, sizeof(shown.pps.s));
	pp_wipe(&shown, sizeof(shown));
	return 0;
}

static void generate_b1(struct fixture *f)
{
	struct progress_seen ps = {0};
	struct pp_keys_generate_opts o = {.batch = "b1",
					  .count = N_KEYS,
					  .mebx_length = 16,
					  .actor = "test",
					  .progress = on_progress,
					  .progress_ctx = &ps};
	struct pp_keys_generate_result r;
	struct pp_err err = {0};
	if (pp_keys_generate(f->a, &o, &r, &err) < 0)
		fail_msg("generate: %s", err.msg);
	assert_int_equal(r.count, N_KEYS);
	assert_true(r.batch_id > 0);
	assert_true(ps.calls >= 1);
	assert_int_equal(ps.done, N_KEYS);
	assert_int_equal(ps.total, N_KEYS);
	struct pp_key_filter kf = {.batch = "b1", .state = PP_KEY_AVAILABLE};
	uint64_t n;
	f->npps = 0;
	assert_int_equal(pp_keys_list(f->a, &kf, remember_pps, f, &n, &err), 0);
	assert_int_equal(n, N_KEYS);
}

static int count_one(void *ctx, const struct pp_key_info *k)
{
	(void)ctx;
	(void)k;
	return 0;
}

static uint64_t count_keys(struct pp_store *s, int state)
{
	struct pp_key_filter kf = {.batch = NULL, .state = state};
	struct pp_err err = {0};
	uint64_t n = 0;
	if (pp_keys_list(s, &kf, count_one, NULL, &n, &err) < 0)
		fail_msg("list: %s", err.msg);
	return n;
}

static const uint8_t transport_key[16] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16};

static const struct pp_pskc_protection tk_prot = {
    .kind = PP_PSKC_TRANSPORT_KEY, .key = transport_key, .key_len = 16, .key_name = "test"};

static int export_b1(struct fixture *f, enum pp_keys_format fmt, const char *name,
		     struct pp_err *err)
{
	char p[320];
	path_in(f, name, p);
	struct pp_keys_export_opts o = {.batch = "b1",
					.format = fmt,
					.path = p,
					.prot = fmt == PP_KEYS_PSKC ? &tk_prot : NULL,
					.actor = "test"};
	struct pp_keys_export_result r;
	int rc = pp_keys_export(f->a, &o, &r, err);
	if (rc == 0)
		assert_int_equal(r.count, N_KEYS);
	return rc;
}

static int import_into(struct fixture *f, struct pp_store *s, const char *name,
		       const struct pp_pskc_protection *prot, struct pp_keys_import_result *r,
		       struct pp_err *err)
{
	char p[320];
	path_in(f, name, p);
	struct pp_keys_file file;
	int rc = pp_keys_file_read(p, &file, err);
	if (rc == 0) {
		struct pp_keys_import_opts o = {
		    .name = name, .file = &file, .prot = prot, .actor = "test"};
		rc = pp_keys_import(s, &o, r, err);
	}
	pp_keys_file_free(&file);
	return rc;
}

/* The PPS of a PID in store s, canonical. */
static void pps_of(struct pp_store *s, const char *pid_text, char out[PP_PPS_LEN + 1])
{
	struct pp_pid pid;
	struct pp_keys_shown k;
	struct pp_err err = {0};
	assert_int_equal(pp_pid_parse(pid_text, &pid, &err), 0);
	if (pp_keys_show(s, &pid, true, "test", &k, &err) < 0)
		fail_msg("show: %s", err.msg);
	memcpy(out, k.pps.s, PP_PPS_LEN + 1);
	pp_wipe(&k, sizeof(k));
}

static int first_pid(void *ctx, const struct pp_key_info *k)
{
	char *out = ctx;
	if (!out[0])
		memcpy(out, k->pid, PP_PID_LEN + 1);
	return 0;
}

/* ---- tests ---- */

static void test_csv_round_trip(void **state)
{
	struct fixture *f = *state;
	struct pp_err err = {0};
	generate_b1(f);
	assert_int_equal(export_b1(f, PP_KEYS_CSV, "b1.csv", &err), 0);
	char p[320];
	struct stat st;
	path_in(f, "b1.csv", p);
	assert_int_equal(stat(p, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	assert_int_equal(count_keys(f->a, PP_KEY_EXPORTED), N_KEYS);

	struct pp_keys_import_result r;
	assert_int_equal(import_into(f, f->b, "b1.csv", NULL, &r, &err), 0);
	assert_int_equal(r.count, N_KEYS);
	assert_int_equal(r.batches_created, 1);
	assert_int_equal(count_keys(f->b, PP_KEY_EXPORTED), N_KEYS);
	char pid[PP_PID_LEN + 1] = "", pa[PP_PPS_LEN + 1], pb[PP_PPS_LEN + 1];
	uint64_t n;
	struct pp_key_filter kf = {.state = -1};
	assert_int_equal(pp_keys_list(f->a, &kf, first_pid, pid, &n, &err), 0);
	pps_of(f->a, pid, pa);
	pps_of(f->b, pid, pb);
	assert_string_equal(pa, pb);
	pp_wipe(pa, sizeof(pa));
	pp_wipe(pb, sizeof(pb));

	/* Twice: every PID is already there; nothing changes. */
	assert_int_equal(import_into(f, f->b, "b1.csv", NULL, &r, &err), -PP_EEXIST);
	expect_msg(&err, "b1.csv: line 2: PID ");
	expect_msg(&err, "is already in the store");
	expect_no_secret(f, &err);
	assert_int_equal(count_keys(f->b, -1), N_KEYS);
}

static void test_pskc_round_trip(void **state)
{
	struct fixture *f = *state;
	struct pp_err err = {0};
	generate_b1(f);
	assert_int_equal(export_b1(f, PP_KEYS_PSKC, "b1.pskc", &err), 0);
	struct pp_keys_import_result r;
	/* No key given for a PSKC file; a wrong key. */
	assert_int_equal(import_into(f, f->b, "b1.pskc", NULL, &r, &err), -PP_EINVAL);
	expect_msg(&err, "is a PSKC container: give --transport-key or --passphrase");
	uint8_t wrong[16];
	memcpy(wrong, transport_key, 16);
	wrong[0] ^= 1;
	struct pp_pskc_protection bad = tk_prot;
	bad.key = wrong;
	assert_int_equal(import_into(f, f->b, "b1.pskc", &bad, &r, &err), -PP_ECRYPTO);
	expect_msg(&err, "b1.pskc: ");
	expect_msg(&err, "wrong transport key or tampered file");
	expect_no_secret(f, &err);
	assert_int_equal(count_keys(f->b, -1), 0);

	assert_int_equal(import_into(f, f->b, "b1.pskc", &tk_prot, &r, &err), 0);
	assert_int_equal(r.count, N_KEYS);
	assert_int_equal(count_keys(f->b, PP_KEY_EXPORTED), N_KEYS);
}

static void test_generate_errors(void **state)
{
	struct fixture *f = *state;
	struct pp_err err = {0};
	struct pp_keys_generate_result r;
	struct pp_keys_generate_opts o = {
	    .batch = "b1", .count = 0, .mebx_length = 16, .actor = "test"};
	assert_int_equal(pp_keys_generate(f->a, &o, &r, &err), -PP_EINVAL);
	assert_string_equal(err.msg, "count: 0 is not in 1..10000000");
	o.count = 3;
	o.shared = 1;
	assert_int_equal(pp_keys_generate(f->a, &o, &r, &err), -PP_EINVAL);
	assert_string_equal(err.msg, "shared: 1 is not in 2..100000");
	o.shared = 0;
	o.batch = "bad/name";
	assert_int_equal(pp_keys_generate(f->a, &o, &r, &err), -PP_EINVAL);
	expect_msg(&err, "batch");
	o.batch = "b2";
	o.mebx_password = "short";
	assert_int_equal(pp_keys_generate(f->a, &o, &r, &err), -PP_EINVAL);
	assert_null(strstr(err.msg, "short"));
	o.mebx_password = NULL;
	assert_int_equal(count_keys(f->a, -1), 0);

	generate_b1(f);
	o.batch = "b1";
	assert_int_equal(pp_keys_generate(f->a, &o, &r, &err), -PP_EEXIST);
	assert_int_equal(count_keys(f->a, -1), N_KEYS);

	/* Derived and shared batches. */
	o.batch = "d1";
	o.derived = true;
	o.shared = 4;
	assert_int_equal(pp_keys_generate(f->a, &o, &r, &err), 0);
	assert_int_equal(count_keys(f->a, -1), N_KEYS + 3);
}

static void test_export_errors(void **state)
{
	struct fixture *f = *state;
	struct pp_err err = {0};
	generate_b1(f);
	char p[320];
	path_in(f, "x.csv", p);
	struct pp_keys_export_opts o = {
	    .batch = "nosuch", .format = PP_KEYS_CSV, .path = p, .actor = "test"};
	struct pp_keys_export_result r;
	assert_int_equal(pp_keys_export(f->a, &o, &r, &err), -PP_ENOTFOUND);
	expect_msg(&err, "nosuch");
	assert_int_equal(access(p, F_OK), -1);

	/* An existing file is never overwritten, and the keys stay available. */
	assert_int_equal(pp_file_create(p, "x", 1, 0600, &err), 0);
	o.batch = "b1";
	assert_int_equal(pp_keys_export(f->a, &o, &r, &err), -PP_EEXIST);
	expect_msg(&err, "already exists");
	expect_no_secret(f, &err);
	assert_int_equal(count_keys(f->a, PP_KEY_AVAILABLE), N_KEYS);
	struct pp_buf b;
	pp_buf_init(&b, 64);
	assert_int_equal(pp_file_read(p, 64, &b, &err), 0);
	assert_int_equal(b.len, 1);
	pp_buf_free(&b);

	/* PSKC without a key. */
	o.format = PP_KEYS_PSKC;
	unlink(p);
	assert_int_equal(pp_keys_export(f->a, &o, &r, &err), -PP_EINVAL);
	assert_int_equal(access(p, F_OK), -1);
}

/* A CSV whose second key has one PPS symbol changed: refused whole, naming the line
 * and group, never the PPS. */
static void test_import_corrupt(void **state)
{
	struct fixture *f = *state;
	struct pp_err err = {0};
	generate_b1(f);
	assert_int_equal(export_b1(f, PP_KEYS_CSV, "b1.csv", &err), 0);
	char p[320], q[320];
	path_in(f, "b1.csv", p);
	path_in(f, "bad.csv", q);
	struct pp_buf b;
	pp_buf_init(&b, 1 << 20);
	assert_int_equal(pp_file_read(p, 1 << 20, &b, &err), 0);
	char *line3 = (char *)b.data;
	for (int i = 0; i < 2; i++)
		line3 = strchr(line3, '\n') + 1;
	char *pps = strchr(line3, ',') + 1;
	pps[0] = pps[0] == 'A' ? 'B' : 'A'; /* group 1's checksum no longer holds */
	assert_int_equal(pp_file_create(q, b.data, b.len, 0600, &err), 0);
	pp_buf_free_wipe(&b);

	struct pp_keys_import_result r;
	assert_int_equal(import_into(f, f->b, "bad.csv", NULL, &r, &err), -PP_ECHECKSUM);
	expect_msg(&err, "bad.csv: line 3: PPS group 1: checksum");
	expect_no_secret(f, &err);
	assert_int_equal(count_keys(f->b, -1), 0);

	/* Neither a CSV nor a PSKC file with a key. */
	assert_int_equal(pp_file_replace(q, "pid,pps\n", 8, 0600, &err), 0);
	assert_int_equal(import_into(f, f->b, "bad.csv", NULL, &r, &err), -PP_EINVAL);
	expect_msg(&err, "header");
	assert_int_equal(import_into(f, f->b, "bad.csv", &tk_prot, &r, &err), -PP_EINVAL);
	expect_msg(&err, "is not a PSKC container");
	assert_int_equal(import_into(f, f->b, "missing.csv", NULL, &r, &err) < 0, 1);
	assert_int_equal(count_keys(f->b, -1), 0);
}

static void test_revoke_show(void **state)
{
	struct fixture *f = *state;
	struct pp_err err = {0};
	generate_b1(f);
	char pid_s[PP_PID_LEN + 1] = "";
	uint64_t n;
	struct pp_key_filter kf = {.state = -1};
	assert_int_equal(pp_keys_list(f->a, &kf, first_pid, pid_s, &n, &err), 0);
	struct pp_pid pid;
	assert_int_equal(pp_pid_parse(pid_s, &pid, &err), 0);
	bool already = true;
	assert_int_equal(pp_keys_revoke(f->a, &pid, "test", &already, &err), 0);
	assert_false(already);
	assert_int_equal(pp_keys_revoke(f->a, &pid, "test", &already, &err), 0);
	assert_true(already);
	struct pp_keys_shown k;
	assert_int_equal(pp_keys_show(f->a, &pid, false, "test", &k, &err), 0);
	assert_int_equal(k.info.state, PP_KEY_REVOKED);
	assert_false(k.revealed);
	assert_string_equal(k.pps.s, "");

	struct pp_pid unknown;
	assert_int_equal(pp_pid_parse("0000-037M", &unknown, &err), 0);
	assert_int_equal(pp_keys_revoke(f->a, &unknown, "test", &already, &err), -PP_ENOTFOUND);
	struct pp_key_filter nb = {.batch = "nosuch", .state = -1};
	assert_int_equal(pp_keys_list(f->a, &nb, count_one, NULL, &n, &err), -PP_ENOTFOUND);
}

struct findings {
	uint64_t seen[PP_FIND_MAX];
	bool in_order; /* nth counts each kind from 1 */
};

static int on_finding(void *ctx, const struct pp_keys_item *it)
{
	struct findings *fs = ctx;
	if (it->nth != ++fs->seen[it->kind])
		fs->in_order = false;
	if ((it->kind <= PP_FIND_SILENT) != (it->key != NULL))
		fail_msg("finding %d without its key", (int)it->kind);
	return 0;
}

/* Exported keys no device has used are reported; so is every shared key. */
static void test_report(void **state)
{
	struct fixture *f = *state;
	struct pp_err err = {0};
	generate_b1(f);
	struct pp_keys_generate_opts o = {
	    .batch = "kiosk", .count = 2, .shared = 5, .mebx_length = 16, .actor = "test"};
	struct pp_keys_generate_result gr;
	assert_int_equal(pp_keys_generate(f->a, &o, &gr, &err), 0);
	assert_int_equal(export_b1(f, PP_KEYS_CSV, "b1.csv", &err), 0);
	struct findings fs = {.in_order = true};
	struct pp_keys_report r;
	assert_int_equal(pp_keys_report_walk(f->a, 0, on_finding, &fs, &r, &err), 0);
	assert_true(fs.in_order);
	assert_int_equal(r.n[PP_FIND_SILENT], N_KEYS);
	assert_int_equal(r.n[PP_FIND_SHARED], 2);
	assert_int_equal(r.n[PP_FIND_LOCKED], 0);
	assert_int_equal(r.n[PP_FIND_QUARANTINED], 0);
	for (int k = 0; k < PP_FIND_MAX; k++)
		assert_int_equal(fs.seen[k], r.n[k]);
}

struct secrets_seen {
	struct pp_store *s;
	const char *mebx; /* the batch's one password, or NULL */
	size_t n;
};

static int open_secrets(void *ctx, const struct pp_key_info *k)
{
	struct secrets_seen *c = ctx;
	struct pp_pps pps;
	char mebx[PP_STORE_MEBX_MAX + 1];
	struct pp_err err = {0};
	if (pp_store_key_secrets(c->s, k->pid, &pps, mebx, sizeof(mebx), &err) < 0)
		fail_msg("key %s: %s", k->pid, err.msg);
	assert_true(pp_pps_valid(&pps));
	if (c->mebx)
		assert_string_equal(mebx, c->mebx);
	else
		assert_int_equal(strlen(mebx), 16);
	pp_wipe(&pps, sizeof(pps));
	pp_wipe(mebx, sizeof(mebx));
	c->n++;
	return 0;
}

static int count_generate(void *ctx, const struct pp_audit_entry *e)
{
	if (strcmp(e->action, "keys.generate") == 0)
		(*(size_t *)ctx)++;
	return 0;
}

/* One SQL answer, a number. */
static int64_t sql_number(const struct fixture *f, const char *sql)
{
	char p[320];
	sqlite3 *db = NULL;
	sqlite3_stmt *st = NULL;
	path_in(f, "a.db", p);
	assert_int_equal(sqlite3_open_v2(p, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_step(st), SQLITE_ROW);
	int64_t v = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	sqlite3_close(db);
	return v;
}

/* Batches of several chunks, random and derived: every key stored in PID order (the
 * PIDs are drawn for the whole batch, sorted), each key's secrets open on their own,
 * one audit entry per batch. */
static void test_generate_bulk(void **state)
{
	struct fixture *f = *state;
	struct pp_err err = {0};
	struct progress_seen ps = {0};
	struct pp_keys_generate_opts o = {.batch = "big",
					  .count = 20000,
					  .mebx_length = 16,
					  .actor = "test",
					  .progress = on_progress,
					  .progress_ctx = &ps};
	struct pp_keys_generate_result r;
	assert_int_equal(pp_keys_generate(f->a, &o, &r, &err), 0);
	assert_int_equal(ps.calls, 3); /* chunks of 8192 */
	assert_int_equal(ps.done, 20000);
	struct pp_keys_generate_opts d = {.batch = "big-derived",
					  .count = 9000,
					  .derived = true,
					  .mebx_password = "One!Batch#Passw0rd",
					  .actor = "test"};
	if (pp_keys_generate(f->a, &d, &r, &err) < 0)
		fail_msg("derived: %s", err.msg);

	assert_int_equal(sql_number(f, "SELECT count(DISTINCT pid) FROM keys"), 29000);
	assert_int_equal(sql_number(f, "SELECT count(*) FROM keys a JOIN keys b ON b.id = a.id + 1 "
				       "AND b.batch_id = a.batch_id WHERE b.pid < a.pid"),
			 0);
	assert_int_equal(sql_number(f, "SELECT count(*) FROM keys k JOIN batches b ON "
				       "b.id = k.batch_id WHERE b.name = 'big-derived' AND "
				       "k.pps IS NULL"),
			 9000);

	struct secrets_seen c = {.s = f->a};
	struct pp_key_filter kf = {.batch = "big", .state = -1};
	assert_int_equal(pp_store_key_list(f->a, &kf, open_secrets, &c, &err), 0);
	assert_int_equal(c.n, 20000);
	c = (struct secrets_seen){.s = f->a, .mebx = "One!Batch#Passw0rd"};
	kf.batch = "big-derived";
	assert_int_equal(pp_store_key_list(f->a, &kf, open_secrets, &c, &err), 0);
	assert_int_equal(c.n, 9000);
	size_t audited = 0;
	assert_int_equal(pp_store_audit_list(f->a, 0, count_generate, &audited, &err), 0);
	assert_int_equal(audited, 2);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_csv_round_trip, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_pskc_round_trip, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_generate_errors, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_export_errors, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_import_corrupt, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_revoke_show, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_report, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_generate_bulk, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
