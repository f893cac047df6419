/*
 * app.c: the standalone routes of app.h: readiness, send, status. Validation lives in notify.c,
 * delivery behind transport.h; this file decides answers and writes them.
 */
#include "app.h"

#include <string.h>
#include <time.h>
#include <unistd.h>

#include "delivery.h"
#include "err.h"
#include "log.h"

/* Body of a problem or JSON answer, built before its head so Content-Length is known. Problem
 * documents are at most: slug 40 + title 80 + detail 160 + field 48 + JSON syntax 120. */
#define APP_BODY_MAX 1024

/* Extra header lines of an answer: "Location: /api/notification/<36-char id>\r\n" (66 bytes) or
 * "Retry-After: <up to 86400>\r\n" (20 bytes), with room to spare. */
#define APP_EXTRA_HEADERS_MAX 128

static const char route_send[] = "/api/notification";

/* Function names (function.json folders, infra/functions) the host POSTs to. */
static const char fn_send[] = "/notification", fn_worker[] = "/notification_worker",
                  fn_status[] = "/notification_status", fn_delivery[] = "/delivery_report";

/* Writes head, any extra header lines, then the body. */
static void answer(struct buf *out, int status, const char *type, const char *extra,
                   const struct buf *body, int head_only, int keep_alive)
{
	http_response_head(out, status, type, body->len, keep_alive);
	if (extra)
		buf_puts(out, extra);
	buf_puts(out, "\r\n");
	if (!head_only)
		buf_append(out, body->p, body->len);
}

/* A problem answer with an explicit status (a transport may answer 502 for -ERR_IO); for a HEAD
 * request the head only (RFC 9110 9.3.2). */
static void problem(struct buf *out, int status, int err, const char *field, const char *detail,
                    const char *extra_headers, int head_only, int keep_alive)
{
	char mem[APP_BODY_MAX];
	struct buf b;
	buf_init(&b, mem, sizeof mem);
	buf_puts(&b, "{\"type\":\"urn:notify-handler:problem:");
	buf_puts(&b, err_slug(err));
	buf_puts(&b, "\",\"title\":");
	json_put_cstr(&b, err_str(err));
	buf_puts(&b, ",\"status\":");
	buf_put_u64(&b, (uint64_t)status);
	if (detail && *detail) {
		buf_puts(&b, ",\"detail\":");
		json_put_cstr(&b, detail);
	}
	if (field && *field) {
		buf_puts(&b, ",\"field\":");
		json_put_cstr(&b, field);
	}
	buf_putc(&b, '}');
	answer(out, status, "application/problem+json", extra_headers, &b, head_only, keep_alive);
}

/* see app.h */
void app_problem(struct buf *out, int err, const char *field, const char *detail,
                 const char *extra_headers, int keep_alive)
{
	problem(out, err_http_status(err), err, field, detail, extra_headers, 0, keep_alive);
}

/* Path of the target without its query. */
static size_t path_len(const struct http_request *req)
{
	const char *q = memchr(req->target, '?', req->target_len);
	return q ? (size_t)(q - req->target) : req->target_len;
}

static int method_is(const struct http_request *req, const char *m)
{
	return req->method_len == strlen(m) && memcmp(req->method, m, req->method_len) == 0;
}

/* Constant-time equality of a[0..n) and the NUL-terminated secret b. */
static int secret_eq(const char *a, size_t n, const char *b)
{
	size_t bn = strlen(b);
	unsigned char d = (unsigned char)(n != bn);
	for (size_t i = 0; i < bn; i++)
		d |= (unsigned char)(b[i] ^ (i < n ? a[i] : 0));
	return d == 0;
}

/* The token of an "Authorization: Bearer <token>" header into *v, *n; 0 when h is not one. */
static int bearer_token(const struct http_header *h, const char **v, size_t *n)
{
	if (!h || h->value_len <= 7 || !http_token_eq(h->value, 7, "bearer "))
		return 0;
	*v = h->value + 7;
	*n = h->value_len - 7;
	while (*n > 0 && **v == ' ')
		(*v)++, (*n)--;
	return 1;
}

/* 1 when the request carries the API key (X-API-Key, or Authorization: Bearer). */
static int authorized(const struct app *a, const struct http_request *req)
{
	const char *v;
	size_t n;
	if (!a->api_key || !*a->api_key)
		return 1;
	const struct http_header *h = http_header_find(req, "x-api-key");
	if (h)
		return secret_eq(h->value, h->value_len, a->api_key);
	return bearer_token(http_header_find(req, "authorization"), &v, &n) &&
	       secret_eq(v, n, a->api_key);
}

/* The API-key header that makes the request readable two ways, or NULL: X-API-Key or
 * Authorization twice, or an X-API-Key and a Bearer token that differ. Only with a key set:
 * without one these headers mean nothing here (a proxy may add its own Authorization). */
