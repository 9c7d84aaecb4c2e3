/* L1's VMX instructions (exit reasons 19-27): operands through the checked accessor, semantics from hv/nested/vmx_insn.c. */
#include "hv/vmx/nested.h"
#include "hv/vmx/nested_ept.h"
#include "hv/nested/inv_insn.h"
#include "hv/vmx/vmx_internal.h"
#include "hv/vmx/l1_mem.h"
#include "hv/nested/vmx_operand.h"
#include "hv/console.h"
#include "hv/mm.h"
#include "hv/string.h"
#include "hv/x86.h"

void vmx_nested_enter_l2(struct vcpu *v, struct guest_regs *r, bool launch);

static bool l1_phys_read(void *ctx, uint64_t gpa, void *buf, size_t len)
{
	(void)ctx;
	return l1_read_phys(gpa, buf, len) == L1_MEM_OK;
}

static bool l1_phys_write(void *ctx, uint64_t gpa, const void *buf, size_t len)
{
	(void)ctx;
	return l1_write_phys(gpa, buf, len) == L1_MEM_OK;
}

/* The nested state, made at L1's first VMXON: this struct, vmcs02 and its three bitmaps, all the hypervisor's. */
static struct vmx_nested *nested_alloc(struct vcpu *v)
{
	paddr_t pa = frame_alloc_contig((sizeof(struct vmx_nested) + PAGE_SIZE - 1) / PAGE_SIZE, PAGE_SIZE);
	struct vmx_nested *n;

	if (!pa)
		return NULL;
	n = phys_to_virt(pa);
	n->vmcs02 = frame_alloc();
	n->io_bitmap_a = frame_alloc();
	n->io_bitmap_b = frame_alloc();
	n->msr_bitmap = frame_alloc();
	if (!n->vmcs02 || !n->io_bitmap_a || !n->io_bitmap_b || !n->msr_bitmap)
		return NULL; /* the frames already taken stay with the vCPU: L1 is told VMXON failed */
	n->vmx.current_vmptr = NESTED_NO_VMCS;
	n->io_merged = -1;
	n->vmx.revision = VMCS12_REVISION_ID;
	n->vmx.maxphyaddr = vmx_max_phys_addr_bits();
	n->vmx.features = vmx_l1_offer.vmcs12_features;
	n->vmx.vmwrite_any_field = vmx_offer_msr(&vmx_l1_offer, MSR_IA32_VMX_MISC) & VMX_MISC_VMWRITE_ANY_FIELD;
	n->vmx.mem = (struct nested_mem_ops){ l1_phys_read, l1_phys_write, NULL };
	n->core.vmcs12 = &n->vmx.vmcs12;
	n->core.vmcs12_features = n->vmx.features;
	n->core.vmx_misc = vmx_offer_msr(&vmx_l1_offer, MSR_IA32_VMX_MISC);
	n->core.any_error_code = vmx_offer_msr(&vmx_l1_offer, MSR_IA32_VMX_BASIC) & BIT(56);
	v->nested = n;
	nested_ept_init(v, n->vmx.maxphyaddr);
	vmx_shadow_vcpu_init(v);
	return n;
}

static enum nested_insn_op insn_op(uint32_t reason)
{
	switch (reason) {
	case EXIT_REASON_VMON: return NESTED_VMXON;
	case EXIT_REASON_VMOFF: return NESTED_VMXOFF;
	case EXIT_REASON_VMCLEAR: return NESTED_VMCLEAR;
	case EXIT_REASON_VMPTRLD: return NESTED_VMPTRLD;
	case EXIT_REASON_VMPTRST: return NESTED_VMPTRST;
	case EXIT_REASON_VMREAD: return NESTED_VMREAD;
	case EXIT_REASON_VMWRITE: return NESTED_VMWRITE;
	case EXIT_REASON_VMLAUNCH: return NESTED_VMLAUNCH;
	default: return NESTED_VMRESUME;
	}
}

