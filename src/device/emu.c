/* The emulated device on an event loop: hellos, the TLS-PSK listener with WS-Management
 * inside, the plain HTTP listener of a provisioned device, handshake backoff, faults.
 * See emu.h. */
#include "device/emu.h"

#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <event2/listener.h>
#include <openssl/err.h>

#include "core/clock.h"
#include "core/fileio.h"
#include "core/secret.h"
#include "core/sock.h"
#include "prog/evio.h"
#include "device/devutil.h"
#include "device/ws.h"
#include "keys/keys.h"
#include "proto/hello.h"
#include "tls/tls.h"
#include "prog/log.h"
#include "wsman/digest.h"
#include "wsman/soap.h"

#define LOG "device"
#define WSMAN_PATH "/wsman"
#define SOAP_CONTENT_TYPE "application/soap+xml;charset=UTF-8"
#define HEADERS_MAX 16384

/* A TLS connection whose handshake is in progress. evhttp owns the bufferevent; the
 * runtime borrows its event callback until the handshake ends, to learn the outcome
 * (pp_tls_device_result) for the backoff, then gives it back. */
struct emu_hs {
	struct pp_emu *emu;
	struct bufferevent *bev;
	struct event *hook;
	bool hooked;
	bufferevent_data_cb rd, wr;
	bufferevent_event_cb ev;
	void *ev_arg;
	struct emu_hs *next;
};

/* An HTTP connection that has sent a request: counted against PP_EMU_MAX_CONNS, and the
 * place of an answer waiting for its injected latency (or of the disconnect fault). */
struct emu_conn {
	struct pp_emu *emu;
	struct evhttp_connection *evcon;
	struct evhttp_request *req; /* answer waiting in `timer`, or NULL */
	struct event *timer;
	int status;
	bool drop;
	struct emu_conn *next;
};

struct pp_emu {
	const struct pp_emu_env *env;
	struct pp_amt_device *dev;
	void *arg;
	char name[16];
	uint8_t addr[4];
	uint8_t fault; /* enum pp_emu_fault */
	bool started;
	bool dropped;          /* the disconnect fault has fired */
	bool warned_no_server; /* said once that hellos have nowhere to go */
	bool bind_warned;
	uint8_t state; /* provisioning state last seen */
	uint32_t auth_requests;
	struct event *hello_timer;
	struct bufferevent *hello_bev; /* the hello in flight */
	struct event *net_timer;       /* end of a backoff, retry of a listener */
	struct evhttp *tls_http, *plain_http;
	struct evhttp_bound_socket *tls_sock, *plain_sock;
	struct pp_digest_server digest;
	struct pp_digest_replay *replay; /* made at the first authenticated request */
	struct emu_hs *hs;
	unsigned n_hs;
	struct emu_conn *conns;
	unsigned n_conns;
	struct pp_devws_state *ws; /* enumeration contexts; NULL until the first Enumerate */
};

static struct timeval ms_tv(uint64_t ms)
{
	struct timeval tv = {.tv_sec = (time_t)(ms / 1000),
			     .tv_usec = (suseconds_t)(ms % 1000) * 1000};
	return tv;
}

static void emit(struct pp_emu *e, enum pp_emu_event ev)
{
	if (e->env->on_event)
		e->env->on_event(e->arg, e, ev);
}

static void emu_sync(struct pp_emu *e);

/* ---- hellos (docs/protocol.md section 2) ---- */

static void hello_close(struct pp_emu *e)
{
	if (e->hello_bev) {
		bufferevent_free(e->hello_bev);
		e->hello_bev = NULL;
	}
}

static void hello_written(struct bufferevent *bev, void *arg)
{
	struct pp_emu *e = arg;
	if (evbuffer_get_length(bufferevent_get_output(bev)) != 0)
		return;
	hello_close(e);
	pp_debug(LOG, "%s: hello delivered", e->name);
	emit(e, PP_EMU_EV_HELLO);
}

static void hello_event(struct bufferevent *bev, short what, void *arg)
{
	struct pp_emu *e = arg;
	(void)bev;
	if (what & BEV_EVENT_CONNECTED)
		return;
	int err = EVUTIL_SOCKET_ERROR();
	bool refused = !(what & (BEV_EVENT_TIMEOUT | BEV_EVENT_EOF)) && err == ECONNREFUSED;
	pp_debug(LOG, "%s: hello not delivered: %s", e->name,
		 (what & BEV_EVENT_TIMEOUT) ? "timed out"
		 : (what & BEV_EVENT_EOF)   ? "closed by the server"
					    : evutil_socket_error_to_string(err));
	hello_close(e);
	if (refused)
		emit(e, PP_EMU_EV_HELLO_REFUSED);
}

