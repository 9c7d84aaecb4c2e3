# Images for the VT-d tests (tests/e2e/test_iommu.py): the demo guest with the hypervisor's DMA test (VT-d on and off), and with iommu=required.
IOMMU_VARIANTS := hellodma hellodmaoff helloiommureq
hellodma_HV_ARGS      := debug_dma_test
hellodmaoff_HV_ARGS   := debug_dma_test iommu=off
helloiommureq_HV_ARGS := iommu=required

$(patsubst %,$(GUEST_DIR)/%.elf,$(IOMMU_VARIANTS)): $(GUEST_DIR)/hello.elf
	cp $< $@

images-hv: $(patsubst %,$(ISO_DIR)/hv-%.iso,$(IOMMU_VARIANTS))
