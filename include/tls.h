/*
 * tls.h: the TLS 1.2 client (BearSSL) the ACS transport talks through, on a socket the caller
 * has connected. One profile: TLS 1.2 only; ECDHE with ECDSA or RSA certificates; AES-128-GCM
 * and AES-256-GCM; SHA-256/SHA-384; i31/m31 big-integer and curve code. That covers Azure Front
 * Door (ECDHE-RSA-AES-GCM: https://learn.microsoft.com/azure/frontdoor/end-to-end-tls, section
 * "Supported cipher suites") and nothing we do not use.
 *
 * Trust: the compiled-in anchors (the PEM files in certs/ through tools/ta2c, certs/README.md),
 * plus optional extra anchors parsed once at start-up from a PEM file (NOTIFY_CA_FILE: tests,
 * private endpoints). The server certificate is checked against the SNI name (DNS names only:
 * BearSSL does not match IP-address SANs) and against the system clock (time()).
 *
 * I/O: the engine is driven here with poll() on the non-blocking socket, so every call holds
 * its deadline. Deadlines are absolute CLOCK_MONOTONIC milliseconds (log_now_ns() / 1000000).
 *
 * Errors: functions return -ERR_IO (socket failed, peer vanished), -ERR_TIMEOUT (deadline
 * passed) or, for a TLS failure (handshake, certificate, alert, bad record), -ERR_INTERNAL with
 * the BearSSL code in c->last_br_err; tls_error_text() explains it. Errors are sticky: after one,
 * every call returns it until the next tls_connect.
 *
 * Memory: all state lives in caller structs; nothing here allocates. A struct tls_client is
 * about 40 KB: keep it in per-worker storage, never on a (128 KiB musl) thread stack.
 */
#ifndef NOTIFY_TLS_H
#define NOTIFY_TLS_H

#include <stddef.h>
#include <stdint.h>

#include <bearssl.h>

/* I/O buffer: BR_SSL_BUFSIZE_BIDI (33,178 bytes), one full-size record each way. MONO (16,709)
 * is half-duplex: nothing can be sent while an incoming record sits unread in the buffer. A server
 * that answers early (401/413 before the whole body is written) or sends close_notify mid-write
 * would then stall tls_write_all, which has nowhere to put incoming data. BIDI lets the write
 * finish while that record waits, for 16 KB more per worker. Records must be full-size (16 KiB):
 * a client cannot make the server send smaller ones (max_fragment_length is optional). */
#define TLS_IOBUF_SIZE BR_SSL_BUFSIZE_BIDI

/* Longest server name: BearSSL keeps the SNI name in a 256-byte array with its NUL (and DNS
 * names stop at 253 characters anyway). */
#define TLS_SERVER_NAME_MAX 255

/* Compiled-in anchors at most: certs/ holds 5 roots (certs/README.md); room to add a few.
 * tls_anchors_init fails when the generated set is larger. */
#define TLS_BUILTIN_MAX 16

/* Extra anchors from NOTIFY_CA_FILE at most: a private endpoint's root or a test CA, plus a few
 * during a rollover. */
#define TLS_EXTRA_CA_COUNT 8

/* Arena bytes for the DNs and keys of the extra anchors: 1 KiB each. The largest key BearSSL
 * takes is RSA-4096 (512-byte modulus + exponent); CA subject DNs are typically 50-300 bytes. */
#define TLS_EXTRA_CA_MAX (TLS_EXTRA_CA_COUNT * 1024)

/* Bytes of fresh OS entropy (getrandom) mixed into the engine's DRBG before each handshake:
 * 256 bits, the DRBG's security level. */
#define TLS_ENTROPY_BYTES 32

/* How long tls_close waits to hand our close_notify to the kernel. It is a courtesy to the
 * server; a peer that stopped reading must not hold a worker. */
#define TLS_CLOSE_NOTIFY_MS 100

/*
 * The compiled-in anchors, generated at build time by tools/ta2c from the PEM files in certs/
 * (into build/<variant>/gen/ta.c). Read-only, static storage.
 */
extern const br_x509_trust_anchor tls_builtin_anchors[];
extern const size_t tls_builtin_anchors_num;

/* The anchor set every client of the process checks servers against. Filled at start-up (init,
 * then at most a few load_pem calls) and read-only afterwards, so workers share it. */
struct tls_anchors {
	/* The set handed to the X.509 engine: the compiled-in anchors, then the extra ones. */
	br_x509_trust_anchor ta[TLS_BUILTIN_MAX + TLS_EXTRA_CA_COUNT];
	size_t num;       /* anchors in ta */
	size_t num_extra; /* of which loaded from PEM */
	char *mem;        /* caller's arena for extra DNs and keys; kept alive as long as a */
	size_t cap;       /* size of mem */
	size_t used;      /* bytes of mem in use */
};

