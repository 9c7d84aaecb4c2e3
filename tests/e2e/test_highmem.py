"""Issue 8 item 16: L1 reads physical addresses above RAM and 4 GiB (4 GiB, 512 GiB, the top of MAXPHYADDR) as bare does."""
from runner import guest_pair_test

TESTS = [guest_pair_test("highmem", name="guest-highmem")]
