"""Write the editable workbook.

Design: the package is written as XML text, a sheet at a time. The parts that are small and the
same in kind for every export (styles, header notes with their VML drawings, drop-down data
validations, column widths and default column styles, frozen panes, autofilters, the very hidden
metadata sheet, the README) come from `xlsx_parts`; the data rows are streamed straight into each
worksheet's `<sheetData>`, a few thousand rows at a time from compact column arrays, with one
shared-string table for the whole workbook (so each distinct text is escaped once); a long column
of mostly distinct texts (the metadata's fingerprints) holds them inline instead. Each sheet is
built from the frames (`split.sheet_of`), fingerprinted, written and let go before the next, so the
frames, one sheet and the metadata table are all that exist at once. No openpyxl: importing and
driving it was most of a small export's own time (see bench/bench_startup.py), and writing 100k
value rows this way is several times faster than `DataFrame.to_excel` (bench/bench_workbook.py).

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

import re
import zipfile
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pandas as pd

from pipeline.normalise import ModifierFrames
from pipeline.workbook import xlsx_parts as parts
from pipeline.workbook.cell_refs import column_letters as get_column_letter
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
)
from pipeline.workbook.meta import META_COLUMNS, ExportMeta, ExportTable, meta_rows
from pipeline.workbook.readme import README_LINES
from pipeline.workbook.split import check_types, product_names_of, sheet_length, sheet_of
from pipeline.workbook.swatches import FONT_NAME, Preview, PreviewStyles, preview
from pipeline.workbook.theme import THEME_XML
from pipeline.workbook.widths import fitted_width
from pipeline.workbook.xlsx_parts import CellFormat, ColumnFormat, Note, SheetEntry, Validation

NEW_ROW_MARGIN = 1000  # empty rows below the data that still get drop-downs
ROWS_PER_CHUNK = 5000
README_WIDTH = 90  # characters: a printed page is as wide
COMPRESS_LEVEL = 6  # zlib default: 1 would save ~15% of the write time for ~30% bigger files
MAX_PREVIEW_STYLES = 5000  # distinct colour lists previewed (the most frequent); Excel allows ~64,000 formats
AUTHOR = "bcmod"
NOTE_WIDTH = 300  # pixels

_CENTRED = 'horizontal="center"'
_BOOL_CHOICES = ("TRUE", "FALSE")
# LibreOffice shows a boolean cell styled "General" as 0/1; this format shows TRUE/FALSE everywhere.
BOOL_FORMAT = '"TRUE";"TRUE";"FALSE"'
_NUMBER_FORMATS: dict[str, str] = {**{kind: "@" for kind in TEXT_KINDS}, "id": "0", "bool": BOOL_FORMAT}


def write_workbook(frames: ModifierFrames, path: Path, meta: ExportMeta) -> Path:
    """Write `frames` as the editable workbook at `path`; returns `path`.

    `meta.fingerprints` is ignored: the fingerprints are computed here from the rows as written.
    Memory: one sheet exists at a time beside the frames (built, fingerprinted, written, let go);
    the rows go to the file a chunk at a time (see `_data_rows`).
    """
    path = Path(path)
    check_types(frames)  # before anything is written
    limit = sheet_row_limit()
    lengths = {spec.name: sheet_length(frames, spec) for spec in SHEETS}
    plan = [(README_SHEET, None, len(README_LINES))]
    plan += [(title, spec, n) for spec in SHEETS for title, n in _part_titles(spec.name, lengths[spec.name], limit)]
    plan += [(title, None, n) for title, n in _part_titles(META_SHEET, meta_rows(sum(lengths.values())), limit)]
    entries = [_entry(title, spec, n) for title, spec, n in plan]
    book = _Book(entries)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".partial")
    try:
        with zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED, compresslevel=COMPRESS_LEVEL) as out:
            book.write_fixed_parts(out)
            book.write_readme(out)
            table = ExportTable()
            product_names = product_names_of(frames.modifiers)
            for spec in SHEETS:
                sheet = sheet_of(frames, spec, product_names)
                table.add(spec, sheet)  # of the rows as exported, before dates are shown as days
                book.write_family(out, spec.name, _as_shown(sheet, spec), spec.columns, spec.identity, limit)
                del sheet
            book.write_family(out, META_SHEET, table.frame(meta), META_COLUMNS, 0, limit)
            book.write_shared_parts(out)
        tmp.replace(path)
    finally:
        tmp.unlink(missing_ok=True)
    return path


def _part_titles(name: str, n_rows: int, limit: int) -> list[tuple[str, int]]:
    """(title, rows) of the sheets of one family: `name`, then "name (2)", ... past a sheet's row limit."""
    if n_rows <= limit:
        return [(name, n_rows)]
    return [(part_name(name, n), min(limit, n_rows - start))
            for n, start in enumerate(range(0, n_rows, limit), start=1)]


