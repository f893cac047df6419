/*
 * acs.c: the ACS Email client of acs.h: start-up, the worker's TLS connection, one attempt
 * through the HTTP client (http_client.h), the retries, and the transport adapter. The body
 * is acs_body.c's, the answers acs_answer.c's, the managed-identity token acs_token.c's.
 */
#include "acs.h"

#include <string.h>
#include <strings.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "err.h"
#include "http_client.h"
#include "id.h"
#include "log.h"
#include "sock.h"

#define STR_(x) #x
#define STR(x)  STR_(x)

/* The managed-identity resource of ACS and the token API version: "resource" and "api-version"
 * of https://learn.microsoft.com/azure/app-service/overview-managed-identity, section "REST
 * endpoint reference" (ACS's resource is https://communication.azure.com/). */
static const char identity_query[] =
    "resource=https%3A%2F%2Fcommunication.azure.com%2F&api-version=2019-08-01";

static int fail_setup(char *err, size_t cap, const char *a, const char *b)
{
	struct buf e;
	buf_init(&e, err, cap);
	buf_puts(&e, a);
	if (b)
		buf_puts(&e, b);
	buf_cstr(&e);
	return -ERR_FIELD_INVALID;
}

/* Splits IDENTITY_ENDPOINT "http://host[:port]/path[?query]" into a->id_*. */
static int identity_url(struct acs *a, const char *url, const char *client_id, char *err,
                        size_t cap)
{
	static const char scheme[] = "http://";
	const char *bad = "IDENTITY_ENDPOINT: must be http://host[:port]/path (the local token "
	                  "service of App Service and Functions)";
	if (strncmp(url, scheme, sizeof scheme - 1) != 0)
		return fail_setup(err, cap, bad, 0);
	const char *h = url + sizeof scheme - 1, *p = h;
	if (strchr(url, '#')) /* a fragment never reaches the server */
		return fail_setup(err, cap, bad, 0);
	while (*p && *p != '/' && *p != '?')
		p++;
	size_t alen = (size_t)(p - h);
	if (alen == 0 || alen > ACS_MAX_AUTHORITY)
		return fail_setup(err, cap, bad, 0);
	for (const char *c = h; c < p; c++) /* a DNS name or IPv4 address, and a port */
		if (!((*c >= '0' && *c <= '9') || ((*c | 0x20) >= 'a' && (*c | 0x20) <= 'z') ||
		      *c == '.' || *c == '-' || *c == '_' || *c == ':'))
			return fail_setup(err, cap, bad, 0);
	memcpy(a->id_authority, h, alen);
	a->id_authority[alen] = 0;
	const char *colon = memchr(h, ':', alen);
	size_t hlen = colon ? (size_t)(colon - h) : alen;
	if (hlen == 0 || hlen > ACS_MAX_HOST || h[0] == '[')
		return fail_setup(err, cap, bad, 0);
	memcpy(a->id_host, h, hlen);
	a->id_host[hlen] = 0;
	a->id_port = 80;
	if (colon) {
		unsigned v = 0;
		const char *d = colon + 1;
		if (d == p)
			return fail_setup(err, cap, bad, 0);
		for (; d < p; d++) {
			if (*d < '0' || *d > '9' || (v = v * 10 + (unsigned)(*d - '0')) > 65535)
				return fail_setup(err, cap, bad, 0);
		}
		if (v == 0)
			return fail_setup(err, cap, bad, 0);
		a->id_port = (uint16_t)v;
	}
	struct buf t;
	buf_init(&t, a->id_target, sizeof a->id_target);
	if (*p != '/')
		buf_putc(&t, '/'); /* "http://host" or "http://host?q": the path is "/" */
	buf_puts(&t, p);
	for (size_t i = 0; i < t.len; i++)
		if ((unsigned char)a->id_target[i] <= 0x20 ||
		    (unsigned char)a->id_target[i] >= 0x7f)
			return fail_setup(err, cap, bad, 0);
	buf_putc(&t, memchr(t.p, '?', t.len) ? '&' : '?');
	buf_puts(&t, identity_query);
	if (client_id && *client_id) {
		for (const char *c = client_id; *c; c++)
			if (!((*c >= '0' && *c <= '9') || (*c >= 'a' && *c <= 'z') ||
			      (*c >= 'A' && *c <= 'Z') || *c == '-'))
				return fail_setup(
				    err, cap,
				    "AZURE_CLIENT_ID: must be the client id (a GUID) of "
				    "a user-assigned identity",
				    0);
		buf_puts(&t, "&client_id=");
		buf_puts(&t, client_id);
	}
	if (t.err || t.len >= sizeof a->id_target)
		return fail_setup(err, cap, "IDENTITY_ENDPOINT: too long", 0);
	buf_cstr(&t);
	return 0;
}

