/* The device's answers as text, the bytes of soap.c's tree builders (see reply.h). */
#include "wsman/reply.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "core/parse.h"
#include "core/secret.h"

/* ---- the checks soap.c's builders make on what is sent (same rules, same words) ---- */

static int uri_check(const char *s, const char *what, struct pp_err *err)
{
	if (!s || !*s)
		return pp_err_set(err, PP_EINVAL, "%s is empty", what);
	size_t n = strlen(s);
	if (n > PP_WSMAN_URI_MAX)
		return pp_err_set(err, PP_ETOOBIG, "%s is longer than %d bytes", what,
				  PP_WSMAN_URI_MAX);
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c <= 0x20 || c >= 0x7F)
			return pp_err_set(err, PP_EINVAL,
					  "%s has a character (0x%02x) not allowed in a URI", what,
					  c);
	}
	return 0;
}

static int props_check(const struct pp_wsman_props *p, const char *what, struct pp_err *err)
{
	if (!p)
		return 0;
	if (p->count > PP_WSMAN_PROPS_MAX)
		return pp_err_set(err, PP_ETOOBIG, "%s: more than %d entries", what,
				  PP_WSMAN_PROPS_MAX);
	for (size_t i = 0; i < p->count; i++) {
		const struct pp_wsman_prop *it = &p->item[i];
		if (!memchr(it->name, '\0', sizeof(it->name)) || !pp_wsman_name_valid(it->name))
			return pp_err_set(err, PP_EINVAL, "%s: entry %zu has an invalid name", what,
					  i);
		const char *end = memchr(it->value, '\0', sizeof(it->value));
		if (!end || !pp_wsman_text_valid(it->value, (size_t)(end - it->value)))
			return pp_err_set(err, PP_EINVAL,
					  "%s: '%s' is not UTF-8 text that XML can carry", what,
					  it->name);
	}
	return 0;
}

static int context_check(const char *ctx, struct pp_err *err)
{
	if (!ctx || !*ctx)
		return pp_err_set(err, PP_EINVAL, "wsen:EnumerationContext is empty");
	size_t n = strlen(ctx);
	if (n > PP_WSMAN_CONTEXT_MAX)
		return pp_err_set(err, PP_ETOOBIG,
				  "wsen:EnumerationContext is longer than %d bytes",
				  PP_WSMAN_CONTEXT_MAX);
	for (size_t i = 0; i < n; i++) {
		if ((unsigned char)ctx[i] < 0x20 || (unsigned char)ctx[i] >= 0x7F)
			return pp_err_set(err, PP_EINVAL,
					  "wsen:EnumerationContext has a character that is not "
					  "printable ASCII");
	}
	return 0;
}

static int request_ids_check(const struct pp_wsman_request *req, struct pp_err *err)
{
	const char *id_end = memchr(req->message_id, '\0', sizeof(req->message_id));
	const char *uri_end = memchr(req->resource_uri, '\0', sizeof(req->resource_uri));
	if (!id_end || !req->message_id[0] ||
	    !pp_wsman_text_valid(req->message_id, (size_t)(id_end - req->message_id)))
		return pp_err_set(err, PP_EINVAL, "request has no usable wsa:MessageID");
	if (!uri_end || !memchr(req->action, '\0', sizeof(req->action)))
		return pp_err_set(err, PP_EINVAL, "request is not terminated");
	return uri_check(req->resource_uri, "wsman:ResourceURI", err);
}

/* The class name of the ResourceURI as an element name, as soap.c's body_name_for. */
static int class_element(const char *resource_uri, char out[PP_WSMAN_NAME_MAX + 1],
			 struct pp_err *err)
{
	int n = snprintf(out, PP_WSMAN_NAME_MAX + 1, "%s", pp_wsman_class_name(resource_uri));
	if (n < 0 || n > PP_WSMAN_NAME_MAX || !pp_wsman_name_valid(out)) {
		out[0] = '\0';
		return pp_err_set(err, PP_EINVAL,
				  "body element for %.64s is not a valid name of at most %d bytes",
				  "the ResourceURI", PP_WSMAN_NAME_MAX);
	}
	return 0;
}

/* ---- writing: the first failure sticks ---- */

struct w {
	struct pp_buf *out;
	int rc;
};

static void put_n(struct w *w, const char *s, size_t n)
{
	if (w->rc == 0)
		w->rc = pp_buf_append(w->out, s, n);
}

static void put(struct w *w, const char *s)
{
	put_n(w, s, strlen(s));
}

/* Text content as libxml2 writes it in UTF-8: <, >, & and CR escaped, all else as is. */
static void put_text(struct w *w, const char *s)
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
		put_n(w, run, (size_t)(s - run));
		put(w, esc);
		run = s + 1;
	}
	put_n(w, run, (size_t)(s - run));
}

/* A namespace URI as libxml2 quotes it (xmlBufWriteQuotedString): in double quotes; in
 * single quotes when it holds a double quote; with &quot; when it holds both. */
