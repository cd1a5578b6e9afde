#include "core/fileio.h"

#include "core/secret.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

static int write_all(int fd, const void *data, size_t len)
{
	const uint8_t *p = data;
	while (len) {
		ssize_t n = write(fd, p, len);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

int pp_fsync_dir_of(const char *path)
{
	char tmp[PATH_MAX];
	if (strlen(path) >= sizeof(tmp))
		return -PP_EINVAL;
	memcpy(tmp, path, strlen(path) + 1);
	const char *dir = dirname(tmp);
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -PP_EIO;
	int rc = fsync(fd) == 0 ? 0 : -PP_EIO;
	close(fd);
	return rc;
}

int pp_file_replace(const char *path, const void *data, size_t len, mode_t mode, struct pp_err *err)
{
	char tmp[PATH_MAX];
	int n = snprintf(tmp, sizeof(tmp), "%s.tmp.XXXXXX", path);
	if (n < 0 || (size_t)n >= sizeof(tmp))
		return pp_err_set(err, PP_EINVAL, "path too long: '%.64s'", path);
	int fd = mkostemp(tmp, O_CLOEXEC);
	if (fd < 0)
		return pp_err_set(err, PP_EIO, "cannot create a file beside '%s': %s", path,
				  strerror(errno));
	if (fchmod(fd, mode) < 0 || write_all(fd, data, len) < 0 || fsync(fd) < 0) {
		int e = errno;
		close(fd);
		unlink(tmp);
		return pp_err_set(err, PP_EIO, "cannot write '%s': %s", path, strerror(e));
	}
	if (close(fd) < 0 || rename(tmp, path) < 0) {
		int e = errno;
		unlink(tmp);
		return pp_err_set(err, PP_EIO, "cannot replace '%s': %s", path, strerror(e));
	}
	if (pp_fsync_dir_of(path) < 0)
		return pp_err_set(err, PP_EIO, "cannot sync the directory of '%s'", path);
	return 0;
}

/* Creates path with O_EXCL, writes and fsyncs it (no directory sync). */
static int create_exclusive(const char *path, const void *data, size_t len, mode_t mode,
			    struct pp_err *err)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, mode);
	if (fd < 0) {
		if (errno == EEXIST)
			return pp_err_set(err, PP_EEXIST, "'%s' already exists; not overwriting",
					  path);
		return pp_err_set(err, PP_EIO, "cannot create '%s': %s", path, strerror(errno));
	}
	/* The umask may have narrowed mode; set exactly what was asked. */
	if (fchmod(fd, mode) < 0 || write_all(fd, data, len) < 0 || fsync(fd) < 0) {
		int e = errno;
		close(fd);
		unlink(path);
		return pp_err_set(err, PP_EIO, "cannot write '%s': %s", path, strerror(e));
	}
	if (close(fd) < 0) {
		int e = errno;
		unlink(path);
		return pp_err_set(err, PP_EIO, "cannot write '%s': %s", path, strerror(e));
	}
	return 0;
}

/* Moves tmp to path unless path exists: rename without replacing where the file
 * system has it (vfat on a USB stick included), else a hard link. 0 or an errno. */
static int move_noreplace(const char *tmp, const char *path)
{
	if (renameat2(AT_FDCWD, tmp, AT_FDCWD, path, RENAME_NOREPLACE) == 0)
		return 0;
	if (errno != EINVAL && errno != ENOSYS && errno != EOPNOTSUPP)
		return errno;
	int e = link(tmp, path) < 0 ? errno : 0;
	unlink(tmp);
	return e;
}

int pp_file_create(const char *path, const void *data, size_t len, mode_t mode, struct pp_err *err)
{
	uint8_t rnd[8];
	char tmp[4096];
	if (pp_random(rnd, sizeof(rnd)) < 0)
		return pp_err_set(err, PP_ECRYPTO, "no randomness for a temporary name");
	if (snprintf(tmp, sizeof(tmp), "%s.%02x%02x%02x%02x%02x%02x%02x%02x.tmp", path, rnd[0],
		     rnd[1], rnd[2], rnd[3], rnd[4], rnd[5], rnd[6], rnd[7]) >= (int)sizeof(tmp))
		return pp_err_set(err, PP_EINVAL, "path '%.64s...' is too long", path);
	int rc = create_exclusive(tmp, data, len, mode, err);
	if (rc < 0)
		return rc;
	int e = move_noreplace(tmp, path);
	if (e) {
		unlink(tmp);
		if (e == EEXIST)
			return pp_err_set(err, PP_EEXIST, "'%s' already exists; not overwriting",
					  path);
		return pp_err_set(err, PP_EIO, "cannot create '%s': %s", path, strerror(e));
	}
	if (pp_fsync_dir_of(path) < 0) {
		unlink(path);
		return pp_err_set(err, PP_EIO, "cannot sync the directory of '%s'", path);
	}
	return 0;
}

