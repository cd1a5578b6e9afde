/* The operator's views and actions (store.h "the operator's views and actions",
 * docs/api.md): device queries with filters, sorts and keyset pages, a device's jobs,
 * job events and pages, key stock, and the administrator's requeue and release. The
 * generic half: validation, the SQL of each query shape (both dialects), decisions and
 * audit entries; backends run the statements (store_impl.h). */
#include "store/store_impl.h"

#include "core/parse.h"

#include <ctype.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

/* ---- sorts and cursors ---- */

static const char *const sort_names[PP_DEV_SORT_MAX] = {
    [PP_DEV_SORT_FIRST_SEEN] = "first_seen", [PP_DEV_SORT_LAST_SEEN] = "last_seen",
    [PP_DEV_SORT_HOST_NAME] = "host_name",   [PP_DEV_SORT_ADDRESS] = "address",
    [PP_DEV_SORT_STATE] = "state",           [PP_DEV_SORT_PID] = "pid",
};

const char *pp_device_sort_name(enum pp_device_sort s)
{
	return (unsigned)s < PP_DEV_SORT_MAX ? sort_names[s] : "?";
}

int pp_device_sort_parse(const char *name, enum pp_device_sort *out, struct pp_err *err)
{
	for (int i = 0; name && i < PP_DEV_SORT_MAX; i++) {
		if (strcmp(name, sort_names[i]) == 0) {
			*out = (enum pp_device_sort)i;
			return 0;
		}
	}
	return pp_err_set(err, PP_EINVAL,
			  "unknown sort '%.32s' (first_seen, last_seen, host_name, address, state, "
			  "pid)",
			  name ? name : "");
}

int64_t pp_store_addr_num(const uint8_t a[4])
{
	return ((int64_t)a[0] << 24) | ((int64_t)a[1] << 16) | ((int64_t)a[2] << 8) | a[3];
}

static bool sort_is_text(enum pp_device_sort s)
{
	return s == PP_DEV_SORT_HOST_NAME || s == PP_DEV_SORT_STATE || s == PP_DEV_SORT_PID;
}

void pp_device_cursor_from(enum pp_device_sort sort, const struct pp_device_info *d,
			   struct pp_device_cursor *c)
{
	memset(c, 0, sizeof(*c));
	c->id = d->id;
	switch (sort) {
	case PP_DEV_SORT_LAST_SEEN:
		c->num = d->last_seen;
		break;
	case PP_DEV_SORT_ADDRESS:
		c->num = pp_store_addr_num(d->addr);
		break;
	case PP_DEV_SORT_HOST_NAME:
		snprintf(c->text, sizeof(c->text), "%s", d->host_name);
		break;
	case PP_DEV_SORT_STATE:
		snprintf(c->text, sizeof(c->text), "%s", pp_device_state_name(d->state));
		break;
	case PP_DEV_SORT_PID:
		snprintf(c->text, sizeof(c->text), "%s", d->pid);
		break;
	default:
		break;
	}
}

void pp_store_device_info_of(const struct pp_device_row *d, struct pp_device_info *out)
{
	*out = d->info;
	memcpy(out->quarantine_reason, d->quarantine_reason, sizeof(out->quarantine_reason));
	out->hello_count = d->hello_count;
}

void pp_job_claim_detail(const char *owner, uint32_t attempts, char out[PP_STORE_TEXT_MAX + 1])
{
	snprintf(out, PP_STORE_TEXT_MAX + 1, "%.64s attempt %" PRIu32, owner, attempts);
}

/* ---- the SQL of a query shape ---- */

int pp_dq_shape(const struct pp_device_query *q, bool count)
{
	int f = (q->state >= 0) | (q->batch ? 2 : 0) | (q->quarantined >= 0 ? 4 : 0) |
		(q->text && *q->text ? 8 : 0);
	if (count)
		return f;
	return (((int)q->sort * 2 + (q->desc ? 1 : 0)) * 2 + (q->after ? 1 : 0)) * 16 + f;
}

struct sqlbuf {
	char *p;
	size_t cap, n;
	bool over;
	enum pp_dq_dialect d;
	enum pp_dq_param *params;
	int np;
};

