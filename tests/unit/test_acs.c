/* test_acs.c: the pure parts of acs.h: the EmailMessage body (checked by a round trip through
 * Python's json module, tests/unit/acscheck.py), its size bound, answer and token parsing, the
 * classification of error answers, start-up settings and the worker size. No network. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "acs.h"
#include "err.h"
#include "json.h"
#include "notify.h"
#include "tls.h"

/* The round-trip checker and its interpreter; the Python part is skipped when either is
 * missing (the C checks still run). */
#define ACSCHECK_PY "tests/unit/acscheck.py"
#define PYTHON3     "/usr/bin/python3"

/* Largest request built here: 50 recipients and 10 reply-to of 254 bytes, 10 attachments with
 * 255-byte names and types, a 998-byte subject: about 23 KB; or the raw-DEL message. */
#define REQ_CAP (64 * 1024)
/* Output room: generous, so that a body that grows beyond its bound can still be measured. */
#define OUT_CAP (8 * REQ_CAP)
/* One start-up error line. */
#define ERR_CAP 256

#define SENDER "DoNotReply@contoso.com"
/* A worked example (also in test_acs_auth.c), computed with the algorithm of
 * https://learn.microsoft.com/azure/communication-services/tutorials/hmac-header-tutorial: 149
 * bytes. */
#define EX_BODY                                                                                    \
	"{\"senderAddress\":\"DoNotReply@contoso.com\","                                           \
	"\"content\":{\"subject\":\"Hello\",\"plainText\":\"Hi there\"},"                          \
	"\"recipients\":{\"to\":[{\"address\":\"alice@example.com\"}]}}"

/* The worked example's fake key: bytes 0x00..0x3f. */
#define KEY64                                                                                      \
	"AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8gISIjJCUmJygpKissLS4vMDEyMzQ1Njc4OTo7PD0+Pw=="
#define EP_HOST "contoso.unitedstates.communication.azure.com"
#define CONN    "endpoint=https://" EP_HOST "/;accesskey=" KEY64
#define ID_HDR  "853b9a84-5bfa-4b22-a3f3-0b9a43d9ad8a"
#define ID_Q    "resource=https%3A%2F%2Fcommunication.azure.com%2F&api-version=2019-08-01"
#define GUID    "5E29463D-71DA-4FE0-8E69-999B57DB23B0"

static struct notify_msg msg;
static struct json_tok ntok[NOTIFY_MAX_TOKENS];
static struct json_tok atok[ACS_RESP_TOKENS];
static char scratch[REQ_CAP];
static char reqbuf[REQ_CAP];
static char out[OUT_CAP + 1];
static struct tls_anchors anchors;
static struct acs A;

/* ---- helpers ------------------------------------------------------------------------------- */

/* s[0..cap) holds a NUL, and before it only bytes >= 0x20 other than DEL, as valid UTF-8. */
static void assert_one_line(const char *what, const char *s, size_t cap)
{
	const char *nul = memchr(s, 0, cap);
	if (!nul)
		fail_msg("%s: not NUL-terminated within its %zu bytes", what, cap);
	for (const char *p = s; p < nul; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			fail_msg("%s: control byte 0x%02x at %td: \"%s\"", what, (unsigned char)*p,
			         p - s, s);
	if (!utf8_valid(s, (size_t)(nul - s)))
		fail_msg("%s: not valid UTF-8: \"%s\"", what, s);
}

/* notify_parse of body[0..len) into msg; asserts it is accepted. */
static void parse_req_n(const char *body, size_t len, const char *allowed)
{
	struct notify_policy pol = {allowed};
	struct notify_error e;
	assert_true(len <= sizeof scratch);
	int r = notify_parse(body, len, ntok, NOTIFY_MAX_TOKENS, scratch, sizeof scratch, &pol,
	                     &msg, &e);
	if (r != 0)
		fail_msg("notify_parse refused the test request: %d %s: %s", r, e.field, e.detail);
}

/* acs_email_json of msg into out (NUL-terminated); asserts success; returns the length. */
static size_t render(const char *sender)
{
	struct buf b;
	buf_init(&b, out, OUT_CAP);
	acs_email_json(&b, &msg, sender);
	assert_int_equal(buf_finish(&b), 0);
	out[b.len] = 0;
	return b.len;
}

static void put_hex(FILE *f, const char *s, size_t n)
{
	fputc(' ', f);
	for (size_t i = 0; i < n; i++)
		fprintf(f, "%02x", (unsigned char)s[i]);
}

/* Round trip through Python: out[0..olen) must be strict JSON equal to what req says (or to
 * `expected`, a JSON text, when not NULL). */
static void py_check(const char *name, const char *sender, const char *req, size_t rlen,
                     const char *o, size_t olen, const char *expected)
{
	if (access(PYTHON3, X_OK) != 0 || access(ACSCHECK_PY, R_OK) != 0) {
		print_message("python3 or " ACSCHECK_PY " missing: round trip skipped\n");
		return;
	}
	FILE *p = popen(PYTHON3 " " ACSCHECK_PY, "w");
	assert_non_null(p);
	fputs(name, p);
	put_hex(p, sender, strlen(sender));
	put_hex(p, req, rlen);
	put_hex(p, o, olen);
	if (expected)
		put_hex(p, expected, strlen(expected));
	fputc('\n', p);
	int rc = pclose(p);
	if (rc != 0)
		fail_msg("acscheck.py: case %s failed (status %d); output: %.*s", name, rc,
		         (int)(olen > 2000 ? 2000 : olen), o);
}

/* Output bytes: no raw control character (RFC 8259 7 needs U+0000..U+001F escaped; DEL may
 * stay raw, and must, for the ACS_BODY_OVERHEAD bound). */
static void assert_no_raw_controls(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)s[i] < 0x20)
			fail_msg("raw byte 0x%02x at %zu of the body", (unsigned char)s[i], i);
}

/* The whole path for one request text: notify_parse, acs_email_json, C byte checks, Python.
 * Returns the output length. */
static size_t email_case(const char *name, const char *req, const char *allowed, const char *sender,
                         const char *expected)
{
	size_t rlen = strlen(req);
	parse_req_n(req, rlen, allowed);
	size_t olen = render(sender);
	assert_no_raw_controls(out, olen);
	py_check(name, sender, req, rlen, out, olen, expected);
	return olen;
}

/* ---- acs_email_json ------------------------------------------------------------------------ */

/* The original three-field request gives, byte for byte, the worked example body whose
 * signature that worked example computes. */
static void test_email_original(void **state)
{
	(void)state;
	const char *req =
	    "{\"to_email\":\"alice@example.com\",\"subject\":\"Hello\",\"message\":\"Hi there\"}";
	size_t n =
	    email_case("original", req, NULL, SENDER,
	               "{\"senderAddress\":\"DoNotReply@contoso.com\",\"content\":{\"subject\":"
	               "\"Hello\",\"plainText\":\"Hi there\"},\"recipients\":{\"to\":[{"
	               "\"address\":\"alice@example.com\"}]}}");
	assert_int_equal(n, 149);
	assert_string_equal(out, EX_BODY);
}

static void test_email_arrays(void **state)
{
	(void)state;
	const char *req =
	    "{\"to_email\":[\"a1@example.com\",\"a2@example.org\"],"
	    "\"cc\":[\"c1@example.com\",\"c2@example.com\"],\"bcc\":\"b1@example.net\","
	    "\"subject\":\"Arrays\",\"message\":\"m\"}";
	const char *want =
	    "{\"senderAddress\":\"DoNotReply@contoso.com\",\"content\":{\"subject\":\"Arrays\","
	    "\"plainText\":\"m\"},\"recipients\":{\"to\":[{\"address\":\"a1@example.com\"},{"
	    "\"address\":\"a2@example.org\"}],\"cc\":[{\"address\":\"c1@example.com\"},{"
	    "\"address\":\"c2@example.com\"}],\"bcc\":[{\"address\":\"b1@example.net\"}]}}";
	email_case("arrays", req, NULL, SENDER, want);
	assert_string_equal(out, want); /* member order too */

	/* cc only, bcc only */
	email_case("cc_only",
	           "{\"to_email\":\"a@example.com\",\"cc\":\"c@example.com\",\"subject\":\"s\","
	           "\"message\":\"m\"}",
	           NULL, SENDER, NULL);
	assert_null(strstr(out, "\"bcc\""));
	email_case(
	    "bcc_only",
	    "{\"bcc\":[\"b@example.com\"],\"to_email\":[\"a@example.com\"],\"subject\":\"s\","
	    "\"message\":\"m\"}",
	    NULL, SENDER, NULL);
	assert_null(strstr(out, "\"cc\""));

	/* empty lists are left out, not sent as [] */
	email_case(
	    "empty_lists",
	    "{\"to_email\":[\"a@example.com\"],\"cc\":[],\"bcc\":[],\"reply_to\":[],"
	    "\"attachments\":[],\"subject\":\"s\",\"message\":\"m\"}",
	    NULL, SENDER,
	    "{\"senderAddress\":\"DoNotReply@contoso.com\",\"content\":{\"subject\":\"s\","
	    "\"plainText\":\"m\"},\"recipients\":{\"to\":[{\"address\":\"a@example.com\"}]}}");
	assert_null(strstr(out, "[]"));
}

static void test_email_reply_to(void **state)
{
	(void)state;
	const char *want =
	    "{\"senderAddress\":\"DoNotReply@contoso.com\",\"content\":{\"subject\":\"s\","
	    "\"plainText\":\"m\"},\"recipients\":{\"to\":[{\"address\":\"a@example.com\"}]},"
	    "\"replyTo\":[{\"address\":\"help@example.com\"}]}";
	email_case("reply_to_string",
	           "{\"to_email\":\"a@example.com\",\"reply_to\":\"help@example.com\","
	           "\"subject\":\"s\",\"message\":\"m\"}",
	           NULL, SENDER, want);
	assert_string_equal(out, want);
	email_case("reply_to_10",
	           "{\"to_email\":\"a@example.com\",\"subject\":\"s\",\"message\":\"m\","
	           "\"reply_to\":[\"r0@example.com\",\"r1@example.com\",\"r2@example.com\","
	           "\"r3@example.com\",\"r4@example.com\",\"r5@example.com\",\"r6@example.com\","
	           "\"r7@example.com\",\"r8@example.com\",\"r9@example.com\"]}",
	           NULL, SENDER, NULL);
}

