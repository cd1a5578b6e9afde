/* The device state file: create, load, parse, serialize, save (see device.h).
 *
 * Format [ours], version 1, JSON (jansson), every key required, no other key allowed:
 *   format            1
 *   uuid              "xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx", lower case
 *   realm             "Digest:" + 32 upper-case hex digits
 *   state             0 Pre-Setup, 1 In-Setup, 2 Post-Setup
 *   mode              1 enterprise, 2 small business
 *   mebx              {factory_default, ha1 (32 hex), pbkdf2_iterations,
 *                      salt (32 hex | null), verifier (64 hex | null)}
 *   key, next_key     {pid, pps} canonical (upper case, no dashes) | null
 *   server            {ipv4 ("a.b.c.d" | null), fqdn ("" | DNS name), port 1..65535}
 *   admin             {user, ha1 (32 hex)} | null
 *   host_name         "" | DNS label;   domain_name  "" | DNS name
 *   network_enabled   bool;             time_offset  seconds, |x| <= 2^32 - 1
 *   last_time_synch   {ta0, tm1, tm2} of the last SetHighAccuracyTimeSynch | null
 *   firmware          {bios, amt, build, sku} printable ASCII
 *   audit             [{time, event}], oldest first, at most PP_AMT_DEV_AUDIT_MAX
 * Hex is lower case. Serializing a parsed file gives the same text again.
 * Consistency: Pre-Setup has no key, next key or admin; In-/Post-Setup have a key and a
 * password that is not the factory default; Post-Setup has an admin account; the
 * factory default has no salt or verifier and its HA1 is that of "admin". */
#include "firmware/device_impl.h"

#include "core/fileio.h"
#include "core/parse.h"
#include "core/secret.h"

#include <errno.h>
#include <jansson.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define AUDIT_TIME_MAX 253402300799LL /* 9999-12-31T23:59:59Z */

static const struct pp_amt_versions default_versions = {
    .bios = "pskprov emulated BIOS",
    .amt = "6.2.61",
    .build = "3535",
    .sku = "AMT Pro",
};

/* ---- small shared helpers ---- */

bool amt_printable(const char *s, size_t max)
{
	size_t n = strnlen(s, max + 1);
	if (n > max)
		return false;
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)s[i] < 0x20 || (unsigned char)s[i] > 0x7e)
			return false;
	return true;
}

bool amt_host_label_valid(const char *s)
{
	size_t n = strnlen(s, PP_AMT_DEV_HOST_MAX + 1);
	if (n == 0 || n > PP_AMT_DEV_HOST_MAX || s[0] == '-' || s[n - 1] == '-')
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '-'))
			return false;
	}
	return true;
}

bool amt_user_valid(const char *s)
{
	size_t n = strnlen(s, PP_AMT_DEV_USER_MAX + 1);
	if (n == 0 || n > PP_AMT_DEV_USER_MAX)
		return false;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		/* ':' separates the HA1 fields; ',' '"' '\' break the Digest header. */
		if (c < 0x21 || c > 0x7e || c == ':' || c == ',' || c == '"' || c == '\\')
			return false;
	}
	return true;
}

int amt_server_check(const struct pp_amt_server *s, struct pp_err *err)
{
	size_t n = strnlen(s->fqdn, sizeof(s->fqdn));
	if (n == sizeof(s->fqdn))
		return pp_err_set(err, PP_EINVAL, "server FQDN: not terminated");
	if (n && !pp_valid_fqdn(s->fqdn))
		return pp_err_set(err, PP_EINVAL, "server FQDN: '%s' is not a DNS name", s->fqdn);
	if (s->port == 0)
		return pp_err_set(err, PP_EINVAL, "server port: 0 is out of range 1..65535");
	return 0;
}

void amt_audit(struct pp_amt_device *d, const char *fmt, ...)
{
	struct pp_amt_audit_event *e;
	if (d->audit_count < PP_AMT_DEV_AUDIT_MAX) {
		e = &d->audit[(d->audit_start + d->audit_count) % PP_AMT_DEV_AUDIT_MAX];
		d->audit_count++;
	} else {
		e = &d->audit[d->audit_start];
		d->audit_start = (uint8_t)((d->audit_start + 1) % PP_AMT_DEV_AUDIT_MAX);
	}
	int64_t t = (int64_t)time(NULL) + d->time_offset;
	e->time = t < 0 ? 0 : t > AUDIT_TIME_MAX ? AUDIT_TIME_MAX : t;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(e->text, sizeof(e->text), fmt, ap);
	va_end(ap);
	/* Texts are ours, but keep the file's invariant whatever a format produced. */
	for (char *p = e->text; *p; p++)
		if ((unsigned char)*p < 0x20 || (unsigned char)*p > 0x7e)
			*p = '?';
	if (!e->text[0])
		memcpy(e->text, "?", 2);
}

void amt_hello_trigger(struct pp_amt_device *d)
{
	d->hello_active = true;
	d->hello_due_set = false;
	d->hello_sent = 0;
	d->hello_due_ms = 0;
}

/* ---- serialize ---- */

/* Secret values in the JSON tree (both directions): wiped in place before the tree is
 * freed, since jansson frees without wiping. */
static void wipe_string(json_t *s)
{
	if (json_is_string(s))
		pp_wipe((char *)json_string_value(s), json_string_length(s));
}

