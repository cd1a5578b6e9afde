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
#include "core/secret.h"
#include "store/store.h"

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
static pid_t spawn_self(struct demo *d, const char *const *args, const char *out_path,
			const char *err_path)
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
	posix_spawn_file_actions_addopen(&fa, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
	posix_spawn_file_actions_addopen(&fa, STDOUT_FILENO, out_path ? out_path : "/dev/null",
					 O_WRONLY | O_CREAT | O_TRUNC, 0600);
	posix_spawn_file_actions_addopen(&fa, STDERR_FILENO, err_path ? err_path : "/dev/null",
					 O_WRONLY | O_CREAT | O_APPEND, 0600);
	pid_t pid = -1;
	int rc = posix_spawn(&pid, d->self, &fa, NULL, (char *const *)argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	return rc == 0 ? pid : -1;
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
	printf("  %-44s", title);
	fflush(stdout);
	double t0 = pp_now();
	pid_t pid = spawn_self(d, args, NULL, log);
	int rc = pid < 0 ? -1 : wait_child(pid);
	printf("%s (%.2f s)\n", rc == 0 ? "ok" : "FAILED", pp_now() - t0);
	if (rc != 0)
		return pp_fail("demo: '%s' failed; see %s", title, log);
	return 0;
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
	const char *profile = "tls12";
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
			if (strcmp(optarg, "amt-legacy") && strcmp(optarg, "tls12") &&
			    strcmp(optarg, "tls13"))
				return pp_usage_error("demo",
						      "--profile: '%.20s' is not "
						      "amt-legacy, tls12 or tls13",
						      optarg);
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
	printf("  %-44sok (%u devices from %s)\n\n", "fleet started", n, base);

	/* Live progress from the store, until the fleet exits. */
	struct pp_datadir dd;
	struct pp_store *store = NULL;
	struct pp_cli sub = {.datadir = d.data};
	int rc = pp_datadir_open(&sub, &dd, &store, &err);
	struct pp_store_counts k;
	memset(&k, 0, sizeof(k));
	int fleet_rc = -1;
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
			if (done >= n && !done_at)
				done_at = el;
			if (tty) {
				int width = 30, filled = (int)(done * (uint64_t)width / n);
				char bar[32];
				for (int i = 0; i < width; i++)
					bar[i] = i < filled ? '#' : '.';
				bar[width] = '\0';
				printf("\r  provisioning [%s] %llu/%u  failed %llu  %.1f s   ", bar,
				       (unsigned long long)done, n, (unsigned long long)bad, el);
				fflush(stdout);
			} else if (done != last_done && el - last_line >= 1.0) {
				/* Not a terminal: a line a second at most, when it changes. */
				printf("  provisioned %llu/%u, failed %llu, %.1f s\n",
				       (unsigned long long)done, n, (unsigned long long)bad, el);
				fflush(stdout);
				last_done = done;
				last_line = el;
			}
		}
		if (w == fl) {
			fleet_rc = WIFEXITED(st) ? WEXITSTATUS(st) : 128;
			break;
		}
		usleep(100000);
	}
	double elapsed = done_at ? done_at : pp_now() - t0;
	printf(tty ? "\n\n" : "\n");
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
	printf("  devices        %u\n", n);
	printf("  provisioned    %llu\n", (unsigned long long)prov);
	printf("  failed         %llu\n", (unsigned long long)failed);
	printf("  elapsed        %.2f s (fleet start to the last device provisioned)\n", elapsed);
	printf("  rate           %.0f devices/s\n", elapsed > 0 ? (double)prov / elapsed : 0.0);
	printf("  keys consumed  %llu (each replaced by a rotated key on its device)\n",
	       (unsigned long long)k.keys_by_state[PP_KEY_CONSUMED]);
	printf("  audit log      %s (%llu entries)\n", arc == 0 ? "intact" : "BROKEN",
	       (unsigned long long)audit_n);
	printf("  logs           %s\n", d.keep || prov != n ? d.tmp : "(removed)");
	bool ok = prov == n && fleet_rc == 0 && arc == 0;
	if (!d.keep && ok) {
		const char *rm[] = {"/bin/rm", "-rf", d.tmp, NULL};
		pid_t p;
		if (posix_spawn(&p, "/bin/rm", NULL, NULL, (char *const *)rm, environ) == 0)
			wait_child(p);
	}
	if (!ok)
		return pp_fail("demo: %llu of %u devices provisioned (fleet exit %d); logs in %s",
			       (unsigned long long)prov, n, fleet_rc, d.tmp);
	printf("\ndemo: every device provisioned\n");
	return PP_EXIT_OK;
}
