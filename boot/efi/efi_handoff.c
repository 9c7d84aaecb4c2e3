/* The hand-off: final memory map, ExitBootServices with the map-key retry, and the jump to entry64. */
#include "boot/efi/loader.h"
#include "boot/efi/mmap_conv.h"
#include "boot/efi/bi_dump.h"

/*
 * Room for descriptors beyond the first GetMemoryMap answer: allocating the
 * buffer itself can split a free range (UEFI 2.10 §7.2.3 GetMemoryMap), and
 * timer events may still allocate before ExitBootServices.
 */
#define MAP_SLACK_DESCS 32
#define EBS_TRIES       8
#define MAP_ALLOC_TRIES 3

struct efi_map {
	bool stale_key_test; /* HV.CFG test_stale_map_key: spoil the first key on purpose */
	unsigned attempts;   /* ExitBootServices calls made */
	void *buf;
	UINTN cap;
	UINTN size;
	UINTN key;
	UINTN desc_size;
	UINT32 desc_version;
};

typedef void (*hv_entry64_fn)(struct boot_info *bi);

static __attribute__((noreturn)) void halt_forever(const char *why)
{
	serial_line(why);
	for (;;)
		__asm__ volatile("cli; hlt");
}

/* Sizes and allocates the map buffer: the last allocation before ExitBootServices. */
static EFI_STATUS map_alloc(struct efi_map *m)
{
	EFI_STATUS st;

	m->size = 0;
	st = BS->GetMemoryMap(&m->size, NULL, &m->key, &m->desc_size, &m->desc_version);
	if (st != EFI_BUFFER_TOO_SMALL)
		return EFI_ERROR(st) ? st : EFI_DEVICE_ERROR;
	m->cap = m->size + MAP_SLACK_DESCS * m->desc_size;
	m->buf = AllocatePool(m->cap);
	return m->buf ? EFI_SUCCESS : EFI_OUT_OF_RESOURCES;
}

static EFI_STATUS map_get(struct efi_map *m)
{
	m->size = m->cap;
	return BS->GetMemoryMap(&m->size, m->buf, &m->key, &m->desc_size, &m->desc_version);
}

static enum mmap_err map_convert(const struct efi_map *m, struct boot_info *bi)
{
	return efi_mmap_to_e820(m->buf, m->size, m->desc_size, bi->mmap, BOOT_MAX_MMAP, &bi->mmap_count);
}

/*
 * The first round may still fail cleanly until ExitBootServices is called:
 * nothing has been shut down, so the error reaches the console and the
 * firmware gets a status back. EFI_INVALID_PARAMETER: the map key was stale.
 */
static EFI_STATUS first_round(EFI_HANDLE image, struct efi_map *m, struct boot_info *bi)
{
	enum mmap_err me;
	EFI_STATUS st;

	st = map_get(m);
	if (st == EFI_BUFFER_TOO_SMALL)
		return st; /* grew past the slack: the caller sizes a new buffer */
	if (EFI_ERROR(st)) {
		LOG_ERR(L"GetMemoryMap failed: %r", st);
		/* Keep EFI_INVALID_PARAMETER for "stale map key" from ExitBootServices. */
		return st == EFI_INVALID_PARAMETER ? EFI_DEVICE_ERROR : st;
	}
	/* A dry run of the conversion: a map that cannot fit fails here, still reportable. */
	me = map_convert(m, bi);
	if (me != MMAP_OK) {
		LOG_ERR(L"memory map: %a (%ld descriptors)", mmap_strerror(me), (INT64)(m->size / m->desc_size));
		return EFI_OUT_OF_RESOURCES;
	}
	/* A key from the future is stale now: the firmware must refuse it (UEFI 2.10 §7.4.6). */
	m->attempts++;
	st = BS->ExitBootServices(image, m->stale_key_test ? m->key + 1 : m->key);
	if (EFI_ERROR(st) && st != EFI_INVALID_PARAMETER)
		halt_forever("hvboot: fatal: ExitBootServices failed"); /* boot services may be half gone */
	return st;
}

