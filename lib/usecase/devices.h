/* Devices and jobs as the administrator looks them up: a device named by UUID, PID
 * (with or without its dash), IPv4 address or host name; listings filtered by a state
 * named in words; the audited reveal of a device's escrowed credentials. */
#ifndef PSKPROV_USECASE_DEVICES_H
#define PSKPROV_USECASE_DEVICES_H

#include <stdint.h>

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

/* The device ref names and its escrowed credentials; the reveal is audited
 * ("devices.reveal", actor) before they are read. Wipe *sec when done. */
int pp_uc_device_credentials(struct pp_store *s, const char *ref, const char *actor,
			     struct pp_device_info *dev, struct pp_device_secrets *sec,
			     struct pp_err *err) PP_WUR;

#endif
