/* usecase/devices.h: devices, jobs and job events as JSON, one shape for the command
 * line (--json) and the API (docs/api.md): absent values are null, never "". */
#include <jansson.h>
#include <stdio.h>

#include "core/parse.h"
#include "keys/keys.h"
#include "usecase/devices.h"

static json_t *str_or_null(const char *s)
{
	return s && s[0] ? json_string(s) : json_null();
}

static json_t *addr_json(const uint8_t a[4])
{
	char t[16];
	snprintf(t, sizeof(t), "%u.%u.%u.%u", a[0], a[1], a[2], a[3]);
	return json_string(t);
}

static json_t *pid_json(const char *pid)
{
	char t[PP_PID_TEXT];
	if (!pid[0])
		return json_null();
	pp_pid_text(pid, t);
	return json_string(t);
}

/* Sets each field in order; the object, or NULL (and nothing leaked) when one failed. */
struct field {
	const char *name;
	json_t *v;
};
static json_t *object_of(const struct field *f, size_t n)
{
	json_t *o = json_object();
	int bad = o == NULL;
	for (size_t i = 0; i < n; i++) {
		if (!bad && json_object_set_new(o, f[i].name, f[i].v) < 0)
			bad = 1;
		else if (bad)
			json_decref(f[i].v);
	}
	if (bad) {
		json_decref(o);
		return NULL;
	}
	return o;
}
#define OBJECT(...)                                                                                \
	object_of((const struct field[]){__VA_ARGS__},                                             \
		  sizeof((const struct field[]){__VA_ARGS__}) / sizeof(struct field))

json_t *pp_uc_device_json(const struct pp_device_info *d)
{
	char uuid[37];
	pp_uuid_format(d->uuid, uuid);
	return OBJECT({"uuid", json_string(uuid)}, {"pid", pid_json(d->pid)},
		      {"batch", str_or_null(d->batch)}, {"address", addr_json(d->addr)},
		      {"state", json_string(pp_device_state_name(d->state))},
		      {"quarantined", json_boolean(d->quarantined)},
		      {"quarantine_reason", str_or_null(d->quarantine_reason)},
		      {"has_credentials", json_boolean(d->has_credentials)},
		      {"host_name", json_string(d->host_name)}, {"domain", json_string(d->domain)},
		      {"last_error", json_string(d->last_error)},
		      {"first_seen", json_integer(d->first_seen)},
		      {"last_seen", json_integer(d->last_seen)},
		      {"provisioned_at", json_integer(d->provisioned_at)},
		      {"hello_count", json_integer((json_int_t)d->hello_count)},
		      /* null until a handshake with the device has completed */
		      {"tls_version", str_or_null(d->tls_version)},
		      {"tls_cipher", str_or_null(d->tls_cipher)});
}

json_t *pp_uc_job_json(const struct pp_job *j)
{
	char uuid[37];
	pp_uuid_format(j->uuid, uuid);
	return OBJECT({"id", json_integer(j->id)}, {"uuid", json_string(uuid)},
		      {"pid", pid_json(j->pid)}, {"next_pid", pid_json(j->next_pid)},
		      {"address", addr_json(j->addr)},
		      {"state", json_string(pp_job_state_name(j->state))},
		      {"step", json_string(pp_job_step_name(j->step))},
		      {"attempts", json_integer(j->attempts)}, {"bound", json_boolean(j->bound)},
		      {"owner", str_or_null(j->owner)}, {"last_error", json_string(j->last_error)},
		      {"created", json_integer(j->created)}, {"updated", json_integer(j->updated)},
		      {"next_attempt_at", json_integer(j->next_attempt_at)},
		      {"lease_until", json_integer(j->lease_until)});
}

json_t *pp_uc_job_event_json(const struct pp_job_event *e)
{
	return OBJECT({"time", json_integer(e->time)}, {"event", json_string(e->event)},
		      {"detail", json_string(e->detail)});
}

static int event_one(void *arr, const struct pp_job_event *e)
{
	json_t *o = pp_uc_job_event_json(e);
	return o && json_array_append_new(arr, o) == 0 ? 0 : -PP_ENOMEM;
}

int pp_uc_job_with_events_json(struct pp_store *s, const struct pp_job *j, json_t **out,
			       struct pp_err *err)
{
	json_t *o = pp_uc_job_json(j), *ev = json_array();
	*out = NULL;
	if (!o || !ev || json_object_set(o, "events", ev) < 0) {
		json_decref(o);
		json_decref(ev);
		return pp_err_set(err, PP_ENOMEM, "out of memory");
	}
	int rc = pp_store_job_events(s, j->id, event_one, ev, err);
	json_decref(ev);
	if (rc < 0) {
		json_decref(o);
		return rc == -PP_ENOMEM ? pp_err_set(err, PP_ENOMEM, "out of memory") : rc;
	}
	*out = o;
	return 0;
}
