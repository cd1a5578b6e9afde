/* Devices and jobs as the administrator looks them up: a device named by UUID, PID
 * (with or without its dash), IPv4 address or host name; listings filtered by a state
 * named in words; the audited reveal of a device's escrowed credentials. */
#ifndef PSKPROV_USECASE_DEVICES_H
#define PSKPROV_USECASE_DEVICES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "core/err.h"
#include "store/store.h"

/* "unknown state 'x' (valid: seen, configuring, provisioned, failed, quarantined)". */
int pp_uc_device_state_parse(const char *name, int *out, struct pp_err *err) PP_WUR;
int pp_uc_job_state_parse(const char *name, int *out, struct pp_err *err) PP_WUR;

enum pp_uc_device_ref_kind {
	PP_UC_REF_UUID,
	PP_UC_REF_PID,
	PP_UC_REF_ADDRESS,
	PP_UC_REF_HOST_NAME,
};
/* "UUID", "PID", "address", "host name" */
const char *pp_uc_device_ref_kind_name(enum pp_uc_device_ref_kind k);

/* The one device that ref names: a UUID, a PID ("ABCD-EFGH" or "ABCDEFGH": the key
 * the device holds now; a host name spelled the same matches too), an IPv4 address, or
 * a host name (alone or with its domain, case insensitive). -PP_ENOTFOUND "no device
 * with <kind> '<ref>'"; -PP_EINVAL when ref is none of these (a PPS is refused without
 * being echoed); -PP_EEXIST "N devices have <kind> '<ref>'; name one by UUID" when
 * several match. *kind (may be NULL) says how ref was read. */
int pp_uc_device_find(struct pp_store *s, const char *ref, struct pp_device_info *out,
		      enum pp_uc_device_ref_kind *kind, struct pp_err *err) PP_WUR;

/* Lists devices (state -1: all) through cb; *count gets how many. */
int pp_uc_device_list(struct pp_store *s, int state,
		      int (*cb)(void *ctx, const struct pp_device_info *), void *ctx,
		      uint64_t *count, struct pp_err *err) PP_WUR;
int pp_uc_job_list(struct pp_store *s, int state, int (*cb)(void *ctx, const struct pp_job *),
		   void *ctx, uint64_t *count, struct pp_err *err) PP_WUR;

/* ---- the operator's views and actions (store.h; docs/api.md) ---- */

/* A cursor as text: "<sort>.<id>.<num>.<hex of the key text>" (opaque to a user; given
 * back by --after). */
#define PP_UC_CURSOR_MAX (16 + 2 * 21 + 2 * (PP_BATCH_NAME_MAX + 1) + 4)
void pp_uc_cursor_format(enum pp_device_sort sort, const struct pp_device_cursor *c,
			 char out[PP_UC_CURSOR_MAX]);
/* -PP_EINVAL "a bad cursor" when text is not one, or is of another sort. */
int pp_uc_cursor_parse(const char *text, enum pp_device_sort sort, struct pp_device_cursor *c,
		       struct pp_err *err) PP_WUR;

/* `devices list` in words: every field optional (zeroed: all devices, first seen first). */
struct pp_uc_device_query {
	int state;          /* -1 any (pp_uc_device_state_parse) */
	const char *batch;  /* NULL any */
	bool quarantined;   /* only devices ever quarantined */
	const char *search; /* NULL: none; else as pp_device_query text */
	const char *sort;   /* NULL: first_seen (pp_device_sort_parse names) */
	bool desc;
	uint64_t limit;    /* 0: every match (read PP_DEVICE_PAGE_MAX at a time) */
	const char *after; /* NULL, or the next_cursor of a previous listing */
};
struct pp_uc_device_page {
	uint64_t shown, total;
	char next_cursor[PP_UC_CURSOR_MAX]; /* "" when nothing follows */
};
/* The devices q names through cb, in its order. */
int pp_uc_device_query(struct pp_store *s, const struct pp_uc_device_query *q,
		       int (*cb)(void *ctx, const struct pp_device_info *), void *ctx,
		       struct pp_uc_device_page *page, struct pp_err *err) PP_WUR;

/* A device's jobs, newest first (at most PP_UC_HISTORY_JOBS), each with its events in
 * order, through cb. */
#define PP_UC_HISTORY_JOBS 20
int pp_uc_device_history(struct pp_store *s, const uint8_t uuid[16],
			 int (*cb)(void *ctx, const struct pp_job *j, const struct pp_job_event *ev,
				   size_t n),
			 void *ctx, struct pp_err *err) PP_WUR;

/* `jobs retry ID`: the failed job runs again (pp_store_job_requeue), audited with actor.
 * id_text: a job id (-PP_EINVAL otherwise). *job gets the job after. */
int pp_uc_job_retry(struct pp_store *s, const char *id_text, const char *actor, int64_t now,
		    struct pp_job *job, struct pp_err *err) PP_WUR;
/* `devices release REF --reason TEXT`: the quarantined device ref names is released
 * (pp_store_device_release), audited with actor and reason. *dev gets it after. */
int pp_uc_device_release(struct pp_store *s, const char *ref, const char *actor, const char *reason,
			 int64_t now, struct pp_device_info *dev, struct pp_err *err) PP_WUR;

/* The device ref names and its escrowed credentials; the reveal is audited
 * ("devices.reveal", actor) before they are read. Wipe *sec when done. */
int pp_uc_device_credentials(struct pp_store *s, const char *ref, const char *actor,
			     struct pp_device_info *dev, struct pp_device_secrets *sec,
			     struct pp_err *err) PP_WUR;

/* As JSON, one shape for --json and the API (docs/api.md, DEVICE and JOB): absent values
 * null. NULL when out of memory. */
json_t *pp_uc_device_json(const struct pp_device_info *d);
json_t *pp_uc_job_json(const struct pp_job *j);
json_t *pp_uc_job_event_json(const struct pp_job_event *e);
/* The job with its events read from the store ("events": [...]) into *out. */
int pp_uc_job_with_events_json(struct pp_store *s, const struct pp_job *j, json_t **out,
			       struct pp_err *err) PP_WUR;

#endif
