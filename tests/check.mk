# Static analysis: make check.
.PHONY: check
check:
	@scripts/check.sh
