/* The agent's PTHI client (agent/cmd_agent.h): one transport (agent/transport.h), a
 * deadline per exchange. */
#include "agent/cmd_agent.h"
#include "agent/transport.h"

#include <errno.h>
#include <string.h>

#include <poll.h>

#include "core/clock.h"
#include "core/secret.h"

int pp_pthi_ms_left(uint64_t deadline)
{
	uint64_t now = pp_now_ms();
	if (now >= deadline)
		return 0;
	uint64_t left = deadline - now;
	return left > 60000000u ? 60000000 : (int)left;
}

int pp_pthi_wait(int fd, short events, uint64_t deadline, struct pp_err *err)
{
	for (;;) {
		struct pollfd pfd = {.fd = fd, .events = events};
		int left = pp_pthi_ms_left(deadline);
		if (left == 0)
			return pp_err_set(err, PP_ETIMEOUT, "the device did not answer in time");
		int rc = poll(&pfd, 1, left);
		if (rc > 0)
			return 0;
		if (rc == 0)
			return pp_err_set(err, PP_ETIMEOUT, "the device did not answer in time");
		if (errno != EINTR)
			return pp_err_set(err, PP_EIO, "poll: %s", strerror(errno));
	}
}

int pp_pthi_link_open(struct pthi_link *l, const struct pp_agent_transport *t, uint64_t deadline,
		      struct pp_err *err)
{
	*l = (struct pthi_link){
	    .ops = t->kind == PP_AGENT_TRANSPORT_MEI ? &pp_pthi_mei_ops : &pp_pthi_socket_ops,
	    .path = t->path,
	    .fd = -1,
	};
	int rc = l->ops->open(l, deadline, err);
	if (rc < 0)
		pp_pthi_link_close(l);
	return rc;
}

void pp_pthi_link_close(struct pthi_link *l)
{
	if (l->ops && l->fd >= 0)
		l->ops->close(l);
	l->fd = -1;
}

/* One request and its response, both checked by the codec. Returns what
 * pp_pthi_response_parse returns: -PP_ESTATE is a refusal with resp->status set. */
static int pthi_call(struct pthi_link *l, uint32_t command, unsigned timeout_ms,
		     struct pp_pthi_response *resp, struct pp_err *err)
{
	uint8_t req[PP_PTHI_HEADER_LEN], buf[PP_PTHI_MAX_FRAME];
	size_t req_len = 0, len = 0;
	uint64_t deadline = pp_now_ms() + timeout_ms;
	const char *name = pp_pthi_command_name(command);
	int rc;

	if ((rc = pp_pthi_request_write(command, req, sizeof(req), &req_len, err)) < 0 ||
	    (rc = l->ops->exchange(l, req, req_len, buf, sizeof(buf), &len, deadline, err)) < 0)
		return pp_err_prefix(err, "%s", name);
	rc = pp_pthi_response_parse(buf, len, command, resp, err);
	if (rc < 0 && rc != -PP_ESTATE)
		return pp_err_prefix(err, "%s: malformed answer from the device", name);
	return rc;
}

/* The reads of pp_agent_query on an open link. */
static int query_link(struct pthi_link *l, unsigned timeout_ms, struct pp_agent_device *out,
		      struct pp_err *err)
{
	struct pp_pthi_response r;
	int rc;
	if ((rc = pthi_call(l, PP_PTHI_GET_PROVISIONING_STATE, timeout_ms, &r, err)) < 0)
		return rc;
	out->state = r.provisioning_state;
	if ((rc = pthi_call(l, PP_PTHI_GET_UUID, timeout_ms, &r, err)) < 0)
		return rc;
	memcpy(out->uuid, r.uuid, sizeof(out->uuid));
	if ((rc = pthi_call(l, PP_PTHI_GET_CODE_VERSIONS, timeout_ms, &r, err)) < 0)
		return rc;
	out->versions = r.code_versions;
	if ((rc = pthi_call(l, PP_PTHI_GET_PROVISIONING_TLS_MODE, timeout_ms, &r, err)) < 0)
		return rc;
	out->tls_mode = r.tls_mode;
	rc = pthi_call(l, PP_PTHI_CFG_GET_PID, timeout_ms, &r, err);
	if (rc == -PP_ESTATE) {
		out->has_pid = false; /* no key on the device */
		pp_err_clear(err);
		return 0;
	}
	if (rc < 0)
		return rc;
	/* The codec checked the alphabet; the checksum too, like any PID from outside. */
	if ((rc = pp_pid_parse(r.pid, &out->pid, err)) < 0)
		return pp_err_prefix(err, "CFG_GetPID: the device's PID is not valid");
	out->has_pid = true;
	return 0;
}

int pp_agent_query(const struct pp_agent_transport *t, unsigned timeout_ms,
		   struct pp_agent_device *out, struct pp_err *err)
{
	pp_cleanup(pp_pthi_link_close) struct pthi_link l = {.fd = -1};
	int rc;

	memset(out, 0, sizeof(*out));
	if ((rc = pp_pthi_link_open(&l, t, pp_now_ms() + timeout_ms, err)) < 0)
		return rc;
	return query_link(&l, timeout_ms, out, err);
}

int pp_agent_start_configuration(const struct pp_agent_transport *t, unsigned timeout_ms,
				 uint32_t *status, struct pp_err *err)
{
	pp_cleanup(pp_pthi_link_close) struct pthi_link l = {.fd = -1};
	struct pp_pthi_response r;
	int rc;

	*status = PP_PTHI_STATUS_INTERNAL_ERROR;
	if ((rc = pp_pthi_link_open(&l, t, pp_now_ms() + timeout_ms, err)) < 0)
		return rc;
	rc = pthi_call(&l, PP_PTHI_CFG_START_CONFIGURATION, timeout_ms, &r, err);
	if (rc == 0 || rc == -PP_ESTATE)
		*status = r.status;
	return rc;
}
