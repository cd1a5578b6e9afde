/* PSKC (RFC 6030) reader and writer, docs/protocol.md section 7: round trips with transport
 * keys and passphrases, RFC 6030's own figure 6 and figure 7 decrypted, tampering and
 * truncation refused with no callback, documents with valid MACs but bad contents (built
 * here with OpenSSL, independently of the writer), XXE and entity expansion, caps, and
 * the transport key file.
 *
 * With PP_PSKC_SEED_DIR set, test_write_fuzz_seeds writes the fuzz seed corpus
 * (tests/fuzz/corpus/fuzz_keys_pskc) with the keys fuzz_keys_pskc.c uses. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include <libxml/parser.h>
#include <libxml/xpath.h>
#include <libxml/xpathInternals.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "core/bytes.h"
#include "core/secret.h"
#include "keys/keys.h"
#include "keys/pskc.h"

#define DOC_CAP (4u << 20)

static const uint8_t key16[16] = {0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07,
				  0x08, 0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x0e, 0x0f};
static const uint8_t key32[32] = {0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x09, 0x0a,
				  0x0b, 0x0c, 0x0d, 0x0e, 0x0f, 0x10, 0x11, 0x12, 0x13, 0x14, 0x15,
				  0x16, 0x17, 0x18, 0x19, 0x1a, 0x1b, 0x1c, 0x1d, 0x1e, 0x1f};
/* RFC 6030 figure 6's pre-shared key, 12345678901234567890123456789012 (hex). */
static const uint8_t rfc_key[16] = {0x12, 0x34, 0x56, 0x78, 0x90, 0x12, 0x34, 0x56,
				    0x78, 0x90, 0x12, 0x34, 0x56, 0x78, 0x90, 0x12};

static const char passphrase[] = "correct horse battery staple";

/* ---- helpers ---- */

static struct pp_pskc_protection transport(const uint8_t *key, size_t len, const char *name)
{
	struct pp_pskc_protection p = {
	    .kind = PP_PSKC_TRANSPORT_KEY, .key = key, .key_len = len, .key_name = name};
	return p;
}

static struct pp_pskc_protection with_passphrase(const char *pw, uint32_t iterations)
{
	struct pp_pskc_protection p = {
	    .kind = PP_PSKC_PASSPHRASE, .passphrase = pw, .iterations = iterations};
	return p;
}

/* A deterministic, valid key: PID "PK" + base-36 i, a PPS from i, a MEBx password. */
static void make_key(struct pp_key_record *k, unsigned i)
{
	static const char alpha[] = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ";
	char pid_sym[PP_PID_FREE], pps_sym[PP_PPS_FREE];
	unsigned v = i;
	memset(k, 0, sizeof(*k));
	pid_sym[0] = 'P';
	pid_sym[1] = 'K';
	for (int j = PP_PID_FREE - 1; j >= 2; j--) {
		pid_sym[j] = alpha[v % 36];
		v /= 36;
	}
	for (unsigned j = 0; j < PP_PPS_FREE; j++)
		pps_sym[j] = alpha[(i * 31 + j * 17 + j * j + 5) % 36];
	pp_pid_from_symbols(pid_sym, &k->pid);
	pp_pps_from_symbols(pps_sym, &k->pps);
	snprintf(k->mebx, sizeof(k->mebx), "Mebx-Pw%04u!", i % 10000);
	snprintf(k->batch, sizeof(k->batch), "line-%u", i % 3);
}

static void intel_key(struct pp_key_record *k)
{
	memset(k, 0, sizeof(*k));
	assert_int_equal(pp_pid_parse("0000-037M", &k->pid, NULL), 0);
	assert_int_equal(pp_pps_parse("NKLD-G5DC-RRNQ-E9YZ-ZIJL-7LFL-VJED-69XJ", &k->pps, NULL), 0);
	snprintf(k->mebx, sizeof(k->mebx), "%s", "Intel@123");
	snprintf(k->batch, sizeof(k->batch), "%s", "intel-example");
}

/* Writes n keys (make_key 0..n-1, or the Intel example as key 0 when intel) into out. */
static void write_doc(const struct pp_pskc_protection *prot, size_t n, bool intel,
		      struct pp_buf *out)
{
	struct pp_pskc_writer *w = NULL;
	struct pp_err err = {0};
	pp_buf_init(out, DOC_CAP);
	assert_int_equal(pp_pskc_writer_new(prot, &w, &err), 0);
	for (size_t i = 0; i < n; i++) {
		struct pp_key_record k;
		if (intel && i == 0)
			intel_key(&k);
		else
			make_key(&k, (unsigned)i);
		int rc = pp_pskc_writer_add(w, &k, &err);
		if (rc != 0)
			fail_msg("add %zu: %s", i, err.msg);
	}
	assert_int_equal(pp_pskc_writer_finish(w, out, &err), 0);
	pp_pskc_writer_free(w);
	assert_int_equal(pp_buf_cstr(out), 0);
}

struct sink {
	size_t n;
	struct pp_key_record keys[8];
	size_t stop_at;
	int stop_rc;
};

static int sink_cb(void *ctx, const struct pp_key_record *k)
{
	struct sink *s = ctx;
	if (s->n < 8)
		s->keys[s->n] = *k;
	s->n++;
	if (s->stop_at && s->n == s->stop_at)
		return s->stop_rc;
	return 0;
}

static void same_key(const struct pp_key_record *a, const struct pp_key_record *b)
{
	assert_string_equal(a->pid.s, b->pid.s);
	assert_true(pp_ct_eq(a->pps.s, b->pps.s, sizeof(a->pps.s)));
	assert_string_equal(a->mebx, b->mebx);
	assert_string_equal(a->batch, b->batch);
}

/* Reads doc and expects failure: rc (when non-zero), a message containing `part`, and
 * no callback at all. */
static void expect_fail(const char *doc, size_t len, const struct pp_pskc_protection *prot, int rc,
			const char *part)
{
	struct sink s = {0};
	struct pp_err err = {0};
	int got = pp_pskc_read(doc, len, prot, sink_cb, &s, &err);
	if (got >= 0)
		fail_msg("accepted (expected '%s')", part);
	if (rc)
		assert_int_equal(got, rc);
	assert_int_equal(s.n, 0);
	if (part && !strstr(err.msg, part))
		fail_msg("message '%s' lacks '%s'", err.msg, part);
}

static void expect_ok(const char *doc, size_t len, const struct pp_pskc_protection *prot,
		      struct sink *s)
{
	struct pp_err err = {0};
	memset(s, 0, sizeof(*s));
	int rc = pp_pskc_read(doc, len, prot, sink_cb, s, &err);
	if (rc != 0)
		fail_msg("read failed: %s", err.msg);
}

/* A copy of s with the first `old` replaced by `new` (test-side editing only). */
static char *replace(const char *s, const char *old, const char *new_)
{
	const char *at = strstr(s, old);
	if (!at)
		fail_msg("'%s' not found", old);
	size_t pre = (size_t)(at - s), ol = strlen(old), nl = strlen(new_), rest = strlen(at + ol);
	char *out = malloc(pre + nl + rest + 1);
	assert_non_null(out);
	memcpy(out, s, pre);
	memcpy(out + pre, new_, nl);
	memcpy(out + pre + nl, at + ol, rest + 1);
	return out;
}

static size_t b64_enc(const uint8_t *in, size_t n, char *out)
{
	return (size_t)EVP_EncodeBlock((unsigned char *)out, in, (int)n);
}

static size_t b64_dec(const char *in, size_t n, uint8_t *out)
{
	char clean[2048];
	size_t m = 0, pad = 0;
	for (size_t i = 0; i < n; i++) {
		if (in[i] != ' ' && in[i] != '\n' && in[i] != '\t' && in[i] != '\r')
			clean[m++] = in[i];
	}
	while (m > pad && clean[m - 1 - pad] == '=')
		pad++;
	int r = EVP_DecodeBlock(out, (unsigned char *)clean, (int)m);
	assert_true(r >= 0);
	return (size_t)r - pad;
}

/* ---- an independent PSKC builder (OpenSSL only), for valid MACs over bad contents ---- */

#define RAW_NO_CMAC 0x01
#define RAW_NO_MEBX 0x02
#define RAW_NO_BATCH 0x04
#define RAW_CMAC_COUNT_OFF 0x08 /* ContainerMAC over one KeyPackage more */
#define RAW_PLAIN_SECRET 0x10

struct raw_key {
	const char *id;
	const char *algorithm;
	const char *secret; /* ASCII */
	const char *mebx;
	const char *batch;
	const char *key_extra; /* inserted after </pskc:Data> */
};

static const uint8_t raw_mac_key[32] = {
    0xa0, 0xa1, 0xa2, 0xa3, 0xa4, 0xa5, 0xa6, 0xa7, 0xa8, 0xa9, 0xaa, 0xab, 0xac, 0xad, 0xae, 0xaf,
    0xb0, 0xb1, 0xb2, 0xb3, 0xb4, 0xb5, 0xb6, 0xb7, 0xb8, 0xb9, 0xba, 0xbb, 0xbc, 0xbd, 0xbe, 0xbf};

static size_t raw_encrypt(const uint8_t *key, size_t key_len, const void *pt, size_t len,
			  uint8_t iv_seed, uint8_t *out)
{
	EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();
	int n = 0, f = 0;
	for (int i = 0; i < 16; i++)
		out[i] = (uint8_t)(iv_seed + i * 7);
	assert_int_equal(EVP_EncryptInit_ex(c,
					    key_len == 16 ? EVP_aes_128_cbc() : EVP_aes_256_cbc(),
					    NULL, key, out),
			 1);
	assert_int_equal(EVP_EncryptUpdate(c, out + 16, &n, pt, (int)len), 1);
	assert_int_equal(EVP_EncryptFinal_ex(c, out + 16 + n, &f), 1);
	EVP_CIPHER_CTX_free(c);
	return 16 + (size_t)n + (size_t)f;
}

static void raw_lp(struct pp_buf *m, const void *p, size_t n)
{
	uint8_t l[4] = {(uint8_t)(n >> 24), (uint8_t)(n >> 16), (uint8_t)(n >> 8), (uint8_t)n};
	assert_int_equal(pp_buf_append(m, l, 4), 0);
	assert_int_equal(pp_buf_append(m, p, n), 0);
}

