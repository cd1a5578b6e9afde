/* pskprov keys generate|list|show|revoke|check|export|import */
#include <getopt.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli/commands.h"
#include "core/fileio.h"
#include "core/parse.h"
#include "core/secret.h"
#include "keys/csv.h"
#include "keys/keys.h"
#include "keys/pskc.h"
#include "store/store.h"

#define MAX_GENERATE 10000000u
#define MAX_SHARED 100000u
#define IMPORT_MAX_BYTES (256u * 1024 * 1024)
#define PID_RETRIES 16

/* ---- generate ---------------------------------------------------------------- */

static void generate_usage(FILE *out)
{
	fprintf(out,
		"usage: pskprov keys generate --count N [--batch NAME] [--derived]\n"
		"                             [--shared N] [--mebx-password random|ask]\n\n"
		"Makes a batch of N PID/PPS pairs in one transaction (all or nothing).\n"
		"  --batch NAME           batch name (default: batch-YYYYMMDD-HHMMSS)\n"
		"  --derived              PPS derived from one batch secret (stored sealed)\n"
		"  --shared N             each key may be used by up to N devices (flagged\n"
		"                         everywhere; unique keys are the default and safer)\n"
		"  --mebx-password random a random strong MEBx password per key (default)\n"
		"  --mebx-password ask    one MEBx password for the batch, read without echo\n");
}

#define GEN_CHUNK 8192u

/* A key made before it is stored (secrets: wiped after each chunk). */
struct gen_key {
	struct pp_pid pid;
	struct pp_pps pps;
	char mebx[PP_MEBX_MAX + 1];
};

static int gen_key_cmp(const void *a, const void *b)
{
	/* PIDs are public: an ordinary comparison. */
	return strcmp(((const struct gen_key *)a)->pid.s, ((const struct gen_key *)b)->pid.s);
}

static int gen_pid_pps(struct pp_keygen *gen, bool derived, const uint8_t *secret,
		       size_t secret_len, struct gen_key *g)
{
	int rc = pp_keygen_pid(gen, &g->pid);
	if (rc == 0)
		rc = derived ? pp_pps_derive(secret, secret_len, &g->pid, &g->pps)
			     : pp_keygen_pps(gen, &g->pps);
	return rc;
}

/* Generation runs on a thread of its own, one chunk ahead of the inserts: two
 * buffers, handed over under a mutex. */
struct gen_pipe {
	pthread_t thread;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	struct gen_key *buf[2];
	uint32_t len[2];
	bool full[2];
	bool stop;
	int rc;
	/* inputs */
	struct pp_keygen *gen;
	uint32_t count;
	bool derived, ask;
	const uint8_t *secret;
	size_t secret_len;
	const char *mebx_fixed;
	uint32_t mebx_len;
};

static void *gen_thread(void *arg)
{
	struct gen_pipe *gp = arg;
	uint32_t made = 0;
	for (int b = 0; made < gp->count; b ^= 1) {
		pthread_mutex_lock(&gp->mu);
		while (gp->full[b] && !gp->stop)
			pthread_cond_wait(&gp->cv, &gp->mu);
		bool stop = gp->stop;
		pthread_mutex_unlock(&gp->mu);
		if (stop)
			break;
		uint32_t n = gp->count - made < GEN_CHUNK ? gp->count - made : GEN_CHUNK;
		int rc = 0;
		for (uint32_t j = 0; j < n && rc == 0; j++) {
			struct gen_key *g = &gp->buf[b][j];
			if (gp->ask)
				memcpy(g->mebx, gp->mebx_fixed, strlen(gp->mebx_fixed) + 1);
			else
				rc = pp_keygen_password(gp->gen, gp->mebx_len, g->mebx);
			if (rc == 0)
				rc = gen_pid_pps(gp->gen, gp->derived, gp->secret, gp->secret_len,
						 g);
		}
		if (rc == 0)
			qsort(gp->buf[b], n, sizeof(struct gen_key), gen_key_cmp);
		pthread_mutex_lock(&gp->mu);
		gp->rc = rc;
		gp->len[b] = n;
		gp->full[b] = true;
		pthread_cond_broadcast(&gp->cv);
		pthread_mutex_unlock(&gp->mu);
		if (rc < 0)
			break;
		made += n;
	}
	return NULL;
}

