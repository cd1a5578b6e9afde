/* pskprov device create|factory-load|usb-boot|run|show|hello-listen: one emulated device
 * with its state on disk (system.md "Device emulator"). The USB step at boot is in
 * usb_boot.c; the console (mebx) in mebx.c. */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/listener.h>

#include "firmware/device.h"
#include "cli/commands.h"
#include "core/parse.h"
#include "core/secret.h"
#include "device/devutil.h"
#include "device/emu.h"
#include "device/mebx.h"
#include "device/pthi_server.h"
#include "device/usb_boot.h"
#include "proto/hello.h"
#include "tls/tls.h"
#include "util/log.h"
#include "wsman/soap.h"

static json_t *jstr_or_null(const char *s)
{
	return s && *s ? json_string(s) : json_null();
}

/* ---- factory-load ---- */

static void factory_usage(FILE *out)
{
	fprintf(
	    out,
	    "usage: pskprov device factory-load --state DIR (--csv FILE | --pskc FILE\n"
	    "            (--transport-key KEYFILE [--key-name NAME] | --passphrase |\n"
	    "             --passphrase-file FILE)) [--pid PID] [--server IPV4[:PORT]]\n\n"
	    "The manufacturer's key load: creates a new device state directory (a fresh\n"
	    "UUID and digest realm) and moves it from Pre-Setup to In-Setup with the PID,\n"
	    "PPS and MEBx password of one key: the one with --pid, or the first. Refuses a\n"
	    "directory that already holds a device; a file that cannot be used leaves no\n"
	    "directory behind.\n"
	    "  --csv              an exported key CSV (pid,pps,mebx_password,batch), mode 0600\n"
	    "  --pskc             an RFC 6030 container from 'keys export --format pskc':\n"
	    "                     read and verified whole (every MAC) before anything is\n"
	    "                     created; a tampered, truncated or wrong-key file is refused\n"
	    "  --transport-key    the container's transport key file (mode 0600)\n"
	    "  --key-name         the ds:KeyName the container must name (default: any)\n"
	    "  --passphrase       read the passphrase from the terminal or standard input\n"
	    "  --passphrase-file  read it from the first line of a file (mode 0600)\n"
	    "  --server           configuration server the device sends hellos to (loopback;\n"
	    "                     port 9971 unless given); 'device run --server' overrides it\n");
}

/* Removes what a failed factory load created: the state file it made, and the
 * directory when it is then empty. */
static void factory_undo(const char *dir, const char *file, bool dir_existed)
{
	if (file)
		unlink(file);
	if (!dir_existed)
		rmdir(dir);
}

static int device_factory_load(struct pp_cli *cli, int argc, char **argv)
{
	static const struct option opts[] = {{"state", required_argument, NULL, 's'},
					     {"csv", required_argument, NULL, 'c'},
					     {"pskc", required_argument, NULL, 'x'},
					     {"transport-key", required_argument, NULL, 'k'},
					     {"key-name", required_argument, NULL, 'n'},
					     {"passphrase", no_argument, NULL, 'a'},
					     {"passphrase-file", required_argument, NULL, 'f'},
					     {"pid", required_argument, NULL, 'p'},
					     {"server", required_argument, NULL, 'S'},
					     {"help", no_argument, NULL, 'h'},
					     {NULL, 0, NULL, 0}};
	const char *dir = NULL, *csv = NULL, *pskc = NULL;
	struct pp_pskc_opts po = {0};
	struct pp_pid want;
	bool have_pid = false, have_server = false, loose = false;
	struct pp_amt_server server = {.port = PP_AMT_DEV_SERVER_PORT};
	struct pp_err err = {0};
	int c;
	(void)cli;
	while ((c = getopt_long(argc, argv, "s:c:x:k:n:af:p:S:h", opts, NULL)) != -1) {
		switch (c) {
		case 's':
			dir = optarg;
			break;
		case 'c':
			csv = optarg;
			break;
		case 'x':
			pskc = optarg;
			break;
		case 'k':
			po.key_file = optarg;
			break;
		case 'n':
			po.key_name = optarg;
			break;
		case 'a':
			po.ask = true;
			break;
		case 'f':
			po.pass_file = optarg;
			break;
		case 'p':
			if (pp_pid_parse(optarg, &want, &err) < 0)
				return pp_usage_error("device factory-load", "--pid: %s", err.msg);
			have_pid = true;
			break;
		case 'S':
			if (pp_dev_parse_loopback_port(optarg, server.ipv4, &server.port,
						       "--server", &err) < 0)
				return pp_usage_error("device factory-load", "%s", err.msg);
			server.has_ipv4 = true;
			have_server = true;
			break;
		case 'h':
			factory_usage(stdout);
			return PP_EXIT_OK;
		default:
			factory_usage(stderr);
			return PP_EXIT_USAGE;
		}
	}
	if (optind != argc)
		return pp_usage_error("device factory-load", "unexpected argument '%.40s'",
				      argv[optind]);
	if (!dir)
		return pp_usage_error("device factory-load", "--state is required");
	if (!csv == !pskc)
		return pp_usage_error("device factory-load",
				      "give exactly one of --csv and --pskc");
	int nprot = !!po.key_file + !!po.ask + !!po.pass_file;
	if (csv && (nprot || po.key_name))
		return pp_usage_error(
		    "device factory-load",
		    "--transport-key, --key-name and --passphrase go with --pskc");
	if (pskc && nprot != 1)
		return pp_usage_error("device factory-load",
				      "--pskc needs one of --transport-key, --passphrase and "
				      "--passphrase-file");
	if (po.key_name && !po.key_file)
		return pp_usage_error("device factory-load",
				      "--key-name goes with --transport-key");

	char file[4096];
	struct stat st;
	int n = snprintf(file, sizeof(file), "%s/%s", dir, PP_AMT_DEV_STATE_FILE);
	if (n < 0 || (size_t)n >= sizeof(file))
		return pp_fail("--state: path too long");
	if (lstat(file, &st) == 0)
		return pp_fail("'%s' already holds a device; not overwriting", dir);
	bool dir_existed = lstat(dir, &st) == 0;

	/* The key first: nothing is created until the whole file has been verified. */
	struct pp_devkey key;
	if (csv) {
		struct pp_devkey *rows = NULL;
		size_t nrows = 0;
		if (pp_devcsv_read(csv, have_pid ? &want : NULL, 1, &rows, &nrows, &loose, &err) <
		    0)
			return pp_fail_err(&err);
		if (loose)
			pp_note("warning: '%s' can be read by group or others; key files should "
				"be mode 0600 (chmod 600)",
				csv);
		key = rows[0];
		pp_devcsv_free(rows, nrows);
	} else if (pp_devpskc_read(pskc, &po, have_pid ? &want : NULL, &key, &err) < 0) {
		return pp_fail_err(&err);
	}

	struct pp_amt_device *dev = NULL;
	int rc = pp_amt_create(dir, NULL, &dev, &err);
	if (rc < 0) {
		pp_wipe(&key, sizeof(key));
		return pp_fail_err(&err);
	}
	rc = pp_amt_load_key(dev, key.pid.s, key.pps.s, key.mebx, have_server ? &server : NULL,
			     &err);
	pp_wipe(&key, sizeof(key));
	if (rc < 0) {
		pp_amt_free(dev);
		factory_undo(dir, file, dir_existed);
		return pp_fail_err(&err);
	}
	uint8_t uuid[16];
	char uuid_s[37], pid_s[PP_PID_TEXT];
	struct pp_pid pid;
	pp_amt_uuid(dev, uuid);
	pp_uuid_format(uuid, uuid_s);
	if (pp_amt_pid(dev, &pid, &err) == 0)
		pp_pid_format(&pid, pid_s);
	else
		snprintf(pid_s, sizeof(pid_s), "-");
	printf("device %s: %s, UUID %s, PID %s\n", dir, pp_amt_state_name(pp_amt_state(dev)),
	       uuid_s, pid_s);
	pp_amt_free(dev);
	return PP_EXIT_OK;
}

