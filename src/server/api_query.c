/* api_call.h: running an API call's store work on the store thread and answering it on
 * the loop.
 *
 * The client may go while the store works: evhttp frees the connection (and with it a
 * request still on it: at server stop, evhttp_free) or detaches the request from it (a
 * client that closed, a timeout). The connection's close callback, set while the call
 * is out, is told either way: it drops the request (freeing a detached one, which
 * evhttp no longer will) and the answer is thrown away when the store is done. The
 * server stops the API before the store thread (cmd_server.c), so every call still out
 * then has been told before pp_dbq_stop delivers it. */
#include <event2/buffer.h>
#include <event2/http.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/secret.h"
#include "server/api_call.h"
#include "server/dbq.h"
#include "server/server.h"

struct api_op {
	struct pp_dbq_op op; /* first: the callbacks cast */
	struct api_call *c;
	struct evhttp_connection *evcon;
	api_run_fn run;
	void *ctx;
	void (*ctx_free)(void *);
	struct api_result res;
};

void api_call_free(struct api_call *c)
{
	free(c);
}

void api_fail(struct api_call *c, int code, const char *msg, const char *field)
{
	static const struct {
		int code;
		const char *reason;
	} reasons[] = {{400, "Bad Request"},       {403, "Forbidden"},
		       {404, "Not Found"},         {409, "Conflict"},
		       {413, "Payload Too Large"}, {415, "Unsupported Media Type"},
		       {429, "Too Many Requests"}, {503, "Service Unavailable"}};
	const char *reason = "Error";
	for (size_t i = 0; i < sizeof(reasons) / sizeof(reasons[0]); i++)
		if (reasons[i].code == code)
			reason = reasons[i].reason;
	if (code == 503)
		evhttp_add_header(evhttp_request_get_output_headers(c->req), "Retry-After", "5");
	pp_api_field_error(c->s, c->req, code, reason, msg, field);
	api_call_free(c);
}

int api_param_text(struct api_call *c, char *out, size_t cap, const char **text, const char **field,
		   struct pp_err *err)
{
	const char *v = pp_query_get(&c->q, "q");
	if (!v)
		return 0;
	if (!v[0] || strlen(v) > PP_DEVICE_TEXT_MAX || strlen(v) >= cap)
		return *field = "q",
		       pp_err_set(err, PP_EINVAL, "q must be 1 to %d printable characters",
				  PP_DEVICE_TEXT_MAX);
	snprintf(out, cap, "%s", v);
	*text = out;
	return 0;
}

bool api_query_ok(struct api_call *c, const char *const *allowed)
{
	const struct evhttp_uri *u = evhttp_request_get_evhttp_uri(c->req);
	const char *text = u ? evhttp_uri_get_query(u) : NULL;
	char field[PP_QUERY_NAME_MAX + 1];
	struct pp_err err = {0};
	if (pp_query_parse(text, allowed, &c->q, field, sizeof(field), &err) == 0)
		return true;
	api_fail(c, 400, err.msg, field[0] ? field : NULL);
	return false;
}

/* Wipes every string of v (revealed secrets) before it is freed. */
static void wipe_strings(json_t *v)
{
	const char *k;
	json_t *x;
	size_t i;
	if (json_is_string(v))
		pp_wipe((char *)json_string_value(v), json_string_length(v));
	else if (json_is_object(v))
		json_object_foreach(v, k, x) wipe_strings(x);
	else if (json_is_array(v))
		json_array_foreach(v, i, x) wipe_strings(x);
}

/* A revealed secret's text is lent to the output buffer, not copied: once written to
 * the socket (or dropped with the connection) it is wiped and freed here. */
static void wipe_free(const void *data, size_t len, void *arg)
{
	(void)arg;
	pp_wipe((void *)data, len);
	free((void *)data);
}

static void reply(struct api_call *c, int code, json_t *body, bool no_store)
{
	struct evkeyvalq *h = evhttp_request_get_output_headers(c->req);
	struct evbuffer *out = evbuffer_new();
	char *text = body ? json_dumps(body, JSON_COMPACT) : NULL;
	if (!out || !text) {
		free(text);
		evbuffer_free(out);
		api_fail(c, 503, "out of memory", NULL);
		return;
	}
	size_t n = strlen(text);
	if (no_store && evbuffer_add_reference(out, text, n, wipe_free, NULL) == 0)
		text = NULL; /* the buffer owns it now */
	else
		evbuffer_add(out, text, n);
	evbuffer_add(out, "\n", 1);
	evhttp_add_header(h, "Content-Type", "application/json");
	if (no_store)
		evhttp_add_header(h, "Cache-Control", "no-store");
	evhttp_send_reply(c->req, code, code == 202 ? "Accepted" : "OK", out);
	if (text) {
		pp_wipe(text, n);
		free(text);
	}
	evbuffer_free(out);
	api_call_free(c);
}

static void on_close(struct evhttp_connection *evcon, void *arg)
{
	(void)evcon;
	struct api_op *o = arg;
	struct evhttp_request *req = o->c->req;
	/* Detached (the client closed, a timeout): evhttp will not free it; else it goes
	 * with the connection. */
	if (req && !evhttp_request_get_connection(req))
		evhttp_request_free(req);
	o->c->req = NULL;
	o->evcon = NULL;
}

