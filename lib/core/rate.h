/* A rate over a sliding window of whole seconds: a small ring of per-second counts
 * (no allocation, fixed memory). Time is given by the caller (monotonic ms). */
#ifndef PSKPROV_CORE_RATE_H
#define PSKPROV_CORE_RATE_H

#include <stdint.h>

#define PP_RATE_WINDOW 10 /* seconds */

struct pp_rate {
	uint64_t sec[PP_RATE_WINDOW];   /* the second each slot counts (now_ms / 1000) */
	uint64_t count[PP_RATE_WINDOW]; /* events in that second */
};

/* Starts empty. */
void pp_rate_init(struct pp_rate *r);
/* n events at now_ms. A time older than the window is not counted. */
void pp_rate_add(struct pp_rate *r, uint64_t now_ms, uint64_t n);
/* Events per second over the PP_RATE_WINDOW seconds ending with now_ms's second. */
double pp_rate_per_s(const struct pp_rate *r, uint64_t now_ms);

#endif
