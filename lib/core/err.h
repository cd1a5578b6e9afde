/* Error reporting for libpskprov: one convention everywhere.
 *
 * A fallible function returns 0 on success or a negative pp_status on failure, and
 * fills an optional struct pp_err with a one-line message that names what was wrong.
 * Libraries never log and never exit; the program prints err.msg once. */
#ifndef PSKPROV_CORE_ERR_H
#define PSKPROV_CORE_ERR_H

#include <stddef.h>

#define PP_WUR __attribute__((warn_unused_result))
#define PP_PRINTF(a, b) __attribute__((format(printf, a, b)))

enum pp_status {
	PP_OK = 0,
	PP_EINVAL,    /* malformed input */
	PP_ETRUNC,    /* input ended early */
	PP_ETOOBIG,   /* over a size cap, or trailing bytes */
	PP_ECHECKSUM, /* checksum symbol wrong */
	PP_EVERSION,  /* unknown or unsupported version */
	PP_EIO,       /* file or socket error */
	PP_ENOMEM,
	PP_ENOTFOUND,
	PP_EEXIST,
	PP_ECRYPTO, /* crypto failure, including failed authentication */
	PP_ESTORE,  /* database error */
	PP_EPERM,   /* permissions (file modes, tokens, passwords) */
	PP_ESTATE,  /* operation not valid in the current state */
	PP_EPROTO,  /* peer broke the protocol */
	PP_ETIMEOUT,
	PP_EBUSY,
	PP_STATUS_MAX
};

struct pp_err {
	int code; /* enum pp_status, positive */
	char msg[256];
};

/* Sets err (if not NULL) and returns -code, so callers can `return pp_err_set(...)`.
 * The message is always one line: control characters in it (from quoted input)
 * become spaces. pp_err_prefix keeps that. */
int pp_err_set(struct pp_err *err, int code, const char *fmt, ...) PP_PRINTF(3, 4);

/* Puts "prefix: " before the current message; returns -err->code (or -PP_EINVAL). */
int pp_err_prefix(struct pp_err *err, const char *fmt, ...) PP_PRINTF(2, 3);

void pp_err_clear(struct pp_err *err);

/* When rc < 0, makes err's message one printable ASCII line (control characters become
 * spaces, other bytes '?'), for messages that quote peer text; returns rc. */
int pp_err_one_line(struct pp_err *err, int rc);

/* Short stable name of a status ("invalid input", ...). */
const char *pp_status_str(int code);

#endif
