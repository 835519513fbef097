"""When to try a request again, and how long to wait first.

The rules: a 429 is always retried, after the rate governor's wait (the store refused the request
before doing anything, so sending it again is safe); 500/502/503/504 and dropped connections are
retried with exponential backoff and full jitter, but only for idempotent methods, because the
store may have carried the request out before failing: a POST that may have reached the server is
an `AmbiguousWriteError` for the caller to reconcile (sending it again could create a duplicate),
unless the caller vouches for it with `idempotent=True` (it guards creates by natural key). A
connection that never opened is always retried: nothing was sent. Everything else (another 4xx:
the request itself is wrong) is final.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from enum import Enum

import httpx

IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE"})
RETRIABLE_STATUSES = frozenset({500, 502, 503, 504})
#: the request never left: the connection or a pooled slot could not be had
NOT_SENT_ERRORS: tuple[type[Exception], ...] = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)
#: the request may have reached the server before the connection failed
MAYBE_SENT_ERRORS: tuple[type[Exception], ...] = (
    httpx.ReadError, httpx.WriteError, httpx.RemoteProtocolError, httpx.ReadTimeout, httpx.WriteTimeout,
)


class Decision(Enum):
    """What to do after a failed attempt."""

    RETRY_AFTER_GOVERNOR = "retry once the rate governor admits it"  # 429: the wait is shared
    RETRY_AFTER_BACKOFF = "retry after an exponential backoff"
    AMBIGUOUS = "stop: the write may have been applied"
    FAIL = "stop: retrying cannot help"


def is_idempotent(method: str, idempotent: bool | None = None) -> bool:
    """The caller's word if given, else whether HTTP says the method is idempotent."""
    return idempotent if idempotent is not None else method.upper() in IDEMPOTENT_METHODS


def decide(method: str, *, status: int | None = None, exc: BaseException | None = None,
           idempotent: bool | None = None) -> Decision:
    """Classify one failed attempt: an HTTP `status` (non-2xx) or a transport `exc`."""
    safe = is_idempotent(method, idempotent)
    if exc is not None:
        if isinstance(exc, NOT_SENT_ERRORS):
            return Decision.RETRY_AFTER_BACKOFF
        if isinstance(exc, MAYBE_SENT_ERRORS):
            return Decision.RETRY_AFTER_BACKOFF if safe else Decision.AMBIGUOUS
        return Decision.FAIL
    if status == 429:
        return Decision.RETRY_AFTER_GOVERNOR
    if status in RETRIABLE_STATUSES:
        return Decision.RETRY_AFTER_BACKOFF if safe else Decision.AMBIGUOUS
    return Decision.FAIL


@dataclass
class RetryPolicy:
    """How many times and how long: exponential backoff with full jitter (AWS's "full jitter").

    `max_attempts` bounds attempts that failed with a 5xx or a connection error; 429s are counted
    separately against `max_throttled`, because the governor already paces them and a request must
    not be lost to a busy store.
    """

    max_attempts: int = 6
    base_s: float = 0.5
    cap_s: float = 30.0
    max_throttled: int = 30
    random: Callable[[], float] = field(default=random.random, repr=False)
    sleep: Callable[[float], Awaitable[None]] = field(default=asyncio.sleep, repr=False)

    def backoff(self, failures: int) -> float:
        """Seconds to wait after the `failures`-th failure: uniform in [0, min(cap, base·2^(n-1))]."""
        return self.random() * min(self.cap_s, self.base_s * 2 ** max(failures - 1, 0))

    async def wait(self, failures: int) -> float:
        """Sleep the backoff for the `failures`-th failure and return how long that was."""
        delay = self.backoff(failures)
        await self.sleep(delay)
        return delay
