"""Annotated copies of a workbook, streamed through its package (and through openpyxl when refused).

The copies are read back with openpyxl and python-calamine; the sources are exports written by our
writer, the same re-saved by openpyxl (as a person's edit is) and by LibreOffice.
"""

from __future__ import annotations

import logging
import re
import shutil
import subprocess
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import openpyxl
import pytest
from python_calamine import CalamineWorkbook

from pipeline.normalise import products_to_frames
from pipeline.workbook import annotate
from pipeline.workbook.annotate import (
    Link,
    Look,
    Note,
    SheetNotes,
    SummarySheet,
    UnreadableWorkbook,
    annotate_copy,
)
from pipeline.workbook.layout import META_SHEET, README_SHEET, SHEETS
from pipeline.workbook.meta import ExportMeta
from pipeline.workbook.writer import write_workbook
from sample_data.generator import as_api_products, generate_catalog

META = ExportMeta("abc123", "https://api.bigcommerce.com/stores/abc123/v3")
GREEN, RED, AMBER, RED_TEXT = "FFC6EFCE", "FFFFC7CE", "FFFFEB9C", "FF9C0006"
VALUES, MODIFIERS = "Choice values", "Choice modifiers"
SUMMARY = "Apply summary"
FALLBACK = "annotating through openpyxl"


# --- workbooks ---------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def export(tmp_path_factory) -> Path:
    """Our writer's export of 20 products (shared strings, a hidden metadata sheet, comments, drop-downs)."""
    frames = products_to_frames(as_api_products(generate_catalog(20, seed=7)))
    return write_workbook(frames, tmp_path_factory.mktemp("export") / "export.xlsx", META)


@pytest.fixture(scope="module")
def edited(export, tmp_path_factory) -> Path:
    """The export as a person leaves it: ids blanked on a value they re-made, a new value row without ids,
    a row emptied, three tabs selected (a group) with Choice values active, re-saved by openpyxl (which
    writes text as inline strings)."""
    path = tmp_path_factory.mktemp("edited") / "edited.xlsx"
    book = openpyxl.load_workbook(export)
    ws = book[VALUES]
    columns = headers(ws)
    ws.cell(4, columns["value_id"]).value = None
    ws.cell(4, columns["modifier_id"]).value = ""
    for cell in ws[7]:
        cell.value = None
    last = ws.max_row + 1
    ws.cell(last, columns["product_id"]).value = ws.cell(2, columns["product_id"]).value
    ws.cell(last, columns["label"]).value = "Brand new"
    for title in (README_SHEET, VALUES, "Swatch values"):
        book[title].sheet_view.tabSelected = True
    book.active = book[VALUES]
    book.save(path)
    return path


@pytest.fixture(scope="module")
def notes(edited) -> tuple[dict[str, SheetNotes], SummarySheet]:
    return spec(edited)


def headers(ws: Any) -> dict[str, int]:
    return {cell.value: cell.column for cell in ws[1] if cell.value is not None}


def last_row(path: Path, sheet: str) -> int:
    return openpyxl.load_workbook(path, read_only=True)[sheet].max_row


