/* The host's own management address and name, found without any network traffic: the
 * default route's interface from /proc/net/route, that interface's first IPv4 address
 * (getifaddrs), and the host name as Intel's host agents report it: gethostname() plus a
 * domain from getdomainname() or resolv.conf, never a DNS lookup. */
#ifndef PSKPROV_CORE_HOSTADDR_H
#define PSKPROV_CORE_HOSTADDR_H

#include <net/if.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/err.h"

#define PP_HOSTADDR_ROUTE_PATH "/proc/net/route"
#define PP_HOSTADDR_RESOLV_PATH "/etc/resolv.conf"
#define PP_HOSTADDR_ROUTE_MAX (1u << 20)   /* bytes of route table text we parse */
#define PP_HOSTADDR_RESOLV_MAX (64u << 10) /* bytes of resolv.conf we read */
#define PP_HOSTADDR_LINE_MAX 512           /* one line of either file */
#define PP_FQDN_MAX 254                    /* 253 characters (RFC 1035 section 2.3.4) + NUL */

/* From /proc/net/route text (header line, then one route a line: Iface Destination
 * Gateway Flags RefCnt Use Metric Mask MTU Window IRTT, addresses as 8 hex digits): the
 * interface of the default route (Destination and Mask 00000000, flag RTF_UP) with the
 * lowest Metric; the first of equals. -PP_ENOTFOUND when there is none; -PP_EINVAL for a
 * malformed line (named by number); -PP_ETOOBIG over PP_HOSTADDR_ROUTE_MAX bytes or a
 * line over PP_HOSTADDR_LINE_MAX. Pure: reads only text[0..len). */
int pp_default_route_iface(const char *text, size_t len, char ifname[IFNAMSIZ],
			   struct pp_err *err) PP_WUR;

/* The first IPv4 address of interface ifname (getifaddrs). -PP_ENOTFOUND when it has
 * none or does not exist. */
int pp_iface_ipv4(const char *ifname, uint8_t ip[4], struct pp_err *err) PP_WUR;

/* Whether ip is one of this host's addresses: every address of 127.0.0.0/8 is (Linux
 * routes the whole block to lo), any other must sit on an interface (getifaddrs).
 * -PP_ENOTFOUND when it is not. */
int pp_host_owns_ipv4(const uint8_t ip[4], struct pp_err *err) PP_WUR;

/* The search domain of resolv.conf text (resolv.conf(5): "domain NAME", or the first
 * name of "search NAME..."; the keywords exclude each other and the last one wins).
 * out[0] = 0 when there is none. -PP_EINVAL when the name found is not a DNS name. */
int pp_resolv_domain(const char *text, size_t len, char *out, size_t cap,
		     struct pp_err *err) PP_WUR;

/* Pure: the host name `host` as is when it holds a dot; otherwise host.nis_domain when
 * nis_domain is set (not NULL, "" or "(none)"), else host.resolv_domain when that is
 * not empty, else host alone. A trailing dot is dropped; the result must be a DNS name
 * (pp_valid_fqdn) that fits cap. */
int pp_fqdn_compose(const char *host, const char *nis_domain, const char *resolv_domain, char *out,
		    size_t cap, struct pp_err *err) PP_WUR;

/* The host's name: gethostname(), getdomainname(), and resolv_path (NULL: the system's
 * resolv.conf; a missing file means no domain) through pp_fqdn_compose. */
int pp_host_fqdn_at(const char *resolv_path, char *out, size_t cap, struct pp_err *err) PP_WUR;
int pp_host_fqdn(char *out, size_t cap, struct pp_err *err) PP_WUR;

/* The address the host is managed at: the default route's interface read from
 * route_path (NULL: /proc/net/route), its first IPv4 address, and the host's name
 * (fqdn, PP_FQDN_MAX bytes). A host without a default route is -PP_ENOTFOUND, said in
 * words. */
int pp_host_mgmt_address(const char *route_path, uint8_t ip[4], char ifname[IFNAMSIZ],
			 char fqdn[PP_FQDN_MAX], struct pp_err *err) PP_WUR;

#endif
