/* The store: batches, keys, devices, jobs and the audit log (docs/architecture.md "Configuration
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

#define PP_STORE_SCHEMA_VERSION 6
#define PP_BATCH_NAME_MAX 64
#define PP_BATCH_SECRET_LEN 32
#define PP_STORE_MEBX_MAX PP_MEBX_PW_MAX /* longest MEBx password stored (keys.h) */
#define PP_AUDIT_FIELD_MAX 256           /* actor, action, subject */
#define PP_AUDIT_DETAIL_MAX 4096
#define PP_STORE_TLS_VERSION_MAX 15 /* "TLSv1.2" */
#define PP_STORE_TLS_CIPHER_MAX 63  /* "ECDHE-PSK-CHACHA20-POLY1305" */

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
/* The same database opened read-only (SQLITE_OPEN_READONLY), for a data directory that
 * cannot be written (a read-only mount, chmod a-w): reads work, every write fails
 * (-PP_EPERM "attempt to write a readonly database"); a schema that needs migrating
 * is -PP_EVERSION. With neither -wal nor -shm beside the database and no right to
 * create the -shm, the file is opened immutable (no writer can be at work without
 * a -wal file). */
int pp_store_open_sqlite_readonly(const char *db_path, const struct pp_master_key *mk,
				  struct pp_store **out, struct pp_err *err) PP_WUR;
/* PostgreSQL backend: several server instances share one database (docs/architecture.md "Beyond
 * one machine"). conninfo: a libpq connection string or URI; the tables live in the
 * first schema of its search_path. Keep passwords out of it where it could be logged
 * (use a ~/.pgpass or PGPASSFILE): this library never prints it, and an unparsable
 * conninfo is reported without quoting it. create: the schema must hold no pskprov
 * tables (-PP_EEXIST); they are made with the current schema version and a check value
 * of mk. !create: they must exist (-PP_ENOTFOUND otherwise), carry a schema no newer
 * than this program's (-PP_EVERSION; older ones are migrated, one instance at a time)
 * and match mk (-PP_ECRYPTO). Connecting gives up after 10 s unless the conninfo says
 * otherwise; a row lock is waited for at most 5 s (-PP_EBUSY, like SQLite's busy
 * timeout), as are deadlocks and serialization failures. Messages from the server
 * come through (first line only; never a bound value). Not thread-safe: one handle per
 * thread, like the SQLite one. Inside a transaction, a call this API refuses (a
 * duplicate, a lost lease, bad input, an unusable key) leaves the transaction usable,
 * as with SQLite; after a database error, roll back. */
int pp_store_open_postgres(const char *conninfo, const struct pp_master_key *mk, bool create,
			   struct pp_store **out, struct pp_err *err) PP_WUR;
/* The one entry point callers use: the backend comes from the configuration, the
 * rules of each are those above. kind AUTO picks it from target: a libpq URI
 * (postgres://, postgresql://) is PostgreSQL, "sqlite:PATH" or any other text an SQLite
 * path. A conninfo in key=value form needs kind POSTGRES. readonly is SQLite's alone
 * (pp_store_open_sqlite_readonly) and excludes create. -PP_EINVAL for an empty target
 * or a combination that makes no sense. */
enum pp_store_kind { PP_STORE_AUTO, PP_STORE_SQLITE, PP_STORE_POSTGRES };
struct pp_store_config {
	enum pp_store_kind kind;
	const char *target; /* SQLite: the database path; PostgreSQL: conninfo or URI */
	bool create;
	bool readonly;
};
int pp_store_open(const struct pp_store_config *c, const struct pp_master_key *mk,
		  struct pp_store **out, struct pp_err *err) PP_WUR;
/* Rolls back an open transaction, wipes, frees; accepts NULL. */
void pp_store_close(struct pp_store *s);
/* "sqlite" or "postgres". */
const char *pp_store_backend(const struct pp_store *s);

/* An explicit transaction takes the write lock at once (SQLite BEGIN IMMEDIATE). Not
 * nested. Outside one, each call below is its own transaction; inside one, each write
 * call runs in its own savepoint, so a call that fails leaves nothing behind and the
 * transaction usable (the rest of it still commits). Commit and rollback also end any
 * savepoints still open. */
int pp_store_begin(struct pp_store *s, struct pp_err *err) PP_WUR;
int pp_store_commit(struct pp_store *s, struct pp_err *err) PP_WUR;
int pp_store_rollback(struct pp_store *s, struct pp_err *err) PP_WUR;
/* Rolls back after a failure that is already being reported (its own error dropped);
 * accepts NULL. */
void pp_store_rollback_quiet(struct pp_store *s);

/* Savepoints inside an explicit transaction (-PP_ESTATE outside one): the server's
 * batching writer runs many operations in one transaction (group commit) and isolates
 * each with a savepoint. They nest; names are internal. Release keeps the work done
 * since the matching savepoint (the transaction still decides); rollback undoes it and
 * releases the savepoint. Release or rollback with none open: -PP_ESTATE. */
