/* Which of L1's interrupt-command-register writes the hypervisor keeps from the hardware (pure). */
#ifndef HV_VMX_APIC_ICR_H
#define HV_VMX_APIC_ICR_H

#include "hv/types.h"

/* ICR fields, SDM 11.6.1 (Figure 11-12). */
#define ICR_VECTOR_MASK        0xffu
#define ICR_DELIVERY_SHIFT     8
#define ICR_DELIVERY_MASK      (7u << ICR_DELIVERY_SHIFT)
#define ICR_DELIVERY_INIT      (5u << ICR_DELIVERY_SHIFT)
#define ICR_DELIVERY_STARTUP   (6u << ICR_DELIVERY_SHIFT)
#define ICR_DEST_LOGICAL       BIT(11)
#define ICR_LEVEL_ASSERT       BIT(14)
#define ICR_SHORTHAND_SHIFT    18
#define ICR_SHORTHAND_MASK     (3u << ICR_SHORTHAND_SHIFT)

enum icr_shorthand {
	ICR_TO_DEST = 0,
	ICR_TO_SELF = 1,
	ICR_TO_ALL = 2,
	ICR_TO_ALL_BUT_SELF = 3,
};

struct icr_write {
	uint32_t low;  /* ICR[31:0] */
	uint32_t dest; /* the physical destination APIC ID (xAPIC: ICR[63:56]; x2APIC: ICR[63:32]) */
};

/* Answers, for an APIC ID, whether L1's vCPU there sits in wait-for-SIPI; false for unknown IDs. */
typedef bool (*vcpu_waits_for_sipi_fn)(uint32_t apic_id);

/*
 * True when the write must not reach the hardware: an INIT level de-assert
 * (a no-op since the Pentium 4, SDM 11.6.1), or an INIT whose every target is
 * a vCPU already waiting for SIPI. On hardware such an INIT changes nothing;
 * sent on, it would be blocked in VMX non-root and fire later as a spurious
 * INIT exit (SDM 25.2), and Bochs 2.7 never clears it at all.
 */
bool icr_write_is_dropped(const struct icr_write *w, uint32_t self_apic_id, const uint32_t *vcpu_apic_ids,
			  uint32_t nr_vcpus, vcpu_waits_for_sipi_fn waits_for_sipi);

/*
 * A start-up IPI by shorthand (all, all excluding self) becomes one SIPI per
 * target: Bochs 2.7 ends its delivery loop at the first vCPU whose SIPI is a
 * VM exit (cpu/event.cc deliver_SIPI calls VMexit, which longjmps), so a
 * broadcast starts only one AP. Only vCPUs waiting for SIPI are targets: any
 * other CPU ignores a SIPI (SDM 10.4.4.1, 25.2). Stores their APIC IDs in
 * targets[] (room for nr_vcpus) and returns how many, or -1 when the write is
 * not such a SIPI and goes to the hardware unchanged.
 */
int icr_sipi_per_cpu_targets(const struct icr_write *w, uint32_t self_apic_id, const uint32_t *vcpu_apic_ids,
			     uint32_t nr_vcpus, vcpu_waits_for_sipi_fn waits_for_sipi, uint32_t *targets);

/* Answers, for an APIC ID, whether L1's vCPU there is in VMX operation (VMXON executed); false for unknown IDs. */
typedef bool (*vcpu_in_vmx_fn)(uint32_t apic_id);

/*
 * An INIT (level assert) for vCPUs in VMX operation is the hypervisor's to
 * deliver: blocked while the target is in VMX root, an INIT exit of its L2
 * otherwise (SDM 24.8, 25.2). The hypervisor latches it in software for
 * each such target and keeps it from the hardware (where Bochs 2.7 would
 * drop it in VMX root, or never clear it after an INIT exit). Physical
 * destinations (self by its APIC ID too: only the self shorthand is invalid
 * for INIT) and the all / all-but-self shorthands; logical destinations
 * are left to the hardware. Stores the APIC IDs of the targets in VMX
 * operation in targets[] (room for nr_vcpus) and returns how many, or -1
 * when the write is not an INIT assert.
 */
int icr_init_latch_targets(const struct icr_write *w, uint32_t self_apic_id, const uint32_t *vcpu_apic_ids,
			   uint32_t nr_vcpus, vcpu_in_vmx_fn in_vmx, uint32_t *targets);

#endif
