/* GET /api/v1/status and GET /api/v1/audit (docs/api.md). */
#include <stdlib.h>
#include <string.h>

#include "core/clock.h"
#include "server/api_call.h"
#include "server/server.h"
#include "store/store.h"
#include "usecase/status.h"

/* ---- status ---- */

struct status_ctx {
	struct pp_store_counts k;
};

/* The store's counts come back from the store thread; this instance's figures are
 * added on the loop (they are the loop's). */
static int status_instance(struct pp_server *s, json_t *o, void *arg)
{
	const struct pp_server_metrics *m = &s->m;
	json_t *sessions = json_pack("{s:I,s:I,s:I}", "active", (json_int_t)m->sessions_active,
				     "peak", (json_int_t)m->sessions_peak, "admission_limit",
				     (json_int_t)m->admission_limit);
	json_t *inst = json_pack(
	    "{s:s,s:s,s:f,s:b,s:o*,s:I,s:I,s:I,s:I,s:I}", "instance", s->owner, "version",
	    PSKPROV_VERSION, "uptime_s", pp_now_ms() / 1000.0 - s->started, "draining", s->stopping,
	    "sessions", sessions, "sessions_active", (json_int_t)m->sessions_active, "provisioned",
	    (json_int_t)m->provisioned, "failed", (json_int_t)m->jobs_failed, "hellos",
	    (json_int_t)m->hellos_v2, "agent_hellos", (json_int_t)m->hellos_agent);
	if (inst)
		json_object_set_new(inst, "provisioned_per_s",
				    json_real(pp_server_provision_rate(s)));
	int rc = inst ? json_object_update(o, inst) : -1;
	json_decref(inst);
	(void)arg;
	return rc;
}

static int status_run(struct pp_store *st, void *arg, struct api_result *res, struct pp_err *err)
{
	struct status_ctx *c = arg;
	int rc = pp_store_counts(st, &c->k, err);
	if (rc < 0)
		return rc;
	res->body = json_pack("{s:o*,s:o*,s:o*}", "devices",
			      pp_uc_device_counts_json(c->k.devices_by_state, true), "jobs",
			      pp_uc_job_counts_json(c->k.jobs_by_state, false), "keys",
			      pp_uc_key_counts_json(c->k.keys_by_state));
	res->finish = status_instance;
	return res->body ? 0 : pp_err_set(err, PP_ENOMEM, "out of memory");
}

void api_on_status(struct api_call *c)
{
	if (!api_query_ok(c, (const char *const[]){NULL}))
		return;
	struct status_ctx *ctx = calloc(1, sizeof(*ctx));
	if (!ctx) {
		api_fail(c, 503, "out of memory", NULL);
		return;
	}
	api_store_call(c, status_run, ctx, free, false);
}

/* ---- audit ---- */

struct audit_ctx {
	uint64_t since, limit, n, last_seq;
	json_t *entries;
};

static int audit_one(void *arg, const struct pp_audit_entry *e)
{
	struct audit_ctx *c = arg;
	if (c->n >= c->limit)
		return 0;
	json_t *o = json_pack("{s:I,s:I,s:s,s:s,s:s,s:s,s:s}", "seq", (json_int_t)e->seq, "time",
			      (json_int_t)e->time, "actor", e->actor, "action", e->action,
			      "subject", e->subject ? e->subject : "", "detail",
			      e->detail ? e->detail : "", "hash", e->hash);
	if (!o || json_array_append_new(c->entries, o) < 0)
		return -PP_ENOMEM;
	c->n++;
	c->last_seq = e->seq;
	return 0;
}

static int audit_run(struct pp_store *st, void *arg, struct api_result *res, struct pp_err *err)
{
	struct audit_ctx *c = arg;
	c->n = 0;
	c->last_seq = c->since;
	c->entries = json_array();
	if (!c->entries)
		return pp_err_set(err, PP_ENOMEM, "out of memory");
	int rc = pp_store_audit_list(st, c->since, audit_one, c, err);
	if (rc < 0) {
		json_decref(c->entries);
		return rc;
	}
	uint64_t checked = 0;
	struct pp_err verr = {0};
	int vrc = pp_store_audit_verify(st, &checked, &verr);
	if (vrc < 0 && vrc != -PP_ECRYPTO) {
		json_decref(c->entries);
		*err = verr;
		return vrc;
	}
	json_t *chain = json_pack("{s:s,s:I}", "status", vrc == 0 ? "intact" : "broken", "entries",
				  (json_int_t)checked);
	if (chain && vrc < 0)
		json_object_set_new(chain, "error", json_string(verr.msg));
	res->body = json_pack("{s:o,s:I,s:o*}", "entries", c->entries, "next_since",
			      (json_int_t)c->last_seq, "chain", chain);
	return res->body ? 0 : pp_err_set(err, PP_ENOMEM, "out of memory");
}

void api_on_audit(struct api_call *c)
{
	static const char *const params[] = {"since", "limit", NULL};
	if (!api_query_ok(c, params))
		return;
	struct audit_ctx *ctx = calloc(1, sizeof(*ctx));
	struct pp_err err = {0};
	const char *since = pp_query_get(&c->q, "since"), *limit = pp_query_get(&c->q, "limit");
	const char *field = NULL;
	if (!ctx) {
		api_fail(c, 503, "out of memory", NULL);
		return;
	}
	ctx->limit = 100;
	if (since && pp_query_u64(since, 0, INT64_MAX, &ctx->since, "since", &err) < 0)
		field = "since";
	else if (limit && pp_query_u64(limit, 1, 500, &ctx->limit, "limit", &err) < 0)
		field = "limit";
	if (field) {
		free(ctx);
		api_fail(c, 400, err.msg, field);
		return;
	}
	api_store_call(c, audit_run, ctx, free, false);
}
