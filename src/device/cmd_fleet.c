/* pskprov fleet: N emulated devices in one process on one event loop, each on its own
 * loopback address, the load generator for tests and benchmarks (docs/architecture.md "Device
 * emulator"). */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <math.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <event2/event.h>

#include "firmware/device.h"
#include "prog/commands.h"
#include "core/clock.h"
#include "core/parse.h"
#include "core/secret.h"
#include "device/devutil.h"
#include "device/emu.h"
#include "proto/hello.h"
#include "tls/tls.h"
#include "prog/log.h"
#include "wsman/soap.h"

#define LOG "fleet"
#define FLEET_MAX 100000u
#define FLEET_TICK_MS 250
/* Once every device that can be provisioned is, wrong-key devices get this long to see
 * the server try (and fail) before the fleet ends anyway. */
#define FLEET_GRACE_MS 10000
#define FLEET_FD_SPARE 256
/* After the last device is done: time for the answers still on their way (the last
 * CommitChanges response among them) to leave before the process exits. */
#define FLEET_DRAIN_MS 1000
/* Hellos refused (ECONNREFUSED) and none delivered for this long: nothing listens at
 * --server, and the fleet ends instead of waiting out --timeout. Long enough for a
 * server started at the same time as the fleet to come up. */
#define FLEET_REFUSED_MS 2000

enum { F_NONE, F_WRONG, F_SILENT, F_DISCONNECT, F_KINDS };
static const char *const fault_names[F_KINDS] = {"none", "wrong-key", "silent", "disconnect"};
static const enum pp_emu_fault fault_emu[F_KINDS] = {PP_EMU_FAULT_NONE, PP_EMU_FAULT_WRONG_KEY,
						     PP_EMU_FAULT_SILENT, PP_EMU_FAULT_DISCONNECT};

struct fleet;

struct fleet_dev {
	struct fleet *fl;
	struct pp_emu *emu;
	struct pp_amt_device *dev;
	uint8_t fault;
	bool provisioned;
	uint8_t addr[4];
	uint64_t first_hello_ms, provisioned_ms;
	uint32_t hs_failed, dropped;
};

struct fleet_opts {
	struct pp_dev_net_opts net; /* first: the shared setters take it */
	uint32_t count;
	const char *csv, *state_dir;
	uint8_t base[4];
	uint32_t timeout_s;
	uint32_t faults[F_KINDS];
	bool json;
};

struct fleet {
	struct fleet_opts *o;
	struct pp_dev_loop loop;
	struct fleet_dev *devs;
	size_t n;
	size_t good_total, good_done, bad_provisioned, wrong_tried;
	uint64_t start_ms, good_done_ms, last_provisioned_ms, hs_failed_total, end_ms;
	uint64_t hellos_delivered, first_refused_ms;
	bool timed_out, interrupted, no_server, progress, draining;
	struct event *tick, *drain;
	char root[4096]; /* --state-dir: the devices' state directories */
};

static bool counts_as_good(uint8_t fault)
{
	return fault != F_WRONG && fault != F_SILENT;
}

