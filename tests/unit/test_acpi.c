/* Host tests for the ACPI walk: RSDP v1/v2, RSDT/XSDT, MADT CPU entries, every kind of malformed table, and pointers the memory map does not allow. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>
#include <sys/mman.h>
#include "hv/acpi.h"

/* One arena holding RSDP, root table and MADT, as firmware would lay them out. */
struct fw {
	uint8_t rsdp[36];
	uint8_t xsdt[36 + 8 * 2];
	uint8_t rsdt[36 + 4 * 2];
	uint8_t madt[2048];
	uint8_t other[276]; /* a FADT, ACPI 6 size */
	size_t madt_len;
};

static struct fw *fw; /* below 4 GiB, as the RSDT's 32-bit entries require */

/* The memory map the walk may read: the arena as ACPI data, as firmware reports it. */
static struct boot_mem_range map_ranges[4];
static struct acpi_mem mem = { map_ranges, 1 };

static void map_only_arena(void)
{
	map_ranges[0] = (struct boot_mem_range){ (uintptr_t)fw, sizeof(*fw), MEM_ACPI_RECLAIM, 0 };
	mem.count = 1;
}

static void fix_checksum(uint8_t *t, size_t len, size_t at)
{
	uint8_t sum = 0;

	t[at] = 0;
	for (size_t i = 0; i < len; i++)
		sum += t[i];
	t[at] = (uint8_t)-sum;
}

static void header(uint8_t *t, const char *sig, uint32_t len)
{
	memcpy(t, sig, 4);
	memcpy(t + 4, &len, 4);
	t[8] = 1;
}

static void madt_begin(void)
{
	uint32_t lapic = 0xfee00000;

	memset(fw->madt, 0, sizeof(fw->madt));
	fw->madt_len = 44;
	memcpy(fw->madt + 36, &lapic, 4);
}

static void madt_add(const uint8_t *e, uint8_t len)
{
	memcpy(fw->madt + fw->madt_len, e, len);
	fw->madt_len += len;
}

static void madt_lapic(uint8_t uid, uint8_t apic, uint32_t flags)
{
	uint8_t e[8] = { 0, 8, uid, apic };

	memcpy(e + 4, &flags, 4);
	madt_add(e, 8);
}

static void madt_x2apic(uint32_t apic, uint32_t flags, uint32_t uid)
{
	uint8_t e[16] = { 9, 16 };

	memcpy(e + 4, &apic, 4);
	memcpy(e + 8, &flags, 4);
	memcpy(e + 12, &uid, 4);
	madt_add(e, 16);
}

/* Seals the tables: lengths, checksums, root pointers; rev 2 uses the XSDT. */
static paddr_t seal(int revision)
{
	uint64_t madt_pa = (uintptr_t)fw->madt, other_pa = (uintptr_t)fw->other;
	uint32_t madt32 = (uint32_t)madt_pa, other32 = (uint32_t)other_pa;
	uint32_t rsdt32 = (uint32_t)(uintptr_t)fw->rsdt, len = 36;
	uint64_t xsdt_pa = (uintptr_t)fw->xsdt;

	header(fw->madt, "APIC", (uint32_t)fw->madt_len);
	fix_checksum(fw->madt, fw->madt_len, 9);
	header(fw->other, "FACP", sizeof(fw->other));
	fix_checksum(fw->other, sizeof(fw->other), 9);
	header(fw->xsdt, "XSDT", sizeof(fw->xsdt));
	memcpy(fw->xsdt + 36, &other_pa, 8);
	memcpy(fw->xsdt + 44, &madt_pa, 8);
	fix_checksum(fw->xsdt, sizeof(fw->xsdt), 9);
	header(fw->rsdt, "RSDT", sizeof(fw->rsdt));
	memcpy(fw->rsdt + 36, &other32, 4);
	memcpy(fw->rsdt + 40, &madt32, 4);
	fix_checksum(fw->rsdt, sizeof(fw->rsdt), 9);
	memset(fw->rsdp, 0, sizeof(fw->rsdp));
	memcpy(fw->rsdp, "RSD PTR ", 8);
	fw->rsdp[15] = (uint8_t)revision;
	memcpy(fw->rsdp + 16, &rsdt32, 4);
	if (revision >= 2) {
		len = 36;
		memcpy(fw->rsdp + 20, &len, 4);
		memcpy(fw->rsdp + 24, &xsdt_pa, 8);
	}
	/* The ACPI 1.0 checksum first: the extended one covers it. */
	fix_checksum(fw->rsdp, 20, 8);
	if (revision >= 2)
		fix_checksum(fw->rsdp, 36, 32);
	return (uintptr_t)fw->rsdp;
}

