/* The server's HTTP API (evhttp), loopback by default; docs/api.md is the contract and
 * docs/api/openapi.json its machine-readable form. This file holds the route table (as
 * data: path pattern, methods, the action the caller's token must allow, handler),
 * JSON errors, bearer tokens with their per-token rate limit, the cross-site check, and
 * the connection cap; the /api/v1 resources live in api_*.c (api_call.h), the console
 * in web.c, the event stream in events.c, /metrics in metrics.c.
 *   GET  /healthz, /readyz, /metrics, /, /static/...   no token
 *   /api/v1/...                                          "Authorization: Bearer <token>"
 * No token or an unknown one: 401; a role that does not allow the call: 403; over the
 * token's rate: 429 with Retry-After. A POST whose Origin is not this server: 403.
 * Every error is JSON, {"error": "...", "field": "..."} (field when one is at fault); an
 * unknown path is 404, a method a path does not take 405 with Allow (and the connection
 * closed). Connections are capped (s->lim.api_max_conns): a full table closes its oldest
 * connection for the new one, so /healthz answers under a flood of idle clients. */
#include <arpa/inet.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/listener.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <jansson.h>
#include <stddef.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include "core/clock.h"
#include "core/parse.h"
#include "core/secret.h"
#include "keys/keys.h"
#include "server/api.h"
#include "server/api_call.h"
#include "server/auth.h"
#include "server/server.h"
#include "store/store.h"
#include "prog/log.h"

/* evhttp refuses bodies over this itself (its own HTML 413); between API_BODY_MAX and
 * this, the handler answers a JSON 413. */
#define API_BODY_HARD_MAX (4 * API_BODY_MAX)
#define ALL_METHODS                                                                                \
	(EVHTTP_REQ_GET | EVHTTP_REQ_POST | EVHTTP_REQ_HEAD | EVHTTP_REQ_PUT | EVHTTP_REQ_DELETE | \
	 EVHTTP_REQ_OPTIONS | EVHTTP_REQ_TRACE | EVHTTP_REQ_CONNECT | EVHTTP_REQ_PATCH)

void pp_api_send(struct evhttp_request *req, int code, const char *reason, struct evbuffer *body)
{
	if (evhttp_request_get_command(req) != EVHTTP_REQ_HEAD || !body) {
		evhttp_send_reply(req, code, reason, body);
		return;
	}
	/* evhttp writes whatever body it is given, HEAD or not: the length alone. */
	char len[24];
	snprintf(len, sizeof(len), "%zu", evbuffer_get_length(body));
	evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Length", len);
	evhttp_send_reply(req, code, reason, NULL);
}

void pp_api_reply_json(struct evhttp_request *req, int code, const char *reason, json_t *v)
{
	struct evbuffer *out = evbuffer_new();
	char *text = v ? json_dumps(v, JSON_COMPACT) : NULL;
	if (out && text) {
		evbuffer_add_printf(out, "%s\n", text);
		evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type",
				  "application/json");
	}
	pp_api_send(req, code, reason, out);
	free(text);
	json_decref(v);
	if (out)
		evbuffer_free(out);
}

/* Once the answer is written: evhttp keeps a CONNECT's connection open whatever the
 * headers say (a tunnel), so shut it down here; evhttp then reads the end and frees it. */
static void close_when_done(struct evhttp_request *req, void *arg)
{
	(void)arg;
	struct evhttp_connection *evcon = evhttp_request_get_connection(req);
	struct bufferevent *bev = evcon ? evhttp_connection_get_bufferevent(evcon) : NULL;
	evutil_socket_t fd = bev ? bufferevent_getfd(bev) : -1;
	if (fd >= 0)
		shutdown(fd, SHUT_RDWR);
}

/* {"error": msg[, "field": field]} with the status; 405 and 400 close the connection. */
void pp_api_field_error(struct pp_server *s, struct evhttp_request *req, int code,
			const char *reason, const char *msg, const char *field)
{
	s->m.api_rejected++;
	json_t *v = json_pack("{s:s}", "error", msg);
	if (v && field)
		json_object_set_new(v, "field", json_string(field));
	if (code == 405 || code == 400) {
		evhttp_add_header(evhttp_request_get_output_headers(req), "Connection", "close");
		evhttp_request_set_on_complete_cb(req, close_when_done, NULL);
	}
	pp_api_reply_json(req, code, reason, v);
}

