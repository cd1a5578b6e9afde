/* The agent's side of the server's API (agent/http.h): the URL, POST /api/v1/hello,
 * the token file, the reply. */
#include "agent/http.h"

#include <jansson.h>
#include <stdio.h>
#include <string.h>

#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>

#include "prog/commands.h"

#include "core/fileio.h"

/* ---- the server's URL ---- */

/* The server's URL: the one address grammar (core/address.h), on loopback or 0.0.0.0,
 * with a path that defaults to /api/v1/hello; the port defaults to the API's. */
int pp_agent_parse_url(const char *s, struct pp_address *u, struct pp_err *err)
{
	int rc =
	    pp_address_parse(s, PP_AGENT_API_PORT, PP_ADDR_LOOPBACK | PP_ADDR_ANY_OK | PP_ADDR_PATH,
			     "--server", u, err);
	if (rc == 0 && (!u->path[0] || !strcmp(u->path, "/")))
		snprintf(u->path, sizeof(u->path), "%s", PP_AGENT_HELLO_PATH);
	return rc;
}

/* ---- POST /api/v1/hello ---- */

static void on_http_error(enum evhttp_request_error e, void *arg)
{
	struct pp_agent_http_result *h = arg;
	h->error = (int)e;
}

static void on_http_done(struct evhttp_request *req, void *arg)
{
	struct pp_agent_http_result *h = arg;
	h->done = true;
	if (req && evhttp_request_get_response_code(req) > 0) {
		struct evbuffer *in = evhttp_request_get_input_buffer(req);
		size_t n = evbuffer_get_length(in);
		if (n > PP_AGENT_REPLY_MAX)
			n = PP_AGENT_REPLY_MAX;
		h->code = evhttp_request_get_response_code(req);
		const char *line = evhttp_request_get_response_code_line(req);
		snprintf(h->reason, sizeof(h->reason), "%s", line ? line : "");
		ev_ssize_t got = evbuffer_copyout(in, h->body, n);
		h->body_len = got > 0 ? (size_t)got : 0;
		h->body[h->body_len] = '\0';
	}
	event_base_loopexit(h->base, NULL);
}

static void on_guard(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	event_base_loopexit(arg, NULL);
}

const char *pp_agent_http_error_name(int e)
{
	switch (e) {
	case EVREQ_HTTP_TIMEOUT:
		return "timed out";
	case EVREQ_HTTP_EOF:
		return "connection closed";
	case EVREQ_HTTP_INVALID_HEADER:
		return "malformed reply";
	case EVREQ_HTTP_BUFFER_ERROR:
		return "connection error";
	case EVREQ_HTTP_DATA_TOO_LONG:
		return "reply too long";
	default:
		return "cannot connect";
	}
}

/* One POST, bounded by timeout_s (libevent's connection timeout, and a guard timer on
 * the loop in case a callback never comes). */