/* see acs.h */
int acs_init(struct acs *a, const struct acs_settings *s, const struct tls_anchors *anchors,
             char *err, size_t errcap)
{
	char why[TRANSPORT_DETAIL_MAX];
	int has_cs = s->connection_string && *s->connection_string;
	int has_ep = s->endpoint && *s->endpoint;
	memset(a, 0, sizeof *a);
	pthread_mutex_init(&a->mu, 0);
	if (has_cs && has_ep)
		return fail_setup(
		    err, errcap,
		    "set either COMMUNICATION_SERVICES_CONNECTION_STRING (access key) or "
		    "ACS_ENDPOINT (managed identity), not both",
		    0);
	if (has_cs) {
		if (acs_conn_parse(s->connection_string, strlen(s->connection_string), &a->conn,
		                   why, sizeof why) < 0)
			return fail_setup(err, errcap,
			                  "COMMUNICATION_SERVICES_CONNECTION_STRING: ", why);
	} else if (has_ep) {
		if (acs_endpoint_parse(s->endpoint, strlen(s->endpoint), &a->conn, why,
		                       sizeof why) < 0)
			return fail_setup(err, errcap, "ACS_ENDPOINT: ", why);
		a->bearer = 1;
		if (!s->identity_endpoint || !*s->identity_endpoint || !s->identity_header ||
		    !*s->identity_header)
			return fail_setup(
			    err, errcap,
			    "ACS_ENDPOINT needs a managed identity: IDENTITY_ENDPOINT and "
			    "IDENTITY_HEADER are unset (enable the app's identity, or use "
			    "COMMUNICATION_SERVICES_CONNECTION_STRING)",
			    0);
		if (identity_url(a, s->identity_endpoint, s->client_id, err, errcap) < 0)
			return -ERR_FIELD_INVALID;
		size_t hl = strlen(s->identity_header);
		if (hl > ACS_IDENTITY_SECRET_MAX)
			return fail_setup(err, errcap,
			                  "IDENTITY_HEADER: longer than " STR(
			                      ACS_IDENTITY_SECRET_MAX) " characters",
			                  0);
		for (size_t i = 0; i < hl; i++)
			if ((unsigned char)s->identity_header[i] <= 0x20 ||
			    (unsigned char)s->identity_header[i] >= 0x7f)
				return fail_setup(err, errcap,
				                  "IDENTITY_HEADER: must be visible ASCII", 0);
		memcpy(a->id_header, s->identity_header, hl + 1);
	} else {
		return fail_setup(
		    err, errcap,
		    "ACS is not configured: set COMMUNICATION_SERVICES_CONNECTION_STRING "
		    "or ACS_ENDPOINT",
		    0);
	}
	const char *v =
	    s->api_version && *s->api_version ? s->api_version : ACS_API_VERSION_DEFAULT;
	size_t vl = strlen(v);
	int ok = vl >= 10 && vl <= ACS_API_VERSION_MAX;
	for (size_t i = 0; ok && i < vl; i++)
		ok = (v[i] >= '0' && v[i] <= '9') || v[i] == '-' || (v[i] >= 'a' && v[i] <= 'z');
	if (!ok)
		return fail_setup(err, errcap,
		                  "ACS_API_VERSION: must look like 2023-03-31 or 2025-09-01", 0);
	memcpy(a->api_version, v, vl + 1);
	a->sender = s->sender;
	a->timeout_ms = s->timeout_ms;
	a->attempt_timeout_ms = s->attempt_timeout_ms;
	a->attempts = s->attempts < 1 ? 1 : s->attempts;
	a->backoff_ms = s->backoff_ms;
	a->anchors = anchors;
	return 0;
}

