/* pskprov token create|list|revoke: bearer tokens for the server's HTTP API.
 *
 * Roles: read (the GET endpoints), admin (everything), agent (POST /api/v1/hello only:
 * what a host agent needs). A token is shown once, on stdout or into a new 0600 file
 * (--out), never on the command line of anything; the store keeps only its SHA-256. */
#include <getopt.h>
#include <string.h>
#include <unistd.h>

#include "prog/commands.h"
#include "core/fileio.h"
#include "core/secret.h"
#include "store/store.h"

struct create_opts {
	const char *name, *role, *out;
	bool json;
};

static const char create_usage[] =
    "usage: pskprov token create --role read|admin|agent --name NAME [--out FILE] [--json]\n\n"
    "Makes an API token and prints it once; only its hash is stored. Roles:\n"
    "  read    GET endpoints (status, lists)\n"
    "  admin   everything\n"
    "  agent   POST /api/v1/hello only (for 'pskprov agent --token-file')\n"
    "NAME: 1..64 of A-Z a-z 0-9 . _ -, unique among active tokens.\n"
    "--out FILE writes the token to a new file (mode 0600, never overwritten) instead\n"
    "of printing it.\n";

/* True when the caller must return *ec at once (help shown, or a usage error). */
static bool parse_create(int argc, char **argv, struct create_opts *o, int *ec)
{
	static const struct option opts[] = {
	    {"role", required_argument, NULL, 'r'}, {"name", required_argument, NULL, 'n'},
	    {"out", required_argument, NULL, 'o'},  {"json", no_argument, NULL, 'j'},
	    {"help", no_argument, NULL, 'h'},       {NULL, 0, NULL, 0}};
	int c;
	while ((c = pp_getopt(argc, argv, "r:n:o:jh", opts)) != -1) {
		switch (c) {
		case 'r':
			o->role = optarg;
			break;
		case 'n':
			o->name = optarg;
			break;
		case 'o':
			o->out = optarg;
			break;
		case 'j':
			o->json = true;
			break;
		case 'h':
			fputs(create_usage, stdout);
			*ec = PP_EXIT_OK;
			return true;
		default:
			*ec = PP_EXIT_USAGE;
			return true;
		}
	}
	*ec = 0;
	if (optind != argc)
		*ec = pp_usage_error("token create", "unexpected argument '%.40s'", argv[optind]);
	else if (!o->role || !pp_token_role_valid(o->role))
		*ec = pp_usage_error("token create", "--role must be read, admin or agent");
	else if (!o->name || !pp_token_name_valid(o->name))
		*ec = pp_usage_error("token create",
				     "--name must be 1..%d characters of A-Z a-z 0-9 . _ -",
				     PP_TOKEN_NAME_MAX);
	else if (o->out && !*o->out)
		*ec = pp_usage_error("token create", "--out: empty file name");
	return *ec != 0;
}

/* In one transaction: the token, its audit entry, and the file when asked for; the
 * file is removed again if the commit fails, so no file holds a token never stored. */
static int create_stored(struct pp_store *store, const struct create_opts *o,
			 char token[PP_TOKEN_TEXT_LEN + 1], struct pp_err *err)
{
	bool wrote = false;
	int rc = pp_store_begin(store, err);
	if (rc < 0)
		return rc;
	rc = pp_store_token_create(store, o->name, o->role, pp_actor(), token, err);
	if (rc == 0 && o->out) {
		char line[PP_TOKEN_TEXT_LEN + 2];
		memcpy(line, token, PP_TOKEN_TEXT_LEN);
		line[PP_TOKEN_TEXT_LEN] = '\n';
		rc = pp_file_create(o->out, line, PP_TOKEN_TEXT_LEN + 1, 0600, err);
		pp_wipe(line, sizeof(line));
		wrote = rc == 0;
	}
	if (rc == 0)
		rc = pp_store_commit(store, err);
	if (rc < 0) {
		pp_store_rollback_quiet(store);
		if (wrote)
			unlink(o->out);
		pp_wipe(token, PP_TOKEN_TEXT_LEN + 1);
	}
	return rc;
}

static int token_create(struct pp_cli *cli, int argc, char **argv)
{
	struct create_opts o = {0};
	int ec;
	if (parse_create(argc, argv, &o, &ec))
		return ec;
	struct pp_err err = {0};
	struct pp_datadir dd;
	struct pp_store *store = NULL;
	char token[PP_TOKEN_TEXT_LEN + 1] = "";
	int rc = pp_datadir_open(cli, &dd, &store, &err);
	if (rc == 0)
		rc = create_stored(store, &o, token, &err);
	pp_store_close(store);
	if (rc < 0)
		return pp_fail_err(&err);
	int out = PP_EXIT_OK;
	if (o.json) {
		json_t *j = o.out ? json_pack("{s:s,s:s,s:s}", "name", o.name, "role", o.role,
					      "file", o.out)
				  : json_pack("{s:s,s:s,s:s}", "name", o.name, "role", o.role,
					      "token", token);
		out = pp_json_print(j);
	} else if (o.out) {
		printf("token '%s' (%s) written to %s (0600); it is not shown again\n", o.name,
		       o.role, o.out);
	} else {
		printf("%s\n", token);
		fflush(stdout);
		pp_note("token '%s' (%s): shown once; only its hash is stored", o.name, o.role);
	}
	pp_wipe(token, sizeof(token));
	return out;
}

struct list_ctx {
	json_t *arr;
	unsigned n;
};

