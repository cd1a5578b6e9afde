/* pskprov init: creates the data directory with its config, master key and database. */
#include <errno.h>
#include <getopt.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli/commands.h"
#include "core/bytes.h"
#include "core/fileio.h"
#include "core/secret.h"
#include "store/masterkey.h"
#include "store/store.h"

static void init_usage(FILE *out)
{
	fprintf(out, "usage: pskprov [-d DIR] init [--postgres CONNINFO]\n\n"
		     "Creates DIR (mode 0700) with pskprov.conf, master.key (0600) and the\n"
		     "SQLite database. With PSKPROV_MASTER_KEY set (64 hex digits) no key file\n"
		     "is written and that key is used. Refuses a directory that holds a\n"
		     "pskprov data set already.\n"
		     "  --postgres CONNINFO  use (and create the schema in) a PostgreSQL\n"
		     "                       database shared by several server instances; give\n"
		     "                       each instance a data directory with the same\n"
		     "                       master key. Keep passwords in ~/.pgpass, not here.\n");
}

int cmd_init(struct pp_cli *cli, int argc, char **argv)
{
	static const struct option opts[] = {{"postgres", required_argument, NULL, 'p'},
					     {"help", no_argument, NULL, 'h'},
					     {NULL, 0, NULL, 0}};
	const char *pg = NULL;
	int c;
	while ((c = getopt_long(argc, argv, "p:h", opts, NULL)) != -1) {
		if (c == 'p') {
			pg = optarg;
			continue;
		}
		if (c == 'h') {
			init_usage(stdout);
			return PP_EXIT_OK;
		}
		init_usage(stderr);
		return PP_EXIT_USAGE;
	}
	if (pg && (!*pg || strlen(pg) >= sizeof(((struct pp_config *)0)->postgres_url) ||
		   strpbrk(pg, "\n\r;")))
		return pp_usage_error("init", "--postgres: not a usable conninfo");
	if (pg && strstr(pg, "password"))
		return pp_usage_error("init", "--postgres: keep the password in ~/.pgpass or "
					      "PGPASSFILE, not in the conninfo");
	if (optind != argc)
		return pp_usage_error("init", "unexpected argument '%.40s'", argv[optind]);

	struct pp_err err = {0};
	struct pp_datadir dd;
	if (pp_datadir_paths(cli, &dd, &err) < 0)
		return pp_fail_err(&err);

	if (mkdir(dd.dir, 0700) < 0 && errno != EEXIST)
		return pp_fail("cannot create '%s': %s", dd.dir, strerror(errno));
	struct stat st;
	if (stat(dd.dir, &st) < 0 || !S_ISDIR(st.st_mode))
		return pp_fail("'%s' is not a directory", dd.dir);
	if (access(dd.config_path, F_OK) == 0 || access(dd.db_path, F_OK) == 0 ||
	    access(dd.key_path, F_OK) == 0)
		return pp_fail("'%s' already holds a pskprov data set; not overwriting", dd.dir);
	if (st.st_mode & 077)
		pp_note("warning: '%s' is accessible by other users (mode %03o)", dd.dir,
			(unsigned)(st.st_mode & 0777));

	struct pp_master_key mk;
	bool created_key = false, from_env = false;
	int rc = pp_master_key_from_env(&mk, &from_env, &err);
	if (rc < 0)
		return pp_fail_err(&err);
	if (!from_env) {
		rc = pp_master_key_create(dd.key_path, &err);
		if (rc == 0)
			rc = pp_master_key_load(dd.key_path, &mk, &err);
		if (rc < 0)
			return pp_fail_err(&err);
		created_key = true;
	}

	struct pp_buf conf;
	pp_buf_init(&conf, 2 * PP_CONFIG_MAX_BYTES);
	rc = pp_buf_append_str(&conf, pp_config_default_text());
	if (rc == 0 && pg)
		rc = pp_buf_printf(&conf, "\n[store]\nbackend = postgres\npostgres_url = %s\n", pg);
	if (rc < 0) {
		pp_buf_free(&conf);
		pp_err_set(&err, PP_ENOMEM, "out of memory");
		goto fail;
	}
	rc = pp_file_create(dd.config_path, conf.data, conf.len, 0600, &err);
	pp_buf_free(&conf);
	if (rc < 0)
		goto fail;

	struct pp_store *store = NULL;
	bool joined = false;
	if (pg) {
		rc = pp_store_open_postgres(pg, &mk, true, &store, &err);
		if (rc == -PP_EEXIST) {
			/* Another instance made the schema: join it. Opening checks that this
			 * master key is the one the database was made with. */
			rc = pp_store_open_postgres(pg, &mk, false, &store, &err);
			joined = rc == 0;
		}
	} else
		rc = pp_store_open_sqlite(dd.db_path, &mk, true, &store, &err);
	if (rc == 0)
		rc = pp_store_audit_append(store, pp_actor(), "init", dd.dir,
					   "data directory created", &err);
	pp_store_close(store);
	if (rc < 0) {
		unlink(dd.config_path);
		unlink(dd.db_path);
		goto fail;
	}
	pp_wipe(&mk, sizeof(mk));
	printf("initialised %s\n", dd.dir);
	printf("  config    %s\n", dd.config_path);
	if (pg)
		printf("  database  PostgreSQL (postgres_url in pskprov.conf)%s\n",
		       joined ? ", joined the existing schema" : "");
	else
		printf("  database  %s\n", dd.db_path);
	if (created_key)
		printf("  key       %s (0600; back it up: without it no secret can be read)\n",
		       dd.key_path);
	else
		printf("  key       from PSKPROV_MASTER_KEY (no key file written)\n");
	return PP_EXIT_OK;
fail:
	pp_wipe(&mk, sizeof(mk));
	if (created_key)
		unlink(dd.key_path);
	return pp_fail_err(&err);
}
