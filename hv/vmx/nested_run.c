/* Running L2: L1's VM entry onto vmcs02, L2's exits handled or reflected, the synthesized exit back onto vmcs01. */
#include "hv/vmx/nested.h"
#include "hv/vmx/nested_ept.h"
#include "hv/vmx/vmx_internal.h"
#include "hv/vmx/l1_mem.h"
#include "hv/vmx/nested_msr.h"
#include "hv/nested/entry_checks.h"
#include "hv/nested/exit_decide.h"
#include "hv/nested/host_state.h"
#include "hv/nested/vmcs02.h"
#include "hv/cmdline.h"
#include "hv/console.h"
#include "hv/mm.h"
#include "hv/panic.h"
#include "hv/percpu.h"
#include "hv/string.h"
#include "hv/x86.h"

struct vmx_offer vmx_l1_offer;
static struct nested_vmx_caps l1_caps;

void vmx_nested_enter_l2(struct vcpu *v, struct guest_regs *r, bool launch);

/* ---- the policy, once ------------------------------------------------------------------ */

static uint64_t rdmsr_if(bool exists, uint32_t msr)
{
	return exists ? rdmsr(msr) : 0;
}

/* The hardware's VMX MSRs as the policy wants them (an MSR the CPU lacks reads 0). */
static void read_hw_msrs(struct vmx_hw_msrs *hw)
{
	bool true_ctls = vmx_caps.basic & VMX_BASIC_TRUE_CTLS;

	*hw = (struct vmx_hw_msrs){
		.cpuid_vmx = true, .feature_control = rdmsr(MSR_IA32_FEATURE_CONTROL), .basic = vmx_caps.basic,
		.pinbased = rdmsr(MSR_IA32_VMX_PINBASED_CTLS), .procbased = rdmsr(MSR_IA32_VMX_PROCBASED_CTLS),
		.exit = rdmsr(MSR_IA32_VMX_EXIT_CTLS), .entry = rdmsr(MSR_IA32_VMX_ENTRY_CTLS),
		.misc = vmx_caps.misc, .cr0_fixed0 = vmx_caps.cr0_fixed0, .cr0_fixed1 = vmx_caps.cr0_fixed1,
		.cr4_fixed0 = vmx_caps.cr4_fixed0, .cr4_fixed1 = vmx_caps.cr4_fixed1,
		.vmcs_enum = vmx_caps.vmcs_enum, .procbased2 = vmx_caps.procbased2, .ept_vpid_cap = vmx_caps.ept_vpid,
		.true_pinbased = rdmsr_if(true_ctls, MSR_IA32_VMX_TRUE_PINBASED_CTLS),
		.true_procbased = rdmsr_if(true_ctls, MSR_IA32_VMX_TRUE_PROCBASED_CTLS),
		.true_exit = rdmsr_if(true_ctls, MSR_IA32_VMX_TRUE_EXIT_CTLS),
		.true_entry = rdmsr_if(true_ctls, MSR_IA32_VMX_TRUE_ENTRY_CTLS),
		.vmfunc = vmx_caps.vmfunc, .l1_cr4_allowed = vmx_caps.cr4_fixed1,
	};
}

static void caps_from_offer(const struct vmx_offer *o, struct nested_vmx_caps *c)
{
	uint64_t pin = vmx_offer_msr(o, MSR_IA32_VMX_TRUE_PINBASED_CTLS);
	uint64_t proc = vmx_offer_msr(o, MSR_IA32_VMX_TRUE_PROCBASED_CTLS);
	uint64_t exit = vmx_offer_msr(o, MSR_IA32_VMX_TRUE_EXIT_CTLS);
	uint64_t entry = vmx_offer_msr(o, MSR_IA32_VMX_TRUE_ENTRY_CTLS);

	*c = (struct nested_vmx_caps){
		.pin_allowed0 = (uint32_t)pin, .pin_allowed1 = (uint32_t)(pin >> 32),
		.proc_allowed0 = (uint32_t)proc, .proc_allowed1 = (uint32_t)(proc >> 32),
		.proc2_allowed1 = (uint32_t)(vmx_offer_msr(o, MSR_IA32_VMX_PROCBASED_CTLS2) >> 32),
		.exit_allowed0 = (uint32_t)exit, .exit_allowed1 = (uint32_t)(exit >> 32),
		.entry_allowed0 = (uint32_t)entry, .entry_allowed1 = (uint32_t)(entry >> 32),
		.cr0_fixed0 = vmx_offer_msr(o, MSR_IA32_VMX_CR0_FIXED0),
		.cr0_fixed1 = vmx_offer_msr(o, MSR_IA32_VMX_CR0_FIXED1),
		.cr4_fixed0 = vmx_offer_msr(o, MSR_IA32_VMX_CR4_FIXED0),
		.cr4_fixed1 = vmx_offer_msr(o, MSR_IA32_VMX_CR4_FIXED1),
		.misc = vmx_offer_msr(o, MSR_IA32_VMX_MISC),
		.ept_vpid_cap = vmx_offer_msr(o, MSR_IA32_VMX_EPT_VPID_CAP),
		.inject_any_error_code = vmx_offer_msr(o, MSR_IA32_VMX_BASIC) & BIT(56),
		.maxphyaddr = vmx_max_phys_addr_bits(),
	};
}

bool vmx_nested_dr_exits;