int pp_store_savepoint(struct pp_store *s, struct pp_err *err) PP_WUR;
int pp_store_savepoint_release(struct pp_store *s, struct pp_err *err) PP_WUR;
int pp_store_savepoint_rollback(struct pp_store *s, struct pp_err *err) PP_WUR;

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

/* Life of a key (docs/architecture.md): available -> exported -> in-use -> consumed; any state
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

/* A bulk insert: pp_store_key_insert cut in two, so that checking and sealing keys can
 * run on a thread of its own beside the inserts. pp_store_key_bulk_new, on the store's
 * thread in the transaction that made the batch (or any later one), reads the batch's
 * rules and copies the store's sealer; pp_key_bulk_seal checks a key as
 * pp_store_key_insert does and seals its secrets into a row (same blobs, each with its
 * own nonce), on one thread at a time; pp_store_key_bulk_insert stores a row, on the
 * store's thread, into the store the bulk was made from. A row holds no plaintext. */
struct pp_key_bulk;
struct pp_key_bulk_row {
	char pid[PP_PID_LEN + 1];
	int64_t batch_id;
	uint32_t max_devices;
	enum pp_key_state state;
	int64_t now;
	uint8_t pps_len; /* 0: derived, no PPS */
	uint8_t mebx_len;
	uint8_t pps[PP_PPS_LEN + PP_SEAL_OVERHEAD];
	uint8_t mebx[PP_STORE_MEBX_MAX + PP_SEAL_OVERHEAD];
};
/* -PP_ENOTFOUND when the batch does not exist. */
int pp_store_key_bulk_new(struct pp_store *s, int64_t batch_id, struct pp_key_bulk **out,
			  struct pp_err *err) PP_WUR;
/* k->batch_id must be the bulk's. The errors of pp_store_key_insert but -PP_EEXIST. */
int pp_key_bulk_seal(struct pp_key_bulk *kb, const struct pp_key_new *k,
		     struct pp_key_bulk_row *row, struct pp_err *err) PP_WUR;
/* -PP_EEXIST when the PID exists (the caller seals the key again under another). */
int pp_store_key_bulk_insert(struct pp_store *s, const struct pp_key_bulk_row *row,
			     struct pp_err *err) PP_WUR;
/* Wipes and frees; accepts NULL. */
void pp_key_bulk_free(struct pp_key_bulk *kb);

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

/* ---- devices and jobs (docs/dev/store-jobs.md) ----
 *
 * A device is known by its UUID (RFC 4122 byte order; stored as lower-case text). A
 * job is one durable configuration of a device, leased by a worker ("owner": 1..39
 * printable ASCII, the instance and worker that runs it). Times are Unix seconds given
 * by the caller where the function takes `now`; the others stamp their `updated`
 * columns with the clock. Every write below is atomic: it runs in its own transaction,
 * or in a savepoint of the caller's, and leaves nothing behind when it fails. Reason
 * and error texts are stored cut to fit (199 bytes, never inside a UTF-8 sequence),
 * control characters and bytes that are not UTF-8 replaced by '?'. */

enum pp_device_state {
	PP_DEV_SEEN,        /* hellos recorded, no job (unknown PID, unusable key) */
	PP_DEV_CONFIGURING, /* a job is pending, running or waiting to retry */
	PP_DEV_PROVISIONED,
	PP_DEV_FAILED, /* its last job failed; a new hello may start another */
	PP_DEV_QUARANTINED,
	PP_DEV_STATE_MAX
};
enum pp_job_state {
	PP_JOB_PENDING,
	PP_JOB_RUNNING,
	PP_JOB_RETRY,
	PP_JOB_DONE,
	PP_JOB_FAILED,
	PP_JOB_STATE_MAX
};
/* Steps, in docs/protocol.md section 4 order; a job records the last completed one. */
enum pp_job_step {
	PP_STEP_NONE,
	PP_STEP_READ,
	PP_STEP_ACL,
	PP_STEP_MEBX,
	PP_STEP_PSK,
	PP_STEP_NAMES,
	PP_STEP_TIME,
	PP_STEP_COMMIT_SENT,
	PP_STEP_DONE,
	PP_STEP_MAX
};
/* "seen", "configuring", "provisioned", "failed", "quarantined"; "pending", "running",
 * "retry", "done", "failed"; "none", "read", "acl", "mebx", "psk", "names", "time",
 * "commit-sent", "done". "?" for anything else. */
const char *pp_device_state_name(enum pp_device_state st);
const char *pp_job_state_name(enum pp_job_state st);
const char *pp_job_step_name(enum pp_job_step step);

