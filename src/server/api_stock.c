/* /api/v1/batches, /api/v1/keys and the keys report (docs/api.md). Never a PPS. */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "keys/keys.h"
#include "usecase/status.h"
#include "server/api_call.h"
#include "server/server.h"
#include "store/store.h"
#include "usecase/keys.h"

#define CURSOR_KEYS 3

/* ---- batches ---- */

struct batches_ctx {
	char name[PP_BATCH_NAME_MAX + 1]; /* "" all */
	json_t *list;
};

static int batch_one(void *arg, const struct pp_batch_info *b)
{
	struct batches_ctx *c = arg;
	if (c->name[0] && strcmp(c->name, b->name) != 0)
		return 0;
	json_t *o =
	    json_pack("{s:s,s:b,s:I,s:I,s:I,s:I}", "name", b->name, "derived", b->derived,
		      "shared_max", (json_int_t)b->shared_max, "created", (json_int_t)b->created,
		      "total", (json_int_t)0, "quarantined_devices", (json_int_t)0);
	return o && json_array_append_new(c->list, o) == 0 ? 0 : -PP_ENOMEM;
}

/* The stock of a batch onto its entry. */
static int stock_one(void *arg, const struct pp_key_stock *k)
{
	struct batches_ctx *c = arg;
	size_t i;
	json_t *o;
	json_array_foreach(c->list, i, o)
	{
		if (strcmp(json_string_value(json_object_get(o, "name")), k->batch) != 0)
			continue;
		if (json_object_set_new(o, "keys", pp_uc_key_counts_json(k->by_state)) < 0 ||
		    json_object_set_new(o, "total", json_integer((json_int_t)k->total)) < 0 ||
		    json_object_set_new(o, "quarantined_devices",
					json_integer((json_int_t)k->quarantined_devices)) < 0)
			return -PP_ENOMEM;
	}
	return 0;
}

static int batches_run(struct pp_store *st, void *arg, struct api_result *res, struct pp_err *err)
{
	struct batches_ctx *c = arg;
	struct pp_batch_info info;
	uint64_t zero[PP_KEY_STATE_MAX] = {0};
	int rc = c->name[0] ? pp_store_batch_get(st, c->name, &info, err) : 0;
	if (rc < 0)
		return rc;
	c->list = json_array();
	if (!c->list)
		return pp_err_set(err, PP_ENOMEM, "out of memory");
	rc = pp_store_batch_list(st, batch_one, c, err);
	size_t i;
	json_t *o;
	json_array_foreach(c->list, i,
			   o) if (rc == 0 &&
				  json_object_set_new(o, "keys", pp_uc_key_counts_json(zero)) < 0)
	    rc = -PP_ENOMEM;
	if (rc == 0)
		rc = pp_store_key_stock(st, stock_one, c, err);
	if (rc == -PP_ENOMEM)
		rc = pp_err_set(err, PP_ENOMEM, "out of memory");
	if (rc == 0 && c->name[0])
		res->body = json_pack("{s:O}", "batch", json_array_get(c->list, 0));
	else if (rc == 0)
		res->body = json_pack("{s:O}", "batches", c->list);
	json_decref(c->list);
	c->list = NULL;
	if (rc == 0 && !res->body)
		rc = pp_err_set(err, PP_ENOMEM, "out of memory");
	return rc;
}

void api_on_batches(struct api_call *c)
{
	if (!api_query_ok(c, (const char *const[]){NULL}))
		return;
	struct batches_ctx *x = calloc(1, sizeof(*x));
	if (!x) {
		api_fail(c, 503, "out of memory", NULL);
		return;
	}
	api_store_call(c, batches_run, x, free, false);
}

void api_on_batch(struct api_call *c)
{
	if (!api_query_ok(c, (const char *const[]){NULL}))
		return;
	if (!pp_batch_name_valid(c->arg)) {
		api_fail(c, 400, "not a batch name (1 to 64 of A-Z a-z 0-9 . _ -)", "name");
		return;
	}
	struct batches_ctx *x = calloc(1, sizeof(*x));
	if (!x) {
		api_fail(c, 503, "out of memory", NULL);
		return;
	}
	snprintf(x->name, sizeof(x->name), "%.64s", c->arg);
	api_store_call(c, batches_run, x, free, false);
}

/* ---- keys ---- */

struct keys_ctx {
	struct pp_key_filter f;
	struct pp_cursor cur;
	char batch[PP_BATCH_NAME_MAX + 1], after[16];
	uint32_t want, n;
	char last[16];
	json_t *rows;
};

