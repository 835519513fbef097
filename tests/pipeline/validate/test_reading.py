"""The validating reader's mechanics: CSV parsing, table problems, sheet XML scans, never raising."""

from __future__ import annotations

import datetime as dt
import shutil
import subprocess
import zipfile
from pathlib import Path

import pandas as pd
import pytest
from openpyxl.utils import get_column_letter

from pipeline.validate.reading import _xml_flags, read_for_validation
from pipeline.workbook.layout import ERRORS_COLUMN, ERRORS_CSV, SUMMARY_SHEET
from pipeline.workbook.csv_files import parse_csv, write_csv
from pipeline.workbook.layout import SHEET_BY_NAME
from pipeline.workbook.meta import ExportMeta
from pipeline.workbook.reader import read_sheets
from pipeline.workbook.tables import EXPORT_TABLES, RawTable, read_table
from pipeline.workbook.writer import write_workbook
from tests.helpers import sample_frames
from tests.pipeline.validate.exports import (
    column_of,
    csv_column,
    edit_csv,
    edit_xlsx,
    find_issue,
    set_cell,
    with_image_links,
)

META = ExportMeta("abc123", "https://api.bigcommerce.com/stores/abc123/v3")
CHOICE_VALUES = next(t for t in EXPORT_TABLES if t.name == "Choice values")


@pytest.fixture(scope="module")
def frames():
    return with_image_links(sample_frames(14))  # with every tricky label


@pytest.fixture
def xlsx(frames, tmp_path) -> Path:
    return write_workbook(frames, tmp_path / "export.xlsx", META)


@pytest.fixture
def folder(frames, tmp_path) -> Path:
    return write_csv(frames, tmp_path / "export", META)


def test_a_clean_export_with_tricky_text_has_no_issues_and_reads_like_read_sheets(xlsx, folder):
    for path in (xlsx, folder):
        result = read_for_validation(path, expected_store_hash="abc123")
        assert result.issues == []
        plain, meta = read_sheets(path)
        assert result.meta.store_hash == meta.store_hash == "abc123"
        for name, sheet in plain.items():
            pd.testing.assert_frame_equal(result.sheets[name], sheet)
    assert result.format == "csv" and result.files["Choice values"] == "choice_values.csv"


def test_the_store_is_not_checked_without_an_expected_hash(xlsx):
    assert read_for_validation(xlsx, expected_store_hash=None).issues == []
    issues = read_for_validation(xlsx, expected_store_hash="other").issues
    assert [(i.sheet, i.column, i.value) for i in issues] == [("_bcmod", "store_hash", "abc123")]


# --- tables ---------------------------------------------------------------------------------------------


def test_read_table_reports_every_bad_cell_not_just_the_first():
    header = list(CHOICE_VALUES.column_names)
    n = 4
    columns = [[""] * n for _ in header]
    columns[header.index("product_id")] = [101, "abc", 102.5, " 103 "]
    columns[header.index("is_default")] = ["x", "maybe", "no", ""]
    columns[header.index("label")] = ["a", "b", "c", "d"]
    read = read_table(RawTable("t", header, columns), CHOICE_VALUES)
    assert [(c.row, c.column) for c in read.bad_cells] == [(3, "product_id"), (4, "product_id"), (3, "is_default")]
    assert read.frame["product_id"].tolist() == [101, pd.NA, pd.NA, 103]
    assert read.frame["is_default"].tolist() == [True, pd.NA, False, pd.NA]


def test_read_table_finds_missing_duplicated_unknown_columns_and_blank_rows():
    header = [*CHOICE_VALUES.column_names, "Label", "notes", ""]
    header.remove("sort_order")
    n = 5
    columns = [["" for _ in range(n)] for _ in header]
    columns[header.index("label")] = ["a", "", "c", "", ""]
    columns[header.index("notes")] = ["", "", "", "", "kept"]
    read = read_table(RawTable("t", header, columns), CHOICE_VALUES)
    assert read.missing == ["sort_order"]
    assert read.duplicated == {"label": [header.index("label"), header.index("Label")]}
    assert read.unknown == [(len(header) - 2, "notes"), (len(header) - 1, "")]
    assert read.blank_rows == [3, 5]  # row 6 only has a cell under an unknown column: not blank
    assert read.frame.index.tolist() == [2, 4, 6]


