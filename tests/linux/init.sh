#!/bin/busybox sh
# /init of the Linux test initramfs: prints "LT:" markers for the e2e tests and the bench, loads KVM, runs kvmtest (and QEMU's L2 if present), powers off.
/bin/busybox mkdir -p /proc /sys /dev
/bin/busybox --install -s /bin
export PATH=/bin

mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev

# Every marker is one line "LT: key=value" so a test can parse it without the kernel's log around it.
mark() { echo "LT: $*"; }

mark "init=reached uptime=$(cut -d' ' -f1 /proc/uptime)"
mark "kernel=$(uname -r)"
mark "cpus=$(grep -c '^processor' /proc/cpuinfo)"
mark "memtotal_kb=$(awk '/^MemTotal:/ {print $2}' /proc/meminfo)"
if grep -qw vmx /proc/cpuinfo; then mark "cpu_vmx=yes"; else mark "cpu_vmx=no"; fi
mark "cmdline=$(cat /proc/cmdline)"
# Devices as the kernel found them: PCI vendor:device pairs, serial ports with a UART, block devices.
pci=$(for d in /sys/bus/pci/devices/*; do
	[ -e "$d/vendor" ] && echo "$(cat "$d/vendor"):$(cat "$d/device")"
done | sort | tr '\n' ' ')
mark "pci=${pci% }"
ttys=$(grep -v 'uart:unknown' /proc/tty/driver/serial 2>/dev/null | grep -o '^[0-9]*:' | tr -d ':' | tr '\n' ' ')
mark "serial=${ttys% }"
blk=$(ls /sys/block 2>/dev/null | tr '\n' ' ')
mark "block=${blk% }"

kvm_ok=1
for m in irqbypass kvm kvm-intel; do
	if out=$(insmod /lib/modules/$m.ko 2>&1); then
		mark "insmod_$m=ok"
	else
		mark "insmod_$m=fail $out"
		kvm_ok=0
	fi
done
if [ $kvm_ok = 0 ]; then
	# The kernel says why (e.g. "kvm: no hardware support"): show its KVM lines for the test to match.
	dmesg | grep -i -E 'kvm|vmx' | sed 's/^/LT: dmesg: /'
fi
P=/sys/module/kvm_intel/parameters
params=""
for p in ept unrestricted_guest vpid pml enable_apicv flexpriority enable_shadow_vmcs; do
	[ -r $P/$p ] && params="$params $p=$(cat $P/$p)"
done
mark "kvm_intel_params=${params# }"
if [ -c /dev/kvm ]; then
	mark "kvmtest=start uptime=$(cut -d' ' -f1 /proc/uptime)"
	/bin/kvmtest
	mark "kvmtest_end=rc=$? uptime=$(cut -d' ' -f1 /proc/uptime)"
else
	mark "kvmtest=skipped no /dev/kvm"
fi
# Only the *-qemu images have it (tests/linux/build-qemu-images.sh): QEMU/KVM boots Linux as L2.
if [ -x /bin/run-l2 ]; then
	/bin/run-l2
fi
mark "poweroff=now uptime=$(cut -d' ' -f1 /proc/uptime)"
poweroff -f
# Only reached if ACPI soft-off did not end the machine.
sleep 2
mark "poweroff=failed"
while true; do sleep 60; done
