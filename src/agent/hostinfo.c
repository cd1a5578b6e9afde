/* The agent's host address and name (agent/hostinfo.h). */
#include "agent/hostinfo.h"

#include <stdio.h>
#include <string.h>

static void format_ip(struct pp_agent_hostinfo *h)
{
	snprintf(h->addr, sizeof(h->addr), "%u.%u.%u.%u", h->ip[0], h->ip[1], h->ip[2], h->ip[3]);
}

static int hostinfo_named(const uint8_t address[4], struct pp_agent_hostinfo *h, struct pp_err *err)
{
	memcpy(h->ip, address, 4);
	format_ip(h);
	/* The agent never reports an address its host does not have. */
	if (pp_host_owns_ipv4(h->ip, err) < 0)
		return pp_err_prefix(err, "--address");
	struct pp_err name_err = {0};
	if (pp_host_fqdn(h->fqdn, sizeof(h->fqdn), &name_err) < 0)
		h->fqdn[0] = '\0'; /* informational only: the hello carries the address */
	return 0;
}

static int hostinfo_discovered(struct pp_agent_hostinfo *h, struct pp_err *err)
{
	int rc = pp_host_mgmt_address(NULL, h->ip, h->ifname, h->fqdn, err);
	if (rc < 0 && err) {
		char why[sizeof(err->msg)];
		snprintf(why, sizeof(why), "%s", err->msg);
		return pp_err_set(err, -rc, "%.200s; --address can name one", why);
	}
	if (rc < 0)
		return rc;
	h->discovered = true;
	format_ip(h);
	if (h->ip[0] != 127)
		return pp_err_set(err, PP_EINVAL,
				  "the default route's address %s (%s) is not a loopback address "
				  "(127.0.0.0/8): this project reports loopback addresses only; "
				  "--address can name one",
				  h->addr, h->ifname);
	return 0;
}

int pp_agent_hostinfo_get(const uint8_t *address, struct pp_agent_hostinfo *h, struct pp_err *err)
{
	memset(h, 0, sizeof(*h));
	return address ? hostinfo_named(address, h, err) : hostinfo_discovered(h, err);
}

void pp_agent_hostinfo_describe(const struct pp_agent_hostinfo *h, char *out, size_t cap)
{
	const char *name = h->fqdn[0] ? h->fqdn : "(not a DNS name)";
	if (h->discovered)
		snprintf(out, cap, "%s (%s, default route), host name %s", h->addr, h->ifname,
			 name);
	else
		snprintf(out, cap, "%s (--address), host name %s", h->addr, name);
}
