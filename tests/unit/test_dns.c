/*
 * test_dns.c: unit tests of dns.h. The pure parts first: query bytes against hand-built packets;
 * answers (A, AAAA, CNAME chains, compression, loops, every header and question check, rcodes,
 * TC, every prefix of valid answers, random corruption) parsed at the very end of a mapping
 * followed by a PROT_NONE page, so any read past (msg, len) faults; resolv.conf and hosts text.
 * Then dns_resolve_with() end to end against a fake name server: a pthread serving UDP and TCP
 * on 127.0.0.1 (and ::1 when it can bind) at an ephemeral port, with switches for dropped
 * queries, wrong ids, answers from a wrong port, TC, SERVFAIL, silence and dropped AAAA queries.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "dns.h"
#include "err.h"

/* Room for the largest message of these tests (a TCP answer with 40 records is ~700 bytes). */
#define GUARD_ROOM DNS_MSG_MAX
/* The port every parsed address must carry. */
#define PORT 443
/* Longest text of an address (inet_ntop) in these tests. */
#define ADDR_TEXT 64
/* A records in the fake server's "big" answer: over 512 bytes, so UDP must say TC. */
#define BIG_COUNT 40
/* Per-try timeout of the end-to-end tests: short, so retry paths run in well under a second. */
#define TRY_MS 300
/* Names the fake server remembers, in order (search-list test). */
#define FAKE_LOG 16

/* ---- guard page ---------------------------------------------------------------------------- */

static unsigned char *guard_base; /* GUARD_ROOM writable bytes, then a PROT_NONE page */

