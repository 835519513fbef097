"""Reading an export back gives the same frames, from xlsx, a CSV folder or a CSV zip."""

from __future__ import annotations

import csv
import shutil
import subprocess
import io
import zipfile
from pathlib import Path

import openpyxl
import pytest
from python_calamine import CalamineWorkbook

from pipeline.normalise import empty_frames
from pipeline.workbook.csv_files import csv_name, write_csv
from pipeline.workbook.layout import META_SHEET
from pipeline.workbook.meta import ExportMeta
from pipeline.workbook.reader import XlsxSheets, read_export, read_sheets, read_xlsx
from pipeline.workbook.split import as_in_workbook
from pipeline.workbook.writer import write_workbook
from sample_data.generator import TRICKY_LABELS
from tests.helpers import assert_frames_equal, EXTRA_TRICKY_TEXT, sample_frames

META = ExportMeta("abc123", "https://api.bigcommerce.com/stores/abc123/v3", filters={"sku:in": ["A", "B"]})
WRITERS = {
    "xlsx": lambda frames, tmp: write_workbook(frames, tmp / "export.xlsx", META),
    "csv folder": lambda frames, tmp: write_csv(frames, tmp / "export", META),
    "csv zip": lambda frames, tmp: write_csv(frames, tmp / "export", META, zip_=True),
}


@pytest.fixture(scope="module")
def frames():
    return sample_frames()


@pytest.mark.parametrize("fmt", WRITERS)
def test_round_trip_gives_the_same_frames_and_metadata(fmt, frames, tmp_path):
    path = WRITERS[fmt](frames, tmp_path)
    back, meta = read_export(path)
    assert_frames_equal(back, as_in_workbook(frames))
    labels = set(back.values["label"])
    assert set(TRICKY_LABELS) | set(EXTRA_TRICKY_TEXT) <= labels
    assert (meta.store_hash, meta.api_url, meta.filters, meta.exported_at) == (
        META.store_hash, META.api_url, META.filters, META.exported_at)
    assert len(meta.fingerprints) == len(frames.modifiers) + len(frames.values)
    assert meta.fingerprints["fingerprint"].str.fullmatch(r"[0-9a-f]{16}").all()


@pytest.mark.parametrize("fmt", WRITERS)
def test_empty_catalog_round_trips(fmt, tmp_path):
    back, meta = read_export(WRITERS[fmt](empty_frames(), tmp_path))
    assert_frames_equal(back, as_in_workbook(empty_frames()))
    assert meta.fingerprints.empty


def test_a_workbook_saved_again_by_another_program_still_reads_the_same(tmp_path):
    # openpyxl itself mangles `\r` and `_xHHHH_` text when it saves, so only the generator's labels here
    frames = sample_frames(12, extra_text=False)
    path = write_workbook(frames, tmp_path / "export.xlsx", META)
    wb = openpyxl.load_workbook(path)
    wb.save(tmp_path / "resaved.xlsx")
    back, meta = read_export(tmp_path / "resaved.xlsx")
    assert_frames_equal(back, as_in_workbook(frames))
    assert meta.store_hash == "abc123"


def test_sheets_are_indexed_by_spreadsheet_row_and_keep_the_action_and_skip_blank_rows(tmp_path):
    path = write_workbook(sample_frames(12), tmp_path / "export.xlsx", META)
    wb = openpyxl.load_workbook(path)
    ws = wb["Choice values"]
    ws["A3"] = "delete"
    for cell in ws[5]:
        cell.value = None
    wb.save(path)
    sheets, _ = read_sheets(path)
    sheet = sheets["Choice values"]
    assert sheet.index[0] == 2 and 5 not in sheet.index and 6 in sheet.index
    assert sheet.loc[3, "action"] == "delete" and sheet["action"].drop(index=3).isna().all()


def test_cells_typed_by_hand_are_read_as_their_column_kind(tmp_path):
    path = write_workbook(sample_frames(12), tmp_path / "export.xlsx", META)
    wb = openpyxl.load_workbook(path)
    ws = wb["Choice values"]
    header = [c.value for c in ws[1]]
    ws.cell(2, header.index("label") + 1).value = 17  # typed into a cell without the text format
    ws.cell(2, header.index("is_default") + 1).value = "true"
    ws.cell(2, header.index("value_id") + 1).value = "4242"
    ws.cell(2, header.index("sort_order") + 1).value = 3.0
    wb.save(path)
    row = read_sheets(path)[0]["Choice values"].loc[2]
    assert (row["label"], row["is_default"], row["value_id"], row["sort_order"]) == ("17", True, 4242, 3)


def _rewrite_csv(file: Path, edit) -> None:
    rows = list(csv.reader(io.StringIO(file.read_bytes().decode("utf-8-sig"))))
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\r\n").writerows(edit(rows))
    file.write_bytes(("\ufeff" + buffer.getvalue()).encode())


def test_csv_ids_and_booleans_in_the_shapes_spreadsheets_produce(tmp_path):
    folder = write_csv(sample_frames(12), tmp_path / "export", META)
    file = folder / csv_name("Choice values")
    header = file.read_bytes().decode("utf-8-sig").split("\r\n", 1)[0].split(",")

    def edit(rows):
        rows[1][header.index("value_id")] = "1.23E+03"
        rows[1][header.index("product_id")] = " 101.0 "
        rows[1][header.index("is_default")] = "true"
        rows[2][header.index("is_default")] = "0"
        return rows

    _rewrite_csv(file, edit)
    sheet = read_sheets(folder)[0]["Choice values"]
    assert (sheet.loc[2, "value_id"], sheet.loc[2, "product_id"]) == (1230, 101)
    assert sheet.loc[2, "is_default"] is True or sheet.loc[2, "is_default"] == True  # noqa: E712
    assert not sheet.loc[3, "is_default"]
    assert str(sheet["value_id"].dtype) == "Int64"


