/*
 * acs.c: the ACS Email client of acs.h: body, answers, retries, the managed-identity token, and
 * the HTTP/1.1 exchange over TLS (or plain TCP for the identity endpoint).
 */
#include "acs.h"

#include <errno.h>
#include <limits.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "dns.h"
#include "err.h"
#include "sock.h"
#include "id.h"
#include "log.h"

#define STR_(x) #x
#define STR(x)  STR_(x)

/* The managed-identity resource of ACS [5.1] and the token API version [5.2]. */
static const char identity_query[] =
    "resource=https%3A%2F%2Fcommunication.azure.com%2F&api-version=2019-08-01";

static void copy_str(char *dst, size_t cap, const char *s, size_t n)
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

/* Writes one detail line into r->detail: a, then b, then c. When the three do not fit, b (the
 * service's own words) is shortened, on a character boundary, so the hint in c survives. */
static void detail(struct transport_result *r, const char *a, const char *b, const char *c)
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

/* ---- the EmailMessage body [2.3] ------------------------------------------------------------- */

static void put_key(struct buf *b, const char *key)
{
	buf_putc(b, '"');
	buf_puts(b, key);
	buf_puts(b, "\":");
}

static void put_addresses(struct buf *b, const char *key, const struct notify_str *a, unsigned n)
{
	put_key(b, key);
	buf_putc(b, '[');
	for (unsigned i = 0; i < n; i++) {
		buf_puts(b, i ? ",{\"address\":" : "{\"address\":");
		json_put_str(b, a[i].p, a[i].len);
		buf_putc(b, '}');
	}
	buf_putc(b, ']');
}

/* see acs.h */
void acs_email_json(struct buf *b, const struct notify_msg *m, const char *sender)
{
	buf_puts(b, "{\"senderAddress\":");
	if (m->from.len)
		json_put_str(b, m->from.p, m->from.len);
	else
		json_put_cstr(b, sender);
	buf_puts(b, ",\"content\":{\"subject\":");
	json_put_str(b, m->subject.p, m->subject.len);
	if (m->text.len) {
		buf_puts(b, ",\"plainText\":");
		json_put_str(b, m->text.p, m->text.len);
	}
	if (m->html.len) {
		buf_puts(b, ",\"html\":");
		json_put_str(b, m->html.p, m->html.len);
	}
	buf_puts(b, "},\"recipients\":{");
	put_addresses(b, "to", m->to, m->n_to);
	if (m->n_cc) {
		buf_putc(b, ',');
		put_addresses(b, "cc", m->cc, m->n_cc);
	}
	if (m->n_bcc) {
		buf_putc(b, ',');
		put_addresses(b, "bcc", m->bcc, m->n_bcc);
	}
	buf_putc(b, '}');
	if (m->n_reply_to) {
		buf_putc(b, ',');
		put_addresses(b, "replyTo", m->reply_to, m->n_reply_to);
	}
	if (m->n_att) {
		buf_puts(b, ",\"attachments\":[");
		for (unsigned i = 0; i < m->n_att; i++) {
			const struct notify_attachment *at = &m->att[i];
			buf_puts(b, i ? ",{\"name\":" : "{\"name\":");
			json_put_str(b, at->name.p, at->name.len);
			buf_puts(b, ",\"contentType\":");
			json_put_str(b, at->content_type.p, at->content_type.len);
			buf_puts(b, ",\"contentInBase64\":");
			json_put_str(b, at->content_base64.p, at->content_base64.len);
			buf_putc(b, '}');
		}
		buf_putc(b, ']');
	}
	buf_putc(b, '}');
}

/* ---- answers ----------------------------------------------------------------------------------
 */

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

/* see acs.h */
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

/* Reads a JSON number or numeric string token as a non-negative integer. */
static int take_int(const char *js, const struct json_tok *t, int64_t *out)
{
	if (t->type != JSON_STRING && t->type != JSON_PRIMITIVE)
		return -1;
	int64_t v = 0;
	int digits = 0;
	for (int i = t->start; i < t->end; i++) {
		char c = js[i];
		if (c == '.' && t->type == JSON_PRIMITIVE && digits)
			break; /* 1586984735.0: whole seconds are enough */
		if (c < '0' || c > '9' || digits >= 12)
			return -1;
		v = v * 10 + (c - '0');
		digits++;
	}
	if (!digits)
		return -1;
	*out = v;
	return 0;
}

/* see acs.h */
long acs_token_parse(const char *body, size_t n, struct json_tok *tok, unsigned ntok,
                     int64_t now_unix, char *token, size_t cap, int64_t *expires_on)
{
	int nt = json_parse(body, n, tok, ntok);
	if (nt < 0)
		return -ERR_JSON_SYNTAX;
	int v = json_member(body, tok, nt, 0, "access_token");
	if (v < 0)
		return -ERR_FIELD_MISSING;
	if (tok[v].type != JSON_STRING || tok[v].end == tok[v].start)
		return -ERR_FIELD_INVALID;
	long len = json_str_decode(body, &tok[v], token, cap - 1);
	if (len < 0)
		return len == -ERR_OVERFLOW ? -ERR_OVERFLOW : -ERR_FIELD_INVALID;
	for (long i = 0; i < len; i++) /* a header value: visible ASCII only (JWTs are base64url) */
		if ((unsigned char)token[i] <= 0x20 || (unsigned char)token[i] >= 0x7f)
			return -ERR_FIELD_INVALID;
	token[len] = 0;
	int64_t t;
	if ((v = json_member(body, tok, nt, 0, "expires_on")) > 0 &&
	    take_int(body, &tok[v], &t) == 0)
		*expires_on = t;
	else if ((v = json_member(body, tok, nt, 0, "expires_in")) > 0 &&
	         take_int(body, &tok[v], &t) == 0)
		*expires_on = now_unix + t;
	else
		return -ERR_FIELD_MISSING;
	return len;
}

