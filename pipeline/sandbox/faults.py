"""Seeded fault injection: the failures a real store produces, on demand and reproducibly.

Faults exercise the client's retry logic: 5xx and bare 429s arrive *before* the request is
processed (nothing was written, retrying is safe), while a dropped connection happens *after*
processing (the write happened but the client never heard), which is the case that makes
idempotent retries necessary. A crash makes the store drop everything after N writes, like a
process killed mid-run.
"""

from __future__ import annotations

import random
import threading
from dataclasses import dataclass

SERVER_ERROR_STATUSES = (500, 502, 503, 504)
BARE_429 = 429


class SandboxConnectionDropped(Exception):
    """Raised by the app when it simulates a dropped connection.

    In process, `SandboxTransport` turns it into `httpx.RemoteProtocolError`; over uvicorn the
    server wrapper swallows it after the response head was sent, so the socket just closes.
    """


@dataclass(frozen=True)
class FaultPlan:
    """The fault rates of one store."""

    latency_ms: float = 0
    rate_5xx: float = 0
    rate_429: float = 0
    rate_drop: float = 0
    crash_after_writes: int | None = None


class FaultInjector:
    """Decides, request by request, whether to inject a fault; deterministic for a given seed."""

    def __init__(self, plan: FaultPlan, seed: int) -> None:
        self.plan = plan
        self._rng = random.Random(seed)
        self._lock = threading.Lock()
        self._writes = 0

    @property
    def latency_s(self) -> float:
        return self.plan.latency_ms / 1000

    def before_processing(self) -> int | None:
        """A status to answer instead of processing (5xx or bare 429), or None to go on."""
        if not (self.plan.rate_5xx or self.plan.rate_429):
            return None
        with self._lock:
            draw = self._rng.random()
            if draw < self.plan.rate_5xx:
                return self._rng.choice(SERVER_ERROR_STATUSES)
            if draw < self.plan.rate_5xx + self.plan.rate_429:
                return BARE_429
        return None

    def drop_after_processing(self) -> bool:
        """Whether to drop the connection once the request has been processed."""
        if not self.plan.rate_drop:
            return False
        with self._lock:
            return self._rng.random() < self.plan.rate_drop

    @property
    def crashed(self) -> bool:
        """True once `crash_after_writes` successful writes have happened."""
        limit = self.plan.crash_after_writes
        return limit is not None and self._writes >= limit

    def note_write(self) -> None:
        with self._lock:
            self._writes += 1

    def reset(self) -> None:
        """Forget the writes seen so far (a reset store comes back from a simulated crash)."""
        with self._lock:
            self._writes = 0
