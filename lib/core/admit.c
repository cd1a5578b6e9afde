/* Admission by measured latency and Little's law (admit.h). */
#include "core/admit.h"

#include <string.h>

#define GROW 1.25
#define START_GROW 2.0 /* until the latency first rises: the limit doubles */
#define SHRINK 0.8
#define GROW_BELOW 1.5 /* x base */
#define SHRINK_ABOVE 2.0
#define IN_USE 0.8    /* grow only when the limit is this much in use */
#define MIN_SAMPLES 3 /* sessions a period needs for its mean to count */
#define SLOW_FACTOR 4

void pp_admit_init(struct pp_admit *a, uint32_t floor, uint32_t ceiling)
{
	memset(a, 0, sizeof(*a));
	a->limit = floor;
	pp_admit_bounds(a, floor, ceiling);
}

void pp_admit_bounds(struct pp_admit *a, uint32_t floor, uint32_t ceiling)
{
	a->floor = floor < ceiling ? floor : ceiling;
	a->ceiling = ceiling;
	if (!floor || a->limit > ceiling)
		a->limit = ceiling;
	else if (a->limit < a->floor)
		a->limit = a->floor;
}

void pp_admit_end(struct pp_admit *a, uint64_t now_ms, uint64_t latency_ms, bool ok, bool counted)
{
	(void)now_ms;
	a->ends++;
	if (ok && counted) {
		a->n_ok++;
		a->sum_ms += latency_ms;
	}
}

static uint32_t base_of(const struct pp_admit *a)
{
	uint32_t b = 0;
	for (unsigned i = 0; i < PP_ADMIT_BASE_PERIODS; i++)
		if (a->means[i] && (!b || a->means[i] < b))
			b = a->means[i];
	return b;
}

/* Closes the period: its mean joins the history; the limit moves. */
static void close_period(struct pp_admit *a, uint64_t now_ms)
{
	uint64_t len = now_ms - a->period_start_ms;
	a->rate = len ? a->ends * 1000.0 / (double)len : 0;
	if (a->n_ok >= MIN_SAMPLES) {
		uint64_t mean = a->sum_ms / a->n_ok;
		a->mean_ms = mean ? (mean > UINT32_MAX ? UINT32_MAX : (uint32_t)mean) : 1;
		a->means[a->next_mean] = a->mean_ms;
		a->next_mean = (a->next_mean + 1) % PP_ADMIT_BASE_PERIODS;
		a->base_ms = base_of(a);
		if (a->mean_ms > SHRINK_ABOVE * a->base_ms)
			a->limit *= SHRINK;
		if (a->mean_ms > GROW_BELOW * a->base_ms)
			a->probed = true; /* the knee is found: grow gently from now on */
		else if (a->peak_in_use >= IN_USE * a->limit)
			a->limit *= a->probed ? GROW : START_GROW;
	}
	if (a->limit < a->floor)
		a->limit = a->floor;
	if (a->limit > a->ceiling)
		a->limit = a->ceiling;
	a->period_start_ms = now_ms;
	a->ends = a->n_ok = 0;
	a->sum_ms = 0;
	a->peak_in_use = 0;
}

uint32_t pp_admit_limit(struct pp_admit *a, uint64_t now_ms, uint32_t in_use)
{
	if (!a->floor)
		return a->ceiling;
	if (!a->period_start_ms)
		a->period_start_ms = now_ms;
	if (in_use > a->peak_in_use)
		a->peak_in_use = in_use;
	/* A period lasts at least half a typical session, so each step of the limit is
	 * judged by sessions that ran under it. */
	uint64_t len = a->mean_ms / 2 > PP_ADMIT_PERIOD_MS ? a->mean_ms / 2 : PP_ADMIT_PERIOD_MS;
	if (now_ms - a->period_start_ms >= len)
		close_period(a, now_ms);
	return (uint32_t)(a->limit + 0.5);
}

uint64_t pp_admit_slow_ms(const struct pp_admit *a)
{
	uint32_t typical = a->mean_ms > a->base_ms ? a->mean_ms : a->base_ms;
	return a->floor ? (uint64_t)typical * SLOW_FACTOR : 0;
}
