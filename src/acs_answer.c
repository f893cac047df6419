/* acs_answer.c: the answers of ACS and their classification (acs_answer.h). */
#include "acs_answer.h"

#include <string.h>

#include "buf.h"
#include "err.h"

/* see acs_answer.h */
void acs_copy_str(char *dst, size_t cap, const char *s, size_t n)
{
	if (n >= cap)
		n = cap - 1;
	memcpy(dst, s, n);
	dst[n] = 0;
}

/* Length of the longest prefix of s[0..n) that ends on a UTF-8 character boundary (s is
 * valid UTF-8 cut anywhere). */
static size_t utf8_prefix(const char *s, size_t n)
{
	size_t k = n;
	while (k > 0 && ((unsigned char)s[k - 1] & 0xC0) == 0x80)
		k--; /* continuation bytes of the last character */
	if (k == 0)
		return 0;
	unsigned char lead = (unsigned char)s[k - 1];
	size_t need = lead < 0x80 ? 1 : lead >= 0xF0 ? 4 : lead >= 0xE0 ? 3 : 2;
	return n - (k - 1) >= need ? n : k - 1;
}

/* see acs_answer.h */
void acs_detail(struct transport_result *r, const char *a, const char *b, const char *c)
{
	size_t cap = sizeof r->detail - 1, la = strlen(a), lb = b ? strlen(b) : 0;
	size_t lc = c ? strlen(c) : 0;
	if (la + lb + lc > cap)
		lb = la + lc >= cap ? 0 : utf8_prefix(b, cap - la - lc);
	struct buf d;
	buf_init(&d, r->detail, sizeof r->detail);
	buf_puts(&d, a);
	buf_append(&d, b, lb);
	if (c)
		buf_puts(&d, c);
	size_t n = d.len < cap ? d.len : cap;
	r->detail[utf8_prefix(r->detail, n)] =
	    0; /* a or c alone too long: cut between characters */
}

/* Copies string token t decoded into out, cut to cap - 1 bytes between characters; control
 * characters (C0, DEL, C1) and the Unicode line and paragraph separators become spaces, so a
 * message can go into one log line or one detail line. */
static void take_str(const char *js, const struct json_tok *t, char *out, size_t cap)
{
	out[0] = 0;
	if (t->type != JSON_STRING)
		return;
	/* Decode at most sizeof tmp raw bytes, cut before any escape or UTF-8 sequence that the
	 * limit would split (a split escape or surrogate pair would not decode). An escape takes
	 * up to 6 raw bytes per decoded byte (\u0001), so 6 x the kept length always fills out. */
	char tmp[ACS_MESSAGE_MAX * 6];
	int end = t->start;
	while (end < t->end) {
		int len = 1;
		unsigned char c = (unsigned char)js[end];
		if (c == '\\') {
			len = js[end + 1] != 'u' ? 2 : 6;
			if (len == 6 && end + 3 < t->end &&
			    (js[end + 2] == 'd' || js[end + 2] == 'D') &&
			    strchr("89abAB", js[end + 3]))
				len = 12; /* a high surrogate: the pair goes whole */
		} else if (c >= 0xF0) {
			len = 4;
		} else if (c >= 0xE0) {
			len = 3;
		} else if (c >= 0xC0) {
			len = 2;
		}
		if (end + len > t->end || end + len - t->start > (int)sizeof tmp)
			break;
		end += len;
	}
	const struct json_tok cut = {t->type, t->start, end, t->size};
	long n = json_str_decode(js, &cut, tmp, sizeof tmp);
	if (n < 0)
		n = 0;
	size_t k = utf8_prefix(tmp, (size_t)n < cap ? (size_t)n : cap - 1);
	for (size_t i = 0; i < k; i++) {
		unsigned char c = (unsigned char)tmp[i];
		out[i] = c < 0x20 || c == 0x7f ? ' ' : (char)c;
		if (c == 0xC2 && i + 1 < k && (unsigned char)tmp[i + 1] < 0xA0) /* U+0080-U+009F */
			out[i] = ' ', out[++i] = ' ';
		else if (c == 0xE2 && i + 2 < k && (unsigned char)tmp[i + 1] == 0x80 &&
		         ((unsigned char)tmp[i + 2] == 0xA8 || (unsigned char)tmp[i + 2] == 0xA9))
			out[i] = ' ', out[++i] = ' ', out[++i] = ' '; /* U+2028, U+2029 */
	}
	out[k] = 0;
}

/* see acs_answer.h */
int acs_answer_parse(const char *body, size_t n, struct json_tok *tok, unsigned ntok,
                     struct acs_answer *out)
{
	memset(out, 0, sizeof *out);
	size_t i = 0;
	while (i < n && (body[i] == ' ' || body[i] == '\t' || body[i] == '\r' || body[i] == '\n'))
		i++;
	if (i == n)
		return 0; /* empty: the status line and x-ms-error-code have to do */
	int nt = json_parse(body, n, tok, ntok);
	if (nt < 0)
		return nt == -ERR_JSON_TOO_COMPLEX ? nt : -ERR_JSON_SYNTAX;
	int v;
	if ((v = json_member(body, tok, nt, 0, "id")) > 0)
		take_str(body, &tok[v], out->id, sizeof out->id);
	if ((v = json_member(body, tok, nt, 0, "status")) > 0)
		take_str(body, &tok[v], out->status, sizeof out->status);
	int e = json_member(body, tok, nt, 0, "error");
	if (e > 0 && tok[e].type == JSON_OBJECT) {
		if ((v = json_member(body, tok, nt, e, "code")) > 0)
			take_str(body, &tok[v], out->code, sizeof out->code);
		if ((v = json_member(body, tok, nt, e, "message")) > 0)
			take_str(body, &tok[v], out->message, sizeof out->message);
		if ((v = json_member(body, tok, nt, e, "target")) > 0)
			take_str(body, &tok[v], out->target, sizeof out->target);
	}
	return 0;
}