/* Where hellos go: the --server override, else the device's configured IPv4 server
 * when it is a loopback address. */
static bool hello_target(struct pp_emu *e, struct sockaddr_in *sin)
{
	memset(sin, 0, sizeof(*sin));
	sin->sin_family = AF_INET;
	if (e->env->has_server) {
		memcpy(&sin->sin_addr, e->env->server_ip, 4);
		sin->sin_port = htons(e->env->server_port);
		return true;
	}
	struct pp_amt_server s;
	pp_amt_server(e->dev, &s);
	if (s.has_ipv4 && s.ipv4[0] == 127) {
		memcpy(&sin->sin_addr, s.ipv4, 4);
		sin->sin_port = htons(s.port);
		return true;
	}
	if (!e->warned_no_server) {
		e->warned_no_server = true;
		pp_warn(LOG,
			"%s: no loopback IPv4 configuration server known (give --server): "
			"not sending hellos",
			e->name);
	}
	return false;
}

static void hello_send(struct pp_emu *e, uint32_t retry)
{
	struct pp_hello h;
	struct pp_pid pid;
	struct pp_err err = {0};
	uint8_t msg[PP_HELLO_V2_LEN];
	size_t len = 0;
	struct sockaddr_in dst, src;
	int fd = -1;

	hello_close(e); /* a hello still in flight gives way to the next one */
	if (!hello_target(e, &dst))
		return;
	memset(&h, 0, sizeof(h));
	h.version = PP_HELLO_V2;
	h.admin_credentials_set = pp_amt_mebx_is_factory_default(e->dev) ? 0 : 1;
	h.retry_count = retry;
	pp_amt_uuid(e->dev, h.uuid);
	int rc = pp_amt_pid(e->dev, &pid, &err);
	if (rc == 0) {
		memcpy(h.pid, pid.s, PP_HELLO_PID_LEN + 1);
		rc = pp_hello_write(&h, msg, sizeof(msg), &len, &err);
	}
	if (rc < 0) {
		pp_warn(LOG, "%s: cannot make a hello: %s", e->name, err.msg);
		return;
	}
	memset(&src, 0, sizeof(src));
	src.sin_family = AF_INET;
	memcpy(&src.sin_addr, e->addr, 4);
	fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		pp_warn(LOG, "%s: hello: socket: %s", e->name, strerror(errno));
		return;
	}
	/* From the device's own address: the server takes the device address from the
	 * TCP peer (docs/protocol.md section 2). */
	if (bind(fd, (struct sockaddr *)&src, sizeof(src)) < 0) {
		pp_debug(LOG, "%s: hello: bind: %s", e->name, strerror(errno));
		close(fd);
		return;
	}
	struct bufferevent *bev = bufferevent_socket_new(e->env->base, fd, BEV_OPT_CLOSE_ON_FREE);
	if (!bev) {
		close(fd);
		pp_warn(LOG, "%s: hello: out of memory", e->name);
		return;
	}
	struct timeval tv = ms_tv(PP_EMU_HELLO_TIMEOUT_MS);
	bufferevent_setcb(bev, NULL, hello_written, hello_event, e);
	bufferevent_set_timeouts(bev, &tv, &tv);
	e->hello_bev = bev;
	if (bufferevent_write(bev, msg, len) < 0 ||
	    bufferevent_socket_connect(bev, (struct sockaddr *)&dst, sizeof(dst)) < 0) {
		int serr = EVUTIL_SOCKET_ERROR();
		pp_debug(LOG, "%s: hello: connect: %s", e->name,
			 evutil_socket_error_to_string(serr));
		hello_close(e);
		if (serr == ECONNREFUSED)
			emit(e, PP_EMU_EV_HELLO_REFUSED);
		return;
	}
	char to[INET_ADDRSTRLEN] = "?";
	inet_ntop(AF_INET, &dst.sin_addr, to, sizeof(to));
	pp_debug(LOG, "%s: hello RetryCount %" PRIu32 " to %s:%u", e->name, retry, to,
		 ntohs(dst.sin_port));
}