static bool l1_mode64(void)
{
	return (vmcs_read(GUEST_IA32_EFER) & X86_EFER_LMA) && (vmcs_read(GUEST_CS_AR_BYTES) & BIT(13));
}

/* The #UD/#GP inputs (SDM 31.3 per instruction): L1's CPL, its CR4.VMXE as it set it, its fixed CR bits. */
static void l1_state(const struct vcpu *v, struct nested_l1_state *s)
{
	uint64_t cr0 = vmx_guest_cr(GUEST_CR0, CR0_READ_SHADOW, v->cr0_mask);
	uint64_t fixed0 = vmx_offer_msr(&vmx_l1_offer, MSR_IA32_VMX_CR0_FIXED0);

	s->cpl = (unsigned int)(vmcs_read(GUEST_SS_AR_BYTES) >> 5) & 3;
	s->cr4_vmxe = vmcs_read(CR4_READ_SHADOW) & X86_CR4_VMXE;
	s->cr_fixed_ok = (cr0 & fixed0) == fixed0;
	s->feature_control_ok = true; /* L1 reads FEATURE_CONTROL locked with VMX outside SMX whenever VMX is offered */
	s->mov_ss_blocking = vmcs_read(GUEST_INTERRUPTIBILITY_INFO) & GUEST_INTR_STATE_MOV_SS;
}

/* A fault while reaching the operand goes to L1 as the CPU would raise it. */
static void deliver_fault(uint8_t vector, const struct l1_fault *f, int why)
{
	if (why == L1_MEM_PAGE_FAULT) {
		__asm__ volatile("mov %0, %%cr2" : : "r"(f->linear) : "memory");
		vmx_inject_hw_exception(PF_VECTOR, true, f->error_code);
		return;
	}
	if (why == L1_MEM_NOT_RAM) {
		/* The operand lies in MMIO or memory that is not L1's: nothing sane to read; L1 gets #GP. */
		printk("hv: L1's VMX instruction operand at GPA %#llx is not L1 RAM; #GP to L1\n",
		       (unsigned long long)f->gpa);
		vector = GP_VECTOR;
	}
	vmx_inject_hw_exception(vector, vector == GP_VECTOR || vector == SS_VECTOR, 0);
}

static void operand_ctx(struct guest_regs *r, struct vmx_operand_ctx *c)
{
	static const enum vmcs_field sel[6] = { GUEST_ES_SELECTOR, GUEST_CS_SELECTOR, GUEST_SS_SELECTOR,
						GUEST_DS_SELECTOR, GUEST_FS_SELECTOR, GUEST_GS_SELECTOR };

	c->insn_info = (uint32_t)vmcs_read(VMX_INSTRUCTION_INFO);
	c->displacement = vmcs_read(EXIT_QUALIFICATION);
	r->rsp_unused = vmcs_read(GUEST_RSP); /* the RSP slot: a memory operand may use RSP as its base */
	c->gpr = (const uint64_t *)r;
	c->mode64 = l1_mode64();
	for (int i = 0; i < 6; i++) {
		uint32_t idx = (uint32_t)(sel[i] - GUEST_ES_SELECTOR);

		c->seg[i] = (struct vmx_segment){ vmcs_read((enum vmcs_field)(GUEST_ES_BASE + idx)),
						  (uint32_t)vmcs_read((enum vmcs_field)(GUEST_ES_LIMIT + idx)),
						  (uint32_t)vmcs_read((enum vmcs_field)(GUEST_ES_AR_BYTES + idx)) };
	}
}

