/* Histograms with fixed buckets (histo.h). */
#include "core/histo.h"

#include <string.h>

void pp_histo_init(struct pp_histo *h, const double *bounds, size_t n)
{
	memset(h, 0, sizeof(*h));
	h->bounds = bounds;
	h->n = n > PP_HISTO_MAX ? PP_HISTO_MAX : n;
}

void pp_histo_observe(struct pp_histo *h, double v)
{
	size_t i = 0;
	while (i < h->n && v > h->bounds[i])
		i++;
	h->counts[i]++;
	h->sum += v;
	h->count++;
}

uint64_t pp_histo_cumulative(const struct pp_histo *h, size_t i)
{
	uint64_t c = 0;
	for (size_t k = 0; k <= i && k <= h->n; k++)
		c += h->counts[k];
	return c;
}
