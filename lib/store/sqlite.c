/* SQLite backend: one file in the data directory, WAL, prepared statements cached for
 * the life of the handle (docs/architecture.md "Configuration server internals"). Every value
 * reaches SQL through a bound parameter; the SQL text is constant. */
#include "store/store_impl.h"
#include "store/health_impl.h"

#include "core/fileio.h"
#include "core/parse.h"
#include "core/secret.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sqlite3.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#ifndef SQLITE_OPEN_EXRESCODE /* SQLite < 3.37: sqlite3_extended_result_codes does it */
#define SQLITE_OPEN_EXRESCODE 0
#endif

#define BUSY_TIMEOUT_MS 5000
/* Keep the WAL from staying huge after a bulk import has been checkpointed. */
#define WAL_SIZE_LIMIT "67108864"
/* 32 MiB of page cache (negative: KiB): holds the pid index of a few million keys, so
 * bulk inserts and lookups rarely go to the file. */
#define CACHE_KIB "-32768"

/* ---- schema ----
 *
 * An ordered list of migrations; each runs once, in order, in one transaction with the
 * update of meta.schema_version. Never edit a released migration: append one.
 * Conventions: times are Unix seconds (0 = never); sealed columns hold seal.h blobs,
 * with their purpose and subject named beside them; states are the names the C code
 * prints, checked by the schema with OR chains: "state IN (...)" in a CHECK builds an
 * ephemeral table for every row and halved the bulk insert rate. */

static const char schema_v1[] =
    "CREATE TABLE meta (\n"
    "  name TEXT NOT NULL PRIMARY KEY,\n"
    "  value\n"
    ") WITHOUT ROWID;\n"
    "INSERT INTO meta (name, value) VALUES ('schema_version', 0);\n"

    /* secret: sealed, purpose "batch", subject "batch:<name>", present exactly when
     * derived. shared_max: 0 = unique keys. */
    "CREATE TABLE batches (\n"
    "  id INTEGER PRIMARY KEY AUTOINCREMENT,\n"
    "  name TEXT NOT NULL UNIQUE CHECK (length(name) BETWEEN 1 AND 64),\n"
    "  derived INTEGER NOT NULL CHECK (derived = 0 OR derived = 1),\n"
    "  secret BLOB,\n"
    "  shared_max INTEGER NOT NULL DEFAULT 0 CHECK (shared_max >= 0),\n"
    "  created INTEGER NOT NULL,\n"
    "  CHECK ((derived = 1) = (secret IS NOT NULL))\n"
    ");\n"

    /* A rowid table with a unique index on pid rather than WITHOUT ROWID keyed by pid:
     * bulk inserts of random PIDs then append rows in order and scatter only the small
     * pid index, which stays in the page cache (twice the insert rate at 1M keys).
     * pps: sealed, purpose "pps", subject PID; NULL when the batch is derived.
     * mebx: sealed, purpose "mebx", subject PID. use_count: devices that used the key
     * (key_uses). failure_count, locked_until: handshake failure lockout. */
    "CREATE TABLE keys (\n"
    "  id INTEGER PRIMARY KEY,\n"
    "  pid TEXT NOT NULL UNIQUE CHECK (length(pid) = 8),\n"
    "  batch_id INTEGER NOT NULL REFERENCES batches (id),\n"
    "  pps BLOB,\n"
    "  mebx BLOB NOT NULL,\n"
    "  state TEXT NOT NULL CHECK (state = 'available' OR state = 'exported' OR\n"
    "    state = 'in-use' OR state = 'consumed' OR state = 'revoked' OR state = 'expired'),\n"
    "  max_devices INTEGER NOT NULL DEFAULT 1 CHECK (max_devices >= 1),\n"
    "  use_count INTEGER NOT NULL DEFAULT 0 CHECK (use_count >= 0),\n"
    "  failure_count INTEGER NOT NULL DEFAULT 0 CHECK (failure_count >= 0),\n"
    "  locked_until INTEGER NOT NULL DEFAULT 0,\n"
    "  exported_at INTEGER NOT NULL DEFAULT 0,\n"
    "  created INTEGER NOT NULL,\n"
    "  updated INTEGER NOT NULL\n"
    ");\n"
    "CREATE INDEX keys_batch_state ON keys (batch_id, state);\n"

    /* Which devices used which key: enforces max_devices of a shared key, and finds a
     * unique key seen from a second UUID (a cloned key: quarantine). */
    "CREATE TABLE key_uses (\n"
    "  pid TEXT NOT NULL REFERENCES keys (pid),\n"
    "  uuid TEXT NOT NULL CHECK (length(uuid) = 36),\n"
    "  first_seen INTEGER NOT NULL,\n"
    "  PRIMARY KEY (pid, uuid)\n"
    ") WITHOUT ROWID;\n"

    /* Devices and jobs follow docs/dev/store-jobs.md. uuid: lower-case RFC 4122 text.
     * pid: the key the device holds now (after a rotation, the new one); no foreign
     * key, as hellos with unknown PIDs are recorded. address: dotted IPv4. Escrow,
     * sealed with subject UUID: admin_secret (purpose "admin": the admin password;
     * admin_user is not secret) and mebx (purpose "dmebx": the MEBx password set on
     * the device). quarantined: a cloned key or a shared key over its limit; the
     * flag stays when the state moves on. last_source: "hello" or "agent". */
    "CREATE TABLE devices (\n"
    "  id INTEGER PRIMARY KEY AUTOINCREMENT,\n"
    "  uuid TEXT NOT NULL UNIQUE CHECK (length(uuid) = 36),\n"
    "  pid TEXT CHECK (pid IS NULL OR length(pid) = 8),\n"
    "  address TEXT,\n"
    "  state TEXT NOT NULL CHECK (state = 'seen' OR state = 'configuring' OR\n"
    "    state = 'provisioned' OR state = 'failed' OR state = 'quarantined' OR\n"
    "    state = 'unprovisioned'),\n"
    "  admin_user TEXT,\n"
    "  admin_secret BLOB,\n"
    "  mebx BLOB,\n"
    "  quarantined INTEGER NOT NULL DEFAULT 0 CHECK (quarantined = 0 OR quarantined = 1),\n"
    "  quarantine_reason TEXT,\n"
    "  host_name TEXT,\n"
    "  domain TEXT,\n"
    "  last_error TEXT,\n"
    "  last_source TEXT,\n"
    "  hello_count INTEGER NOT NULL DEFAULT 0 CHECK (hello_count >= 0),\n"
    "  first_seen INTEGER NOT NULL,\n"
    "  last_seen INTEGER NOT NULL,\n"
    "  provisioned_at INTEGER NOT NULL DEFAULT 0,\n"
    "  updated INTEGER NOT NULL\n"
    ");\n"
    "CREATE INDEX devices_pid ON devices (pid);\n"
    "CREATE INDEX devices_state ON devices (state, quarantined);\n"

    /* One durable row per configuration of a device, leased by a worker (owner,
     * lease_until). step: the name of the last completed step ("none" at first), so a
     * new owner resumes after it. next_pid: the rotated key, stored before SetTLSPSK
     * is sent; the device may then answer with either PID. retry: waiting for
     * next_attempt_at. At most one pending, running or retry job per device. */
    "CREATE TABLE jobs (\n"
    "  id INTEGER PRIMARY KEY AUTOINCREMENT,\n"
    "  uuid TEXT NOT NULL CHECK (length(uuid) = 36),\n"
    "  pid TEXT NOT NULL CHECK (length(pid) = 8),\n"
    "  next_pid TEXT CHECK (next_pid IS NULL OR length(next_pid) = 8),\n"
    "  address TEXT NOT NULL,\n"
    "  state TEXT NOT NULL CHECK (state = 'pending' OR state = 'running' OR\n"
    "    state = 'retry' OR state = 'done' OR state = 'failed' OR state = 'cancelled'),\n"
    "  step TEXT NOT NULL DEFAULT 'none',\n"
    "  attempts INTEGER NOT NULL DEFAULT 0 CHECK (attempts >= 0),\n"
    "  owner TEXT,\n"
    "  lease_until INTEGER NOT NULL DEFAULT 0,\n"
    "  next_attempt_at INTEGER NOT NULL DEFAULT 0,\n"
    "  last_error TEXT,\n"
    "  created INTEGER NOT NULL,\n"
    "  updated INTEGER NOT NULL\n"
    ");\n"
    "CREATE INDEX jobs_claim ON jobs (state, next_attempt_at);\n"
    "CREATE INDEX jobs_lease ON jobs (state, lease_until);\n"
    "CREATE INDEX jobs_owner ON jobs (owner, state);\n"
    "CREATE INDEX jobs_pid ON jobs (pid);\n"
    "CREATE INDEX jobs_next_pid ON jobs (next_pid);\n"
    "CREATE UNIQUE INDEX jobs_one_active ON jobs (uuid)\n"
    "  WHERE state IN ('pending', 'running', 'retry');\n"

    /* Append-only and hash-chained (store.h); seq from 1 without gaps. */
    "CREATE TABLE audit (\n"
    "  seq INTEGER PRIMARY KEY CHECK (seq >= 1),\n"
    "  time INTEGER NOT NULL,\n"
    "  actor TEXT NOT NULL,\n"
    "  action TEXT NOT NULL,\n"
    "  subject TEXT NOT NULL,\n"
    "  detail TEXT NOT NULL,\n"
    "  prev_hash TEXT NOT NULL CHECK (length(prev_hash) = 64),\n"
    "  hash TEXT NOT NULL CHECK (length(hash) = 64)\n"
    ");\n"
    "CREATE TRIGGER audit_no_update BEFORE UPDATE ON audit\n"
    "  BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;\n"
    "CREATE TRIGGER audit_no_delete BEFORE DELETE ON audit\n"
    "  BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;\n";

/* Hellos of provisioned devices look up the device's last job; lists show a device's
 * jobs. */
static const char schema_v2[] = "CREATE INDEX jobs_uuid ON jobs (uuid, id);\n";

/* What the last completed TLS handshake with the device negotiated (store.h
 * pp_store_device_set_tls); NULL before any. */
static const char schema_v3[] =
    "ALTER TABLE devices ADD COLUMN tls_version TEXT\n"
    "  CHECK (tls_version IS NULL OR (length(tls_version) BETWEEN 1 AND 15));\n"
    "ALTER TABLE devices ADD COLUMN tls_cipher TEXT\n"
    "  CHECK (tls_cipher IS NULL OR (length(tls_cipher) BETWEEN 1 AND 63));\n";

/* A hello proves nothing (store.h pp_store_hello): jobs are bound (bound = 1) once a
 * device proved the key (pp_store_job_bind); until then a job touches no device, and
 * jobs of one UUID from several addresses coexist (a replayed hello cannot pull a job
 * away from its address). Bindings made by hellos before (key_uses without a bound
 * job) are dropped: they proved nothing. key_failures: handshake failures per (PID,
 * device address), so failures at an address a hello named lock only that pair.
 * hello_notes: bounded samples of unknown PIDs and suspected clones (the last
 * PP_STORE_NOTES_MAX of each kind by id), never a row per hello. */
static const char schema_v4[] =
    "ALTER TABLE jobs ADD COLUMN bound INTEGER NOT NULL DEFAULT 0\n"
    "  CHECK (bound = 0 OR bound = 1);\n"
    "UPDATE jobs SET bound = 1 WHERE state = 'done' OR step <> 'none';\n"
    "DELETE FROM key_uses WHERE NOT EXISTS (SELECT 1 FROM jobs j WHERE j.bound = 1 AND\n"
    "  j.uuid = key_uses.uuid AND (j.pid = key_uses.pid OR j.next_pid = key_uses.pid));\n"
    "UPDATE keys SET use_count = (SELECT count(*) FROM key_uses u WHERE u.pid = keys.pid)\n"
    "  WHERE use_count > 0;\n"
    "DROP INDEX jobs_one_active;\n"
    "CREATE UNIQUE INDEX jobs_one_active ON jobs (uuid, address)\n"
    "  WHERE state IN ('pending', 'running', 'retry');\n"
    "CREATE INDEX jobs_pid_unbound ON jobs (pid, bound, updated);\n"
    "CREATE INDEX devices_host_name ON devices (host_name);\n"
    "CREATE TABLE key_failures (\n"
    "  pid TEXT NOT NULL CHECK (length(pid) = 8),\n"
    "  address TEXT NOT NULL,\n"
    "  failure_count INTEGER NOT NULL CHECK (failure_count >= 0),\n"
    "  locked_until INTEGER NOT NULL DEFAULT 0,\n"
    "  updated INTEGER NOT NULL,\n"
    "  PRIMARY KEY (pid, address)\n"
    ") WITHOUT ROWID;\n"
    "CREATE TABLE hello_notes (\n"
    "  id INTEGER PRIMARY KEY,\n"
    "  kind TEXT NOT NULL CHECK (kind = 'unknown-pid' OR kind = 'suspect-clone'),\n"
    "  pid TEXT NOT NULL CHECK (length(pid) = 8),\n"
    "  address TEXT NOT NULL,\n"
    "  uuid TEXT NOT NULL CHECK (length(uuid) = 36),\n"
    "  count INTEGER NOT NULL CHECK (count >= 1),\n"
    "  first_seen INTEGER NOT NULL,\n"
    "  last_seen INTEGER NOT NULL,\n"
    "  UNIQUE (kind, pid, address)\n"
    ");\n"
    "CREATE INDEX hello_notes_kind ON hello_notes (kind, id);\n";

/* API tokens (store.h): only the SHA-256 of a token (hex), never the token. A name is
 * unique among active tokens (revoked = 0); revoked rows stay as history. IF NOT
 * EXISTS: this step may run after a database already at 4 from another branch of the
 * code, or twice; it is idempotent either way. */
static const char schema_v5[] =
    "CREATE TABLE IF NOT EXISTS api_tokens (\n"
    "  id INTEGER PRIMARY KEY AUTOINCREMENT,\n"
    "  name TEXT NOT NULL CHECK (length(name) BETWEEN 1 AND 64),\n"
    "  role TEXT NOT NULL CHECK (role = 'read' OR role = 'admin' OR role = 'agent'),\n"
    "  hash TEXT NOT NULL UNIQUE CHECK (length(hash) = 64),\n"
    "  created INTEGER NOT NULL,\n"
    "  last_used INTEGER NOT NULL DEFAULT 0,\n"
    "  revoked INTEGER NOT NULL DEFAULT 0\n"
    ");\n"
    "CREATE UNIQUE INDEX IF NOT EXISTS api_tokens_active_name ON api_tokens (name)\n"
    "  WHERE revoked = 0;\n";

/* The operator's views (store.h, docs/api.md): an index for each device sort (SQLite
 * appends the rowid, the id, to every index: the keyset's tie-break), the address as a
 * number for its sort (filled here from the text: a.b.c.d split by a recursive CTE),
 * and job_events: one row per durable step of a job,
 * written with the step, at most PP_JOB_EVENTS_MAX per job (gone with the job). No index
 * on jobs (state, id) for job pages by state: without statistics SQLite would take it
 * for "pid = ? AND state = 'done'" (every completion) and walk every done job. */
