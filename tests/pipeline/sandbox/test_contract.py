"""Contract tests: the sandbox's answers conform to BigCommerce's own OpenAPI specs, errata included.

Every modifier, value and image endpoint and the products list/get are exercised for the success
and error statuses the spec documents. Each response is checked twice: by the sandbox's own
response check (`ResponseCheck`, on in the suite; the autouse fixture of tests/conftest.py fails
the test on a violation, and these tests also assert the count) and by openapi-core, an
independent validator, on the same spec patched by the same errata table (`errata.ERRATA`).
`test_each_erratum_is_needed` proves every entry changes a real verdict, so none hides a
sandbox bug and none is dead weight; `test_errata_cite_the_spec` keeps their line citations true.
"""

from __future__ import annotations

import copy
import functools
import json
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from openapi_core import OpenAPI
from openapi_core.datatypes import RequestParameters
from starlette.applications import Starlette
from werkzeug.datastructures import Headers, ImmutableMultiDict

from pipeline.modifier_types import TYPE_NAMES
from pipeline.sandbox.errata import ERRATA, apply_errata
from pipeline.sandbox.openapi import NO_BODY, Contract, compile_contract
from pipeline.sandbox.specs import MODIFIERS_SPEC, PRODUCTS_SPEC, default_spec_dir, load_spec, spec_lines, specs_present

from .support import API, LEGACY_PRODUCT, client_for, modifier_body, png_bytes, value_body

SPEC_HOST = "https://api.bigcommerce.com"
SPEC_DIR = default_spec_dir()
MODS = f"{API}/catalog/products/1/modifiers"
Spec = dict[str, Any]

pytestmark = [
    pytest.mark.anyio,
    pytest.mark.skipif(not specs_present(SPEC_DIR),
                       reason=f"BigCommerce OpenAPI specs not found in {SPEC_DIR} (set BIGCOMMERCE_OPENAPI_DIR)"),
]


@pytest.fixture
def app(make_app: Callable[..., Starlette]) -> Starlette:
    return make_app(strict=True, check_responses=True)


@pytest.fixture
async def client(app: Starlette) -> AsyncIterator[httpx.AsyncClient]:
    async with client_for(app) as c:
        yield c
    contract = app.state.sandbox.stats.snapshot()["contract"]
    assert contract["response_violations"] == 0, "the sandbox's own response check found violations"


# --- openapi-core on the errata-patched spec ----------------------------------------------------


def _without_empty_content(spec: Spec) -> None:
    """openapi-core reads a 204's `content: {}` as 'a body is expected'; an empty map means none.

    A quirk of that validator, not a contradiction in the spec, so it is not an erratum.
    """
    for operations in spec["paths"].values():
        for operation in operations.values():
            for response in (operation.get("responses", {}) if isinstance(operation, dict) else {}).values():
                if response.get("content") == {}:
                    del response["content"]


@functools.cache
def _openapi_core(name: str, skip: frozenset[str] = frozenset()) -> OpenAPI:
    raw = copy.deepcopy(load_spec(SPEC_DIR, name))
    apply_errata(name, raw, skip)
    _without_empty_content(raw)
    return OpenAPI.from_dict(raw)


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


def conforms(name: str, response: httpx.Response) -> None:
    """Raise if openapi-core finds the response breaks the (errata-patched) spec."""
    _openapi_core(name).validate_response(SpecRequest.of(response.request), SpecResponse.of(response))


def _check(response: httpx.Response, status: int, name: str = MODIFIERS_SPEC) -> Any:
    assert response.status_code == status, response.text
    conforms(name, response)
    return response.json() if response.content else None


async def _modifier(client: httpx.AsyncClient, type_name: str) -> dict[str, Any]:
    r = await client.post(MODS, json=modifier_body(type_name))
    assert r.status_code == 200, r.text
    return r.json()["data"]


# --- every endpoint and status -----------------------------------------------------------------


@pytest.mark.parametrize("type_name", TYPE_NAMES)
async def test_modifier_endpoints_conform(client: httpx.AsyncClient, type_name: str) -> None:
    created = _check(await client.post(MODS, json=modifier_body(type_name)), 200)["data"]
    url = f"{MODS}/{created['id']}"
    _check(await client.get(url), 200)
    _check(await client.get(MODS), 200)
    put = {"type": type_name, "required": True, "display_name": "Changed", "sort_order": 1}
    _check(await client.put(url, json=put), 200)
    _check(await client.put(url, json={**put, "config": {"not_a_field": 1}}), 422)  # the sandbox's own rule
    _check(await client.put(url, json={"display_name": "No type"}), 422)  # the spec check
    _check(await client.delete(url), 204)
    _check(await client.get(url), 404)


