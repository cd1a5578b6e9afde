/* pskprov server: the configuration server.
 *
 * One event loop (libevent) runs the hello listener, the HTTP API and every device
 * session; the store runs on its own thread behind a batching writer (dbq.h). Nothing
 * on the loop blocks: every network wait has a timeout, every queue and count a cap. */
#ifndef PSKPROV_SERVER_H
#define PSKPROV_SERVER_H

#include <event2/event.h>
#include <event2/http.h>
#include <event2/listener.h>
#include <openssl/ssl.h>
#include <stdbool.h>
#include <stdint.h>

#include <sys/queue.h>

#include "config/config.h"
#include "core/admit.h"
#include "core/histo.h"
#include "core/rate.h"
#include "core/ratelimit.h"
#include "prov/prov.h"
#include "server/auth.h"
#include "server/dbq.h"
#include "tls/tls.h"
#include "wsman/soap.h"

struct pp_store;
struct pp_keygen;
struct pp_job;
struct pp_token_cache;

struct pp_server_metrics {
	uint64_t hello_connections;
	uint64_t hello_connections_refused;    /* over the connection cap */
	uint64_t hello_connections_shed;       /* oldest idle closed for a new one at the cap */
	uint64_t hello_connections_per_source; /* refused: the source holds its slots */
	uint64_t accept_pauses;                /* listeners paused: out of descriptors */
	uint64_t api_connections_shed;
	uint64_t hellos_v2;
	uint64_t hellos_v3_declined;
	uint64_t hellos_malformed;
	uint64_t hellos_oversize;
	uint64_t hellos_timeout;
	uint64_t hellos_rate_limited;
	uint64_t hellos_agent;
	uint64_t hellos_duplicate;  /* same device and PID again within the window */
	uint64_t hello_outcomes[8]; /* enum pp_hello_outcome */
	uint64_t jobs_claimed;
	uint64_t sessions_started;
	uint64_t sessions_active;
	uint64_t sessions_peak;
	uint64_t admission_limit; /* sessions to run at once (core/admit.h) */
	uint64_t sessions_slow;   /* running past the slow age: not counted against it */
	uint64_t provisioned;
	uint64_t jobs_failed;
	uint64_t jobs_retried;
	uint64_t connect_failures;
	uint64_t deadlines_missed; /* exchanges or sessions over their total deadline */
	uint64_t tls_failures[8];  /* enum pp_tls_reason */
	uint64_t wsman_requests;
	uint64_t wsman_faults;
	uint64_t api_requests;
	uint64_t api_rejected;
	uint64_t store_errors;
};

/* Descriptor budget and connection caps, set at start (cmd_server.c). */
struct pp_net_limits {
	uint64_t nofile;            /* RLIMIT_NOFILE in force */
	uint32_t hello_max_conns;   /* hello connections at once */
	uint32_t hello_per_source;  /* of them from one address */
	uint32_t hello_deadline_ms; /* a whole hello, from accept to the last byte */
	uint32_t api_max_conns;     /* API connections at once */
};

/* A listener paused after a failed accept, and its server (hello.c). */
struct pp_accept_pause {
	struct pp_server *s;
	struct evconnlistener *l;
};

struct pp_server {
	struct pp_config cfg;
	const char *datadir;
	struct event_base *base;
	struct pp_store *store;
	struct pp_dbq *dbq;
	SSL_CTX *tls_ctx;
	enum pp_tls_profile profile;
	struct pp_keygen *keygen;               /* rotated keys, admin and MEBx passwords */
	struct pp_prov_policy policy;           /* the provisioning engine's, from cfg */
	struct pp_wsman_response *resp_scratch; /* the response being parsed (loop only) */
	char owner[40];                         /* this instance's lease owner id */
	uint16_t device_http_port;

	struct evconnlistener *hello_listener;
	uint32_t hello_conns;
	struct pp_ratelimit *rl;
	struct hello_seen *seen; /* recent hellos already recorded: fixed-size table */
	struct pp_net_limits lim;
	struct hello_net *hnet; /* hello connections, oldest idle first (hello.c) */
	struct pp_accept_pause pause_hello, pause_api;
	struct api_net *anet; /* API connections (api.c) */
	uint32_t api_conns;

	struct evhttp *http;
	struct evhttp_bound_socket *http_sock;
	char api_token[65];
	struct pp_token_cache *tokens; /* auth_tokens.c: the store's API tokens */

	/* Admission (claim.c): the sessions that count against the limit, oldest first. */
	struct pp_admit admit;
	TAILQ_HEAD(session_list, session) counted;
	uint32_t n_counted;

