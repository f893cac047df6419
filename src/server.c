/*
 * server.c: the connection core of server.h. One event loop (the thread that calls
 * server_run) owns the listening socket and every connection; workers run complete requests.
 * Parsing is http.c's, answers are app.c's, the socket calls sock.c's.
 *
 * A connection's state word says who owns its other fields: the loop, except in CONN_BUSY,
 * when one worker does. An epoll event for a busy connection only sets SERVER_PENDING; the
 * worker, handing the connection back, sees that its compare-and-swap failed and queues the
 * connection on the done ring so the loop looks at it again. A worker that hands back a
 * connection with nothing to do (the usual case: the answer left in full, no bytes waiting)
 * does it with that one compare-and-swap, without waking the loop.
 */
#include "server.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/auxv.h>
#include <sys/socket.h>
#include <unistd.h>

#include "err.h"
#include "sock.h"

enum { CONN_FREE, CONN_HEAD, CONN_BODY, CONN_BUSY, CONN_WRITE, CONN_LINGER };
#define STATE(st) ((st)&0xffu)

/* What one step of a connection came to. */
enum { R_MORE, R_ANSWERED, R_BUSY, R_CLOSED };

/* epoll tags for the descriptors that are not connections (connections: gen << 32 | index). */
#define TAG_LISTEN 0xffffffffu
#define TAG_WAKE   0xfffffffeu
#define TAG_SIGNAL 0xfffffffdu

/* How often a drain checks whether every connection has finished. */
#define SERVER_DRAIN_POLL_MS 5

static const char continue_100[] = "HTTP/1.1 100 Continue\r\n\r\n";

static size_t page_round(size_t n, size_t page)
{
	return (n + page - 1) / page * page;
}

/* see server.h */
size_t server_rbuf_size(size_t max_body)
{
	return HTTP_MAX_HEADER_BYTES + max_body + SERVER_READ_SLACK;
}

/* see server.h */
/* The page size from the kernel's auxiliary vector (sysconf would link 1 KB of tables). */
static size_t page_size(void)
{
	return (size_t)getauxval(AT_PAGESZ);
}

size_t server_conn_stride(size_t max_body)
{
	size_t page = page_size();
	return page_round(server_rbuf_size(max_body), page) +
	       page_round(APP_ANSWER_MAX + SERVER_OUT_SLACK, page);
}

/* see server.h */
int server_fd_clamp(int want, int workers)
{
	struct rlimit rl;
	rlim_t need = (rlim_t)want + SERVER_FD_RESERVE(workers);
	if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
		return want;
	if (rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < need) {
		rl.rlim_cur =
		    rl.rlim_max == RLIM_INFINITY || rl.rlim_max > need ? need : rl.rlim_max;
		/* prlimit on ourselves: setrlimit would make musl signal every thread (there are
		 * none yet) and link that machinery. */
		if (prlimit(0, RLIMIT_NOFILE, &rl, 0) < 0 || getrlimit(RLIMIT_NOFILE, &rl) < 0)
			return want > 0 ? 0 : want;
	}
	if (rl.rlim_cur == RLIM_INFINITY || rl.rlim_cur >= need)
		return want;
	long can = (long)rl.rlim_cur - SERVER_FD_RESERVE(workers);
	return can < 0 ? 0 : (int)can;
}

/* ---- rings -------------------------------------------------------------------------------- */

static void ring_push(struct server_ring *r, int idx)
{
	r->idx[(r->head + r->count++) % r->cap] = idx;
}

static int ring_pop(struct server_ring *r)
{
	int idx = r->idx[r->head];
	r->head = (r->head + 1) % r->cap;
	r->count--;
	return idx;
}

/* Queues c for the loop to look at again (any thread); wakes the loop when the ring was empty,
 * so a burst of hand-backs costs one wake-up. */
static void push_done(struct server *s, struct server_conn *c)
{
	int wake = 0;
	pthread_mutex_lock(&s->mu);
	if (!c->in_done) {
		c->in_done = 1;
		wake = s->done.count == 0;
		ring_push(&s->done, (int)(c - s->conns));
	}
	pthread_mutex_unlock(&s->mu);
	uint64_t one = 1;
	if (wake && write(s->evfd, &one, sizeof one) < 0)
		(void)0; /* the eventfd counter cannot overflow here; the loop wakes either way */
}

/* ---- logging ------------------------------------------------------------------------------ */

/* Logs one answered request. */
static void log_request(const struct http_request *req, const struct app_reply *r, int64_t t0)
{
	struct log_line l;
	if (!log_begin(&l, r->status >= 500 ? LOG_ERROR : LOG_INFO, "http.request"))
		return;
	if (req) {
		log_str(&l, "method", req->method, req->method_len);
		const char *q = memchr(req->target, '?', req->target_len);
		log_str(&l, "path", req->target, q ? (size_t)(q - req->target) : req->target_len);
	}
	log_int(&l, "status", r->status);
	log_ms(&l, "latency_ms", sock_now_ns() - t0);
	if (r->id[0])
		log_cstr(&l, "operation_id", r->id);
	if (r->err) {
		log_cstr(&l, "error", err_slug(r->err));
		if (r->field[0])
			log_cstr(&l, "field", r->field);
	}
	if (r->recipients) {
		log_int(&l, "recipients", r->recipients);
		log_addr(&l, "to", r->first_rcpt, r->first_rcpt_len);
	}
	if (r->replayed)
		log_int(&l, "replayed", 1);
	log_end(&l);
}

