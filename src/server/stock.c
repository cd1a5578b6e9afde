/* The store's counts for the gauges (/metrics) and the progress events, kept fresh
 * without the loop ever touching the store: a timer submits a read on the store thread
 * (second lane, behind the sessions' writes), every second while an event stream is
 * open and every 5 s otherwise; never more than one read in flight, and never sooner
 * after the last than ten times what it took (the counts scan their tables: on a store
 * of millions of keys they must not take the store thread from the sessions for more
 * than a tenth of its time). The snapshot keeps when it was taken, so /metrics tells
 * its age. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/clock.h"
#include "prog/log.h"
#include "server/server.h"
#include "store/store.h"

#define STOCK_FAST_MS 1000
#define STOCK_SLOW_MS 5000
#define STOCK_BATCHES_MAX 1024 /* batches kept for the gauges; more are left out */
#define STOCK_COST_FACTOR 10   /* the pause after a read: at least this times its time */

struct pp_stock {
	struct pp_server *s;
	struct event *timer;
	bool in_flight;
	bool have; /* snap holds a read */
	uint64_t last_submit_ms;
	uint64_t min_gap_ms; /* STOCK_COST_FACTOR times the last read's time */
	struct pp_stock_snapshot snap;
};

struct stock_op {
	struct pp_dbq_op op;
	struct pp_stock *st;
	struct pp_store_counts counts;
	struct pp_stock_batch *batches;
	size_t n, cap;
	bool batches_read;
	uint64_t at_ms;
	uint64_t took_ms; /* on the store thread */
};

static void stock_op_free(struct stock_op *o)
{
	free(o->batches);
	free(o);
}

/* Run again on a new connection: forget what the first run gathered. */
static void stock_again(struct pp_dbq_op *op)
{
	struct stock_op *o = (struct stock_op *)op;
	free(o->batches);
	o->batches = NULL;
	o->n = o->cap = 0;
	o->batches_read = false;
}

/* One batch's keys, kept up to STOCK_BATCHES_MAX batches (the rest left out: a
 * gauge per batch and state is no place for tens of thousands of series). */
static int stock_batch(void *ctx, const struct pp_key_stock *k)
{
	struct stock_op *o = ctx;
	if (o->n == o->cap) {
		if (o->cap >= STOCK_BATCHES_MAX)
			return 0;
		size_t cap = o->cap ? o->cap * 2 : 16;
		struct pp_stock_batch *b = realloc(o->batches, cap * sizeof(*b));
		if (!b)
			return -PP_ENOMEM;
		o->batches = b;
		o->cap = cap;
	}
	struct pp_stock_batch *b = &o->batches[o->n++];
	snprintf(b->name, sizeof(b->name), "%s", k->batch);
	memcpy(b->by_state, k->by_state, sizeof(b->by_state));
	return 0;
}

static int stock_read(struct pp_store *store, struct pp_dbq_op *op, struct pp_err *err)
{
	struct stock_op *o = (struct stock_op *)op;
	uint64_t t0 = pp_now_ms();
	int rc = pp_store_counts(store, &o->counts, err);
	if (rc == 0)
		rc = pp_store_key_stock(store, stock_batch, o, err);
	o->batches_read = rc == 0;
	o->at_ms = pp_now_ms();
	o->took_ms = o->at_ms - t0;
	return rc;
}

static void stock_done(struct pp_dbq_op *op, int rc, const struct pp_err *err)
{
	struct stock_op *o = (struct stock_op *)op;
	struct pp_stock *st = o->st;
	st->in_flight = false;
	st->min_gap_ms = STOCK_COST_FACTOR * o->took_ms;
	if (rc < 0) {
		st->s->m.store_errors++;
		pp_warn("stock", "store counts: %s", err ? err->msg : "failed");
		stock_op_free(o);
		return;
	}
	free(st->snap.batches);
	st->snap.counts = o->counts;
	st->snap.batches = o->batches;
	st->snap.n_batches = o->n;
	st->snap.have_batches = o->batches_read;
	st->snap.at_ms = o->at_ms;
	st->have = true;
	o->batches = NULL;
	stock_op_free(o);
}

void pp_server_stock_kick(struct pp_server *s)
{
	struct pp_stock *st = s->stock;
	if (!st || st->in_flight || !s->dbq ||
	    (st->have && pp_now_ms() - st->last_submit_ms < st->min_gap_ms))
		return;
	struct stock_op *o = calloc(1, sizeof(*o));
	if (!o)
		return;
	o->op.run = stock_read;
	o->op.done = stock_done;
	o->op.again = stock_again;
	o->st = st;
	st->in_flight = true;
	st->last_submit_ms = pp_now_ms();
	pp_dbq_submit_second(s->dbq, &o->op);
}

/* Every second; reads when the period for the streams open now has passed. */
static void stock_tick(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	struct pp_server *s = arg;
	uint64_t period = pp_server_event_streams(s) ? STOCK_FAST_MS : STOCK_SLOW_MS;
	if (period < s->stock->min_gap_ms)
		period = s->stock->min_gap_ms;
	/* A little slack: a tick that comes a hair early still reads. */
	if (pp_now_ms() - s->stock->last_submit_ms + 50 >= period || !s->stock->have)
		pp_server_stock_kick(s);
}

int pp_server_stock_start(struct pp_server *s, struct pp_err *err)
{
	s->stock = calloc(1, sizeof(*s->stock));
	if (!s->stock)
		return pp_err_set(err, PP_ENOMEM, "cannot start the store counts");
	s->stock->s = s;
	s->stock->timer = event_new(s->base, -1, EV_PERSIST, stock_tick, s);
	struct timeval tv = {STOCK_FAST_MS / 1000, 0};
	if (!s->stock->timer || event_add(s->stock->timer, &tv) < 0)
		return pp_err_set(err, PP_ENOMEM, "cannot start the store counts' timer");
	pp_server_stock_kick(s);
	return 0;
}

/* After pp_dbq_stop: no read is left in flight. */
void pp_server_stock_stop(struct pp_server *s)
{
	struct pp_stock *st = s->stock;
	if (!st)
		return;
	if (st->timer)
		event_free(st->timer);
	free(st->snap.batches);
	free(st);
	s->stock = NULL;
}

const struct pp_stock_snapshot *pp_server_stock(const struct pp_server *s)
{
	return s->stock && s->stock->have ? &s->stock->snap : NULL;
}
