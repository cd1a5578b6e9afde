/* The master key: 32 random bytes kept outside the database (docs/security-model.md), in a 0600
 * file in the data directory or in PSKPROV_MASTER_KEY.
 *
 * File format [ours]: exactly 64 hex digits (either case) and an optional final
 * newline; nothing else. */
#ifndef PSKPROV_STORE_MASTERKEY_H
#define PSKPROV_STORE_MASTERKEY_H

#include "core/err.h"
#include "store/seal.h"

#define PP_MASTER_KEY_HEX_LEN (2 * PP_MASTER_KEY_LEN)

/* Generates a key and writes it to path, created 0600 with O_EXCL: -PP_EEXIST rather
 * than overwrite an existing key (which would make every sealed secret unreadable). */
int pp_master_key_create(const char *path, struct pp_err *err) PP_WUR;

/* Writes key to path the same way: 0600, whole or not at all, never over a file. */
int pp_master_key_save(const char *path, const struct pp_master_key *key,
		       struct pp_err *err) PP_WUR;

/* Reads a key file. Refuses a file readable or writable by group or others
 * (-PP_EPERM), and any content but 64 hex digits and an optional newline (-PP_EINVAL).
 * key is wiped on failure. */
int pp_master_key_load(const char *path, struct pp_master_key *key, struct pp_err *err) PP_WUR;

/* The same format from a systemd credential ($CREDENTIALS_DIRECTORY/master-key,
 * systemd.exec(5) "Credentials"): systemd made it readable by the service alone, in a
 * directory of the service's own, either by owner (0400) or by an ACL entry, which
 * shows as group bits in the mode; so the mode is not checked. */
int pp_master_key_load_credential(const char *path, struct pp_master_key *key,
				  struct pp_err *err) PP_WUR;

/* Parses 64 hex digits (the PSKPROV_MASTER_KEY value; the caller reads the
 * environment). No newline or spaces. key is wiped on failure. */
int pp_master_key_from_hex(const char *hex, struct pp_master_key *key, struct pp_err *err) PP_WUR;

#endif