struct pp_hello_in {
	uint8_t uuid[16];   /* RFC 4122 order */
	char pid[9];        /* canonical (else -PP_EINVAL) */
	uint8_t addr[4];    /* IPv4 of the device */
	const char *source; /* "hello" or "agent" */
	int64_t now;
};
enum pp_hello_outcome {
	PP_HELLO_NEW_JOB,    /* a pending job was made */
	PP_HELLO_JOB_ACTIVE, /* a job for this UUID and address is already pending, running
				or waiting to retry */
	PP_HELLO_ALREADY_PROVISIONED,
	PP_HELLO_UNKNOWN_PID,   /* counted in the bounded sample (pp_store_hello_notes) */
	PP_HELLO_KEY_UNUSABLE,  /* revoked, expired, or locked out for this address */
	PP_HELLO_QUARANTINED,   /* the UUID names a quarantined device */
	PP_HELLO_SUSPECT_CLONE, /* the key belongs to other devices (a non-shared key bound
				   to another UUID, or a shared key at its limit): noted in
				   the bounded sample; a job is made all the same, so the
				   server tries the address and pp_store_job_bind quarantines
				   the device if it really holds the key */
	PP_HELLO_OUTCOME_MAX
};
/* Most unproven jobs (pending, retry or failed jobs not yet bound by pp_store_job_bind,
 * a running one apart) kept per PID; a hello beyond it drops the least recently
 * refreshed one. */
#define PP_STORE_UNPROVEN_PER_PID 4
/* Records a hello. A hello proves nothing (anyone can send one with any UUID, PID and
 * address): it says "try this address", binds no key and makes no device row. Every
 * outcome is a success (0); errors are bad input or the database. In this order:
 *  - Unknown PID: UNKNOWN_PID, noted in the bounded sample (no row each).
 *  - A UUID of a known device counts (last_seen, hello count, source); its address,
 *    PID and state are not changed by a hello. Provisioned: ALREADY_PROVISIONED, unless
 *    the PID is the rotated key its last job gave it (unprovisioned since: a new setup,
 *    goes on below). Quarantined: QUARANTINED.
 *  - Key revoked or expired, or locked for this address (pp_store_key_failure):
 *    KEY_UNUSABLE.
 *  - A key that belongs to max_devices other UUIDs already (key_uses; consumed keys
 *    too): SUSPECT_CLONE, noted in the bounded sample; it goes on below all the same.
 *    Revoked and expired keys stop above; consumed ones only here.
 *  - A job for this (UUID, address) that is active: JOB_ACTIVE (a job that is not
 *    running is refreshed). Else a pending job is made (runnable at now, unbound):
 *    NEW_JOB; a job in progress elsewhere is never moved by a hello. Then the PID's
 *    unproven jobs beyond PP_STORE_UNPROVEN_PER_PID are dropped, least recently
 *    refreshed first (never a running or bound one).
 * *job_id (may be NULL) gets the job for NEW_JOB, JOB_ACTIVE and SUSPECT_CLONE, else 0. */
int pp_store_hello(struct pp_store *s, const struct pp_hello_in *h, enum pp_hello_outcome *outcome,
		   int64_t *job_id, struct pp_err *err) PP_WUR;

#define PP_JOB_OWNER_MAX 39
#define PP_STORE_TEXT_MAX 199 /* last_error, reasons */

struct pp_job {
	int64_t id;
	uint8_t uuid[16];
	char pid[9];      /* the key the device had at hello */
	char next_pid[9]; /* the rotated key, once made ("" before) */
	uint8_t addr[4];
	enum pp_job_state state;
	enum pp_job_step step;
	uint32_t attempts;
	char owner[PP_JOB_OWNER_MAX + 1]; /* "" when none; kept on done and failed jobs */
	int64_t lease_until, next_attempt_at, created, updated;
	char last_error[PP_STORE_TEXT_MAX + 1];
	/* Bound by pp_store_job_bind: the device proved the key in a TLS-PSK handshake and
	 * uuid is the one it told over that channel. Until then uuid is only what a hello
	 * claimed, and the job touches no device row. */
	bool bound;
};
/* Claims up to max runnable jobs into out[0..*n): pending/retry with next_attempt_at <=
 * now, or running with lease_until < now (a crashed owner), oldest next_attempt_at
 * first, then by id. Sets owner, lease_until = now + lease_s, state running,
 * attempts + 1; the step is kept, so the new owner resumes after it. SQLite: in the
 * caller's transaction (a savepoint) or its own IMMEDIATE one; PostgreSQL: FOR UPDATE
 * SKIP LOCKED, so instances sharing a database never claim the same job. */
int pp_store_jobs_claim(struct pp_store *s, const char *owner, int64_t now, uint32_t lease_s,
			size_t max, struct pp_job *out, size_t *n, struct pp_err *err) PP_WUR;
/* Extends the lease of every running job this owner holds to now + lease_s. */
int pp_store_jobs_renew(struct pp_store *s, const char *owner, int64_t now, uint32_t lease_s,
			struct pp_err *err) PP_WUR;
