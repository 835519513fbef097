"""GET /catalog/products and /catalog/products/{id}: shapes, pagination, filters, field selection."""

from __future__ import annotations

import math
from collections.abc import Callable
from datetime import datetime

import httpx
import pytest
from starlette.applications import Starlette

from .support import (
    API,
    LEGACY_PRODUCT,
    PLAIN_PRODUCTS,
    SPEC_CHECK,
    assert_error,
    client_for,
    product_date,
    strict_key,
)

pytestmark = pytest.mark.anyio
TOTAL = PLAIN_PRODUCTS + 1  # plus the legacy product


async def test_list_default_page_has_exact_meta(client: httpx.AsyncClient) -> None:
    r = await client.get(f"{API}/catalog/products")
    assert r.status_code == 200
    body = r.json()
    assert [p["id"] for p in body["data"]] == [*range(1, PLAIN_PRODUCTS + 1), LEGACY_PRODUCT]
    assert body["meta"] == {"pagination": {
        "total": TOTAL, "count": TOTAL, "per_page": 50, "current_page": 1, "total_pages": 1,
        "links": {"current": "?page=1&limit=50"},
    }}


async def test_product_object_fields(client: httpx.AsyncClient) -> None:
    product = (await client.get(f"{API}/catalog/products/2")).json()["data"]
    assert product == {
        "id": 2, "name": "Product 2", "type": "physical", "sku": "SKU-2", "price": 12.0, "weight": 1.5,
        "date_created": "2020-01-01T00:00:00+00:00", "date_modified": "2020-01-03T00:00:00+00:00",
        "option_set_id": None,
    }
    assert "modifiers" not in product


async def test_middle_page_links_keep_other_params(client: httpx.AsyncClient) -> None:
    r = await client.get(f"{API}/catalog/products", params={"limit": 10, "page": 2, "sku:in": ",".join(
        f"SKU-{i}" for i in range(1, 26))})
    meta = r.json()["meta"]["pagination"]
    assert meta["total"] == 25 and meta["count"] == 10 and meta["total_pages"] == 3 and meta["current_page"] == 2
    skus = ",".join(f"SKU-{i}" for i in range(1, 26))
    assert meta["links"] == {
        "previous": f"?page=1&limit=10&sku:in={skus}",
        "current": f"?page=2&limit=10&sku:in={skus}",
        "next": f"?page=3&limit=10&sku:in={skus}",
    }
    assert [p["id"] for p in r.json()["data"]] == list(range(11, 21))


async def test_last_page_and_beyond(client: httpx.AsyncClient) -> None:
    last = (await client.get(f"{API}/catalog/products", params={"limit": 10, "page": 3})).json()
    assert [p["id"] for p in last["data"]] == [21, 22, 23, 24, 25, LEGACY_PRODUCT]
    assert last["meta"]["pagination"]["count"] == 6
    assert "next" not in last["meta"]["pagination"]["links"]
    beyond = (await client.get(f"{API}/catalog/products", params={"limit": 10, "page": 9})).json()
    assert beyond["data"] == []
    assert beyond["meta"]["pagination"]["count"] == 0 and beyond["meta"]["pagination"]["current_page"] == 9


async def test_include_modifiers_caps_pages_at_ten(client: httpx.AsyncClient) -> None:
    r = await client.get(f"{API}/catalog/products", params={"include": "modifiers", "limit": 250})
    meta = r.json()["meta"]["pagination"]
    assert meta["per_page"] == 10 and meta["count"] == 10
    assert meta["total_pages"] == math.ceil(TOTAL / 10)
    assert meta["links"]["next"] == "?page=2&limit=10&include=modifiers"
    data = r.json()["data"]
    assert all("modifiers" in p for p in data)
    product2 = data[1]
    assert [m["display_name"] for m in product2["modifiers"]] == ["Material", "Gift wrap"]
    assert [v["label"] for v in product2["modifiers"][1]["option_values"]] == ["Yes", "No"]
    assert data[0]["modifiers"] == []


async def test_include_options_caps_pages_too(client: httpx.AsyncClient) -> None:
    r = await client.get(f"{API}/catalog/products", params={"include": "options", "limit": 20})
    assert r.json()["meta"]["pagination"]["per_page"] == 10
    assert r.json()["data"][0]["options"] == []


# A strict store refuses what the spec forbids under `query.<name>`; what the spec allows but the
# sandbox's own rules refuse (no page 0: the spec sets no minimum) keeps its bare key.
@pytest.mark.parametrize(("limit", "key"), [("251", "query.limit"), ("ten", "query.limit"), ("2.5", "query.limit"),
                                            ("0", "limit"), ("-1", "limit")])
async def test_bad_limit_is_422(client: httpx.AsyncClient, limit: str, key: str) -> None:
    assert_error(await client.get(f"{API}/catalog/products", params={"limit": limit}), 422, strict_key(key))


@pytest.mark.parametrize(("page", "key"), [("0", "page"), ("-3", "page"), ("x", "query.page")])
async def test_bad_page_is_422(client: httpx.AsyncClient, page: str, key: str) -> None:
    assert_error(await client.get(f"{API}/catalog/products", params={"page": page}), 422, strict_key(key))


async def test_limit_250_is_accepted(client: httpx.AsyncClient) -> None:
    r = await client.get(f"{API}/catalog/products", params={"limit": 250})
    assert r.status_code == 200 and r.json()["meta"]["pagination"]["per_page"] == 250