static void put(struct sqlbuf *b, const char *t)
{
	size_t k = strlen(t);
	if (b->n + k >= b->cap) {
		b->over = true;
		return;
	}
	memcpy(b->p + b->n, t, k + 1);
	b->n += k;
}

/* A placeholder for parameter kind k: a new number each use (PostgreSQL types each). */
static void param(struct sqlbuf *b, enum pp_dq_param k)
{
	char t[16];
	if (b->np >= PP_DQ_PARAMS_MAX) {
		b->over = true;
		return;
	}
	b->params[b->np++] = k;
	snprintf(t, sizeof(t), "%s%d", b->d == PP_DQ_POSTGRES ? "$" : "?", b->np);
	put(b, t);
}

/* The sort key expression, as the indexes of migration 6 are written. */
static const char *sort_key(enum pp_dq_dialect d, enum pp_device_sort s)
{
	bool pg = d == PP_DQ_POSTGRES;
	switch (s) {
	case PP_DEV_SORT_LAST_SEEN:
		return "last_seen";
	case PP_DEV_SORT_HOST_NAME:
		return pg ? "(coalesce(host_name, '') COLLATE \"C\")" : "coalesce(host_name, '')";
	case PP_DEV_SORT_ADDRESS:
		return "address_num";
	case PP_DEV_SORT_STATE:
		return pg ? "(state COLLATE \"C\")" : "state";
	case PP_DEV_SORT_PID:
		return pg ? "(coalesce(pid, '') COLLATE \"C\")" : "coalesce(pid, '')";
	default:
		return NULL;
	}
}

static void filters(struct sqlbuf *b, const struct pp_device_query *q)
{
	bool pg = b->d == PP_DQ_POSTGRES;
	const char *like = pg ? " ILIKE " : " LIKE ";
	put(b, "WHERE 1 = 1");
	if (q->state >= 0) {
		put(b, " AND state = ");
		param(b, PP_DQ_P_STATE);
	}
	if (q->batch) {
		put(b, " AND pid IN (SELECT k.pid FROM keys k WHERE k.batch_id = ");
		param(b, PP_DQ_P_BATCH);
		put(b, ")");
	}
	if (q->quarantined >= 0) {
		put(b, " AND quarantined = ");
		param(b, PP_DQ_P_QUAR);
	}
	if (q->text && *q->text) {
		const char *cols[] = {"uuid", "coalesce(address, '')", "coalesce(host_name, '')"};
		put(b, " AND (");
		for (size_t i = 0; i < sizeof(cols) / sizeof(cols[0]); i++) {
			put(b, cols[i]);
			put(b, like);
			param(b, PP_DQ_P_TEXT);
			put(b, " ESCAPE '\\' OR ");
		}
		put(b, "coalesce(pid, '')");
		put(b, like);
		param(b, PP_DQ_P_PID_TEXT);
		put(b, " ESCAPE '\\')");
	}
}

/* (key, id) after the cursor: "key >= c AND (key > c OR id > i)" (mirrored when
 * descending), so the index on (key, id) gives the range. */
static void after(struct sqlbuf *b, const struct pp_device_query *q, const char *key)
{
	const char *gt = q->desc ? " < " : " > ";
	if (!key) {
		put(b, " AND id");
		put(b, gt);
		param(b, PP_DQ_P_CUR_ID);
		return;
	}
	put(b, " AND ");
	put(b, key);
	put(b, q->desc ? " <= " : " >= ");
	param(b, PP_DQ_P_CUR_KEY);
	put(b, " AND (");
	put(b, key);
	put(b, gt);
	param(b, PP_DQ_P_CUR_KEY);
	put(b, " OR id");
	put(b, gt);
	param(b, PP_DQ_P_CUR_ID);
	put(b, ")");
}

