/* pskprov keys generate|list|show|revoke|check|export|import|transport-key|report
 *
 * Each subcommand parses its options, calls the use-case (usecase/keys.h) and prints
 * the result: text, or JSON with --json (snake_case keys; a secret not shown is null).
 * PIDs are shown in their display form, XXXX-XXXC, and accepted with or without the
 * dash. */
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "prog/commands.h"
#include "core/parse.h"
#include "core/secret.h"
#include "keys/csv.h"
#include "keys/keys.h"
#include "keys/pskc.h"
#include "store/store.h"
#include "usecase/keys.h"

#define SILENT_SHOWN 50 /* keys exported but never seen, listed in the text report */

/* ---- shared helpers ---------------------------------------------------------- */

static void store_closep(struct pp_store **s)
{
	pp_store_close(*s);
}

static void secret_line_wipe(char (*line)[PP_PSKC_PASSPHRASE_MAX + 2])
{
	pp_wipe(*line, sizeof(*line));
}

static void shown_wipe(struct pp_keys_shown *k)
{
	pp_wipe(k, sizeof(*k));
}

static int parse_pid_arg(const char *cmd, const char *text, struct pp_pid *pid)
{
	struct pp_err err = {0};
	if (pp_pid_parse(text, pid, &err) < 0)
		return pp_usage_error(cmd, "%s", err.msg);
	return 0;
}

/* getopt_long over argv, each option handed to fn: -1 to go on, else the exit code. */
static int parse_options(int argc, char **argv, const char *shortopts, const struct option *opts,
			 int (*fn)(int c, void *ctx), void *ctx)
{
	int c, ec;
	while ((c = pp_getopt(argc, argv, shortopts, opts)) != -1)
		if ((ec = fn(c, ctx)) >= 0)
			return ec;
	return -1;
}

/* The options export and import share: the PSKC protection, --json and --help. */
#define PSKC_OPTIONS                                                                               \
	{"transport-key", required_argument, NULL, 'k'},                                           \
	    {"key-name", required_argument, NULL, 'n'}, {"passphrase", no_argument, NULL, 'p'},    \
	    {"passphrase-file", required_argument, NULL, 'P'}, {"json", no_argument, NULL, 'j'},   \
	    {"help", no_argument, NULL, 'h'},                                                      \
	{                                                                                          \
		NULL, 0, NULL, 0                                                                   \
	}
#define PSKC_SHORTOPTS "k:n:pP:jh"

static void progress_cb(void *ctx, uint64_t done, uint64_t total)
{
	(void)total;
	pp_progress_update(ctx, done);
}

/* ---- generate ---------------------------------------------------------------- */

static void generate_usage(FILE *out)
{
	fprintf(out,
		"usage: pskprov keys generate --count N [--batch NAME] [--derived]\n"
		"                             [--shared N] [--mebx-password random|ask] "
		"[--json]\n\n"
		"Makes a batch of N PID/PPS pairs in one transaction (all or nothing).\n"
		"  --batch NAME           batch name (default: batch-YYYYMMDD-HHMMSS)\n"
		"  --derived              PPS derived from one batch secret (stored sealed)\n"
		"  --shared N             each key may be used by up to N devices (flagged\n"
		"                         everywhere; unique keys are the default and safer)\n"
		"  --mebx-password random a random strong MEBx password per key (default)\n"
		"  --mebx-password ask    one MEBx password for the batch, read without echo\n");
}

struct gen_args {
	struct pp_keys_generate_opts o;
	bool ask, json;
	char defname[32];
};

/* One option; returns -1 to go on, else the exit code. */
static int generate_option(int c, void *ctx)
{
	struct gen_args *a = ctx;
	struct pp_err err = {0};
	switch (c) {
	case 'n':
		if (pp_parse_u32(optarg, 1, PP_KEYS_GENERATE_MAX, &a->o.count, "--count", &err) < 0)
			return pp_usage_error("keys generate", "%s", err.msg);
		return -1;
	case 'b':
		a->o.batch = optarg;
		return -1;
	case 'D':
		a->o.derived = true;
		return -1;
	case 's':
		if (pp_parse_u32(optarg, 2, PP_KEYS_SHARED_MAX, &a->o.shared, "--shared", &err) < 0)
			return pp_usage_error("keys generate", "%s", err.msg);
		return -1;
	case 'm':
		a->ask = !strcmp(optarg, "ask");
		if (!a->ask && strcmp(optarg, "random"))
			return pp_usage_error("keys generate",
					      "--mebx-password: '%.20s' is not random or ask",
					      optarg);
		return -1;
	case 'j':
		a->json = true;
		return -1;
	case 'h':
		generate_usage(stdout);
		return PP_EXIT_OK;
	default:
		generate_usage(stderr);
		return PP_EXIT_USAGE;
	}
}

