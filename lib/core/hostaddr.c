/* The host's management address and name (core/hostaddr.h). Nothing here sends a
 * packet: the route table and resolv.conf are read as text, addresses come from
 * getifaddrs(), names from gethostname() and getdomainname(). */
#include "core/hostaddr.h"

#include <errno.h>
#include <ifaddrs.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "core/bytes.h"
#include "core/fileio.h"
#include "core/parse.h"

#define ROUTE_FIELDS 11 /* Iface ... IRTT (the kernel's fib_route_seq_show) */
#define RTF_UP_FLAG 0x0001u

/* One line of text[0..len) from *pos: [*line, *line + *n) without its '\n'. False at
 * the end of the text. */
static bool next_line(const char *text, size_t len, size_t *pos, const char **line, size_t *n)
{
	if (*pos >= len)
		return false;
	const char *start = text + *pos;
	const char *nl = memchr(start, '\n', len - *pos);
	*line = start;
	*n = nl ? (size_t)(nl - start) : len - *pos;
	*pos += *n + (nl ? 1 : 0);
	return true;
}

struct field {
	const char *s;
	size_t n;
};

/* Splits a line on blanks into at most max fields; returns the count, or max + 1 when
 * there are more. */
static size_t split_fields(const char *line, size_t n, struct field *f, size_t max)
{
	size_t count = 0, i = 0;
	while (i < n) {
		while (i < n && (line[i] == ' ' || line[i] == '\t'))
			i++;
		if (i == n)
			break;
		size_t start = i;
		while (i < n && line[i] != ' ' && line[i] != '\t')
			i++;
		if (count == max)
			return max + 1;
		f[count].s = line + start;
		f[count].n = i - start;
		count++;
	}
	return count;
}

static bool field_is(const struct field *f, const char *word)
{
	return f->n == strlen(word) && memcmp(f->s, word, f->n) == 0;
}

/* 1..max_digits hex digits. */
static bool field_hex(const struct field *f, size_t max_digits, uint32_t *out)
{
	uint32_t v = 0;
	if (f->n == 0 || f->n > max_digits)
		return false;
	for (size_t i = 0; i < f->n; i++) {
		char c = f->s[i];
		uint32_t d;
		if (c >= '0' && c <= '9')
			d = (uint32_t)(c - '0');
		else if (c >= 'A' && c <= 'F')
			d = (uint32_t)(c - 'A' + 10);
		else if (c >= 'a' && c <= 'f')
			d = (uint32_t)(c - 'a' + 10);
		else
			return false;
		v = v << 4 | d;
	}
	*out = v;
	return true;
}

/* A decimal the kernel prints with %d or %u: an optional '-', 1..10 digits; the value
 * as the kernel's u32 (a metric over INT_MAX is printed negative by %d). */
static bool field_dec(const struct field *f, uint32_t *out)
{
	size_t i = f->n && f->s[0] == '-' ? 1 : 0;
	uint64_t v = 0;
	if (f->n - i == 0 || f->n - i > 10)
		return false;
	for (; i < f->n; i++) {
		if (f->s[i] < '0' || f->s[i] > '9')
			return false;
		v = v * 10 + (uint64_t)(f->s[i] - '0');
	}
	if (f->s[0] == '-') {
		if (v > 0x80000000u)
			return false;
		*out = (uint32_t)(0x100000000u - v);
		return true;
	}
	if (v > UINT32_MAX)
		return false;
	*out = (uint32_t)v;
	return true;
}

struct route {
	struct field iface;
	uint32_t dest, flags, metric, mask;
};

