/* Backup and restore (backup.h). */
#include "usecase/backup.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/bytes.h"
#include "core/fileio.h"
#include "core/parse.h"
#include "core/secret.h"
#include "store/masterkey.h"
#include "store/store.h"

#define SCAN_CHUNK (64 * 1024)
#define SCAN_OVERLAP (PP_MASTER_KEY_HEX_LEN - 1)

static void key_wipe(struct pp_master_key *mk)
{
	pp_wipe(mk, sizeof(*mk));
}

struct needles {
	uint8_t raw[PP_MASTER_KEY_LEN];
	char lower[PP_MASTER_KEY_HEX_LEN + 1], upper[PP_MASTER_KEY_HEX_LEN + 1];
};

static void needles_wipe(struct needles *n)
{
	pp_wipe(n, sizeof(*n));
}

static bool holds(const uint8_t *b, size_t n, const struct needles *k)
{
	return memmem(b, n, k->raw, sizeof(k->raw)) ||
	       memmem(b, n, k->lower, PP_MASTER_KEY_HEX_LEN) ||
	       memmem(b, n, k->upper, PP_MASTER_KEY_HEX_LEN);
}

/* Whether the file holds the key, raw or in hex of either case (read in chunks that
 * overlap by a key's length, so a key across a chunk boundary is found too). */
static int file_holds_key(const char *path, const struct pp_master_key *mk, bool *found,
			  struct pp_err *err)
{
	pp_cleanup(needles_wipe) struct needles k;
	memcpy(k.raw, mk->k, sizeof(k.raw));
	pp_hex(mk->k, sizeof(mk->k), k.lower);
	for (size_t i = 0; i <= PP_MASTER_KEY_HEX_LEN; i++)
		k.upper[i] =
		    k.lower[i] >= 'a' && k.lower[i] <= 'f' ? (char)(k.lower[i] - 32) : k.lower[i];
	*found = false;
	uint8_t *buf = malloc(SCAN_CHUNK + SCAN_OVERLAP);
	if (!buf)
		return pp_err_set(err, PP_ENOMEM, "out of memory");
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0) {
		free(buf);
		return pp_err_set(err, PP_EIO, "cannot read '%s': %s", path, strerror(errno));
	}
	size_t keep = 0;
	ssize_t n = 0;
	while (!*found && (n = read(fd, buf + keep, SCAN_CHUNK)) > 0) {
		size_t have = keep + (size_t)n;
		*found = holds(buf, have, &k);
		keep = have < SCAN_OVERLAP ? have : SCAN_OVERLAP;
		memmove(buf, buf + have - keep, keep);
	}
	int e = errno;
	close(fd);
	free(buf);
	if (n < 0)
		return pp_err_set(err, PP_EIO, "cannot read '%s': %s", path, strerror(e));
	return 0;
}

int pp_uc_backup(const struct pp_uc_backup_opts *o, struct pp_backup_info *info, struct pp_err *err)
{
	bool leak = false;
	int rc = pp_store_backup_sqlite(o->db_path, o->out_path, o->now, info, err);
	if (rc < 0)
		return rc;
	rc = pp_key_check_matches(o->mk, info->kcv, info->kcv_len, err);
	if (rc < 0)
		pp_err_prefix(err, "backup '%s'", o->out_path);
	if (rc == 0)
		rc = file_holds_key(o->out_path, o->mk, &leak, err);
	if (rc == 0 && leak)
		rc = pp_err_set(err, PP_ESTATE, "backup '%s' holds the master key; removed",
				o->out_path);
	if (rc < 0) {
		unlink(o->out_path);
		return rc;
	}
	char detail[PP_AUDIT_DETAIL_MAX];
	snprintf(detail, sizeof(detail), "backup written to %.3000s (schema %lld, %llu bytes)",
		 o->out_path, (long long)info->schema_version, (unsigned long long)info->bytes);
	return pp_store_audit_append(o->store, o->actor, "backup", "store", detail, err);
}

