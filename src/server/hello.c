/* The hello listener [docs/protocol.md section 2]: a device opens a TCP connection, writes one
 * hello and closes. Only well-formed v2 hellos become jobs; v3 (up to 255 certificate
 * hashes, 12,775 bytes) is parsed in full, counted on its own and declined with one log
 * line; everything else is dropped and counted as malformed or oversize. A hello is never trusted:
 * it only says "try this address"; the TLS-PSK handshake decides. */
#include <arpa/inet.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <netinet/in.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>
#include <sys/socket.h>
#include <time.h>

#include "core/clock.h"
#include "core/parse.h"
#include "keys/keys.h"
#include "proto/hello.h"
#include "server/server.h"
#include "store/store.h"
#include "prog/log.h"

/* Connection caps and the whole-hello deadline come from s->lim (cmd_server.c). A full
 * table sheds its longest idle connection for the new one; one source holds at most
 * lim.hello_per_source. Out of descriptors, the listener pauses for ACCEPT_PAUSE_MS. */
#define ACCEPT_PAUSE_MS 250
#define ACCEPT_SHED_ON_EMFILE 8
#define NOISY_LOG_PERIOD_MS 10000
/* A device repeats its hello on a schedule (a minute apart at first; much faster under
 * a test --time-scale). A hello identical to one recorded less than this long ago
 * changes nothing in the store, so it is counted and dropped without a store round
 * trip. Real schedules never come this close. A hello that left a job waiting (new or
 * active) is remembered longer, until this instance ends the job's session (then as if
 * it had just been recorded): devices waiting for their turn must not cost a store
 * write each time they repeat themselves. A job another instance ends is seen again
 * after the longer window. */
#define HELLO_DEDUP_MS 5000
#define HELLO_JOB_WAIT_MS 60000
#define HELLO_SEEN_SLOTS 65536 /* power of 2 */
#define HELLO_SEEN_PROBE 8

struct hello_seen {
	uint8_t uuid[16];
	char pid[8];
	uint8_t addr[4];
	uint64_t until_ms;
};

static uint32_t seen_hash(const uint8_t uuid[16])
{
	uint32_t h = 2166136261u;
	for (int i = 0; i < 16; i++)
		h = (h ^ uuid[i]) * 16777619u;
	return h;
}

/* True when the same device, PID and address were recorded within the window. */
static bool hello_recent(struct pp_server *s, const uint8_t uuid[16], const char *pid,
			 const uint8_t addr[4], uint64_t now)
{
	if (!s->seen)
		return false;
	uint32_t h = seen_hash(uuid);
	for (uint32_t i = 0; i < HELLO_SEEN_PROBE; i++) {
		struct hello_seen *e = &s->seen[(h + i) & (HELLO_SEEN_SLOTS - 1)];
		if (e->until_ms > now && !memcmp(e->uuid, uuid, 16))
			return !memcmp(e->pid, pid, 8) && !memcmp(e->addr, addr, 4);
	}
	return false;
}

static void hello_remember(struct pp_server *s, const uint8_t uuid[16], const char *pid,
			   const uint8_t addr[4], uint64_t now, uint64_t window_ms)
{
	if (!s->seen)
		return;
	uint32_t h = seen_hash(uuid);
	struct hello_seen *victim = NULL;
	for (uint32_t i = 0; i < HELLO_SEEN_PROBE; i++) {
		struct hello_seen *e = &s->seen[(h + i) & (HELLO_SEEN_SLOTS - 1)];
		if (!memcmp(e->uuid, uuid, 16) || e->until_ms <= now) {
			victim = e;
			break;
		}
		if (!victim || e->until_ms < victim->until_ms)
			victim = e;
	}
	memcpy(victim->uuid, uuid, 16);
	memcpy(victim->pid, pid, 8);
	memcpy(victim->addr, addr, 4);
	victim->until_ms = now + window_ms;
}

