/* The store on PostgreSQL: the contract of test_store_contract.h (the same as SQLite's),
 * plus PostgreSQL's own: opening and its refusals, conninfo secrecy, migration,
 * batches, keys and the audit chain, and claims that skip locked rows.
 *
 * Needs a server: PSKPROV_TEST_PG is a libpq conninfo of a database this user may
 * create schemas in (scripts/pg-test.sh starts a throwaway one). Without it the suite
 * reports itself skipped to ctest (test_store_pgenv.h). Each test runs in a schema of its own,
 * dropped afterwards. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <libpq-fe.h>

#include "store/store.h"

struct fixture {
	struct pp_master_key mk;
	struct pp_store *s;
	char schema[64];
	char conninfo[1200];
	PGconn *raw; /* test's own connection, search_path = schema */
};

#include "test_store_contract.h"
#include "test_store_pgenv.h"

#define ENV "PSKPROV_TEST_PG"

static void raw_exec(PGconn *c, const char *sql)
{
	PGresult *r = PQexec(c, sql);
	ExecStatusType st = PQresultStatus(r);
	if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK)
		fail_msg("raw sql '%s': %s", sql, PQerrorMessage(c));
	PQclear(r);
}

/* 0 when the statement failed; the message into msg. */
static int raw_try(PGconn *c, const char *sql, char *msg, size_t cap)
{
	PGresult *r = PQexec(c, sql);
	ExecStatusType st = PQresultStatus(r);
	int ok = st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK;
	if (msg)
		snprintf(msg, cap, "%s", ok ? "" : PQresultErrorMessage(r));
	PQclear(r);
	return ok;
}

static int64_t raw_int(PGconn *c, const char *sql)
{
	PGresult *r = PQexec(c, sql);
	if (PQresultStatus(r) != PGRES_TUPLES_OK || PQntuples(r) != 1)
		fail_msg("raw sql '%s': %s", sql, PQerrorMessage(c));
	int64_t v = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
	PQclear(r);
	return v;
}

/* The environment's conninfo with search_path set to schema. */
static void conninfo_for(const char *schema, char *out, size_t cap)
{
	const char *base = getenv(ENV);
	int n;
	if (strncmp(base, "postgresql://", 13) == 0 || strncmp(base, "postgres://", 11) == 0)
		n = snprintf(out, cap, "%s%coptions=-csearch_path%%3D%s", base,
			     strchr(base, '?') ? '&' : '?', schema);
	else
		n = snprintf(out, cap, "%s options='-csearch_path=%s'", base, schema);
	assert_true(n > 0 && (size_t)n < cap);
}

static void schema_create(PGconn *raw, const char *schema)
{
	char sql[128];
	snprintf(sql, sizeof(sql), "CREATE SCHEMA %s", schema);
	raw_exec(raw, sql);
	snprintf(sql, sizeof(sql), "SET search_path = %s", schema);
	raw_exec(raw, sql);
}

static int setup(void **state)
{
	static unsigned counter;
	struct fixture *f = calloc(1, sizeof(*f));
	if (!f)
		return -1;
	snprintf(f->schema, sizeof(f->schema), "pp_test_%ld_%u", (long)getpid(), ++counter);
	f->raw = PQconnectdb(getenv(ENV));
	if (PQstatus(f->raw) != CONNECTION_OK) {
		fprintf(stderr, "setup: %s", PQerrorMessage(f->raw));
		return -1;
	}
	raw_exec(f->raw, "SET client_min_messages = warning");
	schema_create(f->raw, f->schema);
	conninfo_for(f->schema, f->conninfo, sizeof(f->conninfo));
	pp_test_master_key(&f->mk, 0x3A, 5);
	struct pp_err err = {0};
	return pp_test_opened(state, f,
			      pp_store_open_postgres(f->conninfo, &f->mk, true, &f->s, &err), &err);
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	char sql[128];
	pp_store_close(f->s);
	snprintf(sql, sizeof(sql), "DROP SCHEMA %s CASCADE", f->schema);
	raw_exec(f->raw, sql);
	PQfinish(f->raw);
	free(f);
	return 0;
}

static struct pp_store *backend_open_other(struct fixture *f)
{
	struct pp_store *o = NULL;
	struct pp_err err = {0};
	return pp_test_handle(pp_store_open_postgres(f->conninfo, &f->mk, false, &o, &err), &o,
			      &err);
}

static void append_bytes(uint8_t **b, size_t *len, const void *p, size_t n)
{
	uint8_t *nb = realloc(*b, *len + n + 1);
	assert_non_null(nb);
	memcpy(nb + *len, p, n);
	*b = nb;
	*len += n;
}

static void append_file(uint8_t **b, size_t *len, const char *path)
{
	FILE *fp = fopen(path, "rb");
	char buf[65536];
	size_t n;
	if (!fp)
		return;
	while ((n = fread(buf, 1, sizeof(buf), fp)) > 0)
		append_bytes(b, len, buf, n);
	fclose(fp);
}

static const char *const tables[] = {"meta",    "batches", "keys", "key_uses",
				     "devices", "jobs",    "audit"};

/* Every row as text, every BYTEA raw, and, when this process may read the cluster's
 * files (a local test cluster), the tables' heap files after a checkpoint. */
static uint8_t *backend_bytes(struct fixture *f, size_t *len)
{
	static const char *const blobs[] = {
	    "SELECT bvalue FROM meta WHERE bvalue IS NOT NULL",
	    "SELECT secret FROM batches WHERE secret IS NOT NULL",
	    "SELECT pps FROM keys WHERE pps IS NOT NULL",
	    "SELECT mebx FROM keys",
	    "SELECT admin_secret FROM devices WHERE admin_secret IS NOT NULL",
	    "SELECT mebx FROM devices WHERE mebx IS NOT NULL",
	};
	uint8_t *b = malloc(1);
	char sql[256];
	assert_non_null(b);
	*len = 0;
	for (size_t t = 0; t < sizeof(tables) / sizeof(tables[0]); t++) {
		snprintf(sql, sizeof(sql), "SELECT x::text FROM %s x", tables[t]);
		PGresult *r = PQexec(f->raw, sql);
		assert_int_equal(PQresultStatus(r), PGRES_TUPLES_OK);
		for (int i = 0; i < PQntuples(r); i++)
			append_bytes(&b, len, PQgetvalue(r, i, 0), (size_t)PQgetlength(r, i, 0));
		PQclear(r);
	}
	for (size_t q = 0; q < sizeof(blobs) / sizeof(blobs[0]); q++) {
		PGresult *r = PQexecParams(f->raw, blobs[q], 0, NULL, NULL, NULL, NULL, 1);
		assert_int_equal(PQresultStatus(r), PGRES_TUPLES_OK);
		for (int i = 0; i < PQntuples(r); i++)
			append_bytes(&b, len, PQgetvalue(r, i, 0), (size_t)PQgetlength(r, i, 0));
		PQclear(r);
	}
	if (raw_try(f->raw, "CHECKPOINT", NULL, 0)) {
		for (size_t t = 0; t < sizeof(tables) / sizeof(tables[0]); t++) {
			snprintf(sql, sizeof(sql),
				 "SELECT current_setting('data_directory') || '/' || "
				 "pg_relation_filepath('%s')",
				 tables[t]);
			PGresult *r = PQexec(f->raw, sql);
			if (PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1)
				append_file(&b, len, PQgetvalue(r, 0, 0));
			PQclear(r);
		}
	}
	return b;
}

