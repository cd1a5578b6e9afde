#include "server/dbq.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/clock.h"
#include "store/store.h"

/* Times a lost batch is run again on a new connection before its operations fail. */
#define RETRY_MAX 5
/* How long to keep asking whether a COMMIT whose answer was lost took effect. */
#define DOUBT_TRIES 50
#define DOUBT_PAUSE_MS 100

struct probe_op {
	struct pp_dbq_op op;
	struct pp_dbq *q;
};

struct waiter {
	pp_dbq_health_cb cb;
	void *arg;
};

struct pp_dbq {
	struct event_base *base;
	struct pp_store *store;
	size_t max_batch;
	pthread_t thread;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	struct pp_dbq_op *in_head, *in_tail;   /* submitted, not yet taken */
	struct pp_dbq_op *bg_head, *bg_tail;   /* the same, second in line (hellos) */
	struct pp_dbq_op *out_head, *out_tail; /* finished, not yet delivered */
	size_t pending;
	bool stopping;
	struct event *done_ev;
	struct pp_dbq_stats stats;
	char down_msg[256]; /* why the last reconnect failed */
	uint32_t backoff_ms;
	/* Health probe: loop thread only. */
	struct probe_op probe;
	bool probe_in_flight;
	struct pp_dbq_health last;
	struct waiter waiters[PP_DBQ_PROBE_WAITERS];
	size_t n_waiters;
	struct event *probe_timer;
};

enum batch_outcome {
	BATCH_DONE,  /* committed, or failed for reasons of its own */
	BATCH_LOST,  /* the connection went before COMMIT: nothing written */
	BATCH_DOUBT, /* the connection went during COMMIT: ask whether it took */
};

static void push(struct pp_dbq_op **head, struct pp_dbq_op **tail, struct pp_dbq_op *op)
{
	op->next = NULL;
	if (*tail)
		(*tail)->next = op;
	else
		*head = op;
	*tail = op;
}

static void deliver(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	struct pp_dbq *q = arg;
	pthread_mutex_lock(&q->mu);
	struct pp_dbq_op *list = q->out_head;
	q->out_head = q->out_tail = NULL;
	pthread_mutex_unlock(&q->mu);
	while (list) {
		struct pp_dbq_op *op = list;
		list = op->next;
		pthread_mutex_lock(&q->mu);
		q->pending--;
		pthread_mutex_unlock(&q->mu);
		if (op->done)
			op->done(op, op->rc, &op->err);
	}
}

/* Hands finished operations (a list) back to the loop. */
static void hand_back(struct pp_dbq *q, struct pp_dbq_op *list)
{
	if (!list)
		return;
	pthread_mutex_lock(&q->mu);
	while (list) {
		struct pp_dbq_op *op = list;
		list = op->next;
		push(&q->out_head, &q->out_tail, op);
	}
	pthread_mutex_unlock(&q->mu);
	event_active(q->done_ev, EV_READ, 0);
}

/* Runs every operation of the batch in one transaction, each in a savepoint. */
static int run_ops(struct pp_dbq *q, struct pp_dbq_op *batch, struct pp_err *err)
{
	int rc = pp_store_begin(q->store, err);
	for (struct pp_dbq_op *op = batch; op; op = op->next) {
		pp_err_clear(&op->err);
		if (rc < 0) {
			op->rc = rc;
			op->err = *err;
			continue;
		}
		op->ran = true;
		op->rc = pp_store_savepoint(q->store, &op->err);
		if (op->rc == 0)
			op->rc = op->run(q->store, op, &op->err);
		if (op->rc < 0) {
			struct pp_err e2;
			if (pp_store_savepoint_rollback(q->store, &e2) < 0) {
				/* The transaction is unusable; fail the rest of the batch. */
				rc = pp_err_set(err, PP_ESTORE, "%s", e2.msg);
			}
		} else if (pp_store_savepoint_release(q->store, &op->err) < 0) {
			op->rc = -PP_ESTORE;
		}
	}
	return rc;
}