void pp_api_error(struct pp_server *s, struct evhttp_request *req, int code, const char *reason,
		  const char *msg)
{
	pp_api_field_error(s, req, code, reason, msg, NULL);
}

/* The caller's token, its role allowing act, within its rate: true with *who set, or
 * 401/403/429 sent. */
static bool authorize(struct pp_server *s, struct evhttp_request *req, enum pp_api_action act,
		      struct pp_token_who *who)
{
	const char *h = evhttp_find_header(evhttp_request_get_input_headers(req), "Authorization");
	if (!h || strncmp(h, "Bearer ", 7) || pp_server_token_who(s, h + 7, who) < 0) {
		evhttp_add_header(evhttp_request_get_output_headers(req), "WWW-Authenticate",
				  "Bearer");
		pp_api_error(s, req, 401, "Unauthorized", "missing or wrong bearer token");
		return false;
	}
	if (!pp_server_role_allows(who->role, act)) {
		char msg[96];
		snprintf(msg, sizeof(msg), "a token of the %s role may not do this",
			 pp_token_role_name(who->role));
		pp_api_error(s, req, 403, "Forbidden", msg);
		return false;
	}
	uint32_t wait_s;
	if (!pp_server_token_rate(s, who, &wait_s)) {
		char v[16];
		snprintf(v, sizeof(v), "%u", wait_s);
		evhttp_add_header(evhttp_request_get_output_headers(req), "Retry-After", v);
		pp_api_error(s, req, 429, "Too Many Requests",
			     "over this token's request rate (api_rate, api_burst)");
		return false;
	}
	return true;
}

bool pp_api_authorized(struct pp_server *s, struct evhttp_request *req, enum pp_api_action act)
{
	struct pp_token_who who;
	return authorize(s, req, act, &who);
}

static void on_healthz(struct evhttp_request *req, void *arg)
{
	struct pp_server *s = arg;
	s->m.api_requests++;
	struct evbuffer *out = evbuffer_new();
	if (out)
		evbuffer_add_printf(out, "ok\n");
	evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type", "text/plain");
	pp_api_send(req, HTTP_OK, "OK", out);
	if (out)
		evbuffer_free(out);
}

/* A unicast IPv4 address a device may have: not 0.0.0.0/8, broadcast, multicast
 * (224/4) or reserved (240/4). Loopback stays allowed (devices under test live there). */
static bool unicast_ipv4(const uint8_t a[4])
{
	return a[0] != 0 && a[0] < 224;
}

/* The hello's fields, checked one by one: 0, or -PP_EINVAL with err and *field. */
static int hello_fields(json_t *b, uint8_t uuid[16], struct pp_pid *pid, uint8_t addr[4],
			const char **field, struct pp_err *err)
{
	const char *uuid_s = NULL, *pid_s = NULL, *addr_s = NULL;
	json_error_t je;
	if (json_unpack_ex(b, &je, 0, "{s:s,s:s,s:s}", "uuid", &uuid_s, "pid", &pid_s, "address",
			   &addr_s) < 0)
		return *field = NULL, pp_err_set(err, PP_EINVAL, "bad JSON: %s", je.text);
	*field = "uuid";
	int rc = pp_uuid_parse(uuid_s, uuid, err);
	if (rc == 0 && (*field = "pid"))
		rc = pp_pid_parse(pid_s, pid, err);
	if (rc == 0 && (*field = "address"))
		rc = pp_parse_ipv4(addr_s, addr, "address", err);
	if (rc == 0 && !unicast_ipv4(addr))
		rc = pp_err_set(err, PP_EINVAL,
				"address %.20s is not a unicast IPv4 address (0/8, multicast, "
				"broadcast and 240/4 are refused)",
				addr_s);
	return rc;
}

/* The agent's connection is within the per-source hello rate: true, or an error sent
 * (c freed). */
