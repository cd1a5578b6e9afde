/* The emulated device's WS-Management (src/device/ws.c over lib/firmware): every class and
 * method, enumeration contexts, faults, Put of AMT_GeneralSettings, the request trace.
 * Requests are built with lib/wsman's client side (as the configuration server does) or
 * written as Intel's library sends them. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <dirent.h>
#include <unistd.h>

#include <cmocka.h>

#include "../../src/device/ws.c"
#include "test_firmware_fixture.h"

#define TO "/wsman"
#define NOW 1700000000
#define SW PP_CIM_URI_SOFTWARE_IDENTITY
#define ETH PP_AMT_URI_ETHERNET_PORT_SETTINGS
#define GS PP_AMT_URI_GENERAL_SETTINGS
#define SCS PP_AMT_URI_SETUP_AND_CONFIGURATION_SERVICE

static const uint8_t ADDR[4] = {127, 1, 2, 3};

struct fx {
	char dir[64];
	struct pp_amt_device *dev;
	struct pp_devws_state *ws;
	struct pp_devws_work *work; /* reused by every roundtrip, as the runtime does */
	struct pp_wsman_call call;
	struct pp_wsman_response resp;
	struct pp_devws_result res;
	struct pp_buf req, out;
	struct pp_err err;
	int64_t now;
};

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	struct pp_err err = {0};
	if (!f)
		return -1;
	pp_wsman_init();
	if (!(f->work = pp_devws_work_new()) ||
	    !fw_tempdir(f->dir, sizeof(f->dir), "test_firmware_ws") ||
	    pp_amt_create(f->dir, &fast_opts, &f->dev, &err) < 0 ||
	    pp_amt_load_key(f->dev, EX_PID, EX_PPS, PW1, NULL, &err) < 0) {
		fprintf(stderr, "setup: %s\n", err.msg);
		pp_devws_work_free(f->work);
		free(f);
		return -1;
	}
	pp_buf_init(&f->req, PP_WSMAN_DOC_MAX);
	pp_buf_init(&f->out, PP_WSMAN_DOC_MAX);
	f->now = NOW;
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;
	pp_amt_free(f->dev);
	pp_devws_state_free(f->ws);
	pp_devws_work_free(f->work);
	pp_buf_free_wipe(&f->req);
	pp_buf_free_wipe(&f->out);
	pp_wsman_response_wipe(&f->resp);
	rm_tree(f->dir);
	free(f);
	return 0;
}

/* Sends f->req to the device and parses the answer against f->call. */
static int roundtrip(struct fx *f)
{
	assert_int_equal(pp_devws_handle(f->work, f->dev, &f->ws, ADDR, f->req.data, f->req.len,
					 f->now, &f->out, &f->res, &f->err),
			 0);
	assert_non_null(strstr((const char *)f->out.data, "ResourceURI>"));
	assert_non_null(strstr((const char *)f->out.data, "RelatesTo>"));
	return pp_wsman_response_parse(&f->call, f->out.data, f->out.len, &f->resp, &f->err);
}

static void get(struct fx *f, const char *uri, const char *sel_name, const char *sel_value)
{
	struct pp_wsman_props sel;
	pp_wsman_props_init(&sel);
	if (sel_name)
		assert_int_equal(pp_wsman_props_add(&sel, sel_name, sel_value, NULL), 0);
	assert_int_equal(pp_wsman_build_get(TO, uri, &sel, &f->call, &f->req, &f->err), 0);
}

static void expect_fault(struct fx *f, enum pp_wsman_fault fault)
{
	assert_int_equal(roundtrip(f), -PP_EPROTO);
	assert_true(f->resp.is_fault);
	if (f->resp.fault != fault)
		fail_msg("fault %s, expected %s (%s)", f->resp.fault_subcode,
			 pp_wsman_fault_name(fault), f->resp.fault_reason);
	/* s:Sender faults are 400; s:Receiver ones (InvalidEnumerationContext, as
	 * WS-Enumeration defines it) 500, per the SOAP 1.2 HTTP binding. */
	assert_int_equal(f->res.http_status, pp_wsman_fault_http_status(fault));
}

static const char *prop(const struct fx *f, const char *name)
{
	const char *v = pp_wsman_props_get(&f->resp.props, name);
	if (!v)
		fail_msg("no property %s", name);
	return v;
}

