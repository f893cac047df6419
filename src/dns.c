/*
 * dns.c: the stub resolver of dns.h. Parsers first (names, answers, resolv.conf, hosts), then the
 * file reader, then the UDP/TCP exchange and the lookup order.
 */
#include "dns.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <poll.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "err.h"
#include "sock.h"

/* The files dns_resolve() reads. */
#define HOSTS_PATH  "/etc/hosts"
#define RESOLV_PATH "/etc/resolv.conf"

/* The DNS port (RFC 1035 4.2). */
#define DNS_PORT 53

/* Header size and the flag bits we look at (RFC 1035 4.1.1). */
#define HDR_LEN        12
#define FLAG_QR        0x80 /* byte 2 */
#define FLAG_OPCODE    0x78 /* byte 2; 0 is QUERY */
#define FLAG_TC        0x02 /* byte 2 */
#define FLAG_RD        0x01 /* byte 2 */
#define RCODE_MASK     0x0f /* byte 3 */
#define RCODE_NXDOMAIN 3
#define CLASS_IN       1

/* Fixed part of a resource record after its owner name: type, class, TTL, rdlength. */
#define RR_FIXED 10

/* How long to wait for the AAAA answer once the A answer has brought addresses: RFC 8305 3's
 * Resolution Delay. IPv4 addresses come first anyway, so a slow or dropped AAAA answer (some DNS
 * proxies drop AAAA queries) must not hold the caller for a whole timeout. */
#define DNS_AAAA_GRACE_MS 50

/* Longest text inet_pton may see: an IPv6 address in its longest form (45 characters), '%' and a
 * 10-digit scope id, and a NUL. */
#define ADDR_TEXT_MAX 64

/* ---- small helpers --------------------------------------------------------------------------- */

static unsigned char lower(unsigned char c)
{
	return c >= 'A' && c <= 'Z' ? (unsigned char)(c + ('a' - 'A')) : c;
}

