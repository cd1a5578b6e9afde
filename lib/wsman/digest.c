#include "wsman/digest.h"

#include <stdio.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "core/bytes.h"
#include "core/parse.h"
#include "core/secret.h"
#include "core/base64.h"

#define NONCE_LABEL "pskprov digest nonce v1"
#define NONCE_RAW_LEN 32 /* issued(8) || random(8) || mac(16) */
#define NONCE_HEX_LEN (2 * NONCE_RAW_LEN)
#define MAX_PARAMS 24
#define PARAM_NAME_MAX 32

/* ---- MD5 (RFC 7616 section 3.4.2, algorithm MD5) ---- */

struct md5_part {
	const void *p;
	size_t n;
};

/* MD5 of the parts joined by ':'; out gets lower-case hex (33 bytes). */
static int md5_hex(const struct md5_part *parts, size_t nparts, char out[33], struct pp_err *err)
{
	uint8_t md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;
	int rc = 0;
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	if (!ctx)
		return pp_err_set(err, PP_ENOMEM, "out of memory for MD5");
	if (EVP_DigestInit_ex(ctx, EVP_md5(), NULL) != 1) {
		rc = pp_err_set(err, PP_ECRYPTO, "MD5 is not available");
		goto out;
	}
	for (size_t i = 0; i < nparts; i++) {
		if ((i && EVP_DigestUpdate(ctx, ":", 1) != 1) ||
		    EVP_DigestUpdate(ctx, parts[i].p, parts[i].n) != 1) {
			rc = pp_err_set(err, PP_ECRYPTO, "MD5 failed");
			goto out;
		}
	}
	if (EVP_DigestFinal_ex(ctx, md, &mdlen) != 1 || mdlen != 16) {
		rc = pp_err_set(err, PP_ECRYPTO, "MD5 failed");
		goto out;
	}
	pp_hex(md, 16, out);
out:
	pp_wipe(md, sizeof(md));
	EVP_MD_CTX_free(ctx);
	return rc;
}

#define PART(s) ((struct md5_part){(s), strlen(s)})

int pp_digest_ha1(const char *user, const char *realm, const char *password,
		  uint8_t ha1[PP_DIGEST_HA1_LEN], struct pp_err *err)
{
	char hex[33];
	if (!user || !realm || !password)
		return pp_err_set(err, PP_EINVAL, "digest HA1 needs a user, realm and password");
	struct md5_part parts[] = {PART(user), PART(realm), PART(password)};
	int rc = md5_hex(parts, 3, hex, err);
	if (rc == 0 && pp_unhex(hex, ha1, PP_DIGEST_HA1_LEN) < 0)
		rc = pp_err_set(err, PP_ECRYPTO, "MD5 output is not hex");
	pp_wipe(hex, sizeof(hex));
	return rc;
}

int pp_digest_password_hash(const char *user, const char *realm, const char *password,
			    char out_b64[25], struct pp_err *err)
{
	uint8_t ha1[PP_DIGEST_HA1_LEN];
	int rc = pp_digest_ha1(user, realm, password, ha1, err);
	if (rc == 0)
		rc = pp_b64_encode(ha1, sizeof(ha1), out_b64, 25, err);
	pp_wipe(ha1, sizeof(ha1));
	return rc;
}

int pp_digest_ha1_from_b64(const char *b64, uint8_t ha1[PP_DIGEST_HA1_LEN], struct pp_err *err)
{
	uint8_t tmp[18]; /* 24 base64 characters hold up to 18 bytes */
	size_t n = 0;
	int rc;
	if (!b64 || strlen(b64) != 24)
		return pp_err_set(err, PP_EINVAL, "DigestPassword is not 24 base64 characters");
	if ((rc = pp_b64_decode(b64, 24, tmp, sizeof(tmp), &n, err)) < 0) {
		pp_err_prefix(err, "DigestPassword");
		goto out;
	}
	if (n != PP_DIGEST_HA1_LEN) {
		rc = pp_err_set(err, PP_EINVAL, "DigestPassword is %zu bytes, not 16", n);
		goto out;
	}
	memcpy(ha1, tmp, PP_DIGEST_HA1_LEN);
out:
	pp_wipe(tmp, sizeof(tmp));
	return rc;
}

