/* test_config.c: config.h: defaults, integer limits, addresses, secrets, error lines, --help. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "log.h"

/* Error buffer of the tests: roomy, so truncation never hides a second line. */
#define ERR_CAP 512
/* Variables in the fake environment at once. */
#define ENV_MAX 8

/* ---- the fake environment ----------------------------------------------------------------- */

static struct {
	const char *name, *value;
} env[ENV_MAX];
static size_t env_n;
/* Names config_load asked for, to prove it reads every variable. */
static char asked[64][48]; /* the longest name has 40 characters */
static size_t asked_n;

static const char *fake_get(const char *name)
{
	if (asked_n < sizeof asked / sizeof asked[0])
		snprintf(asked[asked_n++], sizeof asked[0], "%s", name);
	for (size_t i = 0; i < env_n; i++)
		if (strcmp(env[i].name, name) == 0)
			return env[i].value;
	return NULL;
}

static void env_clear(void)
{
	env_n = 0;
	asked_n = 0;
}

static void env_set(const char *name, const char *value)
{
	assert_true(env_n < ENV_MAX);
	env[env_n].name = name;
	env[env_n].value = value;
	env_n++;
}

static int reset(void **state)
{
	(void)state;
	env_clear();
	return 0;
}

static struct config cfg;
static char err[ERR_CAP];

/* config_load over the fake environment; err is pre-filled so a silent success shows. */
static int load(void)
{
	memset(&cfg, 0x5a, sizeof cfg);
	memset(err, 'E', sizeof err - 1);
	err[sizeof err - 1] = 0;
	return config_load(&cfg, fake_get, err, sizeof err);
}

/* Asserts a failed load with one error line starting "<name>:". */
static void assert_error_line(const char *name)
{
	size_t n = strlen(name);
	if (strncmp(err, name, n) != 0 || err[n] != ':')
		fail_msg("error does not start with \"%s:\": \"%s\"", name, err);
	assert_null(strchr(err, '\n'));
	assert_null(strchr(err, '\r'));
	assert_true(strlen(err) < sizeof err - 1);
}

/* Loads with one variable set and expects failure naming it. */
static void expect_bad(const char *name, const char *value)
{
	env_clear();
	env_set(name, value);
	if (load() != -1)
		fail_msg("%s=\"%s\" was accepted", name, value);
	assert_error_line(name);
}

/* ---- the INT rows, from the one list ------------------------------------------------------ */

struct int_row {
	const char *name, *def;
	long min, max;
	size_t off;
};

