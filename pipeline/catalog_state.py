"""A store's modifiers by natural key, to tell whether two stores (or two runs) ended the same.

An apply that was retried, interrupted or reconciled after an ambiguous write may create the same
modifier with another id than a clean run did; what must agree is the catalog a shopper sees:
per product, each modifier by display name and each value by label, with their settings. Image
URLs are compared without their origin, since each store serves its own copies. The fault and
kill benchmarks and the apply tests compare stores this way.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Mapping
from typing import Any

_ORIGIN = re.compile(r"^https?://[^/]+")
Product = Mapping[str, Any]  # an API product with `modifiers` (include=modifiers)


def _plain_url(url: Any) -> Any:
    return _ORIGIN.sub("", url) if isinstance(url, str) else url


def _value_state(value: Mapping[str, Any]) -> dict[str, Any]:
    adjusters = dict(value.get("adjusters") or {})
    adjusters["image_url"] = _plain_url(adjusters.get("image_url"))
    data = value.get("value_data")
    if isinstance(data, dict) and "image_url" in data:
        data = {**data, "image_url": _plain_url(data["image_url"])}
    return {"sort_order": value.get("sort_order"), "is_default": value.get("is_default"), "value_data": data,
            "adjusters": adjusters}


def state_by_natural_key(products: Iterable[Product]) -> dict[int, dict[str, Any]]:
    """product id -> display name -> the modifier's settings and its values by label; no ids."""
    out: dict[int, dict[str, Any]] = {}
    for product in products:
        mods: dict[str, Any] = {}
        for modifier in product.get("modifiers") or []:
            mods[modifier["display_name"]] = {
                "type": modifier["type"], "required": modifier["required"], "sort_order": modifier["sort_order"],
                "config": modifier.get("config") or {},
                "values": {v["label"]: _value_state(v) for v in modifier.get("option_values") or []},
            }
        out[int(product["id"])] = mods
    return out


def duplicate_keys(products: Iterable[Product]) -> list[tuple[Any, ...]]:
    """(product, display name) or (product, display name, label) held more than once: what a
    retried create that was not reconciled leaves behind."""
    found: list[tuple[Any, ...]] = []
    for product in products:
        names = Counter(m["display_name"] for m in product.get("modifiers") or [])
        found += [(product["id"], name) for name, n in names.items() if n > 1]
        for modifier in product.get("modifiers") or []:
            labels = Counter(v["label"] for v in modifier.get("option_values") or [])
            found += [(product["id"], modifier["display_name"], label) for label, n in labels.items() if n > 1]
    return found


def differences(expected: Mapping[int, Any], actual: Mapping[int, Any], *, limit: int = 5) -> list[str]:
    """The first `limit` places where two states differ, as `product / modifier[ / value]` paths."""
    out: list[str] = []
    for product_id in sorted(set(expected) | set(actual)):
        want, got = expected.get(product_id, {}), actual.get(product_id, {})
        for name in sorted(set(want) | set(got)):
            if want.get(name) == got.get(name):
                continue
            if name not in want or name not in got:
                out.append(f"product {product_id} / {name!r}: {'missing' if name not in got else 'unexpected'}")
            else:
                labels = set(want[name]["values"]) | set(got[name]["values"])
                changed = sorted(label for label in labels
                                 if want[name]["values"].get(label) != got[name]["values"].get(label))
                out.append(f"product {product_id} / {name!r}" + (f" / values {changed[:3]}" if changed else
                                                                 " (modifier settings)"))
            if len(out) >= limit:
                return out
    return out
