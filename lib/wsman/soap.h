/* WS-Management SOAP envelopes (docs/protocol.md section 4): SOAP 1.2, WS-Addressing 2004/08,
 * WS-Management 1.0 (DMTF DSP0226), WS-Transfer Get/Put and method invocation.
 *
 * Client side (configuration server): pp_wsman_build_{get,put,invoke} write a request
 * envelope and record in a struct pp_wsman_call what pp_wsman_response_parse must see in
 * the answer (wsa:RelatesTo = our wsa:MessageID, wsa:Action = our action + "Response").
 * Device side: pp_wsman_request_parse reads a request, pp_wsman_response_build /
 * pp_wsman_output_build answer it (written as text: reply.c), pp_wsman_fault_build
 * refuses it. Requests and answers are written from templates (xmlw.h), not as trees.
 *
 * Limits: an input of more than PP_WSMAN_DOC_MAX bytes is refused before it is parsed;
 * outputs are refused when over PP_WSMAN_DOC_MAX or the pp_buf's own ceiling (initialise
 * it with pp_buf_init(&b, PP_WSMAN_DOC_MAX)). Instances and parameters are bounded by
 * struct pp_wsman_props. Values may be secrets: use pp_buf_free_wipe on envelopes and
 * pp_wsman_{request,response}_wipe on parsed messages.
 *
 * libxml2: programs call pp_wsman_init() once at start-up, before any thread uses this
 * module (libxml2 keeps process-wide tables; this module never changes its global
 * settings, every option is per parser context). */
#ifndef PSKPROV_WSMAN_SOAP_H
#define PSKPROV_WSMAN_SOAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/bytes.h"
#include "core/err.h"
#include "wsman/props.h"

#define PP_WSMAN_NS_SOAP "http://www.w3.org/2003/05/soap-envelope"
#define PP_WSMAN_NS_WSA "http://schemas.xmlsoap.org/ws/2004/08/addressing"
#define PP_WSMAN_NS_WSMAN "http://schemas.dmtf.org/wbem/wsman/1/wsman.xsd"
#define PP_WSMAN_ANONYMOUS "http://schemas.xmlsoap.org/ws/2004/08/addressing/role/anonymous"

#define PP_WSMAN_ACTION_GET "http://schemas.xmlsoap.org/ws/2004/09/transfer/Get"
#define PP_WSMAN_ACTION_PUT "http://schemas.xmlsoap.org/ws/2004/09/transfer/Put"
#define PP_WSMAN_ACTION_WSMAN_FAULT "http://schemas.dmtf.org/wbem/wsman/1/wsman/fault"
#define PP_WSMAN_ACTION_WSA_FAULT "http://schemas.xmlsoap.org/ws/2004/08/addressing/fault"

/* WS-Enumeration 2004/09 (DSP0226 sections 8.2 to 8.4). */
#define PP_WSMAN_NS_WSEN "http://schemas.xmlsoap.org/ws/2004/09/enumeration"
#define PP_WSMAN_ACTION_ENUMERATE PP_WSMAN_NS_WSEN "/Enumerate"
#define PP_WSMAN_ACTION_PULL PP_WSMAN_NS_WSEN "/Pull"
#define PP_WSMAN_ACTION_RELEASE PP_WSMAN_NS_WSEN "/Release"
#define PP_WSMAN_ACTION_WSEN_FAULT PP_WSMAN_NS_WSEN "/fault"

/* wsman:OperationTimeout sent with every request (xs:duration). */
#define PP_WSMAN_OPERATION_TIMEOUT "PT60S"

#define PP_WSMAN_DOC_MAX (64 * 1024) /* bytes, in and out */
#define PP_WSMAN_URI_MAX 512         /* To, ResourceURI, Action */
#define PP_WSMAN_ID_MAX 256          /* MessageID, RelatesTo */
#define PP_WSMAN_TIMEOUT_MAX 64      /* OperationTimeout text */
#define PP_WSMAN_REASON_MAX 512      /* fault reason text (longer ones are cut) */
#define PP_WSMAN_SUBCODE_MAX 160
#define PP_WSMAN_CONTEXT_MAX 128 /* EnumerationContext text */
#define PP_WSMAN_PICK_MAX 64     /* pp_wsman_call pick_value */
/* Pull MaxElements and the characters Intel's library sends as MaxCharacters. */
#define PP_WSMAN_PULL_MAX_CHARACTERS 99999u

