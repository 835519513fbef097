"""The package guard: parts judged by what they really unpack to, sheets by where their cells are,
checked against python-calamine's own reading of the same small sheets."""

from __future__ import annotations

import random
import re
import zipfile
import zlib
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from openpyxl.utils import get_column_letter
from python_calamine import CalamineWorkbook

from pipeline.workbook import guard
from pipeline.workbook.guard import (
    EXCEL_MAX_ROWS,
    PackageDamaged,
    PackageRefused,
    SheetLimits,
    check_package,
    check_parts,
    check_sheet,
    sheet_limits,
)
from pipeline.workbook.reader import read_xlsx
from pipeline.workbook.tables import EXPORT_TABLES

NS = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"


def workbook(path: Path, body: str, *, prefix: str = "", head: str = "") -> Path:
    """A one-sheet workbook ('S') whose sheetData holds `body`."""
    p = f"{prefix}:" if prefix else ""
    xmlns = f'xmlns:{prefix}="{NS}"' if prefix else f'xmlns="{NS}"'
    sheet = (f'<?xml version="1.0"?><{p}worksheet {xmlns}>{head}<{p}sheetData>{body}</{p}sheetData>'
             f"</{p}worksheet>")
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("[Content_Types].xml", '<?xml version="1.0"?><Types xmlns="http://schemas.openxmlformats.org/'
                         'package/2006/content-types"><Default Extension="rels" ContentType="application/vnd.'
                         'openxmlformats-package.relationships+xml"/><Default Extension="xml" ContentType="application/'
                         'xml"/><Override PartName="/xl/workbook.xml" ContentType="application/vnd.openxmlformats-'
                         'officedocument.spreadsheetml.sheet.main+xml"/></Types>')
        archive.writestr("_rels/.rels", '<?xml version="1.0"?><Relationships xmlns="http://schemas.openxmlformats.org/'
                         'package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/'
                         'officeDocument/2006/relationships/officeDocument" Target="xl/workbook.xml"/></Relationships>')
        archive.writestr("xl/workbook.xml", f'<?xml version="1.0"?><workbook xmlns="{NS}" xmlns:r="http://schemas.'
                         'openxmlformats.org/officeDocument/2006/relationships"><sheets><sheet name="S" sheetId="1" '
                         'r:id="rId1"/></sheets></workbook>')
        archive.writestr("xl/_rels/workbook.xml.rels", '<?xml version="1.0"?><Relationships xmlns="http://schemas.'
                         'openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.'
                         'openxmlformats.org/officeDocument/2006/relationships/worksheet" '
                         'Target="worksheets/sheet1.xml"/></Relationships>')
        archive.writestr("xl/worksheets/sheet1.xml", sheet)
    return path


def scan(path: Path, limits: SheetLimits = SheetLimits()) -> guard.SheetScan:
    return check_sheet(path, "xl/worksheets/sheet1.xml", limits, sheet="S")


# --- the patterns ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("limit", [1, 9, 10, 99, 100, 101, 1999, 100_374, 264_887, 999_999, EXCEL_MAX_ROWS])
def test_above_number_matches_exactly_the_numbers_past_the_limit(limit):
    pattern = re.compile(guard._above_number(limit) + b"$")
    numbers = [*range(0, 2100), limit - 1, limit, limit + 1, *random.Random(limit).sample(range(10**8), 5000)]
    assert [n for n in numbers if pattern.match(str(n).encode())] == [n for n in numbers if n > limit]


@pytest.mark.parametrize("limit", [1, 7, 26, 27, 28, 52, 702, 703, 16_384])
def test_above_column_matches_exactly_the_columns_past_the_limit_in_either_case(limit):
    pattern = re.compile(guard._above_column(limit) + b"$")
    for column in range(1, 16_385):
        letters = get_column_letter(column)
        assert bool(pattern.match(letters.encode())) == (column > limit), letters
        assert bool(pattern.match(letters.lower().encode())) == (column > limit), letters
    assert pattern.match(b"ABCD")


def test_each_export_sheet_may_reach_a_few_columns_past_its_layout_and_annotations():
    for spec in EXPORT_TABLES:
        limits = sheet_limits(spec.name)
        assert len(spec.columns) + 2 < limits.columns <= len(spec.columns) + 12
        assert limits.rows == EXCEL_MAX_ROWS
        assert sheet_limits(spec.name.upper()) == limits
    assert sheet_limits("Choice values", 373).rows == 1 + 373 + 100_000
    assert sheet_limits("Choice values", 400_000).rows == 800_001
    assert sheet_limits("Choice values", 900_000).rows == EXCEL_MAX_ROWS
    assert sheet_limits("Notes") == SheetLimits()
    assert sheet_limits("Choice values (2)", 373) == sheet_limits("Choice values", 373)