static void wipe_tree(json_t *root)
{
	static const char *const paths[][2] = {
	    {"key", "pps"},       {"next_key", "pps"}, {"mebx", "ha1"},
	    {"mebx", "verifier"}, {"admin", "ha1"},
	};
	if (!json_is_object(root))
		return;
	for (size_t i = 0; i < sizeof(paths) / sizeof(paths[0]); i++) {
		json_t *o = json_object_get(root, paths[i][0]);
		if (json_is_object(o))
			wipe_string(json_object_get(o, paths[i][1]));
	}
}

static json_t *hex_string(const uint8_t *b, size_t n)
{
	char hex[2 * AMT_VERIFIER_LEN + 1];
	pp_hex(b, n, hex);
	json_t *s = json_string(hex);
	pp_wipe(hex, sizeof(hex));
	return s;
}

static bool put(json_t *o, const char *k, json_t *v)
{
	return json_object_set_new(o, k, v) == 0; /* frees v on failure; v may be NULL */
}

static json_t *key_json(const struct pp_pid *pid, const struct pp_pps *pps)
{
	json_t *o = json_object();
	if (!o)
		return NULL;
	if (!put(o, "pid", json_string(pid->s)) || !put(o, "pps", json_string(pps->s))) {
		wipe_string(json_object_get(o, "pps"));
		json_decref(o);
		return NULL;
	}
	return o;
}

static json_t *build_tree(const struct pp_amt_device *d)
{
	char uuid[37];
	json_t *root = json_object(), *o;
	if (!root)
		return NULL;
	pp_uuid_format(d->uuid, uuid);
	bool ok =
	    put(root, "format", json_integer(PP_AMT_DEV_FORMAT)) &&
	    put(root, "uuid", json_string(uuid)) && put(root, "realm", json_string(d->realm)) &&
	    put(root, "state", json_integer(d->state)) && put(root, "mode", json_integer(d->mode));
	if (ok && (ok = (o = json_object()) != NULL) && (ok = put(root, "mebx", o)))
		ok = put(o, "factory_default", json_boolean(d->factory_default)) &&
		     put(o, "ha1", hex_string(d->mebx_ha1, sizeof(d->mebx_ha1))) &&
		     put(o, "pbkdf2_iterations", json_integer(d->pbkdf2_iterations)) &&
		     put(o, "salt",
			 d->factory_default ? json_null()
					    : hex_string(d->mebx_salt, sizeof(d->mebx_salt))) &&
		     put(o, "verifier",
			 d->factory_default
			     ? json_null()
			     : hex_string(d->mebx_verifier, sizeof(d->mebx_verifier)));
	ok = ok && put(root, "key", d->has_key ? key_json(&d->pid, &d->pps) : json_null());
	ok = ok && put(root, "next_key",
		       d->has_next ? key_json(&d->next_pid, &d->next_pps) : json_null());
	if (ok && (ok = (o = json_object()) != NULL) && (ok = put(root, "server", o))) {
		char ip[16];
		snprintf(ip, sizeof(ip), "%u.%u.%u.%u", d->server.ipv4[0], d->server.ipv4[1],
			 d->server.ipv4[2], d->server.ipv4[3]);
		ok = put(o, "ipv4", d->server.has_ipv4 ? json_string(ip) : json_null()) &&
		     put(o, "fqdn", json_string(d->server.fqdn)) &&
		     put(o, "port", json_integer(d->server.port));
	}
	if (ok && d->has_admin) {
		if ((ok = (o = json_object()) != NULL) && (ok = put(root, "admin", o)))
			ok = put(o, "user", json_string(d->admin_user)) &&
			     put(o, "ha1", hex_string(d->admin_ha1, sizeof(d->admin_ha1)));
	} else if (ok) {
		ok = put(root, "admin", json_null());
	}
	ok = ok && put(root, "host_name", json_string(d->host_name)) &&
	     put(root, "domain_name", json_string(d->domain_name)) &&
	     put(root, "network_enabled", json_boolean(d->network_enabled)) &&
	     put(root, "time_offset", json_integer(d->time_offset));
	if (ok && d->has_last_sync) {
		if ((ok = (o = json_object()) != NULL) && (ok = put(root, "last_time_synch", o)))
			ok = put(o, "ta0", json_integer(d->last_ta0)) &&
			     put(o, "tm1", json_integer(d->last_tm1)) &&
			     put(o, "tm2", json_integer(d->last_tm2));
	} else if (ok) {
		ok = put(root, "last_time_synch", json_null());
	}
	if (ok && (ok = (o = json_object()) != NULL) && (ok = put(root, "firmware", o)))
		ok = put(o, "bios", json_string(d->versions.bios)) &&
		     put(o, "amt", json_string(d->versions.amt)) &&
		     put(o, "build", json_string(d->versions.build)) &&
		     put(o, "sku", json_string(d->versions.sku));
	if (ok && (ok = (o = json_array()) != NULL) && (ok = put(root, "audit", o))) {
		for (size_t i = 0; ok && i < d->audit_count; i++) {
			const struct pp_amt_audit_event *e =
			    &d->audit[(d->audit_start + i) % PP_AMT_DEV_AUDIT_MAX];
			json_t *ev = json_object();
			ok = ev && json_array_append_new(o, ev) == 0 &&
			     put(ev, "time", json_integer(e->time)) &&
			     put(ev, "event", json_string(e->text));
		}
	}
	if (!ok) {
		wipe_tree(root);
		json_decref(root);
		return NULL;
	}
	return root;
}