int pp_digest_response(const uint8_t ha1[PP_DIGEST_HA1_LEN], const char *nonce, const char *nc,
		       const char *cnonce, const char *qop, const char *method, const char *uri,
		       char out[33], struct pp_err *err)
{
	char ha1_hex[33], ha2_hex[33];
	int rc;
	if (!nonce || !nc || !cnonce || !qop || !method || !uri)
		return pp_err_set(err, PP_EINVAL, "digest response needs every field");
	struct md5_part a2[] = {PART(method), PART(uri)};
	if ((rc = md5_hex(a2, 2, ha2_hex, err)) < 0)
		return rc;
	pp_hex(ha1, PP_DIGEST_HA1_LEN, ha1_hex);
	struct md5_part r[] = {PART(ha1_hex), PART(nonce), PART(nc),
			       PART(cnonce),  PART(qop),   PART(ha2_hex)};
	rc = md5_hex(r, 6, out, err);
	pp_wipe(ha1_hex, sizeof(ha1_hex));
	return rc;
}

/* ---- character classes (RFC 9110 section 5.6) ---- */

static bool is_tchar(unsigned char c)
{
	return (c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
	       (c && strchr("!#$%&'*+-.^_`|~", c));
}

static bool is_ows(unsigned char c)
{
	return c == ' ' || c == '\t';
}

/* qdtext and quoted-pair: HTAB, SP, VCHAR, obs-text. */
static bool is_qchar(unsigned char c)
{
	return c == '\t' || (c >= 0x20 && c != 0x7F);
}

static bool text_printable(const char *s)
{
	for (; *s; s++) {
		if (!is_qchar((unsigned char)*s))
			return false;
	}
	return true;
}

static bool all_hex(const char *s, size_t n)
{
	if (strlen(s) != n)
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F')))
			return false;
	}
	return true;
}

static bool ieq(const char *a, const char *b)
{
	return strcasecmp(a, b) == 0;
}

/* Error messages quote header text: keep them one printable ASCII line. */
static int err_one_line(struct pp_err *err, int rc)
{
	if (rc < 0 && err) {
		for (char *p = err->msg; *p; p++) {
			unsigned char c = (unsigned char)*p;
			if (c < 0x20 || c >= 0x7F)
				*p = c < 0x20 ? ' ' : '?';
		}
	}
	return rc;
}

/* ---- auth-param lists (RFC 9110 section 11.2 and 11.6) ---- */

struct param {
	char name[PARAM_NAME_MAX + 1];
	size_t off, len; /* value in plist.buf, unescaped */
};

struct plist {
	struct param p[MAX_PARAMS];
	size_t n;
	char buf[PP_DIGEST_HEADER_MAX + MAX_PARAMS];
	size_t used;
};

