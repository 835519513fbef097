"""The bad-input catalogue (BRIEF §7): each case starts from a real export of a sandbox store, is
mangled the way a person or a spreadsheet would, and must give a clear issue at the right sheet,
row and column, with no traceback and no write request sent. Tolerated inputs validate clean."""

from __future__ import annotations

import asyncio
import datetime as dt
import random
import shutil
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from openpyxl.utils import get_column_letter

from pipeline.export import export_store
from pipeline.validate.command import validate_file
from pipeline.workbook.guard import sheet_limits
from pipeline.workbook.layout import META_SHEET
from sample_data.generator import png_bytes
from tests.pipeline.validate import hostile
from tests.pipeline.validate.exports import (
    Export,
    assert_no_writes,
    column_of,
    csv_column,
    edit_csv,
    edit_xlsx,
    find_issue,
    first_row,
    make_export,
    set_cell,
)
from tests.stores import sandbox_store


@pytest.fixture(scope="module")
def export(tmp_path_factory) -> Export:
    return make_export(tmp_path_factory.mktemp("catalogue"), products=30)


@dataclass(frozen=True)
class Expect:
    sheet: str | None
    row: int | None
    column: str | None
    words: tuple[str, ...]
    file: str | None = None


Case = Callable[[Export, Path], tuple[Path, Expect]]
CASES: dict[str, Case] = {}


def case(name: str) -> Callable[[Case], Case]:
    def register(function: Case) -> Case:
        assert name not in CASES, name
        CASES[name] = function
        return function
    return register


def _edited(export: Export, tmp: Path, edit: Callable) -> Path:
    """A copy of the exported workbook, edited with openpyxl."""
    path = export.copy_xlsx(tmp)
    edit_xlsx(path, edit)
    return path


def _xlsx_cell(export: Export, tmp: Path, sheet: str, column: str, value, *, row: int = 2,
               data_type: str | None = None) -> Path:
    return _edited(export, tmp, lambda wb: set_cell(wb[sheet], row, column, value, data_type=data_type))


def _csv_cell(export: Export, tmp: Path, sheet: str, column: str, value: str, *, row: int = 2) -> Path:
    folder = export.copy_csv(tmp)

    def edit(rows):
        rows[row - 1][csv_column(rows, column)] = value
    edit_csv(folder, sheet, edit)
    return folder


# --- the file as a whole ---------------------------------------------------------------------------------


@case("text file renamed .xlsx")
def _(export, tmp):
    path = tmp / "export.xlsx"
    path.write_text("product_id,label\n101,Red\n")
    return path, Expect(None, None, None, ("text file", "not an xlsx workbook"))