static void backend_inject_audit_failure(struct fixture *f, bool on)
{
	if (on) {
		raw_exec(f->raw, "CREATE FUNCTION test_fail() RETURNS trigger LANGUAGE plpgsql AS "
				 "$$ BEGIN RAISE EXCEPTION 'injected failure'; END $$");
		raw_exec(f->raw, "CREATE TRIGGER test_fail BEFORE INSERT ON audit FOR EACH ROW "
				 "WHEN (NEW.action = 'device.provisioned') "
				 "EXECUTE FUNCTION test_fail()");
	} else {
		raw_exec(f->raw, "DROP TRIGGER test_fail ON audit");
		raw_exec(f->raw, "DROP FUNCTION test_fail()");
	}
}

static void backend_reopen(struct fixture *f)
{
	struct pp_err err = {0};
	pp_store_close(f->s);
	f->s = NULL;
	if (pp_store_open_postgres(f->conninfo, &f->mk, false, &f->s, &err) < 0)
		fail_msg("reopen: %s", err.msg);
}

static void backend_raw_exec(struct fixture *f, const char *sql)
{
	raw_exec(f->raw, sql);
}

static void backend_schema_version(struct fixture *f, int version)
{
	char sql[96];
	snprintf(sql, sizeof(sql), "UPDATE meta SET ivalue = %d WHERE name = 'schema_version'",
		 version);
	raw_exec(f->raw, sql);
}

static int64_t backend_raw_int(struct fixture *f, const char *sql)
{
	return raw_int(f->raw, sql);
}

/* ---- PostgreSQL's own ---- */

static void test_pg_open(void **state)
{
	struct fixture *f = *state;
	struct pp_err err = {0};
	struct pp_store *o = NULL;
	assert_string_equal(pp_store_backend(f->s), "postgres");
	int64_t b = c_batch(f, "open", false, 0);
	c_key(f, b, 1, false, PP_KEY_EXPORTED, 0);

	/* Creating over existing tables is refused; opening finds the data. */
	assert_int_equal(pp_store_open_postgres(f->conninfo, &f->mk, true, &o, &err), -PP_EEXIST);
	assert_null(o);
	assert_int_equal(pp_store_open_postgres(f->conninfo, &f->mk, false, &o, &err), 0);
	struct pp_key_info k;
	char pid[9];
	c_pid(1, pid);
	assert_int_equal(pp_store_key_get(o, pid, &k, &err), 0);
	pp_store_close(o);

	/* The wrong master key. */
	struct pp_master_key wrong = f->mk;
	wrong.k[3] ^= 0x40;
	assert_int_equal(pp_store_open_postgres(f->conninfo, &wrong, false, &o, &err), -PP_ECRYPTO);
	assert_string_equal(err.msg, "master key does not match this database");
	assert_null(o);

	/* An empty schema: nothing to open. */
	char empty[80], ci[1200];
	snprintf(empty, sizeof(empty), "%s_e", f->schema);
	char sql[160];
	snprintf(sql, sizeof(sql), "CREATE SCHEMA %s", empty);
	raw_exec(f->raw, sql);
	conninfo_for(empty, ci, sizeof(ci));
	assert_int_equal(pp_store_open_postgres(ci, &f->mk, false, &o, &err), -PP_ENOTFOUND);
	c_expect_msg(&err, "pskprov init");
	snprintf(sql, sizeof(sql), "DROP SCHEMA %s CASCADE", empty);
	raw_exec(f->raw, sql);

	/* A newer schema; a missing check value. */
	raw_exec(f->raw, "UPDATE meta SET ivalue = 99 WHERE name = 'schema_version'");
	assert_int_equal(pp_store_open_postgres(f->conninfo, &f->mk, false, &o, &err),
			 -PP_EVERSION);
	c_expect_msg(&err, "schema version 99");
	snprintf(sql, sizeof(sql), "UPDATE meta SET ivalue = %d WHERE name = 'schema_version'",
		 PP_STORE_SCHEMA_VERSION);
	raw_exec(f->raw, sql);
	raw_exec(f->raw, "BEGIN");
	raw_exec(f->raw, "DELETE FROM meta WHERE name = 'key_check'");
	assert_int_equal(pp_store_open_postgres(f->conninfo, &f->mk, false, &o, &err), 0);
	pp_store_close(o); /* the deletion is not committed yet */
	raw_exec(f->raw, "COMMIT");
	assert_int_equal(pp_store_open_postgres(f->conninfo, &f->mk, false, &o, &err), -PP_ESTORE);
	c_expect_msg(&err, "check value");
}

/* A password in a conninfo never reaches an error message. */
static void test_pg_conninfo_secrecy(void **state)
{
	(void)state;
	struct pp_master_key mk = {{0}};
	struct pp_store *o = NULL;
	struct pp_err err = {0};
	static const char *const bad[] = {
	    "host=127.0.0.1 password=Sekrit-0001 port",     /* missing '=' */
	    "host=127.0.0.1 password='Sekrit-0002",         /* unterminated quote */
	    "host=127.0.0.1 passwrd=Sekrit-0003",           /* unknown keyword */
	    "postgresql://u:Sekrit-0004@127.0.0.1:1/d?x=1", /* unknown URI parameter */
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(pp_store_open_postgres(bad[i], &mk, false, &o, &err), -PP_EINVAL);
		assert_null(strstr(err.msg, "Sekrit"));
		assert_null(o);
	}
	/* A server that is not there: libpq's message comes through, the password not. */
	assert_int_equal(pp_store_open_postgres("host=127.0.0.1 port=1 user=nobody "
						"password=Sekrit-0005 dbname=x connect_timeout=2",
						&mk, false, &o, &err),
			 -PP_ESTORE);
	c_expect_msg(&err, "cannot connect");
	assert_null(strstr(err.msg, "Sekrit"));
	assert_null(strchr(err.msg, '\n'));
	/* A wrong password over TCP, where the test cluster (pg-test.sh) has one. */
	const char *port = strstr(getenv(ENV), "port=");
	if (getenv("PSKPROV_PG_DIR") && port) {
		char ci[256];
		long p = strtol(port + 5, NULL, 10);
		snprintf(ci, sizeof(ci),
			 "host=127.0.0.1 port=%ld dbname=x user=postgres password=Sekrit-0006", p);
		assert_int_equal(pp_store_open_postgres(ci, &mk, false, &o, &err), -PP_ESTORE);
		assert_null(strstr(err.msg, "Sekrit"));
		c_expect_msg(&err, "password authentication failed");
	}
	assert_int_equal(pp_store_open_postgres(NULL, &mk, false, &o, &err), -PP_EINVAL);
}