#define KIND_IS_INT_INT    1
#define KIND_IS_INT_STR    0
#define KIND_IS_INT_ADDR   0
#define KIND_IS_INT_SECRET 0
#define KIND_IS_INT_LEVEL  0
#define INT_ROW(field, nm, kd, df, mn, mx, hp)                                                     \
	{KIND_IS_INT_##kd ? nm : NULL, df, mn, mx, offsetof(struct config, field)},
static const struct int_row rows[] = {FOR_EACH_CONFIG(INT_ROW)};
#undef INT_ROW

#define ALL_NAMES(field, nm, kd, df, mn, mx, hp) nm,
static const char *const all_names[] = {FOR_EACH_CONFIG(ALL_NAMES)};
#undef ALL_NAMES
#define NVARS (sizeof all_names / sizeof all_names[0])

static long int_field(const struct int_row *r)
{
	long v;
	memcpy(&v, (const char *)&cfg + r->off, sizeof v);
	return v;
}

/* ---- defaults ------------------------------------------------------------------------------ */

static void test_defaults(void **state)
{
	(void)state;
	assert_int_equal(load(), 0);
	assert_int_equal(cfg.port, 8080);
	assert_int_equal(cfg.fn_port, 0);
	assert_string_equal(cfg.bind, "0.0.0.0");
	assert_int_equal(cfg.workers, 8);
	assert_int_equal(cfg.max_conns, 1024);
	assert_int_equal(cfg.max_body, 1048576);
	assert_int_equal(cfg.header_timeout_ms, 10000);
	assert_int_equal(cfg.body_timeout_ms, 30000);
	assert_int_equal(cfg.read_timeout_ms, 10000);
	assert_int_equal(cfg.write_timeout_ms, 10000);
	assert_int_equal(cfg.max_inflight, 67108864);
	assert_int_equal(cfg.idle_timeout_ms, 30000);
	assert_int_equal(cfg.drain_timeout_ms, 10000);
	assert_string_equal(cfg.outbox_dir, "./outbox");
	assert_string_equal(cfg.sender, "notify@localhost");
	assert_string_equal(cfg.allowed_senders, "");
	assert_string_equal(cfg.api_key, "");
	assert_int_equal(cfg.idem_ttl_s, 86400);
	assert_int_equal(cfg.idem_entries, 4096);
	assert_int_equal(cfg.log_level, LOG_INFO);
	assert_int_equal(config_port(&cfg), 8080);
}

static void test_empty_values_mean_default(void **state)
{
	(void)state;
	env_set("PORT", "");
	env_set("EMAIL_SENDER", "");
	env_set("NOTIFY_LOG_LEVEL", "");
	env_set("NOTIFY_OUTBOX_DIR", "");
	env_set("FUNCTIONS_CUSTOMHANDLER_PORT", "");
	assert_int_equal(load(), 0);
	assert_int_equal(cfg.port, 8080);
	assert_int_equal(cfg.fn_port, 0);
	assert_string_equal(cfg.sender, "notify@localhost");
	assert_string_equal(cfg.outbox_dir, "./outbox");
	assert_int_equal(cfg.log_level, LOG_INFO);
}

static void test_reads_every_variable(void **state)
{
	(void)state;
	assert_int_equal(load(), 0);
	for (size_t i = 0; i < NVARS; i++) {
		int seen = 0;
		for (size_t j = 0; j < asked_n; j++)
			seen |= strcmp(asked[j], all_names[i]) == 0;
		if (!seen)
			fail_msg("config_load never looked up %s", all_names[i]);
	}
	assert_int_equal(NVARS, 33);
}

static void test_strings_point_into_lookup_values(void **state)
{
	(void)state;
	static const char dir[] = "/var/spool/notify";
	static const char key[] = "s3cret";
	env_set("NOTIFY_OUTBOX_DIR", dir);
	env_set("NOTIFY_API_KEY", key);
	assert_int_equal(load(), 0);
	assert_ptr_equal(cfg.outbox_dir, dir);
	assert_ptr_equal(cfg.api_key, key);
}

/* ---- integers ------------------------------------------------------------------------------ */

static void test_int_min_and_max_accepted(void **state)
{
	(void)state;
	char v[32];
	size_t checked = 0;
	for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
		const struct int_row *r = &rows[i];
		if (!r->name)
			continue;
		checked++;
		long ends[2] = {r->min, r->max};
		for (int e = 0; e < 2; e++) {
			snprintf(v, sizeof v, "%ld", ends[e]);
			env_clear();
			env_set(r->name, v);
			if (load() != 0)
				fail_msg("%s=%s rejected: %s", r->name, v, err);
			assert_int_equal(int_field(r), ends[e]);
		}
	}
	assert_int_equal(checked, 18);
}

static void test_int_out_of_range_rejected(void **state)
{
	(void)state;
	char v[32], want[160];
	for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
		const struct int_row *r = &rows[i];
		if (!r->name)
			continue;
		long ends[2] = {r->min - 1, r->max + 1};
		for (int e = 0; e < 2; e++) {
			snprintf(v, sizeof v, "%ld", ends[e]);
			expect_bad(r->name, v);
			snprintf(want, sizeof want,
			         "%s: must be an integer from %ld to %ld (got \"%s\")", r->name,
			         r->min, r->max, v);
			assert_string_equal(err, want);
		}
	}
}

