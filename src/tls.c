/*
 * tls.c: the TLS 1.2 client of tls.h: the anchor set (compiled-in plus PEM, parsed into caller
 * memory), the BearSSL profile, and a run loop that moves records between the engine and a
 * non-blocking socket under a deadline. It does not resolve names, connect or close sockets, or
 * frame HTTP; it never allocates.
 */
#include "tls.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <time.h>

#include "buf.h"
#include "err.h"
#include "sock.h"

/* Cipher suites offered, in preference order: AES-128-GCM first (faster, and ample), ECDSA
 * before RSA for servers with both certificate kinds. AFD offers the two RSA ones. */
static const uint16_t suites[] = {
    BR_TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
    BR_TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
    BR_TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
    BR_TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
};

/*
 * Elliptic curves: P-256 with BearSSL's fast m31 code (ECDHE and most ECDSA certificates), P-384
 * and P-521 with the generic i31 code (the ECDSA roots and intermediates of the Azure chains are
 * P-384). br_ec_all_m31 would add Curve25519 (3.7 KB of code) that nothing here needs: P-256 is
 * offered for ECDHE and every TLS 1.2 server supports it.
 */
static const br_ec_impl *curve_impl(int curve)
{
	return curve == BR_EC_secp256r1 ? &br_ec_p256_m31 : &br_ec_prime_i31;
}

static const unsigned char *ec_generator(int curve, size_t *len)
{
	return curve_impl(curve)->generator(curve, len);
}

static const unsigned char *ec_order(int curve, size_t *len)
{
	return curve_impl(curve)->order(curve, len);
}

static size_t ec_xoff(int curve, size_t *len)
{
	return curve_impl(curve)->xoff(curve, len);
}

static uint32_t ec_mul(unsigned char *g, size_t glen, const unsigned char *k, size_t klen,
                       int curve)
{
	return curve_impl(curve)->mul(g, glen, k, klen, curve);
}

static size_t ec_mulgen(unsigned char *r, const unsigned char *x, size_t xlen, int curve)
{
	return curve_impl(curve)->mulgen(r, x, xlen, curve);
}

static uint32_t ec_muladd(unsigned char *a, const unsigned char *b, size_t len,
                          const unsigned char *x, size_t xlen, const unsigned char *y, size_t ylen,
                          int curve)
{
	return curve_impl(curve)->muladd(a, b, len, x, xlen, y, ylen, curve);
}

static const br_ec_impl ec_nist = {
    (1u << BR_EC_secp256r1) | (1u << BR_EC_secp384r1) | (1u << BR_EC_secp521r1),
    ec_generator,
    ec_order,
    ec_xoff,
    ec_mul,
    ec_mulgen,
    ec_muladd,
};

/* ---- anchors -------------------------------------------------------------------------------- */

/* see tls.h */
int tls_anchors_init(struct tls_anchors *a, char *mem, size_t cap)
{
	memset(a, 0, sizeof *a);
	a->mem = mem;
	a->cap = mem ? cap : 0;
	if (tls_builtin_anchors_num > TLS_BUILTIN_MAX)
		return -ERR_OVERFLOW;
	for (size_t i = 0; i < tls_builtin_anchors_num; i++)
		a->ta[i] = tls_builtin_anchors[i];
	a->num = tls_builtin_anchors_num;
	return 0;
}

/* State of one tls_anchors_load_pem call. Certificates stream from the PEM decoder straight
 * into the X.509 decoder, whose DN callback writes into the arena: no DER copy is kept. */
struct loader {
	struct tls_anchors *a;
	br_x509_decoder_context dc;
	int in_cert;     /* inside a CERTIFICATE object */
	int full;        /* the arena overflowed */
	size_t count;    /* anchors added */
	const char *why; /* the reason of a failure */
};

