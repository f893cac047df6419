/* err.c: the views of the one error list in err.h. */
#include "err.h"

#include <errno.h>

struct err_info {
	int status;
	const char *slug;
	const char *title;
};

static const struct err_info table[ERR_COUNT] = {
#define ERR_ROW(name, st, sl, ti) {st, sl, ti},
    FOR_EACH_ERR(ERR_ROW)
#undef ERR_ROW
};

static const struct err_info *lookup(int e)
{
	if (e < 0)
		e = -e;
	return e < ERR_COUNT ? &table[e] : 0;
}

/* see err.h */
const char *err_str(int e)
{
	const struct err_info *i = lookup(e);
	return i ? i->title : "Unknown error";
}

/* see err.h */
const char *err_slug(int e)
{
	const struct err_info *i = lookup(e);
	return i ? i->slug : "internal";
}

/* see err.h */
int err_http_status(int e)
{
	const struct err_info *i = lookup(e);
	return i ? i->status : 500;
}

/* see err.h */
const char *err_errno_str(int errnum)
{
	switch (errnum) {
	case EACCES:
	case EPERM:
		return "permission denied";
	case ENOENT:
		return "no such file or directory";
	case ENOTDIR:
		return "a path component is not a directory";
	case EROFS:
		return "read-only file system";
	case ENOSPC:
		return "no space left on device";
	case EDQUOT:
		return "disk quota exceeded";
	case EEXIST:
		return "file exists";
	case ENAMETOOLONG:
		return "file name too long";
	case EMFILE:
	case ENFILE:
		return "too many open files";
	case ENOMEM:
		return "out of memory";
	case EADDRINUSE:
		return "address already in use";
	case EADDRNOTAVAIL:
		return "address not available";
	case EAFNOSUPPORT:
		return "address family not supported";
	case EINVAL:
		return "invalid argument";
	case EIO:
		return "input/output error";
	}
	return 0;
}
