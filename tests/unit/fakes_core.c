/* Host test doubles for the core pieces: a capturing printk, a panic that returns to the test, and a fake pool RAM. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hv/console.h"
#include "hv/mm.h"
#include "hv/panic.h"

/* Everything printed since the last fake_console_reset(). */
char fake_console[1 << 16];
size_t fake_console_len;

/* A test arms fake_panic_jmp with setjmp to survive an expected panic. */
jmp_buf fake_panic_jmp;
int fake_panic_armed;
char fake_panic_msg[512];

/* mm.c's stand-ins for the linker symbols and the identity map. */
paddr_t mm_test_image_start = 0x200000, mm_test_image_end = 0x400000;
static void *fake_pool_ram;

void fake_console_reset(void);
void fake_console_reset(void)
{
	fake_console_len = 0;
	fake_console[0] = '\0';
}

void vprintk(const char *fmt, va_list ap)
{
	size_t room = sizeof(fake_console) - fake_console_len;
	int n = vsnprintf(fake_console + fake_console_len, room, fmt, ap);

	if (n > 0)
		fake_console_len += (size_t)n < room ? (size_t)n : room - 1;
}

void printk(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vprintk(fmt, ap);
	va_end(ap);
}

void hv_log(enum log_level level, const char *fmt, ...)
{
	va_list ap;

	(void)level;
	va_start(ap, fmt);
	vprintk(fmt, ap);
	va_end(ap);
}

void panic(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(fake_panic_msg, sizeof(fake_panic_msg), fmt, ap);
	va_end(ap);
	if (fake_panic_armed) {
		fake_panic_armed = 0;
		longjmp(fake_panic_jmp, 1);
	}
	fprintf(stderr, "unexpected panic: %s\n", fake_panic_msg);
	abort();
}

void machine_exit(uint8_t status)
{
	fprintf(stderr, "unexpected machine_exit(%u)\n", status);
	abort();
}

/* Fresh, garbage-filled host memory standing in for the pool's RAM (frames must come back zeroed). */
void *mm_test_pool_map(paddr_t base, uint64_t size);
void *mm_test_pool_map(paddr_t base, uint64_t size)
{
	(void)base;
	free(fake_pool_ram);
	fake_pool_ram = malloc(size);
	if (fake_pool_ram)
		memset(fake_pool_ram, 0xa5, size);
	return fake_pool_ram;
}
