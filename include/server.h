/*
 * server.h: the connection core, an HTTP/1.1 server around the pure parser (http.h) and the
 * routes (app.h).
 *
 * Model (nginx, h2o and lwan have the same shape): one event-loop thread owns the listening
 * socket and every client connection. Every socket is non-blocking and registered once in an
 * epoll set (edge-triggered). The loop reads bytes into the connection's own buffer, parses the
 * head, runs the routes that need neither a body nor a transport (readiness, 404, 405, 401,
 * 415) itself, and reads the body; only a complete request goes to the fixed pool of workers,
 * which validate, check idempotency and send (the transport may wait on ACS within its own
 * deadline). A worker writes its answer with one non-blocking send and hands the connection
 * back; whatever the client did not take yet stays in the connection's output buffer for the
 * loop to finish. So a connection that waits for bytes holds no worker, a worker never blocks
 * on a client, and accepting never waits for a busy worker.
 *
 * Deadlines are absolute (CLOCK_MONOTONIC), checked by the loop:
 *  - head: header_timeout_ms from the accept (first request) or from the first byte of a
 *    request on a kept-alive connection;
 *  - body: body_timeout_ms in total from the end of the head, and no gap between bytes longer
 *    than read_timeout_ms (whichever comes first); a total, not a minimum rate, because the
 *    body limit bounds the size and a rate would let a 1 MiB body take minutes;
 *  - answer: write_timeout_ms for the whole answer from its first byte;
 *  - idle: idle_timeout_ms between an answer and the next request's first byte. A connection
 *    with unread bytes is never idle.
 * A head or body past its deadline gets 408; an answer past its deadline is cut (the client is
 * not reading); an idle connection is closed.
 *
 * Memory: each connection slot has its own region of virtual memory reserved once at start
 * (main.c maps it without committing it): the request buffer, then the output buffer. Pages are
 * touched only as bytes arrive; the ones past SERVER_CONN_BASE are given back to the kernel
 * (MADV_DONTNEED) when the request is done, and all of them when the connection ends or has been
 * idle for SERVER_IDLE_TRIM_MS. Bytes held past each connection's first
 * SERVER_CONN_BASE count against max_inflight: a read that would exceed it is refused with 503,
 * so RSS stays bounded under any mix of clients while small ordinary requests still pass.
 *
 * Backpressure: a connection is read only while its current request is incomplete, and
 * dispatches its next (pipelined) request only after the previous answer has left in full; a
 * client that does not read its answers therefore holds at most one answer and is closed at the
 * write deadline. A failed write closes the connection.
 *
 * Descriptors: server_init() clamps max_conns to what RLIMIT_NOFILE allows (raising the soft
 * limit to the hard one first), keeping SERVER_FD_RESERVE for workers. Past max_conns a client
 * gets a 503 and is closed; at EMFILE/ENFILE the loop spends its one reserve descriptor
 * (only the loop touches it) on a 503 for the next client, and when even that fails it stops
 * accepting for SERVER_ACCEPT_PAUSE_MS. It never spins on a listening socket it cannot serve.
 *
 * Drain (SIGTERM/SIGINT or server_stop): stop accepting after taking what the kernel already
 * accepted, close idle connections (one accepted moments ago gets SERVER_DRAIN_GRACE_MS to send
 * its request), finish what is in flight with "Connection: close", and return within
 * drain_timeout_ms. Nothing allocates: the caller provides all memory.
 */
#ifndef NOTIFY_SERVER_H
#define NOTIFY_SERVER_H

#include <pthread.h>
#include <semaphore.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "app.h"
#include "http.h"
#include "log.h"

/* Extra request-buffer room beyond headers + body limit: the start of a pipelined request read
 * together with the end of a body, and the raw bytes of one read while a chunked body is
 * decoded in place. */
#define SERVER_READ_SLACK 16384
/* Room in a connection's output buffer beyond one worker answer: a 100 Continue still waiting
 * to leave when the answer is queued behind it. */
#define SERVER_OUT_SLACK 256
/* Bytes of each connection's request buffer that do not count against max_inflight and are not
 * given back between requests: one page holds every ordinary request (a few hundred bytes of
 * head and body), so these never wait for the budget and cost no madvise call. */
#define SERVER_CONN_BASE 4096
/* After an early error answer, how long and how much of the unread request to drain before
 * closing, so the client reads the answer instead of a TCP reset (RFC 9112 9.6). The same
 * bound caps the write of an answer to a client whose request timed out. */
#define SERVER_LINGER_MS    1000
#define SERVER_LINGER_BYTES (256 * 1024)
/* During a drain, a connection accepted moments ago gets this long to send its request. */
#define SERVER_DRAIN_GRACE_MS 200
/* Worker thread stack: handlers keep big state in their slot; 256 KiB leaves room for
 * sanitizer builds (musl's default is 128 KiB). Only touched pages cost memory. */
