"""The workbook a person opens: structure, formats, help and metadata (inspected with openpyxl)."""

from __future__ import annotations

import zipfile
from pathlib import Path

import re

import openpyxl
import pandas as pd
import pytest
from openpyxl.utils import get_column_letter

from pipeline.normalise import empty_frames, modifier_fingerprints, value_fingerprints
from pipeline.workbook.cells import TEXT_KINDS
from pipeline.workbook.layout import META_SHEET, README_SHEET, SHEETS
from pipeline.workbook.meta import ExportMeta
from pipeline.workbook.reader import read_export
from pipeline.workbook.split import as_in_workbook, frames_to_sheets
from pipeline.workbook.widths import header_width
from pipeline.workbook.writer import BOOL_FORMAT, NEW_ROW_MARGIN, write_workbook
from sample_data.generator import TRICKY_LABELS
from tests.helpers import assert_frames_equal, sample_frames

META = ExportMeta("abc123", "https://api.bigcommerce.com/stores/abc123/v3", exported_at="2026-11-23T19:00:00+00:00",
                  filters={"id:in": [101, 102], "date_modified:min": "2026-01-01"})


@pytest.fixture(scope="module")
def frames():
    return sample_frames()


@pytest.fixture(scope="module")
def workbook_path(frames, tmp_path_factory) -> Path:
    return write_workbook(frames, tmp_path_factory.mktemp("wb") / "export.xlsx", META)


@pytest.fixture(scope="module")
def workbook(workbook_path):
    return openpyxl.load_workbook(workbook_path)


def test_sheets_readme_first_then_every_layout_sheet_then_very_hidden_metadata(workbook, workbook_path):
    assert workbook.sheetnames == [README_SHEET, *(s.name for s in SHEETS), META_SHEET]
    assert workbook.active.title == README_SHEET
    assert workbook[META_SHEET].sheet_state == "veryHidden"  # not offered by Unhide
    assert all(workbook[s.name].sheet_state == "visible" for s in SHEETS)
    with zipfile.ZipFile(workbook_path) as archive:
        assert f'name="{META_SHEET}" sheetId="{len(SHEETS) + 2}" state="veryHidden"'.encode() in \
            archive.read("xl/workbook.xml")


def test_readme_explains_how_to_edit(workbook):
    text = "\n".join(str(c.value) for c in workbook[README_SHEET]["A"] if c.value)
    for phrase in ("delete", "no id", "NOT delete", "pruning", "blank cell means the field is not set",
                   "every field that would become empty", "TRUE or FALSE", "YYYY-MM-DD", "rename"):
        assert phrase in text, phrase


def test_headers_are_bold_filtered_commented_and_frozen_with_the_identity_columns(workbook, frames):
    sheets = frames_to_sheets(frames)
    for spec in SHEETS:
        ws = workbook[spec.name]
        n_rows = len(sheets[spec.name])
        header = [c.value for c in ws[1]]
        assert header == list(spec.column_names), spec.name  # the API names the reader matches
        frozen = spec.column_names[:spec.identity]
        assert ws.freeze_panes == f"{get_column_letter(spec.identity + 1)}2", spec.name
        assert {"product_id", "product_name", "display_name"} <= set(frozen), spec.name
        assert ("label" in frozen) == (spec.kind == "values")
        assert ws.auto_filter.ref == f"A1:{ws.cell(1, len(spec.columns)).column_letter}{max(n_rows + 1, 2)}"
        for cell, column in zip(ws[1], spec.columns, strict=True):
            assert cell.font.bold and cell.font.name == "Calibri"
            assert cell.comment is not None
            heading, _, rest = cell.comment.text.partition("\n")
            assert heading == column.heading and heading != column.name and rest.startswith(column.comment)
            grey = ws.column_dimensions[cell.column_letter].fill.fgColor.rgb == "FFE7E6E6"
            assert grey == (not column.editable), (spec.name, column.name)
            assert ("Read-only" in rest) == (not column.editable)