	struct event *claim_timer;
	struct event *renew_timer;
	struct event *sig_int, *sig_term;
	bool claim_in_flight;
	bool stopping;
	bool exit_when_idle; /* --exit-when-done: stop once no job is runnable (tests) */
	uint32_t idle_rounds;

	struct pp_server_metrics m;
	/* Histograms (api.c writes them): first hello to provisioned; each WS-Management
	 * exchange by the row it served; the TLS-PSK handshake. Seconds. */
	struct pp_histo h_provision, h_tls;
	struct pp_histo h_exchange[PV_ROW_COUNT];
	double started;

	/* events.c / stock.c: the event streams (GET /api/v1/events), devices provisioned
	 * a second here, the store's counts kept fresh off the loop. */
	struct pp_events *events;
	struct pp_rate provision_rate;
	struct pp_stock *stock;
};

/* events.c: the event streams and their 1 s progress timer. */
int pp_server_events_start(struct pp_server *s, struct pp_err *err) PP_WUR;
/* Ends every stream cleanly (the chunked reply's last chunk) and frees them. */
void pp_server_events_stop(struct pp_server *s);
/* Event streams open now. */
uint32_t pp_server_event_streams(const struct pp_server *s);
/* A job ended here: a `device` event to every stream. state is the device's state name
 * ("provisioned", "failed", "quarantined", "configuring" while its job waits to retry);
 * reason the failure's text ("" when none), never a secret. A provisioned device counts
 * in pp_server_provision_rate. */
void pp_server_device_event(struct pp_server *s, const struct pp_job *job, const char *host_name,
			    const char *state, const char *reason);

/* stock.c: the store's counts, read on the store thread every second while an event
 * stream is open, else every 5 s; one read at a time. */
struct pp_stock_batch {
	char name[PP_BATCH_NAME_MAX + 1];
	uint64_t by_state[PP_KEY_STATE_MAX];
};
struct pp_stock_snapshot {
	struct pp_store_counts counts;
	struct pp_stock_batch *batches;
	size_t n_batches;
	bool have_batches; /* the key stock by batch was read */
	uint64_t at_ms;    /* when it was taken (monotonic clock) */
};
int pp_server_stock_start(struct pp_server *s, struct pp_err *err) PP_WUR;
void pp_server_stock_stop(struct pp_server *s);
/* The last snapshot, NULL before the first read answered. */
const struct pp_stock_snapshot *pp_server_stock(const struct pp_server *s);
/* Reads now (an event stream opened), unless a read is in flight or the last one was
 * too recent for its cost (ten times its time). */
void pp_server_stock_kick(struct pp_server *s);

/* hello.c */
int pp_server_hello_start(struct pp_server *s, struct pp_err *err) PP_WUR;
void pp_server_hello_stop(struct pp_server *s);
/* Shared by the hello listener and the API: a well-formed hello to record. */
void pp_server_submit_hello(struct pp_server *s, const uint8_t uuid[16], const char *pid,
			    const uint8_t addr[4], const char *source);

/* The session of this device's job ended here: its hellos are remembered no longer than
 * a freshly recorded one's. */
void pp_server_hello_job_ended(struct pp_server *s, const uint8_t uuid[16]);

/* A listener's accept failed (out of descriptors, most often): pause it for a moment,
 * shed idle connections, log it at most once in a while. */
void pp_server_accept_error(struct pp_server *s, struct evconnlistener *l, const char *what);
/* Closes up to n of the longest idle hello / API connections; returns how many. */
unsigned pp_server_hello_shed(struct pp_server *s, unsigned n);
unsigned pp_server_api_shed(struct pp_server *s, unsigned n);

/* The histograms' buckets, set up once at start (api.c). */
void pp_server_histo_init(struct pp_server *s);

/* claim.c, session.c */
void pp_server_kick_claim(struct pp_server *s);
void pp_server_claim_tick(evutil_socket_t fd, short what, void *arg);
void pp_server_renew_tick(evutil_socket_t fd, short what, void *arg);

/* API bearer tokens and roles: auth.h (auth_tokens.c). What each API action needs:
 * reading (status, listings, events) needs read; a change or a revealed secret needs
 * admin; a hello needs agent. Admin may do all. */
enum pp_api_action { PP_API_STATUS, PP_API_HELLO, PP_API_READ, PP_API_ADMIN };
/* True when the role may do the action. */
bool pp_server_role_allows(enum pp_token_role role, enum pp_api_action action);

/* api.c */
int pp_server_api_start(struct pp_server *s, struct pp_err *err) PP_WUR;
void pp_server_api_stop(struct pp_server *s);
/* After event_base_free: the connection table (its last entries go with the loop). */
void pp_server_api_release(struct pp_server *s);

#endif