def test_missing_sheet_file_or_column_is_a_clear_error(tmp_path):
    frames = sample_frames(12)
    path = write_workbook(frames, tmp_path / "export.xlsx", META)
    wb = openpyxl.load_workbook(path)
    del wb["Swatch values"]
    wb.save(tmp_path / "no_sheet.xlsx")
    with pytest.raises(ValueError, match="sheet 'Swatch values' is missing"):
        read_export(tmp_path / "no_sheet.xlsx")
    wb = openpyxl.load_workbook(path)
    wb["Choice values"].delete_cols([c.value for c in wb["Choice values"][1]].index("label") + 1)
    wb.save(tmp_path / "no_column.xlsx")
    with pytest.raises(ValueError, match=r"no_column.xlsx, sheet 'Choice values'.*column 'label' is missing"):
        read_export(tmp_path / "no_column.xlsx")

    folder = write_csv(frames, tmp_path / "csv", META)
    _rewrite_csv(folder / "choice_values.csv", lambda rows: [r[:-1] for r in rows])
    with pytest.raises(ValueError, match=r"choice_values.csv: column 'purchasing_disabled_message' is missing"):
        read_export(folder)
    (folder / "_bcmod.csv").unlink()
    with pytest.raises(ValueError, match="_bcmod.csv is missing"):
        read_export(folder)


def test_a_cell_that_is_not_its_kind_names_sheet_column_and_row(tmp_path):
    path = write_workbook(sample_frames(12), tmp_path / "export.xlsx", META)
    wb = openpyxl.load_workbook(path)
    ws = wb["Checkbox values"]
    ws.cell(3, [c.value for c in ws[1]].index("value_id") + 1).value = 12.5
    wb.save(path)
    with pytest.raises(ValueError, match=r"sheet 'Checkbox values', column 'value_id', row 3: 12.5 is not a whole"):
        read_export(path)


def test_files_that_are_not_an_export(tmp_path):
    with pytest.raises(FileNotFoundError):
        read_export(tmp_path / "nothing.xlsx")
    (tmp_path / "notes.txt").write_text("hello")
    with pytest.raises(ValueError, match="not an xlsx workbook"):
        read_export(tmp_path / "notes.txt")
    with zipfile.ZipFile(tmp_path / "other.zip", "w") as archive:
        archive.writestr("readme.txt", "hi")
    with pytest.raises(ValueError, match="choice_modifiers.csv, .*_bcmod.csv are missing"):
        read_export(tmp_path / "other.zip")


def test_metadata_from_a_newer_format_is_refused(tmp_path):
    path = write_workbook(empty_frames(), tmp_path / "export.xlsx", META)
    wb = openpyxl.load_workbook(path)
    ws = wb[META_SHEET]
    for row in ws.iter_rows(min_row=2):
        if row[0].value == "format_version":
            row[1].value = "99"
    wb.save(path)
    with pytest.raises(ValueError, match="newer bcmod"):
        read_export(path)


@pytest.mark.skipif(shutil.which("libreoffice") is None, reason="LibreOffice is not installed")
def test_libreoffice_opens_the_workbook_and_its_copy_reads_back_the_same(tmp_path):
    frames = sample_frames(12, extra_text=False)
    path = write_workbook(frames, tmp_path / "in" / "export.xlsx", META)
    subprocess.run(["libreoffice", f"-env:UserInstallation=file://{tmp_path}/profile", "--headless",
                    "--convert-to", "xlsx:Calc MS Excel 2007 XML", "--outdir", str(tmp_path / "out"), str(path)],
                   check=True, capture_output=True, timeout=180)
    back, meta = read_export(tmp_path / "out" / "export.xlsx")
    assert_frames_equal(back, as_in_workbook(frames), exact=False)  # it keeps 15 significant digits
    assert meta.store_hash == META.store_hash


def test_sheets_are_given_in_the_order_asked_and_the_same_as_read_one_by_one(frames, tmp_path):
    path = WRITERS["xlsx"](frames, tmp_path)
    order = [META_SHEET, "Choice values", "Choice modifiers", "no such sheet"]
    with XlsxSheets(path, order) as sheets:
        got = [(name, table) for name, table, _ in sheets]
        assert sheets.names[-1] == META_SHEET
    assert [name for name, _ in got] == order[:3]
    assert list(read_xlsx(path, set(order)).tables) == ["Choice modifiers", "Choice values", META_SHEET]
    with CalamineWorkbook.from_path(path) as workbook:
        for name, table in got:
            rows = workbook.get_sheet_by_name(name).to_python(skip_empty_area=False)
            assert list(table.header) == rows[0]
            assert [list(c) for c in table.columns] == [list(c) for c in zip(*rows[1:])]


def test_leaving_the_sheets_early_closes_the_workbook(frames, tmp_path):
    path = WRITERS["xlsx"](frames, tmp_path)
    with XlsxSheets(path, ["Choice values", "Swatch values", META_SHEET]) as sheets:
        for name, _, _ in sheets:
            break
    assert name == "Choice values"
    assert all(future.done() for future in sheets._parsed)
