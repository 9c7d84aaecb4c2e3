/* Decides which of L1's ICR writes stay away from the hardware (INITs that could only hurt) and how a broadcast SIPI is sent (pure). */
#include "hv/vmx/apic_icr.h"

static bool all_targets_wait(const struct icr_write *w, uint32_t self, const uint32_t *ids, uint32_t n,
			     vcpu_waits_for_sipi_fn waits)
{
	enum icr_shorthand sh = (enum icr_shorthand)((w->low & ICR_SHORTHAND_MASK) >> ICR_SHORTHAND_SHIFT);
	uint32_t targets = 0;

	switch (sh) {
	case ICR_TO_DEST:
		/* Logical destinations name CPU sets through LDR/DFR: left to the hardware. */
		return !(w->low & ICR_DEST_LOGICAL) && waits(w->dest);
	case ICR_TO_SELF:
		return false; /* INIT to self is not a valid ICR encoding; the APIC rejects it */
	case ICR_TO_ALL:
	case ICR_TO_ALL_BUT_SELF:
		for (uint32_t i = 0; i < n; i++) {
			if (ids[i] == self)
				continue;
			if (!waits(ids[i]))
				return false;
			targets++;
		}
		return sh == ICR_TO_ALL_BUT_SELF && targets > 0;
	}
	return false;
}

bool icr_write_is_dropped(const struct icr_write *w, uint32_t self_apic_id, const uint32_t *vcpu_apic_ids,
			  uint32_t nr_vcpus, vcpu_waits_for_sipi_fn waits_for_sipi)
{
	if ((w->low & ICR_DELIVERY_MASK) != ICR_DELIVERY_INIT)
		return false;
	if (!(w->low & ICR_LEVEL_ASSERT))
		return true;
	return all_targets_wait(w, self_apic_id, vcpu_apic_ids, nr_vcpus, waits_for_sipi);
}

int icr_sipi_per_cpu_targets(const struct icr_write *w, uint32_t self_apic_id, const uint32_t *vcpu_apic_ids,
			     uint32_t nr_vcpus, vcpu_waits_for_sipi_fn waits_for_sipi, uint32_t *targets)
{
	enum icr_shorthand sh = (enum icr_shorthand)((w->low & ICR_SHORTHAND_MASK) >> ICR_SHORTHAND_SHIFT);
	int n = 0;

	if ((w->low & ICR_DELIVERY_MASK) != ICR_DELIVERY_STARTUP || (sh != ICR_TO_ALL && sh != ICR_TO_ALL_BUT_SELF))
		return -1;
	for (uint32_t i = 0; i < nr_vcpus; i++) {
		/* The sender runs, so it ignores its own SIPI even with "all including self". */
		if (vcpu_apic_ids[i] != self_apic_id && waits_for_sipi(vcpu_apic_ids[i]))
			targets[n++] = vcpu_apic_ids[i];
	}
	return n;
}

int icr_init_latch_targets(const struct icr_write *w, uint32_t self_apic_id, const uint32_t *vcpu_apic_ids,
			   uint32_t nr_vcpus, vcpu_in_vmx_fn in_vmx, uint32_t *targets)
{
	enum icr_shorthand sh = (enum icr_shorthand)((w->low & ICR_SHORTHAND_MASK) >> ICR_SHORTHAND_SHIFT);
	int n = 0;

	if ((w->low & ICR_DELIVERY_MASK) != ICR_DELIVERY_INIT || !(w->low & ICR_LEVEL_ASSERT))
		return -1;
	if (sh == ICR_TO_SELF || (sh == ICR_TO_DEST && (w->low & ICR_DEST_LOGICAL)))
		return 0;
	for (uint32_t i = 0; i < nr_vcpus; i++) {
		uint32_t id = vcpu_apic_ids[i];
		bool named = sh == ICR_TO_DEST ? id == w->dest : sh == ICR_TO_ALL || id != self_apic_id;

		if (named && in_vmx(id))
			targets[n++] = id;
	}
	return n;
}
