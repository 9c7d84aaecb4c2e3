/* The hypervisor command line: "key=value" and bare "flag" words separated by spaces. */
#ifndef HV_CMDLINE_H
#define HV_CMDLINE_H

#include "hv/types.h"

/* Copies the value of "key=value" into buf (terminated); false if absent or too long. */
bool cmdline_get_str(const char *cmdline, const char *key, char *buf, size_t size);
/* Parses a number (decimal, 0x hex, optional K/M/G suffix); false if absent or malformed. */
bool cmdline_get_u64(const char *cmdline, const char *key, uint64_t *val);
/* The index of key's value among choices[0..n); CMDLINE_ABSENT, or CMDLINE_BAD_CHOICE if it is none of them. */
#define CMDLINE_ABSENT     (-1)
#define CMDLINE_BAD_CHOICE (-2)
int cmdline_get_choice(const char *cmdline, const char *key, const char *const *choices, int n);
/* True if a word "key" or "key=anything" is present. */
bool cmdline_has_key(const char *cmdline, const char *key);
/* True if the bare word "flag" (or "flag=1"/"flag=on") is present. */
bool cmdline_has_flag(const char *cmdline, const char *flag);

/* One word of a command line, pointing into it: key, and the value after '=' (raw, quotes kept). */
struct cmdline_word {
	const char *key;
	size_t key_len;
	const char *val; /* NULL for a bare word */
	size_t val_len;
};
/* Reads the word at *cursor and advances past it; false at the end of the line. */
bool cmdline_next(const char **cursor, struct cmdline_word *w);
/* A number as cmdline_get_u64 takes it (decimal, 0x hex, optional K/M/G/T suffix); false if malformed. */
bool cmdline_parse_u64(const char *s, uint64_t *out);

#endif
