/* Strict text parsing: whole-string, range-checked numbers and addresses. */
#ifndef PSKPROV_CORE_PARSE_H
#define PSKPROV_CORE_PARSE_H

#include <stdbool.h>
#include <stdint.h>

#include "core/err.h"

/* Decimal only, no sign, no spaces, no trailing bytes, within [min, max]. `what`
 * names the value in the error ("--count"). */
/* The value of one hex digit (either case), -1 for anything else. */
int pp_hex_digit(char c);

int pp_parse_u64(const char *s, uint64_t min, uint64_t max, uint64_t *out, const char *what,
		 struct pp_err *err) PP_WUR;
int pp_parse_u32(const char *s, uint32_t min, uint32_t max, uint32_t *out, const char *what,
		 struct pp_err *err) PP_WUR;
int pp_parse_double(const char *s, double min, double max, double *out, const char *what,
		    struct pp_err *err) PP_WUR;

/* Dotted-quad IPv4 into network-order bytes a.b.c.d = {a,b,c,d}. */
int pp_parse_ipv4(const char *s, uint8_t out[4], const char *what, struct pp_err *err) PP_WUR;
/* "IPV4" or "IPV4:PORT"; *port keeps its value when no port is given. */
int pp_parse_ipv4_port(const char *s, uint8_t ip[4], uint16_t *port, const char *what,
		       struct pp_err *err) PP_WUR;
/* A DNS name: labels of [A-Za-z0-9-], 1..63 each, total <= 253. */
bool pp_valid_fqdn(const char *s);

/* UUID text "xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx" (any case) <-> 16 bytes in RFC 4122
 * (big-endian, display) order. */
int pp_uuid_parse(const char *s, uint8_t out[16], struct pp_err *err) PP_WUR;
void pp_uuid_format(const uint8_t uuid[16], char out[37]);
/* SMBIOS byte order: first three groups little-endian (docs/protocol.md section 2). */
void pp_uuid_to_smbios(const uint8_t rfc[16], uint8_t smbios[16]);
void pp_uuid_from_smbios(const uint8_t smbios[16], uint8_t rfc[16]);

/* Lower-case hex of n bytes into out (2n+1 bytes). */
void pp_hex(const uint8_t *in, size_t n, char *out);
int pp_unhex(const char *s, uint8_t *out, size_t n) PP_WUR;

#endif
