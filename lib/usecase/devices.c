/* Device and job lookups for the administrator. */
#include "usecase/devices.h"

#include <ctype.h>
#include <inttypes.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "core/parse.h"
#include "core/secret.h"
#include "keys/keys.h"

typedef const char *(*state_name_fn)(int);

static const char *dev_state_name(int i)
{
	return pp_device_state_name((enum pp_device_state)i);
}

static const char *job_state_name(int i)
{
	return pp_job_state_name((enum pp_job_state)i);
}

static int state_parse(const char *name, state_name_fn fn, int n, int *out, struct pp_err *err)
{
	char valid[160] = "";
	size_t used = 0;
	for (int i = 0; i < n; i++) {
		if (!strcmp(name, fn(i))) {
			*out = i;
			return 0;
		}
		int w = snprintf(valid + used, sizeof(valid) - used, "%s%s", i ? ", " : "", fn(i));
		if (w > 0 && (size_t)w < sizeof(valid) - used)
			used += (size_t)w;
	}
	return pp_err_set(err, PP_EINVAL, "unknown state '%.20s' (valid: %s)", name, valid);
}

int pp_uc_device_state_parse(const char *name, int *out, struct pp_err *err)
{
	return state_parse(name, dev_state_name, PP_DEV_STATE_MAX, out, err);
}

int pp_uc_job_state_parse(const char *name, int *out, struct pp_err *err)
{
	return state_parse(name, job_state_name, PP_JOB_STATE_MAX, out, err);
}

const char *pp_uc_device_ref_kind_name(enum pp_uc_device_ref_kind k)
{
	static const char *const names[] = {"UUID", "PID", "address", "host name"};
	return (unsigned)k < sizeof(names) / sizeof(names[0]) ? names[k] : "host name";
}

struct device_ref {
	enum pp_uc_device_ref_kind kind;
	uint8_t uuid[16];
	char pid[9];
	uint8_t addr[4];
	const char *name;
};

/* 32 symbols, dashes aside: a PPS (or a mistyped one) given by mistake. */
static bool pps_shaped(const char *text)
{
	size_t n = 0;
	for (const char *c = text; *c; c++) {
		if (isalnum((unsigned char)*c))
			n++;
		else if (*c != '-')
			return false;
	}
	return n == PP_PPS_LEN;
}

static int ref_parse(const char *text, struct device_ref *r, struct pp_err *err)
{
	struct pp_err ignored;
	struct pp_pid pid;
	memset(r, 0, sizeof(*r));
	if (pp_uuid_parse(text, r->uuid, &ignored) == 0) {
		r->kind = PP_UC_REF_UUID;
		return 0;
	}
	/* Never echo a secret: a PPS is not a device name. */
	if (pps_shaped(text))
		return pp_err_set(err, PP_EINVAL,
				  "a PPS is not a device name (give a UUID, PID, address or "
				  "host name); the value is not shown");
	if (pp_parse_ipv4(text, r->addr, "address", &ignored) == 0) {
		r->kind = PP_UC_REF_ADDRESS;
	} else if (pp_pid_parse(text, &pid, &ignored) == 0) {
		r->kind = PP_UC_REF_PID;
		memcpy(r->pid, pid.s, sizeof(r->pid));
		/* "server01" may be both: a host name of that spelling matches too. */
		r->name = pp_valid_fqdn(text) ? text : NULL;
	} else if (pp_valid_fqdn(text)) {
		r->kind = PP_UC_REF_HOST_NAME;
		r->name = text;
	} else {
		return pp_err_set(err, PP_EINVAL,
				  "'%.64s' is not a UUID, PID, IPv4 address or host name", text);
	}
	return 0;
}

static bool name_matches(const struct pp_device_info *d, const char *name)
{
	if (!d->host_name[0])
		return false;
	if (!strcasecmp(d->host_name, name))
		return true;
	size_t hl = strlen(d->host_name);
	return d->domain[0] && !strncasecmp(d->host_name, name, hl) && name[hl] == '.' &&
	       !strcasecmp(d->domain, name + hl + 1);
}

