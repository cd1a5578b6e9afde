/* The store: batches, keys, devices, jobs and the audit log (system.md, "Configuration
 * server internals"), behind one interface with a backend per database. Callers use
 * only these functions; a backend fills the operations table in store_impl.h.
 *
 * Secrets (PPS, MEBx and admin passwords, batch secrets) are sealed with the master key
 * (seal.h) before they reach a backend and unsealed after they leave it: a database
 * alone reveals no secret. PIDs, batch names and audit text are stored in clear.
 *
 * A store handle is not thread-safe: one per thread. Callback strings and structs are
 * valid only during the callback. A callback may read from the store but should not
 * write to it, and must not start the same listing again (-PP_EBUSY). Callbacks return
 * 0 to go on, > 0 to stop early (the list function then returns 0), < 0 to abort (the
 * list function returns that value).
 *
 * Times are Unix seconds. */
#ifndef PSKPROV_STORE_STORE_H
#define PSKPROV_STORE_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/err.h"
#include "keys/keys.h"
#include "store/seal.h"

#define PP_STORE_SCHEMA_VERSION 1
#define PP_BATCH_NAME_MAX 64
#define PP_BATCH_SECRET_LEN 32
#define PP_STORE_MEBX_MAX 32   /* longest MEBx password the store accepts, bytes */
#define PP_AUDIT_FIELD_MAX 256 /* actor, action, subject */
#define PP_AUDIT_DETAIL_MAX 4096

struct pp_store;

/* SQLite backend. create: db_path must not exist; it is created 0600 (its -wal and
 * -shm files take the same mode) with the current schema and a check value of mk.
 * !create: db_path must exist, be private (no group/other bits: -PP_EPERM), carry a
 * schema no newer than this program's (-PP_EVERSION; older ones are migrated) and
 * match mk (-PP_ECRYPTO "master key does not match this database"). The store keeps
 * its own copy of the key schedule: the caller may wipe mk after the call.
 * The database uses WAL, synchronous=NORMAL (a commit survives a crash of the program,
 * the last ones may be lost on power failure), foreign keys and a 5 s busy timeout. */
int pp_store_open_sqlite(const char *db_path, const struct pp_master_key *mk, bool create,
			 struct pp_store **out, struct pp_err *err) PP_WUR;
/* Rolls back an open transaction, wipes, frees; accepts NULL. */
void pp_store_close(struct pp_store *s);
/* "sqlite", later "postgres". */
const char *pp_store_backend(const struct pp_store *s);

/* An explicit transaction takes the write lock at once (SQLite BEGIN IMMEDIATE). Not
 * nested. Outside one, each call below is its own transaction. */
int pp_store_begin(struct pp_store *s, struct pp_err *err) PP_WUR;
int pp_store_commit(struct pp_store *s, struct pp_err *err) PP_WUR;
int pp_store_rollback(struct pp_store *s, struct pp_err *err) PP_WUR;

/* ---- batches ---- */

struct pp_batch_new {
	const char *name;      /* 1..64 of [A-Za-z0-9._-] */
	bool derived;          /* PPS derived from the batch secret (keys.h pp_pps_derive) */
	const uint8_t *secret; /* derived only: PP_BATCH_SECRET_LEN bytes; NULL otherwise */
	size_t secret_len;
	uint32_t shared_max; /* 0: unique keys; else each key may serve this many devices */
};

struct pp_batch_info {
	int64_t id;
	char name[PP_BATCH_NAME_MAX + 1];
	bool derived;
	uint32_t shared_max;
	int64_t created;
	uint64_t key_count;
};

bool pp_batch_name_valid(const char *name);
/* -PP_EEXIST when the name is taken. */
int pp_store_batch_create(struct pp_store *s, const struct pp_batch_new *b, int64_t *id,
			  struct pp_err *err) PP_WUR;
/* -PP_ENOTFOUND when there is no such batch. */
int pp_store_batch_get(struct pp_store *s, const char *name, struct pp_batch_info *info,
		       struct pp_err *err) PP_WUR;
/* In creation order. */
int pp_store_batch_list(struct pp_store *s, int (*cb)(void *ctx, const struct pp_batch_info *),
			void *ctx, struct pp_err *err) PP_WUR;

/* ---- keys ---- */

/* Life of a key (system.md): available -> exported -> in-use -> consumed; any state
 * but a final one -> revoked; available or exported -> expired. Stored as the names
 * below ("in-use"); the numbers are not stored. */
