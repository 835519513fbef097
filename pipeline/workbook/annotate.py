"""Annotated copies of a workbook: a note column per sheet, marked cells, and a summary sheet first.

The validation report (an `errors` column, failing cells filled red) and the apply results (a
`result` column, new ids filled in) are both a copy of the user's own workbook with notes added;
`annotate_copy` writes either one from a spec: a `SheetNotes` per sheet and a `SummarySheet`.

The copy is made by editing the xlsx package, not by loading it: every part is copied as it is
except the few that change (the annotated worksheets, styles, the workbook's sheet list, its
relationships and the content types), and each annotated worksheet is edited row by row as it
streams through lxml (`sheet_xml`). Loading a 10k-product workbook into openpyxl and saving it again
took a minute and over a gigabyte, and dropped whatever openpyxl does not model. The package
mechanics (finding parts, streaming a sheet, adding styles, putting a sheet first) live in
`package`, `sheet_xml` and `package_edit`; this module decides what the notes are. A package the
streaming path does not understand (rows or cells without a reference, Strict OOXML, a formula
where a note goes, a damaged zip or part, ...) is annotated through openpyxl from the same spec
instead, so a copy is always written.

What counts as data (the rows that get the default note, the id cells that count as blank): a
cell holds data when it has a formula, a non-empty value, or inline text. A shared string is
resolved only to tell whether it is empty: the empty entries of the shared-string table are found
in one streamed pass over it, which also reads the header texts of row 1.
"""

from __future__ import annotations

import logging
import math
import numbers
import re
import zipfile
import zlib
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from copy import copy, deepcopy
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, Final

from lxml import etree

from pipeline.workbook import sheet_xml
from pipeline.workbook.cell_refs import cell_ref, column_letters, split_ref
from pipeline.workbook.package import (
    CONTENT_TYPES,
    MAIN_NS,
    RELS_NS,
    SharedStrings,
    Workbook,
    local,
    namespace,
    string_item_text,
)
from pipeline.workbook.package_edit import (
    COMPRESS_LEVEL,
    Format,
    Placement,
    Styles,
    copy_part,
    copy_unselected,
    macro_parts,
    member,
    place_first,
    without_macros,
)
from pipeline.workbook.sheet_xml import cell_column, cells, row_number
from pipeline.workbook.writer import xml_text

logger = logging.getLogger(__name__)

NUMBER_FORMAT_INTEGER: Final = 1  # built-in number format "0"
_LINK_COLOR: Final = "FF0563C1"


# --- the spec ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Look:
    """How a cell bcmod writes looks; colours are ARGB ("FFFFC7CE"). Unset parts keep the base style."""

    fill: str | None = None
    color: str | None = None
    bold: bool = False
    size: float | None = None
    underline: bool = False

    @property
    def has_font(self) -> bool:
        return self.bold or self.underline or self.color is not None or self.size is not None


LINK_LOOK: Final = Look(color=_LINK_COLOR, underline=True)


@dataclass(frozen=True)
class Note:
    """The text of one note cell and how it looks."""

    text: str
    look: Look = Look()


@dataclass(frozen=True)
class SheetNotes:
    """What goes into one sheet. Rows are Excel row numbers; columns are named by their header in row 1,
    compared stripped and case-insensitively (a person may retype a header); unknown headers are skipped.

    The note column is the one headed `header` when there is one (its earlier notes are all replaced),
    else one past the last used column. `default` is the note of rows that hold data but have none in
    `notes`. `numbers` go into cells that are blank, as whole numbers shown with the format "0".
    """

    header: str
    header_look: Look
    width: float
    notes: Mapping[int, Note] = field(default_factory=dict)
    default: Note | None = None
    fills: Mapping[tuple[int, str], str] = field(default_factory=dict)  # (row, header) -> ARGB
    numbers: Mapping[tuple[int, str], int] = field(default_factory=dict)  # (row, header) -> value


@dataclass(frozen=True)
class Link:
    """Where a summary cell points: a row of a sheet, at the column with that header (column A without)."""

    sheet: str
    row: int
    column: str | None = None


@dataclass(frozen=True)
class SummarySheet:
    """The sheet put first and made active. Row and column numbers start at 1; a None value is no cell.

    A link whose sheet is in the workbook makes its cell a hyperlink (in `LINK_LOOK`); others are plain.
    """

    title: str
    rows: Sequence[Sequence[Any]]
    looks: Mapping[int, Look] = field(default_factory=dict)  # row -> look of its cells
    links: Mapping[tuple[int, int], Link] = field(default_factory=dict)  # (row, column) -> target
    widths: Sequence[float] = ()  # of columns A, B, ...
    freeze: str | None = None  # the top-left cell of the scrolling pane, e.g. "A3"