static bool ref_matches(const struct device_ref *r, const struct pp_device_info *d)
{
	switch (r->kind) {
	case PP_UC_REF_UUID:
		return !memcmp(r->uuid, d->uuid, 16);
	case PP_UC_REF_PID:
		return !strcmp(r->pid, d->pid) || (r->name && name_matches(d, r->name));
	case PP_UC_REF_ADDRESS:
		return !memcmp(r->addr, d->addr, 4);
	case PP_UC_REF_HOST_NAME:
	default:
		return name_matches(d, r->name);
	}
}

struct find_ctx {
	const struct device_ref *ref;
	struct pp_device_info *out;
	uint64_t matches;
};

static int find_row(void *arg, const struct pp_device_info *d)
{
	struct find_ctx *fc = arg;
	if (!ref_matches(fc->ref, d))
		return 0;
	if (fc->matches++ == 0)
		*fc->out = *d;
	return 0;
}

int pp_uc_device_find(struct pp_store *s, const char *ref, struct pp_device_info *out,
		      enum pp_uc_device_ref_kind *kind, struct pp_err *err)
{
	struct device_ref r;
	int rc = ref_parse(ref, &r, err);
	if (rc < 0)
		return rc;
	if (kind)
		*kind = r.kind;
	if (r.kind == PP_UC_REF_UUID) {
		rc = pp_store_device_get(s, r.uuid, out, err);
		if (rc == -PP_ENOTFOUND)
			return pp_err_set(err, PP_ENOTFOUND, "no device with UUID '%.40s'", ref);
		return rc;
	}
	struct find_ctx fc = {.ref = &r, .out = out};
	struct pp_device_filter f = {.state = -1, .limit = 0};
	rc = pp_store_device_list(s, &f, find_row, &fc, err);
	if (rc < 0)
		return rc;
	const char *what = pp_uc_device_ref_kind_name(r.kind);
	if (fc.matches == 0)
		return pp_err_set(err, PP_ENOTFOUND, "no device with %s '%.64s'", what, ref);
	if (fc.matches > 1)
		return pp_err_set(err, PP_EEXIST, "%llu devices have %s '%.64s'; name one by UUID",
				  (unsigned long long)fc.matches, what, ref);
	return 0;
}

struct count_ctx {
	int (*dev_cb)(void *, const struct pp_device_info *);
	int (*job_cb)(void *, const struct pp_job *);
	void *ctx;
	uint64_t n;
};

static int count_device(void *arg, const struct pp_device_info *d)
{
	struct count_ctx *cc = arg;
	cc->n++;
	return cc->dev_cb ? cc->dev_cb(cc->ctx, d) : 0;
}

static int count_job(void *arg, const struct pp_job *j)
{
	struct count_ctx *cc = arg;
	cc->n++;
	return cc->job_cb ? cc->job_cb(cc->ctx, j) : 0;
}

int pp_uc_device_list(struct pp_store *s, int state,
		      int (*cb)(void *ctx, const struct pp_device_info *), void *ctx,
		      uint64_t *count, struct pp_err *err)
{
	struct count_ctx cc = {.dev_cb = cb, .ctx = ctx};
	struct pp_device_filter f = {.state = state, .limit = 0};
	int rc = pp_store_device_list(s, &f, count_device, &cc, err);
	if (count)
		*count = cc.n;
	return rc;
}

int pp_uc_job_list(struct pp_store *s, int state, int (*cb)(void *ctx, const struct pp_job *),
		   void *ctx, uint64_t *count, struct pp_err *err)
{
	struct count_ctx cc = {.job_cb = cb, .ctx = ctx};
	struct pp_job_filter f = {.state = state, .limit = 0};
	int rc = pp_store_job_list(s, &f, count_job, &cc, err);
	if (count)
		*count = cc.n;
	return rc;
}

