/* pskprov demo: the whole story on the embedded default (SQLite) in a temporary data
 * directory: init, a batch, the configuration server, a fleet of emulated devices given
 * their keys by the manufacturer path (CSV factory load), live progress, a summary.
 * Every step runs the real pskprov binary as a child process. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "prog/commands.h"
#include "core/clock.h"
#include "core/parse.h"
#include "core/fileio.h"
#include "core/secret.h"
#include "core/setupstate.h"
#include "keys/csv.h"
#include "store/store.h"
#include "tls/tls.h"

extern char **environ;

#define DEMO_MAX_DEVICES 20000u

struct demo {
	char tmp[64];
	char data[128];
	char self[4096];
	bool keep;
};

static int free_port(void)
{
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	struct sockaddr_in sin = {.sin_family = AF_INET};
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	socklen_t len = sizeof(sin);
	int port = -1;
	if (bind(fd, (struct sockaddr *)&sin, sizeof(sin)) == 0 &&
	    getsockname(fd, (struct sockaddr *)&sin, &len) == 0)
		port = ntohs(sin.sin_port);
	close(fd);
	return port;
}

/* Starts `pskprov -d DATA ARGS...` with stdout and stderr to files (or /dev/null). */
static pid_t spawn_self_in(struct demo *d, const char *const *args, const char *in_path,
			   const char *out_path, const char *err_path)
{
	const char *argv[32];
	size_t n = 0;
	argv[n++] = d->self;
	argv[n++] = "-d";
	argv[n++] = d->data;
	for (size_t i = 0; args[i] && n < 31; i++)
		argv[n++] = args[i];
	argv[n] = NULL;
	posix_spawn_file_actions_t fa;
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, STDIN_FILENO, in_path ? in_path : "/dev/null",
					 O_RDONLY, 0);
	posix_spawn_file_actions_addopen(&fa, STDOUT_FILENO, out_path ? out_path : "/dev/null",
					 O_WRONLY | O_CREAT | O_TRUNC, 0600);
	posix_spawn_file_actions_addopen(&fa, STDERR_FILENO, err_path ? err_path : "/dev/null",
					 O_WRONLY | O_CREAT | O_APPEND, 0600);
	pid_t pid = -1;
	int rc = posix_spawn(&pid, d->self, &fa, NULL, (char *const *)argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	return rc == 0 ? pid : -1;
}

static pid_t spawn_self(struct demo *d, const char *const *args, const char *out_path,
			const char *err_path)
{
	return spawn_self_in(d, args, NULL, out_path, err_path);
}

static int wait_child(pid_t pid)
{
	int st;
	while (waitpid(pid, &st, 0) < 0) {
		if (errno != EINTR)
			return -1;
	}
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + (WIFSIGNALED(st) ? WTERMSIG(st) : 0);
}

static int run_step(struct demo *d, const char *title, const char *const *args, const char *log)
{
	/* An empty title: a quiet step of the one before. */
	if (*title) {
		printf("  %-44s", title);
		fflush(stdout);
	}
	double t0 = pp_now_s();
	pid_t pid = spawn_self(d, args, NULL, log);
	int rc = pid < 0 ? -1 : wait_child(pid);
	if (*title || rc != 0)
		printf("%s (%.2f s)\n", rc == 0 ? "ok" : "FAILED", pp_now_s() - t0);
	if (rc != 0)
		return pp_fail("demo: '%s' failed; see %s", *title ? title : args[0], log);
	return 0;
}

/* ---- the other one-touch paths: console, USB, PSKC, host agent ---------------- */

enum { OT_CONSOLE, OT_USB, OT_PSKC, OT_AGENT, OT_N };
static const char *const ot_name[OT_N] = {"console (MEBx, scripted)", "USB setup.bin",
					  "PSKC factory load", "host agent"};

struct onetouch {
	char dir[OT_N][160];
	char addr[OT_N][48];
	pid_t pid[OT_N];
	bool started[OT_N];
};

static int first_row(void *ctx, const struct pp_key_record *row, unsigned line)
{
	(void)line;
	struct pp_key_record *out = ctx;
	if (out->pid.s[0])
		return 0;
	*out = *row;
	return 0;
}

