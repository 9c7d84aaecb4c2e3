#!/usr/bin/env python3
"""Retypes the hypervisor ELF's SHT_RELA/SHT_REL sections as SHT_PROGBITS, in place.

build/hv.elf relocates itself (boot/entry.S applies .rela.dyn), but GRUB's
multiboot2 loader refuses any ELF with a relocation section ("ELF files with
relocs are not supported yet"): the bytes stay, only the section type changes.
"""
import struct
import sys

SHT_PROGBITS, SHT_RELA, SHT_REL = 1, 4, 9


def main(path):
    with open(path, "r+b") as f:
        ehdr = f.read(64)
        if ehdr[:4] != b"\x7fELF" or ehdr[4] != 2 or ehdr[5] != 1:
            sys.exit("%s: not a little-endian ELF64 file" % path)
        shoff, = struct.unpack_from("<Q", ehdr, 0x28)
        shentsize, shnum = struct.unpack_from("<HH", ehdr, 0x3a)
        for i in range(shnum):
            f.seek(shoff + i * shentsize + 4)
            sh_type, = struct.unpack("<I", f.read(4))
            if sh_type in (SHT_RELA, SHT_REL):
                f.seek(shoff + i * shentsize + 4)
                f.write(struct.pack("<I", SHT_PROGBITS))


if __name__ == "__main__":
    main(sys.argv[1])
