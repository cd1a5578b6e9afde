#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "core/clock.h"
#include "core/setupstate.h"

static void test_now_ms_monotonic(void **state)
{
	(void)state;
	uint64_t a = pp_now_ms();
	double as = pp_now_s();
	struct timespec ts = {.tv_sec = 0, .tv_nsec = 20 * 1000000L};
	while (nanosleep(&ts, &ts) != 0)
		;
	uint64_t b = pp_now_ms();
	double bs = pp_now_s();
	assert_true(b >= a + 20);
	assert_true(b - a < 10000);
	assert_true(bs - as >= 0.020);
	/* Both read the same clock. */
	assert_true((double)b / 1000.0 - bs < 1.0 && bs - (double)b / 1000.0 < 1.0);
}

static void test_setup_state_names(void **state)
{
	(void)state;
	assert_string_equal(pp_setup_state_name(0), "Pre-Setup");
	assert_string_equal(pp_setup_state_name(1), "In-Setup");
	assert_string_equal(pp_setup_state_name(2), "Post-Setup");
	assert_string_equal(pp_setup_state_name(3), "?");
	assert_string_equal(pp_setup_state_name(UINT32_MAX), "?");
}

/* The MEI agent's retry schedule: 100 ms, then doubling, never over the cap. */
static void test_backoff_schedule(void **state)
{
	(void)state;
	const uint64_t want[] = {100, 200, 400, 800, 1600, 1600, 1600};
	for (unsigned i = 0; i < sizeof(want) / sizeof(want[0]); i++)
		assert_int_equal(pp_backoff_ms(100, i, 1600), want[i]);
	assert_int_equal(pp_backoff_ms(100, 1000000, 1600), 1600); /* no overflow */
	assert_int_equal(pp_backoff_ms(1000, 0, 500), 500);        /* first over the cap */
	assert_int_equal(pp_backoff_ms(0, 5, 100), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_now_ms_monotonic),
	    cmocka_unit_test(test_setup_state_names),
	    cmocka_unit_test(test_backoff_schedule),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
