/* The server's HTTP API (evhttp), loopback by default:
 *   GET  /                 a small page of fleet status (counters, no secrets)
 *   GET  /healthz          liveness
 *   GET  /readyz           readiness: the store reachable and writable, listeners up
 *   GET  /metrics          Prometheus text format
 *   GET  /api/v1/status    counts (role read or admin)
 *   POST /api/v1/hello     a host agent's hello (JSON), treated like a device hello
 *                          (role agent or admin)
 * Calls under /api/ need "Authorization: Bearer <token>": a token of the store
 * (`pskprov token create`) or api.token (admin); roles in auth.h. No token or an
 * unknown one: 401; a token whose role does not allow the call: 403.
 * Every error is JSON, {"error": "...", "field": "..."} (field when one is at fault); a
 * method a path does not take is 405 and closes the connection. Connections are capped
 * (s->lim.api_max_conns): a full table closes its oldest connection for the new one,
 * so /healthz answers under a flood of idle clients. */
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
#include "server/auth.h"
#include "server/server.h"
#include "store/store.h"
#include "prog/log.h"

#define API_BODY_MAX 4096
/* evhttp refuses bodies over this itself (its own HTML 413); between API_BODY_MAX and
 * this, the handler answers a JSON 413. */
#define API_BODY_HARD_MAX (4 * API_BODY_MAX)
#define ALL_METHODS                                                                                \
	(EVHTTP_REQ_GET | EVHTTP_REQ_POST | EVHTTP_REQ_HEAD | EVHTTP_REQ_PUT | EVHTTP_REQ_DELETE | \
	 EVHTTP_REQ_OPTIONS | EVHTTP_REQ_TRACE | EVHTTP_REQ_CONNECT | EVHTTP_REQ_PATCH)

void pp_api_reply_json(struct evhttp_request *req, int code, const char *reason, json_t *v)
{
	struct evbuffer *out = evbuffer_new();
	char *text = v ? json_dumps(v, JSON_COMPACT) : NULL;
	if (out && text) {
		evbuffer_add_printf(out, "%s\n", text);
		evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type",
				  "application/json");
	}
	evhttp_send_reply(req, code, reason, out);
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

/* The caller's token allows the action: true, or an error (401/403) sent. */
bool pp_api_authorized(struct pp_server *s, struct evhttp_request *req, enum pp_api_action act)
{
	const char *h = evhttp_find_header(evhttp_request_get_input_headers(req), "Authorization");
	enum pp_token_role role;
	if (!h || strncmp(h, "Bearer ", 7) || pp_server_token_role(s, h + 7, &role) < 0) {
		evhttp_add_header(evhttp_request_get_output_headers(req), "WWW-Authenticate",
				  "Bearer");
		pp_api_error(s, req, 401, "Unauthorized", "missing or wrong bearer token");
		return false;
	}
	if (!pp_server_role_allows(role, act)) {
		char msg[96];
		snprintf(msg, sizeof(msg), "a token of the %s role may not do this",
			 pp_token_role_name(role));
		pp_api_error(s, req, 403, "Forbidden", msg);
		return false;
	}
	return true;
}

static void on_healthz(struct evhttp_request *req, void *arg)
{
	struct pp_server *s = arg;
	s->m.api_requests++;
	struct evbuffer *out = evbuffer_new();
	if (out)
		evbuffer_add_printf(out, "ok\n");
	evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type", "text/plain");
	evhttp_send_reply(req, HTTP_OK, "OK", out);
	if (out)
		evbuffer_free(out);
}

static void metric(struct evbuffer *b, const char *name, const char *help, const char *type,
		   uint64_t v)
{
	evbuffer_add_printf(b, "# HELP %s %s\n# TYPE %s %s\n%s %llu\n", name, help, name, type,
			    name, (unsigned long long)v);
}

/* ---- histograms ---- */

static const double provision_bounds[] = {0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 900};
static const double exchange_bounds[] = {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
					 0.1,   0.25,   0.5,   1,    2.5,   5};
static const double tls_bounds[] = {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1};
#define NB(a) (sizeof(a) / sizeof((a)[0]))

