/* pskprov agent: the host agent (see agent/cmd_agent.h). */
#include "agent/cmd_agent.h"
#include "agent/hostinfo.h"
#include "agent/http.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <signal.h>

#include <sys/un.h>

#include <event2/http.h>

#include "prog/commands.h"

#include "core/clock.h"

#include "core/parse.h"

#include "core/setupstate.h"

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
		"usage: pskprov agent [--mei PATH | --device-socket PATH] --server URL\n"
		"                     [--address IPV4] [--retries N] [--timeout SECONDS]\n"
		"                     [--token-file FILE] [--json]\n\n"
		"The host agent: reads the device's UUID, PID, provisioning state, TLS mode and\n"
		"firmware versions through its host interface (PTHI over the Linux MEI driver,\n"
		"or the emulated device's socket: DIR/"
		"pthi.sock of 'pskprov device run --state DIR'),\n"
		"reports the device to the configuration server (POST /api/v1/hello), then tells\n"
		"the device to start configuration (CFG_StartConfiguration: it sends hellos\n"
		"again and waits for the server's TLS-PSK connection).\n\n"
		"  --mei PATH            the MEI device (default %s when neither this nor\n"
		"                        --device-socket is given)\n"
		"  --device-socket PATH  the emulated device's PTHI socket\n"
		"  --server URL          [http://]IPV4[:PORT][/PATH] on loopback; the port\n"
		"                        defaults to 8971, the path to %s\n"
		"  --address IPV4        the device's management address the server should\n"
		"                        connect to (127.0.0.0/8, one of the host's own);\n"
		"                        default: the IPv4 address of the default route's\n"
		"                        interface (/proc/net/route; nothing is sent)\n"
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
		PP_AGENT_MEI_DEFAULT, PP_AGENT_HELLO_PATH, PP_AGENT_RETRIES, PP_AGENT_RETRIES_MAX,
		PP_AGENT_TIMEOUT_S, PP_AGENT_TIMEOUT_MAX_S);
}

/* What the command line says. */
struct agent_opts {
	const char *sock, *mei, *server, *address, *token_file;
	struct pp_agent_transport transport;
	uint32_t retries, timeout_s;
	bool json;
	struct pp_address url;
	uint8_t addr[4];
};

static const struct option agent_options[] = {{"device-socket", required_argument, NULL, 's'},
					      {"mei", required_argument, NULL, 'm'},
					      {"server", required_argument, NULL, 'S'},
					      {"address", required_argument, NULL, 'a'},
					      {"retries", required_argument, NULL, 'r'},
					      {"timeout", required_argument, NULL, 't'},
					      {"json", no_argument, NULL, 'j'},
					      {"token-file", required_argument, NULL, 'T'},
					      {"help", no_argument, NULL, 'h'},
					      {NULL, 0, NULL, 0}};

/* --mei or --device-socket, else the default MEI device: -1, or a usage error's code. */
static int select_transport(struct agent_opts *o)
{
	if (o->sock && o->mei)
		return pp_usage_error("agent",
				      "--mei and --device-socket are alternatives: give one");
	if (o->sock)
		o->transport = (struct pp_agent_transport){PP_AGENT_TRANSPORT_SOCKET, o->sock};
	else
		o->transport = (struct pp_agent_transport){PP_AGENT_TRANSPORT_MEI,
							   o->mei ? o->mei : PP_AGENT_MEI_DEFAULT};
	return -1;
}

