#include "core/err.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

/* Every message is one line: a control character that came in with quoted input
 * (a newline, an escape) becomes a space. */
static void flatten(char *m)
{
	for (; *m; m++)
		if ((unsigned char)*m < 0x20 || *m == 0x7f)
			*m = ' ';
}

int pp_err_set(struct pp_err *err, int code, const char *fmt, ...)
{
	if (code <= 0 || code >= PP_STATUS_MAX)
		code = PP_EINVAL;
	if (err) {
		va_list ap;
		err->code = code;
		va_start(ap, fmt);
		vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
		va_end(ap);
		flatten(err->msg);
	}
	return -code;
}

int pp_err_prefix(struct pp_err *err, const char *fmt, ...)
{
	if (!err)
		return -PP_EINVAL;
	char prefix[128];
	char old[sizeof(err->msg)];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(prefix, sizeof(prefix), fmt, ap);
	va_end(ap);
	memcpy(old, err->msg, sizeof(old));
	old[sizeof(old) - 1] = '\0';
	/* Truncation is acceptable: the message stays one line and NUL-terminated. */
	size_t pl = strnlen(prefix, sizeof(prefix) - 1);
	size_t ol = strnlen(old, sizeof(old) - 1);
	size_t cap = sizeof(err->msg) - 1, n = 0;
	for (size_t i = 0; i < pl && n < cap; i++)
		err->msg[n++] = prefix[i];
	for (size_t i = 0; i < 2 && n < cap; i++)
		err->msg[n++] = ": "[i];
	for (size_t i = 0; i < ol && n < cap; i++)
		err->msg[n++] = old[i];
	err->msg[n] = '\0';
	flatten(err->msg);
	if (err->code <= 0 || err->code >= PP_STATUS_MAX)
		err->code = PP_EINVAL;
	return -err->code;
}

void pp_err_clear(struct pp_err *err)
{
	if (err) {
		err->code = 0;
		err->msg[0] = '\0';
	}
}

const char *pp_status_str(int code)
{
	static const char *const names[PP_STATUS_MAX] = {
	    [PP_OK] = "ok",
	    [PP_EINVAL] = "invalid input",
	    [PP_ETRUNC] = "truncated input",
	    [PP_ETOOBIG] = "too large",
	    [PP_ECHECKSUM] = "bad checksum",
	    [PP_EVERSION] = "unsupported version",
	    [PP_EIO] = "I/O error",
	    [PP_ENOMEM] = "out of memory",
	    [PP_ENOTFOUND] = "not found",
	    [PP_EEXIST] = "already exists",
	    [PP_ECRYPTO] = "cryptographic failure",
	    [PP_ESTORE] = "store error",
	    [PP_EPERM] = "permission denied",
	    [PP_ESTATE] = "wrong state",
	    [PP_EPROTO] = "protocol error",
	    [PP_ETIMEOUT] = "timed out",
	    [PP_EBUSY] = "busy",
	};
	if (code < 0)
		code = -code;
	if (code >= PP_STATUS_MAX)
		return "unknown error";
	return names[code];
}

int pp_err_one_line(struct pp_err *err, int rc)
{
	if (rc < 0 && err) {
		for (char *p = err->msg; *p; p++) {
			unsigned char c = (unsigned char)*p;
			if (c < 0x20 || c >= 0x7F)
				*p = c < 0x20 ? ' ' : '?';
		}
	}
	return rc;
}