static const char *ambiguous_key(const struct app *a, const struct http_request *req)
{
	const char *v;
	size_t n;
	if (!a->api_key || !*a->api_key)
		return 0;
	if (http_header_count(req, "x-api-key") > 1)
		return "X-API-Key";
	if (http_header_count(req, "authorization") > 1)
		return "Authorization";
	const struct http_header *x = http_header_find(req, "x-api-key");
	/* both values are the client's own: comparing them reveals nothing of the key, so a
	 * plain comparison does (secret_eq is for the key) */
	if (x && bearer_token(http_header_find(req, "authorization"), &v, &n) &&
	    (x->value_len != n || memcmp(x->value, v, n) != 0))
		return "Authorization";
	return 0;
}

/* 1 when Content-Type is absent or application/json with at most a utf-8 charset. */
static int json_content_type(const struct http_request *req)
{
	const struct http_header *h = http_header_find(req, "content-type");
	if (!h)
		return 1; /* the original clients may omit it; the body must still be JSON */
	const char *v = h->value, *end = v + h->value_len;
	const char *semi = memchr(v, ';', h->value_len);
	const char *te = semi ? semi : end;
	while (te > v && (te[-1] == ' ' || te[-1] == '\t'))
		te--;
	if (!http_token_eq(v, (size_t)(te - v), "application/json"))
		return 0;
	while (semi && semi < end) {
		const char *p = semi + 1;
		while (p < end && (*p == ' ' || *p == '\t'))
			p++;
		if (p >= end)
			break;
		semi = memchr(p, ';', (size_t)(end - p));
		const char *pe = semi ? semi : end;
		while (pe > p && (pe[-1] == ' ' || pe[-1] == '\t'))
			pe--;
		size_t n = (size_t)(pe - p);
		if (n == 0)
			continue;
		if (!http_token_eq(p, n, "charset=utf-8") &&
		    !http_token_eq(p, n, "charset=\"utf-8\""))
			return 0;
	}
	return 1;
}

/* {"id":..,"status":..[,"error":{"code","message"}]} answer with the given status; Location
 * for 202. tr MAY be NULL; its code and detail become "error" when the code is set (a "Failed"
 * operation: "EmailDropped", ...). */
static void op_answer(struct buf *out, int status, const char *id, const char *state,
                      const struct transport_result *tr, int head_only, int keep_alive)
{
	char mem[APP_BODY_MAX], hdr[APP_EXTRA_HEADERS_MAX];
	struct buf b, h;
	buf_init(&b, mem, sizeof mem);
	buf_puts(&b, "{\"id\":\"");
	buf_puts(&b, id);
	buf_puts(&b, "\",\"status\":");
	json_put_cstr(&b, state);
	if (tr && tr->code[0]) {
		buf_puts(&b, ",\"error\":{\"code\":");
		json_put_cstr(&b, tr->code);
		buf_puts(&b, ",\"message\":");
		json_put_cstr(&b, tr->detail);
		buf_putc(&b, '}');
	}
	buf_putc(&b, '}');
	buf_init(&h, hdr, sizeof hdr);
	if (status == 202) {
		buf_puts(&h, "Location: /api/notification/");
		buf_puts(&h, id);
		buf_puts(&h, "\r\n");
	}
	buf_putc(&h, 0);
	answer(out, status, "application/json", hdr, &b, head_only, keep_alive);
}

/* Error answer plus bookkeeping for the log; r->head_only set by app_head for HEAD. */
static int fail(struct buf *out, struct app_reply *r, int err, const char *field,
                const char *detail, const char *extra, int keep_alive)
{
	r->err = err;
	r->status = err_http_status(err);
	if (field) {
		strncpy(r->field, field, sizeof r->field - 1);
		r->field[sizeof r->field - 1] = 0;
	}
	problem(out, r->status, err, field, detail, extra, r->head_only, keep_alive);
	return r->status;
}

/* "Retry-After: <s>\r\n" into extra (NUL-terminated), or "" when s is 0. */
static void retry_after_line(char *extra, size_t cap, int s)
{
	struct buf h;
	buf_init(&h, extra, cap);
	if (s > 0) {
		buf_puts(&h, "Retry-After: ");
		buf_put_u64(&h, (uint64_t)s);
		buf_puts(&h, "\r\n");
	}
	buf_cstr(&h);
}

/* GET|HEAD /api/notification/<id>. */
static int status_route(struct app *a, struct app_slot *s, const char *id, size_t n, int head_only,
                        struct buf *out, int keep_alive, struct app_reply *r)
{
	struct transport_result tr = {0};
	if (!id_valid(id, n))
		return fail(out, r, -ERR_NOT_FOUND, 0, "no notification has this id", 0,
		            keep_alive);
	memcpy(r->id, id, n);
	r->id[n] = 0;
	int rc = a->tr->status(a->tr->ctx, s->wctx, r->id, &tr);
	if (rc == -ERR_NOT_FOUND)
		return fail(out, r, rc, 0,
		            a->queued && a->under_host
		                ? "no notification has this id yet: a queued notification is known "
		                  "once the worker has sent it"
		                : "no notification has this id",
		            0, keep_alive);
	if (rc < 0) {
		char extra[APP_EXTRA_HEADERS_MAX];
		retry_after_line(extra, sizeof extra, tr.retry_after_s);
		r->err = rc;
		r->status = tr.http_status ? tr.http_status : err_http_status(rc);
		problem(out, r->status, rc, 0, tr.detail, extra, head_only, keep_alive);
		return r->status;
	}
	r->status = 200;
	op_answer(out, 200, r->id, tr.state, &tr, head_only, keep_alive);
	return 200;
}

