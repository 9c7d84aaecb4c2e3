/* Parser for the loader's HV.CFG (hypervisor path, command line, modules); pure C, no EFI headers. */
#ifndef HVBOOT_CFG_H
#define HVBOOT_CFG_H

#include "hv/types.h"
#include "hv/boot_info.h"

#define CFG_PATH_MAX 128

struct cfg_module {
	char path[CFG_PATH_MAX];          /* volume path, backslash-separated, leading '\' */
	char args[BOOT_MOD_CMDLINE_MAX];  /* what follows the path: the module's command line */
};

struct hv_cfg {
	char hypervisor[CFG_PATH_MAX];
	char cmdline[BOOT_CMDLINE_MAX];
	bool verbose; /* print the boot_info on serial before the jump */
	bool stale_key_test; /* self-test: the first ExitBootServices gets a stale map key */
	uint32_t module_count;
	struct cfg_module modules[BOOT_MAX_MODULES];
};

enum cfg_err {
	CFG_OK = 0,
	CFG_ERR_NO_EQUALS,      /* a line that is neither blank, a comment nor key=value */
	CFG_ERR_UNKNOWN_KEY,
	CFG_ERR_DUPLICATE,      /* a key other than module= given twice */
	CFG_ERR_TOO_LONG,       /* a value that does not fit its field */
	CFG_ERR_EMPTY_PATH,
	CFG_ERR_TOO_MANY_MODULES,
	CFG_ERR_BAD_VALUE,      /* a flag other than 0/1/yes/no/on/off */
	CFG_ERR_NUL_BYTE,       /* a text file never holds NUL: probably not the config */
	CFG_ERR_NO_HYPERVISOR,
};

/* Where a parse error was found: 1-based line number (0 for whole-file errors). */
struct cfg_error {
	enum cfg_err code;
	uint32_t line;
};

/*
 * Parses len bytes of config text (need not be terminated). Lines are
 * "key=value" (LF or CRLF), '#' starts a comment line, blanks around keys
 * and values are ignored. Keys: hypervisor (once, required), cmdline
 * (once), module (repeatable: "path args..."), verbose (once), and
 * test_stale_map_key (once; makes the ExitBootServices retry path run).
 */
enum cfg_err cfg_parse(const char *text, size_t len, struct hv_cfg *out, struct cfg_error *err);
const char *cfg_strerror(enum cfg_err code);

#endif
