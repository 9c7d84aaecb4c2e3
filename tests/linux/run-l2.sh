#!/bin/busybox sh
# /bin/run-l2 in L1's QEMU initramfs: boots the same Debian kernel as L2 under QEMU/KVM (console on L1's console), marks start and exit.
# init.sh runs it after kvmtest when it is present (only the *-qemu images have it).
mark() { echo "LT: $*"; }

if [ ! -c /dev/kvm ]; then
	mark "qemu=skipped no /dev/kvm"
	exit 1
fi
# -no-reboot and panic=-1: a panicking L2 ends QEMU instead of rebooting forever.
L2_CMDLINE="console=ttyS0,115200 earlyprintk=serial,ttyS0,115200 loglevel=5 nokaslr mitigations=off tsc=reliable no_timer_check cryptomgr.notests rdinit=/init panic=-1"
# L1's TSC rate: guest uptimes are TSC-derived, and L2's kvm-clock runs on the rate L1 found.
mark "tsc=$(dmesg | grep -m1 -o 'tsc: Detected .*' | sed 's/tsc: Detected //')"
mark "qemu=start uptime=$(cut -d' ' -f1 /proc/uptime)"
qemu-system-x86_64 -enable-kvm -cpu host -m 128 -nographic -nodefaults -serial stdio -no-reboot \
	-kernel /l2/vmlinuz -initrd /l2/initrd.gz -append "$L2_CMDLINE" </dev/null
rc=$?
mark "qemu=exit status=$rc uptime=$(cut -d' ' -f1 /proc/uptime)"
exit $rc
