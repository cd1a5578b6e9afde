#include "core/parse.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int pp_parse_u64(const char *s, uint64_t min, uint64_t max, uint64_t *out, const char *what,
		 struct pp_err *err)
{
	if (!s || !*s)
		return pp_err_set(err, PP_EINVAL, "%s: empty number", what);
	uint64_t v = 0;
	for (const char *p = s; *p; p++) {
		if (*p < '0' || *p > '9')
			return pp_err_set(err, PP_EINVAL, "%s: '%.32s' is not a whole number", what,
					  s);
		unsigned d = (unsigned)(*p - '0');
		if (v > (UINT64_MAX - d) / 10)
			return pp_err_set(err, PP_EINVAL, "%s: '%.32s' is too large", what, s);
		v = v * 10 + d;
	}
	if (v < min || v > max)
		return pp_err_set(err, PP_EINVAL, "%s: %llu is out of range %llu..%llu", what,
				  (unsigned long long)v, (unsigned long long)min,
				  (unsigned long long)max);
	*out = v;
	return 0;
}

int pp_parse_u32(const char *s, uint32_t min, uint32_t max, uint32_t *out, const char *what,
		 struct pp_err *err)
{
	uint64_t v;
	int rc = pp_parse_u64(s, min, max, &v, what, err);
	if (rc < 0)
		return rc;
	*out = (uint32_t)v;
	return 0;
}

int pp_parse_double(const char *s, double min, double max, double *out, const char *what,
		    struct pp_err *err)
{
	if (!s || !*s)
		return pp_err_set(err, PP_EINVAL, "%s: empty number", what);
	char *end = NULL;
	errno = 0;
	double v = strtod(s, &end);
	if (errno || !end || *end || end == s || !isfinite(v))
		return pp_err_set(err, PP_EINVAL, "%s: '%.32s' is not a number", what, s);
	if (v < min || v > max)
		return pp_err_set(err, PP_EINVAL, "%s: %g is out of range %g..%g", what, v, min,
				  max);
	*out = v;
	return 0;
}

int pp_parse_ipv4(const char *s, uint8_t out[4], const char *what, struct pp_err *err)
{
	const char *p = s;
	for (int i = 0; i < 4; i++) {
		unsigned v = 0, digits = 0;
		while (*p >= '0' && *p <= '9') {
			v = v * 10 + (unsigned)(*p - '0');
			if (++digits > 3 || v > 255)
				goto bad;
			p++;
		}
		if (!digits)
			goto bad;
		/* No leading zeros: "010" is octal to some tools and decimal to others. */
		if (digits > 1 && p[-(int)digits] == '0')
			goto bad;
		out[i] = (uint8_t)v;
		if (i < 3) {
			if (*p != '.')
				goto bad;
			p++;
		}
	}
	if (*p)
		goto bad;
	return 0;
bad:
	return pp_err_set(err, PP_EINVAL, "%s: '%.64s' is not an IPv4 address", what, s);
}

int pp_parse_ipv4_port(const char *s, uint8_t ip[4], uint16_t *port, const char *what,
		       struct pp_err *err)
{
	char host[32];
	const char *colon = strchr(s, ':');
	size_t hl = colon ? (size_t)(colon - s) : strlen(s);
	if (hl >= sizeof(host))
		return pp_err_set(err, PP_EINVAL, "%s: '%.64s' is not an IPv4 address", what, s);
	memcpy(host, s, hl);
	host[hl] = '\0';
	int rc = pp_parse_ipv4(host, ip, what, err);
	if (rc < 0)
		return rc;
	if (colon) {
		uint32_t v;
		rc = pp_parse_u32(colon + 1, 1, 65535, &v, what, err);
		if (rc < 0)
			return rc;
		*port = (uint16_t)v;
	}
	return 0;
}

bool pp_valid_fqdn(const char *s)
{
	size_t n = strlen(s);
	if (n == 0 || n > 253)
		return false;
	size_t label = 0;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		if (c == '.') {
			if (label == 0 || s[i - 1] == '-')
				return false;
			label = 0;
			continue;
		}
		bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
			  (c >= '0' && c <= '9') || c == '-';
		if (!ok || (c == '-' && label == 0) || ++label > 63)
			return false;
	}
	return label > 0 && s[n - 1] != '-';
}

int pp_hex_digit(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

int pp_uuid_parse(const char *s, uint8_t out[16], struct pp_err *err)
{
	if (strlen(s) != 36)
		goto bad;
	size_t j = 0;
	for (size_t i = 0; i < 36;) {
		if (i == 8 || i == 13 || i == 18 || i == 23) {
			if (s[i] != '-')
				goto bad;
			i++;
			continue;
		}
		int hi = pp_hex_digit(s[i]), lo = pp_hex_digit(s[i + 1]);
		if (hi < 0 || lo < 0)
			goto bad;
		out[j++] = (uint8_t)(hi << 4 | lo);
		i += 2;
	}
	return 0;
bad:
	return pp_err_set(err, PP_EINVAL, "'%.40s' is not a UUID", s);
}

void pp_uuid_format(const uint8_t u[16], char out[37])
{
	/* By hand, not snprintf: the store and the logs format UUIDs dozens of times a
	 * device, and a format string costs twenty times this. */
	static const char hex[] = "0123456789abcdef";
	char *o = out;
	for (int i = 0; i < 16; i++) {
		if (i == 4 || i == 6 || i == 8 || i == 10)
			*o++ = '-';
		*o++ = hex[u[i] >> 4];
		*o++ = hex[u[i] & 0x0f];
	}
	*o = '\0';
}

void pp_uuid_to_smbios(const uint8_t r[16], uint8_t s[16])
{
	uint8_t t[16] = {r[3], r[2], r[1], r[0], r[5], r[4], r[7], r[6]};
	memcpy(t + 8, r + 8, 8);
	memcpy(s, t, 16);
}

void pp_uuid_from_smbios(const uint8_t s[16], uint8_t r[16])
{
	/* The swap is its own inverse. */
	pp_uuid_to_smbios(s, r);
}

void pp_hex(const uint8_t *in, size_t n, char *out)
{
	static const char digits[] = "0123456789abcdef";
	for (size_t i = 0; i < n; i++) {
		out[2 * i] = digits[in[i] >> 4];
		out[2 * i + 1] = digits[in[i] & 15];
	}
	out[2 * n] = '\0';
}

int pp_unhex(const char *s, uint8_t *out, size_t n)
{
	if (strlen(s) != 2 * n)
		return -PP_EINVAL;
	for (size_t i = 0; i < n; i++) {
		int hi = pp_hex_digit(s[2 * i]), lo = pp_hex_digit(s[2 * i + 1]);
		if (hi < 0 || lo < 0)
			return -PP_EINVAL;
		out[i] = (uint8_t)(hi << 4 | lo);
	}
	return 0;
}
