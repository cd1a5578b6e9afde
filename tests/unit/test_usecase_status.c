/* usecase/status.h: the store's counts as JSON, the shape every reader shares. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "usecase/status.h"

static json_int_t get(const json_t *o, const char *key)
{
	json_t *v = json_object_get(o, key);
	if (!json_is_integer(v))
		fail_msg("no integer '%s'", key);
	return json_integer_value(v);
}

static void test_keys_snake_case(void **state)
{
	(void)state;
	uint64_t by[PP_KEY_STATE_MAX] = {1, 2, 3, 4, 5, 6};
	json_t *o = pp_uc_key_counts_json(by);
	assert_non_null(o);
	assert_int_equal(json_object_size(o), PP_KEY_STATE_MAX);
	assert_int_equal(get(o, "available"), 1);
	assert_int_equal(get(o, "in_use"), 3);
	assert_null(json_object_get(o, "in-use"));
	assert_int_equal(get(o, "expired"), 6);
	json_decref(o);
}

static void test_devices_total(void **state)
{
	(void)state;
	uint64_t by[PP_DEV_STATE_MAX] = {1, 2, 30, 4, 5};
	json_t *o = pp_uc_device_counts_json(by, false);
	assert_int_equal(json_object_size(o), PP_DEV_STATE_MAX);
	assert_null(json_object_get(o, "total"));
	json_decref(o);
	o = pp_uc_device_counts_json(by, true);
	assert_int_equal(get(o, "provisioned"), 30);
	assert_int_equal(get(o, "quarantined"), 5);
	assert_int_equal(get(o, "total"), 42);
	json_decref(o);
}

static void test_jobs_progress(void **state)
{
	(void)state;
	uint64_t by[PP_JOB_STATE_MAX] = {[PP_JOB_PENDING] = 7,
					 [PP_JOB_RUNNING] = 3,
					 [PP_JOB_RETRY] = 2,
					 [PP_JOB_DONE] = 100,
					 [PP_JOB_FAILED] = 1};
	json_t *o = pp_uc_job_counts_json(by, false);
	assert_int_equal(json_object_size(o), PP_JOB_STATE_MAX);
	json_decref(o);
	o = pp_uc_job_counts_json(by, true);
	assert_int_equal(get(o, "queued"), 9);
	assert_int_equal(get(o, "in_progress"), 3);
	assert_int_equal(get(o, "done"), 100);
	json_decref(o);
}

static void test_status_shape(void **state)
{
	(void)state;
	struct pp_store_counts k = {.keys_by_state = {[PP_KEY_IN_USE] = 4},
				    .devices_by_state = {[PP_DEV_FAILED] = 2},
				    .jobs_by_state = {[PP_JOB_FAILED] = 3}};
	json_t *o = pp_uc_status_json(&k);
	assert_non_null(o);
	assert_int_equal(json_object_size(o), 3);
	assert_int_equal(get(json_object_get(o, "keys"), "in_use"), 4);
	assert_int_equal(get(json_object_get(o, "devices"), "failed"), 2);
	assert_null(json_object_get(json_object_get(o, "devices"), "total"));
	assert_int_equal(get(json_object_get(o, "jobs"), "failed"), 3);
	assert_null(json_object_get(json_object_get(o, "jobs"), "queued"));
	json_decref(o);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_keys_snake_case),
	    cmocka_unit_test(test_devices_total),
	    cmocka_unit_test(test_jobs_progress),
	    cmocka_unit_test(test_status_shape),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
