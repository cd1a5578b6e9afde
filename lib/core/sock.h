/* Socket options the programs share. */
#ifndef PSKPROV_CORE_SOCK_H
#define PSKPROV_CORE_SOCK_H

/* Turns Nagle's algorithm off on a TCP socket: an HTTP message written in two pieces
 * (headers, body; or two TLS records) must not wait for the peer's delayed ACK, about
 * 40 ms on Linux, once per exchange. Returns 0, or -1 with errno set. */
int pp_sock_nodelay(int fd);

#endif