static int guard_setup(void **state)
{
	(void)state;
	size_t page = (size_t)sysconf(_SC_PAGESIZE);
	size_t room = (GUARD_ROOM + page - 1) / page * page;
	unsigned char *m =
	    mmap(NULL, room + page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (m == MAP_FAILED || mprotect(m + room, page, PROT_NONE) != 0)
		return -1;
	guard_base = m + room - GUARD_ROOM;
	return 0;
}

/* Copies data[0..n) so that it ends right before the guard page; returns the copy. */
static const unsigned char *guarded(const void *data, size_t n)
{
	assert_true(n <= GUARD_ROOM);
	unsigned char *p = guard_base + GUARD_ROOM - n;
	memmove(p, data, n);
	return p;
}

/* ---- message builder ----------------------------------------------------------------------- */

struct mb {
	unsigned char b[DNS_MSG_MAX];
	size_t n;
};

static void mb_u8(struct mb *m, unsigned v)
{
	assert_true(m->n < sizeof m->b);
	m->b[m->n++] = (unsigned char)v;
}

static void mb_u16(struct mb *m, unsigned v)
{
	mb_u8(m, v >> 8);
	mb_u8(m, v & 0xff);
}

static void mb_u32(struct mb *m, uint32_t v)
{
	mb_u16(m, v >> 16);
	mb_u16(m, v & 0xffff);
}

/* The labels of s ("" for none), then a pointer to off, or the root when off < 0. */
static void mb_name_ptr(struct mb *m, const char *s, int off)
{
	while (*s) {
		const char *dot = strchr(s, '.');
		size_t n = dot ? (size_t)(dot - s) : strlen(s);
		mb_u8(m, (unsigned)n);
		for (size_t i = 0; i < n; i++)
			mb_u8(m, (unsigned char)s[i]);
		s += n + (dot != NULL);
	}
	if (off >= 0)
		mb_u16(m, 0xc000 | (unsigned)off);
	else
		mb_u8(m, 0);
}

static void mb_name(struct mb *m, const char *s)
{
	mb_name_ptr(m, s, -1);
}

/* Header: id, flags (QR and friends, rcode), section counts. */
static void mb_header(struct mb *m, unsigned id, unsigned flags, unsigned qd, unsigned an,
                      unsigned ns, unsigned ar)
{
	m->n = 0;
	mb_u16(m, id);
	mb_u16(m, flags);
	mb_u16(m, qd);
	mb_u16(m, an);
	mb_u16(m, ns);
	mb_u16(m, ar);
}

static void mb_set_count(struct mb *m, int section, unsigned v)
{
	m->b[4 + 2 * section] = (unsigned char)(v >> 8);
	m->b[5 + 2 * section] = (unsigned char)v;
}

/* Type, class IN, TTL 300 and rdlength after an owner name. */
static void mb_rr_fixed(struct mb *m, unsigned type, unsigned rdlen)
{
	mb_u16(m, type);
	mb_u16(m, 1);
	mb_u32(m, 300);
	mb_u16(m, rdlen);
}

/* Type, class IN, TTL and a zero rdlength; returns where the rdata starts, for mb_rr_close(). */
static size_t mb_rr_open(struct mb *m, unsigned type)
{
	mb_rr_fixed(m, type, 0);
	return m->n;
}

/* Sets the rdlength of the record whose rdata started at rdata to what was written since. */
static void mb_rr_close(struct mb *m, size_t rdata)
{
	size_t len = m->n - rdata;
	m->b[rdata - 2] = (unsigned char)(len >> 8);
	m->b[rdata - 1] = (unsigned char)len;
}

/* An A or AAAA record (by the text's form) owned by the name at off. */
static void mb_addr(struct mb *m, int off, const char *text)
{
	unsigned char ip[16];
	int v6 = strchr(text, ':') != NULL;
	assert_int_equal(inet_pton(v6 ? AF_INET6 : AF_INET, text, ip), 1);
	mb_u16(m, 0xc000 | (unsigned)off);
	mb_rr_fixed(m, v6 ? DNS_TYPE_AAAA : DNS_TYPE_A, v6 ? 16 : 4);
	for (int i = 0; i < (v6 ? 16 : 4); i++)
		mb_u8(m, ip[i]);
}

/* A CNAME record owned by the name at off, its target written in full. Returns the offset of
 * the target, for later pointers. */
static int mb_cname(struct mb *m, int off, const char *target)
{
	mb_u16(m, 0xc000 | (unsigned)off);
	mb_rr_fixed(m, DNS_TYPE_CNAME, (unsigned)strlen(target) + 2);
	int at = (int)m->n;
	mb_name(m, target);
	return at;
}

/* Flags of a normal answer: QR, RD, RA, rcode r. */
#define ANSWER_FLAGS(r) (0x8180u | (r))

/* Header and question of an answer to (id, name, qtype). The question name is at offset 12. */
static void mb_answer_head(struct mb *m, unsigned id, const char *name, unsigned qtype,
                           unsigned rcode, unsigned an)
{
	mb_header(m, id, ANSWER_FLAGS(rcode), 1, an, 0, 0);
	mb_name(m, name);
	mb_u16(m, qtype);
	mb_u16(m, 1);
}

/* ---- parse helpers ------------------------------------------------------------------------- */

static int parse_len(const struct mb *m, size_t len, unsigned id, const char *name, unsigned qtype,
                     struct dns_addr *out, int max)
{
	return dns_parse_answer(guarded(m->b, len), len, (uint16_t)id, name, (uint16_t)qtype, out,
	                        max, PORT);
}

static int parse(const struct mb *m, unsigned id, const char *name, unsigned qtype,
                 struct dns_addr *out, int max)
{
	return parse_len(m, m->n, id, name, qtype, out, max);
}

/* Text of a, with its port checked against port. */
static const char *addr_text(const struct dns_addr *a, uint16_t port, char *buf)
{
	if (a->ss.ss_family == AF_INET) {
		const struct sockaddr_in *s = (const struct sockaddr_in *)&a->ss;
		assert_int_equal(a->len, sizeof *s);
		assert_int_equal(ntohs(s->sin_port), port);
		assert_non_null(inet_ntop(AF_INET, &s->sin_addr, buf, ADDR_TEXT));
	} else {
		const struct sockaddr_in6 *s = (const struct sockaddr_in6 *)&a->ss;
		assert_int_equal(a->ss.ss_family, AF_INET6);
		assert_int_equal(a->len, sizeof *s);
		assert_int_equal(ntohs(s->sin6_port), port);
		assert_non_null(inet_ntop(AF_INET6, &s->sin6_addr, buf, ADDR_TEXT));
	}
	return buf;
}

static void expect_addr(const struct dns_addr *a, uint16_t port, const char *want)
{
	char t[ADDR_TEXT];
	assert_string_equal(addr_text(a, port, t), want);
}

/* ---- queries ------------------------------------------------------------------------------- */

static void test_query_bytes(void **state)
{
	(void)state;
	static const unsigned char want_a[] = {
	    0xbe, 0xef, 0x01, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, /* header */
	    3,    'w',  'w',  'w',  7,    'E',  'x',  'a',  'm',  'p',  'l',  'e',
	    3,    'c',  'o',  'm',  0,    0x00, 0x01, 0x00, 0x01, /* QTYPE A, QCLASS IN */
	};
	unsigned char buf[DNS_QUERY_MAX];
	assert_int_equal(dns_build_query(buf, sizeof buf, 0xbeef, "www.Example.com", DNS_TYPE_A),
	                 (int)sizeof want_a);
	assert_memory_equal(buf, want_a, sizeof want_a);
	/* a final dot changes nothing; AAAA is type 28 */
	assert_int_equal(dns_build_query(buf, sizeof buf, 0xbeef, "www.Example.com.", DNS_TYPE_A),
	                 (int)sizeof want_a);
	assert_memory_equal(buf, want_a, sizeof want_a);
	assert_int_equal(dns_build_query(buf, sizeof buf, 0x0102, "www.Example.com", DNS_TYPE_AAAA),
	                 (int)sizeof want_a);
	assert_int_equal(buf[0], 0x01);
	assert_int_equal(buf[1], 0x02);
	assert_int_equal(buf[sizeof want_a - 3], DNS_TYPE_AAAA);
	/* a single label */
	static const unsigned char want_one[] = {0, 7, 1, 0,   0, 1, 0,  0, 0, 0,
	                                         0, 0, 1, 'x', 0, 0, 28, 0, 1};
	assert_int_equal(dns_build_query(buf, sizeof buf, 7, "x", DNS_TYPE_AAAA),
	                 (int)sizeof want_one);
	assert_memory_equal(buf, want_one, sizeof want_one);
}

static void test_query_overflow(void **state)
{
	(void)state;
	unsigned char buf[DNS_QUERY_MAX];
	int full = dns_build_query(buf, sizeof buf, 1, "www.example.com", DNS_TYPE_A);
	assert_int_equal(full, 12 + 17 + 4);
	for (int cap = 0; cap < full; cap++)
		assert_int_equal(
		    dns_build_query(buf, (size_t)cap, 1, "www.example.com", DNS_TYPE_A),
		    -ERR_OVERFLOW);
	/* the longest name fits DNS_QUERY_MAX exactly */
	char name[DNS_NAME_MAX + 2];
	memset(name, 'a', DNS_NAME_MAX);
	for (int i = 63; i < DNS_NAME_MAX; i += 64)
		name[i] = '.';
	name[DNS_NAME_MAX] = 0;
	assert_true(dns_name_valid(name));
	assert_int_equal(dns_build_query(buf, sizeof buf, 1, name, DNS_TYPE_A), DNS_QUERY_MAX);
	strcat(name, ".");
	assert_int_equal(dns_build_query(buf, sizeof buf, 1, name, DNS_TYPE_A), DNS_QUERY_MAX);
}

static void test_name_valid(void **state)
{
	(void)state;
	static const char *good[] = {"a",           "localhost",
	                             "x.y",         "a-b.c-d.e",
	                             "0.1.2.3.4.5", "xn--bcher-kva.example",
	                             "A.B.C.",      "contoso.communication.azure.com",
	                             "123",         "a1-2b"};
	static const char *bad[] = {"",    ".",     "..",     "a..b",        ".a",      "a.b..",
	                            "-a",  "a-",    "a.-b.c", "a.b-.c",      "a_b",     "a b",
	                            "a/b", "[::1]", "a\tb",   "caf\xc3\xa9", "a.b.c..", "x%y"};
	for (size_t i = 0; i < sizeof good / sizeof *good; i++)
		if (!dns_name_valid(good[i]))
			fail_msg("\"%s\" should be valid", good[i]);
	for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
		if (dns_name_valid(bad[i]))
			fail_msg("\"%s\" should be invalid", bad[i]);
	char name[DNS_NAME_MAX + 3];
	memset(name, 'a', 63);
	name[63] = 0;
	assert_true(dns_name_valid(name)); /* 63-character label */
	memset(name, 'a', 64);
	name[64] = 0;
	assert_false(dns_name_valid(name)); /* 64 */
	/* 253 characters pass, 254 do not (with or without a final dot) */
	memset(name, 'a', sizeof name);
	for (int i = 1; i < DNS_NAME_MAX; i += 2)
		name[i] = '.';
	name[DNS_NAME_MAX] = 0;
	assert_true(dns_name_valid(name));
	name[DNS_NAME_MAX] = '.';
	name[DNS_NAME_MAX + 1] = 0;
	assert_true(dns_name_valid(name));
	name[DNS_NAME_MAX] = 'a';
	name[DNS_NAME_MAX - 1] = 'a';
	assert_false(dns_name_valid(name)); /* 254 characters */
	unsigned char buf[DNS_QUERY_MAX];
	assert_int_equal(dns_build_query(buf, sizeof buf, 1, "a_b", DNS_TYPE_A),
	                 -ERR_FIELD_INVALID);
	assert_int_equal(dns_build_query(buf, sizeof buf, 1, "", DNS_TYPE_A), -ERR_FIELD_INVALID);
}

/* ---- answers: good ones -------------------------------------------------------------------- */

static void test_answer_a(void **state)
{
	(void)state;
	struct mb m;
	struct dns_addr out[4];
	mb_answer_head(&m, 0x1234, "svc.example.com", DNS_TYPE_A, 0, 2);
	mb_addr(&m, 12, "192.0.2.1");
	mb_addr(&m, 12, "192.0.2.2");
	assert_int_equal(parse(&m, 0x1234, "svc.example.com", DNS_TYPE_A, out, 4), 2);
	expect_addr(&out[0], PORT, "192.0.2.1");
	expect_addr(&out[1], PORT, "192.0.2.2");
	/* a final dot in the name asked for, other letter case in the answer (0x20 echo) */
	assert_int_equal(parse(&m, 0x1234, "SVC.Example.COM.", DNS_TYPE_A, out, 4), 2);
	m.b[13] = 'S';
	m.b[18] = 'X';
	assert_int_equal(parse(&m, 0x1234, "svc.example.com", DNS_TYPE_A, out, 4), 2);
}

static void test_answer_aaaa(void **state)
{
	(void)state;
	struct mb m;
	struct dns_addr out[4];
	mb_answer_head(&m, 7, "v6.example.com", DNS_TYPE_AAAA, 0, 1);
	mb_addr(&m, 12, "2001:db8::1");
	assert_int_equal(parse(&m, 7, "v6.example.com", DNS_TYPE_AAAA, out, 4), 1);
	expect_addr(&out[0], PORT, "2001:db8::1");
	/* an A record in an AAAA answer is not taken */
	mb_answer_head(&m, 7, "v6.example.com", DNS_TYPE_AAAA, 0, 2);
	mb_addr(&m, 12, "192.0.2.9");
	mb_addr(&m, 12, "2001:db8::2");
	assert_int_equal(parse(&m, 7, "v6.example.com", DNS_TYPE_AAAA, out, 4), 1);
	expect_addr(&out[0], PORT, "2001:db8::2");
}

/* The Azure shape: endpoint -> CNAME -> CNAME -> A records, as recursive resolvers send it. */
static void build_chain(struct mb *m, unsigned id)
{
	mb_answer_head(m, id, "contoso.communication.azure.com", DNS_TYPE_A, 0, 4);
	int t1 = mb_cname(m, 12, "contoso.prod.communication.trafficmanager.net");
	int t2 = mb_cname(m, t1, "contoso-fd.azurefd.net");
	mb_addr(m, t2, "13.107.246.10");
	mb_addr(m, t2, "13.107.213.10");
}

static void test_answer_cname_chain(void **state)
{
	(void)state;
	struct mb m;
	struct dns_addr out[4];
	build_chain(&m, 99);
	assert_int_equal(parse(&m, 99, "contoso.communication.azure.com", DNS_TYPE_A, out, 4), 2);
	expect_addr(&out[0], PORT, "13.107.246.10");
	expect_addr(&out[1], PORT, "13.107.213.10");

	/* the same records in reverse order: the chain is followed wherever its links are */
	struct mb r;
	mb_answer_head(&r, 5, "a.example", DNS_TYPE_A, 0, 4);
	/* targets written in full before they are pointed at */
	int c_at = (int)r.n;
	mb_name(&r, "c.example"); /* A record owned by c.example (name in full) */
	mb_rr_fixed(&r, DNS_TYPE_A, 4);
	mb_u32(&r, 0xc0000207); /* 192.0.2.7 */
	int b_at = (int)r.n;
	mb_name(&r, "b.example"); /* b.example CNAME c.example */
	mb_rr_fixed(&r, DNS_TYPE_CNAME, 2);
	mb_u16(&r, 0xc000 | (unsigned)c_at);
	mb_addr(&r, 12, "192.0.2.66"); /* an A owned by the alias itself: not taken */
	mb_u16(&r, 0xc000 | 12);       /* a.example CNAME b.example */
	mb_rr_fixed(&r, DNS_TYPE_CNAME, 2);
	mb_u16(&r, 0xc000 | (unsigned)b_at);
	assert_int_equal(parse(&r, 5, "a.example", DNS_TYPE_A, out, 4), 1);
	expect_addr(&out[0], PORT, "192.0.2.7");
	/* asked for b.example directly (question differs: not ours), then CNAME to nothing */
	assert_int_equal(parse(&r, 5, "b.example", DNS_TYPE_A, out, 4), -ERR_UPSTREAM_BAD_RESPONSE);

	/* a chain that ends without an address record is NODATA */
	mb_answer_head(&m, 1, "a.example", DNS_TYPE_AAAA, 0, 1);
	mb_cname(&m, 12, "b.example");
	assert_int_equal(parse(&m, 1, "a.example", DNS_TYPE_AAAA, out, 4), 0);
}

static void test_answer_chain_limits(void **state)
{
	(void)state;
	struct mb m;
	struct dns_addr out[2];
	char target[32];
	/* DNS_MAX_CNAME links are followed ... */
	for (int links = DNS_MAX_CNAME; links <= DNS_MAX_CNAME + 1; links++) {
		mb_answer_head(&m, 1, "n0.example", DNS_TYPE_A, 0, (unsigned)links + 1);
		int at = 12;
		for (int i = 1; i <= links; i++) {
			snprintf(target, sizeof target, "n%d.example", i);
			at = mb_cname(&m, at, target);
		}
		mb_addr(&m, at, "192.0.2.1");
		int r = parse(&m, 1, "n0.example", DNS_TYPE_A, out, 2);
		/* ... one more is taken for a loop */
		assert_int_equal(r, links == DNS_MAX_CNAME ? 1 : -ERR_UPSTREAM_BAD_RESPONSE);
	}
	/* a CNAME loop: a -> b -> a */
	mb_answer_head(&m, 1, "a.example", DNS_TYPE_A, 0, 2);
	int b = mb_cname(&m, 12, "b.example");
	mb_u16(&m, 0xc000 | (unsigned)b);
	mb_rr_fixed(&m, DNS_TYPE_CNAME, 2);
	mb_u16(&m, 0xc000 | 12);
	assert_int_equal(parse(&m, 1, "a.example", DNS_TYPE_A, out, 2), -ERR_UPSTREAM_BAD_RESPONSE);
	/* a CNAME to itself */
	mb_answer_head(&m, 1, "a.example", DNS_TYPE_A, 0, 1);
	mb_u16(&m, 0xc000 | 12);
	mb_rr_fixed(&m, DNS_TYPE_CNAME, 2);
	mb_u16(&m, 0xc000 | 12);
	assert_int_equal(parse(&m, 1, "a.example", DNS_TYPE_A, out, 2), -ERR_UPSTREAM_BAD_RESPONSE);
}

static void test_answer_more_than_max(void **state)
{
	(void)state;
	struct mb m;
	struct dns_addr out[DNS_MAX_ADDRS + 1];
	char ip[ADDR_TEXT];
	mb_answer_head(&m, 3, "many.example", DNS_TYPE_A, 0, 20);
	for (int i = 1; i <= 20; i++) {
		snprintf(ip, sizeof ip, "198.51.100.%d", i);
		mb_addr(&m, 12, ip);
	}
	memset(out, 0xa5, sizeof out);
	assert_int_equal(parse(&m, 3, "many.example", DNS_TYPE_A, out, DNS_MAX_ADDRS),
	                 DNS_MAX_ADDRS);
	expect_addr(&out[0], PORT, "198.51.100.1");
	expect_addr(&out[DNS_MAX_ADDRS - 1], PORT, "198.51.100.8");
	unsigned char canary[sizeof out[0]];
	memset(canary, 0xa5, sizeof canary);
	assert_memory_equal(&out[DNS_MAX_ADDRS], canary, sizeof canary); /* not written */
	assert_int_equal(parse(&m, 3, "many.example", DNS_TYPE_A, out, 1), 1);
	assert_int_equal(parse(&m, 3, "many.example", DNS_TYPE_A, NULL, 0), 0);
}

static void test_answer_other_sections(void **state)
{
	(void)state;
	struct mb m;
	struct dns_addr out[4];
	/* NODATA with the SOA in the authority section, and an OPT record in the additional */
	mb_header(&m, 8, ANSWER_FLAGS(0), 1, 0, 1, 1);
	mb_name(&m, "v4only.example");
	mb_u16(&m, DNS_TYPE_AAAA);
	mb_u16(&m, 1);
	mb_u16(&m, 0xc000 | (12 + 7)); /* "example" */
	size_t rd = mb_rr_open(&m, 6); /* SOA */
	mb_name_ptr(&m, "ns", 12 + 7);
	mb_name_ptr(&m, "hostmaster", 12 + 7);
	for (uint32_t k = 1; k <= 5; k++)
		mb_u32(&m, k);
	mb_rr_close(&m, rd);
	mb_u8(&m, 0); /* OPT: root owner, type 41, class = UDP size 1232, no rdata */
	mb_u16(&m, 41);
	mb_u16(&m, 1232);
	mb_u32(&m, 0);
	mb_u16(&m, 0);
	assert_int_equal(parse(&m, 8, "v4only.example", DNS_TYPE_AAAA, out, 4), 0);
	/* the same, but NXDOMAIN */
	m.b[3] = 0x83;
	assert_int_equal(parse(&m, 8, "v4only.example", DNS_TYPE_AAAA, out, 4), -ERR_NOT_FOUND);
	/* a record of class CH with odd A rdata in the answer section is skipped, not an error */
	mb_answer_head(&m, 9, "x.example", DNS_TYPE_A, 0, 2);
	mb_u16(&m, 0xc000 | 12);
	mb_u16(&m, DNS_TYPE_A);
	mb_u16(&m, 3); /* CH */
	mb_u32(&m, 0);
	mb_u16(&m, 2);
	mb_u16(&m, 0x1234);
	mb_addr(&m, 12, "192.0.2.5");
	assert_int_equal(parse(&m, 9, "x.example", DNS_TYPE_A, out, 4), 1);
	expect_addr(&out[0], PORT, "192.0.2.5");
	/* trailing bytes after the last record are ignored */
	mb_u16(&m, 0xdead);
	assert_int_equal(parse(&m, 9, "x.example", DNS_TYPE_A, out, 4), 1);
}

/* ---- answers: not ours, failures, malformed ------------------------------------------------ */

static void test_answer_header_checks(void **state)
{
	(void)state;
	struct mb m;
	struct dns_addr out[4];
	const char *nm = "svc.example.com";
	mb_answer_head(&m, 0x4242, nm, DNS_TYPE_A, 0, 1);
	mb_addr(&m, 12, "192.0.2.1");
	assert_int_equal(parse(&m, 0x4242, nm, DNS_TYPE_A, out, 4), 1);
	/* wrong id */
	assert_int_equal(parse(&m, 0x4243, nm, DNS_TYPE_A, out, 4), -ERR_UPSTREAM_BAD_RESPONSE);
	/* QR clear: a query, not an answer */
	struct mb q = m;
	q.b[2] &= 0x7f;
	assert_int_equal(parse(&q, 0x4242, nm, DNS_TYPE_A, out, 4), -ERR_UPSTREAM_BAD_RESPONSE);
	/* opcode other than QUERY (IQUERY 1, STATUS 2, NOTIFY 4, UPDATE 5) */
	for (unsigned op = 1; op < 16; op++) {
		q = m;
		q.b[2] = (unsigned char)((q.b[2] & 0x87) | op << 3);
		assert_int_equal(parse(&q, 0x4242, nm, DNS_TYPE_A, out, 4),
		                 -ERR_UPSTREAM_BAD_RESPONSE);
	}
	/* QDCOUNT 0 and 2 */
	q = m;
	mb_set_count(&q, 0, 0);
	assert_int_equal(parse(&q, 0x4242, nm, DNS_TYPE_A, out, 4), -ERR_UPSTREAM_BAD_RESPONSE);
	mb_set_count(&q, 0, 2);
	assert_int_equal(parse(&q, 0x4242, nm, DNS_TYPE_A, out, 4), -ERR_UPSTREAM_BAD_RESPONSE);
	/* question mismatch: name, type, class */
	assert_int_equal(parse(&m, 0x4242, "svc.example.org", DNS_TYPE_A, out, 4),
	                 -ERR_UPSTREAM_BAD_RESPONSE);
	assert_int_equal(parse(&m, 0x4242, "svc.example", DNS_TYPE_A, out, 4),
	                 -ERR_UPSTREAM_BAD_RESPONSE);
	assert_int_equal(parse(&m, 0x4242, "x.svc.example.com", DNS_TYPE_A, out, 4),
	                 -ERR_UPSTREAM_BAD_RESPONSE);
	assert_int_equal(parse(&m, 0x4242, nm, DNS_TYPE_AAAA, out, 4), -ERR_UPSTREAM_BAD_RESPONSE);
	q = m;
	q.b[12 + 17 + 3] = 3; /* class CH */
	assert_int_equal(parse(&q, 0x4242, nm, DNS_TYPE_A, out, 4), -ERR_UPSTREAM_BAD_RESPONSE);
	/* only A and AAAA are asked for; an invalid name matches nothing */
	assert_int_equal(parse(&m, 0x4242, nm, DNS_TYPE_CNAME, out, 4), -ERR_UPSTREAM_BAD_RESPONSE);
	assert_int_equal(parse(&m, 0x4242, "svc..example.com", DNS_TYPE_A, out, 4),
	                 -ERR_UPSTREAM_BAD_RESPONSE);
	/* AA, RA, AD, CD bits do not matter */
	q = m;
	q.b[2] |= 0x04;
	q.b[3] = 0xb0;
	assert_int_equal(parse(&q, 0x4242, nm, DNS_TYPE_A, out, 4), 1);
}

static void test_answer_rcodes(void **state)
{
	(void)state;
	struct mb m;
	struct dns_addr out[4];
	const char *nm = "svc.example.com";
	for (unsigned rc = 0; rc < 16; rc++) {
		mb_answer_head(&m, 1, nm, DNS_TYPE_A, rc, 0);
		int want = rc == 0   ? 0
		           : rc == 3 ? -ERR_NOT_FOUND
		                     : -ERR_UPSTREAM_UNAVAILABLE; /* SERVFAIL 2, REFUSED 5, ... */
		assert_int_equal(parse(&m, 1, nm, DNS_TYPE_A, out, 4), want);
	}
	/* NXDOMAIN after a CNAME: the target does not exist */
	mb_answer_head(&m, 1, nm, DNS_TYPE_A, 3, 1);
	mb_cname(&m, 12, "gone.example.com");
	assert_int_equal(parse(&m, 1, nm, DNS_TYPE_A, out, 4), -ERR_NOT_FOUND);
}

static void test_answer_tc(void **state)
{
	(void)state;
	struct mb m;
	struct dns_addr out[4];
	const char *nm = "big.example.com";
	/* TC with no records, with a cut record, with whole records: all -ERR_PARTIAL */
	mb_header(&m, 2, ANSWER_FLAGS(0) | 0x0200, 1, 0, 0, 0);
	mb_name(&m, nm);
	mb_u16(&m, DNS_TYPE_A);
	mb_u16(&m, 1);
	assert_int_equal(parse(&m, 2, nm, DNS_TYPE_A, out, 4), -ERR_PARTIAL);
	mb_set_count(&m, 1, 30);
	mb_addr(&m, 12, "192.0.2.1");
	assert_int_equal(parse(&m, 2, nm, DNS_TYPE_A, out, 4), -ERR_PARTIAL);
	assert_int_equal(parse_len(&m, m.n - 3, 2, nm, DNS_TYPE_A, out, 4), -ERR_PARTIAL);
	/* TC on an answer that is not ours is still not ours; TC wins over an rcode */
	assert_int_equal(parse(&m, 3, nm, DNS_TYPE_A, out, 4), -ERR_UPSTREAM_BAD_RESPONSE);
	m.b[3] |= 2;
	assert_int_equal(parse(&m, 2, nm, DNS_TYPE_A, out, 4), -ERR_PARTIAL);
}

static void test_answer_compression(void **state)
{
	(void)state;
	struct mb m;
	struct dns_addr out[4];
	const char *nm = "a.example.com";
	size_t q_end;
	/* owner: "x" + pointer to "example.com" inside the question: a record for another name */
	mb_answer_head(&m, 1, nm, DNS_TYPE_A, 0, 2);
	mb_name_ptr(&m, "x", 12 + 2);
	mb_rr_fixed(&m, DNS_TYPE_A, 4);
	mb_u32(&m, 0x0a000001);
	mb_addr(&m, 12, "192.0.2.3");
	assert_int_equal(parse(&m, 1, nm, DNS_TYPE_A, out, 4), 1);
	expect_addr(&out[0], PORT, "192.0.2.3");

	/* owner pointers to itself, forward, past the end, into the header (flags 0x81 read as a
	 * reserved label type), into the question's first letter ('a' = 0x61, reserved too) */
	for (int kind = 0; kind < 5; kind++) {
		mb_answer_head(&m, 1, nm, DNS_TYPE_A, 0, 1);
		int self = (int)m.n;
		static const int fixed[] = {0, 0, 0x3fff, 2, 13};
		int t = kind == 0 ? self : kind == 1 ? self + 2 : fixed[kind];
		mb_u16(&m, 0xc000 | (unsigned)t);
		mb_rr_fixed(&m, DNS_TYPE_A, 4);
		mb_u32(&m, 0x0a000001);
		assert_int_equal(parse(&m, 1, nm, DNS_TYPE_A, out, 4), -ERR_UPSTREAM_BAD_RESPONSE);
	}

	/* two names pointing at each other: P1 -> P2 -> P1 */
	mb_answer_head(&m, 1, nm, DNS_TYPE_A, 0, 1);
	q_end = m.n;
	mb_u16(&m, 0xc000 | (unsigned)(q_end + 2)); /* owner -> the next two bytes */
	mb_u16(&m, 0xc000 | (unsigned)q_end);       /* ... which point back */
	mb_rr_fixed(&m, DNS_TYPE_A, 4);
	mb_u32(&m, 0x0a000001);
	assert_int_equal(parse(&m, 1, nm, DNS_TYPE_A, out, 4), -ERR_UPSTREAM_BAD_RESPONSE);

	/* label then a pointer back to that label: would repeat forever */
	mb_answer_head(&m, 1, nm, DNS_TYPE_A, 0, 1);
	q_end = m.n;
	mb_name_ptr(&m, "aa", (int)q_end);
	mb_rr_fixed(&m, DNS_TYPE_A, 4);
	mb_u32(&m, 0x0a000001);
	assert_int_equal(parse(&m, 1, nm, DNS_TYPE_A, out, 4), -ERR_UPSTREAM_BAD_RESPONSE);

	/* a pointer in the question itself (to the header) cannot be our name */
	mb_header(&m, 1, ANSWER_FLAGS(0), 1, 0, 0, 0);
	mb_u16(&m, 0xc000 | 4);
	mb_u16(&m, 1);
	mb_u16(&m, 1);
	assert_int_equal(parse(&m, 1, nm, DNS_TYPE_A, out, 4), -ERR_UPSTREAM_BAD_RESPONSE);

	/* reserved label types 0x40 and 0x80 */
	for (unsigned type = 0x40; type <= 0x80; type += 0x40) {
		mb_answer_head(&m, 1, nm, DNS_TYPE_A, 0, 1);
		mb_u8(&m, type | 1);
		mb_u8(&m, 'x');
		mb_u8(&m, 0);
		mb_rr_fixed(&m, DNS_TYPE_A, 4);
		mb_u32(&m, 0x0a000001);
		assert_int_equal(parse(&m, 1, nm, DNS_TYPE_A, out, 4), -ERR_UPSTREAM_BAD_RESPONSE);
	}

	/* names grown through pointers: owners of 63-byte labels, each pointing at the one before
	 * (65, 129, 193, then 257 bytes); the first three are fine, the fourth is too long */
	char label[64];
	memset(label, 'z', 63);
	label[63] = 0;
	mb_answer_head(&m, 1, nm, DNS_TYPE_A, 0, 1);
	mb_addr(&m, 12, "192.0.2.3");
	int prev = -1;
	for (int k = 0; k < 4; k++) {
		int at = (int)m.n;
		mb_name_ptr(&m, label, prev);
		mb_rr_fixed(&m, 16, 0); /* TXT, empty */
		prev = at;
	}
	mb_set_count(&m, 1, 1 + 3);
	assert_int_equal(parse(&m, 1, nm, DNS_TYPE_A, out, 4), 1);
	mb_set_count(&m, 1, 1 + 4);
	assert_int_equal(parse(&m, 1, nm, DNS_TYPE_A, out, 4), -ERR_UPSTREAM_BAD_RESPONSE);
	mb_set_count(&m, 1, 1 + 3);
	mb_set_count(&m, 3, 1); /* in the additional section it is as malformed */
	assert_int_equal(parse(&m, 1, nm, DNS_TYPE_A, out, 4), -ERR_UPSTREAM_BAD_RESPONSE);
}

static void test_answer_bad_rdata(void **state)
{
	(void)state;
	struct mb m;
	struct dns_addr out[4];
	const char *nm = "a.example";
	/* A of 5 bytes, AAAA of 4 bytes */
	mb_answer_head(&m, 1, nm, DNS_TYPE_A, 0, 1);
	mb_u16(&m, 0xc000 | 12);
	mb_rr_fixed(&m, DNS_TYPE_A, 5);
	mb_u32(&m, 0x0a000001);
	mb_u8(&m, 0);
	assert_int_equal(parse(&m, 1, nm, DNS_TYPE_A, out, 4), -ERR_UPSTREAM_BAD_RESPONSE);
	mb_answer_head(&m, 1, nm, DNS_TYPE_AAAA, 0, 1);
	mb_u16(&m, 0xc000 | 12);
	mb_rr_fixed(&m, DNS_TYPE_AAAA, 4);
	mb_u32(&m, 0x0a000001);
	assert_int_equal(parse(&m, 1, nm, DNS_TYPE_AAAA, out, 4), -ERR_UPSTREAM_BAD_RESPONSE);
	/* a CNAME whose name ends before its rdata does, or runs past it */
	mb_answer_head(&m, 1, nm, DNS_TYPE_A, 0, 1);
	mb_u16(&m, 0xc000 | 12);
	mb_rr_fixed(&m, DNS_TYPE_CNAME, 4);
	mb_u16(&m, 0xc000 | 12);
	mb_u16(&m, 0);
	assert_int_equal(parse(&m, 1, nm, DNS_TYPE_A, out, 4), -ERR_UPSTREAM_BAD_RESPONSE);
	mb_answer_head(&m, 1, nm, DNS_TYPE_A, 0, 2);
	mb_u16(&m, 0xc000 | 12);
	mb_rr_fixed(&m, DNS_TYPE_CNAME, 1);
	mb_u16(&m, 0xc000 | 12); /* the name's second byte is outside the rdata */
	mb_u16(&m, 0xc000 | 12);
	mb_rr_fixed(&m, DNS_TYPE_A, 4);
	mb_u32(&m, 0);
	assert_int_equal(parse(&m, 1, nm, DNS_TYPE_A, out, 4), -ERR_UPSTREAM_BAD_RESPONSE);
	/* rdlength past the end; more records announced than present */
	mb_answer_head(&m, 1, nm, DNS_TYPE_A, 0, 1);
	mb_u16(&m, 0xc000 | 12);
	mb_rr_fixed(&m, 16, 100);
	assert_int_equal(parse(&m, 1, nm, DNS_TYPE_A, out, 4), -ERR_UPSTREAM_BAD_RESPONSE);
	mb_answer_head(&m, 1, nm, DNS_TYPE_A, 0, 2);
	mb_addr(&m, 12, "192.0.2.1");
	assert_int_equal(parse(&m, 1, nm, DNS_TYPE_A, out, 4), -ERR_UPSTREAM_BAD_RESPONSE);
	mb_set_count(&m, 2, 1);
	mb_set_count(&m, 1, 1);
	assert_int_equal(parse(&m, 1, nm, DNS_TYPE_A, out, 4), -ERR_UPSTREAM_BAD_RESPONSE);
	mb_set_count(&m, 2, 0);
	assert_int_equal(parse(&m, 1, nm, DNS_TYPE_A, out, 4), 1);
	/* the most records that can be announced, with none there */
	memset(m.b + 6, 0xff, 6);
	assert_int_equal(parse(&m, 1, nm, DNS_TYPE_A, out, 4), -ERR_UPSTREAM_BAD_RESPONSE);
}

/* Every strict prefix of a well-formed answer is an error (never a crash, never success). */
static void test_answer_every_prefix(void **state)
{
	(void)state;
	struct mb m;
	struct dns_addr out[4];
	build_chain(&m, 77);
	for (size_t len = 0; len < m.n; len++) {
		int r =
		    parse_len(&m, len, 77, "contoso.communication.azure.com", DNS_TYPE_A, out, 4);
		if (r != -ERR_UPSTREAM_BAD_RESPONSE)
			fail_msg("prefix %zu of %zu: %d", len, m.n, r);
	}
	assert_int_equal(parse(&m, 77, "contoso.communication.azure.com", DNS_TYPE_A, out, 4), 2);
	/* NXDOMAIN with its SOA: a cut answer is malformed, not NXDOMAIN */
	mb_header(&m, 5, ANSWER_FLAGS(3), 1, 0, 1, 0);
	mb_name(&m, "gone.example");
	mb_u16(&m, DNS_TYPE_AAAA);
	mb_u16(&m, 1);
	mb_u16(&m, 0xc000 | (12 + 5));
	mb_rr_fixed(&m, 6, 2 + 2 + 20);
	mb_u16(&m, 0xc000 | (12 + 5));
	mb_u16(&m, 0xc000 | (12 + 5));
	for (int i = 0; i < 5; i++)
		mb_u32(&m, (uint32_t)i);
	for (size_t len = 0; len < m.n; len++)
		assert_int_equal(parse_len(&m, len, 5, "gone.example", DNS_TYPE_AAAA, out, 4),
		                 -ERR_UPSTREAM_BAD_RESPONSE);
	assert_int_equal(parse(&m, 5, "gone.example", DNS_TYPE_AAAA, out, 4), -ERR_NOT_FOUND);
}

/* Random corruption of a valid answer: only documented results, addresses of the right shape. */
static void test_answer_corruption(void **state)
{
	(void)state;
	struct mb good, m;
	struct dns_addr out[4];
	const char *nm = "contoso.communication.azure.com";
	build_chain(&good, 77);
	uint32_t x = 12345;
	for (int round = 0; round < 20000; round++) {
		m = good;
		int flips = 1 + round % 4;
		for (int f = 0; f < flips; f++) {
			x = x * 1103515245 + 12345;
			size_t at = (x >> 8) % m.n;
			x = x * 1103515245 + 12345;
			m.b[at] = (unsigned char)(x >> 16);
		}
		x = x * 1103515245 + 12345;
		size_t len = round % 3 ? m.n : (x >> 8) % (m.n + 1);
		int r = parse_len(&m, len, 77, nm, DNS_TYPE_A, out, 4);
		assert_true(r == -ERR_UPSTREAM_BAD_RESPONSE || r == -ERR_UPSTREAM_UNAVAILABLE ||
		            r == -ERR_NOT_FOUND || r == -ERR_PARTIAL || (r >= 0 && r <= 4));
		for (int i = 0; i < r; i++) {
			assert_int_equal(out[i].ss.ss_family, AF_INET);
			assert_int_equal(out[i].len, sizeof(struct sockaddr_in));
		}
	}
}

/* ---- resolv.conf --------------------------------------------------------------------------- */

static int conf_parse(const char *text, struct dns_conf *c)
{
	/* the parser must not read past its input: no NUL after it */
	size_t n = strlen(text);
	return dns_parse_resolv_conf((const char *)guarded(text, n), n, c);
}

static void test_conf_typical(void **state)
{
	(void)state;
	struct dns_conf c;
	/* Kubernetes */
	assert_int_equal(conf_parse("search default.svc.cluster.local svc.cluster.local "
	                            "cluster.local\nnameserver 10.96.0.10\noptions ndots:5\n",
	                            &c),
	                 1);
	assert_int_equal(c.nservers, 1);
	expect_addr(&c.servers[0], 53, "10.96.0.10");
	assert_int_equal(c.ndots, 5);
	assert_int_equal(c.timeout_ms, DNS_DEFAULT_TIMEOUT_S * 1000);
	assert_int_equal(c.attempts, DNS_DEFAULT_ATTEMPTS);
	assert_int_equal(c.nsearch, 3);
	assert_string_equal(c.search[0], "default.svc.cluster.local");
	assert_string_equal(c.search[2], "cluster.local");
	/* Azure VM / App Service */
	assert_int_equal(conf_parse("# Generated by NetworkManager\n; another comment\n"
	                            "search abc.internal.cloudapp.net\n"
	                            "nameserver 168.63.129.16 # Azure DNS\n"
	                            "options timeout:1 attempts:5 rotate edns0\n",
	                            &c),
	                 1);
	expect_addr(&c.servers[0], 53, "168.63.129.16");
	assert_int_equal(c.timeout_ms, 1000);
	assert_int_equal(c.attempts, 5);
	assert_int_equal(c.ndots, 1);
	assert_int_equal(c.nsearch, 1);
	assert_string_equal(c.search[0], "abc.internal.cloudapp.net");
	/* Docker's embedded DNS, CRLF line ends */
	assert_int_equal(conf_parse("nameserver 127.0.0.11\r\noptions ndots:0\r\n", &c), 1);
	expect_addr(&c.servers[0], 53, "127.0.0.11");
	assert_int_equal(c.ndots, 0);
}

static void test_conf_servers(void **state)
{
	(void)state;
	struct dns_conf c;
	/* IPv6, more than three, invalid ones skipped, scope ids, blanks before the keyword */
	assert_int_equal(conf_parse("nameserver 2001:4860:4860::8888\n"
	                            "nameserver 1.1.1\n"         /* invalid */
	                            "nameserver\n"               /* no value */
	                            "nameserver dns.google\n"    /* a name: skipped */
	                            "  \tnameserver fe80::1%2\n" /* link-local with scope */
	                            "nameserver 9.9.9.9 extra words\n"
	                            "nameserver 8.8.8.8\n"
	                            "nameserver 8.8.4.4\n",
	                            &c),
	                 3);
	assert_int_equal(c.nservers, 3);
	expect_addr(&c.servers[0], 53, "2001:4860:4860::8888");
	expect_addr(&c.servers[1], 53, "fe80::1");
	assert_int_equal(((struct sockaddr_in6 *)&c.servers[1].ss)->sin6_scope_id, 2);
	expect_addr(&c.servers[2], 53, "9.9.9.9");
	/* none, or none valid: 127.0.0.1 */
	static const char *none[] = {"",
	                             "\n\n",
	                             "# nameserver 1.2.3.4\n",
	                             "nameserver 300.1.1.1\n",
	                             "Nameserver 1.2.3.4\n",
	                             "nameservers 1.2.3.4\n",
	                             "nameserver fe80::1%eth0\n",
	                             "nameserver 1.2.3.4%1\n",
	                             "xnameserver 1.2.3.4"};
	for (size_t i = 0; i < sizeof none / sizeof *none; i++) {
		assert_int_equal(conf_parse(none[i], &c), 0);
		assert_int_equal(c.nservers, 1);
		expect_addr(&c.servers[0], 53, "127.0.0.1");
	}
	/* no final LF; a comment glued to the address */
	assert_int_equal(conf_parse("nameserver 10.0.0.1#x", &c), 1);
	expect_addr(&c.servers[0], 53, "10.0.0.1");
	assert_int_equal(conf_parse("nameserver 10.0.0.2;x\nnameserver ::1", &c), 2);
	expect_addr(&c.servers[1], 53, "::1");
	/* a NUL inside the text ends nothing and is no address */
	static const char nul[] = "nameserver 10.0.0.3\0junk\nnameserver 10.0.0.4\n";
	assert_int_equal(dns_parse_resolv_conf(nul, sizeof nul - 1, &c), 1);
	expect_addr(&c.servers[0], 53, "10.0.0.4");
}

static void test_conf_options(void **state)
{
	(void)state;
	struct dns_conf c;
	conf_parse("options timeout:0 attempts:0 ndots:0\n", &c);
	assert_int_equal(c.timeout_ms, 1000);
	assert_int_equal(c.attempts, 1);
	assert_int_equal(c.ndots, 0);
	conf_parse("options timeout:99999999999999999999 attempts:77\noptions ndots:16\n", &c);
	assert_int_equal(c.timeout_ms, DNS_MAX_TIMEOUT_S * 1000);
	assert_int_equal(c.attempts, DNS_MAX_ATTEMPTS);
	assert_int_equal(c.ndots, DNS_MAX_NDOTS);
	/* malformed values are ignored; the last good one wins */
	conf_parse("options timeout:3 timeout: timeout:x timeout:-1 timeout:2x ndots:2\n"
	           "options attempts:3 # attempts:4\n",
	           &c);
	assert_int_equal(c.timeout_ms, 3000);
	assert_int_equal(c.ndots, 2);
	assert_int_equal(c.attempts, 3);
	conf_parse("options\nOPTIONS ndots:4\n options ndots:3\n", &c);
	assert_int_equal(c.ndots, 3);
}

static void test_conf_search(void **state)
{
	(void)state;
	struct dns_conf c;
	/* the last of search/domain wins; domain takes one name; final dots dropped */
	conf_parse("search a.example b.example\ndomain c.example d.example\n", &c);
	assert_int_equal(c.nsearch, 1);
	assert_string_equal(c.search[0], "c.example");
	conf_parse("domain c.example\nsearch a.example. . b_x.example -bad.example b.example\n",
	           &c);
	assert_int_equal(c.nsearch, 2);
	assert_string_equal(c.search[0], "a.example");
	assert_string_equal(c.search[1], "b.example");
	/* at most DNS_MAX_SEARCH */
	conf_parse("search s1 s2 s3 s4 s5 s6 s7 s8\n", &c);
	assert_int_equal(c.nsearch, DNS_MAX_SEARCH);
	assert_string_equal(c.search[5], "s6");
	/* an empty search line empties the list */
	conf_parse("search a.example\nsearch\n", &c);
	assert_int_equal(c.nsearch, 0);
	/* a 253-character domain with its final dot (254 bytes) fits; 254 characters do not */
	char text[600];
	char dom[DNS_NAME_MAX + 3];
	memset(dom, 'a', sizeof dom);
	for (int i = 1; i < DNS_NAME_MAX; i += 2)
		dom[i] = '.';
	dom[DNS_NAME_MAX] = '.';
	dom[DNS_NAME_MAX + 1] = 0;
	snprintf(text, sizeof text, "search %s x.example\n", dom);
	conf_parse(text, &c);
	assert_int_equal(c.nsearch, 2);
	assert_int_equal(strlen(c.search[0]), DNS_NAME_MAX);
	/* in the last slot too, whose next byte is nsearch itself */
	snprintf(text, sizeof text, "search s1 s2 s3 s4 s5 %s\n", dom);
	conf_parse(text, &c);
	assert_int_equal(c.nsearch, DNS_MAX_SEARCH);
	assert_int_equal(strlen(c.search[DNS_MAX_SEARCH - 1]), DNS_NAME_MAX);
	dom[DNS_NAME_MAX] = 'a';
	dom[DNS_NAME_MAX - 1] = 'a';
	snprintf(text, sizeof text, "search %s x.example\n", dom);
	conf_parse(text, &c);
	assert_int_equal(c.nsearch, 1);
	assert_string_equal(c.search[0], "x.example");
}

static void test_conf_long_line(void **state)
{
	(void)state;
	static char text[2 * DNS_LINE_MAX + 64];
	struct dns_conf c;
	/* a line of DNS_LINE_MAX bytes is skipped whole; one byte less is read */
	for (int len = DNS_LINE_MAX - 1; len <= DNS_LINE_MAX; len++) {
		int n = snprintf(text, sizeof text, "nameserver 10.0.0.1");
		memset(text + n, ' ', (size_t)len - (size_t)n);
		n = len;
		n += snprintf(text + n, sizeof text - (size_t)n, "\nnameserver 10.0.0.2\n");
		assert_int_equal(dns_parse_resolv_conf(text, (size_t)n, &c),
		                 len < DNS_LINE_MAX ? 2 : 1);
		expect_addr(&c.servers[0], 53, len < DNS_LINE_MAX ? "10.0.0.1" : "10.0.0.2");
	}
}

/* ---- hosts --------------------------------------------------------------------------------- */

static const char hosts_text[] = "# /etc/hosts\n"
                                 "127.0.0.1\tlocalhost\n"
                                 "::1\tlocalhost ip6-localhost ip6-loopback\n"
                                 "fe00::0\tip6-localnet\n"
                                 "10.1.2.3   db.internal db   # the database\n"
                                 "10.1.2.4 api.internal API\n"
                                 "  10.1.2.5 api.internal\r\n"
                                 "2001:db8::7 api.internal\n"
                                 "bogus api.internal\n"
                                 "#10.9.9.9 api.internal\n"
                                 "10.1.2.6#api.internal\n"
                                 "10.1.2.9 trailing.dot.\n"
                                 "10.1.2.8 dbx db.internal.x\n"
                                 "fe80::9%3 scoped\n"
                                 "10.1.2.10"; /* no name, no final LF */

static int hosts(const char *name, struct dns_addr *out, int max)
{
	size_t n = sizeof hosts_text - 1;
	return dns_hosts_lookup((const char *)guarded(hosts_text, n), n, name, out, max, PORT);
}

static void test_hosts(void **state)
{
	(void)state;
	struct dns_addr out[8];
	assert_int_equal(hosts("localhost", out, 8), 2);
	expect_addr(&out[0], PORT, "127.0.0.1");
	expect_addr(&out[1], PORT, "::1");
	assert_int_equal(hosts("LocalHost.", out, 8), 2);
	assert_int_equal(hosts("ip6-loopback", out, 8), 1);
	expect_addr(&out[0], PORT, "::1");
	assert_int_equal(hosts("db", out, 8), 1);
	expect_addr(&out[0], PORT, "10.1.2.3");
	assert_int_equal(hosts("DB.Internal", out, 8), 1);
	/* every line, in file order; comments and bad addresses skipped */
	assert_int_equal(hosts("api.internal", out, 8), 3);
	expect_addr(&out[0], PORT, "10.1.2.4");
	expect_addr(&out[1], PORT, "10.1.2.5");
	expect_addr(&out[2], PORT, "2001:db8::7");
	assert_int_equal(hosts("api", out, 8), 1);
	assert_int_equal(hosts("api.internal", out, 2), 2);
	assert_int_equal(hosts("api.internal", out, 0), 0);
	assert_int_equal(hosts("trailing.dot", out, 8), 1);
	assert_int_equal(hosts("scoped", out, 8), 1);
	assert_int_equal(((struct sockaddr_in6 *)&out[0].ss)->sin6_scope_id, 3);
	/* not listed: substrings, comments, the address itself, nothing */
	static const char *absent[] = {
	    "dbx.internal", "internal", "the", "database",        "10.1.2.3", "10.9.9.9",
	    "ip6",          "",         ".",   "db.internal.x.y", "bogus"};
	for (size_t i = 0; i < sizeof absent / sizeof *absent; i++)
		if (hosts(absent[i], out, 8) != 0)
			fail_msg("\"%s\" should not be found", absent[i]);
	assert_int_equal(hosts("db.internal.x", out, 8), 1);
	expect_addr(&out[0], PORT, "10.1.2.8");
}

/* ---- the fake name server ------------------------------------------------------------------ */

struct zone_rec {
	const char *name;
	unsigned type;
	const char *value; /* address text or CNAME target */
};

static const struct zone_rec zone[] = {
    {"svc.example.com", DNS_TYPE_A, "192.0.2.1"},
    {"svc.example.com", DNS_TYPE_A, "192.0.2.2"},
    {"svc.example.com", DNS_TYPE_AAAA, "2001:db8::1"},
    {"alias.example.com", DNS_TYPE_CNAME, "edge.example.net"},
    {"edge.example.net", DNS_TYPE_CNAME, "svc.example.com"},
    {"v4only.example.com", DNS_TYPE_A, "192.0.2.3"},
    {"v6only.example.com", DNS_TYPE_AAAA, "2001:db8::6"},
    {"slow6.example.com", DNS_TYPE_A, "192.0.2.4"},
    {"slow6.example.com", DNS_TYPE_AAAA, "2001:db8::4"},
    {"host.corp.internal", DNS_TYPE_A, "10.0.0.7"},
    {"empty.example.com", 16, "txt"},      /* exists, no address: NODATA */
    {"big.example.com", DNS_TYPE_A, NULL}, /* BIG_COUNT records, made up; TC over UDP */
};

struct fake {
	int family;
	int udp, tcp, stop[2];
	uint16_t port;
	pthread_t th;
	/* switches, set before the thread starts */
	int drop_first;   /* ignore the first n UDP queries */
	int bogus_first;  /* before each answer: one with another id, one with another question */
	int wrong_source; /* answers come from another port (must be ignored) */
	int servfail;     /* SERVFAIL to everything */
	int silent;       /* never answer */
	int drop_aaaa;    /* never answer AAAA queries */
	int tcp_tc;       /* answers over TCP say TC too */
	int tc_aaaa;      /* AAAA answers over UDP are truncated (TC, no records) */
	int tcp_silent;   /* TCP connections are accepted and never answered */
	int held;         /* the connection a silent TCP server holds, + 1 (0: none) */
	/* counters, read after the thread is joined */
	int udp_queries, tcp_queries;
	int nlog;
	char log[FAKE_LOG][DNS_NAME_MAX + 1]; /* names asked over UDP */
};

/* The name at q[12..) in text form (our queries are uncompressed). Returns the offset after it,
 * or 0. */
static size_t fake_qname(const unsigned char *q, size_t n, char *name)
{
	size_t p = 12, o = 0;
	while (p < n && q[p] != 0) {
		size_t l = q[p];
		if (l > 63 || p + 1 + l >= n || o + l + 1 > DNS_NAME_MAX)
			return 0;
		if (o > 0)
			name[o++] = '.';
		memcpy(name + o, q + p + 1, l);
		o += l;
		p += 1 + l;
	}
	name[o] = 0;
	return p < n ? p + 1 : 0;
}

static int name_eq(const char *a, const char *b)
{
	return strcasecmp(a, b) == 0;
}

/* Builds the answer to query q in m: a plain authoritative-looking server. */
static void fake_answer(const struct fake *f, const unsigned char *q, size_t qn, int over_tcp,
                        struct mb *m)
{
	char name[DNS_NAME_MAX + 1], cur[DNS_NAME_MAX + 1];
	size_t qe = fake_qname(q, qn, name);
	m->n = 0;
	if (qe == 0 || qe + 4 > qn)
		return;
	unsigned qtype = (unsigned)q[qe] << 8 | q[qe + 1];
	mb_header(m, (unsigned)q[0] << 8 | q[1], ANSWER_FLAGS(0), 1, 0, 0, 0);
	for (size_t i = 12; i < qe + 4; i++)
		mb_u8(m, q[i]);
	if (f->servfail) {
		m->b[3] = 0x82;
		return;
	}
	if (f->tc_aaaa && !over_tcp && qtype == DNS_TYPE_AAAA) {
		m->b[2] |= 0x02; /* TC: ask again over TCP */
		return;
	}
	unsigned an = 0;
	int exists = 0, owner = 12;
	strcpy(cur, name);
	for (int links = 0; links < 8; links++) {
		const struct zone_rec *cn = NULL;
		for (size_t i = 0; i < sizeof zone / sizeof *zone; i++)
			if (name_eq(zone[i].name, cur)) {
				exists = 1;
				if (zone[i].type == DNS_TYPE_CNAME)
					cn = &zone[i];
			}
		if (!cn)
			break;
		owner = mb_cname(m, owner, cn->value);
		an++;
		strcpy(cur, cn->value);
	}
	if (!exists) {
		m->b[3] = 0x83; /* NXDOMAIN */
		mb_set_count(m, 1, an);
		return;
	}
	if (name_eq(cur, "big.example.com") && qtype == DNS_TYPE_A) {
		if (!over_tcp || f->tcp_tc) {
			m->b[2] |= 0x02; /* TC, the records left out */
			if (!over_tcp)
				return;
		}
		char ip[ADDR_TEXT];
		for (int i = 1; i <= BIG_COUNT; i++, an++) {
			snprintf(ip, sizeof ip, "198.51.100.%d", i);
			mb_addr(m, owner, ip);
		}
	}
	for (size_t i = 0; i < sizeof zone / sizeof *zone; i++)
		if (name_eq(zone[i].name, cur) && zone[i].type == qtype && zone[i].value) {
			mb_addr(m, owner, zone[i].value);
			an++;
		}
	mb_set_count(m, 1, an);
}

static void fake_udp(struct fake *f)
{
	unsigned char q[DNS_MSG_MAX];
	struct sockaddr_storage from;
	socklen_t fl = sizeof from;
	ssize_t k = recvfrom(f->udp, q, sizeof q, 0, (struct sockaddr *)&from, &fl);
	if (k < 12)
		return;
	char name[DNS_NAME_MAX + 1];
	size_t qe = fake_qname(q, (size_t)k, name);
	if (qe && f->nlog < FAKE_LOG)
		strcpy(f->log[f->nlog++], name);
	f->udp_queries++;
	unsigned qtype = qe && qe + 2 <= (size_t)k ? (unsigned)q[qe] << 8 | q[qe + 1] : 0;
	if (f->silent || f->udp_queries <= f->drop_first ||
	    (f->drop_aaaa && qtype == DNS_TYPE_AAAA))
		return;
	static struct mb m; /* the fake runs on one thread */
	fake_answer(f, q, (size_t)k, 0, &m);
	if (f->bogus_first) {
		struct mb b = m;
		b.b[0] ^= 0x55; /* another id */
		sendto(f->udp, b.b, b.n, 0, (struct sockaddr *)&from, fl);
		b = m;
		b.b[13] ^= 0x01; /* another question: first letter of the name */
		sendto(f->udp, b.b, b.n, 0, (struct sockaddr *)&from, fl);
		b = m;
		b.b[2] &= 0x7f; /* QR clear */
		sendto(f->udp, b.b, b.n, 0, (struct sockaddr *)&from, fl);
		sendto(f->udp, b.b, 7, 0, (struct sockaddr *)&from, fl); /* a runt */
	}
	int s = f->udp;
	if (f->wrong_source) {
		s = socket(f->family, SOCK_DGRAM, 0);
		assert_true(s >= 0);
	}
	sendto(s, m.b, m.n, 0, (struct sockaddr *)&from, fl);
	if (s != f->udp)
		close(s);
}

static void fake_tcp(struct fake *f)
{
	int c = accept(f->tcp, NULL, NULL);
	if (c < 0)
		return;
	if (f->tcp_silent) { /* hold it open, never answer (closed at stop) */
		if (f->held)
			close(f->held - 1);
		f->held = c + 1;
		f->tcp_queries++;
		return;
	}
	struct timeval tv = {1, 0};
	setsockopt(c, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
	unsigned char q[2 + DNS_MSG_MAX];
	size_t have = 0;
	while (have < 2 || have < 2 + ((size_t)q[0] << 8 | q[1])) {
		ssize_t k = recv(c, q + have, sizeof q - have, 0);
		if (k <= 0) {
			close(c);
			return;
		}
		have += (size_t)k;
	}
	f->tcp_queries++;
	static struct mb m;
	fake_answer(f, q + 2, have - 2, 1, &m);
	unsigned char len[2] = {(unsigned char)(m.n >> 8), (unsigned char)m.n};
	send(c, len, 2, MSG_NOSIGNAL);
	send(c, m.b, m.n, MSG_NOSIGNAL);
	close(c);
}

static void *fake_main(void *arg)
{
	struct fake *f = arg;
	for (;;) {
		struct pollfd p[3] = {
		    {f->udp, POLLIN, 0}, {f->tcp, POLLIN, 0}, {f->stop[0], POLLIN, 0}};
		if (poll(p, 3, -1) < 0)
			continue;
		if (p[0].revents & POLLIN)
			fake_udp(f);
		if (p[1].revents & POLLIN)
			fake_tcp(f);
		/* stop only once what was sent before the stop has been counted */
		if (p[2].revents && !(p[0].revents & POLLIN) && !(p[1].revents & POLLIN))
			break;
	}
	if (f->held)
		close(f->held - 1);
	return NULL;
}

/* Binds UDP and TCP on the same ephemeral port of the loopback address of family. Returns 0,
 * or -1 when the family cannot be bound here (no IPv6 in the sandbox). */
static int fake_bind(struct fake *f, int family)
{
	f->family = family;
	for (int tries = 0; tries < 50; tries++) {
		struct sockaddr_storage ss;
		memset(&ss, 0, sizeof ss);
		socklen_t len;
		if (family == AF_INET) {
			struct sockaddr_in *s = (struct sockaddr_in *)&ss;
			s->sin_family = AF_INET;
			s->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
			len = sizeof *s;
		} else {
			struct sockaddr_in6 *s = (struct sockaddr_in6 *)&ss;
			s->sin6_family = AF_INET6;
			s->sin6_addr = in6addr_loopback;
			len = sizeof *s;
		}
		f->udp = socket(family, SOCK_DGRAM, 0);
		if (f->udp < 0)
			return -1;
		if (bind(f->udp, (struct sockaddr *)&ss, len) != 0) {
			close(f->udp);
			return -1;
		}
		getsockname(f->udp, (struct sockaddr *)&ss, &len);
		f->port = ntohs(((struct sockaddr_in *)&ss)->sin_port); /* same offset in both */
		f->tcp = socket(family, SOCK_STREAM, 0);
		int one = 1;
		setsockopt(f->tcp, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
		if (f->tcp >= 0 && bind(f->tcp, (struct sockaddr *)&ss, len) == 0 &&
		    listen(f->tcp, 8) == 0)
			return 0;
		close(f->udp);
		if (f->tcp >= 0)
			close(f->tcp);
	}
	return -1;
}

static void fake_start(struct fake *f)
{
	assert_int_equal(pipe(f->stop), 0);
	assert_int_equal(pthread_create(&f->th, NULL, fake_main, f), 0);
}

static struct fake *fake_new(int family)
{
	static struct fake fakes[4];
	static int next;
	struct fake *f = &fakes[next++ % 4];
	memset(f, 0, sizeof *f);
	if (fake_bind(f, family) != 0)
		return NULL;
	return f;
}

static void fake_stop(struct fake *f)
{
	assert_int_equal(write(f->stop[1], "x", 1), 1);
	pthread_join(f->th, NULL);
	close(f->stop[0]);
	close(f->stop[1]);
	close(f->udp);
	close(f->tcp);
}

/* A configuration with the fake servers given, TRY_MS a try, 2 attempts, ndots 1. */
static void conf_of(struct dns_conf *c, struct fake **fs, int n)
{
	memset(c, 0, sizeof *c);
	for (int i = 0; i < n; i++) {
		struct dns_addr *a = &c->servers[i];
		memset(a, 0, sizeof *a);
		if (fs[i]->family == AF_INET) {
			struct sockaddr_in *s = (struct sockaddr_in *)&a->ss;
			s->sin_family = AF_INET;
			s->sin_port = htons(fs[i]->port);
			s->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
			a->len = sizeof *s;
		} else {
			struct sockaddr_in6 *s = (struct sockaddr_in6 *)&a->ss;
			s->sin6_family = AF_INET6;
			s->sin6_port = htons(fs[i]->port);
			s->sin6_addr = in6addr_loopback;
			a->len = sizeof *s;
		}
	}
	c->nservers = n;
	c->timeout_ms = TRY_MS;
	c->attempts = 2;
	c->ndots = 1;
}

static int64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* One lookup through conf (no hosts file), deadline 5 s unless given. */
static int lookup(const struct dns_conf *c, const char *host, struct dns_addr *out, int max,
                  const char **why)
{
	return dns_resolve_with(c, NULL, host, PORT, out, max, now_ms() + 5000, why);
}

/* The addresses out[0..n) as one text, "a b c". */
static const char *addrs_text(const struct dns_addr *out, int n, char *buf, size_t cap)
{
	size_t o = 0;
	buf[0] = 0;
	for (int i = 0; i < n; i++) {
		char t[ADDR_TEXT];
		o += (size_t)snprintf(buf + o, cap - o, "%s%s", i ? " " : "",
		                      addr_text(&out[i], PORT, t));
	}
	return buf;
}

#define expect_addrs(out, n, want)                                                                 \
	do {                                                                                       \
		char all_[512];                                                                    \
		assert_string_equal(addrs_text((out), (n), all_, sizeof all_), (want));            \
	} while (0)

/* ---- end to end ---------------------------------------------------------------------------- */

static void test_e2e_basic(void **state)
{
	(void)state;
	struct fake *f = fake_new(AF_INET);
	assert_non_null(f);
	fake_start(f);
	struct dns_conf c;
	conf_of(&c, &f, 1);
	struct dns_addr out[DNS_MAX_ADDRS];
	const char *why = NULL;
	/* IPv4 first, then IPv6 */
	assert_int_equal(lookup(&c, "svc.example.com", out, DNS_MAX_ADDRS, &why), 3);
	expect_addrs(out, 3, "192.0.2.1 192.0.2.2 2001:db8::1");
	assert_string_equal(why, "DNS");
	/* a CNAME chain; a final dot; another letter case */
	assert_int_equal(lookup(&c, "Alias.Example.com.", out, DNS_MAX_ADDRS, &why), 3);
	expect_addrs(out, 3, "192.0.2.1 192.0.2.2 2001:db8::1");
	/* one family only */
	assert_int_equal(lookup(&c, "v4only.example.com", out, DNS_MAX_ADDRS, &why), 1);
	expect_addrs(out, 1, "192.0.2.3");
	assert_int_equal(lookup(&c, "v6only.example.com", out, DNS_MAX_ADDRS, &why), 1);
	expect_addrs(out, 1, "2001:db8::6");
	/* max 1: the first IPv4 address */
	assert_int_equal(lookup(&c, "svc.example.com", out, 1, &why), 1);
	expect_addrs(out, 1, "192.0.2.1");
	/* NXDOMAIN, NODATA */
	assert_int_equal(lookup(&c, "nope.example.com", out, DNS_MAX_ADDRS, &why), -ERR_NOT_FOUND);
	assert_string_equal(why, "no such host (NXDOMAIN)");
	assert_int_equal(lookup(&c, "empty.example.com", out, DNS_MAX_ADDRS, &why), -ERR_NOT_FOUND);
	assert_string_equal(why, "the host has no IPv4 or IPv6 address");
	fake_stop(f);
	/* 7 names, A and AAAA each, nothing asked twice */
	assert_int_equal(f->udp_queries, 14);
	assert_int_equal(f->tcp_queries, 0);
}

static void test_e2e_tcp_fallback(void **state)
{
	(void)state;
	struct fake *f = fake_new(AF_INET);
	assert_non_null(f);
	fake_start(f);
	struct dns_conf c;
	conf_of(&c, &f, 1);
	struct dns_addr out[DNS_MAX_ADDRS];
	const char *why;
	assert_int_equal(lookup(&c, "big.example.com", out, DNS_MAX_ADDRS, &why), DNS_MAX_ADDRS);
	expect_addr(&out[0], PORT, "198.51.100.1");
	expect_addr(&out[DNS_MAX_ADDRS - 1], PORT, "198.51.100.8");
	fake_stop(f);
	assert_int_equal(f->udp_queries, 2);
	assert_int_equal(f->tcp_queries, 1);

	/* TC over TCP too: the server failed */
	f = fake_new(AF_INET);
	f->tcp_tc = 1;
	fake_start(f);
	conf_of(&c, &f, 1);
	c.attempts = 1;
	assert_int_equal(lookup(&c, "big.example.com", out, DNS_MAX_ADDRS, &why),
	                 -ERR_UPSTREAM_UNAVAILABLE);
	assert_string_equal(why, "malformed answer over TCP");
	fake_stop(f);
}

/* A truncated AAAA whose TCP retry never answers must not hold up the A records already in
 * hand beyond the AAAA grace (dns.h): the lookup returns the IPv4 addresses long before the
 * per-try timeout. */
static void test_e2e_truncated_aaaa_within_grace(void **state)
{
	(void)state;
	struct fake *f = fake_new(AF_INET);
	assert_non_null(f);
	f->tc_aaaa = 1;
	f->tcp_silent = 1;
	f->held = 0;
	fake_start(f);
	struct dns_conf c;
	conf_of(&c, &f, 1);
	c.timeout_ms = 3000;
	c.attempts = 1;
	struct dns_addr out[DNS_MAX_ADDRS];
	const char *why;
	int64_t t0 = now_ms();
	assert_int_equal(dns_resolve_with(&c, NULL, "svc.example.com", PORT, out, DNS_MAX_ADDRS,
	                                  now_ms() + 10000, &why),
	                 2);
	int64_t took = now_ms() - t0;
	expect_addr(&out[0], PORT, "192.0.2.1");
	fake_stop(f);
	if (took >= c.timeout_ms / 2)
		fail_msg("the lookup waited %lld ms for the AAAA retry", (long long)took);
}

static void test_e2e_dropped_query(void **state)
{
	(void)state;
	struct fake *f = fake_new(AF_INET);
	assert_non_null(f);
	f->drop_first = 1; /* the A query of the first try */
	fake_start(f);
	struct dns_conf c;
	conf_of(&c, &f, 1);
	struct dns_addr out[DNS_MAX_ADDRS];
	const char *why;
	int64_t t0 = now_ms();
	/* the AAAA answer alone does not end the lookup: A is asked again and comes first */
	assert_int_equal(lookup(&c, "svc.example.com", out, DNS_MAX_ADDRS, &why), 3);
	int64_t took = now_ms() - t0;
	expect_addrs(out, 3, "192.0.2.1 192.0.2.2 2001:db8::1");
	fake_stop(f);
	assert_int_equal(f->udp_queries, 3); /* A, AAAA, then A again only */
	assert_true(took >= TRY_MS - 10 && took < 3 * TRY_MS);

	/* A never answered within the attempts: the AAAA addresses are still returned */
	f = fake_new(AF_INET);
	f->drop_first = 3; /* A, (AAAA answered), A again */
	fake_start(f);
	conf_of(&c, &f, 1);
	assert_int_equal(lookup(&c, "svc.example.com", out, DNS_MAX_ADDRS, &why), 1);
	expect_addrs(out, 1, "2001:db8::1");
	fake_stop(f);
}

static void test_e2e_aaaa_grace(void **state)
{
	(void)state;
	struct fake *f = fake_new(AF_INET);
	assert_non_null(f);
	f->drop_aaaa = 1;
	fake_start(f);
	struct dns_conf c;
	conf_of(&c, &f, 1);
	c.timeout_ms = 3000;
	struct dns_addr out[DNS_MAX_ADDRS];
	const char *why;
	int64_t t0 = now_ms();
	assert_int_equal(lookup(&c, "slow6.example.com", out, DNS_MAX_ADDRS, &why), 1);
	int64_t took = now_ms() - t0;
	expect_addrs(out, 1, "192.0.2.4");
	assert_true(took < 1000); /* 50 ms grace, not the 3 s timeout */
	fake_stop(f);
	assert_int_equal(f->udp_queries, 2);
}

static void test_e2e_spoofs_ignored(void **state)
{
	(void)state;
	struct fake *f = fake_new(AF_INET);
	assert_non_null(f);
	f->bogus_first = 1; /* wrong id, wrong question, QR clear, a runt: then the answer */
	fake_start(f);
	struct dns_conf c;
	conf_of(&c, &f, 1);
	c.attempts = 1;
	struct dns_addr out[DNS_MAX_ADDRS];
	const char *why;
	int64_t t0 = now_ms();
	assert_int_equal(lookup(&c, "svc.example.com", out, DNS_MAX_ADDRS, &why), 3);
	expect_addrs(out, 3, "192.0.2.1 192.0.2.2 2001:db8::1");
	assert_true(now_ms() - t0 < TRY_MS); /* no retry was needed */
	fake_stop(f);
	assert_int_equal(f->udp_queries, 2);

	/* the right answer from another port of the server's address: dropped by the kernel */
	f = fake_new(AF_INET);
	f->wrong_source = 1;
	fake_start(f);
	conf_of(&c, &f, 1);
	assert_int_equal(lookup(&c, "svc.example.com", out, DNS_MAX_ADDRS, &why),
	                 -ERR_UPSTREAM_UNAVAILABLE);
	assert_string_equal(why, "no answer from the name server");
	fake_stop(f);
	assert_int_equal(f->udp_queries, 4); /* 2 attempts */
}

static void test_e2e_failover(void **state)
{
	(void)state;
	struct dns_conf c;
	struct dns_addr out[DNS_MAX_ADDRS];
	const char *why;
	/* first server silent: the second answers after one try's timeout */
	struct fake *fs[2] = {fake_new(AF_INET), fake_new(AF_INET)};
	assert_non_null(fs[0]);
	assert_non_null(fs[1]);
	fs[0]->silent = 1;
	fake_start(fs[0]);
	fake_start(fs[1]);
	conf_of(&c, fs, 2);
	int64_t t0 = now_ms();
	assert_int_equal(lookup(&c, "svc.example.com", out, DNS_MAX_ADDRS, &why), 3);
	int64_t took = now_ms() - t0;
	assert_true(took >= TRY_MS - 10 && took < 2 * TRY_MS);
	fake_stop(fs[0]);
	fake_stop(fs[1]);
	assert_int_equal(fs[0]->udp_queries, 2);
	assert_int_equal(fs[1]->udp_queries, 2);

	/* first server SERVFAIL: left at once */
	fs[0] = fake_new(AF_INET);
	fs[1] = fake_new(AF_INET);
	fs[0]->servfail = 1;
	fake_start(fs[0]);
	fake_start(fs[1]);
	conf_of(&c, fs, 2);
	t0 = now_ms();
	assert_int_equal(lookup(&c, "v4only.example.com", out, DNS_MAX_ADDRS, &why), 1);
	assert_true(now_ms() - t0 < TRY_MS);
	fake_stop(fs[0]);
	fake_stop(fs[1]);

	/* first server's port closed (ICMP port unreachable): left at once */
	fs[0] = fake_new(AF_INET);
	fs[1] = fake_new(AF_INET);
	close(fs[0]->udp);
	close(fs[0]->tcp);
	fake_start(fs[1]);
	conf_of(&c, fs, 2);
	t0 = now_ms();
	assert_int_equal(lookup(&c, "v4only.example.com", out, DNS_MAX_ADDRS, &why), 1);
	assert_true(now_ms() - t0 < TRY_MS);
	fake_stop(fs[1]);

	/* every server failing: unavailable, after attempts x servers tries */
	fs[0] = fake_new(AF_INET);
	fs[1] = fake_new(AF_INET);
	fs[0]->servfail = fs[1]->servfail = 1;
	fake_start(fs[0]);
	fake_start(fs[1]);
	conf_of(&c, fs, 2);
	c.attempts = 3;
	assert_int_equal(lookup(&c, "svc.example.com", out, DNS_MAX_ADDRS, &why),
	                 -ERR_UPSTREAM_UNAVAILABLE);
	assert_string_equal(why, "name server failure (SERVFAIL, REFUSED or similar)");
	fake_stop(fs[0]);
	fake_stop(fs[1]);
	assert_int_equal(fs[0]->udp_queries, 6);
	assert_int_equal(fs[1]->udp_queries, 6);
}

static void test_e2e_deadline(void **state)
{
	(void)state;
	struct fake *f = fake_new(AF_INET);
	assert_non_null(f);
	f->silent = 1;
	fake_start(f);
	struct dns_conf c;
	conf_of(&c, &f, 1);
	c.timeout_ms = 5000;
	c.attempts = 5;
	struct dns_addr out[DNS_MAX_ADDRS];
	const char *why;
	int64_t t0 = now_ms();
	assert_int_equal(
	    dns_resolve_with(&c, NULL, "svc.example.com", PORT, out, DNS_MAX_ADDRS, t0 + 200, &why),
	    -ERR_TIMEOUT);
	int64_t took = now_ms() - t0;
	assert_string_equal(why, "DNS lookup timed out");
	assert_true(took >= 190 && took < 600);
	/* a deadline already past: nothing is sent */
	assert_int_equal(
	    dns_resolve_with(&c, NULL, "svc.example.com", PORT, out, DNS_MAX_ADDRS, t0 - 1, &why),
	    -ERR_TIMEOUT);
	fake_stop(f);
	assert_int_equal(f->udp_queries, 2);
}

static void test_e2e_search(void **state)
{
	(void)state;
	struct fake *f = fake_new(AF_INET);
	assert_non_null(f);
	fake_start(f);
	struct dns_conf c;
	conf_of(&c, &f, 1);
	strcpy(c.search[0], "nothere.test");
	strcpy(c.search[1], "corp.internal");
	strcpy(c.search[2], "example.com");
	c.nsearch = 3;
	struct dns_addr out[DNS_MAX_ADDRS];
	const char *why;
	/* fewer dots than ndots: the suffixes in order, until one exists */
	assert_int_equal(lookup(&c, "host", out, DNS_MAX_ADDRS, &why), 1);
	expect_addrs(out, 1, "10.0.0.7");
	/* ndots 2: "svc.example" has 1 dot, so "svc.example.nothere.test" ... and the name as given
	 * last ("svc.example" does not exist either) */
	c.ndots = 2;
	assert_int_equal(lookup(&c, "svc.example", out, DNS_MAX_ADDRS, &why), -ERR_NOT_FOUND);
	c.ndots = 1;
	/* a name with enough dots, or a final dot: as given only */
	assert_int_equal(lookup(&c, "nope.example", out, DNS_MAX_ADDRS, &why), -ERR_NOT_FOUND);
	assert_int_equal(lookup(&c, "host.", out, DNS_MAX_ADDRS, &why), -ERR_NOT_FOUND);
	fake_stop(f);
	static const char *want[] = {
	    "host.nothere.test",
	    "host.nothere.test", /* NXDOMAIN for A, AAAA */
	    "host.corp.internal",
	    "host.corp.internal", /* found */
	    "svc.example.nothere.test",
	    "svc.example.nothere.test", /* */
	    "svc.example.corp.internal",
	    "svc.example.corp.internal", /* */
	    "svc.example.example.com",
	    "svc.example.example.com", /* */
	    "svc.example",
	    "svc.example", /* as given, last */
	    "nope.example",
	    "nope.example", /* */
	    "host",
	    "host", /* */
	};
	assert_int_equal(f->nlog, 16);
	for (int i = 0; i < f->nlog; i++)
		assert_string_equal(f->log[i], want[i]);

	/* a server failure ends the search: no suffix may answer for the name */
	f = fake_new(AF_INET);
	f->servfail = 1;
	fake_start(f);
	conf_of(&c, &f, 1);
	strcpy(c.search[0], "corp.internal");
	c.nsearch = 1;
	c.attempts = 1;
	assert_int_equal(lookup(&c, "host", out, DNS_MAX_ADDRS, &why), -ERR_UPSTREAM_UNAVAILABLE);
	fake_stop(f);
	assert_int_equal(f->udp_queries, 2);
}

static void test_e2e_ipv6_server(void **state)
{
	(void)state;
	struct fake *f = fake_new(AF_INET6);
	if (f == NULL)
		skip(); /* no ::1 in this sandbox */
	fake_start(f);
	struct dns_conf c;
	conf_of(&c, &f, 1);
	struct dns_addr out[DNS_MAX_ADDRS];
	const char *why;
	assert_int_equal(lookup(&c, "alias.example.com", out, DNS_MAX_ADDRS, &why), 3);
	expect_addrs(out, 3, "192.0.2.1 192.0.2.2 2001:db8::1");
	assert_int_equal(lookup(&c, "big.example.com", out, 2, &why), 2);
	fake_stop(f);
	assert_int_equal(f->tcp_queries, 1);
}

/* Nothing reaches the name server for literals, hosts entries, localhost or invalid names. */
static void test_e2e_no_query(void **state)
{
	(void)state;
	struct fake *f = fake_new(AF_INET);
	assert_non_null(f);
	fake_start(f);
	struct dns_conf c;
	conf_of(&c, &f, 1);
	struct dns_addr out[DNS_MAX_ADDRS];
	const char *why;
	assert_int_equal(lookup(&c, "192.0.2.55", out, DNS_MAX_ADDRS, &why), 1);
	expect_addrs(out, 1, "192.0.2.55");
	assert_string_equal(why, "address literal");
	assert_int_equal(lookup(&c, "2001:DB8::5", out, DNS_MAX_ADDRS, &why), 1);
	expect_addrs(out, 1, "2001:db8::5");
	assert_int_equal(lookup(&c, "fe80::1%7", out, DNS_MAX_ADDRS, &why), 1);
	assert_int_equal(((struct sockaddr_in6 *)&out[0].ss)->sin6_scope_id, 7);
	static const char *loop[] = {"localhost", "LOCALHOST.", "api.localhost"};
	for (size_t i = 0; i < sizeof loop / sizeof *loop; i++) {
		assert_int_equal(lookup(&c, loop[i], out, DNS_MAX_ADDRS, &why), 2);
		expect_addrs(out, 2, "127.0.0.1 ::1");
		assert_string_equal(why, "localhost");
	}
	assert_int_equal(lookup(&c, "localhost", out, 1, &why), 1);
	expect_addrs(out, 1, "127.0.0.1");
	static const char *bad[] = {"",       "bad_name.example",   "-x.example", "a..b",
	                            "[::1]",  "1.2.3.4:80",         "x y",        "::1%eth0",
	                            "127.1.", "caf\xc3\xa9.example"};
	for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
		int r = lookup(&c, bad[i], out, DNS_MAX_ADDRS, &why);
		if (r != -ERR_FIELD_INVALID &&
		    !(strcmp(bad[i], "127.1.") == 0 && r == -ERR_NOT_FOUND))
			fail_msg("\"%s\": %d", bad[i], r);
	}
	assert_int_equal(lookup(&c, "a..b", out, DNS_MAX_ADDRS, &why), -ERR_FIELD_INVALID);
	assert_string_equal(why, "invalid host name");
	char longname[300];
	memset(longname, 'a', sizeof longname);
	for (int i = 1; i < 299; i += 2)
		longname[i] = '.';
	longname[299] = 0;
	assert_int_equal(lookup(&c, longname, out, DNS_MAX_ADDRS, &why), -ERR_FIELD_INVALID);
	fake_stop(f);
	assert_int_equal(f->udp_queries, 2); /* "127.1." is a name: asked, and does not exist */
}

/* Writes text to a fresh temporary file; returns its path in path[0..cap). */
static void temp_file(char *path, const char *text, size_t n)
{
	strcpy(path, "/tmp/test_dns_XXXXXX");
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, n), (ssize_t)n);
	close(fd);
}

