/* VT-d remapping-unit registers, table entries and invalidation descriptors (VT-d spec 3.4-3.6, 5.1, 6.5, 9, 11.4). */
#ifndef HV_IOMMU_VTD_REGS_H
#define HV_IOMMU_VTD_REGS_H

#include "hv/types.h"

/* Register offsets, spec 11.4 Table 11-1. */
#define VTD_VER     0x00
#define VTD_CAP     0x08
#define VTD_ECAP    0x10
#define VTD_GCMD    0x18
#define VTD_GSTS    0x1c
#define VTD_RTADDR  0x20
#define VTD_CCMD    0x28
#define VTD_FSTS    0x34
#define VTD_FECTL   0x38
#define VTD_FEDATA  0x3c
#define VTD_FEADDR  0x40
#define VTD_FEUADDR 0x44
#define VTD_PMEN    0x64
#define VTD_IQH     0x80
#define VTD_IQT     0x88
#define VTD_IQA     0x90
#define VTD_ICS     0x9c
#define VTD_IRTA    0xb8

/* CAP (11.4.2): SAGAW 12:8, MGAW 21:16, FRO 33:24 (x16), SLLPS 37:34, NFR 47:40 (+1). */
#define VTD_CAP_SAGAW(c)  (((c) >> 8) & 0x1f)
#define VTD_CAP_MGAW(c)   ((unsigned int)(((c) >> 16) & 0x3f) + 1)
#define VTD_CAP_FRO(c)    ((((c) >> 24) & 0x3ff) * 16)
#define VTD_CAP_SLLPS_2M  BIT(34)
#define VTD_CAP_SLLPS_1G  BIT(35)
#define VTD_CAP_NFR(c)    ((unsigned int)(((c) >> 40) & 0xff) + 1)
#define VTD_CAP_CM        BIT(7)
#define VTD_CAP_RWBF      BIT(4)
#define VTD_CAP_PLMR      BIT(5)
#define VTD_CAP_PHMR      BIT(6)
#define VTD_SAGAW_3LEVEL  BIT(1) /* 39-bit */
#define VTD_SAGAW_4LEVEL  BIT(2) /* 48-bit */

/* ECAP (11.4.3): QI bit 1, IR bit 3, EIM bit 4, IRO 17:8 (x16). */
#define VTD_ECAP_QI       BIT(1)
#define VTD_ECAP_IR       BIT(3)
#define VTD_ECAP_EIM      BIT(4)
#define VTD_ECAP_IRO(e)   ((((e) >> 8) & 0x3ff) * 16)

/* GCMD/GSTS (11.4.4, 11.4.5): the same bit positions; TE, QIE, IRE and CFI are states, the others one-shots. */
#define VTD_GCMD_TE    BIT(31)
#define VTD_GCMD_SRTP  BIT(30)
#define VTD_GCMD_WBF   BIT(27)
#define VTD_GCMD_QIE   BIT(26)
#define VTD_GCMD_IRE   BIT(25)
#define VTD_GCMD_SIRTP BIT(24)
#define VTD_GCMD_CFI   BIT(23)
#define VTD_GSTS_STATE (VTD_GCMD_TE | VTD_GCMD_QIE | VTD_GCMD_IRE | VTD_GCMD_CFI)

/* PMEN (11.4.16): enable bit 31, status bit 0. */
#define VTD_PMEN_EPM   BIT(31)
#define VTD_PMEN_PRS   BIT(0)

/* CCMD (11.4.7) and IOTLB_REG (11.4.8.1), register-based invalidation. */
#define VTD_CCMD_ICC        BIT(63)
#define VTD_CCMD_GLOBAL     (1ULL << 61)
#define VTD_IOTLB_IVT       BIT(63)
#define VTD_IOTLB_GLOBAL    (1ULL << 60)
#define VTD_IOTLB_DR        BIT(49)
#define VTD_IOTLB_DW        BIT(48)

/* FSTS (11.4.9.1) and FECTL (11.4.9.2). */
#define VTD_FSTS_PFO   BIT(0)
#define VTD_FSTS_PPF   BIT(1)
#define VTD_FSTS_IQE   BIT(4)
#define VTD_FSTS_FRI(s) (((s) >> 8) & 0xff)
#define VTD_FECTL_IM   BIT(31)

/* Fault recording register, upper 64 bits (11.4.9.5): F, T (1 = read), FR 39:32, SID 15:0. */
#define VTD_FRCD_F       BIT(63)
#define VTD_FRCD_READ    BIT(62)
#define VTD_FRCD_FR(hi)  ((uint8_t)((hi) >> 32))
#define VTD_FRCD_SID(hi) ((uint16_t)(hi))

/* IRTA (11.4.10.1): table address, EIME bit 11, size S (2^(S+1) entries) in 3:0. */
#define VTD_IRTA_EIME   BIT(11)
#define VTD_IRT_SIZE_S  7 /* 256 entries of 16 bytes: one page */
#define VTD_IRT_ENTRIES (1u << (VTD_IRT_SIZE_S + 1))

/* Root and context entries (9.1, 9.3), legacy mode: 16 bytes each, 256 per page. */
#define VTD_ENTRY_PRESENT BIT(0)
#define VTD_CTX_TT_UNTRANSLATED (0ULL << 2) /* untranslated requests walk the second-level tables */
#define VTD_CTX_AW_3LEVEL 1
#define VTD_CTX_AW_4LEVEL 2
#define VTD_CTX_DID_SHIFT 8

/* Second-level paging entries (9.8): R, W, PS; bits 6:3 and 11 left zero (reserved without ECAP.MT/SC). */
#define VTD_SL_R    BIT(0)
#define VTD_SL_W    BIT(1)
#define VTD_SL_PS   BIT(7)
#define VTD_SL_ADDR 0x000ffffffffff000ULL

/* Queued-invalidation descriptors (6.5.2), 128-bit: type in 3:0. */
#define VTD_QI_CC           0x1
#define VTD_QI_IOTLB        0x2
#define VTD_QI_IEC          0x4
#define VTD_QI_WAIT         0x5
#define VTD_QI_GLOBAL       (1ULL << 4) /* context-cache and IOTLB granularity 01b; IEC G=0 is global */
#define VTD_QI_IOTLB_DR     BIT(7)
#define VTD_QI_IOTLB_DW     BIT(6)
#define VTD_QI_WAIT_SW      BIT(5)
#define VTD_QI_WAIT_DATA(x) ((uint64_t)(x) << 32)
#define VTD_QI_ENTRIES      256 /* one page of 16-byte descriptors, IQA.QS = 0 */

#endif