def spec(path: Path) -> tuple[dict[str, SheetNotes], SummarySheet]:
    """Notes of both kinds bcmod writes: results-like on Choice values, errors-like on Choice modifiers."""
    beyond = last_row(path, VALUES) + 3
    values = SheetNotes(
        "result", Look(bold=True), 60, default=Note("unchanged"),
        notes={2: Note("ok", Look(fill=GREEN)), 3: Note("failed: <b>&</b> =SUM(A1)", Look(fill=RED)),
               4: Note("ok", Look(fill=GREEN)), 5: Note("bell\x07", Look(fill=AMBER)), beyond: Note("far below")},
        fills={(3, "label"): RED, (3, "sort_order"): RED, (5, "image_url"): RED, (2, "no such column"): RED},
        numbers={(4, "value_id"): 9001, (4, "modifier_id"): 9002, (2, "value_id"): 1})
    modifiers = SheetNotes("errors", Look(bold=True, color=RED_TEXT), 80,
                           notes={2: Note("type: unknown type", Look(color=RED_TEXT))}, fills={(2, "type"): RED})
    rows = [["Apply failed for some rows"], ["seconds", 1.5], ["writes", 3], [None, "gap"], [],
            ["sheet", "row", "result"], [VALUES, 3, "failed: <b>&</b>"], [MODIFIERS, 2, "type"], ["Nowhere", 9, "x"]]
    summary = SummarySheet(SUMMARY, rows, looks={1: Look(bold=True, size=13), 6: Look(bold=True)},
                           links={(7, 1): Link(VALUES, 3, "label"), (8, 1): Link(MODIFIERS, 2),
                                  (9, 1): Link("Nowhere", 9)},
                           widths=(26, 14, 100), freeze="A3")
    return {VALUES: values, MODIFIERS: modifiers}, summary


def streamed(source: Path, out: Path, caplog: pytest.LogCaptureFixture,
             notes: tuple[dict[str, SheetNotes], SummarySheet]) -> Path:
    """Annotate `source` with the streaming path, failing if it fell back to openpyxl."""
    with caplog.at_level(logging.WARNING, logger=annotate.__name__):
        annotate_copy(source, out, *notes)
    assert FALLBACK not in caplog.text
    return out


def through_openpyxl(source: Path, out: Path, notes: tuple[dict[str, SheetNotes], SummarySheet]) -> Path:
    annotate._with_openpyxl(source, out, *notes)
    return out


def values(path: Path, sheet: str) -> list[list[Any]]:
    """A sheet's cells as python-calamine reads them."""
    return [list(row) for row in CalamineWorkbook.from_path(str(path)).get_sheet_by_name(sheet).to_python()]


def fill(cell: Any) -> str | None:
    return cell.fill.fgColor.rgb if cell.fill.patternType == "solid" else None


def sheet_part(path: Path, title: str) -> str:
    """The zip member holding a sheet, by its title (through workbook.xml and its relationships)."""
    with zipfile.ZipFile(path) as archive:
        book = archive.read("xl/workbook.xml").decode()
        rels = archive.read("xl/_rels/workbook.xml.rels").decode()
    rel_id = re.search(rf'<sheet [^>]*name="{re.escape(title)}"[^>]*r:id="([^"]+)"', book).group(1)
    target = re.search(rf'<Relationship [^>]*?(?:Id="{rel_id}"[^>]*Target="([^"]+)"|Target="([^"]+)"[^>]*'
                       rf'Id="{rel_id}")', rels)
    target = target.group(1) or target.group(2)
    return target.lstrip("/") if target.startswith("/") else "xl/" + target


def rewrite_part(source: Path, target: Path, part: str, edit: Callable[[bytes], bytes]) -> Path:
    with zipfile.ZipFile(source) as src, zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as out:
        for info in src.infolist():
            data = src.read(info)
            out.writestr(info.filename, edit(data) if info.filename == part else data)
    return target


# --- the notes ------------------------------------------------------------------------------------------------


