"""The Catalog API routes: products (read), modifiers and values (CRUD), value images.

Handlers only translate HTTP to store calls: bodies are validated by `validation.py`, shapes are
BigCommerce's (`{"data": ..., "meta": ...}`, creates answer 200, deletes 204), and errors are
raised as `ApiError`, rendered by the app. Each write handler reads the whole request body first
and then looks up, validates and writes with no `await` in between, so on the single event loop a
read-validate-write sequence (unique labels, the 250-value cap) cannot race with another request.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Any

from starlette.datastructures import UploadFile
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from pipeline.modifier_types import IMAGE_MAX_BYTES, modifier_type
from pipeline.sandbox import images
from pipeline.sandbox.errors import ApiError, invalid, not_found
from pipeline.sandbox.pagination import Page, collection_meta, comma_list, parse_page
from pipeline.sandbox.render import relative_url, render_modifier, render_value, select_fields
from pipeline.sandbox.state import SandboxState
from pipeline.sandbox.store import ProductFilter
from pipeline.sandbox.validation import (
    check_modifier_create,
    check_modifier_update,
    check_value_create,
    check_value_update,
    parse_iso_datetime,
)

Json = dict[str, Any]
INCLUDE_PAGE_CAP = 10  # BigCommerce: include=modifiers or options caps pages at 10 products
SUB_RESOURCES = ("modifiers", "options")


def _state(request: Request) -> SandboxState:
    return request.app.state.sandbox  # type: ignore[no-any-return]


def _base_url(request: Request) -> str:
    """Where image URLs point: the configured image origin (the same across ports), else this request's address."""
    return _state(request).config.image_origin or str(request.base_url).rstrip("/")


def _own_origins(request: Request) -> tuple[str, str]:
    """The origins a URL pointing back at this sandbox may carry: its image origin and the request's address."""
    return _base_url(request), str(request.base_url).rstrip("/")


def _single(data: Json) -> JSONResponse:
    return JSONResponse({"data": data, "meta": {}})


def _fields(request: Request) -> tuple[list[str] | None, list[str] | None]:
    q = request.query_params
    return comma_list(q.get("include_fields")), comma_list(q.get("exclude_fields"))


def _json(raw: bytes) -> Any:
    if not raw.strip():
        raise ApiError(400, "The request body is empty; send a JSON object.", {"body": "empty"})
    try:
        return json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise ApiError(400, "The request body is not valid JSON.", {"body": str(exc)}) from None


# --- lookups ----------------------------------------------------------------------------------


def _product(request: Request) -> Json:
    product = _state(request).store.get_product(request.path_params["product_id"])
    if product is None:
        raise not_found()
    return product


def _modifier(request: Request) -> tuple[Json, Json]:
    product = _product(request)
    modifier = _state(request).store.get_modifier(product["id"], request.path_params["modifier_id"])
    if modifier is None:
        raise not_found()
    return product, modifier


def _value(request: Request) -> tuple[Json, Json, Json]:
    product, modifier = _modifier(request)
    value_id = request.path_params["value_id"]
    value = next((v for v in modifier["option_values"] if v["id"] == value_id), None)
    if value is None:
        raise not_found()
    return product, modifier, value


def _refuse_legacy(product: Json) -> None:
    """A product in a legacy (V2) option set cannot have its modifiers edited through V3."""
    if product["option_set_id"] is not None:
        raise ApiError(
            422,
            f"Product {product['id']} uses a legacy option set (V2, option_set_id {product['option_set_id']}); "
            "its modifiers cannot be edited through the V3 API until the option set is removed.",
            {"option_set_id": "The product is attached to a legacy option set."},
        )


def _store_relative_urls(value: Json, origins: tuple[str, ...]) -> Json:
    """Image URLs pointing back at this sandbox are stored relative (portable across ports)."""
    adjusters = value.get("adjusters")
    if isinstance(adjusters, dict) and isinstance(adjusters.get("image_url"), str):
        value["adjusters"] = {**adjusters, "image_url": relative_url(adjusters["image_url"], *origins)}
    data = value.get("value_data")
    if isinstance(data, dict) and isinstance(data.get("image_url"), str):
        value["value_data"] = {**data, "image_url": relative_url(data["image_url"], *origins)}
    return value


# --- products ---------------------------------------------------------------------------------


def _int_param(raw: str, name: str) -> int:
    try:
        return int(raw.strip())
    except ValueError:
        raise invalid({name: f"{name} must be an integer, got {raw!r}"}, f"Invalid {name} parameter") from None


