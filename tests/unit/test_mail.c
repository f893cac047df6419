/* test_mail.c: the message format of mail.h: a golden message, RFC 2047 subjects, MIME shapes,
 * RFC 2231 file names, line rules, streaming, refusals, and a cross-check with Python's email
 * package (tests/unit/mailcheck.py) when python3 is present. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "b64.h"
#include "err.h"
#include "mail.h"

/* Room for the largest message built here (a few attachments of a few KiB). */
#define OUT_CAP (1 << 20)
/* Room for one decoded part or subject in the checks. */
#define DEC_CAP 65536
/* The cross-check script and interpreter; the test is skipped when either is missing. */
#define MAILCHECK_PY "tests/unit/mailcheck.py"
#define PYTHON3      "/usr/bin/python3"

static const char ID[] = "0f8fad5b-d9cb-469f-a165-70867728950e";
/* Sat, 28 Nov 2026 16:06:26 +0000 */
#define DATE 1795881986

static char out[OUT_CAP + 1];
static unsigned char dec[DEC_CAP];
static struct notify_msg msg;

static struct notify_str S(const char *s) {
	return (struct notify_str){s, strlen(s)};
}

static const struct mail_meta meta = {ID, "noreply@example.com", DATE};

/* Renders m in memory mode into out (NUL-terminated); asserts success; returns the length. */
static size_t render(const struct notify_msg *m)
{
	struct buf b;
	buf_init(&b, out, OUT_CAP);
	assert_int_equal(mail_write(&b, m, &meta), 0);
	assert_int_equal(buf_finish(&b), 0);
	out[b.len] = '\0';
	return b.len;
}

/* Every line ends CRLF, no bare CR or LF, every line at most `limit` bytes. */
static void assert_lines(const char *s, size_t n, size_t limit)
{
	size_t start = 0;
	for (size_t i = 0; i < n; i++) {
		assert_true(s[i] != '\n');
		if (s[i] != '\r')
			continue;
		assert_true(i + 1 < n && s[i + 1] == '\n');
		if (i - start > limit)
			fail_msg("line of %zu bytes: %.60s", i - start, s + start);
		start = i + 2;
		i++;
	}
	assert_int_equal(start, n);
}

/* 1 when s[0..n) is well-formed UTF-8 that starts and ends on character edges. */
static int utf8_whole(const unsigned char *s, size_t n)
{
	for (size_t i = 0; i < n;) {
		size_t q = s[i] < 0x80    ? 1
		           : s[i] >= 0xF0 ? 4
		           : s[i] >= 0xE0 ? 3
		           : s[i] >= 0xC0 ? 2
		                          : 0;
		if (q == 0 || i + q > n)
			return 0;
		for (size_t j = 1; j < q; j++)
			if ((s[i + j] & 0xC0) != 0x80)
				return 0;
		i += q;
	}
	return 1;
}

/* Decodes the base64 lines that start right after `from` and end at a line starting "--" or at
 * the end of s, into dec; returns the decoded length. */
static size_t b64_body(const char *from)
{
	static char joined[DEC_CAP * 2];
	size_t n = 0;
	const char *p = from;
	while (*p != '\0' && strncmp(p, "--", 2) != 0) {
		const char *e = strstr(p, "\r\n");
		assert_non_null(e);
		assert_true((size_t)(e - p) <= MAIL_B64_LINE);
		memcpy(joined + n, p, (size_t)(e - p));
		n += (size_t)(e - p);
		p = e + 2;
	}
	long r = b64_decode(joined, n, dec, sizeof dec);
	assert_true(r >= 0);
	return (size_t)r;
}

/* The body after the header block that contains `marker`. */
static const char *body_after(const char *marker)
{
	const char *h = strstr(out, marker);
	assert_non_null(h);
	const char *e = strstr(h, "\r\n\r\n");
	assert_non_null(e);
	return e + 4;
}

static void msg_simple(void)
{
	memset(&msg, 0, sizeof msg);
	msg.to[0] = S("alice@example.com");
	msg.n_to = 1;
	msg.subject = S("Hello");
	msg.text = S("Hi Alice,\nsee you.\n");
}

