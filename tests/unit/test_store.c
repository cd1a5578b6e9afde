/* The store over SQLite: open, schema, batches, keys, secrets, states, transactions,
 * the audit chain, and what reaches the disk. */
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
#include <openssl/evp.h>
#include <sqlite3.h>

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

static void make_mebx(unsigned long n, char out[33])
{
	snprintf(out, 33, "Mebx!Secret#%06lu", n);
}

static void db_sidecar(const struct fixture *f, const char *suffix, char *out, size_t cap)
{
	int n = snprintf(out, cap, "%s%s", f->db, suffix);
	assert_true(n > 0 && (size_t)n < cap);
}

static void remove_db(const struct fixture *f)
{
	pp_test_remove_db(f->db);
}

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	if (pp_test_scratch("pp-store", f->dir, sizeof(f->dir), f->db, sizeof(f->db)) < 0)
		return -1;
	pp_test_master_key(&f->mk, 0xA0, 1);
	struct pp_err err = {0};
	return pp_test_opened(state, f, pp_store_open_sqlite(f->db, &f->mk, true, &f->s, &err),
			      &err);
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	pp_store_close(f->s);
	remove_db(f);
	char p[320];
	snprintf(p, sizeof(p), "%s/other.db", f->dir);
	unlink(p);
	rmdir(f->dir);
	free(f);
	return 0;
}

static void reopen(struct fixture *f)
{
	struct pp_err err = {0};
	pp_store_close(f->s);
	f->s = NULL;
	if (pp_store_open_sqlite(f->db, &f->mk, false, &f->s, &err) < 0)
		fail_msg("reopen: %s", err.msg);
}

static sqlite3 *raw_open(const struct fixture *f)
{
	return pp_test_sqlite_open(f->db);
}

static void raw_exec(sqlite3 *db, const char *sql)
{
	pp_test_sqlite_exec(db, sql);
}

static int64_t new_batch(struct fixture *f, const char *name, bool derived, uint32_t shared)
{
	int64_t id = pp_test_batch(f->s, name, derived, shared, 3, 1);
	assert_true(id > 0);
	return id;
}

static void add_key(struct fixture *f, int64_t batch, unsigned long n, bool derived,
		    enum pp_key_state st)
{
	char pid[9], pps[33], mebx[33];
	pp_test_pid(n, pid);
	pp_test_pps(n, 31, 17, "QZ", pps);
	make_mebx(n, mebx);
	struct pp_key_new k = {.pid = pid,
			       .pps = derived ? NULL : pps,
			       .mebx_password = mebx,
			       .batch_id = batch,
			       .max_devices = 0,
			       .state = st};
	struct pp_err err = {0};
	if (pp_store_key_insert(f->s, &k, &err) < 0)
		fail_msg("key %s: %s", pid, err.msg);
}

/* ---- open ---- */

