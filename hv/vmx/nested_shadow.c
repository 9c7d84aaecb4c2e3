/* VMCS shadowing for L1: L1's current vmcs12 mirrored in a hardware shadow VMCS, so its VMREAD/VMWRITE run without exits (kernel; decisions in hv/nested/shadow_vmcs.c). */
#include "hv/vmx/nested.h"
#include "hv/vmx/vmx_internal.h"
#include "hv/nested/shadow_vmcs.h"
#include "hv/nested/entry_checks.h"
#include "hv/cmdline.h"
#include "hv/console.h"
#include "hv/mm.h"
#include "hv/panic.h"
#include "hv/string.h"

/*
 * The shadow VMCS belongs to the hypervisor (never a page of L1's); vmcs01's
 * VMCS link pointer names it and "VMCS shadowing" is on only while L1 is in
 * VMX operation with a current VMCS, so VMREAD/VMWRITE outside VMX operation
 * or without a current VMCS still exit and get #UD or VMfailInvalid from
 * hv/nested/vmx_insn.c. The hardware reads the bitmaps and the shadow region
 * at every non-exiting VMREAD/VMWRITE (Bochs: cpu/vmexit.cc Vmexit_Vmread/
 * Vmexit_Vmwrite read the bitmap byte; cpu/vmx.cc VMREAD_EdGd takes
 * vmcs.vmcs_linkptr, VMfailInvalid if it is FFFFFFFF_FFFFFFFFH, and
 * vmread_shadow() reads the region in memory), and the entry of vmcs01
 * checks the link pointer: page-aligned, revision ID with bit 31 (the shadow
 * indicator) set, not vmcs01 itself (SDM 26.3.1.5; Bochs
 * VMenterLoadCheckGuestState).
 */

#define VMCS_SHADOW_INDICATOR BIT(31) /* revision identifier bit 31 (SDM 24.2) */

/* A copy list, by width (16-bit, 32-bit, 64-bit and natural-width): each field's encoding and offset in struct vmcs12. */
struct field_ref {
	uint16_t enc, off;
	uint32_t vmcs02_items; /* a change makes these vmcs02 items be rewritten (vmcs02_hot_items) */
	uint8_t check_class; /* a change makes the entry-check rows reading it run (nested_check_field_class) */
};
struct copy_list {
	uint16_t n[3];
	struct field_ref f[3][SHADOW_MAX_FIELDS];
};

static bool shadow_on;                        /* hardware, vmcs_shadow=on and nested=on */
static paddr_t vmread_bitmap, vmwrite_bitmap; /* one pair for every vCPU (the offer is the same on all) */
static struct copy_list pull_list, mirror_list, exit_list;

static void compile(struct copy_list *l, const uint8_t *idx, uint16_t nr)
{
	memset(l->n, 0, sizeof(l->n));
	for (uint16_t i = 0; i < nr; i++) {
		const struct vmcs12_field *f = &vmcs12_fields[idx[i]];
		unsigned int cls = vmcs12_width_slot(f->width);

		l->f[cls][l->n[cls]++] = (struct field_ref){ f->encoding, f->offset, vmcs02_hot_items(f->encoding),
							      nested_check_field_class(f->encoding) };
	}
}

/* The current VMCS is the shadow VMCS of a probe at boot: does the CPU have this field? */
static bool probe_field(void *ctx, uint32_t encoding)
{
	uint64_t val;

	(void)ctx;
	return vmcs_read_checked((enum vmcs_field)encoding, &val) == 0;
}

/* A region becomes a shadow VMCS by bit 31 of its revision identifier, before its first VMCLEAR (SDM 24.2, 24.11.3). */
static bool make_shadow_vmcs(paddr_t pa)
{
	*(uint32_t *)phys_to_virt(pa) = (uint32_t)(vmx_caps.basic & VMX_BASIC_REVISION_MASK) | VMCS_SHADOW_INDICATOR;
	return vmclear(pa) == 0;
}

/* The plan from the offer and the fields this CPU's shadow VMCS really has (probed on a scratch one). */
static bool plan_on_this_cpu(paddr_t vmcs01, struct shadow_plan *plan)
{
	paddr_t probe = frame_alloc();
	struct shadow_hw hw = { probe_field, NULL, (vmx_caps.misc & VMX_MISC_VMWRITE_ANY_FIELD) != 0 };
	bool ok;

	vmread_bitmap = frame_alloc();
	vmwrite_bitmap = frame_alloc();
	if (!probe || !vmread_bitmap || !vmwrite_bitmap || !make_shadow_vmcs(probe) || vmptrld(probe) < 0)
		return false;
	shadow_plan_make(vmx_l1_offer.vmcs12_features, &hw, plan, phys_to_virt(vmread_bitmap),
			 phys_to_virt(vmwrite_bitmap));
	ok = vmclear(probe) == 0 && vmptrld(vmcs01) == 0;
	frame_free(probe);
	return ok;
}