#define SERVER_STACK_SIZE (256 * 1024)
/* Connections taken from the kernel per wake-up, so a flood cannot starve the connections
 * that already have bytes waiting. */
#define SERVER_ACCEPT_BATCH 64
/* Events taken from epoll per wake-up. */
#define SERVER_EVENTS 128
/* Requests of one connection answered by the loop itself (404s, readiness) before it turns to
 * the others: a pipelining client gets no more than its share. */
#define SERVER_PIPELINE_BURST 16
/* How often the loop checks deadlines; they are seconds long, so 50 ms is precise enough and
 * costs one pass over the open connections 20 times a second. */
#define SERVER_TICK_MS 50
/* Out of descriptors with the reserve spent: stop accepting this long, then try again. */
#define SERVER_ACCEPT_PAUSE_MS 100
/* Descriptors kept for everything but client connections: stdio, the listening socket, epoll,
 * eventfd, signalfd, the reserve, the outbox directory, and slack for start-up files. Each
 * worker adds SERVER_FD_PER_WORKER (an outbox file and its directory, or an ACS connection and a
 * resolver socket, and a token fetch). */
#define SERVER_FD_FIXED            16
#define SERVER_FD_PER_WORKER       3
#define SERVER_FD_RESERVE(workers) (SERVER_FD_FIXED + SERVER_FD_PER_WORKER * (workers))
/* A connection idle this long gives back its first page too (one madvise), so a thousand
 * waiting kept-alive connections cost their slots' bookkeeping only. */
#define SERVER_IDLE_TRIM_MS 1000
/* Warnings the loop logs about refused clients, at most one per this many ms per kind. */
#define SERVER_WARN_EVERY_MS 1000

struct server_opts {
	const char *bind; /* IPv4 or IPv6 literal */
	int port;
	int workers;
	int max_conns;       /* may be lowered by server_init (RLIMIT_NOFILE) */
	size_t max_body;     /* body limit of the routes that name none */
	size_t max_inflight; /* bytes held past each connection's SERVER_CONN_BASE, in total */
	int header_timeout_ms, body_timeout_ms, read_timeout_ms, write_timeout_ms;
	int idle_timeout_ms, drain_timeout_ms;
	/* Called once when a drain begins (NULL: none): a transport stops waiting between
	 * retries, so in-flight requests answer within the drain timeout. */
	void (*on_drain)(void *arg);
	void *on_drain_arg;
};

/* One connection slot. The state word is the only field two threads touch: the loop owns
 * every other field except while the state is CONN_BUSY, when one worker owns them. */
struct server_conn {
	_Atomic uint32_t st; /* state | SERVER_PENDING (an event came while a worker had it) */
	uint32_t gen;        /* bumped on reuse: a stale epoll event does not match */
	int fd;
	uint32_t rlen, last;   /* bytes in rbuf; length at the last head parse */
	uint32_t hlen, blen;   /* head length; decoded body bytes (at rbuf + hlen) */
	uint32_t olen, ooff;   /* bytes in obuf; bytes of them already sent */
	uint32_t rhwm, ohwm;   /* bytes of rbuf / obuf touched since the last give-back */
	uint32_t charged;      /* bytes this connection counts against max_inflight */
	uint32_t discarded;    /* bytes dropped while lingering */
	uint64_t need;         /* Content-Length of the body being read */
	size_t limit;          /* body limit of the route */
	int64_t deadline;      /* ms: when the current phase ends */
	int64_t body_deadline; /* ms: the whole-body deadline */
	int64_t accepted_ms;
	int64_t idle_ms; /* ms: since when the connection has waited with no bytes */
	int64_t t0;      /* ns: first byte of the request, for the access log */
	char *rbuf, *obuf;
	struct http_chunked ch;
	uint8_t body;        /* enum http_body_kind of the request being read */
	uint8_t keep;        /* the request allows keep-alive */
	uint8_t close_after; /* close once obuf is empty (linger when unread bytes remain) */
	uint8_t linger;      /* close via the linger phase, not at once */
	uint8_t rd_ready;    /* the socket may have bytes (no EAGAIN since the last edge) */
	uint8_t dead;        /* a worker's send failed: the loop closes it */
	uint8_t hup;         /* the client shut its side or reset: no further edge will come, so
	                        reads go on until the end of the stream is seen */
	uint8_t route;       /* enum app_route from app_head, for the worker */
	uint8_t head_only;   /* a HEAD request */
	uint16_t served;     /* requests answered on this connection (saturating) */
	uint16_t burst;      /* requests answered by the loop in its current turn */
	uint8_t in_done;     /* queued in the done ring (guarded by the server's lock) */
};

/* Event while a worker holds the connection: the loop looks again when it comes back. */
#define SERVER_PENDING 0x100u
/* ... and that event said the client shut its side or reset. */
#define SERVER_HUP 0x200u

struct server;

