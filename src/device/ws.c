/* WS-Management on the emulated device: the dispatch table of the AMT subset
 * (protocol.md section 4) over the firmware operations of lib/amt. */
#include "device/ws.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/parse.h"
#include "core/secret.h"
#include "keys/keys.h"
#include "wsman/amt.h"
#include "wsman/b64.h"
#include "wsman/digest.h"
#include "wsman/soap.h"

/* CIM_SoftwareIdentity instances (selector InstanceID), as AMT names them. */
#define SW_CORE "AMT FW Core Version"
#define SW_BUILD "Build Number"
#define SW_SKU "Sku"

struct ws_ctx {
	struct pp_amt_device *dev;
	int64_t now;
	struct pp_buf *env;
	struct pp_devws_result *res;
	struct pp_err *err;
	struct pp_wsman_request req; /* may hold secrets: wiped */
	struct pp_wsman_props out;
};

typedef int (*ws_fn)(struct ws_ctx *c);

struct ws_op {
	const char *uri;
	enum pp_wsman_op op;
	const char *method; /* PP_WSMAN_OP_INVOKE only */
	ws_fn fn;
};

/* ---- answers ---- */

static void what_set(struct ws_ctx *c, const char *fmt, ...) PP_PRINTF(2, 3);

static void what_set(struct ws_ctx *c, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(c->res->what, sizeof(c->res->what), fmt, ap);
	va_end(ap);
}

static const char *op_label(const struct ws_ctx *c)
{
	if (c->req.op == PP_WSMAN_OP_INVOKE)
		return c->req.method;
	return c->req.op == PP_WSMAN_OP_PUT ? "Put" : "Get";
}

static int fault(struct ws_ctx *c, enum pp_wsman_fault f, const char *reason)
{
	int status = 500;
	pp_buf_reset(c->env);
	int rc = pp_wsman_fault_build(&c->req, f, reason, c->env, &status, c->err);
	if (rc < 0)
		return rc;
	c->res->is_fault = true;
	c->res->http_status = status;
	what_set(c, "%s %s: fault %s%s%.80s", op_label(c), pp_wsman_class_name(c->req.resource_uri),
		 pp_wsman_fault_name(f), reason ? ": " : "", reason ? reason : "");
	return 0;
}

static int bad_param(struct ws_ctx *c, const char *name, const char *why)
{
	char reason[160];
	snprintf(reason, sizeof(reason), "%s: %s", name, why);
	return fault(c, PP_WSMAN_FAULT_INVALID_PARAMETER, reason);
}

/* A firmware error on a Get or Put (no ReturnValue to carry it). */
static int op_error_fault(struct ws_ctx *c, int rc, const struct pp_err *why)
{
	const char *msg = why->msg[0] ? why->msg : pp_status_str(-rc);
	switch (-rc) {
	case PP_ESTATE:
	case PP_EPERM:
		return fault(c, PP_WSMAN_FAULT_ACCESS_DENIED, msg);
	case PP_EINVAL:
	case PP_ECHECKSUM:
	case PP_ETOOBIG:
		return fault(c, PP_WSMAN_FAULT_INVALID_PARAMETER, msg);
	default:
		return fault(c, PP_WSMAN_FAULT_INTERNAL_ERROR, msg);
	}
}

static int instance(struct ws_ctx *c, const char *body_name)
{
	pp_buf_reset(c->env);
	int rc = pp_wsman_response_build(&c->req, body_name, &c->out, c->env, c->err);
	if (rc < 0)
		return rc;
	c->res->http_status = 200;
	what_set(c, "%s %s", op_label(c), body_name);
	return 0;
}

/* ReturnValue for a refusal by the firmware; `invalid` is the code for a value the
 * firmware rejects (policy, format, range). */
static uint32_t status_for(int rc, uint32_t invalid)
{
	switch (-rc) {
	case PP_ESTATE:
		return PP_AMT_STATUS_INVALID_PROVISIONING_STATE;
	case PP_EPERM:
		return PP_AMT_STATUS_NOT_PERMITTED;
	case PP_EINVAL:
	case PP_ECHECKSUM:
	case PP_ETOOBIG:
		return invalid;
	default:
		return PP_AMT_STATUS_INTERNAL_ERROR;
	}
}

