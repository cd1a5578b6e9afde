/* The per-second rate ring (lib/core/rate.h): counts within the window, old seconds
 * dropped as the ring turns, late additions out of the window ignored. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "core/rate.h"

#define T0 1000000000ull /* an arbitrary monotonic start, in ms */

static void test_empty(void **state)
{
	(void)state;
	struct pp_rate r;
	pp_rate_init(&r);
	assert_true(pp_rate_per_s(&r, 0) == 0.0);
	assert_true(pp_rate_per_s(&r, T0) == 0.0);
}

static void test_window(void **state)
{
	(void)state;
	struct pp_rate r;
	pp_rate_init(&r);
	/* 10 events in each of 10 seconds: 10 a second. */
	for (uint64_t i = 0; i < 10; i++)
		pp_rate_add(&r, T0 + i * 1000 + 500, 10);
	assert_true(pp_rate_per_s(&r, T0 + 9999) == 10.0);
	/* One second later the first second has left the window. */
	assert_true(pp_rate_per_s(&r, T0 + 10000) == 9.0);
	/* Long after, nothing is left, even without an addition to turn the ring. */
	assert_true(pp_rate_per_s(&r, T0 + 60000) == 0.0);
}

static void test_ring_reuse(void **state)
{
	(void)state;
	struct pp_rate r;
	pp_rate_init(&r);
	pp_rate_add(&r, T0, 50);
	/* Ten seconds on, the same slot: the old count is replaced, not added to. */
	pp_rate_add(&r, T0 + 10000, 3);
	assert_true(pp_rate_per_s(&r, T0 + 10000) == 0.3);
	/* An addition for a second the slot has moved past is ignored. */
	pp_rate_add(&r, T0, 7);
	assert_true(pp_rate_per_s(&r, T0 + 10000) == 0.3);
	/* Several additions in one second add up. */
	pp_rate_add(&r, T0 + 10400, 2);
	assert_true(pp_rate_per_s(&r, T0 + 10999) == 0.5);
}

static void test_future_not_counted(void **state)
{
	(void)state;
	struct pp_rate r;
	pp_rate_init(&r);
	pp_rate_add(&r, T0 + 5000, 4);
	assert_true(pp_rate_per_s(&r, T0) == 0.0);
	assert_true(pp_rate_per_s(&r, T0 + 5000) == 0.4);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_empty),
	    cmocka_unit_test(test_window),
	    cmocka_unit_test(test_ring_reuse),
	    cmocka_unit_test(test_future_not_counted),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
