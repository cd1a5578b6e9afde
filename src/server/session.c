/* Device sessions: the I/O under the provisioning engine (lib/prov) [docs/protocol.md
 * sections 3 and 4]. A session connects over TLS-PSK (or plain HTTP for the commit
 * check), speaks HTTP with Digest, runs store operations on the store thread, and feeds
 * what happened back to the engine as events; the engine alone decides the next step. */
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/clock.h"
#include "core/parse.h"
#include "core/secret.h"
#include "core/sock.h"
#include "prog/evio.h"
#include "keys/keys.h"
#include "server/session.h"
#include "store/store.h"
#include "prog/log.h"

#define AUTH_TRIES 3
/* The largest answer headers a device may send; a body is bounded by PP_WSMAN_DOC_MAX.
 * libevent fails the request past either, before it is buffered whole. */
#define ANSWER_HEADERS_MAX 8192

static void carry_out(struct session *x, const struct pp_prov_action *a);

/* ---- the engine's policy -------------------------------------------------------- */

static int gen_password(void *rng, size_t len, char *out)
{
	return pp_keygen_password(rng, len, out);
}

static int gen_key(void *rng, struct pp_pid *pid, struct pp_pps *pps)
{
	int rc = pp_keygen_pid(rng, pid);
	return rc < 0 ? rc : pp_keygen_pps(rng, pps);
}

void pp_server_policy_init(struct pp_server *s)
{
	struct pp_prov_policy *p = &s->policy;
	memset(p, 0, sizeof(*p));
	p->rotate_psk = s->cfg.rotate_psk;
	p->set_time = s->cfg.set_time;
	p->max_attempts = s->cfg.max_attempts;
	p->admin_user = s->cfg.admin_user;
	p->admin_password_length = s->cfg.admin_password_length;
	p->mebx_password_length = s->cfg.mebx_password_length;
	p->domain = s->cfg.domain;
	p->host_name_template = s->cfg.host_name_template;
	p->rng = s->keygen;
	p->gen_password = gen_password;
	p->gen_key = gen_key;
}

/* ---- feeding the engine ----------------------------------------------------------- */

static void feed(struct session *x, struct pp_prov_event *ev)
{
	struct pp_prov_action a;
	ev->now = (int64_t)time(NULL);
	pp_prov_step(&x->prov, ev, &a);
	carry_out(x, &a);
}

static void feed_transport(struct session *x, enum pp_prov_transport_error e, const char *detail)
{
	struct pp_prov_event ev = {.kind = PV_EV_TRANSPORT, .terr = e, .detail = detail};
	feed(x, &ev);
}

/* ---- store operations ----------------------------------------------------------- */

enum { OP_STEP, OP_RETRY, OP_FAIL, OP_BIND, OP_ESCROW, OP_NEXTKEY, OP_COMPLETE, OP_KEYFAIL };

/* A store write for a session. Fire-and-forget ones carry copies of what they write:
 * the session may be gone when they run. Ones with `wait` feed the engine. */
struct sess_op {
	struct pp_dbq_op op;
	struct pp_server *s;
	struct session *x; /* wait only */
	bool wait;
	int kind;
	int64_t job_id;
	char pid[9];
	uint8_t addr[4]; /* the job's device address (key failures count per address) */
	enum pp_job_step step;
	int64_t next_at;
	char reason[200];
};