def test_notes_go_into_one_column_past_the_data_on_the_rows_they_are_for(edited, notes, tmp_path, caplog):
    out = streamed(edited, tmp_path / "copy.xlsx", caplog, notes)
    book = openpyxl.load_workbook(out)
    ws = book[VALUES]
    source = openpyxl.load_workbook(edited)[VALUES]
    column = source.max_column + 1
    assert ws.cell(1, column).value == "result" and ws.cell(1, column).font.b
    assert [c.value for c in ws[1]][:-1] == [c.value for c in source[1]]
    assert (ws.cell(2, column).value, fill(ws.cell(2, column))) == ("ok", GREEN)
    assert (ws.cell(3, column).value, fill(ws.cell(3, column))) == ("failed: <b>&</b> =SUM(A1)", RED)
    assert ws.cell(3, column).data_type == "s"  # text, not a formula
    assert (ws.cell(5, column).value, fill(ws.cell(5, column))) == ("bell\ufffd", AMBER)
    assert (ws.cell(6, column).value, fill(ws.cell(6, column))) == ("unchanged", None)
    assert ws.cell(7, column).value is None  # the emptied row holds no data
    new_row = source.max_row
    assert ws.cell(new_row, column).value == "unchanged"
    assert ws.cell(new_row + 3, column).value == "far below"  # a row that was not in the sheet
    assert ws.column_dimensions[ws.cell(1, column).column_letter].width == 60
    dimension = openpyxl.load_workbook(out, read_only=True)[VALUES].calculate_dimension()
    assert dimension == f"A1:{ws.cell(1, column).column_letter}{new_row + 3}"  # read-only readers trust it
    cal = values(out, VALUES)
    assert [row[column - 1] for row in cal[:7]] == ["result", "ok", "failed: <b>&</b> =SUM(A1)", "ok", "bell\ufffd",
                                                   "unchanged", ""]
    assert cal[new_row + 2][column - 1] == "far below"
    with zipfile.ZipFile(out) as archive:
        assert b"<f>" not in archive.read(sheet_part(out, VALUES))


def test_every_data_row_without_a_note_gets_the_default_and_no_other_row_does(edited, notes, tmp_path, caplog):
    out = streamed(edited, tmp_path / "copy.xlsx", caplog, notes)
    before = values(edited, VALUES)
    after = values(out, VALUES)
    column = len(before[0])
    assert sum(not any(v not in ("", None) for v in row) for row in before) == 1  # the emptied row
    for number, (old, new) in enumerate(zip(before, after, strict=False), start=1):
        if number not in (1, *notes[0][VALUES].notes):
            assert new[column] == ("unchanged" if any(v not in ("", None) for v in old) else ""), number
        if number != 4:  # the row whose blank ids were filled in
            assert new[:column] == old, number
    other = values(out, "Swatch values")  # a data sheet without notes in the spec is left alone
    assert other == values(edited, "Swatch values")


def test_errors_style_notes_have_a_coloured_header_and_text(edited, notes, tmp_path, caplog):
    out = streamed(edited, tmp_path / "copy.xlsx", caplog, notes)
    ws = openpyxl.load_workbook(out)[MODIFIERS]
    column = headers(ws)["errors"]
    assert ws.cell(1, column).font.b and ws.cell(1, column).font.color.rgb == RED_TEXT
    assert ws.cell(2, column).value == "type: unknown type" and ws.cell(2, column).font.color.rgb == RED_TEXT
    assert all(ws.cell(r, column).value is None for r in range(3, ws.max_row + 1))  # no default note here
    assert ws.column_dimensions[ws.cell(1, column).column_letter].width == 80


def test_filled_cells_keep_their_value_and_format_and_absent_cells_are_made(edited, notes, tmp_path, caplog):
    out = streamed(edited, tmp_path / "copy.xlsx", caplog, notes)
    before = openpyxl.load_workbook(edited)
    after = openpyxl.load_workbook(out)
    ws, old = after[VALUES], before[VALUES]
    columns = headers(ws)
    for name in ("label", "sort_order"):
        cell, was = ws.cell(3, columns[name]), old.cell(3, columns[name])
        assert fill(cell) == RED and fill(was) != RED
        assert (cell.value, cell.number_format, cell.font.b) == (was.value, was.number_format, was.font.b)
    assert old.cell(5, columns["image_url"]).value is None
    assert fill(ws.cell(5, columns["image_url"])) == RED and ws.cell(5, columns["image_url"]).value is None
    assert fill(after[MODIFIERS].cell(2, headers(after[MODIFIERS])["type"])) == RED
    untouched = [(r, c) for r in range(2, 9) for c in range(1, len(columns)) if (r, c) not in
                 {(3, columns["label"]), (3, columns["sort_order"]), (5, columns["image_url"])}]
    assert all(fill(ws.cell(r, c)) == fill(old.cell(r, c)) for r, c in untouched)