static int setup(void **state)
{
	(void)state;
	if (!fw) {
		fw = mmap(NULL, sizeof(*fw), PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_32BIT, -1, 0);
		assert_true(fw != MAP_FAILED);
	}
	memset(fw, 0, sizeof(*fw));
	madt_begin();
	map_only_arena();
	return 0;
}

static void test_two_cpus_rsdt_and_xsdt(void **state)
{
	struct acpi_cpus cpus;

	(void)state;
	madt_lapic(0, 0, 1);
	madt_lapic(1, 1, 1);
	for (int rev = 0; rev <= 2; rev += 2) {
		assert_int_equal(acpi_find_cpus(&mem, seal(rev), &cpus), ACPI_OK);
		assert_int_equal(cpus.count, 2);
		assert_int_equal(cpus.cpu[0].apic_id, 0);
		assert_int_equal(cpus.cpu[1].apic_id, 1);
		assert_int_equal(cpus.lapic_base, 0xfee00000);
	}
}

static void test_disabled_online_capable_and_duplicates(void **state)
{
	struct acpi_cpus cpus;

	(void)state;
	madt_lapic(0, 0, 1);
	madt_lapic(1, 2, 0);          /* not usable: skipped */
	madt_lapic(2, 4, 2);          /* online capable: listed */
	madt_x2apic(0, 1, 0);         /* the BSP again, as x2APIC: not twice */
	madt_x2apic(0x100, 1, 7);     /* beyond 8-bit APIC IDs */
	assert_int_equal(acpi_find_cpus(&mem, seal(2), &cpus), ACPI_OK);
	assert_int_equal(cpus.count, 3);
	assert_int_equal(cpus.skipped_disabled, 1);
	assert_int_equal(cpus.cpu[1].apic_id, 4);
	assert_int_equal(cpus.cpu[2].apic_id, 0x100);
	assert_true(cpus.cpu[2].x2apic);
	assert_int_equal(cpus.cpu[2].acpi_uid, 7);
}

static void test_lapic_override(void **state)
{
	struct acpi_cpus cpus;
	uint8_t e[12] = { 5, 12 };
	uint64_t base = 0x1fee00000ULL;

	(void)state;
	memcpy(e + 4, &base, 8);
	madt_lapic(0, 0, 1);
	madt_add(e, 12);
	assert_int_equal(acpi_find_cpus(&mem, seal(2), &cpus), ACPI_OK);
	assert_int_equal(cpus.lapic_base, base);
}

static void test_too_many_cpus_are_counted_not_overrun(void **state)
{
	struct acpi_cpus cpus;

	(void)state;
	for (uint32_t i = 0; i < ACPI_MAX_CPUS + 3; i++)
		madt_x2apic(i, 1, i);
	assert_int_equal(acpi_find_cpus(&mem, seal(2), &cpus), ACPI_OK);
	assert_int_equal(cpus.count, ACPI_MAX_CPUS);
	assert_int_equal(cpus.dropped, 3);
}

static void test_bad_checksums_and_signatures(void **state)
{
	struct acpi_cpus cpus;
	paddr_t rsdp;

	(void)state;
	madt_lapic(0, 0, 1);
	assert_int_equal(acpi_find_cpus(&mem, 0, &cpus), ACPI_ERR_NO_RSDP);
	rsdp = seal(0);
	fw->rsdp[8] ^= 1;
	assert_int_equal(acpi_find_cpus(&mem, rsdp, &cpus), ACPI_ERR_BAD_RSDP);
	rsdp = seal(0);
	fw->rsdt[9] ^= 1;
	assert_int_equal(acpi_find_cpus(&mem, rsdp, &cpus), ACPI_ERR_BAD_ROOT);
	rsdp = seal(0);
	fw->madt[9] ^= 1;
	assert_int_equal(acpi_find_cpus(&mem, rsdp, &cpus), ACPI_ERR_NO_MADT);
	/* A broken XSDT falls back to the RSDT (ACPI 5.2.5.3 keeps both). */
	rsdp = seal(2);
	fw->xsdt[9] ^= 1;
	assert_int_equal(acpi_find_cpus(&mem, rsdp, &cpus), ACPI_OK);
}