static enum batch_outcome run_batch(struct pp_dbq *q, struct pp_dbq_op *batch, size_t n,
				    uint64_t *txid)
{
	struct pp_err err = {0};
	bool commit_sent = false;
	*txid = 0;
	int rc = run_ops(q, batch, &err);
	if (rc == 0)
		rc = pp_store_txn_id(q->store, txid, &err);
	if (rc == 0) {
		commit_sent = true;
		rc = pp_store_commit(q->store, &err);
	}
	/* A failed COMMIT may leave the transaction open (SQLite on a full disk or a busy
	 * lock): close it, or every later batch would fail to begin. */
	if (rc < 0 && pp_store_rollback(q->store, NULL) < 0) {
		/* Already failing the batch, or nothing was open. */
	}
	if (rc < 0 && pp_store_conn_lost(q->store))
		return commit_sent && *txid ? BATCH_DOUBT : BATCH_LOST;
	uint64_t failed = 0;
	for (struct pp_dbq_op *op = batch; op; op = op->next) {
		if (rc < 0 && op->rc == 0) {
			op->rc = rc;
			op->err = err;
		}
		if (op->rc < 0)
			failed++;
	}
	pthread_mutex_lock(&q->mu);
	q->stats.ops += n;
	q->stats.commits++;
	q->stats.failed_ops += failed;
	if (n > q->stats.max_batch)
		q->stats.max_batch = n;
	pthread_mutex_unlock(&q->mu);
	return BATCH_DONE;
}

/* Waits ms on the condition variable (woken early by a stop); true when stopping. */
static bool pause_ms(struct pp_dbq *q, uint32_t ms)
{
	struct timespec until;
	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += ms / 1000;
	until.tv_nsec += (long)(ms % 1000) * 1000000L;
	if (until.tv_nsec >= 1000000000L) {
		until.tv_sec++;
		until.tv_nsec -= 1000000000L;
	}
	pthread_mutex_lock(&q->mu);
	int rc = 0;
	while (!q->stopping && rc != ETIMEDOUT)
		rc = pthread_cond_timedwait(&q->cv, &q->mu, &until);
	bool stopping = q->stopping;
	pthread_mutex_unlock(&q->mu);
	return stopping;
}

/* Connects again, pausing 0.1 s doubling to 5 s between attempts, until connected
 * (true), stopping, or the oldest operation in hand has waited PP_DBQ_HOLD_MS (false).
 */
static bool reconnect(struct pp_dbq *q, uint64_t oldest_ms)
{
	for (;;) {
		struct pp_err err = {0};
		if (pp_store_reconnect(q->store, &err) == 0) {
			pthread_mutex_lock(&q->mu);
			q->stats.up = true;
			q->stats.reconnects++;
			q->down_msg[0] = '\0';
			pthread_mutex_unlock(&q->mu);
			q->backoff_ms = PP_DBQ_BACKOFF_MIN_MS;
			return true;
		}
		pthread_mutex_lock(&q->mu);
		q->stats.reconnect_failures++;
		snprintf(q->down_msg, sizeof(q->down_msg), "%s", err.msg);
		pthread_mutex_unlock(&q->mu);
		uint64_t now = pp_now_ms();
		if (now + q->backoff_ms > oldest_ms + PP_DBQ_HOLD_MS)
			return false;
		if (pause_ms(q, q->backoff_ms))
			return false;
		q->backoff_ms = q->backoff_ms * 2 > PP_DBQ_BACKOFF_MAX_MS ? PP_DBQ_BACKOFF_MAX_MS
									  : q->backoff_ms * 2;
	}
}

static void fail_all(struct pp_dbq_op *batch, const char *what, const char *why)
{
	for (struct pp_dbq_op *op = batch; op; op = op->next) {
		pp_err_set(&op->err, PP_ESTORE, "store: %s (%.180s)", what, why);
		op->rc = -PP_ESTORE;
	}
}

/* After a lost COMMIT: did it take? Asked on the new connection, a few times while the
 * old transaction may still be finishing. */
