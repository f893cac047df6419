/*
 * test_delivery.c: delivery.h against events shaped as the public schema (Event Grid doc "Azure
 * Communication Services - Email events", AcsEmailDeliveryReportReceivedEventData): every
 * status, batches, the encodings the queue path may produce, foreign and malformed events, the
 * cuts and the masking of addresses in status messages. Inputs sit in buffers of their exact
 * length (ASan catches any read past them); the scratch is exactly the documented size.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "b64.h"
#include "delivery.h"
#include "err.h"
#include "testutil.h"

#define NTOK 512

static struct json_tok tok[NTOK];
static struct delivery_iter it;
static struct delivery_report rep;
static char *input, *scratch;

static int teardown(void **state)
{
	(void)state;
	free(input);
	free(scratch);
	input = scratch = NULL;
	return 0;
}

/* delivery_begin over a copy of s[0..n) with a scratch of cap bytes and ntok tokens. */
static int begin_cap(const char *s, size_t n, size_t cap, unsigned ntok)
{
	free(input);
	free(scratch);
	input = malloc(n ? n : 1);
	scratch = malloc(cap ? cap : 1);
	assert_non_null(input);
	assert_non_null(scratch);
	memcpy(input, s, n);
	return delivery_begin(&it, input, n, tok, ntok, scratch, cap);
}

/* delivery_begin with the documented sufficient scratch. */
static int begin(const char *s)
{
	return begin_cap(s, strlen(s), 2 * strlen(s), NTOK);
}

/* One report in the SDK's shape with the given status, recipient and message. */
static const char *event(const char *status, const char *recipient, const char *message)
{
	static char out[4096];
	snprintf(out, sizeof out,
	         "{\"id\":\"00000000-0000-0000-0000-000000000001\",\"topic\":\"/subscriptions/s/"
	         "resourceGroups/g/providers/microsoft.communication/communicationservices/acs\","
	         "\"subject\":\"sender/DoNotReply@example.net/message/"
	         "6f1c2a9e-0000-4000-8000-000000000001\",\"data\":{\"sender\":\"DoNotReply@"
	         "example.net\",\"recipient\":\"%s\",\"messageId\":\"6f1c2a9e-0000-4000-8000-"
	         "000000000001\",\"internetMessageId\":\"<abc@example.net>\",\"status\":\"%s\","
	         "\"deliveryStatusDetails\":{\"statusMessage\":\"%s\"},"
	         "\"deliveryAttemptTimestamp\":\"2026-12-03T08:30:00.1234567Z\"},"
	         "\"eventType\":\"Microsoft.Communication.EmailDeliveryReportReceived\","
	         "\"dataVersion\":\"1.0\",\"metadataVersion\":\"1\",\"eventTime\":"
	         "\"2026-12-03T08:30:01Z\"}",
	         recipient, status, message);
	return out;
}

static void next_report(void)
{
	assert_int_equal(delivery_next(&it, &rep), 1);
}

static void test_every_status(void **state)
{
	(void)state;
	static const struct {
		const char *text;
		enum delivery_status s;
	} cases[] = {
	    {"Delivered", DELIVERY_DELIVERED},     {"Bounced", DELIVERY_BOUNCED},
	    {"Suppressed", DELIVERY_SUPPRESSED},   {"FilteredSpam", DELIVERY_FILTERED_SPAM},
	    {"Quarantined", DELIVERY_QUARANTINED}, {"Failed", DELIVERY_FAILED},
	    {"Expanded", DELIVERY_EXPANDED},       {"SomethingNew", DELIVERY_OTHER},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		assert_int_equal(begin(event(cases[i].text, "user@example.com", "ok")), 1);
		next_report();
		assert_int_equal(rep.kind, DELIVERY_REPORT);
		assert_int_equal(rep.status, cases[i].s);
		assert_string_equal(rep.status_text, cases[i].text);
		assert_string_equal(rep.message_id, "6f1c2a9e-0000-4000-8000-000000000001");
		assert_string_equal(rep.event_id, "00000000-0000-0000-0000-000000000001");
		assert_string_equal(rep.recipient, "user@example.com");
		assert_string_equal(rep.detail, "ok");
		assert_string_equal(rep.attempt_time, "2026-12-03T08:30:00.1234567Z");
		assert_null(rep.why);
		assert_int_equal(delivery_next(&it, &rep), 0);
	}
	assert_string_equal(delivery_status_name(DELIVERY_FILTERED_SPAM), "FilteredSpam");
	assert_string_equal(delivery_status_name(DELIVERY_OTHER), "Other");
}

