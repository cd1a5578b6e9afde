/* Operations that change the device: factory load, console, USB, WS-Management.
 * Each validates, works on a copy, saves the copy and only then makes it current
 * (amt_commit_change), so a failed call leaves the device as it was. */
#include "firmware/device_impl.h"

#include "core/parse.h"
#include "core/setupstate.h"
#include "core/secret.h"
#include "wsman/digest.h"

#include <stdio.h>
#include <string.h>

const char *pp_amt_state_name(enum pp_amt_setup_state s)
{
	return pp_setup_state_name((uint32_t)s); /* the firmware's numbering is PTHI's */
}

/* Bad parameters are -PP_EINVAL whatever the parser's finer code (e.g. a checksum). */
static int as_einval(int rc, struct pp_err *err)
{
	if (rc < 0 && err)
		err->code = PP_EINVAL;
	return rc < 0 ? -PP_EINVAL : 0;
}

static int parse_key(const char *pid_text, const char *pps_text, struct pp_pid *pid,
		     struct pp_pps *pps, struct pp_err *err)
{
	if (!pid_text || !pps_text)
		return pp_err_set(err, PP_EINVAL, "PID and PPS: both are required");
	int rc = pp_pid_parse(pid_text, pid, err);
	if (rc == 0)
		rc = pp_pps_parse(pps_text, pps, err);
	return as_einval(rc, err);
}

static int check_password(const char *pw, struct pp_err *err)
{
	return as_einval(pp_mebx_password_check(pw, err), err);
}

static bool same_key(const struct pp_pid *a, const struct pp_pps *as, const struct pp_pid *b,
		     const struct pp_pps *bs)
{
	return strcmp(a->s, b->s) == 0 && pp_ct_eq(as->s, bs->s, sizeof(as->s));
}

static bool same_server(const struct pp_amt_server *a, const struct pp_amt_server *b)
{
	return a->has_ipv4 == b->has_ipv4 && (!a->has_ipv4 || memcmp(a->ipv4, b->ipv4, 4) == 0) &&
	       strcmp(a->fqdn, b->fqdn) == 0 && a->port == b->port;
}

static void set_server(struct pp_amt_server *dst, const struct pp_amt_server *src)
{
	memset(dst, 0, sizeof(*dst));
	dst->has_ipv4 = src->has_ipv4;
	if (src->has_ipv4)
		memcpy(dst->ipv4, src->ipv4, 4);
	memcpy(dst->fqdn, src->fqdn, strlen(src->fqdn) + 1);
	dst->port = src->port;
}

static int check_names(const char *host, const char *domain, struct pp_err *err)
{
	if (host && *host && !amt_host_label_valid(host))
		return pp_err_set(err, PP_EINVAL,
				  "host name: expected one DNS label (1..%d of A-Z a-z 0-9 '-', "
				  "no '-' first or last)",
				  PP_AMT_DEV_HOST_MAX);
	if (domain && *domain && !pp_valid_fqdn(domain))
		return pp_err_set(err, PP_EINVAL, "domain name: not a DNS name");
	return 0;
}

static void set_key(struct pp_amt_device *d, const struct pp_pid *pid, const struct pp_pps *pps)
{
	d->pid = *pid;
	d->pps = *pps;
	d->has_key = true;
}

/* A key being loaded and the working copy of the device it goes into. */
struct key_load {
	struct pp_pid pid;
	struct pp_pps pps;
	struct pp_amt_device next;
};

static void key_load_wipe(struct key_load *k)
{
	pp_wipe(k, sizeof(*k));
}

/* The key on the working copy: In-Setup, hellos from now on, audited. */
static void load_key(struct key_load *k, const char *how)
{
	set_key(&k->next, &k->pid, &k->pps);
	k->next.state = PP_AMT_IN_SETUP;
	amt_hello_trigger(&k->next);
	amt_audit(&k->next, "key loaded (%s), PID %s", how, k->pid.s);
}

static void clear_admin(struct pp_amt_device *d)
{
	pp_wipe(d->admin_user, sizeof(d->admin_user));
	pp_wipe(d->admin_ha1, sizeof(d->admin_ha1));
	d->has_admin = false;
}

static int need_network(const struct pp_amt_device *d, const char *what, struct pp_err *err)
{
	if (d->state == PP_AMT_PRE_SETUP)
		return pp_err_set(err, PP_ESTATE, "%s: not available in Pre-Setup", what);
	return 0;
}