static const char schema_v6[] =
    "ALTER TABLE devices ADD COLUMN address_num INTEGER NOT NULL DEFAULT 0;\n"
    "WITH RECURSIVE sp(id, rest, n, k) AS (\n"
    "  SELECT id, address || '.', 0, 0 FROM devices WHERE address IS NOT NULL\n"
    "  UNION ALL SELECT id, substr(rest, instr(rest, '.') + 1),\n"
    "    n * 256 + CAST(substr(rest, 1, instr(rest, '.') - 1) AS INTEGER), k + 1\n"
    "  FROM sp WHERE k < 4)\n"
    "UPDATE devices SET address_num = sp.n FROM sp WHERE sp.id = devices.id AND sp.k = 4;\n"
    "CREATE INDEX devices_last_seen ON devices (last_seen);\n"
    "CREATE INDEX devices_host_sort ON devices (coalesce(host_name, ''));\n"
    "CREATE INDEX devices_address_num ON devices (address_num);\n"
    "CREATE INDEX devices_state_sort ON devices (state);\n"
    "CREATE INDEX devices_pid_sort ON devices (coalesce(pid, ''));\n"
    "CREATE TABLE job_events (\n"
    "  id INTEGER PRIMARY KEY,\n"
    "  job_id INTEGER NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,\n"
    "  time INTEGER NOT NULL,\n"
    "  event TEXT NOT NULL CHECK (length(event) BETWEEN 1 AND 23),\n"
    "  detail TEXT NOT NULL\n"
    ");\n"
    "CREATE INDEX job_events_job ON job_events (job_id, id);\n";

/* In increasing version order; a version may be missing (a step merged from another
 * branch later): the runner applies every step above the stored version. */
static const struct pp_migration migrations[] = {
    {1, schema_v1, NULL},
    {2, schema_v2, NULL},
    {3, schema_v3, NULL},
    {4, schema_v4, NULL},
    {5, schema_v5, NULL},
    {6, schema_v6, "SELECT 1 FROM pragma_table_info('devices') WHERE name = 'address_num'"},
};

_Static_assert(sizeof(migrations) / sizeof(migrations[0]) <= PP_STORE_SCHEMA_VERSION,
	       "at most one migration per schema version");

/* ---- statements ---- */

enum stmt_id {
	PP_STORE_SHARED_STATEMENTS(PP_STORE_STMT_ENUM_ROW) /* store_impl.h */
	ST_BEGIN,
	ST_COMMIT,
	ST_ROLLBACK,
	ST_SAVEPOINT,
	ST_RELEASE,
	ST_ROLLBACK_TO,
	ST_JOB_CLAIMABLE,
	ST_JOB_CLAIM,
	ST_JOB_EVENT_TRIM,
	ST_MAX,
};

#define BATCH_COLS "b.id, b.name, b.derived, b.shared_max, b.created, "
#define BATCH_COUNT "(SELECT count(*) FROM keys k WHERE k.batch_id = b.id)"
/* derived: the batch's, unless the key has a PPS of its own (a rotated key). */
#define KEY_COLS                                                                                   \
	"SELECT k.pid, b.name, k.state, b.derived = 1 AND k.pps IS NULL, b.shared_max, "           \
	"k.max_devices, k.use_count, k.failure_count, k.created, k.updated, k.locked_until, "      \
	"k.exported_at, k.batch_id "                                                               \
	"FROM keys k JOIN batches b ON b.id = k.batch_id "
#define DEVICE_COLS                                                                                \
	"SELECT uuid, pid, address, state, quarantined, admin_secret IS NOT NULL, host_name, "     \
	"domain, last_error, first_seen, last_seen, provisioned_at, quarantine_reason, "           \
	"last_source, hello_count, updated, tls_version, tls_cipher, id, "                         \
	"(SELECT b.name FROM keys k JOIN batches b ON b.id = k.batch_id WHERE k.pid = "            \
	"devices.pid) FROM devices "
#define JOB_COLS                                                                                   \
	"SELECT id, uuid, pid, next_pid, address, state, step, attempts, owner, lease_until, "     \
	"next_attempt_at, last_error, created, updated, bound FROM jobs "
/* Written exactly as the partial index jobs_one_active, so SQLite uses it. */
#define JOB_ACTIVE "state IN ('pending', 'running', 'retry')"
#define KEY_PAGE "k.pid > :after ORDER BY k.pid LIMIT :limit"
#define STR_(x) #x
#define STR(x) STR_(x)
/* A job's events beyond PP_JOB_EVENTS_MAX: the oldest claims and retries first. */
#define EVENT_TRIM                                                                                 \
	"DELETE FROM job_events WHERE id IN (SELECT id FROM job_events WHERE job_id = ?1 "         \
	"ORDER BY (event = 'claimed' OR event = 'retry') DESC, id LIMIT max(0, (SELECT "           \
	"count(*) FROM job_events WHERE job_id = ?1) - " STR(PP_JOB_EVENTS_MAX) "))"

static const char *const stmt_sql[ST_MAX] = {
    [ST_BEGIN] = "BEGIN IMMEDIATE",
    [ST_COMMIT] = "COMMIT",
    [ST_ROLLBACK] = "ROLLBACK",
    [ST_BATCH_INSERT] = "INSERT INTO batches (name, derived, secret, shared_max, created) "
			"VALUES (?1, ?2, ?3, ?4, ?5)",
    [ST_BATCH_BY_NAME] = "SELECT " BATCH_COLS "0 FROM batches b WHERE b.name = ?1",
    [ST_BATCH_BY_NAME_COUNT] = "SELECT " BATCH_COLS BATCH_COUNT " FROM batches b WHERE b.name = ?1",
    [ST_BATCH_BY_ID] = "SELECT " BATCH_COLS "0 FROM batches b WHERE b.id = ?1",
    [ST_BATCH_BY_ID_COUNT] = "SELECT " BATCH_COLS BATCH_COUNT " FROM batches b WHERE b.id = ?1",
    [ST_BATCH_LIST] = "SELECT " BATCH_COLS BATCH_COUNT " FROM batches b ORDER BY b.id",
    [ST_KEY_INSERT] = "INSERT INTO keys (pid, batch_id, pps, mebx, state, max_devices, "
		      "created, updated) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?7)",
    [ST_KEY_GET] = KEY_COLS "WHERE k.pid = ?1",
    [ST_KEY_SEALED] = "SELECT b.name, b.derived, k.pps, k.mebx, b.secret "
		      "FROM keys k JOIN batches b ON b.id = k.batch_id WHERE k.pid = ?1",
    [ST_KEY_CAS] = "UPDATE keys SET state = ?3, updated = ?4, "
		   "exported_at = CASE WHEN ?3 = 'exported' THEN ?4 ELSE exported_at END "
		   "WHERE pid = ?1 AND state = ?2",
    [ST_KEY_LIST] = KEY_COLS "WHERE " KEY_PAGE,
    [ST_KEY_LIST_BATCH] = KEY_COLS "WHERE k.batch_id = :batch AND " KEY_PAGE,
    [ST_KEY_LIST_STATE] = KEY_COLS "WHERE k.state = :state AND " KEY_PAGE,
    [ST_KEY_LIST_BATCH_STATE] =
	KEY_COLS "WHERE k.batch_id = :batch AND k.state = :state AND " KEY_PAGE,
    [ST_AUDIT_TAIL] = "SELECT seq, hash FROM audit ORDER BY seq DESC LIMIT 1",
    [ST_AUDIT_INSERT] = "INSERT INTO audit (seq, time, actor, action, subject, detail, "
			"prev_hash, hash) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
    [ST_AUDIT_LIST] = "SELECT seq, time, actor, action, subject, detail, hash "
		      "FROM audit WHERE seq > ?1 ORDER BY seq",
    [ST_SAVEPOINT] = "SAVEPOINT pp_sp",
    [ST_RELEASE] = "RELEASE pp_sp",
    [ST_ROLLBACK_TO] = "ROLLBACK TO pp_sp",
    [ST_KEY_LOCK] = KEY_COLS "WHERE k.pid = ?1",
    [ST_KEY_USES] = "SELECT (SELECT count(*) FROM key_uses WHERE pid = ?1 AND uuid = ?2), "
		    "(SELECT count(*) FROM key_uses WHERE pid = ?1), "
		    "(SELECT uuid FROM key_uses WHERE pid = ?1 AND uuid <> ?2 "
		    "ORDER BY first_seen, uuid LIMIT 1)",
    [ST_KEY_USE_INSERT] = "INSERT INTO key_uses (pid, uuid, first_seen) VALUES (?1, ?2, ?3)",
    [ST_KEY_USE_COUNT] = "UPDATE keys SET use_count = use_count + 1, updated = ?2, "
			 "state = CASE WHEN state = 'available' OR state = 'exported' "
			 "THEN 'in-use' ELSE state END WHERE pid = ?1",
    [ST_KEY_PROVISIONED] = "SELECT count(DISTINCT uuid) FROM jobs WHERE pid = ?1 AND "
			   "state = 'done'",
    [ST_KEY_FAILURE] = "UPDATE keys SET failure_count = failure_count + 1, updated = ?2 "
		       "WHERE pid = ?1",
    [ST_PAIR_FAILURE] =
	"INSERT INTO key_failures (pid, address, failure_count, locked_until, "
	"updated) VALUES (?1, ?2, 1, CASE WHEN 1 >= ?4 THEN ?3 + ?5 ELSE 0 END, ?3) "
	"ON CONFLICT (pid, address) DO UPDATE SET "
	"failure_count = failure_count + 1, locked_until = CASE WHEN "
	"failure_count + 1 >= ?4 THEN ?3 + ?5 ELSE locked_until END, updated = ?3",
    [ST_KEY_LOCK_RAISE] = "UPDATE keys SET locked_until = max(locked_until, (SELECT "
			  "locked_until FROM key_failures WHERE pid = ?1 AND address = ?2)) "
			  "WHERE pid = ?1",
    [ST_PAIR_TRIM] = "DELETE FROM key_failures WHERE pid = ?1 AND address IN (SELECT address "
		     "FROM key_failures WHERE pid = ?1 ORDER BY updated DESC, address "
		     "LIMIT -1 OFFSET ?2)",
    [ST_PAIR_LOCKED] = "SELECT count(*) FROM key_failures WHERE pid = ?1 AND address = ?2 AND "
		       "locked_until > ?3",
    [ST_PAIR_CLEAR] = "DELETE FROM key_failures WHERE pid = ?1",
    [ST_JOB_ACTIVE_AT] = JOB_COLS "WHERE uuid = ?1 AND address = ?2 AND " JOB_ACTIVE,
    [ST_JOBS_PRUNE] = "DELETE FROM jobs WHERE id IN (SELECT id FROM jobs WHERE pid = ?1 AND "
		      "bound = 0 AND state <> 'running' AND id <> ?3 "
		      "ORDER BY updated DESC, id DESC LIMIT -1 OFFSET ?2)",
    [ST_JOBS_DROP_UNBOUND] = "DELETE FROM jobs WHERE uuid = ?1 AND bound = 0 AND "
			     "(state = 'pending' OR state = 'retry') AND id <> ?2",
    [ST_HOST_TAKEN] = "SELECT count(*) FROM devices WHERE host_name = ?1 AND uuid <> ?2",
    [ST_NOTE_PUT] = "INSERT OR REPLACE INTO hello_notes (kind, pid, address, uuid, count, "
		    "first_seen, last_seen) VALUES (?1, ?2, ?3, ?4, "
		    "coalesce((SELECT count FROM hello_notes WHERE kind = ?1 AND pid = ?2 AND "
		    "address = ?3), 0) + 1, coalesce((SELECT first_seen FROM hello_notes WHERE "
		    "kind = ?1 AND pid = ?2 AND address = ?3), ?5), ?5)",
    [ST_NOTE_TRIM] = "DELETE FROM hello_notes WHERE kind = ?1 AND id <= (SELECT id FROM "
		     "hello_notes WHERE kind = ?1 ORDER BY id DESC LIMIT 1 OFFSET ?2)",
    [ST_NOTE_LIST] = "SELECT pid, address, uuid, count, first_seen, last_seen FROM hello_notes "
		     "WHERE kind = ?1 ORDER BY id DESC",
    [ST_KEY_SUCCESS] = "UPDATE keys SET failure_count = 0, locked_until = 0, updated = ?2 "
		       "WHERE pid = ?1",
    [ST_DEVICE_INSERT] =
	"INSERT INTO devices (uuid, pid, address, state, quarantined, quarantine_reason, "
	"host_name, domain, last_error, last_source, hello_count, first_seen, last_seen, "
	"provisioned_at, updated, address_num) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, "
	"?11, ?12, ?13, ?14, ?15, ?16) ON CONFLICT (uuid) DO NOTHING",
    [ST_DEVICE_GET] = DEVICE_COLS "WHERE uuid = ?1",
    [ST_DEVICE_SET_TLS] = "UPDATE devices SET tls_version = ?2, tls_cipher = ?3, updated = ?4 "
			  "WHERE uuid = ?1",
    [ST_DEVICE_PUT] = "UPDATE devices SET pid = ?2, address = ?3, state = ?4, quarantined = ?5, "
		      "quarantine_reason = ?6, host_name = ?7, domain = ?8, last_error = ?9, "
		      "last_source = ?10, hello_count = ?11, last_seen = ?13, "
		      "provisioned_at = ?14, updated = ?15, address_num = ?16 WHERE uuid = ?1",
    [ST_DEVICE_LIST] = DEVICE_COLS "ORDER BY id LIMIT ?2",
    [ST_DEVICE_LIST_STATE] = DEVICE_COLS "WHERE state = ?1 ORDER BY id LIMIT ?2",
    [ST_ESCROW_GET] = "SELECT admin_user, admin_secret, mebx FROM devices WHERE uuid = ?1",
    [ST_ESCROW_PUT] = "UPDATE devices SET admin_user = ?2, admin_secret = ?3, mebx = ?4, "
		      "updated = ?5 WHERE uuid = ?1 AND admin_secret IS NULL AND mebx IS NULL",
    [ST_JOB_INSERT] = "INSERT INTO jobs (uuid, pid, next_pid, address, state, step, attempts, "
		      "owner, lease_until, next_attempt_at, last_error, created, updated, bound) "
		      "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)",
    [ST_JOB_GET] = JOB_COLS "WHERE id = ?1",
    [ST_JOB_ACTIVE] = JOB_COLS "WHERE uuid = ?1 AND " JOB_ACTIVE,
    [ST_JOB_LAST_DONE] = JOB_COLS "WHERE uuid = ?1 AND state = 'done' ORDER BY id DESC LIMIT 1",
    [ST_JOB_PUT] = "UPDATE jobs SET next_pid = ?2, address = ?3, state = ?4, step = ?5, "
		   "attempts = ?6, owner = ?7, lease_until = ?8, next_attempt_at = ?9, "
		   "last_error = ?10, updated = ?11, uuid = ?12, bound = ?13 WHERE id = ?1",
    [ST_JOB_CLAIMABLE] = "SELECT id FROM jobs WHERE ((state = 'pending' OR state = 'retry') "
			 "AND next_attempt_at <= ?1) OR (state = 'running' AND lease_until < ?1) "
			 "ORDER BY next_attempt_at, id LIMIT ?2",
    [ST_JOB_CLAIM] = "UPDATE jobs SET state = 'running', owner = ?2, lease_until = ?3, "
		     "attempts = attempts + 1, updated = ?4 WHERE id = ?1",
    [ST_JOBS_RENEW] = "UPDATE jobs SET lease_until = ?3, updated = ?2 "
		      "WHERE owner = ?1 AND state = 'running'",
    [ST_JOB_LIST] = JOB_COLS "ORDER BY id LIMIT ?2",
    [ST_JOB_LIST_STATE] = JOB_COLS "WHERE state = ?1 ORDER BY id LIMIT ?2",
    [ST_COUNT_KEYS] = "SELECT state, count(*) FROM keys GROUP BY state",
    [ST_COUNT_DEVICES] = "SELECT state, count(*) FROM devices GROUP BY state",
    [ST_COUNT_JOBS] = "SELECT state, count(*) FROM jobs GROUP BY state",
    [ST_JOB_EVENT] = "INSERT INTO job_events (job_id, time, event, detail) VALUES (?1, ?2, ?3, ?4)",
    [ST_JOB_EVENT_TRIM] = EVENT_TRIM,
    [ST_JOB_EVENTS] = "SELECT job_id, time, event, detail FROM job_events WHERE job_id = ?1 "
		      "ORDER BY id",
    [ST_DEVICE_JOBS] = JOB_COLS "WHERE uuid = ?1 ORDER BY id DESC LIMIT ?2",
    [ST_JOB_PAGE] = JOB_COLS "WHERE id < ?1 ORDER BY id DESC LIMIT ?2",
    [ST_JOB_PAGE_STATE] = JOB_COLS "WHERE id < ?1 AND state = ?3 ORDER BY id DESC LIMIT ?2",
    /* A search: the same walk down the primary key, filtered (it may scan). */
    [ST_JOB_SEARCH] = JOB_COLS "WHERE id < ?1 AND (?3 IS NULL OR state = ?3) AND "
			       "(?4 < 0 OR bound = ?4) AND (?5 IS NULL OR uuid LIKE ?5 ESCAPE '\\' "
			       "OR address LIKE ?5 ESCAPE '\\' OR pid LIKE ?6 ESCAPE '\\' OR "
			       "next_pid LIKE ?6 ESCAPE '\\') ORDER BY id DESC LIMIT ?2",
    [ST_KEY_STOCK] = "SELECT b.id, b.name, k.state, count(k.id) FROM batches b LEFT JOIN keys k "
		     "ON k.batch_id = b.id GROUP BY b.id, k.state UNION ALL "
		     "SELECT b.id, b.name, '#quarantined', count(*) FROM devices d "
		     "JOIN keys k ON k.pid = d.pid JOIN batches b ON b.id = k.batch_id "
		     "WHERE d.quarantined = 1 GROUP BY b.id ORDER BY 1",
    [ST_ESCROW_EVENT] = "INSERT INTO job_events (job_id, time, event, detail) SELECT id, ?2, "
			"'escrowed', 'admin and MEBx passwords stored' FROM jobs WHERE uuid = ?1 "
			"AND bound = 1 AND " JOB_ACTIVE " AND NOT EXISTS (SELECT 1 FROM "
			"job_events e WHERE e.job_id = jobs.id AND e.event = 'escrowed')",
};

