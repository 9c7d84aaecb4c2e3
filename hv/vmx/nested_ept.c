/* L1's EPT for L2, the executing side: EPT02 pages, EPT01 lookups and EPT12 through the checked accessor (decisions: hv/nested/shadow_ept.c). */
#include "hv/vmx/nested_ept.h"
#include "hv/vmx/nested.h"
#include "hv/vmx/vmx_internal.h"
#include "hv/vmx/vmx_asm.h"
#include "hv/vmx/vmx_caps.h"
#include "hv/vmx/ept.h"
#include "hv/vmx/l1_mem.h"
#include "hv/console.h"
#include "hv/mm.h"
#include "hv/panic.h"


static bool ept12_read64(void *ctx, uint64_t gpa1, uint64_t *val)
{
	(void)ctx;
	return l1_read_phys(gpa1, val, 8) == L1_MEM_OK;
}

static enum ept12_cmpxchg_result ept12_cmpxchg64(void *ctx, uint64_t gpa1, uint64_t old, uint64_t new_val)
{
	bool changed = false;

	(void)ctx;
	if (l1_cmpxchg_phys64(gpa1, old, new_val, &changed) != L1_MEM_OK)
		return EPT12_CMPXCHG_NOT_L1;
	return changed ? EPT12_CMPXCHG_CHANGED : EPT12_CMPXCHG_OK;
}

/* EPT01 maps all of L1's space but the hypervisor's memory; its rights there (the xAPIC trap) bound L2's. */
static void ept01_page(void *ctx, uint64_t gpa1, struct shadow_ept_l1_page *out)
{
	const struct vcpu *v = ctx;
	struct ept_translation t;

	*out = (struct shadow_ept_l1_page){ .mapped = ept_translate_rights(v->ept_pml4, gpa1, &t) };
	if (!out->mapped)
		return;
	out->hpa = t.hpa & ~(uint64_t)(PAGE_SIZE - 1);
	out->rwx = t.rights;
	out->memtype = t.memtype;
}

static uint64_t pool_alloc(void *ctx)
{
	struct vcpu *v = ctx;
	paddr_t pa;

	if (v->nested->ept02_pages >= NESTED_EPT_POOL_PAGES || !(pa = frame_alloc()))
		return 0;
	v->nested->ept02_pages++;
	return pa;
}

static void pool_free(void *ctx, uint64_t hpa)
{
	struct vcpu *v = ctx;

	frame_free(hpa);
	v->nested->ept02_pages--;
}

static uint64_t *pool_table(void *ctx, uint64_t hpa)
{
	(void)ctx;
	return phys_to_virt(hpa);
}

/* Called once per vCPU with its nested state (L1's first VMXON). */
void nested_ept_init(struct vcpu *v, unsigned int maxphyaddr)
{
	struct vmx_nested *n = v->nested;
	uint64_t cap = vmx_offer_msr(&vmx_l1_offer, MSR_IA32_VMX_EPT_VPID_CAP);
	struct ept12_caps caps = { .maxphyaddr = maxphyaddr, .exec_only = cap & VMX_EPT_EXECUTE_ONLY,
				   .page_2m = cap & VMX_EPT_2M_PAGE, .page_1g = cap & VMX_EPT_1G_PAGE };

	n->ept02_ops = (struct shadow_ept_ops){ .mem = { ept12_read64, ept12_cmpxchg64, NULL }, .ept01 = ept01_page,
						.alloc_table = pool_alloc, .free_table = pool_free,
						.table = pool_table, .ctx = v };
	shadow_ept_init(&n->ept02, &caps, &n->ept02_ops);
	n->ept01_gen = __atomic_load_n(&vmx_apic_trap_gen, __ATOMIC_ACQUIRE);
}

bool nested_ept_enabled(const struct vmcs12 *v12)
{
	return (v12->cpu_based_vm_exec_control & CPU_BASED_ACTIVATE_SECONDARY) &&
	       (v12->secondary_vm_exec_control & SECONDARY_ENABLE_EPT);
}

/* Drops the hardware's cached EPT02 translations (all-context: every root may be affected). */
static void flush_ept02(struct vmx_nested *n)
{
	invept(INVEPT_ALL_CONTEXT, 0);
	n->ept02_flush = false;
}

/*
 * vmcs02's EPT pointer for L1's: the shadow root of vmcs12's EPTP, bit 6
 * (A/D) as L1 set it (shadow_ept.h says why). Any EPT01 change since the
 * last entry (the xAPIC trap) empties the shadow first.
 */