/* A warning about refused clients, at most once per SERVER_WARN_EVERY_MS per kind. */
static void warn(int64_t *last, const char *event, struct server *s)
{
	int64_t now = sock_now_ms();
	struct log_line l;
	if (now - *last < SERVER_WARN_EVERY_MS)
		return;
	*last = now;
	if (log_begin(&l, LOG_WARN, event)) {
		log_int(&l, "connections", s->nconns);
		log_int(&l, "max_connections", s->o.max_conns);
		log_end(&l);
	}
}

/* ---- buffers and the in-flight budget ----------------------------------------------------- */

/* Brings this connection's share of s->inflight up to date (the owner calls it). */
static void charge(struct server *s, struct server_conn *c)
{
	uint32_t ch =
	    (c->rlen > SERVER_CONN_BASE ? c->rlen - SERVER_CONN_BASE : 0) + (c->olen - c->ooff);
	if (ch != c->charged) {
		atomic_fetch_add(&s->inflight, (int64_t)ch - (int64_t)c->charged);
		c->charged = ch;
	}
}

/* Gives the pages this connection no longer needs back to the kernel: those of rbuf past
 * SERVER_CONN_BASE and its bytes, and all of obuf once it is empty. */
static void trim(struct server *s, struct server_conn *c)
{
	size_t keep = page_round(c->rlen > SERVER_CONN_BASE ? c->rlen : SERVER_CONN_BASE, s->page);
	if (c->rhwm > keep) {
		madvise(c->rbuf + keep, page_round(c->rhwm, s->page) - keep, MADV_DONTNEED);
		c->rhwm = (uint32_t)keep;
	}
	if (c->olen == 0 && c->ohwm > 0) {
		madvise(c->obuf, page_round(c->ohwm, s->page), MADV_DONTNEED);
		c->ohwm = 0;
	}
}

/* Bytes c may still read: its room, within its base page and the budget. */
static size_t read_room(struct server *s, struct server_conn *c)
{
	size_t room = s->rcap - c->rlen;
	size_t base = c->rlen < SERVER_CONN_BASE ? SERVER_CONN_BASE - c->rlen : 0;
	int64_t left = (int64_t)s->o.max_inflight - atomic_load(&s->inflight);
	size_t can = base + (left > 0 ? (size_t)left : 0);
	return room < can ? room : can;
}

/* Queues p[0..n) for the client (the owner calls it): sends what the socket takes now and keeps
 * the rest in obuf, starting the write deadline. Returns 0, or -1 when the connection is dead
 * or the rest does not fit (obuf or the budget): the caller closes it. */
static int conn_out(struct server *s, struct server_conn *c, const char *p, size_t n)
{
	if (c->olen == c->ooff) {
		c->olen = c->ooff = 0;
		while (n > 0) {
			long w = sock_send(c->fd, p, n);
			if (w == -ERR_PARTIAL)
				break;
			if (w < 0)
				return -1;
			p += w;
			n -= (size_t)w;
		}
		if (n == 0)
			return 0;
		c->deadline = sock_now_ms() + s->o.write_timeout_ms;
	}
	if (c->olen + n > s->ocap ||
	    atomic_load(&s->inflight) + (int64_t)n > (int64_t)s->o.max_inflight)
		return -1;
	memcpy(c->obuf + c->olen, p, n);
	c->olen += (uint32_t)n;
	if (c->olen > c->ohwm)
		c->ohwm = c->olen;
	charge(s, c);
	return 0;
}

/* Sends what obuf holds. Returns 1 when it is empty, 0 when the socket is full, -1 when the
 * connection is dead. */
static int flush(struct server *s, struct server_conn *c)
{
	while (c->ooff < c->olen) {
		long w = sock_send(c->fd, c->obuf + c->ooff, c->olen - c->ooff);
		if (w == -ERR_PARTIAL) {
			charge(s, c);
			return 0;
		}
		if (w < 0)
			return -1;
		c->ooff += (uint32_t)w;
	}
	c->olen = c->ooff = 0;
	charge(s, c);
	trim(s, c);
	return 1;
}

/* ---- connection life ---------------------------------------------------------------------- */

/* Gives every touched page of c's buffers back (a closed or long-idle connection). */
static void trim_all(struct server *s, struct server_conn *c)
{
	if (c->rhwm > 0) {
		madvise(c->rbuf, page_round(c->rhwm, s->page), MADV_DONTNEED);
		c->rhwm = 0;
	}
	trim(s, c);
}

static void conn_close(struct server *s, struct server_conn *c)
{
	close(c->fd); /* also leaves the epoll set: no other descriptor refers to the socket */
	c->fd = -1;
	c->rlen = c->olen = c->ooff = 0;
	charge(s, c);
	trim_all(s, c);
	c->gen++;
	atomic_store(&c->st, CONN_FREE);
	s->free_idx[s->nfree++] = (int)(c - s->conns);
	s->nconns--;
}

/* After an answer with nothing left to send: ready for the next request, whose bytes may
 * already be buffered (pipelining). */
