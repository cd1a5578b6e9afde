/* PSKC (RFC 6030) reader and writer: docs/protocol.md section 7. See pskc.h for the profile,
 * the [ours] extensions and the strictness decisions. */
#include "keys/pskc.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libxml/parser.h>
#include <libxml/tree.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/params.h>

#include "core/base64.h"
#include "core/fileio.h"
#include "core/parse.h"
#include "core/secret.h"
#include "core/xmlsafe.h"

/* Namespaces and algorithm identifiers: RFC 6030 sections 4 and 6, XML Encryption
 * (xmlenc, xmlenc11), XML Signature (xmldsig, xmldsig-more, RFC 6931), PKCS #5 XML. */
#define NS_DS "http://www.w3.org/2000/09/xmldsig#"
#define NS_XENC "http://www.w3.org/2001/04/xmlenc#"
#define NS_XENC11 "http://www.w3.org/2009/xmlenc11#"
#define NS_PKCS5 "http://www.rsasecurity.com/rsalabs/pkcs/schemas/pkcs-5v2-0#"
#define URI_AES128_CBC NS_XENC "aes128-cbc"
#define URI_AES256_CBC NS_XENC "aes256-cbc"
#define URI_HMAC_SHA1 NS_DS "hmac-sha1"
#define URI_HMAC_SHA256 "http://www.w3.org/2001/04/xmldsig-more#hmac-sha256"
#define URI_PBKDF2 NS_PKCS5 "pbkdf2"
#define URI_PBKDF2_XENC11 NS_XENC11 "pbkdf2"

#define CONTAINER_MAC_LABEL "pskprov pskc container v1"

#define AES_BLOCK 16
#define IV_LEN 16
/* Decoded CipherValue: IV, then the padded plaintext. */
#define CIPHER_MAX (IV_LEN + PP_PSKC_VALUE_MAX + AES_BLOCK)
#define MAC_MAX 64        /* largest HMAC output */
#define MAC_KEY_MIN 16    /* shortest MAC key accepted from a document */
#define MAC_KEY_MAX 64    /* longest */
#define B64_TEXT_MAX 1024 /* characters of one base64 element, white space included */
#define SALT_MIN 8        /* RFC 8018 section 4.1: at least eight octets */
#define SALT_MAX 64
#define WRITE_SALT_LEN 16
#define ID_MAX 128        /* Key Id bytes */
#define ALGORITHM_MAX 256 /* URI attribute bytes */
#define SHOW_MAX 64       /* characters of untrusted text quoted in a message */
#define WHERE_MAX 112

/* ---- small helpers ---- */