static int keys_generate(struct pp_cli *cli, int argc, char **argv)
{
	static const struct option opts[] = {{"count", required_argument, NULL, 'n'},
					     {"batch", required_argument, NULL, 'b'},
					     {"derived", no_argument, NULL, 'D'},
					     {"shared", required_argument, NULL, 's'},
					     {"mebx-password", required_argument, NULL, 'm'},
					     {"json", no_argument, NULL, 'j'},
					     {"help", no_argument, NULL, 'h'},
					     {NULL, 0, NULL, 0}};
	struct pp_err err = {0};
	uint32_t count = 0, shared = 0;
	bool derived = false, ask = false, json = false;
	const char *batch = NULL;
	int c;
	while ((c = getopt_long(argc, argv, "n:b:Ds:m:jh", opts, NULL)) != -1) {
		switch (c) {
		case 'n':
			if (pp_parse_u32(optarg, 1, MAX_GENERATE, &count, "--count", &err) < 0)
				return pp_usage_error("keys generate", "%s", err.msg);
			break;
		case 'b':
			batch = optarg;
			break;
		case 'D':
			derived = true;
			break;
		case 's':
			if (pp_parse_u32(optarg, 2, MAX_SHARED, &shared, "--shared", &err) < 0)
				return pp_usage_error("keys generate", "%s", err.msg);
			break;
		case 'm':
			if (!strcmp(optarg, "ask"))
				ask = true;
			else if (strcmp(optarg, "random"))
				return pp_usage_error("keys generate",
						      "--mebx-password: '%.20s' is not random or "
						      "ask",
						      optarg);
			break;
		case 'j':
			json = true;
			break;
		case 'h':
			generate_usage(stdout);
			return PP_EXIT_OK;
		default:
			generate_usage(stderr);
			return PP_EXIT_USAGE;
		}
	}
	if (optind != argc)
		return pp_usage_error("keys generate", "unexpected argument '%.40s'", argv[optind]);
	if (!count)
		return pp_usage_error("keys generate", "--count is required");
	char defname[32];
	if (!batch) {
		time_t now = time(NULL);
		struct tm tm;
		gmtime_r(&now, &tm);
		strftime(defname, sizeof(defname), "batch-%Y%m%d-%H%M%S", &tm);
		batch = defname;
	}
	if (pp_batch_name_check(batch, &err) < 0)
		return pp_usage_error("keys generate", "--batch: %s", err.msg);

	char mebx_fixed[PP_MEBX_MAX + 2] = "";
	if (ask) {
		if (pp_read_secret("MEBx password for the batch: ", mebx_fixed, sizeof(mebx_fixed),
				   &err) < 0)
			return pp_fail("MEBx password: %s", err.msg);
		if (pp_mebx_password_check(mebx_fixed, &err) < 0) {
			pp_wipe(mebx_fixed, sizeof(mebx_fixed));
			return pp_fail("%s", err.msg); /* it names the MEBx password */
		}
	}

	struct pp_datadir dd;
	struct pp_store *store = NULL;
	struct pp_keygen *gen = NULL;
	uint8_t secret[32];
	struct gen_pipe gp;
	bool gp_running = false;
	memset(&gp, 0, sizeof(gp));
	int rc = pp_datadir_open(cli, &dd, &store, &err);
	if (rc < 0)
		goto out;
	rc = pp_keygen_new(&gen);
	if (rc < 0) {
		pp_err_set(&err, PP_ECRYPTO, "cannot start the key generator");
		goto out;
	}
	if (derived && (rc = pp_random(secret, sizeof(secret))) < 0) {
		pp_err_set(&err, PP_ECRYPTO, "cannot draw the batch secret");
		goto out;
	}
	rc = pp_store_begin(store, &err);
	if (rc < 0)
		goto out;
	struct pp_batch_new nb = {.name = batch,
				  .derived = derived,
				  .secret = derived ? secret : NULL,
				  .secret_len = derived ? sizeof(secret) : 0,
				  .shared_max = shared};
	int64_t batch_id;
	rc = pp_store_batch_create(store, &nb, &batch_id, &err);
	if (rc < 0)
		goto rollback;

	struct pp_progress prog;
	pp_progress_start(&prog, "generating", count);
	double t0 = pp_now();
	/* Keys are made a chunk at a time (on the generator thread) and inserted in PID
	 * order: random PIDs inserted one by one scatter over the index; sorted, each
	 * chunk walks it in order. */
	gp.buf[0] = calloc(GEN_CHUNK, sizeof(struct gen_key));
	gp.buf[1] = calloc(GEN_CHUNK, sizeof(struct gen_key));
	if (!gp.buf[0] || !gp.buf[1]) {
		rc = pp_err_set(&err, PP_ENOMEM, "out of memory");
		goto rollback;
	}
	gp.gen = gen;
	gp.count = count;
	gp.derived = derived;
	gp.ask = ask;
	gp.secret = secret;
	gp.secret_len = sizeof(secret);
	gp.mebx_fixed = mebx_fixed;
	gp.mebx_len = dd.config.mebx_password_length;
	pthread_mutex_init(&gp.mu, NULL);
	pthread_cond_init(&gp.cv, NULL);
	if (pthread_create(&gp.thread, NULL, gen_thread, &gp) != 0) {
		rc = pp_err_set(&err, PP_ENOMEM, "cannot start the generator thread");
		goto rollback;
	}
	gp_running = true;
	for (uint32_t done = 0, b = 0; done < count; b ^= 1) {
		pthread_mutex_lock(&gp.mu);
		while (!gp.full[b] && gp.rc == 0)
			pthread_cond_wait(&gp.cv, &gp.mu);
		int grc = gp.rc;
		uint32_t n = gp.len[b];
		pthread_mutex_unlock(&gp.mu);
		if (grc < 0) {
			rc = pp_err_set(&err, PP_ECRYPTO, "cannot generate keys");
			goto rollback;
		}
		for (uint32_t j = 0; j < n; j++) {
			struct gen_key *g = &gp.buf[b][j];
			for (int attempt = 0;; attempt++) {
				struct pp_key_new k = {.pid = g->pid.s,
						       .pps = derived ? NULL : g->pps.s,
						       .mebx_password = g->mebx,
						       .batch_id = batch_id,
						       .max_devices = shared ? shared : 1,
						       .state = PP_KEY_AVAILABLE};
				rc = pp_store_key_insert(store, &k, &err);
				/* 36^7 PIDs: a large batch meets a few collisions; draw again
				 * (the generator is the other thread's: use the one-off one). */
				if (rc == -PP_EEXIST && attempt < PID_RETRIES) {
					if ((rc = pp_pid_generate(&g->pid)) == 0 && derived)
						rc = pp_pps_derive(secret, sizeof(secret), &g->pid,
								   &g->pps);
					if (rc < 0) {
						pp_err_set(&err, PP_ECRYPTO,
							   "cannot generate a key");
						goto rollback;
					}
					continue;
				}
				if (rc < 0)
					goto rollback;
				break;
			}
		}
		pp_wipe(gp.buf[b], (size_t)n * sizeof(struct gen_key));
		pthread_mutex_lock(&gp.mu);
		gp.full[b] = false;
		pthread_cond_broadcast(&gp.cv);
		pthread_mutex_unlock(&gp.mu);
		done += n;
		pp_progress_update(&prog, done);
	}
	char detail[128];
	snprintf(detail, sizeof(detail), "count=%u derived=%s shared=%u mebx=%s", count,
		 derived ? "yes" : "no", shared, ask ? "ask" : "random");
	rc = pp_store_audit_append(store, pp_actor(), "keys.generate", batch, detail, &err);
	if (rc < 0)
		goto rollback;
	rc = pp_store_commit(store, &err);
	if (rc < 0)
		goto rollback;
	pp_progress_finish(&prog);
	double el = pp_now() - t0;
	if (json) {
		pp_json_print(json_pack("{s:s,s:I,s:b,s:I,s:f}", "batch", batch, "count",
					(json_int_t)count, "derived", derived, "shared",
					(json_int_t)shared, "seconds", el));
	} else {
		printf("batch %s: %u %s%s keys generated in %.2f s (%.0f keys/s)\n", batch, count,
		       derived ? "derived " : "", shared ? "SHARED" : "unique", el,
		       el > 0 ? count / el : 0.0);
		if (shared)
			printf("warning: shared keys: each PID/PPS opens up to %u devices; one "
			       "leaked device exposes them all\n",
			       shared);
	}
	goto out;
rollback:
	pp_rollback_quiet(store);
out:
	pp_wipe(secret, sizeof(secret));
	if (gp_running) {
		pthread_mutex_lock(&gp.mu);
		gp.stop = true;
		pthread_cond_broadcast(&gp.cv);
		pthread_mutex_unlock(&gp.mu);
		pthread_join(gp.thread, NULL);
		pthread_mutex_destroy(&gp.mu);
		pthread_cond_destroy(&gp.cv);
	}
	for (int b = 0; b < 2; b++) {
		if (gp.buf[b]) {
			pp_wipe(gp.buf[b], (size_t)GEN_CHUNK * sizeof(struct gen_key));
			free(gp.buf[b]);
		}
	}
	pp_wipe(mebx_fixed, sizeof(mebx_fixed));
	pp_keygen_free(gen);
	pp_store_close(store);
	return rc < 0 ? pp_fail_err(&err) : PP_EXIT_OK;
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
	struct pp_pid p;
	memcpy(p.s, k->pid, sizeof(p.s));
	pp_pid_format(&p, pid);
	return json_pack(
	    "{s:s,s:s,s:s,s:b,s:b,s:I,s:I,s:I,s:I,s:I,s:I}", "pid", pid, "batch", k->batch, "state",
	    pp_key_state_name(k->state), "derived", k->derived, "shared", k->shared, "max_devices",
	    (json_int_t)k->max_devices, "use_count", (json_int_t)k->use_count, "failure_count",
	    (json_int_t)k->failure_count, "locked_until", (json_int_t)k->locked_until, "created",
	    (json_int_t)k->created, "exported_at", (json_int_t)k->exported_at);
}