static void prep_next(struct server *s, struct server_conn *c)
{
	int64_t now = sock_now_ms();
	c->hlen = c->last = c->blen = 0;
	c->body = HTTP_BODY_NONE;
	if (c->rlen > 0) {
		c->t0 = sock_now_ns();
		c->deadline = now + s->o.header_timeout_ms;
	} else {
		c->deadline = now + s->o.idle_timeout_ms;
		c->idle_ms = now;
	}
}

static void start_next(struct server *s, struct server_conn *c)
{
	prep_next(s, c);
	atomic_store(&c->st, CONN_HEAD);
}

/* Discards what the client still sends after an early answer, within SERVER_LINGER_BYTES;
 * closes at its end, at the limit, or (by the sweep) at the linger deadline. */
static void linger_read(struct server *s, struct server_conn *c)
{
	while (c->discarded < SERVER_LINGER_BYTES) {
		long n = sock_recv(c->fd, c->rbuf, SERVER_CONN_BASE);
		if (n == -ERR_PARTIAL)
			return;
		if (n <= 0)
			break;
		c->discarded += (uint32_t)n;
	}
	conn_close(s, c);
}

/* The answer is out: close now, or stop sending and linger while the client sends the rest. */
static void finish_close(struct server *s, struct server_conn *c)
{
	if (!c->linger) {
		conn_close(s, c);
		return;
	}
	shutdown(c->fd, SHUT_WR);
	c->discarded = 0;
	c->rlen = 0;
	charge(s, c);
	c->deadline = sock_now_ms() + SERVER_LINGER_MS;
	atomic_store(&c->st, CONN_LINGER);
	linger_read(s, c);
}

/* After the loop queued an answer: wait for it to leave, close, or go on. */
static int after_answer(struct server *s, struct server_conn *c)
{
	if (c->olen > c->ooff) {
		atomic_store(&c->st, CONN_WRITE);
		return R_ANSWERED;
	}
	if (c->close_after) {
		finish_close(s, c);
		return R_CLOSED;
	}
	start_next(s, c);
	return R_ANSWERED;
}

/* Answers an error the loop found itself (parse, framing, size, deadline, budget) and closes
 * after a linger. */
static int early_error(struct server *s, struct server_conn *c, const struct http_request *req,
                       int err)
{
	char mem[APP_RESPONSE_MAX];
	struct buf out;
	struct app_reply r;
	memset(&r, 0, sizeof r);
	r.err = err;
	r.status = err_http_status(err);
	buf_init(&out, mem, sizeof mem);
	app_problem(&out, err, 0,
	            err == -ERR_UNAVAILABLE ? "the server holds too many request bytes; retry" : 0,
	            err == -ERR_UNAVAILABLE ? "Retry-After: 1\r\n" : 0, 0);
	log_request(req, &r, c->t0);
	c->close_after = c->linger = 1;
	c->rlen = 0;
	charge(s, c);
	if (conn_out(s, c, out.p, out.len) < 0) {
		conn_close(s, c);
		return R_CLOSED;
	}
	int64_t linger = sock_now_ms() + SERVER_LINGER_MS;
	if (c->olen > c->ooff && c->deadline > linger)
		c->deadline = linger;
	return after_answer(s, c);
}

static int start_worker(struct server *s);

/* Hands a complete request to a worker, starting one more when the waiting jobs outnumber the
 * idle workers and the pool is not full yet. */
static int dispatch(struct server *s, struct server_conn *c)
{
	atomic_store(&c->st, CONN_BUSY);
	pthread_mutex_lock(&s->mu);
	ring_push(&s->jobs, (int)(c - s->conns));
	int more = (int)s->jobs.count > atomic_load(&s->idle);
	pthread_mutex_unlock(&s->mu);
	sem_post(&s->work); /* a futex wake only when a worker sleeps */
	if (more && s->started < s->o.workers)
		start_worker(s); /* on failure the running workers take the job */
	return R_BUSY;
}

/* The head is complete at rbuf[0..hlen): route it. Answers what needs no worker. */
static int on_head(struct server *s, struct server_conn *c, struct http_request *req)
{
	struct http_framing f;
	struct app_reply r;
	char mem[APP_RESPONSE_MAX];
	struct buf out;
	int rc = http_request_framing(req, &f);
	if (rc < 0)
		return early_error(s, c, req, rc);
	int keep = f.keep_alive && !atomic_load(&s->draining);
	int body_pending =
	    f.body == HTTP_BODY_CHUNKED || (f.body == HTTP_BODY_LENGTH && f.content_length > 0);
	buf_init(&out, mem, sizeof mem);
	if (app_head(s->app, 0, req, &out, keep && !body_pending, &r) != 0) {
		log_request(req, &r, c->t0);
		c->served += c->served < UINT16_MAX;
		if (body_pending) { /* the body is not wanted: answer, then linger it away */
			c->close_after = c->linger = 1;
			c->rlen = 0;
		} else {
			c->close_after = !keep;
			memmove(c->rbuf, c->rbuf + c->hlen, c->rlen - c->hlen);
			c->rlen -= c->hlen;
		}
		charge(s, c);
		if (conn_out(s, c, out.p, out.len) < 0) {
			conn_close(s, c);
			return R_CLOSED;
		}
		trim(s, c);
		return after_answer(s, c);
	}
	size_t limit = r.body_limit ? r.body_limit : s->o.max_body;
	if (f.body == HTTP_BODY_LENGTH && f.content_length > limit)
		return early_error(s, c, req, -ERR_BODY_TOO_LARGE);
	c->route = (uint8_t)r.route;
	c->head_only = (uint8_t)r.head_only;
	c->keep = (uint8_t)keep;
	c->limit = limit;
	c->body = (uint8_t)f.body;
	c->need = f.body == HTTP_BODY_LENGTH ? f.content_length : 0;
	c->blen = 0;
	if (f.body == HTTP_BODY_CHUNKED)
		http_chunked_init(&c->ch);
	/* RFC 9110 10.1.1: a 100 goes only to HTTP/1.1 clients that have not sent the body yet. */
	if (f.expect_continue && req->minor_version == 1 && body_pending && c->rlen == c->hlen &&
	    conn_out(s, c, continue_100, sizeof continue_100 - 1) < 0) {
		conn_close(s, c);
		return R_CLOSED;
	}
	int64_t now = sock_now_ms();
	c->body_deadline = now + s->o.body_timeout_ms;
	c->deadline = now + s->o.read_timeout_ms;
	if (c->deadline > c->body_deadline)
		c->deadline = c->body_deadline;
	atomic_store(&c->st, CONN_BODY);
	return R_MORE;
}