static bool hello_rate_ok(struct api_call *c)
{
	const char *peer = NULL;
	ev_uint16_t peer_port = 0;
	evhttp_connection_get_peer(evhttp_request_get_connection(c->req), (char **)&peer,
				   &peer_port);
	uint8_t ip[4] = {0};
	struct pp_err err = {0};
	if (!peer || pp_parse_ipv4(peer, ip, "peer", &err) < 0) {
		api_fail(c, 400, "IPv4 clients only", NULL);
		return false;
	}
	uint32_t pip = (uint32_t)ip[0] << 24 | (uint32_t)ip[1] << 16 | (uint32_t)ip[2] << 8 | ip[3];
	if (!pp_ratelimit_allow(c->s->rl, pip, pp_now_ms())) {
		c->s->m.hellos_rate_limited++;
		api_fail(c, 429, "hello rate limit", NULL);
		return false;
	}
	return true;
}

/* POST {"uuid": "...", "pid": "XXXX-XXXC", "address": "a.b.c.d"} from a host agent
 * (a token of the agent role). Validated like network input; it only tells the server
 * which address to try. */
static void api_on_hello(struct api_call *c)
{
	static const char *const fields[] = {"uuid", "pid", "address", NULL};
	struct pp_server *s = c->s;
	if (s->stopping) {
		/* Draining: no new job here; the agent tries again (another instance, or this
		 * one after its restart). */
		api_fail(c, 503, "the server is stopping", NULL);
		return;
	}
	if (!api_query_ok(c, (const char *const[]){NULL}) || !hello_rate_ok(c))
		return;
	bool failed;
	json_t *b = api_body(c, fields, false, &failed);
	if (failed)
		return;
	uint8_t uuid[16], addr[4];
	struct pp_pid pid;
	struct pp_err err = {0};
	const char *field = NULL;
	int rc = hello_fields(b, uuid, &pid, addr, &field, &err);
	json_decref(b);
	if (rc < 0) {
		api_fail(c, 400, err.msg, field);
		return;
	}
	s->m.hellos_agent++;
	pp_server_submit_hello(s, uuid, pid.s, addr, "agent");
	pp_api_reply_json(c->req, 202, "Accepted",
			  json_pack("{s:s}", "status", "accepted: the server will try the device"));
	api_call_free(c);
}

/* GET /readyz: 200 when this instance can do its work: the store answered a health
 * check (a heartbeat write through the store thread, at most one a second however often
 * this is asked) and the hello and API listeners are up; else 503 naming what is not. */
struct readyz {
	struct pp_server *s;
	struct evhttp_request *req;
};

static void readyz_answer(void *arg, const struct pp_dbq_health *h)
{
	struct readyz *r = arg;
	struct pp_server *s = r->s;
	bool listeners = s->hello_listener && s->http_sock;
	bool ok = listeners && h->rc == 0 && h->up;
	json_t *v =
	    json_pack("{s:s,s:b,s:b,s:b}", "status", ok ? "ready" : "not ready", "store",
		      h->rc == 0 && h->up, "store_connected", h->up, "listeners", listeners);
	if (v && h->rc < 0)
		json_object_set_new(v, "store_error", json_string(h->msg));
	if (v && !listeners)
		json_object_set_new(
		    v, "listeners_error",
		    json_string(s->hello_listener ? "API listener down" : "hello listener down"));
	pp_api_reply_json(r->req, ok ? HTTP_OK : 503, ok ? "OK" : "Service Unavailable", v);
	free(r);
}

static void on_readyz(struct evhttp_request *req, void *arg)
{
	struct pp_server *s = arg;
	s->m.api_requests++;
	struct readyz *r = calloc(1, sizeof(*r));
	if (!r || !s->dbq) {
		free(r);
		pp_api_error(s, req, 503, "Service Unavailable", "not ready: no store thread");
		return;
	}
	r->s = s;
	r->req = req;
	pp_dbq_health(s->dbq, 1000, readyz_answer, r);
}

/* ---- routes, as data ----
 *
 * A path pattern's segments match literally, but for "{uuid}", "{id}" and "{name}",
 * which match any one non-empty segment (the handler checks it: c->arg). A route with
 * an action needs a bearer token allowing it (authorize) and gets a struct api_call; one
 * without (NO_TOKEN) is an evhttp callback that answers on its own (the pages, health,
 * and the handlers of events.c and web.c, which check their token themselves). */

#define NO_TOKEN (-1)
#define GET_HEAD (EVHTTP_REQ_GET | EVHTTP_REQ_HEAD)

