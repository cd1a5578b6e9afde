/* The job path of the store under group commit, as the server's batching writer runs
 * it: N devices say hello (BATCH operations per transaction, each in a savepoint), then
 * workers claim, record steps, escrow, rotate and complete. Prints figures; never
 * passes or fails.
 *
 *   bench_store_jobs [N [BATCH]]                       SQLite in a temporary file
 *   PSKPROV_BENCH_PG=conninfo bench_store_jobs [N [BATCH]]
 *                                                      PostgreSQL, in an empty schema:
 *   sh scripts/pg-test.sh run sh -c \
 *       'PSKPROV_BENCH_PG="$PSKPROV_TEST_PG" ./build/bench_store_jobs'
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/err.h"
#include "core/parse.h"
#include "core/secret.h"
#include "store/store.h"
#include "../tests/unit/test_store_util.h"

#define T0 1700000000

static const char alphabet[] = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ";

static void bench_pid(uint64_t n, char out[9])
{
	pp_test_pid(n, out);
}

static void bench_pps(uint64_t n, char out[33])
{
	for (int i = 0; i < 32; i++)
		out[i] = alphabet[(n * 7 + (uint64_t)i * 11) % 36];
	out[32] = '\0';
}

static void bench_uuid(uint64_t n, uint8_t out[16])
{
	memset(out, 0x42, 16);
	for (int i = 0; i < 8; i++)
		out[15 - i] = (uint8_t)(n >> (8 * i));
}

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void die(const char *what, const struct pp_err *err)
{
	fprintf(stderr, "bench_store_jobs: %s: %s\n", what, err->msg);
	exit(1);
}

/* Time spent in each kind of operation of the job phase (seconds, count). */
enum op_kind { K_GET, K_STEP, K_ESCROW, K_NEXT_KEY, K_COMPLETE, K_MAX };
static const char *const op_kind_name[K_MAX] = {"job get", "step", "escrow", "next key",
						"complete"};
struct op_time {
	double secs[K_MAX];
	uint64_t n[K_MAX];
};

/* One operation of a group: a savepoint around it, as the server's writer does; its
 * time goes to t->secs[kind]. */
#define OP(s, t, kind, call, what)                                                                 \
	do {                                                                                       \
		double t0_ = now_s();                                                              \
		if (pp_store_savepoint(s, &err) < 0)                                               \
			die("savepoint", &err);                                                    \
		if ((call) < 0)                                                                    \
			die(what, &err);                                                           \
		if (pp_store_savepoint_release(s, &err) < 0)                                       \
			die("release", &err);                                                      \
		(t)->secs[kind] += now_s() - t0_;                                                  \
		(t)->n[kind]++;                                                                    \
	} while (0)

struct phase {
	const char *name;
	double secs;
	uint64_t ops;
};

static void report(const struct phase *p)
{
	printf("  %-34s %9" PRIu64 " ops %8.3f s %10.0f ops/s\n", p->name, p->ops, p->secs,
	       p->secs > 0 ? (double)p->ops / p->secs : 0);
}

/* The store: PostgreSQL when PSKPROV_BENCH_PG names one, else a new SQLite file whose
 * path goes to path (removed at the end). */
static struct pp_store *open_store(char path[256])
{
	struct pp_err err = {0};
	struct pp_master_key mk;
	struct pp_store *s = NULL;
	const char *pg = getenv("PSKPROV_BENCH_PG");
	struct pp_store_config c = {.kind = PP_STORE_POSTGRES, .target = pg, .create = true};
	if (!pg || !*pg) {
		const char *tmp = getenv("TMPDIR");
		snprintf(path, 256, "%s/bench-jobs-%ld.db", tmp && *tmp ? tmp : "/tmp",
			 (long)getpid());
		c = (struct pp_store_config){
		    .kind = PP_STORE_SQLITE, .target = path, .create = true};
	}
	if (pp_random(mk.k, sizeof(mk.k)) < 0)
		exit(1);
	if (pp_store_open(&c, &mk, &s, &err) < 0)
		die("open", &err);
	pp_wipe(&mk, sizeof(mk));
	return s;
}

