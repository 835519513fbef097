"""Flatten BigCommerce modifier payloads into two typed frames, and build payloads back from them.

One row per modifier and one row per option value, with nested `config`, `value_data` and
`adjusters` spread over named columns, because that is what a person can edit in a sheet and
what pandera can check. The mapping is lossless for everything the API returns: a property test
rebuilds the payloads from the frames and compares them with the originals, so a round trip
through the workbook can never silently drop or rewrite a field.

Blank has one meaning: an empty string and a missing field are the same "not set", because a
sheet cell cannot tell them apart. Frames hold them as missing; payloads write BigCommerce's own
empty forms back (`image_url: ""`, `purchasing_disabled.message: ""`, `file_types_other: []`); an
empty text config field is omitted.
"""

from __future__ import annotations

import hashlib
import json
from array import array
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from dataclasses import field as dataclass_field
from typing import Any

import numpy as np
import pandas as pd

from pipeline.extras import modifier_extras, value_extras
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


@dataclass(frozen=True)
class ModifierFrames:
    """The normalised catalog: `modifiers` (one row each) and `values` (one row per option value).

    `extras` keeps what the columns have no place for, by ("modifier" | "value", id): keys the
    spec this code knows does not name (a store may be newer), found in the one walk over the
    payloads (`pipeline.extras`). The export names them; a write sends back those of `config`,
    `value_data` and `adjusters` unchanged, so bcmod never erases what it cannot show."""

    modifiers: pd.DataFrame
    values: pd.DataFrame
    extras: Extras = dataclass_field(default_factory=dict)

    def counts_by_type(self) -> pd.DataFrame:
        """Modifiers and values per type, for summaries."""
        mods = self.modifiers.groupby("type", observed=True).size().rename("modifiers")
        vals = self.values.groupby("type", observed=True).size().rename("values")
        out = pd.concat([mods, vals], axis=1).fillna(0).astype(int)
        return out.sort_index()


def empty_frames() -> ModifierFrames:
    return ModifierFrames(_typed([], MODIFIER_DTYPES), _typed([], VALUE_DTYPES))


def products_to_frames(products: Iterable[Mapping[str, Any]]) -> ModifierFrames:
    """Normalise products as returned by `GET /catalog/products?include=modifiers`."""
    modifier_rows: list[dict[str, Any]] = []
    value_rows: list[dict[str, Any]] = []
    extras: Extras = {}
    for product in products:
        for modifier in product.get("modifiers") or ():
            modifier_rows.append(_modifier_row(product, modifier))
            _keep_extras(extras, "modifier", modifier, modifier_extras(modifier))
            for value in modifier.get("option_values") or ():
                value_rows.append(_value_row(product, modifier, value))
                _keep_extras(extras, "value", value, value_extras(value, str(modifier.get("type"))))
    return ModifierFrames(_typed(modifier_rows, MODIFIER_DTYPES), _typed(value_rows, VALUE_DTYPES), extras)


