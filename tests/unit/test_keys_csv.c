#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "keys/csv.h"

struct rows {
	struct pp_key_record r[4];
	unsigned lines[4];
	int n;
};

static int collect(void *ctx, const struct pp_key_record *row, unsigned line)
{
	struct rows *rs = ctx;
	if (rs->n >= 4)
		return -PP_ETOOBIG;
	rs->r[rs->n] = *row;
	rs->lines[rs->n++] = line;
	return 0;
}

static int parse(const char *text, struct rows *rs, struct pp_err *err)
{
	memset(rs, 0, sizeof(*rs));
	return pp_csv_parse(text, strlen(text), collect, rs, err);
}

static void test_round_trip(void **state)
{
	(void)state;
	struct pp_key_record row;
	struct pp_err err = {0};
	memset(&row, 0, sizeof(row));
	assert_int_equal(pp_pid_parse("0000-037M", &row.pid, &err), 0);
	assert_int_equal(pp_pps_parse("NKLD-G5DC-RRNQ-E9YZ-ZIJL-7LFL-VJED-69XJ", &row.pps, &err),
			 0);
	memcpy(row.mebx, "Ab1!x#y$", 9);
	memcpy(row.batch, "b-1", 4);
	struct pp_buf b;
	pp_buf_init(&b, 4096);
	assert_int_equal(pp_csv_write_header(&b), 0);
	assert_int_equal(pp_csv_write_row(&b, &row), 0);
	assert_int_equal(pp_buf_cstr(&b), 0);
	assert_string_equal((char *)b.data, "pid,pps,mebx_password,batch\n"
					    "0000-037M,NKLD-G5DC-RRNQ-E9YZ-ZIJL-7LFL-VJED-69XJ,"
					    "Ab1!x#y$,b-1\n");
	struct rows rs;
	assert_int_equal(parse((char *)b.data, &rs, &err), 0);
	assert_int_equal(rs.n, 1);
	assert_int_equal(rs.lines[0], 2);
	assert_string_equal(rs.r[0].pid.s, "0000037M");
	assert_string_equal(rs.r[0].pps.s, "NKLDG5DCRRNQE9YZZIJL7LFLVJED69XJ");
	assert_string_equal(rs.r[0].mebx, "Ab1!x#y$");
	assert_string_equal(rs.r[0].batch, "b-1");
	pp_buf_free_wipe(&b);
}

/* CSV injection: cells starting with = + - @ are written "'=..." (quoted), and every
 * such value, including ones that start with a single quote, reads back unchanged. */
static void test_formula_round_trip(void **state)
{
	(void)state;
	static const struct {
		const char *mebx, *batch, *cells;
	} cases[] = {
	    {"=Ab1!cmd", "-b", "\"'=Ab1!cmd\",\"'-b\"\n"},
	    {"+Ab1!xyz", "b", "\"'+Ab1!xyz\",b\n"},
	    {"-Ab1!xyz", "@", "\"'-Ab1!xyz\",\"'@\"\n"}, /* '@' is no batch name */
	    {"@Ab1!xyz", "b", "\"'@Ab1!xyz\",b\n"},
	    {"'=Ab1!xy", "b", "\"''=Ab1!xy\",b\n"},
	    {"''Ab1!xy", "b", "\"'''Ab1!xy\",b\n"},
	    {"'Ab1!xyz", "b", "'Ab1!xyz,b\n"}, /* a quote before a letter is kept as is */
	    {"A=b1!xyz", "b", "A=b1!xyz,b\n"},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct pp_key_record row;
		struct pp_err err = {0};
		memset(&row, 0, sizeof(row));
		assert_int_equal(pp_pid_parse("0000-037M", &row.pid, &err), 0);
		assert_int_equal(
		    pp_pps_parse("NKLD-G5DC-RRNQ-E9YZ-ZIJL-7LFL-VJED-69XJ", &row.pps, &err), 0);
		memcpy(row.mebx, cases[i].mebx, strlen(cases[i].mebx) + 1);
		memcpy(row.batch, cases[i].batch, strlen(cases[i].batch) + 1);
		struct pp_buf b;
		pp_buf_init(&b, 4096);
		assert_int_equal(pp_csv_write_header(&b), 0);
		assert_int_equal(pp_csv_write_row(&b, &row), 0);
		assert_int_equal(pp_buf_cstr(&b), 0);
		const char *cells = strstr((char *)b.data, "69XJ,");
		assert_non_null(cells);
		assert_string_equal(cells + 5, cases[i].cells);
		struct rows rs;
		int rc = parse((char *)b.data, &rs, &err);
		if (!strcmp(cases[i].batch, "@")) {
			assert_true(rc < 0);
			assert_non_null(strstr(err.msg, "line 2: batch name"));
		} else {
			assert_int_equal(rc, 0);
			assert_string_equal(rs.r[0].mebx, cases[i].mebx);
			assert_string_equal(rs.r[0].batch, cases[i].batch);
		}
		pp_buf_free_wipe(&b);
	}
	/* Another tool's neutralised cells, unquoted, read the same. */
	struct rows rs;
	struct pp_err err = {0};
	assert_int_equal(parse("pid,pps,mebx_password,batch\n0000-037M,"
			       "NKLD-G5DC-RRNQ-E9YZ-ZIJL-7LFL-VJED-69XJ,'=Ab1!cmd,'-b\n",
			       &rs, &err),
			 0);
	assert_string_equal(rs.r[0].mebx, "=Ab1!cmd");
	assert_string_equal(rs.r[0].batch, "-b");
}