/* Hosts files through the streaming reader: lines across read boundaries, too long lines
 * skipped whole, entries after them found; IPv4 first even when IPv6 comes first in the file. */
static void test_e2e_hosts_file(void **state)
{
	(void)state;
	static char text[6 * DNS_LINE_MAX];
	size_t n = 0;
	n += (size_t)snprintf(text + n, sizeof text - n, "# test hosts\n::1 six.test\n");
	/* many short lines, so entries straddle the 4 KiB buffer */
	for (int i = 0; i < 300; i++)
		n += (size_t)snprintf(text + n, sizeof text - n, "10.2.%d.%d filler%d.test\n",
		                      i / 250, i % 250, i);
	n += (size_t)snprintf(text + n, sizeof text - n, "10.3.0.1 six.test\n");
	/* a line of DNS_LINE_MAX bytes naming long.test: skipped, also its tail */
	size_t start = n;
	static const char tail[] = "10.4.0.2 long.test";
	n += (size_t)snprintf(text + n, sizeof text - n, "10.4.0.1 long.test");
	size_t pad = DNS_LINE_MAX - (n - start) - (sizeof tail - 1);
	memset(text + n, ' ', pad);
	n += pad;
	n += (size_t)snprintf(text + n, sizeof text - n, "%s\n", tail);
	assert_int_equal(n - start, DNS_LINE_MAX + 1);
	/* a longer line, whose tail comes in the next read: skipped up to its LF too */
	start = n;
	n += (size_t)snprintf(text + n, sizeof text - n, "10.4.0.4 long.test");
	pad = DNS_LINE_MAX + 100 - (n - start) - (sizeof tail - 1);
	memset(text + n, ' ', pad);
	n += pad;
	n += (size_t)snprintf(text + n, sizeof text - n, "%s\n", tail);
	/* one byte shorter than DNS_LINE_MAX: read */
	start = n;
	n += (size_t)snprintf(text + n, sizeof text - n, "10.6.0.1 edge.test");
	pad = DNS_LINE_MAX - 1 - (n - start);
	memset(text + n, ' ', pad);
	n += pad;
	text[n++] = '\n';
	n += (size_t)snprintf(text + n, sizeof text - n,
	                      "10.4.0.3 long.test after.test\n"
	                      "10.5.0.1 last.test"); /* no final LF */
	char path[64];
	temp_file(path, text, n);
	struct fake *f = fake_new(AF_INET);
	assert_non_null(f);
	fake_start(f);
	struct dns_conf c;
	conf_of(&c, &f, 1);
	struct dns_addr out[DNS_MAX_ADDRS];
	const char *why;
	int64_t dl = now_ms() + 5000;
	assert_int_equal(dns_resolve_with(&c, path, "six.test", PORT, out, 8, dl, &why), 2);
	expect_addrs(out, 2, "10.3.0.1 ::1");
	assert_string_equal(why, "hosts file");
	assert_int_equal(dns_resolve_with(&c, path, "filler299.test", PORT, out, 8, dl, &why), 1);
	expect_addrs(out, 1, "10.2.1.49");
	assert_int_equal(dns_resolve_with(&c, path, "long.test", PORT, out, 8, dl, &why), 1);
	expect_addrs(out, 1, "10.4.0.3");
	assert_int_equal(dns_resolve_with(&c, path, "edge.test", PORT, out, 8, dl, &why), 1);
	expect_addrs(out, 1, "10.6.0.1");
	assert_int_equal(dns_resolve_with(&c, path, "last.test", PORT, out, 8, dl, &why), 1);
	expect_addrs(out, 1, "10.5.0.1");
	/* the same text parsed whole agrees */
	assert_int_equal(dns_hosts_lookup(text, n, "long.test", out, 8, PORT), 1);
	expect_addrs(out, 1, "10.4.0.3");
	/* a hosts entry wins over localhost's built-in answer and over DNS */
	unlink(path);
	static const char small[] = "10.9.9.9 localhost svc.example.com\n";
	temp_file(path, small, sizeof small - 1);
	assert_int_equal(dns_resolve_with(&c, path, "localhost", PORT, out, 8, dl, &why), 1);
	expect_addrs(out, 1, "10.9.9.9");
	assert_int_equal(dns_resolve_with(&c, path, "svc.example.com", PORT, out, 8, dl, &why), 1);
	unlink(path);
	/* a missing hosts file is no error */
	assert_int_equal(dns_resolve_with(&c, path, "v4only.example.com", PORT, out, 8, dl, &why),
	                 1);
	fake_stop(f);
	assert_int_equal(f->udp_queries, 2);
}

