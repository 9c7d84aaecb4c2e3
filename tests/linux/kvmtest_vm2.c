/* kvmtest_vm2: a second /dev/kvm VM whose 2 vCPUs start in 64-bit long mode with 4-KiB paging, each write and read back their own 2 MiB page by page (one EPT fault per page in KVM), report a checksum by OUT and HLT. */
#include <errno.h>
#include <linux/kvm.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include "kvmtest.h"

#define PAGE_SIZE      0x1000u
#define VM2_MEM_SIZE   (8u << 20)      /* guest-physical [0, 8 MiB), all of it mapped 1:1 by 4-KiB pages */
#define VM2_GDT        0x1000u
#define VM2_PML4       0x2000u
#define VM2_PDPT       0x3000u
#define VM2_PD         0x4000u
#define VM2_PT         0x5000u         /* 4 page tables, one per 2 MiB */
#define VM2_CODE       0x10000u
#define VM2_TOUCH_BASE (2u << 20)      /* vCPU n touches [2 MiB + n * 2 MiB, +2 MiB) */
#define VM2_PAGES      512u            /* pages per vCPU */
#define VM2_VCPUS      2
#define VM2_MAX_EXITS  8               /* 3 OUTs and a HLT expected */
#define VM2_SECONDS    300             /* guest time for the whole VM (nested, each fault costs L1 a VM exit) */
#define PORT_PAGES     0x20            /* pages read back intact */
#define PORT_SUM_LO    0x21            /* checksum, low then high half */
#define PORT_SUM_HI    0x22
#define PAGE_MUL       0x9e3779b97f4a7c15ull /* page value = guest-physical address * PAGE_MUL */

/* Paging-structure and PTE bits (SDM vol. 3, 4.5); control-register and EFER bits (SDM vol. 3, 2.5, 2.2.1). */
#define PTE_P          0x1ull
#define PTE_W          0x2ull
#define CR0_PE         0x1ull
#define CR0_MP         0x2ull
#define CR0_ET         0x10ull
#define CR0_NE         0x20ull
#define CR0_PG         0x80000000ull
#define CR4_PAE        0x20ull
#define EFER_LME       0x100ull
#define EFER_LMA       0x400ull

/*
 * The guest, entered in 64-bit mode at VM2_CODE with RDI = first page, RSI = page count.
 * Pass 1 writes V(a) = a * PAGE_MUL to each page's first quadword and ~V(a) to its last
 * (the first touch of each page is a write: an EPT violation in KVM). Pass 2 reads both
 * back, counts the pages where both are right and folds them into a checksum
 * sum = rol(sum + first, 7) ^ last. Then OUT count, OUT sum low, OUT sum high, HLT.
 * Only relative jumps: the bytes run wherever they are copied.
 */
extern const uint8_t vm2_code[], vm2_code_after_hlt[], vm2_code_end[];
__asm__(".pushsection .rodata\n"
	".globl vm2_code, vm2_code_after_hlt, vm2_code_end\n"
	"vm2_code:\n"
	"	mov %rdi, %rbx\n"
	"	mov %rsi, %rcx\n"
	"	movabs $0x9e3779b97f4a7c15, %r8\n"
	"1:	mov %rbx, %rax\n"
	"	imul %r8, %rax\n"
	"	mov %rax, (%rbx)\n"
	"	not %rax\n"
	"	mov %rax, 4088(%rbx)\n"
	"	add $4096, %rbx\n"
	"	dec %rcx\n"
	"	jnz 1b\n"
	"	mov %rdi, %rbx\n"
	"	mov %rsi, %rcx\n"
	"	xor %r9d, %r9d\n"
	"	xor %r10d, %r10d\n"
	"2:	mov %rbx, %rax\n"
	"	imul %r8, %rax\n"
	"	mov (%rbx), %rdx\n"
	"	mov 4088(%rbx), %r11\n"
	"	add %rdx, %r10\n"
	"	rol $7, %r10\n"
	"	xor %r11, %r10\n"
	"	cmp %rax, %rdx\n"
	"	jne 3f\n"
	"	not %rax\n"
	"	cmp %rax, %r11\n"
	"	jne 3f\n"
	"	inc %r9\n"
	"3:	add $4096, %rbx\n"
	"	dec %rcx\n"
	"	jnz 2b\n"
	"	mov $0x20, %dx\n"
	"	mov %r9d, %eax\n"
	"	out %eax, %dx\n"
	"	mov $0x21, %dx\n"
	"	mov %r10d, %eax\n"
	"	out %eax, %dx\n"
	"	shr $32, %r10\n"
	"	mov $0x22, %dx\n"
	"	mov %r10d, %eax\n"
	"	out %eax, %dx\n"
	"	hlt\n"
	"vm2_code_after_hlt:\n"
	"4:	jmp 4b\n"
	"vm2_code_end:\n"
	".popsection\n");

