/* WS-Management on the emulated device: the dispatch table of the AMT subset
 * (docs/protocol.md section 4) over the firmware operations of lib/firmware. Answers are
 * written as text (lib/wsman/reply.c: the bytes of a tree, without the tree);
 * faults, rare, still go through soap.h. */
#include "ws.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/parse.h"
#include "core/secret.h"
#include "keys/keys.h"
#include "wsman/amt.h"
#include "core/base64.h"
#include "wsman/digest.h"
#include "wsman/soap.h"

#define SEL_INSTANCE_ID "InstanceID"
#define GS_NAME "Intel(r) AMT: General Settings"
#define SCS_NAME "Intel(r) AMT Setup and Configuration Service"
#define ETH_NAME "Intel(r) AMT Ethernet Port Settings"

/* One open enumeration: which class, how far, until when. */
struct devws_enum {
	char id[37]; /* a random UUID: contexts cannot be guessed across clients */
	uint8_t cls; /* index in ws_classes */
	uint8_t pos; /* next instance */
	int64_t expires;
};

struct pp_devws_state {
	uint8_t count;
	struct devws_enum e[PP_DEVWS_ENUM_MAX];
};

struct ws_ctx {
	struct pp_amt_device *dev;
	struct pp_devws_state **state;
	const uint8_t *addr; /* 4 bytes, or NULL */
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
	switch (c->req.op) {
	case PP_WSMAN_OP_INVOKE:
		return c->req.method;
	case PP_WSMAN_OP_PUT:
		return "Put";
	case PP_WSMAN_OP_ENUMERATE:
		return "Enumerate";
	case PP_WSMAN_OP_PULL:
		return "Pull";
	case PP_WSMAN_OP_RELEASE:
		return "Release";
	default:
		return "Get";
	}
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

/* ---- instances ----
 * Every class is rendered into a property list by a function of (device, instance
 * number); Get, Enumerate and Pull share them. The device serves nothing in Pre-Setup. */

static int need_setup(const struct ws_ctx *c, struct pp_err *why)
{
	if (pp_amt_state(c->dev) == PP_AMT_PRE_SETUP)
		return pp_err_set(why, PP_ESTATE, "not available in Pre-Setup");
	return 0;
}

static int padd(struct pp_wsman_props *p, const char *name, const char *value, struct pp_err *why)
{
	return pp_wsman_props_add(p, name, value, why);
}

/* AMT_GeneralSettings, in the firmware's (alphabetical) order. Values come from the
 * firmware model (realm, names, network flag) or are the firmware defaults. `writable`:
 * a Put may change it; only the modelled ones (src != GS_FIXED) can really change, the
 * others are accepted back unchanged only. */
enum gs_src { GS_FIXED, GS_REALM, GS_HOST, GS_DOMAIN, GS_NET };
enum gs_type { T_STR, T_BOOL, T_UINT };

struct gs_prop {
	const char *name;
	enum gs_src src;
	enum gs_type type;
	bool writable;
	const char *fixed;
};

static const struct gs_prop gs_props[] = {
    {"AMTNetworkEnabled", GS_NET, T_UINT, true, NULL},
    {"DDNSPeriodicUpdateInterval", GS_FIXED, T_UINT, true, "1440"},
    {"DDNSTTL", GS_FIXED, T_UINT, true, "900"},
    {"DDNSUpdateByDHCPServerEnabled", GS_FIXED, T_BOOL, true, "true"},
    {"DDNSUpdateEnabled", GS_FIXED, T_BOOL, true, "false"},
    {"DHCPSyncRequiresHostname", GS_FIXED, T_UINT, true, "1"},
    {"DHCPv6ConfigurationTimeout", GS_FIXED, T_UINT, true, "0"},
    {"DigestRealm", GS_REALM, T_STR, false, NULL},
    {"DomainName", GS_DOMAIN, T_STR, true, NULL},
    {"ElementName", GS_FIXED, T_STR, false, GS_NAME},
    {"HostName", GS_HOST, T_STR, true, NULL},
    {"HostOSFQDN", GS_FIXED, T_STR, false, ""},
    {"IdleWakeTimeout", GS_FIXED, T_UINT, true, "65535"},
    {"InstanceID", GS_FIXED, T_STR, false, GS_NAME},
    {"NetworkInterfaceEnabled", GS_FIXED, T_BOOL, false, "true"},
    {"OemID", GS_FIXED, T_UINT, false, "0"},
    {"PingResponseEnabled", GS_FIXED, T_BOOL, true, "true"},
    {"PowerSource", GS_FIXED, T_UINT, false, "0"},
    {"PreferredAddressFamily", GS_FIXED, T_UINT, true, "0"},
    {"PresenceNotificationInterval", GS_FIXED, T_UINT, true, "0"},
    {"PrivacyLevel", GS_FIXED, T_UINT, false, "0"},
    {"RmcpPingResponseEnabled", GS_FIXED, T_BOOL, true, "true"},
    {"SharedFQDN", GS_FIXED, T_BOOL, true, "true"},
    {"ThunderboltDockEnabled", GS_FIXED, T_UINT, true, "0"},
    {"WsmanOnlyMode", GS_FIXED, T_BOOL, true, "false"},
};

static const char *gs_value(const struct gs_prop *g, const struct pp_amt_general_settings *gs)
{
	switch (g->src) {
	case GS_REALM:
		return gs->digest_realm;
	case GS_HOST:
		return gs->host_name;
	case GS_DOMAIN:
		return gs->domain_name;
	case GS_NET:
		return gs->network_enabled ? "1" : "0";
	default:
		return g->fixed;
	}
}

static int render_general(struct ws_ctx *c, size_t i, struct pp_wsman_props *p, struct pp_err *why)
{
	struct pp_amt_general_settings gs;
	int rc = pp_amt_get_general_settings(c->dev, &gs, why);
	(void)i;
	for (size_t k = 0; rc == 0 && k < sizeof(gs_props) / sizeof(gs_props[0]); k++)
		rc = padd(p, gs_props[k].name, gs_value(&gs_props[k], &gs), why);
	return rc;
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

/* A value of the property's type, reduced to a comparable number (strings: 0). */
static int gs_parse(const struct gs_prop *g, const char *s, uint32_t *v)
{
	bool b;
	*v = 0;
	if (g->src == GS_NET && parse_bool(s, &b) == 0) { /* 0/1, and booleans as sent before */
		*v = b;
		return 0;
	}
	if (g->type == T_BOOL) {
		if (parse_bool(s, &b) < 0)
			return -PP_EINVAL;
		*v = b;
		return 0;
	}
	if (g->type == T_UINT)
		return pp_parse_u32(s, 0, UINT32_MAX, v, g->name, NULL);
	return 0;
}

static bool gs_same(const struct gs_prop *g, const char *a, const char *b)
{
	uint32_t x, y;
	if (g->type == T_STR)
		return strcmp(a, b) == 0;
	return gs_parse(g, a, &x) == 0 && gs_parse(g, b, &y) == 0 && x == y;
}

static const struct gs_prop *gs_find(const char *name)
{
	for (size_t k = 0; k < sizeof(gs_props) / sizeof(gs_props[0]); k++) {
		if (!strcmp(gs_props[k].name, name))
			return &gs_props[k];
	}
	return NULL;
}

/* Put: the whole instance as Intel's tools send it back (every property read, a few
 * changed), or only the properties to change (absent ones keep their value). A
 * property given twice, unknown, not of its type, read-only and changed, or writable
 * but not modelled by the emulator and changed, is refused (wsman:InvalidParameter
 * naming it): nothing is applied then. */
static int op_put_general(struct ws_ctx *c)
{
	struct pp_amt_general_settings gs;
	struct pp_err why = {0};
	const char *host = NULL, *domain = NULL;
	int rc = pp_amt_get_general_settings(c->dev, &gs, &why);
	if (rc < 0)
		return op_error_fault(c, rc, &why);
	bool enabled = gs.network_enabled;
	for (size_t i = 0; i < c->req.params.count; i++) {
		const char *name = c->req.params.item[i].name;
		const char *value = c->req.params.item[i].value;
		const struct gs_prop *g = gs_find(name);
		uint32_t v;
		if (!g)
			return bad_param(c, name, "not a property of AMT_GeneralSettings");
		if (pp_wsman_props_get(&c->req.params, name) != value)
			return bad_param(c, name, "given twice");
		if (gs_parse(g, value, &v) < 0)
			return bad_param(c, name,
					 g->type == T_BOOL ? "not an xs:boolean"
							   : "not an unsigned integer");
		if (gs_same(g, value, gs_value(g, &gs)))
			continue;
		if (!g->writable)
			return bad_param(c, name, "read-only");
		if (g->src == GS_FIXED)
			return bad_param(c, name, "the emulator keeps the firmware default");
		if (g->src == GS_HOST)
			host = value;
		else if (g->src == GS_DOMAIN)
			domain = value;
		else if (g->src == GS_NET && v > 1)
			return bad_param(c, name, "0 or 1");
		else if (g->src == GS_NET)
			enabled = v == 1;
	}
	rc = pp_amt_put_general_settings(c->dev, host, domain, enabled, &why);
	if (rc < 0)
		return op_error_fault(c, rc, &why);
	pp_wsman_props_init(&c->out);
	if ((rc = render_general(c, 0, &c->out, &why)) < 0)
		return op_error_fault(c, rc, &why);
	return instance(c, PP_AMT_GENERAL_SETTINGS);
}

/* ---- AMT_SetupAndConfigurationService ---- */

static int render_setup(struct ws_ctx *c, size_t i, struct pp_wsman_props *p, struct pp_err *why)
{
	uint32_t state, mode;
	struct pp_amt_server srv;
	struct pp_amt_general_settings gs;
	char st[16], md[16];
	int rc = pp_amt_get_setup_config(c->dev, &state, &mode, why);
	(void)i;
	if (rc < 0 || (rc = pp_amt_get_general_settings(c->dev, &gs, why)) < 0)
		return rc;
	pp_amt_server(c->dev, &srv);
	snprintf(st, sizeof(st), "%" PRIu32, state);
	snprintf(md, sizeof(md), "%" PRIu32, mode);
	const char *const kv[][2] = {
	    {"CreationClassName", PP_AMT_SETUP_AND_CONFIGURATION_SERVICE},
	    {"ElementName", SCS_NAME},
	    {"EnabledState", "5"},
	    {"Name", SCS_NAME},
	    {"PasswordModel", "1"},
	    {PP_AMT_P_PROVISIONING_MODE, md},
	    {"ProvisioningServerOTP", ""},
	    {PP_AMT_P_PROVISIONING_STATE, st},
	    {"RequestedState", "12"},
	    {"SystemCreationClassName", "CIM_ComputerSystem"},
	    {"SystemName", "Intel(r) AMT"},
	    {"ZeroTouchConfigurationEnabled", "false"},
	    {"ConfigurationServerFQDN", srv.fqdn},
	    {"DhcpDNSSuffix", gs.domain_name},
	    {"TrustedDNSSuffix", ""},
	};
	for (size_t k = 0; rc == 0 && k < sizeof(kv) / sizeof(kv[0]); k++)
		rc = padd(p, kv[k][0], kv[k][1], why);
	return rc;
}

/* GetUuid: UUID = base64 of the 16 bytes in SMBIOS order, as in the hello. */
static int op_get_uuid(struct ws_ctx *c)
{
	uint8_t rfc[16], smbios[16];
	char b64[32];
	int rc;
	pp_amt_uuid(c->dev, rfc);
	pp_uuid_to_smbios(rfc, smbios);
	if ((rc = pp_b64_encode(smbios, sizeof(smbios), b64, sizeof(b64), c->err)) < 0)
		return rc;
	pp_wsman_props_init(&c->out);
	if ((rc = add(c, PP_AMT_P_UUID, b64)) < 0)
		return rc;
	return output(c, 0, NULL);
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
	/* Which of the two is malformed decides the ReturnValue; lib/firmware checks again. */
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

/* The instances firmware reports, in its order; the version each shows. */
enum sw_val { SW_AMT, SW_BUILD, SW_SKU, SW_VENDOR, SW_LEGACY };
static const struct {
	const char *id;
	enum sw_val val;
} sw_ids[] = {
    {"Flash", SW_AMT},
    {"Netstack", SW_AMT},
    {"AMTApps", SW_AMT},
    {"AMT", SW_AMT},
    {"Sku", SW_SKU},
    {"VendorID", SW_VENDOR},
    {"Build Number", SW_BUILD},
    {"Recovery Version", SW_AMT},
    {"Recovery Build Num", SW_BUILD},
    {"Legacy Mode", SW_LEGACY},
    {"AMT FW Core Version", SW_AMT},
};

static int render_software(struct ws_ctx *c, size_t i, struct pp_wsman_props *p, struct pp_err *why)
{
	struct pp_amt_versions v;
	const char *version;
	int rc = need_setup(c, why);
	if (rc < 0)
		return rc;
	pp_amt_versions(c->dev, &v);
	switch (sw_ids[i].val) {
	case SW_BUILD:
		version = v.build;
		break;
	case SW_SKU:
		version = v.sku;
		break;
	case SW_VENDOR:
		version = "8086";
		break;
	case SW_LEGACY:
		version = "False";
		break;
	default:
		version = v.amt;
		break;
	}
	if ((rc = padd(p, PP_CIM_P_INSTANCE_ID, sw_ids[i].id, why)) < 0 ||
	    (rc = padd(p, "IsEntity", "true", why)) < 0)
		return rc;
	return padd(p, PP_CIM_P_VERSION_STRING, version, why);
}

/* ---- AMT_EthernetPortSettings: 0 wired (shares the host's DHCP address), 1 wireless
 * (link down, no address). MAC addresses derive from the UUID. ---- */

static int render_ethernet(struct ws_ctx *c, size_t i, struct pp_wsman_props *p, struct pp_err *why)
{
	uint8_t u[16];
	char id[64], mac[24], ip[16] = "";
	int rc = need_setup(c, why);
	if (rc < 0)
		return rc;
	pp_amt_uuid(c->dev, u);
	snprintf(id, sizeof(id), ETH_NAME " %zu", i);
	snprintf(mac, sizeof(mac), "a4-ae-12-%02x-%02x-%02x", u[13], u[14],
		 (u[15] ^ (unsigned)i) & 0xFF);
	if (c->addr)
		snprintf(ip, sizeof(ip), "%u.%u.%u.%u", c->addr[0], c->addr[1], c->addr[2],
			 c->addr[3]);
	bool wired = i == 0, addr = wired && ip[0];
	const char *const kv[][2] = {
	    {"ElementName", ETH_NAME},
	    {"InstanceID", id},
	    {"VLANTag", wired ? "0" : NULL},
	    {"SharedMAC", "true"},
	    {"MACAddress", mac},
	    {"LinkIsUp", wired ? "true" : "false"},
	    {"LinkPolicy", wired ? "1" : "14"},
	    {"LinkPolicy", wired ? "14" : "16"},
	    {"LinkPreference", wired ? NULL : "2"},
	    {"LinkControl", wired ? NULL : "2"},
	    {"SharedStaticIp", "false"},
	    {"SharedDynamicIP", wired ? "true" : "false"},
	    {"IpSyncEnabled", wired ? "true" : "false"},
	    {"DHCPEnabled", "true"},
	    {"IPAddress", addr ? ip : NULL},
	    {"SubnetMask", addr ? "255.0.0.0" : NULL},
	    {"DefaultGateway", addr ? "127.0.0.1" : NULL},
	    {"PrimaryDNS", addr ? "127.0.0.1" : NULL},
	    {"SecondaryDNS", addr ? "0.0.0.0" : NULL},
	    {"ConsoleTcpMaxRetransmissions", "5"},
	    {"WLANLinkProtectionLevel", wired ? NULL : "1"},
	    {"PhysicalConnectionType", wired ? "0" : "3"},
	    {"PhysicalNicMedium", wired ? "0" : "1"},
	};
	for (size_t k = 0; rc == 0 && k < sizeof(kv) / sizeof(kv[0]); k++) {
		if (kv[k][1])
			rc = padd(p, kv[k][0], kv[k][1], why);
	}
	return rc;
}

/* ---- CIM_ComputerSystemPackage: PlatformGUID is the UUID in SMBIOS byte order as 32
 * hex digits (what MeshCentral and RPS decode). Antecedent and Dependent are references
 * to CIM_Chassis and CIM_ComputerSystem; this emulator gives them as the referenced
 * resource URIs (text), not as full endpoint references. ---- */

static int render_package(struct ws_ctx *c, size_t i, struct pp_wsman_props *p, struct pp_err *why)
{
	uint8_t rfc[16], smbios[16];
	char hex[33];
	int rc = need_setup(c, why);
	(void)i;
	if (rc < 0)
		return rc;
	pp_amt_uuid(c->dev, rfc);
	pp_uuid_to_smbios(rfc, smbios);
	pp_hex(smbios, 16, hex);
	for (char *h = hex; *h; h++) {
		if (*h >= 'a' && *h <= 'f')
			*h = (char)(*h - 'a' + 'A');
	}
	if ((rc = padd(p, "Antecedent", PP_CIM_SCHEMA "CIM_Chassis", why)) < 0 ||
	    (rc = padd(p, "Dependent", PP_CIM_SCHEMA "CIM_ComputerSystem", why)) < 0)
		return rc;
	return padd(p, "PlatformGUID", hex, why);
}

/* ---- AMT_AuthorizationService: the service instance (AMT SDK class reference); its
 * methods are in the method table. AllowHttpQopAuthOnly 1: Digest with qop=auth only. */

static int render_authorization(struct ws_ctx *c, size_t i, struct pp_wsman_props *p,
				struct pp_err *why)
{
	static const char *const kv[][2] = {
	    {"AllowHttpQopAuthOnly", "1"},
	    {"CreationClassName", PP_AMT_AUTHORIZATION_SERVICE},
	    {"ElementName", "Intel(r) AMT Authorization Service"},
	    {"EnabledState", "5"},
	    {"Name", "Intel(r) AMT Authorization Service"},
	    {"RequestedState", "12"},
	    {"SystemCreationClassName", "CIM_ComputerSystem"},
	    {"SystemName", "Intel(r) AMT"},
	};
	int rc = need_setup(c, why);
	(void)i;
	for (size_t k = 0; rc == 0 && k < sizeof(kv) / sizeof(kv[0]); k++)
		rc = padd(p, kv[k][0], kv[k][1], why);
	return rc;
}

/* ---- classes with instances: Get, Enumerate, Pull ---- */

typedef int (*ws_render_fn)(struct ws_ctx *c, size_t i, struct pp_wsman_props *p,
			    struct pp_err *why);

struct ws_class {
	const char *uri;
	const char *key; /* selector naming one instance; NULL: a single instance */
	size_t count;
	ws_render_fn render;
};

static const struct ws_class ws_classes[] = {
    {PP_AMT_URI_GENERAL_SETTINGS, NULL, 1, render_general},
    {PP_AMT_URI_SETUP_AND_CONFIGURATION_SERVICE, NULL, 1, render_setup},
    {PP_CIM_URI_SOFTWARE_IDENTITY, SEL_INSTANCE_ID, sizeof(sw_ids) / sizeof(sw_ids[0]),
     render_software},
    {PP_AMT_URI_ETHERNET_PORT_SETTINGS, SEL_INSTANCE_ID, 2, render_ethernet},
    {PP_CIM_URI_COMPUTER_SYSTEM_PACKAGE, NULL, 1, render_package},
    {PP_AMT_URI_AUTHORIZATION_SERVICE, NULL, 1, render_authorization},
};

static const struct ws_class *class_find(const char *uri)
{
	for (size_t i = 0; i < sizeof(ws_classes) / sizeof(ws_classes[0]); i++) {
		if (!strcmp(ws_classes[i].uri, uri))
			return &ws_classes[i];
	}
	return NULL;
}

static int op_get(struct ws_ctx *c, const struct ws_class *k)
{
	struct pp_err why = {0};
	const char *want = k->key ? pp_wsman_props_get(&c->req.selectors, k->key) : NULL;
	char reason[160];
	int rc;
	if (k->key && !want) {
		snprintf(reason, sizeof(reason), "%s has %zu instances: selector %s is required",
			 pp_wsman_class_name(k->uri), k->count, k->key);
		return fault(c, PP_WSMAN_FAULT_INVALID_SELECTORS, reason);
	}
	for (size_t i = 0; i < k->count; i++) {
		pp_wsman_props_wipe(&c->out);
		if ((rc = k->render(c, i, &c->out, &why)) < 0)
			return op_error_fault(c, rc, &why);
		const char *have = want ? pp_wsman_props_get(&c->out, k->key) : NULL;
		if (!want || (have && !strcmp(have, want)))
			return instance(c, pp_wsman_class_name(k->uri));
	}
	snprintf(reason, sizeof(reason), "no %s instance with %s '%.64s'",
		 pp_wsman_class_name(k->uri), k->key, want);
	return fault(c, PP_WSMAN_FAULT_INVALID_SELECTORS, reason);
}

/* ---- enumeration contexts (per device, in memory) ---- */

void pp_devws_state_free(struct pp_devws_state *s)
{
	free(s);
}

static void enum_drop(struct pp_devws_state *s, size_t i)
{
	s->e[i] = s->e[s->count - 1];
	memset(&s->e[s->count - 1], 0, sizeof(s->e[0]));
	s->count--;
}

static void enum_expire(struct pp_devws_state *s, int64_t now)
{
	for (size_t i = s->count; i-- > 0;) {
		if (s->e[i].expires <= now)
			enum_drop(s, i);
	}
}

static struct devws_enum *enum_find(struct ws_ctx *c)
{
	struct pp_devws_state *s = c->state ? *c->state : NULL;
	if (!s)
		return NULL;
	enum_expire(s, c->now);
	for (size_t i = 0; i < s->count; i++) {
		if (!strcmp(s->e[i].id, c->req.enum_context))
			return &s->e[i];
	}
	return NULL;
}

/* A new context for class k; the least recently used one goes when all are taken. */
static struct devws_enum *enum_open(struct ws_ctx *c, size_t k)
{
	uint8_t u[16];
	if (!c->state)
		return NULL;
	if (!*c->state && !(*c->state = calloc(1, sizeof(**c->state))))
		return NULL;
	struct pp_devws_state *s = *c->state;
	enum_expire(s, c->now);
	if (s->count == PP_DEVWS_ENUM_MAX) {
		size_t old = 0;
		for (size_t i = 1; i < s->count; i++) {
			if (s->e[i].expires < s->e[old].expires)
				old = i;
		}
		enum_drop(s, old);
	}
	if (pp_random(u, sizeof(u)) < 0)
		return NULL;
	u[6] = (uint8_t)((u[6] & 0x0F) | 0x40);
	u[8] = (uint8_t)((u[8] & 0x3F) | 0x80);
	struct devws_enum *e = &s->e[s->count++];
	pp_uuid_format(u, e->id);
	e->cls = (uint8_t)k;
	e->pos = 0;
	e->expires = c->now + PP_DEVWS_ENUM_TTL_S;
	return e;
}

static int enum_context_fault(struct ws_ctx *c)
{
	return fault(c, PP_WSMAN_FAULT_INVALID_ENUM_CONTEXT,
		     "unknown, expired or released enumeration context");
}

/* Items [from, from + n) of class k into one answer. */
static int enum_answer(struct ws_ctx *c, const struct ws_class *k, size_t from, size_t n,
		       const char *context, bool end)
{
	struct pp_err why = {0};
	/* Not calloc: each list is 35 KB of slots, of which a render fills a few. */
	struct pp_wsman_props *items = n ? malloc(n * sizeof(*items)) : NULL;
	int rc = 0;
	if (n && !items)
		return pp_err_set(c->err, PP_ENOMEM, "out of memory");
	for (size_t i = 0; i < n; i++)
		pp_wsman_props_init(&items[i]);
	for (size_t i = 0; i < n && rc == 0; i++)
		rc = k->render(c, from + i, &items[i], &why);
	if (rc < 0) {
		rc = op_error_fault(c, rc, &why);
		goto out;
	}
	pp_buf_reset(c->env);
	if ((rc = pp_wsman_enum_response_build(&c->req, context, items, n, end, c->env, c->err)) <
	    0)
		goto out;
	c->res->http_status = 200;
	what_set(c, "%s %s: %zu item%s%s", op_label(c), pp_wsman_class_name(k->uri), n,
		 n == 1 ? "" : "s", end ? ", end" : "");
out:
	for (size_t i = 0; items && i < n; i++)
		pp_wsman_props_wipe(&items[i]);
	free(items);
	return rc;
}

static int op_enumerate(struct ws_ctx *c, const struct ws_class *k)
{
	struct pp_err why = {0};
	int rc = need_setup(c, &why);
	if (rc < 0)
		return op_error_fault(c, rc, &why);
	size_t n = c->req.optimize ? c->req.max_elements : 0;
	if (n > k->count)
		n = k->count;
	struct devws_enum *e = enum_open(c, (size_t)(k - ws_classes));
	if (!e)
		return fault(c, PP_WSMAN_FAULT_INTERNAL_ERROR,
			     "no room for an enumeration context");
	char id[sizeof(e->id)];
	memcpy(id, e->id, sizeof(id));
	bool end = c->req.optimize && n == k->count;
	if (end) /* everything sent: the context is released at once (DSP0226 8.2.3) */
		enum_drop(*c->state, (size_t)(e - (*c->state)->e));
	else
		e->pos = (uint8_t)n;
	return enum_answer(c, k, 0, n, id, end);
}

static int op_pull(struct ws_ctx *c, const struct ws_class *k)
{
	struct devws_enum *e = enum_find(c);
	if (!e || &ws_classes[e->cls] != k)
		return enum_context_fault(c);
	size_t from = e->pos, n = k->count - from;
	if (n > c->req.max_elements)
		n = c->req.max_elements;
	bool end = from + n == k->count;
	char id[sizeof(e->id)];
	memcpy(id, e->id, sizeof(id));
	if (end) {
		enum_drop(*c->state, (size_t)(e - (*c->state)->e));
	} else {
		e->pos = (uint8_t)(from + n);
		e->expires = c->now + PP_DEVWS_ENUM_TTL_S;
	}
	return enum_answer(c, k, from, n, end ? NULL : id, end);
}

static int op_release(struct ws_ctx *c, const struct ws_class *k)
{
	struct devws_enum *e = enum_find(c);
	if (!e || &ws_classes[e->cls] != k)
		return enum_context_fault(c);
	enum_drop(*c->state, (size_t)(e - (*c->state)->e));
	pp_buf_reset(c->env);
	int rc = pp_wsman_release_response_build(&c->req, c->env, c->err);
	if (rc < 0)
		return rc;
	c->res->http_status = 200;
	what_set(c, "Release %s", pp_wsman_class_name(k->uri));
	return 0;
}

/* Put and methods (Get, Enumerate, Pull and Release go by ws_classes). */
static const struct ws_op ws_ops[] = {
    {PP_AMT_URI_GENERAL_SETTINGS, PP_WSMAN_OP_PUT, NULL, op_put_general},
    {PP_AMT_URI_SETUP_AND_CONFIGURATION_SERVICE, PP_WSMAN_OP_INVOKE, PP_AMT_SET_MEBX_PASSWORD,
     op_set_mebx},
    {PP_AMT_URI_SETUP_AND_CONFIGURATION_SERVICE, PP_WSMAN_OP_INVOKE, PP_AMT_SET_TLS_PSK,
     op_set_tls_psk},
    {PP_AMT_URI_SETUP_AND_CONFIGURATION_SERVICE, PP_WSMAN_OP_INVOKE, PP_AMT_COMMIT_CHANGES,
     op_commit},
    {PP_AMT_URI_SETUP_AND_CONFIGURATION_SERVICE, PP_WSMAN_OP_INVOKE, PP_AMT_UNPROVISION,
     op_unprovision},
    {PP_AMT_URI_SETUP_AND_CONFIGURATION_SERVICE, PP_WSMAN_OP_INVOKE, PP_AMT_GET_UUID, op_get_uuid},
    {PP_AMT_URI_AUTHORIZATION_SERVICE, PP_WSMAN_OP_INVOKE, PP_AMT_SET_ADMIN_ACL_ENTRY_EX,
     op_set_admin},
    {PP_AMT_URI_TIME_SYNCHRONIZATION_SERVICE, PP_WSMAN_OP_INVOKE,
     PP_AMT_GET_LOW_ACCURACY_TIME_SYNCH, op_get_time},
    {PP_AMT_URI_TIME_SYNCHRONIZATION_SERVICE, PP_WSMAN_OP_INVOKE,
     PP_AMT_SET_HIGH_ACCURACY_TIME_SYNCH, op_set_time},
};

static int dispatch(struct ws_ctx *c)
{
	const struct ws_class *k = class_find(c->req.resource_uri);
	bool known_class = k != NULL;
	if (k && c->req.op == PP_WSMAN_OP_GET)
		return op_get(c, k);
	if (k && c->req.op == PP_WSMAN_OP_ENUMERATE)
		return op_enumerate(c, k);
	if (k && c->req.op == PP_WSMAN_OP_PULL)
		return op_pull(c, k);
	if (k && c->req.op == PP_WSMAN_OP_RELEASE)
		return op_release(c, k);
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

struct pp_devws_work {
	struct ws_ctx c;
};

struct pp_devws_work *pp_devws_work_new(void)
{
	return malloc(sizeof(struct pp_devws_work));
}

void pp_devws_work_free(struct pp_devws_work *w)
{
	free(w);
}

int pp_devws_handle(struct pp_devws_work *work, struct pp_amt_device *dev,
		    struct pp_devws_state **state, const uint8_t addr[4], const void *xml,
		    size_t len, int64_t now, struct pp_buf *out, struct pp_devws_result *res,
		    struct pp_err *err)
{
	memset(res, 0, sizeof(*res));
	res->http_status = 500;
	/* About 105 KB, nearly all of it the property slots of the request and the answer:
	 * neither zeroed nor wiped whole. The parse resets the request, the answer starts
	 * empty, and the wipes below clear the slots that were filled (the only place a
	 * secret can be). */
	struct ws_ctx *c = work ? &work->c : malloc(sizeof(*c));
	if (!c)
		return pp_err_set(err, PP_ENOMEM, "out of memory");
	pp_wsman_props_init(&c->out);
	c->dev = dev;
	c->state = state;
	c->addr = addr;
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
	if (!work)
		free(c);
	return rc;
}

/* ---- request trace ---- */

/* True for the local name of an element whose text is a secret. */
static bool secret_element(const char *name, size_t n)
{
	static const char *const exact[] = {"PPS", "Password", "DigestPassword"};
	for (size_t i = 0; i < sizeof(exact) / sizeof(exact[0]); i++) {
		if (strlen(exact[i]) == n && !memcmp(name, exact[i], n))
			return true;
	}
	for (size_t i = 0; i + 8 <= n; i++) {
		if (!memcmp(name + i, "Password", 8))
			return true;
	}
	return false;
}

static const char *find3(const char *x, size_t len, const char *pat)
{
	for (size_t i = 0; i + 3 <= len; i++) {
		if (!memcmp(x + i, pat, 3))
			return x + i;
	}
	return NULL;
}

/* Past the content of the element whose start tag ends at p: up to its first end tag
 * or nested element, CDATA sections and comments skipped whole. */
static size_t content_end(const char *x, size_t p, size_t len)
{
	while (p < len) {
		if (x[p] == '<' && len - p >= 9 && !memcmp(x + p, "<![CDATA[", 9)) {
			const char *e = find3(x + p, len - p, "]]>");
			p = e ? (size_t)(e - x) + 3 : len;
		} else if (x[p] == '<' && len - p >= 4 && !memcmp(x + p, "<!--", 4)) {
			const char *e = find3(x + p, len - p, "-->");
			p = e ? (size_t)(e - x) + 3 : len;
		} else if (x[p] == '<') {
			return p;
		} else {
			p++;
		}
	}
	return len;
}

int pp_devws_trace_redact(const void *xml, size_t len, struct pp_buf *out, struct pp_err *err)
{
	const char *x = xml;
	size_t p = 0, copied = 0;
	int rc = 0;
	pp_buf_reset(out);
	while (rc == 0 && p < len) {
		if (x[p] != '<' || p + 1 >= len || x[p + 1] == '/' || x[p + 1] == '!' ||
		    x[p + 1] == '?') {
			p++;
			continue;
		}
		size_t name = p + 1, q = name;
		while (q < len && !strchr(" \t\r\n/>", x[q]))
			q++;
		const char *colon = memchr(x + name, ':', q - name);
		size_t local = colon ? (size_t)(colon - x) + 1 : name;
		size_t gt = q;
		while (gt < len && x[gt] != '>')
			gt++;
		if (gt >= len || x[gt - 1] == '/' || !secret_element(x + local, q - local)) {
			p = gt;
			continue;
		}
		size_t end = content_end(x, gt + 1, len);
		if ((rc = pp_buf_append(out, x + copied, gt + 1 - copied)) == 0)
			rc = pp_buf_append_str(out, "(hidden)");
		copied = p = end;
	}
	if (rc == 0)
		rc = pp_buf_append(out, x + copied, len - copied);
	if (rc < 0)
		return pp_err_set(err, rc, "request trace: the redacted copy does not fit");
	return 0;
}