struct sqlite_store {
	struct pp_store base; /* first: the generic layer casts */
	sqlite3 *db;
	struct {
		sqlite3_stmt *st;
		bool busy;
	} stmts[ST_MAX];
	/* Device queries, one statement per shape (console.c pp_dq_shape); pages, then
	 * counts. */
	struct {
		sqlite3_stmt *st;
		bool busy;
	} dq[PP_DQ_SHAPES + PP_DQ_COUNT_SHAPES];
};

static struct sqlite_store *sq(struct pp_store *s)
{
	return (struct sqlite_store *)s;
}

/* SQLite messages name tables and constraints, never bound values (and no value bound
 * here is a plaintext secret). */
static int db_err(sqlite3 *db, int rc, const char *what, struct pp_err *err)
{
	int code = PP_ESTORE;
	switch (rc & 0xff) {
	case SQLITE_BUSY:
	case SQLITE_LOCKED:
		code = PP_EBUSY;
		break;
	case SQLITE_CONSTRAINT:
		if (rc == SQLITE_CONSTRAINT_PRIMARYKEY || rc == SQLITE_CONSTRAINT_UNIQUE)
			code = PP_EEXIST;
		break;
	case SQLITE_NOMEM:
		code = PP_ENOMEM;
		break;
	case SQLITE_PERM:
	case SQLITE_READONLY:
	case SQLITE_AUTH:
		code = PP_EPERM;
		break;
	default:
		break;
	}
	return pp_err_set(err, code, "%s: %s", what, sqlite3_errmsg(db));
}

static int stmt_take(struct sqlite_store *s, enum stmt_id id, sqlite3_stmt **out,
		     struct pp_err *err)
{
	if (s->stmts[id].busy)
		return pp_err_set(err, PP_EBUSY,
				  "store: a list callback started the same listing again");
	if (!s->stmts[id].st) {
		int rc = sqlite3_prepare_v3(s->db, stmt_sql[id], -1, SQLITE_PREPARE_PERSISTENT,
					    &s->stmts[id].st, NULL);
		if (rc != SQLITE_OK)
			return db_err(s->db, rc, "store: preparing a statement", err);
	}
	s->stmts[id].busy = true;
	*out = s->stmts[id].st;
	return 0;
}

static void stmt_give(struct sqlite_store *s, enum stmt_id id)
{
	sqlite3_reset(s->stmts[id].st);
	sqlite3_clear_bindings(s->stmts[id].st);
	s->stmts[id].busy = false;
}

/* Runs a statement that returns no rows. */
static int stmt_exec(struct sqlite_store *s, enum stmt_id id, const char *what, struct pp_err *err)
{
	sqlite3_stmt *st = NULL;
	int rc = stmt_take(s, id, &st, err);
	if (rc < 0)
		return rc;
	rc = sqlite3_step(st);
	rc = rc == SQLITE_DONE ? 0 : db_err(s->db, rc, what, err);
	stmt_give(s, id);
	return rc;
}

static int bind_blob(sqlite3_stmt *st, int i, const uint8_t *p, size_t n)
{
	if (!p || !n)
		return sqlite3_bind_null(st, i);
	return sqlite3_bind_blob(st, i, p, (int)n, SQLITE_STATIC);
}

static int bind_text(sqlite3_stmt *st, int i, const char *t)
{
	return sqlite3_bind_text(st, i, t, -1, SQLITE_STATIC);
}

static int bind_addr(sqlite3_stmt *st, int i, const uint8_t a[4])
{
	char t[16];
	pp_store_addr_format(a, t);
	return sqlite3_bind_text(st, i, t, -1, SQLITE_TRANSIENT);
}

static int bind_uuid(sqlite3_stmt *st, int i, const uint8_t uuid[16])
{
	char t[37];
	pp_uuid_format(uuid, t);
	for (int k = 0; k < 36; k++)
		if (t[k] >= 'A' && t[k] <= 'F')
			t[k] = (char)(t[k] - 'A' + 'a');
	return sqlite3_bind_text(st, i, t, 36, SQLITE_TRANSIENT);
}

/* Steps a statement that returns at most one row; -PP_ENOTFOUND for none. */
static int step_row(struct sqlite_store *s, sqlite3_stmt *st, const char *what, struct pp_err *err)
{
	int rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		return 0;
	if (rc == SQLITE_DONE)
		return pp_err_set(err, PP_ENOTFOUND, "%s: not found", what);
	return db_err(s->db, rc, what, err);
}

/* Steps a write; -PP_ENOTFOUND when it changed no row. */
static int step_write(struct sqlite_store *s, sqlite3_stmt *st, const char *what,
		      struct pp_err *err)
{
	int rc = sqlite3_step(st);
	if (rc != SQLITE_DONE)
		return db_err(s->db, rc, what, err);
	if (sqlite3_changes(s->db) == 0)
		return pp_err_set(err, PP_ENOTFOUND, "%s: no such row", what);
	return 0;
}

static int bind_failed(struct sqlite_store *s, const char *what, struct pp_err *err)
{
	return db_err(s->db, sqlite3_errcode(s->db), what, err);
}

static int bind_opt_text(sqlite3_stmt *st, int i, const char *t)
{
	if (!t || !*t)
		return sqlite3_bind_null(st, i);
	return sqlite3_bind_text(st, i, t, -1, SQLITE_TRANSIENT);
}

/* Binds parameters 1.. from fmt: 't' text (NULL binds NULL), 'o' text ("" binds NULL
 * too), 'i' int64_t, 'u' UUID, 'a' address, 'b' blob (const uint8_t *, size_t; empty
 * binds NULL). */
static int bind_fmt(sqlite3_stmt *st, const char *fmt, va_list ap)
{
	for (int i = 1; *fmt; fmt++, i++) {
		int rc = SQLITE_MISUSE;
		switch (*fmt) {
		case 't':
			rc = bind_text(st, i, va_arg(ap, const char *));
			break;
		case 'o':
			rc = bind_opt_text(st, i, va_arg(ap, const char *));
			break;
		case 'i':
			rc = sqlite3_bind_int64(st, i, va_arg(ap, int64_t));
			break;
		case 'u':
			rc = bind_uuid(st, i, va_arg(ap, const uint8_t *));
			break;
		case 'a':
			rc = bind_addr(st, i, va_arg(ap, const uint8_t *));
			break;
		case 'b': {
			const uint8_t *p = va_arg(ap, const uint8_t *);
			rc = bind_blob(st, i, p, va_arg(ap, size_t));
			break;
		}
		default:
			break;
		}
		if (rc != SQLITE_OK)
			return -1;
	}
	return 0;
}

/* Takes statement id with its parameters bound from fmt (bind_fmt). On success the
 * caller steps it and gives it back (stmt_give); on failure it is given back here. */
static int stmt_vbound(struct sqlite_store *s, enum stmt_id id, const char *what,
		       sqlite3_stmt **out, struct pp_err *err, const char *fmt, va_list ap)
{
	int rc = stmt_take(s, id, out, err);
	if (rc < 0)
		return rc;
	if (bind_fmt(*out, fmt, ap) < 0) {
		rc = bind_failed(s, what, err);
		stmt_give(s, id);
	}
	return rc;
}

static int stmt_bound(struct sqlite_store *s, enum stmt_id id, const char *what, sqlite3_stmt **out,
		      struct pp_err *err, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int rc = stmt_vbound(s, id, what, out, err, fmt, ap);
	va_end(ap);
	return rc;
}

/* Runs a cached statement with parameters from fmt (bind_fmt). A write when val is
 * NULL (*changes, may be NULL, gets the rows changed); else a query whose first row's
 * first column goes to *val (0 without a row). */
static int run_v(struct sqlite_store *s, enum stmt_id id, const char *what, int64_t *val,
		 int *changes, struct pp_err *err, const char *fmt, va_list ap)
{
	sqlite3_stmt *st = NULL;
	int rc = stmt_vbound(s, id, what, &st, err, fmt, ap);
	if (rc < 0)
		return rc;
	rc = sqlite3_step(st);
	if (val) {
		*val = rc == SQLITE_ROW ? sqlite3_column_int64(st, 0) : 0;
		rc = rc == SQLITE_ROW || rc == SQLITE_DONE ? 0 : db_err(s->db, rc, what, err);
	} else {
		rc = rc == SQLITE_DONE ? 0 : db_err(s->db, rc, what, err);
		if (rc == 0 && changes)
			*changes = sqlite3_changes(s->db);
	}
	stmt_give(s, id);
	return rc;
}

static int sq_run(struct sqlite_store *s, enum stmt_id id, const char *what, int64_t *val,
		  int *changes, struct pp_err *err, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int rc = run_v(s, id, what, val, changes, err, fmt, ap);
	va_end(ap);
	return rc;
}

/* One write with parameters from fmt; -PP_ENOTFOUND when it changed no row. */
static int sq_write(struct sqlite_store *s, enum stmt_id id, const char *what, struct pp_err *err,
		    const char *fmt, ...)
{
	int changes = 0;
	va_list ap;
	va_start(ap, fmt);
	int rc = run_v(s, id, what, NULL, &changes, err, fmt, ap);
	va_end(ap);
	if (rc == 0 && changes == 0)
		return pp_err_set(err, PP_ENOTFOUND, "%s: no such row", what);
	return rc;
}

static void column_str(sqlite3_stmt *st, int col, char *out, size_t cap)
{
	const unsigned char *t = sqlite3_column_text(st, col);
	size_t n = t ? (size_t)sqlite3_column_bytes(st, col) : 0;
	if (n >= cap)
		n = cap - 1;
	if (n)
		memcpy(out, t, n);
	out[n] = '\0';
}

static int column_sealed(sqlite3_stmt *st, int col, struct pp_sealed_small *out)
{
	const void *b = sqlite3_column_blob(st, col);
	int n = sqlite3_column_bytes(st, col);
	out->len = 0;
	if (!b || n <= 0)
		return 0;
	if ((size_t)n > sizeof(out->b))
		return -PP_ESTORE;
	memcpy(out->b, b, (size_t)n);
	out->len = (size_t)n;
	return 0;
}

static uint32_t column_u32(sqlite3_stmt *st, int col)
{
	int64_t v = sqlite3_column_int64(st, col);
	return v < 0 ? 0 : v > UINT32_MAX ? UINT32_MAX : (uint32_t)v;
}

/* ---- transactions ---- */

static int sq_begin(struct pp_store *base, struct pp_err *err)
{
	struct sqlite_store *s = sq(base);
	if (!sqlite3_get_autocommit(s->db))
		return pp_err_set(err, PP_ESTATE, "store: a transaction is already open");
	return stmt_exec(s, ST_BEGIN, "store: begin", err);
}

static int sq_commit(struct pp_store *base, struct pp_err *err)
{
	struct sqlite_store *s = sq(base);
	if (sqlite3_get_autocommit(s->db))
		return pp_err_set(err, PP_ESTATE, "store: no transaction to commit");
	return stmt_exec(s, ST_COMMIT, "store: commit", err);
}

static int sq_rollback(struct pp_store *base, struct pp_err *err)
{
	struct sqlite_store *s = sq(base);
	if (sqlite3_get_autocommit(s->db))
		return pp_err_set(err, PP_ESTATE, "store: no transaction to roll back");
	return stmt_exec(s, ST_ROLLBACK, "store: rollback", err);
}

/* ---- batches ---- */

static int sq_batch_insert(struct pp_store *base, const struct pp_batch_new *b,
			   const struct pp_sealed_small *secret, int64_t now, int64_t *id,
			   struct pp_err *err)
{
	struct sqlite_store *s = sq(base);
	sqlite3_stmt *st = NULL;
	int rc = stmt_bound(s, ST_BATCH_INSERT, "store: batch insert", &st, err, "tibii", b->name,
			    (int64_t)(b->derived ? 1 : 0), secret->b, secret->len,
			    (int64_t)b->shared_max, now);
	if (rc < 0)
		return rc;
	rc = sqlite3_step(st);
	if (rc == SQLITE_DONE) {
		*id = sqlite3_last_insert_rowid(s->db);
		rc = 0;
	} else {
		rc = db_err(s->db, rc, "store: batch insert", err);
	}
	stmt_give(s, ST_BATCH_INSERT);
	return rc;
}

static void batch_row(sqlite3_stmt *st, struct pp_batch_info *info)
{
	info->id = sqlite3_column_int64(st, 0);
	column_str(st, 1, info->name, sizeof(info->name));
	info->derived = sqlite3_column_int(st, 2) != 0;
	info->shared_max = column_u32(st, 3);
	info->created = sqlite3_column_int64(st, 4);
	int64_t n = sqlite3_column_int64(st, 5);
	info->key_count = n < 0 ? 0 : (uint64_t)n;
}

static int sq_batch_get(struct pp_store *base, const char *name, int64_t id, bool count,
			struct pp_batch_info *info, struct pp_err *err)
{
	struct sqlite_store *s = sq(base);
	enum stmt_id sid = name ? (count ? ST_BATCH_BY_NAME_COUNT : ST_BATCH_BY_NAME)
				: (count ? ST_BATCH_BY_ID_COUNT : ST_BATCH_BY_ID);
	sqlite3_stmt *st = NULL;
	int rc = name ? stmt_bound(s, sid, "store: batch lookup", &st, err, "t", name)
		      : stmt_bound(s, sid, "store: batch lookup", &st, err, "i", id);
	if (rc < 0)
		return rc;
	if ((rc = step_row(s, st, "store: batch lookup", err)) == 0)
		batch_row(st, info);
	stmt_give(s, sid);
	return rc;
}

