/* lib/core/query.c: the API's query strings and cursors. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "core/query.h"

static const char *const allowed[] = {"state", "q", "limit", "cursor", "quarantined", NULL};

/* Parses text, expecting failure; returns the field named. */
static void expect_bad(const char *text, const char *field, const char *needle)
{
	struct pp_query q;
	struct pp_err err = {0};
	char f[32];
	assert_int_equal(pp_query_parse(text, allowed, &q, f, sizeof(f), &err), -PP_EINVAL);
	if (strcmp(f, field) != 0)
		fail_msg("'%s': field '%s', want '%s'", text, f, field);
	if (!strstr(err.msg, needle))
		fail_msg("'%s': message '%s' lacks '%s'", text, err.msg, needle);
}

static void test_parse(void **state)
{
	(void)state;
	struct pp_query q;
	struct pp_err err = {0};
	char f[32];
	assert_int_equal(pp_query_parse(NULL, allowed, &q, f, sizeof(f), &err), 0);
	assert_int_equal(q.n, 0);
	assert_int_equal(pp_query_parse("", allowed, &q, f, sizeof(f), &err), 0);
	assert_int_equal(
	    pp_query_parse("state=failed&q=amt%2D01+x&limit=5&cursor=", allowed, &q, f, 32, &err),
	    0);
	assert_int_equal(q.n, 4);
	assert_string_equal(pp_query_get(&q, "state"), "failed");
	assert_string_equal(pp_query_get(&q, "q"), "amt-01 x");
	assert_string_equal(pp_query_get(&q, "limit"), "5");
	assert_string_equal(pp_query_get(&q, "cursor"), "");
	assert_null(pp_query_get(&q, "quarantined"));
	assert_string_equal(f, "");
	/* A name without '=' has the empty value. */
	assert_int_equal(pp_query_parse("q", allowed, &q, f, sizeof(f), &err), 0);
	assert_string_equal(pp_query_get(&q, "q"), "");
}

static void test_parse_errors(void **state)
{
	(void)state;
	expect_bad("state=failed&bogus=1", "bogus", "unknown query parameter 'bogus'");
	expect_bad("state=a&state=b", "state", "given twice");
	expect_bad("=x", "", "malformed");
	expect_bad("q=%zz", "q", "bad %-escape");
	expect_bad("q=%4", "q", "bad %-escape");
	expect_bad("q=%0a", "q", "not printable");
	expect_bad("q=a&", "", "ends with '&'");
	char big[400];
	memset(big, 'a', sizeof(big));
	memcpy(big, "q=", 2);
	big[sizeof(big) - 1] = '\0';
	expect_bad(big, "q", "longer than 256");
	char huge[PP_QUERY_TEXT_MAX + 10];
	memset(huge, 'a', sizeof(huge));
	huge[sizeof(huge) - 1] = '\0';
	expect_bad(huge, "", "over 4096 bytes");
	char longname[64];
	memset(longname, 'n', sizeof(longname));
	longname[sizeof(longname) - 1] = '\0';
	expect_bad(longname, "", "malformed");
}

static void test_values(void **state)
{
	(void)state;
	struct pp_err err = {0};
	uint64_t x = 0;
	assert_int_equal(pp_query_u64("50", 1, 500, &x, "limit", &err), 0);
	assert_int_equal(x, 50);
	assert_int_equal(pp_query_u64("0", 0, 5, &x, "since", &err), 0);
	assert_int_equal(x, 0);
	const char *bad[] = {"", "0", "501", "-1", "+5", "05", "1e2", "5 ", "99999999999999999999"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(pp_query_u64(bad[i], 1, 500, &x, "limit", &err), -PP_EINVAL);
		assert_non_null(strstr(err.msg, "limit must be an integer from 1 to 500"));
	}
	bool b = false;
	assert_int_equal(pp_query_bool("true", &b, "quarantined", &err), 0);
	assert_true(b);
	assert_int_equal(pp_query_bool("false", &b, "quarantined", &err), 0);
	assert_false(b);
	assert_int_equal(pp_query_bool("1", &b, "quarantined", &err), -PP_EINVAL);
	static const char *const orders[] = {"asc", "desc", NULL};
	int o = -1;
	assert_int_equal(pp_query_enum("desc", orders, &o, "order", &err), 0);
	assert_int_equal(o, 1);
	assert_int_equal(pp_query_enum("up", orders, &o, "order", &err), -PP_EINVAL);
	assert_string_equal(err.msg, "order must be one of: asc, desc");
}

