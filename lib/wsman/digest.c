#include "wsman/digest.h"

#include <stddef.h>
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

/* A cursor over the header value: s[i..len). */
struct hcur {
	const char *s;
	size_t len, i;
};

static bool at(const struct hcur *h, char c)
{
	return h->i < h->len && h->s[h->i] == c;
}

static void skip_ows(struct hcur *h)
{
	while (h->i < h->len && is_ows((unsigned char)h->s[h->i]))
		h->i++;
}

/* Advances over a token; returns its length. */
static size_t skip_token(struct hcur *h)
{
	size_t start = h->i;
	while (h->i < h->len && is_tchar((unsigned char)h->s[h->i]))
		h->i++;
	return h->i - start;
}

static int parse_scheme(struct hcur *h, struct pp_err *err)
{
	skip_ows(h);
	size_t start = h->i;
	if (skip_token(h) != 6 || strncasecmp(h->s + start, "Digest", 6) != 0)
		return pp_err_set(err, PP_EINVAL, "authentication scheme is not Digest");
	if (!at(h, ' '))
		return pp_err_set(err, PP_EINVAL, "Digest has no parameters");
	return 0;
}

/* The name of the next parameter into a new entry of pl, and its '='. */
static int parse_name(struct hcur *h, struct plist *pl, struct pp_err *err)
{
	skip_ows(h);
	size_t start = h->i, n = skip_token(h);
	if (n == 0)
		return pp_err_set(err, PP_EINVAL, "expected a parameter name at offset %zu", start);
	if (n > PARAM_NAME_MAX)
		return pp_err_set(err, PP_EINVAL, "parameter name at offset %zu is too long",
				  start);
	if (pl->n >= MAX_PARAMS)
		return pp_err_set(err, PP_ETOOBIG, "more than %d Digest parameters", MAX_PARAMS);
	struct param *p = &pl->p[pl->n];
	memcpy(p->name, h->s + start, n);
	p->name[n] = '\0';
	for (size_t k = 0; k < pl->n; k++) {
		if (ieq(pl->p[k].name, p->name))
			return pp_err_set(err, PP_EINVAL, "duplicate Digest parameter '%s'",
					  p->name);
	}
	skip_ows(h);
	if (!at(h, '='))
		return pp_err_set(err, PP_EINVAL, "Digest parameter '%s' has no '='", p->name);
	h->i++;
	return 0;
}

/* quoted-string (RFC 9110 section 5.6.4), unescaped into pl->buf. */
static int parse_quoted(struct hcur *h, struct plist *pl, const char *name, struct pp_err *err)
{
	h->i++; /* the opening quote */
	for (;;) {
		if (h->i >= h->len)
			return pp_err_set(err, PP_EINVAL,
					  "unterminated quoted string in Digest parameter '%s'",
					  name);
		unsigned char c = (unsigned char)h->s[h->i++];
		if (c == '"')
			return 0;
		if (c == '\\') {
			if (h->i >= h->len)
				return pp_err_set(err, PP_EINVAL,
						  "unterminated escape in Digest parameter '%s'",
						  name);
			c = (unsigned char)h->s[h->i++];
		}
		if (!is_qchar(c))
			return pp_err_set(err, PP_EINVAL,
					  "control character in Digest parameter '%s'", name);
		pl->buf[pl->used++] = (char)c;
	}
}

/* The value of the entry parse_name began: a token or a quoted-string. The buffer holds
 * every value with its NUL: the header's length bounds the total. */
static int parse_value(struct hcur *h, struct plist *pl, struct pp_err *err)
{
	struct param *p = &pl->p[pl->n];
	int rc = 0;

	skip_ows(h);
	p->off = pl->used;
	if (at(h, '"')) {
		rc = parse_quoted(h, pl, p->name, err);
	} else {
		size_t start = h->i, n = skip_token(h);
		if (n == 0)
			return pp_err_set(err, PP_EINVAL, "Digest parameter '%s' has no value",
					  p->name);
		memcpy(pl->buf + pl->used, h->s + start, n);
		pl->used += n;
	}
	if (rc < 0)
		return rc;
	p->len = pl->used - p->off;
	pl->buf[pl->used++] = '\0';
	pl->n++;
	return 0;
}

