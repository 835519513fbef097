"""Seeding and the data layer: id sequences, generated checkbox values, auto-seed, speed."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
from starlette.applications import Starlette

from pipeline.sandbox.app import create_app
from pipeline.sandbox.config import SandboxConfig
from pipeline.sandbox.images import load_image
from pipeline.sandbox.store import FIRST_MODIFIER_ID, FIRST_VALUE_ID, ProductFilter, Store
from sample_data import generator

from .support import API, client_for, seed_products

AppFactory = Callable[..., Starlette]


def test_seed_assigns_ids_from_their_own_sequences(tmp_path: Path) -> None:
    store = Store(tmp_path)
    assert store.is_empty()
    assert store.seed_catalog(seed_products()) == 26
    modifiers = store.modifiers_by_product([2, 3, 99])
    ids = sorted(m["id"] for ms in modifiers.values() for m in ms)
    assert ids == list(range(FIRST_MODIFIER_ID, FIRST_MODIFIER_ID + 4))
    value_ids = sorted(v["id"] for ms in modifiers.values() for m in ms for v in m["option_values"])
    assert value_ids == list(range(FIRST_VALUE_ID, FIRST_VALUE_ID + 7))
    checkbox = modifiers[2][1]
    assert [(v["label"], v["value_data"], v["is_default"]) for v in checkbox["option_values"]] == [
        ("Yes", {"checked_value": True}, False), ("No", {"checked_value": False}, True)]
    store.close()


def test_seeded_checkbox_values_are_kept(tmp_path: Path) -> None:
    store = Store(tmp_path)
    yes = {"label": "Yes", "sort_order": 0, "is_default": True, "value_data": {"checked_value": True},
           "adjusters": {"price": {"adjuster": "relative", "adjuster_value": 5}}}
    no = {"label": "No", "sort_order": 1, "is_default": False, "value_data": {"checked_value": False}}
    store.seed_catalog([{"id": 1, "name": "P", "sku": "P", "price": 1, "weight": 1, "option_set_id": None,
                         "modifiers": [{"display_name": "Wrap", "type": "checkbox", "required": False,
                                        "sort_order": 0, "config": {}, "option_values": [yes, no]}]}])
    values = store.modifiers_by_product([1])[1][0]["option_values"]
    assert values[0]["adjusters"] == {"price": {"adjuster": "relative", "adjuster_value": 5}, "weight": {},
                                      "image_url": "", "purchasing_disabled": {"status": False, "message": ""}}
    assert values[0]["is_default"] is True
    store.close()


def test_seeded_dates_are_stored_as_atom(tmp_path: Path) -> None:
    store = Store(tmp_path)
    config = {"default_value": "2027-04-01", "date_limited": True, "date_limit_mode": "range",
              "date_earliest_value": "2027-01-01T00:00:00Z", "date_latest_value": "2027-12-31T00:00:00+00:00"}
    store.seed_catalog([{"id": 1, "name": "P", "sku": "P", "modifiers": [
        {"display_name": "When", "type": "date", "required": False, "config": config}]}])
    stored = store.modifiers_by_product([1])[1][0]["config"]
    assert stored == {**config, "default_value": "2027-04-01T00:00:00+00:00",
                      "date_earliest_value": "2027-01-01T00:00:00+00:00"}
    store.close()


def test_ids_continue_after_restart(tmp_path: Path) -> None:
    store = Store(tmp_path)
    store.seed_catalog(seed_products())
    store.close()
    again = Store(tmp_path)
    created = again.create_modifier(1, {"display_name": "X", "type": "text", "required": False, "config": {},
                                        "option_values": []})
    assert created["id"] == FIRST_MODIFIER_ID + 4
    again.close()


def test_auto_seed_only_when_empty(tmp_path: Path) -> None:
    config = SandboxConfig(data_dir=tmp_path, products=12, quota=None)
    app = create_app(config)
    store = app.state.sandbox.store
    _, total = store.list_products(ProductFilter(), 0, 1)
    assert total == 12
    types = {m["type"] for ms in store.modifiers_by_product(list(range(101, 113))).values() for m in ms}
    assert len(types) == 12
    store.create_modifier(101, {"display_name": "Extra", "type": "text", "required": False, "config": {}})
    before = store.list_modifiers(101, 0, 250)[1]
    store.close()
    reopened = create_app(SandboxConfig(data_dir=tmp_path, products=50))
    assert reopened.state.sandbox.store.list_products(ProductFilter(), 0, 1)[1] == 12, "not re-seeded"
    assert reopened.state.sandbox.store.list_modifiers(101, 0, 250)[1] == before


@pytest.mark.anyio
async def test_300_product_catalog_pages_quickly(tmp_path: Path) -> None:
    # It measures the store's own paging: the spec check (its cost is measured apart) stays off.
    app = create_app(SandboxConfig(data_dir=tmp_path, quota=None, strict=False, check_responses=False))
    started = time.perf_counter()
    app.state.sandbox.store.seed_catalog(generator.generate_catalog(n_products=300, seed=1))
    seeded = time.perf_counter() - started
    pages = 0
    started = time.perf_counter()
    async with client_for(app) as client:
        url: str | None = f"{API}/catalog/products?include=modifiers&limit=250"
        modifiers = 0
        while url:
            body = (await client.get(url)).json()
            pages += 1
            modifiers += sum(len(p["modifiers"]) for p in body["data"])
            nxt = body["meta"]["pagination"]["links"].get("next")
            url = f"{API}/catalog/products{nxt}" if nxt else None
    listed = time.perf_counter() - started
    assert pages == 30
    assert modifiers == sum(len(p["modifiers"]) for p in generator.generate_catalog(n_products=300, seed=1))
    assert seeded < 2 and listed < 3, (seeded, listed)


def test_load_image_refuses_paths_outside_the_images_dir(tmp_path: Path) -> None:
    (tmp_path / "secret.txt").write_text("nope")
    images = tmp_path / "images"
    images.mkdir()
    assert load_image(images, "../secret.txt") is None
    assert load_image(images, "/etc/passwd") is None
    assert load_image(images, "seed/../../secret.txt") is None


@pytest.mark.anyio
async def test_same_database_under_two_hosts(make_app: AppFactory) -> None:
    app = make_app()
    for base in ("http://a:1", "http://b:2"):
        async with httpx.AsyncClient(transport=client_for(app)._transport, base_url=base,
                                     headers={"X-Auth-Token": "sandbox-token"}) as client:
            product = (await client.get(f"{API}/catalog/products/3", params={"include": "modifiers"})).json()
        url = product["data"]["modifiers"][0]["option_values"][1]["adjusters"]["image_url"]
        assert url == f"{base}/_sandbox/images/seed/pattern-value.png"
