"""BigCommerce's OpenAPI specs compiled into request and response checks, once per process.

`load_contract(dir)` reads the catalog specs, applies the errata (`errata.py`), resolves every
`$ref` and builds one validator per parameter, request body and response of each served
operation, so checking a request costs a route match and a schema walk, not a spec lookup.
Request schemas are checked as written by a client (`readOnly` refused, `required` ignoring
read-only fields), response schemas as read (`writeOnly` refused), both with OpenAPI 3.0's
`nullable` and a format checker that knows `date-time`, `date`, `int32` and `int64`.

Vendor extensions (`x-required`, `x-nullable`) are not keywords and are not enforced, except
where an erratum gives them their meaning. Array items found valid are remembered (by schema and
a hash of their JSON), so re-reading the same catalog costs a hash, not a schema walk.

Violations come back as `{location: message}`: body fields by dotted path (`option_values.0.label`,
`config.default_value`, `body` for the whole body), parameters as `query.<name>`, `path.<name>`,
`header.<Name>`.
"""

from __future__ import annotations

import copy
import functools
import hashlib
import json
import logging
import math
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any

from jsonschema import FormatChecker
from jsonschema.exceptions import ValidationError
from jsonschema.validators import extend
from openapi_schema_validator import OAS30ReadValidator, OAS30WriteValidator, oas30_format_checker

from pipeline.sandbox.errata import ATOM_EXAMPLE, ATOM_PATTERN, FIELD_SELECTION_FLAG, apply_errata
from pipeline.sandbox.fastcheck import fast_validator
from pipeline.sandbox.specs import SERVED_OPERATIONS, SPEC_FILES, Spec, load_spec, specs_present

logger = logging.getLogger(__name__)
HTTP_METHODS = ("get", "put", "post", "delete", "patch", "head", "options")
NO_BODY = object()  # the request carried no body
UNREADABLE = object()  # a body the sandbox's own handlers will refuse (e.g. not JSON): no schema check

_RFC3339 = re.compile(r"^\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$")
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_INTEGER = re.compile(r"^[+-]?\d+$")


def _is_date_time(instance: object) -> bool:
    if not isinstance(instance, str):
        return True
    if not _RFC3339.match(instance):
        return False
    try:
        datetime.fromisoformat(instance.upper().replace("Z", "+00:00"))
    except ValueError:
        return False
    return True


def _is_date(instance: object) -> bool:
    if not isinstance(instance, str):
        return True
    if not _DATE.match(instance):
        return False
    try:
        date.fromisoformat(instance)
    except ValueError:
        return False
    return True


FORMATS = FormatChecker()
for _name, _check in oas30_format_checker.checkers.items():
    FORMATS.checkers[_name] = _check
FORMATS.checks("date-time")(_is_date_time)
FORMATS.checks("date")(_is_date)


def _string_format(name: str) -> Callable[[Any], bool]:
    return lambda instance: FORMATS.conforms(instance, name)


# The formats FORMATS checks on strings, as yes/no functions for the fast response check.
STRING_FORMATS = {name: _string_format(name) for name in ("date-time", "date", "byte", "regex")}


# Array items found valid, by validator class, item schema and a hash of the item's JSON. Tests read
# the same products, modifiers and values again and again (export, validate, plan, re-plan, and
# the same seeded catalogs in many tests); an item already found valid is not walked again. The
# item schema is kept in the value, so its id cannot be reused by another schema while cached.
VALID_ITEMS_KEPT = 50_000
_valid_items: dict[tuple[type, int, bytes], Any] = {}


def _remembering_items(validator: Any, items: Any, instance: Any, schema: Any) -> Any:
    """OpenAPI's `items`, skipping object items already found valid against the same schema."""
    if not validator.is_type(instance, "array"):
        return
    for index, item in enumerate(instance):
        if not isinstance(item, dict):
            yield from validator.descend(item, items, path=index)
            continue
        text = json.dumps(item, separators=(",", ":"), default=repr).encode()
        key = (type(validator), id(items), hashlib.blake2b(text, digest_size=16).digest())
        if _valid_items.get(key) is items:
            continue
        errors = list(validator.descend(item, items, path=index))
        if not errors:
            if len(_valid_items) >= VALID_ITEMS_KEPT:
                try:
                    del _valid_items[next(iter(_valid_items))]  # the oldest
                except (StopIteration, KeyError, RuntimeError):  # another thread got there first
                    pass
            _valid_items[key] = items
        yield from errors


