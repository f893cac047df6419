/*
 * acs_auth.h: Azure Communication Services (ACS) access-key authentication: the connection string
 * and the HMAC-SHA256 request signature
 * (https://learn.microsoft.com/azure/communication-services/tutorials/hmac-header-tutorial, "Sign
 * an HTTP request": the string-to-sign, the content hash and the Authorization header).
 *
 * A signed request carries three headers computed here:
 *
 *   x-ms-date: <RFC 1123 date, GMT>
 *   x-ms-content-sha256: <base64 SHA-256 of the exact body bytes sent>
 *   Authorization: HMAC-SHA256 SignedHeaders=x-ms-date;host;x-ms-content-sha256&Signature=<sig>
 *
 * where sig = base64(HMAC-SHA256(decoded access key, string-to-sign)) and the string-to-sign is
 *
 *   METHOD "\n" path-and-query "\n" x-ms-date ";" host ";" x-ms-content-sha256
 *
 * (LF only, no trailing newline). `host` is the Host header value: the DNS name, plus ":port" only
 * when the port is not 443 (as the official JS SDK signs url.host and .NET signs Uri.Authority).
 *
 * The key is a secret: it lives only in struct acs_conn and, while signing, in an HMAC context on
 * the stack that is wiped before returning. No function here writes it or echoes connection-string
 * text into an error message. Nothing here allocates, reads the clock or uses stdio.
 */
#ifndef NOTIFY_ACS_AUTH_H
#define NOTIFY_ACS_AUTH_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "date.h"

/* Longest DNS name in text form without a trailing dot (RFC 1035 2.3.4, RFC 2181 11). */
#define ACS_MAX_HOST 253

/* Longest Host header value: a DNS name, ':' and a port of up to 5 digits (65535). */
#define ACS_MAX_AUTHORITY (ACS_MAX_HOST + 6)

/* Decoded access-key bytes at most. ACS keys are 64 bytes (88 base64 characters); twice that
 * leaves headroom for a longer key format without letting a pasted blob through unnoticed. */
#define ACS_MAX_KEY 128

/* Port used when the endpoint names none, and left out of the signed host (https default). */
#define ACS_DEFAULT_PORT 443

/* Length of an x-ms-date value, "Wed, 13 Apr 2022 18:09:12 GMT" (IMF-fixdate, RFC 7231 7.1.1.1). */
#define ACS_DATE_LEN DATE_IMF_LEN

/* Length of the base64 text of a 32-byte SHA-256 hash or HMAC-SHA256 tag, padding included. */
#define ACS_B64_SHA256_LEN 44

/* Bytes acs_auth_sign appends, always: its three lines have fixed-length values.
 * "x-ms-date: " 29 CRLF (42) + "x-ms-content-sha256: " 44 CRLF (67)
 * + "Authorization: HMAC-SHA256 SignedHeaders=x-ms-date;host;x-ms-content-sha256&Signature=" 44
 * CRLF (132). */
#define ACS_AUTH_HEADERS_LEN 241

/* Latest time acs_auth_date formats: 9999-12-31 23:59:59 UTC (the date has a 4-digit year). */
#define ACS_MAX_UNIX_TIME DATE_MAX_UNIX

/* A parsed connection string. Filled by acs_conn_parse; wipe with acs_conn_wipe when done. */
struct acs_conn {
	char endpoint_host[ACS_MAX_AUTHORITY + 1]; /* Host header value, also the signed host:
	                                              "name" or "name:port" (port != 443) */
	char host[ACS_MAX_HOST + 1];               /* DNS name to resolve, connect to and send as
	                                              TLS SNI / check the certificate against */
	uint16_t port;                             /* TCP port; ACS_DEFAULT_PORT when not given */
	unsigned char key[ACS_MAX_KEY];            /* decoded access key: the HMAC key (secret) */
	size_t key_len;                            /* bytes in key, 1..ACS_MAX_KEY */
};

/*
 * Parses the connection string s[0..n) ("endpoint=https://<host>[:port][/];accesskey=<base64>")
 * into c. Tolerated: the two parts in either order, names in any case, spaces and tabs around
 * parts, names and values, empty parts (a trailing ';'), unknown parts (ignored), a trailing '/'
 * on the endpoint, an upper-case scheme or host (the host is lower-cased), an explicit ":443".
 * Rejected: a missing or repeated endpoint or accesskey, a part without '=', a scheme other than
 * https:// (http:// is refused: the key must not travel in clear), userinfo, a path other than
 * "/", a query or fragment, an empty or invalid port, an empty or invalid DNS name or one longer
 * than ACS_MAX_HOST, an IP literal (IPv4 or [IPv6]: BearSSL checks certificates against DNS names
 * only), an empty access key, one that is not canonical base64 (RFC 4648, padded), and one that
 * decodes to more than ACS_MAX_KEY bytes.
 *
 * Returns 0, or -ERR_FIELD_INVALID with err[0..errcap) holding one NUL-terminated line naming the
 * problem (never any text of s, so never the key). err MAY be NULL when errcap is 0. On failure
 * c's key bytes are wiped and c MUST NOT be used.
 */