/* 1 when the list goes on after a ',', 0 at its end. */
static int parse_separator(struct hcur *h, const char *name, struct pp_err *err)
{
	skip_ows(h);
	if (h->i == h->len)
		return 0;
	if (!at(h, ','))
		return pp_err_set(err, PP_EINVAL,
				  "expected ',' after Digest parameter '%s' at offset %zu", name,
				  h->i);
	h->i++;
	skip_ows(h);
	if (h->i == h->len)
		return pp_err_set(err, PP_EINVAL, "Digest header ends with ','");
	return 1;
}

static int parse_params(const char *s, size_t len, struct plist *pl, struct pp_err *err)
{
	struct hcur h = {.s = s, .len = len, .i = 0};
	int rc;

	pl->n = 0;
	pl->used = 0;
	if (!s)
		return pp_err_set(err, PP_EINVAL, "no Digest header value");
	if (len > PP_DIGEST_HEADER_MAX)
		return pp_err_set(err, PP_ETOOBIG, "Digest header of %zu bytes is over %d", len,
				  PP_DIGEST_HEADER_MAX);
	if ((rc = parse_scheme(&h, err)) < 0)
		return rc;
	do {
		if ((rc = parse_name(&h, pl, err)) < 0 || (rc = parse_value(&h, pl, err)) < 0)
			return rc;
	} while ((rc = parse_separator(&h, pl->p[pl->n - 1].name, err)) > 0);
	return rc;
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

/* What a parameter of a header means to its parser: copied into a field at off (cap
 * bytes), or refused, or allowed only as "false". Unlisted parameters are ignored
 * (RFC 7616 section 3.4). */
enum field_kind { FIELD_TAKE, FIELD_REFUSED, FIELD_FALSE_ONLY };

struct field {
	const char *name;
	enum field_kind kind;
	bool required;
	size_t off, cap;
};

#define FIELD(type, nm, member, req)                                                               \
	{                                                                                          \
		nm, FIELD_TAKE, req, offsetof(type, member), sizeof(((type *)0)->member)           \
	}

/* Copies pl's parameters into base by the table; seen[k] tells whether fields[k] was
 * present. Fails on a refused parameter or a value longer than its field. */
static int take_fields(const struct plist *pl, const struct field *fields, size_t nfields,
		       void *base, bool *seen, struct pp_err *err)
{
	for (size_t i = 0; i < pl->n; i++) {
		const struct param *p = &pl->p[i];
		for (size_t k = 0; k < nfields; k++) {
			const struct field *f = &fields[k];
			int rc = 0;
			if (!ieq(p->name, f->name))
				continue;
			if (f->kind == FIELD_REFUSED ||
			    (f->kind == FIELD_FALSE_ONLY && !ieq(pval(pl, p), "false")))
				rc = pp_err_set(err, PP_EINVAL, "Digest %s is not supported",
						f->name);
			else if (f->kind == FIELD_TAKE)
				rc = take(pl, p, (char *)base + f->off, f->cap, err);
			if (rc < 0)
				return rc;
			seen[k] = true;
			break;
		}
	}
	return 0;
}

/* The first required field that was absent, or NULL. */
static const char *missing_field(const struct field *fields, size_t nfields, const bool *seen)
{
	for (size_t k = 0; k < nfields; k++) {
		if (fields[k].required && !seen[k])
			return fields[k].name;
	}
	return NULL;
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

/* A header written as a list: literal text, or a value written as a quoted-string. */
struct piece {
	const char *text;
	bool quoted;
};

static int put_pieces(struct pp_writer *w, const struct piece *p, size_t n)
{
	int rc = 0;
	for (size_t i = 0; rc == 0 && i < n; i++)
		rc = p[i].quoted ? put_quoted(w, p[i].text) : put(w, p[i].text);
	return rc;
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
	const struct piece pieces[] = {
	    {"Digest realm=", false},
	    {s->realm, true},
	    {", nonce=\"", false},
	    {hex, false},
	    {"\", qop=\"auth\", algorithm=MD5", false},
	    {stale ? ", stale=true" : "", false},
	};
	rc = put_pieces(&w, pieces, sizeof(pieces) / sizeof(pieces[0]));
	return finish(&w, out, rc, "digest challenge", err);
}

/* pp_digest_auth_parse's work: the result, and the values checked before they land. */
struct auth_work {
	struct pp_digest_auth a;
	char algorithm[16];
	char response[40];
};

/* RFC 7616 section 3.4: the required ones first, in the order they are reported missing. */
static const struct field auth_fields[] = {
    FIELD(struct auth_work, "username", a.username, true),
    FIELD(struct auth_work, "realm", a.realm, true),
    FIELD(struct auth_work, "nonce", a.nonce, true),
    FIELD(struct auth_work, "uri", a.uri, true),
    FIELD(struct auth_work, "response", response, true),
    FIELD(struct auth_work, "qop", a.qop, true),
    FIELD(struct auth_work, "nc", a.nc, true),
    FIELD(struct auth_work, "cnonce", a.cnonce, true),
    FIELD(struct auth_work, "opaque", a.opaque, false),
    FIELD(struct auth_work, "algorithm", algorithm, false),
    {"username*", FIELD_REFUSED, false, 0, 0},
    {"userhash", FIELD_FALSE_ONLY, false, 0, 0},
};
#define AUTH_FIELDS (sizeof(auth_fields) / sizeof(auth_fields[0]))

static unsigned hex_digit(char c)
{
	return c <= '9' ? (unsigned)(c - '0') : (unsigned)((c | 0x20) - 'a' + 10);
}

/* response: 32 hex digits, kept lower-cased; nc: 8 hex digits, not zero. */
static int auth_numbers(struct auth_work *w, struct pp_err *err)
{
	struct pp_digest_auth *a = &w->a;
	if (!all_hex(w->response, 32))
		return pp_err_set(err, PP_EINVAL, "Digest response is not 32 hex digits");
	for (size_t k = 0; k < 32; k++) {
		char c = w->response[k];
		a->response[k] = (char)(c >= 'A' && c <= 'F' ? c - 'A' + 'a' : c);
	}
	a->response[32] = '\0';
	if (!all_hex(a->nc, 8))
		return pp_err_set(err, PP_EINVAL, "Digest nc is not 8 hex digits");
	a->nc_value = 0;
	for (size_t k = 0; k < 8; k++)
		a->nc_value = a->nc_value << 4 | hex_digit(a->nc[k]);
	if (a->nc_value == 0)
		return pp_err_set(err, PP_EINVAL, "Digest nc is zero");
	return 0;
}

static int auth_check(struct auth_work *w, const bool *seen, struct pp_err *err)
{
	const struct pp_digest_auth *a = &w->a;
	const char *missing = missing_field(auth_fields, AUTH_FIELDS, seen);
	if (missing)
		return pp_err_set(err, PP_EINVAL, "Digest parameter '%s' is missing", missing);
	if (!a->username[0] || !a->nonce[0] || !a->uri[0] || !a->cnonce[0])
		return pp_err_set(err, PP_EINVAL, "Digest username, nonce, uri or cnonce is empty");
	if (w->algorithm[0] && !ieq(w->algorithm, "MD5"))
		return pp_err_set(err, PP_EINVAL,
				  "Digest algorithm '%s' is not supported (MD5 only)",
				  w->algorithm);
	if (!ieq(a->qop, "auth"))
		return pp_err_set(err, PP_EINVAL, "Digest qop '%s' is not supported (auth only)",
				  a->qop);
	return auth_numbers(w, err);
}

static void plist_wipe(struct plist *pl)
{
	pp_wipe(pl, sizeof(*pl));
}

static void auth_work_wipe(struct auth_work *w)
{
	pp_wipe(w, sizeof(*w));
}

int pp_digest_auth_parse(const char *value, size_t len, struct pp_digest_auth *a,
			 struct pp_err *err)
{
	pp_cleanup(plist_wipe) struct plist pl;
	pp_cleanup(auth_work_wipe) struct auth_work w = {0};
	bool seen[AUTH_FIELDS] = {false};
	int rc;

	memset(a, 0, sizeof(*a));
	if ((rc = parse_params(value, len, &pl, err)) < 0 ||
	    (rc = take_fields(&pl, auth_fields, AUTH_FIELDS, &w, seen, err)) < 0 ||
	    (rc = auth_check(&w, seen, err)) < 0)
		return pp_err_one_line(err, rc);
	*a = w.a;
	return 0;
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
		return pp_err_one_line(
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
	return pp_err_one_line(err, rc);
}

/* ---- client ---- */

static void ha1_wipe(uint8_t (*ha1)[PP_DIGEST_HA1_LEN])
{
	pp_wipe(*ha1, sizeof(*ha1));
}

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

/* pp_digest_challenge_parse's work: the result, and the values checked before they land. */
struct challenge_work {
	struct pp_digest_challenge c;
	char qop[64];
	char algorithm[16];
	char stale[8];
};

enum { CH_REALM, CH_NONCE, CH_OPAQUE, CH_QOP };
static const struct field challenge_fields[] = {
    [CH_REALM] = FIELD(struct challenge_work, "realm", c.realm, true),
    [CH_NONCE] = FIELD(struct challenge_work, "nonce", c.nonce, true),
    [CH_OPAQUE] = FIELD(struct challenge_work, "opaque", c.opaque, false),
    [CH_QOP] = FIELD(struct challenge_work, "qop", qop, false),
    FIELD(struct challenge_work, "algorithm", algorithm, false),
    FIELD(struct challenge_work, "stale", stale, false),
    {"userhash", FIELD_FALSE_ONLY, false, 0, 0},
};
#define CHALLENGE_FIELDS (sizeof(challenge_fields) / sizeof(challenge_fields[0]))

static int challenge_check(struct challenge_work *w, const bool *seen, struct pp_err *err)
{
	if (missing_field(challenge_fields, CHALLENGE_FIELDS, seen) || !w->c.nonce[0])
		return pp_err_set(err, PP_EINVAL, "Digest challenge has no %s",
				  seen[CH_REALM] ? "nonce" : "realm");
	if (!seen[CH_QOP] || !qop_list_has_auth(w->qop))
		return pp_err_set(err, PP_EINVAL, "Digest challenge does not offer qop=auth");
	if (w->algorithm[0] && !ieq(w->algorithm, "MD5"))
		return pp_err_set(err, PP_EINVAL,
				  "Digest algorithm '%s' is not supported (MD5 only)",
				  w->algorithm);
	if (w->stale[0] && !ieq(w->stale, "true") && !ieq(w->stale, "false"))
		return pp_err_set(err, PP_EINVAL, "Digest stale is neither true nor false");
	w->c.stale = ieq(w->stale, "true");
	w->c.has_opaque = seen[CH_OPAQUE];
	return 0;
}

static void challenge_work_wipe(struct challenge_work *w)
{
	pp_wipe(w, sizeof(*w));
}

int pp_digest_challenge_parse(const char *value, size_t len, struct pp_digest_challenge *c,
			      struct pp_err *err)
{
	pp_cleanup(plist_wipe) struct plist pl;
	pp_cleanup(challenge_work_wipe) struct challenge_work w = {0};
	bool seen[CHALLENGE_FIELDS] = {false};
	int rc;

	memset(c, 0, sizeof(*c));
	if ((rc = parse_params(value, len, &pl, err)) < 0 ||
	    (rc = take_fields(&pl, challenge_fields, CHALLENGE_FIELDS, &w, seen, err)) < 0 ||
	    (rc = challenge_check(&w, seen, err)) < 0)
		return pp_err_one_line(err, rc);
	*c = w.c;
	return 0;
}

int pp_digest_authorization_make(struct pp_digest_challenge *c, const char *method, const char *uri,
				 const char *user, const char *password, char *out, size_t cap,
				 struct pp_err *err)
{
	pp_cleanup(ha1_wipe) uint8_t ha1[PP_DIGEST_HA1_LEN];
	uint8_t rnd[16];
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
		return rc;

	const struct piece pieces[] = {
	    {"Digest username=", false},
	    {user, true},
	    {", realm=", false},
	    {c->realm, true},
	    {", nonce=", false},
	    {c->nonce, true},
	    {", uri=", false},
	    {uri, true},
	    {", algorithm=MD5, response=\"", false},
	    {response, false},
	    {"\", qop=auth, nc=", false},
	    {nc, false},
	    {", cnonce=\"", false},
	    {cnonce, false},
	    {"\"", false},
	    {", opaque=", false},
	    {c->opaque, true},
	};
	/* The last two pieces only when the challenge had an opaque (RFC 7616 3.4). */
	rc = put_pieces(&w, pieces, sizeof(pieces) / sizeof(pieces[0]) - (c->has_opaque ? 0 : 2));
	if ((rc = finish(&w, out, rc, "digest Authorization", err)) < 0)
		return rc;
	c->nc++;
	return 0;
}
