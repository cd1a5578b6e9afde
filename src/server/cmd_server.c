/* pskprov server: runs the configuration server until SIGTERM/SIGINT (a drain), SIGHUP
 * reloads its configuration (service.c). */
#include <event2/event.h>
#include <event2/thread.h>
#include <getopt.h>
#include <malloc.h>
#include <signal.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "prog/commands.h"
#include "core/clock.h"
#include "core/fileio.h"
#include "core/parse.h"
#include "core/secret.h"
#include "keys/keys.h"
#include "server/auth.h"
#include "server/api_call.h"
#include "server/server.h"
#include "server/service.h"
#include "server/session.h"
#include "store/store.h"
#include "prog/log.h"

static void server_usage(FILE *out)
{
	fprintf(out,
		"usage: pskprov server [--hello IP:PORT] [--api IP:PORT] [--device-port N]\n"
		"                      [--device-http-port N] [--profile P] [--log-level L]\n"
		"                      [--exit-when-idle] [--hello-deadline-ms N]\n"
		"                      [--hello-max-conns N] [--hello-per-source N]\n"
		"                      [--api-max-conns N] [--log-format F] [--print-routes]\n\n"
		"Receives hellos, connects to devices over TLS-PSK and configures them over\n"
		"WS-Management. Addresses default to the config file (loopback).\n"
		"  --profile P         TLS profile (default: tls_profile of the config, compat):\n"
		"                      compat: TLS 1.2 ECDHE-PSK first, then the AMT firmware\n"
		"                        suites (TLS 1.0, PSK-AES-CBC-SHA)\n"
		"                      tls12: strict modern-only, refuses legacy firmware\n"
		"                      tls13 | amt-legacy (the AMT suites only)\n"
		"  --log-level L       debug | info | warn | error (default: log_level of the\n"
		"                      config, info); a SIGHUP applies the file's log_level\n"
		"                      when it changed there\n"
		"  --log-format F      text | json (one object a line) | journal (native\n"
		"                      journald entries); default journal when stderr is\n"
		"                      systemd's journal stream ($JOURNAL_STREAM), else text\n"
		"  --exit-when-idle    exit once no job is runnable (tests, demo)\n"
		"  --hello-deadline-ms a whole hello within this long of the connection\n"
		"                      (default 5000)\n"
		"  --hello-max-conns   hello connections at once (default 4096, less when the\n"
		"                      descriptor limit is low); the longest idle goes first\n"
		"  --hello-per-source  hello connections at once from one address (default 8)\n"
		"  --api-max-conns     API connections at once (default 256, or less)\n"
		"  --print-routes      print the HTTP API's routes (METHOD PATH) and exit\n\n"
		"Signals: SIGTERM or SIGINT drains (no new claim or hello; sessions in flight\n"
		"get drain_seconds of the config, default 10; a second signal exits at once,\n"
		"the jobs left to their leases); SIGHUP reads the config file again (timeouts,\n"
		"max_sessions, drain_seconds, log_level; other keys need a restart).\n"
		"Under systemd (Type=notify): READY=1, WATCHDOG=1, STATUS=, STOPPING=1. The\n"
		"master key: $CREDENTIALS_DIRECTORY/master-key (a systemd credential), else\n"
		"PSKPROV_MASTER_KEY (wiped from the environment once read), else the data\n"
		"directory's master.key. One server per SQLite data directory (pskprov.lock).\n");
}