static void fleet_usage(FILE *out)
{
	fprintf(out,
		"usage: pskprov fleet --count N --csv FILE --server IP[:PORT] [--base IP]\n"
		"            [--port N] [--http-port N] [--profile amt-legacy|tls12|tls13]\n"
		"            [--time-scale X] [--latency MS] [--faults SPEC] [--timeout SECONDS]\n"
		"            [--state-dir DIR] [--wsman-trace DIR] [--log-level L] [--json]\n\n"
		"Runs N emulated devices in one process: rows 1..N of a key CSV (pid,pps,\n"
		"mebx_password,batch), each device on its own loopback address from --base\n"
		"(host parts .0 and .255 skipped), sending hellos from that address to the\n"
		"server and serving TLS-PSK. Ends when every device that can be provisioned is,\n"
		"at the timeout, or when nothing listens at --server (hellos refused and none\n"
		"delivered for %d s), with a summary. Exit 0 only when every non-faulty device\n"
		"was provisioned and no faulty one was.\n"
		"  --server      the configuration server's hello address (port 9971 unless\n"
		"                given)\n"
		"  --base        first device address (default 127.1.0.1)\n"
		"  --port        TLS-PSK port of every device (default 16993)\n"
		"  --http-port   HTTP port of provisioned devices (default 16992)\n"
		"  --time-scale  multiplies the hello retry delays (0.001: a minute is 60 ms)\n"
		"  --latency     delay before every WS-Management answer, ms (default 0)\n"
		"  --faults      e.g. wrong-key=3,silent=2,disconnect=1: counts of devices,\n"
		"                taken from the end of the list in that order. wrong-key holds\n"
		"                a corrupted PPS; silent sends no hello and accepts nothing;\n"
		"                disconnect drops its connection at its %dth request, once\n"
		"                (and must still end provisioned)\n"
		"  --timeout     seconds (default 300)\n"
		"  --state-dir   keep per-device state directories DIR/dev-NNNNNN (an existing\n"
		"                one is loaded as it is; every change written atomically);\n"
		"                default: the devices' state in memory only, gone at exit\n"
		"  --wsman-trace DIR  write every WS-Management request the device accepts after\n"
		"                authentication to DIR/NNNNNN-<address>.xml (6-digit sequence per\n"
		"                process, mode 0600, never overwritten), with the text of PPS,\n"
		"                Password, DigestPassword and any *Password* element replaced by\n"
		"                (hidden); for interoperability tests\n"
		"  --log-level   default warn\n",
		FLEET_REFUSED_MS / 1000, PP_EMU_DISCONNECT_AT);
}

/* "wrong-key=3,silent=2,disconnect=1" */
static int parse_faults(const char *spec, uint32_t out[F_KINDS], struct pp_err *err)
{
	char buf[256];
	size_t len = strlen(spec);
	bool seen[F_KINDS] = {false};
	if (len == 0 || len >= sizeof(buf))
		return pp_err_set(err, PP_EINVAL, "--faults: expected NAME=COUNT[,NAME=COUNT...]");
	memcpy(buf, spec, len + 1);
	char *p = buf;
	while (p) {
		char *comma = strchr(p, ',');
		if (comma)
			*comma = '\0';
		char *eq = strchr(p, '=');
		if (!eq)
			return pp_err_set(err, PP_EINVAL, "--faults: '%.40s' is not NAME=COUNT", p);
		*eq = '\0';
		int k;
		for (k = F_WRONG; k < F_KINDS; k++)
			if (!strcmp(p, fault_names[k]))
				break;
		if (k == F_KINDS)
			return pp_err_set(err, PP_EINVAL,
					  "--faults: unknown fault '%.40s' (wrong-key, silent, "
					  "disconnect)",
					  p);
		if (seen[k])
			return pp_err_set(err, PP_EINVAL, "--faults: '%s' given twice",
					  fault_names[k]);
		seen[k] = true;
		if (pp_parse_u32(eq + 1, 0, FLEET_MAX, &out[k], "--faults count", err) < 0)
			return -PP_EINVAL;
		p = comma ? comma + 1 : NULL;
	}
	return 0;
}

/* ---- progress and completion ---- */

static void fleet_progress(struct fleet *fl, bool final)
{
	if (!fl->progress)
		return;
	size_t prov = fl->good_done + fl->bad_provisioned;
	double el = (double)(pp_now_ms() - fl->start_ms) / 1000.0;
	fprintf(stderr, "\rfleet: %zu/%zu provisioned, %" PRIu64 " failed handshakes, %.1f s   ",
		prov, fl->good_total, fl->hs_failed_total, el);
	if (final)
		fputc('\n', stderr);
	fflush(stderr);
}

static void fleet_stop(struct fleet *fl)
{
	if (!fl->end_ms)
		fl->end_ms = pp_now_ms();
	event_base_loopbreak(fl->loop.base);
}

static void fleet_drained(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	event_base_loopbreak(((struct fleet *)arg)->loop.base);
}

