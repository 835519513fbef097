"""Past a sheet's row limit: a family continues on numbered sheets that read back as one.

The limit is made small (`BCMOD_SHEET_ROW_LIMIT`) so a 12-product store already needs continuation
sheets for its values and for the `_bcmod` table. An untouched export plans nothing; an edit on a
continuation sheet is applied and the results copy marks that row on that sheet; an error on a
continuation sheet names that sheet and row; CSV files are never split.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from openpyxl import load_workbook

from pipeline.apply import RESULT_COLUMN, apply_plan, write_results
from pipeline.export import export_store
from pipeline.plan import build
from pipeline.validate.command import validate_file_async
from pipeline.workbook.layout import (
    META_SHEET,
    SHEET_ROW_LIMIT,
    SHEET_ROW_LIMIT_ENV,
    family_row,
    part_name,
    sheet_row,
    sheet_row_limit,
    split_part_name,
)
from pipeline.workbook.reader import read_export, read_sheets
from tests.pipeline.apply.support import client_for, products_of
from tests.stores import sandbox_store

pytestmark = pytest.mark.anyio
LIMIT = 40


@pytest.fixture
def store(tmp_path: Path):
    return sandbox_store(tmp_path / "store", products=12)


@pytest.fixture
def small_limit(monkeypatch: pytest.MonkeyPatch) -> int:
    monkeypatch.setenv(SHEET_ROW_LIMIT_ENV, str(LIMIT))
    return LIMIT


def headers(ws) -> dict[str, int]:
    return {cell.value: cell.column for cell in ws[1] if cell.value}


def get(ws, row: int, column: str) -> Any:
    return ws.cell(row, headers(ws)[column]).value


def test_names_and_rows_of_parts(monkeypatch: pytest.MonkeyPatch) -> None:
    assert sheet_row_limit() == SHEET_ROW_LIMIT == 1_048_575
    monkeypatch.setenv(SHEET_ROW_LIMIT_ENV, "7")
    assert sheet_row_limit() == 7
    assert part_name("Choice values", 1) == "Choice values"
    assert part_name("Choice values", 3) == "Choice values (3)"
    assert split_part_name("Choice values (3)") == ("Choice values", 3)
    assert split_part_name("_bcmod (2)") == (META_SHEET, 2)
    assert split_part_name("Notes (2)") is None and split_part_name("Choice values (1)") is None
    assert sheet_row("Choice values", 17) == ("Choice values", 17)
    assert sheet_row("Choice values", family_row(3, 17)) == ("Choice values (3)", 17)


async def export(store, path: Path, **kwargs: Any) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    return (await export_store(store.settings, path, transport=store.transport(), **kwargs)).path


async def test_a_family_past_the_limit_continues_and_reads_back_as_one(store, small_limit, tmp_path: Path) -> None:
    path = await export(store, tmp_path / "wb" / "big.xlsx")
    book = load_workbook(path, read_only=True)
    values = [n for n in book.sheetnames if (split_part_name(n) or ("",))[0] == "Choice values"]
    assert len(values) >= 3, book.sheetnames  # the values of 12 products are many times 40 rows
    assert values == [part_name("Choice values", n) for n in range(1, len(values) + 1)]
    assert all(book[n].max_row <= small_limit + 1 for n in book.sheetnames if split_part_name(n))
    assert f"{META_SHEET} (2)" in book.sheetnames  # one fingerprint row per exported row
    assert book[f"{META_SHEET} (2)"].sheet_state == "veryHidden"
    book.close()

    csv_folder = await export(store, tmp_path / "csv" / "big", csv=True)
    assert not [p.name for p in csv_folder.iterdir() if "(" in p.name]  # CSV is never split
    frames, _ = read_export(path)
    csv_frames, _ = read_export(csv_folder)
    assert len(frames.values) == len(csv_frames.values) > 2 * small_limit
    sheets, _ = read_sheets(path)
    assert sheets["Choice values"].index.is_unique and sheets["Choice values"].index.is_monotonic_increasing

    outcome = await validate_file_async(path)
    assert outcome.issues == []
    async with client_for(store) as client:
        plan, _ = await build.plan_workbook(path, client)
    assert plan.operations == []


async def test_an_edit_on_a_continuation_sheet_applies_and_its_row_is_marked(store, small_limit,
                                                                            tmp_path: Path) -> None:
    path = await export(store, tmp_path / "wb" / "big.xlsx")
    book = load_workbook(path)
    sheet = part_name("Choice values", 2)
    ws = book[sheet]
    row = 5
    value_id, sort_order = get(ws, row, "value_id"), get(ws, row, "sort_order")
    ws.cell(row, headers(ws)["sort_order"]).value = sort_order + 40
    book.save(path)

    async with client_for(store) as client:
        plan, _ = await build.plan_workbook(path, client)
        assert [(o.kind.value, o.source.sheet, o.source.row) for o in plan.operations] == \
            [("update_value", sheet, row)]
        result = await apply_plan(plan, client, workbook_dir=path.parent, journal=None, backup=False)
    assert result.failed == []
    stored = next(v for p in products_of(store) for m in p["modifiers"] for v in m.get("option_values", [])
                  if v["id"] == value_id)
    assert stored["sort_order"] == sort_order + 40

    copy = load_workbook(write_results(result, path), read_only=True)
    marks = {(name, r): get_row[RESULT_COLUMN] for name in copy.sheetnames
             if (split_part_name(name) or ("",))[0] == "Choice values"
             for r, get_row in _rows(copy[name]).items()}
    assert marks[(sheet, row)] == "ok"
    assert [key for key, mark in marks.items() if mark != "unchanged"] == [(sheet, row)]


def _rows(ws) -> dict[int, dict[str, Any]]:
    rows = ws.iter_rows(values_only=True)
    names = next(rows)
    return {n: dict(zip(names, values)) for n, values in enumerate(rows, start=2) if any(v is not None for v in values)}


async def test_an_error_on_a_continuation_sheet_names_that_sheet_and_row(store, small_limit, tmp_path: Path) -> None:
    path = await export(store, tmp_path / "wb" / "big.xlsx")
    book = load_workbook(path)
    sheet = part_name("Choice values", 3)
    ws = book[sheet]
    ws.cell(4, headers(ws)["price_adjuster"]).value = "sideways"
    ws.cell(6, headers(ws)["sort_order"]).value = "=1+1"
    book.save(path)
    issues = (await validate_file_async(path)).issues
    assert {(i.sheet, i.row, i.column) for i in issues} >= {(sheet, 4, "price_adjuster"), (sheet, 6, "sort_order")}
    assert all(i.row is None or i.row <= small_limit + 1 for i in issues)
