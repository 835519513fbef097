"""Constants, the hand-built catalog and assertions shared by the sandbox tests.

The catalog is built here rather than from `sample_data.generator` so the tests pin exact ids,
SKUs and dates and do not move when the generator changes.
"""

from __future__ import annotations

import struct
import zlib
from datetime import datetime, timedelta, timezone
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette

from pipeline.sandbox.specs import default_spec_dir, specs_present
from pipeline.sandbox.transport import SandboxTransport

TOKEN = "sandbox-token"
STORE = "sandbox"
API = f"/stores/{STORE}/v3"
BASE_URL = "http://sandbox.test"
ERROR_TYPE = "https://developer.bigcommerce.com/api-docs/getting-started/api-status-codes"
PLAIN_PRODUCTS = 25  # ids 1..25
LEGACY_PRODUCT = 99  # attached to a legacy option set
EPOCH = datetime(2020, 1, 1, tzinfo=timezone.utc)
# Tests of the spec check itself; without the specs the strict sandbox keeps its own rules only.
SPEC_CHECK = specs_present(default_spec_dir())
needs_specs = pytest.mark.skipif(not SPEC_CHECK,
                                 reason=f"BigCommerce OpenAPI specs not found in {default_spec_dir()} "
                                        "(set BIGCOMMERCE_OPENAPI_DIR)")


def product_date(product_id: int) -> str:
    """Product n was last modified on 2020-01-01 + n days."""
    return (EPOCH + timedelta(days=product_id)).isoformat()


def adjusters(price: float | None = None, **extra: Any) -> dict[str, Any]:
    out: dict[str, Any] = {"price": {}, "weight": {}, "image_url": "",
                           "purchasing_disabled": {"status": False, "message": ""}}
    if price is not None:
        out["price"] = {"adjuster": "relative", "adjuster_value": price}
    return {**out, **extra}


def seed_products() -> list[dict[str, Any]]:
    products: list[dict[str, Any]] = []
    for pid in range(1, PLAIN_PRODUCTS + 1):
        products.append({
            "id": pid, "name": f"Product {pid}", "sku": f"SKU-{pid}", "price": 10.0 + pid, "weight": 1.5,
            "option_set_id": None, "date_created": product_date(0), "date_modified": product_date(pid),
            "modifiers": [],
        })
    products[1]["modifiers"] = [
        {"display_name": "Material", "type": "dropdown", "required": True, "sort_order": 0, "config": {},
         "option_values": [
             {"label": "Oak", "sort_order": 0, "is_default": True, "value_data": None, "adjusters": adjusters(5)},
             {"label": "Pine", "sort_order": 1, "is_default": False, "value_data": None, "adjusters": adjusters()},
         ]},
        {"display_name": "Gift wrap", "type": "checkbox", "required": False, "sort_order": 1,
         "config": {"checked_by_default": False, "checkbox_label": "Wrap it"}, "option_values": []},
    ]
    products[2]["modifiers"] = [
        {"display_name": "Colour", "type": "swatch", "required": False, "sort_order": 0, "config": {},
         "option_values": [
             {"label": "Red", "sort_order": 0, "is_default": False, "value_data": {"colors": ["#ff0000"]},
              "adjusters": adjusters()},
             {"label": "Pattern", "sort_order": 1, "is_default": False,
              "value_data": {"image_url": "/_sandbox/images/seed/pattern.png"},
              "adjusters": adjusters(image_url="/_sandbox/images/seed/pattern-value.png")},
         ]},
    ]
    products.append({
        "id": LEGACY_PRODUCT, "name": "Legacy product", "sku": "SKU-LEGACY", "price": 1.0, "weight": 1.0,
        "option_set_id": 55, "date_created": product_date(0), "date_modified": product_date(0),
        "modifiers": [{"display_name": "Old size", "type": "dropdown", "required": False, "sort_order": 0,
                       "config": {}, "option_values": [
                           {"label": "S", "sort_order": 0, "is_default": False, "value_data": None,
                            "adjusters": adjusters()}]}],
    })
    return products


def strict_key(key: str) -> str:
    """The `errors` key of a strict refusal (`query.limit`), or of the sandbox's own rule without the specs."""
    if SPEC_CHECK or not key.startswith(("query.", "path.", "header.")):
        return key
    return key.split(".", 1)[1]


