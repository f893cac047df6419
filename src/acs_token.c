/* acs_token.c: the managed-identity token of acs_token.h. */
#include "acs_token.h"

#include <pthread.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "acs.h"
#include "err.h"
#include "http_client.h"
#include "log.h"
#include "sock.h"

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

/* see acs_token.h */
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

/* Fetches a token into the cache; a->mu held. Returns 0 or -ERR_IDENTITY (detail in r). */
static int fetch(struct acs *a, struct acs_worker *w, int64_t deadline, struct transport_result *r)
{
	const char *why = 0;
	int fd = http_client_connect(a->id_host, a->id_port, deadline, &why);
	if (fd < 0) {
		acs_detail(r, "identity endpoint: ", why, 0);
		return -ERR_IDENTITY;
	}
	struct http_client_io io;
	http_client_tcp(&io, fd);
	struct buf b;
	buf_init(&b, w->resp, sizeof w->resp);
	http_request_head(&b, "GET", a->id_target, a->id_authority);
	http_header_line(&b, "X-IDENTITY-HEADER", a->id_header, strlen(a->id_header));
	buf_puts(&b, "Accept: application/json\r\nConnection: close\r\n\r\n");
	struct http_client_answer rp;
	int rc = b.err ? -ERR_INTERNAL
	               : http_client_exchange(&io, b.p, b.len, w->resp, sizeof w->resp, w->hdr,
	                                      HTTP_MAX_HEADERS, 0, &rp, deadline);
	close(fd);
	if (rc < 0) {
		memset(w->resp, 0, sizeof w->resp); /* the request held IDENTITY_HEADER */
		acs_detail(r, "identity endpoint: ",
		           rc == -ERR_TIMEOUT ? "no answer in time" : "malformed or cut answer", 0);
		return -ERR_IDENTITY;
	}
	if (rp.res.status != 200) {
		memset(w->resp, 0, sizeof w->resp);
		char st[sizeof "599"]; /* a status: 3 digits */
		struct buf sb;
		buf_init(&sb, st, sizeof st);
		buf_put_u64(&sb, (uint64_t)rp.res.status);
		buf_cstr(&sb);
		acs_detail(r, "identity endpoint answered HTTP ", st,
		           rp.res.status == 400
		               ? " (is AZURE_CLIENT_ID right, and the identity enabled?)"
		               : "");
		return -ERR_IDENTITY;
	}
	int64_t exp = 0;
	long n = acs_token_parse(rp.body, rp.body_len, w->tok, ACS_RESP_TOKENS, (int64_t)time(0),
	                         w->token, sizeof w->token, &exp);
	memset(w->resp, 0, sizeof w->resp); /* the answer held the token */
	if (n < 0) {
		memset(w->token, 0, sizeof w->token);
		acs_detail(r,
		           "identity endpoint: answer without a usable access_token and expires_on",
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

/* see acs_token.h */
int acs_token_get(struct acs *a, struct acs_worker *w, int64_t deadline, struct transport_result *r)
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
		acs_detail(r, "identity endpoint: another fetch of the token is still running", 0,
		           0);
		return -ERR_IDENTITY;
	}
	int64_t now = (int64_t)time(0);
	if (a->token_len == 0 || now >= a->token_expires - ACS_TOKEN_REFRESH_S) {
		rc = fetch(a, w, deadline, r);
		if (rc < 0 && a->token_len > 0 && now < a->token_expires - ACS_TOKEN_MIN_LEFT_S)
			rc =
			    0; /* the refresh failed, but the cached token still has time: use it */
	}
	if (rc == 0)
		memcpy(w->token, a->token, a->token_len + 1);
	pthread_mutex_unlock(&a->mu);
	return rc;
}

/* see acs_token.h */
void acs_token_drop(struct acs *a)
{
	pthread_mutex_lock(&a->mu);
	memset(a->token, 0, sizeof a->token);
	a->token_len = 0;
	a->token_expires = 0;
	pthread_mutex_unlock(&a->mu);
}