/* Appends EncryptedValue + ValueMAC for pt; cv gets the CipherValue bytes. */
static size_t raw_value(struct pp_buf *b, const uint8_t *key, size_t key_len, const char *pt,
			uint8_t seed, uint8_t *cv)
{
	char t64[512], m64[64];
	uint8_t mac[32];
	unsigned ml = 0;
	size_t n = raw_encrypt(key, key_len, pt, strlen(pt), seed, cv);
	HMAC(EVP_sha256(), raw_mac_key, sizeof(raw_mac_key), cv, n, mac, &ml);
	b64_enc(cv, n, t64);
	b64_enc(mac, ml, m64);
	assert_int_equal(
	    pp_buf_printf(
		b,
		"<pskc:EncryptedValue><xenc:EncryptionMethod Algorithm=\"%s\"/>"
		"<xenc:CipherData><xenc:CipherValue>%s</xenc:CipherValue></xenc:CipherData>"
		"</pskc:EncryptedValue><pskc:ValueMAC>%s</pskc:ValueMAC>",
		key_len == 16 ? "http://www.w3.org/2001/04/xmlenc#aes128-cbc"
			      : "http://www.w3.org/2001/04/xmlenc#aes256-cbc",
		t64, m64),
	    0);
	return n;
}

/* The container's head: EncryptionKey and MACMethod with the MAC key encrypted. */
static void raw_head(struct pp_buf *b, const uint8_t *key, size_t key_len)
{
	uint8_t cv[256];
	char t64[512];
	const char *aes = key_len == 16 ? "http://www.w3.org/2001/04/xmlenc#aes128-cbc"
					: "http://www.w3.org/2001/04/xmlenc#aes256-cbc";
	size_t cl = raw_encrypt(key, key_len, raw_mac_key, sizeof(raw_mac_key), 0x40, cv);
	b64_enc(cv, cl, t64);
	assert_int_equal(
	    pp_buf_printf(b,
			  "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
			  "<pskc:KeyContainer xmlns:pskc=\"urn:ietf:params:xml:ns:keyprov:pskc\" "
			  "xmlns:ds=\"http://www.w3.org/2000/09/xmldsig#\" "
			  "xmlns:xenc=\"http://www.w3.org/2001/04/xmlenc#\" "
			  "xmlns:pskprov=\"urn:pskprov:pskc:1\" Version=\"1.0\">\n"
			  "<pskc:EncryptionKey><ds:KeyName>raw</ds:KeyName></pskc:EncryptionKey>\n"
			  "<pskc:MACMethod "
			  "Algorithm=\"http://www.w3.org/2001/04/xmldsig-more#hmac-sha256\">"
			  "<pskc:MACKey><xenc:EncryptionMethod Algorithm=\"%s\"/><xenc:CipherData>"
			  "<xenc:CipherValue>%s</xenc:CipherValue></xenc:CipherData></pskc:MACKey>"
			  "</pskc:MACMethod>\n",
			  aes, t64),
	    0);
}

/* KeyPackage i into b, and its part of the ContainerMAC input into m. */
static void raw_package(struct pp_buf *b, struct pp_buf *m, const uint8_t *key, size_t key_len,
			const struct raw_key *k, size_t i, unsigned flags)
{
	uint8_t scv[256], mcv[256];
	char t64[512];
	size_t sl = 0, mlen = 0;
	assert_int_equal(pp_buf_printf(b,
				       "<pskc:KeyPackage><pskc:Key Id=\"%s\" "
				       "Algorithm=\"%s\"><pskc:Data><pskc:Secret>",
				       k->id, k->algorithm),
			 0);
	if (flags & RAW_PLAIN_SECRET) {
		b64_enc((const uint8_t *)k->secret, strlen(k->secret), t64);
		assert_int_equal(pp_buf_printf(b, "<pskc:PlainValue>%s</pskc:PlainValue>", t64), 0);
	} else {
		sl = raw_value(b, key, key_len, k->secret, (uint8_t)(0x10 + i), scv);
	}
	assert_int_equal(pp_buf_printf(b, "</pskc:Secret></pskc:Data>%s<pskc:Extensions>",
				       k->key_extra ? k->key_extra : ""),
			 0);
	if (!(flags & RAW_NO_BATCH))
		assert_int_equal(pp_buf_printf(b, "<pskprov:Batch>%s</pskprov:Batch>", k->batch),
				 0);
	if (!(flags & RAW_NO_MEBX)) {
		assert_int_equal(pp_buf_append_str(b, "<pskprov:MEBxPassword>"), 0);
		mlen = raw_value(b, key, key_len, k->mebx, (uint8_t)(0x80 + i), mcv);
		assert_int_equal(pp_buf_append_str(b, "</pskprov:MEBxPassword>"), 0);
	}
	assert_int_equal(pp_buf_append_str(b, "</pskc:Extensions></pskc:Key></pskc:KeyPackage>\n"),
			 0);
	raw_lp(m, k->id, strlen(k->id));
	raw_lp(m, k->algorithm, strlen(k->algorithm));
	raw_lp(m, (flags & RAW_NO_BATCH) ? "" : k->batch,
	       (flags & RAW_NO_BATCH) ? 0 : strlen(k->batch));
	raw_lp(m, scv, sl);
	raw_lp(m, mcv, mlen);
}

static char *raw_doc(const uint8_t *key, size_t key_len, const struct raw_key *keys, size_t n,
		     unsigned flags)
{
	struct pp_buf b, m;
	uint8_t mac[32];
	char t64[512];
	unsigned ml = 0;
	pp_buf_init(&b, DOC_CAP);
	pp_buf_init(&m, DOC_CAP);
	assert_int_equal(pp_buf_append_str(&m, "pskprov pskc container v1"), 0);
	raw_head(&b, key, key_len);
	for (size_t i = 0; i < n; i++)
		raw_package(&b, &m, key, key_len, &keys[i], i, flags);
	size_t count = n + ((flags & RAW_CMAC_COUNT_OFF) ? 1 : 0);
	uint8_t c4[4] = {(uint8_t)(count >> 24), (uint8_t)(count >> 16), (uint8_t)(count >> 8),
			 (uint8_t)count};
	assert_int_equal(pp_buf_append(&m, c4, 4), 0);
	HMAC(EVP_sha256(), raw_mac_key, sizeof(raw_mac_key), m.data, m.len, mac, &ml);
	b64_enc(mac, ml, t64);
	if (!(flags & RAW_NO_CMAC))
		assert_int_equal(pp_buf_printf(&b,
					       "<pskc:Extensions><pskprov:ContainerMAC>%s"
					       "</pskprov:ContainerMAC></pskc:Extensions>\n",
					       t64),
				 0);
	assert_int_equal(pp_buf_append_str(&b, "</pskc:KeyContainer>\n"), 0);
	assert_int_equal(pp_buf_cstr(&b), 0);
	pp_buf_free(&m);
	return (char *)b.data; /* caller frees */
}

static const char good_pps[] = "NKLDG5DCRRNQE9YZZIJL7LFLVJED69XJ";

static struct raw_key raw_good(const char *id)
{
	struct raw_key k = {id, PP_PSKC_ALGORITHM, good_pps, "Intel@123", "raw-batch", NULL};
	return k;
}

/* ---- round trips ---- */

static void roundtrip(const struct pp_pskc_protection *prot, size_t n)
{
	struct pp_buf doc;
	struct sink s;
	write_doc(prot, n, true, &doc);
	expect_ok((const char *)doc.data, doc.len, prot, &s);
	assert_int_equal(s.n, n);
	for (size_t i = 0; i < n; i++) {
		struct pp_key_record k;
		if (i == 0)
			intel_key(&k);
		else
			make_key(&k, (unsigned)i);
		same_key(&s.keys[i], &k);
	}
	/* No secret in clear anywhere in the document. */
	assert_null(strstr((const char *)doc.data, good_pps));
	assert_null(strstr((const char *)doc.data, "Intel@123"));
	pp_wipe(&s, sizeof(s));
	pp_buf_free(&doc);
}

static void test_roundtrip_aes128(void **state)
{
	(void)state;
	struct pp_pskc_protection p = transport(key16, 16, "acme-2025");
	roundtrip(&p, 5);
}

static void test_roundtrip_aes256(void **state)
{
	(void)state;
	struct pp_pskc_protection p = transport(key32, 32, "acme-2025");
	roundtrip(&p, 5);
	p.key_name = NULL; /* the reader may leave the name unchecked */
	struct pp_buf doc;
	struct sink s;
	struct pp_pskc_protection wp = transport(key32, 32, "x");
	write_doc(&wp, 1, false, &doc);
	expect_ok((const char *)doc.data, doc.len, &p, &s);
	assert_int_equal(s.n, 1);
	pp_buf_free(&doc);
}

static void test_roundtrip_hmac_sha1(void **state)
{
	(void)state;
	struct pp_pskc_protection p = transport(key16, 16, "old-partner");
	p.mac = PP_PSKC_MAC_HMAC_SHA1;
	roundtrip(&p, 3);
	struct pp_buf doc;
	write_doc(&p, 1, false, &doc);
	assert_non_null(
	    strstr((const char *)doc.data, "http://www.w3.org/2000/09/xmldsig#hmac-sha1"));
	pp_buf_free(&doc);
}

static void test_roundtrip_passphrase(void **state)
{
	(void)state;
	struct pp_pskc_protection p = with_passphrase(passphrase, PP_PSKC_ITER_WRITE_MIN);
	roundtrip(&p, 3);
	/* AES-128 and a MasterKeyName. */
	p.key_len = 16;
	p.key_name = "factory-pass-1";
	roundtrip(&p, 2);
	struct pp_buf doc;
	write_doc(&p, 1, false, &doc);
	const char *d = (const char *)doc.data;
	assert_non_null(strstr(d, "<IterationCount>100000</IterationCount>"));
	assert_non_null(strstr(d, "<KeyLength>16</KeyLength>"));
	assert_non_null(
	    strstr(d, "<PRF Algorithm=\"http://www.w3.org/2001/04/xmldsig-more#hmac-sha256\"/>"));
	assert_non_null(strstr(d, "<xenc11:MasterKeyName>factory-pass-1</xenc11:MasterKeyName>"));
	assert_non_null(strstr(d, "aes128-cbc"));
	/* A wrong MasterKeyName is named. */
	struct pp_pskc_protection q = p;
	q.key_name = "factory-pass-2";
	expect_fail(d, doc.len, &q, -PP_EINVAL, "wrong passphrase name 'factory-pass-1'");
	pp_buf_free(&doc);
}

