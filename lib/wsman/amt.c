#include "wsman/amt.h"

#include <stdio.h>
#include <string.h>

bool pp_amt_realm_valid(const char *realm)
{
	if (!realm || strlen(realm) != PP_AMT_REALM_LEN || strncmp(realm, "Digest:", 7) != 0)
		return false;
	for (const char *p = realm + 7; *p; p++) {
		if (!((*p >= '0' && *p <= '9') || (*p >= 'A' && *p <= 'F')))
			return false;
	}
	return true;
}

void pp_amt_realm_format(const uint8_t id[16], char out[PP_AMT_REALM_LEN + 1])
{
	static const char hex[] = "0123456789ABCDEF";
	memcpy(out, "Digest:", 7);
	for (size_t i = 0; i < 16; i++) {
		out[7 + 2 * i] = hex[id[i] >> 4];
		out[8 + 2 * i] = hex[id[i] & 0x0F];
	}
	out[PP_AMT_REALM_LEN] = '\0';
}