static int sess_run_engine(struct pp_store *store, struct sess_op *o, struct pp_err *err)
{
	struct pp_prov *p = &o->x->prov;
	const char *owner = o->s->owner;
	switch (o->kind) {
	case OP_BIND: {
		char name[64];
		int rc = pp_store_job_bind(store, o->job_id, owner, p->proven_uuid, p->host_name,
					   name, (int64_t)time(NULL), err);
		if (rc == 0)
			memcpy(p->host_name, name, sizeof(p->host_name));
		return rc;
	}
	case OP_ESCROW:
		return pp_store_device_escrow(store, p->job.uuid, &p->sec, err);
	case OP_NEXTKEY:
		return pp_store_job_next_key(store, o->job_id, owner, p->cand_pid.s, p->cand_pps.s,
					     &p->next_pid, &p->next_pps, err);
	case OP_COMPLETE: {
		int rc = pp_store_job_complete(store, o->job_id, owner, p->host_name,
					       o->s->cfg.domain, (int64_t)time(NULL), err);
		if (rc == 0 && o->x->tls_version[0])
			rc = pp_store_device_set_tls(store, p->job.uuid, o->x->tls_version,
						     o->x->tls_cipher, err);
		return rc;
	}
	}
	return pp_err_set(err, PP_EINVAL, "unknown session operation");
}

static int sess_run(struct pp_store *store, struct pp_dbq_op *op, struct pp_err *err)
{
	struct sess_op *o = (struct sess_op *)op;
	struct pp_server *s = o->s;
	switch (o->kind) {
	case OP_STEP:
		return pp_store_job_step(store, o->job_id, s->owner, o->step, err);
	case OP_RETRY:
		return pp_store_job_retry(store, o->job_id, s->owner, o->next_at, o->reason, err);
	case OP_FAIL:
		return pp_store_job_fail(store, o->job_id, s->owner, o->reason, err);
	case OP_KEYFAIL:
		return pp_store_key_failure(store, o->pid, o->addr, (int64_t)time(NULL),
					    s->cfg.lockout_failures, s->cfg.lockout_seconds, err);
	default:
		return sess_run_engine(store, o, err);
	}
}

static void session_end(struct session *x);

static void sess_done(struct pp_dbq_op *op, int rc, const struct pp_err *err)
{
	struct sess_op *o = (struct sess_op *)op;
	struct session *x = o->x;
	bool wait = o->wait;
	int kind = o->kind;
	/* err lives in the operation, which is freed here: the engine gets a copy. */
	struct pp_err why = err ? *err : (struct pp_err){0};
	if (rc < 0 && !wait) {
		o->s->m.store_errors++;
		pp_error("jobs", "job %lld: store: %s", (long long)o->job_id, why.msg);
	}
	free(o);
	if (!wait)
		return;
	if (kind == OP_RETRY || kind == OP_FAIL) {
		session_end(x);
		return;
	}
	/* A clone at BIND is a positive result, so the batch keeps the quarantine. */
	if (kind == OP_BIND && rc == PP_STORE_BIND_CLONE)
		rc = -PP_EPERM;
	struct pp_prov_event ev = {.kind = PV_EV_STORE_DONE, .store_rc = rc, .store_err = &why};
	feed(x, &ev);
}

static void submit(struct session *x, int kind, bool wait,
		   void (*fill)(struct sess_op *o, const void *arg), const void *arg)
{
	struct sess_op *o = calloc(1, sizeof(*o));
	if (!o) {
		x->s->m.store_errors++;
		pp_error("jobs", "job %lld: out of memory for a store operation",
			 (long long)x->prov.job.id);
		if (wait)
			session_end(x);
		return;
	}
	o->op.run = sess_run;
	o->op.done = sess_done;
	/* sess_run only writes its own results: safe to run again on a new connection. */
	o->op.again = pp_dbq_again_noop;
	o->s = x->s;
	o->x = wait ? x : NULL;
	o->wait = wait;
	o->kind = kind;
	o->job_id = x->prov.job.id;
	memcpy(o->pid, x->prov.job.pid, sizeof(o->pid));
	memcpy(o->addr, x->prov.job.addr, sizeof(o->addr));
	if (fill)
		fill(o, arg);
	pp_dbq_submit(x->s->dbq, &o->op);
}

static void fill_step(struct sess_op *o, const void *arg)
{
	o->step = *(const enum pp_job_step *)arg;
}

static void fill_failure(struct sess_op *o, const void *arg)
{
	const struct pp_prov_action *a = arg;
	o->next_at = a->retry_at;
	snprintf(o->reason, sizeof(o->reason), "%s", a->reason);
}

