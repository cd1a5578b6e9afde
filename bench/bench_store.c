/* Bulk key import into the SQLite store: seal + insert N keys (default 1,000,000) in one
 * transaction into a temporary database, then random secret lookups. Prints figures;
 * never passes or fails.
 *
 *   bench_store [N [LOOKUPS]]
 *
 * PIDs are a counter scrambled by a bijection mod 36^7 (so inserts land in random
 * B-tree order, as real random PIDs do) plus the checksum symbol; PPS and MEBx
 * passwords come from a fast non-cryptographic generator. */
#include <inttypes.h>
#include <openssl/crypto.h>
#include <openssl/opensslv.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#include "core/err.h"
#include "core/parse.h"
#include "core/secret.h"
#include "store/store.h"
#include "../tests/unit/test_store_util.h"

static const char alphabet[] = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ";

#define PID_SPACE 78364164096ULL /* 36^7 */
#define PID_MUL 1000003ULL       /* coprime to 36: a bijection on [0, 36^7) */
#define PID_ADD 12345678901ULL

static void bench_pid(uint64_t i, char out[9])
{
	pp_test_pid((i * PID_MUL + PID_ADD) % PID_SPACE, out);
}

static uint64_t xorshift(uint64_t *s)
{
	uint64_t x = *s;
	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	return *s = x;
}