static void hello_tick(evutil_socket_t fd, short what, void *arg)
{
	struct pp_emu *e = arg;
	uint32_t retry = 0;
	uint64_t delay = 0;
	(void)fd;
	(void)what;
	if (e->fault == PP_EMU_FAULT_SILENT)
		return;
	/* lib/firmware divides its delays by its factor; ours multiplies them. */
	int act = pp_amt_hello_next(e->dev, pp_now_ms(), 1.0 / e->env->time_scale, &retry, &delay);
	if (act == PP_AMT_HELLO_SEND)
		hello_send(e, retry);
	if ((act == PP_AMT_HELLO_SEND || act == PP_AMT_HELLO_WAIT) && delay > 0) {
		struct timeval tv = ms_tv(delay);
		evtimer_add(e->hello_timer, &tv);
	}
}

/* ---- connections ---- */

static struct emu_conn *conn_find(struct pp_emu *e, struct evhttp_connection *evcon)
{
	for (struct emu_conn *c = e->conns; c; c = c->next)
		if (c->evcon == evcon)
			return c;
	return NULL;
}

static void conn_unlink(struct emu_conn *cn)
{
	struct pp_emu *e = cn->emu;
	for (struct emu_conn **p = &e->conns; *p; p = &(*p)->next) {
		if (*p == cn) {
			*p = cn->next;
			e->n_conns--;
			break;
		}
	}
	if (cn->timer)
		event_free(cn->timer);
	free(cn);
}

/* evhttp is freeing the connection (peer gone, timeout, our drop): forget it, and the
 * answer that was waiting with it. */
static void conn_closed(struct evhttp_connection *evcon, void *arg)
{
	(void)evcon;
	conn_unlink(arg);
}

static const char *status_text(int status)
{
	switch (status) {
	case 200:
		return "OK";
	case 400:
		return "Bad Request";
	case 401:
		return "Unauthorized";
	case 404:
		return "Not Found";
	case 500:
		return "Internal Server Error";
	case 503:
		return "Service Unavailable";
	default:
		return "Error";
	}
}

static void conn_timer(evutil_socket_t fd, short what, void *arg)
{
	struct emu_conn *cn = arg;
	(void)fd;
	(void)what;
	if (cn->drop) {
		/* Calls conn_closed, which frees cn. */
		evhttp_connection_free(cn->evcon);
		return;
	}
	struct evhttp_request *req = cn->req;
	cn->req = NULL;
	if (req)
		evhttp_send_reply(req, cn->status, status_text(cn->status), NULL); /* may free cn */
}

static bool conn_timer_make(struct pp_emu *e, struct emu_conn *cn)
{
	if (!cn->timer)
		cn->timer = evtimer_new(e->env->base, conn_timer, cn);
	return cn->timer != NULL;
}

/* Sends the answer prepared in req's output buffer, after the injected latency. */
static void reply(struct pp_emu *e, struct emu_conn *cn, struct evhttp_request *req, int status)
{
	if (e->env->latency_ms && cn && !cn->req && conn_timer_make(e, cn)) {
		struct timeval tv = ms_tv(e->env->latency_ms);
		cn->req = req;
		cn->status = status;
		evtimer_add(cn->timer, &tv);
		return;
	}
	evhttp_send_reply(req, status, status_text(status), NULL);
}

/* ---- TLS-PSK handshakes ---- */

static void hs_unlink(struct emu_hs *h)
{
	struct pp_emu *e = h->emu;
	for (struct emu_hs **p = &e->hs; *p; p = &(*p)->next) {
		if (*p == h) {
			*p = h->next;
			e->n_hs--;
			break;
		}
	}
	if (h->hook)
		event_free(h->hook);
	free(h);
}

static void peer_name(struct bufferevent *bev, char *out, size_t cap)
{
	struct sockaddr_in sin;
	socklen_t sl = sizeof(sin);
	evutil_socket_t fd = bufferevent_getfd(bev);
	char ip[INET_ADDRSTRLEN];
	if (fd >= 0 && getpeername(fd, (struct sockaddr *)&sin, &sl) == 0 &&
	    sin.sin_family == AF_INET && inet_ntop(AF_INET, &sin.sin_addr, ip, sizeof(ip)))
		snprintf(out, cap, "%s:%u", ip, ntohs(sin.sin_port));
	else
		snprintf(out, cap, "?");
}

