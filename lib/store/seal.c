#include "store/seal.h"

#include "core/secret.h"

#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>

/* Nonces are drawn from the CSPRNG in blocks: one RAND_bytes call per 256 blobs keeps
 * bulk sealing cheap. Nonces are not secret; the pool is wiped anyway on free. */
#define NONCE_POOL (256 * PP_SEAL_NONCE_LEN)

struct pp_sealer {
	EVP_CIPHER *cipher;
	EVP_CIPHER_CTX *enc;
	EVP_CIPHER_CTX *dec;
	uint8_t pool[NONCE_POOL];
	size_t pool_off;
};

static const char *const purpose_label[PP_SEAL_PURPOSE_MAX] = {
    [PP_SEAL_PPS] = "pps",     [PP_SEAL_MEBX] = "mebx",         [PP_SEAL_BATCH_SECRET] = "batch",
    [PP_SEAL_ADMIN] = "admin", [PP_SEAL_DEVICE_MEBX] = "dmebx", [PP_SEAL_CHECK] = "check",
};

/* version || label || '|' || subject. Labels contain no '|', so the split is unique. */
#define AAD_MAX (1 + 8 + 1 + PP_SEAL_MAX_SUBJECT)

static int build_aad(enum pp_seal_purpose purpose, const char *subject, uint8_t *aad,
		     size_t *aad_len, struct pp_err *err)
{
	if ((unsigned)purpose >= PP_SEAL_PURPOSE_MAX)
		return pp_err_set(err, PP_EINVAL, "seal: unknown purpose %d", (int)purpose);
	if (!subject)
		return pp_err_set(err, PP_EINVAL, "seal: no subject");
	/* Copied a byte at a time: a subject is a PID or a UUID, and strlen, strnlen and two
	 * memcpy calls cost a tenth of a whole seal. */
	const char *label = purpose_label[purpose];
	size_t n = 0;
	aad[n++] = PP_SEAL_VERSION;
	while (*label)
		aad[n++] = (uint8_t)*label++;
	aad[n++] = '|';
	size_t start = n;
	while (*subject && n - start < PP_SEAL_MAX_SUBJECT)
		aad[n++] = (uint8_t)*subject++;
	if (n == start || *subject)
		return pp_err_set(err, PP_EINVAL, "seal: subject must be 1..%d bytes",
				  PP_SEAL_MAX_SUBJECT);
	*aad_len = n;
	return 0;
}

void pp_sealer_free(struct pp_sealer *s)
{
	if (!s)
		return;
	/* EVP_CIPHER_CTX_free cleanses the expanded key. */
	EVP_CIPHER_CTX_free(s->enc);
	EVP_CIPHER_CTX_free(s->dec);
	EVP_CIPHER_free(s->cipher);
	pp_wipe(s, sizeof(*s));
	free(s);
}

int pp_sealer_new(const struct pp_master_key *mk, struct pp_sealer **out, struct pp_err *err)
{
	*out = NULL;
	struct pp_sealer *s = calloc(1, sizeof(*s));
	if (!s)
		return pp_err_set(err, PP_ENOMEM, "seal: out of memory");
	s->pool_off = NONCE_POOL; /* empty: refilled on first use */
	s->cipher = EVP_CIPHER_fetch(NULL, "AES-256-GCM", NULL);
	s->enc = EVP_CIPHER_CTX_new();
	s->dec = EVP_CIPHER_CTX_new();
	if (!s->cipher || !s->enc || !s->dec) {
		pp_sealer_free(s);
		return pp_err_set(err, PP_ECRYPTO, "seal: AES-256-GCM is not available");
	}
	if (EVP_EncryptInit_ex(s->enc, s->cipher, NULL, mk->k, NULL) != 1 ||
	    EVP_DecryptInit_ex(s->dec, s->cipher, NULL, mk->k, NULL) != 1 ||
	    EVP_CIPHER_CTX_get_iv_length(s->enc) != PP_SEAL_NONCE_LEN) {
		pp_sealer_free(s);
		return pp_err_set(err, PP_ECRYPTO, "seal: cannot set up AES-256-GCM");
	}
	*out = s;
	return 0;
}