/*
 * Sets a to the compiled-in anchors. mem[0..cap) is the arena for extra anchors
 * (TLS_EXTRA_CA_MAX bytes is enough for TLS_EXTRA_CA_COUNT anchors); mem may be NULL when cap is
 * 0 and no PEM is loaded. Returns 0, or -ERR_OVERFLOW when more than TLS_BUILTIN_MAX anchors were
 * compiled in.
 */
int tls_anchors_init(struct tls_anchors *a, char *mem, size_t cap);

/*
 * Adds every CERTIFICATE in the PEM text pem[0..len) (the caller read the file) to a, as an
 * anchor with the certificate's subject DN and public key (flagged CA when basicConstraints says
 * so, as `brssl ta` does). Other PEM objects (keys, CRLs) are skipped. All or nothing: on error a
 * is unchanged. Returns the number of anchors added (>= 1), -ERR_FIELD_INVALID (malformed PEM or
 * certificate, unsupported key, no certificate) or -ERR_OVERFLOW (more than TLS_EXTRA_CA_COUNT
 * anchors, or the arena is full), with one line in err[0..errcap) naming the certificate and the
 * reason. errcap MUST be > 0. Call before any tls_client_init that uses a.
 */
int tls_anchors_load_pem(struct tls_anchors *a, const char *pem, size_t len, char *err,
                         size_t errcap);

/* One connection's state, reused connection after connection by one worker. */
struct tls_client {
	br_ssl_client_context cc;
	br_x509_minimal_context xc;
	unsigned char iobuf[TLS_IOBUF_SIZE];
	br_ssl_session_parameters session;          /* last full or resumed session (has the
	                                               master secret: secret) */
	char session_host[TLS_SERVER_NAME_MAX + 1]; /* server of `session`; "" when none */
	const struct tls_anchors *anchors;
	int fd;          /* the socket of the current connection; the caller owns it */
	int resumed;     /* 1 when the last handshake resumed `session` */
	int err;         /* sticky: 0 or -ERR_IO / -ERR_TIMEOUT / -ERR_INTERNAL */
	int last_br_err; /* BearSSL code of the failure: BR_ERR_* (BR_ERR_IO for socket errors and
	                    timeouts), 0 when none */
};

/* Once per worker: sets up the profile and the anchors. a is kept (not copied): it MUST outlive
 * c and be fully loaded. */
void tls_client_init(struct tls_client *c, const struct tls_anchors *a);

/*
 * Handshakes on fd, a connected stream socket (put into O_NONBLOCK mode and left so), sending SNI
 * server_name (a DNS name, 1..TLS_SERVER_NAME_MAX characters; an empty name is refused since
 * BearSSL would then skip the name check) and checking the certificate against it. When the
 * previous handshake of c was with the same server_name, offers to resume that session.
 * Returns 0 when the handshake completed, or -ERR_IO / -ERR_TIMEOUT / -ERR_INTERNAL (see above;
 * the saved session is then forgotten). No application byte is sent before success.
 */
int tls_connect(struct tls_client *c, int fd, const char *server_name, int64_t deadline_ms);

/* Sends p[0..n) and flushes it to the socket. Returns n, or a negative -ERR_x (sticky). */
long tls_write_all(struct tls_client *c, const void *p, size_t n, int64_t deadline_ms);

/*
 * Reads up to n (> 0) bytes of application data into p, waiting until at least one is there.
 * Returns the count, 0 when the server closed with close_notify, or a negative -ERR_x (sticky).
 * A server that closes TCP without close_notify gives -ERR_IO (a truncation cannot be told
 * apart); frame responses by Content-Length or chunked encoding, not by end of stream.
 */
long tls_read(struct tls_client *c, void *p, size_t n, int64_t deadline_ms);

/*
 * Ends the connection: sends close_notify when the connection is healthy, waiting at most
 * TLS_CLOSE_NOTIFY_MS, and does not wait for the server's. Does not close fd. Afterwards calls
 * other than tls_connect fail (-ERR_IO, or the error that came first). The session stays saved
 * for resumption.
 */
void tls_close(struct tls_client *c);

/* 1 when decrypted application data waits unread in the engine (bytes the server sent after
 * the answer we read: a kept-alive connection that has them cannot be reused). */
int tls_pending(const struct tls_client *c);

/* 1 when the last tls_connect resumed the previous session (no certificate check: the server
 * proved it holds the session's master secret), else 0. */
int tls_resumed(const struct tls_client *c);

/* A short English reason for a BearSSL error code (BR_ERR_*, BR_ERR_X509_*, and received or sent
 * fatal alerts BR_ERR_RECV_FATAL_ALERT + n / BR_ERR_SEND_FATAL_ALERT + n). Never NULL. */
const char *tls_error_text(int br_err);

#endif