/* ---- create: a factory-new device ---- */

/* The options of create, show and usb-boot: --state DIR, --usb FILE (usb-boot only)
 * and --json. Returns true when the caller must return *exit_code at once: help shown,
 * or a usage error (a missing --state or --usb included). */
static bool parse_state_opts(int argc, char **argv, const char *cmd, void (*usage)(FILE *),
			     bool want_usb, const char **dir, const char **usb, bool *json,
			     int *exit_code)
{
	static const struct option opts[] = {{"state", required_argument, NULL, 's'},
					     {"usb", required_argument, NULL, 'u'},
					     {"json", no_argument, NULL, 'j'},
					     {"help", no_argument, NULL, 'h'},
					     {NULL, 0, NULL, 0}};
	int c;
	while ((c = getopt_long(argc, argv, want_usb ? "s:u:jh" : "s:jh", opts, NULL)) != -1) {
		if (c == 's') {
			*dir = optarg;
		} else if (c == 'u' && want_usb) {
			*usb = optarg;
		} else if (c == 'j') {
			*json = true;
		} else if (c == 'h') {
			usage(stdout);
			*exit_code = PP_EXIT_OK;
			return true;
		} else {
			usage(stderr);
			*exit_code = PP_EXIT_USAGE;
			return true;
		}
	}
	if (optind != argc) {
		*exit_code = pp_usage_error(cmd, "unexpected argument '%.40s'", argv[optind]);
		return true;
	}
	if (!*dir || (want_usb && !*usb)) {
		*exit_code = pp_usage_error(cmd, want_usb ? "--state and --usb are required"
							  : "--state is required");
		return true;
	}
	return false;
}

static void create_usage(FILE *out)
{
	fprintf(out, "usage: pskprov device create --state DIR [--json]\n\n"
		     "Creates a factory-new device in DIR (made mode 0700 when missing): a fresh\n"
		     "UUID and digest realm, Pre-Setup, MEBx password 'admin', no key. Refuses\n"
		     "a directory that already holds a device. Give it a key with 'device mebx',\n"
		     "a USB file ('device usb-boot', 'device run --usb') or use 'device\n"
		     "factory-load' instead.\n");
}

static int device_create(struct pp_cli *cli, int argc, char **argv)
{
	const char *dir = NULL, *usb = NULL;
	bool json = false;
	struct pp_err err = {0};
	int ec;
	(void)cli;
	if (parse_state_opts(argc, argv, "device create", create_usage, false, &dir, &usb, &json,
			     &ec))
		return ec;
	struct pp_amt_device *dev = NULL;
	if (pp_amt_create(dir, NULL, &dev, &err) < 0) {
		if (err.code == PP_EEXIST)
			return pp_fail("'%s' already holds a device; not overwriting", dir);
		return pp_fail_err(&err);
	}
	uint8_t uuid[16];
	char uuid_s[37];
	pp_amt_uuid(dev, uuid);
	pp_uuid_format(uuid, uuid_s);
	pp_amt_free(dev);
	if (json)
		return pp_json_print(
		    json_pack("{s:s,s:s,s:s}", "path", dir, "state", "Pre-Setup", "uuid", uuid_s));
	printf("device %s: Pre-Setup, UUID %s (factory new, MEBx password 'admin')\n", dir, uuid_s);
	return PP_EXIT_OK;
}

