"""Ctrl-C during an apply: finish the writes in flight, start no new one, keep the journal resumable.

Killing an apply between a write and its journal record leaves an ambiguous operation that the
next run must settle by reading the store; stopping at an operation boundary leaves none. So the
first SIGINT (or SIGTERM) only asks the run to stop (`StopRequest`): operations already talking
to the store finish and are journaled, the others end as not attempted, the results so far are
written and the same command resumes. A second signal stops at once (`KeyboardInterrupt`); the
journal is still sound, only a few operations may need their natural-key check on resume.
"""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Callable, Iterator
from contextlib import contextmanager

INTERRUPTED_MESSAGE = "not attempted: the run was interrupted; run the same command to resume"


class StopRequest:
    """Asked for by a signal (or a caller); the executor checks it before each operation."""

    def __init__(self) -> None:
        self.requested = False
        self.reason = ""

    def request(self, reason: str = "interrupted") -> None:
        self.requested = True
        self.reason = self.reason or reason

    def __bool__(self) -> bool:
        return self.requested


@contextmanager
def stop_on_signals(stop: StopRequest, *, on_first: Callable[[str], None] | None = None,
                    signals: tuple[signal.Signals, ...] = (signal.SIGINT, signal.SIGTERM)) -> Iterator[StopRequest]:
    """Within the running event loop: the first of `signals` sets `stop` (and calls `on_first` with the
    signal's name), a second raises KeyboardInterrupt. Where the loop cannot take signal handlers
    (Windows, a thread other than the main one) the signals keep their usual meaning."""
    loop = asyncio.get_running_loop()
    installed: list[signal.Signals] = []

    def handler(signum: signal.Signals) -> None:
        if stop.requested:
            raise KeyboardInterrupt
        stop.request(signum.name)
        if on_first is not None:
            on_first(signum.name)

    for signum in signals:
        try:
            loop.add_signal_handler(signum, handler, signum)
        except (NotImplementedError, RuntimeError, ValueError):
            continue
        installed.append(signum)
    try:
        yield stop
    finally:
        for signum in installed:
            loop.remove_signal_handler(signum)
