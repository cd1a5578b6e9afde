/* Devices, jobs, rotation, escrow and lockout on the SQLite backend: the shared
 * contract (test_store_contract.h) plus what is SQLite's own (migration, the bytes of
 * the file). */
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

#include "store/store.h"

struct fixture {
	struct pp_master_key mk;
	struct pp_store *s;
	char dir[256];
	char db[300];
};

#include "test_store_contract.h"

static void remove_db(const struct fixture *f)
{
	pp_test_remove_db(f->db);
}

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	if (!f || pp_test_scratch("pp-jobs", f->dir, sizeof(f->dir), f->db, sizeof(f->db)) < 0)
		return -1;
	pp_test_master_key(&f->mk, 0x5C, 3);
	struct pp_err err = {0};
	return pp_test_opened(state, f, pp_store_open_sqlite(f->db, &f->mk, true, &f->s, &err),
			      &err);
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	pp_store_close(f->s);
	remove_db(f);
	rmdir(f->dir);
	free(f);
	return 0;
}

static struct pp_store *backend_open_other(struct fixture *f)
{
	struct pp_store *o = NULL;
	struct pp_err err = {0};
	return pp_test_handle(pp_store_open_sqlite(f->db, &f->mk, false, &o, &err), &o, &err);
}

static uint8_t *slurp_append(const char *path, uint8_t *b, size_t *len)
{
	FILE *fp = fopen(path, "rb");
	if (!fp)
		return b;
	fseek(fp, 0, SEEK_END);
	long n = ftell(fp);
	fseek(fp, 0, SEEK_SET);
	if (n > 0) {
		uint8_t *nb = realloc(b, *len + (size_t)n);
		assert_non_null(nb);
		b = nb;
		*len += fread(b + *len, 1, (size_t)n, fp);
	}
	fclose(fp);
	return b;
}

/* The database file and its WAL, as they are on disk now. */
static uint8_t *backend_bytes(struct fixture *f, size_t *len)
{
	char wal[320];
	uint8_t *b = malloc(1);
	assert_non_null(b);
	*len = 0;
	b = slurp_append(f->db, b, len);
	snprintf(wal, sizeof(wal), "%s-wal", f->db);
	return slurp_append(wal, b, len);
}

static sqlite3 *raw_open(const struct fixture *f)
{
	return pp_test_sqlite_open(f->db);
}

static void raw_exec(sqlite3 *db, const char *sql)
{
	pp_test_sqlite_exec(db, sql);
}

static void backend_inject_audit_failure(struct fixture *f, bool on)
{
	sqlite3 *db = raw_open(f);
	if (on)
		raw_exec(db, "CREATE TRIGGER test_fail BEFORE INSERT ON audit "
			     "WHEN NEW.action = 'device.provisioned' "
			     "BEGIN SELECT RAISE(ABORT, 'injected failure'); END");
	else
		raw_exec(db, "DROP TRIGGER test_fail");
	sqlite3_close(db);
}

static int64_t raw_int(sqlite3 *db, const char *sql)
{
	sqlite3_stmt *st = NULL;
	assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_step(st), SQLITE_ROW);
	int64_t v = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	return v;
}

static void backend_reopen(struct fixture *f)
{
	struct pp_err err = {0};
	pp_store_close(f->s);
	f->s = NULL;
	if (pp_store_open_sqlite(f->db, &f->mk, false, &f->s, &err) < 0)
		fail_msg("reopen: %s", err.msg);
}

static void backend_raw_exec(struct fixture *f, const char *sql)
{
	sqlite3 *db = raw_open(f);
	raw_exec(db, sql);
	sqlite3_close(db);
}

static void backend_schema_version(struct fixture *f, int version)
{
	char sql[96];
	snprintf(sql, sizeof(sql), "UPDATE meta SET value = %d WHERE name = 'schema_version'",
		 version);
	backend_raw_exec(f, sql);
}

static int64_t backend_raw_int(struct fixture *f, const char *sql)
{
	sqlite3 *db = raw_open(f);
	int64_t v = raw_int(db, sql);
	sqlite3_close(db);
	return v;
}

/* ---- SQLite's own ---- */

