/* Parses and validates the ACPI DMAR table: every length, checksum, alignment and device path is checked (pure). */
#include "hv/iommu/dmar.h"
#include "hv/string.h"

/* Offsets and sizes from the VT-d spec, ch. 8 (Tables 8-11 to 8-16). */
#define DMAR_HDR_LEN        48 /* ACPI header (36), host address width, flags, 10 reserved */
#define DMAR_HAW_OFF        36
#define DMAR_FLAGS_OFF      37
#define ACPI_LEN_OFF        4
#define ACPI_CSUM_OFF       9
#define STRUCT_DRHD         0
#define STRUCT_RMRR         1
#define DRHD_FIXED_LEN      16
#define RMRR_FIXED_LEN      24
#define DRHD_FLAG_INCLUDE_ALL BIT(0)
#define SCOPE_FIXED_LEN     6
#define SCOPE_MIN_LEN       8 /* the fixed part and one (device, function) pair */

static uint16_t rd16(const uint8_t *p) { uint16_t v; memcpy(&v, p, 2); return v; }
static uint32_t rd32(const uint8_t *p) { uint32_t v; memcpy(&v, p, 4); return v; }
static uint64_t rd64(const uint8_t *p) { uint64_t v; memcpy(&v, p, 8); return v; }

static uint8_t byte_sum(const uint8_t *p, size_t len)
{
	uint8_t sum = 0;

	while (len--)
		sum += *p++;
	return sum;
}

static enum dmar_error parse_scope(const uint8_t *s, uint8_t len, struct dmar_scope *out)
{
	unsigned int hops = (len - SCOPE_FIXED_LEN) / 2;

	if (s[0] < DMAR_SCOPE_PCI_ENDPOINT || s[0] > DMAR_SCOPE_ACPI_NAMESPACE || hops > DMAR_MAX_PATH)
		return DMAR_ERR_SCOPE_PATH;
	memset(out, 0, sizeof(*out));
	out->type = s[0];
	out->enum_id = s[4];
	out->start_bus = s[5];
	out->path_len = (uint8_t)hops;
	for (unsigned int i = 0; i < hops; i++) {
		out->dev[i] = s[SCOPE_FIXED_LEN + 2 * i];
		out->fn[i] = s[SCOPE_FIXED_LEN + 2 * i + 1];
		if (out->dev[i] > 31 || out->fn[i] > 7)
			return DMAR_ERR_SCOPE_PATH;
	}
	return DMAR_OK;
}

/* The device scopes filling [p, end) of a DRHD or RMRR (spec 8.3.1). */
static enum dmar_error parse_scopes(struct dmar_info *info, const uint8_t *p, const uint8_t *end,
				    uint16_t *first, uint16_t *count)
{
	*first = (uint16_t)info->scope_count;
	*count = 0;
	while (p < end) {
		enum dmar_error err;

		if (end - p < 2 || p[1] < SCOPE_MIN_LEN || (p[1] - SCOPE_FIXED_LEN) % 2 || p[1] > end - p)
			return DMAR_ERR_SCOPE_LENGTH;
		if (info->scope_count == DMAR_MAX_SCOPES)
			return DMAR_ERR_TOO_MANY;
		err = parse_scope(p, p[1], &info->scope[info->scope_count]);
		if (err)
			return err;
		info->scope_count++;
		(*count)++;
		p += p[1];
	}
	return DMAR_OK;
}

static enum dmar_error parse_drhd(struct dmar_info *info, const uint8_t *s, uint16_t len)
{
	struct dmar_unit *u;

	if (len < DRHD_FIXED_LEN)
		return DMAR_ERR_STRUCT_LENGTH;
	if (info->unit_count == DMAR_MAX_UNITS)
		return DMAR_ERR_TOO_MANY;
	u = &info->unit[info->unit_count];
	memset(u, 0, sizeof(*u));
	u->include_all = s[4] & DRHD_FLAG_INCLUDE_ALL;
	u->size = PAGE_SIZE << (s[5] & 0xf); /* Size: 2^N pages; 0 in tables older than VT-d 2.3 */
	u->segment = rd16(s + 6);
	u->base = rd64(s + 8);
	if (!u->base || !IS_ALIGNED(u->base, PAGE_SIZE) || u->base + u->size < u->base)
		return DMAR_ERR_DRHD_BASE;
	for (uint32_t i = 0; u->include_all && i < info->unit_count; i++)
		if (info->unit[i].include_all && info->unit[i].segment == u->segment)
			return DMAR_ERR_INCLUDE_ALL;
	info->unit_count++;
	return parse_scopes(info, s + DRHD_FIXED_LEN, s + len, &u->first_scope, &u->scope_count);
}

static enum dmar_error parse_rmrr(struct dmar_info *info, const uint8_t *s, uint16_t len)
{
	struct dmar_rmrr *r;
	uint64_t limit;

