/* API tokens (store.h): drawing, hashing, checking; the backends move the rows.
 *
 * Why SHA-256 and not a slow password hash: a token is 256 bits drawn from the CSPRNG,
 * not something a person chose. Nobody can guess one or search for it from its hash,
 * however fast the hash is; a slow hash (scrypt, Argon2) only buys time against
 * guessing a low-entropy secret. A fast hash lets a server check a bearer token on every
 * request without spending CPU an attacker could make it burn. */
#include "store/store_impl.h"

#include <openssl/evp.h>
#include <string.h>
#include <time.h>

#include "core/parse.h"
#include "core/secret.h"

#define PREFIX_LEN (sizeof(PP_TOKEN_PREFIX) - 1)
#define RAW_LEN 32

/* A token's random bytes: wiped on every path out of draw(). */
struct token_raw {
	uint8_t b[RAW_LEN];
};
PP_STORE_WIPER(wipe_token_raw, struct token_raw)

static const char *const role_names[] = {"read", "admin", "agent"};

bool pp_token_name_valid(const char *name)
{
	return pp_store_word_valid(name, PP_TOKEN_NAME_MAX);
}

bool pp_token_role_valid(const char *role)
{
	if (!role)
		return false;
	for (size_t i = 0; i < sizeof(role_names) / sizeof(role_names[0]); i++)
		if (strcmp(role, role_names[i]) == 0)
			return true;
	return false;
}

bool pp_token_well_formed(const char *token)
{
	if (!token || strncmp(token, PP_TOKEN_PREFIX, PREFIX_LEN) != 0)
		return false;
	if (strnlen(token, PP_TOKEN_TEXT_LEN + 1) != PP_TOKEN_TEXT_LEN)
		return false;
	for (size_t i = PREFIX_LEN; i < PP_TOKEN_TEXT_LEN; i++) {
		char c = token[i];
		if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')))
			return false;
	}
	return true;
}

int pp_token_hash(const char *token, uint8_t out[PP_TOKEN_HASH_LEN])
{
	if (!pp_token_well_formed(token))
		return -PP_EINVAL;
	unsigned int n = 0;
	if (EVP_Digest(token, PP_TOKEN_TEXT_LEN, out, &n, EVP_sha256(), NULL) != 1 ||
	    n != PP_TOKEN_HASH_LEN)
		return -PP_ECRYPTO;
	return 0;
}

static int check_name(const char *name, struct pp_err *err)
{
	if (!pp_token_name_valid(name))
		return pp_err_set(err, PP_EINVAL,
				  "token name must be 1..%d characters of A-Z a-z 0-9 . _ -",
				  PP_TOKEN_NAME_MAX);
	return 0;
}

/* Draws a token and its hash (hex); the caller wipes token. */
static int draw(char token[PP_TOKEN_TEXT_LEN + 1], char hash_hex[2 * PP_TOKEN_HASH_LEN + 1],
		struct pp_err *err)
{
	pp_cleanup(wipe_token_raw) struct token_raw raw;
	uint8_t h[PP_TOKEN_HASH_LEN];
	if (pp_random(raw.b, sizeof(raw.b)) < 0)
		return pp_err_set(err, PP_ECRYPTO, "cannot draw a token");
	memcpy(token, PP_TOKEN_PREFIX, PREFIX_LEN);
	pp_hex(raw.b, sizeof(raw.b), token + PREFIX_LEN);
	if (pp_token_hash(token, h) < 0) {
		pp_wipe(token, PP_TOKEN_TEXT_LEN + 1);
		return pp_err_set(err, PP_ECRYPTO, "SHA-256 failed");
	}
	pp_hex(h, sizeof(h), hash_hex);
	return 0;
}

int pp_store_token_create(struct pp_store *s, const char *name, const char *role, const char *actor,
			  char token[PP_TOKEN_TEXT_LEN + 1], struct pp_err *err)
{
	char hash_hex[2 * PP_TOKEN_HASH_LEN + 1];
	int rc = check_name(name, err);
	if (rc < 0)
		return rc;
	if (!pp_token_role_valid(role))
		return pp_err_set(err, PP_EINVAL, "token role must be read, admin or agent");
	if (!token)
		return pp_err_set(err, PP_EINVAL, "token: no output buffer");
	if ((rc = draw(token, hash_hex, err)) < 0)
		return rc;
	struct pp_store_atomic a;
	if ((rc = pp_store_atomic_begin(s, &a, err)) < 0)
		goto out;
	int64_t now = (int64_t)time(NULL);
	rc = s->ops->token_insert(s, name, role, hash_hex, now, err);
	if (rc == -PP_EEXIST)
		rc = pp_err_set(err, PP_EEXIST, "a token named '%s' already exists", name);
	if (rc == 0)
		rc = pp_store_audit_at(s, now, actor, "token.create", name, role, err);
	rc = pp_store_atomic_end(s, &a, rc, err);
out:
	if (rc < 0)
		pp_wipe(token, PP_TOKEN_TEXT_LEN + 1);
	return rc;
}

