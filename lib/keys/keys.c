/* PID / PPS text codec and symbol sampling (docs/protocol.md section 1). */
#include "keys/keys.h"

#include <stdio.h>
#include <string.h>

#include "core/secret.h"

static const char pp_key_symbols[PP_KEY_ALPHABET + 1] = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ";

char pp_key_checksum(const char *sym, size_t n)
{
	unsigned sum = 0;
	for (size_t i = 0; i < n; i++)
		sum = (sum + (unsigned char)sym[i]) % PP_KEY_ALPHABET;
	return pp_key_symbols[sum];
}

size_t pp_key_sample(const uint8_t *in, size_t in_len, char *out, size_t want, size_t *produced)
{
	/* 252 = 7 x 36: bytes 0..251 map onto each symbol exactly 7 times. */
	size_t i = 0, n = 0;
	while (n < want && i < in_len) {
		uint8_t b = in[i++];
		if (b < 252)
			out[n++] = pp_key_symbols[b % PP_KEY_ALPHABET];
	}
	*produced = n;
	return i;
}

static bool is_symbol(char c)
{
	return (c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z');
}

static char upper(char c)
{
	return (c >= 'a' && c <= 'z') ? (char)(c - 'a' + 'A') : c;
}

static bool is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

/* Shared by the PID and PPS parsers: `what` is "PID" or "PPS", nsym the exact symbol
 * count (a multiple of PP_KEY_GROUP). Writes nsym canonical symbols and a NUL to out
 * (nsym + 1 bytes) and checks the layout; the caller checks the checksums. */
static int key_text_parse(const char *text, const char *what, size_t nsym, char *out,
			  struct pp_err *err)
{
	if (!text)
		return pp_err_set(err, PP_EINVAL, "%s: no text", what);

	size_t len = 0, syms = 0, dashes = 0;
	for (; text[len]; len++) {
		char c = text[len];
		if (len == PP_KEY_TEXT_MAX)
			return pp_err_set(err, PP_EINVAL,
					  "%s: more than %d characters, expected %zu symbols", what,
					  PP_KEY_TEXT_MAX, nsym);
		if (c == '-')
			dashes++;
		else if (is_symbol(upper(c)))
			syms++;
		else
			return pp_err_set(err, PP_EINVAL, "%s: character %zu is not 0-9 or A-Z%s",
					  what, len + 1, is_space(c) ? " (whitespace)" : "");
	}
	if (syms != nsym)
		return pp_err_set(err, PP_EINVAL, "%s: %zu symbols, expected %zu", what, syms,
				  nsym);

	/* Dashes: none, or exactly one between each two groups of 4. */
	size_t groups = nsym / PP_KEY_GROUP;
	if (dashes) {
		size_t before = 0;
		for (size_t i = 0; i < len; i++) {
			if (text[i] != '-') {
				before++;
				continue;
			}
			bool boundary = before > 0 && before < nsym && before % PP_KEY_GROUP == 0 &&
					text[i - 1] != '-';
			if (!boundary)
				return pp_err_set(err, PP_EINVAL,
						  "%s: dash at character %zu is not between two "
						  "groups of %d",
						  what, i + 1, PP_KEY_GROUP);
		}
		if (dashes != groups - 1)
			return pp_err_set(err, PP_EINVAL,
					  "%s: %zu dashes, expected %zu (one between each two "
					  "groups of %d) or none",
					  what, dashes, groups - 1, PP_KEY_GROUP);
	}

	size_t n = 0;
	for (size_t i = 0; i < len; i++)
		if (text[i] != '-')
			out[n++] = upper(text[i]);
	out[n] = '\0';
	return 0;
}

int pp_pid_parse(const char *text, struct pp_pid *out, struct pp_err *err)
{
	struct pp_pid pid;
	int rc = key_text_parse(text, "PID", PP_PID_LEN, pid.s, err);
	if (rc < 0)
		return rc;
	char want = pp_key_checksum(pid.s, PP_PID_LEN - 1);
	if (pid.s[PP_PID_LEN - 1] != want)
		return pp_err_set(err, PP_ECHECKSUM, "PID: checksum is '%c', expected '%c'",
				  pid.s[PP_PID_LEN - 1], want);
	*out = pid;
	return 0;
}

int pp_pps_parse(const char *text, struct pp_pps *out, struct pp_err *err)
{
	int rc = key_text_parse(text, "PPS", PP_PPS_LEN, out->s, err);
	if (rc < 0)
		goto out;
	for (size_t g = 0; g < PP_PPS_LEN / PP_KEY_GROUP; g++) {
		const char *grp = out->s + g * PP_KEY_GROUP;
		char want = pp_key_checksum(grp, PP_KEY_GROUP - 1);
		if (grp[PP_KEY_GROUP - 1] != want) {
			rc = pp_err_set(err, PP_ECHECKSUM,
					"PPS group %zu: checksum is '%c', expected '%c'", g + 1,
					grp[PP_KEY_GROUP - 1], want);
			goto out;
		}
	}
out:
	if (rc < 0)
		pp_wipe(out, sizeof(*out));
	return rc;
}

/* Writes the n symbols of s with a dash after each group but the last, and a NUL. */
static void key_format(const char *s, size_t n, char *out)
{
	size_t o = 0;
	for (size_t i = 0; i < n; i++) {
		if (i && i % PP_KEY_GROUP == 0)
			out[o++] = '-';
		out[o++] = s[i];
	}
	out[o] = '\0';
}

void pp_pid_format(const struct pp_pid *pid, char out[PP_PID_TEXT])
{
	key_format(pid->s, PP_PID_LEN, out);
}

void pp_pps_wipe(struct pp_pps *pps)
{
	pp_wipe(pps, sizeof(*pps));
}

void pp_pps_text_wipe(char (*text)[PP_PPS_TEXT])
{
	pp_wipe(*text, sizeof(*text));
}

void pp_pps_format(const struct pp_pps *pps, char out[PP_PPS_TEXT])
{
	key_format(pps->s, PP_PPS_LEN, out);
}

bool pp_pid_valid(const struct pp_pid *pid)
{
	for (size_t i = 0; i < PP_PID_LEN; i++)
		if (!is_symbol(pid->s[i]))
			return false;
	return pid->s[PP_PID_LEN] == '\0' &&
	       pid->s[PP_PID_LEN - 1] == pp_key_checksum(pid->s, PP_PID_LEN - 1);
}

bool pp_pps_valid(const struct pp_pps *pps)
{
	bool ok = pps->s[PP_PPS_LEN] == '\0';
	for (size_t i = 0; i < PP_PPS_LEN; i++)
		ok &= is_symbol(pps->s[i]);
	for (size_t g = 0; g < PP_PPS_LEN; g += PP_KEY_GROUP)
		ok &= pps->s[g + PP_KEY_GROUP - 1] == pp_key_checksum(pps->s + g, PP_KEY_GROUP - 1);
	return ok;
}

void pp_pid_from_symbols(const char sym[PP_PID_FREE], struct pp_pid *out)
{
	memcpy(out->s, sym, PP_PID_FREE);
	out->s[PP_PID_LEN - 1] = pp_key_checksum(sym, PP_PID_FREE);
	out->s[PP_PID_LEN] = '\0';
}

void pp_pid_from_code(uint64_t code, struct pp_pid *out)
{
	char sym[PP_PID_FREE];
	code %= PP_PID_CODES;
	for (int i = PP_PID_FREE - 1; i >= 0; i--) {
		sym[i] = pp_key_symbols[code % PP_KEY_ALPHABET];
		code /= PP_KEY_ALPHABET;
	}
	pp_pid_from_symbols(sym, out);
}

void pp_pps_from_symbols(const char sym[PP_PPS_FREE], struct pp_pps *out)
{
	for (size_t g = 0; g < PP_PPS_LEN / PP_KEY_GROUP; g++) {
		char *grp = out->s + g * PP_KEY_GROUP;
		memcpy(grp, sym + g * (PP_KEY_GROUP - 1), PP_KEY_GROUP - 1);
		grp[PP_KEY_GROUP - 1] = pp_key_checksum(grp, PP_KEY_GROUP - 1);
	}
	out->s[PP_PPS_LEN] = '\0';
}

int pp_key_check(const char *text, enum pp_key_kind *kind, struct pp_err *err)
{
	if (!text)
		return pp_err_set(err, PP_EINVAL, "key: no text");
	size_t syms = 0;
	for (size_t i = 0; text[i]; i++) {
		if (i == PP_KEY_TEXT_MAX)
			return pp_err_set(err, PP_EINVAL,
					  "key: more than %d characters, expected %d (PID) or %d "
					  "(PPS) symbols",
					  PP_KEY_TEXT_MAX, PP_PID_LEN, PP_PPS_LEN);
		if (text[i] == '-')
			continue;
		if (!is_symbol(upper(text[i])))
			return pp_err_set(err, PP_EINVAL, "key: character %zu is not 0-9 or A-Z%s",
					  i + 1, is_space(text[i]) ? " (whitespace)" : "");
		syms++;
	}
	int rc;
	if (syms == PP_PID_LEN) {
		struct pp_pid pid;
		rc = pp_pid_parse(text, &pid, err);
		if (rc == 0 && kind)
			*kind = PP_KEY_KIND_PID;
	} else if (syms == PP_PPS_LEN) {
		struct pp_pps pps;
		rc = pp_pps_parse(text, &pps, err);
		pp_wipe(&pps, sizeof(pps));
		if (rc == 0 && kind)
			*kind = PP_KEY_KIND_PPS;
	} else {
		rc = pp_err_set(err, PP_EINVAL, "key: %zu symbols, expected %d (PID) or %d (PPS)",
				syms, PP_PID_LEN, PP_PPS_LEN);
	}
	return rc;
}

const char *pp_pid_text(const char *text, char out[PP_PID_TEXT])
{
	struct pp_pid pid;
	if (pp_pid_parse(text, &pid, NULL) == 0)
		pp_pid_format(&pid, out);
	else
		snprintf(out, PP_PID_TEXT, "%s", text[0] ? text : "-");
	return out;
}
