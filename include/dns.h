/*
 * dns.h: a small stub resolver (RFC 1034/1035) in place of getaddrinfo(), which in a static musl
 * binary pulls in malloc, stdio, qsort and the whole resolver, and allocates on every call.
 *
 * dns_resolve() turns a host name into the TCP addresses to connect to, trying in this order:
 *  1. an IPv4 or IPv6 literal (inet_pton; no I/O). No inet_aton short forms ("127.1"), no
 *     brackets; an IPv6 %scope must be a number;
 *  2. /etc/hosts: every line that lists the name (case-insensitive, aliases too);
 *  3. "localhost" and names under ".localhost" (RFC 6761 6.3): 127.0.0.1 and ::1, never sent to
 *     a name server, also when /etc/hosts is missing (a scratch container has none);
 *  4. DNS: A and AAAA queries, sent together over UDP to the name servers of /etc/resolv.conf
 *     (127.0.0.1 when the file is missing or lists none, as glibc and musl do), asked again over
 *     TCP when an answer comes back truncated (TC bit).
 * The first step that finds an address ends the lookup. Both files are read on every call (as
 * musl does; they change under containers), line by line through the answer buffer.
 *
 * Choices, and why:
 *  - Order: IPv4 addresses first, then IPv6, each family in the order of its source. The hosts
 *    we call serve both families, and IPv6 egress from Azure containers is often missing or
 *    silently dropped: a blackholed IPv6 address tried first would spend the caller's deadline
 *    in connect(). RFC 6724 sorting would need the routing table (a UDP connect() per address);
 *    IPv4 first is the dependable rule, and the caller still falls back to IPv6.
 *  - Search list: a name ending in '.', or with at least `ndots` dots, is asked as given, and
 *    only so (as musl and glibc). A shorter name is tried with each search suffix in order,
 *    then as given. The next candidate is tried after NXDOMAIN or NODATA (glibc; musl stops
 *    at NODATA); a timeout or a server failure ends the lookup, so a
 *    failing server cannot make a search suffix answer in place of the real name.
 *  - Servers and retries: `attempts` rounds (default 2), each asking each server in turn (as
 *    glibc without "rotate"); a try waits at most `timeout` (default 5 s), never past the
 *    caller's deadline. A server that fails (ICMP unreachable, SERVFAIL, REFUSED, any rcode
 *    other than NOERROR and NXDOMAIN, a failed TCP retry) is left at once for the next. Only a
 *    query still unanswered is asked again.
 *  - Both families, IPv4 first: the lookup of a name ends on NXDOMAIN, when both answers are
 *    in, or when the A answer has brought addresses; the AAAA answer then gets at most 50 ms
 *    more (RFC 8305 3's Resolution Delay), since some DNS proxies drop AAAA queries and IPv4
 *    comes first anyway. AAAA addresses alone do not end it: the A query is asked again in the
 *    next tries, and the IPv6 addresses are returned alone only when it never comes.
 *  - Spoofing: the UDP socket is connect()ed to the server, so the kernel drops datagrams from
 *    any other address or port; an answer must carry its query's random id (getrandom; the
 *    kernel picks a random source port) and echo its question. Anything else, and malformed
 *    answers, are ignored and the wait goes on.
 *  - No EDNS0: UDP answers stay within 512 bytes (RFC 1035 4.2.1); larger ones come over TCP.
 *  - Not read: LOCALDOMAIN, RES_OPTIONS, /etc/nsswitch.conf, /etc/host.conf, resolv.conf
 *    options other than timeout, attempts and ndots (rotate, edns0, single-request, use-vc...).
 *
 * Thread-safe: no mutable static state, so workers call dns_resolve() concurrently. It uses
 * about 11 KB of stack at its deepest (DNS_MSG_MAX, struct dns_conf, the address lists, the
 * answer parser), well under musl's 128 KiB thread stacks. Nothing here allocates.
 */
#ifndef NOTIFY_DNS_H
#define NOTIFY_DNS_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

/* Addresses dns_resolve() returns at most, and keeps per family while reading answers. The
 * caller tries them in turn before one deadline; our endpoints answer with 1-4 addresses a
 * family, and past a few failed connects the deadline is gone anyway. */
#define DNS_MAX_ADDRS 8

/* Name servers kept from resolv.conf: 3, glibc's MAXNS (and musl's); further lines are
 * ignored. */
#define DNS_MAX_SERVERS 3

/* Search domains kept from resolv.conf: 6, glibc's MAXDNSRCH before 2.26. Kubernetes writes 3-4,
 * and each one costs a round trip for a short name; further ones are ignored. */
#define DNS_MAX_SEARCH 6

/* Longest host name in text form, without a final dot: 253 characters make the 255-byte wire
 * form of RFC 1035 2.3.4 (a length byte before each label, a zero byte at the end). */
