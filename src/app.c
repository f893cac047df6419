/*
 * app.c: the standalone routes of app.h: readiness, send, status. Validation lives in notify.c,
 * delivery behind transport.h; this file decides answers and writes them.
 */
#include "app.h"

#include <string.h>
#include <time.h>

#include "err.h"

/* Body of a problem or JSON answer, built before its head so Content-Length is known. Problem
 * documents are at most: slug 40 + title 80 + detail 160 + field 48 + JSON syntax 120. */
#define APP_BODY_MAX 1024

/* Extra header lines of an answer: "Location: /api/notification/<36-char id>\r\n" (66 bytes) or
 * "Retry-After: <up to 86400>\r\n" (20 bytes), with room to spare. */
#define APP_EXTRA_HEADERS_MAX 128

static const char route_send[] = "/api/notification";

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

/* 1 when the request carries the API key (X-API-Key, or Authorization: Bearer). */
static int authorized(const struct app *a, const struct http_request *req)
{
	if (!a->api_key || !*a->api_key)
		return 1;
	const struct http_header *h = http_header_find(req, "x-api-key");
	if (h)
		return secret_eq(h->value, h->value_len, a->api_key);
	h = http_header_find(req, "authorization");
	if (h && h->value_len > 7 && http_token_eq(h->value, 7, "bearer ")) {
		const char *v = h->value + 7;
		size_t n = h->value_len - 7;
		while (n > 0 && *v == ' ')
			v++, n--;
		return secret_eq(v, n, a->api_key);
	}
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
		return fail(out, r, rc, 0, "no notification has this id", 0, keep_alive);
	if (rc < 0) {
		r->err = rc;
		r->status = tr.http_status ? tr.http_status : err_http_status(rc);
		problem(out, r->status, rc, 0, tr.detail, 0, head_only, keep_alive);
		return r->status;
	}
	r->status = 200;
	op_answer(out, 200, r->id, tr.state, &tr, head_only, keep_alive);
	return 200;
}

/* see app.h */
int app_head(struct app *a, struct app_slot *s, const struct http_request *req, struct buf *out,
             int keep_alive, struct app_reply *r)
{
	const char *p = req->target;
	size_t n = path_len(req), sn = sizeof route_send - 1;
	int get = method_is(req, "GET"), head = method_is(req, "HEAD");
	memset(r, 0, sizeof *r);
	r->head_only = head;
	if (n == 1 && p[0] == '/') {
		r->route = ROUTE_READY;
		if (!get && !head)
			return fail(out, r, -ERR_METHOD, 0, "use GET or HEAD",
			            "Allow: GET, HEAD\r\n", keep_alive);
		static const char ready[] = "{\"status\":\"ready\"}";
		struct buf b;
		buf_init(&b, (char *)ready, sizeof ready);
		b.len = sizeof ready - 1;
		answer(out, 200, "application/json", 0, &b, head, keep_alive);
		return r->status = 200;
	}
	if (n >= sn && memcmp(p, route_send, sn) == 0 && (n == sn || p[sn] == '/')) {
		r->route = n == sn ? ROUTE_SEND : ROUTE_STATUS;
		if (!authorized(a, req))
			return fail(out, r, -ERR_UNAUTHORIZED, 0,
			            "send the key in X-API-Key or Authorization: Bearer",
			            "WWW-Authenticate: Bearer realm=\"notify-handler\"\r\n",
			            keep_alive);
		if (r->route == ROUTE_STATUS) {
			if (!get && !head)
				return fail(out, r, -ERR_METHOD, 0, "use GET or HEAD",
				            "Allow: GET, HEAD\r\n", keep_alive);
			return status_route(a, s, p + sn + 1, n - sn - 1, head, out, keep_alive, r);
		}
		if (!method_is(req, "POST"))
			return fail(out, r, -ERR_METHOD, 0, "use POST", "Allow: POST\r\n",
			            keep_alive);
		if (!json_content_type(req))
			return fail(out, r, -ERR_MEDIA_TYPE, 0,
			            "send Content-Type: application/json (charset utf-8)", 0,
			            keep_alive);
		return 0;
	}
	return fail(out, r, -ERR_NOT_FOUND, 0, "no such route", 0, keep_alive);
}

/* Delivers an accepted message under id, honouring an Idempotency-Key. */
static void send_route(struct app *a, struct app_slot *s, const struct http_request *req,
                       const char *body, size_t n, struct buf *out, int keep_alive,
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
		id_from_key(key->value, key->value_len, r->id);
		idem_hash(key->value, key->value_len, kh);
		idem_hash(body, n, bh);
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
			if (a->tr->status(a->tr->ctx, s->wctx, r->id, &tr) < 0)
				tr.state = "Running";
			op_answer(out, status, r->id, tr.state, 0, 0, keep_alive);
			return;
		}
	} else if (id_random(r->id) < 0) {
		fail(out, r, -ERR_INTERNAL, 0, "no randomness for an operation id", 0, keep_alive);
		return;
	}
	int rc = a->tr->send(a->tr->ctx, s->wctx, &s->msg, r->id, &tr);
	if (rc < 0) {
		char extra[APP_EXTRA_HEADERS_MAX];
		struct buf h;
		buf_init(&h, extra, sizeof extra);
		if (tr.retry_after_s > 0) {
			buf_puts(&h, "Retry-After: ");
			buf_put_u64(&h, (uint64_t)tr.retry_after_s);
			buf_puts(&h, "\r\n");
		}
		buf_putc(&h, 0);
		r->err = rc;
		r->status = tr.http_status ? tr.http_status : err_http_status(rc);
		problem(out, r->status, rc, 0, tr.detail, extra, 0, keep_alive);
	} else {
		r->status = 202;
		op_answer(out, 202, r->id, tr.state, 0, 0, keep_alive);
	}
	if (key)
		idem_finish(a->idem, kh, r->status);
}

/* see app.h */
void app_body(struct app *a, struct app_slot *s, const struct http_request *req, const char *body,
              size_t n, struct buf *out, int keep_alive, struct app_reply *r)
{
	struct notify_error e;
	int rc = notify_parse(body, n, s->tok, NOTIFY_MAX_TOKENS, s->scratch, s->scratch_cap,
	                      &a->policy, &s->msg, &e);
	if (rc < 0) {
		fail(out, r, rc, e.field, e.detail, 0, keep_alive);
		return;
	}
	r->recipients = s->msg.n_to + s->msg.n_cc + s->msg.n_bcc;
	r->first_rcpt = s->msg.to[0].p;
	r->first_rcpt_len = s->msg.to[0].len;
	send_route(a, s, req, body, n, out, keep_alive, r);
}
