/* usecase/keys.h: the keys report as JSON, for `pskprov keys report --json` and the
 * API's GET /api/v1/keys/report alike. */
#include <jansson.h>
#include <stdio.h>

#include "core/parse.h"
#include "keys/keys.h"
#include "usecase/keys.h"

struct report_out {
	json_t *lists[PP_FIND_MAX]; /* one array per kind of finding */
};

static void report_out_free(struct report_out *r)
{
	for (int k = 0; k < PP_FIND_MAX; k++)
		json_decref(r->lists[k]);
}

static json_t *report_key_json(const struct pp_keys_item *it, const char *pid)
{
	const struct pp_key_info *k = it->key;
	if (it->kind == PP_FIND_SHARED)
		return json_pack("{s:s,s:s,s:s,s:I,s:I}", "pid", pid, "batch", k->batch, "state",
				 pp_key_state_name(k->state), "devices", (json_int_t)k->use_count,
				 "max_devices", (json_int_t)k->max_devices);
	if (it->kind == PP_FIND_LOCKED)
		return json_pack("{s:s,s:I,s:I}", "pid", pid, "failures",
				 (json_int_t)k->failure_count, "locked_until",
				 (json_int_t)k->locked_until);
	return json_pack("{s:s,s:s,s:I}", "pid", pid, "batch", k->batch, "exported_at",
			 (json_int_t)k->exported_at);
}

static json_t *report_item_json(const struct pp_keys_item *it)
{
	char pid[PP_PID_TEXT], uuid[37], addr[16];
	if (it->key) {
		pp_pid_text(it->key->pid, pid);
		return report_key_json(it, pid);
	}
	if (it->device) {
		pp_pid_text(it->device->pid, pid);
		pp_uuid_format(it->device->uuid, uuid);
		return json_pack("{s:s,s:s,s:s}", "uuid", uuid, "pid", pid, "reason",
				 it->device->last_error);
	}
	const struct pp_hello_note *n = it->note;
	pp_pid_text(n->pid, pid);
	pp_uuid_format(n->uuid, uuid);
	snprintf(addr, sizeof(addr), "%u.%u.%u.%u", n->addr[0], n->addr[1], n->addr[2], n->addr[3]);
	return json_pack("{s:s,s:s,s:s,s:I,s:I,s:I}", "pid", pid, "uuid", uuid, "address", addr,
			 "hellos", (json_int_t)n->count, "first_seen", (json_int_t)n->first_seen,
			 "last_seen", (json_int_t)n->last_seen);
}

static int report_collect(void *arg, const struct pp_keys_item *it)
{
	struct report_out *r = arg;
	json_t *o = report_item_json(it);
	return o && json_array_append_new(r->lists[it->kind], o) == 0 ? 0 : -PP_ENOMEM;
}

int pp_keys_report_json(struct pp_store *s, int64_t now, json_t **out, struct pp_err *err)
{
	struct report_out r = {{NULL}};
	struct pp_keys_report sum;
	int rc = 0;
	*out = NULL;
	for (int k = 0; k < PP_FIND_MAX; k++)
		if (!(r.lists[k] = json_array()))
			rc = pp_err_set(err, PP_ENOMEM, "out of memory");
	if (rc == 0)
		rc = pp_keys_report_walk(s, now, report_collect, &r, &sum, err);
	if (rc == -PP_ENOMEM)
		rc = pp_err_set(err, PP_ENOMEM, "out of memory");
	if (rc == 0) {
		*out = json_pack(
		    "{s:O,s:O,s:O,s:O,s:O,s:O}", "shared", r.lists[PP_FIND_SHARED], "quarantined",
		    r.lists[PP_FIND_QUARANTINED], "locked_out", r.lists[PP_FIND_LOCKED],
		    "exported_never_seen", r.lists[PP_FIND_SILENT], "suspected_clones",
		    r.lists[PP_FIND_SUSPECT_CLONE], "unknown_pids", r.lists[PP_FIND_UNKNOWN_PID]);
		if (!*out)
			rc = pp_err_set(err, PP_ENOMEM, "out of memory");
	}
	report_out_free(&r);
	return rc;
}