def _date_param(raw: str | None, name: str) -> int | None:
    """Unix seconds from a timestamp or an ISO-8601 date/datetime (a bare date means 00:00 UTC)."""
    if raw is None:
        return None
    text = raw.strip()
    try:
        return int(float(text))
    except ValueError:
        pass
    try:
        return int(parse_iso_datetime(text.replace(" ", "+")).timestamp())
    except ValueError:
        raise invalid({name: f"{name} must be an ISO-8601 date or datetime or a unix timestamp, got {raw!r}"},
                      f"Invalid {name} parameter") from None


def _product_filter(request: Request) -> ProductFilter:
    q = request.query_params
    ids: list[int] | None = None
    if "id" in q:
        ids = [_int_param(q["id"], "id")]
    if "id:in" in q:
        listed = [_int_param(part, "id:in") for part in comma_list(q["id:in"]) or []]
        ids = listed if ids is None else [i for i in ids if i in listed]
    skus: list[str] | None = [q["sku"]] if "sku" in q else None
    if "sku:in" in q:
        listed_skus = comma_list(q["sku:in"]) or []
        skus = listed_skus if skus is None else [s for s in skus if s in listed_skus]
    return ProductFilter(ids, skus, _date_param(q.get("date_modified:min"), "date_modified:min"),
                         _date_param(q.get("date_modified:max"), "date_modified:max"))


def _render_products(request: Request, products: list[Json]) -> list[Json]:
    """Products with the sub-resources of `include`, trimmed by include_fields/exclude_fields.

    By default included sub-resources survive include_fields (BigCommerce's observed behaviour);
    with `literal_include_fields` they come back only when include_fields names them too.
    """
    include = comma_list(request.query_params.get("include")) or []
    include_fields, exclude_fields = _fields(request)
    always: tuple[str, ...] = SUB_RESOURCES
    if include_fields and _state(request).config.literal_include_fields:
        include = [name for name in include if name in include_fields]
        always = ()
    base = _base_url(request)
    if "modifiers" in include:
        modifiers = _state(request).store.modifiers_by_product([p["id"] for p in products])
        for product in products:
            product["modifiers"] = [render_modifier(m, base) for m in modifiers[product["id"]]]
    if "options" in include:
        for product in products:
            product["options"] = []  # the sandbox has no variant options
    return [select_fields(p, include_fields, exclude_fields, always=always) for p in products]


async def list_products(request: Request) -> JSONResponse:
    include = comma_list(request.query_params.get("include")) or []
    capped = any(name in include for name in SUB_RESOURCES)
    page = parse_page(request.query_params, INCLUDE_PAGE_CAP if capped else None)
    products, total = _state(request).store.list_products(_product_filter(request), page.offset, page.per_page)
    return _collection(request, page, _render_products(request, products), total)


async def get_product(request: Request) -> JSONResponse:
    return _single(_render_products(request, [_product(request)])[0])


# --- modifiers --------------------------------------------------------------------------------


def _collection(request: Request, page: Page, data: list[Json], total: int) -> JSONResponse:
    meta = collection_meta(request.query_params.multi_items(), page, len(data), total)
    return JSONResponse({"data": data, "meta": meta})


def _rendered(request: Request, items: list[Json], render: Callable[[Json, str], Json]) -> list[Json]:
    """Render each item with absolute URLs and apply include_fields/exclude_fields."""
    include_fields, exclude_fields = _fields(request)
    base = _base_url(request)
    return [select_fields(render(item, base), include_fields, exclude_fields) for item in items]


async def list_modifiers(request: Request) -> JSONResponse:
    product = _product(request)
    page = parse_page(request.query_params)
    modifiers, total = _state(request).store.list_modifiers(product["id"], page.offset, page.per_page)
    return _collection(request, page, _rendered(request, modifiers, render_modifier), total)


async def get_modifier(request: Request) -> JSONResponse:
    _, modifier = _modifier(request)
    return _single(_rendered(request, [modifier], render_modifier)[0])


async def create_modifier(request: Request) -> JSONResponse:
    raw = await request.body()
    product = _product(request)
    _refuse_legacy(product)
    store = _state(request).store
    modifier = check_modifier_create(_json(raw), store.product_exists)
    base = _base_url(request)
    modifier["option_values"] = [_store_relative_urls(v, _own_origins(request)) for v in modifier["option_values"]]
    created = store.create_modifier(product["id"], modifier)
    return _single(render_modifier(created, base))


async def update_modifier(request: Request) -> JSONResponse:
    raw = await request.body()
    product, modifier = _modifier(request)
    _refuse_legacy(product)
    store = _state(request).store
    stored_values = {v["id"]: v for v in modifier["option_values"]}
    result = check_modifier_update(_json(raw), modifier, stored_values, store.product_exists)
    base = _base_url(request)
    updated = store.update_modifier(
        product["id"], modifier["id"], result["changes"],
        {vid: _store_relative_urls(v, _own_origins(request)) for vid, v in result["updates"].items()},
        [_store_relative_urls(v, _own_origins(request)) for v in result["creates"]],
    )
    return _single(render_modifier(updated, base))


