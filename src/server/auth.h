/* Who may call the server's HTTP API: bearer tokens and their roles.
 *
 *   read   the GET endpoints (/api/v1/status and the read-only API)
 *   admin  everything
 *   agent  POST /api/v1/hello only (a host agent reporting its device)
 *
 * Tokens come from the store (`pskprov token create`), and api.token in the data
 * directory is a bootstrap admin token (made by the first server start; `pskprov init`
 * and existing scripts keep working with it). The server keeps an in-memory copy of the
 * active tokens' hashes and roles, refreshed from the store every few seconds on the
 * store thread: a request never waits on the store, several instances sharing one
 * PostgreSQL database see the same tokens, and a revoked token is refused within
 * seconds. */
#ifndef PSKPROV_SERVER_AUTH_H
#define PSKPROV_SERVER_AUTH_H

#include <stdbool.h>
#include <stdint.h>

#include "core/err.h"

enum pp_token_role { PP_ROLE_NONE, PP_ROLE_READ, PP_ROLE_ADMIN, PP_ROLE_AGENT };

struct pp_server;

/* How often the copy is refreshed, and how long it may go without a refresh that
 * succeeded before the store's tokens are dropped (fail closed: a token revoked while
 * the store was unreachable must not live on; api.token keeps working). */
#define PP_TOKENS_REFRESH_MS 2000
#define PP_TOKENS_STALE_MS 60000
/* Active tokens kept; more is a refresh error (the last copy stays). */
#define PP_TOKENS_MAX 4096

/* The role of a bearer token (the text after "Bearer "): 0 with *role set when it is
 * api.token or an active token of the store; -PP_EPERM with *role = PP_ROLE_NONE
 * otherwise (missing, malformed, unknown or revoked). Constant time in the token. Loop
 * thread only. */
int pp_server_token_role(struct pp_server *s, const char *bearer, enum pp_token_role *role);

/* Who a bearer token is: its role, its name (the audit actor is "api:" and the name;
 * api.token is named "api.token") and a 32-bit key for its rate limit. */
#define PP_API_TOKEN_NAME "api.token"
struct pp_token_who {
	enum pp_token_role role;
	char name[65]; /* PP_TOKEN_NAME_MAX + 1 */
	uint32_t key;
};
/* pp_server_token_role, with the name and key: 0, or -PP_EPERM with who->role NONE. */
int pp_server_token_who(struct pp_server *s, const char *bearer, struct pp_token_who *who);
/* Takes one request from the token's bucket (api_rate a second, bursts of api_burst):
 * true when it may go on; else false with *retry_after_s, the seconds to wait (>= 1). */
bool pp_server_token_rate(struct pp_server *s, const struct pp_token_who *who,
			  uint32_t *retry_after_s);
/* True when a caller with role `have` may do what needs `need` (admin may do all). */
bool pp_token_role_allows(enum pp_token_role have, enum pp_token_role need);
const char *pp_token_role_name(enum pp_token_role role);

/* Loads the tokens from s->store on the calling thread (before the store thread starts)
 * and arms the refresh timer on s->base. */
int pp_server_tokens_start(struct pp_server *s, struct pp_err *err) PP_WUR;
/* Stops the timer; the last refresh in flight (if any) is delivered by pp_dbq_stop,
 * so call this before it and pp_server_tokens_free after it. */
void pp_server_tokens_stop(struct pp_server *s);
void pp_server_tokens_free(struct pp_server *s);

#endif
