/*
 * mail.c: the RFC 5322 / MIME message of mail.h, streamed into a struct buf.
 *
 * Headers go through one checked writer (struct mw) that tracks the column for folding and
 * refuses CR, LF and NUL, so no value can start a header of its own. Bodies are written straight
 * to the buf: 7bit text line by line, other text as base64 one output line at a time, attachments
 * re-wrapped from their (checked) base64. Nothing is allocated; the largest local is one base64
 * line of input.
 */
#include "mail.h"

#include <stddef.h>
#include <string.h>

#include "b64.h"
#include "date.h"
#include "err.h"

/* RFC 2047 2: an encoded word is "=?" charset "?" encoding "?" text "?=". */
#define EW_OPEN  "=?UTF-8?B?"
#define EW_CLOSE "?="
/* Bytes of an encoded word that are not encoded text: EW_OPEN and EW_CLOSE. */
#define EW_OVERHEAD 12
/* Raw bytes per base64 body line: MAIL_B64_LINE characters carry 3 bytes per 4 characters. */
#define B64_LINE_RAW (MAIL_B64_LINE / 4 * 3)
/* Boundary prefixes: "=_" cannot occur in base64 text, and 7bit text is single-part only. */
#define BOUNDARY_ALT "=_notify_alt_"
#define BOUNDARY_MIX "=_notify_mix_"
/* RFC 2046 5.1.1: a boundary is at most 70 characters; the id follows a 13-byte prefix. */
#define BOUNDARY_MAX 70
#define ID_MAX       (BOUNDARY_MAX - (sizeof BOUNDARY_ALT - 1))
/* RFC 2231 4: charset, empty language, then the percent-encoded value. */
#define RFC2231_PREFIX "utf-8''"
/* RFC 3629 3: a UTF-8 sequence is at most 4 bytes. */
#define UTF8_MAX_SEQ 4
/* Message-ID domain when the sender address has no usable one. */
#define FALLBACK_DOMAIN "localhost"

/* The header writer: column for folding, and whether a value held a line break. */
struct mw {
	struct buf *b;
	size_t col; /* bytes on the current line */
	int bad;    /* a header value held CR, LF or NUL: mail_write fails with -ERR_INTERNAL */
};

/* Appends header text s[0..n). CR, LF or NUL in it marks w bad and writes nothing; once bad,
 * nothing more is written to the headers. */
static void put(struct mw *w, const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (s[i] == '\r' || s[i] == '\n' || s[i] == '\0')
			w->bad = 1;
	}
	if (w->bad)
		return;
	buf_append(w->b, s, n);
	w->col += n;
}

/* put() of a NUL-terminated string. */
static void put_cs(struct mw *w, const char *s)
{
	put(w, s, strlen(s));
}

/* Ends the current line. */
static void eol(struct mw *w)
{
	buf_append(w->b, "\r\n", 2);
	w->col = 0;
}

/* RFC 5322 2.2.3: folds, continuing the field on a line that starts with one space. */
static void fold(struct mw *w)
{
	buf_append(w->b, "\r\n ", 3);
	w->col = 1;
}

/* Appends v as exactly `width` (1..4) decimal digits, zero-padded; v < 10^width. */
static void put_num(struct mw *w, unsigned v, unsigned width)
{
	char d[4];
	for (unsigned i = width; i-- > 0; v /= 10)
		d[i] = (char)('0' + v % 10);
	put(w, d, width);
}

/* Length of the UTF-8 sequence starting at s[0] (n > 0): the lead byte and the continuation
 * bytes after it, at most UTF8_MAX_SEQ. */
static size_t utf8_seq(const char *s, size_t n)
{
	size_t q = 1;
	while (q < n && q < UTF8_MAX_SEQ && ((unsigned char)s[q] & 0xC0) == 0x80)
		q++;
	return q;
}