class UnreadableWorkbook(Exception):
    """Neither the streaming path nor openpyxl can open the source as a workbook."""


def annotate_copy(source: Path, out: Path, sheets: Mapping[str, SheetNotes], summary: SummarySheet) -> None:
    """Write `source` with the notes of `sheets` (keyed by sheet title, any case) and `summary` to `out`.

    Written to `<out>.partial` and renamed, so `out` is never half written; `source` is only read.
    Raises `UnreadableWorkbook` when the source cannot be opened as a workbook at all.
    """
    source, out = Path(source), Path(out)
    try:
        try:
            _write_atomically(out, lambda target: _stream(source, target, sheets, summary, fast=True))
        except sheet_xml.Redo as exc:
            logger.info("%s: annotating with every row parsed (%s)", source.name, exc)
            _write_atomically(out, lambda target: _stream(source, target, sheets, summary, fast=False))
    except _STREAM_REFUSALS as exc:
        logger.warning("%s: annotating through openpyxl (%s: %s)", source.name, type(exc).__name__, exc)
        _write_atomically(out, lambda target: _with_openpyxl(source, target, sheets, summary))


def write_summary_only(out: Path, summary: SummarySheet) -> None:
    """A workbook holding only the summary: the report of a file that is not a workbook at all."""
    from openpyxl import Workbook

    def write(target: Path) -> None:
        book = Workbook()
        book.remove(book.active)
        _openpyxl_summary(book, summary)
        book.save(target)

    _write_atomically(Path(out), write)


def _write_atomically(out: Path, write: Callable[[Path], None]) -> None:
    tmp = out.with_name(out.name + ".partial")
    try:
        write(tmp)
        tmp.replace(out)
    finally:
        tmp.unlink(missing_ok=True)


class _Unsupported(Exception):
    """Something in the package the streaming path does not handle; openpyxl does it instead."""


# What sends a workbook to openpyxl: our own refusals (the package modules' are ValueErrors) and whatever a
# damaged or unusual package raises while it is read (a missing part, bad zip or XML, a number that is not one).
_STREAM_REFUSALS: Final = (_Unsupported, etree.LxmlError, zipfile.BadZipFile, zlib.error, EOFError, OSError,
                           KeyError, ValueError, IndexError)


def _clean(text: str) -> str:
    """Text a cell can hold: the characters xlsx cannot store become U+FFFD (as openpyxl would refuse them)."""
    return _ILLEGAL.sub("\ufffd", text)


_ILLEGAL: Final = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def _key(header: str) -> str:
    return header.strip().casefold()


def _location(title: str, reference: str) -> str:
    return "'" + title.replace("'", "''") + "'!" + reference


def _format(look: Look | None, number_format: int | None = None) -> Format:
    if look is None:
        return Format(number_format=number_format)
    return Format(look.bold, look.underline, look.size, look.color, look.fill, number_format)


_CONTINUATION: Final = re.compile(r"^(?P<family>.+?) \((?:[2-9]|[1-9]\d+)\)$")


def _with_continuations(sheets: Mapping[str, SheetNotes], titles: Iterable[str]) -> dict[str, SheetNotes]:
    """The specs by folded title, and for a continuation sheet without one of its own ("Choice values (2)",
    see `layout.part_name`) its family's column with none of the family's row notes: its rows still get
    the default note and the note column."""
    specs = {key.casefold(): notes for key, notes in sheets.items()}
    for title in titles:
        match = _CONTINUATION.match(title)
        family = specs.get(match["family"].casefold()) if match else None
        if family is not None and title.casefold() not in specs:
            specs[title.casefold()] = SheetNotes(family.header, family.header_look, family.width,
                                                 default=family.default)
    return specs


# --- the streaming path: what changes, worked out in a first pass, written in a second ---------------------------


def _stream(source: Path, target: Path, sheets: Mapping[str, SheetNotes], summary: SummarySheet, *,
            fast: bool) -> None:
    """The copy on the streaming path. `fast`: trust each annotated sheet's <dimension> (no first pass over
    its rows) and copy the rows that only gain a note as bytes (`sheet_xml.rewrite_raw`); anything that
    undoes this raises `sheet_xml.Redo` and the caller comes back with `fast=False`, which scans every
    annotated sheet first and parses every row."""
    with zipfile.ZipFile(source) as archive:
        edit = _Edit.prepare(archive, sheets, summary, fast=fast)
        with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED, compresslevel=COMPRESS_LEVEL) as out:
            edit.write(archive, out)


