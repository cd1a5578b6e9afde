/* The provisioning sequence as data: one row per step (docs/provisioning.md).
 *
 * A WS-Management row builds its request and reads the answer; a store row names the
 * store operation and reads its result. Either reader returns the next row: the one
 * after it in the table (ROW_NEXT), itself again (ROW_AGAIN), or one of the jumps the
 * row declares, which is all pp_prov_dot() draws. */
#include "prov/rows.h"

#include <stdio.h>
#include <string.h>

#include "core/parse.h"
#include "core/secret.h"
#include "core/base64.h"
#include "wsman/digest.h"

#define PULL_MAX 16           /* Pulls of one enumeration before we give up */
#define PULL_ELEMENTS 999u    /* MaxElements, as Intel's tools ask */
#define SW_AMT_INSTANCE "AMT" /* CIM_SoftwareIdentity InstanceID of the firmware version */

/* ---- helpers ---------------------------------------------------------------- */

static int get(struct pp_prov *p, const char *uri, struct pp_err *err)
{
	pp_buf_reset(&p->body);
	return pp_wsman_build_get(PV_TO, uri, NULL, &p->call, &p->body, err);
}

static int invoke(struct pp_prov *p, const char *uri, const char *method,
		  const struct pp_wsman_props *params, struct pp_err *err)
{
	pp_buf_reset(&p->body);
	return pp_wsman_build_invoke(PV_TO, uri, method, NULL, params, &p->call, &p->body, err);
}

static int need_u32(const struct pp_wsman_response *r, const char *name, uint32_t max,
		    uint32_t *out, struct pp_err *err)
{
	const char *v = pp_wsman_props_get(&r->props, name);
	if (!v || pp_parse_u32(v, 0, max, out, name, NULL) < 0)
		return pp_err_set(err, PP_EPROTO, "no valid %s in the answer", name);
	return 0;
}

/* ---- the reads --------------------------------------------------------------- */

static int build_read_settings(struct pp_prov *p, const struct pp_prov_event *ev,
			       struct pp_prov_action *a, struct pp_err *err)
{
	(void)ev;
	(void)a;
	return get(p, PP_AMT_URI_GENERAL_SETTINGS, err);
}

static int read_settings(struct pp_prov *p, const struct pp_wsman_response *r, struct pp_err *err)
{
	const char *realm = pp_wsman_props_get(&r->props, PP_AMT_P_DIGEST_REALM);
	if (!realm || !pp_amt_realm_valid(realm))
		return pp_err_set(err, PP_EPROTO, "no valid DigestRealm in the answer");
	snprintf(p->realm, sizeof(p->realm), "%s", realm);
	/* Kept whole for the Put of PV_NAMES, which writes back what it read. */
	if (pp_prov_instance_keep(&p->settings, &r->props, err) < 0)
		return -PP_ENOMEM;
	return ROW_NEXT;
}

static int build_read_setup(struct pp_prov *p, const struct pp_prov_event *ev,
			    struct pp_prov_action *a, struct pp_err *err)
{
	(void)ev;
	(void)a;
	return get(p, PP_AMT_URI_SETUP_AND_CONFIGURATION_SERVICE, err);
}

static int read_setup(struct pp_prov *p, const struct pp_wsman_response *r, struct pp_err *err)
{
	uint32_t v;
	if (need_u32(r, PP_AMT_P_PROVISIONING_STATE, 2, &v, err) < 0)
		return -PP_EPROTO;
	if (v == PP_AMT_STATE_POST) {
		if (p->job.step >= PP_STEP_COMMIT_SENT)
			return PV_COMPLETE; /* committed before a crash: finish the record */
		return pp_err_set(err, PP_ESTATE,
				  "the device is already provisioned (not by this job)");
	}
	if (v != PP_AMT_STATE_IN)
		return pp_err_set(err, PP_ESTATE,
				  "the device is in provisioning state %u, not In-Setup", v);
	return ROW_NEXT;
}

