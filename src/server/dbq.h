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
	/* Optional. A lost connection (PostgreSQL restarted) takes the open transaction with
	 * it: nothing of the batch was written. The store thread connects again and runs
	 * the batch again there; an operation that had already run is run again only when
	 * it has this hook, called on the store thread first to undo what run left in the
	 * op (allocations, results). Without it, such an operation fails with -PP_EBUSY
	 * ("... nothing was written; try again") and its caller decides. Operations that
	 * had not run yet are simply run on the new connection. */
	void (*again)(struct pp_dbq_op *op);
	/* Private. */
	struct pp_dbq_op *next;
	int rc;
	struct pp_err err;
	bool ran;
	uint64_t queued_ms;
};

struct pp_dbq_stats {
	uint64_t ops;
	uint64_t commits;
	uint64_t failed_ops;
	uint64_t max_batch;
	/* Connection health (the store thread's view). */
	bool up;                     /* connected (SQLite: always) */
	uint64_t reconnects;         /* connections made again after a loss */
	uint64_t reconnect_failures; /* attempts that failed */
	uint64_t lost_batches;       /* transactions lost with their connection */
	uint64_t retried_ops;        /* operations run again on a new connection */
	uint64_t doubtful_commits;   /* commits whose answer was lost (outcome asked) */
};

/* An `again` hook for operations whose run only (re)writes their own results. */
void pp_dbq_again_noop(struct pp_dbq_op *op);

/* While the store is unreachable, an operation waits at most this long (from its
 * submission) for the connection to come back, then fails with -PP_ESTORE. The thread
 * tries to connect again after 0.1 s, doubling the pause up to PP_DBQ_BACKOFF_MAX_MS. */
#define PP_DBQ_HOLD_MS 10000
#define PP_DBQ_BACKOFF_MIN_MS 100
#define PP_DBQ_BACKOFF_MAX_MS 5000
/* A health probe answers within this, else its callers hear -PP_ETIMEOUT. */
#define PP_DBQ_PROBE_WAIT_MS 2000
#define PP_DBQ_PROBE_WAITERS 64

struct pp_dbq_health {
	bool up;        /* the connection is up */
	int rc;         /* the last probe: 0, or -PP_E* */
	char msg[256];  /* what failed, "" when rc is 0 */
	uint64_t at_ms; /* when that probe answered (monotonic clock); 0: never */
};
typedef void (*pp_dbq_health_cb)(void *arg, const struct pp_dbq_health *h);

int pp_dbq_start(struct event_base *base, struct pp_store *store, size_t max_batch,
		 struct pp_dbq **out, struct pp_err *err) PP_WUR;
void pp_dbq_submit(struct pp_dbq *q, struct pp_dbq_op *op);
/* The same, second in line: taken after what pp_dbq_submit queued, with a quarter of
 * each batch kept for it. Hellos go here, so that a burst of thousands of them does not
 * hold up the claims and the sessions' writes of the devices being served. */
void pp_dbq_submit_second(struct pp_dbq *q, struct pp_dbq_op *op);
/* Number of operations queued or running (not yet handed back). */
size_t pp_dbq_pending(struct pp_dbq *q);
void pp_dbq_stats(struct pp_dbq *q, struct pp_dbq_stats *out);
/* The store's health, on the loop thread: cb is called at once with the last probe when
 * it answered within max_age_ms, else once a new probe has answered (a heartbeat write,
 * pp_store_heartbeat, queued like any operation: a full disk, a lost connection or a
 * long-held lock shows), or after PP_DBQ_PROBE_WAIT_MS with -PP_ETIMEOUT. One probe at
 * a time; past PP_DBQ_PROBE_WAITERS waiting callers, the last result comes at once. */
void pp_dbq_health(struct pp_dbq *q, uint64_t max_age_ms, pp_dbq_health_cb cb, void *arg);
/* Answers every waiting caller now with -PP_ESTATE (before what they answer is freed). */
void pp_dbq_health_cancel(struct pp_dbq *q);
/* Runs what is queued, stops the thread, delivers the last completions; frees. */
void pp_dbq_stop(struct pp_dbq *q);

#endif
