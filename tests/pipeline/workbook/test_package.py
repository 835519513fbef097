"""The xlsx package layer (package, sheet_xml) and the annotated copy of workbooks from every kind of writer.

The fixtures (tests/pipeline/workbook/fixtures, written by make_fixtures.py there) hold the same cells
as openpyxl writes them with and without lxml, as XlsxWriter, LibreOffice and Excel do; each must take
the streaming path of `annotate_copy` (never the openpyxl fallback) and come out with the same notes.
"""

from __future__ import annotations

import io
import logging
import re
import zipfile
from pathlib import Path

import openpyxl
import pytest
from lxml import etree
from python_calamine import CalamineWorkbook

from pipeline.workbook import annotate, sheet_xml
from pipeline.workbook.annotate import Link, Look, Note, SheetNotes, SummarySheet, annotate_copy
from pipeline.workbook.cell_refs import column_letters, column_number, split_ref
from pipeline.workbook.guard import check_package
from pipeline.workbook.package import (
    MAIN_NS,
    PackageError,
    SharedStrings,
    Workbook,
    append_child,
    declare_part,
    part_path,
    sheet_parts,
    xml_unescape,
)

FIXTURES = Path(__file__).parent / "fixtures"
KINDS = ["openpyxl_lxml", "openpyxl_plain", "xlsxwriter", "libreoffice", "excel"]
VALUES, NOTES, SUMMARY = "Choice values", "Notes", "Results"
GREEN, RED = "FFC6EFCE", "FFFFC7CE"
FALLBACK = "annotating through openpyxl"


def fixture(kind: str) -> Path:
    return FIXTURES / f"{kind}.xlsx"


# --- package ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("base, target, part", [
    ("xl/workbook.xml", "worksheets/sheet1.xml", "xl/worksheets/sheet1.xml"),
    ("xl/workbook.xml", "/xl/worksheets/sheet1.xml", "xl/worksheets/sheet1.xml"),
    ("xl/workbook.xml", "./worksheets/../worksheets/sheet1.xml", "xl/worksheets/sheet1.xml"),
    ("xl/worksheets/sheet1.xml", "../drawings/drawing1.xml", "xl/drawings/drawing1.xml"),
    ("xl/workbook.xml", "worksheets/my%20sheet.xml", "xl/worksheets/my sheet.xml"),
    ("", "xl/workbook.xml", "xl/workbook.xml"),
    ("xl/workbook.xml", "../../../etc/passwd", "etc/passwd"),  # never above the package root
])
def test_relationship_targets_resolve_as_opc_says(base, target, part):
    assert part_path(base, target) == part


def test_column_letters_and_references_round_trip():
    for number in (1, 26, 27, 52, 702, 703, 16384):
        assert column_number(column_letters(number)) == number
    assert column_letters(28) == "AB" and column_number("xfd") == 16384
    assert split_ref("$C$7") == (7, 3) and split_ref("AA10") == (10, 27)
    for bad in ("7C", "", "A", "A1B"):
        with pytest.raises(ValueError):
            split_ref(bad)


def test_unescape_reads_entities_and_character_references():
    assert xml_unescape("a &lt;b&gt; &amp;amp; &quot;&apos; &#65;&#x42;") == "a <b> &amp; \"' AB"


@pytest.mark.parametrize("kind", KINDS)
def test_every_writer_s_sheets_are_found(kind):
    with zipfile.ZipFile(fixture(kind)) as archive:
        parts = sheet_parts(archive)
        assert list(parts) == [VALUES, NOTES]
        assert all(part in archive.NameToInfo for part in parts.values())
    assert check_package(fixture(kind), lambda names: names) == parts


def test_a_workbook_in_a_prefixed_namespace_is_read(tmp_path):
    source = prefixed(fixture("xlsxwriter"), tmp_path / "prefixed.xlsx")
    with zipfile.ZipFile(source) as archive:
        assert b"<x:sheet " in archive.read("xl/workbook.xml")
        assert list(sheet_parts(archive)) == [VALUES, NOTES]


def test_a_package_without_a_workbook_says_so(tmp_path):
    path = tmp_path / "plain.zip"
    with zipfile.ZipFile(path, "w") as out:
        out.writestr("hello.txt", "hi")
    with zipfile.ZipFile(path) as archive, pytest.raises(PackageError):
        Workbook.read(archive)


def test_shared_strings_join_rich_text_runs_without_phonetic_guides():
    with zipfile.ZipFile(fixture("excel")) as archive:
        strings = SharedStrings.read(archive, Workbook.read(archive).target("sharedStrings"), {3, 4, 5})
    assert strings.texts == {3: "Red", 4: "Blue & green", 5: "<Large>"} and strings.count == 9
    assert not strings.empties