/* Takes a database back to schema version 3 (before binding on proof). */
static void undo_v4(sqlite3 *db)
{
	raw_exec(db, C_UNDO_V4_SQL);
}

/* A bound job on key 1 for device 1, then the database taken back to version `to`
 * (sql undoes what came after it, beyond version 4) and opened again: the migrations
 * run. Returns a raw handle on the migrated file. */
static sqlite3 *migrate_from(struct fixture *f, const char *batch, int to, const char *sql)
{
	struct pp_err err = {0};
	char set[96];
	int64_t b = c_batch(f, batch, false, 0);
	c_key(f, b, 1, false, PP_KEY_EXPORTED, 0);
	int64_t job = 0;
	assert_int_equal(c_hello(f, 1, 1, &job), PP_HELLO_NEW_JOB);
	assert_int_equal(c_claim1(f, "w", T0, 60), job);
	assert_int_equal(c_bind(f, job, "w", 1, NULL, NULL), 0);
	pp_store_close(f->s);
	f->s = NULL;
	sqlite3 *db = raw_open(f);
	undo_v4(db);
	raw_exec(db, sql);
	snprintf(set, sizeof(set), "UPDATE meta SET value = %d WHERE name = 'schema_version'", to);
	raw_exec(db, set);
	sqlite3_close(db);
	assert_int_equal(pp_store_open_sqlite(f->db, &f->mk, false, &f->s, &err), 0);
	db = raw_open(f);
	assert_int_equal(raw_int(db, "SELECT value FROM meta WHERE name = 'schema_version'"),
			 PP_STORE_SCHEMA_VERSION);
	return db;
}

/* A version 1 database is migrated on open; the data stays. */
static void test_migration_from_v1(void **state)
{
	struct fixture *f = *state;
	struct pp_err err = {0};
	sqlite3 *db = migrate_from(f, "mig", 1,
				   "DROP INDEX jobs_uuid; "
				   "ALTER TABLE devices DROP COLUMN tls_version; "
				   "ALTER TABLE devices DROP COLUMN tls_cipher");
	assert_int_equal(raw_int(db, "SELECT count(*) FROM sqlite_master WHERE type = 'index' "
				     "AND name = 'jobs_uuid'"),
			 1);
	assert_int_equal(raw_int(db, "SELECT count(*) FROM pragma_table_info('devices') "
				     "WHERE name IN ('tls_version', 'tls_cipher')"),
			 2);
	sqlite3_close(db);
	assert_int_equal(c_hello(f, 1, 1, NULL), PP_HELLO_JOB_ACTIVE);
	/* The device from before the migration has no TLS record yet, and takes one. */
	struct pp_device_info d;
	c_device(f, 1, &d);
	assert_string_equal(d.tls_version, "");
	uint8_t u[16];
	c_uuid(1, u);
	assert_int_equal(pp_store_device_set_tls(f->s, u, "TLSv1", "PSK-AES128-CBC-SHA", &err), 0);
	c_device(f, 1, &d);
	assert_string_equal(d.tls_cipher, "PSK-AES128-CBC-SHA");
}