struct list_ctx {
	json_t *arr;
	uint64_t n;
};

static int list_row(void *arg, const struct pp_key_info *k)
{
	struct list_ctx *lc = arg;
	lc->n++;
	if (lc->arr) {
		json_t *o = key_json(k);
		return o ? json_array_append_new(lc->arr, o) : -PP_ENOMEM;
	}
	char pid[PP_PID_TEXT], sh[32], t[24];
	struct pp_pid p;
	memcpy(p.s, k->pid, sizeof(p.s));
	pp_pid_format(&p, pid);
	shared_text(k, sh, sizeof(sh));
	pp_format_time(k->created, t);
	printf("%-10s %-24s %-9s %-14s %5u  %s\n", pid, k->batch, pp_key_state_name(k->state), sh,
	       k->use_count, t);
	return 0;
}

static int keys_list(struct pp_cli *cli, int argc, char **argv)
{
	static const struct option opts[] = {
	    {"batch", required_argument, NULL, 'b'}, {"state", required_argument, NULL, 's'},
	    {"limit", required_argument, NULL, 'l'}, {"json", no_argument, NULL, 'j'},
	    {"help", no_argument, NULL, 'h'},        {NULL, 0, NULL, 0}};
	struct pp_err err = {0};
	struct pp_key_filter f = {.batch = NULL, .state = -1, .limit = 0};
	bool json = false;
	int c;
	while ((c = getopt_long(argc, argv, "b:s:l:jh", opts, NULL)) != -1) {
		switch (c) {
		case 'b':
			f.batch = optarg;
			break;
		case 's': {
			enum pp_key_state st;
			if (pp_key_state_parse(optarg, &st, &err) < 0)
				return pp_usage_error("keys list", "--state: %s", err.msg);
			f.state = (int)st;
			break;
		}
		case 'l':
			if (pp_parse_u64(optarg, 1, UINT64_MAX, &f.limit, "--limit", &err) < 0)
				return pp_usage_error("keys list", "%s", err.msg);
			break;
		case 'j':
			json = true;
			break;
		case 'h':
			printf("usage: pskprov keys list [--batch NAME] [--state S] [--limit N] "
			       "[--json]\n\nstates: available exported in-use consumed revoked "
			       "expired\n");
			return PP_EXIT_OK;
		default:
			return PP_EXIT_USAGE;
		}
	}
	if (optind != argc)
		return pp_usage_error("keys list", "unexpected argument '%.40s'", argv[optind]);
	struct pp_datadir dd;
	struct pp_store *store = NULL;
	if (pp_datadir_open(cli, &dd, &store, &err) < 0)
		return pp_fail_err(&err);
	if (f.batch) {
		struct pp_batch_info bi;
		if (pp_store_batch_get(store, f.batch, &bi, &err) < 0) {
			pp_store_close(store);
			return pp_fail_err(&err);
		}
	}
	struct list_ctx lc = {.arr = json ? json_array() : NULL};
	if (!json)
		printf("%-10s %-24s %-9s %-14s %5s  %s\n", "PID", "BATCH", "STATE", "SHARED",
		       "USES", "CREATED (UTC)");
	int rc = pp_store_key_list(store, &f, list_row, &lc, &err);
	pp_store_close(store);
	if (rc < 0) {
		json_decref(lc.arr);
		return pp_fail_err(&err);
	}
	if (json)
		return pp_json_print(lc.arr);
	fprintf(stderr, "%llu keys\n", (unsigned long long)lc.n);
	return PP_EXIT_OK;
}

