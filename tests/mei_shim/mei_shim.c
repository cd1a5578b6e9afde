/* Test only: an LD_PRELOAD library that plays the Linux MEI driver for `pskprov agent
 * --mei` (src/agent/transport_mei.c), over the emulated device's PTHI socket.
 *
 *   PP_MEI_SHIM_DEV     the device path it answers for (the file need not exist)
 *   PP_MEI_SHIM_SOCKET  the emulated device's DIR/pthi.sock
 *   PP_MEI_SHIM_LOG     where it appends the conversation: the connect GUID, each
 *                       request's command and length, each answer's status and length
 *                       (never a message body)
 *   PP_MEI_SHIM_FAULT   busy:N     the first N opens fail EBUSY, and the first N
 *                                  writes
 *                       short      the first answer is returned truncated
 *                       reset:N    after N answers, a read fails ENODEV (a firmware
 *                                  reset): that fd stays dead, a new open works
 *                       stall      requests are swallowed, never answered
 *                       noclient   the connect ioctl fails ENOTTY
 *                       maxmsg:N   connect says max_msg_length N (answers larger
 *                                  than the reader's buffer fail EMSGSIZE)
 *                       eacces     open fails EACCES
 *                       missing    open fails ENOENT
 *
 * An fd it opens is a real descriptor of /dev/null (so the process's own bookkeeping
 * stays sane); after the connect ioctl, poll() on it polls the device socket. Every
 * other call goes to the real libc (dlsym RTLD_NEXT). One thread, like the agent. */
/* The interposers below replace libc's, not its fortified inline wrappers. */
#undef _FORTIFY_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <linux/mei.h>

#include "proto/pthi.h" /* macros only: the shim links nothing of the program */

#define SHIM_FDS 8
#define SHIM_MAX_MSG PP_PTHI_MAX_FRAME
#define HDR PP_PTHI_HEADER_LEN

struct shim_fd {
	int fd;   /* ours, -1 when the slot is free */
	int sock; /* the device socket once connected, else -1 */
	int dead; /* after a simulated firmware reset */
};

static struct shim_fd fds[SHIM_FDS] = {[0 ... SHIM_FDS - 1] = {-1, -1, 0}};
static int (*real_open)(const char *, int, ...);
static int (*real_openat)(int, const char *, int, ...);
static int (*real_ioctl)(int, unsigned long, ...);
static ssize_t (*real_read)(int, void *, size_t);
static ssize_t (*real_write)(int, const void *, size_t);
static int (*real_poll)(struct pollfd *, nfds_t, int);
static int (*real_close)(int);

static int busy_open, busy_write, reset_after = -1, short_once, stall, noclient, eacces, missing;
static long answers;
static uint32_t max_msg = SHIM_MAX_MSG;

static void shim_init(void)
{
	static int done;
	if (done)
		return;
	done = 1;
	real_open = dlsym(RTLD_NEXT, "open");
	real_openat = dlsym(RTLD_NEXT, "openat");
	real_ioctl = dlsym(RTLD_NEXT, "ioctl");
	real_read = dlsym(RTLD_NEXT, "read");
	real_write = dlsym(RTLD_NEXT, "write");
	real_poll = dlsym(RTLD_NEXT, "poll");
	real_close = dlsym(RTLD_NEXT, "close");
	const char *f = getenv("PP_MEI_SHIM_FAULT");
	if (!f)
		return;
	if (!strncmp(f, "busy:", 5))
		busy_open = busy_write = (int)strtol(f + 5, NULL, 10);
	else if (!strncmp(f, "maxmsg:", 7))
		max_msg = (uint32_t)strtoul(f + 7, NULL, 10);
	else if (!strncmp(f, "reset:", 6))
		reset_after = (int)strtol(f + 6, NULL, 10);
	short_once = !strcmp(f, "short");
	stall = !strcmp(f, "stall");
	noclient = !strcmp(f, "noclient");
	eacces = !strcmp(f, "eacces");
	missing = !strcmp(f, "missing");
}

__attribute__((format(printf, 1, 2))) static void shim_log(const char *fmt, ...)
{
	const char *path = getenv("PP_MEI_SHIM_LOG");
	char line[256];
	va_list ap;
	if (!path)
		return;
	va_start(ap, fmt);
	int n = vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	if ((size_t)n >= sizeof(line))
		n = sizeof(line) - 1;
	int fd = real_open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0)
		return;
	if (real_write(fd, line, (size_t)n) < 0)
		(void)0;
	real_close(fd);
}

static struct shim_fd *shim_find(int fd)
{
	if (fd < 0)
		return NULL;
	for (int i = 0; i < SHIM_FDS; i++)
		if (fds[i].fd == fd)
			return &fds[i];
	return NULL;
}

static int is_dev(const char *path)
{
	const char *dev = getenv("PP_MEI_SHIM_DEV");
	return dev && path && !strcmp(path, dev);
}