static int is_alnum(unsigned char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static int is_blank(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\v' || c == '\f';
}

static unsigned rd16(const unsigned char *p)
{
	return (unsigned)p[0] << 8 | p[1];
}

static void wr16(unsigned char *p, unsigned v)
{
	p[0] = (unsigned char)(v >> 8);
	p[1] = (unsigned char)v;
}

/* Case-insensitive (ASCII) equality of a[0..an) and b[0..bn). */
static int text_eq(const char *a, size_t an, const char *b, size_t bn)
{
	if (an != bn)
		return 0;
	for (size_t i = 0; i < an; i++)
		if (lower((unsigned char)a[i]) != lower((unsigned char)b[i]))
			return 0;
	return 1;
}

/* ---- names ----------------------------------------------------------------------------------- */

/* Length of name without its one optional final dot when it is a valid host name (LDH labels
 * of 1..63 characters, no hyphen at either end of a label, at most DNS_NAME_MAX characters),
 * else -1. */
static int name_text_len(const char *name)
{
	size_t n = strnlen(name, DNS_NAME_MAX + 2);
	if (n > 0 && name[n - 1] == '.')
		n--;
	if (n == 0 || n > DNS_NAME_MAX)
		return -1;
	size_t lab = 0;
	for (size_t i = 0; i <= n; i++) {
		unsigned char c = i < n ? (unsigned char)name[i] : '.';
		if (c == '.') {
			if (lab == 0 || lab > DNS_LABEL_MAX || name[i - 1] == '-')
				return -1;
			lab = 0;
		} else if (is_alnum(c) || (c == '-' && lab > 0)) {
			lab++;
		} else {
			return -1;
		}
	}
	return (int)n;
}

/* see dns.h */
int dns_name_valid(const char *name)
{
	return name_text_len(name) >= 0;
}

/* Writes the wire form of the valid name[0..n) (no final dot) into w: n + 2 bytes. When fold is
 * set, letters are lower-cased (the form names are compared in). */
static size_t name_to_wire(const char *name, size_t n, unsigned char *w, int fold)
{
	size_t o = 0, start = 0;
	for (size_t i = 0; i <= n; i++) {
		if (i < n && name[i] != '.')
			continue;
		w[o++] = (unsigned char)(i - start);
		for (size_t k = start; k < i; k++)
			w[o++] = fold ? lower((unsigned char)name[k]) : (unsigned char)name[k];
		start = i + 1;
	}
	w[o++] = 0;
	return o;
}

/*
 * Reads the name at msg[*pos] (RFC 1035 3.1, 4.1.4) and moves *pos past it as stored there (past
 * the first pointer, when there is one). Writes its uncompressed wire form, lower-cased, into w
 * (DNS_WIRE_NAME_MAX bytes) unless w is NULL. Every pointer must point before the previous target
 * (the first: before the name's start), so each jump goes strictly backwards and no loop can exist;
 * standard compression only ever points at names written earlier. Returns the wire length
 * (1..DNS_WIRE_NAME_MAX), or -1: cut short, reserved label types (0x40, 0x80), a name over 255
 * bytes, a pointer that does not go back.
 */
static int name_read(const unsigned char *msg, size_t len, size_t *pos, unsigned char *w)
{
	size_t p = *pos, limit = *pos, o = 0, end = 0;
	for (;;) {
		if (p >= len)
			return -1;
		unsigned c = msg[p];
		if ((c & 0xc0) == 0xc0) {
			if (p + 1 >= len)
				return -1;
			size_t t = (size_t)(c & 0x3f) << 8 | msg[p + 1];
			if (t >= limit)
				return -1;
			if (end == 0)
				end = p + 2;
			limit = t;
			p = t;
			continue;
		}
		if (c > DNS_LABEL_MAX)
			return -1;
		if (o + 1 + c > DNS_WIRE_NAME_MAX || p + 1 + c > len)
			return -1;
		if (w) {
			w[o] = (unsigned char)c;
			for (unsigned k = 0; k < c; k++)
				w[o + 1 + k] = lower(msg[p + 1 + k]);
		}
		o += 1 + c;
		p += 1 + c;
		if (c == 0)
			break;
	}
	*pos = end ? end : p;
	return (int)o;
}

/* see dns.h */
int dns_build_query(unsigned char *buf, size_t cap, uint16_t id, const char *name, uint16_t qtype)
{
	int n = name_text_len(name);
	if (n < 0)
		return -ERR_FIELD_INVALID;
	size_t total = HDR_LEN + (size_t)n + 2 + 4;
	if (cap < total)
		return -ERR_OVERFLOW;
	memset(buf, 0, HDR_LEN);
	wr16(buf, id);
	buf[2] = FLAG_RD;
	wr16(buf + 4, 1); /* QDCOUNT */
	size_t o = HDR_LEN + name_to_wire(name, (size_t)n, buf + HDR_LEN, 0);
	wr16(buf + o, qtype);
	wr16(buf + o + 2, CLASS_IN);
	return (int)total;
}

/* ---- answers --------------------------------------------------------------------------------- */

/* One resource record, located. */
struct rr {
	unsigned type, cls;
	size_t rdata, rdlen; /* offset and length of the rdata */
};

/* Reads the record at *pos (its owner into w unless w is NULL) and moves *pos past it. Returns
 * the owner's wire length, or -1 when the record is cut or its owner malformed. */
static int rr_read(const unsigned char *msg, size_t len, size_t *pos, unsigned char *w,
                   struct rr *r)
{
	int ol = name_read(msg, len, pos, w);
	if (ol < 0 || len - *pos < RR_FIXED)
		return -1;
	const unsigned char *f = msg + *pos;
	r->type = rd16(f);
	r->cls = rd16(f + 2);
	r->rdlen = rd16(f + 8);
	r->rdata = *pos + RR_FIXED;
	if (len - r->rdata < r->rdlen)
		return -1;
	*pos = r->rdata + r->rdlen;
	return ol;
}

/* Fills a with the address bytes ip (4 or 16 of them) and port. */
static void addr_set(struct dns_addr *a, int family, const void *ip, uint16_t port)
{
	memset(a, 0, sizeof *a);
	if (family == AF_INET) {
		struct sockaddr_in *s = (struct sockaddr_in *)&a->ss;
		s->sin_family = AF_INET;
		s->sin_port = htons(port);
		memcpy(&s->sin_addr, ip, 4);
		a->len = sizeof *s;
	} else {
		struct sockaddr_in6 *s = (struct sockaddr_in6 *)&a->ss;
		s->sin6_family = AF_INET6;
		s->sin6_port = htons(port);
		memcpy(&s->sin6_addr, ip, 16);
		a->len = sizeof *s;
	}
}

/* see dns.h */
int dns_parse_answer(const unsigned char *msg, size_t len, uint16_t id, const char *name,
                     uint16_t qtype, struct dns_addr *out, int max, uint16_t port)
{
	const int bad = -ERR_UPSTREAM_BAD_RESPONSE;
	unsigned char q[DNS_WIRE_NAME_MAX], w[DNS_WIRE_NAME_MAX];
	unsigned char cur[DNS_WIRE_NAME_MAX], next[DNS_WIRE_NAME_MAX];
	int n = name_text_len(name);
	if (n < 0 || (qtype != DNS_TYPE_A && qtype != DNS_TYPE_AAAA))
		return bad;
	size_t qlen = name_to_wire(name, (size_t)n, q, 1);

	/* header and question: is this the answer to our query? */
	if (len < HDR_LEN || rd16(msg) != id || !(msg[2] & FLAG_QR) || (msg[2] & FLAG_OPCODE) ||
	    rd16(msg + 4) != 1)
		return bad;
	size_t pos = HDR_LEN;
	int wl = name_read(msg, len, &pos, w);
	if (wl < 0 || (size_t)wl != qlen || memcmp(w, q, qlen) != 0 || len - pos < 4 ||
	    rd16(msg + pos) != qtype || rd16(msg + pos + 2) != CLASS_IN)
		return bad;
	pos += 4;
	if (msg[2] & FLAG_TC)
		return -ERR_PARTIAL;

	/* every record of the three sections must be whole and well-formed */
	size_t an_start = pos;
	unsigned an = rd16(msg + 6);
	unsigned long total = (unsigned long)an + rd16(msg + 8) + rd16(msg + 10);
	for (unsigned long i = 0; i < total; i++) {
		struct rr r;
		if (rr_read(msg, len, &pos, NULL, &r) < 0)
			return bad;
		if (i >= an || r.cls != CLASS_IN)
			continue;
		if ((r.type == DNS_TYPE_A && r.rdlen != 4) ||
		    (r.type == DNS_TYPE_AAAA && r.rdlen != 16))
			return bad;
		if (r.type == DNS_TYPE_CNAME) {
			size_t t = r.rdata;
			if (name_read(msg, len, &t, NULL) < 0 || t != r.rdata + r.rdlen)
				return bad;
		}
	}

	unsigned rcode = msg[3] & RCODE_MASK;
	if (rcode == RCODE_NXDOMAIN)
		return -ERR_NOT_FOUND;
	if (rcode != 0)
		return -ERR_UPSTREAM_UNAVAILABLE;

	/* the CNAME chain from the question name; records in any order (all checked above) */
	size_t curlen = qlen;
	memcpy(cur, q, qlen);
	for (int links = 0;; links++) {
		int found = 0;
		pos = an_start;
		for (unsigned i = 0; i < an && !found; i++) {
			struct rr r;
			int ol = rr_read(msg, len, &pos, w, &r);
			if (r.type != DNS_TYPE_CNAME || r.cls != CLASS_IN || (size_t)ol != curlen ||
			    memcmp(w, cur, curlen) != 0)
				continue;
			size_t t = r.rdata;
			curlen = (size_t)name_read(msg, len, &t, next);
			found = 1;
		}
		if (!found)
			break;
		if (links == DNS_MAX_CNAME)
			return bad; /* a loop, or a chain no real zone has */
		memcpy(cur, next, curlen);
	}

	/* the addresses owned by the end of the chain */
	int count = 0;
	pos = an_start;
	for (unsigned i = 0; i < an; i++) {
		struct rr r;
		int ol = rr_read(msg, len, &pos, w, &r);
		if (r.type != qtype || r.cls != CLASS_IN || (size_t)ol != curlen ||
		    memcmp(w, cur, curlen) != 0 || count >= max)
			continue;
		addr_set(&out[count++], qtype == DNS_TYPE_A ? AF_INET : AF_INET6, msg + r.rdata,
		         port);
	}
	return count;
}

/* ---- text files: resolv.conf and hosts ------------------------------------------------------- */

/* Called with each line (without its LF) of a file. */
typedef void (*line_fn)(void *ctx, const char *p, size_t n);

/* Calls fn for each line of text[0..len); lines of DNS_LINE_MAX bytes or more are skipped, as
 * the file reader (whose buffer they would not fit) skips them. */
static void each_line(const char *text, size_t len, line_fn fn, void *ctx)
{
	size_t i = 0;
	while (i < len) {
		const char *nl = memchr(text + i, '\n', len - i);
		size_t e = nl ? (size_t)(nl - text) : len;
		if (e - i < DNS_LINE_MAX)
			fn(ctx, text + i, e - i);
		i = e + 1;
	}
}

/* The next blank-separated token of line[*i..n) into *tok, *tn; 0 when there is none. */
static int next_token(const char *line, size_t n, size_t *i, const char **tok, size_t *tn)
{
	size_t p = *i;
	while (p < n && is_blank(line[p]))
		p++;
	if (p == n)
		return 0;
	size_t s = p;
	while (p < n && !is_blank(line[p]))
		p++;
	*tok = line + s;
	*tn = p - s;
	*i = p;
	return 1;
}

static int token_is(const char *tok, size_t tn, const char *word)
{
	return tn == strlen(word) && memcmp(tok, word, tn) == 0;
}

/* An IPv4 or IPv6 address (with an optional numeric %scope for IPv6) at s[0..n) into a, with
 * port. Interface names as scopes are not looked up: that would be I/O. 0 or -1. */
static int parse_addr(const char *s, size_t n, uint16_t port, struct dns_addr *a)
{
	char t[ADDR_TEXT_MAX];
	if (n == 0 || n >= sizeof t || memchr(s, 0, n))
		return -1;
	memcpy(t, s, n);
	t[n] = 0;
	unsigned char ip[16];
	if (inet_pton(AF_INET, t, ip) == 1) {
		addr_set(a, AF_INET, ip, port);
		return 0;
	}
	char *pct = memchr(t, '%', n);
	uint32_t scope = 0;
	if (pct) {
		*pct = 0;
		const char *d = pct + 1;
		if (*d == 0)
			return -1;
		for (; *d; d++) {
			if (*d < '0' || *d > '9' || scope > (UINT32_MAX - 9) / 10)
				return -1;
			scope = scope * 10 + (uint32_t)(*d - '0');
		}
	}
	if (inet_pton(AF_INET6, t, ip) != 1)
		return -1;
	addr_set(a, AF_INET6, ip, port);
	((struct sockaddr_in6 *)&a->ss)->sin6_scope_id = scope;
	return 0;
}

/* The value of "name:digits" option tok[0..tn), clamped to [lo, hi]; -1 when tok is not it. */
static int option_value(const char *tok, size_t tn, const char *name, int lo, int hi)
{
	size_t k = strlen(name);
	if (tn <= k || memcmp(tok, name, k) != 0)
		return -1;
	long v = 0;
	for (size_t i = k; i < tn; i++) {
		if (tok[i] < '0' || tok[i] > '9')
			return -1;
		if (v <= hi)
			v = v * 10 + (tok[i] - '0');
	}
	return v < lo ? lo : v > hi ? hi : (int)v;
}

static void conf_line(void *ctx, const char *line, size_t n)
{
	struct dns_conf *c = ctx;
	const char *cut = line;
	while (cut < line + n && *cut != '#' && *cut != ';')
		cut++;
	n = (size_t)(cut - line);
	size_t i = 0, tn;
	const char *tok;
	if (!next_token(line, n, &i, &tok, &tn))
		return;
	if (token_is(tok, tn, "nameserver")) {
		if (c->nservers < DNS_MAX_SERVERS && next_token(line, n, &i, &tok, &tn) &&
		    parse_addr(tok, tn, DNS_PORT, &c->servers[c->nservers]) == 0)
			c->nservers++;
	} else if (token_is(tok, tn, "search") || token_is(tok, tn, "domain")) {
		int one = token_is(tok, tn, "domain"); /* domain takes one name */
		c->nsearch = 0;
		while (c->nsearch < DNS_MAX_SEARCH && next_token(line, n, &i, &tok, &tn)) {
			char d[DNS_NAME_MAX + 2]; /* a longest name, a final dot, a NUL */
			if (tn < sizeof d && !memchr(tok, 0, tn)) {
				memcpy(d, tok, tn);
				d[tn] = 0;
				int dl = name_text_len(d);
				if (dl >= 0) {
					memcpy(c->search[c->nsearch], d, (size_t)dl);
					c->search[c->nsearch++][dl] = 0;
				}
			}
			if (one)
				break;
		}
	} else if (token_is(tok, tn, "options")) {
		while (next_token(line, n, &i, &tok, &tn)) {
			int v;
			if ((v = option_value(tok, tn, "timeout:", 1, DNS_MAX_TIMEOUT_S)) >= 0)
				c->timeout_ms = v * 1000;
			else if ((v = option_value(tok, tn, "attempts:", 1, DNS_MAX_ATTEMPTS)) >= 0)
				c->attempts = v;
			else if ((v = option_value(tok, tn, "ndots:", 0, DNS_MAX_NDOTS)) >= 0)
				c->ndots = v;
		}
	}
}

static void conf_init(struct dns_conf *c)
{
	memset(c, 0, sizeof *c);
	c->timeout_ms = DNS_DEFAULT_TIMEOUT_S * 1000;
	c->attempts = DNS_DEFAULT_ATTEMPTS;
	c->ndots = DNS_DEFAULT_NDOTS;
}

/* No name server listed: 127.0.0.1, as glibc and musl. Returns the count taken from the text. */
static int conf_finish(struct dns_conf *c)
{
	int from_text = c->nservers;
	if (c->nservers == 0) {
		static const unsigned char lo[4] = {127, 0, 0, 1};
		addr_set(&c->servers[0], AF_INET, lo, DNS_PORT);
		c->nservers = 1;
	}
	return from_text;
}

/* see dns.h */
int dns_parse_resolv_conf(const char *text, size_t len, struct dns_conf *c)
{
	conf_init(c);
	each_line(text, len, conf_line, c);
	return conf_finish(c);
}

/* Where matching hosts lines put their addresses: in file order into one array (v4 == v6, n4 ==
 * n6), or split by family. */
struct hosts_ctx {
	const char *name; /* without a final dot */
	size_t name_len;
	uint16_t port;
	struct dns_addr *v4, *v6;
	int *n4, *n6;
	int max4, max6;
};

static void hosts_line(void *ctx, const char *line, size_t n)
{
	struct hosts_ctx *h = ctx;
	const char *hash = memchr(line, '#', n);
	if (hash)
		n = (size_t)(hash - line);
	size_t i = 0, an, tn;
	const char *at, *tok;
	if (!next_token(line, n, &i, &at, &an))
		return;
	int match = 0;
	while (!match && next_token(line, n, &i, &tok, &tn)) {
		if (tn > 1 && tok[tn - 1] == '.')
			tn--;
		match = text_eq(tok, tn, h->name, h->name_len);
	}
	struct dns_addr a;
	if (!match || parse_addr(at, an, h->port, &a) != 0)
		return;
	if (a.ss.ss_family == AF_INET && *h->n4 < h->max4)
		h->v4[(*h->n4)++] = a;
	else if (a.ss.ss_family == AF_INET6 && *h->n6 < h->max6)
		h->v6[(*h->n6)++] = a;
}

/* name[0..*n) without one final dot. */
static void strip_dot(const char *name, size_t *n)
{
	if (*n > 1 && name[*n - 1] == '.')
		(*n)--;
}

/* see dns.h */
int dns_hosts_lookup(const char *text, size_t len, const char *name, struct dns_addr *out, int max,
                     uint16_t port)
{
	int count = 0;
	struct hosts_ctx h = {name, strlen(name), port, out, out, &count, &count, max, max};
	strip_dot(name, &h.name_len);
	if (h.name_len == 0)
		return 0;
	each_line(text, len, hosts_line, &h);
	return count;
}

/*
 * Calls fn for each line of the file at path, read through buf[0..cap) (cap = DNS_LINE_MAX): lines
 * that do not fit whole are skipped, as each_line() skips them. A read error ends the file early.
 * Returns 0, or -1 when the file cannot be opened.
 */
static int file_lines(const char *path, char *buf, size_t cap, line_fn fn, void *ctx)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	size_t have = 0;
	int skipping = 0; /* inside a line too long for buf */
	for (;;) {
		ssize_t k = read(fd, buf + have, cap - have);
		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0) {
			if (have > 0 && !skipping)
				fn(ctx, buf, have);
			break;
		}
		have += (size_t)k;
		size_t start = 0;
		const char *nl;
		while ((nl = memchr(buf + start, '\n', have - start)) != NULL) {
			size_t e = (size_t)(nl - buf);
			if (!skipping)
				fn(ctx, buf + start, e - start);
			skipping = 0;
			start = e + 1;
		}
		memmove(buf, buf + start, have - start);
		have -= start;
		if (have == cap) {
			skipping = 1;
			have = 0;
		}
	}
	close(fd);
	return 0;
}

