/* Base64 (RFC 4648 section 4, standard alphabet, padded), strict: SetTLSPSK carries the
 * PID and PPS as base64 of their ASCII bytes, SetAdminAclEntryEx the digest hash. */
#ifndef PSKPROV_CORE_BASE64_H
#define PSKPROV_CORE_BASE64_H

#include <stddef.h>
#include <stdint.h>

#include "core/err.h"

/* Encoded length of n bytes, without the NUL. */
#define PP_B64_ENCODED_LEN(n) ((((n) + 2) / 3) * 4)
/* Largest input either function accepts. */
#define PP_B64_MAX_IN (1u << 24)

/* Writes the NUL-terminated encoding; cap must be at least PP_B64_ENCODED_LEN(n) + 1. */
int pp_b64_encode(const void *in, size_t n, char *out, size_t cap, struct pp_err *err) PP_WUR;
/* Decodes exactly in_len characters: the length must be a multiple of 4, only the
 * alphabet, '=' only as one or two final characters, and the unused bits before the
 * padding must be zero (one encoding per value). No white space. *out_len gets the byte
 * count; fails when it exceeds cap. The output is wiped on failure. */
int pp_b64_decode(const char *in, size_t in_len, void *out, size_t cap, size_t *out_len,
		  struct pp_err *err) PP_WUR;

#endif
