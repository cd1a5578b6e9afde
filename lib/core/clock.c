#include "core/clock.h"

#include <errno.h>

#include <time.h>

uint64_t pp_now_ms(void)
{
	struct timespec ts;
	/* CLOCK_MONOTONIC cannot fail on Linux with a valid pointer (clock_gettime(2)). */
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

double pp_now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

void pp_sleep_ms(uint64_t ms)
{
	struct timespec ts = {.tv_sec = (time_t)(ms / 1000),
			      .tv_nsec = (long)(ms % 1000) * 1000000L};
	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

uint64_t pp_backoff_ms(uint64_t first_ms, unsigned attempt, uint64_t max_ms)
{
	uint64_t wait = first_ms;
	for (unsigned i = 0; i < attempt && wait < max_ms; i++)
		wait *= 2;
	return wait > max_ms ? max_ms : wait;
}
