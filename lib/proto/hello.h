/* The AMT hello message (docs/protocol.md section 2): what a device in In-Setup sends to the
 * configuration server on TCP port 9971, one message per connection, no reply.
 *
 * Wire formats [AMT], all integers little-endian:
 *
 *   v2 (PSK), exactly 32 bytes:
 *     0 u16 AdminCredentialsSet (0 or 1)   2 u16 InterfaceVersion = 2
 *     4 u32 RetryCount (0..14)             8 16 bytes UUID, SMBIOS byte order
 *    24 8 bytes PID, ASCII 0-9 A-Z, no dash
 *
 *   v3 (certificate-based): bytes 0..23 as v2 (header and UUID; v3 has no PID), then
 *    24 u8 hashCount, then hashCount entries {u8 type, u8 len, hash[len]} where
 *    type 1 = SHA-1 (len 20), 2 = SHA-256 (len 32), 3 = SHA-384 (len 48).
 *
 * Both parse strictly: exact lengths, no trailing bytes, every field range-checked.
 * The PID check here is the alphabet only; its checksum is the caller's job (keys). */
#ifndef PSKPROV_PROTO_HELLO_H
#define PSKPROV_PROTO_HELLO_H

#include <stddef.h>
#include <stdint.h>

#include "core/err.h"

#define PP_HELLO_PORT 9971

#define PP_HELLO_V2 2
#define PP_HELLO_V3 3

#define PP_HELLO_V2_LEN 32
/* Header and UUID shared by both versions. */
#define PP_HELLO_COMMON_LEN 24
#define PP_HELLO_PID_LEN 8
#define PP_HELLO_RETRY_MAX 14

/* v3 hash entries: hashCount is a u8, so up to 255 (real devices send 20-30). */
#define PP_HELLO_MAX_HASHES 255
#define PP_HELLO_MAX_HASH_LEN 48

/* Largest valid hello: v3 with 255 SHA-384 entries, 24 + 1 + 255 x 50 = 12,775 bytes.
 * A reader buffers at most this much; anything longer is not a hello. */
#define PP_HELLO_MAX_LEN                                                                           \
	(PP_HELLO_COMMON_LEN + 1 + PP_HELLO_MAX_HASHES * (2 + PP_HELLO_MAX_HASH_LEN))

enum pp_hello_hash_type {
	PP_HELLO_HASH_SHA1 = 1,   /* 20 bytes */
	PP_HELLO_HASH_SHA256 = 2, /* 32 bytes */
	PP_HELLO_HASH_SHA384 = 3, /* 48 bytes */
};

struct pp_hello_hash {
	uint8_t type; /* enum pp_hello_hash_type */
	uint8_t len;  /* always the length the type implies */
	uint8_t hash[PP_HELLO_MAX_HASH_LEN];
};

struct pp_hello {
	uint16_t admin_credentials_set; /* 0 or 1 */
	uint16_t version;               /* PP_HELLO_V2 or PP_HELLO_V3 */
	uint32_t retry_count;           /* 0..PP_HELLO_RETRY_MAX */
	uint8_t uuid[16]; /* RFC 4122 display order; SMBIOS order on the wire (converted) */
	char pid[PP_HELLO_PID_LEN + 1]; /* v2: 8 x [0-9A-Z] and NUL; v3: "" (no PID field) */
	size_t hash_count;              /* v3 only: 0..PP_HELLO_MAX_HASHES; v2: 0 */
	struct pp_hello_hash hashes[PP_HELLO_MAX_HASHES];
}; /* about 13 KB: keep one per connection on the heap, not several on a stack */

/* Parses exactly one hello of len bytes. On success fills *out (zeroing what the
 * version does not use). On failure *out is left unchanged and the code says why
 * (the input is checked in full before *out is touched, so no copy is kept):
 *   -PP_ETRUNC   the input ends before the message does (including a hashCount that
 *                claims more entries than there are bytes)
 *   -PP_EVERSION InterfaceVersion is not 2 or 3 (the message names it)
 *   -PP_EINVAL   a field is out of range: admin flag, RetryCount, PID byte, hash type,
 *                hash length not matching its type
 *   -PP_ETOOBIG  bytes after the message (or more than PP_HELLO_MAX_LEN) */
int pp_hello_parse(const uint8_t *buf, size_t len, struct pp_hello *out, struct pp_err *err) PP_WUR;

/* Writes h as version h->version into out (cap bytes), *len = bytes written. Checks
 * every field as pp_hello_parse does, and that fields the version has no room for are
 * empty (v2: hash_count 0; v3: pid ""), so nothing is dropped silently. Writes nothing
 * on failure; -PP_ETOOBIG when cap is too small. PP_HELLO_MAX_LEN always suffices. */
int pp_hello_write(const struct pp_hello *h, uint8_t *out, size_t cap, size_t *len,
		   struct pp_err *err) PP_WUR;

/* Length in bytes of the hash for a v3 hash type; 0 for an unknown type. */
size_t pp_hello_hash_len(uint8_t type);

/* Device retry schedule (docs/protocol.md section 2): 15 hellos with RetryCount 0..14, in
 * three groups of five: 0-4 one minute apart, 5-9 ten minutes apart, 10-14 one hour
 * apart. The wait before a hello is the spacing of the group that hello belongs to, so
 * each group's first hello follows the previous group's last after its own spacing.
 *
 * Returns the wait in milliseconds between sending the hello with RetryCount
 * retry_count and sending the next one:
 *   0..3  -> 60000      (next hello 1..4)
 *   4..8  -> 600000     (next hello 5..9)
 *   9..13 -> 3600000    (next hello 10..14)
 *   >= 14 -> PP_HELLO_NO_RETRY (0): silence until the next trigger.
 * Hello n is therefore sent at 0, 1, 2, 3, 4, 14, 24, 34, 44, 54, 114, 174, 234, 294,
 * 354 minutes after the first. */
#define PP_HELLO_NO_RETRY 0u
uint32_t pp_hello_retry_delay_ms(uint32_t retry_count);

#endif
