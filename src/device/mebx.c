/* The emulated MEBx console (see device/mebx.h). */
#include "device/mebx.h"

#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <termios.h>
#include <unistd.h>

#include "core/parse.h"
#include "core/secret.h"
#include "device/devutil.h"
#include "device/pthi_server.h"
#include "keys/keys.h"

struct console {
	struct pp_amt_device *dev;
	FILE *in, *out, *data;
	bool tty; /* in is a terminal: no echo for secrets, and a refused entry is asked again */
};

enum line_rc { LINE_OK = 0, LINE_EOF = -1, LINE_TOO_LONG = -2 };

/* What a menu action ended with. */
enum act {
	ACT_OK,      /* done, or cancelled at the user's wish */
	ACT_REFUSED, /* the console said why; a scripted session stops */
	ACT_FATAL,   /* input ended or the state could not be saved */
	ACT_EXIT,    /* leave the console normally */
};

static void say(struct console *c, const char *fmt, ...) PP_PRINTF(2, 3);
static void say(struct console *c, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vfprintf(c->out, fmt, ap);
	va_end(ap);
	fputc('\n', c->out);
	fflush(c->out);
}

/* Reads one line after a prompt. A secret is read without echo from a terminal. The
 * line ends at '\n' (a trailing '\r' is dropped); a longer line than cap - 1 is read to
 * its end and refused. */
static int read_line(struct console *c, const char *prompt, bool secret, char *buf, size_t cap)
{
	struct termios old, quiet;
	bool echo_off = false, too_long = false;
	size_t n = 0;
	int ch, fd = fileno(c->in);

	fputs(prompt, c->out);
	fflush(c->out);
	if (secret && c->tty && tcgetattr(fd, &old) == 0) {
		quiet = old;
		quiet.c_lflag &= ~(tcflag_t)ECHO;
		echo_off = tcsetattr(fd, TCSAFLUSH, &quiet) == 0;
	}
	while ((ch = fgetc(c->in)) != EOF && ch != '\n') {
		if (n + 1 >= cap) {
			too_long = true;
			continue;
		}
		buf[n++] = (char)ch;
	}
	if (n && buf[n - 1] == '\r')
		n--;
	buf[n] = '\0';
	if (echo_off)
		tcsetattr(fd, TCSANOW, &old);
	/* Nothing echoed the user's Enter: end the prompt's line. */
	if (echo_off || !c->tty)
		fputc('\n', c->out);
	if (too_long) {
		pp_wipe(buf, cap);
		return LINE_TOO_LONG;
	}
	if (ch == EOF && n == 0)
		return LINE_EOF;
	return LINE_OK;
}

/* For pp_cleanup on a line buffer: it may hold a password or a PPS. */
static void line_wipe(char (*line)[PP_MEBX_LINE_MAX])
{
	pp_wipe(*line, sizeof(*line));
}

/* Spaces and tabs around a typed value (never a password) are not part of it. */
static char *trim(char *s)
{
	while (*s == ' ' || *s == '\t')
		s++;
	size_t n = strlen(s);
	while (n && (s[n - 1] == ' ' || s[n - 1] == '\t'))
		s[--n] = '\0';
	return s;
}

/* The console says what Post-Setup means to its user. */
static const char *state_name(enum pp_amt_setup_state s)
{
	return s == PP_AMT_POST_SETUP ? "Post-Setup (provisioned)" : pp_amt_state_name(s);
}

/* ---- login and the forced password change ---- */

static int login(struct console *c, char *pw, size_t cap)
{
	struct pp_err err = {0};
	for (int i = 1; i <= PP_MEBX_LOGIN_TRIES; i++) {
		int rc = read_line(c, "MEBx password: ", true, pw, cap);
		if (rc == LINE_EOF) {
			say(c, "input ended before the password was entered: leaving the console");
			return -1;
		}
		if (rc == LINE_OK && pp_amt_console_login(c->dev, pw, &err) == 0)
			return 0;
		pp_wipe(pw, cap);
		if (i < PP_MEBX_LOGIN_TRIES)
			say(c, "wrong password (try %d of %d)", i, PP_MEBX_LOGIN_TRIES);
	}
	say(c, "wrong password %d times: leaving the console", PP_MEBX_LOGIN_TRIES);
	return -1;
}