@dataclass
class _Edit:
    """Everything the copy changes, worked out in a first pass over the package (one scan of each
    annotated sheet, one of the shared strings) so that the second pass writes each part once."""

    book: Workbook
    styles: Styles
    writers: dict[str, _SheetWriter]  # annotated worksheet part -> its writer
    headers: dict[str, dict[str, int]]  # sheet title -> header -> column, of the sheets it read
    placement: Placement
    summary: SummarySheet

    @classmethod
    def prepare(cls, archive: zipfile.ZipFile, sheets: Mapping[str, SheetNotes], summary: SummarySheet, *,
                fast: bool = False) -> _Edit:
        book = Workbook.read(archive)
        if book.strict:
            raise _Unsupported("a Strict Open XML workbook")
        styles_part = book.target("styles")
        if styles_part is None:
            raise _Unsupported("a workbook without a styles part")
        styles = Styles(archive.read(styles_part))
        specs = _with_continuations(sheets, [s.name for s in book.sheets if s.kind == "worksheet"])
        annotated = {s.part: (s, specs[s.name.casefold()]) for s in book.sheets
                     if s.kind == "worksheet" and s.name.casefold() in specs}
        scans = {part: _peek(archive, part) if fast else (_scan(archive, part), False) for part in annotated}
        header_cells = {annotated[part][0].name: scan.header_cells for part, (scan, _) in scans.items()}
        header_cells.update(_linked_header_cells(archive, book, summary, scans))
        wanted = {index for cells in header_cells.values() for cell in cells.values()
                  if (index := sheet_xml.string_index(cell)) is not None}
        strings = SharedStrings.read(archive, book.target("sharedStrings"), wanted)
        headers = {title: _header_columns(cells, strings) for title, cells in header_cells.items()}
        writers = {part: _SheetWriter(notes, *scans[part], headers[sheet.name], styles, strings)
                   for part, (sheet, notes) in annotated.items()}
        members = {info.filename for info in archive.infolist()}
        placement = place_first(book, archive.read(CONTENT_TYPES), summary.title, members)
        return cls(book, styles, writers, headers, placement, summary)

    def write(self, archive: zipfile.ZipFile, out: zipfile.ZipFile) -> None:
        """Every part in the source's order, then the summary sheet and the styles it needed."""
        book, placement = self.book, self.placement
        macros = macro_parts(archive)
        rels, types = without_macros(placement.rels, placement.content_types, macros)
        replaced = {book.part: placement.workbook, book.rels_part: rels, CONTENT_TYPES: types}
        styles_part = book.target("styles")
        other_sheets = {s.part: s.kind for s in book.sheets if s.part not in self.writers and s.part != placement.part}
        left_out = {placement.part, styles_part, *placement.dropped, *macros}
        for info in archive.infolist():
            name = info.filename
            if name in replaced:
                out.writestr(member(info), replaced.pop(name))
            elif name in self.writers:
                with out.open(member(info), "w", force_zip64=True) as stream:
                    self.writers[name].write(archive, name, stream)
            elif name in other_sheets:
                copy_unselected(archive, info, out, worksheet=other_sheets[name] == "worksheet")
            elif name not in left_out:
                copy_part(archive, info, out)
        for name, data in replaced.items():  # a workbook without a relationships part of its own, say
            out.writestr(member(name), data)
        with out.open(member(placement.part), "w", force_zip64=True) as stream:
            for data in _summary_xml(self.summary, self.styles, _locator(book, self.headers)):
                stream.write(data)
        out.writestr(member(styles_part), self.styles.to_xml())


def _linked_header_cells(archive: zipfile.ZipFile, book: Workbook, summary: SummarySheet,
                         scans: Mapping[str, sheet_xml.Scan]) -> dict[str, dict[int, etree._Element]]:
    """Row 1 of the sheets a summary link points into by column that are not annotated (so not scanned)."""
    out = {}
    for link in summary.links.values():
        sheet = book.sheet(link.sheet)
        if link.column and sheet is not None and sheet.kind == "worksheet" and sheet.part not in scans \
                and sheet.name not in out:
            out[sheet.name] = _first_row_cells(archive, sheet.part)
    return out


