"""Errata to BigCommerce's official OpenAPI specs: the one place where the sandbox departs from them.

The specs contradict themselves in places (a schema against its own examples, one copy of a
schema against another), say some rules only in prose, and leave out what every endpoint can
answer. Each entry below names the spec file, the lines it is about, a piece of text found on
those lines (a test checks it, so a citation cannot drift), why, and a patch applied to the
loaded spec before it is compiled. Nothing is relaxed anywhere else: a rule absent from this
table is enforced as the spec states it. Entries that only add rules (said in prose or examples,
missing from the schema) are marked `stricter`; the others accept something the schema as
written refuses, each for the reason given.

`apply_errata` returns how many places each patch changed; zero means the spec moved on and the
entry is stale (the loader logs it and the tests fail on it).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from pipeline.sandbox.specs import MODIFIERS_SPEC, PRODUCTS_SPEC, SERVED_OPERATIONS, Spec

# ISO-8601 ATOM as PHP writes it (Y-m-d\TH:i:sP): `2027-04-01T00:00:00+00:00`, no `Z`, no fraction.
ATOM_PATTERN = r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}[+-]\d{2}:\d{2}$"
ATOM_EXAMPLE = "2027-04-01T00:00:00+00:00"
FIELD_SELECTION_FLAG = "x-bcmod-partial-when-fields-selected"
ERROR_SCHEMA: Spec = {
    "type": "object",
    "required": ["status", "title", "type"],
    "properties": {
        "status": {"type": "integer"},
        "title": {"type": "string"},
        "type": {"type": "string"},
        "instance": {"type": "string"},
        "errors": {"type": "object", "additionalProperties": True},
    },
}


@dataclass(frozen=True)
class Erratum:
    """One departure from a spec file, with its evidence and the patch that makes it."""

    key: str
    spec: str
    lines: tuple[int, int]  # first and last line (1-based) of the spec text the entry is about
    evidence: str  # text found on those lines
    reason: str
    patch: Callable[[Spec], int]  # edits the loaded spec in place; returns the places changed
    stricter: bool = False  # True: the entry only adds rules (the schema as written accepts more)


# --- walking the loaded spec -------------------------------------------------------------------


def _nodes(node: Any) -> Iterator[dict[str, Any]]:
    """Every mapping under `node` (refs are not followed)."""
    if isinstance(node, dict):
        yield node
        for child in node.values():
            yield from _nodes(child)
    elif isinstance(node, list):
        for child in node:
            yield from _nodes(child)


def _served(spec: Spec, name: str) -> Iterator[tuple[str, str, dict[str, Any]]]:
    for path, operations in spec["paths"].items():
        for method, operation in operations.items():
            if (name, path, method) in SERVED_OPERATIONS:
                yield path, method, operation


def _json_body(operation: dict[str, Any]) -> dict[str, Any] | None:
    return operation.get("requestBody", {}).get("content", {}).get("application/json")


def _request_body_schemas(spec: Spec, name: str) -> Iterator[dict[str, Any]]:
    """The JSON request body schemas of the served operations, and the components they name."""
    seen: set[str] = set()
    pending = [media["schema"] for _, _, operation in _served(spec, name) if (media := _json_body(operation))]
    while pending:
        schema = pending.pop()
        yield schema
        for node in _nodes(schema):
            ref = node.get("$ref")
            if isinstance(ref, str) and ref.startswith("#/components/schemas/") and ref not in seen:
                seen.add(ref)
                pending.append(spec["components"]["schemas"][ref.rsplit("/", 1)[1]])


def _property_schemas(root: Any, name: str) -> Iterator[dict[str, Any]]:
    """Every schema of a property called `name` under `root`."""
    for node in _nodes(root):
        properties = node.get("properties")
        if isinstance(properties, dict) and isinstance(properties.get(name), dict):
            yield properties[name]


# --- patches -----------------------------------------------------------------------------------


def _created_modifier_under_data(spec: Spec) -> int:
    schema = spec["paths"]["/catalog/products/{product_id}/modifiers"]["post"]["responses"]["200"]["content"][
        "application/json"]["schema"]
    if "items" not in schema["properties"]["data"].get("properties", {}):
        return 0
    schema["properties"]["data"] = {"$ref": "#/components/schemas/productModifier_Full"}
    return 1


def _response_value_data_nullable(spec: Spec) -> int:
    changed = 0
    for _, _, operation in _served(spec, MODIFIERS_SPEC):
        for schema in _property_schemas(operation.get("responses", {}), "value_data"):
            if schema.get("type") == "object" and not schema.get("nullable"):
                schema["nullable"] = True
                changed += 1
    return changed


def _option_set_id_nullable(spec: Spec) -> int:
    schema = spec["components"]["schemas"]["product_Full"]["allOf"][2]["properties"]["option_set_id"]
    if schema.get("nullable"):
        return 0
    schema["nullable"] = True
    return 1


def _config_dates_atom(spec: Spec) -> int:
    changed = 0
    for key in ("date_earliest_value", "date_latest_value"):
        for schema in _property_schemas(spec, key):
            if schema.get("type") == "string" and schema.get("pattern") != ATOM_PATTERN:
                schema["format"] = "date-time"
                schema["pattern"] = ATOM_PATTERN
                changed += 1
    return changed


def _date_default_value_atom(spec: Spec) -> int:
    """Modifier POST/PUT: a `date` modifier's config.default_value must be ATOM (others: any string)."""
    changed = 0
    atom_default = {"properties": {"config": {"properties": {"default_value": {
        "type": "string", "pattern": ATOM_PATTERN}}}}}
    for path, method, operation in _served(spec, MODIFIERS_SPEC):
        media = _json_body(operation)
        if media is None or "/values" in path:
            continue
        media["schema"] = {"allOf": [media["schema"]], "anyOf": [
            {"properties": {"type": {"not": {"enum": ["date"]}}}}, atom_default]}
        changed += 1
    return changed


