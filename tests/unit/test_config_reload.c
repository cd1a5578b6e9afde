/* SIGHUP's half in lib/config: drain_seconds and log_level, and pp_config_reload (what
 * a running server takes from the file, what it names as needing a restart). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "config/config.h"

static void parse(struct pp_config *c, const char *text)
{
	struct pp_err err = {0};
	pp_config_defaults(c);
	int rc = pp_config_parse(c, text, "pskprov.conf", &err);
	if (rc < 0)
		fail_msg("%s", err.msg);
}

static void new_keys(void **state)
{
	(void)state;
	struct pp_config c;
	pp_config_defaults(&c);
	assert_int_equal(c.drain_seconds, 10);
	assert_string_equal(pp_config_log_levels[c.log_level], "info");
	parse(&c, "[server]\ndrain_seconds = 0\nlog_level = debug\n");
	assert_int_equal(c.drain_seconds, 0);
	assert_int_equal(c.log_level, 0);
	parse(&c, "[server]\nlog_level = error\ndrain_seconds = 3600\n");
	assert_int_equal(c.log_level, 3);
	assert_int_equal(c.drain_seconds, 3600);
	static const char *const bad[] = {
	    "[server]\ndrain_seconds = 3601\n", "[server]\ndrain_seconds = -1\n",
	    "[server]\nlog_level = verbose\n",  "[server]\nlog_level = INFO\n",
	    "[store]\nlog_level = info\n",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct pp_err err = {0};
		pp_config_defaults(&c);
		assert_true(pp_config_parse(&c, bad[i], "pskprov.conf", &err) < 0);
		assert_non_null(strstr(err.msg, "pskprov.conf:"));
	}
}

static void reload_live_keys(void **state)
{
	(void)state;
	struct pp_config file, live, fresh;
	parse(&file, "[server]\nio_timeout_ms = 1000\n");
	live = file;
	live.api_port = 18971; /* --api on the command line: not the file's */
	parse(&fresh, "[server]\nio_timeout_ms = 2000\nsession_timeout_ms = 1000\n"
		      "max_sessions = 7\ndrain_seconds = 1\nlog_level = warn\n");
	char restart[128];
	int n = pp_config_reload(&live, &file, &fresh, restart, sizeof(restart));
	assert_int_equal(n, 5);
	assert_string_equal(restart, "");
	assert_int_equal(live.io_timeout_ms, 2000);
	assert_int_equal(live.session_timeout_ms, 1000);
	assert_int_equal(live.max_sessions, 7);
	assert_int_equal(live.drain_seconds, 1);
	assert_int_equal(live.log_level, 2);
	assert_int_equal(file.log_level, 2);
	assert_int_equal(live.api_port, 18971); /* the command line stays */
	/* The same file again: nothing changes. */
	assert_int_equal(pp_config_reload(&live, &file, &fresh, restart, sizeof(restart)), 0);
	assert_string_equal(restart, "");
}

static void reload_needs_restart(void **state)
{
	(void)state;
	struct pp_config file, live, fresh;
	parse(&file, "");
	live = file;
	parse(&fresh, "[server]\nhello = 127.0.0.2:9971\ntls_profile = tls12\n"
		      "exchange_timeout_ms = 500\n[provision]\ndomain = corp.test\n");
	char restart[128];
	int n = pp_config_reload(&live, &file, &fresh, restart, sizeof(restart));
	assert_int_equal(n, 1);
	assert_string_equal(restart, "hello, tls_profile, domain");
	assert_int_equal(live.exchange_timeout_ms, 500);
	assert_int_equal(live.hello_ip[3], 1); /* kept */
	assert_string_equal(live.tls_profile, "compat");
	assert_string_equal(live.domain, "example.test");
	/* Named again at every reload until the restart. */
	assert_int_equal(pp_config_reload(&live, &file, &fresh, restart, sizeof(restart)), 0);
	assert_string_equal(restart, "hello, tls_profile, domain");
	/* A short buffer: cut at a whole name, still a string. */
	char small[12];
	assert_int_equal(pp_config_reload(&live, &file, &fresh, small, sizeof(small)), 0);
	assert_string_equal(small, "hello");
	/* A string key compares by value, not by the bytes after its end. */
	struct pp_config odd = file;
	memset(odd.domain, 'x', sizeof(odd.domain));
	memcpy(odd.domain, "example.test", sizeof("example.test"));
	assert_int_equal(pp_config_reload(&live, &file, &odd, restart, sizeof(restart)), 0);
	assert_string_equal(restart, "");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(new_keys),
	    cmocka_unit_test(reload_live_keys),
	    cmocka_unit_test(reload_needs_restart),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