int pp_uc_device_credentials(struct pp_store *s, const char *ref, const char *actor,
			     struct pp_device_info *dev, struct pp_device_secrets *sec,
			     struct pp_err *err)
{
	memset(sec, 0, sizeof(*sec));
	int rc = pp_uc_device_find(s, ref, dev, NULL, err);
	if (rc < 0)
		return rc;
	char u[37];
	pp_uuid_format(dev->uuid, u);
	rc = pp_store_audit_append(s, actor, "devices.reveal", u,
				   "admin and MEBx credentials shown", err);
	if (rc == 0)
		rc = pp_store_device_secrets(s, dev->uuid, sec, err);
	if (rc < 0)
		pp_wipe(sec, sizeof(*sec));
	return rc;
}

/* ---- the operator's views and actions ---- */

void pp_uc_cursor_format(enum pp_device_sort sort, const struct pp_device_cursor *c,
			 char out[PP_UC_CURSOR_MAX])
{
	char hex[2 * sizeof(c->text) + 1];
	pp_hex((const uint8_t *)c->text, strnlen(c->text, sizeof(c->text) - 1), hex);
	snprintf(out, PP_UC_CURSOR_MAX, "%s.%" PRId64 ".%" PRId64 ".%s", pp_device_sort_name(sort),
		 c->id, c->num, hex);
}

static int bad_cursor(struct pp_err *err)
{
	return pp_err_set(err, PP_EINVAL, "a bad cursor (give back a listing's next cursor)");
}

int pp_uc_cursor_parse(const char *text, enum pp_device_sort sort, struct pp_device_cursor *c,
		       struct pp_err *err)
{
	const char *name = pp_device_sort_name(sort);
	size_t n = strlen(name);
	memset(c, 0, sizeof(*c));
	if (!text || strncmp(text, name, n) != 0 || text[n] != '.')
		return bad_cursor(err);
	char *end = NULL;
	const char *p = text + n + 1;
	long long id = strtoll(p, &end, 10);
	if (end == p || *end != '.' || id < 0)
		return bad_cursor(err);
	p = end + 1;
	long long num = strtoll(p, &end, 10);
	if (end == p || *end != '.')
		return bad_cursor(err);
	const char *hex = end + 1;
	size_t h = strlen(hex);
	if (h % 2 || h / 2 >= sizeof(c->text) || pp_unhex(hex, (uint8_t *)c->text, h / 2) < 0 ||
	    memchr(c->text, '\0', h / 2))
		return bad_cursor(err);
	c->id = id;
	c->num = num;
	return 0;
}

struct query_ctx {
	int (*cb)(void *, const struct pp_device_info *);
	void *ctx;
	enum pp_device_sort sort;
	struct pp_device_cursor last;
	uint32_t got;
	int stop;
};

static int query_row(void *arg, const struct pp_device_info *d)
{
	struct query_ctx *qc = arg;
	qc->got++;
	pp_device_cursor_from(qc->sort, d, &qc->last);
	qc->stop = qc->cb ? qc->cb(qc->ctx, d) : 0;
	return qc->stop;
}

static int query_store(struct pp_store *s, const struct pp_uc_device_query *q,
		       struct pp_device_query *sq, struct pp_device_cursor *after,
		       struct pp_err *err)
{
	memset(sq, 0, sizeof(*sq));
	sq->state = q->state;
	sq->batch = q->batch;
	sq->quarantined = q->quarantined ? 1 : -1;
	sq->text = q->search;
	sq->desc = q->desc;
	int rc = 0;
	if (q->sort && (rc = pp_device_sort_parse(q->sort, &sq->sort, err)) < 0)
		return rc;
	if (q->after) {
		if ((rc = pp_uc_cursor_parse(q->after, sq->sort, after, err)) < 0)
			return rc;
		sq->after = after;
	}
	(void)s;
	return 0;
}