void pp_server_histo_init(struct pp_server *s)
{
	pp_histo_init(&s->h_provision, provision_bounds, NB(provision_bounds));
	pp_histo_init(&s->h_tls, tls_bounds, NB(tls_bounds));
	for (size_t i = 0; i < PV_ROW_COUNT; i++)
		pp_histo_init(&s->h_exchange[i], exchange_bounds, NB(exchange_bounds));
}

/* One histogram's series; `label` is "" or `name="value",` (with the comma). */
static void histo_series(struct evbuffer *b, const char *name, const char *label,
			 const struct pp_histo *h)
{
	for (size_t i = 0; i < h->n; i++)
		evbuffer_add_printf(b, "%s_bucket{%sle=\"%g\"} %llu\n", name, label, h->bounds[i],
				    (unsigned long long)pp_histo_cumulative(h, i));
	evbuffer_add_printf(b, "%s_bucket{%sle=\"+Inf\"} %llu\n", name, label,
			    (unsigned long long)h->count);
	size_t n = strlen(label);
	/* The label set without its trailing comma, for _sum and _count. */
	evbuffer_add_printf(b, "%s_sum%s%.*s%s %.6f\n%s_count%s%.*s%s %llu\n", name, n ? "{" : "",
			    n ? (int)n - 1 : 0, label, n ? "}" : "", h->sum, name, n ? "{" : "",
			    n ? (int)n - 1 : 0, label, n ? "}" : "", (unsigned long long)h->count);
}

static void histo_family(struct evbuffer *b, const char *name, const char *help)
{
	evbuffer_add_printf(b, "# HELP %s %s\n# TYPE %s histogram\n", name, help, name);
}

static void histogram_metrics(struct evbuffer *b, const struct pp_server *s)
{
	histo_family(
	    b, "pskprov_provision_seconds",
	    "time from a device's first hello (recorded to the second) to its provisioning");
	histo_series(b, "pskprov_provision_seconds", "", &s->h_provision);
	histo_family(b, "pskprov_tls_handshake_seconds", "TLS-PSK handshakes with devices");
	histo_series(b, "pskprov_tls_handshake_seconds", "", &s->h_tls);
	histo_family(b, "pskprov_wsman_exchange_seconds",
		     "WS-Management exchanges (request out to answer in), by setup step");
	for (size_t i = 0; i < PV_ROW_COUNT; i++) {
		if (!s->h_exchange[i].count)
			continue;
		char label[64];
		snprintf(label, sizeof(label), "step=\"%s\",",
			 pp_prov_row_name((enum pp_prov_row)i));
		histo_series(b, "pskprov_wsman_exchange_seconds", label, &s->h_exchange[i]);
	}
	evbuffer_add_printf(b,
			    "# HELP pskprov_build_info the running build\n"
			    "# TYPE pskprov_build_info gauge\n"
			    "pskprov_build_info{version=\"%s\"} 1\n",
			    PSKPROV_VERSION);
}

static void store_health_metrics(struct evbuffer *b, const struct pp_dbq_stats *ds)
{
	metric(b, "pskprov_store_up", "1 while the store connection is up", "gauge",
	       ds->up ? 1 : 0);
	metric(b, "pskprov_store_reconnects_total", "store connections made again after a loss",
	       "counter", ds->reconnects);
	metric(b, "pskprov_store_reconnect_failures_total", "store reconnect attempts that failed",
	       "counter", ds->reconnect_failures);
	metric(b, "pskprov_store_lost_batches_total",
	       "store transactions lost with their connection (run again)", "counter",
	       ds->lost_batches);
	metric(b, "pskprov_store_retried_ops_total", "store operations run again after a loss",
	       "counter", ds->retried_ops);
	metric(b, "pskprov_store_doubtful_commits_total",
	       "commits whose answer was lost with the connection (outcome asked)", "counter",
	       ds->doubtful_commits);
}

static uint32_t api_sweep(struct pp_server *s);

/* The server's own counters as data: name, help, type, field of struct
 * pp_server_metrics. */
#define M_ROW(name, help, type, field)                                                             \
	{                                                                                          \
		"pskprov_" name, help, type, offsetof(struct pp_server_metrics, field)             \
	}
