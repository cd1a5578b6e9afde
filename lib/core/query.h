/* The HTTP API's query strings and page cursors (docs/api.md).
 *
 * A query string ("state=failed&q=amt%2D01") is split into at most PP_QUERY_MAX
 * parameters, each name one of the route's, given once, its value percent-decoded ('+'
 * is a space) to at most PP_QUERY_VALUE_MAX printable ASCII characters. Whatever is
 * wrong is an error naming the parameter (never echoing more than a bounded, cleaned
 * part of its value).
 *
 * A cursor is opaque to the client: lower-case hex of a versioned record binding the
 * listing's sort, order and filters (a digest of them) to where the previous page
 * ended. Decoding reads it through a bounded reader; a cursor used with other filters
 * or another sort is refused. */
#ifndef PSKPROV_CORE_QUERY_H
#define PSKPROV_CORE_QUERY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/err.h"

#define PP_QUERY_MAX 16
#define PP_QUERY_NAME_MAX 31
#define PP_QUERY_VALUE_MAX 256
#define PP_QUERY_TEXT_MAX 4096 /* the whole query string */

struct pp_query {
	size_t n;
	struct {
		char name[PP_QUERY_NAME_MAX + 1];
		char value[PP_QUERY_VALUE_MAX + 1];
	} p[PP_QUERY_MAX];
};

/* Parses text (NULL or "": no parameters) into q. Every name must be in allowed (a
 * NULL-terminated list). Errors are -PP_EINVAL with field (cap >= PP_QUERY_NAME_MAX + 1)
 * set to the parameter at fault ("" when none can be named): an unknown parameter, one
 * given twice, an empty name, a bad %-escape, a value that is not printable ASCII, too
 * long a name, value or string, too many parameters. */
int pp_query_parse(const char *text, const char *const *allowed, struct pp_query *q, char *field,
		   size_t cap, struct pp_err *err) PP_WUR;
/* The value of name, or NULL when it was not given. */
const char *pp_query_get(const struct pp_query *q, const char *name);

/* Parameter values, each -PP_EINVAL naming the parameter and what it takes. */
/* A decimal integer lo..hi (no sign, no leading zeros but "0"). */
int pp_query_u64(const char *v, uint64_t lo, uint64_t hi, uint64_t *out, const char *name,
		 struct pp_err *err) PP_WUR;
/* "true" or "false". */
int pp_query_bool(const char *v, bool *out, const char *name, struct pp_err *err) PP_WUR;
/* One of names (NULL-terminated): its index. */
int pp_query_enum(const char *v, const char *const *names, int *out, const char *name,
		  struct pp_err *err) PP_WUR;

/* ---- cursors ---- */

#define PP_CURSOR_TEXT_MAX 64
#define PP_CURSOR_HEX_MAX (2 * (1 + 1 + 1 + 8 + 8 + 8 + 1 + PP_CURSOR_TEXT_MAX))

struct pp_cursor {
	uint8_t kind;                      /* which listing: the caller's own numbers */
	uint8_t sort;                      /* its sort column */
	bool desc;                         /* descending */
	uint64_t filter;                   /* pp_query_digest of the filters */
	int64_t id;                        /* the last row's id (the tie-break) */
	int64_t num;                       /* its sort key when a number */
	char text[PP_CURSOR_TEXT_MAX + 1]; /* its sort key when text */
};

/* FNV-1a 64 over the strings (NULL counts as absent, distinct from ""), in order. */
uint64_t pp_query_digest(const char *const *values, size_t n);
/* out: cap >= PP_CURSOR_HEX_MAX + 1. -PP_EINVAL when text is too long. */
int pp_cursor_encode(const struct pp_cursor *c, char *out, size_t cap) PP_WUR;
/* Decodes text; -PP_EINVAL "cursor is not one this server made" when malformed, and
 * "cursor belongs to another listing, sort or filter" when kind, sort, desc or filter
 * differ from want's. */
int pp_cursor_decode(const char *text, const struct pp_cursor *want, struct pp_cursor *out,
		     struct pp_err *err) PP_WUR;

#endif