uint64_t nested_ept_eptp02(struct vcpu *v)
{
	struct vmx_nested *n = v->nested;
	uint32_t gen = __atomic_load_n(&vmx_apic_trap_gen, __ATOMIC_ACQUIRE);
	uint64_t eptp12 = n->vmx.vmcs12.ept_pointer;
	bool reused = false;
	uint64_t pml4;

	if (gen != n->ept01_gen) {
		shadow_ept_drop_all(&n->ept02);
		n->ept01_gen = gen;
		n->ept02_flush = true;
	}
	pml4 = shadow_ept_root(&n->ept02, eptp12, &reused);
	if (!pml4) {
		printk("hv: no hypervisor frame for L2's EPT root; stopping L1\n");
		vmx_stop_guest(v, NULL, HV_EXIT_GUEST_DIED);
	}
	if (reused || n->ept02_flush)
		flush_ept02(n);
	return ept_make_eptp(pml4, EPT_MT_WB) | (eptp12 & BIT(6));
}

/* L1's INVEPT: the shadow forgets what it derived from that EPTP (or all), and so does the TLB. */
void nested_ept_invept(struct vcpu *v, bool all, uint64_t eptp12)
{
	struct vmx_nested *n = v->nested;

	if (all)
		shadow_ept_invept_all(&n->ept02);
	else
		shadow_ept_invept_single(&n->ept02, eptp12);
	flush_ept02(n);
}

void nested_ept_release(struct vcpu *v)
{
	shadow_ept_release(&v->nested->ept02);
	flush_ept02(v->nested);
}

/* PML: L1's log entry and index, written as the hardware would have (SDM 29.3.6). */
static void pml_log(struct vmcs12 *v12, const struct ept_pml_entry *e)
{
	if (l1_write_phys(e->where, &e->value, 8) == L1_MEM_OK)
		v12->guest_pml_index = e->new_index;
}

__attribute__((cold, noinline)) void nested_ept_stop(struct vcpu *v, const char *why, uint64_t gpa2, uint64_t gpa1)
{
	printk("hv: L2 access at guest-physical %#llx through L1's EPT (L1 address %#llx): %s; stopping L1\n",
	       (unsigned long long)gpa2, (unsigned long long)gpa1, why);
	vmx_stop_guest(v, NULL, HV_EXIT_GUEST_DIED);
}

/*
 * An EPT violation of vmcs02 while L1's EPT is on: the shadow fills in, or
 * L1 gets its own EPT violation, misconfiguration or PML-full exit with the
 * exit information the hardware would give (SDM 28.2.1 Table 28-7: bits 5:0
 * from L1's tables, 7-8 and 12 as the hardware reported them).
 */
enum nested_ept_outcome nested_ept_violation(struct vcpu *v, struct nested_ept_exit *x)
{
	struct vmx_nested *n = v->nested;
	struct vmcs12 *v12 = &n->vmx.vmcs12;
	uint64_t q = vmcs_read(EXIT_QUALIFICATION), gpa2 = vmcs_read(GUEST_PHYSICAL_ADDRESS);
	struct ept_pml pml = { .enabled = (v12->secondary_vm_exec_control & SECONDARY_ENABLE_PML) != 0,
			       .address = v12->pml_address, .index = v12->guest_pml_index };
	struct shadow_ept_fault f = { .eptp12 = v12->ept_pointer, .gpa2 = gpa2, .access = (unsigned int)q & 7,
				      .paging_structure = (q & BIT(7)) && !(q & BIT(8)),
				      .pml = pml.enabled ? &pml : NULL };
	struct shadow_ept_result r = shadow_ept_fault(&n->ept02, &f);

	if (r.pml_log)
		pml_log(v12, &r.pml_entry);
	if (r.invept)
		flush_ept02(n);
	x->gpa = gpa2;
	switch (r.status) {
	case SHADOW_EPT_L1_VIOLATION:
		x->reason = EXIT_REASON_EPT_VIOLATION;
		x->qualification = r.qual | (q & (BIT(7) | BIT(8) | BIT(12)));
		return NESTED_EPT_TO_L1;
	case SHADOW_EPT_L1_MISCONFIG:
		x->reason = EXIT_REASON_EPT_MISCONFIG;
		x->qualification = 0;
		return NESTED_EPT_TO_L1;
	case SHADOW_EPT_L1_PML_FULL:
		x->reason = EXIT_REASON_PML_FULL;
		x->qualification = q & BIT(12);
		return NESTED_EPT_TO_L1;
	case SHADOW_EPT_L1_TABLE_NOT_RAM:
		nested_ept_stop(v, "an EPT table of L1's is not L1 RAM", gpa2, r.gpa1);
		break;
	case SHADOW_EPT_L0_FAULT:
		x->gpa1 = r.gpa1;
		x->qualification = q;
		return NESTED_EPT_L0_FAULT;
	default:
		break;
	}
	return NESTED_EPT_HANDLED;
}
