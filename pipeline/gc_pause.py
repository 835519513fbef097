"""Pause Python's cyclic garbage collector while a large workbook is read, checked or planned.

Reading a 100k-value workbook creates millions of objects (a list per row, a tuple per column,
pandas arrays) that hold no reference cycles. The allocations still count towards the
collector's thresholds, so CPython runs several full collections during a read, and each one
walks every tracked object of the process, the rows being built included. On the benchmark
workbook that was about a third of read + validate + plan (6.0 s -> 4.0 s without it).
Reference counting still frees everything as usual; only cycle detection waits until the end.
The collector is process-wide: other threads run without it for those few seconds too.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def gc_paused() -> Iterator[None]:
    """Disable the cyclic collector inside the block (or the decorated function), re-enable it after.

    Nests, and leaves the collector off when it was off before (the caller's choice is kept).
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()
