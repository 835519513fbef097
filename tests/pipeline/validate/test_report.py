"""Reports of validation issues: the terminal table, JSON, and the annotated copy of the file."""

from __future__ import annotations

import csv
import io
import json
import zipfile
from pathlib import Path

import openpyxl
import pytest
from rich.console import Console

from pipeline.validate.command import validate_file
from pipeline.validate.issues import Issue
from pipeline.workbook.layout import ERRORS_COLUMN, SUMMARY_SHEET
from pipeline.validate.report import (
    issues_json,
    issues_table,
    sort_issues,
    summary_line,
    write_annotated_copy,
)
from pipeline.workbook.csv_files import write_csv
from pipeline.workbook.meta import ExportMeta
from pipeline.workbook.writer import write_workbook
from tests.pipeline.validate.exports import column_of, edit_xlsx, set_cell, valid_frames
from tests.pipeline.workbook.test_annotate import sheet_part

META = ExportMeta("abc123", "https://api.bigcommerce.com/stores/abc123/v3")
ISSUES = [
    Issue("e.xlsx", "Choice values", 7, "label", "=SUM(A1)", "label is wrong"),
    Issue("e.xlsx", None, None, None, None, "whole file"),
    Issue("e.xlsx", "Choice values", 3, None, None, "row 3 is blank"),
    Issue("e.xlsx", "Choice modifiers", 2, "type", "slider", "unknown type"),
    Issue("e.xlsx", "Choice values", 3, "action", "x", "bad action"),
    Issue("e.xlsx", "Choice values", 1, "Notes", "Notes", "unknown column"),
]


@pytest.fixture(scope="module")
def frames():
    return valid_frames(14)


@pytest.fixture
def edited(frames, tmp_path) -> Path:
    """A workbook with a formula, an unknown type and a blank label."""
    path = write_workbook(frames, tmp_path / "in" / "export.xlsx", META)

    def edit(wb):
        set_cell(wb["Choice values"], 4, "sort_order", "=1+1")
        set_cell(wb["Choice modifiers"], 2, "type", "slider")
        set_cell(wb["Swatch values"], 3, "label", None)
    edit_xlsx(path, edit)
    return path


def test_issues_sort_by_file_sheet_row_and_column_with_whole_file_problems_first():
    ordered = sort_issues(ISSUES)
    assert [(i.sheet, i.row, i.column) for i in ordered] == [
        (None, None, None), ("Choice modifiers", 2, "type"), ("Choice values", 1, "Notes"),
        ("Choice values", 3, None), ("Choice values", 3, "action"), ("Choice values", 7, "label")]


def test_summary_line():
    assert "no problems found (12 rows checked)" in summary_line([], file="e.xlsx", rows=12)
    assert summary_line(ISSUES[:1], file="e.xlsx") == (
        "e.xlsx: 1 problem on 1 row in 1 sheet. Nothing was sent to the store: fix it and validate again.")
    assert summary_line(ISSUES, file="e.xlsx").startswith("e.xlsx: 6 problems on 4 rows in 2 sheets.")


def test_the_table_shows_every_field_and_says_how_many_are_not_shown():
    console = Console(record=True, width=250)
    console.print(issues_table(sort_issues(ISSUES), limit=5))
    text = console.export_text()
    for word in ("file", "sheet", "row", "column", "value", "problem", "Choice modifiers", "slider", "unknown type",
                 "whole file", "1 more not shown"):
        assert word in text, word
    assert "label is wrong" not in text  # the sixth, on the last row


def test_json_lists_every_issue_with_counts():
    payload = json.loads(json.dumps(issues_json(ISSUES, file="e.xlsx", rows=40)))
    assert payload["ok"] is False and payload["counts"]["issues"] == 6 and payload["counts"]["rows"] == 40
    assert payload["counts"]["by_sheet"] == {"": 1, "Choice modifiers": 1, "Choice values": 4}
    assert payload["issues"][0] == {"file": "e.xlsx", "sheet": "Choice values", "row": 7, "column": "label",
                                    "value": "=SUM(A1)", "message": "label is wrong"}
    assert issues_json([], file="e.xlsx")["ok"] is True


