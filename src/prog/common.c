#include "prog/cli.h"

#include <errno.h>
#include <getopt.h>
#include <pthread.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "core/clock.h"
#include "core/fileio.h"
#include "core/suggest.h"
#include "core/parse.h"
#include "core/secret.h"
#include "store/masterkey.h"
#include "store/store.h"
#include "usecase/rotate.h"

/* "pskprov: <message><tail>" on stderr, one line. */
static void say(const char *tail, const char *fmt, va_list ap) PP_PRINTF(2, 0);
static void say(const char *tail, const char *fmt, va_list ap)
{
	fputs("pskprov: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputs(tail, stderr);
	fputc('\n', stderr);
}

int pp_fail(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	say("", fmt, ap);
	va_end(ap);
	return PP_EXIT_FAIL;
}

int pp_fail_err(const struct pp_err *err)
{
	return pp_fail("%s", err->msg[0] ? err->msg : pp_status_str(err->code));
}

int pp_usage_error(const char *cmd, const char *fmt, ...)
{
	char tail[96];
	va_list ap;
	snprintf(tail, sizeof(tail), " (see 'pskprov %s --help')", cmd);
	va_start(ap, fmt);
	say(tail, fmt, ap);
	va_end(ap);
	return PP_EXIT_USAGE;
}

void pp_note(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	say("", fmt, ap);
	va_end(ap);
}

const char *pp_plural(uint64_t n, const char *one, const char *many)
{
	return n == 1 ? one : many;
}

void pp_count_line(uint64_t n, const char *one, const char *many)
{
	fprintf(stderr, "%llu %s\n", (unsigned long long)n, pp_plural(n, one, many));
}

int pp_dispatch(struct pp_cli *cli, const char *family, const struct pp_command *table, int argc,
		char **argv)
{
	if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") ||
	    !strcmp(argv[1], "help")) {
		FILE *out = argc < 2 ? stderr : stdout;
		fprintf(out, "usage: pskprov %s COMMAND [OPTIONS]\n\ncommands:\n", family);
		for (const struct pp_command *c = table; c->name; c++)
			fprintf(out, "  %-10s %s\n", c->name, c->summary);
		return argc < 2 ? PP_EXIT_USAGE : PP_EXIT_OK;
	}
	for (const struct pp_command *c = table; c->name; c++) {
		if (!strcmp(c->name, argv[1])) {
			optind = 0; /* GNU getopt: full reinitialisation for a new argv */
			pp_command_path_add(c->name);
			return c->run(cli, argc - 1, argv + 1);
		}
	}
	const char *near = pp_suggest_table(argv[1], table, sizeof(table[0]));
	if (near)
		return pp_usage_error(family, "unknown command '%s %.40s' (did you mean '%s %s'?)",
				      family, argv[1], family, near);
	return pp_usage_error(family, "unknown command '%s %.40s'", family, argv[1]);
}

bool pp_parse_flags(int argc, char **argv, unsigned allowed, const char *usage, bool *json,
		    bool *reveal, int *exit_code)
{
	static const struct option opts[] = {{"json", no_argument, NULL, 'j'},
					     {"reveal", no_argument, NULL, 'r'},
					     {"help", no_argument, NULL, 'h'},
					     {NULL, 0, NULL, 0}};
	int c;
	while ((c = pp_getopt(argc, argv, "jrh", opts)) != -1) {
		if (c == 'j' && (allowed & PP_FLAG_JSON) && json) {
			*json = true;
		} else if (c == 'r' && (allowed & PP_FLAG_REVEAL) && reveal) {
			*reveal = true;
		} else if (c == 'h') {
			fputs(usage, stdout);
			*exit_code = PP_EXIT_OK;
			return true;
		} else {
			if (c == 'j' || c == 'r')
				fprintf(stderr, "pskprov: %s is not an option here\n",
					c == 'j' ? "--json" : "--reveal");
			*exit_code = PP_EXIT_USAGE;
			return true;
		}
	}
	return false;
}

