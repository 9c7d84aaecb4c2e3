#!/usr/bin/env bash
# Static analysis over the hypervisor's and the host tests' C: cppcheck and clang-tidy, failing on any finding.
set -u
cd "$(dirname "$0")/.."
scripts/deps.sh --check-tools >/dev/null || exit 1

mapfile -t KSRC < <(ls boot/*.c hv/*.c hv/loader/*.c hv/vmx/*.c hv/nested/*.c hv/iommu/*.c 2>/dev/null)
status=0

echo "check: cppcheck over ${#KSRC[@]} files"
cppcheck --quiet --error-exitcode=1 --enable=warning,performance,portability \
	--inline-suppr --std=c11 -I. -D__x86_64__ \
	--suppress=missingIncludeSystem "${KSRC[@]}" || status=1

# The analyser sees the freestanding build's flags. Left out: checks that flag the kernel idiom
# (if (memcmp(...)), (unsigned long long) casts of uint64_t for %llx, implicit narrowing of register values),
# and valist.Uninitialized, which cannot follow a va_list handed to a callee (every printf-like formatter trips it).
TIDY_CHECKS='-*,bugprone-*,clang-analyzer-*,-bugprone-easily-swappable-parameters,-bugprone-reserved-identifier,-clang-analyzer-security.insecureAPI.*,-bugprone-narrowing-conversions,-bugprone-implicit-widening-of-multiplication-result,-bugprone-suspicious-string-compare,-bugprone-misplaced-widening-cast,-clang-analyzer-valist.Uninitialized'
echo "check: clang-tidy over ${#KSRC[@]} files"
out=$(clang-tidy --quiet --checks="$TIDY_CHECKS" --warnings-as-errors='*' "${KSRC[@]}" -- \
	-std=gnu11 -I. -ffreestanding -mno-red-zone -mgeneral-regs-only 2>&1)
rc=$?
printf '%s\n' "$out" | grep -v -E '^[0-9]+ warnings? generated|^Suppressed [0-9]+ warnings|^Use -header-filter|^$' || true
[ $rc -eq 0 ] || status=1

# The UEFI loader: built with GNU-EFI's headers, outside the hypervisor image.
mapfile -t ESRC < <(ls boot/efi/*.c 2>/dev/null)
if [ ${#ESRC[@]} -gt 0 ]; then
	echo "check: cppcheck and clang-tidy over ${#ESRC[@]} UEFI loader files"
	cppcheck --quiet --error-exitcode=1 --enable=warning,performance,portability --inline-suppr --std=c11 \
		-I. -I/usr/include/efi -I/usr/include/efi/x86_64 -D__x86_64__ -D__GNUC__=12 -D__GNUC_MINOR__=2 -DGNU_EFI_USE_MS_ABI \
		--suppress=missingIncludeSystem "${ESRC[@]}" || status=1
	out=$(clang-tidy --quiet --checks="$TIDY_CHECKS" --warnings-as-errors='*' "${ESRC[@]}" -- \
		-std=gnu11 -I. -I/usr/include/efi -I/usr/include/efi/x86_64 -fshort-wchar -mno-red-zone \
		-DGNU_EFI_USE_MS_ABI 2>&1)
	rc=$?
	printf '%s\n' "$out" | grep -v -E '^[0-9]+ warnings? generated|^Suppressed [0-9]+ warnings|^Use -header-filter|^$' || true
	[ $rc -eq 0 ] || status=1
fi

[ $status -eq 0 ] && echo "check: clean"
exit $status