/* Each fails with -PP_ESTATE when the job is not running under this owner (lease lost:
 * claimed by another, or finished), -PP_ENOTFOUND when there is no such job.
 * Step: records a completed step (PP_STEP_READ..PP_STEP_COMMIT_SENT; DONE is
 * pp_store_job_complete's). Never lowers the recorded step: an older one is a no-op.
 * PP_STEP_READ on an unbound job binds it to its own UUID first, as pp_store_job_bind
 * with no host name (the engine records READ only after GetUuid, read over the
 * authenticated channel, matched the job's UUID), with the same outcomes:
 * PP_STORE_BIND_CLONE for a clone (quarantined, job failed; the step not recorded). */
/* After the device proved the key (TLS-PSK) and told its UUID over that channel
 * (GetUuid): binds the job's key (its hello PID) to that device and the job to it. The
 * proven device's row is made on first proof (state configuring, address the job's).
 * When proven_uuid is not the UUID the hello claimed, the job becomes the proven
 * device's and an audit entry "job.uuid-corrected" keeps the claim. The device's other
 * unbound jobs that are not running are dropped (superseded).
 * host_name_candidate (NULL or "": reserve nothing, pp_store_job_complete reserves) is
 * the name the server would give it; host_name_out (may be NULL; 64 bytes) gets a name
 * unique among devices: the candidate, or the candidate with "-" and the first 8 hex
 * digits of the UUID, then with "-2", "-3", ... (cut to 63 bytes), reserved for this
 * device. 0: bound (idempotent for the same device: the reserved name again).
 * PP_STORE_BIND_CLONE (> 0, err says why): a clone -- the key is not shared and
 * belongs to another UUID already (before or after that device's setup), the key is
 * shared and at its device limit, or the device is quarantined: the proving device is
 * quarantined (its row made if need be), audited ("device.quarantined") and noted for
 * `keys report`; the job fails for good. It is a positive value, not an error, because
 * these changes must be kept: a caller batching operations in a transaction releases
 * its savepoint (src/server/dbq.c does so for any rc >= 0). -PP_ESTATE: the job is not
 * running under owner, is bound to another device, or its key was revoked or expired
 * meanwhile; like every error, nothing is written. */
#define PP_STORE_BIND_CLONE 1
int pp_store_job_bind(struct pp_store *s, int64_t job_id, const char *owner,
		      const uint8_t proven_uuid[16], const char *host_name_candidate,
		      char host_name_out[64], int64_t now, struct pp_err *err) PP_WUR;
int pp_store_job_step(struct pp_store *s, int64_t id, const char *owner, enum pp_job_step step,
		      struct pp_err *err) PP_WUR;
/* To retry at next_at: state retry, last_error = reason, owner and lease cleared. */
int pp_store_job_retry(struct pp_store *s, int64_t id, const char *owner, int64_t next_at,
		       const char *reason, struct pp_err *err) PP_WUR;
/* Final failure: job failed with last_error; for a bound job, the device goes to failed
 * with it (a quarantined device stays quarantined) and an audit entry
 * "job.failed" (actor: owner) is written. An unbound job (nobody proved anything: a
 * forged or stale hello) changes no device and writes no audit entry; it stays as a
 * failed unproven job of its PID until hellos push it out. The keys stay in-use and
 * bound: the device may hold either. */
int pp_store_job_fail(struct pp_store *s, int64_t id, const char *owner, const char *reason,
		      struct pp_err *err) PP_WUR;
/* Success, one transaction: the job must be bound (-PP_ESTATE otherwise); job done (step
 * DONE); device provisioned with host/domain names (NULL or "" for none; a host name of
 * up to 63 bytes, a domain of up to 253, printable ASCII; the name reserved by
 * pp_store_job_bind wins over host_name, and without one host_name is made unique the
 * same way), provisioned_at = now, its PID the rotated key when there is one;
 * the hello key consumed once the distinct devices provisioned with it reach its
 * max_devices (a unique key at once; a shared key stays in-use until then); the next
 * key stays in-use, bound to the device; audit entry "device.provisioned" (actor:
 * owner). Idempotent: completing a job already done by this owner returns 0 and
 * changes nothing. */
int pp_store_job_complete(struct pp_store *s, int64_t id, const char *owner, const char *host_name,
			  const char *domain, int64_t now, struct pp_err *err) PP_WUR;

/* Escrow before use: stores (sealed, AAD = UUID) the admin user/password and the new
 * MEBx password for a device. Idempotent: when already escrowed, the stored values win
 * and are returned in the out-buffers (so a repeat after a crash sends the same ones).
 * The given values must be valid even then: user 1..32, password 1..64, MEBx password
 * 1..32 bytes of printable ASCII without spaces. -PP_ENOTFOUND for an unknown device
 * (a device row exists once a job was bound to it), -PP_EPERM for a quarantined one.
 * Only the admin user is stored in clear. Wipe the struct when done. */
struct pp_device_secrets {
	char admin_user[33];
	char admin_password[65];
	char mebx_password[33];
};
int pp_store_device_escrow(struct pp_store *s, const uint8_t uuid[16],
			   struct pp_device_secrets *inout, struct pp_err *err) PP_WUR;
