/*
 * fuzz_delivery.c: delivery.h under libFuzzer. Each input is a queue message text, parsed with
 * a scratch of exactly the documented sufficient size (2 * len bytes), so -ERR_OVERFLOW must
 * never happen. Every event is walked: each report's strings must be NUL-terminated, valid UTF-8
 * and within their limits, the kinds and statuses in range, and the masked detail must hold no
 * '@' that is followed by a domain unless a "***" stands before it. The input is then masked as
 * a status message into a small buffer, which must stay NUL-terminated UTF-8.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "delivery.h"
#include "err.h"
#include "fuzz.h"
#include "json.h"

/* Tokens: the handler reuses the 2048 of an invocation envelope. */
#define NTOK 2048

static struct json_tok tok[NTOK];

static void check_text(const char *s, size_t cap)
{
	const char *z = memchr(s, 0, cap);
	CHECK(z != NULL);
	CHECK(utf8_valid(s, (size_t)(z - s)));
}

/* Every '@' in a masked text that is followed by a domain character comes right after "***". */
static void check_masked(const char *s)
{
	for (const char *p = strchr(s, '@'); p; p = strchr(p + 1, '@')) {
		char d = p[1];
		int domain = (d >= 'a' && d <= 'z') || (d >= 'A' && d <= 'Z') ||
		             (d >= '0' && d <= '9') || d == '.' || d == '-';
		if (!domain || p == s)
			continue;
		char l = p[-1];
		int local = (l >= 'a' && l <= 'z') || (l >= 'A' && l <= 'Z') ||
		            (l >= '0' && l <= '9') || (l && strchr("!#$%&'*+/=?^_`{|}~.-", l));
		if (local)
			CHECK(p - s >= 4 && memcmp(p - 3, "***", 3) == 0);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
	size_t cap = 2 * len;
	char *in = malloc(len ? len : 1), *scratch = malloc(cap ? cap : 1);
	CHECK(in && scratch);
	memcpy(in, data, len);
	struct delivery_iter it;
	struct delivery_report r;
	int n = delivery_begin(&it, in, len, tok, NTOK, scratch, cap);
	CHECK(n != -ERR_OVERFLOW);
	CHECK(n >= 0 || n == -ERR_JSON_SYNTAX || n == -ERR_BAD_UTF8 || n == -ERR_JSON_TOO_COMPLEX);
	int seen = 0;
	while (n >= 0 && delivery_next(&it, &r)) {
		seen++;
		CHECK(r.kind <= DELIVERY_MALFORMED && r.status <= DELIVERY_OTHER);
		CHECK((r.why != NULL) ==
		      (r.kind == DELIVERY_FOREIGN || r.kind == DELIVERY_MALFORMED));
		check_text(r.event_id, sizeof r.event_id);
		check_text(r.event_type, sizeof r.event_type);
		check_text(r.message_id, sizeof r.message_id);
		check_text(r.status_text, sizeof r.status_text);
		check_text(r.recipient, sizeof r.recipient);
		check_text(r.detail, sizeof r.detail);
		check_text(r.attempt_time, sizeof r.attempt_time);
		check_masked(r.detail);
		if (r.kind == DELIVERY_REPORT || r.kind == DELIVERY_ENGAGEMENT)
			CHECK(r.message_id[0] != 0);
		if (r.kind == DELIVERY_REPORT)
			CHECK(r.status_text[0] != 0);
		if (r.kind == DELIVERY_REPORT && r.status != DELIVERY_OTHER)
			CHECK(strcasecmp(delivery_status_name(r.status), r.status_text) == 0);
	}
	CHECK(n < 0 || seen == n);
	if (utf8_valid(in, len)) {
		char out[64];
		size_t m = delivery_mask_text(in, len, out, sizeof out);
		CHECK(m < sizeof out && out[m] == 0);
		check_text(out, sizeof out);
		check_masked(out);
	}
	free(in);
	free(scratch);
	return 0;
}
