/* The hypervisor's command-line options: the table of known words and the check that reports the others. */
#include "hv/options.h"
#include "hv/cmdline.h"
#include "hv/string.h"

#define LOGLEVEL_MAX 3 /* console.h: LOG_DEBUG */

bool options_loglevel(const char *val, uint64_t *level)
{
	return cmdline_parse_u64(val, level) && *level <= LOGLEVEL_MAX;
}

bool options_bool(const char *val, bool *on)
{
	static const char *const yes[] = { "1", "on", "yes", "true" }, *const no[] = { "0", "off", "no", "false" };

	for (size_t i = 0; i < ARRAY_SIZE(yes); i++) {
		if (!strcmp(val, yes[i]) || !strcmp(val, no[i])) {
			*on = !strcmp(val, yes[i]);
			return true;
		}
	}
	return false;
}

/* Each checker gets the unquoted value (NULL for a bare word) and returns why it refuses it, or NULL. */
static const char *want_loglevel(const char *val)
{
	uint64_t level;

	return val && options_loglevel(val, &level) ? NULL : "expects loglevel=0..3 (0 errors, 1 warnings, 2 info, 3 debug)";
}

static const char *want_on_off(const char *val)
{
	bool on;

	return val && options_bool(val, &on) ? NULL : "expects on or off";
}

static const char *want_flag(const char *val)
{
	bool on;

	return !val || options_bool(val, &on) ? NULL : "is a flag: the bare word, or =on / =off";
}

static const char *want_number(const char *val)
{
	uint64_t n;

	return val && cmdline_parse_u64(val, &n) ? NULL : "expects a number";
}

static const char *judged_where_used(const char *val)
{
	(void)val;
	return NULL;
}

static const struct {
	const char *key;
	const char *(*check)(const char *val);
} known[] = {
	{ "serial", judged_where_used },
	{ "hvmem", judged_where_used },
	{ "loglevel", want_loglevel },
	{ "e9", want_on_off },
	{ "hide_hypervisor", want_flag },
	{ "debug_panic_cpu", want_number },
};

static const char *judge(const struct cmdline_word *w)
{
	char val[64];
	size_t n = 0;

	for (size_t i = 0; w->val && i < w->val_len && n + 1 < sizeof(val); i++)
		if (w->val[i] != '"')
			val[n++] = w->val[i];
	val[n] = '\0';
	for (size_t i = 0; i < ARRAY_SIZE(known); i++)
		if (w->key_len == strlen(known[i].key) && !strncmp(w->key, known[i].key, w->key_len))
			return known[i].check(w->val ? val : NULL);
	return "is not an option of the hypervisor (the README lists them)";
}

unsigned int options_check(const char *cmdline, void (*report)(void *ctx, const char *word, size_t len, const char *why),
			   void *ctx)
{
	struct cmdline_word w;
	unsigned int n = 0;

	while (cmdline && cmdline_next(&cmdline, &w)) {
		const char *why = judge(&w);
		size_t len = (size_t)((w.val ? w.val + w.val_len : w.key + w.key_len) - w.key);

		if (why) {
			report(ctx, w.key, len, why);
			n++;
		}
	}
	return n;
}
