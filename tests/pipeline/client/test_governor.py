"""The rate governor: learns the quota, paces to it, waits out 429s, shares one backoff."""

import asyncio
import math
import time
from collections.abc import Callable

import pytest

from pipeline.client.governor import RateGovernor, RateLimitHeaders, retry_after_s


class FakeClock:
    """Monotonic time that only moves when someone sleeps on it (and `busy()` says nothing else is
    under way: the requests in flight finish first, as they would in the real time it skips)."""

    def __init__(self) -> None:
        self.now = 100.0
        self.slept: list[float] = []
        self.busy: Callable[[], bool] = lambda: False

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        target = self.now + seconds
        await asyncio.sleep(0)
        while self.busy():
            await asyncio.sleep(0)
        self.now = max(self.now, target)


def headers(left, *, reset_ms=1000, quota=30, window_ms=1000, **extra):
    return {
        "X-Rate-Limit-Requests-Left": str(left),
        "X-Rate-Limit-Requests-Quota": str(quota),
        "X-Rate-Limit-Time-Reset-Ms": str(reset_ms),
        "X-Rate-Limit-Time-Window-Ms": str(window_ms),
        **extra,
    }


async def is_blocked(coro) -> bool:
    """True if `coro` is still waiting after the loop has run a while (then it is cancelled)."""
    task = asyncio.ensure_future(coro)
    for _ in range(20):
        await asyncio.sleep(0)
    if task.done():
        task.result()
        return False
    task.cancel()
    return True


def governor(clock: FakeClock, **kwargs) -> RateGovernor:
    return RateGovernor(clock=clock, sleep=clock.sleep, **kwargs)


async def sleep_forever(seconds: float) -> None:
    await asyncio.Event().wait()


def test_parses_headers_case_insensitively_and_rejects_garbage():
    info = RateLimitHeaders.parse({"x-rate-limit-requests-left": "7", "X-Rate-Limit-Time-Reset-Ms": "250",
                                   "X-Rate-Limit-Requests-Quota": "150", "X-Rate-Limit-Time-Window-Ms": "30000"})
    assert info == RateLimitHeaders(left=7, reset_s=0.25, quota=150, window_s=30.0)
    assert RateLimitHeaders.parse({"X-Rate-Limit-Requests-Left": "7"}) is None
    assert RateLimitHeaders.parse(headers("many")) is None
    assert retry_after_s({"X-Retry-After": "3"}) == 3.0 and retry_after_s({"Retry-After": "x"}) is None


@pytest.mark.anyio
async def test_one_request_in_flight_until_the_first_response():
    clock = FakeClock()
    gov = governor(clock)
    await gov.acquire()
    assert await is_blocked(gov.acquire())
    gov.observe(headers(29), 200)
    gov.release()
    for _ in range(29):
        await gov.acquire()
    assert gov.in_flight == 29


@pytest.mark.anyio
async def test_admits_while_left_minus_in_flight_exceeds_the_reserve():
    clock = FakeClock()
    gov = RateGovernor(clock=clock, sleep=sleep_forever, reserve=1)
    async with gov.slot():
        gov.observe(headers(4, reset_ms=500), 200)
    await gov.acquire()
    await gov.acquire()
    await gov.acquire()
    assert await is_blocked(gov.acquire())  # 4 left - 3 in flight = 1 = reserve


@pytest.mark.anyio
async def test_a_reserve_as_large_as_the_quota_still_lets_one_through():
    clock = FakeClock()
    gov = governor(clock, reserve=5)
    async with gov.slot():
        gov.observe(headers(2, quota=3), 200)
    await asyncio.wait_for(gov.acquire(), timeout=1)  # after the reset: quota 3, reserve clamped to 2
    assert gov.in_flight == 1


@pytest.mark.anyio
async def test_waits_for_the_reset_then_assumes_a_fresh_window():
    clock = FakeClock()
    gov = governor(clock, margin_s=0.01)
    async with gov.slot():
        gov.observe(headers(0, reset_ms=400), 200)
    start = clock.now
    waited = await gov.acquire()
    assert waited == pytest.approx(0.41) and clock.now - start == pytest.approx(0.41)
    assert gov.left == 30 and gov.in_flight == 1
    assert gov.stats.waited_s == pytest.approx(0.41)


@pytest.mark.anyio
async def test_a_throttled_429_zeroes_left_and_waits_the_longer_of_reset_and_retry_after():
    clock = FakeClock()
    gov = governor(clock, margin_s=0)
    async with gov.slot():
        gov.observe(headers(5, reset_ms=200, **{"X-Retry-After": "2"}), 429)
    assert gov.left == 0 and gov.stats.throttled == 1
    start = clock.now
    await gov.acquire()
    assert clock.now - start == pytest.approx(2.0)

    clock2 = FakeClock()
    gov2 = governor(clock2, margin_s=0)
    async with gov2.slot():
        gov2.observe(headers(0, reset_ms=700), 429)
    start = clock2.now
    await gov2.acquire()
    assert clock2.now - start == pytest.approx(0.7)


@pytest.mark.anyio
async def test_a_bare_429_pauses_everyone_with_a_growing_shared_backoff():
    clock = FakeClock()
    gov = governor(clock, backoff_base_s=0.5, backoff_cap_s=1.5)
    async with gov.slot():
        gov.observe({}, 429)
    assert gov.stats.throttled_bare == 1 and gov.pause_until == clock.now + 0.5
    gov.observe({}, 429)  # another request that was already in flight: no escalation
    assert gov.pause_until == clock.now + 0.5
    clock.now = gov.pause_until
    gov.observe({}, 429)
    assert gov.pause_until == pytest.approx(clock.now + 1.0)
    clock.now = gov.pause_until
    gov.observe({}, 429)
    assert gov.pause_until == pytest.approx(clock.now + 1.5)  # capped
    gov.observe(headers(10), 200)  # the platform recovered: the next bare 429 starts over
    clock.now = gov.pause_until
    gov.observe({}, 429)
    assert gov.pause_until == pytest.approx(clock.now + 0.5)


