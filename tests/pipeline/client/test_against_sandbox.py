"""The client against the real sandbox app: in process via SandboxTransport, and once over uvicorn.

The sandbox counts every request it receives and logs the fault it injected into each, so these
tests can check the client's own counters against the store's: nothing lost, nothing sent twice
that should not be, and the pace held to the quota.
"""

from __future__ import annotations

import asyncio
import logging
import math
import pickle
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from pathlib import Path

import httpx
import pytest

from pipeline.client import (
    AmbiguousWriteError,
    AuthError,
    BigCommerceClient,
    FatalError,
    LegacyOptionSetError,
    RateGovernor,
    RetryPolicy,
    ValidationError,
)
from pipeline.sandbox.config import SandboxConfig
from pipeline.sandbox.server import serve_in_thread
from pipeline.settings import Settings
from sample_data.generator import FIRST_PRODUCT_ID
from tests.stores import TEST_TOKEN, SandboxStore, sandbox_store

PRODUCTS = "/catalog/products"
WITH_MODIFIERS = {"include": "modifiers"}
QUOTA, WINDOW_MS = 30, 1000
FAST_RETRY = RetryPolicy(base_s=0.01, cap_s=0.05)


def fault_counts(store: SandboxStore) -> Counter:
    """How many requests the sandbox answered with each injected fault ("5xx", "429", "drop")."""
    return Counter(entry["fault"] for entry in store.app.state.sandbox.stats.recent(100_000) if entry["fault"])


def client_for(store: SandboxStore, **kwargs) -> BigCommerceClient:
    return BigCommerceClient(store.settings, transport=store.transport(), **kwargs)


def min_seconds_for(requests: int, quota: int = QUOTA, window_ms: int = WINDOW_MS) -> float:
    """The least time `requests` can take under a fixed window: the last batch opens the last window."""
    return (math.ceil(requests / quota) - 1) * window_ms / 1000


def assert_every_product_once(items: list[dict], n: int) -> None:
    assert [item["id"] for item in items] == list(range(FIRST_PRODUCT_ID, FIRST_PRODUCT_ID + n))
    assert all("modifiers" in item for item in items)


def assert_counters_agree(client: BigCommerceClient, store: SandboxStore) -> None:
    """Every attempt reached the store, and every failed one was seen and retried."""
    stats, faults, m = store.stats(), fault_counts(store), client.metrics
    assert stats["requests"]["total"] == m.requests_sent
    assert faults["5xx"] == m.server_errors
    assert faults["429"] == m.throttled_bare
    assert faults["drop"] == m.connection_drops
    assert stats["throttled"] == m.throttled
    assert m.retries == m.server_errors + m.throttled_bare + m.connection_drops + m.throttled


@pytest.mark.anyio
async def test_drains_300_products_at_the_quota_through_every_fault(tmp_path):
    store = sandbox_store(tmp_path, products=300, quota=QUOTA, window_ms=WINDOW_MS, fault_5xx_rate=0.1,
                          fault_429_rate=0.05, fault_drop_rate=0.02, seed=9)
    async with client_for(store) as client:
        started = time.monotonic()
        items = await client.get_all(PRODUCTS, WITH_MODIFIERS)
        elapsed = time.monotonic() - started

    assert_every_product_once(items, 300)
    assert_counters_agree(client, store)
    faults, m = fault_counts(store), client.metrics
    assert faults["5xx"] and faults["429"] and faults["drop"], "the seed exercises every fault kind"
    pages_served = sum(1 for e in store.app.state.sandbox.stats.recent(100_000) if e["status"] == 200 and not e["fault"])
    assert pages_served == 30  # 10 products a page: each page delivered once
    assert store.stats()["throttled"] <= 1  # paced, not bounced
    requests = m.requests_sent
    assert elapsed >= min_seconds_for(requests) - 0.05  # never faster than the quota allows
    print(f"\n300-product drain, quota {QUOTA}/{WINDOW_MS} ms, faults on: {requests} requests, "
          f"{m.throttled} x 429 with headers, {m.throttled_bare} bare 429, {m.server_errors} x 5xx, "
          f"{m.connection_drops} drops, {m.retries} retries, {elapsed:.2f} s, {requests / elapsed:.1f} req/s")