#define M_COUNTER(name, help, field) M_ROW(name, help, "counter", field)
#define M_GAUGE(name, help, field) M_ROW(name, help, "gauge", field)
static const struct metric_def {
	const char *name, *help, *type;
	size_t off;
} server_metrics[] = {
    M_COUNTER("hello_connections_total", "TCP connections to the hello port", hello_connections),
    M_COUNTER("hello_connections_refused_total", "hello connections over the cap",
	      hello_connections_refused),
    M_COUNTER("hello_connections_shed_total",
	      "longest idle hello connections closed for new ones at the cap",
	      hello_connections_shed),
    M_COUNTER("hello_connections_per_source_total",
	      "hello connections refused: the source holds its share",
	      hello_connections_per_source),
    M_COUNTER("api_connections_shed_total", "oldest API connections closed for new ones at the cap",
	      api_connections_shed),
    M_COUNTER("accept_pauses_total",
	      "accepts paused: out of descriptors (EMFILE/ENFILE) or another accept error",
	      accept_pauses),
    M_COUNTER("hellos_v2_total", "well-formed v2 hellos", hellos_v2),
    M_COUNTER("hellos_v3_declined_total", "v3 (certificate) hellos declined", hellos_v3_declined),
    M_COUNTER("hellos_malformed_total", "malformed hellos dropped", hellos_malformed),
    M_COUNTER("hellos_oversize_total", "oversized hellos dropped", hellos_oversize),
    M_COUNTER("hellos_timeout_total", "hellos not complete within their deadline (dropped)",
	      hellos_timeout),
    M_COUNTER("hellos_rate_limited_total", "hellos over the per-source rate", hellos_rate_limited),
    M_COUNTER("hellos_agent_total", "hellos from host agents (API)", hellos_agent),
    M_COUNTER("hellos_duplicate_total",
	      "hellos identical to one recorded lately, or of a device whose job waits (dropped)",
	      hellos_duplicate),
    M_COUNTER("jobs_claimed_total", "jobs claimed by this instance", jobs_claimed),
    M_GAUGE("sessions_active", "device sessions in progress", sessions_active),
    M_GAUGE("sessions_peak", "most device sessions at once", sessions_peak),
    M_GAUGE("admission_limit", "device sessions the server admits at once (measured Little's law)",
	    admission_limit),
    M_GAUGE("sessions_slow", "sessions past the slow age, not counted against the admission limit",
	    sessions_slow),
    M_COUNTER("provisioned_total", "devices provisioned", provisioned),
    M_COUNTER("jobs_failed_total", "jobs failed for good", jobs_failed),
    M_COUNTER("jobs_retried_total", "job attempts to be retried", jobs_retried),
    M_COUNTER("connect_failures_total", "device connections that failed", connect_failures),
    M_COUNTER("deadlines_missed_total", "device exchanges or sessions over their total deadline",
	      deadlines_missed),
    M_COUNTER("wsman_requests_total", "WS-Management requests sent", wsman_requests),
    M_COUNTER("wsman_faults_total", "WS-Management faults received", wsman_faults),
    M_COUNTER("api_requests_total", "HTTP API requests", api_requests),
    M_COUNTER("api_rejected_total", "HTTP API requests refused", api_rejected),
    M_COUNTER("store_errors_total", "store operations that failed", store_errors),
};

static void hello_outcome_metrics(struct evbuffer *b, const struct pp_server_metrics *m)
{
	static const char *const outcomes[PP_HELLO_OUTCOME_MAX] = {
	    "new_job",      "job_active",  "provisioned",  "unknown_pid",
	    "key_unusable", "quarantined", "suspect_clone"};
	evbuffer_add_printf(b, "# HELP pskprov_hello_outcomes_total what became of hellos\n"
			       "# TYPE pskprov_hello_outcomes_total counter\n");
	for (int i = 0; i < PP_HELLO_OUTCOME_MAX; i++)
		evbuffer_add_printf(b, "pskprov_hello_outcomes_total{outcome=\"%s\"} %llu\n",
				    outcomes[i], (unsigned long long)m->hello_outcomes[i]);
	evbuffer_add_printf(b, "# HELP pskprov_tls_failures_total TLS-PSK failures by reason\n"
			       "# TYPE pskprov_tls_failures_total counter\n");
	for (int i = 2; i < 7; i++)
		evbuffer_add_printf(b, "pskprov_tls_failures_total{reason=\"%s\"} %llu\n",
				    pp_tls_reason_name(i), (unsigned long long)m->tls_failures[i]);
}