static int parse_pid_arg(const char *cmd, const char *text, struct pp_pid *pid)
{
	struct pp_err err = {0};
	if (pp_pid_parse(text, pid, &err) < 0)
		return pp_usage_error(cmd, "%s", err.msg);
	return 0;
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
	int urc = parse_pid_arg("keys show", argv[optind], &pid);
	if (urc)
		return urc;
	struct pp_err err = {0};
	struct pp_datadir dd;
	struct pp_store *store = NULL;
	struct pp_key_info k;
	struct pp_pps pps;
	char mebx[PP_MEBX_MAX + 1] = "";
	memset(&pps, 0, sizeof(pps));
	int rc = pp_datadir_open(cli, &dd, &store, &err);
	if (rc == 0)
		rc = pp_store_key_get(store, pid.s, &k, &err);
	if (rc == 0 && reveal) {
		/* The audit entry is written before the secret is shown. */
		rc = pp_store_audit_append(store, pp_actor(), "keys.reveal", pid.s,
					   "PPS and MEBx password shown", &err);
		if (rc == 0)
			rc = pp_store_key_secrets(store, pid.s, &pps, mebx, sizeof(mebx), &err);
	}
	pp_store_close(store);
	if (rc < 0)
		return pp_fail_err(&err);
	char ppstext[PP_PPS_TEXT] = PP_HIDDEN;
	if (reveal)
		pp_pps_format(&pps, ppstext);
	const char *mebxtext = reveal ? mebx : PP_HIDDEN;
	int out = PP_EXIT_OK;
	if (json) {
		json_t *o = key_json(&k);
		if (o) {
			json_object_set_new(o, "pps", json_string(ppstext));
			json_object_set_new(o, "mebx_password", json_string(mebxtext));
		}
		out = pp_json_print(o);
	} else {
		char pidt[PP_PID_TEXT], sh[32], t1[24], t2[24];
		pp_pid_format(&pid, pidt);
		shared_text(&k, sh, sizeof(sh));
		pp_format_time(k.created, t1);
		pp_format_time(k.updated, t2);
		printf("pid            %s\n", pidt);
		printf("batch          %s%s\n", k.batch, k.derived ? " (derived)" : "");
		printf("state          %s\n", pp_key_state_name(k.state));
		printf("shared         %s\n", sh);
		printf("uses           %u of %u\n", k.use_count, k.max_devices);
		printf("failures       %u\n", k.failure_count);
		printf("created        %s UTC\n", t1);
		printf("updated        %s UTC\n", t2);
		printf("pps            %s\n", ppstext);
		printf("mebx password  %s\n", mebxtext);
	}
	pp_wipe(ppstext, sizeof(ppstext));
	pp_wipe(&pps, sizeof(pps));
	pp_wipe(mebx, sizeof(mebx));
	return out;
}

static int keys_revoke(struct pp_cli *cli, int argc, char **argv)
{
	if (argc == 2 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
		printf("usage: pskprov keys revoke PID\n\nA revoked key is never accepted "
		       "again.\n");
		return PP_EXIT_OK;
	}
	if (argc != 2)
		return pp_usage_error("keys revoke", "expected one PID");
	struct pp_pid pid;
	int urc = parse_pid_arg("keys revoke", argv[1], &pid);
	if (urc)
		return urc;
	struct pp_err err = {0};
	struct pp_datadir dd;
	struct pp_store *store = NULL;
	int rc = pp_datadir_open(cli, &dd, &store, &err);
	if (rc == 0)
		rc = pp_store_begin(store, &err);
	if (rc == 0) {
		rc = pp_store_key_set_state(store, pid.s, PP_KEY_REVOKED, &err);
		if (rc == 0)
			rc = pp_store_audit_append(store, pp_actor(), "keys.revoke", pid.s, "",
						   &err);
		if (rc == 0)
			rc = pp_store_commit(store, &err);
		if (rc < 0)
			pp_rollback_quiet(store);
	}
	pp_store_close(store);
	if (rc < 0)
		return pp_fail_err(&err);
	char t[PP_PID_TEXT];
	pp_pid_format(&pid, t);
	printf("revoked %s\n", t);
	return PP_EXIT_OK;
}

static int keys_check(struct pp_cli *cli, int argc, char **argv)
{
	(void)cli;
	if (argc == 2 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
		printf("usage: pskprov keys check STRING|-\n\n"
		       "Checks a PID or PPS (any case, dashes optional). Exit 0 when valid, 1\n"
		       "with the reason when not. '-' reads the string from standard input,\n"
		       "which keeps a PPS out of the process list.\n");
		return PP_EXIT_OK;
	}
	if (argc != 2)
		return pp_usage_error("keys check", "expected one PID or PPS (or '-')");
	char line[128];
	const char *text = argv[1];
	struct pp_err err = {0};
	if (!strcmp(text, "-")) {
		if (pp_read_secret("PID or PPS: ", line, sizeof(line), &err) < 0)
			return pp_fail("%s", err.msg);
		text = line;
	}
	enum pp_key_kind kind;
	int rc = pp_key_check(text, &kind, &err);
	pp_wipe(line, sizeof(line));
	if (rc < 0)
		return pp_fail("invalid: %s", err.msg);
	printf("valid %s\n", kind == PP_KEY_KIND_PID ? "PID" : "PPS");
	return PP_EXIT_OK;
}

/* ---- export / import --------------------------------------------------------- */

struct pid_vec {
	struct pp_key_info *v;
	size_t n, cap;
};

static int collect_key(void *arg, const struct pp_key_info *k)
{
	struct pid_vec *pv = arg;
	if (k->state != PP_KEY_AVAILABLE && k->state != PP_KEY_EXPORTED)
		return 0;
	if (pv->n == pv->cap) {
		size_t ncap = pv->cap ? pv->cap * 2 : 1024, bytes;
		if (!pp_mul_ok(ncap, sizeof(*pv->v), &bytes))
			return -PP_ENOMEM;
		void *p = realloc(pv->v, bytes);
		if (!p)
			return -PP_ENOMEM;
		pv->v = p;
		pv->cap = ncap;
	}
	pv->v[pv->n++] = *k;
	return 0;
}

