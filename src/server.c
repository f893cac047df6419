/*
 * server.c: sockets, epoll and threads for server.h. Parsing is http.c's, answers are app.c's;
 * this file reads requests within their deadlines, writes each answer with one write, keeps
 * connections alive, sweeps idle ones and drains on a signal.
 */
#include "server.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "err.h"
#include "log.h"

enum { CONN_FREE, CONN_IDLE, CONN_BUSY, CONN_CLOSING };
enum { KEEP, CLOSE, CLOSE_LINGER };

/* epoll tags for the two non-connection descriptors (connection tags are gen << 32 | index). */
#define TAG_LISTEN 0xffffffffu
#define TAG_WAKE   0xfffffffeu

static const char continue_100[] = "HTTP/1.1 100 Continue\r\n\r\n";

static int64_t now_ms(void)
{
	return log_now_ns() / 1000000;
}

/* see server.h */
size_t server_rbuf_size(size_t max_body)
{
	return HTTP_MAX_HEADER_BYTES + max_body + SERVER_READ_SLACK;
}

/* Reads what is available into p[0..cap), waiting until deadline. Returns the count, 0 at end
 * of stream, -ERR_TIMEOUT, or -ERR_IO. */
static long read_some(int fd, char *p, size_t cap, int64_t deadline)
{
	for (;;) {
		ssize_t n = read(fd, p, cap);
		if (n >= 0)
			return n;
		if (errno == EINTR)
			continue;
		if (errno != EAGAIN)
			return -ERR_IO;
		int64_t left = deadline - now_ms();
		if (left <= 0)
			return -ERR_TIMEOUT;
		struct pollfd pf = {fd, POLLIN, 0};
		if (poll(&pf, 1, (int)left) == 0)
			return -ERR_TIMEOUT;
	}
}

/* Writes p[0..n) in full before the write timeout. Returns 0 or -ERR_IO / -ERR_TIMEOUT. */
static int write_all(struct server *s, int fd, const char *p, size_t n)
{
	int64_t deadline = now_ms() + s->o.write_timeout_ms;
	while (n > 0) {
		ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
		if (w > 0) {
			p += w;
			n -= (size_t)w;
			continue;
		}
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0 && errno != EAGAIN)
			return -ERR_IO;
		int64_t left = deadline - now_ms();
		struct pollfd pf = {fd, POLLOUT, 0};
		if (left <= 0 || poll(&pf, 1, (int)left) == 0)
			return -ERR_TIMEOUT;
	}
	return 0;
}

/* Closes after an early answer: stop sending, then drain what the client still sends (for at
 * most SERVER_LINGER_MS / SERVER_LINGER_BYTES) so it sees our answer rather than a reset. */
static void linger_close(int fd, char *scratch, size_t cap)
{
	int64_t deadline = now_ms() + SERVER_LINGER_MS;
	size_t total = 0;
	shutdown(fd, SHUT_WR);
	while (total < SERVER_LINGER_BYTES) {
		long n = read_some(fd, scratch, cap, deadline);
		if (n <= 0)
			break;
		total += (size_t)n;
	}
	close(fd);
}

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
	log_ms(&l, "latency_ms", log_now_ns() - t0);
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

/* Answers an error found by the server itself (parse, framing, size, timeout). */
static int early_error(struct server_worker *w, int fd, const struct http_request *req, int err,
                       int64_t t0)
{
	struct buf out;
	struct app_reply r;
	memset(&r, 0, sizeof r);
	r.err = err;
	r.status = err_http_status(err);
	buf_init(&out, w->obuf, w->ocap);
	app_problem(&out, err, 0, 0, 0, 0);
	write_all(w->srv, fd, out.p, out.len);
	log_request(req, &r, t0);
	return CLOSE_LINGER;
}

/* Reads until the header block is complete. Returns its length, or a negative error; 0 when
 * the client closed (or timed out) before sending anything. */