static int parse_params(const char *s, size_t len, struct plist *pl, struct pp_err *err)
{
	size_t i = 0;

	pl->n = 0;
	pl->used = 0;
	if (!s)
		return pp_err_set(err, PP_EINVAL, "no Digest header value");
	if (len > PP_DIGEST_HEADER_MAX)
		return pp_err_set(err, PP_ETOOBIG, "Digest header of %zu bytes is over %d", len,
				  PP_DIGEST_HEADER_MAX);
	while (i < len && is_ows((unsigned char)s[i]))
		i++;
	size_t start = i;
	while (i < len && is_tchar((unsigned char)s[i]))
		i++;
	if (i - start != 6 || strncasecmp(s + start, "Digest", 6) != 0)
		return pp_err_set(err, PP_EINVAL, "authentication scheme is not Digest");
	if (i >= len || s[i] != ' ')
		return pp_err_set(err, PP_EINVAL, "Digest has no parameters");
	for (;;) {
		struct param *p;
		while (i < len && is_ows((unsigned char)s[i]))
			i++;
		start = i;
		while (i < len && is_tchar((unsigned char)s[i]))
			i++;
		if (i == start)
			return pp_err_set(err, PP_EINVAL, "expected a parameter name at offset %zu",
					  start);
		if (i - start > PARAM_NAME_MAX)
			return pp_err_set(err, PP_EINVAL,
					  "parameter name at offset %zu is too long", start);
		if (pl->n >= MAX_PARAMS)
			return pp_err_set(err, PP_ETOOBIG, "more than %d Digest parameters",
					  MAX_PARAMS);
		p = &pl->p[pl->n];
		memcpy(p->name, s + start, i - start);
		p->name[i - start] = '\0';
		for (size_t k = 0; k < pl->n; k++) {
			if (ieq(pl->p[k].name, p->name))
				return pp_err_set(err, PP_EINVAL, "duplicate Digest parameter '%s'",
						  p->name);
		}
		while (i < len && is_ows((unsigned char)s[i]))
			i++;
		if (i >= len || s[i] != '=')
			return pp_err_set(err, PP_EINVAL, "Digest parameter '%s' has no '='",
					  p->name);
		i++;
		while (i < len && is_ows((unsigned char)s[i]))
			i++;
		p->off = pl->used;
		if (i < len && s[i] == '"') {
			i++;
			for (;;) {
				if (i >= len)
					return pp_err_set(err, PP_EINVAL,
							  "unterminated quoted string in Digest "
							  "parameter '%s'",
							  p->name);
				unsigned char c = (unsigned char)s[i];
				if (c == '"') {
					i++;
					break;
				}
				if (c == '\\') {
					if (++i >= len)
						return pp_err_set(err, PP_EINVAL,
								  "unterminated escape in Digest "
								  "parameter '%s'",
								  p->name);
					c = (unsigned char)s[i];
				}
				if (!is_qchar(c))
					return pp_err_set(err, PP_EINVAL,
							  "control character in Digest parameter "
							  "'%s'",
							  p->name);
				pl->buf[pl->used++] = (char)c;
				i++;
			}
		} else {
			size_t vstart = i;
			while (i < len && is_tchar((unsigned char)s[i]))
				pl->buf[pl->used++] = s[i++];
			if (i == vstart)
				return pp_err_set(err, PP_EINVAL,
						  "Digest parameter '%s' has no value", p->name);
		}
		p->len = pl->used - p->off;
		pl->buf[pl->used++] = '\0';
		pl->n++;
		while (i < len && is_ows((unsigned char)s[i]))
			i++;
		if (i == len)
			return 0;
		if (s[i] != ',')
			return pp_err_set(err, PP_EINVAL,
					  "expected ',' after Digest parameter '%s' at offset %zu",
					  p->name, i);
		i++;
		while (i < len && is_ows((unsigned char)s[i]))
			i++;
		if (i == len)
			return pp_err_set(err, PP_EINVAL, "Digest header ends with ','");
	}
}

static const char *pval(const struct plist *pl, const struct param *p)
{
	return pl->buf + p->off;
}

static int take(const struct plist *pl, const struct param *p, char *dst, size_t cap,
		struct pp_err *err)
{
	if (p->len >= cap)
		return pp_err_set(err, PP_ETOOBIG, "Digest parameter '%s' is longer than %zu bytes",
				  p->name, cap - 1);
	memcpy(dst, pval(pl, p), p->len + 1);
	return 0;
}

/* ---- server ---- */

int pp_digest_server_init(struct pp_digest_server *s, const char *realm, uint32_t lifetime_s,
			  struct pp_err *err)
{
	memset(s, 0, sizeof(*s));
	if (!realm || !*realm || strlen(realm) > PP_DIGEST_REALM_MAX || !text_printable(realm))
		return pp_err_set(err, PP_EINVAL,
				  "digest realm is empty, too long or not printable");
	memcpy(s->realm, realm, strlen(realm) + 1);
	s->nonce_lifetime_s = lifetime_s ? lifetime_s : PP_DIGEST_LIFETIME_DEFAULT;
	if (pp_random(s->secret, sizeof(s->secret)) < 0)
		return pp_err_set(err, PP_ECRYPTO, "no random bytes for the digest nonce secret");
	return 0;
}

