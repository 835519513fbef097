"""A small hand-written catalog, its sheets as an export gives them, and ways to edit either side."""

from __future__ import annotations

import copy
from typing import Any

import pandas as pd

from pipeline.normalise import ModifierFrames, products_to_frames
from pipeline.plan.diff import build_plan
from pipeline.plan.operations import OpKind, Plan
from pipeline.workbook.meta import ExportMeta
from pipeline.workbook.split import frames_to_sheets

Json = dict[str, Any]
WORKBOOK = "edited.xlsx"


def adjusters(price: tuple[str, float] | None = None, image_url: str = "") -> Json:
    return {"price": {"adjuster": price[0], "adjuster_value": price[1]} if price else {}, "weight": {},
            "image_url": image_url, "purchasing_disabled": {"status": False, "message": ""}}


def value(value_id: int, modifier_id: int, label: str, sort_order: int, *, default: bool = False,
          data: Json | None = None, price: tuple[str, float] | None = None, image_url: str = "") -> Json:
    return {"id": value_id, "option_id": modifier_id, "label": label, "sort_order": sort_order,
            "is_default": default, "value_data": data, "adjusters": adjusters(price, image_url)}


def modifier(modifier_id: int, product_id: int, name: str, type_name: str, sort_order: int, *,
             config: Json | None = None, values: list[Json] | None = None, required: bool = False) -> Json:
    return {"id": modifier_id, "product_id": product_id, "name": f"{name}-{modifier_id}", "display_name": name,
            "type": type_name, "required": required, "sort_order": sort_order, "config": config or {},
            "option_values": values or []}


def catalog() -> list[Json]:
    """Two products; product 1: dropdown, checkbox, text, swatch; product 2: product list, number,
    date, file, multi-line text. Product 3 has one radio_buttons modifier."""
    return [
        {"id": 1, "sku": "A-1", "name": "Alpha", "modifiers": [
            modifier(10, 1, "Size", "dropdown", 0, required=True, values=[
                value(100, 10, "Small", 0, default=True), value(101, 10, "Medium", 1),
                value(102, 10, "Large", 2, price=("relative", 2.5))]),
            modifier(11, 1, "Gift wrap", "checkbox", 1, config={"checked_by_default": False,
                                                                "checkbox_label": "Wrap it"}, values=[
                value(110, 11, "Yes", 0, data={"checked_value": True}),
                value(111, 11, "No", 1, default=True, data={"checked_value": False})]),
            modifier(12, 1, "Engraving", "text", 2, config={"default_value": "Hi", "text_characters_limited": True,
                                                             "text_min_length": 1, "text_max_length": 20}),
            modifier(13, 1, "Colour", "swatch", 3, values=[
                value(130, 13, "Red", 0, data={"colors": ["#ff0000"]}, image_url="https://cdn.test/red.png"),
                value(131, 13, "Blue", 1, data={"colors": ["#0000ff", "#000080"]})]),
        ]},
        {"id": 2, "sku": "B-2", "name": "Beta", "modifiers": [
            modifier(20, 2, "Add-on", "product_list", 0, config={
                "product_list_adjusts_inventory": True, "product_list_adjusts_pricing": False,
                "product_list_shipping_calc": "none"}, values=[
                value(200, 20, "Alpha", 0, data={"product_id": 1})]),
            modifier(21, 2, "Pack", "numbers_only_text", 1, config={
                "default_value": "2", "number_limited": True, "number_limit_mode": "range",
                "number_lowest_value": 1.5, "number_highest_value": 99.25, "number_integers_only": False}),
            modifier(22, 2, "Delivery", "date", 2, config={
                "default_value": "2026-01-01T00:00:00+00:00", "date_limited": False}),
            modifier(23, 2, "Artwork", "file", 3, config={
                "file_types_mode": "specific", "file_types_supported": ["images", "documents"],
                "file_types_other": [], "file_max_size": 1024}),
            modifier(24, 2, "Message", "multi_line_text", 4, config={
                "text_characters_limited": False, "text_lines_limited": True, "text_max_lines": 3}),
        ]},
        {"id": 3, "sku": "C-3", "name": "Gamma", "modifiers": [
            modifier(30, 3, "Finish", "radio_buttons", 0, values=[
                value(300, 30, "Matte", 0), value(301, 30, "Gloss", 1, default=True)]),
        ]},
    ]


