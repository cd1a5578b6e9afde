/* Backup files of the SQLite store (backup.h). */
#include "store/backup.h"

#include "core/fileio.h"
#include "core/secret.h"
#include "store/store.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define BUSY_MS 5000
/* How long a backup step may wait for a lock (a checkpoint) before it gives up. */
#define STEP_TRIES 200
#define STEP_SLEEP_US 25000

static int db_fail(sqlite3 *db, const char *what, const char *path, struct pp_err *err)
{
	return pp_err_set(err, PP_ESTORE, "%s '%s': %s", what, path,
			  db ? sqlite3_errmsg(db) : "out of memory");
}

/* A handle on a file we did not write (a backup may come from anywhere): no way to
 * corrupt it from SQL, and the schema's triggers and views may call only harmless
 * functions. */
static int open_db(const char *path, bool write, sqlite3 **db, struct pp_err *err)
{
	int flags = (write ? SQLITE_OPEN_READWRITE : SQLITE_OPEN_READONLY) | SQLITE_OPEN_NOMUTEX |
		    SQLITE_OPEN_NOFOLLOW;
	*db = NULL;
	if (sqlite3_open_v2(path, db, flags, NULL) != SQLITE_OK) {
		int rc = db_fail(*db, "cannot open", path, err);
		sqlite3_close(*db);
		*db = NULL;
		return rc;
	}
	sqlite3_busy_timeout(*db, BUSY_MS);
	sqlite3_db_config(*db, SQLITE_DBCONFIG_DEFENSIVE, 1, NULL);
	sqlite3_db_config(*db, SQLITE_DBCONFIG_TRUSTED_SCHEMA, 0, NULL);
	return 0;
}

/* The first column of a one-row query: an integer, or a blob copied to out. */
static int one_value(sqlite3 *db, const char *sql, int64_t *iv, uint8_t *out, size_t cap,
		     size_t *len, bool *found)
{
	sqlite3_stmt *st = NULL;
	int rc = sqlite3_prepare_v2(db, sql, -1, &st, NULL);
	*found = false;
	if (rc != SQLITE_OK)
		return -PP_ESTORE;
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		*found = true;
		int type = sqlite3_column_type(st, 0);
		size_t n = (size_t)sqlite3_column_bytes(st, 0);
		if (iv && type == SQLITE_INTEGER)
			*iv = sqlite3_column_int64(st, 0);
		else if (out && type == SQLITE_BLOB && n <= cap) {
			memcpy(out, sqlite3_column_blob(st, 0), n);
			*len = n;
		} else
			*found = false;
		rc = 0;
	} else {
		rc = rc == SQLITE_DONE ? 0 : -PP_ESTORE;
	}
	sqlite3_finalize(st);
	return rc;
}

/* quick_check says "ok", then the header rows. */
static int read_header(sqlite3 *db, const char *path, struct pp_backup_info *info,
		       struct pp_err *err)
{
	sqlite3_stmt *st = NULL;
	bool ok = sqlite3_prepare_v2(db, "PRAGMA quick_check", -1, &st, NULL) == SQLITE_OK &&
		  sqlite3_step(st) == SQLITE_ROW && sqlite3_column_text(st, 0) &&
		  strcmp((const char *)sqlite3_column_text(st, 0), "ok") == 0;
	sqlite3_finalize(st);
	if (!ok)
		return pp_err_set(err, PP_ESTORE, "'%s' is damaged or not a database", path);
	bool found = false;
	memset(info, 0, sizeof(*info));
	if (one_value(db, "SELECT value FROM meta WHERE name = 'schema_version'",
		      &info->schema_version, NULL, 0, NULL, &found) < 0 ||
	    !found || info->schema_version < 1)
		return pp_err_set(err, PP_ESTORE, "'%s' is not a pskprov database or backup", path);
	if (info->schema_version > PP_STORE_SCHEMA_VERSION)
		return pp_err_set(err, PP_EVERSION,
				  "'%s' has schema version %lld; this pskprov knows up to %d "
				  "(restore it with a newer pskprov)",
				  path, (long long)info->schema_version, PP_STORE_SCHEMA_VERSION);
	if (one_value(db, "SELECT value FROM meta WHERE name = 'key_check'", NULL, info->kcv,
		      sizeof(info->kcv), &info->kcv_len, &found) < 0 ||
	    !found)
		return pp_err_set(err, PP_ESTORE, "'%s' has no master key check value", path);
	(void)one_value(db, "SELECT value FROM meta WHERE name = 'backup_created'", &info->created,
			NULL, 0, NULL, &found);
	struct stat sb;
	if (stat(path, &sb) == 0)
		info->bytes = (uint64_t)sb.st_size;
	return 0;
}