/* The state on the HTTP port, with the escrowed admin account: Post-Setup means the
 * commit went through before a crash; In-Setup that it did not (set up again). */
static int read_verify(struct pp_prov *p, const struct pp_wsman_response *r, struct pp_err *err)
{
	(void)p;
	uint32_t v;
	if (need_u32(r, PP_AMT_P_PROVISIONING_STATE, 2, &v, err) < 0)
		return -PP_EPROTO;
	if (v == PP_AMT_STATE_POST)
		return PV_COMPLETE;
	if (v == PP_AMT_STATE_IN)
		return PV_READ_SETTINGS;
	return pp_err_set(err, PP_ESTATE, "the device went back to Pre-Setup");
}

static int build_read_uuid(struct pp_prov *p, const struct pp_prov_event *ev,
			   struct pp_prov_action *a, struct pp_err *err)
{
	(void)ev;
	(void)a;
	return invoke(p, PP_AMT_URI_SETUP_AND_CONFIGURATION_SERVICE, PP_AMT_GET_UUID, NULL, err);
}

/* GetUuid answers base64 of the 16 bytes in SMBIOS order, as the hello carries them.
 * This UUID, read over the channel the PPS authenticated, is the one the key is bound
 * to; the hello's is only a claim (docs/security-model.md). */
static int read_uuid(struct pp_prov *p, const struct pp_wsman_response *r, struct pp_err *err)
{
	const char *b64 = pp_wsman_props_get(&r->props, PP_AMT_P_UUID);
	uint8_t wire[16];
	size_t n = 0;
	if (!b64 || pp_b64_decode(b64, strlen(b64), wire, sizeof(wire), &n, NULL) < 0 || n != 16)
		return pp_err_set(err, PP_EPROTO, "no valid UUID in the GetUuid answer");
	pp_uuid_from_smbios(wire, p->proven_uuid);
	return ROW_NEXT;
}

static int build_bind(struct pp_prov *p, const struct pp_prov_event *ev, struct pp_prov_action *a,
		      struct pp_err *err)
{
	(void)ev;
	(void)err;
	pp_prov_host_name(p); /* the candidate; the store reserves it or a unique variant */
	a->op = PV_OP_BIND;
	return 0;
}

/* -PP_EPERM: the key already belongs to another device (or a shared key is over its
 * limit): this device is quarantined as a clone, and the job ends for good. */
static int stored_bind(struct pp_prov *p, int rc, struct pp_err *err)
{
	if (rc == -PP_EPERM) {
		p->failure_recorded = true; /* the store failed the job with the quarantine */
		return pp_err_set(err, PP_EPERM,
				  "a cloned or shared key over its limit: the "
				  "device is quarantined");
	}
	if (rc < 0)
		return rc;
	memcpy(p->job.uuid, p->proven_uuid, 16);
	return ROW_NEXT;
}

static int build_enum_version(struct pp_prov *p, const struct pp_prov_event *ev,
			      struct pp_prov_action *a, struct pp_err *err)
{
	(void)ev;
	(void)a;
	p->pulls = 0;
	p->fw_version[0] = '\0';
	pp_buf_reset(&p->body);
	return pp_wsman_build_enumerate(PV_TO, PP_CIM_URI_SOFTWARE_IDENTITY, &p->call, &p->body,
					err);
}

static int keep_context(struct pp_prov *p, const struct pp_wsman_response *r, struct pp_err *err)
{
	if (!r->enum_context[0])
		return pp_err_set(err, PP_EPROTO, "no EnumerationContext in the answer");
	snprintf(p->enum_context, sizeof(p->enum_context), "%s", r->enum_context);
	return 0;
}

static int read_enum_version(struct pp_prov *p, const struct pp_wsman_response *r,
			     struct pp_err *err)
{
	if (keep_context(p, r, err) < 0)
		return -PP_EPROTO;
	return ROW_NEXT;
}

