/* One store test fixture on either backend (include after cmocka.h): a scratch SQLite
 * file or a throwaway PostgreSQL schema, the store opened on it, raw SQL beside it for
 * what the store API does not show, and the teardown of both. A suite's own fixture
 * starts with a struct pp_dual. */
#ifndef PSKPROV_TEST_STORE_DUAL_H
#define PSKPROV_TEST_STORE_DUAL_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "store/store.h"
#include "test_store_pgschema.h"
#include "test_store_util.h"

struct pp_dual {
	bool pg;
	struct pp_master_key mk;
	struct pp_store *s;
	char dir[256], db[300];          /* SQLite */
	char schema[64], conninfo[1200]; /* PostgreSQL */
	PGconn *raw;
};

static inline int pp_dual_open_store(struct pp_dual *d, bool create, struct pp_err *err)
{
	if (d->pg)
		return pp_store_open_postgres(d->conninfo, &d->mk, create, &d->s, err);
	return pp_store_open_sqlite(d->db, &d->mk, create, &d->s, err);
}

/* Makes the scratch place (tag names it: a directory prefix, or a schema prefix for
 * PostgreSQL) and opens a new store there under a master key made from seed. 0, or -1
 * (said on stderr). */
static inline int pp_dual_setup(struct pp_dual *d, bool pg, const char *tag, uint8_t seed)
{
	d->pg = pg;
	int rc = pg ? pg_test_schema_open(tag, &d->raw, d->schema, sizeof(d->schema), d->conninfo,
					  sizeof(d->conninfo))
		    : pp_test_scratch(tag, d->dir, sizeof(d->dir), d->db, sizeof(d->db));
	if (rc < 0)
		return -1;
	pp_test_master_key(&d->mk, seed, 5);
	struct pp_err err = {0};
	if (pp_dual_open_store(d, true, &err) < 0) {
		fprintf(stderr, "setup: %s\n", err.msg);
		return -1;
	}
	return 0;
}

static inline void pp_dual_teardown(struct pp_dual *d)
{
	pp_store_close(d->s);
	d->s = NULL;
	if (d->pg) {
		pg_test_schema_drop(d->raw, d->schema); /* closes d->raw */
		d->raw = NULL;
	} else {
		pp_test_remove_db(d->db);
		rmdir(d->dir);
	}
}

/* cmocka setup and teardown for a suite whose fixture (size bytes, zeroed) starts with
 * its struct pp_dual. */
static inline int pp_dual_setup_state(void **state, size_t size, bool pg, const char *tag,
				      uint8_t seed)
{
	struct pp_dual *d = calloc(1, size);
	if (!d || pp_dual_setup(d, pg, tag, seed) < 0) {
		free(d);
		return -1;
	}
	*state = d;
	return 0;
}

static inline int pp_dual_teardown_state(void **state)
{
	pp_dual_teardown(*state);
	free(*state);
	return 0;
}

/* Raw SQL on the test's own connection (PostgreSQL) or file handle (SQLite). */
static inline void pp_dual_exec(struct pp_dual *d, const char *sql)
{
	if (d->pg) {
		pg_test_exec(d->raw, sql);
		return;
	}
	sqlite3 *db = pp_test_sqlite_open(d->db);
	pp_test_sqlite_exec(db, sql);
	sqlite3_close(db);
}

#endif
