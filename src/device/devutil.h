/* Shared by `pskprov device` and `pskprov fleet`: the key CSV, the manufacturer's PSKC
 * container, loopback addresses, file descriptor limits, the monotonic clock. */
#ifndef PSKPROV_DEVICE_DEVUTIL_H
#define PSKPROV_DEVICE_DEVUTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "prog/cli.h"
#include "device/emu.h"
#include "core/err.h"
#include "keys/csv.h"
#include "keys/keys.h"
#include "tls/tls.h"
#include "prog/log.h"

#define PP_DEVCSV_MAX_BYTES (64u * 1024 * 1024)

/* One key record from the exported CSV (pid,pps,mebx_password,batch). Secret: free the
 * array with pp_devcsv_free. */
struct pp_devkey {
	struct pp_pid pid;
	struct pp_pps pps;
	char mebx[PP_MEBX_MAX + 1];
	unsigned line;
};

/* Reads the key CSV at path, every row validated: the first `max` rows, or only the row
 * whose PID is `want` (-PP_ENOTFOUND when none). A file that group or others may read
 * is read, with *loose set so the caller can warn. */
int pp_devcsv_read(const char *path, const struct pp_pid *want, size_t max, struct pp_devkey **rows,
		   size_t *n, bool *loose, struct pp_err *err) PP_WUR;
void pp_devcsv_free(struct pp_devkey *rows, size_t n);

/* Rows of pp_devcsv_read as one value, for pp_cleanup(pp_devcsv_freep). */
struct pp_devcsv {
	struct pp_devkey *rows;
	size_t n;
};
void pp_devcsv_freep(struct pp_devcsv *c);
/* For pp_cleanup on a struct pp_devkey, a struct pp_pps. */
void pp_devkey_wipe(struct pp_devkey *k);
void pp_devpps_wipe(struct pp_pps *pps);

/* How a PSKC container is protected (docs/protocol.md section 7), from the command line:
 * exactly one of a transport key file (0600, `keys transport-key`), a passphrase read
 * from the terminal without echo or from standard input (ask), or a passphrase file
 * (0600, first line). The secret never comes from argv. */

/* Reads and verifies the whole PSKC container at path (pp_pskc_read: every MAC,
 * every value, all or nothing; at most PP_PSKC_DOC_MAX bytes) and returns in *out the
 * key whose PID is `want` (-PP_ENOTFOUND when none), or the first. A tampered,
 * truncated or wrong-key file fails before any key is seen. *out is secret: pp_wipe it. */
int pp_devpskc_read(const char *path, const struct pp_pskc_opts *o, const struct pp_pid *want,
		    struct pp_devkey *out, struct pp_err *err) PP_WUR;

/* "a.b.c.d" in 127.0.0.0/8; what names the option in the error. */
int pp_dev_parse_loopback(const char *s, uint8_t ip[4], const char *what,
			  struct pp_err *err) PP_WUR;
/* "a.b.c.d[:port]" in 127.0.0.0/8; *port keeps its value when none is given. */
int pp_dev_parse_loopback_port(const char *s, uint8_t ip[4], uint16_t *port, const char *what,
			       struct pp_err *err) PP_WUR;
/* A TCP port 1..65535. */
int pp_dev_parse_port(const char *s, uint16_t *port, const char *what, struct pp_err *err) PP_WUR;

/* Raises the soft RLIMIT_NOFILE to the hard limit; returns the soft limit now in force. */
uint64_t pp_dev_raise_nofile(void);

#define PP_DEV_NOPTS(tab) (sizeof(tab) / sizeof((tab)[0]))

struct pp_amt_device;
/* The device's UUID and PID as text; pid is "" when the device holds no key. */
void pp_dev_ids(const struct pp_amt_device *dev, char uuid[37], char pid[PP_PID_TEXT]);
/* DIR/device.json into out; -PP_ETOOBIG when it does not fit. */
int pp_dev_state_file(const char *dir, char *out, size_t cap) PP_WUR;

struct pp_emu_env;
struct pp_emu_trace;
/* --wsman-trace DIR: DIR must be an existing directory; sets trace->dir and env->trace. */
int pp_dev_trace_dir(const char *dir, struct pp_emu_trace *trace, struct pp_emu_env *env,
		     struct pp_err *err) PP_WUR;