async def test_modifier_errors_conform(client: httpx.AsyncClient) -> None:
    _check(await client.post(MODS, json={"type": "text"}), 422)
    _check(await client.post(f"{API}/catalog/products/{LEGACY_PRODUCT}/modifiers", json=modifier_body("text")), 422)
    _check(await client.post(f"{API}/catalog/products/424242/modifiers", json=modifier_body("text")), 404)
    _check(await client.get(f"{MODS}/424242"), 404)


@pytest.mark.parametrize("type_name", ["dropdown", "swatch", "product_list", "checkbox"])
async def test_value_endpoints_conform(client: httpx.AsyncClient, type_name: str) -> None:
    modifier = await _modifier(client, type_name)
    values = f"{MODS}/{modifier['id']}/values"
    _check(await client.get(values), 200)
    existing = modifier["option_values"][0]
    if type_name == "checkbox":
        _check(await client.post(values, json=value_body("Maybe", 2)), 422)
        target = existing
    else:
        data = {"swatch": {"colors": ["#102030"]}, "product_list": {"product_id": 9}}.get(type_name)
        extra = {"value_data": data} if data else {}
        target = _check(await client.post(values, json=value_body("Fresh", 5, **extra)), 200)["data"]
        _check(await client.post(values, json=value_body("Fresh", 6, **extra)), 422)
    url = f"{values}/{target['id']}"
    _check(await client.get(url), 200)
    price = {"price": {"adjuster": "relative", "adjuster_value": 1}}
    _check(await client.put(url, json=value_body(target["label"], target["sort_order"], adjusters=price)), 200)
    _check(await client.put(url, json=value_body(target["label"], "first")), 422)
    _check(await client.post(f"{url}/image", files={"image_file": ("a.png", png_bytes(), "image/png")}), 200)
    _check(await client.post(f"{url}/image", files={"image_file": ("a.png", b"text", "image/png")}), 422)
    _check(await client.post(f"{values}/424242/image", files={"image_file": ("a.png", png_bytes())}), 404)
    _check(await client.get(f"{values}/424242"), 404)
    if type_name != "checkbox":
        _check(await client.delete(url), 204)


async def test_products_conform(client: httpx.AsyncClient) -> None:
    for type_name in TYPE_NAMES:  # every type embedded in one product
        await _modifier(client, type_name)
    for params in ({}, {"include": "modifiers"}, {"include": "modifiers", "id:in": "1,2,3,99"},
                   {"limit": 5, "page": 2}, {"include_fields": "sku", "sku:in": "SKU-1"},
                   {"include": "modifiers,options", "date_modified:min": "2020-01-05T00:00:00+00:00"}):
        _check(await client.get(f"{API}/catalog/products", params=params), 200, PRODUCTS_SPEC)
    for product_id in (1, 3, LEGACY_PRODUCT):
        _check(await client.get(f"{API}/catalog/products/{product_id}", params={"include": "modifiers"}),
               200, PRODUCTS_SPEC)
    _check(await client.get(f"{API}/catalog/products/424242"), 404, PRODUCTS_SPEC)
    _check(await client.get(f"{API}/catalog/products", params={"limit": 251}), 422, PRODUCTS_SPEC)


async def test_gate_answers_conform(make_app: Callable[..., Starlette]) -> None:
    """401 and 429 come from the gate, outside the routes; they are checked all the same."""
    app = make_app(strict=True, check_responses=True, quota=1)
    async with client_for(app, token="wrong") as client:
        _check(await client.get(f"{API}/catalog/products"), 401, PRODUCTS_SPEC)
        _check(await client.get(f"{API}/catalog/products"), 429, PRODUCTS_SPEC)
    assert app.state.sandbox.stats.snapshot()["contract"]["responses_checked"] == 2


# --- the errata --------------------------------------------------------------------------------


@functools.cache
def _contract(skip: str | None = None) -> Contract:
    from pipeline.sandbox.openapi import load_contract

    return load_contract(SPEC_DIR) if skip is None else compile_contract(SPEC_DIR, skip=frozenset({skip}))


