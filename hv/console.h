/* Console output: kernel printf to COM1 (and port 0xE9), with log levels. */
#ifndef HV_CONSOLE_H
#define HV_CONSOLE_H

#include <stdarg.h>
#include "hv/types.h"

enum log_level {
	LOG_ERR   = 0,
	LOG_WARN  = 1,
	LOG_INFO  = 2,
	LOG_DEBUG = 3,
};

void console_init(void);
void console_set_level(enum log_level level);
void console_set_serial_port(uint16_t port); /* 0 disables the UART */
void console_set_e9(bool on);
void console_write(const char *s, size_t len);
void console_break_lock(void); /* for panic() only */

/* printk prints unconditionally; hv_log filters by the current level. */
void printk(const char *fmt, ...) __printf(1, 2);
void vprintk(const char *fmt, va_list ap);
void hv_log(enum log_level level, const char *fmt, ...) __printf(2, 3);

#define pr_err(...)   hv_log(LOG_ERR, __VA_ARGS__)
#define pr_warn(...)  hv_log(LOG_WARN, __VA_ARGS__)
#define pr_info(...)  hv_log(LOG_INFO, __VA_ARGS__)
#define pr_debug(...) hv_log(LOG_DEBUG, __VA_ARGS__)

/* Freestanding formatter (pure: also built into the host tests). */
int hv_vsnprintf(char *buf, size_t size, const char *fmt, va_list ap);
int hv_snprintf(char *buf, size_t size, const char *fmt, ...) __printf(3, 4);

#endif
