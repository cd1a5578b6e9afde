/* GET /api/v1/events: Server-Sent Events (docs/api.md "GET /api/v1/events") over
 * evhttp's chunked replies. A `progress` event every second (the store's counts from
 * stock.c, this instance's sessions and rate), a `device` event when a job ends here, a
 * `: ping` comment every 15 s. At most EV_STREAMS_MAX streams. A stream is forgotten
 * the moment its connection closes (evhttp's close callback); a reader that falls
 * behind by EV_QUEUE_MAX bytes is dropped, so a slow one cannot grow memory. The
 * streams end with the last chunk when the server drains or stops. */
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/http.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/queue.h>
#include <time.h>

#include "core/clock.h"
#include "core/parse.h"
#include "core/sse.h"
#include "keys/keys.h"
#include "prog/log.h"
#include "server/api.h"
#include "server/server.h"
#include "usecase/status.h"

#define EV_STREAMS_MAX 64
#define EV_QUEUE_MAX (256u * 1024) /* bytes queued for one stream before it is dropped */
#define EV_FRAME_MAX (64u * 1024)  /* one event */
#define EV_PING_MS 15000
#define EV_WRITE_TIMEOUT_S 60 /* a reader that takes nothing for this long is gone */
#define EV_READ_MAX 4096      /* a stream's client has nothing to say: stop reading past this */

struct ev_stream {
	struct pp_events *ev;
	struct evhttp_request *req;
	struct evhttp_connection *evcon;
	uint64_t last_ping_ms;
	bool dropped; /* shut down, waiting for evhttp to close it */
	LIST_ENTRY(ev_stream) link;
};

struct pp_events {
	struct pp_server *s;
	LIST_HEAD(ev_list, ev_stream) streams;
	uint32_t n;
	struct event *tick;
	struct evbuffer *scratch; /* one chunk on its way to evhttp (drained by it) */
};

uint32_t pp_server_event_streams(const struct pp_server *s)
{
	return s->events ? s->events->n : 0;
}

double pp_server_provision_rate(struct pp_server *s)
{
	return pp_rate_per_s(&s->provision_rate, pp_now_ms());
}

/* Takes the stream out of the list; the connection no longer calls back. */
static void stream_forget(struct ev_stream *st)
{
	LIST_REMOVE(st, link);
	st->ev->n--;
	if (st->evcon)
		evhttp_connection_set_closecb(st->evcon, NULL, NULL);
	free(st);
}

/* The client went away (or evhttp closed the connection): forget the stream now. When
 * evhttp let go of the request (an end of stream or a timeout), it is ours to free. */
static void stream_closed(struct evhttp_connection *evcon, void *arg)
{
	(void)evcon;
	struct ev_stream *st = arg;
	struct evhttp_request *req = st->req;
	st->evcon = NULL;
	stream_forget(st);
	if (!evhttp_request_get_connection(req))
		evhttp_send_reply_end(req); /* no connection: frees the request */
}

/* A reader too far behind: its socket is shut down, and evhttp, seeing the write fail,
 * closes the connection through its own path (stream_closed then forgets the stream).
 * Freeing the connection here instead would close the descriptor under events libevent
 * still has queued for it. */
static void stream_drop(struct ev_stream *st)
{
	pp_warn("events", "an event stream fell %u KiB behind: dropped", EV_QUEUE_MAX / 1024);
	st->dropped = true;
	struct bufferevent *bev = evhttp_connection_get_bufferevent(st->evcon);
	evutil_socket_t fd = bufferevent_getfd(bev);
	if (fd >= 0)
		shutdown(fd, SHUT_RDWR);
}

static void stream_send(struct ev_stream *st, const struct pp_buf *frame)
{
	if (st->dropped)
		return;
	struct bufferevent *bev = evhttp_connection_get_bufferevent(st->evcon);
	size_t queued = evbuffer_get_length(bufferevent_get_output(bev));
	if (queued + frame->len > EV_QUEUE_MAX) {
		stream_drop(st);
		return;
	}
	struct evbuffer *b = st->ev->scratch;
	if (evbuffer_add(b, frame->data, frame->len) < 0)
		return;
	evhttp_send_reply_chunk(st->req, b);
	evbuffer_drain(b, evbuffer_get_length(b));
}