/* dir absent (made 0700, *created) or an empty directory. */
static int dir_ready(const char *dir, bool *created, struct pp_err *err)
{
	*created = false;
	if (mkdir(dir, 0700) == 0) {
		*created = true;
		return 0;
	}
	if (errno != EEXIST)
		return pp_err_set(err, PP_EIO, "cannot create '%s': %s", dir, strerror(errno));
	DIR *d = opendir(dir);
	if (!d)
		return pp_err_set(err, PP_EIO, "cannot read '%s': %s", dir, strerror(errno));
	struct dirent *e;
	bool empty = true;
	while (empty && (e = readdir(d)))
		empty = !strcmp(e->d_name, ".") || !strcmp(e->d_name, "..");
	closedir(d);
	if (!empty)
		return pp_err_set(err, PP_EEXIST,
				  "'%s' is not empty; restore needs an empty or new directory",
				  dir);
	return 0;
}

/* The checks made before anything is written. */
static int restore_check(const struct pp_uc_restore_opts *o, struct pp_master_key *mk,
			 struct pp_uc_restore_result *res, struct pp_err *err)
{
	int rc = pp_store_backup_inspect(o->backup_path, &res->info, err);
	if (rc < 0)
		return rc;
	if ((rc = pp_master_key_load(o->key_file, mk, err)) < 0)
		return rc;
	if (pp_key_check_matches(mk, res->info.kcv, res->info.kcv_len, NULL) < 0)
		return pp_err_set(
		    err, PP_ECRYPTO,
		    "'%s' is not the master key '%s' was sealed with; nothing written", o->key_file,
		    o->backup_path);
	return 0;
}

static int restore_open(const struct pp_uc_restore_opts *o, const struct pp_master_key *mk,
			struct pp_uc_restore_result *res, struct pp_err *err)
{
	struct pp_store *store = NULL;
	struct pp_store_config sc = {.kind = PP_STORE_SQLITE, .target = o->db_path};
	int rc = pp_store_open(&sc, mk, &store, err);
	if (rc == 0)
		rc = pp_store_sealed_verify(store, &res->counts, err);
	if (rc == 0) {
		char detail[PP_AUDIT_DETAIL_MAX];
		snprintf(detail, sizeof(detail),
			 "restored from %.3000s (schema %lld, made at Unix time %lld), %llu sealed "
			 "secrets checked",
			 o->backup_path, (long long)res->info.schema_version,
			 (long long)res->info.created,
			 (unsigned long long)pp_sealed_total(&res->counts));
		rc = pp_store_audit_append(store, o->actor, "restore", o->dir, detail, err);
	}
	pp_store_close(store);
	return rc;
}

static void restore_undo(const struct pp_uc_restore_opts *o, bool created)
{
	static const char *const suffix[] = {"-wal", "-shm", "-journal"};
	char p[4200];
	for (size_t i = 0; i < sizeof(suffix) / sizeof(suffix[0]); i++)
		if (snprintf(p, sizeof(p), "%s%s", o->db_path, suffix[i]) < (int)sizeof(p))
			unlink(p);
	unlink(o->db_path);
	unlink(o->key_path);
	unlink(o->config_path);
	if (created)
		rmdir(o->dir);
}

int pp_uc_restore(const struct pp_uc_restore_opts *o, struct pp_uc_restore_result *res,
		  struct pp_err *err)
{
	pp_cleanup(key_wipe) struct pp_master_key mk;
	memset(res, 0, sizeof(*res));
	memset(&mk, 0, sizeof(mk));
	int rc = restore_check(o, &mk, res, err);
	if (rc == 0)
		rc = dir_ready(o->dir, &res->dir_created, err);
	if (rc < 0)
		return rc;
	rc = pp_store_backup_unpack(o->backup_path, o->db_path, err);
	if (rc == 0)
		rc = pp_master_key_save(o->key_path, &mk, err);
	if (rc == 0)
		rc = pp_file_create(o->config_path, o->config_text, strlen(o->config_text), 0600,
				    err);
	if (rc == 0)
		rc = restore_open(o, &mk, res, err);
	if (rc < 0)
		restore_undo(o, res->dir_created);
	return rc;
}
