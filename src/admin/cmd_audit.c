/* pskprov audit list|verify */
#include <getopt.h>
#include <string.h>

#include "prog/commands.h"
#include "core/parse.h"
#include "store/store.h"

struct list_ctx {
	json_t *arr;
};

static int print_entry(void *arg, const struct pp_audit_entry *e)
{
	struct list_ctx *lc = arg;
	if (lc->arr) {
		json_t *o =
		    json_pack("{s:I,s:I,s:s,s:s,s:s,s:s,s:s}", "seq", (json_int_t)e->seq, "time",
			      (json_int_t)e->time, "actor", e->actor, "action", e->action,
			      "subject", e->subject, "detail", e->detail, "hash", e->hash);
		return o ? json_array_append_new(lc->arr, o) : -PP_ENOMEM;
	}
	char t[24];
	pp_format_time(e->time, t);
	printf("%6llu  %s  %-14s %-18s %-20s %s\n", (unsigned long long)e->seq, t, e->actor,
	       e->action, e->subject, e->detail);
	return 0;
}

static int audit_list(struct pp_cli *cli, int argc, char **argv)
{
	static const struct option opts[] = {{"json", no_argument, NULL, 'j'},
					     {"since", required_argument, NULL, 's'},
					     {"help", no_argument, NULL, 'h'},
					     {NULL, 0, NULL, 0}};
	bool json = false;
	uint64_t since = 0;
	struct pp_err err = {0};
	int c;
	while ((c = pp_getopt(argc, argv, "js:h", opts)) != -1) {
		switch (c) {
		case 'j':
			json = true;
			break;
		case 's':
			if (pp_parse_u64(optarg, 0, UINT64_MAX, &since, "--since", &err) < 0)
				return pp_usage_error("audit list", "%s", err.msg);
			break;
		case 'h':
			printf("usage: pskprov audit list [--since SEQ] [--json]\n");
			return PP_EXIT_OK;
		default:
			return PP_EXIT_USAGE;
		}
	}
	if (optind != argc)
		return pp_usage_error("audit list", "unexpected argument '%.40s'", argv[optind]);
	struct pp_datadir dd;
	struct pp_store *store = NULL;
	if (pp_datadir_open(cli, &dd, &store, &err) < 0)
		return pp_fail_err(&err);
	struct list_ctx lc = {.arr = json ? json_array() : NULL};
	int rc = pp_store_audit_list(store, since, print_entry, &lc, &err);
	pp_store_close(store);
	if (rc < 0) {
		json_decref(lc.arr);
		return pp_fail_err(&err);
	}
	return json ? pp_json_print(lc.arr) : PP_EXIT_OK;
}

static int audit_verify(struct pp_cli *cli, int argc, char **argv)
{
	bool json = false;
	int ec;
	if (pp_parse_flags(argc, argv, PP_FLAG_JSON,
			   "usage: pskprov audit verify [--json]\n\n"
			   "Recomputes the hash chain over every audit entry. Exit 0 when it\n"
			   "is intact, 1 naming the first entry that does not match.\n",
			   &json, NULL, &ec))
		return ec;
	if (optind != argc)
		return pp_usage_error("audit verify", "unexpected argument '%.40s'", argv[optind]);
	struct pp_err err = {0};
	struct pp_datadir dd;
	struct pp_store *store = NULL;
	if (pp_datadir_open(cli, &dd, &store, &err) < 0)
		return pp_fail_err(&err);
	uint64_t n = 0;
	int rc = pp_store_audit_verify(store, &n, &err);
	pp_store_close(store);
	if (json) {
		json_t *o = json_pack("{s:b,s:I,s:s}", "ok", rc == 0, "entries", (json_int_t)n,
				      "error", rc == 0 ? "" : err.msg);
		int prc = pp_json_print(o);
		return rc == 0 ? prc : PP_EXIT_FAIL;
	}
	if (rc < 0)
		return pp_fail("audit log is broken: %s", err.msg);
	printf("audit log intact: %llu entries, hash chain verified\n", (unsigned long long)n);
	return PP_EXIT_OK;
}

int cmd_audit(struct pp_cli *cli, int argc, char **argv)
{
	static const struct pp_command table[] = {
	    {"list", audit_list, "print the audit log"},
	    {"verify", audit_verify, "check the hash chain of the audit log"},
	    {NULL, NULL, NULL},
	};
	return pp_dispatch(cli, "audit", table, argc, argv);
}