struct role_ctx {
	const char *name;
	char role[PP_TOKEN_ROLE_MAX];
	bool found;
};

static int find_role(void *arg, const struct pp_token_info *t, const char *hash_hex)
{
	(void)hash_hex;
	struct role_ctx *c = arg;
	if (strcmp(t->name, c->name) != 0)
		return 0;
	memcpy(c->role, t->role, sizeof(c->role));
	c->found = true;
	return 1;
}

int pp_store_token_revoke(struct pp_store *s, const char *name, const char *actor,
			  struct pp_err *err)
{
	int rc = check_name(name, err);
	if (rc < 0)
		return rc;
	struct pp_store_atomic a;
	if ((rc = pp_store_atomic_begin(s, &a, err)) < 0)
		return rc;
	/* The role, for the audit entry. */
	struct role_ctx c = {.name = name};
	rc = s->ops->token_list(s, false, find_role, &c, err);
	int64_t now = (int64_t)time(NULL);
	if (rc == 0)
		rc = s->ops->token_revoke(s, name, now, err);
	if (rc == -PP_ENOTFOUND || (rc == 0 && !c.found))
		rc = pp_err_set(err, PP_ENOTFOUND, "no active token named '%s'", name);
	if (rc == 0)
		rc = pp_store_audit_at(s, now, actor, "token.revoke", name, c.role, err);
	return pp_store_atomic_end(s, &a, rc, err);
}

struct list_ctx {
	int (*cb)(void *, const struct pp_token_info *);
	void *ctx;
};

static int list_one(void *arg, const struct pp_token_info *t, const char *hash_hex)
{
	(void)hash_hex;
	struct list_ctx *c = arg;
	return c->cb(c->ctx, t);
}

int pp_store_token_list(struct pp_store *s, bool all,
			int (*cb)(void *ctx, const struct pp_token_info *), void *ctx,
			struct pp_err *err)
{
	struct list_ctx c = {cb, ctx};
	return s->ops->token_list(s, all, list_one, &c, err);
}

struct active_ctx {
	int (*cb)(void *, const struct pp_token_entry *);
	void *ctx;
	bool malformed;
};

static int active_one(void *arg, const struct pp_token_info *t, const char *hash_hex)
{
	struct active_ctx *c = arg;
	struct pp_token_entry e;
	memcpy(e.role, t->role, sizeof(e.role));
	memcpy(e.name, t->name, sizeof(e.name));
	if (!hash_hex || pp_unhex(hash_hex, e.hash, sizeof(e.hash)) < 0 ||
	    !pp_token_role_valid(e.role)) {
		c->malformed = true;
		return -PP_ESTORE;
	}
	return c->cb(c->ctx, &e);
}

int pp_store_token_active(struct pp_store *s, int (*cb)(void *ctx, const struct pp_token_entry *),
			  void *ctx, struct pp_err *err)
{
	struct active_ctx c = {cb, ctx, false};
	int rc = s->ops->token_list(s, false, active_one, &c, err);
	if (c.malformed)
		return pp_err_set(err, PP_ESTORE, "store: a token row is malformed");
	return rc;
}

int pp_store_token_touch(struct pp_store *s, const uint8_t hash[PP_TOKEN_HASH_LEN], int64_t when,
			 struct pp_err *err)
{
	char hex[2 * PP_TOKEN_HASH_LEN + 1];
	if (!hash)
		return pp_err_set(err, PP_EINVAL, "token: no hash");
	pp_hex(hash, PP_TOKEN_HASH_LEN, hex);
	int rc = s->ops->token_touch(s, hex, when, err);
	if (rc == -PP_ENOTFOUND)
		return pp_err_set(err, PP_ENOTFOUND, "no active token with that hash");
	return rc;
}
