/* vmcs02 from vmcs12: L1's controls merged with the hypervisor's, L2's guest state, CR masks and shadows (SDM 26.3, 25.3). */
#include "hv/nested/vmcs02.h"
#include "hv/x86.h"

enum vmcs02_bitmap_source vmcs02_io_bitmap_source(const struct vmcs12 *vmcs12)
{
	uint32_t proc = vmcs12->cpu_based_vm_exec_control;

	/* "Use I/O bitmaps" overrides "unconditional I/O exiting" (SDM 25.1.3). */
	if (proc & CPU_BASED_USE_IO_BITMAPS)
		return VMCS02_BITMAP_L1;
	return (proc & CPU_BASED_UNCOND_IO_EXITING) ? VMCS02_BITMAP_ALL : VMCS02_BITMAP_NONE;
}

bool vmcs02_uses_msr_bitmap(const struct vmcs12 *vmcs12)
{
	return vmcs12->cpu_based_vm_exec_control & CPU_BASED_USE_MSR_BITMAPS;
}

uint64_t vmcs02_l2_cr(uint64_t real, uint64_t shadow, uint64_t l0_mask, uint64_t vmcs12_mask)
{
	uint64_t l0_only = l0_mask & ~vmcs12_mask;

	return (real & ~l0_only) | (shadow & l0_only);
}

/*
 * What L2's EFER is at entry (SDM 26.3.2.1): vmcs12's if it loads EFER,
 * else L1's with LMA (and LME under paging) set by "IA-32e mode guest".
 */
static uint64_t l2_efer(const struct vmcs12 *vmcs12, const struct vmcs02_l0 *l0)
{
	bool ia32e = vmcs12->vm_entry_controls & VM_ENTRY_IA32E_MODE;
	uint64_t efer;

	if (vmcs12->vm_entry_controls & VM_ENTRY_LOAD_IA32_EFER)
		return vmcs12->guest_ia32_efer;
	efer = l0->l1_efer & ~(uint64_t)(X86_EFER_LMA | X86_EFER_LME);
	if (ia32e)
		efer |= X86_EFER_LMA | ((vmcs12->guest_cr0 & X86_CR0_PG) ? X86_EFER_LME : 0);
	return efer;
}

/* The prepare's writes, handed to the wiring a batch at a time. */
struct vmcs02_writes {
	const struct nested_l2_ops *ops;
	struct vmcs_batch b;
};

static inline void put(struct vmcs02_writes *w, uint32_t enc, uint64_t val)
{
	if (w->b.n == VMCS_BATCH_MAX)
		nested_l2_write_batch(w->ops, &w->b);
	vmcs_batch_put(&w->b, enc, val);
}

/* Guest-state fields whose vmcs02 value is not simply vmcs12's. */
static bool guest_field_is_special(uint32_t enc)
{
	switch (enc) {
	case VMCS_LINK_POINTER: case GUEST_IA32_EFER: case GUEST_IA32_PAT:
	case GUEST_DR7: case GUEST_IA32_DEBUGCTL:
		return true;
	default:
		return false;
	}
}

static void prepare_guest_state(const struct vmcs12 *vmcs12, uint32_t features, const struct vmcs02_l0 *l0,
				struct vmcs02_writes *w)
{
	(void)l0;
	for (size_t i = 0; i < vmcs12_nr_fields; i++) {
		const struct vmcs12_field *f = &vmcs12_fields[i];

		if (vmcs_field_type(f->encoding) != VMCS_TYPE_GUEST || !vmcs12_field_exists(f, features) ||
		    guest_field_is_special(f->encoding))
			continue;
		put(w, f->encoding, vmcs12_read_field(vmcs12, f));
	}
}

