/* Key generation and derivation rates. Prints figures; never passes or fails.
 *
 * Usage: bench_keys [seconds per figure, default 1] */
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#include "core/parse.h"
#include "core/secret.h"
#include "keys/keys.h"

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void machine_info(void)
{
	struct utsname u;
	if (uname(&u) == 0)
		printf("machine: %s %s %s\n", u.sysname, u.release, u.machine);
	char model[256] = "unknown";
	FILE *f = fopen("/proc/cpuinfo", "re");
	if (f) {
		char line[512];
		while (fgets(line, sizeof(line), f)) {
			if (strncmp(line, "model name", 10) != 0)
				continue;
			const char *colon = strchr(line, ':');
			if (!colon)
				continue;
			colon++;
			while (*colon == ' ' || *colon == '\t')
				colon++;
			snprintf(model, sizeof(model), "%s", colon);
			model[strcspn(model, "\n")] = '\0';
			break;
		}
		fclose(f);
	}
	printf("cpu: %s, %ld online\n", model, sysconf(_SC_NPROCESSORS_ONLN));
}

/* Each bench runs its body in rounds of `batch` until `secs` have passed. */
#define BENCH(label, unit, secs, batch, body)                                                      \
	do {                                                                                       \
		unsigned long n_ = 0;                                                              \
		double t0_ = now(), t_;                                                            \
		do {                                                                               \
			for (unsigned long i_ = 0; i_ < (batch); i_++) {                           \
				body;                                                              \
			}                                                                          \
			n_ += (batch);                                                             \
			t_ = now() - t0_;                                                          \
		} while (t_ < (secs));                                                             \
		printf("%-44s %12.0f %s/s  (%lu in %.2f s)\n", label, (double)n_ / t_, unit, n_,   \
		       t_);                                                                        \
	} while (0)

int main(int argc, char **argv)
{
	double secs = 1.0;
	struct pp_err err;
	if (argc > 1 && pp_parse_double(argv[1], 0.05, 600, &secs, "seconds", &err) < 0) {
		fprintf(stderr, "bench_keys: %s\n", err.msg);
		return 2;
	}
	machine_info();

	struct pp_keygen *g = NULL;
	if (pp_keygen_new(&g) < 0) {
		fprintf(stderr, "bench_keys: cannot create a generator\n");
		return 1;
	}
	struct pp_pid pid;
	struct pp_pps pps;
	char text[PP_PPS_TEXT], pw[PP_MEBX_PW_MAX + 1];
	unsigned sink = 0;
	int fails = 0;

	BENCH("generate PID+PPS pairs (pp_keygen)", "pairs", secs, 4096, {
		fails |= pp_keygen_pid(g, &pid);
		fails |= pp_keygen_pps(g, &pps);
		sink += (unsigned char)pid.s[0] + (unsigned char)pps.s[0];
	});
	BENCH("generate + format PID+PPS pairs", "pairs", secs, 4096, {
		fails |= pp_keygen_pid(g, &pid);
		fails |= pp_keygen_pps(g, &pps);
		pp_pid_format(&pid, text);
		sink += (unsigned char)text[5];
		pp_pps_format(&pps, text);
		sink += (unsigned char)text[5];
	});
	BENCH("generate PID+PPS one-off (pp_*_generate)", "pairs", secs, 1024, {
		fails |= pp_pid_generate(&pid);
		fails |= pp_pps_generate(&pps);
		sink += (unsigned char)pps.s[0];
	});
	BENCH("generate MEBx passwords, 16 chars", "passwords", secs, 1024, {
		fails |= pp_keygen_password(g, 16, pw);
		sink += (unsigned char)pw[0];
	});

	uint8_t secret[32];
	for (size_t i = 0; i < sizeof(secret); i++)
		secret[i] = (uint8_t)(i * 7 + 1);
	if (pp_keygen_pid(g, &pid) < 0)
		fails = 1;
	BENCH("derive PPS (HMAC-SHA256, pp_pps_derive)", "keys", secs, 1024, {
		fails |= pp_pps_derive(secret, sizeof(secret), &pid, &pps);
		pid.s[0] = pps.s[0]; /* vary the PID, keep it valid */
		pid.s[PP_PID_LEN - 1] = pp_key_checksum(pid.s, PP_PID_LEN - 1);
		sink += (unsigned char)pps.s[1];
	});

	pp_pps_format(&pps, text);
	BENCH("parse PPS text (pp_pps_parse)", "keys", secs, 4096, {
		fails |= pp_pps_parse(text, &pps, NULL);
		sink += (unsigned char)pps.s[2];
	});

	printf("(checksum of outputs %u%s)\n", sink, fails ? ", SOME CALLS FAILED" : "");
	pp_wipe(&pps, sizeof(pps));
	pp_wipe(text, sizeof(text));
	pp_wipe(pw, sizeof(pw));
	pp_keygen_free(g);
	return 0;
}
