/* api_call.h: the JSON of the store's rows, as docs/api.md shows them. */
#include <stdio.h>
#include <string.h>

#include "core/parse.h"
#include "keys/keys.h"
#include "server/api_call.h"
#include "store/store.h"

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

json_t *api_device_json(const struct pp_device_info *d)
{
	char uuid[37];
	pp_uuid_format(d->uuid, uuid);
	json_t *o = json_object();
	if (!o)
		return NULL;
	int bad = 0;
	bad |= json_object_set_new(o, "uuid", json_string(uuid));
	bad |= json_object_set_new(o, "pid", pid_json(d->pid));
	bad |= json_object_set_new(o, "batch", str_or_null(d->batch));
	bad |= json_object_set_new(o, "address", addr_json(d->addr));
	bad |= json_object_set_new(o, "state", json_string(pp_device_state_name(d->state)));
	bad |= json_object_set_new(o, "quarantined", json_boolean(d->quarantined));
	bad |= json_object_set_new(o, "quarantine_reason", str_or_null(d->quarantine_reason));
	bad |= json_object_set_new(o, "has_credentials", json_boolean(d->has_credentials));
	bad |= json_object_set_new(o, "host_name", json_string(d->host_name));
	bad |= json_object_set_new(o, "domain", json_string(d->domain));
	bad |= json_object_set_new(o, "last_error", json_string(d->last_error));
	bad |= json_object_set_new(o, "first_seen", json_integer(d->first_seen));
	bad |= json_object_set_new(o, "last_seen", json_integer(d->last_seen));
	bad |= json_object_set_new(o, "provisioned_at", json_integer(d->provisioned_at));
	bad |= json_object_set_new(o, "hello_count", json_integer((json_int_t)d->hello_count));
	bad |= json_object_set_new(o, "tls_version", json_string(d->tls_version));
	bad |= json_object_set_new(o, "tls_cipher", json_string(d->tls_cipher));
	if (bad) {
		json_decref(o);
		return NULL;
	}
	return o;
}

json_t *api_job_json(const struct pp_job *j)
{
	char uuid[37];
	pp_uuid_format(j->uuid, uuid);
	json_t *o = json_object();
	if (!o)
		return NULL;
	int bad = 0;
	bad |= json_object_set_new(o, "id", json_integer(j->id));
	bad |= json_object_set_new(o, "uuid", json_string(uuid));
	bad |= json_object_set_new(o, "pid", pid_json(j->pid));
	bad |= json_object_set_new(o, "next_pid", pid_json(j->next_pid));
	bad |= json_object_set_new(o, "address", addr_json(j->addr));
	bad |= json_object_set_new(o, "state", json_string(pp_job_state_name(j->state)));
	bad |= json_object_set_new(o, "step", json_string(pp_job_step_name(j->step)));
	bad |= json_object_set_new(o, "attempts", json_integer(j->attempts));
	bad |= json_object_set_new(o, "bound", json_boolean(j->bound));
	bad |= json_object_set_new(o, "owner", str_or_null(j->owner));
	bad |= json_object_set_new(o, "last_error", json_string(j->last_error));
	bad |= json_object_set_new(o, "created", json_integer(j->created));
	bad |= json_object_set_new(o, "updated", json_integer(j->updated));
	bad |= json_object_set_new(o, "next_attempt_at", json_integer(j->next_attempt_at));
	if (bad) {
		json_decref(o);
		return NULL;
	}
	return o;
}
