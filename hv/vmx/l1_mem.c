/* The checked accessor for L1's memory: only L1 RAM is ever touched, and L1's paging is applied as the CPU would (SDM 4). */
#include "hv/vmx/l1_mem.h"
#include "hv/string.h"
#include "hv/x86.h"
#ifndef HV_HOST_TEST
#include "hv/vmx/vmx_internal.h"
#endif

/* RAM types L1 may have the hypervisor read for it; reserved ranges are MMIO or unbacked, and the hypervisor's memory is reserved there. */
static bool is_l1_ram_type(uint32_t type)
{
	return type == MEM_USABLE || type == MEM_ACPI_RECLAIM || type == MEM_ACPI_NVS;
}

bool l1_ram_covers(const struct mem_map *guest_map, uint64_t gpa, uint64_t len)
{
	uint64_t end = gpa + len;

	if (len == 0 || end < gpa)
		return false;
	/* The map is sorted and merged per type, so a range may span adjacent RAM entries of different types. */
	for (uint32_t i = 0; i < guest_map->count && gpa < end; i++) {
		const struct boot_mem_range *r = &guest_map->r[i];

		if (gpa < r->base || gpa >= r->base + r->len)
			continue;
		if (!is_l1_ram_type(r->type))
			return false;
		gpa = r->base + r->len;
	}
	return gpa >= end;
}

#ifndef HV_HOST_TEST
static bool l1_ram(uint64_t gpa, uint64_t len)
{
	return l1_ram_covers(mm_guest_map(), gpa, len) && !mm_range_overlaps_hv(gpa, len);
}

int l1_read_phys(uint64_t gpa, void *buf, size_t len)
{
	if (!l1_ram(gpa, len))
		return L1_MEM_NOT_RAM;
	memcpy(buf, phys_to_virt(gpa), len);
	return L1_MEM_OK;
}

int l1_write_phys(uint64_t gpa, const void *buf, size_t len)
{
	if (!l1_ram(gpa, len))
		return L1_MEM_NOT_RAM;
	memcpy(phys_to_virt(gpa), buf, len);
	return L1_MEM_OK;
}

int l1_cmpxchg_phys64(uint64_t gpa, uint64_t old, uint64_t new_val, bool *changed)
{
	if ((gpa & 7) || !l1_ram(gpa, 8))
		return L1_MEM_NOT_RAM;
	*changed = !__atomic_compare_exchange_n((uint64_t *)phys_to_virt(gpa), &old, new_val, false,
						__ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST);
	return L1_MEM_OK;
}

static bool table_read64(uint64_t gpa, uint64_t *val)
{
	return l1_read_phys(gpa, val, 8) == L1_MEM_OK;
}

/* A locked OR, as the processor's own flag updates are (SDM 4.8): another vCPU's concurrent update survives. */
static bool table_write64(uint64_t gpa, uint64_t bits)
{
	if ((gpa & 7) || !l1_ram(gpa, 8))
		return false;
	__atomic_fetch_or((uint64_t *)phys_to_virt(gpa), bits, __ATOMIC_SEQ_CST);
	return true;
}

/* One page's worth of a linear access: translate, then the guest-physical check. */
static int translate(const struct guest_paging *p, uint64_t lin, unsigned int access, uint64_t *gpa, size_t len,
		     struct l1_fault *f)
{
	int r = guest_walk(p, lin, access, table_read64, table_write64, gpa, &f->error_code);

	f->linear = lin;
	if (r == GUEST_WALK_PAGE_FAULT)
		return L1_MEM_PAGE_FAULT;
	if (r != GUEST_WALK_OK) {
		f->gpa = r == GUEST_WALK_BAD_TABLE ? *gpa : lin;
		return L1_MEM_NOT_RAM;
	}
	if (!l1_ram(*gpa, len)) {
		f->gpa = *gpa;
		return L1_MEM_NOT_RAM;
	}
	return L1_MEM_OK;
}

static size_t page_chunk(uint64_t lin, size_t left)
{
	return MIN(left, PAGE_SIZE - (lin & (PAGE_SIZE - 1)));
}

int l1_read_linear(const struct guest_paging *p, uint64_t lin, void *buf, size_t len, unsigned int access,
		   struct l1_fault *f)
{
	for (size_t done = 0; done < len;) {
		size_t chunk = page_chunk(lin + done, len - done);
		uint64_t gpa;
		int r = translate(p, lin + done, access, &gpa, chunk, f);

		if (r)
			return r;
		memcpy((uint8_t *)buf + done, phys_to_virt(gpa), chunk);
		done += chunk;
	}
	return L1_MEM_OK;
}

int l1_write_linear(const struct guest_paging *p, uint64_t lin, const void *buf, size_t len, unsigned int access,
		    struct l1_fault *f)
{
	uint64_t gpa[2];
	size_t chunk[2], n = 0;

	/* All pages are translated before any byte is stored, so a fault leaves memory as it was (at most two pages). */
	if (len > PAGE_SIZE)
		return L1_MEM_NOT_RAM;
	for (size_t done = 0; done < len; n++) {
		int r;

		chunk[n] = page_chunk(lin + done, len - done);
		r = translate(p, lin + done, access | GUEST_ACCESS_WRITE, &gpa[n], chunk[n], f);
		if (r)
			return r;
		done += chunk[n];
	}
	for (size_t i = 0, done = 0; i < n; done += chunk[i++])
		memcpy(phys_to_virt(gpa[i]), (const uint8_t *)buf + done, chunk[i]);
	return L1_MEM_OK;
}

/* CPUID.80000008H:EAX[7:0] (SDM 4.1.4), read once: the width reserved-bit checks start at. */
static unsigned int l1_maxphyaddr(void)
{
	static unsigned int width;

	if (!width)
		width = vmx_max_phys_addr_bits();
	return width;
}

void l1_paging_now(struct guest_paging *p)
{
	*p = (struct guest_paging){
		.cr0 = vmcs_read(GUEST_CR0), .cr3 = vmcs_read(GUEST_CR3), .cr4 = vmcs_read(GUEST_CR4),
		.efer = vmcs_read(GUEST_IA32_EFER), .cpl = (vmcs_read(GUEST_SS_AR_BYTES) >> 5) & 3,
		.rflags_ac = vmcs_read(GUEST_RFLAGS) & BIT(18), .maxphyaddr = l1_maxphyaddr(),
	};
	/* PAE paging outside IA-32e mode: the exit saved the PDPTE registers (SDM 28.3.4). */
	if ((p->cr0 & X86_CR0_PG) && (p->cr4 & X86_CR4_PAE) && !(p->efer & X86_EFER_LMA)) {
		p->pdptes_loaded = true;
		p->pdpte[0] = vmcs_read(GUEST_PDPTE0);
		p->pdpte[1] = vmcs_read(GUEST_PDPTE1);
		p->pdpte[2] = vmcs_read(GUEST_PDPTE2);
		p->pdpte[3] = vmcs_read(GUEST_PDPTE3);
	}
}
#endif
