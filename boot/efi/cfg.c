/* Parser for the loader's HV.CFG: line-oriented key=value text into struct hv_cfg. */
#include "boot/efi/cfg.h"

/* A slice of the input text: never terminated, never copied until stored. */
struct span {
	const char *p;
	size_t n;
};

static bool is_blank(char c)
{
	return c == ' ' || c == '\t' || c == '\r';
}

static struct span trim(struct span s)
{
	while (s.n && is_blank(s.p[0])) {
		s.p++;
		s.n--;
	}
	while (s.n && is_blank(s.p[s.n - 1]))
		s.n--;
	return s;
}

static bool span_eq(struct span s, const char *word)
{
	size_t i;

	for (i = 0; i < s.n; i++)
		if (word[i] != s.p[i])
			return false;
	return word[i] == '\0';
}

/* Copies s into dst[size] terminated; false if it does not fit. */
static bool store(char *dst, size_t size, struct span s)
{
	if (s.n >= size)
		return false;
	__builtin_memcpy(dst, s.p, s.n);
	dst[s.n] = '\0';
	return true;
}

/*
 * UEFI file paths use '\' (UEFI 2.10 §13.5 EFI_FILE_PROTOCOL.Open), but '/'
 * is what people type: accept both and make the path absolute on the volume.
 */
static enum cfg_err store_path(char *dst, struct span s)
{
	size_t i, o = 0;

	if (s.n == 0)
		return CFG_ERR_EMPTY_PATH;
	if (s.p[0] != '\\' && s.p[0] != '/')
		dst[o++] = '\\';
	if (o + s.n >= CFG_PATH_MAX)
		return CFG_ERR_TOO_LONG;
	for (i = 0; i < s.n; i++)
		dst[o++] = s.p[i] == '/' ? '\\' : s.p[i];
	dst[o] = '\0';
	return CFG_OK;
}

static enum cfg_err parse_bool(struct span v, bool *out)
{
	if (span_eq(v, "1") || span_eq(v, "yes") || span_eq(v, "on"))
		*out = true;
	else if (span_eq(v, "0") || span_eq(v, "no") || span_eq(v, "off"))
		*out = false;
	else
		return CFG_ERR_BAD_VALUE;
	return CFG_OK;
}

/* "module=PATH ARGS": PATH ends at the first blank; ARGS is the rest, trimmed. */
static enum cfg_err parse_module(struct hv_cfg *cfg, struct span v)
{
	struct cfg_module *m;
	struct span path = v, args = { v.p + v.n, 0 };
	enum cfg_err e;
	size_t i;

	if (cfg->module_count >= BOOT_MAX_MODULES)
		return CFG_ERR_TOO_MANY_MODULES;
	for (i = 0; i < v.n; i++) {
		if (is_blank(v.p[i])) {
			path.n = i;
			args = trim((struct span){ v.p + i, v.n - i });
			break;
		}
	}
	m = &cfg->modules[cfg->module_count];
	e = store_path(m->path, path);
	if (e != CFG_OK)
		return e;
	if (!store(m->args, sizeof(m->args), args))
		return CFG_ERR_TOO_LONG;
	cfg->module_count++;
	return CFG_OK;
}

/* Which once-only keys were seen, so a repeated one is an error, not a silent override. */
struct seen {
	bool hypervisor, cmdline, verbose, stale_key_test;
};

static enum cfg_err once(bool *flag)
{
	if (*flag)
		return CFG_ERR_DUPLICATE;
	*flag = true;
	return CFG_OK;
}

static enum cfg_err parse_pair(struct hv_cfg *cfg, struct seen *seen, struct span k, struct span v)
{
	enum cfg_err e;

	if (span_eq(k, "module"))
		return parse_module(cfg, v);
	if (span_eq(k, "hypervisor")) {
		e = once(&seen->hypervisor);
		return e != CFG_OK ? e : store_path(cfg->hypervisor, v);
	}
	if (span_eq(k, "cmdline")) {
		e = once(&seen->cmdline);
		if (e != CFG_OK)
			return e;
		return store(cfg->cmdline, sizeof(cfg->cmdline), v) ? CFG_OK : CFG_ERR_TOO_LONG;
	}
	if (span_eq(k, "verbose")) {
		e = once(&seen->verbose);
		return e != CFG_OK ? e : parse_bool(v, &cfg->verbose);
	}
	if (span_eq(k, "test_stale_map_key")) {
		e = once(&seen->stale_key_test);
		return e != CFG_OK ? e : parse_bool(v, &cfg->stale_key_test);
	}
	return CFG_ERR_UNKNOWN_KEY;
}

static enum cfg_err parse_line(struct hv_cfg *cfg, struct seen *seen, struct span line)
{
	size_t i;

	line = trim(line);
	if (line.n == 0 || line.p[0] == '#')
		return CFG_OK;
	for (i = 0; i < line.n; i++) {
		if (line.p[i] == '=') {
			struct span k = trim((struct span){ line.p, i });
			struct span v = trim((struct span){ line.p + i + 1, line.n - i - 1 });
			return parse_pair(cfg, seen, k, v);
		}
	}
	return CFG_ERR_NO_EQUALS;
}

static enum cfg_err fail(struct cfg_error *err, enum cfg_err code, uint32_t line)
{
	if (err) {
		err->code = code;
		err->line = line;
	}
	return code;
}

enum cfg_err cfg_parse(const char *text, size_t len, struct hv_cfg *out, struct cfg_error *err)
{
	struct seen seen = { false, false, false, false };
	size_t start = 0, i;
	uint32_t line = 1;
	enum cfg_err e;

	__builtin_memset(out, 0, sizeof(*out));
	for (i = 0; i <= len; i++) {
		if (i < len && text[i] == '\0')
			return fail(err, CFG_ERR_NUL_BYTE, line);
		if (i < len && text[i] != '\n')
			continue;
		e = parse_line(out, &seen, (struct span){ text + start, i - start });
		if (e != CFG_OK)
			return fail(err, e, line);
		start = i + 1;
		line++;
	}
	if (!seen.hypervisor)
		return fail(err, CFG_ERR_NO_HYPERVISOR, 0);
	return fail(err, CFG_OK, 0);
}

const char *cfg_strerror(enum cfg_err code)
{
	switch (code) {
	case CFG_OK:                   return "no error";
	case CFG_ERR_NO_EQUALS:        return "expected key=value";
	case CFG_ERR_UNKNOWN_KEY:      return "unknown key (known: hypervisor, cmdline, module, verbose, test_stale_map_key)";
	case CFG_ERR_DUPLICATE:        return "key given twice (only module= may repeat)";
	case CFG_ERR_TOO_LONG:         return "value too long";
	case CFG_ERR_EMPTY_PATH:       return "empty file path";
	case CFG_ERR_TOO_MANY_MODULES: return "too many module= lines";
	case CFG_ERR_BAD_VALUE:        return "bad value (expected 0/1, yes/no, on/off)";
	case CFG_ERR_NUL_BYTE:         return "NUL byte in the file (not a text file?)";
	case CFG_ERR_NO_HYPERVISOR:    return "no hypervisor= line";
	}
	return "unknown error";
}