def test_widths_fit_the_header_and_typical_values(workbook, frames):
    sheets = frames_to_sheets(frames)
    for spec in SHEETS:
        ws = workbook[spec.name]
        for cell, column in zip(ws[1], spec.columns, strict=True):
            width = ws.column_dimensions[cell.column_letter].width
            # the header whole, beside the filter button
            assert width >= round(header_width(column), 1) > len(column.name), (spec.name, column.name)
            assert width <= 42, (spec.name, column.name)
            values = sheets[spec.name][column.name].dropna()
            if column.kind in ("text", "list") and len(values):
                typical = values.astype(str).str.len().quantile(0.9, interpolation="higher")
                assert width >= min(typical, 38), (spec.name, column.name)
    names = workbook["Choice values"]
    assert names.column_dimensions["D"].width >= len("Sample product 101")  # product_name, typical length


def test_value_sheets_show_the_product_name_read_only(workbook, frames):
    names = dict(zip(frames.modifiers["product_id"], frames.modifiers["product_name"]))
    for spec in SHEETS:
        ws = workbook[spec.name]
        header = [c.value for c in ws[1]]
        assert header[:4] == ["action", "product_id", "product_sku", "product_name"]
        assert not spec.column("product_name").editable and not spec.column("product_sku").editable
        for row in ws.iter_rows(min_row=2, max_row=min(ws.max_row, 40), max_col=4, values_only=True):
            assert row[3] == names[row[1]], spec.name


def test_type_is_read_only_on_value_sheets_and_a_drop_down_on_modifier_sheets(workbook):
    for spec in SHEETS:
        ws = workbook[spec.name]
        letter = get_column_letter(spec.column_names.index("type") + 1)
        grey = ws.column_dimensions[letter].fill.fgColor.rgb == "FFE7E6E6"
        has_drop_down = any(letter in str(dv.sqref) for dv in ws.data_validations.dataValidation)
        assert grey == (spec.kind == "values") and has_drop_down == (spec.kind == "modifiers"), spec.name
        assert spec.column("type").editable == (spec.kind == "modifiers")


def test_a_day_shows_as_the_day_and_other_dates_as_exported(tmp_path, frames):
    frames = sample_frames()
    dates = frames.modifiers.index[frames.modifiers["type"] == "date"]
    frames.modifiers.loc[dates[0], "default_value"] = "2027-04-01T09:30:00+02:00"
    frames.modifiers.loc[dates[1], "default_value"] = "2027-04-01T00:00:00Z"
    path = write_workbook(frames, tmp_path / "dates.xlsx", META)
    ws = openpyxl.load_workbook(path)["Date modifiers"]
    header = [c.value for c in ws[1]]
    shown = {c: [r[header.index(c)] for r in ws.iter_rows(min_row=2, values_only=True)]
             for c in ("default_value", "date_earliest_value")}
    assert shown["default_value"][:2] == ["2027-04-01T09:30:00+02:00", "2027-04-01T00:00:00Z"]
    assert all(re.fullmatch(r"\d{4}-\d{2}-\d{2}", d) for d in shown["default_value"][2:] + shown["date_earliest_value"]
               if d is not None)
    assert all(ws.cell(r, header.index("default_value") + 1).data_type == "s" for r in range(2, ws.max_row + 1))
    back, meta = read_export(path)  # read back as exported: the fingerprints still match the store's rows
    assert_frames_equal(back, as_in_workbook(frames))
    assert back.modifiers.loc[back.modifiers["type"] == "date", "date_earliest_value"].str.endswith(
        "T00:00:00+00:00").all()


def test_swatch_colours_are_previewed_by_the_cells_fill_and_read_back_as_text(tmp_path, frames):
    frames = sample_frames()
    swatches = frames.values.index[frames.values["type"] == "swatch"]
    tests = {"#ff0000": ("solid", ["FFFF0000"], "FF000000"), "#000080": ("solid", ["FF000080"], "FFFFFFFF"),
             "#fff,#000000,#00ff00": ("linear", ["FFFFFFFF", "FF000000", "FF00FF00"], "FF000000"),
             "not a colour": (None, [], None)}
    frames.values.loc[swatches[:len(tests)], "colors"] = list(tests)
    path = write_workbook(frames, tmp_path / "colours.xlsx", META)
    ws = openpyxl.load_workbook(path)["Swatch values"]
    column = [c.value for c in ws[1]].index("colors") + 1
    for row, (text, (kind, colours, font)) in enumerate(tests.items(), start=2):
        cell = ws.cell(row, column)
        assert cell.value == text and cell.data_type == "s" and cell.number_format == "@"
        if kind is None:
            assert cell.fill.fill_type is None and cell.font.color.type == "theme"  # the default font
            continue
        if kind == "solid":
            assert cell.fill.fill_type == "solid" and [cell.fill.fgColor.rgb] == colours
        else:
            stops = cell.fill.stop
            assert cell.fill.type == "linear" and [s.color.rgb for s in stops][::2] == colours
            assert [s.position for s in stops] == sorted(s.position for s in stops)
        assert cell.font.color.rgb == font
    back, _ = read_export(path)
    assert_frames_equal(back, as_in_workbook(frames))


