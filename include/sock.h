/*
 * sock.h: the two helpers every client socket of ours needs, with deadlines as absolute
 * CLOCK_MONOTONIC milliseconds: the clock, and a poll(2) wait. Used by the ACS client (acs.c)
 * and the resolver (dns.c); the TLS client keeps its own, which also records BearSSL's state.
 */
#ifndef NOTIFY_SOCK_H
#define NOTIFY_SOCK_H

#include <stddef.h>
#include <stdint.h>

/* CLOCK_MONOTONIC in milliseconds: the time base of every deadline. */
int64_t sock_now_ms(void);

/* Waits until fd has one of `events` (POLLIN, POLLOUT; an error or hang-up also ends the wait,
 * for the next call to report) or the deadline passes. Returns 0, -ERR_TIMEOUT or -ERR_IO. */
int sock_wait(int fd, short events, int64_t deadline_ms);

/* CLOCK_MONOTONIC in nanoseconds, for latencies. */
int64_t sock_now_ns(void);

/* The non-blocking calls of the server core (server.c). */

/* One recv(2) without waiting. Returns the count (> 0), 0 at the end of the stream,
 * -ERR_PARTIAL when nothing is there yet, or -ERR_IO (reset, error). */
long sock_recv(int fd, void *p, size_t n);

/* One send(2) without waiting and without SIGPIPE. Returns the count (> 0), -ERR_PARTIAL when
 * the socket buffer is full, or -ERR_IO. */
long sock_send(int fd, const void *p, size_t n);

/* Accepts one connection, non-blocking and close-on-exec. Returns the descriptor,
 * -ERR_PARTIAL when none is waiting, -ERR_UNAVAILABLE when out of descriptors or memory
 * (EMFILE, ENFILE, ENOBUFS, ENOMEM), or -ERR_IO. */
int sock_accept(int lfd);

/* TCP_NODELAY: each answer leaves in one segment, with no Nagle delay behind a delayed ACK. */
void sock_nodelay(int fd);

#endif