/* see acs.h */
int acs_classify(int status, const struct acs_answer *ans, int bearer, int retry_after_s,
                 struct transport_result *r)
{
	const char *code = ans->code;
	const char *msg = ans->message[0] ? ans->message : http_reason(status);
	copy_str(r->code, sizeof r->code, code, strlen(code));
	r->retry_after_s = 0;
	r->retryable = 0;
	if (!strcmp(code, "DomainNotLinked")) {
		r->http_status = 502;
		detail(r,
		       "DomainNotLinked: the sender's domain is not linked to this Communication "
		       "Services resource; connect the e-mail domain (Email > Domains > Connect)",
		       0, 0);
		return -ERR_ACS_CONFIG;
	}
	if ((status == 400 || status == 404) &&
	    (strstr(code, "ApiVersion") || strstr(ans->message, "api-version"))) {
		r->http_status = 502;
		detail(r, "ACS refused the api-version (", msg,
		       "); set ACS_API_VERSION to 2023-03-31 or 2025-09-01");
		return -ERR_ACS_CONFIG;
	}
	if (!strcmp(code, "InvalidSenderUserName") ||
	    (status == 400 && !strcmp(ans->target, "senderAddress")) ||
	    (status == 400 && strstr(ans->message, "'senderAddress'"))) {
		r->http_status = 502;
		detail(r, "sender address refused (", msg,
		       "); EMAIL_SENDER must be a bare MailFrom address of a linked domain");
		return -ERR_ACS_CONFIG;
	}
	switch (status) {
	case 401:
		r->http_status = 502;
		r->retryable = 1; /* a key or role fixed later: the queue keeps the message */
		detail(r,
		       bearer ? "ACS refused the managed-identity token ("
		              : "ACS refused the signature (",
		       msg,
		       bearer ? "); check ACS_ENDPOINT"
		              : "); check the connection string (endpoint and "
		                "access key) and the system clock");
		return -ERR_ACS_CONFIG;
	case 403:
		r->http_status = 502;
		r->retryable = 1; /* a new role assignment can take hours to reach tokens [5.2] */
		detail(r, "ACS denied the request (", msg,
		       bearer
		           ? "); the managed identity lacks a role on the Communication Services "
		             "resource (Communication and Email Service Owner)"
		           : ")");
		return -ERR_ACS_CONFIG;
	case 404:
		r->http_status = 502;
		detail(r, "ACS answered 404 (", msg, "); check ACS_ENDPOINT and the api-version");
		return -ERR_ACS_CONFIG;
	case 413:
		r->http_status = 413;
		detail(r, "ACS refused the message as too large (", msg,
		       "); the whole request, attachments included, must stay under 10 MB");
		return -ERR_BODY_TOO_LARGE;
	case 429:
		r->http_status = 429;
		r->retryable = 1;
		r->retry_after_s = retry_after_s > 0 ? retry_after_s : 60;
		detail(r,
		       "ACS throttled this subscription; retry later (Azure-managed domains allow "
		       "5 e-mails a minute and 10 an hour; a verified custom domain allows more)",
		       0, 0);
		return -ERR_ACS_THROTTLED;
	case 503:
		r->http_status = 503;
		r->retryable = 1;
		r->retry_after_s = retry_after_s > 0 ? retry_after_s : 30;
		detail(r, "ACS is unavailable (", msg, "); retry later");
		return -ERR_UPSTREAM_UNAVAILABLE;
	}
	if (status == 408 || status >= 500) {
		r->http_status = status == 504 || status == 408 ? 504 : 502;
		r->retryable = 1;
		detail(r, "ACS kept failing (", msg, ")");
		return status == 504 || status == 408 ? -ERR_UPSTREAM_TIMEOUT : -ERR_UPSTREAM;
	}
	/* 400 and the other 4xx: the message itself was refused; show ACS's words. */
	r->http_status = 422;
	detail(r, "ACS rejected the message: ", msg, 0);
	return -ERR_ACS_REJECTED;
}

/* ---- start-up ---------------------------------------------------------------------------------
 */

static int fail_setup(char *err, size_t cap, const char *a, const char *b)
{
	struct buf e;
	buf_init(&e, err, cap);
	buf_puts(&e, a);
	if (b)
		buf_puts(&e, b);
	buf_cstr(&e);
	return -ERR_FIELD_INVALID;
}

