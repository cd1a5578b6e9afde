#include "server/service.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

#include "core/bytes.h"
#include "core/clock.h"
#include "core/parse.h"
#include "prog/cli.h"
#include "prog/log.h"

int pp_service_lock(const char *dir, int *fd, struct pp_err *err)
{
	return pp_datadir_lock(dir, "another pskprov server", "stop it first, or use another -d",
			       fd, err);
}

static void drain_end(struct pp_service *v, const char *why)
{
	struct pp_server *s = v->s;
	if (s->m.sessions_active)
		pp_warn("server",
			"%s: %llu sessions left to their leases (they resume from their "
			"last step)",
			why, (unsigned long long)s->m.sessions_active);
	else
		pp_info("server", "%s: no session in flight", why);
	event_base_loopexit(s->base, NULL);
}

static void on_drain_tick(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	struct pp_service *v = arg;
	struct pp_server *s = v->s;
	if (s->m.sessions_active == 0 && pp_dbq_pending(s->dbq) == 0)
		drain_end(v, "drained");
	else if (pp_now_ms() / 1000.0 - v->drain_started >= s->cfg.drain_seconds)
		drain_end(v, "drain_seconds reached");
}

/* SIGTERM, SIGINT: the first stops claims and hellos and lets the sessions in flight
 * finish within drain_seconds; a second one exits at once. */
static void on_stop_signal(evutil_socket_t sig, short what, void *arg)
{
	(void)what;
	struct pp_service *v = arg;
	struct pp_server *s = v->s;
	if (v->draining) {
		drain_end(v, "second signal: exiting now");
		return;
	}
	v->draining = true;
	s->stopping = true;
	v->drain_started = pp_now_ms() / 1000.0;
	if (s->hello_listener)
		evconnlistener_disable(s->hello_listener);
	pp_notify_stopping(s);
	pp_info("server",
		"signal %d: draining: no new claim or hello, %llu sessions in flight get up to "
		"%u s (a second signal exits at once)",
		(int)sig, (unsigned long long)s->m.sessions_active, s->cfg.drain_seconds);
	struct timeval tick = {0, 100 * 1000};
	if (s->cfg.drain_seconds == 0 || !v->drain_timer || event_add(v->drain_timer, &tick) < 0)
		drain_end(v, "no drain");
	else
		on_drain_tick(-1, 0, v);
}

static void apply_reload(struct pp_service *v, const struct pp_config *fresh)
{
	struct pp_server *s = v->s;
	uint32_t level = v->file_cfg.log_level;
	char restart[512];
	int n = pp_config_reload(&s->cfg, &v->file_cfg, fresh, restart, sizeof(restart));
	if (s->cfg.max_sessions > v->sessions_cap) {
		pp_warn("server", "max_sessions %u does not fit in the descriptor limit: %u",
			s->cfg.max_sessions, v->sessions_cap);
		s->cfg.max_sessions = v->sessions_cap;
	}
	pp_admit_bounds(&s->admit, s->cfg.admission_floor, s->cfg.max_sessions);
	if (v->file_cfg.log_level != level)
		pp_log_set_level((enum pp_log_level)v->file_cfg.log_level);
	pp_info("server", "reloaded %s: %d settings changed (log level %s)", v->config_path, n,
		pp_config_log_levels[v->file_cfg.log_level]);
	if (restart[0])
		pp_warn("server", "%s: %s changed: needs a restart (the running values are kept)",
			v->config_path, restart);
}

/* SIGHUP: the configuration file again; what can change live does (pp_config_reload). */
static void on_reload_signal(evutil_socket_t sig, short what, void *arg)
{
	(void)sig;
	(void)what;
	struct pp_service *v = arg;
	pp_notify_reloading();
	struct pp_config fresh;
	struct pp_err err = {0};
	pp_config_defaults(&fresh);
	if (pp_config_load(&fresh, v->config_path, &err) < 0)
		pp_error("server", "reload: %s; the running configuration is kept", err.msg);
	else
		apply_reload(v, &fresh);
	pp_notify_ready(v->s);
}

int pp_service_start(struct pp_service *v, struct pp_err *err)
{
	struct event_base *b = v->s->base;
	v->sig_int = evsignal_new(b, SIGINT, on_stop_signal, v);
	v->sig_term = evsignal_new(b, SIGTERM, on_stop_signal, v);
	v->sig_hup = evsignal_new(b, SIGHUP, on_reload_signal, v);
	v->drain_timer = event_new(b, -1, EV_PERSIST, on_drain_tick, v);
	if (!v->sig_int || !v->sig_term || !v->sig_hup || !v->drain_timer ||
	    event_add(v->sig_int, NULL) < 0 || event_add(v->sig_term, NULL) < 0 ||
	    event_add(v->sig_hup, NULL) < 0)
		return pp_err_set(err, PP_ENOMEM, "cannot create the signal events");
	return pp_notify_start(v->s, &v->notify, err);
}

static void free_opt(struct event *ev)
{
	if (ev)
		event_free(ev);
}

void pp_service_stop(struct pp_service *v)
{
	free_opt(v->sig_int);
	free_opt(v->sig_term);
	free_opt(v->sig_hup);
	free_opt(v->drain_timer);
	v->sig_int = v->sig_term = v->sig_hup = v->drain_timer = NULL;
	pp_notify_free(v->notify);
	v->notify = NULL;
}
