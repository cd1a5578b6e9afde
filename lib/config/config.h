/* The data-directory configuration file (pskprov.conf, INI via inih).
 *
 * Every key is known: an unknown section or key, a malformed or out-of-range value is
 * an error naming the file line. Values not given keep their defaults. */
#ifndef PSKPROV_CONFIG_CONFIG_H
#define PSKPROV_CONFIG_CONFIG_H

#include <stdbool.h>
#include <stdint.h>

#include "core/err.h"

#define PP_CONFIG_FILE "pskprov.conf"
#define PP_CONFIG_MAX_BYTES (64 * 1024)

enum pp_store_backend { PP_BACKEND_SQLITE = 0, PP_BACKEND_POSTGRES = 1 };

struct pp_config {
	/* [server] */
	uint8_t hello_ip[4];
	uint16_t hello_port; /* 9971 */
	uint8_t api_ip[4];
	uint16_t api_port;         /* 8971 */
	uint16_t device_port;      /* 16993 */
	uint16_t device_http_port; /* 16992: a provisioned device's WS-Management */
	char tls_profile[16];      /* compat (default) | tls12 | tls13 | amt-legacy */
	uint32_t workers;          /* event-loop threads */
	uint32_t max_sessions;
	uint32_t admission_floor; /* sessions admitted at least (0: all runnable at once) */
	uint32_t connect_timeout_ms;
	uint32_t io_timeout_ms;
	uint32_t exchange_timeout_ms; /* one request and its whole answer */
	uint32_t session_timeout_ms;  /* one device session, from connect to the end */
	uint32_t hello_deadline_ms;   /* a whole hello, from accept to its last byte */
	uint32_t hello_per_source;    /* hello connections at once from one address */
	uint32_t hello_max_conns;     /* hello connections at once (0: from the budget) */
	uint32_t api_max_conns;       /* API connections at once (0: from the budget) */
	uint32_t hello_rate_per_min;  /* per source address */
	uint32_t api_rate;            /* API requests a second, per token */
	uint32_t api_burst;           /* API requests in a burst, per token */
	uint32_t lease_seconds;
	uint32_t max_attempts;
	uint32_t drain_seconds; /* SIGTERM: how long sessions in flight may finish */
	uint32_t log_level;     /* 0 debug, 1 info, 2 warn, 3 error (pp_config_log_levels) */
	/* [store] */
	enum pp_store_backend backend;
	char postgres_url[512];
	/* [provision] */
	char admin_user[33];
	uint32_t admin_password_length;
	char host_name_template[64]; /* "{pid}" and "{uuid8}" are replaced */
	char domain[254];
	bool rotate_psk;
	bool set_time;
	/* [keys] */
	uint32_t mebx_password_length;
	uint32_t lockout_failures; /* handshake failures before a PID locks */
	uint32_t lockout_seconds;
};

void pp_config_defaults(struct pp_config *c);
/* Parses INI text over the current values of c (call pp_config_defaults first).
 * `name` is used in messages ("pskprov.conf:12: ..."). */
int pp_config_parse(struct pp_config *c, const char *text, const char *name,
		    struct pp_err *err) PP_WUR;
int pp_config_load(struct pp_config *c, const char *path, struct pp_err *err) PP_WUR;
/* The log_level names, by value. */
extern const char *const pp_config_log_levels[4];

/* SIGHUP. file is the configuration as the file said at start (or at the last reload),
 * fresh the file read again, live what the server runs with (the file with the command
 * line over it). The keys a running server applies without a restart (the timeouts:
 * connect, io, exchange, session; max_sessions, drain_seconds, log_level) that differ
 * between file and fresh are copied into live and file; returns how many. The other
 * keys that differ are left as they were and named in restart ("hello, tls_profile";
 * empty when none; cut short when cap is too small), again at every reload until the
 * server restarts. */
int pp_config_reload(struct pp_config *live, struct pp_config *file, const struct pp_config *fresh,
		     char *restart, size_t cap);

/* The default file that `pskprov init` writes, with every key commented. */
const char *pp_config_default_text(void);

#endif
