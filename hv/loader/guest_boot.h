/* What a guest loader (Multiboot v1, Linux bzImage) hands to the vCPU setup: the CPU state at the guest's first instruction. */
#ifndef HV_LOADER_GUEST_BOOT_H
#define HV_LOADER_GUEST_BOOT_H

#include "hv/types.h"
#include "hv/boot_info.h"
#include "hv/mm.h"

enum guest_cpu_mode {
	GUEST_MODE_PROT32, /* CR0.PE=1, paging off, flat 4 GiB segments (Multiboot, Linux 32-bit entry) */
	GUEST_MODE_LONG64, /* CR0.PG=1, EFER.LMA, 64-bit CS (Linux 64-bit entry), cr3 built by the loader */
	GUEST_MODE_WAIT_SIPI, /* an AP after INIT: the architectural INIT state, waiting for a start-up IPI */
};

struct guest_boot_state {
	enum guest_cpu_mode mode;
	uint64_t rip;
	uint64_t rax, rbx, rcx, rdx, rsi, rdi, rsp, rbp;
	uint64_t cr3;           /* LONG64 only: identity page tables in guest memory */
	uint64_t gdt_base;      /* guest-physical; 0: the vCPU setup provides flat segments without a GDT */
	uint16_t gdt_limit;
	uint16_t cs_sel, ds_sel; /* selectors matching gdt_base's descriptors */
};

/*
 * A guest image loader. Loads the module's image into guest memory (which is
 * identity-mapped host memory outside the hypervisor), builds the guest's
 * boot information and returns 0, or returns a negative error after printing
 * one clear line saying what is wrong with the module.
 */
struct guest_load_ctx {
	const struct boot_info *bi;     /* all boot modules: [idx] is the kernel, the rest its modules */
	unsigned int kernel_idx;
	const struct mem_map *guest_map; /* RAM the guest may use (hypervisor memory already removed) */
};

int multiboot1_load(const struct guest_load_ctx *ctx, struct guest_boot_state *out);
int linux_load(const struct guest_load_ctx *ctx, struct guest_boot_state *out);
bool multiboot1_probe(const void *image, uint64_t size);
bool linux_probe(const void *image, uint64_t size);

#endif
