#include "config/config.h"

#include <ini.h>
#include <stdio.h>
#include <stddef.h>
#include <string.h>

#include "core/bytes.h"
#include "core/fileio.h"
#include "core/parse.h"

/* The TLS profiles of lib/tls (pp_tls_profile_parse), the default first: this module
 * does not link that one, and the server parses the value again with it at start. */
static const char *const tls_profiles[] = {"compat", "tls12", "tls13", "amt-legacy"};

const char *const pp_config_log_levels[4] = {"debug", "info", "warn", "error"};

void pp_config_defaults(struct pp_config *c)
{
	memset(c, 0, sizeof(*c));
	c->hello_ip[0] = 127;
	c->hello_ip[3] = 1;
	c->hello_port = 9971;
	c->api_ip[0] = 127;
	c->api_ip[3] = 1;
	c->api_port = 8971;
	c->device_port = 16993;
	c->device_http_port = 16992;
	snprintf(c->tls_profile, sizeof(c->tls_profile), "%s", tls_profiles[0]);
	c->workers = 2;
	c->max_sessions = 20000;
	c->admission_floor = 64;
	c->connect_timeout_ms = 5000;
	c->io_timeout_ms = 10000;
	c->exchange_timeout_ms = 30000;
	c->session_timeout_ms = 300000;
	c->hello_deadline_ms = 5000;
	c->hello_per_source = 8;
	c->hello_rate_per_min = 30;
	c->api_rate = 50;
	c->api_burst = 200;
	c->lease_seconds = 60;
	c->max_attempts = 5;
	c->drain_seconds = 10;
	c->log_level = 1;
	c->backend = PP_BACKEND_SQLITE;
	snprintf(c->admin_user, sizeof(c->admin_user), "admin");
	c->admin_password_length = 20;
	snprintf(c->host_name_template, sizeof(c->host_name_template), "amt-{pid}");
	snprintf(c->domain, sizeof(c->domain), "example.test");
	c->rotate_psk = true;
	c->set_time = true;
	c->mebx_password_length = 16;
	c->lockout_failures = 5;
	c->lockout_seconds = 900;
}

const char *pp_config_default_text(void)
{
	return "# pskprov configuration. Every key is optional; shown with its default.\n"
	       "\n"
	       "[server]\n"
	       "# hello = 127.0.0.1:9971        ; AMT hello listener (TCP)\n"
	       "# api = 127.0.0.1:8971          ; HTTP API, loopback by default\n"
	       "# device_port = 16993           ; device TLS-PSK port\n"
	       "# device_http_port = 16992      ; a provisioned device's HTTP port\n"
	       "# tls_profile = compat          ; compat: TLS 1.2 ECDHE-PSK first, then the AMT\n"
	       "#                               ; firmware suites (TLS 1.0, PSK-AES-CBC-SHA);\n"
	       "#                               ; tls12: strict modern-only, refuses legacy;\n"
	       "#                               ; tls13; amt-legacy: the AMT suites only\n"
	       "# workers = 2                   ; event-loop threads\n"
	       "# max_sessions = 20000          ; device sessions at once\n"
	       "# admission_floor = 64          ; sessions admitted at least; more as measured\n"
	       "#                               ; throughput x latency allows; 0: all at once\n"
	       "# connect_timeout_ms = 5000\n"
	       "# io_timeout_ms = 10000         ; idle: no byte for this long\n"
	       "# exchange_timeout_ms = 30000   ; one request and its whole answer\n"
	       "# session_timeout_ms = 300000   ; one device session, whatever it does\n"
	       "# hello_deadline_ms = 5000      ; a whole hello, from accept to its last byte\n"
	       "# hello_per_source = 8          ; hello connections at once from one address\n"
	       "# hello_max_conns = 0           ; hello connections at once (0: from the\n"
	       "#                               ; descriptor budget, at most 4096)\n"
	       "# api_max_conns = 0             ; API connections at once (0: budget, <= 256)\n"
	       "# hello_rate_per_min = 30       ; per source address\n"
	       "# api_rate = 50                 ; API requests a second, per token\n"
	       "# api_burst = 200               ; API requests in a burst, per token\n"
	       "# lease_seconds = 60            ; job lease\n"
	       "# max_attempts = 5              ; per job, then it fails\n"
	       "# drain_seconds = 10            ; SIGTERM: sessions in flight may finish\n"
	       "# log_level = info              ; debug | info | warn | error (reloaded on\n"
	       "#                               ; SIGHUP; --log-level wins at start)\n"
	       "\n"
	       "[store]\n"
	       "# backend = sqlite              ; sqlite | postgres\n"
	       "# postgres_url =                ; libpq conninfo, no password here\n"
	       "\n"
	       "[provision]\n"
	       "# admin_user = admin\n"
	       "# admin_password_length = 20\n"
	       "# host_name_template = amt-{pid}   ; {pid} and {uuid8} are replaced\n"
	       "# domain = example.test\n"
	       "# rotate_psk = true             ; SetTLSPSK with a fresh key\n"
	       "# set_time = true\n"
	       "\n"
	       "[keys]\n"
	       "# mebx_password_length = 16\n"
	       "# lockout_failures = 5\n"
	       "# lockout_seconds = 900\n";
}

