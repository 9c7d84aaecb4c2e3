/* Walks ACPI tables from the RSDP to the MADT and FADT; validates every pointer (memory map), signature, length and checksum before use. */
#include "hv/acpi.h"
#include "hv/mm.h"
#include "hv/string.h"
#ifndef HV_HOST_TEST
#include "hv/console.h"
#endif

struct acpi_rsdp {
	char signature[8];
	uint8_t checksum;
	char oem_id[6];
	uint8_t revision;
	uint32_t rsdt_address;
	uint32_t length;      /* revision >= 2 from here on */
	uint64_t xsdt_address;
	uint8_t ext_checksum;
	uint8_t reserved[3];
} __packed;

struct acpi_header {
	char signature[4];
	uint32_t length;
	uint8_t revision;
	uint8_t checksum;
	char oem_id[6];
	char oem_table_id[8];
	uint32_t oem_revision;
	uint32_t creator_id;
	uint32_t creator_revision;
} __packed;

struct acpi_madt {
	struct acpi_header h;
	uint32_t lapic_address;
	uint32_t flags;
} __packed;

/* MADT interrupt controller structure types, ACPI 6.5 Table 5.21. */
#define MADT_LOCAL_APIC          0
#define MADT_LAPIC_ADDR_OVERRIDE 5
#define MADT_LOCAL_X2APIC        9
#define MADT_CPU_ENABLED         BIT(0)
#define MADT_CPU_ONLINE_CAPABLE  BIT(1)
#define ACPI_TABLE_MAX_LEN       MiB(1) /* sanity bound: no firmware table is that large */

static bool checksum_ok(const void *p, size_t len)
{
	const uint8_t *b = p;
	uint8_t sum = 0;

	for (size_t i = 0; i < len; i++)
		sum += b[i];
	return sum == 0;
}

#define ACPI_LOW_MEM MiB(1) /* the EBDA and BIOS ROM areas, where ACPI 5.2.5.1 puts the RSDP */

static bool type_allows(uint32_t type, uint64_t end)
{
	switch (type) {
	case MEM_USABLE:
	case MEM_ACPI_RECLAIM:
	case MEM_ACPI_NVS:
		return true;  /* RAM: the hypervisor maps all of it (paging.c) */
	case MEM_RESERVED:
		return end <= GiB(4); /* only the low 4 GiB are mapped whatever the map says */
	default:
		return false; /* bad memory */
	}
}

bool acpi_mem_allows(const struct acpi_mem *mem, paddr_t pa, uint64_t len)
{
	uint64_t end = pa + len, covered = MAX(pa, ACPI_LOW_MEM);

	if (!len || end < pa)
		return false;
	/* The ranges are sorted: walk them, each one continuing where the last one ended. */
	for (uint32_t i = 0; i < mem->count && covered < end; i++) {
		const struct boot_mem_range *r = &mem->r[i];

		if (r->base + r->len <= covered)
			continue;
		if (r->base > covered || !type_allows(r->type, MIN(end, r->base + r->len)))
			return false;
		covered = r->base + r->len;
	}
	return covered >= end;
}

/* A table whose header and then whole length lie where the map allows, with the right signature and checksum. */
static const struct acpi_header *table_at(const struct acpi_mem *mem, paddr_t pa, const char sig[4])
{
	const struct acpi_header *h = phys_to_virt(pa);

	if (!pa || !acpi_mem_allows(mem, pa, sizeof(*h)))
		return NULL;
	if (memcmp(h->signature, sig, 4) || h->length < sizeof(*h) || h->length > ACPI_TABLE_MAX_LEN ||
	    !acpi_mem_allows(mem, pa, h->length) || !checksum_ok(h, h->length))
		return NULL;
	return h;
}

/* Entries of the XSDT are 64-bit, of the RSDT 32-bit (ACPI 5.2.7, 5.2.8); entries may be unaligned. */
static const void *search_root(const struct acpi_mem *mem, const struct acpi_header *root, size_t entry_size,
			       const char sig[4])
{
	size_t n = (root->length - sizeof(*root)) / entry_size;
	const uint8_t *entries = (const uint8_t *)(root + 1);

	for (size_t i = 0; i < n; i++) {
		uint64_t pa = 0;
		const struct acpi_header *t;

		memcpy(&pa, entries + i * entry_size, entry_size);
		t = table_at(mem, pa, sig);
		if (t)
			return t;
	}
	return NULL;
}