static void handshake_done(struct pp_emu *e, struct bufferevent *bev, short what)
{
	SSL *ssl = bufferevent_openssl_get_ssl(bev);
	char id[PP_TLS_PID_LEN + 1], why[256], peer[32];
	int reason = ssl ? pp_tls_device_result(ssl, id, why, sizeof(why)) : PP_TLS_PROTOCOL;
	if (!ssl)
		snprintf(why, sizeof(why), "not a TLS connection");
	ERR_clear_error();
	peer_name(bev, peer, sizeof(peer));
	if ((what & BEV_EVENT_CONNECTED) && reason == PP_TLS_OK) {
		pp_amt_handshake_ok(e->dev);
		pp_debug(LOG, "%s: TLS-PSK handshake with %s complete", e->name, peer);
		emit(e, PP_EMU_EV_HANDSHAKE_OK);
		return;
	}
	if (reason == PP_TLS_BAD_KEY || reason == PP_TLS_UNKNOWN_PID) {
		uint64_t now = pp_now_ms();
		pp_amt_handshake_failed(e->dev, now);
		pp_info(LOG,
			"%s: TLS-PSK handshake with %s failed (%s): %s; backing off %" PRIu64 " ms",
			e->name, peer, pp_tls_reason_name(reason), why,
			pp_amt_handshake_wait_ms(e->dev, now));
		emit(e, PP_EMU_EV_HANDSHAKE_FAILED);
		emu_sync(e);
		return;
	}
	pp_debug(LOG, "%s: TLS connection from %s ended in the handshake (%s): %s", e->name, peer,
		 (what & BEV_EVENT_TIMEOUT) ? "timeout" : pp_tls_reason_name(reason), why);
}

/* The borrowed event callback: sees the end of the handshake, gives the callbacks back
 * to evhttp and forwards the event. */
static void hs_event(struct bufferevent *bev, short what, void *arg)
{
	struct emu_hs *h = arg;
	struct pp_emu *e = h->emu;
	bufferevent_event_cb ev = h->ev;
	void *ev_arg = h->ev_arg;
	bufferevent_setcb(bev, h->rd, h->wr, ev, ev_arg);
	hs_unlink(h);
	handshake_done(e, bev, what);
	if (ev)
		ev(bev, what, ev_arg);
}

/* Runs from the loop's active queue right after evhttp has taken the new connection
 * (it sets its callbacks synchronously in its accept callback) and before any I/O on it
 * can be seen. */
static void hs_hook(evutil_socket_t fd, short what, void *arg)
{
	struct emu_hs *h = arg;
	struct bufferevent *bev = h->bev;
	(void)fd;
	(void)what;
	h->hooked = true;
	/* An answer goes out as headers and body: no wait for a delayed ACK between. */
	if (bufferevent_getfd(bev) >= 0)
		(void)pp_sock_nodelay(bufferevent_getfd(bev));
	bufferevent_getcb(bev, &h->rd, &h->wr, &h->ev, &h->ev_arg);
	if (!h->ev) {
		/* evhttp already let go of it (bufferevent_free clears the callbacks). */
		hs_unlink(h);
		bufferevent_decref(bev);
		return;
	}
	bufferevent_setcb(bev, h->rd, h->wr, hs_event, h);
	bufferevent_decref(bev); /* evhttp still holds its own reference */
}

static struct bufferevent *tls_bevcb(struct event_base *base, void *arg)
{
	struct pp_emu *e = arg;
	struct pp_err err = {0};
	struct pp_pid pid;
	struct pp_pps pps;
	struct emu_hs *h = NULL;
	bool attached = false;

	SSL *ssl = SSL_new(e->env->tls_ctx);
	if (!ssl) {
		/* evhttp falls back to a plain socket; tls_request_cb refuses every request
		 * on a connection without TLS. */
		pp_warn(LOG, "%s: SSL_new failed", e->name);
		ERR_clear_error();
		return NULL;
	}
	if (e->n_hs < PP_EMU_MAX_HANDSHAKES && (h = calloc(1, sizeof(*h))) != NULL) {
		if (pp_amt_tls_key(e->dev, &pid, &pps, &err) == 0 &&
		    pp_tls_device_attach(ssl, pid.s, (const uint8_t *)pps.s, &err) == 0)
			attached = true;
		else
			pp_debug(LOG, "%s: refusing a TLS connection: %s", e->name, err.msg);
		pp_wipe(&pps, sizeof(pps));
	}
	/* Not attached: no key on this SSL, so its handshake fails at once. */
	if (!attached)
		SSL_set_accept_state(ssl);
	struct bufferevent *bev = bufferevent_openssl_socket_new(
	    base, -1, ssl, BUFFEREVENT_SSL_ACCEPTING, BEV_OPT_CLOSE_ON_FREE);
	if (!bev) {
		SSL_free(ssl);
		free(h);
		return NULL;
	}
	/* The handshake's own deadline, whatever evhttp sets later. */
	struct timeval tv = {PP_EMU_HTTP_TIMEOUT_S, 0};
	bufferevent_set_timeouts(bev, &tv, &tv);
	if (pp_bev_one_record(bev) < 0)
		pp_debug(LOG, "%s: answers on this connection leave in pieces", e->name);
	if (!attached) {
		free(h);
		return bev;
	}
	h->emu = e;
	h->bev = bev;
	h->hook = event_new(base, -1, 0, hs_hook, h);
	if (!h->hook) {
		free(h);
		return bev; /* handshake outcome not watched; the connection still works */
	}
	bufferevent_incref(bev);
	h->next = e->hs;
	e->hs = h;
	e->n_hs++;
	event_active(h->hook, EV_TIMEOUT, 1);
	return bev;
}