/* 1 when s[0..n) is printable ASCII without "=?" (readers decode that as RFC 2047, even inside
 * quotes) and, when `quoted`, without '"' and '\\' (so it can stand in a quoted-string as is). */
static int plain_ascii(const char *s, size_t n, int quoted)
{
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c < 0x20 || c > 0x7e || (c == '=' && i + 1 < n && s[i + 1] == '?'))
			return 0;
		if (quoted && (c == '"' || c == '\\'))
			return 0;
	}
	return 1;
}

/* ---- address, date and id fields ----------------------------------------------------------- */

/* "Name: a, b, ..." with a fold between addresses where the next would pass MAIL_FOLD_AT. */
static void put_addrs(struct mw *w, const char *name, const struct notify_str *a, unsigned n)
{
	put_cs(w, name);
	put_cs(w, ": ");
	for (unsigned i = 0; i < n; i++) {
		if (i > 0) {
			put_cs(w, ",");
			if (w->col + 1 + a[i].len > MAIL_FOLD_AT)
				fold(w);
			else
				put_cs(w, " ");
		}
		put(w, a[i].p, a[i].len);
	}
	eol(w);
}

/* RFC 5322 3.3 date-time in UTC: "Sat, 28 Nov 2026 16:06:26 +0000": the IMF-fixdate with the
 * numeric zone RFC 5322 asks generators to use. Returns 0, or -ERR_INTERNAL when t is not a time
 * with a four-digit year. */
static int put_date(struct mw *w, int64_t t)
{
	char d[DATE_IMF_LEN + 1];
	if (date_imf(d, t) < 0)
		return -ERR_INTERNAL;
	put_cs(w, "Date: ");
	put(w, d, DATE_IMF_LEN - 3); /* without "GMT" */
	put_cs(w, "+0000");
	eol(w);
	return 0;
}

/* The domain of address a (after its last '@') when it is a non-empty run of letters, digits,
 * '-' and '.'; else FALLBACK_DOMAIN. */
static struct notify_str addr_domain(struct notify_str a)
{
	static const struct notify_str fallback = {FALLBACK_DOMAIN, sizeof FALLBACK_DOMAIN - 1};
	size_t at = a.len;
	while (at > 0 && a.p[at - 1] != '@')
		at--;
	if (at == 0 || at == a.len)
		return fallback;
	for (size_t i = at; i < a.len; i++) {
		char c = a.p[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '-' || c == '.'))
			return fallback;
	}
	return (struct notify_str){a.p + at, a.len - at};
}

/* Message-ID "<id@sender-domain>" and X-Notify-Id. */
static void put_ids(struct mw *w, const char *id, struct notify_str from)
{
	struct notify_str dom = addr_domain(from);
	put_cs(w, "Message-ID: <");
	put_cs(w, id);
	put_cs(w, "@");
	put(w, dom.p, dom.len);
	put_cs(w, ">");
	eol(w);
	put_cs(w, "X-Notify-Id: ");
	put_cs(w, id);
	eol(w);
}

/* ---- Subject ------------------------------------------------------------------------------- */

/* Length of the chunk at s[0..n) (n > 0): a run of spaces, then the word up to the next space. */
static size_t chunk_len(const char *s, size_t n)
{
	size_t i = 0;
	while (i < n && s[i] == ' ')
		i++;
	while (i < n && s[i] != ' ')
		i++;
	return i;
}

/* Writes s[0..n) from column col, folding (RFC 5322 2.2.3: CRLF before a space) ahead of any
 * word that would pass MAIL_FOLD_AT; a word longer than a line is left whole. With w NULL only
 * measures. Returns the length of the longest line. Never yields a line of spaces only. */
static size_t fold_raw(struct mw *w, size_t col, const char *s, size_t n)
{
	size_t longest = col;
	for (size_t i = 0, k; i < n; i += k) {
		k = chunk_len(s + i, n - i);
		if (i > 0 && s[i + k - 1] != ' ' && col + k > MAIL_FOLD_AT) {
			col = 0;
			if (w)
				eol(w);
		}
		if (w)
			put(w, s + i, k);
		col += k;
		longest = col > longest ? col : longest;
	}
	return longest;
}

