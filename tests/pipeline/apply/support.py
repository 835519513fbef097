"""Helpers for the apply tests: hand-made plans, fast clients, and the store's state by natural key."""

from __future__ import annotations

from typing import Any

from pipeline.catalog_state import duplicate_keys as duplicates  # noqa: F401 - the apply tests' names for them
from pipeline.catalog_state import state_by_natural_key as state_of  # noqa: F401
from pipeline.client import BigCommerceClient, RateGovernor, RetryPolicy
from pipeline.modifier_types import MODIFIER_TYPES, TYPE_NAMES
from pipeline.plan.operations import OpKind, Operation, Plan, RowRef, op_id
from pipeline.sandbox.store import ProductFilter
from sample_data.generator import FIRST_PRODUCT_ID, png_bytes
from tests.stores import SandboxStore

FAST_RETRY = RetryPolicy(base_s=0.002, cap_s=0.02, max_attempts=8)
PNG = png_bytes(b"\x10\x80\xf0", 4, 4)


def fast_governor() -> RateGovernor:
    return RateGovernor(backoff_base_s=0.005, backoff_cap_s=0.05)


def client_for(store: SandboxStore, **kwargs: Any) -> BigCommerceClient:
    kwargs.setdefault("retry", FAST_RETRY)
    kwargs.setdefault("governor", fast_governor())
    return BigCommerceClient(store.settings, transport=store.transport(), **kwargs)


# -- reading the store ------------------------------------------------------------------------------


def products_of(store: SandboxStore) -> list[dict[str, Any]]:
    """Every product with its modifiers, read straight from the sandbox's database (no request)."""
    db = store.app.state.sandbox.store
    products, _ = db.list_products(ProductFilter(), 0, 1_000_000)
    modifiers = db.modifiers_by_product([p["id"] for p in products])
    return [{**p, "modifiers": modifiers[p["id"]]} for p in products]


async def products_over_http(client: BigCommerceClient) -> list[dict[str, Any]]:
    return await client.get_all("/catalog/products", {"include": "modifiers"})


def modifier_named(products: list[dict[str, Any]], product_id: int, display_name: str) -> dict[str, Any]:
    product = next(p for p in products if p["id"] == product_id)
    matches = [m for m in product["modifiers"] if m["display_name"] == display_name]
    assert len(matches) == 1, f"{len(matches)} modifiers named {display_name!r} on product {product_id}"
    return matches[0]


def first_of_type(products: list[dict[str, Any]], type_name: str, *, skip: int = 0) -> tuple[int, dict]:
    """(product id, modifier) of the `skip`-th modifier of a type in the catalog."""
    seen = 0
    for product in products:
        for modifier in product["modifiers"]:
            if modifier["type"] == type_name:
                if seen == skip:
                    return product["id"], modifier
                seen += 1
    raise LookupError(type_name)


# -- hand-made plans --------------------------------------------------------------------------------


def make_op(kind: OpKind, product_id: int, display_name: str, modifier_type: str, **fields: Any) -> Operation:
    return Operation(op_id(kind, product_id, display_name, fields.get("label")), kind, product_id, display_name,
                     modifier_type, **fields)


def plan_of(operations: list[Operation], workbook: str = "", store_hash: str = "sandbox") -> Plan:
    return Plan(store_hash=store_hash, api_url="http://sandbox.test/stores/sandbox/v3", workbook=workbook,
                created_at="2026-01-01T00:00:00+00:00", operations=operations,
                product_ids=sorted({op.product_id for op in operations}))


def value_body(type_name: str, label: str, sort_order: int = 0, **extra: Any) -> dict[str, Any]:
    """A valid new option value of a type."""
    body: dict[str, Any] = {"label": label, "sort_order": sort_order}
    if type_name != "swatch":  # no is_default on a swatch: the spec says swatches do not support it
        body["is_default"] = False
    if type_name == "swatch":
        body["value_data"] = {"colors": ["#123456"]}
    elif type_name.startswith("product_list"):
        body["value_data"] = {"product_id": FIRST_PRODUCT_ID}
    body["adjusters"] = {"price": {"adjuster": "relative", "adjuster_value": 1.5}}
    return {**body, **extra}


def modifier_body(type_name: str, display_name: str, labels: tuple[str, ...] = ()) -> dict[str, Any]:
    """A valid new modifier of a type, with inline values for the types that have them."""
    config: dict[str, Any] = {}
    if type_name == "date":
        config = {"default_value": "2027-05-01T00:00:00+00:00"}
    elif type_name in ("text", "multi_line_text"):
        config = {"text_characters_limited": True, "text_min_length": 1, "text_max_length": 40}
    elif type_name == "file":
        config = {"file_types_mode": "specific", "file_types_supported": ["images"], "file_max_size": 2048}
    elif type_name == "checkbox":
        config = {"checkbox_label": "Tick me", "checked_by_default": False}
    body: dict[str, Any] = {"display_name": display_name, "type": type_name, "required": False, "sort_order": 9,
                            "config": config}
    spec = MODIFIER_TYPES[type_name]
    if spec.has_values and not spec.generated_values:
        body["option_values"] = [value_body(type_name, label, i) for i, label in enumerate(labels)]
    return body


