/* GET /metrics: the Prometheus text format (promtool check metrics clean): the server's
 * counters and gauges as data, the store thread's figures, the histograms, and the
 * store's counts (keys by batch and state, devices, jobs) from the snapshot stock.c
 * keeps fresh, with its age: /metrics never waits on the store. */
#include <event2/buffer.h>
#include <event2/http.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "core/clock.h"
#include "server/api.h"
#include "server/dbq.h"
#include "store/store.h"

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

/* ---- the store's counts ---- */

/* A label value as the exposition format wants it: backslash, double quote and line
 * feed escaped. Cut short (never mid-escape) past cap. */
static void label_escape(char *out, size_t cap, const char *in)
{
	size_t o = 0;
	for (; *in && o + 3 < cap; in++) {
		char c = *in;
		if (c == '\\' || c == '"' || c == '\n') {
			out[o++] = '\\';
			c = c == '\n' ? 'n' : c;
		}
		out[o++] = c;
	}
	out[o] = '\0';
}

/* The key state names as labels: "in-use" stays as the CLI prints it. */
static void key_metrics(struct evbuffer *b, const struct pp_stock_snapshot *snap)
{
	evbuffer_add_printf(b, "# HELP pskprov_keys keys in the store by batch and state\n"
			       "# TYPE pskprov_keys gauge\n");
	for (size_t i = 0; i < snap->n_batches; i++) {
		char batch[2 * PP_BATCH_NAME_MAX + 4];
		label_escape(batch, sizeof(batch), snap->batches[i].name);
		for (int k = 0; k < PP_KEY_STATE_MAX; k++)
			evbuffer_add_printf(b, "pskprov_keys{batch=\"%s\",state=\"%s\"} %llu\n",
					    batch, pp_key_state_name((enum pp_key_state)k),
					    (unsigned long long)snap->batches[i].by_state[k]);
	}
}

static void stock_metrics(struct evbuffer *b, const struct pp_server *s)
{
	metric(b, "pskprov_event_streams", "event streams open (GET /api/v1/events)", "gauge",
	       pp_server_event_streams(s));
	const struct pp_stock_snapshot *snap = pp_server_stock(s);
	if (!snap)
		return; /* the first read has not answered yet */
	const struct pp_store_counts *c = &snap->counts;
	if (snap->have_batches)
		key_metrics(b, snap);
	evbuffer_add_printf(b, "# HELP pskprov_devices devices in the store by state\n"
			       "# TYPE pskprov_devices gauge\n");
	for (int i = 0; i < PP_DEV_STATE_MAX; i++)
		evbuffer_add_printf(b, "pskprov_devices{state=\"%s\"} %llu\n",
				    pp_device_state_name((enum pp_device_state)i),
				    (unsigned long long)c->devices_by_state[i]);
	evbuffer_add_printf(b, "# HELP pskprov_jobs jobs in the store by state\n"
			       "# TYPE pskprov_jobs gauge\n");
	for (int i = 0; i < PP_JOB_STATE_MAX; i++)
		evbuffer_add_printf(b, "pskprov_jobs{state=\"%s\"} %llu\n",
				    pp_job_state_name((enum pp_job_state)i),
				    (unsigned long long)c->jobs_by_state[i]);
	uint64_t now = pp_now_ms();
	double age = now > snap->at_ms ? (double)(now - snap->at_ms) / 1000.0 : 0;
	evbuffer_add_printf(b,
			    "# HELP pskprov_store_snapshot_age_seconds age of the store counts "
			    "behind pskprov_keys, pskprov_devices and pskprov_jobs\n"
			    "# TYPE pskprov_store_snapshot_age_seconds gauge\n"
			    "pskprov_store_snapshot_age_seconds %.3f\n",
			    age);
}

void pp_api_on_metrics(struct evhttp_request *req, void *arg)
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
	metric(b, "pskprov_api_connections", "API connections open", "gauge",
	       pp_server_api_conns(s));
	hello_outcome_metrics(b, m);
	struct pp_dbq_stats ds;
	pp_dbq_stats(s->dbq, &ds);
	metric(b, "pskprov_store_ops_total", "store operations", "counter", ds.ops);
	metric(b, "pskprov_store_commits_total", "store transactions (group commits)", "counter",
	       ds.commits);
	metric(b, "pskprov_store_batch_max", "largest group commit", "gauge", ds.max_batch);
	store_health_metrics(b, &ds);
	stock_metrics(b, s);
	histogram_metrics(b, s);
	evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type",
			  "text/plain; version=0.0.4");
	evhttp_send_reply(req, HTTP_OK, "OK", b);
	evbuffer_free(b);
}
