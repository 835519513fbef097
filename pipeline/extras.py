"""Keys of raw modifier payloads that no workbook column holds.

The workbook has a column for every field BigCommerce documents for a modifier type (the table in
`pipeline.modifier_types`, spread over columns by `pipeline.normalise`). A store may return more: a
field added to the API after this release, a `config` key of another type, a custom adjuster. Such
a key does not reach the sheet, so it must at least be named when the workbook is written, and a
write built from the sheet must carry it back rather than erase it. This module finds them; it
knows nothing of HTTP or workbooks, so the export (to warn) and the write path (to keep them in
PUT bodies, with `merge_extras`) share one definition of "known".

"Known" mirrors exactly what `payload_rows.modifier_row` / `value_row` read and what
`modifier_payload` / `value_payload` write back; `tests/pipeline/test_extras.py` holds the two to
each other.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, Final

from pipeline.modifier_types import MODIFIER_TYPES

#: Top-level keys of a modifier that the modifier sheets hold (config and values have their own parts).
MODIFIER_KEYS: Final = frozenset(
    {"id", "product_id", "name", "display_name", "type", "required", "sort_order", "config", "option_values"})
#: Top-level keys of an option value that the value sheets hold.
VALUE_KEYS: Final = frozenset({"id", "option_id", "label", "sort_order", "is_default", "value_data", "adjusters"})
_ADJUSTER = frozenset({"adjuster", "adjuster_value"})
#: `adjusters` keys, each with the keys known inside it (None: a plain value, nothing inside).
ADJUSTER_KEYS: Final[Mapping[str, frozenset[str] | None]] = {
    "price": _ADJUSTER,
    "weight": _ADJUSTER,
    "image_url": None,
    "purchasing_disabled": frozenset({"status", "message"}),
}
_ADJUSTER_NAMES: Final = frozenset(ADJUSTER_KEYS)
#: The parts `unknown_keys` reports, in the order a warning names them.
PARTS: Final = ("modifier", "config", "value", "value_data", "adjusters")


#: Parts a write may carry back (`merge_extras`); unknown top-level keys are left alone by not sending them.
WRITABLE_PARTS: Final = frozenset({"config", "value_data", "adjusters"})
_CONFIG_KEYS: Final = {name: frozenset(spec.config_field_names) for name, spec in MODIFIER_TYPES.items()}
_VALUE_DATA_KEYS: Final = {name: frozenset(spec.value_data_fields) for name, spec in MODIFIER_TYPES.items()}
_NOTHING: Final[frozenset[str]] = frozenset()


def _unknown(mapping: Any, known: frozenset[str]) -> dict[str, Any]:
    """The keys of `mapping` not in `known`; a subset test first, as almost every payload has none
    (this runs for every modifier and value of an export)."""
    if type(mapping) is not dict and not isinstance(mapping, Mapping):  # `config: []`, `value_data: null`
        return {}  # (a dict, as JSON gives, skips the slow ABC check: this runs ~7 times a value)
    if mapping.keys() <= known:
        return {}
    return {key: item for key, item in mapping.items() if key not in known}


def modifier_extras(modifier: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """The parts of one raw modifier that no column holds: part -> {unknown key: its value}.

    Parts: "modifier" (top-level keys) and "config" (keys its type does not have; every key when
    the type is unknown). Only parts with something in them; `{}` when the sheet holds everything.
    Option values are not looked at: see `value_extras`.
    """
    parts = {
        "modifier": _unknown(modifier, MODIFIER_KEYS),
        "config": _unknown(modifier.get("config"), _CONFIG_KEYS.get(str(modifier.get("type")), _NOTHING)),
    }
    return {part: keys for part, keys in parts.items() if keys}


def value_extras(value: Mapping[str, Any], modifier_type: str) -> dict[str, dict[str, Any]]:
    """The parts of one raw option value (of a `modifier_type` modifier) that no column holds.

    Parts: "value" (top-level keys), "value_data" (keys its type does not have) and "adjusters",
    where an unknown key inside a known adjuster keeps its nesting (`{"price": {"key": ...}}`).
    Only parts with something in them; `{}` when the sheet holds everything.
    """
    adjusters_in = value.get("adjusters")
    adjusters = _unknown(adjusters_in, _ADJUSTER_NAMES)
    if isinstance(adjusters_in, Mapping):
        for key, known in ADJUSTER_KEYS.items():
            inner = _unknown(adjusters_in.get(key), known) if known is not None else {}
            if inner:
                adjusters[key] = inner
    parts = {
        "value": _unknown(value, VALUE_KEYS),
        "value_data": _unknown(value.get("value_data"), _VALUE_DATA_KEYS.get(modifier_type, _NOTHING)),
        "adjusters": adjusters,
    }
    return {part: keys for part, keys in parts.items() if keys}


def _names(part: str, keys: Mapping[str, Any]) -> Iterable[str]:
    """The reported names of a part's keys: nested adjuster keys as `price.key`."""
    for key, item in keys.items():
        if part == "adjusters" and ADJUSTER_KEYS.get(key) is not None and isinstance(item, Mapping):
            yield from (f"{key}.{inner}" for inner in item)
        else:
            yield key


