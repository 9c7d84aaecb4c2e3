/* The ACPI DMAR table (VT-d spec ch. 8): remapping units, their device scopes and reserved memory regions (pure). */
#ifndef HV_IOMMU_DMAR_H
#define HV_IOMMU_DMAR_H

#include "hv/types.h"

#define DMAR_MAX_UNITS  16
#define DMAR_MAX_RMRRS  16
#define DMAR_MAX_SCOPES 64
#define DMAR_MAX_PATH   4  /* hops kept per device scope; deeper paths are refused */
#define DMAR_TABLE_MAX_LEN MiB(1)

/* Device scope entry types, VT-d spec 8.3.1 Table 8-12. */
enum dmar_scope_type {
	DMAR_SCOPE_PCI_ENDPOINT = 1,
	DMAR_SCOPE_PCI_BRIDGE = 2, /* the bridge and everything below it */
	DMAR_SCOPE_IOAPIC = 3,
	DMAR_SCOPE_HPET = 4,
	DMAR_SCOPE_ACPI_NAMESPACE = 5,
};

struct dmar_scope {
	uint8_t type;
	uint8_t enum_id;   /* IOAPIC/HPET/ACPI device id */
	uint8_t start_bus;
	uint8_t path_len;  /* 1..DMAR_MAX_PATH */
	uint8_t dev[DMAR_MAX_PATH], fn[DMAR_MAX_PATH];
};

/* A DMA-remapping hardware unit (DRHD, spec 8.3). */
struct dmar_unit {
	uint64_t base;     /* its register page(s), 4 KiB aligned */
	uint64_t size;     /* bytes: 2^(Size field) pages */
	uint16_t segment;
	bool include_all;  /* every device of the segment not in another unit's scope */
	uint16_t first_scope, scope_count; /* into dmar_info.scope[] */
};

/* A reserved memory region a device keeps using (RMRR, spec 8.4): must stay mapped for its devices. */
struct dmar_rmrr {
	uint64_t base, end; /* [base, end), both 4 KiB aligned */
	uint16_t segment;
	uint16_t first_scope, scope_count;
};

struct dmar_info {
	uint8_t haw;        /* host address width in bits */
	uint8_t flags;      /* DMAR_FLAG_* */
	uint32_t unit_count, rmrr_count, scope_count;
	uint32_t skipped;   /* structures of other or unknown types, skipped by their length */
	uint32_t err_offset; /* where in the table parsing stopped, for the error message */
	struct dmar_unit unit[DMAR_MAX_UNITS];
	struct dmar_rmrr rmrr[DMAR_MAX_RMRRS];
	struct dmar_scope scope[DMAR_MAX_SCOPES];
};

#define DMAR_FLAG_INTR_REMAP   BIT(0)
#define DMAR_FLAG_X2APIC_OPT_OUT BIT(1)

enum dmar_error {
	DMAR_OK = 0,
	DMAR_ERR_SIGNATURE,
	DMAR_ERR_LENGTH,        /* header length too small, too large or beyond the bytes given */
	DMAR_ERR_CHECKSUM,
	DMAR_ERR_HAW,           /* host address width outside 32..64 */
	DMAR_ERR_STRUCT_LENGTH, /* a structure shorter than its fixed part or past the table's end */
	DMAR_ERR_DRHD_BASE,     /* register base zero or not 4 KiB aligned */
	DMAR_ERR_INCLUDE_ALL,   /* two include-all units for one segment */
	DMAR_ERR_RMRR_RANGE,    /* RMRR unaligned or empty */
	DMAR_ERR_SCOPE_LENGTH,  /* a device scope shorter than 8, odd path, or past its structure */
	DMAR_ERR_SCOPE_PATH,    /* device > 31, function > 7, unknown type, or too deep */
	DMAR_ERR_TOO_MANY,      /* more units, RMRRs or scopes than this build keeps */
	DMAR_ERR_NO_UNITS,
};

/* Validates the whole table (len bytes readable at table) and fills out; DMAR_OK or the first problem. */
enum dmar_error dmar_parse(const void *table, size_t len, struct dmar_info *out);
const char *dmar_strerror(enum dmar_error err);
const char *dmar_scope_type_name(uint8_t type);

/*
 * Hides the table from L1: renames the signature to "HVDM" and fixes the
 * checksum, so an operating system looking for "DMAR" finds none (spec 8.1).
 */
void dmar_hide(void *table);

#endif