int pp_sealer_clone(const struct pp_sealer *src, struct pp_sealer **out, struct pp_err *err)
{
	*out = NULL;
	struct pp_sealer *s = calloc(1, sizeof(*s));
	if (!s)
		return pp_err_set(err, PP_ENOMEM, "seal: out of memory");
	/* Empty: a copied pool would hand out the nonces src hands out next. */
	s->pool_off = NONCE_POOL;
	if (EVP_CIPHER_up_ref(src->cipher) == 1)
		s->cipher = src->cipher;
	s->enc = EVP_CIPHER_CTX_new();
	s->dec = EVP_CIPHER_CTX_new();
	if (!s->cipher || !s->enc || !s->dec || EVP_CIPHER_CTX_copy(s->enc, src->enc) != 1 ||
	    EVP_CIPHER_CTX_copy(s->dec, src->dec) != 1) {
		pp_sealer_free(s);
		return pp_err_set(err, PP_ECRYPTO, "seal: cannot copy the AES-256-GCM context");
	}
	*out = s;
	return 0;
}

static int next_nonce(struct pp_sealer *s, uint8_t nonce[PP_SEAL_NONCE_LEN])
{
	if (s->pool_off + PP_SEAL_NONCE_LEN > NONCE_POOL) {
		if (pp_random(s->pool, NONCE_POOL) < 0)
			return -PP_ECRYPTO;
		s->pool_off = 0;
	}
	memcpy(nonce, s->pool + s->pool_off, PP_SEAL_NONCE_LEN);
	/* A nonce is used once: clear it from the pool. */
	memset(s->pool + s->pool_off, 0, PP_SEAL_NONCE_LEN);
	s->pool_off += PP_SEAL_NONCE_LEN;
	return 0;
}

int pp_seal(struct pp_sealer *s, enum pp_seal_purpose purpose, const char *subject,
	    const void *plain, size_t plain_len, uint8_t *out, size_t out_cap, size_t *out_len,
	    struct pp_err *err)
{
	uint8_t aad[AAD_MAX];
	size_t aad_len;
	int rc = build_aad(purpose, subject, aad, &aad_len, err);
	if (rc < 0)
		return rc;
	if (plain_len == 0 || plain_len > PP_SEAL_MAX_PLAIN)
		return pp_err_set(err, PP_EINVAL, "seal: secret must be 1..%d bytes",
				  PP_SEAL_MAX_PLAIN);
	if (out_cap < pp_sealed_len(plain_len))
		return pp_err_set(err, PP_ETOOBIG, "seal: output buffer too small");

	uint8_t *nonce = out + 1, *ct = out + 1 + PP_SEAL_NONCE_LEN;
	uint8_t *tag = ct + plain_len;
	int n = 0, fin = 0;
	out[0] = PP_SEAL_VERSION;
	if (next_nonce(s, nonce) < 0) {
		rc = pp_err_set(err, PP_ECRYPTO, "seal: no randomness for a nonce");
		goto out;
	}
	if (EVP_EncryptInit_ex(s->enc, NULL, NULL, NULL, nonce) != 1 ||
	    EVP_EncryptUpdate(s->enc, NULL, &n, aad, (int)aad_len) != 1 ||
	    EVP_EncryptUpdate(s->enc, ct, &n, plain, (int)plain_len) != 1 ||
	    (size_t)n != plain_len || EVP_EncryptFinal_ex(s->enc, ct + n, &fin) != 1 || fin != 0 ||
	    EVP_CIPHER_CTX_ctrl(s->enc, EVP_CTRL_GCM_GET_TAG, PP_SEAL_TAG_LEN, tag) != 1) {
		rc = pp_err_set(err, PP_ECRYPTO, "seal: AES-256-GCM encryption failed");
		goto out;
	}
	*out_len = pp_sealed_len(plain_len);
	rc = 0;
out:
	if (rc < 0)
		pp_wipe(out,
			out_cap < pp_sealed_len(plain_len) ? out_cap : pp_sealed_len(plain_len));
	return rc;
}