def modifier_update(modifier: dict[str, Any], **changes: Any) -> dict[str, Any]:
    """A complete modifier PUT body (the spec requires type and required) from the store's modifier."""
    body = {key: modifier[key] for key in ("type", "required", "display_name", "sort_order")}
    if MODIFIER_TYPES[modifier["type"]].config_fields:
        body["config"] = modifier["config"]
    return {**body, **changes}


def new_modifier_ops(product_id: int, type_name: str, display_name: str, sheet_row: int,
                     labels: tuple[str, ...] = ("Alpha", "Beta"), image_label: str | None = None,
                     image: str = "images/swatch.png") -> list[Operation]:
    """The ops that create a modifier: one create (values inline), or a checkbox's create + Yes/No updates."""
    spec = MODIFIER_TYPES[type_name]
    labels = labels if spec.has_values and not spec.generated_values else ()
    sheet = "New"
    create = make_op(OpKind.CREATE_MODIFIER, product_id, display_name, type_name,
                     payload=modifier_body(type_name, display_name, labels), source=RowRef(sheet, sheet_row),
                     value_rows={label: RowRef(sheet + " values", sheet_row * 10 + i) for i, label in enumerate(labels)})
    ops = [create]
    if spec.generated_values:
        for i, (label, price) in enumerate((("Yes", 4.0), ("No", 0.0))):
            ops.append(make_op(OpKind.UPDATE_VALUE, product_id, display_name, type_name, label=label,
                               payload={"label": label, "sort_order": i,
                                        "adjusters": {"price": {"adjuster": "relative", "adjuster_value": price}}},
                               depends_on=create.op_id, source=RowRef(sheet + " values", sheet_row * 10 + i)))
    if image_label is not None and image_label in labels:
        ops.append(make_op(OpKind.UPLOAD_IMAGE, product_id, display_name, type_name, label=image_label,
                           image=image, depends_on=create.op_id, source=create.value_rows[image_label]))
    return ops


def mixed_plan(products: list[dict[str, Any]], *, n_products: int, image: str | None = "images/swatch.png") -> Plan:
    """A deterministic plan touching every operation kind over the first `n_products` products.

    Per product: each modifier updated (or, on every third product, its last modifier deleted), and
    for value-carrying modifiers its first value updated, its last value deleted and a value
    created; plus one new modifier per product (types in turn; checkbox in two steps; an image
    upload for a new value now and then).
    """
    ops: list[Operation] = []
    row = 2
    for index, product in enumerate(products[:n_products]):
        pid = product["id"]
        modifiers = product["modifiers"]
        for position, modifier in enumerate(modifiers):
            mtype, name, mid = modifier["type"], modifier["display_name"], modifier["id"]
            row += 1
            if index % 3 == 0 and position == len(modifiers) - 1 and position > 0:
                ops.append(make_op(OpKind.DELETE_MODIFIER, pid, name, mtype, modifier_id=mid, source=RowRef("M", row)))
                continue
            ops.append(make_op(OpKind.UPDATE_MODIFIER, pid, name, mtype, modifier_id=mid,
                               payload=modifier_update(modifier, sort_order=modifier["sort_order"] + 10,
                                                       required=not modifier["required"]),
                               source=RowRef("M", row)))
            values = modifier["option_values"]
            spec = MODIFIER_TYPES[mtype]
            if not values:
                continue
            first, last = values[0], values[-1]
            ops.append(make_op(OpKind.UPDATE_VALUE, pid, name, mtype, modifier_id=mid, value_id=first["id"],
                               label=first["label"], source=RowRef("V", row),
                               payload={"label": first["label"], "sort_order": first["sort_order"] + 100,
                                        "adjusters": {"price": {"adjuster": "percentage", "adjuster_value": 7}}}))
            if spec.generated_values or len(values) < 3:
                continue
            ops.append(make_op(OpKind.DELETE_VALUE, pid, name, mtype, modifier_id=mid, value_id=last["id"],
                               label=last["label"], source=RowRef("V", row + 1000)))
            label = f"Added {pid}-{position}"
            ops.append(make_op(OpKind.CREATE_VALUE, pid, name, mtype, modifier_id=mid, label=label,
                               payload=value_body(mtype, label, 50), source=RowRef("V", row + 2000)))
        type_name = TYPE_NAMES[index % len(TYPE_NAMES)]
        row += 1
        ops += new_modifier_ops(pid, type_name, f"Brand new {type_name}", row, labels=("One", "Two", "Three"),
                                image_label="Two" if image and index % 2 == 0 else None, image=image or "")
    return plan_of(ops)
