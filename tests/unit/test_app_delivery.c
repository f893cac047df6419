/* test_app_delivery.c: the delivery_report invocation route of app.c, driven with the host's
 * envelopes: a route only under the host, one fn.delivery line per report in the answer's Logs,
 * bad messages logged and completed (200), an envelope that is not an invocation refused (400).
 * Kept apart from test_app.c: it needs the invocation buffers, not the fake transport. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "app.h"
#include "err.h"
#include "log.h"
#include "testutil.h"

/* Request limit of the tests; the scratch and envelope limits follow from it as in main.c. */
#define MAX_BODY 16384

static struct transport tr = {.name = "none"};
static struct app app;
static struct app_slot slot;
static char scratch[APP_SCRATCH_SIZE(MAX_BODY)];
static struct json_tok itok[INVOKE_MAX_TOKENS];
static char qbuf[APP_QUEUE_MSG_MAX];
static char outmem[APP_ANSWER_MAX];
static struct buf out;
static struct app_reply rep;

static int setup(void **state)
{
	(void)state;
	memset(&app, 0, sizeof app);
	app.tr = &tr;
	app.max_body = MAX_BODY;
	app.envelope_limit = APP_ENVELOPE_FACTOR * MAX_BODY;
	app.under_host = 1;
	slot.scratch = scratch;
	slot.scratch_cap = sizeof scratch;
	slot.itok = itok;
	slot.qbuf = qbuf;
	static int devnull = -1; /* the lines are read from the answer's Logs */
	if (devnull < 0)
		devnull = open("/dev/null", O_WRONLY | O_CLOEXEC);
	log_init(LOG_INFO, devnull);
	return 0;
}

/* POST /delivery_report with envelope env; returns app_head's result, the answer in out. */
static int invoke(const char *env)
{
	struct http_request req = {.method = "POST",
	                           .method_len = 4,
	                           .target = "/delivery_report",
	                           .target_len = 16,
	                           .minor_version = 1};
	buf_init(&out, outmem, sizeof outmem);
	int rc = app_head(&app, &slot, &req, &out, 1, &rep);
	if (rc == 0)
		app_body(&app, &slot, &req, env, strlen(env), &out, 1, &rep);
	return rc;
}

/* The HTTP status of the answer and its JSON body (NUL-terminated in place). */
static int answer(const char **body)
{
	outmem[out.len < sizeof outmem ? out.len : sizeof outmem - 1] = 0;
	const char *sep = strstr(outmem, "\r\n\r\n");
	assert_non_null(sep);
	*body = sep + 4;
	return atoi(outmem + 9);
}

/* The Logs lines of the answer whose event is ev, parsed one after the other into j[0..max). */
static int logs(const char *body, const char *ev, struct tu_json *j, int max)
{
	static struct tu_json top;
	static char lines[8][LOG_LINE_MAX + 1];
	tu_json_object(&top, body, strlen(body));
	int l = tu_json_find(&top, "Logs"), n = 0;
	assert_true(l > 0 && top.tok[l].type == JSON_ARRAY);
	for (int i = l + 1, k = 0; k < top.tok[l].size; k++, i = json_next(top.tok, top.n, i)) {
		long m = json_str_decode(body, &top.tok[i], lines[n], LOG_LINE_MAX);
		assert_true(m > 0);
		lines[n][m] = 0;
		tu_json_object(&j[n], lines[n], (size_t)m);
		char e[64];
		if (strcmp(tu_json_str(&j[n], "event", e, sizeof e), ev) == 0 && n + 1 < max)
			n++;
	}
	return n;
}

/* An envelope holding the message text msg (JSON-encoded once more, as the host does). */
static const char *envelope(const char *msg)
{
	static char env[8192];
	struct buf b;
	buf_init(&b, env, sizeof env - 1);
	buf_puts(&b, "{\"Data\":{\"msg\":");
	json_put_cstr(&b, msg);
	buf_puts(&b, "},\"Metadata\":{\"DequeueCount\":1,\"Id\":\"\\\"m-1\\\"\"}}");
	assert_int_equal(b.err, 0);
	env[b.len] = 0;
	return env;
}