/* see acs.h */
size_t acs_worker_size(size_t max_body)
{
	size_t body = (max_body > ACS_MAX_REQUEST ? ACS_MAX_REQUEST : max_body) + ACS_BODY_OVERHEAD;
	return sizeof(struct acs_worker) + ACS_HEAD_MAX + body;
}

/* see acs.h */
void acs_worker_init(struct acs_worker *w, const struct acs *a, size_t size)
{
	w->a = a;
	w->fd = -1;
	w->idle_ms = 0;
	w->req_cap = size - sizeof *w;
	if (getrandom(&w->rng, sizeof w->rng, 0) != (ssize_t)sizeof w->rng || w->rng == 0)
		w->rng = (uint64_t)log_now_ns() | 1;
	tls_client_init(&w->tls, a->anchors);
}

/* see acs.h */
void acs_worker_close(struct acs_worker *w)
{
	if (w->fd < 0)
		return;
	tls_close(&w->tls);
	close(w->fd);
	w->fd = -1;
}

/* ---- the worker's TLS connection behind http_client.h ------------------------------------- */

static long tls_io_read(void *ctx, char *p, size_t n, int64_t deadline)
{
	return tls_read(ctx, p, n, deadline);
}

static long tls_io_write(void *ctx, const char *p, size_t n, int64_t deadline)
{
	return tls_write_all(ctx, p, n, deadline);
}

static int tls_io_pending(void *ctx)
{
	return tls_pending(ctx);
}

/* ---- one attempt on the worker's connection ---------------------------------------------------
 */

/* Opens (or keeps) the worker's TLS connection to ACS. */
static int ensure_conn(struct acs_worker *w, int64_t deadline, int *reused,
                       struct transport_result *r)
{
	const struct acs *a = w->a;
	if (w->fd >= 0 && sock_now_ms() - w->idle_ms < ACS_IDLE_REUSE_MS && !sock_readable(w->fd) &&
	    !tls_pending(&w->tls)) {
		*reused = 1;
		return 0;
	}
	acs_worker_close(w);
	*reused = 0;
	const char *why = 0;
	int64_t t0 = log_now_ns();
	int fd = http_client_connect(a->conn.host, a->conn.port, deadline, &why);
	if (fd < 0) {
		acs_detail(r, "connect to ", a->conn.endpoint_host, why ? ": " : "");
		if (why) {
			size_t k = strlen(r->detail);
			acs_copy_str(r->detail + k, sizeof r->detail - k, why, strlen(why));
		}
		return fd == -ERR_TIMEOUT ? -ERR_UPSTREAM_TIMEOUT : -ERR_UPSTREAM_CONNECT;
	}
	int rc = tls_connect(&w->tls, fd, a->conn.host, deadline);
	struct log_line l;
	if (rc < 0) {
		int br = w->tls.last_br_err;
		close(fd);
		if (rc == -ERR_TIMEOUT) {
			acs_detail(r, "TLS handshake with ", a->conn.endpoint_host, " timed out");
			return -ERR_UPSTREAM_TIMEOUT;
		}
		if (rc == -ERR_IO) {
			acs_detail(r, "TLS handshake with ", a->conn.endpoint_host,
			           ": connection closed");
			return -ERR_UPSTREAM_CONNECT;
		}
		int cert = br >= BR_ERR_X509_OK && br < BR_ERR_X509_OK + 32;
		acs_detail(r, cert ? "certificate of " : "TLS handshake with ",
		           a->conn.endpoint_host, cert ? " refused: " : " failed: ");
		size_t k = strlen(r->detail);
		const char *t = tls_error_text(br);
		acs_copy_str(r->detail + k, sizeof r->detail - k, t, strlen(t));
		if (log_begin(&l, LOG_ERROR, "acs.tls_failed")) {
			log_cstr(&l, "host", a->conn.endpoint_host);
			log_int(&l, "br_err", br);
			log_cstr(&l, "reason", t);
			log_end(&l);
		}
		return cert ? -ERR_TLS_CERT : -ERR_TLS_HANDSHAKE;
	}
	w->fd = fd;
	if (log_begin(&l, LOG_DEBUG, "acs.connected")) {
		log_cstr(&l, "host", a->conn.endpoint_host);
		log_int(&l, "resumed", tls_resumed(&w->tls));
		log_ms(&l, "ms", log_now_ns() - t0);
		log_end(&l);
	}
	return 0;
}