@pytest.mark.anyio
async def test_a_bare_429_first_does_not_end_the_learning_phase():
    clock = FakeClock()
    gov = governor(clock, backoff_base_s=0.1)
    async with gov.slot():
        gov.observe({}, 429)
    start = clock.now
    await gov.acquire()  # after the pause, still one at a time
    assert clock.now - start == pytest.approx(0.1)
    assert await is_blocked(gov.acquire())


@pytest.mark.anyio
async def test_a_store_without_headers_is_not_paced():
    clock = FakeClock()
    gov = governor(clock)
    async with gov.slot():
        gov.observe({}, 200)
    for _ in range(100):
        await gov.acquire()
    assert clock.slept == []


@pytest.mark.anyio
async def test_out_of_order_responses_cannot_raise_left_within_a_window():
    clock = FakeClock()
    gov = governor(clock, margin_s=0)
    async with gov.slot():
        gov.observe(headers(20, reset_ms=900), 200)
    gov.observe(headers(18, reset_ms=880), 200)
    gov.observe(headers(19, reset_ms=890), 200)  # processed earlier, observed later
    assert gov.left == 18
    assert gov.reset_at == pytest.approx(clock.now + 0.88)


@pytest.mark.anyio
async def test_a_late_response_from_a_reset_window_is_ignored_and_a_newer_window_replaces():
    clock = FakeClock()
    gov = governor(clock, margin_s=0)
    async with gov.slot():
        gov.observe(headers(0, reset_ms=100), 200)
    await gov.acquire()  # waits out the window, assumes a fresh one
    assert gov.left == 30
    gov.observe(headers(0, reset_ms=0), 200)  # a straggler from the old window
    assert gov.left == 30
    gov.observe(headers(27, reset_ms=990), 200)  # the first report from the new window
    assert gov.left == 27 and gov.reset_at == pytest.approx(clock.now + 0.99)
    clock.now += 0.6
    gov.observe(headers(29, reset_ms=1000), 200)  # a window half a window later: a newer one
    assert gov.left == 29 and gov.reset_at == pytest.approx(clock.now + 1.0)


@pytest.mark.anyio
async def test_an_unknown_window_is_probed_one_request_at_a_time():
    clock = FakeClock()
    gov = governor(clock, margin_s=0)
    async with gov.slot():
        gov.observe({"X-Rate-Limit-Requests-Left": "0", "X-Rate-Limit-Time-Reset-Ms": "50"}, 200)
    await gov.acquire()  # after the reset: quota and window unknown
    assert gov.reset_at is None
    assert await is_blocked(gov.acquire())


@pytest.mark.anyio
async def test_answers_without_headers_count_as_spent():
    clock = FakeClock()
    gov = governor(clock)
    async with gov.slot():
        gov.observe({}, 503)  # a gateway error first: still learning
    await gov.acquire()
    assert await is_blocked(gov.acquire())
    gov.observe(headers(10), 200)
    gov.release()
    async with gov.slot():
        gov.observe({}, 502)  # the store may have counted it
    gov.note_unreported()  # a dropped connection, likewise
    assert gov.left == 8


class FixedWindowStore:
    """A store's rate limiter as BigCommerce describes it: `quota` per window, 429 past it."""

    def __init__(self, quota: int, window_s: float, clock=time.monotonic) -> None:
        self.quota, self.window_s, self.clock = quota, window_s, clock
        self.start: float | None = None
        self.used = 0
        self.accepted: list[float] = []
        self.throttled = 0

    def take(self) -> tuple[int, dict[str, str]]:
        now = self.clock()
        if self.start is None or now - self.start >= self.window_s:
            self.start, self.used = now, 0
        reset_ms = math.ceil((self.start + self.window_s - now) * 1000)
        status = 200 if self.used < self.quota else 429
        if status == 200:
            self.used += 1
            self.accepted.append(now)
        else:
            self.throttled += 1
        return status, headers(self.quota - self.used, reset_ms=reset_ms, quota=self.quota,
                               window_ms=int(self.window_s * 1000))


@pytest.mark.anyio
async def test_paces_concurrent_requests_to_the_quota_without_429s():
    """60 requests from 8 workers against 20 per 100 ms: three windows, full use, no 429.

    The store's window and the governor share a clock that moves only when the governor waits, so
    a slow machine cannot stretch the span between windows (it did, with the real clock)."""
    clock = FakeClock()
    store = FixedWindowStore(quota=20, window_s=0.1, clock=clock)
    gov = governor(clock, margin_s=0.003)
    clock.busy = lambda: gov.in_flight > 0
    remaining = 60

    async def worker():
        nonlocal remaining
        while remaining > 0:
            remaining -= 1
            async with gov.slot():
                await asyncio.sleep(0)  # the request on its way: other workers run meanwhile
                status, hdrs = store.take()
                await asyncio.sleep(0)
                gov.observe(hdrs, status)
                assert status == 200

    await asyncio.gather(*(worker() for _ in range(8)))
    assert store.throttled == 0 and len(store.accepted) == 60
    span = store.accepted[-1] - store.accepted[0]
    assert 0.2 <= span < 0.3  # windows 2 and 3 open as soon as the previous ones end
    assert len(store.accepted) / (span + store.window_s) >= 0.9 * store.quota / store.window_s