/* MEBx makes the user replace the factory password before anything else. */
static int forced_change(struct console *c, const char *current)
{
	pp_cleanup(line_wipe) char pw1[PP_MEBX_LINE_MAX];
	pp_cleanup(line_wipe) char pw2[PP_MEBX_LINE_MAX];
	struct pp_err err = {0};

	say(c, "The factory password must be changed. The new one needs 8 to 32 characters with "
	       "an upper-case letter, a lower-case letter, a digit and a symbol (not : , or \").");
	say(c, "For a key of a pskprov key batch, set the MEBx password issued with that key "
	       "(the mebx_password of its PID in the batch's key export): the configuration "
	       "server logs in with it.");
	for (int i = 1; i <= PP_MEBX_CHANGE_TRIES; i++) {
		int rc = read_line(c, "New MEBx password: ", true, pw1, sizeof(pw1));
		if (rc == LINE_EOF)
			goto ended;
		if (rc == LINE_TOO_LONG) {
			say(c, "refused: longer than %d characters", PP_MEBX_PW_MAX);
			continue;
		}
		if (pp_mebx_password_check(pw1, &err) < 0) {
			say(c, "refused: %s", err.msg);
			continue;
		}
		rc = read_line(c, "Repeat the new password: ", true, pw2, sizeof(pw2));
		if (rc == LINE_EOF)
			goto ended;
		if (rc != LINE_OK || !pp_ct_streq(pw1, pw2)) {
			say(c, "refused: the two passwords differ");
			continue;
		}
		if (pp_amt_console_change_password(c->dev, current, pw1, &err) < 0) {
			say(c, "refused: %s", err.msg);
			if (err.code == PP_EIO || err.code == PP_ECRYPTO)
				return -1;
			continue;
		}
		say(c, "MEBx password changed");
		return 0;
	}
	say(c, "no acceptable new password after %d tries: leaving the console",
	    PP_MEBX_CHANGE_TRIES);
	return -1;
ended:
	say(c, "input ended before the new password was set: leaving the console");
	return -1;
}

/* ---- menu actions ---- */

/* An entry is asked again at a terminal, never in a script. */
static int tries(const struct console *c)
{
	return c->tty ? PP_MEBX_ENTRY_TRIES : 1;
}

static enum act refuse_provisioned(struct console *c)
{
	say(c, "refused: the device is provisioned (Post-Setup); a full unprovision (menu 4) "
	       "comes first");
	return ACT_REFUSED;
}

/* The server logs in with the MEBx password issued with the key; the device cannot
 * check it (the console never sees that password), so it names which one it must be. */
static void say_issued_password(struct console *c, const char *pid)
{
	say(c,
	    "the configuration server logs in with the MEBx password issued with PID %s (the "
	    "mebx_password of that PID in its batch's key export): the password set on this "
	    "device must be that one, or provisioning fails at the login",
	    pid);
}

static int parse_pid(const char *s, void *out, struct pp_err *err)
{
	return pp_pid_parse(s, out, err);
}

static int parse_pps(const char *s, void *out, struct pp_err *err)
{
	return pp_pps_parse(s, out, err);
}

/* How a key entry ended. */
enum entry { ENTRY_GOT, ENTRY_CANCELLED, ENTRY_REFUSED, ENTRY_ENDED };

/* One entry of the key (what: "PID" or "PPS"), asked up to tries(c) times; parse
 * checks it into out. An empty line at a terminal cancels. */
