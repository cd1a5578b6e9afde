/* MEBx password and admin account credentials: Digest HA1 (RFC 7616, MD5), the
 * PBKDF2-HMAC-SHA256 verifier, and the base64 of SetAdminAclEntryEx. */
#include "firmware/device_impl.h"

#include "core/secret.h"

#include <openssl/evp.h>
#include <string.h>

int amt_ha1(const char *user, const char *realm, const char *password,
	    uint8_t out[PP_AMT_DEV_HA1_LEN])
{
	int rc = -PP_ECRYPTO;
	unsigned int n = 0;
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	if (!ctx)
		return -PP_ENOMEM;
	if (EVP_DigestInit_ex(ctx, EVP_md5(), NULL) != 1 ||
	    EVP_DigestUpdate(ctx, user, strlen(user)) != 1 || EVP_DigestUpdate(ctx, ":", 1) != 1 ||
	    EVP_DigestUpdate(ctx, realm, strlen(realm)) != 1 ||
	    EVP_DigestUpdate(ctx, ":", 1) != 1 ||
	    EVP_DigestUpdate(ctx, password, strlen(password)) != 1 ||
	    EVP_DigestFinal_ex(ctx, out, &n) != 1 || n != PP_AMT_DEV_HA1_LEN)
		goto out;
	rc = 0;
out:
	EVP_MD_CTX_free(ctx); /* cleanses its state */
	return rc;
}

int amt_verifier(const char *password, const uint8_t salt[AMT_SALT_LEN], uint32_t iterations,
		 uint8_t out[AMT_VERIFIER_LEN])
{
	size_t len = strlen(password);
	if (len > 1024 || iterations < 1 || iterations > PP_AMT_DEV_PBKDF2_MAX)
		return -PP_EINVAL;
	if (PKCS5_PBKDF2_HMAC(password, (int)len, salt, AMT_SALT_LEN, (int)iterations, EVP_sha256(),
			      AMT_VERIFIER_LEN, out) != 1)
		return -PP_ECRYPTO;
	return 0;
}

int amt_set_password(struct pp_amt_device *d, const char *password)
{
	uint8_t salt[AMT_SALT_LEN], ver[AMT_VERIFIER_LEN], ha1[PP_AMT_DEV_HA1_LEN];
	int rc = pp_random(salt, sizeof(salt));
	if (rc < 0)
		goto out;
	rc = amt_verifier(password, salt, d->pbkdf2_iterations, ver);
	if (rc < 0)
		goto out;
	rc = amt_ha1(PP_AMT_DEV_DIGEST_USER, d->realm, password, ha1);
	if (rc < 0)
		goto out;
	memcpy(d->mebx_salt, salt, sizeof(salt));
	memcpy(d->mebx_verifier, ver, sizeof(ver));
	memcpy(d->mebx_ha1, ha1, sizeof(ha1));
	d->factory_default = false;
out:
	pp_wipe(ver, sizeof(ver));
	pp_wipe(ha1, sizeof(ha1));
	return rc;
}

int amt_set_factory_password(struct pp_amt_device *d)
{
	int rc =
	    amt_ha1(PP_AMT_DEV_DIGEST_USER, d->realm, PP_AMT_DEV_FACTORY_PASSWORD, d->mebx_ha1);
	if (rc < 0)
		return rc;
	pp_wipe(d->mebx_salt, sizeof(d->mebx_salt));
	pp_wipe(d->mebx_verifier, sizeof(d->mebx_verifier));
	d->factory_default = true;
	return 0;
}

bool amt_password_matches(const struct pp_amt_device *d, const char *password)
{
	if (!password)
		return false;
	if (d->factory_default)
		return pp_ct_streq(password, PP_AMT_DEV_FACTORY_PASSWORD);
	/* Longer than any password the policy admits: no need to spend PBKDF2 on it. */
	if (strnlen(password, PP_MEBX_PW_MAX + 1) > PP_MEBX_PW_MAX)
		return false;
	uint8_t ver[AMT_VERIFIER_LEN];
	bool ok = amt_verifier(password, d->mebx_salt, d->pbkdf2_iterations, ver) == 0 &&
		  pp_ct_eq(ver, d->mebx_verifier, sizeof(ver));
	pp_wipe(ver, sizeof(ver));
	return ok;
}

static int b64_value(char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+')
		return 62;
	if (c == '/')
		return 63;
	return -1;
}

int amt_b64_decode16(const char *s, uint8_t out[16])
{
	/* 16 bytes = 5 groups of 3 and one byte: 22 symbols and "==". */
	if (strnlen(s, 25) != 24 || s[22] != '=' || s[23] != '=')
		return -PP_EINVAL;
	uint8_t tmp[16];
	uint32_t acc = 0;
	int bits = 0;
	size_t n = 0;
	for (size_t i = 0; i < 22; i++) {
		int v = b64_value(s[i]);
		if (v < 0)
			goto bad;
		acc = (acc << 6) | (uint32_t)v;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			tmp[n++] = (uint8_t)(acc >> bits);
			acc &= (1u << bits) - 1;
		}
	}
	/* The 4 bits left over must be zero: one encoding per value. */
	if (n != 16 || bits != 4 || acc != 0)
		goto bad;
	memcpy(out, tmp, sizeof(tmp));
	pp_wipe(tmp, sizeof(tmp));
	return 0;
bad:
	pp_wipe(tmp, sizeof(tmp));
	return -PP_EINVAL;
}