struct parse_ctx {
	struct pp_config *c;
	const char *name;
	struct pp_err *err;
	int rc;
};

static int set_str(char *dst, size_t cap, const char *v, struct pp_err *err)
{
	size_t n = strlen(v);
	if (n >= cap)
		return pp_err_set(err, PP_EINVAL, "value longer than %zu characters", cap - 1);
	memcpy(dst, v, n + 1);
	return 0;
}

static int set_bool(bool *dst, const char *v, struct pp_err *err)
{
	if (!strcmp(v, "true") || !strcmp(v, "yes") || !strcmp(v, "1"))
		*dst = true;
	else if (!strcmp(v, "false") || !strcmp(v, "no") || !strcmp(v, "0"))
		*dst = false;
	else
		return pp_err_set(err, PP_EINVAL, "'%.32s' is not true or false", v);
	return 0;
}

static int set_port(uint16_t *dst, const char *v, const char *key, struct pp_err *err)
{
	uint32_t p;
	int rc = pp_parse_u32(v, 1, 65535, &p, key, err);
	if (rc == 0)
		*dst = (uint16_t)p;
	return rc;
}

/* The whole-number keys as data: section, key, range, field. */
static const struct u32_key {
	const char *sec, *key;
	uint32_t min, max;
	size_t off;
} u32_keys[] = {
    {"server", "workers", 1, 64, offsetof(struct pp_config, workers)},
    {"server", "max_sessions", 1, 1000000, offsetof(struct pp_config, max_sessions)},
    {"server", "admission_floor", 0, 1000000, offsetof(struct pp_config, admission_floor)},
    {"server", "connect_timeout_ms", 10, 600000, offsetof(struct pp_config, connect_timeout_ms)},
    {"server", "io_timeout_ms", 10, 600000, offsetof(struct pp_config, io_timeout_ms)},
    {"server", "exchange_timeout_ms", 10, 600000, offsetof(struct pp_config, exchange_timeout_ms)},
    {"server", "session_timeout_ms", 100, 3600000, offsetof(struct pp_config, session_timeout_ms)},
    {"server", "hello_deadline_ms", 100, 600000, offsetof(struct pp_config, hello_deadline_ms)},
    {"server", "hello_per_source", 1, 65536, offsetof(struct pp_config, hello_per_source)},
    {"server", "hello_max_conns", 0, 1000000, offsetof(struct pp_config, hello_max_conns)},
    {"server", "api_max_conns", 0, 1000000, offsetof(struct pp_config, api_max_conns)},
    {"server", "hello_rate_per_min", 1, 1000000, offsetof(struct pp_config, hello_rate_per_min)},
    {"server", "api_rate", 1, 100000, offsetof(struct pp_config, api_rate)},
    {"server", "api_burst", 1, 1000000, offsetof(struct pp_config, api_burst)},
    {"server", "lease_seconds", 1, 86400, offsetof(struct pp_config, lease_seconds)},
    {"server", "max_attempts", 1, 1000, offsetof(struct pp_config, max_attempts)},
    {"server", "drain_seconds", 0, 3600, offsetof(struct pp_config, drain_seconds)},
    {"provision", "admin_password_length", 8, 32,
     offsetof(struct pp_config, admin_password_length)},
    {"keys", "mebx_password_length", 8, 32, offsetof(struct pp_config, mebx_password_length)},
    {"keys", "lockout_failures", 1, 1000, offsetof(struct pp_config, lockout_failures)},
    {"keys", "lockout_seconds", 1, 86400 * 30, offsetof(struct pp_config, lockout_seconds)},
};

