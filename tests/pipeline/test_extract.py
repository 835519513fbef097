"""Extract against the sandbox store: request budget, filters, every product exactly once, include_fields
from the spec's enum, and stores that apply it literally."""

from __future__ import annotations

import logging
import os
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from pipeline.client import BigCommerceClient
from pipeline.extract import (
    LITERAL_INCLUDE_FIELDS_WARNING,
    PRODUCT_FIELDS,
    ExtractFilters,
    ExtractSession,
    ModifiersMissingError,
    count_requests_bound,
    extract_products,
    lacks_modifiers,
    parse_since,
    summarise,
)
from pipeline.migrate.catalog import LOOKUP_FIELDS, products_by_id, products_by_sku
from tests.pipeline.rewriting import RewritingTransport, each_product
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


# -- include_fields: names from the spec's enum, and stores that apply it literally --------------------

SPEC_DIR = Path(os.environ.get("BIGCOMMERCE_OPENAPI_DIR")
                or Path(__file__).resolve().parents[2].parent / "shared" / "bigcommerce-openapi")
PRODUCTS_SPEC = SPEC_DIR / "products_catalog.v3.yml"


@pytest.mark.skipif(not PRODUCTS_SPEC.is_file(),
                    reason=f"BigCommerce OpenAPI specs not found in {SPEC_DIR} (set BIGCOMMERCE_OPENAPI_DIR)")
def test_include_fields_names_are_in_the_products_spec_enum():
    import yaml

    spec = yaml.safe_load(PRODUCTS_SPEC.read_text(encoding="utf-8"))
    enum = set(spec["components"]["parameters"]["IncludeFieldsParam"]["schema"]["items"]["enum"])
    assert "id" not in enum  # the id always comes back; listing it is refused by a strict server
    assert set(PRODUCT_FIELDS) <= enum
    assert set(LOOKUP_FIELDS.split(",")) <= enum
    assert set(ExtractSession().params()["include_fields"].split(",")) == set(PRODUCT_FIELDS)


@pytest.mark.anyio
async def test_every_products_request_lists_only_enum_fields(tmp_path):
    store = sandbox_store(tmp_path, products=30)
    recorder = RewritingTransport(store.transport())
    async with BigCommerceClient(store.settings, transport=recorder) as client:
        await extract_products(client, ExtractFilters(skus=("SKU-000101",), product_ids=(102, 103)))
        await products_by_sku(client, ["SKU-000104", "A,B"])
        await products_by_id(client, [105, 106])
    fields = [r.url.params.get("include_fields") for r in recorder.requests]
    assert len(fields) == 5 and all(f for f in fields)
    assert all("id" not in f.split(",") for f in fields)


async def _read(store, session: ExtractSession | None = None, filters: ExtractFilters = ExtractFilters(),
                progress=None) -> tuple[list[dict], int]:
    async with BigCommerceClient(store.settings, transport=store.transport()) as client:
        products = await extract_products(client, filters, session=session, progress=progress)
        return products, client.metrics.requests_sent


def _modifiers_by_product(products: list[dict]) -> dict[int, list[dict]]:
    """Modifiers without `name`, which the store generates from the clock when it seeds them."""
    return {p["id"]: [{k: v for k, v in m.items() if k != "name"} for m in p["modifiers"]] for p in products}


@pytest.mark.anyio
async def test_a_store_applying_include_fields_literally_costs_one_page_more_and_says_so(tmp_path, caplog):
    normal = sandbox_store(tmp_path / "normal", products=300)
    literal = sandbox_store(tmp_path / "literal", products=300, literal_include_fields=True)
    expected, normal_sent = await _read(normal)
    session = ExtractSession()
    seen: list[tuple[int, int]] = []
    products, sent = await _read(literal, session, progress=lambda done, total: seen.append((done, total)))
    assert _modifiers_by_product(products) == _modifiers_by_product(expected)
    assert [(p["sku"], p["name"]) for p in products] == [(p["sku"], p["name"]) for p in expected]
    assert normal_sent == 30 and sent == literal.stats()["requests"]["GET"] == 31
    assert seen[-1] == (30, 30)  # the abandoned first page does not stay in the bar
    assert session.warnings == [LITERAL_INCLUDE_FIELDS_WARNING] and not session.trim_fields
    assert "include_fields" in session.warnings[0] and "one extra request" in session.warnings[0]
    assert not caplog.records  # a caller with a session shows the warning itself
    # without a session the run logs it, so it is never lost
    caplog.set_level(logging.WARNING, logger="bcmod.extract")
    await _read(literal)
    assert [r.getMessage() for r in caplog.records] == [LITERAL_INCLUDE_FIELDS_WARNING]


@pytest.mark.anyio
async def test_the_switch_holds_for_the_rest_of_the_run(tmp_path):
    literal = sandbox_store(tmp_path, products=450, literal_include_fields=True)
    session = ExtractSession()
    # three id chunks of 200, 200 and 50 ids: only the first chunk's first page is asked twice
    products, sent = await _read(literal, session, ExtractFilters(product_ids=tuple(range(101, 551))))
    assert len(products) == 450 and all("modifiers" in p for p in products)
    assert sent == 46 and len(session.warnings) == 1
    async with BigCommerceClient(literal.settings, transport=literal.transport()) as client:
        again = await products_by_sku(client, ["SKU-000101", "SKU-000102"], session=session)
        assert client.metrics.requests_sent == 1 and [p["id"] for p in again] == [101, 102]
    assert len(session.warnings) == 1


@pytest.mark.anyio
async def test_a_store_that_never_embeds_modifiers_is_an_error_not_an_empty_catalog(tmp_path):
    store = sandbox_store(tmp_path, products=20)
    stripped = RewritingTransport(store.transport(), edit_body=each_product(lambda p: p.pop("modifiers", None)))
    async with BigCommerceClient(store.settings, transport=stripped) as client:
        with pytest.raises(ModifiersMissingError, match="without their modifiers"):
            await extract_products(client, session=ExtractSession())
    assert len(stripped.requests) == 2  # with include_fields, then without


def test_lacks_modifiers_wants_the_key_not_a_non_empty_list():
    assert not lacks_modifiers([{"id": 1, "modifiers": []}, {"id": 2, "modifiers": [{"id": 3}]}])
    assert lacks_modifiers([{"id": 1, "modifiers": []}, {"id": 2, "sku": "x"}])
    assert not lacks_modifiers([])
