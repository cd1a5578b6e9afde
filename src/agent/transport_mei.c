/* The Linux MEI driver as the agent's host interface (agent/transport.h): the character
 * device (/dev/mei0) connected to the ME's AMTHI client with IOCTL_MEI_CONNECT_CLIENT
 * (<linux/mei.h>); then every write() is one whole PTHI request and every read() one
 * whole answer (docs/protocol.md section 5), never more than the client's
 * max_msg_length. The driver says EBUSY while the ME is busy, and ENODEV or EIO after a
 * firmware reset (the connection is gone): those are tried again on a new connection,
 * waiting 100 ms and doubling, within the exchange's deadline. */
#include "agent/transport.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <sys/ioctl.h>
#include <unistd.h>

#include <linux/mei.h>

#include "core/clock.h"
#include "core/secret.h"
#include "proto/pthi.h"

/* A driver that claims more than this for one message is not believed. */
#define PP_MEI_MAX_MSG 65536

static bool mei_transient(int e)
{
	return e == EBUSY || e == ENODEV || e == EIO;
}

/* Waits before try attempt + 2; false when the tries or the deadline are used up. */
static bool mei_backoff(unsigned attempt, uint64_t deadline)
{
	if (attempt + 1 >= PP_MEI_TRIES)
		return false;
	uint64_t wait = pp_backoff_ms(PP_MEI_BACKOFF_FIRST_MS, attempt, PP_MEI_BACKOFF_MAX_MS);
	if ((uint64_t)pp_pthi_ms_left(deadline) <= wait)
		return false;
	pp_sleep_ms(wait);
	return true;
}

static int mei_open_error(const char *path, int e, struct pp_err *err)
{
	if (e == ENOENT || e == ENXIO)
		return pp_err_set(err, PP_ENOTFOUND,
				  "no MEI device at %s: the mei_me driver is not loaded, or this "
				  "machine has no Intel ME",
				  path);
	if (e == EACCES || e == EPERM)
		return pp_err_set(err, PP_EPERM,
				  "cannot open %s: permission denied (run as root or as a member "
				  "of the group that owns it)",
				  path);
	return pp_err_set(err, PP_EIO, "cannot open %s: %s", path, strerror(e));
}

static int mei_connect_error(const char *path, int e, struct pp_err *err)
{
	if (e == ENOTTY)
		return pp_err_set(err, PP_ENOTFOUND,
				  "%s has no AMTHI client (the ME firmware does not offer AMT, or "
				  "AMT is disabled in the firmware setup)",
				  path);
	return pp_err_set(err, PP_EIO, "%s: cannot connect to the AMTHI client: %s", path,
			  strerror(e));
}

static void mei_close(struct pthi_link *l)
{
	if (l->fd >= 0)
		close(l->fd);
	l->fd = -1;
}

/* One try at opening the device and connecting it to AMTHI; *e is the errno of a
 * failed system call (0 otherwise), for mei_transient. */
static int mei_connect_once(struct pthi_link *l, int *e, struct pp_err *err)
{
	struct mei_connect_client_data d;
	*e = 0;
	int fd = open(l->path, O_RDWR | O_CLOEXEC | O_NONBLOCK);
	if (fd < 0) {
		*e = errno;
		return mei_open_error(l->path, *e, err);
	}
	memset(&d, 0, sizeof(d));
	_Static_assert(sizeof(d.in_client_uuid) == sizeof(pp_pthi_amthi_guid_le), "uuid_le");
	memcpy(&d.in_client_uuid, pp_pthi_amthi_guid_le, sizeof(pp_pthi_amthi_guid_le));
	if (ioctl(fd, IOCTL_MEI_CONNECT_CLIENT, &d) < 0) {
		*e = errno;
		close(fd);
		return mei_connect_error(l->path, *e, err);
	}
	uint32_t max = d.out_client_properties.max_msg_length;
	if (max < PP_PTHI_HEADER_LEN || max > PP_MEI_MAX_MSG) {
		close(fd);
		return pp_err_set(err, PP_EPROTO,
				  "%s: the AMTHI client's max_msg_length %u is "
				  "out of range (%d to %d)",
				  l->path, max, PP_PTHI_HEADER_LEN, PP_MEI_MAX_MSG);
	}
	l->fd = fd;
	l->max_msg = max;
	return 0;
}

