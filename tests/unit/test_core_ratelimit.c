#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "core/ratelimit.h"

static void test_burst_then_refill(void **state)
{
	(void)state;
	struct pp_ratelimit *rl = NULL;
	assert_int_equal(pp_ratelimit_new(60, 3, 64, &rl), 0); /* one a second, burst 3 */
	uint32_t ip = 0x7f000001;
	assert_true(pp_ratelimit_allow(rl, ip, 1000));
	assert_true(pp_ratelimit_allow(rl, ip, 1000));
	assert_true(pp_ratelimit_allow(rl, ip, 1000));
	assert_false(pp_ratelimit_allow(rl, ip, 1000));
	assert_false(pp_ratelimit_allow(rl, ip, 1500));
	assert_true(pp_ratelimit_allow(rl, ip, 2100)); /* a token back after a second */
	assert_false(pp_ratelimit_allow(rl, ip, 2100));
	/* Another source is independent. */
	assert_true(pp_ratelimit_allow(rl, ip + 1, 2100));
	pp_ratelimit_free(rl);
}

static void test_bounded_table(void **state)
{
	(void)state;
	struct pp_ratelimit *rl = NULL;
	assert_int_equal(pp_ratelimit_new(60, 1, 16, &rl), 0);
	/* Far more sources than slots: every new source still gets its first token. */
	for (uint32_t i = 0; i < 10000; i++)
		assert_true(pp_ratelimit_allow(rl, 0x7f010000 + i, 1000 + i));
	pp_ratelimit_free(rl);
}

static void test_bad_params(void **state)
{
	(void)state;
	struct pp_ratelimit *rl = NULL;
	assert_int_equal(pp_ratelimit_new(0, 1, 16, &rl), -PP_EINVAL);
	assert_int_equal(pp_ratelimit_new(1, 1, 15, &rl), -PP_EINVAL);
	assert_int_equal(pp_ratelimit_new(1, 0, 16, &rl), -PP_EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_burst_then_refill),
	    cmocka_unit_test(test_bounded_table),
	    cmocka_unit_test(test_bad_params),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