int pp_dq_sql(enum pp_dq_dialect dialect, const char *cols, const struct pp_device_query *q,
	      bool count, char *out, size_t cap, enum pp_dq_param params[PP_DQ_PARAMS_MAX], int *np)
{
	enum pp_dq_param all[PP_DQ_PARAMS_MAX];
	struct sqlbuf b = {.p = out, .cap = cap, .d = dialect, .params = all};
	const char *key = sort_key(dialect, q->sort);
	out[0] = '\0';
	put(&b, count ? "SELECT count(*) FROM devices " : cols);
	filters(&b, q);
	if (!count) {
		const char *dir = q->desc ? " DESC" : "";
		if (q->after)
			after(&b, q, key);
		put(&b, " ORDER BY ");
		if (key) {
			put(&b, key);
			put(&b, dir);
			put(&b, ", ");
		}
		put(&b, "id");
		put(&b, dir);
		put(&b, " LIMIT ");
		param(&b, PP_DQ_P_LIMIT);
	}
	if (b.over)
		return -PP_ETOOBIG;
	memcpy(params, all, sizeof(all[0]) * (size_t)b.np);
	*np = b.np;
	return 0;
}

static void like_escaped(const char *in, bool drop_dash, bool upper, char *out, size_t cap)
{
	size_t n = 0;
	out[n++] = '%';
	for (; *in && n + 3 < cap; in++) {
		char c = *in;
		if (drop_dash && c == '-')
			continue;
		if (c == '%' || c == '_' || c == '\\')
			out[n++] = '\\';
		out[n++] = (char)(upper ? toupper((unsigned char)c) : tolower((unsigned char)c));
	}
	out[n++] = '%';
	out[n] = '\0';
}

void pp_dq_patterns(const char *text, char pat[3 * PP_DEVICE_TEXT_MAX + 3],
		    char pid_pat[3 * PP_DEVICE_TEXT_MAX + 3])
{
	like_escaped(text, false, false, pat, 3 * PP_DEVICE_TEXT_MAX + 3);
	like_escaped(text, true, true, pid_pat, 3 * PP_DEVICE_TEXT_MAX + 3);
	if (strcmp(pid_pat, "%%") == 0)
		pid_pat[0] = '\0'; /* only dashes: matches no PID */
}

/* ---- device queries ---- */

static int check_text(const char *t, struct pp_err *err)
{
	size_t n = strlen(t);
	if (n > PP_DEVICE_TEXT_MAX)
		return pp_err_set(err, PP_EINVAL, "search text longer than %d characters",
				  PP_DEVICE_TEXT_MAX);
	for (size_t i = 0; i < n; i++)
		if (t[i] < 0x20 || t[i] > 0x7e)
			return pp_err_set(err, PP_EINVAL,
					  "search text: only printable ASCII characters");
	return 0;
}

static int query_check(const struct pp_device_query *q, struct pp_err *err)
{
	if (q->state < -1 || q->state >= PP_DEV_STATE_MAX)
		return pp_err_set(err, PP_EINVAL, "unknown device state %d", q->state);
	if (q->quarantined < -1 || q->quarantined > 1)
		return pp_err_set(err, PP_EINVAL, "quarantined: -1, 0 or 1");
	if ((unsigned)q->sort >= PP_DEV_SORT_MAX)
		return pp_err_set(err, PP_EINVAL, "unknown sort %d", (int)q->sort);
	if (q->limit < 1 || q->limit > PP_STORE_ROWS_MAX)
		return pp_err_set(err, PP_EINVAL, "limit %" PRIu32 " out of range 1..%d", q->limit,
				  PP_STORE_ROWS_MAX);
	if (q->after && q->after->id < 0)
		return pp_err_set(err, PP_EINVAL, "a bad cursor");
	if (q->after && sort_is_text(q->sort) &&
	    !memchr(q->after->text, '\0', sizeof(q->after->text)))
		return pp_err_set(err, PP_EINVAL, "a bad cursor");
	return q->text ? check_text(q->text, err) : 0;
}

struct query_ctx {
	int (*cb)(void *, const struct pp_device_info *);
	void *ctx;
};

static int query_row(void *vctx, const struct pp_device_row *d)
{
	struct query_ctx *c = vctx;
	struct pp_device_info info;
	pp_store_device_info_of(d, &info);
	return c->cb(c->ctx, &info);
}

