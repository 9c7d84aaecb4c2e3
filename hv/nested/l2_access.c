/* vmcs02 through the wiring's interface, one field per call or many at once (the round trip's lists). */
#include "hv/nested/events.h"

void nested_l2_read_many(const struct nested_l2_ops *l2, const uint16_t *enc, uint64_t *val, uint32_t n)
{
	if (l2->vmcs02_read_many) {
		l2->vmcs02_read_many(l2->ctx, enc, val, n);
		return;
	}
	for (uint32_t i = 0; i < n; i++)
		val[i] = l2->vmcs02_read(l2->ctx, enc[i]);
}

void nested_l2_write_batch(const struct nested_l2_ops *l2, struct vmcs_batch *b)
{
	if (l2->vmcs02_write_batch)
		l2->vmcs02_write_batch(l2->ctx, b);
	else
		for (uint32_t i = 0; i < b->n; i++)
			l2->vmcs02_write(l2->ctx, b->enc[i], b->val[i]);
	b->n = 0;
}