/* Steps st to its end, handing each row to row(): 0 goes on, > 0 stops (not an
 * error), < 0 fails. This is the list callbacks' convention, kept in one place. */
static int step_rows(struct sqlite_store *s, sqlite3_stmt *st, const char *what,
		     int (*row)(sqlite3_stmt *st, void *arg, struct pp_err *err), void *arg,
		     struct pp_err *err)
{
	for (;;) {
		int rc = sqlite3_step(st);
		if (rc == SQLITE_DONE)
			return 0;
		if (rc != SQLITE_ROW)
			return db_err(s->db, rc, what, err);
		rc = row(st, arg, err);
		if (rc != 0)
			return rc > 0 ? 0 : rc;
	}
}

struct batch_list_ctx {
	int (*cb)(void *, const struct pp_batch_info *);
	void *ctx;
};

static int batch_list_row(sqlite3_stmt *st, void *arg, struct pp_err *err)
{
	(void)err;
	struct batch_list_ctx *c = arg;
	struct pp_batch_info info;
	batch_row(st, &info);
	return c->cb(c->ctx, &info);
}

static int sq_batch_list(struct pp_store *base, int (*cb)(void *, const struct pp_batch_info *),
			 void *ctx, struct pp_err *err)
{
	struct sqlite_store *s = sq(base);
	sqlite3_stmt *st = NULL;
	int rc = stmt_take(s, ST_BATCH_LIST, &st, err);
	if (rc < 0)
		return rc;
	struct batch_list_ctx c = {cb, ctx};
	rc = step_rows(s, st, "store: batch list", batch_list_row, &c, err);
	stmt_give(s, ST_BATCH_LIST);
	return rc;
}

/* ---- keys ---- */

static int sq_key_insert(struct pp_store *base, const struct pp_key_row *row, struct pp_err *err)
{
	return sq_write(sq(base), ST_KEY_INSERT, "store: key insert", err, "tibbtii", row->pid,
			row->batch_id, row->pps, row->pps_len, row->mebx, row->mebx_len,
			pp_key_state_name(row->state), (int64_t)row->max_devices, row->now);
}

static int key_row(sqlite3_stmt *st, struct pp_key_info *k, struct pp_err *err)
{
	column_str(st, 0, k->pid, sizeof(k->pid));
	column_str(st, 1, k->batch, sizeof(k->batch));
	const char *state = (const char *)sqlite3_column_text(st, 2);
	if (pp_key_state_parse(state, &k->state, NULL) < 0)
		return pp_err_set(err, PP_ESTORE, "key %s: unknown state in the database", k->pid);
	k->derived = sqlite3_column_int(st, 3) != 0;
	k->max_devices = column_u32(st, 5);
	/* Shared means this key opens several devices; a rotated key in a shared batch
	 * belongs to one device. */
	k->shared = k->max_devices > 1;
	k->use_count = column_u32(st, 6);
	k->failure_count = column_u32(st, 7);
	k->created = sqlite3_column_int64(st, 8);
	k->updated = sqlite3_column_int64(st, 9);
	k->locked_until = sqlite3_column_int64(st, 10);
	k->exported_at = sqlite3_column_int64(st, 11);
	return 0;
}

static int sq_key_get(struct pp_store *base, const char *pid, struct pp_key_info *info,
		      struct pp_err *err)
{
	struct sqlite_store *s = sq(base);
	sqlite3_stmt *st = NULL;
	int rc = stmt_bound(s, ST_KEY_GET, "store: key lookup", &st, err, "t", pid);
	if (rc < 0)
		return rc;
	if ((rc = step_row(s, st, "store: key lookup", err)) == 0)
		rc = key_row(st, info, err);
	stmt_give(s, ST_KEY_GET);
	return rc;
}

struct key_list_ctx {
	int (*cb)(void *, const struct pp_key_info *);
	void *ctx;
};

static int key_list_row(sqlite3_stmt *st, void *arg, struct pp_err *err)
{
	struct key_list_ctx *c = arg;
	struct pp_key_info info;
	int rc = key_row(st, &info, err);
	return rc < 0 ? rc : c->cb(c->ctx, &info);
}

static int sq_key_list(struct pp_store *base, const struct pp_key_query *q,
		       int (*cb)(void *, const struct pp_key_info *), void *ctx, struct pp_err *err)
{
	struct sqlite_store *s = sq(base);
	enum stmt_id sid = q->batch_id
			       ? (q->state >= 0 ? ST_KEY_LIST_BATCH_STATE : ST_KEY_LIST_BATCH)
			       : (q->state >= 0 ? ST_KEY_LIST_STATE : ST_KEY_LIST);
	sqlite3_stmt *st = NULL;
	int rc = stmt_take(s, sid, &st, err);
	if (rc < 0)
		return rc;
	int ib = sqlite3_bind_parameter_index(st, ":batch");
	int is = sqlite3_bind_parameter_index(st, ":state");
	int ia = sqlite3_bind_parameter_index(st, ":after");
	int il = sqlite3_bind_parameter_index(st, ":limit");
	int64_t limit = q->limit == 0 || q->limit > INT64_MAX ? -1 : (int64_t)q->limit;
	if ((ib && sqlite3_bind_int64(st, ib, q->batch_id) != SQLITE_OK) ||
	    (is &&
	     bind_text(st, is, pp_key_state_name((enum pp_key_state)q->state)) != SQLITE_OK) ||
	    bind_text(st, ia, q->after ? q->after : "") != SQLITE_OK ||
	    sqlite3_bind_int64(st, il, limit) != SQLITE_OK) {
		rc = db_err(s->db, sqlite3_errcode(s->db), "store: key list", err);
		goto out;
	}
	struct key_list_ctx c = {cb, ctx};
	rc = step_rows(s, st, "store: key list", key_list_row, &c, err);
out:
	stmt_give(s, sid);
	return rc;
}

static int sq_key_sealed(struct pp_store *base, const char *pid, struct pp_key_sealed *out,
			 struct pp_err *err)
{
	struct sqlite_store *s = sq(base);
	sqlite3_stmt *st = NULL;
	int rc = stmt_bound(s, ST_KEY_SEALED, "store: key lookup", &st, err, "t", pid);
	if (rc < 0)
		return rc;
	if ((rc = step_row(s, st, "store: key lookup", err)) == 0) {
		column_str(st, 0, out->batch, sizeof(out->batch));
		out->derived = sqlite3_column_int(st, 1) != 0;
		if (column_sealed(st, 2, &out->pps) < 0 || column_sealed(st, 3, &out->mebx) < 0 ||
		    column_sealed(st, 4, &out->secret) < 0)
			rc = pp_err_set(err, PP_ESTORE, "key %s: a sealed column is too long", pid);
	}
	stmt_give(s, ST_KEY_SEALED);
	return rc;
}

static int sq_key_state_cas(struct pp_store *base, const char *pid, enum pp_key_state from,
			    enum pp_key_state to, int64_t now, struct pp_err *err)
{
	int rc = sq_write(sq(base), ST_KEY_CAS, "store: key state", err, "ttti", pid,
			  pp_key_state_name(from), pp_key_state_name(to), now);
	if (rc == -PP_ENOTFOUND)
		return pp_err_set(err, PP_ENOTFOUND, "key %s changed meanwhile", pid);
	return rc;
}

/* ---- audit ---- */

static int sq_audit_tail(struct pp_store *base, int64_t *last_seq, char hash_hex[65],
			 struct pp_err *err)
{
	struct sqlite_store *s = sq(base);
	sqlite3_stmt *st = NULL;
	*last_seq = 0;
	hash_hex[0] = '\0';
	int rc = stmt_take(s, ST_AUDIT_TAIL, &st, err);
	if (rc < 0)
		return rc;
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		const char *h = (const char *)sqlite3_column_text(st, 1);
		*last_seq = sqlite3_column_int64(st, 0);
		snprintf(hash_hex, 65, "%s", h ? h : "");
		rc = 0;
	} else {
		rc = rc == SQLITE_DONE ? 0 : db_err(s->db, rc, "store: audit append", err);
	}
	stmt_give(s, ST_AUDIT_TAIL);
	return rc;
}

static int sq_audit_insert(struct pp_store *base, uint64_t seq, const struct pp_audit_new *e,
			   const char *prev_hex, const char *hash_hex, struct pp_err *err)
{
	return sq_write(sq(base), ST_AUDIT_INSERT, "store: audit append", err, "iitttttt",
			(int64_t)seq, e->time, e->actor, e->action, e->subject, e->detail, prev_hex,
			hash_hex);
}

struct audit_list_ctx {
	int (*cb)(void *, const struct pp_audit_entry *);
	void *ctx;
};

static int audit_list_row(sqlite3_stmt *st, void *arg, struct pp_err *err)
{
	struct audit_list_ctx *c = arg;
	struct pp_audit_entry e;
	int64_t seq = sqlite3_column_int64(st, 0);
	e.seq = seq < 0 ? 0 : (uint64_t)seq;
	e.time = sqlite3_column_int64(st, 1);
	e.actor = (const char *)sqlite3_column_text(st, 2);
	e.action = (const char *)sqlite3_column_text(st, 3);
	e.subject = (const char *)sqlite3_column_text(st, 4);
	e.detail = (const char *)sqlite3_column_text(st, 5);
	column_str(st, 6, e.hash, sizeof(e.hash));
	if (!e.actor || !e.action || !e.subject || !e.detail)
		return pp_err_set(err, PP_ESTORE, "audit entry %llu: a field is missing",
				  (unsigned long long)e.seq);
	return c->cb(c->ctx, &e);
}

static int sq_audit_list(struct pp_store *base, uint64_t since_seq,
			 int (*cb)(void *, const struct pp_audit_entry *), void *ctx,
			 struct pp_err *err)
{
	struct sqlite_store *s = sq(base);
	sqlite3_stmt *st = NULL;
	int64_t since = since_seq > INT64_MAX ? INT64_MAX : (int64_t)since_seq;
	int rc = stmt_bound(s, ST_AUDIT_LIST, "store: audit list", &st, err, "i", since);
	if (rc < 0)
		return rc;
	struct audit_list_ctx c = {cb, ctx};
	rc = step_rows(s, st, "store: audit list", audit_list_row, &c, err);
	stmt_give(s, ST_AUDIT_LIST);
	return rc;
}

/* ---- savepoints ---- */

static bool sq_in_transaction(struct pp_store *base)
{
	return !sqlite3_get_autocommit(sq(base)->db);
}

static int sq_savepoint(struct pp_store *base, enum pp_savepoint_op op, struct pp_err *err)
{
	struct sqlite_store *s = sq(base);
	switch (op) {
	case PP_SP_BEGIN:
		return stmt_exec(s, ST_SAVEPOINT, "store: savepoint", err);
	case PP_SP_RELEASE:
		return stmt_exec(s, ST_RELEASE, "store: release savepoint", err);
	case PP_SP_ROLLBACK: {
		int rc = stmt_exec(s, ST_ROLLBACK_TO, "store: roll back to savepoint", err);
		if (rc == 0)
			rc = stmt_exec(s, ST_RELEASE, "store: release savepoint", err);
		return rc;
	}
	}
	return pp_err_set(err, PP_EINVAL, "store: unknown savepoint operation");
}

/* ---- row helpers ---- */

/* "" is stored as NULL. */
static int column_uuid(sqlite3_stmt *st, int col, uint8_t out[16])
{
	const char *t = (const char *)sqlite3_column_text(st, col);
	return t && pp_uuid_parse(t, out, NULL) == 0 ? 0 : -PP_ESTORE;
}

static int column_addr(sqlite3_stmt *st, int col, uint8_t out[4])
{
	return pp_store_addr_parse((const char *)sqlite3_column_text(st, col), out) < 0 ? -PP_ESTORE
											: 0;
}

static int64_t limit_param(uint64_t limit)
{
	return limit == 0 || limit > INT64_MAX ? -1 : (int64_t)limit;
}

/* ---- key use and lockout ---- */

static int sq_key_lock(struct pp_store *base, const char *pid, struct pp_key_info *info,
		       int64_t *batch_id, struct pp_err *err)
{
	struct sqlite_store *s = sq(base);
	sqlite3_stmt *st = NULL;
	int rc = stmt_bound(s, ST_KEY_LOCK, "store: key lookup", &st, err, "t", pid);
	if (rc < 0)
		return rc;
	if ((rc = step_row(s, st, "store: key lookup", err)) == 0 &&
	    (rc = key_row(st, info, err)) == 0)
		*batch_id = sqlite3_column_int64(st, 12);
	stmt_give(s, ST_KEY_LOCK);
	return rc;
}

static int sq_key_uses(struct pp_store *base, const char *pid, const char *uuid, bool *bound,
		       uint64_t *count, char other[37], struct pp_err *err)
{
	struct sqlite_store *s = sq(base);
	sqlite3_stmt *st = NULL;
	int rc = stmt_bound(s, ST_KEY_USES, "store: key uses", &st, err, "tt", pid, uuid);
	if (rc < 0)
		return rc;
	if ((rc = step_row(s, st, "store: key uses", err)) == 0) {
		*bound = sqlite3_column_int64(st, 0) > 0;
		int64_t n = sqlite3_column_int64(st, 1);
		*count = n < 0 ? 0 : (uint64_t)n;
		column_str(st, 2, other, 37);
	}
	stmt_give(s, ST_KEY_USES);
	return rc;
}

static int sq_key_bind(struct pp_store *base, const char *pid, const char *uuid, int64_t now,
		       struct pp_err *err)
{
	struct sqlite_store *s = sq(base);
	int rc = sq_write(s, ST_KEY_USE_INSERT, "store: key use", err, "tti", pid, uuid, now);
	if (rc < 0)
		return rc;
	return sq_write(s, ST_KEY_USE_COUNT, "store: key use", err, "ti", pid, now);
}

static int sq_key_provisioned(struct pp_store *base, const char *pid, uint64_t *count,
			      struct pp_err *err)
{
	int64_t n = 0;
	int rc =
	    sq_run(sq(base), ST_KEY_PROVISIONED, "store: key devices", &n, NULL, err, "t", pid);
	*count = n < 0 ? 0 : (uint64_t)n;
	return rc;
}

static int sq_key_failure(struct pp_store *base, const char *pid, const uint8_t addr[4],
			  int64_t now, uint32_t limit, uint32_t lock_s, struct pp_err *err)
{
	struct sqlite_store *s = sq(base);
	const char *what = "store: key failure";
	int changes = 0;
	int rc = sq_run(s, ST_KEY_FAILURE, what, NULL, &changes, err, "ti", pid, now);
	if (rc < 0)
		return rc;
	if (changes == 0)
		return pp_err_set(err, PP_ENOTFOUND, "%s: no such key", what);
	if ((rc = sq_run(s, ST_PAIR_FAILURE, what, NULL, NULL, err, "taiii", pid, addr, now,
			 (int64_t)limit, (int64_t)lock_s)) < 0 ||
	    (rc = sq_run(s, ST_KEY_LOCK_RAISE, what, NULL, NULL, err, "ta", pid, addr)) < 0)
		return rc;
	return sq_run(s, ST_PAIR_TRIM, what, NULL, NULL, err, "ti", pid,
		      (int64_t)PP_STORE_PAIRS_MAX);
}

static int sq_key_locked_at(struct pp_store *base, const char *pid, const uint8_t addr[4],
			    int64_t now, bool *locked, struct pp_err *err)
{
	int64_t n = 0;
	int rc = sq_run(sq(base), ST_PAIR_LOCKED, "store: key lock", &n, NULL, err, "tai", pid,
			addr, now);
	*locked = n > 0;
	return rc;
}