/* One route line, strictly: 11 fields, addresses 8 hex digits, numbers in range. */
static int route_parse(const char *line, size_t n, size_t lineno, struct route *r,
		       struct pp_err *err)
{
	struct field f[ROUTE_FIELDS];
	uint32_t gw, num;
	size_t count = split_fields(line, n, f, ROUTE_FIELDS);
	if (count != ROUTE_FIELDS)
		return pp_err_set(err, PP_EINVAL, "route table line %zu: %s fields, expected %d",
				  lineno, count > ROUTE_FIELDS ? "more than 11" : "fewer than 11",
				  ROUTE_FIELDS);
	if (f[0].n >= IFNAMSIZ)
		return pp_err_set(err, PP_EINVAL,
				  "route table line %zu: interface name longer than %d bytes",
				  lineno, IFNAMSIZ - 1);
	for (size_t i = 0; i < f[0].n; i++)
		if (f[0].s[i] < '!' || f[0].s[i] > '~' || f[0].s[i] == '/')
			return pp_err_set(err, PP_EINVAL,
					  "route table line %zu: bad byte in the interface name",
					  lineno);
	r->iface = f[0];
	if (!field_hex(&f[1], 8, &r->dest) || f[1].n != 8 || !field_hex(&f[2], 8, &gw) ||
	    f[2].n != 8 || !field_hex(&f[7], 8, &r->mask) || f[7].n != 8)
		return pp_err_set(err, PP_EINVAL,
				  "route table line %zu: Destination, Gateway and Mask must be 8 "
				  "hex digits",
				  lineno);
	if (!field_hex(&f[3], 8, &r->flags))
		return pp_err_set(err, PP_EINVAL, "route table line %zu: Flags must be hex",
				  lineno);
	static const size_t numeric[] = {4, 5, 6, 8, 9, 10};
	for (size_t i = 0; i < sizeof(numeric) / sizeof(numeric[0]); i++)
		if (!field_dec(&f[numeric[i]], numeric[i] == 6 ? &r->metric : &num))
			return pp_err_set(err, PP_EINVAL,
					  "route table line %zu: field %zu is not a number", lineno,
					  numeric[i] + 1);
	return 0;
}

int pp_default_route_iface(const char *text, size_t len, char ifname[IFNAMSIZ], struct pp_err *err)
{
	if (len > PP_HOSTADDR_ROUTE_MAX)
		return pp_err_set(err, PP_ETOOBIG, "route table is %zu bytes; the limit is %u", len,
				  PP_HOSTADDR_ROUTE_MAX);
	if (memchr(text, '\0', len))
		return pp_err_set(err, PP_EINVAL, "route table holds a NUL byte");
	size_t pos = 0, n, lineno = 0;
	const char *line;
	bool found = false;
	struct route best = {0};
	while (next_line(text, len, &pos, &line, &n)) {
		lineno++;
		if (n > PP_HOSTADDR_LINE_MAX)
			return pp_err_set(err, PP_ETOOBIG,
					  "route table line %zu is longer than %d bytes", lineno,
					  PP_HOSTADDR_LINE_MAX);
		if (lineno == 1) {
			struct field f[ROUTE_FIELDS];
			if (split_fields(line, n, f, ROUTE_FIELDS) == 0 ||
			    !field_is(&f[0], "Iface"))
				return pp_err_set(err, PP_EINVAL,
						  "route table line 1: not the header (Iface ...)");
			continue;
		}
		struct route r;
		int rc = route_parse(line, n, lineno, &r, err);
		if (rc < 0)
			return rc;
		if (r.dest != 0 || r.mask != 0 || !(r.flags & RTF_UP_FLAG))
			continue;
		if (!found || r.metric < best.metric)
			best = r;
		found = true;
	}
	if (lineno == 0)
		return pp_err_set(err, PP_EINVAL, "route table is empty (no header line)");
	if (!found)
		return pp_err_set(err, PP_ENOTFOUND, "the host has no default route");
	memcpy(ifname, best.iface.s, best.iface.n);
	ifname[best.iface.n] = '\0';
	return 0;
}

