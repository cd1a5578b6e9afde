#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "config/config.h"

static void test_defaults_parse(void **state)
{
	(void)state;
	struct pp_config c;
	struct pp_err err = {0};
	pp_config_defaults(&c);
	/* The file init writes parses to the defaults. */
	assert_int_equal(pp_config_parse(&c, pp_config_default_text(), "t.conf", &err), 0);
	assert_int_equal(c.hello_port, 9971);
	assert_int_equal(c.device_port, 16993);
	assert_string_equal(c.tls_profile, "compat");
	assert_true(c.rotate_psk);
	/* init writes the default, commented out. */
	assert_non_null(strstr(pp_config_default_text(), "# tls_profile = compat "));
}

static void test_values(void **state)
{
	(void)state;
	struct pp_config c;
	struct pp_err err = {0};
	pp_config_defaults(&c);
	const char *profiles[] = {"compat", "tls12", "tls13", "amt-legacy"};
	for (size_t i = 0; i < 4; i++) {
		char line[64];
		snprintf(line, sizeof(line), "[server]\ntls_profile = %s\n", profiles[i]);
		assert_int_equal(pp_config_parse(&c, line, "t.conf", &err), 0);
		assert_string_equal(c.tls_profile, profiles[i]);
	}
	const char *text = "[server]\nhello = 127.0.0.2:19971\ntls_profile = tls13\n"
			   "[store]\nbackend = postgres\npostgres_url = dbname=x\n"
			   "[provision]\ndomain = corp.example\nrotate_psk = false\n";
	assert_int_equal(pp_config_parse(&c, text, "t.conf", &err), 0);
	assert_int_equal(c.hello_ip[3], 2);
	assert_int_equal(c.hello_port, 19971);
	assert_string_equal(c.tls_profile, "tls13");
	assert_int_equal(c.backend, PP_BACKEND_POSTGRES);
	assert_string_equal(c.postgres_url, "dbname=x");
	assert_string_equal(c.domain, "corp.example");
	assert_false(c.rotate_psk);
	/* Bounds on every wait and connection count (issue 9). */
	const char *bounds = "[server]\nexchange_timeout_ms = 1234\nsession_timeout_ms = 56789\n"
			     "hello_deadline_ms = 2500\nhello_per_source = 3\n"
			     "hello_max_conns = 100\napi_max_conns = 7\n";
	assert_int_equal(pp_config_parse(&c, bounds, "t.conf", &err), 0);
	assert_int_equal(c.exchange_timeout_ms, 1234);
	assert_int_equal(c.session_timeout_ms, 56789);
	assert_int_equal(c.hello_deadline_ms, 2500);
	assert_int_equal(c.hello_per_source, 3);
	assert_int_equal(c.hello_max_conns, 100);
	assert_int_equal(c.api_max_conns, 7);
}

static void expect_error(const char *text, const char *needle)
{
	struct pp_config c;
	struct pp_err err = {0};
	pp_config_defaults(&c);
	assert_true(pp_config_parse(&c, text, "t.conf", &err) < 0);
	if (!strstr(err.msg, needle))
		fail_msg("message '%s' lacks '%s'", err.msg, needle);
}

static void test_errors(void **state)
{
	(void)state;
	expect_error("[server]\nbogus = 1\n", "t.conf:2: unknown key 'bogus' in [server]");
	expect_error("[nope]\nx = 1\n", "unknown key 'x' in [nope]");
	expect_error("[server]\nhello = 300.0.0.1:1\n", "not an IPv4 address");
	expect_error("[server]\nhello = 127.0.0.1:70000\n", "out of range");
	expect_error("[server]\nworkers = -1\n", "not a whole number");
	expect_error("[server]\ntls_profile = ssl3\n",
		     "tls_profile: 'ssl3' is not compat, tls12, tls13 or amt-legacy");
	expect_error("[server]\ntls_profile = Compat\n", "'Compat' is not compat");
	expect_error("[server]\ntls_profile = compat2\n", "'compat2' is not compat");
	expect_error("[provision]\nrotate_psk = maybe\n", "not true or false");
	expect_error("[provision]\ndomain = bad..name\n", "not a DNS name");
	expect_error("[provision]\nadmin_user = a:b\n", "not allowed");
	expect_error("[server]\njust words\n", "t.conf:2:");
	expect_error("[server]\nexchange_timeout_ms = 5\n", "out of range");
	expect_error("[server]\nsession_timeout_ms = 99999999\n", "out of range");
	expect_error("[server]\nhello_per_source = 0\n", "out of range");
	expect_error("[server]\nhello_deadline_ms = x\n", "not a whole number");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_defaults_parse),
	    cmocka_unit_test(test_values),
	    cmocka_unit_test(test_errors),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
