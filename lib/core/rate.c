/* A per-second ring: see rate.h. A slot whose stamp is not the second it stands for
 * holds a count from an earlier turn of the ring, and counts as zero. */
#include "core/rate.h"

#include <string.h>

void pp_rate_init(struct pp_rate *r)
{
	memset(r, 0, sizeof(*r));
	/* No second is UINT64_MAX: every slot starts stale. */
	for (size_t i = 0; i < PP_RATE_WINDOW; i++)
		r->sec[i] = UINT64_MAX;
}

void pp_rate_add(struct pp_rate *r, uint64_t now_ms, uint64_t n)
{
	uint64_t s = now_ms / 1000;
	size_t i = (size_t)(s % PP_RATE_WINDOW);
	if (r->sec[i] == s) {
		r->count[i] += n;
		return;
	}
	if (r->sec[i] != UINT64_MAX && r->sec[i] > s)
		return; /* older than what the slot already holds: out of the window */
	r->sec[i] = s;
	r->count[i] = n;
}

double pp_rate_per_s(const struct pp_rate *r, uint64_t now_ms)
{
	uint64_t s = now_ms / 1000, sum = 0;
	for (size_t i = 0; i < PP_RATE_WINDOW; i++)
		if (r->sec[i] != UINT64_MAX && r->sec[i] <= s && s - r->sec[i] < PP_RATE_WINDOW)
			sum += r->count[i];
	return (double)sum / PP_RATE_WINDOW;
}
