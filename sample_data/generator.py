"""A deterministic sample catalog that exercises every modifier type and config field.

The same (n_products, seed) always gives the same catalog, so tests, the demo and benchmarks can
assert exact counts. Labels deliberately include strings that spreadsheets like to rewrite
(`2-8`, `1/2`, `0017`, `22E1`) or execute (`=SUM(A1)`), because those are the round-trip bugs
users hit with peer tools. Sizes scale linearly: about 3 modifiers and 10 option values a product.
"""

from __future__ import annotations

import copy
import itertools
import random
import struct
import zlib
from collections.abc import Sequence
from typing import Any, overload

from pipeline.modifier_types import (
    DATE_LIMIT_MODES,
    FILE_TYPE_GROUPS,
    FILE_TYPES_MODES,
    MODIFIER_TYPES,
    NUMBER_LIMIT_MODES,
    SHIPPING_CALC,
    TYPE_NAMES,
)

FIRST_PRODUCT_ID = 101
SEED_IMAGE_PREFIX = "/_sandbox/images/seed/"

# Labels a spreadsheet would mangle or evaluate; they must survive export -> edit -> import.
TRICKY_LABELS = ("2-8", "1/2", "0017", "22E1", "=SUM(A1)", "+5 gift wrap", "-10%", "@home", "Café ☕", "1,000")
WORDS = ("Red", "Blue", "Green", "Black", "White", "Small", "Medium", "Large", "Oak", "Walnut", "Linen",
         "Silk", "Matte", "Gloss", "Classic", "Modern", "Gold", "Silver", "Bronze", "Navy", "Olive", "Coral")
DISPLAY_NAMES = {
    "date": "Delivery date", "checkbox": "Gift wrap", "file": "Upload artwork", "text": "Engraving",
    "multi_line_text": "Gift message", "numbers_only_text": "Quantity per pack", "radio_buttons": "Finish",
    "rectangles": "Size", "dropdown": "Material", "swatch": "Colour", "product_list": "Add-on",
    "product_list_with_images": "Matching accessory",
}


def generate_catalog(n_products: int, seed: int = 0) -> list[dict[str, Any]]:
    """Products with ids from 101, each with modifiers in the sandbox's seed shape.

    The first twelve products each lead with a different type, so any catalog of 12 or more
    products holds every type; every config field of a type is always set.
    """
    rng = random.Random(seed)
    ids = [FIRST_PRODUCT_ID + i for i in range(n_products)]
    counter = _Counter()
    products = []
    for index, product_id in enumerate(ids):
        types = [TYPE_NAMES[index % len(TYPE_NAMES)]]
        while len(types) < rng.choice((2, 3, 3, 4)):
            candidate = rng.choice(TYPE_NAMES)
            if candidate not in types:
                types.append(candidate)
        modifiers = [
            _modifier(rng, counter, type_name, sort_order, product_id, ids)
            for sort_order, type_name in enumerate(types)
        ]
        products.append({
            "id": product_id,
            "name": f"Sample product {product_id}",
            "sku": f"SKU-{product_id:06d}",
            "price": round(rng.uniform(5, 500), 2),
            "weight": round(rng.uniform(0.1, 20), 2),
            "option_set_id": None,
            "modifiers": modifiers,
        })
    return products


class _Counter:
    """Numbers values across the catalog, so tricky labels and images are spread evenly."""

    def __init__(self) -> None:
        self.n = 0

    def next(self) -> int:
        self.n += 1
        return self.n


