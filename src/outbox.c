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

/* see outbox.h */
int outbox_open(struct outbox *o, const char *path, const char *sender, char *errbuf, size_t errcap)
{
	o->dirfd = -1;
	o->sender = sender;
	int fd = -1;
	if (mkdir(path, OUTBOX_DIR_MODE) == 0 || errno == EEXIST)
		fd = open(path, O_DIRECTORY | O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		struct buf e;
		buf_init(&e, errbuf, errcap);
		buf_puts(&e, "outbox ");
		buf_puts(&e, path);
		buf_puts(&e, ": ");
		buf_put_errno(&e, errno);
		buf_cstr(&e);
		return -ERR_OUTBOX;
	}
	o->dirfd = fd;
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

/* Writes the message into fd through wbuf and syncs it. Returns 0, -ERR_INTERNAL (mail_write
 * refused the message) or -ERR_OUTBOX. */
static int write_file(int fd, const struct outbox *o, const struct notify_msg *msg, const char *id,
                      int64_t now, char *wbuf, size_t wcap)
{
	struct buf b;
	struct mail_meta meta = {id, o->sender, now};
	buf_init_fd(&b, wbuf, wcap, fd);
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

/* see outbox.h */
int outbox_send(struct outbox *o, const struct notify_msg *msg, const char *id, int64_t now,
                char *wbuf, size_t wcap)
{
	char tmp[TMP_NAME_SIZE], eml[EML_NAME_SIZE];
	struct stat st;
	if (!id_valid(id) || wcap == 0 || o->dirfd < 0)
		return -ERR_INTERNAL;
	file_names(id, tmp, eml);
	if (fstatat(o->dirfd, eml, &st, 0) == 0)
		return 1;
	int fd = create_tmp(o->dirfd, tmp);
	if (fd < 0)
		return -ERR_OUTBOX;
	int r = write_file(fd, o, msg, id, now, wbuf, wcap);
	if (r == 0 && !still_ours(o->dirfd, tmp, fd)) {
		close(fd);
		return -ERR_OUTBOX; /* tmp is another writer's now: leave it alone */
	}
	if (close(fd) < 0 && r == 0)
		r = -ERR_OUTBOX;
	if (r < 0) {
		unlinkat(o->dirfd, tmp, 0);
		return r;
	}
	return publish(o->dirfd, tmp, eml);
}

/* see outbox.h */
int outbox_status(struct outbox *o, const char *id)
{
	char tmp[TMP_NAME_SIZE], eml[EML_NAME_SIZE];
	struct stat st;
	if (!id_valid(id) || o->dirfd < 0)
		return -ERR_INTERNAL;
	file_names(id, tmp, eml);
	if (fstatat(o->dirfd, eml, &st, 0) == 0)
		return 1;
	return errno == ENOENT ? 0 : -ERR_OUTBOX;
}

/* see outbox.h */
void outbox_close(struct outbox *o)
{
	if (o->dirfd >= 0)
		close(o->dirfd);
	o->dirfd = -1;
}

/* ---- behind transport.h ---------------------------------------------------------------- */

/* Outbox send: the file is complete when this returns, so the operation has succeeded. */
static int outbox_tsend(void *ctx, void *wctx, const struct notify_msg *msg, const char *id,
                        struct transport_result *r)
{
	int rc = outbox_send(ctx, msg, id, (long long)time(0), wctx, OUTBOX_WRITE_BUF);
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

/* see outbox.h */
void transport_outbox(struct transport *t, struct outbox *o)
{
	t->name = "outbox";
	t->ctx = o;
	t->send = outbox_tsend;
	t->status = outbox_tstatus;
	t->caps = TRANSPORT_CAN_DELIVER;
}