/* The RSDP's ACPI 2.0 part (length, XSDT) counts only if it lies where the map allows and sums to zero. */
static bool rsdp_v2_ok(const struct acpi_mem *mem, paddr_t rsdp_pa, const struct acpi_rsdp *rsdp)
{
	return rsdp->revision >= 2 && rsdp->length >= sizeof(*rsdp) && rsdp->length <= ACPI_TABLE_MAX_LEN &&
	       acpi_mem_allows(mem, rsdp_pa, rsdp->length) && checksum_ok(rsdp, rsdp->length);
}

const void *acpi_find_table(const struct acpi_mem *mem, paddr_t rsdp_pa, const char sig[4], enum acpi_error *err)
{
	const struct acpi_rsdp *rsdp = phys_to_virt(rsdp_pa);
	const struct acpi_header *root;
	const void *t;

	*err = ACPI_ERR_NO_RSDP;
	if (!rsdp_pa)
		return NULL;
	*err = ACPI_ERR_BAD_RSDP;
	if (!acpi_mem_allows(mem, rsdp_pa, 20) || memcmp(rsdp->signature, "RSD PTR ", 8) || !checksum_ok(rsdp, 20))
		return NULL;
	*err = ACPI_ERR_BAD_ROOT;
	if (rsdp_v2_ok(mem, rsdp_pa, rsdp) && (root = table_at(mem, rsdp->xsdt_address, "XSDT")))
		t = search_root(mem, root, 8, sig);
	else if ((root = table_at(mem, rsdp->rsdt_address, "RSDT")))
		t = search_root(mem, root, 4, sig);
	else
		return NULL;
	*err = t ? ACPI_OK : ACPI_ERR_NO_MADT;
	return t;
}

static void add_cpu(struct acpi_cpus *out, uint32_t apic_id, uint32_t uid, uint32_t flags, bool x2apic)
{
	if (!(flags & (MADT_CPU_ENABLED | MADT_CPU_ONLINE_CAPABLE))) {
		out->skipped_disabled++;
		return;
	}
	for (uint32_t i = 0; i < out->count; i++)
		if (out->cpu[i].apic_id == apic_id)
			return; /* firmware may list a CPU as both xAPIC and x2APIC */
	if (out->count == ACPI_MAX_CPUS) {
		out->dropped++;
		return;
	}
	out->cpu[out->count++] = (struct acpi_cpu){ .apic_id = apic_id, .acpi_uid = uid, .x2apic = x2apic };
}

static bool parse_madt_entry(struct acpi_cpus *out, const uint8_t *e, uint8_t len)
{
	uint32_t u32a, u32b, u32c;

	switch (e[0]) {
	case MADT_LOCAL_APIC:
		if (len < 8)
			return false;
		memcpy(&u32a, e + 4, 4);
		add_cpu(out, e[3], e[2], u32a, false);
		break;
	case MADT_LOCAL_X2APIC:
		if (len < 16)
			return false;
		memcpy(&u32a, e + 4, 4);
		memcpy(&u32b, e + 8, 4);
		memcpy(&u32c, e + 12, 4);
		add_cpu(out, u32a, u32c, u32b, true);
		break;
	case MADT_LAPIC_ADDR_OVERRIDE:
		if (len < 12)
			return false;
		memcpy(&out->lapic_base, e + 4, 8);
		break;
	default:
		break;
	}
	return true;
}

enum acpi_error acpi_find_cpus(const struct acpi_mem *mem, paddr_t rsdp_pa, struct acpi_cpus *out)
{
	enum acpi_error err;
	const struct acpi_madt *madt = acpi_find_table(mem, rsdp_pa, "APIC", &err);
	const uint8_t *p, *end;

	memset(out, 0, sizeof(*out));
	if (!madt)
		return err;
	if (madt->h.length < sizeof(*madt))
		return ACPI_ERR_BAD_MADT;
	out->lapic_base = madt->lapic_address;
	p = (const uint8_t *)(madt + 1);
	end = (const uint8_t *)madt + madt->h.length;
	while (p + 2 <= end) {
		uint8_t len = p[1];

		if (len < 2 || p + len > end || !parse_madt_entry(out, p, len))
			return ACPI_ERR_BAD_MADT;
		p += len;
	}
	return out->count ? ACPI_OK : ACPI_ERR_BAD_MADT;
}

/* FADT offsets (ACPI 6.5 Table 5.9) and the Generic Address Structure (5.2.3.2). */
#define FADT_PM1A_CNT_BLK   64
#define FADT_X_PM1A_CNT_BLK 172
#define GAS_SYSTEM_IO       1

