/* The monotonic clock: deadlines, timeouts and rate limits are measured on it, never
 * on the wall clock, which can step (NTP, an administrator) while a deadline runs. */
#ifndef PSKPROV_CORE_CLOCK_H
#define PSKPROV_CORE_CLOCK_H

#include <stdint.h>

/* Milliseconds of CLOCK_MONOTONIC: an arbitrary origin, only differences mean anything. */
uint64_t pp_now_ms(void);
/* The same clock in seconds, with sub-second precision (durations shown to people). */
double pp_now_s(void);
/* Sleeps ms milliseconds, resuming after signals. */
void pp_sleep_ms(uint64_t ms);
/* A retry schedule: the wait before retry attempt + 1 is first_ms doubled attempt
 * times, never over max_ms (attempt 0: first_ms). */
uint64_t pp_backoff_ms(uint64_t first_ms, unsigned attempt, uint64_t max_ms);

#endif
