"""One rate governor per client, fed by BigCommerce's `X-Rate-Limit-*` response headers.

BigCommerce counts requests per window (150 per 30 s on Standard) across every app on the store and
reports on each response how many are left and when the window resets. The governor admits a
request while `requests_left - in_flight > reserve`; once the quota is spent it holds every caller
until the reset time (plus a small margin), then assumes a fresh window and lets responses correct
it. Before the first response only one request is in flight, to learn the quota. A 429 with headers
zeroes `left` and waits `max(Time-Reset-Ms, X-Retry-After)`; a bare 429 (platform load) pauses
everyone with a shared exponential backoff. A store that sends no headers is not paced at all.

Concurrent responses arrive out of order, so each carries a window identity: the reset time it
implies. A response from an older window is ignored, one from the current window can only lower
`left`, and one from a newer window replaces it.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass

import httpx

HEADER_LEFT = "x-rate-limit-requests-left"
HEADER_QUOTA = "x-rate-limit-requests-quota"
HEADER_RESET_MS = "x-rate-limit-time-reset-ms"
HEADER_WINDOW_MS = "x-rate-limit-time-window-ms"
RETRY_AFTER_HEADERS = ("x-retry-after", "retry-after")  # seconds


def _case_insensitive(headers: Mapping[str, str]) -> Mapping[str, str]:
    return headers if isinstance(headers, httpx.Headers) else httpx.Headers(headers)


def _number(headers: Mapping[str, str], name: str) -> float | None:
    value = headers.get(name)
    try:
        number = float(value) if value is not None else None
    except ValueError:
        return None
    return number if number is not None and math.isfinite(number) and number >= 0 else None


@dataclass(frozen=True)
class RateLimitHeaders:
    """The rate-limit headers of one response (`None` when it carried none)."""

    left: int
    reset_s: float
    quota: int | None = None
    window_s: float | None = None

    @classmethod
    def parse(cls, headers: Mapping[str, str]) -> RateLimitHeaders | None:
        headers = _case_insensitive(headers)
        left, reset_ms = _number(headers, HEADER_LEFT), _number(headers, HEADER_RESET_MS)
        if left is None or reset_ms is None:
            return None
        quota, window_ms = _number(headers, HEADER_QUOTA), _number(headers, HEADER_WINDOW_MS)
        return cls(left=int(left), reset_s=reset_ms / 1000, quota=None if quota is None else int(quota),
                   window_s=None if window_ms is None else window_ms / 1000)


def retry_after_s(headers: Mapping[str, str]) -> float | None:
    """`X-Retry-After` (or `Retry-After`) in seconds, if present and numeric."""
    headers = _case_insensitive(headers)
    for name in RETRY_AFTER_HEADERS:
        if (seconds := _number(headers, name)) is not None:
            return seconds
    return None


@dataclass
class GovernorStats:
    """What the governor did: admissions, 429s seen, time callers spent waiting for a slot."""

    admitted: int = 0
    throttled: int = 0  # 429 with rate-limit headers
    throttled_bare: int = 0  # 429 without them: platform load
    waited_s: float = 0.0


class RateGovernor:
    """Admission control shared by every concurrent request of one client.

    Use `async with governor.slot(): ... governor.observe(headers, status)`, or the explicit
    `await acquire()` / `observe()` / `release()`. `clock` (monotonic seconds) and `sleep` are
    injectable for tests.
    """

    def __init__(
        self,
        *,
        reserve: int = 0,
        margin_s: float = 0.01,
        backoff_base_s: float = 0.5,
        backoff_cap_s: float = 30.0,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.reserve = reserve
        self.margin_s = margin_s
        self.backoff_base_s = backoff_base_s
        self.backoff_cap_s = backoff_cap_s
        self._clock = clock
        self._sleep = sleep
        self.stats = GovernorStats()
        self.in_flight = 0
        self._learned = False  # a response told us the quota, or that the store sends none
        self._limited = False  # the store sends rate-limit headers
        self.left: int | None = None
        self.quota: int | None = None
        self.window_s: float | None = None
        self.reset_at: float | None = None  # clock time when the current window resets (+ margin)
        self.pause_until = 0.0  # shared pause after a bare 429 or an X-Retry-After
        self._bare_streak = 0
        self._reset_guessed = False  # reset_at was extrapolated, not reported by a response
        self._changed = asyncio.Event()

    # -- admission ---------------------------------------------------------------------------------

    def _delay(self, now: float) -> float:
        """0 to admit now; otherwise how long to wait at most (the wait also ends on any change)."""
        if now < self.pause_until:
            return self.pause_until - now
        if not self._learned:
            return 0.0 if self.in_flight == 0 else math.inf
        if not self._limited:
            return 0.0
        if self.reset_at is not None and now >= self.reset_at:
            self._roll_window(now)
        assert self.left is not None
        reserve = min(self.reserve, (self.quota or 1) - 1)  # a reserve the size of the quota would stall
        if self.left - self.in_flight > reserve:
            return 0.0
        if self.reset_at is not None:
            return max(self.reset_at - now, 0.0)
        return 0.0 if self.in_flight == 0 else math.inf  # window unknown: probe with one request

    def _roll_window(self, now: float) -> None:
        """The known reset time has passed: assume a fresh window until a response says otherwise.

        The next reset is only guessed (the window may open with the next request, as on the
        sandbox); the first response from the new window replaces the guess.
        """
        self.left = self.quota if self.quota is not None else max(self.left or 0, 1)
        if self.reset_at is not None and self.window_s:
            self.reset_at = max(self.reset_at + self.window_s, now + self.window_s)
        else:
            self.reset_at = None
        self._reset_guessed = True

    async def _wait(self, timeout: float) -> None:
        changed = self._changed.wait()
        if math.isinf(timeout):
            await changed
            return
        waiters = {asyncio.ensure_future(changed), asyncio.ensure_future(self._sleep(timeout))}
        try:
            await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for waiter in waiters:
                waiter.cancel()

    def _notify(self) -> None:
        self._changed.set()
        self._changed = asyncio.Event()

    async def acquire(self) -> float:
        """Wait for a slot and take it; returns the seconds spent waiting."""
        start = self._clock()
        while (delay := self._delay(self._clock())) > 0:
            await self._wait(delay)
        self.in_flight += 1
        self.stats.admitted += 1
        waited = self._clock() - start
        self.stats.waited_s += waited
        return waited

    def release(self) -> None:
        """Give the slot back (after `observe`, or without it when no response came)."""
        self.in_flight -= 1
        self._notify()

    @asynccontextmanager
    async def slot(self) -> AsyncIterator[float]:
        """Hold a slot for one request; yields the seconds spent waiting for it."""
        waited = await self.acquire()
        try:
            yield waited
        finally:
            self.release()

    # -- learning ----------------------------------------------------------------------------------

    def observe(self, headers: Mapping[str, str], status: int) -> None:
        """Learn from one response's headers and status."""
        now = self._clock()
        info = RateLimitHeaders.parse(headers)
        retry_after = retry_after_s(headers)
        if info is not None or status < 429:  # a bare 429 or 5xx teaches nothing about the quota
            self._learned = True
        if info is None:
            self.note_unreported()
        if status == 429 and info is None and retry_after is None:
            self._pause_bare(now)
        else:
            if status != 429:
                self._bare_streak = 0
            if info is not None:
                self._learn(now, info, throttled=status == 429)
            if retry_after is not None:
                self.pause_until = max(self.pause_until, now + retry_after + self.margin_s)
            if status == 429:
                self.stats.throttled += 1
        self._notify()

    def note_unreported(self) -> None:
        """A request reached the store but reported nothing (no headers, or the connection dropped).

        The store may still have counted it, so count it as spent: without this, every 5xx or drop
        would leave the governor believing in one request more than the window has.
        """
        if self._limited and self.left is not None:
            self.left = max(self.left - 1, 0)

    def _pause_bare(self, now: float) -> None:
        """A 429 without headers: the platform is loaded; everyone backs off, longer each time."""
        self.stats.throttled_bare += 1
        if now >= self.pause_until:  # 429s from requests already in flight do not escalate
            self._bare_streak += 1
        delay = min(self.backoff_cap_s, self.backoff_base_s * 2 ** (self._bare_streak - 1))
        self.pause_until = max(self.pause_until, now + delay)

    def _learn(self, now: float, info: RateLimitHeaders, *, throttled: bool) -> None:
        self._limited = True
        self.quota = info.quota if info.quota is not None else self.quota
        self.window_s = info.window_s if info.window_s else self.window_s
        reset_at = now + info.reset_s + self.margin_s
        if throttled or self.reset_at is None or self.left is None:
            # a 429 is authoritative about now, whatever window we assumed
            self.left, self.reset_at, self._reset_guessed = (0 if throttled else info.left), reset_at, False
            return
        tolerance = (self.window_s or 1.0) / 2
        if reset_at > self.reset_at + tolerance:  # a newer window than we assumed
            self.left, self.reset_at = info.left, reset_at
        elif reset_at >= self.reset_at - tolerance:  # the same window: reports only get tighter
            self.left = min(self.left, info.left)
            self.reset_at = reset_at if self._reset_guessed else min(self.reset_at, reset_at)
        else:  # a late response from a window that has already reset: it says nothing about now
            return
        self._reset_guessed = False