static enum pp_txn_status ask_outcome(struct pp_dbq *q, uint64_t txid)
{
	for (int i = 0; i < DOUBT_TRIES; i++) {
		enum pp_txn_status st = PP_TXN_UNKNOWN;
		struct pp_err err = {0};
		if (pp_store_txn_status(q->store, txid, &st, &err) == 0 && st != PP_TXN_UNKNOWN)
			return st;
		if (pp_store_conn_lost(q->store) || pause_ms(q, DOUBT_PAUSE_MS))
			return PP_TXN_UNKNOWN;
	}
	return PP_TXN_UNKNOWN;
}

/* Before running a lost batch again: operations that ran and cannot run again fail
 * (moved to *failed); the others are made ready. Returns what is left to run. */
static struct pp_dbq_op *prepare_again(struct pp_dbq *q, struct pp_dbq_op *batch, size_t *n,
				       struct pp_dbq_op **failed)
{
	struct pp_dbq_op *keep = NULL, *keep_tail = NULL;
	*n = 0;
	while (batch) {
		struct pp_dbq_op *op = batch;
		batch = op->next;
		if (op->ran && !op->again) {
			pp_err_set(&op->err, PP_EBUSY,
				   "store: the connection was lost under this operation; nothing "
				   "was written; try again");
			op->rc = -PP_EBUSY;
			op->next = *failed;
			*failed = op;
			continue;
		}
		if (op->ran) {
			op->again(op);
			q->stats.retried_ops++;
		}
		op->ran = false;
		op->rc = 0;
		pp_err_clear(&op->err);
		push(&keep, &keep_tail, op);
		(*n)++;
	}
	return keep;
}

/* Runs a batch to its end: on a lost connection, connects again and runs it again there
 * (or learns that its COMMIT took). Hands every operation back. */
static void run_to_end(struct pp_dbq *q, struct pp_dbq_op *batch, size_t n)
{
	struct pp_dbq_op *failed = NULL;
	for (int attempt = 0; batch; attempt++) {
		uint64_t txid = 0;
		enum batch_outcome o = BATCH_LOST;
		bool ran = !pp_store_conn_lost(q->store);
		if (ran)
			o = run_batch(q, batch, n, &txid);
		if (o == BATCH_DONE)
			break;
		pthread_mutex_lock(&q->mu);
		q->stats.up = false;
		q->stats.lost_batches += ran;
		q->stats.doubtful_commits += o == BATCH_DOUBT;
		pthread_mutex_unlock(&q->mu);
		if (attempt >= RETRY_MAX || !reconnect(q, batch->queued_ms)) {
			fail_all(batch,
				 o == BATCH_DOUBT
				     ? "unreachable; the outcome of the last commit is unknown"
				     : "unreachable; nothing was written",
				 q->down_msg[0] ? q->down_msg : "connection lost");
			break;
		}
		if (o == BATCH_DOUBT) {
			enum pp_txn_status st = ask_outcome(q, txid);
			if (st == PP_TXN_COMMITTED)
				break; /* each op's rc and results stand */
			if (st == PP_TXN_UNKNOWN) {
				fail_all(batch, "the connection was lost during a commit",
					 "its outcome cannot be learnt");
				break;
			}
		}
		batch = prepare_again(q, batch, &n, &failed);
	}
	hand_back(q, failed);
	hand_back(q, batch);
}

/* Up to max operations off a lane, as a list; *n counts them. */
static struct pp_dbq_op *take(struct pp_dbq_op **head, struct pp_dbq_op **tail, size_t max,
			      size_t *n)
{
	struct pp_dbq_op *first = *head, *last = NULL;
	size_t k = 0;
	for (struct pp_dbq_op *o = first; o && k < max; o = o->next, k++)
		last = o;
	if (!last)
		return NULL;
	*head = last->next;
	if (!*head)
		*tail = NULL;
	last->next = NULL;
	*n += k;
	return first;
}

/* Appends list `more` (may be NULL) to list `list`. */
static void push_list(struct pp_dbq_op *list, struct pp_dbq_op *more)
{
	while (list->next)
		list = list->next;
	list->next = more;
}