static void test_general_settings_get(void **state)
{
	struct fx *f = *state;
	get(f, GS, NULL, NULL);
	assert_int_equal(roundtrip(f), 0);
	assert_int_equal(f->resp.props.count, sizeof(gs_props) / sizeof(gs_props[0]));
	assert_true(f->resp.props.count >= 24);
	assert_true(pp_amt_realm_valid(prop(f, "DigestRealm")));
	assert_string_equal(prop(f, "ElementName"), "Intel(r) AMT: General Settings");
	assert_string_equal(prop(f, "AMTNetworkEnabled"), "1");
	assert_string_equal(prop(f, "SharedFQDN"), "true");
	assert_string_equal(prop(f, "RmcpPingResponseEnabled"), "true");
	assert_non_null(strstr((const char *)f->out.data, "<wsman:ResourceURI>" GS "<"));
}

static void test_setup_service_and_uuid(void **state)
{
	struct fx *f = *state;
	uint8_t rfc[16], smbios[16], got[16];
	size_t n = 0;
	get(f, SCS, NULL, NULL);
	assert_int_equal(roundtrip(f), 0);
	assert_true(f->resp.props.count >= 12);
	assert_string_equal(prop(f, "ProvisioningState"), "1");
	assert_string_equal(prop(f, "ProvisioningMode"), "1");
	assert_string_equal(prop(f, "CreationClassName"), "AMT_SetupAndConfigurationService");
	assert_string_equal(prop(f, "SystemName"), "Intel(r) AMT");

	assert_int_equal(
	    pp_wsman_build_invoke(TO, SCS, "GetUuid", NULL, NULL, &f->call, &f->req, &f->err), 0);
	assert_int_equal(roundtrip(f), 0);
	assert_true(f->resp.has_return_value);
	assert_int_equal(f->resp.return_value, 0);
	const char *b64 = prop(f, "UUID");
	assert_int_equal(pp_b64_decode(b64, strlen(b64), got, sizeof(got), &n, NULL), 0);
	assert_int_equal(n, 16);
	pp_amt_uuid(f->dev, rfc);
	pp_uuid_to_smbios(rfc, smbios);
	assert_memory_equal(got, smbios, 16);

	/* CIM_ComputerSystemPackage: the same bytes as 32 upper-case hex digits. */
	char hex[33];
	pp_hex(smbios, 16, hex);
	get(f, PP_CIM_URI_COMPUTER_SYSTEM_PACKAGE, NULL, NULL);
	assert_int_equal(roundtrip(f), 0);
	const char *guid = prop(f, "PlatformGUID");
	assert_int_equal(strlen(guid), 32);
	assert_int_equal(strcasecmp(guid, hex), 0);
	assert_null(strpbrk(guid, "abcdef"));
}

static void test_software_identity(void **state)
{
	struct fx *f = *state;
	/* Several instances: a Get must say which. */
	get(f, SW, NULL, NULL);
	expect_fault(f, PP_WSMAN_FAULT_INVALID_SELECTORS);
	assert_non_null(strstr(f->resp.fault_reason, "InstanceID"));
	get(f, SW, "InstanceID", "No Such Thing");
	expect_fault(f, PP_WSMAN_FAULT_INVALID_SELECTORS);
	get(f, SW, "InstanceID", "AMT FW Core Version");
	assert_int_equal(roundtrip(f), 0);
	assert_string_equal(prop(f, "VersionString"), "6.2.61");
	assert_string_equal(prop(f, "IsEntity"), "true");
	get(f, SW, "InstanceID", "Build Number");
	assert_int_equal(roundtrip(f), 0);
	assert_string_equal(prop(f, "VersionString"), "3535");

	/* Enumerate + Pull as RPS does: everything at once. */
	assert_int_equal(pp_wsman_build_enumerate(TO, SW, &f->call, &f->req, &f->err), 0);
	assert_int_equal(roundtrip(f), 0);
	char ctx[PP_WSMAN_CONTEXT_MAX + 1];
	assert_int_equal(strlen(f->resp.enum_context), 36);
	memcpy(ctx, f->resp.enum_context, sizeof(ctx));
	assert_int_equal(pp_wsman_build_pull(TO, SW, ctx, 999, &f->call, &f->req, &f->err), 0);
	assert_int_equal(pp_wsman_call_pick(&f->call, "InstanceID", "Sku", &f->err), 0);
	assert_int_equal(roundtrip(f), 0);
	assert_int_equal(f->resp.item_count, 11);
	assert_true(f->resp.end_of_sequence);
	assert_string_equal(f->resp.enum_context, "");
	assert_true(f->resp.picked);
	assert_string_equal(prop(f, "VersionString"), "AMT Pro");
	/* The finished context is gone. */
	assert_int_equal(pp_wsman_build_pull(TO, SW, ctx, 999, &f->call, &f->req, &f->err), 0);
	expect_fault(f, PP_WSMAN_FAULT_INVALID_ENUM_CONTEXT);
}

