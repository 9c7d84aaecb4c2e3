# Host tests for VT-d: the DMAR parser on good and broken tables, the translation structures, fault decoding, iommu=, the registers' claim.
UNIT_TESTS += test_iommu_dmar test_iommu_tables test_iommu_mm
test_iommu_dmar_SRCS   := tests/unit/test_iommu_dmar.c hv/iommu/dmar.c
test_iommu_tables_SRCS := tests/unit/test_iommu_tables.c hv/iommu/vtd_tables.c hv/cmdline.c hv/string.c


test_iommu_mm_SRCS     := tests/unit/test_iommu_mm.c hv/mm.c hv/memmap.c hv/cmdline.c tests/unit/fakes_core.c hv/string.c