int pp_json_print(json_t *v)
{
	if (!v)
		return pp_fail("out of memory");
	int rc = json_dumpf(v, stdout, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
	fputc('\n', stdout);
	json_decref(v);
	return rc == 0 ? PP_EXIT_OK : PP_EXIT_FAIL;
}

int64_t pp_unix_time(void)
{
	return (int64_t)time(NULL);
}

void pp_format_time(int64_t t, char out[24])
{
	time_t tt = (time_t)t;
	struct tm tm;
	if (!gmtime_r(&tt, &tm) || !strftime(out, 24, "%Y-%m-%d %H:%M:%S", &tm))
		snprintf(out, 24, "-");
}

void pp_progress_start(struct pp_progress *p, const char *label, uint64_t total)
{
	memset(p, 0, sizeof(*p));
	p->label = label;
	p->total = total;
	p->started = pp_now_s();
	p->active = total >= 10000 && isatty(STDERR_FILENO);
}

static void progress_draw(struct pp_progress *p)
{
	double frac = p->total ? (double)p->done / (double)p->total : 1.0;
	int width = 30, filled = (int)(frac * width);
	char bar[32];
	for (int i = 0; i < width; i++)
		bar[i] = i < filled ? '#' : '.';
	bar[width] = '\0';
	double el = pp_now_s() - p->started;
	double rate = el > 0 ? (double)p->done / el : 0;
	fprintf(stderr, "\r%s [%s] %3.0f%% %llu/%llu %.0f/s", p->label, bar, frac * 100,
		(unsigned long long)p->done, (unsigned long long)p->total, rate);
	fflush(stderr);
}

void pp_progress_update(struct pp_progress *p, uint64_t done)
{
	p->done = done;
	if (!p->active)
		return;
	if (done - p->last_drawn < p->total / 200 + 1 && done != p->total)
		return;
	p->last_drawn = done;
	progress_draw(p);
}

void pp_progress_finish(struct pp_progress *p)
{
	if (!p->active)
		return;
	p->done = p->total;
	progress_draw(p);
	fputc('\n', stderr);
}

int pp_datadir_paths(struct pp_cli *cli, struct pp_datadir *dd, struct pp_err *err)
{
	memset(dd, 0, sizeof(*dd));
	const char *d = cli->datadir;
	if (!d || !*d)
		d = getenv("PSKPROV_DIR");
	if (!d || !*d)
		d = "./pskprov-data";
	size_t n = strlen(d);
	if (n >= sizeof(dd->dir) - 32)
		return pp_err_set(err, PP_EINVAL, "data directory path is too long");
	memcpy(dd->dir, d, n + 1);
	while (n > 1 && dd->dir[n - 1] == '/')
		dd->dir[--n] = '\0';
	snprintf(dd->config_path, sizeof(dd->config_path), "%s/%s", dd->dir, PP_CONFIG_FILE);
	snprintf(dd->key_path, sizeof(dd->key_path), "%s/master.key", dd->dir);
	snprintf(dd->db_path, sizeof(dd->db_path), "%s/pskprov.db", dd->dir);
	return 0;
}

extern char **environ;

#define MK_ENV "PSKPROV_MASTER_KEY"

/* PSKPROV_MASTER_KEY, taken out of the environment once per process: parsed into a
 * page of its own (out of core dumps), then every copy of the value in the
 * environment block is overwritten with zeros (what /proc/PID/environ shows) and the
 * variable unset (so no child inherits it). */
static struct {
	pthread_once_t once;
	bool present; /* the variable was set and not empty */
	bool dropped; /* pp_master_key_env_drop: the key was thrown away */
	struct pp_master_key *key;
	int rc; /* the parse result, with err */
	struct pp_err err;
} env_mk = {.once = PTHREAD_ONCE_INIT};

static void env_mk_take(void)
{
	const size_t nl = sizeof(MK_ENV) - 1;
	const char *first = NULL;
	for (char **e = environ; e && *e; e++)
		if (!strncmp(*e, MK_ENV, nl) && (*e)[nl] == '=') {
			first = *e + nl + 1;
			break;
		}
	if (!first)
		return;
	if (*first) {
		env_mk.present = true;
		env_mk.key = pp_secret_alloc(sizeof(*env_mk.key));
		if (!env_mk.key)
			env_mk.rc = pp_err_set(&env_mk.err, PP_ENOMEM, MK_ENV ": out of memory");
		else if ((env_mk.rc = pp_master_key_from_hex(first, env_mk.key, &env_mk.err)) < 0)
			pp_err_prefix(&env_mk.err, MK_ENV);
	}
	for (char **e = environ; e && *e; e++)
		if (!strncmp(*e, MK_ENV, nl) && (*e)[nl] == '=')
			pp_wipe(*e + nl + 1, strlen(*e + nl + 1));
	(void)unsetenv(MK_ENV); /* every occurrence */
}

void pp_master_key_env_take(void)
{
	pthread_once(&env_mk.once, env_mk_take);
}

bool pp_master_key_env_drop(void)
{
	pp_master_key_env_take();
	pp_secret_free(env_mk.key, sizeof(*env_mk.key));
	env_mk.key = NULL;
	env_mk.dropped = env_mk.present;
	env_mk.present = false;
	return env_mk.dropped;
}

int pp_master_key_from_env(struct pp_master_key *mk, bool *present, struct pp_err *err)
{
	pp_master_key_env_take();
	*present = env_mk.present;
	if (!env_mk.present)
		return 0;
	if (env_mk.rc < 0) {
		if (err)
			*err = env_mk.err;
		return env_mk.rc;
	}
	*mk = *env_mk.key;
	return 0;
}

int pp_harden_process(struct pp_err *err)
{
	pp_master_key_env_take();
	/* Not dumpable: no core file, no ptrace or /proc/PID/mem by other processes of
	 * the same user, /proc/PID owned by root. */
	if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) < 0)
		return pp_err_set(err, PP_EIO, "prctl(PR_SET_DUMPABLE): %s", strerror(errno));
	struct rlimit none = {0, 0};
	if (setrlimit(RLIMIT_CORE, &none) < 0)
		return pp_err_set(err, PP_EIO, "setrlimit(RLIMIT_CORE): %s", strerror(errno));
	return 0;
}

