#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "config/config.h"

#define POISON 0x5a

/* The file `pskprov init` writes with every key uncommented: "# key = value ; note"
 * becomes "key = value"; continuation lines ("#   ; ...") and keys without a value
 * are left out. */
static void uncomment_default_text(char *out, size_t cap)
{
	const char *p = pp_config_default_text();
	size_t n = 0;
	while (*p) {
		const char *eol = strchr(p, '\n');
		size_t len = eol ? (size_t)(eol - p) : strlen(p);
		char line[256];
		assert_true(len < sizeof(line));
		memcpy(line, p, len);
		line[len] = '\0';
		p += len + (eol ? 1 : 0);
		const char *l = line;
		if (l[0] == '#' && l[1] == ' ' && l[2] != ' ')
			l += 2;
		else if (l[0] == '#')
			continue;
		char *semi = strchr(line, ';');
		if (semi)
			*semi = '\0';
		size_t ll = strlen(l);
		while (ll > 0 && l[ll - 1] == ' ')
			ll--;
		if (ll > 0 && l[ll - 1] == '=')
			continue; /* "postgres_url =": no default value */
		if (strchr(l, '=') == NULL && l[0] != '[')
			continue; /* the title line */
		assert_true(n + ll + 1 < cap);
		memcpy(out + n, l, ll);
		n += ll;
		out[n++] = '\n';
	}
	out[n] = '\0';
}

#define SAME(f) assert_int_equal(got.f, want.f)
#define SAME_STR(f) assert_string_equal(got.f, want.f)

/* The loader's defaults are what the commented default file says they are: every key of
 * the file, uncommented and parsed over a poisoned struct, gives pp_config_defaults. */
static void test_default_text_is_the_defaults(void **state)
{
	(void)state;
	struct pp_config want, got;
	struct pp_err err = {0};
	char text[8192];
	pp_config_defaults(&want);
	memset(&got, POISON, sizeof(got));
	got.postgres_url[0] = '\0';
	uncomment_default_text(text, sizeof(text));
	assert_non_null(strstr(text, "[server]\nhello = 127.0.0.1:9971\n"));
	assert_non_null(strstr(text, "lockout_seconds = 900\n"));
	if (pp_config_parse(&got, text, "t.conf", &err) != 0)
		fail_msg("the uncommented default file does not parse: %s\n%s", err.msg, text);
	assert_memory_equal(got.hello_ip, want.hello_ip, 4);
	assert_memory_equal(got.api_ip, want.api_ip, 4);
	SAME(hello_port);
	SAME(api_port);
	SAME(device_port);
	SAME(device_http_port);
	SAME_STR(tls_profile);
	SAME(workers);
	SAME(max_sessions);
	SAME(connect_timeout_ms);
	SAME(io_timeout_ms);
	SAME(exchange_timeout_ms);
	SAME(session_timeout_ms);
	SAME(hello_deadline_ms);
	SAME(hello_per_source);
	SAME(hello_max_conns);
	SAME(api_max_conns);
	SAME(hello_rate_per_min);
	SAME(api_rate);
	SAME(api_burst);
	SAME(lease_seconds);
	SAME(max_attempts);
	SAME(backend);
	SAME_STR(admin_user);
	SAME(admin_password_length);
	SAME_STR(host_name_template);
	SAME_STR(domain);
	SAME(rotate_psk);
	SAME(set_time);
	SAME(mebx_password_length);
	SAME(lockout_failures);
	SAME(lockout_seconds);
	assert_string_equal(got.postgres_url, "");
}

/* The defaults themselves, as the loader (pp_config_defaults, then the file) sees them
 * when the file is the commented one `pskprov init` writes: comments change nothing. */
static void test_defaults(void **state)
{
	(void)state;
	struct pp_config c, before;
	struct pp_err err = {0};
	pp_config_defaults(&c);
	assert_int_equal(c.hello_ip[0], 127);
	assert_int_equal(c.hello_ip[3], 1);
	assert_int_equal(c.hello_port, 9971);
	assert_int_equal(c.api_port, 8971);
	assert_int_equal(c.device_port, 16993);
	assert_int_equal(c.device_http_port, 16992);
	assert_string_equal(c.tls_profile, "compat");
	assert_int_equal(c.backend, PP_BACKEND_SQLITE);
	assert_string_equal(c.admin_user, "admin");
	assert_true(c.rotate_psk);
	assert_int_equal(c.lockout_failures, 5);
	assert_int_equal(c.api_rate, 50);
	assert_int_equal(c.api_burst, 200);
	memcpy(&before, &c, sizeof(c));
	assert_int_equal(pp_config_parse(&c, pp_config_default_text(), "t.conf", &err), 0);
	assert_memory_equal(&c, &before, sizeof(c));
	assert_non_null(strstr(pp_config_default_text(), "# tls_profile = compat "));
}

/* pp_config_load reads a real file over the defaults; a missing file, a NUL byte or an
 * oversized file is refused with a message naming the path. */
static void test_load(void **state)
{
	(void)state;
	struct pp_config c;
	struct pp_err err = {0};
	char dir[] = "/tmp/pp-test-config.XXXXXX";
	char path[64];
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/pskprov.conf", dir);

	pp_config_defaults(&c);
	assert_true(pp_config_load(&c, path, &err) < 0);
	assert_non_null(strstr(err.msg, path));

	FILE *f = fopen(path, "w");
	assert_non_null(f);
	fputs("[server]\napi = 127.0.0.9:18971\nworkers = 4\n[keys]\nlockout_seconds = 60\n", f);
	assert_int_equal(fclose(f), 0);
	pp_config_defaults(&c);
	if (pp_config_load(&c, path, &err) != 0)
		fail_msg("load: %s", err.msg);
	assert_int_equal(c.api_ip[3], 9);
	assert_int_equal(c.api_port, 18971);
	assert_int_equal(c.workers, 4);
	assert_int_equal(c.lockout_seconds, 60);
	assert_int_equal(c.hello_port, 9971); /* not given: kept */

	f = fopen(path, "w");
	assert_non_null(f);
	fputs("[server]\n", f);
	fputc('\0', f);
	fputs("workers = 3\n", f);
	assert_int_equal(fclose(f), 0);
	err.msg[0] = '\0';
	assert_true(pp_config_load(&c, path, &err) < 0);
	assert_non_null(strstr(err.msg, "NUL"));

	f = fopen(path, "w");
	assert_non_null(f);
	for (int i = 0; i < PP_CONFIG_MAX_BYTES / 16 + 2; i++)
		fputs("; padding line.\n", f);
	assert_int_equal(fclose(f), 0);
	err.msg[0] = '\0';
	assert_true(pp_config_load(&c, path, &err) < 0);
	assert_int_equal(c.workers, 4); /* nothing applied */

	assert_int_equal(unlink(path), 0);
	assert_int_equal(rmdir(dir), 0);
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
	const char *api = "[server]\napi_rate = 5\napi_burst = 9\n";
	assert_int_equal(pp_config_parse(&c, api, "t.conf", &err), 0);
	assert_int_equal(c.api_rate, 5);
	assert_int_equal(c.api_burst, 9);
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
	expect_error("[server]\napi_rate = 0\n", "out of range");
	expect_error("[server]\napi_burst = 0\n", "out of range");
	expect_error("[server]\nhello_deadline_ms = x\n", "not a whole number");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_default_text_is_the_defaults),
	    cmocka_unit_test(test_defaults),
	    cmocka_unit_test(test_load),
	    cmocka_unit_test(test_values),
	    cmocka_unit_test(test_errors),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