/* ---- ending ----------------------------------------------------------------------- */

static void session_teardown_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	struct session *x = arg;
	struct pp_server *s = x->s;
	if (x->deadline)
		event_free(x->deadline);
	x->deadline = NULL;
	if (x->evcon)
		evhttp_connection_free(x->evcon); /* frees the bufferevent and the SSL */
	x->evcon = NULL;
	x->ssl = NULL;
	s->m.sessions_active--;
	pp_server_admit_end(s, x);
	pp_server_hello_job_ended(s, x->prov.job.uuid);
	pp_session_free(x);
	pp_server_kick_claim(s);
}

void pp_session_free(struct session *x)
{
	if (!x)
		return;
	pp_prov_free(&x->prov);
	pp_wipe(&x->chal, sizeof(x->chal));
	free(x);
}

/* Frees the connection outside of libevent's callbacks. */
static void session_end(struct session *x)
{
	if (x->ended)
		return;
	x->ended = true;
	struct timeval zero = {0, 0};
	if (event_base_once(x->s->base, -1, EV_TIMEOUT, session_teardown_cb, x, &zero) < 0)
		pp_error("jobs", "cannot schedule a session teardown");
}

static void finish(struct session *x)
{
	struct pp_server *s = x->s;
	const struct pp_prov *p = &x->prov;
	char uuid[37];
	pp_uuid_format(p->job.uuid, uuid);
	s->m.provisioned++;
	x->provisioned = true;
	pp_server_device_event(s, &p->job, p->host_name, "provisioned", "");
	struct timespec now;
	clock_gettime(CLOCK_REALTIME, &now);
	double since_hello = (double)(now.tv_sec - p->job.created) + now.tv_nsec / 1e9;
	pp_histo_observe(&s->h_provision, since_hello > 0 ? since_hello : 0);
	const struct pp_log_fields lf = {uuid, p->job.pid, (long long)p->job.id, "done"};
	pp_info_f(
	    "jobs", &lf, "job %lld uuid=%s pid=%s provisioned as %s.%s in %.0f ms (%s %s)%s%s",
	    (long long)p->job.id, uuid, p->job.pid, p->host_name, s->cfg.domain,
	    (pp_now_ms() / 1000.0 - x->t0) * 1000.0, x->tls_version[0] ? x->tls_version : "HTTP",
	    x->tls_cipher, p->have_next ? ", next key " : "", p->have_next ? p->next_pid.s : "");
	session_end(x);
}

static void fail(struct session *x, const struct pp_prov_action *a)
{
	struct pp_server *s = x->s;
	const struct pp_prov *p = &x->prov;
	char uuid[37];
	pp_uuid_format(p->job.uuid, uuid);
	x->failing = true;
	const struct pp_log_fields lf = {uuid, p->job.pid, (long long)p->job.id,
					 pp_prov_row_name(p->row)};
	if (a->connect_error)
		s->m.connect_failures++;
	if (a->wsman_fault)
		s->m.wsman_faults++;
	pp_server_device_event(s, &p->job, p->host_name,
			       a->recorded    ? "quarantined"
			       : a->retryable ? "configuring"
					      : "failed",
			       a->reason);
	if (a->recorded) {
		/* The store ended the job itself (a clone quarantined at BIND). */
		s->m.jobs_failed++;
		pp_error_f("jobs", &lf, "job %lld uuid=%s pid=%s FAILED: %s", (long long)p->job.id,
			   uuid, p->job.pid, a->reason);
		session_end(x);
		return;
	}
	if (a->retryable) {
		s->m.jobs_retried++;
		pp_warn_f("jobs", &lf, "job %lld uuid=%s pid=%s attempt %u: %s; retry in %lld s",
			  (long long)p->job.id, uuid, p->job.pid, p->job.attempts, a->reason,
			  (long long)(a->retry_at - (int64_t)time(NULL)));
	} else {
		s->m.jobs_failed++;
		pp_error_f("jobs", &lf, "job %lld uuid=%s pid=%s FAILED after %u attempts: %s",
			   (long long)p->job.id, uuid, p->job.pid, p->job.attempts, a->reason);
	}
	submit(x, a->retryable ? OP_RETRY : OP_FAIL, true, fill_failure, a);
}