class VirtualClock:
    """Seconds that pass only while the client waits with no request in flight: the governor and
    the sandbox's rate window both read it, so a window can never end between a request's
    admission and its arrival because the machine was slow (with the real clock, a window-edge
    429 now and then made it 101 requests)."""

    def __init__(self) -> None:
        self.now = 0.0
        self.busy: Callable[[], bool] = lambda: False

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> Awaitable[None]:
        return self._until(self.now + seconds)  # the deadline counts from the call, not from the first step

    async def _until(self, deadline: float) -> None:
        while self.busy():  # a response may end the wait first (the governor then cancels this sleep)
            await asyncio.sleep(0.001)
        self.now = max(self.now, deadline)


@pytest.mark.anyio
async def test_sustained_throughput_is_at_least_90_percent_of_the_quota(tmp_path):
    """100 small pages: four windows' worth, finished within 10% of the fastest the quota allows,
    in virtual time shared by the store's window and the governor (so the counts are exact)."""
    store = sandbox_store(tmp_path, products=300, quota=QUOTA, window_ms=WINDOW_MS)
    clock = VirtualClock()
    store.app.state.sandbox.limiter._clock = clock  # the window the gate enforces, on the same clock
    governor = RateGovernor(clock=clock, sleep=clock.sleep)
    clock.busy = lambda: governor.in_flight > 0
    async with client_for(store, governor=governor) as client:
        items = await client.get_all(PRODUCTS, {**WITH_MODIFIERS, "limit": 3})
    assert_every_product_once(items, 300)
    requests = store.stats()["requests"]["total"]
    assert requests == 100 and store.stats()["throttled"] == 0
    fastest = min_seconds_for(requests)
    assert fastest <= clock.now <= fastest / 0.9


@pytest.mark.anyio
async def test_a_small_quota_with_concurrency_8_is_paced_not_bounced(tmp_path):
    store = sandbox_store(tmp_path, products=300, quota=5, window_ms=150)
    async with client_for(store) as client:
        items = await client.get_all(PRODUCTS, WITH_MODIFIERS, concurrency=8)
    assert_every_product_once(items, 300)
    assert store.stats()["throttled"] <= 1 and client.metrics.throttled == store.stats()["throttled"]
    assert store.stats()["requests"]["total"] == 30 + client.metrics.throttled


@pytest.mark.anyio
@pytest.mark.parametrize("fault", ["fault_5xx_rate", "fault_429_rate", "fault_drop_rate"])
async def test_reads_are_retried_through_each_fault_kind(tmp_path, fault):
    store = sandbox_store(tmp_path, products=100, seed=3, **{fault: 0.3})
    governor = RateGovernor(backoff_base_s=0.01, backoff_cap_s=0.05)
    async with client_for(store, retry=FAST_RETRY, governor=governor) as client:
        items = await client.get_all(PRODUCTS, WITH_MODIFIERS)
    assert_every_product_once(items, 100)
    assert_counters_agree(client, store)
    assert sum(fault_counts(store).values()) >= 2


@pytest.mark.anyio
async def test_a_dropped_post_is_ambiguous_and_sent_once(tmp_path):
    store = sandbox_store(tmp_path, products=1, fault_drop_rate=1.0)
    body = {"type": "text", "required": False, "display_name": "Engraving"}
    async with client_for(store) as client:
        with pytest.raises(AmbiguousWriteError, match="natural key"):
            await client.post_json(f"{PRODUCTS}/{FIRST_PRODUCT_ID}/modifiers", body)
    stats = store.stats()
    assert stats["requests"]["POST"] == 1 and stats["writes"] == 1  # it was applied: reconcile, do not resend


@pytest.mark.anyio
async def test_a_post_answered_by_a_5xx_is_ambiguous_too(tmp_path):
    store = sandbox_store(tmp_path, products=1, fault_5xx_rate=1.0)
    async with client_for(store) as client:
        with pytest.raises(AmbiguousWriteError):
            await client.post_json(f"{PRODUCTS}/{FIRST_PRODUCT_ID}/modifiers", {"type": "text"})
    assert store.stats()["requests"]["POST"] == 1


