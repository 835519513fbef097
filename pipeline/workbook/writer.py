"""Write the editable workbook.

Design: openpyxl builds a small *skeleton* workbook (no data rows) that carries everything fiddly
and rarely large: styles, header comments with their VML drawings, drop-down data validations,
column widths and default column styles, frozen panes, autofilters, the very hidden metadata sheet
and the README. The data rows are then streamed straight into each worksheet's `<sheetData>` as XML
text, a few thousand rows at a time from compact column arrays, with one shared-string table for
the whole workbook (so each distinct text is escaped once); a long column of mostly distinct texts
(the metadata's fingerprints) holds them inline instead. That keeps every feature of a normal
openpyxl workbook while writing 100k value rows several times faster than `DataFrame.to_excel`
(see bench/), and the memory it needs beyond the sheets themselves does not grow with the catalog.

Cell conventions (the reader and the README rely on them):
- text, list, date, enum and action columns: string cells with number format "@", and the
  column's default style is "@" too, so what a person types later below the data (2-8, 1/2,
  0017, 22E1) stays text. A label such as `=SUM(A1)` is a string cell, never a formula.
- id columns: integer cells with number format "0". BigCommerce ids are int32, far inside the
  15 significant digits a spreadsheet keeps exactly, and a number cell lets people sort and
  filter them; "0" stops Excel showing them as 1.23E+05.
- int and number columns: plain numbers; bool columns: real booleans (TRUE/FALSE).
- a missing value is an empty cell (no cell at all).
Columns a person should not edit are shaded grey.

Made to be read as it opens: widths fit the header and the typical value (`widths`); the header row
and the identity columns (product, modifier, value) are frozen; a date that is a day shows as the
day (`date_text`; fingerprints are taken from the ATOM text as exported, which the reader gives back);
swatch colours are filled with their colours (`swatches`: a cell format per distinct colour list,
written into the style sheet as XML, the only per-row style); the metadata sheet is very hidden,
so it is not offered in the Unhide dialog.
"""

from __future__ import annotations

import io
import re
import zipfile
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.comments import Comment
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.datavalidation import DataValidation

from pipeline.normalise import ModifierFrames
from pipeline.workbook.cells import TEXT_KINDS
from pipeline.workbook.date_text import dates_for_sheet
from pipeline.workbook.layout import (
    META_SHEET,
    README_SHEET,
    SHEETS,
    Column,
    ColumnKind,
    SheetSpec,
    part_name,
    sheet_row_limit,
    split_part_name,
)
from pipeline.workbook.meta import META_COLUMNS, ExportMeta, export_table
from pipeline.workbook.readme import README_LINES
from pipeline.workbook.split import frames_to_sheets
from pipeline.workbook.swatches import FONT_NAME, Preview, PreviewStyles, preview
from pipeline.workbook.widths import fitted_width

NEW_ROW_MARGIN = 1000  # empty rows below the data that still get drop-downs
ROWS_PER_CHUNK = 5000
README_WIDTH = 90  # characters: a printed page is as wide
COMPRESS_LEVEL = 6  # zlib default: 1 would save ~15% of the write time for ~30% bigger files
MAX_PREVIEW_STYLES = 5000  # distinct colour lists previewed (the most frequent); Excel allows ~64,000 formats

_GREY = PatternFill("solid", start_color="FFE7E6E6")
_GREY_HEADER = PatternFill("solid", start_color="FFD0CECE")  # a read-only column's header
_HEADER_FILL = PatternFill("solid", start_color="FFDDEBF7")
_CENTRED = Alignment(horizontal="center")
_BOLD = Font(name=FONT_NAME, size=11, bold=True)
_BOOL_CHOICES = ("TRUE", "FALSE")
# LibreOffice shows a boolean cell styled "General" as 0/1; this format shows TRUE/FALSE everywhere.
BOOL_FORMAT = '"TRUE";"TRUE";"FALSE"'
_NUMBER_FORMATS: dict[str, str] = {**{kind: "@" for kind in TEXT_KINDS}, "id": "0", "bool": BOOL_FORMAT}