/* ---- TLS-PSK ---------------------------------------------------------------------- */

/* Inside the handshake: the PPS for the hint, from what the claim fetched. Either the
 * hello key or, for a device in the middle of configuration, its rotated key. */
static int psk_lookup(void *arg, const char *pid8, uint8_t pps_out[PP_TLS_PPS_LEN])
{
	struct session *x = arg;
	const struct pp_prov *p = &x->prov;
	if (pp_ct_eq(pid8, p->job.pid, 8)) {
		memcpy(pps_out, p->pps.s, PP_TLS_PPS_LEN);
		return 0;
	}
	if (p->have_next && pp_ct_eq(pid8, p->next_pid.s, 8)) {
		memcpy(pps_out, p->next_pps.s, PP_TLS_PPS_LEN);
		return 0;
	}
	return -1;
}

/* Maps what the transport saw to the engine's words, and counts TLS failures. */
static void transport_error(struct session *x)
{
	char pid[PP_TLS_PID_LEN + 1] = "", why[160] = "";
	if (x->failing || x->ended)
		return;
	if (x->talked) {
		feed_transport(x, PV_TE_CLOSED, NULL); /* the handshake was done long ago */
		return;
	}
	if (!x->ssl) {
		feed_transport(x, PV_TE_CONNECT, NULL);
		return;
	}
	/* Nothing heard from the device (no ServerHello): the TCP connection never came
	 * up (refused, unreachable) or closed before TLS began. Not a handshake failure. */
	if (!pp_tls_peer_heard(x->ssl)) {
		feed_transport(x, PV_TE_CONNECT, NULL);
		return;
	}
	int reason = pp_tls_server_result(x->ssl, pid, why, sizeof(why));
	if (reason >= 0 && reason < 8)
		x->s->m.tls_failures[reason]++;
	switch (reason) {
	case PP_TLS_UNKNOWN_PID:
	case PP_TLS_HINT_MISMATCH:
	case PP_TLS_NO_HINT:
		feed_transport(x, PV_TE_TLS_UNKNOWN, why);
		return;
	case PP_TLS_BAD_KEY:
		feed_transport(x, PV_TE_TLS_BAD_KEY, why);
		return;
	case PP_TLS_OK:
		feed_transport(x, PV_TE_CLOSED, NULL);
		return;
	default:
		feed_transport(x, why[0] ? PV_TE_TLS_PROTOCOL : PV_TE_CONNECT, why);
		return;
	}
}

/* ---- HTTP with Digest ------------------------------------------------------------- */

static void send_current(struct session *x);

/* A 401: answer the first challenge; a second one (not stale) means the device
 * refused the credentials, which the engine weighs. */
static void on_challenge(struct session *x, struct evhttp_request *req)
{
	const char *wa =
	    evhttp_find_header(evhttp_request_get_input_headers(req), "WWW-Authenticate");
	struct pp_digest_challenge c;
	if (!wa || pp_digest_challenge_parse(wa, strlen(wa), &c, NULL) < 0) {
		struct pp_prov_event ev = {
		    .kind = PV_EV_RESPONSE, .http_status = 401, .scratch = x->s->resp_scratch};
		feed(x, &ev);
		return;
	}
	bool refused = x->have_chal && !c.stale;
	x->chal = c;
	x->have_chal = true;
	if (refused || ++x->auth_tries > AUTH_TRIES) {
		struct pp_prov_event ev = {.kind = PV_EV_AUTH_REFUSED};
		feed(x, &ev);
		return;
	}
	send_current(x);
}

