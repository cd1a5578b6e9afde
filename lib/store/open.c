/* pp_store_open: the backend picked from the caller's configuration, so callers never
 * choose between pp_store_open_sqlite and pp_store_open_postgres themselves. */
#include "store/store_impl.h"

#include <string.h>

static bool has_prefix(const char *s, const char *p)
{
	return strncmp(s, p, strlen(p)) == 0;
}

/* AUTO: a libpq URI (postgres:// or postgresql://) is PostgreSQL; "sqlite:" then a
 * path, or any other text, is an SQLite database path. */
static enum pp_store_kind kind_of(const struct pp_store_config *c, const char **target)
{
	*target = c->target;
	if (c->kind != PP_STORE_AUTO)
		return c->kind;
	if (has_prefix(c->target, "postgres://") || has_prefix(c->target, "postgresql://"))
		return PP_STORE_POSTGRES;
	if (has_prefix(c->target, "sqlite:"))
		*target = c->target + strlen("sqlite:");
	return PP_STORE_SQLITE;
}

int pp_store_open(const struct pp_store_config *c, const struct pp_master_key *mk,
		  struct pp_store **out, struct pp_err *err)
{
	const char *target = NULL;
	*out = NULL;
	if (!c || !c->target || !*c->target)
		return pp_err_set(err, PP_EINVAL,
				  "store: no database given (a path or a conninfo)");
	switch (kind_of(c, &target)) {
	case PP_STORE_POSTGRES:
		if (c->readonly)
			return pp_err_set(err, PP_EINVAL,
					  "store: a read-only open is SQLite's alone");
		return pp_store_open_postgres(target, mk, c->create, out, err);
	case PP_STORE_SQLITE:
		if (c->readonly && c->create)
			return pp_err_set(err, PP_EINVAL,
					  "store: a read-only open cannot create a database");
		if (c->readonly)
			return pp_store_open_sqlite_readonly(target, mk, out, err);
		return pp_store_open_sqlite(target, mk, c->create, out, err);
	case PP_STORE_AUTO:
		break;
	}
	return pp_err_set(err, PP_EINVAL, "store: unknown backend %d", (int)c->kind);
}
