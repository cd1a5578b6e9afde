/* pskprov master-key rotate|verify (usecase/rotate.h). */
#include <string.h>

#include "core/fileio.h"
#include "core/secret.h"
#include "prog/commands.h"
#include "store/store.h"
#include "usecase/rotate.h"

static void counts_print(const struct pp_sealed_counts *c)
{
	for (int i = 0; i < PP_SEALED_COLUMNS; i++)
		printf("  %-26s %llu\n", pp_sealed_column_name(i), (unsigned long long)c->n[i]);
}

static json_t *counts_json(const struct pp_sealed_counts *c)
{
	static const char *const key[PP_SEALED_COLUMNS] = {"batch_secrets", "pps", "mebx",
							   "escrowed_admin", "escrowed_mebx"};
	json_t *o = json_object();
	for (int i = 0; o && i < PP_SEALED_COLUMNS; i++)
		json_object_set_new(o, key[i], json_integer((json_int_t)c->n[i]));
	return o;
}

/* The data directory's paths, config and store settings; the key must be its file. */
static int key_file_setup(struct pp_cli *cli, struct pp_datadir *dd, struct pp_store_config *sc,
			  struct pp_err *err)
{
	struct pp_store *store = NULL;
	/* Opening completes an interrupted rotation and checks the key. */
	int rc = pp_datadir_open(cli, dd, &store, err);
	pp_store_close(store);
	if (rc < 0)
		return rc;
	struct pp_master_key mk;
	bool from_env = false;
	rc = pp_master_key_from_env(&mk, &from_env, err);
	pp_wipe(&mk, sizeof(mk));
	if (rc == 0 && from_env)
		return pp_err_set(err, PP_EINVAL,
				  "the master key comes from PSKPROV_MASTER_KEY; rotation works on "
				  "the key file '%s' (unset the variable)",
				  dd->key_path);
	return rc < 0 ? rc : pp_datadir_store_config(dd, sc, err);
}

static int mk_rotate(struct pp_cli *cli, int argc, char **argv)
{
	bool json = false;
	int ec;
	if (pp_parse_flags(
		argc, argv, PP_FLAG_JSON,
		"usage: pskprov [-d DIR] master-key rotate [--json]\n\n"
		"Makes a new master key and re-seals every sealed secret under it in one\n"
		"transaction; then the new key replaces master.key. A crash at any moment\n"
		"leaves the old key or the new one working (the next command completes an\n"
		"interrupted rotation). Stop every server using the store first, and give\n"
		"the other instances of a shared PostgreSQL store the new master.key.\n"
		"  --json      print the counts as JSON\n"
		"  -h, --help  this help\n",
		&json, NULL, &ec))
		return ec;
	if (optind != argc)
		return pp_usage_error("master-key rotate", "unexpected argument '%.40s'",
				      argv[optind]);
	struct pp_err err = {0};
	struct pp_datadir dd;
	struct pp_store_config sc;
	if (key_file_setup(cli, &dd, &sc, &err) < 0)
		return pp_fail_err(&err);
	/* A server still running would seal what it writes under the old key. */
	pp_cleanup(pp_closep) int lock_fd = -1;
	if (dd.config.backend == PP_BACKEND_SQLITE &&
	    pp_datadir_lock(dd.dir, "a pskprov server", "stop it before rotating the master key",
			    &lock_fd, &err) < 0)
		return pp_fail_err(&err);
	struct pp_uc_rotate_opts o = {.sc = &sc, .key_path = dd.key_path, .actor = pp_actor()};
	struct pp_uc_rotate_result r;
	if (pp_uc_rotate(&o, &r, &err) < 0)
		return pp_fail_err(&err);
	if (r.stale_removed)
		pp_note("removed '%s.new', left by a rotation that did not commit", dd.key_path);
	if (json)
		return pp_json_print(json_pack("{s:s,s:I,s:o}", "key_file", dd.key_path, "resealed",
					       (json_int_t)pp_sealed_total(&r.counts), "counts",
					       counts_json(&r.counts)));
	printf("master key rotated: %s holds the new key\n", dd.key_path);
	printf("re-sealed %llu secrets:\n", (unsigned long long)pp_sealed_total(&r.counts));
	counts_print(&r.counts);
	return PP_EXIT_OK;
}

static int mk_verify(struct pp_cli *cli, int argc, char **argv)
{
	bool json = false;
	int ec;
	if (pp_parse_flags(argc, argv, PP_FLAG_JSON,
			   "usage: pskprov [-d DIR] master-key verify [--json]\n\n"
			   "Unseals every sealed secret of the store once with the master key.\n"
			   "Exit 0 when all open, 1 naming the first that does not.\n"
			   "  --json      print the counts as JSON\n"
			   "  -h, --help  this help\n",
			   &json, NULL, &ec))
		return ec;
	if (optind != argc)
		return pp_usage_error("master-key verify", "unexpected argument '%.40s'",
				      argv[optind]);
	struct pp_err err = {0};
	struct pp_datadir dd;
	struct pp_store *store = NULL;
	struct pp_sealed_counts c;
	if (pp_datadir_open(cli, &dd, &store, &err) < 0)
		return pp_fail_err(&err);
	int rc = pp_store_sealed_verify(store, &c, &err);
	pp_store_close(store);
	if (rc < 0)
		return pp_fail_err(&err);
	if (json)
		return pp_json_print(json_pack("{s:I,s:o}", "sealed_secrets",
					       (json_int_t)pp_sealed_total(&c), "counts",
					       counts_json(&c)));
	printf("every sealed secret opens under the master key: %llu\n",
	       (unsigned long long)pp_sealed_total(&c));
	counts_print(&c);
	return PP_EXIT_OK;
}

int cmd_master_key(struct pp_cli *cli, int argc, char **argv)
{
	static const struct pp_command table[] = {
	    {"rotate", mk_rotate, "re-seal every secret under a new master key"},
	    {"verify", mk_verify, "unseal every secret once with the master key"},
	    {NULL, NULL, NULL},
	};
	return pp_dispatch(cli, "master-key", table, argc, argv);
}