static void prepare_special_guest_state(const struct vmcs12 *vmcs12, const struct vmcs02_l0 *l0,
					struct vmcs02_writes *w)
{
	bool load_debug = vmcs12->vm_entry_controls & VM_ENTRY_LOAD_DEBUG_CONTROLS;
	bool load_pat = vmcs12->vm_entry_controls & VM_ENTRY_LOAD_IA32_PAT;

	/* No shadow VMCS for L2; what L2 inherits from L1 unless vmcs12 loads its own (SDM 26.3.2.1). */
	put(w, VMCS_LINK_POINTER, ~0ULL);
	put(w, GUEST_IA32_EFER, l2_efer(vmcs12, l0));
	put(w, GUEST_IA32_PAT, load_pat ? vmcs12->guest_ia32_pat : l0->l1_pat);
	put(w, GUEST_DR7, load_debug ? vmcs12->guest_dr7 : l0->l1_dr7);
	put(w, GUEST_IA32_DEBUGCTL, load_debug ? vmcs12->guest_ia32_debugctl : l0->l1_debugctl);
}

/* Each CR: L1's mask plus ours; the shadow shows L1's shadow for L1's bits and L2's own value for ours. */
static void prepare_cr(struct vmcs02_writes *w, enum vmcs_field mask_f, enum vmcs_field shadow_f,
		       uint64_t mask12, uint64_t shadow12, uint64_t guest12, uint64_t l0_mask)
{
	put(w, mask_f, mask12 | l0_mask);
	put(w, shadow_f, (shadow12 & mask12) | (guest12 & ~mask12));
}

static void prepare_controls(const struct vmcs12 *vmcs12, const struct vmcs02_l0 *l0,
			     struct vmcs02_writes *w)
{
	uint32_t proc12 = vmcs12->cpu_based_vm_exec_control;
	uint32_t proc2_12 = (proc12 & CPU_BASED_ACTIVATE_SECONDARY) ? vmcs12->secondary_vm_exec_control : 0;
	uint32_t proc = (proc12 & ~(uint32_t)(CPU_BASED_UNCOND_IO_EXITING | CPU_BASED_USE_MSR_BITMAPS)) |
			CPU_BASED_USE_IO_BITMAPS | l0->proc;
	uint64_t tsc_offset = l0->tsc_offset;