static int password_failed(int rc, struct pp_err *err)
{
	return pp_err_set(err, rc == -PP_ENOMEM ? PP_ENOMEM : PP_ECRYPTO,
			  "MEBx password: cannot compute its verifier");
}

/* ---- factory ---- */

int pp_amt_load_key(struct pp_amt_device *dev, const char *pid_text, const char *pps_text,
		    const char *new_mebx_password, const struct pp_amt_server *server,
		    struct pp_err *err)
{
	pp_cleanup(key_load_wipe) struct key_load k = {0};
	int rc;
	if ((rc = parse_key(pid_text, pps_text, &k.pid, &k.pps, err)) < 0 ||
	    (rc = check_password(new_mebx_password, err)) < 0 ||
	    (server && (rc = amt_server_check(server, err)) < 0))
		return rc;
	if (dev->state != PP_AMT_PRE_SETUP) {
		/* The same load again (a crash before the caller learned it succeeded). */
		if (dev->state == PP_AMT_IN_SETUP &&
		    same_key(&dev->pid, &dev->pps, &k.pid, &k.pps) &&
		    amt_password_matches(dev, new_mebx_password))
			return 0;
		return pp_err_set(err, PP_ESTATE,
				  "factory key load: the device is %s, not Pre-Setup",
				  pp_amt_state_name(dev->state));
	}
	k.next = *dev;
	if ((rc = amt_set_password(&k.next, new_mebx_password)) < 0)
		return password_failed(rc, err);
	if (server)
		set_server(&k.next.server, server);
	load_key(&k, "factory");
	return amt_commit_change(dev, &k.next, err);
}

/* ---- console (MEBx) ---- */

int pp_amt_console_login(struct pp_amt_device *dev, const char *password, struct pp_err *err)
{
	if (!amt_password_matches(dev, password)) {
		amt_audit(dev, "console login failed");
		return pp_err_set(err, PP_EPERM, "MEBx password: wrong password");
	}
	amt_audit(dev, "console login");
	return 0;
}

/* Sets the MEBx password on a copy, audits it and makes the copy current. */
static int replace_password(struct pp_amt_device *dev, const char *password, const char *event,
			    struct pp_err *err)
{
	pp_cleanup(amt_device_wipe) struct pp_amt_device next = *dev;
	int rc = amt_set_password(&next, password);
	if (rc < 0)
		return password_failed(rc, err);
	amt_audit(&next, "%s", event);
	return amt_commit_change(dev, &next, err);
}

int pp_amt_console_change_password(struct pp_amt_device *dev, const char *old, const char *new_pw,
				   struct pp_err *err)
{
	int rc;
	if (!amt_password_matches(dev, old)) {
		amt_audit(dev, "console password change refused");
		return pp_err_set(err, PP_EPERM, "MEBx password: the current password is wrong");
	}
	if ((rc = check_password(new_pw, err)) < 0)
		return rc;
	return replace_password(dev, new_pw, "MEBx password changed (console)", err);
}

static int console_ready(const struct pp_amt_device *d, const char *what, struct pp_err *err)
{
	if (d->factory_default)
		return pp_err_set(err, PP_ESTATE,
				  "%s: the MEBx password is still the factory default; change it "
				  "first",
				  what);
	if (d->state == PP_AMT_POST_SETUP)
		return pp_err_set(err, PP_ESTATE,
				  "%s: the device is provisioned; unprovision first", what);
	return 0;
}

int pp_amt_console_set_key(struct pp_amt_device *dev, const char *pid_text, const char *pps_text,
			   struct pp_err *err)
{
	pp_cleanup(key_load_wipe) struct key_load k = {0};
	int rc;
	if ((rc = parse_key(pid_text, pps_text, &k.pid, &k.pps, err)) < 0 ||
	    (rc = console_ready(dev, "console key", err)) < 0)
		return rc;
	if (dev->has_key && same_key(&dev->pid, &dev->pps, &k.pid, &k.pps))
		return 0;
	k.next = *dev;
	load_key(&k, "console");
	return amt_commit_change(dev, &k.next, err);
}

