/* lib/usecase/usb over a temporary SQLite store: a setup.bin for a batch, a used one
 * reconciled back, and the failures with their one-line texts (never a PPS). */
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

#include "core/bytes.h"
#include "core/err.h"
#include "core/fileio.h"
#include "core/secret.h"
#include "keys/keys.h"
#include "proto/setupbin.h"
#include "store/store.h"
#include "usecase/usb.h"

#include "usecase_fixture.h"

#define NKEYS 5

struct fixture {
	struct uc_store u;
	char out[300];
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	if (!f || uc_store_open(&f->u, "ucusb") < 0)
		return -1;
	snprintf(f->out, sizeof(f->out), "%s/setup.bin", f->u.dir);
	for (int i = 0; i < NKEYS; i++)
		uc_add_key(&f->u, PP_KEY_AVAILABLE);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	uc_store_close(&f->u);
	free(f);
	return 0;
}

static size_t count_state(struct fixture *f, enum pp_key_state st)
{
	size_t n = 0;
	struct pp_err err = {0};
	for (int i = 0; i < NKEYS; i++) {
		struct pp_key_info k;
		assert_int_equal(pp_store_key_get(f->u.s, f->u.pid[i], &k, &err), 0);
		n += k.state == st;
	}
	return n;
}

static void count_progress(void *ctx, uint64_t done, uint64_t total)
{
	uint64_t *calls = ctx;
	assert_true(done >= 1 && done <= total);
	(*calls)++;
}

static struct pp_uc_usb_create_opts create_opts(struct fixture *f, uint32_t count)
{
	struct pp_uc_usb_create_opts o = {.batch = "b1",
					  .out_path = f->out,
					  .count = count,
					  .version = 1,
					  .have_server_ipv4 = true,
					  .server_ipv4 = {127, 0, 0, 1},
					  .server_port = 9971,
					  .actor = "test"};
	return o;
}

static void load_file(const char *path, struct pp_usb_file *uf)
{
	struct pp_buf b;
	struct pp_err err = {0};
	pp_buf_init(&b, 1 << 20);
	assert_int_equal(pp_file_read(path, 1 << 20, &b, &err), 0);
	memset(uf, 0, sizeof(*uf));
	if (pp_usb_file_parse(b.data, b.len, uf, &err) < 0)
		fail_msg("parse: %s", err.msg);
	pp_buf_free_wipe(&b);
}