/* The admin API token: api.token in the data directory, made on first start. */
static int load_api_token(const char *dir, char out[65], struct pp_err *err)
{
	char path[4200];
	snprintf(path, sizeof(path), "%s/api.token", dir);
	struct pp_buf b;
	pp_buf_init(&b, 128);
	int rc = pp_file_read(path, 128, &b, err);
	if (rc == -PP_ENOTFOUND) {
		uint8_t raw[32];
		char hex[66];
		if (pp_random(raw, sizeof(raw)) < 0)
			return pp_err_set(err, PP_ECRYPTO, "cannot draw an API token");
		pp_hex(raw, sizeof(raw), hex);
		pp_wipe(raw, sizeof(raw));
		hex[64] = '\n';
		hex[65] = '\0';
		rc = pp_file_create(path, hex, 65, 0600, err);
		if (rc == 0) {
			memcpy(out, hex, 64);
			out[64] = '\0';
		}
		pp_wipe(hex, sizeof(hex));
		return rc;
	}
	if (rc == 0)
		rc = pp_file_check_private(path, err);
	if (rc == 0) {
		if (b.len < 64 || (b.len > 64 && !(b.len == 65 && b.data[64] == '\n')))
			rc = pp_err_set(err, PP_EINVAL, "%s: expected 64 hex digits", path);
		else {
			memcpy(out, b.data, 64);
			out[64] = '\0';
		}
	}
	pp_buf_free_wipe(&b);
	return rc;
}

#define NOFILE_RESERVE 64 /* the store, logs, listeners, the loop's own */
#define HELLO_MAX_CONNS_DEFAULT 4096
#define API_MAX_CONNS_DEFAULT 256

struct net_opts {
	uint32_t hello_deadline_ms, hello_max, hello_per_source, api_max; /* 0: default */
};

/* Raises RLIMIT_NOFILE to the hard limit and shares the descriptors out: a reserve for
 * the store and the loop, the hello and API connection caps, the rest for device
 * sessions (max_sessions lowered, with a warning, when it does not fit). */
static void net_budget(struct pp_server *s, const struct net_opts *o)
{
	struct rlimit rl;
	uint64_t nofile = 1024;
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
		if (rl.rlim_cur < rl.rlim_max) {
			struct rlimit want = {rl.rlim_max, rl.rlim_max};
			if (setrlimit(RLIMIT_NOFILE, &want) == 0)
				rl.rlim_cur = rl.rlim_max;
		}
		nofile = rl.rlim_cur == RLIM_INFINITY ? (1u << 20) : (uint64_t)rl.rlim_cur;
	}
	struct pp_net_limits *l = &s->lim;
	l->nofile = nofile;
	uint64_t avail = nofile > 2 * NOFILE_RESERVE ? nofile - NOFILE_RESERVE : nofile / 2;
	uint64_t hello = HELLO_MAX_CONNS_DEFAULT, api = API_MAX_CONNS_DEFAULT;
	if (hello > avail / 4)
		hello = avail / 4 ? avail / 4 : 1;
	if (api > avail / 8)
		api = avail / 8 ? avail / 8 : 1;
	/* The command line wins, then the configuration, then what the budget allows. */
	const struct pp_config *c = &s->cfg;
	l->hello_max_conns = o->hello_max         ? o->hello_max
			     : c->hello_max_conns ? c->hello_max_conns
						  : (uint32_t)hello;
	l->api_max_conns = o->api_max         ? o->api_max
			   : c->api_max_conns ? c->api_max_conns
					      : (uint32_t)api;
	l->hello_per_source = o->hello_per_source ? o->hello_per_source : c->hello_per_source;
	l->hello_deadline_ms = o->hello_deadline_ms ? o->hello_deadline_ms : c->hello_deadline_ms;
	uint64_t listeners = (uint64_t)l->hello_max_conns + l->api_max_conns;
	uint64_t sessions = avail > listeners ? avail - listeners : 0;
	if (sessions < 1)
		sessions = 1;
	pp_info("server",
		"descriptors: limit %llu (hard limit %llu); %u for hellos (%u per source, %u ms "
		"each), %u for the API, %llu for device sessions, %d kept for the store",
		(unsigned long long)nofile,
		(unsigned long long)(rl.rlim_max == RLIM_INFINITY ? nofile : rl.rlim_max),
		l->hello_max_conns, l->hello_per_source, l->hello_deadline_ms, l->api_max_conns,
		(unsigned long long)sessions, NOFILE_RESERVE);
	if (listeners > avail)
		pp_warn("server",
			"--hello-max-conns and --api-max-conns (%llu) exceed the %llu descriptors "
			"left: accepts will pause when descriptors run out",
			(unsigned long long)listeners, (unsigned long long)avail);
	if (s->cfg.max_sessions > sessions) {
		pp_warn("server",
			"max_sessions %u does not fit in the descriptor limit %llu: at most %llu "
			"sessions at once (raise the hard limit: ulimit -Hn)",
			s->cfg.max_sessions, (unsigned long long)nofile,
			(unsigned long long)sessions);
		s->cfg.max_sessions = (uint32_t)sessions;
	}
}

