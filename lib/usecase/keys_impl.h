/* Shared by the keys use-cases; not for callers. */
#ifndef PSKPROV_USECASE_KEYS_IMPL_H
#define PSKPROV_USECASE_KEYS_IMPL_H

#include "store/store.h"

/* Runs fn in a transaction: committed when fn returns 0, rolled back when fn or the
 * commit fails (that error is the one reported; a rollback that fails ends with the
 * connection, which rolls back). */
int pp_keys_in_tx(struct pp_store *s, int (*fn)(void *ctx, struct pp_err *err), void *ctx,
		  struct pp_err *err) PP_WUR;

#endif
