/* Physical memory: the frame pool's bitmap allocator, the pool's placement, and the hypervisor/guest split. */
#include "hv/mm.h"
#include "hv/cmdline.h"
#include "hv/console.h"
#include "hv/memmap.h"
#include "hv/panic.h"
#include "hv/spinlock.h"
#include "hv/string.h"

#define BITS_PER_WORD 64

/* ---- the frame pool: pure, host-tested ---- */

static bool bit_test(const struct frame_pool *p, uint64_t i)
{
	return p->bitmap[i / BITS_PER_WORD] & BIT(i % BITS_PER_WORD);
}

static void bits_assign(struct frame_pool *p, uint64_t first, uint64_t n, bool used)
{
	for (uint64_t i = first; i < first + n; i++) {
		if (used)
			p->bitmap[i / BITS_PER_WORD] |= BIT(i % BITS_PER_WORD);
		else
			p->bitmap[i / BITS_PER_WORD] &= ~BIT(i % BITS_PER_WORD);
	}
}

static paddr_t frame_pa(const struct frame_pool *p, uint64_t idx)
{
	return p->base + (idx << PAGE_SHIFT);
}

int frame_pool_init(struct frame_pool *p, paddr_t base, uint64_t size, void *map)
{
	uint64_t nframes = size >> PAGE_SHIFT;
	uint64_t words = (nframes + BITS_PER_WORD - 1) / BITS_PER_WORD;
	uint64_t meta = ALIGN_UP(words * sizeof(uint64_t), PAGE_SIZE) >> PAGE_SHIFT;

	memset(p, 0, sizeof(*p));
	if (!map || !IS_ALIGNED(base, PAGE_SIZE) || !IS_ALIGNED(size, PAGE_SIZE) || nframes <= meta)
		return MM_EINVAL;
	p->base = base;
	p->nframes = nframes;
	p->meta = meta;
	p->map = map;
	p->bitmap = map;
	memset(p->bitmap, 0, meta << PAGE_SHIFT);
	/* The bitmap's own frames, and the padding bits past the last frame, are never free. */
	bits_assign(p, 0, meta, true);
	bits_assign(p, nframes, words * BITS_PER_WORD - nframes, true);
	return 0;
}

/* One frame: the first clear bit, searching from where the last search ended. */
static int64_t find_one(struct frame_pool *p)
{
	uint64_t words = (p->nframes + BITS_PER_WORD - 1) / BITS_PER_WORD;

	for (uint64_t k = 0; k < words; k++) {
		uint64_t w = (p->hint + k) % words;

		if (p->bitmap[w] != ~0ULL) {
			p->hint = w;
			return (int64_t)(w * BITS_PER_WORD + (uint64_t)__builtin_ctzll(~p->bitmap[w]));
		}
	}
	return -1;
}

/* First run of n clear bits whose first frame is align-aligned (physically). */
static int64_t find_run(const struct frame_pool *p, uint64_t n, uint64_t align)
{
	paddr_t pa = ALIGN_UP(frame_pa(p, p->meta), align);

	while (pa >= p->base && ((pa - p->base) >> PAGE_SHIFT) + n <= p->nframes) {
		uint64_t first = (pa - p->base) >> PAGE_SHIFT;
		uint64_t i;

		for (i = first; i < first + n && !bit_test(p, i); i++)
			;
		if (i == first + n)
			return (int64_t)first;
		/* Frame i is taken: no run containing it can work, so restart past it. */
		pa = ALIGN_UP(frame_pa(p, i + 1), align);
	}
	return -1;
}

paddr_t frame_pool_alloc(struct frame_pool *p, size_t npages, uint64_t align)
{
	int64_t idx;

	if (!p->nframes || !npages || (align & (align - 1)))
		return 0;
	align = MAX(align, PAGE_SIZE);
	if (npages == 1 && align == PAGE_SIZE)
		idx = find_one(p);
	else
		idx = find_run(p, npages, align);
	if (idx < 0)
		return 0;
	bits_assign(p, (uint64_t)idx, npages, true);
	p->used += npages;
	/* Zeroed on allocation: a frame may hold a previous user's page tables or secrets. */
	memset(p->map + ((uint64_t)idx << PAGE_SHIFT), 0, (uint64_t)npages << PAGE_SHIFT);
	return frame_pa(p, (uint64_t)idx);
}

bool frame_pool_free(struct frame_pool *p, paddr_t pa, size_t npages)
{
	uint64_t first;

	if (!npages || pa < p->base || !IS_ALIGNED(pa, PAGE_SIZE))
		return false;
	first = (pa - p->base) >> PAGE_SHIFT;
	if (first < p->meta || first >= p->nframes || npages > p->nframes - first)
		return false;
	for (uint64_t i = first; i < first + npages; i++)
		if (!bit_test(p, i))
			return false; /* a double free: better refused than corrupting the count */
	bits_assign(p, first, npages, false);
	p->used -= npages;
	return true;
}

