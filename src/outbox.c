/*
 * outbox.c: the outbox of outbox.h. One message is written to ".<id>.tmp", synced, hard-linked
 * to "<id>.eml" (linkat fails when the name exists, which makes a repeated send a no-op), the
 * temporary name removed and the directory synced. Readers skip dot-files.
 *
 * One writer per id at a time is assumed (the idempotency layer serialises an id); a temporary
 * file left by a crashed run is removed and the write retried once.
 */
#include "outbox.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "buf.h"
#include "err.h"
#include "mail.h"

/* Ids are UUIDs in text form: 36 characters of lower-case hex digits and '-' (id.h). */
#define OUTBOX_ID_LEN 36
/* ".<id>.tmp" and "<id>.eml" with their NULs. */
#define TMP_NAME_SIZE (1 + OUTBOX_ID_LEN + 4 + 1)
#define EML_NAME_SIZE (OUTBOX_ID_LEN + 4 + 1)
/* Mode of a message file: the service writes it, a reader (the relay, an operator) reads it. */
#define OUTBOX_FILE_MODE 0644
/* Mode of the outbox directory when outbox_open creates it. */
#define OUTBOX_DIR_MODE 0755
/* The first line of a keyed message: the SHA-256 of its request body, in hex. */
static const char digest_prefix[] = "X-Notify-Request-Digest: sha256=";
#define DIGEST_BYTES 32 /* SHA-256 */
#define DIGEST_HEX   (2 * DIGEST_BYTES)
#define DIGEST_LINE  (sizeof digest_prefix - 1 + DIGEST_HEX + 2)