/* Takes the schema back to version 3 (before binding on proof). */
static void undo_v4(struct fixture *f)
{
	raw_exec(f->raw, C_UNDO_V4_SQL);
}

static void test_pg_migration_from_v1(void **state)
{
	struct fixture *f = *state;
	struct pp_err err = {0};
	int64_t b = c_batch(f, "mig", false, 0);
	c_key(f, b, 1, false, PP_KEY_EXPORTED, 0);
	int64_t job = 0;
	assert_int_equal(c_hello(f, 1, 1, &job), PP_HELLO_NEW_JOB);
	assert_int_equal(c_claim1(f, "w", T0, 60), job);
	assert_int_equal(c_bind(f, job, "w", 1, NULL, NULL), 0);
	pp_store_close(f->s);
	f->s = NULL;
	undo_v4(f);
	raw_exec(f->raw, "DROP INDEX jobs_uuid");
	raw_exec(f->raw, "ALTER TABLE devices DROP COLUMN tls_version, DROP COLUMN tls_cipher");
	raw_exec(f->raw, "UPDATE meta SET ivalue = 1 WHERE name = 'schema_version'");
	assert_int_equal(pp_store_open_postgres(f->conninfo, &f->mk, false, &f->s, &err), 0);
	assert_int_equal(raw_int(f->raw, "SELECT ivalue FROM meta WHERE name = 'schema_version'"),
			 PP_STORE_SCHEMA_VERSION);
	assert_int_equal(raw_int(f->raw, "SELECT count(*) FROM pg_indexes WHERE schemaname = "
					 "current_schema() AND indexname = 'jobs_uuid'"),
			 1);
	assert_int_equal(raw_int(f->raw,
				 "SELECT count(*) FROM information_schema.columns WHERE "
				 "table_schema = current_schema() AND table_name = "
				 "'devices' AND column_name IN ('tls_version', 'tls_cipher')"),
			 2);
	assert_int_equal(c_hello(f, 1, 1, NULL), PP_HELLO_JOB_ACTIVE);
	struct pp_device_info d;
	c_device(f, 1, &d);
	assert_string_equal(d.tls_version, "");
	uint8_t u[16];
	c_uuid(1, u);
	assert_int_equal(pp_store_device_set_tls(f->s, u, "TLSv1", "PSK-AES128-CBC-SHA", &err), 0);
	c_device(f, 1, &d);
	assert_string_equal(d.tls_version, "TLSv1");
}

struct pid_seen {
	int n;
	char last[9];
	bool ordered;
};

static int pid_cb(void *ctx, const struct pp_key_info *k)
{
	struct pid_seen *s = ctx;
	if (s->n && strcmp(s->last, k->pid) >= 0)
		s->ordered = false;
	memcpy(s->last, k->pid, sizeof(s->last));
	s->n++;
	return 0;
}

/* More keys than a page of a listing; a duplicate inside the transaction leaves it
 * usable (pid, pps, mebx: key 7's, inserted again as the duplicate). */
static void bk_fill(struct fixture *f, int64_t b, int64_t d, const char *pid, const char *pps,
		    const char *mebx)
{
	struct pp_err err = {0};
	struct pp_batch_new dup = {.name = "keys"};

	assert_int_equal(pp_store_begin(f->s, &err), 0);
	for (unsigned long i = 1; i <= 1203; i++)
		c_key(f, b, i, false, i % 3 ? PP_KEY_AVAILABLE : PP_KEY_EXPORTED, 0);
	struct pp_key_new k = {.pid = pid, .pps = pps, .mebx_password = mebx, .batch_id = b};
	assert_int_equal(pp_store_key_insert(f->s, &k, &err), -PP_EEXIST);
	assert_int_equal(pp_store_batch_create(f->s, &dup, NULL, &err), -PP_EEXIST);
	c_key(f, d, 5000, true, PP_KEY_AVAILABLE, 0);
	assert_int_equal(pp_store_commit(f->s, &err), 0);
}

/* Batch info: the key count, derived or not, an unknown name. */
static void bk_batch_info(struct fixture *f)
{
	struct pp_err err = {0};

	struct pp_batch_info bi;
	assert_int_equal(pp_store_batch_get(f->s, "keys", &bi, &err), 0);
	assert_int_equal(bi.key_count, 1203);
	assert_false(bi.derived);
	assert_int_equal(pp_store_batch_get(f->s, "derived", &bi, &err), 0);
	assert_true(bi.derived);
	assert_int_equal(pp_store_batch_get(f->s, "none", &bi, &err), -PP_ENOTFOUND);
}

/* Key listings: all in PID order, by batch and state, limited, after a PID. */
static void bk_listings(struct fixture *f)
{
	struct pp_err err = {0};

	struct pid_seen seen = {.ordered = true};
	assert_int_equal(pp_store_key_list(f->s, NULL, pid_cb, &seen, &err), 0);
	assert_int_equal(seen.n, 1204);
	assert_true(seen.ordered);
	struct pp_key_filter fl = {.batch = "keys", .state = PP_KEY_EXPORTED};
	seen = (struct pid_seen){.ordered = true};
	assert_int_equal(pp_store_key_list(f->s, &fl, pid_cb, &seen, &err), 0);
	assert_int_equal(seen.n, 401);
	fl = (struct pp_key_filter){.state = PP_KEY_AVAILABLE, .limit = 700};
	seen = (struct pid_seen){.ordered = true};
	assert_int_equal(pp_store_key_list(f->s, &fl, pid_cb, &seen, &err), 0);
	assert_int_equal(seen.n, 700);
	fl = (struct pp_key_filter){.batch = "derived", .state = -1};
	seen = (struct pid_seen){.ordered = true};
	assert_int_equal(pp_store_key_list(f->s, &fl, pid_cb, &seen, &err), 0);
	assert_int_equal(seen.n, 1);
	char p2[9];
	c_pid(2, p2);
	fl = (struct pp_key_filter){.state = -1, .limit = 1, .after = p2};
	seen = (struct pid_seen){.ordered = true};
	assert_int_equal(pp_store_key_list(f->s, &fl, pid_cb, &seen, &err), 0);
	char p3[9];
	c_pid(3, p3);
	assert_string_equal(seen.last, p3);
}