int acs_conn_parse(const char *s, size_t n, struct acs_conn *c, char *err, size_t errcap);

/*
 * Parses a bare endpoint URL s[0..n) ("https://<host>[:port][/]", the ACS_ENDPOINT setting of the
 * managed-identity path) into c, with the endpoint rules of acs_conn_parse. c has no key
 * (key_len 0): requests to it carry a bearer token instead of a signature. Returns 0, or
 * -ERR_FIELD_INVALID with one line in err[0..errcap) ("must start with https://").
 */
int acs_endpoint_parse(const char *s, size_t n, struct acs_conn *c, char *err, size_t errcap);

/* Overwrites all of c, the key included, with zeros (a store the compiler cannot drop). */
void acs_conn_wipe(struct acs_conn *c);

/*
 * Writes the x-ms-date value of Unix time t (seconds, UTC) into out: "Www, DD Mmm YYYY hh:mm:ss
 * GMT", English names, zero-padded day, 24-hour clock, independent of any locale; then a NUL.
 * Returns 0, or -ERR_FIELD_INVALID when t is outside 0..ACS_MAX_UNIX_TIME (out untouched).
 */
int acs_auth_date(char out[ACS_DATE_LEN + 1], int64_t t);

/* Writes base64(SHA-256(body[0..len))) into out, then a NUL. body MAY be NULL when len is 0. */
void acs_auth_content_hash(const void *body, size_t len, char out[ACS_B64_SHA256_LEN + 1]);

/*
 * Test seam (with acs_auth_signature): acs_auth_sign() builds the same string-to-sign from the
 * same pieces and signs it with the same HMAC code; these two expose the steps so the unit tests
 * can check them against the SDKs' published vectors one by one.
 *
 * Appends the string-to-sign to b: method "\n" path_and_query "\n" date ";" host ";" content_hash.
 * All arguments are NUL-terminated and used verbatim: method upper-case ("GET", "POST"),
 * path_and_query exactly the request-target of the request line ("/emails:send?api-version=..."),
 * host exactly the Host header value (struct acs_conn's endpoint_host). The text is not secret:
 * a debug log may show it. Errors are b's (sticky -ERR_OVERFLOW).
 */
void acs_auth_string_to_sign(struct buf *b, const char *method, const char *path_and_query,
                             const char *date, const char *host, const char *content_hash);

/*
 * Writes base64(HMAC-SHA256(key[0..key_len), msg[0..len))) into out, then a NUL. Any key length
 * works (keys longer than 64 bytes are hashed first, RFC 2104). The HMAC state derived from the
 * key is wiped before returning. Test seam: see acs_auth_string_to_sign().
 */
void acs_auth_signature(const void *key, size_t key_len, const void *msg, size_t len,
                        char out[ACS_B64_SHA256_LEN + 1]);

/*
 * Appends the three authentication header lines (ACS_AUTH_HEADERS_LEN bytes), each ended by CRLF,
 * to out, in this order:
 *   "x-ms-date: " date, "x-ms-content-sha256: " hash, "Authorization: HMAC-SHA256 ..."
 * for a request `method path_and_query` to c with body[0..body_len) (body MAY be NULL when
 * body_len is 0; hash exactly the bytes sent) at Unix time unix_time (read the clock for every
 * attempt: a retry needs a fresh date and signature). The request MUST carry
 * "Host: " c->endpoint_host. method MUST be upper-case letters; path_and_query MUST start with
 * '/' and hold only visible ASCII (0x21..0x7E).
 *
 * Returns 0; -ERR_FIELD_INVALID for a bad method, path_and_query or time, or a c without a key
 * (nothing appended); or out's sticky error (-ERR_OVERFLOW, -ERR_IO), in which case out may hold
 * part of the lines.
 */
int acs_auth_sign(struct buf *out, const struct acs_conn *c, const char *method,
                  const char *path_and_query, const void *body, size_t body_len, int64_t unix_time);

#endif
