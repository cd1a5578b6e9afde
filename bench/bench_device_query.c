/* The operator's device listings (store.h pp_store_device_query) at fleet size: a SQLite
 * store of N devices (default 100,000) made the real way (hello, claim, bind, then
 * provisioned, failed, left configuring, or a clone quarantined), in four batches, with
 * host names of a few sites; then the time of each query the console and the API make:
 * the first page of every sort both ways, the 50th page by keyset, searches, filters.
 * Each with the total, as the API asks. Prints figures; never passes or fails.
 *
 *   bench_device_query [N]
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#include "core/err.h"
#include "core/parse.h"
#include "core/secret.h"
#include "store/store.h"
#include "../tests/unit/test_store_util.h"

#define T0 1764633600
#define REPEAT 15
#define PAGE 50
/* Devices left configuring keep their job running: it must not expire under later claims. */
#define LEASE 1000000000u

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void die(const char *what, const struct pp_err *err)
{
	fprintf(stderr, "bench_device_query: %s: %s\n", what, err->msg);
	exit(1);
}

static void machine_info(void)
{
	struct utsname u;
	char model[256] = "unknown";
	FILE *f = fopen("/proc/cpuinfo", "re");
	if (f) {
		char line[512];
		while (fgets(line, sizeof(line), f)) {
			const char *colon = strchr(line, ':');
			if (strncmp(line, "model name", 10) != 0 || !colon)
				continue;
			snprintf(model, sizeof(model), "%s", colon + 1 + strspn(colon + 1, " \t"));
			model[strcspn(model, "\n")] = '\0';
			break;
		}
		fclose(f);
	}
	if (uname(&u) == 0)
		printf("machine: %s %s %s\n", u.sysname, u.release, u.machine);
	printf("cpu: %s, %ld online\n", model, sysconf(_SC_NPROCESSORS_ONLN));
}

static void uuid_of(uint64_t n, uint8_t out[16])
{
	for (int i = 0; i < 16; i++)
		out[i] = (uint8_t)(0x5a ^ (i * 29));
	for (int i = 0; i < 4; i++)
		out[15 - i] = (uint8_t)(n >> (8 * i));
}

static void key_insert(struct pp_store *s, int64_t batch, uint64_t n)
{
	char pid[9], pps[33], mebx[20];
	struct pp_err err = {0};
	pp_test_pid(n, pid);
	pp_test_pps(n, 31, 7, "BQ", pps);
	snprintf(mebx, sizeof(mebx), "Mebx#%06" PRIu64, n % 1000000);
	struct pp_key_new k = {.pid = pid,
			       .pps = pps,
			       .mebx_password = mebx,
			       .batch_id = batch,
			       .state = PP_KEY_EXPORTED};
	if (pp_store_key_insert(s, &k, &err) < 0)
		die("key insert", &err);
}

static const char *const sites[] = {"amt", "plant7", "lab", "store", "hq"};

/* Device n's life: hello with key (n, or a clone's: another device's), claim, bind,
 * then as its number says. */
static void device(struct pp_store *s, uint64_t n, uint64_t keyn, int64_t now)
{
	struct pp_err err = {0};
	struct pp_hello_in h = {.source = "hello", .now = now};
	enum pp_hello_outcome o;
	int64_t job = 0;
	uuid_of(n, h.uuid);
	pp_test_pid(keyn, h.pid);
	h.addr[0] = 10;
	h.addr[1] = (uint8_t)(n >> 16);
	h.addr[2] = (uint8_t)(n >> 8);
	h.addr[3] = (uint8_t)n;
	if (pp_store_hello(s, &h, &o, &job, &err) < 0)
		die("hello", &err);
	struct pp_job j;
	size_t got = 0;
	if (pp_store_jobs_claim(s, "bench:1", now, LEASE, 1, &j, &got, &err) < 0 || got != 1)
		die("claim", &err);
	char host[64];
	snprintf(host, sizeof(host), "%s-%05" PRIu64, sites[n % 5], n % 100000);
	int rc = pp_store_job_bind(s, job, "bench:1", h.uuid, host, NULL, now, &err);
	if (rc == PP_STORE_BIND_CLONE)
		return;
	if (rc < 0)
		die("bind", &err);
	unsigned kind = (unsigned)(n % 10);
	if (kind <= 6) {
		if (pp_store_job_complete(s, job, "bench:1", host, "example.org", now, &err) < 0)
			die("complete", &err);
	} else if (kind == 7) {
		if (pp_store_job_fail(s, job, "bench:1", "TLS-PSK handshake: wrong key", &err) < 0)
			die("fail", &err);
	}
}

static void populate(struct pp_store *s, uint64_t n)
{
	struct pp_err err = {0};
	int64_t batch[4];
	char name[16];
	for (int b = 0; b < 4; b++) {
		snprintf(name, sizeof(name), "site-%d", b);
		struct pp_batch_new bn = {.name = name};
		if (pp_store_batch_create(s, &bn, &batch[b], &err) < 0)
			die("batch", &err);
	}
	double t0 = now_s();
	for (uint64_t i = 1; i <= n; i++) {
		if (i % 5000 == 1 && pp_store_begin(s, &err) < 0)
			die("begin", &err);
		key_insert(s, batch[i % 4], i);
		/* One in 200 proves the key of device i - 1: a clone, quarantined. */
		device(s, i, i % 200 == 0 ? i - 1 : i, T0 + (int64_t)(i / 7));
		if ((i % 5000 == 0 || i == n) && pp_store_commit(s, &err) < 0)
			die("commit", &err);
	}
	printf("made %" PRIu64 " devices in %.1f s\n", n, now_s() - t0);
}