/* A systemd credential (LoadCredential=/LoadCredentialEncrypted= master-key) comes
 * first: the service's way, never in the environment (systemd.exec(5)); then
 * PSKPROV_MASTER_KEY. *present says whether either gave the key. */
static int key_from_service(struct pp_master_key *mk, bool *present, struct pp_err *err)
{
	const char *creds = getenv("CREDENTIALS_DIRECTORY");
	if (creds && *creds) {
		char path[4200];
		snprintf(path, sizeof(path), "%s/master-key", creds);
		if (access(path, F_OK) == 0) {
			*present = true;
			return pp_master_key_load_credential(path, mk, err);
		}
	}
	return pp_master_key_from_env(mk, present, err);
}

int pp_datadir_key(const struct pp_datadir *dd, struct pp_master_key *mk, struct pp_err *err)
{
	bool present = false;
	int rc = key_from_service(mk, &present, err);
	if (rc < 0 || present)
		return rc;
	return pp_master_key_load(dd->key_path, mk, err);
}

int pp_datadir_store_config(const struct pp_datadir *dd, struct pp_store_config *sc,
			    struct pp_err *err)
{
	bool pg = dd->config.backend == PP_BACKEND_POSTGRES;
	/* A directory nobody may write to (a read-only mount, chmod a-w): the commands that
	 * only read still work, the others fail at their first write. */
	*sc = (struct pp_store_config){
	    .kind = pg ? PP_STORE_POSTGRES : PP_STORE_SQLITE,
	    .target = pg ? dd->config.postgres_url : dd->db_path,
	    .readonly = !pg && (access(dd->dir, W_OK) < 0 || access(dd->db_path, W_OK) < 0),
	};
	if (pg && !dd->config.postgres_url[0])
		return pp_err_set(err, PP_EINVAL, "%s: backend = postgres needs postgres_url",
				  dd->config_path);
	return 0;
}

/* The key file, completing a master-key rotation that a crash interrupted
 * (usecase/rotate.h). */
static int datadir_key_open(const struct pp_datadir *dd, const struct pp_store_config *sc,
			    struct pp_store **store, struct pp_err *err)
{
	bool finished = false;
	int rc = pp_uc_key_open(sc, dd->key_path, store, &finished, err);
	if (rc == 0 && finished)
		pp_note("completed an interrupted master-key rotation: '%s.new' is now '%s'",
			dd->key_path, dd->key_path);
	return rc;
}

int pp_datadir_open(struct pp_cli *cli, struct pp_datadir *dd, struct pp_store **store,
		    struct pp_err *err)
{
	int rc = pp_datadir_paths(cli, dd, err);
	if (rc < 0)
		return rc;
	struct stat st;
	if (stat(dd->dir, &st) < 0 || !S_ISDIR(st.st_mode))
		return pp_err_set(err, PP_ENOTFOUND,
				  "no data directory at '%s' (run 'pskprov init' first)", dd->dir);
	pp_config_defaults(&dd->config);
	rc = pp_config_load(&dd->config, dd->config_path, err);
	if (rc < 0)
		return rc;
	/* A process that holds the master key is not dumpable. */
	if ((rc = pp_harden_process(err)) < 0)
		return rc;
	struct pp_master_key mk;
	bool given = false; /* by systemd or the environment: no key file to finish */
	rc = key_from_service(&mk, &given, err);
	if (rc < 0)
		return rc;
	struct pp_store_config sc;
	rc = pp_datadir_store_config(dd, &sc, err);
	if (rc == 0)
		rc = given ? pp_store_open(&sc, &mk, store, err)
			   : datadir_key_open(dd, &sc, store, err);
	pp_wipe(&mk, sizeof(mk));
	return rc;
}