int pp_file_read(const char *path, size_t max, struct pp_buf *buf, struct pp_err *err)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return pp_err_set(err, errno == ENOENT ? PP_ENOTFOUND : PP_EIO,
				  "cannot open '%s': %s", path, strerror(errno));
	struct stat st;
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		close(fd);
		return pp_err_set(err, PP_EIO, "'%s' is not a regular file", path);
	}
	if ((uint64_t)st.st_size > max) {
		close(fd);
		return pp_err_set(err, PP_ETOOBIG, "'%s' is %lld bytes; the limit is %zu", path,
				  (long long)st.st_size, max);
	}
	uint8_t chunk[65536];
	size_t total = 0;
	for (;;) {
		ssize_t n = read(fd, chunk, sizeof(chunk));
		if (n < 0) {
			if (errno == EINTR)
				continue;
			int e = errno;
			close(fd);
			pp_wipe(chunk, sizeof(chunk));
			return pp_err_set(err, PP_EIO, "cannot read '%s': %s", path, strerror(e));
		}
		if (n == 0)
			break;
		total += (size_t)n;
		if (total > max || pp_buf_append(buf, chunk, (size_t)n) < 0) {
			close(fd);
			pp_wipe(chunk, sizeof(chunk));
			return pp_err_set(err, PP_ETOOBIG, "'%s' is larger than %zu bytes", path,
					  max);
		}
	}
	close(fd);
	/* The file may be a key file: leave no copy on the stack. */
	pp_wipe(chunk, sizeof(chunk));
	return 0;
}

int pp_file_check_private(const char *path, struct pp_err *err)
{
	struct stat st;
	if (stat(path, &st) < 0)
		return pp_err_set(err, errno == ENOENT ? PP_ENOTFOUND : PP_EIO,
				  "cannot stat '%s': %s", path, strerror(errno));
	if (st.st_mode & (S_IRWXG | S_IRWXO))
		return pp_err_set(err, PP_EPERM,
				  "'%s' has mode %03o; a secret file must be 0600 (chmod 600)",
				  path, (unsigned)(st.st_mode & 0777));
	return 0;
}

/* The holder's pid as it wrote it, for the message; 0 when unreadable. */
static long lock_holder(int fd)
{
	char buf[24];
	ssize_t n = pread(fd, buf, sizeof(buf) - 1, 0);
	if (n <= 0)
		return 0;
	buf[n] = '\0';
	char *end = NULL;
	long pid = strtol(buf, &end, 10);
	return end != buf && (*end == '\n' || *end == '\0') && pid > 0 ? pid : 0;
}

int pp_lock_file(const char *path, int *fd, long *holder, struct pp_err *err)
{
	char pid[24];
	*holder = 0;
	*fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (*fd < 0)
		return pp_err_set(err, PP_EIO, "cannot open the lock file '%s': %s", path,
				  strerror(errno));
	if (flock(*fd, LOCK_EX | LOCK_NB) < 0) {
		int e = errno;
		if (e == EWOULDBLOCK)
			*holder = lock_holder(*fd);
		close(*fd);
		*fd = -1;
		if (e == EWOULDBLOCK)
			return pp_err_set(err, PP_EEXIST, "'%s' is locked by another process",
					  path);
		return pp_err_set(err, PP_EIO, "cannot lock '%s': %s", path, strerror(e));
	}
	int n = snprintf(pid, sizeof(pid), "%ld\n", (long)getpid());
	if (ftruncate(*fd, 0) < 0 || pwrite(*fd, pid, (size_t)n, 0) != n) {
		int e = errno;
		close(*fd);
		*fd = -1;
		return pp_err_set(err, PP_EIO, "cannot write '%s': %s", path, strerror(e));
	}
	return 0;
}

void pp_closep(int *fd)
{
	if (*fd >= 0)
		close(*fd);
	*fd = -1;
}
