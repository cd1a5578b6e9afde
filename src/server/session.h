/* Device sessions (session.c) and the job claims that start them (claim.c). A session
 * carries out what the provisioning engine (lib/prov) decides: it owns the connection,
 * HTTP Digest and the store operations, and nothing of the sequence itself. */
#ifndef PSKPROV_SERVER_SESSION_H
#define PSKPROV_SERVER_SESSION_H

#include <openssl/ssl.h>

#include "prov/prov.h"
#include "server/server.h"
#include "wsman/digest.h"

struct session {
	struct pp_server *s;
	struct pp_prov prov;  /* the job, its secrets and where the sequence stands */
	char load_error[200]; /* the claim could not load the key: fail with this */

	SSL *ssl;
	struct evhttp_connection *evcon;
	struct evhttp_request *inflight; /* the request awaiting its answer */
	struct event *deadline;          /* armed while a request is in flight */
	uint64_t session_end_ms;         /* the whole session's deadline */
	bool deadline_whole;             /* the armed deadline is the session's */
	enum pp_prov_transport conn_transport;
	char host[16];
	uint16_t port;
	struct pp_digest_challenge chal;
	bool have_chal;
	int auth_tries;
	char tls_version[16]; /* negotiated, once a TLS answer came */
	char tls_cipher[64];
	double t0;
	bool failing; /* a failure is being recorded: ignore further callbacks */
	bool talked;  /* an answer came on this connection: the handshake was done */
	bool nodelay; /* TCP_NODELAY is set on this connection's socket */
	bool ended;
	bool provisioned;
	/* Admission (claim.c): in s->counted until it ends or turns slow. */
	TAILQ_ENTRY(session) admit_link;
	bool counted;
	uint64_t begin_ms;
	uint64_t sent_ms;   /* the request in flight went out */
	uint64_t device_ms; /* time spent waiting on the device: connect, answers */
};

/* Starts a claimed session (the store fetched its job and secrets). */
void pp_session_begin(struct session *x);
/* Wipes and frees a session that never began, or after its teardown; accepts NULL. */
void pp_session_free(struct session *x);
/* Admission bookkeeping (claim.c): a session starts, or ends (after `provisioned`). */
void pp_server_admit_begin(struct pp_server *s, struct session *x);
void pp_server_admit_end(struct pp_server *s, struct session *x);
/* The engine's policy from the server's configuration; call once at start-up. */
void pp_server_policy_init(struct pp_server *s);

#endif