enum pp_wsman_op {
	PP_WSMAN_OP_NONE = 0,
	PP_WSMAN_OP_GET,
	PP_WSMAN_OP_PUT,
	PP_WSMAN_OP_INVOKE,
	PP_WSMAN_OP_ENUMERATE,
	PP_WSMAN_OP_PULL,
	PP_WSMAN_OP_RELEASE,
};

/* SOAP faults. HTTP status, following SOAP 1.2 Part 2 section 7.5.1.2 (env:Sender -> 400,
 * env:Receiver -> 500) and AMT, which answers most faults with 400:
 *   ACCESS_DENIED            wsman:AccessDenied                   400
 *   ACTION_NOT_SUPPORTED     wsa:ActionNotSupported               400
 *   INVALID_PARAMETER        wsman:InvalidParameter               400
 *   DESTINATION_UNREACHABLE  wsa:DestinationUnreachable           400 (unknown ResourceURI)
 *   INVALID_HEADER           wsa:InvalidMessageInformationHeader  400
 *   ENCODING_LIMIT           wsman:EncodingLimit                  400
 *   SCHEMA_VALIDATION        wsman:SchemaValidationError          400
 *   INTERNAL_ERROR           wsman:InternalError                  500
 *   INVALID_SELECTORS        wsman:InvalidSelectors               400 (missing, unknown)
 *   INVALID_ENUM_CONTEXT     wsen:InvalidEnumerationContext       500 (unknown, expired)
 * 401 is kept for HTTP Digest failures (with a WWW-Authenticate challenge and no SOAP
 * body): a client that sees 401 re-authenticates, which is wrong for wsman:AccessDenied
 * (authenticated but not allowed, e.g. in the wrong provisioning state). */
enum pp_wsman_fault {
	PP_WSMAN_FAULT_NONE = 0,
	PP_WSMAN_FAULT_ACCESS_DENIED,
	PP_WSMAN_FAULT_ACTION_NOT_SUPPORTED,
	PP_WSMAN_FAULT_INVALID_PARAMETER,
	PP_WSMAN_FAULT_DESTINATION_UNREACHABLE,
	PP_WSMAN_FAULT_INVALID_HEADER,
	PP_WSMAN_FAULT_ENCODING_LIMIT,
	PP_WSMAN_FAULT_SCHEMA_VALIDATION,
	PP_WSMAN_FAULT_INTERNAL_ERROR,
	PP_WSMAN_FAULT_INVALID_SELECTORS,
	PP_WSMAN_FAULT_INVALID_ENUM_CONTEXT,
	PP_WSMAN_FAULT_OTHER, /* parsed by a client: a subcode this module does not know */
};

/* Initialises libxml2 (xmlInitParser). Call once from the main thread at start-up. */
void pp_wsman_init(void);

/* "wsman:AccessDenied", ... ("" for NONE/OTHER). */
const char *pp_wsman_fault_name(enum pp_wsman_fault fault);
/* HTTP status for a fault (table above); 500 for values outside it. */
int pp_wsman_fault_http_status(enum pp_wsman_fault fault);
/* The last path segment of a resource URI: the class name ("AMT_GeneralSettings"). */
const char *pp_wsman_class_name(const char *resource_uri);

/* ---- client side ---- */

/* What a request was, for checking its response. Filled by the builders. */
struct pp_wsman_call {
	enum pp_wsman_op op;
	char resource_uri[PP_WSMAN_URI_MAX + 1];
	char action[PP_WSMAN_URI_MAX + 1];
	char method[PP_WSMAN_NAME_MAX + 1];
	char message_id[PP_WSMAN_ID_MAX + 1]; /* "uuid:" + random version 4 UUID */
	/* Pull (and an optimized EnumerateResponse): keep the first item whose property
	 * pick_name equals pick_value; an empty pick_name keeps the first item. Set with
	 * pp_wsman_call_pick after building the Pull. */
	char pick_name[PP_WSMAN_NAME_MAX + 1];
	char pick_value[PP_WSMAN_PICK_MAX + 1];
};

/* `to` is the wsa:To address ("/wsman" or "https://host:16993/wsman"); `selectors`
 * (may be NULL) become a wsman:SelectorSet. */
int pp_wsman_build_get(const char *to, const char *resource_uri,
		       const struct pp_wsman_props *selectors, struct pp_wsman_call *call,
		       struct pp_buf *out, struct pp_err *err) PP_WUR;
/* Body: <h:Class xmlns:h="resource_uri"> with one <h:name>value</h:name> per property. */
int pp_wsman_build_put(const char *to, const char *resource_uri,
		       const struct pp_wsman_props *selectors,
		       const struct pp_wsman_props *instance, struct pp_wsman_call *call,
		       struct pp_buf *out, struct pp_err *err) PP_WUR;