static int keys_export(struct pp_cli *cli, int argc, char **argv)
{
	static const struct option opts[] = {{"batch", required_argument, NULL, 'b'},
					     {"format", required_argument, NULL, 'f'},
					     {"out", required_argument, NULL, 'o'},
					     {"transport-key", required_argument, NULL, 'k'},
					     {"key-name", required_argument, NULL, 'n'},
					     {"passphrase", no_argument, NULL, 'p'},
					     {"passphrase-file", required_argument, NULL, 'P'},
					     {"help", no_argument, NULL, 'h'},
					     {NULL, 0, NULL, 0}};
	const char *batch = NULL, *format = "csv", *outpath = NULL;
	struct pp_pskc_opts po = {0};
	int c;
	while ((c = getopt_long(argc, argv, "b:f:o:k:n:pP:h", opts, NULL)) != -1) {
		switch (c) {
		case 'b':
			batch = optarg;
			break;
		case 'f':
			format = optarg;
			break;
		case 'o':
			outpath = optarg;
			break;
		case 'k':
			po.key_file = optarg;
			break;
		case 'n':
			po.key_name = optarg;
			break;
		case 'p':
			po.ask = true;
			break;
		case 'P':
			po.pass_file = optarg;
			break;
		case 'h':
			printf(
			    "usage: pskprov keys export --batch NAME --format csv|pskc --out FILE\n"
			    "           [--transport-key FILE [--key-name NAME] | --passphrase |\n"
			    "            --passphrase-file FILE]\n\n"
			    "Writes the batch's available and exported keys to a new file of "
			    "mode 0600\nand marks them exported. Never overwrites a file.\n"
			    "  csv   header %s\n"
			    "  pskc  RFC 6030 container: each PPS and MEBx password encrypted "
			    "(AES-CBC)\n        with a MAC, under a transport key file (see "
			    "'keys transport-key')\n        or a key derived from a passphrase "
			    "(PBKDF2). --passphrase reads it\n        from the terminal or "
			    "standard input.\n",
			    PP_CSV_HEADER);
			return PP_EXIT_OK;
		default:
			return PP_EXIT_USAGE;
		}
	}
	if (optind != argc)
		return pp_usage_error("keys export", "unexpected argument '%.40s'", argv[optind]);
	if (!batch || !outpath)
		return pp_usage_error("keys export", "--batch and --out are required");
	bool pskc = !strcmp(format, "pskc");
	if (!pskc && strcmp(format, "csv"))
		return pp_usage_error("keys export", "--format: '%.20s' is not csv or pskc",
				      format);
	int nprot = !!po.key_file + !!po.ask + !!po.pass_file;
	if (!pskc && nprot)
		return pp_usage_error("keys export",
				      "--transport-key and --passphrase go with --format pskc");
	if (pskc && nprot != 1)
		return pp_usage_error("keys export", "--format pskc needs one of "
						     "--transport-key, --passphrase, "
						     "--passphrase-file");

	struct pp_err err = {0};
	struct pp_datadir dd;
	struct pp_store *store = NULL;
	struct pid_vec pv = {0};
	struct pp_buf out;
	struct pp_csv_row row;
	struct pp_pskc_writer *pw = NULL;
	struct pp_pskc_prot prot;
	bool in_tx = false, file_written = false;
	pp_buf_init(&out, pskc ? PP_PSKC_DOC_MAX : (size_t)4 << 30);
	memset(&row, 0, sizeof(row));
	memset(&prot, 0, sizeof(prot));
	int rc = 0;
	if (pskc) {
		rc = pp_pskc_protection(&po, true, &prot, &err);
		if (rc == 0)
			rc = pp_pskc_writer_new(&prot.p, &pw, &err);
		if (rc < 0)
			goto out;
	}
	rc = pp_datadir_open(cli, &dd, &store, &err);
	if (rc < 0)
		goto out;
	struct pp_batch_info bi;
	rc = pp_store_batch_get(store, batch, &bi, &err);
	if (rc < 0)
		goto out;
	struct pp_key_filter f = {.batch = batch, .state = -1, .limit = 0};
	rc = pp_store_key_list(store, &f, collect_key, &pv, &err);
	if (rc < 0)
		goto out;
	if (pv.n == 0) {
		rc = pp_err_set(&err, PP_ENOTFOUND,
				"batch '%s' has no available or exported keys to export", batch);
		goto out;
	}
	if (!pskc && pp_csv_write_header(&out) < 0)
		goto out_mem;
	rc = pp_store_begin(store, &err);
	if (rc < 0)
		goto out;
	in_tx = true;
	for (size_t i = 0; i < pv.n; i++) {
		memcpy(row.pid.s, pv.v[i].pid, sizeof(row.pid.s));
		rc = pp_store_key_secrets(store, row.pid.s, &row.pps, row.mebx, sizeof(row.mebx),
					  &err);
		if (rc < 0)
			goto out;
		snprintf(row.batch, sizeof(row.batch), "%s", batch);
		if (pskc) {
			struct pp_pskc_key pk;
			pk.pid = row.pid;
			pk.pps = row.pps;
			memcpy(pk.mebx, row.mebx, sizeof(pk.mebx));
			memcpy(pk.batch, row.batch, sizeof(pk.batch));
			rc = pp_pskc_writer_add(pw, &pk, &err);
			pp_wipe(&pk, sizeof(pk));
		} else if (pp_csv_write_row(&out, &row) < 0) {
			pp_wipe(&row, sizeof(row));
			goto out_mem;
		}
		pp_wipe(&row, sizeof(row));
		if (rc < 0)
			goto out;
		if (pv.v[i].state == PP_KEY_AVAILABLE) {
			rc = pp_store_key_set_state(store, pv.v[i].pid, PP_KEY_EXPORTED, &err);
			if (rc < 0)
				goto out;
		}
	}
	if (pskc) {
		rc = pp_pskc_writer_finish(pw, &out, &err);
		if (rc < 0)
			goto out;
	}
	char detail[96];
	snprintf(detail, sizeof(detail), "format=%s keys=%zu%s", format, pv.n,
		 !pskc         ? ""
		 : po.key_file ? " protect=transport-key"
			       : " protect=passphrase");
	rc = pp_store_audit_append(store, pp_actor(), "keys.export", batch, detail, &err);
	if (rc < 0)
		goto out;
	rc = pp_file_create(outpath, out.data, out.len, 0600, &err);
	if (rc < 0)
		goto out;
	file_written = true;
	rc = pp_store_commit(store, &err);
	if (rc < 0)
		goto out;
	in_tx = false;
	printf("exported %zu keys of batch %s to %s (%s, mode 0600)\n", pv.n, batch, outpath,
	       format);
	goto out;
out_mem:
	rc = pp_err_set(&err, PP_ENOMEM, "export: out of memory");
out:
	if (in_tx) {
		pp_rollback_quiet(store);
		if (file_written)
			unlink(outpath);
	}
	pp_wipe(&row, sizeof(row));
	pp_buf_free_wipe(&out);
	pp_pskc_writer_free(pw);
	pp_pskc_prot_wipe(&prot);
	free(pv.v);
	pp_store_close(store);
	return rc < 0 ? pp_fail_err(&err) : PP_EXIT_OK;
}

/* A PID read from the file, and where: tells a PID repeated in the file from one
 * already in the store (both are -PP_EEXIST from the insert). */
struct import_seen {
	char pid[PP_PID_LEN + 1];
	unsigned where; /* line (CSV) or KeyPackage (PSKC) */
};