static void test_golden_ascii(void **state)
{
	(void)state;
	msg_simple();
	size_t n = render(&msg);
	const char *want = "From: noreply@example.com\r\n"
	                   "To: alice@example.com\r\n"
	                   "Subject: Hello\r\n"
	                   "Date: Sat, 28 Nov 2026 16:06:26 +0000\r\n"
	                   "Message-ID: <0f8fad5b-d9cb-469f-a165-70867728950e@example.com>\r\n"
	                   "X-Notify-Id: 0f8fad5b-d9cb-469f-a165-70867728950e\r\n"
	                   "MIME-Version: 1.0\r\n"
	                   "Content-Type: text/plain; charset=utf-8\r\n"
	                   "Content-Transfer-Encoding: 7bit\r\n"
	                   "\r\n"
	                   "Hi Alice,\r\n"
	                   "see you.\r\n";
	assert_string_equal(out, want);
	assert_int_equal(n, strlen(want));
}

static void test_headers_full(void **state)
{
	(void)state;
	msg_simple();
	msg.from = S("billing@shop.example.org");
	msg.to[1] = S("bob@example.net");
	msg.n_to = 2;
	msg.cc[0] = S("carol@example.com");
	msg.n_cc = 1;
	msg.bcc[0] = S("audit@example.com");
	msg.n_bcc = 1;
	msg.reply_to[0] = S("help@shop.example.org");
	msg.reply_to[1] = S("sales@shop.example.org");
	msg.n_reply_to = 2;
	size_t n = render(&msg);
	assert_lines(out, n, MAIL_FOLD_AT);
	assert_non_null(strstr(out, "From: billing@shop.example.org\r\n"
	                            "To: alice@example.com, bob@example.net\r\n"
	                            "Cc: carol@example.com\r\n"
	                            "Bcc: audit@example.com\r\n"
	                            "Reply-To: help@shop.example.org, sales@shop.example.org\r\n"
	                            "Subject: Hello\r\n"));
	assert_non_null(strstr(out, "\r\nMessage-ID: <"
	                            "0f8fad5b-d9cb-469f-a165-70867728950e"
	                            "@shop.example.org>\r\n"));
}

static void test_date(void **state)
{
	(void)state;
	static const struct {
		int64_t t;
		const char *s;
	} cases[] = {
	    {0, "Date: Thu, 01 Jan 1970 00:00:00 +0000\r\n"},
	    {951782400, "Date: Tue, 29 Feb 2000 00:00:00 +0000\r\n"},
	    {1709251199, "Date: Thu, 29 Feb 2024 23:59:59 +0000\r\n"},
	    {4102444800, "Date: Fri, 01 Jan 2100 00:00:00 +0000\r\n"},
	};
	msg_simple();
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		struct mail_meta m2 = {ID, "noreply@example.com", cases[i].t};
		struct buf b;
		buf_init(&b, out, OUT_CAP);
		assert_int_equal(mail_write(&b, &msg, &m2), 0);
		out[b.len] = '\0';
		assert_non_null(strstr(out, cases[i].s));
	}
}

static void test_address_folding(void **state)
{
	(void)state;
	static char addr[NOTIFY_MAX_RECIPIENTS][32];
	memset(&msg, 0, sizeof msg);
	for (unsigned i = 0; i < NOTIFY_MAX_RECIPIENTS; i++) {
		snprintf(addr[i], sizeof addr[i], "user%02u@example.com", i);
		msg.to[i] = S(addr[i]);
	}
	msg.n_to = NOTIFY_MAX_RECIPIENTS;
	msg.subject = S("Many");
	msg.text = S("x");
	size_t n = render(&msg);
	assert_lines(out, n, MAIL_FOLD_AT);
	assert_non_null(strstr(out, "To: user00@example.com, user01@example.com, "
	                            "user02@example.com,\r\n user03@example.com,"));
	/* Unfolded, the field lists every address once, in order. */
	const char *p = strstr(out, "To: ");
	for (unsigned i = 0; i < NOTIFY_MAX_RECIPIENTS; i++) {
		p = strstr(p, addr[i]);
		assert_non_null(p);
	}
}

/* Extracts the Subject field's lines: checks each is an encoded word within limits, decodes and
 * concatenates them into dec; returns the decoded length and the number of words in *words. */
