/* The emulated device's host interface: PTHI frames over its Unix stream socket
 * (agent/transport.h, docs/protocol.md section 5). */
#include "agent/transport.h"

#include <errno.h>
#include <stdbool.h>
#include <string.h>

#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "core/clock.h"
#include "proto/pthi.h"

static int connect_error(const char *path, int e, struct pp_err *err)
{
	if (e == ENOENT)
		return pp_err_set(err, PP_ENOTFOUND,
				  "device socket '%s' does not exist: is the device running?",
				  path);
	if (e == ECONNREFUSED)
		return pp_err_set(err, PP_EIO,
				  "device socket '%s': nobody is listening (the device is not "
				  "running)",
				  path);
	if (e == EAGAIN)
		return pp_err_set(err, PP_ETIMEOUT, "device socket '%s': busy, timed out", path);
	return pp_err_set(err, PP_EIO, "device socket '%s': %s", path, strerror(e));
}

static int socket_open(struct pthi_link *l, uint64_t deadline, struct pp_err *err)
{
	struct sockaddr_un sun = {.sun_family = AF_UNIX};
	size_t n = strlen(l->path);
	if (n == 0 || n >= sizeof(sun.sun_path))
		return pp_err_set(err, PP_EINVAL, "device socket path must be 1 to %zu bytes",
				  sizeof(sun.sun_path) - 1);
	memcpy(sun.sun_path, l->path, n + 1);
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return pp_err_set(err, PP_EIO, "socket: %s", strerror(errno));
	for (;;) {
		if (connect(fd, (const struct sockaddr *)&sun, sizeof(sun)) == 0)
			break;
		int e = errno;
		if (e == EINTR)
			continue;
		/* A Unix socket whose backlog is full says EAGAIN: wait a little, within the
		 * deadline. */
		if (e == EAGAIN && pp_pthi_ms_left(deadline) > 0) {
			pp_sleep_ms(20);
			continue;
		}
		close(fd);
		return connect_error(l->path, e, err);
	}
	l->fd = fd;
	return 0;
}

/* Moves exactly n bytes in one direction before the deadline. */
static int socket_io(int fd, void *buf, size_t n, bool writing, uint64_t deadline,
		     struct pp_err *err)
{
	uint8_t *p = buf;
	size_t done = 0;
	while (done < n) {
		ssize_t r = writing ? send(fd, p + done, n - done, MSG_NOSIGNAL)
				    : recv(fd, p + done, n - done, 0);
		if (r > 0) {
			done += (size_t)r;
			continue;
		}
		if (r == 0)
			return pp_err_set(
			    err, PP_EPROTO,
			    "the device closed the connection (it refused the request)");
		if (errno == EINTR)
			continue;
		if (errno != EAGAIN && errno != EWOULDBLOCK)
			return pp_err_set(err, PP_EIO, "device socket: %s", strerror(errno));
		int rc = pp_pthi_wait(fd, writing ? POLLOUT : POLLIN, deadline, err);
		if (rc < 0)
			return rc;
	}
	return 0;
}

static int socket_exchange(struct pthi_link *l, const uint8_t *req, size_t req_len, uint8_t *resp,
			   size_t cap, size_t *resp_len, uint64_t deadline, struct pp_err *err)
{
	size_t rest = 0;
	int rc;
	if (cap < PP_PTHI_MAX_FRAME)
		return pp_err_set(err, PP_ETOOBIG, "answer buffer under %d bytes",
				  PP_PTHI_MAX_FRAME);
	if ((rc = socket_io(l->fd, (void *)req, req_len, true, deadline, err)) < 0 ||
	    (rc = socket_io(l->fd, resp, PP_PTHI_HEADER_LEN, false, deadline, err)) < 0)
		return rc;
	/* The header's length is checked against the frame cap before it is waited for. */
	if ((rc = pp_pthi_frame_remaining(resp, PP_PTHI_HEADER_LEN, &rest, err)) < 0)
		return pp_err_prefix(err, "malformed answer from the device");
	if ((rc = socket_io(l->fd, resp + PP_PTHI_HEADER_LEN, rest, false, deadline, err)) < 0)
		return rc;
	*resp_len = PP_PTHI_HEADER_LEN + rest;
	return 0;
}

static void socket_close(struct pthi_link *l)
{
	if (l->fd >= 0)
		close(l->fd);
	l->fd = -1;
}

const struct pthi_link_ops pp_pthi_socket_ops = {
    .open = socket_open,
    .exchange = socket_exchange,
    .close = socket_close,
};