/* The status route of a request app_head routed there: the id follows the route and '/'. */
static void status_of(struct app *a, struct app_slot *s, const struct http_request *req,
                      struct buf *out, int keep_alive, struct app_reply *r)
{
	size_t sn = sizeof route_send - 1;
	status_route(a, s, req->target + sn + 1, path_len(req) - sn - 1, r->head_only, out,
	             keep_alive, r);
}

/* see app.h */
int app_head(struct app *a, struct app_slot *s, const struct http_request *req, struct buf *out,
             int keep_alive, struct app_reply *r)
{
	const char *p = req->target;
	size_t n = path_len(req), sn = sizeof route_send - 1;
	int get = method_is(req, "GET"), head = method_is(req, "HEAD");
	(void)s; /* the event loop calls with no slot: nothing here needs one */
	memset(r, 0, sizeof *r);
	r->head_only = head;
	if (n == 1 && p[0] == '/') {
		r->route = ROUTE_READY;
		if (!get && !head)
			return fail(out, r, -ERR_METHOD, 0, "use GET or HEAD",
			            "Allow: GET, HEAD\r\n", keep_alive);
		const char *why = 0; /* the transport's check never blocks (transport.h) */
		if (a->tr && a->tr->ready && !a->tr->ready(a->tr->ctx, &why))
			return fail(out, r, -ERR_NOT_READY, 0, why, "Retry-After: 1\r\n",
			            keep_alive);
		static const char ready[] = "{\"status\":\"ready\"}";
		struct buf b;
		buf_init(&b, (char *)ready, sizeof ready);
		b.len = sizeof ready - 1;
		answer(out, 200, "application/json", 0, &b, head, keep_alive);
		return r->status = 200;
	}
	if (n >= sn && memcmp(p, route_send, sn) == 0 && (n == sn || p[sn] == '/')) {
		r->route = n == sn ? ROUTE_SEND : ROUTE_STATUS;
		const char *amb = ambiguous_key(a, req);
		if (amb)
			return fail(
			    out, r, -ERR_HEADER_AMBIGUOUS, amb,
			    "send the API key once, in X-API-Key or in Authorization: Bearer", 0,
			    keep_alive);
		if (!authorized(a, req))
			return fail(out, r, -ERR_UNAUTHORIZED, 0,
			            "send the key in X-API-Key or Authorization: Bearer",
			            "WWW-Authenticate: Bearer realm=\"notify-handler\"\r\n",
			            keep_alive);
		if (r->route == ROUTE_STATUS) {
			if (!get && !head)
				return fail(out, r, -ERR_METHOD, 0, "use GET or HEAD",
				            "Allow: GET, HEAD\r\n", keep_alive);
			return 0; /* asks the transport: a worker's job (app_body) */
		}
		if (!method_is(req, "POST"))
			return fail(out, r, -ERR_METHOD, 0, "use POST", "Allow: POST\r\n",
			            keep_alive);
		if (!json_content_type(req))
			return fail(out, r, -ERR_MEDIA_TYPE, 0,
			            "send Content-Type: application/json (charset utf-8)", 0,
			            keep_alive);
		if (http_header_count(req, "idempotency-key") > 1)
			return fail(out, r, -ERR_HEADER_AMBIGUOUS, "Idempotency-Key",
			            "send one Idempotency-Key", 0, keep_alive);
		return 0;
	}
	enum app_route fr =
	    ROUTE_NONE; /* only the host invokes functions: standalone they are 404 */
	if (!a->under_host)
		fr = ROUTE_NONE;
	else if (n == sizeof fn_send - 1 && memcmp(p, fn_send, n) == 0)
		fr = ROUTE_FN_SEND;
	else if (n == sizeof fn_worker - 1 && memcmp(p, fn_worker, n) == 0)
		fr = ROUTE_FN_WORKER;
	else if (n == sizeof fn_status - 1 && memcmp(p, fn_status, n) == 0)
		fr = ROUTE_FN_STATUS;
	else if (n == sizeof fn_delivery - 1 && memcmp(p, fn_delivery, n) == 0)
		fr = ROUTE_FN_DELIVERY;
	if (fr != ROUTE_NONE) { /* the Functions host invoking a function: the envelope follows */
		r->route = fr;
		r->body_limit = a->envelope_limit;
		if (!method_is(req, "POST"))
			return fail(out, r, -ERR_METHOD, 0, "the Functions host invokes with POST",
			            "Allow: POST\r\n", keep_alive);
		return 0;
	}
	return fail(out, r, -ERR_NOT_FOUND, 0, "no such route", 0, keep_alive);
}

