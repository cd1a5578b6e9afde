/* A new data directory: pskprov.conf, the master key (unless one is given) and the
 * store (SQLite in the directory, or a PostgreSQL schema made or joined). */
#ifndef PSKPROV_USECASE_INIT_H
#define PSKPROV_USECASE_INIT_H

#include <stdbool.h>
#include <sys/types.h>

#include "core/err.h"

struct pp_master_key;

#define PP_UC_POSTGRES_URL_MAX 511 /* config.h: postgres_url[512] */

struct pp_uc_init_opts {
	const char *dir;
	const char *config_path;
	const char *key_path;
	const char *db_path;
	const char *config_text;           /* the default configuration (config.h) */
	const char *postgres;              /* NULL: SQLite in dir */
	const struct pp_master_key *given; /* NULL: create key_path (0600) */
	const char *actor;
};

struct pp_uc_init_result {
	bool created_key; /* key_path written */
	bool joined;      /* PostgreSQL: another instance made the schema already */
	bool dir_open;    /* dir is accessible by group or others */
	mode_t dir_mode;  /* its permission bits */
};

/* --postgres: one line, no ';' or newline, no password (keep it in ~/.pgpass). */
int pp_uc_init_check(const struct pp_uc_init_opts *o, struct pp_err *err) PP_WUR;

/* Creates dir (0700) unless it exists, refuses one holding a pskprov data set, writes
 * the config (0600), the key when none is given, and the store, and audits "init". On
 * failure the files it made are removed again. */
int pp_uc_init(const struct pp_uc_init_opts *o, struct pp_uc_init_result *res,
	       struct pp_err *err) PP_WUR;

#endif