/* N exported keys in one batch, one transaction. */
static void load_keys(struct pp_store *s, uint64_t n)
{
	struct pp_err err = {0};
	int64_t b = 0;
	struct pp_batch_new bn = {.name = "bench"};
	if (pp_store_batch_create(s, &bn, &b, &err) < 0)
		die("batch", &err);
	if (pp_store_begin(s, &err) < 0)
		die("begin", &err);
	for (uint64_t i = 0; i < n; i++) {
		char pid[9], pps[33];
		bench_pid(i, pid);
		bench_pps(i, pps);
		struct pp_key_new k = {.pid = pid,
				       .pps = pps,
				       .mebx_password = "Mebx!Bench1",
				       .batch_id = b,
				       .state = PP_KEY_EXPORTED};
		if (pp_store_key_insert(s, &k, &err) < 0)
			die("key insert", &err);
	}
	if (pp_store_commit(s, &err) < 0)
		die("commit", &err);
}

/* Hellos: each device twice (a retry of the device), in groups. */
static void phase_hellos(struct pp_store *s, uint64_t n, uint64_t batch)
{
	struct pp_err err = {0};
	struct phase ph = {.name = "hello (new job, then repeat)", .ops = 2 * n};
	struct op_time ot = {0};
	double t = now_s();
	for (uint64_t round = 0; round < 2; round++) {
		for (uint64_t i = 0; i < n;) {
			if (pp_store_begin(s, &err) < 0)
				die("begin", &err);
			for (uint64_t k = 0; k < batch && i < n; k++, i++) {
				struct pp_hello_in h = {.source = "hello", .now = T0};
				enum pp_hello_outcome o;
				bench_uuid(i, h.uuid);
				bench_pid(i, h.pid);
				h.addr[0] = 10;
				h.addr[3] = (uint8_t)i;
				OP(s, &ot, K_GET, pp_store_hello(s, &h, &o, NULL, &err), "hello");
			}
			if (pp_store_commit(s, &err) < 0)
				die("commit", &err);
		}
	}
	ph.secs = now_s() - t;
	report(&ph);
}

/* Claims of up to 64, each its own transaction; the ids of the jobs claimed. */
static uint64_t phase_claims(struct pp_store *s, uint64_t n, int64_t *ids)
{
	struct pp_err err = {0};
	struct pp_job out[64];
	uint64_t got = 0;
	struct phase ph = {.name = "claim (64 per call)"};
	double t = now_s();
	for (;;) {
		size_t c = 0;
		if (pp_store_jobs_claim(s, "bench-1", T0 + 1, 600, 64, out, &c, &err) < 0)
			die("claim", &err);
		if (c == 0)
			break;
		for (size_t i = 0; i < c && got < n; i++)
			ids[got++] = out[i].id;
		ph.ops++;
	}
	ph.secs = now_s() - t;
	report(&ph);
	printf("  %-34s %9" PRIu64 " jobs\n", "claimed", got);
	return got;
}

/* The rest of one job, as a session records it: steps, escrow, next key, complete. */
static void job_one(struct pp_store *s, int64_t id, uint64_t n, struct op_time *t)
{
	struct pp_err err = {0};
	struct pp_device_secrets sec = {
	    .admin_user = "admin", .admin_password = "Admin!Bench1", .mebx_password = "NewMebx!1"};
	char npid[9], npps[33];
	struct pp_pid np;
	struct pp_pps nps;
	struct pp_job j;
	double t0 = now_s();
	if (pp_store_job_get(s, id, &j, &err) < 0)
		die("job", &err);
	t->secs[K_GET] += now_s() - t0;
	t->n[K_GET]++;
	OP(s, t, K_STEP, pp_store_job_step(s, id, "bench-1", PP_STEP_READ, &err), "step");
	OP(s, t, K_ESCROW, pp_store_device_escrow(s, j.uuid, &sec, &err), "escrow");
	OP(s, t, K_STEP, pp_store_job_step(s, id, "bench-1", PP_STEP_ACL, &err), "step");
	OP(s, t, K_STEP, pp_store_job_step(s, id, "bench-1", PP_STEP_MEBX, &err), "step");
	bench_pid(n + (uint64_t)id, npid);
	bench_pps(n + (uint64_t)id, npps);
	OP(s, t, K_NEXT_KEY, pp_store_job_next_key(s, id, "bench-1", npid, npps, &np, &nps, &err),
	   "next key");
	OP(s, t, K_STEP, pp_store_job_step(s, id, "bench-1", PP_STEP_PSK, &err), "step");
	OP(s, t, K_STEP, pp_store_job_step(s, id, "bench-1", PP_STEP_NAMES, &err), "step");
	OP(s, t, K_STEP, pp_store_job_step(s, id, "bench-1", PP_STEP_COMMIT_SENT, &err), "step");
	/* Host names are unique in the store (reserved at BIND): one per device. */
	char host[32];
	snprintf(host, sizeof(host), "bench-%lld", (long long)id);
	OP(s, t, K_COMPLETE,
	   pp_store_job_complete(s, id, "bench-1", host, "bench.example", T0 + 2, &err),
	   "complete");
	pp_wipe(&sec, sizeof(sec));
	pp_wipe(&nps, sizeof(nps));
}

