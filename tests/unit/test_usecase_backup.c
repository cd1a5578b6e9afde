/* Backup, restore, master-key rotation and schema versions (usecase/backup.h,
 * usecase/rotate.h, store/rekey.h). Rotation runs on both backends: SQLite, and with
 * the argument "pg" PostgreSQL (skipped without a server: test_store_pgenv.h). A crash
 * is a child process that _exit()s at a named point of the rotation (the rotation's
 * test hook): no cleanup, no commit, exactly what a kill leaves. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <ftw.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>
#include <libpq-fe.h>
#include <sqlite3.h>

#include "core/fileio.h"
#include "core/parse.h"
#include "core/secret.h"
#include "store/masterkey.h"
#include "store/rekey.h"
#include "store/store.h"
#include "test_store_pgschema.h"
#include "test_store_util.h"
#include "usecase/backup.h"
#include "usecase/rotate.h"

#define NKEYS 3
#define NDERIVED 2
#define UUID_TEXT "6b1d2c3e-4f50-4a61-8b72-93a4b5c6d7e8"

struct fixture {
	bool pg;
	char dir[256], db[450], key[300], keynew[300];
	char schema[64], conninfo[1200];
	PGconn *raw;
	struct pp_store_config sc;
	/* What the store must give back after any rotation or restore. */
	char pid[NKEYS + NDERIVED][9];
	char pps[NKEYS + NDERIVED][33];
	struct pp_device_secrets dev;
};

/* ---- set-up ---- */

static void raw_exec(struct fixture *f, const char *sql)
{
	if (f->pg) {
		pg_test_exec(f->raw, sql);
		return;
	}
	sqlite3 *db = NULL;
	char *msg = NULL;
	assert_int_equal(sqlite3_open_v2(f->db, &db, SQLITE_OPEN_READWRITE, NULL), SQLITE_OK);
	if (sqlite3_exec(db, sql, NULL, NULL, &msg) != SQLITE_OK)
		fail_msg("raw sql '%s': %s", sql, msg ? msg : "?");
	sqlite3_close(db);
}

static struct pp_store *open_key(struct fixture *f, const char *key_path)
{
	struct pp_store *s = NULL;
	struct pp_err err = {0};
	bool finished = false;
	if (pp_uc_key_open(&f->sc, key_path, &s, &finished, &err) < 0)
		fail_msg("open with '%s': %s", key_path, err.msg);
	return s;
}

static void add_keys(struct fixture *f, struct pp_store *s)
{
	struct pp_err err = {0};
	int64_t plain = 0, derived = 0;
	uint8_t secret[PP_BATCH_SECRET_LEN];
	struct pp_batch_new b1 = {.name = "plain"};
	assert_int_equal(pp_random(secret, sizeof(secret)), 0);
	struct pp_batch_new b2 = {
	    .name = "derived", .derived = true, .secret = secret, .secret_len = sizeof(secret)};
	assert_int_equal(pp_store_batch_create(s, &b1, &plain, &err), 0);
	assert_int_equal(pp_store_batch_create(s, &b2, &derived, &err), 0);
	for (int i = 0; i < NKEYS + NDERIVED; i++) {
		struct pp_pid pid;
		struct pp_pps pps;
		assert_int_equal(pp_pid_generate(&pid), 0);
		assert_int_equal(pp_pps_generate(&pps), 0);
		memcpy(f->pid[i], pid.s, sizeof(f->pid[i]));
		struct pp_key_new k = {.pid = pid.s,
				       .pps = i < NKEYS ? pps.s : NULL,
				       .mebx_password = "Mebx!Pass1",
				       .batch_id = i < NKEYS ? plain : derived};
		if (pp_store_key_insert(s, &k, &err) < 0)
			fail_msg("key insert: %s", err.msg);
		struct pp_pps got;
		assert_int_equal(pp_store_key_secrets(s, pid.s, &got, NULL, 0, &err), 0);
		memcpy(f->pps[i], got.s, sizeof(f->pps[i]));
	}
}

static void add_device(struct fixture *f, struct pp_store *s)
{
	struct pp_err err = {0};
	uint8_t uuid[16];
	raw_exec(f, "INSERT INTO devices (uuid, state, first_seen, last_seen, updated) "
		    "VALUES ('" UUID_TEXT "', 'configuring', 1, 1, 1)");
	assert_int_equal(pp_uuid_parse(UUID_TEXT, uuid, NULL), 0);
	struct pp_device_secrets d = {.admin_user = "admin",
				      .admin_password = "Adm1n!Secret#x",
				      .mebx_password = "NewMebx!2"};
	if (pp_store_device_escrow(s, uuid, &d, &err) < 0)
		fail_msg("escrow: %s", err.msg);
	f->dev = d;
}