/* Secrets, plain and derived. */
static void bk_secrets(struct fixture *f, const char *pid, const char *pps, const char *mebx)
{
	struct pp_err err = {0};

	struct pp_pps got;
	char gm[PP_STORE_MEBX_MAX + 1];
	assert_int_equal(pp_store_key_secrets(f->s, pid, &got, gm, sizeof(gm), &err), 0);
	assert_string_equal(got.s, pps);
	assert_string_equal(gm, mebx);
	char dp[9];
	c_pid(5000, dp);
	assert_int_equal(pp_store_key_secrets(f->s, dp, &got, NULL, 0, &err), 0);
	assert_int_equal(strlen(got.s), 32);
	struct pp_key_info ki;
	assert_int_equal(pp_store_key_get(f->s, dp, &ki, &err), 0);
	assert_true(ki.derived);
	pp_wipe(&got, sizeof(got));
}

/* States: the allowed moves of a key, and two refused ones. */
static void bk_states(struct fixture *f, const char *pid)
{
	struct pp_err err = {0};
	struct pp_key_info ki;

	assert_int_equal(pp_store_key_set_state(f->s, pid, PP_KEY_EXPORTED, &err), 0);
	assert_int_equal(pp_store_key_get(f->s, pid, &ki, &err), 0);
	assert_true(ki.exported_at > 1700000000);
	assert_int_equal(pp_store_key_set_state(f->s, pid, PP_KEY_AVAILABLE, &err), -PP_ESTATE);
	assert_int_equal(pp_store_key_set_state(f->s, pid, PP_KEY_IN_USE, &err), 0);
	assert_int_equal(pp_store_key_set_state(f->s, pid, PP_KEY_CONSUMED, &err), 0);
	assert_int_equal(pp_store_key_set_state(f->s, pid, PP_KEY_REVOKED, &err), -PP_ESTATE);
}

static void test_pg_batches_and_keys(void **state)
{
	struct fixture *f = *state;
	struct pp_err err = {0};
	int64_t b = c_batch(f, "keys", false, 0);
	int64_t d = c_batch(f, "derived", true, 0);
	struct pp_batch_new dup = {.name = "keys"};
	assert_int_equal(pp_store_batch_create(f->s, &dup, NULL, &err), -PP_EEXIST);

	char pid[9], pps[33], mebx[33];
	c_pid(7, pid);
	c_pps(7, pps);
	c_mebx(7, mebx);
	bk_fill(f, b, d, pid, pps, mebx);
	bk_batch_info(f);
	bk_listings(f);
	bk_secrets(f, pid, pps, mebx);
	bk_states(f, pid);
}

/* Audit appends from two handles at once keep one unbroken chain. */
struct appender {
	struct pp_store *s;
	const char *actor;
	int rc;
	char msg[256];
};

static void *append_run(void *arg)
{
	struct appender *a = arg;
	struct pp_err err = {0};
	for (int i = 0; i < 40; i++) {
		int rc = pp_store_audit_append(a->s, a->actor, "race.append", NULL, NULL, &err);
		if (rc < 0) {
			a->rc = rc;
			snprintf(a->msg, sizeof(a->msg), "%s", err.msg);
			return NULL;
		}
	}
	return NULL;
}

static void test_pg_audit(void **state)
{
	struct fixture *f = *state;
	struct pp_err err = {0};
	uint64_t n = 0;
	for (int i = 0; i < 5; i++)
		assert_int_equal(pp_store_audit_append(f->s, "admin", "act", "s", "d", &err), 0);
	struct appender a = {.s = backend_open_other(f), .actor = "a"};
	struct appender c = {.s = backend_open_other(f), .actor = "c"};
	pthread_t ta, tc;
	assert_int_equal(pthread_create(&ta, NULL, append_run, &a), 0);
	assert_int_equal(pthread_create(&tc, NULL, append_run, &c), 0);
	pthread_join(ta, NULL);
	pthread_join(tc, NULL);
	pp_store_close(a.s);
	pp_store_close(c.s);
	if (a.rc < 0 || c.rc < 0)
		fail_msg("appender: %s%s", a.msg, c.msg);
	assert_int_equal(pp_store_audit_verify(f->s, &n, &err), 0);
	assert_int_equal(n, 85);
	/* More entries than a page of the listing. */
	assert_int_equal(pp_store_begin(f->s, &err), 0);
	for (int i = 0; i < 600; i++)
		assert_int_equal(pp_store_audit_append(f->s, "bulk", "b", NULL, NULL, &err), 0);
	assert_int_equal(pp_store_commit(f->s, &err), 0);
	assert_int_equal(pp_store_audit_verify(f->s, &n, &err), 0);
	assert_int_equal(n, 685);

	/* Append-only, then around the triggers: the chain tells. */
	char msg[512];
	assert_false(
	    raw_try(f->raw, "UPDATE audit SET detail = 'x' WHERE seq = 3", msg, sizeof(msg)));
	assert_non_null(strstr(msg, "append-only"));
	assert_false(raw_try(f->raw, "DELETE FROM audit WHERE seq = 685", msg, sizeof(msg)));
	assert_false(raw_try(f->raw, "TRUNCATE audit", msg, sizeof(msg)));
	assert_non_null(strstr(msg, "append-only"));
	raw_exec(f->raw, "ALTER TABLE audit DISABLE TRIGGER audit_no_change");
	raw_exec(f->raw, "UPDATE audit SET detail = 'nothing happened' WHERE seq = 42");
	assert_int_equal(pp_store_audit_verify(f->s, &n, &err), -PP_ECRYPTO);
	c_expect_msg(&err, "seq 42");
	assert_int_equal(n, 41);
}

/* A job one instance holds in an open transaction is skipped by another, not waited
 * for. */