void pp_server_hello_job_ended(struct pp_server *s, const uint8_t uuid[16])
{
	if (!s->seen)
		return;
	uint64_t until = pp_now_ms() + HELLO_DEDUP_MS;
	uint32_t h = seen_hash(uuid);
	for (uint32_t i = 0; i < HELLO_SEEN_PROBE; i++) {
		struct hello_seen *e = &s->seen[(h + i) & (HELLO_SEEN_SLOTS - 1)];
		if (!memcmp(e->uuid, uuid, 16) && e->until_ms > until)
			e->until_ms = until;
	}
}

struct hello_conn {
	struct pp_server *s;
	struct bufferevent *bev;
	struct event *deadline;
	TAILQ_ENTRY(hello_conn) idle; /* least recently active first */
	uint32_t ip;
	uint8_t addr[4];
};

struct hello_net {
	TAILQ_HEAD(, hello_conn) idle;
	struct pp_srcslots *slots;
	struct pp_every log_timeout, log_shed, log_per_source, log_accept;
};

struct hello_op {
	struct pp_dbq_op op;
	struct pp_server *s;
	struct pp_hello_in in;
	char source[8];
	enum pp_hello_outcome outcome;
	int64_t job_id;
};

static const char *outcome_name(enum pp_hello_outcome o)
{
	switch (o) {
	case PP_HELLO_NEW_JOB:
		return "new job";
	case PP_HELLO_JOB_ACTIVE:
		return "job already active";
	case PP_HELLO_ALREADY_PROVISIONED:
		return "already provisioned";
	case PP_HELLO_UNKNOWN_PID:
		return "unknown PID";
	case PP_HELLO_KEY_UNUSABLE:
		return "key not usable (revoked, expired, consumed, or locked out for this "
		       "address)";
	case PP_HELLO_QUARANTINED:
		return "the device is quarantined";
	case PP_HELLO_SUSPECT_CLONE:
		return "SUSPECTED CLONE: the key belongs to other devices; trying the address (a "
		       "device that proves the key is quarantined)";
	case PP_HELLO_OUTCOME_MAX:
		break;
	}
	return "?";
}

static int hello_run(struct pp_store *store, struct pp_dbq_op *op, struct pp_err *err)
{
	struct hello_op *h = (struct hello_op *)op;
	h->in.source = h->source;
	return pp_store_hello(store, &h->in, &h->outcome, &h->job_id, err);
}

static void hello_done(struct pp_dbq_op *op, int rc, const struct pp_err *err)
{
	struct hello_op *h = (struct hello_op *)op;
	struct pp_server *s = h->s;
	char uuid[37];
	pp_uuid_format(h->in.uuid, uuid);
	if (rc < 0) {
		s->m.store_errors++;
		pp_error("hello", "uuid=%s pid=%s: store: %s", uuid, h->in.pid, err->msg);
	} else {
		if ((unsigned)h->outcome <
		    sizeof(s->m.hello_outcomes) / sizeof(s->m.hello_outcomes[0]))
			s->m.hello_outcomes[h->outcome]++;
		if (h->outcome <= PP_HELLO_ALREADY_PROVISIONED)
			hello_remember(s, h->in.uuid, h->in.pid, h->in.addr, pp_now_ms(),
				       h->outcome <= PP_HELLO_JOB_ACTIVE ? HELLO_JOB_WAIT_MS
									 : HELLO_DEDUP_MS);
		/* A repeated hello of a known device is routine: debug. Unknown PIDs and
		 * suspected clones are counted (metrics) and sampled (`keys report`), and
		 * anyone can send them by the thousand: debug and info. A clone that proves
		 * the key is the alarm (quarantined, audited). */
		enum pp_log_level lvl = PP_LOG_WARN;
		if (h->outcome == PP_HELLO_NEW_JOB || h->outcome == PP_HELLO_SUSPECT_CLONE)
			lvl = PP_LOG_INFO;
		else if (h->outcome <= PP_HELLO_UNKNOWN_PID)
			lvl = PP_LOG_DEBUG;
		pp_log(lvl, "hello", "%s uuid=%s pid=%s from %u.%u.%u.%u: %s", h->source, uuid,
		       h->in.pid, h->in.addr[0], h->in.addr[1], h->in.addr[2], h->in.addr[3],
		       outcome_name(h->outcome));
		if (h->outcome == PP_HELLO_NEW_JOB || h->outcome == PP_HELLO_SUSPECT_CLONE)
			pp_server_kick_claim(s);
	}
	free(h);
}

