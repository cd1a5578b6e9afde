#include "wsman/soap.h"
#include "wsman/soap_impl.h"
#include "wsman/xmlw.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include <libxml/parser.h>
#include <libxml/tree.h>

#include "core/parse.h"
#include "core/secret.h"
#include "core/xmlsafe.h"
#include "wsman/wsxml.h"

#define X(s) ((const xmlChar *)(s))

void pp_wsman_init(void)
{
	xmlInitParser();
}

/* DSP0226 section 14 (fault definitions); reasons paraphrase its descriptions. */
struct fault_info {
	enum pp_wsman_fault fault;
	const char *ns;
	const char *local;
	const char *name; /* canonical QName text, prefix as declared on our envelopes */
	const char *code; /* env:Sender or env:Receiver */
	int http;
	const char *action;
	const char *reason;
};

/* One row a fault: the namespace decides the prefix and the fault action; the code and
 * HTTP status go together (a Sender fault is 400, a Receiver fault 500). */
#define FAULT(f, pfx, NS, local, sender, reason)                                                   \
	{                                                                                          \
		f, PP_WSMAN_NS_##NS, local, pfx ":" local, sender ? "s:Sender" : "s:Receiver",     \
		    sender ? 400 : 500, PP_WSMAN_ACTION_##NS##_FAULT, reason                       \
	}
#define SENDER true
#define RECEIVER false

static const struct fault_info fault_table[] = {
    FAULT(PP_WSMAN_FAULT_ACCESS_DENIED, "wsman", WSMAN, "AccessDenied", SENDER,
	  "The sender was not authorized to access the resource."),
    FAULT(PP_WSMAN_FAULT_ACTION_NOT_SUPPORTED, "wsa", WSA, "ActionNotSupported", SENDER,
	  "The action is not supported by the service."),
    FAULT(PP_WSMAN_FAULT_INVALID_PARAMETER, "wsman", WSMAN, "InvalidParameter", SENDER,
	  "An operation parameter is not valid."),
    FAULT(PP_WSMAN_FAULT_DESTINATION_UNREACHABLE, "wsa", WSA, "DestinationUnreachable", SENDER,
	  "No route can be determined to reach the destination role defined by the "
	  "WS-Addressing To."),
    FAULT(PP_WSMAN_FAULT_INVALID_HEADER, "wsa", WSA, "InvalidMessageInformationHeader", SENDER,
	  "A message information header is not valid and the message cannot be processed."),
    FAULT(PP_WSMAN_FAULT_ENCODING_LIMIT, "wsman", WSMAN, "EncodingLimit", SENDER,
	  "An internal encoding limit was exceeded in a request."),
    FAULT(PP_WSMAN_FAULT_SCHEMA_VALIDATION, "wsman", WSMAN, "SchemaValidationError", SENDER,
	  "The supplied SOAP violates the corresponding XML schema definition."),
    FAULT(PP_WSMAN_FAULT_INTERNAL_ERROR, "wsman", WSMAN, "InternalError", RECEIVER,
	  "The service cannot comply with the request due to internal processing errors."),
    FAULT(PP_WSMAN_FAULT_INVALID_SELECTORS, "wsman", WSMAN, "InvalidSelectors", SENDER,
	  "The Selectors for the resource are not valid."),
    FAULT(PP_WSMAN_FAULT_INVALID_ENUM_CONTEXT, "wsen", WSEN, "InvalidEnumerationContext", RECEIVER,
	  "The supplied enumeration context is invalid."),
};

static const struct fault_info *fault_find(enum pp_wsman_fault f)
{
	for (size_t i = 0; i < sizeof(fault_table) / sizeof(fault_table[0]); i++) {
		if (fault_table[i].fault == f)
			return &fault_table[i];
	}
	return NULL;
}

const char *pp_wsman_fault_name(enum pp_wsman_fault fault)
{
	const struct fault_info *fi = fault_find(fault);
	return fi ? fi->name : "";
}

int pp_wsman_fault_http_status(enum pp_wsman_fault fault)
{
	const struct fault_info *fi = fault_find(fault);
	return fi ? fi->http : 500;
}

const char *pp_wsman_class_name(const char *resource_uri)
{
	const char *slash = strrchr(resource_uri, '/');
	return slash ? slash + 1 : resource_uri;
}

/* ---- checks on what we are asked to send ---- */

int pp_wsman_check_uri(const char *s, const char *what, struct pp_err *err)
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

int pp_wsman_check_props(const struct pp_wsman_props *p, const char *what, struct pp_err *err)
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

int pp_wsman_new_message_id(char *out, size_t cap, struct pp_err *err)
{
	uint8_t u[16];
	char s[37];
	if (pp_random(u, sizeof(u)) < 0)
		return pp_err_set(err, PP_ECRYPTO, "no random bytes for wsa:MessageID");
	u[6] = (uint8_t)((u[6] & 0x0F) | 0x40); /* RFC 4122 version 4 */
	u[8] = (uint8_t)((u[8] & 0x3F) | 0x80);
	pp_uuid_format(u, s);
	snprintf(out, cap, "uuid:%s", s);
	return 0;
}

/* The body element of a message for (op, resource, method): the class name for Get and
 * Put, <method><suffix> for a method. Fails rather than truncate. */
static int body_name_for(enum pp_wsman_op op, const char *resource_uri, const char *method,
			 const char *suffix, char out[PP_WSMAN_NAME_MAX + 1], struct pp_err *err)
{
	int n;
	if (op == PP_WSMAN_OP_INVOKE)
		n = snprintf(out, PP_WSMAN_NAME_MAX + 1, "%s%s", method, suffix);
	else
		n = snprintf(out, PP_WSMAN_NAME_MAX + 1, "%s", pp_wsman_class_name(resource_uri));
	if (n < 0 || n > PP_WSMAN_NAME_MAX || !pp_wsman_name_valid(out)) {
		out[0] = '\0';
		return pp_err_set(err, PP_EINVAL,
				  "body element for %.64s is not a valid name of at most %d bytes",
				  op == PP_WSMAN_OP_INVOKE ? method : "the ResourceURI",
				  PP_WSMAN_NAME_MAX);
	}
	return 0;
}

/* ---- envelope building ---- */

struct env {
	xmlDoc *doc;
	xmlNode *root, *header, *body;
	xmlNs *s, *wsa, *wsman, *wsen; /* wsen: declared on demand (env_wsen) */
};

static int nomem(struct pp_err *err)
{
	return pp_err_set(err, PP_ENOMEM, "out of memory building a SOAP envelope");
}

static int env_new(struct env *e, struct pp_err *err)
{
	memset(e, 0, sizeof(*e));
	e->doc = xmlNewDoc(X("1.0"));
	if (!e->doc)
		return nomem(err);
	e->root = xmlNewDocNode(e->doc, NULL, X("Envelope"), NULL);
	if (!e->root)
		return nomem(err);
	xmlDocSetRootElement(e->doc, e->root);
	e->s = xmlNewNs(e->root, X(PP_WSMAN_NS_SOAP), X("s"));
	e->wsa = xmlNewNs(e->root, X(PP_WSMAN_NS_WSA), X("wsa"));
	e->wsman = xmlNewNs(e->root, X(PP_WSMAN_NS_WSMAN), X("wsman"));
	if (!e->s || !e->wsa || !e->wsman)
		return nomem(err);
	xmlSetNs(e->root, e->s);
	e->header = xmlNewChild(e->root, e->s, X("Header"), NULL);
	e->body = xmlNewChild(e->root, e->s, X("Body"), NULL);
	if (!e->header || !e->body)
		return nomem(err);
	return 0;
}

