/* The /api/v1 resources' shared parts (api.c routes to them; api_*.c hold them).
 *
 * A handler gets a struct api_call: the request, who called (the token's role and its
 * audit actor, "api:NAME"), the path's {uuid}/{id}/{name} segment and the parsed query.
 * Whatever needs the store runs on the store thread through api_store_call (the loop
 * never calls the store): the run function builds the JSON there, and the answer goes
 * out on the loop, unless the client has gone meanwhile (then it is dropped). */
#ifndef PSKPROV_SERVER_API_CALL_H
#define PSKPROV_SERVER_API_CALL_H

#include <event2/http.h>
#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>

#include "core/err.h"
#include "core/query.h"
#include "server/api.h"
#include "server/auth.h"

struct pp_store;

#define API_BODY_MAX 4096

struct api_call {
	struct pp_server *s;
	struct evhttp_request *req;
	struct pp_token_who who;
	char actor[72]; /* "api:" and the token's name */
	char arg[80];   /* the path's variable segment, "" when none */
	struct pp_query q;
};

/* What a store-thread function answers: code 0 means 200, else the status to send
 * (e.g. 202); *out the body (taken). A negative return is an error: -PP_ENOTFOUND 404,
 * -PP_ESTATE 409, -PP_EINVAL 400 (field from err->msg's parameter if set by the run),
 * anything else 503 "store: ...". */
struct api_result {
	json_t *body;
	int code;
	const char *field; /* static text: the parameter at fault on -PP_EINVAL */
	bool no_store;     /* Cache-Control: no-store (revealed secrets) */
	/* Optional: run on the loop before the answer goes out (this instance's figures). */
	int (*finish)(struct pp_server *s, json_t *body, void *ctx);
};
typedef int (*api_run_fn)(struct pp_store *st, void *ctx, struct api_result *res,
			  struct pp_err *err);

/* Runs run(ctx) on the store thread (write: first in line, else second, as reads are),
 * then answers c's request on the loop. ctx is freed with ctx_free (may be NULL) on
 * the loop, whatever happened. Takes c (freed when done). */
void api_store_call(struct api_call *c, api_run_fn run, void *ctx, void (*ctx_free)(void *),
		    bool write);

/* Errors for the call (see api.h). */
void api_fail(struct api_call *c, int code, const char *msg, const char *field);
/* The query's parameters must be among allowed: true, or a 400 naming the one at fault
 * sent (and c freed). */
bool api_query_ok(struct api_call *c, const char *const *allowed);
/* The optional search text `q` (1..PP_DEVICE_TEXT_MAX characters), copied into out (cap
 * bytes): 0 with *text NULL when absent or pointing at out; -PP_EINVAL with *field "q". */
int api_param_text(struct api_call *c, char *out, size_t cap, const char **text, const char **field,
		   struct pp_err *err);
/* A POST's JSON body: NULL for none (allowed only when may_be_empty), else the parsed
 * object with every field among allowed (NULL-terminated) and no key twice. On failure
 * sends 400/413/415 (c freed) and sets *failed. */
json_t *api_body(struct api_call *c, const char *const *allowed, bool may_be_empty, bool *failed);
void api_call_free(struct api_call *c);
/* Content-Type application/json (parameters such as charset allowed). */
bool api_json_content_type(struct evhttp_request *req);
/* The route table, one "METHOD PATH" a line ({uuid}, {id}, {name} for the variable
 * segments; "/static/{name}" for the console's files): pskprov server --print-routes. */
void pp_api_print_routes(FILE *out);

/* JSON of the store's rows: usecase/devices.h (pp_uc_device_json and kin). */

/* The handlers (api_status.c, api_devices.c, api_jobs.c, api_stock.c). */
void api_on_status(struct api_call *c);
void api_on_devices(struct api_call *c);
void api_on_device(struct api_call *c);
void api_on_credentials(struct api_call *c);
void api_on_release(struct api_call *c);
void api_on_jobs(struct api_call *c);
void api_on_job(struct api_call *c);
void api_on_retry(struct api_call *c);
void api_on_batches(struct api_call *c);
void api_on_batch(struct api_call *c);
void api_on_keys(struct api_call *c);
void api_on_keys_report(struct api_call *c);
void api_on_audit(struct api_call *c);

#endif