int pp_amt_serialize(const struct pp_amt_device *d, struct pp_buf *out, struct pp_err *err)
{
	const size_t flags = JSON_INDENT(2) | JSON_PRESERVE_ORDER | JSON_ENSURE_ASCII;
	int rc;
	char *text = NULL;
	size_t n = 0;
	if (d->volatile_state)
		return pp_err_set(err, PP_ESTATE, "a volatile device has no state file");
	json_t *root = build_tree(d);
	if (!root)
		return pp_err_set(err, PP_ENOMEM, "cannot build the device state");
	n = json_dumpb(root, NULL, 0, flags);
	if (n == 0 || n > PP_AMT_DEV_STATE_MAX) {
		rc = pp_err_set(err, PP_ETOOBIG, "device state does not fit %d bytes",
				PP_AMT_DEV_STATE_MAX);
		goto out;
	}
	text = malloc(n);
	if (!text) {
		rc = pp_err_set(err, PP_ENOMEM, "out of memory");
		goto out;
	}
	if (json_dumpb(root, text, n, flags) != n || pp_buf_append(out, text, n) < 0 ||
	    pp_buf_append(out, "\n", 1) < 0) {
		rc = pp_err_set(err, PP_ETOOBIG, "cannot serialize the device state");
		goto out;
	}
	rc = 0;
out:
	if (text) {
		pp_wipe(text, n);
		free(text);
	}
	wipe_tree(root);
	json_decref(root);
	return rc;
}

int amt_save(const struct pp_amt_device *d, struct pp_err *err)
{
	if (d->volatile_state)
		return 0;
	if (!d->path)
		return pp_err_set(err, PP_ESTATE, "the device has no state directory");
	struct pp_buf b;
	pp_buf_init(&b, PP_AMT_DEV_STATE_MAX + 1);
	int rc = pp_amt_serialize(d, &b, err);
	if (rc == 0)
		rc = pp_file_replace(d->path, b.data, b.len, 0600, err);
	pp_buf_free_wipe(&b);
	return rc;
}

int pp_amt_save(struct pp_amt_device *dev, struct pp_err *err)
{
	return amt_save(dev, err);
}

int amt_commit_change(struct pp_amt_device *dev, struct pp_amt_device *next, struct pp_err *err)
{
	int rc = amt_save(next, err);
	if (rc == 0)
		memcpy(dev, next, sizeof(*dev));
	pp_wipe(next, sizeof(*next));
	return rc;
}

void amt_device_wipe(struct pp_amt_device *d)
{
	pp_wipe(d, sizeof(*d));
}

/* ---- parse ---- */

static int field_err(struct pp_err *err, int code, const char *name, const char *fmt, ...)
    PP_PRINTF(4, 5);

static int field_err(struct pp_err *err, int code, const char *name, const char *fmt, ...)
{
	char msg[192];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	return pp_err_set(err, code, "field '%s': %s", name, msg);
}

/* A key from the file, fit for a one-line message. */
static const char *key_for_msg(const char *k)
{
	return amt_printable(k, 40) && !strchr(k, '\'') ? k : "(unprintable)";
}

static int check_keys(json_t *obj, const char *name, const char *const *keys, size_t n,
		      struct pp_err *err)
{
	if (!json_is_object(obj))
		return field_err(err, PP_EINVAL, name, "expected an object");
	const char *k;
	json_t *v;
	json_object_foreach(obj, k, v)
	{
		bool known = false;
		for (size_t i = 0; i < n && !known; i++)
			known = strcmp(k, keys[i]) == 0;
		if (!known)
			return pp_err_set(err, PP_EINVAL, "unknown field '%s%s%s'", name,
					  *name ? "." : "", key_for_msg(k));
	}
	for (size_t i = 0; i < n; i++)
		if (!json_object_get(obj, keys[i]))
			return pp_err_set(err, PP_EINVAL, "missing field '%s%s%s'", name,
					  *name ? "." : "", keys[i]);
	return 0;
}

static int get_str(json_t *obj, const char *key, const char *name, size_t max, const char **out,
		   struct pp_err *err)
{
	json_t *v = json_object_get(obj, key);
	if (!json_is_string(v))
		return field_err(err, PP_EINVAL, name, "expected a string");
	if (json_string_length(v) > max)
		return field_err(err, PP_ETOOBIG, name, "longer than %zu characters", max);
	*out = json_string_value(v);
	return 0;
}

static int get_int(json_t *obj, const char *key, const char *name, int64_t min, int64_t max,
		   int64_t *out, struct pp_err *err)
{
	json_t *v = json_object_get(obj, key);
	if (!json_is_integer(v))
		return field_err(err, PP_EINVAL, name, "expected an integer");
	json_int_t x = json_integer_value(v);
	if (x < min || x > max)
		return field_err(err, PP_EINVAL, name, "%lld is out of range %lld..%lld",
				 (long long)x, (long long)min, (long long)max);
	*out = (int64_t)x;
	return 0;
}

static int get_bool(json_t *obj, const char *key, const char *name, bool *out, struct pp_err *err)
{
	json_t *v = json_object_get(obj, key);
	if (!json_is_boolean(v))
		return field_err(err, PP_EINVAL, name, "expected true or false");
	*out = json_is_true(v);
	return 0;
}

