/* Histograms (lib/core/histo.h): buckets by upper bound, cumulative counts, sum. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "core/histo.h"

static void test_buckets(void **state)
{
	(void)state;
	static const double b[] = {0.1, 0.5, 1.0};
	struct pp_histo h;
	pp_histo_init(&h, b, 3);
	pp_histo_observe(&h, 0.05);
	pp_histo_observe(&h, 0.1); /* on the bound: in it (le) */
	pp_histo_observe(&h, 0.7);
	pp_histo_observe(&h, 9.0); /* past the last: +Inf only */
	assert_int_equal(pp_histo_cumulative(&h, 0), 2);
	assert_int_equal(pp_histo_cumulative(&h, 1), 2);
	assert_int_equal(pp_histo_cumulative(&h, 2), 3);
	assert_int_equal(pp_histo_cumulative(&h, 3), 4);
	assert_int_equal(h.count, 4);
	assert_true(h.sum > 9.849 && h.sum < 9.851);
}

static void test_bounds_capped(void **state)
{
	(void)state;
	static double b[PP_HISTO_MAX + 4];
	for (size_t i = 0; i < PP_HISTO_MAX + 4; i++)
		b[i] = (double)i;
	struct pp_histo h;
	pp_histo_init(&h, b, PP_HISTO_MAX + 4);
	assert_int_equal(h.n, PP_HISTO_MAX);
	pp_histo_observe(&h, 1e9);
	assert_int_equal(h.counts[PP_HISTO_MAX], 1);
	assert_int_equal(pp_histo_cumulative(&h, PP_HISTO_MAX + 3), 1); /* past n: all */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_buckets),
	    cmocka_unit_test(test_bounds_capped),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
