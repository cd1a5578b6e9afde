/* API tokens in the store (store.h), the same contract on both backends: SQLite, and
 * with the argument "pg" PostgreSQL (skipped without a server: test_store_pgenv.h). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <libpq-fe.h>
#include <sqlite3.h>

#include "core/secret.h"
#include "store/store.h"
#include "test_store_dual.h"
#include "test_store_pgschema.h"
#include "test_store_util.h"

#define ENV "PSKPROV_TEST_PG"

struct fixture {
	struct pp_dual d;
};

/* ---- backends ---- */

/* The fixture starts with its struct pp_dual (test_store_dual.h). */
_Static_assert(offsetof(struct fixture, d) == 0, "struct pp_dual first");

static int setup_sqlite(void **state)
{
	return pp_dual_setup_state(state, sizeof(struct fixture), false, "pp-tokens", 0x71);
}

static int setup_pg(void **state)
{
	return pp_dual_setup_state(state, sizeof(struct fixture), true, "pp_tok", 0x71);
}

static uint8_t *slurp_append(const char *path, uint8_t *b, size_t *len)
{
	FILE *fp = fopen(path, "rb");
	if (!fp)
		return b;
	uint8_t chunk[65536];
	size_t n;
	while ((n = fread(chunk, 1, sizeof(chunk), fp)) > 0) {
		uint8_t *nb = realloc(b, *len + n + 1);
		assert_non_null(nb);
		b = nb;
		memcpy(b + *len, chunk, n);
		*len += n;
	}
	fclose(fp);
	return b;
}

/* Everything the database holds: the SQLite file and its WAL, or every row of the
 * PostgreSQL schema as text. */
static uint8_t *db_bytes(struct fixture *f, size_t *len)
{
	uint8_t *b = malloc(1);
	assert_non_null(b);
	*len = 0;
	if (!f->d.pg) {
		char wal[320];
		b = slurp_append(f->d.db, b, len);
		snprintf(wal, sizeof(wal), "%s-wal", f->d.db);
		return slurp_append(wal, b, len);
	}
	static const char *const q[] = {"SELECT t::text FROM api_tokens t",
					"SELECT a::text FROM audit a",
					"SELECT m::text FROM meta m"};
	for (size_t i = 0; i < 3; i++) {
		PGresult *r = PQexec(f->d.raw, q[i]);
		assert_int_equal(PQresultStatus(r), PGRES_TUPLES_OK);
		for (int row = 0; row < PQntuples(r); row++) {
			size_t n = (size_t)PQgetlength(r, row, 0);
			uint8_t *nb = realloc(b, *len + n + 1);
			assert_non_null(nb);
			b = nb;
			memcpy(b + *len, PQgetvalue(r, row, 0), n);
			*len += n;
		}
		PQclear(r);
	}
	return b;
}

/* ---- helpers ---- */

struct collect {
	struct pp_token_info t[8];
	struct pp_token_entry e[8];
	size_t n;
};

static int collect_info(void *ctx, const struct pp_token_info *t)
{
	struct collect *c = ctx;
	if (c->n >= 8)
		return -PP_ENOMEM;
	c->t[c->n++] = *t;
	return 0;
}

static int collect_entry(void *ctx, const struct pp_token_entry *e)
{
	struct collect *c = ctx;
	if (c->n >= 8)
		return -PP_ENOMEM;
	c->e[c->n++] = *e;
	return 0;
}

static void list(struct fixture *f, bool all, struct collect *c)
{
	struct pp_err err = {0};
	memset(c, 0, sizeof(*c));
	assert_int_equal(pp_store_token_list(f->d.s, all, collect_info, c, &err), 0);
}

static void active(struct fixture *f, struct collect *c)
{
	struct pp_err err = {0};
	memset(c, 0, sizeof(*c));
	assert_int_equal(pp_store_token_active(f->d.s, collect_entry, c, &err), 0);
}

struct audit_find {
	const char *action, *subject;
	char detail[64];
	unsigned n;
};