/* Copies n bytes to the arena; returns where they went, or NULL (and sets full). */
static unsigned char *arena_put(struct loader *l, const void *p, size_t n)
{
	struct tls_anchors *a = l->a;
	if (n > a->cap - a->used) {
		l->full = 1;
		return NULL;
	}
	unsigned char *dst = (unsigned char *)a->mem + a->used;
	if (n > 0)
		memcpy(dst, p, n);
	a->used += n;
	return dst;
}

static void dn_sink(void *ctx, const void *p, size_t n)
{
	arena_put(ctx, p, n);
}

/* The PEM decoder's destination: X.509 decoder input. */
static void der_sink(void *ctx, const void *p, size_t n)
{
	br_x509_decoder_push(ctx, p, n);
}

static void begin_cert(struct loader *l, br_pem_decoder_context *pc)
{
	const char *name = br_pem_decoder_name(pc);
	l->in_cert = strcmp(name, "CERTIFICATE") == 0 || strcmp(name, "X509 CERTIFICATE") == 0;
	if (!l->in_cert) {
		br_pem_decoder_setdest(pc, NULL, NULL);
		return;
	}
	br_x509_decoder_init(&l->dc, dn_sink, l);
	br_pem_decoder_setdest(pc, der_sink, &l->dc);
}

/* Turns the certificate just decoded into the next anchor. Its DN is already in the arena,
 * from dn_start on; the key is copied after it. Returns 0 or -ERR_x with l->why set. */
static int end_cert(struct loader *l, size_t dn_start)
{
	struct tls_anchors *a = l->a;
	const br_x509_pkey *pk = br_x509_decoder_get_pkey(&l->dc);
	if (!pk) {
		l->why = tls_error_text(br_x509_decoder_last_error(&l->dc));
		return -ERR_FIELD_INVALID;
	}
	if (a->num_extra == TLS_EXTRA_CA_COUNT) {
		l->why = "more than TLS_EXTRA_CA_COUNT certificates";
		return -ERR_OVERFLOW;
	}
	br_x509_trust_anchor *ta = &a->ta[a->num];
	memset(ta, 0, sizeof *ta);
	ta->dn.data = (unsigned char *)a->mem + dn_start;
	ta->dn.len = a->used - dn_start;
	ta->flags = br_x509_decoder_isCA(&l->dc) ? BR_X509_TA_CA : 0;
	ta->pkey.key_type = pk->key_type;
	if (pk->key_type == BR_KEYTYPE_RSA) {
		ta->pkey.key.rsa.n = arena_put(l, pk->key.rsa.n, pk->key.rsa.nlen);
		ta->pkey.key.rsa.nlen = pk->key.rsa.nlen;
		ta->pkey.key.rsa.e = arena_put(l, pk->key.rsa.e, pk->key.rsa.elen);
		ta->pkey.key.rsa.elen = pk->key.rsa.elen;
	} else if (pk->key_type == BR_KEYTYPE_EC) {
		ta->pkey.key.ec.curve = pk->key.ec.curve;
		ta->pkey.key.ec.q = arena_put(l, pk->key.ec.q, pk->key.ec.qlen);
		ta->pkey.key.ec.qlen = pk->key.ec.qlen;
	} else {
		l->why = "unsupported public key type";
		return -ERR_FIELD_INVALID;
	}
	if (l->full) {
		l->why = "DNs and keys need more than the arena (TLS_EXTRA_CA_MAX bytes)";
		return -ERR_OVERFLOW;
	}
	a->num++;
	a->num_extra++;
	l->count++;
	return 0;
}

/* Handles the event the PEM decoder raised, if any. Returns 0 or -ERR_x with l->why set. */
static int pem_event(struct loader *l, br_pem_decoder_context *pc, size_t *dn_start)
{
	switch (br_pem_decoder_event(pc)) {
	case BR_PEM_BEGIN_OBJ:
		*dn_start = l->a->used;
		begin_cert(l, pc);
		return 0;
	case BR_PEM_END_OBJ:
		if (l->in_cert) {
			int r = end_cert(l, *dn_start);
			if (r < 0)
				return r;
		}
		l->in_cert = 0;
		return 0;
	case BR_PEM_ERROR:
		l->why = "malformed PEM";
		return -ERR_FIELD_INVALID;
	}
	return 0;
}

