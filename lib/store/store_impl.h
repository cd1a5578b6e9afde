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

#include "core/secret.h"

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

/* A device row as the generic layer reads and writes it; the escrow columns apart.
 * info.id, info.batch, info.quarantine_reason and info.hello_count are read only
 * (pp_store_device_info_of fills the last two from the row's). */
struct pp_device_row {
	struct pp_device_info info;
	char quarantine_reason[PP_STORE_TEXT_MAX + 1];
	char last_source[8];
	uint64_t hello_count;
	int64_t updated;
};
/* The row's info with its quarantine reason and hello count. */
void pp_store_device_info_of(const struct pp_device_row *d, struct pp_device_info *out);
/* An IPv4 address as the number its sort uses (devices.address_num). */
int64_t pp_store_addr_num(const uint8_t addr[4]);

/* ---- device queries (console.c): one SQL text per shape, both dialects ----
 * The shape: sort, order, whether a cursor is given and which filters are set. The
 * statement's parameters, in order, are given by params[] (PP_DQ_P_*), so a backend
 * caches one prepared statement per shape and binds what the query holds. */
enum pp_dq_param {
	PP_DQ_P_STATE,    /* text: the state's name */
	PP_DQ_P_BATCH,    /* integer: the batch id */
	PP_DQ_P_QUAR,     /* integer 0/1 (SQLite) or boolean (PostgreSQL) */
	PP_DQ_P_TEXT,     /* text: LIKE pattern, escaped with \ */
	PP_DQ_P_PID_TEXT, /* text: LIKE pattern for the PID */
	PP_DQ_P_CUR_KEY,  /* the cursor's key: integer or text by sort */
	PP_DQ_P_CUR_ID,   /* integer */
	PP_DQ_P_LIMIT,    /* integer */
	PP_DQ_P_MAX
};
#define PP_DQ_PARAMS_MAX 16 /* placeholders in one statement (a kind may repeat) */
#define PP_DQ_SHAPES (PP_DEV_SORT_MAX * 2 * 2 * 16) /* sort, desc, after, 4 filters */
#define PP_DQ_COUNT_SHAPES 16
enum pp_dq_dialect { PP_DQ_SQLITE, PP_DQ_POSTGRES };
/* The shape's index (0..PP_DQ_SHAPES-1), or with count the count statement's
 * (0..PP_DQ_COUNT_SHAPES-1). */
int pp_dq_shape(const struct pp_device_query *q, bool count);
/* The SQL of a shape (cols: the dialect's device columns, "SELECT ... FROM devices ");
 * params[] and *np the parameters in order. -PP_ETOOBIG when out is short. */
int pp_dq_sql(enum pp_dq_dialect dialect, const char *cols, const struct pp_device_query *q,
	      bool count, char *out, size_t cap, enum pp_dq_param params[PP_DQ_PARAMS_MAX],
	      int *np);
/* The LIKE patterns of a query's text: "%text%" lower-cased and escaped; the PID's with
 * the dashes dropped (upper-cased; "" when only dashes). */
void pp_dq_patterns(const char *text, char pat[3 * PP_DEVICE_TEXT_MAX + 3],
		    char pid_pat[3 * PP_DEVICE_TEXT_MAX + 3]);
/* Appends a job event (detail cut and cleaned), in the caller's transaction. */
int pp_store_job_event_at(struct pp_store *s, int64_t job_id, int64_t now, const char *name,
			  const char *detail, struct pp_err *err) PP_WUR;
/* The detail of a "claimed" event: "<owner> attempt <n>". */
void pp_job_claim_detail(const char *owner, uint32_t attempts, char out[PP_STORE_TEXT_MAX + 1]);

enum pp_savepoint_op { PP_SP_BEGIN, PP_SP_RELEASE, PP_SP_ROLLBACK };
enum pp_count_table { PP_COUNT_KEYS, PP_COUNT_DEVICES, PP_COUNT_JOBS };
enum pp_job_find { PP_JOB_FIND_ACTIVE, PP_JOB_FIND_LAST_DONE };

