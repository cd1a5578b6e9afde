/* The store's counts as JSON, one shape for every reader: `pskprov status --json`, the
 * API's status, batches and key stock, and the live progress events. State names are
 * the keys, in snake case ("in-use" is "in_use"). */
#ifndef PSKPROV_USECASE_STATUS_H
#define PSKPROV_USECASE_STATUS_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "store/store.h"

/* {"available": n, ..., "expired": n}; NULL when out of memory. */
json_t *pp_uc_key_counts_json(const uint64_t by_state[PP_KEY_STATE_MAX]);
/* {"seen": n, ..., "quarantined": n}, with "total" when asked. */
json_t *pp_uc_device_counts_json(const uint64_t by_state[PP_DEV_STATE_MAX], bool total);
/* {"pending": n, ..., "failed": n}; with progress, also "queued" (pending and retry)
 * and "in_progress" (running), what a progress bar wants. */
json_t *pp_uc_job_counts_json(const uint64_t by_state[PP_JOB_STATE_MAX], bool progress);
/* {"keys": {...}, "devices": {...}, "jobs": {...}}: what `pskprov status --json`
 * prints. */
json_t *pp_uc_status_json(const struct pp_store_counts *k);

#endif
