"""After a large change set the store hands freed heap pages back (glibc keeps them otherwise)."""

from __future__ import annotations

import contextlib
import gc

from fuelhub_store.memory import gc_paused, release_freed_memory


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


def test_gc_paused_suspends_collection_and_restores_it() -> None:
    assert gc.isenabled()
    with gc_paused():
        assert not gc.isenabled()
        with gc_paused():
            assert not gc.isenabled()
        assert not gc.isenabled(), "the inner block must not resume collection for the outer"
    assert gc.isenabled()


def test_gc_paused_leaves_a_disabled_collector_disabled() -> None:
    gc.disable()
    try:
        with gc_paused():
            pass
        assert not gc.isenabled()
    finally:
        gc.enable()


def test_gc_paused_resumes_after_an_error() -> None:
    with contextlib.suppress(RuntimeError), gc_paused():
        raise RuntimeError("boom")
    assert gc.isenabled()