enum pp_key_state {
	PP_KEY_AVAILABLE,
	PP_KEY_EXPORTED,
	PP_KEY_IN_USE,
	PP_KEY_CONSUMED,
	PP_KEY_REVOKED,
	PP_KEY_EXPIRED,
	PP_KEY_STATE_MAX
};
/* "available", "exported", "in-use", "consumed", "revoked", "expired"; "?" otherwise. */
const char *pp_key_state_name(enum pp_key_state st);
int pp_key_state_parse(const char *s, enum pp_key_state *out, struct pp_err *err) PP_WUR;
/* True when the table above allows from -> to. */
bool pp_key_transition_allowed(enum pp_key_state from, enum pp_key_state to);

struct pp_key_new {
	const char *pid;           /* canonical: 8 symbols, upper case, checksum right */
	const char *pps;           /* canonical 32 symbols; NULL when the batch is derived */
	const char *mebx_password; /* 1..PP_STORE_MEBX_MAX printable ASCII */
	int64_t batch_id;
	uint32_t max_devices;    /* 0: the batch's (1, or its shared_max); else 1..that */
	enum pp_key_state state; /* available, exported, or in-use (a rotated key) */
};
/* -PP_EEXIST when the PID exists (the caller generates another). -PP_ENOTFOUND when
 * the batch does not. Fast path for bulk inserts inside one transaction. */
int pp_store_key_insert(struct pp_store *s, const struct pp_key_new *k, struct pp_err *err) PP_WUR;

struct pp_key_info {
	char pid[9];
	char batch[PP_BATCH_NAME_MAX + 1];
	enum pp_key_state state;
	bool derived;
	bool shared; /* the batch's shared_max > 0: flag it in every listing */
	uint32_t max_devices, use_count, failure_count;
	int64_t created, updated;
	int64_t locked_until; /* 0: not locked */
	int64_t exported_at;  /* 0: never exported */
};
/* -PP_ENOTFOUND when there is no such PID. */
int pp_store_key_get(struct pp_store *s, const char *pid, struct pp_key_info *info,
		     struct pp_err *err) PP_WUR;

struct pp_key_filter {
	const char *batch; /* NULL: any; an unknown name is -PP_ENOTFOUND */
	int state;         /* enum pp_key_state, or -1 for any */
	uint64_t limit;    /* 0: all */
	const char *after; /* paging: only PIDs after this one; NULL from the start */
};
/* In PID order. */
int pp_store_key_list(struct pp_store *s, const struct pp_key_filter *f,
		      int (*cb)(void *ctx, const struct pp_key_info *), void *ctx,
		      struct pp_err *err) PP_WUR;

/* The secrets of a key: its PPS (derived keys: derived from the unsealed batch secret)
 * and its MEBx password (mebx_cap >= PP_STORE_MEBX_MAX + 1 is always enough). Either
 * output may be NULL when not wanted. Wipe them when done. Revealing them to a person
 * is the caller's audited act. */
int pp_store_key_secrets(struct pp_store *s, const char *pid, struct pp_pps *pps, char *mebx,
			 size_t mebx_cap, struct pp_err *err) PP_WUR;

/* Moves a key along its life (see enum pp_key_state); anything else is -PP_ESTATE with
 * a message naming both states. Entering exported sets exported_at. */
int pp_store_key_set_state(struct pp_store *s, const char *pid, enum pp_key_state to,
			   struct pp_err *err) PP_WUR;

/* ---- audit log ----
 *
 * Append-only and hash-chained: entry n stores
 *     hash_n = SHA-256(hash_{n-1} || u64be(seq) || i64be(time) || lp(actor) ||
 *                      lp(action) || lp(subject) || lp(detail))
 * where lp(s) = u32be(strlen(s)) || s and hash_0 is 32 zero bytes; hashes are stored as
 * lower-case hex. The backend refuses UPDATE and DELETE of audit rows.
 * Audit text is stored in clear: callers must never put a secret in it (name the PID or
 * "PPS group 3", never the value). Strings are printable UTF-8 without control
 * characters; subject and detail may be NULL (stored as ""). */
struct pp_audit_entry {
	uint64_t seq; /* from 1, no gaps */
	int64_t time;
	const char *actor, *action, *subject, *detail;
	char hash[65];
};
int pp_store_audit_append(struct pp_store *s, const char *actor, const char *action,
			  const char *subject, const char *detail, struct pp_err *err) PP_WUR;
/* Walks the whole chain. *entries (may be NULL) gets the number of entries checked.
 * -PP_ECRYPTO naming the first bad seq (altered, missing or reordered entries). The
 * chain cannot show entries cut off its end: compare *entries with a count or head
 * hash kept elsewhere. */
int pp_store_audit_verify(struct pp_store *s, uint64_t *entries, struct pp_err *err) PP_WUR;
/* Entries with seq > since_seq, in order. */
int pp_store_audit_list(struct pp_store *s, uint64_t since_seq,
			int (*cb)(void *ctx, const struct pp_audit_entry *), void *ctx,
			struct pp_err *err) PP_WUR;

#endif