/* Types the key into the device's console from a script file (0600, removed after). */
static int console_load(struct demo *d, const char *csv, const char *dir, uint16_t hello_port,
			const char *log)
{
	struct pp_buf text, script;
	struct pp_err err = {0};
	struct pp_key_record row;
	char path[200];
	memset(&row, 0, sizeof(row));
	pp_buf_init(&text, 1 << 20);
	pp_buf_init(&script, 4096);
	snprintf(path, sizeof(path), "%s/console.in", d->tmp);
	int rc = pp_file_read(csv, 1 << 20, &text, &err);
	if (rc == 0)
		rc = pp_csv_parse((const char *)text.data, text.len, first_row, &row, &err);
	if (rc == 0 && !row.pid.s[0])
		rc = -PP_ENOTFOUND;
	/* Log in with the factory password, set the key's MEBx password, enter the key,
	 * point the device at the server, leave. */
	if (rc == 0)
		rc = pp_buf_printf(&script, "admin\n%s\n%s\n1\n%s\n%s\n2\n127.0.0.1\n%u\n5\n",
				   row.mebx, row.mebx, row.pid.s, row.pps.s, hello_port);
	if (rc == 0)
		rc = pp_file_create(path, script.data, script.len, 0600, &err);
	pp_wipe(&row, sizeof(row));
	pp_buf_free_wipe(&text);
	pp_buf_free_wipe(&script);
	if (rc < 0)
		return rc;
	const char *args[] = {"device", "mebx", "--state", dir, "--create", NULL};
	pid_t p = spawn_self_in(d, args, path, NULL, log);
	rc = p < 0 ? -1 : wait_child(p);
	unlink(path);
	return rc == 0 ? 0 : -PP_EIO;
}

static bool wait_file(const char *path, int tenths)
{
	struct stat st;
	for (int i = 0; i < tenths; i++) {
		if (stat(path, &st) == 0)
			return true;
		pp_sleep_ms(100);
	}
	return false;
}

/* Starts the four devices (the USB one boots with its setup.bin), then the host agent
 * reports the agent's device to the server. */
static int onetouch_run(struct demo *d, struct onetouch *ot, const char *usb, const char *url,
			const char *profile, const char *log)
{
	for (int i = 0; i < OT_N; i++) {
		const char *r_usb[] = {
		    "device",    "run",       "--state", ot->dir[i],     "--address",
		    ot->addr[i], "--profile", profile,   "--time-scale", "0.01",
		    "--usb",     usb,         NULL};
		if (i != OT_USB)
			r_usb[10] = NULL;
		ot->pid[i] = spawn_self(d, r_usb, NULL, log);
		ot->started[i] = ot->pid[i] > 0;
		if (!ot->started[i])
			return pp_fail("demo: cannot start the %s device", ot_name[i]);
	}
	char sock[200];
	snprintf(sock, sizeof(sock), "%s/pthi.sock", ot->dir[OT_AGENT]);
	if (!wait_file(sock, 50))
		return pp_fail("demo: the agent's device did not open %s", sock);
	char tok[200];
	snprintf(tok, sizeof(tok), "%s/agent.token", d->tmp);
	const char *a4[] = {"agent",     "--device-socket",  sock,           "--server", url,
			    "--address", ot->addr[OT_AGENT], "--token-file", tok,        NULL};
	if (run_step(d, "agent: report the device, start setup", a4, log))
		return -1;
	return 0;
}

