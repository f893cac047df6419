/* acs_auth.c: ACS connection string and HMAC-SHA256 request signing of acs_auth.h. */
#include "acs_auth.h"

#include <string.h>

#include "b64.h"
#include "bearssl_hash.h"
#include "bearssl_hmac.h"
#include "date.h"
#include "err.h"

/* Two-step stringification, so limits can appear in fixed error texts. */
#define STR_(x) #x
#define STR(x)  STR_(x)

/* Longest DNS label (RFC 1035 2.3.4); not_dns_name below says it. */
#define MAX_LABEL 63

/* Error texts of more than one place or longer than a line. */
static const char not_dns_name[] = "endpoint= host is not a DNS name (labels of 1 to "
                                   "63 letters, digits and inner '-', joined by '.')";
static const char ip_literal[] = "endpoint= host is an IP address; use the DNS name (TLS "
                                 "certificates are checked against DNS names only)";
static const char bad_port[] = "endpoint= port must be a number from 1 to 65535";

/* Calendar constants of the proleptic Gregorian calendar. */

/* The Authorization value up to the signature; the order of SignedHeaders is the order of the
 * values in the string-to-sign. */
#define AUTH_PREFIX "HMAC-SHA256 SignedHeaders=x-ms-date;host;x-ms-content-sha256&Signature="

/* Overwrites p[0..n) with zeros through a volatile pointer, so the stores are not removed as
 * dead even when p's lifetime ends right after. */
static void wipe(void *p, size_t n)
{
	volatile unsigned char *v = p;
	while (n-- > 0)
		*v++ = 0;
}

/* ---- connection string ------------------------------------------------------------------- */

/* A slice of the caller's text. */
struct span {
	const char *p;
	size_t n;
};

static int is_blank(char ch)
{
	return ch == ' ' || ch == '\t';
}

static char lower(char ch)
{
	return ch >= 'A' && ch <= 'Z' ? (char)(ch - 'A' + 'a') : ch;
}

static int is_digit(char ch)
{
	return ch >= '0' && ch <= '9';
}

static int is_hex(char ch)
{
	return is_digit(ch) || (lower(ch) >= 'a' && lower(ch) <= 'f');
}

/* s without leading and trailing spaces and tabs. */
static struct span trim(struct span s)
{
	while (s.n > 0 && is_blank(s.p[0])) {
		s.p++;
		s.n--;
	}
	while (s.n > 0 && is_blank(s.p[s.n - 1]))
		s.n--;
	return s;
}

/* 1 when s starts with lit, ASCII letters compared case-insensitively. */
static int starts_with_ci(struct span s, const char *lit)
{
	size_t k = strlen(lit);
	if (s.n < k)
		return 0;
	for (size_t i = 0; i < k; i++)
		if (lower(s.p[i]) != lower(lit[i]))
			return 0;
	return 1;
}

/* 1 when s is lit, ASCII letters compared case-insensitively. */
static int equals_ci(struct span s, const char *lit)
{
	return s.n == strlen(lit) && starts_with_ci(s, lit);
}

/* Offset of the first ch in s, or s.n. */
static size_t find(struct span s, char ch)
{
	const char *q = memchr(s.p, ch, s.n);
	return q ? (size_t)(q - s.p) : s.n;
}

/* Stores value in *slot unless one is already there. Returns the error text or NULL. */
static const char *take(struct span value, struct span *slot, int *seen, const char *twice)
{
	if (*seen)
		return twice;
	*seen = 1;
	*slot = value;
	return NULL;
}

/* Splits s[0..n) at ';' into name=value parts; finds the endpoint and accesskey values. Unknown
 * names and empty parts are skipped. Returns the error text or NULL. */