static void test_email_html(void **state)
{
	(void)state;
	const char *want = "{\"senderAddress\":\"DoNotReply@contoso.com\",\"content\":{\"subject\":"
	                   "\"s\",\"html\":\"<p>hi</p>\"},\"recipients\":{\"to\":[{\"address\":"
	                   "\"a@example.com\"}]}}";
	email_case("html_only",
	           "{\"to_email\":\"a@example.com\",\"subject\":\"s\",\"html\":\"<p>hi</p>\"}",
	           NULL, SENDER, want);
	assert_string_equal(out, want);
	/* an empty message next to html is left out too */
	email_case("html_empty_message",
	           "{\"to_email\":\"a@example.com\",\"subject\":\"s\",\"message\":\"\","
	           "\"html\":\"<p>hi</p>\"}",
	           NULL, SENDER, want);
	assert_string_equal(out, want);
	/* text and html: plainText before html */
	email_case("text_and_html",
	           "{\"html\":\"<b>B</b>\",\"to_email\":\"a@example.com\",\"subject\":\"s\","
	           "\"message\":\"T\"}",
	           NULL, SENDER,
	           "{\"senderAddress\":\"DoNotReply@contoso.com\",\"content\":{\"subject\":\"s\","
	           "\"plainText\":\"T\",\"html\":\"<b>B</b>\"},\"recipients\":{\"to\":[{"
	           "\"address\":\"a@example.com\"}]}}");
	assert_non_null(strstr(out, "\"plainText\":\"T\",\"html\":\"<b>B</b>\""));
}

static void test_email_attachments(void **state)
{
	(void)state;
	const char *req =
	    "{\"to_email\":\"a@example.com\",\"subject\":\"Invoice\",\"message\":\"attached\","
	    "\"attachments\":[{\"name\":\"invoice.pdf\",\"content_type\":\"application/pdf\","
	    "\"content_base64\":\"JVBERi0xLjQK\"},{\"content_base64\":\"iVBORw0KGgo=\","
	    "\"content_type\":\"image/png\",\"name\":\"logo.png\"},{\"name\":\"data.csv\","
	    "\"content_type\":\"text/csv\",\"content_base64\":\"YSxiCjEsMgo=\"}]}";
	const char *want =
	    "{\"senderAddress\":\"DoNotReply@contoso.com\",\"content\":{\"subject\":\"Invoice\","
	    "\"plainText\":\"attached\"},\"recipients\":{\"to\":[{\"address\":\"a@example.com\"}]},"
	    "\"attachments\":[{\"name\":\"invoice.pdf\",\"contentType\":\"application/pdf\","
	    "\"contentInBase64\":\"JVBERi0xLjQK\"},{\"name\":\"logo.png\",\"contentType\":"
	    "\"image/png\",\"contentInBase64\":\"iVBORw0KGgo=\"},{\"name\":\"data.csv\","
	    "\"contentType\":\"text/csv\",\"contentInBase64\":\"YSxiCjEsMgo=\"}]}";
	email_case("attachments", req, NULL, SENDER, want);
	assert_string_equal(out, want);
}

static void test_email_from_override(void **state)
{
	(void)state;
	const char *pol = "billing@shop.example.org, alerts@shop.example.org";
	email_case(
	    "from",
	    "{\"from\":\"alerts@shop.example.org\",\"to_email\":\"a@example.com\","
	    "\"subject\":\"s\",\"message\":\"m\"}",
	    pol, SENDER,
	    "{\"senderAddress\":\"alerts@shop.example.org\",\"content\":{\"subject\":\"s\","
	    "\"plainText\":\"m\"},\"recipients\":{\"to\":[{\"address\":\"a@example.com\"}]}}");
	assert_null(strstr(out, SENDER));
	/* the same policy without "from": the configured sender */
	email_case("from_absent",
	           "{\"to_email\":\"a@example.com\",\"subject\":\"s\",\"message\":\"m\"}", pol,
	           SENDER, NULL);
	assert_non_null(strstr(out, "\"senderAddress\":\"" SENDER "\""));
}

/* Quotes, backslashes, every control character JSON has a short escape for and others,
 * DEL (raw and as \u007f: it goes out raw), non-ASCII raw and as \u escapes (surrogate pair
 * included), U+2028 and NEL, "</script>". */
static void test_email_special_strings(void **state)
{
	(void)state;
	const char *req =
	    "{\"to_email\":\"a@example.com\",\"cc\":\"o'brien@example.com\","
	    "\"subject\":\"Quote \\\" backslash \\\\ slash \\/ \xc3\xa9 \xe6\x97\xa5\xe6\x9c\xac"
	    "\xe8\xaa\x9e \xf0\x9f\x98\x80 \\ud83d\\ude00 \\u00e9 </script>\","
	    "\"message\":\"ctl \\u0001 \\u001f nl \\n cr \\r tab \\t bs \\b ff \\f del \\u007f "
	    "rawdel \x7f"
	    " \xc3\xa9 \xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e \xf0\x9f\x98\x80 \\ud83d\\ude00 "
	    "</script> ls \xe2\x80\xa8 nel \xc2\x85 \\\"\\\\\\\\\\\"\","
	    "\"html\":\"<p>\\\"q\\\" &amp; \\\\</p></script><script>alert(1)</script>\","
	    "\"attachments\":[{\"name\":\"r\xc3\xa9sum\xc3\xa9 \\\"final\\\" \xe6\x97\xa5 "
	    "\xf0\x9f\x98\x80 \\ud83d\\ude00.txt\",\"content_type\":\"text/plain\","
	    "\"content_base64\":\"aGk=\"}]}";
	size_t n = email_case("special_strings", req, NULL, SENDER, NULL);
	/* the escapes JSON requires, as json.h documents them */
	static const char *const must[] = {"\\u0001",      "\\u001f",
	                                   "\\n",          "\\r",
	                                   "\\t",          "\\b",
	                                   "\\f",          "del \x7f rawdel \x7f ",
	                                   "Quote \\\" b", "backslash \\\\ slash / ",
	                                   "</script>"};
	for (size_t i = 0; i < sizeof must / sizeof *must; i++)
		if (!strstr(out, must[i]))
			fail_msg("\"%s\" not in %s", must[i], out);
	/* non-ASCII goes out raw (RFC 8259 section 8.1: UTF-8 JSON text), escapes in the request
	 * are resolved */
	assert_non_null(strstr(out, "\xf0\x9f\x98\x80 \xf0\x9f\x98\x80 \xc3\xa9 </script>"));
	assert_null(strstr(out, "\\ud83d"));
	assert_null(strstr(out, "\\u00e9"));
	assert_null(strstr(out, "\\/"));
	assert_true(utf8_valid(out, n));
}

/* 50 recipients (the ACS maximum) over to, cc and bcc. */
static void test_email_50_recipients(void **state)
{
	(void)state;
	struct buf b;
	buf_init(&b, reqbuf, sizeof reqbuf);
	static const char *const key[] = {"to_email", "cc", "bcc"};
	static const int count[] = {20, 20, 10};
	buf_putc(&b, '{');
	for (int k = 0, id = 0; k < 3; k++) {
		buf_putc(&b, '"');
		buf_puts(&b, key[k]);
		buf_puts(&b, "\":[");
		for (int i = 0; i < count[k]; i++, id++) {
			char a[64];
			snprintf(a, sizeof a, "%s\"user.%02d+tag@mail%d.example.com\"",
			         i ? "," : "", id, id % 7);
			buf_puts(&b, a);
		}
		buf_puts(&b, "],");
	}
	buf_puts(&b, "\"subject\":\"fifty\",\"message\":\"m\"}");
	assert_int_equal(buf_finish(&b), 0);
	reqbuf[b.len] = 0;
	email_case("recipients_50", reqbuf, NULL, SENDER, NULL);
	assert_int_equal(msg.n_to + msg.n_cc + msg.n_bcc, NOTIFY_MAX_RECIPIENTS);
	size_t k = 0;
	for (const char *p = out; (p = strstr(p, "{\"address\":")) != NULL; p++)
		k++;
	assert_int_equal(k, 50);
}

/* A buffer too small: sticky -ERR_OVERFLOW, the bytes that fit are the prefix, missing counts
 * the rest; whatever is appended afterwards changes nothing. Every cap from 0 to the full size. */
static void test_email_overflow(void **state)
{
	(void)state;
	static char small[1024];
	const char *req =
	    "{\"to_email\":[\"a@example.com\",\"b@example.com\"],\"cc\":\"c@example.com\","
	    "\"reply_to\":\"r@example.com\",\"subject\":\"s \\\"q\\\"\",\"message\":\"l1\\nl2\","
	    "\"html\":\"<p>x</p>\",\"attachments\":[{\"name\":\"a.txt\",\"content_type\":"
	    "\"text/plain\",\"content_base64\":\"aGk=\"}]}";
	parse_req_n(req, strlen(req), NULL);
	size_t full = render(SENDER);
	assert_true(full < sizeof small);
	for (size_t cap = 0; cap <= full; cap++) {
		struct buf b;
		memset(small, '#', sizeof small);
		buf_init(&b, small, cap);
		acs_email_json(&b, &msg, SENDER);
		if (cap == full) {
			assert_int_equal(b.err, 0);
			assert_int_equal(b.len, full);
			assert_memory_equal(small, out, full);
			continue;
		}
		assert_int_equal(b.err, -ERR_OVERFLOW);
		assert_int_equal(b.len, cap);
		assert_int_equal(b.len + b.missing, full);
		assert_memory_equal(small, out, cap);
		assert_int_equal(small[cap], '#'); /* nothing written past cap */
		buf_puts(&b, "x");
		acs_email_json(&b, &msg, SENDER);
		assert_int_equal(b.err, -ERR_OVERFLOW);
		assert_int_equal(b.len, cap);
		assert_int_equal(buf_finish(&b), -ERR_OVERFLOW);
	}
}

/* ---- the ACS_BODY_OVERHEAD bound ----------------------------------------------------------- */

/* `n` copies of c into dst, then a NUL. */
static char *fill(char *dst, char c, size_t n)
{
	memset(dst, c, n);
	dst[n] = 0;
	return dst;
}

/* An address of exactly NOTIFY_MAX_ADDR bytes: 64-byte local part ending in the index,
 * '@', then labels of 63, 63 and 61 bytes. */
static const char *long_addr(int i)
{
	static char a[NOTIFY_MAX_ADDR + 1];
	char l[NOTIFY_MAX_LOCAL + 1], d1[64], d2[64], d3[62];
	fill(l, 'u', NOTIFY_MAX_LOCAL);
	snprintf(l + NOTIFY_MAX_LOCAL - 3, 4, "%03d", i);
	snprintf(a, sizeof a, "%s@%s.%s.%s", l, fill(d1, 'a', 63), fill(d2, 'b', 63),
	         fill(d3, 'c', 61));
	assert_int_equal(strlen(a), NOTIFY_MAX_ADDR);
	return a;
}

struct shape {
	const char *name;
	int addr_len;     /* 254: long addresses; 0: "a@b" */
	int lists;        /* 1: all recipients in to_email; 3: split over to, cc, bcc */
	int long_strings; /* 1: 998-byte subject, 255-byte names and content types */
	int from;         /* 1: "from" overrides the sender (same length as the sender) */
	size_t raw_del;   /* raw DEL bytes in the message */
	const char *sender;
};

static void put_q(struct buf *b, const char *s)
{
	buf_putc(b, '"');
	buf_puts(b, s);
	buf_putc(b, '"');
}