/* The escrowed secrets; -PP_ENOTFOUND for an unknown device or one without escrow.
 * Revealing them to a person is the caller's audited act. */
int pp_store_device_secrets(struct pp_store *s, const uint8_t uuid[16],
			    struct pp_device_secrets *out, struct pp_err *err) PP_WUR;

/* Rotation: stores the device's next key and records it on the job as next_pid. The
 * key row: the hello key's batch, state in-use, max_devices 1, the candidate PPS sealed
 * and, as its MEBx password, the device's new one from the escrow (-PP_ESTATE when the
 * device has no escrow yet), bound to the device's UUID. Idempotent: if the job already
 * has a next key, returns it and ignores the given one (which may then be NULL). The
 * caller generates the candidate (canonical PID and PPS); a PID already in the store is
 * -PP_EEXIST: draw again. -PP_ESTATE when the job is not running under owner. Wipe
 * pps_out when done. */
int pp_store_job_next_key(struct pp_store *s, int64_t job_id, const char *owner,
			  const char *cand_pid, const char *cand_pps, struct pp_pid *pid_out,
			  struct pp_pps *pps_out, struct pp_err *err) PP_WUR;

/* Handshake failure accounting per (PID, device address): anyone can make the server try
 * a key at any address (a hello), so failures there must not lock the key for the
 * device that holds it elsewhere. The pair's count + 1; once it reaches `limit` (>= 1)
 * the pair is locked until now + lock_s (hellos for that PID from that address are
 * KEY_UNUSABLE), and each further failure renews the lock (the count is not reset by
 * time: after the lock ends, one more failure locks it again). The key's failure_count
 * counts every failure and its locked_until is the latest lock of any address (both
 * for listings; a hello only looks at its own address's lock). At most
 * PP_STORE_PAIRS_MAX addresses are kept per PID (the least recently failed dropped). A success
 * resets the key and all its pairs. -PP_ENOTFOUND for an unknown PID. */
#define PP_STORE_PAIRS_MAX 64 /* addresses with a failure count kept per PID */
int pp_store_key_failure(struct pp_store *s, const char *pid, const uint8_t addr[4], int64_t now,
			 uint32_t limit, uint32_t lock_s, struct pp_err *err) PP_WUR;
int pp_store_key_success(struct pp_store *s, const char *pid, struct pp_err *err) PP_WUR;

/* Bounded samples of hellos for the operator (`keys report`): the last
 * PP_STORE_NOTES_MAX distinct (PID, address) of each kind, with the UUID last claimed,
 * a count and first/last times; older ones are dropped, so a flood costs no rows. */
#define PP_STORE_NOTES_MAX 64
enum pp_hello_note_kind {
	PP_NOTE_UNKNOWN_PID,   /* a PID the store does not have */
	PP_NOTE_SUSPECT_CLONE, /* a key that belongs to other devices (SUSPECT_CLONE), and
				  devices quarantined by pp_store_job_bind */
	PP_NOTE_KIND_MAX
};
struct pp_hello_note {
	enum pp_hello_note_kind kind;
	char pid[9];
	uint8_t uuid[16];
	uint8_t addr[4];
	uint64_t count;
	int64_t first_seen, last_seen;
};
/* Newest first. */
int pp_store_hello_notes(struct pp_store *s, enum pp_hello_note_kind kind,
			 int (*cb)(void *ctx, const struct pp_hello_note *), void *ctx,
			 struct pp_err *err) PP_WUR;

struct pp_device_info {
	uint8_t uuid[16];
	char pid[9]; /* the key it holds now: after a rotation, the new one */
	uint8_t addr[4];
	enum pp_device_state state;
	bool quarantined; /* ever quarantined (stays when the state moves on) */
	bool has_credentials;
	char host_name[64];
	char domain[254];
	char last_error[200];
	int64_t first_seen, last_seen, provisioned_at;
	/* The last completed TLS handshake with the device: protocol version ("TLSv1",
	 * "TLSv1.2") and cipher suite (OpenSSL's name, "PSK-AES128-CBC-SHA"); "" before
	 * any. Set by pp_store_device_set_tls. */
	char tls_version[PP_STORE_TLS_VERSION_MAX + 1];
	char tls_cipher[PP_STORE_TLS_CIPHER_MAX + 1];
	/* For the operator's views (pp_store_device_query, pp_store_device_get): the row's
	 * id (order of first sight; the keyset cursor's tie-break), the batch of the key it
	 * holds now ("" when none), why it was quarantined ("" when never), its hellos. */
	int64_t id;
	char batch[PP_BATCH_NAME_MAX + 1];
	char quarantine_reason[PP_STORE_TEXT_MAX + 1];
	uint64_t hello_count;
};
/* Records what the last completed TLS handshake with the device negotiated (tls.h
 * pp_tls_negotiated gives both): version 1..PP_STORE_TLS_VERSION_MAX and cipher
 * 1..PP_STORE_TLS_CIPHER_MAX characters of [A-Za-z0-9._-] (-PP_EINVAL naming which,
 * the value never echoed). -PP_ENOTFOUND for an unknown device. Atomic, like every
 * write above; it changes nothing else of the device but its updated time. */