static void *dbq_main(void *arg)
{
	struct pp_dbq *q = arg;
	for (;;) {
		pthread_mutex_lock(&q->mu);
		while (!q->in_head && !q->bg_head && !q->stopping)
			pthread_cond_wait(&q->cv, &q->mu);
		if (!q->in_head && !q->bg_head && q->stopping) {
			pthread_mutex_unlock(&q->mu);
			break;
		}
		/* Up to max_batch operations: one transaction, one fsync. The first lane
		 * first, leaving a quarter of the batch to the second when it waits. */
		size_t n = 0, room = q->max_batch;
		if (q->bg_head && room > 1)
			room -= room / 4;
		struct pp_dbq_op *batch = take(&q->in_head, &q->in_tail, room, &n);
		struct pp_dbq_op *more = take(&q->bg_head, &q->bg_tail, q->max_batch - n, &n);
		pthread_mutex_unlock(&q->mu);
		if (!batch)
			batch = more;
		else
			push_list(batch, more);
		run_to_end(q, batch, n);
	}
	return NULL;
}

/* ---- health probe (loop thread) ---- */

static void answer_waiters(struct pp_dbq *q, const struct pp_dbq_health *h)
{
	size_t n = q->n_waiters;
	struct waiter w[PP_DBQ_PROBE_WAITERS];
	memcpy(w, q->waiters, n * sizeof(w[0]));
	q->n_waiters = 0;
	if (q->probe_timer)
		event_del(q->probe_timer);
	for (size_t i = 0; i < n; i++)
		w[i].cb(w[i].arg, h);
}

static void current(struct pp_dbq *q, struct pp_dbq_health *h)
{
	*h = q->last;
	pthread_mutex_lock(&q->mu);
	h->up = q->stats.up;
	if (!h->up && h->rc == 0) {
		h->rc = -PP_ESTORE;
		snprintf(h->msg, sizeof(h->msg), "store: connection lost, reconnecting: %.150s",
			 q->down_msg[0] ? q->down_msg : "no answer yet");
	}
	pthread_mutex_unlock(&q->mu);
}

static int probe_run(struct pp_store *store, struct pp_dbq_op *op, struct pp_err *err)
{
	(void)op;
	return pp_store_heartbeat(store, (int64_t)time(NULL), err);
}

void pp_dbq_again_noop(struct pp_dbq_op *op)
{
	(void)op;
}

static void probe_done(struct pp_dbq_op *op, int rc, const struct pp_err *err)
{
	struct pp_dbq *q = ((struct probe_op *)op)->q;
	q->probe_in_flight = false;
	q->last.rc = rc < 0 ? rc : 0;
	snprintf(q->last.msg, sizeof(q->last.msg), "%s", rc < 0 ? err->msg : "");
	q->last.at_ms = pp_now_ms();
	struct pp_dbq_health h;
	current(q, &h);
	answer_waiters(q, &h);
}

static void probe_timeout(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	struct pp_dbq *q = arg;
	struct pp_dbq_health h;
	current(q, &h);
	if (h.rc == 0 || h.up) {
		h.rc = -PP_ETIMEOUT;
		snprintf(h.msg, sizeof(h.msg), "store: the health check had no answer within %u ms",
			 (unsigned)PP_DBQ_PROBE_WAIT_MS);
	}
	answer_waiters(q, &h);
}

