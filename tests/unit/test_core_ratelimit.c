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
	/* ... and a source still in the table is refused its second hello at once. */
	assert_false(pp_ratelimit_allow(rl, 0x7f010000 + 9999, 1000 + 9999));
	pp_ratelimit_free(rl);
}

/* A burst over the limit is refused, stays refused until the injected clock has
 * refilled one token, and is allowed again exactly then. 30 a minute: one per 2 s. */
static void test_refused_until_refill(void **state)
{
	(void)state;
	struct pp_ratelimit *rl = NULL;
	assert_int_equal(pp_ratelimit_new(30, 2, 64, &rl), 0);
	uint32_t ip = 0x0a000001, other = 0x0a000002;
	uint64_t t = 50000;
	assert_true(pp_ratelimit_allow(rl, ip, t));
	assert_true(pp_ratelimit_allow(rl, ip, t));
	for (int i = 0; i < 20; i++) /* the rest of the burst: all refused */
		assert_false(pp_ratelimit_allow(rl, ip, t));
	assert_false(pp_ratelimit_allow(rl, ip, t + 1000)); /* half a token */
	assert_false(pp_ratelimit_allow(rl, ip, t + 1990));
	assert_true(pp_ratelimit_allow(rl, ip, t + 2010)); /* one token back */
	assert_false(pp_ratelimit_allow(rl, ip, t + 2010));
	/* A refused source does not use up anyone else's tokens. */
	assert_true(pp_ratelimit_allow(rl, other, t + 2010));
	assert_true(pp_ratelimit_allow(rl, other, t + 2010));
	assert_false(pp_ratelimit_allow(rl, other, t + 2010));
	/* A long silence refills to the burst, never beyond: two, then refused. */
	t += 3600 * 1000;
	assert_true(pp_ratelimit_allow(rl, ip, t));
	assert_true(pp_ratelimit_allow(rl, ip, t));
	assert_false(pp_ratelimit_allow(rl, ip, t));
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

static void test_srcslots_caps(void **state)
{
	(void)state;
	struct pp_srcslots *ss = NULL;
	assert_int_equal(pp_srcslots_new(3, 5, &ss), 0);
	uint32_t a = 0x7f000001, b = 0x7f000002;
	for (int i = 0; i < 3; i++)
		assert_true(pp_srcslots_take(ss, a));
	assert_false(pp_srcslots_take(ss, a)); /* per source */
	assert_int_equal(pp_srcslots_held(ss, a), 3);
	assert_true(pp_srcslots_take(ss, b));
	assert_true(pp_srcslots_take(ss, b));
	assert_false(pp_srcslots_take(ss, 0x7f000003)); /* in all */
	assert_int_equal(pp_srcslots_total(ss), 5);
	pp_srcslots_put(ss, a);
	assert_true(pp_srcslots_take(ss, 0x7f000003));
	pp_srcslots_put(ss, 0x0a000001); /* never taken: no effect */
	assert_int_equal(pp_srcslots_total(ss), 5);
	pp_srcslots_free(ss);
	assert_int_equal(pp_srcslots_new(0, 5, &ss), -PP_EINVAL);
	assert_int_equal(pp_srcslots_new(1, 0, &ss), -PP_EINVAL);
}

/* Random takes and puts over many colliding sources against a plain array: every
 * count stays exact (deletion keeps every other source findable). */
static void test_srcslots_model(void **state)
{
	(void)state;
	enum { SOURCES = 300, TOTAL = 200, PER = 4 };
	struct pp_srcslots *ss = NULL;
	assert_int_equal(pp_srcslots_new(PER, TOTAL, &ss), 0);
	uint32_t held[SOURCES] = {0}, total = 0, x = 12345;
	for (int step = 0; step < 200000; step++) {
		x = x * 1103515245u + 12345u;
		uint32_t i = (x >> 8) % SOURCES;
		uint32_t ip = 0x7f000000u + i * 4096u; /* spread, many share a home */
		if ((x >> 4) & 1) {
			bool want = held[i] < PER && total < TOTAL;
			assert_int_equal(pp_srcslots_take(ss, ip), want);
			if (want) {
				held[i]++;
				total++;
			}
		} else {
			pp_srcslots_put(ss, ip);
			if (held[i]) {
				held[i]--;
				total--;
			}
		}
		if (step % 997 == 0)
			for (uint32_t k = 0; k < SOURCES; k++)
				assert_int_equal(pp_srcslots_held(ss, 0x7f000000u + k * 4096u),
						 held[k]);
		assert_int_equal(pp_srcslots_total(ss), total);
	}
	pp_srcslots_free(ss);
}

static void test_every(void **state)
{
	(void)state;
	struct pp_every e = {0};
	uint64_t skipped = 99;
	assert_true(pp_every_due(&e, 0, 1000, &skipped)); /* time 0 counts too */
	assert_int_equal(skipped, 0);
	for (int i = 1; i <= 500; i++)
		assert_false(pp_every_due(&e, (uint64_t)i, 1000, &skipped));
	assert_false(pp_every_due(&e, 999, 1000, &skipped));
	assert_true(pp_every_due(&e, 1000, 1000, &skipped));
	assert_int_equal(skipped, 501);
	assert_true(pp_every_due(&e, 5000, 1000, &skipped));
	assert_int_equal(skipped, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_burst_then_refill),
	    cmocka_unit_test(test_bounded_table),
	    cmocka_unit_test(test_refused_until_refill),
	    cmocka_unit_test(test_bad_params),
	    cmocka_unit_test(test_srcslots_caps),
	    cmocka_unit_test(test_srcslots_model),
	    cmocka_unit_test(test_every),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
