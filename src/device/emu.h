/* An emulated device on the network: the AMT firmware of lib/firmware put on an event loop
 * (docs/architecture.md "Device emulator"; docs/protocol.md sections 2 to 4). Used by `pskprov
 * device
 * run` (one device) and `pskprov fleet` (thousands of devices, one loop, one thread).
 *
 *   In-Setup    sends AMT hello v2 packets from its own address to the configuration
 *               server on the firmware's retry schedule (times the time scale);
 *               serves TLS-PSK on address:tls_port with its PID as the identity hint,
 *               and WS-Management (HTTP/1.1 POST /wsman, Digest) inside the tunnel.
 *   Post-Setup  no hellos, no TLS-PSK listener; WS-Management with Digest (the admin
 *               account) on plain HTTP at address:http_port.
 *   Pre-Setup   nothing on the network.
 * The runtime follows every state change at once: CommitChanges closes the TLS-PSK
 * listener and opens the HTTP one before its answer leaves; Unprovision goes back.
 *
 * After failed TLS handshakes (a client holding another PPS or PID) the device backs off
 * as lib/firmware says: its TLS-PSK listener is closed (new connections are refused) until
 * the backoff ends.
 *
 * Nothing blocks on the network: connections, hellos and delayed answers are events on
 * the loop, and every wait has a timeout. The one blocking call is the write of the
 * device's own state file by lib/firmware, which makes every change durable before the
 * answer that reports it is sent. */
#ifndef PSKPROV_DEVICE_EMU_H
#define PSKPROV_DEVICE_EMU_H

#include <stdbool.h>
#include <stdint.h>

#include <event2/event.h>
#include <openssl/ssl.h>

#include "device/ws.h"
#include "firmware/device.h"
#include "core/err.h"

#define PP_EMU_TLS_PORT 16993
#define PP_EMU_HTTP_PORT 16992
#define PP_EMU_HELLO_TIMEOUT_MS 5000 /* connect and write of one hello */
#define PP_EMU_HTTP_TIMEOUT_S 30     /* idle HTTP connection, TLS handshake included */
#define PP_EMU_MAX_HANDSHAKES 16     /* TLS handshakes in progress per device */
#define PP_EMU_MAX_CONNS 16          /* HTTP connections with requests, per device */
#define PP_EMU_BACKLOG 64
#define PP_EMU_LATENCY_MAX_MS 60000
#define PP_EMU_DISCONNECT_AT 5 /* the disconnect fault drops the 5th authenticated request */
#define PP_EMU_REBIND_MS 1000  /* retry of a listener that could not be opened */

/* Misbehaviour for tests and load (pskprov fleet --faults). */
enum pp_emu_fault {
	PP_EMU_FAULT_NONE = 0,
	/* The device holds a corrupted PPS (set up by the caller): handshakes fail. The
	 * runtime itself behaves normally. */
	PP_EMU_FAULT_WRONG_KEY,
	/* Never sends a hello and accepts no connection. */
	PP_EMU_FAULT_SILENT,
	/* Closes the connection, without an answer, on its PP_EMU_DISCONNECT_AT-th
	 * authenticated WS-Management request; once. */
	PP_EMU_FAULT_DISCONNECT,
};

enum pp_emu_event {
	PP_EMU_EV_HELLO,            /* a hello was written to the server */
	PP_EMU_EV_HELLO_REFUSED,    /* nothing listens where hellos go (ECONNREFUSED) */
	PP_EMU_EV_HANDSHAKE_OK,     /* a TLS-PSK handshake completed */
	PP_EMU_EV_HANDSHAKE_FAILED, /* the client held another PPS or PID */
	PP_EMU_EV_DISCONNECT,       /* the disconnect fault dropped a connection */
	PP_EMU_EV_STATE,            /* the provisioning state changed (pp_amt_state) */
};

struct pp_emu;
typedef void (*pp_emu_event_fn)(void *arg, struct pp_emu *emu, enum pp_emu_event ev);

/* --wsman-trace DIR: every WS-Management request a device accepts after authentication
 * is written to DIR/NNNNNN-<address>.xml (sequence per process, mode 0600, O_EXCL),
 * secrets hidden (pp_devws_trace_redact). */
struct pp_emu_trace {
	const char *dir;
	unsigned seq;
};

/* Shared by every device of a process; must outlive them. */
struct pp_emu_env {
	struct event_base *base;
	SSL_CTX *tls_ctx; /* pp_tls_device_ctx_new: one per process and profile */
	/* Where hellos go. Without it: the device's configured IPv4 server (loopback only),
	 * else no hellos. */
	bool has_server;
	uint8_t server_ip[4];
	uint16_t server_port;
	uint16_t tls_port;        /* PP_EMU_TLS_PORT */
	uint16_t http_port;       /* PP_EMU_HTTP_PORT */
	double time_scale;        /* > 0; multiplies the hello delays (0.001: a minute is 60 ms) */
	uint32_t latency_ms;      /* added before every HTTP answer; 0..PP_EMU_LATENCY_MAX_MS */
	pp_emu_event_fn on_event; /* may be NULL; never frees the device from inside */
	struct pp_emu_trace *trace;    /* may be NULL: no trace */
	struct pp_devws_work *ws_work; /* pp_devws_work_new; may be NULL: one per request */
};

/* A runtime for dev on addr (127.0.0.0/8 only). dev stays the caller's: free it after
 * pp_emu_free. Nothing happens on the network before pp_emu_start. */
int pp_emu_new(const struct pp_emu_env *env, struct pp_amt_device *dev, const uint8_t addr[4],
	       enum pp_emu_fault fault, void *arg, struct pp_emu **out, struct pp_err *err) PP_WUR;

/* Opens the listeners the device's state calls for and starts the hellos (the first at
 * once). Fails when a listener cannot be opened (e.g. the port is taken). */
int pp_emu_start(struct pp_emu *e, struct pp_err *err) PP_WUR;

/* The device changed outside the runtime (the host interface's CFG_StartConfiguration,
 * a console): re-reads its state, opens or closes listeners to match, and asks for the
 * next hello at once (a restarted schedule sends its first hello now). */
void pp_emu_refresh(struct pp_emu *e);

/* Closes every connection and listener and cancels every event; accepts NULL. */
void pp_emu_free(struct pp_emu *e);

struct pp_amt_device *pp_emu_device(const struct pp_emu *e);
void *pp_emu_arg(const struct pp_emu *e);
/* The device's address, "127.x.y.z". */
const char *pp_emu_name(const struct pp_emu *e);

#endif