static void broadcast(struct pp_events *ev, const struct pp_buf *frame)
{
	struct ev_stream *st = LIST_FIRST(&ev->streams), *next;
	for (; st; st = next) {
		next = LIST_NEXT(st, link);
		stream_send(st, frame);
	}
}

/* Frames the JSON value (taken) as one event named name into b (initialized here; the
 * caller frees it): 0, or -1 when it could not be made. */
static int frame_json(struct pp_buf *b, const char *name, json_t *v)
{
	char *text = v ? json_dumps(v, JSON_COMPACT) : NULL;
	json_decref(v);
	pp_buf_init(b, EV_FRAME_MAX);
	int rc = text && pp_sse_event(b, name, text, strlen(text)) == 0 ? 0 : -1;
	free(text);
	return rc;
}

/* Frames the JSON value (taken) as one event to every stream. */
static void broadcast_json(struct pp_events *ev, const char *name, json_t *v)
{
	struct pp_buf b;
	if (frame_json(&b, name, v) == 0)
		broadcast(ev, &b);
	pp_buf_free(&b);
}

/* ---- what the events say ---- */

static json_t *progress_json(struct pp_server *s)
{
	const struct pp_stock_snapshot *snap = pp_server_stock(s);
	json_t *v = json_pack(
	    "{s:o,s:o,s:I,s:f,s:I}", "devices",
	    snap ? pp_uc_device_counts_json(snap->counts.devices_by_state, true) : json_null(),
	    "jobs", snap ? pp_uc_job_counts_json(snap->counts.jobs_by_state, true) : json_null(),
	    "sessions_active", (json_int_t)s->m.sessions_active, "provisioned_per_s",
	    pp_server_provision_rate(s), "time", (json_int_t)time(NULL));
	return v;
}

void pp_server_device_event(struct pp_server *s, const struct pp_job *job, const char *host_name,
			    const char *state, const char *reason)
{
	if (strcmp(state, "provisioned") == 0)
		pp_rate_add(&s->provision_rate, pp_now_ms(), 1);
	if (!s->events || !s->events->n)
		return;
	char uuid[37], addr[16], pid[PP_PID_TEXT];
	pp_uuid_format(job->uuid, uuid);
	snprintf(addr, sizeof(addr), "%u.%u.%u.%u", job->addr[0], job->addr[1], job->addr[2],
		 job->addr[3]);
	broadcast_json(s->events, "device",
		       json_pack("{s:s,s:s,s:s,s:s,s:s,s:s,s:I}", "uuid", uuid, "pid",
				 pp_pid_text(job->pid, pid), "address", addr, "host_name",
				 host_name ? host_name : "", "state", state, "reason",
				 reason ? reason : "", "time", (json_int_t)time(NULL)));
}

/* ---- the streams ---- */

static void end_all(struct pp_events *ev)
{
	struct ev_stream *st;
	while ((st = LIST_FIRST(&ev->streams))) {
		struct evhttp_request *req = st->req;
		stream_forget(st);
		evhttp_send_reply_end(req);
	}
}

static void ping(struct pp_events *ev, uint64_t now)
{
	struct pp_buf b;
	pp_buf_init(&b, 64);
	if (pp_sse_comment(&b, "ping") < 0)
		goto out;
	struct ev_stream *st = LIST_FIRST(&ev->streams), *next;
	for (; st; st = next) {
		next = LIST_NEXT(st, link);
		if (now - st->last_ping_ms < EV_PING_MS)
			continue;
		st->last_ping_ms = now;
		stream_send(st, &b);
	}
out:
	pp_buf_free(&b);
}

static void events_tick(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	struct pp_events *ev = arg;
	if (!ev->n)
		return;
	if (ev->s->stopping) {
		pp_info("events", "draining: %u event streams ended", ev->n);
		end_all(ev);
		return;
	}
	broadcast_json(ev, "progress", progress_json(ev->s));
	ping(ev, pp_now_ms());
}

static void refuse(struct pp_server *s, struct evhttp_request *req, const char *msg)
{
	evhttp_add_header(evhttp_request_get_output_headers(req), "Retry-After", "5");
	pp_api_error(s, req, 503, "Service Unavailable", msg);
}

/* The stream's connection: no read timeout (the client says nothing more), a write
 * timeout for a reader that stopped taking bytes, and a cap on what it may send us. */