static size_t decode_subject(size_t *words)
{
	const char *p = strstr(out, "\r\nSubject: ");
	assert_non_null(p);
	p += strlen("\r\nSubject: ");
	size_t n = 0;
	*words = 0;
	for (;;) {
		const char *e = strstr(p, "\r\n");
		size_t len = (size_t)(e - p);
		assert_true(len <= MAIL_MAX_ENCODED_WORD);
		assert_memory_equal(p, "=?UTF-8?B?", 10);
		assert_memory_equal(e - 2, "?=", 2);
		long r = b64_decode(p + 10, len - 12, dec + n, sizeof dec - n);
		assert_true(r > 0);
		assert_true(utf8_whole(dec + n, (size_t)r)); /* no word splits a character */
		n += (size_t)r;
		(*words)++;
		if (e[2] != ' ')
			return n;
		p = e + 3;
	}
}

static void test_subject_japanese(void **state)
{
	(void)state;
	msg_simple();
	msg.subject = S("テスト");
	render(&msg);
	assert_non_null(strstr(out, "\r\nSubject: =?UTF-8?B?44OG44K544OI?=\r\nDate: "));
	size_t words, n = decode_subject(&words);
	assert_int_equal(words, 1);
	assert_int_equal(n, strlen("テスト"));
	assert_memory_equal(dec, "テスト", n);
}

static void test_subject_long_japanese(void **state)
{
	(void)state;
	static char subj[NOTIFY_MAX_SUBJECT + 1];
	subj[0] = '\0';
	while (strlen(subj) + strlen("日本語の件名テストa") <= 600)
		strcat(subj, "日本語の件名テストa"); /* 'a' shifts characters off the 3-byte grid */
	msg_simple();
	msg.subject = S(subj);
	size_t len = render(&msg);
	assert_lines(out, len, MAIL_FOLD_AT);
	size_t words, n = decode_subject(&words);
	assert_true(words > 5);
	assert_int_equal(n, strlen(subj));
	assert_memory_equal(dec, subj, n);
}

static void test_subject_max_multibyte(void **state)
{
	(void)state;
	/* 4-byte characters up to the 998-byte limit: the worst case for the cut. */
	static char subj[NOTIFY_MAX_SUBJECT + 1];
	subj[0] = '\0';
	while (strlen(subj) + 4 <= NOTIFY_MAX_SUBJECT)
		strcat(subj, "😀");
	msg_simple();
	msg.subject = S(subj);
	size_t len = render(&msg);
	assert_lines(out, len, MAIL_FOLD_AT);
	size_t words, n = decode_subject(&words);
	assert_int_equal(n, strlen(subj));
	assert_memory_equal(dec, subj, n);
}

/* The raw Subject field unfolded (CRLF removed), into dec. */
static size_t unfold_subject(void)
{
	const char *p = strstr(out, "\r\nSubject: ") + strlen("\r\nSubject: ");
	size_t n = 0;
	for (;;) {
		const char *e = strstr(p, "\r\n");
		memcpy(dec + n, p, (size_t)(e - p));
		n += (size_t)(e - p);
		if (e[2] != ' ')
			return n;
		p = e + 2;
	}
}

static void test_subject_ascii_folding(void **state)
{
	(void)state;
	const char *subj = "Your monthly statement for November 2026 is ready: please review "
	                   "the attached documents  before the   due date, thank you";
	msg_simple();
	msg.subject = S(subj);
	size_t len = render(&msg);
	assert_lines(out, len, MAIL_FOLD_AT);
	assert_non_null(strstr(out, "Subject: Your monthly statement for November 2026 is "
	                            "ready: please review the\r\n attached documents  before"));
	size_t n = unfold_subject();
	assert_int_equal(n, strlen(subj));
	assert_memory_equal(dec, subj, n);
}

static void test_subject_ascii_long_word(void **state)
{
	(void)state;
	static char subj[400];
	memset(subj, 'x', 300);
	strcpy(subj + 300, " tail  ");
	msg_simple();
	msg.subject = S(subj);
	size_t len = render(&msg);
	assert_lines(out, len, MAIL_MAX_LINE);
	/* The long word stays whole on the first line; trailing spaces never make a line. */
	assert_non_null(strstr(out, "xxx\r\n tail  \r\nDate:"));
	size_t n = unfold_subject();
	assert_int_equal(n, strlen(subj));
	assert_memory_equal(dec, subj, n);
}