static const char *split_parts(const char *s, size_t n, struct span *endpoint, struct span *key)
{
	int have_endpoint = 0, have_key = 0;
	const char *why = NULL;
	struct span rest = {s, n};
	while (!why) {
		size_t end = find(rest, ';');
		struct span part = trim((struct span){rest.p, end});
		if (part.n > 0) {
			size_t eq = find(part, '=');
			if (eq == part.n)
				return "a part has no '='";
			struct span name = trim((struct span){part.p, eq});
			struct span value = trim((struct span){part.p + eq + 1, part.n - eq - 1});
			if (equals_ci(name, "endpoint"))
				why = take(value, endpoint, &have_endpoint,
				           "endpoint= appears twice");
			else if (equals_ci(name, "accesskey"))
				why = take(value, key, &have_key, "accesskey= appears twice");
		}
		if (end == rest.n)
			break;
		rest.p += end + 1;
		rest.n -= end + 1;
	}
	if (!why && !have_endpoint)
		why = "no endpoint= part (expected endpoint=https://<host>/;accesskey=<key>)";
	if (!why && !have_key)
		why = "no accesskey= part (expected endpoint=https://<host>/;accesskey=<key>)";
	return why;
}

/* 1 when label is a number as a URL parser reads one (decimal, or 0x hex), so a host ending
 * in it is an IPv4 address in some notation (WHATWG URL "ends in a number"). */
static int is_number_label(struct span label)
{
	size_t i = 0;
	int (*digit)(char) = is_digit;
	if (label.n >= 2 && label.p[0] == '0' && lower(label.p[1]) == 'x') {
		i = 2;
		digit = is_hex;
	}
	for (; i < label.n; i++)
		if (!digit(label.p[i]))
			return 0;
	return 1;
}

/* 1 when label is 1..MAX_LABEL letters, digits and inner hyphens (RFC 1123 2.1). */
static int is_ldh_label(struct span label)
{
	if (label.n == 0 || label.n > MAX_LABEL || label.p[0] == '-' || label.p[label.n - 1] == '-')
		return 0;
	for (size_t i = 0; i < label.n; i++) {
		char ch = lower(label.p[i]);
		if (!(ch >= 'a' && ch <= 'z') && !is_digit(ch) && ch != '-')
			return 0;
	}
	return 1;
}

/* Checks that host is a DNS name. Returns the error text or NULL. */
static const char *check_host(struct span host)
{
	if (host.n == 0)
		return "endpoint= has no host name";
	if (host.n > ACS_MAX_HOST)
		return "endpoint= host name is longer than " STR(ACS_MAX_HOST) " characters";
	for (struct span rest = host;;) {
		size_t dot = find(rest, '.');
		struct span label = {rest.p, dot};
		if (!is_ldh_label(label))
			return not_dns_name;
		if (dot == rest.n) /* the last label decides whether it is an IPv4 address */
			return is_number_label(label) ? ip_literal : NULL;
		rest.p += dot + 1;
		rest.n -= dot + 1;
	}
}

/* Parses a decimal TCP port 1..65535 of at most 5 digits. Returns the error text or NULL. */
static const char *parse_port(struct span s, uint16_t *port)
{
	unsigned long v = 0;
	if (s.n == 0 || s.n > 5)
		return bad_port;
	for (size_t i = 0; i < s.n; i++) {
		if (!is_digit(s.p[i]))
			return bad_port;
		v = v * 10 + (unsigned long)(s.p[i] - '0');
	}
	if (v < 1 || v > 65535)
		return bad_port;
	*port = (uint16_t)v;
	return NULL;
}

/* Fills c->host (lower-cased) and c->endpoint_host from a checked host and port. */
static void store_host(struct acs_conn *c, struct span host, uint16_t port)
{
	struct buf b;
	for (size_t i = 0; i < host.n; i++)
		c->host[i] = lower(host.p[i]);
	c->host[host.n] = 0;
	c->port = port;
	buf_init(&b, c->endpoint_host, sizeof c->endpoint_host);
	buf_puts(&b, c->host);
	if (port != ACS_DEFAULT_PORT) {
		buf_putc(&b, ':');
		buf_put_u64(&b, port);
	}
	buf_cstr(&b); /* fits: ACS_MAX_AUTHORITY counts ":65535" */
}