def _ignore_required(validator: Any, required: Any, instance: Any, schema: Any) -> Any:
    yield from ()


_WriteValidator = extend(OAS30WriteValidator, validators={"items": _remembering_items})
_ReadValidator = extend(OAS30ReadValidator, validators={"items": _remembering_items})
# A response to a request with include_fields/exclude_fields holds only some fields (errata).
_PartialReadValidator = extend(_ReadValidator, validators={"required": _ignore_required})


# --- messages ----------------------------------------------------------------------------------


def _shown(value: Any) -> str:
    text = json.dumps(value, ensure_ascii=False, default=repr)
    return text if len(text) <= 80 else text[:77] + "..."


def _leaf_errors(error: ValidationError) -> list[ValidationError]:
    """For anyOf/oneOf, the errors of the branch that got furthest (the deepest paths)."""
    if error.validator not in ("anyOf", "oneOf") or not error.context:
        return [error]
    deepest = max(len(e.absolute_path) for e in error.context)
    return [leaf for e in error.context if len(e.absolute_path) == deepest for leaf in _leaf_errors(e)]


def _message(error: ValidationError) -> tuple[list[Any], str]:
    """(instance path, message) in words a client developer can act on."""
    path, keyword, value, instance = list(error.absolute_path), error.validator, error.validator_value, error.instance
    if keyword == "required":
        missing = re.match(r"^'(.+)' is a required property$", error.message)
        return path + [missing.group(1) if missing else "?"], "is required"
    if keyword == "additionalProperties" and value is False:
        extras = sorted(set(instance) - set(error.schema.get("properties", {})))
        return path + [extras[0] if len(extras) == 1 else "*"], f"unknown field(s): {', '.join(extras)}"
    if keyword in ("type", "enum") and instance is None:
        return path, "must not be null"
    if keyword == "type":
        return path, f"must be of type {value} (got {_shown(instance)})"
    if keyword == "enum":
        allowed = ", ".join("null" if v is None else str(v) for v in value)
        return path, f"must be one of: {allowed} (got {_shown(instance)})"
    if keyword == "readOnly":
        return path, "is read-only and cannot be sent in a request"
    if keyword == "pattern" and value == ATOM_PATTERN:
        return path, f"must be an ISO-8601 ATOM date-time such as {ATOM_EXAMPLE} (got {_shown(instance)})"
    if keyword == "format":
        return path, f"must be a valid {value} (got {_shown(instance)})"
    if keyword == "maximum":
        return path, f"must be at most {value} (got {_shown(instance)})"
    if keyword == "minimum":
        return path, f"must be at least {value} (got {_shown(instance)})"
    return path, error.message


def _collect(errors: Any, prefix: str) -> dict[str, str]:
    """`{location: message}` from validation errors; several messages at one location are joined."""
    found: dict[str, list[str]] = {}
    for error in errors:
        for leaf in _leaf_errors(error):
            path, message = _message(leaf)
            location = ".".join([prefix, *map(str, path)] if prefix else [str(p) for p in path]) or "body"
            if message not in found.setdefault(location, []):
                found[location].append(message)
    return {location: "; ".join(messages) for location, messages in found.items()}


# --- resolving and compiling -------------------------------------------------------------------


def _pointer(root: Spec, ref: str) -> Any:
    if not ref.startswith("#/"):
        raise ValueError(f"only local $refs are supported, got {ref!r}")
    node: Any = root
    for part in ref[2:].split("/"):
        node = node[part.replace("~1", "/").replace("~0", "~")]
    return node