# --- CSV ------------------------------------------------------------------------------------------------


def test_parse_csv_reads_with_and_without_bom_and_keeps_line_breaks_in_cells():
    for data in (b"\xef\xbb\xbfa,b\r\n1,\"two\r\nlines\"\r\n", b"a,b\n1,\"two\r\nlines\"\n"):
        table, problems = parse_csv(data, "t.csv")
        assert problems == [] and table.header == ["a", "b"] and table.columns[1] == ["two\r\nlines"]


def test_latin1_is_reported_at_its_spreadsheet_row_and_still_read():
    data = "a,b\r\n1,\"multi\r\nline\"\r\n2,Café\r\n".encode("cp1252")
    table, problems = parse_csv(data, "t.csv")
    assert [(p.line, p.row) for p in problems] == [(4, 3)]  # line 4 is the second data row
    assert "UTF-8" in problems[0].message and table.columns[1] == ["multi\r\nline", "Café"]


@pytest.mark.parametrize(("delimiter", "word"), [(";", "semicolons"), ("\t", "tabs")])
def test_other_delimiters_are_reported_and_still_read(delimiter, word):
    table, problems = parse_csv(f"a{delimiter}b\r\n1{delimiter}2\r\n".encode(), "t.csv")
    assert len(problems) == 1 and word in problems[0].message and problems[0].row == 1
    assert table.header == ["a", "b"] and table.columns == [["1"], ["2"]]


def test_ragged_and_empty_csv_files():
    table, problems = parse_csv(b"a,b\r\n1\r\n1,2,3\r\n", "t.csv")
    assert problems == [] and table.header == ["a", "b", ""] and table.columns[2] == ["", "3"]
    assert parse_csv(b"", "t.csv")[0] is None and "empty" in parse_csv(b"  \r\n", "t.csv")[1][0].message


def test_unknown_csv_files_are_reported_and_the_errors_file_is_not(folder):
    (folder / "notes.csv").write_text("x\n1\n")
    (folder / ERRORS_CSV).write_text("file,sheet\n")
    issues = read_for_validation(folder, expected_store_hash=None).issues
    assert [(i.file, i.message[:24]) for i in issues] == [("notes.csv", "file 'notes.csv' is not ")]


def test_a_damaged_member_of_a_csv_zip_is_an_issue(frames, tmp_path):
    path = write_csv(frames, tmp_path / "export", META, zip_=True)
    data = bytearray(path.read_bytes())
    with zipfile.ZipFile(path) as archive:
        info = archive.getinfo("choice_values.csv")
    start = info.header_offset + 30 + len(info.filename.encode()) + len(info.extra)
    data[start + 10: start + 40] = bytes(30)
    path.write_bytes(bytes(data))
    result = read_for_validation(path, expected_store_hash=None)
    issue = find_issue(result.issues, sheet="Choice values", row=None, column=None, words=("damaged",))
    assert issue.file == "export.zip/choice_values.csv"


def test_a_csv_folder_without_csv_files(tmp_path):
    result = read_for_validation(tmp_path, expected_store_hash="x")
    assert [i.message[:33] for i in result.issues] == ["this folder holds no CSV files: g"]
    assert set(result.sheets) == set(SHEET_BY_NAME) and result.meta is None


# --- workbook cells -----------------------------------------------------------------------------------


def test_headers_in_another_case_and_sheet_names_in_another_case_are_read(xlsx):
    def edit(wb):
        wb["Choice values"].title = "for a moment"
        wb["for a moment"].title = "choice VALUES"  # openpyxl would add a 1 to a title only differing in case
        set_cell(wb["Date modifiers"], 1, "display_name", "Display_Name")
    edit_xlsx(xlsx, edit)
    result = read_for_validation(xlsx, expected_store_hash=None)
    assert result.issues == [] and len(result.sheets["Choice values"]) > 10