/* Gives four devices their keys by the other one-touch paths and starts them. */
static int onetouch_start(struct demo *d, struct onetouch *ot, const char *net, const char *hello,
			  uint16_t hello_port, const char *api, const char *profile,
			  const char *log)
{
	char csv_console[200], csv_agent[200], usb[200], pskc[200], tk[200], url[64];
	snprintf(csv_console, sizeof(csv_console), "%s/console.csv", d->tmp);
	snprintf(csv_agent, sizeof(csv_agent), "%s/agent.csv", d->tmp);
	snprintf(usb, sizeof(usb), "%s/setup.bin", d->tmp);
	snprintf(pskc, sizeof(pskc), "%s/factory.pskc", d->tmp);
	snprintf(tk, sizeof(tk), "%s/transport.key", d->tmp);
	snprintf(url, sizeof(url), "http://%s", api);
	for (int i = 0; i < OT_N; i++) {
		snprintf(ot->dir[i], sizeof(ot->dir[i]), "%s/device-%d", d->tmp, i);
		snprintf(ot->addr[i], sizeof(ot->addr[i]), "%s.%d", net, i + 1);
	}
	const char *g1[] = {"keys", "generate", "--count", "1", "--batch", "console", NULL};
	const char *g2[] = {"keys", "generate", "--count", "1", "--batch", "usb", NULL};
	const char *g3[] = {"keys", "generate", "--count", "1", "--batch", "pskc", NULL};
	const char *g4[] = {"keys", "generate", "--count", "1", "--batch", "agent", NULL};
	const char *e1[] = {"keys", "export", "--batch",   "console", "--format",
			    "csv",  "--out",  csv_console, NULL};
	const char *u1[] = {"usb", "create",   "--batch", "usb",        "--out",
			    usb,   "--server", hello,     "--scramble", NULL};
	const char *t1[] = {"keys", "transport-key", "--out", tk, NULL};
	const char *p1[] = {"keys", "export",          "--batch", "pskc",  "--format",
			    "pskc", "--transport-key", tk,        "--out", pskc,
			    NULL};
	const char *e4[] = {"keys", "export", "--batch", "agent", "--format",
			    "csv",  "--out",  csv_agent, NULL};
	if (run_step(d, "keys for the other paths (4 batches)", g1, log) ||
	    run_step(d, "", g2, log) || run_step(d, "", g3, log) || run_step(d, "", g4, log))
		return -1;
	/* console */
	if (run_step(d, "export for the console (CSV)", e1, log))
		return -1;
	printf("  %-44s", "console: key typed at the MEBx");
	fflush(stdout);
	if (console_load(d, csv_console, ot->dir[OT_CONSOLE], hello_port, log) < 0) {
		printf("FAILED\n");
		return pp_fail("demo: the console session failed; see %s", log);
	}
	printf("ok\n");
	/* USB */
	const char *c2[] = {"device", "create", "--state", ot->dir[OT_USB], NULL};
	if (run_step(d, "usb create (setup.bin, 1 record)", u1, log) ||
	    run_step(d, "USB: a factory-new device", c2, log))
		return -1;
	/* PSKC */
	const char *f3[] = {"device", "factory-load",    "--state", ot->dir[OT_PSKC], "--pskc",
			    pskc,     "--transport-key", tk,        "--server",       hello,
			    NULL};
	if (run_step(d, "keys transport-key", t1, log) ||
	    run_step(d, "keys export (PSKC, RFC 6030)", p1, log) ||
	    run_step(d, "PSKC: device factory-load", f3, log))
		return -1;
	/* agent: loaded at the factory without a server address, so it sends no hello */
	const char *f4[] = {"device", "factory-load", "--state", ot->dir[OT_AGENT],
			    "--csv",  csv_agent,      NULL};
	if (run_step(d, "export for the agent's device (CSV)", e4, log) ||
	    run_step(d, "agent: device factory-load, no server", f4, log))
		return -1;
	return onetouch_run(d, ot, usb, url, profile, log);
}

static void onetouch_stop(struct demo *d, struct onetouch *ot, bool report, int *ok_count)
{
	*ok_count = 0;
	for (int i = 0; i < OT_N; i++) {
		if (!ot->started[i])
			continue;
		kill(ot->pid[i], SIGTERM);
		wait_child(ot->pid[i]);
		char out[200];
		snprintf(out, sizeof(out), "%s/show-%d.json", d->tmp, i);
		const char *sh[] = {"device", "show", "--state", ot->dir[i], "--json", NULL};
		pid_t p = spawn_self(d, sh, out, NULL);
		const char *state = "?";
		json_t *j = NULL;
		if (p > 0 && wait_child(p) == 0 && (j = json_load_file(out, 0, NULL)) &&
		    json_is_string(json_object_get(j, "state")))
			state = json_string_value(json_object_get(j, "state"));
		bool ok = !strcmp(state, PP_SETUP_STATE_POST_NAME);
		*ok_count += ok;
		if (report)
			printf("  %-28s %s\n", ot_name[i], ok ? "provisioned" : state);
		json_decref(j);
	}
}

/* Paths, ports and addresses of one demo run. */
struct demo_run {
	uint32_t n;
	const char *profile;
	char log[128], slog[128], flog[128], fout[128], csv[128], count[16], tok[128];
	int hello_port, api_port;
	char hello[32], api[32], base[32], net[32];
	uint64_t total;
	pid_t srv, fleet;
	double t0;
};