static int read_head(struct server_worker *w, int fd, size_t *len, struct http_request *req,
                     struct http_header *hdrs)
{
	struct server *s = w->srv;
	int64_t deadline = now_ms() + s->o.header_timeout_ms;
	size_t last = 0;
	for (;;) {
		if (*len > 0) {
			int rc =
			    http_request_parse(w->rbuf, *len, req, hdrs, HTTP_MAX_HEADERS, last);
			if (rc != -ERR_PARTIAL)
				return rc;
		}
		last = *len;
		long n = read_some(fd, w->rbuf + *len, w->rcap - *len, deadline);
		if (n == 0 || (n < 0 && *len == 0))
			return 0;
		if (n < 0)
			return (int)n;
		*len += (size_t)n;
	}
}

/* Reads a Content-Length body of n bytes starting at rbuf[hlen]. */
static int read_body_length(struct server_worker *w, int fd, size_t hlen, size_t n, size_t *len)
{
	struct server *s = w->srv;
	while (*len - hlen < n) {
		long r =
		    read_some(fd, w->rbuf + *len, w->rcap - *len, now_ms() + s->o.read_timeout_ms);
		if (r <= 0)
			return r == 0 ? -ERR_IO : (int)r;
		*len += (size_t)r;
	}
	return 0;
}

/* Reads and decodes a chunked body in place at rbuf[hlen]; *dlen gets the decoded length and
 * the bytes after the body are moved to rbuf[hlen + *dlen]. Returns their count or an error. */
static int read_body_chunked(struct server_worker *w, int fd, size_t hlen, size_t *len,
                             size_t *dlen, size_t limit)
{
	struct server *s = w->srv;
	struct http_chunked d;
	http_chunked_init(&d);
	*dlen = 0;
	for (;;) {
		size_t n = *len - hlen - *dlen;
		int rc = http_chunked_decode(&d, w->rbuf + hlen + *dlen, &n);
		*dlen += n;
		if (d.total > limit)
			return -ERR_BODY_TOO_LARGE;
		if (rc != -ERR_PARTIAL)
			return rc;
		*len = hlen + *dlen;
		if (*len == w->rcap)
			return -ERR_BODY_TOO_LARGE;
		long r =
		    read_some(fd, w->rbuf + *len, w->rcap - *len, now_ms() + s->o.read_timeout_ms);
		if (r <= 0)
			return r == 0 ? -ERR_IO : (int)r;
		*len += (size_t)r;
	}
}

/* Serves one request from the bytes at rbuf[0..*len) and the socket. On KEEP, rbuf[0..*len)
 * holds whatever followed the request (a pipelined one). */
static int serve_one(struct server_worker *w, int fd, size_t *len)
{
	struct server *s = w->srv;
	struct http_header hdrs[HTTP_MAX_HEADERS];
	struct http_request req;
	struct http_framing f;
	struct app_reply r;
	struct buf out;
	int64_t t0 = log_now_ns();
	size_t had = *len;
	int hlen = read_head(w, fd, len, &req, hdrs);
	if (hlen == 0)
		return CLOSE;
	if (hlen < 0)
		return (hlen == -ERR_TIMEOUT && *len == had) ? CLOSE
		                                             : early_error(w, fd, 0, hlen, t0);
	int rc = http_request_framing(&req, &f);
	if (rc < 0)
		return early_error(w, fd, &req, rc, t0);
	int keep = f.keep_alive && !atomic_load(&s->draining);
	int body_pending =
	    f.body == HTTP_BODY_CHUNKED || (f.body == HTTP_BODY_LENGTH && f.content_length > 0);
	buf_init(&out, w->obuf, w->ocap);
	if (app_head(s->app, &w->app, &req, &out, keep && !body_pending, &r) != 0) {
		write_all(s, fd, out.p, out.len);
		log_request(&req, &r, t0);
		if (body_pending)
			return CLOSE_LINGER;
		memmove(w->rbuf, w->rbuf + hlen, *len - (size_t)hlen);
		*len -= (size_t)hlen;
		return keep ? KEEP : CLOSE;
	}
	size_t limit = r.body_limit ? r.body_limit : s->o.max_body;
	if (f.body == HTTP_BODY_LENGTH && f.content_length > limit)
		return early_error(w, fd, &req, -ERR_BODY_TOO_LARGE, t0);
	size_t blen = f.body == HTTP_BODY_LENGTH ? (size_t)f.content_length : 0, rest = 0;
	/* RFC 9110 10.1.1: a 100 goes only to HTTP/1.1 clients that have not sent the body yet. */
	if (f.expect_continue && req.minor_version == 1 && body_pending && *len == (size_t)hlen)
		write_all(s, fd, continue_100, sizeof continue_100 - 1);
	if (f.body == HTTP_BODY_LENGTH) {
		rc = read_body_length(w, fd, (size_t)hlen, blen, len);
		rest = rc < 0 ? 0 : *len - (size_t)hlen - blen;
	} else if (f.body == HTTP_BODY_CHUNKED) {
		rc = read_body_chunked(w, fd, (size_t)hlen, len, &blen, limit);
		rest = rc < 0 ? 0 : (size_t)rc;
	}
	if (rc == -ERR_IO)
		return CLOSE; /* the client went away mid-body: nobody to answer */
	if (rc < 0)
		return early_error(w, fd, &req, rc, t0);
	keep = keep && !atomic_load(&s->draining); /* a drain may have begun while we read */
	app_body(s->app, &w->app, &req, w->rbuf + hlen, blen, &out, keep, &r);
	write_all(s, fd, out.p, out.len);
	log_request(&req, &r, t0);
	memmove(w->rbuf, w->rbuf + hlen + blen, rest);
	*len = rest;
	return keep ? KEEP : CLOSE;
}