static int sq_key_success(struct pp_store *base, const char *pid, int64_t now, struct pp_err *err)
{
	struct sqlite_store *s = sq(base);
	int rc = sq_write(s, ST_KEY_SUCCESS, "store: key success", err, "ti", pid, now);
	if (rc < 0)
		return rc;
	return sq_run(s, ST_PAIR_CLEAR, "store: key success", NULL, NULL, err, "t", pid);
}

/* ---- devices ---- */

static int device_row(sqlite3_stmt *st, struct pp_device_row *d)
{
	memset(d, 0, sizeof(*d));
	if (column_uuid(st, 0, d->info.uuid) < 0)
		return -PP_ESTORE;
	column_str(st, 1, d->info.pid, sizeof(d->info.pid));
	if (column_addr(st, 2, d->info.addr) < 0)
		return -PP_ESTORE;
	int state = pp_device_state_from_name((const char *)sqlite3_column_text(st, 3));
	if (state < 0)
		return -PP_ESTORE;
	d->info.state = (enum pp_device_state)state;
	d->info.quarantined = sqlite3_column_int(st, 4) != 0;
	d->info.has_credentials = sqlite3_column_int(st, 5) != 0;
	column_str(st, 6, d->info.host_name, sizeof(d->info.host_name));
	column_str(st, 7, d->info.domain, sizeof(d->info.domain));
	column_str(st, 8, d->info.last_error, sizeof(d->info.last_error));
	d->info.first_seen = sqlite3_column_int64(st, 9);
	d->info.last_seen = sqlite3_column_int64(st, 10);
	d->info.provisioned_at = sqlite3_column_int64(st, 11);
	column_str(st, 12, d->quarantine_reason, sizeof(d->quarantine_reason));
	column_str(st, 13, d->last_source, sizeof(d->last_source));
	int64_t n = sqlite3_column_int64(st, 14);
	d->hello_count = n < 0 ? 0 : (uint64_t)n;
	d->updated = sqlite3_column_int64(st, 15);
	column_str(st, 16, d->info.tls_version, sizeof(d->info.tls_version));
	column_str(st, 17, d->info.tls_cipher, sizeof(d->info.tls_cipher));
	d->info.id = sqlite3_column_int64(st, 18);
	column_str(st, 19, d->info.batch, sizeof(d->info.batch));
	return 0;
}

/* Parameters 1..16 of ST_DEVICE_INSERT; ST_DEVICE_PUT uses them but for 12. */
static int bind_device(sqlite3_stmt *st, const struct pp_device_row *d, bool insert)
{
	const struct pp_device_info *i = &d->info;
	if (bind_uuid(st, 1, i->uuid) != SQLITE_OK || bind_opt_text(st, 2, i->pid) != SQLITE_OK ||
	    bind_addr(st, 3, i->addr) != SQLITE_OK ||
	    bind_text(st, 4, pp_device_state_name(i->state)) != SQLITE_OK ||
	    sqlite3_bind_int(st, 5, i->quarantined ? 1 : 0) != SQLITE_OK ||
	    bind_opt_text(st, 6, d->quarantine_reason) != SQLITE_OK ||
	    bind_opt_text(st, 7, i->host_name) != SQLITE_OK ||
	    bind_opt_text(st, 8, i->domain) != SQLITE_OK ||
	    bind_opt_text(st, 9, i->last_error) != SQLITE_OK ||
	    bind_opt_text(st, 10, d->last_source) != SQLITE_OK ||
	    sqlite3_bind_int64(st, 11,
			       d->hello_count > INT64_MAX ? INT64_MAX : (int64_t)d->hello_count) !=
		SQLITE_OK ||
	    (insert && sqlite3_bind_int64(st, 12, i->first_seen) != SQLITE_OK) ||
	    sqlite3_bind_int64(st, 13, i->last_seen) != SQLITE_OK ||
	    sqlite3_bind_int64(st, 14, i->provisioned_at) != SQLITE_OK ||
	    sqlite3_bind_int64(st, 15, d->updated) != SQLITE_OK ||
	    sqlite3_bind_int64(st, 16, pp_store_addr_num(i->addr)) != SQLITE_OK)
		return -1;
	return 0;
}

static int sq_device_get(struct pp_store *base, const uint8_t uuid[16], struct pp_device_row *out,
			 struct pp_err *err)
{
	struct sqlite_store *s = sq(base);
	sqlite3_stmt *st = NULL;
	int rc = stmt_bound(s, ST_DEVICE_GET, "store: device lookup", &st, err, "u", uuid);
	if (rc < 0)
		return rc;
	if ((rc = step_row(s, st, "store: device lookup", err)) == 0 && device_row(st, out) < 0)
		rc = pp_err_set(err, PP_ESTORE, "store: a device row is malformed");
	stmt_give(s, ST_DEVICE_GET);
	return rc;
}

static int sq_device_lock(struct pp_store *base, const uint8_t uuid[16],
			  const struct pp_device_row *insert, struct pp_device_row *out,
			  bool *created, struct pp_err *err)
{
	struct sqlite_store *s = sq(base);
	if (created)
		*created = false;
	if (insert) {
		sqlite3_stmt *st = NULL;
		int rc = stmt_take(s, ST_DEVICE_INSERT, &st, err);
		if (rc < 0)
			return rc;
		if (bind_device(st, insert, true) < 0) {
			rc = bind_failed(s, "store: device insert", err);
		} else {
			rc = sqlite3_step(st);
			if (rc != SQLITE_DONE)
				rc = db_err(s->db, rc, "store: device insert", err);
			else {
				rc = 0;
				if (created)
					*created = sqlite3_changes(s->db) > 0;
			}
		}
		stmt_give(s, ST_DEVICE_INSERT);
		if (rc < 0)
			return rc;
	}
	/* The write lock of the transaction is the row lock. */
	return sq_device_get(base, uuid, out, err);
}

static int sq_device_put(struct pp_store *base, const struct pp_device_row *d, struct pp_err *err)
{
	struct sqlite_store *s = sq(base);
	sqlite3_stmt *st = NULL;
	int rc = stmt_take(s, ST_DEVICE_PUT, &st, err);
	if (rc < 0)
		return rc;
	if (bind_device(st, d, false) < 0)
		rc = bind_failed(s, "store: device update", err);
	else
		rc = step_write(s, st, "store: device update", err);
	stmt_give(s, ST_DEVICE_PUT);
	return rc;
}

static int sq_device_set_tls(struct pp_store *base, const uint8_t uuid[16], const char *version,
			     const char *cipher, int64_t now, struct pp_err *err)
{
	return sq_write(sq(base), ST_DEVICE_SET_TLS, "store: device TLS", err, "utti", uuid,
			version, cipher, now);
}

/* A listing in id order, of one state ($1) or any, at most limit ($2) rows. */
struct state_list {
	struct {
		int (*device)(void *, const struct pp_device_row *);
		int (*job)(void *, const struct pp_job *); /* set: a job listing */
	} cb;
	void *ctx;
};

static int job_row(sqlite3_stmt *st, struct pp_job *j);

static int state_list_row(sqlite3_stmt *st, void *arg, struct pp_err *err)
{
	struct state_list *c = arg;
	if (c->cb.job) {
		struct pp_job j;
		if (job_row(st, &j) < 0)
			return pp_err_set(err, PP_ESTORE, "store: a job row is malformed");
		return c->cb.job(c->ctx, &j);
	}
	struct pp_device_row d;
	if (device_row(st, &d) < 0)
		return pp_err_set(err, PP_ESTORE, "store: a device row is malformed");
	return c->cb.device(c->ctx, &d);
}

static int list_by_state(struct sqlite_store *s, struct state_list *c, enum stmt_id sid,
			 const char *state, uint64_t limit, const char *what, struct pp_err *err)
{
	sqlite3_stmt *st = NULL;
	int rc = stmt_take(s, sid, &st, err);
	if (rc < 0)
		return rc;
	if ((state && bind_text(st, 1, state) != SQLITE_OK) ||
	    sqlite3_bind_int64(st, 2, limit_param(limit)) != SQLITE_OK)
		rc = bind_failed(s, what, err);
	else
		rc = step_rows(s, st, what, state_list_row, c, err);
	stmt_give(s, sid);
	return rc;
}

static int sq_device_list(struct pp_store *base, int state, uint64_t limit,
			  int (*cb)(void *, const struct pp_device_row *), void *ctx,
			  struct pp_err *err)
{
	struct state_list c = {.cb.device = cb, .ctx = ctx};
	const char *name = state >= 0 ? pp_device_state_name((enum pp_device_state)state) : NULL;
	return list_by_state(sq(base), &c, name ? ST_DEVICE_LIST_STATE : ST_DEVICE_LIST, name,
			     limit, "store: device list", err);
}

static int sq_escrow_get(struct pp_store *base, const uint8_t uuid[16], char admin_user[33],
			 struct pp_sealed_small *admin, struct pp_sealed_small *mebx,
			 struct pp_err *err)
{
	struct sqlite_store *s = sq(base);
	sqlite3_stmt *st = NULL;
	int rc = stmt_bound(s, ST_ESCROW_GET, "store: escrow", &st, err, "u", uuid);
	if (rc < 0)
		return rc;
	if ((rc = step_row(s, st, "store: escrow", err)) == 0) {
		column_str(st, 0, admin_user, 33);
		if (column_sealed(st, 1, admin) < 0 || column_sealed(st, 2, mebx) < 0)
			rc = pp_err_set(err, PP_ESTORE, "store: an escrow blob is too long");
	}
	stmt_give(s, ST_ESCROW_GET);
	return rc;
}

static int sq_escrow_put(struct pp_store *base, const uint8_t uuid[16], const char *admin_user,
			 const struct pp_sealed_small *admin, const struct pp_sealed_small *mebx,
			 int64_t now, struct pp_err *err)
{
	int rc = sq_write(sq(base), ST_ESCROW_PUT, "store: escrow", err, "utbbi", uuid, admin_user,
			  admin->b, admin->len, mebx->b, mebx->len, now);
	if (rc == -PP_ENOTFOUND)
		return pp_err_set(err, PP_EEXIST, "store: escrow: already set");
	if (rc < 0)
		return rc;
	return sq_run(sq(base), ST_ESCROW_EVENT, "store: job event", NULL, NULL, err, "ui", uuid,
		      now);
}

/* ---- jobs ---- */

static int job_row(sqlite3_stmt *st, struct pp_job *j)
{
	memset(j, 0, sizeof(*j));
	j->id = sqlite3_column_int64(st, 0);
	if (column_uuid(st, 1, j->uuid) < 0)
		return -PP_ESTORE;
	column_str(st, 2, j->pid, sizeof(j->pid));
	column_str(st, 3, j->next_pid, sizeof(j->next_pid));
	if (column_addr(st, 4, j->addr) < 0)
		return -PP_ESTORE;
	int state = pp_job_state_from_name((const char *)sqlite3_column_text(st, 5));
	int step = pp_job_step_from_name((const char *)sqlite3_column_text(st, 6));
	if (state < 0 || step < 0)
		return -PP_ESTORE;
	j->state = (enum pp_job_state)state;
	j->step = (enum pp_job_step)step;
	j->attempts = column_u32(st, 7);
	column_str(st, 8, j->owner, sizeof(j->owner));
	j->lease_until = sqlite3_column_int64(st, 9);
	j->next_attempt_at = sqlite3_column_int64(st, 10);
	column_str(st, 11, j->last_error, sizeof(j->last_error));
	j->created = sqlite3_column_int64(st, 12);
	j->updated = sqlite3_column_int64(st, 13);
	j->bound = sqlite3_column_int(st, 14) != 0;
	return 0;
}

/* Runs a job query by uuid (when not NULL) or id and reads its one row. */
/* One job by the statement sid, already bound (stmt_bound). */
static int job_one(struct sqlite_store *s, enum stmt_id sid, sqlite3_stmt *st, struct pp_job *out,
		   struct pp_err *err)
{
	int rc = step_row(s, st, "store: job lookup", err);
	if (rc == 0 && job_row(st, out) < 0)
		rc = pp_err_set(err, PP_ESTORE, "store: a job row is malformed");
	stmt_give(s, sid);
	return rc;
}

static int job_query(struct sqlite_store *s, enum stmt_id sid, const uint8_t *uuid, int64_t id,
		     struct pp_job *out, struct pp_err *err)
{
	sqlite3_stmt *st = NULL;
	int rc = uuid ? stmt_bound(s, sid, "store: job lookup", &st, err, "u", uuid)
		      : stmt_bound(s, sid, "store: job lookup", &st, err, "i", id);
	return rc < 0 ? rc : job_one(s, sid, st, out, err);
}

static int sq_job_get(struct pp_store *base, int64_t id, bool lock, struct pp_job *out,
		      struct pp_err *err)
{
	(void)lock; /* the transaction's write lock covers it */
	return job_query(sq(base), ST_JOB_GET, NULL, id, out, err);
}

static int sq_job_find(struct pp_store *base, const uint8_t uuid[16], enum pp_job_find which,
		       bool lock, struct pp_job *out, struct pp_err *err)
{
	(void)lock;
	return job_query(sq(base), which == PP_JOB_FIND_ACTIVE ? ST_JOB_ACTIVE : ST_JOB_LAST_DONE,
			 uuid, 0, out, err);
}

static int sq_job_find_at(struct pp_store *base, const uint8_t uuid[16], const uint8_t addr[4],
			  bool lock, struct pp_job *out, struct pp_err *err)
{
	struct sqlite_store *s = sq(base);
	sqlite3_stmt *st = NULL;
	(void)lock;
	int rc = stmt_bound(s, ST_JOB_ACTIVE_AT, "store: job lookup", &st, err, "ua", uuid, addr);
	return rc < 0 ? rc : job_one(s, ST_JOB_ACTIVE_AT, st, out, err);
}

static int sq_jobs_prune(struct pp_store *base, const char *pid, uint64_t keep, int64_t keep_id,
			 uint64_t *dropped, struct pp_err *err)
{
	int changes = 0;
	int rc = sq_run(sq(base), ST_JOBS_PRUNE, "store: unproven jobs", NULL, &changes, err, "tii",
			pid, limit_param(keep) < 0 ? INT64_MAX : (int64_t)keep, keep_id);
	if (dropped)
		*dropped = rc == 0 && changes > 0 ? (uint64_t)changes : 0;
	return rc;
}

static int sq_jobs_drop_unbound(struct pp_store *base, const uint8_t uuid[16], int64_t keep_id,
				struct pp_err *err)
{
	return sq_run(sq(base), ST_JOBS_DROP_UNBOUND, "store: unproven jobs", NULL, NULL, err, "ui",
		      uuid, keep_id);
}

static int sq_host_name_taken(struct pp_store *base, const char *name, const uint8_t uuid[16],
			      bool *taken, struct pp_err *err)
{
	int64_t n = 0;
	int rc =
	    sq_run(sq(base), ST_HOST_TAKEN, "store: host names", &n, NULL, err, "tu", name, uuid);
	*taken = n > 0;
	return rc;
}

static int sq_note_put(struct pp_store *base, const struct pp_hello_note *n, struct pp_err *err)
{
	struct sqlite_store *s = sq(base);
	const char *kind = pp_note_kind_name(n->kind);
	int rc = sq_run(s, ST_NOTE_PUT, "store: hello note", NULL, NULL, err, "ttaui", kind, n->pid,
			n->addr, n->uuid, n->last_seen);
	if (rc < 0)
		return rc;
	return sq_run(s, ST_NOTE_TRIM, "store: hello note", NULL, NULL, err, "ti", kind,
		      (int64_t)PP_STORE_NOTES_MAX);
}