def _response_verdict(contract: Contract, response: httpx.Response) -> list[str]:
    request = response.request
    op, _ = contract.match(request.method, request.url.path.split("/v3", 1)[1])
    selected = any(k in request.url.params for k in ("include_fields", "exclude_fields"))
    return op.check_response(response.status_code, response.headers.get("content-type"), response.content, selected)


def _request_verdict(contract: Contract, method: str, template: str, body: Any, media: str = "application/json",
                     path: dict[str, str] | None = None) -> dict[str, str]:
    op = contract.operation(method, template)
    path = path or dict.fromkeys(("product_id", "modifier_id", "value_id"), "1")
    return op.check_request(path, [], {"accept": "*/*", "content-type": media}, media, body)


def test_errata_cite_the_spec() -> None:
    """Each entry's lines hold its evidence, its reason is written down, and keys are unique."""
    assert len({erratum.key for erratum in ERRATA}) == len(ERRATA)
    for erratum in ERRATA:
        first, last = erratum.lines
        cited = "\n".join(spec_lines(SPEC_DIR, erratum.spec)[first - 1:last])
        assert erratum.evidence in cited, f"{erratum.key}: {erratum.evidence!r} not on lines {first}-{last}"
        assert len(erratum.reason) > 40


def test_every_erratum_still_applies() -> None:
    """A patch that changes nothing means the spec moved on: the entry must be reviewed."""
    applied = _contract().errata_applied
    assert set(applied) == {erratum.key for erratum in ERRATA}
    assert all(count > 0 for count in applied.values()), applied


def test_errata_work_on_copies() -> None:
    _contract()
    pristine = load_spec(SPEC_DIR, PRODUCTS_SPEC)["components"]["schemas"]["product_Full"]["allOf"][2]["properties"]
    assert "nullable" not in pristine["option_set_id"]


V = "/catalog/products/{product_id}/modifiers/{modifier_id}/values"
M = "/catalog/products/{product_id}/modifiers/{modifier_id}"


async def test_each_erratum_is_needed(app: Starlette, client: httpx.AsyncClient) -> None:
    """Without its entry the spec gives a wrong verdict on a real exchange; with it, the right one."""
    dropdown = await _modifier(client, "dropdown")
    await _modifier(client, "date")
    values = f"{MODS}/{dropdown['id']}/values"
    created = (await client.post(values, json=value_body("Plain", 3))).json()["data"]
    product_404 = await client.post(f"{API}/catalog/products/424242/modifiers", json=modifier_body("text"))
    async with client_for(app, token="wrong") as wrong_token:
        unauthorised = await wrong_token.get(f"{API}/catalog/products")
    date_body = modifier_body("date")
    bare_dates = {**date_body, "config": {**date_body["config"], "date_earliest_value": "2026-01-01"}}
    bare_default = {**date_body, "config": {**date_body["config"], "default_value": "2026-05-01"}}
    image_url = value_body("Pic", 4, adjusters={"image_url": "https://cdn.example/p.png"})
    clear = value_body("Plain", 3, adjusters={"price": {"adjuster": None, "adjuster_value": 0}})
    fixed_adjuster = modifier_body("dropdown", option_values=[
        value_body("A", 0, adjusters={"price": {"adjuster": "fixed", "adjuster_value": 1}})])

    # entry -> (a real response the unpatched spec refuses, or: a verdict wrong without the entry)
    wrongly_refused_responses = {
        "response-value-data-null": await client.put(f"{values}/{created['id']}", json=value_body("Plain 2", 3)),
        "product-option-set-id-null": await client.get(f"{API}/catalog/products/1"),
        "product-config-dates-atom": await client.get(f"{API}/catalog/products/1", params={"include": "modifiers"}),
        "field-selection-partial": await client.get(MODS, params={"include_fields": "display_name"}),
        "modifiers-error-statuses": product_404,
        "products-error-statuses": unauthorised,
    }
    for key, response in wrongly_refused_responses.items():
        assert _response_verdict(_contract(), response) == [], key
        assert _response_verdict(_contract(key), response), f"{key}: not needed"

    wrongly_refused_requests = {"adjuster-null-clears": ("put", V + "/{value_id}", clear)}
    wrongly_accepted_requests = {
        "modifier-config-dates-atom": ("post", "/catalog/products/{product_id}/modifiers", bare_dates,
                                       "config.date_earliest_value"),
        "date-default-value-atom": ("post", "/catalog/products/{product_id}/modifiers", bare_default,
                                    "config.default_value"),
        "request-image-url-read-only": ("post", V, image_url, "adjusters.image_url"),
        "post-modifier-adjuster-enum": ("post", "/catalog/products/{product_id}/modifiers", fixed_adjuster,
                                        "option_values.0.adjusters.price.adjuster"),
    }
    for key, (method, template, body) in wrongly_refused_requests.items():
        assert _request_verdict(_contract(), method, template, body) == {}, key
        assert _request_verdict(_contract(key), method, template, body), f"{key}: not needed"
    for key, (method, template, body, location) in wrongly_accepted_requests.items():
        assert location in _request_verdict(_contract(), method, template, body), key
        assert _request_verdict(_contract(key), method, template, body) == {}, f"{key}: not needed"
    text_default = modifier_body("text")  # a text default stays free text
    assert _request_verdict(_contract(), "post", "/catalog/products/{product_id}/modifiers", text_default) == {}

    no_file = {"picture": b""}
    template = V + "/{value_id}/image"
    assert "image_file" in _request_verdict(_contract(), "post", template, no_file, "multipart/form-data")
    assert _request_verdict(_contract("image-file-required"), "post", template, no_file, "multipart/form-data") == {}

    # create-modifier-data: unpatched, `data.items` is optional, so any `data` passes (a vacuous check)
    created_modifier = await client.post(MODS, json=modifier_body("swatch", "Extra"))
    assert "items" not in created_modifier.json()["data"]
    broken = httpx.Response(200, json={"data": {**created_modifier.json()["data"], "required": "yes"}, "meta": {}},
                            request=created_modifier.request)
    assert _response_verdict(_contract(), created_modifier) == []
    assert _response_verdict(_contract(), broken)
    assert _response_verdict(_contract("create-modifier-data"), broken) == [], "create-modifier-data: not needed"

    covered = {*wrongly_refused_responses, *wrongly_refused_requests, *wrongly_accepted_requests,
               "image-file-required", "create-modifier-data"}
    assert covered == {erratum.key for erratum in ERRATA}