def write_workbook(frames: ModifierFrames, path: Path, meta: ExportMeta) -> Path:
    """Write `frames` as the editable workbook at `path`; returns `path`.

    `meta.fingerprints` is ignored: the fingerprints are computed here from the rows as written.
    Memory: the sheets are one columnar copy of the frames; the fingerprints are taken a chunk of
    rows at a time, and each sheet is let go once its rows are in the file, which streams them a
    chunk at a time too (see `_data_rows`).
    """
    path = Path(path)
    sheets = frames_to_sheets(frames)
    # of the rows as exported, before dates are shown as days
    meta_frame = export_table(meta, sheets)
    limit = sheet_row_limit()
    tables = [_Table(README_SHEET, None, ())]
    for spec in SHEETS:
        tables += _parts(spec.name, _as_shown(sheets.pop(spec.name), spec), spec.columns, spec.identity, limit)
    del sheets
    tables += _parts(META_SHEET, meta_frame, META_COLUMNS, 0, limit)
    del meta_frame
    skeleton = _skeleton(tables)
    with zipfile.ZipFile(skeleton) as src:
        previews = PreviewStyles(src.read("xl/styles.xml").decode())
    for table in tables:
        table.value_styles = {name: {text: previews.xf_id(shown) for text, shown in by_text.items()}
                              for name, by_text in table.previews.items()}
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".partial")
    try:
        _write_parts(skeleton, tables, previews, tmp)
        tmp.replace(path)
    finally:
        tmp.unlink(missing_ok=True)
    return path


def _parts(name: str, frame: pd.DataFrame, columns: Sequence[Column], identity: int, limit: int) -> list[_Table]:
    """The sheets of one family: `name`, then "name (2)", ... when it has more rows than a sheet holds."""
    if len(frame) <= limit:
        return [_Table(name, frame, columns, identity)]
    return [_Table(part_name(name, n), frame.iloc[start:start + limit], columns, identity)
            for n, start in enumerate(range(0, len(frame), limit), start=1)]


def _as_shown(sheet: pd.DataFrame, spec: SheetSpec) -> pd.DataFrame:
    """The sheet's rows as the workbook shows them: date columns with days as days."""
    dates = [c.name for c in spec.columns if c.kind == "date"]
    if not dates or not len(sheet):
        return sheet
    return sheet.assign(**{name: dates_for_sheet(sheet[name]) for name in dates})


def _write_parts(skeleton: io.BytesIO, tables: list[_Table], previews: PreviewStyles, target: Path) -> None:
    """Copy the skeleton's parts to `target`, streaming the rows into each worksheet and adding the
    colour previews' formats to the style sheet."""
    strings = _SharedStrings()
    with zipfile.ZipFile(skeleton) as src, zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED,
                                                           compresslevel=COMPRESS_LEVEL) as out:
        # openpyxl names worksheet parts sheet1.xml, sheet2.xml, ... in workbook order
        sheet_parts = [f"xl/worksheets/sheet{n}.xml" for n in range(1, len(tables) + 1)]
        if not set(sheet_parts) <= set(src.namelist()):
            raise AssertionError("the skeleton's worksheet parts are not named as expected")
        for info in src.infolist():
            if info.filename == "xl/sharedStrings.xml":
                continue  # replaced by the table of the streamed rows
            data = src.read(info.filename)
            if info.filename in _DECLARE_STRINGS:
                data = _declare(data, *_DECLARE_STRINGS[info.filename])
            elif info.filename == "xl/styles.xml":
                data = previews.styles_xml(data.decode()).encode()
            if info.filename not in sheet_parts:
                out.writestr(info, data)
                continue
            table = tables[sheet_parts.index(info.filename)]
            with out.open(info.filename, "w", force_zip64=True) as stream:
                for chunk in _splice(data.decode(), table, strings):
                    stream.write(chunk.encode())
            table.frame = None  # its rows are in the file: let them go
        with out.open("xl/sharedStrings.xml", "w", force_zip64=True) as stream:
            for chunk in strings.xml_chunks():
                stream.write(chunk)