/* ---- WS-Management over HTTP ---- */

/* In-Setup, "admin" logs in with the MEBx password. A server that holds another one
 * (the one issued with the key, while the console set a different one) is told why in
 * the device's log; the password itself is never named. */
static void auth_refused(struct pp_emu *e, const char *user, int rc, const struct pp_err *err)
{
	pp_info(LOG, "%s: Digest for user '%.32s' refused: %s", e->name, user,
		err->msg[0] ? err->msg : pp_status_str(-rc));
	struct pp_pid pid;
	if (rc != -PP_EPERM || strcmp(user, "admin") != 0 ||
	    pp_amt_state(e->dev) != PP_AMT_IN_SETUP || pp_amt_pid(e->dev, &pid, NULL) < 0)
		return;
	char shown[PP_PID_TEXT];
	pp_pid_format(&pid, shown);
	pp_warn(LOG,
		"%s: a login as 'admin' used another MEBx password than this device's; a "
		"configuration server logs in first with the MEBx password issued with PID %s: "
		"a password set at the console or by a USB record must be that one",
		e->name, shown);
}

/* 0 when the request carries valid Digest credentials; else answers 401 and returns 1. */
static int authenticate(struct pp_emu *e, struct emu_conn *cn, struct evhttp_request *req)
{
	struct evkeyvalq *in = evhttp_request_get_input_headers(req);
	const char *value = evhttp_find_header(in, "Authorization");
	uint64_t now = (uint64_t)time(NULL);
	struct pp_err err = {0};
	bool stale = false;

	if (value) {
		/* On the stack (1.7 KB): a heap block this size per request went through
		 * malloc's large bins; the parse clears it, the wipe below ends it. */
		struct pp_digest_auth auth, *a = &auth;
		uint8_t ha1[PP_DIGEST_HA1_LEN];
		int rc = -PP_ENOMEM;
		if (!e->replay && (e->replay = malloc(sizeof(*e->replay))) != NULL)
			pp_digest_replay_init(e->replay);
		if (e->replay && (rc = pp_digest_auth_parse(value, strlen(value), a, &err)) == 0) {
			/* An unknown user is checked against a random HA1: same answer, same
			 * work as a wrong password. */
			if (pp_amt_digest_ha1(e->dev, a->username, ha1, NULL) < 0 &&
			    pp_random(ha1, sizeof(ha1)) < 0)
				memset(ha1, 0xA5, sizeof(ha1));
			rc = pp_digest_verify(&e->digest, e->replay, a, "POST",
					      evhttp_request_get_uri(req), ha1, now, &err);
			pp_wipe(ha1, sizeof(ha1));
			if (rc < 0)
				auth_refused(e, a->username, rc, &err);
		} else if (rc < 0) {
			pp_info(LOG, "%s: unusable Authorization header: %s", e->name,
				err.msg[0] ? err.msg : pp_status_str(-rc));
		}
		pp_wipe(a, sizeof(*a));
		if (rc == 0)
			return 0;
		stale = rc == -PP_ETIMEOUT;
	}
	char challenge[PP_DIGEST_CHALLENGE_MAX];
	struct evkeyvalq *out = evhttp_request_get_output_headers(req);
	if (pp_digest_challenge_make(&e->digest, now, stale, challenge, sizeof(challenge), &err) <
	    0) {
		pp_warn(LOG, "%s: cannot make a Digest challenge: %s", e->name, err.msg);
		reply(e, cn, req, 500);
		return 1;
	}
	evhttp_add_header(out, "WWW-Authenticate", challenge);
	reply(e, cn, req, 401);
	return 1;
}

static void state_changed(struct pp_emu *e)
{
	uint8_t now = (uint8_t)pp_amt_state(e->dev);
	if (now == e->state)
		return;
	pp_info(LOG, "%s: %s -> %s%s", e->name, pp_amt_state_name(e->state), pp_amt_state_name(now),
		now == PP_AMT_POST_SETUP ? " (provisioned)" : "");
	e->state = now;
	emu_sync(e);
	emit(e, PP_EMU_EV_STATE);
}

