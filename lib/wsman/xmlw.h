/* SOAP envelopes written straight as text, in the form libxml2's serializer gives them
 * (xmlDocDumpMemoryEnc, UTF-8): the XML declaration and a newline, the envelope on one
 * line, an element without children as <a/>, an element with text, even empty, as
 * <a>text</a>, text with <, >, & and CR escaped, a namespace URI in double quotes (in
 * single ones when it holds a double quote), and a final newline. No tree: no allocation
 * per element, no serializer. Used by the request builders (soap.c) and the device's
 * answers (reply.c); tests/unit/test_wsman_soap.c and test_wsman_reply.c hold the bytes.
 *
 * The first failure sticks in w->rc; pp_xmlw_end reports it. */
#ifndef PSKPROV_WSMAN_XMLW_H
#define PSKPROV_WSMAN_XMLW_H

#include <stdbool.h>
#include <stddef.h>

#include "core/bytes.h"
#include "core/err.h"
#include "wsman/props.h"

struct pp_xmlw {
	struct pp_buf *out;
	int rc;
};

/* Resets out and makes room for `room` bytes at once (a usual envelope is 1 to 4 KiB),
 * so the pieces go in without the buffer growing (and being copied and wiped) step by
 * step; 0 keeps what out has. A buffer reused for every message (the emulator's) wants
 * the room; one kept for each of thousands of sessions (the server's) wants no more than
 * it uses. */
void pp_xmlw_begin(struct pp_xmlw *w, struct pp_buf *out, size_t room);
void pp_xmlw_put_n(struct pp_xmlw *w, const char *s, size_t n);
void pp_xmlw_put(struct pp_xmlw *w, const char *s);
/* Text content, escaped. */
void pp_xmlw_text(struct pp_xmlw *w, const char *s);
/* A namespace URI, quoted. */
void pp_xmlw_href(struct pp_xmlw *w, const char *s);
/* The XML declaration, <s:Envelope> with the namespaces s, wsa, wsman (and wsen), and
 * <s:Header>. */
void pp_xmlw_envelope_start(struct pp_xmlw *w, bool wsen);
/* <prefix local>text</prefix local>; prefix with its colon ("wsa:"). */
void pp_xmlw_el(struct pp_xmlw *w, const char *prefix, const char *local, const char *text);
/* <P:name xmlns:P="uri"> (or .../> when empty), and its end tag; P is `prefix` without
 * the colon ("g", "h"). */
void pp_xmlw_ns_open(struct pp_xmlw *w, const char *prefix, const char *name, const char *uri,
		     bool empty);
void pp_xmlw_ns_close(struct pp_xmlw *w, const char *prefix, const char *name);
/* <P:name>value</P:name> for each property. */
void pp_xmlw_props(struct pp_xmlw *w, const char *prefix, const struct pp_wsman_props *p);
/* "</s:Envelope>\n", then the checks of a finished envelope: what failed, the size cap
 * (PP_WSMAN_DOC_MAX), a NUL after the text. */
int pp_xmlw_end(struct pp_xmlw *w, struct pp_err *err) PP_WUR;

#endif