def _resolve(node: Any, root: Spec, memo: dict[str, Any], stack: tuple[str, ...] = ()) -> Any:
    """`node` with every `$ref` replaced by what it names (shared, never mutated afterwards)."""
    if isinstance(node, dict):
        ref = node.get("$ref")
        if isinstance(ref, str):
            if ref in stack:
                raise ValueError(f"recursive $ref {ref!r} is not supported")
            if ref not in memo:
                memo[ref] = _resolve(_pointer(root, ref), root, memo, (*stack, ref))
            return memo[ref]
        return {key: _resolve(value, root, memo, stack) for key, value in node.items()}
    if isinstance(node, list):
        return [_resolve(item, root, memo, stack) for item in node]
    return node


@dataclass(frozen=True)
class Parameter:
    name: str
    location: str  # path, query, header
    required: bool
    schema: Spec
    validator: Any
    conforms: Callable[[Any], bool] | None = None  # the fast yes/no (fastcheck.py), when available

    def coerce(self, raw: str) -> tuple[Any, str | None]:
        """The typed value of a raw path or query string (form style, comma lists), or why not."""
        if self.schema.get("type") == "array":
            items = self.schema.get("items", {})
            values = []
            for part in raw.split(","):
                value, problem = _scalar(part, items)
                if problem:
                    return None, problem
                values.append(value)
            return values, None
        return _scalar(raw, self.schema)


def _scalar(raw: str, schema: Spec) -> tuple[Any, str | None]:
    kind = schema.get("type")
    if kind == "integer":
        return (int(raw), None) if _INTEGER.match(raw) else (None, f"must be an integer (got {_shown(raw)})")
    if kind == "number":
        try:
            number = float(raw)
        except ValueError:
            number = math.nan
        return (number, None) if math.isfinite(number) else (None, f"must be a number (got {_shown(raw)})")
    if kind == "boolean":
        if raw in ("true", "false"):
            return raw == "true", None
        return None, f"must be true or false (got {_shown(raw)})"
    return raw, None