def _post_modifier_adjuster_enum(spec: Spec) -> int:
    items = spec["components"]["schemas"]["productModifier_Post"]["properties"]["option_values"]["items"]
    adjuster = items["properties"]["adjusters"]["properties"]["price"]["properties"]["adjuster"]
    if "enum" in adjuster or "enum:" not in adjuster.get("description", ""):
        return 0
    adjuster["description"] = adjuster["description"].split("enum:", 1)[0].rstrip()
    adjuster.update({"enum": ["relative", "percentage", None], "nullable": True})
    return 1


def _adjuster_null_allowed(spec: Spec) -> int:
    changed = 0
    for schema in _property_schemas(spec, "adjuster"):
        nullable = schema.get("nullable") or schema.get("x-nullable")
        if nullable and isinstance(schema.get("enum"), list) and None not in schema["enum"]:
            schema["nullable"] = True
            schema["enum"] = [*schema["enum"], None]
            changed += 1
    return changed


def _request_image_url_read_only(spec: Spec) -> int:
    changed = 0
    for body in _request_body_schemas(spec, MODIFIERS_SPEC):
        for adjusters in _property_schemas(body, "adjusters"):
            properties = adjusters.setdefault("properties", {})
            image_url = properties.setdefault("image_url", {"type": "string"})
            if not image_url.get("readOnly"):
                image_url["readOnly"] = True
                changed += 1
    return changed


def _image_file_required(spec: Spec) -> int:
    operation = spec["paths"]["/catalog/products/{product_id}/modifiers/{modifier_id}/values/{value_id}/image"]["post"]
    schema = operation["requestBody"]["content"]["multipart/form-data"]["schema"]
    if "image_file" in schema.get("required", []):
        return 0
    schema["required"] = ["image_file"]
    return 1


def _field_selection_partial(spec: Spec) -> int:
    changed = 0
    for _, method, operation in _served(spec, MODIFIERS_SPEC):
        names = {p.get("$ref", p.get("name", "")).rsplit("/", 1)[-1] for p in operation.get("parameters", [])}
        if method == "get" and names & {"IncludeFieldsParam", "ExcludeFieldsParam"}:
            operation[FIELD_SELECTION_FLAG] = True
            changed += 1
    return changed


def _error_statuses_for(name: str) -> Callable[[Spec], int]:
    def patch(spec: Spec) -> int:
        changed = 0
        for _, _, operation in _served(spec, name):
            responses = operation.setdefault("responses", {})
            if "default" not in responses:
                responses["default"] = {"description": "Any error status (bcmod errata)",
                                        "content": {"application/json": {"schema": ERROR_SCHEMA}}}
                changed += 1
        return changed

    return patch


