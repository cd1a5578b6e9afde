/* Bare TLS-PSK connection rate on loopback: connect, handshake, close, over and over,
 * with our device context in one process and our server (client) context in another.
 * The reference figure for bench/provision.sh and bench/cost_model.sh: the rate, and the
 * CPU each side spends on one connection (the server side is the TLS client, as in a
 * device session). Prints figures; never pass/fail.
 *
 * usage: bench_tls_connect [SECONDS] [PROFILE] */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "core/parse.h"
#include "tls/tls.h"

static const char PID[] = "0000037M";
static const uint8_t PPS[] = "NKLDG5DCRRNQE9YZZIJL7LFLVJED69XJ";

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* User + system CPU seconds of this process, or of its waited-for children. */
static double cpu_s(int who)
{
	struct rusage ru;
	getrusage(who, &ru);
	return (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 + (double)ru.ru_stime.tv_sec +
	       ru.ru_stime.tv_usec / 1e6;
}

static int lookup(void *arg, const char *pid8, uint8_t out[PP_TLS_PPS_LEN])
{
	(void)arg;
	if (memcmp(pid8, PID, 8) != 0)
		return -1;
	memcpy(out, PPS, PP_TLS_PPS_LEN);
	return 0;
}

static void machine(void)
{
	struct utsname u;
	char model[256] = "unknown";
	FILE *f = fopen("/proc/cpuinfo", "r");
	if (f) {
		char line[512];
		while (fgets(line, sizeof(line), f)) {
			if (!strncmp(line, "model name", 10)) {
				char *p = strchr(line, ':');
				if (p) {
					snprintf(model, sizeof(model), "%s", p + 2);
					model[strcspn(model, "\n")] = '\0';
				}
				break;
			}
		}
		fclose(f);
	}
	uname(&u);
	printf("machine: %s %s %s, %s, %ld CPUs\n", u.sysname, u.release, u.machine, model,
	       sysconf(_SC_NPROCESSORS_ONLN));
}

static void serve(int lfd, enum pp_tls_profile prof)
{
	struct pp_err err;
	SSL_CTX *ctx = pp_tls_device_ctx_new(prof, &err);
	if (!ctx)
		_exit(1);
	for (;;) {
		int fd = accept(lfd, NULL, NULL);
		if (fd < 0)
			continue;
		SSL *ssl = SSL_new(ctx);
		if (ssl && pp_tls_device_attach(ssl, PID, PPS, &err) == 0) {
			SSL_set_fd(ssl, fd);
			if (SSL_accept(ssl) == 1)
				SSL_shutdown(ssl);
		}
		SSL_free(ssl);
		close(fd);
	}
}

int main(int argc, char **argv)
{
	double secs = argc > 1 ? strtod(argv[1], NULL) : 3.0;
	const char *pname = argc > 2 ? argv[2] : "tls12";
	enum pp_tls_profile prof;
	struct pp_err err;
	if (secs <= 0 || secs > 60 || pp_tls_profile_parse(pname, &prof, &err) < 0) {
		fprintf(stderr, "usage: bench_tls_connect [SECONDS 0-60] [PROFILE]\n");
		return 2;
	}
	int lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	struct sockaddr_in sin = {.sin_family = AF_INET};
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	socklen_t sl = sizeof(sin);
	if (lfd < 0 || bind(lfd, (struct sockaddr *)&sin, sizeof(sin)) < 0 ||
	    listen(lfd, 512) < 0 || getsockname(lfd, (struct sockaddr *)&sin, &sl) < 0) {
		perror("listen");
		return 1;
	}
	pid_t child = fork();
	if (child == 0)
		serve(lfd, prof);
	close(lfd);
	SSL_CTX *ctx = pp_tls_server_ctx_new(prof, &err);
	if (!ctx) {
		fprintf(stderr, "%s\n", err.msg);
		return 1;
	}
	uint64_t ok = 0, failed = 0;
	double c0 = cpu_s(RUSAGE_SELF);
	double t0 = now(), end = t0 + secs;
	while (now() < end) {
		int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
		int one = 1;
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		if (connect(fd, (struct sockaddr *)&sin, sizeof(sin)) < 0) {
			close(fd);
			failed++;
			continue;
		}
		SSL *ssl = SSL_new(ctx);
		if (ssl && pp_tls_server_attach(ssl, PID, lookup, NULL, &err) == 0) {
			SSL_set_fd(ssl, fd);
			if (SSL_connect(ssl) == 1) {
				ok++;
				SSL_shutdown(ssl);
			} else {
				failed++;
			}
		}
		SSL_free(ssl);
		close(fd);
	}
	double el = now() - t0;
	double server_cpu = cpu_s(RUSAGE_SELF) - c0;
	kill(child, SIGTERM);
	waitpid(child, NULL, 0);
	double device_cpu = cpu_s(RUSAGE_CHILDREN);
	machine();
	printf("tls-psk loopback %s: %llu handshakes in %.2f s = %.0f connections/s (%llu "
	       "failed); client and device share the CPUs\n",
	       pp_tls_profile_name(prof), (unsigned long long)ok, el, (double)ok / el,
	       (unsigned long long)failed);
	if (ok)
		printf("cpu per connection: server side %.0f us, device side %.0f us\n",
		       server_cpu * 1e6 / (double)ok, device_cpu * 1e6 / (double)ok);
	SSL_CTX_free(ctx);
	return 0;
}