/* GDT: null, 0x08 64-bit code (L=1, D=0), 0x10 flat data (SDM vol. 3, 3.4.5). */
static const uint64_t vm2_gdt[] = { 0, 0x00af9b000000ffffull, 0x00cf93000000ffffull };

struct vm2_vcpu {
	int index, fd;
	struct kvm_run *run;
	uint32_t out[3];        /* values sent to PORT_PAGES, PORT_SUM_LO, PORT_SUM_HI */
	unsigned outs;          /* how many of them arrived, in port order */
	int halted;
	char err[200];          /* the first unexpected exit or error; the thread never prints */
};

static uint64_t page_value(uint64_t gpa)
{
	return gpa * PAGE_MUL;
}

static uint64_t vm2_first_page(int index)
{
	return VM2_TOUCH_BASE + (uint64_t)index * VM2_PAGES * PAGE_SIZE;
}

/* The guest's pass 2 checksum, over values that were all read back intact. */
static uint64_t expected_sum(uint64_t first)
{
	uint64_t sum = 0;

	for (uint32_t i = 0; i < VM2_PAGES; i++) {
		uint64_t v = page_value(first + (uint64_t)i * PAGE_SIZE);

		sum += v;
		sum = (sum << 7) | (sum >> 57);
		sum ^= ~v;
	}
	return sum;
}

/* Page tables mapping guest-physical [0, VM2_MEM_SIZE) 1:1; A/D bits left for the CPU to set. */
static void vm2_build_tables(uint8_t *mem)
{
	uint64_t *pml4 = (uint64_t *)(mem + VM2_PML4), *pdpt = (uint64_t *)(mem + VM2_PDPT);
	uint64_t *pd = (uint64_t *)(mem + VM2_PD), *pt = (uint64_t *)(mem + VM2_PT);

	pml4[0] = VM2_PDPT | PTE_P | PTE_W;
	pdpt[0] = VM2_PD | PTE_P | PTE_W;
	for (uint32_t i = 0; i < VM2_MEM_SIZE / (2u << 20); i++)
		pd[i] = (VM2_PT + i * PAGE_SIZE) | PTE_P | PTE_W;
	for (uint32_t i = 0; i < VM2_MEM_SIZE / PAGE_SIZE; i++)
		pt[i] = (uint64_t)i * PAGE_SIZE | PTE_P | PTE_W;
	memcpy(mem + VM2_GDT, vm2_gdt, sizeof(vm2_gdt));
	memcpy(mem + VM2_CODE, vm2_code, (size_t)(vm2_code_end - vm2_code));
}

/*
 * The VM and its memory. Private anonymous memory without transparent huge pages, and
 * untouched by us outside the tables and code: every page the guest touches is a fresh
 * page that KVM maps with a 4-KiB EPT entry on the guest's first access.
 */
static int vm2_create(int kvm, int *vm_out, uint8_t **mem_out)
{
	if (create_vm_with_memory(kvm, "vm2 ", 0, VM2_MEM_SIZE, MAP_PRIVATE, vm_out, mem_out) < 0)
		return -1;
	if (madvise(*mem_out, VM2_MEM_SIZE, MADV_NOHUGEPAGE) < 0)
		fail("vm2 madvise(MADV_NOHUGEPAGE): %s", strerror(errno));
	vm2_build_tables(*mem_out);
	return 0;
}

static void flat_segment(struct kvm_segment *s, uint16_t selector, uint8_t type, int long_code)
{
	*s = (struct kvm_segment){
		.base = 0, .limit = 0xffffffff, .selector = selector, .type = type, .present = 1,
		.dpl = 0, .db = !long_code, .s = 1, .l = long_code, .g = 1,
	};
}

/*
 * Long mode straight from KVM_SET_SREGS (as KVM's selftests do): CR0.PG+PE, CR4.PAE,
 * EFER.LME+LMA, CR3 = PML4, CS a 64-bit code segment (SDM vol. 3, 9.8.5). TR and LDTR keep
 * KVM's reset values (TR a busy TSS, which IA-32e mode requires: SDM vol. 3, 26.3.1.2).
 * KVM checks EFER.LME against the guest CPUID, so KVM_SET_CPUID2 goes first.
 */