static int list_one(void *arg, const struct pp_token_info *t)
{
	struct list_ctx *lc = arg;
	lc->n++;
	const char *state = t->revoked ? "revoked" : "active";
	if (lc->arr) {
		json_t *o =
		    json_pack("{s:s,s:s,s:s,s:I,s:I,s:I}", "name", t->name, "role", t->role,
			      "state", state, "created", (json_int_t)t->created, "last_used",
			      (json_int_t)t->last_used, "revoked", (json_int_t)t->revoked);
		return o && json_array_append_new(lc->arr, o) == 0 ? 0 : -PP_ENOMEM;
	}
	char created[24], used[24] = "never";
	pp_format_time(t->created, created);
	if (t->last_used)
		pp_format_time(t->last_used, used);
	printf("%-24s %-6s %-8s %-20s %s\n", t->name, t->role, state, created, used);
	return 0;
}

static int token_list(struct pp_cli *cli, int argc, char **argv)
{
	static const struct option opts[] = {{"json", no_argument, NULL, 'j'},
					     {"all", no_argument, NULL, 'a'},
					     {"help", no_argument, NULL, 'h'},
					     {NULL, 0, NULL, 0}};
	bool json = false, all = false;
	int c;
	while ((c = pp_getopt(argc, argv, "jah", opts)) != -1) {
		if (c == 'j')
			json = true;
		else if (c == 'a')
			all = true;
		else if (c == 'h') {
			printf("usage: pskprov token list [--all] [--json]\n\n"
			       "Active API tokens: name, role, created, last used (as servers\n"
			       "record it, a few seconds late). --all: revoked ones too. Never\n"
			       "the token itself.\n");
			return PP_EXIT_OK;
		} else
			return PP_EXIT_USAGE;
	}
	if (optind != argc)
		return pp_usage_error("token list", "unexpected argument '%.40s'", argv[optind]);
	struct pp_err err = {0};
	struct pp_datadir dd;
	struct pp_store *store = NULL;
	if (pp_datadir_open(cli, &dd, &store, &err) < 0)
		return pp_fail_err(&err);
	struct list_ctx lc = {.arr = json ? json_array() : NULL};
	if (!json)
		printf("%-24s %-6s %-8s %-20s %s\n", "NAME", "ROLE", "STATE", "CREATED (UTC)",
		       "LAST USED");
	int rc = pp_store_token_list(store, all, list_one, &lc, &err);
	pp_store_close(store);
	if (rc < 0) {
		json_decref(lc.arr);
		return pp_fail_err(&err);
	}
	return json ? pp_json_print(lc.arr) : PP_EXIT_OK;
}

struct revoked_lookup {
	const char *name;
	bool found;
};

static int find_revoked(void *ctx, const struct pp_token_info *t)
{
	struct revoked_lookup *l = ctx;
	if (t->revoked && !strcmp(t->name, l->name))
		l->found = true;
	return 0;
}

/* Revokes the token; *already is true when no active token has the name but a revoked
 * one does (nothing to do: the caller says so and succeeds). */
static int token_revoke_once(struct pp_store *store, const char *name, bool *already,
			     struct pp_err *err)
{
	*already = false;
	int rc = pp_store_token_revoke(store, name, pp_actor(), err);
	if (rc != -PP_ENOTFOUND)
		return rc;
	struct revoked_lookup l = {.name = name};
	struct pp_err ignored = {0};
	if (pp_store_token_list(store, true, find_revoked, &l, &ignored) == 0 && l.found) {
		*already = true;
		return 0;
	}
	return rc;
}

static int token_revoke(struct pp_cli *cli, int argc, char **argv)
{
	bool json = false, already = false;
	int ec;
	if (pp_parse_flags(argc, argv, PP_FLAG_JSON,
			   "usage: pskprov token revoke NAME [--json]\n\n"
			   "Revokes the active token of that name; running servers refuse it\n"
			   "within a few seconds. A token already revoked is left as it is\n"
			   "(exit 0).\n",
			   &json, NULL, &ec))
		return ec;
	if (argc - optind != 1)
		return pp_usage_error("token revoke", "expected one token name");
	const char *name = argv[optind];
	if (!pp_token_name_valid(name))
		return pp_usage_error("token revoke",
				      "NAME must be 1..%d characters of A-Z a-z 0-9 . _ -",
				      PP_TOKEN_NAME_MAX);
	struct pp_err err = {0};
	struct pp_datadir dd;
	struct pp_store *store = NULL;
	int rc = pp_datadir_open(cli, &dd, &store, &err);
	if (rc == 0)
		rc = token_revoke_once(store, name, &already, &err);
	pp_store_close(store);
	if (rc < 0)
		return pp_fail_err(&err);
	if (json)
		return pp_json_print(json_pack("{s:s,s:s,s:b}", "name", name, "state", "revoked",
					       "already_revoked", already));
	if (already)
		printf("token '%s' was already revoked\n", name);
	else
		printf("revoked token '%s'\n", name);
	return PP_EXIT_OK;
}

int cmd_token(struct pp_cli *cli, int argc, char **argv)
{
	static const struct pp_command table[] = {
	    {"create", token_create, "make an API token (read, admin or agent), shown once"},
	    {"list", token_list, "list API tokens (never the tokens themselves)"},
	    {"revoke", token_revoke, "revoke an API token"},
	    {NULL, NULL, NULL},
	};
	return pp_dispatch(cli, "token", table, argc, argv);
}