def test_parts_are_declared_once_whatever_their_prefixes():
    types = (b'<?xml version="1.0"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
             b'<Default Extension="xml" ContentType="application/xml"/></Types>')
    rels = (b'<p:Relationships xmlns:p="http://schemas.openxmlformats.org/package/2006/relationships">'
            b'<p:Relationship Id="rId1" Type="t" Target="worksheets/sheet1.xml"/></p:Relationships>')
    args = ("xl/workbook.xml", "xl/sharedStrings.xml", "http://x/sharedStrings", "application/sst", "rId9")
    types2, rels2 = declare_part(types, rels, *args)
    assert b'<Override PartName="/xl/sharedStrings.xml" ContentType="application/sst"/></Types>' in types2
    assert b'<p:Relationship Id="rId9" Type="http://x/sharedStrings" Target="sharedStrings.xml"/>' in rels2
    assert declare_part(types2, rels2, *args) == (types2, rels2)
    child = etree.Element(f"{{{MAIN_NS}}}definedName")
    assert b"<definedName/></workbook>" in append_child(f'<workbook xmlns="{MAIN_NS}"/>'.encode(), child)


# --- sheet_xml ----------------------------------------------------------------------------------------------------


class _Same:
    def head(self, root, elements):
        return elements

    def row(self, row):
        yield row

    def end(self, sheet_data):
        return []


@pytest.mark.parametrize("kind", KINDS)
def test_a_sheet_streamed_through_unchanged_is_the_same_xml_without_repeated_declarations(kind):
    with zipfile.ZipFile(fixture(kind)) as archive:
        part = sheet_parts(archive)[VALUES]
        original = archive.read(part)
    out = io.BytesIO()
    sheet_xml.rewrite(io.BytesIO(original), out, _Same())
    assert etree.tostring(etree.fromstring(out.getvalue()), method="c14n") == \
        etree.tostring(etree.fromstring(original), method="c14n")
    rows = re.findall(rb"<(?:\w+:)?row\b[^>]*>", out.getvalue())
    assert len(rows) == 5 and not [row for row in rows if b"xmlns" in row]


def test_a_worksheet_without_sheet_data_is_refused():
    with pytest.raises(sheet_xml.SheetError):
        sheet_xml.rewrite(io.BytesIO(f'<worksheet xmlns="{MAIN_NS}"/>'.encode()), io.BytesIO(), _Same())


# --- the annotated copy of every writer's workbook ----------------------------------------------------------------


def spec() -> tuple[dict[str, SheetNotes], SummarySheet]:
    notes = SheetNotes("result", Look(bold=True), 40, default=Note("unchanged"),
                       notes={2: Note("ok", Look(fill=GREEN)), 3: Note("failed: <b>&</b>", Look(fill=RED)),
                              8: Note("far below")},
                       fills={(3, "label"): RED}, numbers={(3, "value_id"): 9001, (2, "value_id"): 1})
    summary = SummarySheet(SUMMARY, [["Apply results"], ["sheet", "row"], [VALUES, 3]],
                           looks={1: Look(bold=True)}, links={(3, 1): Link(VALUES, 3, "label")}, widths=(20, 8),
                           freeze="A3")
    return {VALUES: notes}, summary


REDONE = "annotating with every row parsed"


def streamed(source: Path, out: Path, caplog: pytest.LogCaptureFixture, *, redone: bool = False) -> Path:
    """The copy on the streaming path: rows copied as bytes, or (`redone`) started over with every row parsed."""
    caplog.clear()
    with caplog.at_level(logging.INFO, logger=annotate.__name__):
        annotate_copy(source, out, *spec())
    assert FALLBACK not in caplog.text
    assert (REDONE in caplog.text) is redone, caplog.text
    return out


def fill(cell) -> str | None:
    return cell.fill.fgColor.rgb if cell.fill.patternType == "solid" else None


def check_copy(source: Path, out: Path) -> None:
    """What every copy must show, whoever wrote the source."""
    book = openpyxl.load_workbook(out)
    assert book.sheetnames == [SUMMARY, VALUES, NOTES] and book.active.title == SUMMARY
    assert [ws.title for ws in book.worksheets if ws.sheet_view.tabSelected] == [SUMMARY]
    ws = book[VALUES]
    assert [ws.cell(1, c).value for c in range(1, 5)] == ["product_id", "label", "value_id", "result"]
    assert ws.cell(1, 4).font.b and ws.column_dimensions["D"].width == 40
    assert [ws.cell(r, 4).value for r in range(2, 9)] == ["ok", "failed: <b>&</b>", None, "unchanged", "unchanged",
                                                          None, "far below"]
    assert fill(ws["D2"]) == GREEN and fill(ws["D3"]) == RED and fill(ws["B3"]) == RED
    assert ws["B3"].value == "Blue & green" and ws["B5"].value == "<Large>"
    assert ws["C2"].value == 5 and ws["C3"].value == 9001 and ws["C3"].number_format == "0"
    assert book[SUMMARY]["A3"].hyperlink.location == f"'{VALUES}'!B3"
    assert book[SUMMARY].freeze_panes == "A3"
    assert [[c.value for c in row] for row in book[NOTES].iter_rows()] == [["note"], ["keep me"]]
    calamine = CalamineWorkbook.from_path(str(out))  # the reader validate uses opens it too
    assert calamine.get_sheet_by_name(VALUES).to_python()[2][3] == "failed: <b>&</b>"
    assert check_package(out, lambda names: names)  # and the guard passes it


