"""plan_workbook end to end: a sandbox export, edited with openpyxl, planned (reads only), applied, re-planned."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console

from pipeline.modifier_types import MODIFIER_TYPES, TYPE_NAMES
from pipeline.plan.build import PlanRefused, store_hash_of_url
from pipeline.plan.diff import ALREADY_DELETED, CHANGED_CONFLICT, KEPT_REASON
from pipeline.plan.operations import OpKind, Plan, RowRef
from pipeline.plan.render import render_plan, summary_line
from pipeline.workbook.layout import sheet_for
from tests.pipeline.plan.workbooks import (
    PRODUCTS,
    Exported,
    append,
    edit_xlsx,
    export,
    get,
    put,
    row_where,
    rows_where,
    write_png,
)


@pytest.fixture
def exported(tmp_path: Path) -> Exported:
    return export(tmp_path)


def assert_converged(exported: Exported, plan: Plan, path: Path) -> None:
    """Apply `plan`; then the same workbook and a fresh export both plan no operation."""
    exported.apply(plan)
    again, _ = exported.plan(path)
    assert again.operations == [] and again.conflicts == []
    assert all("was not uploaded" in s.reason or s.reason == ALREADY_DELETED for s in again.skipped), again.skipped
    fresh, outcome = exported.plan(exported.export_again())
    assert fresh.operations == [] and fresh.conflicts == [] and fresh.skipped == []
    assert fresh.unchanged == outcome.rows


def row_of(ws: Any, **equal: Any) -> dict[str, Any]:
    row = row_where(ws, **equal)
    return {c.value: ws.cell(row, c.column).value for c in ws[1]} | {"_row": row}


def test_untouched_export_plans_nothing_with_reads_only(exported: Exported) -> None:
    before = exported.requests()
    plan, outcome = exported.plan()
    after = exported.requests()
    assert plan.operations == [] and plan.conflicts == [] and plan.skipped == [] and plan.blanked == []
    assert plan.unchanged == outcome.rows > 100
    assert plan.product_ids == list(range(101, 101 + PRODUCTS)) and plan.store_hash == "sandbox"
    assert after["GET"] - before["GET"] == math.ceil(PRODUCTS / 10) == outcome.requests
    assert exported.plan(prune=True, known_product_ids=set(plan.product_ids))[0].operations == []


def test_the_plan_reports_each_page_of_the_store_it_reads(exported: Exported) -> None:
    heard: list[tuple[int, int]] = []
    _, outcome = exported.plan(progress=lambda done, total: heard.append((done, total)))
    pages = math.ceil(PRODUCTS / 10)
    assert heard[-1] == (pages, pages) == (outcome.requests, outcome.requests)
    assert sorted(done for done, _ in heard if done) == list(range(1, pages + 1))


def test_untouched_csv_export_plans_nothing(tmp_path: Path) -> None:
    exported = export(tmp_path, products=12, csv=True)
    plan, outcome = exported.plan()
    assert plan.operations == [] and plan.unchanged == outcome.rows


def test_every_kind_of_operation(exported: Exported) -> None:
    folder = exported.path.parent
    write_png(folder, "images/plating.png")
    write_png(folder, "images/rect.png", b"\xff\x00\x00")
    picked: dict[str, Any] = {}

    def edit(wb: Any) -> None:
        text = wb["Text modifiers"]
        picked["text"] = row_of(text, type="text")
        put(text, picked["text"]["_row"], text_max_length=picked["text"]["text_max_length"] + 10)
        choice = wb["Choice values"]
        picked["dropdown"] = row_of(choice, type="dropdown")
        put(choice, picked["dropdown"]["_row"], label="Renamed", price_adjuster="relative",
            price_adjuster_value=7.25)
        picked["rect"] = row_of(choice, type="rectangles")
        put(choice, picked["rect"]["_row"], image_url="images/rect.png")
        swatch = wb["Swatch values"]
        picked["swatch"] = row_of(swatch, type="swatch")
        put(swatch, picked["swatch"]["_row"], action="delete")
        mods = wb["Choice modifiers"]
        picked["radio"] = row_of(mods, type="radio_buttons")
        put(mods, picked["radio"]["_row"], action="delete")
        for row in rows_where(choice, modifier_id=picked["radio"]["modifier_id"]):
            put(choice, row, action="delete")
        product = picked["text"]["product_id"]
        append(mods, product_id=product, display_name="Plating", type="dropdown", required=False, sort_order=9)
        for n, label in enumerate(("Chrome", "Brass")):
            append(choice, product_id=product, display_name="Plating", type="dropdown", label=label, sort_order=n,
                   is_default=n == 0, image_url="images/plating.png" if n else None)
        boxes, box_values = wb["Checkbox modifiers"], wb["Checkbox values"]
        append(boxes, product_id=product, display_name="Insurance", type="checkbox", required=False,
               checked_by_default=False, checkbox_label="Insure")
        append(box_values, product_id=product, display_name="Insurance", type="checkbox", label="Yes", sort_order=0,
               is_default=False, checked_value=True, weight_adjuster="relative", weight_adjuster_value=0.5)
        append(box_values, product_id=product, display_name="Insurance", type="checkbox", label="No", sort_order=1,
               is_default=True, checked_value=False)
        lists = wb["Product list values"]
        picked["list"] = row_of(lists, type="product_list")
        append(lists, product_id=picked["list"]["product_id"], modifier_id=picked["list"]["modifier_id"],
               display_name=picked["list"]["display_name"], type="product_list", label="Extra", sort_order=99,
               linked_product_id=product if product != picked["list"]["product_id"] else 101)

    edit_xlsx(exported.path, edit)
    plan, outcome = exported.plan()
    assert outcome.ok and plan.conflicts == [] and plan.skipped == []
    text, dropdown, rect, swatch, radio, lists = (picked[k] for k in ("text", "dropdown", "rect", "swatch", "radio",
                                                                       "list"))
    product = text["product_id"]
    got = [(op.kind, op.product_id, op.modifier_id, op.value_id, op.display_name, op.label) for op in plan.operations]
    expected = [
        (OpKind.DELETE_VALUE, swatch["product_id"], swatch["modifier_id"], swatch["value_id"], swatch["display_name"],
         swatch["label"]),
        (OpKind.DELETE_MODIFIER, radio["product_id"], radio["modifier_id"], None, radio["display_name"], None),
        (OpKind.UPDATE_MODIFIER, product, text["modifier_id"], None, text["display_name"], None),
        (OpKind.UPDATE_VALUE, dropdown["product_id"], dropdown["modifier_id"], dropdown["value_id"],
         dropdown["display_name"], "Renamed"),
        (OpKind.CREATE_MODIFIER, product, None, None, "Plating", None),
        (OpKind.CREATE_MODIFIER, product, None, None, "Insurance", None),
        (OpKind.CREATE_VALUE, lists["product_id"], lists["modifier_id"], None, lists["display_name"], "Extra"),
        (OpKind.UPDATE_VALUE, product, None, None, "Insurance", "Yes"),
    ]
    uploads = [(OpKind.UPLOAD_IMAGE, rect["product_id"], rect["modifier_id"], rect["value_id"], rect["display_name"],
                rect["label"]), (OpKind.UPLOAD_IMAGE, product, None, None, "Plating", "Brass")]
    expected += sorted(uploads, key=lambda item: item[1])  # stable: workbook order within a product
    assert got == expected
    by_kind = {(op.kind, op.display_name): op for op in plan.operations}
    text_update = by_kind[(OpKind.UPDATE_MODIFIER, text["display_name"])].payload
    assert {k: text_update[k] for k in ("type", "required", "display_name")} == \
        {"type": "text", "required": text["required"], "display_name": text["display_name"]}
    assert text_update["config"]["text_max_length"] == text["text_max_length"] + 10
    value_update = by_kind[(OpKind.UPDATE_VALUE, dropdown["display_name"])].payload
    assert (value_update["label"], value_update["sort_order"], value_update["adjusters"]["price"]) == \
        ("Renamed", dropdown["sort_order"], {"adjuster": "relative", "adjuster_value": 7.25})
    assert by_kind[(OpKind.UPDATE_VALUE, "Insurance")].payload["adjusters"]["weight"] == \
        {"adjuster": "relative", "adjuster_value": 0.5}
    radio_values = by_kind[(OpKind.DELETE_MODIFIER, radio["display_name"])].value_rows
    assert len(radio_values) == len(rows_of_modifier(exported, radio["modifier_id"]))
    assert summary_line(plan) == "Plan: 3 to create, 3 to update, 2 to delete, 2 images to upload (10 requests)."
    assert_converged(exported, plan, exported.path)


def rows_of_modifier(exported: Exported, modifier_id: int) -> list[int]:
    import openpyxl

    ws = openpyxl.load_workbook(exported.path)["Choice values"]
    return rows_where(ws, modifier_id=modifier_id)


def test_an_update_of_every_modifier_type(exported: Exported) -> None:
    changed: dict[str, int] = {}

    def edit(wb: Any) -> None:
        for type_name in TYPE_NAMES:
            ws = wb[sheet_for("modifiers", type_name).name]
            row = row_where(ws, type=type_name)
            put(ws, row, sort_order=get(ws, row, "sort_order") + 100)
            changed[type_name] = get(ws, row, "modifier_id")
            if MODIFIER_TYPES[type_name].has_values:
                values = wb[sheet_for("values", type_name).name]
                value_row = row_where(values, modifier_id=changed[type_name])
                put(values, value_row, price_adjuster="percentage", price_adjuster_value=-12.5)

    edit_xlsx(exported.path, edit)
    plan, _ = exported.plan()
    updates = {op.modifier_id: op for op in plan.operations if op.kind is OpKind.UPDATE_MODIFIER}
    assert set(updates) == set(changed.values())
    assert all([c.field for c in op.changes] == ["sort_order"] for op in updates.values())
    assert all({"type", "required", "display_name", "sort_order"} <= set(op.payload) for op in updates.values())
    value_updates = [op for op in plan.operations if op.kind is OpKind.UPDATE_VALUE]
    assert sorted(op.modifier_type for op in value_updates) == sorted(t for t in TYPE_NAMES
                                                                      if MODIFIER_TYPES[t].has_values)
    assert len(plan.operations) == len(updates) + len(value_updates)
    assert_converged(exported, plan, exported.path)


def test_a_copy_of_every_modifier_type_is_created_and_converges(exported: Exported) -> None:
    """New modifiers of all twelve types (copies of exported ones, values included) are accepted by
    the store, and planning the same workbook again finds them by natural key."""
    def edit(wb: Any) -> None:
        for type_name in TYPE_NAMES:
            ws = wb[sheet_for("modifiers", type_name).name]
            source = row_of(ws, type=type_name)
            new_name = f"{source['display_name']} copy"
            append(ws, **{k: v for k, v in source.items() if k != "_row"} | {"modifier_id": None,
                                                                              "display_name": new_name})
            if not MODIFIER_TYPES[type_name].has_values:
                continue
            values = wb[sheet_for("values", type_name).name]
            for row in rows_where(values, modifier_id=source["modifier_id"]):
                cells = {c.value: values.cell(row, c.column).value for c in values[1]}
                append(values, **cells | {"modifier_id": None, "value_id": None, "display_name": new_name})

    edit_xlsx(exported.path, edit)
    plan, _ = exported.plan()
    creates = [op for op in plan.operations if op.kind is OpKind.CREATE_MODIFIER]
    assert sorted(op.modifier_type for op in creates) == sorted(TYPE_NAMES)
    # a copied value keeps its image: the store's image URL is downloaded and uploaded to the new value
    assert {op.kind for op in plan.operations} <= {OpKind.CREATE_MODIFIER, OpKind.UPDATE_VALUE, OpKind.UPLOAD_IMAGE}
    for op in creates:
        spec = MODIFIER_TYPES[op.modifier_type]
        assert ("option_values" in op.payload) == (spec.has_values and not spec.generated_values)
    assert_converged(exported, plan, exported.path)


def test_row_changed_only_in_the_store_is_skipped(exported: Exported) -> None:
    import openpyxl

    ws = openpyxl.load_workbook(exported.path)["Text modifiers"]
    text = row_of(ws, type="text")
    exported.put(f"/catalog/products/{text['product_id']}/modifiers/{text['modifier_id']}",
                 {"required": not text["required"]})
    plan, _ = exported.plan()
    assert plan.operations == [] and plan.conflicts == []
    assert [(s.source, s.reason) for s in plan.skipped] == [(RowRef("Text modifiers", text["_row"]), KEPT_REASON)]


def test_row_changed_in_both_is_a_conflict_and_force_applies_it(exported: Exported) -> None:
    def edit(wb: Any) -> dict[str, Any]:
        ws = wb["Swatch values"]
        swatch = row_of(ws, type="swatch")
        put(ws, swatch["_row"], label="Mine")
        return swatch

    swatch = edit_xlsx(exported.path, edit)
    exported.put(f"/catalog/products/{swatch['product_id']}/modifiers/{swatch['modifier_id']}/values/"
                 f"{swatch['value_id']}", {"label": "Theirs"})
    plan, _ = exported.plan()
    assert plan.operations == [] and plan.skipped == []
    assert [(c.source, c.entity_id, c.message, c.fields) for c in plan.conflicts] == [
        (RowRef("Swatch values", swatch["_row"]), swatch["value_id"], CHANGED_CONFLICT, ["label"])]
    assert summary_line(plan).endswith("; not applied: 1 row in conflict.")
    forced, _ = exported.plan(force=True)
    (op,) = forced.operations
    assert (op.kind, op.value_id, op.payload["label"]) == (OpKind.UPDATE_VALUE, swatch["value_id"], "Mine")
    assert summary_line(forced).endswith("; 1 conflict overridden (--force).")
    assert_converged(exported, forced, exported.path)


def test_absent_rows_are_deleted_only_with_prune(exported: Exported) -> None:
    def edit(wb: Any) -> tuple[dict[str, Any], dict[str, Any]]:
        mods, values = wb["Choice modifiers"], wb["Choice values"]
        gone = row_of(mods, type="dropdown")
        for row in sorted(rows_where(values, modifier_id=gone["modifier_id"]), reverse=True):
            values.delete_rows(row)
        mods.delete_rows(gone["_row"])
        lone = row_of(values, type="rectangles")
        values.delete_rows(lone["_row"])
        return gone, lone

    gone, lone = edit_xlsx(exported.path, edit)
    plan, _ = exported.plan()
    assert plan.operations == [] and plan.skipped == []
    pruned, _ = exported.plan(prune=True)
    assert [(op.kind, op.modifier_id, op.value_id, op.source) for op in pruned.operations] == [
        (OpKind.DELETE_VALUE, lone["modifier_id"], lone["value_id"], None),
        (OpKind.DELETE_MODIFIER, gone["modifier_id"], None, None)]
    assert pruned.pruned
    exported.apply(pruned)
    assert exported.plan(prune=True)[0].operations == []


def test_a_workbook_with_issues_is_refused_before_any_request(exported: Exported) -> None:
    edit_xlsx(exported.path, lambda wb: put(wb["Text modifiers"], 2, type="texte"))
    before = exported.requests()
    with pytest.raises(PlanRefused) as refused:
        exported.plan()
    assert exported.requests() == before
    assert [(i.sheet, i.row, i.column) for i in refused.value.outcome.issues] == [("Text modifiers", 2, "type")]


def test_a_product_missing_from_the_store_refuses_the_plan(exported: Exported) -> None:
    def edit(wb: Any) -> int:
        return append(wb["Text modifiers"], product_id=99999, display_name="Ghost", type="text", required=False)

    row = edit_xlsx(exported.path, edit)
    with pytest.raises(PlanRefused) as refused:
        exported.plan()
    issues = refused.value.outcome.issues
    assert [(i.sheet, i.row, i.column) for i in issues] == [("Text modifiers", row, "product_id")]
    assert "99999 does not exist" in issues[0].message


def test_a_product_list_offering_a_product_the_store_lacks_refuses_the_plan(exported: Exported) -> None:
    def edit(wb: Any) -> int:
        ws = wb["Product list values"]
        row = row_where(ws, type="product_list")
        put(ws, row, linked_product_id=88888)
        return row

    row = edit_xlsx(exported.path, edit)
    with pytest.raises(PlanRefused) as refused:
        exported.plan()  # which checks that planning wrote nothing
    issues = refused.value.outcome.issues
    assert [(i.sheet, i.row, i.column) for i in issues] == [("Product list values", row, "linked_product_id")]
    assert "product 88888 does not exist in the store" in issues[0].message


def test_a_workbook_from_another_store_is_refused(exported: Exported) -> None:
    with pytest.raises(PlanRefused) as refused:
        exported.plan(expected_store_hash="elsewhere")
    assert "elsewhere" in refused.value.outcome.issues[0].message
    assert store_hash_of_url("https://api.bigcommerce.com/stores/abc123/v3") == "abc123"
    assert store_hash_of_url("http://localhost:8000/v3") is None


def test_rendered_plan_reads_like_terraform(exported: Exported) -> None:
    folder = exported.path.parent
    write_png(folder, "img/a.png")

    def edit(wb: Any) -> None:
        choice = wb["Choice values"]
        row = row_where(choice, type="dropdown")
        put(choice, row, label="[bold]x[/bold]", image_url="img/a.png")
        text = wb["Text modifiers"]
        put(text, 2, default_value=None, action=None)
        put(wb["Swatch values"], 2, action="delete")

    edit_xlsx(exported.path, edit)
    plan, _ = exported.plan()
    console = Console(record=True, width=200, color_system=None)
    render_plan(plan, console)
    out = console.export_text()
    assert "~ update value '[bold]x[/bold]'" in out
    assert "↑ upload image for value" in out and "image: img/a.png" in out
    assert "- delete value" in out
    assert "      default_value: '" in out and "' → (blank)" in out
    assert "Fields that would become empty" in out and "Text modifiers row 2: default_value" in out
    assert out.rstrip().splitlines()[-1] == summary_line(plan)