/* The written layout, checked with XPath (pskc.h). */
static void test_layout(void **state)
{
	(void)state;
	struct pp_pskc_protection p = transport(key32, 32, "acme-2025");
	struct pp_buf doc;
	write_doc(&p, 2, true, &doc);
	xmlDoc *x =
	    xmlReadMemory((const char *)doc.data, (int)doc.len, NULL, NULL, XML_PARSE_NONET);
	assert_non_null(x);
	xmlXPathContext *c = xmlXPathNewContext(x);
	xmlXPathRegisterNs(c, (const xmlChar *)"p", (const xmlChar *)PP_PSKC_NS);
	xmlXPathRegisterNs(c, (const xmlChar *)"ds",
			   (const xmlChar *)"http://www.w3.org/2000/09/xmldsig#");
	xmlXPathRegisterNs(c, (const xmlChar *)"x",
			   (const xmlChar *)"http://www.w3.org/2001/04/xmlenc#");
	xmlXPathRegisterNs(c, (const xmlChar *)"e", (const xmlChar *)PP_PSKC_EXT_NS);
	static const struct {
		const char *xpath;
		const char *want;
	} checks[] = {
	    {"string(/p:KeyContainer/@Version)", "1.0"},
	    {"string(/p:KeyContainer/p:EncryptionKey/ds:KeyName)", "acme-2025"},
	    {"string(/p:KeyContainer/p:MACMethod/@Algorithm)",
	     "http://www.w3.org/2001/04/xmldsig-more#hmac-sha256"},
	    {"string(/p:KeyContainer/p:MACMethod/p:MACKey/x:EncryptionMethod/@Algorithm)",
	     "http://www.w3.org/2001/04/xmlenc#aes256-cbc"},
	    {"string(count(/p:KeyContainer/p:KeyPackage))", "2"},
	    {"string(/p:KeyContainer/p:KeyPackage[1]/p:Key/@Id)", "0000037M"},
	    {"string(/p:KeyContainer/p:KeyPackage[1]/p:Key/@Algorithm)", "urn:pskprov:amt-pps"},
	    {"string(count(/p:KeyContainer/p:KeyPackage/p:Key/p:Data/p:Secret/p:EncryptedValue/"
	     "x:CipherData/x:CipherValue))",
	     "2"},
	    {"string(count(/p:KeyContainer/p:KeyPackage/p:Key/p:Data/p:Secret/p:ValueMAC))", "2"},
	    {"string(/p:KeyContainer/p:KeyPackage[1]/p:Key/p:Extensions/e:Batch)", "intel-example"},
	    {"string(/p:KeyContainer/p:KeyPackage[1]/p:Key/p:Extensions/@definition)",
	     "urn:pskprov:pskc:1"},
	    {"string(count(/p:KeyContainer/p:KeyPackage/p:Key/p:Extensions/e:MEBxPassword/"
	     "p:EncryptedValue/x:CipherData/x:CipherValue))",
	     "2"},
	    {"string(count(/p:KeyContainer/p:KeyPackage/p:Key/p:Extensions/e:MEBxPassword/"
	     "p:ValueMAC))",
	     "2"},
	    {"string(count(/p:KeyContainer/p:Extensions/e:ContainerMAC))", "1"},
	    {"string(count(/p:KeyContainer/p:Extensions/following-sibling::*))", "0"},
	};
	for (size_t i = 0; i < sizeof(checks) / sizeof(checks[0]); i++) {
		xmlXPathObject *o = xmlXPathEvalExpression((const xmlChar *)checks[i].xpath, c);
		assert_non_null(o);
		if (strcmp((const char *)o->stringval, checks[i].want) != 0)
			fail_msg("%s = '%s', want '%s'", checks[i].xpath, o->stringval,
				 checks[i].want);
		xmlXPathFreeObject(o);
	}
	xmlXPathFreeContext(c);
	xmlFreeDoc(x);
	pp_buf_free(&doc);
}

/* ---- RFC 6030's own examples ---- */

/* RFC 6030 figure 6 (section 6.1): AES-128-CBC under the pre-shared key
 * 12345678901234567890123456789012, HMAC-SHA1 with the MAC key
 * 1122334455667788990011223344556677889900 carried encrypted in MACKey; the HOTP
 * secret is "12345678901234567890". Values as printed in the RFC; the layout here is
 * ours (the default namespace, as in the RFC). */
static const char rfc6030_fig6[] =
    "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
    "<KeyContainer Version=\"1.0\" xmlns=\"urn:ietf:params:xml:ns:keyprov:pskc\"\n"
    "    xmlns:ds=\"http://www.w3.org/2000/09/xmldsig#\"\n"
    "    xmlns:xenc=\"http://www.w3.org/2001/04/xmlenc#\">\n"
    "  <EncryptionKey><ds:KeyName>Pre-shared-key</ds:KeyName></EncryptionKey>\n"
    "  <MACMethod Algorithm=\"http://www.w3.org/2000/09/xmldsig#hmac-sha1\">\n"
    "    <MACKey>\n"
    "      <xenc:EncryptionMethod Algorithm=\"http://www.w3.org/2001/04/xmlenc#aes128-cbc\"/>\n"
    "      <xenc:CipherData><xenc:CipherValue>\n"
    "  ESIzRFVmd4iZABEiM0RVZgKn6WjLaTC1sbeBMSvIhRejN9vJa2BOlSaMrR7I5wSX\n"
    "      </xenc:CipherValue></xenc:CipherData>\n"
    "    </MACKey>\n"
    "  </MACMethod>\n"
    "  <KeyPackage>\n"
    "    <DeviceInfo><Manufacturer>Manufacturer</Manufacturer>"
    "<SerialNo>987654321</SerialNo></DeviceInfo>\n"
    "    <CryptoModuleInfo><Id>CM_ID_001</Id></CryptoModuleInfo>\n"
    "    <Key Id=\"12345678\" Algorithm=\"urn:ietf:params:xml:ns:keyprov:pskc:hotp\">\n"
    "      <Issuer>Issuer</Issuer>\n"
    "      <AlgorithmParameters><ResponseFormat Length=\"8\" Encoding=\"DECIMAL\"/>"
    "</AlgorithmParameters>\n"
    "      <Data>\n"
    "        <Secret>\n"
    "          <EncryptedValue>\n"
    "            <xenc:EncryptionMethod "
    "Algorithm=\"http://www.w3.org/2001/04/xmlenc#aes128-cbc\"/>\n"
    "            <xenc:CipherData><xenc:CipherValue>\n"
    "  AAECAwQFBgcICQoLDA0OD+cIHItlB3Wra1DUpxVvOx2lef1VmNPCMl8jwZqIUqGv\n"
    "            </xenc:CipherValue></xenc:CipherData>\n"
    "          </EncryptedValue>\n"
    "          <ValueMAC>Su+NvtQfmvfJzF6bmQiJqoLRExc=\n"
    "          </ValueMAC>\n"
    "        </Secret>\n"
    "        <Counter><PlainValue>0</PlainValue></Counter>\n"
    "      </Data>\n"
    "    </Key>\n"
    "  </KeyPackage>\n"
    "</KeyContainer>\n";

/* RFC 6030 figure 7 (section 6.2): PBKDF2 from the passphrase "qwerty" (salt
 * Ej7/PEpyEpw=, 1000 iterations, 16 bytes, the default PRF HMAC-SHA1 written <PRF/>),
 * AES-128-CBC, HMAC-SHA1; the secret is again "12345678901234567890". */
static const char rfc6030_fig7[] =
    "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
    "<pskc:KeyContainer xmlns:pskc=\"urn:ietf:params:xml:ns:keyprov:pskc\"\n"
    "    xmlns:xenc11=\"http://www.w3.org/2009/xmlenc11#\"\n"
    "    xmlns:pkcs5=\"http://www.rsasecurity.com/rsalabs/pkcs/schemas/pkcs-5v2-0#\"\n"
    "    xmlns:xenc=\"http://www.w3.org/2001/04/xmlenc#\" Version=\"1.0\">\n"
    "  <pskc:EncryptionKey>\n"
    "    <xenc11:DerivedKey>\n"
    "      <xenc11:KeyDerivationMethod\n"
    "        Algorithm=\"http://www.rsasecurity.com/rsalabs/pkcs/schemas/pkcs-5v2-0#pbkdf2\">\n"
    "        <pkcs5:PBKDF2-params>\n"
    "          <Salt><Specified>Ej7/PEpyEpw=</Specified></Salt>\n"
    "          <IterationCount>1000</IterationCount>\n"
    "          <KeyLength>16</KeyLength>\n"
    "          <PRF/>\n"
    "        </pkcs5:PBKDF2-params>\n"
    "      </xenc11:KeyDerivationMethod>\n"
    "      <xenc:ReferenceList><xenc:DataReference URI=\"#ED\"/></xenc:ReferenceList>\n"
    "      <xenc11:MasterKeyName>My Password 1</xenc11:MasterKeyName>\n"
    "    </xenc11:DerivedKey>\n"
    "  </pskc:EncryptionKey>\n"
    "  <pskc:MACMethod Algorithm=\"http://www.w3.org/2000/09/xmldsig#hmac-sha1\">\n"
    "    <pskc:MACKey>\n"
    "      <xenc:EncryptionMethod Algorithm=\"http://www.w3.org/2001/04/xmlenc#aes128-cbc\"/>\n"
    "      <xenc:CipherData><xenc:CipherValue>\n"
    "2GTTnLwM3I4e5IO5FkufoOEiOhNj91fhKRQBtBJYluUDsPOLTfUvoU2dStyOwYZx\n"
    "      </xenc:CipherValue></xenc:CipherData>\n"
    "    </pskc:MACKey>\n"
    "  </pskc:MACMethod>\n"
    "  <pskc:KeyPackage>\n"
    "    <pskc:DeviceInfo><pskc:Manufacturer>TokenVendorAcme</pskc:Manufacturer>"
    "<pskc:SerialNo>987654321</pskc:SerialNo></pskc:DeviceInfo>\n"
    "    <pskc:CryptoModuleInfo><pskc:Id>CM_ID_001</pskc:Id></pskc:CryptoModuleInfo>\n"
    "    <pskc:Key Algorithm=\"urn:ietf:params:xml:ns:keyprov:pskc:hotp\" Id=\"123456\">\n"
    "      <pskc:Issuer>Example-Issuer</pskc:Issuer>\n"
    "      <pskc:AlgorithmParameters><pskc:ResponseFormat Length=\"8\" Encoding=\"DECIMAL\"/>"
    "</pskc:AlgorithmParameters>\n"
    "      <pskc:Data><pskc:Secret>\n"
    "        <pskc:EncryptedValue Id=\"ED\">\n"
    "          <xenc:EncryptionMethod "
    "Algorithm=\"http://www.w3.org/2001/04/xmlenc#aes128-cbc\"/>\n"
    "          <xenc:CipherData><xenc:CipherValue>\n"
    "  oTvo+S22nsmS2Z/RtcoF8Hfh+jzMe0RkiafpoDpnoZTjPYZu6V+A4aEn032yCr4f\n"
    "          </xenc:CipherValue></xenc:CipherData>\n"
    "        </pskc:EncryptedValue>\n"
    "        <pskc:ValueMAC>LP6xMvjtypbfT9PdkJhBZ+D6O4w=\n"
    "        </pskc:ValueMAC>\n"
    "      </pskc:Secret></pskc:Data>\n"
    "    </pskc:Key>\n"
    "  </pskc:KeyPackage>\n"
    "</pskc:KeyContainer>\n";