static void test_pg_skip_locked(void **state)
{
	struct fixture *f = *state;
	struct pp_err err = {0};
	int64_t b = c_batch(f, "skip", false, 0);
	int64_t ids[3];
	for (unsigned long i = 1; i <= 3; i++) {
		c_key(f, b, i, false, PP_KEY_EXPORTED, 0);
		assert_int_equal(c_hello(f, (unsigned)i, i, &ids[i - 1]), PP_HELLO_NEW_JOB);
	}
	struct pp_store *o = backend_open_other(f);
	struct pp_job out[3];
	size_t n = 0;
	assert_int_equal(pp_store_begin(f->s, &err), 0);
	assert_int_equal(pp_store_jobs_claim(f->s, "a", T0, 60, 1, out, &n, &err), 0);
	assert_int_equal(n, 1);
	assert_int_equal(out[0].id, ids[0]);
	struct timespec t0, t1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	assert_int_equal(pp_store_jobs_claim(o, "b", T0, 60, 3, out, &n, &err), 0);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	assert_int_equal(n, 2);
	assert_int_equal(out[0].id, ids[1]);
	assert_int_equal(out[1].id, ids[2]);
	assert_true(t1.tv_sec - t0.tv_sec < 2); /* no wait on the held row */
	/* The holder gives up: its job becomes claimable. */
	assert_int_equal(pp_store_rollback(f->s, &err), 0);
	assert_int_equal(pp_store_jobs_claim(o, "b", T0, 60, 3, out, &n, &err), 0);
	assert_int_equal(n, 1);
	assert_int_equal(out[0].id, ids[0]);
	assert_string_equal(out[0].owner, "b");
	pp_store_close(o);
}

/* Four instances at once: hellos for overlapping devices, then claims and completions,
 * with no pause. Each device gets one job, each job one owner, and the audit chain
 * stays whole (row locks in the documented order, the audit advisory lock). */
#define INST 4
#define INST_DEVICES 120

struct instance {
	struct pp_store *s;
	char owner[16];
	int idx;
	int claimed;
	int busy; /* lock waits that ran out, deadlocks: retried */
	int64_t jobs[INST_DEVICES];
	int rc;
	char msg[300];
};

static int inst_fail(struct instance *in, int rc, const struct pp_err *err)
{
	in->rc = rc;
	snprintf(in->msg, sizeof(in->msg), "%s: %s", in->owner, err->msg);
	return rc;
}

static void *instance_run(void *arg)
{
	struct instance *in = arg;
	struct pp_err err = {0};
	/* Every instance hears every device's hello (retries land anywhere). */
	for (unsigned d = 0; d < INST_DEVICES; d++) {
		unsigned dev = (d + (unsigned)in->idx * 31) % INST_DEVICES + 1;
		struct pp_hello_in h = {.source = "hello", .now = T0};
		c_uuid(dev, h.uuid);
		c_pid(dev, h.pid);
		h.addr[0] = 127;
		h.addr[3] = (uint8_t)dev;
		enum pp_hello_outcome o;
		int rc = pp_store_hello(in->s, &h, &o, NULL, &err);
		if (rc == -PP_EBUSY) {
			in->busy++;
			d--; /* a lock wait ran out: again */
			continue;
		}
		if (rc < 0)
			return inst_fail(in, rc, &err), NULL;
		/* Another instance may already have finished the device. */
		if (o != PP_HELLO_NEW_JOB && o != PP_HELLO_JOB_ACTIVE &&
		    o != PP_HELLO_ALREADY_PROVISIONED) {
			snprintf(in->msg, sizeof(in->msg), "hello %u: outcome %d", dev, (int)o);
			in->rc = -1;
			return NULL;
		}
	}
	for (int idle = 0; idle < 50;) {
		struct pp_job out[1];
		size_t n = 0;
		int rc = pp_store_jobs_claim(in->s, in->owner, T0 + 1, 600, 1, out, &n, &err);
		if (rc == -PP_EBUSY) {
			in->busy++;
			continue;
		}
		if (rc < 0)
			return inst_fail(in, rc, &err), NULL;
		if (n == 0) {
			idle++;
			continue;
		}
		in->jobs[in->claimed++] = out[0].id;
		/* A deadlock PostgreSQL broke, or a lock wait that ran out, is -PP_EBUSY:
		 * nothing was written, so the step is tried again (as the server's store
		 * thread does). */
		int tries = 0;
		do {
			rc = pp_store_job_step(in->s, out[0].id, in->owner, PP_STEP_READ, &err);
			if (rc == 0)
				rc = pp_store_job_complete(in->s, out[0].id, in->owner, "h", "d",
							   T0 + 2, &err);
			if (rc == -PP_EBUSY)
				in->busy++;
		} while (rc == -PP_EBUSY && ++tries < 20);
		if (rc < 0)
			return inst_fail(in, rc, &err), NULL;
	}
	return NULL;
}

static void test_pg_many_instances(void **state)
{
	struct fixture *f = *state;
	struct pp_err err = {0};
	int64_t b = c_batch(f, "many", false, 0);
	assert_int_equal(pp_store_begin(f->s, &err), 0);
	for (unsigned long i = 1; i <= INST_DEVICES; i++)
		c_key(f, b, i, false, PP_KEY_EXPORTED, 0);
	assert_int_equal(pp_store_commit(f->s, &err), 0);
	struct instance in[INST];
	pthread_t th[INST];
	memset(in, 0, sizeof(in));
	for (int i = 0; i < INST; i++) {
		in[i].s = backend_open_other(f);
		in[i].idx = i;
		snprintf(in[i].owner, sizeof(in[i].owner), "inst-%d", i);
	}
	for (int i = 0; i < INST; i++)
		assert_int_equal(pthread_create(&th[i], NULL, instance_run, &in[i]), 0);
	for (int i = 0; i < INST; i++)
		pthread_join(th[i], NULL);
	int total = 0;
	for (int i = 0; i < INST; i++) {
		pp_store_close(in[i].s);
		if (in[i].rc < 0)
			fail_msg("instance %d failed (rc %d): %s", i, in[i].rc, in[i].msg);
		total += in[i].claimed;
		print_message("     %s claimed and completed %d jobs (%d retries)\n", in[i].owner,
			      in[i].claimed, in[i].busy);
	}
	assert_int_equal(total, INST_DEVICES);
	assert_int_equal(c_job_count(f, -1), INST_DEVICES);
	struct pp_store_counts c;
	assert_int_equal(pp_store_counts(f->s, &c, &err), 0);
	assert_int_equal(c.jobs_by_state[PP_JOB_DONE], INST_DEVICES);
	assert_int_equal(c.devices_by_state[PP_DEV_PROVISIONED], INST_DEVICES);
	assert_int_equal(c.keys_by_state[PP_KEY_CONSUMED], INST_DEVICES);
	assert_int_equal(c.devices_by_state[PP_DEV_QUARANTINED], 0);
	uint64_t n = 0;
	assert_int_equal(pp_store_audit_verify(f->s, &n, &err), 0);
	assert_int_equal(n, INST_DEVICES);
	struct audit_find a = c_audit(f, "device.provisioned");
	assert_int_equal(a.n, INST_DEVICES);
	/* Each job's owner is the instance that completed it. */
	for (int i = 0; i < INST; i++)
		for (int k = 0; k < in[i].claimed; k++) {
			struct pp_job j;
			c_job(f, in[i].jobs[k], &j);
			assert_string_equal(j.owner, in[i].owner);
			assert_int_equal(j.attempts, 1);
		}
}