ERRATA: tuple[Erratum, ...] = (
    Erratum(
        "create-modifier-data", MODIFIERS_SPEC, (262, 267), "items:",
        "POST modifier 200: the schema nests the modifier in `data.items`, its own example (lines 271-274) and "
        "BigCommerce answer it directly under `data`; `data` is checked as productModifier_Full so the check is "
        "not vacuous (`items` is optional, so the schema as written accepts any `data`)",
        _created_modifier_under_data, stricter=True),
    Erratum(
        "response-value-data-null", MODIFIERS_SPEC, (1993, 1998), "nullable: true",
        "value_data is nullable in productModifierOptionValue_Base (here) and null in the POST modifier example "
        "(line 285) for types without value data, but the copies inlined in the POST/PUT value and PUT modifier "
        "responses (e.g. lines 1226-1229) drop `nullable`; responses only: request bodies keep value_data an object",
        _response_value_data_nullable),
    Erratum(
        "product-option-set-id-null", PRODUCTS_SPEC, (6608, 6610), "option_set_id:",
        "product_Full.option_set_id is a non-nullable integer, but a product outside a legacy (V2) option set "
        "has none: BigCommerce answers `option_set_id: null`",
        _option_set_id_nullable),
    Erratum(
        "modifier-config-dates-atom", MODIFIERS_SPEC, (209, 211), "ISO-8601 ATOM",
        "date_earliest_value/date_latest_value are typed plain strings, but the operation text (here, and lines "
        "46-50, 493-498) requires ISO-8601 ATOM (`2027-04-01T00:00:00+00:00`); the check requires that form",
        _config_dates_atom, stricter=True),
    Erratum(
        "date-default-value-atom", MODIFIERS_SPEC, (46, 46), "Default ISO-8601 ATOM date string",
        "config.default_value is a plain string shared by text types, but for a `date` modifier the configs table "
        "(here) and line 211 require ISO-8601 ATOM; modifier POST/PUT bodies of type date must send it so",
        _date_default_value_atom, stricter=True),
    Erratum(
        "product-config-dates-atom", PRODUCTS_SPEC, (6330, 6339), "format: date",
        "the products spec types config date_earliest_value/date_latest_value `format: date` (2026-01-01), while "
        "its own examples (lines 972-973) and the modifiers spec are ISO-8601 ATOM datetimes, as BigCommerce "
        "answers; they are checked as ATOM date-times",
        _config_dates_atom),
    Erratum(
        "post-modifier-adjuster-enum", MODIFIERS_SPEC, (1918, 1925), "x-nullable: true",
        "productModifier_Post: the `enum` (relative, percentage) and `x-nullable` of option_values' price "
        "`adjuster` are indented into its description text, so the schema as parsed takes any string; the enum "
        "(with null, as everywhere else) is restored",
        _post_modifier_adjuster_enum, stricter=True),
    Erratum(
        "adjuster-null-clears", MODIFIERS_SPEC, (2021, 2028), "nullable: true",
        "`adjuster` is `nullable: true` (`x-nullable` in the inlined copies, e.g. line 625) with an enum of "
        "relative/percentage; an OAS 3.0 validator applies the enum after `nullable` and would refuse the null "
        "the spec means to allow (`adjuster: null` clears an adjuster), so null is added to the enum",
        _adjuster_null_allowed),
    Erratum(
        "request-image-url-read-only", MODIFIERS_SPEC, (1714, 1715), "Form posts are the only accepted upload option",
        "adjusters.image_url is a writable string in the request schemas, but BigCommerce documents it as "
        "read-only on create (in its docs, not in this spec: see BRIEF.md section 2 and issue 10): a value's "
        "image is uploaded with POST .../values/{value_id}/image (here); every request body's "
        "`adjusters.image_url` is refused as read-only",
        _request_image_url_read_only, stricter=True),
    Erratum(
        "image-file-required", MODIFIERS_SPEC, (1714, 1715), "image_file:",
        "the multipart schema of the value image upload lists `image_file` without `required`, while its "
        "description (here) makes it the one required field",
        _image_file_required, stricter=True),
    Erratum(
        "field-selection-partial", MODIFIERS_SPEC, (2320, 2323), "The ID and the specified fields will be returned",
        "with include_fields/exclude_fields only the ID and the named fields come back (here), so a response "
        "may lack fields its schema lists as `required` (a modifier's type/required, a value's label/sort_order); "
        "`required` is not checked in the responses of such requests, every other rule is",
        _field_selection_partial),
    Erratum(
        "modifiers-error-statuses", MODIFIERS_SPEC, (395, 396), "'404':",
        "404 is declared on two operations only, and 400/401/429/5xx on none, yet BigCommerce answers them on "
        "every endpoint (docs: start/about/status-codes) with {status, title, type[, errors]}; undeclared "
        "statuses are checked against that error shape",
        _error_statuses_for(MODIFIERS_SPEC)),
    Erratum(
        "products-error-statuses", PRODUCTS_SPEC, (121, 122), "responses:",
        "GET products declares 200 only, GET product 200 and 404, yet BigCommerce answers 401/422/429/5xx on "
        "every endpoint (docs: start/about/status-codes) with {status, title, type[, errors]}; undeclared "
        "statuses are checked against that error shape",
        _error_statuses_for(PRODUCTS_SPEC)),
)


def errata_for(spec_name: str) -> list[Erratum]:
    return [erratum for erratum in ERRATA if erratum.spec == spec_name]


def apply_errata(spec_name: str, spec: Spec, skip: frozenset[str] = frozenset()) -> dict[str, int]:
    """Patch `spec` (a copy: it is changed in place); returns places changed per entry key."""
    return {erratum.key: erratum.patch(spec) for erratum in errata_for(spec_name) if erratum.key not in skip}
