/* String I/O (REP INS/OUTS) and wide accesses to ports the hypervisor intercepts: registers, segments, faults, straddling accesses. */
#include "guest.h"

const char guest_name[] = "strio";

#define POST 0x80          /* intercepted by the hypervisor (its POST-code latch) */
#define EXIT_PORT 0xf4     /* the test-exit device: never written here except to end */
#define SEL_SMALL 0x18     /* data, base scratch, limit 0xfff */
#define SEL_RO    0x20     /* data, read-only, flat */
#define SEL_DOWN  0x28     /* data, expand-down, limit 0xfff, B=1 */
#define SEL_64K   0x30     /* data, base scratch, limit 0xffff */
#define PTE_P 0x001u
#define PTE_W 0x002u
#define CR0_PG 0x80000000u
#define CR0_WP 0x00010000u

static uint64_t gdt[7] __attribute__((aligned(8)));
static uint8_t scratch[0x10000] __attribute__((aligned(4096)));
static uint8_t pf_area[3 * 4096] __attribute__((aligned(4096))); /* page 1 absent, page 2 read-only under paging */
static uint32_t page_dir[1024] __attribute__((aligned(4096)));
static uint32_t page_table[1024] __attribute__((aligned(4096)));
static const char hello[] = "HELLO";

static uint64_t seg_desc(uint32_t base, uint32_t limit, uint8_t access, uint8_t flags)
{
	return (limit & 0xffff) | ((uint64_t)(base & 0xffffff) << 16) | ((uint64_t)access << 40) |
	       ((uint64_t)((limit >> 16) & 0xf) << 48) | ((uint64_t)flags << 52) | ((uint64_t)(base >> 24) << 56);
}

static void gdt_setup(void)
{
	struct { uint16_t limit; uint32_t base; } __attribute__((packed)) d = { sizeof(gdt) - 1, (uint32_t)gdt };

	gdt[1] = 0x00cf9a000000ffffULL;
	gdt[2] = 0x00cf92000000ffffULL;
	gdt[3] = seg_desc((uint32_t)scratch, 0xfff, 0x92, 0x4);
	gdt[4] = 0x00cf90000000ffffULL;
	gdt[5] = seg_desc(0, 0xfff, 0x96, 0x4);
	gdt[6] = seg_desc((uint32_t)scratch, 0xffff, 0x92, 0x4);
	__asm__ volatile("lgdt %0" : : "m"(d));
}

static inline void outw(uint16_t port, uint16_t v) { __asm__ volatile("outw %0, %1" : : "a"(v), "Nd"(port)); }
static inline uint16_t inw(uint16_t port) { uint16_t v; __asm__ volatile("inw %1, %0" : "=a"(v) : "Nd"(port)); return v; }

static void basic_outs_ins(void)
{
	uint32_t esi = (uint32_t)hello, ecx = 5, edi;
	uint8_t dst[4] = { 0, 0, 0, 0 };

	__asm__ volatile("rep outsb" : "+S"(esi), "+c"(ecx) : "d"(POST) : "memory");
	printf("rep outsb x5: esi+%u ecx=%u post=0x%02x\n", esi - (uint32_t)hello, ecx, inb(POST));
	outb(POST, 0x3c);
	edi = (uint32_t)dst;
	ecx = 3;
	__asm__ volatile("rep insb" : "+D"(edi), "+c"(ecx) : "d"(POST) : "memory");
	printf("rep insb x3: edi+%u ecx=%u bytes %02x %02x %02x %02x\n", edi - (uint32_t)dst, ecx, dst[0], dst[1], dst[2], dst[3]);
	/* Count 0: nothing moves. */
	esi = (uint32_t)hello;
	ecx = 0;
	outb(POST, 0x11);
	__asm__ volatile("rep outsb" : "+S"(esi), "+c"(ecx) : "d"(POST) : "memory");
	printf("rep outsb x0: esi+%u post=0x%02x\n", esi - (uint32_t)hello, inb(POST));
	/* No REP: one element, ECX untouched. */
	ecx = 7;
	__asm__ volatile("outsb" : "+S"(esi), "+c"(ecx) : "d"(POST) : "memory");
	printf("outsb: esi+%u ecx=%u post=0x%02x\n", esi - (uint32_t)hello, ecx, inb(POST));
}