int pp_store_device_query(struct pp_store *s, const struct pp_device_query *q,
			  int (*cb)(void *ctx, const struct pp_device_info *), void *ctx,
			  uint64_t *total, struct pp_err *err)
{
	char pat[3 * PP_DEVICE_TEXT_MAX + 3], pid_pat[3 * PP_DEVICE_TEXT_MAX + 3];
	int64_t batch_id = 0;
	int rc;
	if (total)
		*total = 0;
	if (!q || !cb)
		return pp_err_set(err, PP_EINVAL, "device query: no query");
	if ((rc = query_check(q, err)) < 0)
		return rc;
	if (q->batch) {
		struct pp_batch_info bi;
		rc = s->ops->batch_get(s, q->batch, 0, false, &bi, err);
		if (rc == -PP_ENOTFOUND)
			return pp_err_set(err, PP_ENOTFOUND, "no batch '%.64s'", q->batch);
		if (rc < 0)
			return rc;
		batch_id = bi.id;
	}
	bool text = q->text && *q->text;
	if (text)
		pp_dq_patterns(q->text, pat, pid_pat);
	struct query_ctx c = {cb, ctx};
	return s->ops->device_query(s, q, batch_id, text ? pat : NULL, text ? pid_pat : NULL,
				    query_row, &c, total, err);
}

/* ---- jobs and events ---- */

int pp_store_device_jobs(struct pp_store *s, const uint8_t uuid[16], uint32_t limit,
			 int (*cb)(void *ctx, const struct pp_job *), void *ctx, struct pp_err *err)
{
	if (!uuid || !cb)
		return pp_err_set(err, PP_EINVAL, "device jobs: no device");
	if (limit < 1 || limit > 100)
		return pp_err_set(err, PP_EINVAL, "limit %" PRIu32 " out of range 1..100", limit);
	return s->ops->device_jobs(s, uuid, limit, cb, ctx, err);
}

int pp_store_job_events(struct pp_store *s, int64_t job_id,
			int (*cb)(void *ctx, const struct pp_job_event *), void *ctx,
			struct pp_err *err)
{
	struct pp_job j;
	int rc = s->ops->job_get(s, job_id, false, &j, err);
	if (rc == -PP_ENOTFOUND)
		return pp_err_set(err, PP_ENOTFOUND, "no job %lld", (long long)job_id);
	if (rc < 0)
		return rc;
	return s->ops->job_events(s, job_id, cb, ctx, err);
}

int pp_store_job_page(struct pp_store *s, const struct pp_job_page *p,
		      int (*cb)(void *ctx, const struct pp_job *), void *ctx, struct pp_err *err)
{
	if (!p || !cb)
		return pp_err_set(err, PP_EINVAL, "job page: no query");
	if (p->state < -1 || p->state >= PP_JOB_STATE_MAX)
		return pp_err_set(err, PP_EINVAL, "unknown job state %d", p->state);
	if (p->limit < 1 || p->limit > PP_STORE_ROWS_MAX)
		return pp_err_set(err, PP_EINVAL, "limit %" PRIu32 " out of range 1..%d", p->limit,
				  PP_STORE_ROWS_MAX);
	if (p->before_id < 0)
		return pp_err_set(err, PP_EINVAL, "a bad cursor");
	if (p->bound < -1 || p->bound > 1)
		return pp_err_set(err, PP_EINVAL, "bound: -1, 0 or 1");
	int rc = p->text ? check_text(p->text, err) : 0;
	if (rc < 0)
		return rc;
	char pat[3 * PP_DEVICE_TEXT_MAX + 3], pid_pat[3 * PP_DEVICE_TEXT_MAX + 3];
	bool text = p->text && *p->text;
	if (text)
		pp_dq_patterns(p->text, pat, pid_pat);
	return s->ops->job_page(s, p, p->before_id ? p->before_id : INT64_MAX, text ? pat : NULL,
				text ? pid_pat : NULL, cb, ctx, err);
}

/* ---- key stock ---- */

struct stock_ctx {
	int (*cb)(void *, const struct pp_key_stock *);
	void *ctx;
	int64_t id; /* the batch being summed; 0 before the first */
	struct pp_key_stock cur;
	int stop;
};

static int stock_flush(struct stock_ctx *c)
{
	if (c->id == 0 || c->stop)
		return c->stop;
	c->stop = c->cb(c->ctx, &c->cur);
	return c->stop;
}

