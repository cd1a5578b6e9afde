/* Every sealed secret of a store: verified under its key, or re-sealed under a new one
 * (rekey.h). The statements are the same text on both backends (ids are integers on
 * both, "||" concatenates on both); the backends run them as given (store_impl.h,
 * sealed_rows and sealed_put). Rows are read a page at a time by id and the page is
 * processed after the read, so the updates of a rotation never run under an open
 * cursor of the same table. */
#include "store/rekey.h"

#include "core/secret.h"
#include "store/store_impl.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PAGE 256
#define PAGE_SQL " AND id > $1 ORDER BY id LIMIT 256"

_Static_assert(PP_SEAL_PURPOSE_MAX == 6,
	       "a new sealed purpose: add its column to rekey.c (the check value is apart)");

struct column {
	enum pp_seal_purpose purpose;
	const char *name;
	const char *select; /* rows (id, subject, blob) after $1 */
	const char *update; /* blob $2 of row $1 */
};

static const struct column columns[PP_SEALED_COLUMNS] = {
    [PP_SEALED_BATCH_SECRET] = {PP_SEAL_BATCH_SECRET, "batch secrets",
				"SELECT id, 'batch:' || name, secret FROM batches "
				"WHERE secret IS NOT NULL" PAGE_SQL,
				"UPDATE batches SET secret = $2 WHERE id = $1"},
    [PP_SEALED_KEY_PPS] = {PP_SEAL_PPS, "PPS",
			   "SELECT id, pid, pps FROM keys WHERE pps IS NOT NULL" PAGE_SQL,
			   "UPDATE keys SET pps = $2 WHERE id = $1"},
    [PP_SEALED_KEY_MEBX] = {PP_SEAL_MEBX, "MEBx passwords",
			    "SELECT id, pid, mebx FROM keys WHERE mebx IS NOT NULL" PAGE_SQL,
			    "UPDATE keys SET mebx = $2 WHERE id = $1"},
    [PP_SEALED_DEVICE_ADMIN] = {PP_SEAL_ADMIN, "escrowed admin passwords",
				"SELECT id, uuid, admin_secret FROM devices "
				"WHERE admin_secret IS NOT NULL" PAGE_SQL,
				"UPDATE devices SET admin_secret = $2 WHERE id = $1"},
    [PP_SEALED_DEVICE_MEBX] = {PP_SEAL_DEVICE_MEBX, "escrowed MEBx passwords",
			       "SELECT id, uuid, mebx FROM devices WHERE mebx IS NOT NULL" PAGE_SQL,
			       "UPDATE devices SET mebx = $2 WHERE id = $1"},
};

const char *pp_sealed_column_name(enum pp_sealed_column c)
{
	return (unsigned)c < PP_SEALED_COLUMNS ? columns[c].name : "?";
}

uint64_t pp_sealed_total(const struct pp_sealed_counts *c)
{
	uint64_t t = 0;
	for (int i = 0; i < PP_SEALED_COLUMNS; i++)
		t += c->n[i];
	return t;
}

struct row {
	int64_t id;
	char subject[PP_SEAL_MAX_SUBJECT + 1];
	struct pp_sealed_small blob;
};

struct page {
	struct row r[PAGE];
	size_t n;
};

static int page_row(void *ctx, int64_t id, const char *subject, const uint8_t *b, size_t n,
		    struct pp_err *err)
{
	struct page *p = ctx;
	size_t sl = strlen(subject);
	if (p->n >= PAGE)
		return pp_err_set(err, PP_ESTORE, "store: more sealed rows than asked for");
	if (n > sizeof(p->r[0].blob.b) || sl == 0 || sl > PP_SEAL_MAX_SUBJECT)
		return pp_err_set(err, PP_ESTORE, "store: a sealed blob of row %lld is malformed",
				  (long long)id);
	struct row *r = &p->r[p->n++];
	r->id = id;
	memcpy(r->subject, subject, sl + 1);
	memcpy(r->blob.b, b, n);
	r->blob.len = n;
	return 0;
}

/* What to do with one row: verify it, or re-seal it. */
typedef int (*row_fn)(struct pp_store *s, const struct column *c, const struct row *r, void *ctx,
		      struct pp_err *err);

static int walk(struct pp_store *s, const struct column *c, row_fn fn, void *ctx, uint64_t *count,
		struct pp_err *err)
{
	struct page *p = malloc(sizeof(*p));
	if (!p)
		return pp_err_set(err, PP_ENOMEM, "store: out of memory");
	int64_t after = 0;
	int rc = 0;
	do {
		p->n = 0;
		rc = s->ops->sealed_rows(s, c->select, after, page_row, p, err);
		for (size_t i = 0; rc == 0 && i < p->n; i++) {
			rc = fn(s, c, &p->r[i], ctx, err);
			after = p->r[i].id;
			(*count)++;
		}
	} while (rc == 0 && p->n == PAGE);
	pp_wipe(p, sizeof(*p));
	free(p);
	return rc;
}

