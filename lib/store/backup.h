/* Backup files of the SQLite store (docs/operations.md "Backup and restore").
 *
 * A backup is an SQLite database file, a page-for-page copy of the store made with the
 * online backup API in one read transaction (a server may go on writing meanwhile),
 * switched to a rollback journal so that it is one self-contained file. It holds
 * sealed secrets only, never the master key. Its meta table is its header: the schema
 * version, the key check value (a fixed plaintext sealed under the master key, which
 * only that key opens: seal.h) and meta.backup_created, the time of the copy.
 * PostgreSQL stores are backed up with pg_dump (the operations guide). */
#ifndef PSKPROV_STORE_BACKUP_H
#define PSKPROV_STORE_BACKUP_H

#include <stdint.h>

#include "core/err.h"
#include "store/seal.h"

struct pp_backup_info {
	int64_t schema_version;
	int64_t created; /* meta.backup_created; 0 in a database that is not a backup */
	uint64_t bytes;  /* the file's size */
	uint8_t kcv[PP_SEAL_CHECK_LEN];
	size_t kcv_len;
};

/* Copies the database at db_path to out_path: the copy is made in a temporary file
 * (0600) beside out_path, checked (PRAGMA integrity_check, a schema version, a key
 * check value), fsynced and moved to out_path only if out_path does not exist
 * (-PP_EEXIST; never overwritten). On failure nothing is left behind. info describes
 * the copy. */
int pp_store_backup_sqlite(const char *db_path, const char *out_path, int64_t now,
			   struct pp_backup_info *info, struct pp_err *err) PP_WUR;

/* Opens a backup (or database) file read-only and reads its header, after a
 * PRAGMA quick_check: -PP_ESTORE for a damaged or foreign file, -PP_EVERSION for a
 * schema newer than this program's (the message says which and what to do). */
int pp_store_backup_inspect(const char *path, struct pp_backup_info *info,
			    struct pp_err *err) PP_WUR;

/* Copies the backup at backup_path into a new database file db_path (created 0600;
 * -PP_EEXIST when it exists), fsynced. The caller opens it with pp_store_open, which
 * checks the key and migrates an older schema. On failure db_path is removed. */
int pp_store_backup_unpack(const char *backup_path, const char *db_path, struct pp_err *err) PP_WUR;

#endif