struct secrets {
	size_t n;
	char id[32];
	char algorithm[96];
	uint8_t value[64];
	size_t len;
};

static int secrets_cb(void *ctx, const struct pp_pskc_secret *s)
{
	struct secrets *out = ctx;
	out->n++;
	assert_int_equal(s->index, out->n);
	snprintf(out->id, sizeof(out->id), "%s", s->id);
	snprintf(out->algorithm, sizeof(out->algorithm), "%s", s->algorithm);
	assert_true(s->len <= sizeof(out->value));
	memcpy(out->value, s->value, s->len);
	out->len = s->len;
	return 0;
}

static void test_rfc6030_figure6(void **state)
{
	(void)state;
	struct secrets s = {0};
	struct pp_err err = {0};
	struct pp_pskc_protection p = transport(rfc_key, 16, "Pre-shared-key");
	int rc = pp_pskc_read_secrets(rfc6030_fig6, strlen(rfc6030_fig6), &p, secrets_cb, &s, &err);
	if (rc != 0)
		fail_msg("figure 6: %s", err.msg);
	assert_int_equal(s.n, 1);
	assert_string_equal(s.id, "12345678");
	assert_string_equal(s.algorithm, "urn:ietf:params:xml:ns:keyprov:pskc:hotp");
	assert_int_equal(s.len, 20);
	assert_memory_equal(s.value, "12345678901234567890", 20);

	/* Wrong key: refused, no callback. */
	uint8_t other[16];
	memcpy(other, rfc_key, 16);
	other[15] ^= 1;
	struct pp_pskc_protection q = transport(other, 16, NULL);
	memset(&s, 0, sizeof(s));
	rc = pp_pskc_read_secrets(rfc6030_fig6, strlen(rfc6030_fig6), &q, secrets_cb, &s, &err);
	assert_int_equal(rc, -PP_ECRYPTO);
	assert_int_equal(s.n, 0);
	assert_non_null(strstr(err.msg, "KeyPackage 1 (Key Id '12345678'): Secret: ValueMAC does "
					"not match (wrong transport key or tampered file)"));
	/* The pskprov profile refuses it: not an AMT PPS, no pskprov extensions. */
	expect_fail(rfc6030_fig6, strlen(rfc6030_fig6), &p, -PP_ECHECKSUM,
		    "Key Id '12345678' is not a canonical PID (PID: checksum is '8'");
	/* A tampered ValueMAC. */
	char *bad =
	    replace(rfc6030_fig6, "Su+NvtQfmvfJzF6bmQiJqoLRExc=", "Su+NvtQfmvfJzF6bmQiJqoLRExd=");
	memset(&s, 0, sizeof(s));
	rc = pp_pskc_read_secrets(bad, strlen(bad), &p, secrets_cb, &s, &err);
	assert_true(rc < 0);
	assert_int_equal(s.n, 0);
	free(bad);
}

static void test_rfc6030_figure7(void **state)
{
	(void)state;
	struct secrets s = {0};
	struct pp_err err = {0};
	struct pp_pskc_protection p = with_passphrase("qwerty", 0);
	int rc = pp_pskc_read_secrets(rfc6030_fig7, strlen(rfc6030_fig7), &p, secrets_cb, &s, &err);
	if (rc != 0)
		fail_msg("figure 7: %s", err.msg);
	assert_int_equal(s.n, 1);
	assert_string_equal(s.id, "123456");
	assert_int_equal(s.len, 20);
	assert_memory_equal(s.value, "12345678901234567890", 20);
	/* The MasterKeyName is checked when a name is given. */
	p.key_name = "My Password 1";
	memset(&s, 0, sizeof(s));
	assert_int_equal(
	    pp_pskc_read_secrets(rfc6030_fig7, strlen(rfc6030_fig7), &p, secrets_cb, &s, &err), 0);
	/* Wrong passphrase. */
	p = with_passphrase("qwertz", 0);
	memset(&s, 0, sizeof(s));
	rc = pp_pskc_read_secrets(rfc6030_fig7, strlen(rfc6030_fig7), &p, secrets_cb, &s, &err);
	assert_int_equal(rc, -PP_ECRYPTO);
	assert_int_equal(s.n, 0);
	assert_non_null(strstr(err.msg, "wrong passphrase or tampered file"));
	/* The same document offered with a transport key. */
	struct pp_pskc_protection t = transport(rfc_key, 16, NULL);
	rc = pp_pskc_read_secrets(rfc6030_fig7, strlen(rfc6030_fig7), &t, secrets_cb, &s, &err);
	assert_int_equal(rc, -PP_EINVAL);
	assert_non_null(strstr(err.msg, "derived from a passphrase"));
}

/* ---- tampering and truncation ---- */

/* Flips every decoded byte of every element between `open` and `close`, one at a time;
 * each variant must be refused with no callback. Returns the number of variants. */
static size_t tamper_all(const char *doc, const struct pp_pskc_protection *prot, const char *open,
			 const char *close, const char *part)
{
	size_t variants = 0;
	for (const char *at = strstr(doc, open); at; at = strstr(at + 1, open)) {
		const char *start = at + strlen(open);
		const char *end = strstr(start, close);
		assert_non_null(end);
		uint8_t raw[512];
		char text[1024];
		size_t n = b64_dec(start, (size_t)(end - start), raw);
		for (size_t i = 0; i < n; i++) {
			raw[i] ^= 0x01;
			size_t tl = b64_enc(raw, n, text);
			raw[i] ^= 0x01;
			size_t pre = (size_t)(start - doc), post = strlen(end);
			char *v = malloc(pre + tl + post + 1);
			assert_non_null(v);
			memcpy(v, doc, pre);
			memcpy(v + pre, text, tl);
			memcpy(v + pre + tl, end, post + 1);
			expect_fail(v, strlen(v), prot, 0, part);
			free(v);
			variants++;
		}
	}
	return variants;
}

static void test_tamper_every_byte(void **state)
{
	(void)state;
	static const size_t lens[] = {16, 32};
	for (size_t l = 0; l < 2; l++) {
		struct pp_pskc_protection p =
		    transport(lens[l] == 16 ? key16 : key32, lens[l], "acme-2025");
		struct pp_buf doc;
		write_doc(&p, 2, true, &doc);
		const char *d = (const char *)doc.data;
		size_t n = tamper_all(d, &p, "<xenc:CipherValue>", "</xenc:CipherValue>",
				      "does not match");
		/* MACKey (48 + 16) + 2 x (Secret 48 + 16, MEBx 16 + 16). */
		assert_int_equal(n, 64 + 2 * (64 + 32));
		n = tamper_all(d, &p, "<pskc:ValueMAC>", "</pskc:ValueMAC>",
			       "ValueMAC does not match");
		assert_int_equal(n, 4 * 32);
		n = tamper_all(d, &p, "<pskprov:ContainerMAC>", "</pskprov:ContainerMAC>",
			       "ContainerMAC does not match");
		assert_int_equal(n, 32);
		/* A damaged MACKey reads as the first value failing (no padding oracle). */
		struct pp_err err = {0};
		struct sink s = {0};
		const char *mk = strstr(d, "<xenc:CipherValue>") + strlen("<xenc:CipherValue>");
		char *v = strdup(d);
		assert_non_null(v);
		v[mk - d + 20] = v[mk - d + 20] == 'A' ? 'B' : 'A';
		assert_int_equal(pp_pskc_read(v, strlen(v), &p, sink_cb, &s, &err), -PP_ECRYPTO);
		assert_non_null(strstr(err.msg,
				       "KeyPackage 1 (PID 0000-037M): Secret: ValueMAC does "
				       "not match (wrong transport key or tampered file)"));
		assert_int_equal(s.n, 0);
		free(v);
		pp_buf_free(&doc);
	}
}

static void test_truncation(void **state)
{
	(void)state;
	struct pp_pskc_protection p = transport(key16, 16, "acme-2025");
	struct pp_buf doc;
	write_doc(&p, 2, false, &doc);
	const char *d = (const char *)doc.data;
	const char *end = strstr(d, "</pskc:KeyContainer>");
	assert_non_null(end);
	size_t whole = (size_t)(end - d) + strlen("</pskc:KeyContainer>");
	for (size_t cut = 0; cut < whole; cut++)
		expect_fail(d, cut, &p, 0, NULL);
	/* The document itself, and without its final newline, is fine. */
	struct sink s;
	expect_ok(d, whole, &p, &s);
	assert_int_equal(s.n, 2);
	pp_buf_free(&doc);
}