static void test_malformed_madt_entries(void **state)
{
	struct acpi_cpus cpus;
	uint8_t zero_len[2] = { 0, 0 };
	uint8_t short_lapic[4] = { 0, 4, 0, 0 };

	(void)state;
	madt_lapic(0, 0, 1);
	madt_add(zero_len, 2);
	assert_int_equal(acpi_find_cpus(&mem, seal(2), &cpus), ACPI_ERR_BAD_MADT);
	madt_begin();
	madt_add(short_lapic, 4);
	assert_int_equal(acpi_find_cpus(&mem, seal(2), &cpus), ACPI_ERR_BAD_MADT);
	madt_begin();
	madt_lapic(0, 0, 1);
	fw->madt_len += 3; /* an entry header running past the table's end */
	fw->madt[fw->madt_len - 3] = 0;
	fw->madt[fw->madt_len - 2] = 8;
	assert_int_equal(acpi_find_cpus(&mem, seal(2), &cpus), ACPI_ERR_BAD_MADT);
	madt_begin();
	assert_int_equal(acpi_find_cpus(&mem, seal(2), &cpus), ACPI_ERR_BAD_MADT); /* no CPU at all */
}

static void test_pm1a_control_port(void **state)
{
	uint32_t port32 = 0x404;
	uint64_t xport = 0xb004;

	(void)state;
	madt_lapic(0, 0, 1);
	memcpy(fw->other + 64, &port32, 4);
	assert_int_equal(acpi_pm1a_control_port(&mem, seal(2)), 0x404);
	/* The X_ block in system I/O space wins (ACPI 5.2.9). */
	fw->other[172] = 1;
	memcpy(fw->other + 176, &xport, 8);
	assert_int_equal(acpi_pm1a_control_port(&mem, seal(2)), 0xb004);
	/* ...but not when it is in memory space. */
	fw->other[172] = 0;
	assert_int_equal(acpi_pm1a_control_port(&mem, seal(2)), 0x404);
	/* No FADT at all (bad checksum). */
	seal(2);
	fw->other[9] ^= 1;
	assert_int_equal(acpi_pm1a_control_port(&mem, (uintptr_t)fw->rsdp), 0);
}

static void xsdt_entry(int i, uint64_t pa)
{
	memcpy(fw->xsdt + 36 + 8 * i, &pa, 8);
	fix_checksum(fw->xsdt, sizeof(fw->xsdt), 9);
}

static void rsdp_xsdt(uint64_t pa)
{
	memcpy(fw->rsdp + 24, &pa, 8);
	fix_checksum(fw->rsdp, 36, 32);
}

#define UNMAPPED 0x8000000000ULL /* 512 GiB: no RAM there; dereferencing it would fault */

static void test_pointers_outside_the_map_are_not_followed(void **state)
{
	struct acpi_cpus cpus;
	paddr_t rsdp;

	(void)state;
	madt_lapic(0, 0, 1);
	/* An XSDT entry pointing nowhere: skipped, not read. */
	rsdp = seal(2);
	xsdt_entry(0, UNMAPPED);
	assert_int_equal(acpi_pm1a_control_port(&mem, rsdp), 0);
	assert_int_equal(acpi_find_cpus(&mem, rsdp, &cpus), ACPI_OK);
	xsdt_entry(1, UNMAPPED + 0x1000);
	assert_int_equal(acpi_find_cpus(&mem, rsdp, &cpus), ACPI_ERR_NO_MADT);
	/* An RSDP (a copy in RAM L1 may have overwritten) whose XSDT points nowhere: the RSDT is used. */
	rsdp = seal(2);
	rsdp_xsdt(UNMAPPED);
	assert_int_equal(acpi_find_cpus(&mem, rsdp, &cpus), ACPI_OK);
	assert_int_equal(cpus.count, 1);
	/* ...and one whose ACPI 2.0 length runs past the map: its v2 part is not read either. */
	rsdp = seal(2);
	memset(fw->rsdp + 20, 0xff, 4);
	fix_checksum(fw->rsdp, 36, 32);
	assert_int_equal(acpi_find_cpus(&mem, rsdp, &cpus), ACPI_OK);
	/* An RSDP address outside the map: refused before its signature is read. */
	assert_int_equal(acpi_find_cpus(&mem, UNMAPPED, &cpus), ACPI_ERR_BAD_RSDP);
}

