/* Server-Sent Events framing (the WHATWG HTML "Server-sent events" event stream
 * format), writing only: an event is `event: NAME`, one `data: ` line per line of the
 * payload, then an empty line. Every CR, LF and CRLF in the payload starts a new data
 * line, so a payload cannot end its event early or inject a field or another event. */
#ifndef PSKPROV_CORE_SSE_H
#define PSKPROV_CORE_SSE_H

#include <stddef.h>

#include "core/bytes.h"
#include "core/err.h"

/* Appends one event to b. name: 1..32 characters of [a-z0-9_-] (-PP_EINVAL otherwise);
 * data: len bytes, no NUL (-PP_EINVAL). -PP_ETOOBIG past b's ceiling (b then holds what
 * it held before). */
int pp_sse_event(struct pp_buf *b, const char *name, const char *data, size_t len) PP_WUR;
/* Appends a comment line (`: text`), which a reader ignores: a keep-alive. text: printable
 * ASCII, no CR or LF (-PP_EINVAL). */
int pp_sse_comment(struct pp_buf *b, const char *text) PP_WUR;

#endif
