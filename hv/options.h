/* The hypervisor's command-line options: which words it knows and why it refuses one it cannot take. */
#ifndef HV_OPTIONS_H
#define HV_OPTIONS_H

#include "hv/types.h"

/*
 * Calls report(ctx, word, len, why) for every word of cmdline the
 * hypervisor does not take as given: an unknown option, or a known one
 * whose value it does not understand (why says what it expects). Returns
 * the number of words reported. serial= and hvmem= values are judged where
 * they are used (main.c, mm.c), which say what they use instead.
 */
unsigned int options_check(const char *cmdline, void (*report)(void *ctx, const char *word, size_t len, const char *why),
			   void *ctx);

/* loglevel=: 0..3, else false. */
bool options_loglevel(const char *val, uint64_t *level);
/* e9= and flags: on/1/yes/true or off/0/no/false, else false. */
bool options_bool(const char *val, bool *on);

#endif