def png_bytes(size: int = 4) -> bytes:
    """A valid solid-colour PNG built with the standard library."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    raw = b"".join(b"\x00" + b"\x10\x80\xf0" * size for _ in range(size))
    header = struct.pack(">IIBBBBB", size, size, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b"")


def assert_error(response: httpx.Response, status: int, *error_keys: str) -> dict[str, Any]:
    """The body is BigCommerce's error shape; with keys, `errors` names each of them."""
    assert response.status_code == status, response.text
    body = response.json()
    assert body["status"] == status
    assert isinstance(body["title"], str) and body["title"]
    assert body["type"] == ERROR_TYPE
    if error_keys:
        assert set(error_keys) <= set(body["errors"]), body["errors"]
    return body




def client_for(app: Starlette, token: str | None = TOKEN) -> httpx.AsyncClient:
    """An in-process client; drops surface as httpx.RemoteProtocolError like on a real socket."""
    headers = {"X-Auth-Token": token} if token else {}
    return httpx.AsyncClient(transport=SandboxTransport(app=app), base_url=BASE_URL, headers=headers)


def value_body(label: str, sort_order: int = 0, **extra: Any) -> dict[str, Any]:
    return {"label": label, "sort_order": sort_order, **extra}


# A valid POST body and a valid PUT body for every modifier type (product 1 has no modifiers).
CREATE_BODIES: dict[str, dict[str, Any]] = {
    "date": {"config": {"default_value": "2026-05-01T00:00:00+00:00", "date_limited": True,
                        "date_limit_mode": "range", "date_earliest_value": "2026-01-01T00:00:00+00:00",
                        "date_latest_value": "2026-12-31T00:00:00+00:00"}},
    "checkbox": {"config": {"checked_by_default": True, "checkbox_label": "Add insurance"}},
    "file": {"config": {"file_types_mode": "specific", "file_types_supported": ["images", "documents"],
                        "file_types_other": ["stl"], "file_max_size": 1024}},
    "text": {"config": {"default_value": "Hi", "text_characters_limited": True, "text_min_length": 1,
                        "text_max_length": 20}},
    "multi_line_text": {"config": {"default_value": "", "text_characters_limited": False, "text_min_length": 0,
                                   "text_max_length": 200, "text_lines_limited": True, "text_max_lines": 4}},
    "numbers_only_text": {"config": {"default_value": "3", "number_limited": True, "number_limit_mode": "range",
                                     "number_lowest_value": 1, "number_highest_value": 10.5,
                                     "number_integers_only": False}},
    "radio_buttons": {"option_values": [value_body("Matte", 0, is_default=True), value_body("Gloss", 1)]},
    "rectangles": {"option_values": [value_body("S", 0), value_body("M", 1, is_default=True)]},
    "dropdown": {"option_values": [value_body("2-8", 0, adjusters={"price": {"adjuster": "percentage",
                                                                              "adjuster_value": 10}})]},
    "swatch": {"option_values": [value_body("Red", 0, value_data={"colors": ["#ff0000", "#00FF00", "#0000ff"]}),
                                 value_body("Pattern", 1, value_data={"image_url": "https://cdn.example/p.png"})]},
    "product_list": {"config": {"product_list_adjusts_inventory": True, "product_list_adjusts_pricing": False,
                                "product_list_shipping_calc": "weight"},
                     "option_values": [value_body("Add product 5", 0, value_data={"product_id": 5})]},
    "product_list_with_images": {"config": {"product_list_adjusts_inventory": False,
                                            "product_list_adjusts_pricing": True,
                                            "product_list_shipping_calc": "package"},
                                 "option_values": [value_body("Add product 6", 0, value_data={"product_id": 6})]},
}

UPDATE_CONFIGS: dict[str, dict[str, Any]] = {
    "date": {"date_limit_mode": "earliest"},
    "checkbox": {"checkbox_label": "Insure it"},
    "file": {"file_max_size": 524288},
    "text": {"text_max_length": 30},
    "multi_line_text": {"text_max_lines": 8},
    "numbers_only_text": {"number_integers_only": True},
    "radio_buttons": {},
    "rectangles": {},
    "dropdown": {},
    "swatch": {},
    "product_list": {"product_list_shipping_calc": "none"},
    "product_list_with_images": {"product_list_shipping_calc": "weight"},
}


def modifier_body(type_name: str, display_name: str | None = None, **extra: Any) -> dict[str, Any]:
    """A valid create body for `type_name`, with overrides."""
    body = {"type": type_name, "required": False, "display_name": display_name or f"My {type_name}",
            "sort_order": 3, **CREATE_BODIES[type_name]}
    return {**body, **extra}