/* Splits IDENTITY_ENDPOINT "http://host[:port]/path[?query]" into a->id_*. */
static int identity_url(struct acs *a, const char *url, const char *client_id, char *err,
                        size_t cap)
{
	static const char scheme[] = "http://";
	const char *bad = "IDENTITY_ENDPOINT: must be http://host[:port]/path (the local token "
	                  "service of App Service and Functions)";
	if (strncmp(url, scheme, sizeof scheme - 1) != 0)
		return fail_setup(err, cap, bad, 0);
	const char *h = url + sizeof scheme - 1, *p = h;
	if (strchr(url, '#')) /* a fragment never reaches the server */
		return fail_setup(err, cap, bad, 0);
	while (*p && *p != '/' && *p != '?')
		p++;
	size_t alen = (size_t)(p - h);
	if (alen == 0 || alen > ACS_MAX_AUTHORITY)
		return fail_setup(err, cap, bad, 0);
	for (const char *c = h; c < p; c++) /* a DNS name or IPv4 address, and a port */
		if (!((*c >= '0' && *c <= '9') || ((*c | 0x20) >= 'a' && (*c | 0x20) <= 'z') ||
		      *c == '.' || *c == '-' || *c == '_' || *c == ':'))
			return fail_setup(err, cap, bad, 0);
	memcpy(a->id_authority, h, alen);
	a->id_authority[alen] = 0;
	const char *colon = memchr(h, ':', alen);
	size_t hlen = colon ? (size_t)(colon - h) : alen;
	if (hlen == 0 || hlen > ACS_MAX_HOST || h[0] == '[')
		return fail_setup(err, cap, bad, 0);
	memcpy(a->id_host, h, hlen);
	a->id_host[hlen] = 0;
	a->id_port = 80;
	if (colon) {
		unsigned v = 0;
		const char *d = colon + 1;
		if (d == p)
			return fail_setup(err, cap, bad, 0);
		for (; d < p; d++) {
			if (*d < '0' || *d > '9' || (v = v * 10 + (unsigned)(*d - '0')) > 65535)
				return fail_setup(err, cap, bad, 0);
		}
		if (v == 0)
			return fail_setup(err, cap, bad, 0);
		a->id_port = (uint16_t)v;
	}
	struct buf t;
	buf_init(&t, a->id_target, sizeof a->id_target);
	if (*p != '/')
		buf_putc(&t, '/'); /* "http://host" or "http://host?q": the path is "/" */
	buf_puts(&t, p);
	for (size_t i = 0; i < t.len; i++)
		if ((unsigned char)a->id_target[i] <= 0x20 ||
		    (unsigned char)a->id_target[i] >= 0x7f)
			return fail_setup(err, cap, bad, 0);
	buf_putc(&t, memchr(t.p, '?', t.len) ? '&' : '?');
	buf_puts(&t, identity_query);
	if (client_id && *client_id) {
		for (const char *c = client_id; *c; c++)
			if (!((*c >= '0' && *c <= '9') || (*c >= 'a' && *c <= 'z') ||
			      (*c >= 'A' && *c <= 'Z') || *c == '-'))
				return fail_setup(
				    err, cap,
				    "AZURE_CLIENT_ID: must be the client id (a GUID) of "
				    "a user-assigned identity",
				    0);
		buf_puts(&t, "&client_id=");
		buf_puts(&t, client_id);
	}
	if (t.err || t.len >= sizeof a->id_target)
		return fail_setup(err, cap, "IDENTITY_ENDPOINT: too long", 0);
	buf_cstr(&t);
	return 0;
}

/* see acs.h */
int acs_init(struct acs *a, const struct acs_settings *s, const struct tls_anchors *anchors,
             char *err, size_t errcap)
{
	char why[TRANSPORT_DETAIL_MAX];
	int has_cs = s->connection_string && *s->connection_string;
	int has_ep = s->endpoint && *s->endpoint;
	memset(a, 0, sizeof *a);
	pthread_mutex_init(&a->mu, 0);
	if (has_cs && has_ep)
		return fail_setup(
		    err, errcap,
		    "set either COMMUNICATION_SERVICES_CONNECTION_STRING (access key) or "
		    "ACS_ENDPOINT (managed identity), not both",
		    0);
	if (has_cs) {
		if (acs_conn_parse(s->connection_string, strlen(s->connection_string), &a->conn,
		                   why, sizeof why) < 0)
			return fail_setup(err, errcap,
			                  "COMMUNICATION_SERVICES_CONNECTION_STRING: ", why);
	} else if (has_ep) {
		if (acs_endpoint_parse(s->endpoint, strlen(s->endpoint), &a->conn, why,
		                       sizeof why) < 0)
			return fail_setup(err, errcap, "ACS_ENDPOINT: ", why);
		a->bearer = 1;
		if (!s->identity_endpoint || !*s->identity_endpoint || !s->identity_header ||
		    !*s->identity_header)
			return fail_setup(
			    err, errcap,
			    "ACS_ENDPOINT needs a managed identity: IDENTITY_ENDPOINT and "
			    "IDENTITY_HEADER are unset (enable the app's identity, or use "
			    "COMMUNICATION_SERVICES_CONNECTION_STRING)",
			    0);
		if (identity_url(a, s->identity_endpoint, s->client_id, err, errcap) < 0)
			return -ERR_FIELD_INVALID;
		size_t hl = strlen(s->identity_header);
		if (hl > ACS_IDENTITY_SECRET_MAX)
			return fail_setup(err, errcap,
			                  "IDENTITY_HEADER: longer than " STR(
			                      ACS_IDENTITY_SECRET_MAX) " characters",
			                  0);
		for (size_t i = 0; i < hl; i++)
			if ((unsigned char)s->identity_header[i] <= 0x20 ||
			    (unsigned char)s->identity_header[i] >= 0x7f)
				return fail_setup(err, errcap,
				                  "IDENTITY_HEADER: must be visible ASCII", 0);
		memcpy(a->id_header, s->identity_header, hl + 1);
	} else {
		return fail_setup(
		    err, errcap,
		    "ACS is not configured: set COMMUNICATION_SERVICES_CONNECTION_STRING "
		    "or ACS_ENDPOINT",
		    0);
	}
	const char *v =
	    s->api_version && *s->api_version ? s->api_version : ACS_API_VERSION_DEFAULT;
	size_t vl = strlen(v);
	int ok = vl >= 10 && vl <= ACS_API_VERSION_MAX;
	for (size_t i = 0; ok && i < vl; i++)
		ok = (v[i] >= '0' && v[i] <= '9') || v[i] == '-' || (v[i] >= 'a' && v[i] <= 'z');
	if (!ok)
		return fail_setup(err, errcap,
		                  "ACS_API_VERSION: must look like 2023-03-31 or 2025-09-01", 0);
	memcpy(a->api_version, v, vl + 1);
	a->sender = s->sender;
	a->timeout_ms = s->timeout_ms;
	a->attempt_timeout_ms = s->attempt_timeout_ms;
	a->attempts = s->attempts < 1 ? 1 : s->attempts;
	a->backoff_ms = s->backoff_ms;
	a->anchors = anchors;
	return 0;
}

/* see acs.h */
size_t acs_worker_size(size_t max_body)
{
	size_t body = (max_body > ACS_MAX_REQUEST ? ACS_MAX_REQUEST : max_body) + ACS_BODY_OVERHEAD;
	return sizeof(struct acs_worker) + ACS_HEAD_MAX + body;
}