struct pp_store_ops {
	const char *name;
	void (*close)(struct pp_store *s);
	/* begin takes the write lock at once (SQLite IMMEDIATE). */
	int (*begin)(struct pp_store *s, struct pp_err *err);
	int (*commit)(struct pp_store *s, struct pp_err *err);
	int (*rollback)(struct pp_store *s, struct pp_err *err);
	bool (*in_transaction)(struct pp_store *s);
	/* SAVEPOINT, RELEASE, or ROLLBACK TO then RELEASE, of one constant name: the most
	 * recent savepoint of that name is the one released or rolled back to. */
	int (*savepoint)(struct pp_store *s, enum pp_savepoint_op op, struct pp_err *err);

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

	/* The audit chain is the generic layer's (pp_store_audit_at): in the caller's
	 * transaction it reads the tail, hashes and inserts. audit_tail locks the tail until
	 * the transaction ends (PostgreSQL: an advisory lock; SQLite: the write lock is held
	 * already), so two writers never fork the chain; *last_seq 0 and hash "" when the
	 * log is empty. audit_insert writes one row as given. */
	int (*audit_tail)(struct pp_store *s, int64_t *last_seq, char hash_hex[65],
			  struct pp_err *err);
	int (*audit_insert)(struct pp_store *s, uint64_t seq, const struct pp_audit_new *e,
			    const char *prev_hex, const char *hash_hex, struct pp_err *err);
	int (*audit_list)(struct pp_store *s, uint64_t since_seq,
			  int (*cb)(void *, const struct pp_audit_entry *), void *ctx,
			  struct pp_err *err);

	/* ---- devices, jobs, key use (docs/dev/store-jobs.md) ----
	 * The generic layer (jobs.c) runs these inside a transaction or savepoint of its
	 * own and reads before it writes; "lock" reads hold the row until the transaction
	 * ends (PostgreSQL FOR UPDATE; SQLite holds the database write lock anyway). Lock
	 * order, to keep PostgreSQL free of deadlocks (postgres.c, top): device, then key,
	 * then job. */

	/* Reads and locks the key with its batch id; -PP_ENOTFOUND. */
	int (*key_lock)(struct pp_store *s, const char *pid, struct pp_key_info *info,
			int64_t *batch_id, struct pp_err *err);
	/* Whether (pid, uuid) is in key_uses, how many UUIDs are, and the first other one
	 * ("" when none). */
	int (*key_uses)(struct pp_store *s, const char *pid, const char *uuid, bool *bound,
			uint64_t *count, char other[37], struct pp_err *err);
	/* Adds (pid, uuid) to key_uses, use_count + 1, available/exported -> in-use. */
	int (*key_bind)(struct pp_store *s, const char *pid, const char *uuid, int64_t now,
			struct pp_err *err);
	/* Distinct UUIDs of done jobs whose hello key is pid. */
	int (*key_provisioned)(struct pp_store *s, const char *pid, uint64_t *count,
			       struct pp_err *err);
	/* -PP_ENOTFOUND when no such key. Failure: the (pid, addr) pair's count + 1, locked
	 * until now + lock_s from `limit` failures on; the key's failure_count + 1 and its
	 * locked_until raised to the pair's; pairs of the pid beyond PP_STORE_PAIRS_MAX
	 * dropped, least recently failed first. Success: the key's count and lock reset, its
	 * pairs deleted. */
	int (*key_failure)(struct pp_store *s, const char *pid, const uint8_t addr[4], int64_t now,
			   uint32_t limit, uint32_t lock_s, struct pp_err *err);
	int (*key_success)(struct pp_store *s, const char *pid, int64_t now, struct pp_err *err);
	/* Whether the (pid, addr) pair is locked at now. */
	int (*key_locked_at)(struct pp_store *s, const char *pid, const uint8_t addr[4],
			     int64_t now, bool *locked, struct pp_err *err);