static int apply(struct pp_config *c, const char *sec, const char *key, const char *v,
		 struct pp_err *err)
{
#define IS(s, k) (!strcmp(sec, s) && !strcmp(key, k))
	for (size_t i = 0; i < sizeof(u32_keys) / sizeof(u32_keys[0]); i++) {
		const struct u32_key *u = &u32_keys[i];
		if (IS(u->sec, u->key))
			return pp_parse_u32(v, u->min, u->max, (uint32_t *)((char *)c + u->off),
					    key, err);
	}
	if (IS("server", "hello"))
		return pp_parse_ipv4_port(v, c->hello_ip, &c->hello_port, key, err);
	if (IS("server", "api"))
		return pp_parse_ipv4_port(v, c->api_ip, &c->api_port, key, err);
	if (IS("server", "device_port"))
		return set_port(&c->device_port, v, key, err);
	if (IS("server", "device_http_port"))
		return set_port(&c->device_http_port, v, key, err);
	if (IS("server", "tls_profile")) {
		for (size_t i = 0; i < sizeof(tls_profiles) / sizeof(tls_profiles[0]); i++) {
			if (strcmp(v, tls_profiles[i]) == 0)
				return set_str(c->tls_profile, sizeof(c->tls_profile), v, err);
		}
		return pp_err_set(err, PP_EINVAL,
				  "tls_profile: '%.32s' is not compat, tls12, tls13 or amt-legacy",
				  v);
	}
	if (IS("server", "log_level")) {
		for (uint32_t i = 0; i < 4; i++)
			if (!strcmp(v, pp_config_log_levels[i])) {
				c->log_level = i;
				return 0;
			}
		return pp_err_set(err, PP_EINVAL,
				  "log_level: '%.32s' is not debug, info, warn or error", v);
	}
	if (IS("store", "backend")) {
		if (!strcmp(v, "sqlite"))
			c->backend = PP_BACKEND_SQLITE;
		else if (!strcmp(v, "postgres"))
			c->backend = PP_BACKEND_POSTGRES;
		else
			return pp_err_set(err, PP_EINVAL,
					  "backend: '%.32s' is not sqlite or postgres", v);
		return 0;
	}
	if (IS("store", "postgres_url"))
		return set_str(c->postgres_url, sizeof(c->postgres_url), v, err);
	if (IS("provision", "admin_user")) {
		if (!*v)
			return pp_err_set(err, PP_EINVAL, "admin_user: empty");
		for (const char *p = v; *p; p++)
			if (*p <= ' ' || *p > '~' || *p == ':' || *p == '"')
				return pp_err_set(err, PP_EINVAL,
						  "admin_user: character %zu is not allowed",
						  (size_t)(p - v) + 1);
		return set_str(c->admin_user, sizeof(c->admin_user), v, err);
	}
	if (IS("provision", "host_name_template"))
		return set_str(c->host_name_template, sizeof(c->host_name_template), v, err);
	if (IS("provision", "domain")) {
		if (!pp_valid_fqdn(v))
			return pp_err_set(err, PP_EINVAL, "domain: '%.64s' is not a DNS name", v);
		return set_str(c->domain, sizeof(c->domain), v, err);
	}
	if (IS("provision", "rotate_psk"))
		return set_bool(&c->rotate_psk, v, err);
	if (IS("provision", "set_time"))
		return set_bool(&c->set_time, v, err);
#undef IS
	return pp_err_set(err, PP_EINVAL, "unknown key '%.32s' in [%.32s]", key, sec);
}

static int on_entry(void *user, const char *section, const char *key, const char *value
#if INI_HANDLER_LINENO
		    ,
		    int lineno
#endif
)
{
	struct parse_ctx *pc = user;
	if (pc->rc < 0)
		return 0;
	pc->rc = apply(pc->c, section, key, value, pc->err);
	if (pc->rc < 0) {
		(void)pp_err_prefix(pc->err, "%s", pc->name);
		return 0;
	}
	return 1;
}

int pp_config_parse(struct pp_config *c, const char *text, const char *name, struct pp_err *err)
{
	struct pp_err local;
	struct parse_ctx pc = {.c = c, .name = name, .err = err ? err : &local, .rc = 0};
	if (strlen(text) > PP_CONFIG_MAX_BYTES)
		return pp_err_set(err, PP_ETOOBIG, "%s: larger than %d bytes", name,
				  PP_CONFIG_MAX_BYTES);
	int line = ini_parse_string(text, on_entry, &pc);
	if (pc.rc < 0) {
		/* inih stops at the first handler error and returns its line. */
		if (line > 0 && err) {
			char msg[sizeof(err->msg)];
			memcpy(msg, err->msg, sizeof(msg));
			/* Replace "name: ..." with "name:LINE: ...". */
			size_t nl = strlen(name);
			if (!strncmp(msg, name, nl) && msg[nl] == ':')
				return pp_err_set(err, PP_EINVAL, "%s:%d:%s", name, line,
						  msg + nl + 1);
		}
		return pc.rc;
	}
	if (line != 0)
		return pp_err_set(err, PP_EINVAL, "%s:%d: not a section, key = value or comment",
				  name, line);
	return 0;
}

