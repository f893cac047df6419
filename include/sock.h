/*
 * sock.h: the one socket layer. Every deadline is absolute CLOCK_MONOTONIC milliseconds
 * (sock_now_ms() + a timeout). It holds the clock, the poll(2) wait, a non-blocking connect with
 * a deadline, reads and writes with a deadline, and the non-blocking calls of the server core,
 * so the server (server.c), the resolver (dns.c), the TLS layer's waits (tls.c) and the HTTP
 * client (http_client.c) share one copy of each. No other file in src/ calls poll, connect,
 * accept, send or recv.
 *
 * Sockets given to these calls are non-blocking (SOCK_NONBLOCK); a call with a deadline that
 * would block waits with poll(2) until the deadline. Results are -ERR_x codes of err.h; where
 * errno says more (why a connect failed), it is left set.
 */
#ifndef NOTIFY_SOCK_H
#define NOTIFY_SOCK_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

/* CLOCK_MONOTONIC in milliseconds: the time base of every deadline. */
int64_t sock_now_ms(void);

/* Waits until fd has one of `events` (POLLIN, POLLOUT; an error or hang-up also ends the wait,
 * for the next call to report) or the deadline passes. Returns 0, -ERR_TIMEOUT or -ERR_IO. */
int sock_wait(int fd, short events, int64_t deadline_ms);

/* CLOCK_MONOTONIC in nanoseconds, for latencies (log.h log_ms). */
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

/* The calls with a deadline of the client side (dns.c, tls.c, http_client.c). */

/* 1 when fd is readable now (bytes, end of stream, or an error to report), without waiting;
 * 0 when a read would block. A kept-alive client connection that is readable before we asked
 * anything was closed (or spoken on unasked) by the server. */
int sock_readable(int fd);

/*
 * Opens a non-blocking, close-on-exec socket of `type` (SOCK_STREAM, SOCK_DGRAM) and connects it
 * to sa before the deadline. Returns the descriptor, -ERR_TIMEOUT when the deadline passed
 * (errno ETIMEDOUT), or -ERR_IO with errno saying why (ECONNREFUSED, ENETUNREACH, ...).
 */
int sock_connect(const struct sockaddr *sa, socklen_t len, int type, int64_t deadline_ms);

/* Writes all of p[0..n) before the deadline. Returns n, -ERR_TIMEOUT or -ERR_IO. */
long sock_write_all(int fd, const void *p, size_t n, int64_t deadline_ms);

/* Reads at least one byte into p[0..n) before the deadline: the count, 0 at a clean end of
 * stream, -ERR_TIMEOUT or -ERR_IO. */
long sock_read(int fd, void *p, size_t n, int64_t deadline_ms);

#endif