void vmx_shadow_init(const char *cmdline, paddr_t vmcs01)
{
	static struct shadow_plan plan;
	char val[8];
	bool want = true;

	if (cmdline_get_str(cmdline, "vmcs_shadow", val, sizeof(val))) {
		want = strcmp(val, "off") != 0;
		if (want && strcmp(val, "on") != 0)
			printk("hv: warning: vmcs_shadow=%s is neither on nor off; VMCS shadowing stays on\n", val);
	}
	if (!vmx_l1_offer.nested)
		return;
	if (!want || !((vmx_caps.procbased2 >> 32) & SECONDARY_VMCS_SHADOWING)) {
		pr_info("hv: VMCS shadowing off (%s): every VMREAD/VMWRITE of L1 exits\n",
			want ? "the CPU lacks it" : "vmcs_shadow=off");
		return;
	}
	if (!plan_on_this_cpu(vmcs01, &plan)) {
		printk("hv: cannot set up VMCS shadowing; every VMREAD/VMWRITE of L1 exits\n");
		return;
	}
	compile(&pull_list, plan.read_write, plan.nr_read_write);
	compile(&mirror_list, plan.mirrored, plan.nr_mirrored);
	compile(&exit_list, plan.exit_written, plan.nr_exit_written);
	shadow_on = true;
	pr_info("hv: VMCS shadowing on: L1 reads %u and writes %u vmcs12 fields without exits\n",
		plan.nr_mirrored, plan.nr_read_write);
}

void vmx_shadow_vcpu_init(struct vcpu *v)
{
	struct vmx_shadow *s = &v->nested->shadow;
	paddr_t image;

	s->mirrors = NESTED_NO_VMCS;
	if (!shadow_on)
		return;
	s->vmcs = frame_alloc();
	image = frame_alloc();
	if (!s->vmcs || !image || !make_shadow_vmcs(s->vmcs)) {
		printk("hv: no shadow VMCS for CPU %u; its L1 VMREAD/VMWRITE exit\n", v->cpu_id);
		s->vmcs = 0;
		return;
	}
	s->image = phys_to_virt(image);
	vmcs_write(VMREAD_BITMAP, vmread_bitmap);
	vmcs_write(VMWRITE_BITMAP, vmwrite_bitmap);
}

/* The shadow VMCS is current only for a copy; VMCLEAR flushes it to its region before vmcs01 uses it again (SDM 24.11.1). */
static void shadow_current(struct vcpu *v)
{
	if (vmptrld(v->nested->shadow.vmcs) < 0) {
		printk("hv: VMPTRLD of the shadow VMCS failed; stopping L1\n");
		vmx_stop_guest(v, NULL, HV_EXIT_GUEST_DIED);
	}
}

static void vmcs01_current(struct vcpu *v)
{
	if (vmclear(v->nested->shadow.vmcs) < 0 || vmptrld(v->vmcs) < 0) {
		printk("hv: cannot make vmcs01 current again after the shadow VMCS; stopping L1\n");
		vmx_stop_guest(v, NULL, HV_EXIT_GUEST_DIED);
	}
}

/*
 * The copies run at every L2 round trip: one loop per width, so that a field
 * costs a VMREAD (or a compare and maybe a VMWRITE) and plain stores. The
 * image is what the shadow VMCS holds; only fields that differ from it are
 * written after an exit.
 */
#define COPY_LOOPS(type)									\
static void pull_##type(const struct field_ref *f, uint16_t n, uint8_t *v12, uint8_t *image, struct vmx_nested *nv) \
{												\
	for (uint16_t i = 0; i < n; i++) {							\
		type x = (type)vmcs_read((enum vmcs_field)f[i].enc);				\
												\
		if (x != *(type *)(v12 + f[i].off))						\
			vmx_nested_fields_changed(nv, f[i].check_class, f[i].vmcs02_items);	\
		*(type *)(v12 + f[i].off) = x;							\
		*(type *)(image + f[i].off) = x;						\
	}											\
}												\
static void push_##type(struct vcpu *v, const struct field_ref *f, uint16_t n, bool all, bool *loaded) \
{												\
	const uint8_t *v12 = (const uint8_t *)&v->nested->vmx.vmcs12;				\
	uint8_t *image = (uint8_t *)v->nested->shadow.image;					\
												\
	for (uint16_t i = 0; i < n; i++) {							\
		type x = *(const type *)(v12 + f[i].off);					\
												\
		if (!all && x == *(const type *)(image + f[i].off))				\
			continue;								\
		if (!*loaded)									\
			shadow_current(v);							\
		*loaded = true;									\
		vmcs_write((enum vmcs_field)f[i].enc, x);					\
		*(type *)(image + f[i].off) = x;						\
	}											\
}
COPY_LOOPS(uint16_t)
COPY_LOOPS(uint32_t)
COPY_LOOPS(uint64_t)
#undef COPY_LOOPS

