# Builds the GNU-EFI loader (build/efi/BOOTX64.EFI) and the FAT ESP (build/esp.img: loader, HV.CFG, hypervisor, demo guest).
#   make esp            the ESP image (also part of `make`)
#   make efi-stub-esp   build/efi-test/esp.img: the loader with a stand-in hypervisor (tests the loader alone)
#   ESP_HV_ARGS, ESP_GUEST, ESP_GUEST_ARGS override what HV.CFG says.
# Nothing here is globbed into the hypervisor: HV_DIRS lists boot/, not boot/efi/.

EFI_OUT    := $(BUILD)/efi
GNUEFI_INC := /usr/include/efi
GNUEFI_LIB := /usr/lib
EFI_CFLAGS := -std=gnu11 -O2 -g $(WARN) -I. -I$(GNUEFI_INC) -I$(GNUEFI_INC)/x86_64 \
	-ffreestanding -fpic -fshort-wchar -mno-red-zone -mgeneral-regs-only \
	-fno-stack-protector -fno-strict-aliasing -fcf-protection=none -DGNU_EFI_USE_MS_ABI
EFI_LDFLAGS := -nostdlib -shared -Bsymbolic -znocombreloc -T $(GNUEFI_LIB)/elf_x86_64_efi.lds \
	-L$(GNUEFI_LIB)
