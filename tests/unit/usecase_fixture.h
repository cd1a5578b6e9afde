/* Shared by the test_usecase_*.c tests: a temporary SQLite store with one batch "b1"
 * of keys with random PIDs and PPS, and the check of a one-line error text that holds
 * no PPS of the store. Include after <cmocka.h>. */
#ifndef PSKPROV_TEST_USECASE_FIXTURE_H
#define PSKPROV_TEST_USECASE_FIXTURE_H

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/err.h"
#include "keys/keys.h"
#include "store/store.h"

#define UC_KEYS_MAX 8

struct uc_store {
	char dir[256];
	char db[300];
	struct pp_master_key mk;
	struct pp_store *s;
	int64_t batch;
	size_t nkeys;
	char pid[UC_KEYS_MAX][9];
	char pps[UC_KEYS_MAX][33];
};

static int uc_store_open(struct uc_store *u, const char *tag)
{
	const char *base = getenv("TMPDIR");
	struct pp_err err = {0};
	snprintf(u->dir, sizeof(u->dir), "%s/pp-%s-XXXXXX", base && *base ? base : "/tmp", tag);
	if (!mkdtemp(u->dir))
		return -1;
	snprintf(u->db, sizeof(u->db), "%s/pskprov.db", u->dir);
	if (pp_random(u->mk.k, sizeof(u->mk.k)) < 0 ||
	    pp_store_open_sqlite(u->db, &u->mk, true, &u->s, &err) < 0) {
		fprintf(stderr, "setup: %s\n", err.msg);
		return -1;
	}
	struct pp_batch_new b = {.name = "b1"};
	return pp_store_batch_create(u->s, &b, &u->batch, &err);
}

/* Closes the store and removes every file of the directory, then the directory. */
static void uc_store_close(struct uc_store *u)
{
	pp_store_close(u->s);
	DIR *d = opendir(u->dir);
	struct dirent *e;
	while (d && (e = readdir(d))) {
		char p[600];
		if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) {
			snprintf(p, sizeof(p), "%s/%s", u->dir, e->d_name);
			unlink(p);
		}
	}
	if (d)
		closedir(d);
	rmdir(u->dir);
}

/* Key number u->nkeys of batch b1, in state st. */
static void uc_add_key(struct uc_store *u, enum pp_key_state st)
{
	struct pp_err err = {0};
	struct pp_pid pid;
	struct pp_pps pps;
	size_t i = u->nkeys++;
	assert_true(i < UC_KEYS_MAX);
	assert_int_equal(pp_pid_generate(&pid), 0);
	assert_int_equal(pp_pps_generate(&pps), 0);
	memcpy(u->pid[i], pid.s, sizeof(u->pid[i]));
	memcpy(u->pps[i], pps.s, sizeof(u->pps[i]));
	struct pp_key_new k = {.pid = pid.s,
			       .pps = pps.s,
			       .mebx_password = "Mebx!Pass1",
			       .batch_id = u->batch,
			       .state = st};
	if (pp_store_key_insert(u->s, &k, &err) < 0)
		fail_msg("key insert: %s", err.msg);
}

/* One line, holding needle, and no PPS of the store. */
static void uc_expect_err(const struct uc_store *u, const struct pp_err *err, const char *needle)
{
	if (!strstr(err->msg, needle))
		fail_msg("message '%s' lacks '%s'", err->msg, needle);
	assert_null(strchr(err->msg, '\n'));
	for (size_t i = 0; i < u->nkeys; i++)
		assert_null(strstr(err->msg, u->pps[i]));
}

#endif
