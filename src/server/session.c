/* Device sessions: claim jobs, connect over TLS-PSK, configure over WS-Management with
 * HTTP Digest, commit [protocol.md sections 3 and 4; system.md "Configuration server
 * internals"].
 *
 * Every step is safe to repeat: a resumed job runs the whole sequence again with the
 * secrets escrowed on its first run. A secret is stored durably before it is sent to the
 * device (admin and MEBx passwords, the rotated key), so a crash never leaves a device
 * holding a secret the server does not have. */
#include <arpa/inet.h>
#include <ctype.h>
#include <stdarg.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/bytes.h"
#include "core/parse.h"
#include "core/secret.h"
#include "keys/keys.h"
#include "server/server.h"
#include "store/store.h"
#include "util/log.h"
#include "wsman/amt.h"
#include "wsman/b64.h"
#include "wsman/digest.h"
#include "wsman/soap.h"

#define CLAIM_MAX 256
#define AUTH_TRIES 3

enum phase {
	PH_GET_SETTINGS,
	PH_GET_SETUP,
	PH_GET_VERSION,
	PH_ESCROW,
	PH_ACL,
	PH_MEBX,
	PH_NEXTKEY,
	PH_PSK,
	PH_NAMES,
	PH_TIME_GET,
	PH_TIME_SET,
	PH_COMMIT_RECORD,
	PH_COMMIT,
	PH_COMPLETE,
	PH_VERIFY_GET, /* after a crash past CommitChanges: read state on the HTTP port */
	PH_END,
};

struct session {
	struct pp_server *s;
	struct pp_job job;
	struct pp_pps pps; /* the hello key */
	char mebx_old[PP_MEBX_PW_MAX + 1];
	struct pp_device_secrets sec; /* escrowed admin account and new MEBx password */
	bool have_sec;
	struct pp_pid next_pid;
	struct pp_pps next_pps;
	bool have_next;

	enum phase phase;
	char realm[PP_AMT_REALM_LEN + 1];
	char host_name[64];
	char fw_version[64];
	uint32_t ta0;

	SSL *ssl;
	struct evhttp_connection *evcon;
	bool plain_http; /* PH_VERIFY_GET on the device's HTTP port */
	char host[16];
	uint16_t port;
	struct pp_digest_challenge chal;
	bool have_chal;
	bool use_new_mebx;
	bool swapped_password;
	int auth_tries;
	struct pp_wsman_call call;
	struct pp_buf body;
	const char *what; /* the step being done, for messages */
	double t0;
	bool failing; /* a failure is being recorded: ignore further callbacks */
	bool talked;  /* a response came on this connection: the handshake was done */
	bool ended;
};

/* ---- store operations -------------------------------------------------------- */

struct claim_op {
	struct pp_dbq_op op;
	struct pp_server *s;
	size_t want;
	size_t n;
	struct pp_job jobs[CLAIM_MAX];
	struct session *sess[CLAIM_MAX];
};

static void session_free(struct session *x)
{
	if (!x)
		return;
	pp_wipe(&x->pps, sizeof(x->pps));
	pp_wipe(&x->next_pps, sizeof(x->next_pps));
	pp_wipe(x->mebx_old, sizeof(x->mebx_old));
	pp_wipe(&x->sec, sizeof(x->sec));
	pp_buf_free_wipe(&x->body);
	free(x);
}

static int claim_run(struct pp_store *store, struct pp_dbq_op *op, struct pp_err *err)
{
	struct claim_op *c = (struct claim_op *)op;
	struct pp_server *s = c->s;
	int64_t now = (int64_t)time(NULL);
	int rc = pp_store_jobs_claim(store, s->owner, now, s->cfg.lease_seconds, c->want, c->jobs,
				     &c->n, err);
	if (rc < 0)
		return rc;
	/* Everything a session needs from the store, fetched here: the loop never waits on
	 * the store in the middle of a TLS handshake. */
	for (size_t i = 0; i < c->n; i++) {
		struct session *x = calloc(1, sizeof(*x));
		if (!x)
			return pp_err_set(err, PP_ENOMEM, "out of memory");
		c->sess[i] = x;
		x->job = c->jobs[i];
		pp_buf_init(&x->body, PP_WSMAN_DOC_MAX);
		struct pp_err e2 = {0};
		if (pp_store_key_secrets(store, x->job.pid, &x->pps, x->mebx_old,
					 sizeof(x->mebx_old), &e2) < 0) {
			/* Leave the job to fail on the loop with this reason. */
			if (snprintf(x->job.last_error, sizeof(x->job.last_error), "key %s: %s",
				     x->job.pid, e2.msg) < 0)
				x->job.last_error[0] = '\0';
			x->phase = PH_END;
			continue;
		}
		if (pp_store_device_secrets(store, x->job.uuid, &x->sec, &e2) == 0)
			x->have_sec = true;
		if (x->job.next_pid[0]) {
			char unused[PP_MEBX_PW_MAX + 1];
			if (pp_store_key_secrets(store, x->job.next_pid, &x->next_pps, unused,
						 sizeof(unused), &e2) == 0) {
				memcpy(x->next_pid.s, x->job.next_pid, sizeof(x->next_pid.s));
				x->have_next = true;
			}
			pp_wipe(unused, sizeof(unused));
		}
	}
	return 0;
}