static bool xml_space(unsigned char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

/* Untrusted text for an error message: printable ASCII, '?' for anything else, cut at
 * SHOW_MAX characters with "...". */
static const char *shown(const char *s, char buf[SHOW_MAX + 4])
{
	size_t i = 0;
	for (; s[i] && i < SHOW_MAX; i++)
		buf[i] = (s[i] >= 0x20 && s[i] < 0x7f) ? s[i] : '?';
	if (s[i]) {
		memcpy(buf + i, "...", 3);
		i += 3;
	}
	buf[i] = '\0';
	return buf;
}

static void put_u32be(uint8_t p[4], uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

static uint64_t pid_pack(const char s[PP_PID_LEN])
{
	uint64_t v = 0;
	for (size_t i = 0; i < PP_PID_LEN; i++)
		v = v << 8 | (uint8_t)s[i];
	return v;
}

static void pid_unpack(uint64_t v, struct pp_pid *pid)
{
	for (size_t i = PP_PID_LEN; i-- > 0;) {
		pid->s[i] = (char)(v & 0xff);
		v >>= 8;
	}
	pid->s[PP_PID_LEN] = '\0';
}

/* ---- base64: xs:base64Binary allows XML white space anywhere; the rest is strict
 * (core/base64.h) ---- */

/* out gets 4 * ceil(n / 3) characters and a NUL. */
static void b64_encode(const uint8_t *in, size_t n, char *out)
{
	if (pp_b64_encode(in, n, out, PP_B64_ENCODED_LEN(n) + 1, NULL) < 0)
		out[0] = '\0';
}

/* -PP_EINVAL or -PP_ETOOBIG (more than cap bytes). */
static int b64_decode(const char *text, uint8_t *out, size_t cap, size_t *out_len)
{
	char c[B64_TEXT_MAX];
	size_t m = 0;
	for (const char *p = text; *p; p++) {
		if (xml_space((unsigned char)*p))
			continue;
		if (m == sizeof(c))
			return -PP_ETOOBIG;
		c[m++] = *p;
	}
	if (m == 0)
		return -PP_EINVAL;
	int rc = pp_b64_decode(c, m, out, cap, out_len, NULL);
	pp_wipe(c, m);
	return rc < 0 && rc != -PP_ETOOBIG ? -PP_EINVAL : rc;
}

/* ---- crypto ---- */

struct mac_alg {
	const char *uri;
	const char *name;   /* for messages */
	const char *digest; /* OpenSSL name */
	size_t len;
};

static const struct mac_alg mac_sha1 = {URI_HMAC_SHA1, "hmac-sha1", "SHA1", 20};
static const struct mac_alg mac_sha256 = {URI_HMAC_SHA256, "hmac-sha256", "SHA256", 32};

static const struct mac_alg *mac_by_uri(const char *uri)
{
	if (strcmp(uri, mac_sha1.uri) == 0)
		return &mac_sha1;
	if (strcmp(uri, mac_sha256.uri) == 0)
		return &mac_sha256;
	return NULL;
}

static const EVP_MD *mac_md(const struct mac_alg *m)
{
	return m == &mac_sha1 ? EVP_sha1() : EVP_sha256();
}

static const char *aes_uri(size_t key_len)
{
	return key_len == 16 ? URI_AES128_CBC : URI_AES256_CBC;
}

static const char *aes_name(size_t key_len)
{
	return key_len == 16 ? "aes128-cbc" : "aes256-cbc";
}

static int hmac(const struct mac_alg *m, const uint8_t *key, size_t key_len, const uint8_t *data,
		size_t len, uint8_t out[MAC_MAX])
{
	unsigned int n = 0;
	if (!HMAC(mac_md(m), key, (int)key_len, data, len, out, &n) || n != m->len)
		return -PP_ECRYPTO;
	return 0;
}

/* xmlenc AES-CBC: out = random IV || AES-CBC(key, IV, PKCS#7-padded plain). */
static int cbc_encrypt(const uint8_t *key, size_t key_len, const uint8_t *plain, size_t len,
		       uint8_t out[CIPHER_MAX], size_t *out_len)
{
	EVP_CIPHER_CTX *c = NULL;
	int n = 0, fin = 0, rc = -PP_ECRYPTO;
	if (len == 0 || len > PP_PSKC_VALUE_MAX)
		return -PP_EINVAL;
	if (pp_random(out, IV_LEN) < 0)
		return -PP_ECRYPTO;
	c = EVP_CIPHER_CTX_new();
	if (!c)
		return -PP_ENOMEM;
	if (EVP_EncryptInit_ex(c, key_len == 16 ? EVP_aes_128_cbc() : EVP_aes_256_cbc(), NULL, key,
			       out) != 1 ||
	    EVP_EncryptUpdate(c, out + IV_LEN, &n, plain, (int)len) != 1 ||
	    EVP_EncryptFinal_ex(c, out + IV_LEN + n, &fin) != 1)
		goto out;
	*out_len = IV_LEN + (size_t)n + (size_t)fin;
	rc = 0;
out:
	EVP_CIPHER_CTX_free(c);
	return rc;
}

/* The inverse; -PP_ECRYPTO on bad padding. in_len is IV_LEN + whole blocks. */
static int cbc_decrypt(const uint8_t *key, size_t key_len, const uint8_t *in, size_t in_len,
		       uint8_t *plain, size_t cap, size_t *out_len)
{
	uint8_t tmp[CIPHER_MAX + AES_BLOCK];
	EVP_CIPHER_CTX *c = NULL;
	int n = 0, fin = 0, rc = -PP_ECRYPTO;
	if (in_len < IV_LEN + AES_BLOCK || (in_len - IV_LEN) % AES_BLOCK || in_len > CIPHER_MAX)
		return -PP_EINVAL;
	c = EVP_CIPHER_CTX_new();
	if (!c)
		return -PP_ENOMEM;
	if (EVP_DecryptInit_ex(c, key_len == 16 ? EVP_aes_128_cbc() : EVP_aes_256_cbc(), NULL, key,
			       in) != 1 ||
	    EVP_DecryptUpdate(c, tmp, &n, in + IV_LEN, (int)(in_len - IV_LEN)) != 1 ||
	    EVP_DecryptFinal_ex(c, tmp + n, &fin) != 1)
		goto out;
	size_t total = (size_t)n + (size_t)fin;
	if (total > cap) {
		rc = -PP_ETOOBIG;
		goto out;
	}
	memcpy(plain, tmp, total);
	*out_len = total;
	rc = 0;
out:
	pp_wipe(tmp, sizeof(tmp));
	EVP_CIPHER_CTX_free(c);
	return rc;
}

/* The running ContainerMAC (pskc.h). */
static EVP_MAC_CTX *cmac_new(const struct mac_alg *m, const uint8_t *key, size_t key_len)
{
	EVP_MAC *mac = EVP_MAC_fetch(NULL, "HMAC", NULL);
	if (!mac)
		return NULL;
	EVP_MAC_CTX *c = EVP_MAC_CTX_new(mac);
	EVP_MAC_free(mac);
	if (!c)
		return NULL;
	OSSL_PARAM params[2] = {
	    OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, (char *)m->digest, 0),
	    OSSL_PARAM_construct_end(),
	};
	if (EVP_MAC_init(c, key, key_len, params) != 1 ||
	    EVP_MAC_update(c, (const uint8_t *)CONTAINER_MAC_LABEL, strlen(CONTAINER_MAC_LABEL)) !=
		1) {
		EVP_MAC_CTX_free(c);
		return NULL;
	}
	return c;
}

static int cmac_lp(EVP_MAC_CTX *c, const void *p, size_t n)
{
	uint8_t len[4];
	put_u32be(len, (uint32_t)n);
	if (EVP_MAC_update(c, len, 4) != 1 || (n && EVP_MAC_update(c, p, n) != 1))
		return -PP_ECRYPTO;
	return 0;
}

static int cmac_entry(EVP_MAC_CTX *c, const char *id, const char *algorithm, const char *batch,
		      const uint8_t *secret_cv, size_t secret_cv_len, const uint8_t *mebx_cv,
		      size_t mebx_cv_len)
{
	if (cmac_lp(c, id, strlen(id)) < 0 || cmac_lp(c, algorithm, strlen(algorithm)) < 0 ||
	    cmac_lp(c, batch, strlen(batch)) < 0 || cmac_lp(c, secret_cv, secret_cv_len) < 0 ||
	    cmac_lp(c, mebx_cv, mebx_cv_len) < 0)
		return -PP_ECRYPTO;
	return 0;
}

static int cmac_final(EVP_MAC_CTX *c, size_t count, const struct mac_alg *m, uint8_t out[MAC_MAX])
{
	uint8_t n[4];
	size_t len = 0;
	put_u32be(n, (uint32_t)count);
	if (EVP_MAC_update(c, n, 4) != 1 || EVP_MAC_final(c, out, &len, MAC_MAX) != 1 ||
	    len != m->len)
		return -PP_ECRYPTO;
	return 0;
}

/* ---- XML reading helpers ---- */

static const char *ns_of(const xmlNode *n)
{
	return n->ns && n->ns->href ? (const char *)n->ns->href : "";
}

static bool is_el(const xmlNode *n, const char *ns, const char *name)
{
	return n && n->type == XML_ELEMENT_NODE && strcmp(ns_of(n), ns) == 0 &&
	       strcmp((const char *)n->name, name) == 0;
}

static bool blank(const xmlChar *s)
{
	for (; s && *s; s++) {
		if (!xml_space(*s))
			return false;
	}
	return true;
}

enum ns_match {
	IN_NS,    /* exactly the slot's namespace ("" for none) */
	IN_OTHER, /* any namespace but PSKC's (xs:any namespace="##other") */
	IN_LOCAL, /* no namespace, or the parent's (PBKDF2-params children) */
};

/* One expected child element: schema order is slot order. */
struct slot {
	enum ns_match how;
	const char *ns;
	const char *name; /* NULL with IN_OTHER: any name */
	unsigned min;
	unsigned max; /* 0: unbounded */
};

struct found {
	const xmlNode *first;
	size_t count;
};

static bool slot_match(const struct slot *s, const xmlNode *n, const char *parent_ns)
{
	const char *ns = ns_of(n);
	switch (s->how) {
	case IN_NS:
		if (strcmp(ns, s->ns) != 0)
			return false;
		break;
	case IN_OTHER:
		if (strcmp(ns, PP_PSKC_NS) == 0)
			return false;
		break;
	case IN_LOCAL:
		if (*ns && strcmp(ns, parent_ns) != 0)
			return false;
		break;
	}
	return !s->name || strcmp((const char *)n->name, s->name) == 0;
}

/* Checks parent's children against slots: only white space between elements (comments
 * and processing instructions are skipped), each element matching a slot at or after
 * the previous element's, each slot's count within [min, max]. f[i] gets the first match
 * and the count of slot i. */
static int scan(const xmlNode *parent, const char *where, const struct slot *slots, size_t n,
		struct found *f, struct pp_err *err)
{
	char b[SHOW_MAX + 4];
	size_t pos = 0;
	const char *pns = ns_of(parent);

	if (n)
		memset(f, 0, n * sizeof(*f));
	for (const xmlNode *c = parent->children; c; c = c->next) {
		if (c->type == XML_TEXT_NODE || c->type == XML_CDATA_SECTION_NODE) {
			if (!blank(c->content))
				return pp_err_set(err, PP_EINVAL,
						  "%s holds text where only elements belong",
						  where);
			continue;
		}
		if (c->type == XML_COMMENT_NODE || c->type == XML_PI_NODE)
			continue;
		if (c->type != XML_ELEMENT_NODE)
			return pp_err_set(err, PP_EINVAL, "%s holds an unexpected node (type %d)",
					  where, (int)c->type);
		size_t j = pos;
		while (j < n && !slot_match(&slots[j], c, pns))
			j++;
		if (j == n) {
			for (size_t k = 0; k < pos; k++) {
				if (slot_match(&slots[k], c, pns))
					return pp_err_set(err, PP_EINVAL,
							  "%s: <%s> is out of schema order", where,
							  shown((const char *)c->name, b));
			}
			return pp_err_set(err, PP_EINVAL, "%s: unexpected element <%s>", where,
					  shown((const char *)c->name, b));
		}
		pos = j;
		if (!f[j].first)
			f[j].first = c;
		f[j].count++;
		if (slots[j].max && f[j].count > slots[j].max)
			return pp_err_set(err, PP_EINVAL, "%s: more than %u <%s>", where,
					  slots[j].max, shown((const char *)c->name, b));
	}
	for (size_t j = 0; j < n; j++) {
		if (f[j].count < slots[j].min)
			return pp_err_set(err, PP_EINVAL, "%s: <%s> is missing", where,
					  slots[j].name ? slots[j].name : "extension");
	}
	return 0;
}

/* The text of an element holding only text (comments skipped) into out (NUL-terminated,
 * at most cap - 1 bytes). */
static int el_text(const xmlNode *el, char *out, size_t cap, const char *where, struct pp_err *err)
{
	size_t len = 0;
	for (const xmlNode *c = el->children; c; c = c->next) {
		if (c->type == XML_COMMENT_NODE || c->type == XML_PI_NODE)
			continue;
		if (c->type != XML_TEXT_NODE && c->type != XML_CDATA_SECTION_NODE) {
			pp_wipe(out, len);
			return pp_err_set(err, PP_EINVAL, "%s holds more than text", where);
		}
		size_t n = c->content ? strlen((const char *)c->content) : 0;
		if (n >= cap - len) {
			pp_wipe(out, len);
			return pp_err_set(err, PP_ETOOBIG, "%s is longer than %zu characters",
					  where, cap - 1);
		}
		memcpy(out + len, c->content, n);
		len += n;
	}
	out[len] = '\0';
	return 0;
}

/* Leading and trailing XML white space removed in place (xs:integer's collapse). */
static char *trim(char *s)
{
	while (xml_space((unsigned char)*s))
		s++;
	size_t n = strlen(s);
	while (n && xml_space((unsigned char)s[n - 1]))
		s[--n] = '\0';
	return s;
}

/* A no-namespace attribute into out: -PP_ENOTFOUND when absent. */
static int attr_get(const xmlNode *el, const char *name, char *out, size_t cap, const char *where,
		    struct pp_err *err)
{
	xmlChar *v = xmlGetNoNsProp(el, (const xmlChar *)name);
	if (!v)
		return -PP_ENOTFOUND;
	size_t n = strlen((const char *)v);
	if (n >= cap) {
		xmlFree(v);
		return pp_err_set(err, PP_ETOOBIG, "%s: attribute %s is longer than %zu bytes",
				  where, name, cap - 1);
	}
	memcpy(out, v, n + 1);
	xmlFree(v);
	return 0;
}

/* ---- parsing the document ---- */

/* The one safe parse policy (core/xmlsafe.h): no DTD, no entities, no network, node
 * and depth budgets, text wiped when freed. */
static int parse_xml(const void *xml, size_t len, xmlDoc **out, struct pp_err *err)
{
	return pp_xml_parse_safe(xml, len, PP_PSKC_DOC_MAX, "PSKC document", out, err);
}

/* ---- reader ---- */

struct pid_at {
	uint64_t pid;
	size_t index;
};

struct rd {
	const struct pp_pskc_protection *prot;
	bool profile; /* pskprov profile: pp_pskc_read */
	pp_pskc_key_fn key_cb;
	pp_pskc_secret_fn secret_cb;
	void *ctx;
	struct pp_err *err;

	size_t aes_len; /* 16 or 32 once known */
	uint8_t key[32];
	const struct mac_alg *mac;
	uint8_t mac_key[MAC_KEY_MAX];
	size_t mac_key_len;
	EVP_MAC_CTX *cmac; /* first pass only */

	/* PBKDF2 parameters (EncryptionKey/DerivedKey) */
	bool derived;
	uint8_t salt[SALT_MAX];
	size_t salt_len;
	uint32_t iterations;
	uint32_t key_length; /* 0: absent */
	const EVP_MD *prf;

	struct pid_at *pids;
	size_t n_pids;
	size_t cap_pids;
};

static const char *wrong_what(const struct rd *r)
{
	return r->prot->kind == PP_PSKC_PASSPHRASE ? "wrong passphrase" : "wrong transport key";
}

/* xenc:EncryptedDataType (EncryptedValue, MACKey): EncryptionMethod naming the
 * document's one cipher, and CipherData/CipherValue, decoded into cv. */
/* EncryptionMethod: AES-CBC, the same key length throughout the document. */
static int encryption_method(struct rd *r, const xmlNode *em, const char *where)
{
	char uri[ALGORITHM_MAX], b[SHOW_MAX + 4], w[WHERE_MAX];
	size_t aes_len;
	int rc = attr_get(em, "Algorithm", uri, sizeof(uri), where, r->err);
	if (rc == -PP_ENOTFOUND)
		return pp_err_set(r->err, PP_EINVAL, "%s: EncryptionMethod has no Algorithm",
				  where);
	if (rc < 0)
		return rc;
	if (strcmp(uri, URI_AES128_CBC) == 0)
		aes_len = 16;
	else if (strcmp(uri, URI_AES256_CBC) == 0)
		aes_len = 32;
	else
		return pp_err_set(r->err, PP_EINVAL,
				  "%s: EncryptionMethod '%s' is not supported (aes128-cbc, "
				  "aes256-cbc)",
				  where, shown(uri, b));
	if (!r->aes_len)
		r->aes_len = aes_len;
	else if (aes_len != r->aes_len)
		return pp_err_set(r->err, PP_EINVAL,
				  "%s: EncryptionMethod %s differs from the document's %s", where,
				  aes_name(aes_len), aes_name(r->aes_len));
	snprintf(w, sizeof(w), "%s: EncryptionMethod", where);
	return scan(em, w, NULL, 0, NULL, r->err);
}

static int read_encrypted(struct rd *r, const xmlNode *el, const char *where, uint8_t *cv,
			  size_t *cv_len)
{
	static const struct slot slots[] = {
	    {IN_NS, NS_XENC, "EncryptionMethod", 1, 1},
	    {IN_NS, NS_XENC, "CipherData", 1, 1},
	};
	static const struct slot cd_slots[] = {{IN_NS, NS_XENC, "CipherValue", 1, 1}};
	struct found f[2], g[1];
	char text[B64_TEXT_MAX + 1], w[WHERE_MAX];
	int rc = scan(el, where, slots, 2, f, r->err);
	if (rc == 0)
		rc = encryption_method(r, f[0].first, where);
	if (rc < 0)
		return rc;
	snprintf(w, sizeof(w), "%s: CipherData", where);
	rc = scan(f[1].first, w, cd_slots, 1, g, r->err);
	if (rc < 0)
		return rc;
	snprintf(w, sizeof(w), "%s: CipherValue", where);
	rc = el_text(g[0].first, text, sizeof(text), w, r->err);
	if (rc < 0)
		return rc;
	rc = b64_decode(text, cv, CIPHER_MAX, cv_len);
	if (rc == -PP_ETOOBIG)
		return pp_err_set(r->err, PP_ETOOBIG, "%s: CipherValue is longer than %d bytes",
				  where, CIPHER_MAX);
	if (rc < 0)
		return pp_err_set(r->err, PP_EINVAL, "%s: CipherValue is not valid base64", where);
	if (*cv_len < IV_LEN + AES_BLOCK || (*cv_len - IV_LEN) % AES_BLOCK)
		return pp_err_set(r->err, PP_EINVAL,
				  "%s: CipherValue of %zu bytes is not an IV and whole AES blocks",
				  where, *cv_len);
	return 0;
}

/* One encrypted value (Data/Secret, pskprov:MEBxPassword): pskc:binaryDataType with an
 * EncryptedValue and its ValueMAC. The MAC is checked before decrypting. */
static int read_value(struct rd *r, const xmlNode *el, const char *where, uint8_t cv[CIPHER_MAX],
		      size_t *cv_len, uint8_t plain[PP_PSKC_VALUE_MAX], size_t *plain_len)
{
	static const struct slot slots[] = {
	    {IN_NS, PP_PSKC_NS, "PlainValue", 0, 1},
	    {IN_NS, PP_PSKC_NS, "EncryptedValue", 0, 1},
	    {IN_NS, PP_PSKC_NS, "ValueMAC", 0, 1},
	};
	struct found f[3];
	char text[B64_TEXT_MAX + 1], w[WHERE_MAX];
	uint8_t mac[MAC_MAX], want[MAC_MAX];
	size_t mac_len = 0;
	int rc;

	rc = scan(el, where, slots, 3, f, r->err);
	if (rc < 0)
		return rc;
	if (f[0].count)
		return pp_err_set(
		    r->err, PP_EINVAL,
		    "%s is a PlainValue (unencrypted); only EncryptedValue is accepted", where);
	if (!f[1].count)
		return pp_err_set(r->err, PP_EINVAL, "%s: EncryptedValue is missing", where);
	if (!f[2].count)
		return pp_err_set(
		    r->err, PP_EINVAL,
		    "%s: ValueMAC is missing (RFC 6030 6.1.1 requires it with AES-CBC)", where);
	rc = read_encrypted(r, f[1].first, where, cv, cv_len);
	if (rc < 0)
		return rc;
	snprintf(w, sizeof(w), "%s: ValueMAC", where);
	rc = el_text(f[2].first, text, sizeof(text), w, r->err);
	if (rc < 0)
		return rc;
	rc = b64_decode(text, mac, sizeof(mac), &mac_len);
	if (rc < 0)
		return pp_err_set(r->err, PP_EINVAL, "%s: ValueMAC is not valid base64", where);
	if (mac_len != r->mac->len)
		return pp_err_set(r->err, PP_EINVAL, "%s: ValueMAC has %zu bytes, %s gives %zu",
				  where, mac_len, r->mac->name, r->mac->len);
	rc = hmac(r->mac, r->mac_key, r->mac_key_len, cv, *cv_len, want);
	if (rc < 0)
		return pp_err_set(r->err, PP_ECRYPTO, "%s: cannot compute the MAC", where);
	if (!pp_ct_eq(mac, want, mac_len))
		return pp_err_set(r->err, PP_ECRYPTO,
				  "%s: ValueMAC does not match (%s or tampered file)", where,
				  wrong_what(r));
	rc = cbc_decrypt(r->key, r->aes_len, cv, *cv_len, plain, PP_PSKC_VALUE_MAX, plain_len);
	if (rc == -PP_ETOOBIG)
		return pp_err_set(r->err, PP_ETOOBIG, "%s: value is longer than %u bytes", where,
				  PP_PSKC_VALUE_MAX);
	if (rc < 0)
		return pp_err_set(r->err, PP_ECRYPTO,
				  "%s: EncryptedValue does not decrypt (bad padding under a valid "
				  "MAC)",
				  where);
	if (*plain_len == 0)
		return pp_err_set(r->err, PP_EINVAL, "%s: value is empty", where);
	return 0;
}

/* EncryptionKey: ds:KeyName (pre-shared key, RFC 6030 6.1) or xenc11:DerivedKey (PBKDF2,
 * 6.2). Only parses and checks names; the key itself is set up once the cipher is known. */
/* KeyDerivationMethod: PBKDF2, holding one PBKDF2-params (*params). */
static int pbkdf2_method(struct rd *r, const xmlNode *kdm, const xmlNode **params)
{
	static const struct slot kdm_slots[] = {
	    {IN_NS, NS_PKCS5, "PBKDF2-params", 0, 1},
	    {IN_NS, NS_XENC11, "PBKDF2-params", 0, 1},
	};
	const char *where = "EncryptionKey/DerivedKey";
	char uri[ALGORITHM_MAX], b[SHOW_MAX + 4];
	struct found k[2];
	int rc = attr_get(kdm, "Algorithm", uri, sizeof(uri), where, r->err);
	if (rc == -PP_ENOTFOUND)
		return pp_err_set(r->err, PP_EINVAL, "%s: KeyDerivationMethod has no Algorithm",
				  where);
	if (rc < 0)
		return rc;
	if (strcmp(uri, URI_PBKDF2) != 0 && strcmp(uri, URI_PBKDF2_XENC11) != 0)
		return pp_err_set(r->err, PP_EINVAL,
				  "%s: KeyDerivationMethod '%s' is not supported (PBKDF2 only)",
				  where, shown(uri, b));
	rc = scan(kdm, "KeyDerivationMethod", kdm_slots, 2, k, r->err);
	if (rc < 0)
		return rc;
	*params = k[0].first ? k[0].first : k[1].first;
	if (!*params || k[0].count + k[1].count != 1)
		return pp_err_set(r->err, PP_EINVAL,
				  "KeyDerivationMethod: exactly one PBKDF2-params is needed");
	return 0;
}

static int pbkdf2_salt(struct rd *r, const xmlNode *salt)
{
	static const struct slot salt_slots[] = {{IN_LOCAL, NULL, "Specified", 1, 1}};
	char text[B64_TEXT_MAX + 1];
	struct found s[1];
	int rc = scan(salt, "PBKDF2 Salt", salt_slots, 1, s, r->err);
	if (rc < 0)
		return rc;
	rc = el_text(s[0].first, text, sizeof(text), "PBKDF2 Salt/Specified", r->err);
	if (rc < 0)
		return rc;
	rc = b64_decode(text, r->salt, sizeof(r->salt), &r->salt_len);
	if (rc < 0 || r->salt_len < SALT_MIN)
		return pp_err_set(r->err, PP_EINVAL, "PBKDF2 Salt must be base64 of %d to %d bytes",
				  SALT_MIN, SALT_MAX);
	return 0;
}

/* IterationCount (required, within the caps) and KeyLength (optional). */
static int pbkdf2_counts(struct rd *r, const xmlNode *iter, const xmlNode *klen)
{
	char text[32];
	uint32_t v;
	int rc = el_text(iter, text, sizeof(text), "PBKDF2 IterationCount", r->err);
	if (rc < 0)
		return rc;
	rc = pp_parse_u32(trim(text), 1, UINT32_MAX, &v, "PBKDF2 IterationCount", r->err);
	if (rc < 0)
		return rc;
	if (v < PP_PSKC_ITER_MIN)
		return pp_err_set(r->err, PP_EINVAL, "PBKDF2 IterationCount %u is below %u", v,
				  PP_PSKC_ITER_MIN);
	if (v > PP_PSKC_ITER_MAX)
		return pp_err_set(r->err, PP_ETOOBIG, "PBKDF2 IterationCount %u is over the %u cap",
				  v, PP_PSKC_ITER_MAX);
	r->iterations = v;
	if (!klen)
		return 0;
	rc = el_text(klen, text, sizeof(text), "PBKDF2 KeyLength", r->err);
	if (rc < 0)
		return rc;
	return pp_parse_u32(trim(text), 1, 1024, &r->key_length, "PBKDF2 KeyLength", r->err);
}

static int pbkdf2_prf(struct rd *r, const xmlNode *prf)
{
	char uri[ALGORITHM_MAX], b[SHOW_MAX + 4];
	r->prf = EVP_sha1(); /* PKCS #5 default; RFC 6030 figure 7 writes <PRF/> */
	if (!prf)
		return 0;
	int rc = attr_get(prf, "Algorithm", uri, sizeof(uri), "PBKDF2 PRF", r->err);
	if (rc == 0 && strcmp(uri, URI_HMAC_SHA256) == 0)
		r->prf = EVP_sha256();
	else if (rc == 0 && strcmp(uri, URI_HMAC_SHA1) != 0)
		return pp_err_set(r->err, PP_EINVAL,
				  "PBKDF2 PRF '%s' is not supported (hmac-sha1, hmac-sha256)",
				  shown(uri, b));
	else if (rc < 0 && rc != -PP_ENOTFOUND)
		return rc;
	return scan(prf, "PBKDF2 PRF", NULL, 0, NULL, r->err);
}

/* MasterKeyName, checked when the caller named one. */
static int pbkdf2_master_name(struct rd *r, const xmlNode *name)
{
	char text[PP_PSKC_KEY_NAME_MAX + 1], b[SHOW_MAX + 4];
	if (!name || !r->prot->key_name)
		return 0;
	int rc = el_text(name, text, sizeof(text), "MasterKeyName", r->err);
	if (rc < 0)
		return rc;
	if (strcmp(text, r->prot->key_name) != 0)
		return pp_err_set(r->err, PP_EINVAL, "EncryptionKey: wrong passphrase name '%s'",
				  shown(text, b));
	return 0;
}

static int read_pbkdf2(struct rd *r, const xmlNode *dk)
{
	static const struct slot dk_slots[] = {
	    {IN_NS, NS_XENC11, "KeyDerivationMethod", 1, 1},
	    {IN_NS, NS_XENC, "ReferenceList", 0, 1},
	    {IN_NS, NS_XENC11, "DerivedKeyName", 0, 1},
	    {IN_NS, NS_XENC11, "MasterKeyName", 0, 1},
	};
	static const struct slot p_slots[] = {
	    {IN_LOCAL, NULL, "Salt", 1, 1},
	    {IN_LOCAL, NULL, "IterationCount", 1, 1},
	    {IN_LOCAL, NULL, "KeyLength", 0, 1},
	    {IN_LOCAL, NULL, "PRF", 0, 1},
	};
	struct found f[4], p[4];
	const xmlNode *params = NULL;
	int rc = scan(dk, "EncryptionKey/DerivedKey", dk_slots, 4, f, r->err);
	if (rc == 0)
		rc = pbkdf2_method(r, f[0].first, &params);
	if (rc == 0)
		rc = scan(params, "PBKDF2-params", p_slots, 4, p, r->err);
	if (rc == 0)
		rc = pbkdf2_salt(r, p[0].first);
	if (rc == 0)
		rc = pbkdf2_counts(r, p[1].first, p[2].first);
	if (rc == 0)
		rc = pbkdf2_prf(r, p[3].first);
	if (rc == 0)
		rc = pbkdf2_master_name(r, f[3].first);
	if (rc == 0)
		r->derived = true;
	return rc;
}

static int read_encryption_key(struct rd *r, const xmlNode *ek)
{
	static const struct slot slots[] = {
	    {IN_NS, NS_DS, "KeyName", 0, 1},
	    {IN_NS, NS_XENC11, "DerivedKey", 0, 1},
	};
	struct found f[2];
	char name[PP_PSKC_KEY_NAME_MAX + 1], b[SHOW_MAX + 4];
	int rc;

	rc = scan(ek, "EncryptionKey", slots, 2, f, r->err);
	if (rc < 0)
		return rc;
	if (f[0].count + f[1].count != 1)
		return pp_err_set(r->err, PP_EINVAL,
				  "EncryptionKey must hold one ds:KeyName (pre-shared key) or one "
				  "xenc11:DerivedKey (PBKDF2)");
	if (f[0].first) {
		rc = el_text(f[0].first, name, sizeof(name), "EncryptionKey/KeyName", r->err);
		if (rc < 0)
			return rc;
		if (r->prot->kind != PP_PSKC_TRANSPORT_KEY)
			return pp_err_set(r->err, PP_EINVAL,
					  "EncryptionKey names a pre-shared transport key ('%s'), "
					  "but a passphrase was given",
					  shown(name, b));
		if (r->prot->key_name && strcmp(name, r->prot->key_name) != 0)
			return pp_err_set(r->err, PP_EINVAL,
					  "EncryptionKey: wrong transport key name '%s'",
					  shown(name, b));
		return 0;
	}
	if (r->prot->kind != PP_PSKC_PASSPHRASE)
		return pp_err_set(r->err, PP_EINVAL,
				  "EncryptionKey is derived from a passphrase (PBKDF2), but a "
				  "transport key was given");
	return read_pbkdf2(r, f[1].first);
}

/* MACMethod (RFC 6030 6.1.1): the algorithm and the encrypted MAC key. */
static int read_mac_method(struct rd *r, const xmlNode *mm, uint8_t cv[CIPHER_MAX], size_t *cv_len)
{
	static const struct slot slots[] = {
	    {IN_NS, PP_PSKC_NS, "MACKey", 0, 1},
	    {IN_NS, PP_PSKC_NS, "MACKeyReference", 0, 1},
	};
	struct found f[2];
	char uri[ALGORITHM_MAX], b[SHOW_MAX + 4];
	int rc;

	rc = attr_get(mm, "Algorithm", uri, sizeof(uri), "MACMethod", r->err);
	if (rc == -PP_ENOTFOUND)
		return pp_err_set(r->err, PP_EINVAL, "MACMethod has no Algorithm");
	if (rc < 0)
		return rc;
	r->mac = mac_by_uri(uri);
	if (!r->mac)
		return pp_err_set(r->err, PP_EINVAL,
				  "MACMethod '%s' is not supported (hmac-sha1, hmac-sha256)",
				  shown(uri, b));
	rc = scan(mm, "MACMethod", slots, 2, f, r->err);
	if (rc < 0)
		return rc;
	if (f[1].count)
		return pp_err_set(r->err, PP_EINVAL,
				  "MACMethod: MACKeyReference (a MAC key agreed elsewhere) is not "
				  "supported; the MAC key must travel in MACKey");
	if (!f[0].count)
		return pp_err_set(r->err, PP_EINVAL, "MACMethod: MACKey is missing");
	return read_encrypted(r, f[0].first, "MACMethod/MACKey", cv, cv_len);
}

/* Sets up the encryption key (transport key, or PBKDF2) and decrypts the MAC key. A MAC
 * key that does not decrypt is replaced by a random one, so the failure shows as the
 * first ValueMAC not matching, whatever the padding said (no padding oracle). */
static int setup_keys(struct rd *r, const uint8_t *mk_cv, size_t mk_cv_len)
{
	const struct pp_pskc_protection *p = r->prot;
	size_t n = 0;
	int rc;

	if (!r->derived) {
		if (p->key_len != r->aes_len)
			return pp_err_set(r->err, PP_EINVAL,
					  "EncryptionMethod %s needs a %zu-byte transport key; the "
					  "given key has %zu bytes",
					  aes_name(r->aes_len), r->aes_len, p->key_len);
		memcpy(r->key, p->key, r->aes_len);
	} else {
		if (r->key_length && r->key_length != r->aes_len)
			return pp_err_set(r->err, PP_EINVAL,
					  "PBKDF2 KeyLength %u does not match the cipher %s (%zu)",
					  r->key_length, aes_name(r->aes_len), r->aes_len);
		if (PKCS5_PBKDF2_HMAC(p->passphrase, (int)strlen(p->passphrase), r->salt,
				      (int)r->salt_len, (int)r->iterations, r->prf, (int)r->aes_len,
				      r->key) != 1)
			return pp_err_set(r->err, PP_ECRYPTO, "PBKDF2 failed");
	}
	rc = cbc_decrypt(r->key, r->aes_len, mk_cv, mk_cv_len, r->mac_key, sizeof(r->mac_key), &n);
	if (rc < 0 || n < MAC_KEY_MIN) {
		pp_wipe(r->mac_key, sizeof(r->mac_key));
		if (pp_random(r->mac_key, MAC_KEY_MIN) < 0)
			return pp_err_set(r->err, PP_ECRYPTO, "no random bytes");
		n = MAC_KEY_MIN;
	}
	r->mac_key_len = n;
	return 0;
}

static int pids_add(struct rd *r, const struct pp_pid *pid, size_t index)
{
	if (r->n_pids == r->cap_pids) {
		size_t cap = r->cap_pids ? r->cap_pids * 2 : 256, bytes;
		if (!pp_mul_ok(cap, sizeof(*r->pids), &bytes))
			return -PP_ENOMEM;
		struct pid_at *p = realloc(r->pids, bytes);
		if (!p)
			return -PP_ENOMEM;
		r->pids = p;
		r->cap_pids = cap;
	}
	r->pids[r->n_pids].pid = pid_pack(pid->s);
	r->pids[r->n_pids].index = index;
	r->n_pids++;
	return 0;
}

static int pid_at_cmp(const void *a, const void *b)
{
	const struct pid_at *x = a, *y = b;
	if (x->pid != y->pid)
		return x->pid < y->pid ? -1 : 1;
	return x->index < y->index ? -1 : x->index > y->index;
}

static int check_duplicates(struct rd *r)
{
	if (r->n_pids < 2)
		return 0;
	qsort(r->pids, r->n_pids, sizeof(*r->pids), pid_at_cmp);
	for (size_t i = 1; i < r->n_pids; i++) {
		if (r->pids[i].pid == r->pids[i - 1].pid) {
			struct pp_pid pid;
			char text[PP_PID_TEXT];
			pid_unpack(r->pids[i].pid, &pid);
			pp_pid_format(&pid, text);
			return pp_err_set(r->err, PP_EEXIST,
					  "KeyPackage %zu (PID %s): duplicate PID (also KeyPackage "
					  "%zu)",
					  r->pids[i].index, text, r->pids[i - 1].index);
		}
	}
	return 0;
}

/* The pskprov elements of Key/Extensions. */
struct ext {
	const xmlNode *batch;
	const xmlNode *mebx;
};

static int read_key_extensions(struct rd *r, const xmlNode *key, const char *where, struct ext *x)
{
	static const struct slot slots[] = {{IN_OTHER, NULL, NULL, 0, 0}};
	struct found f[1];
	char b[SHOW_MAX + 4], w[WHERE_MAX];
	int rc;

	/* A long location is cut: the message stays one line. */
	if (snprintf(w, sizeof(w), "%s: Extensions", where) < 0)
		w[0] = '\0';
	for (const xmlNode *e = key->children; e; e = e->next) {
		if (!is_el(e, PP_PSKC_NS, "Extensions"))
			continue;
		rc = scan(e, w, slots, 1, f, r->err);
		if (rc < 0)
			return rc;
		for (const xmlNode *c = e->children; c; c = c->next) {
			if (c->type != XML_ELEMENT_NODE || strcmp(ns_of(c), PP_PSKC_EXT_NS) != 0)
				continue;
			const xmlNode **slot = NULL;
			if (strcmp((const char *)c->name, "Batch") == 0)
				slot = &x->batch;
			else if (strcmp((const char *)c->name, "MEBxPassword") == 0)
				slot = &x->mebx;
			else
				return pp_err_set(r->err, PP_EINVAL,
						  "%s: unknown pskprov element <%s>", w,
						  shown((const char *)c->name, b));
			if (*slot)
				return pp_err_set(r->err, PP_EINVAL, "%s: more than one pskprov:%s",
						  w, (const char *)c->name);
			*slot = c;
		}
	}
	return 0;
}

/* The secrets of one KeyPackage while it is being read. */
struct pkg {
	char id[ID_MAX];
	char algorithm[ALGORITHM_MAX];
	char batch[PP_BATCH_NAME_MAX + 1];
	uint8_t secret_cv[CIPHER_MAX];
	size_t secret_cv_len;
	uint8_t secret[PP_PSKC_VALUE_MAX];
	size_t secret_len;
	uint8_t mebx_cv[CIPHER_MAX];
	size_t mebx_cv_len;
	uint8_t mebx[PP_PSKC_VALUE_MAX];
	size_t mebx_len;
	struct pp_key_record key;
};

/* Profile checks of a decrypted KeyPackage into p->key. */
static int check_profile(struct rd *r, struct pkg *p, const char *where, bool has_batch,
			 bool has_mebx)
{
	pp_cleanup(pp_pps_wipe) struct pp_pps raw; /* the Secret as it came */
	char b[SHOW_MAX + 4];
	int rc;

	if (strcmp(p->algorithm, PP_PSKC_ALGORITHM) != 0)
		return pp_err_set(r->err, PP_EINVAL, "%s: Key Algorithm '%s' is not %s", where,
				  shown(p->algorithm, b), PP_PSKC_ALGORITHM);
	if (!has_batch)
		return pp_err_set(r->err, PP_EINVAL, "%s: pskprov:Batch is missing", where);
	if (!has_mebx)
		return pp_err_set(r->err, PP_EINVAL, "%s: pskprov:MEBxPassword is missing", where);
	if (p->secret_len != PP_PPS_LEN || memchr(p->secret, 0, p->secret_len))
		return pp_err_set(r->err, PP_EINVAL,
				  "%s: Secret has %zu bytes; a PPS has %d symbols", where,
				  p->secret_len, PP_PPS_LEN);
	memcpy(raw.s, p->secret, PP_PPS_LEN);
	raw.s[PP_PPS_LEN] = '\0';
	rc = pp_pps_parse(raw.s, &p->key.pps, r->err);
	if (rc == 0 && !pp_ct_eq(raw.s, p->key.pps.s, PP_PPS_LEN))
		rc = pp_err_set(r->err, PP_EINVAL,
				"not canonical (32 upper-case symbols without dashes)");
	if (rc < 0)
		return pp_err_prefix(r->err, "%s: Secret", where);
	if (p->mebx_len > PP_MEBX_PW_MAX || memchr(p->mebx, 0, p->mebx_len))
		return pp_err_set(r->err, PP_EINVAL,
				  "%s: MEBx password is longer than %d characters", where,
				  PP_MEBX_PW_MAX);
	memcpy(p->key.mebx, p->mebx, p->mebx_len);
	p->key.mebx[p->mebx_len] = '\0';
	rc = pp_mebx_password_check(p->key.mebx, r->err);
	if (rc < 0)
		return pp_err_prefix(r->err, "%s", where);
	memcpy(p->key.batch, p->batch, sizeof(p->key.batch));
	return 0;
}

/* Key Id and Algorithm; in the pskprov profile the Id is a canonical PID, which then
 * names the KeyPackage in messages (where, WHERE_MAX bytes). */
static int pkg_identity(struct rd *r, const xmlNode *key, struct pkg *p, size_t index, char *where)
{
	char b[SHOW_MAX + 4];
	int rc = attr_get(key, "Id", p->id, sizeof(p->id), where, r->err);
	if (rc == -PP_ENOTFOUND || (rc == 0 && !p->id[0]))
		rc = pp_err_set(r->err, PP_EINVAL, "%s: Key has no Id", where);
	if (rc < 0)
		return rc;
	rc = attr_get(key, "Algorithm", p->algorithm, sizeof(p->algorithm), where, r->err);
	if (rc < 0 && rc != -PP_ENOTFOUND)
		return rc;
	if (!r->profile) {
		snprintf(where, WHERE_MAX, "KeyPackage %zu (Key Id '%s')", index, shown(p->id, b));
		return 0;
	}
	struct pp_err e2;
	rc = pp_pid_parse(p->id, &p->key.pid, &e2);
	if (rc < 0 || strcmp(p->id, p->key.pid.s) != 0)
		return pp_err_set(r->err, rc == -PP_ECHECKSUM ? PP_ECHECKSUM : PP_EINVAL,
				  "%s: Key Id '%s' is not a canonical PID (%s)", where,
				  shown(p->id, b),
				  rc < 0 ? e2.msg : "8 upper-case symbols, no dashes");
	char text[PP_PID_TEXT];
	pp_pid_format(&p->key.pid, text);
	snprintf(where, WHERE_MAX, "KeyPackage %zu (PID %s)", index, text);
	return 0;
}

/* The Key's children in schema order (no Policy), its Data (*secret: Data/Secret) and
 * its pskprov extensions. */
static int pkg_structure(struct rd *r, const xmlNode *key, const char *where,
			 const xmlNode **secret, struct ext *x)
{
	static const struct slot key_slots[] = {
	    {IN_NS, PP_PSKC_NS, "Issuer", 0, 1},
	    {IN_NS, PP_PSKC_NS, "AlgorithmParameters", 0, 1},
	    {IN_NS, PP_PSKC_NS, "KeyProfileId", 0, 1},
	    {IN_NS, PP_PSKC_NS, "KeyReference", 0, 1},
	    {IN_NS, PP_PSKC_NS, "FriendlyName", 0, 1},
	    {IN_NS, PP_PSKC_NS, "Data", 1, 1},
	    {IN_NS, PP_PSKC_NS, "UserId", 0, 1},
	    {IN_NS, PP_PSKC_NS, "Policy", 0, 1},
	    {IN_NS, PP_PSKC_NS, "Extensions", 0, 0},
	};
	static const struct slot data_slots[] = {
	    {IN_NS, PP_PSKC_NS, "Secret", 1, 1},    {IN_NS, PP_PSKC_NS, "Counter", 0, 1},
	    {IN_NS, PP_PSKC_NS, "Time", 0, 1},      {IN_NS, PP_PSKC_NS, "TimeInterval", 0, 1},
	    {IN_NS, PP_PSKC_NS, "TimeDrift", 0, 1}, {IN_OTHER, NULL, NULL, 0, 0},
	};
	struct found k[9], d[6];
	char w[WHERE_MAX + 32];
	snprintf(w, sizeof(w), "%s: Key", where);
	int rc = scan(key, w, key_slots, 9, k, r->err);
	if (rc < 0)
		return rc;
	if (k[7].count)
		return pp_err_set(r->err, PP_EINVAL,
				  "%s: Key Policy is not supported (pskprov could not enforce it)",
				  where);
	snprintf(w, sizeof(w), "%s: Data", where);
	rc = scan(k[5].first, w, data_slots, 6, d, r->err);
	if (rc < 0)
		return rc;
	*secret = d[0].first;
	return read_key_extensions(r, key, where, x);
}

/* Secret, Batch and MEBx password (each MAC checked, then decrypted), and the
 * KeyPackage's part of the ContainerMAC. */
static int pkg_values(struct rd *r, struct pkg *p, const char *where, const xmlNode *secret,
		      const struct ext *x)
{
	char w[WHERE_MAX + 32];
	snprintf(w, sizeof(w), "%s: Secret", where);
	int rc =
	    read_value(r, secret, w, p->secret_cv, &p->secret_cv_len, p->secret, &p->secret_len);
	if (rc < 0)
		return rc;
	if (x->batch) {
		snprintf(w, sizeof(w), "%s: pskprov:Batch", where);
		rc = el_text(x->batch, p->batch, sizeof(p->batch), w, r->err);
		if (rc == 0)
			rc = pp_batch_name_check(p->batch, r->err);
		if (rc < 0)
			return pp_err_prefix(r->err, "%s", where);
	}
	if (x->mebx) {
		snprintf(w, sizeof(w), "%s: pskprov:MEBxPassword", where);
		rc = read_value(r, x->mebx, w, p->mebx_cv, &p->mebx_cv_len, p->mebx, &p->mebx_len);
		if (rc < 0)
			return rc;
	}
	if (r->cmac && cmac_entry(r->cmac, p->id, p->algorithm, p->batch, p->secret_cv,
				  p->secret_cv_len, p->mebx_cv, p->mebx_cv_len) < 0)
		return pp_err_set(r->err, PP_ECRYPTO, "cannot compute the ContainerMAC");
	return 0;
}

/* The profile's checks (first pass: and the PID remembered), or the callback (second
 * pass). */
static int pkg_finish(struct rd *r, struct pkg *p, const char *where, size_t index, bool deliver,
		      const struct ext *x)
{
	if (r->profile) {
		int rc = check_profile(r, p, where, x->batch != NULL, x->mebx != NULL);
		if (rc < 0)
			return rc;
		if (!deliver && pids_add(r, &p->key.pid, index) < 0)
			return pp_err_set(r->err, PP_ENOMEM, "out of memory");
	}
	if (!deliver)
		return 0;
	if (r->profile)
		return r->key_cb(r->ctx, &p->key);
	struct pp_pskc_secret s = {
	    .index = index,
	    .id = p->id,
	    .algorithm = p->algorithm,
	    .value = p->secret,
	    .len = p->secret_len,
	};
	return r->secret_cb(r->ctx, &s);
}

static void pkg_freep(struct pkg **p)
{
	if (*p)
		pp_wipe(*p, sizeof(**p));
	free(*p);
}

/* One KeyPackage. The first pass checks everything and feeds the ContainerMAC; the
 * second repeats the same reading and hands the result to the callback. */
static int read_package(struct rd *r, const xmlNode *kp, size_t index, bool deliver)
{
	static const struct slot kp_slots[] = {
	    {IN_NS, PP_PSKC_NS, "DeviceInfo", 0, 1},
	    {IN_NS, PP_PSKC_NS, "CryptoModuleInfo", 0, 1},
	    {IN_NS, PP_PSKC_NS, "Key", 1, 1},
	    {IN_NS, PP_PSKC_NS, "Extensions", 0, 0},
	};
	struct found f[4];
	struct ext x = {0};
	const xmlNode *secret = NULL;
	char where[WHERE_MAX];
	pp_cleanup(pkg_freep) struct pkg *p = calloc(1, sizeof(*p));
	if (!p)
		return pp_err_set(r->err, PP_ENOMEM, "out of memory");
	snprintf(where, sizeof(where), "KeyPackage %zu", index);
	int rc = scan(kp, where, kp_slots, 4, f, r->err);
	if (rc == 0)
		rc = pkg_identity(r, f[2].first, p, index, where);
	if (rc == 0)
		rc = pkg_structure(r, f[2].first, where, &secret, &x);
	if (rc == 0)
		rc = pkg_values(r, p, where, secret, &x);
	if (rc == 0)
		rc = pkg_finish(r, p, where, index, deliver, &x);
	return rc;
}

/* KeyContainer/Extensions: the ContainerMAC, when present. */
static int read_container_mac(struct rd *r, const xmlNode *root, size_t count)
{
	static const struct slot slots[] = {{IN_OTHER, NULL, NULL, 0, 0}};
	struct found f[1];
	const xmlNode *cm = NULL;
	char text[B64_TEXT_MAX + 1], b[SHOW_MAX + 4];
	uint8_t mac[MAC_MAX], want[MAC_MAX];
	size_t mac_len = 0;
	int rc;

	for (const xmlNode *e = root->children; e; e = e->next) {
		if (!is_el(e, PP_PSKC_NS, "Extensions"))
			continue;
		rc = scan(e, "KeyContainer/Extensions", slots, 1, f, r->err);
		if (rc < 0)
			return rc;
		for (const xmlNode *c = e->children; c; c = c->next) {
			if (c->type != XML_ELEMENT_NODE || strcmp(ns_of(c), PP_PSKC_EXT_NS) != 0)
				continue;
			if (strcmp((const char *)c->name, "ContainerMAC") != 0)
				return pp_err_set(
				    r->err, PP_EINVAL,
				    "KeyContainer/Extensions: unknown pskprov element "
				    "<%s>",
				    shown((const char *)c->name, b));
			if (cm)
				return pp_err_set(
				    r->err, PP_EINVAL,
				    "KeyContainer: more than one pskprov:ContainerMAC");
			cm = c;
		}
	}
	if (!cm) {
		if (r->profile)
			return pp_err_set(r->err, PP_EINVAL,
					  "KeyContainer: pskprov:ContainerMAC is missing (not a "
					  "pskprov file, or stripped)");
		return 0;
	}
	rc = el_text(cm, text, sizeof(text), "pskprov:ContainerMAC", r->err);
	if (rc < 0)
		return rc;
	if (b64_decode(text, mac, sizeof(mac), &mac_len) < 0 || mac_len != r->mac->len)
		return pp_err_set(r->err, PP_EINVAL,
				  "pskprov:ContainerMAC is not base64 of a %zu-byte %s",
				  r->mac->len, r->mac->name);
	if (cmac_final(r->cmac, count, r->mac, want) < 0)
		return pp_err_set(r->err, PP_ECRYPTO, "cannot compute the ContainerMAC");
	if (!pp_ct_eq(mac, want, mac_len))
		return pp_err_set(r->err, PP_ECRYPTO,
				  "pskprov:ContainerMAC does not match (KeyPackages removed, "
				  "added, reordered or altered)");
	return 0;
}

static int check_protection(const struct pp_pskc_protection *p, struct pp_err *err)
{
	if (!p)
		return pp_err_set(err, PP_EINVAL, "no protection given");
	if (p->kind == PP_PSKC_TRANSPORT_KEY) {
		if (!p->key || (p->key_len != 16 && p->key_len != 32))
			return pp_err_set(err, PP_EINVAL, "a transport key has 16 or 32 bytes");
	} else if (p->kind == PP_PSKC_PASSPHRASE) {
		if (!p->passphrase || !p->passphrase[0])
			return pp_err_set(err, PP_EINVAL, "empty passphrase");
		if (strlen(p->passphrase) > PP_PSKC_PASSPHRASE_MAX)
			return pp_err_set(err, PP_ETOOBIG, "passphrase is longer than %u bytes",
					  PP_PSKC_PASSPHRASE_MAX);
	} else {
		return pp_err_set(err, PP_EINVAL, "unknown protection kind %d", (int)p->kind);
	}
	if (p->key_name && strlen(p->key_name) > PP_PSKC_KEY_NAME_MAX)
		return pp_err_set(err, PP_EINVAL, "key name is longer than %u characters",
				  PP_PSKC_KEY_NAME_MAX);
	return 0;
}

/* The root: a KeyContainer of Version 1.0. */
static int doc_root(struct rd *r, xmlDoc *doc, const xmlNode **out)
{
	char version[16], b[SHOW_MAX + 4];
	const xmlNode *root = xmlDocGetRootElement(doc);
	if (!is_el(root, PP_PSKC_NS, "KeyContainer"))
		return pp_err_set(
		    r->err, PP_EINVAL, "not a PSKC document (root element <%s> in '%s')",
		    root ? shown((const char *)root->name, b) : "", root ? ns_of(root) : "");
	int rc = attr_get(root, "Version", version, sizeof(version), "KeyContainer", r->err);
	if (rc == 0 && strcmp(version, "1.0") != 0)
		rc = pp_err_set(r->err, PP_EVERSION, "KeyContainer Version '%s' is not 1.0",
				shown(version, b));
	else if (rc == -PP_ENOTFOUND)
		rc = pp_err_set(r->err, PP_EINVAL, "KeyContainer has no Version");
	*out = root;
	return rc;
}

static void cv_wipe(uint8_t (*cv)[CIPHER_MAX])
{
	pp_wipe(*cv, sizeof(*cv));
}

/* EncryptionKey and MACMethod: the keys, and the ContainerMAC started. */
static int doc_keys(struct rd *r, const xmlNode *enc, const xmlNode *mac)
{
	pp_cleanup(cv_wipe) uint8_t mk_cv[CIPHER_MAX];
	size_t mk_cv_len = 0;
	int rc = read_encryption_key(r, enc);
	if (rc == 0)
		rc = read_mac_method(r, mac, mk_cv, &mk_cv_len);
	if (rc == 0)
		rc = setup_keys(r, mk_cv, mk_cv_len);
	if (rc < 0)
		return rc;
	r->cmac = cmac_new(r->mac, r->mac_key, r->mac_key_len);
	if (!r->cmac)
		return pp_err_set(r->err, PP_ECRYPTO, "cannot set up HMAC");
	return 0;
}

/* Every KeyPackage in document order; *count gets how many. A non-zero return (a
 * callback's included) stops the walk. */
static int doc_packages(struct rd *r, const xmlNode *root, bool deliver, size_t *count)
{
	size_t index = 0;
	for (const xmlNode *c = root->children; c; c = c->next) {
		if (!is_el(c, PP_PSKC_NS, "KeyPackage"))
			continue;
		int rc = read_package(r, c, ++index, deliver);
		if (rc != 0)
			return rc;
	}
	*count = index;
	return 0;
}

static int doc_read(struct rd *r, xmlDoc *doc)
{
	static const struct slot root_slots[] = {
	    {IN_NS, PP_PSKC_NS, "EncryptionKey", 1, 1}, {IN_NS, PP_PSKC_NS, "MACMethod", 1, 1},
	    {IN_NS, PP_PSKC_NS, "KeyPackage", 1, 0},    {IN_NS, NS_DS, "Signature", 0, 1},
	    {IN_NS, PP_PSKC_NS, "Extensions", 0, 0},
	};
	struct found f[5];
	const xmlNode *root = NULL;
	size_t count = 0;
	int rc = doc_root(r, doc, &root);
	if (rc == 0)
		rc = scan(root, "KeyContainer", root_slots, 5, f, r->err);
	if (rc < 0)
		return rc;
	if (f[2].count > PP_PSKC_KEYS_MAX)
		return pp_err_set(r->err, PP_ETOOBIG, "%zu KeyPackages is over the %u cap",
				  f[2].count, PP_PSKC_KEYS_MAX);
	rc = doc_keys(r, f[0].first, f[1].first);
	if (rc == 0)
		rc = doc_packages(r, root, false, &count);
	if (rc == 0)
		rc = read_container_mac(r, root, count);
	if (rc == 0)
		rc = check_duplicates(r);
	if (rc < 0)
		return rc;
	EVP_MAC_CTX_free(r->cmac);
	r->cmac = NULL;
	/* Everything checked: deliver. */
	return doc_packages(r, root, true, &count);
}

static int read_doc(struct rd *r, const void *xml, size_t len)
{
	xmlDoc *doc = NULL;
	int rc = check_protection(r->prot, r->err);
	if (rc == 0)
		rc = parse_xml(xml, len, &doc, r->err);
	if (rc == 0)
		rc = doc_read(r, doc);
	EVP_MAC_CTX_free(r->cmac);
	r->cmac = NULL;
	free(r->pids);
	r->pids = NULL;
	pp_wipe(r->key, sizeof(r->key));
	pp_wipe(r->mac_key, sizeof(r->mac_key));
	pp_xml_free_wipe(doc);
	return rc;
}

int pp_pskc_read(const void *xml, size_t len, const struct pp_pskc_protection *prot,
		 pp_pskc_key_fn cb, void *ctx, struct pp_err *err)
{
	struct rd r = {.prot = prot, .profile = true, .key_cb = cb, .ctx = ctx, .err = err};
	if (!cb)
		return pp_err_set(err, PP_EINVAL, "no callback");
	return read_doc(&r, xml, len);
}

int pp_pskc_read_secrets(const void *xml, size_t len, const struct pp_pskc_protection *prot,
			 pp_pskc_secret_fn cb, void *ctx, struct pp_err *err)
{
	struct rd r = {.prot = prot, .profile = false, .secret_cb = cb, .ctx = ctx, .err = err};
	if (!cb)
		return pp_err_set(err, PP_EINVAL, "no callback");
	return read_doc(&r, xml, len);
}

/* ---- writer ---- */

struct pp_pskc_writer {
	xmlDoc *doc;
	xmlNode *root;
	xmlNs *ns_pskc;
	xmlNs *ns_xenc;
	xmlNs *ns_ext;
	size_t aes_len;
	uint8_t key[32];
	const struct mac_alg *mac;
	uint8_t mac_key[PP_PSKC_MAC_KEY_LEN];
	EVP_MAC_CTX *cmac;
	uint64_t *set; /* PIDs added: open addressing, 0 is empty */
	size_t set_cap;
	size_t n;
	bool sealed; /* ContainerMAC written: finish may be repeated, add may not */
	bool broken;
};

static size_t set_slot(uint64_t v, size_t cap)
{
	/* splitmix64 finaliser; the writer's input is the caller's own keys. */
	v ^= v >> 30;
	v *= 0xbf58476d1ce4e5b9ull;
	v ^= v >> 27;
	v *= 0x94d049bb133111ebull;
	v ^= v >> 31;
	return (size_t)(v & (cap - 1));
}

static bool set_has(const struct pp_pskc_writer *w, uint64_t v)
{
	if (!w->set_cap)
		return false;
	for (size_t i = set_slot(v, w->set_cap);; i = (i + 1) & (w->set_cap - 1)) {
		if (w->set[i] == v)
			return true;
		if (w->set[i] == 0)
			return false;
	}
}

static int set_add(struct pp_pskc_writer *w, uint64_t v)
{
	if ((w->n + 1) * 2 > w->set_cap) {
		size_t cap = w->set_cap ? w->set_cap * 2 : 1024;
		uint64_t *s = calloc(cap, sizeof(*s));
		if (!s)
			return -PP_ENOMEM;
		for (size_t i = 0; i < w->set_cap; i++) {
			if (!w->set[i])
				continue;
			size_t j = set_slot(w->set[i], cap);
			while (s[j])
				j = (j + 1) & (cap - 1);
			s[j] = w->set[i];
		}
		free(w->set);
		w->set = s;
		w->set_cap = cap;
	}
	size_t j = set_slot(v, w->set_cap);
	while (w->set[j])
		j = (j + 1) & (w->set_cap - 1);
	w->set[j] = v;
	return 0;
}

static bool key_name_ok(const char *s)
{
	size_t n = strlen(s);
	if (n == 0 || n > PP_PSKC_KEY_NAME_MAX)
		return false;
	for (size_t i = 0; i < n; i++) {
		if (s[i] < 0x21 || s[i] > 0x7e)
			return false;
	}
	return true;
}

/* A child element (in ns, or in no namespace when ns is NULL: xmlNewChild would make it
 * inherit the parent's) with optional text, escaped on output. */
static xmlNode *add_el(xmlNode *parent, xmlNs *ns, const char *name, const char *text)
{
	if (!parent)
		return NULL;
	xmlNode *n = xmlNewDocNode(parent->doc, ns, (const xmlChar *)name, NULL);
	if (!n)
		return NULL;
	if (text) {
		xmlNode *t = xmlNewDocText(parent->doc, (const xmlChar *)text);
		if (!t || !xmlAddChild(n, t)) {
			xmlFreeNode(t);
			xmlFreeNode(n);
			return NULL;
		}
	}
	if (!xmlAddChild(parent, n)) {
		xmlFreeNode(n);
		return NULL;
	}
	return n;
}

static bool add_attr(xmlNode *el, const char *name, const char *value)
{
	return el && xmlNewProp(el, (const xmlChar *)name, (const xmlChar *)value);
}

/* EncryptionMethod and CipherData/CipherValue under el. */
static bool add_cipher(const struct pp_pskc_writer *w, xmlNode *el, const uint8_t *cv,
		       size_t cv_len)
{
	char text[4 * ((CIPHER_MAX + 2) / 3) + 1];
	b64_encode(cv, cv_len, text);
	xmlNode *em = add_el(el, w->ns_xenc, "EncryptionMethod", NULL);
	xmlNode *cd = add_el(el, w->ns_xenc, "CipherData", NULL);
	return add_attr(em, "Algorithm", aes_uri(w->aes_len)) &&
	       add_el(cd, w->ns_xenc, "CipherValue", text);
}

/* Encrypts plain and appends EncryptedValue and ValueMAC to parent; cv gets the
 * CipherValue bytes for the ContainerMAC. */
static int add_value(const struct pp_pskc_writer *w, xmlNode *parent, const void *plain, size_t len,
		     uint8_t cv[CIPHER_MAX], size_t *cv_len)
{
	uint8_t mac[MAC_MAX];
	char text[4 * ((MAC_MAX + 2) / 3) + 1];
	int rc = cbc_encrypt(w->key, w->aes_len, plain, len, cv, cv_len);
	if (rc < 0)
		return rc;
	rc = hmac(w->mac, w->mac_key, sizeof(w->mac_key), cv, *cv_len, mac);
	if (rc < 0)
		return rc;
	b64_encode(mac, w->mac->len, text);
	xmlNode *ev = add_el(parent, w->ns_pskc, "EncryptedValue", NULL);
	if (!add_cipher(w, ev, cv, *cv_len) || !add_el(parent, w->ns_pskc, "ValueMAC", text))
		return -PP_ENOMEM;
	return 0;
}

static int writer_encryption_key(struct pp_pskc_writer *w, const struct pp_pskc_protection *p,
				 struct pp_err *err)
{
	xmlNode *ek = add_el(w->root, w->ns_pskc, "EncryptionKey", NULL);
	if (!ek)
		return pp_err_set(err, PP_ENOMEM, "out of memory");
	if (p->kind == PP_PSKC_TRANSPORT_KEY) {
		xmlNs *ds = xmlNewNs(w->root, (const xmlChar *)NS_DS, (const xmlChar *)"ds");
		if (!ds || !add_el(ek, ds, "KeyName", p->key_name))
			return pp_err_set(err, PP_ENOMEM, "out of memory");
		memcpy(w->key, p->key, p->key_len);
		return 0;
	}

	uint8_t salt[WRITE_SALT_LEN];
	char salt_text[4 * ((WRITE_SALT_LEN + 2) / 3) + 1], num[16];
	uint32_t iter = p->iterations ? p->iterations : PP_PSKC_ITER_DEFAULT;
	if (pp_random(salt, sizeof(salt)) < 0)
		return pp_err_set(err, PP_ECRYPTO, "no random bytes");
	if (PKCS5_PBKDF2_HMAC(p->passphrase, (int)strlen(p->passphrase), salt, (int)sizeof(salt),
			      (int)iter, EVP_sha256(), (int)w->aes_len, w->key) != 1)
		return pp_err_set(err, PP_ECRYPTO, "PBKDF2 failed");
	b64_encode(salt, sizeof(salt), salt_text);

	/* RFC 6030 figure 7: pkcs5:PBKDF2-params with unqualified children. */
	xmlNs *x11 = xmlNewNs(w->root, (const xmlChar *)NS_XENC11, (const xmlChar *)"xenc11");
	xmlNs *pk5 = xmlNewNs(w->root, (const xmlChar *)NS_PKCS5, (const xmlChar *)"pkcs5");
	xmlNode *dk = x11 && pk5 ? add_el(ek, x11, "DerivedKey", NULL) : NULL;
	xmlNode *kdm = add_el(dk, x11, "KeyDerivationMethod", NULL);
	xmlNode *prm = add_el(kdm, pk5, "PBKDF2-params", NULL);
	xmlNode *salt_el = add_el(prm, NULL, "Salt", NULL);
	bool ok =
	    add_attr(kdm, "Algorithm", URI_PBKDF2) && add_el(salt_el, NULL, "Specified", salt_text);
	snprintf(num, sizeof(num), "%u", iter);
	ok = ok && add_el(prm, NULL, "IterationCount", num);
	snprintf(num, sizeof(num), "%zu", w->aes_len);
	ok = ok && add_el(prm, NULL, "KeyLength", num);
	ok = ok && add_attr(add_el(prm, NULL, "PRF", NULL), "Algorithm", URI_HMAC_SHA256);
	if (ok && p->key_name)
		ok = add_el(dk, x11, "MasterKeyName", p->key_name) != NULL;
	if (!ok)
		return pp_err_set(err, PP_ENOMEM, "out of memory");
	return 0;
}

static int writer_check(const struct pp_pskc_protection *prot, struct pp_err *err)
{
	int rc = check_protection(prot, err);
	if (rc < 0)
		return rc;
	if (prot->kind == PP_PSKC_TRANSPORT_KEY && !prot->key_name)
		return pp_err_set(err, PP_EINVAL, "a transport key needs a name (ds:KeyName)");
	if (prot->key_name && !key_name_ok(prot->key_name))
		return pp_err_set(err, PP_EINVAL,
				  "key name must be 1 to %u printable ASCII characters without "
				  "spaces",
				  PP_PSKC_KEY_NAME_MAX);
	if (prot->kind == PP_PSKC_PASSPHRASE) {
		uint32_t iter = prot->iterations ? prot->iterations : PP_PSKC_ITER_DEFAULT;
		if (strlen(prot->passphrase) < PP_PSKC_PASSPHRASE_MIN)
			return pp_err_set(err, PP_EINVAL, "passphrase is shorter than %u bytes",
					  PP_PSKC_PASSPHRASE_MIN);
		if (iter < PP_PSKC_ITER_WRITE_MIN || iter > PP_PSKC_ITER_MAX)
			return pp_err_set(err, PP_EINVAL,
					  "PBKDF2 iterations %u are out of range %u..%u", iter,
					  PP_PSKC_ITER_WRITE_MIN, PP_PSKC_ITER_MAX);
		if (prot->key_len != 0 && prot->key_len != 16 && prot->key_len != 32)
			return pp_err_set(err, PP_EINVAL,
					  "a derived key has 16 or 32 bytes (0 for 32)");
	}
	if (prot->mac != PP_PSKC_MAC_DEFAULT && prot->mac != PP_PSKC_MAC_HMAC_SHA256 &&
	    prot->mac != PP_PSKC_MAC_HMAC_SHA1)
		return pp_err_set(err, PP_EINVAL, "unknown MAC %d", (int)prot->mac);
	return 0;
}

/* The document and its root, KeyContainer Version 1.0 with the namespaces. */
static int writer_doc(struct pp_pskc_writer *w, struct pp_err *err)
{
	w->doc = xmlNewDoc((const xmlChar *)"1.0");
	w->root =
	    w->doc ? xmlNewDocNode(w->doc, NULL, (const xmlChar *)"KeyContainer", NULL) : NULL;
	if (!w->root)
		return pp_err_set(err, PP_ENOMEM, "out of memory");
	xmlDocSetRootElement(w->doc, w->root);
	w->ns_pskc = xmlNewNs(w->root, (const xmlChar *)PP_PSKC_NS, (const xmlChar *)"pskc");
	w->ns_xenc = xmlNewNs(w->root, (const xmlChar *)NS_XENC, (const xmlChar *)"xenc");
	w->ns_ext = xmlNewNs(w->root, (const xmlChar *)PP_PSKC_EXT_NS, (const xmlChar *)"pskprov");
	if (!w->ns_pskc || !w->ns_xenc || !w->ns_ext || !add_attr(w->root, "Version", "1.0"))
		return pp_err_set(err, PP_ENOMEM, "out of memory");
	xmlSetNs(w->root, w->ns_pskc);
	return 0;
}

/* RFC 6030 6.1.1: a random MAC key, encrypted under the same key; and the
 * ContainerMAC started with it. */
static int writer_mac_method(struct pp_pskc_writer *w, struct pp_err *err)
{
	pp_cleanup(cv_wipe) uint8_t cv[CIPHER_MAX];
	size_t cv_len = 0;
	if (pp_random(w->mac_key, sizeof(w->mac_key)) < 0)
		return pp_err_set(err, PP_ECRYPTO, "no random bytes");
	xmlNode *mm = add_el(w->root, w->ns_pskc, "MACMethod", NULL);
	xmlNode *mk = add_el(mm, w->ns_pskc, "MACKey", NULL);
	if (cbc_encrypt(w->key, w->aes_len, w->mac_key, sizeof(w->mac_key), cv, &cv_len) < 0)
		return pp_err_set(err, PP_ECRYPTO, "cannot encrypt the MAC key");
	if (!add_attr(mm, "Algorithm", w->mac->uri) || !add_cipher(w, mk, cv, cv_len))
		return pp_err_set(err, PP_ENOMEM, "out of memory");
	w->cmac = cmac_new(w->mac, w->mac_key, sizeof(w->mac_key));
	if (!w->cmac)
		return pp_err_set(err, PP_ECRYPTO, "cannot set up HMAC");
	return 0;
}

int pp_pskc_writer_new(const struct pp_pskc_protection *prot, struct pp_pskc_writer **out,
		       struct pp_err *err)
{
	*out = NULL;
	int rc = writer_check(prot, err);
	if (rc < 0)
		return rc;
	struct pp_pskc_writer *w = calloc(1, sizeof(*w));
	if (!w)
		return pp_err_set(err, PP_ENOMEM, "out of memory");
	w->aes_len = prot->key_len ? prot->key_len : 32;
	w->mac = prot->mac == PP_PSKC_MAC_HMAC_SHA1 ? &mac_sha1 : &mac_sha256;
	rc = writer_doc(w, err);
	if (rc == 0)
		rc = writer_encryption_key(w, prot, err);
	if (rc == 0)
		rc = writer_mac_method(w, err);
	if (rc < 0) {
		pp_pskc_writer_free(w);
		return rc;
	}
	*out = w;
	return 0;
}

static bool terminated(const char *s, size_t cap)
{
	return memchr(s, '\0', cap) != NULL;
}

static int check_key(const struct pp_key_record *k, struct pp_err *err)
{
	struct pp_pid pid;
	pp_cleanup(pp_pps_wipe) struct pp_pps pps;
	int rc;

	if (!terminated(k->pid.s, sizeof(k->pid.s)) || !terminated(k->pps.s, sizeof(k->pps.s)) ||
	    !terminated(k->mebx, sizeof(k->mebx)) || !terminated(k->batch, sizeof(k->batch)))
		return pp_err_set(err, PP_EINVAL, "a field is not NUL-terminated");
	if (!pp_pid_valid(&k->pid)) {
		rc = pp_pid_parse(k->pid.s, &pid, err);
		return rc < 0 ? rc : pp_err_set(err, PP_EINVAL, "PID is not canonical");
	}
	if (!pp_pps_valid(&k->pps)) {
		rc = pp_pps_parse(k->pps.s, &pps, err);
		return rc < 0 ? rc : pp_err_set(err, PP_EINVAL, "PPS is not canonical");
	}
	rc = pp_mebx_password_check(k->mebx, err);
	if (rc < 0)
		return rc;
	return pp_batch_name_check(k->batch, err);
}

/* The KeyPackage of one key, built detached (*kp); the CipherValues it holds, for the
 * ContainerMAC. text: the PID as shown in messages. */
static int writer_package(struct pp_pskc_writer *w, const struct pp_key_record *key,
			  const char *text, xmlNode **kp, uint8_t *scv, size_t *scv_len,
			  uint8_t *mcv, size_t *mcv_len, struct pp_err *err)
{
	*kp = xmlNewDocNode(w->doc, w->ns_pskc, (const xmlChar *)"KeyPackage", NULL);
	xmlNode *k = add_el(*kp, w->ns_pskc, "Key", NULL);
	xmlNode *data = add_el(k, w->ns_pskc, "Data", NULL);
	xmlNode *secret = add_el(data, w->ns_pskc, "Secret", NULL);
	if (!secret || !add_attr(k, "Id", key->pid.s) ||
	    !add_attr(k, "Algorithm", PP_PSKC_ALGORITHM))
		return pp_err_set(err, PP_ENOMEM, "out of memory");
	int rc = add_value(w, secret, key->pps.s, PP_PPS_LEN, scv, scv_len);
	if (rc < 0)
		return pp_err_set(err, -rc, "PID %s: cannot encrypt the PPS", text);
	xmlNode *ext = add_el(k, w->ns_pskc, "Extensions", NULL);
	bool ok = add_attr(ext, "definition", PP_PSKC_EXT_NS) &&
		  add_el(ext, w->ns_ext, "Batch", key->batch);
	xmlNode *mebx = ok ? add_el(ext, w->ns_ext, "MEBxPassword", NULL) : NULL;
	if (!mebx)
		return pp_err_set(err, PP_ENOMEM, "out of memory");
	rc = add_value(w, mebx, key->mebx, strlen(key->mebx), mcv, mcv_len);
	if (rc < 0)
		return pp_err_set(err, -rc, "PID %s: cannot encrypt the MEBx password", text);
	return 0;
}

static int writer_admit(struct pp_pskc_writer *w, const struct pp_key_record *key, const char *text,
			struct pp_err *err)
{
	if (w->broken || w->sealed)
		return pp_err_set(err, PP_ESTATE, "the PSKC writer is %s",
				  w->broken ? "unusable after an earlier failure" : "finished");
	if (set_has(w, pid_pack(key->pid.s)))
		return pp_err_set(err, PP_EEXIST, "key %zu: PID %s was already added", w->n + 1,
				  text);
	if (w->n >= PP_PSKC_KEYS_MAX)
		return pp_err_set(err, PP_ETOOBIG, "more than %u keys in one PSKC document",
				  PP_PSKC_KEYS_MAX);
	return 0;
}

int pp_pskc_writer_add(struct pp_pskc_writer *w, const struct pp_key_record *key,
		       struct pp_err *err)
{
	uint8_t scv[CIPHER_MAX], mcv[CIPHER_MAX];
	size_t scv_len = 0, mcv_len = 0;
	char text[PP_PID_TEXT];
	xmlNode *kp = NULL;

	if (!w || !key)
		return pp_err_set(err, PP_EINVAL, "no writer or no key");
	if (w->broken || w->sealed)
		return writer_admit(w, key, "", err);
	int rc = check_key(key, err);
	if (rc < 0)
		return pp_err_prefix(err, "key %zu", w->n + 1);
	pp_pid_format(&key->pid, text);
	rc = writer_admit(w, key, text, err);
	if (rc < 0)
		return rc;
	/* Built detached, attached only once complete: a failure leaves the tree as it was. */
	rc = writer_package(w, key, text, &kp, scv, &scv_len, mcv, &mcv_len, err);
	if (rc == 0 && set_add(w, pid_pack(key->pid.s)) < 0)
		rc = pp_err_set(err, PP_ENOMEM, "out of memory");
	if (rc == 0 && cmac_entry(w->cmac, key->pid.s, PP_PSKC_ALGORITHM, key->batch, scv, scv_len,
				  mcv, mcv_len) < 0) {
		w->broken = true;
		rc = pp_err_set(err, PP_ECRYPTO, "cannot compute the ContainerMAC");
	}
	if (rc < 0) {
		xmlFreeNode(kp);
		return rc;
	}
	xmlAddChild(w->root, kp);
	w->n++;
	return 0;
}

int pp_pskc_writer_finish(struct pp_pskc_writer *w, struct pp_buf *out, struct pp_err *err)
{
	xmlChar *mem = NULL;
	int size = 0, rc;

	if (!w || !out)
		return pp_err_set(err, PP_EINVAL, "no writer or no output");
	if (w->broken)
		return pp_err_set(err, PP_ESTATE,
				  "the PSKC writer is unusable after an earlier failure");
	if (w->n == 0)
		return pp_err_set(err, PP_EINVAL, "no keys to write");
	if (!w->sealed) {
		uint8_t mac[MAC_MAX];
		char text[4 * ((MAC_MAX + 2) / 3) + 1];
		if (cmac_final(w->cmac, w->n, w->mac, mac) < 0) {
			w->broken = true;
			return pp_err_set(err, PP_ECRYPTO, "cannot compute the ContainerMAC");
		}
		b64_encode(mac, w->mac->len, text);
		xmlNode *ext = add_el(w->root, w->ns_pskc, "Extensions", NULL);
		if (!add_attr(ext, "definition", PP_PSKC_EXT_NS) ||
		    !add_el(ext, w->ns_ext, "ContainerMAC", text)) {
			w->broken = true;
			return pp_err_set(err, PP_ENOMEM, "out of memory");
		}
		w->sealed = true;
	}
	xmlDocDumpFormatMemoryEnc(w->doc, &mem, &size, "UTF-8", 1);
	if (!mem || size <= 0) {
		rc = pp_err_set(err, PP_ENOMEM, "cannot serialise the PSKC document");
		goto out;
	}
	if ((size_t)size > PP_PSKC_DOC_MAX) {
		rc = pp_err_set(err, PP_ETOOBIG,
				"PSKC document of %d bytes is over the %u-byte cap; split the keys",
				size, PP_PSKC_DOC_MAX);
		goto out;
	}
	rc = pp_buf_append(out, mem, (size_t)size);
	if (rc < 0)
		rc = pp_err_set(err, PP_ETOOBIG,
				"PSKC document of %d bytes does not fit the output", size);
out:
	xmlFree(mem);
	return rc;
}

void pp_pskc_writer_free(struct pp_pskc_writer *w)
{
	if (!w)
		return;
	pp_xml_free_wipe(w->doc);
	EVP_MAC_CTX_free(w->cmac);
	free(w->set);
	pp_wipe(w, sizeof(*w));
	free(w);
}

/* ---- transport key file ---- */

#define KEY_FILE_MAX 66 /* 64 hex digits and a newline, plus one to see a longer file */

static void key_wipe(uint8_t (*key)[32])
{
	pp_wipe(*key, sizeof(*key));
}

static void key_text_wipe(char (*text)[66])
{
	pp_wipe(*text, sizeof(*text));
}

int pp_pskc_transport_key_load(const char *path, uint8_t key[32], size_t *key_len,
			       struct pp_err *err)
{
	pp_cleanup(key_text_wipe) char hex[66];
	int rc = pp_file_check_private(path, err);
	if (rc < 0)
		return rc;
	pp_cleanup(pp_buf_free_wipe) struct pp_buf b;
	pp_buf_init(&b, KEY_FILE_MAX);
	rc = pp_file_read(path, KEY_FILE_MAX, &b, err);
	if (rc < 0)
		return rc;
	size_t n = b.len;
	if (n && b.data[n - 1] == '\n')
		n--;
	if (n != 32 && n != 64)
		return pp_err_set(
		    err, PP_EINVAL,
		    "'%s': a transport key file holds 32 or 64 hex digits and a newline", path);
	memcpy(hex, b.data, n);
	hex[n] = '\0';
	if (pp_unhex(hex, key, n / 2) < 0) {
		pp_wipe(key, 32);
		return pp_err_set(err, PP_EINVAL, "'%s': the transport key is not hex", path);
	}
	*key_len = n / 2;
	return 0;
}

int pp_pskc_transport_key_create(const char *path, size_t key_len, struct pp_err *err)
{
	pp_cleanup(key_wipe) uint8_t key[32] = {0};
	pp_cleanup(key_text_wipe) char text[66];

	if (key_len != 16 && key_len != 32)
		return pp_err_set(err, PP_EINVAL, "a transport key has 16 or 32 bytes");
	if (pp_random(key, key_len) < 0)
		return pp_err_set(err, PP_ECRYPTO, "no random bytes");
	pp_hex(key, key_len, text);
	text[2 * key_len] = '\n';
	return pp_file_create(path, text, 2 * key_len + 1, 0600, err);
}