/* Action <resource_uri>/<method>; body <h:<method>_INPUT xmlns:h="resource_uri"> with
 * one child per parameter (params may be NULL for none). */
int pp_wsman_build_invoke(const char *to, const char *resource_uri, const char *method,
			  const struct pp_wsman_props *selectors,
			  const struct pp_wsman_props *params, struct pp_wsman_call *call,
			  struct pp_buf *out, struct pp_err *err) PP_WUR;

/* Enumerate: body <wsen:Enumerate/> (no filter, not optimized). */
int pp_wsman_build_enumerate(const char *to, const char *resource_uri, struct pp_wsman_call *call,
			     struct pp_buf *out, struct pp_err *err) PP_WUR;
/* Pull: wsen:EnumerationContext (printable, at most PP_WSMAN_CONTEXT_MAX bytes),
 * wsen:MaxElements (1 or more) and wsen:MaxCharacters PP_WSMAN_PULL_MAX_CHARACTERS, as
 * Intel's library sends them. The pick is cleared: set it after with pp_wsman_call_pick. */
int pp_wsman_build_pull(const char *to, const char *resource_uri, const char *context,
			uint32_t max_elements, struct pp_wsman_call *call, struct pp_buf *out,
			struct pp_err *err) PP_WUR;
int pp_wsman_build_release(const char *to, const char *resource_uri, const char *context,
			   struct pp_wsman_call *call, struct pp_buf *out,
			   struct pp_err *err) PP_WUR;
/* Which item of a PullResponse to keep (name NULL or "": the first). -PP_EINVAL for a
 * bad name or a value longer than PP_WSMAN_PICK_MAX. */
int pp_wsman_call_pick(struct pp_wsman_call *call, const char *name, const char *value,
		       struct pp_err *err) PP_WUR;

struct pp_wsman_response {
	char action[PP_WSMAN_URI_MAX + 1];
	char message_id[PP_WSMAN_ID_MAX + 1];
	char relates_to[PP_WSMAN_ID_MAX + 1];
	bool is_fault;
	enum pp_wsman_fault fault;
	char fault_subcode[PP_WSMAN_SUBCODE_MAX + 1]; /* "wsman:AccessDenied", or as sent */
	char fault_reason[PP_WSMAN_REASON_MAX + 1];   /* first s:Reason/s:Text, may be cut */
	char body_name[PP_WSMAN_NAME_MAX + 1];        /* "" when the body is empty */
	struct pp_wsman_props props;                  /* the body element's children */
	bool has_return_value;
	uint32_t return_value; /* method outputs: ReturnValue (0 = success) */
	/* WS-Enumeration */
	char enum_context[PP_WSMAN_CONTEXT_MAX + 1]; /* "" when absent (the end) */
	bool end_of_sequence; /* PullResponse wsen:EndOfSequence (optimized: wsman:) */
	size_t item_count;    /* items in wsen:Items (wsman:Items when optimized) */
	bool picked;          /* the picked item is in props, its element name in body_name */
};

/* Parses the response to `call`. Returns 0 for a normal response: wsa:RelatesTo equal to
 * call->message_id, wsa:Action equal to call->action + "Response", and the body element
 * matching the call (Get: the class; Put: the class or nothing; method:
 * <method>_OUTPUT with a ReturnValue; Enumerate: wsen:EnumerateResponse with a context,
 * or wsman:Items and wsman:EndOfSequence when optimized; Pull: wsen:PullResponse with
 * items of the call's class only, an optional context and wsen:EndOfSequence; Release:
 * an empty body). A pick that matches no item is not an error: picked stays false.
 * Returns -PP_EPROTO with resp->is_fault set for a
 * SOAP fault (its wsa:RelatesTo, when present, must still match), and other negative
 * codes when the document is oversized, malformed or not the answer to this call. */
int pp_wsman_response_parse(const struct pp_wsman_call *call, const void *xml, size_t len,
			    struct pp_wsman_response *resp, struct pp_err *err) PP_WUR;
void pp_wsman_response_wipe(struct pp_wsman_response *resp);

/* ---- device side ---- */