/* How one attempt ended. */
struct outcome {
	int rc;     /* 0: an answer (status); else -ERR_x with r->detail */
	int status; /* HTTP status of the answer */
	int retry_after;
	int reused; /* the attempt ran on a kept-alive connection */
	int got;    /* answer bytes arrived */
};

/*
 * Sends one request: head built now (fresh date and signature, or the token), body already at
 * w->req + ACS_HEAD_MAX. On an answer, ans holds its body's facts.
 */
static void attempt(struct acs *a, struct acs_worker *w, const char *method, const char *target,
                    size_t blen, const char *op_id, int64_t deadline, struct outcome *o,
                    struct acs_answer *ans, struct transport_result *r)
{
	memset(o, 0, sizeof *o);
	o->retry_after = -1;
	char *body = w->req + ACS_HEAD_MAX;
	if (a->bearer && (o->rc = acs_token_get(a, w, deadline, r)) < 0)
		return;
	/* the head goes right before the body, so one write sends both */
	struct buf h;
	buf_init(&h, w->resp, sizeof w->resp);
	http_request_head(&h, method, target, a->conn.endpoint_host);
	buf_puts(&h,
	         "User-Agent: notify-handler/" NOTIFY_VERSION "\r\nAccept: application/json\r\n");
	if (blen) {
		buf_puts(&h, "Content-Type: application/json\r\nContent-Length: ");
		buf_put_u64(&h, blen);
		buf_puts(&h, "\r\n");
	}
	if (op_id)
		http_header_line(&h, "Operation-Id", op_id, strlen(op_id));
	if (a->bearer) {
		buf_puts(&h, "Authorization: Bearer ");
		buf_puts(&h, w->token);
		buf_puts(&h, "\r\n");
	} else if (acs_auth_sign(&h, &a->conn, method, target, blen ? body : 0, blen,
	                         (int64_t)time(0)) < 0) {
		h.err = -ERR_INTERNAL;
	}
	buf_puts(&h, "\r\n");
	if (h.err || h.len > ACS_HEAD_MAX) {
		memset(w->resp, 0, sizeof w->resp); /* a partial head may hold the token */
		o->rc = -ERR_INTERNAL;
		acs_detail(r, "request head does not fit", 0, 0);
		return;
	}
	char *start = body - h.len;
	memcpy(start, h.p, h.len);
	memset(h.p, 0, h.len); /* the head holds the signature or the token */
	if ((o->rc = ensure_conn(w, deadline, &o->reused, r)) < 0) {
		memset(start, 0, h.len);
		return;
	}
	struct http_client_io io = {&w->tls, tls_io_read, tls_io_write, tls_io_pending};
	struct http_client_answer rp;
	int rc = http_client_exchange(&io, start, h.len + blen, w->resp, sizeof w->resp, w->hdr,
	                              HTTP_MAX_HEADERS, 0, &rp, deadline);
	memset(start, 0, h.len); /* the head held the signature or the token */
	if (rc < 0) {
		o->got = rp.got;
		acs_worker_close(w);
		o->rc = rc == -ERR_TIMEOUT ? -ERR_UPSTREAM_TIMEOUT
		        : rc == -ERR_IO    ? -ERR_UPSTREAM_CONNECT
		        : rc == -ERR_INTERNAL
		            ? -ERR_UPSTREAM_CONNECT /* alert or bad record after the
		                               handshake: a broken connection */
		            : -ERR_UPSTREAM_BAD_RESPONSE;
		acs_detail(r,
		           rc == -ERR_TIMEOUT ? "ACS did not answer in time"
		           : rc == -ERR_IO    ? "the connection to ACS broke before a whole answer"
		                              : "ACS sent a malformed answer",
		           0, 0);
		if (rc == -ERR_INTERNAL) {
			const char *t = tls_error_text(w->tls.last_br_err);
			acs_detail(r, "TLS failure talking to ACS: ", t, 0);
		}
		return;
	}
	o->got = 1;
	o->status = rp.res.status;
	int ra;
	if (http_retry_after(&rp.res, (int64_t)time(0), &ra))
		o->retry_after = ra;
	acs_answer_read(&rp.res, rp.body, rp.body_len, w->tok, ACS_RESP_TOKENS, ans);
	if (rp.reuse)
		w->idle_ms = sock_now_ms();
	else
		acs_worker_close(
		    w); /* closed by the answer, or bytes after it: not ours to reuse */
}

