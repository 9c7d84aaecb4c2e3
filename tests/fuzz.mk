# The nested engine's libFuzzer targets: make fuzz (FUZZ_SECONDS each, default 60) and make fuzz-smoke (bounded, about 35 s).
FUZZ_CC      ?= clang
FUZZ_SECONDS ?= 60
FUZZ_DIR     := $(BUILD)/fuzz
FUZZ_BIN     := $(FUZZ_DIR)/fuzz_nested_events
FUZZ_SRCS    := tests/fuzz/fuzz_nested_events.c tests/fuzz/nested_harness.c $(wildcard hv/nested/*.c)
FUZZ_CFLAGS  := -std=gnu11 -O1 -g $(WARN) -I. -DHV_HOST_TEST -fsanitize=fuzzer,address,undefined \
	-fno-sanitize-recover=undefined -fno-omit-frame-pointer

$(FUZZ_BIN): $(FUZZ_SRCS) $(wildcard hv/*.h hv/loader/*.h hv/vmx/*.h hv/nested/*.h tests/fuzz/*.h)
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -o $@ $(FUZZ_SRCS)

# The second target: L1's VMX instructions, the entry checks, the vmcs02 merge, the exit decision.
FUZZ_VMX_BIN  := $(FUZZ_DIR)/fuzz_nested_vmx
FUZZ_VMX_SRCS := tests/fuzz/fuzz_nested_vmx.c hv/string.c $(wildcard hv/nested/*.c)

$(FUZZ_VMX_BIN): $(FUZZ_VMX_SRCS) $(wildcard hv/*.h hv/vmx/*.h hv/nested/*.h)
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -o $@ $(FUZZ_VMX_SRCS)

# The third: the shadow EPT for L2 (random EPT12 tables, faults, INVEPTs, EPT01 changes, a small pool).
FUZZ_SEPT_BIN  := $(FUZZ_DIR)/fuzz_shadow_ept
FUZZ_SEPT_SRCS := tests/fuzz/fuzz_shadow_ept.c hv/nested/shadow_ept.c hv/nested/ept12_walk.c hv/nested/ept_pml.c

$(FUZZ_SEPT_BIN): $(FUZZ_SEPT_SRCS) $(wildcard hv/*.h hv/vmx/*.h hv/nested/*.h)
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -o $@ $(FUZZ_SEPT_SRCS)

.PHONY: fuzz fuzz-smoke
# Keeps its corpus in $(FUZZ_DIR)/corpus between runs.
fuzz: $(FUZZ_BIN) $(FUZZ_VMX_BIN) $(FUZZ_SEPT_BIN)
	@mkdir -p $(FUZZ_DIR)/corpus $(FUZZ_DIR)/vmx-corpus $(FUZZ_DIR)/sept-corpus
	$(FUZZ_BIN) -max_total_time=$(FUZZ_SECONDS) -max_len=512 -print_final_stats=1 \
		-artifact_prefix=$(FUZZ_DIR)/ $(FUZZ_DIR)/corpus
	$(FUZZ_VMX_BIN) -max_total_time=$(FUZZ_SECONDS) -max_len=2048 -print_final_stats=1 \
		-artifact_prefix=$(FUZZ_DIR)/ $(FUZZ_DIR)/vmx-corpus
	$(FUZZ_SEPT_BIN) -max_total_time=$(FUZZ_SECONDS) -max_len=1024 -print_final_stats=1 \
		-artifact_prefix=$(FUZZ_DIR)/ $(FUZZ_DIR)/sept-corpus

# For make test: a fresh corpus, a fixed seed, bounded time; exit status 0 means no invariant broke.
fuzz-smoke: $(FUZZ_BIN) $(FUZZ_VMX_BIN) $(FUZZ_SEPT_BIN)
	@rm -rf $(FUZZ_DIR)/smoke-corpus $(FUZZ_DIR)/vmx-smoke-corpus $(FUZZ_DIR)/sept-smoke-corpus
	@mkdir -p $(FUZZ_DIR)/smoke-corpus $(FUZZ_DIR)/vmx-smoke-corpus $(FUZZ_DIR)/sept-smoke-corpus
	$(FUZZ_BIN) -max_total_time=15 -seed=1 -max_len=512 -artifact_prefix=$(FUZZ_DIR)/ \
		$(FUZZ_DIR)/smoke-corpus
	$(FUZZ_VMX_BIN) -max_total_time=10 -seed=1 -max_len=2048 -artifact_prefix=$(FUZZ_DIR)/ \
		$(FUZZ_DIR)/vmx-smoke-corpus
	$(FUZZ_SEPT_BIN) -max_total_time=10 -seed=1 -max_len=1024 -artifact_prefix=$(FUZZ_DIR)/ \
		$(FUZZ_DIR)/sept-smoke-corpus
