/* usecase/status.h: the store's counts as JSON. */
#include "usecase/status.h"

#include <stdio.h>

/* Sets key (a state name, snake-cased) to n in o: 0, or -1 when out of memory. */
static int set_count(json_t *o, const char *state, uint64_t n)
{
	char key[32];
	snprintf(key, sizeof(key), "%s", state);
	for (char *p = key; *p; p++)
		if (*p == '-')
			*p = '_';
	return json_object_set_new(o, key, json_integer((json_int_t)n));
}

/* One object of counts by state, name(i) naming state i; NULL when out of memory. */
static json_t *counts(const uint64_t *by, int n, const char *(*name)(int))
{
	json_t *o = json_object();
	for (int i = 0; o && i < n; i++)
		if (set_count(o, name(i), by[i]) < 0) {
			json_decref(o);
			return NULL;
		}
	return o;
}

static const char *key_name(int i)
{
	return pp_key_state_name((enum pp_key_state)i);
}

static const char *device_name(int i)
{
	return pp_device_state_name((enum pp_device_state)i);
}

static const char *job_name(int i)
{
	return pp_job_state_name((enum pp_job_state)i);
}

json_t *pp_uc_key_counts_json(const uint64_t by_state[PP_KEY_STATE_MAX])
{
	return counts(by_state, PP_KEY_STATE_MAX, key_name);
}

json_t *pp_uc_device_counts_json(const uint64_t by_state[PP_DEV_STATE_MAX], bool total)
{
	json_t *o = counts(by_state, PP_DEV_STATE_MAX, device_name);
	uint64_t sum = 0;
	for (int i = 0; i < PP_DEV_STATE_MAX; i++)
		sum += by_state[i];
	if (o && total && set_count(o, "total", sum) < 0) {
		json_decref(o);
		return NULL;
	}
	return o;
}

json_t *pp_uc_job_counts_json(const uint64_t by_state[PP_JOB_STATE_MAX], bool progress)
{
	json_t *o = counts(by_state, PP_JOB_STATE_MAX, job_name);
	if (o && progress &&
	    (set_count(o, "queued", by_state[PP_JOB_PENDING] + by_state[PP_JOB_RETRY]) < 0 ||
	     set_count(o, "in_progress", by_state[PP_JOB_RUNNING]) < 0)) {
		json_decref(o);
		return NULL;
	}
	return o;
}

json_t *pp_uc_status_json(const struct pp_store_counts *k)
{
	return json_pack("{s:o,s:o,s:o}", "keys", pp_uc_key_counts_json(k->keys_by_state),
			 "devices", pp_uc_device_counts_json(k->devices_by_state, false), "jobs",
			 pp_uc_job_counts_json(k->jobs_by_state, false));
}