/* Runs the PEM text through the decoders. Returns 0 or -ERR_x with l->why set; l->in_cert
 * stays 1 when the failure concerns certificate l->count + 1. */
static int load_objects(struct loader *l, const char *pem, size_t len)
{
	/* The decoder ends an object only at the newline after "-----END ...-----"; one more
	 * newline after the text also ends a last line that has none. */
	static const char final_nl[] = "\n";
	br_pem_decoder_context pc;
	size_t dn_start = 0;
	br_pem_decoder_init(&pc);
	for (int part = 0; part < 2; part++) {
		const char *p = part ? final_nl : pem;
		size_t n = part ? 1 : len;
		while (n > 0) {
			size_t k = br_pem_decoder_push(&pc, p, n);
			p += k;
			n -= k;
			int r = pem_event(l, &pc, &dn_start);
			if (r < 0)
				return r;
		}
	}
	if (l->in_cert) {
		l->why = "no END line";
		return -ERR_FIELD_INVALID;
	}
	if (l->count == 0) {
		l->why = "no CERTIFICATE in the PEM text";
		return -ERR_FIELD_INVALID;
	}
	return 0;
}

/* see tls.h */
int tls_anchors_load_pem(struct tls_anchors *a, const char *pem, size_t len, char *err,
                         size_t errcap)
{
	struct loader l = {.a = a};
	size_t num = a->num, num_extra = a->num_extra, used = a->used;
	struct buf e;

	buf_init(&e, err, errcap);
	int r = load_objects(&l, pem, len);
	if (r < 0) {
		a->num = num;
		a->num_extra = num_extra;
		a->used = used;
		if (l.in_cert) {
			buf_puts(&e, "certificate ");
			buf_put_u64(&e, l.count + 1);
			buf_puts(&e, ": ");
		}
		buf_puts(&e, l.why);
	}
	buf_cstr(&e);
	return r < 0 ? r : (int)l.count;
}

/* ---- client --------------------------------------------------------------------------------- */

/* see tls.h */
void tls_client_init(struct tls_client *c, const struct tls_anchors *a)
{
	br_ssl_engine_context *eng = &c->cc.eng;

	br_ssl_client_zero(&c->cc);
	br_ssl_engine_set_versions(eng, BR_TLS12, BR_TLS12);
	br_ssl_engine_set_suites(eng, suites, sizeof suites / sizeof suites[0]);

	/* Certificate chain: SHA-256 hashes DNs; chains are signed with SHA-256 or SHA-384
	 * (Azure's issuing CAs: RSA-4096 with SHA-384). */
	br_x509_minimal_init(&c->xc, &br_sha256_vtable, a->ta, a->num);
	br_x509_minimal_set_hash(&c->xc, br_sha256_ID, &br_sha256_vtable);
	br_x509_minimal_set_hash(&c->xc, br_sha384_ID, &br_sha384_vtable);
	br_x509_minimal_set_rsa(&c->xc, br_rsa_i31_pkcs1_vrfy);
	br_x509_minimal_set_ecdsa(&c->xc, &ec_nist, br_ecdsa_i31_vrfy_asn1);
	br_ssl_engine_set_x509(eng, &c->xc.vtable);

	/* Handshake: hashes and PRFs of the two suite families, ECDHE, and the verifiers of the
	 * server's ServerKeyExchange signature. */
	br_ssl_engine_set_hash(eng, br_sha256_ID, &br_sha256_vtable);
	br_ssl_engine_set_hash(eng, br_sha384_ID, &br_sha384_vtable);
	br_ssl_engine_set_prf_sha256(eng, br_tls12_sha256_prf);
	br_ssl_engine_set_prf_sha384(eng, br_tls12_sha384_prf);
	br_ssl_engine_set_ec(eng, &ec_nist);
	br_ssl_engine_set_rsavrfy(eng, br_rsa_i31_pkcs1_vrfy);
	br_ssl_engine_set_ecdsa(eng, br_ecdsa_i31_vrfy_asn1);
	/* Records: AES-NI + PCLMUL when the CPU has them, constant-time ct64 code otherwise. */
	br_ssl_engine_set_default_aes_gcm(eng);

	br_ssl_engine_set_buffer(eng, c->iobuf, sizeof c->iobuf, 1);
	c->anchors = a;
	c->session_host[0] = 0;
	c->fd = -1;
	c->resumed = 0;
	c->err = -ERR_IO; /* no connection yet */
	c->last_br_err = 0;
}