# openpyxl writes inline strings; the streamed rows use a shared-string table, which the package
# manifest and the workbook relationships must declare.
_DECLARE_STRINGS = {
    "[Content_Types].xml": ("</Types>", '<Override PartName="/xl/sharedStrings.xml" ContentType="application/'
                            'vnd.openxmlformats-officedocument.spreadsheetml.sharedStrings+xml"/>'),
    "xl/_rels/workbook.xml.rels": ("</Relationships>", '<Relationship Type="http://schemas.openxmlformats.org/'
                                   'officeDocument/2006/relationships/sharedStrings" Target="sharedStrings.xml" '
                                   'Id="rIdBcmodStrings"/>'),
}


def _declare(xml: bytes, closing: str, element: str) -> bytes:
    text = xml.decode()
    if "sharedStrings" in text:
        return xml
    if closing not in text:
        raise AssertionError(f"unexpected skeleton part: no {closing}")
    return text.replace(closing, element + closing).encode()


@dataclass
class _Table:
    """One worksheet to write: its data (None for README) and, once styled, each column's xf id."""

    title: str
    frame: pd.DataFrame | None  # None for README, and once the rows are written
    columns: Sequence[Column]
    identity: int = 0  # leading columns frozen with the header
    styles: list[int] = field(default_factory=list)
    previews: dict[str, dict[str, Preview]] = field(default_factory=dict)  # column -> cell text -> its colours
    value_styles: dict[str, dict[str, int]] = field(default_factory=dict)  # column -> cell text -> xf id
    header_styles: tuple[int, int] = (0, 0)  # editable, read-only
    readme_styles: tuple[int, int, int] = (0, 0, 0)  # title, heading, body


# ---------------------------------------------------------------------------------------------
# The skeleton: everything except the data rows, built with openpyxl.


def _skeleton(tables: list[_Table]) -> io.BytesIO:
    wb = Workbook()
    wb.properties.creator = "bcmod"
    first = wb.active
    for index, table in enumerate(tables):
        ws = first if index == 0 else wb.create_sheet()
        ws.title = table.title
        if table.title == README_SHEET:
            _readme_skeleton(ws, table)
        else:
            _data_skeleton(ws, table, with_help=not _is_meta(table.title))
        if _is_meta(table.title):
            ws.sheet_state = "veryHidden"  # only a macro or an XML editor can show it
    wb.active = 0
    buffer = io.BytesIO()
    wb.save(buffer)
    buffer.seek(0)
    return buffer


def _is_meta(title: str) -> bool:
    """`_bcmod` or one of its continuation sheets."""
    return (split_part_name(title) or ("",))[0] == META_SHEET


def _readme_skeleton(ws, table: _Table) -> None:
    ws.column_dimensions["A"].width = README_WIDTH
    ws.sheet_properties.pageSetUpPr.fitToPage = True
    ws.page_setup.fitToWidth = 1
    ws.page_setup.fitToHeight = 0
    wrap = Alignment(wrap_text=True, vertical="top")
    table.readme_styles = (
        _style_id(ws, font=Font(name=FONT_NAME, bold=True, size=14)),
        _style_id(ws, font=_BOLD),
        _style_id(ws, alignment=wrap),
    )