static int generate_parse(int argc, char **argv, struct gen_args *a)
{
	static const struct option opts[] = {{"count", required_argument, NULL, 'n'},
					     {"batch", required_argument, NULL, 'b'},
					     {"derived", no_argument, NULL, 'D'},
					     {"shared", required_argument, NULL, 's'},
					     {"mebx-password", required_argument, NULL, 'm'},
					     {"json", no_argument, NULL, 'j'},
					     {"help", no_argument, NULL, 'h'},
					     {NULL, 0, NULL, 0}};
	int ec = parse_options(argc, argv, "n:b:Ds:m:jh", opts, generate_option, a);
	if (ec >= 0)
		return ec;
	if (optind != argc)
		return pp_usage_error("keys generate", "unexpected argument '%.40s'", argv[optind]);
	if (!a->o.count)
		return pp_usage_error("keys generate", "--count is required");
	if (!a->o.batch) {
		time_t now = time(NULL);
		struct tm tm;
		gmtime_r(&now, &tm);
		strftime(a->defname, sizeof(a->defname), "batch-%Y%m%d-%H%M%S", &tm);
		a->o.batch = a->defname;
	}
	struct pp_err err = {0};
	if (pp_batch_name_check(a->o.batch, &err) < 0)
		return pp_usage_error("keys generate", "--batch: %s", err.msg);
	return -1;
}

static int generate_print(const struct gen_args *a, const struct pp_keys_generate_result *r)
{
	const struct pp_keys_generate_opts *o = &a->o;
	double rate = r->seconds > 0 ? r->count / r->seconds : 0.0;
	if (a->json)
		return pp_json_print(json_pack("{s:s,s:I,s:I,s:b,s:I,s:f,s:f}", "batch", o->batch,
					       "batch_id", (json_int_t)r->batch_id, "count",
					       (json_int_t)r->count, "derived", o->derived,
					       "shared", (json_int_t)o->shared, "seconds",
					       r->seconds, "keys_per_second", rate));
	printf("batch %s: %u %s%s %s generated in %.2f s (%.0f keys/s)\n", o->batch, r->count,
	       o->derived ? "derived " : "", o->shared ? "SHARED" : "unique",
	       pp_plural(r->count, "key", "keys"), r->seconds, rate);
	if (o->shared)
		printf("warning: shared keys: each PID/PPS opens up to %u devices; one leaked "
		       "device exposes them all\n",
		       o->shared);
	return PP_EXIT_OK;
}

static int keys_generate(struct pp_cli *cli, int argc, char **argv)
{
	struct gen_args a = {.o = {.count = 0}};
	int ec = generate_parse(argc, argv, &a);
	if (ec >= 0)
		return ec;
	pp_cleanup(secret_line_wipe) char mebx[PP_PSKC_PASSPHRASE_MAX + 2] = "";
	struct pp_err err = {0};
	if (a.ask) {
		if (pp_read_secret("MEBx password for the batch: ", mebx, PP_MEBX_PW_MAX + 2,
				   &err) < 0)
			return pp_fail("MEBx password: %s", err.msg);
		if (pp_mebx_password_check(mebx, &err) < 0)
			return pp_fail("%s", err.msg); /* it names the MEBx password */
		a.o.mebx_password = mebx;
	}
	struct pp_datadir dd;
	pp_cleanup(store_closep) struct pp_store *store = NULL;
	if (pp_datadir_open(cli, &dd, &store, &err) < 0)
		return pp_fail_err(&err);
	struct pp_progress prog;
	pp_progress_start(&prog, "generating", a.o.count);
	a.o.mebx_length = dd.config.mebx_password_length;
	a.o.actor = pp_actor();
	a.o.progress = progress_cb;
	a.o.progress_ctx = &prog;
	struct pp_keys_generate_result r;
	if (pp_keys_generate(store, &a.o, &r, &err) < 0)
		return pp_fail_err(&err);
	pp_progress_finish(&prog);
	return generate_print(&a, &r);
}

/* ---- list / show ------------------------------------------------------------- */

static void shared_text(const struct pp_key_info *k, char *out, size_t cap)
{
	if (k->shared)
		snprintf(out, cap, "SHARED %u/%u", k->use_count, k->max_devices);
	else
		snprintf(out, cap, "-");
}

