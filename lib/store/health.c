/* Connection health (store.h): a table of what each backend does; SQLite's connection
 * is a file and cannot be lost, so it answers from the table's defaults. */
#include "store/health_impl.h"

#include <string.h>

struct backend_health {
	const char *name;
	bool (*conn_lost)(struct pp_store *s);
	int (*reconnect)(struct pp_store *s, struct pp_err *err);
	int (*txn_id)(struct pp_store *s, uint64_t *id, struct pp_err *err);
	int (*txn_status)(struct pp_store *s, uint64_t id, enum pp_txn_status *st,
			  struct pp_err *err);
	int (*heartbeat)(struct pp_store *s, int64_t now, struct pp_err *err);
};

static const struct backend_health backends[] = {
    {"postgres", pp_pg_conn_lost, pp_pg_reconnect, pp_pg_txn_id, pp_pg_txn_status, pp_pg_heartbeat},
    {"sqlite", NULL, NULL, NULL, NULL, pp_sqlite_heartbeat},
};

static const struct backend_health *backend(const struct pp_store *s)
{
	const char *name = pp_store_backend(s);
	for (size_t i = 0; i < sizeof(backends) / sizeof(backends[0]); i++)
		if (name && strcmp(name, backends[i].name) == 0)
			return &backends[i];
	return NULL;
}

bool pp_store_conn_lost(struct pp_store *s)
{
	const struct backend_health *b = backend(s);
	return b && b->conn_lost && b->conn_lost(s);
}

int pp_store_reconnect(struct pp_store *s, struct pp_err *err)
{
	const struct backend_health *b = backend(s);
	return b && b->reconnect ? b->reconnect(s, err) : 0;
}

int pp_store_txn_id(struct pp_store *s, uint64_t *id, struct pp_err *err)
{
	const struct backend_health *b = backend(s);
	*id = 0;
	if (!s->ops->in_transaction(s))
		return pp_err_set(err, PP_ESTATE, "store: no transaction to name");
	return b && b->txn_id ? b->txn_id(s, id, err) : 0;
}

int pp_store_txn_status(struct pp_store *s, uint64_t id, enum pp_txn_status *st, struct pp_err *err)
{
	const struct backend_health *b = backend(s);
	*st = PP_TXN_ABORTED;
	if (id == 0)
		return 0;
	if (!b || !b->txn_status)
		return pp_err_set(err, PP_ESTATE, "store: %s has no transaction ids",
				  pp_store_backend(s));
	return b->txn_status(s, id, st, err);
}

int pp_store_heartbeat(struct pp_store *s, int64_t now, struct pp_err *err)
{
	const struct backend_health *b = backend(s);
	if (!b || !b->heartbeat)
		return pp_err_set(err, PP_ESTATE, "store: no health check for this backend");
	return b->heartbeat(s, now, err);
}
