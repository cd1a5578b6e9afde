/* pskprov device create|factory-load|usb-boot|run|show|hello-listen: one emulated device
 * with its state on disk (docs/architecture.md "Device emulator"). The USB step at boot is in
 * usb_boot.c; the console (mebx) in mebx.c. */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <signal.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/listener.h>

#include "firmware/device.h"
#include "prog/commands.h"
#include "core/setupstate.h"
#include "core/parse.h"
#include "core/secret.h"
#include "device/devutil.h"
#include "device/emu.h"
#include "device/mebx.h"
#include "device/pthi_server.h"
#include "device/usb_boot.h"
#include "proto/hello.h"
#include "tls/tls.h"
#include "prog/log.h"
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
	    "usage: pskprov device factory-load --state-dir DIR (--csv FILE | --pskc FILE\n"
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

struct factory_opts {
	const char *dir, *csv, *pskc;
	struct pp_pskc_opts po;
	struct pp_pid want;
	bool have_pid;
	struct pp_amt_server server; /* has_ipv4: --server given */
};

static int factory_set_pid(void *opts, const char *value, struct pp_err *err)
{
	struct factory_opts *o = opts;
	struct pp_err perr = {0};
	if (pp_pid_parse(value, &o->want, &perr) < 0)
		return pp_err_set(err, PP_EINVAL, "--pid: %s", perr.msg);
	o->have_pid = true;
	return 0;
}

static int factory_set_server(void *opts, const char *value, struct pp_err *err)
{
	struct factory_opts *o = opts;
	int rc =
	    pp_dev_parse_loopback_port(value, o->server.ipv4, &o->server.port, "--server", err);
	o->server.has_ipv4 = rc == 0;
	return rc;
}

#define FO(field) offsetof(struct factory_opts, field)
static const struct pp_dev_opt factory_opt_table[] = {
    {"state-dir", 's', PP_DEV_OPT_STRING, FO(dir), NULL},
    {"csv", 'c', PP_DEV_OPT_STRING, FO(csv), NULL},
    {"pskc", 'x', PP_DEV_OPT_STRING, FO(pskc), NULL},
    {"transport-key", 'k', PP_DEV_OPT_STRING, FO(po.key_file), NULL},
    {"key-name", 'n', PP_DEV_OPT_STRING, FO(po.key_name), NULL},
    {"passphrase", 'a', PP_DEV_OPT_FLAG, FO(po.ask), NULL},
    {"passphrase-file", 'f', PP_DEV_OPT_STRING, FO(po.pass_file), NULL},
    {"pid", 'p', PP_DEV_OPT_VALUE, 0, factory_set_pid},
    {"server", 'S', PP_DEV_OPT_VALUE, 0, factory_set_server},
};
#undef FO

/* Which options go together: NULL when they do, else why not. */
static const char *factory_opts_conflict(const struct factory_opts *o)
{
	int nprot = !!o->po.key_file + !!o->po.ask + !!o->po.pass_file;
	if (!o->dir)
		return "--state-dir is required";
	if (!o->csv == !o->pskc)
		return "give exactly one of --csv and --pskc";
	if (o->csv && (nprot || o->po.key_name))
		return "--transport-key, --key-name and --passphrase go with --pskc";
	if (o->pskc && nprot != 1)
		return "--pskc needs one of --transport-key, --passphrase and --passphrase-file";
	if (o->po.key_name && !o->po.key_file)
		return "--key-name goes with --transport-key";
	return NULL;
}

static bool parse_factory(int argc, char **argv, struct factory_opts *o, int *exit_code)
{
	if (pp_dev_getopt(argc, argv, "device factory-load", factory_opt_table,
			  PP_DEV_NOPTS(factory_opt_table), o, factory_usage, exit_code))
		return true;
	const char *why = factory_opts_conflict(o);
	if (!why)
		return false;
	*exit_code = pp_usage_error("device factory-load", "%s", why);
	return true;
}

