/* The schema runner both backends share: migrations in order, each once with the update
 * of meta.schema_version, the master key check value made on creation and verified on
 * every open. The backend opens the transaction (and takes its lock) around it and
 * supplies the raw statements (store_impl.h, struct pp_schema_ops). */
#include "store/store_impl.h"

#include <stdio.h>
#include <time.h>

int pp_store_schema_check_version(int64_t ver, const char *where, struct pp_err *err)
{
	if (ver > PP_STORE_SCHEMA_VERSION)
		return pp_err_set(err, PP_EVERSION,
				  "%s has schema version %lld; this pskprov knows up to %d "
				  "(upgrade pskprov)",
				  where, (long long)ver, PP_STORE_SCHEMA_VERSION);
	return 0;
}

int pp_store_schema_check_key(struct pp_store *s, const struct pp_schema_ops *ops, void *db,
			      struct pp_err *err)
{
	pp_cleanup(pp_wipe_sealed) struct pp_sealed_small kcv = {.len = 0};
	int rc = ops->key_check_get(db, &kcv, err);
	if (rc < 0 && rc != -PP_ENOTFOUND)
		return rc;
	if (rc == -PP_ENOTFOUND || kcv.len == 0)
		return pp_err_set(err, PP_ESTORE,
				  "the database has no valid master key check value");
	return pp_seal_check_verify(s->sealer, kcv.b, kcv.len, err);
}

int pp_store_schema_apply(struct pp_store *s, const struct pp_schema_ops *ops, void *db,
			  const struct pp_migration *m, size_t n, int64_t ver, bool create,
			  struct pp_err *err)
{
	int rc;
	for (size_t i = 0; i < n; i++) {
		if (m[i].version <= ver)
			continue;
		char what[64];
		snprintf(what, sizeof(what), "store: schema migration %lld",
			 (long long)m[i].version);
		bool skip = false;
		if (m[i].skip_if && ops->found &&
		    (rc = ops->found(db, m[i].skip_if, &skip, err)) < 0)
			return rc;
		if ((!skip && (rc = ops->exec(db, m[i].sql, what, err)) < 0) ||
		    (rc = ops->meta_set(db, "schema_version", m[i].version, NULL, 0, err)) < 0)
			return rc;
	}
	if (!create)
		return 0;
	uint8_t kcv[PP_SEAL_CHECK_LEN];
	size_t len = 0;
	if ((rc = pp_seal_check_make(s->sealer, kcv, sizeof(kcv), &len, err)) < 0 ||
	    (rc = ops->meta_set(db, "key_check", 0, kcv, len, err)) < 0)
		return rc;
	return ops->meta_set(db, "created", (int64_t)time(NULL), NULL, 0, err);
}
