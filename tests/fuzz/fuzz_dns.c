/*
 * fuzz_dns.c: libFuzzer target for the pure parts of dns.h. The input is copied to the end of a
 * fixed buffer (an overread hits ASan's redzone) and read three ways:
 *  - as a DNS answer: dns_parse_answer() with the id, name and type of the message's own
 *    question (when it has a plain one), so the fuzzer gets past the echo checks into the
 *    records. Results must be documented codes; addresses must have the asked family and port;
 *    a smaller max must give a prefix of the same list; letter case of the name, a wrong id and
 *    a prefix of the message must behave as documented;
 *  - as resolv.conf text: every field of the result within its documented bounds;
 *  - as a hosts file: lookups of fixed names and of a name taken from the input, with counts,
 *    families and ports as documented and case-insensitive matching.
 * A slice of the input is also used as a host name: a valid one must build a query whose own
 * answer form (QR set, no records) parses as NODATA; an invalid one must be refused.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <netinet/in.h>

#include "dns.h"
#include "err.h"
#include "fuzz.h"

/* Inputs above this are cut; make fuzz-replay runs with -max_len=65536. */
#define FUZZ_MAX_INPUT 65536
/* The port every address must carry. */
#define FUZZ_PORT 8443
/* Longest input slice used as a host name: over DNS_NAME_MAX, so too long names are tried. */
#define FUZZ_MAX_NAME 300

static unsigned char input[FUZZ_MAX_INPUT], prefix[FUZZ_MAX_INPUT];

static char lower(char c)
{
	return c >= 'A' && c <= 'Z' ? (char)(c + 32) : c;
}

static char upper(char c)
{
	return c >= 'a' && c <= 'z' ? (char)(c - 32) : c;
}

/* The question name of msg, when it is plain labels, in text form into name. Sets *qtype. */
static int question(const unsigned char *msg, size_t len, char *name, uint16_t *qtype)
{
	size_t p = 12, o = 0;
	if (len < 12)
		return -1;
	while (p < len && msg[p] != 0) {
		size_t l = msg[p];
		if (l > 63 || p + 1 + l >= len || o + l + 1 > DNS_NAME_MAX)
			return -1;
		if (o > 0)
			name[o++] = '.';
		memcpy(name + o, msg + p + 1, l);
		o += l;
		p += 1 + l;
	}
	name[o] = 0;
	if (p + 3 > len || o == 0)
		return -1;
	*qtype = (uint16_t)(msg[p + 1] << 8 | msg[p + 2]);
	return 0;
}

static void check_addrs(const struct dns_addr *a, int n, int family, uint16_t port)
{
	for (int i = 0; i < n; i++) {
		CHECK(a[i].ss.ss_family == family);
		if (family == AF_INET) {
			const struct sockaddr_in *s = (const struct sockaddr_in *)&a[i].ss;
			CHECK(a[i].len == sizeof *s && ntohs(s->sin_port) == port);
		} else {
			const struct sockaddr_in6 *s = (const struct sockaddr_in6 *)&a[i].ss;
			CHECK(a[i].len == sizeof *s && ntohs(s->sin6_port) == port);
		}
	}
}

static int answer_known(int r)
{
	return (r >= 0 && r <= DNS_MAX_ADDRS) || r == -ERR_NOT_FOUND || r == -ERR_PARTIAL ||
	       r == -ERR_UPSTREAM_UNAVAILABLE || r == -ERR_UPSTREAM_BAD_RESPONSE;
}

