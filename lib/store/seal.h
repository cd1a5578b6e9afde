/* Sealing secrets at rest: AES-256-GCM under the master key (docs/security-model.md).
 *
 * Sealed blob format [ours, versioned]:
 *
 *   u8 version = 1 || nonce[12] (random) || ciphertext[n] || tag[16]
 *
 * The additional authenticated data is the version byte, then "<label>|<subject>",
 * where the label names the field (enum pp_seal_purpose) and the subject is the row the
 * blob belongs to (PID, UUID, "batch:<name>"). A blob therefore opens only in the field
 * and the row it was sealed for: copying a PPS blob onto another PID, or into the MEBx
 * column, fails authentication.
 *
 * Nonces are 96 random bits per blob. With random nonces one key must seal well under
 * 2^32 blobs (NIST SP 800-38D, 8.3); a store of millions of keys is far inside that.
 *
 * A sealer holds the expanded key and two reusable EVP contexts; only the nonce changes
 * per blob, so bulk sealing costs one AES-GCM pass and no allocation. A sealer is not
 * thread-safe: one per thread. */
#ifndef PSKPROV_STORE_SEAL_H
#define PSKPROV_STORE_SEAL_H

#include <stddef.h>
#include <stdint.h>

#include "core/err.h"

#define PP_MASTER_KEY_LEN 32
#define PP_SEAL_VERSION 1
#define PP_SEAL_NONCE_LEN 12
#define PP_SEAL_TAG_LEN 16
#define PP_SEAL_OVERHEAD (1 + PP_SEAL_NONCE_LEN + PP_SEAL_TAG_LEN)
/* Largest plaintext a blob may carry; secrets here are tens of bytes. */
#define PP_SEAL_MAX_PLAIN 4096
#define PP_SEAL_MAX_BLOB (PP_SEAL_MAX_PLAIN + PP_SEAL_OVERHEAD)
/* Longest subject (PID, UUID, "batch:" + 64-char name, ...). */
#define PP_SEAL_MAX_SUBJECT 128

struct pp_master_key {
	uint8_t k[PP_MASTER_KEY_LEN];
};

/* Which field a blob belongs to; part of the AAD. Append only: the labels are on disk. */
enum pp_seal_purpose {
	PP_SEAL_PPS,          /* "pps",   subject = PID */
	PP_SEAL_MEBX,         /* "mebx",  subject = PID: the key's MEBx password */
	PP_SEAL_BATCH_SECRET, /* "batch", subject = "batch:<name>" */
	PP_SEAL_ADMIN,        /* "admin", subject = device UUID: escrowed admin credentials */
	PP_SEAL_DEVICE_MEBX,  /* "dmebx", subject = device UUID: MEBx password set on it */
	PP_SEAL_CHECK,        /* "check", subject = "master-key": the key check value */
	PP_SEAL_PURPOSE_MAX
};

struct pp_sealer;

/* Copies the key into the sealer (the caller may wipe its copy afterwards). */
int pp_sealer_new(const struct pp_master_key *mk, struct pp_sealer **out,
		  struct pp_err *err) PP_WUR;
/* A second sealer under the same key, for another thread (bulk sealing beside the
 * inserts: store.h pp_key_bulk_seal): the expanded key is copied, the nonce pool is not
 * (the copy draws its own nonces). src must not be in use on another thread meanwhile. */
int pp_sealer_clone(const struct pp_sealer *src, struct pp_sealer **out, struct pp_err *err) PP_WUR;
/* Wipes and frees; accepts NULL. */
void pp_sealer_free(struct pp_sealer *s);

static inline size_t pp_sealed_len(size_t plain_len)
{
	return plain_len + PP_SEAL_OVERHEAD;
}

/* Seals plain (1..PP_SEAL_MAX_PLAIN bytes) into out (out_cap >= pp_sealed_len). */
int pp_seal(struct pp_sealer *s, enum pp_seal_purpose purpose, const char *subject,
	    const void *plain, size_t plain_len, uint8_t *out, size_t out_cap, size_t *out_len,
	    struct pp_err *err) PP_WUR;

/* Opens a blob into plain (plain_cap >= blob_len - PP_SEAL_OVERHEAD). Any change to the
 * blob, a wrong key, purpose or subject, or a short blob: -PP_ECRYPTO, and plain is
 * wiped. Messages never contain the secret. */
int pp_unseal(struct pp_sealer *s, enum pp_seal_purpose purpose, const char *subject,
	      const uint8_t *blob, size_t blob_len, void *plain, size_t plain_cap,
	      size_t *plain_len, struct pp_err *err) PP_WUR;

/* Key check value: a sealed constant kept beside the data (a store's meta table) so a
 * wrong master key is told apart at open time from a damaged row later. */
#define PP_SEAL_CHECK_LEN (32 + PP_SEAL_OVERHEAD)
int pp_seal_check_make(struct pp_sealer *s, uint8_t *out, size_t out_cap, size_t *out_len,
		       struct pp_err *err) PP_WUR;
/* -PP_ECRYPTO "master key does not match this database" when it does not open. */
int pp_seal_check_verify(struct pp_sealer *s, const uint8_t *blob, size_t blob_len,
			 struct pp_err *err) PP_WUR;

#endif
