/* The VMX instructions (SDM Vol. 3C ch. 31) as inline functions; each returns 0 or -1 on VMfailInvalid/VMfailValid. */
#ifndef HV_VMX_VMX_ASM_H
#define HV_VMX_VMX_ASM_H

#include "hv/types.h"
#include "hv/vmx/vmcs_fields.h"

/* SETNA catches both failure kinds: CF=1 (VMfailInvalid) and ZF=1 (VMfailValid), SDM 31.2. */
static inline int vmxon(paddr_t region)
{
	uint8_t fail;

	__asm__ volatile("vmxon %1; setna %0" : "=qm"(fail) : "m"(region) : "cc", "memory");
	return fail ? -1 : 0;
}

static inline int vmclear(paddr_t vmcs)
{
	uint8_t fail;

	__asm__ volatile("vmclear %1; setna %0" : "=qm"(fail) : "m"(vmcs) : "cc", "memory");
	return fail ? -1 : 0;
}

static inline int vmptrld(paddr_t vmcs)
{
	uint8_t fail;

	__asm__ volatile("vmptrld %1; setna %0" : "=qm"(fail) : "m"(vmcs) : "cc", "memory");
	return fail ? -1 : 0;
}

/* On the exit path a VMREAD of a field we know exists cannot fail; no flag check keeps it short. */
static inline uint64_t vmcs_read(enum vmcs_field field)
{
	uint64_t val;

	__asm__ volatile("vmread %1, %0" : "=r"(val) : "r"((uint64_t)field) : "cc");
	return val;
}

/* A VMREAD that says whether the field exists (reports, Bochs' strict field checks). */
static inline int vmcs_read_checked(enum vmcs_field field, uint64_t *val)
{
	uint8_t fail;

	__asm__ volatile("vmread %2, %0; setna %1" : "=r"(*val), "=qm"(fail) : "r"((uint64_t)field) : "cc");
	return fail ? -1 : 0;
}

void vmcs_write_failed(enum vmcs_field field, uint64_t val);

static inline void vmcs_write(enum vmcs_field field, uint64_t val)
{
	uint8_t fail;

	__asm__ volatile("vmwrite %1, %2; setna %0" : "=qm"(fail) : "rm"(val), "r"((uint64_t)field) : "cc");
	if (unlikely(fail))
		vmcs_write_failed(field, val);
}

/* INVEPT/INVVPID descriptors and types, SDM 31.3. */
enum { INVEPT_SINGLE_CONTEXT = 1, INVEPT_ALL_CONTEXT = 2 };
enum { INVVPID_ADDRESS = 0, INVVPID_SINGLE_CONTEXT = 1, INVVPID_ALL_CONTEXT = 2 };

static inline int invept(uint64_t type, uint64_t eptp)
{
	struct { uint64_t eptp, zero; } desc = { eptp, 0 };
	uint8_t fail;

	__asm__ volatile("invept %1, %2; setna %0" : "=qm"(fail) : "m"(desc), "r"(type) : "cc", "memory");
	return fail ? -1 : 0;
}

static inline int invvpid(uint64_t type, uint16_t vpid, uint64_t gla)
{
	struct { uint64_t vpid, gla; } desc = { vpid, gla };
	uint8_t fail;

	__asm__ volatile("invvpid %1, %2; setna %0" : "=qm"(fail) : "m"(desc), "r"(type) : "cc", "memory");
	return fail ? -1 : 0;
}

#endif
