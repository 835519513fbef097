"""Modifier CRUD for all twelve types, checkbox behaviour, PUT semantics, 404s and legacy refusal."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette

from pipeline.modifier_types import MODIFIER_TYPES, TYPE_NAMES

from .support import (
    API,
    CREATE_BODIES,
    LEGACY_PRODUCT,
    UPDATE_CONFIGS,
    assert_error,
    client_for,
    modifier_body,
    needs_specs,
    value_body,
)

pytestmark = pytest.mark.anyio
MODS = f"{API}/catalog/products/1/modifiers"
EMPTY_ADJUSTERS = {"price": {}, "weight": {}, "image_url": "", "purchasing_disabled": {"status": False, "message": ""}}


async def _create(client: httpx.AsyncClient, body: dict[str, Any], product_id: int = 1) -> dict[str, Any]:
    r = await client.post(f"{API}/catalog/products/{product_id}/modifiers", json=body)
    assert r.status_code == 200, r.text
    assert r.json()["meta"] == {}
    return r.json()["data"]


@pytest.mark.parametrize("type_name", TYPE_NAMES)
async def test_create_get_update_delete_every_type(client: httpx.AsyncClient, type_name: str) -> None:
    body = modifier_body(type_name)
    created = await _create(client, body)
    assert list(created) == ["id", "product_id", "name", "display_name", "type", "required", "sort_order",
                             "config", "option_values"]
    assert created["id"] >= 100 and created["product_id"] == 1 and created["type"] == type_name
    assert re.fullmatch(rf"My-{type_name}\d{{10}}-1", created["name"]), created["name"]
    assert created["config"] == body.get("config", {})
    spec = MODIFIER_TYPES[type_name]
    if spec.generated_values:
        assert [v["label"] for v in created["option_values"]] == ["Yes", "No"]
    else:
        assert [v["label"] for v in created["option_values"]] == [v["label"] for v in body.get("option_values", [])]
    for value in created["option_values"]:
        assert value["option_id"] == created["id"]
        assert list(value) == ["id", "option_id", "label", "sort_order", "value_data", "is_default", "adjusters"]

    url = f"{MODS}/{created['id']}"
    fetched = (await client.get(url)).json()
    assert fetched == {"data": created, "meta": {}}

    r = await client.put(url, json={"type": type_name, "display_name": "Renamed", "required": True,
                                    "config": UPDATE_CONFIGS[type_name]})
    assert r.status_code == 200, r.text
    updated = r.json()["data"]
    assert updated["display_name"] == "Renamed" and updated["required"] is True
    assert updated["name"] == created["name"], "the generated name does not follow display_name"
    assert updated["config"] == {**body.get("config", {}), **UPDATE_CONFIGS[type_name]}
    assert updated["option_values"] == created["option_values"]

    listed = (await client.get(MODS)).json()
    assert [m["id"] for m in listed["data"]] == [created["id"]]
    assert listed["data"][0] == updated

    r = await client.delete(url)
    assert r.status_code == 204 and r.content == b""
    assert_error(await client.get(url), 404)
    assert (await client.get(MODS)).json()["data"] == []


async def test_list_is_paginated_with_field_selection(client: httpx.AsyncClient) -> None:
    for n in range(3):
        await _create(client, modifier_body("text", f"Text {n}", sort_order=n))
    r = await client.get(MODS, params={"limit": 2, "page": 2, "include_fields": "display_name"})
    body = r.json()
    assert body["data"] == [{"id": body["data"][0]["id"], "display_name": "Text 2"}]
    assert body["meta"]["pagination"] == {
        "total": 3, "count": 1, "per_page": 2, "current_page": 2, "total_pages": 2,
        "links": {"previous": "?page=1&limit=2&include_fields=display_name",
                  "current": "?page=2&limit=2&include_fields=display_name"},
    }
    single = (await client.get(f"{MODS}/{body['data'][0]['id']}", params={"exclude_fields": "config,option_values"}))
    assert "config" not in single.json()["data"] and "name" in single.json()["data"]


async def test_checkbox_ignores_posted_values_and_generates_yes_no(client: httpx.AsyncClient) -> None:
    body = modifier_body("checkbox", option_values=[value_body("Sure", 0), value_body("Nope", 1)])
    created = await _create(client, body)
    yes, no = created["option_values"]
    assert (yes["label"], yes["value_data"], yes["is_default"]) == ("Yes", {"checked_value": True}, False)
    assert (no["label"], no["value_data"], no["is_default"]) == ("No", {"checked_value": False}, True)
    assert yes["adjusters"] == EMPTY_ADJUSTERS


async def test_checkbox_values_can_be_updated_not_created_or_deleted(client: httpx.AsyncClient) -> None:
    created = await _create(client, modifier_body("checkbox"))
    values_url = f"{MODS}/{created['id']}/values"
    yes = created["option_values"][0]
    r = await client.put(f"{values_url}/{yes['id']}", json=value_body(
        "Yes", 0, is_default=True, adjusters={"price": {"adjuster": "relative", "adjuster_value": 5}}))
    assert r.status_code == 200, r.text
    assert r.json()["data"]["adjusters"]["price"] == {"adjuster": "relative", "adjuster_value": 5}
    after = (await client.get(values_url)).json()["data"]
    assert [v["is_default"] for v in after] == [True, False], "one default per modifier"
    assert_error(await client.post(values_url, json=value_body("Maybe", 2)), 422, "option_values")
    assert_error(await client.delete(f"{values_url}/{yes['id']}"), 422, "option_values")
    assert_error(await client.put(f"{values_url}/{yes['id']}",
                                  json=value_body("Yes", 0, value_data={"checked_value": False})), 422, "value_data")
    assert len((await client.get(values_url)).json()["data"]) == 2


async def test_checkbox_values_updated_through_modifier_put(client: httpx.AsyncClient) -> None:
    created = await _create(client, modifier_body("checkbox"))
    yes_id = created["option_values"][0]["id"]
    r = await client.put(f"{MODS}/{created['id']}", json={"type": "checkbox", "required": False, "option_values": [
        {"id": yes_id, "adjusters": {"weight": {"adjuster": "percentage", "adjuster_value": 2.5}}}]})
    assert r.status_code == 200, r.text
    assert r.json()["data"]["option_values"][0]["adjusters"]["weight"] == {"adjuster": "percentage",
                                                                             "adjuster_value": 2.5}
    assert_error(await client.put(f"{MODS}/{created['id']}", json={
        "type": "checkbox", "required": False, "option_values": [value_body("Extra", 3)]}), 422, "option_values.0")


async def test_put_option_values_updates_by_id_and_creates_without_id(client: httpx.AsyncClient) -> None:
    created = await _create(client, modifier_body("dropdown", option_values=[value_body("A", 0), value_body("B", 1)]))
    a, b = created["option_values"]
    full = {"type": "dropdown", "required": False}
    r = await client.put(f"{MODS}/{created['id']}", json={**full, "option_values": [
        {"id": a["id"], "label": "A2", "is_default": True}, value_body("C", 2, is_default=True)]})
    assert r.status_code == 200, r.text
    values = r.json()["data"]["option_values"]
    assert [v["label"] for v in values] == ["A2", "B", "C"]
    assert [v["is_default"] for v in values] == [False, False, True], "the later default wins"
    assert values[1] == b
    other = await _create(client, modifier_body("dropdown", "Other", option_values=[value_body("X", 0)]))
    foreign = other["option_values"][0]["id"]
    assert_error(await client.put(f"{MODS}/{created['id']}", json={
        **full, "option_values": [{"id": foreign, "label": "Y"}]}), 422, "option_values.0.id")
    assert_error(await client.put(f"{MODS}/{created['id']}", json={**full, "option_values": [value_body("B", 5)]}),
                 422, "option_values")


async def test_put_config_merges_and_null_removes(make_app: Callable[..., Starlette]) -> None:
    """The sandbox's own rule, so non-strict: the spec has no null for config fields (see the next test)."""
    async with client_for(make_app(strict=False)) as client:
        created = await _create(client, modifier_body("text"))
        r = await client.put(f"{MODS}/{created['id']}", json={"type": "text", "required": False,
                                                              "config": {"default_value": None, "text_max_length": 99}})
    assert r.json()["data"]["config"] == {"text_characters_limited": True, "text_min_length": 1,
                                          "text_max_length": 99}


