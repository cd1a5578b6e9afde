/* Master-key rotation (docs/operations.md "Master-key rotation").
 *
 * Crash safety: at every moment either the key file or the file beside it,
 * "<key>.new", opens the database, and pp_uc_key_open finds which:
 *   1. the new key is written to <key>.new (0600, fsynced with its directory);
 *   2. one transaction re-seals every secret under it and replaces the database's key
 *      check value (store/rekey.h); until it commits, the old key is the valid one;
 *   3. <key>.new is renamed over <key> and the directory fsynced.
 * A crash before 2 commits leaves the old key valid and a stale <key>.new (removed by
 * the next rotation); a crash between 2 and 3 leaves a database that <key>.new opens,
 * which pp_uc_key_open sees and completes by doing 3. */
#ifndef PSKPROV_USECASE_ROTATE_H
#define PSKPROV_USECASE_ROTATE_H

#include <stdbool.h>

#include "core/err.h"
#include "store/rekey.h"

struct pp_store;
struct pp_store_config;

/* Opens the store with the key in key_path; when that key does not match the database
 * (-PP_ECRYPTO) and <key_path>.new does, renames <key_path>.new over key_path first
 * (*finished true: an interrupted rotation was completed). */
int pp_uc_key_open(const struct pp_store_config *sc, const char *key_path, struct pp_store **out,
		   bool *finished, struct pp_err *err) PP_WUR;

/* Where a rotation is; a test hook may stop the process there. */
enum pp_rotate_point {
	PP_ROTATE_KEY_WRITTEN, /* <key>.new on disk */
	PP_ROTATE_RESEALED,    /* every blob re-sealed, not committed */
	PP_ROTATE_COMMITTED,   /* committed, <key>.new not yet renamed */
	PP_ROTATE_RENAMED,     /* done */
};

struct pp_uc_rotate_opts {
	const struct pp_store_config *sc;
	const char *key_path;
	const char *actor;
	/* Called at each point when not NULL (tests: a crash there). */
	void (*at)(void *ctx, enum pp_rotate_point p);
	void *at_ctx;
};

struct pp_uc_rotate_result {
	struct pp_sealed_counts counts; /* re-sealed */
	bool finished_before;           /* an interrupted rotation was completed first */
	bool stale_removed;             /* a <key>.new of an aborted rotation was removed */
};

/* Rotates as described above, holding a lock on key_path's directory (-PP_EBUSY when
 * another rotation holds it), then opens the store with the new key file and unseals
 * every secret once. The caller makes sure no server holds the store open: a running
 * server keeps the old key until it restarts. */
int pp_uc_rotate(const struct pp_uc_rotate_opts *o, struct pp_uc_rotate_result *res,
		 struct pp_err *err) PP_WUR;

/* Opens the store with the key file (completing an interrupted rotation) and unseals
 * every secret once. */
int pp_uc_key_verify(const struct pp_store_config *sc, const char *key_path,
		     struct pp_sealed_counts *counts, bool *finished, struct pp_err *err) PP_WUR;

#endif
