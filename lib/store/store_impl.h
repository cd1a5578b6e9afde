/* Inside the store: what a backend implements. Callers include store.h only.
 *
 * The generic layer (store.c) validates arguments, seals and unseals, applies the key
 * state table and hashes the audit chain; a backend only moves rows and blobs. A new
 * backend (PostgreSQL) embeds struct pp_store first in its own struct, fills a
 * struct pp_store_ops and calls pp_store_init_base. Later work (devices, jobs) adds
 * operations to the end of the table. */
#ifndef PSKPROV_STORE_STORE_IMPL_H
#define PSKPROV_STORE_STORE_IMPL_H

#include "store/store.h"

/* A sealed blob of a short secret: PPS (32), MEBx password (<= 32), batch secret (32). */
#define PP_SEALED_SMALL_MAX (64 + PP_SEAL_OVERHEAD)

struct pp_sealed_small {
	uint8_t b[PP_SEALED_SMALL_MAX];
	size_t len; /* 0: NULL in the database */
};

struct pp_key_row {
	const char *pid;
	int64_t batch_id;
	const uint8_t *pps; /* sealed; NULL for a derived key */
	size_t pps_len;
	const uint8_t *mebx; /* sealed */
	size_t mebx_len;
	enum pp_key_state state;
	uint32_t max_devices;
	int64_t now;
};

/* What pp_store_key_secrets needs, straight from the rows. */
struct pp_key_sealed {
	char batch[PP_BATCH_NAME_MAX + 1];
	bool derived;
	struct pp_sealed_small pps; /* empty when derived */
	struct pp_sealed_small mebx;
	struct pp_sealed_small secret; /* the batch secret when derived */
};

struct pp_key_query {
	int64_t batch_id; /* 0: any */
	int state;        /* -1: any */
	uint64_t limit;   /* 0: all */
	const char *after;
};

struct pp_audit_new {
	int64_t time;
	const char *actor, *action, *subject, *detail; /* never NULL here */
};

struct pp_store_ops {
	const char *name;
	void (*close)(struct pp_store *s);
	int (*begin)(struct pp_store *s, struct pp_err *err);
	int (*commit)(struct pp_store *s, struct pp_err *err);
	int (*rollback)(struct pp_store *s, struct pp_err *err);

	/* -PP_EEXIST on a duplicate name. */
	int (*batch_insert)(struct pp_store *s, const struct pp_batch_new *b,
			    const struct pp_sealed_small *secret, int64_t now, int64_t *id,
			    struct pp_err *err);
	/* By name, or by id when name is NULL; -PP_ENOTFOUND. key_count is counted only
	 * when count is true (it walks the batch's keys). */
	int (*batch_get)(struct pp_store *s, const char *name, int64_t id, bool count,
			 struct pp_batch_info *info, struct pp_err *err);
	int (*batch_list)(struct pp_store *s, int (*cb)(void *, const struct pp_batch_info *),
			  void *ctx, struct pp_err *err);

	/* -PP_EEXIST on a duplicate PID. */
	int (*key_insert)(struct pp_store *s, const struct pp_key_row *row, struct pp_err *err);
	int (*key_get)(struct pp_store *s, const char *pid, struct pp_key_info *info,
		       struct pp_err *err);
	int (*key_list)(struct pp_store *s, const struct pp_key_query *q,
			int (*cb)(void *, const struct pp_key_info *), void *ctx,
			struct pp_err *err);
	int (*key_sealed)(struct pp_store *s, const char *pid, struct pp_key_sealed *out,
			  struct pp_err *err);
	/* Sets state = to where state = from (compare and set); -PP_ENOTFOUND when no row
	 * matched (gone, or moved by someone else: the caller looks again). */
	int (*key_state_cas)(struct pp_store *s, const char *pid, enum pp_key_state from,
			     enum pp_key_state to, int64_t now, struct pp_err *err);

	/* Appends one entry atomically: reads the tail, computes the next hash with
	 * pp_audit_hash, inserts; two writers never fork the chain. */
	int (*audit_append)(struct pp_store *s, const struct pp_audit_new *e, struct pp_err *err);
	int (*audit_list)(struct pp_store *s, uint64_t since_seq,
			  int (*cb)(void *, const struct pp_audit_entry *), void *ctx,
			  struct pp_err *err);
};

struct pp_store {
	const struct pp_store_ops *ops;
	struct pp_sealer *sealer;
	/* The batch of the last key insert: bulk inserts look it up once. */
	bool batch_cached;
	struct pp_batch_info batch_cache;
};

/* Creates the sealer from mk. */
int pp_store_init_base(struct pp_store *s, const struct pp_store_ops *ops,
		       const struct pp_master_key *mk, struct pp_err *err) PP_WUR;
/* Frees the sealer. */
void pp_store_fini_base(struct pp_store *s);
/* Forgets cached rows (after a rollback, which may undo a batch). */
void pp_store_forget_cache(struct pp_store *s);

#define PP_AUDIT_HASH_LEN 32
/* hash = SHA-256(prev || canonical(seq, time, actor, action, subject, detail)). */
int pp_audit_hash(const uint8_t prev[PP_AUDIT_HASH_LEN], uint64_t seq, int64_t time,
		  const char *actor, const char *action, const char *subject, const char *detail,
		  uint8_t out[PP_AUDIT_HASH_LEN]) PP_WUR;

#endif