/* Bytes of s[0..n) for the next encoded word at column col: whole UTF-8 sequences only, the
 * word within MAIL_MAX_ENCODED_WORD and the line within MAIL_FOLD_AT. */
static size_t ew_bytes(size_t col, const char *s, size_t n)
{
	size_t room = MAIL_MAX_ENCODED_WORD;
	if (col < MAIL_FOLD_AT && MAIL_FOLD_AT - col < room &&
	    MAIL_FOLD_AT - col >= EW_OVERHEAD + 4 * UTF8_MAX_SEQ)
		room = MAIL_FOLD_AT - col;
	size_t k = (room - EW_OVERHEAD) / 4 * 3;
	if (k >= n)
		return n;
	size_t cut = k;
	while (cut > 0 && ((unsigned char)s[cut] & 0xC0) == 0x80)
		cut--;
	return cut > 0 ? cut : k;
}

/* RFC 2047 "B" encoded words for all of s[0..n), separated by CRLF SP. */
static void put_encoded(struct mw *w, const char *s, size_t n)
{
	while (n > 0) {
		size_t k = ew_bytes(w->col, s, n);
		put_cs(w, EW_OPEN);
		if (!w->bad) {
			b64_encode(w->b, s, k);
			w->col += (k + 2) / 3 * 4;
		}
		put_cs(w, EW_CLOSE);
		s += k;
		n -= k;
		if (n > 0)
			fold(w);
	}
}

/* Subject: raw and folded when printable ASCII that folds into lines of at most MAIL_MAX_LINE,
 * else RFC 2047 encoded words. */
static void put_subject(struct mw *w, const char *s, size_t n)
{
	put_cs(w, n > 0 ? "Subject: " : "Subject:");
	if (plain_ascii(s, n, 0) && fold_raw(NULL, w->col, s, n) <= MAIL_MAX_LINE)
		fold_raw(w, w->col, s, n);
	else
		put_encoded(w, s, n);
	eol(w);
}

/* ---- parameters (RFC 2045 5.1, RFC 2231) --------------------------------------------------- */

/* 1 when c stands unescaped in an RFC 2231 value: a conservative subset of attribute-char. */
static int attr_char(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       c == '-' || c == '.' || c == '_' || c == '~';
}

/* Length of the RFC 2231 percent-encoding of s[0..n). */
static size_t pct_len(const char *s, size_t n)
{
	size_t len = 0;
	for (size_t i = 0; i < n; i++)
		len += attr_char((unsigned char)s[i]) ? 1 : 3;
	return len;
}

/* Writes the RFC 2231 percent-encoding of s[0..n) (upper-case hex). */
static void put_pct(struct mw *w, const char *s, size_t n)
{
	static const char hex[] = "0123456789ABCDEF";
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		char e[3] = {'%', hex[c >> 4], hex[c & 15]};
		if (attr_char(c))
			put(w, s + i, 1);
		else
			put(w, e, 3);
	}
}

/* "; " ahead of a parameter of len bytes, or ";" and a fold when it would pass MAIL_FOLD_AT. */
static void param_sep(struct mw *w, size_t len)
{
	put_cs(w, ";");
	if (w->col + 1 + len > MAIL_FOLD_AT)
		fold(w);
	else
		put_cs(w, " ");
}

/* Bytes of s[0..n) whose encoding fits on the line from column col with room for a ';' after
 * it: whole UTF-8 sequences, at least one. */
static size_t section_bytes(size_t col, const char *s, size_t n)
{
	size_t k = 0;
	while (k < n) {
		size_t q = utf8_seq(s + k, n - k);
		size_t e = pct_len(s + k, q);
		if (k > 0 && col + e + 1 > MAIL_FOLD_AT)
			break;
		col += e;
		k += q;
	}
	return k;
}

