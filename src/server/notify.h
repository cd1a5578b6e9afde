/* The server's notifications to systemd (sd_notify(3), Type=notify): READY=1 once the
 * store is open and the listeners are up, WATCHDOG=1 from the event loop at half of
 * $WATCHDOG_USEC (a stuck loop misses it and systemd restarts the service), STATUS=
 * with the counts, RELOADING=1 around a SIGHUP, STOPPING=1 when the drain begins.
 * Without $NOTIFY_SOCKET every call does nothing. */
#ifndef PSKPROV_SERVER_NOTIFY_H
#define PSKPROV_SERVER_NOTIFY_H

#include "server/server.h"

struct pp_notify;

/* The timer that sends WATCHDOG=1 (when systemd asked for it) and STATUS=; *out is
 * NULL, and 0 returned, when systemd does not listen. */
int pp_notify_start(struct pp_server *s, struct pp_notify **out, struct pp_err *err) PP_WUR;
void pp_notify_free(struct pp_notify *n);
void pp_notify_ready(struct pp_server *s);
void pp_notify_reloading(void);
void pp_notify_stopping(struct pp_server *s);
/* STATUS= now: "N sessions, N provisioned, N failed, N hellos[; what]". */
void pp_notify_status(struct pp_server *s, const char *what);

#endif
