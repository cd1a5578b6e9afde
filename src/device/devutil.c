#include "device/devutil.h"

#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>

#include "prog/cli.h"
#include "core/address.h"
#include "core/bytes.h"
#include "core/fileio.h"
#include "core/parse.h"
#include "core/secret.h"
#include "device/emu.h"
#include "firmware/device.h"
#include "keys/pskc.h"
#include "proto/hello.h"

struct csv_pick {
	const struct pp_pid *want;
	size_t max;
	struct pp_devkey *rows;
	size_t n, cap;
	struct pp_err *err;
};

/* Returned by the row callback to stop the parse early: not an error. */
#define CSV_STOP 1

static int csv_row(void *ctx, const struct pp_key_record *row, unsigned line)
{
	struct csv_pick *p = ctx;
	if (p->want && strcmp(p->want->s, row->pid.s) != 0)
		return 0;
	if (p->n == p->cap) {
		size_t cap = p->cap ? p->cap * 2 : 64, bytes;
		if (cap > p->max)
			cap = p->max;
		if (!pp_mul_ok(cap, sizeof(*p->rows), &bytes))
			return pp_err_set(p->err, PP_ENOMEM, "out of memory");
		struct pp_devkey *nr = calloc(cap, sizeof(*nr));
		if (!nr)
			return pp_err_set(p->err, PP_ENOMEM, "out of memory");
		if (p->n) {
			memcpy(nr, p->rows, p->n * sizeof(*nr));
			pp_wipe(p->rows, p->n * sizeof(*nr));
		}
		free(p->rows);
		p->rows = nr;
		p->cap = cap;
	}
	struct pp_devkey *k = &p->rows[p->n++];
	k->pid = row->pid;
	k->pps = row->pps;
	memcpy(k->mebx, row->mebx, sizeof(k->mebx));
	k->line = line;
	return p->n >= p->max ? CSV_STOP : 0;
}

int pp_devcsv_read(const char *path, const struct pp_pid *want, size_t max, struct pp_devkey **rows,
		   size_t *n, bool *loose, struct pp_err *err)
{
	struct pp_buf b;
	struct csv_pick p = {.want = want, .max = want ? 1 : max, .err = err};
	struct pp_err perm = {0};
	int rc;
	*rows = NULL;
	*n = 0;
	*loose = false;
	if (p.max == 0)
		return pp_err_set(err, PP_EINVAL, "no rows wanted");
	pp_buf_init(&b, PP_DEVCSV_MAX_BYTES);
	if ((rc = pp_file_read(path, PP_DEVCSV_MAX_BYTES, &b, err)) < 0)
		goto out;
	*loose = pp_file_check_private(path, &perm) == -PP_EPERM;
	rc = pp_csv_parse((const char *)b.data, b.len, csv_row, &p, err);
	if (rc == CSV_STOP)
		rc = 0;
	if (rc < 0) {
		pp_err_prefix(err, "'%s'", path);
		goto out;
	}
	if (want && p.n == 0) {
		char shown[PP_PID_TEXT];
		pp_pid_format(want, shown);
		rc = pp_err_set(err, PP_ENOTFOUND, "'%s' has no row for PID %s", path, shown);
		goto out;
	}
	if (p.n == 0) {
		rc = pp_err_set(err, PP_ENOTFOUND, "'%s' has no key rows", path);
		goto out;
	}
	*rows = p.rows;
	*n = p.n;
	p.rows = NULL;
	p.n = 0;
out:
	pp_devcsv_free(p.rows, p.n);
	pp_buf_free_wipe(&b);
	return rc;
}

void pp_devcsv_free(struct pp_devkey *rows, size_t n)
{
	if (!rows)
		return;
	pp_wipe(rows, n * sizeof(*rows));
	free(rows);
}

/* ---- PSKC ---- */

struct pskc_pick {
	const struct pp_pid *want;
	struct pp_devkey *out;
	bool found;
};

/* Stops the read (positive return) at the key wanted; pp_pskc_read has already checked
 * the whole container when the first callback runs. */
static int pskc_key(void *ctx, const struct pp_key_record *k)
{
	struct pskc_pick *p = ctx;
	if (p->want && strcmp(p->want->s, k->pid.s) != 0)
		return 0;
	size_t n = strlen(k->mebx);
	if (n >= sizeof(p->out->mebx))
		return -PP_ETOOBIG;
	p->out->pid = k->pid;
	p->out->pps = k->pps;
	memcpy(p->out->mebx, k->mebx, n + 1);
	p->found = true;
	return 1;
}