/* Parses "https://<host>[:port][/]". Returns the error text or NULL. */
static const char *parse_endpoint(struct span v, struct acs_conn *c)
{
	static const char scheme[] = "https://";
	if (starts_with_ci(v, "http://"))
		return "endpoint= must use https://, not http:// (the key would sign requests "
		       "sent in clear)";
	if (!starts_with_ci(v, scheme))
		return "endpoint= must start with https://";
	v.p += sizeof scheme - 1;
	v.n -= sizeof scheme - 1;

	size_t end = 0; /* the authority ends at the first '/', '?' or '#' */
	while (end < v.n && v.p[end] != '/' && v.p[end] != '?' && v.p[end] != '#')
		end++;
	struct span authority = {v.p, end}, tail = {v.p + end, v.n - end};
	if (tail.n > 1 || (tail.n == 1 && tail.p[0] != '/'))
		return "endpoint= must have no path, query or fragment (only a trailing '/')";
	if (find(authority, '@') < authority.n)
		return "endpoint= must not contain a user name or password ('@')";
	if (authority.n > 0 && authority.p[0] == '[')
		return ip_literal; /* [IPv6] */

	uint16_t port = ACS_DEFAULT_PORT;
	size_t colon = find(authority, ':');
	struct span host = {authority.p, colon};
	struct span digits = {authority.p + colon, authority.n - colon}; /* ":port" or empty */
	const char *why = NULL;
	if (digits.n > 0)
		why = parse_port((struct span){digits.p + 1, digits.n - 1}, &port);
	if (!why)
		why = check_host(host);
	if (!why)
		store_host(c, host, port);
	return why;
}

/* Decodes the access key into c->key. Returns the error text or NULL. */
static const char *parse_key(struct span v, struct acs_conn *c)
{
	if (v.n == 0)
		return "accesskey= is empty";
	long r = b64_decode(v.p, v.n, c->key, sizeof c->key);
	if (r == -ERR_OVERFLOW)
		return "accesskey= decodes to more than " STR(ACS_MAX_KEY) " bytes";
	if (r <= 0)
		return "accesskey= is not valid base64 (A-Z a-z 0-9 + /, '=' padding, length a "
		       "multiple of 4)";
	c->key_len = (size_t)r;
	return NULL;
}

/* A refused setting: wipes c, writes the reason (never any text of the input) into err. */
static int refuse(struct acs_conn *c, const char *why, char *err, size_t errcap)
{
	acs_conn_wipe(c);
	if (errcap > 0) {
		struct buf b;
		buf_init(&b, err, errcap);
		buf_puts(&b, why);
		buf_cstr(&b);
	}
	return -ERR_FIELD_INVALID;
}

/* see acs_auth.h */
int acs_conn_parse(const char *s, size_t n, struct acs_conn *c, char *err, size_t errcap)
{
	struct span endpoint = {0}, key = {0};
	acs_conn_wipe(c);
	const char *why = split_parts(s, n, &endpoint, &key);
	if (!why)
		why = parse_endpoint(endpoint, c);
	if (!why)
		why = parse_key(key, c);
	return why ? refuse(c, why, err, errcap) : 0;
}

/* see acs_auth.h */
int acs_endpoint_parse(const char *s, size_t n, struct acs_conn *c, char *err, size_t errcap)
{
	acs_conn_wipe(c);
	const char *why = parse_endpoint(trim((struct span){s, n}), c);
	if (!why)
		return 0;
	/* the reasons speak of the connection string's "endpoint= " part; here it is the URL */
	return refuse(c, strncmp(why, "endpoint= ", 10) == 0 ? why + 10 : why, err, errcap);
}

/* see acs_auth.h */
void acs_conn_wipe(struct acs_conn *c)
{
	wipe(c, sizeof *c);
}

/* ---- date -------------------------------------------------------------------------------- */

/* see acs_auth.h */
int acs_auth_date(char out[ACS_DATE_LEN + 1], int64_t t)
{
	return date_imf(out, t);
}

/* ---- hashing and signing ----------------------------------------------------------------- */

/* Writes the base64 of a 32-byte digest into out, NUL-terminated. */
static void digest_b64(const unsigned char d[br_sha256_SIZE], char out[ACS_B64_SHA256_LEN + 1])
{
	struct buf b;
	buf_init(&b, out, ACS_B64_SHA256_LEN + 1);
	b64_encode(&b, d, br_sha256_SIZE);
	buf_cstr(&b);
}

/* see acs_auth.h */
void acs_auth_content_hash(const void *body, size_t len, char out[ACS_B64_SHA256_LEN + 1])
{
	br_sha256_context sc;
	unsigned char d[br_sha256_SIZE];
	br_sha256_init(&sc);
	if (len > 0)
		br_sha256_update(&sc, body, len);
	br_sha256_out(&sc, d);
	digest_b64(d, out);
}