EFI_SECTIONS := .text .sdata .data .rodata .dynamic .dynsym .rel .rela .rel.* .rela.* .reloc
EFI_SRCS := $(wildcard boot/efi/*.c)
EFI_OBJS := $(patsubst boot/efi/%.c,$(EFI_OUT)/%.o,$(EFI_SRCS))

.PHONY: esp efi efi-stub-esp
all: $(BUILD)/esp.img
efi: $(EFI_OUT)/BOOTX64.EFI
esp: $(BUILD)/esp.img

$(EFI_OUT)/%.o: boot/efi/%.c
	@mkdir -p $(dir $@)
	$(CC) $(EFI_CFLAGS) -MMD -MP -c $< -o $@

$(EFI_OUT)/hvboot.so: $(EFI_OBJS)
	$(LD) $(EFI_LDFLAGS) $(GNUEFI_LIB)/crt0-efi-x86_64.o $(EFI_OBJS) -o $@ -lefi -lgnuefi

$(EFI_OUT)/BOOTX64.EFI: $(EFI_OUT)/hvboot.so
	objcopy $(foreach s,$(EFI_SECTIONS),-j '$(s)') --target efi-app-x86_64 --subsystem=10 $< $@

-include $(EFI_OBJS:.o=.d)

# ---- HV.CFG and the ESP ---------------------------------------------------
# The same hypervisor command line and guest as build/hv.iso (tests/images.mk),
# so the two boot paths can be compared.
ESP_GUEST      ?= $(BUILD)/guests/hello.elf
ESP_HV_ARGS    ?= $(HV_ARGS)
ESP_GUEST_ARGS ?= test=hello
ESP_MB         := 32

# $(1) = output file, $(2) = hypervisor command line, $(3) = module line (path and args)
define write_hv_cfg
	@mkdir -p $(dir $(1))
	@printf '%s\n' '# hvboot config: written by boot/efi/efi.mk' 'verbose=1' \
		'hypervisor=\hv.elf' 'cmdline=$(2)' 'module=$(3)' > $(1)
endef

# $(1) = image, $(2) = loader, $(3) = HV.CFG, $(4) = more files as SOURCE:ESP-PATH words
define make_esp
	@rm -f $(1).tmp
	@dd if=/dev/zero of=$(1).tmp bs=1M count=$(ESP_MB) status=none
	@mformat -i $(1).tmp -v HVESP ::
	@mmd -i $(1).tmp ::/EFI ::/EFI/BOOT
	@mcopy -i $(1).tmp $(2) ::/EFI/BOOT/BOOTX64.EFI
	@mcopy -i $(1).tmp $(3) ::/EFI/BOOT/HV.CFG
	@$(foreach f,$(4),mcopy -i $(1).tmp $(word 1,$(subst :, ,$(f))) ::$(word 2,$(subst :, ,$(f))) &&) true
	@mv $(1).tmp $(1)
	@echo "  ESP     $(1)"
endef

$(EFI_OUT)/HV.CFG: boot/efi/efi.mk FORCE_HV_CFG
	$(call write_hv_cfg,$@.tmp,$(ESP_HV_ARGS),\guest.elf $(ESP_GUEST_ARGS))
	@cmp -s $@.tmp $@ 2>/dev/null && rm -f $@.tmp || mv $@.tmp $@

# Rewritten only when its text changes, so a new HV_ARGS rebuilds the image and nothing else does.
.PHONY: FORCE_HV_CFG

$(BUILD)/esp.img: $(EFI_OUT)/BOOTX64.EFI $(EFI_OUT)/HV.CFG $(BUILD)/hv.elf $(ESP_GUEST)
	$(call make_esp,$@,$(EFI_OUT)/BOOTX64.EFI,$(EFI_OUT)/HV.CFG,$(BUILD)/hv.elf:/hv.elf $(ESP_GUEST):/guest.elf)

# ---- the loader alone, against a stand-in hypervisor ----------------------
# build/efi-test/stub.elf is linked like the hypervisor (linker.ld) and only
# reports the boot_info it received on COM1, then ends QEMU (exit status 0x42).
EFI_TEST := $(BUILD)/efi-test
EFI_STUB_OBJS := $(EFI_TEST)/stub_hv.o $(EFI_TEST)/bi_dump.o

$(EFI_TEST)/stub_hv.o: boot/efi/test/stub_hv.c
	@mkdir -p $(dir $@)
	$(CC) $(KCFLAGS) -MMD -MP -c $< -o $@

$(EFI_TEST)/bi_dump.o: boot/efi/bi_dump.c
	@mkdir -p $(dir $@)
	$(CC) $(KCFLAGS) -MMD -MP -c $< -o $@

$(EFI_TEST)/stub.elf: $(EFI_STUB_OBJS) linker.ld
	$(CC) $(KCFLAGS) $(KLDFLAGS) -o $@ $(EFI_STUB_OBJS) -lgcc

# test_stale_map_key makes the loader take the ExitBootServices retry path once.
$(EFI_TEST)/HV.CFG: boot/efi/efi.mk
	$(call write_hv_cfg,$@,stub-args one=1,\guest.elf stub-module-args two=2)
	@printf '%s\n' 'test_stale_map_key=1' >> $@

$(EFI_TEST)/esp.img: $(EFI_OUT)/BOOTX64.EFI $(EFI_TEST)/HV.CFG $(EFI_TEST)/stub.elf
	$(call make_esp,$@,$(EFI_OUT)/BOOTX64.EFI,$(EFI_TEST)/HV.CFG,$(EFI_TEST)/stub.elf:/hv.elf $(EFI_TEST)/HV.CFG:/guest.elf)

# The error path: the real HV.CFG but no hypervisor file. The loader must say so and
# return to the firmware, whose boot manager then reaches the UEFI shell; the shell's
# startup.nsh powers the machine off, so the run ends cleanly instead of by timeout.
$(EFI_TEST)/esp-nohv.img: $(EFI_OUT)/BOOTX64.EFI $(EFI_OUT)/HV.CFG $(ESP_GUEST) boot/efi/test/startup.nsh
	$(call make_esp,$@,$(EFI_OUT)/BOOTX64.EFI,$(EFI_OUT)/HV.CFG,$(ESP_GUEST):/guest.elf boot/efi/test/startup.nsh:/startup.nsh)

efi-stub-esp: $(EFI_TEST)/esp.img

# A pair that boots the same hypervisor, command line and two modules through our
# loader and through GRUB-EFI, with arguments that are not empty, so comparing the
# boot info of the two paths compares something (build/hv.iso has HV_ARGS, often empty).
CMP_HV_ARGS    := loglevel=2 compare=uefi-vs-grub
CMP_GUEST_ARGS := test=hello two words
CMP_MOD        := tests/guests/data/module.txt
CMP_MOD_ARGS   := module-arg one two

$(EFI_TEST)/cmp/HV.CFG: boot/efi/efi.mk
	$(call write_hv_cfg,$@,$(CMP_HV_ARGS),\guest.elf $(CMP_GUEST_ARGS))
	@printf '%s\n' 'module=\module.txt $(CMP_MOD_ARGS)' >> $@

$(EFI_TEST)/cmp-esp.img: $(EFI_OUT)/BOOTX64.EFI $(EFI_TEST)/cmp/HV.CFG $(BUILD)/hv.elf $(ESP_GUEST) $(CMP_MOD)
	$(call make_esp,$@,$(EFI_OUT)/BOOTX64.EFI,$(EFI_TEST)/cmp/HV.CFG,$(BUILD)/hv.elf:/hv.elf $(ESP_GUEST):/guest.elf $(CMP_MOD):/module.txt)

# grub-mkrescue without -d builds for every GRUB platform installed: BIOS+UEFI (platform.md).
$(EFI_TEST)/cmp-grub.iso: $(BUILD)/hv.elf $(ESP_GUEST) $(CMP_MOD) boot/efi/efi.mk
	@rm -rf $@.d && mkdir -p $@.d/boot/grub
	@cp $(BUILD)/hv.elf $@.d/boot/hv.elf
	@cp $(ESP_GUEST) $@.d/boot/guest.elf
	@cp $(CMP_MOD) $@.d/boot/module.txt
	@printf '%s\n' 'set timeout=0' 'serial --unit=0 --speed=115200' 'terminal_output serial' \
		'multiboot2 /boot/hv.elf $(CMP_HV_ARGS)' 'module2 /boot/guest.elf $(CMP_GUEST_ARGS)' \
		'module2 /boot/module.txt $(CMP_MOD_ARGS)' 'boot' > $@.d/boot/grub/grub.cfg
	@grub-mkrescue --install-modules="normal multiboot2 serial terminal" --locales= --fonts= \
		--themes= -o $@ $@.d >$@.log 2>&1 || { cat $@.log; exit 1; }
	@rm -rf $@.d $@.log
	@echo "  ISO     $@"

# tests/e2e/test_uefi.py boots these; run-all.sh builds images-bare and images-hv. The
# images without the real hypervisor go with images-bare, so a hypervisor that does not
# link still leaves the loader's own tests runnable.
images-bare: $(EFI_TEST)/esp.img $(EFI_TEST)/esp-nohv.img
images-hv: $(BUILD)/esp.img $(EFI_TEST)/cmp-esp.img $(EFI_TEST)/cmp-grub.iso

-include $(EFI_STUB_OBJS:.o=.d)
