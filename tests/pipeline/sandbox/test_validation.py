"""Every 422 rule of modifiers and values: status, the field named in `errors`, the error shape.

These are the sandbox's own rules, which a client meets when the spec check is off or the specs
are absent, so the store here is explicitly non-strict (many bodies below also break the spec,
which a strict store would refuse first, under `query.`/body keys: see test_strict.py).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette

from .support import API, CREATE_BODIES, assert_error, modifier_body, value_body

pytestmark = pytest.mark.anyio
MODS = f"{API}/catalog/products/1/modifiers"


@pytest.fixture
def app(make_app: Callable[..., Starlette]) -> Starlette:
    return make_app(strict=False)


def _without(body: dict[str, Any], key: str) -> dict[str, Any]:
    return {k: v for k, v in body.items() if k != key}


def _config(type_name: str, **changes: Any) -> dict[str, Any]:
    return modifier_body(type_name, config={**CREATE_BODIES[type_name].get("config", {}), **changes})


MODIFIER_CASES = [
    ("type missing", _without(modifier_body("text"), "type"), "type"),
    ("unknown type", modifier_body("text", type="slider"), "type"),
    ("required missing", _without(modifier_body("text"), "required"), "required"),
    ("required not bool", modifier_body("text", required="yes"), "required"),
    ("display_name missing", _without(modifier_body("text"), "display_name"), "display_name"),
    ("display_name empty", modifier_body("text", display_name="  "), "display_name"),
    ("sort_order not int", modifier_body("text", sort_order="1"), "sort_order"),
    ("sort_order beyond int32", modifier_body("text", sort_order=2**31), "sort_order"),
    ("config not an object", modifier_body("text", config="x"), "config"),
    ("config key of another type", _config("text", checkbox_label="x"), "config.checkbox_label"),
    ("config key of nobody", _config("dropdown", colour="red"), "config.colour"),
    ("enum outside choices", _config("file", file_types_mode="some"), "config.file_types_mode"),
    ("date enum", _config("date", date_limit_mode="between"), "config.date_limit_mode"),
    ("number enum", _config("numbers_only_text", number_limit_mode="low"), "config.number_limit_mode"),
    ("shipping enum", _config("product_list", product_list_shipping_calc="air"), "config.product_list_shipping_calc"),
    ("bool is not an int", _config("file", file_max_size=True), "config.file_max_size"),
    ("float is not an int", _config("text", text_max_length=5.5), "config.text_max_length"),
    ("file_max_size too big", _config("file", file_max_size=524289), "config.file_max_size"),
    ("file_max_size negative", _config("file", file_max_size=-1), "config.file_max_size"),
    ("text min > max", _config("text", text_min_length=30, text_max_length=5), "config.text_min_length"),
    ("number low > high", _config("numbers_only_text", number_lowest_value=11), "config.number_lowest_value"),
    ("number not a number", _config("numbers_only_text", number_highest_value="ten"), "config.number_highest_value"),
    ("boolean field", _config("checkbox", checked_by_default="true"), "config.checked_by_default"),
    ("date not ISO", _config("date", default_value="03/05/2026"), "config.default_value"),
    ("date serial", _config("date", date_earliest_value=45000), "config.date_earliest_value"),
    ("earliest > latest", _config("date", date_earliest_value="2027-01-01T00:00:00+00:00"),
     "config.date_earliest_value"),
    ("date needs default", modifier_body("date", config={"date_limited": False}), "config.default_value"),
    ("file types outside groups", _config("file", file_types_supported=["images", "videos"]),
     "config.file_types_supported"),
    ("file types not a list", _config("file", file_types_other="stl"), "config.file_types_other"),
    ("values on a config-only type", modifier_body("text", option_values=[value_body("A")]), "option_values"),
    ("option_values not a list", modifier_body("dropdown", option_values={"label": "A"}), "option_values"),
    ("nested value without label", modifier_body("dropdown", option_values=[{"sort_order": 0}]),
     "option_values.0.label"),
    ("nested value bad sort_order", modifier_body("dropdown", option_values=[value_body("A", sort_order="0")]),
     "option_values.0.sort_order"),
    ("nested duplicate labels", modifier_body("dropdown", option_values=[value_body("A", 0), value_body("A", 1)]),
     "option_values"),
    ("nested swatch default", modifier_body("swatch", option_values=[value_body("A", 0, is_default=True)]),
     "option_values.0.is_default"),
    ("nested product_list unknown product", modifier_body(
        "product_list", option_values=[value_body("P", 0, value_data={"product_id": 4242})]),
     "option_values.0.value_data.product_id"),
    ("251 values", modifier_body("dropdown", option_values=[value_body(f"V{i}", i) for i in range(251)]),
     "option_values"),
]


@pytest.mark.parametrize(("case", "body", "key"), MODIFIER_CASES, ids=[c[0] for c in MODIFIER_CASES])
async def test_modifier_post_422(client: httpx.AsyncClient, case: str, body: dict[str, Any], key: str) -> None:
    assert_error(await client.post(MODS, json=body), 422, key)
    assert (await client.get(MODS)).json()["data"] == [], "nothing is written on a 422"


async def test_modifier_body_must_be_an_object(client: httpx.AsyncClient) -> None:
    assert_error(await client.post(MODS, json=[1, 2]), 422, "body")


async def test_several_errors_reported_at_once(client: httpx.AsyncClient) -> None:
    body = {"type": "file", "config": {"file_max_size": 10**9, "file_types_mode": "x"}}
    errors = assert_error(await client.post(MODS, json=body), 422)["errors"]
    assert {"required", "display_name", "config.file_max_size", "config.file_types_mode"} <= set(errors)


async def test_modifier_put_validates_the_merged_config(client: httpx.AsyncClient) -> None:
    created = (await client.post(MODS, json=modifier_body("text"))).json()["data"]
    url = f"{MODS}/{created['id']}"
    assert_error(await client.put(url, json={"config": {"text_min_length": 50}}), 422, "config.text_min_length")
    assert_error(await client.put(url, json={"config": {"file_max_size": 5}}), 422, "config.file_max_size")
    assert_error(await client.put(url, json={"display_name": ""}), 422, "display_name")
    assert_error(await client.put(url, json={"required": None}), 422, "required")
    assert_error(await client.put(url, json={"option_values": [value_body("A")]}), 422, "option_values")
    date = (await client.post(MODS, json=modifier_body("date"))).json()["data"]
    assert_error(await client.put(f"{MODS}/{date['id']}", json={"config": {"default_value": None}}), 422,
                 "config.default_value")
    assert (await client.get(url)).json()["data"] == created


VALUE_CASES = [
    ("dropdown", "label missing", {"sort_order": 0}, "label"),
    ("dropdown", "label empty", value_body(""), "label"),
    ("dropdown", "label not a string", value_body(5), "label"),
    ("dropdown", "sort_order missing", {"label": "X"}, "sort_order"),
    ("dropdown", "sort_order float", value_body("X", 1.5), "sort_order"),
    ("dropdown", "sort_order bool", value_body("X", True), "sort_order"),
    ("dropdown", "sort_order below int32", value_body("X", -(2**31) - 1), "sort_order"),
    ("dropdown", "duplicate label", value_body("A"), "label"),
    ("dropdown", "is_default not bool", value_body("X", is_default="yes"), "is_default"),
    ("dropdown", "value_data on a plain type", value_body("X", value_data={"colors": ["#000000"]}),
     "value_data.colors"),
    ("dropdown", "value_data not an object", value_body("X", value_data="red"), "value_data"),
    ("dropdown", "adjuster kind", value_body("X", adjusters={"price": {"adjuster": "fixed", "adjuster_value": 1}}),
     "adjusters.price.adjuster"),
    ("dropdown", "adjuster value text", value_body(
        "X", adjusters={"weight": {"adjuster": "relative", "adjuster_value": "1"}}), "adjusters.weight.adjuster_value"),
    ("dropdown", "adjuster without value", value_body("X", adjusters={"price": {"adjuster": "relative"}}),
     "adjusters.price.adjuster_value"),
    ("dropdown", "unknown adjuster", value_body("X", adjusters={"shipping": {}}), "adjusters.shipping"),
    ("dropdown", "purchasing_disabled status", value_body(
        "X", adjusters={"purchasing_disabled": {"status": "no", "message": ""}}),
     "adjusters.purchasing_disabled.status"),
    ("dropdown", "purchasing_disabled message", value_body(
        "X", adjusters={"purchasing_disabled": {"status": True, "message": 3}}),
     "adjusters.purchasing_disabled.message"),
    ("dropdown", "image_url not a string", value_body("X", adjusters={"image_url": 5}), "adjusters.image_url"),
    ("swatch", "four colours", value_body("X", value_data={"colors": ["#000000"] * 4}), "value_data.colors"),
    ("swatch", "colour name", value_body("X", value_data={"colors": ["red"]}), "value_data.colors"),
    ("swatch", "short hex", value_body("X", value_data={"colors": ["#fff"]}), "value_data.colors"),
    ("swatch", "swatch default", value_body("X", is_default=True), "is_default"),
    ("swatch", "swatch image_url", value_body("X", value_data={"image_url": 7}), "value_data.image_url"),
    ("product_list", "product_id missing", value_body("X"), "value_data.product_id"),
    ("product_list", "product_id unknown", value_body("X", value_data={"product_id": 4242}), "value_data.product_id"),
    ("product_list", "product_id text", value_body("X", value_data={"product_id": "5"}), "value_data.product_id"),
    ("product_list_with_images", "product_id unknown", value_body("X", value_data={"product_id": 0}),
     "value_data.product_id"),
    ("text", "values on a config-only type", value_body("X"), "option_values"),
]


async def _modifier_with_value(client: httpx.AsyncClient, type_name: str) -> dict[str, Any]:
    values = {"dropdown": [value_body("A")], "swatch": [value_body("A", value_data={"colors": ["#123456"]})],
              "product_list": [value_body("A", value_data={"product_id": 4})],
              "product_list_with_images": [value_body("A", value_data={"product_id": 4})]}.get(type_name)
    body = modifier_body(type_name, option_values=values) if values else modifier_body(type_name)
    r = await client.post(MODS, json=body)
    assert r.status_code == 200, r.text
    return r.json()["data"]


@pytest.mark.parametrize(("type_name", "case", "body", "key"), VALUE_CASES, ids=[f"{c[0]}-{c[1]}" for c in VALUE_CASES])
async def test_value_post_422(client: httpx.AsyncClient, type_name: str, case: str, body: dict[str, Any],
                              key: str) -> None:
    modifier = await _modifier_with_value(client, type_name)
    values_url = f"{MODS}/{modifier['id']}/values"
    assert_error(await client.post(values_url, json=body), 422, key)
    assert len((await client.get(values_url)).json()["data"]) == len(modifier["option_values"])


async def test_value_put_422(client: httpx.AsyncClient) -> None:
    modifier = await _modifier_with_value(client, "dropdown")
    values_url = f"{MODS}/{modifier['id']}/values"
    second = (await client.post(values_url, json=value_body("B", 1))).json()["data"]
    url = f"{values_url}/{second['id']}"
    assert_error(await client.put(url, json={"label": "A"}), 422, "label")
    assert_error(await client.put(url, json={"label": ""}), 422, "label")
    assert_error(await client.put(url, json={"sort_order": "2"}), 422, "sort_order")
    assert_error(await client.put(url, json={"adjusters": []}), 422, "adjusters")
    assert_error(await client.put(url, json="B"), 422, "body")
    assert (await client.get(url)).json()["data"] == second


async def test_at_most_250_values(client: httpx.AsyncClient) -> None:
    body = modifier_body("dropdown", option_values=[value_body(f"V{i}", i) for i in range(250)])
    modifier = (await client.post(MODS, json=body)).json()["data"]
    assert len(modifier["option_values"]) == 250
    values_url = f"{MODS}/{modifier['id']}/values"
    assert_error(await client.post(values_url, json=value_body("V250", 250)), 422, "option_values")
    assert_error(await client.put(f"{MODS}/{modifier['id']}", json={"option_values": [value_body("V250", 250)]}),
                 422, "option_values")