/* see acs.h */
void acs_worker_init(struct acs_worker *w, const struct acs *a, size_t size)
{
	w->a = a;
	w->fd = -1;
	w->idle_ms = 0;
	w->req_cap = size - sizeof *w;
	if (getrandom(&w->rng, sizeof w->rng, 0) != (ssize_t)sizeof w->rng || w->rng == 0)
		w->rng = (uint64_t)log_now_ns() | 1;
	tls_client_init(&w->tls, a->anchors);
}

/* see acs.h */
void acs_worker_close(struct acs_worker *w)
{
	if (w->fd < 0)
		return;
	tls_close(&w->tls);
	close(w->fd);
	w->fd = -1;
}

/* ---- sockets ----------------------------------------------------------------------------------
 */

/* The byte stream of one exchange: TLS on the worker's connection, or plain TCP. */
struct io {
	int fd;
	struct tls_client *tls; /* NULL: plain */
};

static long io_write(struct io *io, const char *p, size_t n, int64_t deadline)
{
	return io->tls ? tls_write_all(io->tls, p, n, deadline)
	               : sock_write_all(io->fd, p, n, deadline);
}

/* Reads at least one byte; 0 at a clean end of stream. */
static long io_read(struct io *io, char *p, size_t n, int64_t deadline)
{
	return io->tls ? tls_read(io->tls, p, n, deadline) : sock_read(io->fd, p, n, deadline);
}

/*
 * Opens a TCP connection to host:port (every address dns_resolve gives, IPv4 first, then IPv6)
 * before the deadline. Returns the non-blocking socket, or -ERR_UPSTREAM_CONNECT /
 * -ERR_TIMEOUT with the reason in why. The name is resolved anew for every connection, so a
 * moved endpoint is followed.
 */
static int tcp_connect(const char *host, uint16_t port, int64_t deadline, const char **why)
{
	struct dns_addr addrs[DNS_MAX_ADDRS];
	int na = dns_resolve(host, port, addrs, DNS_MAX_ADDRS, deadline, why);
	if (na <= 0)
		return na == -ERR_TIMEOUT ? -ERR_TIMEOUT : -ERR_UPSTREAM_CONNECT;
	*why = "connection refused";
	for (int i = 0; i < na; i++) {
		const struct sockaddr *sa = (const struct sockaddr *)&addrs[i].ss;
		int fd = sock_connect(sa, addrs[i].len, SOCK_STREAM, deadline);
		if (fd == -ERR_TIMEOUT) {
			*why = "connect timed out";
			return -ERR_TIMEOUT;
		}
		if (fd >= 0) {
			int one = 1;
			setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
			return fd;
		}
		*why = errno == ECONNREFUSED                           ? "connection refused"
		       : errno == ENETUNREACH || errno == EHOSTUNREACH ? "host unreachable"
		                                                       : "connect failed";
	}
	return -ERR_UPSTREAM_CONNECT;
}

/* ---- one HTTP exchange ------------------------------------------------------------------------
 */

struct reply {
	struct http_response res;
	int status;
	const char *body;
	size_t body_len;
	int keep_alive;
	int got;         /* 1 once any answer byte arrived */
	int retry_after; /* seconds, -1 when none */
};

/*
 * Reads one response into buf[0..cap) (head, then the body de-chunked in place). Returns 0, or
 * -ERR_IO / -ERR_TIMEOUT / -ERR_INTERNAL (TLS) from the stream, or -ERR_UPSTREAM_BAD_RESPONSE.
 */
static int read_reply(struct io *io, char *buf, size_t cap, struct http_header *hdr,
                      struct reply *rp, int64_t deadline)
{
	size_t len = 0, off = 0, hl;
	long n;
	int rc;
	rp->got = 0;
	rp->retry_after = -1;
	for (;;) {
		if (len < cap) {
			n = io_read(io, buf + len, cap - len, deadline);
			if (n == 0)
				return rp->got ? -ERR_UPSTREAM_BAD_RESPONSE : -ERR_IO;
			if (n < 0)
				return (int)n;
			rp->got = 1;
			len += (size_t)n;
		}
		for (;;) {
			rc = http_response_parse(buf + off, len - off, &rp->res, hdr,
			                         HTTP_MAX_HEADERS, 0);
			if (rc < 0 || rp->res.status >= 200 || rp->res.status == 101)
				break;
			off += (size_t)rc; /* 1xx interim answer: drop it */
		}
		if (rc == -ERR_PARTIAL && len < cap)
			continue;
		if (rc < 0 || rp->res.status == 101)
			return -ERR_UPSTREAM_BAD_RESPONSE;
		hl = off + (size_t)rc;
		break;
	}
	struct http_framing f;
	if (http_response_framing(&rp->res, 0, &f) < 0)
		return -ERR_UPSTREAM_BAD_RESPONSE;
	rp->status = rp->res.status;
	rp->keep_alive = f.keep_alive;
	rp->body = buf + hl;
	switch (f.body) {
	case HTTP_BODY_NONE:
		rp->body_len = 0;
		return len == hl ? 0 : -ERR_UPSTREAM_BAD_RESPONSE;
	case HTTP_BODY_LENGTH:
		if (f.content_length > cap - hl)
			return -ERR_UPSTREAM_BAD_RESPONSE;
		while (len < hl + f.content_length) {
			n = io_read(io, buf + len, hl + f.content_length - len, deadline);
			if (n <= 0)
				return n == 0 ? -ERR_UPSTREAM_BAD_RESPONSE : (int)n;
			len += (size_t)n;
		}
		if (len != hl + f.content_length)
			return -ERR_UPSTREAM_BAD_RESPONSE; /* bytes after the answer: not ours */
		rp->body_len = f.content_length;
		return 0;
	case HTTP_BODY_CHUNKED: {
		struct http_chunked d;
		size_t done = 0, raw = len - hl; /* decoded bytes, then raw bytes after them */
		http_chunked_init(&d);
		for (;;) {
			size_t k = raw;
			rc = http_chunked_decode(&d, buf + hl + done, &k);
			if (rc >= 0) {
				if (rc > 0)
					return -ERR_UPSTREAM_BAD_RESPONSE;
				rp->body_len = done + k;
				return 0;
			}
			if (rc != -ERR_PARTIAL)
				return -ERR_UPSTREAM_BAD_RESPONSE;
			done += k;
			if (hl + done >= cap)
				return -ERR_UPSTREAM_BAD_RESPONSE;
			n = io_read(io, buf + hl + done, cap - hl - done, deadline);
			if (n <= 0)
				return n == 0 ? -ERR_UPSTREAM_BAD_RESPONSE : (int)n;
			raw = (size_t)n;
		}
	}
	case HTTP_BODY_UNTIL_CLOSE:
		for (;;) {
			if (len >= cap)
				return -ERR_UPSTREAM_BAD_RESPONSE;
			n = io_read(io, buf + len, cap - len, deadline);
			if (n == 0)
				break;
			if (n < 0)
				return (int)n;
			len += (size_t)n;
		}
		rp->body_len = len - hl;
		rp->keep_alive = 0;
		return 0;
	}
	return -ERR_UPSTREAM_BAD_RESPONSE;
}