/* --wsman-trace: DIR/NNNNNN-<address>.xml, secrets hidden, 0600, never overwritten. */
static void trace_request(struct pp_emu *e, const void *xml, size_t len)
{
	struct pp_emu_trace *t = e->env->trace;
	struct pp_buf copy;
	struct pp_err err = {0};
	char path[4096];
	if (!t || !t->dir)
		return;
	pp_buf_init(&copy, PP_WSMAN_DOC_MAX + 4096);
	int n =
	    snprintf(path, sizeof(path), "%s/%06u-%s.xml", t->dir, ++t->seq % 1000000u, e->name);
	if (n < 0 || (size_t)n >= sizeof(path))
		pp_warn(LOG, "%s: request trace: directory name too long", e->name);
	else if (pp_devws_trace_redact(xml, len, &copy, &err) < 0 ||
		 pp_file_create(path, copy.data, copy.len, 0600, &err) < 0)
		pp_warn(LOG, "%s: request trace: %s", e->name, err.msg);
	pp_buf_free_wipe(&copy);
}

static void wsman(struct pp_emu *e, struct emu_conn *cn, struct evhttp_request *req)
{
	struct evbuffer *in = evhttp_request_get_input_buffer(req);
	struct evbuffer *out = evhttp_request_get_output_buffer(req);
	size_t len = evbuffer_get_length(in);
	struct pp_devws_result res;
	struct pp_err err = {0};
	struct pp_buf env;

	if (len == 0 || len > PP_WSMAN_DOC_MAX) {
		reply(e, cn, req, 400);
		return;
	}
	unsigned char *xml = evbuffer_pullup(in, (ev_ssize_t)len);
	if (!xml) {
		reply(e, cn, req, 500);
		return;
	}
	pp_buf_init(&env, PP_WSMAN_DOC_MAX);
	trace_request(e, xml, len);
	int rc = pp_devws_handle(e->env->ws_work, e->dev, &e->ws, e->addr, xml, len,
				 (int64_t)time(NULL), &env, &res, &err);
	pp_wipe(xml, len); /* may hold a password */
	evbuffer_drain(in, len);
	if (rc < 0) {
		pp_warn(LOG, "%s: cannot answer a WS-Management request: %s", e->name, err.msg);
		pp_buf_free_wipe(&env);
		reply(e, cn, req, 500);
		return;
	}
	pp_info(LOG, "%s: %s", e->name, res.what);
	evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type",
			  SOAP_CONTENT_TYPE);
	if (evbuffer_add(out, env.data, env.len) < 0)
		res.http_status = 500;
	pp_buf_free_wipe(&env);
	/* Listeners follow the new state before the answer leaves: a client that reads
	 * the answer to CommitChanges finds the HTTP port open. */
	state_changed(e);
	reply(e, cn, req, res.http_status);
}

static void request(struct pp_emu *e, struct evhttp_request *req, bool tls)
{
	struct evhttp_connection *evcon = evhttp_request_get_connection(req);
	if (!evcon)
		return;
	if (tls) {
		struct bufferevent *bev = evhttp_connection_get_bufferevent(evcon);
		SSL *ssl = bev ? bufferevent_openssl_get_ssl(bev) : NULL;
		if (!ssl || !SSL_is_init_finished(ssl)) {
			evhttp_send_error(req, 400, "TLS required");
			return;
		}
	}
	struct emu_conn *cn = conn_find(e, evcon);
	if (!cn) {
		if (e->n_conns >= PP_EMU_MAX_CONNS || !(cn = calloc(1, sizeof(*cn)))) {
			evhttp_add_header(evhttp_request_get_output_headers(req), "Connection",
					  "close");
			evhttp_send_reply(req, 503, status_text(503), NULL);
			return;
		}
		cn->emu = e;
		cn->evcon = evcon;
		cn->next = e->conns;
		e->conns = cn;
		e->n_conns++;
		evhttp_connection_set_closecb(evcon, conn_closed, cn);
	}
	const struct evhttp_uri *uri = evhttp_request_get_evhttp_uri(req);
	const char *path = uri ? evhttp_uri_get_path(uri) : NULL;
	if (!path || strcmp(path, WSMAN_PATH) != 0) {
		reply(e, cn, req, 404);
		return;
	}
	if (authenticate(e, cn, req))
		return;
	e->auth_requests++;
	if (e->fault == PP_EMU_FAULT_DISCONNECT && !e->dropped &&
	    e->auth_requests == PP_EMU_DISCONNECT_AT && conn_timer_make(e, cn)) {
		/* Dropped from the loop, not from inside evhttp's callback. */
		struct timeval tv = {0, 0};
		e->dropped = true;
		cn->drop = true;
		evtimer_add(cn->timer, &tv);
		pp_info(LOG, "%s: fault: dropping the connection at request %u", e->name,
			e->auth_requests);
		emit(e, PP_EMU_EV_DISCONNECT);
		return;
	}
	wsman(e, cn, req);
}

