/* Per-source-address rate limiting with a bounded table (token buckets).
 *
 * The table never grows: when the probe window is full the stalest entry is reused,
 * so memory is fixed whatever the number of sources. Time is given by the caller. */
#ifndef PSKPROV_CORE_RATELIMIT_H
#define PSKPROV_CORE_RATELIMIT_H

#include <stdbool.h>
#include <stdint.h>

#include "core/err.h"

struct pp_ratelimit;

/* rate_per_min tokens per minute, burst = bucket size; slots: table size (power of 2). */
int pp_ratelimit_new(uint32_t rate_per_min, uint32_t burst, uint32_t slots,
		     struct pp_ratelimit **out) PP_WUR;
void pp_ratelimit_free(struct pp_ratelimit *rl);
/* True when the source may proceed (a token was taken). now_ms: monotonic ms. */
bool pp_ratelimit_allow(struct pp_ratelimit *rl, uint32_t ipv4, uint64_t now_ms);

/* Concurrent slots per source address (open connections, say), at most `per_source`
 * each, for at most `max_total` slots in all. The table is sized for max_total sources
 * at half load and never grows; a source leaves it when its last slot is given back. */
struct pp_srcslots;

int pp_srcslots_new(uint32_t per_source, uint32_t max_total, struct pp_srcslots **out) PP_WUR;
void pp_srcslots_free(struct pp_srcslots *ss);
/* Takes a slot for the source: false when it holds per_source already, or when
 * max_total slots are taken. */
bool pp_srcslots_take(struct pp_srcslots *ss, uint32_t ipv4);
/* Gives back a slot taken by pp_srcslots_take (a source holding none: no effect). */
void pp_srcslots_put(struct pp_srcslots *ss, uint32_t ipv4);
/* Slots the source holds now, and in all. */
uint32_t pp_srcslots_held(const struct pp_srcslots *ss, uint32_t ipv4);
uint32_t pp_srcslots_total(const struct pp_srcslots *ss);

/* At most one log line a period for a noisy event: true when one is due; *skipped then
 * says how many were not logged since the last one. Starts zeroed. */
struct pp_every {
	uint64_t next_ms;
	uint64_t skipped;
};
bool pp_every_due(struct pp_every *e, uint64_t now_ms, uint64_t period_ms, uint64_t *skipped);

#endif
