/* What the firmware tests (test_firmware*.c) share: Intel's worked example key, a
 * scratch directory per test, a device at the lowest PBKDF2 cost. Included after
 * cmocka.h; every function is static inline so a test uses what it needs. */
#ifndef PSKPROV_TEST_FIRMWARE_FIXTURE_H
#define PSKPROV_TEST_FIRMWARE_FIXTURE_H

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/err.h"
#include "firmware/device.h"

/* Intel's worked example (docs/protocol.md section 1). */
#define EX_PID "0000-037M"
#define EX_PID_BARE "0000037M"
#define EX_PPS "NKLD-G5DC-RRNQ-E9YZ-ZIJL-7LFL-VJED-69XJ"
#define EX_PPS_BARE "NKLDG5DCRRNQE9YZZIJL7LFLVJED69XJ"
#define PW1 "Factory#Key1"

/* The MEBx verifier at its lowest cost: tests make many devices. */
__attribute__((unused)) static const struct pp_amt_create_opts fast_opts = {
    .pbkdf2_iterations = PP_AMT_DEV_PBKDF2_MIN};

static inline void rm_tree(const char *path)
{
	DIR *d = opendir(path);
	if (!d) {
		unlink(path);
		return;
	}
	struct dirent *e;
	while ((e = readdir(d))) {
		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			continue;
		char p[512];
		int n = snprintf(p, sizeof(p), "%s/%s", path, e->d_name);
		if (n > 0 && (size_t)n < sizeof(p))
			rm_tree(p);
	}
	closedir(d);
	rmdir(path);
}

/* /tmp/pp_<name>.XXXXXX, made; false when it cannot be. */
static inline bool fw_tempdir(char *dir, size_t cap, const char *name)
{
	int n = snprintf(dir, cap, "/tmp/pp_%s.XXXXXX", name);
	return n > 0 && (size_t)n < cap && mkdtemp(dir) != NULL;
}

/* A scratch directory and the device a test makes in it. */
struct fixture {
	char dir[64];
	struct pp_amt_device *dev;
};

/* A fixture with its directory made; NULL when it cannot be. */
static inline struct fixture *fw_fixture_new(const char *name)
{
	struct fixture *f = calloc(1, sizeof(*f));
	if (f && !fw_tempdir(f->dir, sizeof(f->dir), name)) {
		free(f);
		return NULL;
	}
	return f;
}

/* The cmocka teardown of a struct fixture: the device, the directory. */
static inline int fw_teardown(void **state)
{
	struct fixture *f = *state;
	pp_amt_free(f->dev);
	rm_tree(f->dir);
	free(f);
	return 0;
}

/* Pre-Setup -> In-Setup with the example key and PW1 (the factory load). */
static inline void fw_load_example_key(struct pp_amt_device *d)
{
	struct pp_err err = {0};
	if (pp_amt_load_key(d, EX_PID, EX_PPS, PW1, NULL, &err) < 0)
		fail_msg("load_key: %s", err.msg);
}

#endif