/* Sleeps ms milliseconds, in slices, until acs_stop_waiting. Returns 0, or -1 when stopped. */
static int pause_ms(struct acs *a, int64_t ms)
{
	int64_t end = sock_now_ms() + ms;
	for (;;) {
		if (atomic_load(&a->stopping))
			return -1;
		int64_t left = end - sock_now_ms();
		if (left <= 0)
			return 0;
		if (left > ACS_STOP_POLL_MS)
			left = ACS_STOP_POLL_MS;
		struct timespec ts = {0, (long)left * 1000000L};
		nanosleep(&ts, 0);
	}
}

/* see acs.h */
void acs_stop_waiting(void *a)
{
	atomic_store(&((struct acs *)a)->stopping, 1);
}

/* Backoff before attempt `n` (n >= 2): base * 2^(n-2), capped, with "equal jitter" (half
 * fixed, half random) so that workers retrying together spread out. */
static int64_t backoff(struct acs_worker *w, int base, int n)
{
	int64_t d = base;
	for (int i = 2; i < n && d < ACS_BACKOFF_MAX_MS; i++)
		d *= 2;
	if (d > ACS_BACKOFF_MAX_MS)
		d = ACS_BACKOFF_MAX_MS;
	w->rng ^= w->rng << 13;
	w->rng ^= w->rng >> 7;
	w->rng ^= w->rng << 17;
	return d / 2 + (int64_t)(w->rng % (uint64_t)(d / 2 + 1));
}

static void log_attempt(const char *what, const char *op_id, int n, const struct outcome *o,
                        int64_t t0, const struct acs_answer *ans, int final)
{
	struct log_line l;
	int level = o->rc == 0 && o->status < 300 ? LOG_INFO : final ? LOG_ERROR : LOG_WARN;
	if (log_begin(&l, level, what)) {
		if (op_id)
			log_cstr(&l, "operation_id", op_id);
		log_int(&l, "attempt", n);
		if (o->rc == 0)
			log_int(&l, "status", o->status);
		else
			log_cstr(&l, "error", err_slug(o->rc));
		if (ans->code[0])
			log_cstr(&l, "code", ans->code);
		if (o->retry_after >= 0)
			log_int(&l, "retry_after_s", o->retry_after);
		log_int(&l, "reused", o->reused);
		log_ms(&l, "ms", log_now_ns() - t0);
		log_end(&l);
	}
}

/*
 * The retry loop of acs.h around attempt(). Returns 0 with the 2xx answer in ans, or the -ERR_x
 * to answer with, r filled.
 */
