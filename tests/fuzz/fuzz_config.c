/* libFuzzer: the config parser on arbitrary text. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "config/config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size > 8192)
		return 0;
	char *text = malloc(size + 1);
	if (!text)
		return 0;
	memcpy(text, data, size);
	text[size] = '\0';
	struct pp_config c;
	struct pp_err err;
	pp_config_defaults(&c);
	if (pp_config_parse(&c, text, "fuzz.conf", &err) == 0) {
		/* Whatever was accepted stays within its documented ranges. */
		if (c.hello_port == 0 || c.device_port == 0 || c.workers == 0 || c.workers > 64)
			abort();
	}
	free(text);
	return 0;
}
