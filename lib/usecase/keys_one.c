/* One key (revoke, show), a list of keys, and the keys report. */
#include <string.h>

#include "core/secret.h"
#include "usecase/keys.h"
#include "usecase/keys_impl.h"

int pp_keys_in_tx(struct pp_store *s, int (*fn)(void *ctx, struct pp_err *err), void *ctx,
		  struct pp_err *err)
{
	int rc = pp_store_begin(s, err);
	if (rc < 0)
		return rc;
	rc = fn(ctx, err);
	if (rc == 0)
		rc = pp_store_commit(s, err);
	if (rc < 0)
		pp_store_rollback_quiet(s); /* the first error is the one to report */
	return rc;
}

struct revoke_ctx {
	struct pp_store *s;
	const struct pp_pid *pid;
	const char *actor;
	bool *already;
};

static int revoke_tx(void *arg, struct pp_err *err)
{
	struct revoke_ctx *x = arg;
	struct pp_key_info k;
	int rc = pp_store_key_get(x->s, x->pid->s, &k, err);
	if (rc < 0)
		return rc;
	if (k.state == PP_KEY_REVOKED) {
		*x->already = true;
		return 0;
	}
	rc = pp_store_key_set_state(x->s, x->pid->s, PP_KEY_REVOKED, err);
	if (rc == 0)
		rc = pp_store_audit_append(x->s, x->actor, "keys.revoke", x->pid->s, "", err);
	return rc;
}

int pp_keys_revoke(struct pp_store *s, const struct pp_pid *pid, const char *actor, bool *already,
		   struct pp_err *err)
{
	struct revoke_ctx x = {.s = s, .pid = pid, .actor = actor, .already = already};
	*already = false;
	return pp_keys_in_tx(s, revoke_tx, &x, err);
}

int pp_keys_show(struct pp_store *s, const struct pp_pid *pid, bool reveal, const char *actor,
		 struct pp_keys_shown *out, struct pp_err *err)
{
	memset(out, 0, sizeof(*out));
	int rc = pp_store_key_get(s, pid->s, &out->info, err);
	if (rc < 0 || !reveal)
		return rc;
	/* The audit entry is written before the secret is shown. */
	rc = pp_store_audit_append(s, actor, "keys.reveal", pid->s, "PPS and MEBx password shown",
				   err);
	if (rc == 0)
		rc = pp_store_key_secrets(s, pid->s, &out->pps, out->mebx, sizeof(out->mebx), err);
	if (rc < 0) {
		pp_wipe(out, sizeof(*out));
		return rc;
	}
	out->revealed = true;
	return 0;
}

struct list_count {
	int (*cb)(void *ctx, const struct pp_key_info *);
	void *ctx;
	uint64_t n;
};

static int list_one(void *arg, const struct pp_key_info *k)
{
	struct list_count *lc = arg;
	lc->n++;
	return lc->cb(lc->ctx, k);
}

int pp_keys_list(struct pp_store *s, const struct pp_key_filter *f,
		 int (*cb)(void *ctx, const struct pp_key_info *), void *ctx, uint64_t *count,
		 struct pp_err *err)
{
	struct list_count lc = {.cb = cb, .ctx = ctx};
	*count = 0;
	if (f->batch) {
		struct pp_batch_info bi;
		int rc = pp_store_batch_get(s, f->batch, &bi, err);
		if (rc < 0)
			return rc;
	}
	int rc = pp_store_key_list(s, f, list_one, &lc, err);
	*count = lc.n;
	return rc;
}

/* ---- report ---- */

struct report_walk {
	int (*cb)(void *ctx, const struct pp_keys_item *);
	void *ctx;
	int64_t now;
	struct pp_keys_report *r;
	enum pp_hello_note_kind note_kind; /* of the note list being walked */
};

static int report_emit(struct report_walk *w, struct pp_keys_item *it)
{
	it->nth = ++w->r->n[it->kind];
	return w->cb(w->ctx, it);
}

static int report_key(void *arg, const struct pp_key_info *k)
{
	struct report_walk *w = arg;
	struct pp_keys_item it = {.key = k};
	int rc = 0;
	if (k->shared) {
		it.kind = PP_FIND_SHARED;
		rc = report_emit(w, &it);
	}
	if (rc == 0 && k->locked_until > w->now) {
		it.kind = PP_FIND_LOCKED;
		rc = report_emit(w, &it);
	}
	if (rc == 0 && k->state == PP_KEY_EXPORTED && k->use_count == 0) {
		it.kind = PP_FIND_SILENT;
		rc = report_emit(w, &it);
	}
	return rc;
}

static int report_device(void *arg, const struct pp_device_info *d)
{
	struct report_walk *w = arg;
	if (!d->quarantined && d->state != PP_DEV_QUARANTINED)
		return 0;
	struct pp_keys_item it = {.kind = PP_FIND_QUARANTINED, .device = d};
	return report_emit(w, &it);
}

static int report_note(void *arg, const struct pp_hello_note *n)
{
	struct report_walk *w = arg;
	struct pp_keys_item it = {.note = n};
	it.kind =
	    w->note_kind == PP_NOTE_SUSPECT_CLONE ? PP_FIND_SUSPECT_CLONE : PP_FIND_UNKNOWN_PID;
	return report_emit(w, &it);
}

int pp_keys_report_walk(struct pp_store *s, int64_t now,
			int (*cb)(void *ctx, const struct pp_keys_item *), void *ctx,
			struct pp_keys_report *out, struct pp_err *err)
{
	struct report_walk w = {.cb = cb, .ctx = ctx, .now = now, .r = out};
	memset(out, 0, sizeof(*out));
	struct pp_key_filter kf = {.batch = NULL, .state = -1, .limit = 0};
	int rc = pp_store_key_list(s, &kf, report_key, &w, err);
	struct pp_device_filter df = {.state = -1, .limit = 0};
	if (rc == 0)
		rc = pp_store_device_list(s, &df, report_device, &w, err);
	for (int k = 0; rc == 0 && k < PP_NOTE_KIND_MAX; k++) {
		w.note_kind = (enum pp_hello_note_kind)k;
		rc = pp_store_hello_notes(s, w.note_kind, report_note, &w, err);
	}
	return rc;
}