static int call(struct acs *a, struct acs_worker *w, const char *event, const char *method,
                const char *target, size_t blen, const char *op_id, int wait_throttle,
                struct acs_answer *ans, int *status, struct transport_result *r)
{
	int64_t deadline = sock_now_ms() + a->timeout_ms;
	struct outcome o;
	for (int n = 1;; n++) {
		int64_t t0 = log_now_ns(), now = sock_now_ms();
		int64_t adl =
		    now + a->attempt_timeout_ms < deadline ? now + a->attempt_timeout_ms : deadline;
		memset(ans, 0, sizeof *ans);
		attempt(a, w, method, target, blen, op_id, adl, &o, ans, r);
		/* a kept-alive connection that died before answering: open a new one at once (RFC
		 * 9112 9.3.1 "Retrying Requests") */
		if (o.rc < 0 && o.reused && !o.got && o.rc != -ERR_UPSTREAM_TIMEOUT) {
			log_attempt(event, op_id, n, &o, t0, ans, 0);
			memset(ans, 0, sizeof *ans);
			attempt(a, w, method, target, blen, op_id, adl, &o, ans, r);
		}
		int retry; /* 1: worth another attempt; then wait_ms before it */
		int64_t wait_ms = 0;
		if (o.rc < 0) {
			retry = o.rc == -ERR_UPSTREAM_TIMEOUT || o.rc == -ERR_UPSTREAM_CONNECT ||
			        o.rc == -ERR_UPSTREAM_BAD_RESPONSE || o.rc == -ERR_IDENTITY;
		} else if (o.status >= 200 && o.status < 300) {
			log_attempt(event, op_id, n, &o, t0, ans, 1);
			*status = o.status;
			return 0;
		} else if (o.status == 429 || o.status == 503) {
			/* 429 is retried only when ACS says how long to wait (service-limits, "Rate
			 * limits"): every attempt
			 * counts against the subscription's quota. 503 is a transient failure. */
			retry = (wait_throttle && o.retry_after > 0) || o.status == 503;
			if (o.retry_after > 0)
				wait_ms = (int64_t)o.retry_after * 1000;
		} else {
			retry = o.status == 408 || o.status == 500 || o.status == 502 ||
			        o.status == 504;
		}
		if (a->bearer && o.rc == 0 && o.status == 401)
			acs_token_drop(a); /* revoked or rotated: fetch anew next time */
		if (retry && !wait_ms)
			wait_ms = backoff(w, a->backoff_ms, n + 1);
		int last = !retry || n >= a->attempts || sock_now_ms() + wait_ms >= deadline ||
		           atomic_load(&a->stopping);
		log_attempt(event, op_id, n, &o, t0, ans, last);
		if (!last && pause_ms(a, wait_ms) == 0)
			continue;
		/* the last attempt, or a drain ended the wait: answer with what we have */
		{
			*status = o.rc < 0 ? 0 : o.status;
			if (o.rc < 0) {
				r->http_status = err_http_status(o.rc);
				/* a refused certificate (a root rotation) or token may pass once
				 * the deployment is fixed: a queue keeps the message (poison)
				 * meanwhile */
				r->retryable =
				    retry || o.rc == -ERR_TLS_CERT || o.rc == -ERR_TLS_HANDSHAKE;
				r->retry_after_s = 0;
				acs_copy_str(r->code, sizeof r->code, "", 0);
				return o.rc;
			}
			return acs_classify(o.status, ans, a->bearer, o.retry_after, r);
		}
	}
}

/* ---- the transport ----------------------------------------------------------------------------
 */

static int acs_tstatus(void *ctx, void *wctx, const char *id, struct transport_result *r);

