/*
 * delivery.c: the delivery reports of delivery.h. delivery_begin() takes the string and Base64
 * layers off the queue message and parses the innermost JSON once; delivery_next() walks the
 * events, finding members by scanning objects (first match, ASCII case-insensitive) and decoding
 * the strings it keeps, cut at their limits, into the report. Nothing allocates.
 */
#include "delivery.h"

#include <string.h>

#include "b64.h"
#include "err.h"

/* The status message is decoded up to this many bytes before masking, so an address that spans
 * the DELIVERY_DETAIL_MAX cut is masked whole; SMTP reply lines are at most 512 octets. */
#define DETAIL_SOURCE_MAX 1024

static const char type_report[] = "Microsoft.Communication.EmailDeliveryReportReceived",
                  type_engagement[] =
                      "Microsoft.Communication.EmailEngagementTrackingReportReceived";

/* In enum delivery_status order. */
static const char *const status_names[] = {"Delivered",   "Bounced", "Suppressed", "FilteredSpam",
                                           "Quarantined", "Failed",  "Expanded",   "Other"};

/* see delivery.h */
const char *delivery_status_name(enum delivery_status s)
{
	return (unsigned)s <= DELIVERY_OTHER ? status_names[s] : status_names[DELIVERY_OTHER];
}

static int is_ws(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

static unsigned char lower(unsigned char c)
{
	return c >= 'A' && c <= 'Z' ? (unsigned char)(c + 32) : c;
}

/* 1 when s[0..n) equals the NUL-terminated name, ASCII case-insensitively. */
static int ieq(const char *s, size_t n, const char *name)
{
	if (strlen(name) != n)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (lower((unsigned char)s[i]) != lower((unsigned char)name[i]))
			return 0;
	return 1;
}

/* ---- the layers ---------------------------------------------------------------------------- */

/* see delivery.h */
int delivery_begin(struct delivery_iter *it, const char *text, size_t len, struct json_tok *tok,
                   unsigned ntok, char *scratch, size_t cap)
{
	const char *cur = text;
	size_t n = len, half = cap / 2;
	int side = 0;
	memset(it, 0, sizeof *it);
	for (int layer = 0;; layer++) {
		while (n > 0 && is_ws(cur[0]))
			cur++, n--;
		while (n > 0 && is_ws(cur[n - 1]))
			n--;
		if (n == 0)
			return -ERR_JSON_SYNTAX;
		if (cur[0] == '{' || cur[0] == '[') {
			int nt = json_parse(cur, n, tok, ntok);
			if (nt < 0)
				return nt;
			it->js = cur;
			it->tok = tok;
			it->ntok = nt;
			it->next = tok[0].type == JSON_ARRAY ? 1 : 0;
			it->remaining = tok[0].type == JSON_ARRAY ? tok[0].size : 1;
			return it->remaining;
		}
		if (layer == DELIVERY_MAX_LAYERS)
			return -ERR_JSON_SYNTAX;
		char *dst = scratch + (side ? half : 0);
		long m;
		if (cur[0] == '"') { /* a JSON string: its text is the next layer */
			int nt = json_parse(cur, n, tok, ntok);
			if (nt < 0)
				return nt;
			m = json_str_decode(cur, &tok[0], dst, half);
			if (m < 0)
				return m == -ERR_OVERFLOW ? -ERR_OVERFLOW : -ERR_BAD_UTF8;
		} else { /* Base64 of the next layer, or garbage */
			m = b64_decode(cur, n, (unsigned char *)dst, half);
			if (m < 0)
				return m == -ERR_OVERFLOW ? -ERR_OVERFLOW : -ERR_JSON_SYNTAX;
		}
		cur = dst;
		n = (size_t)m;
		side ^= 1;
	}
}

/* ---- the events ---------------------------------------------------------------------------- */

/* Value index of the first member `name` of object obj, or -1 (also when obj is no object). */
static int member(const struct delivery_iter *it, int obj, const char *name)
{
	const struct json_tok *t = it->tok;
	if (obj < 0 || t[obj].type != JSON_OBJECT)
		return -1;
	for (int k = obj + 1, m = 0; m < t[obj].size && k + 1 < it->ntok; m++) {
		if (ieq(it->js + t[k].start, (size_t)(t[k].end - t[k].start), name))
			return k + 1;
		k = json_next(t, it->ntok, k + 1);
	}
	return -1;
}

/* Largest boundary <= cut of the raw string r[0..n) that does not split an escape (a surrogate
 * pair \uD8xx\uDCxx counts as one). */
static size_t escape_boundary(const char *r, size_t n, size_t cut)
{
	size_t i = 0;
	while (i < n) {
		size_t step = 1;
		if (r[i] == '\\') {
			step = i + 1 < n && r[i + 1] == 'u' ? 6 : 2;
			char h = (char)(i + 3 < n ? r[i + 3] | 0x20 : 0);
			if (step == 6 && i + 12 <= n && (r[i + 2] | 0x20) == 'd' &&
			    (h == '8' || h == '9' || h == 'a' || h == 'b') && r[i + 6] == '\\')
				step = 12;
		}
		if (i + step > cut)
			return i;
		i += step;
	}
	return n;
}

/* Length of s[0..n) without a UTF-8 sequence cut at its end. */
static size_t utf8_whole(const char *s, size_t n)
{
	size_t k = n, back = 0;
	while (k > 0 && back < 4 && ((unsigned char)s[k - 1] & 0xC0) == 0x80)
		k--, back++;
	if (k == 0)
		return n;
	unsigned char c = (unsigned char)s[k - 1];
	size_t need = c < 0x80 ? 1 : c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : c >= 0xC0 ? 2 : 1;
	return k - 1 + need > n ? k - 1 : n;
}

/* Decodes string token v into out[0..cap), cut on a UTF-8 boundary, NUL-terminated. Returns the
 * length, 0 for null, -1 when v is absent, not a string, or holds \u0000 or a lone surrogate.
 * *cut (may be NULL) is set when the text was longer. */
static long take(const struct delivery_iter *it, int v, char *out, size_t cap, int *cut)
{
	out[0] = 0;
	if (cut)
		*cut = 0;
	if (v < 0)
		return -1;
	const struct json_tok *t = &it->tok[v];
	if (t->type == JSON_PRIMITIVE && it->js[t->start] == 'n')
		return 0;
	if (t->type != JSON_STRING)
		return -1;
	size_t raw = (size_t)(t->end - t->start), lim = raw;
	if (raw > cap - 1) {
		lim = escape_boundary(it->js + t->start, raw, cap - 1);
		if (cut)
			*cut = 1;
	}
	struct json_tok sub = *t;
	sub.end = sub.start + (int)lim;
	long m = json_str_decode(it->js, &sub, out, cap - 1);
	if (m < 0) {
		out[0] = 0;
		return -1;
	}
	m = (long)utf8_whole(out, (size_t)m);
	out[m] = 0;
	return m;
}

/* atext of RFC 5322 plus '.', the characters of a local part. */
static int is_local(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       (c && strchr("!#$%&'*+/=?^_`{|}~.-", c));
}

static int is_domain(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       c == '.' || c == '-';
}

/* Appends s[0..n) to out at *o if it fits whole before cap - 1; 0 when it did not. */
static int put(char *out, size_t cap, size_t *o, const char *s, size_t n)
{
	if (*o + n > cap - 1)
		return 0;
	memcpy(out + *o, s, n);
	*o += n;
	return 1;
}

/* see delivery.h */
size_t delivery_mask_text(const char *s, size_t n, char *out, size_t cap)
{
	size_t o = 0, i = 0;
	int ok = 1;
	while (ok && i < n) {
		unsigned char c = (unsigned char)s[i];
		if (is_local(c)) {
			size_t j = i;
			while (j < n && is_local((unsigned char)s[j]))
				j++;
			size_t d = j + 1;
			while (j < n && s[j] == '@' && d < n && is_domain((unsigned char)s[d]))
				d++;
			if (j < n && s[j] == '@' && d > j + 1) { /* local@domain: masked */
				while (d < n &&
				       s[d] == '@') { /* a@b@c: only the last domain shows */
					j = d++;
					while (d < n && is_domain((unsigned char)s[d]))
						d++;
				}
				ok = put(out, cap, &o, s + i, 1) && put(out, cap, &o, "***@", 4) &&
				     put(out, cap, &o, s + j + 1, d - j - 1);
				i = d;
			} else {
				for (; ok && i < j; i++)
					ok = put(out, cap, &o, s + i, 1);
			}
			continue;
		}
		if (c < 0x20 || c == 0x7F) {
			ok = put(out, cap, &o, " ", 1);
			i++;
			continue;
		}
		size_t k = c < 0x80 ? 1 : c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : 2;
		if (k > n - i)
			k = n - i;
		ok = put(out, cap, &o, s + i, k);
		i += k;
	}
	out[o] = 0;
	return o;
}

static void malformed(struct delivery_report *r, const char *why)
{
	r->kind = DELIVERY_MALFORMED;
	r->why = why;
}

/* data.deliveryStatusDetails.statusMessage, masked, into r->detail. */
static void detail(const struct delivery_iter *it, int data, struct delivery_report *r)
{
	char src[DETAIL_SOURCE_MAX];
	int cut = 0;
	long n = take(it, member(it, member(it, data, "deliveryStatusDetails"), "statusMessage"),
	              src, sizeof src, &cut);
	if (n <= 0)
		return;
	while (cut && n > 0 && is_local((unsigned char)src[n - 1])) /* maybe half an address */
		n--;
	delivery_mask_text(src, (size_t)n, r->detail, sizeof r->detail);
}

/* see delivery.h */
int delivery_next(struct delivery_iter *it, struct delivery_report *r)
{
	if (it->remaining <= 0 || it->next >= it->ntok)
		return 0;
	int ev = it->next;
	it->next = json_next(it->tok, it->ntok, ev);
	it->remaining--;
	memset(r, 0, sizeof *r);
	if (it->tok[ev].type != JSON_OBJECT) {
		malformed(r, "an event is not a JSON object");
		return 1;
	}
	take(it, member(it, ev, "id"), r->event_id, sizeof r->event_id, 0);
	int ty = member(it, ev, "eventType");
	if (ty < 0)
		ty = member(it, ev, "type"); /* the CloudEvents 1.0 schema */
	if (take(it, ty, r->event_type, sizeof r->event_type, 0) <= 0) {
		malformed(r, "an event without eventType");
		return 1;
	}
	int engagement = strcmp(r->event_type, type_engagement) == 0;
	if (!engagement && strcmp(r->event_type, type_report) != 0) {
		r->kind = DELIVERY_FOREIGN;
		r->why = "an event of another type";
		return 1;
	}
	int data = member(it, ev, "data");
	if (data < 0 || it->tok[data].type != JSON_OBJECT) {
		malformed(r, "data is not an object");
		return 1;
	}
	if (take(it, member(it, data, "messageId"), r->message_id, sizeof r->message_id, 0) <= 0) {
		malformed(r, "data.messageId is missing or not a string");
		return 1;
	}
	take(it, member(it, data, "recipient"), r->recipient, sizeof r->recipient, 0);
	if (engagement) {
		r->kind = DELIVERY_ENGAGEMENT;
		take(it, member(it, data, "engagementType"), r->status_text, sizeof r->status_text,
		     0);
		take(it, member(it, data, "userActionTimestamp"), r->attempt_time,
		     sizeof r->attempt_time, 0);
		return 1;
	}
	if (take(it, member(it, data, "status"), r->status_text, sizeof r->status_text, 0) <= 0) {
		malformed(r, "data.status is missing or not a string");
		return 1;
	}
	r->kind = DELIVERY_REPORT;
	r->status = DELIVERY_OTHER;
	for (int s = DELIVERY_DELIVERED; s < DELIVERY_OTHER; s++)
		if (ieq(r->status_text, strlen(r->status_text), status_names[s]))
			r->status = (enum delivery_status)s;
	take(it, member(it, data, "deliveryAttemptTimestamp"), r->attempt_time,
	     sizeof r->attempt_time, 0);
	detail(it, data, r);
	return 1;
}