static const struct api_route {
	const char *path;
	uint16_t methods;
	int action; /* enum pp_api_action, or NO_TOKEN */
	void (*fn)(struct api_call *);
	void (*evcb)(struct evhttp_request *, void *);
} routes[] = {
    {"/", GET_HEAD, NO_TOKEN, NULL, pp_api_on_page},
    {"/healthz", GET_HEAD, NO_TOKEN, NULL, on_healthz},
    {"/readyz", GET_HEAD, NO_TOKEN, NULL, on_readyz},
    {"/metrics", EVHTTP_REQ_GET, NO_TOKEN, NULL, pp_api_on_metrics},
    {"/api/v1/status", EVHTTP_REQ_GET, PP_API_STATUS, api_on_status, NULL},
    {"/api/v1/hello", EVHTTP_REQ_POST, PP_API_HELLO, api_on_hello, NULL},
    {"/api/v1/devices", EVHTTP_REQ_GET, PP_API_READ, api_on_devices, NULL},
    {"/api/v1/devices/{uuid}", EVHTTP_REQ_GET, PP_API_READ, api_on_device, NULL},
    {"/api/v1/devices/{uuid}/credentials", EVHTTP_REQ_POST, PP_API_ADMIN, api_on_credentials, NULL},
    {"/api/v1/devices/{uuid}/release", EVHTTP_REQ_POST, PP_API_ADMIN, api_on_release, NULL},
    {"/api/v1/jobs", EVHTTP_REQ_GET, PP_API_READ, api_on_jobs, NULL},
    {"/api/v1/jobs/{id}", EVHTTP_REQ_GET, PP_API_READ, api_on_job, NULL},
    {"/api/v1/jobs/{id}/retry", EVHTTP_REQ_POST, PP_API_ADMIN, api_on_retry, NULL},
    {"/api/v1/batches", EVHTTP_REQ_GET, PP_API_READ, api_on_batches, NULL},
    {"/api/v1/batches/{name}", EVHTTP_REQ_GET, PP_API_READ, api_on_batch, NULL},
    {"/api/v1/keys", EVHTTP_REQ_GET, PP_API_READ, api_on_keys, NULL},
    {"/api/v1/keys/report", EVHTTP_REQ_GET, PP_API_READ, api_on_keys_report, NULL},
    {"/api/v1/audit", EVHTTP_REQ_GET, PP_API_READ, api_on_audit, NULL},
    {"/api/v1/events", EVHTTP_REQ_GET, NO_TOKEN, NULL, pp_api_on_events},
    {"/api/v1/openapi.json", GET_HEAD, NO_TOKEN, NULL, pp_api_on_openapi},
};

static const struct {
	uint16_t bit;
	const char *name;
} method_names[] = {{EVHTTP_REQ_GET, "GET"}, {EVHTTP_REQ_HEAD, "HEAD"}, {EVHTTP_REQ_POST, "POST"}};

/* "GET, HEAD" for the Allow header. */
static void allow_text(uint16_t methods, char *out, size_t cap)
{
	size_t k = 0;
	out[0] = '\0';
	for (size_t i = 0; i < sizeof(method_names) / sizeof(method_names[0]); i++) {
		if (!(methods & method_names[i].bit))
			continue;
		int w = snprintf(out + k, cap - k, "%s%s", k ? ", " : "", method_names[i].name);
		if (w > 0 && (size_t)w < cap - k)
			k += (size_t)w;
	}
}

void pp_api_print_routes(FILE *out)
{
	for (size_t i = 0; i < sizeof(routes) / sizeof(routes[0]); i++)
		for (size_t m = 0; m < sizeof(method_names) / sizeof(method_names[0]); m++)
			if (routes[i].methods & method_names[m].bit)
				fprintf(out, "%s %s\n", method_names[m].name, routes[i].path);
	fprintf(out, "GET /static/{name}\nHEAD /static/{name}\n");
}

/* path matches pattern: true, with the variable segment (if any) copied to arg. */
static bool route_match(const char *pattern, const char *path, char *arg, size_t cap)
{
	arg[0] = '\0';
	while (*pattern && *path) {
		if (*pattern == '{') {
			const char *pe = strchr(pattern, '}');
			size_t n = strcspn(path, "/");
			if (!pe || n == 0 || n >= cap)
				return false;
			memcpy(arg, path, n);
			arg[n] = '\0';
			pattern = pe + 1;
			path += n;
			continue;
		}
		if (*pattern++ != *path++)
			return false;
	}
	return *pattern == '\0' && *path == '\0';
}