static void direction_and_long_rep(void)
{
	uint32_t esi = (uint32_t)&hello[4], ecx = 3;
	uint16_t words[2] = { 0, 0 };
	uint32_t edi;

	__asm__ volatile("std\n\trep outsb\n\tcld" : "+S"(esi), "+c"(ecx) : "d"(POST) : "memory", "cc");
	printf("std rep outsb x3: esi=hello+%d post=0x%02x\n", (int)(esi - (uint32_t)hello), inb(POST));
	/* INSW from the test-exit device (write-only: reads all ones), backwards. */
	edi = (uint32_t)&words[1];
	ecx = 2;
	__asm__ volatile("std\n\trep insw\n\tcld" : "+D"(edi), "+c"(ecx) : "d"(EXIT_PORT) : "memory", "cc");
	printf("std rep insw x2 from 0xf4: edi=words%d words %04x %04x\n", (int)(edi - (uint32_t)words), words[0], words[1]);
	/* More iterations than one exit does: the rest resume at the instruction. */
	for (int i = 0; i < 300; i++)
		scratch[i] = (uint8_t)(i * 7);
	esi = (uint32_t)scratch;
	ecx = 300;
	__asm__ volatile("rep outsb" : "+S"(esi), "+c"(ecx) : "d"(POST) : "memory");
	printf("rep outsb x300: esi+%u ecx=%u post=0x%02x\n", esi - (uint32_t)scratch, ecx, inb(POST));
}

/* 16-bit addresses in 32-bit code (0x67): SI and CX wrap inside 64 KiB, their upper halves stay. */
static void address_size_16(void)
{
	uint32_t esi = 0xabcdfffeu, ecx = 0x12340003u;

	scratch[0xfffe] = 0xa1;
	scratch[0xffff] = 0xa2;
	scratch[0] = 0xa3;
	__asm__ volatile("movw %w[s], %%fs\n\trep outsb %%fs:(%%si), (%%dx)"
			 : "+S"(esi), "+c"(ecx) : "d"(POST), [s] "r"(SEL_64K) : "memory");
	printf("a16 rep outsb fs: esi=0x%08x ecx=0x%08x post=0x%02x\n", esi, ecx, inb(POST));
}

static void segment_faults(void)
{
	uint32_t esi = 0xffe, ecx = 4, edi;
	bool f;

	for (int i = 0; i < 4; i++)
		scratch[0xffe + i] = (uint8_t)(0xb0 + i);
	outb(POST, 0);
	f = FAULT_PROBE("movw %w[s], %%fs\n\trep outsb %%fs:(%%esi), (%%dx)", , "+S"(esi), "+c"(ecx)
			: "d"(POST), [s] "r"(SEL_SMALL) : "memory");
	printf("limit: %s vector=%u err=0x%x esi=0x%x ecx=%u post=0x%02x\n", f ? "fault" : "no fault",
	       last_fault.vector, last_fault.error, esi, ecx, inb(POST));
	/* INS into a read-only ES: #GP(0) before any iteration (the handler reloads ES). */
	edi = (uint32_t)scratch;
	ecx = 2;
	f = FAULT_PROBE("movw %w[s], %%es\n\trep insb", , "+D"(edi), "+c"(ecx) : "d"(POST), [s] "r"(SEL_RO) : "memory");
	__asm__ volatile("movw %w0, %%es" : : "r"(0x10));
	printf("read-only es: %s vector=%u err=0x%x ecx=%u\n", f ? "fault" : "no fault", last_fault.vector,
	       last_fault.error, ecx);
	/* OUTS through a read-only segment is fine. */
	esi = (uint32_t)hello;
	ecx = 1;
	f = FAULT_PROBE("movw %w[s], %%fs\n\trep outsb %%fs:(%%esi), (%%dx)", , "+S"(esi), "+c"(ecx)
			: "d"(POST), [s] "r"(SEL_RO) : "memory");
	printf("read-only fs outsb: %s post=0x%02x\n", f ? "fault" : "no fault", inb(POST));
	/* An expand-down SS: offsets at or below the limit give #SS(0). */
	esi = 0x800;
	ecx = 1;
	f = FAULT_PROBE("movw %%ss, %%bx\n\tmovw %w[s], %%ss\n\trep outsb %%ss:(%%esi), (%%dx)\n1:\n\tmovw %%bx, %%ss\n\tjmp 2f\n2:",
			, "+S"(esi), "+c"(ecx) : "d"(POST), [s] "r"(SEL_DOWN) : "ebx", "memory");
	printf("expand-down ss: %s vector=%u err=0x%x ecx=%u\n", f ? "fault" : "no fault", last_fault.vector,
	       last_fault.error, ecx);
	__asm__ volatile("movw %w0, %%fs" : : "r"(0x10));
}