	if (len < RMRR_FIXED_LEN)
		return DMAR_ERR_STRUCT_LENGTH;
	if (info->rmrr_count == DMAR_MAX_RMRRS)
		return DMAR_ERR_TOO_MANY;
	r = &info->rmrr[info->rmrr_count];
	memset(r, 0, sizeof(*r));
	r->segment = rd16(s + 6);
	r->base = rd64(s + 8);
	limit = rd64(s + 16); /* the last byte: limit + 1 is 4 KiB aligned */
	if (!IS_ALIGNED(r->base, PAGE_SIZE) || !IS_ALIGNED(limit + 1, PAGE_SIZE) || limit < r->base ||
	    limit == UINT64_MAX)
		return DMAR_ERR_RMRR_RANGE;
	r->end = limit + 1;
	info->rmrr_count++;
	return parse_scopes(info, s + RMRR_FIXED_LEN, s + len, &r->first_scope, &r->scope_count);
}

static enum dmar_error check_header(const uint8_t *t, size_t avail, struct dmar_info *out)
{
	uint32_t len;

	if (avail < DMAR_HDR_LEN)
		return DMAR_ERR_LENGTH;
	if (memcmp(t, "DMAR", 4))
		return DMAR_ERR_SIGNATURE;
	len = rd32(t + ACPI_LEN_OFF);
	if (len < DMAR_HDR_LEN || len > avail || len > DMAR_TABLE_MAX_LEN)
		return DMAR_ERR_LENGTH;
	if (byte_sum(t, len))
		return DMAR_ERR_CHECKSUM;
	out->haw = (uint8_t)(t[DMAR_HAW_OFF] + 1); /* the field holds N - 1 */
	out->flags = t[DMAR_FLAGS_OFF];
	if (out->haw < 32 || t[DMAR_HAW_OFF] > 63)
		return DMAR_ERR_HAW;
	return DMAR_OK;
}

enum dmar_error dmar_parse(const void *table, size_t len, struct dmar_info *out)
{
	const uint8_t *t = table;
	enum dmar_error err;
	uint32_t off = DMAR_HDR_LEN, total;

	memset(out, 0, sizeof(*out));
	err = check_header(t, len, out);
	if (err)
		return err;
	total = rd32(t + ACPI_LEN_OFF);
	while (off < total) {
		uint16_t type, slen;

		out->err_offset = off;
		if (total - off < 4)
			return DMAR_ERR_STRUCT_LENGTH;
		type = rd16(t + off);
		slen = rd16(t + off + 2);
		if (slen < 4 || slen > total - off)
			return DMAR_ERR_STRUCT_LENGTH;
		if (type == STRUCT_DRHD)
			err = parse_drhd(out, t + off, slen);
		else if (type == STRUCT_RMRR)
			err = parse_rmrr(out, t + off, slen);
		else {
			err = DMAR_OK;
			out->skipped++; /* ATSR, RHSA, ANDD, SATC, later types: nothing to program (spec 8.2) */
		}
		if (err)
			return err;
		off += slen;
	}
	out->err_offset = off;
	return out->unit_count ? DMAR_OK : DMAR_ERR_NO_UNITS;
}

void dmar_hide(void *table)
{
	uint8_t *t = table;
	uint32_t len = rd32(t + ACPI_LEN_OFF);

	memcpy(t, "HVDM", 4);
	t[ACPI_CSUM_OFF] = 0;
	t[ACPI_CSUM_OFF] = (uint8_t)-byte_sum(t, len);
}

const char *dmar_strerror(enum dmar_error err)
{
	static const char *const names[] = {
		[DMAR_OK] = "ok",
		[DMAR_ERR_SIGNATURE] = "the signature is not DMAR",
		[DMAR_ERR_LENGTH] = "the table length is impossible",
		[DMAR_ERR_CHECKSUM] = "the checksum is wrong",
		[DMAR_ERR_HAW] = "the host address width is outside 32..64 bits",
		[DMAR_ERR_STRUCT_LENGTH] = "a structure's length is too small or runs past the table",
		[DMAR_ERR_DRHD_BASE] = "a remapping unit's register base is zero or not page aligned",
		[DMAR_ERR_INCLUDE_ALL] = "two include-all remapping units serve one PCI segment",
		[DMAR_ERR_RMRR_RANGE] = "a reserved memory region (RMRR) is empty or not page aligned",
		[DMAR_ERR_SCOPE_LENGTH] = "a device scope's length is malformed or runs past its structure",
		[DMAR_ERR_SCOPE_PATH] = "a device scope has an unknown type, a bad device/function or a path too deep",
		[DMAR_ERR_TOO_MANY] = "more units, RMRRs or device scopes than the hypervisor keeps",
		[DMAR_ERR_NO_UNITS] = "it lists no remapping unit",
	};

	return (unsigned int)err < ARRAY_SIZE(names) ? names[err] : "unknown DMAR error";
}

const char *dmar_scope_type_name(uint8_t type)
{
	switch (type) {
	case DMAR_SCOPE_PCI_ENDPOINT: return "PCI endpoint";
	case DMAR_SCOPE_PCI_BRIDGE: return "PCI bridge and below";
	case DMAR_SCOPE_IOAPIC: return "I/O APIC";
	case DMAR_SCOPE_HPET: return "HPET";
	case DMAR_SCOPE_ACPI_NAMESPACE: return "ACPI device";
	}
	return "unknown";
}