/* nested=on|off (default on): what VMX L1 is offered, the same on every vCPU; nested_dr_exits=on|off (default off). */
void vmx_nested_init(const char *cmdline)
{
	struct vmx_hw_msrs hw;
	char val[8];
	bool on = true;

	if (cmdline_get_str(cmdline, "nested_dr_exits", val, sizeof(val)))
		vmx_nested_dr_exits = strcmp(val, "on") == 0;

	if (cmdline_get_str(cmdline, "nested", val, sizeof(val))) {
		on = strcmp(val, "off") != 0;
		if (on && strcmp(val, "on") != 0)
			printk("hv: warning: nested=%s is neither on nor off; nested VMX stays on\n", val);
	}
	read_hw_msrs(&hw);
	vmx_offer_compute(&hw, on, &vmx_l1_offer);
	caps_from_offer(&vmx_l1_offer, &l1_caps);
	nested_vmexit_init(vmx_l1_offer.vmcs12_features);
	vmcs02_init(vmx_l1_offer.vmcs12_features);
	nested_entry_checks_init();
	pr_info("hv: nested VMX %s\n", on ? "offered to L1 (with EPT, VPID, unrestricted guest, PML)"
					  : "off (nested=off): L1 sees no VMX");
	if (on && (vmx_offer_msr(&vmx_l1_offer, MSR_IA32_VMX_PROCBASED_CTLS2) >> 32) & SECONDARY_ENABLE_EPT)
		pr_info("hv: nested EPT: L2's shadow EPT holds at most %u table pages (%u KiB) per vCPU; at the limit it is emptied and refilled\n",
			NESTED_EPT_POOL_PAGES, NESTED_EPT_POOL_PAGES * 4);
	if (on && vmx_nested_dr_exits)
		pr_info("hv: nested_dr_exits=on: the hypervisor intercepts L2's MOV DR\n");
}

/* ---- vmcs02 access for the event core (CR0/CR4: what L2 has, not what we force) ---------- */

static uint64_t l2_vmcs02_read(void *ctx, uint32_t field)
{
	const struct vcpu *v = ctx;
	const struct vmcs12 *v12 = &v->nested->vmx.vmcs12;

	if (field == GUEST_CR0)
		return vmcs02_l2_cr(vmcs_read(GUEST_CR0), vmcs_read(CR0_READ_SHADOW), v->cr0_mask,
				    v12->cr0_guest_host_mask);
	if (field == GUEST_CR4)
		return vmcs02_l2_cr(vmcs_read(GUEST_CR4), vmcs_read(CR4_READ_SHADOW), v->cr4_mask,
				    v12->cr4_guest_host_mask);
	return vmcs_read((enum vmcs_field)field);
}

static void l2_vmcs02_write(void *ctx, uint32_t field, uint64_t val)
{
	(void)ctx;
	vmcs_write((enum vmcs_field)field, val);
}

/* The round trip's lists: back-to-back VMREADs/VMWRITEs of vmcs02 (never CR0/CR4, see nested_l2_ops). */
static void l2_vmcs02_read_many(void *ctx, const uint16_t *enc, uint64_t *val, uint32_t n)
{
	(void)ctx;
	for (uint32_t i = 0; i < n; i++)
		val[i] = vmcs_read((enum vmcs_field)enc[i]);
}

static void l2_vmcs02_write_batch(void *ctx, const struct vmcs_batch *b)
{
	(void)ctx;
	for (uint32_t i = 0; i < b->n; i++)
		vmcs_write((enum vmcs_field)b->enc[i], b->val[i]);
}

static uint64_t l2_read_dr6(void *ctx)
{
	uint64_t v;

	(void)ctx;
	__asm__ volatile("mov %%dr6, %0" : "=r"(v));
	return v;
}

static void l2_write_dr6(void *ctx, uint64_t dr6)
{
	(void)ctx;
	__asm__ volatile("mov %0, %%dr6" : : "r"(dr6));
}

static void l2_write_cr2(void *ctx, uint64_t cr2)
{
	(void)ctx;
	__asm__ volatile("mov %0, %%cr2" : : "r"(cr2) : "memory");
}

static uint64_t l2_read_cr2(void *ctx)
{
	uint64_t v;

	(void)ctx;
	__asm__ volatile("mov %%cr2, %0" : "=r"(v));
	return v;
}

static void set_l2_ops(struct vcpu *v)
{
	v->nested->core.l2 = (struct nested_l2_ops){
		.vmcs02_read = l2_vmcs02_read, .vmcs02_write = l2_vmcs02_write,
		.vmcs02_read_many = l2_vmcs02_read_many, .vmcs02_write_batch = l2_vmcs02_write_batch,
		.read_dr6 = l2_read_dr6, .write_dr6 = l2_write_dr6, .write_cr2 = l2_write_cr2, .read_cr2 = l2_read_cr2,
		.ctx = v,
	};
}

/* ---- L1's state in vmcs01 after a synthesized exit ---------------------------------------- */

/*
 * vmcs12's host state becomes L1's state in vmcs01 (hv/nested/host_state.c
 * decides it). CR0/CR4 keep the hypervisor's bits in the real register and
 * L1's view in the read shadow, as everywhere for L1.
 */
static void load_l1_host_state(struct vcpu *v, const struct vmcs12 *v12, const struct l2_at_exit *l2)
{
	struct vmx_nested *n = v->nested;
	struct l1_host_load *h = &n->host_load;
	uint32_t entry;

	/* The plain half depends on vmcs12's host state and exit controls only: kept until L1 changes one. */
	if (!n->host_load_valid) {
		nested_host_load_plain(v12, h);
		n->host_load_valid = true;
	}
	nested_host_load_regs(v12, l2, h);
	vmcs_write(CR0_READ_SHADOW, h->cr0);
	vmcs_write(GUEST_CR0, vmx_apply_fixed(h->cr0, vmx_caps.cr0_fixed0 & v->cr0_mask, vmx_caps.cr0_fixed1));
	vmcs_write(CR4_READ_SHADOW, h->cr4);
	vmcs_write(GUEST_CR4, vmx_apply_fixed(h->cr4, vmx_caps.cr4_fixed0, vmx_caps.cr4_fixed1));
	/* "IA-32e mode guest" follows LMA (SDM 26.3.1.1). */
	entry = (h->efer & X86_EFER_LMA) ? v->ctl.entry | VM_ENTRY_IA32E_MODE
					 : v->ctl.entry & ~(uint32_t)VM_ENTRY_IA32E_MODE;
	if (entry != v->ctl.entry) {
		v->ctl.entry = entry;
		vmcs_write(VM_ENTRY_CONTROLS, entry);
	}
	vmcs_write(GUEST_IA32_EFER, h->efer);
	vmcs_write(GUEST_INTERRUPTIBILITY_INFO, h->interruptibility);
	if (h->load_pat && (v->ctl.entry & VM_ENTRY_LOAD_IA32_PAT))
		vmcs_write(GUEST_IA32_PAT, h->pat);
	for (uint32_t i = 0; i < h->plain.n; i++)
		vmcs_write((enum vmcs_field)h->plain.enc[i], h->plain.val[i]);
}

