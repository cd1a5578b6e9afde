/* PTHI over a Unix socket: the emulated MEI device node (docs/protocol.md section 5). */
#include "device/pthi_server.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/listener.h>

#include "firmware/pthi.h"
#include "proto/pthi.h"
#include "prog/log.h"

#define LOG "pthi"

struct pthi_conn {
	struct pp_pthi_server *srv;
	struct bufferevent *bev;
	struct pthi_conn *prev, *next;
	uint64_t active; /* server tick of the accept or of the last answered request */
	bool closing;    /* the client is gone or broke the protocol: flush, then free */
};

struct pp_pthi_server {
	struct event_base *base;
	struct pp_amt_device *dev;
	pp_pthi_start_fn on_start;
	void *arg;
	struct evconnlistener *listener;
	struct pthi_conn *conns;
	unsigned nconns;
	uint64_t shed; /* idle connections closed to make room */
	uint64_t tick; /* counts accepts and answered requests: orders connections by use */
	char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
	dev_t st_dev; /* the socket file this server made, so stop removes only that one */
	ino_t st_ino;
	bool have_inode;
};

static void conn_free(struct pthi_conn *c)
{
	struct pp_pthi_server *s = c->srv;
	if (c->prev)
		c->prev->next = c->next;
	else
		s->conns = c->next;
	if (c->next)
		c->next->prev = c->prev;
	s->nconns--;
	bufferevent_free(c->bev);
	free(c);
}

/* Frees now, or after the answers already queued are written (a client may send its
 * requests and shut down its writing side before it reads). */
static void conn_close(struct pthi_conn *c)
{
	c->closing = true;
	bufferevent_disable(c->bev, EV_READ);
	if (evbuffer_get_length(bufferevent_get_output(c->bev)) == 0)
		conn_free(c);
}

/* Answers every complete frame in the input. Returns false when c was freed. */
static bool conn_process(struct pthi_conn *c)
{
	struct pp_pthi_server *s = c->srv;
	struct evbuffer *in = bufferevent_get_input(c->bev);
	uint8_t req[PP_PTHI_MAX_FRAME], resp[PP_PTHI_MAX_FRAME];

	while (!c->closing) {
		size_t have = evbuffer_get_length(in), rest, frame, resp_len = 0;
		struct pp_amt_pthi_result res;
		struct pp_err err = {0};

		if (evbuffer_get_length(bufferevent_get_output(c->bev)) > PP_PTHI_SERVER_OUT_MAX) {
			/* The write callback resumes once the client has read its answers. */
			bufferevent_disable(c->bev, EV_READ);
			return true;
		}
		if (have < PP_PTHI_HEADER_LEN)
			break;
		if (evbuffer_copyout(in, req, PP_PTHI_HEADER_LEN) != PP_PTHI_HEADER_LEN ||
		    pp_pthi_frame_remaining(req, PP_PTHI_HEADER_LEN, &rest, &err) < 0) {
			pp_warn(LOG, "%s: malformed request, closing the connection: %s", s->path,
				err.msg[0] ? err.msg : "unreadable header");
			c->closing = true;
			break;
		}
		frame = PP_PTHI_HEADER_LEN + rest; /* at most PP_PTHI_MAX_FRAME: checked */
		if (have < frame)
			break;
		if (evbuffer_remove(in, req, frame) != (int)frame) {
			pp_warn(LOG, "%s: cannot read a request, closing the connection", s->path);
			c->closing = true;
			break;
		}
		if (pp_amt_pthi_handle_ex(s->dev, req, frame, resp, sizeof(resp), &resp_len, &res,
					  &err) < 0) {
			pp_warn(LOG, "%s: malformed request, closing the connection: %s", s->path,
				err.msg);
			c->closing = true;
			break;
		}
		if (bufferevent_write(c->bev, resp, resp_len) < 0) {
			pp_warn(LOG, "%s: out of memory answering a request", s->path);
			c->closing = true;
			break;
		}
		c->active = ++s->tick;
		const char *status = pp_pthi_status_name(res.status);
		pp_debug(LOG, "%s: %s -> %s", s->path, pp_pthi_command_name(res.command),
			 status ? status : "error");
		if (res.command == PP_PTHI_CFG_START_CONFIGURATION &&
		    res.status == PP_PTHI_STATUS_SUCCESS) {
			pp_info(LOG, "%s: CFG_StartConfiguration: hellos start again", s->path);
			if (s->on_start)
				s->on_start(s->arg);
		}
	}
	if (c->closing) {
		/* Freed now, or by on_write once the answers before the bad frame are out. */
		bufferevent_disable(c->bev, EV_READ);
		if (evbuffer_get_length(bufferevent_get_output(c->bev)) == 0) {
			conn_free(c);
			return false;
		}
	}
	return true;
}