/* RFC 2231 3: key*0*=utf-8''..., key*1*=..., one folded line each. A section never splits a
 * UTF-8 sequence: readers (Python's email among them) decode sections one by one. */
static void put_sections(struct mw *w, const char *key, const char *s, size_t n)
{
	for (unsigned i = 0; n > 0; i++) {
		put_cs(w, ";");
		fold(w);
		put_cs(w, key);
		put_cs(w, "*");
		put_num(w, i, i < 10 ? 1 : i < 100 ? 2 : 3);
		put_cs(w, "*=");
		if (i == 0)
			put_cs(w, RFC2231_PREFIX);
		size_t k = section_bytes(w->col, s, n);
		put_pct(w, s, k);
		s += k;
		n -= k;
	}
}

/* Appends the parameter key=s[0..n): a quoted-string when plain ASCII, else the RFC 2231
 * extended form, in sections when one line cannot hold it. */
static void put_param(struct mw *w, const char *key, const char *s, size_t n)
{
	size_t klen = strlen(key);
	if (plain_ascii(s, n, 1)) {
		param_sep(w, klen + n + 3);
		put_cs(w, key);
		put_cs(w, "=\"");
		put(w, s, n);
		put_cs(w, "\"");
		return;
	}
	size_t one = klen + 2 + (sizeof RFC2231_PREFIX - 1) + pct_len(s, n);
	if (1 + one > MAIL_FOLD_AT) {
		put_sections(w, key, s, n);
		return;
	}
	param_sep(w, one);
	put_cs(w, key);
	put_cs(w, "*=" RFC2231_PREFIX);
	put_pct(w, s, n);
}

/* ---- bodies -------------------------------------------------------------------------------- */

/* Length of the line at s[0..n) before its break; *brk gets the break's length: 0 at the end of
 * the text, 2 for CRLF, 1 for a lone LF or a lone CR. */
static size_t line_len(const char *s, size_t n, size_t *brk)
{
	size_t i = 0;
	while (i < n && s[i] != '\r' && s[i] != '\n')
		i++;
	if (i == n)
		*brk = 0;
	else
		*brk = s[i] == '\r' && i + 1 < n && s[i + 1] == '\n' ? 2 : 1;
	return i;
}

/* 1 when s[0..n) can be sent 7bit: printable ASCII or TAB, lines of at most MAIL_MAX_LINE. */
static int text_7bit(const char *s, size_t n)
{
	while (n > 0) {
		size_t brk, k = line_len(s, n, &brk);
		if (k > MAIL_MAX_LINE)
			return 0;
		for (size_t i = 0; i < k; i++) {
			unsigned char c = (unsigned char)s[i];
			if ((c < 0x20 && c != '\t') || c > 0x7e)
				return 0;
		}
		s += k + brk;
		n -= k + brk;
	}
	return 1;
}

/* 7bit body: every line break becomes CRLF, and a last line without one gets one. */
static void put_7bit(struct buf *b, const char *s, size_t n)
{
	while (n > 0) {
		size_t brk, k = line_len(s, n, &brk);
		buf_append(b, s, k);
		buf_append(b, "\r\n", 2);
		s += k + brk;
		n -= k + brk;
	}
}

/* Base64 body encoder: collects one output line of input, then encodes it. */
struct b64line {
	struct buf *b;
	size_t n;
	unsigned char raw[B64_LINE_RAW];
};

/* Feeds s[0..n) to l, writing every full line. */
static void b64l_put(struct b64line *l, const char *s, size_t n)
{
	while (n > 0) {
		size_t k = B64_LINE_RAW - l->n < n ? B64_LINE_RAW - l->n : n;
		memcpy(l->raw + l->n, s, k);
		l->n += k;
		s += k;
		n -= k;
		if (l->n == B64_LINE_RAW) {
			b64_encode(l->b, l->raw, l->n);
			buf_append(l->b, "\r\n", 2);
			l->n = 0;
		}
	}
}

