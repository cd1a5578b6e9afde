#include "core/setupstate.h"

static const char *const setup_state_names[] = {
    PP_SETUP_STATE_PRE_NAME,
    PP_SETUP_STATE_IN_NAME,
    PP_SETUP_STATE_POST_NAME,
};

const char *pp_setup_state_name(uint32_t state)
{
	if (state >= sizeof(setup_state_names) / sizeof(setup_state_names[0]))
		return "?";
	return setup_state_names[state];
}
