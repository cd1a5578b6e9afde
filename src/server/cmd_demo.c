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

#include "cli/commands.h"
#include "core/parse.h"
#include "core/fileio.h"
#include "core/secret.h"
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
	double t0 = pp_now();
	pid_t pid = spawn_self(d, args, NULL, log);
	int rc = pid < 0 ? -1 : wait_child(pid);
	if (*title || rc != 0)
		printf("%s (%.2f s)\n", rc == 0 ? "ok" : "FAILED", pp_now() - t0);
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

static int first_row(void *ctx, const struct pp_csv_row *row, unsigned line)
{
	(void)line;
	struct pp_csv_row *out = ctx;
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
	struct pp_csv_row row;
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
		usleep(100000);
	}
	return false;
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
	/* The server's api.token (admin role: it may send hellos as an agent does). */
	char token[4200];
	snprintf(token, sizeof(token), "%s/api.token", d->data);
	const char *a4[] = {"agent",     "--device-socket",  sock,           "--server", url,
			    "--address", ot->addr[OT_AGENT], "--token-file", token,      NULL};
	if (run_step(d, "agent: report the device, start setup", a4, log))
		return -1;
	return 0;
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
		bool ok = !strcmp(state, "Post-Setup");
		*ok_count += ok;
		if (report)
			printf("  %-28s %s\n", ot_name[i], ok ? "provisioned" : state);
		json_decref(j);
	}
}