uint64_t frame_pool_free_frames(const struct frame_pool *p)
{
	return p->nframes ? p->nframes - p->meta - p->used : 0;
}

/* ---- where the pool goes: pure, host-tested ---- */

uint64_t mm_pool_size_from_cmdline(const char *cmdline, bool *note)
{
	uint64_t size = MM_POOL_DEFAULT;
	*note = false;
	if (!cmdline_get_u64(cmdline, "hvmem", &size)) {
		/* Present but unparsable: say so rather than silently using the default. */
		*note = cmdline_has_key(cmdline, "hvmem");
		size = MM_POOL_DEFAULT;
	}
	if (size < MM_POOL_MIN) {
		size = MM_POOL_MIN;
		*note = true;
	}
	if (size >= MM_POOL_LIMIT) {
		/* README: below 4 GiB (the boot page tables' reach); refused, not clipped to a size that cannot fit. */
		size = MM_POOL_DEFAULT;
		*note = true;
	}
	return ALIGN_UP(size, PAGE_SIZE);
}

static void avoid_range(struct boot_mem_range *a, uint32_t *n, uint64_t start, uint64_t end)
{
	if (end <= start)
		return;
	a[*n].base = ALIGN_DOWN(start, PAGE_SIZE);
	a[*n].len = ALIGN_UP(end, PAGE_SIZE) - a[*n].base;
	a[*n].type = MEM_RESERVED;
	a[*n].pad = 0;
	(*n)++;
}

/* Fills the hypervisor map and the guest's view once the pool has a place. */
static int mm_split(struct mm_layout *l)
{
	int err;

	memmap_init(&l->hv);
	err = memmap_add(&l->hv, l->image_start, l->image_end - l->image_start, MEM_RESERVED);
	if (!err)
		err = memmap_add(&l->hv, l->pool_base, l->pool_size, MEM_RESERVED);
	l->guest = l->machine;
	if (!err)
		err = memmap_reserve(&l->guest, l->image_start, l->image_end - l->image_start);
	if (!err)
		err = memmap_reserve(&l->guest, l->pool_base, l->pool_size);
	return err ? MM_ENOMEM : 0;
}

int mm_plan(struct mm_layout *l, const struct boot_info *bi, paddr_t image_start,
	    paddr_t image_end, uint64_t pool_size)
{
	struct boot_mem_range avoid[3 + BOOT_MAX_MODULES];
	uint32_t navoid = 0;
	uint32_t nmods = MIN(bi->module_count, (uint32_t)BOOT_MAX_MODULES);

	memset(l, 0, sizeof(*l));
	if (image_end <= image_start || !pool_size || !IS_ALIGNED(pool_size, PAGE_SIZE))
		return MM_EINVAL;
	l->image_start = ALIGN_DOWN(image_start, PAGE_SIZE);
	l->image_end = ALIGN_UP(image_end, PAGE_SIZE);
	l->pool_size = pool_size;
	memmap_from_boot_info(&l->machine, bi);
	if (!memmap_usable_bytes(&l->machine))
		return MM_ENOMAP;

	avoid_range(avoid, &navoid, 0, MM_LOW_RESERVED);
	avoid_range(avoid, &navoid, l->image_start, l->image_end);
	for (uint32_t i = 0; i < nmods; i++)
		avoid_range(avoid, &navoid, bi->modules[i].start, bi->modules[i].end);
	if (bi->acpi_rsdp)
		avoid_range(avoid, &navoid, bi->acpi_rsdp, bi->acpi_rsdp + 36);

	if (!memmap_find_highest(&l->machine, pool_size, MiB(2), MM_POOL_LIMIT, avoid, navoid, &l->pool_base) &&
	    !memmap_find_highest(&l->machine, pool_size, PAGE_SIZE, MM_POOL_LIMIT, avoid, navoid, &l->pool_base))
		return MM_ENOMEM;
	return mm_split(l);
}

/* ---- the hypervisor's one instance ---- */

static struct mm_layout layout;
static struct frame_pool pool;
static bool mm_ready;
static spinlock_t pool_lock = SPINLOCK_INIT; /* APs allocate their stacks and VMXON regions concurrently */

#ifdef HV_HOST_TEST
/* The tests provide the image bounds and host memory standing in for the pool. */
extern paddr_t mm_test_image_start, mm_test_image_end;
void *mm_test_pool_map(paddr_t base, uint64_t size);
#define IMAGE_START mm_test_image_start
#define IMAGE_END   mm_test_image_end
#define POOL_MAP(base, size) mm_test_pool_map(base, size)
#else
extern char __image_start[], __image_end[];
#define IMAGE_START virt_to_phys(__image_start)
#define IMAGE_END   virt_to_phys(__image_end)
#define POOL_MAP(base, size) phys_to_virt(base) /* the low 4 GiB are identity-mapped */
#endif

