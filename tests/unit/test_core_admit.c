/* Admission (lib/core/admit.h): the limit follows measured latency against its base. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "core/admit.h"

/* One half-second period: `n` sessions provisioned with `lat_ms` latency each while
 * `in_use` sessions counted; returns the limit at the period's end. */
static uint32_t period(struct pp_admit *a, uint64_t *now, unsigned n, uint64_t lat_ms,
		       uint32_t in_use)
{
	pp_admit_limit(a, *now, in_use);
	for (unsigned i = 0; i < n; i++)
		pp_admit_end(a, *now + 1, lat_ms, true, true);
	*now += PP_ADMIT_PERIOD_MS;
	return pp_admit_limit(a, *now, in_use);
}

static void test_off_is_the_ceiling(void **state)
{
	(void)state;
	struct pp_admit a;
	pp_admit_init(&a, 0, 5000);
	assert_int_equal(pp_admit_limit(&a, 1000, 0), 5000);
	assert_int_equal(pp_admit_slow_ms(&a), 0);
}

static void test_grows_while_latency_holds(void **state)
{
	(void)state;
	struct pp_admit a;
	uint64_t now = 1000000;
	pp_admit_init(&a, 16, 1000);
	assert_int_equal(pp_admit_limit(&a, now, 0), 16);
	assert_int_equal(pp_admit_slow_ms(&a), 0); /* nothing measured: all count */
	/* Fast sessions, the limit in use: it doubles each period while the latency
	 * holds. */
	assert_int_equal(period(&a, &now, 10, 20, 16), 32);
	assert_int_equal(period(&a, &now, 10, 22, 32), 64);
	assert_int_equal(period(&a, &now, 10, 25, 64), 128);
	assert_int_equal(a.base_ms, 20);
	assert_int_equal(pp_admit_slow_ms(&a), 100); /* 4 x the last mean, 25 ms */
	/* The limit not in use (few devices waiting): no growth. */
	assert_int_equal(period(&a, &now, 10, 20, 5), 128);
	/* Too few sessions for a mean: nothing changes. */
	assert_int_equal(period(&a, &now, 2, 500, 128), 128);
	/* The latency rose past 1.5x the base: the knee; hold, then grow by a quarter. */
	assert_int_equal(period(&a, &now, 10, 35, 128), 128);
	assert_int_equal(period(&a, &now, 10, 22, 128), 160);
	assert_int_equal(period(&a, &now, 10, 22, 160), 200);
}

static void test_backs_off_when_latency_climbs(void **state)
{
	(void)state;
	struct pp_admit a;
	uint64_t now = 1000000;
	pp_admit_init(&a, 16, 1000);
	for (int i = 0; i < 10; i++)
		period(&a, &now, 10, 20, 1000);
	uint32_t high = period(&a, &now, 10, 20, 1000);
	assert_true(high > 100);
	/* Latency between 1.5x and 2x the base: hold. */
	assert_int_equal(period(&a, &now, 10, 35, 1000), high);
	/* Over 2x: -20% each period, never under the floor. */
	uint32_t l = period(&a, &now, 10, 50, 1000);
	assert_true(l < high && l >= (uint32_t)(high * 0.8));
	for (int i = 0; i < 40; i++)
		l = period(&a, &now, 10, 50, 1000);
	assert_int_equal(l, 16);
	/* The base is the best of 30 s: once the fast periods are older, it rises. */
	for (int i = 0; i < PP_ADMIT_BASE_PERIODS; i++)
		period(&a, &now, 10, 50, 16);
	assert_int_equal(a.base_ms, 50);
}

static void test_ceiling_and_long_sessions(void **state)
{
	(void)state;
	struct pp_admit a;
	uint64_t now = 1000000;
	pp_admit_init(&a, 64, 1000);
	/* Nothing ends yet: nothing is known, the limit holds. */
	assert_int_equal(period(&a, &now, 0, 0, 64), 64);
	/* Sessions of 2 s: a period lasts half a mean session, not half a second. */
	assert_int_equal(period(&a, &now, 10, 2000, 64), 128);
	assert_int_equal(period(&a, &now, 10, 2000, 128), 128); /* 0.5 s of 1 s: no step */
	now += 500;
	assert_int_equal(pp_admit_limit(&a, now, 128), 256);
	/* The ceiling. */
	pp_admit_bounds(&a, 64, 100);
	for (int i = 0; i < 3; i++) {
		for (int k = 0; k < 10; k++)
			pp_admit_end(&a, now + 1, 2000, true, true);
		now += 2000;
		pp_admit_limit(&a, now, 100);
	}
	assert_int_equal(pp_admit_limit(&a, now, 100), 100); /* the ceiling */
	/* New bounds keep what was measured; the limit moves into them. */
	pp_admit_bounds(&a, 16, 50);
	assert_int_equal(pp_admit_limit(&a, now, 0), 50);
	assert_int_equal(a.base_ms, 2000);
	pp_admit_bounds(&a, 0, 70);
	assert_int_equal(pp_admit_limit(&a, now, 0), 70);
	/* A floor above the ceiling is the ceiling. */
	pp_admit_init(&a, 500, 100);
	assert_int_equal(pp_admit_limit(&a, now, 0), 100);
}

static void test_failures_and_slow_sessions_do_not_set_the_base(void **state)
{
	(void)state;
	struct pp_admit a;
	uint64_t now = 1000000;
	pp_admit_init(&a, 16, 1000);
	pp_admit_limit(&a, now, 16);
	for (int i = 0; i < 10; i++) {
		pp_admit_end(&a, now + 1, 1, false, true);     /* refused at once */
		pp_admit_end(&a, now + 1, 90000, true, false); /* a slow device */
	}
	now += PP_ADMIT_PERIOD_MS;
	pp_admit_limit(&a, now, 16);
	assert_int_equal(a.base_ms, 0);
	assert_true(a.rate > 39.0 && a.rate < 41.0); /* 20 ended in half a second */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_off_is_the_ceiling),
	    cmocka_unit_test(test_grows_while_latency_holds),
	    cmocka_unit_test(test_backs_off_when_latency_climbs),
	    cmocka_unit_test(test_ceiling_and_long_sessions),
	    cmocka_unit_test(test_failures_and_slow_sessions_do_not_set_the_base),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
