/* /api/v1/devices: the listing (filters, sort, keyset pages), one device with its jobs
 * and their events, the audited reveal of its credentials, the release of a quarantined
 * device (docs/api.md). */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/parse.h"
#include "core/secret.h"
#include "server/api_call.h"
#include "server/server.h"
#include "store/store.h"
#include "usecase/devices.h"

#define CURSOR_DEVICES 1
#define DEVICE_JOBS_MAX 20

/* ---- the listing ---- */

struct devices_ctx {
	struct pp_device_query q;
	struct pp_device_cursor after;
	struct pp_cursor cur; /* kind, sort, order and filter digest of this listing */
	char batch[PP_QUERY_VALUE_MAX + 1], text[PP_QUERY_VALUE_MAX + 1];
	uint32_t want; /* the page asked for */
	uint32_t n;
	struct pp_device_info last;
	json_t *rows;
};

static int devices_row(void *arg, const struct pp_device_info *d)
{
	struct devices_ctx *c = arg;
	if (++c->n > c->want)
		return 0; /* the one past the page: there is a next page */
	c->last = *d;
	json_t *o = pp_uc_device_json(d);
	return o && json_array_append_new(c->rows, o) == 0 ? 0 : -PP_ENOMEM;
}

/* The next page's cursor, or null on the last page. */
static json_t *devices_next(struct devices_ctx *c)
{
	bool more = c->n > c->want;
	if (!more || c->n == 0)
		return json_null();
	struct pp_device_cursor dc;
	pp_device_cursor_from(c->q.sort, &c->last, &dc);
	struct pp_cursor k = c->cur;
	k.id = dc.id;
	k.num = dc.num;
	snprintf(k.text, sizeof(k.text), "%s", dc.text);
	char hex[PP_CURSOR_HEX_MAX + 1];
	return pp_cursor_encode(&k, hex, sizeof(hex)) == 0 ? json_string(hex) : json_null();
}

static int devices_run(struct pp_store *st, void *arg, struct api_result *res, struct pp_err *err)
{
	struct devices_ctx *c = arg;
	uint64_t total = 0;
	c->n = 0;
	c->rows = json_array();
	if (!c->rows)
		return pp_err_set(err, PP_ENOMEM, "out of memory");
	int rc = pp_store_device_query(st, &c->q, devices_row, c, &total, err);
	if (rc < 0) {
		json_decref(c->rows);
		res->field = rc == -PP_EINVAL ? "q" : NULL;
		return rc;
	}
	res->body = json_pack("{s:o,s:I,s:o*}", "devices", c->rows, "total", (json_int_t)total,
			      "next_cursor", devices_next(c));
	return res->body ? 0 : pp_err_set(err, PP_ENOMEM, "out of memory");
}

/* The filters: 0, or -PP_EINVAL with *field. */
static int devices_filters(struct api_call *c, struct devices_ctx *x, const char **field,
			   struct pp_err *err)
{
	const char *v;
	bool b;
	x->q.state = -1;
	x->q.quarantined = -1;
	if ((v = pp_query_get(&c->q, "state")) && pp_uc_device_state_parse(v, &x->q.state, err) < 0)
		return *field = "state", -PP_EINVAL;
	if ((v = pp_query_get(&c->q, "batch"))) {
		snprintf(x->batch, sizeof(x->batch), "%s", v);
		x->q.batch = x->batch;
	}
	if ((v = pp_query_get(&c->q, "quarantined"))) {
		if (pp_query_bool(v, &b, "quarantined", err) < 0)
			return *field = "quarantined", -PP_EINVAL;
		x->q.quarantined = b;
	}
	return api_param_text(c, x->text, sizeof(x->text), &x->q.text, field, err);
}