/*
 * vmcs12 changed (L1 wrote fields, loaded, cleared or launched a VMCS, or an
 * exit was synthesized into it): what was derived from it goes stale. The
 * entry-check rows reading these classes (enum nested_check_reads) run
 * again, the host-state load is rebuilt if host state or controls changed,
 * and these vmcs02 items (vmcs02_hot_items) are rewritten at the next entry.
 */
void vmx_nested_fields_changed(struct vmx_nested *n, uint8_t classes, uint32_t vmcs02_items)
{
	n->checks_unchanged &= (uint8_t)~classes;
	if (classes & (READS_HOST | READS_CONTROLS))
		n->host_load_valid = false;
	n->vmcs02_dirty |= vmcs02_items;
}

/* ---- the VM-exit to L1 ------------------------------------------------------------------- */

/*
 * After vmcs12 holds the exit (nested_vmexit_to_l1, or a failed entry): L1
 * continues on vmcs01 with its host state (SDM 27.5). Its linear
 * translations of the old CR3 must go, as a CR3 load would drop them.
 */
static void switch_to_l1(struct vcpu *v, bool nmi_exit)
{
	struct vmx_nested *n = v->nested;
	struct vmcs12 *v12 = &n->vmx.vmcs12;
	struct l2_at_exit l2 = { .cr0 = v12->guest_cr0, .cr4 = v12->guest_cr4, .cr4_fixed0 = vmx_caps.cr4_fixed0,
				 .nmi_exit = nmi_exit };

	l2.efer = vmcs_read(GUEST_IA32_EFER);
	if (vmptrld(v->vmcs) < 0) {
		printk("hv: VMPTRLD of vmcs01 failed after L2; stopping L1\n");
		vmx_stop_guest(v, NULL, HV_EXIT_GUEST_DIED);
	}
	n->core.ev.guest_mode = false;
	n->entering = false;
	vmx_nested_fields_changed(n, READS_GUEST | READS_EVENT, vmcs02_hot_after_exit()); /* the exit wrote them */
	load_l1_host_state(v, v12, &l2);
	nested_load_exit_msr_list(v, v12->vm_exit_msr_load_addr, v12->vm_exit_msr_load_count);
	vmx_flush_guest_tlb(v);
}

/* SDM 26.8: a VM entry that fails on guest state or MSR loading is an exit with bit 31, no guest state saved. */
static void fail_entry_to_l1(struct vcpu *v, uint32_t reason, uint64_t qual)
{
	struct vmcs12 *v12 = &v->nested->vmx.vmcs12;

	v12->vm_exit_reason = reason | VMX_EXIT_REASON_FAILED_ENTRY;
	v12->exit_qualification = qual;
	v12->vm_entry_intr_info_field &= ~(uint32_t)INTR_INFO_VALID;
	if (v->nested->launching)
		v12->launch_state = 0; /* VMLAUNCH sets "launched" only once the entry succeeded */
	if (vmx_in_l2(v) || v->nested->entering) {
		switch_to_l1(v, false);
		return;
	}
	load_l1_host_state(v, v12, &(struct l2_at_exit){ .cr0 = vmx_guest_cr(GUEST_CR0, CR0_READ_SHADOW, v->cr0_mask),
							      .cr4 = vmx_guest_cr(GUEST_CR4, CR4_READ_SHADOW, v->cr4_mask),
							      .efer = vmcs_read(GUEST_IA32_EFER),
							      .cr4_fixed0 = vmx_caps.cr4_fixed0 });
	/* SDM 26.8: a failed entry still loads the VM-exit MSR-load list. */
	nested_load_exit_msr_list(v, v12->vm_exit_msr_load_addr, v12->vm_exit_msr_load_count);
	vmx_flush_guest_tlb(v);
}

/* One L2 exit for L1: exit information and L2's state into vmcs12 (the event core), then L1's host state. */
static void reflect_exit(struct vcpu *v, struct nested_exit *x)
{
	struct vmx_nested *n = v->nested;
	struct vmcs12 *v12 = &n->vmx.vmcs12;
	bool nmi = x->reason == EXIT_REASON_EXCEPTION_NMI &&
		   ((x->intr_info & INTR_INFO_TYPE_MASK) >> INTR_INFO_TYPE_SHIFT) == INTR_TYPE_NMI;

	nested_vmexit_to_l1(&n->core, x);
	v12->vmx_instruction_info = (uint32_t)vmcs_read(VMX_INSTRUCTION_INFO);
	v12->guest_linear_address = vmcs_read(GUEST_LINEAR_ADDRESS);
	/* vmcs01 runs L1 without a TSC offset: L1's TSC is the host's. */
	nested_store_exit_msr_list(v, v12->vm_exit_msr_store_addr, v12->vm_exit_msr_store_count, 0);
	switch_to_l1(v, nmi);
}

/* An exit of L2's that is L1's as the hardware reported it. */
static void reflect_to_l1(struct vcpu *v, uint32_t reason)
{
	struct nested_exit x = { .reason = reason, .qualification = vmcs_read(EXIT_QUALIFICATION),
				 .intr_info = (uint32_t)vmcs_read(VM_EXIT_INTR_INFO),
				 .intr_error_code = (uint32_t)vmcs_read(VM_EXIT_INTR_ERROR_CODE),
				 .insn_len = (uint32_t)vmcs_read(VM_EXIT_INSTRUCTION_LEN) };

	if (reason == EXIT_REASON_EPT_VIOLATION || reason == EXIT_REASON_EPT_MISCONFIG)
		v->nested->vmx.vmcs12.guest_physical_address = vmcs_read(GUEST_PHYSICAL_ADDRESS);
	reflect_exit(v, &x);
}