/* The key first: nothing is created until the whole file has been verified. */
static int factory_read_key(const struct factory_opts *o, struct pp_devkey *key, struct pp_err *err)
{
	const struct pp_pid *want = o->have_pid ? &o->want : NULL;
	if (o->pskc)
		return pp_devpskc_read(o->pskc, &o->po, want, key, err);
	pp_cleanup(pp_devcsv_freep) struct pp_devcsv rows = {0};
	int rc = pp_devcsv_load(o->csv, want, 1, &rows.rows, &rows.n, err);
	if (rc == 0)
		*key = rows.rows[0];
	return rc;
}

/* "device DIR: STATE, UUID U, PID P" */
static void print_device_line(const char *dir, const struct pp_amt_device *dev)
{
	char uuid_s[37], pid_s[PP_PID_TEXT];
	pp_dev_ids(dev, uuid_s, pid_s);
	printf("device %s: %s, UUID %s, PID %s\n", dir, pp_amt_state_name(pp_amt_state(dev)),
	       uuid_s, pid_s[0] ? pid_s : "-");
}

/* Creates the device in o->dir and loads the key; a failure leaves nothing behind. */
static int factory_create(const struct factory_opts *o, const struct pp_devkey *key,
			  const char *file, bool dir_existed, struct pp_err *err)
{
	pp_cleanup(pp_amt_freep) struct pp_amt_device *dev = NULL;
	int rc = pp_amt_create(o->dir, NULL, &dev, err);
	if (rc < 0)
		return rc;
	rc = pp_amt_load_key(dev, key->pid.s, key->pps.s, key->mebx,
			     o->server.has_ipv4 ? &o->server : NULL, err);
	if (rc < 0)
		factory_undo(o->dir, file, dir_existed);
	else
		print_device_line(o->dir, dev);
	return rc;
}

static int device_factory_load(struct pp_cli *cli, int argc, char **argv)
{
	struct factory_opts o = {.server = {.port = PP_AMT_DEV_SERVER_PORT}};
	struct pp_err err = {0};
	pp_cleanup(pp_devkey_wipe) struct pp_devkey key = {0};
	char file[4096];
	struct stat st;
	int code = PP_EXIT_OK;
	(void)cli;
	if (parse_factory(argc, argv, &o, &code))
		return code;
	if (pp_dev_state_file(o.dir, file, sizeof(file)) < 0)
		return pp_fail("--state: path too long");
	if (lstat(file, &st) == 0)
		return pp_fail("'%s' already holds a device; not overwriting", o.dir);
	bool dir_existed = lstat(o.dir, &st) == 0;
	if (factory_read_key(&o, &key, &err) < 0 ||
	    factory_create(&o, &key, file, dir_existed, &err) < 0)
		return pp_fail_err(&err);
	return PP_EXIT_OK;
}

/* ---- create: a factory-new device ---- */

/* The options of create, show and usb-boot: --state-dir DIR, --json, and --usb FILE
 * (usb-boot only: the table's last entry). */
struct state_opts {
	const char *dir, *usb;
	bool json;
};

#define SO(field) offsetof(struct state_opts, field)
static const struct pp_dev_opt state_opt_table[] = {
    {"state-dir", 's', PP_DEV_OPT_STRING, SO(dir), NULL},
    {"json", 'j', PP_DEV_OPT_FLAG, SO(json), NULL},
    {"usb", 'u', PP_DEV_OPT_STRING, SO(usb), NULL},
};
#undef SO

/* Returns true when the caller must return *exit_code at once: help shown, or a usage
 * error (a missing --state-dir or --usb included). */
static bool parse_state_opts(int argc, char **argv, const char *cmd, void (*usage)(FILE *),
			     bool want_usb, struct state_opts *o, int *exit_code)
{
	size_t n = PP_DEV_NOPTS(state_opt_table) - (want_usb ? 0 : 1);
	if (pp_dev_getopt(argc, argv, cmd, state_opt_table, n, o, usage, exit_code))
		return true;
	if (o->dir && (!want_usb || o->usb))
		return false;
	*exit_code = pp_usage_error(cmd, want_usb ? "--state-dir and --usb are required"
						  : "--state-dir is required");
	return true;
}