	if (vmcs02_uses_msr_bitmap(vmcs12))
		proc |= CPU_BASED_USE_MSR_BITMAPS;
	/* TSC offsets compose: L2's TSC is L1's plus L1's offset for L2 (SDM 25.3). */
	if (proc12 & CPU_BASED_USE_TSC_OFFSETTING)
		tsc_offset += vmcs12->tsc_offset;
	if (tsc_offset)
		proc |= CPU_BASED_USE_TSC_OFFSETTING;
	put(w, PIN_BASED_VM_EXEC_CONTROL,
	    (vmcs12->pin_based_vm_exec_control | l0->pin | (l0->immediate_exit ? PIN_BASED_PREEMPTION_TIMER : 0)) &
		    l0->pin_allowed1);
	put(w, CPU_BASED_VM_EXEC_CONTROL, proc & l0->proc_allowed1);
	proc2_12 &= ~l0->proc2_emulated;
	if (!l0->vpid02)
		proc2_12 &= ~(uint32_t)SECONDARY_ENABLE_VPID;
	put(w, SECONDARY_VM_EXEC_CONTROL, (proc2_12 | l0->proc2) & l0->proc2_allowed1);
	/* L2's translations are tagged apart from L1's: one VPID for whatever vmcs12 says (flushed when that changes). */
	if (proc2_12 & SECONDARY_ENABLE_VPID)
		put(w, VIRTUAL_PROCESSOR_ID, l0->vpid02);
	put(w, TSC_OFFSET, tsc_offset);
	put(w, EXCEPTION_BITMAP, vmcs12->exception_bitmap);
	put(w, PAGE_FAULT_ERROR_CODE_MASK, vmcs12->page_fault_error_code_mask);
	put(w, PAGE_FAULT_ERROR_CODE_MATCH, vmcs12->page_fault_error_code_match);
	put(w, CR3_TARGET_COUNT, vmcs12->cr3_target_count);
	put(w, CR3_TARGET_VALUE0, vmcs12->cr3_target_value0);
	put(w, CR3_TARGET_VALUE1, vmcs12->cr3_target_value1);
	put(w, CR3_TARGET_VALUE2, vmcs12->cr3_target_value2);
	put(w, CR3_TARGET_VALUE3, vmcs12->cr3_target_value3);
	put(w, IO_BITMAP_A, l0->io_bitmap_a);
	put(w, IO_BITMAP_B, l0->io_bitmap_b);
	put(w, MSR_BITMAP, l0->msr_bitmap);
	put(w, EPT_POINTER, l0->eptp);
	/*
	 * L1's APIC-access page: only compared with L2's physical accesses, never
	 * read or written by the CPU (SDM 30.4); L1's addresses are host-physical.
	 */
	if (proc2_12 & SECONDARY_VIRT_APIC_ACCESSES)
		put(w, APIC_ACCESS_ADDR, vmcs12->apic_access_addr);
	/* The virtual-APIC page is L1 RAM (the wiring checked it), the same address host-physically. */
	if (proc12 & CPU_BASED_TPR_SHADOW) {
		put(w, VIRTUAL_APIC_PAGE_ADDR, vmcs12->virtual_apic_page_addr);
		put(w, TPR_THRESHOLD, vmcs12->tpr_threshold);
	}
	/* L1's VM-exit controls are emulated at the synthesized exit; the hardware exit is ours, saving what we capture. */
	/*
	 * L1's "acknowledge interrupt on exit" is the hardware's for vmcs02: only L1 asks for
	 * external-interrupt exits of L2, so the vector the CPU acknowledges goes to L1 (SDM 27.2.2).
	 */
	put(w, VM_EXIT_CONTROLS, l0->exit_controls |
	    ((vmcs12->pin_based_vm_exec_control & PIN_BASED_PREEMPTION_TIMER) ? VM_EXIT_SAVE_PREEMPTION_TIMER : 0) |
	    (vmcs12->vm_exit_controls & VM_EXIT_ACK_INTR_ON_EXIT));
	put(w, VM_ENTRY_CONTROLS,
	    (vmcs12->vm_entry_controls & VM_ENTRY_IA32E_MODE) | (l0->entry_controls & l0->entry_allowed1));
	/* L1's MSR lists are processed in software; the event to inject is the event core's. */
	put(w, VM_EXIT_MSR_STORE_COUNT, 0);
	put(w, VM_EXIT_MSR_LOAD_COUNT, 0);
	put(w, VM_ENTRY_MSR_LOAD_COUNT, 0);
	put(w, VM_ENTRY_INTR_INFO_FIELD, 0);
}

/*
 * Guest fields L1 changes between most entries (it emulated an instruction
 * of L2's, or switches L2's address space). Everything else in vmcs02
 * already holds what vmcs12 holds after the last reflected exit (captured
 * from vmcs02) until L1 writes it: then the wiring asks for a full prepare.
 * A hot prepare rewrites only the items whose vmcs12 inputs changed
 * (vmcs02_hot_items): one bit per field below, the CR0 and CR4 mask/shadow
 * pairs, and the guest fields whose value is not simply vmcs12's
 * (guest_field_is_special).
 */