static void on_read(struct bufferevent *bev, void *arg)
{
	(void)bev;
	conn_process(arg);
}

static void on_write(struct bufferevent *bev, void *arg)
{
	struct pthi_conn *c = arg;
	/* Called when the output is empty (low watermark 0). */
	if (c->closing) {
		conn_free(c);
		return;
	}
	if (!(bufferevent_get_enabled(bev) & EV_READ)) {
		bufferevent_enable(bev, EV_READ);
		conn_process(c);
	}
}

static void on_event(struct bufferevent *bev, short what, void *arg)
{
	struct pthi_conn *c = arg;
	(void)bev;
	if (what & BEV_EVENT_TIMEOUT) {
		pp_info(LOG, "%s: idle connection closed after %d s", c->srv->path,
			PP_PTHI_SERVER_IDLE_S);
		conn_free(c);
		return;
	}
	if (what & BEV_EVENT_ERROR) {
		conn_free(c);
		return;
	}
	if (what & BEV_EVENT_EOF) {
		/* Answer what is complete, then close: a partial frame is dropped. */
		if (conn_process(c))
			conn_close(c);
	}
}

/* The connection that has gone longest without a request answered and has no answer
 * waiting to be written (an idle client, or one trickling a frame), or NULL. */
static struct pthi_conn *idlest(struct pp_pthi_server *s)
{
	struct pthi_conn *best = NULL;
	for (struct pthi_conn *c = s->conns; c; c = c->next) {
		if (c->closing || evbuffer_get_length(bufferevent_get_output(c->bev)) != 0)
			continue;
		if (!best || c->active < best->active)
			best = c;
	}
	return best;
}

/* At the cap, a new client takes the slot of the idlest one: idle local clients
 * cannot shut out the agent. Returns false when every slot is busy answering. */
static bool make_room(struct pp_pthi_server *s)
{
	if (s->nconns < PP_PTHI_SERVER_MAX_CONNS)
		return true;
	struct pthi_conn *victim = idlest(s);
	if (!victim)
		return false;
	s->shed++;
	/* One line per power of two: a flood of clients does not flood the log. */
	if ((s->shed & (s->shed - 1)) == 0)
		pp_info(LOG,
			"%s: %u connections open (the cap): closed the idlest one (%llu so far)",
			s->path, s->nconns, (unsigned long long)s->shed);
	conn_free(victim);
	return true;
}

static void on_accept(struct evconnlistener *l, evutil_socket_t fd, struct sockaddr *sa,
		      int socklen, void *arg)
{
	struct pp_pthi_server *s = arg;
	struct pthi_conn *c;
	struct timeval idle = {.tv_sec = PP_PTHI_SERVER_IDLE_S};
	(void)l;
	(void)sa;
	(void)socklen;

	if (!make_room(s)) {
		pp_warn(LOG, "%s: %u connections open (the cap), all busy: refusing another",
			s->path, s->nconns);
		evutil_closesocket(fd);
		return;
	}
	c = calloc(1, sizeof(*c));
	if (!c) {
		evutil_closesocket(fd);
		return;
	}
	c->srv = s;
	c->bev = bufferevent_socket_new(s->base, fd, BEV_OPT_CLOSE_ON_FREE);
	if (!c->bev) {
		evutil_closesocket(fd);
		free(c);
		return;
	}
	/* Never hold more than one frame of unread input. */
	bufferevent_setwatermark(c->bev, EV_READ, 0, PP_PTHI_MAX_FRAME);
	bufferevent_setwatermark(c->bev, EV_WRITE, 0, 0);
	bufferevent_set_timeouts(c->bev, &idle, &idle);
	bufferevent_setcb(c->bev, on_read, on_write, on_event, c);
	if (bufferevent_enable(c->bev, EV_READ | EV_WRITE) < 0) {
		bufferevent_free(c->bev);
		free(c);
		return;
	}
	c->active = ++s->tick;
	c->next = s->conns;
	if (s->conns)
		s->conns->prev = c;
	s->conns = c;
	s->nconns++;
}

static void on_listener_error(struct evconnlistener *l, void *arg)
{
	struct pp_pthi_server *s = arg;
	(void)l;
	/* EMFILE and the like: the listener keeps going; the client retries. */
	pp_warn(LOG, "%s: accept: %s", s->path, strerror(errno));
}