int pp_amt_console_set_server(struct pp_amt_device *dev, const struct pp_amt_server *server,
			      struct pp_err *err)
{
	struct pp_amt_device next;
	int rc;
	if (!server)
		return pp_err_set(err, PP_EINVAL, "server: missing");
	if ((rc = amt_server_check(server, err)) < 0 ||
	    (rc = console_ready(dev, "console server", err)) < 0)
		return rc;
	if (same_server(&dev->server, server))
		return 0;
	next = *dev;
	set_server(&next.server, server);
	amt_audit(&next, "configuration server set (console)");
	rc = amt_commit_change(dev, &next, err);
	pp_wipe(&next, sizeof(next));
	return rc;
}

/* ---- USB (docs/protocol.md section 6) ---- */

/* Every value of the record checked; the key (when it has one) parsed into pid, pps. */
static int usb_check_record(const struct pp_amt_usb_record *rec, struct pp_pid *pid,
			    struct pp_pps *pps, struct pp_err *err)
{
	int rc;
	if (!rec || !rec->current_password || !rec->new_password)
		return pp_err_set(err, PP_EINVAL,
				  "USB record: the current and new MEBx passwords are required");
	if (!rec->pid != !rec->pps)
		return pp_err_set(err, PP_EINVAL, "USB record: a PID needs a PPS and a PPS a PID");
	if ((rec->pid && (rc = parse_key(rec->pid, rec->pps, pid, pps, err)) < 0) ||
	    (rc = check_password(rec->new_password, err)) < 0 ||
	    (rec->server && (rc = amt_server_check(rec->server, err)) < 0) ||
	    (rc = check_names(rec->host_name, rec->domain_name, err)) < 0) {
		pp_err_prefix(err, "USB record");
		return rc;
	}
	return 0;
}

/* A device whose password is no longer the factory default: 0 when it already holds
 * what the record sets (a crash before the record was consumed), else -PP_ESTATE. */
static int usb_applied_before(const struct pp_amt_device *dev, const struct pp_amt_usb_record *rec,
			      const struct pp_pid *pid, const struct pp_pps *pps,
			      struct pp_err *err)
{
	bool applied =
	    rec->pid ? dev->state == PP_AMT_IN_SETUP && same_key(&dev->pid, &dev->pps, pid, pps)
		     : dev->state == PP_AMT_PRE_SETUP;
	if (applied && amt_password_matches(dev, rec->new_password))
		return 0;
	return pp_err_set(err, PP_ESTATE,
			  "USB record: the MEBx password is no longer the factory default");
}

int pp_amt_usb_apply(struct pp_amt_device *dev, const struct pp_amt_usb_record *rec,
		     struct pp_err *err)
{
	pp_cleanup(key_load_wipe) struct key_load k = {0};
	int rc;
	if ((rc = usb_check_record(rec, &k.pid, &k.pps, err)) < 0)
		return rc;
	if (!dev->factory_default)
		return usb_applied_before(dev, rec, &k.pid, &k.pps, err);
	if (dev->state != PP_AMT_PRE_SETUP)
		return pp_err_set(err, PP_ESTATE, "USB record: the device is %s, not Pre-Setup",
				  pp_amt_state_name(dev->state));
	if (!pp_ct_streq(rec->current_password, PP_AMT_DEV_FACTORY_PASSWORD)) {
		amt_audit(dev, "USB record refused: wrong current password");
		return pp_err_set(err, PP_EPERM, "USB record: the current MEBx password is wrong");
	}
	k.next = *dev;
	if ((rc = amt_set_password(&k.next, rec->new_password)) < 0)
		return password_failed(rc, err);
	if (rec->server)
		set_server(&k.next.server, rec->server);
	if (rec->host_name)
		memcpy(k.next.host_name, rec->host_name, strlen(rec->host_name) + 1);
	if (rec->domain_name)
		memcpy(k.next.domain_name, rec->domain_name, strlen(rec->domain_name) + 1);
	if (rec->pid)
		load_key(&k, "USB");
	else
		amt_audit(&k.next, "MEBx password set (USB)");
	return amt_commit_change(dev, &k.next, err);
}

/* ---- WS-Management (docs/protocol.md section 4) ---- */