/* <Method>_OUTPUT with rv; `why` (may be NULL) says what the firmware refused. */
static int output(struct ws_ctx *c, uint32_t rv, const struct pp_err *why)
{
	pp_buf_reset(c->env);
	int rc = pp_wsman_output_build(&c->req, rv, c->out.count ? &c->out : NULL, c->env, c->err);
	if (rc < 0)
		return rc;
	c->res->http_status = 200;
	c->res->retval = rv;
	if (rv && why && why->msg[0])
		what_set(c, "%s -> 0x%" PRIX32 " (%.90s)", c->req.method, rv, why->msg);
	else
		what_set(c, "%s -> 0x%" PRIX32, c->req.method, rv);
	return 0;
}

static int add(struct ws_ctx *c, const char *name, const char *value)
{
	return pp_wsman_props_add(&c->out, name, value, c->err);
}

static int add_u32(struct ws_ctx *c, const char *name, uint32_t v)
{
	char s[16];
	snprintf(s, sizeof(s), "%" PRIu32, v);
	return add(c, name, s);
}

static const char *param(const struct ws_ctx *c, const char *name)
{
	return pp_wsman_props_get(&c->req.params, name);
}

/* ---- AMT_GeneralSettings ---- */

static int general_instance(struct ws_ctx *c)
{
	struct pp_amt_general_settings gs;
	struct pp_err why = {0};
	int rc = pp_amt_get_general_settings(c->dev, &gs, &why);
	if (rc < 0)
		return op_error_fault(c, rc, &why);
	pp_wsman_props_init(&c->out);
	if ((rc = add(c, PP_AMT_P_DIGEST_REALM, gs.digest_realm)) < 0 ||
	    (rc = add(c, PP_AMT_P_HOST_NAME, gs.host_name)) < 0 ||
	    (rc = add(c, PP_AMT_P_DOMAIN_NAME, gs.domain_name)) < 0 ||
	    (rc = add(c, PP_AMT_P_AMT_NETWORK_ENABLED, gs.network_enabled ? "true" : "false")) < 0)
		return rc;
	return instance(c, PP_AMT_GENERAL_SETTINGS);
}

static int op_get_general(struct ws_ctx *c)
{
	return general_instance(c);
}

/* xs:boolean */
static int parse_bool(const char *s, bool *out)
{
	if (!strcmp(s, "true") || !strcmp(s, "1"))
		*out = true;
	else if (!strcmp(s, "false") || !strcmp(s, "0"))
		*out = false;
	else
		return -PP_EINVAL;
	return 0;
}

/* Put: the instance's writable properties; absent ones keep their value. DigestRealm is
 * read-only: it may come back unchanged (a client that Puts what it got), never
 * different. Other properties of the class are not emulated and are ignored. */
static int op_put_general(struct ws_ctx *c)
{
	struct pp_amt_general_settings gs;
	struct pp_err why = {0};
	int rc = pp_amt_get_general_settings(c->dev, &gs, &why);
	if (rc < 0)
		return op_error_fault(c, rc, &why);
	const char *host = param(c, PP_AMT_P_HOST_NAME);
	const char *domain = param(c, PP_AMT_P_DOMAIN_NAME);
	const char *net = param(c, PP_AMT_P_AMT_NETWORK_ENABLED);
	const char *realm = param(c, PP_AMT_P_DIGEST_REALM);
	bool enabled = gs.network_enabled;
	if (net && parse_bool(net, &enabled) < 0)
		return bad_param(c, PP_AMT_P_AMT_NETWORK_ENABLED, "not an xs:boolean");
	if (realm && strcmp(realm, gs.digest_realm) != 0)
		return bad_param(c, PP_AMT_P_DIGEST_REALM, "read-only");
	rc = pp_amt_put_general_settings(c->dev, host, domain, enabled, &why);
	if (rc < 0)
		return op_error_fault(c, rc, &why);
	return general_instance(c);
}

/* ---- AMT_SetupAndConfigurationService ---- */