enum hot_item {
	HOT_RIP, HOT_RSP, HOT_RFLAGS, HOT_CR0, HOT_CR3, HOT_CR4, HOT_INTERRUPTIBILITY, HOT_ACTIVITY,
	HOT_PENDING_DBG, HOT_TIMER, HOT_PDPTE0, HOT_PDPTE1, HOT_PDPTE2, HOT_PDPTE3, HOT_NR_FIELDS
};
static const uint16_t hot_guest_fields[HOT_NR_FIELDS] = {
	[HOT_RIP] = GUEST_RIP, [HOT_RSP] = GUEST_RSP, [HOT_RFLAGS] = GUEST_RFLAGS, [HOT_CR0] = GUEST_CR0,
	[HOT_CR3] = GUEST_CR3, [HOT_CR4] = GUEST_CR4, [HOT_INTERRUPTIBILITY] = GUEST_INTERRUPTIBILITY_INFO,
	[HOT_ACTIVITY] = GUEST_ACTIVITY_STATE, [HOT_PENDING_DBG] = GUEST_PENDING_DBG_EXCEPTIONS,
	[HOT_TIMER] = VMX_PREEMPTION_TIMER_VALUE, [HOT_PDPTE0] = GUEST_PDPTE0, [HOT_PDPTE1] = GUEST_PDPTE1,
	[HOT_PDPTE2] = GUEST_PDPTE2, [HOT_PDPTE3] = GUEST_PDPTE3,
};
#define HOT_CR0_PAIR  BIT(14)
#define HOT_CR4_PAIR  BIT(15)
#define HOT_SPECIALS  BIT(16)
STATIC_ASSERT(HOT_NR_FIELDS <= 14, "one item bit per hot guest field");
STATIC_ASSERT(VMCS02_HOT_ALL == BIT(17) - 1, "the items' bits");

static uint32_t hot_field_bit(uint32_t enc)
{
	for (size_t i = 0; i < ARRAY_SIZE(hot_guest_fields); i++)
		if (hot_guest_fields[i] == enc)
			return BIT(i);
	return 0;
}

uint32_t vmcs02_hot_items(uint32_t enc)
{
	enc &= ~1u; /* either half of a 64-bit field */
	/* vmcs12's host state and exit information never reach vmcs02 (the exit reads them from vmcs12). */
	if (vmcs_field_type(enc) == VMCS_TYPE_HOST || vmcs_field_type(enc) == VMCS_TYPE_READ_ONLY)
		return 0;
	if (guest_field_is_special(enc))
		return HOT_SPECIALS;
	switch (enc) {
	case CR0_GUEST_HOST_MASK: case CR0_READ_SHADOW:
		return HOT_CR0_PAIR;
	case CR4_GUEST_HOST_MASK: case CR4_READ_SHADOW:
		return HOT_CR4_PAIR;
	case GUEST_CR0:
		return hot_field_bit(enc) | HOT_CR0_PAIR; /* the read shadow shows L2's own bits */
	case GUEST_CR4:
		return hot_field_bit(enc) | HOT_CR4_PAIR;
	default:
		return hot_field_bit(enc) ? hot_field_bit(enc) : VMCS02_COLD;
	}
}

/*
 * What a synthesized exit may leave different between vmcs12 and vmcs02:
 * the pending debug exceptions and interruptibility it rewrites (SDM
 * 27.3.4), the preemption timer the hardware counted down without saving
 * it into vmcs12, CR0/CR4 taken as L2 sees them, and the special guest
 * fields: L2 changed DR7, DEBUGCTL, PAT or EFER in vmcs02, but the next
 * entry loads vmcs12's or L1's (SDM 26.3.2.1) whatever the exit saved.
 */
uint32_t vmcs02_hot_after_exit(void)
{
	return BIT(HOT_PENDING_DBG) | BIT(HOT_INTERRUPTIBILITY) | BIT(HOT_TIMER) | BIT(HOT_CR0) | BIT(HOT_CR4) |
	       HOT_CR0_PAIR | HOT_CR4_PAIR | HOT_SPECIALS;
}

/* The hot guest fields of the offered features (vmcs02_init; the host tests vary the features). */
static struct {
	uint32_t features;
	uint32_t n;
	const struct vmcs12_field *f[ARRAY_SIZE(hot_guest_fields)];
	uint32_t bit[ARRAY_SIZE(hot_guest_fields)];
} hot = { .features = ~0u };