/* Base64 body of s[0..n) with line breaks made CRLF (RFC 2045 6.8: canonical text first). */
static void put_b64_text(struct buf *b, const char *s, size_t n)
{
	struct b64line l = {.b = b, .n = 0};
	while (n > 0) {
		size_t brk, k = line_len(s, n, &brk);
		b64l_put(&l, s, k);
		if (brk > 0)
			b64l_put(&l, "\r\n", 2);
		s += k + brk;
		n -= k + brk;
	}
	if (l.n > 0) {
		b64_encode(b, l.raw, l.n);
		buf_append(b, "\r\n", 2);
	}
}

/* One text part: headers, blank line, body; 7bit only when `single` and the text allows. */
static void put_text_part(struct mw *w, const char *subtype, const struct notify_str *t, int single)
{
	int seven = single && text_7bit(t->p, t->len);
	put_cs(w, "Content-Type: text/");
	put_cs(w, subtype);
	put_cs(w, "; charset=utf-8");
	eol(w);
	put_cs(w, "Content-Transfer-Encoding: ");
	put_cs(w, seven ? "7bit" : "base64");
	eol(w);
	eol(w);
	if (seven)
		put_7bit(w->b, t->p, t->len);
	else
		put_b64_text(w->b, t->p, t->len);
}

/* Content-Type multipart/<subtype> with boundary prefix+id, then the blank line. */
static void put_multipart(struct mw *w, const char *subtype, const char *prefix, const char *id)
{
	put_cs(w, "Content-Type: multipart/");
	put_cs(w, subtype);
	put_cs(w, ";");
	fold(w);
	put_cs(w, "boundary=\"");
	put_cs(w, prefix);
	put_cs(w, id);
	put_cs(w, "\"");
	eol(w);
	eol(w);
}

/* A delimiter line "--boundary", or the close delimiter "--boundary--". Every part written
 * before it ends with CRLF, which RFC 2046 5.1.1 counts as the delimiter's own. */
static void put_delim(struct mw *w, const char *prefix, const char *id, int close)
{
	put_cs(w, "--");
	put_cs(w, prefix);
	put_cs(w, id);
	if (close)
		put_cs(w, "--");
	eol(w);
}

/* The text of the message: one text part, or multipart/alternative of both. */
static void put_content(struct mw *w, const struct notify_msg *m, const char *id, int single)
{
	if (m->html.len == 0 || m->text.len == 0) {
		int html = m->html.len > 0;
		put_text_part(w, html ? "html" : "plain", html ? &m->html : &m->text, single);
		return;
	}
	put_multipart(w, "alternative", BOUNDARY_ALT, id);
	put_delim(w, BOUNDARY_ALT, id, 0);
	put_text_part(w, "plain", &m->text, 0);
	put_delim(w, BOUNDARY_ALT, id, 0);
	put_text_part(w, "html", &m->html, 0);
	put_delim(w, BOUNDARY_ALT, id, 1);
}

/* 1 when s[0..n) starts with the lower-case ASCII prefix p, ignoring case. */
static int prefix_ci(const char *s, size_t n, const char *p)
{
	size_t k = strlen(p);
	if (n < k)
		return 0;
	for (size_t i = 0; i < k; i++) {
		char c = s[i] >= 'A' && s[i] <= 'Z' ? (char)(s[i] - 'A' + 'a') : s[i];
		if (c != p[i])
			return 0;
	}
	return 1;
}

/* One attachment part. RFC 2045 6.4 forbids base64 for multipart and message types, so those are
 * sent as application/octet-stream. Base64 content is checked again: it is written into the
 * body as is, and a line break in it could forge a boundary. */