/* Makes what progress the buffered bytes allow: parse the head, decode the body, dispatch. */
static int advance(struct server *s, struct server_conn *c)
{
	if (STATE(atomic_load(&c->st)) == CONN_HEAD) {
		struct http_header hdrs[HTTP_MAX_HEADERS];
		struct http_request req;
		if (c->rlen == 0)
			return R_MORE;
		int h = http_request_parse(c->rbuf, c->rlen, &req, hdrs, HTTP_MAX_HEADERS, c->last);
		if (h == -ERR_PARTIAL) {
			c->last = c->rlen;
			return R_MORE;
		}
		if (h < 0)
			return early_error(s, c, 0, h);
		c->hlen = (uint32_t)h;
		int rc = on_head(s, c, &req);
		if (rc != R_MORE)
			return rc;
	}
	if (c->body == HTTP_BODY_LENGTH) {
		if (c->rlen - c->hlen < c->need)
			return R_MORE;
		c->blen = (uint32_t)c->need;
	} else if (c->body == HTTP_BODY_CHUNKED) {
		size_t n = c->rlen - c->hlen - c->blen;
		int rc = http_chunked_decode(&c->ch, c->rbuf + c->hlen + c->blen, &n);
		c->blen += (uint32_t)n;
		if (c->ch.total > c->limit)
			return early_error(s, c, 0, -ERR_BODY_TOO_LARGE);
		if (rc == -ERR_PARTIAL) {
			c->rlen = c->hlen + c->blen;
			charge(s, c);
			if (c->rlen == s->rcap)
				return early_error(s, c, 0, -ERR_BODY_TOO_LARGE);
			return R_MORE;
		}
		if (rc < 0)
			return early_error(s, c, 0, rc);
		c->rlen = c->hlen + c->blen + (uint32_t)rc;
		charge(s, c);
	}
	return dispatch(s, c);
}

/* Reads once. Returns R_MORE after bytes arrived, R_BUSY when the socket has none now (wait
 * for the next edge), R_CLOSED when the connection ended. */
static int conn_read(struct server *s, struct server_conn *c)
{
	size_t room = read_room(s, c);
	if (room == 0)
		return c->rlen == s->rcap ? early_error(s, c, 0, -ERR_BODY_TOO_LARGE)
		                          : early_error(s, c, 0, -ERR_UNAVAILABLE);
	long n = sock_recv(c->fd, c->rbuf + c->rlen, room);
	if (n == -ERR_PARTIAL) {
		c->rd_ready = 0;
		return R_BUSY;
	}
	if (n <= 0) { /* reset, or the client shut its side before finishing a request */
		conn_close(s, c);
		return R_CLOSED;
	}
	/* A short read emptied the socket: the next bytes bring a new edge, unless the client has
	 * already shut its side (then the end of the stream is still to be read). */
	c->rd_ready = (size_t)n == room || c->hup;
	int64_t now = sock_now_ms();
	if (c->rlen == 0 && STATE(atomic_load(&c->st)) == CONN_HEAD) {
		c->t0 = sock_now_ns();
		if (c->served > 0) /* a kept-alive connection: the head's time starts now */
			c->deadline = now + s->o.header_timeout_ms;
	}
	c->rlen += (uint32_t)n;
	if (c->rlen > c->rhwm)
		c->rhwm = c->rlen;
	charge(s, c);
	if (STATE(atomic_load(&c->st)) == CONN_BODY) {
		c->deadline = now + s->o.read_timeout_ms;
		if (c->deadline > c->body_deadline)
			c->deadline = c->body_deadline;
	}
	return R_MORE;
}