def _data_skeleton(ws, table: _Table, *, with_help: bool) -> None:
    assert table.frame is not None
    n_rows = len(table.frame)
    last_row = n_rows + 1
    margin_row = last_row + NEW_ROW_MARGIN
    table.header_styles = (_style_id(ws, font=_BOLD, fill=_HEADER_FILL), _style_id(ws, font=_BOLD, fill=_GREY_HEADER))
    validations: dict[tuple[str, ...], DataValidation] = {}
    for position, column in enumerate(table.columns, start=1):
        letter = get_column_letter(position)
        fill = None if column.editable else _GREY
        number_format = _NUMBER_FORMATS.get(column.kind, "General")
        # TRUE/FALSE and small whole numbers (positions, limits) apart from the text beside them
        alignment = _CENTRED if column.kind in ("bool", "int") else None
        table.styles.append(_style_id(ws, fill=fill, number_format=number_format, alignment=alignment))
        values = table.frame[column.name] if n_rows else None
        if column.colour_preview and values is not None:
            table.previews[column.name] = _previews(values)
        dimension = ws.column_dimensions[letter]
        dimension.width = fitted_width(column, values) if with_help else column.width
        if number_format != "General" or fill is not None:
            dimension.number_format = number_format
            if fill is not None:
                dimension.fill = fill
            if alignment is not None:
                dimension.alignment = alignment
        if not with_help:
            continue
        ws.cell(row=1, column=position).comment = _comment(column)
        choices = _BOOL_CHOICES if column.kind == "bool" else column.choices
        if column.kind in ("enum", "bool", "action") and choices and column.editable:
            validation = validations.get(choices)
            if validation is None:
                validation = DataValidation(
                    type="list", formula1='"' + ",".join(choices) + '"', allow_blank=True,
                    showErrorMessage=True, errorTitle="Not allowed",
                    error="Pick one of: " + ", ".join(choices) + " (or leave blank).",
                )
                validations[choices] = validation
                ws.add_data_validation(validation)
            validation.add(f"{letter}2:{letter}{margin_row}")
    ws.freeze_panes = f"{get_column_letter(table.identity + 1)}2"
    ws.print_title_rows = "1:1"
    ws.page_setup.orientation = "landscape"
    ws.sheet_properties.pageSetUpPr.fitToPage = True  # print all columns across one page width
    ws.page_setup.fitToWidth = 1
    ws.page_setup.fitToHeight = 0
    ws.auto_filter.ref = f"A1:{get_column_letter(len(table.columns))}{max(last_row, 2)}"


def _style_id(ws, **attributes) -> int:
    """Register a cell style in the workbook and return its xf index."""
    probe = WriteOnlyCell(ws)
    for name, item in attributes.items():
        if item is not None:
            setattr(probe, name, item)
    return probe.style_id


def _previews(values: pd.Series) -> dict[str, Preview]:
    """Cell text -> the colours it lists, for the most frequent colour lists of a column."""
    out: dict[str, Preview] = {}
    for text in values.dropna().value_counts().index[:MAX_PREVIEW_STYLES].tolist():
        shown = preview(text)
        if shown is not None:
            out[text] = shown
    return out


def _comment(column: Column) -> Comment:
    """The header's comment: the column in plain words, then what to write in it."""
    text = f"{column.heading}\n{column.comment}"
    if not column.editable:
        text += " Read-only (grey)."
    lines = 3 + len(text) // 40
    comment = Comment(text, "bcmod", height=18 * lines, width=300)
    return comment


# ---------------------------------------------------------------------------------------------
# Streaming the data rows.


class _SharedStrings:
    """The workbook's shared-string table; each distinct text is escaped once."""

    def __init__(self) -> None:
        self.index: dict[str, int] = {}

    def codes(self, column: pd.Series) -> tuple[np.ndarray, np.ndarray]:
        """(index into the table per row, present mask)."""
        codes, uniques = pd.factorize(column, use_na_sentinel=True)
        index = self.index
        mapping = np.fromiter((index.setdefault(str(u), len(index)) for u in uniques), dtype=np.int64,
                              count=len(uniques))
        present = codes >= 0
        return (mapping[codes] if len(mapping) else codes), present

    def code(self, text: str) -> int:
        return self.index.setdefault(text, len(self.index))

    def xml(self) -> bytes:
        return b"".join(self.xml_chunks())

    def xml_chunks(self, size: int = 10_000) -> Iterator[bytes]:
        """The table's XML a few thousand strings at a time."""
        yield (f'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
               f'<sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" '
               f'count="{len(self.index)}" uniqueCount="{len(self.index)}">').encode()
        texts = list(self.index)
        for start in range(0, len(texts), size):
            yield "".join(f'<si><t xml:space="preserve">{xml_text(text)}</t></si>'
                          for text in texts[start:start + size]).encode()
        yield b"</sst>"


