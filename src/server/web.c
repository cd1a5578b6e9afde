/* The web console's files (GET /). */
#include <event2/buffer.h>
#include <event2/http.h>

#include "core/clock.h"
#include "server/api.h"

/* GET /: a small page of fleet status, refreshed every few seconds. Counters only, from
 * memory: no secret, no store access on the loop. */
void pp_api_on_page(struct evhttp_request *req, void *arg)
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