static xmlNs *env_wsen(struct env *e)
{
	if (!e->wsen)
		e->wsen = xmlNewNs(e->root, X(PP_WSMAN_NS_WSEN), X("wsen"));
	return e->wsen;
}

static void env_free(struct env *e)
{
	pp_xml_free_wipe(e->doc);
	e->doc = NULL;
}

static int env_header(struct env *e, xmlNs *ns, const char *name, const char *text,
		      bool must_understand, struct pp_err *err)
{
	xmlNode *n = pp_wsxml_add(e->header, ns, name, text);
	if (!n)
		return nomem(err);
	if (must_understand && !xmlNewNsProp(n, e->s, X("mustUnderstand"), X("true")))
		return nomem(err);
	return 0;
}

/* The declaration, the envelope's start and the request headers every operation sends
 * (call->action and message_id set). */
static void put_request_head(struct pp_xmlw *w, const struct pp_wsman_call *call, const char *to,
			     const struct pp_wsman_props *selectors, bool wsen)
{
	pp_xmlw_envelope_start(w, wsen);
	pp_xmlw_put(w, "<wsa:Action s:mustUnderstand=\"true\">");
	pp_xmlw_text(w, call->action);
	pp_xmlw_put(w, "</wsa:Action><wsa:To s:mustUnderstand=\"true\">");
	pp_xmlw_text(w, to);
	pp_xmlw_put(w, "</wsa:To><wsman:ResourceURI s:mustUnderstand=\"true\">");
	pp_xmlw_text(w, call->resource_uri);
	pp_xmlw_put(w, "</wsman:ResourceURI>");
	pp_xmlw_el(w, "wsa:", "MessageID", call->message_id);
	pp_xmlw_put(w,
		    "<wsa:ReplyTo><wsa:Address>" PP_WSMAN_ANONYMOUS "</wsa:Address></wsa:ReplyTo>");
	pp_xmlw_el(w, "wsman:", "OperationTimeout", PP_WSMAN_OPERATION_TIMEOUT);
	if (selectors && selectors->count) {
		pp_xmlw_put(w, "<wsman:SelectorSet>");
		for (size_t i = 0; i < selectors->count; i++) {
			/* The name is a checked XML name: nothing to escape. */
			pp_xmlw_put(w, "<wsman:Selector Name=\"");
			pp_xmlw_put(w, selectors->item[i].name);
			pp_xmlw_put(w, "\">");
			pp_xmlw_text(w, selectors->item[i].value);
			pp_xmlw_put(w, "</wsman:Selector>");
		}
		pp_xmlw_put(w, "</wsman:SelectorSet>");
	}
	pp_xmlw_put(w, "</s:Header>");
}

static int call_start(enum pp_wsman_op op, const char *to, const char *resource_uri,
		      struct pp_wsman_call *call, struct pp_err *err)
{
	int rc;
	memset(call, 0, sizeof(*call));
	if ((rc = pp_wsman_check_uri(to, "wsa:To", err)) < 0 ||
	    (rc = pp_wsman_check_uri(resource_uri, "wsman:ResourceURI", err)) < 0)
		return rc;
	call->op = op;
	memcpy(call->resource_uri, resource_uri, strlen(resource_uri) + 1);
	return 0;
}

static int build_request(enum pp_wsman_op op, const char *to, const char *resource_uri,
			 const char *method, const struct pp_wsman_props *selectors,
			 const struct pp_wsman_props *body, struct pp_wsman_call *call,
			 struct pp_buf *out, struct pp_err *err)
{
	char body_name[PP_WSMAN_NAME_MAX + 1] = "";
	int rc, n;

	if ((rc = call_start(op, to, resource_uri, call, err)) < 0 ||
	    (rc = pp_wsman_check_props(selectors, "selectors", err)) < 0 ||
	    (rc = pp_wsman_check_props(body, op == PP_WSMAN_OP_PUT ? "instance" : "parameters",
				       err)) < 0)
		return rc;

	switch (op) {
	case PP_WSMAN_OP_GET:
		memcpy(call->action, PP_WSMAN_ACTION_GET, sizeof(PP_WSMAN_ACTION_GET));
		break;
	case PP_WSMAN_OP_PUT:
		memcpy(call->action, PP_WSMAN_ACTION_PUT, sizeof(PP_WSMAN_ACTION_PUT));
		if ((rc = body_name_for(op, resource_uri, NULL, NULL, body_name, err)) < 0)
			return rc;
		break;
	case PP_WSMAN_OP_INVOKE:
		if (!pp_wsman_name_valid(method))
			return pp_err_set(err, PP_EINVAL, "method name '%.64s' is not valid",
					  method ? method : "");
		memcpy(call->method, method, strlen(method) + 1);
		n = snprintf(call->action, sizeof(call->action), "%s/%s", resource_uri, method);
		if (n < 0 || (size_t)n >= sizeof(call->action))
			return pp_err_set(err, PP_ETOOBIG, "wsa:Action for %s is too long", method);
		if ((rc = body_name_for(op, resource_uri, method, "_INPUT", body_name, err)) < 0)
			return rc;
		break;
	default:
		return pp_err_set(err, PP_EINVAL, "unknown WS-Management operation %d", (int)op);
	}
	if ((rc = pp_wsman_new_message_id(call->message_id, sizeof(call->message_id), err)) < 0)
		return rc;
	struct pp_xmlw w;
	pp_xmlw_begin(&w, out, 0);
	put_request_head(&w, call, to, selectors, false);
	if (!body_name[0]) {
		pp_xmlw_put(&w, "<s:Body/>");
		return pp_xmlw_end(&w, err);
	}
	bool empty = !body || body->count == 0;
	pp_xmlw_put(&w, "<s:Body>");
	pp_xmlw_ns_open(&w, "h", body_name, resource_uri, empty);
	pp_xmlw_props(&w, "h", body);
	if (!empty)
		pp_xmlw_ns_close(&w, "h", body_name);
	pp_xmlw_put(&w, "</s:Body>");
	return pp_xmlw_end(&w, err);
}

/* An enumeration context we send or answer with: 1..PP_WSMAN_CONTEXT_MAX printable ASCII
 * characters (contexts are opaque, but ours and AMT's are ids). */
int pp_wsman_check_context(const char *ctx, struct pp_err *err)
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