/* Lock order (postgres.c, top): hellos and binds of the same devices at once, each
 * device's hellos released together with its bind and completion. With one order for
 * every path PostgreSQL never has to break a deadlock, so no call sees -PP_EBUSY. */
#define HAMMER_DEVICES 150
#define HAMMER_HELLOS 3
#define HAMMER_REPEAT 6

struct hammer {
	struct pp_store *s;
	pthread_barrier_t *gate;
	const int64_t *jobs;
	bool binder;
	unsigned idx;
	unsigned active; /* hellos that met the running job: the racing ones */
	unsigned busy;
	unsigned calls;
	int rc;
	char msg[300];
};

static int hammer_bind(struct hammer *hm, unsigned dev, struct pp_err *err)
{
	uint8_t u[16];
	c_uuid(dev, u);
	int rc = pp_store_job_bind(hm->s, hm->jobs[dev - 1], "w", u, "h", NULL, T0 + 1, err);
	if (rc == 0)
		rc = pp_store_job_complete(hm->s, hm->jobs[dev - 1], "w", "h", "d", T0 + 2, err);
	return rc;
}

static int hammer_hello(struct hammer *hm, unsigned dev, struct pp_err *err)
{
	struct pp_hello_in h = {.source = "hello", .now = T0 + 1};
	c_uuid(dev, h.uuid);
	c_pid(dev, h.pid);
	h.addr[0] = 127;
	h.addr[3] = 2;
	enum pp_hello_outcome o = PP_HELLO_UNKNOWN_PID;
	int rc = pp_store_hello(hm->s, &h, &o, NULL, err);
	if (rc == 0 && o == PP_HELLO_JOB_ACTIVE)
		hm->active++;
	return rc;
}

static void *hammer_run(void *arg)
{
	struct hammer *hm = arg;
	struct pp_err err = {0};
	for (unsigned dev = 1; dev <= HAMMER_DEVICES; dev++) {
		pthread_barrier_wait(hm->gate);
		/* The hellos start a little later each device, so that some reach the key
		 * while the bind holds the job and others the other way round. */
		if (!hm->binder) {
			struct timespec ts = {.tv_nsec =
						  (long)((dev * 7 + hm->idx * 5) % 16) * 50000};
			nanosleep(&ts, NULL);
		}
		for (int k = 0; k < (hm->binder ? 1 : HAMMER_REPEAT); k++) {
			int rc, tries = 0;
			do {
				hm->calls++;
				rc = hm->binder ? hammer_bind(hm, dev, &err)
						: hammer_hello(hm, dev, &err);
				if (rc == -PP_EBUSY)
					hm->busy++;
			} while (rc == -PP_EBUSY && ++tries < 20);
			if (rc < 0 && hm->rc == 0) {
				hm->rc = rc;
				snprintf(hm->msg, sizeof(hm->msg), "device %u: %s", dev, err.msg);
			}
		}
	}
	return NULL;
}

static void test_pg_lock_order(void **state)
{
	struct fixture *f = *state;
	struct pp_err err = {0};
	int64_t jobs[HAMMER_DEVICES];
	int64_t b = c_batch(f, "hammer", false, 0);
	assert_int_equal(pp_store_begin(f->s, &err), 0);
	for (unsigned i = 1; i <= HAMMER_DEVICES; i++) {
		c_key(f, b, i, false, PP_KEY_EXPORTED, 0);
		assert_int_equal(c_hello(f, i, i, &jobs[i - 1]), PP_HELLO_NEW_JOB);
	}
	assert_int_equal(pp_store_commit(f->s, &err), 0);
	struct pp_job out[HAMMER_DEVICES];
	size_t n = 0;
	assert_int_equal(pp_store_jobs_claim(f->s, "w", T0, 600, HAMMER_DEVICES, out, &n, &err), 0);
	assert_int_equal(n, HAMMER_DEVICES);

	pthread_barrier_t gate;
	struct hammer hm[HAMMER_HELLOS + 1];
	pthread_t th[HAMMER_HELLOS + 1];
	assert_int_equal(pthread_barrier_init(&gate, NULL, HAMMER_HELLOS + 1), 0);
	memset(hm, 0, sizeof(hm));
	for (int i = 0; i <= HAMMER_HELLOS; i++) {
		hm[i].s = backend_open_other(f);
		hm[i].gate = &gate;
		hm[i].jobs = jobs;
		hm[i].binder = i == 0;
		hm[i].idx = (unsigned)i;
	}
	for (int i = 0; i <= HAMMER_HELLOS; i++)
		assert_int_equal(pthread_create(&th[i], NULL, hammer_run, &hm[i]), 0);
	unsigned busy = 0, calls = 0, active = 0;
	for (int i = 0; i <= HAMMER_HELLOS; i++) {
		pthread_join(th[i], NULL);
		pp_store_close(hm[i].s);
		busy += hm[i].busy;
		calls += hm[i].calls;
		active += hm[i].active;
	}
	pthread_barrier_destroy(&gate);
	for (int i = 0; i <= HAMMER_HELLOS; i++)
		if (hm[i].rc < 0)
			fail_msg("%s", hm[i].msg);
	print_message("     lock order: %u calls, %u hellos met the running job, %u busy "
		      "(deadlocks or lock waits)\n",
		      calls, active, busy);
	assert_int_equal(busy, 0);
	struct pp_store_counts c;
	assert_int_equal(pp_store_counts(f->s, &c, &err), 0);
	assert_int_equal(c.jobs_by_state[PP_JOB_DONE], HAMMER_DEVICES);
	assert_int_equal(c.devices_by_state[PP_DEV_PROVISIONED], HAMMER_DEVICES);
}

/* ---- connection health ---- */

/* A store of its own with a name to find its server process by. */
static struct pp_store *open_named(struct fixture *f, const char *app)
{
	char ci[1400];
	snprintf(ci, sizeof(ci), "%s application_name=%s", f->conninfo, app);
	struct pp_store *o = NULL;
	struct pp_err err = {0};
	assert_int_equal(pp_store_open_postgres(ci, &f->mk, false, &o, &err), 0);
	return o;
}

/* Ends the named store's server process, as a restart of PostgreSQL does. */
static void kill_backend(struct fixture *f, const char *app)
{
	char sql[256];
	snprintf(sql, sizeof(sql),
		 "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE "
		 "application_name = '%s'",
		 app);
	assert_int_equal(raw_int(f->raw, sql), 1);
}

/* The connection is lost, noticed, made again; statements prepared on the old one are
 * prepared again on the new one. */
