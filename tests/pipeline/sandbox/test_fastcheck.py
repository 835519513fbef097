"""The fast response check says yes exactly when the reference validator finds nothing.

Real responses of every served operation, and thousands of copies broken one value at a time
(null, wrong type, out of range, not ATOM, a key removed, a key added), are judged by both:
jsonschema-rs on the translated schema and openapi-schema-validator on the compiled one.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from pipeline.modifier_types import TYPE_NAMES
from pipeline.sandbox.fastcheck import jsonschema_rs
from pipeline.sandbox.openapi import load_contract
from pipeline.sandbox.specs import default_spec_dir

from .support import API, modifier_body, needs_specs, png_bytes, value_body

pytestmark = [
    pytest.mark.anyio, needs_specs,
    pytest.mark.skipif(jsonschema_rs is None, reason="jsonschema-rs is not installed (the dev extra)"),
]
MODS = f"{API}/catalog/products/1/modifiers"
REPLACEMENTS: tuple[Any, ...] = (None, "x", 1.5, -(2**40), True, {}, [], "2027-04-01", "2027-04-01T00:00:00+00:00")


def _paths(node: Any, prefix: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    yield prefix
    if isinstance(node, dict):
        for key, value in node.items():
            yield from _paths(value, (*prefix, key))
    elif isinstance(node, list):
        for index, value in enumerate(node[:2]):  # the first two items stand for the rest
            yield from _paths(value, (*prefix, index))


def _mutations(data: Any) -> Iterator[Any]:
    for path in list(_paths(data))[1:]:
        parent_path, last = path[:-1], path[-1]
        for replacement in REPLACEMENTS:
            changed = copy.deepcopy(data)
            parent = changed
            for step in parent_path:
                parent = parent[step]
            parent[last] = copy.deepcopy(replacement)
            yield changed
        if isinstance(last, str):
            changed = copy.deepcopy(data)
            parent = changed
            for step in parent_path:
                parent = parent[step]
            del parent[last]
            parent[last + "_extra"] = 1
            yield changed


async def _exchanges(client: httpx.AsyncClient) -> list[httpx.Response]:
    responses = [await client.post(MODS, json=modifier_body(type_name)) for type_name in TYPE_NAMES]
    dropdown = next(r.json()["data"] for r in responses if r.json()["data"]["type"] == "dropdown")
    values = f"{MODS}/{dropdown['id']}/values"
    value = dropdown["option_values"][0]
    responses += [
        await client.get(f"{API}/catalog/products", params={"include": "modifiers", "id:in": "1,2,3"}),
        await client.get(f"{API}/catalog/products/3", params={"include": "modifiers,options"}),
        await client.get(MODS, params={"include_fields": "display_name,config"}),
        await client.get(values),
        await client.put(f"{values}/{value['id']}", json=value_body(value["label"], 0)),
        await client.post(f"{values}/{value['id']}/image", files={"image_file": ("a.png", png_bytes())}),
        await client.get(f"{API}/catalog/products", params={"limit": 251}),
        await client.get(f"{MODS}/424242"),
    ]
    return responses


async def test_fast_and_reference_verdicts_agree(client: httpx.AsyncClient) -> None:
    contract = load_contract(default_spec_dir())
    judged = 0
    for response in await _exchanges(client):
        request = response.request
        op, _ = contract.match(request.method, request.url.path.split("/v3", 1)[1])
        selected = any(k in request.url.params for k in ("include_fields", "exclude_fields"))
        table = op.partial_responses if selected and op.partial_responses else op.responses
        validator = table.get(str(response.status_code), table.get("default"))["application/json"]
        fast = op.fast[id(validator)]
        data = json.loads(response.content)
        assert fast(data) and not list(validator.iter_errors(data)), response.text
        for changed in _mutations(data):
            reference = not any(True for _ in validator.iter_errors(changed))
            assert fast(changed) is reference, (request.method, request.url.path, changed)
            judged += 1
    assert judged > 5000


def _request_bodies() -> list[tuple[str, str, Any]]:
    modifier = "/catalog/products/{product_id}/modifiers"
    value = modifier + "/{modifier_id}/values"
    bodies: list[tuple[str, str, Any]] = [("post", modifier, modifier_body(t)) for t in TYPE_NAMES]
    date = modifier_body("date")
    bodies += [
        ("put", modifier + "/{modifier_id}", {**date, "option_values": [
            {"id": 5, "is_default": True, "adjusters": {"price": {"adjuster": None, "adjuster_value": 0}}}]}),
        ("post", value, value_body("Red", 1, is_default=False, value_data={"colors": ["#aa0000"]}, adjusters={
            "price": {"adjuster": "relative", "adjuster_value": 1.5}, "weight": {"adjuster": None},
            "purchasing_disabled": {"status": True, "message": "Gone"}})),
        ("put", value + "/{value_id}", value_body("Add product 5", 2, value_data={"product_id": 5})),
    ]
    return bodies


def test_fast_and_reference_verdicts_agree_on_requests() -> None:
    contract = load_contract(default_spec_dir())
    judged = 0
    for method, template, body in _request_bodies():
        validator = contract.operation(method, template).bodies["application/json"]
        fast = contract.operation(method, template).fast[id(validator)]
        assert fast(body) and not list(validator.iter_errors(body)), (method, template, body)
        for changed in [*_mutations(body), *_with_image_urls(body)]:
            reference = not any(True for _ in validator.iter_errors(changed))
            assert fast(changed) is reference, (method, template, changed)
            judged += 1
    assert judged > 1000


def _with_image_urls(body: Any) -> Iterator[Any]:
    """Copies that carry the read-only `adjusters.image_url` (errata), at the top or in option_values."""
    if "label" in body:
        yield {**body, "adjusters": {**body.get("adjusters", {}), "image_url": "https://cdn.example/a.png"}}
    for index, item in enumerate(body.get("option_values", [])):
        changed = copy.deepcopy(body)
        changed["option_values"][index]["adjusters"] = {"image_url": ""}
        yield changed


def test_fast_and_reference_verdicts_agree_on_parameters() -> None:
    contract = load_contract(default_spec_dir())
    candidates: list[Any] = [0, 1, 250, 251, -1, 2**40, 1.5, True, "", "x", "sku", "name", "modifiers", "asc",
                             "2027-04-01", ["sku", "name"], ["id"], ["modifiers", "variants"], [1, 2], ["a", 3], []]
    judged = 0
    for op in contract.operations:
        for parameter in op.parameters.values() if op.served else ():
            assert parameter.conforms is not None
            for value in candidates:
                reference = not any(True for _ in parameter.validator.iter_errors(value))
                assert parameter.conforms(value) is reference, (op.operation_id, parameter.name, value)
                judged += 1
    assert judged > 500