/* Enumerate, Pull, Release: a wsen:<op> body with the context and limits. */
static int build_enum(enum pp_wsman_op op, const char *to, const char *resource_uri,
		      const char *context, uint32_t max_elements, struct pp_wsman_call *call,
		      struct pp_buf *out, struct pp_err *err)
{
	static const struct {
		enum pp_wsman_op op;
		const char *action, *body;
	} ops[] = {
	    {PP_WSMAN_OP_ENUMERATE, PP_WSMAN_ACTION_ENUMERATE, "Enumerate"},
	    {PP_WSMAN_OP_PULL, PP_WSMAN_ACTION_PULL, "Pull"},
	    {PP_WSMAN_OP_RELEASE, PP_WSMAN_ACTION_RELEASE, "Release"},
	};
	size_t k = 0;
	int rc;
	while (ops[k].op != op)
		k++;
	if ((rc = call_start(op, to, resource_uri, call, err)) < 0)
		return rc;
	if (op != PP_WSMAN_OP_ENUMERATE && (rc = pp_wsman_check_context(context, err)) < 0)
		return rc;
	if (op == PP_WSMAN_OP_PULL && max_elements == 0)
		return pp_err_set(err, PP_EINVAL, "wsen:MaxElements must be 1 or more");
	memcpy(call->action, ops[k].action, strlen(ops[k].action) + 1);
	if ((rc = pp_wsman_new_message_id(call->message_id, sizeof(call->message_id), err)) < 0) {
		memset(call, 0, sizeof(*call));
		return rc;
	}
	struct pp_xmlw w;
	pp_xmlw_begin(&w, out, 0);
	put_request_head(&w, call, to, NULL, true);
	pp_xmlw_put(&w, "<s:Body><wsen:");
	pp_xmlw_put(&w, ops[k].body);
	if (op == PP_WSMAN_OP_ENUMERATE) {
		pp_xmlw_put(&w, "/>");
	} else {
		pp_xmlw_put(&w, ">");
		pp_xmlw_el(&w, "wsen:", "EnumerationContext", context);
	}
	if (op == PP_WSMAN_OP_PULL) {
		char num[16], chars[16];
		snprintf(num, sizeof(num), "%" PRIu32, max_elements);
		snprintf(chars, sizeof(chars), "%u", PP_WSMAN_PULL_MAX_CHARACTERS);
		pp_xmlw_el(&w, "wsen:", "MaxElements", num);
		pp_xmlw_el(&w, "wsen:", "MaxCharacters", chars);
	}
	if (op != PP_WSMAN_OP_ENUMERATE) {
		pp_xmlw_put(&w, "</wsen:");
		pp_xmlw_put(&w, ops[k].body);
		pp_xmlw_put(&w, ">");
	}
	pp_xmlw_put(&w, "</s:Body>");
	if ((rc = pp_xmlw_end(&w, err)) < 0)
		memset(call, 0, sizeof(*call));
	return rc;
}

int pp_wsman_build_enumerate(const char *to, const char *resource_uri, struct pp_wsman_call *call,
			     struct pp_buf *out, struct pp_err *err)
{
	return build_enum(PP_WSMAN_OP_ENUMERATE, to, resource_uri, NULL, 0, call, out, err);
}

int pp_wsman_build_pull(const char *to, const char *resource_uri, const char *context,
			uint32_t max_elements, struct pp_wsman_call *call, struct pp_buf *out,
			struct pp_err *err)
{
	return build_enum(PP_WSMAN_OP_PULL, to, resource_uri, context, max_elements, call, out,
			  err);
}

int pp_wsman_build_release(const char *to, const char *resource_uri, const char *context,
			   struct pp_wsman_call *call, struct pp_buf *out, struct pp_err *err)
{
	return build_enum(PP_WSMAN_OP_RELEASE, to, resource_uri, context, 0, call, out, err);
}

int pp_wsman_call_pick(struct pp_wsman_call *call, const char *name, const char *value,
		       struct pp_err *err)
{
	call->pick_name[0] = call->pick_value[0] = '\0';
	if (!name || !*name)
		return 0;
	if (!pp_wsman_name_valid(name))
		return pp_err_set(err, PP_EINVAL, "pick property name '%.64s' is not valid", name);
	if (!value || strlen(value) > PP_WSMAN_PICK_MAX)
		return pp_err_set(err, PP_EINVAL,
				  "pick value for %s is missing or longer than %d bytes", name,
				  PP_WSMAN_PICK_MAX);
	memcpy(call->pick_name, name, strlen(name) + 1);
	memcpy(call->pick_value, value, strlen(value) + 1);
	return 0;
}

int pp_wsman_build_get(const char *to, const char *resource_uri,
		       const struct pp_wsman_props *selectors, struct pp_wsman_call *call,
		       struct pp_buf *out, struct pp_err *err)
{
	return build_request(PP_WSMAN_OP_GET, to, resource_uri, NULL, selectors, NULL, call, out,
			     err);
}

int pp_wsman_build_put(const char *to, const char *resource_uri,
		       const struct pp_wsman_props *selectors,
		       const struct pp_wsman_props *instance, struct pp_wsman_call *call,
		       struct pp_buf *out, struct pp_err *err)
{
	return build_request(PP_WSMAN_OP_PUT, to, resource_uri, NULL, selectors, instance, call,
			     out, err);
}

int pp_wsman_build_invoke(const char *to, const char *resource_uri, const char *method,
			  const struct pp_wsman_props *selectors,
			  const struct pp_wsman_props *params, struct pp_wsman_call *call,
			  struct pp_buf *out, struct pp_err *err)
{
	return build_request(PP_WSMAN_OP_INVOKE, to, resource_uri, method, selectors, params, call,
			     out, err);
}

/* ---- envelope parsing ---- */

struct envelope {
	const xmlNode *header;
	const xmlNode *body;
};

static int envelope_split(const xmlDoc *doc, struct envelope *env, bool need_header,
			  struct pp_err *err)
{
	const xmlNode *root = xmlDocGetRootElement(doc);
	int rc;

	env->header = env->body = NULL;
	if (!root)
		return pp_err_set(err, PP_EINVAL, "XML document has no root element");
	if (!pp_wsxml_is(root, PP_WSMAN_NS_SOAP, "Envelope")) {
		if (strcmp((const char *)root->name, "Envelope") == 0)
			return pp_err_set(err, PP_EINVAL,
					  "Envelope is in namespace '%.120s', not SOAP 1.2 (%s)",
					  pp_wsxml_ns(root), PP_WSMAN_NS_SOAP);
		return pp_err_set(err, PP_EINVAL,
				  "root element is <%.64s>, not a SOAP 1.2 s:Envelope",
				  (const char *)root->name);
	}
	if ((rc = pp_wsxml_element_only(root, "s:Envelope", err)) < 0)
		return rc;
	for (const xmlNode *n = pp_wsxml_first_el(root); n; n = pp_wsxml_next_el(n)) {
		if (!env->header && !env->body && pp_wsxml_is(n, PP_WSMAN_NS_SOAP, "Header"))
			env->header = n;
		else if (!env->body && pp_wsxml_is(n, PP_WSMAN_NS_SOAP, "Body"))
			env->body = n;
		else
			return pp_err_set(err, PP_EINVAL,
					  "unexpected element <%.64s> (namespace '%.120s') in "
					  "s:Envelope",
					  (const char *)n->name, pp_wsxml_ns(n));
	}
	if (need_header && !env->header)
		return pp_err_set(err, PP_EINVAL, "SOAP s:Header is missing");
	if (!env->body)
		return pp_err_set(err, PP_EINVAL, "SOAP s:Body is missing");
	return 0;
}

enum hkind { H_TEXT, H_REPLY_TO, H_SELECTORS, H_IGNORE };

struct hslot {
	const char *ns;
	const char *local;
	const char *label;
	enum hkind kind;
	char *dst;
	size_t cap;
	bool required;
	bool seen;
};

/* A header slot by namespace (WSA, WSMAN) and local name; its label is the QName with
 * the prefix our envelopes declare. HTEXT copies the text into the array dst. */
#define HSLOT(NS, pfx, local, kind, dst, cap, required)                                            \
	{                                                                                          \
		PP_WSMAN_NS_##NS, local, pfx ":" local, kind, dst, cap, required, false            \
	}
