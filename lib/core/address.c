/* [http://]IPV4[:PORT][/PATH] (address.h). */
#include "core/address.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "core/parse.h"

/* Skips "http://"; refuses any other "scheme://". */
static int take_scheme(const char **s, const char *what, struct pp_err *err)
{
	const char *sep = strstr(*s, "://");
	if (!sep)
		return 0;
	if ((size_t)(sep - *s) == 4 && !strncasecmp(*s, "http", 4)) {
		*s = sep + 3;
		return 0;
	}
	return pp_err_set(err, PP_EINVAL, "%s: only http:// URLs are supported (got '%.*s://')",
			  what, (int)((sep - *s) < 16 ? (sep - *s) : 16), *s);
}

static int take_host(const char **s, const char *what, struct pp_address *a, struct pp_err *err)
{
	size_t n = strcspn(*s, ":/?#");
	char host[32];
	if (memchr(*s, '@', strcspn(*s, "/?#")))
		return pp_err_set(err, PP_EINVAL,
				  "%s: user information in the URL is refused (credentials "
				  "never go on the command line)",
				  what);
	if (n == 0 || n >= sizeof(host))
		return pp_err_set(err, PP_EINVAL,
				  "%s: expected an IPv4 address such as 127.0.0.1 (forms: IPV4, "
				  "IPV4:PORT, http://IPV4[:PORT][/PATH])",
				  what);
	memcpy(host, *s, n);
	host[n] = '\0';
	if (pp_parse_ipv4(host, a->ip, what, NULL) < 0)
		return pp_err_set(err, PP_EINVAL,
				  "%s: the host must be an IPv4 address such as 127.0.0.1, not "
				  "'%.31s' (names are not resolved)",
				  what, host);
	*s += n;
	return 0;
}

static int take_port(const char **s, uint16_t default_port, const char *what, struct pp_address *a,
		     struct pp_err *err)
{
	a->port = default_port;
	if (**s != ':')
		return 0;
	size_t n = strcspn(*s + 1, "/?#");
	char digits[8];
	uint32_t v;
	if (n == 0 || n >= sizeof(digits))
		return pp_err_set(err, PP_EINVAL, "%s: the port must be 1 to 65535", what);
	memcpy(digits, *s + 1, n);
	digits[n] = '\0';
	if (pp_parse_u32(digits, 1, 65535, &v, what, NULL) < 0)
		return pp_err_set(err, PP_EINVAL, "%s: the port must be 1 to 65535", what);
	a->port = (uint16_t)v;
	*s += 1 + n;
	return 0;
}

static int take_path(const char *s, unsigned flags, const char *what, struct pp_address *a,
		     struct pp_err *err)
{
	if (!*s)
		return 0;
	if (!(flags & PP_ADDR_PATH))
		return pp_err_set(err, PP_EINVAL, "%s: no path is expected here (got '%.40s')",
				  what, s);
	if (*s != '/')
		return pp_err_set(err, PP_EINVAL, "%s: the path must begin with '/'", what);
	if (strlen(s) > PP_ADDR_PATH_MAX)
		return pp_err_set(err, PP_ETOOBIG, "%s: path over %d bytes", what,
				  PP_ADDR_PATH_MAX);
	for (const char *p = s; *p; p++)
		if ((unsigned char)*p <= 0x20 || *p == 0x7f)
			return pp_err_set(err, PP_EINVAL,
					  "%s: the path holds a space or control character", what);
	memcpy(a->path, s, strlen(s) + 1);
	return 0;
}

static int check_loopback(unsigned flags, const char *what, const struct pp_address *a,
			  struct pp_err *err)
{
	if (!(flags & PP_ADDR_LOOPBACK) || a->ip[0] == 127)
		return 0;
	if ((flags & PP_ADDR_ANY_OK) && !(a->ip[0] | a->ip[1] | a->ip[2] | a->ip[3]))
		return 0;
	return pp_err_set(err, PP_EINVAL, "%s: %s is not a loopback address (127.0.0.0/8%s)", what,
			  a->host, (flags & PP_ADDR_ANY_OK) ? " or 0.0.0.0" : "");
}

int pp_address_parse(const char *s, uint16_t default_port, unsigned flags, const char *what,
		     struct pp_address *out, struct pp_err *err)
{
	struct pp_address a = {0};
	int rc;
	if (!s || !*s)
		return pp_err_set(err, PP_EINVAL, "%s: empty address", what);
	if ((rc = take_scheme(&s, what, err)) < 0 || (rc = take_host(&s, what, &a, err)) < 0 ||
	    (rc = take_port(&s, default_port, what, &a, err)) < 0)
		return rc;
	snprintf(a.host, sizeof(a.host), "%u.%u.%u.%u", a.ip[0], a.ip[1], a.ip[2], a.ip[3]);
	if (a.port == 0)
		return pp_err_set(err, PP_EINVAL, "%s: a port is needed (IPV4:PORT)", what);
	if ((rc = take_path(s, flags, what, &a, err)) < 0 ||
	    (rc = check_loopback(flags, what, &a, err)) < 0)
		return rc;
	snprintf(a.hostport, sizeof(a.hostport), "%s:%u", a.host, (unsigned)a.port);
	*out = a;
	return 0;
}