static void test_create_and_modes(void **state)
{
	struct fixture *f = *state;
	struct stat st;
	char p[320];
	int64_t b = new_batch(f, "modes", false, 0);
	add_key(f, b, 1, false, PP_KEY_AVAILABLE);
	assert_string_equal(pp_store_backend(f->s), "sqlite");
	/* Written: the database, its WAL and shared-memory files are all 0600. */
	assert_int_equal(stat(f->db, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	db_sidecar(f, "-wal", p, sizeof(p));
	assert_int_equal(stat(p, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	db_sidecar(f, "-shm", p, sizeof(p));
	assert_int_equal(stat(p, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);

	/* Creating over an existing file is refused, and leaves it alone. */
	struct pp_store *other = NULL;
	struct pp_err err = {0};
	assert_int_equal(pp_store_open_sqlite(f->db, &f->mk, true, &other, &err), -PP_EEXIST);
	assert_null(other);
	reopen(f);
	struct pp_key_info ki;
	char pid[9];
	pp_test_pid(1, pid);
	assert_int_equal(pp_store_key_get(f->s, pid, &ki, &err), 0);

	/* A permissive umask at creation changes nothing. */
	snprintf(p, sizeof(p), "%s/other.db", f->dir);
	mode_t old = umask(0);
	int rc = pp_store_open_sqlite(p, &f->mk, true, &other, &err);
	umask(old);
	assert_int_equal(rc, 0);
	assert_int_equal(stat(p, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	pp_store_close(other);
	pp_store_close(NULL);
}

static void test_open_refusals(void **state)
{
	struct fixture *f = *state;
	struct pp_store *other = NULL;
	struct pp_err err = {0};
	char p[320];

	/* No such file. */
	snprintf(p, sizeof(p), "%s/missing.db", f->dir);
	assert_int_equal(pp_store_open_sqlite(p, &f->mk, false, &other, &err), -PP_ENOTFOUND);

	/* Wrong master key. */
	pp_store_close(f->s);
	f->s = NULL;
	struct pp_master_key wrong = f->mk;
	wrong.k[17] ^= 1;
	assert_int_equal(pp_store_open_sqlite(f->db, &wrong, false, &other, &err), -PP_ECRYPTO);
	assert_string_equal(err.msg, "master key does not match this database");
	assert_null(other);

	/* World- or group-readable database. */
	assert_int_equal(chmod(f->db, 0644), 0);
	assert_int_equal(pp_store_open_sqlite(f->db, &f->mk, false, &other, &err), -PP_EPERM);
	assert_int_equal(chmod(f->db, 0640), 0);
	assert_int_equal(pp_store_open_sqlite(f->db, &f->mk, false, &other, &err), -PP_EPERM);
	assert_int_equal(chmod(f->db, 0600), 0);

	/* A newer schema. */
	sqlite3 *db = raw_open(f);
	raw_exec(db, "UPDATE meta SET value = 99 WHERE name = 'schema_version'");
	sqlite3_close(db);
	assert_int_equal(pp_store_open_sqlite(f->db, &f->mk, false, &other, &err), -PP_EVERSION);
	pp_test_expect_msg(&err, "schema version 99");
	db = raw_open(f);
	char sql[96];
	snprintf(sql, sizeof(sql), "UPDATE meta SET value = %d WHERE name = 'schema_version'",
		 PP_STORE_SCHEMA_VERSION);
	raw_exec(db, sql);
	sqlite3_close(db);

	/* The check value removed. */
	db = raw_open(f);
	raw_exec(db, "DELETE FROM meta WHERE name = 'key_check'");
	sqlite3_close(db);
	assert_int_equal(pp_store_open_sqlite(f->db, &f->mk, false, &other, &err), -PP_ESTORE);
	pp_test_expect_msg(&err, "check value");

	/* A SQLite file of someone else, and a file that is no database at all. */
	remove_db(f);
	db = NULL;
	assert_int_equal(sqlite3_open(f->db, &db), SQLITE_OK);
	raw_exec(db, "CREATE TABLE t (x)");
	sqlite3_close(db);
	assert_int_equal(chmod(f->db, 0600), 0);
	assert_int_equal(pp_store_open_sqlite(f->db, &f->mk, false, &other, &err), -PP_ESTORE);
	pp_test_expect_msg(&err, "not a pskprov database");
	remove_db(f);
	FILE *fp = fopen(f->db, "w");
	assert_non_null(fp);
	for (int i = 0; i < 200; i++)
		fputs("not a database. ", fp);
	fclose(fp);
	assert_int_equal(chmod(f->db, 0600), 0);
	assert_int_equal(pp_store_open_sqlite(f->db, &f->mk, false, &other, &err), -PP_ESTORE);
	assert_null(other);
	/* Empty file: no schema. */
	remove_db(f);
	fp = fopen(f->db, "w");
	fclose(fp);
	assert_int_equal(chmod(f->db, 0600), 0);
	assert_int_equal(pp_store_open_sqlite(f->db, &f->mk, false, &other, &err), -PP_ESTORE);
	/* Leave a good database for teardown. */
	remove_db(f);
	assert_int_equal(pp_store_open_sqlite(f->db, &f->mk, true, &f->s, &err), 0);
}

/* ---- batches ---- */

static void test_state_names(void **state)
{
	(void)state;
	struct pp_err err = {0};
	static const char *const names[] = {"available", "exported", "in-use",
					    "consumed",  "revoked",  "expired"};
	for (int i = 0; i < PP_KEY_STATE_MAX; i++) {
		enum pp_key_state st;
		assert_string_equal(pp_key_state_name((enum pp_key_state)i), names[i]);
		assert_int_equal(pp_key_state_parse(names[i], &st, &err), 0);
		assert_int_equal(st, i);
	}
	enum pp_key_state st;
	assert_int_equal(pp_key_state_parse("in_use", &st, &err), -PP_EINVAL);
	assert_int_equal(pp_key_state_parse("Available", &st, &err), -PP_EINVAL);
	assert_int_equal(pp_key_state_parse("", &st, &err), -PP_EINVAL);
	assert_int_equal(pp_key_state_parse(NULL, &st, &err), -PP_EINVAL);
	assert_string_equal(pp_key_state_name(PP_KEY_STATE_MAX), "?");
	assert_string_equal(pp_key_state_name((enum pp_key_state) - 1), "?");
}

/* ---- audit ---- */

/* SQLite's triggers keep the log append-only; around them, the chain finds a change.
 * (The chain itself: c_test_audit_chain, on both backends.) */
static void test_audit_triggers(void **state)
{
	struct fixture *f = *state;
	struct pp_err err = {0};
	uint64_t entries = 0;
	pp_test_audit_append_n(f->s, 10);
	sqlite3 *db = raw_open(f);
	/* The triggers refuse UPDATE and DELETE. */
	char *msg = NULL;
	assert_int_not_equal(
	    sqlite3_exec(db, "UPDATE audit SET detail = 'x' WHERE seq = 2", NULL, NULL, &msg),
	    SQLITE_OK);
	assert_non_null(strstr(msg, "append-only"));
	sqlite3_free(msg);
	msg = NULL;
	assert_int_not_equal(sqlite3_exec(db, "DELETE FROM audit WHERE seq = 10", NULL, NULL, &msg),
			     SQLITE_OK);
	assert_non_null(strstr(msg, "append-only"));
	sqlite3_free(msg);
	assert_int_equal(pp_store_audit_verify(f->s, &entries, &err), 0);
	assert_int_equal(entries, 10);

	/* Around the triggers: an altered detail is found at its seq. */
	raw_exec(db, "DROP TRIGGER audit_no_update");
	raw_exec(db, "DROP TRIGGER audit_no_delete");
	raw_exec(db, "UPDATE audit SET detail = 'nothing happened' WHERE seq = 4");
	assert_int_equal(pp_store_audit_verify(f->s, &entries, &err), -PP_ECRYPTO);
	pp_test_expect_msg(&err, "seq 4");
	assert_int_equal(entries, 3);
	sqlite3_close(db);
}

static void test_audit_tamper_kinds(void **state)
{
	struct fixture *f = *state;
	struct pp_err err = {0};
	uint64_t entries = 0;
	pp_test_audit_append_n(f->s, 8);
	sqlite3 *db = raw_open(f);
	raw_exec(db, "DROP TRIGGER audit_no_update");
	raw_exec(db, "DROP TRIGGER audit_no_delete");

	/* A recomputed-looking but wrong stored hash at 6. */
	raw_exec(db, "CREATE TEMP TABLE saved AS SELECT * FROM audit");
	raw_exec(db, "UPDATE audit SET hash = replace(hash, substr(hash, 1, 1), "
		     "CASE substr(hash, 1, 1) WHEN 'a' THEN 'b' ELSE 'a' END) WHERE seq = 6");
	assert_int_equal(pp_store_audit_verify(f->s, &entries, &err), -PP_ECRYPTO);
	pp_test_expect_msg(&err, "seq 6");
	raw_exec(db, "DELETE FROM audit");
	raw_exec(db, "INSERT INTO audit SELECT * FROM saved");
	assert_int_equal(pp_store_audit_verify(f->s, &entries, &err), 0);

	/* Time changed at 2. */
	raw_exec(db, "UPDATE audit SET time = time + 1 WHERE seq = 2");
	assert_int_equal(pp_store_audit_verify(f->s, &entries, &err), -PP_ECRYPTO);
	pp_test_expect_msg(&err, "seq 2");
	raw_exec(db, "DELETE FROM audit");
	raw_exec(db, "INSERT INTO audit SELECT * FROM saved");

	/* Fields shifted between actor and action (the length prefixes tell). */
	raw_exec(db, "UPDATE audit SET actor = actor || substr(action, 1, 1), "
		     "action = substr(action, 2) WHERE seq = 1");
	assert_int_equal(pp_store_audit_verify(f->s, &entries, &err), -PP_ECRYPTO);
	pp_test_expect_msg(&err, "seq 1");
	raw_exec(db, "DELETE FROM audit");
	raw_exec(db, "INSERT INTO audit SELECT * FROM saved");

	/* An entry removed from the middle. */
	raw_exec(db, "DELETE FROM audit WHERE seq = 5");
	assert_int_equal(pp_store_audit_verify(f->s, &entries, &err), -PP_ECRYPTO);
	pp_test_expect_msg(&err, "seq 5");
	assert_int_equal(entries, 4);
	raw_exec(db, "DELETE FROM audit");
	raw_exec(db, "INSERT INTO audit SELECT * FROM saved");

	/* Two entries swapped (seq kept, contents exchanged). */
	raw_exec(db, "UPDATE audit SET seq = 100 WHERE seq = 3");
	raw_exec(db, "UPDATE audit SET seq = 3 WHERE seq = 4");
	raw_exec(db, "UPDATE audit SET seq = 4 WHERE seq = 100");
	assert_int_equal(pp_store_audit_verify(f->s, &entries, &err), -PP_ECRYPTO);
	pp_test_expect_msg(&err, "seq 3");
	raw_exec(db, "DELETE FROM audit");
	raw_exec(db, "INSERT INTO audit SELECT * FROM saved");
	assert_int_equal(pp_store_audit_verify(f->s, &entries, &err), 0);
	assert_int_equal(entries, 8);
	sqlite3_close(db);

	/* Appending continues the chain. */
	pp_test_audit_append_n(f->s, 2);
	assert_int_equal(pp_store_audit_verify(f->s, &entries, &err), 0);
	assert_int_equal(entries, 10);
}

/* ---- the rest of the schema (devices, jobs), ready for their API ---- */

static int raw_try(sqlite3 *db, const char *sql)
{
	return sqlite3_exec(db, sql, NULL, NULL, NULL);
}

static void test_schema_constraints(void **state)
{
	struct fixture *f = *state;
	sqlite3 *db = raw_open(f);
	raw_exec(db, "PRAGMA foreign_keys = ON");
	raw_exec(db, "INSERT INTO devices (uuid, pid, address, state, first_seen, last_seen, "
		     "updated) VALUES ('01234567-89ab-cdef-0123-456789abcdef', '0000037M', "
		     "'127.0.0.2', 'seen', 1, 1, 1)");
	/* One active job per device; a finished one does not count. */
	static const char job[] = "INSERT INTO jobs (uuid, pid, address, state, created, updated) "
				  "VALUES ('01234567-89ab-cdef-0123-456789abcdef', '0000037M', "
				  "'127.0.0.2', 'pending', 1, 1)";
	raw_exec(db, job);
	assert_int_not_equal(raw_try(db, job), SQLITE_OK);
	raw_exec(db, "UPDATE jobs SET state = 'retry'");
	assert_int_not_equal(raw_try(db, job), SQLITE_OK);
	raw_exec(db, "UPDATE jobs SET state = 'done', step = 'commit'");
	raw_exec(db, job);
	/* States are checked. */
	assert_int_not_equal(raw_try(db, "UPDATE jobs SET state = 'bogus'"), SQLITE_OK);
	assert_int_not_equal(raw_try(db, "UPDATE devices SET state = 'bogus'"), SQLITE_OK);
	raw_exec(db, "UPDATE devices SET state = 'quarantined', quarantined = 1");
	int64_t b = new_batch(f, "schema", false, 0);
	add_key(f, b, 7, false, PP_KEY_AVAILABLE);
	assert_int_not_equal(raw_try(db, "UPDATE keys SET state = 'in_use'"), SQLITE_OK);
	assert_int_not_equal(raw_try(db, "UPDATE keys SET max_devices = 0"), SQLITE_OK);
	/* A key with no batch, a key use of no key. */
	assert_int_not_equal(raw_try(db,
				     "INSERT INTO keys (pid, batch_id, mebx, state, created, "
				     "updated) VALUES ('0000038N', 999, x'00', 'available', 1, 1)"),
			     SQLITE_OK);
	assert_int_not_equal(
	    raw_try(db, "INSERT INTO key_uses (pid, uuid, first_seen) VALUES ('ZZZZZZZZ', "
			"'01234567-89ab-cdef-0123-456789abcdef', 1)"),
	    SQLITE_OK);
	/* A derived batch needs its secret, a plain one must not have one. */
	assert_int_not_equal(
	    raw_try(db, "INSERT INTO batches (name, derived, created) VALUES ('x', 1, 1)"),
	    SQLITE_OK);
	assert_int_not_equal(raw_try(db, "INSERT INTO batches (name, derived, secret, created) "
					 "VALUES ('x', 0, x'00', 1)"),
			     SQLITE_OK);
	sqlite3_close(db);
}

/* ---- what reaches the disk ---- */

static uint8_t *slurp(const char *path, size_t *len)
{
	FILE *fp = fopen(path, "rb");
	if (!fp) {
		*len = 0;
		return NULL;
	}
	fseek(fp, 0, SEEK_END);
	long n = ftell(fp);
	fseek(fp, 0, SEEK_SET);
	uint8_t *b = malloc(n > 0 ? (size_t)n : 1);
	assert_non_null(b);
	*len = fread(b, 1, (size_t)n, fp);
	fclose(fp);
	return b;
}

#define SCAN_KEYS 300

/* Returns how many of the PIDs were seen; fails on any PPS or MEBx password. */
static int scan_file(const char *path)
{
	size_t len = 0;
	uint8_t *b = slurp(path, &len);
	int pids = 0;
	for (unsigned long i = 1; b && i <= SCAN_KEYS; i++) {
		char pid[9], pps[33], mebx[33];
		pp_test_pid(i, pid);
		pp_test_pps(i, 31, 17, "QZ", pps);
		make_mebx(i, mebx);
		if (memmem(b, len, pps, 32))
			fail_msg("%s: PPS of key %lu in clear", path, i);
		/* Also the first half: no partial plaintext either. */
		if (memmem(b, len, pps, 16))
			fail_msg("%s: part of a PPS in clear", path);
		if (memmem(b, len, mebx, strlen(mebx)))
			fail_msg("%s: MEBx password of key %lu in clear", path, i);
		if (memmem(b, len, pid, 8))
			pids++;
	}
	if (b && memmem(b, len, "Mebx!Secret", 11))
		fail_msg("%s: MEBx password prefix in clear", path);
	free(b);
	return pids;
}

static void test_no_plaintext_on_disk(void **state)
{
	struct fixture *f = *state;
	struct pp_err err = {0};
	int64_t b = new_batch(f, "scan", false, 0);
	assert_int_equal(pp_store_begin(f->s, &err), 0);
	for (unsigned long i = 1; i <= SCAN_KEYS; i++)
		add_key(f, b, i, false, PP_KEY_AVAILABLE);
	assert_int_equal(pp_store_commit(f->s, &err), 0);
	/* Read them all back once (nothing may be cached to disk in clear either). */
	for (unsigned long i = 1; i <= SCAN_KEYS; i++) {
		char pid[9], mebx[33];
		struct pp_pps pps;
		pp_test_pid(i, pid);
		assert_int_equal(pp_store_key_secrets(f->s, pid, &pps, mebx, sizeof(mebx), &err),
				 0);
	}

	/* While open: the committed pages sit in the WAL. */
	char wal[320];
	db_sidecar(f, "-wal", wal, sizeof(wal));
	struct stat st;
	assert_int_equal(stat(wal, &st), 0);
	assert_true(st.st_size > 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	int seen = scan_file(f->db) + scan_file(wal);
	/* The scanner does read the rows: PIDs are stored in clear. */
	assert_true(seen >= SCAN_KEYS);

	/* After close, everything is checkpointed into the main file. */
	pp_store_close(f->s);
	f->s = NULL;
	assert_int_equal(scan_file(f->db), SCAN_KEYS);
	assert_int_equal(stat(f->db, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	reopen(f);
}

/* Read-only open (issue 9, a data directory nobody may write to): reads work, a write
 * fails with one line and changes nothing, a wrong key is still refused. */
static void test_open_readonly(void **state)
{
	struct fixture *f = *state;
	struct pp_err err = {0};
	new_batch(f, "ro", false, 0);
	pp_store_close(f->s);
	f->s = NULL;
	struct pp_master_key wrong = f->mk;
	wrong.k[0] ^= 1;
	assert_int_equal(pp_store_open_sqlite_readonly(f->db, &wrong, &f->s, &err), -PP_ECRYPTO);
	assert_null(f->s);
	assert_int_equal(pp_store_open_sqlite_readonly(f->db, &f->mk, &f->s, &err), 0);
	struct pp_batch_info bi;
	assert_int_equal(pp_store_batch_get(f->s, "ro", &bi, &err), 0);
	struct pp_batch_new b = {.name = "more"};
	assert_int_equal(pp_store_batch_create(f->s, &b, NULL, &err), -PP_EPERM);
	pp_test_expect_msg(&err, "readonly database");
	assert_null(strchr(err.msg, '\n'));
	reopen(f);
	assert_int_equal(pp_store_batch_get(f->s, "more", &bi, &err), -PP_ENOTFOUND);
	char missing[320];
	snprintf(missing, sizeof(missing), "%s/none.db", f->dir);
	struct pp_store *none = NULL;
	assert_int_equal(pp_store_open_sqlite_readonly(missing, &f->mk, &none, &err),
			 -PP_ENOTFOUND);
}

/* pp_store_open picks the backend from the configuration. */
static void test_open_config(void **state)
{
	struct fixture *f = *state;
	struct pp_err err = {0};
	struct pp_store *o = NULL;
	char url[320];
	struct pp_store_config c = {.kind = PP_STORE_AUTO, .target = f->db};
	assert_int_equal(pp_store_open(&c, &f->mk, &o, &err), 0);
	assert_string_equal(pp_store_backend(o), "sqlite");
	pp_store_close(o);
	snprintf(url, sizeof(url), "sqlite:%s", f->db);
	c.target = url;
	assert_int_equal(pp_store_open(&c, &f->mk, &o, &err), 0);
	pp_store_close(o);
	c.readonly = true;
	assert_int_equal(pp_store_open(&c, &f->mk, &o, &err), 0);
	struct pp_batch_new b = {.name = "ro"};
	assert_int_equal(pp_store_batch_create(o, &b, NULL, &err), -PP_EPERM);
	pp_store_close(o);
	/* Refusals: nothing opened. */
	c.create = true;
	assert_int_equal(pp_store_open(&c, &f->mk, &o, &err), -PP_EINVAL);
	assert_null(o);
	c = (struct pp_store_config){
	    .kind = PP_STORE_POSTGRES, .target = "dbname=x", .readonly = true};
	assert_int_equal(pp_store_open(&c, &f->mk, &o, &err), -PP_EINVAL);
	c = (struct pp_store_config){.kind = PP_STORE_AUTO, .target = ""};
	assert_int_equal(pp_store_open(&c, &f->mk, &o, &err), -PP_EINVAL);
	assert_int_equal(pp_store_open(NULL, &f->mk, &o, &err), -PP_EINVAL);
	/* A URI goes to PostgreSQL: an unreachable one fails there, not as a file. */
	c.target = "postgresql://127.0.0.1:1/none?connect_timeout=2";
	assert_true(pp_store_open(&c, &f->mk, &o, &err) < 0);
	assert_null(strstr(err.msg, "no database at"));
	assert_null(o);
}

int main(void)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
	const struct CMUnitTest tests[] = {
	    T(test_create_and_modes),   T(test_open_refusals),
	    T(test_open_readonly),      cmocka_unit_test(test_state_names),
	    T(test_audit_triggers),     T(test_audit_tamper_kinds),
	    T(test_schema_constraints), T(test_no_plaintext_on_disk),
	    T(test_open_config),
	};
#undef T
	return cmocka_run_group_tests(tests, NULL, NULL);
}