@dataclass
class Operation:
    """One operation of a spec: how to match it and, when the sandbox serves it, how to check it."""

    spec: str
    method: str
    template: str
    operation_id: str
    served: bool
    regex: re.Pattern[str]
    parameters: dict[tuple[str, str], Parameter] = field(default_factory=dict)
    bodies: dict[str, Any] = field(default_factory=dict)  # media type -> write validator
    body_required: bool = False
    responses: dict[str, dict[str, Any]] = field(default_factory=dict)  # status -> media type -> validator
    partial_responses: dict[str, dict[str, Any]] = field(default_factory=dict)
    fast: dict[int, Callable[[Any], bool]] = field(default_factory=dict)  # id(validator) -> yes/no (fastcheck.py)

    def path_values_fit(self, values: Mapping[str, str]) -> bool:
        """Whether every path value has its parameter's type (always True for unserved operations)."""
        for name, raw in values.items():
            parameter = self.parameters.get(("path", name))
            if parameter is not None and parameter.coerce(raw)[1] is not None:
                return False
        return True

    @property
    def specificity(self) -> tuple[int, int]:
        """Literal routes first (`/products/channel-assignments` before `/products/{product_id}`)."""
        return self.template.count("{"), -len(self.template)

    # --- requests

    def check_request(self, path_params: Mapping[str, str], query: Sequence[tuple[str, str]],
                      headers: Mapping[str, str], media_type: str | None, body: Any) -> dict[str, str]:
        """Every violation of the request, `{location: message}`; empty when it conforms.

        `headers` has lower-case names; `body` is the decoded JSON, the multipart fields
        (`{name: bytes | str}`), `NO_BODY` or `UNREADABLE`.
        """
        found: dict[str, str] = {}
        for (location, name), parameter in self.parameters.items():
            if location == "path":
                self._check_value(parameter, path_params.get(name), found)
            elif location == "header":
                if parameter.required and name.lower() not in headers:
                    found[f"header.{name}"] = "is required"
        self._check_query(query, found)
        self._check_body(media_type, body, found)
        return found

    def _check_value(self, parameter: Parameter, raw: str | None, found: dict[str, str]) -> None:
        location = f"{parameter.location}.{parameter.name}"
        if raw is None:
            if parameter.required:
                found[location] = "is required"
            return
        value, problem = parameter.coerce(raw)
        if problem:
            found[location] = problem
            return
        if parameter.conforms is not None and parameter.conforms(value):
            return
        errors = _collect(parameter.validator.iter_errors(value), "")
        if errors:
            found[location] = "; ".join(dict.fromkeys(errors.values()))

    def _check_query(self, query: Sequence[tuple[str, str]], found: dict[str, str]) -> None:
        seen: dict[str, list[str]] = {}
        for name, raw in query:
            seen.setdefault(name, []).append(raw)
        for name, raws in seen.items():
            parameter = self.parameters.get(("query", name))
            if parameter is None:
                found[f"query.{name}"] = f"is not a query parameter of {self.operation_id}"
            elif len(raws) > 1:
                found[f"query.{name}"] = "is given more than once (lists are comma-separated: a,b,c)"
            else:
                self._check_value(parameter, raws[0], found)
        for (location, name), parameter in self.parameters.items():
            if location == "query" and parameter.required and name not in seen:
                found[f"query.{name}"] = "is required"

    def _check_body(self, media_type: str | None, body: Any, found: dict[str, str]) -> None:
        if body is NO_BODY:
            if self.body_required:
                found["body"] = "a request body is required"
            return
        if not self.bodies:
            found["body"] = f"{self.operation_id} takes no request body"
            return
        validator = self.bodies.get(media_type or "")
        if validator is None:
            found["header.Content-Type"] = f"must be one of: {', '.join(self.bodies)} (got {_shown(media_type)})"
            return
        conforms = self.fast.get(id(validator))
        if body is not UNREADABLE and not (conforms is not None and conforms(body)):
            found.update(_collect(validator.iter_errors(body), ""))

    # --- responses

    def check_response(self, status: int, media_type: str | None, payload: bytes,
                       fields_selected: bool = False) -> list[str]:
        """Every way the response breaks the spec, as `"<status> <location>: <message>"` lines."""
        table = self.partial_responses if fields_selected and self.partial_responses else self.responses
        declared = table.get(str(status), table.get("default"))
        if declared is None:
            return [f"{status}: status not documented for {self.operation_id}"]
        if not declared:
            return [f"{status} body: the spec declares no body, {len(payload)} bytes were sent"] if payload else []
        validator = declared.get(media_type or "")
        if validator is None:
            return [f"{status} header.Content-Type: must be one of: {', '.join(declared)} (got {_shown(media_type)})"]
        try:
            data = json.loads(payload)
        except ValueError as exc:
            return [f"{status} body: not JSON ({exc})"]
        conforms = self.fast.get(id(validator))
        if conforms is not None and conforms(data):
            return []
        return [f"{status} {location}: {message}" for location, message in
                _collect(validator.iter_errors(data), "").items()]


def _template_regex(template: str) -> re.Pattern[str]:
    parts = re.split(r"\{([^}]+)\}", template)
    pattern = "".join(re.escape(part) if i % 2 == 0 else f"(?P<{part}>[^/]+)" for i, part in enumerate(parts))
    return re.compile(f"^{pattern}$")


def _merged_parameters(root: Spec, path_item: Spec, operation: Spec) -> list[Spec]:
    """Path-level parameters overridden by operation-level ones of the same name and place."""
    merged: dict[tuple[str, str], Spec] = {}
    for raw in [*path_item.get("parameters", []), *operation.get("parameters", [])]:
        parameter = _pointer(root, raw["$ref"]) if "$ref" in raw else raw
        merged[(parameter["in"], parameter["name"])] = parameter
    return list(merged.values())