/* ---- the managed-identity token [5.2] ---------------------------------------------------------
 */

/* Fetches a token into the cache; a->mu held. Returns 0 or -ERR_IDENTITY (detail in r). */
static int fetch_token(struct acs *a, struct acs_worker *w, int64_t deadline,
                       struct transport_result *r)
{
	const char *why = 0;
	int fd = tcp_connect(a->id_host, a->id_port, deadline, &why);
	if (fd < 0) {
		detail(r, "identity endpoint: ", why, 0);
		return -ERR_IDENTITY;
	}
	struct io io = {fd, 0};
	struct buf b;
	buf_init(&b, w->resp, sizeof w->resp);
	http_request_head(&b, "GET", a->id_target, a->id_authority);
	http_header_line(&b, "X-IDENTITY-HEADER", a->id_header, strlen(a->id_header));
	buf_puts(&b, "Accept: application/json\r\nConnection: close\r\n\r\n");
	struct reply rp;
	int rc = b.err ? -ERR_INTERNAL : (int)io_write(&io, b.p, b.len, deadline);
	if (rc >= 0)
		rc = read_reply(&io, w->resp, sizeof w->resp, w->hdr, &rp, deadline);
	close(fd);
	if (rc < 0) {
		memset(w->resp, 0, sizeof w->resp); /* the request held IDENTITY_HEADER */
		detail(r, "identity endpoint: ",
		       rc == -ERR_TIMEOUT ? "no answer in time" : "malformed or cut answer", 0);
		return -ERR_IDENTITY;
	}
	if (rp.status != 200) {
		memset(w->resp, 0, sizeof w->resp);
		char st[sizeof "599"]; /* a status: 3 digits */
		struct buf sb;
		buf_init(&sb, st, sizeof st);
		buf_put_u64(&sb, (uint64_t)rp.status);
		buf_cstr(&sb);
		detail(r, "identity endpoint answered HTTP ", st,
		       rp.status == 400 ? " (is AZURE_CLIENT_ID right, and the identity enabled?)"
		                        : "");
		return -ERR_IDENTITY;
	}
	int64_t exp = 0;
	long n = acs_token_parse(rp.body, rp.body_len, w->tok, ACS_RESP_TOKENS, (int64_t)time(0),
	                         w->token, sizeof w->token, &exp);
	memset(w->resp, 0, sizeof w->resp); /* the answer held the token */
	if (n < 0) {
		memset(w->token, 0, sizeof w->token);
		detail(r, "identity endpoint: answer without a usable access_token and expires_on",
		       0, 0);
		return -ERR_IDENTITY;
	}
	memcpy(a->token, w->token, (size_t)n + 1);
	a->token_len = (size_t)n;
	a->token_expires = exp;
	struct log_line l;
	if (log_begin(&l, LOG_INFO, "acs.token")) {
		log_int(&l, "expires_in_s", exp - (int64_t)time(0));
		log_end(&l);
	}
	return 0;
}

/* Copies a valid token into w->token, fetching one when the cache is empty or nearly expired. */
static int get_token(struct acs *a, struct acs_worker *w, int64_t deadline,
                     struct transport_result *r)
{
	int rc = 0;
	/* one fetch at a time; a worker waits for it no longer than its own deadline */
	struct timespec until;
	clock_gettime(CLOCK_REALTIME, &until);
	int64_t left = deadline - sock_now_ms();
	left = left < 0 ? 0 : left;
	until.tv_sec += (time_t)(left / 1000);
	until.tv_nsec += (long)(left % 1000) * 1000000L;
	if (until.tv_nsec >= 1000000000L)
		until.tv_sec++, until.tv_nsec -= 1000000000L;
	if (pthread_mutex_timedlock(&a->mu, &until) != 0) {
		detail(r, "identity endpoint: another fetch of the token is still running", 0, 0);
		return -ERR_IDENTITY;
	}
	int64_t now = (int64_t)time(0);
	if (a->token_len == 0 || now >= a->token_expires - ACS_TOKEN_REFRESH_S) {
		rc = fetch_token(a, w, deadline, r);
		if (rc < 0 && a->token_len > 0 && now < a->token_expires - ACS_TOKEN_MIN_LEFT_S)
			rc =
			    0; /* the refresh failed, but the cached token still has time: use it */
	}
	if (rc == 0)
		memcpy(w->token, a->token, a->token_len + 1);
	pthread_mutex_unlock(&a->mu);
	return rc;
}

/* Forgets the cached token (ACS refused it). */
static void drop_token(struct acs *a)
{
	pthread_mutex_lock(&a->mu);
	memset(a->token, 0, sizeof a->token);
	a->token_len = 0;
	a->token_expires = 0;
	pthread_mutex_unlock(&a->mu);
}

/* ---- one attempt on the worker's connection ---------------------------------------------------
 */