@pytest.mark.parametrize(("params", "expected"), [
    ({"id": "3"}, [3]),
    ({"id:in": "5,3,99,1000"}, [3, 5, LEGACY_PRODUCT]),
    ({"sku": "SKU-7"}, [7]),
    ({"sku:in": "SKU-7,SKU-LEGACY,nope"}, [7, LEGACY_PRODUCT]),
    ({"id:in": "1,2,3", "sku:in": "SKU-2,SKU-3,SKU-4"}, [2, 3]),
    ({"date_modified:min": product_date(23)}, [23, 24, 25]),
    ({"date_modified:min": "2020-01-25"}, [24, 25]),
    ({"date_modified:min": str(int(datetime.fromisoformat(product_date(25)).timestamp()))}, [25]),
    ({"date_modified:max": "2020-01-02T00:00:00Z"}, [1, LEGACY_PRODUCT]),
    ({"date_modified:min": "2020-01-03", "date_modified:max": "2020-01-04"}, [2, 3]),
])
async def test_filters(client: httpx.AsyncClient, params: dict[str, str], expected: list[int]) -> None:
    r = await client.get(f"{API}/catalog/products", params=params)
    assert r.status_code == 200, r.text
    assert [p["id"] for p in r.json()["data"]] == expected
    assert r.json()["meta"]["pagination"]["total"] == len(expected)


@pytest.mark.parametrize(("params", "key"), [
    ({"id:in": "1,x"}, "query.id:in"), ({"id": "one"}, "query.id"),
    ({"date_modified:min": "yesterday"}, "date_modified:min"),  # a string for the spec; the sandbox's own rule
])
async def test_bad_filters_are_422(client: httpx.AsyncClient, params: dict[str, str], key: str) -> None:
    assert_error(await client.get(f"{API}/catalog/products", params=params), 422, strict_key(key))


async def test_include_fields_keeps_id_and_sub_resources(client: httpx.AsyncClient) -> None:
    r = await client.get(f"{API}/catalog/products", params={
        "include_fields": "sku,date_modified", "include": "modifiers", "id:in": "2"})
    product = r.json()["data"][0]
    assert set(product) == {"id", "sku", "date_modified", "modifiers"}


async def test_exclude_fields_never_drops_id(client: httpx.AsyncClient) -> None:
    r = await client.get(f"{API}/catalog/products/4", params={"exclude_fields": "id,name,price"})
    assert set(r.json()["data"]) == {"id", "type", "sku", "weight", "date_created", "date_modified", "option_set_id"}


async def test_get_single_with_modifiers_and_legacy_option_set(client: httpx.AsyncClient) -> None:
    r = await client.get(f"{API}/catalog/products/{LEGACY_PRODUCT}", params={"include": "modifiers"})
    body = r.json()
    assert body["meta"] == {}
    assert body["data"]["option_set_id"] == 55
    assert body["data"]["modifiers"][0]["display_name"] == "Old size"


async def test_unknown_product_is_404_without_errors_key(client: httpx.AsyncClient) -> None:
    body = assert_error(await client.get(f"{API}/catalog/products/4242"), 404)
    assert body == {"status": 404, "title": "The requested resource was not found.", "type": body["type"]}


async def test_seed_image_urls_render_absolute_from_request_host(client: httpx.AsyncClient) -> None:
    r = await client.get(f"{API}/catalog/products/3", params={"include": "modifiers"})
    values = r.json()["data"]["modifiers"][0]["option_values"]
    assert values[1]["value_data"]["image_url"] == "http://sandbox.test/_sandbox/images/seed/pattern.png"
    assert values[1]["adjusters"]["image_url"] == "http://sandbox.test/_sandbox/images/seed/pattern-value.png"
    assert values[0]["adjusters"]["image_url"] == ""


async def test_literal_include_fields_drops_unnamed_sub_resources(make_app: Callable[..., Starlette]) -> None:
    """A store that applies include_fields literally: included modifiers come back only when named there."""
    async with client_for(make_app(literal_include_fields=True)) as client:
        trimmed = await client.get(f"{API}/catalog/products", params={
            "include": "modifiers", "include_fields": "sku,date_modified", "id:in": "2"})
        assert trimmed.status_code == 200
        assert trimmed.json()["data"] == [{"id": 2, "sku": "SKU-2", "date_modified": product_date(2)}]
        assert trimmed.json()["meta"]["pagination"]["per_page"] == 10, "include=modifiers still caps the page"
        whole = await client.get(f"{API}/catalog/products", params={"include": "modifiers", "id:in": "2"})
        assert [m["display_name"] for m in whole.json()["data"][0]["modifiers"]] == ["Material", "Gift wrap"]
        single = await client.get(f"{API}/catalog/products/2", params={"include": "modifiers", "include_fields": "sku"})
        assert set(single.json()["data"]) == {"id", "sku"}


async def test_literal_include_fields_naming_modifiers(make_app: Callable[..., Starlette]) -> None:
    """Naming `modifiers` in include_fields embeds them; the products spec's enum has no such field, so a
    strict store refuses that request (the sandbox's own rules, non-strict, let it through)."""
    params = {"include": "modifiers", "include_fields": "sku,modifiers", "id:in": "2"}
    async with client_for(make_app(literal_include_fields=True, strict=False)) as client:
        named = await client.get(f"{API}/catalog/products", params=params)
        assert set(named.json()["data"][0]) == {"id", "sku", "modifiers"}
    if SPEC_CHECK:
        async with client_for(make_app(literal_include_fields=True)) as client:
            assert_error(await client.get(f"{API}/catalog/products", params=params), 422, "query.include_fields")