static void session_begin(struct session *x);

static void claim_done(struct pp_dbq_op *op, int rc, const struct pp_err *err)
{
	struct claim_op *c = (struct claim_op *)op;
	struct pp_server *s = c->s;
	s->claim_in_flight = false;
	if (rc < 0) {
		s->m.store_errors++;
		pp_error("jobs", "claim failed: %s", err->msg);
		for (size_t i = 0; i < CLAIM_MAX; i++)
			session_free(c->sess[i]);
		free(c);
		return;
	}
	s->m.jobs_claimed += c->n;
	if (c->n == 0)
		s->idle_rounds++;
	else
		s->idle_rounds = 0;
	size_t n = c->n, want = c->want;
	for (size_t i = 0; i < n; i++) {
		c->sess[i]->s = s;
		session_begin(c->sess[i]);
	}
	free(c);
	/* More may be waiting. */
	if (n == want && !s->stopping)
		pp_server_kick_claim(s);
}

void pp_server_kick_claim(struct pp_server *s)
{
	if (s->claim_in_flight || s->stopping)
		return;
	uint64_t free_slots = s->cfg.max_sessions > s->m.sessions_active
				  ? s->cfg.max_sessions - s->m.sessions_active
				  : 0;
	if (!free_slots)
		return;
	struct claim_op *c = calloc(1, sizeof(*c));
	if (!c)
		return;
	c->op.run = claim_run;
	c->op.done = claim_done;
	c->s = s;
	c->want = free_slots < CLAIM_MAX ? free_slots : CLAIM_MAX;
	s->claim_in_flight = true;
	pp_dbq_submit(s->dbq, &c->op);
}

void pp_server_claim_tick(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	struct pp_server *s = arg;
	pp_server_kick_claim(s);
	if (s->exit_when_idle && s->idle_rounds >= 3 && s->m.sessions_active == 0 &&
	    pp_dbq_pending(s->dbq) == 0) {
		pp_info("server", "no runnable job left; exiting (--exit-when-idle)");
		event_base_loopexit(s->base, NULL);
	}
}

struct renew_op {
	struct pp_dbq_op op;
	struct pp_server *s;
};

static int renew_run(struct pp_store *store, struct pp_dbq_op *op, struct pp_err *err)
{
	struct renew_op *r = (struct renew_op *)op;
	return pp_store_jobs_renew(store, r->s->owner, (int64_t)time(NULL), r->s->cfg.lease_seconds,
				   err);
}

static void renew_done(struct pp_dbq_op *op, int rc, const struct pp_err *err)
{
	struct renew_op *r = (struct renew_op *)op;
	if (rc < 0) {
		r->s->m.store_errors++;
		pp_error("jobs", "lease renewal failed: %s", err->msg);
	}
	free(r);
}

void pp_server_renew_tick(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	struct pp_server *s = arg;
	if (!s->m.sessions_active)
		return;
	struct renew_op *r = calloc(1, sizeof(*r));
	if (!r)
		return;
	r->op.run = renew_run;
	r->op.done = renew_done;
	r->s = s;
	pp_dbq_submit(s->dbq, &r->op);
}

/* A store write made on behalf of a session; `then` continues the session after the
 * write is durable (NULL: fire and forget, still in order). */
struct sess_op {
	struct pp_dbq_op op;
	struct session *x;
	int kind;
	enum pp_job_step step;
	char reason[200];
	int64_t next_at;
	void (*then)(struct session *x, int rc, const struct pp_err *err);
	struct pp_pid cand_pid;
	struct pp_pps cand_pps;
};

enum { OP_STEP, OP_RETRY, OP_FAIL, OP_ESCROW, OP_NEXTKEY, OP_COMPLETE, OP_KEYFAIL };

static int sess_run(struct pp_store *store, struct pp_dbq_op *op, struct pp_err *err)
{
	struct sess_op *o = (struct sess_op *)op;
	struct session *x = o->x;
	struct pp_server *s = x->s;
	switch (o->kind) {
	case OP_STEP:
		return pp_store_job_step(store, x->job.id, s->owner, o->step, err);
	case OP_RETRY:
		return pp_store_job_retry(store, x->job.id, s->owner, o->next_at, o->reason, err);
	case OP_FAIL:
		return pp_store_job_fail(store, x->job.id, s->owner, o->reason, err);
	case OP_ESCROW:
		return pp_store_device_escrow(store, x->job.uuid, &x->sec, err);
	case OP_NEXTKEY:
		return pp_store_job_next_key(store, x->job.id, s->owner, o->cand_pid.s,
					     o->cand_pps.s, &x->next_pid, &x->next_pps, err);
	case OP_COMPLETE:
		return pp_store_job_complete(store, x->job.id, s->owner, x->host_name,
					     s->cfg.domain, (int64_t)time(NULL), err);
	case OP_KEYFAIL:
		return pp_store_key_failure(store, x->job.pid, (int64_t)time(NULL),
					    s->cfg.lockout_failures, s->cfg.lockout_seconds, err);
	}
	return pp_err_set(err, PP_EINVAL, "unknown session operation");
}

