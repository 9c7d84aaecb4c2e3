#!/usr/bin/env bash
# Installs the Debian packages the build and the tests need, if any is missing.
set -eu

PKGS=(gcc make binutils python3 libcmocka-dev clang
      bochs bochsbios vgabios
      qemu-system-x86 ovmf gnu-efi
      grub-common grub-pc-bin grub-efi-amd64-bin xorriso mtools
      cpio busybox-static xz-utils kmod)
[ "${1:-}" = "--check-tools" ] && PKGS+=(cppcheck clang-tidy)

missing=()
for p in "${PKGS[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

echo "deps: missing Debian packages: ${missing[*]}"
if [ "$(id -u)" -ne 0 ]; then
	echo "deps: run as root:  apt-get update && apt-get install -y ${missing[*]}"
	exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -q
apt-get install -y -q --no-install-recommends "${missing[@]}"