static int setup_common(struct fixture *f, void **state)
{
	struct pp_err err = {0};
	struct pp_store *s = NULL;
	snprintf(f->key, sizeof(f->key), "%s/master.key", f->dir);
	snprintf(f->keynew, sizeof(f->keynew), "%s/master.key.new", f->dir);
	f->sc = (struct pp_store_config){.kind = f->pg ? PP_STORE_POSTGRES : PP_STORE_SQLITE,
					 .target = f->pg ? f->conninfo : f->db};
	if (pp_master_key_create(f->key, &err) < 0)
		return -1;
	struct pp_master_key mk;
	struct pp_store_config create = f->sc;
	create.create = true;
	if (pp_master_key_load(f->key, &mk, &err) < 0 ||
	    pp_store_open(&create, &mk, &s, &err) < 0) {
		fprintf(stderr, "setup: %s\n", err.msg);
		return -1;
	}
	pp_wipe(&mk, sizeof(mk));
	*state = f;
	add_keys(f, s);
	add_device(f, s);
	pp_store_close(s);
	return 0;
}

static int setup_sqlite(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	if (!f || pp_test_scratch("pp-backup", f->dir, sizeof(f->dir), f->db, sizeof(f->db)) < 0)
		return -1;
	return setup_common(f, state);
}

static int setup_pg(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	const char *base = getenv("TMPDIR");
	if (!f)
		return -1;
	f->pg = true;
	snprintf(f->dir, sizeof(f->dir), "%s/pp-backup-XXXXXX", base && *base ? base : "/tmp");
	if (!mkdtemp(f->dir))
		return -1;
	if (pg_test_schema_open("pp_rot", &f->raw, f->schema, sizeof(f->schema), f->conninfo,
				sizeof(f->conninfo)) < 0)
		return -1;
	return setup_common(f, state);
}

static int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb;
	(void)flag;
	(void)ftw;
	return remove(path) < 0 ? -1 : 0;
}

/* Removes dir and everything in it, depth first. */
static void rm_tree(const char *dir)
{
	assert_int_equal(nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS), 0);
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	if (f->pg) {
		pg_test_schema_drop(f->raw, f->schema);
	}
	rm_tree(f->dir);
	free(f);
	return 0;
}

/* ---- checks ---- */

/* Every secret of the fixture comes back from s, as it went in. */
static void expect_secrets(struct fixture *f, struct pp_store *s)
{
	struct pp_err err = {0};
	for (int i = 0; i < NKEYS + NDERIVED; i++) {
		struct pp_pps pps;
		char mebx[PP_STORE_MEBX_MAX + 1];
		if (pp_store_key_secrets(s, f->pid[i], &pps, mebx, sizeof(mebx), &err) < 0)
			fail_msg("key %s: %s", f->pid[i], err.msg);
		assert_string_equal(pps.s, f->pps[i]);
		assert_string_equal(mebx, "Mebx!Pass1");
	}
	uint8_t uuid[16];
	struct pp_device_secrets d;
	assert_int_equal(pp_uuid_parse(UUID_TEXT, uuid, NULL), 0);
	if (pp_store_device_secrets(s, uuid, &d, &err) < 0)
		fail_msg("device: %s", err.msg);
	assert_string_equal(d.admin_password, f->dev.admin_password);
	assert_string_equal(d.mebx_password, f->dev.mebx_password);
	struct pp_sealed_counts c;
	if (pp_store_sealed_verify(s, &c, &err) < 0)
		fail_msg("verify: %s", err.msg);
	assert_int_equal(c.n[PP_SEALED_BATCH_SECRET], 1);
	assert_int_equal(c.n[PP_SEALED_KEY_PPS], NKEYS);
	assert_int_equal(c.n[PP_SEALED_KEY_MEBX], NKEYS + NDERIVED);
	assert_int_equal(c.n[PP_SEALED_DEVICE_ADMIN], 1);
	assert_int_equal(c.n[PP_SEALED_DEVICE_MEBX], 1);
	uint64_t n = 0;
	if (pp_store_audit_verify(s, &n, &err) < 0)
		fail_msg("audit: %s", err.msg);
}