static void tls_request_cb(struct evhttp_request *req, void *arg)
{
	request(arg, req, true);
}

static void plain_request_cb(struct evhttp_request *req, void *arg)
{
	request(arg, req, false);
}

static struct evhttp *http_new(struct pp_emu *e, bool tls)
{
	struct evhttp *h = evhttp_new(e->env->base);
	if (!h)
		return NULL;
	evhttp_set_allowed_methods(h, EVHTTP_REQ_POST);
	evhttp_set_max_body_size(h, PP_WSMAN_DOC_MAX);
	evhttp_set_max_headers_size(h, HEADERS_MAX);
	evhttp_set_timeout(h, PP_EMU_HTTP_TIMEOUT_S);
	evhttp_set_default_content_type(h, SOAP_CONTENT_TYPE);
	evhttp_set_gencb(h, tls ? tls_request_cb : plain_request_cb, e);
	if (tls)
		evhttp_set_bevcb(h, tls_bevcb, e);
	return h;
}

/* ---- listeners ---- */

static int listen_on(struct pp_emu *e, struct evhttp **http, bool tls, uint16_t port,
		     struct evhttp_bound_socket **out, struct pp_err *err)
{
	struct sockaddr_in sin;
	if (!*http && !(*http = http_new(e, tls)))
		return pp_err_set(err, PP_ENOMEM, "%s: out of memory", e->name);
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_port = htons(port);
	memcpy(&sin.sin_addr, e->addr, 4);
	struct evconnlistener *l = evconnlistener_new_bind(
	    e->env->base, NULL, NULL,
	    LEV_OPT_CLOSE_ON_FREE | LEV_OPT_CLOSE_ON_EXEC | LEV_OPT_REUSEABLE, PP_EMU_BACKLOG,
	    (struct sockaddr *)&sin, sizeof(sin));
	if (!l)
		return pp_err_set(err, PP_EIO, "cannot listen on %s:%u: %s", e->name, port,
				  strerror(errno));
	*out = evhttp_bind_listener(*http, l);
	if (!*out) {
		evconnlistener_free(l);
		return pp_err_set(err, PP_ENOMEM, "%s: out of memory", e->name);
	}
	return 0;
}

static void unlisten(struct evhttp *http, struct evhttp_bound_socket **sock)
{
	if (*sock) {
		evhttp_del_accept_socket(http, *sock);
		*sock = NULL;
	}
}

static void net_tick(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	emu_sync(arg);
}

/* Makes the listeners and hellos what the state (and the backoff) call for. With
 * strict, a listener that cannot be opened is an error; otherwise it is retried. */
static int emu_apply(struct pp_emu *e, bool strict, struct pp_err *err)
{
	uint64_t now = pp_now_ms(), retry = 0;
	unsigned state = pp_amt_state(e->dev);
	bool silent = e->fault == PP_EMU_FAULT_SILENT;
	bool backoff = !pp_amt_handshake_allowed(e->dev, now);
	bool want_tls = !silent && state == PP_AMT_IN_SETUP && !backoff;
	bool want_http = !silent && state == PP_AMT_POST_SETUP;
	int rc = 0;

	if (want_tls && !e->tls_sock) {
		rc = listen_on(e, &e->tls_http, true, e->env->tls_port, &e->tls_sock, err);
		if (rc == 0 && pp_amt_handshake_failures(e->dev))
			pp_info(LOG, "%s: backoff over; accepting TLS-PSK again", e->name);
	} else if (!want_tls && e->tls_sock) {
		unlisten(e->tls_http, &e->tls_sock);
		if (backoff)
			pp_debug(LOG, "%s: TLS-PSK listener closed during the backoff", e->name);
	}
	if (rc == 0 && want_http && !e->plain_sock)
		rc = listen_on(e, &e->plain_http, false, e->env->http_port, &e->plain_sock, err);
	else if (!want_http && e->plain_sock)
		unlisten(e->plain_http, &e->plain_sock);
	if (rc < 0) {
		if (strict)
			return rc;
		if (!e->bind_warned)
			pp_warn(LOG, "%s: %s; retrying", e->name, err->msg);
		e->bind_warned = true;
		retry = PP_EMU_REBIND_MS;
	} else {
		e->bind_warned = false;
	}
	if (!silent && state == PP_AMT_IN_SETUP && backoff) {
		uint64_t wait = pp_amt_handshake_wait_ms(e->dev, now) + 1;
		if (!retry || wait < retry)
			retry = wait;
	}
	if (retry) {
		struct timeval tv = ms_tv(retry);
		evtimer_add(e->net_timer, &tv);
	}

	if (!silent && state == PP_AMT_IN_SETUP) {
		if (!evtimer_pending(e->hello_timer, NULL)) {
			struct timeval tv = {0, 0};
			evtimer_add(e->hello_timer, &tv);
		}
	} else {
		evtimer_del(e->hello_timer);
		hello_close(e);
	}
	return 0;
}

