#include "server/notify.h"

#include <stdio.h>
#include <stdlib.h>
#include <systemd/sd-daemon.h>

#include "prog/log.h"

#define STATUS_EVERY_MS 5000

struct pp_notify {
	struct pp_server *s;
	struct event *timer;
	bool watchdog;
};

static bool listening(void)
{
	const char *v = getenv("NOTIFY_SOCKET");
	return v && *v;
}

static void status_text(struct pp_server *s, const char *what, char *out, size_t cap)
{
	const struct pp_server_metrics *m = &s->m;
	snprintf(out, cap, "STATUS=%llu sessions, %llu provisioned, %llu failed, %llu hellos%s%s",
		 (unsigned long long)m->sessions_active, (unsigned long long)m->provisioned,
		 (unsigned long long)m->jobs_failed, (unsigned long long)m->hellos_v2,
		 what ? "; " : "", what ? what : "");
}

void pp_notify_status(struct pp_server *s, const char *what)
{
	if (!listening())
		return;
	char st[256];
	status_text(s, what, st, sizeof(st));
	(void)sd_notify(0, st);
}

static void on_tick(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	struct pp_notify *n = arg;
	char msg[300];
	int len = snprintf(msg, sizeof(msg), "%s", n->watchdog ? "WATCHDOG=1\n" : "");
	status_text(n->s, n->s->stopping ? "stopping" : NULL, msg + len, sizeof(msg) - (size_t)len);
	(void)sd_notify(0, msg);
}

int pp_notify_start(struct pp_server *s, struct pp_notify **out, struct pp_err *err)
{
	*out = NULL;
	if (!listening())
		return 0;
	struct pp_notify *n = calloc(1, sizeof(*n));
	if (!n)
		return pp_err_set(err, PP_ENOMEM, "out of memory");
	n->s = s;
	uint64_t usec = 0;
	uint64_t every_us = (uint64_t)STATUS_EVERY_MS * 1000;
	/* 0 when systemd set no WatchdogSec= for us (or it was meant for another pid). */
	if (sd_watchdog_enabled(0, &usec) > 0 && usec > 0) {
		n->watchdog = true;
		if (usec / 2 < every_us)
			every_us = usec / 2;
		pp_info("server", "systemd watchdog: every %llu ms",
			(unsigned long long)(every_us / 1000));
	}
	struct timeval tv = {(time_t)(every_us / 1000000), (suseconds_t)(every_us % 1000000)};
	n->timer = event_new(s->base, -1, EV_PERSIST, on_tick, n);
	if (!n->timer || event_add(n->timer, &tv) < 0) {
		pp_notify_free(n);
		return pp_err_set(err, PP_ENOMEM, "cannot create the watchdog timer");
	}
	*out = n;
	return 0;
}

void pp_notify_free(struct pp_notify *n)
{
	if (!n)
		return;
	if (n->timer)
		event_free(n->timer);
	free(n);
}

void pp_notify_ready(struct pp_server *s)
{
	if (!listening())
		return;
	char msg[300];
	int len = snprintf(msg, sizeof(msg), "READY=1\n");
	status_text(s, "ready", msg + len, sizeof(msg) - (size_t)len);
	(void)sd_notify(0, msg);
}

void pp_notify_reloading(void)
{
	if (listening())
		(void)sd_notify(0, "RELOADING=1");
}

void pp_notify_stopping(struct pp_server *s)
{
	if (!listening())
		return;
	char msg[300];
	int len = snprintf(msg, sizeof(msg), "STOPPING=1\n");
	status_text(s, "draining", msg + len, sizeof(msg) - (size_t)len);
	(void)sd_notify(0, msg);
}
