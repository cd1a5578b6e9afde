/* Admission: how many device sessions to run at once.
 *
 * Starting every device that said hello at once makes them all finish together at the
 * end (nobody is done until everybody is). Instead the server admits as many sessions
 * as keep it busy and lets the rest wait, cheaply, as jobs in the store, claimed in
 * arrival order.
 *
 * How many is measured, by Little's law: sessions in progress = throughput x latency.
 * A session's latency is the time it spends waiting on its device (connect, answers);
 * its base is the lowest mean latency of a half-second period in the last 30 s, the
 * latency of an unloaded session. Sessions beyond what the throughput needs add only
 * waiting: latency grows past the base by throughput x (latency - base) sessions
 * queued inside the server. So, every period (half a second, or half a mean latency
 * when sessions are longer, so that each step is judged by sessions that ran under it):
 *
 *   mean latency <= 1.5 x base, and the limit in use  ->  limit x 2 until the latency
 *                                                        first rose, then x 1.25
 *   mean latency >  2 x base                          ->  limit x 0.8  (back off)
 *
 * within [floor, ceiling]. Devices far away (long latency, little CPU) raise the base
 * and with it the concurrency; a CPU-bound server stays near the knee.
 *
 * A session older than 4 x the typical latency stops counting against the limit: it waits on a slow
 * device, which costs memory, not CPU, and must not hold the fast ones back; the
 * ceiling (max_sessions) still bounds them all.
 *
 * Pure: no clock, no I/O; the caller passes the time. */
#ifndef PSKPROV_CORE_ADMIT_H
#define PSKPROV_CORE_ADMIT_H

#include <stdbool.h>
#include <stdint.h>

#define PP_ADMIT_PERIOD_MS 500
#define PP_ADMIT_BASE_PERIODS 60 /* the base is the best of the last 30 s */

struct pp_admit {
	uint32_t floor;   /* 0: admission off, the ceiling is the limit */
	uint32_t ceiling; /* max_sessions */
	double limit;
	bool probed; /* the latency rose once: growth is gentle from then on */
	/* The current period. */
	uint64_t period_start_ms;
	uint32_t ends;   /* sessions ended, whatever the outcome */
	uint32_t n_ok;   /* of them, provisioned while still counted */
	uint64_t sum_ms; /* their latencies */
	uint32_t peak_in_use;
	/* Means of the last periods, for the base (0: none). */
	uint32_t means[PP_ADMIT_BASE_PERIODS];
	unsigned next_mean;
	/* Last readings, for metrics. */
	uint32_t base_ms, mean_ms;
	double rate; /* sessions ended a second, last period */
};

void pp_admit_init(struct pp_admit *a, uint32_t floor, uint32_t ceiling);
/* New bounds (a reloaded configuration); what was measured is kept. */
void pp_admit_bounds(struct pp_admit *a, uint32_t floor, uint32_t ceiling);
/* A session ended at now_ms after waiting latency_ms on its device; `ok`: it
 * provisioned its device; `counted`: it still counted against the limit. */
void pp_admit_end(struct pp_admit *a, uint64_t now_ms, uint64_t latency_ms, bool ok, bool counted);
/* The number of sessions to run at once now, given `in_use` counted sessions. */
uint32_t pp_admit_limit(struct pp_admit *a, uint64_t now_ms, uint32_t in_use);
/* The age past which a running session no longer counts against the limit: 4 x the
 * latest mean latency (or the base, when higher); 0 while none is known (then every
 * session counts). */
uint64_t pp_admit_slow_ms(const struct pp_admit *a);

#endif