static void prepare_next_l2_entry(struct vcpu *v);

/*
 * L2 wrote L1's APIC-access page where the hypervisor traps it (L1's xAPIC
 * page, read-only for L1 in our EPT while it is trapped): our EPT violation
 * comes before the APIC-access check, so the hypervisor gives L1 the
 * APIC-access exit the hardware would have (SDM 30.4.1: offset in bits 11:0,
 * bits 15:12 the access type: 0 read, 1 write, 2 fetch, 3 during event
 * delivery). False if the page is not L1's APIC-access page.
 */
static bool apic_access_redirect(struct vcpu *v, uint64_t gpa1, uint64_t ept_qual)
{
	struct vmx_nested *n = v->nested;
	const struct vmcs12 *v12 = &n->vmx.vmcs12;
	struct nested_exit x = { .reason = EXIT_REASON_APIC_ACCESS };
	uint64_t type = (ept_qual & BIT(2)) ? 2 : (ept_qual & BIT(1)) ? 1 : 0;

	if (!(v12->cpu_based_vm_exec_control & CPU_BASED_ACTIVATE_SECONDARY) ||
	    !(v12->secondary_vm_exec_control & SECONDARY_VIRT_APIC_ACCESSES) ||
	    (gpa1 & ~0xfffULL) != (v12->apic_access_addr & ~0xfffULL))
		return false;
	if (vmcs_read(IDT_VECTORING_INFO_FIELD) & INTR_INFO_VALID)
		type = 3;
	x.qualification = (gpa1 & 0xfff) | type << 12;
	n->l2_reflected[EXIT_REASON_APIC_ACCESS]++;
	reflect_exit(v, &x);
	return true;
}

/* EPT violations and misconfigurations of vmcs02 under L1's EPT: the shadow's (nested_ept.c), or L1's own. */
static void l2_ept_exit(struct vcpu *v, uint32_t basic)
{
	struct vmx_nested *n = v->nested;
	struct nested_ept_exit e;

	if (basic == EXIT_REASON_EPT_MISCONFIG) {
		printk("hv: EPT misconfiguration of L2's shadow EPT at %#llx (a hypervisor bug); stopping L1\n",
		       (unsigned long long)vmcs_read(GUEST_PHYSICAL_ADDRESS));
		vmx_stop_guest(v, NULL, HV_EXIT_GUEST_DIED);
	}
	switch (nested_ept_violation(v, &e)) {
	case NESTED_EPT_L0_FAULT:
		if (!apic_access_redirect(v, e.gpa1, e.qualification))
			nested_ept_stop(v, "L1's EPT maps it onto memory the hypervisor keeps from L1 or traps "
					   "(not emulated for L2)", e.gpa, e.gpa1);
		return;
	case NESTED_EPT_HANDLED:
		break;
	case NESTED_EPT_TO_L1: {
		struct nested_exit x = { .reason = e.reason, .qualification = e.qualification,
					 .intr_info = (uint32_t)vmcs_read(VM_EXIT_INTR_INFO) };

		n->l2_reflected[e.reason % EXIT_REASON_MAX]++;
		n->vmx.vmcs12.guest_physical_address = e.gpa;
		reflect_exit(v, &x);
		return;
	}
	}
	n->l2_handled[basic % EXIT_REASON_MAX]++;
	prepare_next_l2_entry(v);
}

/* ---- L1's VMLAUNCH / VMRESUME --------------------------------------------------------------- */

static bool l1_ram_byte(void *ctx, uint64_t gpa, uint8_t *val)
{
	(void)ctx;
	return l1_read_phys(gpa, val, 1) == L1_MEM_OK;
}

/* One merged bitmap page: ours ORed with L1's (a page of L1's that is not its RAM counts as all ones). */
static void merge_bitmap(paddr_t dst, paddr_t ours, uint64_t l1_gpa, int l1_source)
{
	uint64_t *d = phys_to_virt(dst);
	const uint64_t *o = phys_to_virt(ours);
	uint64_t chunk[64];

	for (size_t off = 0; off < PAGE_SIZE; off += sizeof(chunk)) {
		if (l1_source == VMCS02_BITMAP_NONE)
			memset(chunk, 0, sizeof(chunk));
		else if (l1_source == VMCS02_BITMAP_ALL ||
			 l1_read_phys(l1_gpa + off, chunk, sizeof(chunk)) != L1_MEM_OK)
			memset(chunk, 0xff, sizeof(chunk));
		for (size_t i = 0; i < 64; i++)
			d[off / 8 + i] = o[off / 8 + i] | chunk[i];
	}
}

/*
 * L1's bitmaps are re-read at every entry (L1 may change them at any time,
 * as the hardware would see); merged bitmaps that depend on no page of L1's
 * (no I/O exits, or all of them) are made once and kept.
 */
static void merge_bitmaps(struct vcpu *v, const struct vmcs12 *v12)
{
	struct vmx_nested *n = v->nested;
	enum vmcs02_bitmap_source io = vmcs02_io_bitmap_source(v12);

	if (io == VMCS02_BITMAP_L1 || (int)io != n->io_merged) {
		merge_bitmap(n->io_bitmap_a, v->io_bitmap_a, v12->io_bitmap_a, io);
		merge_bitmap(n->io_bitmap_b, v->io_bitmap_b, v12->io_bitmap_b, io);
		n->io_merged = io == VMCS02_BITMAP_L1 ? -1 : (int)io;
	}
	if (vmcs02_uses_msr_bitmap(v12))
		merge_bitmap(n->msr_bitmap, v->msr_bitmap, v12->msr_bitmap, VMCS02_BITMAP_L1);
}

