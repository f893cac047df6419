/*
 * transport.h: the one small interface between the notification logic (validation,
 * idempotency, answers) and whatever delivers the mail. The outbox (a directory of .eml files,
 * outbox.h: transport_outbox) and ACS (Azure Communication Services Email, acs.h:
 * transport_acs) sit behind the same two functions, so app.c never knows which one it drives;
 * what a transport can do, app.c learns from its capability flags, never from its name. This
 * file holds the interface and the trivial "unconfigured" transport only.
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

/* Capability flags of struct transport.caps. */
enum transport_cap {
	/* It can deliver at all. Without it every send fails (the unconfigured transport), so a
	 * queued flow must not accept a message for later delivery. */
	TRANSPORT_CAN_DELIVER = 1,
	/* It keeps a record of each keyed request's body digest (notify_msg.request_digest) with
	 * the message and refuses the id for another body (-ERR_IDEM_MISMATCH), also after a
	 * restart: the id of a keyed request can then come from the key alone. */
	TRANSPORT_KEEPS_DIGEST = 2,
};

struct transport {
	const char *name; /* "outbox", "acs" or "none", for logs only */
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
	unsigned caps; /* enum transport_cap flags */
};

/* No transport (caps 0): every send and status answers 503 not-configured with `detail` (a static
 * string saying what to set). Used under the Functions host when ACS is not configured, so the
 * service never pretends to send. */
void transport_unconfigured(struct transport *t, const char *detail);

#endif