static int op_run(struct pp_store *st, struct pp_dbq_op *op, struct pp_err *err)
{
	struct api_op *o = (struct api_op *)op;
	memset(&o->res, 0, sizeof(o->res));
	int rc = o->run(st, o->ctx, &o->res, err);
	if (rc < 0 && o->res.body) {
		if (o->res.no_store)
			wipe_strings(o->res.body);
		json_decref(o->res.body);
		o->res.body = NULL;
	}
	return rc;
}

static void op_again(struct pp_dbq_op *op)
{
	struct api_op *o = (struct api_op *)op;
	if (o->res.no_store)
		wipe_strings(o->res.body);
	json_decref(o->res.body);
	memset(&o->res, 0, sizeof(o->res));
}

static void answer_error(struct api_call *c, int rc, const struct pp_err *err, const char *field)
{
	char msg[sizeof(err->msg) + 8];
	const char *m = err && err->msg[0] ? err->msg : "failed";
	if (rc == -PP_ENOTFOUND)
		api_fail(c, 404, m, NULL);
	else if (rc == -PP_ESTATE)
		api_fail(c, 409, m, NULL);
	else if (rc == -PP_EINVAL)
		api_fail(c, 400, m, field);
	else {
		c->s->m.store_errors++;
		snprintf(msg, sizeof(msg), "store: %s", m);
		api_fail(c, 503, msg, NULL);
	}
}

static void op_done(struct pp_dbq_op *op, int rc, const struct pp_err *err)
{
	struct api_op *o = (struct api_op *)op;
	struct api_call *c = o->c;
	json_t *body = o->res.body;
	o->res.body = NULL;
	if (!c->req) {
		api_call_free(c); /* the client went */
	} else {
		if (o->evcon)
			evhttp_connection_set_closecb(o->evcon, NULL, NULL);
		if (rc == 0 && o->res.finish && o->res.finish(c->s, body, o->ctx) < 0)
			api_fail(c, 503, "out of memory", NULL);
		else if (rc == 0)
			reply(c, o->res.code ? o->res.code : 200, body, o->res.no_store);
		else
			answer_error(c, rc, err, o->res.field);
	}
	if (o->res.no_store)
		wipe_strings(body);
	json_decref(body);
	if (o->ctx_free)
		o->ctx_free(o->ctx);
	free(o);
}

void api_store_call(struct api_call *c, api_run_fn run, void *ctx, void (*ctx_free)(void *),
		    bool write)
{
	struct pp_server *s = c->s;
	struct api_op *o = calloc(1, sizeof(*o));
	if (!o || !s->dbq || (write && s->stopping)) {
		free(o);
		if (ctx_free)
			ctx_free(ctx);
		api_fail(c, 503, s->stopping ? "the server is stopping" : "store: not running",
			 NULL);
		return;
	}
	o->c = c;
	o->run = run;
	o->ctx = ctx;
	o->ctx_free = ctx_free;
	o->op.run = op_run;
	o->op.done = op_done;
	o->op.again = op_again;
	o->evcon = evhttp_request_get_connection(c->req);
	if (o->evcon)
		evhttp_connection_set_closecb(o->evcon, on_close, o);
	if (write)
		pp_dbq_submit(s->dbq, &o->op);
	else
		pp_dbq_submit_second(s->dbq, &o->op);
}

bool api_json_content_type(struct evhttp_request *req)
{
	const char *ct = evhttp_find_header(evhttp_request_get_input_headers(req), "Content-Type");
	static const char want[] = "application/json";
	if (!ct || strncasecmp(ct, want, sizeof(want) - 1))
		return false;
	char next = ct[sizeof(want) - 1];
	return next == '\0' || next == ';' || next == ' ';
}

/* Every key of o among allowed: NULL, or the first that is not. */
static const char *unknown_key(json_t *o, const char *const *allowed)
{
	const char *k;
	json_t *v;
	json_object_foreach(o, k, v)
	{
		size_t i = 0;
		while (allowed[i] && strcmp(allowed[i], k) != 0)
			i++;
		if (!allowed[i])
			return k;
	}
	return NULL;
}

json_t *api_body(struct api_call *c, const char *const *allowed, bool may_be_empty, bool *failed)
{
	struct evbuffer *in = evhttp_request_get_input_buffer(c->req);
	size_t len = evbuffer_get_length(in);
	char body[API_BODY_MAX + 1], msg[200];
	*failed = true;
	if (len == 0 && may_be_empty) {
		*failed = false;
		return NULL;
	}
	if (len > API_BODY_MAX) {
		api_fail(c, 413, "body over 4096 bytes", NULL);
		return NULL;
	}
	if (!api_json_content_type(c->req)) {
		api_fail(c, 415, "Content-Type must be application/json", NULL);
		return NULL;
	}
	evbuffer_copyout(in, body, len);
	body[len] = '\0';
	json_error_t je;
	json_t *j = len ? json_loadb(body, len, JSON_REJECT_DUPLICATES, &je) : NULL;
	if (!j || !json_is_object(j)) {
		snprintf(msg, sizeof(msg), "malformed JSON: %s",
			 !len ? "empty body"
			 : j  ? "not an object"
			      : je.text);
		json_decref(j);
		api_fail(c, 400, msg, NULL);
		return NULL;
	}
	const char *k = unknown_key(j, allowed);
	if (k) {
		char field[64];
		snprintf(field, sizeof(field), "%s", k);
		snprintf(msg, sizeof(msg), "unknown field '%.60s'", k);
		json_decref(j);
		api_fail(c, 400, msg, field);
		return NULL;
	}
	*failed = false;
	return j;
}