static int audit_find_one(void *ctx, const struct pp_audit_entry *e)
{
	struct audit_find *a = ctx;
	if (strcmp(e->action, a->action) == 0 && strcmp(e->subject, a->subject) == 0) {
		snprintf(a->detail, sizeof(a->detail), "%s", e->detail);
		a->n++;
	}
	return 0;
}

static unsigned audit_count(struct fixture *f, const char *action, const char *subject,
			    char detail[64])
{
	struct pp_err err = {0};
	struct audit_find a = {.action = action, .subject = subject};
	assert_int_equal(pp_store_audit_list(f->d.s, 0, audit_find_one, &a, &err), 0);
	if (detail)
		memcpy(detail, a.detail, 64);
	return a.n;
}

static void expect_msg(const struct pp_err *err, const char *needle)
{
	if (!strstr(err->msg, needle))
		fail_msg("message '%s' lacks '%s'", err->msg, needle);
	assert_null(strchr(err->msg, '\n'));
}

/* ---- tests ---- */

static void test_checks(void **state)
{
	(void)state;
	char long_name[66];
	memset(long_name, 'a', 65);
	long_name[65] = '\0';
	assert_true(pp_token_name_valid("ci-agent_1.x"));
	assert_true(pp_token_name_valid(long_name + 1)); /* 64 */
	assert_false(pp_token_name_valid(long_name));    /* 65 */
	assert_false(pp_token_name_valid(""));
	assert_false(pp_token_name_valid(NULL));
	assert_false(pp_token_name_valid("a b"));
	assert_false(pp_token_name_valid("a/b"));
	assert_true(pp_token_role_valid("read"));
	assert_true(pp_token_role_valid("admin"));
	assert_true(pp_token_role_valid("agent"));
	assert_false(pp_token_role_valid("Admin"));
	assert_false(pp_token_role_valid("root"));
	assert_false(pp_token_role_valid(NULL));
	char tok[PP_TOKEN_TEXT_LEN + 2];
	memcpy(tok, "ppt_", 4);
	memset(tok + 4, 'a', 64);
	tok[68] = '\0';
	assert_true(pp_token_well_formed(tok));
	uint8_t h[PP_TOKEN_HASH_LEN];
	assert_int_equal(pp_token_hash(tok, h), 0);
	tok[10] = 'A';
	assert_false(pp_token_well_formed(tok));
	assert_int_equal(pp_token_hash(tok, h), -PP_EINVAL);
	tok[10] = 'a';
	tok[68] = 'a';
	tok[69] = '\0';
	assert_false(pp_token_well_formed(tok)); /* too long */
	tok[67] = '\0';
	assert_false(pp_token_well_formed(tok)); /* too short */
	assert_false(pp_token_well_formed("xxx_aaaa"));
	assert_false(pp_token_well_formed(NULL));
}

static void test_create_list_active(void **state)
{
	struct fixture *f = *state;
	struct pp_err err = {0};
	char t1[PP_TOKEN_TEXT_LEN + 1], t2[PP_TOKEN_TEXT_LEN + 1];
	assert_int_equal(pp_store_token_create(f->d.s, "ops", "admin", "cli:test", t1, &err), 0);
	assert_int_equal(pp_store_token_create(f->d.s, "host-1", "agent", "cli:test", t2, &err), 0);
	assert_true(pp_token_well_formed(t1));
	assert_true(pp_token_well_formed(t2));
	assert_int_equal(strncmp(t1, "ppt_", 4), 0);
	assert_string_not_equal(t1, t2);

	struct collect c;
	list(f, false, &c);
	assert_int_equal(c.n, 2);
	assert_string_equal(c.t[0].name, "ops");
	assert_string_equal(c.t[0].role, "admin");
	assert_string_equal(c.t[1].name, "host-1");
	assert_string_equal(c.t[1].role, "agent");
	assert_true(c.t[0].created > 1600000000);
	assert_int_equal(c.t[0].last_used, 0);
	assert_int_equal(c.t[0].revoked, 0);

	/* The server's view: the hashes of the tokens, with their roles. */
	uint8_t h1[PP_TOKEN_HASH_LEN], h2[PP_TOKEN_HASH_LEN];
	assert_int_equal(pp_token_hash(t1, h1), 0);
	assert_int_equal(pp_token_hash(t2, h2), 0);
	active(f, &c);
	assert_int_equal(c.n, 2);
	assert_memory_equal(c.e[0].hash, h1, sizeof(h1));
	assert_string_equal(c.e[0].role, "admin");
	assert_string_equal(c.e[0].name, "ops");
	assert_memory_equal(c.e[1].hash, h2, sizeof(h2));
	assert_string_equal(c.e[1].role, "agent");
	assert_string_equal(c.e[1].name, "host-1");

	/* Audited, role in the detail, never the token. */
	char detail[64];
	assert_int_equal(audit_count(f, "token.create", "ops", detail), 1);
	assert_string_equal(detail, "admin");
	uint64_t n = 0;
	assert_int_equal(pp_store_audit_verify(f->d.s, &n, &err), 0);
	assert_int_equal(n, 2);
	pp_wipe(t1, sizeof(t1));
	pp_wipe(t2, sizeof(t2));
}