def _locator(book: Workbook, headers: Mapping[str, Mapping[str, int]]) -> Callable[[Link], str | None]:
    def locate(link: Link) -> str | None:
        sheet = book.sheet(link.sheet)
        if sheet is None:
            return None
        column = headers.get(sheet.name, {}).get(_key(link.column)) if link.column else None
        return _location(sheet.name, cell_ref(link.row, column or 1))

    return locate


def _scan(archive: zipfile.ZipFile, part: str) -> sheet_xml.Scan:
    with archive.open(part) as stream:
        return sheet_xml.scan(stream)


def _peek(archive: zipfile.ZipFile, part: str) -> tuple[sheet_xml.Scan, bool]:
    """The used range its <dimension> states and row 1, read from the start of the part (True: the range is
    the dimension's, to be checked while the rows stream); a sheet without a readable dimension is scanned."""
    with archive.open(part) as stream:
        dimension, header_cells = sheet_xml.peek(stream)
    if dimension is None:
        return _scan(archive, part), False
    return sheet_xml.Scan(dimension, header_cells), True


def _first_row_cells(archive: zipfile.ZipFile, part: str) -> dict[int, etree._Element]:
    """The cells of row 1 of a sheet that is not annotated (a link may point at one of its columns)."""
    with archive.open(part) as stream:
        return sheet_xml.first_row_cells(stream)


def _header_columns(cells_by_column: Mapping[int, etree._Element], strings: SharedStrings) -> dict[str, int]:
    out: dict[str, int] = {}
    for column, cell in cells_by_column.items():
        text = sheet_xml.cell_text(cell, strings)
        if text and text.strip():
            out.setdefault(_key(text), column)
    return out


# --- cells -------------------------------------------------------------------------------------------------------


def _holds_data(cell: etree._Element, empties: frozenset[int]) -> bool:
    """A formula, inline text, or a value that is not an empty shared string."""
    for part in cell:
        name = local(part.tag)
        if name == "f":
            return True
        if name == "is":
            return bool(string_item_text(part))
        if name == "v" and part.text:
            return not (cell.get("t") == "s" and part.text.isdigit() and int(part.text) in empties)
    return False


def _by_row(cells_by_key: Mapping[tuple[int, str], Any], headers: Mapping[str, int], note_column: int
            ) -> dict[int, dict[int, Any]]:
    """(row, header) -> value as row -> column -> value, leaving out unknown headers and the note column."""
    out: dict[int, dict[int, Any]] = {}
    for (row, header), value in cells_by_key.items():
        column = headers.get(_key(header))
        if column is not None and column != note_column:
            out.setdefault(row, {})[column] = value
    return out


# --- the second pass: annotating one worksheet -------------------------------------------------------------------

_XML_SPACE: Final = "{http://www.w3.org/XML/1998/namespace}space"