def _modifier(rng: random.Random, counter: _Counter, type_name: str, sort_order: int, product_id: int,
              ids: list[int]) -> dict[str, Any]:
    spec = MODIFIER_TYPES[type_name]
    modifier: dict[str, Any] = {
        "display_name": DISPLAY_NAMES[type_name],
        "type": type_name,
        "required": rng.random() < 0.3,
        "sort_order": sort_order,
        "config": _config(rng, type_name),
        "option_values": [],
    }
    if spec.generated_values:
        modifier["option_values"] = [
            _value(rng, counter, "Yes", 0, {"checked_value": True}, is_default=False),
            _value(rng, counter, "No", 1, {"checked_value": False}, is_default=True),
        ]
    elif spec.has_values:
        modifier["option_values"] = _values(rng, counter, type_name, product_id, ids)
    return modifier


def _config(rng: random.Random, type_name: str) -> dict[str, Any]:
    if type_name == "date":
        year = rng.choice((2026, 2027))
        return {
            "default_value": f"{year}-03-{rng.randint(10, 20):02d}T00:00:00+00:00",
            "date_limited": rng.random() < 0.7,
            "date_limit_mode": rng.choice(DATE_LIMIT_MODES),
            "date_earliest_value": f"{year}-01-01T00:00:00+00:00",
            "date_latest_value": f"{year}-12-31T00:00:00+00:00",
        }
    if type_name == "checkbox":
        return {"checked_by_default": rng.random() < 0.5, "checkbox_label": rng.choice(
            ("Add gift wrap", "Include insurance ($5)", "Rush order"))}
    if type_name == "file":
        return {
            "file_types_mode": rng.choice(FILE_TYPES_MODES),
            "file_types_supported": sorted(rng.sample(FILE_TYPE_GROUPS, rng.randint(1, 3))),
            "file_types_other": rng.choice((["stl"], ["dxf", "svg"], [])),
            "file_max_size": rng.choice((1024, 5120, 524288)),
        }
    if type_name in ("text", "multi_line_text"):
        low = rng.randint(0, 5)
        config: dict[str, Any] = {
            "default_value": rng.choice(("", "Your text here", "0017")),
            "text_characters_limited": rng.random() < 0.6,
            "text_min_length": low,
            "text_max_length": low + rng.randint(10, 200),
        }
        if type_name == "multi_line_text":
            config |= {"text_lines_limited": rng.random() < 0.5, "text_max_lines": rng.randint(2, 10)}
        return config
    if type_name == "numbers_only_text":
        low = rng.randint(0, 10)
        return {
            "default_value": str(low + 1),
            "number_limited": rng.random() < 0.6,
            "number_limit_mode": rng.choice(NUMBER_LIMIT_MODES),
            "number_lowest_value": float(low),
            "number_highest_value": float(low + rng.randint(5, 100)),
            "number_integers_only": rng.random() < 0.5,
        }
    if type_name in ("product_list", "product_list_with_images"):
        return {
            "product_list_adjusts_inventory": rng.random() < 0.5,
            "product_list_adjusts_pricing": rng.random() < 0.5,
            "product_list_shipping_calc": rng.choice(SHIPPING_CALC),
        }
    return {}


def _values(rng: random.Random, counter: _Counter, type_name: str, product_id: int,
            ids: list[int]) -> list[dict[str, Any]]:
    count = rng.randint(4, 10)
    others = _AllBut(ids, product_id)
    if type_name.startswith("product_list"):
        count = min(count, len(others))
        targets = rng.sample(others, count) if count else []
    labels = rng.sample(WORDS, count)
    default_index = rng.randrange(count) if count and type_name != "swatch" and rng.random() < 0.5 else -1
    values = []
    for position in range(count):
        n = counter.next()
        label = TRICKY_LABELS[(n // 7) % len(TRICKY_LABELS)] if n % 7 == 0 else labels[position]
        value_data: dict[str, Any] | None = None
        if type_name == "swatch":
            if n % 5 == 0:
                value_data = {"image_url": f"{SEED_IMAGE_PREFIX}swatch-{n}.png"}
            else:
                value_data = {"colors": [f"#{rng.randrange(0x1000000):06x}" for _ in range(rng.randint(1, 3))]}
        elif type_name.startswith("product_list"):
            value_data = {"product_id": targets[position]}
            label = f"Add product {targets[position]}"
        values.append(_value(rng, counter, label, position, value_data, is_default=position == default_index, n=n))
    return values


class _AllBut(Sequence[int]):
    """`[i for i in ids if i != product_id]` without building it: the ids are consecutive, so this is
    O(1) where the list made the catalog quadratic (100k products took hours). `rng.sample` draws
    the same items from it, so the catalog is the same."""

    def __init__(self, ids: list[int], product_id: int) -> None:
        self.ids = ids
        self.skip = product_id - ids[0]
        assert ids[self.skip] == product_id and ids[-1] - ids[0] == len(ids) - 1

    def __len__(self) -> int:
        return len(self.ids) - 1

    @overload
    def __getitem__(self, index: int) -> int: ...

    @overload
    def __getitem__(self, index: slice) -> list[int]: ...

    def __getitem__(self, index: int | slice) -> int | list[int]:
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(len(self)))]
        if index < 0:
            index += len(self)
        if not 0 <= index < len(self):
            raise IndexError(index)
        return self.ids[index + (index >= self.skip)]