static int vm2_setup_regs(int kvm, struct vm2_vcpu *v)
{
	struct kvm_sregs sregs;
	struct kvm_regs regs;
	uint32_t leaf0_ebx;

	if (setup_cpuid(kvm, v->fd, &leaf0_ebx) < 0 ||
	    xioctl(v->fd, KVM_GET_SREGS, &sregs, "vm2 KVM_GET_SREGS") < 0)
		return -1;
	flat_segment(&sregs.cs, 0x08, 0xb, 1);
	flat_segment(&sregs.ds, 0x10, 0x3, 0);
	sregs.es = sregs.fs = sregs.gs = sregs.ss = sregs.ds;
	sregs.gdt.base = VM2_GDT;
	sregs.gdt.limit = sizeof(vm2_gdt) - 1;
	sregs.cr0 = CR0_PE | CR0_MP | CR0_ET | CR0_NE | CR0_PG;
	sregs.cr3 = VM2_PML4;
	sregs.cr4 = CR4_PAE;
	sregs.efer = EFER_LME | EFER_LMA;
	if (xioctl(v->fd, KVM_SET_SREGS, &sregs, "vm2 KVM_SET_SREGS") < 0)
		return -1;
	memset(&regs, 0, sizeof(regs));
	regs.rip = VM2_CODE;
	regs.rflags = 0x2; /* bit 1 is reserved-one (SDM vol. 1, 3.4.3); IF clear */
	regs.rdi = vm2_first_page(v->index);
	regs.rsi = VM2_PAGES;
	return xioctl(v->fd, KVM_SET_REGS, &regs, "vm2 KVM_SET_REGS") < 0 ? -1 : 0;
}

static int vm2_create_vcpu(int kvm, int vm, int mmap_size, struct vm2_vcpu *v, int index)
{
	memset(v, 0, sizeof(*v));
	v->index = index;
	v->fd = xioctl(vm, KVM_CREATE_VCPU, (void *)(long)index, "vm2 KVM_CREATE_VCPU");
	if (v->fd < 0)
		return -1;
	v->run = mmap(NULL, (size_t)mmap_size, PROT_READ | PROT_WRITE, MAP_SHARED, v->fd, 0);
	if (v->run == MAP_FAILED) {
		fail("vm2 mmap vcpu%d: %s", index, strerror(errno));
		return -1;
	}
	return vm2_setup_regs(kvm, v);
}

/* Takes one exit: the next OUT in port order, or HLT; anything else ends the vCPU's run. */
static void vm2_take_exit(struct vm2_vcpu *v)
{
	const struct kvm_run *run = v->run;

	if (run->exit_reason == KVM_EXIT_HLT && v->outs == 3) {
		v->halted = 1;
		return;
	}
	if (run->exit_reason == KVM_EXIT_IO && run->io.direction == KVM_EXIT_IO_OUT &&
	    run->io.size == 4 && run->io.count == 1 && v->outs < 3 &&
	    run->io.port == PORT_PAGES + v->outs) {
		memcpy(&v->out[v->outs++], (const uint8_t *)run + run->io.data_offset, 4);
		return;
	}
	if (run->exit_reason == KVM_EXIT_IO)
		snprintf(v->err, sizeof(v->err), "exit IO dir=%u port=0x%x size=%u count=%u after %u OUTs",
			 run->io.direction, run->io.port, run->io.size, run->io.count, v->outs);
	else if (run->exit_reason == KVM_EXIT_FAIL_ENTRY)
		snprintf(v->err, sizeof(v->err), "exit FAIL_ENTRY hw_reason=0x%llx",
			 (unsigned long long)run->fail_entry.hardware_entry_failure_reason);
	else if (run->exit_reason == KVM_EXIT_INTERNAL_ERROR)
		snprintf(v->err, sizeof(v->err), "exit INTERNAL_ERROR suberror=%u", run->internal.suberror);
	else
		snprintf(v->err, sizeof(v->err), "exit %s (%u) after %u OUTs", exit_name(run->exit_reason),
			 run->exit_reason, v->outs);
}

/* One thread per vCPU: KVM_RUN until HLT or something unexpected. */
static void *vm2_vcpu_thread(void *arg)
{
	struct vm2_vcpu *v = arg;

	for (int n = 0; n < VM2_MAX_EXITS && !v->halted && !v->err[0]; n++) {
		if (ioctl(v->fd, KVM_RUN, NULL) < 0) {
			snprintf(v->err, sizeof(v->err), "KVM_RUN: %s", strerror(errno));
			break;
		}
		vm2_take_exit(v);
	}
	if (!v->halted && !v->err[0])
		snprintf(v->err, sizeof(v->err), "no HLT after %d exits", VM2_MAX_EXITS);
	return NULL;
}

/* The pages whose two quadwords, as the host sees them, are not what the guest wrote. */
static uint32_t vm2_bad_pages(const uint8_t *mem, int index)
{
	uint32_t bad = 0;

	for (uint32_t i = 0; i < VM2_PAGES; i++) {
		uint64_t gpa = vm2_first_page(index) + (uint64_t)i * PAGE_SIZE, first, last;

		memcpy(&first, mem + gpa, 8);
		memcpy(&last, mem + gpa + PAGE_SIZE - 8, 8);
		if (first != page_value(gpa) || last != ~page_value(gpa))
			bad++;
	}
	return bad;
}

