/* The server as a service (docs/operations.md "The service"): the data directory's lock,
 * signals (SIGTERM/SIGINT drain, SIGHUP reload) and the notifications to systemd. */
#ifndef PSKPROV_SERVER_SERVICE_H
#define PSKPROV_SERVER_SERVICE_H

#include "server/notify.h"
#include "server/server.h"

struct pp_service {
	struct pp_server *s;
	char config_path[4160];
	struct pp_config file_cfg; /* the file as last read: what a reload compares with */
	uint32_t sessions_cap;     /* max_sessions the descriptor budget allows */
	struct event *sig_int, *sig_term, *sig_hup, *drain_timer;
	struct pp_notify *notify;
	int lock_fd; /* -1: none */
	bool draining;
	double drain_started;
};

/* An advisory lock (flock) on DIR/pskprov.lock, held for the life of the process (the
 * descriptor is never closed): a second server on the same SQLite data directory is
 * refused with -PP_EEXIST and a message naming the holder's pid. */
int pp_service_lock(const char *dir, int *fd, struct pp_err *err) PP_WUR;
/* The signal events and the systemd timer, on s->base. */
int pp_service_start(struct pp_service *v, struct pp_err *err) PP_WUR;
void pp_service_stop(struct pp_service *v);

#endif