def _value(rng: random.Random, counter: _Counter, label: str, sort_order: int, value_data: dict | None,
           *, is_default: bool, n: int | None = None) -> dict[str, Any]:
    n = counter.next() if n is None else n
    adjusters: dict[str, Any] = {
        "price": {}, "weight": {}, "image_url": "",
        "purchasing_disabled": {"status": False, "message": ""},
    }
    if rng.random() < 0.5:
        adjusters["price"] = {"adjuster": rng.choice(("relative", "percentage")),
                              "adjuster_value": round(rng.uniform(-10, 25), 2)}
    if rng.random() < 0.3:
        adjusters["weight"] = {"adjuster": "relative", "adjuster_value": round(rng.uniform(0, 2), 2)}
    if n % 11 == 0:
        adjusters["image_url"] = f"{SEED_IMAGE_PREFIX}value-{n}.png"
    if n % 13 == 0:
        adjusters["purchasing_disabled"] = {"status": True, "message": "Temporarily unavailable"}
    return {"label": label, "sort_order": sort_order, "is_default": is_default, "value_data": value_data,
            "adjusters": adjusters}


def seed_image_bytes(name: str) -> bytes:
    """A small valid PNG whose colour is derived from `name`, for seeded image URLs."""
    digest = zlib.crc32(name.encode())
    rgb = bytes(((digest >> 16) & 0xFF, (digest >> 8) & 0xFF, digest & 0xFF))
    return png_bytes(rgb, width=8, height=8)


def png_bytes(rgb: bytes, width: int = 8, height: int = 8) -> bytes:
    """Encode a solid-colour RGB PNG with the standard library only."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    raw = b"".join(b"\x00" + rgb * width for _ in range(height))
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b"")


def as_api_products(catalog: list[dict[str, Any]], first_id: int = 1000,
                    image_base: str = "http://127.0.0.1:8000") -> list[dict[str, Any]]:
    """The catalog as the API returns it: ids, generated names, absolute image URLs.

    For building frames without a store (benchmarks, unit tests); the sandbox assigns its own ids
    and makes image URLs absolute against its own address.
    """
    ids = itertools.count(first_id)
    products = copy.deepcopy(catalog)
    for product in products:
        for modifier in product["modifiers"]:
            modifier["id"] = next(ids)
            modifier["product_id"] = product["id"]
            modifier["name"] = f"{modifier['display_name']}{modifier['id']}-{product['id']}"
            for value in modifier["option_values"]:
                value["id"] = next(ids)
                value["option_id"] = modifier["id"]
                adjusters, value_data = value["adjusters"], value.get("value_data") or {}
                for holder in (adjusters, value_data):
                    if str(holder.get("image_url", "")).startswith("/"):
                        holder["image_url"] = image_base + holder["image_url"]
    return products