static void test_ethernet_ports(void **state)
{
	struct fx *f = *state;
	get(f, ETH, NULL, NULL);
	expect_fault(f, PP_WSMAN_FAULT_INVALID_SELECTORS);
	get(f, ETH, "InstanceID", "Intel(r) AMT Ethernet Port Settings 0");
	assert_int_equal(roundtrip(f), 0);
	assert_string_equal(prop(f, "IPAddress"), "127.1.2.3");
	assert_string_equal(prop(f, "LinkIsUp"), "true");
	assert_string_equal(prop(f, "DHCPEnabled"), "true");
	assert_string_equal(prop(f, "PhysicalConnectionType"), "0");
	assert_int_equal(strlen(prop(f, "MACAddress")), 17);
	get(f, ETH, "InstanceID", "Intel(r) AMT Ethernet Port Settings 1");
	assert_int_equal(roundtrip(f), 0);
	assert_string_equal(prop(f, "LinkIsUp"), "false");
	assert_string_equal(prop(f, "PhysicalConnectionType"), "3");
	assert_null(pp_wsman_props_get(&f->resp.props, "IPAddress"));
}

/* Pull one at a time, then past the end; expiry; the bound on open contexts. */
static void test_contexts(void **state)
{
	struct fx *f = *state;
	char ctx[PP_WSMAN_CONTEXT_MAX + 1], first[PP_WSMAN_CONTEXT_MAX + 1];
	assert_int_equal(pp_wsman_build_enumerate(TO, ETH, &f->call, &f->req, &f->err), 0);
	assert_int_equal(roundtrip(f), 0);
	memcpy(ctx, f->resp.enum_context, sizeof(ctx));
	assert_int_equal(pp_wsman_build_pull(TO, ETH, ctx, 1, &f->call, &f->req, &f->err), 0);
	assert_int_equal(roundtrip(f), 0);
	assert_int_equal(f->resp.item_count, 1);
	assert_false(f->resp.end_of_sequence);
	assert_string_equal(f->resp.enum_context, ctx);
	assert_string_equal(prop(f, "InstanceID"), "Intel(r) AMT Ethernet Port Settings 0");
	/* A context belongs to its class. */
	assert_int_equal(pp_wsman_build_pull(TO, SW, ctx, 1, &f->call, &f->req, &f->err), 0);
	expect_fault(f, PP_WSMAN_FAULT_INVALID_ENUM_CONTEXT);
	assert_int_equal(pp_wsman_build_pull(TO, ETH, ctx, 1, &f->call, &f->req, &f->err), 0);
	assert_int_equal(roundtrip(f), 0);
	assert_true(f->resp.end_of_sequence);
	assert_string_equal(prop(f, "InstanceID"), "Intel(r) AMT Ethernet Port Settings 1");
	assert_int_equal(pp_wsman_build_pull(TO, ETH, ctx, 1, &f->call, &f->req, &f->err), 0);
	expect_fault(f, PP_WSMAN_FAULT_INVALID_ENUM_CONTEXT);

	/* Expiry: PP_DEVWS_ENUM_TTL_S after the last use. */
	assert_int_equal(pp_wsman_build_enumerate(TO, SW, &f->call, &f->req, &f->err), 0);
	assert_int_equal(roundtrip(f), 0);
	memcpy(ctx, f->resp.enum_context, sizeof(ctx));
	f->now += PP_DEVWS_ENUM_TTL_S - 1;
	assert_int_equal(pp_wsman_build_pull(TO, SW, ctx, 1, &f->call, &f->req, &f->err), 0);
	assert_int_equal(roundtrip(f), 0);
	f->now += PP_DEVWS_ENUM_TTL_S;
	assert_int_equal(pp_wsman_build_pull(TO, SW, ctx, 1, &f->call, &f->req, &f->err), 0);
	expect_fault(f, PP_WSMAN_FAULT_INVALID_ENUM_CONTEXT);

	/* At most PP_DEVWS_ENUM_MAX open: the least recently used goes. */
	for (int i = 0; i <= PP_DEVWS_ENUM_MAX; i++) {
		f->now++;
		assert_int_equal(pp_wsman_build_enumerate(TO, SW, &f->call, &f->req, &f->err), 0);
		assert_int_equal(roundtrip(f), 0);
		if (i == 0)
			memcpy(first, f->resp.enum_context, sizeof(first));
		memcpy(ctx, f->resp.enum_context, sizeof(ctx));
	}
	assert_int_equal(f->ws->count, PP_DEVWS_ENUM_MAX);
	assert_int_equal(pp_wsman_build_pull(TO, SW, first, 1, &f->call, &f->req, &f->err), 0);
	expect_fault(f, PP_WSMAN_FAULT_INVALID_ENUM_CONTEXT);
	/* Release ends one; a second Release of it is refused. */
	assert_int_equal(pp_wsman_build_release(TO, SW, ctx, &f->call, &f->req, &f->err), 0);
	assert_int_equal(roundtrip(f), 0);
	assert_int_equal(f->ws->count, PP_DEVWS_ENUM_MAX - 1);
	assert_int_equal(pp_wsman_build_release(TO, SW, ctx, &f->call, &f->req, &f->err), 0);
	expect_fault(f, PP_WSMAN_FAULT_INVALID_ENUM_CONTEXT);
	assert_int_equal(
	    pp_wsman_build_pull(TO, SW, "not-a-context", 1, &f->call, &f->req, &f->err), 0);
	expect_fault(f, PP_WSMAN_FAULT_INVALID_ENUM_CONTEXT);
}

