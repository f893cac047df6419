/* config.c: loads and validates struct config from one table (config.h). Start-up only. */
#include "config.h"

#include <string.h>

#include "log.h"
#include "notify.h"

enum kind { INT, STR, ADDR, SECRET, LEVEL };

/* "must be at most <n> bytes long": 26 bytes of text and up to 20 digits. */
#define CONFIG_WHAT_MAX 48

struct var {
	const char *name;
	enum kind kind;
	const char *def;
	long min, max;
	const char *help;
	size_t off;
};

static const struct var vars[] = {
#define CONFIG_ROW(field, nm, kd, df, mn, mx, hp)                                                  \
	{nm, kd, df, mn, mx, hp, offsetof(struct config, field)},
    FOR_EACH_CONFIG(CONFIG_ROW)
#undef CONFIG_ROW
};

/* Parses a whole decimal integer (digits, optional leading '-') within [min, max]. */
static int parse_long(const char *s, long min, long max, long *out)
{
	int neg = *s == '-';
	long v = 0;
	s += neg;
	if (!*s)
		return -1;
	for (; *s; s++) {
		if (*s < '0' || *s > '9' || v > (max + 9) / 10 + 1)
			return -1;
		v = v * 10 + (*s - '0');
	}
	v = neg ? -v : v;
	if (v < min || v > max)
		return -1;
	*out = v;
	return 0;
}

/* Appends a long in decimal. */
static void put_long(struct buf *b, long v)
{
	if (v < 0) {
		buf_putc(b, '-');
		v = -v;
	}
	buf_put_u64(b, (uint64_t)v);
}

/* Writes "NAME: what (got "value")" into the error buffer; value NULL omits the quote. */
static int bad(char *err, size_t cap, const struct var *v, const char *what, const char *value)
{
	struct buf b;
	buf_init(&b, err, cap);
	buf_puts(&b, v->name);
	buf_puts(&b, ": ");
	buf_puts(&b, what);
	if (v->kind == INT) {
		buf_puts(&b, " from ");
		put_long(&b, v->min);
		buf_puts(&b, " to ");
		put_long(&b, v->max);
	}
	if (value) {
		/* At most 80 bytes, printable ASCII only, so the error stays one readable line. */
		buf_puts(&b, " (got \"");
		for (size_t i = 0; value[i] && i < 80; i++) {
			unsigned char ch = (unsigned char)value[i];
			buf_putc(&b, ch >= 0x20 && ch < 0x7f ? (char)ch : '?');
		}
		buf_puts(&b, "\")");
	}
	buf_cstr(&b);
	return -1;
}

/* Loads one variable into c; returns -1 with err filled when the value is bad. */
static int load(struct config *c, const struct var *v, const char *val, char *err, size_t cap)
{
	char *field = (char *)c + v->off;
	const char *s = (val && *val) ? val : v->def;
	/* An API key set to "" would switch authentication off without a word: refused, so that
	 * a template variable that expanded to nothing cannot open the service. */
	if (v->off == offsetof(struct config, api_key) && val && !*val)
		return bad(err, cap, v,
		           "is set but empty: set a key, or unset it to run without authentication",
		           0);
	switch (v->kind) {
	case INT: {
		long n = 0;
		if (*s && parse_long(s, v->min, v->max, &n) < 0)
			return bad(err, cap, v, "must be an integer", s);
		memcpy(field, &n, sizeof n);
		return 0;
	}
	case LEVEL: {
		int l = log_level_parse(s);
		if (l < 0)
			return bad(err, cap, v, "must be debug, info, warn, error or off", s);
		memcpy(field, &l, sizeof l);
		return 0;
	}
	case ADDR:
		if (!notify_addr_valid(s, strlen(s)))
			return bad(err, cap, v, "not a valid e-mail address", s);
		break;
	case STR:
	case SECRET:
		if (v->min > 0 && !*s)
			return bad(err, cap, v, "must not be empty", 0);
		if (strlen(s) > (size_t)v->max) {
			char what[CONFIG_WHAT_MAX];
			struct buf w;
			buf_init(&w, what, sizeof what);
			buf_puts(&w, "must be at most ");
			put_long(&w, v->max);
			buf_puts(&w, " bytes long");
			return bad(err, cap, v, buf_cstr(&w),
			           0); /* never echo: it may be a secret */
		}
		break;
	}
	memcpy(field, &s, sizeof s);
	return 0;
}

/* Checks the comma-separated sender list: each entry a valid address. */
static int check_senders(const char *list, char *err, size_t cap)
{
	static const struct var senders = {"NOTIFY_ALLOWED_SENDERS", STR, "", 0, 0, "", 0};
	char one[NOTIFY_MAX_ADDR + 1];
	const char *p = list;
	while (*p) {
		while (*p == ' ' || *p == ',')
			p++;
		const char *s = p;
		while (*p && *p != ',')
			p++;
		size_t n = (size_t)(p - s);
		while (n > 0 && s[n - 1] == ' ')
			n--;
		if (n > 0 && !notify_addr_valid(s, n)) {
			size_t k = n < NOTIFY_MAX_ADDR ? n : NOTIFY_MAX_ADDR;
			memcpy(one, s, k);
			one[k] = 0;
			return bad(err, cap, &senders, "an entry is not a valid e-mail address",
			           one);
		}
	}
	return 0;
}

/* see config.h */
int config_load(struct config *c, const char *(*get)(const char *name), char *err, size_t cap)
{
	memset(c, 0, sizeof *c);
	for (size_t i = 0; i < sizeof vars / sizeof vars[0]; i++)
		if (load(c, &vars[i], get(vars[i].name), err, cap) < 0)
			return -1;
	return check_senders(c->allowed_senders, err, cap);
}

/* see config.h */
long config_port(const struct config *c)
{
	return c->fn_port ? c->fn_port : c->port;
}

/* see config.h */
void config_help(struct buf *b)
{
	buf_puts(b, "Environment variables (default in brackets):\n");
	for (size_t i = 0; i < sizeof vars / sizeof vars[0]; i++) {
		const struct var *v = &vars[i];
		size_t n = strlen(v->name);
		buf_puts(b, "  ");
		buf_puts(b, v->name);
		do /* at least one space: some names are longer than the column */
			buf_putc(b, ' ');
		while (++n < 30);
		buf_puts(b, v->help);
		buf_puts(b, " [");
		buf_puts(b, v->kind == SECRET || !*v->def ? "unset" : v->def);
		buf_puts(b, "]\n");
	}
}
