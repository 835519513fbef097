"""The strict sandbox: requests checked against BigCommerce's OpenAPI specs, refused with 422.

Each kind of violation is refused with every violation listed under its location (body fields by
dotted path, `query.<name>`, `header.<Name>`), nothing is written, conforming requests pass, and
unknown routes stay 404. Non-strict, the same requests are served and counted; the counters show
in `/_sandbox/stats` and in the process-wide tally.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette

from pipeline.sandbox import contract
from pipeline.sandbox.tally import TALLY

from .support import API, ERROR_TYPE, assert_error, client_for, modifier_body, needs_specs, value_body

pytestmark = [pytest.mark.anyio, needs_specs]
PRODUCTS = f"{API}/catalog/products"
MODS = f"{PRODUCTS}/1/modifiers"
SEEDED_MODS = f"{PRODUCTS}/2/modifiers"  # a dropdown (Oak, Pine) and a checkbox


@pytest.fixture
def app(make_app: Callable[..., Starlette]) -> Starlette:
    return make_app(strict=True)


@pytest.fixture
async def client(app: Starlette) -> AsyncIterator[httpx.AsyncClient]:
    async with client_for(app) as c:
        yield c


def refused(response: httpx.Response, **expected: str) -> dict[str, str]:
    """A strict refusal: 422, BigCommerce's error shape, each expected location with words of its message."""
    body = assert_error(response, 422, *expected)
    assert body == {"status": 422, "title": contract.REFUSAL_TITLE, "type": ERROR_TYPE, "errors": body["errors"]}
    for location, words in expected.items():
        assert words in body["errors"][location], (location, body["errors"][location])
    return body["errors"]


async def _seeded_dropdown(client: httpx.AsyncClient) -> tuple[str, dict[str, Any]]:
    modifier = (await client.get(SEEDED_MODS)).json()["data"][0]
    return f"{SEEDED_MODS}/{modifier['id']}", modifier


async def test_include_fields_outside_the_enum(client: httpx.AsyncClient) -> None:
    errors = refused(await client.get(PRODUCTS, params={"include_fields": "id,sku,name,date_modified"}),
                     **{"query.include_fields": 'must be one of: name, type, sku'})
    assert '(got "id")' in errors["query.include_fields"]
    r = await client.get(PRODUCTS, params={"include_fields": "sku,name,date_modified", "include": "modifiers"})
    assert r.status_code == 200 and set(r.json()["data"][0]) == {"id", "sku", "name", "date_modified", "modifiers"}


@pytest.mark.parametrize(("params", "location", "words"), [
    ({"limit": "251"}, "query.limit", "must be at most 250 (got 251)"),
    ({"limit": "ten"}, "query.limit", "must be an integer"),
    ({"include": "modifiers,variant"}, "query.include", "must be one of: bulk_pricing_rules"),
    ({"id:in": "1,two"}, "query.id:in", "must be an integer"),
    ({"direction": "up"}, "query.direction", "must be one of: asc, desc"),
    ({"colour": "red"}, "query.colour", "is not a query parameter of getProducts"),
    ({"limit": ["5", "6"]}, "query.limit", "more than once"),
])
async def test_query_violations(client: httpx.AsyncClient, params: dict[str, Any], location: str, words: str) -> None:
    refused(await client.get(PRODUCTS, params=params), **{location: words})


async def test_every_violation_listed_at_once(client: httpx.AsyncClient) -> None:
    errors = refused(await client.get(PRODUCTS, params={"limit": 251, "page": "x", "include_fields": "id"}))
    assert set(errors) == {"query.limit", "query.page", "query.include_fields"}
    url, modifier = await _seeded_dropdown(client)
    errors = refused(await client.put(url, json={"display_name": 5, "sort_order": "1", "config": []}))
    assert set(errors) == {"type", "required", "display_name", "sort_order", "config"}


async def test_modifier_put_without_type_or_required(client: httpx.AsyncClient) -> None:
    url, modifier = await _seeded_dropdown(client)
    refused(await client.put(url, json={"display_name": "Wood", "required": True}), type="is required")
    refused(await client.put(url, json={"type": "dropdown", "display_name": "Wood"}), required="is required")
    refused(await client.put(url, json={"type": "slider", "required": True}), type="must be one of: date, checkbox")
    assert (await client.get(url)).json()["data"] == modifier, "nothing was written"
    r = await client.put(url, json={"type": "dropdown", "required": True, "display_name": "Wood", "sort_order": 0})
    assert r.status_code == 200 and r.json()["data"]["display_name"] == "Wood"


async def test_value_put_without_label_or_sort_order(client: httpx.AsyncClient) -> None:
    url, modifier = await _seeded_dropdown(client)
    oak = f"{url}/values/{modifier['option_values'][0]['id']}"
    refused(await client.put(oak, json={"label": "Oak 2"}), sort_order="is required")
    refused(await client.put(oak, json={"sort_order": 0}), label="is required")
    refused(await client.put(oak, json=value_body("Oak", 2**31)), sort_order="must be at most 2147483647")
    r = await client.put(oak, json=value_body("Oak 2", 0, is_default=True))
    assert r.status_code == 200 and r.json()["data"]["label"] == "Oak 2"