/* ---- the USB setup file at boot ---- */

/* Prints the result of pp_usb_boot: log lines for `device run`, else notes on stderr.
 * Returns false when the caller should fail (the record stays valid: UNMARKED). */
static bool usb_boot_report(const char *path, const struct pp_usb_boot_result *r, bool log)
{
	char line[1024];
	int n = 0;
	bool ok = true;
	const char *srv = r->has_server ? r->server : "none in the record";
	const char *pid = r->pid[0] ? r->pid : "-";
	switch (r->outcome) {
	case PP_USB_BOOT_APPLIED:
		n = snprintf(line, sizeof(line),
			     "USB: took record %u of '%s' (PID %s, server %s); the record is "
			     "marked used",
			     r->record, path, pid, srv);
		break;
	case PP_USB_BOOT_KEPT:
		n = snprintf(line, sizeof(line),
			     "USB: took record %u of '%s' (PID %s, server %s); do-not-consume "
			     "file: left unchanged",
			     r->record, path, pid, srv);
		break;
	case PP_USB_BOOT_FINISHED:
		n = snprintf(line, sizeof(line),
			     "USB: record %u of '%s' (PID %s) was loaded by a boot cut short; "
			     "marked used now",
			     r->record, path, pid);
		break;
	case PP_USB_BOOT_UNMARKED:
		n = snprintf(line, sizeof(line), "USB: '%s': %s", path, r->note);
		ok = false;
		break;
	case PP_USB_BOOT_IGNORED:
		n = snprintf(line, sizeof(line), "USB: %s", r->note);
		break;
	}
	if (n < 0 || (size_t)n >= sizeof(line))
		snprintf(line, sizeof(line), "USB: %s", pp_usb_boot_outcome_name(r->outcome));
	if (log && ok)
		pp_info("device", "%s", line);
	else if (log)
		pp_warn("device", "%s", line);
	else
		pp_note("%s%s", ok ? "" : "warning: ", line);
	return ok;
}

static void usb_boot_usage(FILE *out)
{
	fprintf(out,
		"usage: pskprov device usb-boot --state DIR --usb FILE [--json]\n\n"
		"The USB step of a boot, alone ('device run --usb' does it before starting):\n"
		"a device whose MEBx password is still 'admin' takes the first unused record\n"
		"of the setup.bin FILE whose current password is 'admin' (new MEBx password,\n"
		"PID, PPS, server, names) and becomes In-Setup; the record is then marked used\n"
		"in place (unless the file says do-not-consume). The device is saved before\n"
		"the file is written: a boot cut short in between leaves the record valid and\n"
		"the device holding it, and the next boot of that device only marks it used.\n"
		"A device that already has a key leaves the file alone. Every refusal (wrong\n"
		"current password, no unused record, corrupted file) changes nothing.\n"
		"Exit 0 when the device took or already had a key, 1 on a refusal.\n");
}

static int device_usb_boot(struct pp_cli *cli, int argc, char **argv)
{
	const char *dir = NULL, *usb = NULL;
	bool json = false;
	struct pp_err err = {0};
	int ec;
	(void)cli;
	if (parse_state_opts(argc, argv, "device usb-boot", usb_boot_usage, true, &dir, &usb, &json,
			     &ec))
		return ec;

	struct pp_amt_device *dev = NULL;
	struct pp_usb_boot_result res;
	if (pp_amt_load(dir, &dev, &err) < 0)
		return pp_fail_err(&err);
	if (pp_usb_boot(dev, usb, &res, &err) < 0) {
		/* Keep the device's audit event of the refusal (memory only until saved). */
		struct pp_err serr = {0};
		if (pp_amt_save(dev, &serr) < 0)
			pp_note("warning: cannot save the device state: %s", serr.msg);
		pp_amt_free(dev);
		return pp_fail_err(&err);
	}
	bool ok = usb_boot_report(usb, &res, false);
	uint8_t uuid[16];
	char uuid_s[37], pid_s[PP_PID_TEXT] = "";
	struct pp_pid pid;
	pp_amt_uuid(dev, uuid);
	pp_uuid_format(uuid, uuid_s);
	if (pp_amt_pid(dev, &pid, NULL) == 0)
		pp_pid_format(&pid, pid_s);
	const char *state = pp_amt_state_name(pp_amt_state(dev));
	int ret = ok ? PP_EXIT_OK : PP_EXIT_FAIL;
	if (json) {
		json_t *o = json_object();
		json_object_set_new(o, "outcome",
				    json_string(pp_usb_boot_outcome_name(res.outcome)));
		json_object_set_new(o, "record",
				    res.record ? json_integer(res.record) : json_null());
		json_object_set_new(o, "record_pid", jstr_or_null(res.pid));
		json_object_set_new(o, "record_server", jstr_or_null(res.server));
		json_object_set_new(o, "note", jstr_or_null(res.note));
		json_object_set_new(o, "state", json_string(state));
		json_object_set_new(o, "uuid", json_string(uuid_s));
		json_object_set_new(o, "pid", jstr_or_null(pid_s));
		if (pp_json_print(o) != PP_EXIT_OK)
			ret = PP_EXIT_FAIL;
	} else {
		printf("device %s: %s, UUID %s, PID %s\n", dir, state, uuid_s,
		       pid_s[0] ? pid_s : "-");
	}
	pp_amt_free(dev);
	return ret;
}