def test_numbers_go_only_into_blank_cells_as_whole_numbers(edited, notes, tmp_path, caplog):
    out = streamed(edited, tmp_path / "copy.xlsx", caplog, notes)
    ws = openpyxl.load_workbook(out)[VALUES]
    old = openpyxl.load_workbook(edited)[VALUES]
    columns = headers(ws)
    assert ws.cell(4, columns["value_id"]).value == 9001 and ws.cell(4, columns["value_id"]).number_format == "0"
    assert ws.cell(4, columns["modifier_id"]).value == 9002  # an empty string counts as blank
    assert ws.cell(2, columns["value_id"]).value == old.cell(2, columns["value_id"]).value != 1
    cal = values(out, VALUES)
    assert (cal[3][columns["value_id"] - 1], cal[3][columns["modifier_id"] - 1]) == (9001, 9002)


# --- the summary sheet and the package -----------------------------------------------------------------------


def test_the_summary_is_first_and_active_with_links_that_land(edited, notes, tmp_path, caplog):
    out = streamed(edited, tmp_path / "copy.xlsx", caplog, notes)
    book = openpyxl.load_workbook(out)
    assert book.sheetnames == [SUMMARY, *openpyxl.load_workbook(edited).sheetnames]
    assert book.active.title == SUMMARY
    assert [ws.title for ws in book.worksheets if ws.sheet_view.tabSelected] == [SUMMARY]
    ws = book[SUMMARY]
    assert [list(r) for r in ws.iter_rows(max_row=4, max_col=2, values_only=True)] == [
        ["Apply failed for some rows", None], ["seconds", 1.5], ["writes", 3], [None, "gap"]]
    assert ws["A1"].font.b and ws["A1"].font.sz == 13 and ws["A6"].font.b and not ws["A2"].font.b
    assert ws.freeze_panes == "A3"
    assert [ws.column_dimensions[c].width for c in "ABC"] == [26, 14, 100]
    assert ws["A7"].hyperlink.location == f"'{VALUES}'!H3"
    assert ws["A8"].hyperlink.location == f"'{MODIFIERS}'!A2"
    assert ws["A9"].hyperlink is None and ws["A9"].value == "Nowhere"
    assert ws["A7"].font.u == "single" and ws["A7"].font.color.rgb == "FF0563C1"
    for link in (ws["A7"].hyperlink, ws["A8"].hyperlink):  # each lands on a real cell of the right row
        title, ref = re.fullmatch(r"'(.+)'!([A-Z]+\d+)", link.location).groups()
        assert book[title][ref].row == int(ref.lstrip("ABCDEFGHIJKLMNOPQRSTUVWXYZ"))
    assert book[VALUES]["H1"].value == "label"
    workbook = CalamineWorkbook.from_path(str(out))
    assert workbook.sheet_names[0] == SUMMARY
    assert workbook.get_sheet_by_name(SUMMARY).to_python()[6][:3] == [VALUES, 3, "failed: <b>&</b>"]


def test_defined_names_still_point_at_their_own_sheets(edited, notes, tmp_path, caplog):
    out = streamed(edited, tmp_path / "copy.xlsx", caplog, notes)
    with zipfile.ZipFile(out) as archive:
        xml = archive.read("xl/workbook.xml").decode()
    titles = re.findall(r'<sheet [^>]*name="([^"]+)"', xml)
    local = re.findall(r'<definedName [^>]*localSheetId="(\d+)"[^>]*>([^<]+)</definedName>', xml)
    assert local  # the writer's print titles and filters
    for index, formula in local:
        assert formula.replace("&apos;", "'").split("!")[0].strip("'") == titles[int(index)], (index, formula)
    book, source = openpyxl.load_workbook(out), openpyxl.load_workbook(edited)
    for title in source.sheetnames:
        assert book[title].print_title_rows == source[title].print_title_rows
    assert book[SUMMARY].print_title_rows is None