struct import_ctx {
	struct pp_store *store;
	struct pp_err *err;
	struct import_seen *seen;
	size_t nseen, capseen;
	char last_batch[PP_BATCH_NAME_MAX + 1];
	int64_t batch_id;
	uint64_t n;
	uint64_t batches_created;
	uint64_t package; /* PSKC: KeyPackage number, for messages */
};

static int import_remember(struct import_ctx *ic, const struct pp_pid *pid, unsigned where)
{
	if (ic->nseen == ic->capseen) {
		size_t cap = ic->capseen ? 2 * ic->capseen : 1024;
		struct import_seen *n = reallocarray(ic->seen, cap, sizeof(*n));
		if (!n)
			return pp_err_set(ic->err, PP_ENOMEM, "import: out of memory");
		ic->seen = n;
		ic->capseen = cap;
	}
	memcpy(ic->seen[ic->nseen].pid, pid->s, sizeof(pid->s));
	ic->seen[ic->nseen++].where = where;
	return 0;
}

/* The insert said the PID exists: earlier in this file, or in the store before. */
static int import_duplicate(struct import_ctx *ic, const struct pp_pid *pid, unsigned where)
{
	char t[PP_PID_TEXT];
	const char *unit = ic->package ? "KeyPackages" : "lines";
	pp_pid_format(pid, t);
	for (size_t i = 0; i < ic->nseen; i++)
		if (!strcmp(ic->seen[i].pid, pid->s))
			return pp_err_set(ic->err, PP_EEXIST,
					  "PID %s appears twice in the file (%s %u and %u)", t,
					  unit, ic->seen[i].where, where);
	return pp_err_set(ic->err, PP_EEXIST, "%s %u: PID %s is already in the store",
			  ic->package ? "KeyPackage" : "line", where, t);
}

static int import_row(void *arg, const struct pp_csv_row *row, unsigned line)
{
	struct import_ctx *ic = arg;
	int rc;
	if (strcmp(ic->last_batch, row->batch)) {
		struct pp_batch_info bi;
		struct pp_err e2 = {0};
		rc = pp_store_batch_get(ic->store, row->batch, &bi, &e2);
		if (rc == -PP_ENOTFOUND) {
			struct pp_batch_new nb = {.name = row->batch};
			rc = pp_store_batch_create(ic->store, &nb, &bi.id, ic->err);
			if (rc < 0)
				return pp_err_prefix(ic->err, "line %u", line);
			ic->batches_created++;
		} else if (rc < 0) {
			*ic->err = e2;
			return pp_err_prefix(ic->err, "line %u", line);
		} else if (bi.derived) {
			return pp_err_set(ic->err, PP_ESTATE,
					  "line %u: batch '%s' is derived; imported keys need a "
					  "batch of their own",
					  line, row->batch);
		} else if (bi.shared_max) {
			return pp_err_set(ic->err, PP_ESTATE,
					  "line %u: batch '%s' holds shared keys; imported keys "
					  "need a batch of their own",
					  line, row->batch);
		}
		ic->batch_id = bi.id;
		memcpy(ic->last_batch, row->batch, sizeof(ic->last_batch));
	}
	struct pp_key_new k = {.pid = row->pid.s,
			       .pps = row->pps.s,
			       .mebx_password = row->mebx,
			       .batch_id = ic->batch_id,
			       .max_devices = 1,
			       .state = PP_KEY_EXPORTED};
	rc = pp_store_key_insert(ic->store, &k, ic->err);
	if (rc == -PP_EEXIST)
		return import_duplicate(ic, &row->pid, line);
	if (rc < 0)
		return pp_err_prefix(ic->err, "line %u", line);
	ic->n++;
	return import_remember(ic, &row->pid, line);
}

static int import_pskc_key(void *arg, const struct pp_pskc_key *k)
{
	struct import_ctx *ic = arg;
	struct pp_csv_row row;
	row.pid = k->pid;
	row.pps = k->pps;
	memcpy(row.mebx, k->mebx, sizeof(row.mebx));
	memcpy(row.batch, k->batch, sizeof(row.batch));
	ic->package++;
	int rc = import_row(ic, &row, (unsigned)ic->package);
	pp_wipe(&row, sizeof(row));
	return rc;
}

/* A PSKC document starts with '<' (after a byte order mark and white space). */
static bool looks_like_xml(const uint8_t *p, size_t n)
{
	size_t i = 0;
	if (n >= 3 && p[0] == 0xEF && p[1] == 0xBB && p[2] == 0xBF)
		i = 3;
	while (i < n && (p[i] == ' ' || p[i] == '\t' || p[i] == '\r' || p[i] == '\n'))
		i++;
	return i < n && p[i] == '<';
}