int pp_store_backup_inspect(const char *path, struct pp_backup_info *info, struct pp_err *err)
{
	sqlite3 *db = NULL;
	struct stat sb;
	if (stat(path, &sb) < 0 || access(path, R_OK) < 0)
		return pp_err_set(err, errno == ENOENT ? PP_ENOTFOUND : PP_EIO,
				  "cannot read '%s': %s", path, strerror(errno));
	if (!S_ISREG(sb.st_mode))
		return pp_err_set(err, PP_EINVAL, "'%s' is not a regular file", path);
	int rc = open_db(path, false, &db, err);
	if (rc == 0)
		rc = read_header(db, path, info, err);
	sqlite3_close(db);
	return rc;
}

/* The whole of src into dst in one read transaction of src, retried while src is
 * locked (a checkpoint at work). */
static int copy_all(sqlite3 *src, sqlite3 *dst, const char *what, struct pp_err *err)
{
	sqlite3_backup *b = sqlite3_backup_init(dst, "main", src, "main");
	if (!b)
		return pp_err_set(err, PP_ESTORE, "%s: %s", what, sqlite3_errmsg(dst));
	int rc = SQLITE_OK;
	for (int i = 0; i < STEP_TRIES; i++) {
		rc = sqlite3_backup_step(b, -1);
		if (rc != SQLITE_BUSY && rc != SQLITE_LOCKED)
			break;
		usleep(STEP_SLEEP_US);
	}
	int fin = sqlite3_backup_finish(b);
	if (rc != SQLITE_DONE || fin != SQLITE_OK)
		return pp_err_set(err, PP_ESTORE, "%s: %s", what,
				  sqlite3_errstr(rc != SQLITE_DONE ? rc : fin));
	return 0;
}

/* meta.backup_created = now, a bound parameter. */
static int stamp(sqlite3 *db, int64_t now, struct pp_err *err)
{
	sqlite3_stmt *st = NULL;
	int rc = sqlite3_prepare_v2(
	    db, "INSERT OR REPLACE INTO meta (name, value) VALUES ('backup_created', ?1)", -1, &st,
	    NULL);
	if (rc == SQLITE_OK && (rc = sqlite3_bind_int64(st, 1, now)) == SQLITE_OK)
		rc = sqlite3_step(st);
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE)
		return pp_err_set(err, PP_ESTORE, "backup: stamping the copy: %s",
				  sqlite3_errmsg(db));
	return 0;
}

static int exec(sqlite3 *db, const char *sql, const char *what, struct pp_err *err)
{
	char *msg = NULL;
	if (sqlite3_exec(db, sql, NULL, NULL, &msg) == SQLITE_OK)
		return 0;
	int rc = pp_err_set(err, PP_ESTORE, "%s: %s", what, msg ? msg : sqlite3_errmsg(db));
	sqlite3_free(msg);
	return rc;
}

static int fsync_path(const char *path)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return -1;
	int rc = fsync(fd);
	close(fd);
	return rc;
}

/* The copy in tmp: one file (rollback journal), stamped, checked, on disk. */
static int backup_to(const char *db_path, const char *tmp, int64_t now, struct pp_backup_info *info,
		     struct pp_err *err)
{
	sqlite3 *src = NULL, *dst = NULL;
	int rc = open_db(db_path, false, &src, err);
	if (rc == 0)
		rc = open_db(tmp, true, &dst, err);
	if (rc == 0)
		rc = copy_all(src, dst, "backup", err);
	sqlite3_close(src);
	if (rc == 0)
		rc = exec(dst, "PRAGMA journal_mode = DELETE", "backup: journal mode", err);
	if (rc == 0)
		rc = stamp(dst, now, err);
	if (rc == 0)
		rc = read_header(dst, tmp, info, err);
	if (dst && sqlite3_close(dst) != SQLITE_OK && rc == 0)
		rc = pp_err_set(err, PP_ESTORE, "backup: cannot close the copy");
	if (rc == 0 && fsync_path(tmp) < 0)
		rc = pp_err_set(err, PP_EIO, "backup: cannot sync the copy: %s", strerror(errno));
	return rc;
}

