# Host tests for the UEFI loader's pure parts: HV.CFG parsing, ELF validation, EFI->E820 map conversion, boot_info dump.
UNIT_TESTS += test_efi_cfg test_efi_elf test_efi_mmap
test_efi_cfg_SRCS  := tests/unit/test_efi_cfg.c boot/efi/cfg.c
test_efi_elf_SRCS  := tests/unit/test_efi_elf.c boot/efi/elf_load.c
test_efi_mmap_SRCS := tests/unit/test_efi_mmap.c boot/efi/mmap_conv.c boot/efi/bi_dump.c
# The generic rule tracks hv/ headers only; these tests also depend on the loader's.
$(BUILD)/unit/test_efi_cfg: boot/efi/cfg.h
$(BUILD)/unit/test_efi_elf: boot/efi/elf_load.h
$(BUILD)/unit/test_efi_mmap: boot/efi/mmap_conv.h boot/efi/bi_dump.h