/* Writes the largest valid request of a shape into reqbuf; returns its length. */
static size_t build_worst(const struct shape *s, char *allowed, size_t acap)
{
	static char subj[NOTIFY_MAX_SUBJECT + 1], name[NOTIFY_MAX_FILENAME + 1],
	    ctype[NOTIFY_MAX_CONTENT_TYPE + 1];
	struct buf b;
	buf_init(&b, reqbuf, sizeof reqbuf);
	buf_putc(&b, '{');
	static const char *const key[] = {"to_email", "cc", "bcc"};
	int per = NOTIFY_MAX_RECIPIENTS / s->lists, id = 0;
	for (int k = 0; k < s->lists; k++) {
		put_q(&b, key[k]);
		buf_puts(&b, ":[");
		int n = k == s->lists - 1 ? NOTIFY_MAX_RECIPIENTS - id : per;
		for (int i = 0; i < n; i++, id++) {
			if (i)
				buf_putc(&b, ',');
			put_q(&b, s->addr_len ? long_addr(id) : "a@b");
		}
		buf_puts(&b, "],");
	}
	buf_puts(&b, "\"reply_to\":[");
	for (int i = 0; i < NOTIFY_MAX_REPLY_TO; i++) {
		if (i)
			buf_putc(&b, ',');
		put_q(&b, s->addr_len ? long_addr(100 + i) : "a@b");
	}
	buf_puts(&b, "],\"subject\":");
	put_q(&b, s->long_strings ? fill(subj, 's', NOTIFY_MAX_SUBJECT) : "s");
	buf_puts(&b, ",\"message\":\"m");
	for (size_t i = 0; i < s->raw_del; i++)
		buf_putc(&b, 0x7f);
	buf_puts(&b, "\",\"html\":\"h\",\"attachments\":[");
	fill(ctype, 'a', NOTIFY_MAX_CONTENT_TYPE);
	ctype[127] = '/';
	for (int i = 0; i < NOTIFY_MAX_ATTACHMENTS; i++) {
		if (s->long_strings) {
			fill(name, 'n', NOTIFY_MAX_FILENAME);
			snprintf(name + NOTIFY_MAX_FILENAME - 6, 7, "%02u.txt", (unsigned)i % 100u);
		}
		buf_puts(&b, i ? ",{\"name\":" : "{\"name\":");
		put_q(&b, s->long_strings ? name : "n");
		buf_puts(&b, ",\"content_type\":");
		put_q(&b, s->long_strings ? ctype : "a/b");
		buf_puts(&b, ",\"content_base64\":\"AA==\"}");
	}
	buf_puts(&b, "]");
	allowed[0] = 0;
	if (s->from) {
		/* a from exactly as long as the sender, but another address */
		size_t sl = strlen(s->sender);
		assert_true(sl < acap);
		memcpy(allowed, s->sender, sl + 1);
		allowed[0] = allowed[0] == 'x' ? 'y' : 'x';
		buf_puts(&b, ",\"from\":");
		put_q(&b, allowed);
	}
	buf_putc(&b, '}');
	assert_int_equal(buf_finish(&b), 0);
	reqbuf[b.len] = 0;
	return b.len;
}

/* The body of the request fits ACS_BODY_OVERHEAD beyond the request's own length, and so the
 * worker of acs_worker_size(request length) holds it where acs_tsend writes it. */
static void check_bound(const struct shape *s, int python)
{
	char allowed[NOTIFY_MAX_ADDR + 1];
	size_t rlen = build_worst(s, allowed, sizeof allowed);
	parse_req_n(reqbuf, rlen, allowed[0] ? allowed : NULL);
	assert_int_equal(msg.n_to + msg.n_cc + msg.n_bcc, NOTIFY_MAX_RECIPIENTS);
	assert_int_equal(msg.n_reply_to, NOTIFY_MAX_REPLY_TO);
	assert_int_equal(msg.n_att, NOTIFY_MAX_ATTACHMENTS);
	size_t olen = render(s->sender);
	print_message("bound %-22s request %6zu body %6zu growth %5ld (ACS_BODY_OVERHEAD %d)\n",
	              s->name, rlen, olen, (long)olen - (long)rlen, ACS_BODY_OVERHEAD);
	if (python)
		py_check(s->name, s->sender, reqbuf, rlen, out, olen, NULL);
	if (olen > rlen + ACS_BODY_OVERHEAD)
		fail_msg("%s: body of %zu bytes > request %zu + ACS_BODY_OVERHEAD %d", s->name,
		         olen, rlen, ACS_BODY_OVERHEAD);

	/* as acs_tsend does it, in a worker sized for bodies of exactly this request's size */
	size_t size = acs_worker_size(rlen);
	struct acs_worker *w = malloc(size);
	assert_non_null(w);
	acs_worker_init(w, &A, size);
	struct buf b;
	buf_init(&b, w->req + ACS_HEAD_MAX, w->req_cap - ACS_HEAD_MAX);
	acs_email_json(&b, &msg, s->sender);
	int err = b.err;
	size_t len = b.len;
	acs_worker_close(w);
	free(w);
	assert_int_equal(err, 0);
	assert_int_equal(len, olen);
}

static void test_email_bound(void **state)
{
	(void)state;
	static char sender254[NOTIFY_MAX_ADDR + 1];
	memcpy(sender254, long_addr(999), sizeof sender254);
	const struct shape shapes[] = {
	    {"long_everything", 254, 1, 1, 0, 0, sender254},
	    {"long_split_lists", 254, 3, 1, 0, 0, sender254},
	    {"long_with_from", 254, 3, 1, 1, 0, sender254},
	    /* short strings: the JSON around them is all that grows */
	    {"short_one_list", 0, 1, 0, 0, 0, sender254},
	    {"short_split_lists", 0, 3, 0, 0, 0, sender254},
	    {"short_with_from", 0, 3, 0, 1, 0, sender254},
	    {"short_short_sender", 0, 3, 0, 0, 0, "a@b"},
	};
	assert_int_equal(
	    acs_init(&A, &(struct acs_settings){.connection_string = CONN, .sender = SENDER},
	             &anchors, (char[ERR_CAP]){0}, ERR_CAP),
	    0);
	for (size_t i = 0; i < sizeof shapes / sizeof *shapes; i++)
		check_bound(&shapes[i], 1);
}

/*
 * A raw DEL (0x7f) is legal unescaped in a JSON string, and notify_parse accepts it in "message"
 * and "html". acs.h says "strings themselves never grow": were DEL written as the 6-byte \u007f,
 * a message of raw DELs would break the bound, and a request within NOTIFY_MAX_BODY_BYTES would
 * get a 413 "larger than the 10 MB ACS accepts".
 */
static void test_email_bound_raw_del(void **state)
{
	(void)state;
	const struct shape s = {"short_raw_del_2000", 0, 3, 0, 0, 2000, SENDER};
	assert_int_equal(
	    acs_init(&A, &(struct acs_settings){.connection_string = CONN, .sender = SENDER},
	             &anchors, (char[ERR_CAP]){0}, ERR_CAP),
	    0);
	check_bound(&s, 1);
}

/* ---- acs_worker_size ----------------------------------------------------------------------- */

static void test_worker_size(void **state)
{
	(void)state;
	static const size_t bodies[] = {0,
	                                1,
	                                1024,
	                                65536,
	                                1048576,
	                                ACS_MAX_REQUEST - 1,
	                                ACS_MAX_REQUEST,
	                                ACS_MAX_REQUEST + 1,
	                                16777216,
	                                (size_t)1 << 31};
	size_t prev = 0;
	for (size_t i = 0; i < sizeof bodies / sizeof *bodies; i++) {
		size_t mb = bodies[i] < ACS_MAX_REQUEST ? bodies[i] : ACS_MAX_REQUEST;
		size_t want = sizeof(struct acs_worker) + ACS_HEAD_MAX + mb + ACS_BODY_OVERHEAD;
		size_t got = acs_worker_size(bodies[i]);
		if (got < want)
			fail_msg("acs_worker_size(%zu) = %zu < %zu", bodies[i], got, want);
		assert_true(got >= prev); /* monotonic */
		prev = got;
		if (bodies[i] >= ACS_MAX_REQUEST) /* capped: no more than the cap needs */
			assert_int_equal(got, sizeof(struct acs_worker) + ACS_HEAD_MAX +
			                          ACS_MAX_REQUEST + ACS_BODY_OVERHEAD);
	}
	/* the worker's request area is what is left after the struct */
	assert_int_equal(
	    acs_init(&A, &(struct acs_settings){.connection_string = CONN, .sender = SENDER},
	             &anchors, (char[ERR_CAP]){0}, ERR_CAP),
	    0);
	size_t size = acs_worker_size(1024);
	struct acs_worker *w = malloc(size);
	assert_non_null(w);
	acs_worker_init(w, &A, size);
	assert_int_equal(w->req_cap, ACS_HEAD_MAX + 1024 + ACS_BODY_OVERHEAD);
	assert_int_equal(w->fd, -1);
	assert_ptr_equal(w->a, &A);
	acs_worker_close(w);
	free(w);
}

/* max_body near SIZE_MAX: max_body + ACS_BODY_OVERHEAD wraps before the cap is applied. */
static void test_worker_size_huge(void **state)
{
	(void)state;
	size_t cap = sizeof(struct acs_worker) + ACS_HEAD_MAX + ACS_MAX_REQUEST + ACS_BODY_OVERHEAD;
	assert_int_equal(acs_worker_size(SIZE_MAX - ACS_BODY_OVERHEAD), cap);
	assert_int_equal(acs_worker_size(SIZE_MAX), cap);
}

/* ---- acs_answer_parse ---------------------------------------------------------------------- */

static struct acs_answer ans;

static int answer_n(const char *s, size_t n)
{
	memset(&ans, 0x5a, sizeof ans);
	int r = acs_answer_parse(s, n, atok, ACS_RESP_TOKENS, &ans);
	assert_one_line("id", ans.id, sizeof ans.id);
	assert_one_line("status", ans.status, sizeof ans.status);
	assert_one_line("code", ans.code, sizeof ans.code);
	assert_one_line("message", ans.message, sizeof ans.message);
	assert_one_line("target", ans.target, sizeof ans.target);
	return r;
}

static int answer(const char *s)
{
	return answer_n(s, strlen(s));
}

static void expect_answer(const char *id, const char *status, const char *code, const char *message,
                          const char *target)
{
	assert_string_equal(ans.id, id);
	assert_string_equal(ans.status, status);
	assert_string_equal(ans.code, code);
	assert_string_equal(ans.message, message);
	assert_string_equal(ans.target, target);
}