/* What the command line says; NULL and 0 leave the configuration's value. */
struct server_opts {
	const char *hello, *api, *profile;
	uint32_t dport, hport;
	enum pp_log_level lvl;
	enum pp_log_format fmt;
	bool lvl_given, fmt_given;
	bool exit_idle;
	struct net_opts net;
};

/* The numeric options as data: the letter, the name for messages, the range and where
 * the value goes. */
static const struct u32_opt {
	int letter;
	const char *name;
	uint32_t min, max;
	size_t off;
} u32_opts[] = {
    {'p', "--device-port", 1, 65535, offsetof(struct server_opts, dport)},
    {'P', "--device-http-port", 1, 65535, offsetof(struct server_opts, hport)},
    {'D', "--hello-deadline-ms", 100, 600000,
     offsetof(struct server_opts, net) + offsetof(struct net_opts, hello_deadline_ms)},
    {'M', "--hello-max-conns", 1, 1000000,
     offsetof(struct server_opts, net) + offsetof(struct net_opts, hello_max)},
    {'S', "--hello-per-source", 1, 65535,
     offsetof(struct server_opts, net) + offsetof(struct net_opts, hello_per_source)},
    {'C', "--api-max-conns", 1, 1000000,
     offsetof(struct server_opts, net) + offsetof(struct net_opts, api_max)},
};

static int parse_u32_opt(struct server_opts *o, int letter, const char *arg, struct pp_err *err,
			 bool *found)
{
	*found = false;
	for (size_t i = 0; i < sizeof(u32_opts) / sizeof(u32_opts[0]); i++) {
		if (u32_opts[i].letter != letter)
			continue;
		*found = true;
		return pp_parse_u32(arg, u32_opts[i].min, u32_opts[i].max,
				    (uint32_t *)((char *)o + u32_opts[i].off), u32_opts[i].name,
				    err);
	}
	return 0;
}

/* -1 to go on; otherwise the exit code (help, or a usage error already reported). */
static int parse_server_opts(int argc, char **argv, struct server_opts *o)
{
	static const struct option opts[] = {{"hello", required_argument, NULL, 'H'},
					     {"api", required_argument, NULL, 'A'},
					     {"device-port", required_argument, NULL, 'p'},
					     {"device-http-port", required_argument, NULL, 'P'},
					     {"profile", required_argument, NULL, 't'},
					     {"log-level", required_argument, NULL, 'l'},
					     {"log-format", required_argument, NULL, 'F'},
					     {"exit-when-idle", no_argument, NULL, 'x'},
					     {"hello-deadline-ms", required_argument, NULL, 'D'},
					     {"hello-max-conns", required_argument, NULL, 'M'},
					     {"hello-per-source", required_argument, NULL, 'S'},
					     {"api-max-conns", required_argument, NULL, 'C'},
					     {"print-routes", no_argument, NULL, 'R'},
					     {"help", no_argument, NULL, 'h'},
					     {NULL, 0, NULL, 0}};
	struct pp_err err = {0};
	bool found;
	int c;
	memset(o, 0, sizeof(*o));
	o->lvl = PP_LOG_INFO;
	while ((c = pp_getopt(argc, argv, "H:A:p:P:t:l:F:xhD:M:S:C:R", opts)) != -1) {
		if (parse_u32_opt(o, c, optarg, &err, &found) < 0)
			return pp_usage_error("server", "%s", err.msg);
		if (found)
			continue;
		switch (c) {
		case 'H':
			o->hello = optarg;
			break;
		case 'A':
			o->api = optarg;
			break;
		case 't':
			o->profile = optarg;
			break;
		case 'l':
			if (pp_log_level_parse(optarg, &o->lvl) < 0)
				return pp_usage_error("server",
						      "--log-level: '%.20s' is not debug, "
						      "info, warn or error",
						      optarg);
			o->lvl_given = true;
			break;
		case 'F':
			if (pp_log_format_parse(optarg, &o->fmt) < 0)
				return pp_usage_error("server",
						      "--log-format: '%.20s' is not text, json or "
						      "journal",
						      optarg);
			o->fmt_given = true;
			break;
		case 'x':
			o->exit_idle = true;
			break;
		case 'h':
			server_usage(stdout);
			return PP_EXIT_OK;
		case 'R':
			pp_api_print_routes(stdout);
			return PP_EXIT_OK;
		default: /* pp_getopt said what was wrong */
			return PP_EXIT_USAGE;
		}
	}
	if (optind != argc)
		return pp_usage_error("server", "unexpected argument '%.40s'", argv[optind]);
	return -1;
}