struct page {
	uint32_t n;
	struct pp_device_info last;
};

static int page_row(void *ctx, const struct pp_device_info *d)
{
	struct page *p = ctx;
	p->n++;
	p->last = *d;
	return 0;
}

/* Runs q REPEAT times; prints the median in ms. */
static void timed(struct pp_store *s, const char *label, const struct pp_device_query *q)
{
	double t[REPEAT];
	struct page p;
	uint64_t total = 0;
	struct pp_err err = {0};
	for (int i = 0; i < REPEAT; i++) {
		memset(&p, 0, sizeof(p));
		double t0 = now_s();
		if (pp_store_device_query(s, q, page_row, &p, &total, &err) < 0)
			die(label, &err);
		t[i] = (now_s() - t0) * 1000.0;
	}
	for (int i = 1; i < REPEAT; i++)
		for (int k = i; k > 0 && t[k] < t[k - 1]; k--) {
			double x = t[k];
			t[k] = t[k - 1];
			t[k - 1] = x;
		}
	printf("%-44s %8.2f ms  (%u rows, total %" PRIu64 ")\n", label, t[REPEAT / 2], p.n, total);
}

static struct pp_device_query base(void)
{
	return (struct pp_device_query){.state = -1, .quarantined = -1, .limit = PAGE};
}

static void sorts(struct pp_store *s)
{
	char label[64];
	for (int so = 0; so < PP_DEV_SORT_MAX; so++) {
		for (int desc = 0; desc < 2; desc++) {
			struct pp_device_query q = base();
			q.sort = (enum pp_device_sort)so;
			q.desc = desc;
			snprintf(label, sizeof(label), "first page, sort %s %s",
				 pp_device_sort_name(q.sort), desc ? "desc" : "asc");
			timed(s, label, &q);
		}
	}
}

/* The 50th page of a sort, by keyset: 49 pages walked, the 50th timed. */
static void page50(struct pp_store *s, enum pp_device_sort so)
{
	struct pp_device_query q = base();
	struct pp_device_cursor c;
	struct page p;
	struct pp_err err = {0};
	char label[64];
	q.sort = so;
	for (int i = 0; i < 49; i++) {
		memset(&p, 0, sizeof(p));
		if (pp_store_device_query(s, &q, page_row, &p, NULL, &err) < 0)
			die("page", &err);
		pp_device_cursor_from(so, &p.last, &c);
		q.after = &c;
	}
	snprintf(label, sizeof(label), "50th page, sort %s", pp_device_sort_name(so));
	timed(s, label, &q);
}

static void searches(struct pp_store *s, uint64_t n)
{
	struct pp_device_info d;
	struct pp_err err = {0};
	uint8_t u[16];
	char pid[10], addr[16], uuid[37], frag[16], label[80];
	uuid_of(n / 2 + 1, u);
	if (pp_store_device_get(s, u, &d, &err) < 0)
		die("device get", &err);
	snprintf(pid, sizeof(pid), "%.4s-%.4s", d.pid, d.pid + 4);
	snprintf(addr, sizeof(addr), "%u.%u.%u.%u", d.addr[0], d.addr[1], d.addr[2], d.addr[3]);
	pp_uuid_format(u, uuid);
	snprintf(frag, sizeof(frag), "%.8s", uuid + 28);
	const char *texts[][2] = {{"a PID", pid},
				  {"an address", addr},
				  {"a UUID fragment", frag},
				  {"a host name fragment", "plant7-0012"}};
	for (size_t i = 0; i < sizeof(texts) / sizeof(texts[0]); i++) {
		struct pp_device_query q = base();
		q.text = texts[i][1];
		snprintf(label, sizeof(label), "search %s (%s)", texts[i][0], texts[i][1]);
		timed(s, label, &q);
	}
}

static void filters(struct pp_store *s)
{
	struct pp_device_query q = base();
	q.state = PP_DEV_FAILED;
	timed(s, "filter state failed", &q);
	q.sort = PP_DEV_SORT_LAST_SEEN;
	q.desc = true;
	timed(s, "filter state failed, sort last_seen desc", &q);
	q = base();
	q.batch = "site-2";
	timed(s, "filter batch site-2", &q);
	q = base();
	q.quarantined = 1;
	timed(s, "filter quarantined", &q);
	q.sort = PP_DEV_SORT_HOST_NAME;
	timed(s, "filter quarantined, sort host_name", &q);
}

int main(int argc, char **argv)
{
	uint64_t n = 100000;
	struct pp_err err = {0};
	if (argc > 1 && pp_parse_u64(argv[1], 10, 10000000, &n, "N", &err) < 0)
		die("usage: bench_device_query [N]", &err);
	char dir[256], db[300];
	if (pp_test_scratch("pp-bench-dq", dir, sizeof(dir), db, sizeof(db)) < 0) {
		fprintf(stderr, "bench_device_query: no scratch directory\n");
		return 1;
	}
	struct pp_master_key mk;
	pp_test_master_key(&mk, 0x21, 7);
	struct pp_store *s = NULL;
	if (pp_store_open_sqlite(db, &mk, true, &s, &err) < 0)
		die("open", &err);
	machine_info();
	populate(s, n);
	printf("median of %d runs, %d rows a page, each with its total:\n", REPEAT, PAGE);
	sorts(s);
	page50(s, PP_DEV_SORT_FIRST_SEEN);
	page50(s, PP_DEV_SORT_HOST_NAME);
	page50(s, PP_DEV_SORT_ADDRESS);
	searches(s, n);
	filters(s);
	pp_store_close(s);
	pp_test_remove_db(db);
	rmdir(dir);
	return 0;
}