static void test_refusals(void **state)
{
	struct fixture *f = *state;
	struct pp_err err = {0};
	char t[PP_TOKEN_TEXT_LEN + 1];
	assert_int_equal(pp_store_token_create(f->d.s, "ops", "read", "cli:test", t, &err), 0);
	memset(t, 'x', sizeof(t));
	assert_int_equal(pp_store_token_create(f->d.s, "ops", "admin", "cli:test", t, &err),
			 -PP_EEXIST);
	expect_msg(&err, "a token named 'ops' already exists");
	assert_int_equal(t[0], 0); /* wiped: nothing usable left behind */
	assert_int_equal(pp_store_token_create(f->d.s, "bad name", "read", "cli:test", t, &err),
			 -PP_EINVAL);
	expect_msg(&err, "token name must be");
	assert_int_equal(pp_store_token_create(f->d.s, "x", "root", "cli:test", t, &err),
			 -PP_EINVAL);
	expect_msg(&err, "role must be read, admin or agent");
	assert_int_equal(pp_store_token_create(f->d.s, "x", "read", "cli:test", NULL, &err),
			 -PP_EINVAL);
	/* A bad actor fails the audit, and the token with it. */
	assert_int_equal(pp_store_token_create(f->d.s, "y", "read", "", t, &err), -PP_EINVAL);
	assert_int_equal(pp_store_token_revoke(f->d.s, "nobody", "cli:test", &err), -PP_ENOTFOUND);
	expect_msg(&err, "no active token named 'nobody'");
	assert_int_equal(pp_store_token_revoke(f->d.s, "a/b", "cli:test", &err), -PP_EINVAL);
	struct collect c;
	list(f, true, &c);
	assert_int_equal(c.n, 1);
	assert_string_equal(c.t[0].role, "read");
	assert_int_equal(audit_count(f, "token.create", "y", NULL), 0);
	assert_int_equal(audit_count(f, "token.create", "ops", NULL), 1);
}