struct note_list_ctx {
	enum pp_hello_note_kind kind;
	int (*cb)(void *, const struct pp_hello_note *);
	void *ctx;
};

static int note_list_row(sqlite3_stmt *st, void *arg, struct pp_err *err)
{
	struct note_list_ctx *c = arg;
	struct pp_hello_note n;
	memset(&n, 0, sizeof(n));
	n.kind = c->kind;
	column_str(st, 0, n.pid, sizeof(n.pid));
	if (column_addr(st, 1, n.addr) < 0 || column_uuid(st, 2, n.uuid) < 0)
		return pp_err_set(err, PP_ESTORE, "store: a hello note is malformed");
	int64_t count = sqlite3_column_int64(st, 3);
	n.count = count < 0 ? 0 : (uint64_t)count;
	n.first_seen = sqlite3_column_int64(st, 4);
	n.last_seen = sqlite3_column_int64(st, 5);
	return c->cb(c->ctx, &n);
}

static int sq_note_list(struct pp_store *base, enum pp_hello_note_kind kind,
			int (*cb)(void *, const struct pp_hello_note *), void *ctx,
			struct pp_err *err)
{
	struct sqlite_store *s = sq(base);
	struct note_list_ctx c = {.kind = kind, .cb = cb, .ctx = ctx};
	sqlite3_stmt *st = NULL;
	int rc = stmt_bound(s, ST_NOTE_LIST, "store: hello notes", &st, err, "t",
			    pp_note_kind_name(kind));
	if (rc < 0)
		return rc;
	rc = step_rows(s, st, "store: hello notes", note_list_row, &c, err);
	stmt_give(s, ST_NOTE_LIST);
	return rc;
}

/* The job columns ST_JOB_INSERT and ST_JOB_PUT both write, from parameter `first` on
 * (next_pid to last_error). */
static int bind_job(sqlite3_stmt *st, int first, const struct pp_job *j)
{
	int i = first;
	if (bind_opt_text(st, i++, j->next_pid) != SQLITE_OK ||
	    bind_addr(st, i++, j->addr) != SQLITE_OK ||
	    bind_text(st, i++, pp_job_state_name(j->state)) != SQLITE_OK ||
	    bind_text(st, i++, pp_job_step_name(j->step)) != SQLITE_OK ||
	    sqlite3_bind_int64(st, i++, j->attempts) != SQLITE_OK ||
	    bind_opt_text(st, i++, j->owner) != SQLITE_OK ||
	    sqlite3_bind_int64(st, i++, j->lease_until) != SQLITE_OK ||
	    sqlite3_bind_int64(st, i++, j->next_attempt_at) != SQLITE_OK ||
	    bind_opt_text(st, i, j->last_error) != SQLITE_OK)
		return -1;
	return 0;
}

static int sq_job_event(struct pp_store *base, const struct pp_job_event *ev, struct pp_err *err)
{
	struct sqlite_store *s = sq(base);
	int rc = sq_run(s, ST_JOB_EVENT, "store: job event", NULL, NULL, err, "iitt", ev->job_id,
			ev->time, ev->event, ev->detail);
	if (rc < 0)
		return rc;
	return sq_run(s, ST_JOB_EVENT_TRIM, "store: job events trim", NULL, NULL, err, "i",
		      ev->job_id);
}

/* ev for the job id: the job's own. */
static int job_event_of(struct pp_store *base, int64_t id, const struct pp_job_event *ev,
			struct pp_err *err)
{
	struct pp_job_event e = *ev;
	e.job_id = id;
	return sq_job_event(base, &e, err);
}

static int sq_job_insert(struct pp_store *base, const struct pp_job *j,
			 const struct pp_job_event *ev, int64_t *id, struct pp_err *err)
{
	struct sqlite_store *s = sq(base);
	const char *what = "store: job insert";
	sqlite3_stmt *st = NULL;
	int rc = stmt_bound(s, ST_JOB_INSERT, what, &st, err, "ut", j->uuid, j->pid);
	if (rc < 0)
		return rc;
	if (bind_job(st, 3, j) < 0 || sqlite3_bind_int64(st, 12, j->created) != SQLITE_OK ||
	    sqlite3_bind_int64(st, 13, j->updated) != SQLITE_OK ||
	    sqlite3_bind_int(st, 14, j->bound ? 1 : 0) != SQLITE_OK)
		rc = bind_failed(s, what, err);
	else if ((rc = sqlite3_step(st)) != SQLITE_DONE)
		rc = db_err(s->db, rc, what, err);
	else {
		*id = sqlite3_last_insert_rowid(s->db);
		rc = 0;
	}
	stmt_give(s, ST_JOB_INSERT);
	return rc < 0 || !ev ? rc : job_event_of(base, *id, ev, err);
}

static int sq_job_put(struct pp_store *base, const struct pp_job *j, const struct pp_job_event *ev,
		      struct pp_err *err)
{
	struct sqlite_store *s = sq(base);
	const char *what = "store: job update";
	sqlite3_stmt *st = NULL;
	int rc = stmt_bound(s, ST_JOB_PUT, what, &st, err, "i", j->id);
	if (rc < 0)
		return rc;
	if (bind_job(st, 2, j) < 0 || sqlite3_bind_int64(st, 11, j->updated) != SQLITE_OK ||
	    bind_uuid(st, 12, j->uuid) != SQLITE_OK ||
	    sqlite3_bind_int(st, 13, j->bound ? 1 : 0) != SQLITE_OK)
		rc = bind_failed(s, what, err);
	else
		rc = step_write(s, st, what, err);
	stmt_give(s, ST_JOB_PUT);
	return rc < 0 || !ev ? rc : job_event_of(base, j->id, ev, err);
}

static int sq_jobs_claim(struct pp_store *base, const char *owner, int64_t now, int64_t lease_until,
			 size_t max, struct pp_job *out, size_t *n, struct pp_err *err)
{
	struct sqlite_store *s = sq(base);
	sqlite3_stmt *st = NULL;
	size_t found = 0;
	*n = 0;
	/* The ids first, then the updates: no write while the query is stepping. */
	int rc = stmt_take(s, ST_JOB_CLAIMABLE, &st, err);
	if (rc < 0)
		return rc;
	if (sqlite3_bind_int64(st, 1, now) != SQLITE_OK ||
	    sqlite3_bind_int64(st, 2, max > INT64_MAX ? INT64_MAX : (int64_t)max) != SQLITE_OK) {
		rc = bind_failed(s, "store: job claim", err);
		stmt_give(s, ST_JOB_CLAIMABLE);
		return rc;
	}
	while (found < max && (rc = sqlite3_step(st)) == SQLITE_ROW)
		out[found++].id = sqlite3_column_int64(st, 0);
	rc = rc == SQLITE_ROW || rc == SQLITE_DONE ? 0 : db_err(s->db, rc, "store: job claim", err);
	stmt_give(s, ST_JOB_CLAIMABLE);
	if (rc < 0)
		return rc;
	for (size_t i = 0; i < found; i++) {
		int64_t id = out[i].id;
		if ((rc = stmt_take(s, ST_JOB_CLAIM, &st, err)) < 0)
			return rc;
		if (sqlite3_bind_int64(st, 1, id) != SQLITE_OK || bind_text(st, 2, owner) ||
		    sqlite3_bind_int64(st, 3, lease_until) != SQLITE_OK ||
		    sqlite3_bind_int64(st, 4, now) != SQLITE_OK)
			rc = bind_failed(s, "store: job claim", err);
		else
			rc = step_write(s, st, "store: job claim", err);
		stmt_give(s, ST_JOB_CLAIM);
		if (rc < 0)
			return rc;
		if ((rc = job_query(s, ST_JOB_GET, NULL, id, &out[i], err)) < 0)
			return rc;
		struct pp_job_event ev = {.job_id = id, .time = now, .event = "claimed"};
		pp_job_claim_detail(owner, out[i].attempts, ev.detail);
		if ((rc = sq_job_event(base, &ev, err)) < 0)
			return rc;
	}
	*n = found;
	return 0;
}

static int sq_jobs_renew(struct pp_store *base, const char *owner, int64_t now, int64_t lease_until,
			 struct pp_err *err)
{
	return sq_run(sq(base), ST_JOBS_RENEW, "store: lease renewal", NULL, NULL, err, "tii",
		      owner, now, lease_until);
}

static int sq_job_list(struct pp_store *base, int state, uint64_t limit,
		       int (*cb)(void *, const struct pp_job *), void *ctx, struct pp_err *err)
{
	struct state_list c = {.cb.job = cb, .ctx = ctx};
	const char *name = state >= 0 ? pp_job_state_name((enum pp_job_state)state) : NULL;
	return list_by_state(sq(base), &c, name ? ST_JOB_LIST_STATE : ST_JOB_LIST, name, limit,
			     "store: job list", err);
}

/* ---- the operator's views ---- */

struct event_list_ctx {
	int (*cb)(void *, const struct pp_job_event *);
	void *ctx;
};

static int event_list_row(sqlite3_stmt *st, void *arg, struct pp_err *err)
{
	struct event_list_ctx *c = arg;
	struct pp_job_event e;
	(void)err;
	memset(&e, 0, sizeof(e));
	e.job_id = sqlite3_column_int64(st, 0);
	e.time = sqlite3_column_int64(st, 1);
	column_str(st, 2, e.event, sizeof(e.event));
	column_str(st, 3, e.detail, sizeof(e.detail));
	return c->cb(c->ctx, &e);
}

static int sq_job_events(struct pp_store *base, int64_t job_id,
			 int (*cb)(void *, const struct pp_job_event *), void *ctx,
			 struct pp_err *err)
{
	struct sqlite_store *s = sq(base);
	struct event_list_ctx c = {cb, ctx};
	sqlite3_stmt *st = NULL;
	int rc = stmt_bound(s, ST_JOB_EVENTS, "store: job events", &st, err, "i", job_id);
	if (rc < 0)
		return rc;
	rc = step_rows(s, st, "store: job events", event_list_row, &c, err);
	stmt_give(s, ST_JOB_EVENTS);
	return rc;
}

static int sq_device_jobs(struct pp_store *base, const uint8_t uuid[16], uint32_t limit,
			  int (*cb)(void *, const struct pp_job *), void *ctx, struct pp_err *err)
{
	struct sqlite_store *s = sq(base);
	struct state_list c = {.cb.job = cb, .ctx = ctx};
	sqlite3_stmt *st = NULL;
	int rc = stmt_bound(s, ST_DEVICE_JOBS, "store: device jobs", &st, err, "ui", uuid,
			    (int64_t)limit);
	if (rc < 0)
		return rc;
	rc = step_rows(s, st, "store: device jobs", state_list_row, &c, err);
	stmt_give(s, ST_DEVICE_JOBS);
	return rc;
}

static int sq_job_page(struct pp_store *base, const struct pp_job_page *p, int64_t before_id,
		       const char *text, const char *pid_text,
		       int (*cb)(void *, const struct pp_job *), void *ctx, struct pp_err *err)
{
	struct sqlite_store *s = sq(base);
	struct state_list c = {.cb.job = cb, .ctx = ctx};
	const char *state = p->state >= 0 ? pp_job_state_name((enum pp_job_state)p->state) : NULL;
	enum stmt_id sid = text || p->bound >= 0 ? ST_JOB_SEARCH
			   : state               ? ST_JOB_PAGE_STATE
						 : ST_JOB_PAGE;
	sqlite3_stmt *st = NULL;
	int rc;
	if (sid == ST_JOB_SEARCH)
		rc = stmt_bound(s, sid, "store: job page", &st, err, "iioioo", before_id,
				(int64_t)p->limit, state, (int64_t)p->bound, text, pid_text);
	else if (state)
		rc = stmt_bound(s, sid, "store: job page", &st, err, "iit", before_id,
				(int64_t)p->limit, state);
	else
		rc = stmt_bound(s, sid, "store: job page", &st, err, "ii", before_id,
				(int64_t)p->limit);
	if (rc < 0)
		return rc;
	rc = step_rows(s, st, "store: job page", state_list_row, &c, err);
	stmt_give(s, sid);
	return rc;
}

struct stock_list_ctx {
	int (*cb)(void *, int64_t, const char *, const char *, int64_t);
	void *ctx;
};

static int stock_list_row(sqlite3_stmt *st, void *arg, struct pp_err *err)
{
	struct stock_list_ctx *c = arg;
	(void)err;
	return c->cb(c->ctx, sqlite3_column_int64(st, 0), (const char *)sqlite3_column_text(st, 1),
		     (const char *)sqlite3_column_text(st, 2), sqlite3_column_int64(st, 3));
}

static int sq_key_stock(struct pp_store *base,
			int (*cb)(void *, int64_t, const char *, const char *, int64_t), void *ctx,
			struct pp_err *err)
{
	struct sqlite_store *s = sq(base);
	struct stock_list_ctx c = {cb, ctx};
	sqlite3_stmt *st = NULL;
	int rc = stmt_take(s, ST_KEY_STOCK, &st, err);
	if (rc < 0)
		return rc;
	rc = step_rows(s, st, "store: key stock", stock_list_row, &c, err);
	stmt_give(s, ST_KEY_STOCK);
	return rc;
}

/* The statement of a query shape, prepared on first use; marked busy. */
static int dq_take(struct sqlite_store *s, const struct pp_device_query *q, bool count,
		   enum pp_dq_param params[PP_DQ_PARAMS_MAX], int *np, int *slot,
		   struct pp_err *err)
{
	char sql[2048];
	int i = pp_dq_shape(q, count) + (count ? PP_DQ_SHAPES : 0);
	int rc = pp_dq_sql(PP_DQ_SQLITE, DEVICE_COLS, q, count, sql, sizeof(sql), params, np);
	if (rc < 0)
		return pp_err_set(err, PP_ESTORE, "store: device query too long");
	if (s->dq[i].busy)
		return pp_err_set(err, PP_EBUSY,
				  "store: a list callback started the same listing again");
	if (!s->dq[i].st) {
		rc = sqlite3_prepare_v3(s->db, sql, -1, SQLITE_PREPARE_PERSISTENT, &s->dq[i].st,
					NULL);
		if (rc != SQLITE_OK)
			return db_err(s->db, rc, "store: preparing a device query", err);
	}
	s->dq[i].busy = true;
	*slot = i;
	return 0;
}

static void dq_give(struct sqlite_store *s, int slot)
{
	sqlite3_reset(s->dq[slot].st);
	sqlite3_clear_bindings(s->dq[slot].st);
	s->dq[slot].busy = false;
}

struct dq_values {
	const struct pp_device_query *q;
	int64_t batch_id;
	const char *text, *pid_text;
};

static int dq_bind(sqlite3_stmt *st, const struct dq_values *v, const enum pp_dq_param *params,
		   int np)
{
	const struct pp_device_query *q = v->q;
	for (int i = 0; i < np; i++) {
		int rc = SQLITE_OK, k = i + 1;
		switch (params[i]) {
		case PP_DQ_P_STATE:
			rc = bind_text(st, k, pp_device_state_name((enum pp_device_state)q->state));
			break;
		case PP_DQ_P_BATCH:
			rc = sqlite3_bind_int64(st, k, v->batch_id);
			break;
		case PP_DQ_P_QUAR:
			rc = sqlite3_bind_int(st, k, q->quarantined);
			break;
		case PP_DQ_P_TEXT:
			rc = bind_text(st, k, v->text);
			break;
		case PP_DQ_P_PID_TEXT:
			rc = bind_text(st, k, v->pid_text);
			break;
		case PP_DQ_P_CUR_KEY:
			rc = q->sort == PP_DEV_SORT_LAST_SEEN || q->sort == PP_DEV_SORT_ADDRESS
				 ? sqlite3_bind_int64(st, k, q->after->num)
				 : bind_text(st, k, q->after->text);
			break;
		case PP_DQ_P_CUR_ID:
			rc = sqlite3_bind_int64(st, k, q->after->id);
			break;
		default:
			rc = sqlite3_bind_int64(st, k, q->limit);
			break;
		}
		if (rc != SQLITE_OK)
			return -1;
	}
	return 0;
}

