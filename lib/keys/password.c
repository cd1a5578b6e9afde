/* MEBx / AMT admin passwords: the policy check and strong random passwords. */
#include "keys/keys.h"

#include <string.h>

#include "core/secret.h"

/* Generated passwords draw from these 74 characters: letters, digits, and symbols that
 * need no quoting in XML, JSON, CSV, HTTP Digest or a shell word. */
static const char pw_alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
				  "abcdefghijklmnopqrstuvwxyz"
				  "0123456789"
				  "!#$%*+-.=?@^";
#define PW_ALPHABET_LEN (sizeof(pw_alphabet) - 1)
/* Even at 8 characters about half the draws pass the policy (and 70 of 74 first
 * characters are not a formula lead); 200 misses in a row has
 * odds below 2^-170, so reaching the cap means the random source is broken. */
#define PW_MAX_ATTEMPTS 200

int pp_mebx_password_check(const char *pw, struct pp_err *err)
{
	if (!pw)
		return pp_err_set(err, PP_EINVAL, "MEBx password: missing");
	size_t len = strnlen(pw, PP_MEBX_PW_MAX + 1);
	if (len < PP_MEBX_PW_MIN)
		return pp_err_set(err, PP_EINVAL,
				  "MEBx password: %zu characters, expected %d to %d", len,
				  PP_MEBX_PW_MIN, PP_MEBX_PW_MAX);
	if (len > PP_MEBX_PW_MAX)
		return pp_err_set(err, PP_EINVAL,
				  "MEBx password: more than %d characters, expected %d to %d",
				  PP_MEBX_PW_MAX, PP_MEBX_PW_MIN, PP_MEBX_PW_MAX);

	bool upper = false, lower = false, digit = false, symbol = false;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)pw[i];
		if (c < 0x21 || c > 0x7E)
			return pp_err_set(err, PP_EINVAL,
					  "MEBx password: character %zu is not printable ASCII "
					  "(0x21 to 0x7E, no spaces)",
					  i + 1);
		if (c == ':' || c == ',' || c == '"')
			return pp_err_set(
			    err, PP_EINVAL,
			    "MEBx password: character %zu is a colon, comma or double "
			    "quote, which AMT does not allow",
			    i + 1);
		if (c >= 'A' && c <= 'Z')
			upper = true;
		else if (c >= 'a' && c <= 'z')
			lower = true;
		else if (c >= '0' && c <= '9')
			digit = true;
		else if (c != '_') /* AMT counts '_' as alphanumeric */
			symbol = true;
	}
	if (!upper)
		return pp_err_set(err, PP_EINVAL, "MEBx password: no upper-case letter (A-Z)");
	if (!lower)
		return pp_err_set(err, PP_EINVAL, "MEBx password: no lower-case letter (a-z)");
	if (!digit)
		return pp_err_set(err, PP_EINVAL, "MEBx password: no digit (0-9)");
	if (!symbol)
		return pp_err_set(err, PP_EINVAL,
				  "MEBx password: no symbol such as ! # $ %% (underscore does not "
				  "count)");
	return 0;
}

bool pp_formula_lead(int c)
{
	return c == '=' || c == '+' || c == '-' || c == '@' || c == '\t' || c == '\r';
}

int pp_keygen_password(struct pp_keygen *g, size_t len, char *out)
{
	uint8_t idx[PP_MEBX_PW_MAX];
	if (!g || !out || len < PP_MEBX_PW_MIN || len > PP_MEBX_PW_MAX)
		return -PP_EINVAL;
	int rc = -PP_ECRYPTO;
	/* Whole-password rejection keeps the result uniform over the passwords that pass. */
	for (int attempt = 0; attempt < PW_MAX_ATTEMPTS; attempt++) {
		rc = pp_keygen_uniform(g, PW_ALPHABET_LEN, idx, len);
		if (rc < 0)
			break;
		for (size_t i = 0; i < len; i++)
			out[i] = pw_alphabet[idx[i]];
		out[len] = '\0';
		/* Never a spreadsheet formula when the password is exported to CSV. */
		rc = pp_formula_lead(out[0]) ? -PP_EINVAL : pp_mebx_password_check(out, NULL);
		if (rc == 0)
			break;
		rc = -PP_ECRYPTO;
	}
	pp_wipe(idx, sizeof(idx));
	if (rc < 0)
		pp_wipe(out, len + 1);
	return rc;
}