static uint64_t word(uint32_t gen, int state)
{
	return (uint64_t)gen << 32 | (uint32_t)state;
}

static uint32_t gen_of(uint64_t st)
{
	return (uint32_t)(st >> 32);
}

/* Returns a connection slot to the free list (its owner has closed or will close the fd). */
static void conn_free(struct server *s, int idx)
{
	struct server_conn *c = &s->conns[idx];
	uint32_t gen = gen_of(atomic_load(&c->st));
	c->fd = -1;
	atomic_store(&c->st, word(gen + 1, CONN_FREE));
	pthread_mutex_lock(&s->mu);
	s->free_idx[s->nfree++] = idx;
	pthread_mutex_unlock(&s->mu);
}

/* Marks conn idx idle and arms it in epoll (one-shot). The state is published before the fd is
 * armed, so the worker that receives the next event finds it idle. */
static int conn_arm(struct server *s, int idx, int op)
{
	struct server_conn *c = &s->conns[idx];
	struct epoll_event ev;
	uint32_t gen = gen_of(atomic_load(&c->st));
	memset(&ev, 0, sizeof ev);
	ev.events = EPOLLIN | EPOLLRDHUP | EPOLLONESHOT;
	ev.data.u64 = word(gen, idx);
	atomic_store(&c->idle_since_ms, now_ms());
	atomic_store(&c->st, word(gen, CONN_IDLE));
	return epoll_ctl(s->ep, op, c->fd, &ev);
}

/* Serves requests on a connection this worker owns until it is idle or closed. */
static void serve_conn(struct server_worker *w, int idx)
{
	struct server *s = w->srv;
	int fd = s->conns[idx].fd, how;
	size_t len = 0;
	do
		how = serve_one(w, fd, &len);
	while (how == KEEP && len > 0);
	if (how == KEEP && !atomic_load(&s->draining) && conn_arm(s, idx, EPOLL_CTL_MOD) == 0)
		return;
	epoll_ctl(s->ep, EPOLL_CTL_DEL, fd, 0);
	conn_free(s, idx);
	if (how == CLOSE_LINGER)
		linger_close(fd, w->rbuf, w->rcap);
	else
		close(fd);
}