static enum entry ask_entry(struct console *c, const char *prompt, const char *what, bool secret,
			    int (*parse)(const char *, void *, struct pp_err *), void *out)
{
	pp_cleanup(line_wipe) char line[PP_MEBX_LINE_MAX];
	struct pp_err err = {0};
	for (int i = 0; i < tries(c); i++) {
		int rc = read_line(c, prompt, secret, line, sizeof(line));
		if (rc == LINE_EOF)
			return ENTRY_ENDED;
		if (rc == LINE_TOO_LONG) {
			say(c, "refused: %s: too long", what);
			continue;
		}
		char *t = trim(line);
		if (!*t && c->tty)
			return ENTRY_CANCELLED;
		if (parse(t, out, &err) == 0)
			return ENTRY_GOT;
		say(c, "refused: %s", err.msg);
	}
	return ENTRY_REFUSED;
}

static enum act entry_act(struct console *c, enum entry e)
{
	switch (e) {
	case ENTRY_CANCELLED:
		say(c, "cancelled: nothing changed");
		return ACT_OK;
	case ENTRY_ENDED:
		say(c, "input ended before the key was entered: nothing changed");
		return ACT_FATAL;
	default:
		return ACT_REFUSED;
	}
}

static enum act set_key(struct console *c)
{
	struct pp_pid pid;
	pp_cleanup(pp_devpps_wipe) struct pp_pps pps = {0};
	struct pp_err err = {0};
	char shown[PP_PID_TEXT];

	if (pp_amt_state(c->dev) == PP_AMT_POST_SETUP)
		return refuse_provisioned(c);
	if (pp_amt_pid(c->dev, &pid, NULL) == 0) {
		pp_pid_format(&pid, shown);
		say(c, "the device holds PID %s; a new key replaces it", shown);
	}
	enum entry e = ask_entry(c, "PID (XXXX-XXXC): ", "PID", false, parse_pid, &pid);
	if (e == ENTRY_GOT)
		e = ask_entry(c, "PPS (XXXC-XXXC-...-XXXC, 8 groups): ", "PPS", true, parse_pps,
			      &pps);
	if (e != ENTRY_GOT)
		return entry_act(c, e);
	if (pp_amt_console_set_key(c->dev, pid.s, pps.s, &err) < 0) {
		say(c, "refused: %s", err.msg);
		return err.code == PP_EIO || err.code == PP_ECRYPTO ? ACT_FATAL : ACT_REFUSED;
	}
	pp_pid_format(&pid, shown);
	say(c, "key set: PID %s; the device is In-Setup and sends hellos while it runs", shown);
	say_issued_password(c, shown);
	return ACT_OK;
}

/* Only digits and dots: meant as an IPv4 address, not a name. */
static bool looks_numeric(const char *s)
{
	for (; *s; s++)
		if (*s != '.' && (*s < '0' || *s > '9'))
			return false;
	return true;
}

static enum act set_server(struct console *c)
{
	char line[PP_MEBX_LINE_MAX];
	struct pp_amt_server srv;
	struct pp_err err = {0};
	int rc, i;