static void note_tls(struct session *x)
{
	if (x->tls_version[0] || !x->ssl || x->conn_transport != PV_TLS)
		return;
	if (pp_tls_negotiated(x->ssl, x->tls_version, sizeof(x->tls_version), x->tls_cipher,
			      sizeof(x->tls_cipher)) < 0)
		x->tls_version[0] = '\0';
	uint64_t ms;
	if (pp_tls_handshake_time(x->ssl, &ms))
		pp_histo_observe(&x->s->h_tls, (double)ms / 1000.0);
}

/* The answer (or the failure) of the request in flight came: no deadline now. */
static void answered(struct session *x)
{
	if (x->inflight) {
		uint64_t ms = pp_now_ms() - x->sent_ms;
		x->device_ms += ms;
		if ((unsigned)x->prov.row < PV_ROW_COUNT)
			pp_histo_observe(&x->s->h_exchange[x->prov.row], (double)ms / 1000.0);
	}
	x->inflight = NULL;
	if (x->deadline)
		event_del(x->deadline);
}

static void on_response(struct evhttp_request *req, void *arg)
{
	struct session *x = arg;
	answered(x);
	if (x->ended || x->failing)
		return;
	int code = req ? evhttp_request_get_response_code(req) : 0;
	if (!req || code == 0) {
		transport_error(x);
		return;
	}
	x->talked = true;
	note_tls(x);
	if (code == 401) {
		on_challenge(x, req);
		return;
	}
	x->auth_tries = 0;
	struct evbuffer *in = evhttp_request_get_input_buffer(req);
	size_t len = evbuffer_get_length(in);
	struct pp_prov_event ev = {.kind = PV_EV_RESPONSE,
				   .http_status = code,
				   .body = len > PP_WSMAN_DOC_MAX ? NULL : evbuffer_pullup(in, -1),
				   .body_len = len,
				   .scratch = x->s->resp_scratch};
	feed(x, &ev);
}

static void on_request_error(enum evhttp_request_error e, void *arg)
{
	struct session *x = arg;
	answered(x);
	if (x->ended || x->failing)
		return;
	if (e == EVREQ_HTTP_TIMEOUT)
		feed_transport(x, PV_TE_TIMEOUT, NULL);
	else if (e == EVREQ_HTTP_DATA_TOO_LONG)
		feed_transport(x, PV_TE_CLOSED, "the answer is over the size limit");
	else if (e == EVREQ_HTTP_INVALID_HEADER)
		feed_transport(x, PV_TE_CLOSED,
			       "the answer's headers are malformed or over the size limit");
	else
		transport_error(x);
}

/* The exchange (or the whole session) ran out of time: drop the request, however
 * busy the device keeps the connection. */
static void on_deadline(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	struct session *x = arg;
	struct evhttp_request *req = x->inflight;
	bool whole = x->deadline_whole;
	answered(x);
	if (!x->ended && !x->failing) {
		x->s->m.deadlines_missed++;
		char why[96];
		snprintf(why, sizeof(why), "no whole answer within the %s deadline (%u ms)",
			 whole ? "session" : "exchange",
			 whole ? x->s->cfg.session_timeout_ms : x->s->cfg.exchange_timeout_ms);
		feed_transport(x, PV_TE_TIMEOUT, why); /* first: the cancel below calls back */
	}
	if (req)
		evhttp_cancel_request(req);
}

/* Arms the deadline of one exchange: its own, or what is left of the session's. */
static int arm_deadline(struct session *x)
{
	uint64_t now = pp_now_ms();
	if (now >= x->session_end_ms)
		return -PP_ETIMEOUT;
	uint64_t ms = x->s->cfg.exchange_timeout_ms;
	/* Which deadline this timer is, decided now: libevent reckons timers from the
	 * time it cached at the top of its loop, so one may fire a little before our
	 * own clock reaches the session's end. */
	x->deadline_whole = x->session_end_ms - now <= ms;
	if (x->deadline_whole)
		ms = x->session_end_ms - now;
	if (!x->deadline && !(x->deadline = evtimer_new(x->s->base, on_deadline, x)))
		return -PP_ENOMEM;
	struct timeval tv = {(time_t)(ms / 1000), (suseconds_t)((ms % 1000) * 1000)};
	return evtimer_add(x->deadline, &tv) < 0 ? -PP_ENOMEM : 0;
}