/* KeyPackages removed, duplicated or swapped keep every ValueMAC valid: ContainerMAC. */
static void test_container_mac(void **state)
{
	(void)state;
	struct pp_pskc_protection p = transport(key16, 16, "acme-2025");
	struct pp_buf doc;
	write_doc(&p, 3, false, &doc);
	const char *d = (const char *)doc.data;
	const char *k1 = strstr(d, "<pskc:KeyPackage>");
	const char *k2 = strstr(k1 + 1, "<pskc:KeyPackage>");
	const char *k3 = strstr(k2 + 1, "<pskc:KeyPackage>");
	assert_non_null(k3);
	size_t l1 = (size_t)(k2 - k1), l2 = (size_t)(k3 - k2);
	char *v = malloc(doc.len + l1 + 1);
	assert_non_null(v);

	/* Remove the second. */
	memcpy(v, d, (size_t)(k2 - d));
	memcpy(v + (k2 - d), k3, strlen(k3) + 1);
	expect_fail(v, strlen(v), &p, -PP_ECRYPTO, "ContainerMAC does not match");
	/* Swap the first two. */
	memcpy(v, d, (size_t)(k1 - d));
	memcpy(v + (k1 - d), k2, l2);
	memcpy(v + (k1 - d) + l2, k1, l1);
	memcpy(v + (k1 - d) + l2 + l1, k3, strlen(k3) + 1);
	expect_fail(v, strlen(v), &p, -PP_ECRYPTO, "ContainerMAC does not match");
	/* Duplicate the first. */
	memcpy(v, d, (size_t)(k2 - d));
	memcpy(v + (k2 - d), k1, l1);
	memcpy(v + (k2 - d) + l1, k2, strlen(k2) + 1);
	expect_fail(v, strlen(v), &p, -PP_ECRYPTO, "ContainerMAC does not match");
	/* Change a batch name. */
	char *b = replace(d, "<pskprov:Batch>line-1</pskprov:Batch>",
			  "<pskprov:Batch>line-9</pskprov:Batch>");
	expect_fail(b, strlen(b), &p, -PP_ECRYPTO, "ContainerMAC does not match");
	free(b);
	/* Strip it. */
	const char *ext = strstr(
	    d, "<pskc:Extensions definition=\"urn:pskprov:pskc:1\">\n    <pskprov:ContainerMAC>");
	assert_non_null(ext);
	const char *ext_end = strstr(ext, "</pskc:Extensions>") + strlen("</pskc:Extensions>");
	memcpy(v, d, (size_t)(ext - d));
	memcpy(v + (ext - d), ext_end, strlen(ext_end) + 1);
	expect_fail(v, strlen(v), &p, -PP_EINVAL, "ContainerMAC is missing");
	free(v);
	pp_buf_free(&doc);
}

/* ---- wrong keys ---- */

static void test_wrong_keys(void **state)
{
	(void)state;
	struct pp_pskc_protection p = transport(key16, 16, "acme-2025");
	struct pp_buf doc;
	write_doc(&p, 2, true, &doc);
	const char *d = (const char *)doc.data;
	uint8_t other[16];
	memcpy(other, key16, 16);
	other[0] ^= 0x80;
	struct pp_pskc_protection q = transport(other, 16, "acme-2025");
	expect_fail(
	    d, doc.len, &q, -PP_ECRYPTO,
	    "KeyPackage 1 (PID 0000-037M): Secret: ValueMAC does not match (wrong transport "
	    "key or tampered file)");
	q = transport(key32, 32, NULL);
	expect_fail(d, doc.len, &q, -PP_EINVAL,
		    "EncryptionMethod aes128-cbc needs a 16-byte transport key; the given key has "
		    "32 bytes");
	q = transport(key16, 16, "acme-2024");
	expect_fail(d, doc.len, &q, -PP_EINVAL,
		    "EncryptionKey: wrong transport key name 'acme-2025'");
	q = with_passphrase(passphrase, 0);
	expect_fail(d, doc.len, &q, -PP_EINVAL, "names a pre-shared transport key ('acme-2025')");
	pp_buf_free(&doc);
}

static void test_wrong_passphrase(void **state)
{
	(void)state;
	struct pp_pskc_protection p = with_passphrase(passphrase, PP_PSKC_ITER_WRITE_MIN);
	struct pp_buf doc;
	write_doc(&p, 1, false, &doc);
	const char *d = (const char *)doc.data;
	struct pp_pskc_protection q = with_passphrase("correct horse battery stable", 0);
	expect_fail(d, doc.len, &q, -PP_ECRYPTO,
		    "Secret: ValueMAC does not match (wrong passphrase or tampered file)");
	q = transport(key16, 16, NULL);
	expect_fail(d, doc.len, &q, -PP_EINVAL, "derived from a passphrase (PBKDF2)");
	/* Salt changed: another key, refused. */
	const char *salt = strstr(d, "<Specified>") + strlen("<Specified>");
	char *v = strdup(d);
	assert_non_null(v);
	v[salt - d + 1] = v[salt - d + 1] == 'A' ? 'B' : 'A';
	expect_fail(v, strlen(v), &p, -PP_ECRYPTO, "wrong passphrase or tampered file");
	free(v);
	/* Iteration count out of range, before any work. */
	v = replace(d, "<IterationCount>100000</IterationCount>",
		    "<IterationCount>10</IterationCount>");
	expect_fail(v, strlen(v), &p, -PP_EINVAL, "PBKDF2 IterationCount 10 is below 1000");
	free(v);
	v = replace(d, "<IterationCount>100000</IterationCount>",
		    "<IterationCount>20000000</IterationCount>");
	expect_fail(v, strlen(v), &p, -PP_ETOOBIG, "PBKDF2 IterationCount 20000000 is over the");
	free(v);
	v = replace(d, "<IterationCount>100000</IterationCount>",
		    "<IterationCount>99999999999</IterationCount>");
	expect_fail(v, strlen(v), &p, -PP_EINVAL, "IterationCount");
	free(v);
	v = replace(d, "<KeyLength>32</KeyLength>", "<KeyLength>16</KeyLength>");
	expect_fail(v, strlen(v), &p, -PP_EINVAL, "PBKDF2 KeyLength 16 does not match the cipher");
	free(v);
	v = replace(d, "xmldsig-more#hmac-sha256\"/>", "xmldsig-more#hmac-md5\"/>");
	expect_fail(v, strlen(v), &p, -PP_EINVAL, "PBKDF2 PRF");
	free(v);
	v = replace(d, "pkcs-5v2-0#pbkdf2\"", "pkcs-5v2-0#scrypt\"");
	expect_fail(v, strlen(v), &p, -PP_EINVAL, "is not supported (PBKDF2 only)");
	free(v);
	pp_buf_free(&doc);
}

/* ---- valid MACs, bad contents (the independent builder) ---- */

static void raw_expect(const struct raw_key *keys, size_t n, unsigned flags, int rc,
		       const char *part)
{
	char *d = raw_doc(key16, 16, keys, n, flags);
	struct pp_pskc_protection p = transport(key16, 16, "raw");
	expect_fail(d, strlen(d), &p, rc, part);
	free(d);
}

static void test_raw_builder_agrees(void **state)
{
	(void)state;
	struct raw_key k[2] = {raw_good("0000037M"), raw_good("PK00001C")};
	struct pp_pid pid;
	char id[PP_PID_LEN + 1];
	pp_pid_from_symbols("PK00001", &pid);
	memcpy(id, pid.s, sizeof(id));
	k[1].id = id;
	char *d = raw_doc(key16, 16, k, 2, 0);
	struct pp_pskc_protection p = transport(key16, 16, "raw");
	struct sink s;
	expect_ok(d, strlen(d), &p, &s);
	assert_int_equal(s.n, 2);
	assert_string_equal(s.keys[0].pid.s, "0000037M");
	assert_string_equal(s.keys[1].pid.s, id);
	assert_string_equal(s.keys[1].pps.s, good_pps);
	assert_string_equal(s.keys[1].mebx, "Intel@123");
	assert_string_equal(s.keys[1].batch, "raw-batch");
	free(d);
	/* Standard PSKC elements pskprov does not use are skipped. */
	k[0].key_extra = "<pskc:UserId>operator</pskc:UserId>";
	d = raw_doc(key16, 16, k, 2, 0);
	expect_ok(d, strlen(d), &p, &s);
	assert_int_equal(s.n, 2);
	free(d);
}

static void test_duplicate_pid(void **state)
{
	(void)state;
	struct raw_key k[3] = {raw_good("0000037M"), raw_good("0000037M"), raw_good("0000037M")};
	struct pp_pid pid;
	pp_pid_from_symbols("PK00001", &pid);
	k[1].id = pid.s;
	raw_expect(k, 3, 0, -PP_EEXIST,
		   "KeyPackage 3 (PID 0000-037M): duplicate PID (also KeyPackage 1)");
}

