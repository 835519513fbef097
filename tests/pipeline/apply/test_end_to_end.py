"""Export -> edit in the workbook -> plan -> apply -> results, against an in-process sandbox.

The edits are what a catalog manager does in Excel (openpyxl stands in for them): change a
number, rename a value, delete rows, add values, add modifiers of several kinds (a checkbox with
its Yes/No rows) and point image cells at files in the workbook's folder. After the apply the
same workbook plans zero operations, and the results copy shows each row's outcome and new ids.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from openpyxl import load_workbook

from sample_data.generator import png_bytes
from pipeline.apply import RESULT_COLUMN, RESULTS_SUMMARY_SHEET, Journal, apply_plan, render_summary, write_results
from pipeline.export import export_store
from pipeline.plan import build
from pipeline.plan.operations import OpKind
from tests.pipeline.apply.support import PNG, client_for, duplicates, modifier_named, products_of
from tests.stores import sandbox_store

pytestmark = pytest.mark.anyio


def headers(ws) -> dict[str, int]:
    return {cell.value: cell.column for cell in ws[1] if cell.value}


def data_rows(ws) -> list[int]:
    return [r for r in range(2, ws.max_row + 1) if any(c.value not in (None, "") for c in ws[r])]


def get(ws, row: int, column: str) -> Any:
    return ws.cell(row, headers(ws)[column]).value


def put(ws, row: int, **cells: Any) -> None:
    columns = headers(ws)
    for name, value in cells.items():
        ws.cell(row, columns[name]).value = value


def append(ws, **cells: Any) -> int:
    rows = data_rows(ws)
    row = (rows[-1] if rows else 1) + 1
    put(ws, row, **cells)
    return row


def first_row(ws, **match: Any) -> int:
    return next(r for r in data_rows(ws) if all(get(ws, r, k) == v for k, v in match.items()))


@pytest.fixture
def store(tmp_path: Path):
    return sandbox_store(tmp_path / "store", products=12)


async def export(store, folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    result = await export_store(store.settings, folder / "edits.xlsx", transport=store.transport())
    (folder / "images").mkdir()
    (folder / "images" / "red.png").write_bytes(PNG)
    return result.path


def edit(path: Path) -> dict[str, Any]:
    """Edit the export like a person would; returns what was done, for the checks."""
    book = load_workbook(path)
    mods, values = book["Choice modifiers"], book["Choice values"]
    done: dict[str, Any] = {}
    row = data_rows(mods)[0]
    put(mods, row, sort_order=33)
    done["resorted"] = (get(mods, row, "product_id"), get(mods, row, "display_name"))

    value_rows = [r for r in data_rows(values) if get(values, r, "modifier_id") == get(mods, row, "modifier_id")]
    renamed, deleted, imaged = value_rows[:3]
    done["renamed"] = (get(values, renamed, "label"), f"{get(values, renamed, 'label')} (new)")
    put(values, renamed, label=done["renamed"][1])
    done["deleted_value"] = get(values, deleted, "value_id")
    put(values, deleted, action="delete")
    put(values, imaged, image_url="images/red.png")
    done["imaged"] = get(values, imaged, "value_id")
    done["fresh_row"] = append(values, product_id=get(values, renamed, "product_id"),
                               modifier_id=get(values, renamed, "modifier_id"),
                               display_name=get(values, renamed, "display_name"), type=get(values, renamed, "type"),
                               label="Fresh", sort_order=50, is_default=False, price_adjuster="relative",
                               price_adjuster_value=2.5)

    done["paper_row"] = append(mods, product_id=103, display_name="Paper", type="dropdown", required=False,
                               sort_order=7)
    done["paper_values"] = [append(values, product_id=103, display_name="Paper", type="dropdown", label=label,
                                   sort_order=i, is_default=False, image_url=image)
                            for i, (label, image) in enumerate((("Matte paper", None), ("Gloss paper", "images/red.png")))]

    boxes, box_values = book["Checkbox modifiers"], book["Checkbox values"]
    done["box_row"] = append(boxes, product_id=104, display_name="Insure it", type="checkbox", required=False,
                             sort_order=5, checked_by_default=False, checkbox_label="Insure my parcel")
    done["box_values"] = [
        append(box_values, product_id=104, display_name="Insure it", type="checkbox", label="Yes", sort_order=0,
               is_default=False, checked_value=True, price_adjuster="relative", price_adjuster_value=4.5),
        append(box_values, product_id=104, display_name="Insure it", type="checkbox", label="No", sort_order=1,
               is_default=True, checked_value=False),
    ]
    texts = book["Text modifiers"]
    done["text_row"] = append(texts, product_id=101, display_name="Monogram", type="text", required=False,
                              sort_order=9, text_characters_limited=True, text_min_length=1, text_max_length=3)
    dates = book["Date modifiers"]
    gone = data_rows(dates)[0]
    put(dates, gone, action="delete")
    done["deleted_modifier"] = get(dates, gone, "modifier_id")
    book.save(path)
    return done


async def test_export_edit_plan_apply_then_nothing_left_to_do(store, tmp_path: Path) -> None:
    path = await export(store, tmp_path / "wb")
    done = edit(path)
    async with client_for(store) as client:
        plan, _ = await build.plan_workbook(path, client)
        kinds = plan.counts()
        assert kinds["create_modifier"] == 3 and kinds["delete_modifier"] == 1 and kinds["delete_value"] == 1
        assert kinds["create_value"] == 1 and kinds["upload_image"] == 2 and kinds["update_modifier"] == 1
        assert kinds["update_value"] >= 2  # the rename, and the new checkbox's Yes adjuster
        before_apply = client.metrics.requests_sent
        result = await apply_plan(plan, client, workbook_dir=path.parent, journal=Journal.for_workbook(path))
        assert [o.message for o in result.failed] == []
        assert result.requests == len(plan.operations) == result.writes
        assert client.metrics.requests_sent - before_apply == result.requests + result.backup_requests

        again, _ = await build.plan_workbook(path, client)
        assert again.operations == [], [(o.kind, o.display_name, o.label, o.payload) for o in again.operations]
        nothing = await apply_plan(again, client, workbook_dir=path.parent, journal=Journal.for_workbook(path))
        assert nothing.requests == 0 and nothing.backup_path is None

    after = products_of(store)
    assert duplicates(after) == []
    assert modifier_named(after, *done["resorted"])["sort_order"] == 33
    paper = modifier_named(after, 103, "Paper")
    gloss = next(v for v in paper["option_values"] if v["label"] == "Gloss paper")
    assert gloss["adjusters"]["image_url"].startswith("/_sandbox/images/uploads/")
    insured = modifier_named(after, 104, "Insure it")
    yes = next(v for v in insured["option_values"] if v["label"] == "Yes")
    assert yes["adjusters"]["price"] == {"adjuster": "relative", "adjuster_value": 4.5}
    assert all(m["id"] != done["deleted_modifier"] for p in after for m in p["modifiers"])
    assert result.backup_path is not None and result.backup_path.exists()

    results = write_results(result, path)
    assert results == path.with_name("edits.results.xlsx")
    book = load_workbook(results)
    assert book.sheetnames[0] == RESULTS_SUMMARY_SHEET
    mods, values = book["Choice modifiers"], book["Choice values"]
    assert get(mods, done["paper_row"], RESULT_COLUMN) == "ok"
    assert get(mods, done["paper_row"], "modifier_id") == paper["id"]
    for row in done["paper_values"]:
        assert get(values, row, "modifier_id") == paper["id"]
        assert get(values, row, "value_id") == next(v["id"] for v in paper["option_values"]
                                                    if v["label"] == get(values, row, "label"))
        assert get(values, row, RESULT_COLUMN) == "ok"
    fresh = next(v for v in modifier_named(after, *done["resorted"])["option_values"] if v["label"] == "Fresh")
    assert get(values, done["fresh_row"], "value_id") == fresh["id"]
    box_values = book["Checkbox values"]
    assert [get(box_values, r, "value_id") for r in done["box_values"]] == \
        [next(v["id"] for v in insured["option_values"] if v["label"] == label) for label in ("Yes", "No")]
    assert get(book["Checkbox modifiers"], done["box_row"], "modifier_id") == insured["id"]
    assert get(book["Text modifiers"], done["text_row"], "modifier_id") == \
        modifier_named(after, 101, "Monogram")["id"]
    untouched = [r for r in data_rows(values) if get(values, r, RESULT_COLUMN) == "unchanged"]
    assert untouched  # rows nobody edited say so
    summary = book[RESULTS_SUMMARY_SHEET]
    assert summary["A1"].value == "Apply succeeded: every edited row is in the store"


async def test_a_failing_row_is_reported_in_the_results_and_the_exit_code(store, tmp_path: Path) -> None:
    from io import StringIO

    from rich.console import Console

    path = await export(store, tmp_path / "wb")
    book = load_workbook(path)
    values = book["Choice values"]
    rows = data_rows(values)
    put(values, rows[0], sort_order=444)
    put(values, rows[1], image_url="images/red.png")
    book.save(path)
    (path.parent / "images").mkdir(exist_ok=True)
    (path.parent / "images" / "red.png").write_bytes(png_bytes(b"\xff\x00\x00"))  # valid while validating
    async with client_for(store) as client:
        plan, _ = await build.plan_workbook(path, client)
        (path.parent / "images" / "red.png").write_text("not an image after all")  # broken after planning
        result = await apply_plan(plan, client, workbook_dir=path.parent, journal=None, backup=False)
    assert result.exit_code == 1 and len(result.failed) == 1
    assert result.failed[0].kind is OpKind.UPLOAD_IMAGE
    book = load_workbook(write_results(result, path))
    values = book["Choice values"]
    assert get(values, rows[0], RESULT_COLUMN) == "ok"
    message = get(values, rows[1], RESULT_COLUMN)
    assert message.startswith(f"failed: edits.xlsx, sheet 'Choice values', row {rows[1]}, column 'image_url': ")
    assert "is not a GIF, JPEG or PNG image" in message
    assert book[RESULTS_SUMMARY_SHEET]["A1"].value == "Apply failed for 1 row"
    out = StringIO()
    render_summary(result, Console(file=out, width=160))
    text = out.getvalue()
    assert "1 failed operation" in text and "not a GIF, JPEG or PNG" in text and "update value" in text


async def test_csv_exports_get_a_results_csv(store, tmp_path: Path) -> None:
    import csv

    folder = tmp_path / "csv"
    exported = await export_store(store.settings, folder, csv=True, transport=store.transport())
    values_file = exported.path / "choice_values.csv"
    with values_file.open(encoding="utf-8-sig", newline="") as handle:
        rows = list(csv.reader(handle))
    sort_order = rows[0].index("sort_order")
    rows[2][sort_order] = "321"  # spreadsheet row 3
    with values_file.open("w", encoding="utf-8-sig", newline="") as handle:
        csv.writer(handle, lineterminator="\r\n").writerows(rows)
    async with client_for(store) as client:
        plan, _ = await build.plan_workbook(exported.path, client)
        result = await apply_plan(plan, client, workbook_dir=exported.path, journal=None, backup=False)
    target = write_results(result, exported.path)
    assert target == exported.path / "results.csv"
    with target.open(encoding="utf-8-sig") as handle:
        assert list(csv.reader(handle)) == [["sheet", "row", "result", "modifier_id", "value_id"],
                                            ["Choice values", "3", "ok", rows[2][rows[0].index("modifier_id")],
                                             rows[2][rows[0].index("value_id")]]]
    assert result.requests == 1


async def test_the_results_copy_plans_zero_operations(store, tmp_path: Path) -> None:
    path = await export(store, tmp_path / "wb")
    edit(path)
    async with client_for(store) as client:
        plan, _ = await build.plan_workbook(path, client)
        result = await apply_plan(plan, client, workbook_dir=path.parent, journal=None, backup=False)
        again, _ = await build.plan_workbook(write_results(result, path), client)
    assert again.operations == []