static void free_evcon_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	evhttp_connection_free(arg);
}

static struct bufferevent *tls_bufferevent(struct session *x)
{
	struct pp_server *s = x->s;
	struct pp_err err = {0};
	x->ssl = SSL_new(s->tls_ctx);
	if (!x->ssl)
		return NULL;
	if (pp_tls_server_attach(x->ssl, x->prov.job.pid, psk_lookup, x, &err) < 0) {
		pp_error("jobs", "job %lld: TLS: %s", (long long)x->prov.job.id, err.msg);
		SSL_free(x->ssl);
		x->ssl = NULL;
		return NULL;
	}
	struct bufferevent *bev = bufferevent_openssl_socket_new(
	    s->base, -1, x->ssl, BUFFEREVENT_SSL_CONNECTING, BEV_OPT_CLOSE_ON_FREE);
	if (!bev) {
		SSL_free(x->ssl);
		x->ssl = NULL;
		return NULL;
	}
	bufferevent_openssl_set_allow_dirty_shutdown(bev, 1);
	if (pp_bev_one_record(bev) < 0)
		pp_debug("jobs", "job %lld: requests on this connection leave in pieces",
			 (long long)x->prov.job.id);
	return bev;
}

/* A connection of the kind the engine asked for; the old one (another kind) is freed
 * outside of its own callbacks. */
static int ensure_connection(struct session *x, enum pp_prov_transport t)
{
	struct pp_server *s = x->s;
	if (x->evcon && x->conn_transport == t)
		return 0;
	if (x->evcon) {
		struct timeval zero = {0, 0};
		if (event_base_once(s->base, -1, EV_TIMEOUT, free_evcon_cb, x->evcon, &zero) < 0)
			return -PP_ENOMEM;
		x->evcon = NULL;
		x->ssl = NULL;
	}
	x->conn_transport = t;
	x->nodelay = false;
	x->have_chal = false;
	x->talked = false;
	x->auth_tries = 0;
	const uint8_t *a = x->prov.job.addr;
	snprintf(x->host, sizeof(x->host), "%u.%u.%u.%u", a[0], a[1], a[2], a[3]);
	x->port = t == PV_PLAIN ? s->device_http_port : s->cfg.device_port;
	struct bufferevent *bev = t == PV_PLAIN
				      ? bufferevent_socket_new(s->base, -1, BEV_OPT_CLOSE_ON_FREE)
				      : tls_bufferevent(x);
	if (!bev)
		return -PP_ENOMEM;
	x->evcon = evhttp_connection_base_bufferevent_new(s->base, NULL, bev, x->host, x->port);
	if (!x->evcon) {
		bufferevent_free(bev);
		x->ssl = NULL;
		return -PP_ENOMEM;
	}
	evhttp_connection_set_retries(x->evcon, 0);
	evhttp_connection_set_max_headers_size(x->evcon, ANSWER_HEADERS_MAX);
	evhttp_connection_set_max_body_size(x->evcon, PP_WSMAN_DOC_MAX);
	struct timeval tv = {(time_t)(s->cfg.io_timeout_ms / 1000),
			     (suseconds_t)((s->cfg.io_timeout_ms % 1000) * 1000)};
	evhttp_connection_set_timeout_tv(x->evcon, &tv);
	return 0;
}

static int add_authorization(struct session *x, struct evkeyvalq *h)
{
	char auth[PP_DIGEST_AUTH_MAX];
	struct pp_err err = {0};
	int rc =
	    pp_digest_authorization_make(&x->chal, "POST", "/wsman", pp_prov_auth_user(&x->prov),
					 pp_prov_auth_password(&x->prov), auth, sizeof(auth), &err);
	if (rc == 0)
		rc = evhttp_add_header(h, "Authorization", auth) < 0 ? -PP_ENOMEM : 0;
	pp_wipe(auth, sizeof(auth));
	if (rc < 0)
		pp_error("jobs", "job %lld: digest: %s", (long long)x->prov.job.id, err.msg);
	return rc;
}

