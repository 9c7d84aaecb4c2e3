/* Multiboot v1 information: command line, memory map walks. */
#include "guest.h"

const char *mbi_cmdline(const struct mb_info *mbi)
{
	if (!(mbi->flags & MBF_CMDLINE) || !mbi->cmdline)
		return "";
	return (const char *)mbi->cmdline;
}

/* Calls fn for each map entry; the entry stride is size + 4 because "size" excludes itself. */
void mbi_mmap_walk(const struct mb_info *mbi, void (*fn)(const struct mb_mmap_entry *, void *), void *arg)
{
	if (!(mbi->flags & MBF_MMAP))
		return;
	uint32_t p = mbi->mmap_addr, end = mbi->mmap_addr + mbi->mmap_length;
	while (p < end) {
		const struct mb_mmap_entry *e = (const struct mb_mmap_entry *)p;
		fn(e, arg);
		p += e->size + 4;
	}
}

static void add_usable(const struct mb_mmap_entry *e, void *arg)
{
	if (e->type == 1)
		*(uint64_t *)arg += e->len;
}

uint64_t mbi_usable_bytes(const struct mb_info *mbi)
{
	uint64_t total = 0;
	mbi_mmap_walk(mbi, add_usable, &total);
	return total;
}

static void print_entry(const struct mb_mmap_entry *e, void *arg)
{
	(void)arg;
	printf("~mmap base=0x%016llx len=0x%016llx type=%u\n", e->base, e->len, e->type);
}

void mbi_print_mmap(const struct mb_info *mbi)
{
	mbi_mmap_walk(mbi, print_entry, NULL);
}

struct range_query {
	uint64_t base, len;
	uint32_t type;
};

static void match_range(const struct mb_mmap_entry *e, void *arg)
{
	struct range_query *q = arg;
	if (q->base >= e->base && q->base + q->len <= e->base + e->len)
		q->type = e->type;
}

uint32_t mbi_range_type(const struct mb_info *mbi, uint64_t base, uint64_t len)
{
	struct range_query q = { base, len, 0 };
	mbi_mmap_walk(mbi, match_range, &q);
	return q.type;
}