static int build_pull_version(struct pp_prov *p, const struct pp_prov_event *ev,
			      struct pp_prov_action *a, struct pp_err *err)
{
	(void)ev;
	(void)a;
	pp_buf_reset(&p->body);
	int rc = pp_wsman_build_pull(PV_TO, PP_CIM_URI_SOFTWARE_IDENTITY, p->enum_context,
				     PULL_ELEMENTS, &p->call, &p->body, err);
	if (rc == 0)
		rc = pp_wsman_call_pick(&p->call, PP_CIM_P_INSTANCE_ID, SW_AMT_INSTANCE, err);
	return rc;
}

static int read_pull_version(struct pp_prov *p, const struct pp_wsman_response *r,
			     struct pp_err *err)
{
	if (r->picked) {
		const char *v = pp_wsman_props_get(&r->props, PP_CIM_P_VERSION_STRING);
		snprintf(p->fw_version, sizeof(p->fw_version), "%s", v ? v : "");
	}
	if (r->end_of_sequence)
		return ROW_NEXT;
	if (++p->pulls >= PULL_MAX)
		return pp_err_set(err, PP_EPROTO,
				  "CIM_SoftwareIdentity: no EndOfSequence after %u Pulls",
				  PULL_MAX);
	if (keep_context(p, r, err) < 0)
		return -PP_EPROTO;
	return ROW_AGAIN;
}

/* ---- escrow and the account -------------------------------------------------- */

static bool have_sec(const struct pp_prov *p)
{
	return p->have_sec;
}

static int build_escrow(struct pp_prov *p, const struct pp_prov_event *ev, struct pp_prov_action *a,
			struct pp_err *err)
{
	(void)ev;
	const struct pp_prov_policy *pol = p->policy;
	snprintf(p->sec.admin_user, sizeof(p->sec.admin_user), "%s", pol->admin_user);
	if (pol->gen_password(pol->rng, pol->admin_password_length, p->sec.admin_password) < 0 ||
	    pol->gen_password(pol->rng, pol->mebx_password_length, p->sec.mebx_password) < 0)
		return pp_err_set(err, PP_ECRYPTO, "cannot generate passwords");
	a->op = PV_OP_ESCROW;
	return 0;
}

static int stored_escrow(struct pp_prov *p, int rc, struct pp_err *err)
{
	if (rc < 0)
		return rc;
	(void)err;
	p->have_sec = true;
	return ROW_NEXT;
}

static int build_acl(struct pp_prov *p, const struct pp_prov_event *ev, struct pp_prov_action *a,
		     struct pp_err *err)
{
	(void)ev;
	(void)a;
	struct pp_wsman_props prm;
	char hash[25];
	pp_wsman_props_init(&prm);
	int rc =
	    pp_digest_password_hash(p->sec.admin_user, p->realm, p->sec.admin_password, hash, err);
	if (rc == 0)
		rc = pp_wsman_props_add(&prm, PP_AMT_P_USERNAME, p->sec.admin_user, err);
	if (rc == 0)
		rc = pp_wsman_props_add(&prm, PP_AMT_P_DIGEST_PASSWORD, hash, err);
	if (rc == 0)
		rc = invoke(p, PP_AMT_URI_AUTHORIZATION_SERVICE, PP_AMT_SET_ADMIN_ACL_ENTRY_EX,
			    &prm, err);
	pp_wipe(hash, sizeof(hash));
	pp_wsman_props_wipe(&prm);
	return rc;
}

static int build_mebx(struct pp_prov *p, const struct pp_prov_event *ev, struct pp_prov_action *a,
		      struct pp_err *err)
{
	(void)ev;
	(void)a;
	struct pp_wsman_props prm;
	pp_wsman_props_init(&prm);
	int rc = pp_wsman_props_add(&prm, PP_AMT_P_PASSWORD, p->sec.mebx_password, err);
	if (rc == 0)
		rc = invoke(p, PP_AMT_URI_SETUP_AND_CONFIGURATION_SERVICE, PP_AMT_SET_MEBX_PASSWORD,
			    &prm, err);
	pp_wsman_props_wipe(&prm);
	return rc;
}

