/* The emulated device's host interface (docs/protocol.md section 5): PTHI frames over a
 * Unix-domain stream socket in the device's state directory (DIR/pthi.sock), standing
 * in for the MEI driver a real host agent opens. Answers come from lib/firmware/pthi.h.
 *
 * One event loop owns the server and the device. Per connection: read a 12-byte
 * header, then exactly payloadLength more bytes (never more than PP_PTHI_MAX_FRAME in
 * all), answer, repeat. A malformed frame is logged (one line, the codec's reason) and
 * the connection closed. Idle connections are closed after PP_PTHI_SERVER_IDLE_S; at
 * most PP_PTHI_SERVER_MAX_CONNS are open at once: at the cap a new client takes the slot
 * of the connection that has gone longest without a request answered (and has no answer
 * waiting), so idle or trickling local clients cannot shut out the host agent; only
 * when every slot has answers waiting is the new client closed at accept. A client
 * that does not read its answers is not read from either.
 *
 * The socket is created mode 0600 and removed by pp_pthi_server_stop. Starting refuses
 * a path that exists and is not a socket, or a socket another process still serves; a
 * stale socket (nobody listening) is replaced. The host interface is local, not
 * network: it serves in every provisioning state (a host agent must be able to read
 * "Pre-Setup, no PID"). */
#ifndef PSKPROV_DEVICE_PTHI_SERVER_H
#define PSKPROV_DEVICE_PTHI_SERVER_H

#include <event2/event.h>

#include "firmware/device.h"
#include "core/err.h"

#define PP_PTHI_SOCKET_NAME "pthi.sock" /* in the device's state directory */
#define PP_PTHI_SERVER_IDLE_S 30        /* a connection with nothing to read or write */
#define PP_PTHI_SERVER_MAX_CONNS 32
#define PP_PTHI_SERVER_BACKLOG 16
/* Answers waiting for a client that does not read; past this the server stops reading
 * its requests until they are written. */
#define PP_PTHI_SERVER_OUT_MAX (4 * 4096)

struct pp_pthi_server;

/* Called on the loop after CFG_StartConfiguration succeeded (the device restarted its
 * hello schedule with pp_amt_start_configuration): the runtime should ask
 * pp_amt_hello_next at once. May be NULL. */
typedef void (*pp_pthi_start_fn)(void *arg);

/* Listens on path (a Unix socket path shorter than 108 bytes) and answers for dev, which
 * stays the caller's and must outlive the server. */
int pp_pthi_server_start(struct event_base *base, const char *path, struct pp_amt_device *dev,
			 pp_pthi_start_fn on_start_configuration, void *arg,
			 struct pp_pthi_server **out, struct pp_err *err) PP_WUR;

/* Closes every connection and the listener, removes the socket file (only when it is
 * still the one this server made) and frees; accepts NULL. */
void pp_pthi_server_stop(struct pp_pthi_server *srv);

/* Connections open now. */
unsigned pp_pthi_server_connections(const struct pp_pthi_server *srv);

#endif