static void fleet_check(struct fleet *fl)
{
	uint64_t now = pp_now_ms();
	size_t wrong = fl->o->faults[F_WRONG];
	if (fl->draining)
		return;
	if (fl->first_refused_ms && !fl->hellos_delivered &&
	    now - fl->first_refused_ms >= FLEET_REFUSED_MS) {
		fl->no_server = true;
		fleet_stop(fl);
		return;
	}
	if (fl->good_done == fl->good_total) {
		if (!fl->good_done_ms)
			fl->good_done_ms = now;
		if (fl->wrong_tried >= wrong || now - fl->good_done_ms >= FLEET_GRACE_MS) {
			struct timeval tv = {0, 0};
			uint64_t ms = FLEET_DRAIN_MS + fl->o->net.env.latency_ms;
			tv.tv_sec = (time_t)(ms / 1000);
			tv.tv_usec = (suseconds_t)(ms % 1000) * 1000;
			fl->end_ms = now;
			fl->draining = true;
			if (!fl->drain || evtimer_add(fl->drain, &tv) < 0)
				fleet_stop(fl);
			return;
		}
	}
	if (now - fl->start_ms >= (uint64_t)fl->o->timeout_s * 1000u) {
		fl->timed_out = true;
		fleet_stop(fl);
	}
}

static void fleet_tick(evutil_socket_t fd, short what, void *arg)
{
	struct fleet *fl = arg;
	(void)fd;
	(void)what;
	fleet_progress(fl, false);
	fleet_check(fl);
}

/* Said once, at the first refused hello: the usual cause is a server not started. */
static void fleet_warn_refused(const struct fleet *fl)
{
	const uint8_t *ip = fl->o->net.env.server_ip;
	pp_warn(LOG,
		"hellos to %u.%u.%u.%u:%u: connection refused: nothing listens there (is the "
		"configuration server running?)",
		ip[0], ip[1], ip[2], ip[3], fl->o->net.env.server_port);
}

static void fleet_event(void *arg, struct pp_emu *emu, enum pp_emu_event ev)
{
	struct fleet_dev *d = arg;
	struct fleet *fl = d->fl;
	uint64_t now = pp_now_ms();
	(void)emu;
	switch (ev) {
	case PP_EMU_EV_HELLO:
		if (!d->first_hello_ms)
			d->first_hello_ms = now;
		fl->hellos_delivered++;
		break;
	case PP_EMU_EV_HELLO_REFUSED:
		if (!fl->first_refused_ms && !fl->hellos_delivered) {
			fl->first_refused_ms = now;
			fleet_warn_refused(fl);
		}
		break;
	case PP_EMU_EV_HANDSHAKE_OK:
		break;
	case PP_EMU_EV_HANDSHAKE_FAILED:
		if (d->hs_failed++ == 0 && d->fault == F_WRONG)
			fl->wrong_tried++;
		fl->hs_failed_total++;
		break;
	case PP_EMU_EV_DISCONNECT:
		d->dropped++;
		break;
	case PP_EMU_EV_STATE: {
		bool prov = pp_amt_state(d->dev) == PP_AMT_POST_SETUP;
		if (prov == d->provisioned)
			break;
		d->provisioned = prov;
		size_t *counter = counts_as_good(d->fault) ? &fl->good_done : &fl->bad_provisioned;
		if (prov) {
			(*counter)++;
			d->provisioned_ms = now;
			fl->last_provisioned_ms = now;
			if (!counts_as_good(d->fault))
				pp_error(LOG, "%s: a %s device was provisioned",
					 pp_emu_name(d->emu), fault_names[d->fault]);
		} else {
			(*counter)--;
			if (counts_as_good(d->fault))
				fl->good_done_ms = 0;
		}
		fleet_check(fl);
		break;
	}
	}
}

static void fleet_signal(evutil_socket_t sig, short what, void *arg)
{
	struct fleet *fl = arg;
	(void)sig;
	(void)what;
	fl->interrupted = true;
	fleet_stop(fl);
}

/* ---- summary ---- */

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

struct fleet_sum {
	size_t provisioned, failed, timed_count;
	uint64_t median_ms, p99_ms;
	double elapsed_s, rate;
	double cpu_s; /* the process's CPU time (user + system), devices made included */
	uint32_t fprov[F_KINDS], fhs[F_KINDS], fdrop[F_KINDS];
};

