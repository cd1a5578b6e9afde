/* The emulated firmware's answers to host-interface requests (docs/protocol.md section 5). */
#include "firmware/pthi.h"

#include <string.h>

#include <stdio.h>

/* Intel's descriptions in the GetCodeVersions table (samples/mei/mei-amt-version.c
 * prints them as "<description>: <version>"). */
static void fill_code_versions(const struct pp_amt_device *dev, struct pp_pthi_code_versions *cv)
{
	struct pp_amt_versions v;
	const struct {
		const char *desc;
		const char *value;
	} table[] = {
	    {"AMT", v.amt},
	    {"Build Number", v.build},
	    {"Sku", v.sku},
	};

	pp_amt_versions(dev, &v);
	/* Lengths: PP_AMT_DEV_BIOS_MAX (64) and PP_AMT_DEV_VERSION_MAX (20) are the PTHI
	 * field limits, and snprintf truncates rather than overflows if they ever differ. */
	snprintf(cv->bios, sizeof(cv->bios), "%s", v.bios);
	cv->count = 0;
	for (size_t i = 0; i < sizeof(table) / sizeof(table[0]); i++) {
		struct pp_pthi_version_entry *e = &cv->versions[cv->count++];
		snprintf(e->description, sizeof(e->description), "%s", table[i].desc);
		snprintf(e->version, sizeof(e->version), "%s", table[i].value);
	}
}

/* Fills *r for a parsed request; the status says whether the device agreed. */
static void answer(struct pp_amt_device *dev, uint32_t command, struct pp_pthi_response *r)
{
	enum pp_amt_setup_state state = pp_amt_state(dev);

	r->command = command;
	r->status = PP_PTHI_STATUS_SUCCESS;
	switch (command) {
	case PP_PTHI_GET_PROVISIONING_STATE:
		r->provisioning_state = (uint32_t)state;
		break;
	case PP_PTHI_GET_CODE_VERSIONS:
		fill_code_versions(dev, &r->code_versions);
		break;
	case PP_PTHI_GET_UUID:
		pp_amt_uuid(dev, r->uuid);
		break;
	case PP_PTHI_CFG_GET_PID: {
		struct pp_pid pid;
		if (pp_amt_pid(dev, &pid, NULL) < 0) {
			r->status = PP_PTHI_STATUS_INVALID_PROVISIONING_STATE;
			break;
		}
		memcpy(r->pid, pid.s, PP_PTHI_PID_LEN);
		r->pid[PP_PTHI_PID_LEN] = '\0';
		break;
	}
	case PP_PTHI_GET_PROVISIONING_TLS_MODE:
		r->tls_mode = pp_amt_tls_mode(dev);
		break;
	case PP_PTHI_CFG_START_CONFIGURATION:
		/* Refused in Pre-Setup (no key to offer) and Post-Setup (provisioned). */
		if (pp_amt_start_configuration(dev, NULL) < 0)
			r->status = PP_PTHI_STATUS_INVALID_PROVISIONING_STATE;
		break;
	default:
		/* pp_pthi_request_parse accepts known commands only. */
		r->status = PP_PTHI_STATUS_INTERNAL_ERROR;
		break;
	}
}

int pp_amt_pthi_handle_ex(struct pp_amt_device *dev, const uint8_t *req, size_t len, uint8_t *resp,
			  size_t cap, size_t *resp_len, struct pp_amt_pthi_result *result,
			  struct pp_err *err)
{
	struct pp_pthi_request rq;
	struct pp_pthi_response r;
	int rc;

	if (!dev || !resp || !resp_len)
		return pp_err_set(err, PP_EINVAL, "PTHI: no device or response buffer");
	if ((rc = pp_pthi_request_parse(req, len, &rq, err)) < 0)
		return rc;

	memset(&r, 0, sizeof(r));
	answer(dev, rq.command, &r);
	rc = pp_pthi_response_write(&r, resp, cap, resp_len, err);
	if (rc < 0 && rc != -PP_ETOOBIG && r.status == PP_PTHI_STATUS_SUCCESS) {
		/* The device's own data failed the codec's checks (it cannot with a state
		 * file pp_amt_load accepted): say so on the wire rather than drop the
		 * request. */
		memset(&r, 0, sizeof(r));
		r.command = rq.command;
		r.status = PP_PTHI_STATUS_INTERNAL_ERROR;
		rc = pp_pthi_response_write(&r, resp, cap, resp_len, err);
	}
	if (rc < 0)
		return rc;
	if (result) {
		result->command = r.command;
		result->status = r.status;
	}
	return 0;
}

int pp_amt_pthi_handle(struct pp_amt_device *dev, const uint8_t *req, size_t len, uint8_t *resp,
		       size_t cap, size_t *resp_len, struct pp_err *err)
{
	return pp_amt_pthi_handle_ex(dev, req, len, resp, cap, resp_len, NULL, err);
}
