/* Assembler helpers shared by the boot entries and the AP trampoline. */
#ifndef BOOT_ASM_H
#define BOOT_ASM_H

#define BOOT_CS 0x08
#define BOOT_DS 0x10

/* After a far jump into 64-bit code: flat data segments, FS/GS null (their bases come from MSRs). */
.macro LOAD_BOOT_DATA_SEGMENTS
	movw $BOOT_DS, %ax
	movw %ax, %ds
	movw %ax, %es
	movw %ax, %ss
	xorw %ax, %ax
	movw %ax, %fs
	movw %ax, %gs
.endm

#endif