int pp_store_device_set_tls(struct pp_store *s, const uint8_t uuid[16], const char *version,
			    const char *cipher, struct pp_err *err) PP_WUR;
/* -PP_ENOTFOUND for an unknown device. */
int pp_store_device_get(struct pp_store *s, const uint8_t uuid[16], struct pp_device_info *out,
			struct pp_err *err) PP_WUR;
/* In order of first sight. limit 0: all. */
struct pp_device_filter {
	int state; /* enum pp_device_state, -1 any */
	uint64_t limit;
};
int pp_store_device_list(struct pp_store *s, const struct pp_device_filter *f,
			 int (*cb)(void *ctx, const struct pp_device_info *), void *ctx,
			 struct pp_err *err) PP_WUR;
/* In id order. limit 0: all. */
struct pp_job_filter {
	int state; /* enum pp_job_state, -1 any */
	uint64_t limit;
};
int pp_store_job_list(struct pp_store *s, const struct pp_job_filter *f,
		      int (*cb)(void *ctx, const struct pp_job *), void *ctx,
		      struct pp_err *err) PP_WUR;
/* -PP_ENOTFOUND for an unknown job. */
int pp_store_job_get(struct pp_store *s, int64_t id, struct pp_job *out, struct pp_err *err) PP_WUR;
/* Counts for `pskprov status` and /metrics, indexed by the enums above. */
struct pp_store_counts {
	uint64_t keys_by_state[PP_KEY_STATE_MAX];
	uint64_t devices_by_state[PP_DEV_STATE_MAX];
	uint64_t jobs_by_state[PP_JOB_STATE_MAX];
};
int pp_store_counts(struct pp_store *s, struct pp_store_counts *out, struct pp_err *err) PP_WUR;

/* ---- the operator's views and actions (docs/api.md) ---- */

/* Device listings for the API and the console: filters, one sort, keyset pages. */
enum pp_device_sort {
	PP_DEV_SORT_FIRST_SEEN, /* the row id: order of first sight */
	PP_DEV_SORT_LAST_SEEN,
	PP_DEV_SORT_HOST_NAME,
	PP_DEV_SORT_ADDRESS, /* numeric order of the IPv4 address */
	PP_DEV_SORT_STATE,   /* the state's name */
	PP_DEV_SORT_PID,
	PP_DEV_SORT_MAX
};
/* "first_seen", "last_seen", "host_name", "address", "state", "pid"; "?" otherwise. */
const char *pp_device_sort_name(enum pp_device_sort s);
int pp_device_sort_parse(const char *name, enum pp_device_sort *out, struct pp_err *err) PP_WUR;

#define PP_DEVICE_PAGE_MAX 500
/* What a listing takes: a page and one row more (to tell whether another page follows). */
#define PP_STORE_ROWS_MAX (PP_DEVICE_PAGE_MAX + 1)
#define PP_DEVICE_TEXT_MAX 64
/* Where the previous page ended: its last row's sort key and id. The key is the sort
 * column's value: text for host_name, state and pid ("" for none), a number for
 * first_seen (unused: the id is the key), last_seen and address. */
struct pp_device_cursor {
	int64_t id;
	int64_t num;
	char text[PP_BATCH_NAME_MAX + 1]; /* 64: host names and the rest fit */
};
/* Fills a cursor from a row as sorted by `sort` (the next page starts after it). */
void pp_device_cursor_from(enum pp_device_sort sort, const struct pp_device_info *d,
			   struct pp_device_cursor *c);
struct pp_device_query {
	int state;         /* enum pp_device_state, -1 any */
	const char *batch; /* NULL: any; else the batch of the key held now (-PP_ENOTFOUND
			      when no batch has that name) */
	int quarantined;   /* -1 any, 0 never quarantined, 1 ever quarantined */
	const char *text;  /* NULL or "": none; else 1..PP_DEVICE_TEXT_MAX printable ASCII
			      (-PP_EINVAL otherwise), a case-insensitive part of the UUID,
			      the PID (with or without its dash), the address or the host
			      name */
	enum pp_device_sort sort;
	bool desc;                            /* descending (ties: the id descending too) */
	uint32_t limit;                       /* 1..PP_STORE_ROWS_MAX (-PP_EINVAL otherwise) */
	const struct pp_device_cursor *after; /* NULL: the first page */
};
/* The page of devices the query names, through cb, in its order (the id breaks ties).
 * *total (may be NULL) gets how many devices match the filters, every page together.
 * Fast at 100,000 devices: indexed sort columns, keyset paging (no OFFSET). */
