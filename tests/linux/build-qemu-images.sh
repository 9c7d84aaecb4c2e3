#!/usr/bin/env bash
# Builds the QEMU variant of the Linux test images: L1's initramfs plus QEMU, an L2 kernel and initramfs (initrd-qemu.gz, bare-qemu.iso).
#
# Usage: tests/linux/build-qemu-images.sh [OUTDIR]     (default build/linux; build-images.sh must have run there)
# QEMU is Debian 12's qemu-system-x86 as installed on this machine (scripts/deps.sh installs it): the
# binary, the shared libraries ldd names, and the three firmware files a -kernel/-initrd boot with
# -nodefaults opens (found with strace: SeaBIOS, linuxboot_dma.bin, kvmvapic.bin).
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
OUT=$(cd "${1:-$ROOT/build/linux}" && pwd)
QEMU=/usr/bin/qemu-system-x86_64
FIRMWARE="/usr/share/seabios/bios-256k.bin /usr/share/qemu/linuxboot_dma.bin /usr/share/qemu/kvmvapic.bin"

log() { echo "build-qemu-images: $*"; }
die() { echo "build-qemu-images: error: $*" >&2; exit 1; }

for f in "$OUT/vmlinuz" "$OUT/initramfs/init" "$OUT/pkg-busybox/bin/busybox"; do
	[ -e "$f" ] || die "missing $f (run tests/linux/build-images.sh $OUT first)"
done
[ -x "$QEMU" ] || die "missing $QEMU (Debian package qemu-system-x86; run: make deps)"
log "qemu: $(dpkg-query -W -f='${Package} ${Version}' qemu-system-x86 2>/dev/null || echo "$QEMU")"

# cpio newc, fixed owner, sorted names: reproducible, as build-images.sh packs initrd.gz.
pack() { (cd "$1" && find . -mindepth 1 | LC_ALL=C sort | cpio -o -H newc -R 0:0 --quiet) | gzip -9n >"$2"; }

# L2: busybox and an /init that prints its markers and powers off.
L2ROOT=$OUT/l2-initramfs
rm -rf "$L2ROOT"
mkdir -p "$L2ROOT/bin"
cp "$OUT/pkg-busybox/bin/busybox" "$L2ROOT/bin/busybox"
ln -s busybox "$L2ROOT/bin/sh"
install -m 0755 "$HERE/l2-init.sh" "$L2ROOT/init"
pack "$L2ROOT" "$OUT/l2-initrd.gz"

# L1: the ordinary initramfs plus QEMU, its libraries and firmware, /bin/run-l2 and L2's kernel and initrd.
ROOTFS=$OUT/initramfs-qemu
rm -rf "$ROOTFS"
cp -a "$OUT/initramfs" "$ROOTFS"
mkdir -p "$ROOTFS/usr/bin" "$ROOTFS/usr/share/qemu" "$ROOTFS/usr/share/seabios" "$ROOTFS/l2"
cp "$QEMU" "$ROOTFS/usr/bin/"
ln -s ../usr/bin/qemu-system-x86_64 "$ROOTFS/bin/qemu-system-x86_64"
# Each library at the path ldd resolved it to (the loader's own default directories), symlinks followed.
libs=$(ldd "$QEMU" | awk '$2 == "=>" && $3 ~ /^\// {print $3} $1 ~ /^\/.*ld-linux/ {print $1}')
[ -n "$libs" ] || die "ldd found no libraries for $QEMU"
if ldd "$QEMU" | grep -q 'not found'; then die "ldd: $(ldd "$QEMU" | grep 'not found' | head -n 3)"; fi
for lib in $libs; do
	mkdir -p "$ROOTFS$(dirname "$lib")"
	cp -L "$lib" "$ROOTFS$lib"
done
for fw in $FIRMWARE; do
	[ -e "$fw" ] || die "missing QEMU firmware $fw"
	cp -L "$fw" "$ROOTFS$(dirname "$fw")/"
done
cp "$OUT/vmlinuz" "$ROOTFS/l2/vmlinuz"
cp "$OUT/l2-initrd.gz" "$ROOTFS/l2/initrd.gz"
install -m 0755 "$HERE/run-l2.sh" "$ROOTFS/bin/run-l2"
log "qemu files: $(echo "$libs" | wc -w) libraries, $(du -sk "$ROOTFS/usr" "$ROOTFS/lib" "$ROOTFS/lib64" | awk '{s+=$1} END {print s}') KiB"

# The copied tree must run on its own: its loader, its libraries only.
"$ROOTFS/lib64/ld-linux-x86-64.so.2" --inhibit-cache --library-path "$ROOTFS/lib/x86_64-linux-gnu" \
	"$ROOTFS/usr/bin/qemu-system-x86_64" --version >/dev/null || die "the copied QEMU does not start"

pack "$ROOTFS" "$OUT/initrd-qemu.gz"
log "initrd-qemu.gz: $(stat -c %s "$OUT/initrd-qemu.gz") bytes"

# The bare ISO, as build-images.sh makes bare.iso (same command line) but with the QEMU initrd.
ISODIR=$OUT/iso-bare-qemu
rm -rf "$ISODIR"
mkdir -p "$ISODIR/boot/grub"
cp "$OUT/vmlinuz" "$ISODIR/boot/vmlinuz"
cp "$OUT/initrd-qemu.gz" "$ISODIR/boot/initrd.gz"
cp "$OUT/iso-bare/boot/grub/grub.cfg" "$ISODIR/boot/grub/grub.cfg"
grub-mkrescue -d /usr/lib/grub/i386-pc -o "$OUT/bare-qemu.iso" "$ISODIR" \
	--install-modules="normal linux serial terminal gzio" \
	--locales= --fonts= --themes= >"$OUT/grub-mkrescue-qemu.log" 2>&1 ||
	{ cat "$OUT/grub-mkrescue-qemu.log" >&2; die "grub-mkrescue failed"; }
log "bare ISO: $OUT/bare-qemu.iso"