/* Moves a connection the loop owns as far as its bytes and its socket allow. */
static void conn_run(struct server *s, struct server_conn *c)
{
	c->burst = 0;
	if (c->dead) {
		conn_close(s, c);
		return;
	}
	for (;;) {
		switch (STATE(atomic_load(&c->st))) {
		case CONN_WRITE: {
			int r = flush(s, c);
			if (r < 0) {
				conn_close(s, c);
				return;
			}
			if (r == 0)
				return;
			if (c->close_after) {
				finish_close(s, c);
				return;
			}
			start_next(s, c);
			continue;
		}
		case CONN_LINGER:
			linger_read(s, c);
			return;
		case CONN_HEAD:
		case CONN_BODY: {
			int r = advance(s, c);
			if (r == R_BUSY || r == R_CLOSED)
				return;
			if (r == R_ANSWERED) {
				if (++c->burst >= SERVER_PIPELINE_BURST) { /* the others' turn */
					push_done(s, c);
					return;
				}
				continue;
			}
			if (!c->rd_ready)
				return;
			if (conn_read(s, c) != R_MORE)
				return;
			continue;
		}
		default: /* busy or free */
			return;
		}
	}
}

/* An epoll event for connection idx. */
static void conn_event(struct server *s, int idx, uint32_t gen, uint32_t events)
{
	struct server_conn *c = &s->conns[idx];
	if (c->gen != gen)
		return;
	uint32_t st = atomic_load(&c->st);
	uint32_t hup = events & (EPOLLRDHUP | EPOLLHUP | EPOLLERR) ? SERVER_HUP : 0;
	for (;;) {
		if (STATE(st) == CONN_FREE)
			return;
		if (STATE(st) != CONN_BUSY)
			break;
		if ((st | SERVER_PENDING | hup) == st ||
		    atomic_compare_exchange_weak(&c->st, &st, st | SERVER_PENDING | hup))
			return; /* the worker hands it back through the done ring */
	}
	if (events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR))
		c->rd_ready = 1;
	if (events & (EPOLLRDHUP | EPOLLHUP | EPOLLERR))
		c->hup = 1;
	conn_run(s, c);
}

/* ---- workers ------------------------------------------------------------------------------ */

/* Returns a connection to the loop after its request: with one compare-and-swap when the loop
 * has nothing to do for it, else through the done ring. */
static void handback(struct server *s, struct server_conn *c)
{
	/* CONN_WRITE also when there is nothing to send but the connection is to close: the loop
	 * finds the output empty and closes it. */
	uint32_t next = c->olen > c->ooff || c->close_after || c->dead ? CONN_WRITE : CONN_HEAD;
	int look = c->dead || c->rlen > 0 || c->rd_ready || (c->close_after && c->olen == c->ooff);
	if (next == CONN_HEAD)
		prep_next(s, c);
	uint32_t cur = CONN_BUSY;
	if (!look && atomic_compare_exchange_strong(&c->st, &cur, next))
		return;
	/* An event came meanwhile (cur has SERVER_PENDING), or there is work: the loop looks,
	 * reading at most once in vain. The loop may still add SERVER_HUP until we publish. */
	c->rd_ready = 1;
	do {
		if (cur & SERVER_HUP)
			c->hup = 1;
	} while (!atomic_compare_exchange_weak(&c->st, &cur, next));
	push_done(s, c);
}

/* Adds "Connection: close" to the head of a written answer, when it fits (else the connection
 * closes all the same, as HTTP lets a server do after any answer). */
static void say_close(struct buf *out)
{
	static const char line[] = "Connection: close\r\n";
	const size_t n = sizeof line - 1;
	char *end = 0;
	for (size_t i = 0; i + 4 <= out->len && !end; i++)
		if (!memcmp(out->p + i, "\r\n\r\n", 4))
			end = out->p + i + 2;
	if (!end || out->err || out->len + n > out->cap)
		return;
	memmove(end + n, end, out->len - (size_t)(end - out->p));
	memcpy(end, line, n);
	out->len += n;
}

/* Runs the complete request of c (this worker owns it) and queues its answer. */
static void work(struct server_worker *w, struct server_conn *c)
{
	struct server *s = w->srv;
	struct http_header hdrs[HTTP_MAX_HEADERS];
	struct http_request req;
	struct app_reply r;
	struct buf out;
	if (http_request_parse(c->rbuf, c->hlen, &req, hdrs, HTTP_MAX_HEADERS, 0) !=
	    (int)c->hlen) { /* cannot happen: the loop parsed these bytes */
		c->dead = 1;
		handback(s, c);
		return;
	}
	memset(&r, 0, sizeof r);
	r.route = (enum app_route)c->route;
	r.head_only = c->head_only;
	int keep = c->keep && !atomic_load(&s->draining);
	buf_init(&out, w->obuf, w->ocap);
	app_body(s->app, w->slot, &req, c->rbuf + c->hlen, c->blen, &out, keep, &r);
	if (keep && atomic_load(&s->draining)) { /* the drain began during the send */
		say_close(&out);
		keep = 0;
	}
	log_request(&req, &r, c->t0);
	size_t used = (size_t)c->hlen + c->blen;
	memmove(c->rbuf, c->rbuf + used, c->rlen - used);
	c->rlen -= (uint32_t)used;
	c->close_after = !keep;
	c->linger = 0;
	c->served += c->served < UINT16_MAX;
	if (conn_out(s, c, out.p, out.len) < 0)
		c->dead = 1;
	charge(s, c);
	trim(s, c);
	handback(s, c);
}

