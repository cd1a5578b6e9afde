/* libFuzzer: pp_hello_parse takes any bytes without a fault; whatever it accepts
 * writes back with pp_hello_write to exactly the same bytes, and every failure carries
 * a matching error code and leaves the output as it was. Seeds include real-size v3
 * hellos (23, 30 and 255 hashes, up to the 12,775-byte maximum). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "proto/hello.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* About 13 KB each: static (libFuzzer runs one input at a time). */
	static struct pp_hello h, before;
	static uint8_t out[PP_HELLO_MAX_LEN];
	struct pp_err err = {0};
	size_t len = 0;

	memset(&h, 0xa5, sizeof(h));
	memset(&before, 0xa5, sizeof(before));
	int rc = pp_hello_parse(data, size, &h, &err);
	if (rc < 0) {
		if (err.code != -rc || memchr(err.msg, '\0', sizeof(err.msg)) == NULL)
			abort();
		if (memcmp(&h, &before, sizeof(h)) != 0)
			abort();
		return 0;
	}
	if (size > PP_HELLO_MAX_LEN || (h.version != PP_HELLO_V2 && h.version != PP_HELLO_V3))
		abort();
	if (pp_hello_write(&h, out, sizeof(out), &len, &err) != 0)
		abort();
	if (len != size || memcmp(out, data, size) != 0)
		abort();
	return 0;
}