void vmcs02_init(uint32_t features)
{
	hot.n = 0;
	for (size_t i = 0; i < ARRAY_SIZE(hot_guest_fields); i++) {
		const struct vmcs12_field *f = vmcs12_field_lookup(hot_guest_fields[i]);

		if (vmcs12_field_exists(f, features)) {
			hot.bit[hot.n] = BIT(i);
			hot.f[hot.n++] = f;
		}
	}
	hot.features = features;
}

static void prepare_hot_guest_state(const struct vmcs12 *vmcs12, uint32_t features, uint32_t items,
				    struct vmcs02_writes *w)
{
	if (hot.features != features)
		vmcs02_init(features); /* the host tests; the hypervisor calls it once at boot */
	for (uint32_t i = 0; i < hot.n; i++)
		if (items & hot.bit[i])
			put(w, hot.f[i]->encoding, vmcs12_read_field(vmcs12, hot.f[i]));
}

void vmcs02_prepare(const struct vmcs12 *vmcs12, uint32_t features, const struct vmcs02_l0 *l0,
		    const struct nested_l2_ops *ops, uint32_t items)
{
	bool full = items & VMCS02_COLD;
	struct vmcs02_writes w;

	w.ops = ops; /* no initializer: the batch's arrays need no zeroing */
	w.b.n = 0;
	if (full)
		prepare_controls(vmcs12, l0, &w);
	else
		put(&w, VM_ENTRY_INTR_INFO_FIELD, 0); /* the event core injects */
	if (full || (items & HOT_CR0_PAIR))
		prepare_cr(&w, CR0_GUEST_HOST_MASK, CR0_READ_SHADOW, vmcs12->cr0_guest_host_mask,
			   vmcs12->cr0_read_shadow, vmcs12->guest_cr0, l0->cr0_mask);
	if (full || (items & HOT_CR4_PAIR))
		prepare_cr(&w, CR4_GUEST_HOST_MASK, CR4_READ_SHADOW, vmcs12->cr4_guest_host_mask,
			   vmcs12->cr4_read_shadow, vmcs12->guest_cr4, l0->cr4_mask);
	if (full)
		prepare_guest_state(vmcs12, features, l0, &w);
	else
		prepare_hot_guest_state(vmcs12, features, items, &w);
	if (full || (items & HOT_SPECIALS))
		prepare_special_guest_state(vmcs12, l0, &w);
	if (l0->immediate_exit)
		put(&w, VMX_PREEMPTION_TIMER_VALUE, 0);
	nested_l2_write_batch(ops, &w.b);
}

bool vmcs02_l0_same(const struct vmcs02_l0 *a, const struct vmcs02_l0 *b)
{
	return a->pin == b->pin && a->proc == b->proc && a->proc2 == b->proc2 &&
	       a->exit_controls == b->exit_controls && a->entry_controls == b->entry_controls &&
	       a->pin_allowed1 == b->pin_allowed1 && a->proc_allowed1 == b->proc_allowed1 &&
	       a->proc2_allowed1 == b->proc2_allowed1 && a->entry_allowed1 == b->entry_allowed1 &&
	       a->io_bitmap_a == b->io_bitmap_a && a->io_bitmap_b == b->io_bitmap_b &&
	       a->msr_bitmap == b->msr_bitmap && a->eptp == b->eptp && a->proc2_emulated == b->proc2_emulated &&
	       a->vpid02 == b->vpid02 && a->cr0_mask == b->cr0_mask && a->cr4_mask == b->cr4_mask &&
	       a->tsc_offset == b->tsc_offset && a->l1_efer == b->l1_efer && a->l1_pat == b->l1_pat &&
	       a->l1_dr7 == b->l1_dr7 && a->l1_debugctl == b->l1_debugctl && a->immediate_exit == b->immediate_exit;
}