/* Registers an accepted socket, or refuses it with 503 when every slot is taken. */
static void conn_add(struct server *s, int fd)
{
	static const char full[] = "HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\n"
	                           "Retry-After: 1\r\nConnection: close\r\n\r\n";
	int one = 1;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
	pthread_mutex_lock(&s->mu);
	int idx = s->nfree > 0 ? s->free_idx[--s->nfree] : -1;
	pthread_mutex_unlock(&s->mu);
	if (idx < 0) {
		if (send(fd, full, sizeof full - 1, MSG_NOSIGNAL | MSG_DONTWAIT) < 0)
			(void)0; /* best effort: the client is refused either way */
		close(fd);
		return;
	}
	s->conns[idx].fd = fd;
	if (conn_arm(s, idx, EPOLL_CTL_ADD) < 0) {
		conn_free(s, idx);
		close(fd);
	}
}

/* Accepts up to SERVER_ACCEPT_BATCH connections. Out of descriptors, it frees its spare one
 * to accept and close the next client, so the listening socket does not stay readable forever. */
static void accept_some(struct server *s, int batch)
{
	for (int i = 0; i < batch; i++) {
		int fd = accept4(s->lfd, 0, 0, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd >= 0) {
			conn_add(s, fd);
			continue;
		}
		if (errno == EINTR || errno == ECONNABORTED)
			continue;
		if ((errno == EMFILE || errno == ENFILE) && s->spare_fd >= 0) {
			close(s->spare_fd);
			fd = accept4(s->lfd, 0, 0, SOCK_CLOEXEC);
			if (fd >= 0)
				close(fd);
			s->spare_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
			struct log_line l;
			if (log_begin(&l, LOG_WARN, "server.out_of_descriptors"))
				log_end(&l);
		}
		return;
	}
}

/* Worker thread: take ready descriptors until told to stop. */
static void *worker_main(void *arg)
{
	struct server_worker *w = arg;
	struct server *s = w->srv;
	while (!atomic_load(&s->stop)) {
		struct epoll_event ev;
		int n = epoll_wait(s->ep, &ev, 1, -1);
		if (n <= 0)
			continue;
		uint32_t tag = (uint32_t)ev.data.u64, gen = (uint32_t)(ev.data.u64 >> 32);
		if (tag == TAG_WAKE)
			continue;
		if (tag == TAG_LISTEN) {
			accept_some(s, SERVER_ACCEPT_BATCH);
			continue;
		}
		uint64_t idle = word(gen, CONN_IDLE);
		if (atomic_compare_exchange_strong(&s->conns[tag].st, &idle,
		                                   word(gen, CONN_BUSY))) {
			atomic_fetch_add(&s->busy, 1);
			serve_conn(w, (int)tag);
			atomic_fetch_sub(&s->busy, 1);
		}
	}
	return 0;
}

/* 1 when fd has bytes (or an end of stream) waiting. */
static int readable(int fd)
{
	struct pollfd pf = {fd, POLLIN, 0};
	return poll(&pf, 1, 0) > 0;
}

/* Closes idle connections past the idle timeout; while draining, every idle connection that
 * has nothing to read (after the grace period). Returns the connections still open. */