static int stock_row(void *vctx, int64_t id, const char *batch, const char *state, int64_t n)
{
	struct stock_ctx *c = vctx;
	if (id != c->id) {
		if (stock_flush(c) != 0)
			return c->stop;
		memset(&c->cur, 0, sizeof(c->cur));
		snprintf(c->cur.batch, sizeof(c->cur.batch), "%s", batch ? batch : "");
		c->id = id;
	}
	enum pp_key_state ks;
	uint64_t v = n > 0 ? (uint64_t)n : 0;
	if (state && strcmp(state, "#quarantined") == 0) {
		c->cur.quarantined_devices += v;
	} else if (state && pp_key_state_parse(state, &ks, NULL) == 0) {
		c->cur.by_state[ks] += v;
		c->cur.total += v;
	}
	return 0;
}

int pp_store_key_stock(struct pp_store *s, int (*cb)(void *ctx, const struct pp_key_stock *),
		       void *ctx, struct pp_err *err)
{
	if (!cb)
		return pp_err_set(err, PP_EINVAL, "key stock: no callback");
	struct stock_ctx c = {.cb = cb, .ctx = ctx};
	int rc = s->ops->key_stock(s, stock_row, &c, err);
	if (rc < 0)
		return rc;
	rc = stock_flush(&c);
	return rc < 0 ? rc : 0;
}

/* ---- the administrator's actions ---- */

static void uuid_lower(const uint8_t uuid[16], char out[37])
{
	pp_uuid_format(uuid, out);
	for (int i = 0; out[i]; i++)
		out[i] = (char)tolower((unsigned char)out[i]);
}

static int event(struct pp_store *s, int64_t job_id, int64_t now, const char *name,
		 const char *detail, struct pp_err *err)
{
	struct pp_job_event ev = {.job_id = job_id, .time = now};
	snprintf(ev.event, sizeof(ev.event), "%s", name);
	pp_store_text_copy(ev.detail, sizeof(ev.detail), detail);
	return s->ops->job_event(s, &ev, err);
}

/* The checks of a requeue with the device (d, when bound) and the job locked. */
static int requeue_check(struct pp_store *s, const struct pp_job *j, const struct pp_device_row *d,
			 struct pp_err *err)
{
	struct pp_job other;
	if (j->state != PP_JOB_FAILED)
		return pp_err_set(err, PP_ESTATE, "job %lld is %s, not failed", (long long)j->id,
				  pp_job_state_name(j->state));
	if (d && d->info.state == PP_DEV_QUARANTINED)
		return pp_err_set(err, PP_ESTATE,
				  "job %lld: its device is quarantined: release the quarantine "
				  "first",
				  (long long)j->id);
	int rc = s->ops->job_find(s, j->uuid, PP_JOB_FIND_ACTIVE, false, &other, err);
	if (rc == 0)
		return pp_err_set(err, PP_ESTATE, "job %lld: job %lld of its device is %s",
				  (long long)j->id, (long long)other.id,
				  pp_job_state_name(other.state));
	return rc == -PP_ENOTFOUND ? 0 : rc;
}

static int requeue_locked(struct pp_store *s, struct pp_job *j, const char *actor, int64_t now,
			  struct pp_err *err)
{
	struct pp_device_row d;
	char uuid[37], id[24], detail[PP_STORE_TEXT_MAX + 1];
	int rc = 0;
	/* Lock order: the device, then the job. */
	if (j->bound && (rc = s->ops->device_lock(s, j->uuid, NULL, &d, NULL, err)) < 0 &&
	    rc != -PP_ENOTFOUND)
		return rc;
	bool dev = j->bound && rc == 0;
	if ((rc = s->ops->job_get(s, j->id, true, j, err)) < 0 ||
	    (rc = requeue_check(s, j, dev ? &d : NULL, err)) < 0)
		return rc;
	j->state = PP_JOB_PENDING;
	j->next_attempt_at = now;
	j->attempts = 0;
	j->owner[0] = '\0';
	j->lease_until = 0;
	j->updated = now;
	struct pp_job_event ev = {.job_id = j->id, .time = now, .event = "requeued"};
	snprintf(ev.detail, sizeof(ev.detail), "by %.180s", actor);
	if ((rc = s->ops->job_put(s, j, &ev, err)) == -PP_EEXIST)
		return pp_err_set(err, PP_ESTATE, "job %lld: its device has another active job",
				  (long long)j->id);
	if (rc < 0)
		return rc;
	if (dev && d.info.state != PP_DEV_CONFIGURING) {
		d.info.state = PP_DEV_CONFIGURING;
		d.updated = now;
		if ((rc = s->ops->device_put(s, &d, err)) < 0)
			return rc;
	}
	uuid_lower(j->uuid, uuid);
	snprintf(id, sizeof(id), "%lld", (long long)j->id);
	snprintf(detail, sizeof(detail), "%s", uuid);
	return pp_store_audit_at(s, now, actor, "job.requeued", id, detail, err);
}