def test_annotated_copy_marks_cells_adds_errors_and_a_summary(edited, tmp_path):
    outcome = validate_file(edited)
    places = {(i.sheet, i.row, i.column) for i in outcome.issues}
    assert {("Choice values", 4, "sort_order"), ("Choice modifiers", 2, "type"),
            ("Swatch values", 3, "label")} <= places
    out = write_annotated_copy(edited, outcome.issues, tmp_path / "out" / "annotated.xlsx")
    wb = openpyxl.load_workbook(out)
    assert wb.sheetnames[0] == SUMMARY_SHEET
    ws = wb["Choice values"]
    assert ws.cell(4, column_of(ws, "sort_order")).fill.start_color.rgb.endswith("FFC7CE")
    assert "formula" in ws.cell(4, column_of(ws, ERRORS_COLUMN)).value
    assert ws.cell(5, column_of(ws, ERRORS_COLUMN)).value is None
    assert wb["Choice modifiers"].cell(2, column_of(wb["Choice modifiers"], ERRORS_COLUMN)).value.startswith("type:")
    assert all(ERRORS_COLUMN in [c.value for c in wb[name][1]] for name in ("Date modifiers", "Product list values"))
    summary = wb[SUMMARY_SHEET]
    assert summary["A1"].value == f"{len(outcome.issues)} problems found"
    rows = list(summary.iter_rows(min_row=3, values_only=True))
    assert len(rows) == len(outcome.issues)
    link = next(r for r in summary.iter_rows(min_row=3) if (r[1].value, r[2].value) == ("Choice values", 4))[1]
    assert link.hyperlink.location == "'Choice values'!J4"  # sort_order
    with zipfile.ZipFile(out) as archive:  # "=1+1" is shown as text in the summary, not made a formula again
        summary_xml = archive.read(sheet_part(out, SUMMARY_SHEET))
    assert b"=1+1" in summary_xml and b"<f>" not in summary_xml


def test_validating_the_annotated_copy_finds_the_same_problems(edited, tmp_path):
    issues = validate_file(edited).issues
    out = write_annotated_copy(edited, issues, tmp_path / "annotated.xlsx")
    again = validate_file(out).issues
    assert [(i.sheet, i.row, i.column, i.message) for i in again] == [
        (i.sheet, i.row, i.column, i.message) for i in issues]
    twice = write_annotated_copy(out, again, tmp_path / "twice.xlsx")  # annotating again replaces, not adds
    wb = openpyxl.load_workbook(twice)
    assert [c.value for c in wb["Choice values"][1]].count(ERRORS_COLUMN) == 1
    assert wb.sheetnames.count(SUMMARY_SHEET) == 1


def test_csv_input_gets_an_errors_csv(frames, tmp_path):
    folder = write_csv(frames, tmp_path / "export", META)
    issues = [Issue("choice_values.csv", "Choice values", 2, "label", "=cmd|' /C calc'!A0", "bad"),
              Issue("_bcmod.csv", "_bcmod", None, None, None, "missing")]
    out = write_annotated_copy(folder, issues, tmp_path / "report" / "annotated.xlsx")
    assert out == tmp_path / "report" / "errors.csv"
    data = out.read_bytes()
    assert data.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(data.decode("utf-8-sig"))))
    assert rows[0] == ["file", "sheet", "row", "column", "value", "message"]
    assert rows[1] == ["choice_values.csv", "Choice values", "2", "label", "'=cmd|' /C calc'!A0", "bad"]
    assert rows[2] == ["_bcmod.csv", "_bcmod", "", "", "", "missing"]
    assert write_annotated_copy(folder, issues, tmp_path / "mine.csv") == tmp_path / "mine.csv"


def test_a_file_that_is_not_a_workbook_gets_a_summary_only(tmp_path):
    source = tmp_path / "notes.xlsx"
    source.write_text("hello")
    issues = validate_file(source).issues
    out = write_annotated_copy(source, issues, tmp_path / "annotated.xlsx")
    wb = openpyxl.load_workbook(out)
    assert wb.sheetnames == [SUMMARY_SHEET]
    assert "not an xlsx workbook" in wb[SUMMARY_SHEET]["F3"].value


def test_control_characters_in_values_do_not_break_the_copy(edited, tmp_path):
    issues = [Issue("export.xlsx", "Choice values", 2, "label", "bell\x07", "bad label\x00")]
    out = write_annotated_copy(edited, issues, tmp_path / "annotated.xlsx")
    assert openpyxl.load_workbook(out)[SUMMARY_SHEET]["E3"].value == "bell\ufffd"