int pp_read_secret(const char *prompt, char *out, size_t cap, struct pp_err *err)
{
	bool tty = isatty(STDIN_FILENO);
	struct termios old, noecho;
	if (tty) {
		fputs(prompt, stderr);
		fflush(stderr);
		if (tcgetattr(STDIN_FILENO, &old) == 0) {
			noecho = old;
			noecho.c_lflag &= ~(tcflag_t)ECHO;
			tcsetattr(STDIN_FILENO, TCSAFLUSH, &noecho);
		} else {
			tty = false;
		}
	}
	size_t n = 0;
	int c;
	int rc = 0;
	while ((c = fgetc(stdin)) != EOF && c != '\n') {
		if (n + 1 >= cap) {
			rc = pp_err_set(err, PP_ETOOBIG, "input longer than %zu characters",
					cap - 1);
			/* Drain the rest of the line. */
			while ((c = fgetc(stdin)) != EOF && c != '\n')
				;
			break;
		}
		out[n++] = (char)c;
	}
	if (n && out[n - 1] == '\r')
		n--;
	out[n] = '\0';
	if (tty) {
		tcsetattr(STDIN_FILENO, TCSAFLUSH, &old);
		fputc('\n', stderr);
	}
	if (rc == 0 && c == EOF && n == 0)
		rc = pp_err_set(err, PP_EINVAL, "no input");
	if (rc < 0)
		pp_wipe(out, cap);
	return rc;
}

const char *pp_actor(void)
{
	static char actor[64];
	if (!actor[0]) {
		struct passwd *pw = getpwuid(getuid());
		snprintf(actor, sizeof(actor), "cli:%s", pw ? pw->pw_name : "unknown");
	}
	return actor;
}

void pp_pskc_prot_wipe(struct pp_pskc_prot *pp)
{
	pp_wipe(pp, sizeof(*pp));
}

static int pskc_pass_file(const char *path, char *pass, size_t cap, struct pp_err *err)
{
	struct pp_buf b;
	int rc = pp_file_check_private(path, err);
	if (rc < 0)
		return rc;
	pp_buf_init(&b, PP_PSKC_PASSPHRASE_MAX + 2);
	if ((rc = pp_file_read(path, PP_PSKC_PASSPHRASE_MAX + 2, &b, err)) == 0) {
		const uint8_t *nl = memchr(b.data, '\n', b.len);
		size_t n = nl ? (size_t)(nl - b.data) : b.len;
		if (n && b.data[n - 1] == '\r')
			n--;
		if (n == 0 || n > PP_PSKC_PASSPHRASE_MAX || n >= cap || memchr(b.data, 0, n))
			rc = pp_err_set(err, PP_EINVAL, "'%s': not a passphrase (1 to %u bytes)",
					path, PP_PSKC_PASSPHRASE_MAX);
		else {
			memcpy(pass, b.data, n);
			pass[n] = '\0';
		}
	}
	pp_buf_free_wipe(&b);
	return rc;
}

int pp_pskc_protection(const struct pp_pskc_opts *o, bool writing, struct pp_pskc_prot *pp,
		       struct pp_err *err)
{
	memset(pp, 0, sizeof(*pp));
	if (o->key_file) {
		size_t kl = 0;
		int rc = pp_pskc_transport_key_load(o->key_file, pp->key, &kl, err);
		if (rc < 0)
			return rc;
		pp->p.kind = PP_PSKC_TRANSPORT_KEY;
		pp->p.key = pp->key;
		pp->p.key_len = kl;
		pp->p.key_name = o->key_name ? o->key_name : writing ? "pskprov" : NULL;
		return 0;
	}
	pp->p.kind = PP_PSKC_PASSPHRASE;
	pp->p.passphrase = pp->pass;
	if (o->pass_file)
		return pskc_pass_file(o->pass_file, pp->pass, sizeof(pp->pass), err);
	int rc = pp_read_secret("PSKC passphrase: ", pp->pass, sizeof(pp->pass), err);
	if (rc == 0 && writing && isatty(STDIN_FILENO)) {
		char again[sizeof(pp->pass)];
		rc = pp_read_secret("again: ", again, sizeof(again), err);
		if (rc == 0 && !pp_ct_streq(again, pp->pass))
			rc = pp_err_set(err, PP_EINVAL, "the passphrases differ");
		pp_wipe(again, sizeof(again));
	}
	return rc;
}

void pp_cli_store_closep(struct pp_store **s)
{
	pp_store_close(*s);
}

int pp_datadir_lock(const char *dir, const char *who, const char *advice, int *fd,
		    struct pp_err *err)
{
	char path[4200];
	long holder = 0;
	if ((size_t)snprintf(path, sizeof(path), "%s/%s", dir, PP_LOCK_FILE) >= sizeof(path))
		return pp_err_set(err, PP_EINVAL, "data directory path too long");
	int rc = pp_lock_file(path, fd, &holder, err);
	if (rc != -PP_EEXIST)
		return rc;
	if (holder)
		return pp_err_set(err, PP_EEXIST,
				  "%s (pid %ld) runs on the data directory '%s'; %s", who, holder,
				  dir, advice);
	return pp_err_set(err, PP_EEXIST, "%s runs on the data directory '%s' (%s is locked); %s",
			  who, dir, path, advice);
}
