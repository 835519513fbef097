"""Type-specific validation of modifier and value bodies, answering 422 like BigCommerce.

The rules come from `pipeline.modifier_types` (one table for the sandbox, the generator and the
client's own validation), so the store we test against refuses exactly what the workbook
validator is meant to catch first. Every check reports all the fields at fault at once, keyed by
their dotted path (`config.file_max_size`, `option_values.2.label`, ...).

Semantics worth knowing (documented because BigCommerce leaves them implicit):
- `config` on PUT is merged key by key into the stored config; a key set to null is removed.
- date config values are stored and answered as ISO-8601 ATOM (`2027-04-01T00:00:00+00:00`)
  whatever ISO-8601 form was sent (a bare date is 00:00 UTC); the strict spec check refuses
  anything but ATOM before it gets here.
- `adjusters` on PUT is merged by top-level key (`price`, `weight`, `image_url`,
  `purchasing_disabled`); a price/weight adjuster whose `adjuster` is null means "no adjustment"
  and is stored and returned as `{}`.
- `value_data` on PUT replaces the stored one; types without value data always answer null.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from datetime import datetime, timezone
from typing import Any

from pipeline.modifier_types import (
    ADJUSTER_KINDS,
    INT32_MAX,
    INT32_MIN,
    MAX_SWATCH_COLORS,
    MAX_VALUES_PER_MODIFIER,
    TYPE_NAMES,
    ConfigField,
    FieldKind,
    ModifierType,
    empty_adjusters,
    modifier_type,
)
from pipeline.sandbox.errors import invalid

ProductExists = Callable[[int], bool]
Json = dict[str, Any]

HEX_COLOR = re.compile(r"^#[0-9a-fA-F]{6}$")
ADJUSTER_KEYS = ("price", "weight", "image_url", "purchasing_disabled")
CONFIG_LESS_SHAPES = ({}, [], None)  # the spec's own example answers `config: []`


class _Errors:
    """Collects `path -> message` and raises one 422 with all of them."""

    def __init__(self) -> None:
        self.items: dict[str, str] = {}

    def add(self, path: str, message: str) -> None:
        self.items.setdefault(path, message)

    def raise_if_any(self, title: str = "JSON data is missing or invalid") -> None:
        if self.items:
            raise invalid(self.items, title)


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _is_int32(value: Any) -> bool:
    return _is_int(value) and INT32_MIN <= value <= INT32_MAX


def _is_bool(value: Any) -> bool:
    return isinstance(value, bool)


def _is_non_empty_str(value: Any) -> bool:
    return isinstance(value, str) and bool(value.strip())


def _require(body: Json, keys: Iterable[str], errors: _Errors) -> None:
    for key in keys:
        if key not in body:
            errors.add(key, f"{key} is required")


def _take(body: Json, key: str, valid: Callable[[Any], bool], message: str, out: Json, errors: _Errors) -> None:
    """Copy `body[key]` into `out` when present, reporting `message` if it is not `valid`."""
    if key in body:
        if not valid(body[key]):
            errors.add(key, message)
        out[key] = body[key]


def parse_iso_datetime(text: str) -> datetime:
    """An ISO-8601 date or datetime as an aware UTC datetime (naive means UTC); ValueError if not."""
    parsed = datetime.fromisoformat(text.strip())
    return parsed.replace(tzinfo=timezone.utc) if parsed.tzinfo is None else parsed.astimezone(timezone.utc)


def atom_datetime(text: str) -> str:
    """An ISO-8601 date or datetime as ATOM, the form BigCommerce stores: `2027-04-01T00:00:00+00:00`.

    A bare date means 00:00 UTC, a naive time is UTC, an offset is kept, fractions are dropped.
    """
    parsed = datetime.fromisoformat(text.strip())
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=timezone.utc)
    return parsed.replace(microsecond=0).isoformat(timespec="seconds")


def _require_object(body: Any, what: str) -> Json:
    if not isinstance(body, dict):
        raise invalid({"body": f"The request body must be a JSON object describing the {what}."})
    return body


# --- config ---------------------------------------------------------------------------------


def _config_field_error(field: ConfigField, value: Any) -> str | None:
    """Why `value` does not fit `field`, or None."""
    kind = field.kind
    if kind is FieldKind.STRING:
        return None if isinstance(value, str) else "must be a string"
    if kind is FieldKind.BOOLEAN:
        return None if isinstance(value, bool) else "must be a boolean"
    if kind is FieldKind.NUMBER_OR_STRING:
        return None if isinstance(value, str) or _is_number(value) else "must be a number or a string"
    if kind is FieldKind.ENUM:
        return None if value in field.choices else f"must be one of: {', '.join(field.choices)}"
    if kind is FieldKind.DATE:
        if not isinstance(value, str):
            return "must be an ISO-8601 date string"
        try:
            parse_iso_datetime(value)
        except ValueError:
            return f"{value!r} is not an ISO-8601 date"
        return None
    if kind is FieldKind.STRING_LIST:
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            return "must be a list of strings"
        unknown = [v for v in value if field.choices and v not in field.choices]
        return f"unknown entries {unknown}; allowed: {', '.join(field.choices)}" if unknown else None
    if kind is FieldKind.INTEGER and not _is_int(value):
        return "must be an integer"
    if kind is FieldKind.NUMBER and not _is_number(value):
        return "must be a number"
    if field.minimum is not None and value < field.minimum:
        return f"must be at least {field.minimum:g}"
    if field.maximum is not None and value > field.maximum:
        return f"must be at most {field.maximum:g}"
    return None


def _ordered(config: Json, low: str, high: str, parse: Callable[[Any], Any], errors: _Errors) -> None:
    """`low` must not exceed `high` when both are present and individually valid."""
    if config.get(low) is None or config.get(high) is None:
        return
    if f"config.{low}" in errors.items or f"config.{high}" in errors.items:
        return  # a malformed bound was already reported; comparing it means nothing
    if parse(config[low]) > parse(config[high]):
        errors.add(f"config.{low}", f"{low} ({config[low]}) must not exceed {high} ({config[high]})")


def check_config(spec: ModifierType, config: Any, errors: _Errors) -> Json:
    """Validate a whole config for its type; returns it as a dict."""
    if config in CONFIG_LESS_SHAPES:
        config = {}
    if not isinstance(config, dict):
        errors.add("config", "config must be an object")
        return {}
    config = dict(config)
    for key, value in config.items():
        field = spec.config_field(key)
        if field is None:
            allowed = ", ".join(spec.config_field_names) or "none"
            errors.add(f"config.{key}", f"{key!r} is not a config field of type {spec.name} (allowed: {allowed})")
            continue
        message = _config_field_error(field, value)
        if message:
            errors.add(f"config.{key}", f"{key} {message}")
        elif field.kind is FieldKind.DATE:
            config[key] = atom_datetime(value)
    _ordered(config, "text_min_length", "text_max_length", lambda v: v, errors)
    _ordered(config, "number_lowest_value", "number_highest_value", lambda v: v, errors)
    _ordered(config, "date_earliest_value", "date_latest_value", parse_iso_datetime, errors)
    if spec.name == "date" and config.get("default_value") is None:
        errors.add("config.default_value", "date modifiers require config.default_value (an ISO-8601 date)")
    return config


def merge_config(stored: Json, update: Any) -> Any:
    """Key-by-key merge for PUT; a null removes the key. Non-objects are returned for validation."""
    if update in ([], None):
        return dict(stored)
    if not isinstance(update, dict):
        return update
    merged = dict(stored)
    for key, value in update.items():
        if value is None:
            merged.pop(key, None)
        else:
            merged[key] = value
    return merged


# --- option values --------------------------------------------------------------------------


def _check_adjuster(raw: Any, path: str, errors: _Errors) -> Json:
    if raw in (None, {}):
        return {}
    if not isinstance(raw, dict):
        errors.add(path, "must be an object with adjuster and adjuster_value")
        return {}
    for key in raw:
        if key not in ("adjuster", "adjuster_value"):
            errors.add(f"{path}.{key}", f"{key!r} is not an adjuster field")
    kind = raw.get("adjuster")
    if kind is not None and kind not in ADJUSTER_KINDS:
        errors.add(f"{path}.adjuster", f"must be one of: {', '.join(ADJUSTER_KINDS)} or null")
    amount = raw.get("adjuster_value")
    if amount is not None and not _is_number(amount):
        errors.add(f"{path}.adjuster_value", "must be a number")
    if kind is None:
        return {}
    if amount is None:
        errors.add(f"{path}.adjuster_value", "is required when an adjuster is set")
    return {"adjuster": kind, "adjuster_value": amount}


def _check_adjusters(raw: Any, stored: Json, errors: _Errors) -> Json:
    """Merge `raw` into `stored` by top-level key, validating each part."""
    out = dict(stored)
    if raw is None:
        return out
    if not isinstance(raw, dict):
        errors.add("adjusters", "must be an object")
        return out
    for key, value in raw.items():
        if key not in ADJUSTER_KEYS:
            errors.add(f"adjusters.{key}", f"{key!r} is not an adjuster; allowed: {', '.join(ADJUSTER_KEYS)}")
        elif key in ("price", "weight"):
            out[key] = _check_adjuster(value, f"adjusters.{key}", errors)
        elif key == "image_url":
            if value is not None and not isinstance(value, str):
                errors.add("adjusters.image_url", "must be a string (a URL) or empty")
            out[key] = value or ""
        else:
            out[key] = _check_purchasing_disabled(value, errors)
    return out


def _check_purchasing_disabled(raw: Any, errors: _Errors) -> Json:
    if raw is None:
        return {"status": False, "message": ""}
    if not isinstance(raw, dict):
        errors.add("adjusters.purchasing_disabled", "must be an object with status and message")
        return {"status": False, "message": ""}
    status, message = raw.get("status", False), raw.get("message", "")
    if not isinstance(status, bool):
        errors.add("adjusters.purchasing_disabled.status", "must be a boolean")
    if message is None:
        message = ""
    if not isinstance(message, str):
        errors.add("adjusters.purchasing_disabled.message", "must be a string")
    for key in raw:
        if key not in ("status", "message"):
            errors.add(f"adjusters.purchasing_disabled.{key}", f"{key!r} is not a purchasing_disabled field")
    return {"status": status, "message": message}


def _check_value_data(spec: ModifierType, raw: Any, product_exists: ProductExists, errors: _Errors) -> Json | None:
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        errors.add("value_data", "must be an object or null")
        return None
    for key in raw:
        if key not in spec.value_data_fields:
            allowed = ", ".join(spec.value_data_fields) or "none"
            errors.add(f"value_data.{key}", f"{key!r} is not value data of type {spec.name} (allowed: {allowed})")
    if "colors" in raw:
        colors = raw["colors"]
        if not isinstance(colors, list) or not all(isinstance(c, str) and HEX_COLOR.match(c) for c in colors):
            errors.add("value_data.colors", 'must be a list of hex colours like "#1a2b3c"')
        elif len(colors) > MAX_SWATCH_COLORS:
            errors.add("value_data.colors", f"a swatch has at most {MAX_SWATCH_COLORS} colours, got {len(colors)}")
    if "image_url" in raw and not isinstance(raw["image_url"], str):
        errors.add("value_data.image_url", "must be a string (a URL)")
    if "checked_value" in raw and not isinstance(raw["checked_value"], bool):
        errors.add("value_data.checked_value", "must be a boolean")
    if "product_id" in spec.value_data_fields:
        product_id = raw.get("product_id")
        if product_id is None:
            errors.add("value_data.product_id", f"{spec.name} values require value_data.product_id")
        elif not _is_int(product_id):
            errors.add("value_data.product_id", "must be an integer product id")
        elif not product_exists(product_id):
            errors.add("value_data.product_id", f"product {product_id} does not exist")
    return raw or None


def _check_value_fields(spec: ModifierType, body: Json, base: Json, product_exists: ProductExists,
                        errors: _Errors, *, creating: bool) -> Json:
    """Apply the fields present in `body` over `base` (a full stored value), validating each."""
    value = dict(base)
    _require(body, ("label", "sort_order") if creating else (), errors)
    _take(body, "label", _is_non_empty_str, "label must be a non-empty string", value, errors)
    _take(body, "sort_order", _is_int32, "sort_order must be a 32-bit integer", value, errors)
    _take(body, "is_default", _is_bool, "is_default must be a boolean", value, errors)
    if body.get("is_default") is True and not spec.supports_default_value:
        errors.add("is_default", f"{spec.name} values cannot be the default (is_default is not supported)")
    if "value_data" in body or creating:
        value["value_data"] = _check_value_data(spec, body.get("value_data"), product_exists, errors)
    if "adjusters" in body:
        value["adjusters"] = _check_adjusters(body["adjusters"], value["adjusters"], errors)
    return value


def _new_value() -> Json:
    return {"label": None, "sort_order": None, "is_default": False, "value_data": None,
            "adjusters": empty_adjusters()}


def _check_labels(labels: Iterable[Any], errors: _Errors, path: str = "label") -> None:
    seen: set[Any] = set()
    for label in labels:
        if isinstance(label, str) and label in seen:
            errors.add(path, f"a value labelled {label!r} already exists on this modifier; labels must be unique")
        seen.add(label)


def check_value_create(spec: ModifierType, body: Any, sibling_labels: list[str],
                       product_exists: ProductExists) -> Json:
    """A full value from a POST body; refuses checkbox values, duplicate labels and value 251."""
    body = _require_object(body, "option value")
    errors = _Errors()
    if spec.generated_values:
        errors.add("option_values", f"{spec.name} values are generated by the store (Yes/No); "
                                    "they can be updated but not created")
        errors.raise_if_any()
    if not spec.has_values:
        errors.add("option_values", f"{spec.name} modifiers have no option values")
        errors.raise_if_any()
    if len(sibling_labels) >= MAX_VALUES_PER_MODIFIER:
        errors.add("option_values", f"a modifier has at most {MAX_VALUES_PER_MODIFIER} values")
    value = _check_value_fields(spec, body, _new_value(), product_exists, errors, creating=True)
    _check_labels([*sibling_labels, value["label"]], errors)
    errors.raise_if_any()
    return value


def check_value_update(spec: ModifierType, body: Any, stored: Json, sibling_labels: list[str],
                       product_exists: ProductExists) -> Json:
    """The value after a PUT (partial update); checkbox values keep their value_data."""
    body = _require_object(body, "option value")
    errors = _Errors()
    value = _check_value_fields(spec, body, stored, product_exists, errors, creating=False)
    if spec.generated_values and value["value_data"] != stored["value_data"]:
        errors.add("value_data", "the value_data of generated checkbox values cannot be changed")
    _check_labels([*sibling_labels, value["label"]], errors)
    errors.raise_if_any()
    return value


# --- modifiers ------------------------------------------------------------------------------


def _check_modifier_scalars(body: Json, errors: _Errors, *, creating: bool) -> Json:
    out: Json = {}
    _require(body, ("type", "required", "display_name") if creating else (), errors)
    _take(body, "required", _is_bool, "required must be a boolean", out, errors)
    _take(body, "display_name", _is_non_empty_str, "display_name must be a non-empty string", out, errors)
    _take(body, "sort_order", _is_int32, "sort_order must be a 32-bit integer", out, errors)
    return out


def _option_value_items(spec: ModifierType, raw: Any, errors: _Errors) -> list[Json]:
    if raw is None:
        return []
    if not isinstance(raw, list):
        errors.add("option_values", "option_values must be a list")
        return []
    if raw and not spec.has_values:
        errors.add("option_values", f"{spec.name} modifiers have no option values")
        return []
    if len(raw) > MAX_VALUES_PER_MODIFIER:
        errors.add("option_values", f"a modifier has at most {MAX_VALUES_PER_MODIFIER} values, got {len(raw)}")
    return raw


def _check_nested_value(spec: ModifierType, index: int, item: Any, base: Json | None,
                        product_exists: ProductExists, errors: _Errors) -> Json:
    """Validate option_values[index]; its errors are prefixed with `option_values.<index>.`."""
    inner = _Errors()
    if not isinstance(item, dict):
        inner.add("body", "must be an object")
        value = _new_value()
    else:
        value = _check_value_fields(spec, item, base or _new_value(), product_exists, inner, creating=base is None)
    for path, message in inner.items.items():
        errors.add(f"option_values.{index}.{path}" if path != "body" else f"option_values.{index}", message)
    return value


def check_modifier_create(body: Any, product_exists: ProductExists) -> Json:
    """A full modifier (with `option_values` to create) from a POST body.

    Checkbox option values in the body are ignored: the store generates Yes/No, and BigCommerce
    needs a second request to set their adjusters.
    """
    body = _require_object(body, "modifier")
    errors = _Errors()
    type_name = body.get("type")
    if "type" in body and type_name not in TYPE_NAMES:
        errors.add("type", f"type must be one of: {', '.join(TYPE_NAMES)}")
    modifier = _check_modifier_scalars(body, errors, creating=True)
    if type_name not in TYPE_NAMES:
        errors.raise_if_any()
    spec = modifier_type(type_name)
    modifier.setdefault("sort_order", 0)
    modifier["type"] = type_name
    modifier["config"] = check_config(spec, body.get("config", {}), errors)
    values: list[Json] = []
    if not spec.generated_values:
        for index, item in enumerate(_option_value_items(spec, body.get("option_values"), errors)):
            values.append(_check_nested_value(spec, index, item, None, product_exists, errors))
        _check_labels((v["label"] for v in values), errors, "option_values")
    modifier["option_values"] = values
    errors.raise_if_any()
    return modifier


def check_modifier_update(body: Any, stored: Json, stored_values: Mapping[int, Json],
                          product_exists: ProductExists) -> Json:
    """The changes of a PUT: scalar fields, the merged config, and option values.

    `option_values` on PUT: an item with an `id` updates that value of this modifier (partial
    update, as a value PUT would); an item without `id` creates a value. Values not mentioned are
    left alone (deleting takes a DELETE). Returns `updates` (id -> full value) and `creates`.
    """
    body = _require_object(body, "modifier")
    errors = _Errors()
    spec = modifier_type(stored["type"])
    if "type" in body and body["type"] != stored["type"]:
        errors.add("type", f"type cannot be changed (it is {stored['type']}); delete and re-create the modifier")
    changes = _check_modifier_scalars(body, errors, creating=False)
    if "config" in body:
        changes["config"] = check_config(spec, merge_config(stored["config"], body["config"]), errors)
    updates: dict[int, Json] = {}
    creates: list[Json] = []
    for index, item in enumerate(_option_value_items(spec, body.get("option_values"), errors)):
        value_id = item.get("id") if isinstance(item, dict) else None
        if value_id is None:
            if spec.generated_values:
                errors.add(f"option_values.{index}", "checkbox values are generated; they cannot be created")
                continue
            creates.append(_check_nested_value(spec, index, item, None, product_exists, errors))
        elif value_id not in stored_values:
            errors.add(f"option_values.{index}.id", f"value {value_id} does not belong to this modifier")
        else:
            base = stored_values[value_id]
            updated = _check_nested_value(spec, index, item, base, product_exists, errors)
            if spec.generated_values and updated["value_data"] != base["value_data"]:
                errors.add(f"option_values.{index}.value_data", "generated checkbox value_data cannot change")
            updates[value_id] = updated
    final_labels = [updates.get(vid, v)["label"] for vid, v in stored_values.items()] + [v["label"] for v in creates]
    _check_labels(final_labels, errors, "option_values")
    if len(stored_values) + len(creates) > MAX_VALUES_PER_MODIFIER:
        errors.add("option_values", f"a modifier has at most {MAX_VALUES_PER_MODIFIER} values")
    errors.raise_if_any()
    return {"changes": changes, "updates": updates, "creates": creates}