struct dq_rows_ctx {
	int (*cb)(void *, const struct pp_device_row *);
	void *ctx;
};

static int dq_row(sqlite3_stmt *st, void *arg, struct pp_err *err)
{
	struct dq_rows_ctx *c = arg;
	struct pp_device_row d;
	if (device_row(st, &d) < 0)
		return pp_err_set(err, PP_ESTORE, "store: a device row is malformed");
	return c->cb(c->ctx, &d);
}

/* Runs the page (count false, rows through c) or the count (into *total). */
static int dq_run(struct sqlite_store *s, const struct dq_values *v, bool count,
		  struct dq_rows_ctx *c, uint64_t *total, struct pp_err *err)
{
	enum pp_dq_param params[PP_DQ_PARAMS_MAX];
	int np = 0, slot = 0;
	int rc = dq_take(s, v->q, count, params, &np, &slot, err);
	if (rc < 0)
		return rc;
	sqlite3_stmt *st = s->dq[slot].st;
	if (dq_bind(st, v, params, np) < 0)
		rc = bind_failed(s, "store: device query", err);
	else if (!count)
		rc = step_rows(s, st, "store: device query", dq_row, c, err);
	else if ((rc = step_row(s, st, "store: device count", err)) == 0)
		*total = (uint64_t)sqlite3_column_int64(st, 0);
	dq_give(s, slot);
	return rc;
}

static int sq_device_query(struct pp_store *base, const struct pp_device_query *q, int64_t batch_id,
			   const char *text, const char *pid_text,
			   int (*cb)(void *, const struct pp_device_row *), void *ctx,
			   uint64_t *total, struct pp_err *err)
{
	struct sqlite_store *s = sq(base);
	struct dq_values v = {q, batch_id, text, pid_text};
	struct dq_rows_ctx c = {cb, ctx};
	int rc = dq_run(s, &v, false, &c, NULL, err);
	if (rc < 0 || !total)
		return rc;
	return dq_run(s, &v, true, NULL, total, err);
}

static const enum stmt_id count_stmts[] = {
    [PP_COUNT_KEYS] = ST_COUNT_KEYS,
    [PP_COUNT_DEVICES] = ST_COUNT_DEVICES,
    [PP_COUNT_JOBS] = ST_COUNT_JOBS,
};

static int sq_count_states(struct pp_store *base, enum pp_count_table table,
			   int (*cb)(void *, const char *, int64_t), void *ctx, struct pp_err *err)
{
	struct sqlite_store *s = sq(base);
	sqlite3_stmt *st = NULL;
	enum stmt_id sid = count_stmts[table];
	int rc = stmt_take(s, sid, &st, err);
	if (rc < 0)
		return rc;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW)
		(void)cb(ctx, (const char *)sqlite3_column_text(st, 0),
			 sqlite3_column_int64(st, 1));
	rc = rc == SQLITE_DONE ? 0 : db_err(s->db, rc, "store: counts", err);
	stmt_give(s, sid);
	return rc;
}

/* ---- open and close ---- */

static void sq_close(struct pp_store *base)
{
	struct sqlite_store *s = sq(base);
	for (int i = 0; i < ST_MAX; i++)
		sqlite3_finalize(s->stmts[i].st);
	for (int i = 0; i < PP_DQ_SHAPES + PP_DQ_COUNT_SHAPES; i++)
		sqlite3_finalize(s->dq[i].st);
	if (s->db) {
		if (!sqlite3_get_autocommit(s->db))
			sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
		sqlite3_close(s->db);
	}
	pp_store_fini_base(&s->base);
	pp_wipe(s, sizeof(*s));
	free(s);
}

static int sq_token_insert(struct pp_store *base, const char *name, const char *role,
			   const char *hash_hex, int64_t now, struct pp_err *err);
static int sq_token_revoke(struct pp_store *base, const char *name, int64_t now,
			   struct pp_err *err);
static int sq_token_list(struct pp_store *base, bool all,
			 int (*cb)(void *, const struct pp_token_info *, const char *), void *ctx,
			 struct pp_err *err);
static int sq_token_touch(struct pp_store *base, const char *hash_hex, int64_t when,
			  struct pp_err *err);
static int sq_sealed_rows(struct pp_store *base, const char *sql, int64_t after,
			  int (*cb)(void *, int64_t, const char *, const uint8_t *, size_t,
				    struct pp_err *),
			  void *ctx, struct pp_err *err);
static int sq_sealed_put(struct pp_store *base, const char *sql, int64_t id, const uint8_t *b,
			 size_t n, struct pp_err *err);
static int sq_key_check_put(struct pp_store *base, const uint8_t *b, size_t n, struct pp_err *err);

static const struct pp_store_ops sqlite_ops = {
    .name = "sqlite",
    .close = sq_close,
    .begin = sq_begin,
    .commit = sq_commit,
    .rollback = sq_rollback,
    .batch_insert = sq_batch_insert,
    .batch_get = sq_batch_get,
    .batch_list = sq_batch_list,
    .key_insert = sq_key_insert,
    .key_get = sq_key_get,
    .key_list = sq_key_list,
    .key_sealed = sq_key_sealed,
    .key_state_cas = sq_key_state_cas,
    .audit_tail = sq_audit_tail,
    .audit_insert = sq_audit_insert,
    .audit_list = sq_audit_list,
    .in_transaction = sq_in_transaction,
    .savepoint = sq_savepoint,
    .key_lock = sq_key_lock,
    .key_uses = sq_key_uses,
    .key_bind = sq_key_bind,
    .key_provisioned = sq_key_provisioned,
    .key_failure = sq_key_failure,
    .key_success = sq_key_success,
    .key_locked_at = sq_key_locked_at,
    .job_find_at = sq_job_find_at,
    .jobs_prune = sq_jobs_prune,
    .jobs_drop_unbound = sq_jobs_drop_unbound,
    .host_name_taken = sq_host_name_taken,
    .note_put = sq_note_put,
    .note_list = sq_note_list,
    .device_lock = sq_device_lock,
    .device_put = sq_device_put,
    .device_set_tls = sq_device_set_tls,
    .device_get = sq_device_get,
    .device_list = sq_device_list,
    .escrow_get = sq_escrow_get,
    .escrow_put = sq_escrow_put,
    .job_insert = sq_job_insert,
    .job_get = sq_job_get,
    .job_find = sq_job_find,
    .job_put = sq_job_put,
    .jobs_claim = sq_jobs_claim,
    .jobs_renew = sq_jobs_renew,
    .job_list = sq_job_list,
    .count_states = sq_count_states,
    .token_insert = sq_token_insert,
    .token_revoke = sq_token_revoke,
    .token_list = sq_token_list,
    .token_touch = sq_token_touch,
    .sealed_rows = sq_sealed_rows,
    .sealed_put = sq_sealed_put,
    .key_check_put = sq_key_check_put,
    .job_event = sq_job_event,
    .job_events = sq_job_events,
    .device_query = sq_device_query,
    .device_jobs = sq_device_jobs,
    .job_page = sq_job_page,
    .key_stock = sq_key_stock,
};

/* One-off statements of open time (not cached). */
static int exec_sql(sqlite3 *db, const char *sql, const char *what, struct pp_err *err)
{
	char *msg = NULL;
	int rc = sqlite3_exec(db, sql, NULL, NULL, &msg);
	if (rc != SQLITE_OK) {
		rc = pp_err_set(err, PP_ESTORE, "%s: %s", what, msg ? msg : sqlite3_errstr(rc));
		sqlite3_free(msg);
		return rc;
	}
	return 0;
}

/* Runs a one-row query with an optional text parameter; *found tells whether a row
 * came back. The row is read by fn. */
static int query_row(sqlite3 *db, const char *sql, const char *param,
		     int (*fn)(sqlite3_stmt *, void *), void *ctx, bool *found, const char *what,
		     struct pp_err *err)
{
	sqlite3_stmt *st = NULL;
	int rc = sqlite3_prepare_v2(db, sql, -1, &st, NULL);
	if (rc != SQLITE_OK)
		return db_err(db, rc, what, err);
	if (param && (rc = bind_text(st, 1, param)) != SQLITE_OK) {
		rc = db_err(db, rc, what, err);
		goto out;
	}
	rc = sqlite3_step(st);
	*found = rc == SQLITE_ROW;
	if (rc == SQLITE_ROW) {
		rc = fn ? fn(st, ctx) : 0;
		if (rc < 0)
			rc = pp_err_set(err, -rc, "%s: unexpected value in the database", what);
	} else if (rc == SQLITE_DONE)
		rc = 0;
	else
		rc = db_err(db, rc, what, err);
out:
	sqlite3_finalize(st);
	return rc;
}

static int read_int(sqlite3_stmt *st, void *ctx)
{
	if (sqlite3_column_type(st, 0) != SQLITE_INTEGER)
		return -PP_ESTORE;
	*(int64_t *)ctx = sqlite3_column_int64(st, 0);
	return 0;
}

static int read_sealed(sqlite3_stmt *st, void *ctx)
{
	if (sqlite3_column_type(st, 0) != SQLITE_BLOB)
		return -PP_ESTORE;
	return column_sealed(st, 0, ctx);
}

/* 0 for a database without pskprov tables; an error for a foreign one. */
static int schema_version(sqlite3 *db, const char *path, int64_t *ver, struct pp_err *err)
{
	int64_t tables = 0;
	bool found = false;
	*ver = 0;
	int rc = query_row(db,
			   "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND "
			   "name = 'meta'",
			   NULL, read_int, &tables, &found, "store: reading the schema", err);
	if (rc < 0)
		return rc;
	if (tables == 0) {
		rc = query_row(db, "SELECT count(*) FROM sqlite_master", NULL, read_int, &tables,
			       &found, "store: reading the schema", err);
		if (rc < 0)
			return rc;
		if (tables != 0)
			return pp_err_set(err, PP_ESTORE, "'%s' is not a pskprov database", path);
		return 0;
	}
	rc = query_row(db, "SELECT value FROM meta WHERE name = 'schema_version'", NULL, read_int,
		       ver, &found, "store: reading the schema version", err);
	if (rc < 0)
		return rc;
	if (!found || *ver < 1)
		return pp_err_set(err, PP_ESTORE, "'%s': no valid schema version", path);
	return 0;
}

/* ---- the schema runner's statements (schema.c) ---- */

static int meta_set(void *vdb, const char *name, int64_t v, const uint8_t *b, size_t n,
		    struct pp_err *err)
{
	sqlite3 *db = vdb;
	sqlite3_stmt *st = NULL;
	int rc = sqlite3_prepare_v2(db, "INSERT OR REPLACE INTO meta (name, value) VALUES (?1, ?2)",
				    -1, &st, NULL);
	if (rc == SQLITE_OK && (rc = bind_text(st, 1, name)) == SQLITE_OK &&
	    (rc = b ? bind_blob(st, 2, b, n) : sqlite3_bind_int64(st, 2, v)) == SQLITE_OK)
		rc = sqlite3_step(st);
	rc = rc == SQLITE_DONE ? 0 : db_err(db, rc, "store: writing meta", err);
	sqlite3_finalize(st);
	return rc;
}

static int schema_exec(void *db, const char *sql, const char *what, struct pp_err *err)
{
	return exec_sql(db, sql, what, err);
}

static int schema_key_check(void *db, struct pp_sealed_small *kcv, struct pp_err *err)
{
	bool found = false;
	int rc = query_row(db, "SELECT value FROM meta WHERE name = 'key_check'", NULL, read_sealed,
			   kcv, &found, "store: reading the key check value", err);
	if (rc < 0)
		return rc;
	return found ? 0 : -PP_ENOTFOUND;
}

static int schema_found(void *db, const char *sql, bool *found, struct pp_err *err)
{
	return query_row(db, sql, NULL, NULL, NULL, found, "store: schema check", err);
}

static const struct pp_schema_ops schema_ops = {
    .found = schema_found,
    .exec = schema_exec,
    .meta_set = meta_set,
    .key_check_get = schema_key_check,
};

/* Applies the migrations after the stored version, and on creation the key check
 * value, in one transaction. The version is read again under the write lock: another
 * process may have migrated meanwhile. */
static int migrate(struct sqlite_store *s, const char *path, bool create, struct pp_err *err)
{
	int64_t ver = 0;
	char where[PATH_MAX + 2];
	snprintf(where, sizeof(where), "'%s'", path);
	int rc = exec_sql(s->db, "BEGIN IMMEDIATE", "store: begin", err);
	if (rc < 0)
		return rc;
	if ((rc = schema_version(s->db, path, &ver, err)) < 0 ||
	    (rc = pp_store_schema_check_version(ver, where, err)) < 0 ||
	    (rc = pp_store_schema_apply(&s->base, &schema_ops, s->db, migrations,
					sizeof(migrations) / sizeof(migrations[0]), ver, create,
					err)) < 0)
		goto out;
	rc = exec_sql(s->db, "COMMIT", "store: commit", err);
out:
	if (rc < 0 && !sqlite3_get_autocommit(s->db))
		sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
	return rc;
}

/* The -wal and -shm files hold database pages: no group or other bits either. SQLite
 * creates them with the mode of the database file. */
static int check_sidecars(const char *path, struct pp_err *err)
{
	static const char *const suffix[] = {"-wal", "-shm", "-journal"};
	for (size_t i = 0; i < sizeof(suffix) / sizeof(suffix[0]); i++) {
		char p[PATH_MAX];
		int n = snprintf(p, sizeof(p), "%s%s", path, suffix[i]);
		if (n < 0 || (size_t)n >= sizeof(p))
			return pp_err_set(err, PP_EINVAL, "database path too long");
		int rc = pp_file_check_private(p, err);
		if (rc < 0 && rc != -PP_ENOTFOUND)
			return rc;
	}
	pp_err_clear(err);
	return 0;
}

static void remove_db_files(const char *path)
{
	static const char *const suffix[] = {"", "-wal", "-shm", "-journal"};
	for (size_t i = 0; i < sizeof(suffix) / sizeof(suffix[0]); i++) {
		char p[PATH_MAX];
		int n = snprintf(p, sizeof(p), "%s%s", path, suffix[i]);
		if (n > 0 && (size_t)n < sizeof(p))
			unlink(p);
	}
}

static int create_file(const char *path, struct pp_err *err)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0) {
		if (errno == EEXIST)
			return pp_err_set(err, PP_EEXIST, "'%s' already exists; not overwriting",
					  path);
		return pp_err_set(err, PP_EIO, "cannot create '%s': %s", path, strerror(errno));
	}
	/* The umask may have narrowed the mode; SQLite copies this mode to -wal and -shm. */
	int rc = fchmod(fd, 0600);
	int e = errno;
	close(fd);
	if (rc < 0) {
		unlink(path);
		return pp_err_set(err, PP_EIO, "cannot set the mode of '%s': %s", path,
				  strerror(e));
	}
	return 0;
}

static int read_journal_mode(sqlite3_stmt *st, void *ctx)
{
	const unsigned char *t = sqlite3_column_text(st, 0);
	*(bool *)ctx = t && strcmp((const char *)t, "wal") == 0;
	return 0;
}

