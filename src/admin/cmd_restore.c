/* pskprov restore FILE --master-key KEYFILE: a new data directory from a backup
 * (usecase/backup.h). */
#include <getopt.h>
#include <string.h>

#include "prog/commands.h"
#include "store/store.h"
#include "usecase/backup.h"

static const char restore_usage[] =
    "usage: pskprov [-d DIR] restore FILE --master-key KEYFILE [--json]\n\n"
    "Makes DIR (absent or empty; mode 0700) a working data directory from the backup\n"
    "FILE: the database, master.key (a copy of KEYFILE, 0600) and a default\n"
    "pskprov.conf. KEYFILE must be the key the backup was sealed with; it is checked\n"
    "before anything is written. A backup of a newer schema than this pskprov knows is\n"
    "refused; an older one is upgraded. Every sealed secret is unsealed once.\n"
    "  -k, --master-key KEYFILE  the master key file (0600) of the backed-up store\n"
    "      --json                print the result as JSON\n"
    "  -h, --help                this help\n";

static int restore_print(const struct pp_datadir *dd, const struct pp_uc_restore_result *r,
			 bool json)
{
	uint64_t n = pp_sealed_total(&r->counts);
	if (json)
		return pp_json_print(json_pack(
		    "{s:s,s:s,s:s,s:I,s:I,s:I}", "data_directory", dd->dir, "database", dd->db_path,
		    "key_file", dd->key_path, "backup_schema_version",
		    (json_int_t)r->info.schema_version, "backup_created",
		    (json_int_t)r->info.created, "sealed_secrets_checked", (json_int_t)n));
	char t[24] = "at an unknown time";
	if (r->info.created > 0)
		pp_format_time(r->info.created, t);
	printf("restored %s\n", dd->dir);
	printf("  backup    schema %lld, made %s%s\n", (long long)r->info.schema_version, t,
	       r->info.created > 0 ? " UTC" : "");
	printf("  database  %s (schema %d)\n", dd->db_path, PP_STORE_SCHEMA_VERSION);
	printf("  key       %s (0600)\n", dd->key_path);
	printf("  checked   %llu sealed %s unseal with it\n", (unsigned long long)n,
	       pp_plural(n, "secret", "secrets"));
	return PP_EXIT_OK;
}

static int restore_run(struct pp_cli *cli, const char *file, const char *key, bool json)
{
	struct pp_err err = {0};
	struct pp_datadir dd;
	if (pp_datadir_paths(cli, &dd, &err) < 0)
		return pp_fail_err(&err);
	struct pp_uc_restore_opts o = {.backup_path = file,
				       .key_file = key,
				       .dir = dd.dir,
				       .config_path = dd.config_path,
				       .key_path = dd.key_path,
				       .db_path = dd.db_path,
				       .config_text = pp_config_default_text(),
				       .actor = pp_actor()};
	struct pp_uc_restore_result r;
	if (pp_uc_restore(&o, &r, &err) < 0)
		return pp_fail_err(&err);
	return restore_print(&dd, &r, json);
}

int cmd_restore(struct pp_cli *cli, int argc, char **argv)
{
	static const struct option opts[] = {{"master-key", required_argument, NULL, 'k'},
					     {"json", no_argument, NULL, 'j'},
					     {"help", no_argument, NULL, 'h'},
					     {NULL, 0, NULL, 0}};
	const char *key = NULL;
	bool json = false;
	int c;
	while ((c = pp_getopt(argc, argv, "k:h", opts)) != -1) {
		if (c == 'k')
			key = optarg;
		else if (c == 'j')
			json = true;
		else if (c == 'h') {
			fputs(restore_usage, stdout);
			return PP_EXIT_OK;
		} else
			return PP_EXIT_USAGE; /* pp_getopt said what was wrong */
	}
	if (optind == argc)
		return pp_usage_error("restore", "which backup FILE?");
	if (optind + 1 != argc)
		return pp_usage_error("restore", "unexpected argument '%.40s'", argv[optind + 1]);
	if (!key || !*key)
		return pp_usage_error("restore", "--master-key KEYFILE is required");
	return restore_run(cli, argv[optind], key, json);
}