/* Intel's envelopes, verbatim but for the MessageID: optimized and plain Enumerate. */
static void test_intel_envelopes(void **state)
{
	struct fx *f = *state;
	static const char head[] =
	    "<?xml version=\"1.0\" encoding=\"utf-8\"?><Envelope "
	    "xmlns:a=\"http://schemas.xmlsoap.org/ws/2004/08/addressing\" "
	    "xmlns:w=\"http://schemas.dmtf.org/wbem/wsman/1/wsman.xsd\" "
	    "xmlns=\"http://www.w3.org/2003/05/"
	    "soap-envelope\"><Header><a:Action>" PP_WSMAN_ACTION_ENUMERATE
	    "</a:Action><a:To>/wsman</a:To><w:ResourceURI>" SW "</w:ResourceURI><a:MessageID>7"
	    "</a:MessageID><a:ReplyTo><a:Address>" PP_WSMAN_ANONYMOUS "</a:Address></a:ReplyTo>"
	    "<w:OperationTimeout>PT60S</w:OperationTimeout></Header><Body>";
	char doc[2048];
	snprintf(doc, sizeof(doc), "%s%s", head,
		 "<Enumerate xmlns=\"" PP_WSMAN_NS_WSEN "\"><w:OptimizeEnumeration/>"
		 "<w:MaxElements>20</w:MaxElements></Enumerate></Body></Envelope>");
	memset(&f->call, 0, sizeof(f->call));
	f->call.op = PP_WSMAN_OP_ENUMERATE;
	snprintf(f->call.resource_uri, sizeof(f->call.resource_uri), "%s", SW);
	snprintf(f->call.action, sizeof(f->call.action), "%s", PP_WSMAN_ACTION_ENUMERATE);
	snprintf(f->call.message_id, sizeof(f->call.message_id), "7");
	pp_buf_reset(&f->req);
	assert_int_equal(pp_buf_append_str(&f->req, doc), 0);
	assert_int_equal(roundtrip(f), 0);
	assert_int_equal(f->resp.item_count, 11);
	assert_true(f->resp.end_of_sequence);
	assert_true(f->ws == NULL || f->ws->count == 0); /* released at once */
	snprintf(doc, sizeof(doc), "%s%s", head,
		 "<Enumerate xmlns=\"" PP_WSMAN_NS_WSEN "\" /></Body></Envelope>");
	pp_buf_reset(&f->req);
	assert_int_equal(pp_buf_append_str(&f->req, doc), 0);
	assert_int_equal(roundtrip(f), 0);
	assert_int_equal(f->resp.item_count, 0);
	assert_int_equal(f->ws->count, 1);
}

