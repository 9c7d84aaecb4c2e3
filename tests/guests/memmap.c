/* The boot information L1 receives: flags, memory sizes and map, command line, modules. */
#include "guest.h"

const char guest_name[] = "memmap";

static void print_flags(const struct mb_info *mbi)
{
	/* Only the fields the hypervisor's loader must provide; loaders may add others (boot device, VBE). */
	printf("flags: mem=%u cmdline=%u mods=%u mmap=%u\n", !!(mbi->flags & MBF_MEM),
	       !!(mbi->flags & MBF_CMDLINE), !!(mbi->flags & MBF_MODS), !!(mbi->flags & MBF_MMAP));
	printf("~flags raw: 0x%08x\n", mbi->flags);
	if (mbi->flags & MBF_LOADER)
		printf("~boot loader: %s\n", (const char *)mbi->boot_loader_name);
}

static void print_sizes(const struct mb_info *mbi)
{
	if (!(mbi->flags & MBF_MEM))
		return;
	printf("mem_lower: %u KiB\n", mbi->mem_lower);
	/* mem_upper is the RAM contiguous from 1 MiB, up to the hypervisor's range at the top of RAM. */
	printf("~mem_upper: %u KiB\n", mbi->mem_upper);
}

/* FNV-1a over a module's bytes: proves the contents arrived, wherever they were placed. */
static uint32_t checksum(const uint8_t *p, uint32_t len)
{
	uint32_t h = 2166136261u;
	for (uint32_t i = 0; i < len; i++)
		h = (h ^ p[i]) * 16777619u;
	return h;
}

static void print_modules(const struct mb_info *mbi)
{
	if (!(mbi->flags & MBF_MODS))
		return;
	printf("modules: %u\n", mbi->mods_count);
	const struct mb_module *m = (const struct mb_module *)mbi->mods_addr;
	for (uint32_t i = 0; i < mbi->mods_count; i++) {
		uint32_t len = m[i].end - m[i].start;
		printf("module %u: size=%u fnv=%08x cmdline=\"%s\"\n", i, len,
		       checksum((const uint8_t *)m[i].start, len), m[i].string ? (const char *)m[i].string : "");
		printf("~module %u: start=0x%08x end=0x%08x\n", i, m[i].start, m[i].end);
		printf("module %u page aligned: %s\n", i, (m[i].start & 0xfff) ? "no" : "yes");
	}
}

/* Facts about the map that must hold both ways, beyond the raw entries that differ. */
static void check_map(const struct mb_info *mbi)
{
	extern char __guest_end[];
	uint32_t kend = ((uint32_t)__guest_end + 0xfff) & ~0xfffu;
	printf("map: guest image 0x100000-0x%x usable: %s\n", kend,
	       mbi_range_type(mbi, 0x100000, kend - 0x100000) == 1 ? "yes" : "no");
	printf("map: low memory 0-0x9f000 usable: %s\n", mbi_range_type(mbi, 0, 0x9f000) == 1 ? "yes" : "no");
	printf("map: 0x200000-0x800000 usable: %s\n",
	       mbi_range_type(mbi, 0x200000, 0x600000) == 1 ? "yes" : "no");
	printf("map: 0x1000000-0x4000000 usable: %s\n",
	       mbi_range_type(mbi, 0x1000000, 0x3000000) == 1 ? "yes" : "no");
	printf("~map: usable total %llu KiB\n", mbi_usable_bytes(mbi) >> 10);
}

int guest_main(const struct mb_info *mbi)
{
	print_flags(mbi);
	print_sizes(mbi);
	printf("cmdline: \"%s\"\n", mbi_cmdline(mbi));
	mbi_print_mmap(mbi);
	check_map(mbi);
	print_modules(mbi);
	return GUEST_OK;
}
