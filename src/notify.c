/*
 * notify.c: the request contract of notify.h. json_parse() checks the JSON; this file walks the
 * root object once, in document order, one small function per field kind, and stops at the first
 * fault with the field path and one line of detail. Decoded strings are laid down one after the
 * other in the caller's scratch; nothing allocates.
 */
#include "notify.h"

#include <string.h>

#include "b64.h"
#include "err.h"

#define STR_(x) #x
#define STR(x)  STR_(x) /* the text of a numeric constant, for fixed detail lines */

/* RFC 6838 4.2: a type or subtype name is at most 127 characters. */
#define MEDIA_MAX_NAME 127
/* RFC 1035 2.3.4: a DNS label is at most 63 octets. */
#define DNS_MAX_LABEL 63

/* Where a fault is: name, then "[idx]" when idx >= 0, then ".sub" when sub is set. name and sub
 * may be request text; they are sanitized when written into notify_error.field. */
struct where {
	const char *name;
	size_t name_len;
	int idx;
	const char *sub;
	size_t sub_len;
};

/* One notify_parse() call. */
struct ctx {
	const char *js;
	const struct json_tok *tok;
	int ntok; /* tokens json_parse() produced */
	char *scratch;
	size_t cap;
	size_t used; /* scratch bytes holding kept strings */
	const struct notify_policy *pol;
	struct notify_msg *msg;
	struct notify_error *e;
};

/* ---- errors --------------------------------------------------------------------------------- */

static struct where at(const char *name)
{
	return (struct where){name, strlen(name), -1, NULL, 0};
}

/* see notify.h */
void notify_put_sanitized(struct buf *b, const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		unsigned char ch = (unsigned char)s[i];
		if ((ch & 0xc0) == 0x80)
			continue; /* continuation byte: its lead byte gave the '?' */
		buf_putc(b, ch >= 0x20 && ch < 0x7f ? (char)ch : '?');
	}
}

/* Fills *c->e (field from w, or "" when w is NULL; detail = lead + detail, lead may be NULL)
 * and returns err. Both strings are truncated to fit and NUL-terminated. */
static int fail(struct ctx *c, int err, const struct where *w, const char *lead, const char *detail)
{
	struct buf b;
	buf_init(&b, c->e->field, sizeof c->e->field - 1);
	if (w) {
		notify_put_sanitized(&b, w->name, w->name_len);
		if (w->idx >= 0) {
			buf_putc(&b, '[');
			buf_put_u64(&b, (unsigned)w->idx);
			buf_putc(&b, ']');
		}
		if (w->sub) {
			buf_putc(&b, '.');
			notify_put_sanitized(&b, w->sub, w->sub_len);
		}
	}
	c->e->field[b.len] = '\0';
	buf_init(&b, c->e->detail, sizeof c->e->detail - 1);
	if (lead)
		buf_puts(&b, lead);
	buf_puts(&b, detail);
	c->e->detail[b.len] = '\0';
	c->e->err = err;
	return err;
}

/* ---- strings -------------------------------------------------------------------------------- */

/* Decodes string token i into the free scratch without keeping it. */
static int decode(struct ctx *c, int i, const struct where *w, struct notify_str *out)
{
	char *dst = c->scratch ? c->scratch + c->used : NULL;
	long n = json_str_decode(c->js, &c->tok[i], dst, c->cap - c->used);
	if (n == -ERR_OVERFLOW)
		return fail(c, -ERR_OVERFLOW, w, NULL, "scratch buffer too small for the request");
	if (n < 0)
		return fail(c, (int)n, w, NULL, "a \\u escape is a lone surrogate or U+0000");
	out->p = dst;
	out->len = (size_t)n;
	return 0;
}

/* Decodes string token i into scratch and keeps it there. */
static int take_str(struct ctx *c, int i, const struct where *w, struct notify_str *out)
{
	int r = decode(c, i, w, out);
	if (r == 0)
		c->used += out->len;
	return r;
}