static json_t *key_json(const struct pp_key_info *k)
{
	char pid[PP_PID_TEXT];
	pp_pid_text(k->pid, pid);
	return json_pack(
	    "{s:s,s:s,s:s,s:b,s:b,s:I,s:I,s:I,s:I,s:I,s:I}", "pid", pid, "batch", k->batch, "state",
	    pp_key_state_name(k->state), "derived", k->derived, "shared", k->shared, "max_devices",
	    (json_int_t)k->max_devices, "use_count", (json_int_t)k->use_count, "failure_count",
	    (json_int_t)k->failure_count, "locked_until", (json_int_t)k->locked_until, "created",
	    (json_int_t)k->created, "exported_at", (json_int_t)k->exported_at);
}

static int list_row(void *arg, const struct pp_key_info *k)
{
	json_t *arr = arg;
	if (arr) {
		json_t *o = key_json(k);
		return o && json_array_append_new(arr, o) == 0 ? 0 : -PP_ENOMEM;
	}
	char pid[PP_PID_TEXT], sh[32], t[24];
	pp_pid_text(k->pid, pid);
	shared_text(k, sh, sizeof(sh));
	pp_format_time(k->created, t);
	printf("%-10s %-24s %-9s %-14s %5u  %s\n", pid, k->batch, pp_key_state_name(k->state), sh,
	       k->use_count, t);
	return 0;
}

struct list_args {
	struct pp_key_filter f;
	bool json;
};

static int list_option(int c, void *ctx)
{
	struct list_args *a = ctx;
	struct pp_key_filter *f = &a->f;
	struct pp_err err = {0};
	enum pp_key_state st;
	switch (c) {
	case 'b':
		f->batch = optarg;
		return -1;
	case 's':
		if (pp_key_state_parse(optarg, &st, &err) < 0)
			return pp_usage_error("keys list", "--state: %s", err.msg);
		f->state = (int)st;
		return -1;
	case 'l':
		if (pp_parse_u64(optarg, 1, UINT64_MAX, &f->limit, "--limit", &err) < 0)
			return pp_usage_error("keys list", "%s", err.msg);
		return -1;
	case 'j':
		a->json = true;
		return -1;
	case 'h':
		printf("usage: pskprov keys list [--batch NAME] [--state S] [--limit N] "
		       "[--json]\n\nstates: available exported in-use consumed revoked "
		       "expired\n");
		return PP_EXIT_OK;
	default:
		return PP_EXIT_USAGE;
	}
}

static int keys_list(struct pp_cli *cli, int argc, char **argv)
{
	static const struct option opts[] = {
	    {"batch", required_argument, NULL, 'b'}, {"state", required_argument, NULL, 's'},
	    {"limit", required_argument, NULL, 'l'}, {"json", no_argument, NULL, 'j'},
	    {"help", no_argument, NULL, 'h'},        {NULL, 0, NULL, 0}};
	struct list_args a = {.f = {.batch = NULL, .state = -1, .limit = 0}};
	int ec = parse_options(argc, argv, "b:s:l:jh", opts, list_option, &a);
	if (ec >= 0)
		return ec;
	if (optind != argc)
		return pp_usage_error("keys list", "unexpected argument '%.40s'", argv[optind]);
	struct pp_err err = {0};
	struct pp_datadir dd;
	pp_cleanup(store_closep) struct pp_store *store = NULL;
	if (pp_datadir_open(cli, &dd, &store, &err) < 0)
		return pp_fail_err(&err);
	json_t *arr = a.json ? json_array() : NULL;
	if (!a.json)
		printf("%-10s %-24s %-9s %-14s %5s  %s\n", "PID", "BATCH", "STATE", "SHARED",
		       "USES", "CREATED (UTC)");
	uint64_t n;
	if (pp_keys_list(store, &a.f, list_row, arr, &n, &err) < 0) {
		json_decref(arr);
		return pp_fail_err(&err);
	}
	if (a.json)
		return pp_json_print(arr);
	pp_count_line(n, "key", "keys");
	return PP_EXIT_OK;
}

static int show_json(const struct pp_keys_shown *k, const char *pps)
{
	json_t *o = key_json(&k->info);
	if (o) {
		json_object_set_new(o, "pps", k->revealed ? json_string(pps) : json_null());
		json_object_set_new(o, "mebx_password",
				    k->revealed ? json_string(k->mebx) : json_null());
	}
	return pp_json_print(o);
}