static int op_get_setup(struct ws_ctx *c)
{
	uint32_t state, mode;
	struct pp_err why = {0};
	int rc = pp_amt_get_setup_config(c->dev, &state, &mode, &why);
	if (rc < 0)
		return op_error_fault(c, rc, &why);
	pp_wsman_props_init(&c->out);
	if ((rc = add_u32(c, PP_AMT_P_PROVISIONING_STATE, state)) < 0 ||
	    (rc = add_u32(c, PP_AMT_P_PROVISIONING_MODE, mode)) < 0)
		return rc;
	return instance(c, PP_AMT_SETUP_AND_CONFIGURATION_SERVICE);
}

static int op_set_mebx(struct ws_ctx *c)
{
	const char *pw = param(c, PP_AMT_P_PASSWORD);
	struct pp_err why = {0};
	if (!pw)
		return bad_param(c, PP_AMT_P_PASSWORD, "missing");
	int rc = pp_amt_set_mebx_password(c->dev, pw, &why);
	return output(c, rc < 0 ? status_for(rc, PP_AMT_STATUS_INVALID_PASSWORD) : 0, &why);
}

/* base64 of ASCII text (at most cap - 1 bytes) into a NUL-terminated string. */
static int b64_text(const char *in, char *out, size_t cap)
{
	size_t n = 0;
	if (pp_b64_decode(in, strlen(in), out, cap - 1, &n, NULL) < 0)
		return -PP_EINVAL;
	out[n] = '\0';
	return 0;
}

static int op_set_tls_psk(struct ws_ctx *c)
{
	const char *pid64 = param(c, PP_AMT_P_PID), *pps64 = param(c, PP_AMT_P_PPS);
	char pid_text[PP_PID_TEXT + 4], pps_text[PP_PPS_TEXT + 4];
	struct pp_pid pid;
	struct pp_pps pps;
	struct pp_err why = {0};
	uint32_t rv = 0;
	int rc;
	if (!pid64)
		return bad_param(c, PP_AMT_P_PID, "missing");
	if (!pps64)
		return bad_param(c, PP_AMT_P_PPS, "missing");
	if (b64_text(pid64, pid_text, sizeof(pid_text)) < 0)
		return bad_param(c, PP_AMT_P_PID, "not base64 of a PID");
	if (b64_text(pps64, pps_text, sizeof(pps_text)) < 0) {
		pp_wipe(pps_text, sizeof(pps_text));
		return bad_param(c, PP_AMT_P_PPS, "not base64 of a PPS");
	}
	/* Which of the two is malformed decides the ReturnValue; lib/amt checks again. */
	if (pp_pid_parse(pid_text, &pid, &why) < 0)
		rv = PP_AMT_STATUS_INVALID_PID_FORMAT;
	else if (pp_pps_parse(pps_text, &pps, &why) < 0)
		rv = PP_AMT_STATUS_INVALID_PPS_FORMAT;
	else if ((rc = pp_amt_set_tls_psk(c->dev, pid_text, pps_text, &why)) < 0)
		rv = status_for(rc, PP_AMT_STATUS_INVALID_PARAMETER);
	pp_wipe(pps_text, sizeof(pps_text));
	pp_wipe(&pps, sizeof(pps));
	return output(c, rv, &why);
}

static int op_commit(struct ws_ctx *c)
{
	struct pp_err why = {0};
	if (pp_amt_state(c->dev) == PP_AMT_IN_SETUP && !pp_amt_admin_user(c->dev)[0]) {
		pp_err_set(&why, PP_ESTATE, "CommitChanges: no admin account (SetAdminAclEntryEx)");
		return output(c, PP_AMT_STATUS_DATA_MISSING, &why);
	}
	int rc = pp_amt_commit(c->dev, &why);
	return output(c, rc < 0 ? status_for(rc, PP_AMT_STATUS_INVALID_PARAMETER) : 0, &why);
}