static void test_int_empty_is_default(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
		const struct int_row *r = &rows[i];
		if (!r->name)
			continue;
		env_clear();
		env_set(r->name, "");
		assert_int_equal(load(), 0);
		assert_int_equal(int_field(r), *r->def ? strtol(r->def, NULL, 10) : 0);
	}
}

static void test_int_malformed_rejected(void **state)
{
	(void)state;
	static const char *const bad[] = {
	    "12x", "+5", " 5", "5 ", "x", "0x10", "1e3", "5.0", "--5", "99999999999999999999", "-"};
	for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
		if (!rows[i].name)
			continue;
		for (size_t j = 0; j < sizeof bad / sizeof bad[0]; j++)
			expect_bad(rows[i].name, bad[j]);
	}
}

static void test_int_leading_whitespace_rejected(void **state)
{
	(void)state;
	/* strtol() would skip these; a setting is digits only. */
	expect_bad("NOTIFY_WORKERS", "\t5");
	expect_bad("NOTIFY_WORKERS", "\v5");
	expect_bad("PORT", "\f8080");
	expect_bad("PORT", "8080\t");
}

static void test_error_message_exact(void **state)
{
	(void)state;
	expect_bad("NOTIFY_WORKERS", "x");
	assert_string_equal(err, "NOTIFY_WORKERS: must be an integer from 1 to 256 (got \"x\")");
}

static void test_error_one_line_for_value_with_newline(void **state)
{
	(void)state;
	/* Regression (found by this test): config.c bad() echoes the raw value (buf_append of up to
	 * 80 bytes) into the error, so a value containing '\n' or '\r' gives a multi-line error,
	 * against config.h's "one line naming the variable". NOTIFY_WORKERS="1\n2" gives
	 * "NOTIFY_WORKERS: must be an integer from 1 to 256 (got \"1<LF>2\")"; the same for
	 * NOTIFY_LOG_LEVEL, EMAIL_SENDER and an entry of NOTIFY_ALLOWED_SENDERS. */
	expect_bad("NOTIFY_WORKERS", "1\n2");
	expect_bad("PORT", "\r8080");
	expect_bad("NOTIFY_LOG_LEVEL", "info\nx");
	expect_bad("EMAIL_SENDER", "a@example.com\nBcc: x@example.com");
	expect_bad("NOTIFY_ALLOWED_SENDERS", "a@example.com,b\n@example.com");
}

static void test_error_truncated_to_cap(void **state)
{
	(void)state;
	char small[16];
	memset(small, 'E', sizeof small);
	env_set("NOTIFY_WORKERS", "x");
	assert_int_equal(config_load(&cfg, fake_get, small, sizeof small), -1);
	assert_string_equal(small, "NOTIFY_WORKERS:");
}

static void test_first_bad_variable_reported(void **state)
{
	(void)state;
	env_set("NOTIFY_WORKERS", "0");
	env_set("NOTIFY_LOG_LEVEL", "loud");
	assert_int_equal(load(), -1);
	assert_error_line("NOTIFY_WORKERS");
}

/* ---- ports --------------------------------------------------------------------------------- */

static void test_functions_port_overrides_port(void **state)
{
	(void)state;
	env_set("PORT", "9000");
	env_set("FUNCTIONS_CUSTOMHANDLER_PORT", "7071");
	assert_int_equal(load(), 0);
	assert_int_equal(cfg.port, 9000);
	assert_int_equal(cfg.fn_port, 7071);
	assert_int_equal(config_port(&cfg), 7071);
}

static void test_port_used_without_functions_port(void **state)
{
	(void)state;
	env_set("PORT", "9000");
	assert_int_equal(load(), 0);
	assert_int_equal(config_port(&cfg), 9000);
}

static void test_functions_port_invalid(void **state)
{
	(void)state;
	expect_bad("FUNCTIONS_CUSTOMHANDLER_PORT", "0");
	expect_bad("FUNCTIONS_CUSTOMHANDLER_PORT", "65536");
	expect_bad("FUNCTIONS_CUSTOMHANDLER_PORT", "http");
}