static void show_text(const struct pp_keys_shown *k, const char *pps)
{
	const struct pp_key_info *i = &k->info;
	char pid[PP_PID_TEXT], sh[32], t1[24], t2[24];
	pp_pid_text(i->pid, pid);
	shared_text(i, sh, sizeof(sh));
	pp_format_time(i->created, t1);
	pp_format_time(i->updated, t2);
	printf("pid            %s\n", pid);
	printf("batch          %s%s\n", i->batch, i->derived ? " (derived)" : "");
	printf("state          %s\n", pp_key_state_name(i->state));
	printf("shared         %s\n", sh);
	printf("uses           %u of %u\n", i->use_count, i->max_devices);
	printf("failures       %u\n", i->failure_count);
	printf("created        %s UTC\n", t1);
	printf("updated        %s UTC\n", t2);
	printf("pps            %s\n", k->revealed ? pps : PP_HIDDEN);
	printf("mebx password  %s\n", k->revealed ? k->mebx : PP_HIDDEN);
}

static void pps_text_wipe(char (*t)[PP_PPS_TEXT])
{
	pp_wipe(*t, sizeof(*t));
}

static int keys_show(struct pp_cli *cli, int argc, char **argv)
{
	bool reveal = false, json = false;
	int ec;
	if (pp_parse_flags(argc, argv, PP_FLAG_JSON | PP_FLAG_REVEAL,
			   "usage: pskprov keys show PID [--reveal] [--json]\n\n"
			   "--reveal prints the PPS and MEBx password; it is recorded in the "
			   "audit log.\n",
			   &json, &reveal, &ec))
		return ec;
	if (optind + 1 != argc)
		return pp_usage_error("keys show", "expected one PID");
	struct pp_pid pid;
	if ((ec = parse_pid_arg("keys show", argv[optind], &pid)))
		return ec;
	struct pp_err err = {0};
	struct pp_datadir dd;
	pp_cleanup(store_closep) struct pp_store *store = NULL;
	pp_cleanup(shown_wipe) struct pp_keys_shown k;
	pp_cleanup(pps_text_wipe) char pps[PP_PPS_TEXT] = "";
	memset(&k, 0, sizeof(k));
	if (pp_datadir_open(cli, &dd, &store, &err) < 0 ||
	    pp_keys_show(store, &pid, reveal, pp_actor(), &k, &err) < 0)
		return pp_fail_err(&err);
	if (k.revealed)
		pp_pps_format(&k.pps, pps);
	if (json)
		return show_json(&k, pps);
	show_text(&k, pps);
	return PP_EXIT_OK;
}

/* ---- revoke / check ---------------------------------------------------------- */

static int keys_revoke(struct pp_cli *cli, int argc, char **argv)
{
	bool json = false;
	int ec;
	if (pp_parse_flags(argc, argv, PP_FLAG_JSON,
			   "usage: pskprov keys revoke PID [--json]\n\nA revoked key is never "
			   "accepted again. Revoking it again changes nothing.\n",
			   &json, NULL, &ec))
		return ec;
	if (optind + 1 != argc)
		return pp_usage_error("keys revoke", "expected one PID");
	struct pp_pid pid;
	if ((ec = parse_pid_arg("keys revoke", argv[optind], &pid)))
		return ec;
	struct pp_err err = {0};
	struct pp_datadir dd;
	pp_cleanup(store_closep) struct pp_store *store = NULL;
	bool already;
	if (pp_datadir_open(cli, &dd, &store, &err) < 0 ||
	    pp_keys_revoke(store, &pid, pp_actor(), &already, &err) < 0)
		return pp_fail_err(&err);
	char t[PP_PID_TEXT];
	pp_pid_format(&pid, t);
	if (json)
		return pp_json_print(json_pack("{s:s,s:s,s:b}", "pid", t, "state", "revoked",
					       "already_revoked", already));
	if (already)
		printf("%s was already revoked\n", t);
	else
		printf("revoked %s\n", t);
	return PP_EXIT_OK;
}

static int check_print(bool json, int rc, enum pp_key_kind kind, const struct pp_err *err)
{
	const char *name = kind == PP_KEY_KIND_PID ? "PID" : "PPS";
	if (json) {
		int out = pp_json_print(json_pack("{s:b,s:s?,s:s?}", "valid", rc == 0, "kind",
						  rc == 0 ? name : NULL, "reason",
						  rc < 0 ? err->msg : NULL));
		return rc < 0 ? PP_EXIT_FAIL : out;
	}
	if (rc < 0)
		return pp_fail("invalid: %s", err->msg);
	printf("valid %s\n", name);
	return PP_EXIT_OK;
}