static void fuzz_answer(const unsigned char *msg, size_t len)
{
	char name[DNS_NAME_MAX + 1];
	uint16_t qtype = DNS_TYPE_A;
	if (question(msg, len, name, &qtype) != 0)
		strcpy(name, "example.com");
	if (qtype != DNS_TYPE_AAAA)
		qtype = DNS_TYPE_A;
	int family = qtype == DNS_TYPE_A ? AF_INET : AF_INET6;
	uint16_t id = len >= 2 ? (uint16_t)(msg[0] << 8 | msg[1]) : 0;
	struct dns_addr out[DNS_MAX_ADDRS], out1[DNS_MAX_ADDRS];

	int r = dns_parse_answer(msg, len, id, name, qtype, out, DNS_MAX_ADDRS, FUZZ_PORT);
	CHECK(answer_known(r));
	if (r > 0)
		check_addrs(out, r, family, FUZZ_PORT);
	if (!dns_name_valid(name) || len < 12)
		CHECK(r == -ERR_UPSTREAM_BAD_RESPONSE);

	/* the same again: same answer, same addresses */
	int r2 = dns_parse_answer(msg, len, id, name, qtype, out1, DNS_MAX_ADDRS, FUZZ_PORT);
	CHECK(r2 == r);
	if (r > 0)
		CHECK(memcmp(out, out1, (size_t)r * sizeof out[0]) == 0);

	/* a smaller max gives a prefix of the list; max 0 writes nothing */
	int r1 = dns_parse_answer(msg, len, id, name, qtype, out1, 1, 7);
	CHECK(r1 == (r > 0 ? 1 : r));
	if (r1 == 1)
		CHECK(out1[0].ss.ss_family == out[0].ss.ss_family && out1[0].len == out[0].len);
	CHECK(dns_parse_answer(msg, len, id, name, qtype, NULL, 0, 7) == (r > 0 ? 0 : r));

	/* names compare case-insensitively; a final dot changes nothing */
	char other[DNS_NAME_MAX + 2];
	size_t n = strlen(name);
	for (size_t i = 0; i < n; i++)
		other[i] = len % 2 ? upper(name[i]) : lower(name[i]);
	other[n] = '.';
	other[n + 1] = 0;
	if (n < DNS_NAME_MAX + 1)
		CHECK(dns_parse_answer(msg, len, id, other, qtype, out1, DNS_MAX_ADDRS,
		                       FUZZ_PORT) == r);

	/* another id is never our answer */
	CHECK(dns_parse_answer(msg, len, (uint16_t)(id + 1), name, qtype, out1, DNS_MAX_ADDRS,
	                       FUZZ_PORT) == -ERR_UPSTREAM_BAD_RESPONSE);

	/* a prefix (at the end of its own buffer): the same result when the cut only dropped
	 * trailing bytes, else malformed; never anything else */
	size_t k = len > 0 ? (size_t)msg[len - 1] * len / 256 : 0;
	memcpy(prefix + FUZZ_MAX_INPUT - k, msg, k);
	int rk = dns_parse_answer(prefix + FUZZ_MAX_INPUT - k, k, id, name, qtype, out1,
	                          DNS_MAX_ADDRS, FUZZ_PORT);
	CHECK(rk == r || rk == -ERR_UPSTREAM_BAD_RESPONSE);
	if (rk > 0)
		CHECK(memcmp(out, out1, (size_t)rk * sizeof out[0]) == 0);
}

static void fuzz_conf(const char *text, size_t len)
{
	struct dns_conf c, d;
	memset(&c, 0xa5, sizeof c);
	int r = dns_parse_resolv_conf(text, len, &c);
	CHECK(r >= 0 && r <= DNS_MAX_SERVERS);
	CHECK(c.nservers == (r > 0 ? r : 1));
	for (int i = 0; i < c.nservers; i++) {
		int fam = c.servers[i].ss.ss_family;
		CHECK(fam == AF_INET || fam == AF_INET6);
		check_addrs(&c.servers[i], 1, fam, 53);
	}
	if (r == 0) {
		const struct sockaddr_in *s = (const struct sockaddr_in *)&c.servers[0].ss;
		CHECK(s->sin_family == AF_INET && ntohl(s->sin_addr.s_addr) == 0x7f000001);
	}
	CHECK(c.timeout_ms >= 1000 && c.timeout_ms <= DNS_MAX_TIMEOUT_S * 1000 &&
	      c.timeout_ms % 1000 == 0);
	CHECK(c.attempts >= 1 && c.attempts <= DNS_MAX_ATTEMPTS);
	CHECK(c.ndots >= 0 && c.ndots <= DNS_MAX_NDOTS);
	CHECK(c.nsearch >= 0 && c.nsearch <= DNS_MAX_SEARCH);
	for (int i = 0; i < c.nsearch; i++) {
		size_t n = strnlen(c.search[i], sizeof c.search[i]);
		CHECK(n > 0 && n <= DNS_NAME_MAX);
		CHECK(c.search[i][n - 1] != '.');
		CHECK(dns_name_valid(c.search[i]));
	}
	/* no hidden state: the same text gives the same bytes */
	memset(&d, 0x5a, sizeof d);
	CHECK(dns_parse_resolv_conf(text, len, &d) == r);
	CHECK(memcmp(&c, &d, sizeof c) == 0);
}