# --- cells against python-calamine ---------------------------------------------------------------------------

_CELL_STYLES = ("plain", "none", "lower", "single", "spaced", "late", "newline", "tab", "empty", "closed")


def _cell(style: str, ref: str) -> str:
    return {
        "plain": f'<c r="{ref}"><v>1</v></c>',
        "none": "<c><v>1</v></c>",
        "lower": f'<c r="{ref.lower()}"><v>1</v></c>',
        "single": f"<c r='{ref}'><v>1</v></c>",
        "spaced": f'<c  r = "{ref}" t="n"><v>1</v></c>',
        "late": f'<c t="n" r="{ref}"><v>1</v></c>',
        "newline": f'<c\nr="{ref}"><v>1</v></c>',
        "tab": f'<c\tr="{ref}"\t/>',
        "empty": f'<c r="{ref}" s="3"/>',
        "closed": f'<c r="{ref}" s="3"></c>',
    }[style]


@st.composite
def sheets(draw):
    """Rows (with or without their number) of cells written every way calamine reads them."""
    rows, number = [], 0
    for _ in range(draw(st.integers(1, 6))):
        number += draw(st.sampled_from([1, 1, 1, 2, 7, 30]))
        with_number = draw(st.booleans())
        cells = []
        for _ in range(draw(st.integers(0, 4))):
            column = draw(st.integers(1, 12))
            row = number if draw(st.integers(0, 5)) else draw(st.integers(1, 60))
            cells.append(_cell(draw(st.sampled_from(_CELL_STYLES)), f"{get_column_letter(column)}{row}"))
        if not with_number:
            number = None
        rows.append((f'<row r="{number}">' if number else "<row>") + "".join(cells) + "</row>")
        number = number or len(rows)
    return "".join(rows)


@given(body=sheets(), columns=st.integers(1, 8), rows=st.integers(1, 40))
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_a_sheet_is_refused_exactly_when_calamines_grid_passes_the_limits(body, columns, rows, tmp_path_factory):
    path = workbook(tmp_path_factory.mktemp("s") / "s.xlsx", body)
    sheet = CalamineWorkbook.from_path(path).get_sheet_by_name("S")
    grid = sheet.to_python(skip_empty_area=False)
    height = len(grid)
    width = max((len(r) for r in grid), default=0)
    limits = SheetLimits(columns, rows)
    if height <= rows and width <= columns:
        scan(path, limits)
    else:
        with pytest.raises(PackageRefused) as refused:
            scan(path, limits)
        assert refused.value.row is not None and refused.value.sheet == "S"


def test_the_scan_counts_cells_and_rows_and_reads_the_dimension(tmp_path):
    body = "".join(f'<row r="{n}"><c r="A{n}"><v>1</v></c><c r="B{n}"><v>2</v></c></row>' for n in range(1, 301))
    result = scan(workbook(tmp_path / "s.xlsx", body, head='<dimension ref="A1:B300"/>'))
    assert (result.cells, result.last_row, result.dimension) == (600, 300, "A1:B300")


@pytest.mark.parametrize(("root", "cell"), [("", "y:c"), ("x", "c"), ("x", "y:c")])
def test_a_cell_tag_with_another_prefix_than_the_sheets_is_still_found(root, cell, tmp_path):
    row = "x:row" if root else "row"
    body = f'<{row} r="1"><{cell} xmlns:y="{NS}" r="XFD1"><v>1</v></{cell}></{row}>'
    with pytest.raises(PackageRefused, match="XFD1"):
        scan(workbook(tmp_path / "s.xlsx", body, prefix=root), sheet_limits("Choice values"))


def test_a_prefixed_sheet_is_scanned_the_same(tmp_path):
    ok = workbook(tmp_path / "ok.xlsx", '<x:row r="1"><x:c r="A1"><x:v>1</x:v></x:c></x:row>', prefix="x")
    assert scan(ok).cells == 1
    far = workbook(tmp_path / "far.xlsx", '<x:row r="9"><x:c r="XFD9"><x:v>1</x:v></x:c></x:row>', prefix="x")
    with pytest.raises(PackageRefused, match="XFD9"):
        scan(far, sheet_limits("Choice values"))