/* ---- run ---- */

static void run_usage(FILE *out)
{
	fprintf(out,
		"usage: pskprov device run --state DIR --address IP [--server IP[:PORT]]\n"
		"            [--usb FILE] [--port N] [--http-port N]\n"
		"            [--profile amt-legacy|tls12|tls13] [--time-scale X]\n"
		"            [--wsman-trace DIR] [--log-level debug|info|warn|error]\n\n"
		"Runs the device in DIR on a loopback address until SIGINT or SIGTERM.\n"
		"In-Setup: sends hellos to the server and serves TLS-PSK (WS-Management with\n"
		"Digest inside) on IP:--port; Provisioned: serves WS-Management with Digest on\n"
		"plain HTTP at IP:--http-port. Always: the host interface (PTHI) on the Unix\n"
		"socket DIR/pthi.sock for a host agent.\n"
		"  --server      where hellos go (default: the server in the device state,\n"
		"                such as the one a USB record set; port 9971 unless given)\n"
		"  --usb         a setup.bin read at boot, before anything starts: a device\n"
		"                still at MEBx password 'admin' takes its next record (see\n"
		"                'device usb-boot --help'); a refusal ends the run (exit 1)\n"
		"  --port        TLS-PSK port (default 16993)\n"
		"  --http-port   HTTP port of a provisioned device (default 16992)\n"
		"  --profile     TLS profile (default tls12)\n"
		"  --time-scale  multiplies the hello retry delays (0.001: a minute is 60 ms)\n"
		"  --wsman-trace DIR  write every WS-Management request the device accepts after\n"
		"                authentication to DIR/NNNNNN-<address>.xml (6-digit sequence per\n"
		"                process, mode 0600, never overwritten), with the text of PPS,\n"
		"                Password, DigestPassword and any *Password* element replaced by\n"
		"                (hidden); for interoperability tests\n"
		"  --log-level   default info\n");
}

struct run_opts {
	const char *dir;
	const char *usb;
	uint8_t addr[4];
	bool have_addr;
	struct pp_emu_env env;
	struct pp_emu_trace trace;
	enum pp_tls_profile profile;
	enum pp_log_level level;
};

/* CFG_StartConfiguration over the host interface restarted the hello schedule. */
static void on_start_configuration(void *arg)
{
	pp_emu_refresh(arg);
}

static void on_signal(evutil_socket_t sig, short what, void *arg)
{
	(void)what;
	pp_info("device", "signal %d: stopping", (int)sig);
	event_base_loopbreak(arg);
}

/* Returns true when the command is over (help, usage error) with *exit_code set. */
#define RUN_USAGE(...)                                                                             \
	do {                                                                                       \
		*exit_code = pp_usage_error("device run", __VA_ARGS__);                            \
		return true;                                                                       \
	} while (0)

static bool parse_run(int argc, char **argv, struct run_opts *o, int *exit_code)
{
	static const struct option opts[] = {{"state", required_argument, NULL, 's'},
					     {"address", required_argument, NULL, 'a'},
					     {"server", required_argument, NULL, 'S'},
					     {"usb", required_argument, NULL, 'u'},
					     {"port", required_argument, NULL, 'p'},
					     {"http-port", required_argument, NULL, 'H'},
					     {"profile", required_argument, NULL, 'P'},
					     {"time-scale", required_argument, NULL, 't'},
					     {"log-level", required_argument, NULL, 'l'},
					     {"wsman-trace", required_argument, NULL, 'W'},
					     {"help", no_argument, NULL, 'h'},
					     {NULL, 0, NULL, 0}};
	struct pp_err err = {0};
	int c;
	while ((c = getopt_long(argc, argv, "s:a:S:u:p:H:P:t:l:W:h", opts, NULL)) != -1) {
		switch (c) {
		case 'W':
			if (pp_dev_trace_dir(optarg, &o->trace, &o->env, &err) < 0)
				RUN_USAGE("%s", err.msg);
			break;
		case 's':
			o->dir = optarg;
			break;
		case 'u':
			o->usb = optarg;
			break;
		case 'a':
			if (pp_dev_parse_loopback(optarg, o->addr, "--address", &err) < 0)
				RUN_USAGE("%s", err.msg);
			o->have_addr = true;
			break;
		case 'S':
			o->env.server_port = PP_HELLO_PORT;
			if (pp_dev_parse_loopback_port(optarg, o->env.server_ip,
						       &o->env.server_port, "--server", &err) < 0)
				RUN_USAGE("%s", err.msg);
			o->env.has_server = true;
			break;
		case 'p':
			if (pp_dev_parse_port(optarg, &o->env.tls_port, "--port", &err) < 0)
				RUN_USAGE("%s", err.msg);
			break;
		case 'H':
			if (pp_dev_parse_port(optarg, &o->env.http_port, "--http-port", &err) < 0)
				RUN_USAGE("%s", err.msg);
			break;
		case 'P':
			if (pp_tls_profile_parse(optarg, &o->profile, &err) < 0)
				RUN_USAGE("--profile: %s", err.msg);
			break;
		case 't':
			if (pp_parse_double(optarg, 1e-6, 1e6, &o->env.time_scale, "--time-scale",
					    &err) < 0)
				RUN_USAGE("%s", err.msg);
			break;
		case 'l':
			if (pp_log_level_parse(optarg, &o->level) < 0)
				RUN_USAGE("--log-level: '%.20s' is not debug, info, "
					  "warn or error",
					  optarg);
			break;
		case 'h':
			run_usage(stdout);
			*exit_code = PP_EXIT_OK;
			return true;
		default:
			run_usage(stderr);
			*exit_code = PP_EXIT_USAGE;
			return true;
		}
	}
	if (optind != argc)
		*exit_code =
		    pp_usage_error("device run", "unexpected argument '%.40s'", argv[optind]);
	else if (!o->dir || !o->have_addr)
		*exit_code = pp_usage_error("device run", "--state and --address are required");
	else if (o->env.tls_port == o->env.http_port)
		*exit_code = pp_usage_error("device run", "--port and --http-port must differ");
	else
		return false;
	return true;
}