def _compile(name: str, resolved: Spec, template: str, method: str, operation: Spec, path_item: Spec,
             raw_root: Spec) -> Operation:
    op = Operation(name, method, template, operation.get("operationId", f"{method} {template}"),
                   (name, template, method) in SERVED_OPERATIONS, _template_regex(template))
    if not op.served:
        return op
    for parameter in _merged_parameters(resolved, path_item, operation):
        schema = parameter.get("schema", {})
        op.parameters[(parameter["in"], parameter["name"])] = Parameter(
            parameter["name"], parameter["in"], bool(parameter.get("required")), schema,
            _WriteValidator(schema, format_checker=FORMATS), fast_validator(schema, STRING_FORMATS, request=True))
    body = operation.get("requestBody")
    if body:
        op.body_required = bool(body.get("required"))
        op.bodies = {media: _WriteValidator(content.get("schema", {}), format_checker=FORMATS)
                     for media, content in body.get("content", {}).items()}
    partial = bool(raw_root["paths"][template][method].get(FIELD_SELECTION_FLAG))
    for status, response in operation.get("responses", {}).items():
        content = response.get("content") or {}
        op.responses[str(status)] = {media: _ReadValidator(c.get("schema", {}), format_checker=FORMATS)
                                     for media, c in content.items()}
        if partial:
            op.partial_responses[str(status)] = {
                media: _PartialReadValidator(c.get("schema", {}), format_checker=FORMATS)
                for media, c in content.items()}
    for table, ignore_required in ((op.responses, False), (op.partial_responses, True)):
        for validators in table.values():
            for validator in validators.values():
                conforms = fast_validator(validator.schema, STRING_FORMATS, request=False,
                                          ignore_required=ignore_required)
                if conforms is not None:
                    op.fast[id(validator)] = conforms
    for media, validator in op.bodies.items():
        conforms = fast_validator(validator.schema, STRING_FORMATS, request=True)
        if conforms is not None and media == "application/json":
            op.fast[id(validator)] = conforms
    return op


class Contract:
    """The compiled operations of the catalog specs; `match` finds the one a request hits."""

    def __init__(self, operations: list[Operation], spec_dir: Path, errata_applied: dict[str, int]) -> None:
        self.spec_dir = spec_dir
        self.errata_applied = errata_applied
        self.operations = operations
        self._by_method: dict[str, list[Operation]] = {}
        for op in sorted(operations, key=lambda o: o.specificity):
            self._by_method.setdefault(op.method, []).append(op)

    def match(self, method: str, path: str) -> tuple[Operation, dict[str, str]] | None:
        """The operation for `method` on `path` (relative to `/stores/{hash}/v3`) and its path values.

        A path value of the wrong type (`/modifiers/abc` where an integer id goes) matches no
        operation, so such a path stays an unknown route (404) rather than an invalid request.
        """
        for op in self._by_method.get(method.lower(), ()):
            found = op.regex.match(path)
            if found and op.path_values_fit(found.groupdict()):
                return op, found.groupdict()
        return None

    def operation(self, method: str, template: str) -> Operation:
        return next(op for op in self.operations if op.method == method and op.template == template)


def compile_contract(spec_dir: Path, skip: frozenset[str] = frozenset()) -> Contract:
    """Load, patch, resolve and compile both catalog specs (~0.2 s; see `load_contract`).

    `skip` leaves errata entries out, for the tests that prove each one is needed.
    """
    operations: list[Operation] = []
    applied: dict[str, int] = {}
    for name in SPEC_FILES:
        raw = copy.deepcopy(load_spec(spec_dir, name))
        counts = apply_errata(name, raw, skip)
        for key, count in counts.items():
            if count == 0:
                logger.warning("spec erratum %r no longer changes %s: the spec moved on, review the entry", key, name)
        applied.update(counts)
        resolved = _resolve({k: v for k, v in raw.items() if k in ("paths", "components")}, raw, {})
        for template, path_item in resolved["paths"].items():
            for method in HTTP_METHODS:
                if isinstance(path_item.get(method), dict):
                    operations.append(_compile(name, resolved, template, method, path_item[method], path_item, raw))
    return Contract(operations, spec_dir, applied)


@functools.cache
def load_contract(spec_dir: Path) -> Contract | None:
    """The compiled contract for the specs in `spec_dir`, once per process; None without the specs."""
    if not specs_present(spec_dir):
        return None
    return compile_contract(spec_dir)
