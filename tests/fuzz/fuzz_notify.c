/*
 * fuzz_notify.c: notify_parse() under libFuzzer, with a scratch of exactly the input length
 * (the documented sufficient size, so -ERR_OVERFLOW must never happen). On success every
 * promise of notify.h is checked on the result; on failure the error report must be well formed.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "b64.h"
#include "buf.h"
#include "err.h"
#include "json.h"
#include "notify.h"
#include "fuzz.h"

/* The senders the fuzzer's policy allows (the dict names them). */
#define FUZZ_SENDERS "alerts@example.com, NoReply@Example.com"

static struct json_tok tok[NOTIFY_MAX_TOKENS];
static struct notify_msg msg;

static const char *sc_lo, *sc_hi; /* the scratch of this run */

/* s lies in the scratch and is valid UTF-8 without NUL. */
static void check_str(const struct notify_str *s)
{
	if (s->len == 0)
		return;
	CHECK(s->p >= sc_lo && s->p + s->len <= sc_hi);
	CHECK(utf8_valid(s->p, s->len));
	CHECK(memchr(s->p, 0, s->len) == NULL);
}

static void check_addr(const struct notify_str *s)
{
	char mem[NOTIFY_MAX_ADDR + 8];
	struct buf b;
	check_str(s);
	CHECK(s->len > 0 && s->len <= NOTIFY_MAX_ADDR && notify_addr_valid(s->p, s->len));
	buf_init(&b, mem, sizeof mem);
	notify_addr_mask(&b, s->p, s->len);
	CHECK(buf_finish(&b) == 0 && b.len >= 5 && memcmp(mem + 1, "***@", 4) == 0);
}

static void check_list(const struct notify_str *a, unsigned n)
{
	for (unsigned i = 0; i < n; i++)
		check_addr(&a[i]);
}

static void check_attachment(const struct notify_attachment *a)
{
	check_str(&a->name);
	check_str(&a->content_type);
	check_str(&a->content_base64);
	CHECK(a->name.len >= 1 && a->name.len <= NOTIFY_MAX_FILENAME);
	CHECK(!memchr(a->name.p, '/', a->name.len) && !memchr(a->name.p, '\\', a->name.len));
	CHECK(a->content_type.len >= 3 && a->content_type.len <= NOTIFY_MAX_CONTENT_TYPE);
	CHECK(memchr(a->content_type.p, '/', a->content_type.len));
	CHECK(a->size > 0 &&
	      b64_check(a->content_base64.p, a->content_base64.len) == (long)a->size);
}

static void check_msg(const struct notify_msg *m)
{
	CHECK(m->n_to >= 1 && m->n_to + m->n_cc + m->n_bcc <= NOTIFY_MAX_RECIPIENTS);
	CHECK(m->n_reply_to <= NOTIFY_MAX_REPLY_TO && m->n_att <= NOTIFY_MAX_ATTACHMENTS);
	check_list(m->to, m->n_to);
	check_list(m->cc, m->n_cc);
	check_list(m->bcc, m->n_bcc);
	check_list(m->reply_to, m->n_reply_to);
	if (m->from.len)
		check_addr(&m->from);
	check_str(&m->subject);
	CHECK(m->subject.len >= 1 && m->subject.len <= NOTIFY_MAX_SUBJECT);
	for (size_t i = 0; i < m->subject.len; i++)
		CHECK((unsigned char)m->subject.p[i] >= 0x20 && m->subject.p[i] != 0x7f);
	check_str(&m->text);
	check_str(&m->html);
	CHECK(m->text.len > 0 || m->html.len > 0);
	for (unsigned i = 0; i < m->n_att; i++)
		check_attachment(&m->att[i]);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct notify_policy pol = {FUZZ_SENDERS};
	struct notify_error e;
	char *scratch = malloc(size ? size : 1); /* exactly size usable bytes (ASan-checked) */
	CHECK(scratch);
	sc_lo = scratch;
	sc_hi = scratch + size;
	memset(&e, 0x55, sizeof e);
	int r = notify_parse((const char *)data, size, tok, NOTIFY_MAX_TOKENS, scratch, size, &pol,
	                     &msg, &e);
	CHECK(r == e.err && r <= 0);
	CHECK(memchr(e.field, 0, sizeof e.field) && memchr(e.detail, 0, sizeof e.detail));
	for (const char *p = e.field; *p; p++)
		CHECK(*p >= 0x20 && *p < 0x7f);
	if (r == 0) {
		CHECK(e.field[0] == '\0' && e.detail[0] == '\0');
		check_msg(&msg);
	} else {
		CHECK(r != -ERR_OVERFLOW && e.detail[0] != '\0');
		CHECK(err_http_status(r) == 400 || err_http_status(r) == 413);
	}
	free(scratch);
	return 0;
}