static int keys_import(struct pp_cli *cli, int argc, char **argv)
{
	static const struct option opts[] = {{"transport-key", required_argument, NULL, 'k'},
					     {"key-name", required_argument, NULL, 'n'},
					     {"passphrase", no_argument, NULL, 'p'},
					     {"passphrase-file", required_argument, NULL, 'P'},
					     {"help", no_argument, NULL, 'h'},
					     {NULL, 0, NULL, 0}};
	struct pp_pskc_opts po = {0};
	int c;
	while ((c = getopt_long(argc, argv, "k:n:pP:h", opts, NULL)) != -1) {
		switch (c) {
		case 'k':
			po.key_file = optarg;
			break;
		case 'n':
			po.key_name = optarg;
			break;
		case 'p':
			po.ask = true;
			break;
		case 'P':
			po.pass_file = optarg;
			break;
		case 'h':
			printf("usage: pskprov keys import FILE [--transport-key FILE [--key-name "
			       "NAME] |\n           --passphrase | --passphrase-file FILE]\n\n"
			       "Reads a CSV (%s) or a PSKC container (RFC 6030;\n"
			       "needs its transport key or passphrase). Every key is checked "
			       "first (PSKC:\nevery MAC) and the import is one transaction, so a "
			       "bad file changes nothing.\nImported keys are in the 'exported' "
			       "state.\n",
			       PP_CSV_HEADER);
			return PP_EXIT_OK;
		default:
			return PP_EXIT_USAGE;
		}
	}
	if (optind + 1 != argc)
		return pp_usage_error("keys import", "expected one FILE");
	const char *path = argv[optind];
	int nprot = !!po.key_file + !!po.ask + !!po.pass_file;
	if (nprot > 1)
		return pp_usage_error("keys import", "give one of --transport-key, --passphrase, "
						     "--passphrase-file");
	struct pp_err err = {0};
	struct pp_buf text;
	pp_buf_init(&text, IMPORT_MAX_BYTES);
	struct pp_datadir dd;
	struct pp_store *store = NULL;
	struct pp_pskc_prot prot;
	memset(&prot, 0, sizeof(prot));
	bool pskc = false;
	struct import_ctx ic = {.err = &err};
	int rc = pp_file_read(path, IMPORT_MAX_BYTES, &text, &err);
	if (rc < 0)
		goto out;
	if (pp_file_check_private(path, &err) < 0)
		pp_note("warning: %s", err.msg);
	pskc = looks_like_xml(text.data, text.len);
	if (pskc && !nprot) {
		rc = pp_err_set(&err, PP_EINVAL,
				"%s is a PSKC container: give --transport-key or --passphrase",
				path);
		goto out;
	}
	if (!pskc && nprot) {
		rc = pp_err_set(&err, PP_EINVAL,
				"%s is not a PSKC container (it does not start with '<')", path);
		goto out;
	}
	if (pskc) {
		rc = pp_pskc_protection(&po, false, &prot, &err);
		if (rc < 0)
			goto out;
	}
	rc = pp_datadir_open(cli, &dd, &store, &err);
	if (rc < 0)
		goto out;
	rc = pp_store_begin(store, &err);
	if (rc < 0)
		goto out;
	ic.store = store;
	if (pskc)
		rc = pp_pskc_read(text.data, text.len, &prot.p, import_pskc_key, &ic, &err);
	else
		rc = pp_csv_parse((const char *)text.data, text.len, import_row, &ic, &err);
	if (rc == 0 && ic.n == 0)
		rc = pp_err_set(&err, PP_EINVAL, "no keys in the file");
	if (rc == 0) {
		char detail[96];
		snprintf(detail, sizeof(detail), "format=%s keys=%llu", pskc ? "pskc" : "csv",
			 (unsigned long long)ic.n);
		rc = pp_store_audit_append(store, pp_actor(), "keys.import", path, detail, &err);
	}
	if (rc == 0)
		rc = pp_store_commit(store, &err);
	if (rc < 0) {
		pp_rollback_quiet(store);
		pp_err_prefix(&err, "%s", path);
		goto out;
	}
	printf("imported %llu keys from %s (%s, %llu new batches)\n", (unsigned long long)ic.n,
	       path, pskc ? "pskc" : "csv", (unsigned long long)ic.batches_created);
out:
	free(ic.seen);
	pp_buf_free_wipe(&text);
	pp_pskc_prot_wipe(&prot);
	pp_store_close(store);
	return rc < 0 ? pp_fail_err(&err) : PP_EXIT_OK;
}

static int keys_transport_key(struct pp_cli *cli, int argc, char **argv)
{
	(void)cli;
	static const struct option opts[] = {{"out", required_argument, NULL, 'o'},
					     {"bits", required_argument, NULL, 'b'},
					     {"help", no_argument, NULL, 'h'},
					     {NULL, 0, NULL, 0}};
	const char *outpath = NULL;
	uint32_t bits = 256;
	struct pp_err err = {0};
	int c;
	while ((c = getopt_long(argc, argv, "o:b:h", opts, NULL)) != -1) {
		switch (c) {
		case 'o':
			outpath = optarg;
			break;
		case 'b':
			if (pp_parse_u32(optarg, 128, 256, &bits, "--bits", &err) < 0 ||
			    (bits != 128 && bits != 256))
				return pp_usage_error("keys transport-key", "--bits: 128 or 256");
			break;
		case 'h':
			printf("usage: pskprov keys transport-key --out FILE [--bits 128|256]\n\n"
			       "Makes a random PSKC transport key (hex) in a new file of mode "
			       "0600, to share\nwith a manufacturer out of band.\n");
			return PP_EXIT_OK;
		default:
			return PP_EXIT_USAGE;
		}
	}
	if (optind != argc || !outpath)
		return pp_usage_error("keys transport-key", "--out FILE is required");
	if (pp_pskc_transport_key_create(outpath, bits / 8, &err) < 0)
		return pp_fail_err(&err);
	printf("wrote a %u-bit transport key to %s (mode 0600)\n", bits, outpath);
	return PP_EXIT_OK;
}

/* ---- report ------------------------------------------------------------------ */

struct report {
	json_t *shared, *locked, *silent, *quarantined, *notes[PP_NOTE_KIND_MAX];
	int64_t now;
	uint64_t n_shared, n_locked, n_silent, n_quar, n_notes[PP_NOTE_KIND_MAX];
	enum pp_hello_note_kind kind; /* of the note list being walked */
	bool json;
};

static int report_key(void *arg, const struct pp_key_info *k)
{
	struct report *r = arg;
	char pid[PP_PID_TEXT];
	struct pp_pid p;
	memcpy(p.s, k->pid, sizeof(p.s));
	pp_pid_format(&p, pid);
	if (k->shared) {
		r->n_shared++;
		if (r->json)
			json_array_append_new(
			    r->shared, json_pack("{s:s,s:s,s:s,s:I,s:I}", "pid", pid, "batch",
						 k->batch, "state", pp_key_state_name(k->state),
						 "devices", (json_int_t)k->use_count, "max_devices",
						 (json_int_t)k->max_devices));
		else
			printf("  shared       %-10s %-20s %-9s %u of %u devices\n", pid, k->batch,
			       pp_key_state_name(k->state), k->use_count, k->max_devices);
	}
	if (k->locked_until > r->now) {
		r->n_locked++;
		char t[24];
		pp_format_time(k->locked_until, t);
		if (r->json)
			json_array_append_new(
			    r->locked, json_pack("{s:s,s:I,s:I}", "pid", pid, "failures",
						 (json_int_t)k->failure_count, "locked_until",
						 (json_int_t)k->locked_until));
		else
			printf("  locked out   %-10s %u failed handshakes; an address locked until "
			       "%s UTC\n",
			       pid, k->failure_count, t);
	}
	if (k->state == PP_KEY_EXPORTED && k->use_count == 0) {
		r->n_silent++;
		char t[24];
		pp_format_time(k->exported_at, t);
		if (r->json)
			json_array_append_new(r->silent, json_pack("{s:s,s:s,s:I}", "pid", pid,
								   "batch", k->batch, "exported_at",
								   (json_int_t)k->exported_at));
		else if (r->n_silent <= 50)
			printf("  never seen   %-10s %-20s exported %s UTC\n", pid, k->batch, t);
	}
	return 0;
}