static int op_unprovision(struct ws_ctx *c)
{
	const char *mode_s = param(c, PP_AMT_P_PROVISIONING_MODE);
	struct pp_err why = {0};
	uint32_t mode;
	if (!mode_s)
		return bad_param(c, PP_AMT_P_PROVISIONING_MODE, "missing");
	if (pp_parse_u32(mode_s, 0, UINT32_MAX, &mode, PP_AMT_P_PROVISIONING_MODE, NULL) < 0)
		return bad_param(c, PP_AMT_P_PROVISIONING_MODE, "not an unsigned integer");
	int rc = pp_amt_unprovision(c->dev, mode, &why);
	return output(c, rc < 0 ? status_for(rc, PP_AMT_STATUS_INVALID_PARAMETER) : 0, &why);
}

/* ---- AMT_AuthorizationService ---- */

static int op_set_admin(struct ws_ctx *c)
{
	const char *user = param(c, PP_AMT_P_USERNAME);
	const char *dp = param(c, PP_AMT_P_DIGEST_PASSWORD);
	uint8_t ha1[PP_DIGEST_HA1_LEN];
	struct pp_err why = {0};
	if (!user)
		return bad_param(c, PP_AMT_P_USERNAME, "missing");
	if (!dp)
		return bad_param(c, PP_AMT_P_DIGEST_PASSWORD, "missing");
	int rc = pp_digest_ha1_from_b64(dp, ha1, NULL);
	pp_wipe(ha1, sizeof(ha1));
	if (rc < 0)
		return bad_param(c, PP_AMT_P_DIGEST_PASSWORD, "not base64 of a 16-byte digest");
	rc = pp_amt_set_admin_acl(c->dev, user, dp, &why);
	return output(c, rc < 0 ? status_for(rc, PP_AMT_STATUS_INVALID_PARAMETER) : 0, &why);
}

/* ---- AMT_TimeSynchronizationService ---- */

static int op_get_time(struct ws_ctx *c)
{
	struct pp_err why = {0};
	uint32_t ta0 = 0;
	int rc = pp_amt_get_time(c->dev, c->now, &ta0, &why);
	pp_wsman_props_init(&c->out);
	if (rc < 0)
		return output(c, status_for(rc, PP_AMT_STATUS_INVALID_TIME), &why);
	if ((rc = add_u32(c, PP_AMT_P_TA0, ta0)) < 0)
		return rc;
	return output(c, 0, NULL);
}

static int op_set_time(struct ws_ctx *c)
{
	static const char *const names[3] = {PP_AMT_P_TA0, PP_AMT_P_TM1, PP_AMT_P_TM2};
	uint32_t v[3];
	struct pp_err why = {0};
	for (int i = 0; i < 3; i++) {
		const char *s = param(c, names[i]);
		if (!s)
			return bad_param(c, names[i], "missing");
		if (pp_parse_u32(s, 0, UINT32_MAX, &v[i], names[i], NULL) < 0)
			return bad_param(c, names[i], "not an unsigned 32-bit integer");
	}
	int rc = pp_amt_set_time(c->dev, c->now, v[0], v[1], v[2], &why);
	return output(c, rc < 0 ? status_for(rc, PP_AMT_STATUS_INVALID_TIME) : 0, &why);
}

/* ---- CIM_SoftwareIdentity ---- */

static int op_get_software(struct ws_ctx *c)
{
	struct pp_amt_versions v;
	const char *id = pp_wsman_props_get(&c->req.selectors, "InstanceID");
	const char *version;
	int rc;
	if (pp_amt_state(c->dev) == PP_AMT_PRE_SETUP)
		return fault(c, PP_WSMAN_FAULT_ACCESS_DENIED, "not available in Pre-Setup");
	pp_amt_versions(c->dev, &v);
	if (!id || !strcmp(id, SW_CORE)) {
		id = SW_CORE;
		version = v.amt;
	} else if (!strcmp(id, SW_BUILD)) {
		version = v.build;
	} else if (!strcmp(id, SW_SKU)) {
		version = v.sku;
	} else {
		return bad_param(c, "InstanceID", "no such instance");
	}
	pp_wsman_props_init(&c->out);
	if ((rc = add(c, PP_CIM_P_INSTANCE_ID, id)) < 0 ||
	    (rc = add(c, PP_CIM_P_VERSION_STRING, version)) < 0)
		return rc;
	return instance(c, PP_CIM_SOFTWARE_IDENTITY);
}

