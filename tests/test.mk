# The user-facing targets of issue 2: make test, make run, make bench (each installs missing packages first).

.PHONY: test run bench print-unit-bins
RUN_TIMEOUT ?= 300

test: deps
	@MAKE="$(MAKE)" BUILD="$(BUILD)" PYTHON="$(PYTHON)" tests/run-all.sh

# Boots the hypervisor with the nesting demo (a small L1 hypervisor whose L2 prints) and shows COM1 live.
run: deps
	$(MAKE) -j2 all guests $(ISO_DIR)/hv-nestdemo.iso
	$(PYTHON) tests/runner.py boot $(ISO_DIR)/hv-nestdemo.iso --live --timeout $(RUN_TIMEOUT)

bench: deps
	$(MAKE) -j2 $(ISO_DIR)/bare-bench.iso $(ISO_DIR)/hv-bench.iso $(ISO_DIR)/bare-benchipi.iso $(ISO_DIR)/hv-benchipi.iso \
		$(ISO_DIR)/bare-nestbench.iso $(ISO_DIR)/hv-nestbench.iso $(ISO_DIR)/hv-nestbench-noshadow.iso \
		$(ISO_DIR)/bare-vmxept-bench.iso $(ISO_DIR)/hv-vmxept-bench.iso
	$(PYTHON) tests/bench.py
ifneq ($(BENCH_LINUX),0)
	@echo "Linux as L1 (two Bochs boots of about a minute each; BENCH_LINUX=0 skips them):"
	@BUILD="$(BUILD)" PYTHON="$(PYTHON)" MAKE="$(MAKE)" tests/linux/bench-linux.sh
endif

# For tests/run-all.sh: the unit test binaries the Makefile knows about (stale files in build/unit are ignored).
print-unit-bins:
	@echo $(UNIT_BINS)