/* ---- options as data ----
 * One option of a command: its long name and short letter, and what it does. A STRING
 * option stores its value (a const char *) at `off` in the command's options struct, a
 * FLAG sets the bool at `off`, a VALUE calls set(opts, value, err), which checks and
 * stores the value or fails with err naming the option. --help (-h) is always there. */
enum pp_dev_opt_kind { PP_DEV_OPT_STRING, PP_DEV_OPT_FLAG, PP_DEV_OPT_VALUE };

struct pp_dev_opt {
	const char *name;
	char letter;
	enum pp_dev_opt_kind kind;
	size_t off;
	int (*set)(void *opts, const char *value, struct pp_err *err);
};

#define PP_DEV_OPTS_MAX 24

/* Parses argv by tab (n entries, at most PP_DEV_OPTS_MAX) into opts. Returns true when
 * the command is over with *exit_code set: help shown (PP_EXIT_OK), an unknown option
 * (usage on stderr), a value set refused, or a positional argument (PP_EXIT_USAGE, the
 * reason on stderr under cmd's name). */
bool pp_dev_getopt(int argc, char **argv, const char *cmd, const struct pp_dev_opt *tab, size_t n,
		   void *opts, void (*usage)(FILE *), int *exit_code);

/* What `device run` and `fleet` both take: the first member, `net`, of each one's
 * options struct, so that the setters below serve both tables. */
struct pp_dev_net_opts {
	struct pp_emu_env env;
	struct pp_emu_trace trace;
	enum pp_tls_profile profile;
	enum pp_log_level level;
};

/* VALUE setters on a struct pp_dev_net_opts (opts points at it): --server IP[:PORT],
 * --port, --http-port, --profile, --time-scale, --log-level, --wsman-trace DIR. */
int pp_dev_set_server(void *opts, const char *value, struct pp_err *err);
int pp_dev_set_port(void *opts, const char *value, struct pp_err *err);
int pp_dev_set_http_port(void *opts, const char *value, struct pp_err *err);
int pp_dev_set_profile(void *opts, const char *value, struct pp_err *err);
int pp_dev_set_time_scale(void *opts, const char *value, struct pp_err *err);
int pp_dev_set_log_level(void *opts, const char *value, struct pp_err *err);
int pp_dev_set_trace(void *opts, const char *value, struct pp_err *err);

/* The rows of those options, for the tables of device run and fleet. */
/* clang-format off */
#define PP_DEV_NET_OPT_ROWS                                                \
	{"server", 'S', PP_DEV_OPT_VALUE, 0, pp_dev_set_server},           \
	{"port", 'p', PP_DEV_OPT_VALUE, 0, pp_dev_set_port},               \
	{"http-port", 'H', PP_DEV_OPT_VALUE, 0, pp_dev_set_http_port},     \
	{"profile", 'P', PP_DEV_OPT_VALUE, 0, pp_dev_set_profile},         \
	{"time-scale", 't', PP_DEV_OPT_VALUE, 0, pp_dev_set_time_scale},   \
	{"log-level", 'l', PP_DEV_OPT_VALUE, 0, pp_dev_set_log_level},     \
	{"wsman-trace", 'W', PP_DEV_OPT_VALUE, 0, pp_dev_set_trace}
/* clang-format on */

/* The event loop of device run and fleet: the loop, the TLS context of the devices'
 * profile, SIGINT and SIGTERM. */
struct pp_dev_loop {
	struct event_base *base;
	SSL_CTX *ctx;
	struct pp_devws_work *ws_work;
	struct event *sigint, *sigterm;
};

/* The loop, the TLS context of profile and the WS-Management working memory, into env
 * (base, tls_ctx, ws_work). */
int pp_dev_loop_new(struct pp_dev_loop *l, enum pp_tls_profile profile, struct pp_emu_env *env,
		    struct pp_err *err) PP_WUR;
/* SIGINT and SIGTERM call fn(sig, what, arg) on the loop. */
int pp_dev_loop_signals(struct pp_dev_loop *l, event_callback_fn fn, void *arg,
			struct pp_err *err) PP_WUR;
/* Frees what the loop holds; the devices on it must be gone. Accepts a zeroed one. */
void pp_dev_loop_free(struct pp_dev_loop *l);

/* Reads the key CSV (pp_devcsv_read) and warns, as a program does, when the file can
 * be read by group or others. */
int pp_devcsv_load(const char *path, const struct pp_pid *want, size_t max, struct pp_devkey **rows,
		   size_t *n, struct pp_err *err) PP_WUR;

#endif
