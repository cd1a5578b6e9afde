/* One grammar for every "--server"-like option: [http://]IPV4[:PORT][/PATH]. */
#ifndef PSKPROV_CORE_ADDRESS_H
#define PSKPROV_CORE_ADDRESS_H

#include <stdint.h>

#include "core/err.h"

enum {
	PP_ADDR_LOOPBACK = 1, /* the host must be in 127.0.0.0/8 */
	PP_ADDR_ANY_OK = 2,   /* with LOOPBACK: 0.0.0.0 (this host) is accepted too */
	PP_ADDR_PATH = 4,     /* a path (and query) may follow; else a path is refused */
	PP_ADDR_PATH_MAX = 1023,
};

struct pp_address {
	uint8_t ip[4];
	uint16_t port;
	char host[16];                   /* dotted quad */
	char path[PP_ADDR_PATH_MAX + 1]; /* "" when none was given */
	char hostport[24];               /* "127.0.0.1:8971" */
};

/* Parses s: an optional "http://" (any case; another scheme is refused), an IPv4
 * literal (a name is refused: nothing here resolves names), an optional ":PORT"
 * (1..65535; default_port when absent) and, when flags allow it, a path. User
 * information ("user@") is refused, so no credential can sit in argv. `what` names the
 * option in the error ("--server"). */
int pp_address_parse(const char *s, uint16_t default_port, unsigned flags, const char *what,
		     struct pp_address *out, struct pp_err *err) PP_WUR;

#endif