static void test_load_conf(void **state)
{
	(void)state;
	static char text[3 * DNS_LINE_MAX];
	size_t n = 0;
	n += (size_t)snprintf(text + n, sizeof text - n, "nameserver 10.0.0.1\n");
	for (int i = 0; i < 200; i++)
		n += (size_t)snprintf(text + n, sizeof text - n, "# comment line %d\n", i);
	n += (size_t)snprintf(text + n, sizeof text - n,
	                      "search a.example b.example\noptions ndots:3 timeout:2\n"
	                      "nameserver 2001:db8::53");
	char path[64];
	temp_file(path, text, n);
	struct dns_conf c, d;
	assert_int_equal(dns_load_conf(path, &c), 2);
	assert_int_equal(dns_parse_resolv_conf(text, n, &d), 2);
	assert_memory_equal(&c, &d, sizeof c);
	assert_int_equal(c.ndots, 3);
	assert_int_equal(c.timeout_ms, 2000);
	assert_int_equal(c.nsearch, 2);
	expect_addr(&c.servers[1], 53, "2001:db8::53");
	unlink(path);
	assert_int_equal(dns_load_conf(path, &c), -ERR_NOT_FOUND);
	assert_int_equal(c.nservers, 1);
	expect_addr(&c.servers[0], 53, "127.0.0.1");
}