static void read_key(const char *path, struct pp_master_key *mk)
{
	struct pp_err err = {0};
	if (pp_master_key_load(path, mk, &err) < 0)
		fail_msg("%s", err.msg);
}

static bool exists(const char *path)
{
	return access(path, F_OK) == 0;
}

/* ---- rotation, both backends ---- */

static int audit_action(void *ctx, const struct pp_audit_entry *e)
{
	if (!strcmp(e->action, "master-key-rotate")) {
		(*(int *)ctx)++;
		assert_non_null(strstr(e->detail, "re-sealed"));
	}
	return 0;
}

static void test_rotate(void **state)
{
	struct fixture *f = *state;
	struct pp_err err = {0};
	struct pp_master_key before, after;
	read_key(f->key, &before);
	struct pp_uc_rotate_opts o = {.sc = &f->sc, .key_path = f->key, .actor = "cli:test"};
	struct pp_uc_rotate_result r;
	if (pp_uc_rotate(&o, &r, &err) < 0)
		fail_msg("rotate: %s", err.msg);
	assert_int_equal(pp_sealed_total(&r.counts), 1 + NKEYS + (NKEYS + NDERIVED) + 2);
	assert_false(exists(f->keynew));
	read_key(f->key, &after);
	assert_memory_not_equal(before.k, after.k, sizeof(before.k));
	struct stat st;
	assert_int_equal(stat(f->key, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	/* The old key no longer opens the store. */
	struct pp_store *s = NULL;
	assert_int_equal(pp_store_open(&f->sc, &before, &s, &err), -PP_ECRYPTO);
	s = open_key(f, f->key);
	expect_secrets(f, s);
	int seen = 0;
	assert_int_equal(pp_store_audit_list(s, 0, audit_action, &seen, &err), 0);
	assert_int_equal(seen, 1);
	pp_store_close(s);
}

struct crash {
	enum pp_rotate_point at;
};

static void crash_at(void *ctx, enum pp_rotate_point p)
{
	if (p == ((struct crash *)ctx)->at)
		_exit(42);
}

/* A child rotates and dies at point p; the data directory then holds a key that opens
 * every secret, the old one before the commit and the new one after. */
static void crash_once(struct fixture *f, enum pp_rotate_point p)
{
	struct pp_master_key before, after;
	read_key(f->key, &before);
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		struct crash c = {p};
		struct pp_err err = {0};
		struct pp_uc_rotate_opts o = {.sc = &f->sc,
					      .key_path = f->key,
					      .actor = "cli:test",
					      .at = crash_at,
					      .at_ctx = &c};
		struct pp_uc_rotate_result r;
		int rc = pp_uc_rotate(&o, &r, &err);
		fprintf(stderr, "child: rotation did not stop at %d: %d %s\n", (int)p, rc, err.msg);
		_exit(1);
	}
	int status = 0;
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 42);
	bool committed = p >= PP_ROTATE_COMMITTED;
	assert_int_equal(exists(f->keynew), p != PP_ROTATE_RENAMED);
	struct pp_store *s = open_key(f, f->key);
	expect_secrets(f, s);
	pp_store_close(s);
	read_key(f->key, &after);
	if (committed)
		assert_memory_not_equal(before.k, after.k, sizeof(before.k));
	else
		assert_memory_equal(before.k, after.k, sizeof(before.k));
	/* A committed rotation was completed by the open; an aborted one left a stale
	 * master.key.new, which the next rotation removes. */
	assert_int_equal(exists(f->keynew), !committed);
}

static void test_rotate_crash(void **state)
{
	struct fixture *f = *state;
	struct pp_err err = {0};
	static const enum pp_rotate_point points[] = {PP_ROTATE_KEY_WRITTEN, PP_ROTATE_RESEALED,
						      PP_ROTATE_COMMITTED, PP_ROTATE_RENAMED};
	for (size_t i = 0; i < sizeof(points) / sizeof(points[0]); i++)
		crash_once(f, points[i]);
	crash_once(f, PP_ROTATE_RESEALED);
	struct pp_uc_rotate_opts o = {.sc = &f->sc, .key_path = f->key, .actor = "cli:test"};
	struct pp_uc_rotate_result r;
	if (pp_uc_rotate(&o, &r, &err) < 0)
		fail_msg("rotate: %s", err.msg);
	assert_true(r.stale_removed);
	assert_false(exists(f->keynew));
	struct pp_store *s = open_key(f, f->key);
	expect_secrets(f, s);
	pp_store_close(s);
}

