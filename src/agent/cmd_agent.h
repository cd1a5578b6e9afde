/* The host agent (docs/architecture.md "The flow", step 3; issue "Host agent"): software on the
 * device's host OS that reads the device through the host interface (PTHI over the
 * emulated MEI socket, docs/protocol.md section 5), reports it to the configuration server
 * with POST /api/v1/hello, and tells the device to start configuration.
 *
 * `pskprov agent` is cmd_agent (cli/commands.h). The PTHI client below is also for
 * other commands (the demo) and tests. It blocks, on one transport (the emulated
 * device's socket or the Linux MEI device, agent/transport.h), with a deadline for
 * every exchange; replies are checked like network input (proto/pthi.h). */
#ifndef PSKPROV_AGENT_CMD_AGENT_H
#define PSKPROV_AGENT_CMD_AGENT_H

#include <stdbool.h>
#include <stdint.h>

#include "core/err.h"
#include "keys/keys.h"
#include "proto/pthi.h"

#define PP_AGENT_TIMEOUT_S 10      /* default: one PTHI exchange, one HTTP request */
#define PP_AGENT_TIMEOUT_MAX_S 300 /* --timeout cap */
#define PP_AGENT_RETRIES 5         /* default number of retries when the server is down */
#define PP_AGENT_RETRIES_MAX 20
#define PP_AGENT_BACKOFF_FIRST_MS 1000 /* then doubling ... */
#define PP_AGENT_BACKOFF_MAX_MS 60000  /* ... up to this */
#define PP_AGENT_REPLY_MAX 16384       /* bytes of a server reply the agent reads */
#define PP_AGENT_HELLO_PATH "/api/v1/hello"
#define PP_AGENT_API_PORT 8971 /* the server's API port when --server names none */

#define PP_AGENT_MEI_DEFAULT "/dev/mei0" /* the device when neither --mei nor --device-socket */

/* Where the device's host interface is. */
enum pp_agent_transport_kind {
	PP_AGENT_TRANSPORT_SOCKET, /* the emulated device's DIR/pthi.sock */
	PP_AGENT_TRANSPORT_MEI,    /* the Linux MEI character device, AMTHI client */
};

struct pp_agent_transport {
	enum pp_agent_transport_kind kind;
	const char *path;
};

/* What the device said about itself. */
struct pp_agent_device {
	uint8_t uuid[16]; /* RFC 4122 order */
	uint32_t state;   /* enum pp_pthi_provisioning_state */
	uint32_t tls_mode;
	bool has_pid; /* false when CFG_GetPID was refused (no key) */
	struct pp_pid pid;
	struct pp_pthi_code_versions versions;
};

/* Reads provisioning state, UUID, code versions, TLS mode and PID through transport t,
 * each exchange within timeout_ms. A refused CFG_GetPID leaves has_pid false; any other
 * refusal, a malformed reply or a timeout is an error. */
int pp_agent_query(const struct pp_agent_transport *t, unsigned timeout_ms,
		   struct pp_agent_device *out, struct pp_err *err) PP_WUR;

/* Sends CFG_StartConfiguration. 0 when the device accepted; -PP_ESTATE with the status
 * in *status (and named in err) when it refused. */
int pp_agent_start_configuration(const struct pp_agent_transport *t, unsigned timeout_ms,
				 uint32_t *status, struct pp_err *err) PP_WUR;

#endif