void pp_digest_server_wipe(struct pp_digest_server *s)
{
	if (s)
		pp_wipe(s, sizeof(*s));
}

static int nonce_mac(const struct pp_digest_server *s, const uint8_t head[16], uint8_t mac[16],
		     struct pp_err *err)
{
	uint8_t msg[sizeof(NONCE_LABEL) + 16 + PP_DIGEST_REALM_MAX];
	uint8_t full[EVP_MAX_MD_SIZE];
	unsigned int full_len = 0;
	size_t rlen = strnlen(s->realm, sizeof(s->realm));
	if (rlen > PP_DIGEST_REALM_MAX)
		return pp_err_set(err, PP_EINVAL, "digest realm is too long");
	memcpy(msg, NONCE_LABEL, sizeof(NONCE_LABEL)); /* with its NUL as separator */
	memcpy(msg + sizeof(NONCE_LABEL), head, 16);
	memcpy(msg + sizeof(NONCE_LABEL) + 16, s->realm, rlen);
	if (!HMAC(EVP_sha256(), s->secret, sizeof(s->secret), msg, sizeof(NONCE_LABEL) + 16 + rlen,
		  full, &full_len) ||
	    full_len < 16)
		return pp_err_set(err, PP_ECRYPTO, "HMAC-SHA256 failed");
	memcpy(mac, full, 16);
	pp_wipe(full, sizeof(full));
	return 0;
}

/* Appends to a bounded writer; a quoted-string escapes '"' and '\'. */
static int put(struct pp_writer *w, const char *s)
{
	return pp_wr_bytes(w, s, strlen(s));
}

static int put_quoted(struct pp_writer *w, const char *s)
{
	int rc = pp_wr_u8(w, '"');
	for (; rc == 0 && *s; s++) {
		if (*s == '"' || *s == '\\')
			rc = pp_wr_u8(w, '\\');
		if (rc == 0)
			rc = pp_wr_u8(w, (uint8_t)*s);
	}
	return rc == 0 ? pp_wr_u8(w, '"') : rc;
}

static int finish(struct pp_writer *w, char *out, int rc, const char *what, struct pp_err *err)
{
	if (rc == 0)
		rc = pp_wr_u8(w, 0);
	if (rc < 0) {
		pp_wipe(out, w->cap);
		if (w->cap)
			out[0] = '\0';
		return pp_err_set(err, PP_ETOOBIG, "%s does not fit in %zu bytes", what, w->cap);
	}
	return 0;
}

int pp_digest_challenge_make(const struct pp_digest_server *s, uint64_t now, bool stale, char *out,
			     size_t cap, struct pp_err *err)
{
	uint8_t raw[NONCE_RAW_LEN];
	char hex[NONCE_HEX_LEN + 1];
	struct pp_writer w = pp_writer_make(out, cap);
	int rc;

	for (int i = 0; i < 8; i++)
		raw[i] = (uint8_t)(now >> (56 - 8 * i));
	if (pp_random(raw + 8, 8) < 0)
		return pp_err_set(err, PP_ECRYPTO, "no random bytes for a digest nonce");
	if ((rc = nonce_mac(s, raw, raw + 16, err)) < 0)
		return rc;
	pp_hex(raw, sizeof(raw), hex);
	rc = put(&w, "Digest realm=");
	if (rc == 0)
		rc = put_quoted(&w, s->realm);
	if (rc == 0)
		rc = put(&w, ", nonce=\"");
	if (rc == 0)
		rc = put(&w, hex);
	if (rc == 0)
		rc = put(&w, "\", qop=\"auth\", algorithm=MD5");
	if (rc == 0 && stale)
		rc = put(&w, ", stale=true");
	return finish(&w, out, rc, "digest challenge", err);
}