static void phase_jobs(struct pp_store *s, const int64_t *ids, uint64_t got, uint64_t n,
		       uint64_t batch)
{
	struct pp_err err = {0};
	struct phase ph = {.name = "job (steps, escrow, rotate, done)", .ops = got};
	struct op_time ot = {0};
	double t = now_s(), tc = 0;
	uint64_t commits = 0;
	for (uint64_t i = 0; i < got;) {
		if (pp_store_begin(s, &err) < 0)
			die("begin", &err);
		for (uint64_t k = 0; k < batch && i < got; k++, i++)
			job_one(s, ids[i], n, &ot);
		double t0 = now_s();
		if (pp_store_commit(s, &err) < 0)
			die("commit", &err);
		tc += now_s() - t0;
		commits++;
	}
	ph.secs = now_s() - t;
	report(&ph);
	/* Where a job's time goes: per operation, microseconds. */
	for (int k = 0; k < K_MAX; k++)
		if (ot.n[k])
			printf("    %-32s %9" PRIu64 " ops %8.1f us/op\n", op_kind_name[k], ot.n[k],
			       1e6 * ot.secs[k] / (double)ot.n[k]);
	if (commits)
		printf("    %-32s %9" PRIu64 " ops %8.1f us/op\n", "commit", commits,
		       1e6 * tc / (double)commits);
}

/* What status and /metrics read, then the audit chain verified. */
static void phase_counts(struct pp_store *s)
{
	struct pp_err err = {0};
	struct pp_store_counts c;
	struct phase ph = {.name = "counts (status, /metrics)", .ops = 10};
	double t = now_s();
	for (int i = 0; i < 10; i++)
		if (pp_store_counts(s, &c, &err) < 0)
			die("counts", &err);
	ph.secs = now_s() - t;
	report(&ph);
	printf("  provisioned %" PRIu64 ", keys consumed %" PRIu64 ", in-use %" PRIu64 "\n",
	       c.devices_by_state[PP_DEV_PROVISIONED], c.keys_by_state[PP_KEY_CONSUMED],
	       c.keys_by_state[PP_KEY_IN_USE]);
	uint64_t entries = 0;
	t = now_s();
	if (pp_store_audit_verify(s, &entries, &err) < 0)
		die("audit verify", &err);
	printf("  audit chain: %" PRIu64 " entries verified in %.3f s\n", entries, now_s() - t);
}

static void remove_sqlite_files(const char *path)
{
	static const char *const suffix[] = {"", "-wal", "-shm"};
	for (size_t i = 0; path[0] && i < 3; i++) {
		char p[300];
		snprintf(p, sizeof(p), "%s%s", path, suffix[i]);
		unlink(p);
	}
}

int main(int argc, char **argv)
{
	uint64_t n = 20000, batch = 100;
	struct pp_err err = {0};
	char path[256] = "";
	if (argc > 1 && pp_parse_u64(argv[1], 1, 10000000, &n, "N", &err) < 0)
		die("arguments", &err);
	if (argc > 2 && pp_parse_u64(argv[2], 1, 100000, &batch, "BATCH", &err) < 0)
		die("arguments", &err);
	struct pp_store *s = open_store(path);
	printf("bench_store_jobs: %s, %" PRIu64 " devices, %" PRIu64
	       " operations per transaction\n",
	       pp_store_backend(s), n, batch);
	load_keys(s, n);
	phase_hellos(s, n, batch);
	int64_t *ids = malloc(n * sizeof(*ids));
	if (!ids)
		return 1;
	uint64_t got = phase_claims(s, n, ids);
	phase_jobs(s, ids, got, n, batch);
	phase_counts(s);
	free(ids);
	pp_store_close(s);
	remove_sqlite_files(path);
	return 0;
}