struct pp_wsman_request {
	enum pp_wsman_op op;
	char to[PP_WSMAN_URI_MAX + 1];
	char resource_uri[PP_WSMAN_URI_MAX + 1];
	char action[PP_WSMAN_URI_MAX + 1];
	char message_id[PP_WSMAN_ID_MAX + 1];
	char operation_timeout[PP_WSMAN_TIMEOUT_MAX + 1]; /* "" when absent */
	char method[PP_WSMAN_NAME_MAX + 1];               /* PP_WSMAN_OP_INVOKE */
	char body_name[PP_WSMAN_NAME_MAX + 1];            /* "" when the body is empty */
	/* WS-Enumeration: Pull and Release context; Enumerate wsman:OptimizeEnumeration;
	 * MaxElements (Enumerate: wsman:, Pull: wsen:; 1 when absent); MaxCharacters (0 when
	 * absent). */
	char enum_context[PP_WSMAN_CONTEXT_MAX + 1];
	bool optimize;
	uint32_t max_elements;
	uint32_t max_characters;
	struct pp_wsman_props selectors;
	struct pp_wsman_props params; /* Put: the instance; method: the parameters */
	/* After a failed parse: the fault to answer with. message_id is kept when it was
	 * read, so the fault can carry wsa:RelatesTo. */
	enum pp_wsman_fault fault;
};

/* Requires wsa:Action, wsa:To, wsman:ResourceURI, wsa:MessageID and an anonymous
 * wsa:ReplyTo (To, ResourceURI and Action printable ASCII without spaces, at most
 * PP_WSMAN_URI_MAX bytes); Action must be Get, Put, Enumerate, Pull, Release or
 * <ResourceURI>/<Method>; Get has an empty body, Put a <Class> element in the ResourceURI
 * namespace, a method <Method>_INPUT, Enumerate wsen:Enumerate (children:
 * wsman:OptimizeEnumeration, wsman:MaxElements), Pull wsen:Pull (wsen:EnumerationContext,
 * wsen:MaxElements, wsen:MaxCharacters, wsen:MaxTime), Release wsen:Release (context). A
 * missing or oversized context fails with fault wsen:InvalidEnumerationContext. Unknown
 * headers are ignored unless they carry s:mustUnderstand="true". Which resource URIs
 * and methods exist is the caller's business (wsa:DestinationUnreachable,
 * wsa:ActionNotSupported). */
int pp_wsman_request_parse(const void *xml, size_t len, struct pp_wsman_request *req,
			   struct pp_err *err) PP_WUR;
void pp_wsman_request_wipe(struct pp_wsman_request *req);

/* Response to req: wsa:Action = req->action + "Response", wsa:RelatesTo =
 * req->message_id, a new wsa:MessageID; body <g:body_name xmlns:g="ResourceURI"> with
 * the properties, or an empty body when body_name is NULL. */
int pp_wsman_response_build(const struct pp_wsman_request *req, const char *body_name,
			    const struct pp_wsman_props *props, struct pp_buf *out,
			    struct pp_err *err) PP_WUR;
/* Method response: <g:<method>_OUTPUT> with <g:ReturnValue> first, then `outputs`
 * (may be NULL). req must be a PP_WSMAN_OP_INVOKE. */
int pp_wsman_output_build(const struct pp_wsman_request *req, uint32_t return_value,
			  const struct pp_wsman_props *outputs, struct pp_buf *out,
			  struct pp_err *err) PP_WUR;
/* EnumerateResponse (req an Enumerate) or PullResponse (req a Pull): context (NULL when
 * the sequence is over), n items of the ResourceURI's class, EndOfSequence when `end`.
 * EnumerateResponse carries items (in wsman:Items) only when req->optimize. */
int pp_wsman_enum_response_build(const struct pp_wsman_request *req, const char *context,
				 const struct pp_wsman_props *items, size_t n, bool end,
				 struct pp_buf *out, struct pp_err *err) PP_WUR;
/* ReleaseResponse: an empty body. */
int pp_wsman_release_response_build(const struct pp_wsman_request *req, struct pp_buf *out,
				    struct pp_err *err) PP_WUR;
/* Every response and fault carries wsa:To (anonymous), wsa:RelatesTo, wsa:Action,
 * wsa:MessageID and wsman:ResourceURI (when the request's was read). */
/* Fault envelope; req may be NULL or partly parsed (wsa:RelatesTo is sent when its
 * message_id is set). reason replaces the standard text when not NULL; never put a
 * secret in it. *http_status (may be NULL) gets pp_wsman_fault_http_status(fault). */
int pp_wsman_fault_build(const struct pp_wsman_request *req, enum pp_wsman_fault fault,
			 const char *reason, struct pp_buf *out, int *http_status,
			 struct pp_err *err) PP_WUR;

#endif