	if (pp_amt_state(c->dev) == PP_AMT_POST_SETUP)
		return refuse_provisioned(c);
	for (i = 0; i < tries(c); i++) {
		memset(&srv, 0, sizeof(srv));
		rc = read_line(c, "Configuration server (IPv4 address or FQDN): ", false, line,
			       sizeof(line));
		if (rc == LINE_EOF)
			goto ended;
		char *t = trim(line);
		if (rc == LINE_OK && !*t && c->tty) {
			say(c, "cancelled: nothing changed");
			return ACT_OK;
		}
		if (rc == LINE_OK && looks_numeric(t)) {
			if (pp_parse_ipv4(t, srv.ipv4, "server", NULL) == 0) {
				srv.has_ipv4 = true;
				break;
			}
			say(c, "refused: not an IPv4 address (four numbers 0 to 255, a.b.c.d)");
			continue;
		}
		if (rc == LINE_OK && strlen(t) <= PP_AMT_DEV_FQDN_MAX && pp_valid_fqdn(t)) {
			memcpy(srv.fqdn, t, strlen(t) + 1);
			break;
		}
		say(c,
		    "refused: not an IPv4 address or a DNS name (labels of A-Z a-z 0-9 and -, "
		    "at most %d characters)",
		    PP_AMT_DEV_FQDN_MAX);
	}
	if (i == tries(c))
		return ACT_REFUSED;
	for (i = 0; i < tries(c); i++) {
		uint32_t port;
		rc = read_line(c, "Port [9971]: ", false, line, sizeof(line));
		if (rc == LINE_EOF)
			goto ended;
		char *t = trim(line);
		if (rc == LINE_OK && !*t) {
			srv.port = PP_AMT_DEV_SERVER_PORT;
			break;
		}
		if (rc == LINE_OK && pp_parse_u32(t, 1, 65535, &port, "port", NULL) == 0) {
			srv.port = (uint16_t)port;
			break;
		}
		say(c, "refused: the port is a number from 1 to 65535");
	}
	if (i == tries(c))
		return ACT_REFUSED;
	if (pp_amt_console_set_server(c->dev, &srv, &err) < 0) {
		say(c, "refused: %s", err.msg);
		return err.code == PP_EIO ? ACT_FATAL : ACT_REFUSED;
	}
	if (srv.has_ipv4)
		say(c, "configuration server set: %u.%u.%u.%u port %u", srv.ipv4[0], srv.ipv4[1],
		    srv.ipv4[2], srv.ipv4[3], (unsigned)srv.port);
	else
		say(c, "configuration server set: %s port %u", srv.fqdn, (unsigned)srv.port);
	return ACT_OK;
ended:
	say(c, "input ended before the server was entered: nothing changed");
	return ACT_FATAL;
}

static enum act show(struct console *c)
{
	struct pp_amt_device *d = c->dev;
	uint8_t uuid[16];
	char uuid_s[37], pid_s[PP_PID_TEXT], host[256];
	struct pp_pid pid;
	struct pp_amt_server srv;
	uint16_t port = 0;
	const char *admin = pp_amt_admin_user(d);

	pp_amt_uuid(d, uuid);
	pp_uuid_format(uuid, uuid_s);
	fprintf(c->data, "state     %s\n", state_name(pp_amt_state(d)));
	fprintf(c->data, "uuid      %s\n", uuid_s);
	if (pp_amt_pid(d, &pid, NULL) == 0) {
		pp_pid_format(&pid, pid_s);
		fprintf(c->data, "pid       %s\n", pid_s);
	} else {
		fprintf(c->data, "pid       (none)\n");
	}
	if (pp_amt_next_pid(d, &pid, NULL) == 0) {
		pp_pid_format(&pid, pid_s);
		fprintf(c->data, "next pid  %s\n", pid_s);
	}
	pp_amt_server(d, &srv);
	if (pp_amt_server_target(d, host, sizeof(host), &port, NULL) < 0)
		snprintf(host, sizeof(host), "?");
	fprintf(c->data, "server    %s port %u%s\n", host, (unsigned)port,
		srv.has_ipv4 || srv.fqdn[0] ? "" : " (none set: the default name)");
	fprintf(c->data, "password  %s\n",
		pp_amt_mebx_is_factory_default(d) ? "factory default" : "set " PP_HIDDEN);
	fprintf(c->data, "admin     %s\n", admin[0] ? admin : "(none)");
	fflush(c->data);
	return ACT_OK;
}

static enum act unprovision(struct console *c)
{
	char line[PP_MEBX_LINE_MAX];
	struct pp_err err = {0};