/* dns_resolve() itself: literals and localhost need no name server. */
static void test_resolve_system(void **state)
{
	(void)state;
	struct dns_addr out[DNS_MAX_ADDRS];
	const char *why = NULL;
	int64_t dl = now_ms() + 2000;
	assert_int_equal(dns_resolve("127.0.0.1", 8080, out, DNS_MAX_ADDRS, dl, &why), 1);
	expect_addr(&out[0], 8080, "127.0.0.1");
	assert_int_equal(dns_resolve("::1", 8080, out, DNS_MAX_ADDRS, dl, &why), 1);
	int n = dns_resolve("localhost", 8080, out, DNS_MAX_ADDRS, dl, &why);
	assert_true(n >= 1);
	for (int i = 0; i < n; i++) {
		char t[ADDR_TEXT];
		addr_text(&out[i], 8080, t);
		if (strncmp(t, "127.", 4) != 0 && strcmp(t, "::1") != 0)
			fail_msg("localhost gave %s", t);
		if (i > 0 && out[i].ss.ss_family == AF_INET)
			assert_int_equal(out[i - 1].ss.ss_family, AF_INET); /* IPv4 first */
	}
	assert_int_equal(dns_resolve("no_such", 1, out, 1, dl, &why), -ERR_FIELD_INVALID);
}

