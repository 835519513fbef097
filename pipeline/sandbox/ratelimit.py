"""BigCommerce's fixed-window rate limit, with the headers clients steer by.

A window of `window_ms` opens at the first request after the previous window ended and allows
`quota` requests. Every answer carries the four `X-Rate-Limit-*` headers so a client governor can
pace itself exactly as it would against a real store; an exhausted window answers 429.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

UNLIMITED_QUOTA = 1_000_000_000  # advertised when the sandbox runs without a quota


@dataclass(frozen=True)
class RateDecision:
    """The outcome of one request against the window."""

    allowed: bool
    left: int
    quota: int
    reset_ms: int
    window_ms: int

    def headers(self) -> dict[str, str]:
        return {
            "X-Rate-Limit-Requests-Left": str(self.left),
            "X-Rate-Limit-Requests-Quota": str(self.quota),
            "X-Rate-Limit-Time-Reset-Ms": str(self.reset_ms),
            "X-Rate-Limit-Time-Window-Ms": str(self.window_ms),
        }


class RateLimiter:
    """One store's window; thread-safe because a served sandbox may be read from tests too."""

    def __init__(self, quota: int | None, window_ms: int, clock: Callable[[], float] = time.monotonic) -> None:
        self.quota = quota
        self.window_ms = window_ms
        self._clock = clock
        self._lock = threading.Lock()
        self._window_start: float | None = None
        self._used = 0

    def take(self) -> RateDecision:
        """Count one request (unless the window is exhausted) and say whether it may proceed."""
        with self._lock:
            now = self._clock()
            window_s = self.window_ms / 1000
            if self._window_start is None or now - self._window_start >= window_s:
                self._window_start = now
                self._used = 0
            reset_ms = max(0, math.ceil((self._window_start + window_s - now) * 1000))
            quota = UNLIMITED_QUOTA if self.quota is None else self.quota
            allowed = self._used < quota
            if allowed:
                self._used += 1
            return RateDecision(allowed, max(0, quota - self._used), quota, reset_ms, self.window_ms)

    def reset(self) -> None:
        """Forget the current window (the next request opens a fresh one)."""
        with self._lock:
            self._window_start = None
            self._used = 0