static void test_subject_ascii_too_long_for_a_line(void **state)
{
	(void)state;
	/* One 998-byte word cannot follow "Subject: " within 998 bytes: encoded instead. */
	static char subj[NOTIFY_MAX_SUBJECT + 1];
	memset(subj, 'y', NOTIFY_MAX_SUBJECT);
	msg_simple();
	msg.subject = S(subj);
	size_t len = render(&msg);
	assert_lines(out, len, MAIL_FOLD_AT);
	size_t words, n = decode_subject(&words);
	assert_int_equal(n, NOTIFY_MAX_SUBJECT);
	assert_memory_equal(dec, subj, n);
}

static void test_subject_encoded_word_lookalike(void **state)
{
	(void)state;
	msg_simple();
	msg.subject = S("=?UTF-8?B?ZXZpbA==?=");
	render(&msg);
	size_t words, n = decode_subject(&words);
	assert_int_equal(n, strlen("=?UTF-8?B?ZXZpbA==?="));
	assert_memory_equal(dec, "=?UTF-8?B?ZXZpbA==?=", n);
	msg.subject = S("a = b? yes");
	render(&msg);
	assert_non_null(strstr(out, "\r\nSubject: a = b? yes\r\n"));
}

static void test_7bit_line_breaks(void **state)
{
	(void)state;
	msg_simple();
	msg.text = S("a\nb\r\nc\rd\r\r\ne\tf");
	render(&msg);
	const char *body = body_after("Content-Transfer-Encoding: 7bit");
	assert_string_equal(body, "a\r\nb\r\nc\r\nd\r\n\r\ne\tf\r\n");
}

static void test_base64_text(void **state)
{
	(void)state;
	msg_simple();
	msg.text = S("Grüße\nzweite Zeile\r\ndritte\rEnde");
	size_t len = render(&msg);
	assert_lines(out, len, MAIL_FOLD_AT);
	assert_non_null(strstr(out, "Content-Type: text/plain; charset=utf-8\r\n"
	                            "Content-Transfer-Encoding: base64\r\n\r\n"));
	size_t n = b64_body(body_after("Content-Transfer-Encoding: base64"));
	const char *want = "Grüße\r\nzweite Zeile\r\ndritte\r\nEnde";
	assert_int_equal(n, strlen(want));
	assert_memory_equal(dec, want, n);
}

static void test_long_line_goes_base64(void **state)
{
	(void)state;
	static char text[3000];
	memset(text, 'z', MAIL_MAX_LINE);
	text[MAIL_MAX_LINE] = '\0';
	msg_simple();
	msg.text = S(text);
	render(&msg);
	assert_non_null(strstr(out, "Content-Transfer-Encoding: 7bit"));
	/* One byte more and 7bit is no longer allowed. */
	text[MAIL_MAX_LINE] = 'z';
	text[MAIL_MAX_LINE + 1] = '\0';
	msg.text = S(text);
	size_t len = render(&msg);
	assert_lines(out, len, MAIL_FOLD_AT);
	assert_int_equal(b64_body(body_after("Content-Transfer-Encoding: base64")),
	                 MAIL_MAX_LINE + 1);
	/* A control character forces base64 too. */
	msg.text = S("bell\a");
	render(&msg);
	assert_non_null(strstr(out, "Content-Transfer-Encoding: base64"));
}

static void test_html_only(void **state)
{
	(void)state;
	msg_simple();
	msg.text = S("");
	msg.html = S("<p>Hi</p>\n");
	render(&msg);
	assert_non_null(strstr(out, "MIME-Version: 1.0\r\n"
	                            "Content-Type: text/html; charset=utf-8\r\n"
	                            "Content-Transfer-Encoding: 7bit\r\n\r\n<p>Hi</p>\r\n"));
}

static void msg_alternative(void)
{
	msg_simple();
	msg.text = S("Hi Alice,\nsee you.\n");
	msg.html = S("<p>Hi Alice,</p>\n<p>see you.</p>\n");
}