void pp_server_submit_hello(struct pp_server *s, const uint8_t uuid[16], const char *pid,
			    const uint8_t addr[4], const char *source)
{
	if (hello_recent(s, uuid, pid, addr, pp_now_ms())) {
		s->m.hellos_duplicate++;
		return;
	}
	struct hello_op *h = calloc(1, sizeof(*h));
	if (!h) {
		pp_error("hello", "out of memory; hello dropped");
		return;
	}
	h->op.run = hello_run;
	h->op.done = hello_done;
	/* Records a hello idempotently: safe to run again on a new store connection. */
	h->op.again = pp_dbq_again_noop;
	h->s = s;
	memcpy(h->in.uuid, uuid, 16);
	memcpy(h->in.pid, pid, 8);
	h->in.pid[8] = '\0';
	memcpy(h->in.addr, addr, 4);
	h->in.now = (int64_t)time(NULL);
	snprintf(h->source, sizeof(h->source), "%s", source);
	pp_dbq_submit_second(s->dbq, &h->op);
}

static void conn_free(struct hello_conn *c)
{
	struct pp_server *s = c->s;
	s->hello_conns--;
	TAILQ_REMOVE(&s->hnet->idle, c, idle);
	pp_srcslots_put(s->hnet->slots, c->ip);
	event_free(c->deadline);
	bufferevent_free(c->bev);
	free(c);
}

/* A noisy event: one line now and then, saying how many were not logged. */
static void log_noisy(struct pp_every *e, const uint8_t a[4], const char *what, const char *action)
{
	uint64_t skipped = 0;
	if (!pp_every_due(e, pp_now_ms(), NOISY_LOG_PERIOD_MS, &skipped))
		return;
	char more[64] = "";
	if (skipped)
		snprintf(more, sizeof(more), " (and %llu more in the last %d s)",
			 (unsigned long long)skipped, NOISY_LOG_PERIOD_MS / 1000);
	pp_warn("hello", "from %u.%u.%u.%u: %s; %s%s", a[0], a[1], a[2], a[3], what, action, more);
}

unsigned pp_server_hello_shed(struct pp_server *s, unsigned n)
{
	unsigned done = 0;
	while (done < n && s->hnet && !TAILQ_EMPTY(&s->hnet->idle)) {
		struct hello_conn *c = TAILQ_FIRST(&s->hnet->idle);
		s->m.hello_connections_shed++;
		log_noisy(&s->hnet->log_shed, c->addr, "longest idle connection shed for a new one",
			  "closed");
		conn_free(c);
		done++;
	}
	return done;
}

static void log_v3(const struct hello_conn *c, const struct pp_hello *h)
{
	char uuid[37];
	pp_uuid_format(h->uuid, uuid);
	pp_warn("hello",
		"from %u.%u.%u.%u uuid=%s: version 3 hello (certificate-based setup, %zu "
		"certificate hash%s) declined: pskprov does PSK setup only",
		c->addr[0], c->addr[1], c->addr[2], c->addr[3], uuid, h->hash_count,
		h->hash_count == 1 ? "" : "es");
}