/* The doc's sample: an array, "deliveryAttemptTimeStamp" spelled with a capital S, no
 * deliveryStatusDetails (its trailing comma after the last data member removed: that is not
 * JSON). */
static void test_doc_sample(void **state)
{
	(void)state;
	const char *s =
	    jq("[{'id':'00000000-0000-0000-0000-000000000000','topic':'/subscriptions/"
	       "{subscription-id}/resourceGroups/{group-name}/providers/"
	       "microsoft.communication/communicationservices/{name}','subject':"
	       "'sender/senderid@azure.com/message/00000000-0000-0000-0000-000000000000',"
	       "'data':{'sender':'senderid@azure.com','recipient':'receiver@azure.com',"
	       "'messageId':'00000000-0000-0000-0000-000000000000','status':'Delivered',"
	       "'deliveryAttemptTimeStamp':'2020-09-18T00:22:20.2855749Z'},'eventType':"
	       "'Microsoft.Communication.EmailDeliveryReportReceived','dataVersion':"
	       "'1.0','metadataVersion':'1','eventTime':'2020-09-18T00:22:20Z'}]");
	assert_int_equal(begin(s), 1);
	next_report();
	assert_int_equal(rep.kind, DELIVERY_REPORT);
	assert_int_equal(rep.status, DELIVERY_DELIVERED);
	assert_string_equal(rep.attempt_time, "2020-09-18T00:22:20.2855749Z");
	assert_string_equal(rep.detail, "");
	assert_string_equal(rep.recipient, "receiver@azure.com");
}

static void test_batch_mixed(void **state)
{
	(void)state;
	char s[16384]; /* room for two events of event()'s 4 KiB: no truncation is possible */
	char first[4096];
	strcpy(first, event("Bounced", "a@example.com", "550 5.1.1 mailbox unavailable"));
	snprintf(
	    s, sizeof s,
	    "[%s,{\"id\":\"x\",\"eventType\":\"Microsoft.Storage.BlobCreated\",\"data\":{}},42,"
	    "%s,{\"eventType\":\"Microsoft.Communication.EmailDeliveryReportReceived\","
	    "\"data\":[]}]",
	    first, event("Delivered", "b@example.org", ""));
	assert_int_equal(begin(s), 5);
	next_report();
	assert_int_equal(rep.status, DELIVERY_BOUNCED);
	assert_string_equal(rep.recipient, "a@example.com");
	next_report();
	assert_int_equal(rep.kind, DELIVERY_FOREIGN);
	assert_string_equal(rep.event_type, "Microsoft.Storage.BlobCreated");
	assert_string_equal(rep.event_id, "x");
	assert_non_null(rep.why);
	next_report();
	assert_int_equal(rep.kind, DELIVERY_MALFORMED);
	assert_string_equal(rep.why, "an event is not a JSON object");
	next_report();
	assert_int_equal(rep.status, DELIVERY_DELIVERED);
	assert_string_equal(rep.recipient, "b@example.org");
	next_report();
	assert_int_equal(rep.kind, DELIVERY_MALFORMED);
	assert_string_equal(rep.why, "data is not an object");
	assert_int_equal(delivery_next(&it, &rep), 0);
	assert_int_equal(delivery_next(&it, &rep), 0);
	assert_int_equal(begin("[]"), 0);
	assert_int_equal(delivery_next(&it, &rep), 0);
}

/* JSON-encodes s once more into out. */
static void encode(const char *s, char *out, size_t cap)
{
	struct buf b;
	buf_init(&b, out, cap);
	json_put_cstr(&b, s);
	assert_int_equal(buf_finish(&b), 0);
	out[b.len] = 0;
	assert_true(b.len < cap);
}

static void expect_one_bounce(int n)
{
	assert_int_equal(n, 1);
	next_report();
	assert_int_equal(rep.kind, DELIVERY_REPORT);
	assert_int_equal(rep.status, DELIVERY_BOUNCED);
	assert_string_equal(rep.message_id, "6f1c2a9e-0000-4000-8000-000000000001");
}