static void *worker_main(void *arg)
{
	struct server_worker *w = arg;
	struct server *s = w->srv;
	w->slot->scratch = w->plan.scratch; /* the slot's first touch */
	w->slot->scratch_cap = w->plan.scratch_cap;
	w->slot->itok = w->plan.itok;
	w->slot->qbuf = w->plan.qbuf;
	w->slot->wctx = w->plan.wctx;
	for (;;) {
		atomic_fetch_add(&s->idle, 1);
		while (sem_wait(&s->work) < 0) /* one count per job, and one per worker at stop */
			;
		atomic_fetch_sub(&s->idle, 1);
		pthread_mutex_lock(&s->mu);
		int idx = s->jobs.count > 0 ? ring_pop(&s->jobs) : -1;
		pthread_mutex_unlock(&s->mu);
		if (idx < 0)
			return 0;
		work(w, &s->conns[idx]);
	}
}

/* ---- accepting ---------------------------------------------------------------------------- */

/* Answers 503 to a client we cannot take, best effort, and closes it. */
static void refuse(struct server *s, int fd)
{
	if (sock_send(fd, s->refusal, s->refusal_len) < 0)
		(void)0; /* the client is refused either way */
	close(fd);
}

static void conn_add(struct server *s, int fd)
{
	if (s->nfree == 0) {
		refuse(s, fd);
		warn(&s->warned_full, "server.connections_full", s);
		return;
	}
	sock_nodelay(fd);
	int idx = s->free_idx[--s->nfree];
	if (idx >= s->used_hi)
		s->used_hi = idx + 1;
	struct server_conn *c = &s->conns[idx];
	int64_t now = sock_now_ms();
	c->fd = fd;
	c->rlen = c->last = c->hlen = c->blen = c->olen = c->ooff = c->discarded = 0;
	c->need = 0;
	c->body = HTTP_BODY_NONE;
	c->keep = c->close_after = c->linger = c->rd_ready = c->dead = c->hup = 0;
	c->served = c->burst = 0;
	c->rbuf = s->conn_mem + (size_t)idx * s->conn_stride;
	c->obuf = c->rbuf + page_round(s->rcap, s->page);
	c->accepted_ms = c->idle_ms = now;
	c->t0 = sock_now_ns();
	c->deadline = now + s->o.header_timeout_ms;
	atomic_store(&c->st, CONN_HEAD);
	s->nconns++;
	struct epoll_event ev;
	memset(&ev, 0, sizeof ev);
	ev.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET;
	ev.data.u64 = (uint64_t)c->gen << 32 | (uint32_t)idx;
	if (epoll_ctl(s->ep, EPOLL_CTL_ADD, fd, &ev) < 0)
		conn_close(s, c);
}

static void listen_on(struct server *s, int on)
{
	struct epoll_event el = {.events = EPOLLIN, .data.u64 = TAG_LISTEN};
	if (on != s->listening && s->lfd >= 0 &&
	    epoll_ctl(s->ep, on ? EPOLL_CTL_ADD : EPOLL_CTL_DEL, s->lfd, &el) == 0)
		s->listening = on;
}

/* Out of descriptors: spend the reserve on a 503 for the next client, or, without one, stop
 * accepting for a moment. Returns 1 when a client was refused (go on), 0 when paused. */
static int out_of_fds(struct server *s)
{
	warn(&s->warned_fd, "server.out_of_descriptors", s);
	if (s->spare_fd >= 0) {
		close(s->spare_fd);
		int fd = sock_accept(s->lfd);
		if (fd >= 0)
			refuse(s, fd);
		s->spare_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
		if (fd >= 0 && s->spare_fd >= 0)
			return 1;
	} else {
		s->spare_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	}
	s->accept_paused_until = sock_now_ms() + SERVER_ACCEPT_PAUSE_MS;
	listen_on(s, 0);
	return 0;
}

static void accept_some(struct server *s, int batch)
{
	for (int i = 0; i < batch; i++) {
		int fd = sock_accept(s->lfd);
		if (fd >= 0)
			conn_add(s, fd);
		else if (fd == -ERR_PARTIAL)
			return;
		else if (fd == -ERR_UNAVAILABLE && !out_of_fds(s))
			return;
	}
}

/* ---- deadlines and the drain -------------------------------------------------------------- */

/* Acts on every connection whose deadline has passed. */
static void sweep(struct server *s)
{
	int64_t now = sock_now_ms();
	int draining = atomic_load(&s->draining);
	for (int i = 0; i < s->used_hi; i++) {
		struct server_conn *c = &s->conns[i];
		uint32_t st = STATE(atomic_load(&c->st));
		if (st == CONN_FREE || st == CONN_BUSY)
			continue;
		int idle = st == CONN_HEAD && c->rlen == 0;
		if (draining && idle &&
		    (c->served > 0 || now - c->accepted_ms >= SERVER_DRAIN_GRACE_MS)) {
			conn_close(s, c);
			continue;
		}
		if (idle && c->rhwm > 0 && now - c->idle_ms >= SERVER_IDLE_TRIM_MS)
			trim_all(s, c); /* a kept-alive connection waiting long costs no page */
		if (now < c->deadline)
			continue;
		if (idle || st == CONN_WRITE || st == CONN_LINGER)
			conn_close(s, c); /* idle, or a client that does not take its answer */
		else
			early_error(s, c, 0,
			            -ERR_TIMEOUT); /* a head or body not sent in time: 408 */
	}
}

