/* L1's VMX instructions, in the order of their SDM "Operation" sections (Vol. 3C ch. 31), on the cached vmcs12 (pure). */
#include "hv/nested/vmx_insn.h"
#include "hv/string.h"
#include "hv/vmx/vmx_defs.h"
#include "hv/x86.h"

#define UD_VECTOR 6
#define GP_VECTOR 13

uint64_t vmx_result_rflags(uint64_t rflags, enum nested_outcome outcome)
{
	rflags &= ~(uint64_t)X86_RFLAGS_ARITH;
	if (outcome == VMX_FAIL_INVALID)
		rflags |= X86_RFLAGS_CF;
	else if (outcome == VMX_FAIL_VALID)
		rflags |= X86_RFLAGS_ZF;
	return rflags;
}

/*
 * The hardware has already raised #UD for a register operand, CR0.PE=0,
 * RFLAGS.VM=1 and compatibility mode before the VM exit (SDM 25.1.1: #UD
 * has priority over the exit). What it cannot know is L1's own VMX state:
 * CR4.VMXE as L1 set it (VMXON), and whether L1 executed VMXON (the rest);
 * then CPL>0 is #GP(0), and VMXON outside VMX operation has its own #GP
 * conditions (fixed CR bits, IA32_FEATURE_CONTROL).
 */
uint8_t nested_insn_fault(const struct nested_vmx *n, enum nested_insn_op op, const struct nested_l1_state *l1)
{
	if (op == NESTED_VMXON) {
		if (!l1->cr4_vmxe)
			return UD_VECTOR;
		if (!n->vmxon && (l1->cpl > 0 || !l1->cr_fixed_ok || !l1->feature_control_ok))
			return GP_VECTOR;
		return n->vmxon && l1->cpl > 0 ? GP_VECTOR : 0;
	}
	if (!n->vmxon)
		return UD_VECTOR;
	return l1->cpl > 0 ? GP_VECTOR : 0;
}

static bool valid_phys(const struct nested_vmx *n, uint64_t pa)
{
	return (pa & 0xfff) == 0 && (n->maxphyaddr >= 64 || (pa >> n->maxphyaddr) == 0);
}

static struct nested_insn_result succeed(void)
{
	return (struct nested_insn_result){ .outcome = VMX_SUCCEED };
}

/* VMfail(err): VMfailValid into the current VMCS when there is one, else VMfailInvalid (SDM 31.2). */
static struct nested_insn_result fail(struct nested_vmx *n, uint32_t err)
{
	if (n->current_vmptr == NESTED_NO_VMCS)
		return (struct nested_insn_result){ .outcome = VMX_FAIL_INVALID };
	n->vmcs12.vm_instruction_error = err;
	return (struct nested_insn_result){ .outcome = VMX_FAIL_VALID, .error = err };
}

/* The 31-bit revision identifier and bit 31 (shadow-VMCS indicator) of a region, read from L1 RAM. */
static bool read_revision(const struct nested_vmx *n, uint64_t pa, uint32_t *rev)
{
	return n->mem.read_phys(n->mem.ctx, pa, rev, sizeof(*rev));
}

void nested_vmcs12_flush(struct nested_vmx *n)
{
	if (n->current_vmptr != NESTED_NO_VMCS)
		n->mem.write_phys(n->mem.ctx, n->current_vmptr, &n->vmcs12, sizeof(n->vmcs12));
}

/* SDM 31.3 VMXON, from "addr <- ..." (the #UD/#GP conditions were nested_insn_fault's). */
bool nested_insn_needs_rare(const struct nested_insn *insn)
{
	const struct vmcs12_field *f;

	switch (insn->op) {
	case NESTED_VMCLEAR:
	case NESTED_VMPTRLD:
	case NESTED_VMXOFF:
		return true;
	case NESTED_VMREAD:
	case NESTED_VMWRITE:
		f = vmcs12_field_lookup((uint32_t)insn->field);
		return f && f->rare && (insn->field >> 32) == 0;
	default:
		return false;
	}
}

static struct nested_insn_result do_vmxon(struct nested_vmx *n, uint64_t addr)
{
	uint32_t rev;

	if (n->vmxon)
		return fail(n, VMXERR_VMXON_IN_ROOT);
	/* Memory that is not L1's RAM has no revision identifier L1 could have written: VMfailInvalid. */
	if (!valid_phys(n, addr) || !read_revision(n, addr, &rev) || rev != n->revision)
		return (struct nested_insn_result){ .outcome = VMX_FAIL_INVALID };
	n->vmxon = true;
	n->vmxon_ptr = addr;
	n->current_vmptr = NESTED_NO_VMCS;
	return succeed();
}

/* SDM 31.3 VMXOFF: the cached VMCS goes back to memory; L1 leaves VMX operation. */
static struct nested_insn_result do_vmxoff(struct nested_vmx *n)
{
	nested_vmcs12_flush(n);
	n->vmxon = false;
	n->current_vmptr = NESTED_NO_VMCS;
	return succeed();
}

/* SDM 31.3 VMCLEAR: data to memory, launch state "clear"; the current VMCS pointer is invalidated if it was this one. */
static struct nested_insn_result do_vmclear(struct nested_vmx *n, uint64_t addr)
{
	uint32_t clear = 0;