int pp_devpskc_read(const char *path, const struct pp_pskc_opts *o, const struct pp_pid *want,
		    struct pp_devkey *out, struct pp_err *err)
{
	struct pp_pskc_prot prot;
	struct pskc_pick pick = {.want = want, .out = out};
	struct pp_buf doc;
	int rc;

	memset(out, 0, sizeof(*out));
	memset(&prot, 0, sizeof(prot));
	pp_buf_init(&doc, PP_PSKC_DOC_MAX);
	if ((rc = pp_file_read(path, PP_PSKC_DOC_MAX, &doc, err)) < 0)
		goto out;
	if ((rc = pp_pskc_protection(o, false, &prot, err)) < 0)
		goto out;
	rc = pp_pskc_read(doc.data, doc.len, &prot.p, pskc_key, &pick, err);
	if (rc > 0)
		rc = 0;
	if (rc == -PP_ETOOBIG && err && !err->msg[0])
		rc = pp_err_set(err, PP_ETOOBIG, "a MEBx password is too long");
	if (rc < 0) {
		pp_err_prefix(err, "'%s'", path);
		goto out;
	}
	if (!pick.found) {
		char shown[PP_PID_TEXT];
		pp_pid_format(want, shown);
		rc = pp_err_set(err, PP_ENOTFOUND, "'%s' has no key for PID %s", path, shown);
		goto out;
	}
	out->line = 0;
out:
	if (rc < 0)
		pp_wipe(out, sizeof(*out));
	pp_pskc_prot_wipe(&prot);
	pp_buf_free_wipe(&doc);
	return rc;
}

int pp_dev_parse_loopback(const char *s, uint8_t ip[4], const char *what, struct pp_err *err)
{
	int rc = pp_parse_ipv4(s, ip, what, err);
	if (rc < 0)
		return rc;
	if (ip[0] != 127)
		return pp_err_set(err, PP_EINVAL,
				  "%s: %.40s is not a loopback address (127.0.0.0/8)", what, s);
	return 0;
}

int pp_dev_parse_loopback_port(const char *s, uint8_t ip[4], uint16_t *port, const char *what,
			       struct pp_err *err)
{
	struct pp_address a;
	int rc = pp_address_parse(s, *port, PP_ADDR_LOOPBACK, what, &a, err);
	if (rc < 0)
		return rc;
	memcpy(ip, a.ip, 4);
	*port = a.port;
	return 0;
}

int pp_dev_parse_port(const char *s, uint16_t *port, const char *what, struct pp_err *err)
{
	uint32_t v;
	int rc = pp_parse_u32(s, 1, 65535, &v, what, err);
	if (rc == 0)
		*port = (uint16_t)v;
	return rc;
}

uint64_t pp_dev_raise_nofile(void)
{
	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
		return 1024;
	if (rl.rlim_cur < rl.rlim_max) {
		struct rlimit want = {.rlim_cur = rl.rlim_max, .rlim_max = rl.rlim_max};
		if (setrlimit(RLIMIT_NOFILE, &want) == 0)
			rl.rlim_cur = rl.rlim_max;
	}
	return rl.rlim_cur == RLIM_INFINITY ? UINT64_MAX : (uint64_t)rl.rlim_cur;
}

int pp_dev_trace_dir(const char *dir, struct pp_emu_trace *trace, struct pp_emu_env *env,
		     struct pp_err *err)
{
	struct stat st;
	if (!dir[0] || strlen(dir) > 3000)
		return pp_err_set(err, PP_EINVAL, "--wsman-trace: empty or too long a path");
	if (stat(dir, &st) < 0 || !S_ISDIR(st.st_mode))
		return pp_err_set(err, PP_EINVAL, "--wsman-trace: '%.200s' is not a directory",
				  dir);
	trace->dir = dir;
	trace->seq = 0;
	env->trace = trace;
	return 0;
}

/* ---- options as data ---- */

static const struct pp_dev_opt *opt_by_letter(const struct pp_dev_opt *tab, size_t n, int letter)
{
	for (size_t i = 0; i < n; i++)
		if (tab[i].letter == letter)
			return &tab[i];
	return NULL;
}