static void handle_hello(struct hello_conn *c)
{
	struct pp_server *s = c->s;
	struct evbuffer *in = bufferevent_get_input(c->bev);
	size_t len = evbuffer_get_length(in);
	if (len > PP_HELLO_MAX_LEN) {
		s->m.hellos_oversize++;
		pp_warn("hello", "from %u.%u.%u.%u: %zu bytes, more than any hello; dropped",
			c->addr[0], c->addr[1], c->addr[2], c->addr[3], len);
		return;
	}
	if (len == 0) {
		/* A connection closed without a byte: a port probe, or a device that gave up. */
		s->m.hellos_malformed++;
		pp_debug("hello", "from %u.%u.%u.%u: empty connection", c->addr[0], c->addr[1],
			 c->addr[2], c->addr[3]);
		return;
	}
	/* Up to 12,775 bytes (v3 with 255 hashes) and a 13 KB struct: neither on the
	 * event loop's stack. */
	const uint8_t *buf = evbuffer_pullup(in, (ev_ssize_t)len);
	struct pp_hello *h = malloc(sizeof(*h));
	struct pp_err err = {0};
	if (!buf || !h) {
		pp_error("hello", "out of memory; hello dropped");
		goto out;
	}
	if (pp_hello_parse(buf, len, h, &err) < 0) {
		s->m.hellos_malformed++;
		pp_warn("hello", "from %u.%u.%u.%u: malformed hello dropped: %s", c->addr[0],
			c->addr[1], c->addr[2], c->addr[3], err.msg);
		goto out;
	}
	if (h->version == PP_HELLO_V3) {
		s->m.hellos_v3_declined++;
		log_v3(c, h);
		goto out;
	}
	struct pp_pid pid;
	if (pp_pid_parse(h->pid, &pid, &err) < 0) {
		s->m.hellos_malformed++;
		pp_warn("hello", "from %u.%u.%u.%u: hello dropped: %s", c->addr[0], c->addr[1],
			c->addr[2], c->addr[3], err.msg);
		goto out;
	}
	s->m.hellos_v2++;
	pp_server_submit_hello(s, h->uuid, pid.s, c->addr, "hello");
out:
	free(h);
}

static void hello_read(struct bufferevent *bev, void *arg)
{
	struct hello_conn *c = arg;
	/* More than any hello can be: drop now rather than buffer. */
	if (evbuffer_get_length(bufferevent_get_input(bev)) > PP_HELLO_MAX_LEN) {
		c->s->m.hellos_oversize++;
		pp_warn("hello", "from %u.%u.%u.%u: more than %d bytes; dropped", c->addr[0],
			c->addr[1], c->addr[2], c->addr[3], PP_HELLO_MAX_LEN);
		conn_free(c);
		return;
	}
	/* Active: last in line to be shed. */
	TAILQ_REMOVE(&c->s->hnet->idle, c, idle);
	TAILQ_INSERT_TAIL(&c->s->hnet->idle, c, idle);
}

static void hello_event(struct bufferevent *bev, short what, void *arg)
{
	(void)bev;
	struct hello_conn *c = arg;
	if (what & BEV_EVENT_EOF)
		handle_hello(c);
	else
		c->s->m.hellos_malformed++;
	conn_free(c);
}

/* The whole hello, from accept to its last byte, within lim.hello_deadline_ms however
 * slowly it trickles in (an idle timeout alone lets one byte a second hold a slot). */
static void hello_deadline(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	struct hello_conn *c = arg;
	char what_s[80];
	c->s->m.hellos_timeout++;
	snprintf(what_s, sizeof(what_s), "no complete hello within %u ms",
		 c->s->lim.hello_deadline_ms);
	log_noisy(&c->s->hnet->log_timeout, c->addr, what_s, "dropped");
	conn_free(c);
}

/* Room for one more from this source: false when it holds its share (refused);
 * a full table sheds its longest idle connection instead of refusing the new one. */
