/* The store's own thread and its batching writer (group commit).
 *
 * The event loop never calls the store: it submits operations; the store thread runs
 * every operation queued so far in one transaction, each inside its own savepoint, then
 * commits once and hands the finished operations back to the loop. A `done` callback
 * therefore only ever sees durable results. */
#ifndef PSKPROV_SERVER_DBQ_H
#define PSKPROV_SERVER_DBQ_H

#include <event2/event.h>
#include <stdbool.h>
#include <stdint.h>

#include "core/err.h"

struct pp_store;
struct pp_dbq;

struct pp_dbq_op {
	/* On the store thread, inside the group transaction and a savepoint. */
	int (*run)(struct pp_store *store, struct pp_dbq_op *op, struct pp_err *err);
	/* On the loop thread, after the commit; rc < 0 means the operation (or the
	 * commit) failed and nothing of it was written. */
	void (*done)(struct pp_dbq_op *op, int rc, const struct pp_err *err);
	/* Private. */
	struct pp_dbq_op *next;
	int rc;
	struct pp_err err;
};

struct pp_dbq_stats {
	uint64_t ops;
	uint64_t commits;
	uint64_t failed_ops;
	uint64_t max_batch;
};

int pp_dbq_start(struct event_base *base, struct pp_store *store, size_t max_batch,
		 struct pp_dbq **out, struct pp_err *err) PP_WUR;
void pp_dbq_submit(struct pp_dbq *q, struct pp_dbq_op *op);
/* Number of operations queued or running (not yet handed back). */
size_t pp_dbq_pending(struct pp_dbq *q);
void pp_dbq_stats(struct pp_dbq *q, struct pp_dbq_stats *out);
/* Runs what is queued, stops the thread, delivers the last completions; frees. */
void pp_dbq_stop(struct pp_dbq *q);

#endif