int pp_store_job_requeue(struct pp_store *s, int64_t job_id, const char *actor, int64_t now,
			 struct pp_err *err)
{
	struct pp_store_atomic a;
	struct pp_job j;
	if (!actor || !*actor)
		return pp_err_set(err, PP_EINVAL, "job requeue: no actor");
	int rc = s->ops->job_get(s, job_id, false, &j, err);
	if (rc == -PP_ENOTFOUND)
		return pp_err_set(err, PP_ENOTFOUND, "no job %lld", (long long)job_id);
	if (rc < 0)
		return rc;
	if ((rc = pp_store_atomic_begin(s, &a, err)) < 0)
		return rc;
	rc = requeue_locked(s, &j, actor, now, err);
	return pp_store_atomic_end(s, &a, rc, err);
}

static int check_reason(const char *r, struct pp_err *err)
{
	size_t n = r ? strlen(r) : 0;
	if (n < 1 || n > PP_STORE_TEXT_MAX)
		return pp_err_set(err, PP_EINVAL, "a reason of 1..%d characters is needed",
				  PP_STORE_TEXT_MAX);
	for (size_t i = 0; i < n;) {
		size_t k = pp_store_utf8_len((const unsigned char *)r + i, n - i);
		if (k == 0 || (k == 1 && ((unsigned char)r[i] < 0x20 || r[i] == 0x7f)))
			return pp_err_set(err, PP_EINVAL, "the reason: only printable characters");
		i += k;
	}
	return 0;
}

static int release_locked(struct pp_store *s, const uint8_t uuid[16], const char *actor,
			  const char *reason, int64_t now, struct pp_err *err)
{
	struct pp_device_row d;
	char t[37];
	uuid_lower(uuid, t);
	int rc = s->ops->device_lock(s, uuid, NULL, &d, NULL, err);
	if (rc == -PP_ENOTFOUND)
		return pp_err_set(err, PP_ENOTFOUND, "no device %s", t);
	if (rc < 0)
		return rc;
	if (d.info.state != PP_DEV_QUARANTINED)
		return pp_err_set(err, PP_ESTATE, "device %s is %s, not quarantined", t,
				  pp_device_state_name(d.info.state));
	d.info.state = PP_DEV_FAILED;
	snprintf(d.info.last_error, sizeof(d.info.last_error), "released from quarantine");
	d.updated = now;
	if ((rc = s->ops->device_put(s, &d, err)) < 0)
		return rc;
	return pp_store_audit_at(s, now, actor, "device.released", t, reason, err);
}

int pp_store_device_release(struct pp_store *s, const uint8_t uuid[16], const char *actor,
			    const char *reason, int64_t now, struct pp_err *err)
{
	struct pp_store_atomic a;
	int rc;
	if (!uuid || !actor || !*actor)
		return pp_err_set(err, PP_EINVAL, "device release: no device or actor");
	if ((rc = check_reason(reason, err)) < 0)
		return rc;
	if ((rc = pp_store_atomic_begin(s, &a, err)) < 0)
		return rc;
	rc = release_locked(s, uuid, actor, reason, now, err);
	return pp_store_atomic_end(s, &a, rc, err);
}

/* Used by jobs.c for the events it writes outside a job_put. */
int pp_store_job_event_at(struct pp_store *s, int64_t job_id, int64_t now, const char *name,
			  const char *detail, struct pp_err *err)
{
	return event(s, job_id, now, name, detail, err);
}