def test_annotating_an_annotated_copy_replaces_its_notes_and_summary(edited, notes, tmp_path, caplog):
    first = streamed(edited, tmp_path / "first.xlsx", caplog, notes)
    again = {VALUES: SheetNotes("Result", Look(bold=True), 60, default=Note("unchanged"),
                                notes={3: Note("ok", Look(fill=GREEN))}),
             MODIFIERS: SheetNotes("errors", Look(bold=True), 80)}
    second = streamed(first, tmp_path / "second.xlsx", caplog, (again, SummarySheet(SUMMARY, [["Second run"]])))
    book = openpyxl.load_workbook(second)
    assert book.sheetnames.count(SUMMARY) == 1 and book.sheetnames[0] == SUMMARY
    assert book[SUMMARY]["A1"].value == "Second run" and book[SUMMARY].max_row == 1
    ws = book[VALUES]
    assert [str(c.value).casefold() for c in ws[1]].count("result") == 1
    column = headers(ws)["Result"]
    assert column == headers(openpyxl.load_workbook(first)[VALUES])["result"]
    assert (ws.cell(2, column).value, fill(ws.cell(2, column))) == ("unchanged", None)  # was ok, green
    assert (ws.cell(3, column).value, fill(ws.cell(3, column))) == ("ok", GREEN)
    assert ws.cell(ws.max_row, column).value != "far below"
    assert all(ws.cell(r, column).value is None for r in range(2, ws.max_row + 1)
               if all(ws.cell(r, c).value in (None, "") for c in range(1, column)))
    assert [c.value for c in book[MODIFIERS][1]].count("errors") == 1
    assert book[MODIFIERS].cell(2, headers(book[MODIFIERS])["errors"]).value is None
    with zipfile.ZipFile(first) as a, zipfile.ZipFile(second) as b:
        assert len(a.namelist()) == len(b.namelist())  # the summary's part was reused, not added


def test_parts_it_does_not_change_are_copied_byte_for_byte_and_the_source_is_untouched(export, notes, tmp_path,
                                                                                        caplog):
    source = shutil.copyfile(export, tmp_path / "export.xlsx")
    original = source.read_bytes()
    out = streamed(source, tmp_path / "copy.xlsx", caplog, notes)
    assert source.read_bytes() == original
    annotated = {sheet_part(source, VALUES), sheet_part(source, MODIFIERS)}
    package = {"xl/workbook.xml", "xl/_rels/workbook.xml.rels", "[Content_Types].xml", "xl/styles.xml"}
    with zipfile.ZipFile(source) as before, zipfile.ZipFile(out) as after:
        names = set(after.namelist())
        assert set(before.namelist()) <= names and len(names - set(before.namelist())) == 1
        for name in before.namelist():
            if name not in annotated | package:
                assert after.read(name) == before.read(name), name
    assert values(out, META_SHEET) == values(source, META_SHEET)
    with zipfile.ZipFile(out) as archive:  # the styles it added are counted
        styles = archive.read("xl/styles.xml").decode()
    for block, child in (("fonts", "font"), ("fills", "fill"), ("cellXfs", "xf")):
        start, body = re.search(rf"<{block}\b([^>]*)>(.*?)</{block}>", styles, re.S).groups()
        children = len(re.findall(rf"<{child}\b", body))
        assert f'count="{children}"' in start, block


def test_a_file_that_is_not_a_workbook_is_unreadable_and_leaves_nothing_behind(tmp_path):
    source = tmp_path / "notes.xlsx"
    source.write_text("hello")
    sheets, summary = {}, SummarySheet(SUMMARY, [["x"]])
    with pytest.raises(UnreadableWorkbook):
        annotate_copy(source, tmp_path / "copy.xlsx", sheets, summary)
    assert list(tmp_path.iterdir()) == [source]


# --- other writers, refusals, and the openpyxl path ----------------------------------------------------------