/* see dns.h */
int dns_load_conf(const char *path, struct dns_conf *c)
{
	char buf[DNS_LINE_MAX];
	conf_init(c);
	int r = file_lines(path, buf, sizeof buf, conf_line, c);
	int n = conf_finish(c);
	return r < 0 ? -ERR_NOT_FOUND : n;
}

/* ---- the exchange with a name server --------------------------------------------------------- */

/* One of the two queries (A, AAAA) of a name. */
struct query {
	unsigned char buf[DNS_QUERY_MAX];
	int len;
	uint16_t id, qtype;
	struct dns_addr *out; /* DNS_MAX_ADDRS entries */
	int asked;            /* sent to the current server, which has not failed it */
	int done;             /* answered: result is final */
	int result;           /* count (0: NODATA) or -ERR_NOT_FOUND, when done */
};

/* What one lookup needs: the name, its queries and a buffer for answers. */
struct lookup {
	const char *name;
	uint16_t port;
	struct query q[2];  /* [0] A, [1] AAAA */
	unsigned char *msg; /* DNS_MSG_MAX bytes */
	const char *fail;   /* why the last server failed */
};

/* A connected non-blocking socket of type to srv (sock_connect), or -1. */
static int open_socket(const struct dns_addr *srv, int type, int64_t until)
{
	int fd = sock_connect((const struct sockaddr *)&srv->ss, srv->len, type, until);
	return fd < 0 ? -1 : fd;
}