/* Sort, order, limit and cursor: 0, or -PP_EINVAL with *field. */
static int devices_paging(struct api_call *c, struct devices_ctx *x, const char **field,
			  struct pp_err *err)
{
	static const char *const orders[] = {"asc", "desc", NULL};
	const char *v;
	int order = 0;
	uint64_t limit = 50;
	x->q.sort = PP_DEV_SORT_FIRST_SEEN;
	if ((v = pp_query_get(&c->q, "sort")) && pp_device_sort_parse(v, &x->q.sort, err) < 0)
		return *field = "sort", -PP_EINVAL;
	if ((v = pp_query_get(&c->q, "order")) &&
	    pp_query_enum(v, orders, &order, "order", err) < 0)
		return *field = "order", -PP_EINVAL;
	if ((v = pp_query_get(&c->q, "limit")) &&
	    pp_query_u64(v, 1, PP_DEVICE_PAGE_MAX, &limit, "limit", err) < 0)
		return *field = "limit", -PP_EINVAL;
	x->q.desc = order == 1;
	x->want = (uint32_t)limit;
	x->q.limit = x->want + 1; /* one more: is there a next page? */
	const char *f[] = {pp_query_get(&c->q, "state"), pp_query_get(&c->q, "batch"),
			   pp_query_get(&c->q, "quarantined"), pp_query_get(&c->q, "q")};
	x->cur = (struct pp_cursor){.kind = CURSOR_DEVICES,
				    .sort = (uint8_t)x->q.sort,
				    .desc = x->q.desc,
				    .filter = pp_query_digest(f, 4)};
	if ((v = pp_query_get(&c->q, "cursor"))) {
		struct pp_cursor got;
		if (pp_cursor_decode(v, &x->cur, &got, err) < 0)
			return *field = "cursor", -PP_EINVAL;
		x->after.id = got.id;
		x->after.num = got.num;
		snprintf(x->after.text, sizeof(x->after.text), "%s", got.text);
		x->q.after = &x->after;
	}
	return 0;
}

static void devices_free(void *arg)
{
	free(arg);
}

void api_on_devices(struct api_call *c)
{
	static const char *const params[] = {"state", "batch", "quarantined", "q", "sort",
					     "order", "limit", "cursor",      NULL};
	if (!api_query_ok(c, params))
		return;
	struct devices_ctx *x = calloc(1, sizeof(*x));
	if (!x) {
		api_fail(c, 503, "out of memory", NULL);
		return;
	}
	struct pp_err err = {0};
	const char *field = NULL;
	if (devices_filters(c, x, &field, &err) < 0 || devices_paging(c, x, &field, &err) < 0) {
		free(x);
		api_fail(c, 400, err.msg, field);
		return;
	}
	api_store_call(c, devices_run, x, devices_free, false);
}

/* ---- one device, its jobs and their events ---- */

struct device_ctx {
	uint8_t uuid[16];
	char uuid_text[37];
	struct pp_job jobs[DEVICE_JOBS_MAX];
	size_t n;
	char actor[72];                     /* reveal, release: api:NAME */
	char reason[PP_STORE_TEXT_MAX + 1]; /* release */
};

static int device_job_one(void *arg, const struct pp_job *j)
{
	struct device_ctx *c = arg;
	if (c->n < DEVICE_JOBS_MAX)
		c->jobs[c->n++] = *j;
	return 0;
}

static int device_run(struct pp_store *st, void *arg, struct api_result *res, struct pp_err *err)
{
	struct device_ctx *c = arg;
	struct pp_device_info d;
	c->n = 0;
	int rc = pp_store_device_get(st, c->uuid, &d, err);
	if (rc == 0)
		rc = pp_store_device_jobs(st, c->uuid, DEVICE_JOBS_MAX, device_job_one, c, err);
	json_t *jobs = rc == 0 ? json_array() : NULL;
	if (rc == 0 && !jobs)
		rc = pp_err_set(err, PP_ENOMEM, "out of memory");
	for (size_t i = 0; rc == 0 && i < c->n; i++) {
		json_t *j = NULL;
		rc = pp_uc_job_with_events_json(st, &c->jobs[i], &j, err);
		if (rc == 0 && json_array_append_new(jobs, j) < 0)
			rc = pp_err_set(err, PP_ENOMEM, "out of memory");
	}
	if (rc < 0) {
		json_decref(jobs);
		return rc;
	}
	res->body = json_pack("{s:o*,s:o}", "device", pp_uc_device_json(&d), "jobs", jobs);
	return res->body ? 0 : pp_err_set(err, PP_ENOMEM, "out of memory");
}