int pp_agent_http_post(const struct pp_address *u, const char *body, const char *token,
		       unsigned timeout_s, struct pp_agent_http_result *h, struct pp_err *err)
{
	char auth[PP_TOKEN_TEXT_LEN + 16];
	struct evhttp_connection *conn = NULL;
	struct evhttp_request *req = NULL;
	struct event *guard = NULL;
	int rc = 0;

	memset(h, 0, sizeof(*h));
	h->error = -1;
	h->base = event_base_new();
	if (!h->base)
		return pp_err_set(err, PP_ENOMEM, "cannot make an event loop");
	conn = evhttp_connection_base_new(h->base, NULL, u->host, u->port);
	req = conn ? evhttp_request_new(on_http_done, h) : NULL;
	guard = evtimer_new(h->base, on_guard, h->base);
	if (!conn || !req || !guard) {
		if (req)
			evhttp_request_free(req);
		rc = pp_err_set(err, PP_ENOMEM, "cannot make an HTTP request");
		goto out;
	}
	evhttp_connection_set_timeout(conn, (int)timeout_s);
	evhttp_connection_set_retries(conn, 0);
	evhttp_connection_set_max_headers_size(conn, 8192);
	evhttp_connection_set_max_body_size(conn, PP_AGENT_REPLY_MAX);
	evhttp_request_set_error_cb(req, on_http_error);
	struct evkeyvalq *hdr = evhttp_request_get_output_headers(req);
	if (evhttp_add_header(hdr, "Host", u->hostport) < 0 ||
	    evhttp_add_header(hdr, "Content-Type", "application/json") < 0 ||
	    evhttp_add_header(hdr, "Accept", "application/json") < 0 ||
	    evhttp_add_header(hdr, "Connection", "close") < 0 ||
	    (token && (snprintf(auth, sizeof(auth), "Bearer %s", token) < 0 ||
		       evhttp_add_header(hdr, "Authorization", auth) < 0)) ||
	    evbuffer_add(evhttp_request_get_output_buffer(req), body, strlen(body)) < 0) {
		evhttp_request_free(req);
		rc = pp_err_set(err, PP_ENOMEM, "cannot make an HTTP request");
		goto out;
	}
	/* On failure evhttp_make_request frees req itself. */
	if (evhttp_make_request(conn, req, EVHTTP_REQ_POST, u->path) < 0) {
		rc = pp_err_set(err, PP_EIO, "cannot send the request to %s", u->hostport);
		goto out;
	}
	struct timeval tv = {.tv_sec = (time_t)timeout_s + 2};
	evtimer_add(guard, &tv);
	event_base_dispatch(h->base);
	if (!h->done)
		h->error = EVREQ_HTTP_TIMEOUT;
out:
	if (guard)
		event_free(guard);
	if (conn)
		evhttp_connection_free(conn); /* frees a request still pending */
	event_base_free(h->base);
	h->base = NULL;
	pp_wipe(auth, sizeof(auth));
	return rc;
}

void pp_agent_token_wipe(char (*t)[PP_TOKEN_TEXT_LEN + 1])
{
	pp_wipe(*t, sizeof(*t));
}

/* The API token for the hello: the first line of a file only its owner may read (a
 * `pskprov token create --role agent --out FILE`, or api.token). Never from argv. */
int pp_agent_read_token_file(const char *path, char out[PP_TOKEN_TEXT_LEN + 1], struct pp_err *err)
{
	struct pp_buf b;
	pp_buf_init(&b, 256);
	int rc = pp_file_check_private(path, err);
	if (rc == 0)
		rc = pp_file_read(path, 256, &b, err);
	if (rc == 0) {
		size_t n = b.len;
		while (n > 0 && (b.data[n - 1] == '\n' || b.data[n - 1] == '\r'))
			n--;
		if (n > PP_TOKEN_TEXT_LEN)
			n = PP_TOKEN_TEXT_LEN + 1; /* too long: refused below */
		char tok[PP_TOKEN_TEXT_LEN + 2];
		memcpy(tok, b.data, n < sizeof(tok) ? n : sizeof(tok) - 1);
		tok[n < sizeof(tok) ? n : sizeof(tok) - 1] = '\0';
		bool hex64 = strlen(tok) == 64 && strspn(tok, "0123456789abcdef") == 64;
		if (!pp_token_well_formed(tok) && !hex64)
			rc = pp_err_set(err, PP_EINVAL,
					"%s: not an API token (ppt_ and 64 hex digits)", path);
		else
			memcpy(out, tok, strlen(tok) + 1);
		pp_wipe(tok, sizeof(tok));
	}
	pp_buf_free_wipe(&b);
	return rc;
}

/* The "error" text of the server's JSON reply, printable and short. */
void pp_agent_reply_error_text(const struct pp_agent_http_result *h, char *out, size_t cap)
{
	json_t *j = json_loadb(h->body, h->body_len, 0, NULL);
	const char *msg = NULL;
	if (j && json_is_object(j))
		msg = json_string_value(json_object_get(j, "error"));
	if (!msg || !msg[0])
		snprintf(out, cap, "HTTP %d %s", h->code, h->reason);
	else
		snprintf(out, cap, "%s", msg);
	json_decref(j);
	for (char *p = out; *p; p++)
		if ((unsigned char)*p < 0x20 || (unsigned char)*p > 0x7e)
			*p = '?';
	if (strlen(out) > 200)
		memcpy(out + 197, "...", 4);
}