/* A POST from a page of another site: its Origin is not http://<Host>. */
static bool cross_site(struct evhttp_request *req)
{
	struct evkeyvalq *in = evhttp_request_get_input_headers(req);
	const char *origin = evhttp_find_header(in, "Origin");
	const char *host = evhttp_find_header(in, "Host");
	if (!origin)
		return false;
	char want[300];
	snprintf(want, sizeof(want), "http://%s", host ? host : "");
	return !host || strcasecmp(origin, want) != 0;
}

static void run_route(struct pp_server *s, struct evhttp_request *req, const struct api_route *r,
		      const char *arg)
{
	if (evhttp_request_get_command(req) == EVHTTP_REQ_POST && cross_site(req)) {
		s->m.api_requests++;
		pp_api_error(s, req, 403, "Forbidden", "cross-site request refused (Origin)");
		return;
	}
	if (r->evcb) {
		r->evcb(req, s);
		return;
	}
	s->m.api_requests++;
	struct api_call *c = calloc(1, sizeof(*c));
	if (!c) {
		pp_api_error(s, req, 503, "Service Unavailable", "out of memory");
		return;
	}
	c->s = s;
	c->req = req;
	if (!authorize(s, req, (enum pp_api_action)r->action, &c->who)) {
		free(c);
		return;
	}
	snprintf(c->actor, sizeof(c->actor), "api:%s", c->who.name);
	snprintf(c->arg, sizeof(c->arg), "%s", arg);
	r->fn(c);
}

static void dispatch(struct evhttp_request *req, void *arg)
{
	struct pp_server *s = arg;
	const struct evhttp_uri *u = evhttp_request_get_evhttp_uri(req);
	const char *path = u ? evhttp_uri_get_path(u) : NULL;
	char seg[80];
	if (!path || !*path)
		path = "/";
	for (size_t i = 0; i < sizeof(routes) / sizeof(routes[0]); i++) {
		if (!route_match(routes[i].path, path, seg, sizeof(seg)))
			continue;
		if (!(evhttp_request_get_command(req) & routes[i].methods)) {
			char allow[32];
			s->m.api_requests++;
			allow_text(routes[i].methods, allow, sizeof(allow));
			evhttp_add_header(evhttp_request_get_output_headers(req), "Allow", allow);
			pp_api_error(s, req, 405, "Method Not Allowed",
				     "method not allowed on this path");
			return;
		}
		run_route(s, req, &routes[i], seg);
		return;
	}
	if (pp_web_serve(s, req, path)) /* every /static/ path, any method */
		return;
	s->m.api_requests++;
	if (evhttp_request_get_command(req) & (EVHTTP_REQ_CONNECT | EVHTTP_REQ_TRACE))
		pp_api_error(s, req, 405, "Method Not Allowed", "method not allowed");
	else
		pp_api_error(s, req, 404, "Not Found", "no such endpoint");
}

/* ---- connections: counted, capped, oldest shed first ----
 *
 * libevent 2.1 has no evhttp connection cap and no hook when evhttp frees a connection,
 * so the API's accept callback is wrapped: each accepted socket is recorded by
 * descriptor and inode (alive while fstat still finds that inode there), and a full
 * table shuts down its oldest connection (evhttp sees the end of the stream and frees
 * it) to make room for the new one. */

/* The head of libevent 2.1's struct evconnlistener (listener.c), to call evhttp's own
 * accept callback from ours. Checked against what evhttp must have put there before
 * it is used; a libevent that differs leaves the API uncapped (and says so). */
struct lev_head_2_1 {
	const void *ops;
	void *lock;
	evconnlistener_cb cb;
	evconnlistener_errorcb errorcb;
	void *user_data;
};

struct api_track {
	int fd;
	dev_t dev;
	ino_t ino;
};

struct api_net {
	evconnlistener_cb evhttp_accept;
	void *evhttp_arg;
	uint32_t n, max;
	struct api_track *t; /* oldest first */
};

static bool track_alive(const struct api_track *t)
{
	struct stat st;
	return fstat(t->fd, &st) == 0 && st.st_ino == t->ino && st.st_dev == t->dev;
}

/* Forgets connections evhttp has closed; returns how many are open. */
uint32_t pp_server_api_conns(struct pp_server *s)
{
	struct api_net *a = s->anet;
	if (!a)
		return 0;
	uint32_t k = 0;
	for (uint32_t i = 0; i < a->n; i++)
		if (track_alive(&a->t[i]))
			a->t[k++] = a->t[i];
	a->n = k;
	s->api_conns = k;
	return k;
}