/* ---- strings, addresses, levels, secrets -------------------------------------------------- */

static void test_sender_valid(void **state)
{
	(void)state;
	env_set("EMAIL_SENDER", "DoNotReply@contoso.example.com");
	assert_int_equal(load(), 0);
	assert_string_equal(cfg.sender, "DoNotReply@contoso.example.com");
}

static void test_sender_invalid(void **state)
{
	(void)state;
	static const char *const bad[] = {"not-an-address",  "@example.com",   "a@",
	                                  "a b@example.com", "a@-example.com", "a@@example.com",
	                                  "<a@example.com>"};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		expect_bad("EMAIL_SENDER", bad[i]);
		assert_non_null(strstr(err, "not a valid e-mail address"));
	}
}

static void test_allowed_senders_valid_list(void **state)
{
	(void)state;
	static const char list[] = " a@example.com, b@example.org ,,c@x ,";
	env_set("NOTIFY_ALLOWED_SENDERS", list);
	assert_int_equal(load(), 0);
	assert_ptr_equal(cfg.allowed_senders, list);
}

static void test_allowed_senders_one_bad_entry(void **state)
{
	(void)state;
	expect_bad("NOTIFY_ALLOWED_SENDERS", "a@example.com, bad-entry, c@example.com");
	/* The bad entry alone is quoted, trimmed, not the whole list. */
	assert_non_null(strstr(err, "\"bad-entry\""));
	assert_null(strstr(err, "a@example.com"));
	assert_null(strstr(err, "c@example.com"));
	expect_bad("NOTIFY_ALLOWED_SENDERS", "a@example.com,c@example.com,last");
	assert_non_null(strstr(err, "\"last\""));
}

static void test_log_level_values(void **state)
{
	(void)state;
	static const struct {
		const char *s;
		int level;
	} ok[] = {{"debug", LOG_DEBUG},
	          {"info", LOG_INFO},
	          {"warn", LOG_WARN},
	          {"error", LOG_ERROR},
	          {"off", LOG_OFF}};
	for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
		env_clear();
		env_set("NOTIFY_LOG_LEVEL", ok[i].s);
		assert_int_equal(load(), 0);
		assert_int_equal(cfg.log_level, ok[i].level);
	}
	expect_bad("NOTIFY_LOG_LEVEL", "loud");
	assert_string_equal(
	    err, "NOTIFY_LOG_LEVEL: must be debug, info, warn, error or off (got \"loud\")");
}

static void test_string_length_limits(void **state)
{
	(void)state;
	static char bind[257], dir[4097], senders[4097];
	memset(bind, '1', 256);
	memset(dir, 'd', 4096);
	memset(senders, ',', 4096);
	expect_bad("BIND", bind);
	assert_non_null(strstr(err, "255"));
	assert_null(strstr(err, "1111"));
	expect_bad("NOTIFY_OUTBOX_DIR", dir);
	expect_bad("NOTIFY_ALLOWED_SENDERS", senders);
	/* At the limit they load. */
	dir[4095] = 0;
	senders[4095] = 0;
	env_clear();
	env_set("NOTIFY_OUTBOX_DIR", dir);
	env_set("NOTIFY_ALLOWED_SENDERS", senders);
	assert_int_equal(load(), 0);
	assert_int_equal(strlen(cfg.outbox_dir), 4095);
}

static void test_api_key_255_accepted(void **state)
{
	(void)state;
	static char key[256];
	memset(key, 'k', 255);
	env_set("NOTIFY_API_KEY", key);
	assert_int_equal(load(), 0);
	assert_int_equal(strlen(cfg.api_key), 255);
}

/* Set but empty would switch authentication off silently (issue 10, item 3): refused. */
static void test_api_key_set_but_empty_refused(void **state)
{
	(void)state;
	expect_bad("NOTIFY_API_KEY", "");
	assert_non_null(strstr(err, "empty"));
	env_clear(); /* unset: no authentication, as documented */
	assert_int_equal(load(), 0);
	assert_string_equal(cfg.api_key, "");
}