static void test_answer_send_result(void **state)
{
	(void)state;
	assert_int_equal(answer("{\"id\":\"fffea455-9149-4017-8c7c-06282cf005af\",\"status\":"
	                        "\"Running\",\"error\":null}"),
	                 0);
	expect_answer("fffea455-9149-4017-8c7c-06282cf005af", "Running", "", "", "");
	/* the members in another order, whitespace, no error member */
	assert_int_equal(answer(" \r\n{ \"status\" : \"Succeeded\" ,\n\t\"id\":"
	                        "\"FFFEA455-9149-4017-8C7C-06282CF005AF\" }\r\n"),
	                 0);
	expect_answer("FFFEA455-9149-4017-8C7C-06282CF005AF", "Succeeded", "", "", "");
	/* the emulator's "error":{} and a status ACS may add later (modelAsString) */
	assert_int_equal(answer("{\"id\":\"x\",\"status\":\"Queued\",\"error\":{}}"), 0);
	expect_answer("x", "Queued", "", "", "");
	/* Failed operation with its error */
	assert_int_equal(
	    answer("{\"id\":\"op-1\",\"status\":\"Failed\",\"error\":{\"code\":"
	           "\"EmailDroppedAllRecipientsSuppressed\",\"message\":\"Message dropped because "
	           "all recipients were suppressed\",\"target\":null,\"details\":[],"
	           "\"additionalInfo\":[]}}"),
	    0);
	expect_answer("op-1", "Failed", "EmailDroppedAllRecipientsSuppressed",
	              "Message dropped because all recipients were suppressed", "");
	/* escapes are decoded */
	assert_int_equal(
	    answer("{\"id\":\"\\u0061b\",\"status\":\"Fail\\u0065d\",\"error\":{"
	           "\"code\":\"E\\/1\",\"message\":\"caf\\u00e9 \\\"x\\\" \\ud83d\\ude00\"}}"),
	    0);
	expect_answer("ab", "Failed", "E/1", "caf\xc3\xa9 \"x\" \xf0\x9f\x98\x80", "");
}

static void test_answer_error_response(void **state)
{
	(void)state;
	/* "Send", "Responses"; https://github.com/Azure/azure-sdk-for-java/issues/39910 */
	assert_int_equal(answer("{\"error\":{\"code\":\"BadRequest\",\"message\":\"Request body "
	                        "validation error. See property 'senderAddress'\",\"target\":null,"
	                        "\"details\":null,\"innererror\":null}}"),
	                 0);
	expect_answer("", "", "BadRequest",
	              "Request body validation error. See property 'senderAddress'", "");
	/* target set */
	assert_int_equal(answer("{\"error\":{\"code\":\"BadRequest\",\"message\":\"Invalid\","
	                        "\"target\":\"senderAddress\"}}"),
	                 0);
	expect_answer("", "", "BadRequest", "Invalid", "senderAddress");
	/* unknown members everywhere, nested details and innererror before the members we read:
	 * their code/message/target must not be taken */
	assert_int_equal(
	    answer("{\"x\":[1,{\"error\":{\"code\":\"No\"}}],\"error\":{\"details\":[{\"code\":"
	           "\"Inner\",\"message\":\"inner\",\"target\":\"t1\",\"details\":[{\"code\":"
	           "\"Deeper\",\"details\":[[],[{}]]}]}],\"innererror\":{\"code\":\"Innermost\","
	           "\"innererror\":{\"code\":\"X\"}},\"additionalInfo\":[{\"type\":\"t\",\"info\":"
	           "{\"code\":\"Y\"}}],\"code\":\"DomainNotLinked\",\"message\":\"The specified "
	           "sender domain has not been linked.\",\"target\":\"senderAddress\",\"more\":"
	           "{\"a\":[true,false,null,1.5e3]}},\"id\":\"z\",\"status\":null}"),
	    0);
	expect_answer("z", "", "DomainNotLinked",
	              "The specified sender domain has not been linked.", "senderAddress");
	/* nulls and wrong types are "absent" */
	assert_int_equal(answer("{\"id\":null,\"status\":5,\"error\":{\"code\":null,\"message\":"
	                        "[\"m\"],\"target\":{}}}"),
	                 0);
	expect_answer("", "", "", "", "");
	assert_int_equal(answer("{\"error\":\"BadRequest\"}"), 0);
	expect_answer("", "", "", "", "");
	/* JSON that is not an object: nothing to read, not an error */
	assert_int_equal(answer("[\"error\"]"), 0);
	expect_answer("", "", "", "", "");
	assert_int_equal(answer("\"Running\""), 0);
	expect_answer("", "", "", "", "");
	/* the first of duplicate members wins */
	assert_int_equal(answer("{\"id\":\"first\",\"id\":\"second\"}"), 0);
	expect_answer("first", "", "", "", "");
}

static void test_answer_empty_and_bad(void **state)
{
	(void)state;
	assert_int_equal(answer(""), 0);
	expect_answer("", "", "", "", "");
	assert_int_equal(answer(" \r\n\t \r\n"), 0);
	expect_answer("", "", "", "", "");
	static const char *const bad[] = {
	    "<html><body>502 Bad Gateway</body></html>",
	    "Service Unavailable",
	    "{\"id\":\"abc\",\"status\":\"Runn",
	    "{\"error\":{\"code\":\"BadRequest\",\"message\":\"x\"}",
	    "{\"id\":\"a\"} trailing",
	    "{\"id\":\"a\",}",
	    "{'id':'a'}",
	    "{\"id\":\"\xff\"}",
	    "{\"id\":\"a\nb\"}",
	};
	for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
		int r = answer(bad[i]);
		if (r != -ERR_JSON_SYNTAX)
			fail_msg("acs_answer_parse(%s) = %d, want %d", bad[i], r, -ERR_JSON_SYNTAX);
		expect_answer("", "", "", "", "");
	}
	/* NUL inside the body */
	assert_int_equal(answer_n("{\"id\":\"a\0b\"}", 12), -ERR_JSON_SYNTAX);
}

static void test_answer_too_many_tokens(void **state)
{
	(void)state;
	static char body[16384];
	struct buf b;
	/* details of 3 tokens each: 80 fit in ACS_RESP_TOKENS, 100 do not */
	for (int n = 80; n <= 100; n += 20) {
		buf_init(&b, body, sizeof body);
		buf_puts(&b, "{\"error\":{\"code\":\"BadRequest\",\"message\":\"m\",\"details\":[");
		for (int i = 0; i < n; i++)
			buf_puts(&b, i ? ",{\"code\":\"d\"}" : "{\"code\":\"d\"}");
		buf_puts(&b, "]}}");
		assert_int_equal(buf_finish(&b), 0);
		int r = answer_n(body, b.len);
		if (n == 80) {
			assert_int_equal(r, 0);
			expect_answer("", "", "BadRequest", "m", "");
		} else {
			assert_int_equal(r, -ERR_JSON_TOO_COMPLEX);
			expect_answer("", "", "", "", "");
		}
	}
	/* nesting deeper than JSON_MAX_DEPTH */
	buf_init(&b, body, sizeof body);
	for (int i = 0; i <= JSON_MAX_DEPTH; i++)
		buf_puts(&b, "{\"a\":");
	buf_puts(&b, "1");
	for (int i = 0; i <= JSON_MAX_DEPTH; i++)
		buf_putc(&b, '}');
	assert_int_equal(answer_n(body, b.len), -ERR_JSON_TOO_COMPLEX);
	/* few tokens given by the caller */
	const char *s = "{\"id\":\"a\",\"status\":\"Running\"}";
	memset(&ans, 0, sizeof ans);
	assert_int_equal(acs_answer_parse(s, strlen(s), atok, 4, &ans), -ERR_JSON_TOO_COMPLEX);
	assert_int_equal(acs_answer_parse(s, strlen(s), atok, 5, &ans), 0);
	assert_string_equal(ans.status, "Running");
}

/* Control characters in strings become spaces (decoded escapes and raw DEL alike). */
static void test_answer_controls(void **state)
{
	(void)state;
	assert_int_equal(
	    answer("{\"id\":\"i\\td\",\"status\":\"Run\\nning\",\"error\":{\"code\":"
	           "\"Bad\\r\\nCode\",\"message\":\"a\\u0001b\\nc\\td\\re\\u001ff\\u007fg"
	           "\x7fh\\bi\\fj\",\"target\":\"t\\u0000\"}}"),
	    0);
	assert_string_equal(ans.id, "i d");
	assert_string_equal(ans.status, "Run ning");
	assert_string_equal(ans.code, "Bad  Code");
	assert_string_equal(ans.message, "a b c d e f g h i j");
	/* \u0000 is refused by the decoder: the target is dropped, the rest stays */
	assert_string_equal(ans.target, "");
}

/* C1 controls (U+0080..U+009F: NEL is a line break) and U+2028/U+2029 are control or line
 * characters too (notify.c's has_control treats them so): the message must stay one line. */
static void test_answer_unicode_line_breaks(void **state)
{
	(void)state;
	assert_int_equal(answer("{\"error\":{\"code\":\"C\",\"message\":\"a\\u0085b\\u2028c"
	                        "\\u2029d\xc2\x9f"
	                        "e\"}}"),
	                 0);
	if (strstr(ans.message, "\xc2\x85") || strstr(ans.message, "\xe2\x80\xa8") ||
	    strstr(ans.message, "\xe2\x80\xa9") || strstr(ans.message, "\xc2\x9f"))
		fail_msg("message keeps a C1 control or U+2028/U+2029: \"%s\"", ans.message);
}

/* Long strings: cut to the field (ACS_MESSAGE_MAX - 1 bytes for the message), never inside a
 * UTF-8 sequence. ASCII first. */
static void test_answer_long_ascii(void **state)
{
	(void)state;
	static char body[8192], m[2048];
	for (size_t len = ACS_MESSAGE_MAX - 2; len <= 2000; len = len < 170 ? len + 1 : len * 2) {
		fill(m, 'x', len);
		snprintf(body, sizeof body,
		         "{\"id\":\"%s\",\"error\":{\"code\":\"%s\",\"message\":\"%s\"}}", m, m, m);
		assert_int_equal(answer(body), 0);
		size_t want = len < ACS_MESSAGE_MAX - 1 ? len : ACS_MESSAGE_MAX - 1;
		assert_int_equal(strlen(ans.message), want);
		assert_memory_equal(ans.message, m, want);
		assert_int_equal(strlen(ans.id), len < ACS_ID_MAX - 1 ? len : ACS_ID_MAX - 1);
		assert_int_equal(strlen(ans.code),
		                 len < TRANSPORT_CODE_MAX - 1 ? len : TRANSPORT_CODE_MAX - 1);
	}
}

/* Non-ASCII and escaped long messages: the decoder works on the first 2 * ACS_MESSAGE_MAX raw
 * bytes, and a cut there inside a UTF-8 sequence or an escape must still give the message: its
 * first ACS_MESSAGE_MAX - 4 .. - 1 bytes, cut between characters. */