/* The getopt_long tables for tab, with --help (-h) at the end. */
static void opt_tables(const struct pp_dev_opt *tab, size_t n, struct option *longs, char *shorts)
{
	size_t k = 0;
	for (size_t i = 0; i < n; i++) {
		bool arg = tab[i].kind != PP_DEV_OPT_FLAG;
		longs[i] = (struct option){tab[i].name, arg ? required_argument : no_argument, NULL,
					   tab[i].letter};
		shorts[k++] = tab[i].letter;
		if (arg)
			shorts[k++] = ':';
	}
	longs[n] = (struct option){"help", no_argument, NULL, 'h'};
	longs[n + 1] = (struct option){NULL, 0, NULL, 0};
	/* --state, the name --state-dir had before, still works (scripts use it). */
	for (size_t i = 0; i < n; i++) {
		if (!strcmp(tab[i].name, "state-dir")) {
			longs[n + 1] =
			    (struct option){"state", required_argument, NULL, tab[i].letter};
			longs[n + 2] = (struct option){NULL, 0, NULL, 0};
			break;
		}
	}
	shorts[k++] = 'h';
	shorts[k] = '\0';
}

static int opt_apply(const struct pp_dev_opt *o, void *opts, const char *value, struct pp_err *err)
{
	switch (o->kind) {
	case PP_DEV_OPT_STRING:
		*(const char **)(void *)((char *)opts + o->off) = value;
		return 0;
	case PP_DEV_OPT_FLAG:
		*(bool *)(void *)((char *)opts + o->off) = true;
		return 0;
	case PP_DEV_OPT_VALUE:
		return o->set(opts, value, err);
	}
	return pp_err_set(err, PP_EINVAL, "--%s: not an option kind", o->name);
}

bool pp_dev_getopt(int argc, char **argv, const char *cmd, const struct pp_dev_opt *tab, size_t n,
		   void *opts, void (*usage)(FILE *), int *exit_code)
{
	struct option longs[PP_DEV_OPTS_MAX + 3];
	char shorts[2 * PP_DEV_OPTS_MAX + 2];
	struct pp_err err = {0};
	int c;
	if (n > PP_DEV_OPTS_MAX) {
		*exit_code = pp_fail("%s: too many options for the parser", cmd);
		return true;
	}
	opt_tables(tab, n, longs, shorts);
	while ((c = pp_getopt(argc, argv, shorts, longs)) != -1) {
		const struct pp_dev_opt *o = c == 'h' ? NULL : opt_by_letter(tab, n, c);
		if (c == 'h' || !o) {
			if (c == 'h')
				usage(stdout); /* else pp_getopt said what was wrong, in one line */
			*exit_code = c == 'h' ? PP_EXIT_OK : PP_EXIT_USAGE;
			return true;
		}
		if (opt_apply(o, opts, optarg, &err) < 0) {
			*exit_code = pp_usage_error(cmd, "%s", err.msg);
			return true;
		}
	}
	if (optind != argc) {
		*exit_code = pp_usage_error(cmd, "unexpected argument '%.40s'", argv[optind]);
		return true;
	}
	return false;
}

int pp_dev_set_server(void *opts, const char *value, struct pp_err *err)
{
	struct pp_emu_env *env = &((struct pp_dev_net_opts *)opts)->env;
	env->server_port = PP_HELLO_PORT;
	int rc =
	    pp_dev_parse_loopback_port(value, env->server_ip, &env->server_port, "--server", err);
	env->has_server = rc == 0;
	return rc;
}

int pp_dev_set_port(void *opts, const char *value, struct pp_err *err)
{
	return pp_dev_parse_port(value, &((struct pp_dev_net_opts *)opts)->env.tls_port, "--port",
				 err);
}

int pp_dev_set_http_port(void *opts, const char *value, struct pp_err *err)
{
	return pp_dev_parse_port(value, &((struct pp_dev_net_opts *)opts)->env.http_port,
				 "--http-port", err);
}

int pp_dev_set_profile(void *opts, const char *value, struct pp_err *err)
{
	struct pp_err perr = {0};
	if (pp_tls_profile_parse(value, &((struct pp_dev_net_opts *)opts)->profile, &perr) < 0)
		return pp_err_set(err, PP_EINVAL, "--profile: %s", perr.msg);
	return 0;
}

int pp_dev_set_time_scale(void *opts, const char *value, struct pp_err *err)
{
	return pp_parse_double(value, 1e-6, 1e6, &((struct pp_dev_net_opts *)opts)->env.time_scale,
			       "--time-scale", err);
}

