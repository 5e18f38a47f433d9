"""Giving memory back to the system after a large change set.

Applying a first sync of 100,000 stations builds a few hundred MB of short-lived rows. Python
frees them, but glibc keeps the freed heap pages mapped, so the store's resident size stayed at
its peak (276 MB at 100,000 stations, against a 200 MB budget per service) long after.
``malloc_trim(0)`` returns those pages; it costs milliseconds, so it runs only after multi-part
(large) change sets.

The cyclic garbage collector is paused while a message is handled (:func:`gc_paused`): a large
part allocates hundreds of thousands of tuples, Decimals and models that all stay alive until the
set is applied, and every automatic collection re-scans them. At 100,000 price lists that scanning
took three quarters of the decoding time. Nothing in handling a message relies on cycles being
collected, and the collector resumes as soon as the message is done.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import gc
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache
from typing import Any

# The collector is process-wide state: so is the record of who paused it.
_depth = 0
_resume = False


@cache
def _libc() -> Any | None:
    name = ctypes.util.find_library("c")
    if name is None:
        return None
    try:
        libc = ctypes.CDLL(name)
        return libc if hasattr(libc, "malloc_trim") else None
    except OSError:
        return None


def release_freed_memory() -> bool:
    """Collect cycles and hand freed heap pages back to the OS; False where libc cannot."""
    gc.collect()
    libc = _libc()
    if libc is None:  # not glibc (e.g. musl): nothing to do
        return False
    libc.malloc_trim(0)
    return True


@contextmanager
def gc_paused() -> Iterator[None]:
    """Suspend automatic cyclic collection for the block (nestable; restores the prior state)."""
    global _depth, _resume
    if _depth == 0:
        _resume = gc.isenabled()
        gc.disable()
    _depth += 1
    try:
        yield
    finally:
        _depth -= 1
        if _depth == 0 and _resume:
            gc.enable()
