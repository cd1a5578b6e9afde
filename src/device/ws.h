/* The device side of WS-Management (docs/protocol.md section 4): one SOAP request in, one
 * envelope out, dispatched to the emulated firmware (lib/firmware). No networking and no
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

#include "firmware/device.h"
#include "core/bytes.h"
#include "core/err.h"

struct pp_devws_result {
	int http_status; /* 200, or the fault's status */
	uint32_t retval; /* method ReturnValue (0 when not a method) */
	bool is_fault;
	char what[192]; /* for the log: "SetTLSPSK -> 0x0", "... fault ..."; never a secret */
};

/* Open WS-Enumeration contexts of one device, in memory only: allocated by the first
 * Enumerate (about 450 bytes), at most PP_DEVWS_ENUM_MAX (the least recently used one
 * is dropped for a new one), each expiring PP_DEVWS_ENUM_TTL_S seconds after its last
 * use. An unknown, expired or released context gets wsen:InvalidEnumerationContext. */
#define PP_DEVWS_ENUM_MAX 8
#define PP_DEVWS_ENUM_TTL_S 60
struct pp_devws_state;
/* Accepts NULL. */
void pp_devws_state_free(struct pp_devws_state *s);

/* Classes: AMT_GeneralSettings (Get, Put, Enumerate), AMT_SetupAndConfigurationService
 * (Get, Enumerate; SetMEBxPassword, SetTLSPSK, CommitChanges, Unprovision, GetUuid),
 * CIM_SoftwareIdentity and AMT_EthernetPortSettings (several instances: Get needs the
 * InstanceID selector, else wsman:InvalidSelectors; Enumerate), CIM_ComputerSystemPackage
 * (Get, Enumerate), AMT_AuthorizationService (SetAdminAclEntryEx),
 * AMT_TimeSynchronizationService (GetLowAccuracyTimeSynch, SetHighAccuracyTimeSynch).
 * Pull honours MaxElements (MaxCharacters is not counted: answers are small);
 * Enumerate with wsman:OptimizeEnumeration returns up to wsman:MaxElements items at once.
 *
 * Put of AMT_GeneralSettings takes the whole instance back or only some properties.
 * Stored (durable, lib/firmware): HostName, DomainName, AMTNetworkEnabled. Read-only
 * (DigestRealm, ElementName, InstanceID, ...) and writable-but-not-modelled ones
 * (PingResponseEnabled, DDNS*, SharedFQDN, ...) are accepted when unchanged and refused
 * with wsman:InvalidParameter naming the property when changed; unknown properties
 * are refused. */

/* Working memory of pp_devws_handle: about 105 KB, nearly all of it the property slots
 * of the request and of the answer. A caller that handles many requests (the runtime:
 * one per process, in struct pp_emu_env) makes one and passes it to every call instead
 * of having each call allocate its own: a 105 KB malloc and free per request cost more
 * than the rest of the request's memory management. It holds nothing between calls
 * (the slots a call filled are wiped before it returns); one call at a time. */
struct pp_devws_work;
/* NULL when out of memory. */
struct pp_devws_work *pp_devws_work_new(void);
/* Accepts NULL. */
void pp_devws_work_free(struct pp_devws_work *w);

/* Handles one request of len bytes. work: pp_devws_work_new's, or NULL (allocated for
 * the call). state: where the device's enumeration contexts live
 * (*state NULL until the first Enumerate; NULL: Enumerate fails); addr: the device's
 * IPv4 address (AMT_EthernetPortSettings IPAddress) or NULL; out (pp_buf_init'ed with a ceiling of
 * at least PP_WSMAN_DOC_MAX) receives the envelope, which may hold nothing secret but is wiped
 * anyway by the caller. now: host Unix seconds (the device clock's base). Returns 0 with
 * an envelope, or < 0 when not even a fault could be built (answer 500 without a
 * body). */
int pp_devws_handle(struct pp_devws_work *work, struct pp_amt_device *dev,
		    struct pp_devws_state **state, const uint8_t addr[4], const void *xml,
		    size_t len, int64_t now, struct pp_buf *out, struct pp_devws_result *res,
		    struct pp_err *err) PP_WUR;

/* The request trace (`--wsman-trace DIR`): a copy of xml in out with the text of every
 * element whose local name is PPS, Password, DigestPassword or contains "Password"
 * replaced by "(hidden)"; every other byte unchanged. out holds the rest of the request
 * (no secret): pp_buf_free_wipe it anyway. */
int pp_devws_trace_redact(const void *xml, size_t len, struct pp_buf *out,
			  struct pp_err *err) PP_WUR;

#endif