	say(c, "A full unprovision erases the key, the configuration server, the host and "
	       "domain names and the admin account, and sets the MEBx password back to the "
	       "factory default.");
	int rc = read_line(c, "Type 'yes' to unprovision: ", false, line, sizeof(line));
	if (rc == LINE_EOF) {
		say(c, "input ended: nothing changed");
		return ACT_FATAL;
	}
	if (rc != LINE_OK || strcasecmp(trim(line), "yes") != 0) {
		say(c, "not confirmed: nothing changed");
		return ACT_OK;
	}
	if (pp_amt_unprovision(c->dev, PP_AMT_DEV_UNPROVISION_FULL, &err) < 0) {
		say(c, "refused: %s", err.msg);
		return err.code == PP_EIO || err.code == PP_ECRYPTO ? ACT_FATAL : ACT_REFUSED;
	}
	say(c, "unprovisioned: the device is in Pre-Setup with the factory password; leaving the "
	       "console");
	return ACT_EXIT;
}

/* ---- the session ---- */

static void menu(struct console *c)
{
	say(c,
	    "\nMEBx: %s\n"
	    "  1) enter the PID and PPS\n"
	    "  2) set the configuration server\n"
	    "  3) show the state\n"
	    "  4) unprovision (full)\n"
	    "  5) exit",
	    state_name(pp_amt_state(c->dev)));
}

/* Failed logins are audited in memory; a save puts them in the state file. */
static void flush_audit(struct console *c)
{
	struct pp_err err = {0};
	if (pp_amt_save(c->dev, &err) < 0)
		say(c, "warning: cannot save the audit events: %s", err.msg);
}

/* Login, and the forced change of the factory password; the audit events of a refusal
 * are saved. */
static int console_open(struct console *c)
{
	pp_cleanup(line_wipe) char pw[PP_MEBX_LINE_MAX];
	if (login(c, pw, sizeof(pw)) == 0 &&
	    (!pp_amt_mebx_is_factory_default(c->dev) || forced_change(c, pw) == 0))
		return 0;
	flush_audit(c);
	return -1;
}

static enum act choice_exit(struct console *c)
{
	(void)c;
	return ACT_EXIT;
}

/* The menu as data: what each choice runs (menu() says the same). */
static const struct {
	const char *choice;
	enum act (*run)(struct console *c);
} menu_actions[] = {
    {"1", set_key}, {"2", set_server}, {"3", show}, {"4", unprovision}, {"5", choice_exit},
};

/* Reads one choice and runs it; end of input is ACT_EXIT. */
static enum act menu_choose(struct console *c)
{
	pp_cleanup(line_wipe) char line[PP_MEBX_LINE_MAX];
	menu(c);
	int rc = read_line(c, "Choice: ", false, line, sizeof(line));
	if (rc == LINE_EOF) {
		say(c, "end of input: leaving the console");
		return ACT_EXIT;
	}
	const char *t = rc == LINE_OK ? trim(line) : "";
	for (size_t i = 0; i < sizeof(menu_actions) / sizeof(menu_actions[0]); i++)
		if (!strcmp(t, menu_actions[i].choice))
			return menu_actions[i].run(c);
	/* What was typed is not repeated: it may be a misplaced secret. */
	say(c, "refused: unknown choice (enter 1 to 5)");
	return ACT_REFUSED;
}

int pp_mebx_console(struct pp_amt_device *dev, FILE *in, FILE *out, FILE *data)
{
	struct console c = {.dev = dev, .in = in, .out = out, .data = data};
	c.tty = isatty(fileno(in)) == 1;
	if (console_open(&c) < 0)
		return PP_EXIT_FAIL;
	for (;;) {
		enum act a = menu_choose(&c);
		if (a == ACT_EXIT) {
			say(&c, "bye");
			return PP_EXIT_OK;
		}
		if (a == ACT_FATAL)
			return PP_EXIT_FAIL;
		if (a == ACT_REFUSED && !c.tty) {
			say(&c, "the input is not a terminal: stopping at the first refusal");
			return PP_EXIT_FAIL;
		}
	}
}

