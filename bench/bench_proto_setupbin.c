/* setup.bin throughput: build and write a 100,000-record file to a temporary file
 * (goal: under 2 s), then parse it back and consume one record from it. Prints
 * figures and machine information; never passes or fails. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#include "core/bytes.h"
#include "core/fileio.h"
#include "core/secret.h"
#include "proto/setupbin.h"

#define N_RECORDS 100000u

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void print_machine(void)
{
	struct utsname u;
	if (uname(&u) == 0)
		printf("machine: %s %s %s %s\n", u.sysname, u.release, u.version, u.machine);
	struct pp_buf b;
	struct pp_err err;
	pp_buf_init(&b, 1 << 20);
	const char *model = "unknown";
	size_t mlen = strlen(model);
	if (pp_file_read("/proc/cpuinfo", 1 << 20, &b, &err) == 0 && pp_buf_cstr(&b) == 0) {
		char *p = strstr((char *)b.data, "model name");
		if (p) {
			char *colon = strchr(p, ':');
			char *eol = strchr(p, '\n');
			if (colon && (!eol || colon < eol)) {
				model = colon + 1;
				while (*model == ' ' || *model == '\t')
					model++;
				mlen = eol ? (size_t)(eol - model) : strlen(model);
			}
		}
	}
	printf("cpu: %.*s, %ld online\n", (int)mlen, model, sysconf(_SC_NPROCESSORS_ONLN));
	pp_buf_free(&b);
}

/* Synthetic PID/PPS: the bench measures the file format, not key generation. */
static int build_record(struct pp_usb_record *r, uint32_t n, struct pp_err *err)
{
	static const char sym[] = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ";
	char pid[9], pps[33];
	const uint8_t ip[4] = {10, 1, 2, 3};
	uint32_t x = n;
	for (int i = 7; i >= 0; i--, x /= 36)
		pid[i] = sym[x % 36];
	pid[8] = '\0';
	for (int i = 0; i < 32; i++)
		pps[i] = sym[(n * 7u + (uint32_t)i * 13u) % 36];
	pps[32] = '\0';
	pp_usb_record_init(r, n);
	int rc = pp_usb_record_add_string(r, 1, 1, "admin", err);
	if (!rc)
		rc = pp_usb_record_add_string(r, 1, 2, "Bench-Passw0rd!", err);
	if (!rc)
		rc = pp_usb_record_add_u8(r, 1, 3, 1, err);
	if (!rc)
		rc = pp_usb_record_add_string(r, 2, 1, pid, err);
	if (!rc)
		rc = pp_usb_record_add_string(r, 2, 2, pps, err);
	if (!rc)
		rc = pp_usb_record_add_string(r, 2, 4, "provisionserver.example.org", err);
	if (!rc)
		rc = pp_usb_record_add_ipv4(r, 2, 17, ip, err);
	if (!rc)
		rc = pp_usb_record_add_u16(r, 2, 18, 9971, err);
	pp_wipe(pps, sizeof(pps));
	return rc;
}

int main(void)
{
	struct pp_err err;
	struct pp_usb_header h;
	struct pp_usb_record r;
	size_t size;
	uint8_t *buf = NULL;
	char dir[] = "/tmp/pp_bench_usb_XXXXXX";
	char path[sizeof(dir) + 16];
	int rc = 1;

	print_machine();
	if (!mkdtemp(dir)) {
		perror("mkdtemp");
		return 1;
	}
	snprintf(path, sizeof(path), "%s/setup.bin", dir);
	if (pp_usb_file_size(N_RECORDS, &size) < 0 || !(buf = malloc(size))) {
		fprintf(stderr, "bench: cannot allocate\n");
		goto out;
	}

	double t0 = now();
	if (pp_usb_header_init(&h, 1, 0, N_RECORDS, &err) < 0 ||
	    pp_usb_header_add_module(&h, 1, &err) < 0 ||
	    pp_usb_header_add_module(&h, 2, &err) < 0 || pp_usb_header_write(&h, buf, &err) < 0)
		goto fail;
	for (uint32_t i = 0; i < N_RECORDS; i++) {
		if (build_record(&r, i + 1, &err) < 0 ||
		    pp_usb_record_write(&r, true, buf + PP_USB_BLOCK * ((size_t)i + 1), &err) < 0)
			goto fail;
	}
	pp_usb_record_wipe(&r);
	double t1 = now();
	if (pp_file_create(path, buf, size, 0600, &err) < 0)
		goto fail;
	double t2 = now();
	printf("build %u records: %.3f s; write %zu bytes + fsync: %.3f s; total %.3f s "
	       "(goal < 2 s)\n",
	       N_RECORDS, t1 - t0, size, t2 - t1, t2 - t0);

	struct pp_usb_file f;
	double t3 = now();
	if (pp_usb_file_parse(buf, size, &f, &err) < 0)
		goto fail;
	double t4 = now();
	printf("parse %zu records in memory: %.3f s\n", f.n_records, t4 - t3);
	pp_usb_file_free(&f);

	double t5 = now();
	if (pp_usb_consume_next(path, "admin", &r, &err) < 0)
		goto fail;
	double t6 = now();
	printf("consume record %u (validates the whole file from disk, 2 pwrite+fsync): %.3f s\n",
	       r.number, t6 - t5);
	pp_usb_record_wipe(&r);
	rc = 0;
	goto out;
fail:
	fprintf(stderr, "bench: %s\n", err.msg);
out:
	if (buf) {
		pp_wipe(buf, size);
		free(buf);
	}
	unlink(path);
	rmdir(dir);
	return rc;
}