def snapshot(path: Path, sheets: dict[str, SheetNotes], *, every_value: bool = True) -> dict[str, Any]:
    """What a person sees: every sheet's values (else the summary's and the note columns'), the look of the
    annotated sheets' cells, the summary's links."""
    book = openpyxl.load_workbook(path)
    seen: dict[str, Any] = {"titles": book.sheetnames, "active": book.active.title, SUMMARY: values(path, SUMMARY)}
    for title in book.sheetnames if every_value else ():
        seen[title] = values(path, title)
    for title in sheets:
        ws = book[title]
        column = headers(ws)[sheets[title].header]
        seen[title, "notes"] = [ws.cell(r, column).value for r in range(1, ws.max_row + 1)]
        seen[title, "look"] = {(c.row, c.column): (fill(c), bool(c.font.b), c.font.color.rgb if c.font.color else None,
                                                   c.number_format if c.value is not None else None)
                               for row in ws.iter_rows() for c in row if fill(c) or c.font.b or c.column == column}
        seen[title, "width"] = ws.column_dimensions[ws.cell(1, column).column_letter].width
    summary = book[SUMMARY]
    seen["links"] = {c.coordinate: c.hyperlink.location for row in summary.iter_rows() for c in row if c.hyperlink}
    seen["freeze"] = summary.freeze_panes
    return seen


def test_streaming_and_openpyxl_write_the_same_copy(edited, notes, tmp_path, caplog):
    sheets = notes[0]
    stream = streamed(edited, tmp_path / "stream.xlsx", caplog, notes)
    loaded = through_openpyxl(edited, tmp_path / "openpyxl.xlsx", notes)
    assert snapshot(stream, sheets) == snapshot(loaded, sheets)
    again = streamed(stream, tmp_path / "stream2.xlsx", caplog, notes)  # and again over an annotated copy
    loaded_again = through_openpyxl(loaded, tmp_path / "openpyxl2.xlsx", notes)
    assert snapshot(again, sheets) == snapshot(loaded_again, sheets) == snapshot(stream, sheets)


def test_an_empty_shared_string_is_blank(export, tmp_path, caplog):
    """A row whose only cell is an empty shared string holds no data: no default note, and an id goes in."""
    part = sheet_part(export, VALUES)
    rows = last_row(export, VALUES)

    with zipfile.ZipFile(export) as archive:
        strings = archive.read("xl/sharedStrings.xml")
    index = strings.count(b"<si>")
    strings = re.sub(rb'(count|uniqueCount)="\d+"', rb'\1="%d"' % (index + 1), strings)
    strings = strings.replace(b"</sst>", b"<si><t></t></si></sst>")
    blank_row = f'<row r="{rows + 1}"><c r="B{rows + 1}" t="s"><v>{index}</v></c></row>'.encode()
    source = rewrite_part(export, tmp_path / "step.xlsx", part,
                          lambda xml: xml.replace(b"</sheetData>", blank_row + b"</sheetData>"))
    source = rewrite_part(source, tmp_path / "empty.xlsx", "xl/sharedStrings.xml", lambda _: strings)
    result = SheetNotes("result", Look(bold=True), 60, default=Note("unchanged"), numbers={(rows + 1, "value_id"): 5})
    summary = SummarySheet(SUMMARY, [["x"]])
    out = streamed(source, tmp_path / "copy.xlsx", caplog, ({VALUES: result}, summary))
    ws = openpyxl.load_workbook(out)[VALUES]
    column = headers(ws)["result"]
    assert ws.cell(rows, column).value == "unchanged" and ws.cell(rows + 1, column).value is None
    assert ws.cell(rows + 1, headers(ws)["value_id"]).value == 5
    through_openpyxl(source, tmp_path / "loaded.xlsx", ({VALUES: result}, summary))
    assert values(tmp_path / "loaded.xlsx", VALUES) == values(out, VALUES)


