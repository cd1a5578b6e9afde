/* The agent's PTHI client (agent/cmd_agent.h): one socket, a deadline per exchange. */
#include "agent/cmd_agent.h"

#include <errno.h>
#include <string.h>

#include <poll.h>

#include <sys/un.h>

#include <unistd.h>

#include <event2/http.h>

#include "core/clock.h"

/* ---- PTHI client: one socket, a deadline per exchange ---- */

/* Milliseconds left before deadline, as poll() wants them; 0 when it has passed. */
static int ms_left(uint64_t deadline)
{
	uint64_t now = pp_now_ms();
	if (now >= deadline)
		return 0;
	uint64_t left = deadline - now;
	return left > 60000000u ? 60000000 : (int)left;
}

static int pthi_connect(const char *path, uint64_t deadline, int *out, struct pp_err *err)
{
	struct sockaddr_un sun = {.sun_family = AF_UNIX};
	size_t n = strlen(path);
	if (n == 0 || n >= sizeof(sun.sun_path))
		return pp_err_set(err, PP_EINVAL, "device socket path must be 1 to %zu bytes",
				  sizeof(sun.sun_path) - 1);
	memcpy(sun.sun_path, path, n + 1);
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
		if (e == EAGAIN && ms_left(deadline) > 0) {
			pp_sleep_ms(20);
			continue;
		}
		close(fd);
		if (e == ENOENT)
			return pp_err_set(
			    err, PP_ENOTFOUND,
			    "device socket '%s' does not exist: is the device running?", path);
		if (e == ECONNREFUSED)
			return pp_err_set(
			    err, PP_EIO,
			    "device socket '%s': nobody is listening (the device is not "
			    "running)",
			    path);
		if (e == EAGAIN)
			return pp_err_set(err, PP_ETIMEOUT, "device socket '%s': busy, timed out",
					  path);
		return pp_err_set(err, PP_EIO, "device socket '%s': %s", path, strerror(e));
	}
	*out = fd;
	return 0;
}

/* Moves exactly n bytes in one direction before the deadline. */
static int pthi_io(int fd, void *buf, size_t n, bool writing, uint64_t deadline, struct pp_err *err)
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
		struct pollfd pfd = {.fd = fd, .events = writing ? POLLOUT : POLLIN};
		int left = ms_left(deadline);
		if (left == 0)
			return pp_err_set(err, PP_ETIMEOUT, "the device did not answer in time");
		int rc = poll(&pfd, 1, left);
		if (rc < 0 && errno != EINTR)
			return pp_err_set(err, PP_EIO, "poll: %s", strerror(errno));
		if (rc == 0)
			return pp_err_set(err, PP_ETIMEOUT, "the device did not answer in time");
	}
	return 0;
}

/* One request and its response, both checked by the codec. Returns what
 * pp_pthi_response_parse returns: -PP_ESTATE is a refusal with resp->status set. */
static int pthi_call(int fd, uint32_t command, unsigned timeout_ms, struct pp_pthi_response *resp,
		     struct pp_err *err)
{
	uint8_t buf[PP_PTHI_MAX_FRAME];
	size_t len = 0, rest = 0;
	uint64_t deadline = pp_now_ms() + timeout_ms;
	const char *name = pp_pthi_command_name(command);
	int rc;

	if ((rc = pp_pthi_request_write(command, buf, sizeof(buf), &len, err)) < 0 ||
	    (rc = pthi_io(fd, buf, len, true, deadline, err)) < 0 ||
	    (rc = pthi_io(fd, buf, PP_PTHI_HEADER_LEN, false, deadline, err)) < 0 ||
	    (rc = pp_pthi_frame_remaining(buf, PP_PTHI_HEADER_LEN, &rest, err)) < 0 ||
	    (rc = pthi_io(fd, buf + PP_PTHI_HEADER_LEN, rest, false, deadline, err)) < 0)
		return pp_err_prefix(err, "%s", name);
	rc = pp_pthi_response_parse(buf, PP_PTHI_HEADER_LEN + rest, command, resp, err);
	if (rc < 0 && rc != -PP_ESTATE)
		return pp_err_prefix(err, "%s: malformed answer from the device", name);
	return rc;
}

int pp_agent_query(const char *path, unsigned timeout_ms, struct pp_agent_device *out,
		   struct pp_err *err)
{
	struct pp_pthi_response r;
	int fd = -1, rc;

	memset(out, 0, sizeof(*out));
	if ((rc = pthi_connect(path, pp_now_ms() + timeout_ms, &fd, err)) < 0)
		return rc;
	if ((rc = pthi_call(fd, PP_PTHI_GET_PROVISIONING_STATE, timeout_ms, &r, err)) < 0)
		goto out;
	out->state = r.provisioning_state;
	if ((rc = pthi_call(fd, PP_PTHI_GET_UUID, timeout_ms, &r, err)) < 0)
		goto out;
	memcpy(out->uuid, r.uuid, sizeof(out->uuid));
	if ((rc = pthi_call(fd, PP_PTHI_GET_CODE_VERSIONS, timeout_ms, &r, err)) < 0)
		goto out;
	out->versions = r.code_versions;
	if ((rc = pthi_call(fd, PP_PTHI_GET_PROVISIONING_TLS_MODE, timeout_ms, &r, err)) < 0)
		goto out;
	out->tls_mode = r.tls_mode;
	rc = pthi_call(fd, PP_PTHI_CFG_GET_PID, timeout_ms, &r, err);
	if (rc == -PP_ESTATE) {
		out->has_pid = false; /* no key on the device */
		pp_err_clear(err);
		rc = 0;
		goto out;
	}
	if (rc < 0)
		goto out;
	/* The codec checked the alphabet; the checksum too, like any PID from outside. */
	if ((rc = pp_pid_parse(r.pid, &out->pid, err)) < 0) {
		rc = pp_err_prefix(err, "CFG_GetPID: the device's PID is not valid");
		goto out;
	}
	out->has_pid = true;
out:
	if (fd >= 0)
		close(fd);
	return rc;
}

int pp_agent_start_configuration(const char *path, unsigned timeout_ms, uint32_t *status,
				 struct pp_err *err)
{
	struct pp_pthi_response r;
	int fd = -1, rc;

	*status = PP_PTHI_STATUS_INTERNAL_ERROR;
	if ((rc = pthi_connect(path, pp_now_ms() + timeout_ms, &fd, err)) < 0)
		return rc;
	rc = pthi_call(fd, PP_PTHI_CFG_START_CONFIGURATION, timeout_ms, &r, err);
	if (rc == 0 || rc == -PP_ESTATE)
		*status = r.status;
	close(fd);
	return rc;
}
