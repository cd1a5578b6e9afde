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

#endif
