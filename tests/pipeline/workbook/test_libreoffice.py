"""An export saved again by LibreOffice, untouched, plans nothing: what makes the workbook readable
(days shown as days, swatch colours filled, product names on value sheets, a read-only type on
value rows) survives a spreadsheet program's save and reads back as exported."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import openpyxl
import pytest

from pipeline.plan.operations import OpKind
from pipeline.workbook.layout import META_SHEET
from tests.pipeline.plan.workbooks import column_of, export, row_where

SOFFICE = shutil.which("soffice") or shutil.which("libreoffice")
pytestmark = pytest.mark.skipif(SOFFICE is None, reason="LibreOffice (soffice) is not installed, so there is no "
                                "workbook re-saved by a spreadsheet program to plan")


def resaved_by_libreoffice(source: Path, folder: Path) -> Path:
    """`source` opened and saved as xlsx by LibreOffice headless, as a person's save would."""
    assert SOFFICE is not None
    folder.mkdir(parents=True, exist_ok=True)
    subprocess.run([SOFFICE, f"-env:UserInstallation={(folder / 'profile').as_uri()}", "--headless", "--convert-to",
                    "xlsx:Calc MS Excel 2007 XML", "--outdir", str(folder), str(source)],
                   check=True, capture_output=True, timeout=180)
    return folder / source.name


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    return export(tmp_path_factory.mktemp("libreoffice"))


@pytest.fixture(scope="module")
def resaved(exported, tmp_path_factory) -> Path:
    return resaved_by_libreoffice(exported.path, tmp_path_factory.mktemp("resaved"))


def test_an_untouched_export_saved_again_by_libreoffice_plans_zero_operations(exported, resaved):
    plan, outcome = exported.plan(resaved)
    assert outcome.issues == []
    assert plan.operations == [] and plan.conflicts == [] and plan.skipped == [] and plan.blanked == []


def test_the_readable_layout_is_what_libreoffice_saved(resaved):
    book = openpyxl.load_workbook(resaved)
    dates = book["Date modifiers"]
    day = dates.cell(2, column_of(dates, "default_value"))
    assert day.data_type == "s" and len(day.value) == len("2026-03-15")  # a day, still text
    swatches = book["Swatch values"]
    colours = swatches.cell(2, column_of(swatches, "colors"))
    assert colours.value.startswith("#") and colours.fill.fill_type is not None
    values = book["Choice values"]
    assert values.cell(2, column_of(values, "product_name")).value
    # LibreOffice has no "very hidden": it saves the metadata sheet as hidden. A headless conversion
    # has no window, so it keeps no frozen panes either (a save from LibreOffice's window does).
    assert book[META_SHEET].sheet_state == "hidden"


def test_an_edit_saved_by_libreoffice_plans_that_edit_alone(exported, tmp_path):
    # openpyxl edits the export (it cannot save LibreOffice's copy faithfully: it drops the values of
    # LibreOffice's TRUE() cells), then LibreOffice saves it, as a person's save would
    book = openpyxl.load_workbook(exported.path)
    ws = book["Date modifiers"]
    row = row_where(ws, type="date")
    ws.cell(row, column_of(ws, "default_value")).value = "2031-07-04"
    edited = tmp_path / "edited" / "export.xlsx"
    edited.parent.mkdir()
    book.save(edited)
    plan, outcome = exported.plan(resaved_by_libreoffice(edited, tmp_path / "resaved"))
    assert outcome.issues == []
    assert [op.kind for op in plan.operations] == [OpKind.UPDATE_MODIFIER]
    assert plan.operations[0].payload["config"]["default_value"] == "2031-07-04T00:00:00+00:00"
    assert plan.conflicts == [] and plan.skipped == []