static void test_answer_long_utf8(void **state)
{
	(void)state;
	static char body[4096], raw[2048], dec[2048];
	struct {
		const char *label, *raw_unit, *dec_unit;
		const char *lead;
		int count;
	} cases[] = {
	    {"a + 200 raw e-acute", "\xc3\xa9", "\xc3\xa9", "a", 200},
	    {"160 raw CJK", "\xe6\x97\xa5", "\xe6\x97\xa5", "", 160},
	    {"a + 100 raw emoji", "\xf0\x9f\x98\x80", "\xf0\x9f\x98\x80", "a", 100},
	    {"100 escaped e-acute", "\\u00e9", "\xc3\xa9", "", 100},
	    {"a + 200 escaped quotes", "\\\"", "\"", "a", 200},
	    {"60 escaped surrogate pairs", "\\ud83d\\ude00", "\xf0\x9f\x98\x80", "", 60},
	    {"300 x a + escaped newline", "a\\n", "a ", "", 300},
	};
	int failures = 0;
	for (size_t c = 0; c < sizeof cases / sizeof *cases; c++) {
		strcpy(raw, cases[c].lead);
		strcpy(dec, cases[c].lead);
		for (int i = 0; i < cases[c].count; i++) {
			strcat(raw, cases[c].raw_unit);
			strcat(dec, cases[c].dec_unit);
		}
		snprintf(body, sizeof body,
		         "{\"error\":{\"code\":\"BadRequest\",\"message\":\"%s\"}}", raw);
		assert_int_equal(answer(body), 0); /* also: valid UTF-8, one line */
		size_t n = strlen(ans.message);
		if (n < ACS_MESSAGE_MAX - 4 || memcmp(ans.message, dec, n) != 0) {
			print_error("%s: message kept %zu bytes: \"%s\"\n", cases[c].label, n,
			            ans.message);
			failures++;
		}
	}
	if (failures)
		fail_msg("%d long messages lost (see above)", failures);
}

/* ---- acs_token_parse ----------------------------------------------------------------------- */

static char tokbuf[ACS_TOKEN_MAX + 1];
static int64_t tok_exp;

static long token_n(const char *s, size_t n, int64_t now)
{
	memset(tokbuf, 0x5a, sizeof tokbuf);
	tok_exp = -12345;
	return acs_token_parse(s, n, atok, ACS_RESP_TOKENS, now, tokbuf, sizeof tokbuf, &tok_exp);
}

static long token(const char *s, int64_t now)
{
	return token_n(s, strlen(s), now);
}

#define JWT "eyJ0eXAiOiJKV1QiLCJhbGciOiJSUzI1NiJ9.eyJhdWQiOiJodHRwczovL2NvbW11bmljYXRpb24ifQ.c2ln-_"

static void expect_token(long r, const char *want, int64_t exp)
{
	if (r < 0)
		fail_msg("acs_token_parse = %ld", r);
	assert_int_equal(r, strlen(want));
	assert_string_equal(tokbuf, want);
	assert_int_equal(tok_exp, exp);
}

static void test_token_good(void **state)
{
	(void)state;
	const int64_t now = 1700000000;
	/* overview-managed-identity, "REST endpoint reference": expires_on as a string */
	expect_token(token("{\"access_token\":\"" JWT "\",\"expires_on\":\"1586984735\","
	                   "\"resource\":\"https://communication.azure.com/\",\"token_type\":"
	                   "\"Bearer\",\"client_id\":\"" GUID "\"}",
	                   now),
	             JWT, 1586984735);
	/* as a number, and with a fraction */
	expect_token(token("{\"expires_on\":1586984735,\"access_token\":\"" JWT "\"}", now), JWT,
	             1586984735);
	expect_token(token("{\"access_token\":\"" JWT "\",\"expires_on\":1586984735.75}", now), JWT,
	             1586984735);
	/* expires_in (seconds from now), as a number or a string */
	expect_token(token("{\"access_token\":\"" JWT "\",\"expires_in\":3599}", now), JWT,
	             now + 3599);
	expect_token(token("{\"access_token\":\"" JWT "\",\"expires_in\":\"86399\"}", now), JWT,
	             now + 86399);
	/* expires_on wins over expires_in; a legacy date string falls back to expires_in */
	expect_token(
	    token("{\"access_token\":\"a\",\"expires_in\":10,\"expires_on\":\"1800000000\"}", now),
	    "a", 1800000000);
	expect_token(token("{\"access_token\":\"a\",\"expires_on\":\"06/20/2019 02:57:58 +00:00\","
	                   "\"expires_in\":\"60\"}",
	                   now),
	             "a", now + 60);
	/* escapes in the token are decoded (\/ is legal JSON for '/') */
	expect_token(token("{\"access_token\":\"ab\\/c\\u0064\",\"expires_in\":1}", now), "ab/cd",
	             now + 1);
	/* whitespace around */
	expect_token(token("\r\n { \"access_token\" : \"t\" , \"expires_in\" : 5 } \n", now), "t",
	             now + 5);
}

static void test_token_bad(void **state)
{
	(void)state;
	const int64_t now = 1700000000;
	static const struct {
		const char *body;
		long want;
	} rows[] = {
	    {"{\"expires_on\":\"1586984735\"}", -ERR_FIELD_MISSING},
	    {"{\"Access_Token\":\"a\",\"expires_on\":\"1\"}", -ERR_FIELD_MISSING},
	    {"{\"access_token\":\"a\"}", -ERR_FIELD_MISSING},
	    {"{\"access_token\":\"a\",\"expires_on\":\"06/20/2019 02:57:58 +00:00\"}",
	     -ERR_FIELD_MISSING},
	    {"{\"access_token\":\"a\",\"expires_on\":\"\"}", -ERR_FIELD_MISSING},
	    {"{\"access_token\":\"a\",\"expires_on\":-5}", -ERR_FIELD_MISSING},
	    {"{\"access_token\":\"a\",\"expires_in\":\"-5\"}", -ERR_FIELD_MISSING},
	    {"{\"access_token\":\"a\",\"expires_on\":1e9}", -ERR_FIELD_MISSING},
	    {"{\"access_token\":\"a\",\"expires_on\":true}", -ERR_FIELD_MISSING},
	    {"{\"access_token\":\"a\",\"expires_on\":\"9999999999999\"}", -ERR_FIELD_MISSING},
	    {"[{\"access_token\":\"a\",\"expires_on\":\"1\"}]", -ERR_FIELD_MISSING},
	    {"{\"access_token\":\"\",\"expires_on\":\"1586984735\"}", -ERR_FIELD_INVALID},
	    {"{\"access_token\":null,\"expires_on\":\"1586984735\"}", -ERR_FIELD_INVALID},
	    {"{\"access_token\":12345,\"expires_on\":\"1586984735\"}", -ERR_FIELD_INVALID},
	    {"{\"access_token\":[\"a\"],\"expires_on\":\"1586984735\"}", -ERR_FIELD_INVALID},
	    {"{\"access_token\":\"ab cd\",\"expires_on\":\"1586984735\"}", -ERR_FIELD_INVALID},
	    {"{\"access_token\":\"ab\\tcd\",\"expires_on\":\"1586984735\"}", -ERR_FIELD_INVALID},
	    {"{\"access_token\":\"ab\\r\\nX-Injected: 1\",\"expires_on\":\"1586984735\"}",
	     -ERR_FIELD_INVALID},
	    {"{\"access_token\":\"caf\xc3\xa9\",\"expires_on\":\"1586984735\"}",
	     -ERR_FIELD_INVALID},
	    {"{\"access_token\":\"caf\\u00e9\",\"expires_on\":\"1586984735\"}", -ERR_FIELD_INVALID},
	    {"{\"access_token\":\"a\\u007f\",\"expires_on\":\"1586984735\"}", -ERR_FIELD_INVALID},
	    {"", -ERR_JSON_SYNTAX},
	    {"   ", -ERR_JSON_SYNTAX},
	    {"<html>Bad Request</html>", -ERR_JSON_SYNTAX},
	    {"{\"access_token\":\"a\",\"expires_on\":\"1586", -ERR_JSON_SYNTAX},
	    {"{\"access_token\":\"a\",}", -ERR_JSON_SYNTAX},
	};
	for (size_t i = 0; i < sizeof rows / sizeof *rows; i++) {
		long r = token(rows[i].body, now);
		if (r != rows[i].want)
			fail_msg("acs_token_parse(%s) = %ld, want %ld", rows[i].body, r,
			         rows[i].want);
	}
}

/* \u0000 and lone surrogates are not a token: -ERR_FIELD_INVALID as for other bad bytes (the
 * decoder's -ERR_BAD_UTF8 must not be reported as -ERR_OVERFLOW, "token too long"). */
static void test_token_bad_escapes(void **state)
{
	(void)state;
	static const char *const bodies[] = {
	    "{\"access_token\":\"ab\\u0000cd\",\"expires_on\":\"1586984735\"}",
	    "{\"access_token\":\"ab\\ud800cd\",\"expires_on\":\"1586984735\"}",
	    "{\"access_token\":\"ab\\ude00\\ud83dcd\",\"expires_on\":\"1586984735\"}",
	};
	int failures = 0;
	for (size_t i = 0; i < sizeof bodies / sizeof *bodies; i++) {
		long r = token(bodies[i], 0);
		if (r != -ERR_FIELD_INVALID) {
			print_error("acs_token_parse(%s) = %ld, want %d\n", bodies[i], r,
			            -ERR_FIELD_INVALID);
			failures++;
		}
	}
	if (failures)
		fail_msg("%d bad tokens misclassified", failures);
}

static void test_token_length(void **state)
{
	(void)state;
	static char body[ACS_TOKEN_MAX + 128], t[ACS_TOKEN_MAX + 2];
	/* the longest token that fits, and one byte more */
	for (size_t len = ACS_TOKEN_MAX - 1; len <= ACS_TOKEN_MAX + 1; len++) {
		fill(t, 'A', len);
		int n =
		    snprintf(body, sizeof body, "{\"access_token\":\"%s\",\"expires_on\":1}", t);
		long r = token_n(body, (size_t)n, 0);
		if (len <= ACS_TOKEN_MAX) {
			assert_int_equal(r, len);
			assert_int_equal(strlen(tokbuf), len);
			assert_int_equal(tok_exp, 1);
		} else {
			assert_int_equal(r, -ERR_OVERFLOW);
		}
	}
	/* a small cap: cap - 1 characters fit */
	const char *s4 = "{\"access_token\":\"abcd\",\"expires_on\":1}";
	const char *s5 = "{\"access_token\":\"abcde\",\"expires_on\":1}";
	char small[6];
	int64_t e = 0;
	memset(small, 'z', sizeof small);
	assert_int_equal(acs_token_parse(s4, strlen(s4), atok, ACS_RESP_TOKENS, 0, small, 5, &e),
	                 4);
	assert_string_equal(small, "abcd");
	assert_int_equal(small[5], 'z');
	assert_int_equal(acs_token_parse(s5, strlen(s5), atok, ACS_RESP_TOKENS, 0, small, 5, &e),
	                 -ERR_OVERFLOW);
	assert_int_equal(small[5], 'z');
	/* escapes count decoded: 4 characters written as 8 bytes of escapes fit in cap 5 */
	const char *s4e = "{\"access_token\":\"a\\/b\\/\",\"expires_on\":1}";
	assert_int_equal(acs_token_parse(s4e, strlen(s4e), atok, ACS_RESP_TOKENS, 0, small, 5, &e),
	                 4);
	assert_string_equal(small, "a/b/");
}

/* ---- acs_classify -------------------------------------------------------------------------- */