static int keys_check(struct pp_cli *cli, int argc, char **argv)
{
	(void)cli;
	bool json = false;
	int ec;
	if (pp_parse_flags(argc, argv, PP_FLAG_JSON,
			   "usage: pskprov keys check STRING|- [--json]\n\n"
			   "Checks a PID or PPS (any case, dashes optional). Exit 0 when valid, 1\n"
			   "with the reason when not. '-' reads the string from standard input,\n"
			   "which keeps a PPS out of the process list.\n",
			   &json, NULL, &ec))
		return ec;
	if (optind + 1 != argc)
		return pp_usage_error("keys check", "expected one PID or PPS (or '-')");
	pp_cleanup(secret_line_wipe) char line[PP_PSKC_PASSPHRASE_MAX + 2] = "";
	const char *text = argv[optind];
	struct pp_err err = {0};
	if (!strcmp(text, "-")) {
		if (pp_read_secret("PID or PPS: ", line, 128, &err) < 0)
			return pp_fail("%s", err.msg);
		text = line;
	}
	enum pp_key_kind kind = PP_KEY_KIND_PID;
	int rc = pp_key_check(text, &kind, &err);
	return check_print(json, rc, kind, &err);
}

/* ---- export ------------------------------------------------------------------ */

struct export_args {
	struct pp_keys_export_opts o;
	struct pp_pskc_opts po;
	const char *format;
	bool json;
};

static void export_usage(void)
{
	printf("usage: pskprov keys export --batch NAME --format csv|pskc --out FILE\n"
	       "           [--transport-key FILE [--key-name NAME] | --passphrase |\n"
	       "            --passphrase-file FILE] [--json]\n\n"
	       "Writes the batch's available and exported keys to a new file of mode 0600\n"
	       "and marks them exported. Never overwrites a file.\n"
	       "  csv   header %s\n"
	       "  pskc  RFC 6030 container: each PPS and MEBx password encrypted (AES-CBC)\n"
	       "        with a MAC, under a transport key file (see 'keys transport-key')\n"
	       "        or a key derived from a passphrase (PBKDF2). --passphrase reads it\n"
	       "        from the terminal or standard input.\n",
	       PP_CSV_HEADER);
}

/* Options shared by export and import: the PSKC protection and --json. */
static bool pskc_option(int c, struct pp_pskc_opts *po, bool *json)
{
	if (c == 'k')
		po->key_file = optarg;
	else if (c == 'n')
		po->key_name = optarg;
	else if (c == 'p')
		po->ask = true;
	else if (c == 'P')
		po->pass_file = optarg;
	else if (c == 'j')
		*json = true;
	else
		return false;
	return true;
}

static int export_option(int c, void *ctx)
{
	struct export_args *a = ctx;
	if (pskc_option(c, &a->po, &a->json))
		return -1;
	switch (c) {
	case 'b':
		a->o.batch = optarg;
		return -1;
	case 'f':
		a->format = optarg;
		return -1;
	case 'o':
		a->o.path = optarg;
		return -1;
	case 'h':
		export_usage();
		return PP_EXIT_OK;
	default:
		return PP_EXIT_USAGE;
	}
}

static int export_check_args(int argc, char **argv, struct export_args *a)
{
	if (optind != argc)
		return pp_usage_error("keys export", "unexpected argument '%.40s'", argv[optind]);
	if (!a->o.batch || !a->o.path)
		return pp_usage_error("keys export", "--batch and --out are required");
	bool pskc = !strcmp(a->format, "pskc");
	if (!pskc && strcmp(a->format, "csv"))
		return pp_usage_error("keys export", "--format: '%.20s' is not csv or pskc",
				      a->format);
	a->o.format = pskc ? PP_KEYS_PSKC : PP_KEYS_CSV;
	int nprot = !!a->po.key_file + !!a->po.ask + !!a->po.pass_file;
	if (!pskc && nprot)
		return pp_usage_error("keys export",
				      "--transport-key and --passphrase go with --format pskc");
	if (pskc && nprot != 1)
		return pp_usage_error("keys export", "--format pskc needs one of "
						     "--transport-key, --passphrase, "
						     "--passphrase-file");
	return -1;
}

static int export_parse(int argc, char **argv, struct export_args *a)
{
	static const struct option opts[] = {{"batch", required_argument, NULL, 'b'},
					     {"format", required_argument, NULL, 'f'},
					     {"out", required_argument, NULL, 'o'},
					     PSKC_OPTIONS};
	int ec = parse_options(argc, argv, "b:f:o:" PSKC_SHORTOPTS, opts, export_option, a);
	if (ec >= 0)
		return ec;
	return export_check_args(argc, argv, a);
}

