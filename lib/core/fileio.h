/* Files: atomic replacement, exclusive creation with a mode, bounded reads. */
#ifndef PSKPROV_CORE_FILEIO_H
#define PSKPROV_CORE_FILEIO_H

#include <stddef.h>
#include <sys/types.h>

#include "core/bytes.h"
#include "core/err.h"

/* Writes to a temporary file beside path, fsyncs, renames over path, fsyncs the
 * directory: a crash leaves the old content or the new, never a torn file. */
int pp_file_replace(const char *path, const void *data, size_t len, mode_t mode,
		    struct pp_err *err) PP_WUR;

/* Creates path whole or not at all, never overwriting: the data goes to a temporary
 * file beside it (O_EXCL, mode, fsynced), which is then moved to path only if path
 * does not exist (renameat2 RENAME_NOREPLACE, or a hard link), and the directory is
 * fsynced. No reader ever sees a partial file; on failure nothing is left. */
int pp_file_create(const char *path, const void *data, size_t len, mode_t mode,
		   struct pp_err *err) PP_WUR;

/* Reads a whole regular file of at most max bytes into buf (appending). */
int pp_file_read(const char *path, size_t max, struct pp_buf *buf, struct pp_err *err) PP_WUR;

/* Fails when path is readable or writable by group or others (secret files). */
int pp_file_check_private(const char *path, struct pp_err *err) PP_WUR;

/* fsync the directory that holds path. */
int pp_fsync_dir_of(const char *path) PP_WUR;

/* For pp_cleanup(pp_closep) on a descriptor (-1: none). */
void pp_closep(int *fd);

/* An advisory lock (flock) on PATH (created 0600), taken without waiting and held while
 * *fd stays open; this process's pid is written in the file. -PP_EEXIST when another
 * process holds it (*holder: its pid as it wrote it, 0 when unknown). */
int pp_lock_file(const char *path, int *fd, long *holder, struct pp_err *err) PP_WUR;

#endif