int pp_digest_auth_parse(const char *value, size_t len, struct pp_digest_auth *a,
			 struct pp_err *err)
{
	struct plist pl;
	bool seen[8] = {false};
	static const char *const required[8] = {"username", "realm", "nonce", "uri",
						"response", "qop",   "nc",    "cnonce"};
	char algorithm[16] = "";
	char response[40] = "";
	int rc;

	memset(a, 0, sizeof(*a));
	if ((rc = parse_params(value, len, &pl, err)) < 0)
		goto out;
	for (size_t i = 0; i < pl.n; i++) {
		const struct param *p = &pl.p[i];
		char *dst = NULL;
		size_t cap = 0;
		int idx = -1;
		if (ieq(p->name, "username")) {
			dst = a->username, cap = sizeof(a->username), idx = 0;
		} else if (ieq(p->name, "realm")) {
			dst = a->realm, cap = sizeof(a->realm), idx = 1;
		} else if (ieq(p->name, "nonce")) {
			dst = a->nonce, cap = sizeof(a->nonce), idx = 2;
		} else if (ieq(p->name, "uri")) {
			dst = a->uri, cap = sizeof(a->uri), idx = 3;
		} else if (ieq(p->name, "response")) {
			dst = response, cap = sizeof(response), idx = 4;
		} else if (ieq(p->name, "qop")) {
			dst = a->qop, cap = sizeof(a->qop), idx = 5;
		} else if (ieq(p->name, "nc")) {
			dst = a->nc, cap = sizeof(a->nc), idx = 6;
		} else if (ieq(p->name, "cnonce")) {
			dst = a->cnonce, cap = sizeof(a->cnonce), idx = 7;
		} else if (ieq(p->name, "opaque")) {
			dst = a->opaque, cap = sizeof(a->opaque);
		} else if (ieq(p->name, "algorithm")) {
			dst = algorithm, cap = sizeof(algorithm);
		} else if (ieq(p->name, "username*")) {
			rc = pp_err_set(err, PP_EINVAL, "Digest username* is not supported");
			goto out;
		} else if (ieq(p->name, "userhash")) {
			if (!ieq(pval(&pl, p), "false")) {
				rc = pp_err_set(err, PP_EINVAL, "Digest userhash is not supported");
				goto out;
			}
			continue;
		} else {
			continue; /* RFC 7616 section 3.4: unknown parameters are ignored */
		}
		if ((rc = take(&pl, p, dst, cap, err)) < 0)
			goto out;
		if (idx >= 0)
			seen[idx] = true;
	}
	for (size_t k = 0; k < 8; k++) {
		if (!seen[k]) {
			rc = pp_err_set(err, PP_EINVAL, "Digest parameter '%s' is missing",
					required[k]);
			goto out;
		}
	}
	if (!a->username[0] || !a->nonce[0] || !a->uri[0] || !a->cnonce[0]) {
		rc = pp_err_set(err, PP_EINVAL, "Digest username, nonce, uri or cnonce is empty");
		goto out;
	}
	if (algorithm[0] && !ieq(algorithm, "MD5")) {
		rc = pp_err_set(err, PP_EINVAL, "Digest algorithm '%s' is not supported (MD5 only)",
				algorithm);
		goto out;
	}
	if (!ieq(a->qop, "auth")) {
		rc = pp_err_set(err, PP_EINVAL, "Digest qop '%s' is not supported (auth only)",
				a->qop);
		goto out;
	}
	if (!all_hex(response, 32)) {
		rc = pp_err_set(err, PP_EINVAL, "Digest response is not 32 hex digits");
		goto out;
	}
	for (size_t k = 0; k < 32; k++)
		a->response[k] =
		    (char)((response[k] >= 'A' && response[k] <= 'F') ? response[k] - 'A' + 'a'
								      : response[k]);
	a->response[32] = '\0';
	if (!all_hex(a->nc, 8)) {
		rc = pp_err_set(err, PP_EINVAL, "Digest nc is not 8 hex digits");
		goto out;
	}
	a->nc_value = 0;
	for (size_t k = 0; k < 8; k++) {
		char c = a->nc[k];
		unsigned d = c <= '9' ? (unsigned)(c - '0') : (unsigned)((c | 0x20) - 'a' + 10);
		a->nc_value = a->nc_value << 4 | d;
	}
	if (a->nc_value == 0) {
		rc = pp_err_set(err, PP_EINVAL, "Digest nc is zero");
		goto out;
	}
	rc = 0;
out:
	pp_wipe(&pl, sizeof(pl));
	if (rc < 0)
		memset(a, 0, sizeof(*a));
	return err_one_line(err, rc);
}

