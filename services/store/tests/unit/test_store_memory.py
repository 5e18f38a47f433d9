"""After a large change set the store hands freed heap pages back (glibc keeps them otherwise)."""

from __future__ import annotations

import gc

from fuelhub_store.memory import release_freed_memory


def _rss_mb() -> float:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    raise AssertionError("no VmRSS")


def test_freed_heap_is_returned_to_the_system() -> None:
    # Blocks of a few KB come from malloc's heap (not pymalloc's arenas, not mmap): freeing
    # them leaves the pages resident until malloc_trim.
    blocks = [bytes(3000) + i.to_bytes(4, "little") for i in range(60_000)]  # ≈ 180 MB
    keep = blocks[-1]  # a live block at the top of the heap: no plain brk shrink can help
    del blocks
    gc.collect()
    before = _rss_mb()
    assert release_freed_memory()
    after = _rss_mb()
    assert before - after > 100, f"RSS {before:.0f} MB -> {after:.0f} MB"
    assert keep[-4:] == (59_999).to_bytes(4, "little")