static void sess_done(struct pp_dbq_op *op, int rc, const struct pp_err *err)
{
	struct sess_op *o = (struct sess_op *)op;
	if (rc < 0 && !o->then) {
		o->x->s->m.store_errors++;
		pp_error("jobs", "job %lld: store: %s", (long long)o->x->job.id, err->msg);
	}
	pp_wipe(&o->cand_pps, sizeof(o->cand_pps));
	void (*then)(struct session *, int, const struct pp_err *) = o->then;
	struct session *x = o->x;
	free(o);
	if (then)
		then(x, rc, err);
}

static struct sess_op *sess_op_new(struct session *x, int kind)
{
	struct sess_op *o = calloc(1, sizeof(*o));
	if (!o)
		return NULL;
	o->op.run = sess_run;
	o->op.done = sess_done;
	o->x = x;
	o->kind = kind;
	return o;
}

static void record_step(struct session *x, enum pp_job_step step)
{
	struct sess_op *o = sess_op_new(x, OP_STEP);
	if (!o)
		return;
	o->step = step;
	if (step > x->job.step)
		x->job.step = step;
	pp_dbq_submit(x->s->dbq, &o->op);
}

/* ---- ending a session -------------------------------------------------------- */

static void uuid_text(const struct session *x, char out[37])
{
	pp_uuid_format(x->job.uuid, out);
}

static void session_teardown_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	struct session *x = arg;
	if (x->evcon)
		evhttp_connection_free(x->evcon); /* frees the bufferevent and the SSL */
	x->evcon = NULL;
	x->ssl = NULL;
	x->s->m.sessions_active--;
	struct pp_server *s = x->s;
	session_free(x);
	pp_server_kick_claim(s);
}

/* Frees the connection outside of libevent's callbacks. */
static void session_end(struct session *x)
{
	if (x->ended)
		return;
	x->ended = true;
	x->phase = PH_END;
	struct timeval zero = {0, 0};
	if (event_base_once(x->s->base, -1, EV_TIMEOUT, session_teardown_cb, x, &zero) < 0)
		pp_error("jobs", "cannot schedule a session teardown");
}

static void fail_logged(struct session *x, int rc, const struct pp_err *err)
{
	(void)err;
	(void)rc;
	session_end(x);
}

/* retryable: the device may answer later (network, timeouts, a device that dropped the
 * connection). Otherwise the job fails for good with the reason. */
static void session_fail(struct session *x, bool retryable, const char *fmt, ...) PP_PRINTF(3, 4);
static void session_fail(struct session *x, bool retryable, const char *fmt, ...)
{
	/* libevent may report one broken connection through more than one callback. */
	if (x->ended || x->failing)
		return;
	x->failing = true;
	struct pp_server *s = x->s;
	char reason[200];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(reason, sizeof(reason), fmt, ap);
	va_end(ap);
	char uuid[37];
	uuid_text(x, uuid);
	bool last = x->job.attempts >= s->cfg.max_attempts;
	struct sess_op *o = sess_op_new(x, retryable && !last ? OP_RETRY : OP_FAIL);
	if (!o) {
		session_end(x);
		return;
	}
	snprintf(o->reason, sizeof(o->reason), "%s", reason);
	if (retryable && !last) {
		/* 2, 4, 8 ... seconds, at most a minute. */
		uint32_t a = x->job.attempts ? x->job.attempts : 1;
		int64_t delay = a >= 6 ? 60 : (int64_t)1 << a;
		o->next_at = (int64_t)time(NULL) + delay;
		s->m.jobs_retried++;
		pp_warn("jobs", "job %lld uuid=%s pid=%s attempt %u: %s; retry in %lld s",
			(long long)x->job.id, uuid, x->job.pid, x->job.attempts, reason,
			(long long)delay);
	} else {
		s->m.jobs_failed++;
		pp_error("jobs", "job %lld uuid=%s pid=%s FAILED after %u attempts: %s",
			 (long long)x->job.id, uuid, x->job.pid, x->job.attempts, reason);
	}
	o->then = fail_logged;
	x->phase = PH_END;
	pp_dbq_submit(s->dbq, &o->op);
}

/* ---- TLS-PSK ----------------------------------------------------------------- */

/* Inside the handshake: the PPS for the hint, from what the claim fetched. Either the
 * hello key or, for a device in the middle of configuration, its rotated key. */
static int psk_lookup(void *arg, const char *pid8, uint8_t pps_out[PP_TLS_PPS_LEN])
{
	struct session *x = arg;
	if (pp_ct_eq(pid8, x->job.pid, 8)) {
		memcpy(pps_out, x->pps.s, PP_TLS_PPS_LEN);
		return 0;
	}
	if (x->have_next && pp_ct_eq(pid8, x->next_pid.s, 8)) {
		memcpy(pps_out, x->next_pps.s, PP_TLS_PPS_LEN);
		return 0;
	}
	return -1;
}

/* ---- WS-Management over HTTP Digest ------------------------------------------ */

static void send_current(struct session *x);
static void advance(struct session *x);