/* Exactly 2n lower-case hex digits. */
static int get_hex(json_t *obj, const char *key, const char *name, uint8_t *out, size_t n,
		   struct pp_err *err)
{
	const char *s;
	int rc = get_str(obj, key, name, 2 * n, &s, err);
	if (rc < 0)
		return rc;
	bool ok = strlen(s) == 2 * n;
	for (size_t i = 0; ok && i < 2 * n; i++)
		ok = (s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f');
	if (!ok || pp_unhex(s, out, n) < 0)
		return field_err(err, PP_EINVAL, name, "expected %zu lower-case hex digits", 2 * n);
	return 0;
}

static int get_key(json_t *root, const char *key, bool *has, struct pp_pid *pid, struct pp_pps *pps,
		   struct pp_err *err)
{
	static const char *const keys[] = {"pid", "pps"};
	char name[32];
	const char *s;
	json_t *o = json_object_get(root, key);
	*has = false;
	if (json_is_null(o))
		return 0;
	int rc = check_keys(o, key, keys, 2, err);
	if (rc < 0)
		return rc;
	snprintf(name, sizeof(name), "%s.pid", key);
	if ((rc = get_str(o, "pid", name, PP_PID_LEN, &s, err)) < 0)
		return rc;
	if ((rc = pp_pid_parse(s, pid, err)) < 0) {
		pp_err_prefix(err, "field '%s'", name);
		return rc;
	}
	if (strcmp(pid->s, s) != 0)
		return field_err(err, PP_EINVAL, name, "not canonical (upper case, no dashes)");
	snprintf(name, sizeof(name), "%s.pps", key);
	if ((rc = get_str(o, "pps", name, PP_PPS_LEN, &s, err)) < 0)
		return rc;
	if ((rc = pp_pps_parse(s, pps, err)) < 0) {
		pp_err_prefix(err, "field '%s'", name);
		return rc;
	}
	if (!pp_ct_streq(pps->s, s))
		return field_err(err, PP_EINVAL, name, "not canonical (upper case, no dashes)");
	*has = true;
	return 0;
}

static bool realm_valid(const char *s)
{
	if (strlen(s) != PP_AMT_DEV_REALM_LEN || strncmp(s, "Digest:", 7) != 0)
		return false;
	for (size_t i = 7; i < PP_AMT_DEV_REALM_LEN; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'A' && s[i] <= 'F')))
			return false;
	return true;
}

static int copy_str(char *dst, size_t cap, const char *src)
{
	size_t n = strlen(src);
	if (n >= cap)
		return -PP_ETOOBIG;
	memcpy(dst, src, n + 1);
	return 0;
}

static int parse_mebx(json_t *root, struct pp_amt_device *d, struct pp_err *err)
{
	static const char *const keys[] = {"factory_default", "ha1", "pbkdf2_iterations", "salt",
					   "verifier"};
	json_t *o = json_object_get(root, "mebx");
	int64_t v;
	int rc = check_keys(o, "mebx", keys, 5, err);
	if (rc < 0)
		return rc;
	if ((rc = get_bool(o, "factory_default", "mebx.factory_default", &d->factory_default,
			   err)) < 0 ||
	    (rc = get_hex(o, "ha1", "mebx.ha1", d->mebx_ha1, sizeof(d->mebx_ha1), err)) < 0 ||
	    (rc = get_int(o, "pbkdf2_iterations", "mebx.pbkdf2_iterations", PP_AMT_DEV_PBKDF2_MIN,
			  PP_AMT_DEV_PBKDF2_MAX, &v, err)) < 0)
		return rc;
	d->pbkdf2_iterations = (uint32_t)v;
	if (d->factory_default) {
		if (!json_is_null(json_object_get(o, "salt")))
			return field_err(err, PP_EINVAL, "mebx.salt",
					 "must be null while the password is the factory default");
		if (!json_is_null(json_object_get(o, "verifier")))
			return field_err(err, PP_EINVAL, "mebx.verifier",
					 "must be null while the password is the factory default");
		uint8_t ha1[PP_AMT_DEV_HA1_LEN];
		if ((rc = amt_ha1(PP_AMT_DEV_DIGEST_USER, d->realm, PP_AMT_DEV_FACTORY_PASSWORD,
				  ha1)) < 0)
			return pp_err_set(err, -rc, "cannot compute a digest");
		if (!pp_ct_eq(ha1, d->mebx_ha1, sizeof(ha1)))
			return field_err(err, PP_EINVAL, "mebx.ha1",
					 "does not match the factory default password");
		return 0;
	}
	if ((rc = get_hex(o, "salt", "mebx.salt", d->mebx_salt, sizeof(d->mebx_salt), err)) < 0 ||
	    (rc = get_hex(o, "verifier", "mebx.verifier", d->mebx_verifier,
			  sizeof(d->mebx_verifier), err)) < 0)
		return rc;
	return 0;
}

static int parse_server(json_t *root, struct pp_amt_server *s, struct pp_err *err)
{
	static const char *const keys[] = {"ipv4", "fqdn", "port"};
	json_t *o = json_object_get(root, "server");
	const char *str;
	int64_t v;
	int rc = check_keys(o, "server", keys, 3, err);
	if (rc < 0)
		return rc;
	memset(s, 0, sizeof(*s));
	if (!json_is_null(json_object_get(o, "ipv4"))) {
		if ((rc = get_str(o, "ipv4", "server.ipv4", 15, &str, err)) < 0)
			return rc;
		if ((rc = pp_parse_ipv4(str, s->ipv4, "field 'server.ipv4'", err)) < 0)
			return rc;
		s->has_ipv4 = true;
	}
	if ((rc = get_str(o, "fqdn", "server.fqdn", PP_AMT_DEV_FQDN_MAX, &str, err)) < 0)
		return rc;
	if (*str && !pp_valid_fqdn(str))
		return field_err(err, PP_EINVAL, "server.fqdn", "not a DNS name");
	if (copy_str(s->fqdn, sizeof(s->fqdn), str) < 0)
		return field_err(err, PP_ETOOBIG, "server.fqdn", "too long");
	if ((rc = get_int(o, "port", "server.port", 1, 65535, &v, err)) < 0)
		return rc;
	s->port = (uint16_t)v;
	return 0;
}