/* Records the first failure; the sticky c->err then stops every call before it touches the
 * engine again (BearSSL has no public call to fail an engine; tls_connect resets it). Returns
 * the sticky error. */
static int fail(struct tls_client *c, int err, int br_err)
{
	if (c->err == 0) {
		c->err = err;
		c->last_br_err = br_err;
	}
	return c->err;
}

/* Waits until fd is ready for `events` (sock_wait) or the deadline passes. Returns 0 or the
 * sticky error. */
static int wait_fd(struct tls_client *c, short events, int64_t deadline)
{
	int r = sock_wait(c->fd, events, deadline);
	return r == 0 ? 0 : fail(c, r, BR_ERR_IO);
}

/* Hands engine output to the socket. Returns 0 or the sticky error. */
static int send_records(struct tls_client *c, int64_t deadline)
{
	size_t len;
	unsigned char *p = br_ssl_engine_sendrec_buf(&c->cc.eng, &len);
	long n = sock_send(c->fd, p, len);
	if (n > 0) {
		br_ssl_engine_sendrec_ack(&c->cc.eng, (size_t)n);
		return 0;
	}
	if (n == -ERR_PARTIAL)
		return wait_fd(c, POLLOUT, deadline);
	return fail(c, -ERR_IO, BR_ERR_IO);
}

/* Feeds socket input to the engine. End of stream is an I/O error here: a clean close arrives
 * as close_notify, which the engine reports as a closed state. Returns 0 or the sticky error. */
static int recv_records(struct tls_client *c, int64_t deadline)
{
	size_t len;
	unsigned char *p = br_ssl_engine_recvrec_buf(&c->cc.eng, &len);
	long n = sock_recv(c->fd, p, len);
	if (n > 0) {
		br_ssl_engine_recvrec_ack(&c->cc.eng, (size_t)n);
		return 0;
	}
	if (n == -ERR_PARTIAL)
		return wait_fd(c, POLLIN, deadline);
	return fail(c, -ERR_IO, BR_ERR_IO);
}

/*
 * Runs the engine until one of the `target` states (BR_SSL_SENDAPP, BR_SSL_RECVAPP) is
 * available, sending pending records first since the server may be waiting for them.
 * Returns 1 when it is, 0 when the engine closed cleanly (close_notify), or the sticky error.
 */
static int run_until(struct tls_client *c, unsigned target, int64_t deadline)
{
	br_ssl_engine_context *eng = &c->cc.eng;
	for (;;) {
		if (c->err)
			return c->err;
		unsigned st = br_ssl_engine_current_state(eng);
		int r = 0;
		if (st & BR_SSL_CLOSED) {
			int e = br_ssl_engine_last_error(eng);
			return e == BR_ERR_OK ? 0 : fail(c, -ERR_INTERNAL, e);
		}
		if (st & BR_SSL_SENDREC)
			r = send_records(c, deadline);
		else if (st & target)
			return 1;
		else if (st & BR_SSL_RECVREC)
			r = recv_records(c, deadline);
		else if (st & BR_SSL_RECVAPP)
			/* Application data waits while we want to send: cannot happen with a BIDI
			 * buffer (sending stays possible), so the engine is misused. */
			r = fail(c, -ERR_INTERNAL, BR_ERR_BAD_STATE);
		else {
			/* Only SENDAPP, and we want to read: push out buffered data first. If
			 * nothing changes the engine would spin: treat it as misuse. */
			br_ssl_engine_flush(eng, 0);
			if (br_ssl_engine_current_state(eng) == st)
				r = fail(c, -ERR_INTERNAL, BR_ERR_BAD_STATE);
		}
		if (r < 0)
			return r;
	}
}

