/* Shared by the keys use-cases; not for callers. */
#ifndef PSKPROV_USECASE_KEYS_IMPL_H
#define PSKPROV_USECASE_KEYS_IMPL_H

#include "store/store.h"

/* Rolls back after a failure already in the caller's err (that error is the one to
 * report; a rollback that fails ends with the connection, which rolls back). */
void pp_keys_rollback(struct pp_store *s);

#endif