/* Queued mode: writes the queue message {"id":"<id>","request":<the validated body>} into
 * s->qbuf; the worker function sends it under that id. */
static int enqueue_msg(struct app_slot *s, const char *id, const char *body, size_t n,
                       struct transport_result *tr)
{
	struct buf q;
	buf_init(&q, s->qbuf, APP_QUEUE_MSG_MAX);
	buf_puts(&q, "{\"id\":\"");
	buf_puts(&q, id);
	buf_puts(&q, "\",\"request\":");
	buf_append(&q, body, n);
	buf_putc(&q, '}');
	if (q.err) {
		tr->http_status = 413;
		tr->retryable = 0;
		strcpy(tr->detail, "queued mode carries at most 48 KiB per notification (a Storage "
		                   "queue message); send larger ones with NOTIFY_MODE=direct");
		return -ERR_BODY_TOO_LARGE;
	}
	s->qlen = q.len;
	tr->state = "NotStarted";
	return 0;
}

/* Delivers an accepted message under id (or, with enqueue, writes its queue message),
 * honouring an Idempotency-Key. */
static void send_route(struct app *a, struct app_slot *s, const struct http_request *req,
                       const char *body, size_t n, struct buf *out, int keep_alive, int enqueue,
                       struct app_reply *r)
{
	struct transport_result tr = {0};
	unsigned char kh[32], bh[32];
	const struct http_header *key = http_header_find(req, "idempotency-key");
	if (key) {
		if (!idem_key_valid(key->value, key->value_len)) {
			fail(out, r, -ERR_IDEM_KEY_INVALID, 0,
			     "Idempotency-Key must be 1 to 255 printable ASCII characters", 0,
			     keep_alive);
			return;
		}
		idem_hash(key->value, key->value_len, kh);
		idem_hash(body, n, bh);
		/* The outbox keeps the first body's digest with the message, so the key alone names
		 * the operation and a reused key is refused after a restart too. ACS keeps nothing
		 * we can compare: the body's digest joins the id (README, Idempotency). */
		if (a->tr->caps & TRANSPORT_KEEPS_DIGEST)
			id_from_key(key->value, key->value_len, r->id);
		else
			id_from_key_body(key->value, key->value_len, bh, r->id);
		s->msg.request_digest = bh;
		int status = 0, rc = idem_begin(a->idem, kh, bh, (long long)time(0), &status);
		if (rc == -ERR_IDEM_BUSY) {
			fail(out, r, rc, 0, "retry after the first request has been answered",
			     "Retry-After: 1\r\n", keep_alive);
			return;
		}
		if (rc < 0) {
			fail(out, r, rc, 0, "use a new Idempotency-Key for a different request", 0,
			     keep_alive);
			return;
		}
		if (rc == IDEM_REPLAY) {
			r->replayed = 1;
			r->status = status;
			if (s->qbuf && enqueue) /* the first answer; asking ACS would cost quota */
				tr.state = "NotStarted";
			else if (a->tr->status(a->tr->ctx, s->wctx, r->id, &tr) < 0)
				tr.state = "Running";
			op_answer(out, status, r->id, tr.state, 0, 0, keep_alive);
			return;
		}
	} else if (id_random(r->id) < 0) {
		fail(out, r, -ERR_INTERNAL, 0, "no randomness for an operation id", 0, keep_alive);
		return;
	}
	/* without a transport, queued mode must not accept what no worker could send */
	int rc = s->qbuf && enqueue && (a->tr->caps & TRANSPORT_CAN_DELIVER)
	             ? enqueue_msg(s, r->id, body, n, &tr)
	             : a->tr->send(a->tr->ctx, s->wctx, &s->msg, r->id, &tr);
	if (rc < 0) {
		char extra[APP_EXTRA_HEADERS_MAX];
		retry_after_line(extra, sizeof extra, tr.retry_after_s);
		r->err = rc;
		r->status = tr.http_status ? tr.http_status : err_http_status(rc);
		problem(out, r->status, rc, 0, tr.detail, extra, 0, keep_alive);
	} else {
		r->status = 202;
		op_answer(out, 202, r->id, tr.state, 0, 0, keep_alive);
	}
	if (key)
		idem_finish(a->idem, kh, r->status);
	s->msg.request_digest = 0; /* bh dies here */
}

/* Validates body[0..n) into s->msg (strings decoded into scratch[0..cap)), then sends it, or
 * with enqueue writes its queue message. */
static void accept_body(struct app *a, struct app_slot *s, const struct http_request *req,
                        const char *body, size_t n, char *scratch, size_t cap, struct buf *out,
                        int keep_alive, int enqueue, struct app_reply *r)
{
	struct notify_error e;
	int rc =
	    notify_parse(body, n, s->tok, NOTIFY_MAX_TOKENS, scratch, cap, &a->policy, &s->msg, &e);
	if (rc < 0) {
		fail(out, r, rc, e.field, e.detail, 0, keep_alive);
		return;
	}
	r->recipients = s->msg.n_to + s->msg.n_cc + s->msg.n_bcc;
	r->first_rcpt = s->msg.to[0].p;
	r->first_rcpt_len = s->msg.to[0].len;
	send_route(a, s, req, body, n, out, keep_alive, enqueue, r);
}