static int parse_admin(json_t *root, struct pp_amt_device *d, struct pp_err *err)
{
	static const char *const keys[] = {"user", "ha1"};
	json_t *o = json_object_get(root, "admin");
	const char *s;
	d->has_admin = false;
	if (json_is_null(o))
		return 0;
	int rc = check_keys(o, "admin", keys, 2, err);
	if (rc < 0)
		return rc;
	if ((rc = get_str(o, "user", "admin.user", PP_AMT_DEV_USER_MAX, &s, err)) < 0)
		return rc;
	if (!amt_user_valid(s))
		return field_err(err, PP_EINVAL, "admin.user",
				 "expected 1..%d printable characters without space : , \" \\",
				 PP_AMT_DEV_USER_MAX);
	if (copy_str(d->admin_user, sizeof(d->admin_user), s) < 0)
		return field_err(err, PP_ETOOBIG, "admin.user", "too long");
	if ((rc = get_hex(o, "ha1", "admin.ha1", d->admin_ha1, sizeof(d->admin_ha1), err)) < 0)
		return rc;
	d->has_admin = true;
	return 0;
}

static int parse_last_sync(json_t *root, struct pp_amt_device *d, struct pp_err *err)
{
	static const char *const keys[] = {"ta0", "tm1", "tm2"};
	json_t *o = json_object_get(root, "last_time_synch");
	int64_t a, b, c;
	d->has_last_sync = false;
	if (json_is_null(o))
		return 0;
	int rc = check_keys(o, "last_time_synch", keys, 3, err);
	if (rc < 0 ||
	    (rc = get_int(o, "ta0", "last_time_synch.ta0", 0, PP_AMT_DEV_TIME_MAX, &a, err)) < 0 ||
	    (rc = get_int(o, "tm1", "last_time_synch.tm1", 0, PP_AMT_DEV_TIME_MAX, &b, err)) < 0 ||
	    (rc = get_int(o, "tm2", "last_time_synch.tm2", b, PP_AMT_DEV_TIME_MAX, &c, err)) < 0)
		return rc;
	d->last_ta0 = (uint32_t)a;
	d->last_tm1 = (uint32_t)b;
	d->last_tm2 = (uint32_t)c;
	d->has_last_sync = true;
	return 0;
}

static int parse_firmware(json_t *root, struct pp_amt_versions *v, struct pp_err *err)
{
	static const char *const keys[] = {"bios", "amt", "build", "sku"};
	struct {
		const char *key, *name;
		char *dst;
		size_t max;
	} f[] = {
	    {"bios", "firmware.bios", v->bios, PP_AMT_DEV_BIOS_MAX},
	    {"amt", "firmware.amt", v->amt, PP_AMT_DEV_VERSION_MAX},
	    {"build", "firmware.build", v->build, PP_AMT_DEV_VERSION_MAX},
	    {"sku", "firmware.sku", v->sku, PP_AMT_DEV_VERSION_MAX},
	};
	json_t *o = json_object_get(root, "firmware");
	int rc = check_keys(o, "firmware", keys, 4, err);
	if (rc < 0)
		return rc;
	for (size_t i = 0; i < 4; i++) {
		const char *s;
		if ((rc = get_str(o, f[i].key, f[i].name, f[i].max, &s, err)) < 0)
			return rc;
		if (!amt_printable(s, f[i].max))
			return field_err(err, PP_EINVAL, f[i].name,
					 "expected printable ASCII characters");
		if (copy_str(f[i].dst, f[i].max + 1, s) < 0)
			return field_err(err, PP_ETOOBIG, f[i].name, "too long");
	}
	return 0;
}

static int parse_audit(json_t *root, struct pp_amt_device *d, struct pp_err *err)
{
	static const char *const keys[] = {"time", "event"};
	json_t *a = json_object_get(root, "audit");
	if (!json_is_array(a))
		return field_err(err, PP_EINVAL, "audit", "expected an array");
	if (json_array_size(a) > PP_AMT_DEV_AUDIT_MAX)
		return field_err(err, PP_ETOOBIG, "audit", "%zu events, at most %d",
				 json_array_size(a), PP_AMT_DEV_AUDIT_MAX);
	d->audit_start = 0;
	d->audit_count = 0;
	for (size_t i = 0; i < json_array_size(a); i++) {
		char name[48];
		json_t *e = json_array_get(a, i);
		struct pp_amt_audit_event *ev = &d->audit[i];
		const char *s;
		int64_t t;
		int rc;
		snprintf(name, sizeof(name), "audit[%zu]", i);
		if ((rc = check_keys(e, name, keys, 2, err)) < 0)
			return rc;
		snprintf(name, sizeof(name), "audit[%zu].time", i);
		if ((rc = get_int(e, "time", name, 0, AUDIT_TIME_MAX, &t, err)) < 0)
			return rc;
		snprintf(name, sizeof(name), "audit[%zu].event", i);
		if ((rc = get_str(e, "event", name, PP_AMT_DEV_AUDIT_TEXT - 1, &s, err)) < 0)
			return rc;
		if (!*s || !amt_printable(s, PP_AMT_DEV_AUDIT_TEXT - 1))
			return field_err(err, PP_EINVAL, name,
					 "expected 1..%d printable ASCII characters",
					 PP_AMT_DEV_AUDIT_TEXT - 1);
		ev->time = t;
		if (copy_str(ev->text, sizeof(ev->text), s) < 0)
			return field_err(err, PP_ETOOBIG, name, "too long");
		d->audit_count++;
	}
	return 0;
}