/* see acs_answer.h */
void acs_answer_read(const struct http_response *res, const char *body, size_t n,
                     struct json_tok *tok, unsigned ntok, struct acs_answer *out)
{
	acs_answer_parse(body, n, tok, ntok, out);
	if (out->code[0])
		return;
	/* an empty error body: x-ms-error-code has to do (Send, "Responses": ErrorResponse and
	 * the x-ms-error-code header carry the same code) */
	const struct http_header *ec = http_response_header_find(res, "x-ms-error-code");
	if (!ec)
		return;
	size_t k = 0; /* codes are identifiers: keep the leading [A-Za-z0-9._-] run */
	while (k < ec->value_len && k < sizeof out->code - 1 &&
	       (strchr("._-", ec->value[k]) || (ec->value[k] >= '0' && ec->value[k] <= '9') ||
	        ((ec->value[k] | 0x20) >= 'a' && (ec->value[k] | 0x20) <= 'z')))
		k++;
	acs_copy_str(out->code, sizeof out->code, ec->value, k);
}

/* see acs_answer.h */
int acs_classify(int status, const struct acs_answer *ans, int bearer, int retry_after_s,
                 struct transport_result *r)
{
	const char *code = ans->code;
	const char *msg = ans->message[0] ? ans->message : http_reason(status);
	acs_copy_str(r->code, sizeof r->code, code, strlen(code));
	r->retry_after_s = 0;
	r->retryable = 0;
	if (!strcmp(code, "DomainNotLinked")) {
		r->http_status = 502;
		acs_detail(
		    r,
		    "DomainNotLinked: the sender's domain is not linked to this Communication "
		    "Services resource; connect the e-mail domain (Email > Domains > Connect)",
		    0, 0);
		return -ERR_ACS_CONFIG;
	}
	if ((status == 400 || status == 404) &&
	    (strstr(code, "ApiVersion") || strstr(ans->message, "api-version"))) {
		r->http_status = 502;
		acs_detail(r, "ACS refused the api-version (", msg,
		           "); set ACS_API_VERSION to 2023-03-31 or 2025-09-01");
		return -ERR_ACS_CONFIG;
	}
	if (!strcmp(code, "InvalidSenderUserName") ||
	    (status == 400 && !strcmp(ans->target, "senderAddress")) ||
	    (status == 400 && strstr(ans->message, "'senderAddress'"))) {
		r->http_status = 502;
		acs_detail(r, "sender address refused (", msg,
		           "); EMAIL_SENDER must be a bare MailFrom address of a linked domain");
		return -ERR_ACS_CONFIG;
	}
	switch (status) {
	case 401:
		r->http_status = 502;
		r->retryable = 1; /* a key or role fixed later: the queue keeps the message */
		acs_detail(r,
		           bearer ? "ACS refused the managed-identity token ("
		                  : "ACS refused the signature (",
		           msg,
		           bearer ? "); check ACS_ENDPOINT"
		                  : "); check the connection string (endpoint and "
		                    "access key) and the system clock");
		return -ERR_ACS_CONFIG;
	case 403:
		r->http_status = 502;
		r->retryable = 1; /* a new role assignment can take hours to reach tokens:
		            overview-managed-identity, "REST endpoint reference" */
		acs_detail(
		    r, "ACS denied the request (", msg,
		    bearer ? "); the managed identity lacks a role on the Communication Services "
		             "resource (Communication and Email Service Owner)"
		           : ")");
		return -ERR_ACS_CONFIG;
	case 404:
		r->http_status = 502;
		acs_detail(r, "ACS answered 404 (", msg,
		           "); check ACS_ENDPOINT and the api-version");
		return -ERR_ACS_CONFIG;
	case 413:
		r->http_status = 413;
		acs_detail(r, "ACS refused the message as too large (", msg,
		           "); the whole request, attachments included, must stay under 10 MB");
		return -ERR_BODY_TOO_LARGE;
	case 429:
		r->http_status = 429;
		r->retryable = 1;
		r->retry_after_s = retry_after_s > 0 ? retry_after_s : 60;
		acs_detail(
		    r,
		    "ACS throttled this subscription; retry later (Azure-managed domains allow "
		    "5 e-mails a minute and 10 an hour; a verified custom domain allows more)",
		    0, 0);
		return -ERR_ACS_THROTTLED;
	case 503:
		r->http_status = 503;
		r->retryable = 1;
		r->retry_after_s = retry_after_s > 0 ? retry_after_s : 30;
		acs_detail(r, "ACS is unavailable (", msg, "); retry later");
		return -ERR_UPSTREAM_UNAVAILABLE;
	}
	if (status == 408 || status >= 500) {
		r->http_status = status == 504 || status == 408 ? 504 : 502;
		r->retryable = 1;
		acs_detail(r, "ACS kept failing (", msg, ")");
		return status == 504 || status == 408 ? -ERR_UPSTREAM_TIMEOUT : -ERR_UPSTREAM;
	}
	/* 400 and the other 4xx: the message itself was refused; show ACS's words. */
	r->http_status = 422;
	acs_detail(r, "ACS rejected the message: ", msg, 0);
	return -ERR_ACS_REJECTED;
}