static void fleet_summarize(struct fleet *fl, uint64_t end_ms, struct fleet_sum *s)
{
	memset(s, 0, sizeof(*s));
	uint64_t *t = calloc(fl->n ? fl->n : 1, sizeof(*t));
	for (size_t i = 0; i < fl->n; i++) {
		struct fleet_dev *d = &fl->devs[i];
		if (d->provisioned) {
			s->provisioned++;
			if (t && d->first_hello_ms && d->provisioned_ms >= d->first_hello_ms)
				t[s->timed_count++] = d->provisioned_ms - d->first_hello_ms;
		}
		/* a device that should be provisioned and is not, or the reverse */
		if (counts_as_good(d->fault) != d->provisioned)
			s->failed++;
		s->fprov[d->fault] += d->provisioned;
		s->fhs[d->fault] += d->hs_failed;
		s->fdrop[d->fault] += d->dropped;
	}
	if (t && s->timed_count) {
		qsort(t, s->timed_count, sizeof(*t), cmp_u64);
		s->median_ms = t[(s->timed_count - 1) / 2];
		/* nearest rank */
		size_t rank = (size_t)ceil(0.99 * (double)s->timed_count);
		s->p99_ms = t[(rank ? rank : 1) - 1];
	}
	free(t);
	s->elapsed_s = (double)(end_ms - fl->start_ms) / 1000.0;
	struct rusage ru;
	if (getrusage(RUSAGE_SELF, &ru) == 0)
		s->cpu_s = (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
			   (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
	if (s->provisioned && fl->last_provisioned_ms > fl->start_ms)
		s->rate = (double)s->provisioned /
			  ((double)(fl->last_provisioned_ms - fl->start_ms) / 1000.0);
}

static const char *fleet_result(const struct fleet *fl)
{
	return fl->interrupted ? "interrupted"
	       : fl->no_server ? "no server (connection refused)"
	       : fl->timed_out ? "timed out"
			       : "complete";
}

static int fleet_report(struct fleet *fl, const struct fleet_sum *s)
{
	const struct fleet_opts *o = fl->o;
	if (o->json) {
		json_t *faults = json_object();
		for (int k = F_WRONG; k < F_KINDS; k++) {
			json_t *f = json_object();
			json_object_set_new(f, "devices", json_integer(o->faults[k]));
			json_object_set_new(f, "provisioned", json_integer(s->fprov[k]));
			json_object_set_new(f, "failed_handshakes", json_integer(s->fhs[k]));
			json_object_set_new(f, "dropped_connections", json_integer(s->fdrop[k]));
			json_object_set_new(faults, fault_names[k], f);
		}
		json_t *t = json_object();
		json_object_set_new(t, "count", json_integer((json_int_t)s->timed_count));
		json_object_set_new(t, "median",
				    s->timed_count ? json_integer((json_int_t)s->median_ms)
						   : json_null());
		json_object_set_new(
		    t, "p99", s->timed_count ? json_integer((json_int_t)s->p99_ms) : json_null());
		json_t *j = json_object();
		json_object_set_new(j, "devices", json_integer((json_int_t)fl->n));
		json_object_set_new(j, "expected", json_integer((json_int_t)fl->good_total));
		json_object_set_new(j, "provisioned", json_integer((json_int_t)s->provisioned));
		json_object_set_new(j, "failed", json_integer((json_int_t)s->failed));
		json_object_set_new(j, "result", json_string(fleet_result(fl)));
		json_object_set_new(j, "elapsed_s", json_real(s->elapsed_s));
		json_object_set_new(j, "devices_per_s", json_real(s->rate));
		json_object_set_new(j, "first_hello_to_provisioned_ms", t);
		json_object_set_new(j, "failed_handshakes",
				    json_integer((json_int_t)fl->hs_failed_total));
		json_object_set_new(j, "cpu_s", json_real(s->cpu_s));
		json_object_set_new(j, "faults", faults);
		return pp_json_print(j);
	}
	printf("devices          %zu\n", fl->n);
	printf("provisioned      %zu (%zu expected)\n", s->provisioned, fl->good_total);
	printf("failed           %zu\n", s->failed);
	for (int k = F_WRONG; k < F_KINDS; k++)
		if (o->faults[k])
			printf("fault %-10s %u devices: %u provisioned, %u failed handshakes, "
			       "%u dropped connections\n",
			       fault_names[k], o->faults[k], s->fprov[k], s->fhs[k], s->fdrop[k]);
	printf("elapsed          %.2f s (%s)\n", s->elapsed_s, fleet_result(fl));
	printf("rate             %.1f devices/s\n", s->rate);
	if (s->timed_count)
		printf("hello to done    median %" PRIu64 " ms, p99 %" PRIu64 " ms (%zu devices)\n",
		       s->median_ms, s->p99_ms, s->timed_count);
	else
		printf("hello to done    -\n");
	return PP_EXIT_OK;
}

/* ---- state directories ---- */

static int device_dir(const char *root, size_t i, char *out, size_t cap, struct pp_err *err)
{
	int n = snprintf(out, cap, "%s/dev-%06zu", root, i + 1);
	if (n < 0 || (size_t)n >= cap)
		return pp_err_set(err, PP_EINVAL, "state directory path too long");
	return 0;
}

/* With --state-dir, device i's directory (an existing state is loaded as it is, a new
 * one written atomically); without, a device in memory only (pp_amt_create_volatile):
 * the private directory would have been removed at exit, so its files served no one. */
static int make_device(const struct fleet_opts *o, const char *root, size_t i,
		       const struct pp_devkey *key, uint8_t fault, struct pp_amt_device **out,
		       struct pp_err *err)
{
	char dir[4096], file[4200];
	struct stat st;
	int rc;
	/* The MEBx verifier at its lowest cost: thousands of devices are made at once. */
	struct pp_amt_create_opts copts = {.pbkdf2_iterations = PP_AMT_DEV_PBKDF2_MIN};
	if (!o->state_dir) {
		rc = pp_amt_create_volatile(NULL, out, err);
	} else {
		if ((rc = device_dir(root, i, dir, sizeof(dir), err)) < 0)
			return rc;
		if (pp_dev_state_file(dir, file, sizeof(file)) < 0)
			return pp_err_set(err, PP_EINVAL, "state directory path too long");
		if (stat(file, &st) == 0)
			return pp_amt_load(dir, out, err);
		rc = pp_amt_create(dir, &copts, out, err);
	}
	if (rc < 0)
		return rc;

	struct pp_amt_server srv = {.has_ipv4 = true, .port = o->net.env.server_port};
	pp_cleanup(pp_devpps_wipe) struct pp_pps bad = {0};
	const char *pps = key->pps.s;
	memcpy(srv.ipv4, o->net.env.server_ip, 4);
	if (fault == F_WRONG) {
		/* A valid PPS, but not the one the server holds for this PID. */
		if (pp_pps_generate(&bad) < 0)
			return pp_err_set(err, PP_ECRYPTO, "the random generator failed");
		pps = bad.s;
	}
	return pp_amt_load_key(*out, key->pid.s, pps, key->mebx, &srv, err);
}

/* ---- main ---- */

static int fl_set_count(void *opts, const char *value, struct pp_err *err)
{
	return pp_parse_u32(value, 1, FLEET_MAX, &((struct fleet_opts *)opts)->count, "--count",
			    err);
}

static int fl_set_base(void *opts, const char *value, struct pp_err *err)
{
	return pp_dev_parse_loopback(value, ((struct fleet_opts *)opts)->base, "--base", err);
}

static int fl_set_latency(void *opts, const char *value, struct pp_err *err)
{
	return pp_parse_u32(value, 0, PP_EMU_LATENCY_MAX_MS,
			    &((struct fleet_opts *)opts)->net.env.latency_ms, "--latency", err);
}

static int fl_set_faults(void *opts, const char *value, struct pp_err *err)
{
	return parse_faults(value, ((struct fleet_opts *)opts)->faults, err);
}

static int fl_set_timeout(void *opts, const char *value, struct pp_err *err)
{
	return pp_parse_u32(value, 1, 7 * 86400, &((struct fleet_opts *)opts)->timeout_s,
			    "--timeout", err);
}

static const struct pp_dev_opt fleet_opt_table[] = {
    PP_DEV_NET_OPT_ROWS,
    {"count", 'n', PP_DEV_OPT_VALUE, 0, fl_set_count},
    {"csv", 'c', PP_DEV_OPT_STRING, offsetof(struct fleet_opts, csv), NULL},
    {"base", 'b', PP_DEV_OPT_VALUE, 0, fl_set_base},
    {"latency", 'L', PP_DEV_OPT_VALUE, 0, fl_set_latency},
    {"faults", 'f', PP_DEV_OPT_VALUE, 0, fl_set_faults},
    {"timeout", 'T', PP_DEV_OPT_VALUE, 0, fl_set_timeout},
    {"state-dir", 'd', PP_DEV_OPT_STRING, offsetof(struct fleet_opts, state_dir), NULL},
    {"json", 'j', PP_DEV_OPT_FLAG, offsetof(struct fleet_opts, json), NULL},
};

static bool parse_fleet(int argc, char **argv, struct fleet_opts *o, int *exit_code)
{
	if (pp_dev_getopt(argc, argv, "fleet", fleet_opt_table, PP_DEV_NOPTS(fleet_opt_table), o,
			  fleet_usage, exit_code))
		return true;
	uint64_t faulty =
	    (uint64_t)o->faults[F_WRONG] + o->faults[F_SILENT] + o->faults[F_DISCONNECT];
	if (!o->count || !o->csv || !o->net.env.has_server)
		*exit_code = pp_usage_error("fleet", "--count, --csv and --server are required");
	else if (o->net.env.tls_port == o->net.env.http_port)
		*exit_code = pp_usage_error("fleet", "--port and --http-port must differ");
	else if (faulty > o->count)
		*exit_code = pp_usage_error(
		    "fleet", "--faults: %" PRIu64 " faulty devices, but --count is %u", faulty,
		    o->count);
	else
		return false;
	return true;
}

/* Device addresses: base, base+1, ... skipping host parts .0 and .255, inside 127/8. */
static int assign_addresses(struct fleet *fl, const uint8_t base[4], struct pp_err *err)
{
	uint32_t a =
	    (uint32_t)base[0] << 24 | (uint32_t)base[1] << 16 | (uint32_t)base[2] << 8 | base[3];
	for (size_t i = 0; i < fl->n; i++) {
		while ((a & 0xff) == 0 || (a & 0xff) == 0xff)
			a++;
		if ((a >> 24) != 127)
			return pp_err_set(err, PP_EINVAL,
					  "--count %zu devices from --base %u.%u.%u.%u leave "
					  "127.0.0.0/8",
					  fl->n, base[0], base[1], base[2], base[3]);
		uint8_t *d = fl->devs[i].addr;
		d[0] = (uint8_t)(a >> 24);
		d[1] = (uint8_t)(a >> 16);
		d[2] = (uint8_t)(a >> 8);
		d[3] = (uint8_t)a;
		a++;
	}
	return 0;
}

/* The key rows for the devices, once the process can hold that many devices. */
static int fleet_load_keys(const struct fleet_opts *o, struct pp_devcsv *keys)
{
	struct pp_err err = {0};
	uint64_t nofile = pp_dev_raise_nofile();
	uint64_t need = 2 * (uint64_t)o->count + FLEET_FD_SPARE;
	if (nofile < need)
		return pp_fail("%u devices need about %" PRIu64 " file descriptors; the limit is "
			       "%" PRIu64 " (raise the hard limit: ulimit -Hn)",
			       o->count, need, nofile);
	if (pp_devcsv_load(o->csv, NULL, o->count, &keys->rows, &keys->n, &err) < 0)
		return pp_fail_err(&err);
	if (keys->n < o->count)
		return pp_fail("'%s' has %zu key rows; --count %u needs %u", o->csv, keys->n,
			       o->count, o->count);
	return PP_EXIT_OK;
}

/* The devices' table: faults from the end of the list (wrong-key, then silent, then
 * disconnect), and an address each. */
static int fleet_plan(struct fleet *fl, struct pp_err *err)
{
	fl->n = fl->o->count;
	fl->devs = calloc(fl->n, sizeof(*fl->devs));
	if (!fl->devs)
		return pp_err_set(err, PP_ENOMEM, "out of memory");
	size_t at = fl->n;
	for (int k = F_WRONG; k < F_KINDS; k++)
		for (uint32_t j = 0; j < fl->o->faults[k]; j++)
			fl->devs[--at].fault = (uint8_t)k;
	return assign_addresses(fl, fl->o->base, err);
}

/* --state-dir, made when missing; without it the devices live in memory only. */
static int fleet_make_root(struct fleet *fl, struct pp_err *err)
{
	const char *dir = fl->o->state_dir;
	if (!dir)
		return 0;
	if (mkdir(dir, 0700) < 0 && errno != EEXIST)
		return pp_err_set(err, PP_EIO, "cannot create '%s': %s", dir, strerror(errno));
	snprintf(fl->root, sizeof(fl->root), "%s", dir);
	return 0;
}

static int fleet_make_devices(struct fleet *fl, const struct pp_devcsv *keys)
{
	struct pp_err err = {0};
	struct pp_progress prog;
	pp_progress_start(&prog, "creating devices", fl->n);
	for (size_t i = 0; i < fl->n; i++) {
		struct fleet_dev *d = &fl->devs[i];
		d->fl = fl;
		if (make_device(fl->o, fl->root, i, &keys->rows[i], d->fault, &d->dev, &err) < 0) {
			pp_progress_finish(&prog);
			return pp_fail("device %zu (%u.%u.%u.%u): %s", i + 1, d->addr[0],
				       d->addr[1], d->addr[2], d->addr[3], err.msg);
		}
		pp_progress_update(&prog, i + 1);
	}
	pp_progress_finish(&prog);
	return PP_EXIT_OK;
}

/* Every device on the loop, counted as it starts (a kept one may be provisioned). */
static int fleet_start(struct fleet *fl, struct pp_err *err)
{
	struct fleet_opts *o = fl->o;
	int rc;
	if ((rc = pp_dev_loop_new(&fl->loop, o->net.profile, &o->net.env, err)) < 0)
		return rc;
	o->net.env.on_event = fleet_event;
	for (size_t i = 0; i < fl->n; i++) {
		struct fleet_dev *d = &fl->devs[i];
		if ((rc = pp_emu_new(&o->net.env, d->dev, d->addr, fault_emu[d->fault], d, &d->emu,
				     err)) < 0)
			return rc;
		d->provisioned = pp_amt_state(d->dev) == PP_AMT_POST_SETUP;
		if (counts_as_good(d->fault))
			fl->good_total++;
		if (d->provisioned)
			(*(counts_as_good(d->fault) ? &fl->good_done : &fl->bad_provisioned))++;
	}
	fl->start_ms = pp_now_ms();
	for (size_t i = 0; i < fl->n; i++)
		if ((rc = pp_emu_start(fl->devs[i].emu, err)) < 0)
			return rc;
	return 0;
}

/* The progress tick, the drain timer and the signals that interrupt. */
static int fleet_arm(struct fleet *fl, struct pp_err *err)
{
	struct timeval tick = {0, FLEET_TICK_MS * 1000};
	fl->progress = isatty(STDERR_FILENO);
	fl->tick = event_new(fl->loop.base, -1, EV_PERSIST, fleet_tick, fl);
	fl->drain = evtimer_new(fl->loop.base, fleet_drained, fl);
	if (!fl->tick || !fl->drain || event_add(fl->tick, &tick) < 0)
		return pp_err_set(err, PP_EIO, "cannot set up the event loop");
	if (pp_dev_loop_signals(&fl->loop, fleet_signal, fl, err) < 0)
		return -PP_EIO;
	const uint8_t *a = fl->devs[0].addr, *s = fl->o->net.env.server_ip;
	pp_info(LOG, "%zu devices from %u.%u.%u.%u, hellos to %u.%u.%u.%u:%u", fl->n, a[0], a[1],
		a[2], a[3], s[0], s[1], s[2], s[3], fl->o->net.env.server_port);
	return 0;
}

/* The summary, and the exit status: 0 only when every device that should be
 * provisioned is and no faulty one is. */
static int fleet_finish(struct fleet *fl)
{
	struct fleet_sum sum;
	fleet_progress(fl, true);
	fleet_summarize(fl, fl->end_ms ? fl->end_ms : pp_now_ms(), &sum);
	if (fleet_report(fl, &sum) != PP_EXIT_OK)
		return PP_EXIT_FAIL;
	if (fl->good_done == fl->good_total && fl->bad_provisioned == 0)
		return PP_EXIT_OK;
	if (fl->no_server) {
		const uint8_t *s = fl->o->net.env.server_ip;
		return pp_fail("nothing listens at %u.%u.%u.%u:%u (connection refused): no hello "
			       "was delivered in %d s; start the configuration server first",
			       s[0], s[1], s[2], s[3], fl->o->net.env.server_port,
			       FLEET_REFUSED_MS / 1000);
	}
	pp_note("%zu of %zu devices that should be provisioned are; %zu faulty devices were "
		"provisioned (%s)",
		fl->good_done, fl->good_total, fl->bad_provisioned, fleet_result(fl));
	return PP_EXIT_FAIL;
}

static void fleet_free(struct fleet *fl)
{
	struct pp_err err = {0};
	for (size_t i = 0; fl->devs && i < fl->n; i++)
		pp_emu_free(fl->devs[i].emu);
	for (size_t i = 0; fl->devs && i < fl->n; i++) {
		struct fleet_dev *d = &fl->devs[i];
		/* Kept state directories get the in-memory audit events too. */
		if (d->dev && fl->o->state_dir && pp_amt_save(d->dev, &err) < 0)
			pp_warn(LOG, "device %zu: cannot save its state: %s", i + 1, err.msg);
		pp_amt_freep(&d->dev);
	}
	free(fl->devs);
	if (fl->tick)
		event_free(fl->tick);
	if (fl->drain)
		event_free(fl->drain);
	pp_dev_loop_free(&fl->loop);
}

/* Makes the devices (the keys are wiped as soon as they are in the devices), runs them
 * until done and reports. */
static int fleet_run(struct fleet *fl)
{
	pp_cleanup(pp_devcsv_freep) struct pp_devcsv keys = {0};
	struct pp_err err = {0};
	int rc = fleet_load_keys(fl->o, &keys);
	if (rc != PP_EXIT_OK)
		return rc;
	if (fleet_plan(fl, &err) < 0 || fleet_make_root(fl, &err) < 0)
		return pp_fail_err(&err);
	if ((rc = fleet_make_devices(fl, &keys)) != PP_EXIT_OK)
		return rc;
	pp_devcsv_freep(&keys);
	if (fleet_start(fl, &err) < 0 || fleet_arm(fl, &err) < 0)
		return pp_fail_err(&err);
	fleet_check(fl);
	if (event_base_dispatch(fl->loop.base) < 0)
		return pp_fail("event loop failed");
	return fleet_finish(fl);
}

int cmd_fleet(struct pp_cli *cli, int argc, char **argv)
{
	struct fleet_opts o = {
	    .net = {.env = {.tls_port = PP_EMU_TLS_PORT,
			    .http_port = PP_EMU_HTTP_PORT,
			    .time_scale = 1.0},
		    .profile = PP_TLS_PROFILE_DEFAULT,
		    .level = PP_LOG_WARN},
	    .base = {127, 1, 0, 1},
	    .timeout_s = 300,
	};
	struct fleet fl = {.o = &o};
	int code = PP_EXIT_OK;
	(void)cli;
	if (parse_fleet(argc, argv, &o, &code))
		return code;
	pp_log_init(stderr, o.net.level);
	signal(SIGPIPE, SIG_IGN);
	pp_wsman_init();
	code = fleet_run(&fl);
	fleet_free(&fl);
	return code;
}