static void test_api_key_too_long_not_echoed(void **state)
{
	(void)state;
	static char key[300];
	for (size_t i = 0; i < 256; i++)
		key[i] = "TOPSECRET"[i % 9];
	expect_bad("NOTIFY_API_KEY", key);
	assert_null(strstr(err, "TOPS"));
	assert_null(strstr(err, "SECRET"));
	assert_non_null(strstr(err, "255"));
}

/* ---- --help -------------------------------------------------------------------------------- */

static void test_help_lists_every_variable(void **state)
{
	(void)state;
	static char mem[8192];
	struct buf b;
	buf_init(&b, mem, sizeof mem - 1);
	config_help(&b);
	assert_int_equal(buf_finish(&b), 0);
	mem[b.len] = 0;
	const char *text = mem;
	size_t len = b.len;
	assert_true(len > 0);
	/* A title line, then one line per variable: "  NAME<spaces>help [default]". */
	size_t lines = 0;
	for (size_t i = 0; i < len; i++)
		lines += text[i] == '\n';
	assert_int_equal(lines, NVARS + 1);
	assert_int_equal(text[len - 1], '\n');
	for (size_t i = 0; i < NVARS; i++) {
		char needle[64];
		snprintf(needle, sizeof needle, "\n  %s ", all_names[i]);
		if (!strstr(text, needle))
			fail_msg("--help has no line for %s", all_names[i]);
	}
	assert_non_null(strstr(text, "[8080]\n"));
	assert_non_null(strstr(text, "[./outbox]\n"));
	assert_non_null(strstr(text, "[notify@localhost]\n"));
	assert_non_null(strstr(text, "[info]\n"));
	/* Empty defaults (and the secret) read "unset". */
	const char *k = strstr(text, "\n  NOTIFY_API_KEY ");
	assert_non_null(k);
	const char *eol = strchr(k + 1, '\n');
	assert_non_null(eol);
	assert_memory_equal(eol - 8, " [unset]", 8);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup(test_defaults, reset),
	    cmocka_unit_test_setup(test_empty_values_mean_default, reset),
	    cmocka_unit_test_setup(test_reads_every_variable, reset),
	    cmocka_unit_test_setup(test_strings_point_into_lookup_values, reset),
	    cmocka_unit_test_setup(test_int_min_and_max_accepted, reset),
	    cmocka_unit_test_setup(test_int_out_of_range_rejected, reset),
	    cmocka_unit_test_setup(test_int_empty_is_default, reset),
	    cmocka_unit_test_setup(test_int_malformed_rejected, reset),
	    cmocka_unit_test_setup(test_int_leading_whitespace_rejected, reset),
	    cmocka_unit_test_setup(test_error_message_exact, reset),
	    cmocka_unit_test_setup(test_error_one_line_for_value_with_newline, reset),
	    cmocka_unit_test_setup(test_error_truncated_to_cap, reset),
	    cmocka_unit_test_setup(test_first_bad_variable_reported, reset),
	    cmocka_unit_test_setup(test_functions_port_overrides_port, reset),
	    cmocka_unit_test_setup(test_port_used_without_functions_port, reset),
	    cmocka_unit_test_setup(test_functions_port_invalid, reset),
	    cmocka_unit_test_setup(test_sender_valid, reset),
	    cmocka_unit_test_setup(test_sender_invalid, reset),
	    cmocka_unit_test_setup(test_allowed_senders_valid_list, reset),
	    cmocka_unit_test_setup(test_allowed_senders_one_bad_entry, reset),
	    cmocka_unit_test_setup(test_log_level_values, reset),
	    cmocka_unit_test_setup(test_string_length_limits, reset),
	    cmocka_unit_test_setup(test_api_key_255_accepted, reset),
	    cmocka_unit_test_setup(test_api_key_set_but_empty_refused, reset),
	    cmocka_unit_test_setup(test_api_key_too_long_not_echoed, reset),
	    cmocka_unit_test_setup(test_help_lists_every_variable, reset),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