/* vmcs02's host state is the hypervisor's own, as in vmcs01: copied once, while vmcs01 is current, when vmcs02 is made. */
static bool vmcs02_create(struct vcpu *v)
{
	struct vmx_nested *n = v->nested;
	struct { uint32_t field; uint64_t val; } host[32];
	size_t nh = 0;

	for (size_t i = 0; i < vmcs12_nr_fields && nh < ARRAY_SIZE(host); i++) {
		uint32_t f = vmcs12_fields[i].encoding;

		if (vmcs_field_type(f) == VMCS_TYPE_HOST && vmcs_read_checked((enum vmcs_field)f, &host[nh].val) == 0)
			host[nh++].field = f;
	}
	*(uint32_t *)phys_to_virt(n->vmcs02) = (uint32_t)(vmx_caps.basic & VMX_BASIC_REVISION_MASK);
	if (vmclear(n->vmcs02) < 0 || vmptrld(n->vmcs02) < 0)
		return false;
	for (size_t i = 0; i < nh; i++)
		vmcs_write((enum vmcs_field)host[i].field, host[i].val);
	vmcs_write(HOST_RIP, (uint64_t)(uintptr_t)vmx_exit_stub_l2);
	n->vmcs02_ready = true;
	return true;
}

/* L2's VPID, next to L1's (0: the hardware has no VPIDs, and neither has L2). */
static uint16_t vpid02(const struct vcpu *v)
{
	return v->vpid ? (uint16_t)(v->vpid + 1) : 0;
}

/* One VPID for L2 whatever vmcs12's is: a different vmcs12 VPID than last time must not see the old one's translations. */
static void vpid02_sync(struct vcpu *v, const struct vmcs02_l0 *l0)
{
	struct vmx_nested *n = v->nested;
	const struct vmcs12 *v12 = &n->vmx.vmcs12;
	bool on = (v12->cpu_based_vm_exec_control & CPU_BASED_ACTIVATE_SECONDARY) &&
		  (v12->secondary_vm_exec_control & SECONDARY_ENABLE_VPID);

	if (!on || !l0->vpid02 || v12->virtual_processor_id == n->vpid12_last)
		return;
	n->vpid12_last = v12->virtual_processor_id;
	invvpid(INVVPID_SINGLE_CONTEXT, l0->vpid02, 0);
}

/* L1's INVVPID: L2's translations all live under vpid02 (invalidating more than asked is allowed, SDM 29.4.3). */
void vmx_nested_invvpid(struct vcpu *v)
{
	if (vpid02(v))
		invvpid(INVVPID_SINGLE_CONTEXT, vpid02(v), 0);
}

/* What the hypervisor keeps for itself in vmcs02, and what L2 inherits from L1 (read while vmcs01 is current). */
static void l0_needs(const struct vcpu *v, struct vmcs02_l0 *l0)
{
	const struct vmx_nested *n = v->nested;

	*l0 = (struct vmcs02_l0){
		/* Every NMI exits to the hypervisor (its stop requests, L1's NMIs), as for L1 (exit_nmi.c). */
		.pin = v->ctl.pin & (PIN_BASED_NMI_EXITING | PIN_BASED_VIRTUAL_NMIS),
		.proc = CPU_BASED_ACTIVATE_SECONDARY | (vmx_nested_dr_exits ? CPU_BASED_MOV_DR_EXITING : 0),
		.proc2 = SECONDARY_ENABLE_EPT,
		.exit_controls = v->ctl.exit & ~(uint32_t)VM_EXIT_ACK_INTR_ON_EXIT,
		.entry_controls = v->ctl.entry & ~(uint32_t)VM_ENTRY_IA32E_MODE,
		.pin_allowed1 = (uint32_t)(vmx_caps.pinbased >> 32),
		.proc_allowed1 = (uint32_t)(vmx_caps.procbased >> 32),
		.proc2_allowed1 = (uint32_t)(vmx_caps.procbased2 >> 32),
		.entry_allowed1 = (uint32_t)(vmx_caps.entry >> 32),
		.io_bitmap_a = n->io_bitmap_a, .io_bitmap_b = n->io_bitmap_b, .msr_bitmap = n->msr_bitmap,
		.eptp = nested_ept_enabled(&n->vmx.vmcs12) ? nested_ept_eptp02((struct vcpu *)v) : v->eptp,
		.proc2_emulated = SECONDARY_ENABLE_PML, .vpid02 = vpid02(v),
		.cr0_mask = v->cr0_mask, .cr4_mask = v->cr4_mask,
		.tsc_offset = (v->ctl.proc & CPU_BASED_USE_TSC_OFFSETTING) ? vmcs_read(TSC_OFFSET) : 0,
		.l1_efer = vmcs_read(GUEST_IA32_EFER),
		.l1_pat = (v->ctl.entry & VM_ENTRY_LOAD_IA32_PAT) ? vmcs_read(GUEST_IA32_PAT) : rdmsr(MSR_IA32_PAT),
		.l1_dr7 = vmcs_read(GUEST_DR7), .l1_debugctl = vmcs_read(GUEST_IA32_DEBUGCTL),
	};
}

/* PAE paging without IA-32e mode: the CPU takes L2's PDPTEs from vmcs02 under EPT (SDM 26.3.2.4); L1 expects them from CR3. */
static void load_l2_pdptes(const struct vmcs12 *v12)
{
	uint64_t pdpte[4] = { 0 };
	bool pae = (v12->guest_cr0 & X86_CR0_PG) && (v12->guest_cr4 & X86_CR4_PAE) &&
		   !(v12->vm_entry_controls & VM_ENTRY_IA32E_MODE);

	/* With L1's EPT the PDPTEs come from vmcs12 (copied with the guest state), as for L1 on hardware (26.3.2.4). */
	if (!pae || nested_ept_enabled(v12))
		return;
	if (l1_read_phys(v12->guest_cr3 & 0xffffffe0ULL, pdpte, sizeof(pdpte)) != L1_MEM_OK)
		memset(pdpte, 0, sizeof(pdpte));
	vmcs_write(GUEST_PDPTE0, pdpte[0]);
	vmcs_write(GUEST_PDPTE1, pdpte[1]);
	vmcs_write(GUEST_PDPTE2, pdpte[2]);
	vmcs_write(GUEST_PDPTE3, pdpte[3]);
}