/* Opens (or keeps) the worker's TLS connection to ACS. */
static int ensure_conn(struct acs_worker *w, int64_t deadline, int *reused,
                       struct transport_result *r)
{
	const struct acs *a = w->a;
	if (w->fd >= 0 && sock_now_ms() - w->idle_ms < ACS_IDLE_REUSE_MS && !sock_readable(w->fd) &&
	    !tls_pending(&w->tls)) {
		*reused = 1;
		return 0;
	}
	acs_worker_close(w);
	*reused = 0;
	const char *why = 0;
	int64_t t0 = log_now_ns();
	int fd = tcp_connect(a->conn.host, a->conn.port, deadline, &why);
	if (fd < 0) {
		detail(r, "connect to ", a->conn.endpoint_host, why ? ": " : "");
		if (why) {
			size_t k = strlen(r->detail);
			copy_str(r->detail + k, sizeof r->detail - k, why, strlen(why));
		}
		return fd == -ERR_TIMEOUT ? -ERR_UPSTREAM_TIMEOUT : -ERR_UPSTREAM_CONNECT;
	}
	int rc = tls_connect(&w->tls, fd, a->conn.host, deadline);
	struct log_line l;
	if (rc < 0) {
		int br = w->tls.last_br_err;
		close(fd);
		if (rc == -ERR_TIMEOUT) {
			detail(r, "TLS handshake with ", a->conn.endpoint_host, " timed out");
			return -ERR_UPSTREAM_TIMEOUT;
		}
		if (rc == -ERR_IO) {
			detail(r, "TLS handshake with ", a->conn.endpoint_host,
			       ": connection closed");
			return -ERR_UPSTREAM_CONNECT;
		}
		int cert = br >= BR_ERR_X509_OK && br < BR_ERR_X509_OK + 32;
		detail(r, cert ? "certificate of " : "TLS handshake with ", a->conn.endpoint_host,
		       cert ? " refused: " : " failed: ");
		size_t k = strlen(r->detail);
		const char *t = tls_error_text(br);
		copy_str(r->detail + k, sizeof r->detail - k, t, strlen(t));
		if (log_begin(&l, LOG_ERROR, "acs.tls_failed")) {
			log_cstr(&l, "host", a->conn.endpoint_host);
			log_int(&l, "br_err", br);
			log_cstr(&l, "reason", t);
			log_end(&l);
		}
		return cert ? -ERR_TLS_CERT : -ERR_TLS_HANDSHAKE;
	}
	w->fd = fd;
	if (log_begin(&l, LOG_DEBUG, "acs.connected")) {
		log_cstr(&l, "host", a->conn.endpoint_host);
		log_int(&l, "resumed", tls_resumed(&w->tls));
		log_ms(&l, "ms", log_now_ns() - t0);
		log_end(&l);
	}
	return 0;
}

/* How one attempt ended. */
struct outcome {
	int rc;     /* 0: an answer (status); else -ERR_x with r->detail */
	int status; /* HTTP status of the answer */
	int retry_after;
	int reused; /* the attempt ran on a kept-alive connection */
	int got;    /* answer bytes arrived */
};

/*
 * Sends one request: head built now (fresh date and signature, or the token), body already at
 * w->req + ACS_HEAD_MAX. On an answer, ans holds its body's facts.
 */
static void attempt(struct acs *a, struct acs_worker *w, const char *method, const char *target,
                    size_t blen, const char *op_id, int64_t deadline, struct outcome *o,
                    struct acs_answer *ans, struct transport_result *r)
{
	memset(o, 0, sizeof *o);
	o->retry_after = -1;
	char *body = w->req + ACS_HEAD_MAX;
	if (a->bearer && (o->rc = get_token(a, w, deadline, r)) < 0)
		return;
	/* the head goes right before the body, so one write sends both */
	struct buf h;
	buf_init(&h, w->resp, sizeof w->resp);
	http_request_head(&h, method, target, a->conn.endpoint_host);
	buf_puts(&h,
	         "User-Agent: notify-handler/" NOTIFY_VERSION "\r\nAccept: application/json\r\n");
	if (blen) {
		buf_puts(&h, "Content-Type: application/json\r\nContent-Length: ");
		buf_put_u64(&h, blen);
		buf_puts(&h, "\r\n");
	}
	if (op_id)
		http_header_line(&h, "Operation-Id", op_id, strlen(op_id));
	if (a->bearer) {
		buf_puts(&h, "Authorization: Bearer ");
		buf_puts(&h, w->token);
		buf_puts(&h, "\r\n");
	} else if (acs_auth_sign(&h, &a->conn, method, target, blen ? body : 0, blen,
	                         (int64_t)time(0)) < 0) {
		h.err = -ERR_INTERNAL;
	}
	buf_puts(&h, "\r\n");
	if (h.err || h.len > ACS_HEAD_MAX) {
		memset(w->resp, 0, sizeof w->resp); /* a partial head may hold the token */
		o->rc = -ERR_INTERNAL;
		detail(r, "request head does not fit", 0, 0);
		return;
	}
	char *start = body - h.len;
	memcpy(start, h.p, h.len);
	memset(h.p, 0, h.len); /* the head holds the signature or the token */
	if ((o->rc = ensure_conn(w, deadline, &o->reused, r)) < 0) {
		memset(start, 0, h.len);
		return;
	}
	struct io io = {w->fd, &w->tls};
	long n = io_write(&io, start, h.len + blen, deadline);
	memset(start, 0, h.len); /* the head held the signature or the token */
	struct reply rp;
	int rc = n < 0 ? (int)n : read_reply(&io, w->resp, sizeof w->resp, w->hdr, &rp, deadline);
	if (rc < 0) {
		o->got = n >= 0 && rp.got;
		acs_worker_close(w);
		o->rc = rc == -ERR_TIMEOUT ? -ERR_UPSTREAM_TIMEOUT
		        : rc == -ERR_IO    ? -ERR_UPSTREAM_CONNECT
		        : rc == -ERR_INTERNAL
		            ? -ERR_UPSTREAM_CONNECT /* alert or bad record after the
		                               handshake: a broken connection */
		            : -ERR_UPSTREAM_BAD_RESPONSE;
		detail(r,
		       rc == -ERR_TIMEOUT ? "ACS did not answer in time"
		       : rc == -ERR_IO    ? "the connection to ACS broke before a whole answer"
		                          : "ACS sent a malformed answer",
		       0, 0);
		if (rc == -ERR_INTERNAL) {
			const char *t = tls_error_text(w->tls.last_br_err);
			detail(r, "TLS failure talking to ACS: ", t, 0);
		}
		return;
	}
	o->got = 1;
	o->status = rp.status;
	int ra;
	if (http_retry_after(&rp.res, (int64_t)time(0), &ra))
		o->retry_after = ra;
	acs_answer_parse(rp.body, rp.body_len, w->tok, ACS_RESP_TOKENS, ans);
	if (!ans->code[0]) { /* an empty error body: x-ms-error-code has to do [2.6] */
		const struct http_header *ec =
		    http_response_header_find(&rp.res, "x-ms-error-code");
		size_t k = 0; /* codes are identifiers: keep the leading [A-Za-z0-9._-] run */
		while (ec && k < ec->value_len && k < sizeof ans->code - 1 &&
		       (strchr("._-", ec->value[k]) ||
		        (ec->value[k] >= '0' && ec->value[k] <= '9') ||
		        ((ec->value[k] | 0x20) >= 'a' && (ec->value[k] | 0x20) <= 'z')))
			k++;
		if (ec)
			copy_str(ans->code, sizeof ans->code, ec->value, k);
	}
	/* bytes after the answer (even in a later record) mean the stream is not ours to reuse */
	if (rp.keep_alive && !tls_pending(&w->tls)) {
		w->idle_ms = sock_now_ms();
	} else {
		acs_worker_close(w);
	}
}