int pp_uc_device_query(struct pp_store *s, const struct pp_uc_device_query *q,
		       int (*cb)(void *ctx, const struct pp_device_info *), void *ctx,
		       struct pp_uc_device_page *page, struct pp_err *err)
{
	struct pp_device_query sq;
	struct pp_device_cursor after;
	memset(page, 0, sizeof(*page));
	int rc = query_store(s, q, &sq, &after, err);
	if (rc < 0)
		return rc;
	struct query_ctx qc = {.cb = cb, .ctx = ctx, .sort = sq.sort};
	uint64_t left = q->limit;
	bool first = true;
	for (;;) {
		sq.limit = left && left < PP_DEVICE_PAGE_MAX ? (uint32_t)left : PP_DEVICE_PAGE_MAX;
		qc.got = 0;
		rc =
		    pp_store_device_query(s, &sq, query_row, &qc, first ? &page->total : NULL, err);
		if (rc < 0)
			return rc;
		first = false;
		page->shown += qc.got;
		if (qc.stop != 0)
			return qc.stop < 0 ? qc.stop : 0;
		if (qc.got < sq.limit)
			return 0; /* the end */
		after = qc.last;
		sq.after = &after;
		if (left && (left -= qc.got) == 0)
			break;
	}
	/* Cut by the limit: more may follow. */
	if (page->shown < page->total || q->after)
		pp_uc_cursor_format(sq.sort, &after, page->next_cursor);
	return 0;
}

struct history_ctx {
	struct pp_job jobs[PP_UC_HISTORY_JOBS];
	size_t n;
	struct pp_job_event ev[PP_JOB_EVENTS_MAX];
	size_t nev;
};

static int history_job(void *arg, const struct pp_job *j)
{
	struct history_ctx *h = arg;
	if (h->n < PP_UC_HISTORY_JOBS)
		h->jobs[h->n++] = *j;
	return 0;
}

static int history_event(void *arg, const struct pp_job_event *e)
{
	struct history_ctx *h = arg;
	if (h->nev < PP_JOB_EVENTS_MAX)
		h->ev[h->nev++] = *e;
	return 0;
}

int pp_uc_device_history(struct pp_store *s, const uint8_t uuid[16],
			 int (*cb)(void *ctx, const struct pp_job *j, const struct pp_job_event *ev,
				   size_t n),
			 void *ctx, struct pp_err *err)
{
	struct history_ctx *h = calloc(1, sizeof(*h));
	if (!h)
		return pp_err_set(err, PP_ENOMEM, "out of memory");
	int rc = pp_store_device_jobs(s, uuid, PP_UC_HISTORY_JOBS, history_job, h, err);
	for (size_t i = 0; rc == 0 && i < h->n; i++) {
		h->nev = 0;
		rc = pp_store_job_events(s, h->jobs[i].id, history_event, h, err);
		if (rc == 0)
			rc = cb(ctx, &h->jobs[i], h->ev, h->nev);
	}
	free(h);
	return rc > 0 ? 0 : rc;
}

int pp_uc_job_retry(struct pp_store *s, const char *id_text, const char *actor, int64_t now,
		    struct pp_job *job, struct pp_err *err)
{
	uint64_t id = 0;
	int rc = pp_parse_u64(id_text, 1, INT64_MAX, &id, "job id", err);
	if (rc < 0)
		return rc;
	if ((rc = pp_store_job_requeue(s, (int64_t)id, actor, now, err)) < 0)
		return rc;
	return pp_store_job_get(s, (int64_t)id, job, err);
}

int pp_uc_device_release(struct pp_store *s, const char *ref, const char *actor, const char *reason,
			 int64_t now, struct pp_device_info *dev, struct pp_err *err)
{
	int rc = pp_uc_device_find(s, ref, dev, NULL, err);
	if (rc < 0)
		return rc;
	if ((rc = pp_store_device_release(s, dev->uuid, actor, reason, now, err)) < 0)
		return rc;
	return pp_store_device_get(s, dev->uuid, dev, err);
}