static void on_metrics(struct evhttp_request *req, void *arg)
{
	struct pp_server *s = arg;
	s->m.api_requests++;
	struct evbuffer *b = evbuffer_new();
	if (!b) {
		pp_api_error(s, req, 500, "Internal Server Error", "out of memory");
		return;
	}
	const struct pp_server_metrics *m = &s->m;
	for (size_t i = 0; i < sizeof(server_metrics) / sizeof(server_metrics[0]); i++) {
		const struct metric_def *d = &server_metrics[i];
		metric(b, d->name, d->help, d->type, *(const uint64_t *)((const char *)m + d->off));
	}
	metric(b, "pskprov_hello_connections", "hello connections open", "gauge", s->hello_conns);
	metric(b, "pskprov_api_connections", "API connections open", "gauge", api_sweep(s));
	hello_outcome_metrics(b, m);
	struct pp_dbq_stats ds;
	pp_dbq_stats(s->dbq, &ds);
	metric(b, "pskprov_store_ops_total", "store operations", "counter", ds.ops);
	metric(b, "pskprov_store_commits_total", "store transactions (group commits)", "counter",
	       ds.commits);
	metric(b, "pskprov_store_batch_max", "largest group commit", "gauge", ds.max_batch);
	store_health_metrics(b, &ds);
	histogram_metrics(b, s);
	evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type",
			  "text/plain; version=0.0.4");
	evhttp_send_reply(req, HTTP_OK, "OK", b);
	evbuffer_free(b);
}

static void on_status(struct evhttp_request *req, void *arg)
{
	struct pp_server *s = arg;
	s->m.api_requests++;
	if (!pp_api_authorized(s, req, PP_API_STATUS))
		return;
	const struct pp_server_metrics *m = &s->m;
	pp_api_reply_json(req, HTTP_OK, "OK",
		   json_pack("{s:s,s:I,s:I,s:I,s:I,s:I,s:f}", "instance", s->owner,
			     "sessions_active", (json_int_t)m->sessions_active, "provisioned",
			     (json_int_t)m->provisioned, "failed", (json_int_t)m->jobs_failed,
			     "hellos", (json_int_t)m->hellos_v2, "agent_hellos",
			     (json_int_t)m->hellos_agent, "uptime_s",
			     pp_now_ms() / 1000.0 - s->started));
}

/* A unicast IPv4 address a device may have: not 0.0.0.0/8, broadcast, multicast
 * (224/4) or reserved (240/4). Loopback stays allowed (devices under test live there). */
static bool unicast_ipv4(const uint8_t a[4])
{
	return a[0] != 0 && a[0] < 224;
}

/* Content-Type application/json, parameters (charset) allowed. */
static bool json_content_type(struct evhttp_request *req)
{
	const char *ct = evhttp_find_header(evhttp_request_get_input_headers(req), "Content-Type");
	static const char want[] = "application/json";
	if (!ct || strncasecmp(ct, want, sizeof(want) - 1))
		return false;
	char next = ct[sizeof(want) - 1];
	return next == '\0' || next == ';' || next == ' ';
}

/* The hello's body, parsed and checked field by field: 0, or an error sent. */
static int hello_body(struct pp_server *s, struct evhttp_request *req, uint8_t uuid[16],
		      struct pp_pid *pid, uint8_t addr[4])
{
	struct evbuffer *in = evhttp_request_get_input_buffer(req);
	size_t len = evbuffer_get_length(in);
	char body[API_BODY_MAX + 1];
	evbuffer_remove(in, body, len);
	body[len] = '\0';
	json_error_t je;
	json_t *j = json_loadb(body, len, JSON_REJECT_DUPLICATES, &je);
	const char *uuid_s = NULL, *pid_s = NULL, *addr_s = NULL;
	if (!j || json_unpack_ex(j, &je, JSON_STRICT, "{s:s,s:s,s:s}", "uuid", &uuid_s, "pid",
				 &pid_s, "address", &addr_s) < 0) {
		char msg[200];
		snprintf(msg, sizeof(msg), "bad JSON: %s", je.text);
		json_decref(j);
		pp_api_error(s, req, 400, "Bad Request", msg);
		return -1;
	}
	struct pp_err err = {0};
	const char *field = "uuid";
	int rc = pp_uuid_parse(uuid_s, uuid, &err);
	if (rc == 0 && (field = "pid"))
		rc = pp_pid_parse(pid_s, pid, &err);
	if (rc == 0 && (field = "address"))
		rc = pp_parse_ipv4(addr_s, addr, "address", &err);
	if (rc == 0 && !unicast_ipv4(addr)) {
		snprintf(err.msg, sizeof(err.msg),
			 "address %.20s is not a unicast IPv4 address (0/8, multicast, broadcast "
			 "and 240/4 are refused)",
			 addr_s);
		rc = -PP_EINVAL;
	}
	json_decref(j);
	if (rc < 0) {
		pp_api_field_error(s, req, 400, "Bad Request", err.msg, field);
		return -1;
	}
	return 0;
}