static void fn_body(struct app *a, struct app_slot *s, const struct http_request *req,
                    const char *body, size_t n, struct buf *out, int keep_alive,
                    struct app_reply *r);

/* see app.h */
void app_body(struct app *a, struct app_slot *s, const struct http_request *req, const char *body,
              size_t n, struct buf *out, int keep_alive, struct app_reply *r)
{
	if (r->route >= ROUTE_FN_SEND) {
		fn_body(a, s, req, body, n, out, keep_alive, r);
		return;
	}
	if (r->route == ROUTE_STATUS) {
		status_of(a, s, req, out, keep_alive, r);
		return;
	}
	accept_body(a, s, req, body, n, s->scratch, s->scratch_cap, out, keep_alive, 0, r);
}

/* ---- the Azure Functions invocation routes --------------------------------------------------- */

/* Room before an invocation answer's JSON for its status line and headers. */
#define APP_HOST_HEAD_MAX 256

/* Longest header value taken from an invocation's request (Idempotency-Key is at most 255,
 * an API key 255, Content-Type short). */
#define APP_FN_HEADER_MAX 512

/* The headers of the inner request that the routes read. */
static const char *const fn_headers[] = {"Content-Type", "Idempotency-Key", "X-API-Key",
                                         "Authorization"};
#define APP_FN_HEADERS (sizeof fn_headers / sizeof fn_headers[0])

/* The headers of an inner answer that the caller gets in Outputs.res (the routes write no
 * others that matter to a client). */
static const char *const res_headers[] = {"Content-Type", "Location", "Retry-After", "Allow",
                                          "WWW-Authenticate"};
#define APP_RES_HEADERS (sizeof res_headers / sizeof res_headers[0])

/* A problem answer to the host itself (the envelope is not what the host sends): the
 * invocation fails, and the host logs the reason. */
static void host_problem(struct buf *out, struct app_reply *r, int err, const char *field,
                         const char *detail, int keep_alive)
{
	r->err = err;
	r->status = 400;
	if (field && field != r->field) {
		strncpy(r->field, field, sizeof r->field - 1);
		r->field[sizeof r->field - 1] = 0;
	}
	problem(out, 400, err, field, detail, 0, 0, keep_alive);
}

/* Writes the answer to the host: status (200, or 500 to fail the invocation), then
 * {"Outputs":{["res":<the inner answer>][,"msg":<queue message>]},"Logs":[...],
 * "ReturnValue":null}. The inner answer is s->inner[0..inner_len) as an HTTP response (0: none). */
static void host_answer(struct app_slot *s, struct buf *out, int status, size_t inner_len,
                        int keep_alive, struct app_reply *r)
{
	struct buf jb;
	struct invoke_out o;
	buf_init(&jb, out->p + APP_HOST_HEAD_MAX, out->cap - APP_HOST_HEAD_MAX);
	invoke_out_begin(&o, &jb);
	if (inner_len) {
		struct http_header hh[HTTP_MAX_HEADERS];
		struct http_response res;
		int hl = http_response_parse(s->inner, inner_len, &res, hh, HTTP_MAX_HEADERS, 0);
		struct invoke_hdr ih[APP_RES_HEADERS];
		char vals[APP_RES_HEADERS][APP_FN_HEADER_MAX];
		size_t ni = 0;
		for (size_t k = 0; hl > 0 && k < APP_RES_HEADERS; k++) {
			const struct http_header *h =
			    http_response_header_find(&res, res_headers[k]);
			if (!h || h->value_len >= APP_FN_HEADER_MAX)
				continue;
			memcpy(vals[ni], h->value, h->value_len);
			vals[ni][h->value_len] = 0;
			ih[ni].name = res_headers[k];
			ih[ni].value = vals[ni];
			ni++;
		}
		if (hl > 0)
			invoke_out_http(&o, "res", res.status, ih, ni, s->inner + hl,
			                inner_len - (size_t)hl);
	}
	if (s->qlen)
		invoke_out_string(&o, "msg", s->qbuf, s->qlen);
	for (size_t i = 0; i < sizeof s->logs && s->logs[i];) {
		const char *nl = memchr(s->logs + i, '\n', sizeof s->logs - i);
		size_t len =
		    nl ? (size_t)(nl - s->logs) - i : strnlen(s->logs + i, sizeof s->logs - i);
		invoke_out_log(&o, s->logs + i, len);
		i += len + 1;
	}
	if (invoke_out_end(&o) < 0) {
		buf_reset(out);
		r->err = -ERR_OVERFLOW;
		r->status = 500;
		problem(out, 500, -ERR_OVERFLOW, 0, "the invocation answer did not fit", 0, 0,
		        keep_alive);
		return;
	}
	char hm[APP_HOST_HEAD_MAX];
	struct buf hb;
	buf_init(&hb, hm, sizeof hm);
	http_response_head(&hb, status, "application/json", jb.len, keep_alive);
	buf_puts(&hb, "\r\n");
	memmove(out->p + hb.len, jb.p, jb.len);
	memcpy(out->p, hb.p, hb.len);
	out->len = hb.len + jb.len;
}

