/* The device side of the host interface (docs/protocol.md section 5): what the emulated
 * firmware answers to a host agent's PTHI requests. Framing is proto/pthi.h; the
 * transport (a Unix socket) is the program's.
 *
 * Answers [ours where the public record is silent]:
 *   GetProvisioningState    the state, 0 Pre / 1 In / 2 Post.
 *   GetCodeVersions         the BIOS string, then the table {"AMT", version},
 *                           {"Build Number", build}, {"Sku", sku} (Intel's descriptions).
 *   GetUUID                 the device UUID (SMBIOS order on the wire, as in the hello).
 *   CFG_GetPID              the current PID; INVALID_PROVISIONING_STATE when the device
 *                           has none (Pre-Setup).
 *   GetProvisioningTLSMode  1 (PSK).
 *   CFG_StartConfiguration  pp_amt_start_configuration: restarts the hellos at
 *                           RetryCount 0 (the setup window). INVALID_PROVISIONING_STATE
 *                           in Post-Setup (already provisioned) and in Pre-Setup (no key).
 * A refusal is a well-formed response with a status and no data; only a malformed
 * request is an error. */
#ifndef PSKPROV_FIRMWARE_PTHI_H
#define PSKPROV_FIRMWARE_PTHI_H

#include <stddef.h>
#include <stdint.h>

#include "firmware/device.h"
#include "core/err.h"
#include "proto/pthi.h"

/* What a handled request was, for the caller's log and for CFG_StartConfiguration
 * (whose success must wake the device's hello timer). */
struct pp_amt_pthi_result {
	uint32_t command; /* enum pp_pthi_command */
	uint32_t status;  /* enum pp_pthi_status written in the response */
};

/* Handles one request frame of exactly len bytes and writes the response frame into
 * resp (cap bytes; PP_PTHI_MAX_FRAME always suffices), its length in *resp_len.
 * A request that pp_pthi_request_parse refuses is returned as that error (the caller
 * should close the connection) and nothing is written. result may be NULL.
 * pp_amt_start_configuration changes memory only: nothing blocks. */
int pp_amt_pthi_handle_ex(struct pp_amt_device *dev, const uint8_t *req, size_t len, uint8_t *resp,
			  size_t cap, size_t *resp_len, struct pp_amt_pthi_result *result,
			  struct pp_err *err) PP_WUR;

/* pp_amt_pthi_handle_ex without the result. */
int pp_amt_pthi_handle(struct pp_amt_device *dev, const uint8_t *req, size_t len, uint8_t *resp,
		       size_t cap, size_t *resp_len, struct pp_err *err) PP_WUR;

#endif