static void bench_symbols(uint64_t *rng, char *out, size_t n)
{
	uint64_t r = 0;
	for (size_t k = 0; k < n; k++) {
		if (k % 10 == 0)
			r = xorshift(rng);
		out[k] = alphabet[r % 36];
		r /= 36;
	}
	out[n] = '\0';
}

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* CPU seconds of this process: on a shared machine, wall time includes other tenants. */
static double cpu_s(void)
{
	struct rusage ru;
	if (getrusage(RUSAGE_SELF, &ru) < 0)
		return 0;
	return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
	       (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
}

static long long file_size(const char *path)
{
	struct stat st;
	return stat(path, &st) == 0 ? (long long)st.st_size : 0;
}

static void print_machine(void)
{
	struct utsname u;
	if (uname(&u) == 0)
		printf("machine: %s %s %s %s\n", u.sysname, u.release, u.version, u.machine);
	FILE *f = fopen("/proc/cpuinfo", "r");
	char line[512];
	int cpus = 0;
	char model[256] = "unknown";
	while (f && fgets(line, sizeof(line), f)) {
		if (strncmp(line, "model name", 10) == 0) {
			if (cpus == 0) {
				const char *c = strchr(line, ':');
				if (c)
					snprintf(model, sizeof(model), "%s", c + 2);
				model[strcspn(model, "\n")] = '\0';
			}
			cpus++;
		}
	}
	if (f)
		fclose(f);
	printf("cpu: %s (%d logical, %ld online)\n", model, cpus, sysconf(_SC_NPROCESSORS_ONLN));
	printf("sqlite: %s; openssl: %s\n", sqlite3_libversion(), OpenSSL_version(OPENSSL_VERSION));
}

static int fail(const char *what, const struct pp_err *err)
{
	fprintf(stderr, "bench_store: %s: %s\n", what, err->msg);
	return 1;
}

/* Sealing alone, for reference: up to a million PPS blobs. */
static int phase_seal(const struct pp_master_key *mk, uint64_t n)
{
	struct pp_err err = {0};
	struct pp_sealer *sealer = NULL;
	uint8_t blob[64];
	size_t len;
	char pid[9], pps[33];
	uint64_t rng = 0x9E3779B97F4A7C15ULL;
	if (pp_sealer_new(mk, &sealer, &err) < 0)
		return fail("sealer", &err);
	bench_symbols(&rng, pps, 32);
	uint64_t m = n < 1000000 ? n : 1000000;
	double t0 = now_s();
	for (uint64_t i = 0; i < m; i++) {
		bench_pid(i, pid);
		if (pp_seal(sealer, PP_SEAL_PPS, pid, pps, 32, blob, sizeof(blob), &len, &err) <
		    0) {
			pp_sealer_free(sealer);
			return fail("seal", &err);
		}
	}
	double dt = now_s() - t0;
	printf("seal only: %" PRIu64 " PPS blobs in %.3f s = %.0f seals/s\n", m, dt,
	       (double)m / dt);
	pp_sealer_free(sealer);
	return 0;
}

/* N keys (PPS and MEBx sealed) in one transaction; *rng goes on for the lookups. */
static int phase_insert(struct pp_store *s, uint64_t n, uint64_t *rng, const char *db,
			const char *wal)
{
	struct pp_err err = {0};
	struct pp_batch_new bn = {.name = "bench"};
	int64_t batch = 0;
	if (pp_store_batch_create(s, &bn, &batch, &err) < 0)
		return fail("batch", &err);
	char pid[9], pps[33], mebx[17];
	double t0 = now_s(), c0 = cpu_s();
	if (pp_store_begin(s, &err) < 0)
		return fail("begin", &err);
	for (uint64_t i = 0; i < n; i++) {
		bench_pid(i, pid);
		bench_symbols(rng, pps, 32);
		bench_symbols(rng, mebx, 16);
		struct pp_key_new k = {.pid = pid,
				       .pps = pps,
				       .mebx_password = mebx,
				       .batch_id = batch,
				       .state = PP_KEY_AVAILABLE};
		if (pp_store_key_insert(s, &k, &err) < 0)
			return fail("insert", &err);
	}
	double t_ins = now_s() - t0;
	if (pp_store_commit(s, &err) < 0)
		return fail("commit", &err);
	double dt = now_s() - t0, dc = cpu_s() - c0;
	printf("insert: %" PRIu64 " keys (seal PPS + MEBx, insert) in %.3f s, commit %.3f s\n", n,
	       t_ins, dt - t_ins);
	printf("insert: %.0f keys/s including commit (wall); %.3f CPU s = %.0f keys per CPU s\n",
	       (double)n / dt, dc, (double)n / dc);
	double load[3];
	if (getloadavg(load, 3) == 3)
		printf("load average: %.2f %.2f %.2f\n", load[0], load[1], load[2]);
	printf("size after commit: db %.1f MB, wal %.1f MB (%.0f bytes/key)\n",
	       (double)file_size(db) / 1e6, (double)file_size(wal) / 1e6,
	       (double)(file_size(db) + file_size(wal)) / (double)n);
	return 0;
}

/* Random lookups of secrets: the TLS-PSK callback's path. */
static int phase_lookups(struct pp_store *s, uint64_t n, uint64_t lookups, uint64_t *rng)
{
	struct pp_err err = {0};
	struct pp_pps got;
	char pid[9], got_mebx[PP_STORE_MEBX_MAX + 1];
	int rc = 0;
	double t0 = now_s();
	for (uint64_t i = 0; i < lookups && rc == 0; i++) {
		bench_pid(xorshift(rng) % n, pid);
		if (pp_store_key_secrets(s, pid, &got, got_mebx, sizeof(got_mebx), &err) < 0)
			rc = fail("lookup", &err);
	}
	double dt = now_s() - t0;
	if (rc == 0)
		printf("lookup: %" PRIu64 " random key_secrets in %.3f s = %.0f lookups/s\n",
		       lookups, dt, (double)lookups / dt);
	pp_wipe(&got, sizeof(got));
	pp_wipe(got_mebx, sizeof(got_mebx));
	return rc;
}

int main(int argc, char **argv)
{
	uint64_t n = 1000000, lookups = 200000;
	struct pp_err err = {0};
	if ((argc > 1 && pp_parse_u64(argv[1], 1, 100000000, &n, "N", &err) < 0) ||
	    (argc > 2 && pp_parse_u64(argv[2], 0, 100000000, &lookups, "LOOKUPS", &err) < 0))
		return fail("usage: bench_store [N [LOOKUPS]]", &err);

	char dir[] = "/tmp/pp-bench-store-XXXXXX";
	if (!mkdtemp(dir)) {
		perror("mkdtemp");
		return 1;
	}
	char db[256], wal[272], shm[272];
	snprintf(db, sizeof(db), "%s/bench.db", dir);
	snprintf(wal, sizeof(wal), "%s-wal", db);
	snprintf(shm, sizeof(shm), "%s-shm", db);

	print_machine();
	printf("keys: %" PRIu64 " in one transaction, temporary database %s\n", n, db);

	struct pp_master_key mk;
	if (pp_random(mk.k, sizeof(mk.k)) < 0) {
		fprintf(stderr, "bench_store: no randomness\n");
		return 1;
	}
	struct pp_store *s = NULL;
	struct pp_store_config c = {.kind = PP_STORE_SQLITE, .target = db, .create = true};
	uint64_t rng = 0x243F6A8885A308D3ULL;
	int rc = phase_seal(&mk, n);
	if (rc == 0 && pp_store_open(&c, &mk, &s, &err) < 0)
		rc = fail("open", &err);
	if (rc == 0)
		rc = phase_insert(s, n, &rng, db, wal);
	if (rc == 0)
		rc = phase_lookups(s, n, lookups, &rng);
	double t0 = now_s();
	pp_store_close(s);
	if (rc == 0)
		printf("close (checkpoint): %.3f s; db %.1f MB\n", now_s() - t0,
		       (double)file_size(db) / 1e6);
	pp_wipe(&mk, sizeof(mk));
	unlink(wal);
	unlink(shm);
	unlink(db);
	rmdir(dir);
	return rc;
}