def unknown_keys(products: Iterable[Mapping[str, Any]]) -> dict[str, dict[str, int]]:
    """Part -> key -> rows carrying it, over every modifier and value of raw products.

    Parts are those of `PARTS`: "modifier" and "value" for top-level keys, "config", "value_data"
    and "adjusters" (nested adjuster keys as `price.key`). Rows count modifiers for the first two
    parts and values for the rest. Parts with nothing unknown are left out, so an empty dict means
    the workbook holds everything the store returned.
    """
    def each() -> Iterable[Mapping[str, Mapping[str, Any]]]:
        for product in products:
            for modifier in product.get("modifiers") or ():
                yield modifier_extras(modifier)
                for value in modifier.get("option_values") or ():
                    yield value_extras(value, str(modifier.get("type")))

    return count_unknown(each())


def count_unknown(extras: Iterable[Mapping[str, Mapping[str, Any]]]) -> dict[str, dict[str, int]]:
    """`unknown_keys` from extras already found (one per modifier or value that has any, as
    `ModifierFrames.extras` keeps them), so an export walks its payloads once."""
    counts: dict[str, dict[str, int]] = {}
    for parts in extras:
        for part, keys in parts.items():
            per_part = counts.setdefault(part, {})
            for name in _names(part, keys):
                per_part[name] = per_part.get(name, 0) + 1
    return {part: dict(sorted(counts[part].items())) for part in PARTS if part in counts}


def describe_unknown(counts: Mapping[str, Mapping[str, int]]) -> str | None:
    """One sentence naming every unknown key and how many rows carry it; None when there are none."""
    rows = {"modifier": "modifier", "config": "modifier"}
    named = [
        f"{part}.{key} ({n} {rows.get(part, 'value')}{'' if n == 1 else 's'})"
        for part in PARTS for key, n in counts.get(part, {}).items()
    ]
    if not named:
        return None
    return ("the store returned fields the workbook has no column for; they are not in this file: "
            + ", ".join(named))


ROOT_PARTS: Final = ("modifier", "value")  # parts whose keys sit at the top level of the payload


def _deep_merge(body: Mapping[str, Any], extra: Mapping[str, Any]) -> dict[str, Any]:
    out = dict(body)
    for key, item in extra.items():
        mine = out.get(key)
        if isinstance(item, Mapping) and isinstance(mine, Mapping):
            out[key] = _deep_merge(mine, item)
        elif key not in out or (mine is None and isinstance(item, Mapping)):
            out[key] = dict(item) if isinstance(item, Mapping) else item
    return out


def merge_extras(body: Mapping[str, Any], extras: Mapping[str, Mapping[str, Any]]) -> dict[str, Any]:
    """A write body with the parts from `modifier_extras`/`value_extras` put back; the body's own keys win.

    "modifier"/"value" keys go to the top level, other parts into `body[part]`, merged key by key
    (so an unknown config key joins the body's config instead of replacing it). A part the body
    holds as None (e.g. `value_data: None`) becomes the extras' keys: they were in the store.
    """
    out = dict(body)
    for part, keys in extras.items():
        out = _deep_merge(out, keys if part in ROOT_PARTS else {part: keys})
    return out
