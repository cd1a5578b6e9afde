#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "core/suggest.h"

static const char *const commands[] = {"init",   "keys",  "usb",    "audit",   "token",
				       "device", "fleet", "server", "devices", "jobs",
				       "status", "demo",  "agent",  NULL};

static void test_typos(void **state)
{
	(void)state;
	assert_string_equal(pp_suggest("sever", commands, 0), "server");
	assert_string_equal(pp_suggest("kyes", commands, 0), "keys"); /* a swap is one edit */
	assert_string_equal(pp_suggest("stauts", commands, 0), "status");
	assert_string_equal(pp_suggest("agnet", commands, 0), "agent");
}

static void test_prefix(void **state)
{
	(void)state;
	assert_string_equal(pp_suggest("aud", commands, 0), "audit");
	/* "dev" begins both device and devices, and is not near either: no guess */
	assert_null(pp_suggest("dev", commands, 0));
}

static void test_nothing_near(void **state)
{
	(void)state;
	assert_null(pp_suggest("frobnicate", commands, 0));
	assert_null(pp_suggest("", commands, 0));
	assert_null(pp_suggest(NULL, commands, 0));
	assert_null(pp_suggest("x", commands, 0));
	/* a known name has nothing to suggest */
	assert_null(pp_suggest("keys", commands, 0));
	/* two candidates equally near: no guess */
	static const char *const two[] = {"cat", "bat"};
	assert_null(pp_suggest("hat", two, 2));
	/* over-long words are never near */
	assert_null(pp_suggest(
	    "serverserverserverserverserverserverserverserverserverserverserverx", commands, 0));
}

struct entry {
	const char *name;
	int value;
};

static void test_table(void **state)
{
	(void)state;
	static const struct entry table[] = {{"count", 1}, {"batch", 2}, {"json", 3}, {NULL, 0}};
	assert_string_equal(pp_suggest_table("cuont", table, sizeof(table[0])), "count");
	assert_string_equal(pp_suggest_table("jsn", table, sizeof(table[0])), "json");
	assert_null(pp_suggest_table("zzzzzz", table, sizeof(table[0])));
	assert_null(pp_suggest_table("json", table, sizeof(table[0])));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_typos),
	    cmocka_unit_test(test_prefix),
	    cmocka_unit_test(test_nothing_near),
	    cmocka_unit_test(test_table),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