/* A path that exists must be a socket nobody serves any more (a crashed run's). */
static int clear_stale(const char *path, const struct sockaddr_un *sun, struct pp_err *err)
{
	struct stat st;
	if (lstat(path, &st) < 0) {
		if (errno == ENOENT)
			return 0;
		return pp_err_set(err, PP_EIO, "PTHI socket '%s': %s", path, strerror(errno));
	}
	if (!S_ISSOCK(st.st_mode))
		return pp_err_set(err, PP_EEXIST, "PTHI socket '%s': exists and is not a socket",
				  path);
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return pp_err_set(err, PP_EIO, "PTHI socket: %s", strerror(errno));
	/* Non-blocking: a live server accepts (or its backlog is full, EAGAIN) at once. */
	int rc = connect(fd, (const struct sockaddr *)sun, sizeof(*sun));
	int e = errno;
	close(fd);
	if (rc == 0 || e == EAGAIN || e == EINPROGRESS)
		return pp_err_set(err, PP_EBUSY,
				  "PTHI socket '%s': another process is serving it (is this device "
				  "already running?)",
				  path);
	if (e != ECONNREFUSED)
		return pp_err_set(err, PP_EIO, "PTHI socket '%s': %s", path, strerror(e));
	if (unlink(path) < 0 && errno != ENOENT)
		return pp_err_set(err, PP_EIO,
				  "PTHI socket '%s': cannot remove the stale socket: %s", path,
				  strerror(errno));
	return 0;
}

int pp_pthi_server_start(struct event_base *base, const char *path, struct pp_amt_device *dev,
			 pp_pthi_start_fn on_start_configuration, void *arg,
			 struct pp_pthi_server **out, struct pp_err *err)
{
	struct pp_pthi_server *s = NULL;
	struct sockaddr_un sun = {.sun_family = AF_UNIX};
	int fd = -1, rc;
	size_t n;

	if (!base || !path || !dev || !out)
		return pp_err_set(err, PP_EINVAL, "PTHI server: missing argument");
	n = strlen(path);
	if (n == 0 || n >= sizeof(sun.sun_path))
		return pp_err_set(err, PP_EINVAL,
				  "PTHI socket path must be 1 to %zu bytes (it is %zu)",
				  sizeof(sun.sun_path) - 1, n);
	memcpy(sun.sun_path, path, n + 1);
	if ((rc = clear_stale(path, &sun, err)) < 0)
		return rc;

	s = calloc(1, sizeof(*s));
	if (!s)
		return pp_err_set(err, PP_ENOMEM, "PTHI server: out of memory");
	s->base = base;
	s->dev = dev;
	s->on_start = on_start_configuration;
	s->arg = arg;
	memcpy(s->path, path, n + 1);

	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0) {
		rc = pp_err_set(err, PP_EIO, "PTHI socket: %s", strerror(errno));
		goto out;
	}
	/* The socket file is born 0600 (connecting needs write permission): the umask is
	 * only tightened, for the one bind, so a file another thread creates meanwhile
	 * can only come out more private. */
	mode_t old = umask(0177);
	rc = bind(fd, (const struct sockaddr *)&sun, sizeof(sun));
	int e = errno;
	umask(old);
	if (rc < 0) {
		rc = pp_err_set(err, PP_EIO, "PTHI socket '%s': bind: %s", path, strerror(e));
		goto out;
	}
	struct stat st;
	if (chmod(path, 0600) < 0 || lstat(path, &st) < 0) {
		rc = pp_err_set(err, PP_EIO, "PTHI socket '%s': %s", path, strerror(errno));
		unlink(path);
		goto out;
	}
	s->st_dev = st.st_dev;
	s->st_ino = st.st_ino;
	s->have_inode = true;
	if (listen(fd, PP_PTHI_SERVER_BACKLOG) < 0) {
		rc = pp_err_set(err, PP_EIO, "PTHI socket '%s': listen: %s", path, strerror(errno));
		goto out;
	}
	s->listener = evconnlistener_new(base, on_accept, s,
					 LEV_OPT_CLOSE_ON_FREE | LEV_OPT_CLOSE_ON_EXEC, -1, fd);
	if (!s->listener) {
		rc =
		    pp_err_set(err, PP_ENOMEM, "PTHI socket '%s': cannot listen on the loop", path);
		goto out;
	}
	fd = -1; /* the listener owns it */
	evconnlistener_set_error_cb(s->listener, on_listener_error);
	pp_info(LOG, "%s: serving the host interface", path);
	*out = s;
	return 0;
out:
	if (fd >= 0)
		close(fd);
	pp_pthi_server_stop(s);
	return rc;
}

void pp_pthi_server_stop(struct pp_pthi_server *s)
{
	struct stat st;
	if (!s)
		return;
	while (s->conns)
		conn_free(s->conns);
	if (s->listener)
		evconnlistener_free(s->listener);
	if (s->have_inode && lstat(s->path, &st) == 0 && st.st_dev == s->st_dev &&
	    st.st_ino == s->st_ino)
		unlink(s->path);
	free(s);
}

unsigned pp_pthi_server_connections(const struct pp_pthi_server *s)
{
	return s ? s->nconns : 0;
}
