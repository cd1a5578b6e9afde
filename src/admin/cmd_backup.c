/* pskprov backup --out FILE: a copy of the SQLite store while the server runs
 * (usecase/backup.h); a PostgreSQL store is backed up with pg_dump. */
#include <getopt.h>
#include <string.h>

#include "prog/commands.h"
#include "core/secret.h"
#include "store/masterkey.h"
#include "store/store.h"
#include "usecase/backup.h"

static const char backup_usage[] =
    "usage: pskprov [-d DIR] backup --out FILE [--json]\n\n"
    "Copies the data directory's SQLite database to FILE (created 0600, never over an\n"
    "existing file) while the server may run. FILE holds sealed secrets only, never the\n"
    "master key: keep the key file apart, 'pskprov restore' needs it. A PostgreSQL\n"
    "store is backed up with pg_dump instead; this command prints how and exits 1.\n"
    "  -o, --out FILE  the backup file to create\n"
    "      --json      print the result as JSON\n"
    "  -h, --help      this help\n";

static void key_wipe(struct pp_master_key *mk)
{
	pp_wipe(mk, sizeof(*mk));
}

static int backup_print(const char *out, const struct pp_backup_info *info, bool json)
{
	if (json)
		return pp_json_print(json_pack("{s:s,s:I,s:I,s:I}", "file", out, "schema_version",
					       (json_int_t)info->schema_version, "bytes",
					       (json_int_t)info->bytes, "created",
					       (json_int_t)info->created));
	printf("backup written to %s (schema %lld, %llu bytes)\n", out,
	       (long long)info->schema_version, (unsigned long long)info->bytes);
	printf("  it holds sealed secrets only; restoring it needs this data directory's "
	       "master key\n");
	return PP_EXIT_OK;
}

static int backup_run(struct pp_cli *cli, const char *out, bool json)
{
	struct pp_err err = {0};
	struct pp_datadir dd;
	pp_cleanup(pp_cli_store_closep) struct pp_store *store = NULL;
	pp_cleanup(key_wipe) struct pp_master_key mk;
	memset(&mk, 0, sizeof(mk));
	if (pp_datadir_open(cli, &dd, &store, &err) < 0)
		return pp_fail_err(&err);
	if (strcmp(pp_store_backend(store), "sqlite") != 0)
		return pp_fail("a PostgreSQL store is backed up with pg_dump: "
			       "pg_dump --format=custom --file=%s \"$postgres_url\" "
			       "(postgres_url from %s; see docs/operations.md)",
			       out, dd.config_path);
	if (pp_datadir_key(&dd, &mk, &err) < 0)
		return pp_fail_err(&err);
	struct pp_uc_backup_opts o = {.store = store,
				      .db_path = dd.db_path,
				      .out_path = out,
				      .mk = &mk,
				      .actor = pp_actor(),
				      .now = pp_unix_time()};
	struct pp_backup_info info;
	if (pp_uc_backup(&o, &info, &err) < 0)
		return pp_fail_err(&err);
	return backup_print(out, &info, json);
}

int cmd_backup(struct pp_cli *cli, int argc, char **argv)
{
	static const struct option opts[] = {{"out", required_argument, NULL, 'o'},
					     {"json", no_argument, NULL, 'j'},
					     {"help", no_argument, NULL, 'h'},
					     {NULL, 0, NULL, 0}};
	const char *out = NULL;
	bool json = false;
	int c;
	while ((c = pp_getopt(argc, argv, "o:h", opts)) != -1) {
		if (c == 'o')
			out = optarg;
		else if (c == 'j')
			json = true;
		else if (c == 'h') {
			fputs(backup_usage, stdout);
			return PP_EXIT_OK;
		} else
			return PP_EXIT_USAGE; /* pp_getopt said what was wrong */
	}
	if (optind != argc)
		return pp_usage_error("backup", "unexpected argument '%.40s'", argv[optind]);
	if (!out || !*out)
		return pp_usage_error("backup", "--out FILE is required");
	return backup_run(cli, out, json);
}