int pp_amt_digest_ha1(const struct pp_amt_device *dev, const char *user,
		      uint8_t ha1[PP_AMT_DEV_HA1_LEN], struct pp_err *err)
{
	int rc = need_network(dev, "Digest", err);
	if (rc < 0)
		return rc;
	if (user && dev->state == PP_AMT_IN_SETUP && strcmp(user, PP_AMT_DEV_DIGEST_USER) == 0) {
		memcpy(ha1, dev->mebx_ha1, PP_AMT_DEV_HA1_LEN);
		return 0;
	}
	if (user && dev->state == PP_AMT_POST_SETUP && dev->has_admin &&
	    strcmp(user, dev->admin_user) == 0) {
		memcpy(ha1, dev->admin_ha1, PP_AMT_DEV_HA1_LEN);
		return 0;
	}
	return pp_err_set(err, PP_EPERM, "Digest: unknown user");
}

int pp_amt_get_general_settings(const struct pp_amt_device *dev,
				struct pp_amt_general_settings *out, struct pp_err *err)
{
	int rc = need_network(dev, "AMT_GeneralSettings", err);
	if (rc < 0)
		return rc;
	memset(out, 0, sizeof(*out));
	memcpy(out->digest_realm, dev->realm, sizeof(out->digest_realm));
	memcpy(out->host_name, dev->host_name, sizeof(out->host_name));
	memcpy(out->domain_name, dev->domain_name, sizeof(out->domain_name));
	out->network_enabled = dev->network_enabled;
	return 0;
}

int pp_amt_put_general_settings(struct pp_amt_device *dev, const char *host_name,
				const char *domain_name, bool network_enabled, struct pp_err *err)
{
	struct pp_amt_device next;
	int rc;
	if ((rc = need_network(dev, "AMT_GeneralSettings", err)) < 0 ||
	    (rc = check_names(host_name, domain_name, err)) < 0)
		return rc;
	next = *dev;
	if (host_name)
		memcpy(next.host_name, host_name, strlen(host_name) + 1);
	if (domain_name)
		memcpy(next.domain_name, domain_name, strlen(domain_name) + 1);
	next.network_enabled = network_enabled;
	if (strcmp(next.host_name, dev->host_name) == 0 &&
	    strcmp(next.domain_name, dev->domain_name) == 0 &&
	    next.network_enabled == dev->network_enabled) {
		rc = 0;
		goto out;
	}
	amt_audit(&next, "general settings set");
	rc = amt_commit_change(dev, &next, err);
out:
	pp_wipe(&next, sizeof(next));
	return rc;
}

int pp_amt_get_setup_config(const struct pp_amt_device *dev, uint32_t *state, uint32_t *mode,
			    struct pp_err *err)
{
	int rc = need_network(dev, "AMT_SetupAndConfigurationService", err);
	if (rc < 0)
		return rc;
	*state = dev->state;
	*mode = dev->mode;
	return 0;
}

int pp_amt_set_mebx_password(struct pp_amt_device *dev, const char *password, struct pp_err *err)
{
	uint8_t ha1[PP_AMT_DEV_HA1_LEN];
	int rc;
	if ((rc = need_network(dev, "SetMEBxPassword", err)) < 0 ||
	    (rc = check_password(password, err)) < 0)
		return rc;
	if ((rc = amt_ha1(PP_AMT_DEV_DIGEST_USER, dev->realm, password, ha1)) < 0)
		return password_failed(rc, err);
	/* Same HA1 under the same realm and user: the same password. */
	bool same = !dev->factory_default && pp_ct_eq(ha1, dev->mebx_ha1, sizeof(ha1));
	pp_wipe(ha1, sizeof(ha1));
	if (same)
		return 0;
	return replace_password(dev, password, "MEBx password set (WS-Management)", err);
}

int pp_amt_set_tls_psk(struct pp_amt_device *dev, const char *pid_text, const char *pps_text,
		       struct pp_err *err)
{
	struct pp_pid pid;
	struct pp_pps pps;
	struct pp_amt_device next;
	int rc;
	if ((rc = need_network(dev, "SetTLSPSK", err)) < 0 ||
	    (rc = parse_key(pid_text, pps_text, &pid, &pps, err)) < 0)
		goto out;
	if (dev->has_next && same_key(&dev->next_pid, &dev->next_pps, &pid, &pps)) {
		rc = 0;
		goto out;
	}
	next = *dev;
	next.next_pid = pid;
	next.next_pps = pps;
	next.has_next = true;
	amt_audit(&next, "next key set, PID %s", pid.s);
	rc = amt_commit_change(dev, &next, err);
out:
	pp_wipe(&next, sizeof(next));
	pp_wipe(&pps, sizeof(pps));
	return rc;
}