/* Workers resolve concurrently: no shared state in the resolver. */
struct worker_arg {
	const struct dns_conf *c;
	int ok;
};

static void *worker(void *p)
{
	struct worker_arg *w = p;
	static const char *names[] = {"svc.example.com", "alias.example.com", "v4only.example.com",
	                              "big.example.com"};
	static const int counts[] = {3, 3, 1, DNS_MAX_ADDRS};
	for (int i = 0; i < 20; i++) {
		struct dns_addr out[DNS_MAX_ADDRS];
		const char *why;
		int r = dns_resolve_with(w->c, NULL, names[i % 4], PORT, out, DNS_MAX_ADDRS,
		                         now_ms() + 5000, &why);
		w->ok += r == counts[i % 4];
	}
	return NULL;
}

static void test_e2e_concurrent(void **state)
{
	(void)state;
	struct fake *f = fake_new(AF_INET);
	assert_non_null(f);
	fake_start(f);
	struct dns_conf c;
	conf_of(&c, &f, 1);
	c.timeout_ms = 2000;
	pthread_t th[4];
	struct worker_arg args[4];
	for (int i = 0; i < 4; i++) {
		args[i].c = &c;
		args[i].ok = 0;
		assert_int_equal(pthread_create(&th[i], NULL, worker, &args[i]), 0);
	}
	for (int i = 0; i < 4; i++) {
		pthread_join(th[i], NULL);
		assert_int_equal(args[i].ok, 20);
	}
	fake_stop(f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_query_bytes),
	    cmocka_unit_test(test_query_overflow),
	    cmocka_unit_test(test_name_valid),
	    cmocka_unit_test(test_answer_a),
	    cmocka_unit_test(test_answer_aaaa),
	    cmocka_unit_test(test_answer_cname_chain),
	    cmocka_unit_test(test_answer_chain_limits),
	    cmocka_unit_test(test_answer_more_than_max),
	    cmocka_unit_test(test_answer_other_sections),
	    cmocka_unit_test(test_answer_header_checks),
	    cmocka_unit_test(test_answer_rcodes),
	    cmocka_unit_test(test_answer_tc),
	    cmocka_unit_test(test_answer_compression),
	    cmocka_unit_test(test_answer_bad_rdata),
	    cmocka_unit_test(test_answer_every_prefix),
	    cmocka_unit_test(test_answer_corruption),
	    cmocka_unit_test(test_conf_typical),
	    cmocka_unit_test(test_conf_servers),
	    cmocka_unit_test(test_conf_options),
	    cmocka_unit_test(test_conf_search),
	    cmocka_unit_test(test_conf_long_line),
	    cmocka_unit_test(test_hosts),
	    cmocka_unit_test(test_load_conf),
	    cmocka_unit_test(test_resolve_system),
	    cmocka_unit_test(test_e2e_basic),
	    cmocka_unit_test(test_e2e_tcp_fallback),
	    cmocka_unit_test(test_e2e_truncated_aaaa_within_grace),
	    cmocka_unit_test(test_e2e_dropped_query),
	    cmocka_unit_test(test_e2e_aaaa_grace),
	    cmocka_unit_test(test_e2e_spoofs_ignored),
	    cmocka_unit_test(test_e2e_failover),
	    cmocka_unit_test(test_e2e_deadline),
	    cmocka_unit_test(test_e2e_search),
	    cmocka_unit_test(test_e2e_ipv6_server),
	    cmocka_unit_test(test_e2e_no_query),
	    cmocka_unit_test(test_e2e_hosts_file),
	    cmocka_unit_test(test_e2e_concurrent),
	};
	return cmocka_run_group_tests(tests, guard_setup, NULL);
}