static void drain_begin(struct server *s, const char *why)
{
	struct log_line l;
	if (log_begin(&l, LOG_INFO, "server.draining")) {
		log_cstr(&l, "signal", why);
		log_end(&l);
	}
	atomic_store(&s->draining, 1);
	s->drain_deadline = sock_now_ms() + s->o.drain_timeout_ms;
	accept_some(s, 1 << 30); /* what the kernel already accepted is ours to answer */
	listen_on(s, 0);
	close(s->lfd);
	s->lfd = -1;
	if (s->o.on_drain)
		s->o.on_drain(s->o.on_drain_arg);
	sweep(s);
}

/* The loop's wake-up: drain the done ring. */
static void on_wake(struct server *s)
{
	uint64_t v;
	int batch[SERVER_EVENTS];
	if (read(s->evfd, &v, sizeof v) < 0)
		(void)0; /* nothing to read: a wake-up already consumed */
	for (;;) {
		int n = 0;
		pthread_mutex_lock(&s->mu);
		while (n < SERVER_EVENTS && s->done.count > 0) {
			batch[n] = ring_pop(&s->done);
			s->conns[batch[n]].in_done = 0;
			n++;
		}
		pthread_mutex_unlock(&s->mu);
		if (n == 0)
			return;
		for (int i = 0; i < n; i++) {
			struct server_conn *c = &s->conns[batch[i]];
			uint32_t st = STATE(atomic_load(&c->st));
			if (st != CONN_FREE && st != CONN_BUSY)
				conn_run(s, c);
		}
		if (n < SERVER_EVENTS)
			return;
	}
}

/* ---- start-up ----------------------------------------------------------------------------- */

/* Parses the bind address and port into ss. Returns the address length or 0. */
static socklen_t bind_addr(const struct server_opts *o, struct sockaddr_storage *ss)
{
	struct sockaddr_in *v4 = (struct sockaddr_in *)ss;
	struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)ss;
	memset(ss, 0, sizeof *ss);
	if (inet_pton(AF_INET, o->bind, &v4->sin_addr) == 1) {
		v4->sin_family = AF_INET;
		v4->sin_port = htons((uint16_t)o->port);
		return sizeof *v4;
	}
	if (inet_pton(AF_INET6, o->bind, &v6->sin6_addr) == 1) {
		v6->sin6_family = AF_INET6;
		v6->sin6_port = htons((uint16_t)o->port);
		return sizeof *v6;
	}
	return 0;
}

/* see server.h */
int server_init(struct server *s, const struct server_opts *o, struct app *app,
                struct server_conn *conns, int *free_idx, char *conn_mem, size_t max_route_body,
                int *jobs, int *done, struct server_worker *w, char *err, size_t cap)
{
	struct sockaddr_storage ss;
	socklen_t sl = bind_addr(o, &ss);
	int one = 1;
	struct buf e;
	memset(s, 0, sizeof *s);
	s->o = *o;
	s->app = app;
	s->conns = conns;
	s->free_idx = free_idx;
	s->conn_mem = conn_mem;
	s->page = page_size();
	if (max_route_body < o->max_body)
		max_route_body = o->max_body;
	s->rcap = server_rbuf_size(max_route_body);
	s->ocap = APP_ANSWER_MAX + SERVER_OUT_SLACK;
	s->conn_stride = server_conn_stride(max_route_body);
	s->jobs = (struct server_ring){jobs, 0, 0, (unsigned)o->max_conns};
	s->done = (struct server_ring){done, 0, 0, (unsigned)o->max_conns};
	s->w = w;
	s->lfd = s->ep = s->evfd = s->sigfd = s->spare_fd = -1;
	s->warned_full = s->warned_fd = s->warned_thread = -SERVER_WARN_EVERY_MS;
	pthread_mutex_init(&s->mu, 0);
	sem_init(&s->work, 0, 0);
	for (int i = o->max_conns - 1; i >= 0; i--)
		free_idx[s->nfree++] = i;
	buf_init(&e, s->refusal, sizeof s->refusal);
	app_problem(&e, -ERR_UNAVAILABLE, 0, "too many connections; retry", "Retry-After: 1\r\n",
	            0);
	s->refusal_len = e.len;
	buf_init(&e, err, cap);
	if (sl == 0) {
		buf_puts(&e, "BIND: \"");
		buf_puts(&e, o->bind);
		buf_puts(&e, "\" is not an IPv4 or IPv6 address");
		buf_cstr(&e);
		return -1;
	}
	s->lfd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (s->lfd < 0 || setsockopt(s->lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) < 0 ||
	    bind(s->lfd, (struct sockaddr *)&ss, sl) < 0 || listen(s->lfd, SOMAXCONN) < 0) {
		buf_puts(&e, "listen on ");
		buf_puts(&e, o->bind);
		buf_puts(&e, " port ");
		buf_put_u64(&e, (uint64_t)o->port);
		buf_puts(&e, ": ");
		buf_put_errno(&e, errno);
		buf_cstr(&e);
		return -1;
	}
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	s->ep = epoll_create1(EPOLL_CLOEXEC);
	s->evfd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	s->sigfd = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
	s->spare_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	struct epoll_event ew = {.events = EPOLLIN, .data.u64 = TAG_WAKE};
	struct epoll_event es = {.events = EPOLLIN, .data.u64 = TAG_SIGNAL};
	if (s->ep < 0 || s->evfd < 0 || s->sigfd < 0 ||
	    epoll_ctl(s->ep, EPOLL_CTL_ADD, s->evfd, &ew) < 0 ||
	    epoll_ctl(s->ep, EPOLL_CTL_ADD, s->sigfd, &es) < 0) {
		buf_puts(&e, "epoll: ");
		buf_put_errno(&e, errno);
		buf_cstr(&e);
		return -1;
	}
	listen_on(s, 1);
	if (!s->listening) {
		buf_puts(&e, "epoll: ");
		buf_put_errno(&e, errno);
		buf_cstr(&e);
		return -1;
	}
	return 0;
}

