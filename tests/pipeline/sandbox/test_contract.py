"""Contract tests: sandbox responses validate against BigCommerce's own OpenAPI specs.

Every modifier, value and image endpoint and the products list/get are exercised for the success
and error statuses the spec documents, and each response is validated with openapi-core.
Where the spec's schema contradicts its own examples and BigCommerce's real behaviour, the
loaded spec is patched in memory (`SPEC_PATCHES`, one line of reason each), and
`test_each_spec_patch_is_needed` proves every patch fixes a real failure, so none hides a
sandbox bug.
"""

from __future__ import annotations

import copy
import functools
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from openapi_core import OpenAPI
from openapi_core.datatypes import RequestParameters
from werkzeug.datastructures import Headers, ImmutableMultiDict

from pipeline.modifier_types import TYPE_NAMES

from .support import API, LEGACY_PRODUCT, modifier_body, png_bytes, value_body

SPEC_HOST = "https://api.bigcommerce.com"
MODIFIERS_SPEC = "product-modifiers_catalog.v3.yml"
PRODUCTS_SPEC = "products_catalog.v3.yml"
SPEC_DIR = Path(os.environ.get("BIGCOMMERCE_OPENAPI_DIR")
                or Path(__file__).resolve().parents[3].parent / "shared" / "bigcommerce-openapi")

pytestmark = [
    pytest.mark.anyio,
    pytest.mark.skipif(not (SPEC_DIR / MODIFIERS_SPEC).is_file() or not (SPEC_DIR / PRODUCTS_SPEC).is_file(),
                       reason=f"BigCommerce OpenAPI specs not found in {SPEC_DIR} (set BIGCOMMERCE_OPENAPI_DIR)"),
]

Spec = dict[str, Any]


def _json_200(spec: Spec, path: str, method: str) -> Spec:
    return spec["paths"][path][method]["responses"]["200"]["content"]["application/json"]["schema"]


def _nullable_value_data(node: Any) -> None:
    """Mark every `value_data` property schema nullable, wherever the spec inlines it."""
    if isinstance(node, dict):
        properties = node.get("properties")
        if isinstance(properties, dict) and isinstance(properties.get("value_data"), dict):
            properties["value_data"]["nullable"] = True
        for child in node.values():
            _nullable_value_data(child)
    elif isinstance(node, list):
        for child in node:
            _nullable_value_data(child)


def _unwrap_created_modifier(spec: Spec) -> None:
    _json_200(spec, "/catalog/products/{product_id}/modifiers", "post")["properties"]["data"] = {
        "$ref": "#/components/schemas/productModifier_Full"}


def _atom_config_dates(spec: Spec) -> None:
    for name in ("config_Full", "productOptionConfig_Full"):
        for key in ("date_earliest_value", "date_latest_value"):
            spec["components"]["schemas"][name]["properties"][key].pop("format", None)


def _nullable_option_set_id(spec: Spec) -> None:
    spec["components"]["schemas"]["product_Full"]["allOf"][2]["properties"]["option_set_id"]["nullable"] = True


def _no_body_on_204(spec: Spec) -> None:
    for operations in spec["paths"].values():
        for operation in operations.values():
            response = operation.get("responses", {}).get("204", {}) if isinstance(operation, dict) else {}
            if response.get("content") == {}:
                del response["content"]


@dataclass(frozen=True)
class SpecPatch:
    spec: str
    reason: str
    apply: Callable[[Spec], None]


SPEC_PATCHES = {
    "create-modifier-data": SpecPatch(
        MODIFIERS_SPEC,
        "POST modifier: the schema nests the modifier in `data.items`, its example (and BigCommerce) answer it "
        "directly under `data`; validate `data` as productModifier_Full so the check is not vacuous",
        _unwrap_created_modifier),
    "value-data-null": SpecPatch(
        MODIFIERS_SPEC,
        "value_data is nullable in productModifierOptionValue_Base (and null in the POST modifier example for "
        "types without value data), but the schemas inlined in POST/PUT value and PUT modifier responses "
        "drop `nullable`",
        _nullable_value_data),
    "delete-204-no-content": SpecPatch(
        MODIFIERS_SPEC,
        "DELETE 204s declare `content: {}`; a 204 has no body, but openapi-core reads an empty content map "
        "as 'a body is expected' and fails with MissingData, so the empty map is removed",
        _no_body_on_204),
    "product-option-set-id-null": SpecPatch(
        PRODUCTS_SPEC,
        "product_Full.option_set_id is a non-nullable integer, but products outside a legacy option set "
        "answer `option_set_id: null`",
        _nullable_option_set_id),
    "product-config-dates-atom": SpecPatch(
        PRODUCTS_SPEC,
        "products spec: config date_earliest_value/date_latest_value are `format: date` (2026-01-01), while the "
        "modifiers spec documents ISO-8601 ATOM datetimes (example 2025-08-15T15:52:01+00:00), as BigCommerce "
        "answers; the format is dropped in the products spec",
        _atom_config_dates),
}