/* format, uuid, realm, state, mode */
static int parse_identity(json_t *root, struct pp_amt_device *d, struct pp_err *err)
{
	const char *s;
	char canon[37];
	int64_t v;
	int rc;
	if ((rc = get_int(root, "format", "format", INT64_MIN, INT64_MAX, &v, err)) < 0)
		return rc;
	if (v != PP_AMT_DEV_FORMAT)
		return field_err(err, PP_EVERSION, "format",
				 "version %lld is not supported (%d is)", (long long)v,
				 PP_AMT_DEV_FORMAT);
	if ((rc = get_str(root, "uuid", "uuid", 36, &s, err)) < 0)
		return rc;
	if (pp_uuid_parse(s, d->uuid, NULL) < 0)
		return field_err(err, PP_EINVAL, "uuid", "not a UUID");
	pp_uuid_format(d->uuid, canon);
	if (strcmp(canon, s) != 0)
		return field_err(err, PP_EINVAL, "uuid", "not in lower case");
	if ((rc = get_str(root, "realm", "realm", PP_AMT_DEV_REALM_LEN, &s, err)) < 0)
		return rc;
	if (!realm_valid(s))
		return field_err(err, PP_EINVAL, "realm",
				 "expected \"Digest:\" and 32 upper-case hex digits");
	memcpy(d->realm, s, PP_AMT_DEV_REALM_LEN + 1);
	if ((rc = get_int(root, "state", "state", PP_AMT_PRE_SETUP, PP_AMT_POST_SETUP, &v, err)) <
	    0)
		return rc;
	d->state = (uint8_t)v;
	if ((rc = get_int(root, "mode", "mode", PP_AMT_MODE_ENTERPRISE, PP_AMT_MODE_SMALL_BUSINESS,
			  &v, err)) < 0)
		return rc;
	d->mode = (uint8_t)v;
	return 0;
}

/* host_name, domain_name, network_enabled, time_offset */
static int parse_names(json_t *root, struct pp_amt_device *d, struct pp_err *err)
{
	const char *s;
	int rc;
	if ((rc = get_str(root, "host_name", "host_name", PP_AMT_DEV_HOST_MAX, &s, err)) < 0)
		return rc;
	if (*s && !amt_host_label_valid(s))
		return field_err(err, PP_EINVAL, "host_name", "not a DNS label");
	if (copy_str(d->host_name, sizeof(d->host_name), s) < 0)
		return field_err(err, PP_ETOOBIG, "host_name", "too long");
	if ((rc = get_str(root, "domain_name", "domain_name", PP_AMT_DEV_FQDN_MAX, &s, err)) < 0)
		return rc;
	if (*s && !pp_valid_fqdn(s))
		return field_err(err, PP_EINVAL, "domain_name", "not a DNS name");
	if (copy_str(d->domain_name, sizeof(d->domain_name), s) < 0)
		return field_err(err, PP_ETOOBIG, "domain_name", "too long");
	if ((rc = get_bool(root, "network_enabled", "network_enabled", &d->network_enabled, err)) <
	    0)
		return rc;
	return get_int(root, "time_offset", "time_offset", -PP_AMT_DEV_TIME_MAX,
		       PP_AMT_DEV_TIME_MAX, &d->time_offset, err);
}

/* Consistency between fields: what each state must and must not hold. */
static int check_consistency(const struct pp_amt_device *d, struct pp_err *err)
{
	if (d->state == PP_AMT_PRE_SETUP) {
		if (d->has_key)
			return field_err(err, PP_EINVAL, "key", "must be null in Pre-Setup");
		if (d->has_next)
			return field_err(err, PP_EINVAL, "next_key", "must be null in Pre-Setup");
		if (d->has_admin)
			return field_err(err, PP_EINVAL, "admin", "must be null in Pre-Setup");
	} else {
		if (!d->has_key)
			return field_err(err, PP_EINVAL, "key", "missing in %s",
					 pp_amt_state_name(d->state));
		if (d->factory_default)
			return field_err(err, PP_EINVAL, "mebx.factory_default",
					 "must be false once a key is loaded");
	}
	if (d->state == PP_AMT_POST_SETUP && !d->has_admin)
		return field_err(err, PP_EINVAL, "admin", "missing in Post-Setup");
	return 0;
}

static int parse_tree(json_t *root, struct pp_amt_device *d, struct pp_err *err)
{
	static const char *const keys[] = {
	    "format",    "uuid",        "realm",           "state",       "mode",
	    "mebx",      "key",         "next_key",        "server",      "admin",
	    "host_name", "domain_name", "network_enabled", "time_offset", "last_time_synch",
	    "firmware",  "audit",
	};
	int rc;
	if (!json_is_object(root))
		return pp_err_set(err, PP_EINVAL, "the state file is not a JSON object");
	if ((rc = check_keys(root, "", keys, sizeof(keys) / sizeof(keys[0]), err)) < 0 ||
	    (rc = parse_identity(root, d, err)) < 0 || (rc = parse_mebx(root, d, err)) < 0 ||
	    (rc = get_key(root, "key", &d->has_key, &d->pid, &d->pps, err)) < 0 ||
	    (rc = get_key(root, "next_key", &d->has_next, &d->next_pid, &d->next_pps, err)) < 0 ||
	    (rc = parse_server(root, &d->server, err)) < 0 ||
	    (rc = parse_admin(root, d, err)) < 0 || (rc = parse_names(root, d, err)) < 0 ||
	    (rc = parse_last_sync(root, d, err)) < 0 ||
	    (rc = parse_firmware(root, &d->versions, err)) < 0 ||
	    (rc = parse_audit(root, d, err)) < 0)
		return rc;
	return check_consistency(d, err);
}

