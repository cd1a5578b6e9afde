/* API bearer tokens (auth.h): api.token as a bootstrap admin token, and an in-memory
 * copy of the store's active tokens, refreshed on the store thread.
 *
 * Why a copy rather than a store lookup per request: the loop never waits on the store
 * (a slow or restarting database must not stall /api/v1/hello or pile up requests), a
 * flood of requests with bad tokens costs no store work, and the copy is small (hash and
 * role per active token). The price is that a revoke takes effect at the next refresh,
 * within PP_TOKENS_REFRESH_MS plus a store round trip. The same refresh writes back when
 * each token was last used, so `token list` shows it, a few seconds late, without a
 * write per request. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/clock.h"
#include "core/secret.h"
#include "server/auth.h"
#include "server/server.h"
#include "store/store.h"
#include "prog/log.h"

struct tok_entry {
	uint8_t hash[PP_TOKEN_HASH_LEN];
	enum pp_token_role role;
	char name[PP_TOKEN_NAME_MAX + 1];
};

struct refresh_op {
	struct pp_dbq_op op; /* first: the done callback casts */
	struct pp_token_cache *c;
	/* In: hashes used since the last refresh. Out: the active tokens. */
	uint8_t (*used)[PP_TOKEN_HASH_LEN];
	size_t n_used;
	int64_t used_at;
	struct tok_entry *v;
	size_t n, cap;
};

struct pp_token_cache {
	struct pp_server *s;
	struct tok_entry *v;
	bool *used; /* parallel to v: seen since the last refresh */
	size_t n;
	struct event *timer;
	struct pp_ratelimit *rl; /* per token, keyed by pp_token_who.key */
	bool in_flight;
	bool stale_logged, fail_logged;
	uint64_t last_ok_ms;
};

static const struct {
	const char *name;
	enum pp_token_role role;
} role_table[] = {
    {"read", PP_ROLE_READ},
    {"admin", PP_ROLE_ADMIN},
    {"agent", PP_ROLE_AGENT},
};

const char *pp_token_role_name(enum pp_token_role role)
{
	for (size_t i = 0; i < sizeof(role_table) / sizeof(role_table[0]); i++)
		if (role_table[i].role == role)
			return role_table[i].name;
	return "none";
}

static enum pp_token_role role_from_name(const char *name)
{
	for (size_t i = 0; i < sizeof(role_table) / sizeof(role_table[0]); i++)
		if (strcmp(role_table[i].name, name) == 0)
			return role_table[i].role;
	return PP_ROLE_NONE;
}

bool pp_token_role_allows(enum pp_token_role have, enum pp_token_role need)
{
	if (have == PP_ROLE_NONE || need == PP_ROLE_NONE)
		return false;
	return have == PP_ROLE_ADMIN || have == need;
}

bool pp_server_role_allows(enum pp_token_role role, enum pp_api_action action)
{
	static const enum pp_token_role needs[] = {[PP_API_STATUS] = PP_ROLE_READ,
						   [PP_API_HELLO] = PP_ROLE_AGENT,
						   [PP_API_READ] = PP_ROLE_READ,
						   [PP_API_ADMIN] = PP_ROLE_ADMIN};
	return (size_t)action < sizeof(needs) / sizeof(needs[0]) &&
	       pp_token_role_allows(role, needs[action]);
}

/* Scans every entry, whatever matches, with a constant-time compare: the time taken
 * depends on the number of tokens only. */
static void cache_lookup(struct pp_token_cache *c, const uint8_t h[32], struct pp_token_who *who)
{
	size_t hit = SIZE_MAX;
	for (size_t i = 0; c && i < c->n; i++) {
		bool eq = pp_ct_eq(c->v[i].hash, h, PP_TOKEN_HASH_LEN);
		hit = eq ? i : hit;
	}
	if (hit == SIZE_MAX)
		return;
	c->used[hit] = true;
	who->role = c->v[hit].role;
	snprintf(who->name, sizeof(who->name), "%s", c->v[hit].name);
	/* The key: bits of the token's hash (not secret: the store keeps the hash). */
	who->key = (uint32_t)h[0] << 24 | (uint32_t)h[1] << 16 | (uint32_t)h[2] << 8 | h[3];
	who->key |= 1; /* 0 is api.token's */
}