/* Put as Intel's tools do it: the instance read back, a few properties changed. */
static void test_general_settings_put(void **state)
{
	struct fx *f = *state;
	struct pp_wsman_props inst;
	get(f, GS, NULL, NULL);
	assert_int_equal(roundtrip(f), 0);
	inst = f->resp.props;
	for (size_t i = 0; i < inst.count; i++) {
		if (!strcmp(inst.item[i].name, "HostName"))
			snprintf(inst.item[i].value, sizeof(inst.item[i].value), "host-7");
		if (!strcmp(inst.item[i].name, "DomainName"))
			snprintf(inst.item[i].value, sizeof(inst.item[i].value), "corp.example");
		if (!strcmp(inst.item[i].name, "AMTNetworkEnabled"))
			snprintf(inst.item[i].value, sizeof(inst.item[i].value), "0");
		if (!strcmp(inst.item[i].name, "PingResponseEnabled")) /* same value, as 1 */
			snprintf(inst.item[i].value, sizeof(inst.item[i].value), "1");
	}
	assert_int_equal(pp_wsman_build_put(TO, GS, NULL, &inst, &f->call, &f->req, &f->err), 0);
	assert_int_equal(roundtrip(f), 0);
	assert_string_equal(prop(f, "HostName"), "host-7");
	/* Durable: a fresh Get, and the state file. */
	get(f, GS, NULL, NULL);
	assert_int_equal(roundtrip(f), 0);
	assert_string_equal(prop(f, "DomainName"), "corp.example");
	assert_string_equal(prop(f, "AMTNetworkEnabled"), "0");
	struct pp_amt_device *again = NULL;
	assert_int_equal(pp_amt_load(f->dir, &again, &f->err), 0);
	struct pp_amt_general_settings gs;
	assert_int_equal(pp_amt_get_general_settings(again, &gs, &f->err), 0);
	assert_string_equal(gs.host_name, "host-7");
	assert_false(gs.network_enabled);
	pp_amt_free(again);

	/* Refusals name the property; nothing is applied. */
	static const struct {
		const char *name, *value, *why;
	} bad[] = {
	    {"DigestRealm", "Digest:00000000000000000000000000000000", "read-only"},
	    {"InstanceID", "other", "read-only"},
	    {"PingResponseEnabled", "false", "default"},
	    {"DDNSTTL", "60", "default"},
	    {"Bogus", "1", "not a property"},
	    {"SharedFQDN", "maybe", "xs:boolean"},
	    {"AMTNetworkEnabled", "7", "0 or 1"},
	};
	for (size_t k = 0; k < sizeof(bad) / sizeof(bad[0]); k++) {
		struct pp_wsman_props p;
		pp_wsman_props_init(&p);
		assert_int_equal(pp_wsman_props_add(&p, "HostName", "changed", NULL), 0);
		assert_int_equal(pp_wsman_props_add(&p, bad[k].name, bad[k].value, NULL), 0);
		assert_int_equal(pp_wsman_build_put(TO, GS, NULL, &p, &f->call, &f->req, &f->err),
				 0);
		expect_fault(f, PP_WSMAN_FAULT_INVALID_PARAMETER);
		if (!strstr(f->resp.fault_reason, bad[k].name) ||
		    !strstr(f->resp.fault_reason, bad[k].why))
			fail_msg("reason '%s' for %s", f->resp.fault_reason, bad[k].name);
	}
	get(f, GS, NULL, NULL);
	assert_int_equal(roundtrip(f), 0);
	assert_string_equal(prop(f, "HostName"), "host-7");
	/* A property twice. */
	struct pp_wsman_props p;
	pp_wsman_props_init(&p);
	assert_int_equal(pp_wsman_props_add(&p, "HostName", "a", NULL), 0);
	assert_int_equal(pp_wsman_props_add(&p, "HostName", "b", NULL), 0);
	assert_int_equal(pp_wsman_build_put(TO, GS, NULL, &p, &f->call, &f->req, &f->err), 0);
	expect_fault(f, PP_WSMAN_FAULT_INVALID_PARAMETER);
	assert_non_null(strstr(f->resp.fault_reason, "twice"));
}

