/*
 * server.h: the HTTP/1.1 server loop around the pure parser (http.h) and the routes (app.h).
 *
 * Model: one epoll set holds the listening socket and every idle connection (one-shot). A fixed
 * pool of workers waits on it; a worker that takes a readable connection owns it until it is
 * idle again (answers written, no pipelined bytes left), so a request never waits for a lock and
 * each worker needs only its own preallocated slot. The calling thread sweeps idle connections
 * (idle timeout) and handles SIGTERM/SIGINT: stop accepting (after taking what the kernel has
 * already accepted), finish what is in flight, close idle connections, then return.
 * Timeouts bound every wait: a slow client holds at most one worker, for at most the header or
 * read timeout. Nothing allocates: the caller provides all memory (server_mem_*).
 */
#ifndef NOTIFY_SERVER_H
#define NOTIFY_SERVER_H

#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "app.h"
#include "http.h"

/* Extra request-buffer room beyond headers + body limit: the raw bytes of one read while a
 * chunked body is decoded in place, and the start of a pipelined request. */
#define SERVER_READ_SLACK 16384
/* After an early error answer, how long and how much of the unread request to drain before
 * closing, so the client reads the answer instead of a TCP reset (RFC 9112 9.6). */
#define SERVER_LINGER_MS    1000
#define SERVER_LINGER_BYTES (256 * 1024)
/* During a drain, a connection accepted moments ago gets this long to send its request. */
#define SERVER_DRAIN_GRACE_MS 200
/* How often a drain checks whether every connection has finished. */
#define SERVER_DRAIN_POLL_MS 5
/* Worker thread stack: handlers keep big state in their slot; 256 KiB leaves room for
 * sanitizer builds (musl's default is 128 KiB). Only touched pages cost memory. */
#define SERVER_STACK_SIZE (256 * 1024)
/* Connections taken from the kernel per wake-up, so one worker does not hoard a burst. */
#define SERVER_ACCEPT_BATCH 16

struct server_opts {
	const char *bind; /* IPv4 or IPv6 literal */
	int port;
	int workers;
	int max_conns;
	size_t max_body;
	int header_timeout_ms, read_timeout_ms, write_timeout_ms, idle_timeout_ms;
	int drain_timeout_ms;
	/* Called once when a drain begins (NULL: none): a transport stops waiting between
	 * retries, so in-flight requests answer within the drain timeout. */
	void (*on_drain)(void *arg);
	void *on_drain_arg;
};

struct server_conn {
	/* gen << 32 | state, one atomic word: a worker takes an idle connection with one
	 * compare-and-swap, no lock. gen is bumped on reuse, so a stale epoll event (an old gen)
	 * never matches. States: CONN_FREE, CONN_IDLE (armed in epoll), CONN_BUSY (a worker owns
	 * it), CONN_CLOSING (the sweeper owns it). */
	_Atomic uint64_t st;
	_Atomic int64_t idle_since_ms;
	int fd;
};

struct server;

/* One worker's preallocated slot. */
struct server_worker {
	struct server *srv;
	pthread_t thread;
	char *rbuf; /* server_rbuf_size() bytes */
	size_t rcap;
	char *obuf;          /* APP_ANSWER_MAX bytes, set by the caller */
	size_t ocap;         /* size of obuf */
	struct app_slot app; /* scratch and wctx filled by the caller */
};

struct server {
	struct server_opts o;
	struct app *app;
	int lfd, ep, evfd, spare_fd;
	struct server_conn *conns; /* max_conns entries */
	int *free_idx;             /* stack of free conn indexes, max_conns entries */
	int nfree;
	pthread_mutex_t mu;      /* guards free_idx and nfree (taken on accept and close only) */
	struct server_worker *w; /* workers entries */
	atomic_int draining, stop, busy;
};

/* Request buffer a worker needs for a body limit. */
size_t server_rbuf_size(size_t max_body);

/*
 * Start-up: binds and listens (SO_REUSEADDR, backlog SOMAXCONN), creates the epoll set. conns and
 * free_idx hold o->max_conns entries; w holds o->workers slots whose rbuf, rcap, app.scratch,
 * app.scratch_cap and app.wctx the caller has set. Returns 0, or -1 with err[0..cap) saying why.
 */
int server_init(struct server *s, const struct server_opts *o, struct app *app,
                struct server_conn *conns, int *free_idx, struct server_worker *w, char *err,
                size_t cap);

/* The bound port (useful with port 0). */
int server_port(const struct server *s);

/* Runs until SIGTERM or SIGINT, then drains. The caller MUST have blocked SIGTERM and SIGINT in
 * every thread (pthread_sigmask before server_init) and ignored SIGPIPE. Returns 0 after a clean
 * drain, 1 when the drain timeout cut in-flight requests short. */
int server_run(struct server *s);

#endif