static void test_alternative(void **state)
{
	(void)state;
	msg_alternative();
	size_t len = render(&msg);
	assert_lines(out, len, MAIL_FOLD_AT);
	const char *want = "MIME-Version: 1.0\r\n"
	                   "Content-Type: multipart/alternative;\r\n"
	                   " boundary=\"=_notify_alt_0f8fad5b-d9cb-469f-a165-70867728950e\"\r\n"
	                   "\r\n"
	                   "--=_notify_alt_0f8fad5b-d9cb-469f-a165-70867728950e\r\n"
	                   "Content-Type: text/plain; charset=utf-8\r\n"
	                   "Content-Transfer-Encoding: base64\r\n"
	                   "\r\n"
	                   "SGkgQWxpY2UsDQpzZWUgeW91Lg0K\r\n"
	                   "--=_notify_alt_0f8fad5b-d9cb-469f-a165-70867728950e\r\n"
	                   "Content-Type: text/html; charset=utf-8\r\n"
	                   "Content-Transfer-Encoding: base64\r\n"
	                   "\r\n"
	                   "PHA+SGkgQWxpY2UsPC9wPg0KPHA+c2VlIHlvdS48L3A+DQo=\r\n"
	                   "--=_notify_alt_0f8fad5b-d9cb-469f-a165-70867728950e--\r\n";
	const char *p = strstr(out, "MIME-Version: ");
	assert_non_null(p);
	assert_string_equal(p, want);
}

static void test_base64_line_wrap(void **state)
{
	(void)state;
	static char text[1000];
	for (size_t i = 0; i < 999; i++)
		text[i] = (char)('a' + i % 26);
	msg_alternative();
	msg.text = S(text);
	size_t len = render(&msg);
	assert_lines(out, len, MAIL_FOLD_AT);
	const char *body = body_after("Content-Type: text/plain");
	assert_memory_equal(body + MAIL_B64_LINE, "\r\n", 2);
	assert_int_equal(b64_body(body), 999);
	assert_memory_equal(dec, text, 999);
}

static void msg_mixed(void)
{
	static char pdf[64];
	struct buf b;
	buf_init(&b, pdf, sizeof pdf - 1);
	b64_encode(&b, "%PDF-1.4\n%\xe2\xe3\xcf\xd3\n", 15);
	pdf[b.len] = '\0';
	msg_alternative();
	msg.att[0].name = S("report.pdf");
	msg.att[0].content_type = S("application/pdf");
	msg.att[0].content_base64 = S(pdf);
	msg.att[0].size = 15;
	msg.att[1].name = S("レポート 2026.txt");
	msg.att[1].content_type = S("text/plain");
	msg.att[1].content_base64 = S("44GT44KT44Gr44Gh44GvCg==");
	msg.att[1].size = 16;
	msg.n_att = 2;
}

static void test_mixed(void **state)
{
	(void)state;
	msg_mixed();
	size_t len = render(&msg);
	assert_lines(out, len, MAIL_FOLD_AT);
	const char *mix = "--=_notify_mix_0f8fad5b-d9cb-469f-a165-70867728950e";
	assert_non_null(strstr(out,
	                       "MIME-Version: 1.0\r\n"
	                       "Content-Type: multipart/mixed;\r\n"
	                       " boundary=\"=_notify_mix_0f8fad5b-d9cb-469f-a165-70867728950e\"\r\n"
	                       "\r\n"
	                       "--=_notify_mix_0f8fad5b-d9cb-469f-a165-70867728950e\r\n"
	                       "Content-Type: multipart/alternative;\r\n"));
	assert_non_null(strstr(out, "--=_notify_alt_0f8fad5b-d9cb-469f-a165-70867728950e--\r\n"
	                            "--=_notify_mix_0f8fad5b-d9cb-469f-a165-70867728950e\r\n"
	                            "Content-Type: application/pdf; name=\"report.pdf\"\r\n"
	                            "Content-Disposition: attachment; filename=\"report.pdf\"\r\n"
	                            "Content-Transfer-Encoding: base64\r\n\r\n"));
	assert_non_null(
	    strstr(out, "Content-Type: text/plain;\r\n"
	                " name*=utf-8''%E3%83%AC%E3%83%9D%E3%83%BC%E3%83%88%202026.txt\r\n"
	                "Content-Disposition: attachment;\r\n"
	                " filename*=utf-8''%E3%83%AC%E3%83%9D%E3%83%BC%E3%83%88%202026.txt\r\n"));
	assert_int_equal(b64_body(body_after("name=\"report.pdf\"")), 15);
	assert_memory_equal(dec, "%PDF-1.4\n%\xe2\xe3\xcf\xd3\n", 15);
	/* The message ends with the outer close delimiter. */
	size_t ml = strlen(mix);
	assert_memory_equal(out + len - ml - 4, mix, ml);
	assert_string_equal(out + len - 4, "--\r\n");
}