void pp_dbq_health(struct pp_dbq *q, uint64_t max_age_ms, pp_dbq_health_cb cb, void *arg)
{
	struct pp_dbq_health h;
	current(q, &h);
	uint64_t now = pp_now_ms();
	bool fresh = q->last.at_ms && now - q->last.at_ms <= max_age_ms;
	if (fresh || q->n_waiters >= PP_DBQ_PROBE_WAITERS) {
		if (!q->last.at_ms && h.rc == 0) {
			h.rc = -PP_EBUSY;
			snprintf(h.msg, sizeof(h.msg), "store: no health check has answered yet");
		}
		cb(arg, &h);
		return;
	}
	q->waiters[q->n_waiters++] = (struct waiter){cb, arg};
	if (q->n_waiters == 1) {
		struct timeval tv = {PP_DBQ_PROBE_WAIT_MS / 1000,
				     (PP_DBQ_PROBE_WAIT_MS % 1000) * 1000};
		event_add(q->probe_timer, &tv);
	}
	if (!q->probe_in_flight) {
		q->probe_in_flight = true;
		q->probe.op.run = probe_run;
		q->probe.op.done = probe_done;
		q->probe.op.again = pp_dbq_again_noop; /* it only writes a time */
		q->probe.q = q;
		pp_dbq_submit(q, &q->probe.op);
	}
}

void pp_dbq_health_cancel(struct pp_dbq *q)
{
	if (!q)
		return;
	struct pp_dbq_health h = {.rc = -PP_ESTATE};
	snprintf(h.msg, sizeof(h.msg), "stopping");
	answer_waiters(q, &h);
}

/* ---- life ---- */

int pp_dbq_start(struct event_base *base, struct pp_store *store, size_t max_batch,
		 struct pp_dbq **out, struct pp_err *err)
{
	struct pp_dbq *q = calloc(1, sizeof(*q));
	if (!q)
		return pp_err_set(err, PP_ENOMEM, "out of memory");
	q->base = base;
	q->store = store;
	q->max_batch = max_batch ? max_batch : 256;
	q->stats.up = !pp_store_conn_lost(store);
	q->backoff_ms = PP_DBQ_BACKOFF_MIN_MS;
	pthread_mutex_init(&q->mu, NULL);
	pthread_cond_init(&q->cv, NULL);
	q->done_ev = event_new(base, -1, 0, deliver, q);
	q->probe_timer = evtimer_new(base, probe_timeout, q);
	if (!q->done_ev || !q->probe_timer || pthread_create(&q->thread, NULL, dbq_main, q) != 0) {
		if (q->done_ev)
			event_free(q->done_ev);
		if (q->probe_timer)
			event_free(q->probe_timer);
		free(q);
		return pp_err_set(err, PP_ENOMEM, "cannot start the store thread");
	}
	*out = q;
	return 0;
}

static void submit_to(struct pp_dbq *q, struct pp_dbq_op *op, bool second)
{
	op->ran = false;
	op->queued_ms = pp_now_ms();
	pthread_mutex_lock(&q->mu);
	if (second)
		push(&q->bg_head, &q->bg_tail, op);
	else
		push(&q->in_head, &q->in_tail, op);
	q->pending++;
	pthread_cond_signal(&q->cv);
	pthread_mutex_unlock(&q->mu);
}

void pp_dbq_submit(struct pp_dbq *q, struct pp_dbq_op *op)
{
	submit_to(q, op, false);
}

void pp_dbq_submit_second(struct pp_dbq *q, struct pp_dbq_op *op)
{
	submit_to(q, op, true);
}

size_t pp_dbq_pending(struct pp_dbq *q)
{
	pthread_mutex_lock(&q->mu);
	size_t n = q->pending;
	pthread_mutex_unlock(&q->mu);
	return n;
}

void pp_dbq_stats(struct pp_dbq *q, struct pp_dbq_stats *out)
{
	pthread_mutex_lock(&q->mu);
	*out = q->stats;
	pthread_mutex_unlock(&q->mu);
}

void pp_dbq_stop(struct pp_dbq *q)
{
	if (!q)
		return;
	pthread_mutex_lock(&q->mu);
	q->stopping = true;
	pthread_cond_signal(&q->cv);
	pthread_mutex_unlock(&q->mu);
	pthread_join(q->thread, NULL);
	deliver(-1, 0, q);
	pp_dbq_health_cancel(q);
	event_free(q->done_ev);
	event_free(q->probe_timer);
	pthread_mutex_destroy(&q->mu);
	pthread_cond_destroy(&q->cv);
	free(q);
}