static const char *auth_password(const struct session *x)
{
	if (x->plain_http)
		return x->sec.admin_password;
	return x->use_new_mebx ? x->sec.mebx_password : x->mebx_old;
}

static const char *auth_user(const struct session *x)
{
	return x->plain_http ? x->sec.admin_user : "admin";
}

static void classify_transport_error(struct session *x, const char *what)
{
	char pid[PP_TLS_PID_LEN + 1] = "", why[160] = "";
	int reason = PP_TLS_PROTOCOL;
	if (x->failing || x->ended)
		return;
	if (x->talked) {
		/* The handshake was done long ago: the device dropped the connection. */
		session_fail(x, true, "%s: the device closed the connection", what);
		return;
	}
	if (x->ssl)
		reason = pp_tls_server_result(x->ssl, pid, why, sizeof(why));
	if (reason >= 0 && reason < 8)
		x->s->m.tls_failures[reason]++;
	switch (reason) {
	case PP_TLS_UNKNOWN_PID:
	case PP_TLS_HINT_MISMATCH:
	case PP_TLS_NO_HINT:
		session_fail(x, false, "TLS-PSK: %s", why[0] ? why : pp_tls_reason_name(reason));
		return;
	case PP_TLS_BAD_KEY: {
		/* The device does not hold the PPS for its PID (or we do not): count it
		 * against the key, which locks after repeated failures. */
		struct sess_op *o = sess_op_new(x, OP_KEYFAIL);
		if (o)
			pp_dbq_submit(x->s->dbq, &o->op);
		session_fail(x, false, "TLS-PSK: %s", why[0] ? why : "wrong PPS");
		return;
	}
	case PP_TLS_OK:
		session_fail(x, true, "%s: the device closed the connection", what);
		return;
	default:
		x->s->m.connect_failures++;
		session_fail(x, true, "%s: %s", what,
			     why[0] ? why : "cannot connect to the device");
		return;
	}
}

static void on_response(struct evhttp_request *req, void *arg)
{
	struct session *x = arg;
	if (x->ended || x->failing)
		return;
	struct pp_server *s = x->s;
	int code = req ? evhttp_request_get_response_code(req) : 0;
	if (!req || code == 0) {
		classify_transport_error(x, x->what);
		return;
	}
	x->talked = true;
	struct evkeyvalq *hdrs = evhttp_request_get_input_headers(req);
	if (code == 401) {
		const char *wa = evhttp_find_header(hdrs, "WWW-Authenticate");
		struct pp_err err = {0};
		struct pp_digest_challenge c;
		if (!wa || pp_digest_challenge_parse(wa, strlen(wa), &c, &err) < 0) {
			session_fail(x, false,
				     "%s: device sent 401 without a usable Digest "
				     "challenge",
				     x->what);
			return;
		}
		bool retried_with_auth = x->have_chal;
		x->chal = c;
		x->have_chal = true;
		if (retried_with_auth && !c.stale) {
			/* After a crash the device may hold the old or the new MEBx password. */
			if (!x->plain_http && !x->swapped_password && x->have_sec) {
				x->swapped_password = true;
				x->use_new_mebx = !x->use_new_mebx;
			} else {
				session_fail(x, false, "%s: the device refused the credentials",
					     x->what);
				return;
			}
		}
		if (++x->auth_tries > AUTH_TRIES) {
			session_fail(x, false, "%s: authentication failed", x->what);
			return;
		}
		send_current(x);
		return;
	}
	struct evbuffer *in = evhttp_request_get_input_buffer(req);
	size_t len = evbuffer_get_length(in);
	if (len > PP_WSMAN_DOC_MAX) {
		session_fail(x, false, "%s: response of %zu bytes is over the limit", x->what, len);
		return;
	}
	uint8_t *xml = evbuffer_pullup(in, -1);
	/* One parsed response at a time on this loop: a scratch of the server's, not 34 KiB
	 * in each of thousands of sessions. */
	struct pp_wsman_response *resp = s->resp_scratch;
	struct pp_err err = {0};
	int rc = pp_wsman_response_parse(&x->call, xml, len, resp, &err);
	if (rc < 0) {
		session_fail(x, false, "%s: bad WS-Management response (HTTP %d): %s", x->what,
			     code, err.msg);
		goto out;
	}
	if (resp->is_fault) {
		s->m.wsman_faults++;
		session_fail(x, false, "%s: device fault %s: %s", x->what, resp->fault_subcode,
			     resp->fault_reason);
		goto out;
	}
	if (resp->has_return_value && resp->return_value != 0) {
		session_fail(x, false, "%s: ReturnValue %u", x->what, resp->return_value);
		goto out;
	}
	x->auth_tries = 0;
	/* Harvest what the step reads. */
	switch (x->phase) {
	case PH_GET_SETTINGS: {
		const char *realm = pp_wsman_props_get(&resp->props, PP_AMT_P_DIGEST_REALM);
		if (!realm || !pp_amt_realm_valid(realm)) {
			session_fail(x, false, "%s: no valid DigestRealm", x->what);
			goto out;
		}
		snprintf(x->realm, sizeof(x->realm), "%s", realm);
		break;
	}
	case PH_GET_SETUP:
	case PH_VERIFY_GET: {
		const char *st = pp_wsman_props_get(&resp->props, PP_AMT_P_PROVISIONING_STATE);
		uint32_t v;
		if (!st || pp_parse_u32(st, 0, 2, &v, "ProvisioningState", &err) < 0) {
			session_fail(x, false, "%s: no valid ProvisioningState", x->what);
			goto out;
		}
		if (v == PP_AMT_STATE_POST) {
			if (x->job.step >= PP_STEP_COMMIT_SENT) {
				/* Committed before a crash: finish the record. */
				x->phase = PH_COMPLETE - 1;
				break;
			}
			session_fail(x, false, "device is already provisioned (not by this job)");
			goto out;
		}
		if (x->phase == PH_VERIFY_GET || v != PP_AMT_STATE_IN) {
			session_fail(x, x->phase == PH_VERIFY_GET,
				     "device is in provisioning state %u, not In-Setup", v);
			goto out;
		}
		break;
	}
	case PH_GET_VERSION: {
		const char *ver = pp_wsman_props_get(&resp->props, PP_CIM_P_VERSION_STRING);
		snprintf(x->fw_version, sizeof(x->fw_version), "%s", ver ? ver : "");
		break;
	}
	case PH_TIME_GET: {
		const char *ta0 = pp_wsman_props_get(&resp->props, PP_AMT_P_TA0);
		if (!ta0 || pp_parse_u32(ta0, 0, UINT32_MAX, &x->ta0, "Ta0", &err) < 0) {
			session_fail(x, false, "%s: no valid Ta0", x->what);
			goto out;
		}
		break;
	}
	default:
		break;
	}
	pp_wsman_response_wipe(resp);
	/* Step bookkeeping after a device confirmed it. */
	switch (x->phase) {
	case PH_GET_VERSION:
		record_step(x, PP_STEP_READ);
		break;
	case PH_ACL:
		record_step(x, PP_STEP_ACL);
		break;
	case PH_MEBX:
		x->use_new_mebx = true;
		/* The challenge stays; only the password changes. */
		record_step(x, PP_STEP_MEBX);
		break;
	case PH_PSK:
		record_step(x, PP_STEP_PSK);
		break;
	case PH_NAMES:
		record_step(x, PP_STEP_NAMES);
		break;
	case PH_TIME_SET:
		record_step(x, PP_STEP_TIME);
		break;
	default:
		break;
	}
	x->phase++;
	advance(x);
	return;
out:
	pp_wsman_response_wipe(resp);
}