void pp_digest_replay_init(struct pp_digest_replay *r)
{
	memset(r, 0, sizeof(*r));
}

static int replay_check(struct pp_digest_replay *r, const uint8_t tag[16], uint64_t issued,
			uint32_t nc, uint64_t now, uint32_t lifetime, struct pp_err *err)
{
	struct pp_digest_replay_slot *victim = NULL;
	for (size_t i = 0; i < PP_DIGEST_REPLAY_SLOTS; i++) {
		struct pp_digest_replay_slot *sl = &r->slot[i];
		if (sl->used && pp_ct_eq(sl->tag, tag, 16)) {
			if (nc <= sl->nc)
				return pp_err_set(err, PP_ETIMEOUT,
						  "Digest nc %08x was already used with this nonce",
						  (unsigned)nc);
			sl->nc = nc;
			return 0;
		}
	}
	/* Not in the table: new, unless it could be one we evicted. */
	if (issued <= r->floor)
		return pp_err_set(err, PP_ETIMEOUT, "Digest nonce is no longer tracked");
	for (size_t i = 0; i < PP_DIGEST_REPLAY_SLOTS; i++) {
		struct pp_digest_replay_slot *sl = &r->slot[i];
		bool dead = !sl->used || sl->issued > now || now - sl->issued > lifetime;
		if (dead) {
			victim = sl;
			break;
		}
		if (!victim || sl->issued < victim->issued)
			victim = sl;
	}
	if (victim->used && victim->issued <= now && now - victim->issued <= lifetime &&
	    victim->issued > r->floor)
		r->floor = victim->issued;
	memcpy(victim->tag, tag, 16);
	victim->issued = issued;
	victim->nc = nc;
	victim->used = true;
	return 0;
}