static int read_mebx(struct pp_prov *p, const struct pp_wsman_response *r, struct pp_err *err)
{
	(void)r;
	(void)err;
	p->use_new_mebx = true; /* the challenge stays; only the password changes */
	return ROW_NEXT;
}

/* ---- the next key ------------------------------------------------------------ */

static bool no_rotation(const struct pp_prov *p)
{
	return !p->policy->rotate_psk;
}

static bool no_new_key(const struct pp_prov *p)
{
	return !p->policy->rotate_psk || p->have_next;
}

static int build_next_key(struct pp_prov *p, const struct pp_prov_event *ev,
			  struct pp_prov_action *a, struct pp_err *err)
{
	(void)ev;
	const struct pp_prov_policy *pol = p->policy;
	if (pol->gen_key(pol->rng, &p->cand_pid, &p->cand_pps) < 0)
		return pp_err_set(err, PP_ECRYPTO, "cannot generate the next key");
	a->op = PV_OP_NEXT_KEY;
	return 0;
}

static int stored_next_key(struct pp_prov *p, int rc, struct pp_err *err)
{
	(void)err;
	pp_wipe(&p->cand_pps, sizeof(p->cand_pps));
	if (rc == -PP_EEXIST)
		return ROW_AGAIN; /* the PID is taken: draw again */
	if (rc < 0)
		return rc;
	p->have_next = true;
	memcpy(p->job.next_pid, p->next_pid.s, sizeof(p->job.next_pid));
	return ROW_NEXT;
}

static int build_psk(struct pp_prov *p, const struct pp_prov_event *ev, struct pp_prov_action *a,
		     struct pp_err *err)
{
	(void)ev;
	(void)a;
	struct pp_wsman_props prm;
	char pid64[16], pps64[48];
	pp_wsman_props_init(&prm);
	int rc = pp_b64_encode(p->next_pid.s, 8, pid64, sizeof(pid64), err);
	if (rc == 0)
		rc = pp_b64_encode(p->next_pps.s, 32, pps64, sizeof(pps64), err);
	if (rc == 0)
		rc = pp_wsman_props_add(&prm, PP_AMT_P_PID, pid64, err);
	if (rc == 0)
		rc = pp_wsman_props_add(&prm, PP_AMT_P_PPS, pps64, err);
	if (rc == 0)
		rc = invoke(p, PP_AMT_URI_SETUP_AND_CONFIGURATION_SERVICE, PP_AMT_SET_TLS_PSK, &prm,
			    err);
	pp_wipe(pps64, sizeof(pps64));
	pp_wsman_props_wipe(&prm);
	return rc;
}

/* ---- names, clock, commit ---------------------------------------------------- */

static int build_names(struct pp_prov *p, const struct pp_prov_event *ev, struct pp_prov_action *a,
		       struct pp_err *err)
{
	(void)ev;
	(void)a;
	struct pp_wsman_props inst;
	if (!p->host_name[0])
		pp_prov_host_name(p);
	int rc = pp_prov_instance_with(&p->settings, PP_AMT_P_HOST_NAME, p->host_name,
				       PP_AMT_P_DOMAIN_NAME, p->policy->domain, &inst, err);
	if (rc == 0) {
		pp_buf_reset(&p->body);
		rc = pp_wsman_build_put(PV_TO, PP_AMT_URI_GENERAL_SETTINGS, NULL, &inst, &p->call,
					&p->body, err);
	}
	pp_wsman_props_wipe(&inst);
	return rc;
}

static bool no_clock(const struct pp_prov *p)
{
	return !p->policy->set_time;
}

static int build_time_get(struct pp_prov *p, const struct pp_prov_event *ev,
			  struct pp_prov_action *a, struct pp_err *err)
{
	(void)ev;
	(void)a;
	return invoke(p, PP_AMT_URI_TIME_SYNCHRONIZATION_SERVICE,
		      PP_AMT_GET_LOW_ACCURACY_TIME_SYNCH, NULL, err);
}

