/* The HTTP API's shared parts (docs/api.md is the contract; docs/api/openapi.json its
 * machine-readable form). api.c owns the route table, errors and authorization; the
 * handlers live in files of their own and use only what this header gives:
 *   api.c         routing, JSON errors, bearer tokens, per-token rate limit
 *   api_*.c       the /api/v1 resources (store reads and admin actions on the store
 *                 thread, answered on the loop)
 *   events.c      GET /api/v1/events (Server-Sent Events) and what feeds it
 *   metrics.c     GET /metrics, with the store's gauges (stock.c keeps them fresh)
 *   web.c         the web console's embedded files (GET /, /static/...) */
#ifndef PSKPROV_SERVER_API_H
#define PSKPROV_SERVER_API_H

#include <event2/http.h>
#include <jansson.h>
#include <stdbool.h>

#include "server/server.h"

/* evhttp_send_reply, but a HEAD gets the body's length and no body (evhttp would send
 * the body it is given whatever the method). body may be NULL. */
void pp_api_send(struct evhttp_request *req, int code, const char *reason, struct evbuffer *body);
/* Sends v (taken; NULL sends an empty body) as application/json with the status. */
void pp_api_reply_json(struct evhttp_request *req, int code, const char *reason, json_t *v);
/* {"error": msg[, "field": field]} with the status, counted as rejected; 400 and 405
 * close the connection. msg never holds a secret. */
void pp_api_field_error(struct pp_server *s, struct evhttp_request *req, int code,
			const char *reason, const char *msg, const char *field);
void pp_api_error(struct pp_server *s, struct evhttp_request *req, int code, const char *reason,
		  const char *msg);
/* The caller's bearer token allows the action: true, or 401/403 sent. */
bool pp_api_authorized(struct pp_server *s, struct evhttp_request *req, enum pp_api_action act);

/* Route handlers that live outside api.c (arg is the struct pp_server). */
void pp_api_on_metrics(struct evhttp_request *req, void *arg); /* metrics.c */
void pp_api_on_page(struct evhttp_request *req, void *arg);    /* web.c */
/* web.c: GET /api/v1/openapi.json, the document embedded at build time. */
void pp_api_on_openapi(struct evhttp_request *req, void *arg);
/* web.c: GET /static/<name>: true when it answered (the file, or a JSON 404). */
bool pp_web_serve(struct pp_server *s, struct evhttp_request *req, const char *path);
/* events.c: GET /api/v1/events (Server-Sent Events). */
void pp_api_on_events(struct evhttp_request *req, void *arg);
/* events.c: devices provisioned per second here, over the last 10 s. */
double pp_server_provision_rate(struct pp_server *s);

/* API connections open now (forgets those evhttp closed). */
uint32_t pp_server_api_conns(struct pp_server *s);

#endif
