/* pskprov init: creates the data directory with its config, master key and database. */
#include <getopt.h>
#include <string.h>

#include "prog/commands.h"
#include "core/secret.h"
#include "store/masterkey.h"
#include "store/store.h"
#include "usecase/init.h"

static void init_usage(FILE *out)
{
	fprintf(out, "usage: pskprov [-d DIR] init [--postgres CONNINFO] [--json]\n\n"
		     "Creates DIR (mode 0700) with pskprov.conf, master.key (0600) and the\n"
		     "SQLite database. With PSKPROV_MASTER_KEY set (64 hex digits) no key file\n"
		     "is written and that key is used. Refuses a directory that holds a\n"
		     "pskprov data set already.\n"
		     "  --postgres CONNINFO  use (and create the schema in) a PostgreSQL\n"
		     "                       database shared by several server instances; give\n"
		     "                       each instance a data directory with the same\n"
		     "                       master key. Keep passwords in ~/.pgpass, not here.\n");
}

struct init_args {
	const char *postgres;
	bool json;
};

/* PP_EXIT_* to return at once, or -1 to go on. */
static int init_parse(int argc, char **argv, struct init_args *a)
{
	static const struct option opts[] = {{"postgres", required_argument, NULL, 'p'},
					     {"json", no_argument, NULL, 'j'},
					     {"help", no_argument, NULL, 'h'},
					     {NULL, 0, NULL, 0}};
	int c;
	while ((c = pp_getopt(argc, argv, "p:jh", opts)) != -1) {
		if (c == 'p') {
			a->postgres = optarg;
		} else if (c == 'j') {
			a->json = true;
		} else if (c == 'h') {
			init_usage(stdout);
			return PP_EXIT_OK;
		} else {
			return PP_EXIT_USAGE; /* pp_getopt said what was wrong */
		}
	}
	struct pp_err err = {0};
	struct pp_uc_init_opts o = {.postgres = a->postgres};
	if (pp_uc_init_check(&o, &err) < 0)
		return pp_usage_error("init", "%s", err.msg);
	if (optind != argc)
		return pp_usage_error("init", "unexpected argument '%.40s'", argv[optind]);
	return -1;
}

static json_t *json_str_or_null(const char *s)
{
	return s ? json_string(s) : json_null();
}

static int init_print(const struct pp_datadir *dd, const struct init_args *a,
		      const struct pp_uc_init_result *r)
{
	if (a->json)
		return pp_json_print(json_pack(
		    "{s:s,s:s,s:s,s:o,s:b,s:o,s:s}", "data_directory", dd->dir, "config",
		    dd->config_path, "backend", a->postgres ? "postgres" : "sqlite", "database",
		    json_str_or_null(a->postgres ? NULL : dd->db_path), "joined", r->joined,
		    "key_file", json_str_or_null(r->created_key ? dd->key_path : NULL),
		    "key_source", r->created_key ? "file" : "environment"));
	printf("initialised %s\n", dd->dir);
	printf("  config    %s\n", dd->config_path);
	if (a->postgres)
		printf("  database  PostgreSQL (postgres_url in pskprov.conf)%s\n",
		       r->joined ? ", joined the existing schema" : "");
	else
		printf("  database  %s\n", dd->db_path);
	if (r->created_key)
		printf("  key       %s (0600; back it up: without it no secret can be read)\n",
		       dd->key_path);
	else
		printf("  key       from PSKPROV_MASTER_KEY (no key file written)\n");
	return PP_EXIT_OK;
}

static void key_wipe(struct pp_master_key *mk)
{
	pp_wipe(mk, sizeof(*mk));
}

int cmd_init(struct pp_cli *cli, int argc, char **argv)
{
	struct init_args a = {0};
	int ec = init_parse(argc, argv, &a);
	if (ec >= 0)
		return ec;
	struct pp_err err = {0};
	struct pp_datadir dd;
	pp_cleanup(key_wipe) struct pp_master_key mk;
	bool from_env = false;
	memset(&mk, 0, sizeof(mk));
	if (pp_datadir_paths(cli, &dd, &err) < 0 ||
	    pp_master_key_from_env(&mk, &from_env, &err) < 0)
		return pp_fail_err(&err);
	struct pp_uc_init_opts o = {.dir = dd.dir,
				    .config_path = dd.config_path,
				    .key_path = dd.key_path,
				    .db_path = dd.db_path,
				    .config_text = pp_config_default_text(),
				    .postgres = a.postgres,
				    .given = from_env ? &mk : NULL,
				    .actor = pp_actor()};
	struct pp_uc_init_result r;
	if (pp_uc_init(&o, &r, &err) < 0)
		return pp_fail_err(&err);
	if (r.dir_open)
		pp_note("warning: '%s' is accessible by other users (mode %03o)", dd.dir,
			(unsigned)r.dir_mode);
	return init_print(&dd, &a, &r);
}