/* Sleeps ms milliseconds, in slices, until acs_stop_waiting. Returns 0, or -1 when stopped. */
static int pause_ms(struct acs *a, int64_t ms)
{
	int64_t end = sock_now_ms() + ms;
	for (;;) {
		if (atomic_load(&a->stopping))
			return -1;
		int64_t left = end - sock_now_ms();
		if (left <= 0)
			return 0;
		if (left > ACS_STOP_POLL_MS)
			left = ACS_STOP_POLL_MS;
		struct timespec ts = {0, (long)left * 1000000L};
		nanosleep(&ts, 0);
	}
}

/* see acs.h */
void acs_stop_waiting(void *a)
{
	atomic_store(&((struct acs *)a)->stopping, 1);
}

/* Backoff before attempt `n` (n >= 2): base * 2^(n-2), capped, with "equal jitter" (half
 * fixed, half random) so that workers retrying together spread out. */
static int64_t backoff(struct acs_worker *w, int base, int n)
{
	int64_t d = base;
	for (int i = 2; i < n && d < ACS_BACKOFF_MAX_MS; i++)
		d *= 2;
	if (d > ACS_BACKOFF_MAX_MS)
		d = ACS_BACKOFF_MAX_MS;
	w->rng ^= w->rng << 13;
	w->rng ^= w->rng >> 7;
	w->rng ^= w->rng << 17;
	return d / 2 + (int64_t)(w->rng % (uint64_t)(d / 2 + 1));
}

static void log_attempt(const char *what, const char *op_id, int n, const struct outcome *o,
                        int64_t t0, const struct acs_answer *ans, int final)
{
	struct log_line l;
	int level = o->rc == 0 && o->status < 300 ? LOG_INFO : final ? LOG_ERROR : LOG_WARN;
	if (log_begin(&l, level, what)) {
		if (op_id)
			log_cstr(&l, "operation_id", op_id);
		log_int(&l, "attempt", n);
		if (o->rc == 0)
			log_int(&l, "status", o->status);
		else
			log_cstr(&l, "error", err_slug(o->rc));
		if (ans->code[0])
			log_cstr(&l, "code", ans->code);
		if (o->retry_after >= 0)
			log_int(&l, "retry_after_s", o->retry_after);
		log_int(&l, "reused", o->reused);
		log_ms(&l, "ms", log_now_ns() - t0);
		log_end(&l);
	}
}

/*
 * The retry loop of acs.h around attempt(). Returns 0 with the 2xx answer in ans, or the -ERR_x
 * to answer with, r filled.
 */