/* One worker's preallocated slot. */
struct server_worker {
	struct server *srv;
	pthread_t thread;
	char *obuf;  /* APP_ANSWER_MAX bytes, set by the caller */
	size_t ocap; /* size of obuf */
	/* The worker's slot (untouched memory) and what the caller planned for its pointers: the
	 * worker fills them in when it starts, and workers start only when requests need them, so
	 * an idle server has touched neither slots nor stacks. */
	struct app_slot *slot;
	struct {
		char *scratch; /* APP_SCRATCH_SIZE(body limit) */
		size_t scratch_cap;
		struct json_tok *itok; /* INVOKE_MAX_TOKENS */
		char *qbuf;            /* APP_QUEUE_MSG_MAX */
		void *wctx;            /* the transport's per-worker state */
	} plan;
};

/* A ring of connection indexes under a lock: jobs for the workers, or connections the workers
 * hand back to the loop. Each connection is in at most one ring once, so max_conns entries
 * always suffice. */
struct server_ring {
	int *idx;
	unsigned head, count, cap;
};

struct server {
	struct server_opts o;
	struct app *app;
	int lfd, ep, evfd, sigfd, spare_fd;
	struct server_conn *conns; /* max_conns entries */
	int *free_idx;             /* stack of free slot indexes (the loop's alone) */
	int nfree, used_hi;        /* free entries; slots [0, used_hi) were ever used */
	int nconns;                /* open connections */
	char *conn_mem;            /* slot i's buffers start at conn_mem + i * conn_stride */
	size_t conn_stride, rcap, ocap;
	size_t page;
	_Atomic int64_t inflight; /* bytes counted against max_inflight */
	pthread_mutex_t mu;       /* guards jobs and done */
	sem_t work;               /* counts jobs for the workers (a semaphore links less than a
	                             condition variable and wakes no one when nobody sleeps) */
	struct server_ring jobs, done;
	int started;             /* workers started (the loop's alone; lazily, up to o.workers) */
	atomic_int idle;         /* workers waiting for a job */
	struct server_worker *w; /* workers entries */
	atomic_int draining, stop_req;
	int64_t drain_deadline, accept_paused_until, next_tick, warned_full, warned_fd,
	    warned_thread;
	int listening;
	char refusal[512]; /* the 503 of a client past max_conns or the descriptor limit */
	size_t refusal_len;
};

/* Request buffer bytes of one connection for the largest body limit of any route. */
size_t server_rbuf_size(size_t max_body);

/* Bytes of one connection slot's region (request and output buffer, page-aligned). */
size_t server_conn_stride(size_t max_body);

/* The max_conns that RLIMIT_NOFILE allows for `workers` (raising the soft limit up to the hard
 * one when that helps). Returns want, or less. */
int server_fd_clamp(int want, int workers);

/*
 * Start-up: binds and listens (SO_REUSEADDR, backlog SOMAXCONN), creates the epoll set and the
 * signalfd for SIGTERM/SIGINT. conns and free_idx hold o->max_conns entries; conn_mem holds
 * o->max_conns * server_conn_stride(max route body limit) bytes (mapped, untouched); jobs and
 * done hold o->max_conns ints each; w holds o->workers entries whose obuf, ocap, slot and plan
 * the caller has set. max_route_body is the largest body limit any
 * route may set (app_head's body_limit), at least o->max_body.
 * Returns 0, or -1 with err[0..cap) saying why.
 */
int server_init(struct server *s, const struct server_opts *o, struct app *app,
                struct server_conn *conns, int *free_idx, char *conn_mem, size_t max_route_body,
                int *jobs, int *done, struct server_worker *w, char *err, size_t cap);

/* The bound port (useful with port 0). */
int server_port(const struct server *s);

/* Runs the loop until SIGTERM, SIGINT or server_stop(), then drains. The caller MUST have
 * blocked SIGTERM and SIGINT in every thread (pthread_sigmask before server_init) and ignored
 * SIGPIPE. Returns 0 after a clean drain, 1 when the drain timeout cut in-flight requests
 * short. */
int server_run(struct server *s);

/* Asks a running server to drain and return, as SIGTERM does; any thread. */
void server_stop(struct server *s);

/* server_run() in pieces, for tests that drive the loop themselves from one thread:
 * server_start() starts the first worker (-1 when it cannot start; the others start when
 * requests wait for one); server_step() waits at most
 * max_wait_ms (-1: until the next tick) and handles what came, returning 0 once a drain has
 * finished; server_finish() stops the workers and returns what server_run() returns.
 * server_adopt() takes an already connected socket (a socketpair end) as if accepted; it
 * returns -1 when every slot is taken. All but server_stop() belong to the loop's thread. */
int server_start(struct server *s);
int server_step(struct server *s, int max_wait_ms);
int server_finish(struct server *s);
int server_adopt(struct server *s, int fd);

#endif
