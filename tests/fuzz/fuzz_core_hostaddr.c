/* The host-address parsers of core/hostaddr.h: /proc/net/route text and resolv.conf
 * text, arbitrary bytes. A default route found names an interface that fits IFNAMSIZ
 * and holds no blank; a domain found is empty or a DNS name. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/hostaddr.h"
#include "core/parse.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(int cond)
{
	if (!cond)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char ifname[IFNAMSIZ], domain[PP_FQDN_MAX];
	struct pp_err err = {0};
	if (pp_default_route_iface((const char *)data, size, ifname, &err) == 0) {
		size_t n = strnlen(ifname, IFNAMSIZ);
		check(n > 0 && n < IFNAMSIZ && !strpbrk(ifname, " \t\n"));
	} else {
		check(err.code != 0 && err.msg[0] != '\0');
	}
	if (pp_resolv_domain((const char *)data, size, domain, sizeof(domain), &err) == 0)
		check(domain[0] == '\0' || pp_valid_fqdn(domain));
	return 0;
}