/* The configuration with the command line over it. */
static int apply_opts(struct pp_server *s, const struct server_opts *o, struct pp_err *err)
{
	s->device_http_port = s->cfg.device_http_port;
	if (o->hello &&
	    pp_parse_ipv4_port(o->hello, s->cfg.hello_ip, &s->cfg.hello_port, "--hello", err) < 0)
		return -PP_EINVAL;
	if (o->api && pp_parse_ipv4_port(o->api, s->cfg.api_ip, &s->cfg.api_port, "--api", err) < 0)
		return -PP_EINVAL;
	if (o->dport)
		s->cfg.device_port = (uint16_t)o->dport;
	if (o->hport)
		s->device_http_port = (uint16_t)o->hport;
	if (o->profile) {
		if (strlen(o->profile) >= sizeof(s->cfg.tls_profile))
			return pp_err_set(err, PP_EINVAL, "--profile: unknown profile");
		memcpy(s->cfg.tls_profile, o->profile, strlen(o->profile) + 1);
	}
	if (pp_tls_profile_parse(s->cfg.tls_profile, &s->profile, err) < 0)
		return -PP_EINVAL;
	s->exit_when_idle = o->exit_idle;
	net_budget(s, &o->net);
	return 0;
}

/* This instance's lease owner: host, process and a random part. */
static int make_owner(struct pp_server *s, struct pp_err *err)
{
	uint8_t rnd[6];
	char host[64] = "host", rhex[13];
	gethostname(host, sizeof(host) - 1);
	if (pp_random(rnd, sizeof(rnd)) < 0)
		return pp_err_set(err, PP_ECRYPTO, "no randomness");
	pp_hex(rnd, sizeof(rnd), rhex);
	snprintf(s->owner, sizeof(s->owner), "%.16s:%d:%s", host, (int)getpid(), rhex);
	return 0;
}

/* What the loop needs before it runs: tokens, the owner, randomness, TLS, the loop. */
static int server_init(struct pp_server *s, const char *dir, struct pp_err *err)
{
	int rc = load_api_token(dir, s->api_token, err);
	if (rc == 0)
		rc = make_owner(s, err);
	if (rc == 0 && pp_keygen_new(&s->keygen) < 0)
		rc = pp_err_set(err, PP_ECRYPTO, "cannot start the key generator");
	if (rc < 0)
		return rc;
	pp_server_policy_init(s);
	s->resp_scratch = calloc(1, sizeof(*s->resp_scratch));
	if (!s->resp_scratch)
		return pp_err_set(err, PP_ENOMEM, "out of memory");
	s->tls_ctx = pp_tls_server_ctx_new(s->profile, err);
	if (!s->tls_ctx)
		return -PP_ECRYPTO;
	/* Thousands of sessions mostly wait on slow devices: give the record buffers back
	 * while they do. */
	SSL_CTX_set_mode(s->tls_ctx, SSL_MODE_RELEASE_BUFFERS);
	/* Sessions allocate and free tens of KiB; glibc's default trimming of the store
	 * thread's arena then costs a TLB shootdown per free (madvise). Keep memory. */
	mallopt(M_TRIM_THRESHOLD, 256 << 20);
	mallopt(M_MMAP_THRESHOLD, 4 << 20);
	evthread_use_pthreads();
	s->base = event_base_new();
	if (!s->base)
		return pp_err_set(err, PP_ENOMEM, "cannot create the event loop");
	signal(SIGPIPE, SIG_IGN);
	/* A file size limit (RLIMIT_FSIZE) makes writes fail with EFBIG, as a full disk
	 * does: the store reports it (/readyz), the process lives on. */
	signal(SIGXFSZ, SIG_IGN);
	return 0;
}