static void test_cursor_round_trip(void **state)
{
	(void)state;
	const char *f1[] = {"failed", NULL, "amt"}, *f2[] = {"failed", "", "amt"};
	uint64_t d1 = pp_query_digest(f1, 3), d2 = pp_query_digest(f2, 3);
	assert_true(d1 != d2); /* absent is not empty */
	const char *f3[] = {"failed", NULL, "amu"};
	assert_true(d1 != pp_query_digest(f3, 3));
	struct pp_cursor c = {
	    .kind = 1, .sort = 2, .desc = true, .filter = d1, .id = 12345, .num = -7};
	snprintf(c.text, sizeof(c.text), "%s", "amt-0102");
	char hex[PP_CURSOR_HEX_MAX + 1];
	assert_int_equal(pp_cursor_encode(&c, hex, sizeof(hex)), 0);
	struct pp_cursor want = {.kind = 1, .sort = 2, .desc = true, .filter = d1}, got;
	struct pp_err err = {0};
	assert_int_equal(pp_cursor_decode(hex, &want, &got, &err), 0);
	assert_int_equal(got.id, 12345);
	assert_int_equal(got.num, -7);
	assert_string_equal(got.text, "amt-0102");
	/* The longest text fits; a longer one is refused. */
	memset(c.text, 'x', PP_CURSOR_TEXT_MAX);
	c.text[PP_CURSOR_TEXT_MAX] = '\0';
	assert_int_equal(pp_cursor_encode(&c, hex, sizeof(hex)), 0);
	assert_int_equal(strlen(hex), PP_CURSOR_HEX_MAX);
	assert_int_equal(pp_cursor_decode(hex, &want, &got, &err), 0);
	assert_int_equal(strlen(got.text), PP_CURSOR_TEXT_MAX);
	assert_int_equal(pp_cursor_encode(&c, hex, PP_CURSOR_HEX_MAX), -PP_EINVAL);
}

static void test_cursor_refused(void **state)
{
	(void)state;
	struct pp_cursor c = {.kind = 1, .sort = 0, .filter = 42, .id = 9};
	char hex[PP_CURSOR_HEX_MAX + 1];
	assert_int_equal(pp_cursor_encode(&c, hex, sizeof(hex)), 0);
	struct pp_cursor got, want = c;
	struct pp_err err = {0};
	/* Another filter, sort, order or listing. */
	want.filter = 43;
	assert_int_equal(pp_cursor_decode(hex, &want, &got, &err), -PP_EINVAL);
	assert_non_null(strstr(err.msg, "another listing, sort or filter"));
	want = c;
	want.sort = 1;
	assert_int_equal(pp_cursor_decode(hex, &want, &got, &err), -PP_EINVAL);
	want = c;
	want.desc = true;
	assert_int_equal(pp_cursor_decode(hex, &want, &got, &err), -PP_EINVAL);
	want = c;
	want.kind = 2;
	assert_int_equal(pp_cursor_decode(hex, &want, &got, &err), -PP_EINVAL);
	/* Malformed: cut, extended, upper case, odd length, another version, garbage. */
	want = c;
	char bad[PP_CURSOR_HEX_MAX + 8];
	snprintf(bad, sizeof(bad), "%.*s", (int)strlen(hex) - 2, hex);
	assert_int_equal(pp_cursor_decode(bad, &want, &got, &err), -PP_EINVAL);
	assert_non_null(strstr(err.msg, "not one this server made"));
	snprintf(bad, sizeof(bad), "%s00", hex);
	assert_int_equal(pp_cursor_decode(bad, &want, &got, &err), -PP_EINVAL);
	snprintf(bad, sizeof(bad), "%s", hex);
	bad[2] = 'A';
	assert_int_equal(pp_cursor_decode(bad, &want, &got, &err), -PP_EINVAL);
	snprintf(bad, sizeof(bad), "%s0", hex);
	assert_int_equal(pp_cursor_decode(bad, &want, &got, &err), -PP_EINVAL);
	snprintf(bad, sizeof(bad), "02%s", hex + 2);
	assert_int_equal(pp_cursor_decode(bad, &want, &got, &err), -PP_EINVAL);
	assert_int_equal(pp_cursor_decode("", &want, &got, &err), -PP_EINVAL);
	assert_int_equal(pp_cursor_decode("zz", &want, &got, &err), -PP_EINVAL);
	/* A NUL byte inside the text. */
	struct pp_cursor t = c;
	snprintf(t.text, sizeof(t.text), "%s", "ab");
	assert_int_equal(pp_cursor_encode(&t, hex, sizeof(hex)), 0);
	size_t n = strlen(hex);
	hex[n - 1] = '0';
	hex[n - 2] = '0';
	assert_int_equal(pp_cursor_decode(hex, &want, &got, &err), -PP_EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_parse),          cmocka_unit_test(test_parse_errors),
	    cmocka_unit_test(test_values),         cmocka_unit_test(test_cursor_round_trip),
	    cmocka_unit_test(test_cursor_refused),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