/* Percent-decodes the RFC 2231 sections of `key` (key*0*=utf-8''..., key*1*=...) into dec,
 * checking that no section splits a UTF-8 sequence; returns the length. */
static size_t decode_sections(const char *key)
{
	char pat[32];
	size_t n = 0;
	for (unsigned i = 0;; i++) {
		snprintf(pat, sizeof pat, " %s*%u*=%s", key, i, i == 0 ? "utf-8''" : "");
		const char *p = strstr(out, pat);
		if (!p)
			return n;
		size_t start = n;
		for (p += strlen(pat); *p != ';' && *p != '\r'; p++) {
			unsigned v;
			if (*p == '%') {
				assert_int_equal(sscanf(p + 1, "%2x", &v), 1);
				p += 2;
			} else {
				v = (unsigned char)*p;
			}
			dec[n++] = (unsigned char)v;
		}
		assert_true(utf8_whole(dec + start, n - start));
	}
}

static void test_attachment_long_utf8_name(void **state)
{
	(void)state;
	static char name[NOTIFY_MAX_FILENAME + 1];
	name[0] = '\0';
	while (strlen(name) + 3 <= NOTIFY_MAX_FILENAME)
		strcat(name, "資");
	msg_mixed();
	msg.att[1].name = S(name);
	size_t len = render(&msg);
	assert_lines(out, len, MAIL_FOLD_AT);
	assert_null(strstr(out, "filename*="));
	assert_int_equal(decode_sections("filename"), strlen(name));
	assert_memory_equal(dec, name, strlen(name));
	assert_int_equal(decode_sections("name"), strlen(name));
	assert_memory_equal(dec, name, strlen(name));
}

static void test_attachment_special_names(void **state)
{
	(void)state;
	static char longascii[NOTIFY_MAX_FILENAME + 1];
	memset(longascii, 'n', NOTIFY_MAX_FILENAME);
	msg_mixed();
	msg.att[0].name = S("say \"hi\".txt");
	msg.att[1].name = S("=?UTF-8?B?ZXZpbA==?=");
	msg.att[2] = msg.att[0];
	msg.att[2].name = S(longascii);
	msg.n_att = 3;
	size_t len = render(&msg);
	assert_lines(out, len, MAIL_MAX_LINE);
	assert_non_null(strstr(out, " filename*=utf-8''say%20%22hi%22.txt\r\n"));
	assert_non_null(strstr(out, " filename*=utf-8''%3D%3FUTF-8%3FB%3FZXZpbA%3D%3D%3F%3D\r\n"));
	/* A plain name longer than a line stays one quoted-string on its own line. */
	assert_non_null(strstr(out, "attachment;\r\n filename=\"nnnn"));
}

static void test_attachment_empty_and_composite(void **state)
{
	(void)state;
	msg_mixed();
	msg.att[0].content_type = S("message/rfc822");
	msg.att[1].content_base64 = S("");
	msg.att[1].size = 0;
	size_t len = render(&msg);
	assert_lines(out, len, MAIL_FOLD_AT);
	assert_non_null(strstr(out, "Content-Type: application/octet-stream; name=\"report.pdf\""));
	assert_non_null(strstr(out, "Content-Transfer-Encoding: base64\r\n\r\n\r\n"
	                            "--=_notify_mix_0f8fad5b-d9cb-469f-a165-70867728950e--\r\n"));
}

static void test_streaming_equals_memory(void **state)
{
	(void)state;
	static char via_fd[OUT_CAP];
	msg_mixed();
	size_t n = render(&msg);
	FILE *f = tmpfile();
	assert_non_null(f);
	char stage[7];
	struct buf b;
	buf_init_fd(&b, stage, sizeof stage, fileno(f));
	assert_int_equal(mail_write(&b, &msg, &meta), 0);
	assert_int_equal(buf_finish(&b), 0);
	assert_int_equal(buf_total(&b), n);
	rewind(f);
	assert_int_equal(fread(via_fd, 1, sizeof via_fd, f), n);
	assert_memory_equal(via_fd, out, n);
	fclose(f);
}

static void test_overflow(void **state)
{
	(void)state;
	char small[100];
	struct buf b;
	msg_mixed();
	buf_init(&b, small, sizeof small);
	assert_int_equal(mail_write(&b, &msg, &meta), -ERR_OVERFLOW);
	assert_true(b.missing > 0);
	/* Retrying with len + missing bytes fits exactly. */
	size_t need = b.len + b.missing;
	buf_init(&b, out, need);
	assert_int_equal(mail_write(&b, &msg, &meta), 0);
	assert_int_equal(b.len, need);
}