static int configure(sqlite3 *db, const char *path, bool readonly, struct pp_err *err)
{
	bool wal = false, found = false;
	sqlite3_extended_result_codes(db, 1);
	sqlite3_busy_timeout(db, BUSY_TIMEOUT_MS);
	/* No writable_schema or other ways to corrupt the file from SQL; triggers and
	 * views in the file may call only harmless functions. */
	sqlite3_db_config(db, SQLITE_DBCONFIG_DEFENSIVE, 1, NULL);
	sqlite3_db_config(db, SQLITE_DBCONFIG_TRUSTED_SCHEMA, 0, NULL);
	if (readonly) /* the journal mode is the file's; nothing here writes */
		return exec_sql(db,
				"PRAGMA temp_store = MEMORY;"
				"PRAGMA foreign_keys = ON;"
				"PRAGMA cache_size = " CACHE_KIB ";",
				"store: opening read-only", err);
	int rc = query_row(db, "PRAGMA journal_mode = WAL", NULL, read_journal_mode, &wal, &found,
			   "store: opening", err);
	if (rc < 0)
		return pp_err_prefix(err, "'%s'", path);
	if (!wal)
		return pp_err_set(err, PP_ESTORE, "'%s': cannot switch to WAL mode", path);
	/* temp_store: savepoint sub-journals (every operation of a group commit runs in
	 * one) stay in memory instead of a temporary file: 10x fewer writes. */
	return exec_sql(db,
			"PRAGMA synchronous = NORMAL;"
			"PRAGMA temp_store = MEMORY;"
			"PRAGMA foreign_keys = ON;"
			"PRAGMA journal_size_limit = " WAL_SIZE_LIMIT ";"
			"PRAGMA cache_size = " CACHE_KIB ";",
			"store: setting pragmas", err);
}

/* "file:PATH?immutable=1", the path percent-encoded where a URI needs it. */
static int immutable_uri(const char *path, char *out, size_t cap)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t n = 0;
	for (const unsigned char *p = (const unsigned char *)path; *p; p++) {
		if (n + 4 >= cap)
			return -PP_EINVAL;
		if (*p == '%' || *p == '?' || *p == '#' || *p < 0x21 || *p > 0x7E) {
			out[n++] = '%';
			out[n++] = hex[*p >> 4];
			out[n++] = hex[*p & 15];
		} else {
			out[n++] = (char)*p;
		}
	}
	out[n] = '\0';
	char tmp[PATH_MAX * 3 + 32];
	int w = snprintf(tmp, sizeof(tmp), "file:%s?immutable=1", out);
	if (w < 0 || (size_t)w >= cap)
		return -PP_EINVAL;
	memcpy(out, tmp, (size_t)w + 1);
	return 0;
}

/* Read-only: a WAL database needs its -shm file, which a reader creates when it is
 * missing. In a directory nobody may write to (a read-only mount, chmod a-w), with no
 * -wal file either, no writer can be at work (a writer needs the -wal), so every
 * committed page is in the database file: it is opened as immutable (no locks, no
 * -shm). With a -wal file present the -shm must be readable (SQLite reads it without
 * writing). */
static int open_readonly(const char *db_path, sqlite3 **db, struct pp_err *err)
{
	int flags = SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX | SQLITE_OPEN_NOFOLLOW |
		    SQLITE_OPEN_EXRESCODE;
	char wal[PATH_MAX], uri[PATH_MAX * 3 + 32];
	int rc = sqlite3_open_v2(db_path, db, flags, NULL);
	if (rc == SQLITE_OK)
		rc = sqlite3_exec(*db, "SELECT count(*) FROM sqlite_master", NULL, NULL, NULL);
	if (rc == SQLITE_OK)
		return 0;
	int n = snprintf(wal, sizeof(wal), "%s-wal", db_path);
	bool no_wal = n > 0 && (size_t)n < sizeof(wal) && access(wal, F_OK) < 0 && errno == ENOENT;
	if ((rc & 0xff) != SQLITE_READONLY && (rc & 0xff) != SQLITE_CANTOPEN)
		goto fail;
	if (!no_wal || immutable_uri(db_path, uri, sizeof(uri)) < 0)
		goto fail;
	sqlite3_close(*db);
	*db = NULL;
	rc = sqlite3_open_v2(uri, db, flags | SQLITE_OPEN_URI, NULL);
	if (rc == SQLITE_OK)
		return 0;
fail:
	return pp_err_set(err, PP_ESTORE, "cannot open '%s' read-only: %s", db_path,
			  *db ? sqlite3_errmsg(*db) : sqlite3_errstr(rc));
}

/* An existing database: its schema known and not newer than ours, the master key its
 * own (checked before any migration: never rewrite a database under the wrong key),
 * then migrated unless read-only. */
static int open_existing(struct sqlite_store *s, const char *db_path, bool readonly,
			 struct pp_err *err)
{
	int64_t ver = 0;
	char where[PATH_MAX + 2];
	snprintf(where, sizeof(where), "'%s'", db_path);
	int rc = schema_version(s->db, db_path, &ver, err);
	if (rc < 0)
		return rc;
	if (ver == 0)
		return pp_err_set(err, PP_ESTORE, "'%s' is an empty database (pskprov init?)",
				  db_path);
	if ((rc = pp_store_schema_check_version(ver, where, err)) < 0 ||
	    (rc = pp_store_schema_check_key(&s->base, &schema_ops, s->db, err)) < 0)
		return rc;
	if (ver == PP_STORE_SCHEMA_VERSION)
		return 0;
	if (readonly)
		return pp_err_set(err, PP_EVERSION,
				  "'%s' has schema version %lld and needs a migration, which a "
				  "read-only open cannot do",
				  db_path, (long long)ver);
	return migrate(s, db_path, false, err);
}

/* The file: made 0600 on create, else checked private with its sidecars. */
static int open_file_check(const char *db_path, bool create, struct pp_err *err)
{
	if (create)
		return create_file(db_path, err);
	int rc = pp_file_check_private(db_path, err);
	if (rc == -PP_ENOTFOUND)
		rc = pp_err_set(err, PP_ENOTFOUND, "no database at '%s'", db_path);
	if (rc < 0)
		return rc;
	return check_sidecars(db_path, err);
}

static int open_handle(struct sqlite_store *s, const char *db_path, bool readonly,
		       struct pp_err *err)
{
	int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX | SQLITE_OPEN_NOFOLLOW |
		    SQLITE_OPEN_EXRESCODE;
	if (readonly)
		return open_readonly(db_path, &s->db, err);
	int rc = sqlite3_open_v2(db_path, &s->db, flags, NULL);
	if (rc != SQLITE_OK)
		return pp_err_set(err, PP_ESTORE, "cannot open '%s': %s", db_path,
				  s->db ? sqlite3_errmsg(s->db) : sqlite3_errstr(rc));
	return 0;
}

static int open_sqlite(const char *db_path, const struct pp_master_key *mk, bool create,
		       bool readonly, struct pp_store **out, struct pp_err *err)
{
	struct sqlite_store *s = NULL;
	int rc;
	*out = NULL;
	if (!db_path || !*db_path || strlen(db_path) + 16 >= PATH_MAX)
		return pp_err_set(err, PP_EINVAL, "store: bad database path");
	if ((rc = open_file_check(db_path, create, err)) < 0)
		return rc;
	s = calloc(1, sizeof(*s));
	if (!s) {
		rc = pp_err_set(err, PP_ENOMEM, "store: out of memory");
		goto out;
	}
	if ((rc = pp_store_init_base(&s->base, &sqlite_ops, mk, err)) < 0 ||
	    (rc = open_handle(s, db_path, readonly, err)) < 0 ||
	    (rc = configure(s->db, db_path, readonly, err)) < 0)
		goto out;
	if (!create)
		rc = open_existing(s, db_path, readonly, err);
	else if ((rc = migrate(s, db_path, true, err)) == 0 && pp_fsync_dir_of(db_path) < 0)
		rc = pp_err_set(err, PP_EIO, "cannot sync the directory of '%s'", db_path);
	if (rc < 0 || (rc = check_sidecars(db_path, err)) < 0)
		goto out;
	*out = &s->base;
	return 0;
out:
	if (s)
		sq_close(&s->base);
	if (create)
		remove_db_files(db_path);
	return rc;
}

/* ---- connection health (store.h; dispatched by health.c) ---- */

/* A write that reaches the file when it commits: a full disk, a file the process may no
 * longer extend, or a write lock held elsewhere for longer than the busy timeout fails
 * it. */
int pp_sqlite_heartbeat(struct pp_store *base, int64_t now, struct pp_err *err)
{
	struct pp_store_atomic a;
	int rc = pp_store_atomic_begin(base, &a, err);
	if (rc < 0)
		return rc;
	rc = meta_set(sq(base)->db, "heartbeat", now, NULL, 0, err);
	return pp_store_atomic_end(base, &a, rc, err);
}

int pp_store_open_sqlite(const char *db_path, const struct pp_master_key *mk, bool create,
			 struct pp_store **out, struct pp_err *err)
{
	return open_sqlite(db_path, mk, create, false, out, err);
}

int pp_store_open_sqlite_readonly(const char *db_path, const struct pp_master_key *mk,
				  struct pp_store **out, struct pp_err *err)
{
	return open_sqlite(db_path, mk, false, true, out, err);
}

/* ---- API tokens (store.h) ----
 * Statements prepared per call, not cached: tokens are made and revoked by hand, and a
 * server reads them once every few seconds. */

static int tok_prepare(struct sqlite_store *s, const char *sql, sqlite3_stmt **st, const char *what,
		       struct pp_err *err)
{
	int rc = sqlite3_prepare_v2(s->db, sql, -1, st, NULL);
	return rc == SQLITE_OK ? 0 : db_err(s->db, rc, what, err);
}

/* One write: the texts bound to ?1..?n, the number to ?n+1. */
static int tok_write(struct sqlite_store *s, const char *sql, const char *const *texts, int n,
		     int64_t num, const char *what, struct pp_err *err)
{
	sqlite3_stmt *st = NULL;
	int rc = tok_prepare(s, sql, &st, what, err);
	if (rc < 0)
		return rc;
	bool bound = true;
	for (int i = 0; i < n && bound; i++)
		bound = bind_text(st, i + 1, texts[i]) == SQLITE_OK;
	if (!bound || sqlite3_bind_int64(st, n + 1, num) != SQLITE_OK)
		rc = bind_failed(s, what, err);
	else
		rc = step_write(s, st, what, err);
	sqlite3_finalize(st);
	return rc;
}

static int sq_token_insert(struct pp_store *base, const char *name, const char *role,
			   const char *hash_hex, int64_t now, struct pp_err *err)
{
	const char *const v[] = {name, role, hash_hex};
	return tok_write(
	    sq(base), "INSERT INTO api_tokens (name, role, hash, created) VALUES (?1, ?2, ?3, ?4)",
	    v, 3, now, "store: token insert", err);
}

static int sq_token_revoke(struct pp_store *base, const char *name, int64_t now, struct pp_err *err)
{
	const char *const v[] = {name};
	return tok_write(
	    sq(base), "UPDATE api_tokens SET revoked = max(?2, 1) WHERE name = ?1 AND revoked = 0",
	    v, 1, now, "store: token revoke", err);
}

struct tok_list_ctx {
	int (*cb)(void *, const struct pp_token_info *, const char *);
	void *ctx;
};

static int tok_list_row(sqlite3_stmt *st, void *arg, struct pp_err *err)
{
	(void)err;
	struct tok_list_ctx *c = arg;
	struct pp_token_info t;
	pp_cleanup(pp_wipe_token_hash) char hash[2 * PP_TOKEN_HASH_LEN + 1];
	column_str(st, 0, t.name, sizeof(t.name));
	column_str(st, 1, t.role, sizeof(t.role));
	column_str(st, 2, hash, sizeof(hash));
	t.created = sqlite3_column_int64(st, 3);
	t.last_used = sqlite3_column_int64(st, 4);
	t.revoked = sqlite3_column_int64(st, 5);
	return c->cb(c->ctx, &t, hash);
}

static int sq_token_list(struct pp_store *base, bool all,
			 int (*cb)(void *, const struct pp_token_info *, const char *), void *ctx,
			 struct pp_err *err)
{
	struct sqlite_store *s = sq(base);
	sqlite3_stmt *st = NULL;
	int rc = tok_prepare(s,
			     all ? "SELECT name, role, hash, created, last_used, revoked "
				   "FROM api_tokens ORDER BY id"
				 : "SELECT name, role, hash, created, last_used, revoked "
				   "FROM api_tokens WHERE revoked = 0 ORDER BY id",
			     &st, "store: token list", err);
	if (rc < 0)
		return rc;
	struct tok_list_ctx c = {cb, ctx};
	rc = step_rows(s, st, "store: token list", tok_list_row, &c, err);
	sqlite3_finalize(st);
	return rc;
}

static int sq_token_touch(struct pp_store *base, const char *hash_hex, int64_t when,
			  struct pp_err *err)
{
	const char *const v[] = {hash_hex};
	return tok_write(sq(base),
			 "UPDATE api_tokens SET last_used = max(last_used, ?2) "
			 "WHERE hash = ?1 AND revoked = 0",
			 v, 1, when, "store: token use", err);
}

/* ---- every sealed blob (rekey.c) ----
 * rekey.c's statements, prepared per call: a rotation or a check runs once in a while.
 * Its parameters are named $1 and $2 (the PostgreSQL text); SQLite numbers named
 * parameters in order of appearance, so they are bound by name. */

static int sq_sealed_rows(struct pp_store *base, const char *sql, int64_t after,
			  int (*cb)(void *, int64_t, const char *, const uint8_t *, size_t,
				    struct pp_err *),
			  void *ctx, struct pp_err *err)
{
	struct sqlite_store *s = sq(base);
	sqlite3_stmt *st = NULL;
	int rc = tok_prepare(s, sql, &st, "store: reading sealed secrets", err);
	if (rc < 0)
		return rc;
	if (sqlite3_bind_int64(st, sqlite3_bind_parameter_index(st, "$1"), after) != SQLITE_OK) {
		rc = bind_failed(s, "store: reading sealed secrets", err);
		goto out;
	}
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		const char *subject = (const char *)sqlite3_column_text(st, 1);
		const uint8_t *b = sqlite3_column_blob(st, 2);
		int n = sqlite3_column_bytes(st, 2);
		if (sqlite3_column_type(st, 2) != SQLITE_BLOB || !subject || !b || n <= 0) {
			rc = pp_err_set(err, PP_ESTORE,
					"store: row %lld: a sealed column is not a blob",
					(long long)sqlite3_column_int64(st, 0));
			goto out;
		}
		if ((rc = cb(ctx, sqlite3_column_int64(st, 0), subject, b, (size_t)n, err)) < 0)
			goto out;
	}
	rc = rc == SQLITE_DONE ? 0 : db_err(s->db, rc, "store: reading sealed secrets", err);
out:
	sqlite3_finalize(st);
	return rc;
}

static int sq_sealed_put(struct pp_store *base, const char *sql, int64_t id, const uint8_t *b,
			 size_t n, struct pp_err *err)
{
	struct sqlite_store *s = sq(base);
	sqlite3_stmt *st = NULL;
	int rc = tok_prepare(s, sql, &st, "store: re-sealing", err);
	if (rc < 0)
		return rc;
	if (sqlite3_bind_int64(st, sqlite3_bind_parameter_index(st, "$1"), id) != SQLITE_OK ||
	    bind_blob(st, sqlite3_bind_parameter_index(st, "$2"), b, n) != SQLITE_OK)
		rc = bind_failed(s, "store: re-sealing", err);
	else
		rc = step_write(s, st, "store: re-sealing", err);
	sqlite3_finalize(st);
	return rc;
}

static int sq_key_check_put(struct pp_store *base, const uint8_t *b, size_t n, struct pp_err *err)
{
	return meta_set(sq(base)->db, "key_check", 0, b, n, err);
}
