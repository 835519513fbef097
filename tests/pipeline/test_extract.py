"""Extract against the sandbox store: request budget, filters, every product exactly once."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from pipeline.client import BigCommerceClient
from pipeline.extract import ExtractFilters, count_requests_bound, extract_products, parse_since, summarise
from tests.stores import sandbox_store


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.mark.anyio
async def test_whole_catalog_within_request_budget(tmp_path):
    store = sandbox_store(tmp_path, products=300)
    seen: list[tuple[int, int]] = []
    async with BigCommerceClient(store.settings, transport=store.transport()) as client:
        products = await extract_products(client, progress=lambda done, total: seen.append((done, total)))
        sent = client.metrics.requests_sent
    assert [p["id"] for p in products] == list(range(101, 401))
    assert all(p["modifiers"] for p in products)
    assert sent == store.stats()["requests"]["GET"] == 30
    assert sent <= count_requests_bound(300) == 32
    assert seen[-1] == (30, 30)
    counts = summarise(products)
    assert counts["products"] == 300 and counts["values"] > 2000
    # include_fields trims the product, but never the modifiers
    assert set(products[0]) == {"id", "sku", "name", "date_modified", "modifiers"}


@pytest.mark.anyio
async def test_filters_by_ids_and_skus_without_duplicates(tmp_path):
    store = sandbox_store(tmp_path, products=40)
    filters = ExtractFilters(product_ids=(105, 101, 130), skus=("SKU-000101", "SKU-000140"))
    async with BigCommerceClient(store.settings, transport=store.transport()) as client:
        products = await extract_products(client, filters)
    assert [p["id"] for p in products] == [101, 105, 130, 140]


@pytest.mark.anyio
async def test_long_id_lists_are_chunked_without_extra_pages(tmp_path):
    store = sandbox_store(tmp_path, products=450)
    ids = tuple(range(101, 551))
    async with BigCommerceClient(store.settings, transport=store.transport()) as client:
        products = await extract_products(client, ExtractFilters(product_ids=ids))
        sent = client.metrics.requests_sent
    assert len(products) == 450
    assert sent == 45  # chunks of 200 ids are whole pages of 10


@pytest.mark.anyio
async def test_since_filter_returns_only_recently_modified(tmp_path):
    store = sandbox_store(tmp_path, products=20)
    future = datetime.now(timezone.utc) + timedelta(days=1)
    past = datetime.now(timezone.utc) - timedelta(days=1)
    async with BigCommerceClient(store.settings, transport=store.transport()) as client:
        assert await extract_products(client, ExtractFilters(since=future)) == []
        assert len(await extract_products(client, ExtractFilters(since=past))) == 20


def test_parse_since_accepts_dates_and_times():
    assert parse_since("2026-11-01") == datetime(2026, 11, 1, tzinfo=timezone.utc)
    assert parse_since("2026-11-01T10:30:00+01:00").utcoffset() == timedelta(hours=1)
    with pytest.raises(ValueError):
        parse_since("yesterday")