static void test_create(void **state)
{
	struct fixture *f = *state;
	struct pp_err err = {0};
	uint64_t calls = 0;
	struct pp_uc_usb_create_opts o = create_opts(f, 3);
	o.progress = count_progress;
	o.progress_ctx = &calls;
	struct pp_uc_usb_create_result r;
	if (pp_uc_usb_create(f->u.s, &o, &r, &err) < 0)
		fail_msg("create: %s", err.msg);
	assert_int_equal(r.records, 3);
	assert_int_equal(r.version, 1);
	assert_int_equal(r.file_bytes, 512 * 4);
	assert_int_equal(calls, 3);
	struct stat st;
	assert_int_equal(stat(f->out, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	assert_int_equal(st.st_size, 512 * 4);
	assert_int_equal(count_state(f, PP_KEY_EXPORTED), 3);
	struct pp_usb_file uf;
	load_file(f->out, &uf);
	assert_int_equal(uf.n_records, 3);
	char pid[16], pps[40];
	assert_int_equal(pp_usb_record_get_string(&uf.records[0], PP_USB_MOD_AMT, PP_USB_AMT_PID,
						  pid, sizeof(pid), &err),
			 0);
	assert_int_equal(pp_usb_record_get_string(&uf.records[0], PP_USB_MOD_AMT, PP_USB_AMT_PPS,
						  pps, sizeof(pps), &err),
			 0);
	bool found = false;
	for (int i = 0; i < NKEYS; i++)
		found |= !strcmp(pid, f->u.pid[i]) && !strcmp(pps, f->u.pps[i]);
	assert_true(found);
	pp_wipe(pps, sizeof(pps));
	pp_usb_file_free(&uf);
}

static void test_create_too_many(void **state)
{
	struct fixture *f = *state;
	struct pp_err err = {0};
	struct pp_uc_usb_create_opts o = create_opts(f, NKEYS + 1);
	struct pp_uc_usb_create_result r;
	assert_int_equal(pp_uc_usb_create(f->u.s, &o, &r, &err), -PP_ENOTFOUND);
	uc_expect_err(&f->u, &err, "batch 'b1' has 5 available keys; --count asks for 6");
	assert_int_equal(access(f->out, F_OK), -1);
	assert_int_equal(count_state(f, PP_KEY_AVAILABLE), NKEYS);
}

static int tmp_files(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	int n = 0;
	assert_non_null(d);
	while ((e = readdir(d)))
		n += strstr(e->d_name, ".tmp") != NULL;
	closedir(d);
	return n;
}

static void test_create_exists(void **state)
{
	struct fixture *f = *state;
	struct pp_err err = {0};
	struct pp_uc_usb_create_result r;
	FILE *fp = fopen(f->out, "w");
	assert_non_null(fp);
	fputs("keep", fp);
	fclose(fp);
	struct pp_uc_usb_create_opts o = create_opts(f, 2);
	assert_int_equal(pp_uc_usb_create(f->u.s, &o, &r, &err), -PP_EEXIST);
	uc_expect_err(&f->u, &err, "already exists; not overwriting");
	struct stat st;
	assert_int_equal(stat(f->out, &st), 0);
	assert_int_equal(st.st_size, 4);
	/* Rolled back: no key exported, no temporary file left. */
	assert_int_equal(count_state(f, PP_KEY_AVAILABLE), NKEYS);
	assert_int_equal(tmp_files(f->u.dir), 0);
}

static void test_create_refusals(void **state)
{
	struct fixture *f = *state;
	struct pp_err err = {0};
	struct pp_uc_usb_create_result r;
	struct pp_uc_usb_create_opts o[5];
	static const int codes[5] = {PP_ENOTFOUND, PP_EINVAL, PP_EINVAL, PP_EINVAL, PP_EINVAL};
	static const char *const texts[5] = {
	    "no batch named 'nosuch'", "--format: v5 is not v1, v2, v3 or v4",
	    "give --server or --server-fqdn, not both", "'-bad-' is not a DNS name",
	    "--current-password: 1 to 32 characters"};
	for (int i = 0; i < 5; i++)
		o[i] = create_opts(f, 1);
	o[0].batch = "nosuch";
	o[1].version = 5;
	o[2].server_fqdn = "a.example";
	o[3].have_server_ipv4 = false;
	o[3].server_fqdn = "-bad-";
	o[4].current_password = "";
	for (int i = 0; i < 5; i++) {
		assert_int_equal(pp_uc_usb_create(f->u.s, &o[i], &r, &err), -codes[i]);
		uc_expect_err(&f->u, &err, texts[i]);
	}
	assert_int_equal(access(f->out, F_OK), -1);
	assert_int_equal(count_state(f, PP_KEY_AVAILABLE), NKEYS);
}

/* Clears the valid flag of record n (1-based), as the firmware does when it takes it. */
static void consume_record(const char *path, unsigned n)
{
	FILE *fp = fopen(path, "r+b");
	assert_non_null(fp);
	assert_int_equal(fseek(fp, 512L * n + 4, SEEK_SET), 0);
	assert_int_equal(fputc(0, fp), 0);
	fclose(fp);
}

static void create_all(struct fixture *f)
{
	struct pp_err err = {0};
	struct pp_uc_usb_create_result r;
	struct pp_uc_usb_create_opts o = create_opts(f, 0);
	if (pp_uc_usb_create(f->u.s, &o, &r, &err) < 0)
		fail_msg("create: %s", err.msg);
	assert_int_equal(r.records, NKEYS);
}

static void test_reconcile(void **state)
{
	struct fixture *f = *state;
	struct pp_err err = {0};
	create_all(f);
	consume_record(f->out, 1);
	consume_record(f->out, 2);
	struct pp_uc_reconcile_opts o = {.path = f->out, .actor = "test"};
	struct pp_uc_reconcile_result r;
	if (pp_uc_usb_reconcile(f->u.s, &o, &r, &err) < 0)
		fail_msg("reconcile: %s", err.msg);
	assert_int_equal(r.n_rows, NKEYS);
	assert_int_equal(r.consumed, 2);
	assert_int_equal(r.marked_in_use, 2);
	assert_int_equal(r.never_heard_from, 2);
	assert_int_equal(r.still_valid, NKEYS - 2);
	assert_int_equal(r.unknown_to_store, 0);
	assert_int_equal(r.rows[0].record_state, PP_UC_REC_CONSUMED);
	assert_true(r.rows[0].known);
	assert_int_equal(r.rows[0].key_state, PP_KEY_IN_USE);
	assert_false(r.rows[0].heard_from);
	assert_int_equal(r.rows[2].record_state, PP_UC_REC_VALID);
	assert_int_equal(pp_uc_reconcile_unknown_err(&r, f->out, &err), 0);
	pp_uc_reconcile_result_free(&r);
	assert_int_equal(count_state(f, PP_KEY_IN_USE), 2);
	/* Again: nothing more to mark. */
	assert_int_equal(pp_uc_usb_reconcile(f->u.s, &o, &r, &err), 0);
	assert_int_equal(r.consumed, 2);
	assert_int_equal(r.marked_in_use, 0);
	pp_uc_reconcile_result_free(&r);
}

static void test_reconcile_other_store(void **state)
{
	struct fixture *f = *state;
	struct pp_err err = {0};
	create_all(f);
	char other[320];
	snprintf(other, sizeof(other), "%s/other.db", f->u.dir);
	struct pp_store *s2 = NULL;
	assert_int_equal(pp_store_open_sqlite(other, &f->u.mk, true, &s2, &err), 0);
	struct pp_uc_reconcile_opts o = {.path = f->out, .actor = "test"};
	struct pp_uc_reconcile_result r;
	assert_int_equal(pp_uc_usb_reconcile(s2, &o, &r, &err), 0);
	assert_int_equal(r.unknown_to_store, NKEYS);
	assert_false(r.rows[0].known);
	assert_int_equal(pp_uc_reconcile_unknown_err(&r, f->out, &err), -PP_ENOTFOUND);
	uc_expect_err(&f->u, &err, "5 records hold keys this store does not know");
	pp_uc_reconcile_result_free(&r);
	pp_store_close(s2);
}

static void test_reconcile_bad_file(void **state)
{
	struct fixture *f = *state;
	struct pp_err err = {0};
	create_all(f);
	assert_int_equal(truncate(f->out, 1000), 0);
	struct pp_uc_reconcile_opts o = {.path = f->out, .actor = "test"};
	struct pp_uc_reconcile_result r;
	assert_true(pp_uc_usb_reconcile(f->u.s, &o, &r, &err) < 0);
	uc_expect_err(&f->u, &err, f->out);
	pp_uc_reconcile_result_free(&r);
	o.path = "/nonexistent/setup.bin";
	assert_int_equal(pp_uc_usb_reconcile(f->u.s, &o, &r, &err), -PP_ENOTFOUND);
	uc_expect_err(&f->u, &err, "cannot open");
	pp_uc_reconcile_result_free(&r);
	/* Nothing changed: the keys stay exported. */
	assert_int_equal(count_state(f, PP_KEY_EXPORTED), NKEYS);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_create, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_create_too_many, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_create_exists, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_create_refusals, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_reconcile, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_reconcile_other_store, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_reconcile_bad_file, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