/* POST {"uuid": "...", "pid": "XXXX-XXXC", "address": "a.b.c.d"} from a host agent
 * (a token of the agent role). Validated like network input; it only tells the server
 * which address to try. */
static void on_hello(struct evhttp_request *req, void *arg)
{
	struct pp_server *s = arg;
	s->m.api_requests++;
	if (!pp_api_authorized(s, req, PP_API_HELLO))
		return;
	if (s->stopping) {
		/* Draining: no new job here; the agent tries again (another instance, or this
		 * one after its restart). */
		evhttp_add_header(evhttp_request_get_output_headers(req), "Retry-After", "5");
		pp_api_error(s, req, 503, "Service Unavailable", "the server is stopping");
		return;
	}
	if (!json_content_type(req)) {
		pp_api_error(s, req, 415, "Unsupported Media Type",
			    "Content-Type must be application/json");
		return;
	}
	size_t len = evbuffer_get_length(evhttp_request_get_input_buffer(req));
	if (len > API_BODY_MAX) {
		pp_api_error(s, req, 413, "Payload Too Large", "body over 4096 bytes");
		return;
	}
	if (len == 0) {
		pp_api_error(s, req, 400, "Bad Request", "body must be 1 to 4096 bytes of JSON");
		return;
	}
	/* The peer address of the agent's connection, for rate limiting. */
	const char *peer = NULL;
	ev_uint16_t peer_port = 0;
	evhttp_connection_get_peer(evhttp_request_get_connection(req), (char **)&peer, &peer_port);
	uint8_t peer_ip[4] = {0};
	struct pp_err err = {0};
	if (!peer || pp_parse_ipv4(peer, peer_ip, "peer", &err) < 0) {
		pp_api_error(s, req, 400, "Bad Request", "IPv4 clients only");
		return;
	}
	uint32_t pip = (uint32_t)peer_ip[0] << 24 | (uint32_t)peer_ip[1] << 16 |
		       (uint32_t)peer_ip[2] << 8 | peer_ip[3];
	if (!pp_ratelimit_allow(s->rl, pip, pp_now_ms())) {
		s->m.hellos_rate_limited++;
		pp_api_error(s, req, 429, "Too Many Requests", "hello rate limit");
		return;
	}
	uint8_t uuid[16], addr[4];
	struct pp_pid pid;
	if (hello_body(s, req, uuid, &pid, addr) < 0)
		return;
	s->m.hellos_agent++;
	pp_server_submit_hello(s, uuid, pid.s, addr, "agent");
	pp_api_reply_json(req, 202, "Accepted",
		   json_pack("{s:s}", "status", "accepted: the server will try the device"));
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

/* GET /: a small page of fleet status, refreshed every few seconds. Counters only, from
 * memory: no secret, no store access on the loop. */
static void on_page(struct evhttp_request *req, void *arg)
{
	struct pp_server *s = arg;
	s->m.api_requests++;
	struct evbuffer *b = evbuffer_new();
	if (!b) {
		pp_api_error(s, req, 500, "Internal Server Error", "out of memory");
		return;
	}
	const struct pp_server_metrics *m = &s->m;
	double up = pp_now_ms() / 1000.0 - s->started;
	evbuffer_add_printf(
	    b,
	    "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
	    "<meta http-equiv=\"refresh\" content=\"5\"><title>pskprov</title>"
	    "<style>body{font-family:sans-serif;margin:2em}td{padding:.2em 1em}"
	    "td.n{text-align:right;font-variant-numeric:tabular-nums}"
	    ".bad{color:#b00}</style></head><body>\n"
	    "<h1>pskprov configuration server</h1>\n"
	    "<p>instance %s, up %.0f s, TLS profile %s</p>\n<table>\n"
	    "<tr><td>provisioned</td><td class=\"n\">%llu</td></tr>\n"
	    "<tr><td>in progress</td><td class=\"n\">%llu</td></tr>\n"
	    "<tr><td>failed</td><td class=\"n bad\">%llu</td></tr>\n"
	    "<tr><td>retries</td><td class=\"n\">%llu</td></tr>\n"
	    "<tr><td>hellos (device / agent)</td><td class=\"n\">%llu / %llu</td></tr>\n"
	    "<tr><td>quarantined hellos</td><td class=\"n bad\">%llu</td></tr>\n"
	    "<tr><td>unknown PID hellos</td><td class=\"n bad\">%llu</td></tr>\n"
	    "<tr><td>malformed / v3 / rate-limited hellos</td><td class=\"n\">%llu / %llu / "
	    "%llu</td></tr>\n"
	    "<tr><td>TLS-PSK wrong key</td><td class=\"n bad\">%llu</td></tr>\n"
	    "</table>\n<p><a href=\"/metrics\">metrics</a></p>\n</body></html>\n",
	    s->owner, up, pp_tls_profile_name(s->profile), (unsigned long long)m->provisioned,
	    (unsigned long long)m->sessions_active, (unsigned long long)m->jobs_failed,
	    (unsigned long long)m->jobs_retried, (unsigned long long)m->hellos_v2,
	    (unsigned long long)m->hellos_agent,
	    (unsigned long long)m->hello_outcomes[PP_HELLO_QUARANTINED],
	    (unsigned long long)m->hello_outcomes[PP_HELLO_UNKNOWN_PID],
	    (unsigned long long)m->hellos_malformed, (unsigned long long)m->hellos_v3_declined,
	    (unsigned long long)m->hellos_rate_limited,
	    (unsigned long long)m->tls_failures[PP_TLS_BAD_KEY]);
	evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type",
			  "text/html; charset=utf-8");
	evhttp_send_reply(req, HTTP_OK, "OK", b);
	evbuffer_free(b);
}