#define HTEXT(NS, pfx, local, dst, required)                                                       \
	HSLOT(NS, pfx, local, H_TEXT, dst, sizeof(dst), required)
#define HNONE(NS, pfx, local, kind) HSLOT(NS, pfx, local, kind, NULL, 0, false)

static bool must_understand(const xmlNode *n)
{
	xmlChar *v = xmlGetNsProp(n, X("mustUnderstand"), X(PP_WSMAN_NS_SOAP));
	bool yes = false;
	if (v) {
		/* xs:boolean, white space collapsed: "true" or "1". */
		const char *s = (const char *)v;
		size_t len = strlen(s);
		while (len && strchr(" \t\r\n", s[len - 1]))
			len--;
		while (len && strchr(" \t\r\n", *s)) {
			s++;
			len--;
		}
		yes = (len == 4 && strncmp(s, "true", 4) == 0) || (len == 1 && s[0] == '1');
		xmlFree(v);
	}
	return yes;
}

static int parse_selectors(const xmlNode *set, struct pp_wsman_props *sel, struct pp_err *err)
{
	char value[PP_WSMAN_VALUE_MAX + 1];
	int rc = pp_wsxml_element_only(set, "wsman:SelectorSet", err);
	if (rc < 0)
		return rc;
	for (const xmlNode *n = pp_wsxml_first_el(set); n; n = pp_wsxml_next_el(n)) {
		if (!pp_wsxml_is(n, PP_WSMAN_NS_WSMAN, "Selector"))
			return pp_err_set(err, PP_EINVAL,
					  "unexpected element <%.64s> in wsman:SelectorSet",
					  (const char *)n->name);
		xmlChar *name = xmlGetNoNsProp(n, X("Name"));
		if (!name || !pp_wsman_name_valid((const char *)name)) {
			xmlFree(name);
			return pp_err_set(err, PP_EINVAL,
					  "wsman:Selector has a missing or invalid Name");
		}
		rc = pp_wsxml_text(n, value, sizeof(value), PP_WSXML_TRIM, "wsman:Selector", err);
		if (rc == 0)
			rc = pp_wsman_props_add(sel, (const char *)name, value, err);
		xmlFree(name);
		if (rc < 0)
			return rc;
	}
	return 0;
}

static int parse_headers(const xmlNode *header, struct hslot *slots, size_t nslots,
			 struct pp_wsman_props *selectors, struct pp_err *err)
{
	int rc;
	if (!header)
		goto check;
	if ((rc = pp_wsxml_element_only(header, "s:Header", err)) < 0)
		return rc;
	for (const xmlNode *n = pp_wsxml_first_el(header); n; n = pp_wsxml_next_el(n)) {
		struct hslot *h = NULL;
		for (size_t i = 0; i < nslots; i++) {
			if (pp_wsxml_is(n, slots[i].ns, slots[i].local)) {
				h = &slots[i];
				break;
			}
		}
		if (!h) {
			if (must_understand(n))
				return pp_err_set(
				    err, PP_EINVAL,
				    "SOAP header <%.64s> (namespace '%.120s') must be "
				    "understood but is not supported",
				    (const char *)n->name, pp_wsxml_ns(n));
			continue;
		}
		if (h->seen)
			return pp_err_set(err, PP_EINVAL, "SOAP header %s appears twice", h->label);
		h->seen = true;
		switch (h->kind) {
		case H_TEXT:
			rc = pp_wsxml_text(n, h->dst, h->cap, PP_WSXML_TRIM, h->label, err);
			if (rc == 0 && !h->dst[0])
				rc =
				    pp_err_set(err, PP_EINVAL, "SOAP header %s is empty", h->label);
			break;
		case H_REPLY_TO: {
			const xmlNode *addr = pp_wsxml_first_el(n);
			if (!pp_wsxml_is(addr, PP_WSMAN_NS_WSA, "Address"))
				return pp_err_set(err, PP_EINVAL, "wsa:ReplyTo has no wsa:Address");
			rc = pp_wsxml_text(addr, h->dst, h->cap, PP_WSXML_TRIM,
					   "wsa:ReplyTo/wsa:Address", err);
			break;
		}
		case H_SELECTORS:
			rc = selectors ? parse_selectors(n, selectors, err) : 0;
			break;
		default:
			rc = 0;
			break;
		}
		if (rc < 0)
			return rc;
	}
check:
	for (size_t i = 0; i < nslots; i++) {
		if (slots[i].required && !slots[i].seen)
			return pp_err_set(err, PP_EINVAL, "SOAP header %s is missing",
					  slots[i].label);
	}
	return 0;
}

/* The child elements of el, all in namespace ns, each a leaf: (local name, text). */
static int parse_props(const xmlNode *el, const char *ns, const char *what,
		       struct pp_wsman_props *props, struct pp_err *err)
{
	char value[PP_WSMAN_VALUE_MAX + 1];
	char label[PP_WSMAN_NAME_MAX + 16];
	int rc = pp_wsxml_element_only(el, what, err);
	if (rc < 0)
		return rc;
	for (const xmlNode *c = pp_wsxml_first_el(el); c; c = pp_wsxml_next_el(c)) {
		const char *name = (const char *)c->name;
		if (strcmp(pp_wsxml_ns(c), ns) != 0) {
			rc =
			    pp_err_set(err, PP_EINVAL,
				       "%s: element <%.64s> is in namespace '%.100s', not '%.100s'",
				       what, name, pp_wsxml_ns(c), ns);
			goto out;
		}
		if (!pp_wsman_name_valid(name)) {
			rc = pp_err_set(err, PP_EINVAL, "%s: element name '%.64s' is not supported",
					what, name);
			goto out;
		}
		if (props->count >= PP_WSMAN_PROPS_MAX) {
			rc = pp_err_set(err, PP_ETOOBIG, "%s has more than %d properties", what,
					PP_WSMAN_PROPS_MAX);
			goto out;
		}
		if (snprintf(label, sizeof(label), "property '%s'", name) < 0)
			label[0] = '\0';
		if ((rc = pp_wsxml_text(c, value, sizeof(value), 0, label, err)) < 0 ||
		    (rc = pp_wsman_props_add(props, name, value, err)) < 0)
			goto out;
	}
out:
	pp_wipe(value, sizeof(value));
	return rc;
}

static bool text_eq(const char *a, const char *b)
{
	return strcmp(a, b) == 0;
}

/* ---- device: requests ---- */

static void request_reset(struct pp_wsman_request *req)
{
	req->op = PP_WSMAN_OP_NONE;
	req->to[0] = req->resource_uri[0] = req->action[0] = req->message_id[0] = '\0';
	req->operation_timeout[0] = req->method[0] = req->body_name[0] = '\0';
	req->enum_context[0] = '\0';
	req->optimize = false;
	req->max_elements = 1;
	req->max_characters = 0;
	pp_wsman_props_init(&req->selectors);
	pp_wsman_props_init(&req->params);
	req->fault = PP_WSMAN_FAULT_SCHEMA_VALIDATION;
}

void pp_wsman_request_wipe(struct pp_wsman_request *req)
{
	if (!req)
		return;
	pp_wsman_props_wipe(&req->selectors);
	pp_wsman_props_wipe(&req->params);
	request_reset(req);
}