/* VMfailValid(err) for L1's instruction: the error goes into the current vmcs12 (SDM 31.2). */
static void vmfail_valid(struct vcpu *v, uint32_t err)
{
	v->nested->vmx.vmcs12.vm_instruction_error = err;
	vmcs_write(GUEST_RFLAGS, vmx_result_rflags(vmcs_read(GUEST_RFLAGS), VMX_FAIL_VALID));
	vmx_skip_instruction();
}

/*
 * With "use TPR shadow" the hardware reads and writes the virtual-APIC page
 * of vmcs02 directly: it must be L1 RAM (never the hypervisor's, never
 * MMIO). Its VTPR byte feeds a consistency check. A page that is not L1 RAM
 * is refused as an invalid control (the hardware would write whatever is
 * there; we do not let it).
 */
static bool virtual_apic_page_ok(const struct vmcs12 *v12, uint8_t *vtpr)
{
	uint64_t page = v12->virtual_apic_page_addr & ~0xfffULL;

	if (!(v12->cpu_based_vm_exec_control & CPU_BASED_TPR_SHADOW))
		return true;
	if (!l1_ram_covers(mm_guest_map(), page, PAGE_SIZE) || mm_range_overlaps_hv(page, PAGE_SIZE) ||
	    l1_read_phys(page + 0x80, vtpr, 1) != L1_MEM_OK) {
		printk("hv: L1's virtual-APIC page %#llx is not its RAM; its VM entry fails\n",
		       (unsigned long long)v12->virtual_apic_page_addr);
		return false;
	}
	return true;
}

void vmx_nested_post_init(struct vcpu *v)
{
	__atomic_store_n(&v->nested->init_posted, true, __ATOMIC_RELEASE);
}

/* A posted INIT becomes the event core's pending INIT (this CPU owns the core). */
static void take_posted_init(struct vmx_nested *n)
{
	if (__atomic_load_n(&n->init_posted, __ATOMIC_ACQUIRE) && __atomic_exchange_n(&n->init_posted, false,
											 __ATOMIC_ACQ_REL))
		n->core.ev.init_pending = true;
}

/*
 * L1's VM entry after the launch-state checks: vmcs12's consistency checks
 * (one table), then vmcs02 is built and becomes current; the exit stub
 * VMLAUNCHes or VMRESUMEs it. L1's GPRs are L2's: VM entries load none.
 */
void vmx_nested_enter_l2(struct vcpu *v, struct guest_regs *r, bool launch)
{
	struct vmx_nested *n = v->nested;
	struct vmcs12 *v12 = &n->vmx.vmcs12;
	struct nested_entry_ctx ctx = { .caps = &l1_caps, .l1_ia32e = (vmcs_read(GUEST_IA32_EFER) & X86_EFER_LMA) != 0 };
	const struct nested_entry_check *bad;
	struct vmcs02_l0 l0;
	uint32_t bad_msr;

	n->launching = launch;
	if (!virtual_apic_page_ok(v12, &ctx.vtpr)) {
		vmfail_valid(v, VMXERR_ENTRY_INVALID_CONTROL_FIELD);
		return;
	}
	if (launch)
		vmx_nested_fields_changed(n, 0xff, VMCS02_COLD);
	ctx.unchanged = ctx.l1_ia32e != n->checks_l1_ia32e ? 0 : n->checks_unchanged;
	bad = nested_check_vmentry(v12, &ctx);
	if (bad && bad->outcome != ENTRY_FAIL_GUEST) {
		vmfail_valid(v, bad->outcome == ENTRY_VMFAIL_CONTROL ? VMXERR_ENTRY_INVALID_CONTROL_FIELD
								      : VMXERR_ENTRY_INVALID_HOST_STATE_FIELD);
		return;
	}
	if (bad) {
		fail_entry_to_l1(v, EXIT_REASON_INVALID_GUEST_STATE, bad->qualification);
		return;
	}
	n->checks_unchanged = 0xff; /* every row held: until L1 changes an input */
	n->checks_l1_ia32e = ctx.l1_ia32e;
	bad_msr = nested_check_entry_msr_list(v12->vm_entry_msr_load_addr, v12->vm_entry_msr_load_count);
	if (bad_msr) {
		fail_entry_to_l1(v, EXIT_REASON_MSR_LOAD_FAIL, bad_msr); /* SDM 26.4: the entry's 1-based index */
		return;
	}
	l0_needs(v, &l0);
	vpid02_sync(v, &l0);
	take_posted_init(n);
	/* A latched INIT: the exit to L1 follows the entry at once (after its injection, SDM 26.7.4). */
	l0.immediate_exit = n->immediate_exit = n->core.ev.init_pending;
	merge_bitmaps(v, v12);
	if (!n->vmcs02_ready && !vmcs02_create(v)) {
		printk("hv: cannot set up vmcs02; stopping L1\n");
		vmx_stop_guest(v, NULL, HV_EXIT_GUEST_DIED);
	}
	if (vmptrld(n->vmcs02) < 0)
		vmx_stop_guest(v, NULL, HV_EXIT_GUEST_DIED);
	set_l2_ops(v);
	if (n->vmcs02_for != n->vmx.current_vmptr || !vmcs02_l0_same(&l0, &n->l0_last))
		n->vmcs02_dirty |= VMCS02_COLD;
	if (n->vmcs02_dirty & VMCS02_COLD)
		nested_capture_rare(&n->core); /* a full prepare writes vmcs12's: vmcs02's are newer */
	vmcs02_prepare(v12, n->vmx.features, &l0, &n->core.l2, n->vmcs02_dirty);
	n->vmcs02_dirty = 0;
	n->vmcs02_for = n->vmx.current_vmptr;
	n->l0_last = l0;
	nested_load_entry_msr_list(v12->vm_entry_msr_load_addr, v12->vm_entry_msr_load_count);
	load_l2_pdptes(v12);
	nested_enter_l2(&n->core);
	if (launch)
		v12->launch_state = VMCS12_LAUNCHED;
	n->entering = true;
	if (n->vmcs02_launched)
		return; /* the exit stub VMRESUMEs the current VMCS: vmcs02 */
	/* A clear vmcs02 needs VMLAUNCH: done here; its exits arrive at vmx_exit_stub_l2 on a fresh stack. */
	n->vmcs02_launched = true;
	vmx_launch(r);
	vmx_nested_entry_refused(v, r);
}