/* Mixes TLS_ENTROPY_BYTES from the kernel into the engine's DRBG. Containers may lack
 * /dev/urandom and CPUs RDRAND; getrandom() needs neither. On failure BearSSL falls back to its
 * own seeding and, failing that, refuses to reset (BR_ERR_NO_RANDOM). */
static void add_entropy(struct tls_client *c)
{
	unsigned char seed[TLS_ENTROPY_BYTES];
	ssize_t n;
	do
		n = getrandom(seed, sizeof seed, 0);
	while (n < 0 && errno == EINTR);
	if (n == (ssize_t)sizeof seed)
		br_ssl_engine_inject_entropy(&c->cc.eng, seed, sizeof seed);
	memset(seed, 0, sizeof seed);
}

/* After a completed handshake: notes whether the offered session was resumed (the server
 * echoed its non-empty id) and saves the session for the next connection to `name`. */
static void save_session(struct tls_client *c, const char *name, size_t len, int offered)
{
	br_ssl_session_parameters now;
	br_ssl_engine_get_session_parameters(&c->cc.eng, &now);
	c->resumed = offered && now.session_id_len == c->session.session_id_len &&
	             memcmp(now.session_id, c->session.session_id, now.session_id_len) == 0;
	c->session = now;
	memcpy(c->session_host, name, len + 1); /* len <= TLS_SERVER_NAME_MAX */
	memset(&now, 0, sizeof now);
}

static void forget_session(struct tls_client *c)
{
	memset(&c->session, 0, sizeof c->session);
	c->session_host[0] = 0;
}

/* see tls.h */
int tls_connect(struct tls_client *c, int fd, const char *server_name, int64_t deadline_ms)
{
	size_t len = strlen(server_name);
	c->fd = fd;
	c->err = 0;
	c->last_br_err = 0;
	c->resumed = 0;
	if (len == 0 || len > TLS_SERVER_NAME_MAX)
		return fail(c, -ERR_INTERNAL, BR_ERR_BAD_PARAM);
	int fl = fcntl(fd, F_GETFL);
	if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0)
		return fail(c, -ERR_IO, BR_ERR_IO);

	int offer = c->session.session_id_len > 0 && strcmp(c->session_host, server_name) == 0;
	if (offer)
		br_ssl_engine_set_session_parameters(&c->cc.eng, &c->session);
	add_entropy(c);
	if (!br_ssl_client_reset(&c->cc, server_name, offer)) {
		forget_session(c);
		return fail(c, -ERR_INTERNAL, br_ssl_engine_last_error(&c->cc.eng));
	}
	int r = run_until(c, BR_SSL_SENDAPP, deadline_ms);
	if (r <= 0) {
		forget_session(c);
		return r < 0 ? r : fail(c, -ERR_IO, BR_ERR_IO); /* close_notify mid-handshake */
	}
	save_session(c, server_name, len, offer);
	return 0;
}

/* see tls.h */
long tls_write_all(struct tls_client *c, const void *p, size_t n, int64_t deadline_ms)
{
	br_ssl_engine_context *eng = &c->cc.eng;
	const unsigned char *src = p;
	size_t left = n;
	for (;;) {
		int r = run_until(c, BR_SSL_SENDAPP, deadline_ms);
		if (r <= 0)
			return r < 0 ? r : fail(c, -ERR_IO, BR_ERR_IO); /* closed: cannot send */
		if (left == 0)
			return (long)n; /* all handed over and, after the flush, sent */
		size_t room;
		unsigned char *dst = br_ssl_engine_sendapp_buf(eng, &room);
		size_t k = left < room ? left : room;
		memcpy(dst, src, k);
		br_ssl_engine_sendapp_ack(eng, k);
		src += k;
		left -= k;
		if (left == 0)
			br_ssl_engine_flush(eng, 0);
	}
}

