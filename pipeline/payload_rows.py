"""One BigCommerce modifier payload -> one row dict per modifier and per option value, and the
column types those rows take in a frame; no pandas.

The flattening is plain Python so that an export can read and flatten the store's pages before
pandas is loaded: a small export's pandas import then happens in a thread while the requests are
in flight (`pipeline.export`), instead of before the first one. `pipeline.normalise` types these
rows into frames and builds payloads back from them.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pipeline.modifier_types import ALL_CONFIG_FIELDS, MODIFIER_TYPES, FieldKind

# Pandas extension dtypes keep missing cells distinct from False/0/"" all the way to the sheet.
_DTYPE_BY_KIND = {
    FieldKind.BOOLEAN: "boolean",
    FieldKind.INTEGER: "Int64",
    FieldKind.NUMBER: "Float64",
}
LIST_SEPARATOR = ","


def _config_dtypes() -> dict[str, str]:
    dtypes: dict[str, str] = {}
    for spec in MODIFIER_TYPES.values():
        for field in spec.config_fields:
            dtypes[field.name] = _DTYPE_BY_KIND.get(field.kind, "string")
    return {name: dtypes[name] for name in ALL_CONFIG_FIELDS}


MODIFIER_DTYPES: dict[str, str] = {
    "product_id": "Int64",
    "product_sku": "string",
    "product_name": "string",
    "modifier_id": "Int64",
    "display_name": "string",
    "type": "string",
    "required": "boolean",
    "sort_order": "Int64",
    "name": "string",
    **_config_dtypes(),
}

VALUE_DTYPES: dict[str, str] = {
    "product_id": "Int64",
    "product_sku": "string",
    "modifier_id": "Int64",
    "display_name": "string",
    "type": "string",
    "value_id": "Int64",
    "label": "string",
    "sort_order": "Int64",
    "is_default": "boolean",
    "colors": "string",
    "pattern_image_url": "string",
    "linked_product_id": "Int64",
    "checked_value": "boolean",
    "price_adjuster": "string",
    "price_adjuster_value": "Float64",
    "weight_adjuster": "string",
    "weight_adjuster_value": "Float64",
    "image_url": "string",
    "purchasing_disabled": "boolean",
    "purchasing_disabled_message": "string",
}

LIST_CONFIG_FIELDS = frozenset(
    f.name for t in MODIFIER_TYPES.values() for f in t.config_fields if f.kind is FieldKind.STRING_LIST
)


# ("modifier" | "value", id) -> {"config" | "value_data" | "adjusters": {unknown key: value}}
Extras = dict[tuple[str, int], dict[str, dict[str, Any]]]


def modifier_row(product: Mapping[str, Any], modifier: Mapping[str, Any]) -> dict[str, Any]:
    row: dict[str, Any] = {
        "product_id": modifier.get("product_id", product.get("id")),
        "product_sku": product.get("sku"),
        "product_name": product.get("name"),
        "modifier_id": modifier.get("id"),
        "display_name": modifier.get("display_name"),
        "type": modifier.get("type"),
        "required": modifier.get("required"),
        "sort_order": modifier.get("sort_order"),
        "name": modifier.get("name"),
    }
    config = modifier.get("config") or {}
    if isinstance(config, Mapping):  # the spec's own example shows `config: []` for types without one
        for key, item in config.items():
            row[key] = LIST_SEPARATOR.join(item) if key in LIST_CONFIG_FIELDS and item is not None else item
    return row


def value_row(product: Mapping[str, Any], modifier: Mapping[str, Any], value: Mapping[str, Any]) -> dict[str, Any]:
    value_data = value.get("value_data") or {}
    adjusters = value.get("adjusters") or {}
    price = adjusters.get("price") or {}
    weight = adjusters.get("weight") or {}
    disabled = adjusters.get("purchasing_disabled") or {}
    colors = value_data.get("colors")
    return {
        "product_id": modifier.get("product_id", product.get("id")),
        "product_sku": product.get("sku"),
        "modifier_id": value.get("option_id", modifier.get("id")),
        "display_name": modifier.get("display_name"),
        "type": modifier.get("type"),
        "value_id": value.get("id"),
        "label": value.get("label"),
        "sort_order": value.get("sort_order"),
        # swatch values have no default: the sheet has no such column, the payload says false
        "is_default": value.get("is_default") if MODIFIER_TYPES[modifier["type"]].supports_default_value else None,
        "colors": LIST_SEPARATOR.join(colors) if colors is not None else None,
        "pattern_image_url": value_data.get("image_url"),
        "linked_product_id": value_data.get("product_id"),
        "checked_value": value_data.get("checked_value"),
        "price_adjuster": price.get("adjuster"),
        "price_adjuster_value": price.get("adjuster_value"),
        "weight_adjuster": weight.get("adjuster"),
        "weight_adjuster_value": weight.get("adjuster_value"),
        "image_url": adjusters.get("image_url"),
        "purchasing_disabled": disabled.get("status"),
        "purchasing_disabled_message": disabled.get("message"),
    }


def keep_extras(extras: Extras, kind: str, item: Mapping[str, Any], parts: dict[str, dict[str, Any]]) -> None:
    if parts and item.get("id") is not None:
        extras[(kind, int(item["id"]))] = parts