/* Logs one invocation (captured into its Logs too): the function, the host's invocation id,
 * the operation id that joins HTTP request, queue message and ACS operation, the outcome. */
static void log_invocation(const char *fn, const struct http_request *req, const char *op_id,
                           int status, int err, unsigned dequeue)
{
	struct log_line l;
	if (!log_begin(&l, status >= 500 ? LOG_ERROR : LOG_INFO, "fn.invocation"))
		return;
	log_cstr(&l, "function", fn + 1);
	const struct http_header *h = http_header_find(req, "x-azure-functions-invocationid");
	int ok = h && h->value_len <= ID_LEN; /* a GUID; anything else is not logged */
	for (size_t i = 0; ok && i < h->value_len; i++)
		ok = (h->value[i] >= '0' && h->value[i] <= '9') || h->value[i] == '-' ||
		     ((h->value[i] | 0x20) >= 'a' && (h->value[i] | 0x20) <= 'f');
	if (ok)
		log_str(&l, "invocation_id", h->value, h->value_len);
	if (op_id && *op_id)
		log_cstr(&l, "operation_id", op_id);
	log_int(&l, "status", status);
	if (err)
		log_cstr(&l, "error", err_slug(err));
	if (dequeue)
		log_int(&l, "dequeue_count", dequeue);
	log_end(&l);
}

/* The HTTP functions: the inner request rebuilt from Data.req, answered by the routes above. */
static void fn_http(struct app *a, struct app_slot *s, const char *body, size_t n, size_t env_cap,
                    struct buf *ib, struct app_reply *r)
{
	struct invoke_http h;
	struct notify_error e;
	int rc = invoke_http_parse(body, n, "req", s->itok, INVOKE_MAX_TOKENS, s->scratch, env_cap,
	                           &h, &e);
	if (rc < 0) {
		/* The client's own request at fault (a body that is not text, such as one holding
		 * NUL; more JSON values than an invocation may carry, which a client's JSON body
		 * can cause since the host repeats its properties in Metadata): the caller gets the
		 * problem in res. Otherwise the envelope is at fault: the host gets the 400. */
		int client = rc == -ERR_JSON_TOO_COMPLEX || !strncmp(e.field, "Data.req.Body", 13);
		fail(ib, r, rc, client ? 0 : e.field, e.detail, 0, 1);
		if (!client)
			r->status = 0;
		return;
	}
	/* Each header once, or twice when the host carried several values for it (a header
	 * repeated by the client): app_head then refuses the request as it refuses a repeated
	 * header line. */
	struct http_header hh[2 * APP_FN_HEADERS];
	static _Thread_local char hv[APP_FN_HEADERS][APP_FN_HEADER_MAX];
	size_t nh = 0;
	for (size_t i = 0; i < APP_FN_HEADERS; i++) {
		struct notify_str v;
		int hr = invoke_header(&h, fn_headers[i], hv[i], sizeof hv[i], &v);
		if (hr < 0) { /* a value we could not take: refused, never silently dropped */
			char f[NOTIFY_FIELD_MAX];
			struct buf fb;
			buf_init(&fb, f, sizeof f);
			buf_puts(&fb, "Data.req.Headers.");
			buf_puts(&fb, fn_headers[i]);
			buf_cstr(&fb);
			fail(ib, r, i == 1 ? -ERR_IDEM_KEY_INVALID : -ERR_BAD_REQUEST, f,
			     "a header value too long or not valid UTF-8", 0, 1);
			return;
		}
		if (hr != 1)
			continue;
		for (int k = invoke_header_count(&h, fn_headers[i]) > 1 ? 2 : 1; k > 0; k--) {
			hh[nh].name = fn_headers[i];
			hh[nh].name_len = strlen(fn_headers[i]);
			hh[nh].value = v.p;
			hh[nh].value_len = v.len;
			nh++;
		}
	}
	char target[sizeof route_send + ID_LEN + 1];
	struct buf t;
	buf_init(&t, target, sizeof target);
	buf_puts(&t, route_send);
	if (r->route == ROUTE_FN_STATUS) {
		struct notify_str id;
		char idb[ID_LEN + 1];
		buf_putc(&t, '/');
		if (invoke_param(&h, "id", idb, sizeof idb, &id) == 1 && id.len <= ID_LEN)
			buf_append(&t, id.p, id.len);
		else
			buf_puts(&t, "-");
	}
	struct http_request ir = {
	    .method = h.method.p,
	    .method_len = h.method.len,
	    .target = target,
	    .target_len = t.err ? 0 : t.len,
	    .minor_version = 1,
	    .headers = hh,
	    .num_headers = nh,
	};
	enum app_route route = r->route;
	if (h.body.len > a->max_body && a->max_body) { /* the limit of a request, here too */
		fail(ib, r, -ERR_BODY_TOO_LARGE, 0,
		     "request body is larger than NOTIFY_MAX_BODY_BYTES", 0, 1);
		r->route = route;
		return;
	}
	if (app_head(a, s, &ir, ib, 1, r) == 0) {
		if (r->route == ROUTE_STATUS) {
			status_of(a, s, &ir, ib, 1, r);
		} else {
			accept_body(a, s, &ir, h.body.p, h.body.len, s->scratch + env_cap,
			            s->scratch_cap - env_cap, ib, 1, a->queued, r);
		}
	}
	r->route = route;
}

