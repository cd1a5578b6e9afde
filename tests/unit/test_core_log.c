/* The program's log formats (src/prog/log.c): JSON lines and journal fields, the
 * escaping, the level filter, $JOURNAL_STREAM. */
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

#include "../../src/prog/log.c"

#define TS "2026-12-02T04:40:00.123Z"

static void json_all_fields(void **state)
{
	(void)state;
	const struct pp_log_fields f = {"8c5a1a0e-2f4b-4c6d-9e1f-0a1b2c3d4e5f", "ABCD1234", 42,
					"SetTLSPSK"};
	const struct pp_log_event ev = {TS, PP_LOG_WARN, "jobs", "job 42 retry", &f};
	char out[512];
	int n = pp_log_format_json(out, sizeof(out), &ev);
	const char *want = "{\"time\":\"" TS "\",\"level\":\"warn\",\"subsystem\":\"jobs\","
			   "\"message\":\"job 42 retry\","
			   "\"device_uuid\":\"8c5a1a0e-2f4b-4c6d-9e1f-0a1b2c3d4e5f\","
			   "\"pid\":\"ABCD1234\",\"job\":42,\"step\":\"SetTLSPSK\"}\n";
	assert_string_equal(out, want);
	assert_int_equal(n, (int)strlen(want));
}

static void json_no_fields(void **state)
{
	(void)state;
	const struct pp_log_fields f = {.pid = NULL, .job = 0};
	const struct pp_log_event ev = {TS, PP_LOG_DEBUG, "server", "up", &f};
	const struct pp_log_event ev2 = {TS, PP_LOG_ERROR, "server", "up", NULL};
	char a[256], b[256];
	assert_true(pp_log_format_json(a, sizeof(a), &ev) > 0);
	assert_string_equal(a, "{\"time\":\"" TS "\",\"level\":\"debug\",\"subsystem\":\"server\","
			       "\"message\":\"up\"}\n");
	assert_true(pp_log_format_json(b, sizeof(b), &ev2) > 0);
	assert_non_null(strstr(b, "\"level\":\"error\""));
	assert_null(strstr(b, "\"job\""));
}

/* RFC 8259 section 7: quote, backslash and control characters escaped; UTF-8 kept;
 * bytes that are not UTF-8 become U+FFFD, so the line is always valid JSON. */
static void json_escaping(void **state)
{
	(void)state;
	static const struct {
		const char *in, *want;
	} cases[] = {
	    {"say \"hi\"", "say \\\"hi\\\""},
	    {"C:\\dir", "C:\\\\dir"},
	    {"a\tb\x01"
	     "c\x1f"
	     "d\x7f",
	     "a\\u0009b\\u0001c\\u001fd\\u007f"},
	    {"caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80",
	     "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80"},
	    {"x\xffy", "x\\ufffdy"},
	    {"\xc0\x80", "\\ufffd\\ufffd"},                       /* overlong NUL */
	    {"\xed\xa0\x80", "\\ufffd\\ufffd\\ufffd"},            /* a surrogate */
	    {"\xf4\x90\x80\x80", "\\ufffd\\ufffd\\ufffd\\ufffd"}, /* above U+10FFFF */
	    {"cut \xe2\x82", "cut \\ufffd\\ufffd"},               /* a sequence cut short */
	    {"", ""},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct pp_log_event ev = {TS, PP_LOG_INFO, "t", cases[i].in, NULL};
		char out[512], want[512];
		snprintf(want, sizeof(want),
			 "{\"time\":\"" TS "\",\"level\":\"info\",\"subsystem\":\"t\","
			 "\"message\":\"%s\"}\n",
			 cases[i].want);
		assert_true(pp_log_format_json(out, sizeof(out), &ev) > 0);
		assert_string_equal(out, want);
	}
	/* Escaping in the fields too. */
	const struct pp_log_fields f = {.step = "a\"b\n"};
	const struct pp_log_event ev = {TS, PP_LOG_INFO, "t", "m", &f};
	char out[256];
	assert_true(pp_log_format_json(out, sizeof(out), &ev) > 0);
	assert_non_null(strstr(out, "\"step\":\"a\\\"b\\u000a\"}"));
}