static const char report[] =
    "{\"id\":\"e1\",\"eventType\":\"Microsoft.Communication.EmailDeliveryReportReceived\","
    "\"data\":{\"sender\":\"DoNotReply@example.net\",\"recipient\":\"person@example.org\","
    "\"messageId\":\"6f1c2a9e-0000-4000-8000-000000000001\",\"status\":\"Bounced\","
    "\"deliveryStatusDetails\":{\"statusMessage\":\"550 5.1.1 <person@example.org> unknown\"},"
    "\"deliveryAttemptTimestamp\":\"2026-12-03T08:30:00Z\"}}";

static void test_report_logged_with_operation_id(void **state)
{
	(void)state;
	const char *body;
	struct tu_json j[4];
	char v[300];
	assert_int_equal(invoke(envelope(report)), 0);
	assert_int_equal(answer(&body), 200);
	assert_int_equal(rep.route, ROUTE_FN_DELIVERY);
	assert_string_equal(rep.id, "6f1c2a9e-0000-4000-8000-000000000001");
	assert_int_equal(logs(body, "fn.delivery", j, 4), 1);
	assert_string_equal(tu_json_str(&j[0], "operation_id", v, sizeof v),
	                    "6f1c2a9e-0000-4000-8000-000000000001");
	assert_string_equal(tu_json_str(&j[0], "status", v, sizeof v), "Bounced");
	assert_string_equal(tu_json_str(&j[0], "outcome", v, sizeof v), "failed");
	assert_string_equal(tu_json_str(&j[0], "level", v, sizeof v), "warn");
	assert_string_equal(tu_json_str(&j[0], "recipient", v, sizeof v), "p***@example.org");
	assert_string_equal(tu_json_str(&j[0], "detail", v, sizeof v),
	                    "550 5.1.1 <p***@example.org> unknown");
	assert_string_equal(tu_json_str(&j[0], "attempt_time", v, sizeof v),
	                    "2026-12-03T08:30:00Z");
	assert_string_equal(tu_json_str(&j[0], "event_id", v, sizeof v), "e1");
	assert_null(strstr(body, "person@"));
	assert_int_equal(logs(body, "fn.invocation", j, 4), 1);
	assert_string_equal(tu_json_str(&j[0], "function", v, sizeof v), "delivery_report");
}

static void test_bad_messages_completed(void **state)
{
	(void)state;
	static const char *const bad[] = {
	    "not an event",
	    "{\"eventType\":\"Microsoft.Storage.BlobCreated\",\"data\":{}}",
	    "{\"eventType\":\"Microsoft.Communication.EmailDeliveryReportReceived\",\"data\":{}}",
	    "[1,2",
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		const char *body;
		struct tu_json j[4];
		assert_int_equal(invoke(envelope(bad[i])), 0);
		assert_int_equal(answer(&body), 200);
		assert_int_equal(logs(body, "fn.delivery_rejected", j, 4), 1);
		assert_int_equal(logs(body, "fn.delivery", j, 4), 0);
	}
	/* a message text holding NUL (\u0000 in the host's string) is the message's fault too */
	const char *body;
	struct tu_json j[4];
	assert_int_equal(invoke("{\"Data\":{\"msg\":\"a\\u0000b\"}}"), 0);
	assert_int_equal(answer(&body), 200);
	assert_int_equal(logs(body, "fn.delivery_rejected", j, 4), 1);
}

static void test_not_an_invocation_400(void **state)
{
	(void)state;
	const char *body;
	assert_int_equal(invoke("{\"Data\":{}}"), 0);
	assert_int_equal(answer(&body), 400);
	assert_non_null(strstr(body, "field-missing"));
	assert_int_equal(invoke("[]"), 0);
	assert_int_equal(answer(&body), 400);
}

static void test_standalone_404(void **state)
{
	(void)state;
	const char *body;
	app.under_host = 0;
	assert_int_equal(invoke(envelope(report)), 404);
	assert_int_equal(answer(&body), 404);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup(test_report_logged_with_operation_id, setup),
	    cmocka_unit_test_setup(test_bad_messages_completed, setup),
	    cmocka_unit_test_setup(test_not_an_invocation_400, setup),
	    cmocka_unit_test_setup(test_standalone_404, setup),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