static void create_usage(FILE *out)
{
	fprintf(out, "usage: pskprov device create --state-dir DIR [--json]\n\n"
		     "Creates a factory-new device in DIR (made mode 0700 when missing): a fresh\n"
		     "UUID and digest realm, Pre-Setup, MEBx password 'admin', no key. Refuses\n"
		     "a directory that already holds a device. Give it a key with 'device mebx',\n"
		     "a USB file ('device usb-boot', 'device run --usb') or use 'device\n"
		     "factory-load' instead.\n");
}

static int device_create(struct pp_cli *cli, int argc, char **argv)
{
	struct state_opts o = {0};
	struct pp_err err = {0};
	pp_cleanup(pp_amt_freep) struct pp_amt_device *dev = NULL;
	char uuid_s[37], pid_s[PP_PID_TEXT];
	int ec;
	(void)cli;
	if (parse_state_opts(argc, argv, "device create", create_usage, false, &o, &ec))
		return ec;
	if (pp_amt_create(o.dir, NULL, &dev, &err) < 0) {
		if (err.code == PP_EEXIST)
			return pp_fail("'%s' already holds a device; not overwriting", o.dir);
		return pp_fail_err(&err);
	}
	pp_dev_ids(dev, uuid_s, pid_s);
	if (o.json)
		return pp_json_print(json_pack("{s:s,s:s,s:s}", "path", o.dir, "state",
					       PP_SETUP_STATE_PRE_NAME, "uuid", uuid_s));
	printf("device %s: Pre-Setup, UUID %s (factory new, MEBx password 'admin')\n", o.dir,
	       uuid_s);
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
		"usage: pskprov device usb-boot --state-dir DIR --usb FILE [--json]\n\n"
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

static int usb_boot_print_json(const struct pp_amt_device *dev,
			       const struct pp_usb_boot_result *res)
{
	char uuid_s[37], pid_s[PP_PID_TEXT];
	pp_dev_ids(dev, uuid_s, pid_s);
	json_t *o = json_object();
	json_object_set_new(o, "outcome", json_string(pp_usb_boot_outcome_name(res->outcome)));
	json_object_set_new(o, "record", res->record ? json_integer(res->record) : json_null());
	json_object_set_new(o, "record_pid", jstr_or_null(res->pid));
	json_object_set_new(o, "record_server", jstr_or_null(res->server));
	json_object_set_new(o, "note", jstr_or_null(res->note));
	json_object_set_new(o, "state", json_string(pp_amt_state_name(pp_amt_state(dev))));
	json_object_set_new(o, "uuid", json_string(uuid_s));
	json_object_set_new(o, "pid", jstr_or_null(pid_s));
	return pp_json_print(o);
}

static int device_usb_boot(struct pp_cli *cli, int argc, char **argv)
{
	struct state_opts o = {0};
	struct pp_err err = {0};
	pp_cleanup(pp_amt_freep) struct pp_amt_device *dev = NULL;
	struct pp_usb_boot_result res;
	int ec;
	(void)cli;
	if (parse_state_opts(argc, argv, "device usb-boot", usb_boot_usage, true, &o, &ec))
		return ec;
	if (pp_amt_load(o.dir, &dev, &err) < 0)
		return pp_fail_err(&err);
	if (pp_usb_boot(dev, o.usb, &res, &err) < 0) {
		/* Keep the device's audit event of the refusal (memory only until saved). */
		struct pp_err serr = {0};
		if (pp_amt_save(dev, &serr) < 0)
			pp_note("warning: cannot save the device state: %s", serr.msg);
		return pp_fail_err(&err);
	}
	int ret = usb_boot_report(o.usb, &res, false) ? PP_EXIT_OK : PP_EXIT_FAIL;
	if (!o.json)
		print_device_line(o.dir, dev);
	else if (usb_boot_print_json(dev, &res) != PP_EXIT_OK)
		ret = PP_EXIT_FAIL;
	return ret;
}

/* ---- run ---- */

static void run_usage(FILE *out)
{
	fprintf(out,
		"usage: pskprov device run --state-dir DIR --address IP [--server IP[:PORT]]\n"
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
	struct pp_dev_net_opts net; /* first: the shared setters take it */
	const char *dir;
	const char *usb;
	uint8_t addr[4];
	bool have_addr;
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

static int run_set_address(void *opts, const char *value, struct pp_err *err)
{
	struct run_opts *o = opts;
	int rc = pp_dev_parse_loopback(value, o->addr, "--address", err);
	o->have_addr = rc == 0;
	return rc;
}

static const struct pp_dev_opt run_opt_table[] = {
    PP_DEV_NET_OPT_ROWS,
    {"state-dir", 's', PP_DEV_OPT_STRING, offsetof(struct run_opts, dir), NULL},
    {"address", 'a', PP_DEV_OPT_VALUE, 0, run_set_address},
    {"usb", 'u', PP_DEV_OPT_STRING, offsetof(struct run_opts, usb), NULL},
};

/* Returns true when the command is over (help, usage error) with *exit_code set. */
static bool parse_run(int argc, char **argv, struct run_opts *o, int *exit_code)
{
	const char *why = NULL;
	if (pp_dev_getopt(argc, argv, "device run", run_opt_table, PP_DEV_NOPTS(run_opt_table), o,
			  run_usage, exit_code))
		return true;
	if (!o->dir || !o->have_addr)
		why = "--state-dir and --address are required";
	else if (o->net.env.tls_port == o->net.env.http_port)
		why = "--port and --http-port must differ";
	if (why)
		*exit_code = pp_usage_error("device run", "%s", why);
	return why != NULL;
}

/* What `device run` holds while it runs; run_free releases it in reverse. */
struct run {
	struct run_opts o;
	struct pp_amt_device *dev;
	struct pp_dev_loop loop;
	struct pp_emu *emu;
	struct pp_pthi_server *pthi;
	char sock[4096];
};

/* Loads the device and takes the USB setup file before anything starts (docs/protocol.md
 * section 6). */
static int run_boot(struct run *r, struct pp_err *err)
{
	struct pp_usb_boot_result res;
	int rc = pp_amt_load(r->o.dir, &r->dev, err);
	if (rc < 0 || !r->o.usb)
		return rc;
	if ((rc = pp_usb_boot(r->dev, r->o.usb, &res, err)) < 0)
		return rc;
	(void)usb_boot_report(r->o.usb, &res, true);
	return 0;
}

/* The event loop, the device on the network, its host interface (docs/protocol.md section
 * 5) on DIR/pthi.sock, and the signals that stop it. */
static int run_start(struct run *r, struct pp_err *err)
{
	int rc;
	if ((rc = pp_dev_loop_new(&r->loop, r->o.net.profile, &r->o.net.env, err)) < 0)
		return rc;
	if ((rc = pp_emu_new(&r->o.net.env, r->dev, r->o.addr, PP_EMU_FAULT_NONE, NULL, &r->emu,
			     err)) < 0 ||
	    (rc = pp_emu_start(r->emu, err)) < 0)
		return rc;
	int n = snprintf(r->sock, sizeof(r->sock), "%s/%s", r->o.dir, PP_PTHI_SOCKET_NAME);
	if (n < 0 || (size_t)n >= sizeof(r->sock))
		return pp_err_set(err, PP_ETOOBIG, "--state: path too long");
	if ((rc = pp_pthi_server_start(r->loop.base, r->sock, r->dev, on_start_configuration,
				       r->emu, &r->pthi, err)) < 0)
		return rc;
	return pp_dev_loop_signals(&r->loop, on_signal, r->loop.base, err);
}

/* What the device serves, by its state. */
static void run_log_serving(const struct run *r)
{
	char uuid_s[37], pid_s[PP_PID_TEXT];
	const char *name = pp_emu_name(r->emu);
	enum pp_amt_setup_state st = pp_amt_state(r->dev);
	pp_dev_ids(r->dev, uuid_s, pid_s);
	if (st == PP_AMT_IN_SETUP)
		pp_info("device", "%s: In-Setup, UUID %s, PID %s; TLS-PSK (%s) on %s:%u", name,
			uuid_s, pid_s[0] ? pid_s : "-", pp_tls_profile_name(r->o.net.profile), name,
			r->o.net.env.tls_port);
	else if (st == PP_AMT_POST_SETUP)
		pp_info("device",
			"%s: Post-Setup (provisioned), UUID %s; WS-Management on "
			"http://%s:%u/wsman",
			name, uuid_s, name, r->o.net.env.http_port);
	else
		pp_info("device",
			"%s: Pre-Setup, UUID %s: nothing on the network until a key "
			"is loaded",
			name, uuid_s);
	pp_info("device", "%s: serving the host interface on %s", name, r->sock);
}

/* Stops everything and saves the device; false when the save failed. */
static bool run_free(struct run *r)
{
	struct pp_err err = {0};
	bool saved = true;
	pp_pthi_server_stop(r->pthi);
	pp_emu_free(r->emu);
	if (r->dev && pp_amt_save(r->dev, &err) < 0) {
		pp_warn("device", "cannot save the device state: %s", err.msg);
		saved = false;
	}
	pp_amt_freep(&r->dev);
	pp_dev_loop_free(&r->loop);
	return saved;
}

static int device_run(struct pp_cli *cli, int argc, char **argv)
{
	struct run r = {.o = {.net = {.env = {.tls_port = PP_EMU_TLS_PORT,
					      .http_port = PP_EMU_HTTP_PORT,
					      .time_scale = 1.0},
				      .profile = PP_TLS_PROFILE_DEFAULT,
				      .level = PP_LOG_INFO}}};
	struct pp_err err = {0};
	int ret = PP_EXIT_FAIL, code = PP_EXIT_OK;
	(void)cli;
	if (parse_run(argc, argv, &r.o, &code))
		return code;
	pp_log_init(stderr, r.o.net.level);
	signal(SIGPIPE, SIG_IGN);
	pp_wsman_init();
	if (run_boot(&r, &err) < 0 || run_start(&r, &err) < 0) {
		pp_fail_err(&err);
	} else {
		run_log_serving(&r);
		if (event_base_dispatch(r.loop.base) < 0)
			pp_fail("event loop failed");
		else
			ret = PP_EXIT_OK;
	}
	if (!run_free(&r))
		ret = PP_EXIT_FAIL;
	if (ret == PP_EXIT_OK)
		pp_info("device", "stopped");
	return ret;
}

/* ---- show ---- */

static void show_usage(FILE *out)
{
	fprintf(out, "usage: pskprov device show --state-dir DIR [--json]\n\n"
		     "Shows the device in DIR: state, UUID, PID, realm, names, server, admin\n"
		     "user, firmware, audit events. Never a secret.\n");
}

/* What `device show` prints, gathered once for both forms. */
struct show_info {
	const struct pp_amt_device *dev;
	enum pp_amt_setup_state st;
	char uuid_s[37], pid_s[PP_PID_TEXT], next_s[PP_PID_TEXT], ip_s[16], server_s[300];
	struct pp_amt_server srv;
	struct pp_amt_versions v;
	struct pp_amt_general_settings gs;
	const char *admin;
	size_t naudit;
};

static void show_gather(const struct pp_amt_device *dev, struct show_info *i)
{
	struct pp_pid pid;
	memset(i, 0, sizeof(*i));
	i->dev = dev;
	i->st = pp_amt_state(dev);
	pp_dev_ids(dev, i->uuid_s, i->pid_s);
	if (pp_amt_next_pid(dev, &pid, NULL) == 0)
		pp_pid_format(&pid, i->next_s);
	pp_amt_server(dev, &i->srv);
	if (i->srv.has_ipv4)
		snprintf(i->ip_s, sizeof(i->ip_s), "%u.%u.%u.%u", i->srv.ipv4[0], i->srv.ipv4[1],
			 i->srv.ipv4[2], i->srv.ipv4[3]);
	if (i->srv.has_ipv4 || i->srv.fqdn[0])
		snprintf(i->server_s, sizeof(i->server_s), "%s:%u",
			 i->srv.has_ipv4 ? i->ip_s : i->srv.fqdn, i->srv.port);
	pp_amt_versions(dev, &i->v);
	/* The names: read from the general settings when the device is on the network. */
	if (i->st != PP_AMT_PRE_SETUP && pp_amt_get_general_settings(dev, &i->gs, NULL) < 0)
		memset(&i->gs, 0, sizeof(i->gs));
	i->admin = pp_amt_admin_user(dev);
	i->naudit = pp_amt_audit_count(dev);
}

static json_t *show_json_audit(const struct show_info *i)
{
	json_t *audit = json_array();
	for (size_t k = 0; k < i->naudit; k++) {
		struct pp_amt_audit_event ev;
		if (pp_amt_audit_get(i->dev, k, &ev) < 0)
			break;
		json_array_append_new(
		    audit, json_pack("{s:I,s:s}", "time", (json_int_t)ev.time, "text", ev.text));
	}
	return audit;
}

static int show_print_json(const struct show_info *i)
{
	const struct pp_amt_device *dev = i->dev;
	json_t *o = json_object();
	json_t *fw = json_object();
	json_t *jsrv = json_object();
	json_object_set_new(fw, "bios", json_string(i->v.bios));
	json_object_set_new(fw, "amt", json_string(i->v.amt));
	json_object_set_new(fw, "build", json_string(i->v.build));
	json_object_set_new(fw, "sku", json_string(i->v.sku));
	json_object_set_new(jsrv, "ipv4", jstr_or_null(i->ip_s));
	json_object_set_new(jsrv, "fqdn", jstr_or_null(i->srv.fqdn));
	json_object_set_new(jsrv, "port", json_integer(i->srv.port));
	json_object_set_new(o, "path", json_string(pp_amt_path(dev)));
	json_object_set_new(o, "state", json_string(pp_amt_state_name(i->st)));
	json_object_set_new(o, "provisioning_state", json_integer(i->st));
	json_object_set_new(o, "provisioning_mode", json_integer(pp_amt_provisioning_mode(dev)));
	json_object_set_new(o, "uuid", json_string(i->uuid_s));
	json_object_set_new(o, "pid", jstr_or_null(i->pid_s));
	json_object_set_new(o, "next_pid", jstr_or_null(i->next_s));
	json_object_set_new(o, "realm", json_string(pp_amt_realm(dev)));
	json_object_set_new(o, "host_name", jstr_or_null(i->gs.host_name));
	json_object_set_new(o, "domain_name", jstr_or_null(i->gs.domain_name));
	json_object_set_new(o, "admin_user", jstr_or_null(i->admin));
	json_object_set_new(o, "mebx_password_factory_default",
			    json_boolean(pp_amt_mebx_is_factory_default(dev)));
	json_object_set_new(o, "server", jsrv);
	json_object_set_new(o, "firmware", fw);
	json_object_set_new(o, "time_offset", json_integer(pp_amt_time_offset(dev)));
	json_object_set_new(o, "audit", show_json_audit(i));
	return pp_json_print(o);
}

static const char *or_dash(const char *s)
{
	return s[0] ? s : "-";
}

static int show_print_text(const struct show_info *i)
{
	const struct pp_amt_device *dev = i->dev;
	printf("path            %s\n", pp_amt_path(dev));
	printf("state           %s\n", pp_amt_state_name(i->st));
	printf("uuid            %s\n", i->uuid_s);
	printf("pid             %s\n", or_dash(i->pid_s));
	printf("next pid        %s\n", or_dash(i->next_s));
	printf("realm           %s\n", pp_amt_realm(dev));
	printf("host name       %s\n", or_dash(i->gs.host_name));
	printf("domain name     %s\n", or_dash(i->gs.domain_name));
	printf("admin user      %s\n", or_dash(i->admin));
	printf("mebx password   %s\n",
	       pp_amt_mebx_is_factory_default(dev) ? "factory default" : PP_HIDDEN);
	printf("server          %s\n", or_dash(i->server_s));
	printf("firmware        AMT %s, build %s, %s\n", i->v.amt, i->v.build, i->v.sku);
	printf("audit events    %zu\n", i->naudit);
	for (size_t k = 0; k < i->naudit; k++) {
		struct pp_amt_audit_event ev;
		char when[24];
		if (pp_amt_audit_get(dev, k, &ev) < 0)
			break;
		pp_format_time(ev.time, when);
		printf("  %s  %s\n", when, ev.text);
	}
	return PP_EXIT_OK;
}

static int device_show(struct pp_cli *cli, int argc, char **argv)
{
	struct state_opts o = {0};
	struct pp_err err = {0};
	pp_cleanup(pp_amt_freep) struct pp_amt_device *dev = NULL;
	struct show_info info;
	int ec;
	(void)cli;
	if (parse_state_opts(argc, argv, "device show", show_usage, false, &o, &ec))
		return ec;
	if (pp_amt_load(o.dir, &dev, &err) < 0)
		return pp_fail_err(&err);
	show_gather(dev, &info);
	return o.json ? show_print_json(&info) : show_print_text(&info);
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

struct listen_opts {
	uint8_t ip[4];
	uint16_t port;
	bool have_ip, json;
	uint32_t want, timeout;
};

static int listen_set_listen(void *opts, const char *value, struct pp_err *err)
{
	struct listen_opts *o = opts;
	int rc = pp_dev_parse_loopback_port(value, o->ip, &o->port, "--listen", err);
	o->have_ip = rc == 0;
	return rc;
}

static int listen_set_count(void *opts, const char *value, struct pp_err *err)
{
	return pp_parse_u32(value, 1, 1000000, &((struct listen_opts *)opts)->want, "--count", err);
}

static int listen_set_timeout(void *opts, const char *value, struct pp_err *err)
{
	return pp_parse_u32(value, 1, 86400, &((struct listen_opts *)opts)->timeout, "--timeout",
			    err);
}

static const struct pp_dev_opt listen_opt_table[] = {
    {"listen", 'l', PP_DEV_OPT_VALUE, 0, listen_set_listen},
    {"count", 'n', PP_DEV_OPT_VALUE, 0, listen_set_count},
    {"timeout", 't', PP_DEV_OPT_VALUE, 0, listen_set_timeout},
    {"json", 'j', PP_DEV_OPT_FLAG, offsetof(struct listen_opts, json), NULL},
};

/* The listener and the timeout on st->base; the ready line tests wait for. */
static int hl_start(struct hl_state *st, const struct listen_opts *o, struct evconnlistener **l,
		    struct event **timer)
{
	const uint8_t *ip = o->ip;
	struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = htons(o->port)};
	memcpy(&sin.sin_addr, ip, 4);
	*l = evconnlistener_new_bind(st->base, hl_accept, st,
				     LEV_OPT_CLOSE_ON_FREE | LEV_OPT_CLOSE_ON_EXEC |
					 LEV_OPT_REUSEABLE,
				     1024, (struct sockaddr *)&sin, sizeof(sin));
	if (!*l)
		return pp_fail("cannot listen on %u.%u.%u.%u:%u: %s", ip[0], ip[1], ip[2], ip[3],
			       o->port, strerror(errno));
	struct timeval tv = {(time_t)o->timeout, 0};
	if (!(*timer = evtimer_new(st->base, hl_timeout, st->base)) || evtimer_add(*timer, &tv) < 0)
		return pp_fail("cannot arm the timeout");
	fprintf(stderr, "pskprov: listening for hellos on %u.%u.%u.%u:%u\n", ip[0], ip[1], ip[2],
		ip[3], o->port);
	return PP_EXIT_OK;
}

static int device_hello_listen(struct pp_cli *cli, int argc, char **argv)
{
	struct listen_opts o = {.port = PP_HELLO_PORT, .timeout = 10};
	struct hl_state st = {0};
	struct evconnlistener *l = NULL;
	struct event *timer = NULL;
	int ret = PP_EXIT_OK;
	(void)cli;
	if (pp_dev_getopt(argc, argv, "device hello-listen", listen_opt_table,
			  PP_DEV_NOPTS(listen_opt_table), &o, listen_usage, &ret))
		return ret;
	if (!o.have_ip)
		return pp_usage_error("device hello-listen", "--listen is required");
	st.json = o.json;
	st.want = o.want;
	signal(SIGPIPE, SIG_IGN);
	if (!(st.base = event_base_new()))
		return pp_fail("cannot create an event loop");
	ret = hl_start(&st, &o, &l, &timer);
	if (ret == PP_EXIT_OK) {
		event_base_dispatch(st.base);
		if (st.want && st.got < st.want)
			ret = pp_fail("timed out after %u s with %u of %u hellos", o.timeout,
				      st.got, st.want);
	}
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