static void test_layers(void **state)
{
	(void)state;
	static char once[16384], twice[16384], b64[16384], b64str[16384];
	const char *ev = event("Bounced", "a@example.com", "no such user");
	encode(ev, once, sizeof once);
	encode(once, twice, sizeof twice);
	expect_one_bounce(begin(once));
	expect_one_bounce(begin(twice));
	struct buf b;
	buf_init(&b, b64, sizeof b64);
	b64_encode(&b, ev, strlen(ev));
	b64[b.len] = 0;
	expect_one_bounce(begin(b64)); /* messageEncoding "none" under Event Grid's Base64 */
	encode(b64, b64str, sizeof b64str);
	expect_one_bounce(begin(b64str));
	/* whitespace around any layer */
	char padded[8192];
	snprintf(padded, sizeof padded, " \r\n%s\t ", ev);
	expect_one_bounce(begin(padded));
	/* the same event encoded DELIVERY_MAX_LAYERS times still parses; once more does not */
	static char layers[DELIVERY_MAX_LAYERS + 2][32768];
	strcpy(layers[0], ev);
	for (int i = 1; i <= DELIVERY_MAX_LAYERS + 1; i++)
		encode(layers[i - 1], layers[i], sizeof layers[i]);
	expect_one_bounce(begin(layers[DELIVERY_MAX_LAYERS]));
	assert_int_equal(begin(layers[DELIVERY_MAX_LAYERS + 1]), -ERR_JSON_SYNTAX);
}

static void test_garbage(void **state)
{
	(void)state;
	static const char *const bad[] = {"",
	                                  "   ",
	                                  "hello world",
	                                  "{",
	                                  "[1,",
	                                  "\"\"",
	                                  "\"x\"",
	                                  "42",
	                                  "null",
	                                  "Zm9v",
	                                  "!!!!",
	                                  "{}{}",
	                                  "\"{\\\"a\\\":\"",
	                                  "[}",
	                                  "\"\\u0000\""};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		int r = begin(bad[i]);
		if (r >= 0)
			fail_msg("accepted garbage %zu: %s", i, bad[i]);
	}
	assert_int_equal(begin("\"\\ud800\""), -ERR_BAD_UTF8);
	assert_int_equal(begin("{\"a\":\"\xff\"}"), -ERR_BAD_UTF8);
	/* an object with no events of ours is one malformed event, not a failure */
	assert_int_equal(begin("{}"), 1);
	next_report();
	assert_int_equal(rep.kind, DELIVERY_MALFORMED);
	assert_string_equal(rep.why, "an event without eventType");
}

static void test_limits(void **state)
{
	(void)state;
	const char *ev = event("Delivered", "a@example.com", "");
	assert_int_equal(begin_cap(ev, strlen(ev), 2 * strlen(ev), 8), -ERR_JSON_TOO_COMPLEX);
	char once[8192];
	encode(ev, once, sizeof once);
	assert_int_equal(begin_cap(once, strlen(once), 16, NTOK), -ERR_OVERFLOW);
	char deep[80];
	memset(deep, '[', sizeof deep / 2);
	memset(deep + sizeof deep / 2, ']', sizeof deep / 2);
	assert_int_equal(begin_cap(deep, sizeof deep, 0, NTOK), -ERR_JSON_TOO_COMPLEX);
	/* an object needs no scratch at all */
	assert_int_equal(begin_cap(ev, strlen(ev), 0, NTOK), 1);
}

static void test_malformed_reports(void **state)
{
	(void)state;
	static const struct {
		const char *json, *why;
	} cases[] = {
	    {"{'eventType':'Microsoft.Communication.EmailDeliveryReportReceived'}",
	     "data is not an object"},
	    {"{'eventType':'Microsoft.Communication.EmailDeliveryReportReceived','data':null}",
	     "data is not an object"},
	    {"{'eventType':'Microsoft.Communication.EmailDeliveryReportReceived','data':{'status':"
	     "'Delivered'}}",
	     "data.messageId is missing or not a string"},
	    {"{'eventType':'Microsoft.Communication.EmailDeliveryReportReceived','data':{'"
	     "messageId':"
	     "42,'status':'Delivered'}}",
	     "data.messageId is missing or not a string"},
	    {"{'eventType':'Microsoft.Communication.EmailDeliveryReportReceived','data':{'"
	     "messageId':"
	     "'','status':'Delivered'}}",
	     "data.messageId is missing or not a string"},
	    {"{'eventType':'Microsoft.Communication.EmailDeliveryReportReceived','data':{'"
	     "messageId':"
	     "'m'}}",
	     "data.status is missing or not a string"},
	    {"{'eventType':'Microsoft.Communication.EmailDeliveryReportReceived','data':{'"
	     "messageId':"
	     "'m','status':['Delivered']}}",
	     "data.status is missing or not a string"},
	    {"{'eventType':42,'data':{}}", "an event without eventType"},
	    {"{'eventType':'','data':{}}", "an event without eventType"},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		assert_int_equal(begin(jq(cases[i].json)), 1);
		next_report();
		assert_int_equal(rep.kind, DELIVERY_MALFORMED);
		assert_string_equal(rep.why, cases[i].why);
	}
}