static void test_pg_reconnect(void **state)
{
	struct fixture *f = *state;
	struct pp_err err = {0};
	char app[80];
	snprintf(app, sizeof(app), "ppr_%s", f->schema);
	int64_t b = c_batch(f, "recon", false, 0);
	c_key(f, b, 1, false, PP_KEY_EXPORTED, 0);
	struct pp_store *o = open_named(f, app);
	struct pp_key_info ki;
	char pid[9];
	c_pid(1, pid);
	assert_int_equal(pp_store_key_get(o, pid, &ki, &err), 0);
	assert_false(pp_store_conn_lost(o));
	kill_backend(f, app);
	int rc = pp_store_key_get(o, pid, &ki, &err);
	assert_int_equal(rc, -PP_ESTORE);
	assert_true(pp_store_conn_lost(o));
	assert_int_equal(pp_store_reconnect(o, &err), 0);
	assert_false(pp_store_conn_lost(o));
	assert_int_equal(pp_store_key_get(o, pid, &ki, &err), 0);
	assert_string_equal(ki.pid, pid);
	/* Writes and transactions work again too. */
	assert_int_equal(pp_store_begin(o, &err), 0);
	assert_int_equal(pp_store_savepoint(o, &err), 0);
	assert_int_equal(pp_store_key_set_state(o, pid, PP_KEY_REVOKED, &err), 0);
	assert_int_equal(pp_store_savepoint_release(o, &err), 0);
	assert_int_equal(pp_store_commit(o, &err), 0);
	assert_int_equal(pp_store_key_get(f->s, pid, &ki, &err), 0);
	assert_int_equal(ki.state, PP_KEY_REVOKED);
	pp_store_close(o);
}

/* Transaction ids: the outcome of a transaction can be asked for on a new connection
 * after the old one went during its COMMIT. */
static void test_pg_txn_status(void **state)
{
	struct fixture *f = *state;
	struct pp_err err = {0};
	char app[80];
	snprintf(app, sizeof(app), "ppt_%s", f->schema);
	struct pp_store *o = open_named(f, app);
	uint64_t id = 1;
	enum pp_txn_status st = PP_TXN_UNKNOWN;
	assert_int_equal(pp_store_txn_id(o, &id, &err), -PP_ESTATE);
	/* Nothing written: no id, and nothing to ask. */
	assert_int_equal(pp_store_begin(o, &err), 0);
	struct pp_batch_info bi;
	assert_int_equal(pp_store_batch_get(o, "none", &bi, &err), -PP_ENOTFOUND);
	assert_int_equal(pp_store_txn_id(o, &id, &err), 0);
	assert_int_equal(id, 0);
	assert_int_equal(pp_store_rollback(o, &err), 0);
	/* Committed. */
	int64_t bid = 0;
	struct pp_batch_new nb = {.name = "t1"};
	assert_int_equal(pp_store_begin(o, &err), 0);
	assert_int_equal(pp_store_batch_create(o, &nb, &bid, &err), 0);
	assert_int_equal(pp_store_txn_id(o, &id, &err), 0);
	assert_true(id > 0);
	assert_int_equal(pp_store_commit(o, &err), 0);
	assert_int_equal(pp_store_txn_status(o, id, &st, &err), 0);
	assert_int_equal(st, PP_TXN_COMMITTED);
	/* Lost with its connection before COMMIT: aborted, and nothing of it stays. */
	nb.name = "t2";
	assert_int_equal(pp_store_begin(o, &err), 0);
	assert_int_equal(pp_store_batch_create(o, &nb, &bid, &err), 0);
	assert_int_equal(pp_store_txn_id(o, &id, &err), 0);
	kill_backend(f, app);
	assert_true(pp_store_commit(o, &err) < 0);
	assert_true(pp_store_conn_lost(o));
	assert_int_equal(pp_store_reconnect(o, &err), 0);
	assert_int_equal(pp_store_txn_status(o, id, &st, &err), 0);
	assert_int_equal(st, PP_TXN_ABORTED);
	assert_int_equal(pp_store_batch_get(o, "t2", &bi, &err), -PP_ENOTFOUND);
	assert_int_equal(pp_store_batch_get(o, "t1", &bi, &err), 0);
	assert_int_equal(pp_store_txn_status(o, 0, &st, &err), 0);
	assert_int_equal(st, PP_TXN_ABORTED);
	pp_store_close(o);
}

/* The health check writes the heartbeat row, alone or inside a transaction; it fails,
 * saying so, once the connection is gone. */
static void test_pg_heartbeat(void **state)
{
	struct fixture *f = *state;
	struct pp_err err = {0};
	assert_int_equal(pp_store_heartbeat(f->s, 1234, &err), 0);
	assert_int_equal(raw_int(f->raw, "SELECT ivalue FROM meta WHERE name = 'heartbeat'"), 1234);
	assert_int_equal(pp_store_begin(f->s, &err), 0);
	assert_int_equal(pp_store_heartbeat(f->s, 5678, &err), 0);
	assert_int_equal(pp_store_rollback(f->s, &err), 0);
	assert_int_equal(raw_int(f->raw, "SELECT ivalue FROM meta WHERE name = 'heartbeat'"), 1234);
	char app[80];
	snprintf(app, sizeof(app), "pph_%s", f->schema);
	struct pp_store *o = open_named(f, app);
	kill_backend(f, app);
	assert_int_equal(pp_store_heartbeat(o, 9, &err), -PP_ESTORE);
	assert_non_null(strstr(err.msg, "store"));
	assert_null(strchr(err.msg, '\n'));
	assert_int_equal(pp_store_reconnect(o, &err), 0);
	assert_int_equal(pp_store_heartbeat(o, 9, &err), 0);
	pp_store_close(o);
}

/* BEGIN and SAVEPOINT wait for the next statement and go with it in one round trip;
 * RELEASE waits for the next SAVEPOINT (postgres.c "transactions"). What the caller sees
 * is the same as when each is sent at once. */
/* Savepoints in one transaction: released, rolled back, empty, refused by the
 * server, nested. pid[3]'s revoke hits the injected failure. */