static void on_request_error(enum evhttp_request_error e, void *arg)
{
	struct session *x = arg;
	if (x->ended || x->failing)
		return;
	if (e == EVREQ_HTTP_TIMEOUT) {
		x->s->m.connect_failures++;
		session_fail(x, true, "%s: the device did not answer in time", x->what);
		return;
	}
	classify_transport_error(x, x->what);
}

static int connect_device(struct session *x, bool plain)
{
	struct pp_server *s = x->s;
	struct pp_err err = {0};
	struct bufferevent *bev;
	x->plain_http = plain;
	x->have_chal = false;
	x->talked = false;
	snprintf(x->host, sizeof(x->host), "%u.%u.%u.%u", x->job.addr[0], x->job.addr[1],
		 x->job.addr[2], x->job.addr[3]);
	if (plain) {
		x->port = s->device_http_port;
		bev = bufferevent_socket_new(s->base, -1, BEV_OPT_CLOSE_ON_FREE);
	} else {
		x->port = s->cfg.device_port;
		x->ssl = SSL_new(s->tls_ctx);
		if (!x->ssl)
			return -PP_ENOMEM;
		if (pp_tls_server_attach(x->ssl, x->job.pid, psk_lookup, x, &err) < 0) {
			SSL_free(x->ssl);
			x->ssl = NULL;
			session_fail(x, false, "TLS: %s", err.msg);
			return -PP_EINVAL;
		}
		bev = bufferevent_openssl_socket_new(
		    s->base, -1, x->ssl, BUFFEREVENT_SSL_CONNECTING, BEV_OPT_CLOSE_ON_FREE);
		if (bev)
			bufferevent_openssl_set_allow_dirty_shutdown(bev, 1);
		else {
			SSL_free(x->ssl);
			x->ssl = NULL;
		}
	}
	if (!bev)
		return -PP_ENOMEM;
	x->evcon = evhttp_connection_base_bufferevent_new(s->base, NULL, bev, x->host, x->port);
	if (!x->evcon) {
		bufferevent_free(bev);
		x->ssl = NULL;
		return -PP_ENOMEM;
	}
	evhttp_connection_set_retries(x->evcon, 0);
	struct timeval tv = {(time_t)(s->cfg.io_timeout_ms / 1000),
			     (suseconds_t)((s->cfg.io_timeout_ms % 1000) * 1000)};
	evhttp_connection_set_timeout_tv(x->evcon, &tv);
	return 0;
}

