/* The device's answers (soap.h: pp_wsman_response_build, pp_wsman_output_build,
 * pp_wsman_enum_response_build, pp_wsman_release_response_build) written straight as text
 * (lib/wsman/xmlw.h): no tree, no allocation per element, no serializer; the emulator
 * answers every request of thousands of devices, and a fleet's load must not cost more
 * than the server it loads. The bytes are those the libxml2 tree builders gave before:
 * tests/unit/test_wsman_reply.c holds them. Faults are still built as a tree (soap.c). */
#include "wsman/soap.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "core/parse.h"
#include "core/secret.h"
#include "wsman/soap_impl.h"
#include "wsman/xmlw.h"

/* A usual answer is 1 to 4 KiB: room for it at once in the emulator's reused buffer. */
#define REPLY_ROOM 4096

/* ---- the checks soap.c's builders make on what is sent (same rules, same words) ---- */

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

/* The declaration, the envelope's start and the whole header (soap.c reply_envelope). */
static int put_head(struct pp_xmlw *w, const struct pp_wsman_request *req, const char *action,
		    bool wsen, struct pp_err *err)
{
	char id[PP_WSMAN_ID_MAX + 1];
	int rc = pp_wsman_new_message_id(id, sizeof(id), err);
	if (rc < 0)
		return rc;
	pp_xmlw_envelope_start(w, wsen);
	pp_xmlw_el(w, "wsa:", "To", PP_WSMAN_ANONYMOUS);
	pp_xmlw_el(w, "wsa:", "RelatesTo", req->message_id); /* request_ids_check: not empty */
	pp_xmlw_el(w, "wsa:", "Action", action);
	pp_xmlw_el(w, "wsa:", "MessageID", id);
	pp_xmlw_el(w, "wsman:", "ResourceURI", req->resource_uri);
	pp_xmlw_put(w, "</s:Header>");
	return 0;
}

/* soap.c build_reply. */
static int reply(const struct pp_wsman_request *req, const char *body_name,
		 const uint32_t *return_value, const struct pp_wsman_props *props,
		 struct pp_buf *out, struct pp_err *err)
{
	char action[PP_WSMAN_URI_MAX + 16];
	struct pp_xmlw w;
	int rc, n;

	if ((rc = pp_wsman_check_request_ids(req, err)) < 0 ||
	    (rc = pp_wsman_check_props(props, "body", err)) < 0)
		return rc;
	if (body_name && !pp_wsman_name_valid(body_name))
		return pp_err_set(err, PP_EINVAL, "body element name '%.64s' is not valid",
				  body_name);
	n = snprintf(action, sizeof(action), "%sResponse", req->action);
	if (n < 0 || (size_t)n >= sizeof(action) || !req->action[0])
		return pp_err_set(err, PP_EINVAL, "request wsa:Action is empty or too long");
	pp_xmlw_begin(&w, out, REPLY_ROOM);
	if ((rc = put_head(&w, req, action, false, err)) < 0)
		return rc;
	if (!body_name) {
		pp_xmlw_put(&w, "<s:Body/>");
		return pp_xmlw_end(&w, err);
	}
	bool empty = !return_value && (!props || props->count == 0);
	pp_xmlw_put(&w, "<s:Body>");
	pp_xmlw_ns_open(&w, "g", body_name, req->resource_uri, empty);
	if (return_value) {
		char num[16];
		snprintf(num, sizeof(num), "%u", (unsigned)*return_value);
		pp_xmlw_el(&w, "g:", "ReturnValue", num);
	}
	pp_xmlw_props(&w, "g", props);
	if (!empty)
		pp_xmlw_ns_close(&w, "g", body_name);
	pp_xmlw_put(&w, "</s:Body>");
	return pp_xmlw_end(&w, err);
}

int pp_wsman_response_build(const struct pp_wsman_request *req, const char *body_name,
			    const struct pp_wsman_props *props, struct pp_buf *out,
			    struct pp_err *err)
{
	return reply(req, body_name, NULL, props, out, err);
}

int pp_wsman_output_build(const struct pp_wsman_request *req, uint32_t return_value,
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

int pp_wsman_release_response_build(const struct pp_wsman_request *req, struct pp_buf *out,
				    struct pp_err *err)
{
	if (req->op != PP_WSMAN_OP_RELEASE)
		return pp_err_set(err, PP_EINVAL,
				  "ReleaseResponse to a request that is not Release");
	return reply(req, NULL, NULL, NULL, out, err);
}

/* n instances <g:Class xmlns:g="ResourceURI"> (soap.c add_items). */
static int put_items(struct pp_xmlw *w, const struct pp_wsman_request *req,
		     const struct pp_wsman_props *items, size_t n, struct pp_err *err)
{
	char name[PP_WSMAN_NAME_MAX + 1];
	int rc = class_element(req->resource_uri, name, err);
	for (size_t i = 0; rc == 0 && i < n; i++) {
		bool empty = items[i].count == 0;
		pp_xmlw_ns_open(w, "g", name, req->resource_uri, empty);
		pp_xmlw_props(w, "g", &items[i]);
		if (!empty)
			pp_xmlw_ns_close(w, "g", name);
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
	if ((context || !pull) && (rc = pp_wsman_check_context(context, err)) < 0)
		return rc;
	if ((rc = pp_wsman_check_request_ids(req, err)) < 0)
		return rc;
	for (size_t i = 0; i < n; i++) {
		if ((rc = pp_wsman_check_props(&items[i], "item", err)) < 0)
			return rc;
	}
	return 0;
}

int pp_wsman_enum_response_build(const struct pp_wsman_request *req, const char *context,
				 const struct pp_wsman_props *items, size_t n, bool end,
				 struct pp_buf *out, struct pp_err *err)
{
	bool pull = req->op == PP_WSMAN_OP_PULL;
	struct pp_xmlw w;
	int rc;
	if ((rc = enum_check(req, context, items, n, err)) < 0)
		return rc;
	const char *action =
	    pull ? PP_WSMAN_ACTION_PULL "Response" : PP_WSMAN_ACTION_ENUMERATE "Response";
	const char *el = pull ? "PullResponse" : "EnumerateResponse";
	const char *pfx = pull ? "wsen:" : "wsman:"; /* of Items and EndOfSequence */
	bool list = pull || req->optimize;
	pp_xmlw_begin(&w, out, REPLY_ROOM);
	if ((rc = put_head(&w, req, action, true, err)) < 0)
		return rc;
	pp_xmlw_put(&w, "<s:Body><wsen:");
	pp_xmlw_put(&w, el);
	pp_xmlw_put(&w, context || list ? ">" : "/>");
	if (context)
		pp_xmlw_el(&w, "wsen:", "EnumerationContext", context);
	if (list) {
		pp_xmlw_put(&w, "<");
		pp_xmlw_put(&w, pfx);
		pp_xmlw_put(&w, n ? "Items>" : "Items/>");
		if ((rc = put_items(&w, req, items, n, err)) < 0)
			return rc;
		if (n) {
			pp_xmlw_put(&w, "</");
			pp_xmlw_put(&w, pfx);
			pp_xmlw_put(&w, "Items>");
		}
		if (end) {
			pp_xmlw_put(&w, "<");
			pp_xmlw_put(&w, pfx);
			pp_xmlw_put(&w, "EndOfSequence/>");
		}
	}
	if (context || list) {
		pp_xmlw_put(&w, "</wsen:");
		pp_xmlw_put(&w, el);
		pp_xmlw_put(&w, ">");
	}
	pp_xmlw_put(&w, "</s:Body>");
	return pp_xmlw_end(&w, err);
}
