/* Pure operations on E820-style memory maps: painting ranges with types, holes, normalisation and placement searches. */
#include "hv/memmap.h"
#include "hv/string.h"

/*
 * Invariant of every array handled here: ranges sorted by base, non-empty,
 * not wrapping, not overlapping, and adjacent ranges of equal type merged.
 * Every primitive edit below keeps the invariant, so even when an operation
 * stops half-way for lack of slots (MEMMAP_ENOSPC) the map stays valid.
 */

static inline uint64_t rend(const struct boot_mem_range *x)
{
	return x->base + x->len;
}

uint32_t memmap_canon_type(uint32_t type)
{
	switch (type) {
	case MEM_USABLE:
	case MEM_RESERVED:
	case MEM_ACPI_RECLAIM:
	case MEM_ACPI_NVS:
	case MEM_BAD:
		return type;
	default:
		/* E820 type 7 (persistent), 12 (OEM) and anything new: keep out of everyone's way. */
		return MEM_RESERVED;
	}
}

int memmap_type_rank(uint32_t type)
{
	/* Where firmware entries overlap, the more restrictive use must win. */
	switch (memmap_canon_type(type)) {
	case MEM_USABLE:       return 0;
	case MEM_ACPI_RECLAIM: return 1;
	case MEM_ACPI_NVS:     return 2;
	case MEM_RESERVED:     return 3;
	default:               return 4; /* MEM_BAD */
	}
}

const char *memmap_type_name(uint32_t type)
{
	switch (memmap_canon_type(type)) {
	case MEM_USABLE:       return "usable";
	case MEM_ACPI_RECLAIM: return "ACPI data";
	case MEM_ACPI_NVS:     return "ACPI NVS";
	case MEM_RESERVED:     return "reserved";
	default:               return "unusable";
	}
}

/* Index of the first range ending above addr: the one containing addr, or the next one. */
static uint32_t find_pos(const struct boot_mem_range *r, uint32_t n, uint64_t addr)
{
	uint32_t i = 0;

	while (i < n && rend(&r[i]) <= addr)
		i++;
	return i;
}

static void delete_at(struct boot_mem_range *r, uint32_t *n, uint32_t i)
{
	memmove(&r[i], &r[i + 1], (*n - i - 1) * sizeof(*r));
	(*n)--;
}

static void set_range(struct boot_mem_range *x, uint64_t base, uint64_t end, uint32_t type)
{
	x->base = base;
	x->len = end - base;
	x->type = type;
	x->pad = 0;
}

/*
 * Puts [base, end) into a hole of the map, merging it with a neighbour of the
 * same type that touches it; needs a free slot only if nothing merges.
 */
static int insert_merge(struct boot_mem_range *r, uint32_t *n, uint32_t cap,
			uint64_t base, uint64_t end, uint32_t type)
{
	uint32_t p = find_pos(r, *n, base);
	bool join_left = p > 0 && rend(&r[p - 1]) == base && r[p - 1].type == type;
	bool join_right = p < *n && r[p].base == end && r[p].type == type;

	if (join_left && join_right) {
		r[p - 1].len = rend(&r[p]) - r[p - 1].base;
		delete_at(r, n, p);
	} else if (join_left) {
		r[p - 1].len = end - r[p - 1].base;
	} else if (join_right) {
		r[p].len = rend(&r[p]) - base;
		r[p].base = base;
	} else {
		if (*n >= cap)
			return MEMMAP_ENOSPC;
		memmove(&r[p + 1], &r[p], (*n - p) * sizeof(*r));
		set_range(&r[p], base, end, type);
		(*n)++;
	}
	return 0;
}

/* Changes the type of [a, b), which lies inside range i, splitting it as needed. */
static int retype_in_range(struct boot_mem_range *r, uint32_t *n, uint32_t cap,
			   uint32_t i, uint64_t a, uint64_t b, uint32_t type)
{
	struct boot_mem_range old = r[i];
	uint32_t extra = (a > old.base) + (b < rend(&old));
	int err;

	if (old.type == type)
		return 0;
	/* Conservative: merges may need fewer slots, but never more than this. */
	if (*n + extra > cap)
		return MEMMAP_ENOSPC;
	delete_at(r, n, i);
	if (a > old.base) {
		err = insert_merge(r, n, cap, old.base, a, old.type);
		if (err)
			return err;
	}
	err = insert_merge(r, n, cap, a, b, type);
	if (!err && b < rend(&old))
		err = insert_merge(r, n, cap, b, rend(&old), old.type);
	return err;
}

