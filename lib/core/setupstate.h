/* AMT setup (provisioning) states by name. The numbering is the firmware's: PTHI
 * GetProvisioningState answers 0, 1 or 2 (lib/proto/pthi.h PP_PTHI_STATE_*), the
 * emulated firmware keeps the same values (lib/amt/device.h). The names are the ones
 * Intel's tools print and our JSON carries ("state": "Post-Setup"). */
#ifndef PSKPROV_CORE_SETUPSTATE_H
#define PSKPROV_CORE_SETUPSTATE_H

#include <stdint.h>

#define PP_SETUP_STATE_PRE_NAME "Pre-Setup"
#define PP_SETUP_STATE_IN_NAME "In-Setup"
#define PP_SETUP_STATE_POST_NAME "Post-Setup"

/* "Pre-Setup", "In-Setup", "Post-Setup" for 0, 1, 2; "?" for any other value. */
const char *pp_setup_state_name(uint32_t state);

#endif
