/* A write to the local APIC by a MOV that ends a page whose next page maps 4 GiB, 512 GiB, device memory or nothing; the hypervisor fetching it must survive. */
#include "guest.h"

const char guest_name[] = "apicfetch";

#define APIC_TPR   0xfee00080u
#define CODE_LIN   0x40000000u  /* PDPTE 1 -> pd1 -> pt: page 0 the code, page 1 the target */
#define PG_P       0x1ULL
#define PG_RW      0x2ULL
#define PG_PWT     0x8ULL
#define PG_PCD     0x10ULL
#define PG_PS      0x80ULL
#define CR0_PG     0x80000000u
#define CR4_PAE    0x20u
#define RFLAGS_TF  0x100u

static uint64_t pdpt[4] __attribute__((aligned(32)));
static uint64_t pd0[512] __attribute__((aligned(4096)));
static uint64_t pd1[512] __attribute__((aligned(4096)));
static uint64_t pd3[512] __attribute__((aligned(4096)));
static uint64_t pt[512] __attribute__((aligned(4096)));
static uint8_t code_page[4096] __attribute__((aligned(4096)));

volatile uint32_t db_eip, db_resume, db_count;

/* #DB: note where the single-step trap hit, clear TF, go on at db_resume. */
__asm__(".text\n"
	"db_handler:\n"
	"	incl db_count\n"
	"	pushl %eax\n"
	"	movl 4(%esp), %eax\n"
	"	movl %eax, db_eip\n"
	"	movl db_resume, %eax\n"
	"	movl %eax, 4(%esp)\n"
	"	andl $~0x100, 12(%esp)\n"
	"	popl %eax\n"
	"	iret\n");
extern const char db_handler[];

static void hook_db(void)
{
	struct { uint16_t limit; uint32_t base; } __attribute__((packed)) idtr;
	uint16_t *gate;

	__asm__ volatile("sidt %0" : "=m"(idtr));
	gate = (uint16_t *)(idtr.base + 8 * 1);
	gate[0] = (uint16_t)(uint32_t)db_handler;
	gate[3] = (uint16_t)((uint32_t)db_handler >> 16);
}

/* PAE paging: the first GiB and the last one identity-mapped (the APIC uncached), CODE_LIN by 4 KiB pages. */
static void paging_on(void)
{
	for (uint32_t i = 0; i < 512; i++) {
		pd0[i] = ((uint64_t)i << 21) | PG_PS | PG_RW | PG_P;
		pd3[i] = (0xc0000000ULL + ((uint64_t)i << 21)) | PG_PS | PG_RW | PG_P | PG_PCD | PG_PWT;
	}
	pd1[0] = (uint32_t)pt | PG_RW | PG_P;
	pdpt[0] = (uint32_t)pd0 | PG_P;
	pdpt[1] = (uint32_t)pd1 | PG_P;
	pdpt[3] = (uint32_t)pd3 | PG_P;
	pt[0] = (uint32_t)code_page | PG_RW | PG_P;
	__asm__ volatile("mov %%cr4, %%eax; orl %0, %%eax; mov %%eax, %%cr4" : : "i"(CR4_PAE) : "eax");
	write_cr3((uint32_t)pdpt);
	write_cr0(read_cr0() | CR0_PG);
}

/*
 * Enter the MOV (89 03: mov %eax,(%ebx)) in the last two bytes of the code
 * page by IRET with TF set: the single-step trap comes right after it, before
 * anything is fetched from the next page (SDM 17.3.1.4).
 */
static void run_case(const char *what, uint64_t next_pte, uint32_t start)
{
	uint32_t before = db_count;

	pt[1] = next_pte;
	__asm__ volatile("invlpg (%0)" : : "r"(CODE_LIN + 0x1000) : "memory");
	*(volatile uint32_t *)APIC_TPR = 0;
	__asm__ volatile("movl $1f, db_resume\n\t"
			 "pushfl\n\torl %[tf], (%%esp)\n\tpushl %%cs\n\tpushl %[target]\n\tiret\n"
			 "1:"
			 : : [tf] "i"(RFLAGS_TF), [target] "r"(CODE_LIN + start), "a"(0x20u), "b"(APIC_TPR)
			 : "memory", "cc");
	printf("%s: single-steps=%u eip=%08x tpr=%08x\n", what, db_count - before, db_eip,
	       *(volatile uint32_t *)APIC_TPR);
}

/*
 * "straddle": the MOV's second byte lies in the next page, mapped to RAM the
 * memory map reserves (the EBDA page at 0x9f000). The hypervisor reads only
 * L1's usable RAM, so as L1 this ends in a stop naming that address.
 */
#define EBDA_PAGE 0x9f000u

int guest_main(const struct mb_info *mbi)
{
	const char *cmd = mbi_cmdline(mbi);
	bool straddle = false;

	for (; *cmd && !straddle; cmd++)
		straddle = !strcmp(cmd, "straddle");
	__asm__ volatile("cli");
	hook_db();
	code_page[0xffe] = 0x89;
	code_page[0xfff] = 0x03;
	paging_on();
	if (straddle) {
		*(volatile uint8_t *)EBDA_PAGE = 0x03;
		code_page[0xfff] = 0x89;
		run_case("straddling into reserved RAM", EBDA_PAGE | PG_RW | PG_P, 0xfff);
		return GUEST_OK;
	}
	run_case("next page at 4 GiB", 0x100000000ULL | PG_RW | PG_P, 0xffe);
	run_case("next page at 512 GiB", 0x8000000000ULL | PG_RW | PG_P, 0xffe);
	run_case("next page the I/O APIC", 0xfec00000ULL | PG_PCD | PG_PWT | PG_RW | PG_P, 0xffe);
	run_case("next page not present", 0, 0xffe);
	return GUEST_OK;
}
