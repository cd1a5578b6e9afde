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
 * unknown one: 401; a token whose role does not allow the call: 403. */
#include <arpa/inet.h>
#include <event2/buffer.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <jansson.h>
#include <string.h>

#include "core/parse.h"
#include "core/secret.h"
#include "keys/keys.h"
#include "server/auth.h"
#include "server/server.h"
#include "store/store.h"
#include "util/log.h"

#define API_BODY_MAX 4096

static void reply_json(struct evhttp_request *req, int code, const char *reason, json_t *v)
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

static void reply_error(struct pp_server *s, struct evhttp_request *req, int code,
			const char *reason, const char *msg)
{
	s->m.api_rejected++;
	reply_json(req, code, reason, json_pack("{s:s}", "error", msg));
}

/* True when the request's bearer token allows `need`; else replies 401 or 403. */
static bool authorized(struct pp_server *s, struct evhttp_request *req, enum pp_token_role need)
{
	const char *h = evhttp_find_header(evhttp_request_get_input_headers(req), "Authorization");
	enum pp_token_role role = PP_ROLE_NONE;
	if (!h || strncmp(h, "Bearer ", 7) != 0 || pp_server_token_role(s, h + 7, &role) < 0) {
		reply_error(s, req, 401, "Unauthorized", "missing or wrong bearer token");
		return false;
	}
	if (!pp_token_role_allows(role, need)) {
		char msg[80];
		snprintf(msg, sizeof(msg), "a %s token may not do this (needs %s)",
			 pp_token_role_name(role), pp_token_role_name(need));
		reply_error(s, req, 403, "Forbidden", msg);
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

static void on_metrics(struct evhttp_request *req, void *arg)
{
	struct pp_server *s = arg;
	s->m.api_requests++;
	struct evbuffer *b = evbuffer_new();
	if (!b) {
		evhttp_send_error(req, HTTP_INTERNAL, NULL);
		return;
	}
	const struct pp_server_metrics *m = &s->m;
	metric(b, "pskprov_hello_connections_total", "TCP connections to the hello port", "counter",
	       m->hello_connections);
	metric(b, "pskprov_hello_connections_refused_total", "hello connections over the cap",
	       "counter", m->hello_connections_refused);
	metric(b, "pskprov_hellos_v2_total", "well-formed v2 hellos", "counter", m->hellos_v2);
	metric(b, "pskprov_hellos_v3_declined_total", "v3 (certificate) hellos declined", "counter",
	       m->hellos_v3_declined);
	metric(b, "pskprov_hellos_malformed_total", "malformed hellos dropped", "counter",
	       m->hellos_malformed);
	metric(b, "pskprov_hellos_oversize_total", "oversized hellos dropped", "counter",
	       m->hellos_oversize);
	metric(b, "pskprov_hellos_timeout_total", "incomplete hellos timed out", "counter",
	       m->hellos_timeout);
	metric(b, "pskprov_hellos_rate_limited_total", "hellos over the per-source rate", "counter",
	       m->hellos_rate_limited);
	metric(b, "pskprov_hellos_agent_total", "hellos from host agents (API)", "counter",
	       m->hellos_agent);
	metric(b, "pskprov_hellos_duplicate_total",
	       "hellos identical to one recorded seconds before (dropped)", "counter",
	       m->hellos_duplicate);
	static const char *const outcomes[PP_HELLO_OUTCOME_MAX] = {
	    "new_job",      "job_active",  "provisioned",  "unknown_pid",
	    "key_unusable", "quarantined", "suspect_clone"};
	evbuffer_add_printf(b, "# HELP pskprov_hello_outcomes_total what became of hellos\n"
			       "# TYPE pskprov_hello_outcomes_total counter\n");
	for (int i = 0; i < PP_HELLO_OUTCOME_MAX; i++)
		evbuffer_add_printf(b, "pskprov_hello_outcomes_total{outcome=\"%s\"} %llu\n",
				    outcomes[i], (unsigned long long)m->hello_outcomes[i]);
	metric(b, "pskprov_jobs_claimed_total", "jobs claimed by this instance", "counter",
	       m->jobs_claimed);
	metric(b, "pskprov_sessions_active", "device sessions in progress", "gauge",
	       m->sessions_active);
	metric(b, "pskprov_sessions_peak", "most device sessions at once", "gauge",
	       m->sessions_peak);
	metric(b, "pskprov_provisioned_total", "devices provisioned", "counter", m->provisioned);
	metric(b, "pskprov_jobs_failed_total", "jobs failed for good", "counter", m->jobs_failed);
	metric(b, "pskprov_jobs_retried_total", "job attempts to be retried", "counter",
	       m->jobs_retried);
	metric(b, "pskprov_connect_failures_total", "device connections that failed", "counter",
	       m->connect_failures);
	metric(b, "pskprov_deadlines_missed_total",
	       "device exchanges or sessions over their total deadline", "counter",
	       m->deadlines_missed);
	evbuffer_add_printf(b, "# HELP pskprov_tls_failures_total TLS-PSK failures by reason\n"
			       "# TYPE pskprov_tls_failures_total counter\n");
	for (int i = 2; i < 7; i++)
		evbuffer_add_printf(b, "pskprov_tls_failures_total{reason=\"%s\"} %llu\n",
				    pp_tls_reason_name(i), (unsigned long long)m->tls_failures[i]);
	metric(b, "pskprov_wsman_requests_total", "WS-Management requests sent", "counter",
	       m->wsman_requests);
	metric(b, "pskprov_wsman_faults_total", "WS-Management faults received", "counter",
	       m->wsman_faults);
	metric(b, "pskprov_api_requests_total", "HTTP API requests", "counter", m->api_requests);
	metric(b, "pskprov_api_rejected_total", "HTTP API requests refused", "counter",
	       m->api_rejected);
	metric(b, "pskprov_store_errors_total", "store operations that failed", "counter",
	       m->store_errors);
	struct pp_dbq_stats ds;
	pp_dbq_stats(s->dbq, &ds);
	metric(b, "pskprov_store_ops_total", "store operations", "counter", ds.ops);
	metric(b, "pskprov_store_commits_total", "store transactions (group commits)", "counter",
	       ds.commits);
	metric(b, "pskprov_store_batch_max", "largest group commit", "gauge", ds.max_batch);
	store_health_metrics(b, &ds);
	evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type",
			  "text/plain; version=0.0.4");
	evhttp_send_reply(req, HTTP_OK, "OK", b);
	evbuffer_free(b);
}

static void on_status(struct evhttp_request *req, void *arg)
{
	struct pp_server *s = arg;
	s->m.api_requests++;
	if (!authorized(s, req, PP_ROLE_READ))
		return;
	const struct pp_server_metrics *m = &s->m;
	reply_json(req, HTTP_OK, "OK",
		   json_pack("{s:s,s:I,s:I,s:I,s:I,s:I,s:f}", "instance", s->owner,
			     "sessions_active", (json_int_t)m->sessions_active, "provisioned",
			     (json_int_t)m->provisioned, "failed", (json_int_t)m->jobs_failed,
			     "hellos", (json_int_t)m->hellos_v2, "agent_hellos",
			     (json_int_t)m->hellos_agent, "uptime_s",
			     pp_server_now_ms() / 1000.0 - s->started));
}

/* {"uuid": "...", "pid": "XXXX-XXXC", "address": "a.b.c.d"} from a host agent. Validated
 * like network input; it only tells the server which address to try. */
static void on_hello(struct evhttp_request *req, void *arg)
{
	struct pp_server *s = arg;
	s->m.api_requests++;
	if (evhttp_request_get_command(req) != EVHTTP_REQ_POST) {
		reply_error(s, req, 405, "Method Not Allowed", "use POST");
		return;
	}
	if (!authorized(s, req, PP_ROLE_AGENT))
		return;
	struct evbuffer *in = evhttp_request_get_input_buffer(req);
	size_t len = evbuffer_get_length(in);
	if (len == 0 || len > API_BODY_MAX) {
		reply_error(s, req, 400, "Bad Request", "body must be 1 to 4096 bytes of JSON");
		return;
	}
	/* The peer address of the agent's connection, for rate limiting. */
	const char *peer = NULL;
	ev_uint16_t peer_port = 0;
	evhttp_connection_get_peer(evhttp_request_get_connection(req), (char **)&peer, &peer_port);
	uint8_t peer_ip[4] = {0};
	struct pp_err err = {0};
	if (!peer || pp_parse_ipv4(peer, peer_ip, "peer", &err) < 0) {
		reply_error(s, req, 400, "Bad Request", "IPv4 clients only");
		return;
	}
	uint32_t pip = (uint32_t)peer_ip[0] << 24 | (uint32_t)peer_ip[1] << 16 |
		       (uint32_t)peer_ip[2] << 8 | peer_ip[3];
	if (!pp_ratelimit_allow(s->rl, pip, pp_server_now_ms())) {
		s->m.hellos_rate_limited++;
		reply_error(s, req, 429, "Too Many Requests", "hello rate limit");
		return;
	}
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
		reply_error(s, req, 400, "Bad Request", msg);
		return;
	}
	uint8_t uuid[16], addr[4];
	struct pp_pid pid;
	int rc = pp_uuid_parse(uuid_s, uuid, &err);
	if (rc == 0)
		rc = pp_pid_parse(pid_s, &pid, &err);
	if (rc == 0)
		rc = pp_parse_ipv4(addr_s, addr, "address", &err);
	json_decref(j);
	if (rc < 0) {
		reply_error(s, req, 400, "Bad Request", err.msg);
		return;
	}
	s->m.hellos_agent++;
	pp_server_submit_hello(s, uuid, pid.s, addr, "agent");
	reply_json(req, 202, "Accepted",
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
	reply_json(r->req, ok ? HTTP_OK : 503, ok ? "OK" : "Service Unavailable", v);
	free(r);
}

static void on_readyz(struct evhttp_request *req, void *arg)
{
	struct pp_server *s = arg;
	s->m.api_requests++;
	struct readyz *r = calloc(1, sizeof(*r));
	if (!r || !s->dbq) {
		free(r);
		reply_error(s, req, 503, "Service Unavailable", "not ready: no store thread");
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
	if (strcmp(evhttp_request_get_uri(req), "/") != 0) {
		reply_error(s, req, 404, "Not Found", "no such endpoint");
		return;
	}
	struct evbuffer *b = evbuffer_new();
	if (!b) {
		evhttp_send_error(req, HTTP_INTERNAL, NULL);
		return;
	}
	const struct pp_server_metrics *m = &s->m;
	double up = pp_server_now_ms() / 1000.0 - s->started;
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

int pp_server_api_start(struct pp_server *s, struct pp_err *err)
{
	s->http = evhttp_new(s->base);
	if (!s->http)
		return pp_err_set(err, PP_ENOMEM, "cannot start the HTTP API");
	evhttp_set_max_body_size(s->http, API_BODY_MAX);
	evhttp_set_max_headers_size(s->http, 8192);
	evhttp_set_timeout(s->http, 10);
	evhttp_set_allowed_methods(s->http, EVHTTP_REQ_GET | EVHTTP_REQ_POST);
	evhttp_set_cb(s->http, "/healthz", on_healthz, s);
	evhttp_set_cb(s->http, "/readyz", on_readyz, s);
	evhttp_set_cb(s->http, "/metrics", on_metrics, s);
	evhttp_set_cb(s->http, "/api/v1/status", on_status, s);
	evhttp_set_cb(s->http, "/api/v1/hello", on_hello, s);
	evhttp_set_gencb(s->http, on_page, s);
	char host[16];
	snprintf(host, sizeof(host), "%u.%u.%u.%u", s->cfg.api_ip[0], s->cfg.api_ip[1],
		 s->cfg.api_ip[2], s->cfg.api_ip[3]);
	s->http_sock = evhttp_bind_socket_with_handle(s->http, host, s->cfg.api_port);
	if (!s->http_sock)
		return pp_err_set(err, PP_EIO, "cannot listen for the API on %s:%u", host,
				  s->cfg.api_port);
	return 0;
}

void pp_server_api_stop(struct pp_server *s)
{
	pp_dbq_health_cancel(s->dbq); /* answers waiting /readyz requests before they go */
	if (s->http)
		evhttp_free(s->http);
	s->http = NULL;
}