struct crow {
	int status;
	const char *code, *message, *target;
	int bearer, retry_after;
	int err, http, retryable, ra;
	const char *hints[4]; /* words the detail must contain */
};

static const char m_sender[] = "Request body validation error. See property 'senderAddress'";

/* One row: status, error.code, error.message, error.target, bearer, Retry-After seconds; then
 * the return, http_status, retryable, retry_after_s, and the hint words of the detail. */
#define CROW(st, code, msg, tgt, bearer, ra, err, http, retry, ra_want, ...)                       \
	{                                                                                          \
		st, code, msg, tgt, bearer, ra, err, http, retry, ra_want,                         \
		{                                                                                  \
			__VA_ARGS__                                                                \
		}                                                                                  \
	}

static const struct crow crows[] = {
    /* 400: the message itself refused: 422, ACS's words */
    CROW(400, "BadRequest", "Invalid email address format", "recipients.to[0].address", 0, 0,
         -ERR_ACS_REJECTED, 422, 0, 0, "rejected", "Invalid email address format"),
    CROW(400, "InvalidEmailAddress", "", "", 1, 0, -ERR_ACS_REJECTED, 422, 0, 0, "Bad Request"),
    CROW(409, "Conflict", "Operation-Id reused", "", 0, 0, -ERR_ACS_REJECTED, 422, 0, 0,
         "Operation-Id reused"),
    /* 400 naming senderAddress: our configuration, not the message */
    CROW(400, "BadRequest", m_sender, "", 0, 0, -ERR_ACS_CONFIG, 502, 0, 0, "senderAddress",
         "EMAIL_SENDER", "MailFrom", "bare"),
    CROW(400, "BadRequest", "Invalid value", "senderAddress", 1, 0, -ERR_ACS_CONFIG, 502, 0, 0,
         "Invalid value", "EMAIL_SENDER", "MailFrom"),
    CROW(400, "InvalidSenderUserName", "Invalid email sender username", "", 0, 0, -ERR_ACS_CONFIG,
         502, 0, 0, "Invalid email sender username", "EMAIL_SENDER", "MailFrom"),
    CROW(403, "InvalidSenderUserName", "Invalid email sender username", "", 1, 0, -ERR_ACS_CONFIG,
         502, 0, 0, "MailFrom"),
    /* DomainNotLinked, as 404 and as 403, key or token: the linking hint */
    CROW(404, "DomainNotLinked", "The specified sender domain has not been linked.", "", 0, 0,
         -ERR_ACS_CONFIG, 502, 0, 0, "DomainNotLinked", "not linked", "Domains", "Connect"),
    CROW(403, "DomainNotLinked", "The specified sender domain has not been linked.", "", 1, 0,
         -ERR_ACS_CONFIG, 502, 0, 0, "DomainNotLinked", "not linked", "Connect"),
    CROW(400, "DomainNotLinked", "", "", 0, 0, -ERR_ACS_CONFIG, 502, 0, 0, "Connect"),
    /* an api-version ACS does not serve (by code, or a 400/404 naming it) */
    CROW(400, "UnsupportedApiVersion",
         "The HTTP resource that matches the request URI does not support the API version "
         "'2099-01-01'.",
         "", 0, 0, -ERR_ACS_CONFIG, 502, 0, 0, "api-version", "ACS_API_VERSION"),
    CROW(404, "", "The api-version '2099-01-01' is invalid.", "", 1, 0, -ERR_ACS_CONFIG, 502, 0, 0,
         "ACS_API_VERSION", "is invalid"),
    /* 401 and 403: fixable by the operator (a key, a role that takes hours to apply), so a queue
     * keeps the message (retryable); 401: key and clock for HMAC, the token for managed identity */
    CROW(401, "Denied", "Denied by the resource provider.", "", 0, 0, -ERR_ACS_CONFIG, 502, 1, 0,
         "Denied by the resource provider.", "connection string", "access key", "clock"),
    CROW(401, "", "", "", 0, 0, -ERR_ACS_CONFIG, 502, 1, 0, "signature", "Unauthorized",
         "access key", "clock"),
    CROW(401, "InvalidAuthenticationToken", "Token expired", "", 1, 0, -ERR_ACS_CONFIG, 502, 1, 0,
         "managed-identity token", "Token expired", "ACS_ENDPOINT"),
    /* 403: with a token, the identity lacks a role */
    CROW(403, "", "", "", 1, 0, -ERR_ACS_CONFIG, 502, 1, 0, "managed identity", "role",
         "Communication and Email Service Owner"),
    CROW(403, "Forbidden", "Forbidden", "", 0, 0, -ERR_ACS_CONFIG, 502, 1, 0, "denied"),
    /* 404 otherwise: endpoint or api-version */
    CROW(404, "", "", "", 0, 0, -ERR_ACS_CONFIG, 502, 0, 0, "404", "Not Found", "api-version"),
    CROW(404, "NotFound", "Resource not found", "", 1, 0, -ERR_ACS_CONFIG, 502, 0, 0,
         "Resource not found", "ACS_ENDPOINT", "api-version"),
    /* transient: 408 and 5xx */
    CROW(408, "", "", "", 0, 0, -ERR_UPSTREAM_TIMEOUT, 504, 1, 0, "Request Timeout"),
    CROW(500, "InternalServerError", "An internal error occurred.", "", 0, 0, -ERR_UPSTREAM, 502, 1,
         0, "An internal error occurred."),
    CROW(502, "", "", "", 0, 0, -ERR_UPSTREAM, 502, 1, 0, "Bad Gateway"),
    CROW(504, "", "", "", 1, 0, -ERR_UPSTREAM_TIMEOUT, 504, 1, 0, "Gateway Timeout"),
    /* 413 */
    CROW(413, "RequestEntityTooLarge", "", "", 0, 0, -ERR_BODY_TOO_LARGE, 413, 0, 0, "too large",
         "10 MB"),
    /* 429: Retry-After, or 60 s */
    CROW(429, "TooManyRequests", "", "", 0, 37, -ERR_ACS_THROTTLED, 429, 1, 37, "throttled",
         "Azure-managed", "custom domain"),
    CROW(429, "TooManyRequests", "", "", 0, 0, -ERR_ACS_THROTTLED, 429, 1, 60, "throttled"),
    CROW(429, "", "", "", 1, -1, -ERR_ACS_THROTTLED, 429, 1, 60, "throttled"),
    /* 503: Retry-After, or 30 s */
    CROW(503, "", "", "", 0, 0, -ERR_UPSTREAM_UNAVAILABLE, 503, 1, 30, "unavailable",
         "Service Unavailable"),
    CROW(503, "ServiceUnavailable", "Try later", "", 0, 12, -ERR_UPSTREAM_UNAVAILABLE, 503, 1, 12,
         "Try later"),
};

static void check_crow(size_t i, const struct crow *c)
{
	struct acs_answer a;
	struct transport_result r;
	memset(&a, 0, sizeof a);
	snprintf(a.code, sizeof a.code, "%s", c->code);
	snprintf(a.message, sizeof a.message, "%s", c->message);
	snprintf(a.target, sizeof a.target, "%s", c->target);
	memset(&r, 0x5a, sizeof r);
	int rc = acs_classify(c->status, &a, c->bearer, c->retry_after, &r);
	assert_one_line("detail", r.detail, sizeof r.detail);
	assert_one_line("code", r.code, sizeof r.code);
	if (rc != c->err || r.http_status != c->http || r.retryable != c->retryable ||
	    r.retry_after_s != c->ra)
		fail_msg(
		    "row %zu (%d %s): rc %d http %d retryable %d retry_after %d; want %d %d %d "
		    "%d; detail \"%s\"",
		    i, c->status, c->code, rc, r.http_status, r.retryable, r.retry_after_s, c->err,
		    c->http, c->retryable, c->ra, r.detail);
	assert_int_equal(err_http_status(rc), r.http_status); /* the problem slug agrees */
	assert_string_equal(r.code, c->code);
	for (int k = 0; k < 4 && c->hints[k]; k++)
		if (!strstr(r.detail, c->hints[k]))
			fail_msg("row %zu (%d %s): \"%s\" not in detail \"%s\"", i, c->status,
			         c->code, c->hints[k], r.detail);
}

static void test_classify(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof crows / sizeof *crows; i++)
		check_crow(i, &crows[i]);
	/* every other 4xx and 5xx keeps the shape */
	for (int st = 400; st <= 599; st++) {
		struct acs_answer a;
		struct transport_result r;
		memset(&a, 0, sizeof a);
		memset(&r, 0x5a, sizeof r);
		int rc = acs_classify(st, &a, st & 1, 0, &r);
		assert_one_line("detail", r.detail, sizeof r.detail);
		assert_true(r.detail[0] != 0);
		assert_int_equal(err_http_status(rc), r.http_status);
		assert_true(r.retryable == 0 || r.retryable == 1);
		assert_true(r.retry_after_s >= 0);
		assert_true(r.retry_after_s == 0 || st == 429 || st == 503);
		assert_string_equal(r.code, "");
		if (st >= 500)
			assert_int_equal(r.retryable, 1);
	}
	/* the longest code fits whole */
	struct acs_answer a;
	struct transport_result r;
	memset(&a, 0, sizeof a);
	fill(a.code, 'C', sizeof a.code - 1);
	acs_classify(400, &a, 0, 0, &r);
	assert_string_equal(r.code, a.code);
}

/* A transient answer (429, 503, 5xx, 408) whose message merely mentions "api-version" stays
 * transient: throttling keeps its Retry-After and the queue retries. Only a code naming the
 * api-version (or a 400/404 saying so) is a configuration fault. */
static void test_classify_transient_mentions_api_version(void **state)
{
	(void)state;
	static const struct crow rows[] = {
	    CROW(429, "TooManyRequests", "Rate limit exceeded for api-version 2023-03-31.", "", 0,
	         20, -ERR_ACS_THROTTLED, 429, 1, 20, "throttled"),
	    CROW(503, "ServiceUnavailable", "Unavailable for api-version 2023-03-31.", "", 0, 10,
	         -ERR_UPSTREAM_UNAVAILABLE, 503, 1, 10, "unavailable"),
	    CROW(500, "InternalServerError", "Handler for api-version 2023-03-31 failed.", "", 1, 0,
	         -ERR_UPSTREAM, 502, 1, 0, "failing"),
	    CROW(504, "", "Upstream timeout (api-version 2023-03-31).", "", 0, 0,
	         -ERR_UPSTREAM_TIMEOUT, 504, 1, 0, "failing"),
	};
	for (size_t i = 0; i < sizeof rows / sizeof *rows; i++)
		check_crow(i, &rows[i]);
}

/* With the longest message ACS can hand us, the hint that tells the operator what to fix must
 * still be in the detail, and a cut must not split a UTF-8 sequence (the detail goes into a
 * problem+json answer through json_put_str, which trusts its input to be UTF-8). */