static void test_keys_and_schemas(void **state)
{
	(void)state;
	/* keys ASCII case-insensitive, the first of two wins, unknown ones ignored, optional ones
	 * null or absent */
	assert_int_equal(
	    begin(jq(
	        "{'EVENTTYPE':'Microsoft.Communication.EmailDeliveryReportReceived','eventType':"
	        "'x','DATA':{'MessageId':'m1','messageid':'m2','Status':'failed','future':[1,{}],"
	        "'recipient':null,'deliveryStatusDetails':null}}")),
	    1);
	next_report();
	assert_int_equal(rep.kind, DELIVERY_REPORT);
	assert_string_equal(rep.message_id, "m1");
	assert_int_equal(rep.status, DELIVERY_FAILED);
	assert_string_equal(rep.status_text, "failed");
	assert_string_equal(rep.recipient, "");
	assert_string_equal(rep.detail, "");
	/* CloudEvents 1.0 schema: "type" instead of "eventType" */
	assert_int_equal(begin(jq("{'specversion':'1.0','id':'c1','source':'/acs','type':"
	                          "'Microsoft.Communication.EmailDeliveryReportReceived','data':{"
	                          "'messageId':'m','status':'Quarantined'}}")),
	                 1);
	next_report();
	assert_int_equal(rep.status, DELIVERY_QUARANTINED);
	assert_string_equal(rep.event_id, "c1");
	/* engagement tracking */
	assert_int_equal(
	    begin(
	        jq("{'eventType':'Microsoft.Communication.EmailEngagementTrackingReportReceived',"
	           "'data':{'sender':'s@example.net','recipient':'r@example.com','messageId':'m9',"
	           "'userActionTimestamp':'2022-09-06T22:34:52.1303595+00:00','engagementContext':"
	           "'https://example.com/x','userAgent':'ua','engagementType':'Click'}}")),
	    1);
	next_report();
	assert_int_equal(rep.kind, DELIVERY_ENGAGEMENT);
	assert_string_equal(rep.message_id, "m9");
	assert_string_equal(rep.status_text, "Click");
	assert_string_equal(rep.attempt_time, "2022-09-06T22:34:52.1303595+00:00");
	assert_string_equal(rep.recipient, "r@example.com");
	/* escapes decoded */
	assert_int_equal(
	    begin(jq("{'eventType':'Microsoft.Communication.EmailDeliveryReportReceived',"
	             "'data':{'messageId':'\\u006d','status':'Bounced','deliveryStatus"
	             "Details':{'statusMessage':'caf\\u00e9 \\ud83d\\ude00'}}}")),
	    1);
	next_report();
	assert_string_equal(rep.message_id, "m");
	assert_string_equal(rep.detail, "caf\xc3\xa9 \xf0\x9f\x98\x80");
}

static void test_cuts(void **state)
{
	(void)state;
	char id[200], msg[2000], s[8192];
	memset(id, 'a', sizeof id - 1);
	id[sizeof id - 1] = 0;
	/* a long message of 3-byte characters: cut on a character boundary */
	for (size_t i = 0; i + 3 < sizeof msg; i += 3)
		memcpy(msg + i, "\xe3\x81\x82", 3);
	msg[(sizeof msg - 1) / 3 * 3] = 0;
	snprintf(s, sizeof s,
	         "{\"eventType\":\"Microsoft.Communication.EmailDeliveryReportReceived\",\"id\":"
	         "\"%s\",\"data\":{\"messageId\":\"%s\",\"status\":\"Bounced\",\"deliveryStatus"
	         "Details\":{\"statusMessage\":\"%s\"}}}",
	         id, id, msg);
	assert_int_equal(begin(s), 1);
	next_report();
	assert_int_equal(strlen(rep.message_id), DELIVERY_ID_MAX - 1);
	assert_int_equal(strlen(rep.event_id), DELIVERY_ID_MAX - 1);
	assert_true(strlen(rep.detail) <= DELIVERY_DETAIL_MAX - 1);
	assert_int_equal(strlen(rep.detail) % 3, 0);
	assert_true(strlen(rep.detail) >= DELIVERY_DETAIL_MAX - 4);
	/* a cut inside an escape never splits it */
	char esc[4000];
	size_t o = 0;
	while (o + 12 < sizeof esc - 1) {
		memcpy(esc + o, "\\ud83d\\ude00", 12);
		o += 12;
	}
	esc[o] = 0;
	snprintf(s, sizeof s,
	         "{\"eventType\":\"Microsoft.Communication.EmailDeliveryReportReceived\",\"data\":{"
	         "\"messageId\":\"m\",\"status\":\"%s\"}}",
	         esc);
	assert_int_equal(begin(s), 1);
	next_report();
	assert_int_equal(rep.kind, DELIVERY_REPORT);
	assert_true(strlen(rep.status_text) > 0 && strlen(rep.status_text) % 4 == 0);
	assert_int_equal(rep.status, DELIVERY_OTHER);
}