_ILLEGAL_XML = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")
_ESCAPE_LIKE = re.compile(r"_(x[0-9A-Fa-f]{4}_)")


def xml_text(text: str) -> str:
    """Text as the body of an OOXML `<t>`: XML-escaped, with control characters as `_xHHHH_`.

    A literal `_x0041_` is itself escaped (`_x005F_x0041_`), as Excel does, so it reads back as typed.
    """
    text = _ESCAPE_LIKE.sub(r"_x005F_\1", text)
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace("\r", "&#13;")
    return _ILLEGAL_XML.sub(lambda m: f"_x{ord(m.group()):04X}_", text)


def _splice(skeleton_xml: str, table: _Table, strings: _SharedStrings) -> Iterator[str]:
    """The worksheet XML with the skeleton's (empty) sheetData replaced by the real rows."""
    match = re.search(r"<sheetData\s*/>|<sheetData>.*?</sheetData>", skeleton_xml, re.S)
    assert match is not None, table.title
    head, tail = skeleton_xml[:match.start()], skeleton_xml[match.end():]
    if table.title == README_SHEET:
        n_rows, n_cols = len(README_LINES), 1
    else:
        assert table.frame is not None, table.title
        n_rows, n_cols = len(table.frame) + 1, len(table.columns)
    head = re.sub(r'<dimension ref="[^"]*"\s*/>', f'<dimension ref="A1:{get_column_letter(n_cols)}{n_rows}"/>',
                  head, count=1)
    yield head
    yield "<sheetData>"
    if table.title == README_SHEET:
        yield from _readme_rows(table, strings)
    else:
        yield _header_row(table, strings)
        yield from _data_rows(table, strings)
    yield "</sheetData>"
    yield tail