static int export_print(const struct export_args *a, const struct pp_keys_export_result *r)
{
	const char *fmt = pp_keys_format_name(a->o.format);
	if (a->json)
		return pp_json_print(json_pack("{s:s,s:s,s:s,s:I,s:s}", "batch", a->o.batch,
					       "format", fmt, "path", a->o.path, "count",
					       (json_int_t)r->count, "mode", "0600"));
	printf("exported %zu %s of batch %s to %s (%s, mode 0600)\n", r->count,
	       pp_plural(r->count, "key", "keys"), a->o.batch, a->o.path, fmt);
	return PP_EXIT_OK;
}

static int keys_export(struct pp_cli *cli, int argc, char **argv)
{
	struct export_args a = {.format = "csv"};
	int ec = export_parse(argc, argv, &a);
	if (ec >= 0)
		return ec;
	struct pp_err err = {0};
	pp_cleanup(pp_pskc_prot_wipe) struct pp_pskc_prot prot;
	memset(&prot, 0, sizeof(prot));
	if (a.o.format == PP_KEYS_PSKC) {
		if (pp_pskc_protection(&a.po, true, &prot, &err) < 0)
			return pp_fail_err(&err);
		a.o.prot = &prot.p;
	}
	struct pp_datadir dd;
	pp_cleanup(store_closep) struct pp_store *store = NULL;
	if (pp_datadir_open(cli, &dd, &store, &err) < 0)
		return pp_fail_err(&err);
	a.o.actor = pp_actor();
	struct pp_keys_export_result r;
	if (pp_keys_export(store, &a.o, &r, &err) < 0)
		return pp_fail_err(&err);
	return export_print(&a, &r);
}

/* ---- import ------------------------------------------------------------------ */

static void import_usage(void)
{
	printf("usage: pskprov keys import FILE [--transport-key FILE [--key-name NAME] |\n"
	       "           --passphrase | --passphrase-file FILE] [--json]\n\n"
	       "Reads a CSV (%s) or a PSKC container (RFC 6030;\n"
	       "needs its transport key or passphrase). Every key is checked first (PSKC:\n"
	       "every MAC) and the import is one transaction, so a bad file changes nothing.\n"
	       "Imported keys are in the 'exported' state.\n",
	       PP_CSV_HEADER);
}

struct import_args {
	struct pp_pskc_opts po;
	bool json;
};

static int import_option(int c, void *ctx)
{
	struct import_args *a = ctx;
	if (pskc_option(c, &a->po, &a->json))
		return -1;
	if (c == 'h')
		import_usage();
	return c == 'h' ? PP_EXIT_OK : PP_EXIT_USAGE;
}

static int import_parse(int argc, char **argv, struct import_args *a)
{
	static const struct option opts[] = {PSKC_OPTIONS};
	const struct pp_pskc_opts *po = &a->po;
	int ec = parse_options(argc, argv, PSKC_SHORTOPTS, opts, import_option, a);
	if (ec >= 0)
		return ec;
	if (optind + 1 != argc)
		return pp_usage_error("keys import", "expected one FILE");
	if (!!po->key_file + !!po->ask + !!po->pass_file > 1)
		return pp_usage_error("keys import", "give one of --transport-key, --passphrase, "
						     "--passphrase-file");
	return -1;
}

static int import_print(bool json, const char *path, const struct pp_keys_file *f,
			const struct pp_keys_import_result *r)
{
	const char *fmt = pp_keys_format_name(f->format);
	if (json)
		return pp_json_print(json_pack("{s:s,s:s,s:I,s:I}", "path", path, "format", fmt,
					       "count", (json_int_t)r->count, "batches_created",
					       (json_int_t)r->batches_created));
	printf("imported %llu %s from %s (%s, %llu new %s)\n", (unsigned long long)r->count,
	       pp_plural(r->count, "key", "keys"), path, fmt,
	       (unsigned long long)r->batches_created,
	       pp_plural(r->batches_created, "batch", "batches"));
	return PP_EXIT_OK;
}

static int keys_import(struct pp_cli *cli, int argc, char **argv)
{
	struct import_args a = {.po = {0}};
	int ec = import_parse(argc, argv, &a);
	if (ec >= 0)
		return ec;
	const char *path = argv[optind];
	bool have_prot = a.po.key_file || a.po.ask || a.po.pass_file;
	struct pp_err err = {0};
	pp_cleanup(pp_keys_file_free) struct pp_keys_file f;
	pp_cleanup(pp_pskc_prot_wipe) struct pp_pskc_prot prot;
	memset(&f, 0, sizeof(f));
	memset(&prot, 0, sizeof(prot));
	if (pp_keys_file_read(path, &f, &err) < 0)
		return pp_fail_err(&err);
	if (f.not_private)
		pp_note("warning: '%s' may be read by group or others", path);
	if (pp_keys_import_check(&f, path, have_prot, &err) < 0 ||
	    (have_prot && pp_pskc_protection(&a.po, false, &prot, &err) < 0))
		return pp_fail_err(&err);
	struct pp_datadir dd;
	pp_cleanup(store_closep) struct pp_store *store = NULL;
	if (pp_datadir_open(cli, &dd, &store, &err) < 0)
		return pp_fail_err(&err);
	struct pp_keys_import_opts o = {
	    .name = path, .file = &f, .prot = have_prot ? &prot.p : NULL, .actor = pp_actor()};
	struct pp_keys_import_result r;
	if (pp_keys_import(store, &o, &r, &err) < 0)
		return pp_fail_err(&err);
	return import_print(a.json, path, &f, &r);
}