static void remove_db(const char *path)
{
	char j[PATH_MAX];
	unlink(path);
	if (snprintf(j, sizeof(j), "%s-journal", path) < (int)sizeof(j))
		unlink(j);
}

/* Moves tmp to path unless path exists (fileio.c's rule for pp_file_create). */
static int move_noreplace(const char *tmp, const char *path, struct pp_err *err)
{
	int e = 0;
	if (renameat2(AT_FDCWD, tmp, AT_FDCWD, path, RENAME_NOREPLACE) < 0) {
		e = errno;
		if (e == EINVAL || e == ENOSYS || e == EOPNOTSUPP)
			e = link(tmp, path) < 0 ? errno : 0;
	}
	if (e == EEXIST)
		return pp_err_set(err, PP_EEXIST, "'%s' already exists; not overwriting", path);
	if (e)
		return pp_err_set(err, PP_EIO, "cannot create '%s': %s", path, strerror(e));
	unlink(tmp); /* after a link; gone already after a rename */
	if (pp_fsync_dir_of(path) < 0) {
		unlink(path);
		return pp_err_set(err, PP_EIO, "cannot sync the directory of '%s'", path);
	}
	return 0;
}

int pp_store_backup_sqlite(const char *db_path, const char *out_path, int64_t now,
			   struct pp_backup_info *info, struct pp_err *err)
{
	char tmp[PATH_MAX];
	if (access(out_path, F_OK) == 0)
		return pp_err_set(err, PP_EEXIST, "'%s' already exists; not overwriting", out_path);
	if (snprintf(tmp, sizeof(tmp), "%s.XXXXXX", out_path) >= (int)sizeof(tmp))
		return pp_err_set(err, PP_EINVAL, "backup: path too long");
	int fd = mkostemp(tmp, O_CLOEXEC); /* 0600 */
	if (fd < 0)
		return pp_err_set(err, PP_EIO, "cannot create a file beside '%s': %s", out_path,
				  strerror(errno));
	close(fd);
	int rc = backup_to(db_path, tmp, now, info, err);
	if (rc == 0)
		rc = move_noreplace(tmp, out_path, err);
	remove_db(tmp);
	return rc;
}

int pp_store_backup_unpack(const char *backup_path, const char *db_path, struct pp_err *err)
{
	sqlite3 *src = NULL, *dst = NULL;
	int fd = open(db_path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0)
		return pp_err_set(err, errno == EEXIST ? PP_EEXIST : PP_EIO,
				  "cannot create '%s': %s", db_path, strerror(errno));
	int rc = fchmod(fd, 0600) < 0
		     ? pp_err_set(err, PP_EIO, "cannot set the mode of '%s'", db_path)
		     : 0;
	close(fd);
	if (rc == 0)
		rc = open_db(backup_path, false, &src, err);
	if (rc == 0)
		rc = open_db(db_path, true, &dst, err);
	if (rc == 0)
		rc = copy_all(src, dst, "restore", err);
	if (rc == 0)
		rc = exec(dst, "DELETE FROM meta WHERE name = 'backup_created'", "restore", err);
	sqlite3_close(src);
	if (dst && sqlite3_close(dst) != SQLITE_OK && rc == 0)
		rc = pp_err_set(err, PP_ESTORE, "restore: cannot close '%s'", db_path);
	if (rc == 0 && (fsync_path(db_path) < 0 || pp_fsync_dir_of(db_path) < 0))
		rc = pp_err_set(err, PP_EIO, "restore: cannot sync '%s'", db_path);
	if (rc < 0)
		remove_db(db_path);
	return rc;
}