static void test_classify_long_message(void **state)
{
	(void)state;
	static const struct {
		int status, bearer;
		const char *code, *target, *hint;
	} rows[] = {
	    {400, 0, "BadRequest", "senderAddress", "EMAIL_SENDER"},
	    {400, 0, "UnsupportedApiVersion", "", "ACS_API_VERSION"},
	    {401, 0, "Denied", "", "access key"},
	    {401, 1, "", "", "ACS_ENDPOINT"},
	    {403, 1, "", "", "role"},
	    {404, 0, "", "", "api-version"},
	    {413, 0, "", "", "10 MB"},
	};
	int failures = 0;
	for (int utf8 = 0; utf8 <= 1; utf8++) {
		for (size_t i = 0; i < sizeof rows / sizeof *rows; i++) {
			struct acs_answer a;
			struct transport_result r;
			memset(&a, 0, sizeof a);
			snprintf(a.code, sizeof a.code, "%s", rows[i].code);
			snprintf(a.target, sizeof a.target, "%s", rows[i].target);
			/* ACS_MESSAGE_MAX - 1 bytes: ASCII, or 'e-acute' x 79 after one 'x' */
			if (utf8) {
				a.message[0] = 'x';
				for (int k = 0; k < (ACS_MESSAGE_MAX - 2) / 2; k++)
					memcpy(a.message + 1 + 2 * k, "\xc3\xa9", 2);
				a.message[ACS_MESSAGE_MAX - 1] = 0;
			} else {
				fill(a.message, 'm', ACS_MESSAGE_MAX - 1);
			}
			acs_classify(rows[i].status, &a, rows[i].bearer, 0, &r);
			const char *nul = memchr(r.detail, 0, sizeof r.detail);
			assert_non_null(nul);
			if (!utf8_valid(r.detail, (size_t)(nul - r.detail))) {
				print_error("%d %s: detail is not valid UTF-8 (cut inside a "
				            "character): \"%s\"\n",
				            rows[i].status, rows[i].code, r.detail);
				failures++;
			}
			if (!strstr(r.detail, rows[i].hint)) {
				print_error("%d %s (%s message): hint \"%s\" cut off: \"%s\"\n",
				            rows[i].status, rows[i].code, utf8 ? "UTF-8" : "ASCII",
				            rows[i].hint, r.detail);
				failures++;
			}
		}
	}
	if (failures)
		fail_msg("%d long-message details lost their hint or their UTF-8 (see above)",
		         failures);
}

/* ---- acs_init ------------------------------------------------------------------------------ */

static char ierr[ERR_CAP];

static int init(const struct acs_settings *s)
{
	memset(ierr, 0x5a, sizeof ierr);
	int r = acs_init(&A, s, &anchors, ierr, sizeof ierr);
	if (r < 0) { /* err is written on failure only */
		assert_int_equal(r, -ERR_FIELD_INVALID);
		assert_one_line("acs_init error", ierr, sizeof ierr);
		assert_true(ierr[0] != 0);
	}
	return r;
}

static struct acs_settings mi(const char *identity_endpoint, const char *client_id)
{
	return (struct acs_settings){.endpoint = "https://" EP_HOST,
	                             .sender = SENDER,
	                             .identity_endpoint = identity_endpoint,
	                             .identity_header = ID_HDR,
	                             .client_id = client_id,
	                             .timeout_ms = 30000,
	                             .attempt_timeout_ms = 10000,
	                             .attempts = 3,
	                             .backoff_ms = 800};
}

static void expect_init_error(const struct acs_settings *s, const char *prefix, const char *secret)
{
	int r = init(s);
	if (r == 0)
		fail_msg("accepted; want an error starting \"%s\"", prefix);
	if (strncmp(ierr, prefix, strlen(prefix)) != 0)
		fail_msg("error \"%s\" does not start with \"%s\"", ierr, prefix);
	if (secret && strstr(ierr, secret))
		fail_msg("error \"%s\" echoes secret text \"%s\"", ierr, secret);
}

static void test_init_connection_string(void **state)
{
	(void)state;
	struct acs_settings s = {.connection_string = CONN,
	                         .sender = SENDER,
	                         .timeout_ms = 30000,
	                         .attempt_timeout_ms = 10000,
	                         .attempts = 3,
	                         .backoff_ms = 800};
	assert_int_equal(init(&s), 0);
	assert_string_equal(A.conn.endpoint_host, EP_HOST);
	assert_string_equal(A.conn.host, EP_HOST);
	assert_int_equal(A.conn.port, 443);
	assert_int_equal(A.conn.key_len, 64);
	assert_int_equal(A.bearer, 0);
	assert_string_equal(A.api_version, ACS_API_VERSION_DEFAULT);
	assert_string_equal(A.sender, SENDER);
	assert_ptr_equal(A.anchors, &anchors);
	assert_int_equal(A.timeout_ms, 30000);
	assert_int_equal(A.attempt_timeout_ms, 10000);
	assert_int_equal(A.attempts, 3);
	assert_int_equal(A.backoff_ms, 800);
	assert_int_equal(A.token_len, 0);
	/* a port, reversed parts; attempts below 1 mean 1 */
	s.connection_string = "AccessKey=" KEY64 "; Endpoint=https://Contoso.Example.com:8443/";
	s.attempts = 0;
	assert_int_equal(init(&s), 0);
	assert_string_equal(A.conn.endpoint_host, "contoso.example.com:8443");
	assert_string_equal(A.conn.host, "contoso.example.com");
	assert_int_equal(A.conn.port, 8443);
	assert_int_equal(A.attempts, 1);
}

static void test_init_choice(void **state)
{
	(void)state;
	struct acs_settings s = mi("http://localhost:4141/MSI/token", "");
	s.connection_string = CONN;
	expect_init_error(&s, "set either COMMUNICATION_SERVICES_CONNECTION_STRING", KEY64);
	assert_non_null(strstr(ierr, "ACS_ENDPOINT"));
	/* neither (empty strings count as unset) */
	struct acs_settings none = {.sender = SENDER};
	assert_int_equal(init(&none), -ERR_FIELD_INVALID);
	none.connection_string = "";
	none.endpoint = "";
	assert_int_equal(init(&none), -ERR_FIELD_INVALID);
}

static void test_init_bad_connection_string(void **state)
{
	(void)state;
	/* "SECRETKEYMATERIAL" in base64 and in clear: never in the error */
	static const struct {
		const char *cs, *secret;
	} rows[] = {
	    {"endpoint=http://contoso.communication.azure.com;accesskey=U0VDUkVUS0VZTUFURVJJQUw=",
	     "U0VDUkVU"},
	    {"endpoint=https://contoso.communication.azure.com;accesskey=SECRETKEYMATERIAL!",
	     "SECRETKEY"},
	    {"endpoint=https://contoso.communication.azure.com/path;accesskey=U0VDUkVUS0VZ",
	     "U0VDUkVU"},
	    {"accesskey=U0VDUkVUS0VZTUFURVJJQUw=", "U0VDUkVU"},
	    {"endpoint=https://contoso.communication.azure.com", NULL},
	    {"endpoint=https://SECRETKEY@contoso.communication.azure.com;accesskey=" KEY64,
	     "SECRETKEY"},
	    {"U0VDUkVUS0VZTUFURVJJQUw=", "U0VDUkVU"},
	    {"endpoint=https://h.example.com:0;accesskey=" KEY64, KEY64},
	};
	for (size_t i = 0; i < sizeof rows / sizeof *rows; i++) {
		struct acs_settings s = {.connection_string = rows[i].cs, .sender = SENDER};
		expect_init_error(&s, "COMMUNICATION_SERVICES_CONNECTION_STRING: ", rows[i].secret);
		if (rows[i].secret)
			assert_null(strstr(ierr, "SECRET"));
	}
	struct acs_settings s = mi("http://localhost:4141/MSI/token", "");
	s.endpoint = "http://contoso.communication.azure.com";
	expect_init_error(&s, "ACS_ENDPOINT: ", NULL);
	s.endpoint = "https://contoso.communication.azure.com/path";
	expect_init_error(&s, "ACS_ENDPOINT: ", NULL);
}

static void test_init_managed_identity(void **state)
{
	(void)state;
	struct acs_settings s = mi("http://localhost:4141/MSI/token", "");
	assert_int_equal(init(&s), 0);
	assert_int_equal(A.bearer, 1);
	assert_int_equal(A.conn.key_len, 0);
	assert_string_equal(A.conn.endpoint_host, EP_HOST);
	assert_int_equal(A.conn.port, 443);
	assert_string_equal(A.id_host, "localhost");
	assert_string_equal(A.id_authority, "localhost:4141");
	assert_int_equal(A.id_port, 4141);
	assert_string_equal(A.id_target, "/MSI/token?" ID_Q);
	assert_string_equal(A.id_header, ID_HDR);

	/* a user-assigned identity */
	s = mi("http://localhost:4141/msi/token", GUID);
	assert_int_equal(init(&s), 0);
	assert_string_equal(A.id_target, "/msi/token?" ID_Q "&client_id=" GUID);
	/* NULL client id is "none" */
	s = mi("http://localhost:4141/msi/token", NULL);
	assert_int_equal(init(&s), 0);
	assert_string_equal(A.id_target, "/msi/token?" ID_Q);

	/* a query already there: '&' */
	s = mi("http://127.0.0.1:41741/MSI/token?x=1&y=%2F", GUID);
	assert_int_equal(init(&s), 0);
	assert_string_equal(A.id_host, "127.0.0.1");
	assert_string_equal(A.id_authority, "127.0.0.1:41741");
	assert_int_equal(A.id_port, 41741);
	assert_string_equal(A.id_target, "/MSI/token?x=1&y=%2F&" ID_Q "&client_id=" GUID);

	/* no port: 80, authority without port */
	s = mi("http://169.254.255.2/msi/token", "");
	assert_int_equal(init(&s), 0);
	assert_string_equal(A.id_host, "169.254.255.2");
	assert_string_equal(A.id_authority, "169.254.255.2");
	assert_int_equal(A.id_port, 80);
	assert_string_equal(A.id_target, "/msi/token?" ID_Q);
	/* no path: "/" */
	s = mi("http://localhost:8081", "");
	assert_int_equal(init(&s), 0);
	assert_int_equal(A.id_port, 8081);
	assert_string_equal(A.id_target, "/?" ID_Q);
	/* port limits */
	s = mi("http://h:1/t", "");
	assert_int_equal(init(&s), 0);
	assert_int_equal(A.id_port, 1);
	s = mi("http://h:65535/t", "");
	assert_int_equal(init(&s), 0);
	assert_int_equal(A.id_port, 65535);
	/* api version with managed identity */
	s = mi("http://h/t", "");
	s.api_version = "2025-09-01";
	assert_int_equal(init(&s), 0);
	assert_string_equal(A.api_version, "2025-09-01");
}

