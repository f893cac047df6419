/*
 * transport.h: the one small interface between the notification logic (validation,
 * idempotency, answers) and whatever delivers the mail. The outbox (a directory of .eml files)
 * and ACS (Azure Communication Services Email) sit behind the same two functions, so app.c
 * never knows which one it drives.
 *
 * A transport has process-wide state (ctx) and per-worker state (wctx): each worker passes its
 * own wctx (the outbox's staging buffer, later a kept-alive TLS connection), so no lock is held
 * while a message is delivered.
 */
#ifndef NOTIFY_TRANSPORT_H
#define NOTIFY_TRANSPORT_H

#include <stddef.h>

#include "notify.h"

/* Detail text of a transport failure, one line for the problem answer and the log. */
#define TRANSPORT_DETAIL_MAX 160

/* An ACS error code ("DomainNotLinked", "EmailDroppedAllRecipientsSuppressed": the longest
 * seen is 36 characters), with room for longer ones. */
#define TRANSPORT_CODE_MAX 64

struct transport_result {
	/* Operation state as ACS names it: "NotStarted", "Running", "Succeeded", "Failed",
	 * "Canceled". A static string. */
	const char *state;
	int http_status;   /* on failure: the status to answer (500, 502, 503, 504, ...) */
	int retry_after_s; /* on 429/503: seconds for Retry-After, 0 when none */
	int retryable;     /* on failure: 1 when sending again later may succeed (timeouts, 5xx,
	                      throttling), 0 when it cannot (the message or the configuration is
	                      refused); a queue worker fails the invocation only when 1 */
	/* The service's error code: of the failure, or of a "Failed" operation (e.g.
	 * "EmailDropped", then detail holds its message). "" when none. */
	char code[TRANSPORT_CODE_MAX];
	char detail[TRANSPORT_DETAIL_MAX];
};

struct transport {
	const char *name; /* "outbox" or "acs", for logs and answers */
	void *ctx;
	/* Delivers msg under operation id `id` (36-character UUID). The same id MUST never
	 * deliver twice. Returns 0 (r->state set) or -ERR_x (r->http_status, r->detail set). */
	int (*send)(void *ctx, void *wctx, const struct notify_msg *msg, const char *id,
	            struct transport_result *r);
	/* The state of operation `id`. Returns 0 (r->state set), -ERR_NOT_FOUND, or another
	 * -ERR_x with r->http_status and r->detail. */
	int (*status)(void *ctx, void *wctx, const char *id, struct transport_result *r);
	/* Readiness (GET /), called on the event-loop thread, so it MUST NOT block: at most one
	 * cheap syscall. Returns 1, or 0 with *why a static one-line reason. NULL: always ready. */
	int (*ready)(void *ctx, const char **why);
};

struct outbox;

/* The outbox behind the interface. wctx of each worker: OUTBOX_WRITE_BUF bytes. */
void transport_outbox(struct transport *t, struct outbox *o);

/* No transport: every send and status answers 503 not-configured with `detail` (a static
 * string saying what to set). Used under the Functions host when ACS is not configured, so the
 * service never pretends to send. */
void transport_unconfigured(struct transport *t, const char *detail);

#endif