	/* Inserts `insert` (when not NULL) unless the UUID exists, then reads and locks the
	 * row into out; *created (may be NULL) tells whether it was inserted. -PP_ENOTFOUND
	 * when there is no row and nothing to insert. */
	int (*device_lock)(struct pp_store *s, const uint8_t uuid[16],
			   const struct pp_device_row *insert, struct pp_device_row *out,
			   bool *created, struct pp_err *err);
	/* Writes every field but uuid, first_seen and the escrow; -PP_ENOTFOUND. */
	int (*device_put)(struct pp_store *s, const struct pp_device_row *d, struct pp_err *err);
	int (*device_get)(struct pp_store *s, const uint8_t uuid[16], struct pp_device_row *out,
			  struct pp_err *err);
	/* state -1: any; limit 0: all; by id. */
	int (*device_list)(struct pp_store *s, int state, uint64_t limit,
			   int (*cb)(void *, const struct pp_device_row *), void *ctx,
			   struct pp_err *err);
	/* The escrow columns; blobs empty when not escrowed. -PP_ENOTFOUND: no device. */
	int (*escrow_get)(struct pp_store *s, const uint8_t uuid[16], char admin_user[33],
			  struct pp_sealed_small *admin, struct pp_sealed_small *mebx,
			  struct pp_err *err);
	/* Sets them where none are set yet; -PP_EEXIST when they are. With them, the
	 * "escrowed" event of the device's active bound job (none when it has none or the
	 * job has one already), in the same round trip. */
	int (*escrow_put)(struct pp_store *s, const uint8_t uuid[16], const char *admin_user,
			  const struct pp_sealed_small *admin, const struct pp_sealed_small *mebx,
			  int64_t now, struct pp_err *err);

	/* Inserts j (id ignored) and sets *id; -PP_EEXIST when the device has an active
	 * job. ev (may be NULL): its event, written with it (ev->job_id ignored). */
	int (*job_insert)(struct pp_store *s, const struct pp_job *j, const struct pp_job_event *ev,
			  int64_t *id, struct pp_err *err);
	int (*job_get)(struct pp_store *s, int64_t id, bool lock, struct pp_job *out,
		       struct pp_err *err);
	/* The device's active job, or its last done one; -PP_ENOTFOUND. */
	int (*job_find)(struct pp_store *s, const uint8_t uuid[16], enum pp_job_find which,
			bool lock, struct pp_job *out, struct pp_err *err);
	/* Writes every field but id, pid and created; -PP_ENOTFOUND. ev (may be NULL): an
	 * event of the job written in the same statement or round trip (job_event). */
	int (*job_put)(struct pp_store *s, const struct pp_job *j, const struct pp_job_event *ev,
		       struct pp_err *err);
	/* The active job of (uuid, addr); -PP_ENOTFOUND. */
	int (*job_find_at)(struct pp_store *s, const uint8_t uuid[16], const uint8_t addr[4],
			   bool lock, struct pp_job *out, struct pp_err *err);
	/* Deletes the unbound jobs of pid that are not running, but keep_id and the `keep`
	 * most recently updated others (then by id); *dropped (may be NULL) gets how many. */
	int (*jobs_prune)(struct pp_store *s, const char *pid, uint64_t keep, int64_t keep_id,
			  uint64_t *dropped, struct pp_err *err);
	/* Deletes the unbound pending and retry jobs of uuid but keep_id. */
	int (*jobs_drop_unbound)(struct pp_store *s, const uint8_t uuid[16], int64_t keep_id,
				 struct pp_err *err);
	/* Whether a device other than uuid has this host name. */
	int (*host_name_taken)(struct pp_store *s, const char *name, const uint8_t uuid[16],
			       bool *taken, struct pp_err *err);
	/* Upserts the note of (kind, pid, addr): count + 1, uuid and last_seen the given;
	 * then keeps the PP_STORE_NOTES_MAX most recent of the kind. */
	int (*note_put)(struct pp_store *s, const struct pp_hello_note *n, struct pp_err *err);
	/* Newest first. */
	int (*note_list)(struct pp_store *s, enum pp_hello_note_kind kind,
			 int (*cb)(void *, const struct pp_hello_note *), void *ctx,
			 struct pp_err *err);
	/* Claims as pp_store_jobs_claim says, with lease_until given; out in claim order.
	 * Each claimed job gets its "claimed" event (detail: pp_job_claim_detail). */
	int (*jobs_claim)(struct pp_store *s, const char *owner, int64_t now, int64_t lease_until,
			  size_t max, struct pp_job *out, size_t *n, struct pp_err *err);
	int (*jobs_renew)(struct pp_store *s, const char *owner, int64_t now, int64_t lease_until,
			  struct pp_err *err);
	int (*job_list)(struct pp_store *s, int state, uint64_t limit,
			int (*cb)(void *, const struct pp_job *), void *ctx, struct pp_err *err);
	/* Calls cb with (state name, number of rows) for each state present in the table;
	 * the generic layer (pp_store_counts) maps the names. */
	int (*count_states)(struct pp_store *s, enum pp_count_table table,
			    int (*cb)(void *ctx, const char *state, int64_t n), void *ctx,
			    struct pp_err *err);
	/* Sets the two TLS columns (checked by the caller) and updated; -PP_ENOTFOUND. */
	int (*device_set_tls)(struct pp_store *s, const uint8_t uuid[16], const char *version,
			      const char *cipher, int64_t now, struct pp_err *err);