@case("PDF renamed .xlsx")
def _(export, tmp):
    path = tmp / "export.xlsx"
    path.write_bytes(b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<<>>\nendobj\n")
    return path, Expect(None, None, None, ("PDF", "not an xlsx workbook"))


@case("random bytes")
def _(export, tmp):
    path = tmp / "export.xlsx"
    path.write_bytes(b"\x00\x9f" + random.Random(7).randbytes(4096))
    return path, Expect(None, None, None, ("does not recognise", "not an xlsx workbook"))


@case("old Excel 97-2003 file")
def _(export, tmp):
    path = tmp / "export.xls"
    path.write_bytes(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(504))
    return path, Expect(None, None, None, ("97-2003", "Excel Workbook (.xlsx)"))


@case("empty file")
def _(export, tmp):
    path = tmp / "export.xlsx"
    path.write_bytes(b"")
    return path, Expect(None, None, None, ("empty",))


@case("one CSV file instead of the folder")
def _(export, tmp):
    path = tmp / "choice_values.csv"
    shutil.copyfile(export.csv / "choice_values.csv", path)
    return path, Expect(None, None, None, ("single CSV file", "folder"))


@case("truncated workbook (corrupt zip)")
def _(export, tmp):
    path = tmp / "export.xlsx"
    data = export.xlsx.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    return path, Expect(None, None, None, ("damaged",))


@case("damaged sheet inside the workbook")
def _(export, tmp):
    path = tmp / "export.xlsx"
    data = bytearray(export.xlsx.read_bytes())
    with zipfile.ZipFile(export.xlsx) as archive:
        info = archive.getinfo("xl/worksheets/sheet10.xml")  # a data sheet
    start = info.header_offset + 30 + len(info.filename.encode()) + len(info.extra)
    for offset in range(start + 20, start + min(info.compress_size, 400), 7):
        data[offset] ^= 0x5A
    path.write_bytes(bytes(data))
    return path, Expect(None, None, None, ("damaged",))


@case("zip bomb: compressed more than 100 times")
def _(export, tmp):
    path = tmp / "export.xlsx"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("xl/workbook.xml", "<workbook/>")
        archive.writestr("xl/worksheets/sheet1.xml", bytes(8 * 2**20))
    return path, Expect(None, None, None, ("zip bomb", "xl/worksheets/sheet1.xml"))


@case("zip bomb: declared sizes lie")
def _(export, tmp):
    path = hostile.with_false_sizes(export.xlsx, tmp / "export.xlsx", inflated_mb=256)
    part = hostile.part_of(export.xlsx, "Choice values")
    return path, Expect(None, None, None, ("sizes are false", "zip bomb", part))


@case("stray cell far to the right (XFD100000)")
def _(export, tmp):
    path = hostile.with_stray_cell(export.xlsx, tmp / "export.xlsx", "XFD100000")
    return path, Expect("Choice values", 100000, "column XFD", ("cell XFD100000", "far to the right"))


@case("stray cell far below (Q900000)")
def _(export, tmp):
    path = hostile.with_stray_cell(export.xlsx, tmp / "export.xlsx", "Q900000", sheet="Swatch values")
    return path, Expect("Swatch values", 900000, "column Q", ("cell Q900000", "past row"))


@case("junk rows far past the export's own rows")
def _(export, tmp):
    path = hostile.with_junk_rows(export.xlsx, tmp / "export.xlsx", 101_000)
    first = hostile.first_row_past(export.xlsx, "Choice values")
    return path, Expect("Choice values", first, "column B", (f"cell B{first} is past row", "the export had"))


@case("CSV file with a row of thousands of cells")
def _(export, tmp):
    folder = export.copy_csv(tmp)
    edit_csv(folder, "Choice values", lambda rows: rows[2].extend([""] * 16_000))
    column = get_column_letter(sheet_limits("Choice values").columns + 1)
    return folder, Expect("Choice values", 3, f"column {column}", ("row 3 has 16,0", "far more than this file's "
                          "columns"), file="choice_values.csv")


@case("OpenDocument spreadsheet renamed .xlsx")
def _(export, tmp):
    path = tmp / "export.xlsx"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("mimetype", "application/vnd.oasis.opendocument.spreadsheet")
        archive.writestr("content.xml", "<office:document-content/>")
    return path, Expect(None, None, None, ("OpenDocument", "Excel 2007-365 (.xlsx)"))


@case("zip of something else")
def _(export, tmp):
    path = tmp / "export.xlsx"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("word/document.xml", "<document/>")
    return path, Expect(None, None, None, ("neither an xlsx workbook nor the CSV files",))


# --- sheets and files ------------------------------------------------------------------------------------


@case("missing sheet")
def _(export, tmp):
    return (_edited(export, tmp, lambda wb: wb.remove(wb["Swatch values"])),
            Expect("Swatch values", None, None, ("sheet 'Swatch values' is missing",)))


@case("renamed sheet")
def _(export, tmp):
    return (_edited(export, tmp, lambda wb: setattr(wb["Swatch values"], "title", "Swatches")),
            Expect("Swatch values", None, None, ("renamed", "'Swatches'", "rename it back")))


@case("extra sheet")
def _(export, tmp):
    return (_edited(export, tmp, lambda wb: wb.create_sheet("My notes").append(["call supplier"])),
            Expect("My notes", None, None, ("not part of a bcmod export",)))


@case("missing CSV file")
def _(export, tmp):
    folder = export.copy_csv(tmp)
    (folder / "swatch_values.csv").unlink()
    return folder, Expect("Swatch values", None, None, ("'swatch_values.csv' is missing",), file="swatch_values.csv")


@case("missing metadata sheet")
def _(export, tmp):
    return (_edited(export, tmp, lambda wb: wb.remove(wb[META_SHEET])),
            Expect(META_SHEET, None, None, ("hidden sheet", "missing", "which store")))


@case("garbled metadata sheet")
def _(export, tmp):
    def edit(wb):
        ws = wb[META_SHEET]
        set_cell(ws, first_row(ws, key="format_version"), "value", "version one")
    return _edited(export, tmp, edit), Expect(META_SHEET, None, None, ("damaged", "format_version"))


@case("workbook exported from a different store")
def _(export, tmp):
    def edit(wb):
        ws = wb[META_SHEET]
        set_cell(ws, first_row(ws, key="store_hash"), "value", "otherstore")
    return (_edited(export, tmp, edit),
            Expect(META_SHEET, None, "store_hash", ("exported from store 'otherstore'", "'sandbox'")))


# --- columns ---------------------------------------------------------------------------------------------


@case("missing column")
def _(export, tmp):
    return (_edited(export, tmp, lambda wb: wb["Choice values"].delete_cols(column_of(wb["Choice values"], "label"))),
            Expect("Choice values", 1, "label", ("column 'label' is missing",)))


@case("renamed column")
def _(export, tmp):
    path = _xlsx_cell(export, tmp, "Choice values", "label", "Label text", row=1)
    return path, Expect("Choice values", 1, "label", ("renamed", "'Label text'", "rename it back to 'label'"))


@case("duplicated column")
def _(export, tmp):
    def edit(wb):
        ws = wb["Choice values"]
        source, target = column_of(ws, "label"), ws.max_column + 1
        for row in range(1, ws.max_row + 1):
            ws.cell(row, target).value = ws.cell(row, source).value
            ws.cell(row, target).data_type = "s"  # openpyxl would take =SUM(A1) for a formula
    return _edited(export, tmp, edit), Expect("Choice values", 1, "label", ("appears 2 times", "delete the others"))


def _with_column(export: Export, tmp: Path, sheet: str, header: str, row: int, value) -> Path:
    """The export with a column added after the last one, holding one value."""
    def edit(wb):
        ws = wb[sheet]
        column = ws.max_column + 1
        ws.cell(1, column).value = header
        ws.cell(row, column).value = value
    return _edited(export, tmp, edit)


@case("extra column")
def _(export, tmp):
    return (_with_column(export, tmp, "Choice values", "Notes", 3, "ask Sam"),
            Expect("Choice values", 1, "Notes", ("not part of this sheet", "delete the column")))


@case("config field that does not belong to the type")
def _(export, tmp):
    return (_with_column(export, tmp, "Text modifiers", "file_max_size", 2, 2048),
            Expect("Text modifiers", 1, "file_max_size", ("belongs to file", "sheet 'File modifiers'")))


# --- ids, formulas, errors, merged cells, blank rows ------------------------------------------------------


@case("id in scientific notation (CSV saved by Excel)")
def _(export, tmp):
    return (_csv_cell(export, tmp, "Choice values", "value_id", "1.23E+05"),
            Expect("Choice values", 2, "value_id", ("scientific notation", "type the full id"),
                   file="choice_values.csv"))


@case("id in scientific notation (text cell)")
def _(export, tmp):
    return (_xlsx_cell(export, tmp, "Product list values", "linked_product_id", "1.05E+02", data_type="s"),
            Expect("Product list values", 2, "linked_product_id", ("scientific notation",)))


@case("id with decimals")
def _(export, tmp):
    return (_xlsx_cell(export, tmp, "Checkbox values", "value_id", 123.5, row=3),
            Expect("Checkbox values", 3, "value_id", ("123.5 is not a whole number", "ids have no decimals")))


@case("id too large to be one (a number cell of 1E+20)")
def _(export, tmp):
    return (_xlsx_cell(export, tmp, "Choice values", "modifier_id", 1e20, row=3),
            Expect("Choice values", 3, "modifier_id", ("100000000000000000000 is too large to be an id", "type the number in full")))


@case("whole number too large (CSV)")
def _(export, tmp):
    return (_csv_cell(export, tmp, "Choice modifiers", "sort_order", "99999999999999999999"),
            Expect("Choice modifiers", 2, "sort_order", ("too large to be a whole number here",),
                   file="choice_modifiers.csv"))


@case("id that is not a number")
def _(export, tmp):
    return (_xlsx_cell(export, tmp, "Date modifiers", "product_id", "SKU-000101"),
            Expect("Date modifiers", 2, "product_id", ("'SKU-000101' is not an id", "whole numbers")))


@case("TRUE typed into an id column")
def _(export, tmp):
    return (_xlsx_cell(export, tmp, "Swatch values", "modifier_id", True, row=3),
            Expect("Swatch values", 3, "modifier_id", ("TRUE is not an id",)))


@case("formula")
def _(export, tmp):
    return (_xlsx_cell(export, tmp, "Choice values", "sort_order", "=1+1", row=4),
            Expect("Choice values", 4, "sort_order", ("formula", "=1+1", "type the value itself")))


@case("error cell #REF!")
def _(export, tmp):
    return (_xlsx_cell(export, tmp, "Choice values", "price_adjuster_value", "#REF!", row=5, data_type="e"),
            Expect("Choice values", 5, "price_adjuster_value", ("error #REF!",)))


@case("error value #N/A in a CSV file")
def _(export, tmp):
    return (_csv_cell(export, tmp, "Swatch values", "label", "#N/A", row=3),
            Expect("Swatch values", 3, "label", ("error #N/A",), file="swatch_values.csv"))


@case("merged cells")
def _(export, tmp):
    def edit(wb):
        ws = wb["Choice values"]
        column = column_of(ws, "label")
        ws.merge_cells(start_row=3, start_column=column, end_row=4, end_column=column)
    return _edited(export, tmp, edit), Expect("Choice values", 3, "label", ("merged", "unmerge"))


@case("blank row in the middle")
def _(export, tmp):
    def edit(wb):
        for cell in wb["Choice values"][6]:
            cell.value = None
    return _edited(export, tmp, edit), Expect("Choice values", 6, None, ("row 6 is blank", "delete the blank rows"))


# --- rows that read but do not make sense (the schemas and cross-row checks) ----------------------------


@case("duplicate ids")
def _(export, tmp):
    def edit(wb):
        ws = wb["Choice values"]
        set_cell(ws, 3, "value_id", ws.cell(2, column_of(ws, "value_id")).value)
    return (_edited(export, tmp, edit),
            Expect("Choice values", 3, "value_id", ("is also on", "row 2", "exactly one row")))


@case("value row pointing at an unknown modifier")
def _(export, tmp):
    return (_xlsx_cell(export, tmp, "Choice values", "modifier_id", 987654),
            Expect("Choice values", 2, "modifier_id", ("987654",)))


@case("unknown type")
def _(export, tmp):
    return (_xlsx_cell(export, tmp, "Choice modifiers", "type", "slider"),
            Expect("Choice modifiers", 2, "type", ("'slider' is not a type", "dropdown")))


@case("swatch colour by name")
def _(export, tmp):
    path = export.copy_xlsx(tmp)
    row = edit_xlsx(path, lambda wb: _set_colors(wb, "red"))
    return path, Expect("Swatch values", row, "colors", ("'red'",))


@case("four swatch colours")
def _(export, tmp):
    path = export.copy_xlsx(tmp)
    row = edit_xlsx(path, lambda wb: _set_colors(wb, "#000000,#111111,#222222,#333333"))
    return path, Expect("Swatch values", row, "colors", ("at most 3",))


def _set_colors(wb, colors: str) -> int:
    ws = wb["Swatch values"]
    column = column_of(ws, "colors")
    row = next(r for r in range(2, ws.max_row + 1) if ws.cell(r, column).value)
    ws.cell(row, column).value = colors
    return row


@case("negative file size")
def _(export, tmp):
    return (_xlsx_cell(export, tmp, "File modifiers", "file_max_size", -1),
            Expect("File modifiers", 2, "file_max_size", ("from 0 to 524288",)))


@case("huge file size")
def _(export, tmp):
    return (_xlsx_cell(export, tmp, "File modifiers", "file_max_size", 10**9),
            Expect("File modifiers", 2, "file_max_size", ("from 0 to 524288",)))


@case("min above max")
def _(export, tmp):
    def edit(wb):
        ws = wb["Number modifiers"]
        set_cell(ws, 2, "number_lowest_value", 20)
        set_cell(ws, 2, "number_highest_value", 7.5)
    return (_edited(export, tmp, edit),
            Expect("Number modifiers", 2, "number_lowest_value", ("greater than highest value 7.5",)))


@case("earliest date after latest")
def _(export, tmp):
    def edit(wb):
        ws = wb["Date modifiers"]
        set_cell(ws, 2, "date_earliest_value", "2030-01-01")
        set_cell(ws, 2, "date_latest_value", "2029-12-31")
    return (_edited(export, tmp, edit),
            Expect("Date modifiers", 2, "date_earliest_value", ("is after date_latest_value",)))


@case("two defaults on one modifier")
def _(export, tmp):
    def edit(wb):
        ws = wb["Choice values"]
        set_cell(ws, 2, "is_default", True)
        set_cell(ws, 3, "is_default", True)
    return _edited(export, tmp, edit), Expect("Choice values", 3, "is_default", ("default",))


@case("product list offers a product that does not exist")
def _(export, tmp):
    return (_xlsx_cell(export, tmp, "Product list values", "linked_product_id", 99999),
            Expect("Product list values", 2, "linked_product_id", ("product 99999 does not exist",)))


@case("row for a product that does not exist")
def _(export, tmp):
    return (_edited(export, tmp, lambda wb: set_cell(wb["Text modifiers"], 2, "product_id", 99999)),
            Expect("Text modifiers", 2, "product_id", ("product 99999 does not exist",)))


# --- dates -----------------------------------------------------------------------------------------------


@case("date as an Excel serial number")
def _(export, tmp):
    return (_xlsx_cell(export, tmp, "Date modifiers", "default_value", 46096),
            Expect("Date modifiers", 2, "default_value", ("serial number", "2026-03-15", "YYYY-MM-DD")))


@case("date in a locale format")
def _(export, tmp):
    return (_xlsx_cell(export, tmp, "Date modifiers", "date_latest_value", "03/15/2026", row=3),
            Expect("Date modifiers", 3, "date_latest_value", ("ambiguous", "YYYY-MM-DD")))


@case("date in a locale format in a CSV file")
def _(export, tmp):
    return (_csv_cell(export, tmp, "Date modifiers", "default_value", "15.03.2026"),
            Expect("Date modifiers", 2, "default_value", ("ambiguous", "YYYY-MM-DD"), file="date_modifiers.csv"))


# --- CSV encodings and separators -----------------------------------------------------------------------


@case("CSV saved in latin-1")
def _(export, tmp):
    folder = export.copy_csv(tmp)

    def edit(rows):
        rows[3][csv_column(rows, "label")] = "Crème brûlée"
    edit_csv(folder, "Choice values", edit, encoding="cp1252", bom=False)
    return folder, Expect("Choice values", 4, None, ("not saved as UTF-8", "line 4", "CSV UTF-8"),
                          file="choice_values.csv")


@case("CSV separated by semicolons")
def _(export, tmp):
    folder = export.copy_csv(tmp)
    edit_csv(folder, "Checkbox values", lambda rows: None, delimiter=";")
    return folder, Expect("Checkbox values", 1, None, ("semicolons", "CSV UTF-8 (Comma delimited)"),
                          file="checkbox_values.csv")


# --- image paths ----------------------------------------------------------------------------------------


def _image_case(export: Export, tmp: Path, image_url: str) -> Path:
    return _xlsx_cell(export, tmp, "Choice values", "image_url", image_url, row=3)


@case("image path outside the workbook folder")
def _(export, tmp):
    (tmp / "work").mkdir()
    (tmp / "secret.png").write_bytes(png_bytes(b"\x00\x00\x00"))
    path = _image_case(export, tmp / "work", "../secret.png")
    return path, Expect("Choice values", 3, "image_url", ("outside the folder",))


@case("absolute image path")
def _(export, tmp):
    return _image_case(export, tmp, "/etc/hostname"), Expect("Choice values", 3, "image_url", ("outside the folder",))


@case("image path on a Windows computer")
def _(export, tmp):
    return (_image_case(export, tmp, r"C:\Users\sam\Pictures\red.png"),
            Expect("Choice values", 3, "image_url", ("path on your computer",)))


@case("missing image file")
def _(export, tmp):
    return _image_case(export, tmp, "images/red.png"), Expect("Choice values", 3, "image_url", ("no such image file",))


@case("image over 8 MB")
def _(export, tmp):
    (tmp / "images").mkdir()
    with (tmp / "images" / "huge.png").open("wb") as handle:
        handle.write(png_bytes(b"\xff\x00\x00"))
        handle.truncate(8 * 2**20 + 1)
    return _image_case(export, tmp, "images/huge.png"), Expect("Choice values", 3, "image_url", ("at most 8 MB",))


@case("file that is not an image")
def _(export, tmp):
    (tmp / "red.png").write_text("not really a picture")
    return _image_case(export, tmp, "red.png"), Expect("Choice values", 3, "image_url", ("is not an image",))


@case("image link that is not a web address")
def _(export, tmp):
    return (_image_case(export, tmp, "ftp://example.com/red.png"),
            Expect("Choice values", 3, "image_url", ("https://",)))


# --- the test ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", list(CASES))
def test_bad_input_gives_a_clear_issue_and_sends_nothing(name, export, tmp_path):
    path, expect = CASES[name](export, tmp_path)
    outcome = export.validate(path)  # raises nothing, and checks the store saw no write
    issue = find_issue(outcome.issues, sheet=expect.sheet, row=expect.row, column=expect.column, words=expect.words,
                       file=expect.file)
    assert not outcome.ok
    for found in outcome.issues:
        assert found.message and "Traceback" not in found.message and "Error(" not in found.message, found
    assert issue.file == (expect.file or path.name)


def test_the_catalogue_covers_at_least_forty_cases():
    assert len(CASES) >= 40


def test_every_problem_is_reported_in_one_pass(export, tmp_path):
    path = export.copy_xlsx(tmp_path)

    def edit(wb):
        set_cell(wb["Choice values"], 2, "sort_order", "=1+1")
        set_cell(wb["File modifiers"], 3, "file_max_size", -5)
        set_cell(wb["Date modifiers"], 2, "default_value", "03/15/2026")
        wb["Swatch values"].title = "Swatches"
    edit_xlsx(path, edit)
    outcome = export.validate(path)
    places = {(i.sheet, i.row, i.column) for i in outcome.issues}
    assert {("Choice values", 2, "sort_order"), ("File modifiers", 3, "file_max_size"),
            ("Date modifiers", 2, "default_value"), ("Swatch values", None, None)} <= places


def test_a_cell_the_reader_reports_is_not_reported_again_by_the_schemas(export, tmp_path):
    path = _xlsx_cell(export, tmp_path, "Date modifiers", "default_value", "03/15/2026")
    outcome = export.validate(path)
    assert [(i.sheet, i.row, i.column) for i in outcome.issues] == [("Date modifiers", 2, "default_value")]


# --- tolerated: what spreadsheets do to a file that is still unambiguous ----------------------------------


Tolerated = Callable[[Export, Path], Path]
TOLERATED: dict[str, Tolerated] = {}


def tolerated(name: str) -> Callable[[Tolerated], Tolerated]:
    def register(function: Tolerated) -> Tolerated:
        TOLERATED[name] = function
        return function
    return register


@tolerated("untouched workbook")
def _(export, tmp):
    return export.copy_xlsx(tmp)


@tolerated("untouched CSV folder")
def _(export, tmp):
    return export.copy_csv(tmp)


@tolerated("CSV zip")
def _(export, tmp):
    path = tmp / "export.zip"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for file in export.csv.iterdir():
            archive.write(file, f"export/{file.name}")
    return path


@tolerated("workbook saved again by openpyxl")
def _(export, tmp):
    return _edited(export, tmp, lambda wb: None)


@tolerated("ids as 123.0, text, with spaces or an apostrophe")
def _(export, tmp):
    def edit(wb):
        ws = wb["Choice values"]
        for row, shape in zip((2, 3, 4, 5), ("{}.0", "{}", " {} ", "'{}"), strict=True):
            for name in ("product_id", "value_id"):
                cell = ws.cell(row, column_of(ws, name))
                cell.value = shape.format(cell.value)
                cell.data_type = "s"
        ws = wb["Product list values"]
        cell = ws.cell(2, column_of(ws, "linked_product_id"))
        cell.value = float(cell.value)
    return _edited(export, tmp, edit)


@tolerated("ids as 123.0 and with spaces in CSV")
def _(export, tmp):
    folder = export.copy_csv(tmp)

    def edit(rows):
        rows[1][csv_column(rows, "value_id")] += ".0"
        rows[2][csv_column(rows, "product_id")] = f" {rows[2][csv_column(rows, 'product_id')]} "
        rows[3][csv_column(rows, "modifier_id")] = "'" + rows[3][csv_column(rows, "modifier_id")]
    edit_csv(folder, "Choice values", edit)
    return folder


@tolerated("booleans as TRUE, yes, 1, x and their opposites")
def _(export, tmp):
    def edit(wb):
        ws = wb["Choice modifiers"]
        column = column_of(ws, "required")
        truthy, falsy = iter(("TRUE", "yes", "1", "x", "Y", "true")), iter(("FALSE", "no", "0", "No", "false"))
        for row in range(2, ws.max_row + 1):
            cell = ws.cell(row, column)
            cell.value = next(truthy if cell.value else falsy, "TRUE" if cell.value else "FALSE")
            cell.data_type = "s"
    return _edited(export, tmp, edit)


@tolerated("numbers stored as text")
def _(export, tmp):
    def edit(wb):
        ws = wb["Choice values"]
        for name in ("sort_order", "price_adjuster_value", "weight_adjuster_value"):
            column = column_of(ws, name)
            for row in range(2, ws.max_row + 1):
                cell = ws.cell(row, column)
                if cell.value is not None:
                    cell.value, cell.data_type = str(cell.value), "s"
    return _edited(export, tmp, edit)


@tolerated("reordered columns and a header in another case")
def _(export, tmp):
    def edit(wb):
        ws = wb["Choice values"]
        rows = [[c.value for c in row] for row in ws.iter_rows()]
        order = list(reversed(range(len(rows[0]))))
        for r, values in enumerate(rows, start=1):
            for c, source in enumerate(order, start=1):
                ws.cell(r, c).value = values[source]
                if isinstance(values[source], str):
                    ws.cell(r, c).data_type = "s"  # openpyxl would take =SUM(A1) for a formula
        ws.cell(1, [row for row in rows[0]][::-1].index("label") + 1).value = "Label"
    return _edited(export, tmp, edit)


@tolerated("trailing blank rows")
def _(export, tmp):
    def edit(wb):
        ws = wb["Choice values"]
        last = ws.max_row
        for row in range(last + 1, last + 6):
            ws.cell(row, 1).value = ""
            ws.cell(row, 3).value = None
            ws.cell(row, 3).number_format = "@"
    return _edited(export, tmp, edit)


@tolerated("trailing blank lines in CSV, no byte-order mark")
def _(export, tmp):
    folder = export.copy_csv(tmp)
    edit_csv(folder, "Choice values", lambda rows: rows.extend([[""] * len(rows[0]), []]), bom=False)
    return folder


@tolerated("real date cells in date columns")
def _(export, tmp):
    def edit(wb):
        ws = wb["Date modifiers"]
        cell = ws.cell(2, column_of(ws, "default_value"))
        cell.value = dt.date.fromisoformat(cell.value[:10])
        cell.number_format = "yyyy-mm-dd"
    return _edited(export, tmp, edit)


@tolerated("an image file inside the workbook folder")
def _(export, tmp):
    (tmp / "images").mkdir()
    (tmp / "images" / "red.png").write_bytes(png_bytes(b"\xff\x00\x00"))
    return _image_case(export, tmp, "images/red.png")


@pytest.mark.parametrize("name", list(TOLERATED))
def test_tolerated_input_validates_clean(name, export, tmp_path):
    path = TOLERATED[name](export, tmp_path)
    outcome = export.validate(path)
    assert outcome.issues == [], "\n".join(map(str, outcome.issues))
    assert outcome.rows > 300


@pytest.mark.parametrize(("name", "sheet", "columns"), [
    ("ids as 123.0, text, with spaces or an apostrophe", "Choice values", ["product_id", "value_id"]),
    ("booleans as TRUE, yes, 1, x and their opposites", "Choice modifiers", ["required"]),
    ("numbers stored as text", "Choice values", ["sort_order", "price_adjuster_value"]),
    ("reordered columns and a header in another case", "Choice values", ["label", "value_id"]),
])
def test_tolerated_cells_read_as_what_they_mean(name, sheet, columns, export, tmp_path):
    edited = export.validate(TOLERATED[name](export, tmp_path)).sheets[sheet]
    original = export.validate(export.xlsx).sheets[sheet]
    assert edited[columns].equals(original[columns])


# --- any valid export validates clean ----------------------------------------------------------------------


@settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(n_products=st.integers(min_value=0, max_value=40), seed=st.integers(min_value=0, max_value=10_000),
       as_csv=st.booleans())
def test_any_valid_export_validates_with_zero_issues(n_products, seed, as_csv, tmp_path_factory):
    folder = tmp_path_factory.mktemp("valid")
    store = sandbox_store(folder / "store", products=n_products, seed=seed)
    result = asyncio.run(export_store(store.settings, folder / ("csv" if as_csv else "export.xlsx"), csv=as_csv,
                                      transport=store.transport()))
    outcome = validate_file(result.path, settings=store.settings, transport=store.transport())
    assert outcome.issues == [], "\n".join(map(str, outcome.issues))
    assert outcome.rows == result.modifiers + result.values
    assert_no_writes(store)
