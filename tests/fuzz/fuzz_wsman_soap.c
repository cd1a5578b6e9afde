/* SOAP envelope parsers (docs/protocol.md section 4): arbitrary bytes as a device-side request
 * and as a client-side response. A request that parses must be answerable, and our own
 * answer must parse as the response to it (the round trip is checked, not assumed). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/bytes.h"
#include "wsman/amt.h"
#include "wsman/soap.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(int cond)
{
	if (!cond)
		abort();
}

static struct pp_wsman_request req;
static struct pp_wsman_response resp;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	pp_wsman_init();
	return 0;
}

static void call_from(const struct pp_wsman_request *r, struct pp_wsman_call *c)
{
	memset(c, 0, sizeof(*c));
	c->op = r->op;
	memcpy(c->resource_uri, r->resource_uri, sizeof(c->resource_uri));
	memcpy(c->action, r->action, sizeof(c->action));
	memcpy(c->method, r->method, sizeof(c->method));
	memcpy(c->message_id, r->message_id, sizeof(c->message_id));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct pp_err err;
	struct pp_buf out;
	struct pp_wsman_call call;
	int rc;

	pp_buf_init(&out, PP_WSMAN_DOC_MAX);

	/* As a response to a fixed call (its MessageID is in the seeds). */
	memset(&call, 0, sizeof(call));
	/* The last byte (white space after the document in the seeds) picks the call. */
	uint8_t last = size ? data[size - 1] : 0;
	call.op = last & 1 ? PP_WSMAN_OP_INVOKE : PP_WSMAN_OP_GET;
	if (last == '\r')
		call.op = PP_WSMAN_OP_PULL;
	else if (last == ' ')
		call.op = PP_WSMAN_OP_ENUMERATE;
	memcpy(call.resource_uri, PP_AMT_URI_SETUP_AND_CONFIGURATION_SERVICE,
	       sizeof(PP_AMT_URI_SETUP_AND_CONFIGURATION_SERVICE));
	memcpy(call.method, "CommitChanges", sizeof("CommitChanges"));
	memcpy(call.message_id, "uuid:00000000-8086-0000-0000-000000000001",
	       sizeof("uuid:00000000-8086-0000-0000-000000000001"));
	if (call.op == PP_WSMAN_OP_INVOKE)
		memcpy(call.action, PP_AMT_URI_SETUP_AND_CONFIGURATION_SERVICE "/CommitChanges",
		       sizeof(PP_AMT_URI_SETUP_AND_CONFIGURATION_SERVICE "/CommitChanges"));
	else if (call.op == PP_WSMAN_OP_PULL)
		memcpy(call.action, PP_WSMAN_ACTION_PULL, sizeof(PP_WSMAN_ACTION_PULL));
	else if (call.op == PP_WSMAN_OP_ENUMERATE)
		memcpy(call.action, PP_WSMAN_ACTION_ENUMERATE, sizeof(PP_WSMAN_ACTION_ENUMERATE));
	else
		memcpy(call.action, PP_WSMAN_ACTION_GET, sizeof(PP_WSMAN_ACTION_GET));
	if (size > 1 && data[size - 2] == '\n')
		check(pp_wsman_call_pick(&call, "InstanceID", "AMT", &err) == 0);
	rc = pp_wsman_response_parse(&call, data, size, &resp, &err);
	check(strlen(resp.enum_context) <= PP_WSMAN_CONTEXT_MAX);
	check(!resp.picked || resp.item_count > 0);
	check(rc <= 0);
	check(resp.props.count <= PP_WSMAN_PROPS_MAX);
	if (rc == 0) {
		check(strcmp(resp.relates_to, call.message_id) == 0);
		check(call.op != PP_WSMAN_OP_INVOKE || resp.has_return_value);
	}
	pp_wsman_response_wipe(&resp);

	/* As a request. */
	rc = pp_wsman_request_parse(data, size, &req, &err);
	check(rc <= 0);
	check(req.params.count <= PP_WSMAN_PROPS_MAX && req.selectors.count <= PP_WSMAN_PROPS_MAX);
	if (rc < 0) {
		check(req.fault != PP_WSMAN_FAULT_NONE);
		check(pp_wsman_fault_build(&req, req.fault, NULL, &out, NULL, &err) == 0);
		goto out;
	}
	check(req.fault == PP_WSMAN_FAULT_NONE && req.message_id[0] && req.action[0]);
	call_from(&req, &call);
	switch (req.op) {
	case PP_WSMAN_OP_GET:
		rc = pp_wsman_response_build(&req, pp_wsman_class_name(req.resource_uri),
					     &req.selectors, &out, &err);
		break;
	case PP_WSMAN_OP_PUT:
		rc = pp_wsman_response_build(&req, req.body_name, &req.params, &out, &err);
		check(rc == 0);
		break;
	case PP_WSMAN_OP_ENUMERATE:
	case PP_WSMAN_OP_PULL: {
		bool items = req.op == PP_WSMAN_OP_PULL || req.optimize;
		rc = pp_wsman_enum_response_build(&req, "fuzz-ctx", &req.selectors, items ? 1 : 0,
						  items, &out, &err);
		break;
	}
	case PP_WSMAN_OP_RELEASE:
		check(req.enum_context[0] != '\0');
		rc = pp_wsman_release_response_build(&req, &out, &err);
		check(rc == 0);
		break;
	default:
		rc = pp_wsman_output_build(&req, 0, NULL, &out, &err);
		check(rc == 0);
		break;
	}
	if (rc == 0) {
		rc = pp_wsman_response_parse(&call, out.data, out.len, &resp, &err);
		check(rc == 0);
		if (req.op == PP_WSMAN_OP_ENUMERATE || req.op == PP_WSMAN_OP_PULL)
			check(strcmp(resp.enum_context, "fuzz-ctx") == 0);
		if (req.op == PP_WSMAN_OP_PULL)
			check(resp.item_count == 1 && resp.picked &&
			      resp.props.count == req.selectors.count);
		if (req.op == PP_WSMAN_OP_PUT) {
			check(resp.props.count == req.params.count);
			for (size_t i = 0; i < resp.props.count; i++)
				check(strcmp(resp.props.item[i].value, req.params.item[i].value) ==
				      0);
		}
		pp_wsman_response_wipe(&resp);
	}
	check(pp_wsman_fault_build(&req, PP_WSMAN_FAULT_ACCESS_DENIED, NULL, &out, NULL, &err) ==
	      0);
	check(pp_wsman_response_parse(&call, out.data, out.len, &resp, &err) == -PP_EPROTO &&
	      resp.is_fault && resp.fault == PP_WSMAN_FAULT_ACCESS_DENIED);
	pp_wsman_response_wipe(&resp);
out:
	pp_wsman_request_wipe(&req);
	pp_buf_free(&out);
	return 0;
}
