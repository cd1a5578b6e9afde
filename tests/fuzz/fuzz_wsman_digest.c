/* HTTP Digest header parsers (RFC 7616): arbitrary bytes as an Authorization value and
 * as a WWW-Authenticate value. Whatever challenge parses must be answerable, and our
 * answer must parse back with the same fields. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "wsman/digest.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(int cond)
{
	if (!cond)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct pp_err err;
	struct pp_digest_auth a;
	struct pp_digest_challenge c;
	struct pp_digest_server s;
	static const uint8_t ha1[16] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16};
	char out[PP_DIGEST_AUTH_MAX];

	/* A fixed server (no randomness: reproducible runs). */
	memset(&s, 0, sizeof(s));
	memcpy(s.realm, "Digest:F3EB554784E729164447A89F60B641C5",
	       sizeof("Digest:F3EB554784E729164447A89F60B641C5"));
	s.nonce_lifetime_s = 300;

	if (pp_digest_auth_parse((const char *)data, size, &a, &err) == 0) {
		check(strlen(a.response) == 32 && a.nc_value != 0 && a.username[0]);
		int rc = pp_digest_verify(&s, NULL, &a, "POST", "/wsman", ha1, 1700000000, &err);
		check(rc < 0); /* no input can know this HA1 and forge a nonce mac */
	}

	if (pp_digest_challenge_parse((const char *)data, size, &c, &err) == 0) {
		check(c.nonce[0]);
		int rc = pp_digest_authorization_make(&c, "POST", "/wsman", "ad\"min", "pw", out,
						      sizeof(out), &err);
		check(rc == 0 && c.nc == 1);
		check(pp_digest_auth_parse(out, strlen(out), &a, &err) == 0);
		check(strcmp(a.username, "ad\"min") == 0 && strcmp(a.realm, c.realm) == 0 &&
		      strcmp(a.nonce, c.nonce) == 0 && strcmp(a.uri, "/wsman") == 0 &&
		      a.nc_value == 1);
		check(strcmp(a.opaque, c.has_opaque ? c.opaque : "") == 0);
	}
	return 0;
}