/*
 * After the hardware refused or failed an entry on vmcs02, its launch state
 * depends on which instruction we used; VMCLEAR makes it "clear" either way
 * (the field values stay in the region), so the next entry is a VMLAUNCH.
 */
static void vmcs02_reset(struct vmx_nested *n)
{
	vmclear(n->vmcs02);
	n->vmcs02_launched = false;
	n->vmcs02_dirty |= VMCS02_COLD;
}

/*
 * L2's rare state from vmcs02 into vmcs12 (VMCS12_RARE_LIST), for an
 * instruction of L1's that needs it (nested_insn_needs_rare); vmcs01 is
 * current before and after.
 */
void vmx_nested_capture_rare(struct vcpu *v)
{
	struct vmx_nested *n = v->nested;

	if (!n || !n->core.rare_in_vmcs02)
		return;
	if (vmptrld(n->vmcs02) < 0)
		goto broken;
	set_l2_ops(v);
	nested_capture_rare(&n->core);
	if (vmptrld(v->vmcs) == 0)
		return;
broken:
	printk("hv: cannot switch between vmcs01 and vmcs02 to read L2's state; stopping L1\n");
	vmx_stop_guest(v, NULL, HV_EXIT_GUEST_DIED);
}

/* The hardware refused vmcs02 as a whole: L1's VMLAUNCH/VMRESUME gets the same VM-instruction error. */
__noreturn void vmx_nested_entry_refused(struct vcpu *v, struct guest_regs *r)
{
	struct vmx_nested *n = v->nested;
	uint64_t err = 0;

	vmcs_read_checked(VM_INSTRUCTION_ERROR, &err);
	printk("hv: the hardware refused vmcs02 (VM-instruction error %llu); L1's VM entry fails with it\n",
	       (unsigned long long)err);
	n->core.ev.guest_mode = false;
	n->entering = false;
	if (n->launching)
		n->vmx.vmcs12.launch_state = 0;
	if (vmptrld(v->vmcs) < 0)
		vmx_stop_guest(v, r, HV_EXIT_GUEST_DIED);
	vmcs02_reset(n);
	vmfail_valid(v, (uint32_t)err);
	vmx_shadow_l1_resumes(v);
	vmx_resume_regs(r);
	printk("hv: VMRESUME of L1 after its refused VM entry failed\n");
	vmx_stop_guest(v, r, HV_EXIT_GUEST_DIED);
}

/* ---- L2's exits ------------------------------------------------------------------------------ */

/* The exit as hv/nested/exit_decide.c needs it. */
static void describe_exit(const struct guest_regs *r, uint32_t reason, struct l2_exit *x)
{
	*x = (struct l2_exit){ .reason = reason, .qualification = vmcs_read(EXIT_QUALIFICATION),
			       .intr_info = (uint32_t)vmcs_read(VM_EXIT_INTR_INFO),
			       .intr_error_code = (uint32_t)vmcs_read(VM_EXIT_INTR_ERROR_CODE),
			       .msr = (uint32_t)r->rcx };
	if (reason == EXIT_REASON_CR_ACCESS) {
		uint32_t type = (x->qualification >> 4) & 3;

		x->cr_value = type == 3 ? (x->qualification >> 16) & 0xffff
					: vmx_guest_gpr(r, (unsigned int)(x->qualification >> 8) & 15);
	}
}

void vmx_nested_handle_l0_exit(struct vcpu *v, struct guest_regs *r, uint32_t basic);

/* Carries out what the event core picked for the next entry: maybe an exit to L1 instead. */
static void prepare_next_l2_entry(struct vcpu *v)
{
	struct nested_choice c;

	take_posted_init(v->nested); /* e.g. L2's own ICR write, emulated in this exit: the next boundary sees it */
	c = nested_prepare_entry(&v->nested->core);

	if (c.action == NESTED_ACT_VMEXIT)
		switch_to_l1(v, c.source == NESTED_SRC_NMI);
}

/*
 * The first exit after an entry with an immediate exit armed: vmcs02's timer
 * goes back to what vmcs12 says (no L2 instruction ran, so L1's timer value
 * is unchanged). True if this exit is the armed timer itself, which is ours.
 */
static bool immediate_exit_done(struct vcpu *v, uint32_t basic)
{
	const struct vmcs12 *v12 = &v->nested->vmx.vmcs12;
	bool l1_timer = v12->pin_based_vm_exec_control & PIN_BASED_PREEMPTION_TIMER;

	v->nested->immediate_exit = false;
	v->nested->l0_last.immediate_exit = false; /* vmcs02 is not armed any more: arming it again is a change */
	if (!l1_timer)
		vmcs_write(PIN_BASED_VM_EXEC_CONTROL,
			   vmcs_read(PIN_BASED_VM_EXEC_CONTROL) & ~(uint64_t)PIN_BASED_PREEMPTION_TIMER);
	vmcs_write(VMX_PREEMPTION_TIMER_VALUE, v12->vmx_preemption_timer_value);
	return basic == EXIT_REASON_PREEMPTION_TIMER;
}

/* INIT while L1 is in VMX root operation (not in L2: then it is an INIT exit of L2's). */
bool vmx_nested_latch_init(struct vcpu *v)
{
	struct vmx_nested *n = v->nested;

	if (!n || !n->vmx.vmxon || n->core.ev.guest_mode)
		return false;
	n->core.ev.init_pending = true;
	return true;
}