int pp_digest_verify(const struct pp_digest_server *s, struct pp_digest_replay *replay,
		     const struct pp_digest_auth *a, const char *method, const char *uri,
		     const uint8_t ha1[PP_DIGEST_HA1_LEN], uint64_t now, struct pp_err *err)
{
	uint8_t raw[NONCE_RAW_LEN];
	uint8_t mac[16];
	char expect[33];
	uint64_t issued = 0;
	int rc;

	if (!method || !*method || !uri || !*uri)
		return pp_err_set(err, PP_EINVAL, "request method or uri is empty");
	for (const char *m = method; *m; m++) {
		if (!is_tchar((unsigned char)*m))
			return pp_err_set(err, PP_EINVAL, "request method is not a token");
	}
	if (!ieq(a->qop, "auth") || strlen(a->response) != 32 || a->nc_value == 0)
		return pp_err_set(err, PP_EINVAL, "Digest credentials were not parsed");
	if (strcmp(a->realm, s->realm) != 0)
		return err_one_line(
		    err, pp_err_set(err, PP_EPERM, "Digest realm '%.64s' is not ours", a->realm));
	if (strlen(a->nonce) != NONCE_HEX_LEN || pp_unhex(a->nonce, raw, sizeof(raw)) < 0)
		return pp_err_set(err, PP_ECRYPTO, "Digest nonce was not issued by this server");
	if ((rc = nonce_mac(s, raw, mac, err)) < 0)
		goto out;
	if (!pp_ct_eq(mac, raw + 16, 16)) {
		rc = pp_err_set(err, PP_ECRYPTO, "Digest nonce was not issued by this server");
		goto out;
	}
	for (int i = 0; i < 8; i++)
		issued = issued << 8 | raw[i];
	if (strcmp(a->uri, uri) != 0) {
		rc = pp_err_set(err, PP_EPERM, "Digest uri '%.100s' is not the request target",
				a->uri);
		goto out;
	}
	if ((rc = pp_digest_response(ha1, a->nonce, a->nc, a->cnonce, a->qop, method, uri, expect,
				     err)) < 0)
		goto out;
	if (!pp_ct_eq(expect, a->response, 32)) {
		rc = pp_err_set(err, PP_EPERM,
				"Digest response does not match (wrong password, user or method)");
		goto out;
	}
	if (issued > now || now - issued > s->nonce_lifetime_s) {
		rc = pp_err_set(err, PP_ETIMEOUT, "Digest nonce is stale");
		goto out;
	}
	if (replay && (rc = replay_check(replay, raw + 16, issued, a->nc_value, now,
					 s->nonce_lifetime_s, err)) < 0)
		goto out;
	rc = 0;
out:
	pp_wipe(expect, sizeof(expect));
	pp_wipe(mac, sizeof(mac));
	return err_one_line(err, rc);
}

/* ---- client ---- */

static bool qop_list_has_auth(const char *list)
{
	const char *p = list;
	while (*p) {
		while (*p == ' ' || *p == '\t' || *p == ',')
			p++;
		const char *start = p;
		while (*p && *p != ',' && *p != ' ' && *p != '\t')
			p++;
		if (p - start == 4 && strncasecmp(start, "auth", 4) == 0)
			return true;
	}
	return false;
}

int pp_digest_challenge_parse(const char *value, size_t len, struct pp_digest_challenge *c,
			      struct pp_err *err)
{
	struct plist pl;
	bool have_realm = false, have_nonce = false, have_qop = false;
	char qop[64] = "", algorithm[16] = "", stale[8] = "";
	int rc;

	memset(c, 0, sizeof(*c));
	if ((rc = parse_params(value, len, &pl, err)) < 0)
		goto out;
	for (size_t i = 0; i < pl.n; i++) {
		const struct param *p = &pl.p[i];
		if (ieq(p->name, "realm")) {
			rc = take(&pl, p, c->realm, sizeof(c->realm), err);
			have_realm = true;
		} else if (ieq(p->name, "nonce")) {
			rc = take(&pl, p, c->nonce, sizeof(c->nonce), err);
			have_nonce = true;
		} else if (ieq(p->name, "opaque")) {
			rc = take(&pl, p, c->opaque, sizeof(c->opaque), err);
			c->has_opaque = true;
		} else if (ieq(p->name, "qop")) {
			rc = take(&pl, p, qop, sizeof(qop), err);
			have_qop = true;
		} else if (ieq(p->name, "algorithm")) {
			rc = take(&pl, p, algorithm, sizeof(algorithm), err);
		} else if (ieq(p->name, "stale")) {
			rc = take(&pl, p, stale, sizeof(stale), err);
		} else if (ieq(p->name, "userhash")) {
			if (!ieq(pval(&pl, p), "false"))
				rc = pp_err_set(err, PP_EINVAL, "Digest userhash is not supported");
		}
		if (rc < 0)
			goto out;
	}
	if (!have_realm || !have_nonce || !c->nonce[0]) {
		rc = pp_err_set(err, PP_EINVAL, "Digest challenge has no %s",
				have_realm ? "nonce" : "realm");
		goto out;
	}
	if (!have_qop || !qop_list_has_auth(qop)) {
		rc = pp_err_set(err, PP_EINVAL, "Digest challenge does not offer qop=auth");
		goto out;
	}
	if (algorithm[0] && !ieq(algorithm, "MD5")) {
		rc = pp_err_set(err, PP_EINVAL, "Digest algorithm '%s' is not supported (MD5 only)",
				algorithm);
		goto out;
	}
	if (stale[0] && !ieq(stale, "true") && !ieq(stale, "false")) {
		rc = pp_err_set(err, PP_EINVAL, "Digest stale is neither true nor false");
		goto out;
	}
	c->stale = ieq(stale, "true");
	rc = 0;
out:
	pp_wipe(&pl, sizeof(pl));
	if (rc < 0)
		memset(c, 0, sizeof(*c));
	return err_one_line(err, rc);
}

