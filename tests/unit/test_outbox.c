/* test_outbox.c: the outbox of outbox.h in a fresh temporary directory. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "err.h"
#include "mail.h"
#include "outbox.h"

/* Room for the messages written here (a few hundred bytes each). */
#define FILE_CAP 65536
/* Room for a path below the temporary directory. */
#define PATH_CAP 512

static const char ID[] = "0f8fad5b-d9cb-469f-a165-70867728950e";
static const char ID2[] = "1b4e28ba-2fa1-11d2-883f-0016d3cca427";
static const char SENDER[] = "noreply@example.com";
#define NOW 1795881986

struct fixture {
	char base[64];      /* the mkdtemp directory */
	char dir[PATH_CAP]; /* base/outbox */
	struct outbox o;
	struct notify_msg m;
	char wbuf[OUTBOX_WRITE_BUF];
};

static struct notify_str S(const char *s) {
	return (struct notify_str){s, strlen(s)};
}

static int
setup(void **state)
{
	static struct fixture fx;
	memset(&fx, 0, sizeof fx);
	strcpy(fx.base, "/tmp/test_outbox.XXXXXX");
	if (!mkdtemp(fx.base))
		return -1;
	snprintf(fx.dir, sizeof fx.dir, "%s/outbox", fx.base);
	fx.o.path = NULL;
	fx.m.to[0] = S("alice@example.com");
	fx.m.n_to = 1;
	fx.m.subject = S("Hello");
	fx.m.text = S("Hi Alice\n");
	*state = &fx;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *fx = *state;
	char cmd[PATH_CAP];
	outbox_close(&fx->o);
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", fx->base);
	return system(cmd) == 0 ? 0 : -1;
}

/* Opens fx->dir as the outbox; asserts success. */
static void open_outbox(struct fixture *fx)
{
	char err[128] = "";
	assert_int_equal(outbox_open(&fx->o, fx->dir, SENDER, err, sizeof err), 0);
	assert_string_equal(err, "");
	assert_string_equal(fx->o.path, fx->dir);
}

/* The outbox directory as an fd for *at() calls in the tests (kept open by the fixture). */
static int dfd(struct fixture *fx)
{
	static int fd = -1;
	if (fd >= 0)
		close(fd);
	fd = open(fx->dir, O_DIRECTORY | O_RDONLY | O_CLOEXEC);
	assert_true(fd >= 0);
	return fd;
}

/* Reads dir/name into out; returns the length, or -1 when it cannot be opened. */
static long read_file(const char *dir, const char *name, char *out, size_t cap)
{
	char path[PATH_CAP];
	int k = snprintf(path, sizeof path, "%s/%s", dir, name);
	assert_true(k > 0 && (size_t)k < sizeof path);
	FILE *f = fopen(path, "rb");
	if (!f)
		return -1;
	size_t n = fread(out, 1, cap, f);
	fclose(f);
	return (long)n;
}

/* Number of entries in dir other than "." and ".."; the one name, if single, into name. */
static int list_dir(const char *dir, char *name, size_t cap)
{
	DIR *d = opendir(dir);
	assert_non_null(d);
	int n = 0;
	for (struct dirent *e; (e = readdir(d)) != NULL;) {
		if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
			continue;
		snprintf(name, cap, "%s", e->d_name);
		n++;
	}
	closedir(d);
	return n;
}

/* What mail_write makes of m for id: the expected file content. */
static size_t expected(const struct notify_msg *m, const char *id, char *out, size_t cap)
{
	struct mail_meta meta = {id, SENDER, NOW};
	struct buf b;
	buf_init(&b, out, cap);
	assert_int_equal(mail_write(&b, m, &meta), 0);
	return b.len;
}

static void test_open_creates_dir(void **state)
{
	struct fixture *fx = *state;
	struct stat st;
	assert_int_equal(stat(fx->dir, &st), -1);
	open_outbox(fx);
	assert_int_equal(stat(fx->dir, &st), 0);
	assert_true(S_ISDIR(st.st_mode));
	outbox_close(&fx->o);
	assert_null(fx->o.path);
	open_outbox(fx); /* an existing directory is fine */
}

static void test_send_and_status(void **state)
{
	struct fixture *fx = *state;
	static char want[FILE_CAP], got[FILE_CAP];
	char name[256];
	open_outbox(fx);
	assert_int_equal(outbox_status(&fx->o, ID), 0);
	assert_int_equal(outbox_send(&fx->o, &fx->m, ID, NOW, fx->wbuf, sizeof fx->wbuf), 0);
	assert_int_equal(outbox_status(&fx->o, ID), 1);
	assert_int_equal(outbox_status(&fx->o, ID2), 0);
	/* Exactly <id>.eml, no temporary file left, holding the message. */
	assert_int_equal(list_dir(fx->dir, name, sizeof name), 1);
	assert_string_equal(name, "0f8fad5b-d9cb-469f-a165-70867728950e.eml");
	size_t n = expected(&fx->m, ID, want, sizeof want);
	assert_int_equal(read_file(fx->dir, name, got, sizeof got), (long)n);
	assert_memory_equal(got, want, n);
}