/* ---- transport-key ----------------------------------------------------------- */

struct tk_args {
	const char *outpath;
	uint32_t bits;
	bool json;
};

static int transport_key_option(int c, void *ctx)
{
	struct tk_args *a = ctx;
	struct pp_err err = {0};
	switch (c) {
	case 'o':
		a->outpath = optarg;
		return -1;
	case 'b':
		if (pp_parse_u32(optarg, 128, 256, &a->bits, "--bits", &err) < 0 ||
		    (a->bits != 128 && a->bits != 256))
			return pp_usage_error("keys transport-key", "--bits: 128 or 256");
		return -1;
	case 'j':
		a->json = true;
		return -1;
	case 'h':
		printf("usage: pskprov keys transport-key --out FILE [--bits 128|256] [--json]\n\n"
		       "Makes a random PSKC transport key (hex) in a new file of mode 0600, to "
		       "share\nwith a manufacturer out of band.\n");
		return PP_EXIT_OK;
	default:
		return PP_EXIT_USAGE;
	}
}

static int keys_transport_key(struct pp_cli *cli, int argc, char **argv)
{
	(void)cli;
	static const struct option opts[] = {{"out", required_argument, NULL, 'o'},
					     {"bits", required_argument, NULL, 'b'},
					     {"json", no_argument, NULL, 'j'},
					     {"help", no_argument, NULL, 'h'},
					     {NULL, 0, NULL, 0}};
	struct tk_args a = {.bits = 256};
	int ec = parse_options(argc, argv, "o:b:jh", opts, transport_key_option, &a);
	if (ec >= 0)
		return ec;
	if (optind != argc || !a.outpath)
		return pp_usage_error("keys transport-key", "--out FILE is required");
	struct pp_err err = {0};
	if (pp_pskc_transport_key_create(a.outpath, a.bits / 8, &err) < 0)
		return pp_fail_err(&err);
	if (a.json)
		return pp_json_print(json_pack("{s:s,s:I,s:s}", "path", a.outpath, "bits",
					       (json_int_t)a.bits, "mode", "0600"));
	printf("wrote a %u-bit transport key to %s (mode 0600)\n", a.bits, a.outpath);
	return PP_EXIT_OK;
}

/* ---- report ------------------------------------------------------------------ */

static void report_key_text(const struct pp_keys_item *it)
{
	const struct pp_key_info *k = it->key;
	char pid[PP_PID_TEXT], t[24];
	pp_pid_text(k->pid, pid);
	if (it->kind == PP_FIND_SHARED) {
		printf("  shared       %-10s %-20s %-9s %u of %u %s\n", pid, k->batch,
		       pp_key_state_name(k->state), k->use_count, k->max_devices,
		       pp_plural(k->max_devices, "device", "devices"));
	} else if (it->kind == PP_FIND_LOCKED) {
		pp_format_time(k->locked_until, t);
		printf("  locked out   %-10s %u failed %s; an address locked until %s UTC\n", pid,
		       k->failure_count, pp_plural(k->failure_count, "handshake", "handshakes"), t);
	} else if (it->nth <= SILENT_SHOWN) {
		pp_format_time(k->exported_at, t);
		printf("  never seen   %-10s %-20s exported %s UTC\n", pid, k->batch, t);
	}
}

static void report_item_text(const struct pp_keys_item *it)
{
	char pid[PP_PID_TEXT], uuid[37], t[24];
	if (it->key) {
		report_key_text(it);
		return;
	}
	if (it->device) {
		const struct pp_device_info *d = it->device;
		pp_pid_text(d->pid, pid);
		pp_uuid_format(d->uuid, uuid);
		printf("  QUARANTINED  %s pid %s: %s\n", uuid, pid,
		       d->last_error[0] ? d->last_error : "key already used by another device");
		return;
	}
	const struct pp_hello_note *n = it->note;
	pp_pid_text(n->pid, pid);
	pp_uuid_format(n->uuid, uuid);
	pp_format_time(n->last_seen, t);
	printf("  %-12s %-10s %s from %u.%u.%u.%u, %llu %s, last %s UTC\n",
	       it->kind == PP_FIND_SUSPECT_CLONE ? "SUSPECT" : "unknown PID", pid, uuid, n->addr[0],
	       n->addr[1], n->addr[2], n->addr[3], (unsigned long long)n->count,
	       pp_plural(n->count, "hello", "hellos"), t);
}

