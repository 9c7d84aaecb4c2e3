/* The shared test-guest library: COM1 printf, exception capture, multiboot info, exit. */
#ifndef GUEST_H
#define GUEST_H

typedef unsigned char uint8_t;
typedef unsigned short uint16_t;
typedef unsigned int uint32_t;
typedef unsigned long long uint64_t;
typedef int int32_t;
typedef unsigned int size_t;
typedef int bool;
#define true 1
#define false 0
#define NULL ((void *)0)

#define MB1_BOOT_MAGIC 0x2BADB002u

/* Multiboot v1 information structure (only the fields the guests read). */
struct mb_info {
	uint32_t flags;
	uint32_t mem_lower, mem_upper;
	uint32_t boot_device;
	uint32_t cmdline;
	uint32_t mods_count, mods_addr;
	uint32_t syms[4];
	uint32_t mmap_length, mmap_addr;
	uint32_t drives_length, drives_addr;
	uint32_t config_table;
	uint32_t boot_loader_name;
};

enum mb_flag {
	MBF_MEM = 1u << 0,
	MBF_CMDLINE = 1u << 2,
	MBF_MODS = 1u << 3,
	MBF_MMAP = 1u << 6,
	MBF_LOADER = 1u << 9,
};

struct mb_module {
	uint32_t start, end, string, reserved;
};

/* A memory map entry; "size" does not count itself, hence the stride of size + 4. */
struct mb_mmap_entry {
	uint32_t size;
	uint64_t base, len;
	uint32_t type;
} __attribute__((packed));

/* Each guest defines its name and its test body; the return value is its exit status. */
extern const char guest_name[];
int guest_main(const struct mb_info *mbi);

/* Port I/O and CPU helpers. */
static inline void outb(uint16_t port, uint8_t v) { __asm__ volatile("outb %0, %1" : : "a"(v), "Nd"(port)); }
static inline uint8_t inb(uint16_t port) { uint8_t v; __asm__ volatile("inb %1, %0" : "=a"(v) : "Nd"(port)); return v; }
static inline void cpuid(uint32_t leaf, uint32_t sub, uint32_t r[4])
{
	__asm__ volatile("cpuid" : "=a"(r[0]), "=b"(r[1]), "=c"(r[2]), "=d"(r[3]) : "a"(leaf), "c"(sub));
}
static inline uint64_t rdtsc(void) { uint32_t lo, hi; __asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi)); return ((uint64_t)hi << 32) | lo; }
static inline uint32_t read_cr0(void) { uint32_t v; __asm__ volatile("mov %%cr0, %0" : "=r"(v)); return v; }
static inline uint32_t read_cr2(void) { uint32_t v; __asm__ volatile("mov %%cr2, %0" : "=r"(v)); return v; }
static inline uint32_t read_cr4(void) { uint32_t v; __asm__ volatile("mov %%cr4, %0" : "=r"(v)); return v; }
static inline void write_cr0(uint32_t v) { __asm__ volatile("mov %0, %%cr0" : : "r"(v) : "memory"); }
static inline void write_cr3(uint32_t v) { __asm__ volatile("mov %0, %%cr3" : : "r"(v) : "memory"); }

/* console.c: COM1 output. Lines starting with '~' are expected to differ under the hypervisor. */
void serial_init(void);
void putc_serial(char c);
void puts_serial(const char *s);
int printf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void *memset(void *d, int c, size_t n);
void *memcpy(void *d, const void *s, size_t n);
size_t strlen(const char *s);
int strcmp(const char *a, const char *b);

/* idt.c: every exception is caught; a probe arms a resume address so the handler can skip the faulting code. */
struct fault_info {
	uint32_t vector, error, cr2, eip;
};
extern volatile struct fault_info last_fault;
extern volatile uint32_t fault_resume;
extern volatile uint32_t fault_count;
void idt_init(void);
void fault_print(const char *what); /* prints "<what>: vector=.. err=.. cr2=.." or "<what>: no fault" */

/*
 * Runs one instruction sequence with fault recovery: if it faults, execution
 * continues at the label "1:" placed after it. Yields true if a fault was taken.
 */
#define FAULT_PROBE(asm_body, ...) ({                                     \
	uint32_t __before = fault_count;                                 \
	__asm__ volatile("movl $1f, %[__resume]\n\t" asm_body "\n1:\n\t"  \
			 "movl $0, %[__resume]"                           \
			 : [__resume] "+m"(fault_resume) __VA_ARGS__);    \
	fault_count != __before; })

/* Safe MSR access; false if the instruction faulted (details in last_fault). */
bool rdmsr_safe(uint32_t msr, uint64_t *val);
bool wrmsr_safe(uint32_t msr, uint64_t val);

/* mbi.c */
const char *mbi_cmdline(const struct mb_info *mbi);
uint64_t mbi_usable_bytes(const struct mb_info *mbi);
void mbi_print_mmap(const struct mb_info *mbi);
/* Calls fn for each memory map entry (none without MBF_MMAP). */
void mbi_mmap_walk(const struct mb_info *mbi, void (*fn)(const struct mb_mmap_entry *, void *), void *arg);
/* Type of the map entry covering [base, base+len) entirely, 0 if none does. */
uint32_t mbi_range_type(const struct mb_info *mbi, uint64_t base, uint64_t len);

/* exit.c: prints "TEST-END status" and ends the machine (hypervisor exit device, else Bochs). */
__attribute__((noreturn)) void guest_exit(uint8_t status);

/* Common status codes the guests use. */
enum guest_status {
	GUEST_OK = 0,
	GUEST_FAIL = 1,
	GUEST_BAD_MAGIC = 2,
	GUEST_UNEXPECTED_FAULT = 3,
};

#endif
