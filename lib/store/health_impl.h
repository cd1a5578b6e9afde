/* Inside the store: connection health per backend (health.c dispatches by name, so the
 * operations table in store_impl.h stays as it is). Semantics: store.h, "connection
 * health". */
#ifndef PSKPROV_STORE_HEALTH_IMPL_H
#define PSKPROV_STORE_HEALTH_IMPL_H

#include "store/store_impl.h"

bool pp_pg_conn_lost(struct pp_store *s);
int pp_pg_reconnect(struct pp_store *s, struct pp_err *err);
int pp_pg_txn_id(struct pp_store *s, uint64_t *id, struct pp_err *err);
int pp_pg_txn_status(struct pp_store *s, uint64_t id, enum pp_txn_status *st, struct pp_err *err);
int pp_pg_heartbeat(struct pp_store *s, int64_t now, struct pp_err *err);

int pp_sqlite_heartbeat(struct pp_store *s, int64_t now, struct pp_err *err);

#endif
