"""Option value CRUD for every type with values, defaults, labels, adjusters and value data."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette

from pipeline.modifier_types import MODIFIER_TYPES

from .support import API, assert_error, client_for, modifier_body, needs_specs, value_body

pytestmark = pytest.mark.anyio
MODS = f"{API}/catalog/products/1/modifiers"
VALUE_TYPES = [name for name, spec in MODIFIER_TYPES.items() if spec.has_values and not spec.generated_values]
NEW_VALUE_DATA: dict[str, Any] = {
    "radio_buttons": None, "rectangles": None, "dropdown": None, "swatch": {"colors": ["#abcdef", "#000000"]},
    "product_list": {"product_id": 7}, "product_list_with_images": {"product_id": 8},
}


async def _modifier(client: httpx.AsyncClient, type_name: str, **extra: Any) -> dict[str, Any]:
    r = await client.post(MODS, json=modifier_body(type_name, **extra))
    assert r.status_code == 200, r.text
    return r.json()["data"]


@pytest.mark.parametrize("type_name", VALUE_TYPES)
async def test_value_crud_for_every_type_with_values(client: httpx.AsyncClient, type_name: str) -> None:
    modifier = await _modifier(client, type_name)
    values_url = f"{MODS}/{modifier['id']}/values"
    before = (await client.get(values_url)).json()["data"]
    value_data = {"value_data": NEW_VALUE_DATA[type_name]} if NEW_VALUE_DATA[type_name] else {}
    body = value_body("New one", 9, **value_data, adjusters={
        "price": {"adjuster": "relative", "adjuster_value": -2.5},
        "purchasing_disabled": {"status": True, "message": "Sold out"}})
    r = await client.post(values_url, json=body)
    assert r.status_code == 200, r.text
    created = r.json()["data"]
    assert r.json()["meta"] == {}
    assert created["option_id"] == modifier["id"] and created["label"] == "New one" and created["sort_order"] == 9
    assert created["value_data"] == NEW_VALUE_DATA[type_name]
    assert created["is_default"] is False
    assert created["adjusters"] == {"price": {"adjuster": "relative", "adjuster_value": -2.5}, "weight": {},
                                    "image_url": "", "purchasing_disabled": {"status": True, "message": "Sold out"}}
    url = f"{values_url}/{created['id']}"
    assert (await client.get(url)).json() == {"data": created, "meta": {}}

    r = await client.put(url, json=value_body("Renamed", 9, adjusters={"weight": {"adjuster": "percentage",
                                                                                   "adjuster_value": 3}}))
    assert r.status_code == 200, r.text
    updated = r.json()["data"]
    assert updated["label"] == "Renamed" and updated["sort_order"] == 9
    assert updated["adjusters"]["price"] == created["adjusters"]["price"], "adjusters merge by key"
    assert updated["adjusters"]["weight"] == {"adjuster": "percentage", "adjuster_value": 3}

    listed = (await client.get(values_url)).json()
    assert [v["id"] for v in listed["data"]] == [v["id"] for v in before] + [created["id"]]
    assert listed["meta"]["pagination"]["total"] == len(before) + 1

    r = await client.delete(url)
    assert r.status_code == 204 and r.content == b""
    assert_error(await client.get(url), 404)
    assert_error(await client.delete(url), 404)
    assert (await client.get(values_url)).json()["data"] == before


async def test_one_default_per_modifier(client: httpx.AsyncClient) -> None:
    modifier = await _modifier(client, "radio_buttons")
    values_url = f"{MODS}/{modifier['id']}/values"
    assert [v["is_default"] for v in modifier["option_values"]] == [True, False]
    gloss = modifier["option_values"][1]
    await client.put(f"{values_url}/{gloss['id']}", json=value_body("Gloss", 1, is_default=True))
    assert [v["is_default"] for v in (await client.get(values_url)).json()["data"]] == [False, True]
    await client.post(values_url, json=value_body("Satin", 2, is_default=True))
    assert [v["is_default"] for v in (await client.get(values_url)).json()["data"]] == [False, False, True]
    await client.put(f"{values_url}/{gloss['id']}", json=value_body("Gloss", 1, is_default=False))
    assert [v["is_default"] for v in (await client.get(values_url)).json()["data"]] == [False, False, True]


async def test_labels_unique_per_modifier_only(client: httpx.AsyncClient) -> None:
    first = await _modifier(client, "dropdown", display_name="First")
    second = await _modifier(client, "dropdown", display_name="Second")
    label = first["option_values"][0]["label"]
    r = await client.post(f"{MODS}/{second['id']}/values", json=value_body(label + "x", 1))
    assert r.status_code == 200
    r = await client.post(f"{MODS}/{first['id']}/values", json=value_body(label, 1))
    assert_error(r, 422, "label")
    # renaming a value to its own label is not a duplicate
    value = first["option_values"][0]
    r = await client.put(f"{MODS}/{first['id']}/values/{value['id']}", json={"label": label, "sort_order": 4})
    assert r.status_code == 200 and r.json()["data"]["sort_order"] == 4


async def test_values_sorted_by_sort_order_then_id(client: httpx.AsyncClient) -> None:
    modifier = await _modifier(client, "rectangles")
    values_url = f"{MODS}/{modifier['id']}/values"
    await client.post(values_url, json=value_body("XS", -1))
    await client.post(values_url, json=value_body("L", 1))
    assert [v["label"] for v in (await client.get(values_url)).json()["data"]] == ["XS", "S", "M", "L"]


async def test_values_pagination_and_fields(client: httpx.AsyncClient) -> None:
    modifier = await _modifier(client, "dropdown", option_values=[value_body(f"V{i}", i) for i in range(5)])
    r = await client.get(f"{MODS}/{modifier['id']}/values", params={"limit": 2, "page": 3,
                                                                     "exclude_fields": "adjusters,value_data"})
    body = r.json()
    assert [v["label"] for v in body["data"]] == ["V4"]
    assert set(body["data"][0]) == {"id", "option_id", "label", "sort_order", "is_default"}
    assert body["meta"]["pagination"]["total_pages"] == 3 and "next" not in body["meta"]["pagination"]["links"]
    r = await client.get(f"{MODS}/{modifier['id']}/values/{body['data'][0]['id']}",
                         params={"include_fields": "label"})
    assert set(r.json()["data"]) == {"id", "label"}


async def test_null_adjuster_means_no_adjustment(client: httpx.AsyncClient) -> None:
    modifier = await _modifier(client, "dropdown")
    value = modifier["option_values"][0]
    assert value["adjusters"]["price"] == {"adjuster": "percentage", "adjuster_value": 10}
    r = await client.put(f"{MODS}/{modifier['id']}/values/{value['id']}",
                         json=value_body(value["label"], 0, adjusters={"price": {"adjuster": None,
                                                                                 "adjuster_value": 4}}))
    assert r.json()["data"]["adjusters"]["price"] == {}


async def test_image_urls_of_this_sandbox_are_stored_relative(make_app: Callable[..., Starlette]) -> None:
    """The sandbox's own rule, so non-strict: strict refuses `adjusters.image_url` (see the next test)."""
    async with client_for(make_app(strict=False)) as client:
        await _image_urls_stored_relative(client)