/* ---- routes: path, methods, handler (as data); everything else is a JSON 404 ---- */

static const struct api_route {
	const char *path;
	uint16_t methods;
	void (*fn)(struct evhttp_request *, void *);
} routes[] = {
    {"/", EVHTTP_REQ_GET | EVHTTP_REQ_HEAD, on_page},
    {"/healthz", EVHTTP_REQ_GET | EVHTTP_REQ_HEAD, on_healthz},
    {"/readyz", EVHTTP_REQ_GET | EVHTTP_REQ_HEAD, on_readyz},
    {"/metrics", EVHTTP_REQ_GET, on_metrics},
    {"/api/v1/status", EVHTTP_REQ_GET, on_status},
    {"/api/v1/hello", EVHTTP_REQ_POST, on_hello},
};

static void dispatch(struct evhttp_request *req, void *arg)
{
	struct pp_server *s = arg;
	const struct evhttp_uri *u = evhttp_request_get_evhttp_uri(req);
	const char *path = u ? evhttp_uri_get_path(u) : NULL;
	if (!path || !*path)
		path = "/";
	for (size_t i = 0; i < sizeof(routes) / sizeof(routes[0]); i++) {
		if (strcmp(path, routes[i].path) != 0)
			continue;
		if (!(evhttp_request_get_command(req) & routes[i].methods)) {
			s->m.api_requests++;
			evhttp_add_header(evhttp_request_get_output_headers(req), "Allow",
					  routes[i].methods & EVHTTP_REQ_POST ? "POST"
									      : "GET, HEAD");
			pp_api_error(s, req, 405, "Method Not Allowed",
				    "method not allowed on this path");
			return;
		}
		routes[i].fn(req, s);
		return;
	}
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
static uint32_t api_sweep(struct pp_server *s)
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
	if (a->n >= s->lim.api_max_conns && api_sweep(s) >= s->lim.api_max_conns)
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