/* ---- pskprov device mebx ---- */

static void usage(FILE *out)
{
	fprintf(out,
		"usage: pskprov device mebx --state-dir DIR [--create]\n\n"
		"The device's keyboard console (MEBx): log in with the MEBx password ('admin'\n"
		"on a new device, which must then be changed to a strong one), enter the PID\n"
		"and PPS, set the configuration server, show the state, unprovision.\n"
		"Passwords and the PPS are read without echo from a terminal; from a pipe, one\n"
		"line each, in order (the session stops at the first refused entry). Prompts go\n"
		"to stderr, the state display to stdout.\n\n"
		"  --state-dir DIR  the device's state directory\n"
		"  --create     when DIR holds no device yet, make a factory-new one (Pre-Setup,\n"
		"               password 'admin', a random UUID) first\n\n"
		"Exit status: 0 after 'exit', 1 when the session was refused or ended early.\n");
}

/* The device must not be running: one process owns a state directory at a time. A
 * running device serves its host interface at DIR/pthi.sock. */
static bool device_running(const char *dir)
{
	struct sockaddr_un sun = {.sun_family = AF_UNIX};
	int n = snprintf(sun.sun_path, sizeof(sun.sun_path), "%s/%s", dir, PP_PTHI_SOCKET_NAME);
	if (n < 0 || (size_t)n >= sizeof(sun.sun_path))
		return false;
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return false;
	int rc = connect(fd, (const struct sockaddr *)&sun, sizeof(sun));
	bool live = rc == 0 || errno == EAGAIN;
	close(fd);
	return live;
}

struct mebx_opts {
	const char *dir;
	bool create;
};

static const struct pp_dev_opt mebx_opt_table[] = {
    {"state-dir", 's', PP_DEV_OPT_STRING, offsetof(struct mebx_opts, dir), NULL},
    {"create", 'c', PP_DEV_OPT_FLAG, offsetof(struct mebx_opts, create), NULL},
};

/* The device of DIR, made factory-new first with --create when DIR holds none. */
static int mebx_open(const struct mebx_opts *o, struct pp_amt_device **dev)
{
	char path[4200];
	struct stat st;
	struct pp_err err = {0};
	if (pp_dev_state_file(o->dir, path, sizeof(path)) < 0)
		return pp_fail("--state: path too long");
	bool missing = stat(path, &st) < 0 && errno == ENOENT;
	if (o->create && missing) {
		if (pp_amt_create(o->dir, NULL, dev, &err) < 0)
			return pp_fail("cannot create a device in '%s': %s", o->dir, err.msg);
		pp_note("created a factory-new device in '%s' (Pre-Setup)", o->dir);
		return PP_EXIT_OK;
	}
	if (pp_amt_load(o->dir, dev, &err) == 0)
		return PP_EXIT_OK;
	if (stat(path, &st) < 0 && errno == ENOENT)
		return pp_fail("no device in '%s' (use --create for a factory-new one)", o->dir);
	return pp_fail("cannot load the device in '%s': %s", o->dir, err.msg);
}

int pp_device_mebx(struct pp_cli *cli, int argc, char **argv)
{
	struct mebx_opts o = {0};
	pp_cleanup(pp_amt_freep) struct pp_amt_device *dev = NULL;
	int rc = PP_EXIT_OK;
	(void)cli;
	if (pp_dev_getopt(argc, argv, "device mebx", mebx_opt_table, PP_DEV_NOPTS(mebx_opt_table),
			  &o, usage, &rc))
		return rc;
	if (!o.dir)
		return pp_usage_error("device mebx", "--state-dir DIR is required");
	if (device_running(o.dir))
		return pp_fail("the device in '%s' is running: stop it before using its console",
			       o.dir);
	if ((rc = mebx_open(&o, &dev)) != PP_EXIT_OK)
		return rc;
	return pp_mebx_console(dev, stdin, stderr, stdout);
}