static int key_row(void *arg, const struct pp_key_info *k)
{
	struct keys_ctx *c = arg;
	char pid[PP_PID_TEXT];
	if (++c->n > c->want)
		return 0;
	snprintf(c->last, sizeof(c->last), "%s", k->pid);
	pp_pid_text(k->pid, pid);
	json_t *o = json_pack(
	    "{s:s,s:s,s:s,s:b,s:I,s:I,s:I,s:I,s:I,s:I,s:I}", "pid", pid, "batch", k->batch, "state",
	    pp_key_state_name(k->state), "shared", k->shared, "max_devices",
	    (json_int_t)k->max_devices, "use_count", (json_int_t)k->use_count, "failure_count",
	    (json_int_t)k->failure_count, "locked_until", (json_int_t)k->locked_until, "created",
	    (json_int_t)k->created, "updated", (json_int_t)k->updated, "exported_at",
	    (json_int_t)k->exported_at);
	return o && json_array_append_new(c->rows, o) == 0 ? 0 : -PP_ENOMEM;
}

static int keys_run(struct pp_store *st, void *arg, struct api_result *res, struct pp_err *err)
{
	struct keys_ctx *c = arg;
	c->n = 0;
	c->rows = json_array();
	if (!c->rows)
		return pp_err_set(err, PP_ENOMEM, "out of memory");
	int rc = pp_store_key_list(st, &c->f, key_row, c, err);
	if (rc < 0) {
		json_decref(c->rows);
		return rc == -PP_ENOMEM ? pp_err_set(err, PP_ENOMEM, "out of memory") : rc;
	}
	json_t *next = json_null();
	char hex[PP_CURSOR_HEX_MAX + 1];
	struct pp_cursor k = c->cur;
	snprintf(k.text, sizeof(k.text), "%s", c->last);
	bool more = c->n > c->want;
	if (more && c->n && pp_cursor_encode(&k, hex, sizeof(hex)) == 0)
		next = json_string(hex);
	res->body = json_pack("{s:o,s:o*}", "keys", c->rows, "next_cursor", next);
	return res->body ? 0 : pp_err_set(err, PP_ENOMEM, "out of memory");
}

static int keys_params(struct api_call *c, struct keys_ctx *x, const char **field,
		       struct pp_err *err)
{
	const char *v;
	uint64_t limit = 50;
	enum pp_key_state ks;
	x->f.state = -1;
	if ((v = pp_query_get(&c->q, "batch"))) {
		if (!pp_batch_name_valid(v))
			return *field = "batch", pp_err_set(err, PP_EINVAL, "not a batch name");
		snprintf(x->batch, sizeof(x->batch), "%s", v);
		x->f.batch = x->batch;
	}
	if ((v = pp_query_get(&c->q, "state"))) {
		if (pp_key_state_parse(v, &ks, err) < 0)
			return *field = "state", -PP_EINVAL;
		x->f.state = (int)ks;
	}
	if ((v = pp_query_get(&c->q, "limit")) &&
	    pp_query_u64(v, 1, PP_DEVICE_PAGE_MAX, &limit, "limit", err) < 0)
		return *field = "limit", -PP_EINVAL;
	x->want = (uint32_t)limit;
	x->f.limit = x->want + 1; /* one more: is there a next page? */
	const char *f[] = {pp_query_get(&c->q, "batch"), pp_query_get(&c->q, "state")};
	x->cur = (struct pp_cursor){.kind = CURSOR_KEYS, .filter = pp_query_digest(f, 2)};
	if ((v = pp_query_get(&c->q, "cursor"))) {
		struct pp_cursor got;
		if (pp_cursor_decode(v, &x->cur, &got, err) < 0 || strlen(got.text) != 8)
			return *field = "cursor",
			       pp_err_set(err, PP_EINVAL, "%s",
					  err->msg[0] ? err->msg
						      : "cursor is not one this server made");
		memcpy(x->after, got.text, 9); /* 8 characters and the NUL, checked above */
		x->f.after = x->after;
	}
	return 0;
}

void api_on_keys(struct api_call *c)
{
	static const char *const params[] = {"batch", "state", "limit", "cursor", NULL};
	if (!api_query_ok(c, params))
		return;
	struct keys_ctx *x = calloc(1, sizeof(*x));
	struct pp_err err = {0};
	const char *field = NULL;
	if (!x) {
		api_fail(c, 503, "out of memory", NULL);
		return;
	}
	if (keys_params(c, x, &field, &err) < 0) {
		free(x);
		api_fail(c, 400, err.msg, field);
		return;
	}
	api_store_call(c, keys_run, x, free, false);
}

/* ---- the keys report ---- */

static int report_run(struct pp_store *st, void *arg, struct api_result *res, struct pp_err *err)
{
	(void)arg;
	return pp_keys_report_json(st, (int64_t)time(NULL), &res->body, err);
}

void api_on_keys_report(struct api_call *c)
{
	if (!api_query_ok(c, (const char *const[]){NULL}))
		return;
	api_store_call(c, report_run, NULL, NULL, false);
}