static void send_current(struct session *x)
{
	struct pp_server *s = x->s;
	const struct pp_buf *body = pp_prov_request(&x->prov);
	struct evhttp_request *req = evhttp_request_new(on_response, x);
	if (!req) {
		feed_transport(x, PV_TE_CONNECT, "out of memory");
		return;
	}
	evhttp_request_set_error_cb(req, on_request_error);
	struct evkeyvalq *h = evhttp_request_get_output_headers(req);
	char hostport[32];
	snprintf(hostport, sizeof(hostport), "%s:%u", x->host, x->port);
	evhttp_add_header(h, "Host", hostport);
	evhttp_add_header(h, "Content-Type", "application/soap+xml;charset=UTF-8");
	if ((x->have_chal && add_authorization(x, h) < 0) ||
	    evbuffer_add(evhttp_request_get_output_buffer(req), body->data, body->len) < 0) {
		evhttp_request_free(req);
		feed_transport(x, PV_TE_CONNECT, "cannot build the request");
		return;
	}
	if (arm_deadline(x) < 0) {
		evhttp_request_free(req);
		x->s->m.deadlines_missed++;
		feed_transport(x, PV_TE_TIMEOUT, "the session is over its deadline");
		return;
	}
	s->m.wsman_requests++;
	x->inflight = req;
	x->sent_ms = pp_now_ms();
	if (evhttp_make_request(x->evcon, req, EVHTTP_REQ_POST, "/wsman") < 0) {
		answered(x);
		feed_transport(x, PV_TE_CONNECT, "cannot send the request");
		return;
	}
	/* The socket exists once the first request started the connection. */
	if (!x->nodelay) {
		evutil_socket_t fd = bufferevent_getfd(evhttp_connection_get_bufferevent(x->evcon));
		x->nodelay = fd >= 0 && pp_sock_nodelay(fd) == 0;
	}
}

/* ---- carrying out the engine's actions -------------------------------------------- */

static void carry_out(struct session *x, const struct pp_prov_action *a)
{
	if (a->key_failure)
		submit(x, OP_KEYFAIL, false, NULL, NULL);
	switch (a->kind) {
	case PV_ACT_SEND:
	case PV_ACT_RESEND:
		if (ensure_connection(x, a->transport) < 0)
			feed_transport(x, PV_TE_CONNECT, "cannot start a connection");
		else
			send_current(x);
		return;
	case PV_ACT_STORE: {
		static const int kinds[] = {[PV_OP_BIND] = OP_BIND,
					    [PV_OP_ESCROW] = OP_ESCROW,
					    [PV_OP_NEXT_KEY] = OP_NEXTKEY,
					    [PV_OP_STEP] = OP_STEP,
					    [PV_OP_COMPLETE] = OP_COMPLETE};
		submit(x, kinds[a->op], true, a->op == PV_OP_STEP ? fill_step : NULL, &a->step);
		return;
	}
	case PV_ACT_FINISH:
		finish(x);
		return;
	case PV_ACT_FAIL:
		fail(x, a);
		return;
	}
}

void pp_session_begin(struct session *x)
{
	struct pp_server *s = x->s;
	s->m.sessions_started++;
	s->m.sessions_active++;
	if (s->m.sessions_active > s->m.sessions_peak)
		s->m.sessions_peak = s->m.sessions_active;
	pp_server_admit_begin(s, x);
	x->t0 = pp_now_ms() / 1000.0;
	x->session_end_ms = pp_now_ms() + s->cfg.session_timeout_ms;
	if (x->load_error[0]) {
		struct pp_prov_action a = {.kind = PV_ACT_FAIL};
		snprintf(a.reason, sizeof(a.reason), "%s", x->load_error);
		fail(x, &a);
		return;
	}
	struct pp_prov_event ev = {.kind = PV_EV_START};
	feed(x, &ev);
}