class Scenario:
    """An export of `catalog()`: `sheets` (what the person edits), `meta` (export fingerprints) and
    `products` (the store, which tests may change after the export)."""

    def __init__(self, products: list[Json] | None = None) -> None:
        self.products = products if products is not None else catalog()
        exported = frames_to_sheets(products_to_frames(self.products))
        self.meta = ExportMeta("store", "https://api.test/stores/store/v3").with_fingerprints(exported)
        self.sheets = {name: sheet.set_axis(pd.RangeIndex(2, len(sheet) + 2, name="row"))
                       for name, sheet in exported.items()}
        self.products = copy.deepcopy(self.products)

    # --- the person's edits --------------------------------------------------------------------

    def row(self, sheet: str, **equal: Any) -> int:
        frame = self.sheets[sheet]
        mask = pd.Series(True, index=frame.index)
        for column, item in equal.items():
            mask &= frame[column].eq(item).fillna(False).astype(bool)
        rows = frame.index[mask].tolist()
        assert len(rows) == 1, f"{len(rows)} rows with {equal} on {sheet}"
        return rows[0]

    def edit(self, sheet: str, where: dict[str, Any], **cells: Any) -> int:
        row = self.row(sheet, **where)
        for column, item in cells.items():
            self.sheets[sheet].loc[row, column] = pd.NA if item is None else item
        return row

    def append(self, sheet: str, **cells: Any) -> int:
        frame = self.sheets[sheet]
        row = int(frame.index.max()) + 1 if len(frame) else 2
        extra = pd.DataFrame([cells], columns=frame.columns, index=pd.RangeIndex(row, row + 1, name="row"))
        self.sheets[sheet] = pd.concat([frame, extra.astype(frame.dtypes.to_dict())])
        return row

    def drop(self, sheet: str, **equal: Any) -> int:
        row = self.row(sheet, **equal)
        self.sheets[sheet] = self.sheets[sheet].drop(index=row)
        return row

    # --- the store's edits ---------------------------------------------------------------------

    def store_modifier(self, modifier_id: int) -> Json:
        return next(m for p in self.products for m in p["modifiers"] if m["id"] == modifier_id)

    def store_value(self, value_id: int) -> Json:
        return next(v for p in self.products for m in p["modifiers"] for v in m["option_values"]
                    if v["id"] == value_id)

    def remove_modifier(self, modifier_id: int) -> None:
        for product in self.products:
            product["modifiers"] = [m for m in product["modifiers"] if m["id"] != modifier_id]

    def remove_value(self, value_id: int) -> None:
        for product in self.products:
            for item in product["modifiers"]:
                item["option_values"] = [v for v in item["option_values"] if v["id"] != value_id]

    # --- planning ------------------------------------------------------------------------------

    @property
    def current(self) -> ModifierFrames:
        return products_to_frames(self.products)

    def plan(self, **options: Any) -> Plan:
        return build_plan(self.sheets, self.meta, self.current, workbook=WORKBOOK, **options)


def kinds(plan: Plan) -> list[OpKind]:
    return [op.kind for op in plan.operations]


def only(plan: Plan, kind: OpKind | None = None):
    """The plan's single operation (of `kind`)."""
    ops = [op for op in plan.operations if kind is None or op.kind is kind]
    assert len(ops) == 1, [(op.kind, op.op_id) for op in plan.operations]
    return ops[0]


def total_rows(sheets: dict[str, pd.DataFrame]) -> int:
    return sum(len(sheet) for sheet in sheets.values())