def _entry(title: str, spec: SheetSpec | None, n_rows: int) -> SheetEntry:
    if title == README_SHEET:
        return SheetEntry(title)
    n_columns = len(spec.columns) if spec is not None else len(META_COLUMNS)
    return SheetEntry(title, "visible" if spec is not None else "veryHidden",  # only a macro or an XML editor shows it
                      filter_ref=f"A1:{get_column_letter(n_columns)}{max(n_rows + 1, 2)}", print_titles=True,
                      commented=spec is not None)


def _as_shown(sheet: pd.DataFrame, spec: SheetSpec) -> pd.DataFrame:
    """The sheet's rows as the workbook shows them: date columns with days as days."""
    dates = [c.name for c in spec.columns if c.kind == "date"]
    if not dates or not len(sheet):
        return sheet
    return sheet.assign(**{name: dates_for_sheet(sheet[name]) for name in dates})


@dataclass
class _Table:
    """One worksheet to write: its data (None for README), and each column's xf id."""

    title: str
    frame: pd.DataFrame | None  # None for README, and once the rows are written
    columns: Sequence[Column]
    identity: int = 0  # leading columns frozen with the header
    styles: list[int] = field(default_factory=list)
    previews: dict[str, dict[str, Preview]] = field(default_factory=dict)  # column -> cell text -> its colours
    value_styles: dict[str, dict[str, int]] = field(default_factory=dict)  # column -> cell text -> xf id
    header_styles: tuple[int, int] = (0, 0)  # editable, read-only
    readme_styles: tuple[int, int, int] = (0, 0, 0)  # title, heading, body


