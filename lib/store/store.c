/* The generic half of the store: validation, sealing, the key state table and the
 * audit chain. Backends (sqlite.c) only move rows; see store_impl.h. */
#include "store/store_impl.h"

#include "core/parse.h"
#include "core/secret.h"

#include <limits.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

/* ---- key states ---- */

static const char *const key_state_names[PP_KEY_STATE_MAX] = {
    [PP_KEY_AVAILABLE] = "available", [PP_KEY_EXPORTED] = "exported", [PP_KEY_IN_USE] = "in-use",
    [PP_KEY_CONSUMED] = "consumed",   [PP_KEY_REVOKED] = "revoked",   [PP_KEY_EXPIRED] = "expired",
};

/* docs/architecture.md "Key states": allowed[from][to]. consumed, revoked and expired are final. */
static const bool key_transitions[PP_KEY_STATE_MAX][PP_KEY_STATE_MAX] = {
    [PP_KEY_AVAILABLE] =
	{[PP_KEY_EXPORTED] = true, [PP_KEY_REVOKED] = true, [PP_KEY_EXPIRED] = true},
    [PP_KEY_EXPORTED] = {[PP_KEY_IN_USE] = true, [PP_KEY_REVOKED] = true, [PP_KEY_EXPIRED] = true},
    [PP_KEY_IN_USE] = {[PP_KEY_CONSUMED] = true, [PP_KEY_REVOKED] = true},
};

const char *pp_key_state_name(enum pp_key_state st)
{
	if ((unsigned)st >= PP_KEY_STATE_MAX)
		return "?";
	return key_state_names[st];
}

int pp_key_state_parse(const char *s, enum pp_key_state *out, struct pp_err *err)
{
	for (int i = 0; s && i < PP_KEY_STATE_MAX; i++) {
		if (strcmp(s, key_state_names[i]) == 0) {
			*out = (enum pp_key_state)i;
			return 0;
		}
	}
	return pp_err_set(err, PP_EINVAL,
			  "unknown key state '%.32s' (available, exported, in-use, consumed, "
			  "revoked, expired)",
			  s ? s : "");
}

bool pp_key_transition_allowed(enum pp_key_state from, enum pp_key_state to)
{
	if ((unsigned)from >= PP_KEY_STATE_MAX || (unsigned)to >= PP_KEY_STATE_MAX)
		return false;
	return key_transitions[from][to];
}

/* ---- validation ---- */

bool pp_store_word_valid(const char *name, size_t max)
{
	if (!name)
		return false;
	size_t n = strnlen(name, max + 1);
	if (n == 0 || n > max)
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = name[i];
		if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
		      c == '.' || c == '_' || c == '-'))
			return false;
	}
	return true;
}

bool pp_batch_name_valid(const char *name)
{
	return pp_store_word_valid(name, PP_BATCH_NAME_MAX);
}

static int check_batch_name(const char *name, struct pp_err *err)
{
	if (!pp_batch_name_valid(name))
		return pp_err_set(err, PP_EINVAL,
				  "batch name must be 1..%d characters of A-Z a-z 0-9 . _ -",
				  PP_BATCH_NAME_MAX);
	return 0;
}

/* The store keeps PIDs canonical: what pp_pid_parse gives back, unchanged. */
int pp_store_check_pid(const char *pid, struct pp_err *err)
{
	struct pp_pid p;
	if (!pid)
		return pp_err_set(err, PP_EINVAL, "no PID");
	int rc = pp_pid_parse(pid, &p, err);
	if (rc < 0)
		return rc;
	if (strcmp(p.s, pid) != 0)
		return pp_err_set(err, PP_EINVAL,
				  "PID '%.16s' is not canonical (8 upper-case symbols, no dash)",
				  pid);
	return 0;
}