static void test_mask(void **state)
{
	(void)state;
	char out[DELIVERY_DETAIL_MAX];
	const char *s = "550 5.1.1 <user.name+tag@mail.example.com>: Recipient address rejected";
	delivery_mask_text(s, strlen(s), out, sizeof out);
	assert_string_equal(out, "550 5.1.1 <u***@mail.example.com>: Recipient address rejected");
	s = "a@b.c and x@y.z\r\nline2\x01";
	delivery_mask_text(s, strlen(s), out, sizeof out);
	assert_string_equal(out, "a***@b.c and x***@y.z  line2 ");
	s = "Mic@osoft.Co@example.com x@y@";
	delivery_mask_text(s, strlen(s), out, sizeof out);
	assert_string_equal(out, "M***@example.com x***@");
	s = "no address @ here, user@ nothing, @domain";
	delivery_mask_text(s, strlen(s), out, sizeof out);
	assert_string_equal(out, s);
	/* cut on a whole character */
	char small[6];
	assert_int_equal(delivery_mask_text("ab\xe3\x81\x82\xe3\x81\x82", 8, small, sizeof small),
	                 5);
	assert_string_equal(small, "ab\xe3\x81\x82");
	/* a cut never leaves an unmasked local part with its domain */
	char tiny[8];
	delivery_mask_text("xx secret@example.com", 21, tiny, sizeof tiny);
	assert_null(strstr(tiny, "secret"));
	/* a long status message: the address at the cut is dropped, never shown half */
	char msg[1400], s2[4096];
	memset(msg, 'x', sizeof msg);
	msg[0] = ' ';
	memcpy(msg + 1020, " person@example.com", 19);
	msg[sizeof msg - 1] = 0;
	snprintf(s2, sizeof s2,
	         "{\"eventType\":\"Microsoft.Communication.EmailDeliveryReportReceived\",\"data\":{"
	         "\"messageId\":\"m\",\"status\":\"Bounced\",\"deliveryStatusDetails\":{"
	         "\"statusMessage\":\"%s\"}}}",
	         msg);
	assert_int_equal(begin(s2), 1);
	next_report();
	assert_null(strstr(rep.detail, "pers"));
}

/* Every prefix and every single-byte corruption of a valid batch: never a crash or a read
 * outside the input, and never a report that is not NUL-terminated. */
static void test_prefixes_and_flips(void **state)
{
	(void)state;
	char s[16384]; /* room for two events of event()'s 4 KiB */
	char first[4096];
	strcpy(first, event("Bounced", "a@example.com", "550 <a@example.com> gone"));
	snprintf(s, sizeof s, "[%s,%s]", first, event("Delivered", "b@example.com", ""));
	size_t n = strlen(s);
	for (size_t k = 0; k <= n; k++) {
		int r = begin_cap(s, k, 2 * k, NTOK);
		if (k < n)
			assert_true(r < 0);
		while (r > 0 && delivery_next(&it, &rep))
			assert_true(memchr(rep.detail, 0, sizeof rep.detail) != NULL);
	}
	static char mutated[8192];
	for (size_t k = 0; k < n; k += 7) {
		memcpy(mutated, s, n);
		mutated[k] ^= 0x22;
		int r = begin_cap(mutated, n, 2 * n, NTOK);
		while (r > 0 && delivery_next(&it, &rep))
			assert_true(rep.kind <= DELIVERY_MALFORMED);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_teardown(test_every_status, teardown),
	    cmocka_unit_test_teardown(test_doc_sample, teardown),
	    cmocka_unit_test_teardown(test_batch_mixed, teardown),
	    cmocka_unit_test_teardown(test_layers, teardown),
	    cmocka_unit_test_teardown(test_garbage, teardown),
	    cmocka_unit_test_teardown(test_limits, teardown),
	    cmocka_unit_test_teardown(test_malformed_reports, teardown),
	    cmocka_unit_test_teardown(test_keys_and_schemas, teardown),
	    cmocka_unit_test_teardown(test_cuts, teardown),
	    cmocka_unit_test_teardown(test_mask, teardown),
	    cmocka_unit_test_teardown(test_prefixes_and_flips, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