static void send_current(struct session *x)
{
	struct pp_server *s = x->s;
	struct evhttp_request *req = evhttp_request_new(on_response, x);
	if (!req) {
		session_fail(x, true, "out of memory");
		return;
	}
	evhttp_request_set_error_cb(req, on_request_error);
	struct evkeyvalq *h = evhttp_request_get_output_headers(req);
	char hostport[32];
	snprintf(hostport, sizeof(hostport), "%s:%u", x->host, x->port);
	evhttp_add_header(h, "Host", hostport);
	evhttp_add_header(h, "Content-Type", "application/soap+xml;charset=UTF-8");
	if (x->have_chal) {
		char auth[PP_DIGEST_AUTH_MAX];
		struct pp_err err = {0};
		int rc = pp_digest_authorization_make(&x->chal, "POST", "/wsman", auth_user(x),
						      auth_password(x), auth, sizeof(auth), &err);
		if (rc < 0) {
			evhttp_request_free(req);
			session_fail(x, false, "%s: digest: %s", x->what, err.msg);
			return;
		}
		evhttp_add_header(h, "Authorization", auth);
		pp_wipe(auth, sizeof(auth));
	}
	evbuffer_add(evhttp_request_get_output_buffer(req), x->body.data, x->body.len);
	s->m.wsman_requests++;
	if (evhttp_make_request(x->evcon, req, EVHTTP_REQ_POST, "/wsman") < 0)
		session_fail(x, true, "%s: cannot send the request", x->what);
}

static void to_url(const struct session *x, char *out, size_t cap)
{
	snprintf(out, cap, "http%s://%s:%u/wsman", x->plain_http ? "" : "s", x->host, x->port);
}

/* Builds the request for the current phase into x->body and sends it. */
static void wsman_get(struct session *x, const char *uri, const char *what)
{
	char to[64];
	struct pp_err err = {0};
	to_url(x, to, sizeof(to));
	x->what = what;
	pp_buf_reset(&x->body);
	if (pp_wsman_build_get(to, uri, NULL, &x->call, &x->body, &err) < 0) {
		session_fail(x, false, "%s: %s", what, err.msg);
		return;
	}
	send_current(x);
}

static void wsman_invoke(struct session *x, const char *uri, const char *method,
			 const struct pp_wsman_props *params, const char *what)
{
	char to[64];
	struct pp_err err = {0};
	to_url(x, to, sizeof(to));
	x->what = what;
	pp_buf_free_wipe(&x->body); /* the last body may have held a secret */
	pp_buf_init(&x->body, PP_WSMAN_DOC_MAX);
	if (pp_wsman_build_invoke(to, uri, method, NULL, params, &x->call, &x->body, &err) < 0) {
		session_fail(x, false, "%s: %s", what, err.msg);
		return;
	}
	send_current(x);
}

/* ---- the setup sequence ------------------------------------------------------ */

static void escrow_done(struct session *x, int rc, const struct pp_err *err)
{
	if (x->ended)
		return;
	if (rc < 0) {
		session_fail(x, true, "escrow of the device credentials: %s", err->msg);
		return;
	}
	x->have_sec = true;
	x->phase++;
	advance(x);
}

static void nextkey_done(struct session *x, int rc, const struct pp_err *err)
{
	if (x->ended)
		return;
	if (rc == -PP_EEXIST) {
		/* PID collision: draw again. */
		advance(x);
		return;
	}
	if (rc < 0) {
		session_fail(x, true, "storing the next key: %s", err->msg);
		return;
	}
	x->have_next = true;
	memcpy(x->job.next_pid, x->next_pid.s, sizeof(x->job.next_pid));
	x->phase++;
	advance(x);
}

static void commit_recorded(struct session *x, int rc, const struct pp_err *err)
{
	if (x->ended)
		return;
	if (rc < 0) {
		session_fail(x, true, "recording the commit step: %s", err->msg);
		return;
	}
	x->job.step = PP_STEP_COMMIT_SENT;
	x->phase++;
	advance(x);
}

static void complete_done(struct session *x, int rc, const struct pp_err *err)
{
	struct pp_server *s = x->s;
	char uuid[37];
	uuid_text(x, uuid);
	if (rc < 0) {
		s->m.store_errors++;
		pp_error("jobs", "job %lld uuid=%s: recording success failed: %s",
			 (long long)x->job.id, uuid, err->msg);
	} else {
		s->m.provisioned++;
		pp_info("jobs", "job %lld uuid=%s pid=%s provisioned as %s.%s in %.0f ms%s%s",
			(long long)x->job.id, uuid, x->job.pid, x->host_name, s->cfg.domain,
			(pp_server_now_ms() / 1000.0 - x->t0) * 1000.0,
			x->have_next ? ", next key " : "", x->have_next ? x->next_pid.s : "");
	}
	session_end(x);
}