def _readme_rows(table: _Table, strings: _SharedStrings) -> Iterator[str]:
    title, heading, body = table.readme_styles
    for number, (level, text) in enumerate(README_LINES, start=1):
        if not text:
            continue
        style = {0: title, 1: heading}.get(level, body)
        # wrapped lines (spreadsheets do not grow rows on open); a width unit is a digit, a bit wider
        # than the average letter
        lines = -(-len(text) // int(README_WIDTH * 1.1))
        height = f' ht="{15 * lines + 3 * (level == 0)}" customHeight="1"' if lines > 1 or level == 0 else ""
        yield (f'<row r="{number}"{height}><c r="A{number}" s="{style}" t="s"><v>{strings.code(text)}</v></c>'
               "</row>")


def _header_row(table: _Table, strings: _SharedStrings) -> str:
    editable, read_only = table.header_styles
    cells = "".join(
        f'<c r="{get_column_letter(i)}1" s="{editable if c.editable else read_only}" t="s">'
        f"<v>{strings.code(c.name)}</v></c>"
        for i, c in enumerate(table.columns, start=1)
    )
    return f'<row r="1">{cells}</row>'


def _data_rows(table: _Table, strings: _SharedStrings) -> Iterator[str]:
    """The data rows' XML, `ROWS_PER_CHUNK` rows at a time: each column is turned into compact arrays
    once (string-table codes, numbers), and only one chunk's cell texts exist at a time."""
    frame = table.frame
    assert frame is not None
    n_rows = len(frame)
    if not n_rows:
        return
    columns = [
        _cells(frame[column.name], column.kind, get_column_letter(i), style, strings,
               table.value_styles.get(column.name))
        for i, (column, style) in enumerate(zip(table.columns, table.styles, strict=True), start=1)
    ]
    for start in range(0, n_rows, ROWS_PER_CHUNK):
        stop = min(start + ROWS_PER_CHUNK, n_rows)
        row_numbers = [str(n) for n in range(start + 2, stop + 2)]
        cells = [column(start, stop, row_numbers) for column in columns]
        yield "".join(
            f'<row r="{number}">{"".join(row)}</row>' for number, row in zip(row_numbers, zip(*cells))
        )


CellsOf = Callable[[int, int, list[str]], list[str]]
INLINE_MIN_ROWS = 2000  # a column of fewer rows always uses the shared-string table


def _cells(column: pd.Series, kind: ColumnKind, letter: str, style: int, strings: _SharedStrings,
           value_styles: dict[str, int] | None = None) -> CellsOf:
    """A function giving the `<c>` element of rows start..stop of one column ('' where the value is
    missing); a cell whose text has a style of its own in `value_styles` gets that style instead of
    the column's. Text goes to the shared-string table, except in a long column of mostly distinct
    texts (the metadata's fingerprints), whose cells hold their text inline: a table entry per row
    would only add an index to each."""
    if kind in TEXT_KINDS and value_styles:
        codes, present = strings.codes(column)
        own = column.map(value_styles).fillna(style).to_numpy(dtype=np.int64)

        def styled(start: int, stop: int, rows: list[str]) -> list[str]:
            return [f'<c r="{letter}{r}" s="{s}" t="s"><v>{t}</v></c>' if p else ""
                    for r, s, t, p in zip(rows, own[start:stop].tolist(), codes[start:stop].tolist(),
                                          present[start:stop].tolist())]
        return styled
    if kind in TEXT_KINDS and len(column) >= INLINE_MIN_ROWS and column.nunique() > len(column) // 2:
        head, tail = f'<c r="{letter}', f'" s="{style}" t="inlineStr"><is><t xml:space="preserve">'

        def inline(start: int, stop: int, rows: list[str]) -> list[str]:
            texts = column.iloc[start:stop].to_numpy(dtype=object, na_value=None).tolist()
            return [f"{head}{r}{tail}{xml_text(t)}</t></is></c>" if t is not None else ""
                    for r, t in zip(rows, texts)]
        return inline
    if kind in TEXT_KINDS:
        values, present = strings.codes(column)
        head, tail = f'<c r="{letter}', f'" s="{style}" t="s"><v>'
    elif kind == "bool":
        present = column.notna().to_numpy()
        head, tail = f'<c r="{letter}', f'" s="{style}" t="b"><v>'
        values = column.fillna(False).to_numpy(dtype=np.int8)
    elif kind in ("id", "int"):
        present = column.notna().to_numpy()
        head, tail = f'<c r="{letter}', f'" s="{style}"><v>'
        values = column.to_numpy(dtype=np.int64, na_value=0)
    else:  # number
        present = column.notna().to_numpy()
        head, tail = f'<c r="{letter}', f'" s="{style}"><v>'
        values = column.to_numpy(dtype=np.float64, na_value=0.0)
        if not np.isfinite(values).all():
            raise ValueError(f"column {column.name!r} holds an infinite or NaN number, which a sheet cannot store")
    as_text = repr if kind == "number" else str
    everywhere = bool(present.all())

    def plain(start: int, stop: int, rows: list[str]) -> list[str]:
        texts = values[start:stop].tolist()
        if kind == "number":
            texts = [as_text(v) for v in texts]
        if everywhere:
            return [f"{head}{r}{tail}{t}</v></c>" for r, t in zip(rows, texts)]
        return [f"{head}{r}{tail}{t}</v></c>" if p else "" for r, t, p in zip(rows, texts, present[start:stop].tolist())]
    return plain