/* see tls.h */
long tls_read(struct tls_client *c, void *p, size_t n, int64_t deadline_ms)
{
	int r = run_until(c, BR_SSL_RECVAPP, deadline_ms);
	if (r <= 0)
		return r;
	size_t len;
	unsigned char *src = br_ssl_engine_recvapp_buf(&c->cc.eng, &len);
	if (len > n)
		len = n;
	memcpy(p, src, len);
	br_ssl_engine_recvapp_ack(&c->cc.eng, len);
	return (long)len;
}

/* see tls.h */
void tls_close(struct tls_client *c)
{
	br_ssl_engine_context *eng = &c->cc.eng;
	if (c->err == 0) {
		int64_t deadline = sock_now_ms() + TLS_CLOSE_NOTIFY_MS;
		br_ssl_engine_close(eng);
		while (c->err == 0 && (br_ssl_engine_current_state(eng) & BR_SSL_SENDREC))
			send_records(c, deadline);
	}
	fail(c, -ERR_IO, BR_ERR_OK);
}

/* see tls.h */
int tls_pending(const struct tls_client *c)
{
	return c->err == 0 && (br_ssl_engine_current_state(&c->cc.eng) & BR_SSL_RECVAPP) != 0;
}

/* see tls.h */
int tls_resumed(const struct tls_client *c)
{
	return c->resumed;
}

/* ---- error texts ---------------------------------------------------------------------------- */

/* Reasons for fatal alerts the server sent (RFC 5246 7.2, RFC 6066 3), the ones a client meets. */
static const char *alert_text(int alert)
{
	switch (alert) {
	case 10:
		return "server alert: unexpected message";
	case 20:
		return "server alert: bad record MAC";
	case 40:
		return "server alert: handshake failure (no common suite, curve or signature "
		       "algorithm)";
	case 42:
	case 43:
	case 44:
	case 45:
	case 46:
	case 48:
		return "server alert: it rejected a certificate";
	case 47:
		return "server alert: illegal parameter";
	case 50:
	case 51:
		return "server alert: decode or decrypt error";
	case 70:
	case 71:
		return "server alert: protocol version or security level refused (TLS 1.2 only "
		       "here)";
	case 80:
		return "server alert: internal error";
	case 112:
		return "server alert: unrecognized name (SNI host unknown to the server)";
	case 116:
		return "server alert: client certificate required";
	}
	return "server sent a fatal alert";
}

/* Reasons for certificate validation errors (bearssl_x509.h). */
static const char *x509_text(int e)
{
	switch (e) {
	case BR_ERR_X509_OK:
		return "certificate chain valid";
	case BR_ERR_X509_EMPTY_CHAIN:
		return "server sent no certificate";
	case BR_ERR_X509_BAD_DN:
		return "certificate: malformed distinguished name";
	case BR_ERR_X509_BAD_TIME:
		return "certificate: malformed validity date";
	case BR_ERR_X509_UNSUPPORTED:
		return "certificate: unsupported algorithm or feature";
	case BR_ERR_X509_LIMIT_EXCEEDED:
		return "certificate: too large, or chain too long";
	case BR_ERR_X509_WRONG_KEY_TYPE:
		return "certificate: key type does not fit its use";
	case BR_ERR_X509_BAD_SIGNATURE:
		return "certificate: signature does not verify";
	case BR_ERR_X509_TIME_UNKNOWN:
		return "certificate: current time unknown";
	case BR_ERR_X509_EXPIRED:
		return "certificate expired or not yet valid";
	case BR_ERR_X509_DN_MISMATCH:
		return "certificate chain: issuer and subject names do not link";
	case BR_ERR_X509_BAD_SERVER_NAME:
		return "certificate does not match the server name";
	case BR_ERR_X509_CRITICAL_EXTENSION:
		return "certificate: unsupported critical extension";
	case BR_ERR_X509_NOT_CA:
		return "certificate chain: an issuer is not a CA";
	case BR_ERR_X509_FORBIDDEN_KEY_USAGE:
		return "certificate: key usage forbids server authentication";
	case BR_ERR_X509_WEAK_PUBLIC_KEY:
		return "certificate: public key too small";
	case BR_ERR_X509_NOT_TRUSTED:
		return "certificate chain does not end at a trusted root";
	}
	if (e >= BR_ERR_X509_INVALID_VALUE && e <= BR_ERR_X509_OVERFLOW)
		return "certificate: malformed DER encoding"; /* bad tag, length, truncation... */
	return "certificate rejected";
}