static void test_bad_contents_inside_valid_macs(void **state)
{
	(void)state;
	struct raw_key k = raw_good("0000037M");

	/* PPS group 3 with a wrong checksum. */
	k.secret = "NKLDG5DCRRNXE9YZZIJL7LFLVJED69XJ";
	raw_expect(&k, 1, 0, -PP_ECHECKSUM, "KeyPackage 1 (PID 0000-037M): Secret: PPS group 3");
	/* Lower case: a valid PPS but not the bytes of the PSK. */
	k.secret = "nkldg5dcrrnqe9yzzijl7lflvjed69xj";
	raw_expect(&k, 1, 0, -PP_EINVAL, "not canonical");
	k.secret = "NKLD-G5DC-RRNQ-E9YZ-ZIJL-7LFL-VJED-69XJ";
	raw_expect(&k, 1, 0, -PP_EINVAL, "Secret has 39 bytes");
	k.secret = good_pps;
	/* PID checksum and form. */
	k.id = "0000037N";
	raw_expect(&k, 1, 0, -PP_ECHECKSUM, "Key Id '0000037N' is not a canonical PID");
	k.id = "0000-037M";
	raw_expect(&k, 1, 0, -PP_EINVAL, "Key Id '0000-037M' is not a canonical PID");
	k.id = "0000037m";
	raw_expect(&k, 1, 0, -PP_EINVAL, "not a canonical PID");
	k.id = "0000037M";
	/* MEBx password policy. */
	k.mebx = "password";
	raw_expect(&k, 1, 0, -PP_EINVAL, "KeyPackage 1 (PID 0000-037M): MEBx password");
	k.mebx = "Intel@123Intel@123Intel@123Intel@123";
	raw_expect(&k, 1, 0, -PP_EINVAL, "longer than 32");
	k.mebx = "Intel@123";
	/* Batch name. */
	k.batch = "bad batch";
	raw_expect(&k, 1, 0, -PP_EINVAL, "batch name");
	k.batch = "raw-batch";
	/* Algorithm. */
	k.algorithm = "urn:ietf:params:xml:ns:keyprov:pskc:hotp";
	raw_expect(&k, 1, 0, -PP_EINVAL,
		   "Key Algorithm 'urn:ietf:params:xml:ns:keyprov:pskc:hotp' is not");
}

static void test_bad_structure_inside_valid_macs(void **state)
{
	(void)state;
	struct raw_key k = raw_good("0000037M");
	char msg[256];
	/* Missing pieces and a wrong count. */
	raw_expect(&k, 1, RAW_NO_MEBX, -PP_EINVAL, "pskprov:MEBxPassword is missing");
	raw_expect(&k, 1, RAW_NO_BATCH, -PP_EINVAL, "pskprov:Batch is missing");
	raw_expect(&k, 1, RAW_NO_CMAC, -PP_EINVAL, "ContainerMAC is missing");
	raw_expect(&k, 1, RAW_CMAC_COUNT_OFF, -PP_ECRYPTO, "ContainerMAC does not match");
	raw_expect(&k, 1, RAW_PLAIN_SECRET, -PP_EINVAL, "is a PlainValue (unencrypted)");
	/* Policy: refused rather than ignored. */
	k.key_extra = "<pskc:Policy><pskc:KeyUsage>OTP</pskc:KeyUsage></pskc:Policy>";
	raw_expect(&k, 1, 0, -PP_EINVAL, "Key Policy is not supported");
	k.key_extra = "<pskc:Frobnicate/>";
	raw_expect(&k, 1, 0, -PP_EINVAL, "Key: unexpected element <Frobnicate>");
	k.key_extra = "<pskc:Issuer>late</pskc:Issuer>";
	raw_expect(&k, 1, 0, -PP_EINVAL, "<Issuer> is out of schema order");
	k.key_extra = NULL;

	/* No secret from the document appears in any of those messages. */
	struct pp_err err = {0};
	struct sink s = {0};
	k.mebx = "password";
	char *d = raw_doc(key16, 16, &k, 1, 0);
	struct pp_pskc_protection p = transport(key16, 16, "raw");
	assert_true(pp_pskc_read(d, strlen(d), &p, sink_cb, &s, &err) < 0);
	snprintf(msg, sizeof(msg), "%s", err.msg);
	assert_null(strstr(msg, "password'"));
	assert_null(strstr(msg, good_pps));
	free(d);
}

/* ---- structure ---- */

static void test_structure(void **state)
{
	(void)state;
	struct raw_key k = raw_good("0000037M");
	struct pp_pskc_protection p = transport(key16, 16, "raw");
	char *d = raw_doc(key16, 16, &k, 1, 0);
	static const struct {
		const char *old, *new_;
		int rc;
		const char *part;
	} cases[] = {
	    {"Version=\"1.0\"", "Version=\"2.0\"", -PP_EVERSION, "Version '2.0' is not 1.0"},
	    {"Version=\"1.0\"", "", -PP_EINVAL, "KeyContainer has no Version"},
	    {"</pskc:MACKey>", "</pskc:MACKey><pskc:MACKeyReference>k</pskc:MACKeyReference>",
	     -PP_EINVAL, "MACKeyReference"},
	    {"xmldsig-more#hmac-sha256", "xmldsig-more#hmac-sha512", -PP_EINVAL,
	     "MACMethod 'http://www.w3.org/2001/04/xmldsig-more#hmac-sha512' is not supported"},
	    {"<pskc:EncryptionKey><ds:KeyName>raw</ds:KeyName></pskc:EncryptionKey>", "",
	     -PP_EINVAL, "KeyContainer: <EncryptionKey> is missing"},
	    {"<ds:KeyName>raw</ds:KeyName>",
	     "<ds:KeyName>raw</ds:KeyName><ds:KeyName>b</ds:KeyName>", -PP_EINVAL,
	     "EncryptionKey: more than 1 <KeyName>"},
	    {"<pskc:KeyPackage>", "<pskc:KeyPackage>text", -PP_EINVAL,
	     "KeyPackage 1 holds text where only elements belong"},
	    {"<pskc:Data>", "<pskc:Data><!-- a comment -->", 0, NULL},
	    {"urn:ietf:params:xml:ns:keyprov:pskc\"", "urn:ietf:params:xml:ns:keyprov:pskc:2\"",
	     -PP_EINVAL, "not a PSKC document"},
	    {"aes128-cbc\"/><xenc:CipherData><xenc:CipherValue>",
	     "aes192-cbc\"/><xenc:CipherData><xenc:CipherValue>", -PP_EINVAL,
	     "EncryptionMethod 'http://www.w3.org/2001/04/xmlenc#aes192-cbc' is not supported"},
	    {"<xenc:CipherValue>", "<xenc:CipherValue>!", -PP_EINVAL,
	     "MACMethod/MACKey: CipherValue is not valid base64"},
	    {"<pskc:ValueMAC>", "<pskc:ValueMAC>AAAA", -PP_EINVAL, "ValueMAC has"},
	    {"<pskc:Secret>", "<pskc:Secret><pskc:Foo/>", -PP_EINVAL,
	     "Secret: unexpected element <Foo>"},
	    {"<pskprov:Batch>", "<pskprov:Comment>x</pskprov:Comment><pskprov:Batch>", -PP_EINVAL,
	     "unknown pskprov element <Comment>"},
	    {"<pskc:Extensions><pskprov:Batch>",
	     "<pskc:Extensions><pskc:Issuer>x</pskc:Issuer><pskprov:Batch>", -PP_EINVAL,
	     "Extensions: unexpected element <Issuer>"},
	    {"<pskc:Extensions><pskprov:Batch>",
	     "<pskc:Extensions><other:X xmlns:other=\"urn:x\"/><pskprov:Batch>", 0, NULL},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *v = replace(d, cases[i].old, cases[i].new_);
		if (cases[i].part) {
			expect_fail(v, strlen(v), &p, cases[i].rc, cases[i].part);
		} else {
			struct sink s;
			expect_ok(v, strlen(v), &p, &s);
			assert_int_equal(s.n, 1);
		}
		free(v);
	}
	free(d);
}

static void test_structure_empty(void **state)
{
	(void)state;
	struct raw_key k = raw_good("0000037M");
	struct pp_pskc_protection p = transport(key16, 16, "raw");
	char *d;
	/* No KeyPackage at all. */
	struct pp_pskc_protection w = transport(key16, 16, "raw");
	d = raw_doc(key16, 16, &k, 0, 0);
	expect_fail(d, strlen(d), &w, -PP_EINVAL, "KeyContainer: <KeyPackage> is missing");
	free(d);
	/* Not XML, and not a KeyContainer. */
	expect_fail("hello", 5, &p, -PP_EINVAL, "malformed XML");
	expect_fail("<a/>", 4, &p, -PP_EINVAL, "not a PSKC document (root element <a>");
	expect_fail("", 0, &p, -PP_EINVAL, "empty PSKC document");
}

static void test_mixed_ciphers(void **state)
{
	(void)state;
	/* An AES-256 MEBx value inside an AES-128 document: the document's cipher is one. */
	struct raw_key k = raw_good("0000037M");
	char *d = raw_doc(key16, 16, &k, 1, 0);
	const char *mebx = strstr(d, "<pskprov:MEBxPassword>");
	assert_non_null(mebx);
	char *v = strdup(d);
	assert_non_null(v);
	char *alg = strstr(v + (mebx - d), "aes128-cbc");
	assert_non_null(alg);
	memcpy(alg, "aes256", 6);
	struct pp_pskc_protection p = transport(key16, 16, "raw");
	expect_fail(v, strlen(v), &p, -PP_EINVAL,
		    "pskprov:MEBxPassword: EncryptionMethod aes256-cbc differs from the document's "
		    "aes128-cbc");
	free(v);
	free(d);
}

/* ---- XXE, entity expansion, caps ---- */