	/* ---- the operator's views and actions (store.h; console.c) ---- */
	/* Appends ev to its job's events and keeps the job at PP_JOB_EVENTS_MAX
	 * (pp_job_events_trim_sql order). */
	int (*job_event)(struct pp_store *s, const struct pp_job_event *ev, struct pp_err *err);
	int (*job_events)(struct pp_store *s, int64_t job_id,
			  int (*cb)(void *, const struct pp_job_event *), void *ctx,
			  struct pp_err *err);
	/* q checked; batch_id: the batch filter's (0 none); text and pid_text: LIKE patterns
	 * (pp_device_query_patterns) or NULL. Rows through cb, then *total when asked. */
	int (*device_query)(struct pp_store *s, const struct pp_device_query *q, int64_t batch_id,
			    const char *text, const char *pid_text,
			    int (*cb)(void *, const struct pp_device_row *), void *ctx,
			    uint64_t *total, struct pp_err *err);
	/* The device's jobs newest first (limit 1..100). */
	int (*device_jobs)(struct pp_store *s, const uint8_t uuid[16], uint32_t limit,
			   int (*cb)(void *, const struct pp_job *), void *ctx, struct pp_err *err);
	/* Jobs newest first with ids below before_id (p checked; its before_id ignored);
	 * text and pid_text: LIKE patterns (pp_dq_patterns) or NULL. */
	int (*job_page)(struct pp_store *s, const struct pp_job_page *p, int64_t before_id,
			const char *text, const char *pid_text,
			int (*cb)(void *, const struct pp_job *), void *ctx, struct pp_err *err);
	/* (batch id, batch name, key state name, rows) for every batch and key state, and
	 * (id, name, "#quarantined", devices) per batch; in batch id order. */
	int (*key_stock)(struct pp_store *s,
			 int (*cb)(void *, int64_t id, const char *batch, const char *state,
				   int64_t n),
			 void *ctx, struct pp_err *err);