/* Index of s[0..n) in names[0..count), or -1. */
static int lookup(const char *const *names, int count, const struct notify_str *s)
{
	for (int k = 0; k < count; k++)
		if (strlen(names[k]) == s->len && memcmp(names[k], s->p, s->len) == 0)
			return k;
	return -1;
}

/* 1 when s[0..n) holds a C0 control, DEL, a C1 control (U+0080..U+009F) or U+2028/U+2029.
 * s is valid UTF-8, so a lead byte is always followed by its continuation bytes. */
static int has_control(const char *s, size_t n)
{
	const unsigned char *p = (const unsigned char *)s;
	for (size_t i = 0; i < n; i++) {
		if (p[i] < 0x20 || p[i] == 0x7f)
			return 1;
		if (p[i] == 0xc2 && i + 1 < n && p[i + 1] <= 0x9f)
			return 1;
		if (p[i] == 0xe2 && i + 2 < n && p[i + 1] == 0x80 &&
		    (p[i + 2] == 0xa8 || p[i + 2] == 0xa9))
			return 1;
	}
	return 0;
}

static int is_alnum(unsigned char ch)
{
	return (ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z');
}

/* 1 when ch is in set (a NUL-terminated list); NUL itself never is. */
static int in_set(unsigned char ch, const char *set)
{
	return ch != 0 && strchr(set, ch) != NULL;
}

static unsigned char lower(unsigned char ch)
{
	return ch >= 'A' && ch <= 'Z' ? (unsigned char)(ch + 32) : ch;
}

/* ---- addresses ------------------------------------------------------------------------------ */

/* RFC 5322 3.2.3 dot-atom-text: runs of atext separated by single dots. */
static int dot_atom_ok(const char *s, size_t n)
{
	if (n == 0 || s[0] == '.' || s[n - 1] == '.')
		return 0;
	for (size_t i = 0; i < n; i++) {
		unsigned char ch = (unsigned char)s[i];
		if (ch == '.' ? s[i - 1] == '.'
		              : !is_alnum(ch) && !in_set(ch, "!#$%&'*+-/=?^_`{|}~"))
			return 0;
	}
	return 1;
}

/* RFC 1123 2.1 host name: LDH labels of 1..DNS_MAX_LABEL, no hyphen at either end, dots
 * between (no empty label, so no leading, trailing or double dot). */
static int domain_ok(const char *s, size_t n)
{
	size_t start = 0;
	for (size_t i = 0; i <= n; i++) {
		if (i < n && s[i] != '.') {
			if (!is_alnum((unsigned char)s[i]) && s[i] != '-')
				return 0;
			continue;
		}
		if (i == start || i - start > DNS_MAX_LABEL || s[start] == '-' || s[i - 1] == '-')
			return 0;
		start = i + 1;
	}
	return 1;
}

/* see notify.h */
int notify_addr_valid(const char *s, size_t n)
{
	const char *a = n > 0 ? memchr(s, '@', n) : NULL;
	size_t local;
	if (!a || n > NOTIFY_MAX_ADDR)
		return 0;
	local = (size_t)(a - s);
	return local <= NOTIFY_MAX_LOCAL && dot_atom_ok(s, local) &&
	       domain_ok(a + 1, n - local - 1);
}

/* see notify.h. An invalid address is written as "***" alone. */
void notify_addr_mask(struct buf *b, const char *s, size_t n)
{
	const char *a;
	if (!notify_addr_valid(s, n)) {
		buf_puts(b, "***");
		return;
	}
	a = memchr(s, '@', n);
	buf_putc(b, s[0]);
	buf_puts(b, "***@");
	buf_append(b, a + 1, n - (size_t)(a + 1 - s));
}

/* Decodes string token i as one address into *out. */
static int address(struct ctx *c, int i, const struct where *w, struct notify_str *out)
{
	int r = take_str(c, i, w, out);
	if (r < 0)
		return r;
	if (out->len > NOTIFY_MAX_ADDR)
		return fail(c, -ERR_FIELD_TOO_LONG, w, NULL,
		            "an e-mail address is at most " STR(NOTIFY_MAX_ADDR) " bytes");
	if (!notify_addr_valid(out->p, out->len))
		return fail(c, -ERR_FIELD_INVALID, w, NULL, "not a valid e-mail address");
	return 0;
}

static const char d_recipients[] =
    "at most " STR(NOTIFY_MAX_RECIPIENTS) " recipients in to_email, cc and bcc together";

/* to_email, cc, bcc, reply_to: a string or an array of strings, appended to dst[*count]. */
static int addr_list(struct ctx *c, int v, const struct where *w, struct notify_str *dst,
                     unsigned *count)
{
	const struct json_tok *t = &c->tok[v];
	const struct notify_msg *m = c->msg;
	int reply = dst == c->msg->reply_to;
	long n = t->type == JSON_ARRAY ? t->size : 1;
	if (t->type != JSON_STRING && t->type != JSON_ARRAY)
		return fail(c, -ERR_FIELD_TYPE, w, w->name,
		            " must be a string or an array of strings");
	if (!reply && n > NOTIFY_MAX_RECIPIENTS - (long)(m->n_to + m->n_cc + m->n_bcc))
		return fail(c, -ERR_TOO_MANY_RECIPIENTS, w, NULL, d_recipients);
	if (reply && n > NOTIFY_MAX_REPLY_TO)
		return fail(c, -ERR_TOO_MANY_ITEMS, w, NULL,
		            "at most " STR(NOTIFY_MAX_REPLY_TO) " reply_to addresses");
	if (t->type == JSON_STRING)
		return address(c, v, w, &dst[(*count)++]);
	for (int j = 0, i = v + 1; j < n; j++, i = json_next(c->tok, c->ntok, i)) {
		struct where wj = *w;
		int r;
		wj.idx = j;
		if (c->tok[i].type != JSON_STRING)
			return fail(c, -ERR_FIELD_TYPE, &wj, w->name,
			            " must be a string or an array of strings");
		r = address(c, i, &wj, &dst[(*count)++]);
		if (r < 0)
			return r;
	}
	return 0;
}

/* from: an address the policy lists (comma-separated, spaces around commas, any case). */
static int sender_allowed(const char *list, const struct notify_str *s)
{
	while (list && *list) {
		const char *end = strchr(list, ','), *a = list, *z;
		size_t k;
		if (!end)
			end = list + strlen(list);
		z = end;
		while (a < z && (*a == ' ' || *a == '\t'))
			a++;
		while (z > a && (z[-1] == ' ' || z[-1] == '\t'))
			z--;
		for (k = 0; k < s->len && a + k < z; k++)
			if (lower((unsigned char)a[k]) != lower((unsigned char)s->p[k]))
				break;
		if (k == s->len && a + k == z)
			return 1;
		list = *end ? end + 1 : end;
	}
	return 0;
}

static int sender(struct ctx *c, int v, const struct where *w)
{
	int r;
	if (c->tok[v].type != JSON_STRING)
		return fail(c, -ERR_FIELD_TYPE, w, NULL, "from must be a string");
	r = address(c, v, w, &c->msg->from);
	if (r < 0)
		return r;
	if (!sender_allowed(c->pol ? c->pol->allowed_senders : NULL, &c->msg->from))
		return fail(c, -ERR_SENDER_NOT_ALLOWED, w, NULL,
		            "this sender address is not allowed by the service configuration");
	return 0;
}

/* ---- subject and bodies --------------------------------------------------------------------- */

static int subject(struct ctx *c, int v, const struct where *w)
{
	struct notify_str *s = &c->msg->subject;
	int r;
	if (c->tok[v].type != JSON_STRING)
		return fail(c, -ERR_FIELD_TYPE, w, NULL, "subject must be a string");
	r = take_str(c, v, w, s);
	if (r < 0)
		return r;
	if (s->len == 0)
		return fail(c, -ERR_FIELD_INVALID, w, NULL, "subject must not be empty");
	if (s->len > NOTIFY_MAX_SUBJECT)
		return fail(c, -ERR_FIELD_TOO_LONG, w, NULL,
		            "subject is at most " STR(NOTIFY_MAX_SUBJECT) " bytes of UTF-8");
	if (has_control(s->p, s->len))
		return fail(c, -ERR_FIELD_INVALID, w, NULL,
		            "subject must not contain control characters or line breaks");
	return 0;
}

/* message, html: any string; emptiness is judged once all fields are read. */
static int body_text(struct ctx *c, int v, const struct where *w, struct notify_str *out)
{
	if (c->tok[v].type != JSON_STRING)
		return fail(c, -ERR_FIELD_TYPE, w, w->name, " must be a string");
	return take_str(c, v, w, out);
}

/* ---- attachments ---------------------------------------------------------------------------- */

enum { A_NAME, A_TYPE, A_DATA, A_COUNT };
static const char *const att_keys[A_COUNT] = {"name", "content_type", "content_base64"};

static int file_name(struct ctx *c, int v, const struct where *w, struct notify_str *s)
{
	int r = take_str(c, v, w, s);
	if (r < 0)
		return r;
	if (s->len == 0)
		return fail(c, -ERR_FIELD_INVALID, w, NULL, "attachment name must not be empty");
	if (s->len > NOTIFY_MAX_FILENAME)
		return fail(c, -ERR_FIELD_TOO_LONG, w, NULL,
		            "attachment name is at most " STR(NOTIFY_MAX_FILENAME) " bytes");
	if (has_control(s->p, s->len))
		return fail(c, -ERR_FIELD_INVALID, w, NULL,
		            "attachment name must not contain control characters");
	if (memchr(s->p, '/', s->len) || memchr(s->p, '\\', s->len))
		return fail(c, -ERR_FIELD_INVALID, w, NULL,
		            "attachment name must not contain '/' or '\\'");
	if ((s->len == 1 && s->p[0] == '.') || (s->len == 2 && !memcmp(s->p, "..", 2)))
		return fail(c, -ERR_FIELD_INVALID, w, NULL,
		            "attachment name must not be \".\" or \"..\"");
	return 0;
}

/* Length of the RFC 6838 4.2 restricted-name at the start of s[0..n): an ALPHA or DIGIT, then
 * ALPHA, DIGIT or "!#$&-^_.+", MEDIA_MAX_NAME at most. 0 when there is none or it is too long. */
static size_t restricted_name(const char *s, size_t n)
{
	size_t i = 1;
	if (n == 0 || !is_alnum((unsigned char)s[0]))
		return 0;
	while (i < n && (is_alnum((unsigned char)s[i]) || in_set((unsigned char)s[i], "!#$&-^_.+")))
		i++;
	return i <= MEDIA_MAX_NAME ? i : 0;
}

/* type "/" subtype, nothing else (no parameters). */
static int media_type_ok(const char *s, size_t n)
{
	size_t a = restricted_name(s, n), b;
	if (a == 0 || a >= n || s[a] != '/')
		return 0;
	b = restricted_name(s + a + 1, n - a - 1);
	return b > 0 && a + 1 + b == n;
}

static int content_type(struct ctx *c, int v, const struct where *w, struct notify_str *s)
{
	int r = take_str(c, v, w, s);
	if (r < 0)
		return r;
	if (s->len > NOTIFY_MAX_CONTENT_TYPE)
		return fail(c, -ERR_FIELD_TOO_LONG, w, NULL,
		            "content_type is at most " STR(NOTIFY_MAX_CONTENT_TYPE) " bytes");
	if (!media_type_ok(s->p, s->len))
		return fail(c, -ERR_FIELD_INVALID, w, NULL,
		            "content_type must be type/subtype (RFC 6838), without parameters");
	return 0;
}

static int content_data(struct ctx *c, int v, const struct where *w, struct notify_attachment *a)
{
	long n;
	int r = take_str(c, v, w, &a->content_base64);
	if (r < 0)
		return r;
	if (a->content_base64.len == 0)
		return fail(c, -ERR_FIELD_INVALID, w, NULL, "attachment is empty");
	n = b64_check(a->content_base64.p, a->content_base64.len);
	if (n < 0)
		return fail(c, -ERR_FIELD_INVALID, w, NULL,
		            "content_base64 must be canonical base64 (RFC 4648, padded, one line)");
	a->size = (size_t)n;
	return 0;
}

/* One attachment object at token v: exactly name, content_type and content_base64. */
static int attachment(struct ctx *c, int v, const struct where *w, struct notify_attachment *a)
{
	unsigned seen = 0;
	struct where wk = *w;
	if (c->tok[v].type != JSON_OBJECT)
		return fail(c, -ERR_FIELD_TYPE, w, NULL,
		            "an attachment must be an object with name, content_type and "
		            "content_base64");
	for (int m = 0, i = v + 1; m < c->tok[v].size; m++, i = json_next(c->tok, c->ntok, i + 1)) {
		struct notify_str key;
		int k, r = decode(c, i, w, &key);
		if (r < 0)
			return r;
		wk.sub = key.p;
		wk.sub_len = key.len;
		k = lookup(att_keys, A_COUNT, &key);
		if (k < 0)
			return fail(c, -ERR_FIELD_UNKNOWN, &wk, NULL,
			            "unknown attachment field; known: name, content_type, "
			            "content_base64");
		wk.sub = att_keys[k]; /* the decoded key is overwritten by the value below */
		wk.sub_len = strlen(att_keys[k]);
		if (seen & 1u << k)
			return fail(c, -ERR_FIELD_DUPLICATE, &wk, NULL, "this field appears twice");
		seen |= 1u << k;
		if (c->tok[i + 1].type != JSON_STRING)
			return fail(c, -ERR_FIELD_TYPE, &wk, att_keys[k], " must be a string");
		r = k == A_NAME   ? file_name(c, i + 1, &wk, &a->name)
		    : k == A_TYPE ? content_type(c, i + 1, &wk, &a->content_type)
		                  : content_data(c, i + 1, &wk, a);
		if (r < 0)
			return r;
	}
	for (int k = 0; k < A_COUNT; k++) {
		wk.sub = att_keys[k];
		wk.sub_len = strlen(att_keys[k]);
		if (!(seen & 1u << k))
			return fail(c, -ERR_FIELD_MISSING, &wk, att_keys[k], " is required");
	}
	return 0;
}

static int attachments(struct ctx *c, int v, const struct where *w)
{
	const struct json_tok *t = &c->tok[v];
	if (t->type != JSON_ARRAY)
		return fail(c, -ERR_FIELD_TYPE, w, NULL, "attachments must be an array of objects");
	if (t->size > NOTIFY_MAX_ATTACHMENTS)
		return fail(c, -ERR_TOO_MANY_ITEMS, w, NULL,
		            "at most " STR(NOTIFY_MAX_ATTACHMENTS) " attachments");
	for (int j = 0, i = v + 1; j < t->size; j++, i = json_next(c->tok, c->ntok, i)) {
		struct where wj = *w;
		int r;
		wj.idx = j;
		r = attachment(c, i, &wj, &c->msg->att[j]);
		if (r < 0)
			return r;
		c->msg->n_att++;
	}
	return 0;
}

/* ---- the request ---------------------------------------------------------------------------- */

enum {
	K_TO,
	K_CC,
	K_BCC,
	K_REPLY_TO,
	K_SUBJECT,
	K_MESSAGE,
	K_HTML,
	K_ATTACHMENTS,
	K_FROM,
	K_COUNT
};
static const char *const root_keys[K_COUNT] = {
    "to_email", "cc", "bcc", "reply_to", "subject", "message", "html", "attachments", "from",
};

/* The value at token v of root key k. */
static int root_field(struct ctx *c, int k, int v)
{
	struct notify_msg *m = c->msg;
	const struct where w = at(root_keys[k]);
	switch (k) {
	case K_TO:
		return addr_list(c, v, &w, m->to, &m->n_to);
	case K_CC:
		return addr_list(c, v, &w, m->cc, &m->n_cc);
	case K_BCC:
		return addr_list(c, v, &w, m->bcc, &m->n_bcc);
	case K_REPLY_TO:
		return addr_list(c, v, &w, m->reply_to, &m->n_reply_to);
	case K_SUBJECT:
		return subject(c, v, &w);
	case K_MESSAGE:
		return body_text(c, v, &w, &m->text);
	case K_HTML:
		return body_text(c, v, &w, &m->html);
	case K_ATTACHMENTS:
		return attachments(c, v, &w);
	default:
		return sender(c, v, &w);
	}
}

/* Every member of the root object, in document order. */
static int walk_root(struct ctx *c)
{
	unsigned seen = 0;
	for (int m = 0, i = 1; m < c->tok[0].size; m++, i = json_next(c->tok, c->ntok, i + 1)) {
		struct notify_str key;
		struct where w;
		int k, r = decode(c, i, NULL, &key);
		if (r < 0)
			return r;
		w = (struct where){key.p, key.len, -1, NULL, 0};
		k = lookup(root_keys, K_COUNT, &key);
		if (k < 0)
			return fail(c, -ERR_FIELD_UNKNOWN, &w, NULL,
			            "unknown field; known: to_email, cc, bcc, reply_to, subject, "
			            "message, html, attachments, from");
		if (seen & 1u << k)
			return fail(c, -ERR_FIELD_DUPLICATE, &w, NULL, "this field appears twice");
		seen |= 1u << k;
		r = root_field(c, k, i + 1);
		if (r < 0)
			return r;
	}
	return 0;
}

/* What must be present once every member is read. */
static int required(struct ctx *c)
{
	const struct notify_msg *m = c->msg;
	struct where w;
	if (m->n_to == 0) {
		w = at("to_email");
		return fail(c, -ERR_FIELD_MISSING, &w, NULL,
		            "to_email is required (an address or a non-empty array)");
	}
	if (m->subject.len == 0) {
		w = at("subject");
		return fail(c, -ERR_FIELD_MISSING, &w, NULL, "subject is required");
	}
	if (m->text.len == 0 && m->html.len == 0) {
		w = at("message");
		return fail(c, -ERR_FIELD_MISSING, &w, NULL, "message or html is required");
	}
	return 0;
}

static const char *parse_detail(int r)
{
	if (r == -ERR_BAD_UTF8)
		return "request body is not valid UTF-8";
	if (r == -ERR_JSON_TOO_COMPLEX)
		return "request body has too many JSON values or nests too deeply";
	return "request body is not valid JSON";
}

/* see notify.h */
int notify_parse(const char *body, size_t len, struct json_tok *tok, unsigned ntok, char *scratch,
                 size_t scratch_cap, const struct notify_policy *pol, struct notify_msg *msg,
                 struct notify_error *e)
{
	struct ctx c = {body, tok, 0, scratch, scratch_cap, 0, pol, msg, e};
	int n = json_parse(body, len, tok, ntok);
	memset(msg, 0, sizeof *msg);
	e->err = 0;
	e->field[0] = '\0';
	e->detail[0] = '\0';
	if (n < 0)
		return fail(&c, n, NULL, NULL, parse_detail(n));
	if (tok[0].type != JSON_OBJECT)
		return fail(&c, -ERR_FIELD_TYPE, NULL, NULL, "request body must be a JSON object");
	c.ntok = n;
	int r = walk_root(&c);
	return r < 0 ? r : required(&c);
}