/* see server.h */
int server_port(const struct server *s)
{
	struct sockaddr_storage ss;
	socklen_t sl = sizeof ss;
	if (getsockname(s->lfd, (struct sockaddr *)&ss, &sl) < 0)
		return -1;
	if (ss.ss_family == AF_INET6)
		return ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
	return ntohs(((struct sockaddr_in *)&ss)->sin_port);
}

/* see server.h */
void server_stop(struct server *s)
{
	uint64_t one = 1;
	atomic_store(&s->stop_req, 1);
	if (write(s->evfd, &one, sizeof one) < 0)
		(void)0; /* the loop also checks stop_req at its next tick */
}

/* Reads the signal that asked us to stop. */
static const char *on_signal(struct server *s)
{
	struct signalfd_siginfo si;
	if (read(s->sigfd, &si, sizeof si) != (ssize_t)sizeof si)
		return 0;
	return si.ssi_signo == SIGTERM ? "SIGTERM" : "SIGINT";
}

/* Starts the next worker. Returns 0, or -1 (logged at most once a second). */
static int start_worker(struct server *s)
{
	pthread_attr_t attr;
	struct server_worker *w = &s->w[s->started];
	pthread_attr_init(&attr);
	pthread_attr_setstacksize(&attr, SERVER_STACK_SIZE);
	w->srv = s;
	int rc = pthread_create(&w->thread, &attr, worker_main, w);
	pthread_attr_destroy(&attr);
	if (rc == 0) {
		s->started++;
		return 0;
	}
	struct log_line l;
	int64_t now = sock_now_ms();
	if (now - s->warned_thread >= SERVER_WARN_EVERY_MS &&
	    log_begin(&l, s->started ? LOG_WARN : LOG_ERROR,
	              s->started ? "server.worker_not_started" : "server.start_failed")) {
		s->warned_thread = now;
		log_cstr(&l, "error", "cannot start a worker thread");
		log_int(&l, "workers", s->started);
		log_end(&l);
	}
	return -1;
}

/* see server.h */
int server_start(struct server *s)
{
	s->next_tick = sock_now_ms() + SERVER_TICK_MS;
	return start_worker(s); /* one now; the others when requests wait for them */
}

/* see server.h */
int server_adopt(struct server *s, int fd)
{
	if (s->nfree == 0)
		return -1;
	conn_add(s, fd);
	return 0;
}

/* see server.h */
int server_step(struct server *s, int max_wait_ms)
{
	struct epoll_event ev[SERVER_EVENTS];
	int64_t now = sock_now_ms();
	int draining = atomic_load(&s->draining);
	if (!draining && atomic_load(&s->stop_req)) {
		drain_begin(s, "stop");
		return 1;
	}
	if (draining && (s->nconns == 0 || now >= s->drain_deadline))
		return 0;
	if (now >= s->next_tick) {
		sweep(s);
		s->next_tick = now + (draining ? SERVER_DRAIN_POLL_MS : SERVER_TICK_MS);
	}
	if (!draining && !s->listening && now >= s->accept_paused_until)
		listen_on(s, 1);
	int64_t wait = s->next_tick - now;
	if (!s->listening && !draining && s->accept_paused_until - now < wait)
		wait = s->accept_paused_until - now;
	if (max_wait_ms >= 0 && wait > max_wait_ms)
		wait = max_wait_ms;
	int n = epoll_wait(s->ep, ev, SERVER_EVENTS, wait < 0 ? 0 : (int)wait);
	for (int i = 0; i < n; i++) {
		uint32_t tag = (uint32_t)ev[i].data.u64;
		if (tag == TAG_LISTEN) {
			if (s->listening)
				accept_some(s, SERVER_ACCEPT_BATCH);
		} else if (tag == TAG_WAKE) {
			on_wake(s);
		} else if (tag == TAG_SIGNAL) {
			const char *sig = on_signal(s);
			if (sig && !atomic_load(&s->draining))
				drain_begin(s, sig);
		} else {
			conn_event(s, (int)tag, (uint32_t)(ev[i].data.u64 >> 32), ev[i].events);
		}
	}
	return 1;
}

/* see server.h */
int server_finish(struct server *s)
{
	int cut = s->nconns > 0;
	for (int i = 0; i < s->started; i++)
		sem_post(&s->work); /* each finds no job and returns */
	if (cut)
		return 1; /* workers may be mid-request; exiting cuts them short */
	for (int i = 0; i < s->started; i++)
		pthread_join(s->w[i].thread, 0);
	return 0;
}

/* see server.h */
int server_run(struct server *s)
{
	if (server_start(s) < 0)
		return 1;
	while (server_step(s, -1))
		;
	return server_finish(s);
}