int pp_iface_ipv4(const char *ifname, uint8_t ip[4], struct pp_err *err)
{
	struct ifaddrs *list = NULL;
	if (getifaddrs(&list) < 0)
		return pp_err_set(err, PP_EIO, "getifaddrs: %s", strerror(errno));
	int rc = pp_err_set(err, PP_ENOTFOUND, "interface %s has no IPv4 address", ifname);
	for (struct ifaddrs *a = list; a; a = a->ifa_next) {
		if (!a->ifa_addr || a->ifa_addr->sa_family != AF_INET ||
		    strcmp(a->ifa_name, ifname))
			continue;
		const struct sockaddr_in *sin = (const struct sockaddr_in *)(void *)a->ifa_addr;
		memcpy(ip, &sin->sin_addr.s_addr, 4);
		pp_err_clear(err);
		rc = 0;
		break;
	}
	freeifaddrs(list);
	return rc;
}

int pp_host_owns_ipv4(const uint8_t ip[4], struct pp_err *err)
{
	if (ip[0] == 127)
		return 0;
	struct ifaddrs *list = NULL;
	if (getifaddrs(&list) < 0)
		return pp_err_set(err, PP_EIO, "getifaddrs: %s", strerror(errno));
	int rc = pp_err_set(err, PP_ENOTFOUND, "%u.%u.%u.%u is not an address of this host", ip[0],
			    ip[1], ip[2], ip[3]);
	for (struct ifaddrs *a = list; a; a = a->ifa_next) {
		if (!a->ifa_addr || a->ifa_addr->sa_family != AF_INET)
			continue;
		const struct sockaddr_in *sin = (const struct sockaddr_in *)(void *)a->ifa_addr;
		if (memcmp(&sin->sin_addr.s_addr, ip, 4) == 0) {
			pp_err_clear(err);
			rc = 0;
			break;
		}
	}
	freeifaddrs(list);
	return rc;
}

/* Copies a name of n bytes into out, dropping one trailing dot. */
static int copy_name(const char *s, size_t n, char *out, size_t cap, const char *what,
		     struct pp_err *err)
{
	if (n && s[n - 1] == '.')
		n--;
	if (n >= cap)
		return pp_err_set(err, PP_ETOOBIG, "%s is longer than %zu bytes", what, cap - 1);
	memcpy(out, s, n);
	out[n] = '\0';
	return 0;
}

int pp_resolv_domain(const char *text, size_t len, char *out, size_t cap, struct pp_err *err)
{
	if (cap == 0)
		return pp_err_set(err, PP_EINVAL, "resolv.conf: no room for the domain");
	out[0] = '\0';
	if (len > PP_HOSTADDR_RESOLV_MAX)
		return pp_err_set(err, PP_ETOOBIG, "resolv.conf is %zu bytes; the limit is %u", len,
				  PP_HOSTADDR_RESOLV_MAX);
	size_t pos = 0, n, lineno = 0;
	const char *line;
	struct field last = {0};
	size_t last_line = 0;
	while (next_line(text, len, &pos, &line, &n)) {
		struct field f[2];
		lineno++;
		/* Over-long lines and comments are the resolver's business: skipped. */
		if (n > PP_HOSTADDR_LINE_MAX || memchr(line, '\0', n))
			continue;
		size_t count = split_fields(line, n, f, 2);
		if (count < 2 || f[0].s[0] == '#' || f[0].s[0] == ';')
			continue;
		if (field_is(&f[0], "domain") || field_is(&f[0], "search")) {
			last = f[1];
			last_line = lineno;
		}
	}
	if (last.n == 0 || (last.n == 1 && last.s[0] == '.'))
		return 0; /* "search ." means no search domain */
	char name[PP_FQDN_MAX];
	if (copy_name(last.s, last.n, name, sizeof(name), "resolv.conf's domain", err) < 0)
		return pp_err_prefix(err, "resolv.conf line %zu", last_line);
	if (!pp_valid_fqdn(name))
		return pp_err_set(err, PP_EINVAL, "resolv.conf line %zu: '%.64s' is not a DNS name",
				  last_line, name);
	return copy_name(name, strlen(name), out, cap, "resolv.conf's domain", err);
}