/* Writes or reads exactly n bytes on the stream socket fd before until. 0 or -1. */
static int stream_io(int fd, unsigned char *p, size_t n, int writing, int64_t until)
{
	if (writing)
		return sock_write_all(fd, p, n, until) == (long)n ? 0 : -1;
	for (size_t done = 0; done < n;) {
		long k = sock_read(fd, p + done, n - done, until);
		if (k <= 0)
			return -1;
		done += (size_t)k;
	}
	return 0;
}

/* Asks query q of srv over TCP (RFC 7766: a 2-byte length before each message) and parses the
 * answer. Returns what dns_parse_answer() returns, or -ERR_UPSTREAM_UNAVAILABLE when the
 * exchange fails, the answer is larger than DNS_MSG_MAX or is itself truncated. */
static int tcp_query(struct lookup *lk, const struct dns_addr *srv, struct query *q, int64_t until)
{
	unsigned char pre[2 + DNS_QUERY_MAX];
	int fd = open_socket(srv, SOCK_STREAM, until);
	if (fd < 0) {
		lk->fail = "name server refused the TCP retry of a truncated answer";
		return -ERR_UPSTREAM_UNAVAILABLE;
	}
	wr16(pre, (unsigned)q->len);
	memcpy(pre + 2, q->buf, (size_t)q->len);
	const char *fail = "no whole answer over TCP after a truncated one";
	int r = -ERR_UPSTREAM_UNAVAILABLE;
	if (stream_io(fd, pre, 2 + (size_t)q->len, 1, until) == 0 &&
	    stream_io(fd, pre, 2, 0, until) == 0) {
		size_t n = rd16(pre);
		if (n > DNS_MSG_MAX)
			fail = "answer over TCP larger than DNS_MSG_MAX";
		else if (stream_io(fd, lk->msg, n, 0, until) == 0)
			r = dns_parse_answer(lk->msg, n, q->id, lk->name, q->qtype, q->out,
			                     DNS_MAX_ADDRS, lk->port);
	}
	close(fd);
	if (r == -ERR_PARTIAL || r == -ERR_UPSTREAM_BAD_RESPONSE) {
		fail = "malformed answer over TCP";
		r = -ERR_UPSTREAM_UNAVAILABLE;
	}
	if (r == -ERR_UPSTREAM_UNAVAILABLE)
		lk->fail = fail;
	return r;
}