static void hosts_one(const char *text, size_t len, const char *name)
{
	struct dns_addr out[DNS_MAX_ADDRS], out1[DNS_MAX_ADDRS];
	int r = dns_hosts_lookup(text, len, name, out, DNS_MAX_ADDRS, FUZZ_PORT);
	CHECK(r >= 0 && r <= DNS_MAX_ADDRS);
	for (int i = 0; i < r; i++)
		check_addrs(&out[i], 1, out[i].ss.ss_family == AF_INET ? AF_INET : AF_INET6,
		            FUZZ_PORT);
	/* case-insensitive: the upper-case name finds the same addresses */
	char up[FUZZ_MAX_NAME + 1];
	size_t n = strlen(name);
	for (size_t i = 0; i <= n; i++)
		up[i] = upper(name[i]);
	CHECK(dns_hosts_lookup(text, len, up, out1, DNS_MAX_ADDRS, FUZZ_PORT) == r);
	if (r > 0)
		CHECK(memcmp(out, out1, (size_t)r * sizeof out[0]) == 0);
	/* a smaller max gives the first ones */
	int r2 = dns_hosts_lookup(text, len, name, out1, 2, FUZZ_PORT);
	CHECK(r2 == (r < 2 ? r : 2));
	if (r2 > 0)
		CHECK(memcmp(out, out1, (size_t)r2 * sizeof out[0]) == 0);
}

/* The second token of the first line that has two: the name a hosts line would list. */
static void second_token(const char *t, size_t len, char *name)
{
	size_t i = 0, n = 0;
	name[0] = 0;
	while (i < len && t[i] != '\n' && (t[i] == ' ' || t[i] == '\t'))
		i++;
	while (i < len && t[i] != '\n' && t[i] != ' ' && t[i] != '\t')
		i++;
	while (i < len && t[i] != '\n' && (t[i] == ' ' || t[i] == '\t'))
		i++;
	while (i < len && n < FUZZ_MAX_NAME && t[i] != '\n' && t[i] != ' ' && t[i] != '\t' &&
	       t[i] != 0)
		name[n++] = t[i++];
	name[n] = 0;
}

static void fuzz_hosts(const char *text, size_t len)
{
	char name[FUZZ_MAX_NAME + 1];
	hosts_one(text, len, "localhost");
	hosts_one(text, len, "api.internal");
	second_token(text, len, name);
	hosts_one(text, len, name);
}

/* A valid name builds a query whose answer form parses as NODATA; an invalid one is refused. */
static void fuzz_query(const uint8_t *data, size_t size)
{
	char name[FUZZ_MAX_NAME + 1];
	size_t n = size < FUZZ_MAX_NAME ? size : FUZZ_MAX_NAME;
	size_t from = size > n ? data[0] % (size - n + 1) : 0;
	memcpy(name, data + from, n);
	name[n] = 0;
	unsigned char q[DNS_QUERY_MAX];
	uint16_t id = size >= 2 ? (uint16_t)(data[0] << 8 | data[1]) : 0;
	uint16_t qtype = size % 2 ? DNS_TYPE_AAAA : DNS_TYPE_A;
	int r = dns_build_query(q, sizeof q, id, name, qtype);
	if (!dns_name_valid(name)) {
		CHECK(r == -ERR_FIELD_INVALID);
		return;
	}
	CHECK(r > 12 && r <= DNS_QUERY_MAX);
	CHECK(dns_build_query(q, (size_t)r - 1, id, name, qtype) == -ERR_OVERFLOW);
	CHECK(dns_parse_answer(q, (size_t)r, id, name, qtype, NULL, 0, 1) ==
	      -ERR_UPSTREAM_BAD_RESPONSE); /* QR clear: a query */
	q[2] |= 0x80;
	struct dns_addr out[1];
	CHECK(dns_parse_answer(q, (size_t)r, id, name, qtype, out, 1, 1) == 0);
	q[3] |= 3;
	CHECK(dns_parse_answer(q, (size_t)r, id, name, qtype, out, 1, 1) == -ERR_NOT_FOUND);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	size_t len = size < FUZZ_MAX_INPUT ? size : FUZZ_MAX_INPUT;
	unsigned char *buf = input + FUZZ_MAX_INPUT - len;
	memcpy(buf, data, len);
	fuzz_answer(buf, len);
	fuzz_conf((const char *)buf, len);
	fuzz_hosts((const char *)buf, len);
	fuzz_query(data, len);
	return 0;
}