@needs_specs
async def test_strict_refuses_null_config_fields(client: httpx.AsyncClient) -> None:
    created = await _create(client, modifier_body("text"))
    r = await client.put(f"{MODS}/{created['id']}", json={"type": "text", "required": False,
                                                          "config": {"default_value": None}})
    assert assert_error(r, 422, "config.default_value")["errors"]["config.default_value"] == "must not be null"


async def test_type_is_immutable(client: httpx.AsyncClient) -> None:
    created = await _create(client, modifier_body("text"))
    assert_error(await client.put(f"{MODS}/{created['id']}", json={"type": "dropdown", "required": False}),
                 422, "type")
    r = await client.put(f"{MODS}/{created['id']}", json={"type": "text", "required": True})
    assert r.status_code == 200


async def test_404s(client: httpx.AsyncClient) -> None:
    created = await _create(client, modifier_body("text"))
    assert_error(await client.get(f"{API}/catalog/products/4242/modifiers"), 404)
    assert_error(await client.post(f"{API}/catalog/products/4242/modifiers", json=modifier_body("text")), 404)
    assert_error(await client.get(f"{MODS}/999999"), 404)
    assert_error(await client.put(f"{MODS}/999999", json={"type": "text", "required": True}), 404)
    assert_error(await client.delete(f"{MODS}/999999"), 404)
    # a modifier is only reachable under its own product
    assert_error(await client.get(f"{API}/catalog/products/2/modifiers/{created['id']}"), 404)
    assert_error(await client.get(f"{MODS}/{created['id']}/values/999999"), 404)
    assert_error(await client.get(f"{MODS}/not-a-number"), 404)