static void test_xxe_and_entities(void **state)
{
	(void)state;
	struct pp_pskc_protection p = transport(key16, 16, NULL);
	static const char *docs[] = {
	    "<?xml version=\"1.0\"?>\n<!DOCTYPE k [<!ENTITY xxe SYSTEM \"file:///etc/passwd\">]>\n"
	    "<pskc:KeyContainer xmlns:pskc=\"urn:ietf:params:xml:ns:keyprov:pskc\" "
	    "Version=\"1.0\">&xxe;</pskc:KeyContainer>\n",
	    "<?xml version=\"1.0\"?>\n<!DOCTYPE lolz [\n <!ENTITY lol \"lol\">\n"
	    " <!ENTITY lol1 \"&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;\">\n"
	    " <!ENTITY lol2 \"&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;\">\n"
	    " <!ENTITY lol3 \"&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;\">\n"
	    " <!ENTITY lol4 \"&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;\">\n"
	    " <!ENTITY lol5 \"&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;\">\n"
	    " <!ENTITY lol6 \"&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;\">\n"
	    " <!ENTITY lol7 \"&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;\">\n"
	    " <!ENTITY lol8 \"&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;\">\n"
	    " <!ENTITY lol9 \"&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;\">\n"
	    "]>\n<pskc:KeyContainer xmlns:pskc=\"urn:ietf:params:xml:ns:keyprov:pskc\" "
	    "Version=\"1.0\">&lol9;</pskc:KeyContainer>\n",
	    "<?xml version=\"1.0\"?>\n<!DOCTYPE k SYSTEM \"http://127.0.0.1:1/pskc.dtd\">\n"
	    "<pskc:KeyContainer xmlns:pskc=\"urn:ietf:params:xml:ns:keyprov:pskc\" "
	    "Version=\"1.0\"/>\n",
	    "<?xml version=\"1.0\"?>\n<!DOCTYPE k [<!ENTITY % p SYSTEM \"file:///etc/passwd\"> "
	    "%p;]>\n"
	    "<pskc:KeyContainer xmlns:pskc=\"urn:ietf:params:xml:ns:keyprov:pskc\" "
	    "Version=\"1.0\"/>\n",
	};
	for (size_t i = 0; i < sizeof(docs) / sizeof(docs[0]); i++)
		expect_fail(docs[i], strlen(docs[i]), &p, -PP_EINVAL, "document type declaration");
	/* An entity reference with no DTD is simply not well-formed. */
	const char *undeclared =
	    "<pskc:KeyContainer xmlns:pskc=\"urn:ietf:params:xml:ns:keyprov:pskc\" "
	    "Version=\"1.0\">&xxe;</pskc:KeyContainer>";
	expect_fail(undeclared, strlen(undeclared), &p, -PP_EINVAL, "malformed XML");
	/* XInclude is not processed: the element is just unexpected. */
	const char *xi = "<pskc:KeyContainer xmlns:pskc=\"urn:ietf:params:xml:ns:keyprov:pskc\" "
			 "xmlns:xi=\"http://www.w3.org/2001/XInclude\" Version=\"1.0\">"
			 "<xi:include href=\"file:///etc/passwd\" parse=\"text\"/>"
			 "</pskc:KeyContainer>";
	expect_fail(xi, strlen(xi), &p, -PP_EINVAL, "unexpected element <include>");
}

static void test_caps(void **state)
{
	(void)state;
	struct pp_pskc_protection p = transport(key16, 16, NULL);
	/* Over the document cap: refused before parsing (the bytes are never looked at). */
	size_t big = (size_t)PP_PSKC_DOC_MAX + 1;
	char *huge = calloc(1, big);
	assert_non_null(huge);
	expect_fail(huge, big, &p, -PP_ETOOBIG, "over the 67108864-byte cap");
	free(huge);
	/* A CipherValue of 2000 characters. */
	struct raw_key k = raw_good("0000037M");
	char *d = raw_doc(key16, 16, &k, 1, 0);
	char *pad = malloc(2001);
	assert_non_null(pad);
	memset(pad, 'A', 2000);
	pad[2000] = '\0';
	const char *at = strstr(d, "<pskc:Secret><pskc:EncryptedValue>");
	assert_non_null(at);
	const char *cv = strstr(at, "<xenc:CipherValue>") + strlen("<xenc:CipherValue>");
	const char *cv_end = strstr(cv, "</xenc:CipherValue>");
	size_t pre = (size_t)(cv - d);
	char *v = malloc(strlen(d) + 2001);
	assert_non_null(v);
	memcpy(v, d, pre);
	memcpy(v + pre, pad, 2000);
	memcpy(v + pre + 2000, cv_end, strlen(cv_end) + 1);
	expect_fail(v, strlen(v), &p, -PP_ETOOBIG, "Secret: CipherValue is longer than 1024");
	/* 300 bytes of base64-decoded CipherValue: over the value cap. */
	memset(pad, 'A', 400);
	memcpy(v + pre, pad, 400);
	memcpy(v + pre + 400, cv_end, strlen(cv_end) + 1);
	expect_fail(v, strlen(v), &p, -PP_ETOOBIG, "CipherValue is longer than 160 bytes");
	free(v);
	free(pad);
	free(d);
}

static void test_caps_nodes(void **state)
{
	(void)state;
	struct pp_pskc_protection p = transport(key16, 16, NULL);
	/* 100000 empty elements: far more DOM nodes than any PSKC document needs. */
	struct pp_buf many;
	pp_buf_init(&many, DOC_CAP);
	assert_int_equal(pp_buf_append_str(&many,
					   "<pskc:KeyContainer "
					   "xmlns:pskc=\"urn:ietf:params:xml:ns:keyprov:pskc\" "
					   "Version=\"1.0\">"),
			 0);
	for (int i = 0; i < 100000; i++)
		assert_int_equal(pp_buf_append_str(&many, "<a/>"), 0);
	assert_int_equal(pp_buf_append_str(&many, "</pskc:KeyContainer>"), 0);
	expect_fail((const char *)many.data, many.len, &p, -PP_ETOOBIG, "too many XML nodes");
	pp_buf_reset(&many);
	assert_int_equal(pp_buf_append_str(&many,
					   "<pskc:KeyContainer "
					   "xmlns:pskc=\"urn:ietf:params:xml:ns:keyprov:pskc\" "
					   "Version=\"1.0\"><a"),
			 0);
	for (int i = 0; i < 20000; i++)
		assert_int_equal(pp_buf_printf(&many, " a%d=\"\"", i), 0);
	assert_int_equal(pp_buf_append_str(&many, "/></pskc:KeyContainer>"), 0);
	expect_fail((const char *)many.data, many.len, &p, -PP_ETOOBIG, "too many XML nodes");
	pp_buf_free(&many);
	/* RFC 6030 figure 6 without any white space between elements still fits. */
	struct pp_buf compact;
	pp_buf_init(&compact, DOC_CAP);
	for (const char *c = rfc6030_fig6; *c; c++) {
		if (*c == '>') {
			const char *n = c + 1;
			while (*n == ' ' || *n == '\n')
				n++;
			if (*n == '<') {
				assert_int_equal(pp_buf_append(&compact, ">", 1), 0);
				c = n - 1;
				continue;
			}
		}
		assert_int_equal(pp_buf_append(&compact, c, 1), 0);
	}
	struct secrets sec = {0};
	struct pp_err err = {0};
	struct pp_pskc_protection rp = transport(rfc_key, 16, NULL);
	assert_int_equal(
	    pp_pskc_read_secrets(compact.data, compact.len, &rp, secrets_cb, &sec, &err), 0);
	assert_int_equal(sec.n, 1);
	pp_buf_free(&compact);
}

static void test_caps_key_id(void **state)
{
	(void)state;
	struct pp_pskc_protection p = transport(key16, 16, NULL);
	struct raw_key k = raw_good("0000037M");
	char *d;
	/* A Key Id of 200 characters. */
	char id[201];
	memset(id, 'A', 200);
	id[200] = '\0';
	k.id = id;
	d = raw_doc(key16, 16, &k, 1, 0);
	expect_fail(d, strlen(d), &p, -PP_ETOOBIG, "attribute Id is longer than 127 bytes");
	free(d);
}

/* ---- callbacks ---- */

static void test_callback_stops(void **state)
{
	(void)state;
	struct pp_pskc_protection p = transport(key16, 16, "acme-2025");
	struct pp_buf doc;
	write_doc(&p, 4, false, &doc);
	struct sink s = {.stop_at = 2, .stop_rc = 7};
	struct pp_err err = {0};
	assert_int_equal(pp_pskc_read(doc.data, doc.len, &p, sink_cb, &s, &err), 7);
	assert_int_equal(s.n, 2);
	assert_int_equal(pp_pskc_read(doc.data, doc.len, &p, NULL, NULL, &err), -PP_EINVAL);
	assert_int_equal(pp_pskc_read(doc.data, doc.len, NULL, sink_cb, &s, &err), -PP_EINVAL);
	pp_buf_free(&doc);
}

/* ---- writer ---- */

static void test_writer_protection(void **state)
{
	(void)state;
	struct pp_pskc_writer *w = NULL;
	struct pp_err err = {0};
	struct pp_pskc_protection p = transport(key16, 16, NULL);
	assert_int_equal(pp_pskc_writer_new(&p, &w, &err), -PP_EINVAL);
	assert_non_null(strstr(err.msg, "needs a name"));
	p.key_name = "has space";
	assert_int_equal(pp_pskc_writer_new(&p, &w, &err), -PP_EINVAL);
	p = transport(key16, 24, "k");
	assert_int_equal(pp_pskc_writer_new(&p, &w, &err), -PP_EINVAL);
	p = with_passphrase("short", 0);
	assert_int_equal(pp_pskc_writer_new(&p, &w, &err), -PP_EINVAL);
	assert_non_null(strstr(err.msg, "shorter than 12"));
	p = with_passphrase(passphrase, 99999);
	assert_int_equal(pp_pskc_writer_new(&p, &w, &err), -PP_EINVAL);
	assert_non_null(strstr(err.msg, "out of range 100000..10000000"));
	p = with_passphrase(passphrase, 100000);
	p.key_len = 24;
	assert_int_equal(pp_pskc_writer_new(&p, &w, &err), -PP_EINVAL);
	assert_null(w);
}

