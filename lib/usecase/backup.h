/* Backup and restore of a data directory's SQLite store (docs/operations.md
 * "Backup and restore"; the file format: store/backup.h). */
#ifndef PSKPROV_USECASE_BACKUP_H
#define PSKPROV_USECASE_BACKUP_H

#include <stdbool.h>
#include <stdint.h>

#include "core/err.h"
#include "store/backup.h"
#include "store/rekey.h"

struct pp_store;
struct pp_master_key;

struct pp_uc_backup_opts {
	struct pp_store *store;         /* the open store: audits "backup" */
	const char *db_path;            /* its SQLite file */
	const char *out_path;           /* must not exist */
	const struct pp_master_key *mk; /* the store's key: the copy must match it */
	const char *actor;
	int64_t now;
};

/* Writes the backup (pp_store_backup_sqlite), then checks it: its key check value
 * opens under mk (so a restore with this key works) and the file holds the key
 * neither raw nor in hex; a copy that fails a check is removed. Audits "backup". */
int pp_uc_backup(const struct pp_uc_backup_opts *o, struct pp_backup_info *info,
		 struct pp_err *err) PP_WUR;

struct pp_uc_restore_opts {
	const char *backup_path;
	const char *key_file;    /* the key the backup was sealed with (0600) */
	const char *dir;         /* the new data directory: absent or empty */
	const char *config_path; /* in dir */
	const char *key_path;    /* in dir */
	const char *db_path;     /* in dir */
	const char *config_text; /* the default configuration (config.h) */
	const char *actor;
};

struct pp_uc_restore_result {
	struct pp_backup_info info;
	struct pp_sealed_counts counts; /* every sealed secret, unsealed once */
	bool dir_created;
};

/* Before anything is written: the backup is read (a newer schema than this program's:
 * -PP_EVERSION), the key file loaded and matched against the backup's key check value
 * (-PP_ECRYPTO), dir checked absent or empty (-PP_EEXIST). Then dir (0700) gets the
 * database, master.key (0600) and pskprov.conf (0600); the store is opened (an older
 * schema is migrated), every sealed secret unsealed, and "restore" audited. On failure
 * whatever was written is removed again. */
int pp_uc_restore(const struct pp_uc_restore_opts *o, struct pp_uc_restore_result *res,
		  struct pp_err *err) PP_WUR;

#endif