#undef RUN_USAGE

static int device_run(struct pp_cli *cli, int argc, char **argv)
{
	struct run_opts o = {
	    .env = {.tls_port = PP_EMU_TLS_PORT, .http_port = PP_EMU_HTTP_PORT, .time_scale = 1.0},
	    .profile = PP_TLS_PROFILE_DEFAULT,
	    .level = PP_LOG_INFO,
	};
	struct pp_err err = {0};
	struct pp_amt_device *dev = NULL;
	struct event_base *base = NULL;
	struct event *sigint = NULL, *sigterm = NULL;
	struct pp_emu *emu = NULL;
	struct pp_pthi_server *pthi = NULL;
	SSL_CTX *ctx = NULL;
	int ret = PP_EXIT_FAIL;
	(void)cli;

	int code = PP_EXIT_OK;
	if (parse_run(argc, argv, &o, &code))
		return code;
	pp_log_init(stderr, o.level);
	signal(SIGPIPE, SIG_IGN);
	pp_wsman_init();

	if (pp_amt_load(o.dir, &dev, &err) < 0)
		return pp_fail_err(&err);
	if (o.usb) {
		/* Boot: the USB setup file before anything starts (protocol.md section 6). */
		struct pp_usb_boot_result res;
		if (pp_usb_boot(dev, o.usb, &res, &err) < 0) {
			pp_fail_err(&err);
			goto out;
		}
		(void)usb_boot_report(o.usb, &res, true);
	}
	if (!(base = event_base_new())) {
		pp_fail("cannot create an event loop");
		goto out;
	}
	if (!(ctx = pp_tls_device_ctx_new(o.profile, &err))) {
		pp_fail_err(&err);
		goto out;
	}
	o.env.base = base;
	o.env.tls_ctx = ctx;
	if (pp_emu_new(&o.env, dev, o.addr, PP_EMU_FAULT_NONE, NULL, &emu, &err) < 0 ||
	    pp_emu_start(emu, &err) < 0) {
		pp_fail_err(&err);
		goto out;
	}
	/* The host interface (protocol.md section 5) for a host agent: DIR/pthi.sock. */
	char sock[4096];
	int sn = snprintf(sock, sizeof(sock), "%s/%s", o.dir, PP_PTHI_SOCKET_NAME);
	if (sn < 0 || (size_t)sn >= sizeof(sock)) {
		pp_fail("--state: path too long");
		goto out;
	}
	if (pp_pthi_server_start(base, sock, dev, on_start_configuration, emu, &pthi, &err) < 0) {
		pp_fail_err(&err);
		goto out;
	}
	sigint = evsignal_new(base, SIGINT, on_signal, base);
	sigterm = evsignal_new(base, SIGTERM, on_signal, base);
	if (!sigint || !sigterm || evsignal_add(sigint, NULL) < 0 ||
	    evsignal_add(sigterm, NULL) < 0) {
		pp_fail("cannot install signal handlers");
		goto out;
	}

	char uuid_s[37], pid_s[PP_PID_TEXT] = "-";
	uint8_t uuid[16];
	struct pp_pid pid;
	pp_amt_uuid(dev, uuid);
	pp_uuid_format(uuid, uuid_s);
	if (pp_amt_pid(dev, &pid, NULL) == 0)
		pp_pid_format(&pid, pid_s);
	enum pp_amt_setup_state st = pp_amt_state(dev);
	const char *name = pp_emu_name(emu);
	if (st == PP_AMT_IN_SETUP)
		pp_info("device", "%s: In-Setup, UUID %s, PID %s; TLS-PSK (%s) on %s:%u", name,
			uuid_s, pid_s, pp_tls_profile_name(o.profile), name, o.env.tls_port);
	else if (st == PP_AMT_POST_SETUP)
		pp_info("device",
			"%s: Post-Setup (provisioned), UUID %s; WS-Management on "
			"http://%s:%u/wsman",
			name, uuid_s, name, o.env.http_port);
	else
		pp_info("device",
			"%s: Pre-Setup, UUID %s: nothing on the network until a key "
			"is loaded",
			name, uuid_s);
	pp_info("device", "%s: serving the host interface on %s", name, sock);

	if (event_base_dispatch(base) < 0) {
		pp_fail("event loop failed");
		goto out;
	}
	ret = PP_EXIT_OK;
out:
	pp_pthi_server_stop(pthi);
	pp_emu_free(emu);
	if (dev && pp_amt_save(dev, &err) < 0) {
		pp_warn("device", "cannot save the device state: %s", err.msg);
		ret = PP_EXIT_FAIL;
	}
	pp_amt_free(dev);
	if (sigint)
		event_free(sigint);
	if (sigterm)
		event_free(sigterm);
	SSL_CTX_free(ctx);
	if (base)
		event_base_free(base);
	if (ret == PP_EXIT_OK)
		pp_info("device", "stopped");
	return ret;
}