/* The memory operand, read or written through segmentation and L1's paging; false after giving L1 the fault. */
static bool access_operand(struct guest_regs *r, void *buf, unsigned int size, bool write)
{
	struct vmx_operand_ctx c;
	struct vmx_operand_fault of;
	struct guest_paging p;
	struct l1_fault f = { 0 };
	uint64_t la;
	int rc;

	operand_ctx(r, &c);
	if (!vmx_operand_linear(&c, size, write, &la, &of)) {
		deliver_fault(of.vector, &f, 0);
		return false;
	}
	l1_paging_now(&p);
	rc = write ? l1_write_linear(&p, la, buf, size, GUEST_ACCESS_WRITE, &f)
		   : l1_read_linear(&p, la, buf, size, GUEST_ACCESS_READ, &f);
	if (rc != L1_MEM_OK) {
		deliver_fault(0, &f, rc);
		return false;
	}
	return true;
}

/* VMREAD/VMWRITE: the field encoding in Reg2, the other operand in Reg1 or memory (SDM Table 28-13). */
static bool decode_operands(struct guest_regs *r, struct nested_insn *insn, uint32_t info)
{
	unsigned int size = insn->long_mode ? 8 : 4;

	if (insn->op == NESTED_VMXON || insn->op == NESTED_VMCLEAR || insn->op == NESTED_VMPTRLD)
		return access_operand(r, &insn->pointer, 8, false);
	if (insn->op != NESTED_VMREAD && insn->op != NESTED_VMWRITE)
		return true;
	insn->field = vmx_guest_gpr(r, vmx_info_reg2(info));
	if (!insn->long_mode)
		insn->field = (uint32_t)insn->field;
	if (insn->op == NESTED_VMREAD)
		return true;
	if (vmx_info_is_reg(info)) {
		insn->value = vmx_guest_gpr(r, vmx_info_reg1(info));
		return true;
	}
	return access_operand(r, &insn->value, size, false);
}

/* VMPTRST's 64-bit destination; VMREAD's register (zero-extended in 64-bit mode) or memory operand. */
static bool store_result(struct guest_regs *r, const struct nested_insn *insn, uint32_t info, uint64_t value)
{
	if (insn->op == NESTED_VMPTRST)
		return access_operand(r, &value, 8, true);
	if (vmx_info_is_reg(info)) {
		vmx_set_guest_gpr(r, vmx_info_reg1(info), insn->long_mode ? value : (uint32_t)value);
		return true;
	}
	return access_operand(r, &value, insn->long_mode ? 8 : 4, true);
}

/*
 * One VMX instruction of L1, in the order of its SDM "Operation": the
 * #UD/#GP checks, the operand, the operation, the result, RFLAGS, RIP.
 * With nested=off every VMX instruction is #UD, as on a CPU without VT-x.
 */
void vmx_nested_insn_exit(struct vcpu *v, struct guest_regs *r)
{
	static struct nested_vmx outside = { .current_vmptr = NESTED_NO_VMCS };
	uint32_t info = (uint32_t)vmcs_read(VMX_INSTRUCTION_INFO);
	struct nested_insn insn = { .op = insn_op(VMX_EXIT_REASON_BASIC((uint32_t)vmcs_read(VM_EXIT_REASON))),
				    .long_mode = l1_mode64() };
	struct nested_insn_result res;
	struct nested_l1_state l1;
	struct vmx_nested *n = v->nested;
	uint8_t fault;

	if (!vmx_l1_offer.nested) {
		vmx_inject_hw_exception(UD_VECTOR, false, 0);
		return;
	}
	l1_state(v, &l1);
	insn.mov_ss_blocking = l1.mov_ss_blocking;
	fault = nested_insn_fault(n ? &n->vmx : &outside, insn.op, &l1);
	if (fault) {
		vmx_inject_hw_exception(fault, fault == GP_VECTOR, 0);
		return;
	}
	if (!decode_operands(r, &insn, info))
		return;
	if (!n && !(n = nested_alloc(v))) {
		printk("hv: out of hypervisor frames for L1's nested VMX state; VMXON fails\n");
		res = (struct nested_insn_result){ .outcome = VMX_FAIL_INVALID };
	} else {
		if (nested_insn_needs_rare(&insn))
			vmx_nested_capture_rare(v);
		vmx_shadow_before_insn(v, &insn);
		res = nested_insn_execute(&n->vmx, &insn);
		vmx_shadow_after_insn(v, &insn, &res);
	}
	vmx_nested_note_insn(v, &insn, res.outcome);
	if (res.enter_l2) {
		vmx_nested_enter_l2(v, r, insn.op == NESTED_VMLAUNCH);
		vmx_shadow_l1_resumes(v); /* the entry failed: L1 continues after its instruction */
		return;
	}
	if (res.store && !store_result(r, &insn, info, res.value))
		return;
	vmcs_write(GUEST_RFLAGS, vmx_result_rflags(vmcs_read(GUEST_RFLAGS), res.outcome));
	vmx_skip_instruction();
	if (insn.op == NESTED_VMXON && res.outcome == VMX_SUCCEED)
		vmx_apic_trap_update(v); /* its INITs are the hypervisor's now (apic_access.c) */
	if (insn.op == NESTED_VMXOFF && res.outcome == VMX_SUCCEED)
		vmx_nested_after_vmxoff(v, r);
}