/* The queue function: {"id","request"} sent under its id. Returns the host status: 200 (sent,
 * or refused for good: completing stops the redelivery), 500 (may succeed later: the host
 * redelivers the message after the visibility timeout). */
static int fn_worker_run(struct app *a, struct app_slot *s, const char *body, size_t n,
                         size_t env_cap, struct app_reply *r, unsigned *dequeue)
{
	struct invoke_queue q;
	struct notify_error e;
	struct transport_result tr = {0};
	int rc = invoke_queue_parse(body, n, "msg", s->itok, INVOKE_MAX_TOKENS, s->scratch, env_cap,
	                            &q, &e);
	if (rc < 0) {
		r->err = rc;
		strncpy(r->field, e.field, sizeof r->field - 1);
		r->field[sizeof r->field - 1] = 0;
		return 400;
	}
	*dequeue = q.dequeue_count;
	const char *why = "the queue message is not {\"id\",\"request\"}";
	int nt = json_parse(q.text.p, q.text.len, s->itok, INVOKE_MAX_TOKENS);
	int idt = json_member(q.text.p, s->itok, nt, 0, "id");
	int rqt = json_member(q.text.p, s->itok, nt, 0, "request");
	if (idt > 0 && s->itok[idt].type == JSON_STRING &&
	    id_valid(q.text.p + s->itok[idt].start,
	             (size_t)(s->itok[idt].end - s->itok[idt].start)) &&
	    rqt > 0 && s->itok[rqt].type == JSON_OBJECT) {
		memcpy(r->id, q.text.p + s->itok[idt].start, ID_LEN);
		r->id[ID_LEN] = 0;
		const char *rb = q.text.p + s->itok[rqt].start;
		size_t rn = (size_t)(s->itok[rqt].end - s->itok[rqt].start);
		rc = notify_parse(rb, rn, s->tok, NOTIFY_MAX_TOKENS, s->scratch + env_cap,
		                  s->scratch_cap - env_cap, &a->policy, &s->msg, &e);
		if (rc < 0)
			why = e.detail;
	} else {
		rc = -ERR_FIELD_INVALID;
	}
	struct log_line l;
	if (rc < 0) { /* a message no retry can fix: log it and complete */
		r->err = rc;
		if (log_begin(&l, LOG_ERROR, "fn.message_rejected")) {
			if (r->id[0])
				log_cstr(&l, "operation_id", r->id);
			log_cstr(&l, "error", err_slug(rc));
			log_cstr(&l, "detail", why);
			log_end(&l);
		}
		return 200;
	}
	r->recipients = s->msg.n_to + s->msg.n_cc + s->msg.n_bcc;
	r->first_rcpt = s->msg.to[0].p;
	r->first_rcpt_len = s->msg.to[0].len;
	rc = a->tr->send(a->tr->ctx, s->wctx, &s->msg, r->id, &tr);
	if (rc == 0)
		return 200;
	r->err = rc;
	if (log_begin(&l, tr.retryable ? LOG_WARN : LOG_ERROR,
	              tr.retryable ? "fn.send_retry" : "fn.send_failed")) {
		log_cstr(&l, "operation_id", r->id);
		log_cstr(&l, "error", err_slug(rc));
		if (tr.code[0])
			log_cstr(&l, "code", tr.code);
		log_cstr(&l, "detail", tr.detail);
		log_end(&l);
	}
	return tr.retryable ? 500 : 200;
}

/* ---- delivery reports (infra/functions/delivery_report; delivery.h) -------------------------- */

