/* libevent helpers the programs share (the server's sessions, the device emulator). */
#ifndef PSKPROV_PROG_EVIO_H
#define PSKPROV_PROG_EVIO_H

#include <event2/bufferevent.h>

/* An HTTP message leaves as one TLS record in one write(2). evhttp queues headers and
 * body as two pieces, and a TLS bufferevent seals each piece it finds in its own record:
 * two records and two writes a message, and the peer reads four times. The pieces are
 * joined as soon as they are queued (the write happens later, from the loop); the bytes
 * inside the tunnel are the same. Returns 0, or -1 when the callback cannot be added. */
int pp_bev_one_record(struct bufferevent *bev);

#endif