int pp_fqdn_compose(const char *host, const char *nis_domain, const char *resolv_domain, char *out,
		    size_t cap, struct pp_err *err)
{
	char name[PP_FQDN_MAX];
	if (!host || !host[0])
		return pp_err_set(err, PP_EINVAL, "the host has no name");
	if (copy_name(host, strlen(host), name, sizeof(name), "the host name", err) < 0)
		return -PP_ETOOBIG;
	const char *domain = NULL;
	if (!strchr(name, '.')) {
		if (nis_domain && nis_domain[0] && strcmp(nis_domain, "(none)") != 0)
			domain = nis_domain;
		else if (resolv_domain && resolv_domain[0])
			domain = resolv_domain;
	}
	char full[PP_FQDN_MAX + 1];
	int w = domain ? snprintf(full, sizeof(full), "%s.%s", name, domain)
		       : snprintf(full, sizeof(full), "%s", name);
	if (w < 0 || (size_t)w >= sizeof(full))
		return pp_err_set(err, PP_ETOOBIG,
				  "host name '%.64s' with domain '%.64s' is "
				  "longer than 253 bytes",
				  name, domain ? domain : "");
	if (copy_name(full, (size_t)w, name, sizeof(name), "the host name", err) < 0)
		return -PP_ETOOBIG;
	if (!pp_valid_fqdn(name))
		return pp_err_set(err, PP_EINVAL, "host name '%.80s' is not a DNS name", name);
	return copy_name(name, strlen(name), out, cap, "the host name", err);
}

int pp_host_fqdn_at(const char *resolv_path, char *out, size_t cap, struct pp_err *err)
{
	char host[PP_FQDN_MAX + 1] = "", nis[PP_FQDN_MAX + 1] = "", resolv[PP_FQDN_MAX] = "";
	if (gethostname(host, sizeof(host) - 1) < 0)
		return pp_err_set(err, PP_EIO, "gethostname: %s", strerror(errno));
	if (getdomainname(nis, sizeof(nis) - 1) < 0)
		nis[0] = '\0';
	const char *path = resolv_path ? resolv_path : PP_HOSTADDR_RESOLV_PATH;
	struct pp_buf text;
	pp_buf_init(&text, PP_HOSTADDR_RESOLV_MAX);
	int rc = pp_file_read(path, PP_HOSTADDR_RESOLV_MAX, &text, err);
	if (rc == -PP_ENOTFOUND)
		rc = 0; /* no resolver configuration: no domain */
	else if (rc == 0)
		rc = pp_resolv_domain(text.data ? (const char *)text.data : "", text.len, resolv,
				      sizeof(resolv), err);
	pp_buf_free(&text);
	if (rc < 0)
		return rc;
	pp_err_clear(err);
	return pp_fqdn_compose(host, nis, resolv, out, cap, err);
}

int pp_host_fqdn(char *out, size_t cap, struct pp_err *err)
{
	return pp_host_fqdn_at(NULL, out, cap, err);
}

int pp_host_mgmt_address(const char *route_path, uint8_t ip[4], char ifname[IFNAMSIZ],
			 char fqdn[PP_FQDN_MAX], struct pp_err *err)
{
	const char *path = route_path ? route_path : PP_HOSTADDR_ROUTE_PATH;
	struct pp_buf text;
	pp_buf_init(&text, PP_HOSTADDR_ROUTE_MAX);
	int rc = pp_file_read(path, PP_HOSTADDR_ROUTE_MAX, &text, err);
	if (rc < 0) {
		pp_buf_free(&text);
		return rc;
	}
	rc =
	    pp_default_route_iface(text.data ? (const char *)text.data : "", text.len, ifname, err);
	pp_buf_free(&text);
	if (rc == -PP_ENOTFOUND)
		return pp_err_set(err, PP_ENOTFOUND,
				  "the host has no default route (%s lists none that is up), so "
				  "it has no management address to report",
				  path);
	if (rc < 0)
		return pp_err_prefix(err, "%s", path);
	if ((rc = pp_iface_ipv4(ifname, ip, err)) < 0)
		return pp_err_prefix(err, "the default route's interface");
	return pp_host_fqdn(fqdn, PP_FQDN_MAX, err);
}