/* -1 to go on; otherwise the exit code (help, or a usage error already reported). */
static int parse_demo_opts(int argc, char **argv, struct demo *d, struct demo_run *r)
{
	static const struct option opts[] = {{"devices", required_argument, NULL, 'n'},
					     {"profile", required_argument, NULL, 't'},
					     {"keep", no_argument, NULL, 'k'},
					     {"help", no_argument, NULL, 'h'},
					     {NULL, 0, NULL, 0}};
	struct pp_err err = {0};
	int c;
	r->n = 100;
	r->profile = PP_TLS_PROFILE_DEFAULT_NAME;
	while ((c = pp_getopt(argc, argv, "n:t:kh", opts)) != -1) {
		switch (c) {
		case 'n':
			if (pp_parse_u32(optarg, 1, DEMO_MAX_DEVICES, &r->n, "--devices", &err) < 0)
				return pp_usage_error("demo", "%s", err.msg);
			break;
		case 't':
			if (pp_tls_profile_parse(optarg, &(enum pp_tls_profile){0}, &err) < 0)
				return pp_usage_error("demo", "--profile: %s", err.msg);
			r->profile = optarg;
			break;
		case 'k':
			d->keep = true;
			break;
		case 'h':
			printf("usage: pskprov demo [--devices N] [--profile P] [--keep]\n\n"
			       "Runs the whole story in a temporary data directory: init, a "
			       "batch, the\nserver, a fleet of N emulated devices (default 100) "
			       "on loopback addresses,\nlive progress and a summary. Exit 0 only "
			       "when every device is provisioned.\n--keep leaves the directory "
			       "(logs, database) in place.\n");
			return PP_EXIT_OK;
		default:
			return PP_EXIT_USAGE;
		}
	}
	if (optind != argc)
		return pp_usage_error("demo", "unexpected argument '%.40s'", argv[optind]);
	return -1;
}

/* The temporary directory, the files in it, free ports and a /16 of loopback. */
static int demo_prepare(struct demo *d, struct demo_run *r)
{
	/* The demo's data directory has a key file of its own: a PSKPROV_MASTER_KEY from
	 * the caller is taken out of the environment, so no child inherits it. */
	if (pp_master_key_env_drop())
		pp_note("PSKPROV_MASTER_KEY is not used (nor passed on): the demo's data "
			"directory has its own key file");
	ssize_t sl = readlink("/proc/self/exe", d->self, sizeof(d->self) - 1);
	if (sl <= 0)
		return pp_fail("demo: cannot find my own binary");
	d->self[sl] = '\0';
	snprintf(d->tmp, sizeof(d->tmp), "/tmp/pskprov-demo.XXXXXX");
	if (!mkdtemp(d->tmp))
		return pp_fail("demo: cannot make a temporary directory: %s", strerror(errno));
	snprintf(d->data, sizeof(d->data), "%s/data", d->tmp);
	snprintf(r->log, sizeof(r->log), "%s/steps.log", d->tmp);
	snprintf(r->slog, sizeof(r->slog), "%s/server.log", d->tmp);
	snprintf(r->flog, sizeof(r->flog), "%s/fleet.log", d->tmp);
	snprintf(r->fout, sizeof(r->fout), "%s/fleet.json", d->tmp);
	snprintf(r->csv, sizeof(r->csv), "%s/factory.csv", d->tmp);
	snprintf(r->count, sizeof(r->count), "%u", r->n);
	snprintf(r->tok, sizeof(r->tok), "%s/agent.token", d->tmp);
	r->hello_port = free_port();
	r->api_port = free_port();
	uint8_t rnd[2];
	if (r->hello_port < 0 || r->api_port < 0 || pp_random(rnd, 2) < 0)
		return pp_fail("demo: no free loopback port");
	snprintf(r->hello, sizeof(r->hello), "127.0.0.1:%d", r->hello_port);
	snprintf(r->api, sizeof(r->api), "127.0.0.1:%d", r->api_port);
	/* A /16 of loopback addresses of its own, so demos and tests do not collide. */
	snprintf(r->base, sizeof(r->base), "127.%u.%u.1", 100 + rnd[0] % 100, rnd[1] % 128);
	snprintf(r->net, sizeof(r->net), "127.%u.250", 100 + rnd[0] % 100);
	r->total = (uint64_t)r->n + OT_N;
	return 0;
}

static bool port_answers(int port)
{
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	bool up = fd >= 0 && connect(fd, (struct sockaddr *)&sin, sizeof(sin)) == 0;
	if (fd >= 0)
		close(fd);
	return up;
}

static void stop_child(pid_t pid)
{
	kill(pid, SIGTERM);
	wait_child(pid);
}

