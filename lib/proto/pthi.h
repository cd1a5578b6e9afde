/* PTHI host-interface framing (docs/protocol.md section 5): what a host agent and the
 * emulated device exchange over the emulated MEI socket.
 *
 * Frame [AMT], integers little-endian:
 *   0 u8 major = 1   1 u8 minor = 1   2 u16 reserved = 0
 *   4 u32 command    8 u32 payloadLength   12 payload[payloadLength]
 * A response has command | PP_PTHI_RESPONSE_BIT and its payload is
 *   u32 status, then the command's data.
 * payloadLength of a response counts the status and the data ([AMT]: Intel's
 * samples/mei/mei-amt-version.c takes the data length as length - 4).
 *
 * Decisions [ours]:
 * - Every frame, header included, is at most PP_PTHI_MAX_FRAME bytes.
 * - The commands below take no request payload; a request with one is rejected.
 * - A response whose status is not PP_PTHI_STATUS_SUCCESS carries no data
 *   (payloadLength 4).
 * - GetUUID data is the UUID in SMBIOS byte order, as in the hello, so the UUID a host
 *   agent reports matches the device's hellos; struct fields hold RFC 4122 order.
 * - Strings in GetCodeVersions must be printable ASCII (0x20..0x7e) and their fields
 *   zero-padded after the string, so a parsed response writes back byte for byte.
 *
 * GetCodeVersions data [AMT layout, as in Intel's samples/mei/mei-amt-version.c]:
 *   65 bytes BIOS version, NUL-terminated and NUL-padded (so at most 64 characters)
 *   u32 count (at most PP_PTHI_MAX_VERSIONS = 50, Intel's AMT_VERSIONS_NUMBER)
 *   count x { u16 desc_len, desc[20], u16 ver_len, ver[20] }   (44 bytes each)
 *   lengths exclude any NUL and are at most 20; data length is exactly 69 + 44 x count. */
#ifndef PSKPROV_PROTO_PTHI_H
#define PSKPROV_PROTO_PTHI_H

#include <stddef.h>
#include <stdint.h>

#include "core/err.h"

#define PP_PTHI_HEADER_LEN 12
#define PP_PTHI_MAJOR 1
#define PP_PTHI_MINOR 1
#define PP_PTHI_RESPONSE_BIT 0x00800000u
#define PP_PTHI_MAX_FRAME 4096 /* [ours] header + payload */
#define PP_PTHI_MAX_PAYLOAD (PP_PTHI_MAX_FRAME - PP_PTHI_HEADER_LEN)

#define PP_PTHI_BIOS_VERSION_LEN 65
#define PP_PTHI_VERSION_STRING_LEN 20
#define PP_PTHI_MAX_VERSIONS 50
#define PP_PTHI_VERSION_ENTRY_LEN (2 * (2 + PP_PTHI_VERSION_STRING_LEN))
#define PP_PTHI_PID_LEN 8

/* The ME's AMTHI client, which answers PTHI on the Linux MEI driver [AMT, Intel's
 * samples/mei: 12F80028-B4B7-4B2D-ACA8-46E0FF65814C], in the byte order of the kernel's
 * uuid_le (IOCTL_MEI_CONNECT_CLIENT, <linux/mei.h>): the first three fields
 * little-endian, the last eight bytes as written. */
#define PP_PTHI_AMTHI_GUID_TEXT "12f80028-b4b7-4b2d-aca8-46e0ff65814c"
extern const uint8_t pp_pthi_amthi_guid_le[16];

enum pp_pthi_command {
	PP_PTHI_GET_PROVISIONING_STATE = 0x04000011,
	PP_PTHI_GET_CODE_VERSIONS = 0x0400001A,
	PP_PTHI_CFG_START_CONFIGURATION = 0x04000029,
	PP_PTHI_GET_PROVISIONING_TLS_MODE = 0x0400002B,
	PP_PTHI_CFG_GET_PID = 0x0400003B,
	PP_PTHI_GET_UUID = 0x0400005C,
};

/* Status codes: the few pskprov's device uses, with Intel's AMT_STATUS_* values. Any
 * other value still parses (firmware has many more); it has no name here. */
enum pp_pthi_status {
	PP_PTHI_STATUS_SUCCESS = 0x00,
	PP_PTHI_STATUS_INTERNAL_ERROR = 0x01,
	PP_PTHI_STATUS_NOT_READY = 0x02,
	PP_PTHI_STATUS_INVALID_AMT_MODE = 0x03,
	PP_PTHI_STATUS_INVALID_MESSAGE_LENGTH = 0x04,
	PP_PTHI_STATUS_NOT_PERMITTED = 0x10,
	PP_PTHI_STATUS_INVALID_PROVISIONING_STATE = 0x20,
	PP_PTHI_STATUS_INVALID_PARAMETER = 0x24,
};

enum pp_pthi_provisioning_state {
	PP_PTHI_STATE_PRE = 0,
	PP_PTHI_STATE_IN = 1,
	PP_PTHI_STATE_POST = 2,
};

enum pp_pthi_tls_mode {
	PP_PTHI_TLS_PSK = 1,
	PP_PTHI_TLS_PKI = 2,
};