def test_cells_right_of_the_note_column_stay_where_they_are(edited, notes, tmp_path, caplog):
    first = streamed(edited, tmp_path / "first.xlsx", caplog, notes)
    book = openpyxl.load_workbook(first)
    ws = book[VALUES]
    column = headers(ws)["result"]
    ws.cell(1, column + 1).value = "my notes"
    ws.cell(3, column + 1).value = "call the supplier"
    book.save(tmp_path / "noted.xlsx")
    out = streamed(tmp_path / "noted.xlsx", tmp_path / "copy.xlsx", caplog, notes)
    ws = openpyxl.load_workbook(out)[VALUES]
    assert headers(ws)["result"] == column and headers(ws)["my notes"] == column + 1
    assert ws.cell(3, column).value == "failed: <b>&</b> =SUM(A1)"
    assert ws.cell(3, column + 1).value == "call the supplier"
    assert ws.cell(6, column).value == "unchanged"


def rows_without_references(xml: bytes, note_column: bytes) -> bytes:
    return re.sub(rb'<row r="\d+"', b"<row", xml)


def a_formula_where_a_note_goes(xml: bytes, note_column: bytes) -> bytes:
    return re.sub(rb'(<c r="' + note_column + rb'6")[^>]*?(?:/>|>.*?</c>)', rb"\1><f>1+1</f><v>2</v></c>", xml,
                  count=1, flags=re.S)


@pytest.mark.parametrize("refusal", [rows_without_references, a_formula_where_a_note_goes])
def test_a_workbook_the_streamer_refuses_is_annotated_through_openpyxl(edited, notes, tmp_path, caplog, refusal):
    first = through_openpyxl(edited, tmp_path / "first.xlsx", notes)
    column = headers(openpyxl.load_workbook(first)[VALUES])["result"]
    letter = openpyxl.utils.get_column_letter(column).encode()
    part = sheet_part(first, VALUES)
    source = rewrite_part(first, tmp_path / "odd.xlsx", part, lambda xml: refusal(xml, letter))
    with zipfile.ZipFile(source) as odd, zipfile.ZipFile(first) as plain:
        assert odd.read(part) != plain.read(part)
    with caplog.at_level(logging.WARNING, logger=annotate.__name__):
        annotate_copy(source, tmp_path / "copy.xlsx", *notes)
    assert FALLBACK in caplog.text
    book = openpyxl.load_workbook(tmp_path / "copy.xlsx")
    assert book.sheetnames[0] == SUMMARY and book.sheetnames.count(SUMMARY) == 1
    ws = book[VALUES]
    assert headers(ws)["result"] == column
    assert [ws.cell(r, column).value for r in (2, 3, 6, 7)] == ["ok", "failed: <b>&</b> =SUM(A1)", "unchanged", None]
    assert fill(ws.cell(3, headers(ws)["label"])) == RED
    assert snapshot(tmp_path / "copy.xlsx", notes[0]) == snapshot(first, notes[0])


def libreoffice_copy(source: Path, folder: Path) -> Path:
    soffice = shutil.which("soffice") or shutil.which("libreoffice")
    if soffice is None:
        pytest.skip("LibreOffice (soffice) is not installed, so there is no re-saved workbook to annotate")
    folder.mkdir()
    profile = (folder / "profile").as_uri()
    subprocess.run([soffice, f"-env:UserInstallation={profile}", "--headless", "--convert-to", "xlsx",
                    "--outdir", str(folder), str(source)], check=True, capture_output=True, timeout=120)
    return folder / source.name