/* init, a batch, its CSV, the agent's token, then the server until its API answers. */
static int demo_start_server(struct demo *d, struct demo_run *r)
{
	const char *a_init[] = {"init", NULL};
	const char *a_gen[] = {"keys", "generate", "--count", r->count, "--batch", "demo", NULL};
	const char *a_exp[] = {"keys", "export", "--batch", "demo", "--format",
			       "csv",  "--out",  r->csv,    NULL};
	/* The host agent's API token: made before the server starts, which reads it. */
	const char *a_tok[] = {"token",      "create", "--role", "agent", "--name",
			       "demo-agent", "--out",  r->tok,   NULL};
	if (run_step(d, "init (config, master key, database)", a_init, r->log) ||
	    run_step(d, "keys generate (one batch)", a_gen, r->log) ||
	    run_step(d, "keys export (manufacturer CSV, 0600)", a_exp, r->log) ||
	    run_step(d, "token create (agent role, file 0600)", a_tok, r->log))
		return -1;
	const char *a_srv[] = {"server", "--hello",   r->hello,   "--api",
			       r->api,   "--profile", r->profile, NULL};
	r->srv = spawn_self(d, a_srv, NULL, r->slog);
	if (r->srv < 0)
		return pp_fail("demo: cannot start the server");
	bool up = false;
	for (int i = 0; i < 100 && !(up = port_answers(r->api_port)); i++)
		pp_sleep_ms(50);
	if (!up) {
		stop_child(r->srv);
		return pp_fail("demo: the server did not start; see %s", r->slog);
	}
	printf("  %-44sok (hellos %s, API %s)\n", "server started", r->hello, r->api);
	return 0;
}

static void progress_line(bool tty, uint64_t done, uint64_t total, uint64_t bad, double el)
{
	if (!tty) {
		printf("  provisioned %llu/%llu, failed %llu, %.1f s\n", (unsigned long long)done,
		       (unsigned long long)total, (unsigned long long)bad, el);
		fflush(stdout);
		return;
	}
	int width = 30, filled = (int)(done * (uint64_t)width / total);
	char bar[32];
	for (int i = 0; i < width; i++)
		bar[i] = i < filled ? '#' : '.';
	bar[width] = '\0';
	printf("\r  provisioning [%s] %llu/%llu  failed %llu  %.1f s   ", bar,
	       (unsigned long long)done, (unsigned long long)total, (unsigned long long)bad, el);
	fflush(stdout);
}

/* Live progress from the store until the fleet exits and every device is done (the
 * single devices get a minute more at most). Returns the fleet's exit code; *done_at
 * gets the time to the last device (0 when not all were). */
static int demo_progress(struct demo_run *r, struct pp_store *store, double *done_at)
{
	struct pp_store_counts k;
	struct pp_err err = {0};
	int fleet_rc = -1;
	double fleet_done_at = 0, last_line = 0;
	bool tty = isatty(STDOUT_FILENO);
	uint64_t last_done = UINT64_MAX;
	*done_at = 0;
	for (;;) {
		int st;
		pid_t w = waitpid(r->fleet, &st, WNOHANG);
		if (store && pp_store_counts(store, &k, &err) == 0) {
			uint64_t done = k.devices_by_state[PP_DEV_PROVISIONED];
			double el = pp_now_s() - r->t0;
			if (done >= r->total && !*done_at)
				*done_at = el;
			/* Not a terminal: a line a second at most, when it changes. */
			if (tty || (done != last_done && el - last_line >= 1.0)) {
				progress_line(tty, done, r->total,
					      k.devices_by_state[PP_DEV_FAILED], el);
				last_done = done;
				last_line = el;
			}
		}
		if (w == r->fleet)
			fleet_rc = WIFEXITED(st) ? WEXITSTATUS(st) : 128;
		if (fleet_rc >= 0 && *done_at)
			break;
		if (fleet_rc >= 0 && fleet_done_at == 0)
			fleet_done_at = pp_now_s();
		if (fleet_rc >= 0 && pp_now_s() - fleet_done_at > 60.0)
			break;
		pp_sleep_ms(100);
	}
	printf(tty ? "\n\n" : "\n");
	return fleet_rc;
}

/* The summary from the store; true when everything was provisioned and the audit log
 * holds. */
