/* transport.c: the unconfigured transport of transport.h (the adapters live with their
 * transports: outbox.c, acs.c). */
#include "transport.h"

#include <string.h>

#include "err.h"

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
	t->caps = 0;
}