static int unseal_row(struct pp_sealer *sealer, const struct column *c, const struct row *r,
		      struct pp_sealed_small *plain, struct pp_err *err)
{
	int rc = pp_unseal(sealer, c->purpose, r->subject, r->blob.b, r->blob.len, plain->b,
			   sizeof(plain->b), &plain->len, NULL);
	if (rc < 0)
		return pp_err_set(err, PP_ECRYPTO,
				  "%s of %s (row %lld): does not open under this master key",
				  c->name, r->subject, (long long)r->id);
	return 0;
}

static int verify_row(struct pp_store *s, const struct column *c, const struct row *r, void *ctx,
		      struct pp_err *err)
{
	(void)ctx;
	pp_cleanup(pp_wipe_sealed) struct pp_sealed_small plain = {.len = 0};
	return unseal_row(s->sealer, c, r, &plain, err);
}

int pp_store_sealed_verify(struct pp_store *s, struct pp_sealed_counts *counts, struct pp_err *err)
{
	memset(counts, 0, sizeof(*counts));
	for (int i = 0; i < PP_SEALED_COLUMNS; i++) {
		int rc = walk(s, &columns[i], verify_row, NULL, &counts->n[i], err);
		if (rc < 0)
			return rc;
	}
	return 0;
}

static int reseal_row(struct pp_store *s, const struct column *c, const struct row *r, void *ctx,
		      struct pp_err *err)
{
	struct pp_sealer *next = ctx;
	pp_cleanup(pp_wipe_sealed) struct pp_sealed_small plain = {.len = 0};
	pp_cleanup(pp_wipe_sealed) struct pp_sealed_small blob = {.len = 0};
	int rc = unseal_row(s->sealer, c, r, &plain, err);
	if (rc == 0)
		rc = pp_seal(next, c->purpose, r->subject, plain.b, plain.len, blob.b,
			     sizeof(blob.b), &blob.len, err);
	if (rc == 0)
		rc = s->ops->sealed_put(s, c->update, r->id, blob.b, blob.len, err);
	return rc;
}

static int reseal_all(struct pp_store *s, struct pp_sealer *next, struct pp_sealed_counts *counts,
		      struct pp_err *err)
{
	for (int i = 0; i < PP_SEALED_COLUMNS; i++) {
		int rc = walk(s, &columns[i], reseal_row, next, &counts->n[i], err);
		if (rc < 0)
			return rc;
	}
	uint8_t kcv[PP_SEAL_CHECK_LEN];
	size_t len = 0;
	int rc = pp_seal_check_make(next, kcv, sizeof(kcv), &len, err);
	if (rc == 0)
		rc = s->ops->key_check_put(s, kcv, len, err);
	return rc;
}

int pp_store_rekey(struct pp_store *s, const struct pp_master_key *next, const char *actor,
		   struct pp_sealed_counts *counts, struct pp_err *err)
{
	memset(counts, 0, sizeof(*counts));
	if (!s->ops->in_transaction(s))
		return pp_err_set(err, PP_ESTATE, "master-key rotation: not in a transaction");
	struct pp_sealer *sealer = NULL;
	int rc = pp_sealer_new(next, &sealer, err);
	if (rc < 0)
		return rc;
	rc = reseal_all(s, sealer, counts, err);
	pp_sealer_free(sealer);
	if (rc < 0)
		return rc;
	char detail[256];
	snprintf(detail, sizeof(detail),
		 "every sealed secret re-sealed under a new master key: %llu (%llu batch "
		 "secrets, %llu PPS, %llu MEBx, %llu escrowed admin, %llu escrowed MEBx)",
		 (unsigned long long)pp_sealed_total(counts),
		 (unsigned long long)counts->n[PP_SEALED_BATCH_SECRET],
		 (unsigned long long)counts->n[PP_SEALED_KEY_PPS],
		 (unsigned long long)counts->n[PP_SEALED_KEY_MEBX],
		 (unsigned long long)counts->n[PP_SEALED_DEVICE_ADMIN],
		 (unsigned long long)counts->n[PP_SEALED_DEVICE_MEBX]);
	return pp_store_audit_append(s, actor, "master-key-rotate", "master-key", detail, err);
}

int pp_key_check_matches(const struct pp_master_key *mk, const uint8_t *kcv, size_t len,
			 struct pp_err *err)
{
	struct pp_sealer *sealer = NULL;
	int rc = pp_sealer_new(mk, &sealer, err);
	if (rc == 0)
		rc = pp_seal_check_verify(sealer, kcv, len, err);
	pp_sealer_free(sealer);
	return rc;
}