static void emu_sync(struct pp_emu *e)
{
	struct pp_err err = {0};
	if (e->started && emu_apply(e, false, &err) < 0)
		pp_warn(LOG, "%s: %s", e->name, err.msg);
}

void pp_emu_refresh(struct pp_emu *e)
{
	if (!e->started)
		return;
	evtimer_del(e->hello_timer);
	state_changed(e); /* when the state did not change, emu_sync is still needed */
	emu_sync(e);
}

/* ---- lifecycle ---- */

int pp_emu_new(const struct pp_emu_env *env, struct pp_amt_device *dev, const uint8_t addr[4],
	       enum pp_emu_fault fault, void *arg, struct pp_emu **out, struct pp_err *err)
{
	*out = NULL;
	if (addr[0] != 127)
		return pp_err_set(
		    err, PP_EINVAL,
		    "device address %u.%u.%u.%u is not a loopback address (127.0.0.0/8)", addr[0],
		    addr[1], addr[2], addr[3]);
	if (!(env->time_scale > 0) || env->latency_ms > PP_EMU_LATENCY_MAX_MS || !env->base ||
	    !env->tls_ctx)
		return pp_err_set(err, PP_EINVAL, "device runtime: bad environment");
	struct pp_emu *e = calloc(1, sizeof(*e));
	if (!e)
		return pp_err_set(err, PP_ENOMEM, "out of memory");
	e->env = env;
	e->dev = dev;
	e->arg = arg;
	e->fault = (uint8_t)fault;
	memcpy(e->addr, addr, 4);
	snprintf(e->name, sizeof(e->name), "%u.%u.%u.%u", addr[0], addr[1], addr[2], addr[3]);
	e->state = (uint8_t)pp_amt_state(dev);
	int rc = pp_digest_server_init(&e->digest, pp_amt_realm(dev), 0, err);
	if (rc < 0)
		goto fail;
	e->hello_timer = evtimer_new(env->base, hello_tick, e);
	e->net_timer = evtimer_new(env->base, net_tick, e);
	if (!e->hello_timer || !e->net_timer) {
		rc = pp_err_set(err, PP_ENOMEM, "out of memory");
		goto fail;
	}
	*out = e;
	return 0;
fail:
	pp_emu_free(e);
	return rc;
}

int pp_emu_start(struct pp_emu *e, struct pp_err *err)
{
	int rc = emu_apply(e, true, err);
	if (rc < 0)
		return rc;
	e->started = true;
	return 0;
}

void pp_emu_free(struct pp_emu *e)
{
	if (!e)
		return;
	e->started = false;
	/* Answers waiting for their latency: evhttp must not call back into freed memory. */
	while (e->conns) {
		struct emu_conn *cn = e->conns;
		evhttp_connection_set_closecb(cn->evcon, NULL, NULL);
		conn_unlink(cn);
	}
	if (e->tls_http)
		evhttp_free(e->tls_http);
	if (e->plain_http)
		evhttp_free(e->plain_http);
	while (e->hs) {
		struct emu_hs *h = e->hs;
		struct bufferevent *bev = h->hooked ? NULL : h->bev;
		hs_unlink(h);
		if (bev)
			bufferevent_decref(bev);
	}
	hello_close(e);
	if (e->hello_timer)
		event_free(e->hello_timer);
	if (e->net_timer)
		event_free(e->net_timer);
	pp_digest_server_wipe(&e->digest);
	free(e->replay);
	pp_devws_state_free(e->ws);
	pp_wipe(e, sizeof(*e));
	free(e);
}

struct pp_amt_device *pp_emu_device(const struct pp_emu *e)
{
	return e->dev;
}

void *pp_emu_arg(const struct pp_emu *e)
{
	return e->arg;
}

const char *pp_emu_name(const struct pp_emu *e)
{
	return e->name;
}