static int sweep(struct server *s, int draining)
{
	int64_t now = now_ms();
	int open = 0;
	for (int i = 0; i < s->o.max_conns; i++) {
		struct server_conn *c = &s->conns[i];
		uint64_t st = atomic_load(&c->st);
		if ((uint32_t)st == CONN_FREE)
			continue;
		int64_t idle = now - atomic_load(&c->idle_since_ms);
		/* While draining, an idle connection with bytes waiting is left for a worker. */
		int expired = (uint32_t)st == CONN_IDLE &&
		              (idle >= s->o.idle_timeout_ms ||
		               (draining && idle >= SERVER_DRAIN_GRACE_MS && !readable(c->fd)));
		uint64_t want = word(gen_of(st), CONN_IDLE);
		if (!expired || !atomic_compare_exchange_strong(&c->st, &want,
		                                                word(gen_of(st), CONN_CLOSING))) {
			open++;
			continue;
		}
		int fd = c->fd;
		epoll_ctl(s->ep, EPOLL_CTL_DEL, fd, 0);
		conn_free(s, i);
		close(fd);
	}
	return open;
}

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
                struct server_conn *conns, int *free_idx, struct server_worker *w, char *err,
                size_t cap)
{
	struct sockaddr_storage ss;
	socklen_t sl = bind_addr(o, &ss);
	int one = 1;
	memset(s, 0, sizeof *s);
	s->o = *o;
	s->app = app;
	s->conns = conns;
	s->free_idx = free_idx;
	s->w = w;
	pthread_mutex_init(&s->mu, 0);
	for (int i = o->max_conns - 1; i >= 0; i--) {
		conns[i].fd = -1;
		atomic_init(&conns[i].st, word(0, CONN_FREE));
		atomic_init(&conns[i].idle_since_ms, 0);
		free_idx[s->nfree++] = i;
	}
	struct buf e;
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
	s->ep = epoll_create1(EPOLL_CLOEXEC);
	s->evfd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	s->spare_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	struct epoll_event el = {.events = EPOLLIN, .data.u64 = TAG_LISTEN};
	struct epoll_event ew = {.events = EPOLLIN, .data.u64 = TAG_WAKE};
	if (s->ep < 0 || s->evfd < 0 || epoll_ctl(s->ep, EPOLL_CTL_ADD, s->lfd, &el) < 0 ||
	    epoll_ctl(s->ep, EPOLL_CTL_ADD, s->evfd, &ew) < 0) {
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

/* Waits for a stop signal, sweeping idle connections every tick. Returns the signal. */
static int wait_signal(struct server *s)
{
	sigset_t set;
	int tick = s->o.idle_timeout_ms / 4;
	tick = tick < 10 ? 10 : tick > 250 ? 250 : tick;
	struct timespec ts = {tick / 1000, (long)(tick % 1000) * 1000000};
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	for (;;) {
		int sig = sigtimedwait(&set, 0, &ts);
		if (sig > 0)
			return sig;
		sweep(s, 0);
	}
}

/* Stop accepting, serve what is in flight, close the idle; returns 1 if the timeout hit. */
static int drain(struct server *s)
{
	int64_t deadline = now_ms() + s->o.drain_timeout_ms;
	epoll_ctl(s->ep, EPOLL_CTL_DEL, s->lfd, 0);
	accept_some(s, 1 << 30); /* what the kernel already accepted is ours to answer */
	close(s->lfd);
	atomic_store(&s->draining, 1);
	if (s->o.on_drain)
		s->o.on_drain(s->o.on_drain_arg);
	int open;
	while ((open = sweep(s, 1)) > 0 && now_ms() < deadline) {
		struct timespec ts = {0, SERVER_DRAIN_POLL_MS * 1000000L};
		nanosleep(&ts, 0);
	}
	return open > 0;
}

/* see server.h */
int server_run(struct server *s)
{
	pthread_attr_t attr;
	pthread_attr_init(&attr);
	pthread_attr_setstacksize(&attr, SERVER_STACK_SIZE);
	for (int i = 0; i < s->o.workers; i++) {
		s->w[i].srv = s;
		if (pthread_create(&s->w[i].thread, &attr, worker_main, &s->w[i]) != 0) {
			struct log_line l;
			if (log_begin(&l, LOG_ERROR, "server.start_failed")) {
				log_cstr(&l, "error", "cannot start a worker thread");
				log_int(&l, "worker", i);
				log_end(&l);
			}
			return 1;
		}
	}
	pthread_attr_destroy(&attr);
	int sig = wait_signal(s);
	struct log_line l;
	if (log_begin(&l, LOG_INFO, "server.draining")) {
		log_cstr(&l, "signal", sig == SIGTERM ? "SIGTERM" : "SIGINT");
		log_end(&l);
	}
	int cut = drain(s);
	atomic_store(&s->stop, 1);
	uint64_t one = 1;
	if (write(s->evfd, &one, sizeof one) < 0)
		(void)0; /* eventfd cannot be full here; workers also see stop on their next wake */
	if (cut)
		return 1; /* workers may be mid-request; exiting cuts them short */
	for (int i = 0; i < s->o.workers; i++)
		pthread_join(s->w[i].thread, 0);
	return 0;
}