int pp_digest_authorization_make(struct pp_digest_challenge *c, const char *method, const char *uri,
				 const char *user, const char *password, char *out, size_t cap,
				 struct pp_err *err)
{
	uint8_t ha1[PP_DIGEST_HA1_LEN], rnd[16];
	char response[33], cnonce[33], nc[9];
	struct pp_writer w = pp_writer_make(out, cap);
	int rc;

	if (!method || !*method || !uri || !*uri || !user || !password)
		return pp_err_set(err, PP_EINVAL, "digest needs a method, uri, user and password");
	for (const char *m = method; *m; m++) {
		if (!is_tchar((unsigned char)*m))
			return pp_err_set(err, PP_EINVAL, "request method is not a token");
	}
	if (!text_printable(uri) || strlen(uri) > PP_DIGEST_URI_MAX || !text_printable(user) ||
	    strlen(user) > PP_DIGEST_USER_MAX)
		return pp_err_set(err, PP_EINVAL,
				  "digest uri or user is too long or not printable");
	/* An empty realm is a valid quoted-string; a challenge always has a nonce. */
	if (!c->nonce[0])
		return pp_err_set(err, PP_EINVAL, "no digest challenge to answer");
	if (c->nc == UINT32_MAX)
		return pp_err_set(err, PP_ESTATE, "digest nonce count exhausted");
	if (pp_random(rnd, sizeof(rnd)) < 0)
		return pp_err_set(err, PP_ECRYPTO, "no random bytes for a digest cnonce");
	pp_hex(rnd, sizeof(rnd), cnonce);
	snprintf(nc, sizeof(nc), "%08x", (unsigned)(c->nc + 1));

	if ((rc = pp_digest_ha1(user, c->realm, password, ha1, err)) < 0 ||
	    (rc = pp_digest_response(ha1, c->nonce, nc, cnonce, "auth", method, uri, response,
				     err)) < 0)
		goto out;

	rc = put(&w, "Digest username=");
	if (rc == 0)
		rc = put_quoted(&w, user);
	if (rc == 0)
		rc = put(&w, ", realm=");
	if (rc == 0)
		rc = put_quoted(&w, c->realm);
	if (rc == 0)
		rc = put(&w, ", nonce=");
	if (rc == 0)
		rc = put_quoted(&w, c->nonce);
	if (rc == 0)
		rc = put(&w, ", uri=");
	if (rc == 0)
		rc = put_quoted(&w, uri);
	if (rc == 0)
		rc = put(&w, ", algorithm=MD5, response=\"");
	if (rc == 0)
		rc = put(&w, response);
	if (rc == 0)
		rc = put(&w, "\", qop=auth, nc=");
	if (rc == 0)
		rc = put(&w, nc);
	if (rc == 0)
		rc = put(&w, ", cnonce=\"");
	if (rc == 0)
		rc = put(&w, cnonce);
	if (rc == 0)
		rc = put(&w, "\"");
	if (rc == 0 && c->has_opaque) {
		rc = put(&w, ", opaque=");
		if (rc == 0)
			rc = put_quoted(&w, c->opaque);
	}
	if ((rc = finish(&w, out, rc, "digest Authorization", err)) < 0)
		goto out;
	c->nc++;
out:
	pp_wipe(ha1, sizeof(ha1));
	return rc;
}
