/* Derived PPS: one secret per batch instead of one per device (docs/protocol.md section 1
 * [ours]). */
#include "keys/keys.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <string.h>

#include "core/bytes.h"
#include "core/secret.h"

#define DERIVE_LABEL "pskprov pps v1"
#define DERIVE_LABEL_LEN (sizeof(DERIVE_LABEL) - 1)
#define DERIVE_BLOCK 32 /* SHA-256 */

int pp_key_derive_symbols(const uint8_t *secret, size_t secret_len, const struct pp_pid *pid,
			  char *out, size_t n)
{
	if (!secret || secret_len < PP_DERIVE_SECRET_MIN || secret_len > INT32_MAX || !pid ||
	    !pp_pid_valid(pid) || (!out && n))
		return -PP_EINVAL;

	uint8_t msg[DERIVE_LABEL_LEN + PP_PID_LEN + 4];
	uint8_t block[DERIVE_BLOCK];
	struct pp_writer w = pp_writer_make(msg, sizeof(msg));
	int rc = pp_wr_bytes(&w, DERIVE_LABEL, DERIVE_LABEL_LEN);
	if (rc == 0)
		rc = pp_wr_bytes(&w, pid->s, PP_PID_LEN);
	if (rc < 0)
		goto out;
	size_t base = w.len; /* block 0 has no counter */

	size_t got = 0;
	for (uint32_t i = 0; got < n; i++) {
		w.len = base;
		if (i > 0 && (rc = pp_wr_u32be(&w, i)) < 0)
			goto out;
		unsigned int blen = 0;
		if (!HMAC(EVP_sha256(), secret, (int)secret_len, msg, w.len, block, &blen) ||
		    blen != DERIVE_BLOCK) {
			rc = -PP_ECRYPTO;
			goto out;
		}
		size_t produced;
		(void)pp_key_sample(block, DERIVE_BLOCK, out + got, n - got, &produced);
		got += produced;
		if (i == UINT32_MAX && got < n) {
			rc = -PP_ECRYPTO;
			goto out;
		}
	}
	rc = 0;
out:
	pp_wipe(block, sizeof(block));
	if (rc < 0 && out)
		pp_wipe(out, n);
	return rc;
}

int pp_pps_derive(const uint8_t *secret, size_t secret_len, const struct pp_pid *pid,
		  struct pp_pps *out)
{
	char free_syms[PP_PPS_FREE];
	if (!out)
		return -PP_EINVAL;
	int rc = pp_key_derive_symbols(secret, secret_len, pid, free_syms, sizeof(free_syms));
	if (rc < 0)
		goto out;
	pp_pps_from_symbols(free_syms, out);
out:
	pp_wipe(free_syms, sizeof(free_syms));
	if (rc < 0)
		pp_wipe(out, sizeof(*out));
	return rc;
}