/* Records the result r of query q: final, or (server failure) not asked at this server. */
static void settle(struct lookup *lk, struct query *q, int r)
{
	if (r >= 0 || r == -ERR_NOT_FOUND) {
		q->done = 1;
		q->result = r;
	} else if (r == -ERR_UPSTREAM_UNAVAILABLE) {
		q->asked = 0;
		if (lk->fail == NULL)
			lk->fail = "name server failure (SERVFAIL, REFUSED or similar)";
	}
	/* anything else (not our answer, malformed): ignored, the wait goes on */
}

/* 1 when an answer said the name does not exist: nothing more to ask. */
static int nxdomain(const struct lookup *lk)
{
	return (lk->q[0].done && lk->q[0].result == -ERR_NOT_FOUND) ||
	       (lk->q[1].done && lk->q[1].result == -ERR_NOT_FOUND);
}

/* 1 when the lookup of this name is over: NXDOMAIN, both answers in, or the A answer has brought
 * addresses (IPv4 comes first; the AAAA answer had its grace in try_server). AAAA addresses alone
 * do not end it: the A query is asked again, and they are used only if it never comes. */
static int finished(const struct lookup *lk)
{
	const struct query *a = &lk->q[0], *aaaa = &lk->q[1];
	return nxdomain(lk) || (a->done && (aaaa->done || a->result > 0));
}