static int shim_open(const char *path)
{
	int e = missing ? ENOENT : eacces ? EACCES : busy_open > 0 ? EBUSY : 0;
	if (e) {
		if (e == EBUSY)
			busy_open--;
		shim_log("open %s: %s\n", path,
			 e == ENOENT   ? "ENOENT"
			 : e == EACCES ? "EACCES"
				       : "EBUSY");
		errno = e;
		return -1;
	}
	for (int i = 0; i < SHIM_FDS; i++) {
		if (fds[i].fd >= 0)
			continue;
		int fd = real_open("/dev/null", O_RDWR | O_CLOEXEC);
		if (fd < 0)
			return -1;
		fds[i] = (struct shim_fd){fd, -1, 0};
		shim_log("open %s\n", path);
		return fd;
	}
	errno = EMFILE;
	return -1;
}

static uint32_t le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static void guid_text(const uint8_t *b, char out[37])
{
	snprintf(out, 37, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x",
		 b[3], b[2], b[1], b[0], b[5], b[4], b[7], b[6], b[8], b[9], b[10], b[11], b[12],
		 b[13], b[14], b[15]);
}

static int device_socket(void)
{
	const char *path = getenv("PP_MEI_SHIM_SOCKET");
	struct sockaddr_un sun = {.sun_family = AF_UNIX};
	if (!path || strlen(path) >= sizeof(sun.sun_path))
		return -1;
	memcpy(sun.sun_path, path, strlen(path) + 1);
	int sock = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (sock < 0)
		return -1;
	if (connect(sock, (const struct sockaddr *)&sun, sizeof(sun)) < 0) {
		real_close(sock);
		return -1;
	}
	return sock;
}

static int shim_connect(struct shim_fd *s, struct mei_connect_client_data *d)
{
	char g[37];
	guid_text(d->in_client_uuid.b, g);
	/* The text from the kernel's byte order: a wrong order is a wrong GUID. */
	if (noclient || strcmp(g, PP_PTHI_AMTHI_GUID_TEXT) != 0) {
		shim_log("connect %s: ENOTTY (no such client)\n", g);
		errno = ENOTTY;
		return -1;
	}
	if (s->sock >= 0) {
		errno = EBUSY;
		return -1;
	}
	if ((s->sock = device_socket()) < 0) {
		shim_log("connect %s: the device socket does not answer\n", g);
		errno = ENODEV;
		return -1;
	}
	memset(d, 0, sizeof(*d));
	d->out_client_properties.max_msg_length = max_msg;
	d->out_client_properties.protocol_version = 1;
	shim_log("connect %s max_msg_length %u protocol_version 1\n", g, max_msg);
	return 0;
}

static int io_all(int fd, uint8_t *p, size_t n, int writing)
{
	size_t done = 0;
	while (done < n) {
		ssize_t r = writing ? send(fd, p + done, n - done, MSG_NOSIGNAL)
				    : recv(fd, p + done, n - done, 0);
		if (r > 0)
			done += (size_t)r;
		else if (r == 0 || errno != EINTR)
			return -1;
	}
	return 0;
}

static ssize_t shim_write(struct shim_fd *s, const void *buf, size_t n)
{
	if (s->dead || s->sock < 0) {
		errno = ENODEV;
		return -1;
	}
	if (busy_write > 0) {
		busy_write--;
		shim_log("write: EBUSY\n");
		errno = EBUSY;
		return -1;
	}
	if (n < HDR || n > SHIM_MAX_MSG) {
		errno = EFBIG;
		return -1;
	}
	shim_log("request 0x%08x length %zu\n", le32((const uint8_t *)buf + 4), n);
	if (stall) {
		shim_log("stall: the request is not answered\n");
		return (ssize_t)n;
	}
	if (io_all(s->sock, (uint8_t *)buf, n, 1) < 0) {
		errno = EIO;
		return -1;
	}
	return (ssize_t)n;
}

static ssize_t shim_fail_reset(struct shim_fd *s)
{
	reset_after = -1;
	s->dead = 1;
	real_close(s->sock);
	s->sock = -1;
	shim_log("read: ENODEV (firmware reset)\n");
	errno = ENODEV;
	return -1;
}