/* Shadow -> vmcs12 (and the image) of what L1 may have written without exits. */
static void pull(struct vcpu *v)
{
	uint8_t *v12 = (uint8_t *)&v->nested->vmx.vmcs12, *image = (uint8_t *)v->nested->shadow.image;

	shadow_current(v);
	pull_uint16_t(pull_list.f[0], pull_list.n[0], v12, image, v->nested);
	pull_uint32_t(pull_list.f[1], pull_list.n[1], v12, image, v->nested);
	pull_uint64_t(pull_list.f[2], pull_list.n[2], v12, image, v->nested);
	vmcs01_current(v);
}

/* vmcs12 -> shadow of the listed fields that differ from the image (or all of them); the shadow is loaded only if needed. */
static void push(struct vcpu *v, const struct copy_list *l, bool all)
{
	bool loaded = false;

	push_uint16_t(v, l->f[0], l->n[0], all, &loaded);
	push_uint32_t(v, l->f[1], l->n[1], all, &loaded);
	push_uint64_t(v, l->f[2], l->n[2], all, &loaded);
	if (loaded)
		vmcs01_current(v);
}

/* One field an exiting instruction wrote into vmcs12 (by the encoding L1 used: full or high). */
static void push_field(struct vcpu *v, uint32_t encoding)
{
	const struct vmcs12 *v12 = &v->nested->vmx.vmcs12;

	shadow_current(v);
	vmcs_write((enum vmcs_field)encoding, vmcs12_read(v12, encoding));
	vmcs12_write(v->nested->shadow.image, encoding, vmcs12_read(v12, encoding));
	vmcs01_current(v);
}

/* vmcs01 (current) shadows vmcs12 `vmptr`, or nothing (NESTED_NO_VMCS). */
static void shadow_vmcs12(struct vcpu *v, uint64_t vmptr)
{
	struct vmx_shadow *s = &v->nested->shadow;
	bool on = vmptr != NESTED_NO_VMCS;

	v->ctl.proc2 = on ? v->ctl.proc2 | SECONDARY_VMCS_SHADOWING : v->ctl.proc2 & ~(uint32_t)SECONDARY_VMCS_SHADOWING;
	vmcs_write(SECONDARY_VM_EXEC_CONTROL, v->ctl.proc2);
	vmcs_write(VMCS_LINK_POINTER, on ? s->vmcs : ~0ULL);
	s->mirrors = vmptr;
}

static bool shadowing(const struct vcpu *v)
{
	return v->nested && v->nested->shadow.mirrors != NESTED_NO_VMCS;
}

/* vmcs12 is read by the instruction (entry checks) or leaves the cache (VMCLEAR, a switching VMPTRLD, VMXOFF): pull first. */
void vmx_shadow_before_insn(struct vcpu *v, const struct nested_insn *insn)
{
	uint64_t current;

	if (!shadowing(v))
		return;
	current = v->nested->shadow.mirrors;
	switch (insn->op) {
	case NESTED_VMCLEAR:
		if (insn->pointer == current)
			pull(v);
		break;
	case NESTED_VMPTRLD:
		if (insn->pointer != current)
			pull(v);
		break;
	case NESTED_VMXOFF:
	case NESTED_VMLAUNCH:
	case NESTED_VMRESUME:
		pull(v);
		break;
	default:
		break;
	}
}

/* L1 reads this field from the shadow VMCS (it is mirrored there). */
static bool mirrored(uint64_t field, bool long_mode)
{
	return !shadow_bitmap_exits(phys_to_virt(vmread_bitmap), field, long_mode);
}

/* A VMWRITE that exited and succeeded on a field L1 reads from the shadow (read-only, under MISC[29]). */
static bool write_to_read_shadowed(const struct nested_insn *insn, const struct nested_insn_result *res)
{
	return insn->op == NESTED_VMWRITE && res->outcome == VMX_SUCCEED && mirrored(insn->field, insn->long_mode) &&
	       shadow_bitmap_exits(phys_to_virt(vmwrite_bitmap), insn->field, insn->long_mode);
}

/* After the instruction: a new current VMCS is mirrored in full; otherwise only what the instruction wrote. */
void vmx_shadow_after_insn(struct vcpu *v, const struct nested_insn *insn, const struct nested_insn_result *res)
{
	struct vmx_nested *n = v->nested;
	uint64_t want;

	if (!n || !n->shadow.vmcs || res->enter_l2)
		return; /* an entry attempt ends in vmx_shadow_l1_resumes() */
	want = n->vmx.vmxon ? n->vmx.current_vmptr : NESTED_NO_VMCS;
	if (want != n->shadow.mirrors) {
		if (want != NESTED_NO_VMCS)
			push(v, &mirror_list, true);
		shadow_vmcs12(v, want);
		return;
	}
	if (want == NESTED_NO_VMCS)
		return;
	if (res->outcome == VMX_FAIL_VALID && mirrored(VM_INSTRUCTION_ERROR, true))
		push_field(v, VM_INSTRUCTION_ERROR);
	else if (write_to_read_shadowed(insn, res))
		push_field(v, (uint32_t)insn->field);
}

void vmx_shadow_l1_resumes(struct vcpu *v)
{
	if (shadowing(v) && !vmx_in_l2(v))
		push(v, &exit_list, false);
}