int pp_unseal(struct pp_sealer *s, enum pp_seal_purpose purpose, const char *subject,
	      const uint8_t *blob, size_t blob_len, void *plain, size_t plain_cap,
	      size_t *plain_len, struct pp_err *err)
{
	uint8_t aad[AAD_MAX];
	size_t aad_len;
	int rc = build_aad(purpose, subject, aad, &aad_len, err);
	if (rc < 0)
		return rc;
	if (!blob || blob_len < pp_sealed_len(1))
		return pp_err_set(err, PP_ECRYPTO, "sealed %s: blob is truncated (%zu bytes)",
				  purpose_label[purpose], blob_len);
	if (blob_len > PP_SEAL_MAX_BLOB)
		return pp_err_set(err, PP_ECRYPTO, "sealed %s: blob is too long (%zu bytes)",
				  purpose_label[purpose], blob_len);
	/* An unknown version is a failed authentication too: a flipped version byte must
	 * not be told apart from any other tampering by the caller. */
	if (blob[0] != PP_SEAL_VERSION)
		return pp_err_set(err, PP_ECRYPTO, "sealed %s: unknown blob version %u",
				  purpose_label[purpose], blob[0]);
	size_t ct_len = blob_len - PP_SEAL_OVERHEAD;
	if (plain_cap < ct_len)
		return pp_err_set(err, PP_ETOOBIG, "unseal: output buffer too small");

	const uint8_t *nonce = blob + 1, *ct = blob + 1 + PP_SEAL_NONCE_LEN;
	const uint8_t *tag = ct + ct_len;
	uint8_t tagbuf[PP_SEAL_TAG_LEN];
	memcpy(tagbuf, tag, sizeof(tagbuf));
	int n = 0, fin = 0;
	if (EVP_DecryptInit_ex(s->dec, NULL, NULL, NULL, nonce) != 1 ||
	    EVP_DecryptUpdate(s->dec, NULL, &n, aad, (int)aad_len) != 1 ||
	    EVP_DecryptUpdate(s->dec, plain, &n, ct, (int)ct_len) != 1 || (size_t)n != ct_len ||
	    EVP_CIPHER_CTX_ctrl(s->dec, EVP_CTRL_GCM_SET_TAG, PP_SEAL_TAG_LEN, tagbuf) != 1 ||
	    EVP_DecryptFinal_ex(s->dec, (uint8_t *)plain + n, &fin) != 1 || fin != 0) {
		/* GCM writes plaintext before it checks the tag: leave none of it behind. */
		pp_wipe(plain, ct_len);
		return pp_err_set(err, PP_ECRYPTO,
				  "sealed %s: authentication failed (wrong master key, or the "
				  "blob was altered or moved)",
				  purpose_label[purpose]);
	}
	*plain_len = ct_len;
	return 0;
}

static const uint8_t check_plain[32] = "pskprov master key check v1\0\0\0\0";
static const char check_subject[] = "master-key";

int pp_seal_check_make(struct pp_sealer *s, uint8_t *out, size_t out_cap, size_t *out_len,
		       struct pp_err *err)
{
	return pp_seal(s, PP_SEAL_CHECK, check_subject, check_plain, sizeof(check_plain), out,
		       out_cap, out_len, err);
}

int pp_seal_check_verify(struct pp_sealer *s, const uint8_t *blob, size_t blob_len,
			 struct pp_err *err)
{
	uint8_t plain[sizeof(check_plain)];
	size_t n = 0;
	if (blob_len != PP_SEAL_CHECK_LEN ||
	    pp_unseal(s, PP_SEAL_CHECK, check_subject, blob, blob_len, plain, sizeof(plain), &n,
		      NULL) < 0 ||
	    n != sizeof(plain) || !pp_ct_eq(plain, check_plain, sizeof(plain)))
		return pp_err_set(err, PP_ECRYPTO, "master key does not match this database");
	return 0;
}