int pp_config_load(struct pp_config *c, const char *path, struct pp_err *err)
{
	struct pp_buf b;
	pp_buf_init(&b, PP_CONFIG_MAX_BYTES);
	int rc = pp_file_read(path, PP_CONFIG_MAX_BYTES, &b, err);
	if (rc == 0)
		rc = pp_buf_cstr(&b);
	if (rc == 0) {
		if (memchr(b.data, '\0', b.len))
			rc = pp_err_set(err, PP_EINVAL, "%s: contains a NUL byte", path);
		else
			rc = pp_config_parse(c, (const char *)b.data, path, err);
	} else if (err && !err->msg[0]) {
		rc = pp_err_set(err, PP_EIO, "%s: cannot read", path);
	}
	pp_buf_free(&b);
	return rc;
}

/* Every key by its field, and whether a running server takes a new value (SIGHUP). */
#define FIELD(name, f, live)                                                                       \
	{                                                                                          \
		name, offsetof(struct pp_config, f), sizeof(((struct pp_config *)0)->f), live,     \
		    false                                                                          \
	}
#define SFIELD(name, f, live)                                                                      \
	{                                                                                          \
		name, offsetof(struct pp_config, f), sizeof(((struct pp_config *)0)->f), live,     \
		    true                                                                           \
	}
static const struct field {
	const char *name;
	size_t off, size;
	bool live, str;
} fields[] = {
    FIELD("hello", hello_ip, false),
    FIELD("hello", hello_port, false),
    FIELD("api", api_ip, false),
    FIELD("api", api_port, false),
    FIELD("device_port", device_port, false),
    FIELD("device_http_port", device_http_port, false),
    SFIELD("tls_profile", tls_profile, false),
    FIELD("workers", workers, false),
    FIELD("max_sessions", max_sessions, true),
    FIELD("admission_floor", admission_floor, true),
    FIELD("connect_timeout_ms", connect_timeout_ms, true),
    FIELD("io_timeout_ms", io_timeout_ms, true),
    FIELD("exchange_timeout_ms", exchange_timeout_ms, true),
    FIELD("session_timeout_ms", session_timeout_ms, true),
    FIELD("hello_deadline_ms", hello_deadline_ms, false),
    FIELD("hello_per_source", hello_per_source, false),
    FIELD("hello_max_conns", hello_max_conns, false),
    FIELD("api_max_conns", api_max_conns, false),
    FIELD("hello_rate_per_min", hello_rate_per_min, false),
    FIELD("api_rate", api_rate, false),
    FIELD("api_burst", api_burst, false),
    FIELD("lease_seconds", lease_seconds, false),
    FIELD("max_attempts", max_attempts, false),
    FIELD("drain_seconds", drain_seconds, true),
    FIELD("log_level", log_level, true),
    FIELD("backend", backend, false),
    SFIELD("postgres_url", postgres_url, false),
    SFIELD("admin_user", admin_user, false),
    FIELD("admin_password_length", admin_password_length, false),
    SFIELD("host_name_template", host_name_template, false),
    SFIELD("domain", domain, false),
    FIELD("rotate_psk", rotate_psk, false),
    FIELD("set_time", set_time, false),
    FIELD("mebx_password_length", mebx_password_length, false),
    FIELD("lockout_failures", lockout_failures, false),
    FIELD("lockout_seconds", lockout_seconds, false),
};
#undef FIELD
#undef SFIELD

static bool field_differs(const struct field *f, const char *a, const char *b)
{
	/* Strings compare up to their NUL: what follows it is not part of the value. */
	if (f->str)
		return strncmp(a, b, f->size) != 0;
	return memcmp(a, b, f->size) != 0;
}

int pp_config_reload(struct pp_config *live, struct pp_config *file, const struct pp_config *fresh,
		     char *restart, size_t cap)
{
	int changed = 0;
	size_t used = 0;
	const char *last = NULL;
	if (cap)
		restart[0] = '\0';
	for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++) {
		const struct field *f = &fields[i];
		const char *src = (const char *)fresh + f->off;
		if (!field_differs(f, (const char *)file + f->off, src))
			continue;
		if (f->live) {
			memcpy((char *)live + f->off, src, f->size);
			memcpy((char *)file + f->off, src, f->size);
			changed++;
			continue;
		}
		if (last == f->name || used + 1 >= cap) /* hello and api are two fields each */
			continue;
		last = f->name;
		int n = snprintf(restart + used, cap - used, "%s%s", used ? ", " : "", f->name);
		if (n > 0 && (size_t)n < cap - used)
			used += (size_t)n;
		else
			restart[used] = '\0';
	}
	return changed;
}