/* ---- show ---- */

static void show_usage(FILE *out)
{
	fprintf(out, "usage: pskprov device show --state DIR [--json]\n\n"
		     "Shows the device in DIR: state, UUID, PID, realm, names, server, admin\n"
		     "user, firmware, audit events. Never a secret.\n");
}

static int device_show(struct pp_cli *cli, int argc, char **argv)
{
	const char *dir = NULL, *usb = NULL;
	bool json = false;
	struct pp_err err = {0};
	int ec;
	(void)cli;
	if (parse_state_opts(argc, argv, "device show", show_usage, false, &dir, &usb, &json, &ec))
		return ec;

	struct pp_amt_device *dev = NULL;
	if (pp_amt_load(dir, &dev, &err) < 0)
		return pp_fail_err(&err);

	uint8_t uuid[16];
	char uuid_s[37], pid_s[PP_PID_TEXT] = "", next_s[PP_PID_TEXT] = "", server_s[300] = "";
	struct pp_pid pid;
	struct pp_amt_server srv;
	struct pp_amt_versions v;
	struct pp_amt_general_settings gs = {0};
	enum pp_amt_setup_state st = pp_amt_state(dev);
	pp_amt_uuid(dev, uuid);
	pp_uuid_format(uuid, uuid_s);
	if (pp_amt_pid(dev, &pid, NULL) == 0)
		pp_pid_format(&pid, pid_s);
	if (pp_amt_next_pid(dev, &pid, NULL) == 0)
		pp_pid_format(&pid, next_s);
	pp_amt_server(dev, &srv);
	char ip_s[16] = "";
	if (srv.has_ipv4)
		snprintf(ip_s, sizeof(ip_s), "%u.%u.%u.%u", srv.ipv4[0], srv.ipv4[1], srv.ipv4[2],
			 srv.ipv4[3]);
	if (srv.has_ipv4 || srv.fqdn[0])
		snprintf(server_s, sizeof(server_s), "%s:%u", srv.has_ipv4 ? ip_s : srv.fqdn,
			 srv.port);
	pp_amt_versions(dev, &v);
	/* The names: read from the general settings when the device is on the network. */
	if (st != PP_AMT_PRE_SETUP && pp_amt_get_general_settings(dev, &gs, NULL) < 0)
		memset(&gs, 0, sizeof(gs));
	const char *admin = pp_amt_admin_user(dev);
	size_t naudit = pp_amt_audit_count(dev);

	int ret;
	if (json) {
		json_t *o = json_object();
		json_t *fw = json_object();
		json_t *jsrv = json_object();
		json_t *audit = json_array();
		for (size_t i = 0; i < naudit; i++) {
			struct pp_amt_audit_event ev;
			if (pp_amt_audit_get(dev, i, &ev) < 0)
				break;
			json_array_append_new(
			    audit,
			    json_pack("{s:I,s:s}", "time", (json_int_t)ev.time, "text", ev.text));
		}
		json_object_set_new(fw, "bios", json_string(v.bios));
		json_object_set_new(fw, "amt", json_string(v.amt));
		json_object_set_new(fw, "build", json_string(v.build));
		json_object_set_new(fw, "sku", json_string(v.sku));
		json_object_set_new(jsrv, "ipv4", jstr_or_null(ip_s));
		json_object_set_new(jsrv, "fqdn", jstr_or_null(srv.fqdn));
		json_object_set_new(jsrv, "port", json_integer(srv.port));
		json_object_set_new(o, "path", json_string(pp_amt_path(dev)));
		json_object_set_new(o, "state", json_string(pp_amt_state_name(st)));
		json_object_set_new(o, "provisioning_state", json_integer(st));
		json_object_set_new(o, "provisioning_mode",
				    json_integer(pp_amt_provisioning_mode(dev)));
		json_object_set_new(o, "uuid", json_string(uuid_s));
		json_object_set_new(o, "pid", jstr_or_null(pid_s));
		json_object_set_new(o, "next_pid", jstr_or_null(next_s));
		json_object_set_new(o, "realm", json_string(pp_amt_realm(dev)));
		json_object_set_new(o, "host_name", jstr_or_null(gs.host_name));
		json_object_set_new(o, "domain_name", jstr_or_null(gs.domain_name));
		json_object_set_new(o, "admin_user", jstr_or_null(admin));
		json_object_set_new(o, "mebx_password_factory_default",
				    json_boolean(pp_amt_mebx_is_factory_default(dev)));
		json_object_set_new(o, "server", jsrv);
		json_object_set_new(o, "firmware", fw);
		json_object_set_new(o, "time_offset", json_integer(pp_amt_time_offset(dev)));
		json_object_set_new(o, "audit", audit);
		ret = pp_json_print(o);
	} else {
		printf("path            %s\n", pp_amt_path(dev));
		printf("state           %s\n", pp_amt_state_name(st));
		printf("uuid            %s\n", uuid_s);
		printf("pid             %s\n", pid_s[0] ? pid_s : "-");
		printf("next pid        %s\n", next_s[0] ? next_s : "-");
		printf("realm           %s\n", pp_amt_realm(dev));
		printf("host name       %s\n", gs.host_name[0] ? gs.host_name : "-");
		printf("domain name     %s\n", gs.domain_name[0] ? gs.domain_name : "-");
		printf("admin user      %s\n", admin[0] ? admin : "-");
		printf("mebx password   %s\n",
		       pp_amt_mebx_is_factory_default(dev) ? "factory default" : PP_HIDDEN);
		printf("server          %s\n", server_s[0] ? server_s : "-");
		printf("firmware        AMT %s, build %s, %s\n", v.amt, v.build, v.sku);
		printf("audit events    %zu\n", naudit);
		for (size_t i = 0; i < naudit; i++) {
			struct pp_amt_audit_event ev;
			char when[24];
			if (pp_amt_audit_get(dev, i, &ev) < 0)
				break;
			pp_format_time(ev.time, when);
			printf("  %s  %s\n", when, ev.text);
		}
		ret = PP_EXIT_OK;
	}
	pp_amt_free(dev);
	return ret;
}

