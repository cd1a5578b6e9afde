/* The agent's side of the server's API: the server's URL, one bounded POST of the
 * hello, the API token read from its file, the reply's error text. */
#ifndef PSKPROV_AGENT_HTTP_H
#define PSKPROV_AGENT_HTTP_H

#include <stdbool.h>
#include <stddef.h>

#include "agent/cmd_agent.h"
#include "core/address.h"
#include "core/err.h"
#include "store/store.h"

struct pp_agent_http_result {
	struct event_base *base;
	bool done; /* the request finished (with or without a response) */
	int code;  /* HTTP status; 0 when there was none */
	int error; /* enum evhttp_request_error, -1 when none */
	char reason[64];
	char body[PP_AGENT_REPLY_MAX + 1];
	size_t body_len;
};

/* --server: [http://]IPV4[:PORT][/PATH] on loopback or 0.0.0.0; the port defaults to
 * the API's, the path to /api/v1/hello. */
int pp_agent_parse_url(const char *s, struct pp_address *u, struct pp_err *err) PP_WUR;
/* One POST with the token as a bearer, bounded by timeout_s; h gets the answer. */
int pp_agent_http_post(const struct pp_address *u, const char *body, const char *token,
		       unsigned timeout_s, struct pp_agent_http_result *h,
		       struct pp_err *err) PP_WUR;
/* What an enum evhttp_request_error means, in words. */
const char *pp_agent_http_error_name(int e);
/* The token: the first line of a file only its owner may read; never from argv. */
int pp_agent_read_token_file(const char *path, char out[PP_TOKEN_TEXT_LEN + 1],
			     struct pp_err *err) PP_WUR;
void pp_agent_token_wipe(char (*t)[PP_TOKEN_TEXT_LEN + 1]);
/* The "error" of the server's JSON reply, printable and short. */
void pp_agent_reply_error_text(const struct pp_agent_http_result *h, char *out, size_t cap);

#endif