static int report_device(void *arg, const struct pp_device_info *d)
{
	struct report *r = arg;
	if (!d->quarantined && d->state != PP_DEV_QUARANTINED)
		return 0;
	r->n_quar++;
	char uuid[37];
	pp_uuid_format(d->uuid, uuid);
	if (r->json)
		json_array_append_new(r->quarantined,
				      json_pack("{s:s,s:s,s:s}", "uuid", uuid, "pid", d->pid,
						"reason", d->last_error));
	else
		printf("  QUARANTINED  %s pid %s: %s\n", uuid, d->pid,
		       d->last_error[0] ? d->last_error : "key already used by another device");
	return 0;
}

/* The bounded samples of hellos (store.h pp_store_hello_notes), newest first. */
static int report_note(void *arg, const struct pp_hello_note *n)
{
	struct report *r = arg;
	char pid[PP_PID_TEXT], uuid[37], addr[16], t[24];
	struct pp_pid p;
	memcpy(p.s, n->pid, sizeof(p.s));
	pp_pid_format(&p, pid);
	pp_uuid_format(n->uuid, uuid);
	snprintf(addr, sizeof(addr), "%u.%u.%u.%u", n->addr[0], n->addr[1], n->addr[2], n->addr[3]);
	pp_format_time(n->last_seen, t);
	r->n_notes[r->kind]++;
	if (r->json)
		return json_array_append_new(r->notes[r->kind],
					     json_pack("{s:s,s:s,s:s,s:I,s:I,s:I}", "pid", pid,
						       "uuid", uuid, "address", addr, "hellos",
						       (json_int_t)n->count, "first_seen",
						       (json_int_t)n->first_seen, "last_seen",
						       (json_int_t)n->last_seen)) < 0
			   ? -PP_ENOMEM
			   : 0;
	printf("  %-12s %-10s %s from %s, %llu hello%s, last %s UTC\n",
	       r->kind == PP_NOTE_SUSPECT_CLONE ? "SUSPECT" : "unknown PID", pid, uuid, addr,
	       (unsigned long long)n->count, n->count == 1 ? "" : "s", t);
	return 0;
}

static int report_notes(struct pp_store *store, struct report *r, struct pp_err *err)
{
	for (int k = 0; k < PP_NOTE_KIND_MAX; k++) {
		r->kind = (enum pp_hello_note_kind)k;
		int rc = pp_store_hello_notes(store, r->kind, report_note, r, err);
		if (rc < 0)
			return rc;
	}
	return 0;
}

static void report_free(struct report *r)
{
	json_decref(r->shared);
	json_decref(r->locked);
	json_decref(r->silent);
	json_decref(r->quarantined);
	for (int k = 0; k < PP_NOTE_KIND_MAX; k++)
		json_decref(r->notes[k]);
}

static int keys_report(struct pp_cli *cli, int argc, char **argv)
{
	static const struct option opts[] = {
	    {"json", no_argument, NULL, 'j'}, {"help", no_argument, NULL, 'h'}, {NULL, 0, NULL, 0}};
	struct report r;
	memset(&r, 0, sizeof(r));
	int c;
	while ((c = getopt_long(argc, argv, "jh", opts, NULL)) != -1) {
		if (c == 'j') {
			r.json = true;
		} else if (c == 'h') {
			printf("usage: pskprov keys report [--json]\n\n"
			       "Shared keys and their use, quarantined devices (a cloned or "
			       "stolen key),\nlocked-out PIDs, keys exported but never seen "
			       "by the server, and the last %d\nsuspected clones (hellos for a "
			       "key that belongs to other devices) and unknown\nPIDs (hellos "
			       "for a PID the store does not have).\n",
			       PP_STORE_NOTES_MAX);
			return PP_EXIT_OK;
		} else {
			return PP_EXIT_USAGE;
		}
	}
	if (optind != argc)
		return pp_usage_error("keys report", "unexpected argument '%.40s'", argv[optind]);
	struct pp_err err = {0};
	struct pp_datadir dd;
	struct pp_store *store = NULL;
	r.now = pp_unix_time();
	if (r.json) {
		r.shared = json_array();
		r.locked = json_array();
		r.silent = json_array();
		r.quarantined = json_array();
		for (int k = 0; k < PP_NOTE_KIND_MAX; k++)
			r.notes[k] = json_array();
	}
	int rc = pp_datadir_open(cli, &dd, &store, &err);
	if (rc == 0 && !r.json)
		printf("keys report (%s)\n", dd.dir);
	struct pp_key_filter kf = {.batch = NULL, .state = -1, .limit = 0};
	if (rc == 0)
		rc = pp_store_key_list(store, &kf, report_key, &r, &err);
	struct pp_device_filter df = {.state = -1, .limit = 0};
	if (rc == 0)
		rc = pp_store_device_list(store, &df, report_device, &r, &err);
	if (rc == 0)
		rc = report_notes(store, &r, &err);
	pp_store_close(store);
	if (rc < 0) {
		report_free(&r);
		return pp_fail_err(&err);
	}
	if (r.json)
		return pp_json_print(json_pack(
		    "{s:o,s:o,s:o,s:o,s:o,s:o}", "shared", r.shared, "quarantined", r.quarantined,
		    "locked_out", r.locked, "exported_never_seen", r.silent, "suspected_clones",
		    r.notes[PP_NOTE_SUSPECT_CLONE], "unknown_pids", r.notes[PP_NOTE_UNKNOWN_PID]));
	if (r.n_silent > 50)
		printf("  ... and %llu more keys exported but never seen\n",
		       (unsigned long long)(r.n_silent - 50));
	printf("%llu shared keys, %llu quarantined devices, %llu locked-out PIDs, %llu keys "
	       "exported but never seen; recent suspected clones %llu, unknown PIDs %llu (the "
	       "last %d of each are kept)\n",
	       (unsigned long long)r.n_shared, (unsigned long long)r.n_quar,
	       (unsigned long long)r.n_locked, (unsigned long long)r.n_silent,
	       (unsigned long long)r.n_notes[PP_NOTE_SUSPECT_CLONE],
	       (unsigned long long)r.n_notes[PP_NOTE_UNKNOWN_PID], PP_STORE_NOTES_MAX);
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