uint16_t acpi_pm1a_control_port(const struct acpi_mem *mem, paddr_t rsdp_pa)
{
	enum acpi_error err;
	const struct acpi_header *fadt = acpi_find_table(mem, rsdp_pa, "FACP", &err);
	const uint8_t *f = (const uint8_t *)fadt;
	uint32_t port32 = 0;
	uint64_t xaddr = 0;

	if (!fadt || fadt->length < FADT_PM1A_CNT_BLK + 4)
		return 0;
	memcpy(&port32, f + FADT_PM1A_CNT_BLK, 4);
	/* The X_ field, where present and in I/O space, is the one ACPI 2.0+ firmware means. */
	if (fadt->length >= FADT_X_PM1A_CNT_BLK + 12 && f[FADT_X_PM1A_CNT_BLK] == GAS_SYSTEM_IO) {
		memcpy(&xaddr, f + FADT_X_PM1A_CNT_BLK + 4, 8);
		if (xaddr && xaddr <= 0xffff)
			return (uint16_t)xaddr;
	}
	return port32 <= 0xffff ? (uint16_t)port32 : 0;
}

void acpi_read_facts(const struct acpi_mem *mem, paddr_t rsdp_pa, struct acpi_facts *out)
{
	memset(out, 0, sizeof(*out));
	out->rsdp = rsdp_pa;
	out->cpus_err = acpi_find_cpus(mem, rsdp_pa, &out->cpus);
	out->pm1a_cnt_port = acpi_pm1a_control_port(mem, rsdp_pa);
}

const char *acpi_strerror(enum acpi_error err)
{
	switch (err) {
	case ACPI_OK: return "ok";
	case ACPI_ERR_NO_RSDP: return "no ACPI RSDP was found";
	case ACPI_ERR_BAD_RSDP: return "the RSDP's signature or checksum is wrong";
	case ACPI_ERR_BAD_ROOT: return "neither the XSDT nor the RSDT is valid";
	case ACPI_ERR_NO_MADT: return "there is no valid MADT (APIC table)";
	case ACPI_ERR_BAD_MADT: return "the MADT is malformed or lists no usable CPU";
	}
	return "unknown ACPI error";
}

#ifndef HV_HOST_TEST
static paddr_t scan_for_rsdp(paddr_t start, paddr_t end)
{
	for (paddr_t pa = start; pa + 20 <= end; pa += 16) {
		const struct acpi_rsdp *r = phys_to_virt(pa);

		if (!memcmp(r->signature, "RSD PTR ", 8) && checksum_ok(r, 20))
			return pa;
	}
	return 0;
}

/* ACPI 5.2.5.1: the first KiB of the EBDA, then the BIOS ROM area. */
paddr_t acpi_scan_bios_rsdp(void)
{
	paddr_t bda_ebda_seg = 0x40e, ebda, pa = 0;

	/* Hide the constant address from GCC, which takes low pointers for NULL-derived ones. */
	__asm__("" : "+r"(bda_ebda_seg));
	ebda = (paddr_t)(*(const volatile uint16_t *)phys_to_virt(bda_ebda_seg)) << 4;

	if (ebda >= 0x80000 && ebda < 0xa0000)
		pa = scan_for_rsdp(ebda, ebda + 1024);
	return pa ? pa : scan_for_rsdp(0xe0000, 0x100000);
}

struct acpi_facts acpi_boot_facts;
struct acpi_rsdp_copy acpi_boot_rsdp;

/* A copy of a checksummed RSDP (ACPI 6.5 5.2.5.3): 20 bytes of revision 0, 36 of revision 2 and later. */
static void copy_rsdp(const struct acpi_mem *mem, paddr_t pa)
{
	const struct acpi_rsdp *r = phys_to_virt(pa);

	if (!pa || !acpi_mem_allows(mem, pa, 20) || memcmp(r->signature, "RSD PTR ", 8) || !checksum_ok(r, 20))
		return;
	acpi_boot_rsdp.len = rsdp_v2_ok(mem, pa, r) ? 36 : 20;
	memcpy(acpi_boot_rsdp.bytes, r, acpi_boot_rsdp.len);
}

void acpi_init(const struct boot_info *bi)
{
	struct acpi_mem mem = { bi->mmap, bi->mmap_count };
	paddr_t rsdp = bi->acpi_rsdp ? bi->acpi_rsdp : acpi_scan_bios_rsdp();

	copy_rsdp(&mem, rsdp);
	acpi_read_facts(&mem, rsdp, &acpi_boot_facts);
	pr_info("hv: ACPI: RSDP %#llx, %s, PM1a control port %#x\n", (unsigned long long)rsdp,
		acpi_boot_facts.cpus_err == ACPI_OK ? "MADT read" : acpi_strerror(acpi_boot_facts.cpus_err),
		acpi_boot_facts.pm1a_cnt_port);
}
#endif