static void make_host_name(struct session *x)
{
	const char *t = x->s->cfg.host_name_template;
	char uuid[37];
	uuid_text(x, uuid);
	size_t n = 0;
	for (const char *p = t; *p && n + 1 < sizeof(x->host_name);) {
		const char *rep = NULL;
		size_t skip = 1;
		char pidl[9];
		if (!strncmp(p, "{pid}", 5)) {
			for (int i = 0; i < 8; i++)
				pidl[i] = (char)tolower((unsigned char)x->job.pid[i]);
			pidl[8] = '\0';
			rep = pidl;
			skip = 5;
		} else if (!strncmp(p, "{uuid8}", 7)) {
			memcpy(pidl, uuid, 8);
			pidl[8] = '\0';
			rep = pidl;
			skip = 7;
		}
		if (rep) {
			for (const char *r = rep; *r && n + 1 < sizeof(x->host_name); r++)
				x->host_name[n++] = *r;
		} else {
			x->host_name[n++] = *p;
		}
		p += skip;
	}
	x->host_name[n] = '\0';
}

static void advance(struct session *x)
{
	struct pp_server *s = x->s;
	struct pp_err err = {0};
	if (x->ended)
		return;
	for (;;) {
		switch (x->phase) {
		case PH_GET_SETTINGS:
			wsman_get(x, PP_AMT_URI_GENERAL_SETTINGS, "read AMT_GeneralSettings");
			return;
		case PH_GET_SETUP:
			wsman_get(x, PP_AMT_URI_SETUP_AND_CONFIGURATION_SERVICE,
				  "read the provisioning state");
			return;
		case PH_GET_VERSION:
			wsman_get(x, PP_CIM_URI_SOFTWARE_IDENTITY, "read the firmware version");
			return;
		case PH_ESCROW: {
			if (x->have_sec) {
				x->phase++;
				continue;
			}
			struct sess_op *o = sess_op_new(x, OP_ESCROW);
			if (!o) {
				session_fail(x, true, "out of memory");
				return;
			}
			snprintf(x->sec.admin_user, sizeof(x->sec.admin_user), "%s",
				 s->cfg.admin_user);
			if (pp_keygen_password(s->keygen, s->cfg.admin_password_length,
					       x->sec.admin_password) < 0 ||
			    pp_keygen_password(s->keygen, s->cfg.mebx_password_length,
					       x->sec.mebx_password) < 0) {
				free(o);
				session_fail(x, true, "cannot generate passwords");
				return;
			}
			o->then = escrow_done;
			pp_dbq_submit(s->dbq, &o->op);
			return;
		}
		case PH_ACL: {
			struct pp_wsman_props p;
			char hash[25];
			pp_wsman_props_init(&p);
			int rc = pp_digest_password_hash(x->sec.admin_user, x->realm,
							 x->sec.admin_password, hash, &err);
			if (rc == 0)
				rc = pp_wsman_props_add(&p, PP_AMT_P_USERNAME, x->sec.admin_user,
							&err);
			if (rc == 0)
				rc = pp_wsman_props_add(&p, PP_AMT_P_DIGEST_PASSWORD, hash, &err);
			pp_wipe(hash, sizeof(hash));
			if (rc < 0) {
				pp_wsman_props_wipe(&p);
				session_fail(x, false, "admin account: %s", err.msg);
				return;
			}
			wsman_invoke(x, PP_AMT_URI_AUTHORIZATION_SERVICE,
				     PP_AMT_SET_ADMIN_ACL_ENTRY_EX, &p, "set the admin account");
			pp_wsman_props_wipe(&p);
			return;
		}
		case PH_MEBX: {
			struct pp_wsman_props p;
			pp_wsman_props_init(&p);
			if (pp_wsman_props_add(&p, PP_AMT_P_PASSWORD, x->sec.mebx_password, &err) <
			    0) {
				session_fail(x, false, "MEBx password: %s", err.msg);
				return;
			}
			wsman_invoke(x, PP_AMT_URI_SETUP_AND_CONFIGURATION_SERVICE,
				     PP_AMT_SET_MEBX_PASSWORD, &p, "set the MEBx password");
			pp_wsman_props_wipe(&p);
			return;
		}
		case PH_NEXTKEY: {
			if (!s->cfg.rotate_psk) {
				x->phase = PH_NAMES;
				continue;
			}
			if (x->have_next) {
				x->phase++;
				continue;
			}
			struct sess_op *o = sess_op_new(x, OP_NEXTKEY);
			if (!o || pp_keygen_pid(s->keygen, &o->cand_pid) < 0 ||
			    pp_keygen_pps(s->keygen, &o->cand_pps) < 0) {
				free(o);
				session_fail(x, true, "cannot generate the next key");
				return;
			}
			o->then = nextkey_done;
			pp_dbq_submit(s->dbq, &o->op);
			return;
		}
		case PH_PSK: {
			struct pp_wsman_props p;
			char pid64[16], pps64[48];
			pp_wsman_props_init(&p);
			int rc = pp_b64_encode(x->next_pid.s, 8, pid64, sizeof(pid64), &err);
			if (rc == 0)
				rc = pp_b64_encode(x->next_pps.s, 32, pps64, sizeof(pps64), &err);
			if (rc == 0)
				rc = pp_wsman_props_add(&p, PP_AMT_P_PID, pid64, &err);
			if (rc == 0)
				rc = pp_wsman_props_add(&p, PP_AMT_P_PPS, pps64, &err);
			pp_wipe(pps64, sizeof(pps64));
			if (rc < 0) {
				pp_wsman_props_wipe(&p);
				session_fail(x, false, "next key: %s", err.msg);
				return;
			}
			wsman_invoke(x, PP_AMT_URI_SETUP_AND_CONFIGURATION_SERVICE,
				     PP_AMT_SET_TLS_PSK, &p, "install the next PID/PPS");
			pp_wsman_props_wipe(&p);
			return;
		}
		case PH_NAMES: {
			struct pp_wsman_props p;
			char to[64];
			make_host_name(x);
			pp_wsman_props_init(&p);
			if (pp_wsman_props_add(&p, PP_AMT_P_HOST_NAME, x->host_name, &err) < 0 ||
			    pp_wsman_props_add(&p, PP_AMT_P_DOMAIN_NAME, s->cfg.domain, &err) < 0) {
				session_fail(x, false, "names: %s", err.msg);
				return;
			}
			to_url(x, to, sizeof(to));
			x->what = "set host and domain names";
			pp_buf_reset(&x->body);
			if (pp_wsman_build_put(to, PP_AMT_URI_GENERAL_SETTINGS, NULL, &p, &x->call,
					       &x->body, &err) < 0) {
				session_fail(x, false, "names: %s", err.msg);
				return;
			}
			send_current(x);
			return;
		}
		case PH_TIME_GET:
			if (!s->cfg.set_time) {
				x->phase = PH_COMMIT_RECORD;
				continue;
			}
			wsman_invoke(x, PP_AMT_URI_TIME_SYNCHRONIZATION_SERVICE,
				     PP_AMT_GET_LOW_ACCURACY_TIME_SYNCH, NULL, "read the clock");
			return;
		case PH_TIME_SET: {
			struct pp_wsman_props p;
			char ta0[16], tm[16];
			pp_wsman_props_init(&p);
			snprintf(ta0, sizeof(ta0), "%u", x->ta0);
			snprintf(tm, sizeof(tm), "%lld", (long long)time(NULL));
			if (pp_wsman_props_add(&p, PP_AMT_P_TA0, ta0, &err) < 0 ||
			    pp_wsman_props_add(&p, PP_AMT_P_TM1, tm, &err) < 0 ||
			    pp_wsman_props_add(&p, PP_AMT_P_TM2, tm, &err) < 0) {
				session_fail(x, false, "time: %s", err.msg);
				return;
			}
			wsman_invoke(x, PP_AMT_URI_TIME_SYNCHRONIZATION_SERVICE,
				     PP_AMT_SET_HIGH_ACCURACY_TIME_SYNCH, &p, "set the clock");
			return;
		}
		case PH_COMMIT_RECORD: {
			if (x->job.step >= PP_STEP_COMMIT_SENT) {
				x->phase++;
				continue;
			}
			struct sess_op *o = sess_op_new(x, OP_STEP);
			if (!o) {
				session_fail(x, true, "out of memory");
				return;
			}
			o->step = PP_STEP_COMMIT_SENT;
			o->then = commit_recorded;
			pp_dbq_submit(s->dbq, &o->op);
			return;
		}
		case PH_COMMIT:
			wsman_invoke(x, PP_AMT_URI_SETUP_AND_CONFIGURATION_SERVICE,
				     PP_AMT_COMMIT_CHANGES, NULL, "commit");
			return;
		case PH_COMPLETE: {
			if (!x->host_name[0])
				make_host_name(x);
			struct sess_op *o = sess_op_new(x, OP_COMPLETE);
			if (!o) {
				session_fail(x, true, "out of memory");
				return;
			}
			o->then = complete_done;
			pp_dbq_submit(s->dbq, &o->op);
			x->phase = PH_END;
			return;
		}
		case PH_VERIFY_GET:
		case PH_END:
		default:
			return;
		}
	}
}