static int classify_action(struct pp_wsman_request *req, struct pp_err *err)
{
	size_t ulen = strlen(req->resource_uri);
	if (text_eq(req->action, PP_WSMAN_ACTION_GET)) {
		req->op = PP_WSMAN_OP_GET;
		return 0;
	}
	if (text_eq(req->action, PP_WSMAN_ACTION_PUT)) {
		req->op = PP_WSMAN_OP_PUT;
		return 0;
	}
	static const struct {
		const char *action;
		enum pp_wsman_op op;
	} wsen[] = {
	    {PP_WSMAN_ACTION_ENUMERATE, PP_WSMAN_OP_ENUMERATE},
	    {PP_WSMAN_ACTION_PULL, PP_WSMAN_OP_PULL},
	    {PP_WSMAN_ACTION_RELEASE, PP_WSMAN_OP_RELEASE},
	};
	for (size_t i = 0; i < sizeof(wsen) / sizeof(wsen[0]); i++) {
		if (text_eq(req->action, wsen[i].action)) {
			req->op = wsen[i].op;
			return 0;
		}
	}
	if (strncmp(req->action, req->resource_uri, ulen) == 0 && req->action[ulen] == '/' &&
	    pp_wsman_name_valid(req->action + ulen + 1)) {
		req->op = PP_WSMAN_OP_INVOKE;
		memcpy(req->method, req->action + ulen + 1, strlen(req->action + ulen + 1) + 1);
		return 0;
	}
	req->fault = PP_WSMAN_FAULT_ACTION_NOT_SUPPORTED;
	return pp_err_set(err, PP_EPROTO,
			  "wsa:Action '%.160s' is not Get, Put, Enumerate, Pull, Release or a "
			  "method of the resource",
			  req->action);
}

/* A positive xs:unsignedInt limit (MaxElements, MaxCharacters). */
static int enum_limit(const xmlNode *n, const char *what, uint32_t *out, struct pp_err *err)
{
	char text[16];
	int rc = pp_wsxml_text(n, text, sizeof(text), PP_WSXML_TRIM, what, err);
	if (rc < 0)
		return rc;
	return pp_parse_u32(text, 1, UINT32_MAX, out, what, err);
}

/* The children of wsen:Enumerate, wsen:Pull or wsen:Release (DSP0226 8.2-8.4). Anything
 * else (a filter, wsen:Expires, an EndTo) is refused. */
static int enum_body(const xmlNode *el, struct pp_wsman_request *req, struct pp_err *err)
{
	bool has_ctx = false;
	int rc = pp_wsxml_element_only(el, "WS-Enumeration body", err);
	if (rc < 0)
		return rc;
	for (const xmlNode *n = pp_wsxml_first_el(el); n; n = pp_wsxml_next_el(n)) {
		bool en = req->op == PP_WSMAN_OP_ENUMERATE, pull = req->op == PP_WSMAN_OP_PULL;
		if (en && pp_wsxml_is(n, PP_WSMAN_NS_WSMAN, "OptimizeEnumeration")) {
			req->optimize = true;
		} else if (en && pp_wsxml_is(n, PP_WSMAN_NS_WSMAN, "MaxElements")) {
			rc = enum_limit(n, "wsman:MaxElements", &req->max_elements, err);
		} else if (pull && pp_wsxml_is(n, PP_WSMAN_NS_WSEN, "MaxElements")) {
			rc = enum_limit(n, "wsen:MaxElements", &req->max_elements, err);
		} else if (pull && pp_wsxml_is(n, PP_WSMAN_NS_WSEN, "MaxCharacters")) {
			rc = enum_limit(n, "wsen:MaxCharacters", &req->max_characters, err);
		} else if (pull && pp_wsxml_is(n, PP_WSMAN_NS_WSEN, "MaxTime")) {
			rc = 0; /* answers are immediate */
		} else if (!en && !has_ctx &&
			   pp_wsxml_is(n, PP_WSMAN_NS_WSEN, "EnumerationContext")) {
			has_ctx = true;
			req->fault = PP_WSMAN_FAULT_INVALID_ENUM_CONTEXT;
			if ((rc = pp_wsxml_text(n, req->enum_context, sizeof(req->enum_context),
						PP_WSXML_TRIM, "wsen:EnumerationContext", err)) <
				0 ||
			    (rc = pp_wsman_check_context(req->enum_context, err)) < 0)
				return rc;
			req->fault = PP_WSMAN_FAULT_INVALID_PARAMETER;
		} else {
			return pp_err_set(err, PP_EINVAL, "%s: element <%.64s> is not supported",
					  (const char *)el->name, (const char *)n->name);
		}
		if (rc < 0)
			return rc;
	}
	if (req->op != PP_WSMAN_OP_ENUMERATE && !has_ctx) {
		req->fault = PP_WSMAN_FAULT_INVALID_ENUM_CONTEXT;
		return pp_err_set(err, PP_EINVAL, "%s has no wsen:EnumerationContext",
				  (const char *)el->name);
	}
	return 0;
}

static int request_body(const xmlNode *body, struct pp_wsman_request *req, struct pp_err *err)
{
	char expect[PP_WSMAN_NAME_MAX + 1];
	int rc = pp_wsxml_element_only(body, "s:Body", err);
	if (rc < 0)
		return rc;
	const xmlNode *el = pp_wsxml_first_el(body);
	if (el && pp_wsxml_next_el(el))
		return pp_err_set(err, PP_EINVAL, "s:Body holds more than one element");
	if (req->op == PP_WSMAN_OP_GET) {
		if (el)
			return pp_err_set(err, PP_EINVAL, "Get request has a body element <%.64s>",
					  (const char *)el->name);
		return 0;
	}
	if (req->op == PP_WSMAN_OP_ENUMERATE || req->op == PP_WSMAN_OP_PULL ||
	    req->op == PP_WSMAN_OP_RELEASE) {
		const char *want = req->op == PP_WSMAN_OP_ENUMERATE ? "Enumerate"
				   : req->op == PP_WSMAN_OP_PULL    ? "Pull"
								    : "Release";
		if (!pp_wsxml_is(el, PP_WSMAN_NS_WSEN, want)) {
			if (req->op != PP_WSMAN_OP_ENUMERATE)
				req->fault = PP_WSMAN_FAULT_INVALID_ENUM_CONTEXT;
			return pp_err_set(err, PP_EINVAL, "s:Body has no wsen:%s", want);
		}
		memcpy(req->body_name, want, strlen(want) + 1);
		return enum_body(el, req, err);
	}
	if ((rc = body_name_for(req->op, req->resource_uri, req->method, "_INPUT", expect, err)) <
	    0)
		return rc;
	if (!el)
		return pp_err_set(err, PP_EINVAL, "s:Body is empty, expected <%s>", expect);
	if (!pp_wsxml_is(el, req->resource_uri, expect))
		return pp_err_set(err, PP_EINVAL,
				  "s:Body holds <%.64s> (namespace '%.100s'), expected <%s> in the "
				  "ResourceURI namespace",
				  (const char *)el->name, pp_wsxml_ns(el), expect);
	memcpy(req->body_name, expect, strlen(expect) + 1);
	return parse_props(el, req->resource_uri, expect, &req->params, err);
}

int pp_wsman_request_parse(const void *xml, size_t len, struct pp_wsman_request *req,
			   struct pp_err *err)
{
	xmlDoc *doc = NULL;
	struct envelope env;
	char reply_to[PP_WSMAN_URI_MAX + 1] = "";
	int rc;

