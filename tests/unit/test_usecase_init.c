/* lib/usecase/init: a new data directory (config and key 0600, SQLite store), refused
 * over an existing one, a given master key writes no key file, --postgres checks. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "core/err.h"
#include "store/masterkey.h"
#include "usecase/init.h"

struct fixture {
	char base[256];
	char dir[300], conf[320], key[320], db[320];
	struct pp_uc_init_opts o;
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	const char *tmp = getenv("TMPDIR");
	if (!f)
		return -1;
	snprintf(f->base, sizeof(f->base), "%s/pp-ucinit-XXXXXX", tmp && *tmp ? tmp : "/tmp");
	if (!mkdtemp(f->base))
		return -1;
	snprintf(f->dir, sizeof(f->dir), "%s/data", f->base);
	snprintf(f->conf, sizeof(f->conf), "%s/pskprov.conf", f->dir);
	snprintf(f->key, sizeof(f->key), "%s/master.key", f->dir);
	snprintf(f->db, sizeof(f->db), "%s/pskprov.db", f->dir);
	f->o = (struct pp_uc_init_opts){.dir = f->dir,
					.config_path = f->conf,
					.key_path = f->key,
					.db_path = f->db,
					.config_text = "# test\n",
					.actor = "test"};
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	static const char *const names[] = {"pskprov.conf", "master.key", "pskprov.db",
					    "pskprov.db-wal", "pskprov.db-shm"};
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		char p[400];
		snprintf(p, sizeof(p), "%s/%s", f->dir, names[i]);
		unlink(p);
	}
	rmdir(f->dir);
	rmdir(f->base);
	free(f);
	return 0;
}

static void expect_mode(const char *path, unsigned mode)
{
	struct stat st;
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, mode);
}

static void test_init(void **state)
{
	struct fixture *f = *state;
	struct pp_err err = {0};
	struct pp_uc_init_result r;
	if (pp_uc_init(&f->o, &r, &err) < 0)
		fail_msg("init: %s", err.msg);
	assert_true(r.created_key);
	assert_false(r.joined);
	assert_false(r.dir_open);
	expect_mode(f->dir, 0700);
	expect_mode(f->conf, 0600);
	expect_mode(f->key, 0600);
	expect_mode(f->db, 0600);
	/* A second time: refused, nothing touched. */
	assert_int_equal(pp_uc_init(&f->o, &r, &err), -PP_EEXIST);
	if (!strstr(err.msg, "already holds a pskprov data set; not overwriting"))
		fail_msg("message: %s", err.msg);
	assert_false(r.created_key);
	expect_mode(f->key, 0600);
}

static void test_init_given_key(void **state)
{
	struct fixture *f = *state;
	struct pp_err err = {0};
	struct pp_uc_init_result r;
	struct pp_master_key mk;
	memset(&mk, 0x42, sizeof(mk));
	f->o.given = &mk;
	if (pp_uc_init(&f->o, &r, &err) < 0)
		fail_msg("init: %s", err.msg);
	assert_false(r.created_key);
	assert_int_equal(access(f->key, F_OK), -1);
	expect_mode(f->db, 0600);
}

static void test_postgres_check(void **state)
{
	struct fixture *f = *state;
	struct pp_err err = {0};
	struct pp_uc_init_result r;
	f->o.postgres = "host=x password=y";
	assert_int_equal(pp_uc_init(&f->o, &r, &err), -PP_EINVAL);
	assert_non_null(strstr(err.msg, "keep the password in ~/.pgpass"));
	assert_null(strstr(err.msg, "password=y"));
	f->o.postgres = "host=x; drop";
	assert_int_equal(pp_uc_init_check(&f->o, &err), -PP_EINVAL);
	assert_string_equal(err.msg, "--postgres: not a usable conninfo");
	f->o.postgres = "";
	assert_int_equal(pp_uc_init_check(&f->o, &err), -PP_EINVAL);
	/* Refused before anything was made. */
	assert_int_equal(access(f->dir, F_OK), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_init, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_init_given_key, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_postgres_check, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
