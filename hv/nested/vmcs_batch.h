/* A list of VMCS writes (encoding, value) that the wiring carries out in one tight loop (pure). */
#ifndef HV_NESTED_VMCS_BATCH_H
#define HV_NESTED_VMCS_BATCH_H

#include "hv/types.h"

/*
 * The nested round trip writes some fifty fields of vmcs01 and vmcs02; one
 * call per field through the interface costs more than the VMWRITE itself,
 * so hv/nested collects them here and hv/vmx writes them back to back.
 */
#define VMCS_BATCH_MAX 64

struct vmcs_batch {
	uint32_t n;
	uint16_t enc[VMCS_BATCH_MAX];
	uint64_t val[VMCS_BATCH_MAX];
};

/* The caller sizes its lists below VMCS_BATCH_MAX (or flushes first): a full batch is a bug, caught here. */
static inline void vmcs_batch_put(struct vmcs_batch *b, uint32_t enc, uint64_t val)
{
	if (b->n >= VMCS_BATCH_MAX)
		__builtin_trap();
	b->enc[b->n] = (uint16_t)enc;
	b->val[b->n++] = val;
}

#endif