/* The WS-Management subset the configuration server uses (protocol.md section 4). */
static const struct ws_op ws_ops[] = {
    {PP_AMT_URI_GENERAL_SETTINGS, PP_WSMAN_OP_GET, NULL, op_get_general},
    {PP_AMT_URI_GENERAL_SETTINGS, PP_WSMAN_OP_PUT, NULL, op_put_general},
    {PP_AMT_URI_SETUP_AND_CONFIGURATION_SERVICE, PP_WSMAN_OP_GET, NULL, op_get_setup},
    {PP_AMT_URI_SETUP_AND_CONFIGURATION_SERVICE, PP_WSMAN_OP_INVOKE, PP_AMT_SET_MEBX_PASSWORD,
     op_set_mebx},
    {PP_AMT_URI_SETUP_AND_CONFIGURATION_SERVICE, PP_WSMAN_OP_INVOKE, PP_AMT_SET_TLS_PSK,
     op_set_tls_psk},
    {PP_AMT_URI_SETUP_AND_CONFIGURATION_SERVICE, PP_WSMAN_OP_INVOKE, PP_AMT_COMMIT_CHANGES,
     op_commit},
    {PP_AMT_URI_SETUP_AND_CONFIGURATION_SERVICE, PP_WSMAN_OP_INVOKE, PP_AMT_UNPROVISION,
     op_unprovision},
    {PP_AMT_URI_AUTHORIZATION_SERVICE, PP_WSMAN_OP_INVOKE, PP_AMT_SET_ADMIN_ACL_ENTRY_EX,
     op_set_admin},
    {PP_AMT_URI_TIME_SYNCHRONIZATION_SERVICE, PP_WSMAN_OP_INVOKE,
     PP_AMT_GET_LOW_ACCURACY_TIME_SYNCH, op_get_time},
    {PP_AMT_URI_TIME_SYNCHRONIZATION_SERVICE, PP_WSMAN_OP_INVOKE,
     PP_AMT_SET_HIGH_ACCURACY_TIME_SYNCH, op_set_time},
    {PP_CIM_URI_SOFTWARE_IDENTITY, PP_WSMAN_OP_GET, NULL, op_get_software},
};

static int dispatch(struct ws_ctx *c)
{
	bool known_class = false;
	for (size_t i = 0; i < sizeof(ws_ops) / sizeof(ws_ops[0]); i++) {
		const struct ws_op *o = &ws_ops[i];
		if (strcmp(o->uri, c->req.resource_uri) != 0)
			continue;
		known_class = true;
		if (o->op != c->req.op)
			continue;
		if (o->op == PP_WSMAN_OP_INVOKE && strcmp(o->method, c->req.method) != 0)
			continue;
		return o->fn(c);
	}
	if (!known_class)
		return fault(c, PP_WSMAN_FAULT_DESTINATION_UNREACHABLE, NULL);
	return fault(c, PP_WSMAN_FAULT_ACTION_NOT_SUPPORTED, NULL);
}

int pp_devws_handle(struct pp_amt_device *dev, const void *xml, size_t len, int64_t now,
		    struct pp_buf *out, struct pp_devws_result *res, struct pp_err *err)
{
	memset(res, 0, sizeof(*res));
	res->http_status = 500;
	struct ws_ctx *c = calloc(1, sizeof(*c));
	if (!c)
		return pp_err_set(err, PP_ENOMEM, "out of memory");
	c->dev = dev;
	c->now = now;
	c->env = out;
	c->res = res;
	c->err = err;
	struct pp_err perr = {0};
	int rc = pp_wsman_request_parse(xml, len, &c->req, &perr);
	if (rc < 0) {
		enum pp_wsman_fault f = c->req.fault != PP_WSMAN_FAULT_NONE
					    ? c->req.fault
					    : PP_WSMAN_FAULT_INVALID_HEADER;
		rc = fault(c, f, perr.msg[0] ? perr.msg : NULL);
	} else {
		rc = dispatch(c);
	}
	pp_wsman_request_wipe(&c->req);
	pp_wsman_props_wipe(&c->out);
	pp_wipe(c, sizeof(*c));
	free(c);
	return rc;
}