static void put_href(struct w *w, const char *s)
{
	if (!strchr(s, '"')) {
		put(w, "\"");
		put(w, s);
		put(w, "\"");
	} else if (!strchr(s, '\'')) {
		put(w, "'");
		put(w, s);
		put(w, "'");
	} else {
		put(w, "\"");
		for (const char *p = s; *p; p++)
			put(w, *p == '"' ? "&quot;" : (char[2]){*p, '\0'});
		put(w, "\"");
	}
}

/* <qname>text</qname> */
static void put_el(struct w *w, const char *prefix, const char *local, const char *text)
{
	put(w, "<");
	put(w, prefix);
	put(w, local);
	put(w, ">");
	put_text(w, text);
	put(w, "</");
	put(w, prefix);
	put(w, local);
	put(w, ">");
}

/* <g:name xmlns:g="uri"> (open) or <g:name xmlns:g="uri"/> (empty). */
static void put_g_open(struct w *w, const char *name, const char *uri, bool empty)
{
	put(w, "<g:");
	put(w, name);
	put(w, " xmlns:g=");
	put_href(w, uri);
	put(w, empty ? "/>" : ">");
}

static void put_g_close(struct w *w, const char *name)
{
	put(w, "</g:");
	put(w, name);
	put(w, ">");
}

static void put_props(struct w *w, const struct pp_wsman_props *p)
{
	for (size_t i = 0; p && i < p->count; i++)
		put_el(w, "g:", p->item[i].name, p->item[i].value);
}

/* Room for a usual answer (1 to 4 KB) at once: the pieces then go in without the buffer
 * growing (and being copied and wiped) step by step from 64 bytes. */
#define REPLY_ROOM 4096

static void put_room(struct w *w)
{
	if (w->out->cap < REPLY_ROOM && w->out->max >= REPLY_ROOM)
		w->rc = pp_buf_reserve(w->out, REPLY_ROOM - 1);
}

/* The declaration, the envelope's start and the whole header (soap.c reply_envelope). */
static int put_head(struct w *w, const struct pp_wsman_request *req, const char *action, bool wsen,
		    struct pp_err *err)
{
	uint8_t u[16];
	char id[37];
	if (pp_random(u, sizeof(u)) < 0)
		return pp_err_set(err, PP_ECRYPTO, "no random bytes for wsa:MessageID");
	u[6] = (uint8_t)((u[6] & 0x0F) | 0x40); /* RFC 4122 version 4 */
	u[8] = (uint8_t)((u[8] & 0x3F) | 0x80);
	pp_uuid_format(u, id);
	put(w, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<s:Envelope xmlns:s=\"" PP_WSMAN_NS_SOAP
	       "\" xmlns:wsa=\"" PP_WSMAN_NS_WSA "\" xmlns:wsman=\"" PP_WSMAN_NS_WSMAN "\"");
	if (wsen)
		put(w, " xmlns:wsen=\"" PP_WSMAN_NS_WSEN "\"");
	put(w, "><s:Header>");
	put_el(w, "wsa:", "To", PP_WSMAN_ANONYMOUS);
	put_el(w, "wsa:", "RelatesTo", req->message_id); /* request_ids_check: not empty */
	put_el(w, "wsa:", "Action", action);
	put(w, "<wsa:MessageID>uuid:");
	put(w, id);
	put(w, "</wsa:MessageID>");
	put_el(w, "wsman:", "ResourceURI", req->resource_uri);
	put(w, "</s:Header>");
	return 0;
}