@needs_specs
async def test_strict_refuses_adjusters_image_url(client: httpx.AsyncClient) -> None:
    """Read-only on create: a value's image goes through POST .../image (errata: request-image-url-read-only)."""
    modifier = await _modifier(client, "swatch")
    values_url = f"{MODS}/{modifier['id']}/values"
    image = {"adjusters": {"image_url": "https://cdn.example.com/a.png"}}
    for response in (await client.post(values_url, json=value_body("Pic", 5, **image)),
                     await client.put(f"{values_url}/{modifier['option_values'][0]['id']}",
                                      json=value_body("Red", 0, **image)),
                     await client.post(MODS, json=modifier_body("dropdown",
                                                                option_values=[value_body("A", 0, **image)]))):
        errors = assert_error(response, 422)["errors"]
        assert any(key.endswith("adjusters.image_url") for key in errors), errors
    swatch_image = await client.put(f"{values_url}/{modifier['option_values'][1]['id']}", json=value_body(
        "Pattern", 1, value_data={"image_url": "https://cdn.example.com/p.png"}))
    assert swatch_image.status_code == 200, "value_data.image_url (a swatch pattern) stays writable"


async def _image_urls_stored_relative(client: httpx.AsyncClient) -> None:
    modifier = await _modifier(client, "swatch")
    value = modifier["option_values"][0]
    url = f"{MODS}/{modifier['id']}/values/{value['id']}"
    absolute = "http://sandbox.test/_sandbox/images/uploads/x.png"
    r = await client.put(url, json=value_body("Red", 0, value_data={"image_url": absolute},
                                              adjusters={"image_url": absolute}))
    assert r.json()["data"]["adjusters"]["image_url"] == absolute
    store = client._transport.app.state.sandbox.store  # type: ignore[attr-defined]
    stored = store.get_value(modifier["id"], value["id"])
    assert stored["adjusters"]["image_url"] == "/_sandbox/images/uploads/x.png"
    assert stored["value_data"] == {"image_url": "/_sandbox/images/uploads/x.png"}
    async with httpx.AsyncClient(transport=client._transport, base_url="http://other:9000",
                                 headers=client.headers) as other:
        moved = (await other.get(url)).json()["data"]
    assert moved["adjusters"]["image_url"] == "http://other:9000/_sandbox/images/uploads/x.png"
    external = "https://cdn.example.com/a.png"
    r = await client.put(url, json=value_body("Red", 0, adjusters={"image_url": external}))
    assert r.json()["data"]["adjusters"]["image_url"] == external


async def test_value_data_of_plain_types_is_null(client: httpx.AsyncClient) -> None:
    modifier = await _modifier(client, "dropdown")
    r = await client.post(f"{MODS}/{modifier['id']}/values", json=value_body("E", 1, value_data={}))
    assert r.json()["data"]["value_data"] is None


async def test_concurrent_creates_cannot_duplicate_a_label(make_app: Callable[..., Starlette]) -> None:
    app = make_app(latency_ms=5)  # latency makes the requests interleave
    async with client_for(app) as client:
        modifier = await _modifier(client, "dropdown")
        values_url = f"{MODS}/{modifier['id']}/values"
        responses = await asyncio.gather(*(client.post(values_url, json=value_body("Same", n)) for n in range(10)))
        assert sorted(r.status_code for r in responses) == [200] + [422] * 9
        labels = [v["label"] for v in (await client.get(values_url)).json()["data"]]
    assert labels.count("Same") == 1