int pp_store_device_query(struct pp_store *s, const struct pp_device_query *q,
			  int (*cb)(void *ctx, const struct pp_device_info *), void *ctx,
			  uint64_t *total, struct pp_err *err) PP_WUR;

/* A device's jobs, newest first, at most limit (1..100). */
int pp_store_device_jobs(struct pp_store *s, const uint8_t uuid[16], uint32_t limit,
			 int (*cb)(void *ctx, const struct pp_job *), void *ctx,
			 struct pp_err *err) PP_WUR;

/* A job's history: one event for each durable step, written by the store functions
 * above in the same transaction as the step itself. Names (docs/api.md): "queued",
 * "claimed", "bound", "uuid-corrected", "escrowed", "next-key", "commit-sent", "retry",
 * "failed", "quarantined", "done", "requeued". Detail is printable text without secrets
 * (cut to PP_STORE_TEXT_MAX). At most PP_JOB_EVENTS_MAX per job: beyond it the oldest
 * "claimed"/"retry" events are dropped first (a job retried for days keeps its start and
 * its end). */
#define PP_JOB_EVENTS_MAX 64
struct pp_job_event {
	int64_t job_id;
	int64_t time;
	char event[24];
	char detail[PP_STORE_TEXT_MAX + 1];
};
/* In the order they happened. -PP_ENOTFOUND for an unknown job. */
int pp_store_job_events(struct pp_store *s, int64_t job_id,
			int (*cb)(void *ctx, const struct pp_job_event *), void *ctx,
			struct pp_err *err) PP_WUR;

/* Jobs newest first, keyset paged by id. Without text or bound the page walks the
 * primary key; a search may scan (as the device search does). */
struct pp_job_page {
	int state;         /* enum pp_job_state, -1 any */
	uint32_t limit;    /* 1..PP_STORE_ROWS_MAX */
	int64_t before_id; /* 0: from the newest; else only ids below it */
	const char *text;  /* NULL or "": none; else 1..PP_DEVICE_TEXT_MAX printable ASCII
			      (-PP_EINVAL otherwise), a case-insensitive part of the job's
			      PID or next PID (with or without its dash), its address or
			      its UUID */
	int bound;         /* -1 any, 0 unbound (never proved its key), 1 bound */
};
int pp_store_job_page(struct pp_store *s, const struct pp_job_page *p,
		      int (*cb)(void *ctx, const struct pp_job *), void *ctx,
		      struct pp_err *err) PP_WUR;

/* Key stock, one entry per batch in creation order: its keys by state, and how many
 * devices holding a key of it were ever quarantined. */
struct pp_key_stock {
	char batch[PP_BATCH_NAME_MAX + 1];
	uint64_t by_state[PP_KEY_STATE_MAX];
	uint64_t total;
	uint64_t quarantined_devices;
};
int pp_store_key_stock(struct pp_store *s, int (*cb)(void *ctx, const struct pp_key_stock *),
		       void *ctx, struct pp_err *err) PP_WUR;

/* An administrator's retry of a failed job: pending, runnable at now, attempts 0, owner
 * cleared, the step and next key kept (it resumes after its last durable step); a bound
 * job's device goes back to configuring. Audit "job.requeued" (actor, subject the job
 * id, detail the device UUID) and a "requeued" event, in the same transaction.
 * -PP_ENOTFOUND: no such job. -PP_ESTATE (message naming why): the job has not failed,
 * its device is quarantined ("release the quarantine first"), or another job of the
 * device is pending, running or waiting to retry. */
int pp_store_job_requeue(struct pp_store *s, int64_t job_id, const char *actor, int64_t now,
			 struct pp_err *err) PP_WUR;

/* Releases a quarantined device: state failed (a hello or a retry starts over; a device
 * that still holds another's key is quarantined again at its next proof), the
 * quarantined flag and reason kept as history. Audit "device.released" (actor, subject
 * the UUID, detail the reason: 1..PP_STORE_TEXT_MAX printable characters, -PP_EINVAL
 * otherwise). -PP_ENOTFOUND: unknown device; -PP_ESTATE: not quarantined (naming its
 * state). */
int pp_store_device_release(struct pp_store *s, const uint8_t uuid[16], const char *actor,
			    const char *reason, int64_t now, struct pp_err *err) PP_WUR;

/* ---- connection health ----
 *
 * A PostgreSQL connection can be lost (the server restarted, a network cut); SQLite's
 * cannot. These let the one thread that owns a handle notice that, connect again, and
 * learn whether a COMMIT whose answer was lost took effect. */

/* True when the handle's connection is gone (PostgreSQL: closed or broken); every call
 * but pp_store_reconnect then fails. Always false for SQLite. */
bool pp_store_conn_lost(struct pp_store *s);
/* One attempt to connect again with the handle's conninfo, blocking up to its connect
 * timeout. An open transaction is gone with the old connection (see pp_store_txn_id);
 * savepoints, prepared statements and cached rows are forgotten and the session settings
 * applied again. 0 once connected, else -PP_ESTORE naming why not. SQLite: 0. */