static void test_revoke(void **state)
{
	struct fixture *f = *state;
	struct pp_err err = {0};
	char t1[PP_TOKEN_TEXT_LEN + 1], t2[PP_TOKEN_TEXT_LEN + 1];
	assert_int_equal(pp_store_token_create(f->d.s, "a", "read", "cli:test", t1, &err), 0);
	assert_int_equal(pp_store_token_create(f->d.s, "b", "agent", "cli:test", t2, &err), 0);
	assert_int_equal(pp_store_token_revoke(f->d.s, "a", "cli:test", &err), 0);
	char detail[64];
	assert_int_equal(audit_count(f, "token.revoke", "a", detail), 1);
	assert_string_equal(detail, "read");
	struct collect c;
	active(f, &c);
	assert_int_equal(c.n, 1);
	assert_string_equal(c.e[0].role, "agent");
	list(f, false, &c);
	assert_int_equal(c.n, 1);
	list(f, true, &c);
	assert_int_equal(c.n, 2);
	assert_true(c.t[0].revoked > 0);
	/* Once only; the name is free again, for a new token. */
	assert_int_equal(pp_store_token_revoke(f->d.s, "a", "cli:test", &err), -PP_ENOTFOUND);
	char t3[PP_TOKEN_TEXT_LEN + 1];
	assert_int_equal(pp_store_token_create(f->d.s, "a", "admin", "cli:test", t3, &err), 0);
	assert_string_not_equal(t1, t3);
	uint8_t h1[PP_TOKEN_HASH_LEN], h3[PP_TOKEN_HASH_LEN];
	assert_int_equal(pp_token_hash(t1, h1), 0);
	assert_int_equal(pp_token_hash(t3, h3), 0);
	active(f, &c);
	assert_int_equal(c.n, 2);
	for (size_t i = 0; i < c.n; i++)
		assert_memory_not_equal(c.e[i].hash, h1, sizeof(h1));
	/* Use is recorded on active tokens only, never moving back. */
	assert_int_equal(pp_store_token_touch(f->d.s, h3, 1800000000, &err), 0);
	assert_int_equal(pp_store_token_touch(f->d.s, h3, 1700000000, &err), 0);
	assert_int_equal(pp_store_token_touch(f->d.s, h1, 1800000000, &err), -PP_ENOTFOUND);
	list(f, false, &c);
	assert_string_equal(c.t[1].name, "a");
	assert_int_equal(c.t[1].last_used, 1800000000);
	assert_int_equal(c.t[0].last_used, 0);
	assert_int_equal(pp_store_token_touch(f->d.s, NULL, 1, &err), -PP_EINVAL);
}

/* Inside a caller's transaction: a refusal leaves it usable, a rollback takes the
 * token back (and its audit entry). */
static void test_transaction(void **state)
{
	struct fixture *f = *state;
	struct pp_err err = {0};
	char t[PP_TOKEN_TEXT_LEN + 1];
	assert_int_equal(pp_store_token_create(f->d.s, "keep", "read", "cli:test", t, &err), 0);
	assert_int_equal(pp_store_begin(f->d.s, &err), 0);
	assert_int_equal(pp_store_token_create(f->d.s, "keep", "read", "cli:test", t, &err),
			 -PP_EEXIST);
	assert_int_equal(pp_store_token_create(f->d.s, "gone", "admin", "cli:test", t, &err), 0);
	assert_int_equal(pp_store_token_revoke(f->d.s, "keep", "cli:test", &err), 0);
	assert_int_equal(pp_store_rollback(f->d.s, &err), 0);
	struct collect c;
	list(f, true, &c);
	assert_int_equal(c.n, 1);
	assert_string_equal(c.t[0].name, "keep");
	assert_int_equal(c.t[0].revoked, 0);
	assert_int_equal(audit_count(f, "token.create", "gone", NULL), 0);
	assert_int_equal(audit_count(f, "token.revoke", "keep", NULL), 0);
}

/* The database holds the hash, never the token. */
static void test_no_plaintext(void **state)
{
	struct fixture *f = *state;
	struct pp_err err = {0};
	char t[PP_TOKEN_TEXT_LEN + 1], hex[2 * PP_TOKEN_HASH_LEN + 1];
	uint8_t h[PP_TOKEN_HASH_LEN];
	assert_int_equal(pp_store_token_create(f->d.s, "secretive", "admin", "cli:test", t, &err),
			 0);
	assert_int_equal(pp_token_hash(t, h), 0);
	for (size_t i = 0; i < sizeof(h); i++)
		snprintf(hex + 2 * i, 3, "%02x", h[i]);
	if (!f->d.pg) { /* everything on disk */
		pp_store_close(f->d.s);
		f->d.s = NULL;
	}
	size_t len = 0;
	uint8_t *b = db_bytes(f, &len);
	assert_true(len > 0);
	assert_non_null(memmem(b, len, hex, 64));          /* the hash is there... */
	assert_null(memmem(b, len, t, PP_TOKEN_TEXT_LEN)); /* ...the token is not */
	assert_null(memmem(b, len, t + 4, 64));            /* nor its random part */
	free(b);
	if (!f->d.pg)
		assert_int_equal(pp_dual_open_store(&f->d, false, &err), 0);
}

