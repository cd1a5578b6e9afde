/* The device side of WS-Management (protocol.md section 4): one SOAP request in, one
 * envelope out, dispatched to the emulated firmware (lib/amt). No networking and no
 * HTTP: the caller has already authenticated the request with Digest.
 *
 * Answers follow one rule. A request the device cannot read, a class it does not have
 * (wsa:DestinationUnreachable), an action the class does not offer
 * (wsa:ActionNotSupported) or a parameter that is missing or not of its type
 * (wsman:InvalidParameter) is a SOAP fault with its HTTP status. A method the firmware
 * refuses (wrong state, a password the policy rejects, a malformed key) is a normal
 * <Method>_OUTPUT with a ReturnValue other than 0 (PP_AMT_STATUS_*, wsman/amt.h).
 * Every change the firmware accepts is durable before the envelope is built. */
#ifndef PSKPROV_DEVICE_WS_H
#define PSKPROV_DEVICE_WS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "amt/device.h"
#include "core/bytes.h"
#include "core/err.h"

struct pp_devws_result {
	int http_status; /* 200, or the fault's status */
	uint32_t retval; /* method ReturnValue (0 when not a method) */
	bool is_fault;
	char what[192]; /* for the log: "SetTLSPSK -> 0x0", "... fault ..."; never a secret */
};

/* Handles one request of len bytes; out (pp_buf_init'ed with a ceiling of at least
 * PP_WSMAN_DOC_MAX) receives the envelope, which may hold nothing secret but is wiped
 * anyway by the caller. now: host Unix seconds (the device clock's base). Returns 0 with
 * an envelope, or < 0 when not even a fault could be built (answer 500 without a
 * body). */
int pp_devws_handle(struct pp_amt_device *dev, const void *xml, size_t len, int64_t now,
		    struct pp_buf *out, struct pp_devws_result *res, struct pp_err *err) PP_WUR;

#endif