static int add_timer(struct event *ev, uint32_t ms)
{
	struct timeval tv = {(time_t)(ms / 1000), (suseconds_t)((ms % 1000) * 1000)};
	return event_add(ev, &tv);
}

/* The store thread, the listeners, signals and timers. */
static int server_start(struct pp_server *s, struct pp_err *err)
{
	/* Before the store thread takes the store: the first copy of the API tokens. */
	int rc = pp_server_tokens_start(s, err);
	if (rc == 0)
		rc = pp_dbq_start(s->base, s->store, 512, &s->dbq, err);
	if (rc == 0)
		rc = pp_server_hello_start(s, err);
	if (rc == 0)
		rc = pp_server_api_start(s, err);
	if (rc == 0)
		rc = pp_server_events_start(s, err);
	if (rc == 0)
		rc = pp_server_stock_start(s, err);
	if (rc < 0)
		return rc;
	pp_admit_init(&s->admit, s->cfg.admission_floor, s->cfg.max_sessions);
	pp_server_histo_init(s);
	TAILQ_INIT(&s->counted);
	s->claim_timer = event_new(s->base, -1, EV_PERSIST, pp_server_claim_tick, s);
	s->renew_timer = event_new(s->base, -1, EV_PERSIST, pp_server_renew_tick, s);
	if (!s->claim_timer || !s->renew_timer || add_timer(s->claim_timer, 250) < 0 ||
	    add_timer(s->renew_timer, s->cfg.lease_seconds * 1000 / 3) < 0)
		return pp_err_set(err, PP_ENOMEM, "cannot create events");
	return 0;
}

static void server_run(struct pp_server *s, const char *db_path)
{
	s->started = pp_now_ms() / 1000.0;
	pp_info("server",
		"instance %s: hellos on %u.%u.%u.%u:%u, API on %u.%u.%u.%u:%u, devices on port "
		"%u (%s), store %s",
		s->owner, s->cfg.hello_ip[0], s->cfg.hello_ip[1], s->cfg.hello_ip[2],
		s->cfg.hello_ip[3], s->cfg.hello_port, s->cfg.api_ip[0], s->cfg.api_ip[1],
		s->cfg.api_ip[2], s->cfg.api_ip[3], s->cfg.api_port, s->cfg.device_port,
		pp_tls_profile_name(s->profile), db_path);
	pp_server_kick_claim(s);
	pp_notify_ready(s); /* the store is open, the listeners are up */
	event_base_dispatch(s->base);
	s->stopping = true;
	pp_info("server", "stopped: %llu provisioned, %llu failed, %llu hellos",
		(unsigned long long)s->m.provisioned, (unsigned long long)s->m.jobs_failed,
		(unsigned long long)s->m.hellos_v2);
}

static void event_free_opt(struct event *ev)
{
	if (ev)
		event_free(ev);
}