class _SheetWriter:
    """Each row comes out with its note cell written, an earlier note replaced or removed, cells filled and
    blank id cells given their number; rows that need a note but are not in the sheet are added. The
    `sheet_xml.Editor` of one annotated worksheet."""

    def __init__(self, notes: SheetNotes, scan: sheet_xml.Scan, trusted: bool, headers: Mapping[str, int],
                 styles: Styles, strings: SharedStrings) -> None:
        self.trusted = trusted  # the extent is the dimension's, checked against the rows as they stream
        self.dimension = copy(scan.extent)
        self.placed = _key(notes.header) not in headers  # the note column goes past the used range
        self.column = headers.get(_key(notes.header)) or scan.extent.last_column + 1
        self.letters = column_letters(self.column)
        self.width = notes.width
        self.styles, self.empties = styles, strings.empties
        self.header = Note(notes.header, notes.header_look)
        self.notes = {row: note for row, note in notes.notes.items() if row > 1}
        self.default = notes.default
        self.fills = _by_row(notes.fills, headers, self.column)
        self.numbers = _by_row(notes.numbers, headers, self.column)
        self.edited = set(self.fills) | set(self.numbers)
        self.todo = sorted({1, *self.notes, *self.edited})
        self.next = 0  # position in `todo` of the first row not yet written
        self.last = 0  # the row written last
        self.extent = copy(scan.extent)
        edit_columns = {c for row in (*self.fills.values(), *self.numbers.values()) for c in row}
        self.extent.add(self.todo, [self.column, *edit_columns])
        self.holder: etree._Element | None = None  # parent of the rows it adds, in the sheet's namespaces
        self.note_cells: dict[Note, etree._Element] = {}
        self.note_bytes: dict[Note, tuple[bytes, bytes]] = {}
        self.ns = ""

    def write(self, archive: zipfile.ZipFile, part: str, out: IO[bytes]) -> None:
        with archive.open(part) as stream:
            if self.trusted:
                sheet_xml.rewrite_raw(stream, out, self)
            else:
                sheet_xml.rewrite(stream, out, self)

    def raw_row(self, number: int, row: sheet_xml.RawRow) -> tuple[list[etree._Element], bytes] | None:
        """The usual row (not row 1, no cell to fill or number, ending before the note column) as bytes:
        the row itself, or with its note cell appended."""
        if number == 1 or number in self.edited or row.last > self.column or number <= self.last:
            return None
        content, cut = row.content, None
        if row.last == self.column:  # an earlier note, replaced
            cut = content.rfind(row.markup.cell_start)
            if row.markup.formula.search(content, cut):
                raise _Unsupported("a formula in the note column")
            content = content[:cut]
        added = list(self._added_before(number))
        self.last = number
        note = self.notes.get(number)
        if note is None and self.default is not None and row.markup.holds_data(content, self.empties):
            note = self.default
        if note is None:
            return added, row.raw if cut is None else row.with_cells_after(b"", cut=cut)
        before, after = self._note_bytes(note)
        return added, row.with_cells_after(b"%s%s%d%s" % (before, self.letters.encode(), number, after), cut=cut)

    def _note_bytes(self, note: Note) -> tuple[bytes, bytes]:
        """A note's cell as bytes, split where its reference goes."""
        found = self.note_bytes.get(note)
        if found is None:
            assert self.holder is not None
            holder = etree.Element(self.holder.tag, nsmap=self.holder.nsmap)
            self._note_cell(holder, 0, note, after=None)
            data = sheet_xml.children_bytes(holder)
            at = data.index(b' r="') + len(b' r="')
            end = data.index(b'"', at)
            found = self.note_bytes[note] = data[:at], data[end:]
        return found

    def finish(self, seen: sheet_xml.Extent, merges: sheet_xml.Extent) -> None:
        """`Redo` when the rows or merged cells reach outside the dimension the note column and the copy's
        dimension were worked out from, or (the note column placed past the used range) stop short of it."""
        used = copy(seen)
        if merges.first_row:
            used.add((merges.first_row, merges.last_row), (merges.first_column, merges.last_column))
        dim = self.dimension
        if used.first_row and not (dim.first_row <= used.first_row and used.last_row <= dim.last_row
                                   and dim.first_column <= used.first_column and used.last_column <= dim.last_column):
            raise sheet_xml.Redo("cells outside the sheet's stated dimension")
        if self.placed and used.last_column != dim.last_column:
            raise sheet_xml.Redo("the sheet's stated dimension is wider than its cells")

    def _tag(self, name: str) -> str:
        return f"{{{self.ns}}}{name}" if self.ns else name

    def head(self, root: etree._Element, elements: list[etree._Element]) -> list[etree._Element]:
        """The used range, no selected tab, the note column's width."""
        self.ns = namespace(root.tag)
        self.holder = etree.Element(self._tag("sheetData"), nsmap=root.nsmap)
        for views in (e for e in elements if local(e.tag) == "sheetViews"):
            for view in views:
                view.attrib.pop("tabSelected", None)
        dimension = next((e for e in elements if local(e.tag) == "dimension"), None)
        if dimension is None:
            dimension = etree.Element(self._tag("dimension"), nsmap=root.nsmap)
            at = sum(1 for e in elements if local(e.tag) in sheet_xml.BEFORE_DIMENSION)
            elements.insert(at, dimension)
        dimension.set("ref", self.extent.ref)
        cols = next((e for e in elements if local(e.tag) == "cols"), None)
        if cols is None:
            cols = etree.Element(self._tag("cols"), nsmap=root.nsmap)
            at = sum(1 for e in elements if local(e.tag) in sheet_xml.BEFORE_COLS)
            elements.insert(at, cols)
        sheet_xml.set_width(cols, self.column, self.width)
        return elements

    def row(self, row: etree._Element) -> Iterator[etree._Element]:
        number = row_number(row)
        if number <= self.last:
            raise _Unsupported("rows out of order")
        yield from self._added_before(number)
        self._edit(number, row, self.header if number == 1 else self.notes.get(number))
        self.last = number
        yield row

    def end(self, sheet_data: etree._Element) -> Iterator[etree._Element]:
        return self._added_before(None)

    def _added_before(self, number: int | None) -> Iterator[etree._Element]:
        """The rows that need a note but are not in the sheet, up to `number` (which is in it)."""
        while self.next < len(self.todo) and (number is None or self.todo[self.next] <= number):
            wanted = self.todo[self.next]
            self.next += 1
            if wanted != number:
                assert self.holder is not None
                row = etree.SubElement(self.holder, self._tag("row"), r=str(wanted))
                self._edit(wanted, row, self.header if wanted == 1 else self.notes.get(wanted))
                yield row

    def _edit(self, number: int, row: etree._Element, note: Note | None) -> None:
        """The row's cells edited in place; a row that needs nothing is left as it is. The usual row ends
        before the note column (or with an earlier note), which needs no look at its other cells."""
        ends = sheet_xml.end_cells(row)
        last = cell_column(ends[1], number) if ends else 0
        if number in self.edited or last > self.column:
            self._rebuild(number, row, list(cells(row)), note)
            return
        after = ends[1] if ends else None
        if last == self.column:
            assert after is not None
            if sheet_xml.part(after, "f") is not None:
                raise _Unsupported("a formula in the note column")
            earlier = after.getprevious()
            row.remove(after)
            if earlier is None or not sheet_xml.is_cell(earlier):
                earlier = next(reversed(list(cells(row))), None)
            after = earlier
        elif note is None and (number == 1 or self.default is None):
            return
        if note is None and number > 1 and self.default is not None and \
                any(_holds_data(cell, self.empties) for cell in cells(row)):
            note = self.default
        row.attrib.pop("spans", None)  # an optional hint; dropped rather than recomputed
        if note is not None:
            self._note_cell(row, number, note, after=after)

    def _rebuild(self, number: int, row: etree._Element, present: list[etree._Element], note: Note | None
                 ) -> None:
        columns = sheet_xml.ordered_columns(row, number)
        by_column = dict(zip(columns, present))
        old = by_column.pop(self.column, None)
        if old is not None:
            if sheet_xml.part(old, "f") is not None:
                raise _Unsupported("a formula in the note column")
            row.remove(old)
        if note is None and number > 1 and self.default is not None and \
                any(_holds_data(cell, self.empties) for column, cell in by_column.items() if column < self.column):
            note = self.default
        for column, argb in self.fills.get(number, {}).items():
            cell = by_column.get(column)
            if cell is None:
                cell = by_column[column] = etree.SubElement(row, self._tag("c"), r=cell_ref(number, column))
            cell.set("s", str(self.styles.xf(_style(cell), Format(fill=argb))))
        for column, value in self.numbers.get(number, {}).items():
            cell = by_column.get(column)
            if cell is not None and _holds_data(cell, self.empties):
                continue
            if cell is None:
                cell = by_column[column] = etree.SubElement(row, self._tag("c"), r=cell_ref(number, column))
            style = self.styles.xf(_style(cell), Format(number_format=NUMBER_FORMAT_INTEGER))
            for name in list(cell.attrib):
                if name != "r":
                    del cell.attrib[name]
            for part in list(cell):
                cell.remove(part)
            cell.set("s", str(style))
            etree.SubElement(cell, self._tag("v")).text = str(int(value))
        if note is not None:
            by_column[self.column] = self._note_cell(row, number, note, after=None)
        others = [child for child in row if local(child.tag) != "c"]  # an extension list stays last
        for element in [by_column[column] for column in sorted(by_column)] + others:
            row.append(element)
        row.attrib.pop("spans", None)

    def _note_cell(self, row: etree._Element, number: int, note: Note, after: etree._Element | None
                   ) -> etree._Element:
        """A note cell put after `after` (first when None): a copy of the note's cell, made once."""
        template = self.note_cells.get(note)
        if template is None:
            assert self.holder is not None
            template = etree.SubElement(self.holder, self._tag("c"), r="")
            xf = self.styles.xf(0, _format(note.look))
            if xf:
                template.set("s", str(xf))
            template.set("t", "inlineStr")
            text = etree.SubElement(etree.SubElement(template, self._tag("is")), self._tag("t"))
            text.set(_XML_SPACE, "preserve")
            text.text = _clean(note.text)
            self.holder.remove(template)
            self.note_cells[note] = template
        cell = deepcopy(template)
        cell.set("r", f"{self.letters}{number}")
        if after is not None:
            after.addnext(cell)
        else:
            row.insert(0, cell)
        return cell


