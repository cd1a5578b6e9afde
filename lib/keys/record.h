/* One key as the exchange formats carry it (CSV and PSKC, docs/protocol.md section 7): the
 * record a reader hands its callback and a writer takes. */
#ifndef PSKPROV_KEYS_RECORD_H
#define PSKPROV_KEYS_RECORD_H

#include "core/secret.h"
#include "keys/keys.h"

#define PP_BATCH_NAME_MAX 64
#define PP_MEBX_MAX PP_MEBX_PW_MAX

struct pp_key_record {
	struct pp_pid pid;
	struct pp_pps pps;                 /* secret */
	char mebx[PP_MEBX_PW_MAX + 1];     /* secret: the MEBx password the device gets */
	char batch[PP_BATCH_NAME_MAX + 1]; /* pp_batch_name_check */
};

/* For pp_cleanup(pp_key_record_wipe) on a record held in a local. */
static inline void pp_key_record_wipe(struct pp_key_record *r)
{
	pp_wipe(r, sizeof(*r));
}

#endif
