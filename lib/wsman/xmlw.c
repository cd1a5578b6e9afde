/* SOAP envelopes written as text (xmlw.h). */
#include "wsman/xmlw.h"

#include <string.h>

#include "wsman/soap.h"

void pp_xmlw_begin(struct pp_xmlw *w, struct pp_buf *out, size_t room)
{
	w->out = out;
	w->rc = 0;
	pp_buf_reset(out);
	if (room && out->cap < room && out->max >= room)
		w->rc = pp_buf_reserve(out, room - 1);
}

void pp_xmlw_put_n(struct pp_xmlw *w, const char *s, size_t n)
{
	if (w->rc == 0)
		w->rc = pp_buf_append(w->out, s, n);
}

void pp_xmlw_put(struct pp_xmlw *w, const char *s)
{
	pp_xmlw_put_n(w, s, strlen(s));
}

/* As libxml2 writes text in UTF-8: <, >, & and CR escaped, all else as is. */
void pp_xmlw_text(struct pp_xmlw *w, const char *s)
{
	const char *run = s;
	for (; *s; s++) {
		const char *esc = *s == '<'    ? "&lt;"
				  : *s == '>'  ? "&gt;"
				  : *s == '&'  ? "&amp;"
				  : *s == '\r' ? "&#13;"
					       : NULL;
		if (!esc)
			continue;
		pp_xmlw_put_n(w, run, (size_t)(s - run));
		pp_xmlw_put(w, esc);
		run = s + 1;
	}
	pp_xmlw_put_n(w, run, (size_t)(s - run));
}

/* As libxml2 quotes a namespace URI (xmlBufWriteQuotedString): in double quotes; in
 * single quotes when it holds a double quote; with &quot; when it holds both. */
void pp_xmlw_href(struct pp_xmlw *w, const char *s)
{
	if (!strchr(s, '"')) {
		pp_xmlw_put(w, "\"");
		pp_xmlw_put(w, s);
		pp_xmlw_put(w, "\"");
	} else if (!strchr(s, '\'')) {
		pp_xmlw_put(w, "'");
		pp_xmlw_put(w, s);
		pp_xmlw_put(w, "'");
	} else {
		pp_xmlw_put(w, "\"");
		for (const char *p = s; *p; p++)
			pp_xmlw_put(w, *p == '"' ? "&quot;" : (char[2]){*p, '\0'});
		pp_xmlw_put(w, "\"");
	}
}

void pp_xmlw_envelope_start(struct pp_xmlw *w, bool wsen)
{
	pp_xmlw_put(
	    w, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<s:Envelope xmlns:s=\"" PP_WSMAN_NS_SOAP
	       "\" xmlns:wsa=\"" PP_WSMAN_NS_WSA "\" xmlns:wsman=\"" PP_WSMAN_NS_WSMAN "\"");
	if (wsen)
		pp_xmlw_put(w, " xmlns:wsen=\"" PP_WSMAN_NS_WSEN "\"");
	pp_xmlw_put(w, "><s:Header>");
}

void pp_xmlw_el(struct pp_xmlw *w, const char *prefix, const char *local, const char *text)
{
	pp_xmlw_put(w, "<");
	pp_xmlw_put(w, prefix);
	pp_xmlw_put(w, local);
	pp_xmlw_put(w, ">");
	pp_xmlw_text(w, text);
	pp_xmlw_put(w, "</");
	pp_xmlw_put(w, prefix);
	pp_xmlw_put(w, local);
	pp_xmlw_put(w, ">");
}

void pp_xmlw_ns_open(struct pp_xmlw *w, const char *prefix, const char *name, const char *uri,
		     bool empty)
{
	pp_xmlw_put(w, "<");
	pp_xmlw_put(w, prefix);
	pp_xmlw_put(w, ":");
	pp_xmlw_put(w, name);
	pp_xmlw_put(w, " xmlns:");
	pp_xmlw_put(w, prefix);
	pp_xmlw_put(w, "=");
	pp_xmlw_href(w, uri);
	pp_xmlw_put(w, empty ? "/>" : ">");
}

void pp_xmlw_ns_close(struct pp_xmlw *w, const char *prefix, const char *name)
{
	pp_xmlw_put(w, "</");
	pp_xmlw_put(w, prefix);
	pp_xmlw_put(w, ":");
	pp_xmlw_put(w, name);
	pp_xmlw_put(w, ">");
}

void pp_xmlw_props(struct pp_xmlw *w, const char *prefix, const struct pp_wsman_props *p)
{
	for (size_t i = 0; p && i < p->count; i++) {
		pp_xmlw_put(w, "<");
		pp_xmlw_put(w, prefix);
		pp_xmlw_put(w, ":");
		pp_xmlw_put(w, p->item[i].name);
		pp_xmlw_put(w, ">");
		pp_xmlw_text(w, p->item[i].value);
		pp_xmlw_put(w, "</");
		pp_xmlw_put(w, prefix);
		pp_xmlw_put(w, ":");
		pp_xmlw_put(w, p->item[i].name);
		pp_xmlw_put(w, ">");
	}
}

int pp_xmlw_end(struct pp_xmlw *w, struct pp_err *err)
{
	pp_xmlw_put(w, "</s:Envelope>\n");
	if (w->rc < 0)
		return pp_err_set(err, -w->rc, "SOAP envelope does not fit the output buffer");
	if (w->out->len > PP_WSMAN_DOC_MAX)
		return pp_err_set(err, PP_ETOOBIG,
				  "SOAP envelope of %zu bytes is over the %d-byte cap", w->out->len,
				  PP_WSMAN_DOC_MAX);
	if (pp_buf_cstr(w->out) < 0)
		return pp_err_set(err, PP_ETOOBIG, "SOAP envelope does not fit the output buffer");
	return 0;
}