int pp_server_token_who(struct pp_server *s, const char *bearer, struct pp_token_who *who)
{
	memset(who, 0, sizeof(*who));
	who->role = PP_ROLE_NONE;
	if (!bearer)
		return -PP_EPERM;
	if (pp_token_well_formed(bearer)) {
		uint8_t h[PP_TOKEN_HASH_LEN];
		if (pp_token_hash(bearer, h) == 0)
			cache_lookup(s->tokens, h, who);
		pp_wipe(h, sizeof(h));
	} else if (s->api_token[0] && pp_ct_streq(bearer, s->api_token)) {
		who->role = PP_ROLE_ADMIN;
		snprintf(who->name, sizeof(who->name), "%s", PP_API_TOKEN_NAME);
		who->key = 0;
	}
	return who->role == PP_ROLE_NONE ? -PP_EPERM : 0;
}

int pp_server_token_role(struct pp_server *s, const char *bearer, enum pp_token_role *role)
{
	struct pp_token_who who;
	int rc = pp_server_token_who(s, bearer, &who);
	*role = who.role;
	return rc;
}

bool pp_server_token_rate(struct pp_server *s, const struct pp_token_who *who,
			  uint32_t *retry_after_s)
{
	*retry_after_s = 0;
	struct pp_token_cache *c = s->tokens;
	if (!c || !c->rl || pp_ratelimit_allow(c->rl, who->key, pp_now_ms()))
		return true;
	/* One request's worth of the bucket comes back in 1/api_rate s: at most 1 s. */
	*retry_after_s = 1;
	return false;
}

/* ---- the refresh ---- */

static int collect(void *arg, const struct pp_token_entry *e)
{
	struct refresh_op *r = arg;
	if (r->n == r->cap) {
		if (r->cap >= PP_TOKENS_MAX)
			return -PP_ETOOBIG;
		size_t cap = r->cap ? r->cap * 2 : 16;
		if (cap > PP_TOKENS_MAX)
			cap = PP_TOKENS_MAX;
		struct tok_entry *nv = realloc(r->v, cap * sizeof(*nv));
		if (!nv)
			return -PP_ENOMEM;
		r->v = nv;
		r->cap = cap;
	}
	memcpy(r->v[r->n].hash, e->hash, PP_TOKEN_HASH_LEN);
	r->v[r->n].role = role_from_name(e->role);
	snprintf(r->v[r->n].name, sizeof(r->v[r->n].name), "%s", e->name);
	r->n++;
	return 0;
}

/* Store thread: record uses, then read the active set. */
static int refresh_run(struct pp_store *store, struct pp_dbq_op *op, struct pp_err *err)
{
	struct refresh_op *r = (struct refresh_op *)op;
	for (size_t i = 0; i < r->n_used; i++) {
		/* A token revoked meanwhile is not found: nothing to record. */
		int rc = pp_store_token_touch(store, r->used[i], r->used_at, err);
		if (rc < 0 && rc != -PP_ENOTFOUND)
			return rc;
	}
	pp_err_clear(err);
	int rc = pp_store_token_active(store, collect, r, err);
	if (rc == -PP_ETOOBIG)
		return pp_err_set(err, PP_ETOOBIG, "more than %d active API tokens", PP_TOKENS_MAX);
	if (rc == -PP_ENOMEM)
		return pp_err_set(err, PP_ENOMEM, "out of memory reading API tokens");
	return rc;
}

static void refresh_free(struct refresh_op *r)
{
	if (!r)
		return;
	if (r->v)
		pp_wipe(r->v, r->cap * sizeof(*r->v));
	free(r->v);
	free(r->used);
	free(r);
}

/* Puts r's set in place of the cache's (taking its memory). */
static int cache_install(struct pp_token_cache *c, struct refresh_op *r)
{
	bool *used = calloc(r->n ? r->n : 1, sizeof(bool));
	if (!used)
		return -PP_ENOMEM;
	if (c->v)
		pp_wipe(c->v, c->n * sizeof(*c->v));
	free(c->v);
	free(c->used);
	c->v = r->v;
	c->n = r->n;
	c->used = used;
	r->v = NULL;
	r->n = r->cap = 0;
	return 0;
}

static void cache_drop(struct pp_token_cache *c)
{
	if (c->v)
		pp_wipe(c->v, c->n * sizeof(*c->v));
	free(c->v);
	free(c->used);
	c->v = NULL;
	c->used = NULL;
	c->n = 0;
}