static ssize_t shim_read(struct shim_fd *s, void *buf, size_t cap)
{
	uint8_t msg[SHIM_MAX_MSG];
	if (s->dead || s->sock < 0) {
		errno = ENODEV;
		return -1;
	}
	if (reset_after >= 0 && answers >= reset_after)
		return shim_fail_reset(s);
	struct pollfd p = {.fd = s->sock, .events = POLLIN};
	if (real_poll(&p, 1, 0) == 0) {
		errno = EAGAIN;
		return -1;
	}
	if (io_all(s->sock, msg, HDR, 0) < 0 || le32(msg + 8) > SHIM_MAX_MSG - HDR ||
	    io_all(s->sock, msg + HDR, le32(msg + 8), 0) < 0) {
		errno = EIO;
		return -1;
	}
	size_t total = HDR + le32(msg + 8);
	if (cap < total) {
		errno = EMSGSIZE;
		return -1;
	}
	answers++;
	unsigned long status = total >= HDR + 4 ? (unsigned long)le32(msg + HDR) : 0xfffffffful;
	if (short_once) {
		short_once = 0;
		shim_log("answer 0x%08x status %lu length %zu: truncated to %zu\n", le32(msg + 4),
			 status, total, total - 3);
		total -= 3;
	} else {
		shim_log("answer 0x%08x status %lu length %zu\n", le32(msg + 4), status, total);
	}
	memcpy(buf, msg, total);
	return (ssize_t)total;
}

/* ---- the interposers ---- */

int open64(const char *path, int flags, ...);
int __open_2(const char *path, int flags);
int __open64_2(const char *path, int flags);
int openat64(int dirfd, const char *path, int flags, ...);
int __openat_2(int dirfd, const char *path, int flags);
ssize_t __read_chk(int fd, void *buf, size_t n, size_t buflen);
int __poll_chk(struct pollfd *p, nfds_t n, int timeout, size_t fdslen);

static mode_t open_mode(int flags, va_list ap)
{
	return (flags & O_CREAT) || (flags & O_TMPFILE) == O_TMPFILE ? va_arg(ap, mode_t) : 0;
}

int open(const char *path, int flags, ...)
{
	va_list ap;
	va_start(ap, flags);
	mode_t mode = open_mode(flags, ap);
	va_end(ap);
	shim_init();
	return is_dev(path) ? shim_open(path) : real_open(path, flags, mode);
}

int open64(const char *path, int flags, ...)
{
	va_list ap;
	va_start(ap, flags);
	mode_t mode = open_mode(flags, ap);
	va_end(ap);
	return open(path, flags, mode);
}

int __open_2(const char *path, int flags)
{
	return open(path, flags);
}

int __open64_2(const char *path, int flags)
{
	return open(path, flags);
}

int openat(int dirfd, const char *path, int flags, ...)
{
	va_list ap;
	va_start(ap, flags);
	mode_t mode = open_mode(flags, ap);
	va_end(ap);
	shim_init();
	return is_dev(path) ? shim_open(path) : real_openat(dirfd, path, flags, mode);
}

int openat64(int dirfd, const char *path, int flags, ...)
{
	va_list ap;
	va_start(ap, flags);
	mode_t mode = open_mode(flags, ap);
	va_end(ap);
	return openat(dirfd, path, flags, mode);
}

int __openat_2(int dirfd, const char *path, int flags)
{
	return openat(dirfd, path, flags);
}

int ioctl(int fd, unsigned long request, ...)
{
	va_list ap;
	va_start(ap, request);
	void *arg = va_arg(ap, void *);
	va_end(ap);
	shim_init();
	struct shim_fd *s = shim_find(fd);
	if (!s)
		return real_ioctl(fd, request, arg);
	if (request == IOCTL_MEI_CONNECT_CLIENT)
		return shim_connect(s, arg);
	errno = ENOTTY;
	return -1;
}

ssize_t read(int fd, void *buf, size_t n)
{
	shim_init();
	struct shim_fd *s = shim_find(fd);
	return s ? shim_read(s, buf, n) : real_read(fd, buf, n);
}

ssize_t __read_chk(int fd, void *buf, size_t n, size_t buflen)
{
	if (n > buflen)
		abort();
	return read(fd, buf, n);
}

ssize_t write(int fd, const void *buf, size_t n)
{
	shim_init();
	struct shim_fd *s = shim_find(fd);
	return s ? shim_write(s, buf, n) : real_write(fd, buf, n);
}

int poll(struct pollfd *p, nfds_t n, int timeout)
{
	int saved[16];
	shim_init();
	if (n > 16)
		return real_poll(p, n, timeout);
	/* A connected fd waits on the device socket; one without it is always ready (its
	 * read or write says why). */
	for (nfds_t i = 0; i < n; i++) {
		struct shim_fd *s = shim_find(p[i].fd);
		saved[i] = p[i].fd;
		if (s && s->sock >= 0)
			p[i].fd = s->sock;
	}
	int rc = real_poll(p, n, timeout);
	for (nfds_t i = 0; i < n; i++)
		p[i].fd = saved[i];
	return rc;
}

int __poll_chk(struct pollfd *p, nfds_t n, int timeout, size_t fdslen)
{
	if (fdslen / sizeof(*p) < n)
		abort();
	return poll(p, n, timeout);
}

int close(int fd)
{
	shim_init();
	struct shim_fd *s = shim_find(fd);
	if (s) {
		if (s->sock >= 0)
			real_close(s->sock);
		*s = (struct shim_fd){-1, -1, 0};
		shim_log("close\n");
	}
	return real_close(fd);
}
