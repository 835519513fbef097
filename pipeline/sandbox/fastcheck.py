"""A fast yes/no on bodies: the compiled OpenAPI schemas, translated for jsonschema-rs.

Checking a page of ten products with their modifiers walks ~1,800 subschemas in `jsonschema`
(~10 ms); jsonschema-rs answers the same question in ~0.05 ms. It only says *whether* a body
conforms: when it says no, the `jsonschema` walk runs and writes the messages, so every
verdict that reports a violation comes from the reference validator.

The translation keeps OpenAPI 3.0's meaning, so a yes here is a yes there:
- `nullable: true` adds "null" to `type` (an `enum` still needs null listed, as in OAS 3.0);
- a `writeOnly` property may not appear in a response, a `readOnly` one not in a request, and
  neither is `required` where it may not appear;
- formats are checked by the very functions of `openapi.FORMATS` (strings: `date-time`, `date`,
  `byte`, `regex`) or by the bounds they stand for (`int32`, `int64`); formats the reference
  validator does not check are not checked here either;
- `ignore_required` drops `required`, as the partial read validator does (errata).
jsonschema-rs is a test-time dependency: without it `fast_validator` returns None and every
response takes the reference walk.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

try:  # pragma: no cover - depends on the environment
    import jsonschema_rs
except ImportError:  # pragma: no cover
    jsonschema_rs = None

Spec = dict[str, Any]
INT_BOUNDS = {"int32": (-(2**31), 2**31 - 1), "int64": (-(2**63), 2**63 - 1)}
SCHEMA_LISTS = ("allOf", "anyOf", "oneOf")
SCHEMA_VALUES = ("items", "not", "additionalProperties")


def _custom_name(name: str) -> str:
    return f"bcmod-{name}"


def _translate(schema: Any, formats: dict[str, Callable[[Any], bool]], ignore_required: bool, absent: str,
               memo: dict[int, Any]) -> Any:
    """`absent`: the flag of properties that may not appear (`writeOnly` in responses, `readOnly` in requests)."""
    if not isinstance(schema, dict):
        return schema
    if id(schema) in memo:
        return memo[id(schema)]
    out: Spec = {}
    memo[id(schema)] = out
    forbidden = set()
    for key, value in schema.items():
        if key == "properties":
            out[key] = {}
            for name, sub in value.items():
                if isinstance(sub, dict) and sub.get(absent):
                    forbidden.add(name)
                    out[key][name] = {"not": {}}
                else:
                    out[key][name] = _translate(sub, formats, ignore_required, absent, memo)
        elif key in SCHEMA_LISTS:
            out[key] = [_translate(sub, formats, ignore_required, absent, memo) for sub in value]
        elif key in SCHEMA_VALUES:
            if isinstance(value, dict):
                out[key] = _translate(value, formats, ignore_required, absent, memo)
            elif isinstance(value, bool):
                out[key] = value
        elif key == "format":
            if value in INT_BOUNDS:
                low, high = INT_BOUNDS[value]
                out["minimum"] = max(low, schema.get("minimum", low))
                out["maximum"] = min(high, schema.get("maximum", high))
            elif value in formats:
                out[key] = _custom_name(value)
        elif key == "required":
            if not ignore_required:
                out[key] = value
        elif key in ("type", "enum", "pattern", "minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum",
                     "minLength", "maxLength", "minItems", "maxItems", "uniqueItems", "minProperties",
                     "maxProperties", "multipleOf"):
            out.setdefault(key, value)
    if schema.get("nullable") is True and isinstance(out.get("type"), str):
        out["type"] = [out["type"], "null"]
    if forbidden and "required" in out:
        out["required"] = [name for name in out["required"] if name not in forbidden]
    return out


def fast_validator(schema: Spec, string_formats: dict[str, Callable[[Any], bool]], *, request: bool,
                   ignore_required: bool = False) -> Callable[[Any], bool] | None:
    """`is_valid(instance)` for a request (`request=True`) or response schema; None without jsonschema-rs.

    `string_formats`: the reference validator's format functions for string formats.
    """
    if jsonschema_rs is None:
        return None
    translated = _translate(schema, string_formats, ignore_required, "readOnly" if request else "writeOnly", {})
    checks = {_custom_name(name): check for name, check in string_formats.items()}
    validator = jsonschema_rs.Draft4Validator(translated, formats=checks, validate_formats=True)
    return validator.is_valid  # type: ignore[no-any-return]