def test_drop_downs_on_every_enum_bool_and_action_column_with_room_for_new_rows(workbook, frames):
    sheets = frames_to_sheets(frames)
    for spec in SHEETS:
        ws = workbook[spec.name]
        last = len(sheets[spec.name]) + 1 + NEW_ROW_MARGIN
        by_range = {str(r): dv for dv in ws.data_validations.dataValidation for r in dv.sqref.ranges}
        for position, column in enumerate(spec.columns, start=1):
            letter = ws.cell(1, position).column_letter
            wanted = column.editable and column.kind in ("enum", "bool", "action")
            dv = by_range.get(f"{letter}2:{letter}{last}")
            assert (dv is not None) == wanted, (spec.name, column.name)
            if dv is not None:
                choices = ("TRUE", "FALSE") if column.kind == "bool" else column.choices
                assert dv.type == "list" and dv.formula1 == '"' + ",".join(choices) + '"'
                assert dv.showErrorMessage


def test_cells_are_typed_by_column_kind(workbook, frames):
    sheets = frames_to_sheets(frames)
    for spec in SHEETS:
        ws = workbook[spec.name]
        sheet = sheets[spec.name]
        for position, column in enumerate(spec.columns, start=1):
            letter = ws.cell(1, position).column_letter
            if column.kind in TEXT_KINDS:
                assert ws.column_dimensions[letter].number_format == "@", (spec.name, column.name)
            present = sheet[column.name].notna().to_numpy().nonzero()[0][:20]
            for index in present:
                cell = ws.cell(int(index) + 2, position)
                if column.kind in TEXT_KINDS:
                    assert cell.data_type == "s" and cell.number_format == "@", (spec.name, column.name)
                elif column.kind == "id":
                    assert isinstance(cell.value, int) and cell.number_format == "0"
                elif column.kind == "bool":
                    assert cell.data_type == "b" and cell.number_format == BOOL_FORMAT
                else:
                    assert cell.data_type == "n"
            missing = sheet[column.name].isna().to_numpy().nonzero()[0][:5]
            assert all(ws.cell(int(i) + 2, position).value is None for i in missing)


def test_tricky_labels_are_text_cells_and_a_formula_lookalike_is_not_a_formula(workbook, workbook_path):
    ws = workbook["Choice values"]
    label_column = [c.value for c in ws[1]].index("label") + 1
    cells = {ws.cell(r, label_column).value: ws.cell(r, label_column) for r in range(2, ws.max_row + 1)}
    for label in TRICKY_LABELS:
        assert cells[label].data_type == "s", label
    assert cells["=SUM(A1)"].value == "=SUM(A1)"
    with zipfile.ZipFile(workbook_path) as archive:
        parts = [n for n in archive.namelist() if n.startswith("xl/worksheets/sheet")]
        assert not any(b"<f>" in archive.read(n) for n in parts)


def test_metadata_records_the_export_and_a_fingerprint_per_row(workbook, frames):
    ws = workbook[META_SHEET]
    rows = list(ws.iter_rows(values_only=True))
    assert rows[0] == ("key", "value", "sheet", "row", "kind", "id", "fingerprint")
    items = {r[0]: r[1] for r in rows[1:] if r[0]}
    assert items["store_hash"] == "abc123" and items["exported_at"] == META.exported_at
    assert items["api_url"] == "https://api.bigcommerce.com/stores/abc123/v3"
    assert items["format_version"] == "1" and '"id:in": [101, 102]' in items["filters"]
    table = [r[2:] for r in rows[1:] if r[2]]
    assert len(table) == len(frames.modifiers) + len(frames.values)
    sheets = frames_to_sheets(frames)
    expected = {}
    for spec in SHEETS:
        sheet = sheets[spec.name].drop(columns="action")
        digest = modifier_fingerprints(sheet) if spec.kind == "modifiers" else value_fingerprints(sheet)
        id_column = "modifier_id" if spec.kind == "modifiers" else "value_id"
        for index, fp in digest.items():
            expected[(spec.name, index + 2)] = (sheet.at[index, id_column], fp)
    for sheet_name, row, kind, entity_id, cell in table:
        fp = cell.split("|", 1)[0]  # the cell also carries the row's record (meta.RECORD_DTYPES)
        assert expected[(sheet_name, row)] == (entity_id, fp)
        id_header = "modifier_id" if kind == "modifier" else "value_id"
        column = [c.value for c in workbook[sheet_name][1]].index(id_header) + 1
        assert workbook[sheet_name].cell(row, column).value == entity_id