static int acs_tsend(void *ctx, void *wctx, const struct notify_msg *msg, const char *id,
                     struct transport_result *r)
{
	struct acs *a = ctx;
	struct acs_worker *w = wctx;
	struct buf b;
	buf_init(&b, w->req + ACS_HEAD_MAX, w->req_cap - ACS_HEAD_MAX);
	acs_email_json(&b, msg, a->sender);
	if (b.err || b.len > ACS_MAX_REQUEST) {
		r->http_status = 413;
		r->retryable = 0;
		acs_detail(r,
		           "the message is larger than the 10 MB ACS accepts (attachments count "
		           "base64-encoded)",
		           0, 0);
		return -ERR_BODY_TOO_LARGE;
	}
	char target[ACS_TARGET_MAX];
	struct buf t;
	buf_init(&t, target, sizeof target);
	buf_puts(&t, "/emails:send?api-version=");
	buf_puts(&t, a->api_version);
	buf_cstr(&t);
	struct acs_answer ans;
	int status = 0;
	int rc = call(a, w, "acs.send", "POST", target, b.len, id, 1, &ans, &status, r);
	if (rc < 0 && status == 409) {
		/* Operation-Id already used: an earlier attempt of ours whose answer was lost may
		 * have created the operation ("Send", "Request Header": Operation-Id); if ACS
		 * knows it, that is this send */
		struct transport_result st = {0};
		if (acs_tstatus(a, w, id, &st) == 0) {
			struct log_line l;
			if (log_begin(&l, LOG_WARN, "acs.conflict_found")) {
				log_cstr(&l, "operation_id", id);
				log_cstr(&l, "status", st.state);
				log_end(&l);
			}
			*r = st;
			return 0;
		}
		return rc;
	}
	if (rc < 0)
		return rc;
	if (ans.id[0] && strcasecmp(ans.id, id) != 0) {
		/* ACS must adopt our Operation-Id ("Send", "Request Header"); another id
		 * would break status lookups */
		struct log_line l;
		if (log_begin(&l, LOG_WARN, "acs.id_mismatch")) {
			log_cstr(&l, "operation_id", id);
			log_cstr(&l, "acs_id", ans.id);
			log_end(&l);
		}
	}
	r->state = "Running";
	if (!strcmp(ans.status, "NotStarted"))
		r->state = "NotStarted";
	else if (!strcmp(ans.status, "Succeeded"))
		r->state = "Succeeded";
	else if (!strcmp(ans.status, "Failed"))
		r->state = "Failed";
	else if (!strcmp(ans.status, "Canceled"))
		r->state = "Canceled";
	return 0;
}

static int acs_tstatus(void *ctx, void *wctx, const char *id, struct transport_result *r)
{
	struct acs *a = ctx;
	struct acs_worker *w = wctx;
	char target[ACS_TARGET_MAX];
	struct buf t;
	buf_init(&t, target, sizeof target);
	buf_puts(&t, "/emails/operations/");
	buf_puts(&t, id);
	buf_puts(&t, "?api-version=");
	buf_puts(&t, a->api_version);
	buf_cstr(&t);
	struct acs_answer ans;
	int status = 0;
	int rc = call(a, w, "acs.status", "GET", target, 0, 0, 0, &ans, &status, r);
	if (rc < 0 && status == 404)
		return -ERR_NOT_FOUND; /* an operation ACS does not know (or no longer keeps) */
	if (rc < 0)
		return rc;
	static const char *const states[] = {"NotStarted", "Running", "Succeeded", "Failed",
	                                     "Canceled"};
	r->state = "Running";
	for (size_t i = 0; i < sizeof states / sizeof *states; i++)
		if (!strcmp(ans.status, states[i]))
			r->state = states[i];
	if (ans.code[0]) {
		acs_copy_str(r->code, sizeof r->code, ans.code, strlen(ans.code));
		acs_copy_str(r->detail, sizeof r->detail, ans.message, strlen(ans.message));
	}
	return 0;
}

/* see acs.h */
void transport_acs(struct transport *t, struct acs *a)
{
	t->name = "acs";
	t->ctx = a;
	t->send = acs_tsend;
	t->status = acs_tstatus;
	t->caps = TRANSPORT_CAN_DELIVER;
}