static void test_second_send_is_noop(void **state)
{
	struct fixture *fx = *state;
	static char want[FILE_CAP], got[FILE_CAP];
	char name[256];
	struct stat a, b;
	open_outbox(fx);
	assert_int_equal(outbox_send(&fx->o, &fx->m, ID, NOW, fx->wbuf, sizeof fx->wbuf), 0);
	size_t n = expected(&fx->m, ID, want, sizeof want);
	assert_int_equal(fstatat(dfd(fx), "0f8fad5b-d9cb-469f-a165-70867728950e.eml", &a, 0), 0);
	fx->m.subject = S("A different message");
	assert_int_equal(outbox_send(&fx->o, &fx->m, ID, NOW + 60, fx->wbuf, sizeof fx->wbuf), 1);
	assert_int_equal(fstatat(dfd(fx), "0f8fad5b-d9cb-469f-a165-70867728950e.eml", &b, 0), 0);
	assert_true(a.st_ino == b.st_ino);
	assert_int_equal(list_dir(fx->dir, name, sizeof name), 1);
	assert_int_equal(read_file(fx->dir, name, got, sizeof got), (long)n);
	assert_memory_equal(got, want, n);
}

static void test_leftover_temp_is_replaced(void **state)
{
	struct fixture *fx = *state;
	static char want[FILE_CAP], got[FILE_CAP];
	char name[256];
	open_outbox(fx);
	int fd = openat(dfd(fx), ".0f8fad5b-d9cb-469f-a165-70867728950e.tmp",
	                O_WRONLY | O_CREAT | O_EXCL, 0644);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, "partial", 7), 7);
	close(fd);
	/* A 7-byte staging buffer: the message streams through many writes. */
	assert_int_equal(outbox_send(&fx->o, &fx->m, ID, NOW, fx->wbuf, 7), 0);
	assert_int_equal(list_dir(fx->dir, name, sizeof name), 1);
	assert_string_equal(name, "0f8fad5b-d9cb-469f-a165-70867728950e.eml");
	size_t n = expected(&fx->m, ID, want, sizeof want);
	assert_int_equal(read_file(fx->dir, name, got, sizeof got), (long)n);
	assert_memory_equal(got, want, n);
}

static void test_two_ids(void **state)
{
	struct fixture *fx = *state;
	char name[256];
	open_outbox(fx);
	assert_int_equal(outbox_send(&fx->o, &fx->m, ID, NOW, fx->wbuf, sizeof fx->wbuf), 0);
	assert_int_equal(outbox_send(&fx->o, &fx->m, ID2, NOW, fx->wbuf, sizeof fx->wbuf), 0);
	assert_int_equal(list_dir(fx->dir, name, sizeof name), 2);
	assert_int_equal(outbox_status(&fx->o, ID), 1);
	assert_int_equal(outbox_status(&fx->o, ID2), 1);
}

static void test_bad_ids(void **state)
{
	struct fixture *fx = *state;
	static const char *const bad[] = {
	    "",
	    "../../../../../../../../../etc/passwd",
	    "0f8fad5b-d9cb-469f-a165-70867728950",   /* 35 */
	    "0f8fad5b-d9cb-469f-a165-70867728950e0", /* 37 */
	    "0F8FAD5B-D9CB-469F-A165-70867728950E",  /* upper case */
	    "0f8fad5b/d9cb-469f-a165-70867728950e",
	    "0f8fad5b-d9cb-469f-a165-7086772895.e",
	};
	char name[256];
	open_outbox(fx);
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		assert_int_equal(
		    outbox_send(&fx->o, &fx->m, bad[i], NOW, fx->wbuf, sizeof fx->wbuf),
		    -ERR_INTERNAL);
		assert_int_equal(outbox_status(&fx->o, bad[i]), -ERR_INTERNAL);
	}
	assert_int_equal(list_dir(fx->dir, name, sizeof name), 0);
}

static void test_refused_message_leaves_nothing(void **state)
{
	struct fixture *fx = *state;
	char name[256];
	open_outbox(fx);
	fx->m.to[0] = S("a@b.com\r\nBcc: x@evil.example");
	assert_int_equal(outbox_send(&fx->o, &fx->m, ID, NOW, fx->wbuf, sizeof fx->wbuf),
	                 -ERR_INTERNAL);
	assert_int_equal(list_dir(fx->dir, name, sizeof name), 0);
	assert_int_equal(outbox_status(&fx->o, ID), 0);
}