@functools.cache
def _parsed(name: str) -> Spec:
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    return yaml.load((SPEC_DIR / name).read_text(), Loader=loader)  # noqa: S506 - a safe loader


def _load(name: str, patches: list[str]) -> OpenAPI:
    raw = copy.deepcopy(_parsed(name))
    for key in patches:
        SPEC_PATCHES[key].apply(raw)
    return OpenAPI.from_dict(raw)


def _patches_for(name: str, skip: str | None = None) -> list[str]:
    return [k for k, p in SPEC_PATCHES.items() if p.spec == name and k != skip]


@pytest.fixture(scope="module")
def specs() -> dict[str, OpenAPI]:
    return {name: _load(name, _patches_for(name)) for name in (MODIFIERS_SPEC, PRODUCTS_SPEC)}


@dataclass
class SpecRequest:
    """An httpx request seen as openapi-core's Request protocol, on BigCommerce's host."""

    method: str
    path: str
    body: bytes | None
    content_type: str
    host_url: str = SPEC_HOST
    parameters: RequestParameters = field(default_factory=RequestParameters)

    @classmethod
    def of(cls, request: httpx.Request) -> SpecRequest:
        return cls(request.method.lower(), request.url.path, None,  # the body plays no part in response checks
                   request.headers.get("content-type", "application/json"),
                   parameters=RequestParameters(query=ImmutableMultiDict(request.url.params.multi_items()),
                                                header=Headers(dict(request.headers))))


@dataclass
class SpecResponse:
    status_code: int
    data: bytes
    content_type: str
    headers: Headers

    @classmethod
    def of(cls, response: httpx.Response) -> SpecResponse:
        return cls(response.status_code, response.content, response.headers.get("content-type", ""),
                   Headers(dict(response.headers)))


def conforms(spec: OpenAPI, response: httpx.Response) -> None:
    """Raise if the response does not validate against the operation the request hits."""
    spec.validate_response(SpecRequest.of(response.request), SpecResponse.of(response))


def _check(specs: dict[str, OpenAPI], response: httpx.Response, status: int, name: str = MODIFIERS_SPEC) -> Any:
    assert response.status_code == status, response.text
    conforms(specs[name], response)
    return response.json() if response.content else None


async def _modifier(client: httpx.AsyncClient, type_name: str) -> dict[str, Any]:
    r = await client.post(f"{API}/catalog/products/1/modifiers", json=modifier_body(type_name))
    assert r.status_code == 200, r.text
    return r.json()["data"]


MODS = f"{API}/catalog/products/1/modifiers"


@pytest.mark.parametrize("type_name", TYPE_NAMES)
async def test_modifier_endpoints_conform(client: httpx.AsyncClient, specs: dict[str, OpenAPI],
                                          type_name: str) -> None:
    created = _check(specs, await client.post(MODS, json=modifier_body(type_name)), 200)["data"]
    url = f"{MODS}/{created['id']}"
    _check(specs, await client.get(url), 200)
    _check(specs, await client.get(MODS), 200)
    _check(specs, await client.put(url, json={"display_name": "Changed", "required": True}), 200)
    _check(specs, await client.put(url, json={"config": {"not_a_field": 1}}), 422)
    _check(specs, await client.delete(url), 204)
    _check(specs, await client.get(url), 404)


async def test_modifier_errors_conform(client: httpx.AsyncClient, specs: dict[str, OpenAPI]) -> None:
    _check(specs, await client.post(MODS, json={"type": "text"}), 422)
    _check(specs, await client.post(f"{API}/catalog/products/{LEGACY_PRODUCT}/modifiers",
                                    json=modifier_body("text")), 422)
    _check(specs, await client.get(f"{MODS}/424242"), 404)


