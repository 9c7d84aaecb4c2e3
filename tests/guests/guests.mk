# Builds the Multiboot v1 test guests: build/guests/NAME.elf from tests/guests/NAME.c and the shared lib.
# Guarded: tests/images.mk includes it early because make expands prerequisites when it reads them.
ifndef GUESTS_MK_INCLUDED
GUESTS_MK_INCLUDED := 1
# Each guest is one line, so that work adding guests in parallel does not collide.
GUESTS := cpuid
GUESTS += memmap
GUESTS += serial
GUESTS += faults
GUESTS += msr
GUESTS += hvmem
GUESTS += triplefault
GUESTS += hello
GUESTS += bench
GUESTS += smp
GUEST_DIR := $(BUILD)/guests
GUEST_CFLAGS := -m32 -std=gnu11 -O2 -g $(WARN) -ffreestanding -fno-pic -fno-pie \
	-fno-stack-protector -fno-asynchronous-unwind-tables -mgeneral-regs-only \
	-fcf-protection=none -fno-builtin -Itests/guests/lib
GUEST_LDFLAGS := -m32 -nostdlib -static -no-pie -Wl,-T,tests/guests/guest.ld \
	-Wl,--build-id=none -Wl,-z,noexecstack -Wl,--no-warn-rwx-segments
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

$(GUEST_DIR)/%.elf: $(GUEST_DIR)/%.o $(GUEST_LIB_OBJS) tests/guests/guest.ld
	$(CC) $(GUEST_LDFLAGS) -o $@ $< $(GUEST_LIB_OBJS)
endif
GUESTS += apicwrite
GUESTS += apicfetch
GUESTS += benchipi
