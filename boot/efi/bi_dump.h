/* Text dump of a struct boot_info, line by line, for the loader's serial log; pure C. */
#ifndef HVBOOT_BI_DUMP_H
#define HVBOOT_BI_DUMP_H

#include "hv/types.h"
#include "hv/boot_info.h"

/* Longest line bi_dump() produces: a prefix, a label and a full command line. */
#define BI_LINE_MAX (BOOT_CMDLINE_MAX + 64)

typedef void (*bi_line_fn)(const char *line, void *ctx);

/* Calls out(line, ctx) for each line ("hvboot: ..." without newline) describing bi. */
void bi_dump(const struct boot_info *bi, bi_line_fn out, void *ctx);

/* Writes v as 0x-prefixed hex, at least digits wide, into buf (terminated); returns its length. */
size_t fmt_hex(char *buf, uint64_t v, unsigned digits);
/* Writes v in decimal into buf (terminated); returns its length. */
size_t fmt_dec(char *buf, uint64_t v);

#endif