	/* ---- API tokens (store.h); hash_hex: 64 lower-case hex digits ---- */
	/* -PP_EEXIST when an active token has the name (or the hash is stored). */
	int (*token_insert)(struct pp_store *s, const char *name, const char *role,
			    const char *hash_hex, int64_t now, struct pp_err *err);
	/* Sets revoked = now on the active token of that name; -PP_ENOTFOUND. */
	int (*token_revoke)(struct pp_store *s, const char *name, int64_t now, struct pp_err *err);
	/* By id; all: revoked ones too. */
	int (*token_list)(struct pp_store *s, bool all,
			  int (*cb)(void *, const struct pp_token_info *, const char *hash_hex),
			  void *ctx, struct pp_err *err);
	/* last_used = max(last_used, when) on the active token with this hash;
	 * -PP_ENOTFOUND. */
	int (*token_touch)(struct pp_store *s, const char *hash_hex, int64_t when,
			   struct pp_err *err);

	/* ---- every sealed blob (rekey.c) ----
	 * sql is rekey.c's, the same text on both backends. sealed_rows runs a query of one
	 * parameter $1 (an id) whose rows are (id, subject, blob), calling cb for each;
	 * sealed_put runs an update of $1 (an id) and $2 (a blob): -PP_ENOTFOUND when it
	 * changed no row. key_check_put replaces meta.key_check. */
	int (*sealed_rows)(struct pp_store *s, const char *sql, int64_t after,
			   int (*cb)(void *ctx, int64_t id, const char *subject, const uint8_t *b,
				     size_t n, struct pp_err *err),
			   void *ctx, struct pp_err *err);
	int (*sealed_put)(struct pp_store *s, const char *sql, int64_t id, const uint8_t *b,
			  size_t n, struct pp_err *err);
	int (*key_check_put)(struct pp_store *s, const uint8_t *b, size_t n, struct pp_err *err);
};