static void test_writer_validation(void **state)
{
	(void)state;
	struct pp_pskc_writer *w = NULL;
	struct pp_err err = {0};
	struct pp_pskc_protection p = transport(key16, 16, "acme");
	assert_int_equal(pp_pskc_writer_new(&p, &w, &err), 0);
	struct pp_buf out;
	pp_buf_init(&out, DOC_CAP);
	assert_int_equal(pp_pskc_writer_finish(w, &out, &err), -PP_EINVAL); /* no keys */
	struct pp_key_record k;
	make_key(&k, 1);
	k.pid.s[7] = k.pid.s[7] == 'A' ? 'B' : 'A';
	assert_int_equal(pp_pskc_writer_add(w, &k, &err), -PP_ECHECKSUM);
	assert_non_null(strstr(err.msg, "key 1: PID"));
	make_key(&k, 1);
	k.pps.s[3] = k.pps.s[3] == 'A' ? 'B' : 'A';
	assert_int_equal(pp_pskc_writer_add(w, &k, &err), -PP_ECHECKSUM);
	assert_null(strstr(err.msg, k.pps.s));
	make_key(&k, 1);
	snprintf(k.mebx, sizeof(k.mebx), "%s", "nouppercase1!");
	assert_int_equal(pp_pskc_writer_add(w, &k, &err), -PP_EINVAL);
	assert_null(strstr(err.msg, "nouppercase1!"));
	make_key(&k, 1);
	snprintf(k.batch, sizeof(k.batch), "%s", "no/slash");
	assert_int_equal(pp_pskc_writer_add(w, &k, &err), -PP_EINVAL);
	make_key(&k, 1);
	memset(k.batch, 'x', sizeof(k.batch)); /* not terminated */
	assert_int_equal(pp_pskc_writer_add(w, &k, &err), -PP_EINVAL);
	make_key(&k, 1);
	assert_int_equal(pp_pskc_writer_add(w, &k, &err), 0);
	assert_int_equal(pp_pskc_writer_add(w, &k, &err), -PP_EEXIST);
	assert_non_null(strstr(err.msg, "was already added"));
	make_key(&k, 2);
	assert_int_equal(pp_pskc_writer_add(w, &k, &err), 0);

	/* Too small an output: refused, and finish may be repeated with room. */
	struct pp_buf small;
	pp_buf_init(&small, 512);
	assert_int_equal(pp_pskc_writer_finish(w, &small, &err), -PP_ETOOBIG);
	assert_int_equal(pp_pskc_writer_add(w, &k, &err), -PP_ESTATE);
	assert_int_equal(pp_pskc_writer_finish(w, &out, &err), 0);
	pp_pskc_writer_free(w);
	pp_buf_free(&small);
	struct sink s;
	expect_ok((const char *)out.data, out.len, &p, &s);
	assert_int_equal(s.n, 2);
	pp_buf_free(&out);
	pp_pskc_writer_free(NULL);
}

/* Many keys: order kept, duplicates detected by the writer's set across growth. */
static void test_many_keys(void **state)
{
	(void)state;
	struct pp_pskc_protection p = transport(key32, 32, "bulk");
	struct pp_pskc_writer *w = NULL;
	struct pp_err err = {0};
	struct pp_buf out;
	const unsigned n = 3000;
	assert_int_equal(pp_pskc_writer_new(&p, &w, &err), 0);
	for (unsigned i = 0; i < n; i++) {
		struct pp_key_record k;
		make_key(&k, i);
		assert_int_equal(pp_pskc_writer_add(w, &k, &err), 0);
	}
	for (unsigned i = 0; i < n; i += 97) {
		struct pp_key_record k;
		make_key(&k, i);
		assert_int_equal(pp_pskc_writer_add(w, &k, &err), -PP_EEXIST);
	}
	pp_buf_init(&out, 16u << 20);
	assert_int_equal(pp_pskc_writer_finish(w, &out, &err), 0);
	pp_pskc_writer_free(w);
	struct sink s;
	expect_ok((const char *)out.data, out.len, &p, &s);
	assert_int_equal(s.n, n);
	for (unsigned i = 0; i < 8; i++) {
		struct pp_key_record k;
		make_key(&k, i);
		same_key(&s.keys[i], &k);
	}
	pp_buf_free(&out);
}

/* ---- transport key file ---- */

static void test_transport_key_file(void **state)
{
	(void)state;
	char dir[] = "/tmp/pskc-test-XXXXXX";
	char path[128], other[128];
	struct pp_err err = {0};
	uint8_t key[32];
	size_t len = 0;
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/transport.key", dir);
	snprintf(other, sizeof(other), "%s/bad.key", dir);

	assert_int_equal(pp_pskc_transport_key_create(path, 32, &err), 0);
	struct stat st;
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	assert_int_equal(st.st_size, 65);
	assert_int_equal(pp_pskc_transport_key_load(path, key, &len, &err), 0);
	assert_int_equal(len, 32);
	assert_int_equal(pp_pskc_transport_key_create(path, 32, &err), -PP_EEXIST);
	assert_int_equal(pp_pskc_transport_key_create(other, 24, &err), -PP_EINVAL);
	/* The loaded key reads what a writer wrote with it. */
	struct pp_pskc_protection p = transport(key, len, "file");
	struct pp_buf doc;
	struct sink s;
	write_doc(&p, 1, false, &doc);
	expect_ok((const char *)doc.data, doc.len, &p, &s);
	assert_int_equal(s.n, 1);
	pp_buf_free(&doc);

	/* World-readable: refused. */
	assert_int_equal(chmod(path, 0644), 0);
	assert_int_equal(pp_pskc_transport_key_load(path, key, &len, &err), -PP_EPERM);
	assert_non_null(strstr(err.msg, "must be 0600"));
	unlink(path);
	assert_int_equal(rmdir(dir), 0);
}

/* What a transport key file may hold: 32 or 64 hex digits and one newline. */
static void test_transport_key_forms(void **state)
{
	(void)state;
	char dir[] = "/tmp/pskc-test-XXXXXX";
	char other[128];
	struct pp_err err = {0};
	uint8_t key[32];
	size_t len = 0;
	assert_non_null(mkdtemp(dir));
	snprintf(other, sizeof(other), "%s/bad.key", dir);
	static const struct {
		const char *text;
		int rc;
		size_t len;
	} cases[] = {
	    {"000102030405060708090a0b0c0d0e0f\n", 0, 16},
	    {"000102030405060708090A0B0C0D0E0F", 0, 16},
	    {"000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f\n", 0, 32},
	    {"000102030405060708090a0b0c0d0e0\n", -PP_EINVAL, 0},
	    {"000102030405060708090a0b0c0d0e0f\n\n", -PP_EINVAL, 0},
	    {"000102030405060708090a0b0c0d0e0g\n", -PP_EINVAL, 0},
	    {" 000102030405060708090a0b0c0d0e0f", -PP_EINVAL, 0},
	    {"000102030405060708090a0b0c0d0e0f\r\n", -PP_EINVAL, 0},
	    {"", -PP_EINVAL, 0},
	    {"000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f00\n", -PP_ETOOBIG,
	     0},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		FILE *f = fopen(other, "w");
		assert_non_null(f);
		fputs(cases[i].text, f);
		fclose(f);
		assert_int_equal(chmod(other, 0600), 0);
		int rc = pp_pskc_transport_key_load(other, key, &len, &err);
		if (rc != cases[i].rc)
			fail_msg("case %zu: rc %d (%s)", i, rc, err.msg);
		if (rc == 0) {
			assert_int_equal(len, cases[i].len);
			assert_memory_equal(key, key32, len);
		}
		unlink(other);
	}
	assert_int_equal(pp_pskc_transport_key_load(other, key, &len, &err), -PP_ENOTFOUND);
	assert_int_equal(rmdir(dir), 0);
}

/* ---- fuzz seeds ---- */

static void save(const char *dir, const char *name, const void *data, size_t len)
{
	char path[512];
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	FILE *f = fopen(path, "wb");
	assert_non_null(f);
	assert_int_equal(fwrite(data, 1, len, f), len);
	fclose(f);
}

static void test_write_fuzz_seeds(void **state)
{
	(void)state;
	const char *dir = getenv("PP_PSKC_SEED_DIR");
	if (!dir)
		skip();
	struct pp_buf doc;
	struct pp_pskc_protection p = transport(key16, 16, "fuzz");
	write_doc(&p, 2, true, &doc);
	save(dir, "aes128-2keys.xml", doc.data, doc.len);
	pp_buf_free(&doc);
	/* Many KeyPackages: past the 4 KiB a fuzzer tries by default (fuzz_keys_pskc.options). */
	write_doc(&p, 24, true, &doc);
	save(dir, "aes128-24keys.xml", doc.data, doc.len);
	pp_buf_free(&doc);
	p = transport(key32, 32, "fuzz");
	write_doc(&p, 1, false, &doc);
	save(dir, "aes256-1key.xml", doc.data, doc.len);
	pp_buf_free(&doc);
	p.mac = PP_PSKC_MAC_HMAC_SHA1;
	write_doc(&p, 1, false, &doc);
	save(dir, "aes256-sha1.xml", doc.data, doc.len);
	pp_buf_free(&doc);
	p = with_passphrase(passphrase, PP_PSKC_ITER_WRITE_MIN);
	write_doc(&p, 1, false, &doc);
	save(dir, "pbkdf2.xml", doc.data, doc.len);
	pp_buf_free(&doc);
	save(dir, "rfc6030-figure6.xml", rfc6030_fig6, strlen(rfc6030_fig6));
	save(dir, "rfc6030-figure7.xml", rfc6030_fig7, strlen(rfc6030_fig7));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_roundtrip_aes128),
	    cmocka_unit_test(test_roundtrip_aes256),
	    cmocka_unit_test(test_roundtrip_hmac_sha1),
	    cmocka_unit_test(test_roundtrip_passphrase),
	    cmocka_unit_test(test_layout),
	    cmocka_unit_test(test_rfc6030_figure6),
	    cmocka_unit_test(test_rfc6030_figure7),
	    cmocka_unit_test(test_tamper_every_byte),
	    cmocka_unit_test(test_truncation),
	    cmocka_unit_test(test_container_mac),
	    cmocka_unit_test(test_wrong_keys),
	    cmocka_unit_test(test_wrong_passphrase),
	    cmocka_unit_test(test_raw_builder_agrees),
	    cmocka_unit_test(test_duplicate_pid),
	    cmocka_unit_test(test_bad_contents_inside_valid_macs),
	    cmocka_unit_test(test_bad_structure_inside_valid_macs),
	    cmocka_unit_test(test_structure),
	    cmocka_unit_test(test_structure_empty),
	    cmocka_unit_test(test_mixed_ciphers),
	    cmocka_unit_test(test_xxe_and_entities),
	    cmocka_unit_test(test_caps),
	    cmocka_unit_test(test_caps_nodes),
	    cmocka_unit_test(test_caps_key_id),
	    cmocka_unit_test(test_callback_stops),
	    cmocka_unit_test(test_writer_protection),
	    cmocka_unit_test(test_writer_validation),
	    cmocka_unit_test(test_many_keys),
	    cmocka_unit_test(test_transport_key_file),
	    cmocka_unit_test(test_transport_key_forms),
	    cmocka_unit_test(test_write_fuzz_seeds),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
