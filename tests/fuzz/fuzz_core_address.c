/* Server addresses ([http://]IPV4[:PORT][/PATH], core/address.h): arbitrary text under
 * every flag combination. What parses is consistent: a dotted quad that is the host,
 * a port in range, "host:port", a path only where allowed and starting with '/', the
 * loopback rule kept; what fails says why in one line. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/address.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(int cond)
{
	if (!cond)
		abort();
}

static void one(const char *s, unsigned flags)
{
	struct pp_address a;
	struct pp_err err = {0};
	memset(&a, 0xa5, sizeof(a));
	if (pp_address_parse(s, 9971, flags, "--server", &a, &err) < 0) {
		check(err.msg[0] != '\0' && strchr(err.msg, '\n') == NULL);
		return;
	}
	char host[16], hp[24];
	snprintf(host, sizeof(host), "%u.%u.%u.%u", a.ip[0], a.ip[1], a.ip[2], a.ip[3]);
	snprintf(hp, sizeof(hp), "%s:%u", host, (unsigned)a.port);
	check(strcmp(a.host, host) == 0 && strcmp(a.hostport, hp) == 0);
	check(a.port != 0);
	check(a.path[0] == '\0' || ((flags & PP_ADDR_PATH) && a.path[0] == '/'));
	check(strlen(a.path) <= PP_ADDR_PATH_MAX);
	if (flags & PP_ADDR_LOOPBACK)
		check(a.ip[0] == 127 ||
		      ((flags & PP_ADDR_ANY_OK) && !(a.ip[0] | a.ip[1] | a.ip[2] | a.ip[3])));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size > 2048)
		return 0;
	char *s = malloc(size + 1);
	if (!s)
		return 0;
	memcpy(s, data, size);
	s[size] = '\0';
	for (unsigned flags = 0; flags < 8; flags++)
		one(s, flags);
	free(s);
	return 0;
}