/*
 * Each page the vCPU touched was fresh, so KVM fixed at least one EPT fault for it: its
 * pf_fixed counter proves the faults happened (nested: L1's KVM saw them). The counts
 * themselves may differ bare and nested (e.g. spurious faults), so their line starts with "~".
 */
static void vm2_check_faults(const struct vm2_vcpu *v)
{
	uint64_t fixed, exits;

	if (kvm_stat(v->fd, "pf_fixed", &fixed) < 0 || kvm_stat(v->fd, "exits", &exits) < 0) {
		printf("~KVMTEST: vm2 vcpu%d: no pf_fixed/exits statistics from KVM\n", v->index);
		return;
	}
	printf("~KVMTEST: vm2 vcpu%d kvm stats: pf_fixed=%llu exits=%llu\n", v->index,
	       (unsigned long long)fixed, (unsigned long long)exits);
	if (fixed < VM2_PAGES)
		fail("vm2 vcpu%d: KVM fixed %llu page faults for %u fresh pages", v->index,
		     (unsigned long long)fixed, VM2_PAGES);
}

/* The vCPU's line (deterministic: what the guest reported), then its checks. */
static void vm2_report(const struct vm2_vcpu *v, const uint8_t *mem)
{
	uint64_t sum = v->out[1] | (uint64_t)v->out[2] << 32, want = expected_sum(vm2_first_page(v->index));
	struct kvm_regs regs;
	uint32_t bad;

	printf("KVMTEST: vm2 vcpu%d pages=%u sum=0x%016llx %s\n", v->index, v->out[0],
	       (unsigned long long)sum, v->halted ? "hlt" : "no hlt");
	if (v->err[0])
		fail("vm2 vcpu%d: %s", v->index, v->err);
	if (v->outs == 3 && v->out[0] != VM2_PAGES)
		fail("vm2 vcpu%d: %u of %u pages read back intact", v->index, v->out[0], VM2_PAGES);
	if (v->outs == 3 && sum != want)
		fail("vm2 vcpu%d: checksum 0x%016llx, expected 0x%016llx", v->index,
		     (unsigned long long)sum, (unsigned long long)want);
	bad = vm2_bad_pages(mem, v->index);
	if (bad)
		fail("vm2 vcpu%d: the host sees %u of %u pages not as the guest wrote them", v->index, bad,
		     VM2_PAGES);
	vm2_check_faults(v);
	if (!v->halted || xioctl(v->fd, KVM_GET_REGS, &regs, "vm2 KVM_GET_REGS") < 0)
		return;
	if (regs.rip != VM2_CODE + (uint64_t)(vm2_code_after_hlt - vm2_code))
		fail("vm2 vcpu%d: rip after HLT 0x%llx, expected 0x%llx", v->index,
		     (unsigned long long)regs.rip,
		     (unsigned long long)(VM2_CODE + (uint64_t)(vm2_code_after_hlt - vm2_code)));
}

/* Runs the vCPUs concurrently, one thread each, and reports them in vCPU order. */
static void vm2_run_vcpus(struct vm2_vcpu *v, const uint8_t *mem)
{
	pthread_t thread[VM2_VCPUS];
	int started[VM2_VCPUS];

	for (int i = 0; i < VM2_VCPUS; i++) {
		started[i] = pthread_create(&thread[i], NULL, vm2_vcpu_thread, &v[i]) == 0;
		if (!started[i])
			snprintf(v[i].err, sizeof(v[i].err), "pthread_create failed");
	}
	for (int i = 0; i < VM2_VCPUS; i++)
		if (started[i])
			pthread_join(thread[i], NULL);
	for (int i = 0; i < VM2_VCPUS; i++)
		vm2_report(&v[i], mem);
}

void run_vm2(int kvm, int vcpu_mmap_size)
{
	struct vm2_vcpu v[VM2_VCPUS];
	int before = failures, vm, i;
	uint8_t *mem;

	set_stage("vm2", VM2_SECONDS);
	if (vm2_create(kvm, &vm, &mem) < 0)
		goto verdict;
	for (i = 0; i < VM2_VCPUS; i++)
		if (vm2_create_vcpu(kvm, vm, vcpu_mmap_size, &v[i], i) < 0)
			goto verdict;
	printf("KVMTEST: vm2 created: %d vCPUs in long mode, 4-KiB paging, %u pages each\n", VM2_VCPUS,
	       VM2_PAGES);
	vm2_run_vcpus(v, mem);
verdict:
	alarm(0);
	if (failures == before)
		printf("KVMTEST: vm2 PASS (%d vCPUs in long mode wrote and read back %u pages each)\n",
		       VM2_VCPUS, VM2_PAGES);
	else
		printf("KVMTEST: vm2 FAIL (%d problems)\n", failures - before);
}