@pytest.mark.parametrize(("config", "location"), [
    ({"default_value": "2026-05-01"}, "config.default_value"),
    ({"date_earliest_value": "2026-01-01"}, "config.date_earliest_value"),
    ({"date_latest_value": "2026-12-31T00:00:00Z"}, "config.date_latest_value"),
    ({"date_latest_value": "31/12/2026"}, "config.date_latest_value"),
])
async def test_dates_must_be_atom(client: httpx.AsyncClient, config: dict[str, str], location: str) -> None:
    body = modifier_body("date")
    body["config"] = {**body["config"], **config}
    refused(await client.post(MODS, json=body), **{location: "must be an ISO-8601 ATOM date-time such as "
                                                             "2027-04-01T00:00:00+00:00"})
    assert (await client.get(MODS)).json()["data"] == []


async def test_atom_dates_are_accepted_stored_and_answered_as_sent(client: httpx.AsyncClient) -> None:
    created = (await client.post(MODS, json=modifier_body("date"))).json()["data"]
    assert created["config"]["default_value"] == "2026-05-01T00:00:00+00:00"
    put = {"type": "date", "required": False, "display_name": "Delivery", "sort_order": 3,
           "config": {**created["config"], "date_latest_value": "2027-04-01T00:00:00+00:00"}}
    r = await client.put(f"{MODS}/{created['id']}", json=put)
    assert r.status_code == 200, r.text
    assert r.json()["data"]["config"] == put["config"]
    text = modifier_body("text", config={"default_value": "2026-05-01"})
    assert (await client.post(MODS, json=text)).status_code == 200, "a text default is free text"


@pytest.mark.parametrize(("body", "location"), [
    (value_body("X", 1, is_default=None), "is_default"),
    (value_body("X", 1, value_data=None), "value_data"),
    (value_body(None, 1), "label"),
    (value_body("X", 1, adjusters={"price": None}), "adjusters.price"),
    (value_body("X", 1, adjusters={"purchasing_disabled": {"status": None}}), "adjusters.purchasing_disabled.status"),
])
async def test_null_where_not_nullable(client: httpx.AsyncClient, body: dict[str, Any], location: str) -> None:
    url, _ = await _seeded_dropdown(client)
    refused(await client.post(f"{url}/values", json=body), **{location: "must not be null"})


async def test_adjuster_null_clears(client: httpx.AsyncClient) -> None:
    url, modifier = await _seeded_dropdown(client)
    oak = modifier["option_values"][0]
    cleared = value_body("Oak", 0, adjusters={"price": {"adjuster": None, "adjuster_value": 0}})
    r = await client.put(f"{url}/values/{oak['id']}", json=cleared)
    assert r.status_code == 200, r.text
    assert r.json()["data"]["adjusters"]["price"] == {}


async def test_read_only_image_url(client: httpx.AsyncClient) -> None:
    url, _ = await _seeded_dropdown(client)
    refused(await client.post(f"{url}/values", json=value_body("Pic", 4, adjusters={"image_url": ""})),
            **{"adjusters.image_url": "is read-only"})


async def test_wrong_types_and_media(client: httpx.AsyncClient) -> None:
    url, _ = await _seeded_dropdown(client)
    refused(await client.post(f"{url}/values", json=value_body("X", "1")), sort_order="must be of type integer")
    refused(await client.post(f"{url}/values", json=value_body("X", 1, adjusters={"price": {"adjuster": "fixed"}})),
            **{"adjusters.price.adjuster": "must be one of: relative, percentage, null"})
    refused(await client.post(f"{url}/values", json=["X"]), body="must be of type object")
    refused(await client.post(f"{url}/values", content=b"label=X", headers={"Content-Type": "text/plain"}),
            **{"header.Content-Type": "must be one of: application/json"})
    refused(await client.post(f"{url}/values"), body="a request body is required")
    body = assert_error(await client.post(MODS, content=b"{not json", headers={"Content-Type": "application/json"}),
                        400, "body")
    assert "JSON" in body["title"], "an unreadable body is the handler's 400, as without the check"