	if (!valid_phys(n, addr))
		return fail(n, VMXERR_VMCLEAR_INVALID_ADDR);
	if (addr == n->vmxon_ptr)
		return fail(n, VMXERR_VMCLEAR_VMXON_PTR);
	if (addr == n->current_vmptr) {
		n->vmcs12.launch_state = 0;
		nested_vmcs12_flush(n);
		n->current_vmptr = NESTED_NO_VMCS;
		return succeed();
	}
	/* Not L1 RAM: nothing of ours is cached there, and the hardware's write would go nowhere useful. */
	n->mem.write_phys(n->mem.ctx, addr + offsetof(struct vmcs12, launch_state), &clear, sizeof(clear));
	return succeed();
}

/* SDM 31.3 VMPTRLD: a VMCS with L1's revision becomes current; the previous one is written back first. */
static struct nested_insn_result do_vmptrld(struct nested_vmx *n, uint64_t addr)
{
	uint32_t rev;

	if (!valid_phys(n, addr))
		return fail(n, VMXERR_VMPTRLD_INVALID_ADDR);
	if (addr == n->vmxon_ptr)
		return fail(n, VMXERR_VMPTRLD_VMXON_PTR);
	/* Bit 31 (shadow VMCS) is refused while VMCS shadowing is not offered. */
	if (!read_revision(n, addr, &rev) || rev != n->revision)
		return fail(n, VMXERR_VMPTRLD_INCORRECT_REVISION);
	if (addr == n->current_vmptr)
		return succeed();
	nested_vmcs12_flush(n);
	if (!n->mem.read_phys(n->mem.ctx, addr, &n->vmcs12, sizeof(n->vmcs12)))
		return fail(n, VMXERR_VMPTRLD_INCORRECT_REVISION);
	n->current_vmptr = addr;
	return succeed();
}

/* A field encoding as the instruction sees it: outside 64-bit mode only bits 31:0 exist. */
static bool field_fits(const struct nested_insn *insn)
{
	return insn->long_mode ? (insn->field >> 32) == 0 : true;
}

/* SDM 31.3 VMREAD (VMX root of L1; L2's VMREADs are L1's exits). */
static struct nested_insn_result do_vmread(struct nested_vmx *n, const struct nested_insn *insn)
{
	struct nested_insn_result r = succeed();
	uint64_t v;
	int err;

	if (n->current_vmptr == NESTED_NO_VMCS)
		return (struct nested_insn_result){ .outcome = VMX_FAIL_INVALID };
	if (!field_fits(insn))
		return fail(n, VMXERR_UNSUPPORTED_VMCS_COMPONENT);
	err = vmcs12_vmread(&n->vmcs12, (uint32_t)insn->field, n->features, &v);
	if (err)
		return fail(n, (uint32_t)err);
	r.store = true;
	r.value = insn->long_mode ? v : (uint32_t)v;
	return r;
}

/* SDM 31.3 VMWRITE. */
static struct nested_insn_result do_vmwrite(struct nested_vmx *n, const struct nested_insn *insn)
{
	uint64_t v = insn->long_mode ? insn->value : (uint32_t)insn->value;
	int err;

	if (n->current_vmptr == NESTED_NO_VMCS)
		return (struct nested_insn_result){ .outcome = VMX_FAIL_INVALID };
	if (!field_fits(insn))
		return fail(n, VMXERR_UNSUPPORTED_VMCS_COMPONENT);
	err = vmcs12_vmwrite(&n->vmcs12, (uint32_t)insn->field, v, n->features, n->vmwrite_any_field);
	return err ? fail(n, (uint32_t)err) : succeed();
}

/* SDM 31.3 VMLAUNCH/VMRESUME up to "check settings of VMX controls and host-state area". */
static struct nested_insn_result do_vmentry(struct nested_vmx *n, const struct nested_insn *insn)
{
	bool launched = n->vmcs12.launch_state == VMCS12_LAUNCHED;

	if (n->current_vmptr == NESTED_NO_VMCS)
		return (struct nested_insn_result){ .outcome = VMX_FAIL_INVALID };
	if (insn->mov_ss_blocking)
		return fail(n, VMXERR_ENTRY_EVENTS_BLOCKED_BY_MOV_SS);
	if (insn->op == NESTED_VMLAUNCH && launched)
		return fail(n, VMXERR_VMLAUNCH_NONCLEAR_VMCS);
	if (insn->op == NESTED_VMRESUME && !launched)
		return fail(n, VMXERR_VMRESUME_NONLAUNCHED_VMCS);
	return (struct nested_insn_result){ .outcome = VMX_SUCCEED, .enter_l2 = true };
}

struct nested_insn_result nested_insn_execute(struct nested_vmx *n, const struct nested_insn *insn)
{
	switch (insn->op) {
	case NESTED_VMXON:
		return do_vmxon(n, insn->pointer);
	case NESTED_VMXOFF:
		return do_vmxoff(n);
	case NESTED_VMCLEAR:
		return do_vmclear(n, insn->pointer);
	case NESTED_VMPTRLD:
		return do_vmptrld(n, insn->pointer);
	case NESTED_VMPTRST: {
		struct nested_insn_result r = succeed();

		r.store = true;
		r.value = n->current_vmptr;
		return r;
	}
	case NESTED_VMREAD:
		return do_vmread(n, insn);
	case NESTED_VMWRITE:
		return do_vmwrite(n, insn);
	case NESTED_VMLAUNCH:
	case NESTED_VMRESUME:
		return do_vmentry(n, insn);
	case NESTED_INVEPT:
	case NESTED_INVVPID:
		break; /* nested_inv_execute */
	}
	return fail(n, VMXERR_UNSUPPORTED_VMCS_COMPONENT);
}
