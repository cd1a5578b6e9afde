/* Strict base64 (RFC 4648 section 4): arbitrary text. Whatever decodes must encode back
 * to the same text (one encoding per value); a failed decode reports no bytes. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/base64.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(int cond)
{
	if (!cond)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static uint8_t dec[4096];
	static char enc[PP_B64_ENCODED_LEN(sizeof(dec)) + 1];
	size_t n = 1;

	if (pp_b64_decode((const char *)data, size, dec, sizeof(dec), &n, NULL) != 0) {
		check(n == 0);
		return 0;
	}
	check(n <= size / 4 * 3);
	check(pp_b64_encode(dec, n, enc, sizeof(enc), NULL) == 0);
	check(strlen(enc) == size && memcmp(enc, data, size) == 0);
	return 0;
}