@pytest.mark.parametrize(("ref", "words"), [
    ("XFD100000", ("cell XFD100000", "far to the right")),
    ("XFD5000", ("cell XFD5000", "far to the right")),
    ("AZ2", ("cell AZ2", "far to the right")),
    ("A1048577", ("past row 1,048,576", "last row a spreadsheet has")),
    ("A100375", ("past row 100,374", "the export had 373 rows")),
])
def test_a_stray_cell_is_refused_with_the_cell_named(ref, words, tmp_path):
    row = re.sub(r"[A-Z]", "", ref)
    body = f'<row r="1"><c r="A1"><v>1</v></c></row><row r="{row}"><c r="{ref}"><v>1</v></c></row>'
    with pytest.raises(PackageRefused) as refused:
        scan(workbook(tmp_path / "s.xlsx", body), sheet_limits("Choice values", 373))
    assert all(word in refused.value.message for word in words), refused.value.message
    assert refused.value.cell == ref


def test_cells_far_below_few_cells_are_refused_even_within_the_row_limit(tmp_path):
    body = '<row r="1"><c r="A1"><v>1</v></c></row><row r="900000"><c r="Q900000"><v>1</v></c></row>'
    with pytest.raises(PackageRefused, match="far below the data: the sheet holds 2 cells"):
        scan(workbook(tmp_path / "s.xlsx", body), sheet_limits("Choice values"))


def test_a_row_number_matters_only_to_the_cells_without_a_reference(tmp_path):
    assert scan(workbook(tmp_path / "empty.xlsx", '<row r="1"><c r="A1"><v>1</v></c></row><row r="2000000"/>'))
    body = '<row r="1"><c r="A1"><v>1</v></c></row><row r="2000000"><c><v>1</v></c></row>'
    with pytest.raises(PackageRefused, match="cell A2000000 is past row 1,048,576"):
        scan(workbook(tmp_path / "s.xlsx", body))


def test_a_reference_that_is_not_a_cell_is_damage(tmp_path):
    with pytest.raises(PackageDamaged):
        scan(workbook(tmp_path / "s.xlsx", '<row r="1"><c t="n" r="1A"><v>1</v></c></row>'))


def test_an_attribute_holding_a_bracket_does_not_hide_the_reference(tmp_path):
    body = '<row r="1"><c t=">" r="XFD1"><v>1</v></c></row>'
    with pytest.raises(PackageRefused, match="XFD1"):
        scan(workbook(tmp_path / "s.xlsx", body), sheet_limits("Choice values"))


@pytest.mark.parametrize("hidden", ["<!--<row r=\"1\">-->", "<![CDATA[<row r=\"1\">]]>"])
def test_comments_and_cdata_among_the_rows_are_refused(hidden, tmp_path):
    # in a comment, a row tag would put the next cell without a reference on row 1 instead of 1000000
    body = f'<row r="1000000">{hidden}<c><v>1</v></c></row>'
    with pytest.raises(PackageRefused, match="comments or CDATA"):
        scan(workbook(tmp_path / "s.xlsx", body))


def test_blocks_hold_whole_rows_whatever_the_chunk_size(tmp_path, monkeypatch):
    monkeypatch.setattr(guard, "OUT_CHUNK", 97)
    body = "".join(f'<row r="{n}"><c r="A{n}" t="inlineStr"><is><t>{"x" * (n % 50)}</t></is></c></row>'
                   for n in range(1, 400))
    path = workbook(tmp_path / "s.xlsx", body + '<row r="400"><c r="Z400"><v>1</v></c></row>')
    blocks: list[bytes] = []
    with pytest.raises(PackageRefused, match="Z400"):
        check_sheet(path, "xl/worksheets/sheet1.xml", SheetLimits(20), on_block=lambda b, s, e, p: blocks.append(b))
    assert len(blocks) > 10 and all(b.endswith(b"</row>") for b in blocks)


# --- bytes -----------------------------------------------------------------------------------------------


def _member_with(path: Path, name: str, stream: bytes, *, declared: int, crc: int, method: int = 8) -> Path:
    """A zip whose member `name` holds the raw `stream` but declares `declared` bytes and `crc`."""
    from tests.pipeline.validate.hostile import _patch_member

    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("other.xml", "<x/>")
        archive.writestr(zipfile.ZipInfo(name), stream, zipfile.ZIP_STORED)
    _patch_member(path, name, method=method, file_size=declared, crc=crc)
    return path