/*
 * One try at srv: sends the queries not yet answered on a UDP socket connect()ed to srv (the kernel
 * then drops datagrams from anyone else), then reads answers until each query is answered or failed
 * at this server, the name is known not to exist, or `until` passes; once the A answer brings
 * addresses, the AAAA one gets DNS_AAAA_GRACE_MS more at most. A truncated answer is asked again
 * over TCP at once. lk->fail says why the server failed, if it did.
 */
static void try_server(struct lookup *lk, const struct dns_addr *srv, int64_t until)
{
	struct query *a = &lk->q[0], *aaaa = &lk->q[1];
	lk->fail = NULL;
	int fd = open_socket(srv, SOCK_DGRAM, until);
	if (fd < 0) {
		lk->fail = "cannot reach the name server";
		return;
	}
	for (int i = 0; i < 2; i++) {
		struct query *q = &lk->q[i];
		q->asked = !q->done && sock_send(fd, q->buf, (size_t)q->len) == q->len;
		if (!q->done && !q->asked) {
			/* e.g. ECONNREFUSED: the ICMP error of the first datagram, reported here */
			lk->fail = errno == ECONNREFUSED
			               ? "name server port closed (ICMP unreachable)"
			               : "cannot reach the name server";
			a->asked = aaaa->asked = 0;
			break;
		}
	}
	int64_t end = until;
	while (((a->asked && !a->done) || (aaaa->asked && !aaaa->done)) && !nxdomain(lk)) {
		int w = sock_wait(fd, POLLIN, end);
		if (w < 0) {
			if (lk->fail == NULL)
				lk->fail = "no answer from the name server";
			break;
		}
		long k = sock_recv(fd, lk->msg, DNS_MSG_MAX);
		if (k < 0) {
			if (k == -ERR_PARTIAL)
				continue;
			lk->fail = errno == ECONNREFUSED
			               ? "name server port closed (ICMP unreachable)"
			               : "cannot reach the name server";
			break;
		}
		if (k < 2)
			continue;
		unsigned id = rd16(lk->msg);
		struct query *q = a->asked && !a->done && id == a->id            ? a
		                  : aaaa->asked && !aaaa->done && id == aaaa->id ? aaaa
		                                                                 : NULL;
		if (q == NULL)
			continue;
		int r = dns_parse_answer(lk->msg, (size_t)k, q->id, lk->name, q->qtype, q->out,
		                         DNS_MAX_ADDRS, lk->port);
		if (r ==
		    -ERR_PARTIAL) /* truncated: ask over TCP, within the AAAA grace if it runs */
			r = tcp_query(lk, srv, q, end);
		settle(lk, q, r);
		if (q == a && a->done && a->result > 0) {
			int64_t g = sock_now_ms() + DNS_AAAA_GRACE_MS;
			if (g < end)
				end = g;
		}
	}
	close(fd);
}