@pytest.mark.parametrize("kind", KINDS)
def test_every_writer_s_workbook_is_annotated_on_the_streaming_path(kind, tmp_path, caplog):
    out = streamed(fixture(kind), tmp_path / "copy.xlsx", caplog)
    check_copy(fixture(kind), out)
    again = streamed(out, tmp_path / "again.xlsx", caplog)  # and a copy of the copy
    check_copy(out, again)
    assert openpyxl.load_workbook(again).sheetnames.count(SUMMARY) == 1


def test_excel_s_own_markup_survives_the_copy(tmp_path, caplog):
    out = streamed(fixture("excel"), tmp_path / "copy.xlsx", caplog)
    with zipfile.ZipFile(out) as archive:
        book = archive.read("xl/workbook.xml")
        sheet = archive.read("xl/worksheets/sheet1.xml")
        rels = archive.read("xl/_rels/workbook.xml.rels")
    assert b'mc:Ignorable="x15 xr xr6 xr10 xr2"' in book and b"<xr:revisionPtr" in book
    assert b'localSheetId="1"' in book  # the filter range still names Choice values, now second
    assert b'Target="/xl/worksheets/sheet1.xml"' in rels
    assert b'xr:uid="{1F0B7C62-92A3-4E4F-9C8E-3F1B6A9F0001}"' in sheet and b'x14ac:dyDescent="0.25"' in sheet
    assert sheet.rstrip().endswith(b"</extLst></worksheet>") and b"<autoFilter" in sheet
    assert b'<dimension ref="A1:D8"/>' in sheet


def test_a_workbook_in_a_prefixed_namespace_is_annotated_on_the_streaming_path(tmp_path, caplog):
    source = prefixed(fixture("xlsxwriter"), tmp_path / "prefixed.xlsx")
    out = streamed(source, tmp_path / "copy.xlsx", caplog)
    check_copy(source, out)
    with zipfile.ZipFile(out) as archive:
        assert b"<x:c " in archive.read(sheet_parts(archive)[VALUES])


def prefixed(source: Path, target: Path) -> Path:
    """`source` with workbook.xml and the worksheets in SpreadsheetML bound to the prefix `x:` (as some
    generators write it) instead of the default namespace."""
    def edit(name: str, data: bytes) -> bytes:
        if name != "xl/workbook.xml" and not name.startswith("xl/worksheets/sheet"):
            return data
        root = etree.fromstring(data)
        nsmap = {("x" if prefix is None else prefix): uri for prefix, uri in root.nsmap.items()}
        copy = etree.Element(root.tag, dict(root.attrib), nsmap=nsmap)
        copy.extend(list(root))
        etree.cleanup_namespaces(copy, top_nsmap=nsmap)
        return etree.tostring(copy, xml_declaration=True, encoding="UTF-8", standalone=True)

    with zipfile.ZipFile(source) as src, zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as out:
        for info in src.infolist():
            out.writestr(info.filename, edit(info.filename, src.read(info)))
    return target


def with_sheet_edit(source: Path, target: Path, edit) -> Path:
    with zipfile.ZipFile(source) as archive:
        part = sheet_parts(archive)[VALUES]
    with zipfile.ZipFile(source) as src, zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as out:
        for info in src.infolist():
            data = src.read(info)
            out.writestr(info.filename, edit(data) if info.filename == part else data)
    return target


@pytest.mark.parametrize("edit", [
    pytest.param(lambda xml: re.sub(rb'<(\w+:)?dimension ref="[^"]*"', rb'<\1dimension ref="A1:B3"', xml), id="narrow"),
    pytest.param(lambda xml: re.sub(rb'<(\w+:)?dimension ref="[^"]*"', rb'<\1dimension ref="A1:Z99"', xml), id="wide"),
    pytest.param(lambda xml: re.sub(rb"(<(?:\w+:)?row )", rb"<!-- a comment -->\1", xml, count=3), id="comment"),
    pytest.param(lambda xml: re.sub(rb'<((?:\w+:)?)row r="5"', rb'<\1row xmlns:q="urn:q" r="5"', xml), id="declaration"),
])
def test_a_sheet_the_byte_level_pass_cannot_trust_is_redone_with_every_row_parsed(edit, tmp_path, caplog):
    for kind, source in (("plain", fixture("openpyxl_plain")),
                         ("prefixed", prefixed(fixture("xlsxwriter"), tmp_path / "prefixed.xlsx"))):
        odd = with_sheet_edit(source, tmp_path / f"odd-{kind}.xlsx", edit)
        out = streamed(odd, tmp_path / f"copy-{kind}.xlsx", caplog, redone=True)
        check_copy(odd, out)
