# Builds the Multiboot v1 test guests: build/guests/NAME.elf from tests/guests/NAME.c and the shared lib.
# Guarded: tests/images.mk includes it early because make expands prerequisites when it reads them.
ifndef GUESTS_MK_INCLUDED
GUESTS_MK_INCLUDED := 1
# Every tests/guests/NAME.c is a guest (its library lives in lib/): adding one needs no edit here.
GUESTS := $(sort $(basename $(notdir $(wildcard tests/guests/*.c))))
GUEST_DIR := $(BUILD)/guests
GUEST_CFLAGS := -m32 -std=gnu11 -O2 -g $(WARN) -ffreestanding -fno-pic -fno-pie \
	-fno-stack-protector -fno-asynchronous-unwind-tables -mgeneral-regs-only \
	-fcf-protection=none -fno-builtin -Itests/guests/lib
GUEST_LDFLAGS := -m32 -nostdlib -static -no-pie \
	-Wl,--build-id=none -Wl,-z,noexecstack -Wl,--no-warn-rwx-segments
# A guest's link map: tests/guests/NAME.ld where there is one, else the common guest.ld (1 MiB).
guest_ld = $(or $(wildcard tests/guests/$(1).ld),tests/guests/guest.ld)
GUEST_LIB_SRCS := $(wildcard tests/guests/lib/*.c tests/guests/lib/*.S)
GUEST_LIB_OBJS := $(patsubst tests/guests/lib/%,$(GUEST_DIR)/lib/%.o,$(GUEST_LIB_SRCS))
GUEST_ELFS := $(patsubst %,$(GUEST_DIR)/%.elf,$(GUESTS))

.PHONY: guests
# Keep the objects: they are shared by every guest and make would delete them as intermediates.
.SECONDARY: $(GUEST_LIB_OBJS) $(GUEST_ELFS:.elf=.o)
guests: $(GUEST_ELFS)

$(GUEST_DIR)/lib/%.c.o: tests/guests/lib/%.c tests/guests/lib/guest.h
	@mkdir -p $(dir $@)
	$(CC) $(GUEST_CFLAGS) -c $< -o $@

$(GUEST_DIR)/lib/%.S.o: tests/guests/lib/%.S
	@mkdir -p $(dir $@)
	$(CC) $(GUEST_CFLAGS) -D__ASSEMBLY__ -c $< -o $@

$(GUEST_DIR)/%.o: tests/guests/%.c tests/guests/lib/guest.h
	@mkdir -p $(dir $@)
	$(CC) $(GUEST_CFLAGS) -c $< -o $@

$(GUEST_DIR)/%.elf: $(GUEST_DIR)/%.o $(GUEST_LIB_OBJS) $(wildcard tests/guests/*.ld)
	$(CC) $(GUEST_LDFLAGS) -Wl,-T,$(call guest_ld,$*) -o $@ $< $(GUEST_LIB_OBJS)
endif
GUESTS += apicwrite
GUESTS += apicfetch
GUESTS += benchipi