/* The envelope's end, the size check of pp_wsxml_serialize, the NUL. */
static int put_tail(struct w *w, struct pp_err *err)
{
	put(w, "</s:Envelope>\n");
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

/* soap.c build_reply. */
static int reply(const struct pp_wsman_request *req, const char *body_name,
		 const uint32_t *return_value, const struct pp_wsman_props *props,
		 struct pp_buf *out, struct pp_err *err)
{
	char action[PP_WSMAN_URI_MAX + 16];
	struct w w = {out, 0};
	int rc, n;

	if ((rc = request_ids_check(req, err)) < 0 || (rc = props_check(props, "body", err)) < 0)
		return rc;
	if (body_name && !pp_wsman_name_valid(body_name))
		return pp_err_set(err, PP_EINVAL, "body element name '%.64s' is not valid",
				  body_name);
	n = snprintf(action, sizeof(action), "%sResponse", req->action);
	if (n < 0 || (size_t)n >= sizeof(action) || !req->action[0])
		return pp_err_set(err, PP_EINVAL, "request wsa:Action is empty or too long");
	pp_buf_reset(out);
	put_room(&w);
	if ((rc = put_head(&w, req, action, false, err)) < 0)
		return rc;
	if (!body_name) {
		put(&w, "<s:Body/>");
		return put_tail(&w, err);
	}
	bool empty = !return_value && (!props || props->count == 0);
	put(&w, "<s:Body>");
	put_g_open(&w, body_name, req->resource_uri, empty);
	if (return_value) {
		char num[16];
		snprintf(num, sizeof(num), "%u", (unsigned)*return_value);
		put_el(&w, "g:", "ReturnValue", num);
	}
	put_props(&w, props);
	if (!empty)
		put_g_close(&w, body_name);
	put(&w, "</s:Body>");
	return put_tail(&w, err);
}

int pp_wsman_reply_response(const struct pp_wsman_request *req, const char *body_name,
			    const struct pp_wsman_props *props, struct pp_buf *out,
			    struct pp_err *err)
{
	return reply(req, body_name, NULL, props, out, err);
}

int pp_wsman_reply_output(const struct pp_wsman_request *req, uint32_t return_value,
			  const struct pp_wsman_props *outputs, struct pp_buf *out,
			  struct pp_err *err)
{
	char name[PP_WSMAN_NAME_MAX + 1];
	if (req->op != PP_WSMAN_OP_INVOKE || !pp_wsman_name_valid(req->method))
		return pp_err_set(err, PP_EINVAL,
				  "method output for a request that is not a method");
	int n = snprintf(name, sizeof(name), "%s_OUTPUT", req->method);
	if (n < 0 || n > PP_WSMAN_NAME_MAX || !pp_wsman_name_valid(name))
		return pp_err_set(err, PP_EINVAL,
				  "body element for %.64s is not a valid name of at most %d bytes",
				  req->method, PP_WSMAN_NAME_MAX);
	if (outputs && pp_wsman_props_get(outputs, "ReturnValue"))
		return pp_err_set(err, PP_EINVAL,
				  "ReturnValue is given separately, not in outputs");
	return reply(req, name, &return_value, outputs, out, err);
}

int pp_wsman_reply_release(const struct pp_wsman_request *req, struct pp_buf *out,
			   struct pp_err *err)
{
	if (req->op != PP_WSMAN_OP_RELEASE)
		return pp_err_set(err, PP_EINVAL,
				  "ReleaseResponse to a request that is not Release");
	return reply(req, NULL, NULL, NULL, out, err);
}

/* n instances <g:Class xmlns:g="ResourceURI"> (soap.c add_items). */
static int put_items(struct w *w, const struct pp_wsman_request *req,
		     const struct pp_wsman_props *items, size_t n, struct pp_err *err)
{
	char name[PP_WSMAN_NAME_MAX + 1];
	int rc = class_element(req->resource_uri, name, err);
	for (size_t i = 0; rc == 0 && i < n; i++) {
		bool empty = items[i].count == 0;
		put_g_open(w, name, req->resource_uri, empty);
		put_props(w, &items[i]);
		if (!empty)
			put_g_close(w, name);
	}
	return rc;
}

/* soap.c pp_wsman_enum_response_build's checks. */
static int enum_check(const struct pp_wsman_request *req, const char *context,
		      const struct pp_wsman_props *items, size_t n, struct pp_err *err)
{
	bool pull = req->op == PP_WSMAN_OP_PULL;
	int rc;
	if (req->op != PP_WSMAN_OP_ENUMERATE && !pull)
		return pp_err_set(err, PP_EINVAL,
				  "enumeration response to a request that is not "
				  "Enumerate or Pull");
	if (!pull && !req->optimize && n)
		return pp_err_set(err, PP_EINVAL, "items in a non-optimized EnumerateResponse");
	if ((context || !pull) && (rc = context_check(context, err)) < 0)
		return rc;
	if ((rc = request_ids_check(req, err)) < 0)
		return rc;
	for (size_t i = 0; i < n; i++) {
		if ((rc = props_check(&items[i], "item", err)) < 0)
			return rc;
	}
	return 0;
}

int pp_wsman_reply_enum(const struct pp_wsman_request *req, const char *context,
			const struct pp_wsman_props *items, size_t n, bool end, struct pp_buf *out,
			struct pp_err *err)
{
	bool pull = req->op == PP_WSMAN_OP_PULL;
	struct w w = {out, 0};
	int rc;
	if ((rc = enum_check(req, context, items, n, err)) < 0)
		return rc;
	const char *action =
	    pull ? PP_WSMAN_ACTION_PULL "Response" : PP_WSMAN_ACTION_ENUMERATE "Response";
	const char *el = pull ? "PullResponse" : "EnumerateResponse";
	const char *pfx = pull ? "wsen:" : "wsman:"; /* of Items and EndOfSequence */
	bool list = pull || req->optimize;
	pp_buf_reset(out);
	put_room(&w);
	if ((rc = put_head(&w, req, action, true, err)) < 0)
		return rc;
	put(&w, "<s:Body><wsen:");
	put(&w, el);
	put(&w, context || list ? ">" : "/>");
	if (context)
		put_el(&w, "wsen:", "EnumerationContext", context);
	if (list) {
		put(&w, "<");
		put(&w, pfx);
		put(&w, n ? "Items>" : "Items/>");
		if ((rc = put_items(&w, req, items, n, err)) < 0)
			return rc;
		if (n) {
			put(&w, "</");
			put(&w, pfx);
			put(&w, "Items>");
		}
		if (end) {
			put(&w, "<");
			put(&w, pfx);
			put(&w, "EndOfSequence/>");
		}
	}
	if (context || list) {
		put(&w, "</wsen:");
		put(&w, el);
		put(&w, ">");
	}
	put(&w, "</s:Body>");
	return put_tail(&w, err);
}