/* Everything server_init and server_start made, in reverse; safe on a partial start. */
static void server_stop(struct pp_server *s)
{
	pp_server_hello_stop(s);
	pp_server_events_stop(s); /* before evhttp goes: their last chunks */
	pp_server_api_stop(s);
	pp_server_tokens_stop(s);
	pp_dbq_stop(s->dbq);
	pp_server_stock_stop(s); /* after the store thread's last completions */
	pp_server_tokens_free(s);
	event_free_opt(s->sig_int);
	event_free_opt(s->sig_term);
	event_free_opt(s->claim_timer);
	event_free_opt(s->renew_timer);
	if (s->base)
		event_base_free(s->base);
	pp_server_api_release(s);
	SSL_CTX_free(s->tls_ctx);
	pp_keygen_free(s->keygen);
	if (s->resp_scratch) {
		pp_wsman_response_wipe(s->resp_scratch);
		free(s->resp_scratch);
	}
	pp_store_close(s->store);
	pp_wipe(s->api_token, sizeof(s->api_token));
}

/* Text, unless said otherwise or stderr is systemd's journal stream. */
static void log_setup(const struct server_opts *o)
{
	pp_log_init(stderr, o->lvl);
	enum pp_log_format f = o->fmt;
	if (!o->fmt_given)
		f = pp_log_fd_is_journal(STDERR_FILENO) ? PP_LOG_JOURNAL : PP_LOG_TEXT;
	pp_log_set_format(f);
}

/* The lock comes before the store opens; only a SQLite data directory is one server's
 * (PostgreSQL serves several instances). Whatever keeps us from reading the config
 * here, pp_datadir_open reports. */
static int lock_sqlite_datadir(struct pp_cli *cli, int *fd, struct pp_err *err)
{
	static struct pp_datadir dd;
	struct stat st;
	*fd = -1;
	if (pp_datadir_paths(cli, &dd, err) < 0 || stat(dd.dir, &st) < 0 || !S_ISDIR(st.st_mode))
		return 0;
	pp_config_defaults(&dd.config);
	struct pp_err ignored = {0};
	if (pp_config_load(&dd.config, dd.config_path, &ignored) < 0 ||
	    dd.config.backend != PP_BACKEND_SQLITE)
		return 0;
	return pp_service_lock(dd.dir, fd, err);
}

static int server_main(struct pp_service *v, struct pp_datadir *dd, const struct server_opts *o)
{
	struct pp_server *s = v->s;
	struct pp_err err = {0};
	s->cfg = dd->config;
	v->file_cfg = dd->config;
	memcpy(v->config_path, dd->config_path, sizeof(v->config_path));
	if (!o->lvl_given)
		pp_log_set_level((enum pp_log_level)dd->config.log_level);
	if (apply_opts(s, o, &err) < 0) {
		pp_store_close(s->store);
		return pp_usage_error("server", "%s", err.msg);
	}
	v->sessions_cap = s->cfg.max_sessions; /* as the descriptor budget left it */
	int rc = server_init(s, dd->dir, &err);
	if (rc == 0)
		rc = server_start(s, &err);
	if (rc == 0)
		rc = pp_service_start(v, &err);
	if (rc == 0)
		server_run(s, dd->db_path);
	pp_service_stop(v);
	server_stop(s);
	return rc < 0 ? pp_fail_err(&err) : PP_EXIT_OK;
}

int cmd_server(struct pp_cli *cli, int argc, char **argv)
{
	struct server_opts o;
	struct pp_err err = {0};
	int rc = parse_server_opts(argc, argv, &o);
	if (rc >= 0)
		return rc;
	log_setup(&o);
	if (pp_harden_process(&err) < 0) /* before any secret: no core dump, no env key */
		return pp_fail_err(&err);

	static struct pp_server srv;
	static struct pp_service svc;
	static struct pp_datadir dd;
	memset(&srv, 0, sizeof(srv));
	memset(&svc, 0, sizeof(svc));
	svc.s = &srv;
	/* Held until the process ends: the descriptor is never closed. */
	if (lock_sqlite_datadir(cli, &svc.lock_fd, &err) < 0)
		return pp_fail_err(&err);
	if (pp_datadir_open(cli, &dd, &srv.store, &err) < 0)
		return pp_fail_err(&err);
	return server_main(&svc, &dd, &o);
}
