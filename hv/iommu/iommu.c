/* VT-d bring-up before L1 starts: iommu= policy, DMAR discovery, tables, every unit enabled, the table hidden (kernel). */
#include "hv/iommu/iommu.h"
#include "hv/iommu/dmar.h"
#include "hv/iommu/vtd.h"
#include "hv/iommu/vtd_regs.h"
#include "hv/iommu/vtd_tables.h"
#include "hv/acpi.h"
#include "hv/cmdline.h"
#include "hv/console.h"
#include "hv/mm.h"
#include "hv/panic.h"
#include "hv/spinlock.h"
#include "hv/string.h"

enum iommu_mode { IOMMU_OFF, IOMMU_ON, IOMMU_REQUIRED };
static const char *const mode_names[] = { "off", "on", "required" };

#define IOMMU_DOMAIN 1 /* one identity domain for every device; 0 is reserved when CAP.CM is set */

static struct dmar_info dmar;
static struct vtd_unit units[DMAR_MAX_UNITS];
static unsigned int units_on;
static spinlock_t fault_lock = SPINLOCK_INIT;
bool iommu_polling;
static uint32_t exit_countdown[MAX_CPUS];

static enum iommu_mode read_mode(const char *cmdline)
{
	int m = cmdline_get_choice(cmdline, "iommu", mode_names, (int)ARRAY_SIZE(mode_names));

	if (m == CMDLINE_BAD_CHOICE)
		printk("hv: iommu= not understood (on, off, required); using on\n");
	return m < 0 ? IOMMU_ON : (enum iommu_mode)m;
}

/* The one line that says DMA is unprotected, or the refusal under iommu=required. */
static void unprotected(enum iommu_mode mode, const char *why)
{
	if (mode == IOMMU_REQUIRED) {
		printk("hv: iommu=required, but %s: refusing to start without DMA remapping\n", why);
		machine_exit(HV_EXIT_NO_IOMMU);
	}
	printk("hv: DMA is unprotected: %s; L1's devices can read and write the hypervisor's memory\n", why);
}

static void print_scopes(const char *what, uint16_t first, uint16_t count)
{
	for (uint16_t i = first; i < first + count; i++) {
		const struct dmar_scope *s = &dmar.scope[i];
		char path[6 * DMAR_MAX_PATH + 1];
		size_t n = 0;

		for (unsigned int h = 0; h < s->path_len; h++)
			n += (size_t)hv_snprintf(path + n, sizeof(path) - n, "%s%02x.%x", h ? "/" : "", s->dev[h], s->fn[h]);
		pr_info("hv: iommu:   %s scope: %s id %u, bus %02x, path %s\n", what, dmar_scope_type_name(s->type),
			s->enum_id, s->start_bus, path);
	}
}

static void print_dmar(void)
{
	pr_info("hv: iommu: DMAR: %u remapping unit(s), %u reserved region(s), host address width %u%s\n",
		dmar.unit_count, dmar.rmrr_count, dmar.haw,
		dmar.flags & DMAR_FLAG_INTR_REMAP ? ", interrupt remapping offered" : "");
	for (uint32_t i = 0; i < dmar.unit_count; i++) {
		const struct dmar_unit *u = &dmar.unit[i];

		pr_info("hv: iommu: unit %u: registers [%#llx-%#llx), segment %u%s\n", i, (unsigned long long)u->base,
			(unsigned long long)(u->base + u->size), u->segment, u->include_all ? ", every other device" : "");
		print_scopes("unit", u->first_scope, u->scope_count);
	}
	for (uint32_t i = 0; i < dmar.rmrr_count; i++) {
		pr_info("hv: iommu: RMRR [%#llx-%#llx), segment %u\n", (unsigned long long)dmar.rmrr[i].base,
			(unsigned long long)dmar.rmrr[i].end, dmar.rmrr[i].segment);
		print_scopes("RMRR", dmar.rmrr[i].first_scope, dmar.rmrr[i].scope_count);
	}
}