static int report_item(void *arg, const struct pp_keys_item *it)
{
	(void)arg;
	report_item_text(it);
	return 0;
}

static void report_summary(const struct pp_keys_report *s)
{
	const uint64_t *n = s->n;
	if (n[PP_FIND_SILENT] > SILENT_SHOWN)
		printf("  ... and %llu more %s exported but never seen\n",
		       (unsigned long long)(n[PP_FIND_SILENT] - SILENT_SHOWN),
		       pp_plural(n[PP_FIND_SILENT] - SILENT_SHOWN, "key", "keys"));
	printf("%llu shared %s, %llu quarantined %s, %llu locked-out %s, %llu %s exported but "
	       "never seen; recent suspected clones %llu, unknown PIDs %llu (the last %d of "
	       "each are kept)\n",
	       (unsigned long long)n[PP_FIND_SHARED], pp_plural(n[PP_FIND_SHARED], "key", "keys"),
	       (unsigned long long)n[PP_FIND_QUARANTINED],
	       pp_plural(n[PP_FIND_QUARANTINED], "device", "devices"),
	       (unsigned long long)n[PP_FIND_LOCKED], pp_plural(n[PP_FIND_LOCKED], "PID", "PIDs"),
	       (unsigned long long)n[PP_FIND_SILENT], pp_plural(n[PP_FIND_SILENT], "key", "keys"),
	       (unsigned long long)n[PP_FIND_SUSPECT_CLONE],
	       (unsigned long long)n[PP_FIND_UNKNOWN_PID], PP_STORE_NOTES_MAX);
}

static int keys_report(struct pp_cli *cli, int argc, char **argv)
{
	char usage[640];
	snprintf(usage, sizeof(usage),
		 "usage: pskprov keys report [--json]\n\n"
		 "Shared keys and their use, quarantined devices (a cloned or stolen key),\n"
		 "locked-out PIDs, keys exported but never seen by the server, and the last "
		 "%d\nsuspected clones (hellos for a key that belongs to other devices) and "
		 "unknown\nPIDs (hellos for a PID the store does not have).\n",
		 PP_STORE_NOTES_MAX);
	bool json = false;
	int ec;
	if (pp_parse_flags(argc, argv, PP_FLAG_JSON, usage, &json, NULL, &ec))
		return ec;
	if (optind != argc)
		return pp_usage_error("keys report", "unexpected argument '%.40s'", argv[optind]);
	struct pp_err err = {0};
	struct pp_datadir dd;
	pp_cleanup(store_closep) struct pp_store *store = NULL;
	if (pp_datadir_open(cli, &dd, &store, &err) < 0)
		return pp_fail_err(&err);
	if (json) {
		json_t *o = NULL;
		if (pp_keys_report_json(store, pp_unix_time(), &o, &err) < 0)
			return pp_fail_err(&err);
		return pp_json_print(o);
	}
	printf("keys report (%s)\n", dd.dir);
	struct pp_keys_report sum;
	if (pp_keys_report_walk(store, pp_unix_time(), report_item, NULL, &sum, &err) < 0)
		return pp_fail_err(&err);
	report_summary(&sum);
	return PP_EXIT_OK;
}

int cmd_keys(struct pp_cli *cli, int argc, char **argv)
{
	static const struct pp_command table[] = {
	    {"generate", keys_generate, "make a batch of PID/PPS pairs"},
	    {"list", keys_list, "list keys (shared keys flagged)"},
	    {"show", keys_show, "show one key (--reveal prints its secrets, audited)"},
	    {"revoke", keys_revoke, "revoke a key"},
	    {"check", keys_check, "check a PID or PPS (exit 0 valid, 1 invalid)"},
	    {"export", keys_export, "export a batch to CSV or PSKC (file 0600)"},
	    {"import", keys_import, "import keys from CSV or PSKC"},
	    {"transport-key", keys_transport_key, "make a PSKC transport key file (0600)"},
	    {"report", keys_report,
	     "shared keys, quarantined devices, lockouts, unseen keys, suspected clones, "
	     "unknown PIDs"},
	    {NULL, NULL, NULL},
	};
	return pp_dispatch(cli, "keys", table, argc, argv);
}