static void test_forms(void **state)
{
	(void)state;
	struct rows rs;
	struct pp_err err = {0};
	/* CRLF line ends, lower case, no dashes, blank lines, BOM. */
	const char *t = "\xEF\xBB\xBFpid,pps,mebx_password,batch\r\n"
			"0000037m,nkldg5dcrrnqe9yzzijl7lflvjed69xj,Passw0rd!,x\r\n\r\n";
	assert_int_equal(parse(t, &rs, &err), 0);
	assert_int_equal(rs.n, 1);
	assert_string_equal(rs.r[0].pid.s, "0000037M");
	/* RFC 4180 quoting, with a doubled quote, is read even where not needed. */
	const char *q =
	    "pid,pps,mebx_password,batch\n"
	    "\"0000-037M\",NKLD-G5DC-RRNQ-E9YZ-ZIJL-7LFL-VJED-69XJ,\"Passw0rd!\",\"x\"\n";
	assert_int_equal(parse(q, &rs, &err), 0);
	assert_string_equal(rs.r[0].mebx, "Passw0rd!");
	/* A quote inside a value is read (then refused by the password policy). */
	const char *dq = "pid,pps,mebx_password,batch\n"
			 "0000-037M,NKLD-G5DC-RRNQ-E9YZ-ZIJL-7LFL-VJED-69XJ,\"Pa\"\"ssw0rd!\",x\n";
	assert_true(parse(dq, &rs, &err) < 0);
	assert_non_null(strstr(err.msg, "line 2:"));
}

static void expect_bad(const char *text, const char *needle)
{
	struct rows rs;
	struct pp_err err = {0};
	assert_true(parse(text, &rs, &err) < 0);
	if (!strstr(err.msg, needle))
		fail_msg("message '%s' lacks '%s'", err.msg, needle);
	/* Never a secret in the message. */
	assert_null(strstr(err.msg, "NKLD"));
	assert_null(strstr(err.msg, "Passw0rd"));
}

#define HDR "pid,pps,mebx_password,batch\n"
#define PPS "NKLD-G5DC-RRNQ-E9YZ-ZIJL-7LFL-VJED-69XJ"

static void test_errors(void **state)
{
	(void)state;
	expect_bad("", "header");
	expect_bad("pid,pps,batch\n", "line 1: the header must be");
	expect_bad(HDR "0000-037M," PPS ",Passw0rd!\n", "line 2: 3 fields, expected 4");
	expect_bad(HDR "0000-037M," PPS ",Passw0rd!,b,extra\n", "more than 4 fields");
	expect_bad(HDR "0000-037N," PPS ",Passw0rd!,b\n", "line 2: PID");
	expect_bad(HDR "0000-037M,NKLD-G5DC-RRNQ-E9YZ-ZIJL-7LFL-VJED-69XK,Passw0rd!,b\n",
		   "line 2: PPS group 8");
	expect_bad(HDR "0000-037M," PPS ",password,b\n", "line 2:");
	expect_bad(HDR "0000-037M," PPS ",Passw0rd!,bad name\n", "line 2: batch name");
	expect_bad(HDR "0000-037M," PPS ",\"Passw0rd!,b\n", "unterminated quote");
	expect_bad(HDR "0000-037M," PPS ",\"Passw0rd!\"x,b\n", "text after a closing quote");
	expect_bad(HDR "0000-037M," PPS ",Pa\"ssw0rd!,b\n", "quote inside an unquoted field");
	expect_bad(HDR "0000-037M," PPS ",Passw0rd!,b\rX\n", "bare carriage return");
	char longline[1200];
	memset(longline, 'a', sizeof(longline) - 1);
	longline[sizeof(longline) - 1] = '\0';
	char buf[1400];
	snprintf(buf, sizeof(buf), HDR "%s\n", longline);
	expect_bad(buf, "line 2:");
}

static void test_nul_rejected(void **state)
{
	(void)state;
	const char t[] = HDR "0000-037M," PPS ",Pass\0w0rd!,b\n";
	struct rows rs;
	struct pp_err err = {0};
	memset(&rs, 0, sizeof(rs));
	assert_true(pp_csv_parse(t, sizeof(t) - 1, collect, &rs, &err) < 0);
	assert_non_null(strstr(err.msg, "NUL"));
}

static void test_batch_names(void **state)
{
	(void)state;
	struct pp_err err = {0};
	assert_int_equal(pp_batch_name_check("Batch_1.a-b", &err), 0);
	assert_true(pp_batch_name_check("", &err) < 0);
	assert_true(pp_batch_name_check("a/b", &err) < 0);
	char n65[66];
	memset(n65, 'a', 65);
	n65[65] = '\0';
	assert_true(pp_batch_name_check(n65, &err) < 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_round_trip),         cmocka_unit_test(test_forms),
	    cmocka_unit_test(test_formula_round_trip), cmocka_unit_test(test_errors),
	    cmocka_unit_test(test_nul_rejected),       cmocka_unit_test(test_batch_names),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