static void test_open_under_regular_file(void **state)
{
	struct fixture *fx = *state;
	char file[128], path[PATH_CAP], want[PATH_CAP + 64], err[PATH_CAP + 64];
	snprintf(file, sizeof file, "%s/plain", fx->base);
	FILE *f = fopen(file, "w");
	assert_non_null(f);
	fclose(f);

	snprintf(path, sizeof path, "%s/outbox", file);
	assert_int_equal(outbox_open(&fx->o, path, SENDER, err, sizeof err), -ERR_OUTBOX);
	assert_null(fx->o.path);
	snprintf(want, sizeof want, "outbox %s: a path component is not a directory", path);
	assert_string_equal(err, want);

	/* The path itself a regular file. */
	assert_int_equal(outbox_open(&fx->o, file, SENDER, err, sizeof err), -ERR_OUTBOX);
	snprintf(want, sizeof want, "outbox %s: a path component is not a directory", file);
	assert_string_equal(err, want);

	/* A missing parent: one level only is created. */
	snprintf(path, sizeof path, "%s/no/such", fx->base);
	assert_int_equal(outbox_open(&fx->o, path, SENDER, err, sizeof err), -ERR_OUTBOX);
	snprintf(want, sizeof want, "outbox %s: no such file or directory", path);
	assert_string_equal(err, want);

	/* A short errbuf is truncated, still NUL-terminated. */
	char tiny[8];
	assert_int_equal(outbox_open(&fx->o, path, SENDER, tiny, sizeof tiny), -ERR_OUTBOX);
	assert_string_equal(tiny, "outbox ");
}

/* A keyed message records its request digest as its first line; a later send of the id with
 * another digest is -ERR_IDEM_MISMATCH (the key was reused after a restart or an eviction),
 * with the same digest (or none on either side) the idempotent 1; the file is never touched. */
static void test_request_digest_recorded_and_compared(void **state)
{
	struct fixture *fx = *state;
	static char want[FILE_CAP], got[FILE_CAP];
	unsigned char d1[32], d2[32];
	for (int i = 0; i < 32; i++)
		d1[i] = (unsigned char)(0xa0 + i), d2[i] = d1[i];
	d2[31] ^= 1;
	open_outbox(fx);
	fx->m.request_digest = d1;
	assert_int_equal(outbox_send(&fx->o, &fx->m, ID, NOW, fx->wbuf, sizeof fx->wbuf), 0);
	static const char line[] =
	    "X-Notify-Request-Digest: sha256="
	    "a0a1a2a3a4a5a6a7a8a9aaabacadaeafb0b1b2b3b4b5b6b7b8b9babbbcbdbebf\r\n";
	long n = read_file(fx->dir, "0f8fad5b-d9cb-469f-a165-70867728950e.eml", got, sizeof got);
	size_t m = expected(&fx->m, ID, want, sizeof want);
	assert_int_equal(n, (long)(sizeof line - 1 + m));
	assert_memory_equal(got, line, sizeof line - 1);
	assert_memory_equal(got + sizeof line - 1, want, m);
	/* the same request again (after a restart): the idempotent no-op */
	assert_int_equal(outbox_send(&fx->o, &fx->m, ID, NOW + 5, fx->wbuf, sizeof fx->wbuf), 1);
	/* another body under the same id: refused, nothing written */
	fx->m.request_digest = d2;
	fx->m.subject = S("Another message");
	assert_int_equal(outbox_send(&fx->o, &fx->m, ID, NOW + 9, fx->wbuf, sizeof fx->wbuf),
	                 -ERR_IDEM_MISMATCH);
	assert_int_equal(
	    read_file(fx->dir, "0f8fad5b-d9cb-469f-a165-70867728950e.eml", want, sizeof want), n);
	assert_memory_equal(got, want, (size_t)n);
	/* no digest asked for (an unkeyed id), or none recorded (an older file): no comparison */
	fx->m.request_digest = NULL;
	assert_int_equal(outbox_send(&fx->o, &fx->m, ID, NOW, fx->wbuf, sizeof fx->wbuf), 1);
	assert_int_equal(outbox_send(&fx->o, &fx->m, ID2, NOW, fx->wbuf, sizeof fx->wbuf), 0);
	fx->m.request_digest = d2;
	assert_int_equal(outbox_send(&fx->o, &fx->m, ID2, NOW, fx->wbuf, sizeof fx->wbuf), 1);
}

/* The directory removed and made again while the service runs (issue 10, item 4): sends fail
 * while it is missing, readiness says why, and both work again as soon as it exists. */