#define DNS_NAME_MAX 253

/* Longest name in wire form (RFC 1035 2.3.4). */
#define DNS_WIRE_NAME_MAX 255

/* Longest label (RFC 1035 2.3.4). */
#define DNS_LABEL_MAX 63

/* Room for one query: the 12-byte header, the name, QTYPE and QCLASS. */
#define DNS_QUERY_MAX (12 + DNS_WIRE_NAME_MAX + 4)

/* Largest answer read. UDP answers are at most 512 bytes (we send no EDNS0), so this bounds TCP
 * answers: an A or AAAA answer with a CNAME chain and a dozen addresses is under 1 KB, and 4 KiB
 * holds about 250 A records. A larger answer counts as a failure of the server. */
#define DNS_MSG_MAX 4096

/* Longest line read from /etc/hosts or /etc/resolv.conf, LF excluded, plus one: the files are
 * read through the answer buffer. A line this long or longer is skipped whole, never read as
 * two (musl reads lines of 512 and 256 bytes). */
#define DNS_LINE_MAX DNS_MSG_MAX

/* CNAME links followed within one answer at most. Real chains (Azure: endpoint -> Front Door ->
 * edge) have 2-4 links, and BIND stops after 16 as well; more is a loop: malformed. */
#define DNS_MAX_CNAME 16

/* resolv.conf defaults (resolv.conf(5), glibc and musl) and the bounds glibc clamps to
 * (RES_MAXRETRANS 30 s, RES_MAXRETRY 5, ndots 15). A timeout or attempts of 0 becomes 1: a
 * lookup that may ask nothing is never what the file meant. */
#define DNS_DEFAULT_TIMEOUT_S 5
#define DNS_DEFAULT_ATTEMPTS  2
#define DNS_DEFAULT_NDOTS     1
#define DNS_MAX_TIMEOUT_S     30
#define DNS_MAX_ATTEMPTS      5
#define DNS_MAX_NDOTS         15

/* Record types (RFC 1035 3.2.2, RFC 3596). */
#define DNS_TYPE_A     1
#define DNS_TYPE_CNAME 5
#define DNS_TYPE_AAAA  28

/* One address, ready for socket() and connect(): ss.ss_family is AF_INET or AF_INET6, the port
 * is set. */
struct dns_addr {
	struct sockaddr_storage ss;
	socklen_t len; /* sizeof(struct sockaddr_in) or sizeof(struct sockaddr_in6) */
};

/* resolv.conf, parsed by dns_parse_resolv_conf(); tests fill it by hand (any server port). */
struct dns_conf {
	struct dns_addr servers[DNS_MAX_SERVERS];
	int nservers;   /* 1..DNS_MAX_SERVERS after parsing */
	int timeout_ms; /* per try; the file gives whole seconds */
	int attempts;   /* rounds over all servers */
	int ndots;      /* names with fewer dots go through the search list first */
	char search[DNS_MAX_SEARCH][DNS_NAME_MAX + 1]; /* valid names without a final dot */
	int nsearch;
};

/*
 * Resolves host for TCP port `port` as described above: fills out[0..n) with n <=
 * min(max, DNS_MAX_ADDRS) addresses, IPv4 first, and returns n (>= 1). max MUST be >= 1.
 * deadline_ms is absolute CLOCK_MONOTONIC milliseconds (log_now_ns() / 1000000). *why is always
 * set to a static English text: where the addresses came from, or why there are none:
 *  -ERR_FIELD_INVALID: host is neither a literal nor a valid name: letters, digits and hyphens
 *                      (not first or last in a label), labels of 1..63 characters, at most
 *                      253 characters and one optional final dot;
 *  -ERR_NOT_FOUND: the name does not exist (NXDOMAIN) or has no A or AAAA record;
 *  -ERR_TIMEOUT: the deadline passed first;
 *  -ERR_UPSTREAM_UNAVAILABLE: no name server answered in its tries (unreachable, silent,
 *                      SERVFAIL/REFUSED, answers malformed or larger than DNS_MSG_MAX);
 *  -ERR_IO: no randomness for the query ids.
 */
int dns_resolve(const char *host, uint16_t port, struct dns_addr *out, int max, int64_t deadline_ms,
                const char **why);

/*
 * dns_resolve() with conf in place of /etc/resolv.conf (NULL: read that file) and the hosts file
 * at hosts_path in place of /etc/hosts (NULL: none). The same results. For tests (a fake name
 * server on any port, hosts files of their own), and for a caller that loads resolv.conf once
 * with dns_load_conf().
 */
int dns_resolve_with(const struct dns_conf *conf, const char *hosts_path, const char *host,
                     uint16_t port, struct dns_addr *out, int max, int64_t deadline_ms,
                     const char **why);