/* One rotation at a time per data directory: while another holds the directory, a
 * second refuses and touches nothing (not even the first one's master.key.new). */
static void test_rotate_exclusive(void **state)
{
	struct fixture *f = *state;
	struct pp_err err = {0};
	struct pp_master_key before, after;
	read_key(f->key, &before);
	assert_int_equal(pp_file_create(f->keynew, "in progress\n", 12, 0600, &err), 0);
	int fd = open(f->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	assert_true(fd >= 0);
	assert_int_equal(flock(fd, LOCK_EX), 0);
	struct pp_uc_rotate_opts o = {.sc = &f->sc, .key_path = f->key, .actor = "cli:test"};
	struct pp_uc_rotate_result r;
	assert_int_equal(pp_uc_rotate(&o, &r, &err), -PP_EBUSY);
	assert_non_null(strstr(err.msg, "another master-key rotation"));
	assert_true(exists(f->keynew));
	read_key(f->key, &after);
	assert_memory_equal(before.k, after.k, sizeof(before.k));
	close(fd);
	assert_int_equal(pp_uc_rotate(&o, &r, &err), 0);
	assert_true(r.stale_removed);
	struct pp_store *s = open_key(f, f->key);
	expect_secrets(f, s);
	pp_store_close(s);
}

/* A blob moved to another row opens nowhere: verify names the row, and a rotation
 * stops before it commits, the old key still the one. */
static void test_verify_detects(void **state)
{
	struct fixture *f = *state;
	struct pp_err err = {0};
	struct pp_master_key before, after;
	char sql[256];
	read_key(f->key, &before);
	snprintf(sql, sizeof(sql),
		 "UPDATE keys SET pps = (SELECT pps FROM keys WHERE pid = '%s') WHERE pid = '%s'",
		 f->pid[0], f->pid[1]);
	raw_exec(f, sql);
	struct pp_store *s = open_key(f, f->key);
	struct pp_sealed_counts c;
	assert_int_equal(pp_store_sealed_verify(s, &c, &err), -PP_ECRYPTO);
	assert_non_null(strstr(err.msg, f->pid[1]));
	assert_null(strstr(err.msg, f->pps[0]));
	pp_store_close(s);
	struct pp_uc_rotate_opts o = {.sc = &f->sc, .key_path = f->key, .actor = "cli:test"};
	struct pp_uc_rotate_result r;
	assert_int_equal(pp_uc_rotate(&o, &r, &err), -PP_ECRYPTO);
	assert_false(exists(f->keynew));
	read_key(f->key, &after);
	assert_memory_equal(before.k, after.k, sizeof(before.k));
	s = open_key(f, f->key);
	struct pp_pps pps;
	assert_int_equal(pp_store_key_secrets(s, f->pid[2], &pps, NULL, 0, &err), 0);
	assert_string_equal(pps.s, f->pps[2]);
	pp_store_close(s);
}

/* A database newer than this program is refused by name, older ones are upgraded. */
static void test_schema_versions(void **state)
{
	struct fixture *f = *state;
	struct pp_err err = {0};
	struct pp_store *s = NULL;
	const char *col = f->pg ? "ivalue" : "value";
	char sql[128];
	snprintf(sql, sizeof(sql), "UPDATE meta SET %s = %d WHERE name = 'schema_version'", col,
		 PP_STORE_SCHEMA_VERSION + 1);
	raw_exec(f, sql);
	struct pp_master_key mk;
	read_key(f->key, &mk);
	assert_int_equal(pp_store_open(&f->sc, &mk, &s, &err), -PP_EVERSION);
	assert_non_null(strstr(err.msg, "upgrade pskprov"));
	/* The previous release's schema (4: no api_tokens): migrated on open. */
	raw_exec(f, "DROP TABLE api_tokens");
	snprintf(sql, sizeof(sql), "UPDATE meta SET %s = 4 WHERE name = 'schema_version'", col);
	raw_exec(f, sql);
	s = open_key(f, f->key);
	char t[PP_TOKEN_TEXT_LEN + 1];
	assert_int_equal(pp_store_token_create(s, "after-upgrade", "read", "cli:test", t, &err), 0);
	expect_secrets(f, s);
	pp_store_close(s);
}

/* ---- backup and restore (SQLite) ---- */

static bool file_has(const char *path, const void *needle, size_t n)
{
	struct pp_buf b;
	struct pp_err err = {0};
	pp_buf_init(&b, 64 << 20);
	assert_int_equal(pp_file_read(path, 64 << 20, &b, &err), 0);
	bool found = memmem(b.data, b.len, needle, n) != NULL;
	pp_buf_free(&b);
	return found;
}

static void backup_to(struct fixture *f, const char *out, struct pp_backup_info *info)
{
	struct pp_err err = {0};
	struct pp_master_key mk;
	read_key(f->key, &mk);
	struct pp_store *s = open_key(f, f->key);
	struct pp_uc_backup_opts o = {.store = s,
				      .db_path = f->db,
				      .out_path = out,
				      .mk = &mk,
				      .actor = "cli:test",
				      .now = 7};
	if (pp_uc_backup(&o, info, &err) < 0)
		fail_msg("backup: %s", err.msg);
	pp_store_close(s);
}

static void test_backup_file(void **state)
{
	struct fixture *f = *state;
	struct pp_err err = {0};
	char out[400], hex[PP_MASTER_KEY_HEX_LEN + 1];
	struct pp_backup_info info;
	struct pp_master_key mk;
	snprintf(out, sizeof(out), "%s/backup.db", f->dir);
	backup_to(f, out, &info);
	assert_int_equal(info.schema_version, PP_STORE_SCHEMA_VERSION);
	assert_int_equal(info.created, 7);
	struct stat st;
	assert_int_equal(stat(out, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	/* Sealed secrets only: no key, no PPS in clear. */
	read_key(f->key, &mk);
	pp_hex(mk.k, sizeof(mk.k), hex);
	assert_false(file_has(out, mk.k, sizeof(mk.k)));
	assert_false(file_has(out, hex, strlen(hex)));
	assert_false(file_has(out, f->pps[0], 32));
	assert_true(file_has(out, f->pid[0], 8));
	/* Never over an existing file, which stays as it was. */
	struct pp_store *s = open_key(f, f->key);
	struct pp_uc_backup_opts o = {.store = s,
				      .db_path = f->db,
				      .out_path = out,
				      .mk = &mk,
				      .actor = "cli:test",
				      .now = 9};
	assert_int_equal(pp_uc_backup(&o, &info, &err), -PP_EEXIST);
	pp_store_close(s);
	assert_int_equal(pp_store_backup_inspect(out, &info, &err), 0);
	assert_int_equal(info.created, 7);
	/* A key that is not the store's: the backup's check value does not open. */
	struct pp_master_key other;
	assert_int_equal(pp_random(other.k, sizeof(other.k)), 0);
	assert_int_equal(pp_key_check_matches(&other, info.kcv, info.kcv_len, &err), -PP_ECRYPTO);
	assert_int_equal(pp_key_check_matches(&mk, info.kcv, info.kcv_len, &err), 0);
}

struct target {
	char dir[400], config[450], key[450], db[450];
};

static struct pp_uc_restore_opts restore_opts(struct fixture *f, const char *backup,
					      const char *key, const char *sub, struct target *t)
{
	snprintf(t->dir, sizeof(t->dir), "%s/%s", f->dir, sub);
	snprintf(t->config, sizeof(t->config), "%s/pskprov.conf", t->dir);
	snprintf(t->key, sizeof(t->key), "%s/master.key", t->dir);
	snprintf(t->db, sizeof(t->db), "%s/pskprov.db", t->dir);
	return (struct pp_uc_restore_opts){.backup_path = backup,
					   .key_file = key,
					   .dir = t->dir,
					   .config_path = t->config,
					   .key_path = t->key,
					   .db_path = t->db,
					   .config_text = "[server]\n",
					   .actor = "cli:test"};
}

static void test_restore(void **state)
{
	struct fixture *f = *state;
	struct pp_err err = {0};
	char out[400];
	struct pp_backup_info info;
	struct target t;
	struct pp_uc_restore_result r;
	snprintf(out, sizeof(out), "%s/backup.db", f->dir);
	backup_to(f, out, &info);
	struct pp_uc_restore_opts o = restore_opts(f, out, f->key, "restored", &t);
	if (pp_uc_restore(&o, &r, &err) < 0)
		fail_msg("restore: %s", err.msg);
	assert_true(r.dir_created);
	assert_int_equal(pp_sealed_total(&r.counts), 1 + NKEYS + (NKEYS + NDERIVED) + 2);
	struct stat st;
	assert_int_equal(stat(t.key, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	assert_int_equal(stat(t.config, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	assert_int_equal(stat(t.dir, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0700);
	struct pp_store_config sc = {.kind = PP_STORE_SQLITE, .target = t.db};
	f->sc = sc;
	struct pp_store *s = open_key(f, t.key);
	expect_secrets(f, s);
	pp_store_close(s);
	/* Not into a directory that holds anything. */
	assert_int_equal(pp_uc_restore(&o, &r, &err), -PP_EEXIST);
	assert_non_null(strstr(err.msg, "not empty"));
	struct pp_uc_restore_opts o2 = restore_opts(f, out, f->key, "nonempty", &t);
	assert_int_equal(mkdir(t.dir, 0700), 0);
	char junk[500];
	snprintf(junk, sizeof(junk), "%s/junk", t.dir);
	assert_int_equal(pp_file_create(junk, "x", 1, 0600, &err), 0);
	assert_int_equal(pp_uc_restore(&o2, &r, &err), -PP_EEXIST);
	assert_false(exists(t.db));
}

static void test_restore_refusals(void **state)
{
	struct fixture *f = *state;
	struct pp_err err = {0};
	char out[400], wrong[400], sql[160];
	struct pp_backup_info info;
	struct target t;
	struct pp_uc_restore_result r;
	snprintf(out, sizeof(out), "%s/backup.db", f->dir);
	snprintf(wrong, sizeof(wrong), "%s/wrong.key", f->dir);
	backup_to(f, out, &info);
	/* The wrong key: refused before anything is written. */
	assert_int_equal(pp_master_key_create(wrong, &err), 0);
	struct pp_uc_restore_opts o = restore_opts(f, out, wrong, "r1", &t);
	assert_int_equal(pp_uc_restore(&o, &r, &err), -PP_ECRYPTO);
	assert_non_null(strstr(err.msg, "nothing written"));
	assert_false(exists(t.dir));
	/* A backup of a newer schema: refused, with what to do. */
	snprintf(f->db, sizeof(f->db), "%s", out);
	snprintf(sql, sizeof(sql), "UPDATE meta SET value = %d WHERE name = 'schema_version'",
		 PP_STORE_SCHEMA_VERSION + 1);
	raw_exec(f, sql);
	o = restore_opts(f, out, f->key, "r2", &t);
	assert_int_equal(pp_uc_restore(&o, &r, &err), -PP_EVERSION);
	assert_non_null(strstr(err.msg, "newer pskprov"));
	assert_false(exists(t.dir));
	/* A backup of the previous schema: restored and upgraded. */
	raw_exec(f, "DROP TABLE api_tokens; UPDATE meta SET value = 4 WHERE name = "
		    "'schema_version'");
	assert_int_equal(pp_uc_restore(&o, &r, &err), 0);
	assert_int_equal(r.info.schema_version, 4);
	f->sc = (struct pp_store_config){.kind = PP_STORE_SQLITE, .target = t.db};
	struct pp_store *s = open_key(f, t.key);
	char tok[PP_TOKEN_TEXT_LEN + 1];
	assert_int_equal(pp_store_token_create(s, "restored", "read", "cli:test", tok, &err), 0);
	expect_secrets(f, s);
	pp_store_close(s);
	/* Not a backup at all. */
	o = restore_opts(f, f->key, f->key, "r3", &t);
	assert_int_equal(pp_uc_restore(&o, &r, &err), -PP_ESTORE);
	assert_false(exists(t.dir));
}

#define BOTH_TESTS(T)                                                                              \
	T(test_rotate), T(test_rotate_crash), T(test_rotate_exclusive), T(test_verify_detects),    \
	    T(test_schema_versions)

int main(int argc, char **argv)
{
	if (argc > 1 && strcmp(argv[1], "pg") == 0) {
		if (!pg_test_conninfo())
			return pg_test_missing("test_usecase_backup pg");
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup_pg, teardown)
		const struct CMUnitTest pg_tests[] = {BOTH_TESTS(T)};
#undef T
		return cmocka_run_group_tests_name("rotation on PostgreSQL", pg_tests, NULL, NULL);
	}
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup_sqlite, teardown)
	const struct CMUnitTest sq_tests[] = {BOTH_TESTS(T), T(test_backup_file), T(test_restore),
					      T(test_restore_refusals)};
#undef T
	return cmocka_run_group_tests_name("backup, restore, rotation on SQLite", sq_tests, NULL,
					   NULL);
}