static void test_directory_recreated(void **state)
{
	struct fixture *fx = *state;
	char name[256], cmd[PATH_CAP + 16];
	const char *why = NULL;
	open_outbox(fx);
	assert_int_equal(outbox_ready(&fx->o, &why), 1);
	assert_int_equal(outbox_send(&fx->o, &fx->m, ID, NOW, fx->wbuf, sizeof fx->wbuf), 0);
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", fx->dir);
	assert_int_equal(system(cmd), 0);
	assert_int_equal(outbox_ready(&fx->o, &why), 0);
	assert_string_equal(why, "the outbox directory does not exist");
	assert_int_equal(outbox_send(&fx->o, &fx->m, ID2, NOW, fx->wbuf, sizeof fx->wbuf),
	                 -ERR_OUTBOX);
	assert_int_equal(outbox_status(&fx->o, ID), -ERR_OUTBOX);
	assert_int_equal(mkdir(fx->dir, 0755), 0);
	assert_int_equal(outbox_ready(&fx->o, &why), 1);
	assert_int_equal(outbox_send(&fx->o, &fx->m, ID2, NOW, fx->wbuf, sizeof fx->wbuf), 0);
	assert_int_equal(list_dir(fx->dir, name, sizeof name), 1);
	assert_string_equal(name, "1b4e28ba-2fa1-11d2-883f-0016d3cca427.eml");
	assert_int_equal(outbox_status(&fx->o, ID2), 1);
	assert_int_equal(outbox_status(&fx->o, ID), 0);
	/* a directory that exists but cannot be written (not for root, who may write anyway) */
	if (geteuid() != 0) {
		assert_int_equal(chmod(fx->dir, 0555), 0);
		assert_int_equal(outbox_ready(&fx->o, &why), 0);
		assert_string_equal(why, "the outbox directory is not writable");
		assert_int_equal(chmod(fx->dir, 0755), 0);
	}
	outbox_close(&fx->o);
	assert_int_equal(outbox_ready(&fx->o, &why), 0);
}

static void test_closed_outbox(void **state)
{
	struct fixture *fx = *state;
	open_outbox(fx);
	outbox_close(&fx->o);
	outbox_close(&fx->o); /* twice is harmless */
	assert_int_equal(outbox_status(&fx->o, ID), -ERR_INTERNAL);
	assert_int_equal(outbox_send(&fx->o, &fx->m, ID, NOW, fx->wbuf, sizeof fx->wbuf),
	                 -ERR_INTERNAL);
}

/* The outbox behind transport.h: it can deliver; a send is "Succeeded" at once and its file is
 * there; the status of an unknown id is not found; a closed outbox answers 500. The unconfigured
 * transport cannot deliver and answers 503 to both calls. */
static void test_transport(void **state)
{
	struct fixture *fx = *state;
	struct transport t;
	struct transport_result r;
	char name[256];
	open_outbox(fx);
	transport_outbox(&t, &fx->o);
	assert_string_equal(t.name, "outbox");
	assert_true(t.caps & TRANSPORT_CAN_DELIVER);
	memset(&r, 0, sizeof r);
	assert_int_equal(t.status(t.ctx, fx->wbuf, ID, &r), -ERR_NOT_FOUND);
	assert_int_equal(t.send(t.ctx, fx->wbuf, &fx->m, ID, &r), 0);
	assert_string_equal(r.state, "Succeeded");
	assert_int_equal(list_dir(fx->dir, name, sizeof name), 1);
	memset(&r, 0, sizeof r);
	assert_int_equal(t.status(t.ctx, fx->wbuf, ID, &r), 0);
	assert_string_equal(r.state, "Succeeded");
	outbox_close(&fx->o);
	memset(&r, 0, sizeof r);
	assert_true(t.send(t.ctx, fx->wbuf, &fx->m, ID2, &r) < 0);
	assert_int_equal(r.http_status, 500);
	assert_int_equal(r.retryable, 1);

	transport_unconfigured(&t, "set ACS_ENDPOINT");
	assert_false(t.caps & TRANSPORT_CAN_DELIVER);
	memset(&r, 0, sizeof r);
	assert_int_equal(t.send(t.ctx, fx->wbuf, &fx->m, ID, &r), -ERR_NOT_CONFIGURED);
	assert_int_equal(r.http_status, 503);
	assert_string_equal(r.detail, "set ACS_ENDPOINT");
	memset(&r, 0, sizeof r);
	assert_int_equal(t.status(t.ctx, fx->wbuf, ID, &r), -ERR_NOT_CONFIGURED);
	assert_int_equal(r.http_status, 503);
}

#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
	    T(test_open_creates_dir),
	    T(test_send_and_status),
	    T(test_second_send_is_noop),
	    T(test_leftover_temp_is_replaced),
	    T(test_two_ids),
	    T(test_bad_ids),
	    T(test_refused_message_leaves_nothing),
	    T(test_open_under_regular_file),
	    T(test_request_digest_recorded_and_compared),
	    T(test_directory_recreated),
	    T(test_closed_outbox),
	    T(test_transport),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
