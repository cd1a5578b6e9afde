/* Job claims and lease renewal [docs/architecture.md "Configuration server internals"]: the store
 * thread claims runnable jobs and fetches everything their sessions need, so the loop
 * never waits on the store in the middle of a TLS handshake. */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/clock.h"
#include "core/secret.h"
#include "server/session.h"
#include "store/store.h"
#include "prog/log.h"

#define CLAIM_MAX 256

struct claim_op {
	struct pp_dbq_op op;
	struct pp_server *s;
	size_t want;
	size_t n;
	struct pp_job jobs[CLAIM_MAX];
	struct session *sess[CLAIM_MAX];
};

/* The session's secrets: the hello key, the escrow, the rotated key. A missing key is
 * kept as the reason the session fails with. */
static void claim_load(struct pp_store *store, struct session *x)
{
	struct pp_prov *p = &x->prov;
	struct pp_err e2 = {0};
	if (pp_store_key_secrets(store, p->job.pid, &p->pps, p->mebx_old, sizeof(p->mebx_old),
				 &e2) < 0) {
		snprintf(x->load_error, sizeof(x->load_error), "key %s: %.180s", p->job.pid,
			 e2.msg);
		return;
	}
	if (pp_store_device_secrets(store, p->job.uuid, &p->sec, &e2) == 0)
		p->have_sec = true;
	if (p->job.next_pid[0]) {
		char unused[PP_MEBX_PW_MAX + 1];
		if (pp_store_key_secrets(store, p->job.next_pid, &p->next_pps, unused,
					 sizeof(unused), &e2) == 0) {
			memcpy(p->next_pid.s, p->job.next_pid, sizeof(p->next_pid.s));
			p->have_next = true;
		}
		pp_wipe(unused, sizeof(unused));
	}
}

static int claim_run(struct pp_store *store, struct pp_dbq_op *op, struct pp_err *err)
{
	struct claim_op *c = (struct claim_op *)op;
	struct pp_server *s = c->s;
	int64_t now = (int64_t)time(NULL);
	int rc = pp_store_jobs_claim(store, s->owner, now, s->cfg.lease_seconds, c->want, c->jobs,
				     &c->n, err);
	if (rc < 0)
		return rc;
	for (size_t i = 0; i < c->n; i++) {
		struct session *x = calloc(1, sizeof(*x));
		if (!x)
			return pp_err_set(err, PP_ENOMEM, "out of memory");
		c->sess[i] = x;
		pp_prov_init(&x->prov, &s->policy, &c->jobs[i]);
		claim_load(store, x);
	}
	return 0;
}

static void claim_done(struct pp_dbq_op *op, int rc, const struct pp_err *err)
{
	struct claim_op *c = (struct claim_op *)op;
	struct pp_server *s = c->s;
	s->claim_in_flight = false;
	if (rc < 0) {
		s->m.store_errors++;
		pp_error("jobs", "claim failed: %s", err->msg);
		for (size_t i = 0; i < CLAIM_MAX; i++)
			pp_session_free(c->sess[i]);
		free(c);
		return;
	}
	s->m.jobs_claimed += c->n;
	if (c->n == 0)
		s->idle_rounds++;
	else
		s->idle_rounds = 0;
	size_t n = c->n, want = c->want;
	for (size_t i = 0; i < n; i++) {
		c->sess[i]->s = s;
		pp_session_begin(c->sess[i]);
	}
	free(c);
	/* More may be waiting. */
	if (n == want && !s->stopping)
		pp_server_kick_claim(s);
}

/* ---- admission [lib/core/admit.h] ---------------------------------------------- */

static void uncount(struct pp_server *s, struct session *x)
{
	TAILQ_REMOVE(&s->counted, x, admit_link);
	x->counted = false;
	s->n_counted--;
}

void pp_server_admit_begin(struct pp_server *s, struct session *x)
{
	x->begin_ms = pp_now_ms();
	x->counted = true;
	TAILQ_INSERT_TAIL(&s->counted, x, admit_link);
	s->n_counted++;
}

void pp_server_admit_end(struct pp_server *s, struct session *x)
{
	pp_admit_end(&s->admit, pp_now_ms(), x->device_ms, x->provisioned, x->counted);
	if (x->counted)
		uncount(s, x);
}

/* Sessions the limit still allows now. The oldest sessions past the slow age stop
 * counting first: sessions begin in order, so they are at the head. */
static uint64_t admission_room(struct pp_server *s)
{
	uint64_t now = pp_now_ms(), slow = pp_admit_slow_ms(&s->admit);
	struct session *x;
	while (slow && s->n_counted && (x = TAILQ_FIRST(&s->counted)) && now - x->begin_ms > slow)
		uncount(s, x);
	uint32_t limit = pp_admit_limit(&s->admit, now, s->n_counted);
	s->m.admission_limit = limit;
	s->m.sessions_slow = s->m.sessions_active - s->n_counted;
	return limit > s->n_counted ? limit - s->n_counted : 0;
}

void pp_server_kick_claim(struct pp_server *s)
{
	if (s->claim_in_flight || s->stopping)
		return;
	uint64_t free_slots = s->cfg.max_sessions > s->m.sessions_active
				  ? s->cfg.max_sessions - s->m.sessions_active
				  : 0;
	uint64_t room = admission_room(s);
	if (room < free_slots)
		free_slots = room;
	if (!free_slots)
		return;
	struct claim_op *c = calloc(1, sizeof(*c));
	if (!c)
		return;
	c->op.run = claim_run;
	c->op.done = claim_done;
	c->s = s;
	c->want = free_slots < CLAIM_MAX ? free_slots : CLAIM_MAX;
	s->claim_in_flight = true;
	pp_dbq_submit(s->dbq, &c->op);
}

void pp_server_claim_tick(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	struct pp_server *s = arg;
	pp_server_kick_claim(s);
	if (s->exit_when_idle && s->idle_rounds >= 3 && s->m.sessions_active == 0 &&
	    pp_dbq_pending(s->dbq) == 0) {
		pp_info("server", "no runnable job left; exiting (--exit-when-idle)");
		event_base_loopexit(s->base, NULL);
	}
}

struct renew_op {
	struct pp_dbq_op op;
	struct pp_server *s;
};

static int renew_run(struct pp_store *store, struct pp_dbq_op *op, struct pp_err *err)
{
	struct renew_op *r = (struct renew_op *)op;
	return pp_store_jobs_renew(store, r->s->owner, (int64_t)time(NULL), r->s->cfg.lease_seconds,
				   err);
}

static void renew_done(struct pp_dbq_op *op, int rc, const struct pp_err *err)
{
	struct renew_op *r = (struct renew_op *)op;
	if (rc < 0) {
		r->s->m.store_errors++;
		pp_error("jobs", "lease renewal failed: %s", err->msg);
	}
	free(r);
}

void pp_server_renew_tick(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	struct pp_server *s = arg;
	if (!s->m.sessions_active)
		return;
	struct renew_op *r = calloc(1, sizeof(*r));
	if (!r)
		return;
	r->op.run = renew_run;
	r->op.done = renew_done;
	r->s = s;
	pp_dbq_submit(s->dbq, &r->op);
}
