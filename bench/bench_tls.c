/* TLS-PSK handshake rate per profile, in memory (a BIO pair, one thread driving both
 * the device and the configuration server), so the figure is the CPU cost of one full
 * handshake on both sides together, without the network. Prints figures; never fails
 * on them.
 *
 * usage: bench_tls [SECONDS per profile, default 2] */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/ssl.h>

#include "core/parse.h"
#include "tls/tls.h"

#define PID "0000037M"
#define PPS "NKLDG5DCRRNQE9YZZIJL7LFLVJED69XJ"

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double cpu_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int lookup(void *arg, const char *pid8, uint8_t pps_out[PP_TLS_PPS_LEN])
{
	(void)arg;
	if (strcmp(pid8, PID) != 0)
		return -1;
	memcpy(pps_out, PPS, PP_TLS_PPS_LEN);
	return 0;
}

static void print_machine(void)
{
	struct utsname u;
	char model[256] = "unknown";
	FILE *f = fopen("/proc/cpuinfo", "re");
	if (f) {
		char line[512];
		while (fgets(line, sizeof(line), f)) {
			if (strncmp(line, "model name", 10) == 0) {
				const char *colon = strchr(line, ':');
				if (colon) {
					snprintf(model, sizeof(model), "%s", colon + 2);
					model[strcspn(model, "\n")] = '\0';
				}
				break;
			}
		}
		fclose(f);
	}
	if (uname(&u) == 0)
		printf("machine: %s %s %s\n", u.sysname, u.release, u.machine);
	printf("cpu:     %s (%ld online)\n", model, sysconf(_SC_NPROCESSORS_ONLN));
	printf("openssl: %s\n", OpenSSL_version(OPENSSL_VERSION));
}

static void drive(SSL *s, bool *end, bool *ok)
{
	if (*end)
		return;
	ERR_clear_error();
	int r = SSL_do_handshake(s);
	if (r == 1) {
		*end = *ok = true;
		return;
	}
	int e = SSL_get_error(s, r);
	if (e != SSL_ERROR_WANT_READ && e != SSL_ERROR_WANT_WRITE)
		*end = true;
}

/* One handshake on fresh SSL objects; true when both sides finish with PP_TLS_OK.
 * version and cipher (may be NULL) receive what was negotiated. */
static bool one_handshake(SSL_CTX *sctx, SSL_CTX *dctx, char *version, size_t vcap, char *cipher,
			  size_t ccap)
{
	SSL *c = SSL_new(sctx), *d = SSL_new(dctx);
	BIO *bc = NULL, *bd = NULL;
	bool ok = false, c_end = false, d_end = false, c_ok = false, d_ok = false;
	if (!c || !d || !BIO_new_bio_pair(&bc, 0, &bd, 0))
		goto out;
	SSL_set_bio(c, bc, bc);
	SSL_set_bio(d, bd, bd);
	if (pp_tls_device_attach(d, PID, (const uint8_t *)PPS, NULL) < 0 ||
	    pp_tls_server_attach(c, PID, lookup, NULL, NULL) < 0)
		goto out;
	for (int i = 0; i < 100 && !(c_end && d_end); i++) {
		drive(c, &c_end, &c_ok);
		drive(d, &d_end, &d_ok);
	}
	ok = c_ok && d_ok && pp_tls_server_result(c, NULL, NULL, 0) == PP_TLS_OK &&
	     pp_tls_device_result(d, NULL, NULL, 0) == PP_TLS_OK;
	if (ok && version)
		snprintf(version, vcap, "%s", SSL_get_version(c));
	if (ok && cipher)
		snprintf(cipher, ccap, "%s", SSL_get_cipher_name(c));
out:
	SSL_free(c);
	SSL_free(d);
	ERR_clear_error();
	return ok;
}

int main(int argc, char **argv)
{
	double seconds = 2.0;
	struct pp_err err = {0};
	if (argc > 1 && pp_parse_double(argv[1], 0.1, 600, &seconds, "SECONDS", &err) < 0) {
		fprintf(stderr, "bench_tls: %s\n", err.msg);
		return 2;
	}
	printf("bench_tls: in-memory TLS-PSK handshakes (device + server in one thread), "
	       "%.1f s per profile\n",
	       seconds);
	print_machine();
	printf("\n%-11s %-8s %-30s %10s %12s %10s\n", "profile", "version", "cipher", "handshakes",
	       "per second", "us each");

	static const enum pp_tls_profile profiles[] = {PP_TLS_AMT_LEGACY, PP_TLS_TLS12,
						       PP_TLS_TLS13};
	for (size_t i = 0; i < sizeof(profiles) / sizeof(profiles[0]); i++) {
		enum pp_tls_profile p = profiles[i];
		SSL_CTX *sctx = pp_tls_server_ctx_new(p, &err);
		SSL_CTX *dctx = sctx ? pp_tls_device_ctx_new(p, &err) : NULL;
		if (!sctx || !dctx) {
			printf("%-11s error: %s\n", pp_tls_profile_name(p), err.msg);
			SSL_CTX_free(sctx);
			continue;
		}
		/* Negotiated version and cipher, from a first handshake. */
		char version[16] = "?", cipher[64] = "?";
		(void)one_handshake(sctx, dctx, version, sizeof(version), cipher, sizeof(cipher));

		unsigned long n = 0, failed = 0;
		double t0 = now_s(), c0 = cpu_s(), t;
		do {
			if (one_handshake(sctx, dctx, NULL, 0, NULL, 0))
				n++;
			else
				failed++;
			t = now_s() - t0;
		} while (t < seconds);
		double cpu = cpu_s() - c0;
		printf("%-11s %-8s %-30s %10lu %12.0f %10.1f", pp_tls_profile_name(p), version,
		       cipher, n, (double)n / t, n ? cpu * 1e6 / (double)n : 0.0);
		if (failed)
			printf("  (%lu failed)", failed);
		printf("\n");
		SSL_CTX_free(sctx);
		SSL_CTX_free(dctx);
	}
	return 0;
}