static bool is_key_symbol(char c)
{
	return (c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z');
}

/* Shape only (its checksums are keys' business); never quotes the value. */
int pp_store_check_pps(const char *pps, struct pp_err *err)
{
	if (!pps)
		return pp_err_set(err, PP_EINVAL, "no PPS");
	if (strnlen(pps, PP_PPS_LEN + 1) != PP_PPS_LEN)
		return pp_err_set(err, PP_EINVAL, "PPS must be %d symbols with no dashes",
				  PP_PPS_LEN);
	for (size_t i = 0; i < PP_PPS_LEN; i++)
		if (!is_key_symbol(pps[i]))
			return pp_err_set(err, PP_EINVAL,
					  "PPS symbol %zu is not 0-9 or A-Z (canonical form)",
					  i + 1);
	return 0;
}

int pp_store_check_mebx(const char *pw, struct pp_err *err)
{
	if (!pw)
		return pp_err_set(err, PP_EINVAL, "no MEBx password");
	size_t n = strnlen(pw, PP_STORE_MEBX_MAX + 1);
	if (n == 0 || n > PP_STORE_MEBX_MAX)
		return pp_err_set(err, PP_EINVAL, "MEBx password must be 1..%d characters",
				  PP_STORE_MEBX_MAX);
	for (size_t i = 0; i < n; i++)
		if (pw[i] < 0x21 || pw[i] > 0x7e)
			return pp_err_set(err, PP_EINVAL,
					  "MEBx password character %zu is not printable ASCII",
					  i + 1);
	return 0;
}

size_t pp_store_utf8_len(const unsigned char *p, size_t avail)
{
	unsigned char c = p[0];
	size_t n;
	unsigned char lo = 0x80, hi = 0xBF; /* range of the second byte */
	if (c < 0x80)
		return 1;
	if (c >= 0xC2 && c <= 0xDF)
		n = 2;
	else if (c >= 0xE0 && c <= 0xEF) {
		n = 3;
		if (c == 0xE0)
			lo = 0xA0; /* no overlong forms */
		else if (c == 0xED)
			hi = 0x9F; /* no surrogates */
	} else if (c >= 0xF0 && c <= 0xF4) {
		n = 4;
		if (c == 0xF0)
			lo = 0x90;
		else if (c == 0xF4)
			hi = 0x8F; /* nothing above U+10FFFF */
	} else
		return 0;
	if (avail < n || p[1] < lo || p[1] > hi)
		return 0;
	for (size_t i = 2; i < n; i++)
		if ((p[i] & 0xC0) != 0x80)
			return 0;
	return n;
}

static int check_text(const char *s, size_t max, bool required, const char *what,
		      struct pp_err *err)
{
	if (!s) {
		if (required)
			return pp_err_set(err, PP_EINVAL, "audit %s is missing", what);
		return 0;
	}
	size_t n = strnlen(s, max + 1);
	if (n > max || (required && n == 0))
		return pp_err_set(err, PP_EINVAL, "audit %s must be %s..%zu bytes", what,
				  required ? "1" : "0", max);
	for (size_t i = 0; i < n;) {
		unsigned char c = (unsigned char)s[i];
		if (c < 0x20 || c == 0x7f)
			return pp_err_set(err, PP_EINVAL,
					  "audit %s has a control character at byte %zu", what,
					  i + 1);
		size_t l = pp_store_utf8_len((const unsigned char *)s + i, n - i);
		if (l == 0)
			return pp_err_set(err, PP_EINVAL, "audit %s is not UTF-8 at byte %zu", what,
					  i + 1);
		i += l;
	}
	return 0;
}

static int64_t now_s(void)
{
	return (int64_t)time(NULL);
}

/* ---- base ---- */

int pp_store_init_base(struct pp_store *s, const struct pp_store_ops *ops,
		       const struct pp_master_key *mk, struct pp_err *err)
{
	s->ops = ops;
	s->batch_cached = false;
	return pp_sealer_new(mk, &s->sealer, err);
}

void pp_store_fini_base(struct pp_store *s)
{
	pp_sealer_free(s->sealer);
	s->sealer = NULL;
	s->batch_cached = false;
}

void pp_store_forget_cache(struct pp_store *s)
{
	s->batch_cached = false;
}

void pp_store_close(struct pp_store *s)
{
	if (s)
		s->ops->close(s);
}

const char *pp_store_backend(const struct pp_store *s)
{
	return s->ops->name;
}

int pp_store_begin(struct pp_store *s, struct pp_err *err)
{
	int rc = s->ops->begin(s, err);
	if (rc == 0)
		s->savepoints = 0;
	return rc;
}

int pp_store_commit(struct pp_store *s, struct pp_err *err)
{
	int rc = s->ops->commit(s, err);
	if (rc < 0)
		pp_store_forget_cache(s);
	if (!s->ops->in_transaction(s))
		s->savepoints = 0;
	return rc;
}

int pp_store_rollback(struct pp_store *s, struct pp_err *err)
{
	/* A batch created in the transaction is gone and its id may come back. */
	pp_store_forget_cache(s);
	int rc = s->ops->rollback(s, err);
	if (!s->ops->in_transaction(s))
		s->savepoints = 0;
	return rc;
}

void pp_store_rollback_quiet(struct pp_store *s)
{
	struct pp_err ignored = {0};
	if (s && pp_store_rollback(s, &ignored) < 0) {
		/* The caller reports the first error; a failed rollback ends with the
		 * connection, which rolls back. */
	}
}

int pp_store_savepoint(struct pp_store *s, struct pp_err *err)
{
	if (!s->ops->in_transaction(s))
		return pp_err_set(err, PP_ESTATE, "store: a savepoint needs an open transaction");
	if (s->savepoints == UINT_MAX)
		return pp_err_set(err, PP_ETOOBIG, "store: too many savepoints");
	int rc = s->ops->savepoint(s, PP_SP_BEGIN, err);
	if (rc == 0)
		s->savepoints++;
	return rc;
}

static int savepoint_end(struct pp_store *s, enum pp_savepoint_op op, struct pp_err *err)
{
	if (!s->ops->in_transaction(s)) {
		s->savepoints = 0;
		return pp_err_set(err, PP_ESTATE, "store: no transaction open");
	}
	if (s->savepoints == 0)
		return pp_err_set(err, PP_ESTATE, "store: no savepoint open");
	if (op == PP_SP_ROLLBACK)
		pp_store_forget_cache(s);
	int rc = s->ops->savepoint(s, op, err);
	if (rc == 0)
		s->savepoints--;
	return rc;
}

int pp_store_savepoint_release(struct pp_store *s, struct pp_err *err)
{
	return savepoint_end(s, PP_SP_RELEASE, err);
}

int pp_store_savepoint_rollback(struct pp_store *s, struct pp_err *err)
{
	return savepoint_end(s, PP_SP_ROLLBACK, err);
}

int pp_store_atomic_begin(struct pp_store *s, struct pp_store_atomic *a, struct pp_err *err)
{
	a->own = !s->ops->in_transaction(s);
	if (a->own)
		return s->ops->begin(s, err);
	return s->ops->savepoint(s, PP_SP_BEGIN, err);
}

int pp_store_atomic_end(struct pp_store *s, struct pp_store_atomic *a, int rc, struct pp_err *err)
{
	if (rc >= 0) {
		int c = a->own ? s->ops->commit(s, err) : s->ops->savepoint(s, PP_SP_RELEASE, err);
		if (c == 0)
			return rc;
		rc = c;
	}
	/* Undo without touching err: it names what failed. A database that rolled the
	 * whole transaction back by itself (SQLite on I/O errors) has nothing left. */
	pp_store_forget_cache(s);
	if (s->ops->in_transaction(s)) {
		if (a->own)
			(void)s->ops->rollback(s, NULL);
		else
			(void)s->ops->savepoint(s, PP_SP_ROLLBACK, NULL);
	}
	if (!s->ops->in_transaction(s))
		s->savepoints = 0;
	return rc;
}

/* ---- batches ---- */

static int batch_subject(const char *name, char *out, size_t cap)
{
	int n = snprintf(out, cap, "batch:%s", name);
	return n < 0 || (size_t)n >= cap ? -PP_EINVAL : 0;
}

int pp_store_batch_create(struct pp_store *s, const struct pp_batch_new *b, int64_t *id,
			  struct pp_err *err)
{
	struct pp_sealed_small sealed = {.len = 0};
	int rc = check_batch_name(b->name, err);
	if (rc < 0)
		return rc;
	if (b->derived) {
		if (!b->secret || b->secret_len != PP_BATCH_SECRET_LEN)
			return pp_err_set(err, PP_EINVAL,
					  "batch '%s': a derived batch needs a %d-byte secret",
					  b->name, PP_BATCH_SECRET_LEN);
		char subject[PP_BATCH_NAME_MAX + 8];
		if (batch_subject(b->name, subject, sizeof(subject)) < 0)
			return pp_err_set(err, PP_EINVAL, "batch name too long");
		rc = pp_seal(s->sealer, PP_SEAL_BATCH_SECRET, subject, b->secret, b->secret_len,
			     sealed.b, sizeof(sealed.b), &sealed.len, err);
		if (rc < 0)
			return rc;
	} else if (b->secret || b->secret_len) {
		return pp_err_set(err, PP_EINVAL, "batch '%s': only a derived batch has a secret",
				  b->name);
	}
	int64_t newid = 0;
	rc = s->ops->batch_insert(s, b, &sealed, now_s(), &newid, err);
	if (rc == -PP_EEXIST)
		return pp_err_set(err, PP_EEXIST, "a batch named '%s' already exists", b->name);
	if (rc < 0)
		return rc;
	if (id)
		*id = newid;
	return 0;
}

int pp_store_batch_get(struct pp_store *s, const char *name, struct pp_batch_info *info,
		       struct pp_err *err)
{
	int rc = check_batch_name(name, err);
	if (rc < 0)
		return rc;
	rc = s->ops->batch_get(s, name, 0, true, info, err);
	if (rc == -PP_ENOTFOUND)
		return pp_err_set(err, PP_ENOTFOUND, "no batch named '%s'", name);
	return rc;
}

int pp_store_batch_list(struct pp_store *s, int (*cb)(void *ctx, const struct pp_batch_info *),
			void *ctx, struct pp_err *err)
{
	return s->ops->batch_list(s, cb, ctx, err);
}

/* ---- keys ---- */

static int batch_by_id(struct pp_store *s, int64_t id, const struct pp_batch_info **out,
		       struct pp_err *err)
{
	if (!s->batch_cached || s->batch_cache.id != id) {
		s->batch_cached = false;
		int rc = s->ops->batch_get(s, NULL, id, false, &s->batch_cache, err);
		if (rc == -PP_ENOTFOUND)
			return pp_err_set(err, PP_ENOTFOUND, "no batch with id %lld",
					  (long long)id);
		if (rc < 0)
			return rc;
		s->batch_cached = true;
	}
	*out = &s->batch_cache;
	return 0;
}

/* A new key's own checks, before its batch is read. */
static int key_new_check(const struct pp_key_new *k, struct pp_err *err)
{
	/* A canonical PID, all that pp_store_check_pid accepts, is told without the parser
	 * (a bulk insert checks millions); anything else goes to it for the message. */
	struct pp_pid p = {.s = {0}};
	bool canonical = k->pid && strnlen(k->pid, PP_PID_LEN + 1) == PP_PID_LEN;
	if (canonical) {
		memcpy(p.s, k->pid, PP_PID_LEN);
		canonical = pp_pid_valid(&p);
	}
	int rc = canonical ? 0 : pp_store_check_pid(k->pid, err);
	if (rc < 0)
		return rc;
	if ((rc = pp_store_check_mebx(k->mebx_password, err)) < 0)
		return rc;
	if (k->state != PP_KEY_AVAILABLE && k->state != PP_KEY_EXPORTED &&
	    k->state != PP_KEY_IN_USE)
		return pp_err_set(err, PP_ESTATE, "key %s: a new key cannot be '%s'", k->pid,
				  pp_key_state_name(k->state));
	return 0;
}

/* A new key against its batch's rules; *max_devices gets the key's limit. */
static int key_new_check_batch(const struct pp_key_new *k, const struct pp_batch_info *b,
			       uint32_t *max_devices, struct pp_err *err)
{
	if (b->derived && k->pps)
		return pp_err_set(err, PP_EINVAL,
				  "key %s: batch '%s' is derived; its keys carry no PPS", k->pid,
				  b->name);
	if (!b->derived && !k->pps)
		return pp_err_set(err, PP_EINVAL, "key %s: no PPS", k->pid);
	uint32_t limit = b->shared_max ? b->shared_max : 1;
	*max_devices = k->max_devices ? k->max_devices : limit;
	if (*max_devices > limit)
		return pp_err_set(err, PP_EINVAL,
				  "key %s: max devices %u is over the batch's limit of %u", k->pid,
				  *max_devices, limit);
	return k->pps ? pp_store_check_pps(k->pps, err) : 0;
}

/* The row of a checked key: its PPS (when it has one) and MEBx password sealed under
 * its PID into the blobs. The row is wiped on failure. */
static int key_row_seal(struct pp_sealer *sealer, const struct pp_key_new *k, uint32_t max_devices,
			struct pp_key_bulk_row *row, struct pp_err *err)
{
	size_t pps_len = 0, mebx_len = 0;
	int rc = 0;
	if (k->pps)
		rc = pp_seal(sealer, PP_SEAL_PPS, k->pid, k->pps, PP_PPS_LEN, row->pps,
			     sizeof(row->pps), &pps_len, err);
	if (rc == 0)
		rc =
		    pp_seal(sealer, PP_SEAL_MEBX, k->pid, k->mebx_password,
			    strlen(k->mebx_password), row->mebx, sizeof(row->mebx), &mebx_len, err);
	if (rc < 0) {
		pp_wipe(row, sizeof(*row));
		return rc;
	}
	memcpy(row->pid, k->pid, sizeof(row->pid));
	row->batch_id = k->batch_id;
	row->max_devices = max_devices;
	row->state = k->state;
	row->now = now_s();
	row->pps_len = (uint8_t)pps_len;
	row->mebx_len = (uint8_t)mebx_len;
	return 0;
}

static int key_row_insert(struct pp_store *s, const struct pp_key_bulk_row *r, struct pp_err *err)
{
	struct pp_key_row row = {
	    .pid = r->pid,
	    .batch_id = r->batch_id,
	    .pps = r->pps_len ? r->pps : NULL,
	    .pps_len = r->pps_len,
	    .mebx = r->mebx,
	    .mebx_len = r->mebx_len,
	    .state = r->state,
	    .max_devices = r->max_devices,
	    .now = r->now,
	};
	int rc = s->ops->key_insert(s, &row, err);
	if (rc == -PP_EEXIST)
		return pp_err_set(err, PP_EEXIST, "PID %s is already in the store", r->pid);
	if (rc < 0)
		pp_store_forget_cache(s);
	return rc;
}

static void key_row_wipe(struct pp_key_bulk_row *row)
{
	pp_wipe(row, sizeof(*row));
}

int pp_store_key_insert(struct pp_store *s, const struct pp_key_new *k, struct pp_err *err)
{
	pp_cleanup(key_row_wipe) struct pp_key_bulk_row row;
	const struct pp_batch_info *b = NULL;
	uint32_t max_devices;
	int rc = key_new_check(k, err);
	if (rc == 0)
		rc = batch_by_id(s, k->batch_id, &b, err);
	if (rc == 0)
		rc = key_new_check_batch(k, b, &max_devices, err);
	if (rc == 0)
		rc = key_row_seal(s->sealer, k, max_devices, &row, err);
	return rc < 0 ? rc : key_row_insert(s, &row, err);
}

struct pp_key_bulk {
	struct pp_sealer *sealer; /* the store's, copied: this one is the sealing thread's */
	struct pp_batch_info batch;
};

int pp_store_key_bulk_new(struct pp_store *s, int64_t batch_id, struct pp_key_bulk **out,
			  struct pp_err *err)
{
	const struct pp_batch_info *b = NULL;
	*out = NULL;
	int rc = batch_by_id(s, batch_id, &b, err);
	if (rc < 0)
		return rc;
	struct pp_key_bulk *kb = calloc(1, sizeof(*kb));
	if (!kb)
		return pp_err_set(err, PP_ENOMEM, "out of memory");
	kb->batch = *b;
	if ((rc = pp_sealer_clone(s->sealer, &kb->sealer, err)) < 0) {
		free(kb);
		return rc;
	}
	*out = kb;
	return 0;
}

int pp_key_bulk_seal(struct pp_key_bulk *kb, const struct pp_key_new *k,
		     struct pp_key_bulk_row *row, struct pp_err *err)
{
	uint32_t max_devices;
	int rc = key_new_check(k, err);
	if (rc == 0 && k->batch_id != kb->batch.id)
		rc = pp_err_set(err, PP_EINVAL, "key %s: batch %lld is not the bulk's (%lld)",
				k->pid, (long long)k->batch_id, (long long)kb->batch.id);
	if (rc == 0)
		rc = key_new_check_batch(k, &kb->batch, &max_devices, err);
	if (rc == 0)
		rc = key_row_seal(kb->sealer, k, max_devices, row, err);
	return rc;
}

int pp_store_key_bulk_insert(struct pp_store *s, const struct pp_key_bulk_row *row,
			     struct pp_err *err)
{
	return key_row_insert(s, row, err);
}

void pp_key_bulk_free(struct pp_key_bulk *kb)
{
	if (!kb)
		return;
	pp_sealer_free(kb->sealer);
	pp_wipe(kb, sizeof(*kb));
	free(kb);
}

int pp_store_key_get(struct pp_store *s, const char *pid, struct pp_key_info *info,
		     struct pp_err *err)
{
	int rc = pp_store_check_pid(pid, err);
	if (rc < 0)
		return rc;
	rc = s->ops->key_get(s, pid, info, err);
	if (rc == -PP_ENOTFOUND)
		return pp_err_set(err, PP_ENOTFOUND, "no key with PID %s", pid);
	return rc;
}

int pp_store_key_list(struct pp_store *s, const struct pp_key_filter *f,
		      int (*cb)(void *ctx, const struct pp_key_info *), void *ctx,
		      struct pp_err *err)
{
	struct pp_key_query q = {.batch_id = 0, .state = -1, .limit = 0, .after = NULL};
	int rc;
	if (f) {
		if (f->state != -1 && (f->state < 0 || f->state >= PP_KEY_STATE_MAX))
			return pp_err_set(err, PP_EINVAL, "unknown key state %d", f->state);
		q.state = f->state;
		q.limit = f->limit;
		if (f->after) {
			/* Any text orders; it need not be a stored PID. */
			if (strnlen(f->after, PP_PID_LEN + 1) > PP_PID_LEN)
				return pp_err_set(err, PP_EINVAL, "paging PID is too long");
			q.after = f->after;
		}
		if (f->batch) {
			struct pp_batch_info b;
			if ((rc = check_batch_name(f->batch, err)) < 0)
				return rc;
			rc = s->ops->batch_get(s, f->batch, 0, false, &b, err);
			if (rc == -PP_ENOTFOUND)
				return pp_err_set(err, PP_ENOTFOUND, "no batch named '%s'",
						  f->batch);
			if (rc < 0)
				return rc;
			q.batch_id = b.id;
		}
	}
	return s->ops->key_list(s, &q, cb, ctx, err);
}

/* A derived key's PPS: from its batch's secret and its PID (pp_pps_derive). */
static int key_pps_derived(struct pp_store *s, const char *pid, const struct pp_key_sealed *k,
			   struct pp_pps *pps, struct pp_err *err)
{
	pp_cleanup(pp_wipe_sealed) struct pp_sealed_small secret = {.len = 0};
	char subject[PP_BATCH_NAME_MAX + 8];
	struct pp_pid p;
	if (batch_subject(k->batch, subject, sizeof(subject)) < 0)
		return pp_err_set(err, PP_ESTORE, "batch name too long");
	int rc = pp_unseal(s->sealer, PP_SEAL_BATCH_SECRET, subject, k->secret.b, k->secret.len,
			   secret.b, sizeof(secret.b), &secret.len, err);
	if (rc < 0)
		return rc;
	if (secret.len != PP_BATCH_SECRET_LEN)
		return pp_err_set(err, PP_ESTORE, "batch '%s': secret has the wrong length",
				  k->batch);
	if ((rc = pp_pid_parse(pid, &p, err)) < 0)
		return rc;
	rc = pp_pps_derive(secret.b, secret.len, &p, pps);
	if (rc < 0)
		return pp_err_set(err, -rc, "key %s: cannot derive its PPS", pid);
	return 0;
}

/* Unseals one short secret of a key into out (cap bytes with its NUL). */
static int key_unseal_text(struct pp_store *s, enum pp_seal_purpose purpose, const char *pid,
			   const struct pp_sealed_small *blob, const char *what, size_t exact,
			   char *out, size_t cap, struct pp_err *err)
{
	pp_cleanup(pp_wipe_sealed) struct pp_sealed_small plain = {.len = 0};
	int rc = pp_unseal(s->sealer, purpose, pid, blob->b, blob->len, plain.b, sizeof(plain.b),
			   &plain.len, err);
	if (rc < 0)
		return rc;
	if (exact && plain.len != exact)
		return pp_err_set(err, PP_ESTORE, "key %s: %s has the wrong length", pid, what);
	if (plain.len >= cap)
		return pp_err_set(err, PP_ETOOBIG, "key %s: %s needs %zu bytes of room", pid, what,
				  plain.len + 1);
	memcpy(out, plain.b, plain.len);
	out[plain.len] = '\0';
	return 0;
}

int pp_store_key_secrets(struct pp_store *s, const char *pid, struct pp_pps *pps, char *mebx,
			 size_t mebx_cap, struct pp_err *err)
{
	pp_cleanup(pp_wipe_key_sealed) struct pp_key_sealed sealed;
	int rc = pp_store_check_pid(pid, err);
	if (rc < 0)
		return rc;
	if (mebx && mebx_cap == 0)
		return pp_err_set(err, PP_EINVAL, "no room for the MEBx password");
	rc = s->ops->key_sealed(s, pid, &sealed, err);
	if (rc == -PP_ENOTFOUND)
		return pp_err_set(err, PP_ENOTFOUND, "no key with PID %s", pid);
	if (rc < 0)
		return rc;
	/* A derived batch's keys carry no PPS, except the rotated keys made for its
	 * devices (pp_store_job_next_key), whose random PPS is sealed like any other. */
	if (pps && sealed.derived && sealed.pps.len == 0)
		rc = key_pps_derived(s, pid, &sealed, pps, err);
	else if (pps)
		rc = key_unseal_text(s, PP_SEAL_PPS, pid, &sealed.pps, "PPS", PP_PPS_LEN, pps->s,
				     sizeof(pps->s), err);
	if (rc == 0 && mebx)
		rc = key_unseal_text(s, PP_SEAL_MEBX, pid, &sealed.mebx, "MEBx password", 0, mebx,
				     mebx_cap, err);
	if (rc < 0) {
		if (pps)
			pp_wipe(pps, sizeof(*pps));
		if (mebx)
			pp_wipe(mebx, mebx_cap);
	}
	return rc;
}

int pp_store_key_set_state(struct pp_store *s, const char *pid, enum pp_key_state to,
			   struct pp_err *err)
{
	int rc = pp_store_check_pid(pid, err);
	if (rc < 0)
		return rc;
	if ((unsigned)to >= PP_KEY_STATE_MAX)
		return pp_err_set(err, PP_EINVAL, "unknown key state %d", (int)to);
	/* Read under the lock, then compare and set: in the caller's transaction this is a
	 * savepoint, so the pair is atomic there too. */
	struct pp_store_atomic a;
	struct pp_key_info info;
	int64_t batch_id = 0;
	if ((rc = pp_store_atomic_begin(s, &a, err)) < 0)
		return rc;
	rc = s->ops->key_lock(s, pid, &info, &batch_id, err);
	if (rc == -PP_ENOTFOUND)
		rc = pp_err_set(err, PP_ENOTFOUND, "no key with PID %s", pid);
	if (rc < 0)
		goto out;
	if (!pp_key_transition_allowed(info.state, to)) {
		rc = pp_err_set(err, PP_ESTATE, "key %s: cannot go from '%s' to '%s'", pid,
				pp_key_state_name(info.state), pp_key_state_name(to));
		goto out;
	}
	rc = s->ops->key_state_cas(s, pid, info.state, to, now_s(), err);
	if (rc == -PP_ENOTFOUND)
		rc = pp_err_set(err, PP_EBUSY, "key %s: its state changed meanwhile; try again",
				pid);
out:
	return pp_store_atomic_end(s, &a, rc, err);
}

/* ---- audit ---- */

static void put_be64(uint8_t *p, uint64_t v)
{
	for (int i = 7; i >= 0; i--) {
		p[i] = (uint8_t)v;
		v >>= 8;
	}
}

static int digest_lp(EVP_MD_CTX *md, const char *s)
{
	size_t n = strlen(s);
	uint8_t len[4];
	if (n > UINT32_MAX)
		return -1;
	len[0] = (uint8_t)(n >> 24);
	len[1] = (uint8_t)(n >> 16);
	len[2] = (uint8_t)(n >> 8);
	len[3] = (uint8_t)n;
	if (EVP_DigestUpdate(md, len, sizeof(len)) != 1 || EVP_DigestUpdate(md, s, n) != 1)
		return -1;
	return 0;
}

int pp_audit_hash(const uint8_t prev[PP_AUDIT_HASH_LEN], uint64_t seq, int64_t time_s,
		  const char *actor, const char *action, const char *subject, const char *detail,
		  uint8_t out[PP_AUDIT_HASH_LEN])
{
	uint8_t nums[16];
	unsigned int outlen = 0;
	int rc = -PP_ECRYPTO;
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	if (!md)
		return -PP_ENOMEM;
	put_be64(nums, seq);
	put_be64(nums + 8, (uint64_t)time_s);
	if (EVP_DigestInit_ex(md, EVP_sha256(), NULL) != 1 ||
	    EVP_DigestUpdate(md, prev, PP_AUDIT_HASH_LEN) != 1 ||
	    EVP_DigestUpdate(md, nums, sizeof(nums)) != 1 || digest_lp(md, actor) < 0 ||
	    digest_lp(md, action) < 0 || digest_lp(md, subject) < 0 || digest_lp(md, detail) < 0 ||
	    EVP_DigestFinal_ex(md, out, &outlen) != 1 || outlen != PP_AUDIT_HASH_LEN)
		goto out;
	rc = 0;
out:
	EVP_MD_CTX_free(md);
	return rc;
}

/* One entry onto the chain, on every backend the same: the tail read under its lock,
 * the next hash computed here, the row inserted, all in the caller's transaction. */
static int audit_chain_append(struct pp_store *s, const struct pp_audit_new *e, struct pp_err *err)
{
	uint8_t prev[PP_AUDIT_HASH_LEN] = {0}, hash[PP_AUDIT_HASH_LEN];
	char prev_hex[2 * PP_AUDIT_HASH_LEN + 1], hash_hex[2 * PP_AUDIT_HASH_LEN + 1] = "";
	int64_t last = 0;
	if (!s->ops->in_transaction(s))
		return pp_err_set(err, PP_ESTATE, "store: audit append outside a transaction");
	int rc = s->ops->audit_tail(s, &last, hash_hex, err);
	if (rc < 0)
		return rc;
	if (last < 0 || last == INT64_MAX ||
	    (last > 0 && pp_unhex(hash_hex, prev, sizeof(prev)) < 0))
		return pp_err_set(err, PP_ECRYPTO,
				  "audit log: the last entry (seq %lld) is damaged",
				  (long long)last);
	uint64_t seq = (uint64_t)last + 1;
	if (pp_audit_hash(prev, seq, e->time, e->actor, e->action, e->subject, e->detail, hash) < 0)
		return pp_err_set(err, PP_ECRYPTO, "audit: SHA-256 failed");
	pp_hex(prev, sizeof(prev), prev_hex);
	pp_hex(hash, sizeof(hash), hash_hex);
	return s->ops->audit_insert(s, seq, e, prev_hex, hash_hex, err);
}

int pp_store_audit_at(struct pp_store *s, int64_t time_s, const char *actor, const char *action,
		      const char *subject, const char *detail, struct pp_err *err)
{
	int rc;
	if ((rc = check_text(actor, PP_AUDIT_FIELD_MAX, true, "actor", err)) < 0 ||
	    (rc = check_text(action, PP_AUDIT_FIELD_MAX, true, "action", err)) < 0 ||
	    (rc = check_text(subject, PP_AUDIT_FIELD_MAX, false, "subject", err)) < 0 ||
	    (rc = check_text(detail, PP_AUDIT_DETAIL_MAX, false, "detail", err)) < 0)
		return rc;
	struct pp_audit_new e = {
	    .time = time_s,
	    .actor = actor,
	    .action = action,
	    .subject = subject ? subject : "",
	    .detail = detail ? detail : "",
	};
	return audit_chain_append(s, &e, err);
}

int pp_store_audit_append(struct pp_store *s, const char *actor, const char *action,
			  const char *subject, const char *detail, struct pp_err *err)
{
	struct pp_store_atomic a;
	int rc = pp_store_atomic_begin(s, &a, err);
	if (rc < 0)
		return rc;
	rc = pp_store_audit_at(s, now_s(), actor, action, subject, detail, err);
	return pp_store_atomic_end(s, &a, rc, err);
}

struct verify_ctx {
	uint8_t prev[PP_AUDIT_HASH_LEN];
	uint64_t next_seq;
	uint64_t count;
	struct pp_err *err;
};

static int verify_one(void *vctx, const struct pp_audit_entry *e)
{
	struct verify_ctx *v = vctx;
	uint8_t h[PP_AUDIT_HASH_LEN];
	char hex[2 * PP_AUDIT_HASH_LEN + 1];
	if (e->seq != v->next_seq)
		return pp_err_set(
		    v->err, PP_ECRYPTO,
		    "audit log broken at seq %llu: entry missing (next stored is %llu)",
		    (unsigned long long)v->next_seq, (unsigned long long)e->seq);
	if (pp_audit_hash(v->prev, e->seq, e->time, e->actor, e->action, e->subject, e->detail, h) <
	    0)
		return pp_err_set(v->err, PP_ECRYPTO, "audit: SHA-256 failed");
	pp_hex(h, sizeof(h), hex);
	if (!pp_ct_eq(hex, e->hash, sizeof(hex)))
		return pp_err_set(v->err, PP_ECRYPTO,
				  "audit log broken at seq %llu: the entry or its hash was altered",
				  (unsigned long long)e->seq);
	memcpy(v->prev, h, sizeof(h));
	v->next_seq++;
	v->count++;
	return 0;
}

int pp_store_audit_verify(struct pp_store *s, uint64_t *entries, struct pp_err *err)
{
	struct verify_ctx v = {.next_seq = 1, .count = 0, .err = err};
	memset(v.prev, 0, sizeof(v.prev));
	if (entries)
		*entries = 0;
	int rc = s->ops->audit_list(s, 0, verify_one, &v, err);
	if (entries)
		*entries = v.count;
	return rc;
}

int pp_store_audit_list(struct pp_store *s, uint64_t since_seq,
			int (*cb)(void *ctx, const struct pp_audit_entry *), void *ctx,
			struct pp_err *err)
{
	return s->ops->audit_list(s, since_seq, cb, ctx, err);
}