/* A version 2 database gains the TLS columns (migration 3); its data stays. */
static void test_migration_from_v2(void **state)
{
	struct fixture *f = *state;
	struct pp_err err = {0};
	sqlite3 *db = migrate_from(f, "mig2", 2,
				   "ALTER TABLE devices DROP COLUMN tls_version; "
				   "ALTER TABLE devices DROP COLUMN tls_cipher");
	/* The CHECK constraints came with the columns. */
	assert_int_not_equal(
	    sqlite3_exec(db, "UPDATE devices SET tls_version = ''", NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(db);
	struct pp_device_info d;
	c_device(f, 1, &d);
	assert_int_equal(d.state, PP_DEV_CONFIGURING);
	assert_string_equal(d.tls_version, "");
	uint8_t u[16];
	c_uuid(1, u);
	assert_int_equal(pp_store_device_set_tls(f->s, u, "TLSv1.2", "PSK-AES128-GCM-SHA256", &err),
			 0);
}

/* The lookups of hello and claim use indexes, not scans of the jobs table. */
static void test_query_plans(void **state)
{
	struct fixture *f = *state;
	sqlite3 *db = raw_open(f);
	static const char *const queries[] = {
	    "EXPLAIN QUERY PLAN SELECT id FROM jobs WHERE uuid = 'x' AND "
	    "state IN ('pending', 'running', 'retry')",
	    "EXPLAIN QUERY PLAN SELECT id FROM jobs WHERE uuid = 'x' AND state = 'done' "
	    "ORDER BY id DESC LIMIT 1",
	    "EXPLAIN QUERY PLAN SELECT count(DISTINCT uuid) FROM jobs WHERE pid = 'x' AND "
	    "state = 'done'",
	    "EXPLAIN QUERY PLAN SELECT id FROM jobs WHERE uuid = 'x' AND address = 'y' AND "
	    "state IN ('pending', 'running', 'retry')",
	    "EXPLAIN QUERY PLAN SELECT id FROM jobs WHERE pid = 'x' AND bound = 0 AND "
	    "state <> 'running' AND id <> 3 ORDER BY updated DESC, id DESC LIMIT -1 OFFSET 3",
	    "EXPLAIN QUERY PLAN SELECT count(*) FROM devices WHERE host_name = 'x' AND uuid <> 'y'",
	    "EXPLAIN QUERY PLAN SELECT id FROM jobs WHERE ((state = 'pending' OR state = "
	    "'retry') AND next_attempt_at <= 5) OR (state = 'running' AND lease_until < 5) "
	    "ORDER BY next_attempt_at, id LIMIT 10",
	};
	/* The index each must take where another would walk a whole state (every done
	 * job: an index led by state looks as good without statistics). */
	static const char *const want[] = {NULL, "jobs_uuid", "jobs_pid", NULL, NULL, NULL, NULL};
	_Static_assert(sizeof(want) == sizeof(queries), "one expectation a query");
	for (size_t i = 0; i < sizeof(queries) / sizeof(queries[0]); i++) {
		sqlite3_stmt *st = NULL;
		bool found = !want[i];
		assert_int_equal(sqlite3_prepare_v2(db, queries[i], -1, &st, NULL), SQLITE_OK);
		while (sqlite3_step(st) == SQLITE_ROW) {
			const char *d = (const char *)sqlite3_column_text(st, 3);
			if (d && want[i] && strstr(d, want[i]))
				found = true;
			if (d &&
			    (strncmp(d, "SCAN jobs", 9) == 0 ||
			     strncmp(d, "SCAN devices", 12) == 0) &&
			    !strstr(d, "INDEX"))
				fail_msg("query %zu scans jobs: %s", i, d);
		}
		sqlite3_finalize(st);
		if (!found)
			fail_msg("query %zu does not use %s", i, want[i]);
	}
	sqlite3_close(db);
}

/* After close, everything is in the main file: still no secret in clear. */
static void test_file_after_close(void **state)
{
	struct fixture *f = *state;
	struct pp_err err = {0};
	int64_t b = c_batch(f, "closed", false, 0);
	c_key(f, b, 1, false, PP_KEY_EXPORTED, 0);
	int64_t job = c_run_job(f, 1, 1, 2, "w");
	assert_int_equal(pp_store_job_complete(f->s, job, "w", "h", "d", T0, &err), 0);
	pp_store_close(f->s);
	f->s = NULL;
	size_t len = 0;
	uint8_t *bytes = backend_bytes(f, &len);
	char pps1[33], pps2[33], mebx1[33], pid2[9];
	c_pps(1, pps1);
	c_pps(2, pps2);
	c_mebx(1, mebx1);
	c_pid(2, pid2);
	const char *needles[] = {pps1, pps2, mebx1, "AdminPw!1", "NewMebx#1"};
	assert_non_null(memmem(bytes, len, pid2, 8));
	c_scan_clear(bytes, len, needles, sizeof(needles) / sizeof(needles[0]));
	free(bytes);
	struct stat st;
	assert_int_equal(stat(f->db, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	assert_int_equal(pp_store_open_sqlite(f->db, &f->mk, false, &f->s, &err), 0);
}

int main(void)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
	const struct CMUnitTest tests[] = {
	    CONTRACT_TESTS(T),   T(test_migration_from_v1), T(test_migration_from_v2),
	    T(test_query_plans), T(test_file_after_close),
	};
#undef T
	return cmocka_run_group_tests(tests, NULL, NULL);
}