static void deferred_savepoints(struct fixture *f, char pid[6][9])
{
	struct pp_err err = {0};

	assert_int_equal(pp_store_begin(f->s, &err), 0);
	/* Released, then a new savepoint at the same depth rolled back: only its own work
	 * goes, the released one's stays. */
	assert_int_equal(pp_store_savepoint(f->s, &err), 0);
	assert_int_equal(pp_store_key_set_state(f->s, pid[1], PP_KEY_EXPIRED, &err), 0);
	assert_int_equal(pp_store_savepoint_release(f->s, &err), 0);
	assert_int_equal(pp_store_savepoint(f->s, &err), 0);
	assert_int_equal(pp_store_key_set_state(f->s, pid[2], PP_KEY_EXPIRED, &err), 0);
	assert_int_equal(pp_store_savepoint_rollback(f->s, &err), 0);
	/* A savepoint under which nothing ran, rolled back and released. */
	assert_int_equal(pp_store_savepoint(f->s, &err), 0);
	assert_int_equal(pp_store_savepoint_rollback(f->s, &err), 0);
	assert_int_equal(pp_store_savepoint(f->s, &err), 0);
	assert_int_equal(pp_store_savepoint_release(f->s, &err), 0);
	/* A statement the server refuses in the round trip that opens its savepoints: the
	 * error is the statement's, and the transaction goes on. */
	assert_int_equal(pp_store_savepoint(f->s, &err), 0);
	assert_true(pp_store_key_set_state(f->s, pid[3], PP_KEY_REVOKED, &err) < 0);
	assert_non_null(strstr(err.msg, "injected failure"));
	assert_int_equal(pp_store_savepoint_rollback(f->s, &err), 0);
	/* Nested: the inner released, the outer rolled back with it. */
	assert_int_equal(pp_store_savepoint(f->s, &err), 0);
	assert_int_equal(pp_store_savepoint(f->s, &err), 0);
	assert_int_equal(pp_store_key_set_state(f->s, pid[4], PP_KEY_EXPIRED, &err), 0);
	assert_int_equal(pp_store_savepoint_release(f->s, &err), 0);
	assert_int_equal(pp_store_savepoint_rollback(f->s, &err), 0);
	assert_int_equal(pp_store_savepoint(f->s, &err), 0);
	assert_int_equal(pp_store_key_set_state(f->s, pid[5], PP_KEY_EXPIRED, &err), 0);
	assert_int_equal(pp_store_savepoint_release(f->s, &err), 0);
	assert_int_equal(pp_store_commit(f->s, &err), 0);
}

/* What the savepoints left: keys 1 and 5 expired, the rest as they were; no
 * session idle in a transaction. */
static void deferred_expect_states(struct fixture *f)
{
	struct pp_key_info k;

	static const enum pp_key_state want[6] = {
	    0, PP_KEY_EXPIRED, PP_KEY_EXPORTED, PP_KEY_EXPORTED, PP_KEY_EXPORTED, PP_KEY_EXPIRED};
	for (unsigned long i = 1; i <= 5; i++) {
		c_keyinfo(f, i, &k);
		assert_int_equal(k.state, want[i]);
	}
	assert_int_equal(raw_int(f->raw, "SELECT count(*) FROM pg_stat_activity WHERE state = "
					 "'idle in transaction'"),
			 0);
}

/* A transaction in which nothing ran commits without the server. */
static void deferred_empty_transaction(struct fixture *f)
{
	struct pp_err err = {0};

	assert_int_equal(pp_store_begin(f->s, &err), 0);
	assert_int_equal(pp_store_savepoint(f->s, &err), 0);
	assert_int_equal(pp_store_savepoint_release(f->s, &err), 0);
	assert_int_equal(pp_store_commit(f->s, &err), 0);
}

/* The connection lost while BEGIN still waits: the statement, the savepoint
 * rollback and the commit fail; after a reconnect the store works again. */
static void deferred_conn_lost_before_begin(struct fixture *f, char pid[6][9])
{
	struct pp_err err = {0};
	struct pp_key_info k;

	/* The connection lost while BEGIN still waits: the statement fails, and so do the
	 * rollback of the savepoint and the commit, as they would have had BEGIN gone out
	 * (a group commit then runs its batch again on a new connection). */
	char app[80];
	snprintf(app, sizeof(app), "ppd_%s", f->schema);
	struct pp_store *o = open_named(f, app);
	assert_int_equal(pp_store_begin(o, &err), 0);
	assert_int_equal(pp_store_savepoint(o, &err), 0);
	kill_backend(f, app);
	assert_int_equal(pp_store_key_get(o, pid[1], &k, &err), -PP_ESTORE);
	assert_true(pp_store_conn_lost(o));
	assert_true(pp_store_savepoint_rollback(o, &err) < 0);
	assert_true(pp_store_commit(o, &err) < 0);
	assert_int_equal(pp_store_reconnect(o, &err), 0);
	assert_int_equal(pp_store_begin(o, &err), 0);
	assert_int_equal(pp_store_savepoint(o, &err), 0);
	assert_int_equal(pp_store_key_set_state(o, pid[2], PP_KEY_EXPIRED, &err), 0);
	assert_int_equal(pp_store_savepoint_release(o, &err), 0);
	assert_int_equal(pp_store_commit(o, &err), 0);
	c_keyinfo(f, 2, &k);
	assert_int_equal(k.state, PP_KEY_EXPIRED);
	pp_store_close(o);
}

static void test_pg_deferred(void **state)
{
	struct fixture *f = *state;
	int64_t b = c_batch(f, "lazy", false, 0);
	for (unsigned long i = 1; i <= 5; i++)
		c_key(f, b, i, false, PP_KEY_EXPORTED, 0);
	char pid[6][9];
	for (unsigned long i = 1; i <= 5; i++)
		c_pid(i, pid[i]);
	raw_exec(f->raw, "CREATE FUNCTION test_no_revoke() RETURNS trigger LANGUAGE plpgsql AS "
			 "$$ BEGIN RAISE EXCEPTION 'injected failure'; END $$");
	raw_exec(f->raw, "CREATE TRIGGER test_no_revoke BEFORE UPDATE ON keys FOR EACH ROW "
			 "WHEN (NEW.state = 'revoked') EXECUTE FUNCTION test_no_revoke()");

	deferred_savepoints(f, pid);
	deferred_expect_states(f);
	deferred_empty_transaction(f);
	deferred_conn_lost_before_begin(f, pid);
	raw_exec(f->raw, "DROP TRIGGER test_no_revoke ON keys");
	raw_exec(f->raw, "DROP FUNCTION test_no_revoke()");
}

int main(void)
{
	if (!pg_test_conninfo())
		return pg_test_missing("test_store_pg");
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
	const struct CMUnitTest tests[] = {
	    CONTRACT_TESTS(T),
	    T(test_pg_open),
	    cmocka_unit_test(test_pg_conninfo_secrecy),
	    T(test_pg_migration_from_v1),
	    T(test_pg_batches_and_keys),
	    T(test_pg_audit),
	    T(test_pg_skip_locked),
	    T(test_pg_many_instances),
	    T(test_pg_lock_order),
	    T(test_pg_reconnect),
	    T(test_pg_txn_status),
	    T(test_pg_heartbeat),
	    T(test_pg_deferred),
	};
#undef T
	return cmocka_run_group_tests(tests, NULL, NULL);
}
