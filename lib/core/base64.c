#include "core/base64.h"

#include <openssl/evp.h>

#include "core/secret.h"

int pp_b64_encode(const void *in, size_t n, char *out, size_t cap, struct pp_err *err)
{
	if (n > PP_B64_MAX_IN)
		return pp_err_set(err, PP_ETOOBIG, "base64 input of %zu bytes is too large", n);
	if (cap < PP_B64_ENCODED_LEN(n) + 1)
		return pp_err_set(err, PP_ETOOBIG, "base64 output needs %zu bytes, have %zu",
				  (size_t)PP_B64_ENCODED_LEN(n) + 1, cap);
	int w = EVP_EncodeBlock((unsigned char *)out, in, (int)n);
	if (w < 0 || (size_t)w != PP_B64_ENCODED_LEN(n))
		return pp_err_set(err, PP_ECRYPTO, "base64 encoding failed");
	out[w] = '\0';
	return 0;
}

static int b64_value(unsigned char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+')
		return 62;
	if (c == '/')
		return 63;
	return -1;
}

int pp_b64_decode(const char *in, size_t in_len, void *out, size_t cap, size_t *out_len,
		  struct pp_err *err)
{
	uint8_t *dst = out;
	uint8_t quad[3];
	size_t pad = 0, len;
	int rc;

	*out_len = 0;
	if (in_len > PP_B64_MAX_IN)
		return pp_err_set(err, PP_ETOOBIG, "base64 text of %zu characters is too long",
				  in_len);
	if (in_len % 4 != 0)
		return pp_err_set(err, PP_EINVAL,
				  "base64 length %zu is not a multiple of 4 (bad padding)", in_len);
	if (in_len >= 1 && in[in_len - 1] == '=')
		pad = (in_len >= 2 && in[in_len - 2] == '=') ? 2 : 1;
	/* Validate every character ourselves: EVP_DecodeBlock skips white space and would
	 * accept '=' in the middle of the text. Error messages give positions, not text. */
	for (size_t i = 0; i < in_len - pad; i++) {
		if (b64_value((unsigned char)in[i]) < 0)
			return pp_err_set(err, PP_EINVAL, "base64 has an invalid character at %zu",
					  i);
	}
	if (pad) {
		int last = b64_value((unsigned char)in[in_len - pad - 1]);
		if ((pad == 2 && (last & 0x0F)) || (pad == 1 && (last & 0x03)))
			return pp_err_set(err, PP_EINVAL,
					  "base64 has non-zero bits before its padding");
	}
	len = in_len / 4 * 3 - pad;
	if (len > cap)
		return pp_err_set(err, PP_ETOOBIG, "base64 decodes to %zu bytes, room for %zu", len,
				  cap);
	/* One quantum at a time: EVP_DecodeBlock writes the padding as zero bytes, which
	 * must not land past the end of out. */
	for (size_t i = 0, o = 0; i < in_len; i += 4) {
		if (EVP_DecodeBlock(quad, (const unsigned char *)in + i, 4) != 3) {
			rc = pp_err_set(err, PP_EINVAL, "base64 quantum at %zu does not decode", i);
			pp_wipe(out, cap);
			pp_wipe(quad, sizeof(quad));
			return rc;
		}
		size_t take = len - o < 3 ? len - o : 3;
		for (size_t k = 0; k < take; k++)
			dst[o + k] = quad[k];
		o += take;
	}
	pp_wipe(quad, sizeof(quad));
	*out_len = len;
	return 0;
}