def _style(cell: etree._Element) -> int:
    value = cell.get("s", "0")
    return int(value) if value.isdigit() else 0


# --- the summary sheet ----------------------------------------------------------------------------------

_SUMMARY_HEAD: Final = ('<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
                        f'<worksheet xmlns="{MAIN_NS}" xmlns:r="{RELS_NS}">')
_ROWS_PER_WRITE: Final = 2000


def _summary_xml(summary: SummarySheet, styles: Styles, locate: Callable[[Link], str | None]) -> Iterator[bytes]:
    width = max((len(row) for row in summary.rows), default=1) or 1
    extent = f"A1:{column_letters(width)}{max(len(summary.rows), 1)}"
    yield (_SUMMARY_HEAD + f'<dimension ref="{extent}"/><sheetViews><sheetView tabSelected="1" workbookViewId="0">'
           f'{_pane(summary.freeze)}</sheetView></sheetViews><sheetFormatPr defaultRowHeight="15"/>').encode()
    if summary.widths:
        yield ("<cols>" + "".join(f'<col min="{n}" max="{n}" width="{w:g}" customWidth="1"/>'
                                  for n, w in enumerate(summary.widths, start=1)) + "</cols>").encode()
    yield b"<sheetData>"
    links: list[str] = []
    batch: list[str] = []
    for number, values in enumerate(summary.rows, start=1):
        cells = []
        for column, value in enumerate(values, start=1):
            if value is None:
                continue
            ref = cell_ref(number, column)
            look = summary.looks.get(number)
            link = summary.links.get((number, column))
            location = locate(link) if link is not None else None
            if location is not None:
                look = LINK_LOOK
                links.append(f'<hyperlink ref="{ref}" location="{_attribute_text(location)}" '
                             f'display="{_attribute_text(str(value))}"/>')
            cells.append(_value_cell(ref, value, styles.xf(0, _format(look))))
        if cells:
            batch.append(f'<row r="{number}">{"".join(cells)}</row>')
        if len(batch) >= _ROWS_PER_WRITE:
            yield "".join(batch).encode()
            batch = []
    yield ("".join(batch) + "</sheetData>").encode()
    if links:
        yield ("<hyperlinks>" + "".join(links) + "</hyperlinks>").encode()
    yield b'<pageMargins left="0.75" right="0.75" top="1" bottom="1" header="0.5" footer="0.5"/></worksheet>'