static void test_init_identity_errors(void **state)
{
	(void)state;
	/* ACS_ENDPOINT without the identity variables */
	struct acs_settings s = mi(NULL, "");
	expect_init_error(&s, "ACS_ENDPOINT needs a managed identity", NULL);
	assert_non_null(strstr(ierr, "IDENTITY_ENDPOINT"));
	assert_non_null(strstr(ierr, "IDENTITY_HEADER"));
	s = mi("", "");
	expect_init_error(&s, "ACS_ENDPOINT needs a managed identity", NULL);
	s = mi("http://localhost:4141/MSI/token", "");
	s.identity_header = NULL;
	expect_init_error(&s, "ACS_ENDPOINT needs a managed identity", NULL);
	s.identity_header = "";
	expect_init_error(&s, "ACS_ENDPOINT needs a managed identity", NULL);

	static const char *const bad_urls[] = {
	    "https://localhost:4141/MSI/token", /* not http:// */
	    "localhost:4141/MSI/token",
	    "ftp://localhost/x",
	    "http://",
	    "http:///x",
	    "http://:4141/x",
	    "http://h:0/x",
	    "http://h:65536/x",
	    "http://h:99999999999999999999/x",
	    "http://h:/x",
	    "http://h:80a/x",
	    "http://h:-1/x",
	    "http://user:pw@localhost:4141/x",
	    "http://[::1]:4141/x",
	    "http://localhost:4141#frag",
	    "http://localhost:4141/MSI token",
	    "http://localhost:4141/MSI\ttoken",
	    "http://localhost:4141/MSI/tok\xc3\xa9n",
	    "http://localhost:4141/MSI/\x7f",
	};
	for (size_t i = 0; i < sizeof bad_urls / sizeof *bad_urls; i++) {
		s = mi(bad_urls[i], "");
		if (init(&s) == 0)
			fail_msg("IDENTITY_ENDPOINT \"%s\" accepted", bad_urls[i]);
		if (strncmp(ierr, "IDENTITY_ENDPOINT: ", 19) != 0)
			fail_msg("\"%s\": error \"%s\"", bad_urls[i], ierr);
	}
	/* an authority longer than ACS_MAX_AUTHORITY, a target longer than its array */
	static char url[4096];
	snprintf(url, sizeof url, "http://%s/x", fill((char[300]){0}, 'h', 270));
	s = mi(url, "");
	expect_init_error(&s, "IDENTITY_ENDPOINT: ", NULL);
	char *p = url + snprintf(url, sizeof url, "http://h/");
	fill(p, 'p', ACS_IDENTITY_TARGET_MAX);
	s = mi(url, "");
	expect_init_error(&s, "IDENTITY_ENDPOINT: ", NULL);

	/* AZURE_CLIENT_ID */
	static const char *const bad_ids[] = {"abc def", "abc&x=1",     "abc;d", "a/b",
	                                      "a%20b",   "caf\xc3\xa9", "a\r\nb"};
	for (size_t i = 0; i < sizeof bad_ids / sizeof *bad_ids; i++) {
		s = mi("http://localhost:4141/MSI/token", bad_ids[i]);
		expect_init_error(&s, "AZURE_CLIENT_ID: ", NULL);
	}

	/* IDENTITY_HEADER: too long, not visible ASCII; the value never echoed */
	static char hdr[ACS_IDENTITY_SECRET_MAX + 2];
	s = mi("http://localhost:4141/MSI/token", "");
	s.identity_header = fill(hdr, 'S', ACS_IDENTITY_SECRET_MAX);
	assert_int_equal(init(&s), 0);
	assert_string_equal(A.id_header, hdr);
	s.identity_header = fill(hdr, 'S', ACS_IDENTITY_SECRET_MAX + 1);
	expect_init_error(&s, "IDENTITY_HEADER: ", "SSSS");
	s.identity_header = "SEKRIT value";
	expect_init_error(&s, "IDENTITY_HEADER: ", "SEKRIT");
	s.identity_header = "SEKRIT\r\nX: 1";
	expect_init_error(&s, "IDENTITY_HEADER: ", "SEKRIT");
}

/* IDENTITY_ENDPOINT "http://host:port?query" (no path): the request target must still be
 * origin-form, starting with '/'. */
static void test_init_identity_query_without_path(void **state)
{
	(void)state;
	struct acs_settings s = mi("http://localhost:4141?api=1", "");
	assert_int_equal(init(&s), 0);
	assert_string_equal(A.id_authority, "localhost:4141");
	assert_string_equal(A.id_target, "/?api=1&" ID_Q);
}

/* A fragment after the path ("#frag") is not part of a request target (RFC 9112 3.2): it must
 * be refused as it is right after the authority, not sent before the query we append. */
static void test_init_identity_fragment(void **state)
{
	(void)state;
	static const char *const urls[] = {"http://localhost:4141/MSI/token#frag",
	                                   "http://localhost:4141/MSI/token?a=1#frag"};
	int failures = 0;
	for (size_t i = 0; i < sizeof urls / sizeof *urls; i++) {
		struct acs_settings s = mi(urls[i], "");
		if (init(&s) == 0) {
			print_error("IDENTITY_ENDPOINT \"%s\" accepted: id_target \"%s\"\n",
			            urls[i], A.id_target);
			failures++;
		}
	}
	if (failures)
		fail_msg("%d IDENTITY_ENDPOINT values with a fragment accepted", failures);
}

/* A host with characters no host name has (the authority goes into the Host header and
 * getaddrinfo) is a start-up error, not a failure at the first token fetch. */
static void test_init_identity_bad_host(void **state)
{
	(void)state;
	static const char *const urls[] = {"http://local host:4141/x", "http://local\thost/x",
	                                   "http://h\r\nX-Evil: 1/x", "http://h\"/x"};
	int failures = 0;
	for (size_t i = 0; i < sizeof urls / sizeof *urls; i++) {
		struct acs_settings s = mi(urls[i], "");
		if (init(&s) == 0) {
			print_error("IDENTITY_ENDPOINT \"%s\" accepted: id_host \"%s\"\n", urls[i],
			            A.id_host);
			failures++;
		}
	}
	if (failures)
		fail_msg("%d IDENTITY_ENDPOINT values with a bad host accepted", failures);
}

/* A target of exactly ACS_IDENTITY_TARGET_MAX bytes has no room for its NUL: it must be refused
 * ("too long"), not silently cut by one byte (the client_id's last character). */
static void test_init_identity_target_exact_fit(void **state)
{
	(void)state;
	static char url[4096];
	const char *fixed = "?" ID_Q "&client_id=" GUID;
	for (size_t tlen = ACS_IDENTITY_TARGET_MAX - 2; tlen <= ACS_IDENTITY_TARGET_MAX; tlen++) {
		size_t path = tlen - strlen(fixed);
		char *p = url + snprintf(url, sizeof url, "http://h/");
		fill(p, 'p', path - 1); /* "/" + path - 1 */
		struct acs_settings s = mi(url, GUID);
		int r = init(&s);
		if (r == 0 && strlen(A.id_target) != tlen)
			fail_msg("target of %zu bytes accepted as %zu bytes, ending \"...%s\"",
			         tlen, strlen(A.id_target), A.id_target + strlen(A.id_target) - 20);
		if (tlen < ACS_IDENTITY_TARGET_MAX)
			assert_int_equal(r, 0);
		else
			expect_init_error(&s, "IDENTITY_ENDPOINT: ", NULL);
	}
}

static void test_init_api_version(void **state)
{
	(void)state;
	struct acs_settings s = {.connection_string = CONN, .sender = SENDER};
	static const char *const good[] = {"2023-03-31", "2025-09-01", "2024-07-01-preview",
	                                   "2021-10-01-preview"};
	for (size_t i = 0; i < sizeof good / sizeof *good; i++) {
		s.api_version = good[i];
		assert_int_equal(init(&s), 0);
		assert_string_equal(A.api_version, good[i]);
	}
	s.api_version = NULL;
	assert_int_equal(init(&s), 0);
	assert_string_equal(A.api_version, ACS_API_VERSION_DEFAULT);
	s.api_version = "";
	assert_int_equal(init(&s), 0);
	assert_string_equal(A.api_version, ACS_API_VERSION_DEFAULT);
	static char longv[ACS_API_VERSION_MAX + 2];
	static const char *bad[] = {"2023",
	                            "2023/03/31",
	                            "2023-03-31&x=1",
	                            "2023-03-31 ",
	                            "2023-03-31#",
	                            "2023-03-31\r\nX: 1",
	                            "2023-03-31-Preview",
	                            "2023-03-31?a=b",
	                            "2023-03-3\xc3\xa9",
	                            NULL};
	bad[sizeof bad / sizeof *bad - 1] = fill(longv, '1', ACS_API_VERSION_MAX + 1);
	for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
		s.api_version = bad[i];
		expect_init_error(&s, "ACS_API_VERSION: ", NULL);
	}
	s.api_version = fill(longv, '1', ACS_API_VERSION_MAX);
	assert_int_equal(init(&s), 0);
}

static int setup(void **state)
{
	(void)state;
	return tls_anchors_init(&anchors, NULL, 0) < 0 ? -1 : 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_email_original),
	    cmocka_unit_test(test_email_arrays),
	    cmocka_unit_test(test_email_reply_to),
	    cmocka_unit_test(test_email_html),
	    cmocka_unit_test(test_email_attachments),
	    cmocka_unit_test(test_email_from_override),
	    cmocka_unit_test(test_email_special_strings),
	    cmocka_unit_test(test_email_50_recipients),
	    cmocka_unit_test(test_email_overflow),
	    cmocka_unit_test(test_email_bound),
	    cmocka_unit_test(test_email_bound_raw_del),
	    cmocka_unit_test(test_worker_size),
	    cmocka_unit_test(test_worker_size_huge),
	    cmocka_unit_test(test_answer_send_result),
	    cmocka_unit_test(test_answer_error_response),
	    cmocka_unit_test(test_answer_empty_and_bad),
	    cmocka_unit_test(test_answer_too_many_tokens),
	    cmocka_unit_test(test_answer_controls),
	    cmocka_unit_test(test_answer_unicode_line_breaks),
	    cmocka_unit_test(test_answer_long_ascii),
	    cmocka_unit_test(test_answer_long_utf8),
	    cmocka_unit_test(test_token_good),
	    cmocka_unit_test(test_token_bad),
	    cmocka_unit_test(test_token_bad_escapes),
	    cmocka_unit_test(test_token_length),
	    cmocka_unit_test(test_classify),
	    cmocka_unit_test(test_classify_transient_mentions_api_version),
	    cmocka_unit_test(test_classify_long_message),
	    cmocka_unit_test(test_init_connection_string),
	    cmocka_unit_test(test_init_choice),
	    cmocka_unit_test(test_init_bad_connection_string),
	    cmocka_unit_test(test_init_managed_identity),
	    cmocka_unit_test(test_init_identity_errors),
	    cmocka_unit_test(test_init_identity_query_without_path),
	    cmocka_unit_test(test_init_identity_fragment),
	    cmocka_unit_test(test_init_identity_bad_host),
	    cmocka_unit_test(test_init_identity_target_exact_fit),
	    cmocka_unit_test(test_init_api_version),
	};
	return cmocka_run_group_tests(tests, setup, NULL);
}
