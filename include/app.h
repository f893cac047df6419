/*
 * app.h: the standalone HTTP routes. Given a parsed request (http.h) and its body, app writes
 * the complete answer into a struct buf; the server only moves bytes. Pure of sockets, so unit
 * tests drive every route directly.
 *
 *   GET|HEAD /                        200 {"status":"ready"}       readiness (Functions probe too)
 *   POST     /api/notification        202 {"id","status"}, Location: /api/notification/<id>
 *   GET|HEAD /api/notification/<id>   200 {"id","status"} or 404
 * Errors are application/problem+json (RFC 9457) with type, title, status, detail, and the
 * offending "field" when one is at fault.
 */
#ifndef NOTIFY_APP_H
#define NOTIFY_APP_H

#include <stddef.h>

#include "buf.h"
#include "config.h"
#include "http.h"
#include "id.h"
#include "idem.h"
#include "json.h"
#include "notify.h"
#include "transport.h"

/* Answer buffer per worker: answers are under 1 KiB (a problem document with a 160-byte
 * detail is the longest); 4 KiB leaves headroom for long Location and Allow headers. */
#define APP_RESPONSE_MAX 4096

enum app_route { ROUTE_NONE, ROUTE_READY, ROUTE_SEND, ROUTE_STATUS };

struct app {
	const char *api_key; /* NULL or "": no authentication */
	struct transport *tr;
	struct idem_table *idem;
	struct notify_policy policy;
};

/* Per-worker memory for one request. */
struct app_slot {
	struct json_tok tok[NOTIFY_MAX_TOKENS];
	struct notify_msg msg;
	char *scratch; /* decoded strings; at least the body limit */
	size_t scratch_cap;
	void *wctx; /* the transport's per-worker state */
};

/* What happened, for the server's access log. */
struct app_reply {
	enum app_route route;
	int status;
	int err;             /* 0 or the -ERR_x behind an error answer */
	char id[ID_LEN + 1]; /* operation id, "" when none */
	char field[NOTIFY_FIELD_MAX];
	unsigned recipients;    /* accepted sends: To + Cc + Bcc */
	const char *first_rcpt; /* first To address (for the masked log field) */
	size_t first_rcpt_len;
	int replayed;  /* 1 when an Idempotency-Key replay answered */
	int head_only; /* a HEAD request: answers carry no content */
};

/*
 * Phase 1, after the header block: routing, method, authentication, Content-Type. Returns 0 when
 * the body should be read and app_body() called; otherwise writes the whole answer (404, 405
 * with Allow, 401, 415, or the GET answers that need no body) into out and returns its status.
 * keep_alive is what the answer's Connection header should say.
 */
int app_head(struct app *a, struct app_slot *s, const struct http_request *req, struct buf *out,
             int keep_alive, struct app_reply *r);

/* Phase 2: the body has arrived (body[0..n), already de-chunked). Writes the whole answer. */
void app_body(struct app *a, struct app_slot *s, const struct http_request *req, const char *body,
              size_t n, struct buf *out, int keep_alive, struct app_reply *r);

/*
 * Writes a problem answer for err (its status, title and slug from err.h), with an optional
 * field and detail (NULL for none) and extra header lines (NULL, or "Name: value\r\n"...).
 */
void app_problem(struct buf *out, int err, const char *field, const char *detail,
                 const char *extra_headers, int keep_alive);

#endif