unsigned pp_server_api_shed(struct pp_server *s, unsigned n)
{
	struct api_net *a = s->anet;
	if (!a || !a->t)
		return 0;
	unsigned done = 0;
	uint32_t i = 0;
	for (; i < a->n && done < n; i++) {
		if (!track_alive(&a->t[i]))
			continue;
		/* evhttp reads the end of the stream and frees the connection itself. */
		shutdown(a->t[i].fd, SHUT_RDWR);
		s->m.api_connections_shed++;
		done++;
	}
	memmove(a->t, a->t + i, (a->n - i) * sizeof(*a->t));
	a->n -= i;
	s->api_conns = a->n;
	return done;
}

static void api_accept(struct evconnlistener *l, evutil_socket_t fd, struct sockaddr *sa, int salen,
		       void *arg)
{
	struct pp_server *s = arg;
	struct api_net *a = s->anet;
	if (a->n >= s->lim.api_max_conns && pp_server_api_conns(s) >= s->lim.api_max_conns)
		pp_server_api_shed(s, a->n - s->lim.api_max_conns + 1);
	struct stat st;
	if (a->n < a->max && fstat(fd, &st) == 0) {
		a->t[a->n++] = (struct api_track){fd, st.st_dev, st.st_ino};
		s->api_conns = a->n;
	}
	a->evhttp_accept(l, fd, sa, salen, a->evhttp_arg);
}

static void api_accept_error(struct evconnlistener *l, void *arg)
{
	pp_server_accept_error(arg, l, "API listener");
}

/* Puts api_accept in front of evhttp's accept callback, or says why not. */
static void api_wrap_listener(struct pp_server *s, struct evconnlistener *l)
{
	struct lev_head_2_1 *h = (struct lev_head_2_1 *)l;
	struct api_net *a = s->anet;
	evconnlistener_set_error_cb(l, api_accept_error);
	a->max = s->lim.api_max_conns + 64;
	a->t = calloc(a->max, sizeof(*a->t));
	if (!a->t || h->user_data != (void *)s->http || !h->cb || h->errorcb != api_accept_error) {
		pp_warn("api", "this libevent's listener is not the one expected (2.1): API "
			       "connections are not capped");
		free(a->t);
		a->t = NULL;
		return;
	}
	a->evhttp_accept = h->cb;
	a->evhttp_arg = h->user_data;
	evconnlistener_set_cb(l, api_accept, s);
}

int pp_server_api_start(struct pp_server *s, struct pp_err *err)
{
	s->anet = calloc(1, sizeof(*s->anet));
	s->http = evhttp_new(s->base);
	if (!s->http || !s->anet)
		return pp_err_set(err, PP_ENOMEM, "cannot start the HTTP API");
	evhttp_set_max_body_size(s->http, API_BODY_HARD_MAX);
	evhttp_set_max_headers_size(s->http, 8192);
	evhttp_set_timeout(s->http, 10);
	/* Every method reaches dispatch(), which answers 405 in JSON and closes. */
	evhttp_set_allowed_methods(s->http, ALL_METHODS);
	evhttp_set_gencb(s->http, dispatch, s);
	char host[16];
	snprintf(host, sizeof(host), "%u.%u.%u.%u", s->cfg.api_ip[0], s->cfg.api_ip[1],
		 s->cfg.api_ip[2], s->cfg.api_ip[3]);
	s->http_sock = evhttp_bind_socket_with_handle(s->http, host, s->cfg.api_port);
	if (!s->http_sock)
		return pp_err_set(err, PP_EIO, "cannot listen for the API on %s:%u", host,
				  s->cfg.api_port);
	api_wrap_listener(s, evhttp_bound_socket_get_listener(s->http_sock));
	return 0;
}

void pp_server_api_stop(struct pp_server *s)
{
	pp_dbq_health_cancel(s->dbq); /* answers waiting /readyz requests before they go */
	if (s->http)
		evhttp_free(s->http);
	s->http = NULL;
}

void pp_server_api_release(struct pp_server *s)
{
	if (!s->anet)
		return;
	free(s->anet->t);
	free(s->anet);
	s->anet = NULL;
}