/* The EPT and VPID capabilities L1 is offered (0x48c); INVEPT/INVVPID are #UD without them (SDM 31.3). */
static uint64_t offered_ept_vpid_cap(void)
{
	return vmx_offer_msr(&vmx_l1_offer, MSR_IA32_VMX_EPT_VPID_CAP);
}

/*
 * INVEPT / INVVPID of L1 (SDM 31.3): the checks of hv/nested/inv_insn.c on
 * the type register (Reg2) and the 128-bit descriptor, then the shadow EPT
 * and L2's VPID forget what they must.
 */
void vmx_nested_inv_exit(struct vcpu *v, struct guest_regs *r)
{
	bool vpid = VMX_EXIT_REASON_BASIC((uint32_t)vmcs_read(VM_EXIT_REASON)) == EXIT_REASON_INVVPID;
	uint32_t info = (uint32_t)vmcs_read(VMX_INSTRUCTION_INFO);
	uint64_t cap = offered_ept_vpid_cap();
	struct nested_inv inv = { .invvpid = vpid };
	struct nested_inv_result res;
	struct nested_l1_state l1;
	struct vmx_nested *n = v->nested;
	uint8_t fault;

	if (!vmx_l1_offer.nested || !(cap & (vpid ? VMX_VPID_INVVPID : VMX_EPT_INVEPT)) || !n) {
		vmx_inject_hw_exception(UD_VECTOR, false, 0);
		return;
	}
	l1_state(v, &l1);
	fault = nested_insn_fault(&n->vmx, vpid ? NESTED_INVVPID : NESTED_INVEPT, &l1);
	if (fault) {
		vmx_inject_hw_exception(fault, fault == GP_VECTOR, 0);
		return;
	}
	inv.type = vmx_guest_gpr(r, vmx_info_reg2(info));
	if (!l1_mode64())
		inv.type = (uint32_t)inv.type;
	if (!access_operand(r, inv.desc, sizeof(inv.desc), false))
		return;
	res = nested_inv_execute(&n->vmx, cap, &inv);
	vmx_shadow_after_insn(v, &(struct nested_insn){ .op = vpid ? NESTED_INVVPID : NESTED_INVEPT }, &res.r);
	if (res.scope == NESTED_INV_EPT_SINGLE || res.scope == NESTED_INV_EPT_ALL)
		nested_ept_invept(v, res.scope == NESTED_INV_EPT_ALL, res.eptp);
	else if (res.scope != NESTED_INV_NONE)
		vmx_nested_invvpid(v);
	vmcs_write(GUEST_RFLAGS, vmx_result_rflags(vmcs_read(GUEST_RFLAGS), res.r.outcome));
	vmx_skip_instruction();
}