/* Finds and validates the table; false (with why filled) when there is nothing to program. */
static bool find_dmar(const struct boot_info *bi, uint8_t **table, char *why, size_t size)
{
	/* The RSDP acpi_init() found; every table pointer is checked against the boot memory map. */
	const struct acpi_mem mem = { bi->mmap, bi->mmap_count };
	enum acpi_error aerr;
	const uint8_t *t = acpi_boot_facts.rsdp ? acpi_find_table(&mem, acpi_boot_facts.rsdp, "DMAR", &aerr) : NULL;
	enum dmar_error err;
	uint32_t len;

	if (!t) {
		hv_snprintf(why, size, "there is no ACPI DMAR table (no DMA remapping hardware, or VT-d off in the firmware)");
		return false;
	}
	memcpy(&len, t + 4, 4); /* acpi_find_table checked the length and checksum */
	err = dmar_parse(t, len, &dmar);
	if (err) {
		hv_snprintf(why, size, "the ACPI DMAR table is malformed at offset %u: %s", dmar.err_offset,
			    dmar_strerror(err));
		return false;
	}
	*table = (uint8_t *)t;
	return true;
}

/* Reads every unit's capabilities; false (with why filled) if one does not answer. */
static bool probe_units(char *why, size_t size)
{
	for (uint32_t i = 0; i < dmar.unit_count; i++) {
		if (vtd_probe(&units[i], dmar.unit[i].base, i)) {
			hv_snprintf(why, size, "remapping unit %u at %#llx is not usable", i,
				    (unsigned long long)dmar.unit[i].base);
			return false;
		}
	}
	return true;
}

/* Takes the units' registers from L1: EPT and the DMA tables both leave them out (mm_hv_ranges()). */
static bool claim_registers(char *why, size_t size)
{
	for (uint32_t i = 0; i < dmar.unit_count; i++) {
		if (mm_claim_for_hv(units[i].base, MAX(dmar.unit[i].size, (uint64_t)units[i].reg_span))) {
			hv_snprintf(why, size, "no room to record unit %u's registers in the memory maps", i);
			return false;
		}
	}
	return true;
}

/* [0, limit): all of the machine's map, the RMRRs and 4 GiB of MMIO, within every unit's address width. */
static uint64_t dma_limit(void)
{
	const struct mem_map *m = mm_guest_map();
	uint64_t top = GiB(4), cap = GiB(1024);

	for (uint32_t i = 0; i < m->count; i++)
		top = MAX(top, m->r[i].base + m->r[i].len);
	for (uint32_t i = 0; i < dmar.rmrr_count; i++)
		top = MAX(top, dmar.rmrr[i].end);
	for (uint32_t i = 0; i < dmar.unit_count; i++)
		cap = MIN(cap, 1ULL << MIN(VTD_CAP_MGAW(units[i].cap), 48u));
	return MIN(ALIGN_UP(top, GiB(1)), ALIGN_DOWN(cap, GiB(1)));
}

/* RMRRs stay mapped (identity) for their devices; one inside the hypervisor's memory cannot be. */
static void check_rmrrs(const struct mem_map *holes, uint64_t limit)
{
	for (uint32_t i = 0; i < dmar.rmrr_count; i++) {
		const struct dmar_rmrr *r = &dmar.rmrr[i];

		if (iopt_range_hits_hole(holes, r->base, r->end) || r->end > limit)
			printk("hv: iommu: RMRR [%#llx-%#llx) overlaps the hypervisor's memory or lies beyond the address width: left unmapped, its devices' DMA there faults\n",
			       (unsigned long long)r->base, (unsigned long long)r->end);
	}
}

/* One identity domain for `levels`-deep tables: second-level tables, a context table, a root table. */
static paddr_t build_domain(unsigned int levels, uint64_t limit, bool allow_2m, bool allow_1g)
{
	uint64_t reach = 1ULL << (PAGE_SHIFT + 9 * levels);
	struct iopt_layout l = { mm_hv_ranges(), MIN(limit, reach), levels, allow_2m, allow_1g };
	paddr_t top, ctx, root;

	if (iopt_build_identity(&l, frame_alloc, &top) < 0 || !(ctx = frame_alloc()) || !(root = frame_alloc()))
		return 0;
	vtd_fill_context_table(phys_to_virt(ctx), top, levels, IOMMU_DOMAIN);
	vtd_fill_root_table(phys_to_virt(root), ctx);
	pr_info("hv: iommu: %u-level tables map [0-%#llx) for every device, the hypervisor's memory left out\n", levels,
		(unsigned long long)l.limit);
	return root;
}

