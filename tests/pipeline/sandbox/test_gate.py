"""Auth, rate limiting, fault injection, crashes, stats and the request log."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette

from pipeline.sandbox.ratelimit import UNLIMITED_QUOTA, RateLimiter

from .support import API, assert_error, client_for, modifier_body, png_bytes

pytestmark = pytest.mark.anyio
RATE_HEADERS = ("x-rate-limit-requests-left", "x-rate-limit-requests-quota", "x-rate-limit-time-reset-ms",
                "x-rate-limit-time-window-ms")
PRODUCTS = f"{API}/catalog/products"
MODS = f"{PRODUCTS}/1/modifiers"
AppFactory = Callable[..., Starlette]


def _rate(response: httpx.Response) -> dict[str, int]:
    return {h: int(response.headers[h]) for h in RATE_HEADERS}


async def test_401_without_or_with_wrong_token(app: Starlette) -> None:
    for token in (None, "wrong"):
        async with client_for(app, token=token) as anonymous:
            r = await anonymous.get(PRODUCTS)
        body = assert_error(r, 401)
        assert set(body) == {"status", "title", "type"}
        assert all(h in r.headers for h in RATE_HEADERS)


async def test_wrong_store_hash_is_404_json(client: httpx.AsyncClient) -> None:
    r = await client.get("/stores/other-store/v3/catalog/products")
    assert_error(r, 404)
    assert all(h in r.headers for h in RATE_HEADERS)


async def test_every_store_response_carries_rate_headers(make_app: AppFactory) -> None:
    async with client_for(make_app(quota=100, window_ms=60_000)) as client:
        responses = [
            await client.get(PRODUCTS),  # 200
            await client.post(MODS, json=modifier_body("text")),  # 200
            await client.get(f"{PRODUCTS}/4242"),  # 404
            await client.post(MODS, json={}),  # 422
            await client.post(MODS, content=b"{", headers={"content-type": "application/json"}),  # 400
            await client.patch(MODS),  # 405
            await client.get(f"{API}/catalog/unknown"),  # 404 route
        ]
        created = responses[1].json()["data"]
        responses.append(await client.delete(f"{MODS}/{created['id']}"))  # 204
    assert [r.status_code for r in responses] == [200, 200, 404, 422, 400, 405, 404, 204]
    lefts = [_rate(r)["x-rate-limit-requests-left"] for r in responses]
    assert lefts == list(range(99, 91, -1))
    for r in responses:
        assert _rate(r)["x-rate-limit-requests-quota"] == 100
        assert _rate(r)["x-rate-limit-time-window-ms"] == 60_000
        assert 0 < _rate(r)["x-rate-limit-time-reset-ms"] <= 60_000


async def test_quota_exhausted_answers_429_until_the_window_resets(make_app: AppFactory) -> None:
    app = make_app(quota=5, window_ms=300)
    async with client_for(app) as client:
        allowed = [await client.get(PRODUCTS, params={"limit": 1}) for _ in range(5)]
        assert [r.status_code for r in allowed] == [200] * 5
        throttled = await client.get(PRODUCTS)
        body = assert_error(throttled, 429)
        assert body == {"status": 429, "title": "Too many requests", "type": body["type"]}
        assert _rate(throttled)["x-rate-limit-requests-left"] == 0
        reset_ms = _rate(throttled)["x-rate-limit-time-reset-ms"]
        assert 0 < reset_ms <= 300
        assert (await client.post(MODS, json=modifier_body("text"))).status_code == 429
        time.sleep(reset_ms / 1000 + 0.02)
        fresh = await client.get(PRODUCTS, params={"limit": 1})
        assert fresh.status_code == 200
        assert _rate(fresh)["x-rate-limit-requests-left"] == 4
        stats = (await client.get("/_sandbox/stats")).json()
    assert stats["throttled"] == 2 and stats["requests"]["total"] == 8
    assert app.state.sandbox.store.list_modifiers(1, 0, 10)[1] == 0, "a throttled write is not processed"


async def test_unlimited_quota_still_sends_headers(make_app: AppFactory) -> None:
    async with client_for(make_app(quota=None)) as client:
        for _ in range(200):
            r = await client.get(f"{PRODUCTS}/1")
            assert r.status_code == 200
        assert _rate(r)["x-rate-limit-requests-quota"] == UNLIMITED_QUOTA
        assert _rate(r)["x-rate-limit-requests-left"] == UNLIMITED_QUOTA - 200


def test_window_starts_at_first_request_after_the_previous_ended() -> None:
    now = [100.0]
    limiter = RateLimiter(quota=2, window_ms=1000, clock=lambda: now[0])
    assert limiter.take().reset_ms == 1000
    now[0] = 100.4
    second = limiter.take()
    assert (second.allowed, second.left, second.reset_ms) == (True, 0, 600)
    assert not limiter.take().allowed
    now[0] = 101.5  # the first window ended at 101.0; the next one opens now, not at 101.0
    fresh = limiter.take()
    assert (fresh.allowed, fresh.left, fresh.reset_ms) == (True, 1, 1000)
    limiter.reset()
    assert limiter.take().left == 1


async def _hammer(app: Starlette, count: int, method: str = "GET") -> list[Any]:
    """Send `count` requests; return statuses or the exception class name for drops."""
    outcomes: list[Any] = []
    async with client_for(app) as client:
        for n in range(count):
            try:
                if method == "GET":
                    r = await client.get(f"{PRODUCTS}/1")
                else:
                    r = await client.post(MODS, json=modifier_body("text", f"T{n}"))
                outcomes.append(r)
            except httpx.RemoteProtocolError:
                outcomes.append("drop")
    return outcomes


def _statuses(outcomes: list[Any]) -> list[Any]:
    return [o if isinstance(o, str) else o.status_code for o in outcomes]


async def test_5xx_faults_are_seeded_and_write_nothing(make_app: AppFactory) -> None:
    app = make_app(fault_5xx_rate=0.2, seed=7)
    outcomes = await _hammer(app, 200, "POST")
    statuses = Counter(_statuses(outcomes))
    faults = sum(statuses[s] for s in (500, 502, 503, 504))
    assert 20 <= faults <= 60, statuses
    assert set(statuses) <= {200, 500, 502, 503, 504}
    assert len({s for s in statuses if s >= 500}) >= 3, "statuses vary among 500/502/503/504"
    assert app.state.sandbox.store.list_modifiers(1, 0, 250)[1] == statuses[200], "faulted POSTs wrote nothing"
    injected = next(o for o in outcomes if o.status_code >= 500)
    assert all(h in injected.headers for h in RATE_HEADERS)
    assert_error(injected, injected.status_code)
    assert app.state.sandbox.stats.snapshot()["faults"] == faults
    # same seed, same story
    replay = _statuses(await _hammer(make_app(fault_5xx_rate=0.2, seed=7), 200, "GET"))
    assert [s for s in replay if s != 200] == [s for s in _statuses(outcomes) if s != 200]


async def test_bare_429_has_no_rate_headers(make_app: AppFactory) -> None:
    app = make_app(fault_429_rate=0.1, seed=3, quota=1000)
    outcomes = await _hammer(app, 200)
    bare = [o for o in outcomes if o.status_code == 429]
    assert 8 <= len(bare) <= 35
    for r in bare:
        assert not any(h in r.headers for h in RATE_HEADERS)
        assert r.json()["status"] == 429
    ok = [o for o in outcomes if o.status_code == 200]
    assert all(h in ok[0].headers for h in RATE_HEADERS)
    assert app.state.sandbox.stats.snapshot()["throttled"] == 0


async def test_drops_happen_after_the_write(make_app: AppFactory) -> None:
    app = make_app(fault_drop_rate=0.25, seed=11)
    outcomes = await _hammer(app, 200, "POST")
    drops = outcomes.count("drop")
    assert 25 <= drops <= 80
    stored = app.state.sandbox.store.list_modifiers(1, 0, 250)[1]
    assert stored == 200, "every request was processed, dropped or not"
    stats = app.state.sandbox.stats.snapshot()
    assert stats["faults"] == drops and stats["writes"] == 200
    log = app.state.sandbox.stats.recent(200)
    assert [e["fault"] == "drop" for e in log] == [o == "drop" for o in outcomes]
    assert all(e["status"] == 200 for e in log)


async def test_latency_is_added_per_request(make_app: AppFactory) -> None:
    async with client_for(make_app(latency_ms=40)) as client:
        started = time.perf_counter()
        for _ in range(5):
            await client.get(f"{PRODUCTS}/1")
        elapsed = time.perf_counter() - started
        stats_started = time.perf_counter()
        await client.get("/_sandbox/stats")
        stats_elapsed = time.perf_counter() - stats_started
    assert elapsed >= 0.2
    assert stats_elapsed < 0.04, "/_sandbox routes get no latency"


async def test_crash_after_writes_drops_everything_then_restart_recovers(make_app: AppFactory) -> None:
    app = make_app(crash_after_writes=3)
    async with client_for(app) as client:
        for n in range(3):
            assert (await client.post(MODS, json={})).status_code == 422, "failed writes do not count"
            assert (await client.post(MODS, json=modifier_body("text", f"T{n}"))).status_code == 200
        for attempt in (client.get(PRODUCTS), client.post(MODS, json=modifier_body("text", "T9"))):
            with pytest.raises(httpx.RemoteProtocolError):
                await attempt
        stats = (await client.get("/_sandbox/stats")).json()
    assert stats["writes"] == 3 and stats["faults"] == 2
    restarted = make_app(crash_after_writes=3)
    async with client_for(restarted) as client:
        names = [m["display_name"] for m in (await client.get(MODS)).json()["data"]]
    assert names == ["T0", "T1", "T2"]


async def test_faults_never_touch_sandbox_routes(make_app: AppFactory) -> None:
    app = make_app(fault_5xx_rate=0.5, fault_429_rate=0.5, quota=1)
    async with client_for(app, token=None) as client:
        for _ in range(30):
            assert (await client.get("/_sandbox/stats")).status_code == 200
            assert (await client.get("/_sandbox/log")).status_code == 200
    assert app.state.sandbox.stats.snapshot()["requests"]["total"] == 0


async def test_stats_log_and_reset(make_app: AppFactory) -> None:
    app = make_app(quota=3, window_ms=60_000)
    async with client_for(app) as client:
        await client.get(PRODUCTS)
        created = (await client.post(MODS, json=modifier_body("text"))).json()["data"]
        await client.put(f"{MODS}/{created['id']}", json={"type": "text", "required": True})
        await client.delete(f"{MODS}/{created['id']}")  # throttled: the quota is 3
        stats = (await client.get("/_sandbox/stats")).json()
        stats.pop("contract")  # the spec check's counters: see test_contract_check.py
        assert stats == {"requests": {"total": 4, "GET": 1, "POST": 1, "PUT": 1, "DELETE": 1},
                         "throttled": 1, "faults": 0, "writes": 2}
        log = (await client.get("/_sandbox/log", params={"limit": 2})).json()
        assert log == [
            {"method": "PUT", "path": f"{MODS}/{created['id']}", "status": 200, "fault": None},
            {"method": "DELETE", "path": f"{MODS}/{created['id']}", "status": 429, "fault": None},
        ]
        assert len((await client.get("/_sandbox/log")).json()) == 4
        assert_error(await client.get("/_sandbox/log", params={"limit": "x"}), 422, "limit")
        reset = await client.post("/_sandbox/reset")
        assert reset.status_code == 200
        assert reset.json() == {"requests": {"total": 0, "GET": 0, "POST": 0, "PUT": 0, "DELETE": 0},
                                "throttled": 0, "faults": 0, "writes": 0, "contract": {
                                    "checked": 0, "refused": 0, "request_violations": 0, "responses_checked": 0,
                                    "response_violations": 0}}
        assert (await client.get("/_sandbox/log")).json() == []
        after = await client.get(f"{PRODUCTS}/1")
        assert after.status_code == 200, "the rate window was reset too"
        assert _rate(after)["x-rate-limit-requests-left"] == 2
        assert (await client.get(f"{PRODUCTS}/1")).json()["data"]["id"] == 1, "the catalog is kept"


async def test_upload_counts_as_a_write(make_app: AppFactory) -> None:
    app = make_app(crash_after_writes=2)
    async with client_for(app) as client:
        modifier = (await client.post(MODS, json=modifier_body("dropdown"))).json()["data"]
        value = modifier["option_values"][0]
        url = f"{MODS}/{modifier['id']}/values/{value['id']}/image"
        assert (await client.post(url, files={"image_file": ("a.png", png_bytes())})).status_code == 200
        with pytest.raises(httpx.RemoteProtocolError):
            await client.get(PRODUCTS)


async def test_an_unexpected_error_answers_json_500_and_is_counted(make_app: AppFactory,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    app = make_app(quota=10)

    def broken(product_id: int) -> None:
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(app.state.sandbox.store, "get_product", broken)
    async with client_for(app) as client:
        r = await client.get(f"{PRODUCTS}/1")
        assert_error(r, 500)
        assert _rate(r)["x-rate-limit-requests-left"] == 9
        assert (await client.get(PRODUCTS)).status_code == 200, "the sandbox keeps serving"
    assert app.state.sandbox.stats.recent(2)[0]["status"] == 500
