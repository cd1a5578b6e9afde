/* The address the agent reports for its host, and the host's name (issue 13): named by
 * --address, or found from the default route (core/hostaddr.h); no packet is sent to
 * find either. */
#ifndef PSKPROV_AGENT_HOSTINFO_H
#define PSKPROV_AGENT_HOSTINFO_H

#include <net/if.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/err.h"
#include "core/hostaddr.h"

struct pp_agent_hostinfo {
	uint8_t ip[4];
	char addr[16];          /* dotted quad */
	bool discovered;        /* from the default route, not --address */
	char ifname[IFNAMSIZ];  /* the default route's interface; "" with --address */
	char fqdn[PP_FQDN_MAX]; /* "" when the host's name is not a DNS name */
};

/* With address (--address, already parsed into ip and checked against the loopback
 * policy): it must be one of the host's own addresses. Without: the default route's
 * interface and its IPv4, which must be in 127.0.0.0/8 (every address of this project
 * is loopback). The host's name is looked up either way; with --address a host whose
 * name is not a DNS name leaves fqdn empty rather than fail. */
int pp_agent_hostinfo_get(const uint8_t *address, struct pp_agent_hostinfo *h,
			  struct pp_err *err) PP_WUR;

/* "127.50.0.2 (tap0, default route), host name h.example.test" */
void pp_agent_hostinfo_describe(const struct pp_agent_hostinfo *h, char *out, size_t cap);

#endif