static int read_time_get(struct pp_prov *p, const struct pp_wsman_response *r, struct pp_err *err)
{
	if (need_u32(r, PP_AMT_P_TA0, UINT32_MAX, &p->ta0, err) < 0)
		return -PP_EPROTO;
	return ROW_NEXT;
}

static int build_time_set(struct pp_prov *p, const struct pp_prov_event *ev,
			  struct pp_prov_action *a, struct pp_err *err)
{
	(void)a;
	struct pp_wsman_props prm;
	char ta0[16], tm[24];
	pp_wsman_props_init(&prm);
	snprintf(ta0, sizeof(ta0), "%u", p->ta0);
	snprintf(tm, sizeof(tm), "%lld", (long long)ev->now);
	int rc = pp_wsman_props_add(&prm, PP_AMT_P_TA0, ta0, err);
	if (rc == 0)
		rc = pp_wsman_props_add(&prm, PP_AMT_P_TM1, tm, err);
	if (rc == 0)
		rc = pp_wsman_props_add(&prm, PP_AMT_P_TM2, tm, err);
	if (rc == 0)
		rc = invoke(p, PP_AMT_URI_TIME_SYNCHRONIZATION_SERVICE,
			    PP_AMT_SET_HIGH_ACCURACY_TIME_SYNCH, &prm, err);
	return rc;
}

static bool commit_recorded(const struct pp_prov *p)
{
	return p->job.step >= PP_STEP_COMMIT_SENT;
}

static int build_commit_record(struct pp_prov *p, const struct pp_prov_event *ev,
			       struct pp_prov_action *a, struct pp_err *err)
{
	(void)p;
	(void)ev;
	(void)err;
	a->op = PV_OP_STEP;
	a->step = PP_STEP_COMMIT_SENT;
	return 0;
}

static int stored_commit_record(struct pp_prov *p, int rc, struct pp_err *err)
{
	(void)err;
	if (rc < 0)
		return rc;
	p->job.step = PP_STEP_COMMIT_SENT;
	return ROW_NEXT;
}

static int build_commit(struct pp_prov *p, const struct pp_prov_event *ev, struct pp_prov_action *a,
			struct pp_err *err)
{
	(void)ev;
	(void)a;
	return invoke(p, PP_AMT_URI_SETUP_AND_CONFIGURATION_SERVICE, PP_AMT_COMMIT_CHANGES, NULL,
		      err);
}

static int build_complete(struct pp_prov *p, const struct pp_prov_event *ev,
			  struct pp_prov_action *a, struct pp_err *err)
{
	(void)ev;
	(void)err;
	if (!p->host_name[0])
		pp_prov_host_name(p);
	a->op = PV_OP_COMPLETE;
	return 0;
}

static int stored_complete(struct pp_prov *p, int rc, struct pp_err *err)
{
	(void)p;
	(void)err;
	return rc < 0 ? rc : PV_END;
}

static int read_next(struct pp_prov *p, const struct pp_wsman_response *r, struct pp_err *err)
{
	(void)p;
	(void)r;
	(void)err;
	return ROW_NEXT;
}

/* ---- the table --------------------------------------------------------------- */