/* One log line for one event of a delivery-report message. */
static void log_delivery(const struct delivery_report *d)
{
	struct log_line l;
	const char *ev = d->kind == DELIVERY_REPORT       ? "fn.delivery"
	                 : d->kind == DELIVERY_ENGAGEMENT ? "fn.engagement"
	                                                  : "fn.delivery_rejected";
	int ok = d->kind == DELIVERY_ENGAGEMENT ||
	         (d->kind == DELIVERY_REPORT && d->status == DELIVERY_DELIVERED);
	if (!log_begin(&l, ok ? LOG_INFO : LOG_WARN, ev))
		return;
	if (d->message_id[0])
		log_cstr(&l, "operation_id", d->message_id);
	if (d->kind == DELIVERY_REPORT) {
		log_cstr(&l, "status", d->status_text);
		log_cstr(&l, "outcome", ok ? "delivered" : "failed");
		if (d->detail[0])
			log_cstr(&l, "detail", d->detail);
	} else if (d->kind == DELIVERY_ENGAGEMENT) {
		log_cstr(&l, "engagement", d->status_text);
	} else {
		log_cstr(&l, "error",
		         d->kind == DELIVERY_FOREIGN ? "foreign-event" : "malformed-event");
		log_cstr(&l, "detail", d->why);
		if (d->event_type[0])
			log_cstr(&l, "event_type", d->event_type);
	}
	if (d->recipient[0])
		log_addr(&l, "recipient", d->recipient, strlen(d->recipient));
	if (d->attempt_time[0])
		log_cstr(&l, d->kind == DELIVERY_ENGAGEMENT ? "action_time" : "attempt_time",
		         d->attempt_time);
	if (d->event_id[0])
		log_cstr(&l, "event_id", d->event_id);
	log_end(&l);
}

/* The delivery-report function: every event logged, the message always completed (200): a report
 * that cannot be read now never can, and retrying it would only fill the poison queue. Only an
 * envelope that is not an invocation is the host's 400. */
static int fn_delivery_run(struct app_slot *s, const char *body, size_t n, size_t env_cap,
                           struct app_reply *r, unsigned *dequeue)
{
	struct invoke_queue q;
	struct notify_error e;
	struct delivery_iter it;
	struct delivery_report d;
	int rc = invoke_queue_parse(body, n, "msg", s->itok, INVOKE_MAX_TOKENS, s->scratch, env_cap,
	                            &q, &e);
	if (rc < 0 && (rc == -ERR_FIELD_MISSING || strncmp(e.field, "Data.msg", 8) != 0)) {
		/* not an invocation, or one without the binding: the host's fault */
		r->err = rc;
		strncpy(r->field, e.field, sizeof r->field - 1);
		r->field[sizeof r->field - 1] = 0;
		return 400;
	}
	if (rc == 0) {
		*dequeue = q.dequeue_count;
		rc = delivery_begin(&it, q.text.p, q.text.len, s->itok, INVOKE_MAX_TOKENS,
		                    s->scratch + env_cap, s->scratch_cap - env_cap);
	}
	if (rc < 0) { /* the message itself (text holding NUL, not JSON, ...): logged, completed */
		struct log_line l;
		r->err = rc;
		if (log_begin(&l, LOG_WARN, "fn.delivery_rejected")) {
			log_cstr(&l, "error", err_slug(rc));
			log_cstr(&l, "detail", "the queue message is not an Event Grid event");
			log_end(&l);
		}
		return 200;
	}
	while (delivery_next(&it, &d)) {
		if (!r->id[0] && id_valid(d.message_id, strlen(d.message_id)))
			memcpy(r->id, d.message_id, ID_LEN + 1);
		log_delivery(&d);
	}
	return 200;
}

/* The invocation routes: parse the envelope, run the route, answer the host. */
static void fn_body(struct app *a, struct app_slot *s, const struct http_request *req,
                    const char *body, size_t n, struct buf *out, int keep_alive,
                    struct app_reply *r)
{
	struct buf logs, ib;
	size_t env_cap = APP_ENVELOPE_SCRATCH(s->scratch_cap); /* the rest: the request's strings */
	unsigned dequeue = 0;
	int status = 200;
	const char *fn = r->route == ROUTE_FN_SEND       ? fn_send
	                 : r->route == ROUTE_FN_WORKER   ? fn_worker
	                 : r->route == ROUTE_FN_DELIVERY ? fn_delivery
	                                                 : fn_status;
	memset(s->logs, 0, sizeof s->logs);
	buf_init(&logs, s->logs, sizeof s->logs - 1);
	buf_init(&ib, s->inner, sizeof s->inner);
	s->qlen = 0;
	log_capture(&logs);
	if (r->route == ROUTE_FN_WORKER) {
		status = fn_worker_run(a, s, body, n, env_cap, r, &dequeue);
	} else if (r->route == ROUTE_FN_DELIVERY) {
		status = fn_delivery_run(s, body, n, env_cap, r, &dequeue);
	} else {
		fn_http(a, s, body, n, env_cap, &ib, r);
		if (r->status == 0)
			status = 400;
	}
	log_invocation(fn, req, r->id, status == 200 && ib.len ? r->status : status, r->err,
	               dequeue);
	log_capture(0);
	if (status == 400) {
		host_problem(out, r, r->err ? r->err : -ERR_JSON_SYNTAX, r->field,
		             "not a Functions host invocation payload {\"Data\",\"Metadata\"}",
		             keep_alive);
		return;
	}
	if (status == 500) /* the host drops Logs of a failed invocation: keep them on stderr */
		(void)!write(STDERR_FILENO, s->logs, strlen(s->logs));
	host_answer(s, out, status, ib.err ? 0 : ib.len, keep_alive, r);
	if (status == 500) {
		r->status = 500;
		return;
	}
	r->status = 200;
}
