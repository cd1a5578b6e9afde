#include "server/dbq.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "store/store.h"

struct pp_dbq {
	struct event_base *base;
	struct pp_store *store;
	size_t max_batch;
	pthread_t thread;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	struct pp_dbq_op *in_head, *in_tail;   /* submitted, not yet taken */
	struct pp_dbq_op *out_head, *out_tail; /* finished, not yet delivered */
	size_t pending;
	bool stopping;
	struct event *done_ev;
	struct pp_dbq_stats stats;
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

static void run_batch(struct pp_dbq *q, struct pp_dbq_op *batch, size_t n)
{
	struct pp_err err = {0};
	int rc = pp_store_begin(q->store, &err);
	for (struct pp_dbq_op *op = batch; op; op = op->next) {
		pp_err_clear(&op->err);
		if (rc < 0) {
			op->rc = rc;
			op->err = err;
			continue;
		}
		op->rc = pp_store_savepoint(q->store, &op->err);
		if (op->rc == 0)
			op->rc = op->run(q->store, op, &op->err);
		if (op->rc < 0) {
			struct pp_err e2;
			if (pp_store_savepoint_rollback(q->store, &e2) < 0) {
				/* The transaction is unusable; fail the rest of the batch. */
				rc = pp_err_set(&err, PP_ESTORE, "%s", e2.msg);
			}
		} else if (pp_store_savepoint_release(q->store, &op->err) < 0) {
			op->rc = -PP_ESTORE;
		}
	}
	if (rc == 0)
		rc = pp_store_commit(q->store, &err);
	else if (pp_store_rollback(q->store, NULL) < 0) {
		/* Already failing the batch. */
	}
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
}

static void *dbq_main(void *arg)
{
	struct pp_dbq *q = arg;
	for (;;) {
		pthread_mutex_lock(&q->mu);
		while (!q->in_head && !q->stopping)
			pthread_cond_wait(&q->cv, &q->mu);
		if (!q->in_head && q->stopping) {
			pthread_mutex_unlock(&q->mu);
			break;
		}
		/* Take up to max_batch operations: one transaction, one fsync. */
		struct pp_dbq_op *batch = q->in_head, *last = batch;
		size_t n = 1;
		while (last->next && n < q->max_batch) {
			last = last->next;
			n++;
		}
		q->in_head = last->next;
		if (!q->in_head)
			q->in_tail = NULL;
		last->next = NULL;
		pthread_mutex_unlock(&q->mu);

		run_batch(q, batch, n);

		pthread_mutex_lock(&q->mu);
		while (batch) {
			struct pp_dbq_op *op = batch;
			batch = op->next;
			push(&q->out_head, &q->out_tail, op);
		}
		pthread_mutex_unlock(&q->mu);
		event_active(q->done_ev, EV_READ, 0);
	}
	return NULL;
}

int pp_dbq_start(struct event_base *base, struct pp_store *store, size_t max_batch,
		 struct pp_dbq **out, struct pp_err *err)
{
	struct pp_dbq *q = calloc(1, sizeof(*q));
	if (!q)
		return pp_err_set(err, PP_ENOMEM, "out of memory");
	q->base = base;
	q->store = store;
	q->max_batch = max_batch ? max_batch : 256;
	pthread_mutex_init(&q->mu, NULL);
	pthread_cond_init(&q->cv, NULL);
	q->done_ev = event_new(base, -1, 0, deliver, q);
	if (!q->done_ev || pthread_create(&q->thread, NULL, dbq_main, q) != 0) {
		if (q->done_ev)
			event_free(q->done_ev);
		free(q);
		return pp_err_set(err, PP_ENOMEM, "cannot start the store thread");
	}
	*out = q;
	return 0;
}

void pp_dbq_submit(struct pp_dbq *q, struct pp_dbq_op *op)
{
	pthread_mutex_lock(&q->mu);
	push(&q->in_head, &q->in_tail, op);
	q->pending++;
	pthread_cond_signal(&q->cv);
	pthread_mutex_unlock(&q->mu);
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
	event_free(q->done_ev);
	pthread_mutex_destroy(&q->mu);
	pthread_cond_destroy(&q->cv);
	free(q);
}