def test_an_empty_sheet_and_a_column_without_a_header(xlsx):
    def edit(wb):
        ws = wb["Text modifiers"]
        ws.delete_rows(1, ws.max_row)
        ws = wb["File modifiers"]
        ws.cell(4, ws.max_column + 2).value = "stray"
        return get_column_letter(ws.max_column)
    letter = edit_xlsx(xlsx, edit)
    issues = read_for_validation(xlsx, expected_store_hash=None).issues
    find_issue(issues, sheet="Text modifiers", row=1, column=None, words=("header row is missing",))
    find_issue(issues, sheet="File modifiers", row=4, column=f"column {letter}", words=("no header", "1 cells"))


def test_date_cells_with_a_time_are_ambiguous_and_midnight_reads_as_the_date(xlsx):
    def edit(wb):
        ws = wb["Date modifiers"]
        ws.cell(2, column_of(ws, "default_value")).value = dt.datetime(2026, 3, 15, 0, 0)
        ws.cell(3, column_of(ws, "default_value")).value = dt.datetime(2026, 3, 15, 14, 30)
    edit_xlsx(xlsx, edit)
    result = read_for_validation(xlsx, expected_store_hash=None)
    assert result.sheets["Date modifiers"].loc[2, "default_value"] == "2026-03-15T00:00:00+00:00"  # a day: midnight UTC
    assert [(i.row, i.column) for i in result.issues] == [(3, "default_value")]
    assert "no time zone" in result.issues[0].message


def test_iso_like_dates_are_left_to_the_schemas_and_locale_ones_are_ambiguous(xlsx):
    def edit(wb):
        ws = wb["Date modifiers"]
        set_cell(ws, 2, "default_value", "2026-03-15 10:00:00")
        set_cell(ws, 3, "default_value", "2026/03/15")
    edit_xlsx(xlsx, edit)
    issues = read_for_validation(xlsx, expected_store_hash=None).issues
    assert [(i.row, "ambiguous" in i.message) for i in issues] == [(3, True)]


def test_shared_formulas_array_formulas_and_namespaced_cells_are_found(tmp_path):
    sheet = (
        '<x:worksheet xmlns:x="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><x:sheetData>'
        '<x:row r="1"><x:c r="A1" t="s"><x:v>0</x:v></x:c></x:row>'
        '<x:row r="2"><x:c r="A2"><x:f t="shared" ref="A2:A3" si="0">B2*2</x:f><x:v>4</x:v></x:c>'
        '<x:c r="B2" t="e"><x:f>1/0</x:f><x:v>#DIV/0!</x:v></x:c></x:row>'
        '<x:row r="3"><x:c r="A3"><x:f t="shared" si="0"/><x:v>6</x:v></x:c><x:c r="C3" t="e"><x:v>#N/A</x:v></x:c>'
        '</x:row><x:row r="4"><x:c r="B4"><x:f>A3&amp;"x"</x:f><x:v>6x</x:v></x:c>'
        '<x:c r="C4" t="n"><x:f aca="false">FALSE()</x:f><x:v>0</x:v></x:c></x:row></x:sheetData><x:dataValidations><x:dataValidation><x:formula1>"a,b"</x:formula1>'
        '</x:dataValidation></x:dataValidations></x:worksheet>')
    path = tmp_path / "book.xlsx"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("xl/workbook.xml", '<workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/'
                         'main" xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships">'
                         '<sheets><sheet name="S" sheetId="1" r:id="rId1"/></sheets></workbook>')
        archive.writestr("xl/_rels/workbook.xml.rels", '<Relationships xmlns="http://schemas.openxmlformats.org/'
                         'package/2006/relationships"><Relationship Id="rId1" Target="/xl/worksheets/s.xml" '
                         'Type="x"/></Relationships>')
        archive.writestr("xl/worksheets/s.xml", sheet)
    flags = _xml_flags(path, ["S"], {"S"})["S"]
    assert [(f.ref, f.formula, f.error) for f in flags] == [
        ("A2", "B2*2", None), ("B2", "1/0", "#DIV/0!"), ("A3", "", None), ("C3", None, "#N/A"), ("B4", 'A3&"x"', None)]