async def test_conforming_requests_pass(client: httpx.AsyncClient) -> None:
    created = (await client.post(MODS, json=modifier_body("swatch"))).json()["data"]
    values = f"{MODS}/{created['id']}/values"
    red = created["option_values"][0]
    full = value_body("Red", 0, is_default=False, value_data={"colors": ["#aa0000"]}, adjusters={
        "price": {"adjuster": "relative", "adjuster_value": 2}, "weight": {"adjuster": None, "adjuster_value": 0},
        "purchasing_disabled": {"status": False, "message": ""}})
    for response in [
        await client.get(PRODUCTS, params={"include": "modifiers", "include_fields": "sku,name,date_modified",
                                           "id:in": "1,2", "limit": 250, "page": 1}),
        await client.get(PRODUCTS, params={"sku:in": "SKU-1,SKU-2", "date_modified:min": "2020-01-01T00:00:00Z"}),
        await client.get(f"{PRODUCTS}/1", params={"include": "modifiers,options"}),
        await client.get(MODS, params={"page": 1, "limit": 250, "include_fields": "display_name,type"}),
        await client.put(f"{values}/{red['id']}", json=full),
        await client.put(f"{MODS}/{created['id']}", json={"type": "swatch", "required": True, "display_name": "C",
                                                         "sort_order": 0, "config": {}}),
        await client.delete(f"{values}/{red['id']}"),
    ]:
        assert response.status_code in (200, 204), response.text


@pytest.mark.parametrize("path", [
    "/catalog/brands", "/catalog/products/abc", "/catalog/products/1/modifiers/x", "/catalog/products/1/variants",
    "/catalog/products/channel-assignments", "/catalog/summary",
])
async def test_unknown_routes_stay_404(client: httpx.AsyncClient, path: str) -> None:
    assert_error(await client.get(f"{API}{path}", params={"anything": "goes"}), 404)


async def test_counters(app: Starlette, client: httpx.AsyncClient) -> None:
    before = TALLY.snapshot()
    await client.get(PRODUCTS)
    await client.get(PRODUCTS, params={"limit": 251})
    await client.get(f"{API}/catalog/brands")  # not a served operation: not checked
    stats = (await client.get("/_sandbox/stats")).json()["contract"]
    assert stats["checked"] == 2 and stats["refused"] == 1 and stats["request_violations"] == 0
    after = TALLY.snapshot()
    assert after["checked"] - before["checked"] == 2 and after["refused"] - before["refused"] == 1


async def test_not_strict_serves_and_counts(make_app: Callable[..., Starlette]) -> None:
    app = make_app(strict=False, check_responses=True)
    async with client_for(app) as client:
        r = await client.get(PRODUCTS, params={"include_fields": "id,sku"})
        assert r.status_code == 200
        url, _ = await _seeded_dropdown(client)
        assert (await client.put(url, json={"required": True})).status_code == 200
    stats = app.state.sandbox.stats.snapshot()["contract"]
    assert stats["refused"] == 0 and stats["request_violations"] == 2 and stats["checked"] == 3
    assert stats["responses_checked"] == 3 and stats["response_violations"] == 0


async def test_nothing_checked_when_neither_strict_nor_checking(make_app: Callable[..., Starlette]) -> None:
    app = make_app(strict=False, check_responses=False)
    async with client_for(app) as client:
        assert (await client.get(PRODUCTS, params={"limit": 251})).status_code == 422  # the sandbox's own rule
    assert app.state.sandbox.stats.snapshot()["contract"]["checked"] == 0


@pytest.mark.expects_response_violations(1)
async def test_a_response_breaking_the_spec_is_recorded(make_app: Callable[..., Starlette]) -> None:
    app = make_app(strict=True, check_responses=True)
    async with client_for(app) as client:
        url, _ = await _seeded_dropdown(client)
        app.state.sandbox.store._db.execute("UPDATE option_values SET sort_order = 'first' WHERE label = 'Oak'")
        assert (await client.get(url)).status_code == 200
    assert app.state.sandbox.stats.snapshot()["contract"]["response_violations"] == 1
    violation = TALLY.snapshot()["violations"][-1]
    assert violation["status"] == 200 and violation["method"] == "GET"
    assert violation["messages"] == ['200 data.option_values.1.sort_order: must be of type integer (got "first")']


def test_the_check_works_without_jsonschema_rs(monkeypatch: pytest.MonkeyPatch) -> None:
    """jsonschema-rs is a dev extra: without it every check takes the jsonschema walk, same verdicts."""
    from pipeline.sandbox import fastcheck
    from pipeline.sandbox.openapi import NO_BODY, compile_contract
    from pipeline.sandbox.specs import default_spec_dir

    monkeypatch.setattr(fastcheck, "jsonschema_rs", None)
    slow = compile_contract(default_spec_dir())
    assert not any(op.fast for op in slow.operations)
    products = slow.operation("get", "/catalog/products")
    headers = {"accept": "*/*"}
    assert products.check_request({}, [("limit", "251")], headers, None, NO_BODY) == {
        "query.limit": "must be at most 250 (got 251)"}
    value_put = slow.operation("put", "/catalog/products/{product_id}/modifiers/{modifier_id}/values/{value_id}")
    ids = {"product_id": "1", "modifier_id": "2", "value_id": "3"}
    json_headers = {**headers, "content-type": "application/json"}
    assert value_put.check_request(ids, [], json_headers, "application/json", value_body("A", 1)) == {}
    assert value_put.check_request(ids, [], json_headers, "application/json", {"label": "A"}) == {
        "sort_order": "is required"}
