/* How the agent reaches the device's host interface (docs/protocol.md section 5): one
 * PTHI request and its whole answer at a time, over a transport chosen on the command
 * line (struct pp_agent_transport in agent/cmd_agent.h):
 *
 *   socket  the emulated device's Unix socket (DIR/pthi.sock), a byte stream: the
 *           answer is read as a header, then exactly payloadLength more bytes.
 *   mei     the Linux MEI character device (/dev/mei0, <linux/mei.h>), connected to the
 *           AMTHI client: one whole message per write() and per read(), at most the
 *           max_msg_length the driver returned at connect.
 *
 * Every wait is bounded by the caller's deadline (pp_now_ms, core/clock.h). A link is
 * closed by pp_pthi_link_close on every path; it accepts a link that never opened. */
#ifndef PSKPROV_AGENT_TRANSPORT_H
#define PSKPROV_AGENT_TRANSPORT_H

#include <stddef.h>
#include <stdint.h>

#include "agent/cmd_agent.h"
#include "core/err.h"

/* MEI: tries of one open, connect or exchange that the driver called busy (EBUSY) or
 * lost to a firmware reset (ENODEV, EIO), waiting 100 ms, then doubling, all within
 * the deadline. */
#define PP_MEI_TRIES 5
#define PP_MEI_BACKOFF_FIRST_MS 100
#define PP_MEI_BACKOFF_MAX_MS 1600

struct pthi_link;

struct pthi_link_ops {
	int (*open)(struct pthi_link *l, uint64_t deadline, struct pp_err *err) PP_WUR;
	/* Sends req (one whole frame) and puts the whole answer in resp (cap bytes), its
	 * length in *resp_len; the answer is not judged here beyond its framing. */
	int (*exchange)(struct pthi_link *l, const uint8_t *req, size_t req_len, uint8_t *resp,
			size_t cap, size_t *resp_len, uint64_t deadline, struct pp_err *err) PP_WUR;
	void (*close)(struct pthi_link *l);
};

struct pthi_link {
	const struct pthi_link_ops *ops;
	const char *path;
	int fd;         /* -1 when closed */
	size_t max_msg; /* MEI: the AMTHI client's max_msg_length */
};

extern const struct pthi_link_ops pp_pthi_socket_ops;
extern const struct pthi_link_ops pp_pthi_mei_ops;

/* Opens the transport t names; l is closed (fd -1) on failure. */
int pp_pthi_link_open(struct pthi_link *l, const struct pp_agent_transport *t, uint64_t deadline,
		      struct pp_err *err) PP_WUR;
/* Closes l if open; for pp_cleanup too. */
void pp_pthi_link_close(struct pthi_link *l);

/* Milliseconds left before deadline, as poll() wants them; 0 when it has passed. */
int pp_pthi_ms_left(uint64_t deadline);
/* Waits for events on fd until the deadline: 0 when ready, -PP_ETIMEOUT, -PP_EIO. */
int pp_pthi_wait(int fd, short events, uint64_t deadline, struct pp_err *err) PP_WUR;

#endif