struct pp_pthi_header {
	uint8_t major;
	uint8_t minor;
	uint16_t reserved;
	uint32_t command;
	uint32_t length; /* payloadLength: bytes after the header */
};

/* "GetUUID", ... for a request code (response bit clear); NULL when unknown. */
const char *pp_pthi_command_name(uint32_t command);
/* "not permitted", ... ; NULL for a status without a name here. */
const char *pp_pthi_status_name(uint32_t status);

/* Writes the 12 header bytes exactly as given, without judging them (tests and tools
 * build bad frames with it; the request and response writers build good ones).
 * -PP_ETOOBIG when cap < PP_PTHI_HEADER_LEN. */
int pp_pthi_header_encode(const struct pp_pthi_header *h, uint8_t *out, size_t cap,
			  struct pp_err *err) PP_WUR;

/* Decodes and checks the first PP_PTHI_HEADER_LEN bytes of buf (len may be larger):
 * version 1.1 (-PP_EVERSION), reserved 0 (-PP_EINVAL), frame within PP_PTHI_MAX_FRAME
 * (-PP_ETOOBIG). It does not judge the command. -PP_ETRUNC when len < 12. */
int pp_pthi_header_decode(const uint8_t *buf, size_t len, struct pp_pthi_header *h,
			  struct pp_err *err) PP_WUR;

/* For stream reading: given at least the first 12 bytes of a frame, *remaining = how
 * many bytes follow the header (payloadLength), after the checks of
 * pp_pthi_header_decode, so a reader never waits for more than the cap. */
int pp_pthi_frame_remaining(const uint8_t *hdr, size_t hdr_len, size_t *remaining,
			    struct pp_err *err) PP_WUR;

/* Device side. */
struct pp_pthi_request {
	uint32_t command; /* enum pp_pthi_command */
};

/* Parses exactly one request frame of len bytes: header checks, then a known request
 * command (-PP_EINVAL; a response code is -PP_EPROTO), payloadLength 0 (-PP_EPROTO),
 * len == 12 + payloadLength (-PP_ETRUNC short, -PP_ETOOBIG trailing). */
int pp_pthi_request_parse(const uint8_t *buf, size_t len, struct pp_pthi_request *req,
			  struct pp_err *err) PP_WUR;

/* Host side: writes the request frame for a known command; *len = 12. */
int pp_pthi_request_write(uint32_t command, uint8_t *out, size_t cap, size_t *len,
			  struct pp_err *err) PP_WUR;

struct pp_pthi_version_entry {
	char description[PP_PTHI_VERSION_STRING_LEN + 1]; /* NUL-terminated */
	char version[PP_PTHI_VERSION_STRING_LEN + 1];     /* NUL-terminated */
};

struct pp_pthi_code_versions {
	char bios[PP_PTHI_BIOS_VERSION_LEN]; /* NUL-terminated, at most 64 characters */
	uint32_t count;                      /* 0..PP_PTHI_MAX_VERSIONS */
	struct pp_pthi_version_entry versions[PP_PTHI_MAX_VERSIONS];
};

struct pp_pthi_response {
	uint32_t command; /* the request code, response bit clear */
	uint32_t status;  /* enum pp_pthi_status; data below only when SUCCESS */
	/* The command's data; CFG_StartConfiguration has none. */
	union {
		uint32_t provisioning_state;                /* GetProvisioningState: 0..2 */
		struct pp_pthi_code_versions code_versions; /* GetCodeVersions */
		uint8_t uuid[16];                           /* GetUUID: RFC 4122 order */
		char pid[PP_PTHI_PID_LEN + 1];              /* CFG_GetPID: 8 x [0-9A-Z] and NUL */
		uint32_t tls_mode;                          /* GetProvisioningTLSMode: 1 or 2 */
	};
};

/* Device side: writes the response frame for resp->command (a known request code; the
 * response bit is set here). With status SUCCESS the command's data is checked as the
 * parser checks it and written; with any other status only the status is written.
 * Writes nothing on failure; -PP_ETOOBIG when cap is too small. */
int pp_pthi_response_write(const struct pp_pthi_response *resp, uint8_t *out, size_t cap,
			   size_t *len, struct pp_err *err) PP_WUR;

/* Host side: parses exactly one response frame of len bytes answering expected_command
 * (a known request code). Checks, in order: header (as pp_pthi_header_decode); response
 * bit set and the command is expected_command (-PP_EPROTO); payloadLength >= 4
 * (-PP_EPROTO); len == 12 + payloadLength (-PP_ETRUNC / -PP_ETOOBIG); then
 *   status SUCCESS: the data length is exactly the command's (-PP_EPROTO), counts within
 *     caps (-PP_ETOOBIG), fields valid (-PP_EINVAL); fills *resp, returns 0.
 *   other status: no data allowed (-PP_EPROTO); fills resp->command and resp->status
 *     (the rest zero) and returns -PP_ESTATE with the status named in err.
 * On any other failure *resp is unchanged. */
int pp_pthi_response_parse(const uint8_t *buf, size_t len, uint32_t expected_command,
			   struct pp_pthi_response *resp, struct pp_err *err) PP_WUR;

#endif
