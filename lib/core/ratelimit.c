#include "core/ratelimit.h"

#include <stdlib.h>

#define PROBE 8

struct slot {
	uint32_t ip;
	uint32_t used; /* 0 = empty */
	double tokens;
	uint64_t last_ms;
};

struct pp_ratelimit {
	double per_ms;
	double burst;
	uint32_t mask;
	struct slot *slots;
};

int pp_ratelimit_new(uint32_t rate_per_min, uint32_t burst, uint32_t slots,
		     struct pp_ratelimit **out)
{
	if (!rate_per_min || !burst || slots < PROBE || (slots & (slots - 1)))
		return -PP_EINVAL;
	struct pp_ratelimit *rl = calloc(1, sizeof(*rl));
	if (!rl)
		return -PP_ENOMEM;
	rl->slots = calloc(slots, sizeof(*rl->slots));
	if (!rl->slots) {
		free(rl);
		return -PP_ENOMEM;
	}
	rl->per_ms = (double)rate_per_min / 60000.0;
	rl->burst = burst;
	rl->mask = slots - 1;
	*out = rl;
	return 0;
}

void pp_ratelimit_free(struct pp_ratelimit *rl)
{
	if (!rl)
		return;
	free(rl->slots);
	free(rl);
}

static uint32_t hash32(uint32_t x)
{
	x ^= x >> 16;
	x *= 0x7feb352dU;
	x ^= x >> 15;
	x *= 0x846ca68bU;
	x ^= x >> 16;
	return x;
}

bool pp_ratelimit_allow(struct pp_ratelimit *rl, uint32_t ip, uint64_t now_ms)
{
	uint32_t h = hash32(ip);
	struct slot *victim = NULL;
	for (uint32_t i = 0; i < PROBE; i++) {
		struct slot *s = &rl->slots[(h + i) & rl->mask];
		if (s->used && s->ip == ip) {
			uint64_t dt = now_ms > s->last_ms ? now_ms - s->last_ms : 0;
			s->tokens += (double)dt * rl->per_ms;
			if (s->tokens > rl->burst)
				s->tokens = rl->burst;
			s->last_ms = now_ms;
			if (s->tokens >= 1.0) {
				s->tokens -= 1.0;
				return true;
			}
			return false;
		}
		if (!victim || !s->used || (victim->used && s->last_ms < victim->last_ms))
			victim = s;
	}
	victim->used = 1;
	victim->ip = ip;
	victim->tokens = rl->burst - 1.0;
	victim->last_ms = now_ms;
	return true;
}

/* ---- concurrent slots per source: linear probing, deletion by backward shift ---- */

struct src {
	uint32_t ip;
	uint32_t n; /* 0 = empty */
};

struct pp_srcslots {
	uint32_t per_source;
	uint32_t max_total;
	uint32_t total;
	uint32_t mask;
	struct src *tab;
};

int pp_srcslots_new(uint32_t per_source, uint32_t max_total, struct pp_srcslots **out)
{
	if (!per_source || !max_total || max_total > (1u << 24))
		return -PP_EINVAL;
	uint32_t size = 16;
	while (size < 2 * max_total)
		size <<= 1;
	struct pp_srcslots *ss = calloc(1, sizeof(*ss));
	if (!ss)
		return -PP_ENOMEM;
	ss->tab = calloc(size, sizeof(*ss->tab));
	if (!ss->tab) {
		free(ss);
		return -PP_ENOMEM;
	}
	ss->per_source = per_source;
	ss->max_total = max_total;
	ss->mask = size - 1;
	*out = ss;
	return 0;
}

void pp_srcslots_free(struct pp_srcslots *ss)
{
	if (!ss)
		return;
	free(ss->tab);
	free(ss);
}

/* The entry of ip, or the empty one where it would go. The table is never full:
 * at most max_total sources in 2 * max_total entries or more. */
static struct src *src_find(const struct pp_srcslots *ss, uint32_t ip)
{
	uint32_t i = hash32(ip) & ss->mask;
	while (ss->tab[i].n && ss->tab[i].ip != ip)
		i = (i + 1) & ss->mask;
	return &ss->tab[i];
}

bool pp_srcslots_take(struct pp_srcslots *ss, uint32_t ip)
{
	if (ss->total >= ss->max_total)
		return false;
	struct src *e = src_find(ss, ip);
	if (e->n >= ss->per_source)
		return false;
	e->ip = ip;
	e->n++;
	ss->total++;
	return true;
}

void pp_srcslots_put(struct pp_srcslots *ss, uint32_t ip)
{
	struct src *e = src_find(ss, ip);
	if (!e->n)
		return;
	ss->total--;
	if (--e->n)
		return;
	/* Backward-shift deletion: move later entries of the cluster into the hole when
	 * their home slot is at or before it, so every lookup still finds them. */
	uint32_t hole = (uint32_t)(e - ss->tab);
	uint32_t j = hole;
	for (;;) {
		j = (j + 1) & ss->mask;
		if (!ss->tab[j].n)
			break;
		uint32_t home = hash32(ss->tab[j].ip) & ss->mask;
		/* j's entry may fill the hole unless its home lies cyclically in (hole, j]. */
		bool in_between =
		    hole <= j ? (home > hole && home <= j) : (home > hole || home <= j);
		if (in_between)
			continue;
		ss->tab[hole] = ss->tab[j];
		hole = j;
	}
	ss->tab[hole].n = 0;
	ss->tab[hole].ip = 0;
}

uint32_t pp_srcslots_held(const struct pp_srcslots *ss, uint32_t ip)
{
	return src_find(ss, ip)->n;
}

uint32_t pp_srcslots_total(const struct pp_srcslots *ss)
{
	return ss->total;
}

bool pp_every_due(struct pp_every *e, uint64_t now_ms, uint64_t period_ms, uint64_t *skipped)
{
	if (e->next_ms && now_ms < e->next_ms) {
		e->skipped++;
		return false;
	}
	if (skipped)
		*skipped = e->skipped;
	e->skipped = 0;
	e->next_ms = now_ms + period_ms;
	if (!e->next_ms)
		e->next_ms = 1;
	return true;
}