async def test_unknown_route_and_wrong_method(client: httpx.AsyncClient) -> None:
    body = assert_error(await client.get(f"{API}/catalog/brands"), 404)
    assert "errors" not in body
    r = await client.patch(MODS, json={})
    assert_error(r, 405)
    assert set(r.headers["allow"].replace(" ", "").split(",")) >= {"GET", "POST"}
    assert_error(await client.get("/nowhere"), 404)


@pytest.mark.parametrize("raw", [b"{not json", b"", b"\xff\xfe"])
async def test_malformed_body_is_400(client: httpx.AsyncClient, raw: bytes) -> None:
    r = await client.post(MODS, content=raw, headers={"Content-Type": "application/json"})
    body = assert_error(r, 400, "body")
    assert "JSON" in body["title"] or "empty" in body["title"]


async def test_legacy_option_set_refuses_every_write(client: httpx.AsyncClient) -> None:
    mods = f"{API}/catalog/products/{LEGACY_PRODUCT}/modifiers"
    existing = (await client.get(mods)).json()["data"][0]
    value = existing["option_values"][0]
    values = f"{mods}/{existing['id']}/values"
    attempts = [
        client.post(mods, json=modifier_body("text")),
        client.put(f"{mods}/{existing['id']}", json={"type": "dropdown", "required": True}),
        client.delete(f"{mods}/{existing['id']}"),
        client.post(values, json=value_body("M", 1)),
        client.put(f"{values}/{value['id']}", json=value_body("XS", 0)),
        client.delete(f"{values}/{value['id']}"),
        client.post(f"{values}/{value['id']}/image", files={"image_file": ("a.png", b"\x89PNG\r\n\x1a\n...")}),
    ]
    for attempt in attempts:
        body = assert_error(await attempt, 422, "option_set_id")
        assert "legacy option set" in body["title"]
    product = (await client.get(f"{API}/catalog/products/{LEGACY_PRODUCT}", params={"include": "modifiers"})).json()
    assert product["data"]["modifiers"] == [existing]
    assert product["data"]["date_modified"] == "2020-01-01T00:00:00+00:00"


async def _date_modified(client: httpx.AsyncClient, product_id: int = 1) -> str:
    return (await client.get(f"{API}/catalog/products/{product_id}")).json()["data"]["date_modified"]


async def test_every_write_bumps_product_date_modified(client: httpx.AsyncClient) -> None:
    seeded = await _date_modified(client)
    created = await _create(client, modifier_body("dropdown", option_values=[value_body("A", 0)]))
    after_create = await _date_modified(client)
    assert after_create > seeded
    # each later write must at least keep it at "now"; reset it to compare each write on its own
    store = client._transport.app.state.sandbox.store  # type: ignore[attr-defined]
    writes = [
        lambda: client.put(f"{MODS}/{created['id']}", json={"type": "dropdown", "required": True}),
        lambda: client.post(f"{MODS}/{created['id']}/values", json=value_body("B", 1)),
        lambda: client.put(f"{MODS}/{created['id']}/values/{created['option_values'][0]['id']}",
                           json=value_body("A1", 0)),
        lambda: client.delete(f"{MODS}/{created['id']}/values/{created['option_values'][0]['id']}"),
        lambda: client.delete(f"{MODS}/{created['id']}"),
    ]
    for write in writes:
        store._db.execute("UPDATE products SET date_modified = 0 WHERE id = 1")
        r = await write()
        assert r.status_code in (200, 204), r.text
        assert await _date_modified(client) >= after_create
    store._db.execute("UPDATE products SET date_modified = 0 WHERE id = 1")
    await client.get(f"{MODS}")
    assert await _date_modified(client) == "1970-01-01T00:00:00+00:00", "reads do not bump"


async def test_modifier_names_are_unique(client: httpx.AsyncClient) -> None:
    first = await _create(client, modifier_body("text", "Same"))
    second = await _create(client, modifier_body("text", "Same"))
    assert first["name"] != second["name"]
    assert first["display_name"] == second["display_name"] == "Same"


async def test_all_types_have_bodies() -> None:
    assert set(CREATE_BODIES) == set(TYPE_NAMES) == set(UPDATE_CONFIGS)