def test_no_credentials_end_up_in_the_file(tmp_path, frames):
    meta = ExportMeta("abc123", "https://user:s3cret-token@api.example.test/stores/abc123/v3?access_token=s3cret-token")
    path = write_workbook(frames, tmp_path / "x.xlsx", meta)
    with zipfile.ZipFile(path) as archive:
        assert not any(b"s3cret-token" in archive.read(n) for n in archive.namelist())


def test_empty_catalog_writes_every_sheet_with_headers(tmp_path):
    path = write_workbook(empty_frames(), tmp_path / "empty.xlsx", META)
    wb = openpyxl.load_workbook(path)
    assert wb.sheetnames == [README_SHEET, *(s.name for s in SHEETS), META_SHEET]
    for spec in SHEETS:
        assert [c.value for c in wb[spec.name][1]] == list(spec.column_names)
        assert wb[spec.name].max_row == 1
        assert wb[spec.name].data_validations.dataValidation  # still there for new rows


def test_writing_replaces_the_file_whole(tmp_path, frames):
    path = tmp_path / "again.xlsx"
    path.write_bytes(b"old")
    write_workbook(frames, path, META)
    assert zipfile.is_zipfile(path)
    assert [p.name for p in tmp_path.iterdir()] == ["again.xlsx"]
    assert len(pd.read_excel(path, sheet_name="Choice values", engine="calamine")) == (frames.values["type"].isin(
        SHEETS[8].types)).sum()


def test_the_package_is_well_formed_and_every_part_declared(workbook_path):
    """Written as XML text (no openpyxl): every part parses, is declared in the manifest or by extension,
    every relationship points at a part, and each note has its shape in the sheet's VML drawing."""
    from lxml import etree

    from pipeline.workbook.package import read_relationships, sheet_parts

    with zipfile.ZipFile(workbook_path) as archive:
        names = set(archive.namelist())
        roots = {name: etree.fromstring(archive.read(name)) for name in names}
        types = roots["[Content_Types].xml"]
        overrides = {e.get("PartName").lstrip("/") for e in types if e.tag.endswith("Override")}
        defaults = {e.get("Extension") for e in types if e.tag.endswith("Default")}
        assert all(name in overrides or name.rsplit(".", 1)[1] in defaults for name in names)
        assert overrides <= names
        for source in ["", *names]:
            for rel in read_relationships(archive, source):
                assert rel.part in names, (source, rel)
        parts = sheet_parts(archive)
        assert list(parts) == [README_SHEET, *(s.name for s in SHEETS), META_SHEET]
        shape_ids = []
        for title, part in parts.items():
            rels = {r.kind: r.part for r in read_relationships(archive, part)}
            if title in (README_SHEET, META_SHEET):
                assert not rels
                continue
            comments = [c.get("ref") for c in roots[rels["comments"]].iter("{*}comment")]
            vml = roots[rels["vmlDrawing"]]
            shapes = list(vml.iter("{urn:schemas-microsoft-com:vml}shape"))
            columns = [int(s.find(".//{urn:schemas-microsoft-com:office:excel}Column").text) for s in shapes]
            assert comments == [f"{get_column_letter(c + 1)}1" for c in columns], title
            shape_ids += [s.get("id") for s in shapes]
        assert len(shape_ids) == len(set(shape_ids))  # unique across the workbook, as Excel wants
        workbook_xml = roots["xl/workbook.xml"]
        titles = [n.text for n in workbook_xml.iter("{*}definedName") if n.get("name") == "_xlnm.Print_Titles"]
        assert len(titles) == len(SHEETS) + 1 and all(t.endswith("!$1:$1") for t in titles)