def _pane(freeze: str | None) -> str:
    if not freeze or freeze == "A1":
        return ""
    row, column = split_ref(freeze)
    columns, rows = column - 1, row - 1
    pane = "bottomRight" if columns and rows else "bottomLeft" if rows else "topRight"
    split = (f' xSplit="{columns}"' if columns else "") + (f' ySplit="{rows}"' if rows else "")
    return (f'<pane{split} topLeftCell="{freeze}" activePane="{pane}" state="frozen"/>'
            f'<selection pane="{pane}" activeCell="{freeze}" sqref="{freeze}"/>')


def _value_cell(ref: str, value: Any, xf: int) -> str:
    style = f' s="{xf}"' if xf else ""
    if isinstance(value, bool):
        return f'<c r="{ref}"{style} t="b"><v>{int(value)}</v></c>'
    if isinstance(value, numbers.Integral):
        return f'<c r="{ref}"{style}><v>{int(value)}</v></c>'
    if isinstance(value, numbers.Real) and math.isfinite(float(value)):
        return f'<c r="{ref}"{style}><v>{float(value)!r}</v></c>'
    return (f'<c r="{ref}"{style} t="inlineStr"><is><t xml:space="preserve">{xml_text(_clean(str(value)))}</t>'
            "</is></c>")




def _attribute_text(text: str) -> str:
    return xml_text(_clean(text)).replace('"', "&quot;")



# --- the openpyxl path: the same spec on a loaded workbook -----------------------------------------------


def _with_openpyxl(source: Path, target: Path, sheets: Mapping[str, SheetNotes], summary: SummarySheet) -> None:
    from openpyxl import load_workbook

    try:
        book = load_workbook(source)
    except Exception as exc:  # noqa: BLE001 - whatever openpyxl raises, the file is not a workbook it can read
        raise UnreadableWorkbook(f"{source.name}: {exc}") from exc
    specs = _with_continuations(sheets, [ws.title for ws in book.worksheets])
    for ws in book.worksheets:
        notes = specs.get(ws.title.casefold())
        if notes is not None:
            _openpyxl_sheet(ws, notes)
    _openpyxl_summary(book, summary)
    book.save(target)