/* Cuts [a, b), which lies inside range i, out of the map. */
static int cut_in_range(struct boot_mem_range *r, uint32_t *n, uint32_t cap,
			uint32_t i, uint64_t a, uint64_t b)
{
	uint64_t end = rend(&r[i]);

	if (a == r[i].base && b == end) {
		delete_at(r, n, i);
	} else if (a == r[i].base) {
		r[i].base = b;
		r[i].len = end - b;
	} else if (b == end) {
		r[i].len = a - r[i].base;
	} else {
		if (*n >= cap)
			return MEMMAP_ENOSPC;
		memmove(&r[i + 1], &r[i], (*n - i) * sizeof(*r));
		r[i].len = a - r[i].base;
		set_range(&r[i + 1], b, end, r[i].type);
		(*n)++;
	}
	return 0;
}

enum paint_mode { PAINT_WORST, PAINT_OVERRIDE, PAINT_HOLE };

/*
 * Walks [base, end) piece by piece, each piece being either part of one
 * existing range or part of one hole, and edits it according to mode.
 */
static int paint(struct boot_mem_range *r, uint32_t *n, uint32_t cap,
		 uint64_t base, uint64_t len, uint32_t type, enum paint_mode mode)
{
	uint64_t end = base + len;
	uint64_t cur = base;
	int err = 0;

	if (!len || end < base)
		return MEMMAP_EINVAL;
	type = memmap_canon_type(type);
	while (cur < end && !err) {
		uint32_t i = find_pos(r, *n, cur);
		uint64_t stop;

		if (i < *n && r[i].base <= cur) {
			stop = MIN(end, rend(&r[i]));
			if (mode == PAINT_HOLE)
				err = cut_in_range(r, n, cap, i, cur, stop);
			else if (mode == PAINT_OVERRIDE ||
				 memmap_type_rank(type) > memmap_type_rank(r[i].type))
				err = retype_in_range(r, n, cap, i, cur, stop, type);
		} else {
			stop = i < *n ? MIN(end, r[i].base) : end;
			if (mode != PAINT_HOLE)
				err = insert_merge(r, n, cap, cur, stop, type);
		}
		cur = stop;
	}
	return err;
}

int memranges_add(struct boot_mem_range *r, uint32_t *count, uint32_t cap,
		  uint64_t base, uint64_t len, uint32_t type)
{
	return paint(r, count, cap, base, len, type, PAINT_WORST);
}

int memranges_set(struct boot_mem_range *r, uint32_t *count, uint32_t cap,
		  uint64_t base, uint64_t len, uint32_t type)
{
	return paint(r, count, cap, base, len, type, PAINT_OVERRIDE);
}

int memranges_remove(struct boot_mem_range *r, uint32_t *count, uint32_t cap,
		     uint64_t base, uint64_t len)
{
	return paint(r, count, cap, base, len, MEM_RESERVED, PAINT_HOLE);
}

void memmap_init(struct mem_map *m)
{
	memset(m, 0, sizeof(*m));
}

int memmap_add(struct mem_map *m, uint64_t base, uint64_t len, uint32_t type)
{
	return memranges_add(m->r, &m->count, MEM_MAP_MAX, base, len, type);
}

int memmap_set(struct mem_map *m, uint64_t base, uint64_t len, uint32_t type)
{
	return memranges_set(m->r, &m->count, MEM_MAP_MAX, base, len, type);
}

int memmap_reserve(struct mem_map *m, uint64_t base, uint64_t len)
{
	return memmap_set(m, base, len, MEM_RESERVED);
}

int memmap_remove(struct mem_map *m, uint64_t base, uint64_t len)
{
	return memranges_remove(m->r, &m->count, MEM_MAP_MAX, base, len);
}

int memmap_from_boot_info(struct mem_map *m, const struct boot_info *bi)
{
	uint32_t n = MIN(bi->mmap_count, (uint32_t)BOOT_MAX_MMAP);
	int ret = 0;

	memmap_init(m);
	for (uint32_t i = 0; i < n; i++) {
		const struct boot_mem_range *e = &bi->mmap[i];
		int err;

		if (!e->len)
			continue;
		/* A range running past 2^64 is clipped to the last representable end. */
		err = memmap_add(m, e->base, MIN(e->len, UINT64_MAX - e->base), e->type);
		if (err && err != MEMMAP_EINVAL)
			ret = err;
	}
	return ret;
}

/*
 * Normalises in place without a second array: the raw entries are moved to
 * the tail of the array, then taken one by one and painted (worst type wins,
 * so their order does not matter) into the normal map growing from the front,
 * which may only use the slots the remaining raw entries do not occupy.
 */