int pp_amt_set_admin_acl(struct pp_amt_device *dev, const char *user,
			 const char *digest_password_b64, struct pp_err *err)
{
	struct pp_amt_device next;
	uint8_t ha1[PP_AMT_DEV_HA1_LEN];
	int rc;
	if ((rc = need_network(dev, "SetAdminAclEntryEx", err)) < 0)
		return rc;
	if (!user || !amt_user_valid(user))
		return pp_err_set(err, PP_EINVAL,
				  "admin user name: expected 1..%d printable characters without "
				  "space : , \" \\",
				  PP_AMT_DEV_USER_MAX);
	if (!digest_password_b64 || pp_digest_ha1_from_b64(digest_password_b64, ha1, NULL) < 0)
		return pp_err_set(err, PP_EINVAL,
				  "DigestPassword: expected base64 of 16 bytes (24 characters "
				  "ending in \"==\")");
	if (dev->has_admin && strcmp(dev->admin_user, user) == 0 &&
	    pp_ct_eq(dev->admin_ha1, ha1, sizeof(ha1))) {
		rc = 0;
		goto out;
	}
	next = *dev;
	memset(next.admin_user, 0, sizeof(next.admin_user));
	memcpy(next.admin_user, user, strlen(user) + 1);
	memcpy(next.admin_ha1, ha1, sizeof(ha1));
	next.has_admin = true;
	amt_audit(&next, "admin account set, user '%s'", user);
	rc = amt_commit_change(dev, &next, err);
out:
	pp_wipe(&next, sizeof(next));
	pp_wipe(ha1, sizeof(ha1));
	return rc;
}

int pp_amt_commit(struct pp_amt_device *dev, struct pp_err *err)
{
	struct pp_amt_device next;
	int rc;
	if ((rc = need_network(dev, "CommitChanges", err)) < 0)
		return rc;
	if (dev->state == PP_AMT_POST_SETUP)
		return 0;
	if (!dev->has_admin)
		return pp_err_set(err, PP_ESTATE,
				  "CommitChanges: no admin account (SetAdminAclEntryEx first)");
	next = *dev;
	next.state = PP_AMT_POST_SETUP;
	next.hello_active = false;
	next.hs_failures = 0;
	next.hs_until_ms = 0;
	amt_audit(&next, "setup committed, PID %s", next.pid.s);
	rc = amt_commit_change(dev, &next, err);
	pp_wipe(&next, sizeof(next));
	return rc;
}

static bool factory_fresh(const struct pp_amt_device *d)
{
	return d->state == PP_AMT_PRE_SETUP && d->factory_default && !d->has_key && !d->has_next &&
	       !d->has_admin && !d->server.has_ipv4 && !d->server.fqdn[0] &&
	       d->server.port == PP_AMT_DEV_SERVER_PORT && !d->host_name[0] && !d->domain_name[0] &&
	       d->network_enabled;
}

int pp_amt_unprovision(struct pp_amt_device *dev, uint32_t mode, struct pp_err *err)
{
	struct pp_amt_device next;
	int rc;
	if (mode != PP_AMT_DEV_UNPROVISION_PARTIAL && mode != PP_AMT_DEV_UNPROVISION_FULL)
		return pp_err_set(err, PP_EINVAL,
				  "Unprovision: mode %u is not %u (partial) or %u (full)", mode,
				  PP_AMT_DEV_UNPROVISION_PARTIAL, PP_AMT_DEV_UNPROVISION_FULL);
	if (mode == PP_AMT_DEV_UNPROVISION_PARTIAL) {
		if ((rc = need_network(dev, "Unprovision", err)) < 0)
			return rc;
		next = *dev;
		if (next.has_next) {
			set_key(&next, &next.next_pid, &next.next_pps);
			pp_wipe(&next.next_pid, sizeof(next.next_pid));
			pp_wipe(&next.next_pps, sizeof(next.next_pps));
			next.has_next = false;
		}
		clear_admin(&next);
		next.state = PP_AMT_IN_SETUP;
		amt_hello_trigger(&next);
		next.hs_failures = 0;
		next.hs_until_ms = 0;
		amt_audit(&next, "unprovisioned (partial), PID %s", next.pid.s);
	} else {
		if (factory_fresh(dev))
			return 0;
		next = *dev;
		if ((rc = amt_set_factory_password(&next)) < 0) {
			rc = password_failed(rc, err);
			goto out;
		}
		pp_wipe(&next.pid, sizeof(next.pid));
		pp_wipe(&next.pps, sizeof(next.pps));
		pp_wipe(&next.next_pid, sizeof(next.next_pid));
		pp_wipe(&next.next_pps, sizeof(next.next_pps));
		next.has_key = next.has_next = false;
		clear_admin(&next);
		memset(&next.server, 0, sizeof(next.server));
		next.server.port = PP_AMT_DEV_SERVER_PORT;
		memset(next.host_name, 0, sizeof(next.host_name));
		memset(next.domain_name, 0, sizeof(next.domain_name));
		next.network_enabled = true;
		next.state = PP_AMT_PRE_SETUP;
		next.hello_active = false;
		next.hs_failures = 0;
		next.hs_until_ms = 0;
		amt_audit(&next, "unprovisioned (full)");
	}
	rc = amt_commit_change(dev, &next, err);
out:
	pp_wipe(&next, sizeof(next));
	return rc;
}