static void test_faults(void **state)
{
	struct fx *f = *state;
	get(f, PP_AMT_SCHEMA "AMT_NoSuchClass", NULL, NULL);
	expect_fault(f, PP_WSMAN_FAULT_DESTINATION_UNREACHABLE);
	assert_int_equal(pp_wsman_build_enumerate(TO, PP_AMT_SCHEMA "AMT_NoSuchClass", &f->call,
						  &f->req, &f->err),
			 0);
	expect_fault(f, PP_WSMAN_FAULT_DESTINATION_UNREACHABLE);
	assert_int_equal(pp_wsman_build_put(TO, SW, NULL, NULL, &f->call, &f->req, &f->err), 0);
	expect_fault(f, PP_WSMAN_FAULT_ACTION_NOT_SUPPORTED);
	assert_int_equal(
	    pp_wsman_build_invoke(TO, SCS, "NoSuchMethod", NULL, NULL, &f->call, &f->req, &f->err),
	    0);
	expect_fault(f, PP_WSMAN_FAULT_ACTION_NOT_SUPPORTED);
	/* The authorization service answers a Get (its instance) and still its methods;
	 * the time service is methods only. */
	get(f, PP_AMT_URI_AUTHORIZATION_SERVICE, NULL, NULL);
	assert_int_equal(roundtrip(f), 0);
	assert_false(f->resp.is_fault);
	assert_string_equal(pp_wsman_props_get(&f->resp.props, "AllowHttpQopAuthOnly"), "1");
	get(f, PP_AMT_URI_TIME_SYNCHRONIZATION_SERVICE, NULL, NULL);
	expect_fault(f, PP_WSMAN_FAULT_ACTION_NOT_SUPPORTED);
	/* Methods kept. */
	assert_int_equal(pp_wsman_build_invoke(TO, PP_AMT_URI_TIME_SYNCHRONIZATION_SERVICE,
					       PP_AMT_GET_LOW_ACCURACY_TIME_SYNCH, NULL, NULL,
					       &f->call, &f->req, &f->err),
			 0);
	assert_int_equal(roundtrip(f), 0);
	assert_int_equal(f->resp.return_value, 0);
	/* Without a place for contexts, Enumerate is an internal error, not a crash (and
	 * without working memory, the call makes its own). */
	assert_int_equal(pp_wsman_build_enumerate(TO, SW, &f->call, &f->req, &f->err), 0);
	assert_int_equal(pp_devws_handle(NULL, f->dev, NULL, NULL, f->req.data, f->req.len, f->now,
					 &f->out, &f->res, &f->err),
			 0);
	assert_int_equal(f->res.http_status, 500);
}

static void test_pre_setup(void **state)
{
	struct fx *f = *state;
	struct pp_err err = {0};
	assert_int_equal(pp_amt_unprovision(f->dev, PP_AMT_DEV_UNPROVISION_FULL, &err), 0);
	get(f, SW, "InstanceID", "AMT");
	expect_fault(f, PP_WSMAN_FAULT_ACCESS_DENIED);
	assert_int_equal(pp_wsman_build_enumerate(TO, ETH, &f->call, &f->req, &f->err), 0);
	expect_fault(f, PP_WSMAN_FAULT_ACCESS_DENIED);
}

static void redact(struct pp_buf *out, const char *in)
{
	struct pp_err err = {0};
	pp_buf_reset(out);
	assert_int_equal(pp_devws_trace_redact(in, strlen(in), out, &err), 0);
	assert_int_equal(pp_buf_cstr(out), 0);
}

static void test_trace_redact(void **state)
{
	struct fx *f = *state;
	redact(&f->out, "<s:Body><h:SetTLSPSK_INPUT><h:PID>MDAwMA==</h:PID><h:PPS>c2VjcmV0</h:PPS>"
			"</h:SetTLSPSK_INPUT></s:Body>");
	assert_string_equal(
	    (const char *)f->out.data,
	    "<s:Body><h:SetTLSPSK_INPUT><h:PID>MDAwMA==</h:PID><h:PPS>(hidden)</h:PPS>"
	    "</h:SetTLSPSK_INPUT></s:Body>");
	redact(&f->out, "<Password a=\"1\">pw&amp;1</Password><x:DigestPassword>aGFzaA==</"
			"x:DigestPassword><h:NewPassword><![CDATA[a</b]]>c</h:NewPassword>"
			"<Passwords/><PasswordModel>1</PasswordModel><Username>admin</Username>");
	assert_string_equal((const char *)f->out.data,
			    "<Password a=\"1\">(hidden)</Password><x:DigestPassword>(hidden)</"
			    "x:DigestPassword><h:NewPassword>(hidden)</h:NewPassword>"
			    "<Passwords/><PasswordModel>(hidden)</PasswordModel>"
			    "<Username>admin</Username>");
	/* Nothing secret: byte for byte the same; truncated input is not over-read. */
	redact(&f->out, "<a:Action>x</a:Action><PPS");
	assert_string_equal((const char *)f->out.data, "<a:Action>x</a:Action><PPS");
	redact(&f->out, "<PPS>open");
	assert_string_equal((const char *)f->out.data, "<PPS>(hidden)");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_general_settings_get, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_setup_service_and_uuid, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_software_identity, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_ethernet_ports, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_contexts, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_intel_envelopes, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_general_settings_put, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_faults, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_pre_setup, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_trace_redact, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
