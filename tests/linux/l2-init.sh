#!/bin/busybox sh
# /init of L2, the Linux that QEMU/KVM boots inside L1: prints "L2: key=value" markers (CPU model, memory) and powers off.
/bin/busybox mkdir -p /proc /sys /dev
/bin/busybox --install -s /bin
export PATH=/bin

mount -t proc proc /proc
mount -t sysfs sysfs /sys

# "L2:" rather than L1's "LT:": both consoles end up in the same serial log (QEMU's -serial stdio is L1's console).
mark() { echo "L2: $*"; }

mark "init=reached uptime=$(cut -d' ' -f1 /proc/uptime)"
mark "kernel=$(uname -r)"
mark "cpus=$(grep -c '^processor' /proc/cpuinfo)"
mark "cpu_model=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1)"
mark "memtotal_kb=$(awk '/^MemTotal:/ {print $2}' /proc/meminfo)"
if grep -qw hypervisor /proc/cpuinfo; then mark "cpu_hypervisor=yes"; else mark "cpu_hypervisor=no"; fi
mark "tsc=$(dmesg | grep -m1 -o 'tsc: Detected .*' | sed 's/tsc: Detected //')"
mark "clocksource=$(cat /sys/devices/system/clocksource/clocksource0/current_clocksource 2>/dev/null)"
mark "hello=from-l2"
mark "poweroff=now uptime=$(cut -d' ' -f1 /proc/uptime)"
poweroff -f
# Only reached if ACPI soft-off did not end QEMU.
sleep 2
mark "poweroff=failed"
while true; do sleep 60; done