static bool hello_admit(struct pp_server *s, uint32_t ip, const uint8_t addr[4])
{
	if (pp_srcslots_held(s->hnet->slots, ip) >= s->lim.hello_per_source) {
		s->m.hello_connections_per_source++;
		char what[64];
		snprintf(what, sizeof(what), "holds %u hello connections already",
			 s->lim.hello_per_source);
		log_noisy(&s->hnet->log_per_source, addr, what, "refused");
		return false;
	}
	if (s->hello_conns >= s->lim.hello_max_conns)
		pp_server_hello_shed(s, 1);
	if (!pp_srcslots_take(s->hnet->slots, ip)) {
		s->m.hello_connections_refused++;
		return false;
	}
	return true;
}

static struct hello_conn *conn_new(struct pp_server *s, evutil_socket_t fd, uint32_t ip)
{
	struct hello_conn *c = calloc(1, sizeof(*c));
	if (!c)
		return NULL;
	c->s = s;
	c->ip = ip;
	c->addr[0] = (uint8_t)(ip >> 24);
	c->addr[1] = (uint8_t)(ip >> 16);
	c->addr[2] = (uint8_t)(ip >> 8);
	c->addr[3] = (uint8_t)ip;
	c->bev = bufferevent_socket_new(s->base, fd, BEV_OPT_CLOSE_ON_FREE);
	c->deadline = evtimer_new(s->base, hello_deadline, c);
	if (!c->bev || !c->deadline) {
		if (c->bev)
			bufferevent_free(c->bev);
		else
			evutil_closesocket(fd);
		if (c->deadline)
			event_free(c->deadline);
		free(c);
		return NULL;
	}
	return c;
}

static void hello_accept(struct evconnlistener *l, evutil_socket_t fd, struct sockaddr *sa,
			 int salen, void *arg)
{
	(void)l;
	(void)salen;
	struct pp_server *s = arg;
	s->m.hello_connections++;
	if (sa->sa_family != AF_INET) {
		evutil_closesocket(fd);
		return;
	}
	const struct sockaddr_in *sin = (const struct sockaddr_in *)sa;
	uint32_t ip = ntohl(sin->sin_addr.s_addr);
	uint8_t addr[4] = {(uint8_t)(ip >> 24), (uint8_t)(ip >> 16), (uint8_t)(ip >> 8),
			   (uint8_t)ip};
	if (!pp_ratelimit_allow(s->rl, ip, pp_now_ms())) {
		s->m.hellos_rate_limited++;
		char what[64];
		snprintf(what, sizeof(what), "over %u hellos a minute", s->cfg.hello_rate_per_min);
		log_noisy(&s->hnet->log_per_source, addr, what, "dropped");
		evutil_closesocket(fd);
		return;
	}
	if (!hello_admit(s, ip, addr)) {
		evutil_closesocket(fd);
		return;
	}
	struct hello_conn *c = conn_new(s, fd, ip);
	if (!c) {
		pp_srcslots_put(s->hnet->slots, ip);
		return;
	}
	s->hello_conns++;
	TAILQ_INSERT_TAIL(&s->hnet->idle, c, idle);
	struct timeval tv = {(time_t)(s->lim.hello_deadline_ms / 1000),
			     (suseconds_t)(s->lim.hello_deadline_ms % 1000) * 1000};
	evtimer_add(c->deadline, &tv);
	bufferevent_setcb(c->bev, hello_read, NULL, hello_event, c);
	bufferevent_enable(c->bev, EV_READ);
}

static void accept_resume(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	struct pp_accept_pause *p = arg;
	/* A draining server has closed its hello listener for good. */
	if (p->l != p->s->hello_listener || !p->s->stopping)
		evconnlistener_enable(p->l);
}