@pytest.mark.parametrize("type_name", ["dropdown", "swatch", "product_list", "checkbox"])
async def test_value_endpoints_conform(client: httpx.AsyncClient, specs: dict[str, OpenAPI], type_name: str) -> None:
    modifier = await _modifier(client, type_name)
    values = f"{MODS}/{modifier['id']}/values"
    _check(specs, await client.get(values), 200)
    existing = modifier["option_values"][0]
    if type_name == "checkbox":
        _check(specs, await client.post(values, json=value_body("Maybe", 2)), 422)
        target = existing
    else:
        data = {"swatch": {"colors": ["#102030"]}, "product_list": {"product_id": 9}}.get(type_name)
        target = _check(specs, await client.post(values, json=value_body("Fresh", 5, value_data=data)), 200)["data"]
        _check(specs, await client.post(values, json=value_body("Fresh", 6, value_data=data)), 422)
    url = f"{values}/{target['id']}"
    _check(specs, await client.get(url), 200)
    _check(specs, await client.put(url, json={"adjusters": {"price": {"adjuster": "relative", "adjuster_value": 1}}}),
           200)
    _check(specs, await client.put(url, json={"sort_order": "first"}), 422)
    _check(specs, await client.post(f"{url}/image", files={"image_file": ("a.png", png_bytes(), "image/png")}), 200)
    _check(specs, await client.post(f"{url}/image", files={"image_file": ("a.png", b"text", "image/png")}), 422)
    _check(specs, await client.post(f"{values}/424242/image", files={"image_file": ("a.png", png_bytes())}), 404)
    _check(specs, await client.get(f"{values}/424242"), 404)
    if type_name != "checkbox":
        _check(specs, await client.delete(url), 204)


async def test_products_conform(client: httpx.AsyncClient, specs: dict[str, OpenAPI]) -> None:
    for type_name in TYPE_NAMES:  # every type embedded in one product
        await _modifier(client, type_name)
    for params in ({}, {"include": "modifiers"}, {"include": "modifiers", "id:in": "1,2,3,99"},
                   {"limit": 5, "page": 2}, {"include_fields": "sku", "sku:in": "SKU-1"}):
        _check(specs, await client.get(f"{API}/catalog/products", params=params), 200, PRODUCTS_SPEC)
    for product_id in (1, 3, LEGACY_PRODUCT):
        _check(specs, await client.get(f"{API}/catalog/products/{product_id}", params={"include": "modifiers"}),
               200, PRODUCTS_SPEC)
    _check(specs, await client.get(f"{API}/catalog/products/424242"), 404, PRODUCTS_SPEC)


async def test_each_spec_patch_is_needed(client: httpx.AsyncClient, specs: dict[str, OpenAPI]) -> None:
    """Against the spec without a patch, the response it covers really fails validation."""
    dropdown = await _modifier(client, "dropdown")
    await _modifier(client, "date")
    values = f"{MODS}/{dropdown['id']}/values"
    created = await client.post(values, json=value_body("Plain", 3))
    cases = {
        "create-modifier-data": await client.post(MODS, json=modifier_body("swatch", "Extra")),
        "value-data-null": await client.put(f"{values}/{created.json()['data']['id']}", json={"label": "Plain 2"}),
        "product-option-set-id-null": await client.get(f"{API}/catalog/products/1"),
        "product-config-dates-atom": await client.get(f"{API}/catalog/products/1", params={"include": "modifiers"}),
        "delete-204-no-content": await client.delete(f"{values}/{created.json()['data']['id']}"),
    }
    assert set(cases) == set(SPEC_PATCHES)
    for key, response in cases.items():
        patch = SPEC_PATCHES[key]
        conforms(specs[patch.spec], response)
        if key == "create-modifier-data":
            continue  # `data.items` is optional: unpatched, validation passes vacuously (checked below)
        with pytest.raises(Exception):  # noqa: B017 - openapi-core raises several validation error types
            conforms(_load(patch.spec, _patches_for(patch.spec, skip=key)), response)
    unpatched = _parsed(MODIFIERS_SPEC)
    assert "items" in _json_200(unpatched, "/catalog/products/{product_id}/modifiers", "post")["properties"]["data"][
        "properties"]
    assert "items" not in cases["create-modifier-data"].json()["data"]


def test_spec_patches_work_on_copies(specs: dict[str, OpenAPI]) -> None:
    pristine = _parsed(PRODUCTS_SPEC)["components"]["schemas"]["product_Full"]["allOf"][2]["properties"]
    assert "nullable" not in pristine["option_set_id"]