/* The string-to-sign as pieces, so it can go to a buf or straight into the HMAC without a
 * bounded copy. */
struct piece {
	const char *p;
	size_t n;
};
#define STS_PIECES 9

static void sts_pieces(struct piece pc[STS_PIECES], const char *method, const char *path_and_query,
                       const char *date, const char *host, const char *content_hash)
{
	const char *s[STS_PIECES] = {method, "\n", path_and_query, "\n", date, ";",
	                             host,   ";",  content_hash};
	for (int i = 0; i < STS_PIECES; i++)
		pc[i] = (struct piece){s[i], strlen(s[i])};
}

/* HMAC-SHA256 of the concatenated pieces under key, as base64 into out; wipes the key state. */
static void hmac_pieces(const void *key, size_t key_len, const struct piece *pc, size_t count,
                        char out[ACS_B64_SHA256_LEN + 1])
{
	br_hmac_key_context kc;
	br_hmac_context hc;
	unsigned char tag[br_sha256_SIZE];
	br_hmac_key_init(&kc, &br_sha256_vtable, key, key_len);
	br_hmac_init(&hc, &kc, 0);
	for (size_t i = 0; i < count; i++)
		if (pc[i].n > 0)
			br_hmac_update(&hc, pc[i].p, pc[i].n);
	br_hmac_out(&hc, tag);
	wipe(&kc, sizeof kc); /* both contexts hold hash states derived from the key */
	wipe(&hc, sizeof hc);
	digest_b64(tag, out);
}

/* see acs_auth.h */
void acs_auth_string_to_sign(struct buf *b, const char *method, const char *path_and_query,
                             const char *date, const char *host, const char *content_hash)
{
	struct piece pc[STS_PIECES];
	sts_pieces(pc, method, path_and_query, date, host, content_hash);
	for (int i = 0; i < STS_PIECES; i++)
		buf_append(b, pc[i].p, pc[i].n);
}

/* see acs_auth.h */
void acs_auth_signature(const void *key, size_t key_len, const void *msg, size_t len,
                        char out[ACS_B64_SHA256_LEN + 1])
{
	struct piece one = {msg, len};
	hmac_pieces(key, key_len, &one, 1, out);
}

/* 1 when s is one or more upper-case ASCII letters. */
static int valid_method(const char *s)
{
	if (!*s)
		return 0;
	for (; *s; s++)
		if (*s < 'A' || *s > 'Z')
			return 0;
	return 1;
}

/* 1 when s starts with '/' and holds only visible ASCII (no space, control or 8-bit byte). */
static int valid_target(const char *s)
{
	if (*s != '/')
		return 0;
	for (; *s; s++)
		if ((unsigned char)*s < 0x21 || (unsigned char)*s > 0x7e)
			return 0;
	return 1;
}

/* Appends "name: value\r\n". */
static void put_header(struct buf *b, const char *name, const char *value)
{
	buf_puts(b, name);
	buf_puts(b, ": ");
	buf_puts(b, value);
	buf_puts(b, "\r\n");
}

/* see acs_auth.h */
int acs_auth_sign(struct buf *out, const struct acs_conn *c, const char *method,
                  const char *path_and_query, const void *body, size_t body_len, int64_t unix_time)
{
	char date[ACS_DATE_LEN + 1], hash[ACS_B64_SHA256_LEN + 1], sig[ACS_B64_SHA256_LEN + 1];
	struct piece pc[STS_PIECES];
	if (c->key_len == 0 || c->key_len > ACS_MAX_KEY || !valid_method(method) ||
	    !valid_target(path_and_query) || acs_auth_date(date, unix_time) < 0)
		return -ERR_FIELD_INVALID;
	acs_auth_content_hash(body, body_len, hash);
	sts_pieces(pc, method, path_and_query, date, c->endpoint_host, hash);
	hmac_pieces(c->key, c->key_len, pc, STS_PIECES, sig);

	put_header(out, "x-ms-date", date);
	put_header(out, "x-ms-content-sha256", hash);
	buf_puts(out, "Authorization: " AUTH_PREFIX);
	buf_puts(out, sig);
	buf_puts(out, "\r\n");
	wipe(sig, sizeof sig); /* a signature is as good as the request it signs */
	return out->err;
}