def test_openapi_core_agrees_on_the_errata() -> None:
    """The independent validator also needs the response entries (one example each way)."""
    response = httpx.Response(200, json={"data": {"id": 1, "name": "P", "option_set_id": None}, "meta": {}},
                              request=httpx.Request("GET", f"http://sandbox.test{API}/catalog/products/1"))
    conforms(PRODUCTS_SPEC, response)
    with pytest.raises(Exception):  # noqa: B017 - openapi-core raises several validation error types
        _openapi_core(PRODUCTS_SPEC, frozenset({"product-option-set-id-null"})).validate_response(
            SpecRequest.of(response.request), SpecResponse.of(response))


def test_no_body_operations_refuse_a_body() -> None:
    op = _contract().operation("delete", M)
    assert op.check_request({"product_id": "1", "modifier_id": "2"}, [], {"accept": "*/*"}, "application/json",
                            json.loads('{"x": 1}')) == {"body": "deleteProductModifier takes no request body"}
    assert op.check_request({"product_id": "1", "modifier_id": "2"}, [], {"accept": "*/*"}, None, NO_BODY) == {}


def test_items_found_valid_are_remembered_per_schema_and_text() -> None:
    """The check skips an array item it already found valid; an item that differs is checked again."""
    op = _contract().operation("post", "/catalog/products/{product_id}/modifiers")
    path = {"product_id": "1"}
    headers = {"accept": "*/*", "content-type": "application/json"}
    good = modifier_body("dropdown", option_values=[value_body("A", 0), value_body("B", 1)])
    assert op.check_request(path, [], headers, "application/json", good) == {}
    assert op.check_request(path, [], headers, "application/json", good) == {}
    fixed = {"price": {"adjuster": "fixed", "adjuster_value": 1}}
    bad = modifier_body("dropdown", option_values=[value_body("A", 0), value_body("B", 1, adjusters=fixed)])
    expected = {"option_values.1.adjusters.price.adjuster": 'must be one of: relative, percentage, null (got "fixed")'}
    assert op.check_request(path, [], headers, "application/json", bad) == expected
    assert op.check_request(path, [], headers, "application/json", bad) == expected, "a bad item is never remembered"