static void json_too_small(void **state)
{
	(void)state;
	const struct pp_log_event ev = {TS, PP_LOG_INFO, "server", "hello", NULL};
	char out[256];
	int n = pp_log_format_json(out, sizeof(out), &ev);
	assert_true(n > 0);
	char exact[256];
	assert_int_equal(pp_log_format_json(exact, (size_t)n + 1, &ev), n);
	assert_string_equal(exact, out);
	assert_int_equal(pp_log_format_json(exact, (size_t)n, &ev), -PP_ETOOBIG);
	assert_int_equal(pp_log_format_json(exact, 0, &ev), -PP_ETOOBIG);
	/* Escapes count: six bytes for one control character. */
	const struct pp_log_event ctl = {TS, PP_LOG_INFO, "server", "\x01\x01\x01\x01", NULL};
	assert_int_equal(pp_log_format_json(exact, (size_t)n + 1, &ctl), -PP_ETOOBIG);
}

static void journal_fields(void **state)
{
	(void)state;
	const struct pp_log_fields f = {"8c5a1a0e-2f4b-4c6d-9e1f-0a1b2c3d4e5f", "ABCD1234", 7,
					NULL};
	const struct pp_log_event ev = {TS, PP_LOG_ERROR, "jobs", "job 7 FAILED", &f};
	struct iovec iov[8];
	char buf[512];
	int n = pp_log_format_journal(&ev, iov, 8, buf, sizeof(buf));
	static const char *const want[] = {
	    "MESSAGE=job 7 FAILED",
	    "PRIORITY=3",
	    "SYSLOG_IDENTIFIER=pskprov",
	    "SUBSYSTEM=jobs",
	    "DEVICE_UUID=8c5a1a0e-2f4b-4c6d-9e1f-0a1b2c3d4e5f",
	    "PSKPROV_PID=ABCD1234",
	    "JOB=7",
	};
	assert_int_equal(n, 7); /* no STEP= */
	for (int i = 0; i < n; i++) {
		assert_int_equal(iov[i].iov_len, strlen(want[i]));
		assert_memory_equal(iov[i].iov_base, want[i], iov[i].iov_len);
	}
	/* No fields: the four that every entry has. */
	const struct pp_log_event bare = {TS, PP_LOG_DEBUG, "server", "x", NULL};
	assert_int_equal(pp_log_format_journal(&bare, iov, 8, buf, sizeof(buf)), 4);
	assert_memory_equal(iov[1].iov_base, "PRIORITY=7", 10);
	/* Too small: the buffer, the vector. */
	assert_int_equal(pp_log_format_journal(&ev, iov, 8, buf, 40), -PP_ETOOBIG);
	assert_int_equal(pp_log_format_journal(&ev, iov, 3, buf, sizeof(buf)), -PP_ETOOBIG);
}

static void priorities_and_names(void **state)
{
	(void)state;
	assert_int_equal(pp_log_priority(PP_LOG_DEBUG), 7);
	assert_int_equal(pp_log_priority(PP_LOG_INFO), 6);
	assert_int_equal(pp_log_priority(PP_LOG_WARN), 4);
	assert_int_equal(pp_log_priority(PP_LOG_ERROR), 3);
	enum pp_log_level l;
	enum pp_log_format f;
	assert_int_equal(pp_log_level_parse("warn", &l), 0);
	assert_int_equal(l, PP_LOG_WARN);
	assert_int_equal(pp_log_level_parse("WARN", &l), -PP_EINVAL);
	assert_int_equal(pp_log_level_parse("", &l), -PP_EINVAL);
	assert_int_equal(pp_log_format_parse("json", &f), 0);
	assert_int_equal(f, PP_LOG_JSON);
	assert_int_equal(pp_log_format_parse("journal", &f), 0);
	assert_int_equal(f, PP_LOG_JOURNAL);
	assert_int_equal(pp_log_format_parse("syslog", &f), -PP_EINVAL);
	assert_string_equal(pp_log_level_name(PP_LOG_ERROR), "error");
}