static const char *json_code_str(enum json_error_code c)
{
	switch (c) {
	case json_error_out_of_memory:
		return "out of memory";
	case json_error_stack_overflow:
		return "nested too deeply";
	case json_error_invalid_utf8:
		return "invalid UTF-8";
	case json_error_premature_end_of_input:
		return "truncated";
	case json_error_end_of_input_expected:
		return "data after the end";
	case json_error_null_character:
	case json_error_null_byte_in_key:
		return "NUL character";
	case json_error_duplicate_key:
		return "duplicate field";
	case json_error_numeric_overflow:
		return "number too large";
	default:
		return "syntax error";
	}
}

int pp_amt_parse(const void *data, size_t len, struct pp_amt_device **out, struct pp_err *err)
{
	*out = NULL;
	if (len > PP_AMT_DEV_STATE_MAX)
		return pp_err_set(err, PP_ETOOBIG, "state file of %zu bytes; the limit is %d", len,
				  PP_AMT_DEV_STATE_MAX);
	json_error_t jerr;
	json_t *root = json_loadb(data ? data : "", data ? len : 0, JSON_REJECT_DUPLICATES, &jerr);
	if (!root) {
		/* jerr.text may quote the input (a secret): report position and kind only. */
		int rc = pp_err_set(err, PP_EINVAL, "not valid JSON (%s) at line %d column %d",
				    json_code_str(json_error_code(&jerr)), jerr.line, jerr.column);
		pp_wipe(&jerr, sizeof(jerr));
		return rc;
	}
	struct pp_amt_device *d = calloc(1, sizeof(*d));
	int rc;
	if (!d) {
		rc = pp_err_set(err, PP_ENOMEM, "out of memory");
		goto out;
	}
	rc = parse_tree(root, d, err);
	if (rc < 0)
		goto out;
	if (d->state == PP_AMT_IN_SETUP)
		amt_hello_trigger(d); /* power-on */
	*out = d;
	d = NULL;
out:
	pp_amt_free(d);
	wipe_tree(root);
	json_decref(root);
	return rc;
}

/* ---- files ---- */

static int state_path(const char *dir, char **out, struct pp_err *err)
{
	size_t n = strlen(dir);
	if (n == 0 || n > PATH_MAX - 64)
		return pp_err_set(err, PP_EINVAL, "state directory: bad path length");
	char *p = malloc(n + sizeof("/" PP_AMT_DEV_STATE_FILE));
	if (!p)
		return pp_err_set(err, PP_ENOMEM, "out of memory");
	memcpy(p, dir, n);
	memcpy(p + n, "/" PP_AMT_DEV_STATE_FILE, sizeof("/" PP_AMT_DEV_STATE_FILE));
	*out = p;
	return 0;
}

int pp_amt_load(const char *dir, struct pp_amt_device **out, struct pp_err *err)
{
	char *path = NULL;
	struct pp_buf b;
	*out = NULL;
	pp_buf_init(&b, PP_AMT_DEV_STATE_MAX);
	int rc = state_path(dir, &path, err);
	if (rc < 0)
		return rc;
	if ((rc = pp_file_check_private(path, err)) < 0 ||
	    (rc = pp_file_read(path, PP_AMT_DEV_STATE_MAX, &b, err)) < 0)
		goto out;
	rc = pp_amt_parse(b.data, b.len, out, err);
	if (rc < 0) {
		pp_err_prefix(err, "'%s'", path);
		goto out;
	}
	(*out)->path = path;
	path = NULL;
out:
	pp_buf_free_wipe(&b);
	free(path);
	return rc;
}

static int check_opts(const struct pp_amt_create_opts *o, struct pp_err *err)
{
	if (o->pbkdf2_iterations && (o->pbkdf2_iterations < PP_AMT_DEV_PBKDF2_MIN ||
				     o->pbkdf2_iterations > PP_AMT_DEV_PBKDF2_MAX))
		return pp_err_set(err, PP_EINVAL, "PBKDF2 iterations: %u is out of range %d..%d",
				  o->pbkdf2_iterations, PP_AMT_DEV_PBKDF2_MIN,
				  PP_AMT_DEV_PBKDF2_MAX);
	if (o->mode && o->mode != PP_AMT_MODE_ENTERPRISE && o->mode != PP_AMT_MODE_SMALL_BUSINESS)
		return pp_err_set(err, PP_EINVAL, "provisioning mode: %u is not 1 or 2", o->mode);
	if (o->versions) {
		const struct pp_amt_versions *v = o->versions;
		if (!amt_printable(v->bios, PP_AMT_DEV_BIOS_MAX) ||
		    !amt_printable(v->amt, PP_AMT_DEV_VERSION_MAX) ||
		    !amt_printable(v->build, PP_AMT_DEV_VERSION_MAX) ||
		    !amt_printable(v->sku, PP_AMT_DEV_VERSION_MAX))
			return pp_err_set(err, PP_EINVAL,
					  "firmware versions: expected printable ASCII strings "
					  "(BIOS up to %d, others up to %d characters)",
					  PP_AMT_DEV_BIOS_MAX, PP_AMT_DEV_VERSION_MAX);
	}
	return 0;
}