void vmx_nested_after_vmxoff(struct vcpu *v, struct guest_regs *r)
{
	nested_ept_release(v);
	vmx_apic_trap_update(v);
	take_posted_init(v->nested);
	if (!v->nested->core.ev.init_pending)
		return;
	v->nested->core.ev.init_pending = false;
	vmx_l1_init(v, r);
}

/*
 * Every exit while L2 runs. The first after L1's entry completes it. One
 * function decides the owner; the hypervisor's own exits are handled by the
 * same handlers as L1's (on vmcs02), L1's are reflected.
 */
void vmx_nested_l2_exit(struct vcpu *v, struct guest_regs *r)
{
	struct vmx_nested *n = v->nested;
	uint32_t reason = (uint32_t)vmcs_read(VM_EXIT_REASON), basic = VMX_EXIT_REASON_BASIC(reason);
	struct l2_exit x;

	if (reason & VMX_EXIT_REASON_FAILED_ENTRY) {
		n->l2_reflected[basic % EXIT_REASON_MAX]++;
		fail_entry_to_l1(v, basic, vmcs_read(EXIT_QUALIFICATION));
		vmcs02_reset(n);
		return;
	}
	n->entering = false;
	nested_l2_exited(&n->core);
	take_posted_init(n);
	if (n->immediate_exit && immediate_exit_done(v, basic)) {
		n->l2_handled[basic % EXIT_REASON_MAX]++;
		prepare_next_l2_entry(v);
		return;
	}
	if ((basic == EXIT_REASON_EPT_VIOLATION || basic == EXIT_REASON_EPT_MISCONFIG) &&
	    nested_ept_enabled(&n->vmx.vmcs12)) {
		l2_ept_exit(v, basic);
		return;
	}
	if (basic == EXIT_REASON_EPT_VIOLATION &&
	    apic_access_redirect(v, vmcs_read(GUEST_PHYSICAL_ADDRESS), vmcs_read(EXIT_QUALIFICATION)))
		return;
	describe_exit(r, basic, &x);
	/* The hypervisor's own stop NMI is never L1's, whatever L1 intercepts. */
	if (nested_l2_exit_owner(&n->vmx.vmcs12, &x, l1_ram_byte, NULL) == NESTED_EXIT_L1 &&
	    !(basic == EXIT_REASON_EXCEPTION_NMI && vmx_nmi_stop_pending())) {
		n->l2_reflected[basic % EXIT_REASON_MAX]++;
		reflect_to_l1(v, basic);
		return;
	}
	n->l2_handled[basic % EXIT_REASON_MAX]++;
	vmx_nested_handle_l0_exit(v, r, basic);
	if (vmx_in_l2(v))
		prepare_next_l2_entry(v);
}

/* An exception the hypervisor raises for L2: queued in the event core, which routes it to L2 or L1 (SDM 25.2). */
void vmx_nested_queue_exception(struct vcpu *v, uint8_t vector, bool has_error_code, uint32_t error_code)
{
	struct nested_exception ex = { .ev = { .valid = true, .type = INTR_TYPE_HW_EXCEPTION, .vector = vector,
					       .has_error_code = has_error_code, .error_code = error_code } };

	nested_queue_exception(&v->nested->core, &ex);
}

/*
 * A trap-like #DB that an instruction the hypervisor emulated for L2 owes
 * (single step, I/O breakpoint): queued with its DR6 bits as payload, so the
 * event core delivers it to L2, reflects it to L1 (exception bitmap) or keeps
 * it in vmcs12's pending debug exceptions when another exit to L1 wins.
 */
void vmx_nested_queue_debug_trap(struct vcpu *v, uint64_t dr6_bits)
{
	struct nested_exception ex = { .ev = { .valid = true, .type = INTR_TYPE_HW_EXCEPTION, .vector = DB_VECTOR },
				       .has_payload = true, .payload = dr6_bits & ~(uint64_t)PENDING_DBG_BP_ENABLED };

	nested_queue_exception(&v->nested->core, &ex);
}

/*
 * DR7.GD with a MOV DR the hypervisor intercepted: the #DB is fault-like
 * (SDM 18.2.4, 6.9), RIP stays at the MOV and the MOV wrote nothing, so it is
 * restartable: an exit to L1 that wins at this boundary drops it and L1 sees
 * no BD in the pending debug exceptions (the seed review's rule: only
 * trap-like #DBs are pending debug exceptions).
 */
void vmx_nested_queue_gd_fault(struct vcpu *v)
{
	struct nested_exception ex = { .ev = { .valid = true, .type = INTR_TYPE_HW_EXCEPTION, .vector = DB_VECTOR },
				       .has_payload = true, .payload = DR6_BD, .restartable = true };

	nested_queue_exception(&v->nested->core, &ex);
}

/*
 * vmcs02 is rewritten in full after L1 wrote a field that is not hot
 * (vmcs02_hot_items), or loaded, cleared, entered or left VMX operation
 * with a VMCS; VMREAD, VMPTRST and hot VMWRITEs keep it as it is. A VMWRITE
 * makes the entry-check rows reading its class run again, anything else
 * every row.
 */
void vmx_nested_note_insn(struct vcpu *v, const struct nested_insn *insn, enum nested_outcome outcome)
{
	if (!v->nested || outcome != VMX_SUCCEED)
		return;
	if (insn->op == NESTED_VMREAD || insn->op == NESTED_VMPTRST || insn->op == NESTED_VMLAUNCH ||
	    insn->op == NESTED_VMRESUME)
		return; /* an entry: VMLAUNCH prepares in full anyway */
	if (insn->op == NESTED_VMWRITE) {
		vmx_nested_fields_changed(v->nested, nested_check_field_class((uint32_t)insn->field),
					  vmcs02_hot_items((uint32_t)insn->field));
		return;
	}
	vmx_nested_fields_changed(v->nested, 0xff, VMCS02_COLD);
}
