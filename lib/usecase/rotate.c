/* Master-key rotation (rotate.h). */
#include "usecase/rotate.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

#include "core/fileio.h"
#include "core/secret.h"
#include "store/masterkey.h"
#include "store/store.h"

static void key_wipe(struct pp_master_key *mk)
{
	pp_wipe(mk, sizeof(*mk));
}

static int new_path_of(const char *key_path, char out[PATH_MAX], struct pp_err *err)
{
	if (snprintf(out, PATH_MAX, "%s.new", key_path) >= PATH_MAX)
		return pp_err_set(err, PP_EINVAL, "key path too long");
	return 0;
}

static int open_with(const struct pp_store_config *sc, const char *path, struct pp_store **out,
		     struct pp_err *err)
{
	pp_cleanup(key_wipe) struct pp_master_key mk;
	int rc = pp_master_key_load(path, &mk, err);
	if (rc == 0)
		rc = pp_store_open(sc, &mk, out, err);
	return rc;
}

/* Step 3: <key>.new becomes <key>; the rename is atomic, the directory sync makes it
 * last. */
static int promote(const char *new_path, const char *key_path, struct pp_err *err)
{
	if (rename(new_path, key_path) < 0)
		return pp_err_set(err, PP_EIO, "cannot rename '%s' to '%s': %s", new_path, key_path,
				  strerror(errno));
	if (pp_fsync_dir_of(key_path) < 0)
		return pp_err_set(err, PP_EIO, "cannot sync the directory of '%s'", key_path);
	return 0;
}

int pp_uc_key_open(const struct pp_store_config *sc, const char *key_path, struct pp_store **out,
		   bool *finished, struct pp_err *err)
{
	char new_path[PATH_MAX];
	*finished = false;
	*out = NULL;
	int rc = open_with(sc, key_path, out, err);
	if (rc != -PP_ECRYPTO || new_path_of(key_path, new_path, NULL) < 0 ||
	    access(new_path, F_OK) < 0)
		return rc;
	struct pp_err again = {0};
	if (open_with(sc, new_path, out, &again) < 0)
		return rc; /* neither: the first error stands */
	if ((rc = promote(new_path, key_path, err)) < 0) {
		pp_store_close(*out);
		*out = NULL;
		return rc;
	}
	*finished = true;
	return 0;
}

static void at(const struct pp_uc_rotate_opts *o, enum pp_rotate_point p)
{
	if (o->at)
		o->at(o->at_ctx, p);
}

/* Steps 1 and 2 on an open store under the old key. */
static int write_and_reseal(const struct pp_uc_rotate_opts *o, struct pp_store *store,
			    const char *new_path, struct pp_uc_rotate_result *res,
			    struct pp_err *err)
{
	pp_cleanup(key_wipe) struct pp_master_key next;
	if (pp_random(next.k, sizeof(next.k)) < 0)
		return pp_err_set(err, PP_ECRYPTO, "cannot generate a master key: no randomness");
	int rc = pp_master_key_save(new_path, &next, err);
	if (rc < 0)
		return rc;
	at(o, PP_ROTATE_KEY_WRITTEN);
	if ((rc = pp_store_begin(store, err)) == 0) {
		rc = pp_store_rekey(store, &next, o->actor, &res->counts, err);
		if (rc == 0)
			at(o, PP_ROTATE_RESEALED);
		if (rc == 0)
			rc = pp_store_commit(store, err);
		else
			pp_store_rollback_quiet(store);
	}
	if (rc < 0)
		unlink(new_path); /* the old key is still the one */
	return rc;
}

/* One rotation at a time per key file: a lock on its directory (released when the fd
 * is closed, also by a crash), so that no rotation takes the <key>.new of another one
 * for a stale file. */
static int lock_dir(const char *key_path, int *fd, struct pp_err *err)
{
	char dir[PATH_MAX] = ".";
	const char *slash = strrchr(key_path, '/');
	if (slash) {
		size_t n = slash == key_path ? 1 : (size_t)(slash - key_path);
		if (n >= sizeof(dir))
			return pp_err_set(err, PP_EINVAL, "key path too long");
		memcpy(dir, key_path, n);
		dir[n] = '\0';
	}
	*fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (*fd < 0)
		return pp_err_set(err, PP_EIO, "cannot open '%s': %s", dir, strerror(errno));
	if (flock(*fd, LOCK_EX | LOCK_NB) == 0)
		return 0;
	int e = errno;
	close(*fd);
	*fd = -1;
	if (e == EWOULDBLOCK)
		return pp_err_set(err, PP_EBUSY, "another master-key rotation is running in '%s'",
				  dir);
	return pp_err_set(err, PP_EIO, "cannot lock '%s': %s", dir, strerror(e));
}

static int rotate_locked(const struct pp_uc_rotate_opts *o, struct pp_uc_rotate_result *res,
			 struct pp_err *err);

int pp_uc_rotate(const struct pp_uc_rotate_opts *o, struct pp_uc_rotate_result *res,
		 struct pp_err *err)
{
	int fd = -1;
	memset(res, 0, sizeof(*res));
	int rc = lock_dir(o->key_path, &fd, err);
	if (rc < 0)
		return rc;
	rc = rotate_locked(o, res, err);
	close(fd);
	return rc;
}

static int rotate_locked(const struct pp_uc_rotate_opts *o, struct pp_uc_rotate_result *res,
			 struct pp_err *err)
{
	char new_path[PATH_MAX];
	struct pp_store *store = NULL;
	int rc = new_path_of(o->key_path, new_path, err);
	if (rc == 0)
		rc = pp_uc_key_open(o->sc, o->key_path, &store, &res->finished_before, err);
	if (rc < 0)
		return rc;
	/* The key file opens the database: a <key>.new now is what an aborted rotation
	 * left, and nothing is sealed under it. */
	if (unlink(new_path) == 0) {
		res->stale_removed = true;
		if (pp_fsync_dir_of(new_path) < 0) {
			pp_store_close(store);
			return pp_err_set(err, PP_EIO, "cannot sync the directory of '%s'",
					  new_path);
		}
	}
	rc = write_and_reseal(o, store, new_path, res, err);
	pp_store_close(store);
	if (rc < 0)
		return rc;
	at(o, PP_ROTATE_COMMITTED);
	if ((rc = promote(new_path, o->key_path, err)) < 0)
		return pp_err_prefix(err, "the database is sealed under '%s' now", new_path);
	at(o, PP_ROTATE_RENAMED);
	struct pp_sealed_counts check;
	bool finished = false;
	return pp_uc_key_verify(o->sc, o->key_path, &check, &finished, err);
}

int pp_uc_key_verify(const struct pp_store_config *sc, const char *key_path,
		     struct pp_sealed_counts *counts, bool *finished, struct pp_err *err)
{
	struct pp_store *store = NULL;
	int rc = pp_uc_key_open(sc, key_path, &store, finished, err);
	if (rc == 0)
		rc = pp_store_sealed_verify(store, counts, err);
	pp_store_close(store);
	return rc;
}
