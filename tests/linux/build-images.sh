#!/usr/bin/env bash
# Builds the Linux test images from Debian packages: vmlinuz, initrd.gz (busybox /init, KVM modules, kvmtest) and a bare GRUB ISO.
#
# Usage: tests/linux/build-images.sh [OUTDIR]     (default build/linux)
# Downloads are cached in tests/linux/cache/ (gitignored), so only the first
# run needs the network; later runs rebuild from the cache, offline.
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
OUT=${1:-$ROOT/build/linux}
CACHE=${LINUX_CACHE:-$HERE/cache}
mkdir -p "$OUT" "$CACHE"
OUT=$(cd "$OUT" && pwd)

log() { echo "build-images: $*"; }
die() { echo "build-images: error: $*" >&2; exit 1; }

for tool in apt-get dpkg-deb cpio gzip strip gcc grub-mkrescue xorriso; do
	command -v "$tool" >/dev/null || die "missing tool '$tool' (run: make deps)"
done

# The newest Debian 6.1 kernel in the package lists; the lists are fetched once if empty.
pick_kernel_pkg() {
	local names
	names=$(apt-cache pkgnames linux-image-6.1. 2>/dev/null |
		grep -E '^linux-image-6\.1\.[0-9]+-[0-9]+-amd64$' | sort -V || true)
	if [ -z "$names" ] && [ "$(id -u)" -eq 0 ]; then
		log "package lists are empty: apt-get update" >&2
		apt-get update -q >&2
		names=$(apt-cache pkgnames linux-image-6.1. |
			grep -E '^linux-image-6\.1\.[0-9]+-[0-9]+-amd64$' | sort -V || true)
	fi
	echo "$names" | tail -n 1
}

# A cached .deb of PKG (any version), downloading it into the cache if there is none.
fetch_deb() {
	local pkg=$1 deb
	deb=$(ls "$CACHE"/"${pkg}"_*.deb 2>/dev/null | sort -V | tail -n 1 || true)
	if [ -z "$deb" ]; then
		log "downloading $pkg" >&2
		(cd "$CACHE" && apt-get download -q "$pkg" >&2) || die "apt-get download $pkg failed"
		deb=$(ls "$CACHE"/"${pkg}"_*.deb | sort -V | tail -n 1)
	fi
	echo "$deb"
}

# The cache decides the kernel once downloaded, so later runs stay offline and reproducible.
KDEB=$(ls "$CACHE"/linux-image-6.1.*-amd64_*.deb 2>/dev/null | grep -v -- '-unsigned_' | sort -V | tail -n 1 || true)
if [ -z "$KDEB" ]; then
	KPKG=$(pick_kernel_pkg)
	[ -n "$KPKG" ] || die "no linux-image-6.1.*-amd64 package in the apt lists"
	KDEB=$(fetch_deb "$KPKG")
fi
BDEB=$(fetch_deb busybox-static)
log "kernel package: $(basename "$KDEB")"
log "busybox package: $(basename "$BDEB")"

# Extract each package once per .deb (stamp file names the .deb).
extract() {
	local deb=$1 dir=$2
	if [ ! -f "$dir/.from" ] || [ "$(cat "$dir/.from")" != "$(basename "$deb")" ]; then
		rm -rf "$dir"
		mkdir -p "$dir"
		dpkg-deb -x "$deb" "$dir"
		basename "$deb" >"$dir/.from"
	fi
}
extract "$KDEB" "$OUT/pkg-kernel"
extract "$BDEB" "$OUT/pkg-busybox"

VMLINUZ=$(ls "$OUT"/pkg-kernel/boot/vmlinuz-* | head -n 1)
KVER=${VMLINUZ##*/vmlinuz-}
MODDIR=$OUT/pkg-kernel/lib/modules/$KVER/kernel
cp "$VMLINUZ" "$OUT/vmlinuz"
echo "$KVER" >"$OUT/kernel-version"
log "kernel $KVER"

# A module as a plain .ko with debug info stripped (Debian ships .ko, newer ones .ko.xz/.ko.zst).
get_module() {
	local rel=$1 dst=$2 src
	for ext in "" .xz .zst; do
		src=$MODDIR/$rel.ko$ext
		[ -f "$src" ] || continue
		case $ext in
		.xz) xz -dc "$src" >"$dst" ;;
		.zst) zstd -qdc "$src" >"$dst" ;;
		*) cp "$src" "$dst" ;;
		esac
		strip --strip-debug "$dst"
		return 0
	done
	die "module $rel not found under $MODDIR"
}

ROOTFS=$OUT/initramfs
rm -rf "$ROOTFS"
mkdir -p "$ROOTFS"/{bin,dev,proc,sys,tmp,lib/modules}
get_module virt/lib/irqbypass "$ROOTFS/lib/modules/irqbypass.ko"
get_module arch/x86/kvm/kvm "$ROOTFS/lib/modules/kvm.ko"
get_module arch/x86/kvm/kvm-intel "$ROOTFS/lib/modules/kvm-intel.ko"
cp "$OUT/pkg-busybox/bin/busybox" "$ROOTFS/bin/busybox"
ln -s busybox "$ROOTFS/bin/sh"
install -m 0755 "$HERE/init.sh" "$ROOTFS/init"

gcc -static -O2 -Wall -Wextra -Werror -pthread -o "$ROOTFS/bin/kvmtest" "$HERE/kvmtest.c" "$HERE/kvmtest_vm2.c" \
	"$HERE/kvmtest_stats.c"
strip "$ROOTFS/bin/kvmtest"

# cpio newc as the kernel's initramfs unpacker expects; fixed owner and sorted names keep it reproducible.
(cd "$ROOTFS" && find . -mindepth 1 | LC_ALL=C sort |
	cpio -o -H newc -R 0:0 --quiet) | gzip -9n >"$OUT/initrd.gz"
log "initrd.gz: $(stat -c %s "$OUT/initrd.gz") bytes"

# The bare ISO: GRUB's own linux/initrd commands, so the same kernel runs without the hypervisor.
CMDLINE_FILE=$HERE/cmdline
BARE_CMDLINE="$(cat "$CMDLINE_FILE") clearcpuid=fsrm"
ISODIR=$OUT/iso-bare
rm -rf "$ISODIR"
mkdir -p "$ISODIR/boot/grub"
cp "$OUT/vmlinuz" "$OUT/initrd.gz" "$ISODIR/boot/"
cat >"$ISODIR/boot/grub/grub.cfg" <<CFG
set timeout=0
serial --unit=0 --speed=115200
terminal_input serial
terminal_output serial
linux /boot/vmlinuz $BARE_CMDLINE
initrd /boot/initrd.gz
boot
CFG
grub-mkrescue -d /usr/lib/grub/i386-pc -o "$OUT/bare.iso" "$ISODIR" \
	--install-modules="normal linux serial terminal gzio" \
	--locales= --fonts= --themes= >"$OUT/grub-mkrescue.log" 2>&1 ||
	{ cat "$OUT/grub-mkrescue.log" >&2; die "grub-mkrescue failed"; }
log "bare ISO: $OUT/bare.iso"
