/* err.c: the views of the one error list in err.h. */
#include "err.h"

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