static void stream_connection(struct ev_stream *st)
{
	struct bufferevent *bev = evhttp_connection_get_bufferevent(st->evcon);
	struct timeval wt = {EV_WRITE_TIMEOUT_S, 0};
	bufferevent_set_timeouts(bev, NULL, &wt);
	bufferevent_setwatermark(bev, EV_READ, 0, EV_READ_MAX);
	evhttp_connection_set_closecb(st->evcon, stream_closed, st);
}

void pp_api_on_events(struct evhttp_request *req, void *arg)
{
	struct pp_server *s = arg;
	s->m.api_requests++;
	if (!pp_api_authorized(s, req, PP_API_READ))
		return;
	struct pp_events *ev = s->events;
	struct evhttp_connection *evcon = evhttp_request_get_connection(req);
	if (!ev || s->stopping || !evcon) {
		refuse(s, req, "the server is stopping");
		return;
	}
	if (ev->n >= EV_STREAMS_MAX) {
		refuse(s, req, "too many event streams open (64): try again later");
		return;
	}
	struct ev_stream *st = calloc(1, sizeof(*st));
	if (!st) {
		pp_api_error(s, req, 500, "Internal Server Error", "out of memory");
		return;
	}
	st->ev = ev;
	st->req = req;
	st->evcon = evcon;
	st->last_ping_ms = pp_now_ms();
	LIST_INSERT_HEAD(&ev->streams, st, link);
	ev->n++;
	struct evkeyvalq *h = evhttp_request_get_output_headers(req);
	evhttp_add_header(h, "Content-Type", "text/event-stream");
	evhttp_add_header(h, "Cache-Control", "no-store");
	evhttp_add_header(h, "Connection", "close");
	evhttp_send_reply_start(req, HTTP_OK, "OK");
	stream_connection(st);
	pp_debug("events", "event stream opened (%u open)", ev->n);
	/* The first progress at once, from the last counts; fresher ones follow. */
	struct pp_buf b;
	if (frame_json(&b, "progress", progress_json(s)) == 0)
		stream_send(st, &b);
	pp_buf_free(&b);
	pp_server_stock_kick(s);
}

int pp_server_events_start(struct pp_server *s, struct pp_err *err)
{
	pp_rate_init(&s->provision_rate);
	struct pp_events *ev = calloc(1, sizeof(*ev));
	if (!ev)
		return pp_err_set(err, PP_ENOMEM, "cannot start the event streams");
	s->events = ev;
	ev->s = s;
	LIST_INIT(&ev->streams);
	ev->scratch = evbuffer_new();
	ev->tick = event_new(s->base, -1, EV_PERSIST, events_tick, ev);
	struct timeval tv = {1, 0};
	if (!ev->scratch || !ev->tick || event_add(ev->tick, &tv) < 0)
		return pp_err_set(err, PP_ENOMEM, "cannot start the event streams' timer");
	return 0;
}

/* After the loop: the streams' last chunk goes out now (non-blocking, best effort),
 * since the loop will not run again to write it; evhttp_free then closes them. */
static void end_now(struct ev_stream *st)
{
	struct evkeyvalq *h = evhttp_request_get_output_headers(st->req);
	const char *te = evhttp_find_header(h, "Transfer-Encoding");
	struct bufferevent *bev = evhttp_connection_get_bufferevent(st->evcon);
	struct evbuffer *out = bufferevent_get_output(bev);
	stream_forget(st);
	if (te && strcmp(te, "chunked") == 0)
		evbuffer_add(out, "0\r\n\r\n", 5); /* RFC 9112 section 7.1: the last chunk */
	/* A socket bufferevent freezes its output's front for its own writes: thaw it for
	 * this last one. */
	evbuffer_unfreeze(out, 1);
	evbuffer_write(out, bufferevent_getfd(bev));
	evbuffer_freeze(out, 1);
}

void pp_server_events_stop(struct pp_server *s)
{
	struct pp_events *ev = s->events;
	if (!ev)
		return;
	if (ev->n)
		pp_info("events", "stopping: %u event streams ended", ev->n);
	struct ev_stream *st;
	while ((st = LIST_FIRST(&ev->streams)))
		end_now(st);
	if (ev->tick)
		event_free(ev->tick);
	if (ev->scratch)
		evbuffer_free(ev->scratch);
	free(ev);
	s->events = NULL;
}