/* -1 to go on; otherwise the exit code (help, or a usage error already reported). */
static int parse_agent_opts(int argc, char **argv, struct agent_opts *o)
{
	struct pp_err err = {0};
	int c;
	memset(o, 0, sizeof(*o));
	o->retries = PP_AGENT_RETRIES;
	o->timeout_s = PP_AGENT_TIMEOUT_S;
	while ((c = pp_getopt(argc, argv, "s:m:S:a:r:t:T:jh", agent_options)) != -1) {
		switch (c) {
		case 'T':
			o->token_file = optarg;
			break;
		case 's':
			o->sock = optarg;
			break;
		case 'm':
			o->mei = optarg;
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
	if ((c = select_transport(o)) >= 0)
		return c;
	if (!o->server)
		return pp_usage_error("agent", "--server is required");
	if (pp_agent_parse_url(o->server, &o->url, &err) < 0 ||
	    (o->address && pp_parse_ipv4(o->address, o->addr, "--address", &err) < 0))
		return pp_usage_error("agent", "%s", err.msg);
	if (o->address && o->addr[0] != 127)
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
static int judge_answer(const struct agent_opts *o, const struct pp_agent_http_result *h, char *why,
			size_t cap)
{
	if (h->code >= 200 && h->code < 300)
		return ANSWER_TAKEN;
	if (h->code >= 400 && h->code < 500 && h->code != 429) {
		pp_agent_reply_error_text(h, why, cap);
		return pp_fail("server refused: %s", why);
	}
	if (h->code != 0 && h->code != 429 && h->code < 500)
		return pp_fail("unexpected answer from the server: HTTP %d", h->code);
	if (h->code == 0 &&
	    (h->error == EVREQ_HTTP_DATA_TOO_LONG || h->error == EVREQ_HTTP_INVALID_HEADER))
		return pp_fail("server at %s: %s", o->url.hostport,
			       pp_agent_http_error_name(h->error));
	if (h->code)
		pp_agent_reply_error_text(h, why, cap);
	else
		snprintf(why, cap, "%s", pp_agent_http_error_name(h->error));
	return ANSWER_RETRY;
}

/* POSTs the hello until the server takes it, retrying with backoff while it is down or
 * busy. -1 and *code (the HTTP status) when accepted; otherwise the exit code. */
static int report_hello(const struct agent_opts *o, const char *body, const char *token,
			struct pp_agent_http_result *h, int *code)
{
	struct pp_err err = {0};
	uint64_t wait = PP_AGENT_BACKOFF_FIRST_MS;
	for (uint32_t attempt = 0;; attempt++) {
		char why[256];
		if (pp_agent_http_post(&o->url, body, token, o->timeout_s, h, &err) < 0)
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
		pp_sleep_ms(wait);
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
			 const char *uuid, const struct pp_agent_hostinfo *host, int code)
{
	if (o->json) {
		json_t *j = device_json(dev, uuid, "started");
		if (j) {
			json_object_set_new(j, "address", json_string(host->addr));
			json_object_set_new(
			    j, "address_source",
			    json_string(host->discovered ? "default route" : "--address"));
			json_object_set_new(j, "interface",
					    host->discovered ? json_string(host->ifname)
							     : json_null());
			json_object_set_new(j, "fqdn",
					    host->fqdn[0] ? json_string(host->fqdn) : json_null());
			json_object_set_new(j, "server_status", json_integer(code));
		}
		return pp_json_print(j);
	}
	char where[PP_FQDN_MAX + 64];
	pp_agent_hostinfo_describe(host, where, sizeof(where));
	print_device(dev, uuid);
	printf("address   %s\n", where);
	printf("server    %s accepted the hello (HTTP %d); the device's address is %s\n",
	       o->url.hostport, code, host->addr);
	printf("started   CFG_StartConfiguration: the device sends hellos and waits for "
	       "the server\n");
	return PP_EXIT_OK;
}

int cmd_agent(struct pp_cli *cli, int argc, char **argv)
{
	struct agent_opts o;
	struct pp_err err = {0};
	/* Wiped on every way out. */
	pp_cleanup(pp_agent_token_wipe) char token[PP_TOKEN_TEXT_LEN + 1] = "";
	(void)cli;
	int rc = parse_agent_opts(argc, argv, &o);
	if (rc >= 0)
		return rc;
	if (o.token_file && pp_agent_read_token_file(o.token_file, token, &err) < 0)
		return pp_fail("--token-file: %s", err.msg);
	/* A server that closes early must not kill the agent. */
	signal(SIGPIPE, SIG_IGN);

	/* 1. Read the device. */
	struct pp_agent_device dev;
	char uuid[37];
	unsigned timeout_ms = o.timeout_s * 1000u;
	if (pp_agent_query(&o.transport, timeout_ms, &dev, &err) < 0)
		return pp_fail("cannot read the device: %s", err.msg);
	pp_uuid_format(dev.uuid, uuid);
	if ((rc = check_device(&o, &dev, uuid)) >= 0)
		return rc;

	/* 2. Report it to the server, at the host's own address. */
	struct pp_agent_hostinfo host;
	if (pp_agent_hostinfo_get(o.address ? o.addr : NULL, &host, &err) < 0)
		return pp_fail("%s", err.msg);
	char *body = hello_body(&dev, uuid, host.addr);
	struct pp_agent_http_result *h = body ? malloc(sizeof(*h)) : NULL;
	int code = 0;
	if (!h)
		rc = pp_fail("out of memory");
	else if ((rc = report_hello(&o, body, token[0] ? token : NULL, h, &code)) < 0) {
		/* 3. Tell the device to start (a new connection: the first may have idled out
		 * while the server was retried). */
		uint32_t status = 0;
		if (pp_agent_start_configuration(&o.transport, timeout_ms, &status, &err) < 0)
			rc = pp_fail("the server accepted the device, but CFG_StartConfiguration "
				     "failed: %s",
				     err.msg);
		else
			rc = print_started(&o, &dev, uuid, &host, code);
	}
	free(body);
	free(h);
	return rc;
}