int mm_init_at(const struct boot_info *bi, paddr_t image_start, paddr_t image_end)
{
	bool note;
	uint64_t size = mm_pool_size_from_cmdline(bi->cmdline, &note);
	char given[24] = "";
	int err;

	mm_ready = false;
	if (note) {
		cmdline_get_str(bi->cmdline, "hvmem", given, sizeof(given));
		printk("hv: warning: command line: 'hvmem=%s' not taken as given (a size such as 64M, at least 4M, below 4G); using %llu KiB\n",
		       given, (unsigned long long)(size >> 10));
	}
	err = mm_plan(&layout, bi, image_start, image_end, size);
	if (!err)
		err = frame_pool_init(&pool, layout.pool_base, layout.pool_size,
				      POOL_MAP(layout.pool_base, layout.pool_size));
	mm_ready = !err;
	return err;
}

void mm_init(const struct boot_info *bi)
{
	int err = mm_init_at(bi, IMAGE_START, IMAGE_END);

	if (err == MM_ENOMAP)
		panic("mm: the boot information lists no usable RAM");
	if (err)
		panic("mm: no room for the %llu KiB hypervisor pool in usable RAM below 4 GiB outside the first MiB, the image and the modules (%llu KiB usable in all); boot with a smaller hvmem=",
		      (unsigned long long)(layout.pool_size >> 10),
		      (unsigned long long)(memmap_usable_bytes(&layout.machine) >> 10));
}

paddr_t frame_alloc_contig(size_t npages, uint64_t align)
{
	paddr_t pa;

	if (!mm_ready)
		return 0;
	spin_lock(&pool_lock);
	pa = frame_pool_alloc(&pool, npages, align);
	spin_unlock(&pool_lock);
	return pa;
}

paddr_t frame_alloc(void)
{
	return frame_alloc_contig(1, PAGE_SIZE);
}

void frame_free_contig(paddr_t pa, size_t npages)
{
	bool ok = false;

	if (mm_ready) {
		spin_lock(&pool_lock);
		ok = frame_pool_free(&pool, pa, npages);
		spin_unlock(&pool_lock);
	}
	/* A bad free is a bug of the caller; refusing it keeps the pool consistent. */
	if (!ok)
		printk("hv: mm: refused to free %zu frame(s) at 0x%llx: not allocated from the pool\n",
		       npages, (unsigned long long)pa);
}

void frame_free(paddr_t pa)
{
	frame_free_contig(pa, 1);
}

const struct mem_map *mm_guest_map(void)
{
	return &layout.guest;
}

const struct mem_map *mm_hv_ranges(void)
{
	return &layout.hv;
}

int mm_claim_for_hv(paddr_t base, uint64_t len)
{
	paddr_t start = ALIGN_DOWN(base, PAGE_SIZE);
	uint64_t size = ALIGN_UP(base + len, PAGE_SIZE) - start;

	if (!len || base + len < base || memmap_add(&layout.hv, start, size, MEM_RESERVED) ||
	    memmap_reserve(&layout.guest, start, size))
		return -1;
	return 0;
}

bool mm_range_is_hv_owned(paddr_t pa, uint64_t len)
{
	return memmap_covers(&layout.hv, pa, len, MEM_RESERVED);
}

bool mm_range_overlaps_hv(paddr_t pa, uint64_t len)
{
	return memmap_overlaps(&layout.hv, pa, len);
}

static void print_map(const char *what, const struct mem_map *m)
{
	for (uint32_t i = 0; i < m->count; i++)
		printk("hv: mm: %s [0x%016llx-0x%016llx] %s\n", what, (unsigned long long)m->r[i].base,
		       (unsigned long long)(m->r[i].base + m->r[i].len - 1), memmap_type_name(m->r[i].type));
}

void mm_print_state(void)
{
	if (!mm_ready) {
		printk("hv: mm: not initialised\n");
		return;
	}
	printk("hv: mm: image [0x%llx-0x%llx) %llu KiB\n", (unsigned long long)layout.image_start,
	       (unsigned long long)layout.image_end,
	       (unsigned long long)((layout.image_end - layout.image_start) >> 10));
	printk("hv: mm: pool [0x%llx-0x%llx) %llu KiB, %llu frames (%llu for the bitmap), %llu used, %llu free\n",
	       (unsigned long long)layout.pool_base,
	       (unsigned long long)(layout.pool_base + layout.pool_size),
	       (unsigned long long)(layout.pool_size >> 10), (unsigned long long)pool.nframes,
	       (unsigned long long)pool.meta, (unsigned long long)pool.used,
	       (unsigned long long)frame_pool_free_frames(&pool));
	print_map("hv", &layout.hv);
	print_map("guest", &layout.guest);
	printk("hv: mm: guest usable RAM %llu KiB\n",
	       (unsigned long long)(memmap_usable_bytes(&layout.guest) >> 10));
}
