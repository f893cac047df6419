/* config.c: loads and validates struct config from one table (config.h). Start-up only. */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "notify.h"

enum kind { INT, STR, ADDR, SECRET, LEVEL };

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

/* Parses a whole decimal integer within [min, max]. */
static int parse_long(const char *s, long min, long max, long *out)
{
	char *end;
	if (!*s || *s == '+' || *s == ' ')
		return -1;
	errno = 0;
	long v = strtol(s, &end, 10);
	if (errno || *end || v < min || v > max)
		return -1;
	*out = v;
	return 0;
}

/* Loads one variable into c; returns -1 with err filled when the value is bad. */
static int load(struct config *c, const struct var *v, const char *val, char *err, size_t cap)
{
	char *field = (char *)c + v->off;
	const char *s = (val && *val) ? val : v->def;
	switch (v->kind) {
	case INT: {
		long n = 0;
		if (*s && parse_long(s, v->min, v->max, &n) < 0) {
			snprintf(err, cap, "%s: must be an integer from %ld to %ld (got \"%.40s\")",
				 v->name, v->min, v->max, s);
			return -1;
		}
		memcpy(field, &n, sizeof n);
		return 0;
	}
	case LEVEL: {
		int l = log_level_parse(s);
		if (l < 0) {
			snprintf(err, cap, "%s: must be debug, info, warn, error or off (got \"%.40s\")",
				 v->name, s);
			return -1;
		}
		memcpy(field, &l, sizeof l);
		return 0;
	}
	case ADDR:
		if (!notify_addr_valid(s, strlen(s))) {
			snprintf(err, cap, "%s: not a valid e-mail address (got \"%.80s\")", v->name, s);
			return -1;
		}
		break;
	case STR:
	case SECRET:
		if (strlen(s) > (size_t)v->max || (v->min > 0 && !*s)) {
			snprintf(err, cap, "%s: must be %ld to %ld bytes long", v->name, v->min, v->max);
			return -1;
		}
		break;
	}
	memcpy(field, &s, sizeof s);
	return 0;
}

/* Checks the comma-separated sender list: each entry a valid address. */
static int check_senders(const char *list, char *err, size_t cap)
{
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
			snprintf(err, cap, "NOTIFY_ALLOWED_SENDERS: \"%.*s\" is not a valid e-mail address",
				 (int)(n > 80 ? 80 : n), s);
			return -1;
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
void config_help(FILE *f)
{
	fprintf(f, "Environment variables (default in brackets):\n");
	for (size_t i = 0; i < sizeof vars / sizeof vars[0]; i++) {
		const struct var *v = &vars[i];
		fprintf(f, "  %-29s %s [%s]\n", v->name, v->help,
			v->kind == SECRET ? "unset" : (*v->def ? v->def : "unset"));
	}
}
