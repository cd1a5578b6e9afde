/* pskprov agent: the host agent (see agent/cmd_agent.h). */
#include "agent/cmd_agent.h"

#include <errno.h>
#include <getopt.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <jansson.h>

#include "prog/cli.h"
#include "prog/commands.h"
#include "core/address.h"
#include "core/bytes.h"
#include "core/clock.h"
#include "core/fileio.h"
#include "core/parse.h"
#include "core/secret.h"
#include "core/setupstate.h"
#include "store/store.h"

/* ---- PTHI client: one socket, a deadline per exchange ---- */

static void sleep_ms(uint64_t ms)
{
	struct timespec ts = {.tv_sec = (time_t)(ms / 1000),
			      .tv_nsec = (long)(ms % 1000) * 1000000L};
	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

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
			sleep_ms(20);
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

/* ---- the server's URL ---- */

/* The server's URL: the one address grammar (core/address.h), on loopback or 0.0.0.0,
 * with a path that defaults to /api/v1/hello; the port defaults to the API's. */
static int parse_url(const char *s, struct pp_address *u, struct pp_err *err)
{
	int rc =
	    pp_address_parse(s, PP_AGENT_API_PORT, PP_ADDR_LOOPBACK | PP_ADDR_ANY_OK | PP_ADDR_PATH,
			     "--server", u, err);
	if (rc == 0 && (!u->path[0] || !strcmp(u->path, "/")))
		snprintf(u->path, sizeof(u->path), "%s", PP_AGENT_HELLO_PATH);
	return rc;
}

/* ---- POST /api/v1/hello ---- */

struct http_result {
	struct event_base *base;
	bool done; /* the request finished (with or without a response) */
	int code;  /* HTTP status; 0 when there was none */
	int error; /* enum evhttp_request_error, -1 when none */
	char reason[64];
	char body[PP_AGENT_REPLY_MAX + 1];
	size_t body_len;
};

static void on_http_error(enum evhttp_request_error e, void *arg)
{
	struct http_result *h = arg;
	h->error = (int)e;
}

static void on_http_done(struct evhttp_request *req, void *arg)
{
	struct http_result *h = arg;
	h->done = true;
	if (req && evhttp_request_get_response_code(req) > 0) {
		struct evbuffer *in = evhttp_request_get_input_buffer(req);
		size_t n = evbuffer_get_length(in);
		if (n > PP_AGENT_REPLY_MAX)
			n = PP_AGENT_REPLY_MAX;
		h->code = evhttp_request_get_response_code(req);
		const char *line = evhttp_request_get_response_code_line(req);
		snprintf(h->reason, sizeof(h->reason), "%s", line ? line : "");
		ev_ssize_t got = evbuffer_copyout(in, h->body, n);
		h->body_len = got > 0 ? (size_t)got : 0;
		h->body[h->body_len] = '\0';
	}
	event_base_loopexit(h->base, NULL);
}

static void on_guard(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	event_base_loopexit(arg, NULL);
}

static const char *http_error_name(int e)
{
	switch (e) {
	case EVREQ_HTTP_TIMEOUT:
		return "timed out";
	case EVREQ_HTTP_EOF:
		return "connection closed";
	case EVREQ_HTTP_INVALID_HEADER:
		return "malformed reply";
	case EVREQ_HTTP_BUFFER_ERROR:
		return "connection error";
	case EVREQ_HTTP_DATA_TOO_LONG:
		return "reply too long";
	default:
		return "cannot connect";
	}
}

/* One POST, bounded by timeout_s (libevent's connection timeout, and a guard timer on
 * the loop in case a callback never comes). */
static int http_post(const struct pp_address *u, const char *body, const char *token,
		     unsigned timeout_s, struct http_result *h, struct pp_err *err)
{
	char auth[PP_TOKEN_TEXT_LEN + 16];
	struct evhttp_connection *conn = NULL;
	struct evhttp_request *req = NULL;
	struct event *guard = NULL;
	int rc = 0;

	memset(h, 0, sizeof(*h));
	h->error = -1;
	h->base = event_base_new();
	if (!h->base)
		return pp_err_set(err, PP_ENOMEM, "cannot make an event loop");
	conn = evhttp_connection_base_new(h->base, NULL, u->host, u->port);
	req = conn ? evhttp_request_new(on_http_done, h) : NULL;
	guard = evtimer_new(h->base, on_guard, h->base);
	if (!conn || !req || !guard) {
		if (req)
			evhttp_request_free(req);
		rc = pp_err_set(err, PP_ENOMEM, "cannot make an HTTP request");
		goto out;
	}
	evhttp_connection_set_timeout(conn, (int)timeout_s);
	evhttp_connection_set_retries(conn, 0);
	evhttp_connection_set_max_headers_size(conn, 8192);
	evhttp_connection_set_max_body_size(conn, PP_AGENT_REPLY_MAX);
	evhttp_request_set_error_cb(req, on_http_error);
	struct evkeyvalq *hdr = evhttp_request_get_output_headers(req);
	if (evhttp_add_header(hdr, "Host", u->hostport) < 0 ||
	    evhttp_add_header(hdr, "Content-Type", "application/json") < 0 ||
	    evhttp_add_header(hdr, "Accept", "application/json") < 0 ||
	    evhttp_add_header(hdr, "Connection", "close") < 0 ||
	    (token && (snprintf(auth, sizeof(auth), "Bearer %s", token) < 0 ||
		       evhttp_add_header(hdr, "Authorization", auth) < 0)) ||
	    evbuffer_add(evhttp_request_get_output_buffer(req), body, strlen(body)) < 0) {
		evhttp_request_free(req);
		rc = pp_err_set(err, PP_ENOMEM, "cannot make an HTTP request");
		goto out;
	}
	/* On failure evhttp_make_request frees req itself. */
	if (evhttp_make_request(conn, req, EVHTTP_REQ_POST, u->path) < 0) {
		rc = pp_err_set(err, PP_EIO, "cannot send the request to %s", u->hostport);
		goto out;
	}
	struct timeval tv = {.tv_sec = (time_t)timeout_s + 2};
	evtimer_add(guard, &tv);
	event_base_dispatch(h->base);
	if (!h->done)
		h->error = EVREQ_HTTP_TIMEOUT;
out:
	if (guard)
		event_free(guard);
	if (conn)
		evhttp_connection_free(conn); /* frees a request still pending */
	event_base_free(h->base);
	h->base = NULL;
	pp_wipe(auth, sizeof(auth));
	return rc;
}

static void wipe_token(char (*t)[PP_TOKEN_TEXT_LEN + 1])
{
	pp_wipe(*t, sizeof(*t));
}

/* The API token for the hello: the first line of a file only its owner may read (a
 * `pskprov token create --role agent --out FILE`, or api.token). Never from argv. */
static int read_token_file(const char *path, char out[PP_TOKEN_TEXT_LEN + 1], struct pp_err *err)
{
	struct pp_buf b;
	pp_buf_init(&b, 256);
	int rc = pp_file_check_private(path, err);
	if (rc == 0)
		rc = pp_file_read(path, 256, &b, err);
	if (rc == 0) {
		size_t n = b.len;
		while (n > 0 && (b.data[n - 1] == '\n' || b.data[n - 1] == '\r'))
			n--;
		if (n > PP_TOKEN_TEXT_LEN)
			n = PP_TOKEN_TEXT_LEN + 1; /* too long: refused below */
		char tok[PP_TOKEN_TEXT_LEN + 2];
		memcpy(tok, b.data, n < sizeof(tok) ? n : sizeof(tok) - 1);
		tok[n < sizeof(tok) ? n : sizeof(tok) - 1] = '\0';
		bool hex64 = strlen(tok) == 64 && strspn(tok, "0123456789abcdef") == 64;
		if (!pp_token_well_formed(tok) && !hex64)
			rc = pp_err_set(err, PP_EINVAL,
					"%s: not an API token (ppt_ and 64 hex digits)", path);
		else
			memcpy(out, tok, strlen(tok) + 1);
		pp_wipe(tok, sizeof(tok));
	}
	pp_buf_free_wipe(&b);
	return rc;
}

/* The "error" text of the server's JSON reply, printable and short. */
static void reply_error_text(const struct http_result *h, char *out, size_t cap)
{
	json_t *j = json_loadb(h->body, h->body_len, 0, NULL);
	const char *msg = NULL;
	if (j && json_is_object(j))
		msg = json_string_value(json_object_get(j, "error"));
	if (!msg || !msg[0])
		snprintf(out, cap, "HTTP %d %s", h->code, h->reason);
	else
		snprintf(out, cap, "%s", msg);
	json_decref(j);
	for (char *p = out; *p; p++)
		if ((unsigned char)*p < 0x20 || (unsigned char)*p > 0x7e)
			*p = '?';
	if (strlen(out) > 200)
		memcpy(out + 197, "...", 4);
}

/* ---- the command ---- */

static const char *tls_mode_name(uint32_t m)
{
	return m == PP_PTHI_TLS_PSK ? "PSK" : m == PP_PTHI_TLS_PKI ? "PKI" : "?";
}

static json_t *versions_json(const struct pp_pthi_code_versions *cv)
{
	json_t *o = json_object(), *table = json_object();
	if (!o || !table) {
		json_decref(o);
		json_decref(table);
		return NULL;
	}
	for (uint32_t i = 0; i < cv->count; i++)
		json_object_set_new(table, cv->versions[i].description,
				    json_string(cv->versions[i].version));
	json_object_set_new(o, "bios", json_string(cv->bios));
	json_object_set_new(o, "table", table);
	return o;
}

static void print_device(const struct pp_agent_device *d, const char *uuid)
{
	char pid[PP_PID_TEXT];
	if (d->has_pid)
		pp_pid_format(&d->pid, pid);
	printf("device    %s\n", uuid);
	printf("state     %s\n", pp_setup_state_name(d->state));
	printf("pid       %s\n", d->has_pid ? pid : "(none)");
	printf("tls mode  %s\n", tls_mode_name(d->tls_mode));
	printf("firmware ");
	for (uint32_t i = 0; i < d->versions.count; i++)
		printf(" %s %s%s", d->versions.versions[i].description,
		       d->versions.versions[i].version, i + 1 < d->versions.count ? "," : "");
	printf("; BIOS %s\n", d->versions.bios);
}

static json_t *device_json(const struct pp_agent_device *d, const char *uuid, const char *result)
{
	char pid[PP_PID_TEXT];
	if (d->has_pid)
		pp_pid_format(&d->pid, pid);
	return json_pack("{s:s,s:s,s:o,s:s,s:s,s:o}", "result", result, "uuid", uuid, "pid",
			 d->has_pid ? json_string(pid) : json_null(), "state",
			 pp_setup_state_name(d->state), "tls_mode", tls_mode_name(d->tls_mode),
			 "firmware", versions_json(&d->versions));
}

static void usage(FILE *out)
{
	fprintf(out,
		"usage: pskprov agent --device-socket PATH --server URL --address IPV4\n"
		"                     [--retries N] [--timeout SECONDS] [--token-file FILE]\n"
		"                     [--json]\n\n"
		"The host agent: reads the device's UUID, PID, provisioning state, TLS mode and\n"
		"firmware versions through its host interface (PTHI over the emulated MEI\n"
		"socket, e.g. DIR/"
		"pthi.sock of 'pskprov device run --state DIR'), reports the\n"
		"device to the configuration server (POST /api/v1/hello), then tells the device\n"
		"to start configuration (CFG_StartConfiguration: it sends hellos again and\n"
		"waits for the server's TLS-PSK connection).\n\n"
		"  --device-socket PATH  the device's PTHI socket\n"
		"  --server URL          [http://]IPV4[:PORT][/PATH] on loopback; the port\n"
		"                        defaults to 8971, the path to %s\n"
		"  --address IPV4        the device's management address the server should\n"
		"                        connect to (127.0.0.0/8)\n"
		"  --retries N           retries while the server is down or busy, waiting 1 s,\n"
		"                        then doubling (default %d, at most %d)\n"
		"  --timeout SECONDS     for each exchange with the device and each HTTP request\n"
		"                        (default %d, at most %d)\n"
		"  --token-file FILE     API token for the hello (Authorization: Bearer), the\n"
		"                        first line of FILE, which must be mode 0600 or\n"
		"                        stricter ('pskprov token create --role agent --out')\n"
		"  --json                print the result as JSON\n\n"
		"Exit status: 0 when the device was reported and started (or is already\n"
		"provisioned), 1 on failure (no PID, not PSK, server refused or unreachable),\n"
		"2 on bad usage.\n",
		PP_AGENT_HELLO_PATH, PP_AGENT_RETRIES, PP_AGENT_RETRIES_MAX, PP_AGENT_TIMEOUT_S,
		PP_AGENT_TIMEOUT_MAX_S);
}

/* What the command line says. */
struct agent_opts {
	const char *sock, *server, *address, *token_file;
	uint32_t retries, timeout_s;
	bool json;
	struct pp_address url;
	uint8_t addr[4];
};

/* -1 to go on; otherwise the exit code (help, or a usage error already reported). */
static int parse_agent_opts(int argc, char **argv, struct agent_opts *o)
{
	static const struct option opts[] = {{"device-socket", required_argument, NULL, 's'},
					     {"server", required_argument, NULL, 'S'},
					     {"address", required_argument, NULL, 'a'},
					     {"retries", required_argument, NULL, 'r'},
					     {"timeout", required_argument, NULL, 't'},
					     {"json", no_argument, NULL, 'j'},
					     {"token-file", required_argument, NULL, 'T'},
					     {"help", no_argument, NULL, 'h'},
					     {NULL, 0, NULL, 0}};
	struct pp_err err = {0};
	int c;
	memset(o, 0, sizeof(*o));
	o->retries = PP_AGENT_RETRIES;
	o->timeout_s = PP_AGENT_TIMEOUT_S;
	while ((c = pp_getopt(argc, argv, "s:S:a:r:t:T:jh", opts)) != -1) {
		switch (c) {
		case 'T':
			o->token_file = optarg;
			break;
		case 's':
			o->sock = optarg;
			break;
		case 'S':
			o->server = optarg;
			break;
		case 'a':
			o->address = optarg;
			break;
		case 'r':
			if (pp_parse_u32(optarg, 0, PP_AGENT_RETRIES_MAX, &o->retries, "--retries",
					 &err) < 0)
				return pp_usage_error("agent", "%s", err.msg);
			break;
		case 't':
			if (pp_parse_u32(optarg, 1, PP_AGENT_TIMEOUT_MAX_S, &o->timeout_s,
					 "--timeout", &err) < 0)
				return pp_usage_error("agent", "%s", err.msg);
			break;
		case 'j':
			o->json = true;
			break;
		case 'h':
			usage(stdout);
			return PP_EXIT_OK;
		default: /* pp_getopt said what was wrong */
			return PP_EXIT_USAGE;
		}
	}
	if (optind < argc)
		return pp_usage_error("agent", "unexpected argument '%.40s'", argv[optind]);
	if (!o->sock || !o->server || !o->address)
		return pp_usage_error("agent",
				      "--device-socket, --server and --address are required");
	if (parse_url(o->server, &o->url, &err) < 0 ||
	    pp_parse_ipv4(o->address, o->addr, "--address", &err) < 0)
		return pp_usage_error("agent", "%s", err.msg);
	if (o->addr[0] != 127)
		return pp_usage_error(
		    "agent", "--address %s is not a loopback address (127.0.0.0/8)", o->address);
	return -1;
}

/* Whether the device can be set up by PSK now: -1 to go on, or the exit code (already
 * provisioned: reported, 0; no key or not PSK: a failure). */
static int check_device(const struct agent_opts *o, const struct pp_agent_device *dev,
			const char *uuid)
{
	if (dev->state == PP_PTHI_STATE_POST) {
		if (o->json)
			return pp_json_print(device_json(dev, uuid, "already-provisioned"));
		print_device(dev, uuid);
		printf("device is already provisioned: nothing to do\n");
		return PP_EXIT_OK;
	}
	if (!dev->has_pid || dev->state == PP_PTHI_STATE_PRE)
		return pp_fail(
		    "the device has no PID: give it a key first (console, USB or factory "
		    "load)");
	if (dev->tls_mode != PP_PTHI_TLS_PSK)
		return pp_fail("the device is set up for %s (certificate-based) configuration, not "
			       "PSK: pskprov configures PSK devices only",
			       tls_mode_name(dev->tls_mode));
	return -1;
}

enum { ANSWER_TAKEN = -1, ANSWER_RETRY = -2 };

/* One answer of the server: ANSWER_TAKEN, ANSWER_RETRY (why says what), or the exit
 * code of a failure already reported. */
static int judge_answer(const struct agent_opts *o, const struct http_result *h, char *why,
			size_t cap)
{
	if (h->code >= 200 && h->code < 300)
		return ANSWER_TAKEN;
	if (h->code >= 400 && h->code < 500 && h->code != 429) {
		reply_error_text(h, why, cap);
		return pp_fail("server refused: %s", why);
	}
	if (h->code != 0 && h->code != 429 && h->code < 500)
		return pp_fail("unexpected answer from the server: HTTP %d", h->code);
	if (h->code == 0 &&
	    (h->error == EVREQ_HTTP_DATA_TOO_LONG || h->error == EVREQ_HTTP_INVALID_HEADER))
		return pp_fail("server at %s: %s", o->url.hostport, http_error_name(h->error));
	if (h->code)
		reply_error_text(h, why, cap);
	else
		snprintf(why, cap, "%s", http_error_name(h->error));
	return ANSWER_RETRY;
}

/* POSTs the hello until the server takes it, retrying with backoff while it is down or
 * busy. -1 and *code (the HTTP status) when accepted; otherwise the exit code. */
static int report_hello(const struct agent_opts *o, const char *body, const char *token,
			struct http_result *h, int *code)
{
	struct pp_err err = {0};
	uint64_t wait = PP_AGENT_BACKOFF_FIRST_MS;
	for (uint32_t attempt = 0;; attempt++) {
		char why[256];
		if (http_post(&o->url, body, token, o->timeout_s, h, &err) < 0)
			return pp_fail("%s", err.msg);
		int v = judge_answer(o, h, why, sizeof(why));
		if (v == ANSWER_TAKEN)
			break;
		if (v != ANSWER_RETRY)
			return v;
		if (attempt >= o->retries)
			return pp_fail("server at %s not reachable (%s) after %u attempt%s",
				       o->url.hostport, why, attempt + 1, attempt ? "s" : "");
		pp_note("server at %s not reachable (%s); retrying in %llu s (attempt %u of %u)",
			o->url.hostport, why, (unsigned long long)(wait / 1000), attempt + 2,
			o->retries + 1);
		sleep_ms(wait);
		wait = wait * 2 > PP_AGENT_BACKOFF_MAX_MS ? PP_AGENT_BACKOFF_MAX_MS : wait * 2;
	}
	*code = h->code;
	return -1;
}

/* The hello's JSON body: {"uuid", "pid", "address"}. NULL when out of memory. */
static char *hello_body(const struct pp_agent_device *dev, const char *uuid, const char *addr_s)
{
	char pid[PP_PID_TEXT];
	pp_pid_format(&dev->pid, pid);
	json_t *hello = json_pack("{s:s,s:s,s:s}", "uuid", uuid, "pid", pid, "address", addr_s);
	char *body = hello ? json_dumps(hello, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
	json_decref(hello);
	return body;
}

static int print_started(const struct agent_opts *o, const struct pp_agent_device *dev,
			 const char *uuid, const char *addr_s, int code)
{
	if (o->json) {
		json_t *j = device_json(dev, uuid, "started");
		if (j) {
			json_object_set_new(j, "address", json_string(addr_s));
			json_object_set_new(j, "server_status", json_integer(code));
		}
		return pp_json_print(j);
	}
	print_device(dev, uuid);
	printf("server    %s accepted the hello (HTTP %d); the device's address is %s\n",
	       o->url.hostport, code, addr_s);
	printf("started   CFG_StartConfiguration: the device sends hellos and waits for "
	       "the server\n");
	return PP_EXIT_OK;
}

int cmd_agent(struct pp_cli *cli, int argc, char **argv)
{
	struct agent_opts o;
	struct pp_err err = {0};
	/* Wiped on every way out. */
	pp_cleanup(wipe_token) char token[PP_TOKEN_TEXT_LEN + 1] = "";
	(void)cli;
	int rc = parse_agent_opts(argc, argv, &o);
	if (rc >= 0)
		return rc;
	if (o.token_file && read_token_file(o.token_file, token, &err) < 0)
		return pp_fail("--token-file: %s", err.msg);
	/* A server that closes early must not kill the agent. */
	signal(SIGPIPE, SIG_IGN);

	/* 1. Read the device. */
	struct pp_agent_device dev;
	char uuid[37], addr_s[16];
	unsigned timeout_ms = o.timeout_s * 1000u;
	if (pp_agent_query(o.sock, timeout_ms, &dev, &err) < 0)
		return pp_fail("cannot read the device: %s", err.msg);
	pp_uuid_format(dev.uuid, uuid);
	if ((rc = check_device(&o, &dev, uuid)) >= 0)
		return rc;

	/* 2. Report it to the server. */
	snprintf(addr_s, sizeof(addr_s), "%u.%u.%u.%u", o.addr[0], o.addr[1], o.addr[2], o.addr[3]);
	char *body = hello_body(&dev, uuid, addr_s);
	struct http_result *h = body ? malloc(sizeof(*h)) : NULL;
	int code = 0;
	if (!h)
		rc = pp_fail("out of memory");
	else if ((rc = report_hello(&o, body, token[0] ? token : NULL, h, &code)) < 0) {
		/* 3. Tell the device to start (a new connection: the first may have idled out
		 * while the server was retried). */
		uint32_t status = 0;
		if (pp_agent_start_configuration(o.sock, timeout_ms, &status, &err) < 0)
			rc = pp_fail("the server accepted the device, but CFG_StartConfiguration "
				     "failed: %s",
				     err.msg);
		else
			rc = print_started(&o, &dev, uuid, addr_s, code);
	}
	free(body);
	free(h);
	return rc;
}
