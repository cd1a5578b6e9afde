#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "core/address.h"

static void test_forms(void **state)
{
	(void)state;
	struct pp_address a;
	struct pp_err err = {0};
	assert_int_equal(
	    pp_address_parse("127.0.0.1", 9971, PP_ADDR_LOOPBACK, "--server", &a, &err), 0);
	assert_string_equal(a.hostport, "127.0.0.1:9971");
	assert_string_equal(a.path, "");
	assert_int_equal(pp_address_parse("127.1.2.3:1234", 9971, 0, "--server", &a, &err), 0);
	assert_int_equal(a.port, 1234);
	assert_memory_equal(a.ip, "\x7f\x01\x02\x03", 4);
	assert_int_equal(pp_address_parse("HTTP://127.0.0.1:8971/api/v1/hello?x=1", 80,
					  PP_ADDR_LOOPBACK | PP_ADDR_PATH, "--server", &a, &err),
			 0);
	assert_string_equal(a.path, "/api/v1/hello?x=1");
	assert_string_equal(a.host, "127.0.0.1");
	assert_int_equal(
	    pp_address_parse("http://127.0.0.1", 80, PP_ADDR_PATH, "--server", &a, &err), 0);
	assert_int_equal(a.port, 80);
	assert_int_equal(pp_address_parse("0.0.0.0:1", 0, PP_ADDR_LOOPBACK | PP_ADDR_ANY_OK,
					  "--server", &a, &err),
			 0);
}

static void expect_error(const char *s, unsigned flags, uint16_t def, const char *needle)
{
	struct pp_address a;
	struct pp_err err = {0};
	assert_true(pp_address_parse(s, def, flags, "--server", &a, &err) < 0);
	if (!strstr(err.msg, needle))
		fail_msg("'%s': error '%s' does not say '%s'", s, err.msg, needle);
	assert_non_null(strstr(err.msg, "--server"));
}

static void test_refusals(void **state)
{
	(void)state;
	expect_error("", 0, 1, "empty");
	expect_error("https://127.0.0.1", 0, 1, "only http://");
	expect_error("ftp://127.0.0.1", 0, 1, "only http://");
	expect_error("http://admin:secret@127.0.0.1/", PP_ADDR_PATH, 1, "user information");
	expect_error("localhost:80", 0, 1, "must be an IPv4 address");
	expect_error("127.0.0.256", 0, 1, "must be an IPv4 address");
	expect_error("127.0.0.1:0", 0, 1, "port must be 1 to 65535");
	expect_error("127.0.0.1:65536", 0, 1, "port must be 1 to 65535");
	expect_error("127.0.0.1:", 0, 1, "port must be 1 to 65535");
	expect_error("127.0.0.1:8x", 0, 1, "port must be 1 to 65535");
	expect_error("127.0.0.1", 0, 0, "a port is needed");
	expect_error("127.0.0.1/x", 0, 1, "no path is expected");
	expect_error("10.0.0.1:80", PP_ADDR_LOOPBACK, 1, "not a loopback address");
	expect_error("0.0.0.0:80", PP_ADDR_LOOPBACK, 1, "not a loopback address");
	expect_error("http://127.0.0.1/a b", PP_ADDR_PATH, 1, "space or control");
	char long_path[1100] = "http://127.0.0.1/";
	memset(long_path + strlen(long_path), 'a', 1050);
	long_path[sizeof(long_path) - 1] = '\0';
	expect_error(long_path, PP_ADDR_PATH, 1, "path over");
	expect_error("1234567890123456789012345678901234567890", 0, 1, "expected an IPv4");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_forms),
	    cmocka_unit_test(test_refusals),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
