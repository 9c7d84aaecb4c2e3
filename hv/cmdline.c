/* The hypervisor command line: finding "key=value" words and bare flags, parsing sizes. */
#include "hv/cmdline.h"
#include "hv/string.h"

/*
 * A word runs to the next blank outside double quotes; quotes let a value
 * hold blanks (key="a b") and are not part of the value. When a key appears
 * more than once, the last word wins, so a boot entry can append overrides.
 */

static bool is_blank(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

bool cmdline_next(const char **p, struct cmdline_word *w)
{
	const char *s = *p;
	bool quoted = false;

	while (*s && is_blank(*s))
		s++;
	if (!*s)
		return false;
	w->key = s;
	w->val = NULL;
	for (; *s && (quoted || !is_blank(*s)); s++) {
		if (*s == '"')
			quoted = !quoted;
		else if (*s == '=' && !quoted && !w->val)
			w->val = s + 1;
	}
	w->key_len = (size_t)((w->val ? w->val - 1 : s) - w->key);
	w->val_len = w->val ? (size_t)(s - w->val) : 0;
	*p = s;
	return true;
}

/* The last word whose key is exactly key. */
static bool find_last(const char *cmdline, const char *key, struct cmdline_word *out)
{
	size_t klen;
	struct cmdline_word w;
	bool found = false;

	if (!cmdline || !key || !*key)
		return false;
	klen = strlen(key);
	while (cmdline_next(&cmdline, &w)) {
		if (w.key_len == klen && !strncmp(w.key, key, klen)) {
			*out = w;
			found = true;
		}
	}
	return found;
}

/* Copies a raw value without its quotes; false if it does not fit. */
static bool copy_unquoted(const struct cmdline_word *w, char *buf, size_t size)
{
	size_t n = 0;

	for (size_t i = 0; i < w->val_len; i++) {
		if (w->val[i] == '"')
			continue;
		if (n + 1 >= size)
			return false;
		buf[n++] = w->val[i];
	}
	buf[n] = '\0';
	return true;
}

bool cmdline_get_str(const char *cmdline, const char *key, char *buf, size_t size)
{
	struct cmdline_word w;

	if (!buf || !size || !find_last(cmdline, key, &w) || !w.val)
		return false;
	return copy_unquoted(&w, buf, size);
}

static int digit_value(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return 99;
}

static unsigned int suffix_shift(char c)
{
	switch (c) {
	case 'k': case 'K': return 10;
	case 'm': case 'M': return 20;
	case 'g': case 'G': return 30;
	case 't': case 'T': return 40;
	default:            return 0;
	}
}

/* Decimal or 0x-hex digits, then at most one size suffix; rejects overflow and junk. */
bool cmdline_parse_u64(const char *s, uint64_t *out)
{
	unsigned int base = 10, shift;
	uint64_t v = 0;
	const char *start;

	if (s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
		base = 16;
		s += 2;
	}
	for (start = s; digit_value(*s) < (int)base; s++) {
		unsigned int d = (unsigned int)digit_value(*s);

		if (v > (UINT64_MAX - d) / base)
			return false;
		v = v * base + d;
	}
	if (s == start)
		return false;
	shift = suffix_shift(*s);
	if (shift) {
		if (v > (UINT64_MAX >> shift))
			return false;
		v <<= shift;
		s++;
	}
	if (*s)
		return false;
	*out = v;
	return true;
}

bool cmdline_get_u64(const char *cmdline, const char *key, uint64_t *val)
{
	char buf[32];

	if (!val || !cmdline_get_str(cmdline, key, buf, sizeof(buf)))
		return false;
	return cmdline_parse_u64(buf, val);
}

int cmdline_get_choice(const char *cmdline, const char *key, const char *const *choices, int n)
{
	char buf[32];

	if (!cmdline_has_key(cmdline, key))
		return CMDLINE_ABSENT;
	if (!cmdline_get_str(cmdline, key, buf, sizeof(buf)))
		return CMDLINE_BAD_CHOICE; /* a bare word, or a value too long to be any choice */
	for (int i = 0; i < n; i++)
		if (!strcmp(buf, choices[i]))
			return i;
	return CMDLINE_BAD_CHOICE;
}

bool cmdline_has_key(const char *cmdline, const char *key)
{
	struct cmdline_word w;

	return find_last(cmdline, key, &w);
}

bool cmdline_has_flag(const char *cmdline, const char *flag)
{
	static const char *const yes[] = { "1", "on", "yes", "true" };
	struct cmdline_word w;
	char buf[8];

	if (!find_last(cmdline, flag, &w))
		return false;
	if (!w.val)
		return true;
	if (!copy_unquoted(&w, buf, sizeof(buf)))
		return false;
	for (size_t i = 0; i < ARRAY_SIZE(yes); i++)
		if (!strcmp(buf, yes[i]))
			return true;
	return false;
}