void pp_server_accept_error(struct pp_server *s, struct evconnlistener *l, const char *what)
{
	int e = EVUTIL_SOCKET_ERROR();
	s->m.accept_pauses++;
	evconnlistener_disable(l);
	/* Descriptors back for the accepts to come: the longest idle connections go. */
	unsigned shed = 0;
	if (e == EMFILE || e == ENFILE || e == ENOBUFS || e == ENOMEM) {
		shed = pp_server_hello_shed(s, ACCEPT_SHED_ON_EMFILE);
		shed += pp_server_api_shed(s, ACCEPT_SHED_ON_EMFILE);
	}
	struct timeval tv = {0, ACCEPT_PAUSE_MS * 1000};
	struct pp_accept_pause *p = l == s->hello_listener ? &s->pause_hello : &s->pause_api;
	p->s = s;
	p->l = l;
	if (event_base_once(s->base, -1, EV_TIMEOUT, accept_resume, p, &tv) < 0)
		evconnlistener_enable(l);
	uint64_t skipped = 0;
	if (s->hnet &&
	    pp_every_due(&s->hnet->log_accept, pp_now_ms(), NOISY_LOG_PERIOD_MS, &skipped))
		pp_warn("server",
			"%s: accept: %s (descriptor limit %llu): paused %d ms, %u idle "
			"connection%s shed; %llu more such pause%s in the last %d s",
			what, evutil_socket_error_to_string(e), (unsigned long long)s->lim.nofile,
			ACCEPT_PAUSE_MS, shed, shed == 1 ? "" : "s", (unsigned long long)skipped,
			skipped == 1 ? "" : "s", NOISY_LOG_PERIOD_MS / 1000);
}

static void hello_accept_error(struct evconnlistener *l, void *arg)
{
	pp_server_accept_error(arg, l, "hello listener");
}

int pp_server_hello_start(struct pp_server *s, struct pp_err *err)
{
	struct sockaddr_in sin;
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_port = htons(s->cfg.hello_port);
	memcpy(&sin.sin_addr.s_addr, s->cfg.hello_ip, 4);
	s->hello_listener = evconnlistener_new_bind(s->base, hello_accept, s,
						    LEV_OPT_CLOSE_ON_FREE | LEV_OPT_REUSEABLE |
							LEV_OPT_CLOSE_ON_EXEC,
						    1024, (struct sockaddr *)&sin, sizeof(sin));
	if (s->hello_listener)
		evconnlistener_set_error_cb(s->hello_listener, hello_accept_error);
	if (!s->hello_listener)
		return pp_err_set(err, PP_EIO, "cannot listen for hellos on %u.%u.%u.%u:%u: %s",
				  s->cfg.hello_ip[0], s->cfg.hello_ip[1], s->cfg.hello_ip[2],
				  s->cfg.hello_ip[3], s->cfg.hello_port,
				  evutil_socket_error_to_string(EVUTIL_SOCKET_ERROR()));
	if (pp_ratelimit_new(s->cfg.hello_rate_per_min, s->cfg.hello_rate_per_min, 65536, &s->rl) <
	    0)
		return pp_err_set(err, PP_ENOMEM, "cannot make the hello rate limiter");
	s->seen = calloc(HELLO_SEEN_SLOTS, sizeof(*s->seen));
	if (!s->seen)
		return pp_err_set(err, PP_ENOMEM, "cannot make the hello table");
	s->hnet = calloc(1, sizeof(*s->hnet));
	if (!s->hnet)
		return pp_err_set(err, PP_ENOMEM, "cannot make the hello connection table");
	TAILQ_INIT(&s->hnet->idle);
	if (pp_srcslots_new(s->lim.hello_per_source, s->lim.hello_max_conns + 1, &s->hnet->slots) <
	    0)
		return pp_err_set(err, PP_ENOMEM, "cannot make the hello source table");
	return 0;
}

void pp_server_hello_stop(struct pp_server *s)
{
	if (s->hello_listener)
		evconnlistener_free(s->hello_listener);
	s->hello_listener = NULL;
	if (s->hnet) {
		while (!TAILQ_EMPTY(&s->hnet->idle))
			conn_free(TAILQ_FIRST(&s->hnet->idle));
		pp_srcslots_free(s->hnet->slots);
		free(s->hnet);
		s->hnet = NULL;
	}
	pp_ratelimit_free(s->rl);
	s->rl = NULL;
	free(s->seen);
	s->seen = NULL;
}