/* 1 when id is OUTBOX_ID_LEN characters of [0-9a-f-]: no path can hide in it. */
static int id_valid(const char *id)
{
	size_t n = 0;
	for (; id[n] != '\0'; n++) {
		char c = id[n];
		if (n >= OUTBOX_ID_LEN ||
		    !((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || c == '-'))
			return 0;
	}
	return n == OUTBOX_ID_LEN;
}

/* Builds ".<id>.tmp" into tmp and "<id>.eml" into eml; id is valid. */
static void file_names(const char *id, char tmp[TMP_NAME_SIZE], char eml[EML_NAME_SIZE])
{
	tmp[0] = '.';
	memcpy(tmp + 1, id, OUTBOX_ID_LEN);
	memcpy(tmp + 1 + OUTBOX_ID_LEN, ".tmp", 5);
	memcpy(eml, id, OUTBOX_ID_LEN);
	memcpy(eml + OUTBOX_ID_LEN, ".eml", 5);
}

/* Opens the outbox directory of o (O_DIRECTORY): the fd, or -1 with errno set. */
static int dir_open(const struct outbox *o)
{
	if (!o->path) {
		errno = EBADF;
		return -1;
	}
	return open(o->path, O_DIRECTORY | O_RDONLY | O_CLOEXEC);
}

/* see outbox.h */
int outbox_open(struct outbox *o, const char *path, const char *sender, char *errbuf, size_t errcap)
{
	o->path = path;
	o->sender = sender;
	int fd = -1;
	if (mkdir(path, OUTBOX_DIR_MODE) == 0 || errno == EEXIST)
		fd = dir_open(o);
	if (fd < 0) {
		struct buf e;
		buf_init(&e, errbuf, errcap);
		buf_puts(&e, "outbox ");
		buf_puts(&e, path);
		buf_puts(&e, ": ");
		buf_put_errno(&e, errno);
		buf_cstr(&e);
		o->path = NULL;
		return -ERR_OUTBOX;
	}
	close(fd);
	return 0;
}

/* Creates tmp exclusively; a leftover from a crashed run is removed and the create retried
 * once. Returns the fd or -1. */
static int create_tmp(int dirfd, const char *tmp)
{
	int flags = O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC;
	int fd = openat(dirfd, tmp, flags, OUTBOX_FILE_MODE);
	if (fd < 0 && errno == EEXIST && unlinkat(dirfd, tmp, 0) == 0)
		fd = openat(dirfd, tmp, flags, OUTBOX_FILE_MODE);
	return fd;
}

/* The digest line of d (DIGEST_LINE bytes, "\r\n" included) into line. */
static void digest_line(const unsigned char d[DIGEST_BYTES], char line[DIGEST_LINE])
{
	struct buf b;
	buf_init(&b, line, DIGEST_LINE);
	buf_puts(&b, digest_prefix);
	buf_put_hex(&b, d, DIGEST_BYTES);
	buf_puts(&b, "\r\n");
}

/* An existing eml against the request digest d: 1 when it records d or no digest at all (a
 * file from before digests, or an unkeyed send), -ERR_IDEM_MISMATCH when it records another,
 * -ERR_OUTBOX when it cannot be read. */
static int same_request(int dirfd, const char *eml, const unsigned char d[DIGEST_BYTES])
{
	char want[DIGEST_LINE], got[DIGEST_LINE];
	int fd = openat(dirfd, eml, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return -ERR_OUTBOX;
	ssize_t n = pread(fd, got, sizeof got, 0);
	close(fd);
	if (n < 0)
		return -ERR_OUTBOX;
	if ((size_t)n < sizeof got || memcmp(got, digest_prefix, sizeof digest_prefix - 1) != 0)
		return 1;
	digest_line(d, want);
	return memcmp(got, want, sizeof want) == 0 ? 1 : -ERR_IDEM_MISMATCH;
}

/* Writes the message into fd through wbuf and syncs it. Returns 0, -ERR_INTERNAL (mail_write
 * refused the message) or -ERR_OUTBOX. */
static int write_file(int fd, const struct outbox *o, const struct notify_msg *msg, const char *id,
                      int64_t now, char *wbuf, size_t wcap)
{
	struct buf b;
	struct mail_meta meta = {id, o->sender, now};
	buf_init_fd(&b, wbuf, wcap, fd);
	if (msg->request_digest) {
		char line[DIGEST_LINE];
		digest_line(msg->request_digest, line);
		buf_append(&b, line, sizeof line);
	}
	int r = mail_write(&b, msg, &meta);
	if (r == -ERR_INTERNAL)
		return r;
	if (r < 0 || buf_finish(&b) < 0 || fsync(fd) < 0)
		return -ERR_OUTBOX;
	return 0;
}

/* 1 when the name tmp in dirfd still is the file open as fd (nobody replaced it). */
static int still_ours(int dirfd, const char *tmp, int fd)
{
	struct stat a, b;
	return fstat(fd, &a) == 0 && fstatat(dirfd, tmp, &b, AT_SYMLINK_NOFOLLOW) == 0 &&
	       a.st_dev == b.st_dev && a.st_ino == b.st_ino;
}

/* Links the written tmp to eml, removes tmp and syncs the directory. Returns 0, 1 when eml
 * existed, or -ERR_OUTBOX. */
static int publish(int dirfd, const char *tmp, const char *eml)
{
	if (linkat(dirfd, tmp, dirfd, eml, 0) < 0) {
		int exists = errno == EEXIST;
		unlinkat(dirfd, tmp, 0);
		return exists ? 1 : -ERR_OUTBOX;
	}
	unlinkat(dirfd, tmp, 0); /* a failure leaves a dot-file readers skip; eml is complete */
	return fsync(dirfd) < 0 ? -ERR_OUTBOX : 0;
}

/* outbox_send in the open directory dirfd. */
static int send_in(int dirfd, struct outbox *o, const struct notify_msg *msg, const char *id,
                   int64_t now, char *wbuf, size_t wcap)
{
	char tmp[TMP_NAME_SIZE], eml[EML_NAME_SIZE];
	struct stat st;
	file_names(id, tmp, eml);
	if (fstatat(dirfd, eml, &st, 0) == 0)
		return msg->request_digest ? same_request(dirfd, eml, msg->request_digest) : 1;
	int fd = create_tmp(dirfd, tmp);
	if (fd < 0)
		return -ERR_OUTBOX;
	int r = write_file(fd, o, msg, id, now, wbuf, wcap);
	if (r == 0 && !still_ours(dirfd, tmp, fd)) {
		close(fd);
		return -ERR_OUTBOX; /* tmp is another writer's now: leave it alone */
	}
	if (close(fd) < 0 && r == 0)
		r = -ERR_OUTBOX;
	if (r < 0) {
		unlinkat(dirfd, tmp, 0);
		return r;
	}
	r = publish(dirfd, tmp, eml);
	return r == 1 && msg->request_digest ? same_request(dirfd, eml, msg->request_digest) : r;
}

/* see outbox.h */
int outbox_send(struct outbox *o, const struct notify_msg *msg, const char *id, int64_t now,
                char *wbuf, size_t wcap)
{
	if (!id_valid(id) || wcap == 0 || !o->path)
		return -ERR_INTERNAL;
	int dirfd = dir_open(o);
	if (dirfd < 0)
		return -ERR_OUTBOX;
	int r = send_in(dirfd, o, msg, id, now, wbuf, wcap);
	close(dirfd);
	return r;
}

/* see outbox.h */
int outbox_status(struct outbox *o, const char *id)
{
	char tmp[TMP_NAME_SIZE], eml[EML_NAME_SIZE];
	struct stat st;
	if (!id_valid(id) || !o->path)
		return -ERR_INTERNAL;
	int dirfd = dir_open(o);
	if (dirfd < 0)
		return -ERR_OUTBOX;
	file_names(id, tmp, eml);
	int r = fstatat(dirfd, eml, &st, 0) == 0 ? 1 : errno == ENOENT ? 0 : -ERR_OUTBOX;
	close(dirfd);
	return r;
}

/* see outbox.h */
int outbox_ready(const struct outbox *o, const char **why)
{
	if (!o->path) {
		*why = "the outbox is closed";
		return 0;
	}
	if (access(o->path, W_OK | X_OK) == 0)
		return 1;
	*why = errno == ENOENT || errno == ENOTDIR ? "the outbox directory does not exist"
	       : errno == EACCES || errno == EROFS ? "the outbox directory is not writable"
	                                           : "the outbox directory cannot be checked";
	return 0;
}

/* see outbox.h */
void outbox_close(struct outbox *o)
{
	o->path = NULL;
}

/* ---- behind transport.h ---------------------------------------------------------------- */

/* Outbox send: the file is complete when this returns, so the operation has succeeded. */
static int outbox_tsend(void *ctx, void *wctx, const struct notify_msg *msg, const char *id,
                        struct transport_result *r)
{
	int rc = outbox_send(ctx, msg, id, (long long)time(0), wctx, OUTBOX_WRITE_BUF);
	if (rc == -ERR_IDEM_MISMATCH) { /* the key's first request, recorded before a restart */
		r->http_status = 409;
		r->retry_after_s = 0;
		r->retryable = 0;
		strcpy(r->detail, "use a new Idempotency-Key for a different request");
		return rc;
	}
	if (rc < 0) {
		r->http_status = 500;
		r->retry_after_s = 0;
		r->retryable = 1; /* a full or read-only disk may be fixed */
		strcpy(r->detail, "the outbox directory could not be written");
		return rc;
	}
	r->state = "Succeeded";
	return 0;
}

/* Outbox status: a message file exists once its send succeeded. */
static int outbox_tstatus(void *ctx, void *wctx, const char *id, struct transport_result *r)
{
	(void)wctx;
	int rc = outbox_status(ctx, id);
	if (rc < 0) {
		r->http_status = 500;
		strcpy(r->detail, "the outbox directory could not be read");
		return rc;
	}
	if (rc == 0)
		return -ERR_NOT_FOUND;
	r->state = "Succeeded";
	return 0;
}

/* Outbox readiness: the directory exists and is writable. */
static int outbox_tready(void *ctx, const char **why)
{
	return outbox_ready(ctx, why);
}

/* see outbox.h */
void transport_outbox(struct transport *t, struct outbox *o)
{
	t->name = "outbox";
	t->ctx = o;
	t->send = outbox_tsend;
	t->status = outbox_tstatus;
	t->ready = outbox_tready;
	t->caps = TRANSPORT_CAN_DELIVER | TRANSPORT_KEEPS_DIGEST;
}