static void put_attachment(struct mw *w, const struct notify_attachment *a)
{
	const struct notify_str *ct = &a->content_type, *data = &a->content_base64;
	put_cs(w, "Content-Type: ");
	if (prefix_ci(ct->p, ct->len, "multipart/") || prefix_ci(ct->p, ct->len, "message/"))
		put_cs(w, "application/octet-stream");
	else
		put(w, ct->p, ct->len);
	put_param(w, "name", a->name.p, a->name.len);
	eol(w);
	put_cs(w, "Content-Disposition: attachment");
	put_param(w, "filename", a->name.p, a->name.len);
	eol(w);
	put_cs(w, "Content-Transfer-Encoding: base64");
	eol(w);
	eol(w);
	if (b64_check(data->p, data->len) < 0)
		w->bad = 1;
	else if (data->len == 0)
		eol(w); /* an empty body, so the delimiter's CRLF is not the blank line's */
	else
		b64_wrap(w->b, data->p, data->len, MAIL_B64_LINE);
}

/* Content headers and body: the text alone, or multipart/mixed of the text and attachments. */
static void put_body(struct mw *w, const struct notify_msg *m, const char *id)
{
	if (m->n_att == 0) {
		put_content(w, m, id, 1);
		return;
	}
	put_multipart(w, "mixed", BOUNDARY_MIX, id);
	put_delim(w, BOUNDARY_MIX, id, 0);
	put_content(w, m, id, 0);
	for (unsigned i = 0; i < m->n_att; i++) {
		put_delim(w, BOUNDARY_MIX, id, 0);
		put_attachment(w, &m->att[i]);
	}
	put_delim(w, BOUNDARY_MIX, id, 1);
}

/* ---- the message --------------------------------------------------------------------------- */

/* 1 when id is 1..ID_MAX letters, digits and '-': safe in Message-ID and boundaries. */
static int id_ok(const char *id)
{
	size_t n = 0;
	for (; id[n] != '\0'; n++) {
		char c = id[n];
		if (n >= ID_MAX || !((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		                     (c >= '0' && c <= '9') || c == '-'))
			return 0;
	}
	return n > 0;
}

/* 1 when every count of m is within its array. */
static int counts_ok(const struct notify_msg *m)
{
	return m->n_to <= NOTIFY_MAX_RECIPIENTS && m->n_cc <= NOTIFY_MAX_RECIPIENTS &&
	       m->n_bcc <= NOTIFY_MAX_RECIPIENTS && m->n_reply_to <= NOTIFY_MAX_REPLY_TO &&
	       m->n_att <= NOTIFY_MAX_ATTACHMENTS;
}

/* see mail.h */
int mail_write(struct buf *b, const struct notify_msg *m, const struct mail_meta *meta)
{
	struct mw w = {b, 0, 0};
	struct notify_str from = m->from;
	if (from.len == 0 && meta->from)
		from = (struct notify_str){meta->from, strlen(meta->from)};
	if (from.len == 0 || !id_ok(meta->id) || !counts_ok(m))
		return -ERR_INTERNAL;
	put_addrs(&w, "From", &from, 1);
	if (m->n_to > 0)
		put_addrs(&w, "To", m->to, m->n_to);
	if (m->n_cc > 0)
		put_addrs(&w, "Cc", m->cc, m->n_cc);
	if (m->n_bcc > 0)
		put_addrs(&w, "Bcc", m->bcc, m->n_bcc);
	if (m->n_reply_to > 0)
		put_addrs(&w, "Reply-To", m->reply_to, m->n_reply_to);
	put_subject(&w, m->subject.p, m->subject.len);
	if (put_date(&w, meta->date) < 0)
		return -ERR_INTERNAL;
	put_ids(&w, meta->id, from);
	put_cs(&w, "MIME-Version: 1.0");
	eol(&w);
	put_body(&w, m, meta->id);
	return w.bad ? -ERR_INTERNAL : b->err;
}