int pp_amt_get_time(const struct pp_amt_device *dev, int64_t now, uint32_t *ta0, struct pp_err *err)
{
	int rc = need_network(dev, "GetLowAccuracyTimeSynch", err);
	if (rc < 0)
		return rc;
	int64_t t;
	if (__builtin_add_overflow(now, dev->time_offset, &t) || t < 0 || t > PP_AMT_DEV_TIME_MAX)
		return pp_err_set(err, PP_ESTATE, "device clock: out of the 32-bit range");
	*ta0 = (uint32_t)t;
	return 0;
}

int pp_amt_set_time(struct pp_amt_device *dev, int64_t now, uint32_t ta0, uint32_t tm1,
		    uint32_t tm2, struct pp_err *err)
{
	struct pp_amt_device next;
	int64_t dev_now, delay, offset;
	int rc;
	if ((rc = need_network(dev, "SetHighAccuracyTimeSynch", err)) < 0)
		return rc;
	/* The same call again (a crash before the server recorded it): the correction
	 * must not be applied twice. */
	if (dev->has_last_sync && dev->last_ta0 == ta0 && dev->last_tm1 == tm1 &&
	    dev->last_tm2 == tm2)
		return 0;
	if (now < -PP_AMT_DEV_TIME_MAX || now > 2 * PP_AMT_DEV_TIME_MAX)
		return pp_err_set(err, PP_EINVAL, "host clock: out of range");
	if (tm1 > tm2)
		return pp_err_set(err, PP_EINVAL,
				  "SetHighAccuracyTimeSynch: Tm1 %u is after Tm2 %u", tm1, tm2);
	dev_now = now + dev->time_offset;
	if ((int64_t)ta0 > dev_now)
		return pp_err_set(err, PP_EINVAL,
				  "SetHighAccuracyTimeSynch: Ta0 %u is later than the device "
				  "clock",
				  ta0);
	delay = (dev_now - ta0) - ((int64_t)tm2 - tm1);
	if (delay < 0)
		delay = 0;
	offset = (int64_t)tm2 + delay / 2 - now;
	if (offset < -PP_AMT_DEV_TIME_MAX || offset > PP_AMT_DEV_TIME_MAX)
		return pp_err_set(err, PP_EINVAL, "SetHighAccuracyTimeSynch: offset out of range");
	next = *dev;
	next.time_offset = offset;
	next.has_last_sync = true;
	next.last_ta0 = ta0;
	next.last_tm1 = tm1;
	next.last_tm2 = tm2;
	amt_audit(&next, "clock set");
	rc = amt_commit_change(dev, &next, err);
	pp_wipe(&next, sizeof(next));
	return rc;
}

/* ---- TLS-PSK ---- */

int pp_amt_tls_key(const struct pp_amt_device *dev, struct pp_pid *pid, struct pp_pps *pps,
		   struct pp_err *err)
{
	if (dev->state != PP_AMT_IN_SETUP)
		return pp_err_set(err, PP_ESTATE, "TLS-PSK: the device is %s, not In-Setup",
				  pp_amt_state_name(dev->state));
	*pid = dev->pid;
	*pps = dev->pps;
	return 0;
}
