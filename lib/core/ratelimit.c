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
