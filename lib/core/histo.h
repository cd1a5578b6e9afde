/* A histogram with fixed bucket bounds, as Prometheus exposes one: cumulative counts per
 * upper bound ("le"), +Inf, the sum and the count. Observing is O(buckets), no
 * allocation; one writer (the server's loop). */
#ifndef PSKPROV_CORE_HISTO_H
#define PSKPROV_CORE_HISTO_H

#include <stddef.h>
#include <stdint.h>

#define PP_HISTO_MAX 16

struct pp_histo {
	const double *bounds;              /* ascending upper bounds, seconds (or any unit) */
	size_t n;                          /* at most PP_HISTO_MAX */
	uint64_t counts[PP_HISTO_MAX + 1]; /* per bucket, not cumulative; [n] is +Inf */
	double sum;
	uint64_t count;
};

/* bounds must outlive h; n above PP_HISTO_MAX is cut to it. */
void pp_histo_init(struct pp_histo *h, const double *bounds, size_t n);
void pp_histo_observe(struct pp_histo *h, double v);
/* The cumulative count of observations <= bounds[i] (i == n: all of them). */
uint64_t pp_histo_cumulative(const struct pp_histo *h, size_t i);

#endif
