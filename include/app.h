/*
 * app.h: the standalone HTTP routes. Given a parsed request (http.h) and its body, app writes
 * the complete answer into a struct buf; the server only moves bytes. Pure of sockets, so unit
 * tests drive every route directly.
 *
 *   GET|HEAD /                        200 {"status":"ready"}       readiness (Functions probe too)
 *   POST     /api/notification        202 {"id","status"}, Location: /api/notification/<id>
 *   GET|HEAD /api/notification/<id>   200 {"id","status"} or 404
 * and, for the Azure Functions host (payload mode;
 * https://learn.microsoft.com/azure/azure-functions/functions-custom-handlers, sections "Request
 * payload" and "Response payload"),
 *   POST /notification         the HTTP function: the request above inside the envelope; queued
 *                              mode validates, answers 202 and enqueues {"id","request"}
 *   POST /notification_worker  the queue function: sends a queued message under its id
 *   POST /notification_status  the status function (route notification/{id})
 *   POST /delivery_report      the queue function of ACS delivery reports (delivery.h): one
 *                              log line per report, always completed (200)
 * whose answers are 200 {"Outputs","Logs","ReturnValue"} with the caller's answer in
 * Outputs.res; a worker whose send may succeed later answers 500, so the host retries it.
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
#include "invoke.h"
#include "json.h"
#include "notify.h"
#include "transport.h"

/* Answer of a standalone route: under 1 KiB (a problem document with a 160-byte detail is the
 * longest); 4 KiB leaves headroom for long Location and Allow headers. */
#define APP_RESPONSE_MAX 4096

/* Longest queue message of the queued flow: Azure Storage queue messages hold 64 KiB, and the
 * Functions host stores them Base64-encoded (queues extension 5.x default), so 48 KiB of text.
 * A larger request is refused (413) in queued mode; direct mode takes up to the body limit. */
#define APP_QUEUE_MSG_MAX (48 * 1024)

/* Lines of one invocation's log kept for its "Logs" (each at most LOG_LINE_MAX). */
#define APP_INVOKE_LOGS_MAX 8192

/* Answer buffer per worker: an invocation answer holds a queue message written as a JSON string
 * (escaping at most doubles it), the inner answer and the log lines. */
#define APP_ANSWER_MAX (2 * APP_QUEUE_MSG_MAX + APP_RESPONSE_MAX + 2 * APP_INVOKE_LOGS_MAX)

/* An invocation envelope may be this many times the body limit: the host sends the request
 * body as a JSON string (escaping at most doubles it) and, for a JSON body, each top-level
 * property again in Metadata (trigger binding data). NOTIFY_MAX_BODY_BYTES stays the limit of
 * the request inside. */
#define APP_ENVELOPE_FACTOR 4

/* Scratch per worker for max_body bytes of request: an envelope's strings are decoded into up
 * to 2 x its length (a queue message's string layers go back and forth), then the request
 * itself into 1 x body. */
#define APP_SCRATCH_SIZE(max_body) ((2 * APP_ENVELOPE_FACTOR + 1) * (max_body))
/* The part of that scratch an envelope may use. */
#define APP_ENVELOPE_SCRATCH(scratch_cap)                                                          \
	((scratch_cap) / (2 * APP_ENVELOPE_FACTOR + 1) * 2 * APP_ENVELOPE_FACTOR)

enum app_route {
	ROUTE_NONE,
	ROUTE_READY,
	ROUTE_SEND,
	ROUTE_STATUS,
	ROUTE_FN_SEND,     /* POST /notification: the host invokes the HTTP function */
	ROUTE_FN_WORKER,   /* POST /notification_worker: the queue-triggered function */
	ROUTE_FN_STATUS,   /* POST /notification_status: the status function */
	ROUTE_FN_DELIVERY, /* POST /delivery_report: ACS delivery reports from Event Grid's queue */
};

struct app {
	const char *api_key; /* NULL or "": no authentication */
	struct transport *tr;
	struct idem_table *idem;
	struct notify_policy policy;
	int queued; /* NOTIFY_MODE=queued: the notification function enqueues, the worker sends */
	size_t envelope_limit; /* body limit of the invocation routes (APP_ENVELOPE_FACTOR x) */
	size_t max_body;       /* limit of a request, also inside an invocation */
	int under_host;        /* FUNCTIONS_CUSTOMHANDLER_PORT set: the invocation routes exist */
};

/* Per-worker memory for one request. The pointers come first: main.c sets them at start-up, and
 * together they touch one page per worker; the arrays stay untouched until a request uses them. */
struct app_slot {
	char *scratch; /* decoded strings: APP_SCRATCH_SIZE(body limit) */
	size_t scratch_cap;
	struct json_tok *itok; /* INVOKE_MAX_TOKENS tokens for invocation envelopes */
	char *qbuf;            /* APP_QUEUE_MSG_MAX bytes: the queue message being written */
	size_t qlen;           /* bytes in qbuf; 0 when the answer enqueues nothing */
	void *wctx;            /* the transport's per-worker state */
	struct json_tok tok[NOTIFY_MAX_TOKENS];
	struct notify_msg msg;
	char inner[APP_RESPONSE_MAX];   /* an invocation's inner answer */
	char logs[APP_INVOKE_LOGS_MAX]; /* an invocation's captured log lines */
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
	int replayed;      /* 1 when an Idempotency-Key replay answered */
	size_t body_limit; /* set by app_head: this route's body limit; 0: the server's */
	int head_only;     /* a HEAD request: answers carry no content */
};

/*
 * Phase 1, after the header block: routing, method, authentication, Content-Type. Returns 0 when
 * the body should be read and app_body() called (the sends, and the status route, which asks
 * the transport); otherwise writes the whole answer (404, 405 with Allow, 401, 415, readiness)
 * into out and returns its status. keep_alive is what the answer's Connection header should
 * say. It neither blocks nor touches s (which may be NULL): the server's event loop runs it.
 */
int app_head(struct app *a, struct app_slot *s, const struct http_request *req, struct buf *out,
             int keep_alive, struct app_reply *r);

/* Phase 2, on a worker: the body has arrived (body[0..n), already de-chunked; empty for the
 * status route). r holds what app_head set. Writes the whole answer. */
void app_body(struct app *a, struct app_slot *s, const struct http_request *req, const char *body,
              size_t n, struct buf *out, int keep_alive, struct app_reply *r);

/*
 * Writes a problem answer for err (its status, title and slug from err.h), with an optional
 * field and detail (NULL for none) and extra header lines (NULL, or "Name: value\r\n"...).
 */
void app_problem(struct buf *out, int err, const char *field, const char *detail,
                 const char *extra_headers, int keep_alive);

#endif