/* mail_write's result for m into a scratch buffer. */
static int try_write(const struct notify_msg *m, const struct mail_meta *mm)
{
	struct buf b;
	buf_init(&b, out, OUT_CAP);
	return mail_write(&b, m, mm);
}

static void test_refusals(void **state)
{
	(void)state;
	msg_simple();
	msg.to[0] = S("a@b.com\r\nBcc: x@evil.example");
	assert_int_equal(try_write(&msg, &meta), -ERR_INTERNAL);
	msg_mixed();
	msg.att[0].content_type = S("text/plain\r\nX-Evil: 1");
	assert_int_equal(try_write(&msg, &meta), -ERR_INTERNAL);
	msg_mixed();
	msg.att[0].content_base64 = S("Zm9v\r\n--=_notify_mix_");
	assert_int_equal(try_write(&msg, &meta), -ERR_INTERNAL);
	msg_simple();
	msg.n_to = NOTIFY_MAX_RECIPIENTS + 1;
	assert_int_equal(try_write(&msg, &meta), -ERR_INTERNAL);

	msg_simple();
	struct mail_meta bad_id = {"../x", "noreply@example.com", DATE};
	assert_int_equal(try_write(&msg, &bad_id), -ERR_INTERNAL);
	struct mail_meta no_from = {ID, "", DATE};
	assert_int_equal(try_write(&msg, &no_from), -ERR_INTERNAL);
	struct mail_meta far = {ID, "noreply@example.com", INT64_MAX};
	assert_int_equal(try_write(&msg, &far), -ERR_INTERNAL);
	/* A CR or LF in the subject or a file name is encoded, never written raw. */
	msg.subject = S("a\r\nBcc: x@evil.example");
	assert_int_equal(try_write(&msg, &meta), 0);
	assert_null(strstr(out, "Bcc:"));
}

static void test_sender_without_domain(void **state)
{
	(void)state;
	msg_simple();
	struct mail_meta odd = {ID, "Notify <noreply@example.com>", DATE};
	assert_int_equal(try_write(&msg, &odd), 0);
	assert_non_null(
	    strstr(out, "Message-ID: <0f8fad5b-d9cb-469f-a165-70867728950e@localhost>"));
}

/* ---- Python cross-check -------------------------------------------------------------------- */

/* Writes "key hex\n" for s[0..n) to f: the spec mailcheck.py compares against. */
static void spec(FILE *f, const char *key, const char *s, size_t n)
{
	fprintf(f, "%s ", key);
	for (size_t i = 0; i < n; i++)
		fprintf(f, "%02x", (unsigned char)s[i]);
	fputc('\n', f);
}

static void spec_list(FILE *f, const char *key, const struct notify_str *a, unsigned n)
{
	for (unsigned i = 0; i < n; i++)
		spec(f, key, a[i].p, a[i].len);
}

/* Writes dir/name.eml through a small fd-mode buffer and dir/name.spec. */
static void dump(const char *dir, const char *name)
{
	char path[256], stage[64];
	snprintf(path, sizeof path, "%s/%s.eml", dir, name);
	FILE *f = fopen(path, "wb");
	assert_non_null(f);
	struct buf b;
	buf_init_fd(&b, stage, sizeof stage, fileno(f));
	assert_int_equal(mail_write(&b, &msg, &meta), 0);
	assert_int_equal(buf_finish(&b), 0);
	fclose(f);
	snprintf(path, sizeof path, "%s/%s.spec", dir, name);
	f = fopen(path, "w");
	assert_non_null(f);
	fprintf(f, "date %d\nid %s\n", DATE, ID);
	spec(f, "from", msg.from.len ? msg.from.p : meta.from,
	     msg.from.len ? msg.from.len : strlen(meta.from));
	spec_list(f, "to", msg.to, msg.n_to);
	spec_list(f, "cc", msg.cc, msg.n_cc);
	spec_list(f, "bcc", msg.bcc, msg.n_bcc);
	spec_list(f, "reply_to", msg.reply_to, msg.n_reply_to);
	spec(f, "subject", msg.subject.p, msg.subject.len);
	spec(f, "text", msg.text.p, msg.text.len);
	spec(f, "html", msg.html.p, msg.html.len);
	for (unsigned i = 0; i < msg.n_att; i++) {
		spec(f, "att_name", msg.att[i].name.p, msg.att[i].name.len);
		spec(f, "att_type", msg.att[i].content_type.p, msg.att[i].content_type.len);
		spec(f, "att_b64", msg.att[i].content_base64.p, msg.att[i].content_base64.len);
	}
	fclose(f);
}