static void refresh_done(struct pp_dbq_op *op, int rc, const struct pp_err *err)
{
	struct refresh_op *r = (struct refresh_op *)op;
	struct pp_token_cache *c = r->c;
	uint64_t now = pp_now_ms();
	c->in_flight = false;
	if (rc == 0 && cache_install(c, r) == 0) {
		if (c->fail_logged || c->stale_logged)
			pp_info("auth", "API tokens read from the store again (%zu active)", c->n);
		c->last_ok_ms = now;
		c->fail_logged = c->stale_logged = false;
	} else {
		if (!c->fail_logged)
			pp_warn("auth", "cannot refresh API tokens: %s (keeping the last copy)",
				rc < 0 && err ? err->msg : "out of memory");
		c->fail_logged = true;
		c->s->m.store_errors++;
		if (now - c->last_ok_ms > PP_TOKENS_STALE_MS && c->n) {
			cache_drop(c);
			if (!c->stale_logged)
				pp_warn("auth",
					"API tokens not refreshed for %d s: only api.token "
					"is accepted until the store answers",
					PP_TOKENS_STALE_MS / 1000);
			c->stale_logged = true;
		}
	}
	refresh_free(r);
}

/* The hashes used since the last refresh, flags cleared. */
static int take_used(struct pp_token_cache *c, struct refresh_op *r)
{
	size_t k = 0;
	for (size_t i = 0; i < c->n; i++)
		k += c->used[i];
	if (!k)
		return 0;
	r->used = malloc(k * sizeof(*r->used));
	if (!r->used)
		return -PP_ENOMEM;
	for (size_t i = 0; i < c->n; i++) {
		if (!c->used[i])
			continue;
		memcpy(r->used[r->n_used++], c->v[i].hash, PP_TOKEN_HASH_LEN);
		c->used[i] = false;
	}
	r->used_at = (int64_t)time(NULL);
	return 0;
}

static void refresh_tick(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	struct pp_token_cache *c = arg;
	if (c->in_flight || c->s->stopping)
		return;
	struct refresh_op *r = calloc(1, sizeof(*r));
	if (!r || take_used(c, r) < 0) {
		refresh_free(r);
		return;
	}
	r->c = c;
	r->op.run = refresh_run;
	r->op.done = refresh_done;
	c->in_flight = true;
	pp_dbq_submit(c->s->dbq, &r->op);
}

int pp_server_tokens_start(struct pp_server *s, struct pp_err *err)
{
	struct pp_token_cache *c = calloc(1, sizeof(*c));
	struct refresh_op *r = calloc(1, sizeof(*r));
	int rc = 0;
	if (!c || !r) {
		rc = pp_err_set(err, PP_ENOMEM, "out of memory");
		goto out;
	}
	c->s = s;
	/* A table twice the tokens kept: every active token has its own bucket. */
	if (pp_ratelimit_new(s->cfg.api_rate * 60, s->cfg.api_burst, 2 * PP_TOKENS_MAX, &c->rl) <
	    0) {
		rc = pp_err_set(err, PP_ENOMEM, "cannot make the API rate limit");
		goto out;
	}
	rc = pp_store_token_active(s->store, collect, r, err);
	if (rc == -PP_ETOOBIG)
		rc = pp_err_set(err, PP_ETOOBIG, "more than %d active API tokens", PP_TOKENS_MAX);
	if (rc == 0 && cache_install(c, r) < 0)
		rc = pp_err_set(err, PP_ENOMEM, "out of memory");
	if (rc < 0)
		goto out;
	c->last_ok_ms = pp_now_ms();
	c->timer = event_new(s->base, -1, EV_PERSIST, refresh_tick, c);
	struct timeval tv = {PP_TOKENS_REFRESH_MS / 1000, (PP_TOKENS_REFRESH_MS % 1000) * 1000};
	if (!c->timer || event_add(c->timer, &tv) < 0) {
		rc = pp_err_set(err, PP_ENOMEM, "cannot arm the API token refresh");
		goto out;
	}
	s->tokens = c;
	c = NULL;
out:
	refresh_free(r);
	if (c) {
		if (c->timer)
			event_free(c->timer);
		pp_ratelimit_free(c->rl);
		cache_drop(c);
		free(c);
	}
	return rc;
}

void pp_server_tokens_stop(struct pp_server *s)
{
	if (s->tokens && s->tokens->timer) {
		event_free(s->tokens->timer);
		s->tokens->timer = NULL;
	}
}

void pp_server_tokens_free(struct pp_server *s)
{
	if (!s->tokens)
		return;
	pp_server_tokens_stop(s);
	pp_ratelimit_free(s->tokens->rl);
	cache_drop(s->tokens);
	free(s->tokens);
	s->tokens = NULL;
}