	request_reset(req);
	if ((rc = pp_xml_parse_safe(xml, len, PP_WSMAN_DOC_MAX, "XML document", &doc, err)) < 0) {
		if (rc == -PP_ETOOBIG)
			req->fault = PP_WSMAN_FAULT_ENCODING_LIMIT;
		goto out;
	}
	if ((rc = envelope_split(doc, &env, true, err)) < 0)
		goto out;

	struct hslot slots[] = {
	    HTEXT(WSA, "wsa", "MessageID", req->message_id, true),
	    HTEXT(WSA, "wsa", "Action", req->action, true),
	    HTEXT(WSA, "wsa", "To", req->to, true),
	    HTEXT(WSMAN, "wsman", "ResourceURI", req->resource_uri, true),
	    HSLOT(WSA, "wsa", "ReplyTo", H_REPLY_TO, reply_to, sizeof(reply_to), true),
	    HTEXT(WSMAN, "wsman", "OperationTimeout", req->operation_timeout, false),
	    HNONE(WSMAN, "wsman", "SelectorSet", H_SELECTORS),
	    /* Understood: our envelopes stay under PP_WSMAN_DOC_MAX, below any sane limit. */
	    HNONE(WSMAN, "wsman", "MaxEnvelopeSize", H_IGNORE),
	};
	req->fault = PP_WSMAN_FAULT_INVALID_HEADER;
	if ((rc = parse_headers(env.header, slots, sizeof(slots) / sizeof(slots[0]),
				&req->selectors, err)) < 0)
		goto out;
	if ((rc = pp_wsman_check_uri(req->to, "wsa:To", err)) < 0 ||
	    (rc = pp_wsman_check_uri(req->resource_uri, "wsman:ResourceURI", err)) < 0 ||
	    (rc = pp_wsman_check_uri(req->action, "wsa:Action", err)) < 0)
		goto out;
	if (!text_eq(reply_to, PP_WSMAN_ANONYMOUS)) {
		rc = pp_err_set(err, PP_EINVAL, "wsa:ReplyTo address '%.160s' is not anonymous",
				reply_to);
		goto out;
	}
	if ((rc = classify_action(req, err)) < 0)
		goto out;
	req->fault = PP_WSMAN_FAULT_INVALID_PARAMETER;
	if ((rc = request_body(env.body, req, err)) < 0)
		goto out;
	req->fault = PP_WSMAN_FAULT_NONE;
	rc = 0;
out:
	pp_xml_free_wipe(doc);
	if (rc < 0) {
		pp_wsman_props_wipe(&req->selectors);
		pp_wsman_props_wipe(&req->params);
	}
	return pp_err_one_line(err, rc);
}

/* ---- device: responses and faults ---- */

static int reply_envelope(struct env *e, const char *relates_to, const char *action,
			  const char *resource_uri, struct pp_err *err)
{
	char id[PP_WSMAN_ID_MAX + 1];
	int rc;
	if ((rc = pp_wsman_new_message_id(id, sizeof(id), err)) < 0 || (rc = env_new(e, err)) < 0 ||
	    (rc = env_header(e, e->wsa, "To", PP_WSMAN_ANONYMOUS, false, err)) < 0)
		return rc;
	if (relates_to && relates_to[0] &&
	    (rc = env_header(e, e->wsa, "RelatesTo", relates_to, false, err)) < 0)
		return rc;
	if ((rc = env_header(e, e->wsa, "Action", action, false, err)) < 0 ||
	    (rc = env_header(e, e->wsa, "MessageID", id, false, err)) < 0)
		return rc;
	if (resource_uri &&
	    (rc = env_header(e, e->wsman, "ResourceURI", resource_uri, false, err)) < 0)
		return rc;
	return 0;
}

int pp_wsman_check_request_ids(const struct pp_wsman_request *req, struct pp_err *err)
{
	const char *id_end = memchr(req->message_id, '\0', sizeof(req->message_id));
	const char *uri_end = memchr(req->resource_uri, '\0', sizeof(req->resource_uri));
	if (!id_end || !req->message_id[0] ||
	    !pp_wsman_text_valid(req->message_id, (size_t)(id_end - req->message_id)))
		return pp_err_set(err, PP_EINVAL, "request has no usable wsa:MessageID");
	if (!uri_end || !memchr(req->action, '\0', sizeof(req->action)))
		return pp_err_set(err, PP_EINVAL, "request is not terminated");
	return pp_wsman_check_uri(req->resource_uri, "wsman:ResourceURI", err);
}

/* Responses, method outputs, enumeration and release answers: lib/wsman/reply.c. */

int pp_wsman_fault_build(const struct pp_wsman_request *req, enum pp_wsman_fault fault,
			 const char *reason, struct pp_buf *out, int *http_status,
			 struct pp_err *err)
{
	const struct fault_info *fi = fault_find(fault);
	const char *relates_to = NULL;
	struct env e = {0};
	int rc;

	if (!fi)
		return pp_err_set(err, PP_EINVAL, "unknown SOAP fault %d", (int)fault);
	if (!reason)
		reason = fi->reason;
	if (strlen(reason) > PP_WSMAN_REASON_MAX || !pp_wsman_text_valid(reason, strlen(reason)))
		return pp_err_set(err, PP_EINVAL, "fault reason is too long or not UTF-8 text");
	if (req && req->message_id[0]) {
		const char *end = memchr(req->message_id, '\0', sizeof(req->message_id));
		if (end && pp_wsman_text_valid(req->message_id, (size_t)(end - req->message_id)))
			relates_to = req->message_id;
	}
	const char *uri = NULL;
	if (req && memchr(req->resource_uri, '\0', sizeof(req->resource_uri)) &&
	    pp_wsman_check_uri(req->resource_uri, "wsman:ResourceURI", NULL) == 0)
		uri = req->resource_uri;
	if ((rc = reply_envelope(&e, relates_to, fi->action, uri, err)) < 0)
		goto out;
	if (fi->fault == PP_WSMAN_FAULT_INVALID_ENUM_CONTEXT && !env_wsen(&e)) {
		rc = nomem(err);
		goto out;
	}
	xmlNode *f = xmlNewChild(e.body, e.s, X("Fault"), NULL);
	xmlNode *code = f ? xmlNewChild(f, e.s, X("Code"), NULL) : NULL;
	xmlNode *sub = code && pp_wsxml_add(code, e.s, "Value", fi->code)
			   ? xmlNewChild(code, e.s, X("Subcode"), NULL)
			   : NULL;
	xmlNode *rsn = sub && pp_wsxml_add(sub, e.s, "Value", fi->name)
			   ? xmlNewChild(f, e.s, X("Reason"), NULL)
			   : NULL;
	xmlNode *text = rsn ? pp_wsxml_add(rsn, e.s, "Text", reason) : NULL;
	if (!text) {
		rc = nomem(err);
		goto out;
	}
	xmlNodeSetLang(text, X("en-US"));
	if ((rc = pp_wsxml_serialize(e.doc, out, err)) < 0)
		goto out;
	if (http_status)
		*http_status = fi->http;
out:
	env_free(&e);
	return rc;
}

/* ---- client: responses ---- */

static void response_reset(struct pp_wsman_response *resp)
{
	resp->action[0] = resp->message_id[0] = resp->relates_to[0] = '\0';
	resp->is_fault = false;
	resp->fault = PP_WSMAN_FAULT_NONE;
	resp->fault_subcode[0] = resp->fault_reason[0] = resp->body_name[0] = '\0';
	pp_wsman_props_init(&resp->props);
	resp->has_return_value = false;
	resp->return_value = 0;
	resp->enum_context[0] = '\0';
	resp->end_of_sequence = false;
	resp->item_count = 0;
	resp->picked = false;
}