struct pp_store {
	const struct pp_store_ops *ops;
	struct pp_sealer *sealer;
	/* Savepoints opened by pp_store_savepoint and not yet released. */
	unsigned savepoints;
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

/* An atomic unit of work: the caller's transaction gets a savepoint, else one of its
 * own (write-locked) is opened. pp_store_atomic_end commits or releases when rc >= 0,
 * else rolls back (forgetting cached rows); it returns rc, or the error of a failed
 * commit. */
struct pp_store_atomic {
	bool own;
};
int pp_store_atomic_begin(struct pp_store *s, struct pp_store_atomic *a, struct pp_err *err) PP_WUR;
int pp_store_atomic_end(struct pp_store *s, struct pp_store_atomic *a, int rc,
			struct pp_err *err) PP_WUR;

/* Shared by the generic layer and the backends. */
/* 1..max characters of A-Z a-z 0-9 . _ - (batch and token names). */
bool pp_store_word_valid(const char *name, size_t max);
int pp_store_check_pid(const char *pid, struct pp_err *err) PP_WUR;
int pp_store_check_mebx(const char *pw, struct pp_err *err) PP_WUR;
int pp_store_check_pps(const char *pps, struct pp_err *err) PP_WUR;
/* Audit append with the caller's time; checks the text like pp_store_audit_append.
 * Runs in the caller's transaction (it must be in one). */
int pp_store_audit_at(struct pp_store *s, int64_t time, const char *actor, const char *action,
		      const char *subject, const char *detail, struct pp_err *err) PP_WUR;
/* "unknown-pid", "suspect-clone"; NULL otherwise. */
const char *pp_note_kind_name(enum pp_hello_note_kind kind);
/* Names back to enums; -1 when unknown. */
int pp_device_state_from_name(const char *name);
int pp_job_state_from_name(const char *name);
int pp_job_step_from_name(const char *name);
/* "a.b.c.d" into 4 bytes; -PP_EINVAL. */
int pp_store_addr_parse(const char *s, uint8_t out[4]);
void pp_store_addr_format(const uint8_t addr[4], char out[16]);
/* Length of the valid UTF-8 sequence at p (1..4), 0 when it is not one. */
size_t pp_store_utf8_len(const unsigned char *p, size_t avail);
/* Copies text cut to fit cap (never inside a UTF-8 sequence), control characters and
 * bytes that are not UTF-8 replaced by '?'. NULL gives "". */
void pp_store_text_copy(char *out, size_t cap, const char *in);

/* ---- schema (schema.c): the migration runner and the master key check ----
 * A backend lists its migrations (never edit a released one: append) and gives the
 * runner raw statements on its connection; it opens the transaction and takes its lock
 * around pp_store_schema_apply. */
struct pp_migration {
	int64_t version;
	const char *sql;
	/* NULL, or a query whose row says the step's changes are there already (a database
	 * set back to an older version by hand or by a test): sql is then skipped, the
	 * version still recorded. For what the dialect cannot make idempotent (SQLite's
	 * ADD COLUMN). */
	const char *skip_if;
};
struct pp_schema_ops {
	int (*exec)(void *db, const char *sql, const char *what, struct pp_err *err);
	/* meta row `name`: the blob b (n bytes) when b is not NULL, else the number v. */
	int (*meta_set)(void *db, const char *name, int64_t v, const uint8_t *b, size_t n,
			struct pp_err *err);
	/* Whether the query returns a row (struct pp_migration skip_if); may be NULL when
	 * the backend's migrations use none. */
	int (*found)(void *db, const char *sql, bool *found, struct pp_err *err);
	/* meta.key_check; -PP_ENOTFOUND when absent. */
	int (*key_check_get)(void *db, struct pp_sealed_small *kcv, struct pp_err *err);
};
/* -PP_EVERSION when ver is newer than this program's; where names the database. */
int pp_store_schema_check_version(int64_t ver, const char *where, struct pp_err *err) PP_WUR;
/* -PP_ECRYPTO when the master key is not the database's; -PP_ESTORE without a check value. */
int pp_store_schema_check_key(struct pp_store *s, const struct pp_schema_ops *ops, void *db,
			      struct pp_err *err) PP_WUR;
/* The migrations after ver, in order, each with its schema_version; on create the key
 * check value and the creation time. */
int pp_store_schema_apply(struct pp_store *s, const struct pp_schema_ops *ops, void *db,
			  const struct pp_migration *m, size_t n, int64_t ver, bool create,
			  struct pp_err *err) PP_WUR;

/* Scoped wiping of locals that hold a secret or a sealed copy of one:
 *     pp_cleanup(pp_wipe_sealed) struct pp_sealed_small plain = {.len = 0};
 * wipes the whole object when it goes out of scope, on every path. */
#define PP_STORE_WIPER(name, type)                                                                 \
	static inline void name(type *p)                                                           \
	{                                                                                          \
		pp_wipe(p, sizeof(*p));                                                            \
	}
PP_STORE_WIPER(pp_wipe_sealed, struct pp_sealed_small)
PP_STORE_WIPER(pp_wipe_key_sealed, struct pp_key_sealed)
PP_STORE_WIPER(pp_wipe_device_secrets, struct pp_device_secrets)
/* A token hash in hex: not the token, but what authenticates it in the store. */
static inline void pp_wipe_token_hash(char (*h)[2 * PP_TOKEN_HASH_LEN + 1])
{
	pp_wipe(*h, sizeof(*h));
}

#define PP_AUDIT_HASH_LEN 32
/* hash = SHA-256(prev || canonical(seq, time, actor, action, subject, detail)). */
int pp_audit_hash(const uint8_t prev[PP_AUDIT_HASH_LEN], uint64_t seq, int64_t time,
		  const char *actor, const char *action, const char *subject, const char *detail,
		  uint8_t out[PP_AUDIT_HASH_LEN]) PP_WUR;

/* The statements every backend prepares, each in its own SQL dialect (a table indexed by
 * these names in sqlite.c and postgres.c): the operations of the interface above. A
 * backend's enum starts with them and adds its own (transactions, locks). */
/* One enum row a statement name: PP_STORE_SHARED_STATEMENTS(PP_STORE_STMT_ENUM_ROW). */
#define PP_STORE_STMT_ENUM_ROW(name) name,
#define PP_STORE_SHARED_STATEMENTS(X)                                                              \
	X(ST_BATCH_INSERT)                                                                         \
	X(ST_BATCH_BY_NAME)                                                                        \
	X(ST_BATCH_BY_NAME_COUNT)                                                                  \
	X(ST_BATCH_BY_ID)                                                                          \
	X(ST_BATCH_BY_ID_COUNT)                                                                    \
	X(ST_BATCH_LIST)                                                                           \
	X(ST_KEY_INSERT)                                                                           \
	X(ST_KEY_GET)                                                                              \
	X(ST_KEY_SEALED)                                                                           \
	X(ST_KEY_CAS)                                                                              \
	X(ST_KEY_LIST)                                                                             \
	X(ST_KEY_LIST_BATCH)                                                                       \
	X(ST_KEY_LIST_STATE)                                                                       \
	X(ST_KEY_LIST_BATCH_STATE)                                                                 \
	X(ST_AUDIT_TAIL)                                                                           \
	X(ST_AUDIT_INSERT)                                                                         \
	X(ST_AUDIT_LIST)                                                                           \
	X(ST_KEY_LOCK)                                                                             \
	X(ST_KEY_USES)                                                                             \
	X(ST_KEY_USE_INSERT)                                                                       \
	X(ST_KEY_USE_COUNT)                                                                        \
	X(ST_KEY_PROVISIONED)                                                                      \
	X(ST_KEY_FAILURE)                                                                          \
	X(ST_KEY_SUCCESS)                                                                          \
	X(ST_DEVICE_INSERT)                                                                        \
	X(ST_DEVICE_GET)                                                                           \
	X(ST_DEVICE_PUT)                                                                           \
	X(ST_DEVICE_LIST)                                                                          \
	X(ST_DEVICE_LIST_STATE)                                                                    \
	X(ST_ESCROW_GET)                                                                           \
	X(ST_ESCROW_PUT)                                                                           \
	X(ST_JOB_INSERT)                                                                           \
	X(ST_JOB_GET)                                                                              \
	X(ST_JOB_ACTIVE)                                                                           \
	X(ST_JOB_LAST_DONE)                                                                        \
	X(ST_JOB_PUT)                                                                              \
	X(ST_JOBS_RENEW)                                                                           \
	X(ST_JOB_LIST)                                                                             \
	X(ST_JOB_LIST_STATE)                                                                       \
	X(ST_COUNT_KEYS)                                                                           \
	X(ST_COUNT_DEVICES)                                                                        \
	X(ST_COUNT_JOBS)                                                                           \
	X(ST_DEVICE_SET_TLS)                                                                       \
	X(ST_JOB_ACTIVE_AT)                                                                        \
	X(ST_JOBS_PRUNE)                                                                           \
	X(ST_JOBS_DROP_UNBOUND)                                                                    \
	X(ST_HOST_TAKEN)                                                                           \
	X(ST_NOTE_PUT)                                                                             \
	X(ST_NOTE_TRIM)                                                                            \
	X(ST_NOTE_LIST)                                                                            \
	X(ST_PAIR_FAILURE)                                                                         \
	X(ST_KEY_LOCK_RAISE)                                                                       \
	X(ST_PAIR_TRIM)                                                                            \
	X(ST_PAIR_LOCKED)                                                                          \
	X(ST_PAIR_CLEAR)                                                                           \
	X(ST_JOB_EVENT)                                                                            \
	X(ST_JOB_EVENTS)                                                                           \
	X(ST_DEVICE_JOBS)                                                                          \
	X(ST_JOB_PAGE)                                                                             \
	X(ST_JOB_PAGE_STATE)                                                                       \
	X(ST_JOB_SEARCH)                                                                           \
	X(ST_KEY_STOCK)                                                                            \
	X(ST_ESCROW_EVENT)

#endif
