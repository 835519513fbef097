"""Request counters and a ring log, so tests and benchmarks can assert what a job really sent.

Only `/stores` requests are counted: the `/_sandbox` control routes would otherwise pollute the
numbers a benchmark reads (e.g. "an export of N products costs ceil(N/10)+2 requests").
"""

from __future__ import annotations

import threading
from collections import deque
from typing import Any

LOG_SIZE = 10_000
METHODS = ("GET", "POST", "PUT", "DELETE")
CONTRACT_COUNTERS = ("checked", "refused", "request_violations", "responses_checked", "response_violations")


class Stats:
    """Counters plus the most recent requests; thread-safe."""

    def __init__(self, log_size: int = LOG_SIZE) -> None:
        self._lock = threading.Lock()
        self._log: deque[dict[str, Any]] = deque(maxlen=log_size)
        self._reset_counters()

    def _reset_counters(self) -> None:
        self.by_method = {m: 0 for m in METHODS}
        self.total = 0
        self.throttled = 0
        self.faults = 0
        self.writes = 0
        self.contract = dict.fromkeys(CONTRACT_COUNTERS, 0)

    def record(self, method: str, path: str, status: int | None, *, fault: str | None = None,
               throttled: bool = False, write: bool = False) -> None:
        """Count one finished request and append it to the log."""
        with self._lock:
            self.total += 1
            if method in self.by_method:  # other methods (HEAD, PATCH) count in the total only
                self.by_method[method] += 1
            self.throttled += throttled
            self.faults += fault is not None
            self.writes += write
            self._log.append({"method": method, "path": path, "status": status, "fault": fault})

    def record_contract(self, **counts: int) -> None:
        """Add to the spec-check counters (see `contract.py` and `tally.Tally` for their meaning)."""
        with self._lock:
            for name, n in counts.items():
                self.contract[name] += n

    def snapshot(self) -> dict[str, Any]:
        """The `/_sandbox/stats` body."""
        with self._lock:
            return {
                "requests": {"total": self.total, **self.by_method},
                "throttled": self.throttled,
                "faults": self.faults,
                "writes": self.writes,
                "contract": dict(self.contract),
            }

    def recent(self, limit: int) -> list[dict[str, Any]]:
        """The last `limit` requests, oldest first."""
        with self._lock:
            items = list(self._log)
        return items[-limit:] if limit > 0 else []

    def reset(self) -> None:
        with self._lock:
            self._reset_counters()
            self._log.clear()