void pp_wsman_response_wipe(struct pp_wsman_response *resp)
{
	if (!resp)
		return;
	pp_wsman_props_wipe(&resp->props);
	response_reset(resp);
}

static const xmlNode *child_el(const xmlNode *parent, const char *ns, const char *local)
{
	for (const xmlNode *n = pp_wsxml_first_el(parent); n; n = pp_wsxml_next_el(n)) {
		if (pp_wsxml_is(n, ns, local))
			return n;
	}
	return NULL;
}

/* A fault's subcode (or code) is a QName: resolve its prefix in scope to name it by
 * namespace, whatever prefix the peer chose. */
static void fault_classify(const xmlDoc *doc, const xmlNode *value, struct pp_wsman_response *resp)
{
	char *qname = resp->fault_subcode;
	char *colon = strchr(qname, ':');
	const char *local = colon ? colon + 1 : qname;
	char prefix[PP_WSMAN_SUBCODE_MAX + 1];
	size_t plen = colon ? (size_t)(colon - qname) : 0;

	resp->fault = PP_WSMAN_FAULT_OTHER;
	memcpy(prefix, qname, plen);
	prefix[plen] = '\0';
	xmlNs *ns = xmlSearchNs((xmlDoc *)doc, (xmlNode *)value, colon ? X(prefix) : NULL);
	if (!ns || !ns->href)
		return;
	for (size_t i = 0; i < sizeof(fault_table) / sizeof(fault_table[0]); i++) {
		if (text_eq((const char *)ns->href, fault_table[i].ns) &&
		    text_eq(local, fault_table[i].local)) {
			resp->fault = fault_table[i].fault;
			memcpy(qname, fault_table[i].name, strlen(fault_table[i].name) + 1);
			return;
		}
	}
}

static int parse_fault(const xmlDoc *doc, const xmlNode *fault, struct pp_wsman_response *resp,
		       struct pp_err *err)
{
	int rc;
	resp->is_fault = true;
	resp->fault = PP_WSMAN_FAULT_OTHER;
	if ((rc = pp_wsxml_element_only(fault, "s:Fault", err)) < 0)
		return rc;
	const xmlNode *code = child_el(fault, PP_WSMAN_NS_SOAP, "Code");
	const xmlNode *value = code ? child_el(code, PP_WSMAN_NS_SOAP, "Value") : NULL;
	if (!value)
		return pp_err_set(err, PP_EINVAL, "s:Fault has no s:Code/s:Value");
	const xmlNode *sub = child_el(code, PP_WSMAN_NS_SOAP, "Subcode");
	const xmlNode *subvalue = sub ? child_el(sub, PP_WSMAN_NS_SOAP, "Value") : NULL;
	if (subvalue)
		value = subvalue;
	if ((rc = pp_wsxml_text(value, resp->fault_subcode, sizeof(resp->fault_subcode),
				PP_WSXML_TRIM, "s:Fault code", err)) < 0)
		return rc;
	fault_classify(doc, value, resp);
	const xmlNode *reason = child_el(fault, PP_WSMAN_NS_SOAP, "Reason");
	const xmlNode *text = reason ? child_el(reason, PP_WSMAN_NS_SOAP, "Text") : NULL;
	if (text && (rc = pp_wsxml_text(text, resp->fault_reason, sizeof(resp->fault_reason),
					PP_WSXML_TRIM | PP_WSXML_TRUNCATE, "s:Reason", err)) < 0)
		return rc;
	return 0;
}

static int response_body(const struct pp_wsman_call *call, const xmlNode *el,
			 struct pp_wsman_response *resp, struct pp_err *err)
{
	char expect[PP_WSMAN_NAME_MAX + 1];
	int rc;

	if ((rc = body_name_for(call->op, call->resource_uri, call->method, "_OUTPUT", expect,
				err)) < 0)
		return rc;
	if (!el) {
		if (call->op == PP_WSMAN_OP_PUT)
			return 0;
		return pp_err_set(err, PP_EPROTO, "response s:Body is empty, expected <%s>",
				  expect);
	}
	if (!pp_wsxml_is(el, call->resource_uri, expect))
		return pp_err_set(err, PP_EPROTO,
				  "response s:Body holds <%.64s> (namespace '%.100s'), expected "
				  "<%s> in the ResourceURI namespace",
				  (const char *)el->name, pp_wsxml_ns(el), expect);
	memcpy(resp->body_name, expect, strlen(expect) + 1);
	if ((rc = parse_props(el, call->resource_uri, expect, &resp->props, err)) < 0)
		return rc;
	if (call->op == PP_WSMAN_OP_INVOKE) {
		const char *rv = pp_wsman_props_get(&resp->props, "ReturnValue");
		if (!rv)
			return pp_err_set(err, PP_EPROTO, "%s has no ReturnValue", expect);
		if ((rc = pp_parse_u32(rv, 0, UINT32_MAX, &resp->return_value, "ReturnValue",
				       err)) < 0)
			return rc;
		resp->has_return_value = true;
	}
	return 0;
}

/* True when item holds the call's pick (or no pick is set). */
static bool item_matches(const struct pp_wsman_call *call, const xmlNode *item)
{
	char text[PP_WSMAN_PICK_MAX + 1];
	if (!call->pick_name[0])
		return true;
	for (const xmlNode *n = pp_wsxml_first_el(item); n; n = pp_wsxml_next_el(n)) {
		if (!pp_wsxml_is(n, call->resource_uri, call->pick_name))
			continue;
		if (pp_wsxml_text(n, text, sizeof(text), PP_WSXML_TRIM, "pick", NULL) == 0 &&
		    text_eq(text, call->pick_value))
			return true;
	}
	return false;
}

/* wsen:Items / wsman:Items: instances of the call's class only; the picked one parsed. */
static int parse_items(const struct pp_wsman_call *call, const xmlNode *list,
		       struct pp_wsman_response *resp, struct pp_err *err)
{
	char cls[PP_WSMAN_NAME_MAX + 1];
	int rc;
	if ((rc = pp_wsxml_element_only(list, "Items", err)) < 0 ||
	    (rc = body_name_for(PP_WSMAN_OP_GET, call->resource_uri, NULL, NULL, cls, err)) < 0)
		return rc;
	for (const xmlNode *n = pp_wsxml_first_el(list); n; n = pp_wsxml_next_el(n)) {
		if (!pp_wsxml_is(n, call->resource_uri, cls))
			return pp_err_set(err, PP_EPROTO,
					  "Items holds <%.64s> (namespace '%.100s'), expected <%s> "
					  "in the ResourceURI namespace",
					  (const char *)n->name, pp_wsxml_ns(n), cls);
		resp->item_count++;
		if (resp->picked || !item_matches(call, n))
			continue;
		if ((rc = parse_props(n, call->resource_uri, cls, &resp->props, err)) < 0)
			return rc;
		memcpy(resp->body_name, cls, strlen(cls) + 1);
		resp->picked = true;
	}
	return 0;
}

/* EnumerateResponse, PullResponse (wsen: items; optimized Enumerate: wsman: items) and
 * ReleaseResponse (empty). */