static bool demo_summary(struct demo *d, struct demo_run *r, struct pp_store *store, int fleet_rc,
			 int ot_ok, double elapsed)
{
	struct pp_store_counts k;
	struct pp_err err = {0};
	uint64_t prov = 0, failed = 0, audit_n = 0;
	memset(&k, 0, sizeof(k));
	if (store && pp_store_counts(store, &k, &err) == 0) {
		prov = k.devices_by_state[PP_DEV_PROVISIONED];
		failed = k.devices_by_state[PP_DEV_FAILED];
	}
	int arc = store ? pp_store_audit_verify(store, &audit_n, &err) : -1;
	printf("summary\n");
	printf("  devices        %llu (%u in the fleet, %d by the other paths)\n",
	       (unsigned long long)r->total, r->n, OT_N);
	printf("  provisioned    %llu\n", (unsigned long long)prov);
	printf("  failed         %llu\n", (unsigned long long)failed);
	printf("  elapsed        %.2f s (fleet start to the last device provisioned)\n", elapsed);
	printf("  rate           %.0f devices/s\n", elapsed > 0 ? (double)prov / elapsed : 0.0);
	printf("  keys consumed  %llu (each replaced by a rotated key on its device)\n",
	       (unsigned long long)k.keys_by_state[PP_KEY_CONSUMED]);
	printf("  audit log      %s (%llu entries)\n", arc == 0 ? "intact" : "BROKEN",
	       (unsigned long long)audit_n);
	bool ok = prov == r->total && fleet_rc == 0 && arc == 0 && ot_ok == OT_N;
	printf("  logs           %s\n", d->keep || !ok ? d->tmp : "(removed)");
	if (!ok)
		pp_fail("demo: %llu of %llu devices provisioned (fleet exit %d); logs in %s",
			(unsigned long long)prov, (unsigned long long)r->total, fleet_rc, d->tmp);
	return ok;
}

static void remove_tree(const char *dir)
{
	const char *rm[] = {"/bin/rm", "-rf", dir, NULL};
	pid_t p;
	if (posix_spawn(&p, "/bin/rm", NULL, NULL, (char *const *)rm, environ) == 0)
		wait_child(p);
}

static int demo_fleet_start(struct demo *d, struct demo_run *r)
{
	const char *a_fleet[] = {"fleet",    "--count",      r->count, "--csv",  r->csv,
				 "--server", r->hello,       "--base", r->base,  "--profile",
				 r->profile, "--time-scale", "0.01",   "--json", NULL};
	r->t0 = pp_now_s();
	r->fleet = spawn_self(d, a_fleet, r->fout, r->flog);
	if (r->fleet < 0)
		return pp_fail("demo: cannot start the fleet");
	printf("  %-44sok (%u devices from %s, keys from the CSV)\n\n", "fleet started", r->n,
	       r->base);
	return 0;
}

int cmd_demo(struct pp_cli *cli, int argc, char **argv)
{
	(void)cli;
	struct demo d;
	struct demo_run r;
	struct onetouch ot;
	memset(&d, 0, sizeof(d));
	memset(&r, 0, sizeof(r));
	memset(&ot, 0, sizeof(ot));
	int rc = parse_demo_opts(argc, argv, &d, &r);
	if (rc >= 0)
		return rc;
	if (demo_prepare(&d, &r) < 0)
		return PP_EXIT_FAIL;
	printf("pskprov demo: %u devices, profile %s, directory %s\n\n", r.n, r.profile, d.tmp);
	if (demo_start_server(&d, &r) < 0)
		return PP_EXIT_FAIL;
	int ot_ok = 0;
	if (onetouch_start(&d, &ot, r.net, r.hello, (uint16_t)r.hello_port, r.api, r.profile,
			   r.log) < 0 ||
	    demo_fleet_start(&d, &r) < 0) {
		onetouch_stop(&d, &ot, false, &ot_ok);
		stop_child(r.srv);
		return PP_EXIT_FAIL;
	}
	struct pp_datadir dd;
	struct pp_store *store = NULL;
	struct pp_cli sub = {.datadir = d.data};
	struct pp_err err = {0};
	if (pp_datadir_open(&sub, &dd, &store, &err) < 0)
		store = NULL;
	double done_at;
	int fleet_rc = demo_progress(&r, store, &done_at);
	double elapsed = done_at ? done_at : pp_now_s() - r.t0;
	printf("one-touch paths\n");
	printf("  %-28s %u of %u provisioned\n", "manufacturer CSV (fleet)",
	       fleet_rc == 0 ? r.n : 0, r.n);
	onetouch_stop(&d, &ot, true, &ot_ok);
	printf("\n");
	stop_child(r.srv);
	bool ok = demo_summary(&d, &r, store, fleet_rc, ot_ok, elapsed);
	pp_store_close(store);
	if (!ok)
		return PP_EXIT_FAIL;
	if (!d.keep)
		remove_tree(d.tmp);
	printf("\ndemo: every device provisioned\n");
	return PP_EXIT_OK;
}