/* ---- hello-listen: a hello receiver for tests and troubleshooting ---- */

static void listen_usage(FILE *out)
{
	fprintf(out,
		"usage: pskprov device hello-listen --listen IP[:PORT] [--count N]\n"
		"            [--timeout SECONDS] [--json]\n\n"
		"Receives AMT hellos on a loopback address (port 9971 unless given) and prints\n"
		"one line per hello: sender address, version, RetryCount, UUID, PID. Stops\n"
		"after N hellos (exit 0) or at the timeout (default 10 s; exit 0 when no\n"
		"--count was given, else 1). Nothing is answered: a hello has no reply.\n");
}

#define HL_READ_TIMEOUT_S 2
#define HL_MAX_CONNS 4096

struct hl_conn;

struct hl_state {
	struct event_base *base;
	bool json;
	uint32_t want, got, bad;
	unsigned conns;
	struct hl_conn *head;
};

struct hl_conn {
	struct hl_state *st;
	struct bufferevent *bev;
	struct hl_conn *prev, *next;
	char from[INET_ADDRSTRLEN];
};

static void hl_print(struct hl_state *st, const char *from, const struct pp_hello *h)
{
	char uuid[37];
	pp_uuid_format(h->uuid, uuid);
	if (st->json) {
		json_t *o =
		    json_pack("{s:s,s:i,s:i,s:i,s:s,s:s}", "from", from, "version", (int)h->version,
			      "retry_count", (int)h->retry_count, "admin_credentials_set",
			      (int)h->admin_credentials_set, "uuid", uuid, "pid", h->pid);
		if (o) {
			json_dumpf(o, stdout, JSON_COMPACT | JSON_PRESERVE_ORDER);
			fputc('\n', stdout);
			json_decref(o);
		}
	} else {
		printf("%s v%u retry %u uuid %s pid %s admin %u\n", from, h->version,
		       h->retry_count, uuid, h->pid[0] ? h->pid : "-", h->admin_credentials_set);
	}
	fflush(stdout);
}

static void hl_done(struct hl_conn *c)
{
	struct hl_state *st = c->st;
	if (c->prev)
		c->prev->next = c->next;
	else
		st->head = c->next;
	if (c->next)
		c->next->prev = c->prev;
	st->conns--;
	bufferevent_free(c->bev);
	free(c);
}

static void hl_event(struct bufferevent *bev, short what, void *arg)
{
	struct hl_conn *c = arg;
	struct hl_state *st = c->st;
	if (what & BEV_EVENT_EOF) {
		struct evbuffer *in = bufferevent_get_input(bev);
		size_t len = evbuffer_get_length(in);
		unsigned char *data = evbuffer_pullup(in, (ev_ssize_t)len);
		struct pp_hello h;
		struct pp_err err = {0};
		if (len && data && pp_hello_parse(data, len, &h, &err) == 0) {
			hl_print(st, c->from, &h);
			st->got++;
		} else {
			st->bad++;
			fprintf(stderr, "pskprov: from %s: not a hello (%zu bytes): %s\n", c->from,
				len, err.msg[0] ? err.msg : "empty");
		}
	}
	hl_done(c);
	if (st->want && st->got >= st->want)
		event_base_loopbreak(st->base);
}

static void hl_read(struct bufferevent *bev, void *arg)
{
	struct hl_conn *c = arg;
	if (evbuffer_get_length(bufferevent_get_input(bev)) > PP_HELLO_MAX_LEN) {
		c->st->bad++;
		fprintf(stderr, "pskprov: from %s: more than %d bytes, not a hello\n", c->from,
			PP_HELLO_MAX_LEN);
		hl_done(c);
	}
}

