/* Conversion of the final UEFI memory map into sorted, merged E820-typed ranges. */
#include "boot/efi/mmap_conv.h"

#define EFI_PAGE_SIZE 4096ULL

uint32_t efi_type_to_e820(uint32_t efi_type)
{
	/*
	 * The ACPI spec (6.5 §15.4, "UEFI Memory Types and mapping to ACPI address
	 * range types") maps loader and boot-services memory to AddressRangeMemory
	 * once ExitBootServices has returned (UEFI 2.10 §7.2.1, Table 7-6).
	 */
	switch (efi_type) {
	case EFI_LOADER_CODE:
	case EFI_LOADER_DATA:
	case EFI_BOOT_SERVICES_CODE:
	case EFI_BOOT_SERVICES_DATA:
	case EFI_CONVENTIONAL_MEMORY:
		return MEM_USABLE;
	case EFI_ACPI_RECLAIM_MEMORY:
		return MEM_ACPI_RECLAIM;
	case EFI_ACPI_MEMORY_NVS:
		return MEM_ACPI_NVS;
	case EFI_UNUSABLE_MEMORY:
		return MEM_BAD;
	default:
		return MEM_RESERVED; /* runtime services, MMIO, PAL, persistent, unaccepted, unknown */
	}
}

/* How much a type forbids: the higher wins where ranges overlap. */
static int restrictiveness(uint32_t e820)
{
	switch (e820) {
	case MEM_USABLE:       return 0;
	case MEM_ACPI_RECLAIM: return 1;
	case MEM_ACPI_NVS:     return 2;
	case MEM_RESERVED:     return 3;
	default:               return 4; /* MEM_BAD */
	}
}

static void read_desc(const void *map, size_t desc_size, size_t i, struct efi_mdesc *d)
{
	__builtin_memcpy(d, (const uint8_t *)map + i * desc_size, sizeof(*d));
}

/* Is descriptor a (base, index) ordered strictly before b? The index breaks ties. */
static bool before(uint64_t a_base, size_t a_idx, uint64_t b_base, size_t b_idx)
{
	return a_base < b_base || (a_base == b_base && a_idx < b_idx);
}

/*
 * The index of the first descriptor after (prev_base, prev_idx) in address
 * order, or n when none is left. A selection pass instead of a sort keeps the
 * firmware's buffer untouched; n is a few hundred at most, so O(n^2) is fine.
 */
static size_t next_desc(const void *map, size_t n, size_t desc_size,
			bool first, uint64_t prev_base, size_t prev_idx)
{
	size_t i, best = n;
	uint64_t best_base = 0;

	for (i = 0; i < n; i++) {
		struct efi_mdesc d;

		read_desc(map, desc_size, i, &d);
		if (!first && !before(prev_base, prev_idx, d.phys_start, i))
			continue;
		if (best == n || before(d.phys_start, i, best_base, best)) {
			best = i;
			best_base = d.phys_start;
		}
	}
	return best;
}

/* The output being built: ranges as [base, end) while merging. */
struct out_map {
	struct boot_mem_range *r;
	uint32_t cap, n;
	bool overflow;
};

static uint64_t end_of(const struct boot_mem_range *r)
{
	return r->base + r->len;
}

/* Appends [base, end) of type, merging with the last range when they touch and agree. */
static void emit(struct out_map *o, uint64_t base, uint64_t end, uint32_t type)
{
	struct boot_mem_range *last = o->n ? &o->r[o->n - 1] : NULL;

	if (end <= base)
		return;
	if (last && last->type == type && end_of(last) >= base) {
		last->len = MAX(end, end_of(last)) - last->base;
		return;
	}
	if (o->n >= o->cap) {
		o->overflow = true;
		return;
	}
	o->r[o->n++] = (struct boot_mem_range){ base, end - base, type, 0 };
}

/* Adds a range that starts inside the last one (firmware bug): the stricter type keeps the overlap. */
static void emit_overlapping(struct out_map *o, uint64_t base, uint64_t end, uint32_t type)
{
	struct boot_mem_range *last = &o->r[o->n - 1];
	uint64_t last_end = end_of(last);
	uint32_t last_type = last->type;

	if (restrictiveness(type) <= restrictiveness(last_type)) {
		emit(o, last_end, end, type); /* the earlier, stricter range keeps its bytes */
		return;
	}
	last->len = base - last->base;
	if (last->len == 0)
		o->n--;
	emit(o, base, end, type);
	emit(o, end, last_end, last_type); /* the part of the earlier range beyond the new one */
}

static void add_desc(struct out_map *o, const struct efi_mdesc *d)
{
	uint64_t base = d->phys_start, end;
	uint32_t type = efi_type_to_e820(d->type);

	if (d->pages == 0 || d->pages > (UINT64_MAX - base) / EFI_PAGE_SIZE)
		return; /* empty, or wraps the address space: nothing a map can describe */
	end = base + d->pages * EFI_PAGE_SIZE;
	if (o->n && base < end_of(&o->r[o->n - 1]) && o->r[o->n - 1].type != type)
		emit_overlapping(o, base, end, type);
	else
		emit(o, base, end, type);
}

enum mmap_err efi_mmap_to_e820(const void *map, size_t map_size, size_t desc_size,
			       struct boot_mem_range *out, uint32_t cap, uint32_t *count)
{
	struct out_map o = { out, cap, 0, false };
	size_t n, i, prev = 0;
	uint64_t prev_base = 0;
	bool first = true;

	*count = 0;
	if (desc_size < sizeof(struct efi_mdesc))
		return MMAP_ERR_DESC_SIZE;
	n = map_size / desc_size;
	while ((i = next_desc(map, n, desc_size, first, prev_base, prev)) < n) {
		struct efi_mdesc d;

		read_desc(map, desc_size, i, &d);
		add_desc(&o, &d);
		first = false;
		prev = i;
		prev_base = d.phys_start;
	}
	*count = o.n;
	return o.overflow ? MMAP_ERR_OVERFLOW : MMAP_OK;
}

const char *mmap_strerror(enum mmap_err code)
{
	switch (code) {
	case MMAP_OK:            return "no error";
	case MMAP_ERR_DESC_SIZE: return "memory descriptor size smaller than EFI_MEMORY_DESCRIPTOR";
	case MMAP_ERR_OVERFLOW:  return "memory map has more ranges than boot_info holds";
	}
	return "unknown error";
}