/* Two distinct random query ids. 0 or -1. */
static int random_ids(uint16_t ids[2])
{
	unsigned char b[4];
	for (;;) {
		ssize_t r = getrandom(b, sizeof b, 0);
		if (r == (ssize_t)sizeof b)
			break;
		if (r >= 0 || errno != EINTR)
			return -1;
	}
	ids[0] = (uint16_t)rd16(b);
	ids[1] = (uint16_t)rd16(b + 2);
	if (ids[1] == ids[0])
		ids[1] ^= 1;
	return 0;
}

/*
 * Asks the servers of conf for the A and AAAA records of name: `attempts` rounds, each server in
 * turn, `timeout_ms` a try, never past deadline. Returns the address count (> 0; they are in
 * lk->q[i].out), or -ERR_NOT_FOUND, -ERR_TIMEOUT, -ERR_UPSTREAM_UNAVAILABLE, -ERR_IO.
 */
static int lookup_name(struct lookup *lk, const struct dns_conf *conf, const char *name,
                       int64_t deadline, const char **why)
{
	static const uint16_t types[2] = {DNS_TYPE_A, DNS_TYPE_AAAA};
	uint16_t ids[2];
	if (random_ids(ids) != 0) {
		*why = "no randomness for DNS query ids";
		return -ERR_IO;
	}
	lk->name = name;
	for (int i = 0; i < 2; i++) {
		struct query *q = &lk->q[i];
		q->id = ids[i];
		q->qtype = types[i];
		q->len = dns_build_query(q->buf, sizeof q->buf, ids[i], name, types[i]);
		q->asked = q->done = q->result = 0;
		if (q->len < 0) {
			*why = "invalid host name";
			return -ERR_FIELD_INVALID;
		}
	}
	const char *fail = "no name server answered";
	int attempts = conf->attempts < 1 ? 1 : conf->attempts;
	int nservers = conf->nservers > DNS_MAX_SERVERS ? DNS_MAX_SERVERS : conf->nservers;
	int64_t timeout = conf->timeout_ms < 1 ? 1 : conf->timeout_ms;
	for (int t = 0; t < attempts && !finished(lk); t++) {
		for (int s = 0; s < nservers && !finished(lk); s++) {
			int64_t now = sock_now_ms();
			if (now >= deadline)
				break;
			int64_t until = now + timeout < deadline ? now + timeout : deadline;
			try_server(lk, &conf->servers[s], until);
			if (lk->fail)
				fail = lk->fail;
		}
	}
	int n = 0;
	for (int i = 0; i < 2; i++)
		if (lk->q[i].done && lk->q[i].result > 0)
			n += lk->q[i].result;
	if (n > 0) {
		*why = "DNS";
		return n;
	}
	if (nxdomain(lk) || (lk->q[0].done && lk->q[1].done)) {
		*why = nxdomain(lk) ? "no such host (NXDOMAIN)"
		                    : "the host has no IPv4 or IPv6 address";
		return -ERR_NOT_FOUND;
	}
	if (sock_now_ms() >= deadline) {
		*why = "DNS lookup timed out";
		return -ERR_TIMEOUT;
	}
	*why = fail;
	return -ERR_UPSTREAM_UNAVAILABLE;
}

/* ---- the lookup order ------------------------------------------------------------------------ */