static void hl_accept(struct evconnlistener *l, evutil_socket_t fd, struct sockaddr *sa, int salen,
		      void *arg)
{
	struct hl_state *st = arg;
	(void)l;
	struct hl_conn *c = NULL;
	struct bufferevent *bev = NULL;
	if (st->conns >= HL_MAX_CONNS || !(c = calloc(1, sizeof(*c))) ||
	    !(bev = bufferevent_socket_new(st->base, fd, BEV_OPT_CLOSE_ON_FREE))) {
		free(c);
		evutil_closesocket(fd);
		return;
	}
	c->st = st;
	c->bev = bev;
	c->next = st->head;
	if (st->head)
		st->head->prev = c;
	st->head = c;
	snprintf(c->from, sizeof(c->from), "?");
	if (salen >= (int)sizeof(struct sockaddr_in) && sa->sa_family == AF_INET)
		inet_ntop(AF_INET, &((struct sockaddr_in *)sa)->sin_addr, c->from, sizeof(c->from));
	struct timeval tv = {HL_READ_TIMEOUT_S, 0};
	bufferevent_setcb(bev, hl_read, NULL, hl_event, c);
	bufferevent_set_timeouts(bev, &tv, NULL);
	bufferevent_setwatermark(bev, EV_READ, 0, PP_HELLO_MAX_LEN + 1);
	bufferevent_enable(bev, EV_READ);
	st->conns++;
}

static void hl_timeout(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	event_base_loopbreak(arg);
}

static int device_hello_listen(struct pp_cli *cli, int argc, char **argv)
{
	static const struct option opts[] = {
	    {"listen", required_argument, NULL, 'l'},  {"count", required_argument, NULL, 'n'},
	    {"timeout", required_argument, NULL, 't'}, {"json", no_argument, NULL, 'j'},
	    {"help", no_argument, NULL, 'h'},          {NULL, 0, NULL, 0}};
	struct hl_state st = {0};
	uint8_t ip[4];
	uint16_t port = PP_HELLO_PORT;
	uint32_t timeout = 10;
	bool have_ip = false;
	struct pp_err err = {0};
	int c;
	(void)cli;
	while ((c = getopt_long(argc, argv, "l:n:t:jh", opts, NULL)) != -1) {
		switch (c) {
		case 'l':
			if (pp_dev_parse_loopback_port(optarg, ip, &port, "--listen", &err) < 0)
				return pp_usage_error("device hello-listen", "%s", err.msg);
			have_ip = true;
			break;
		case 'n':
			if (pp_parse_u32(optarg, 1, 1000000, &st.want, "--count", &err) < 0)
				return pp_usage_error("device hello-listen", "%s", err.msg);
			break;
		case 't':
			if (pp_parse_u32(optarg, 1, 86400, &timeout, "--timeout", &err) < 0)
				return pp_usage_error("device hello-listen", "%s", err.msg);
			break;
		case 'j':
			st.json = true;
			break;
		case 'h':
			listen_usage(stdout);
			return PP_EXIT_OK;
		default:
			listen_usage(stderr);
			return PP_EXIT_USAGE;
		}
	}
	if (optind != argc)
		return pp_usage_error("device hello-listen", "unexpected argument '%.40s'",
				      argv[optind]);
	if (!have_ip)
		return pp_usage_error("device hello-listen", "--listen is required");

	signal(SIGPIPE, SIG_IGN);
	struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = htons(port)};
	memcpy(&sin.sin_addr, ip, 4);
	int ret = PP_EXIT_FAIL;
	struct evconnlistener *l = NULL;
	struct event *timer = NULL;
	if (!(st.base = event_base_new()))
		return pp_fail("cannot create an event loop");
	l = evconnlistener_new_bind(st.base, hl_accept, &st,
				    LEV_OPT_CLOSE_ON_FREE | LEV_OPT_CLOSE_ON_EXEC |
					LEV_OPT_REUSEABLE,
				    1024, (struct sockaddr *)&sin, sizeof(sin));
	if (!l) {
		pp_fail("cannot listen on %u.%u.%u.%u:%u: %s", ip[0], ip[1], ip[2], ip[3], port,
			strerror(errno));
		goto out;
	}
	struct timeval tv = {(time_t)timeout, 0};
	if (!(timer = evtimer_new(st.base, hl_timeout, st.base)) || evtimer_add(timer, &tv) < 0) {
		pp_fail("cannot arm the timeout");
		goto out;
	}
	/* Ready: tests wait for this line before they start a sender. */
	fprintf(stderr, "pskprov: listening for hellos on %u.%u.%u.%u:%u\n", ip[0], ip[1], ip[2],
		ip[3], port);
	event_base_dispatch(st.base);
	if (st.want && st.got < st.want)
		pp_fail("timed out after %u s with %u of %u hellos", timeout, st.got, st.want);
	else
		ret = PP_EXIT_OK;
out:
	while (st.head)
		hl_done(st.head);
	if (timer)
		event_free(timer);
	if (l)
		evconnlistener_free(l);
	event_base_free(st.base);
	return ret;
}

int cmd_device(struct pp_cli *cli, int argc, char **argv)
{
	static const struct pp_command table[] = {
	    {"create", device_create, "create a factory-new device (Pre-Setup)"},
	    {"factory-load", device_factory_load, "create a device and load one key (factory)"},
	    {"usb-boot", device_usb_boot, "the USB step of a boot alone (setup.bin)"},
	    {"run", device_run, "run the device on a loopback address"},
	    {"mebx", pp_device_mebx, "the device's keyboard console (MEBx)"},
	    {"show", device_show, "show a device's state (never a secret)"},
	    {"hello-listen", device_hello_listen, "receive and print hellos (tests)"},
	    {NULL, NULL, NULL},
	};
	return pp_dispatch(cli, "device", table, argc, argv);
}