int pp_store_reconnect(struct pp_store *s, struct pp_err *err) PP_WUR;

enum pp_txn_status {
	PP_TXN_COMMITTED,
	PP_TXN_ABORTED,
	PP_TXN_UNKNOWN /* still in progress, or too old to tell */
};
/* Inside an explicit transaction, just before committing it: an id to ask
 * pp_store_txn_status about if the connection is lost before COMMIT answers. 0 when the
 * transaction has written nothing (its outcome does not matter) and for SQLite (whose
 * COMMIT never leaves its outcome in doubt). -PP_ESTATE outside a transaction. */
int pp_store_txn_id(struct pp_store *s, uint64_t *id, struct pp_err *err) PP_WUR;
/* On a (new) connection: did transaction id commit? id 0: PP_TXN_ABORTED. */
int pp_store_txn_status(struct pp_store *s, uint64_t id, enum pp_txn_status *st,
			struct pp_err *err) PP_WUR;
/* Health check: the store is reachable and takes writes. Writes `now` into the
 * heartbeat row of the meta table, in a savepoint of the caller's transaction or in one
 * of its own; an error (a full disk, a lost connection, a lock held too long) names
 * what failed. */
int pp_store_heartbeat(struct pp_store *s, int64_t now, struct pp_err *err) PP_WUR;

/* ---- API tokens ----
 *
 * Bearer tokens for the server's HTTP API, each with a role: "read" (GET endpoints),
 * "admin" (everything) or "agent" (POST /api/v1/hello only). A token is "ppt_" and 64
 * lower-case hex digits of 32 random bytes, shown once when made; the store keeps only
 * its SHA-256 (pp_token_hash), so a copy of the database lets no one call the API.
 * Names are 1..64 of [A-Za-z0-9._-], unique among tokens not revoked; a revoked token
 * stays listed (its name free again) and is never accepted again. Creating and
 * revoking are audited ("token.create", "token.revoke"; subject the name, detail the
 * role) in the same transaction. Several server instances on one PostgreSQL database
 * share the tokens. */
#define PP_TOKEN_NAME_MAX 64
#define PP_TOKEN_PREFIX "ppt_"
#define PP_TOKEN_TEXT_LEN 68 /* "ppt_" + 64 hex digits */
#define PP_TOKEN_HASH_LEN 32
#define PP_TOKEN_ROLE_MAX 8

bool pp_token_name_valid(const char *name);
/* "read", "admin" or "agent". */
bool pp_token_role_valid(const char *role);
/* "ppt_" and 64 lower-case hex digits, nothing else. */
bool pp_token_well_formed(const char *token);
/* SHA-256 of the token text. -PP_EINVAL when it is not well formed. */
int pp_token_hash(const char *token, uint8_t out[PP_TOKEN_HASH_LEN]) PP_WUR;

struct pp_token_info {
	char name[PP_TOKEN_NAME_MAX + 1];
	char role[PP_TOKEN_ROLE_MAX];
	int64_t created;
	int64_t last_used; /* 0: never (as recorded by servers, a few seconds late) */
	int64_t revoked;   /* 0: active; else when it was revoked */
};
/* Draws a token, stores its hash and audits the act (actor: who did it). The token is
 * written to token (wipe it when done) and never kept. -PP_EEXIST when an active token
 * has the name; -PP_EINVAL for a bad name or role. */
int pp_store_token_create(struct pp_store *s, const char *name, const char *role, const char *actor,
			  char token[PP_TOKEN_TEXT_LEN + 1], struct pp_err *err) PP_WUR;
/* Revokes the active token of that name and audits it; -PP_ENOTFOUND when there is
 * none. */
int pp_store_token_revoke(struct pp_store *s, const char *name, const char *actor,
			  struct pp_err *err) PP_WUR;
/* In creation order; all: revoked ones too. Never the token, nor its hash. */
int pp_store_token_list(struct pp_store *s, bool all,
			int (*cb)(void *ctx, const struct pp_token_info *), void *ctx,
			struct pp_err *err) PP_WUR;
/* The active tokens as a server checks them: hash, role and name (the audit actor). */
struct pp_token_entry {
	uint8_t hash[PP_TOKEN_HASH_LEN];
	char role[PP_TOKEN_ROLE_MAX];
	char name[PP_TOKEN_NAME_MAX + 1];
};
int pp_store_token_active(struct pp_store *s, int (*cb)(void *ctx, const struct pp_token_entry *),
			  void *ctx, struct pp_err *err) PP_WUR;
/* Records a use of the active token with this hash: last_used = max(last_used, when).
 * -PP_ENOTFOUND when there is no such active token (revoked meanwhile). */
int pp_store_token_touch(struct pp_store *s, const uint8_t hash[PP_TOKEN_HASH_LEN], int64_t when,
			 struct pp_err *err) PP_WUR;

#endif