/* out[0..) = a4 then a6, at most min(max, DNS_MAX_ADDRS). Returns the count. */
static int merge(struct dns_addr *out, int max, const struct dns_addr *a4, int n4,
                 const struct dns_addr *a6, int n6)
{
	int lim = max < DNS_MAX_ADDRS ? max : DNS_MAX_ADDRS, n = 0;
	for (int i = 0; i < n4 && n < lim; i++)
		out[n++] = a4[i];
	for (int i = 0; i < n6 && n < lim; i++)
		out[n++] = a6[i];
	return n;
}

/* "localhost" or a name under ".localhost" (RFC 6761 6.3), case-insensitive. */
static int is_localhost(const char *name, size_t n)
{
	static const char dot_lh[] = ".localhost";
	size_t k = sizeof dot_lh - 1;
	return text_eq(name, n, dot_lh + 1, k - 1) ||
	       (n > k && text_eq(name + n - k, k, dot_lh, k));
}

/* see dns.h */
int dns_resolve_with(const struct dns_conf *conf, const char *hosts_path, const char *host,
                     uint16_t port, struct dns_addr *out, int max, int64_t deadline_ms,
                     const char **why)
{
	unsigned char msg[DNS_MSG_MAX]; /* file lines, then answers */
	struct dns_addr a4[DNS_MAX_ADDRS], a6[DNS_MAX_ADDRS];
	int n4 = 0, n6 = 0;
	if (max < 1) {
		*why = "no room for an address";
		return -ERR_OVERFLOW;
	}
	size_t hl = strnlen(host, DNS_NAME_MAX + 2);
	if (parse_addr(host, hl, port, &out[0]) == 0) {
		*why = "address literal";
		return 1;
	}
	int nl = name_text_len(host);
	if (nl < 0) {
		*why = "invalid host name";
		return -ERR_FIELD_INVALID;
	}

	struct hosts_ctx h = {host, (size_t)nl, port,          a4,           a6,
	                      &n4,  &n6,        DNS_MAX_ADDRS, DNS_MAX_ADDRS};
	if (hosts_path)
		file_lines(hosts_path, (char *)msg, DNS_LINE_MAX, hosts_line, &h);
	if (n4 + n6 > 0) {
		*why = "hosts file";
		return merge(out, max, a4, n4, a6, n6);
	}
	if (is_localhost(host, (size_t)nl)) {
		static const unsigned char lo4[4] = {127, 0, 0, 1};
		addr_set(&a4[0], AF_INET, lo4, port);
		addr_set(&a6[0], AF_INET6, &in6addr_loopback, port);
		*why = "localhost";
		return merge(out, max, a4, 1, a6, 1);
	}

	struct dns_conf fc;
	if (conf == NULL) {
		conf_init(&fc);
		file_lines(RESOLV_PATH, (char *)msg, DNS_LINE_MAX, conf_line, &fc);
		conf_finish(&fc);
		conf = &fc;
	}
	struct lookup lk;
	memset(&lk, 0, sizeof lk);
	lk.port = port;
	lk.msg = msg;
	lk.q[0].out = a4;
	lk.q[1].out = a6;

	/* the search list, as glibc: see dns.h */
	int dots = 0;
	for (int i = 0; i < nl; i++)
		dots += host[i] == '.';
	int r = -ERR_NOT_FOUND;
	if (host[nl] != '.' && dots < conf->ndots) {
		char cand[DNS_NAME_MAX + 1];
		int nsearch = conf->nsearch > DNS_MAX_SEARCH ? DNS_MAX_SEARCH : conf->nsearch;
		for (int s = 0; s < nsearch && r == -ERR_NOT_FOUND; s++) {
			size_t sl = strnlen(conf->search[s], DNS_NAME_MAX + 1);
			if ((size_t)nl + 1 + sl > DNS_NAME_MAX)
				continue;
			memcpy(cand, host, (size_t)nl);
			cand[nl] = '.';
			memcpy(cand + nl + 1, conf->search[s], sl);
			cand[(size_t)nl + 1 + sl] = 0;
			if (dns_name_valid(cand))
				r = lookup_name(&lk, conf, cand, deadline_ms, why);
		}
	}
	if (r == -ERR_NOT_FOUND)
		r = lookup_name(&lk, conf, host, deadline_ms, why);
	if (r < 0)
		return r;
	n4 = lk.q[0].done && lk.q[0].result > 0 ? lk.q[0].result : 0;
	n6 = lk.q[1].done && lk.q[1].result > 0 ? lk.q[1].result : 0;
	return merge(out, max, a4, n4, a6, n6);
}

/* see dns.h */
int dns_resolve(const char *host, uint16_t port, struct dns_addr *out, int max, int64_t deadline_ms,
                const char **why)
{
	return dns_resolve_with(NULL, HOSTS_PATH, host, port, out, max, deadline_ms, why);
}
