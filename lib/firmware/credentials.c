/* MEBx password and admin account credentials: Digest HA1 (RFC 7616, MD5), the
 * PBKDF2-HMAC-SHA256 verifier (the Digest arithmetic itself is lib/wsman's). */
#include "firmware/device_impl.h"

#include "core/secret.h"
#include "wsman/digest.h"

#include <openssl/evp.h>
#include <string.h>

int amt_ha1(const char *user, const char *realm, const char *password,
	    uint8_t out[PP_AMT_DEV_HA1_LEN])
{
	return pp_digest_ha1(user, realm, password, out, NULL);
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
