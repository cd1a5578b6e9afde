/* libFuzzer: the PTHI parsers take any bytes without a fault. A frame accepted as a
 * request or as a response to any command (including one failing only on its status)
 * writes back to exactly the same bytes; the frame-length helper never exceeds the cap;
 * every failure carries a matching error code. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "proto/pthi.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const uint32_t commands[] = {
    PP_PTHI_GET_PROVISIONING_STATE,
    PP_PTHI_GET_CODE_VERSIONS,
    PP_PTHI_GET_UUID,
    PP_PTHI_CFG_GET_PID,
    PP_PTHI_GET_PROVISIONING_TLS_MODE,
    PP_PTHI_CFG_START_CONFIGURATION,
};

static void check_err(int rc, const struct pp_err *err)
{
	if (rc < 0 && (err->code != -rc || memchr(err->msg, '\0', sizeof(err->msg)) == NULL))
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t out[PP_PTHI_MAX_FRAME];
	struct pp_err err = {0};
	size_t len = 0, rest = 0;
	int rc;

	rc = pp_pthi_frame_remaining(data, size, &rest, &err);
	check_err(rc, &err);
	if (rc == 0 && rest > PP_PTHI_MAX_PAYLOAD)
		abort();

	struct pp_pthi_request req;
	rc = pp_pthi_request_parse(data, size, &req, &err);
	check_err(rc, &err);
	if (rc == 0) {
		if (pp_pthi_request_write(req.command, out, sizeof(out), &len, &err) != 0)
			abort();
		if (len != size || memcmp(out, data, size) != 0)
			abort();
	}

	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++) {
		struct pp_pthi_response resp;
		rc = pp_pthi_response_parse(data, size, commands[i], &resp, &err);
		check_err(rc, &err);
		if (rc != 0 && rc != -PP_ESTATE)
			continue;
		if (resp.command != commands[i] ||
		    (rc == -PP_ESTATE) != (resp.status != PP_PTHI_STATUS_SUCCESS))
			abort();
		if (pp_pthi_response_write(&resp, out, sizeof(out), &len, &err) != 0)
			abort();
		if (len != size || memcmp(out, data, size) != 0)
			abort();
	}
	return 0;
}