static int call(struct acs *a, struct acs_worker *w, const char *event, const char *method,
                const char *target, size_t blen, const char *op_id, int wait_throttle,
                struct acs_answer *ans, int *status, struct transport_result *r)
{
	int64_t deadline = sock_now_ms() + a->timeout_ms;
	struct outcome o;
	for (int n = 1;; n++) {
		int64_t t0 = log_now_ns(), now = sock_now_ms();
		int64_t adl =
		    now + a->attempt_timeout_ms < deadline ? now + a->attempt_timeout_ms : deadline;
		memset(ans, 0, sizeof *ans);
		attempt(a, w, method, target, blen, op_id, adl, &o, ans, r);
		/* a kept-alive connection that died before answering: open a new one at once [9] */
		if (o.rc < 0 && o.reused && !o.got && o.rc != -ERR_UPSTREAM_TIMEOUT) {
			log_attempt(event, op_id, n, &o, t0, ans, 0);
			memset(ans, 0, sizeof *ans);
			attempt(a, w, method, target, blen, op_id, adl, &o, ans, r);
		}
		int retry; /* 1: worth another attempt; then wait_ms before it */
		int64_t wait_ms = 0;
		if (o.rc < 0) {
			retry = o.rc == -ERR_UPSTREAM_TIMEOUT || o.rc == -ERR_UPSTREAM_CONNECT ||
			        o.rc == -ERR_UPSTREAM_BAD_RESPONSE || o.rc == -ERR_IDENTITY;
		} else if (o.status >= 200 && o.status < 300) {
			log_attempt(event, op_id, n, &o, t0, ans, 1);
			*status = o.status;
			return 0;
		} else if (o.status == 429 || o.status == 503) {
			/* 429 is retried only when ACS says how long to wait [7.3]: every attempt
			 * counts against the subscription's quota. 503 is a transient failure. */
			retry = (wait_throttle && o.retry_after > 0) || o.status == 503;
			if (o.retry_after > 0)
				wait_ms = (int64_t)o.retry_after * 1000;
		} else {
			retry = o.status == 408 || o.status == 500 || o.status == 502 ||
			        o.status == 504;
		}
		if (a->bearer && o.rc == 0 && o.status == 401)
			drop_token(a); /* revoked or rotated: fetch anew next time */
		if (retry && !wait_ms)
			wait_ms = backoff(w, a->backoff_ms, n + 1);
		int last = !retry || n >= a->attempts || sock_now_ms() + wait_ms >= deadline ||
		           atomic_load(&a->stopping);
		log_attempt(event, op_id, n, &o, t0, ans, last);
		if (!last && pause_ms(a, wait_ms) == 0)
			continue;
		/* the last attempt, or a drain ended the wait: answer with what we have */
		{
			*status = o.rc < 0 ? 0 : o.status;
			if (o.rc < 0) {
				r->http_status = err_http_status(o.rc);
				/* a refused certificate (a root rotation) or token may pass once
				 * the deployment is fixed: a queue keeps the message (poison)
				 * meanwhile */
				r->retryable =
				    retry || o.rc == -ERR_TLS_CERT || o.rc == -ERR_TLS_HANDSHAKE;
				r->retry_after_s = 0;
				copy_str(r->code, sizeof r->code, "", 0);
				return o.rc;
			}
			return acs_classify(o.status, ans, a->bearer, o.retry_after, r);
		}
	}
}

/* ---- the transport ----------------------------------------------------------------------------
 */

static int acs_tstatus(void *ctx, void *wctx, const char *id, struct transport_result *r);

static int acs_tsend(void *ctx, void *wctx, const struct notify_msg *msg, const char *id,
                     struct transport_result *r)
{
	struct acs *a = ctx;
	struct acs_worker *w = wctx;
	struct buf b;
	buf_init(&b, w->req + ACS_HEAD_MAX, w->req_cap - ACS_HEAD_MAX);
	acs_email_json(&b, msg, a->sender);
	if (b.err || b.len > ACS_MAX_REQUEST) {
		r->http_status = 413;
		r->retryable = 0;
		detail(r,
		       "the message is larger than the 10 MB ACS accepts (attachments count "
		       "base64-encoded)",
		       0, 0);
		return -ERR_BODY_TOO_LARGE;
	}
	char target[ACS_TARGET_MAX];
	struct buf t;
	buf_init(&t, target, sizeof target);
	buf_puts(&t, "/emails:send?api-version=");
	buf_puts(&t, a->api_version);
	buf_cstr(&t);
	struct acs_answer ans;
	int status = 0;
	int rc = call(a, w, "acs.send", "POST", target, b.len, id, 1, &ans, &status, r);
	if (rc < 0 && status == 409) {
		/* Operation-Id already used: an earlier attempt of ours whose answer was lost may
		 * have created the operation [10.4]; if ACS knows it, that is this send */
		struct transport_result st = {0};
		if (acs_tstatus(a, w, id, &st) == 0) {
			struct log_line l;
			if (log_begin(&l, LOG_WARN, "acs.conflict_found")) {
				log_cstr(&l, "operation_id", id);
				log_cstr(&l, "status", st.state);
				log_end(&l);
			}
			*r = st;
			return 0;
		}
		return rc;
	}
	if (rc < 0)
		return rc;
	if (ans.id[0] && strcasecmp(ans.id, id) != 0) {
		/* ACS must adopt our Operation-Id [2.2]; another id would break status lookups */
		struct log_line l;
		if (log_begin(&l, LOG_WARN, "acs.id_mismatch")) {
			log_cstr(&l, "operation_id", id);
			log_cstr(&l, "acs_id", ans.id);
			log_end(&l);
		}
	}
	r->state = "Running";
	if (!strcmp(ans.status, "NotStarted"))
		r->state = "NotStarted";
	else if (!strcmp(ans.status, "Succeeded"))
		r->state = "Succeeded";
	else if (!strcmp(ans.status, "Failed"))
		r->state = "Failed";
	else if (!strcmp(ans.status, "Canceled"))
		r->state = "Canceled";
	return 0;
}

static int acs_tstatus(void *ctx, void *wctx, const char *id, struct transport_result *r)
{
	struct acs *a = ctx;
	struct acs_worker *w = wctx;
	char target[ACS_TARGET_MAX];
	struct buf t;
	buf_init(&t, target, sizeof target);
	buf_puts(&t, "/emails/operations/");
	buf_puts(&t, id);
	buf_puts(&t, "?api-version=");
	buf_puts(&t, a->api_version);
	buf_cstr(&t);
	struct acs_answer ans;
	int status = 0;
	int rc = call(a, w, "acs.status", "GET", target, 0, 0, 0, &ans, &status, r);
	if (rc < 0 && status == 404)
		return -ERR_NOT_FOUND; /* an operation ACS does not know (or no longer keeps) */
	if (rc < 0)
		return rc;
	static const char *const states[] = {"NotStarted", "Running", "Succeeded", "Failed",
	                                     "Canceled"};
	r->state = "Running";
	for (size_t i = 0; i < sizeof states / sizeof *states; i++)
		if (!strcmp(ans.status, states[i]))
			r->state = states[i];
	if (ans.code[0]) {
		copy_str(r->code, sizeof r->code, ans.code, strlen(ans.code));
		copy_str(r->detail, sizeof r->detail, ans.message, strlen(ans.message));
	}
	return 0;
}

/* see acs.h */
void transport_acs(struct transport *t, struct acs *a)
{
	t->name = "acs";
	t->ctx = a;
	t->send = acs_tsend;
	t->status = acs_tstatus;
}