/*
 * Test seam: dns_resolve() reads /etc/resolv.conf with the same line reader into the lookup's
 * own buffer; this reads a file of the test's. Reads the resolv.conf file at path into c, as
 * dns_parse_resolv_conf() reads text, through a DNS_LINE_MAX buffer on the stack. Returns the
 * number of name servers taken from the file, or -ERR_NOT_FOUND when it cannot be opened (c then
 * holds the defaults, server 127.0.0.1).
 */
int dns_load_conf(const char *path, struct dns_conf *c);

/* ---- pure parts, no I/O: what dns_resolve() is made of, for tests and the fuzzer ------------ */

/* 1 when name (NUL-terminated) is a valid host name as dns_resolve() requires, else 0. */
int dns_name_valid(const char *name);

/*
 * Writes a standard query (RD set, one question of class IN, no EDNS0) for the valid name (text,
 * one final dot allowed, letters kept as given) and qtype into buf[0..cap). Returns its length,
 * -ERR_FIELD_INVALID when name is not valid, or -ERR_OVERFLOW when cap is too small
 * (DNS_QUERY_MAX always suffices).
 */
int dns_build_query(unsigned char *buf, size_t cap, uint16_t id, const char *name, uint16_t qtype);

/*
 * Reads msg[0..len) as the answer to the query (id, name, qtype) dns_build_query() wrote; qtype
 * is DNS_TYPE_A or DNS_TYPE_AAAA. In order:
 *  1. header and question echo: id, QR set, opcode QUERY, exactly one question, the same name
 *     (case-insensitive), type and class IN. Otherwise -ERR_UPSTREAM_BAD_RESPONSE;
 *  2. TC set: -ERR_PARTIAL (ask again over TCP); nothing after the question is read;
 *  3. every record of the three sections must be whole: names of at most 255 bytes, whose
 *     compression pointers each point before the previous target (so no loop can exist;
 *     compressors only refer back), rdata inside the message; in the answer section, class IN
 *     A rdata of 4 bytes, AAAA of 16, CNAME rdata exactly one name. Trailing bytes after the
 *     last record are ignored. Otherwise -ERR_UPSTREAM_BAD_RESPONSE;
 *  4. rcode NXDOMAIN: -ERR_NOT_FOUND; any other rcode but NOERROR (SERVFAIL, REFUSED, FORMERR,
 *     NOTIMP...): -ERR_UPSTREAM_UNAVAILABLE, the server failed and another may not;
 *  5. the CNAME chain from the question name (records in any order; more than DNS_MAX_CNAME
 *     links, or a loop: -ERR_UPSTREAM_BAD_RESPONSE), then the qtype class IN records owned by
 *     its end, in message order, into out[0..max) as addresses with `port`; the rest are
 *     dropped. Returns their count; 0 is NODATA (also when max is 0; out may then be NULL).
 * out is written only for a result > 0.
 */
int dns_parse_answer(const unsigned char *msg, size_t len, uint16_t id, const char *name,
                     uint16_t qtype, struct dns_addr *out, int max, uint16_t port);

/*
 * Test seam: the line rules of dns_resolve()'s reading of /etc/resolv.conf (the same code),
 * applied to text in memory for the unit tests and the fuzzer.
 * Parses resolv.conf text[0..len) into c (fully overwritten), as glibc reads it:
 *  - "nameserver <IPv4 or IPv6 address>[%<number>]": up to DNS_MAX_SERVERS, port 53; a value
 *    that is not such an address is skipped. None at all: 127.0.0.1;
 *  - "search <names...>" or "domain <name>": the last such line wins; up to DNS_MAX_SEARCH valid
 *    names, a final dot dropped ("." and invalid names are skipped);
 *  - "options": timeout:n, attempts:n, ndots:n, clamped as the constants above say; other
 *    options and malformed values are ignored; several options lines add up;
 *  - keywords are case-sensitive and may follow blanks; '#' or ';' starts a comment anywhere;
 *    other lines are ignored; lines end at LF (CR is a blank); lines of DNS_LINE_MAX bytes or
 *    more are skipped, as dns_resolve() must skip them.
 * Returns the number of name servers taken from the text (0: c holds the default).
 */
int dns_parse_resolv_conf(const char *text, size_t len, struct dns_conf *c);

/*
 * Test seam: the line rules of dns_resolve()'s reading of the hosts file (the same code),
 * applied to text in memory for the unit tests and the fuzzer.
 * Looks name (text, case-insensitive, one final dot ignored) up in hosts text[0..len): lines
 * "<address> <canonical name> [aliases...]", '#' starts a comment. Every line that lists the
 * name adds its address (IPv4 or IPv6, %<number> allowed) with `port`, in file order, up to max;
 * lines of DNS_LINE_MAX bytes or more are skipped. Returns the count (0: not listed).
 */
int dns_hosts_lookup(const char *text, size_t len, const char *name, struct dns_addr *out, int max,
                     uint16_t port);

#endif
