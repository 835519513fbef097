"""Import modules in a background thread while the caller waits on the network.

A small export spends most of its wall time waiting for the store, and a third of a second of
CPU importing pandas and the workbook writer that it needs only once the pages are in. Started
before the first request, the imports run while the requests are in flight; a thread suffices
because waiting on a socket releases the GIL.

Python's per-module import locks make this safe: code that imports one of these modules before
the thread is done waits for it, and never sees a half-initialised module.

The cyclic collector is paused while the modules load and their objects are frozen after
(`gc.freeze`): they live as long as the process, and each full collection would walk every one of
them again (two such collections were 80 ms of a 300-product export). Reference counting frees
everything else as always; only cycle detection waits for the imports (a fraction of a second).
When every module is loaded already (a notebook's or a worker's second export) nothing of this
happens, so a long-lived process freezes at most once.
"""

from __future__ import annotations

import gc
import importlib
import sys
import threading
from collections.abc import Sequence


def import_ahead(modules: Sequence[str]) -> threading.Thread:
    """Start importing `modules` (dotted names) in a daemon thread, and return it (`join()` to wait).

    An import that fails here is left alone: the caller's own import of that module raises the same
    error, with its traceback, where the caller can handle it.
    """
    missing = [name for name in modules if name not in sys.modules]

    def run() -> None:
        if not missing:
            return
        collecting = gc.isenabled()
        gc.disable()
        try:
            for name in missing:
                try:
                    importlib.import_module(name)
                except Exception:  # noqa: BLE001, S112 - the caller's own import reports it
                    continue
        finally:
            gc.freeze()
            if collecting:
                gc.enable()

    thread = threading.Thread(target=run, name="bcmod-import-ahead", daemon=True)
    thread.start()
    return thread
