/* transport.c: adapters that put each delivery mechanism behind transport.h. */
#include "transport.h"

#include <string.h>
#include <time.h>

#include "err.h"
#include "outbox.h"

/* Outbox send: the file is complete when this returns, so the operation has succeeded. */
static int outbox_tsend(void *ctx, void *wctx, const struct notify_msg *msg, const char *id,
                        struct transport_result *r)
{
	int rc = outbox_send(ctx, msg, id, (long long)time(0), wctx, OUTBOX_WRITE_BUF);
	if (rc == -ERR_IDEM_MISMATCH) { /* the key's first request, recorded before a restart */
		r->http_status = 409;
		r->retry_after_s = 0;
		r->retryable = 0;
		strcpy(r->detail, "use a new Idempotency-Key for a different request");
		return rc;
	}
	if (rc < 0) {
		r->http_status = 500;
		r->retry_after_s = 0;
		r->retryable = 1; /* a full or read-only disk may be fixed */
		strcpy(r->detail, "the outbox directory could not be written");
		return rc;
	}
	r->state = "Succeeded";
	return 0;
}

/* Outbox status: a message file exists once its send succeeded. */
static int outbox_tstatus(void *ctx, void *wctx, const char *id, struct transport_result *r)
{
	(void)wctx;
	int rc = outbox_status(ctx, id);
	if (rc < 0) {
		r->http_status = 500;
		strcpy(r->detail, "the outbox directory could not be read");
		return rc;
	}
	if (rc == 0)
		return -ERR_NOT_FOUND;
	r->state = "Succeeded";
	return 0;
}

/* Outbox readiness: the directory exists and is writable. */
static int outbox_tready(void *ctx, const char **why)
{
	return outbox_ready(ctx, why);
}

/* see transport.h */
void transport_outbox(struct transport *t, struct outbox *o)
{
	t->name = "outbox";
	t->ctx = o;
	t->send = outbox_tsend;
	t->status = outbox_tstatus;
	t->ready = outbox_tready;
}

/* Unconfigured: refuses with the reason kept in ctx. */
static int none_fail(void *ctx, struct transport_result *r)
{
	r->http_status = 503;
	r->retry_after_s = 0;
	r->retryable = 1; /* a queue worker fails, so the message waits in the poison queue */
	strncpy(r->detail, ctx, sizeof r->detail - 1);
	r->detail[sizeof r->detail - 1] = 0;
	return -ERR_NOT_CONFIGURED;
}

static int none_send(void *ctx, void *wctx, const struct notify_msg *msg, const char *id,
                     struct transport_result *r)
{
	(void)wctx, (void)msg, (void)id;
	return none_fail(ctx, r);
}

static int none_status(void *ctx, void *wctx, const char *id, struct transport_result *r)
{
	(void)wctx, (void)id;
	return none_fail(ctx, r);
}

/* see transport.h */
void transport_unconfigured(struct transport *t, const char *detail)
{
	t->name = "none";
	t->ctx = (void *)detail;
	t->send = none_send;
	t->status = none_status;
	t->ready = 0;
}