def _deflate(data: bytes) -> bytes:
    compressor = zlib.compressobj(9, zlib.DEFLATED, -15)
    return compressor.compress(data) + compressor.flush()


def test_a_part_that_unpacks_past_its_declared_size_is_refused_at_once(tmp_path):
    data = b" " * (64 * 2**20)
    path = _member_with(tmp_path / "lie.zip", "part.xml", _deflate(data), declared=1000, crc=zlib.crc32(data[:1000]))
    with pytest.raises(PackageRefused, match="more than the 1,000 bytes the archive declares") as refused:
        check_parts(path)
    assert refused.value.part == "part.xml" and not isinstance(refused.value, PackageDamaged)


def test_a_part_packed_tighter_than_100_to_1_is_a_bomb_whatever_it_declares(tmp_path):
    data = bytes(8 * 2**20)
    path = _member_with(tmp_path / "bomb.zip", "part.xml", _deflate(data), declared=len(data), crc=zlib.crc32(data))
    with pytest.raises(PackageRefused, match="compressed more than 100 times"):
        check_parts(path)


def test_a_wrong_checksum_or_a_cut_stream_is_damage(tmp_path):
    data = b"<row/>" * 1000
    path = _member_with(tmp_path / "crc.zip", "part.xml", _deflate(data), declared=len(data), crc=12345)
    with pytest.raises(PackageDamaged, match="checksum"):
        check_parts(path)
    cut = _deflate(data)[:-20]
    path = _member_with(tmp_path / "cut.zip", "part.xml", cut, declared=len(data), crc=zlib.crc32(data))
    with pytest.raises(PackageDamaged):
        check_parts(path)
    check_parts(path, skip_damaged=True)  # a reader reporting damage itself goes on


def test_a_big_honest_part_passes_in_bounded_memory(tmp_path):
    # about 250 MB of rows like an export's, packed about 9 to 1: no fixed cap refuses it
    row = '<row r="{n}"><c r="A{n}" s="7"><v>{n}</v></c><c r="B{n}" t="s"><v>{m}</v></c>' \
          '<c r="C{n}" t="inlineStr"><is><t>Label {m} for product {n}</t></is></c></row>'
    rows = "".join(row.format(n=n, m=n * 7919 % 100_003) for n in range(1, 20_001)).encode()
    path = tmp_path / "big.xlsx"
    workbook(path, "")
    with zipfile.ZipFile(path) as source:
        parts = {info.filename: source.read(info) for info in source.infolist()}
    sheet = parts["xl/worksheets/sheet1.xml"]
    repeats = 250 * 2**20 // len(rows)
    start = sheet.index(b"<sheetData>") + len(b"<sheetData>")
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as target:
        for name, data in parts.items():
            if name != "xl/worksheets/sheet1.xml":
                target.writestr(name, data)
        with target.open("xl/worksheets/sheet1.xml", "w", force_zip64=True) as member:
            member.write(sheet[:start])
            for repeat in range(repeats):
                member.write(rows)  # the same row numbers again: only the grid's height matters here
            member.write(sheet[start:])
    with zipfile.ZipFile(path) as archive:
        info = archive.getinfo("xl/worksheets/sheet1.xml")
    assert info.file_size > 200 * 2**20
    parts = check_package(path, lambda names: names)
    result = check_sheet(path, parts["S"], sheet_limits("Choice values", 20_000), sheet="S")
    assert result.cells == 3 * 20_000 * repeats


def test_read_xlsx_refuses_through_the_default_guard(tmp_path):
    path = workbook(tmp_path / "s.xlsx", '<row r="1"><c r="A1"><v>1</v></c></row><row r="9"><c r="XFD9"><v>1</v></c>'
                    "</row>")
    with pytest.raises(PackageRefused, match="XFD9"):
        _read_as_export_sheet(path)
    assert read_xlsx(workbook(tmp_path / "ok.xlsx", '<row r="1"><c r="A1"><v>1</v></c></row>'), {"S"}).tables["S"]


def _read_as_export_sheet(path: Path) -> None:
    """The sheet 'S' renamed to an export sheet's name, so the layout's column limit applies."""
    with zipfile.ZipFile(path) as source:
        parts = {info.filename: source.read(info) for info in source.infolist()}
    parts["xl/workbook.xml"] = parts["xl/workbook.xml"].replace(b'name="S"', b'name="Choice values"')
    with zipfile.ZipFile(path, "w") as target:
        for name, data in parts.items():
            target.writestr(name, data)
    read_xlsx(path, {"Choice values"})