static int enum_response_body(const struct pp_wsman_call *call, const xmlNode *el,
			      struct pp_wsman_response *resp, struct pp_err *err)
{
	bool pull = call->op == PP_WSMAN_OP_PULL, seen_ctx = false, seen_items = false;
	const char *want = pull ? "PullResponse" : "EnumerateResponse";
	const char *items_ns = pull ? PP_WSMAN_NS_WSEN : PP_WSMAN_NS_WSMAN;
	int rc;
	if (call->op == PP_WSMAN_OP_RELEASE) {
		if (el)
			return pp_err_set(err, PP_EPROTO,
					  "ReleaseResponse has a body element <%.64s>",
					  (const char *)el->name);
		return 0;
	}
	if (!pp_wsxml_is(el, PP_WSMAN_NS_WSEN, want))
		return pp_err_set(err, PP_EPROTO, "response s:Body holds <%.64s>, expected wsen:%s",
				  el ? (const char *)el->name : "nothing", want);
	if ((rc = pp_wsxml_element_only(el, want, err)) < 0)
		return rc;
	for (const xmlNode *n = pp_wsxml_first_el(el); n; n = pp_wsxml_next_el(n)) {
		if (!seen_ctx && pp_wsxml_is(n, PP_WSMAN_NS_WSEN, "EnumerationContext")) {
			seen_ctx = true;
			if ((rc = pp_wsxml_text(n, resp->enum_context, sizeof(resp->enum_context),
						PP_WSXML_TRIM, "wsen:EnumerationContext", err)) <
				0 ||
			    (rc = pp_wsman_check_context(resp->enum_context, err)) < 0) {
				resp->enum_context[0] = '\0';
				return rc;
			}
		} else if (!seen_items && pp_wsxml_is(n, items_ns, "Items")) {
			seen_items = true;
			if ((rc = parse_items(call, n, resp, err)) < 0)
				return rc;
		} else if (!resp->end_of_sequence && pp_wsxml_is(n, items_ns, "EndOfSequence")) {
			resp->end_of_sequence = true;
		} else {
			return pp_err_set(err, PP_EPROTO, "%s: unexpected element <%.64s>", want,
					  (const char *)n->name);
		}
	}
	if (!seen_ctx && !resp->end_of_sequence)
		return pp_err_set(err, PP_EPROTO,
				  "%s has neither wsen:EnumerationContext nor EndOfSequence", want);
	return 0;
}

/* Peer text in our one-line error: control characters become spaces. */
static void printable(const char *in, char *out, size_t cap)
{
	size_t i = 0;
	for (; in[i] && i + 1 < cap; i++)
		out[i] = (unsigned char)in[i] < 0x20 || in[i] == 0x7F ? ' ' : in[i];
	out[i] = '\0';
}

/* A SOAP fault in answer to `call`: always a failure (-PP_EPROTO); resp says which
 * fault when it is ours. A fault without wsa:RelatesTo (the peer could not read our
 * MessageID) is still a failure of this call; one that names another message is not
 * ours. */
static int response_fault(const struct pp_wsman_call *call, xmlDoc *doc, const xmlNode *el,
			  struct pp_wsman_response *resp, struct pp_err *err)
{
	int rc = parse_fault(doc, el, resp, err);
	if (rc < 0)
		return rc;
	if (resp->relates_to[0] && !text_eq(resp->relates_to, call->message_id)) {
		resp->is_fault = false;
		resp->fault = PP_WSMAN_FAULT_NONE;
		resp->fault_subcode[0] = resp->fault_reason[0] = '\0';
		return pp_err_set(err, PP_EPROTO,
				  "fault's wsa:RelatesTo '%.80s' does not match wsa:MessageID "
				  "'%.80s'",
				  resp->relates_to, call->message_id);
	}
	char reason[120];
	printable(resp->fault_reason, reason, sizeof(reason));
	return pp_err_set(err, PP_EPROTO, "SOAP fault %.80s: %s", resp->fault_subcode,
			  reason[0] ? reason : "(no reason)");
}

/* The headers say this is the answer to `call`: wsa:RelatesTo is its MessageID and
 * wsa:Action its action + "Response". */
static int response_answers(const struct pp_wsman_call *call, const struct pp_wsman_response *resp,
			    struct pp_err *err)
{
	char expect_action[PP_WSMAN_URI_MAX + 16];
	if (!resp->relates_to[0])
		return pp_err_set(err, PP_EPROTO, "SOAP header wsa:RelatesTo is missing");
	if (!text_eq(resp->relates_to, call->message_id))
		return pp_err_set(err, PP_EPROTO,
				  "wsa:RelatesTo '%.80s' does not match wsa:MessageID '%.80s'",
				  resp->relates_to, call->message_id);
	if (!resp->action[0])
		return pp_err_set(err, PP_EPROTO, "SOAP header wsa:Action is missing");
	int n = snprintf(expect_action, sizeof(expect_action), "%sResponse", call->action);
	if (n < 0 || (size_t)n >= sizeof(expect_action))
		return pp_err_set(err, PP_EINVAL, "request wsa:Action is too long");
	if (!text_eq(resp->action, expect_action))
		return pp_err_set(err, PP_EPROTO,
				  "wsa:Action '%.100s' is not the expected '%.100s'", resp->action,
				  expect_action);
	return 0;
}

int pp_wsman_response_parse(const struct pp_wsman_call *call, const void *xml, size_t len,
			    struct pp_wsman_response *resp, struct pp_err *err)
{
	xmlDoc *doc = NULL;
	struct envelope env;
	int rc;

	response_reset(resp);
	if (!call || call->op == PP_WSMAN_OP_NONE || !call->message_id[0])
		return pp_err_set(err, PP_EINVAL, "no request to match the response against");
	if ((rc = pp_xml_parse_safe(xml, len, PP_WSMAN_DOC_MAX, "XML document", &doc, err)) < 0)
		goto out;
	if ((rc = envelope_split(doc, &env, false, err)) < 0)
		goto out;
	struct hslot slots[] = {
	    HTEXT(WSA, "wsa", "RelatesTo", resp->relates_to, false),
	    HTEXT(WSA, "wsa", "Action", resp->action, false),
	    HTEXT(WSA, "wsa", "MessageID", resp->message_id, false),
	    HNONE(WSA, "wsa", "To", H_IGNORE),
	    HNONE(WSMAN, "wsman", "ResourceURI", H_IGNORE),
	};
	if ((rc = parse_headers(env.header, slots, sizeof(slots) / sizeof(slots[0]), NULL, err)) <
	    0)
		goto out;
	if ((rc = pp_wsxml_element_only(env.body, "s:Body", err)) < 0)
		goto out;
	const xmlNode *el = pp_wsxml_first_el(env.body);
	if (el && pp_wsxml_next_el(el)) {
		rc = pp_err_set(err, PP_EPROTO, "response s:Body holds more than one element");
		goto out;
	}
	if (pp_wsxml_is(el, PP_WSMAN_NS_SOAP, "Fault")) {
		rc = response_fault(call, doc, el, resp, err);
		goto out;
	}
	if ((rc = response_answers(call, resp, err)) < 0)
		goto out;
	if (call->op == PP_WSMAN_OP_ENUMERATE || call->op == PP_WSMAN_OP_PULL ||
	    call->op == PP_WSMAN_OP_RELEASE)
		rc = enum_response_body(call, el, resp, err);
	else
		rc = response_body(call, el, resp, err);
out:
	pp_xml_free_wipe(doc);
	if (rc < 0)
		pp_wsman_props_wipe(&resp->props);
	return pp_err_one_line(err, rc);
}
