/* L1's INVEPT and INVVPID as the SDM's pseudo-code states them, on what L1 is offered (pure). */
#include "hv/nested/inv_insn.h"
#include "hv/vmx/vmx_caps.h"
#include "hv/vmx/vmx_defs.h"

#define EPTP_MEMTYPE(e)   ((e) & 7)
#define EPTP_WALK(e)      (((e) >> 3) & 7)
#define EPTP_AD           BIT(6)
#define EPTP_RESERVED     0xf80ULL  /* bits 11:7 */
#define VMX_MEMTYPE_UC    0

bool nested_eptp_valid(uint64_t eptp, uint64_t cap, unsigned int maxphyaddr)
{
	uint64_t type = EPTP_MEMTYPE(eptp);

	if (!(type == VMX_MEMTYPE_UC && (cap & VMX_EPT_MEMTYPE_UC)) &&
	    !(type == VMX_MEMTYPE_WB && (cap & VMX_EPT_MEMTYPE_WB)))
		return false;
	if (EPTP_WALK(eptp) != 3 || !(cap & VMX_EPT_WALK_4))
		return false;
	if ((eptp & EPTP_AD) && !(cap & VMX_EPT_AD))
		return false;
	return !(eptp & EPTP_RESERVED) && (maxphyaddr >= 64 || (eptp >> maxphyaddr) == 0);
}

static struct nested_inv_result inv_fail(struct nested_vmx *n)
{
	struct nested_inv_result res = { .scope = NESTED_INV_NONE };

	if (n->current_vmptr == NESTED_NO_VMCS) {
		res.r.outcome = VMX_FAIL_INVALID;
	} else {
		n->vmcs12.vm_instruction_error = VMXERR_INVALID_OPERAND_INVEPT_INVVPID;
		res.r.outcome = VMX_FAIL_VALID;
		res.r.error = VMXERR_INVALID_OPERAND_INVEPT_INVVPID;
	}
	return res;
}

static bool canonical(uint64_t la)
{
	return (uint64_t)((int64_t)(la << 16) >> 16) == la;
}

/* INVEPT: type 1 (single-context) or 2 (all-context) as IA32_VMX_EPT_VPID_CAP[25/26] offers (SDM 31.3). */
static struct nested_inv_result invept(struct nested_vmx *n, uint64_t cap, const struct nested_inv *inv)
{
	struct nested_inv_result res = { .r = { .outcome = VMX_SUCCEED } };

	if (inv->type == NESTED_INVEPT_SINGLE && (cap & VMX_EPT_INVEPT_SINGLE)) {
		if (!nested_eptp_valid(inv->desc[0], cap, n->maxphyaddr))
			return inv_fail(n);
		res.scope = NESTED_INV_EPT_SINGLE;
		res.eptp = inv->desc[0];
	} else if (inv->type == NESTED_INVEPT_ALL && (cap & VMX_EPT_INVEPT_ALL)) {
		res.scope = NESTED_INV_EPT_ALL;
	} else {
		return inv_fail(n);
	}
	return res;
}

/* INVVPID: types 0-3 as IA32_VMX_EPT_VPID_CAP[40-43] offers; descriptor bits 63:16 reserved (SDM 31.3). */
static struct nested_inv_result invvpid(struct nested_vmx *n, uint64_t cap, const struct nested_inv *inv)
{
	struct nested_inv_result res = { .r = { .outcome = VMX_SUCCEED } };
	uint16_t vpid = (uint16_t)inv->desc[0];

	if (inv->type > 3 || !(cap & (VMX_VPID_INVVPID_ADDR << inv->type)))
		return inv_fail(n);
	if (inv->desc[0] >> 16)
		return inv_fail(n);
	if (inv->type != NESTED_INVVPID_ALL && vpid == 0)
		return inv_fail(n);
	if (inv->type == NESTED_INVVPID_ADDR && !canonical(inv->desc[1]))
		return inv_fail(n);
	res.vpid = vpid;
	res.addr = inv->desc[1];
	res.scope = inv->type == NESTED_INVVPID_ADDR ? NESTED_INV_VPID_ADDR
		    : inv->type == NESTED_INVVPID_ALL ? NESTED_INV_VPID_ALL : NESTED_INV_VPID_SINGLE;
	return res;
}

struct nested_inv_result nested_inv_execute(struct nested_vmx *n, uint64_t ept_vpid_cap,
					    const struct nested_inv *inv)
{
	return inv->invvpid ? invvpid(n, ept_vpid_cap, inv) : invept(n, ept_vpid_cap, inv);
}