/* The {uuid} segment: a new context, or NULL with the error sent. */
static struct device_ctx *device_arg(struct api_call *c)
{
	struct pp_err err = {0};
	struct device_ctx *x = calloc(1, sizeof(*x));
	if (!x) {
		api_fail(c, 503, "out of memory", NULL);
		return NULL;
	}
	if (pp_uuid_parse(c->arg, x->uuid, &err) < 0) {
		free(x);
		api_fail(c, 400, err.msg, "uuid");
		return NULL;
	}
	pp_uuid_format(x->uuid, x->uuid_text);
	return x;
}

void api_on_device(struct api_call *c)
{
	if (!api_query_ok(c, (const char *const[]){NULL}))
		return;
	struct device_ctx *x = device_arg(c);
	if (x)
		api_store_call(c, device_run, x, free, false);
}

/* ---- the reveal: audited ("devices.reveal", api:NAME) in the same transaction as the
 * read, so no secret goes out unless its audit entry is committed ---- */

static void secrets_wipe(struct pp_device_secrets *sec)
{
	pp_wipe(sec, sizeof(*sec));
}

static int credentials_run(struct pp_store *st, void *arg, struct api_result *res,
			   struct pp_err *err)
{
	struct device_ctx *c = arg;
	struct pp_device_info d;
	pp_cleanup(secrets_wipe) struct pp_device_secrets sec;
	memset(&sec, 0, sizeof(sec));
	int rc = pp_uc_device_credentials(st, c->uuid_text, c->actor, &d, &sec, err);
	if (rc < 0)
		return rc;
	res->no_store = true;
	res->body = json_pack("{s:s,s:s,s:s}", "admin_user", sec.admin_user, "admin_password",
			      sec.admin_password, "mebx_password", sec.mebx_password);
	return res->body ? 0 : pp_err_set(err, PP_ENOMEM, "out of memory");
}

void api_on_credentials(struct api_call *c)
{
	bool failed;
	if (!api_query_ok(c, (const char *const[]){NULL}))
		return;
	json_t *b = api_body(c, (const char *const[]){NULL}, true, &failed);
	json_decref(b);
	if (failed)
		return;
	struct device_ctx *x = device_arg(c);
	if (!x)
		return;
	snprintf(x->actor, sizeof(x->actor), "%s", c->actor);
	api_store_call(c, credentials_run, x, free, true);
}

/* ---- release ---- */

static int release_run(struct pp_store *st, void *arg, struct api_result *res, struct pp_err *err)
{
	struct device_ctx *c = arg;
	struct pp_device_info d;
	int rc =
	    pp_store_device_release(st, c->uuid, c->actor, c->reason, (int64_t)time(NULL), err);
	if (rc == -PP_EINVAL)
		res->field = "reason";
	if (rc == 0)
		rc = pp_store_device_get(st, c->uuid, &d, err);
	if (rc < 0)
		return rc;
	res->body = json_pack("{s:o*}", "device", pp_uc_device_json(&d));
	return res->body ? 0 : pp_err_set(err, PP_ENOMEM, "out of memory");
}

void api_on_release(struct api_call *c)
{
	static const char *const fields[] = {"reason", NULL};
	bool failed;
	if (!api_query_ok(c, (const char *const[]){NULL}))
		return;
	json_t *b = api_body(c, fields, false, &failed);
	if (failed)
		return;
	const char *reason = json_string_value(json_object_get(b, "reason"));
	size_t n = reason ? strlen(reason) : 0;
	if (n == 0 || n > PP_STORE_TEXT_MAX) {
		json_decref(b);
		api_fail(c, 400, "reason must be 1 to 199 printable characters", "reason");
		return;
	}
	struct device_ctx *x = device_arg(c);
	if (x) {
		snprintf(x->reason, sizeof(x->reason), "%s", reason);
		snprintf(x->actor, sizeof(x->actor), "%s", c->actor);
		api_store_call(c, release_run, x, free, true);
	}
	json_decref(b);
}