static int mei_open(struct pthi_link *l, uint64_t deadline, struct pp_err *err)
{
	for (unsigned attempt = 0;; attempt++) {
		int e = 0;
		int rc = mei_connect_once(l, &e, err);
		if (rc == 0 || !mei_transient(e) || !mei_backoff(attempt, deadline))
			return rc;
	}
}

/* One whole answer, read into a buffer of the client's max_msg_length (the driver
 * does not split a message over reads). */
static int mei_read_answer(struct pthi_link *l, uint8_t *resp, size_t cap, size_t *resp_len,
			   uint64_t deadline, int *e, struct pp_err *err)
{
	pp_cleanup(pp_freep) uint8_t *buf = malloc(l->max_msg);
	ssize_t n;
	int rc;
	if (!buf)
		return pp_err_set(err, PP_ENOMEM, "out of memory");
	for (;;) {
		if ((rc = pp_pthi_wait(l->fd, POLLIN, deadline, err)) < 0)
			return rc;
		n = read(l->fd, buf, l->max_msg);
		if (n >= 0)
			break;
		if (errno == EINTR || errno == EAGAIN)
			continue;
		*e = errno;
		return pp_err_set(err, PP_EIO, "%s: read: %s", l->path, strerror(*e));
	}
	if ((size_t)n > cap)
		return pp_err_set(err, PP_ETOOBIG,
				  "malformed answer from the device: %zd bytes, over the %zu-byte "
				  "frame cap",
				  n, cap);
	memcpy(resp, buf, (size_t)n);
	*resp_len = (size_t)n;
	return 0;
}

static int mei_exchange_once(struct pthi_link *l, const uint8_t *req, size_t req_len, uint8_t *resp,
			     size_t cap, size_t *resp_len, uint64_t deadline, int *e,
			     struct pp_err *err)
{
	int rc;
	*e = 0;
	if (l->fd < 0 && (rc = mei_connect_once(l, e, err)) < 0)
		return rc;
	if (req_len > l->max_msg)
		return pp_err_set(err, PP_ETOOBIG,
				  "a request of %zu bytes is larger than the AMTHI client's "
				  "max_msg_length %zu",
				  req_len, l->max_msg);
	if ((rc = pp_pthi_wait(l->fd, POLLOUT, deadline, err)) < 0)
		return rc;
	ssize_t n = write(l->fd, req, req_len);
	if (n < 0) {
		*e = errno;
		return pp_err_set(err, PP_EIO, "%s: write: %s", l->path, strerror(*e));
	}
	if ((size_t)n != req_len)
		return pp_err_set(err, PP_EIO, "%s: wrote %zd of %zu bytes", l->path, n, req_len);
	return mei_read_answer(l, resp, cap, resp_len, deadline, e, err);
}

static int mei_exchange(struct pthi_link *l, const uint8_t *req, size_t req_len, uint8_t *resp,
			size_t cap, size_t *resp_len, uint64_t deadline, struct pp_err *err)
{
	for (unsigned attempt = 0;; attempt++) {
		int e = 0;
		int rc = mei_exchange_once(l, req, req_len, resp, cap, resp_len, deadline, &e, err);
		if (rc == 0 || !mei_transient(e) || !mei_backoff(attempt, deadline))
			return rc;
		/* Busy or reset: the request is sent again on a new connection (the PTHI
		 * commands the agent sends can be repeated). */
		mei_close(l);
	}
}

const struct pthi_link_ops pp_pthi_mei_ops = {
    .open = mei_open,
    .exchange = mei_exchange,
    .close = mei_close,
};