@pytest.mark.skipif(shutil.which("libreoffice") is None, reason="LibreOffice is not installed")
def test_a_workbook_saved_by_libreoffice_validates_clean(xlsx, tmp_path):
    # LibreOffice stores every boolean as the formula TRUE() or FALSE(): that is not a formula to refuse
    subprocess.run(["libreoffice", f"-env:UserInstallation=file://{tmp_path}/profile", "--headless",
                    "--convert-to", "xlsx:Calc MS Excel 2007 XML", "--outdir", str(tmp_path / "out"), str(xlsx)],
                   check=True, capture_output=True, timeout=180)
    result = read_for_validation(tmp_path / "out" / "export.xlsx", expected_store_hash="abc123")
    assert result.issues == []
    assert result.sheets["Choice modifiers"]["required"].notna().all()


def test_text_that_looks_like_a_formula_or_an_error_in_a_string_cell_is_not_a_formula(xlsx):
    result = read_for_validation(xlsx, expected_store_hash=None)
    assert "=SUM(A1)" in set(result.sheets["Choice values"]["label"].dropna())
    assert result.issues == []


def test_the_annotation_of_an_earlier_validation_is_ignored(xlsx):
    def edit(wb):
        ws = wb["Choice values"]
        ws.cell(1, ws.max_column + 1).value = ERRORS_COLUMN
        ws.cell(3, ws.max_column).value = "label: was wrong"
        wb.create_sheet(SUMMARY_SHEET, 0).append(["1 problem found"])
    edit_xlsx(xlsx, edit)
    assert read_for_validation(xlsx, expected_store_hash=None).issues == []


def test_bad_paths_never_raise(tmp_path):
    fifo = tmp_path / "pipe"
    import os

    os.mkfifo(fifo)
    for path in (tmp_path / "missing.xlsx", fifo):
        result = read_for_validation(path, expected_store_hash="x")
        assert len(result.issues) == 1 and result.format is None and result.meta is None


def test_csv_cells_get_the_same_checks_as_workbook_cells(folder):
    def edit(rows):
        rows[1][csv_column(rows, "sort_order")] = "1,5"
        rows[2][csv_column(rows, "purchasing_disabled")] = "perhaps"
    edit_csv(folder, "Choice values", edit)
    issues = read_for_validation(folder, expected_store_hash=None).issues
    find_issue(issues, sheet="Choice values", row=2, column="sort_order", words=("'1,5' is not a whole number",))
    find_issue(issues, sheet="Choice values", row=3, column="purchasing_disabled", words=("TRUE or FALSE", "yes/no"))


def test_a_real_export_passes_the_guard_with_no_allowance_beyond_its_own_size(xlsx, monkeypatch):
    # no fixed size and no free room: the rows allowed come from the export's own row count, the grid
    # from its own cells, the packing ratio from the bytes actually read (issue 15: bcmod never refuses
    # its own export, whatever its size)
    from pipeline.workbook import guard

    monkeypatch.setattr(guard, "GRID_FREE_CELLS", 0)
    monkeypatch.setattr(guard, "ADDED_ROWS_FLOOR", 0)
    monkeypatch.setattr(guard, "RATIO_FREE_BYTES", 64 * 1024)
    monkeypatch.setattr(guard, "MAX_RATIO", 20)  # an export's parts pack 5 to 15 to 1; the limit is 100
    result = read_for_validation(xlsx, expected_store_hash="abc123")
    assert result.issues == [] and len(result.sheets["Choice values"])