class FramesBuilder:
    """`products_to_frames` over pages as they arrive, so that the raw payloads of a big catalog are
    never held together: each page is flattened into rows at once, and every `BATCH_ROWS` rows become
    a small typed frame (columnar, strings in Arrow buffers) while the page's dicts are dropped.

    A product read twice (an id and a SKU filter both match it, or a chain read again without
    include_fields) keeps its latest reading only, and `frames()` orders rows by product id, so the
    result equals `products_to_frames` of the products `extract_products` returns.
    """

    BATCH_ROWS = 5_000

    def __init__(self) -> None:
        # Bookkeeping in typed arrays, not lists of ints: a Python object per product or row living
        # through the whole read would pin the memory of every page's freed dicts around it.
        self._readings = array("q")  # reading -> product id
        self._rows: dict[str, list[dict[str, Any]]] = {"modifiers": [], "values": []}
        self._owners: dict[str, array[int]] = {"modifiers": array("q"), "values": array("q")}  # reading of each row
        self._parts: dict[str, list[tuple[pd.DataFrame, np.ndarray]]] = {"modifiers": [], "values": []}
        self._extras: list[tuple[int, tuple[str, int], dict[str, dict[str, Any]]]] = []

    def product_ids(self) -> list[int]:
        """The ids of the products added (with or without modifiers), in order, each once."""
        return np.unique(np.frombuffer(self._readings, dtype=np.int64)).tolist() if self._readings else []

    def add(self, products: Iterable[Mapping[str, Any]]) -> None:
        """Normalise one page of products (as `GET /catalog/products?include=modifiers` returns them)."""
        modifier_rows, value_rows = self._rows["modifiers"], self._rows["values"]
        modifier_owners, value_owners = self._owners["modifiers"], self._owners["values"]
        for product in products:
            reading = len(self._readings)
            self._readings.append(int(product["id"]))
            for modifier in product.get("modifiers") or ():
                modifier_rows.append(_modifier_row(product, modifier))
                modifier_owners.append(reading)
                self._keep(reading, "modifier", modifier, modifier_extras(modifier))
                for value in modifier.get("option_values") or ():
                    value_rows.append(_value_row(product, modifier, value))
                    value_owners.append(reading)
                    self._keep(reading, "value", value, value_extras(value, str(modifier.get("type"))))
        for kind in ("modifiers", "values"):
            if len(self._rows[kind]) >= self.BATCH_ROWS:
                self._flush(kind)

    def _keep(self, reading: int, kind: str, item: Mapping[str, Any], parts: dict[str, dict[str, Any]]) -> None:
        if parts and item.get("id") is not None:
            self._extras.append((reading, (kind, int(item["id"])), parts))

    def _flush(self, kind: str) -> None:
        rows = self._rows[kind]
        if rows:
            dtypes = MODIFIER_DTYPES if kind == "modifiers" else VALUE_DTYPES
            self._parts[kind].append((_typed(rows, dtypes), np.frombuffer(self._owners[kind], dtype=np.int64).copy()))
        self._rows[kind], self._owners[kind] = [], array("q")

    def frames(self) -> ModifierFrames:
        """The frames of every product added, each by its latest reading, ordered by product id."""
        for kind in ("modifiers", "values"):
            self._flush(kind)
        readings = np.frombuffer(self._readings, dtype=np.int64) if self._readings else np.zeros(0, np.int64)
        latest = np.zeros(len(readings), dtype=bool)
        if len(readings):  # the last reading of each product: its first in the reversed order
            _, first_from_end = np.unique(readings[::-1], return_index=True)
            latest[len(readings) - 1 - first_from_end] = True
        out = {}
        for kind, dtypes in (("modifiers", MODIFIER_DTYPES), ("values", VALUE_DTYPES)):
            parts, self._parts[kind] = self._parts[kind], []
            if not parts:
                out[kind] = _typed([], dtypes)
                continue
            owners = np.concatenate([o for _, o in parts])
            frame = pd.concat([f for f, _ in parts], ignore_index=True) if len(parts) > 1 else parts[0][0]
            del parts
            keep = latest[owners]
            order = np.argsort(readings[owners[keep]], kind="stable")
            if keep.all() and (order == np.arange(len(order))).all():
                out[kind] = frame.reset_index(drop=True)
            else:
                out[kind] = frame.iloc[np.flatnonzero(keep)[order]].reset_index(drop=True)
            del frame
        extras: Extras = {}
        for reading, key, parts_of in sorted((e for e in self._extras if latest[e[0]]),
                                             key=lambda e: readings[e[0]]):
            extras[key] = parts_of
        return ModifierFrames(out["modifiers"], out["values"], extras)


def _keep_extras(extras: Extras, kind: str, item: Mapping[str, Any], parts: dict[str, dict[str, Any]]) -> None:
    if parts and item.get("id") is not None:
        extras[(kind, int(item["id"]))] = parts


def _typed(rows: list[dict[str, Any]], dtypes: Mapping[str, str]) -> pd.DataFrame:
    """Typed frame; an empty string becomes missing, because a blank cell cannot tell them apart."""
    frame = pd.DataFrame.from_records(rows, columns=list(dtypes)) if rows else pd.DataFrame(columns=list(dtypes))
    frame = frame.astype(dict(dtypes))
    for column, dtype in dtypes.items():
        if dtype == "string":
            frame[column] = frame[column].mask(frame[column] == "")
    return frame


def _modifier_row(product: Mapping[str, Any], modifier: Mapping[str, Any]) -> dict[str, Any]:
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


def _value_row(product: Mapping[str, Any], modifier: Mapping[str, Any], value: Mapping[str, Any]) -> dict[str, Any]:
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


# ---------------------------------------------------------------------------------------------
# Back to payloads


def _present(item: Any) -> bool:
    return item is not None and item is not pd.NA and not (isinstance(item, float) and item != item)


def _plain(item: Any) -> Any:
    """numpy/pandas scalars -> JSON-able Python values."""
    if hasattr(item, "item") and not isinstance(item, (str, bytes)):
        return item.item()
    return item