/* clang-format off */
const struct pp_prov_rowdef pp_prov_rows[PV_ROW_COUNT] = {
	[PV_VERIFY] = {
		.name = "VERIFY", .what = "check the commit",
		.transport = PV_PLAIN, .build = build_read_setup, .read = read_verify,
		.jumps = {PV_COMPLETE, PV_READ_SETTINGS},
		.unreachable = PV_READ_SETTINGS,
		.resume = "first row when the commit was recorded; unreachable or "
			  "refused: set up again over TLS",
	},
	[PV_READ_SETTINGS] = {
		.name = "READ_SETTINGS", .what = "read AMT_GeneralSettings",
		.build = build_read_settings, .read = read_settings,
		.resume = "repeated",
	},
	[PV_READ_SETUP] = {
		.name = "READ_SETUP", .what = "read the provisioning state",
		.build = build_read_setup, .read = read_setup, .jumps = {PV_COMPLETE},
		.resume = "repeated; Post-Setup with the commit recorded: complete",
	},
	[PV_READ_UUID] = {
		.name = "READ_UUID", .what = "read the UUID (GetUuid)",
		.build = build_read_uuid, .read = read_uuid, .resume = "repeated",
	},
	[PV_BIND] = {
		.name = "BIND", .what = "bind the key to the device",
		.store = true, .build = build_bind, .stored = stored_bind,
		.resume = "repeated (idempotent for the same device)",
	},
	[PV_ENUM_VERSION] = {
		.name = "ENUM_VERSION", .what = "enumerate CIM_SoftwareIdentity",
		.build = build_enum_version, .read = read_enum_version, .resume = "repeated",
	},
	[PV_PULL_VERSION] = {
		.name = "PULL_VERSION", .what = "pull CIM_SoftwareIdentity",
		.build = build_pull_version, .read = read_pull_version, .again = true,
		.reached = PP_STEP_READ, .resume = "repeated",
	},
	[PV_ESCROW] = {
		.name = "ESCROW", .what = "escrow the device credentials",
		.store = true, .build = build_escrow, .stored = stored_escrow, .skip = have_sec,
		.skip_when = "escrowed", .resume = "the escrowed values are used again",
	},
	[PV_ACL] = {
		.name = "ACL", .what = "set the admin account",
		.build = build_acl, .read = read_next, .reached = PP_STEP_ACL,
		.resume = "repeated with the escrowed account",
	},
	[PV_MEBX] = {
		.name = "MEBX", .what = "set the MEBx password",
		.build = build_mebx, .read = read_mebx, .reached = PP_STEP_MEBX,
		.resume = "repeated; authenticates with the new password first",
	},
	[PV_NEXT_KEY] = {
		.name = "NEXT_KEY", .what = "store the next key",
		.store = true, .build = build_next_key, .stored = stored_next_key,
		.skip = no_new_key, .again = true,
		.skip_when = "no rotation, or stored", .resume = "the stored key is used again",
	},
	[PV_PSK] = {
		.name = "PSK", .what = "install the next PID/PPS",
		.build = build_psk, .read = read_next, .skip = no_rotation, .reached = PP_STEP_PSK,
		.skip_when = "no rotation", .resume = "repeated with the stored key",
	},
	[PV_NAMES] = {
		.name = "NAMES", .what = "set host and domain names",
		.build = build_names, .read = read_next, .reached = PP_STEP_NAMES,
		.resume = "repeated",
	},
	[PV_TIME_GET] = {
		.name = "TIME_GET", .what = "read the clock",
		.build = build_time_get, .read = read_time_get, .skip = no_clock,
		.skip_when = "clock not set", .resume = "repeated",
	},
	[PV_TIME_SET] = {
		.name = "TIME_SET", .what = "set the clock",
		.build = build_time_set, .read = read_next, .skip = no_clock,
		.reached = PP_STEP_TIME, .skip_when = "clock not set", .resume = "repeated",
	},
	[PV_COMMIT_RECORD] = {
		.name = "COMMIT_RECORD", .what = "record the commit step",
		.store = true, .build = build_commit_record, .stored = stored_commit_record,
		.skip = commit_recorded, .skip_when = "recorded",
		.resume = "a recorded commit starts the next run at VERIFY",
	},
	[PV_COMMIT] = {
		.name = "COMMIT", .what = "commit",
		.build = build_commit, .read = read_next, .resume = "VERIFY decides",
	},
	[PV_COMPLETE] = {
		.name = "COMPLETE", .what = "record success",
		.store = true, .build = build_complete, .stored = stored_complete,
		.jumps = {PV_END}, .resume = "idempotent",
	},
};
/* clang-format on */

const char *pp_prov_row_name(enum pp_prov_row row)
{
	if (row == PV_END)
		return "END";
	if (row <= PV_ROW_NONE || row >= PV_END)
		return "?";
	return pp_prov_rows[row].name;
}