/* Reasons for the engine's own errors (bearssl_ssl.h). */
static const char *ssl_text(int e)
{
	switch (e) {
	case BR_ERR_OK:
		return "no error";
	case BR_ERR_BAD_PARAM:
		return "invalid parameter (server name empty or too long)";
	case BR_ERR_BAD_STATE:
		return "TLS engine used in the wrong state";
	case BR_ERR_UNSUPPORTED_VERSION:
	case BR_ERR_BAD_VERSION:
		return "server uses a TLS version other than 1.2";
	case BR_ERR_BAD_LENGTH:
	case BR_ERR_TOO_LARGE:
	case BR_ERR_UNKNOWN_TYPE:
		return "malformed or oversized TLS record";
	case BR_ERR_BAD_MAC:
		return "TLS record failed its integrity check";
	case BR_ERR_NO_RANDOM:
		return "no entropy source for the random generator";
	case BR_ERR_UNEXPECTED:
	case BR_ERR_BAD_CCS:
	case BR_ERR_BAD_ALERT:
	case BR_ERR_BAD_HANDSHAKE:
	case BR_ERR_OVERSIZED_ID:
	case BR_ERR_BAD_COMPRESSION:
	case BR_ERR_BAD_FRAGLEN:
	case BR_ERR_EXTRA_EXTENSION:
	case BR_ERR_BAD_SNI:
	case BR_ERR_BAD_HELLO_DONE:
		return "server broke the TLS handshake protocol";
	case BR_ERR_BAD_CIPHER_SUITE:
		return "server chose a cipher suite we did not offer";
	case BR_ERR_BAD_SECRENEG:
		return "secure renegotiation check failed";
	case BR_ERR_LIMIT_EXCEEDED:
		return "server key or parameters exceed our limits";
	case BR_ERR_BAD_FINISHED:
		return "handshake Finished check failed (tampering?)";
	case BR_ERR_RESUME_MISMATCH:
		return "resumed session does not match the one offered";
	case BR_ERR_INVALID_ALGORITHM:
		return "server used an algorithm we did not offer";
	case BR_ERR_BAD_SIGNATURE:
		return "server key exchange signature does not verify";
	case BR_ERR_WRONG_KEY_USAGE:
		return "server certificate key usage forbids this cipher suite";
	case BR_ERR_NO_CLIENT_AUTH:
		return "server requires a client certificate";
	case BR_ERR_IO:
		return "connection failed, closed or timed out";
	}
	return "unknown TLS error";
}

/* see tls.h */
const char *tls_error_text(int br_err)
{
	if (br_err >= BR_ERR_SEND_FATAL_ALERT && br_err < BR_ERR_SEND_FATAL_ALERT + 256)
		return "we sent a fatal alert (TLS failure on our side)";
	if (br_err >= BR_ERR_RECV_FATAL_ALERT && br_err < BR_ERR_RECV_FATAL_ALERT + 256)
		return alert_text(br_err - BR_ERR_RECV_FATAL_ALERT);
	if (br_err >= BR_ERR_X509_OK && br_err <= BR_ERR_X509_NOT_TRUSTED)
		return x509_text(br_err);
	return ssl_text(br_err);
}