def modifier_payload(row: Mapping[str, Any]) -> dict[str, Any]:
    """The modifier fields of a row, as BigCommerce takes them (no option values, no ids)."""
    spec = MODIFIER_TYPES[row["type"]]
    config: dict[str, Any] = {}
    for field in spec.config_field_names:
        item = row.get(field)
        if field in LIST_CONFIG_FIELDS:  # a blank list cell is the empty list, BigCommerce's own "none"
            config[field] = [p for p in str(item).split(LIST_SEPARATOR) if p] if _present(item) else []
        elif _present(item):
            config[field] = _plain(item)
    payload: dict[str, Any] = {"display_name": row["display_name"], "type": row["type"]}
    for key in ("required", "sort_order"):
        if _present(row.get(key)):
            payload[key] = _plain(row[key])
    payload["config"] = config
    return payload


def _adjuster(kind: Any, amount: Any) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if _present(kind) or _present(amount):
        out["adjuster"] = _plain(kind) if _present(kind) else None
        if _present(amount):
            out["adjuster_value"] = _plain(amount)
    return out


def value_payload(row: Mapping[str, Any]) -> dict[str, Any]:
    """One option value as BigCommerce takes it (no id)."""
    spec = MODIFIER_TYPES[row["type"]]
    value_data: dict[str, Any] = {}
    if "colors" in spec.value_data_fields and _present(row.get("colors")):
        value_data["colors"] = [c for c in str(row["colors"]).split(LIST_SEPARATOR) if c]
    if "image_url" in spec.value_data_fields and _present(row.get("pattern_image_url")):
        value_data["image_url"] = row["pattern_image_url"]
    if "product_id" in spec.value_data_fields and _present(row.get("linked_product_id")):
        value_data["product_id"] = _plain(row["linked_product_id"])
    if "checked_value" in spec.value_data_fields and _present(row.get("checked_value")):
        value_data["checked_value"] = _plain(row["checked_value"])
    adjusters: dict[str, Any] = {
        "price": _adjuster(row.get("price_adjuster"), row.get("price_adjuster_value")),
        "weight": _adjuster(row.get("weight_adjuster"), row.get("weight_adjuster_value")),
    }
    # BigCommerce writes "no image" and "no message" as "", so blank cells go back as "".
    adjusters["image_url"] = row["image_url"] if _present(row.get("image_url")) else ""
    message = row.get("purchasing_disabled_message")
    if _present(row.get("purchasing_disabled")) or _present(message):
        disabled: dict[str, Any] = {"message": message if _present(message) else ""}
        if _present(row.get("purchasing_disabled")):
            disabled["status"] = _plain(row["purchasing_disabled"])
        adjusters["purchasing_disabled"] = disabled
    payload: dict[str, Any] = {"label": row["label"]}
    if _present(row.get("sort_order")):
        payload["sort_order"] = _plain(row["sort_order"])
    if not spec.supports_default_value:
        payload["is_default"] = False
    elif _present(row.get("is_default")):
        payload["is_default"] = _plain(row["is_default"])
    payload["value_data"] = value_data or None
    payload["adjusters"] = adjusters
    return payload


def frames_to_payloads(frames: ModifierFrames) -> dict[int, list[dict[str, Any]]]:
    """Product id -> its modifiers with option values, ids included where the rows have them."""
    values_by_modifier: dict[Any, list[dict[str, Any]]] = {}
    for row in frames.values.to_dict("records"):
        value = value_payload(row)
        if _present(row.get("value_id")):
            value = {"id": int(row["value_id"]), "option_id": int(row["modifier_id"]), **value}
        values_by_modifier.setdefault(_plain(row["modifier_id"]), []).append(value)
    out: dict[int, list[dict[str, Any]]] = {}
    for row in frames.modifiers.to_dict("records"):
        modifier = modifier_payload(row)
        if _present(row.get("modifier_id")):
            modifier = {"id": int(row["modifier_id"]), "product_id": int(row["product_id"]), **modifier}
        if _present(row.get("name")):
            modifier["name"] = row["name"]
        modifier["option_values"] = values_by_modifier.get(_plain(row["modifier_id"]), [])
        out.setdefault(int(row["product_id"]), []).append(modifier)
    return out


def fingerprint(payload: Mapping[str, Any]) -> str:
    """A short stable digest of a payload, so a plan can tell who changed a row since export."""
    encoded = json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)
    return hashlib.blake2b(encoded.encode(), digest_size=8).hexdigest()


def modifier_fingerprints(frame: pd.DataFrame) -> pd.Series:
    return pd.Series([fingerprint(modifier_payload(r)) for r in frame.to_dict("records")], index=frame.index,
                     dtype="string")


def value_fingerprints(frame: pd.DataFrame) -> pd.Series:
    return pd.Series([fingerprint(value_payload(r)) for r in frame.to_dict("records")], index=frame.index,
                     dtype="string")
