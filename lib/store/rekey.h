/* Every sealed secret of a store at once: checked under the store's master key, or
 * re-sealed under a new one (master-key rotation, docs/operations.md).
 *
 * The sealed columns are batches.secret ("batch"), keys.pps ("pps"), keys.mebx
 * ("mebx"), devices.admin_secret ("admin") and devices.mebx ("dmebx"), plus the key
 * check value in meta. A new sealed purpose (seal.h) must be added to rekey.c: a
 * static assertion there counts them. */
#ifndef PSKPROV_STORE_REKEY_H
#define PSKPROV_STORE_REKEY_H

#include <stdint.h>

#include "core/err.h"
#include "store/seal.h"

struct pp_store;

/* Blobs per sealed column, in the order above. */
enum pp_sealed_column {
	PP_SEALED_BATCH_SECRET,
	PP_SEALED_KEY_PPS,
	PP_SEALED_KEY_MEBX,
	PP_SEALED_DEVICE_ADMIN,
	PP_SEALED_DEVICE_MEBX,
	PP_SEALED_COLUMNS
};
struct pp_sealed_counts {
	uint64_t n[PP_SEALED_COLUMNS];
};
/* "batch secrets", "PPS", "MEBx passwords", "escrowed admin passwords", "escrowed MEBx
 * passwords". */
const char *pp_sealed_column_name(enum pp_sealed_column c);
uint64_t pp_sealed_total(const struct pp_sealed_counts *c);

/* Unseals every blob with the store's key and counts them. The first that does not
 * open: -PP_ECRYPTO naming its column and row (PID, UUID or batch name; never the
 * secret). */
int pp_store_sealed_verify(struct pp_store *s, struct pp_sealed_counts *counts,
			   struct pp_err *err) PP_WUR;

/* Re-seals every blob under next and writes the key check value of next, inside the
 * caller's transaction (pp_store_begin; -PP_ESTATE outside one), and audits
 * "master-key-rotate" (actor, with the counts; no secret). Nothing changes until the
 * caller commits; a rollback or a crash leaves the old key the only valid one. After
 * a commit the handle still holds the old key: close it. */
int pp_store_rekey(struct pp_store *s, const struct pp_master_key *next, const char *actor,
		   struct pp_sealed_counts *counts, struct pp_err *err) PP_WUR;

/* The key check value stored in the database opens under mk (0), or not
 * (-PP_ECRYPTO); for a database file checked before it is used (restore). */
int pp_key_check_matches(const struct pp_master_key *mk, const uint8_t *kcv, size_t len,
			 struct pp_err *err) PP_WUR;

#endif