int memmap_normalize(struct mem_map *m)
{
	uint32_t raw = MIN(m->count, (uint32_t)MEM_MAP_MAX);
	uint32_t done = 0;
	int ret = 0;

	memmove(&m->r[MEM_MAP_MAX - raw], &m->r[0], raw * sizeof(m->r[0]));
	while (raw) {
		struct boot_mem_range e = m->r[MEM_MAP_MAX - raw];
		int err;

		raw--;
		if (!e.len)
			continue;
		err = memranges_add(m->r, &done, MEM_MAP_MAX - raw,
				    e.base, MIN(e.len, UINT64_MAX - e.base), e.type);
		if (err && err != MEMMAP_EINVAL)
			ret = err;
	}
	m->count = done;
	return ret;
}

uint64_t memmap_total(const struct mem_map *m, uint32_t type)
{
	uint64_t sum = 0;

	for (uint32_t i = 0; i < m->count; i++)
		if (m->r[i].type == type)
			sum += m->r[i].len;
	return sum;
}

uint64_t memmap_usable_bytes(const struct mem_map *m)
{
	return memmap_total(m, MEM_USABLE);
}

bool memmap_covers(const struct mem_map *m, uint64_t base, uint64_t len, uint32_t type)
{
	uint64_t end = base + len;
	uint64_t cur = base;

	if (!len || end < base)
		return false;
	for (uint32_t i = find_pos(m->r, m->count, base); i < m->count && cur < end; i++) {
		if (m->r[i].base > cur || m->r[i].type != type)
			return false;
		cur = rend(&m->r[i]);
	}
	return cur >= end;
}

bool memmap_overlaps(const struct mem_map *m, uint64_t base, uint64_t len)
{
	uint64_t end = base + len;
	uint32_t i;

	if (!len)
		return false;
	if (end < base)
		end = UINT64_MAX; /* a wrapping query reaches the top of the address space */
	i = find_pos(m->r, m->count, base);
	return i < m->count && m->r[i].base < end;
}

bool memmap_is_normal(const struct boot_mem_range *r, uint32_t count)
{
	for (uint32_t i = 0; i < count; i++) {
		if (!r[i].len || rend(&r[i]) < r[i].base)
			return false;
		if (i == 0)
			continue;
		if (r[i].base < rend(&r[i - 1]))
			return false;
		if (r[i].base == rend(&r[i - 1]) && r[i].type == r[i - 1].type)
			return false;
	}
	return true;
}

/* Lowest base among the avoided ranges that [base, base+size) intersects, or base+size if none. */
static uint64_t first_conflict(uint64_t base, uint64_t size,
			       const struct boot_mem_range *avoid, uint32_t navoid)
{
	uint64_t end = base + size;
	uint64_t lowest = end;

	for (uint32_t i = 0; i < navoid; i++) {
		uint64_t aend = avoid[i].base + avoid[i].len;

		if (aend < avoid[i].base)
			aend = UINT64_MAX;
		if (avoid[i].len && avoid[i].base < end && aend > base)
			lowest = MIN(lowest, avoid[i].base);
	}
	return lowest;
}

/* Highest fit inside [lo, hi): lowers the ceiling below each conflict until one fits. */
static bool fit_in(uint64_t lo, uint64_t hi, uint64_t size, uint64_t align,
		   const struct boot_mem_range *avoid, uint32_t navoid, uint64_t *out)
{
	while (hi >= lo && hi - lo >= size) {
		uint64_t cand = ALIGN_DOWN(hi - size, align);
		uint64_t conflict;

		if (cand < lo)
			return false;
		conflict = first_conflict(cand, size, avoid, navoid);
		if (conflict == cand + size) {
			*out = cand;
			return true;
		}
		/* Any lower placement that still overlaps this range also conflicts. */
		hi = conflict;
	}
	return false;
}

bool memmap_find_highest(const struct mem_map *m, uint64_t size, uint64_t align,
			 uint64_t limit, const struct boot_mem_range *avoid,
			 uint32_t navoid, uint64_t *base_out)
{
	bool found = false;
	uint64_t best = 0;

	if (!size || !align || (align & (align - 1)))
		return false;
	for (uint32_t i = 0; i < m->count; i++) {
		uint64_t lo = m->r[i].base;
		uint64_t hi = MIN(rend(&m->r[i]), limit);
		uint64_t cand;

		if (m->r[i].type != MEM_USABLE || hi <= lo)
			continue;
		if (fit_in(lo, hi, size, align, avoid, navoid, &cand) && (!found || cand > best)) {
			best = cand;
			found = true;
		}
	}
	if (found)
		*base_out = best;
	return found;
}
