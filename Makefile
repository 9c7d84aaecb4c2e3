# Builds the hypervisor (build/hv.elf), its boot media, the test guests and the host tests.
#   make          build everything
#   make run      boot the hypervisor with the demo guest in Bochs (installs missing packages)
#   make test     every test; ends with "N passed, N failed"
#   make bench    the performance table
#   make fuzz     the libFuzzer target of the nested event core (FUZZ_SECONDS=N)
#   make check    cppcheck and clang-tidy over the sources

BUILD   ?= build
CC      := gcc
HOSTCC  := gcc
PYTHON  ?= python3

WARN    := -Wall -Wextra -Werror
KCFLAGS := -std=gnu11 -O2 -g $(WARN) -I. -ffreestanding -fpie \
	-fno-stack-protector -fno-asynchronous-unwind-tables -fno-omit-frame-pointer \
	-mno-red-zone -mgeneral-regs-only -mcmodel=small -fcf-protection=none \
	-fno-strict-aliasing -fno-common
KASFLAGS := $(KCFLAGS) -D__ASSEMBLY__
KLDFLAGS := -nostdlib -static-pie -Wl,-T,linker.ld -Wl,-z,max-page-size=0x1000 \
	-Wl,--build-id=none -Wl,-z,noexecstack -Wl,--no-warn-rwx-segments

# Every C or assembly file under these folders is part of the hypervisor.
HV_DIRS := boot hv hv/loader hv/vmx hv/nested hv/iommu
HV_SRCS := $(foreach d,$(HV_DIRS),$(wildcard $(d)/*.c $(d)/*.S))
HV_OBJS := $(patsubst %,$(BUILD)/k/%.o,$(HV_SRCS))

.PHONY: all hv clean run test bench fuzz check deps unit
all: hv

hv: $(BUILD)/hv.elf

$(BUILD)/k/%.c.o: %.c Makefile
	@mkdir -p $(dir $@)
	$(CC) $(KCFLAGS) -MMD -MP -c $< -o $@

$(BUILD)/k/%.S.o: %.S Makefile
	@mkdir -p $(dir $@)
	$(CC) $(KASFLAGS) -MMD -MP -c $< -o $@

# boot/entry.S relocates the image where the loader put it and knows R_X86_64_RELATIVE only;
# GRUB refuses an ELF with a relocation section, so it is retyped (scripts/elf_hide_relocs.py).
$(BUILD)/hv.elf: $(HV_OBJS) linker.ld
	$(CC) $(KCFLAGS) $(KLDFLAGS) -o $@.tmp $(HV_OBJS) -lgcc
	@if readelf -rW $@.tmp | grep '^[0-9a-f]\{16\} ' | grep -v R_X86_64_RELATIVE; then \
		echo "$@: relocations boot/entry.S cannot apply (above)"; rm -f $@.tmp; exit 1; fi
	@$(PYTHON) scripts/elf_hide_relocs.py $@.tmp
	@mv $@.tmp $@

-include $(HV_OBJS:.o=.d)

# ---- host unit tests (cmocka) -------------------------------------------
# Each tests/unit/*.mk adds names to UNIT_TESTS and sets NAME_SRCS.
UNIT_CFLAGS := -std=gnu11 -O1 -g $(WARN) -I. -DHV_HOST_TEST -fsanitize=address,undefined \
	-fno-omit-frame-pointer -fno-sanitize-recover=undefined
UNIT_TESTS :=
include $(wildcard tests/unit/*.mk)

define unit_rule
$(BUILD)/unit/$(1): $$($(1)_SRCS) $$(wildcard hv/*.h hv/loader/*.h hv/vmx/*.h hv/nested/*.h hv/iommu/*.h tests/unit/*.h)
	@mkdir -p $$(dir $$@)
	$$(HOSTCC) $$(UNIT_CFLAGS) -o $$@ $$($(1)_SRCS) -lcmocka
endef
$(foreach t,$(UNIT_TESTS),$(eval $(call unit_rule,$(t))))
UNIT_BINS := $(addprefix $(BUILD)/unit/,$(UNIT_TESTS))

unit: $(UNIT_BINS)

# ---- test guests, images, runs ------------------------------------------
# Fragments for the guests, boot images, fuzzing and the Linux images.
include $(wildcard tests/*.mk tests/guests/*.mk boot/efi/*.mk)

deps:
	@scripts/deps.sh

clean:
	rm -rf $(BUILD)