/*
 * After a failed ExitBootServices only GetMemoryMap and ExitBootServices may be
 * called (UEFI 2.10 §7.4.6): no allocation, no console, so errors go to COM1.
 */
static void retry_rounds(EFI_HANDLE image, struct efi_map *m)
{
	EFI_STATUS st;
	int i;

	for (i = 1; i < EBS_TRIES; i++) {
		st = map_get(m);
		if (EFI_ERROR(st))
			halt_forever("hvboot: fatal: GetMemoryMap failed during the ExitBootServices retry");
		m->attempts++;
		st = BS->ExitBootServices(image, m->key);
		if (!EFI_ERROR(st))
			return;
		if (st != EFI_INVALID_PARAMETER)
			halt_forever("hvboot: fatal: ExitBootServices failed");
	}
	halt_forever("hvboot: fatal: ExitBootServices kept rejecting the memory map key");
}

/* The map may outgrow even the slack while the buffer is allocated: size a new one. */
static EFI_STATUS prepare_and_exit(EFI_HANDLE image, struct efi_map *m, struct boot_info *bi)
{
	EFI_STATUS st = EFI_BUFFER_TOO_SMALL;
	int i;

	for (i = 0; i < MAP_ALLOC_TRIES && st == EFI_BUFFER_TOO_SMALL; i++) {
		st = map_alloc(m);
		if (EFI_ERROR(st)) {
			LOG_ERR(L"cannot size or allocate the memory map buffer: %r", st);
			return st;
		}
		st = first_round(image, m, bi);
		if (EFI_ERROR(st) && st != EFI_INVALID_PARAMETER)
			FreePool(m->buf); /* boot services still run: give the buffer back */
	}
	if (st == EFI_BUFFER_TOO_SMALL)
		LOG_ERR(L"the memory map keeps outgrowing its buffer");
	return st;
}

static void serial_dump_line(const char *line, void *ctx)
{
	(void)ctx;
	serial_line(line);
}

/* "hvboot: " + label + number, on COM1 (no formatter from the firmware any more). */
static void serial_number(const char *label, UINT64 v, bool hex)
{
	char line[96] = "hvboot: ";
	char num[24];
	UINTN n = 8, i;

	if (hex)
		fmt_hex(num, v, 0);
	else
		fmt_dec(num, v);
	for (i = 0; label[i] && n + 1 < sizeof(line); i++)
		line[n++] = label[i];
	for (i = 0; num[i] && n + 1 < sizeof(line); i++)
		line[n++] = num[i];
	line[n] = '\0';
	serial_line(line);
}

static void dump_entry(UINT64 entry64, const struct boot_info *bi, unsigned attempts)
{
	serial_number("ExitBootServices attempts=", attempts, false);
	bi_dump(bi, serial_dump_line, NULL);
	serial_number("entering entry64=", entry64, true);
}

EFI_STATUS exit_and_enter(EFI_HANDLE image, struct boot_info *bi, UINT64 entry64, const struct hv_cfg *cfg)
{
	struct efi_map m = { .stale_key_test = cfg->stale_key_test };
	hv_entry64_fn entry = (hv_entry64_fn)(UINTN)entry64;
	EFI_STATUS st;

	st = prepare_and_exit(image, &m, bi);
	if (st == EFI_INVALID_PARAMETER)
		retry_rounds(image, &m); /* the map changed between the two calls */
	else if (EFI_ERROR(st))
		return st;
	/* Boot services are gone: the firmware timer is stopped, we own the CPU. */
	__asm__ volatile("cli" ::: "memory");
	if (map_convert(&m, bi) != MMAP_OK)
		halt_forever("hvboot: fatal: the final memory map has more ranges than boot_info holds");
	if (cfg->verbose)
		dump_entry(entry64, bi, m.attempts);
	entry(bi);
	halt_forever("hvboot: fatal: the hypervisor's entry64 returned");
}