@pytest.mark.anyio
async def test_writes_and_their_errors(tmp_path):
    store = sandbox_store(tmp_path, products=1)
    store.app.state.sandbox.store.seed_catalog(
        [{"id": 9001, "name": "Legacy", "sku": "L-9001", "option_set_id": 12, "modifiers": []}])
    path = f"{PRODUCTS}/{FIRST_PRODUCT_ID}/modifiers"
    async with client_for(store) as client:
        created = await client.post_json(path, {"type": "text", "required": False, "display_name": "Engraving"})
        assert created["display_name"] == "Engraving" and created["id"]
        updated = await client.put_json(f"{path}/{created['id']}", {"type": "text", "required": False,
                                                                    "display_name": "Monogram"})
        assert updated["display_name"] == "Monogram"
        with pytest.raises(ValidationError) as invalid:
            await client.post_json(path, {"type": "nonsense", "required": False, "display_name": "x"})
        assert invalid.value.errors and "type" in str(invalid.value)
        with pytest.raises(LegacyOptionSetError, match="control panel"):
            await client.post_json(f"{PRODUCTS}/9001/modifiers", {"type": "text", "required": False,
                                                                    "display_name": "Engraving"})
        await client.delete(f"{path}/{created['id']}")
        await client.delete(f"{path}/{created['id']}", missing_ok=True)
    assert store.stats()["requests"]["DELETE"] == 2


@pytest.mark.anyio
async def test_the_token_never_leaks(tmp_path, caplog):
    caplog.set_level(logging.DEBUG)
    wrong = "tok-WRONG-0f8e2d5c71"
    store = sandbox_store(tmp_path, products=1, fault_drop_rate=1.0)
    settings = Settings.for_sandbox("http://sandbox.test", wrong)
    errors: list[FatalError] = []
    async with BigCommerceClient(settings, transport=store.transport(), retry=FAST_RETRY) as client:
        with pytest.raises(AuthError) as refused:
            await client.get_json(PRODUCTS)
        errors.append(refused.value)
    async with client_for(store, retry=FAST_RETRY) as client:  # the right token, every attempt dropped
        with pytest.raises(FatalError) as dropped:
            await client.post_json(f"{PRODUCTS}/{FIRST_PRODUCT_ID}/modifiers", {"type": "text"})
        errors.append(dropped.value)
    for token in (wrong, TEST_TOKEN):
        for error in errors:
            for text in (str(error), repr(error), repr(error.args), repr(vars(error))):
                assert token not in text
            assert token.encode() not in pickle.dumps(error)
        assert not [r for r in caplog.records if token in r.getMessage()]


@pytest.mark.e2e
@pytest.mark.anyio
async def test_end_to_end_over_uvicorn_with_real_drops(tmp_path, caplog):
    """Real sockets: pacing, a real dropped connection retried, and no token in any log (httpcore's too)."""
    caplog.set_level(logging.DEBUG)
    config = SandboxConfig(data_dir=tmp_path, products=100, token=TEST_TOKEN, quota=QUOTA, window_ms=WINDOW_MS,
                           fault_5xx_rate=0.1, fault_drop_rate=0.1, seed=5)
    with serve_in_thread(config) as base_url:
        settings = Settings.for_sandbox(base_url, TEST_TOKEN)
        async with BigCommerceClient(settings, retry=FAST_RETRY) as client:
            items = await client.get_all(PRODUCTS, WITH_MODIFIERS, concurrency=4)
        stats = httpx.get(f"{base_url}/_sandbox/stats", timeout=10).json()  # not the store's API: not the client
    assert_every_product_once(items, 100)
    m = client.metrics
    assert stats["requests"]["total"] == m.requests_sent
    assert m.connection_drops >= 1 and m.server_errors >= 1 and stats["throttled"] == m.throttled <= 1
    assert any(r.name.startswith("httpcore") for r in caplog.records)
    assert not [r for r in caplog.records if TEST_TOKEN in r.getMessage()]