static void session_begin(struct session *x)
{
	struct pp_server *s = x->s;
	s->m.sessions_started++;
	s->m.sessions_active++;
	if (s->m.sessions_active > s->m.sessions_peak)
		s->m.sessions_peak = s->m.sessions_active;
	x->t0 = pp_server_now_ms() / 1000.0;
	if (x->phase == PH_END) {
		session_fail(x, false, "%s", x->job.last_error);
		return;
	}
	/* A job past MEBX authenticates with the new MEBx password first. */
	x->use_new_mebx = x->have_sec && x->job.step >= PP_STEP_MEBX;
	if (x->job.step >= PP_STEP_COMMIT_SENT && x->have_sec) {
		/* Committed before a crash? A provisioned device answers on its HTTP port
		 * with the admin account; an uncommitted one still speaks TLS-PSK. */
		if (connect_device(x, true) < 0) {
			session_fail(x, true, "cannot start a connection");
			return;
		}
		x->phase = PH_VERIFY_GET;
		wsman_get(x, PP_AMT_URI_SETUP_AND_CONFIGURATION_SERVICE,
			  "check the commit on the HTTP port");
		return;
	}
	if (connect_device(x, false) < 0) {
		if (!x->ended)
			session_fail(x, true, "cannot start a connection");
		return;
	}
	x->phase = PH_GET_SETTINGS;
	advance(x);
}
