/* Server-Sent Events framing (lib/core/sse.h): a data line per payload line, no
 * injection through line breaks, names checked, the ceiling kept. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "core/sse.h"

static void expect_frame(const char *name, const char *data, const char *want)
{
	struct pp_buf b;
	pp_buf_init(&b, 4096);
	assert_int_equal(pp_sse_event(&b, name, data, strlen(data)), 0);
	assert_int_equal(pp_buf_cstr(&b), 0);
	assert_string_equal((const char *)b.data, want);
	pp_buf_free(&b);
}

static void test_one_line(void **state)
{
	(void)state;
	expect_frame("progress", "{\"a\":1}", "event: progress\ndata: {\"a\":1}\n\n");
	expect_frame("device", "", "event: device\ndata: \n\n");
}

/* LF, CR and CRLF each start a new data line: the payload cannot end the event or
 * start a field of its own. */
static void test_line_breaks_cannot_inject(void **state)
{
	(void)state;
	expect_frame("device", "x\n\nevent: evil\ndata: y",
		     "event: device\ndata: x\ndata: \ndata: event: evil\ndata: data: y\n\n");
	expect_frame("device", "a\rb\r\nc\n",
		     "event: device\ndata: a\ndata: b\ndata: c\ndata: \n\n");
}

static void test_bad_names(void **state)
{
	(void)state;
	struct pp_buf b;
	pp_buf_init(&b, 4096);
	assert_int_equal(pp_sse_event(&b, "", "x", 1), -PP_EINVAL);
	assert_int_equal(pp_sse_event(&b, "a\nb", "x", 1), -PP_EINVAL);
	assert_int_equal(pp_sse_event(&b, "Progress", "x", 1), -PP_EINVAL);
	assert_int_equal(pp_sse_event(&b, "a23456789012345678901234567890123", "x", 1), -PP_EINVAL);
	assert_int_equal(pp_sse_event(&b, "ok", "a\0b", 3), -PP_EINVAL);
	assert_int_equal(b.len, 0);
	pp_buf_free(&b);
}

static void test_ceiling_keeps_what_was_there(void **state)
{
	(void)state;
	struct pp_buf b;
	pp_buf_init(&b, 40);
	assert_int_equal(pp_sse_event(&b, "a", "short", 5), 0);
	size_t had = b.len;
	assert_int_equal(pp_sse_event(&b, "a", "a payload far longer than the ceiling", 37),
			 -PP_ETOOBIG);
	assert_int_equal(b.len, had);
	assert_int_equal(pp_sse_comment(&b, "a comment far longer than the ceiling allows"),
			 -PP_ETOOBIG);
	assert_int_equal(b.len, had);
	pp_buf_free(&b);
}

static void test_comment(void **state)
{
	(void)state;
	struct pp_buf b;
	pp_buf_init(&b, 4096);
	assert_int_equal(pp_sse_comment(&b, "ping"), 0);
	assert_int_equal(pp_sse_comment(&b, "a\nevent: x"), -PP_EINVAL);
	assert_int_equal(pp_sse_comment(&b, "a\rb"), -PP_EINVAL);
	assert_int_equal(pp_buf_cstr(&b), 0);
	assert_string_equal((const char *)b.data, ": ping\n\n");
	pp_buf_free(&b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_one_line),  cmocka_unit_test(test_line_breaks_cannot_inject),
	    cmocka_unit_test(test_bad_names), cmocka_unit_test(test_ceiling_keeps_what_was_there),
	    cmocka_unit_test(test_comment),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