async def delete_modifier(request: Request) -> Response:
    product, modifier = _modifier(request)
    _refuse_legacy(product)
    _state(request).store.delete_modifier(product["id"], modifier["id"])
    return Response(status_code=204)


# --- option values ----------------------------------------------------------------------------


def _sibling_labels(modifier: Json, excluding: int | None = None) -> list[str]:
    return [v["label"] for v in modifier["option_values"] if v["id"] != excluding]


async def list_values(request: Request) -> JSONResponse:
    _, modifier = _modifier(request)
    page = parse_page(request.query_params)
    values, total = _state(request).store.list_values(modifier["id"], page.offset, page.per_page)
    return _collection(request, page, _rendered(request, values, render_value), total)


async def get_value(request: Request) -> JSONResponse:
    _, _, value = _value(request)
    return _single(_rendered(request, [value], render_value)[0])


async def create_value(request: Request) -> JSONResponse:
    raw = await request.body()
    product, modifier = _modifier(request)
    _refuse_legacy(product)
    store = _state(request).store
    spec = modifier_type(modifier["type"])
    value = check_value_create(spec, _json(raw), _sibling_labels(modifier), store.product_exists)
    base = _base_url(request)
    created = store.create_value(product["id"], modifier["id"], _store_relative_urls(value, _own_origins(request)))
    return _single(render_value(created, base))


async def update_value(request: Request) -> JSONResponse:
    raw = await request.body()
    product, modifier, value = _value(request)
    _refuse_legacy(product)
    store = _state(request).store
    spec = modifier_type(modifier["type"])
    new = check_value_update(spec, _json(raw), value, _sibling_labels(modifier, value["id"]), store.product_exists)
    base = _base_url(request)
    updated = store.update_value(product["id"], modifier["id"], value["id"],
                                 _store_relative_urls(new, _own_origins(request)))
    return _single(render_value(updated, base))


async def delete_value(request: Request) -> Response:
    product, modifier, value = _value(request)
    _refuse_legacy(product)
    if modifier_type(modifier["type"]).generated_values:
        raise invalid({"option_values": "checkbox values are generated (Yes/No) and cannot be deleted"},
                      "Checkbox values cannot be deleted")
    _state(request).store.delete_value(product["id"], modifier["id"], value["id"])
    return Response(status_code=204)


async def upload_value_image(request: Request) -> JSONResponse:
    """Multipart `image_file`, at most 8 MB and a real image; oversize answers 422 (not 413)."""
    data = await _uploaded_image(request)
    product, modifier, value = _value(request)
    _refuse_legacy(product)
    if isinstance(data, str):
        raise invalid({"image_file": data}, "Invalid image upload")
    problem = images.check_upload(data)
    if problem:
        raise invalid({"image_file": problem}, "Invalid image upload")
    state = _state(request)
    relative = images.save_upload(state.images_dir, data)
    updated = {**value, "adjusters": {**value["adjusters"], "image_url": relative}}
    state.store.update_value(product["id"], modifier["id"], value["id"], updated)
    return _single({"image_url": render_value(updated, _base_url(request))["adjusters"]["image_url"]})


async def _uploaded_image(request: Request) -> bytes | str:
    """The bytes of the `image_file` part (at most 8 MB + 1 read), or why there are none."""
    try:
        form = await request.form(max_files=1, max_fields=10)
    except Exception as exc:  # noqa: BLE001 - any multipart parse failure is the client's
        return f"could not read the multipart form: {exc}"
    upload = form.get("image_file")
    if not isinstance(upload, UploadFile):
        return "send the image as a multipart/form-data file field named image_file"
    return await upload.read(IMAGE_MAX_BYTES + 1)


def _route(path: str, **handlers: Callable[[Request], Awaitable[Response]]) -> Route:
    """One route per path, so a wrong method answers 405 with the full `Allow` list."""
    by_method = {method.upper(): handler for method, handler in handlers.items()}
    if "GET" in by_method:
        by_method["HEAD"] = by_method["GET"]

    async def endpoint(request: Request) -> Response:
        return await by_method[request.method](request)

    return Route(path, endpoint, methods=list(by_method))


_P = "/catalog/products/{product_id:int}"
_M = _P + "/modifiers/{modifier_id:int}"
_V = _M + "/values/{value_id:int}"

ROUTES = [
    _route("/catalog/products", get=list_products),
    _route(_P, get=get_product),
    _route(_P + "/modifiers", get=list_modifiers, post=create_modifier),
    _route(_M, get=get_modifier, put=update_modifier, delete=delete_modifier),
    _route(_M + "/values", get=list_values, post=create_value),
    _route(_V, get=get_value, put=update_value, delete=delete_value),
    _route(_V + "/image", post=upload_value_image),
]