/* Large pages only where every unit walks them (CAP.SLLPS). */
static void common_large_pages(bool *allow_2m, bool *allow_1g)
{
	*allow_2m = *allow_1g = true;
	for (uint32_t i = 0; i < dmar.unit_count; i++) {
		*allow_2m = *allow_2m && (units[i].cap & VTD_CAP_SLLPS_2M);
		*allow_1g = *allow_1g && (units[i].cap & VTD_CAP_SLLPS_1G);
	}
}

static bool setup_units(uint64_t limit, char *why, size_t size)
{
	paddr_t root_for[5] = { 0 }, irt = frame_alloc();
	bool allow_2m, allow_1g;

	common_large_pages(&allow_2m, &allow_1g);
	for (uint32_t i = 0; i < dmar.unit_count; i++) {
		unsigned int levels = vtd_pick_levels(units[i].cap, limit);
		paddr_t queue = frame_alloc();

		if (!levels) {
			hv_snprintf(why, size, "unit %u offers neither 3- nor 4-level tables (CAP %#llx)", i,
				    (unsigned long long)units[i].cap);
			return false;
		}
		if (!root_for[levels])
			root_for[levels] = build_domain(levels, limit, allow_2m, allow_1g);
		if (!root_for[levels] || !irt || !queue) {
			hv_snprintf(why, size, "out of hypervisor frames for the remapping tables (boot with a larger hvmem=)");
			return false;
		}
		if (vtd_enable(&units[i], root_for[levels], irt, queue)) {
			hv_snprintf(why, size, "remapping unit %u at %#llx could not be enabled", i,
				    (unsigned long long)units[i].base);
			return false;
		}
		units_on++;
	}
	return true;
}

static void print_summary(void)
{
	unsigned int ir = 0;

	for (unsigned int i = 0; i < units_on; i++)
		ir += units[i].intremap;
	printk("hv: iommu: DMA remapping on in %u unit(s): L1's devices reach L1's memory only; interrupt remapping on in %u (remappable-format requests blocked, compatibility format passed to L1); the DMAR table is hidden from L1\n",
	       units_on, ir);
}

void iommu_init(const struct boot_info *bi)
{
	enum iommu_mode mode = read_mode(bi->cmdline);
	char why[192];
	uint8_t *table;

	if (mode == IOMMU_OFF) {
		unprotected(mode, "iommu=off was given");
		return;
	}
	if (!find_dmar(bi, &table, why, sizeof(why))) {
		unprotected(mode, why);
		return;
	}
	print_dmar();
	if (!probe_units(why, sizeof(why))) {
		unprotected(mode, why);
		return;
	}
	/* From here L1 must not drive the units, whether or not all of them come up. */
	if (claim_registers(why, sizeof(why)) && setup_units(dma_limit(), why, sizeof(why))) {
		check_rmrrs(mm_hv_ranges(), dma_limit());
		print_summary();
	} else {
		unprotected(mode, why);
	}
	iommu_polling = units_on > 0; /* the units that did come up still report their faults */
	dmar_hide(table);
}

unsigned int iommu_report_faults(void)
{
	unsigned int n = 0;

	spin_lock(&fault_lock);
	for (unsigned int i = 0; i < units_on; i++)
		n += vtd_report_faults(&units[i]);
	spin_unlock(&fault_lock);
	return n;
}

__attribute__((cold, noinline)) void iommu_poll_tick(void)
{
	uint32_t cpu_id = this_cpu()->cpu_id;

	if (cpu_id >= MAX_CPUS || ++exit_countdown[cpu_id] < IOMMU_POLL_EVERY)
		return;
	exit_countdown[cpu_id] = 0;
	iommu_report_faults();
}