def test_a_workbook_resaved_by_libreoffice_is_annotated(edited, notes, tmp_path, caplog):
    source = libreoffice_copy(edited, tmp_path / "libreoffice")
    sheets = notes[0]
    out = streamed(source, tmp_path / "copy.xlsx", caplog, notes)
    book = openpyxl.load_workbook(out)
    assert book.sheetnames[0] == SUMMARY and book.active.title == SUMMARY
    assert [ws.title for ws in book.worksheets if ws.sheet_view.tabSelected] == [SUMMARY]
    ws = book[VALUES]
    column = headers(ws)["result"]
    assert column == len([s for s in SHEETS if s.name == VALUES][0].columns) + 1
    assert [ws.cell(r, column).value for r in (2, 3, 6, 7)] == ["ok", "failed: <b>&</b> =SUM(A1)", "unchanged", None]
    assert fill(ws.cell(3, headers(ws)["label"])) == RED
    assert ws.cell(4, headers(ws)["value_id"]).value == 9001
    assert book[SUMMARY]["A7"].hyperlink.location == f"'{VALUES}'!H3"
    for title in ("File modifiers", "Swatch values", META_SHEET):  # cached formula results and all
        assert values(out, title) == values(source, title)
    # openpyxl drops the cached results of LibreOffice's =TRUE() cells, so only the notes are compared
    loaded = through_openpyxl(source, tmp_path / "loaded.xlsx", notes)
    assert snapshot(out, sheets, every_value=False) == snapshot(loaded, sheets, every_value=False)


# --- macros ---------------------------------------------------------------------------------------------------

VBA_RELATIONSHIP = "http://schemas.microsoft.com/office/2006/relationships/vbaProject"
XLSM_MAIN = "application/vnd.ms-excel.sheet.macroEnabled.main+xml"
XLSX_MAIN = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"


def macro_workbook(source: Path, target: Path) -> Path:
    """`source` as an .xlsm renamed .xlsx: a (fake) VBA project with a signature, their relationships and
    content types, and the macro-enabled content type on the workbook part."""
    def edit(name: str, data: bytes) -> bytes:
        if name == "[Content_Types].xml":
            data = data.replace(XLSX_MAIN.encode(), XLSM_MAIN.encode())
            return data.replace(b"</Types>", b'<Default Extension="bin" ContentType="application/vnd.ms-office.'
                                b'vbaProject"/><Override PartName="/xl/vbaProjectSignature.bin" ContentType='
                                b'"application/vnd.ms-office.vbaProjectSignature"/></Types>')
        if name == "xl/_rels/workbook.xml.rels":
            return data.replace(b"</Relationships>", f'<Relationship Id="rIdVba" Type="{VBA_RELATIONSHIP}" '
                                f'Target="vbaProject.bin"/></Relationships>'.encode())
        return data

    with zipfile.ZipFile(source) as src, zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as out:
        for info in src.infolist():
            out.writestr(info.filename, edit(info.filename, src.read(info)))
        out.writestr("xl/vbaProject.bin", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1 fake VBA project: Sub AutoOpen()")
        out.writestr("xl/vbaProjectSignature.bin", b"fake signature")
        out.writestr("xl/_rels/vbaProject.bin.rels", '<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns='
                     '"http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type='
                     '"http://schemas.microsoft.com/office/2006/relationships/vbaProjectSignature" '
                     'Target="vbaProjectSignature.bin"/></Relationships>')
    with zipfile.ZipFile(target) as check:
        assert XLSM_MAIN.encode() in check.read("[Content_Types].xml") and "xl/vbaProject.bin" in check.namelist()
    return target


@pytest.mark.parametrize("path", ["streamed", "openpyxl"])
def test_a_copy_of_a_macro_workbook_carries_no_macro_part(path, export, notes, tmp_path, caplog):
    source = macro_workbook(export, tmp_path / "macros.xlsx")
    out = tmp_path / "copy.xlsx"
    streamed(source, out, caplog, notes) if path == "streamed" else through_openpyxl(source, out, notes)
    with zipfile.ZipFile(out) as archive:
        names = archive.namelist()
        types = archive.read("[Content_Types].xml").decode()
        rels = archive.read("xl/_rels/workbook.xml.rels").decode()
    assert not [name for name in names if "vba" in name.lower()], names
    assert "vbaProject" not in types and "macroEnabled" not in types and XLSX_MAIN in types
    assert "vbaProject" not in rels
    book = openpyxl.load_workbook(out)  # both readers open it, with the notes in
    assert book.sheetnames[0] == SUMMARY and headers(book[VALUES])["result"]
    assert values(out, VALUES)[0][headers(book[VALUES])["result"] - 1] == "result"