class _Book:
    """The package being written: its sheets (known in advance), styles and shared strings."""

    def __init__(self, entries: list[SheetEntry]) -> None:
        self.entries = entries
        self.position = {entry.title: n for n, entry in enumerate(entries, start=1)}
        self.notes_of = parts.commented_numbers(entries)
        self.strings = _SharedStrings()
        styles = parts.StyleSheet(FONT_NAME)
        # every format the sheets use is registered before any colour preview's (they come after)
        self.readme_styles = (styles.xf(CellFormat(font=parts.FONT_TITLE)), styles.xf(CellFormat(font=parts.FONT_BOLD)),
                              styles.xf(CellFormat(alignment='vertical="top" wrapText="1"')))
        self.header_styles = (styles.xf(CellFormat(font=parts.FONT_BOLD, fill=parts.FILL_HEADER)),
                              styles.xf(CellFormat(font=parts.FONT_BOLD, fill=parts.FILL_GREY_HEADER)))
        self.column_styles: dict[tuple[str, bool], tuple[int, bool]] = {}  # (kind, editable) -> xf, column default
        for column in [*(c for spec in SHEETS for c in spec.columns), *META_COLUMNS]:
            key = (column.kind, column.editable)
            if key not in self.column_styles:
                number_format = _NUMBER_FORMATS.get(column.kind, "General")
                # TRUE/FALSE and small whole numbers (positions, limits) apart from the text beside them
                centred = column.kind in ("bool", "int")
                fmt = CellFormat(styles.number_format(number_format), fill=parts.FILL_NONE if column.editable
                                 else parts.FILL_GREY, alignment=_CENTRED if centred else "")
                self.column_styles[key] = (styles.xf(fmt), number_format != "General" or not column.editable)
        self.styles = styles
        self.previews = PreviewStyles(styles.xml())

    def write_fixed_parts(self, out: zipfile.ZipFile) -> None:
        created = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        titles = [entry.title for entry in self.entries]
        for name, text in (("[Content_Types].xml", parts.content_types(self.entries)), ("_rels/.rels", parts.root_rels()),
                           ("docProps/app.xml", parts.app_xml(titles)), ("docProps/core.xml", parts.core_xml(AUTHOR, created)),
                           ("xl/workbook.xml", parts.workbook_xml(self.entries)),
                           ("xl/_rels/workbook.xml.rels", parts.workbook_rels(len(self.entries))),
                           ("xl/theme/theme1.xml", THEME_XML)):
            out.writestr(name, text)

    def write_shared_parts(self, out: zipfile.ZipFile) -> None:
        """The style sheet (with the colour previews' formats) and the shared strings, once every sheet is in."""
        out.writestr("xl/styles.xml", self.previews.styles_xml(self.styles.xml()))
        with out.open("xl/sharedStrings.xml", "w", force_zip64=True) as stream:
            for chunk in self.strings.xml_chunks():
                stream.write(chunk)

    def write_readme(self, out: zipfile.ZipFile) -> None:
        table = _Table(README_SHEET, None, (), readme_styles=self.readme_styles)
        head = parts.worksheet_head(dimension=f"A1:A{len(README_LINES)}", columns=[ColumnFormat(README_WIDTH)],
                                    frozen_columns=None)
        with out.open(parts.sheet_part(self.position[README_SHEET]), "w", force_zip64=True) as stream:
            stream.write(head.encode())
            stream.write(b"<sheetData>")
            for chunk in _readme_rows(table, self.strings):
                stream.write(chunk.encode())
            stream.write(b"</sheetData>")
            stream.write(parts.worksheet_tail().encode())

    def write_family(self, out: zipfile.ZipFile, name: str, frame: pd.DataFrame, columns: Sequence[Column],
                     identity: int, limit: int) -> None:
        """The sheets of one family: `name`, then "name (2)", ... when it has more rows than a sheet holds."""
        titles = _part_titles(name, len(frame), limit)
        if len(titles) == 1:
            self.write_sheet(out, _Table(name, frame, columns, identity))
            return
        for (title, _), start in zip(titles, range(0, len(frame), limit), strict=True):
            self.write_sheet(out, _Table(title, frame.iloc[start:start + limit], columns, identity))

    def write_sheet(self, out: zipfile.ZipFile, table: _Table) -> None:
        assert table.frame is not None
        position = self.position[table.title]
        entry = self.entries[position - 1]
        with_help = entry.commented
        n_rows = len(table.frame)
        last_row = n_rows + 1
        margin_row = last_row + NEW_ROW_MARGIN
        table.header_styles = self.header_styles
        formats, notes = [], []
        validations: dict[tuple[str, ...], list[str]] = {}
        for number, column in enumerate(table.columns, start=1):
            letter = get_column_letter(number)
            style, column_default = self.column_styles[(column.kind, column.editable)]
            table.styles.append(style)
            values = table.frame[column.name] if n_rows else None
            if column.colour_preview and values is not None:
                table.previews[column.name] = _previews(values)
            width = fitted_width(column, values) if with_help else column.width
            formats.append(ColumnFormat(width, style if column_default else None))
            if not with_help:
                continue
            notes.append(_note(number, column))
            choices = _BOOL_CHOICES if column.kind == "bool" else column.choices
            if column.kind in ("enum", "bool", "action") and choices and column.editable:
                validations.setdefault(tuple(choices), []).append(f"{letter}2:{letter}{margin_row}")
        table.value_styles = {name: {text: self.previews.xf_id(shown) for text, shown in by_text.items()}
                              for name, by_text in table.previews.items()}
        head = parts.worksheet_head(dimension=f"A1:{get_column_letter(len(table.columns))}{last_row}",
                                    columns=formats, frozen_columns=table.identity)
        tail = parts.worksheet_tail(filter_ref=entry.filter_ref,
                                    validations=[Validation(c, tuple(r)) for c, r in validations.items()],
                                    landscape=True, commented=with_help)
        with out.open(parts.sheet_part(position), "w", force_zip64=True) as stream:
            stream.write(head.encode())
            stream.write(b"<sheetData>")
            stream.write(_header_row(table, self.strings).encode())
            for chunk in _data_rows(table, self.strings):
                stream.write(chunk.encode())
            stream.write(b"</sheetData>")
            stream.write(tail.encode())
        table.frame = None  # its rows are in the file: let them go
        if with_help:
            number = self.notes_of[position]
            out.writestr(f"xl/worksheets/_rels/sheet{position}.xml.rels", parts.sheet_rels(number))
            out.writestr(f"xl/comments/comment{number}.xml", parts.comments_xml(AUTHOR, notes))
            out.writestr(f"xl/drawings/commentsDrawing{number}.vml", parts.vml_xml(number, notes))


def _previews(values: pd.Series) -> dict[str, Preview]:
    """Cell text -> the colours it lists, for the most frequent colour lists of a column."""
    out: dict[str, Preview] = {}
    for text in values.dropna().value_counts().index[:MAX_PREVIEW_STYLES].tolist():
        shown = preview(text)
        if shown is not None:
            out[text] = shown
    return out


def _note(number: int, column: Column) -> Note:
    """The header's note: the column in plain words, then what to write in it."""
    text = f"{column.heading}\n{column.comment}"
    if not column.editable:
        text += " Read-only (grey)."
    lines = 3 + len(text) // 40
    return Note(number, text, NOTE_WIDTH, 18 * lines)


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


def _mostly_distinct(column: pd.Series) -> bool:
    """Whether most of a column's texts differ, judged on its first `INLINE_MIN_ROWS` rows: counting
    the distinct texts of a whole column of a million fingerprints took a hash table of them all."""
    sample = column.iloc[:INLINE_MIN_ROWS]
    return sample.nunique() > len(sample) // 2


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
    if kind in TEXT_KINDS and len(column) >= INLINE_MIN_ROWS and _mostly_distinct(column):
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