static void paging_on(void)
{
	for (uint32_t i = 0; i < 512; i++)
		page_table[i] = (i << 12) | PTE_P | PTE_W;
	page_table[((uint32_t)pf_area >> 12) + 1] = 0;
	page_table[((uint32_t)pf_area >> 12) + 2] &= ~PTE_W;
	page_dir[0] = (uint32_t)page_table | PTE_P | PTE_W;
	write_cr3((uint32_t)page_dir);
	write_cr0(read_cr0() | CR0_PG | CR0_WP);
}

static void page_faults(void)
{
	uint32_t absent = (uint32_t)pf_area + 4096, ro = absent + 4096;
	uint32_t edi = absent - 4, ecx = 8, esi;
	bool f;

	paging_on();
	f = FAULT_PROBE("rep insb", , "+D"(edi), "+c"(ecx) : "d"(POST) : "memory");
	printf("insb into absent page: %s vector=%u err=0x%x cr2=page+%d edi=page+%d ecx=%u\n", f ? "fault" : "no fault",
	       last_fault.vector, last_fault.error, (int)(last_fault.cr2 - absent), (int)(edi - absent), ecx);
	esi = absent - 2;
	ecx = 4;
	f = FAULT_PROBE("rep outsb", , "+S"(esi), "+c"(ecx) : "d"(POST) : "memory");
	printf("outsb from absent page: %s vector=%u err=0x%x cr2=page+%d esi=page+%d ecx=%u\n", f ? "fault" : "no fault",
	       last_fault.vector, last_fault.error, (int)(last_fault.cr2 - absent), (int)(esi - absent), ecx);
	edi = ro;
	ecx = 2;
	f = FAULT_PROBE("rep insb", , "+D"(edi), "+c"(ecx) : "d"(POST) : "memory");
	printf("insb into read-only page: %s vector=%u err=0x%x cr2=page+%d ecx=%u\n", f ? "fault" : "no fault",
	       last_fault.vector, last_fault.error, (int)(last_fault.cr2 - ro), ecx);
	/* One element crossing into the absent page. */
	edi = absent - 1;
	f = FAULT_PROBE("insw", , "+D"(edi) : "d"(EXIT_PORT) : "memory");
	printf("insw across into absent page: %s vector=%u err=0x%x cr2=page+%d edi=page+%d\n", f ? "fault" : "no fault",
	       last_fault.vector, last_fault.error, (int)(last_fault.cr2 - absent), (int)(edi - absent));
	write_cr0(read_cr0() & ~(CR0_PG | CR0_WP));
}

/*
 * A word at 0x7f covers port 0x80 too: on the hardware's I/O bus the high
 * byte reaches port 0x80. Bochs hands the whole access to the device at the
 * first port (iodev/devices.cc, bx_devices_c::outp/inp: one handler,
 * write_port_to_handler[addr], gets the access unsplit), so bare Bochs never
 * shows it: "~" lines, judged by tests/e2e/test_io.py under the hypervisor.
 */
static void straddling(void)
{
	outb(POST, 0x22);
	outw(0x7f, 0x5a00);
	printf("~outw 0x7f=0x5a00: post=0x%02x\n", inb(POST));
	printf("~inw 0x7f: high byte 0x%02x\n", inw(0x7f) >> 8);
}

int guest_main(const struct mb_info *mbi)
{
	(void)mbi;
	gdt_setup();
	basic_outs_ins();
	direction_and_long_rep();
	address_size_16();
	segment_faults();
	page_faults();
	straddling();
	/* The end: a word at 0xf3 puts the status byte on the test-exit port 0xf4 (bare Bochs has no such device). */
	printf("TEST-END 0\n");
	outw(0xf3, 0x0000);
	printf("~exit device absent, stopping Bochs directly\n");
	__asm__ volatile("xchgw %bx, %bx");
	for (;;)
		__asm__ volatile("cli; hlt");
	return 0;
}