int pp_dev_set_log_level(void *opts, const char *value, struct pp_err *err)
{
	if (pp_log_level_parse(value, &((struct pp_dev_net_opts *)opts)->level) < 0)
		return pp_err_set(err, PP_EINVAL,
				  "--log-level: '%.20s' is not debug, info, warn or error", value);
	return 0;
}

int pp_dev_set_trace(void *opts, const char *value, struct pp_err *err)
{
	struct pp_dev_net_opts *o = opts;
	return pp_dev_trace_dir(value, &o->trace, &o->env, err);
}

int pp_devcsv_load(const char *path, const struct pp_pid *want, size_t max, struct pp_devkey **rows,
		   size_t *n, struct pp_err *err)
{
	bool loose = false;
	int rc = pp_devcsv_read(path, want, max, rows, n, &loose, err);
	if (rc == 0 && loose)
		pp_note("warning: '%s' can be read by group or others; key files should be mode "
			"0600 (chmod 600)",
			path);
	return rc;
}

void pp_devcsv_freep(struct pp_devcsv *c)
{
	pp_devcsv_free(c->rows, c->n);
	c->rows = NULL;
	c->n = 0;
}

void pp_devkey_wipe(struct pp_devkey *k)
{
	pp_wipe(k, sizeof(*k));
}

void pp_devpps_wipe(struct pp_pps *pps)
{
	pp_wipe(pps, sizeof(*pps));
}

void pp_dev_ids(const struct pp_amt_device *dev, char uuid[37], char pid[PP_PID_TEXT])
{
	uint8_t raw[16];
	struct pp_pid p;
	pp_amt_uuid(dev, raw);
	pp_uuid_format(raw, uuid);
	pid[0] = '\0';
	if (pp_amt_pid(dev, &p, NULL) == 0)
		pp_pid_format(&p, pid);
}

int pp_dev_state_file(const char *dir, char *out, size_t cap)
{
	int n = snprintf(out, cap, "%s/%s", dir, PP_AMT_DEV_STATE_FILE);
	return n < 0 || (size_t)n >= cap ? -PP_ETOOBIG : 0;
}

int pp_dev_loop_new(struct pp_dev_loop *l, enum pp_tls_profile profile, struct pp_emu_env *env,
		    struct pp_err *err)
{
	/* epoll's changelist: a connection that stops and starts watching a descriptor
	 * within one loop turn (as a TLS bufferevent does between records) costs one
	 * epoll_ctl, or none, instead of one per change. No descriptor is ever dup()ed
	 * here, the changelist's one caveat. */
	struct event_config *cfg = event_config_new();
	if (cfg)
		event_config_set_flag(cfg, EVENT_BASE_FLAG_EPOLL_USE_CHANGELIST);
	l->base = cfg ? event_base_new_with_config(cfg) : NULL;
	if (cfg)
		event_config_free(cfg);
	if (!l->base)
		return pp_err_set(err, PP_ENOMEM, "cannot create an event loop");
	if (!(l->ctx = pp_tls_device_ctx_new(profile, err)))
		return -PP_ECRYPTO;
	if (!(l->ws_work = pp_devws_work_new()))
		return pp_err_set(err, PP_ENOMEM, "out of memory");
	env->base = l->base;
	env->tls_ctx = l->ctx;
	env->ws_work = l->ws_work;
	return 0;
}

int pp_dev_loop_signals(struct pp_dev_loop *l, event_callback_fn fn, void *arg, struct pp_err *err)
{
	l->sigint = evsignal_new(l->base, SIGINT, fn, arg);
	l->sigterm = evsignal_new(l->base, SIGTERM, fn, arg);
	if (!l->sigint || !l->sigterm || evsignal_add(l->sigint, NULL) < 0 ||
	    evsignal_add(l->sigterm, NULL) < 0)
		return pp_err_set(err, PP_EIO, "cannot install signal handlers");
	return 0;
}

void pp_dev_loop_free(struct pp_dev_loop *l)
{
	if (l->sigint)
		event_free(l->sigint);
	if (l->sigterm)
		event_free(l->sigterm);
	SSL_CTX_free(l->ctx);
	pp_devws_work_free(l->ws_work);
	if (l->base)
		event_base_free(l->base);
	memset(l, 0, sizeof(*l));
}