static void journal_stream(void **state)
{
	(void)state;
	FILE *a = tmpfile(), *b = tmpfile();
	assert_non_null(a);
	assert_non_null(b);
	struct stat st;
	assert_int_equal(fstat(fileno(a), &st), 0);
	char v[64];
	snprintf(v, sizeof(v), "%llu:%llu", (unsigned long long)st.st_dev,
		 (unsigned long long)st.st_ino);
	unsetenv("JOURNAL_STREAM");
	assert_false(pp_log_fd_is_journal(fileno(a)));
	setenv("JOURNAL_STREAM", v, 1);
	assert_true(pp_log_fd_is_journal(fileno(a)));
	assert_false(pp_log_fd_is_journal(fileno(b)));
	static const char *const bad[] = {"", ":", "12", ":34", "12:", "x:1", "1:2:3", "-1:5"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		setenv("JOURNAL_STREAM", bad[i], 1);
		assert_false(pp_log_fd_is_journal(fileno(a)));
	}
	unsetenv("JOURNAL_STREAM");
	fclose(a);
	fclose(b);
}

/* The whole path: pp_logf to a stream, the level filter, one line per event. */
static void log_to_stream(void **state)
{
	(void)state;
	FILE *f = tmpfile();
	assert_non_null(f);
	pp_log_init(f, PP_LOG_INFO);
	pp_log_set_format(PP_LOG_JSON);
	pp_debug("server", "not shown");
	pp_info_f("jobs", &(struct pp_log_fields){.job = 9, .pid = "ABCD1234"}, "two\nlines %d", 1);
	pp_log_set_level(PP_LOG_ERROR);
	pp_warn("server", "not shown either");
	pp_error("server", "shown");
	pp_log_set_format(PP_LOG_TEXT);
	pp_error_f("jobs", &(struct pp_log_fields){.job = 9}, "as text");
	/* The journal when journald cannot be reached: the stream, as text. */
	bool no_journald = access("/run/systemd/journal/socket", F_OK) < 0;
	pp_log_set_format(PP_LOG_JOURNAL);
	pp_error("server", "to the journal");
	rewind(f);
	char text[2048] = {0};
	size_t n = fread(text, 1, sizeof(text) - 1, f);
	text[n] = '\0';
	assert_null(strstr(text, "not shown"));
	const char *l1 = strstr(text, "\"level\":\"info\",\"subsystem\":\"jobs\",\"message\":"
				      "\"two lines 1\",\"pid\":\"ABCD1234\",\"job\":9}\n");
	assert_non_null(l1);
	assert_non_null(strstr(text, "\"level\":\"error\",\"subsystem\":\"server\",\"message\":"
				     "\"shown\"}\n"));
	assert_non_null(strstr(text, "Z error jobs: as text\n"));
	if (no_journald)
		assert_non_null(strstr(text, "Z error server: to the journal\n"));
	else
		assert_null(strstr(text, "to the journal"));
	int lines = 0;
	for (const char *p = text; *p; p++)
		lines += *p == '\n';
	assert_int_equal(lines, no_journald ? 4 : 3);
	pp_log_set_format(PP_LOG_TEXT);
	pp_log_init(NULL, PP_LOG_INFO);
	fclose(f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(json_all_fields), cmocka_unit_test(json_no_fields),
	    cmocka_unit_test(json_escaping),   cmocka_unit_test(json_too_small),
	    cmocka_unit_test(journal_fields),  cmocka_unit_test(priorities_and_names),
	    cmocka_unit_test(journal_stream),  cmocka_unit_test(log_to_stream),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