static void test_table_running_past_its_range(void **state)
{
	struct acpi_cpus cpus;
	paddr_t rsdp;

	(void)state;
	madt_lapic(0, 0, 1);
	rsdp = seal(2);
	/* The map ends inside the MADT: its header is readable, its body is not. */
	map_ranges[0].len = (uint64_t)(fw->madt - (uint8_t *)fw) + 40;
	assert_int_equal(acpi_find_cpus(&mem, rsdp, &cpus), ACPI_ERR_NO_MADT);
	/* A MADT claiming 1 MiB (the walk's bound) where the map holds far less: not read. */
	map_only_arena();
	fw->madt[4] = 0, fw->madt[5] = 0, fw->madt[6] = 0x10, fw->madt[7] = 0;
	assert_int_equal(acpi_find_cpus(&mem, rsdp, &cpus), ACPI_ERR_NO_MADT);
}

static void test_mem_allows(void **state)
{
	struct boot_mem_range r[] = {
		{ MiB(1), MiB(7), MEM_USABLE, 0 },
		{ MiB(8), MiB(8), MEM_ACPI_NVS, 0 },     /* adjacent: one stretch with the first */
		{ MiB(20), MiB(1), MEM_BAD, 0 },
		{ GiB(3), MiB(16), MEM_RESERVED, 0 },
		{ GiB(5), MiB(16), MEM_RESERVED, 0 },   /* reserved above 4 GiB: not mapped */
		{ GiB(6), MiB(16), MEM_ACPI_RECLAIM, 0 },
	};
	struct acpi_mem m = { r, 6 };

	(void)state;
	assert_true(acpi_mem_allows(&m, 0xe0000, 36));           /* BIOS area, whatever the map */
	assert_true(acpi_mem_allows(&m, MiB(1) - 16, 32));       /* across 1 MiB into RAM */
	assert_true(acpi_mem_allows(&m, MiB(8) - 8, 16));        /* across two ranges */
	assert_false(acpi_mem_allows(&m, MiB(16) - 8, 16));      /* into a hole */
	assert_false(acpi_mem_allows(&m, MiB(20), 36));          /* bad memory */
	assert_true(acpi_mem_allows(&m, GiB(3), 36));
	assert_false(acpi_mem_allows(&m, GiB(5), 36));
	assert_true(acpi_mem_allows(&m, GiB(6), 36));
	assert_false(acpi_mem_allows(&m, UINT64_MAX - 8, 36));   /* wraps */
	assert_false(acpi_mem_allows(&m, MiB(2), 0));
}

static void test_read_facts(void **state)
{
	struct acpi_facts f;
	uint32_t port32 = 0x604;

	(void)state;
	madt_lapic(0, 0, 1);
	madt_lapic(1, 3, 1);
	memcpy(fw->other + 64, &port32, 4);
	acpi_read_facts(&mem, seal(2), &f);
	assert_int_equal(f.cpus_err, ACPI_OK);
	assert_int_equal(f.cpus.count, 2);
	assert_int_equal(f.cpus.cpu[1].apic_id, 3);
	assert_int_equal(f.pm1a_cnt_port, 0x604);
	acpi_read_facts(&mem, 0, &f);
	assert_int_equal(f.cpus_err, ACPI_ERR_NO_RSDP);
	assert_int_equal(f.pm1a_cnt_port, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(test_two_cpus_rsdt_and_xsdt, setup),
		cmocka_unit_test_setup(test_disabled_online_capable_and_duplicates, setup),
		cmocka_unit_test_setup(test_lapic_override, setup),
		cmocka_unit_test_setup(test_too_many_cpus_are_counted_not_overrun, setup),
		cmocka_unit_test_setup(test_bad_checksums_and_signatures, setup),
		cmocka_unit_test_setup(test_malformed_madt_entries, setup),
		cmocka_unit_test_setup(test_pm1a_control_port, setup),
		cmocka_unit_test_setup(test_pointers_outside_the_map_are_not_followed, setup),
		cmocka_unit_test_setup(test_table_running_past_its_range, setup),
		cmocka_unit_test_setup(test_mem_allows, setup),
		cmocka_unit_test_setup(test_read_facts, setup),
	};

	return cmocka_run_group_tests_name("acpi", tests, NULL, NULL);
}
