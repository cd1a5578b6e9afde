/* /api/v1/jobs: newest first by keyset pages, one job with its events, an
 * administrator's retry of a failed job (docs/api.md). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "server/api_call.h"
#include "server/server.h"
#include "store/store.h"
#include "usecase/devices.h"

#define CURSOR_JOBS 2

struct jobs_ctx {
	struct pp_job_page p;
	char text[PP_DEVICE_TEXT_MAX + 1];
	struct pp_cursor cur;
	uint32_t want, n;
	int64_t last_id;
	json_t *rows;
};

static int jobs_row(void *arg, const struct pp_job *j)
{
	struct jobs_ctx *c = arg;
	if (++c->n > c->want)
		return 0;
	c->last_id = j->id;
	json_t *o = pp_uc_job_json(j);
	return o && json_array_append_new(c->rows, o) == 0 ? 0 : -PP_ENOMEM;
}

static int jobs_run(struct pp_store *st, void *arg, struct api_result *res, struct pp_err *err)
{
	struct jobs_ctx *c = arg;
	c->n = 0;
	c->rows = json_array();
	if (!c->rows)
		return pp_err_set(err, PP_ENOMEM, "out of memory");
	int rc = pp_store_job_page(st, &c->p, jobs_row, c, err);
	if (rc < 0) {
		json_decref(c->rows);
		res->field = rc == -PP_EINVAL ? "q" : NULL;
		return rc;
	}
	json_t *next = json_null();
	bool more = c->n > c->want;
	char hex[PP_CURSOR_HEX_MAX + 1];
	struct pp_cursor k = c->cur;
	k.id = c->last_id;
	if (more && c->n && pp_cursor_encode(&k, hex, sizeof(hex)) == 0)
		next = json_string(hex);
	res->body = json_pack("{s:o,s:o*}", "jobs", c->rows, "next_cursor", next);
	return res->body ? 0 : pp_err_set(err, PP_ENOMEM, "out of memory");
}

/* The filters: 0, or -PP_EINVAL with *field. */
static int jobs_filters(struct api_call *c, struct jobs_ctx *x, const char **field,
			struct pp_err *err)
{
	const char *v;
	bool b;
	x->p.state = -1;
	x->p.bound = -1;
	if ((v = pp_query_get(&c->q, "state")) && pp_uc_job_state_parse(v, &x->p.state, err) < 0)
		return *field = "state", -PP_EINVAL;
	if ((v = pp_query_get(&c->q, "bound"))) {
		if (pp_query_bool(v, &b, "bound", err) < 0)
			return *field = "bound", -PP_EINVAL;
		x->p.bound = b;
	}
	return api_param_text(c, x->text, sizeof(x->text), &x->p.text, field, err);
}

static int jobs_params(struct api_call *c, struct jobs_ctx *x, const char **field,
		       struct pp_err *err)
{
	const char *v;
	uint64_t limit = 50;
	if (jobs_filters(c, x, field, err) < 0)
		return -PP_EINVAL;
	if ((v = pp_query_get(&c->q, "limit")) &&
	    pp_query_u64(v, 1, PP_DEVICE_PAGE_MAX, &limit, "limit", err) < 0)
		return *field = "limit", -PP_EINVAL;
	x->want = (uint32_t)limit;
	x->p.limit = x->want + 1; /* one more: is there a next page? */
	const char *f[] = {pp_query_get(&c->q, "state"), pp_query_get(&c->q, "q"),
			   pp_query_get(&c->q, "bound")};
	x->cur = (struct pp_cursor){.kind = CURSOR_JOBS, .filter = pp_query_digest(f, 3)};
	if ((v = pp_query_get(&c->q, "cursor"))) {
		struct pp_cursor got;
		if (pp_cursor_decode(v, &x->cur, &got, err) < 0)
			return *field = "cursor", -PP_EINVAL;
		x->p.before_id = got.id;
	}
	return 0;
}

void api_on_jobs(struct api_call *c)
{
	static const char *const params[] = {"state", "q", "bound", "limit", "cursor", NULL};
	if (!api_query_ok(c, params))
		return;
	struct jobs_ctx *x = calloc(1, sizeof(*x));
	struct pp_err err = {0};
	const char *field = NULL;
	if (!x) {
		api_fail(c, 503, "out of memory", NULL);
		return;
	}
	if (jobs_params(c, x, &field, &err) < 0) {
		free(x);
		api_fail(c, 400, err.msg, field);
		return;
	}
	api_store_call(c, jobs_run, x, free, false);
}

/* ---- one job; retry ---- */

struct job_ctx {
	int64_t id;
	char actor[72];
};

static int job_answer(struct pp_store *st, struct job_ctx *c, struct api_result *res,
		      struct pp_err *err)
{
	struct pp_job j;
	json_t *o = NULL;
	int rc = pp_store_job_get(st, c->id, &j, err);
	if (rc == 0)
		rc = pp_uc_job_with_events_json(st, &j, &o, err);
	if (rc < 0)
		return rc;
	res->body = json_pack("{s:o}", "job", o);
	return res->body ? 0 : pp_err_set(err, PP_ENOMEM, "out of memory");
}

static int job_run(struct pp_store *st, void *arg, struct api_result *res, struct pp_err *err)
{
	return job_answer(st, arg, res, err);
}

static int retry_run(struct pp_store *st, void *arg, struct api_result *res, struct pp_err *err)
{
	struct job_ctx *c = arg;
	int rc = pp_store_job_requeue(st, c->id, c->actor, (int64_t)time(NULL), err);
	if (rc < 0)
		return rc;
	res->code = 202;
	return job_answer(st, c, res, err);
}

/* The {id} segment: a new context, or NULL with the error sent. */
static struct job_ctx *job_arg(struct api_call *c)
{
	struct pp_err err = {0};
	uint64_t id;
	if (pp_query_u64(c->arg, 1, INT64_MAX, &id, "id", &err) < 0) {
		api_fail(c, 400, err.msg, "id");
		return NULL;
	}
	struct job_ctx *x = calloc(1, sizeof(*x));
	if (!x) {
		api_fail(c, 503, "out of memory", NULL);
		return NULL;
	}
	x->id = (int64_t)id;
	snprintf(x->actor, sizeof(x->actor), "%s", c->actor);
	return x;
}

void api_on_job(struct api_call *c)
{
	if (!api_query_ok(c, (const char *const[]){NULL}))
		return;
	struct job_ctx *x = job_arg(c);
	if (x)
		api_store_call(c, job_run, x, free, false);
}

void api_on_retry(struct api_call *c)
{
	bool failed;
	if (!api_query_ok(c, (const char *const[]){NULL}))
		return;
	json_t *b = api_body(c, (const char *const[]){NULL}, true, &failed);
	json_decref(b);
	if (failed)
		return;
	struct job_ctx *x = job_arg(c);
	if (x)
		api_store_call(c, retry_run, x, free, true);
}
