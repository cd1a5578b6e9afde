#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "core/base64.h"
#include "core/err.h"

static void test_base64(void **state)
{
	(void)state;
	struct pp_err err;
	static const struct {
		const char *raw, *enc;
	} v[] = {{"", ""},
		 {"f", "Zg=="},
		 {"fo", "Zm8="},
		 {"foo", "Zm9v"},
		 {"foob", "Zm9vYg=="},
		 {"fooba", "Zm9vYmE="},
		 {"foobar", "Zm9vYmFy"}};
	char enc[16];
	uint8_t dec[16];
	size_t n;
	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		assert_int_equal(pp_b64_encode(v[i].raw, strlen(v[i].raw), enc, sizeof(enc), &err),
				 0);
		assert_string_equal(enc, v[i].enc);
		assert_int_equal(
		    pp_b64_decode(v[i].enc, strlen(v[i].enc), dec, strlen(v[i].raw), &n, &err), 0);
		assert_int_equal(n, strlen(v[i].raw));
		assert_memory_equal(dec, v[i].raw, n);
	}
	static const char *const bad[] = {"Zg=",      "Zg===", "Z===",   "====",    "Zh==",
					  "Zm9=",     "Zm 9v", "Zm9v\n", "Zm-v",    "Zm_v",
					  "Zg==Zg==", "Z=g=",  " Zm9v",  "Zm9v=",   "A",
					  "=Zm9",     "Zm8",   "Zm8==",  "Zm9vYmF", "Zm9vYmFy\0"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		size_t len = strlen(bad[i]) + (i == sizeof(bad) / sizeof(bad[0]) - 1);
		if (pp_b64_decode(bad[i], len, dec, sizeof(dec), &n, &err) == 0)
			fail_msg("accepted base64 '%s'", bad[i]);
		assert_int_equal(n, 0);
	}
	/* Output room is checked, for both directions. */
	assert_int_equal(pp_b64_decode("Zm9vYmFy", 8, dec, 5, &n, &err), -PP_ETOOBIG);
	assert_int_equal(pp_b64_encode("foo", 3, enc, 4, &err), -PP_ETOOBIG);
	assert_int_equal(pp_b64_encode("foo", 3, enc, 5, &err), 0);
	/* SetTLSPSK: the PPS as base64 of its 32 ASCII bytes. */
	char pps64[PP_B64_ENCODED_LEN(32) + 1];
	uint8_t pps[32];
	assert_int_equal(
	    pp_b64_encode("NKLDG5DCRRNQE9YZZIJL7LFLVJED69XJ", 32, pps64, sizeof(pps64), &err), 0);
	assert_int_equal(strlen(pps64), 44);
	assert_int_equal(pp_b64_decode(pps64, 44, pps, sizeof(pps), &n, &err), 0);
	assert_int_equal(n, 32);
	assert_memory_equal(pps, "NKLDG5DCRRNQE9YZZIJL7LFLVJED69XJ", 32);
}

/* Base64 of the Digest HA1 in SetAdminAclEntryEx: 16 bytes are 22 symbols and "==". */
static void test_base64_ha1_lengths(void **state)
{
	(void)state;
	uint8_t out[16];
	size_t n = 99;
	assert_int_equal(pp_b64_decode("CuCDARuuPYT8SGzkq0SuHQ==", 24, out, sizeof(out), &n, NULL),
			 0);
	assert_int_equal(n, 16);
	/* One symbol more decodes to 17 bytes: no room, and nothing is reported written. */
	assert_int_equal(pp_b64_decode("CuCDARuuPYT8SGzkq0SuHQA=", 24, out, sizeof(out), &n, NULL),
			 -PP_ETOOBIG);
	assert_int_equal(n, 0);
	/* Non-zero bits before the padding: a second spelling of the same bytes. */
	assert_int_equal(pp_b64_decode("CuCDARuuPYT8SGzkq0SuHR==", 24, out, sizeof(out), &n, NULL),
			 -PP_EINVAL);
	/* Over the input cap: refused before it is read. */
	assert_int_equal(
	    pp_b64_decode("AAAA", (size_t)PP_B64_MAX_IN + 4, out, sizeof(out), &n, NULL),
	    -PP_ETOOBIG);
	char enc[8];
	assert_int_equal(pp_b64_encode("x", (size_t)PP_B64_MAX_IN + 1, enc, sizeof(enc), NULL),
			 -PP_ETOOBIG);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_base64),
	    cmocka_unit_test(test_base64_ha1_lengths),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
