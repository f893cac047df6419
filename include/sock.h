/*
 * sock.h: the two helpers every client socket of ours needs, with deadlines as absolute
 * CLOCK_MONOTONIC milliseconds: the clock, and a poll(2) wait. Used by the ACS client (acs.c)
 * and the resolver (dns.c); the TLS client keeps its own, which also records BearSSL's state.
 */
#ifndef NOTIFY_SOCK_H
#define NOTIFY_SOCK_H

#include <stdint.h>

/* CLOCK_MONOTONIC in milliseconds: the time base of every deadline. */
int64_t sock_now_ms(void);

/* Waits until fd has one of `events` (POLLIN, POLLOUT; an error or hang-up also ends the wait,
 * for the next call to report) or the deadline passes. Returns 0, -ERR_TIMEOUT or -ERR_IO. */
int sock_wait(int fd, short events, int64_t deadline_ms);

#endif