/* A new Pre-Setup device's identity and defaults: random UUID (unless given) and
 * realm, the factory MEBx password. */
static int create_identity(struct pp_amt_device *d, const struct pp_amt_create_opts *o,
			   struct pp_err *err)
{
	uint8_t rnd[16];
	if (o->uuid) {
		memcpy(d->uuid, o->uuid, 16);
	} else {
		if (pp_random(d->uuid, 16) < 0)
			return pp_err_set(err, PP_ECRYPTO, "the random generator failed");
		d->uuid[6] = (uint8_t)((d->uuid[6] & 0x0f) | 0x40); /* RFC 4122 version 4 */
		d->uuid[8] = (uint8_t)((d->uuid[8] & 0x3f) | 0x80); /* variant 10 */
	}
	if (pp_random(rnd, sizeof(rnd)) < 0)
		return pp_err_set(err, PP_ECRYPTO, "the random generator failed");
	memcpy(d->realm, "Digest:", 7);
	for (size_t i = 0; i < sizeof(rnd); i++) { /* upper-case hex, as AMT writes it */
		d->realm[7 + 2 * i] = "0123456789ABCDEF"[rnd[i] >> 4];
		d->realm[8 + 2 * i] = "0123456789ABCDEF"[rnd[i] & 15];
	}
	pp_wipe(rnd, sizeof(rnd));
	d->realm[PP_AMT_DEV_REALM_LEN] = '\0';
	d->state = PP_AMT_PRE_SETUP;
	d->mode = (uint8_t)(o->mode ? o->mode : PP_AMT_MODE_ENTERPRISE);
	d->pbkdf2_iterations =
	    o->pbkdf2_iterations ? o->pbkdf2_iterations : PP_AMT_DEV_PBKDF2_DEFAULT;
	d->network_enabled = true;
	d->server.port = PP_AMT_DEV_SERVER_PORT;
	d->versions = o->versions ? *o->versions : default_versions;
	int rc = amt_set_factory_password(d);
	if (rc < 0)
		return pp_err_set(err, -rc, "cannot compute a digest");
	amt_audit(d, "created");
	return 0;
}

/* A new device.json, whole or not at all, never over an existing one (pp_file_create). */
static int create_publish(const struct pp_amt_device *d, struct pp_err *err)
{
	pp_cleanup(pp_buf_free_wipe) struct pp_buf b;
	pp_buf_init(&b, PP_AMT_DEV_STATE_MAX + 1);
	int rc = pp_amt_serialize(d, &b, err);
	if (rc < 0)
		return rc;
	return pp_file_create(d->path, b.data, b.len, 0600, err);
}

int pp_amt_create(const char *dir, const struct pp_amt_create_opts *opts,
		  struct pp_amt_device **out, struct pp_err *err)
{
	static const struct pp_amt_create_opts none;
	const struct pp_amt_create_opts *o = opts ? opts : &none;
	pp_cleanup(pp_amt_freep) struct pp_amt_device *d = NULL;
	struct stat st;
	int rc;
	*out = NULL;
	if ((rc = check_opts(o, err)) < 0)
		return rc;
	if (mkdir(dir, 0700) < 0 && errno != EEXIST)
		return pp_err_set(err, PP_EIO, "cannot create '%s': %s", dir, strerror(errno));
	if (!(d = calloc(1, sizeof(*d))))
		return pp_err_set(err, PP_ENOMEM, "out of memory");
	if ((rc = state_path(dir, &d->path, err)) < 0)
		return rc;
	if (lstat(d->path, &st) == 0)
		return pp_err_set(err, PP_EEXIST, "'%s' already exists; not overwriting", d->path);
	if ((rc = create_identity(d, o, err)) < 0 || (rc = create_publish(d, err)) < 0)
		return rc;
	*out = d;
	d = NULL;
	return 0;
}

int pp_amt_create_volatile(const struct pp_amt_create_opts *opts, struct pp_amt_device **out,
			   struct pp_err *err)
{
	static const struct pp_amt_create_opts none;
	const struct pp_amt_create_opts *o = opts ? opts : &none;
	struct pp_amt_device *d;
	int rc;
	*out = NULL;
	if ((rc = check_opts(o, err)) < 0)
		return rc;
	if (!(d = calloc(1, sizeof(*d))))
		return pp_err_set(err, PP_ENOMEM, "out of memory");
	d->volatile_state = true;
	if ((rc = create_identity(d, o, err)) < 0) {
		pp_amt_free(d);
		return rc;
	}
	if (!o->pbkdf2_iterations)
		d->pbkdf2_iterations = PP_AMT_DEV_PBKDF2_VOLATILE;
	*out = d;
	return 0;
}

void pp_amt_free(struct pp_amt_device *dev)
{
	if (!dev)
		return;
	free(dev->path);
	pp_wipe(dev, sizeof(*dev));
	free(dev);
}

void pp_amt_freep(struct pp_amt_device **dev)
{
	pp_amt_free(*dev);
	*dev = NULL;
}

const char *pp_amt_path(const struct pp_amt_device *dev)
{
	return dev->path;
}