int cmd_demo(struct pp_cli *cli, int argc, char **argv)
{
	(void)cli;
	static const struct option opts[] = {{"devices", required_argument, NULL, 'n'},
					     {"profile", required_argument, NULL, 't'},
					     {"keep", no_argument, NULL, 'k'},
					     {"help", no_argument, NULL, 'h'},
					     {NULL, 0, NULL, 0}};
	uint32_t n = 100;
	const char *profile = PP_TLS_PROFILE_DEFAULT_NAME;
	struct demo d;
	memset(&d, 0, sizeof(d));
	struct pp_err err = {0};
	int c;
	while ((c = getopt_long(argc, argv, "n:t:kh", opts, NULL)) != -1) {
		switch (c) {
		case 'n':
			if (pp_parse_u32(optarg, 1, DEMO_MAX_DEVICES, &n, "--devices", &err) < 0)
				return pp_usage_error("demo", "%s", err.msg);
			break;
		case 't':
			if (pp_tls_profile_parse(optarg, &(enum pp_tls_profile){0}, &err) < 0)
				return pp_usage_error("demo", "--profile: %s", err.msg);
			profile = optarg;
			break;
		case 'k':
			d.keep = true;
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

	ssize_t sl = readlink("/proc/self/exe", d.self, sizeof(d.self) - 1);
	if (sl <= 0)
		return pp_fail("demo: cannot find my own binary");
	d.self[sl] = '\0';
	snprintf(d.tmp, sizeof(d.tmp), "/tmp/pskprov-demo.XXXXXX");
	if (!mkdtemp(d.tmp))
		return pp_fail("demo: cannot make a temporary directory: %s", strerror(errno));
	snprintf(d.data, sizeof(d.data), "%s/data", d.tmp);
	char log[128], slog[128], flog[128], fout[128], csv[128], count[16];
	snprintf(log, sizeof(log), "%s/steps.log", d.tmp);
	snprintf(slog, sizeof(slog), "%s/server.log", d.tmp);
	snprintf(flog, sizeof(flog), "%s/fleet.log", d.tmp);
	snprintf(fout, sizeof(fout), "%s/fleet.json", d.tmp);
	snprintf(csv, sizeof(csv), "%s/factory.csv", d.tmp);
	snprintf(count, sizeof(count), "%u", n);

	int hello_port = free_port(), api_port = free_port();
	uint8_t rnd[2];
	if (hello_port < 0 || api_port < 0 || pp_random(rnd, 2) < 0)
		return pp_fail("demo: no free loopback port");
	char hello[32], api[32], base[32];
	snprintf(hello, sizeof(hello), "127.0.0.1:%d", hello_port);
	snprintf(api, sizeof(api), "127.0.0.1:%d", api_port);
	/* A /16 of loopback addresses of its own, so demos and tests do not collide. */
	snprintf(base, sizeof(base), "127.%u.%u.1", 100 + rnd[0] % 100, rnd[1] % 128);

	printf("pskprov demo: %u devices, profile %s, directory %s\n\n", n, profile, d.tmp);
	const char *a_init[] = {"init", NULL};
	const char *a_gen[] = {"keys", "generate", "--count", count, "--batch", "demo", NULL};
	const char *a_exp[] = {"keys", "export", "--batch", "demo", "--format",
			       "csv",  "--out",  csv,       NULL};
	if (run_step(&d, "init (config, master key, database)", a_init, log) ||
	    run_step(&d, "keys generate (one batch)", a_gen, log) ||
	    run_step(&d, "keys export (manufacturer CSV, 0600)", a_exp, log))
		return PP_EXIT_FAIL;

	const char *a_srv[] = {"server", "--hello",   hello,   "--api",
			       api,      "--profile", profile, NULL};
	pid_t srv = spawn_self(&d, a_srv, NULL, slog);
	if (srv < 0)
		return pp_fail("demo: cannot start the server");
	/* Wait until the hello port answers. */
	bool up = false;
	for (int i = 0; i < 100 && !up; i++) {
		int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
		struct sockaddr_in sin = {.sin_family = AF_INET,
					  .sin_port = htons((uint16_t)api_port)};
		sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		up = fd >= 0 && connect(fd, (struct sockaddr *)&sin, sizeof(sin)) == 0;
		if (fd >= 0)
			close(fd);
		if (!up)
			usleep(50000);
	}
	if (!up) {
		kill(srv, SIGTERM);
		wait_child(srv);
		return pp_fail("demo: the server did not start; see %s", slog);
	}
	printf("  %-44sok (hellos %s, API %s)\n", "server started", hello, api);

	struct onetouch ot;
	memset(&ot, 0, sizeof(ot));
	char net[32];
	snprintf(net, sizeof(net), "127.%u.250", 100 + rnd[0] % 100);
	if (onetouch_start(&d, &ot, net, hello, (uint16_t)hello_port, api, profile, log) < 0) {
		int unused;
		onetouch_stop(&d, &ot, false, &unused);
		kill(srv, SIGTERM);
		wait_child(srv);
		return PP_EXIT_FAIL;
	}
	const uint64_t total = (uint64_t)n + OT_N;

	const char *a_fleet[] = {"fleet",    "--count",      count,    "--csv",  csv,
				 "--server", hello,          "--base", base,     "--profile",
				 profile,    "--time-scale", "0.01",   "--json", NULL};
	double t0 = pp_now();
	pid_t fl = spawn_self(&d, a_fleet, fout, flog);
	if (fl < 0) {
		kill(srv, SIGTERM);
		wait_child(srv);
		return pp_fail("demo: cannot start the fleet");
	}
	printf("  %-44sok (%u devices from %s, keys from the CSV)\n\n", "fleet started", n, base);

	/* Live progress from the store, until the fleet exits. */
	struct pp_datadir dd;
	struct pp_store *store = NULL;
	struct pp_cli sub = {.datadir = d.data};
	int rc = pp_datadir_open(&sub, &dd, &store, &err);
	struct pp_store_counts k;
	memset(&k, 0, sizeof(k));
	int fleet_rc = -1;
	double fleet_done_at = 0;
	bool tty = isatty(STDOUT_FILENO);
	double done_at = 0, last_line = 0;
	uint64_t last_done = UINT64_MAX;
	for (;;) {
		int st;
		pid_t w = waitpid(fl, &st, WNOHANG);
		if (rc == 0 && pp_store_counts(store, &k, &err) == 0) {
			uint64_t done = k.devices_by_state[PP_DEV_PROVISIONED];
			uint64_t bad = k.devices_by_state[PP_DEV_FAILED];
			double el = pp_now() - t0;
			if (done >= total && !done_at)
				done_at = el;
			if (tty) {
				int width = 30, filled = (int)(done * (uint64_t)width / total);
				char bar[32];
				for (int i = 0; i < width; i++)
					bar[i] = i < filled ? '#' : '.';
				bar[width] = '\0';
				printf("\r  provisioning [%s] %llu/%llu  failed %llu  %.1f s   ",
				       bar, (unsigned long long)done, (unsigned long long)total,
				       (unsigned long long)bad, el);
				fflush(stdout);
			} else if (done != last_done && el - last_line >= 1.0) {
				/* Not a terminal: a line a second at most, when it changes. */
				printf("  provisioned %llu/%llu, failed %llu, %.1f s\n",
				       (unsigned long long)done, (unsigned long long)total,
				       (unsigned long long)bad, el);
				fflush(stdout);
				last_done = done;
				last_line = el;
			}
		}
		if (w == fl)
			fleet_rc = WIFEXITED(st) ? WEXITSTATUS(st) : 128;
		/* The fleet is done; the single devices get a minute more at most. */
		if (fleet_rc >= 0 && done_at)
			break;
		if (fleet_rc >= 0 && fleet_done_at == 0)
			fleet_done_at = pp_now();
		if (fleet_rc >= 0 && pp_now() - fleet_done_at > 60.0)
			break;
		usleep(100000);
	}
	double elapsed = done_at ? done_at : pp_now() - t0;
	printf(tty ? "\n\n" : "\n");
	printf("one-touch paths\n");
	printf("  %-28s %u of %u provisioned\n", "manufacturer CSV (fleet)", fleet_rc == 0 ? n : 0,
	       n);
	int ot_ok = 0;
	onetouch_stop(&d, &ot, true, &ot_ok);
	printf("\n");
	kill(srv, SIGTERM);
	wait_child(srv);
	uint64_t prov = 0, failed = 0;
	if (rc == 0 && pp_store_counts(store, &k, &err) == 0) {
		prov = k.devices_by_state[PP_DEV_PROVISIONED];
		failed = k.devices_by_state[PP_DEV_FAILED];
	}
	uint64_t audit_n = 0;
	int arc = rc == 0 ? pp_store_audit_verify(store, &audit_n, &err) : -1;
	pp_store_close(store);

	printf("summary\n");
	printf("  devices        %llu (%u in the fleet, %d by the other paths)\n",
	       (unsigned long long)total, n, OT_N);
	printf("  provisioned    %llu\n", (unsigned long long)prov);
	printf("  failed         %llu\n", (unsigned long long)failed);
	printf("  elapsed        %.2f s (fleet start to the last device provisioned)\n", elapsed);
	printf("  rate           %.0f devices/s\n", elapsed > 0 ? (double)prov / elapsed : 0.0);
	printf("  keys consumed  %llu (each replaced by a rotated key on its device)\n",
	       (unsigned long long)k.keys_by_state[PP_KEY_CONSUMED]);
	printf("  audit log      %s (%llu entries)\n", arc == 0 ? "intact" : "BROKEN",
	       (unsigned long long)audit_n);
	bool ok = prov == total && fleet_rc == 0 && arc == 0 && ot_ok == OT_N;
	printf("  logs           %s\n", d.keep || !ok ? d.tmp : "(removed)");
	if (!d.keep && ok) {
		const char *rm[] = {"/bin/rm", "-rf", d.tmp, NULL};
		pid_t p;
		if (posix_spawn(&p, "/bin/rm", NULL, NULL, (char *const *)rm, environ) == 0)
			wait_child(p);
	}
	if (!ok)
		return pp_fail("demo: %llu of %llu devices provisioned (fleet exit %d); logs in %s",
			       (unsigned long long)prov, (unsigned long long)total, fleet_rc,
			       d.tmp);
	printf("\ndemo: every device provisioned\n");
	return PP_EXIT_OK;
}