static void test_python_crosscheck(void **state)
{
	(void)state;
	static char subj[NOTIFY_MAX_SUBJECT + 1], name[NOTIFY_MAX_FILENAME + 1];
	if (access(PYTHON3, X_OK) != 0 || access(MAILCHECK_PY, R_OK) != 0)
		skip();
	char dir[] = "/tmp/test_mail.XXXXXX";
	assert_non_null(mkdtemp(dir));

	msg_simple();
	dump(dir, "simple");
	msg_simple();
	msg.subject = S("テスト");
	msg.text = S("Grüße\nzweite Zeile\r\ndritte\rEnde");
	msg.from = S("billing@shop.example.org");
	msg.cc[0] = S("carol@example.com");
	msg.bcc[0] = S("audit@example.com");
	msg.reply_to[0] = S("help@shop.example.org");
	msg.n_cc = msg.n_bcc = msg.n_reply_to = 1;
	dump(dir, "japanese");
	subj[0] = '\0';
	while (strlen(subj) + strlen("日本語の件名テストa") <= 600)
		strcat(subj, "日本語の件名テストa");
	msg.subject = S(subj);
	dump(dir, "long_subject");
	msg.subject = S("Your monthly statement for November 2026 is ready: please review "
	                "the attached documents  before the   due date, thank you");
	dump(dir, "folded_subject");
	msg.subject = S("=?UTF-8?B?ZXZpbA==?= a = b?");
	msg.text = S("");
	msg.html = S("<p>only html</p>");
	dump(dir, "html_only");
	msg_alternative();
	dump(dir, "alternative");
	msg_mixed();
	dump(dir, "mixed");
	name[0] = '\0';
	while (strlen(name) + 3 <= NOTIFY_MAX_FILENAME)
		strcat(name, "資");
	msg.att[1].name = S(name);
	msg.att[2] = msg.att[0];
	msg.att[2].name = S("say \"hi\" =?x?= .txt");
	msg.att[3] = msg.att[0];
	msg.att[3].name = S("empty.bin");
	msg.att[3].content_type = S("application/octet-stream");
	msg.att[3].content_base64 = S("");
	msg.n_att = 4;
	dump(dir, "names");

	char cmd[512];
	snprintf(cmd, sizeof cmd, PYTHON3 " " MAILCHECK_PY " %s", dir);
	int rc = system(cmd);
	assert_int_equal(rc, 0);
	snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
	assert_int_equal(system(cmd), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_golden_ascii),
	    cmocka_unit_test(test_headers_full),
	    cmocka_unit_test(test_date),
	    cmocka_unit_test(test_address_folding),
	    cmocka_unit_test(test_subject_japanese),
	    cmocka_unit_test(test_subject_long_japanese),
	    cmocka_unit_test(test_subject_max_multibyte),
	    cmocka_unit_test(test_subject_ascii_folding),
	    cmocka_unit_test(test_subject_ascii_long_word),
	    cmocka_unit_test(test_subject_ascii_too_long_for_a_line),
	    cmocka_unit_test(test_subject_encoded_word_lookalike),
	    cmocka_unit_test(test_7bit_line_breaks),
	    cmocka_unit_test(test_base64_text),
	    cmocka_unit_test(test_long_line_goes_base64),
	    cmocka_unit_test(test_html_only),
	    cmocka_unit_test(test_alternative),
	    cmocka_unit_test(test_base64_line_wrap),
	    cmocka_unit_test(test_mixed),
	    cmocka_unit_test(test_attachment_long_utf8_name),
	    cmocka_unit_test(test_attachment_special_names),
	    cmocka_unit_test(test_attachment_empty_and_composite),
	    cmocka_unit_test(test_streaming_equals_memory),
	    cmocka_unit_test(test_overflow),
	    cmocka_unit_test(test_refusals),
	    cmocka_unit_test(test_sender_without_domain),
	    cmocka_unit_test(test_python_crosscheck),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