def _openpyxl_headers(ws: Any) -> dict[str, int]:
    out: dict[str, int] = {}
    for cell in ws[1]:
        if isinstance(cell.value, str) and cell.value.strip():
            out.setdefault(_key(cell.value), cell.column)
    return out


def _openpyxl_sheet(ws: Any, notes: SheetNotes) -> None:
    from openpyxl.styles import PatternFill

    headers = _openpyxl_headers(ws)
    column = headers.get(_key(notes.header)) or ws.max_column + 1
    last_row = ws.max_row
    with_data = {number for number, values in enumerate(
        ws.iter_rows(min_row=2, max_row=last_row, max_col=max(column - 1, 1), values_only=True), start=2)
        if column > 1 and any(value not in (None, "") for value in values)}
    for number in range(2, last_row + 1):
        cell = ws.cell(number, column)
        if cell.value is not None or cell.has_style:
            cell.value = None  # an earlier note
            cell.style = "Normal"
    _openpyxl_note(ws.cell(1, column), Note(notes.header, notes.header_look))
    defaults = dict.fromkeys(with_data - set(notes.notes), notes.default) if notes.default is not None else {}
    for number, note in {**defaults, **notes.notes}.items():
        if number > 1:
            _openpyxl_note(ws.cell(number, column), note)
    for (number, header), argb in notes.fills.items():
        target = headers.get(_key(header))
        if target is not None and target != column:
            ws.cell(number, target).fill = PatternFill("solid", start_color=argb, end_color=argb)
    for (number, header), value in notes.numbers.items():
        target = headers.get(_key(header))
        if target is not None and target != column and ws.cell(number, target).value in (None, ""):
            ws.cell(number, target).value = int(value)
            ws.cell(number, target).number_format = "0"
    ws.column_dimensions[column_letters(column)].width = notes.width


def _openpyxl_note(cell: Any, note: Note) -> None:
    cell.style = "Normal"
    _openpyxl_text(cell, note.text)
    _openpyxl_look(cell, note.look)


def _openpyxl_text(cell: Any, text: str) -> None:
    """Text into a cell as text: never read as a formula."""
    cell.value = _clean(text)
    cell.data_type = "s"


def _openpyxl_look(cell: Any, look: Look | None) -> None:
    from openpyxl.styles import PatternFill

    if look is None:
        return
    if look.has_font:
        font = copy(cell.font)
        font.b = font.b or look.bold
        font.u = "single" if look.underline else font.u
        font.sz = look.size or font.sz
        font.color = look.color or font.color
        cell.font = font
    if look.fill is not None:
        cell.fill = PatternFill("solid", start_color=look.fill, end_color=look.fill)


def _openpyxl_summary(book: Any, summary: SummarySheet) -> None:
    from openpyxl.worksheet.hyperlink import Hyperlink

    earlier = next((ws for ws in book.worksheets if ws.title.casefold() == summary.title.casefold()), None)
    if earlier is not None:
        book.remove(earlier)
    ws = book.create_sheet(summary.title, 0)
    for number, values in enumerate(summary.rows, start=1):
        for column, value in enumerate(values, start=1):
            if value is None:
                continue
            cell = ws.cell(number, column)
            if isinstance(value, (bool, numbers.Integral)) or \
                    (isinstance(value, numbers.Real) and math.isfinite(float(value))):
                cell.value = value
            else:
                _openpyxl_text(cell, str(value))
            link = summary.links.get((number, column))
            location = _openpyxl_location(book, link) if link is not None else None
            if location is not None:
                cell.hyperlink = Hyperlink(ref=cell.coordinate, location=location, display=_clean(str(value)))
            _openpyxl_look(cell, LINK_LOOK if location is not None else summary.looks.get(number))
    for column, width in enumerate(summary.widths, start=1):
        ws.column_dimensions[column_letters(column)].width = width
    ws.freeze_panes = summary.freeze
    for sheet in book.worksheets:
        sheet.sheet_view.tabSelected = sheet is ws
    book.active = 0


def _openpyxl_location(book: Any, link: Link) -> str | None:
    ws = next((ws for ws in book.worksheets if ws.title.casefold() == link.sheet.casefold()), None)
    if ws is None:
        return None
    column = _openpyxl_headers(ws).get(_key(link.column)) if link.column else None
    return _location(ws.title, f"{column_letters(column or 1)}{link.row}")