/* A database that reached version 4 without tokens gains the table (step 5,
 * idempotent); its audit log stays intact. (From version 3 every step runs, 4 among
 * them: test_store_jobs and test_store_pg migrate real version-3 databases.) */
static void test_migration(void **state)
{
	struct fixture *f = *state;
	struct pp_err err = {0};
	static const int64_t from[] = {4, 5};
	char t[PP_TOKEN_TEXT_LEN + 1];
	assert_int_equal(pp_store_token_create(f->d.s, "before", "read", "cli:test", t, &err), 0);
	for (size_t i = 0; i < sizeof(from) / sizeof(from[0]); i++) {
		char sql[128];
		pp_store_close(f->d.s);
		f->d.s = NULL;
		if (from[i] < 5)
			pp_dual_exec(&f->d, "DROP TABLE api_tokens");
		snprintf(sql, sizeof(sql),
			 "UPDATE meta SET %s = %lld WHERE name = 'schema_version'",
			 f->d.pg ? "ivalue" : "value", (long long)from[i]);
		pp_dual_exec(&f->d, sql);
		assert_int_equal(pp_dual_open_store(&f->d, false, &err), 0);
		struct collect c;
		list(f, true, &c);
		assert_int_equal(c.n, from[i] < 5 ? 0 : 1);
		char name[16];
		snprintf(name, sizeof(name), "after%zu", i);
		assert_int_equal(pp_store_token_create(f->d.s, name, "agent", "cli:test", t, &err),
				 0);
	}
	uint64_t n = 0;
	assert_int_equal(pp_store_audit_verify(f->d.s, &n, &err), 0);
	assert_int_equal(n, 1 + sizeof(from) / sizeof(from[0]));
	/* Newer than this program: refused. */
	pp_store_close(f->d.s);
	f->d.s = NULL;
	char newer[96];
	snprintf(newer, sizeof(newer), "UPDATE meta SET %s = %d WHERE name = 'schema_version'",
		 f->d.pg ? "ivalue" : "value", PP_STORE_SCHEMA_VERSION + 1);
	pp_dual_exec(&f->d, newer);
	assert_int_equal(pp_dual_open_store(&f->d, false, &err), -PP_EVERSION);
	pp_dual_exec(&f->d, f->d.pg ? "UPDATE meta SET ivalue = 5 WHERE name = 'schema_version'"
				    : "UPDATE meta SET value = 5 WHERE name = 'schema_version'");
	assert_int_equal(pp_dual_open_store(&f->d, false, &err), 0);
}

#define TOKEN_TESTS(T)                                                                             \
	T(test_create_list_active), T(test_refusals), T(test_revoke), T(test_transaction),         \
	    T(test_no_plaintext), T(test_migration)

/* No argument: the SQLite suite; "pg": the PostgreSQL one (ctest runs both, the
 * second as unit/test_store_tokens_pg). */
int main(int argc, char **argv)
{
	if (argc > 1 && strcmp(argv[1], "pg") == 0) {
		if (!pg_test_conninfo())
			return pg_test_missing("test_store_tokens pg");
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup_pg, pp_dual_teardown_state)
		const struct CMUnitTest pg_tests[] = {TOKEN_TESTS(T)};
#undef T
		return cmocka_run_group_tests_name("tokens on PostgreSQL", pg_tests, NULL, NULL);
	}
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup_sqlite, pp_dual_teardown_state)
	const struct CMUnitTest sq_tests[] = {cmocka_unit_test(test_checks), TOKEN_TESTS(T)};
#undef T
	return cmocka_run_group_tests_name("tokens on SQLite", sq_tests, NULL, NULL);
}
