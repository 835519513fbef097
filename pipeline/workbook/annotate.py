"""Annotated copies of a workbook: a note column per sheet, marked cells, and a summary sheet first.

The validation report (an `errors` column, failing cells filled red) and the apply results (a
`result` column, new ids filled in) are both a copy of the user's own workbook with notes added;
`annotate_copy` writes either one from a spec: a `SheetNotes` per sheet and a `SummarySheet`.

The copy is made by editing the xlsx package, not by loading it: every part is copied as it is
except the few that change (the annotated worksheets, styles, the workbook's sheet list, its
relationships and the content types), and each annotated worksheet is edited row by row as its
XML streams through. Loading a 10k-product workbook into openpyxl and saving it again took a
minute and over a gigabyte, and dropped whatever openpyxl does not model; this is about one pass
over the XML. A package the streaming path does not understand (cells or rows without a
reference, strict OOXML, a formula where a note goes, an unreadable zip, ...) is annotated
through openpyxl from the same spec instead, so a copy is always written.

What counts as data (the rows that get the default note, the id cells that count as blank): a
cell holds data when it has a formula, a non-empty value, or inline text. A shared string is
resolved only to tell whether it is empty: the empty entries of the shared-string table are found
in one pass over it, which also reads the header texts of row 1.
"""

from __future__ import annotations

import html
import logging
import math
import numbers
import posixpath
import re
import shutil
import zipfile
import zlib
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from copy import copy
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, Final
from urllib.parse import unquote

from openpyxl.utils import column_index_from_string, get_column_letter

from pipeline.workbook.writer import xml_text

logger = logging.getLogger(__name__)

CHUNK: Final = 1 << 20  # bytes of sheet XML handled at a time
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
        _write_atomically(out, lambda target: _stream(source, target, sheets, summary))
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


# What sends a workbook to openpyxl: our own refusals and whatever a damaged or unusual package raises
# while it is read (a missing part, bad zip data, text that is not UTF-8, a number that is not one).
_STREAM_REFUSALS: Final = (_Unsupported, zipfile.BadZipFile, zlib.error, EOFError, OSError, KeyError, ValueError,
                            IndexError)


def _clean(text: str) -> str:
    """Text a cell can hold: the characters xlsx cannot store become U+FFFD (as openpyxl would refuse them)."""
    return _ILLEGAL.sub("\ufffd", text)


_ILLEGAL: Final = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f]")


def _attribute_text(text: str) -> str:
    return xml_text(_clean(text)).replace('"', "&quot;")


def _key(header: str) -> str:
    return header.strip().casefold()


def _location(title: str, reference: str) -> str:
    return "'" + title.replace("'", "''") + "'!" + reference


# --- the package: which part is which sheet, and the summary sheet's place --------------------------------

_MAIN_NS: Final = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
_RELS_NS: Final = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
_WORKSHEET: Final = _RELS_NS + "/worksheet"
_WORKSHEET_CONTENT: Final = "application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"
_ATTRIBUTE: Final = re.compile(r"""([\w:.-]+)\s*=\s*(?:"([^"]*)"|'([^']*)')""")
_SHEET_ELEMENT: Final = re.compile(r"<sheet\s[^>]*?(?:/>|>\s*</sheet>)")
_RELATIONSHIP: Final = re.compile(r"<Relationship\s[^>]*?(?:/>|>\s*</Relationship>)")


def _attributes(tag: str) -> dict[str, str]:
    return {name: html.unescape(double if double or not single else single)
            for name, double, single in _ATTRIBUTE.findall(tag)}


def _set_attribute(tag: str, name: str, value: str) -> str:
    """`tag` (a start tag) with the attribute set, replaced where it is or added before the tag's end."""
    pattern = re.compile(rf"""(\s{re.escape(name)}\s*=\s*)(?:"[^"]*"|'[^']*')""")
    if pattern.search(tag):
        return pattern.sub(lambda m: f'{m.group(1)}"{value}"', tag, count=1)
    end = len(tag) - (2 if tag.endswith("/>") else 1)
    return f'{tag[:end]} {name}="{value}"{tag[end:]}'


def _part_path(base_part: str, target: str) -> str:
    """The zip member a relationship of `base_part` points at."""
    target = unquote(target)
    if target.startswith("/"):
        return target.lstrip("/")
    return posixpath.normpath(posixpath.join(posixpath.dirname(base_part), target))


def _rels_path(part: str) -> str:
    return posixpath.join(posixpath.dirname(part), "_rels", posixpath.basename(part) + ".rels")


@dataclass
class _Sheet:
    title: str
    part: str
    kind: str  # the relationship type: worksheet, chartsheet, ...
    element: str  # its <sheet .../> in workbook.xml


@dataclass
class _Book:
    """The workbook part, its relationships and sheets, and the content types, as text."""

    part: str
    xml: str
    rels_xml: str
    content_types: str
    sheets: list[_Sheet]
    targets: dict[str, str]  # relationship type -> part (styles, sharedStrings)
    rel_prefix: str  # the prefix workbook.xml binds to the relationships namespace

    @property
    def rels_part(self) -> str:
        return _rels_path(self.part)

    @classmethod
    def read(cls, archive: zipfile.ZipFile) -> _Book:
        """Strict OOXML and a workbook in a prefixed namespace are left to openpyxl (which may read them)."""
        part = next((_part_path("", r["Target"]) for r in _relationships(archive.read("_rels/.rels").decode())
                     if r.get("Type") == _RELS_NS + "/officeDocument"), None)
        if part is None:
            raise _Unsupported("no workbook part of the transitional OOXML kind")
        xml = archive.read(part).decode()
        start = re.search(r"<workbook\b[^>]*>", xml)
        if start is None or f'xmlns="{_MAIN_NS}"' not in start.group():
            raise _Unsupported("workbook.xml is not SpreadsheetML in the default namespace")
        prefix = re.search(rf'xmlns:([\w.-]+)="{re.escape(_RELS_NS)}"', start.group())
        if prefix is None:
            raise _Unsupported("workbook.xml does not declare the relationships namespace")
        rels_xml = archive.read(_rels_path(part)).decode()
        relationships = {r["Id"]: r for r in _relationships(rels_xml) if r.get("TargetMode") != "External"}
        sheets = []
        for match in _SHEET_ELEMENT.finditer(_block(xml, "sheets")):
            attributes = _attributes(match.group())
            rel = relationships[attributes[f"{prefix.group(1)}:id"]]
            sheets.append(_Sheet(attributes["name"], _part_path(part, rel["Target"]), rel["Type"].rsplit("/", 1)[-1],
                                 match.group()))
        targets = {r["Type"].rsplit("/", 1)[-1]: _part_path(part, r["Target"]) for r in relationships.values()}
        return cls(part, xml, rels_xml, archive.read("[Content_Types].xml").decode(), sheets, targets,
                   prefix.group(1))

    def sheet(self, title: str) -> _Sheet | None:
        return next((s for s in self.sheets if s.title.casefold() == title.casefold()), None)


def _relationships(xml: str) -> list[dict[str, str]]:
    return [_attributes(match.group()) for match in _RELATIONSHIP.finditer(xml)]


def _block(xml: str, name: str) -> str:
    match = re.search(rf"<{name}\b[^>]*>(.*?)</{name}>", xml, re.S)
    if match is None:
        raise _Unsupported(f"no <{name}> in workbook.xml")
    return match.group(1)


@dataclass
class _Placement:
    """Where the summary sheet goes and the package parts that say so."""

    part: str
    workbook: str
    rels: str
    content_types: str
    dropped: frozenset[str]  # parts of an earlier summary sheet the copy leaves out


def _place_summary(book: _Book, title: str, members: set[str]) -> _Placement:
    """Put the summary sheet first: reuse the part of an earlier summary sheet, else add a part."""
    earlier = book.sheet(title)
    if earlier is not None and earlier.kind != "worksheet":
        raise _Unsupported(f"a {earlier.kind} is named {title!r}")
    if earlier is not None:
        attributes = _attributes(earlier.element)
        sheet_id, rel_id = attributes["sheetId"], attributes[f"{book.rel_prefix}:id"]
        part, rels, types = earlier.part, book.rels_xml, book.content_types
        dropped = frozenset({_rels_path(earlier.part)} & members)
    else:
        part = next(f"xl/worksheets/sheet{n}.xml" for n in range(1, len(members) + 2)
                    if f"xl/worksheets/sheet{n}.xml" not in members
                    and f'PartName="/xl/worksheets/sheet{n}.xml"' not in book.content_types)
        ids = [int(n) for n in re.findall(r'Id="rId(\d+)"', book.rels_xml)]
        rel_id = f"rId{max(ids, default=0) + 1}"
        while f'Id="{rel_id}"' in book.rels_xml:
            rel_id += "x"
        sheet_id = str(max((int(_attributes(s.element).get("sheetId", 0)) for s in book.sheets), default=0) + 1)
        target = posixpath.relpath(part, posixpath.dirname(book.part))
        rels = _insert_before(book.rels_xml, "</Relationships>",
                              f'<Relationship Id="{rel_id}" Type="{_WORKSHEET}" Target="{target}"/>')
        types = _insert_before(book.content_types, "</Types>",
                               f'<Override PartName="/{part}" ContentType="{_WORKSHEET_CONTENT}"/>')
        dropped = frozenset()
    element = f'<sheet name="{_attribute_text(title)}" sheetId="{sheet_id}" {book.rel_prefix}:id="{rel_id}"/>'
    others = [s for s in book.sheets if s is not earlier]
    moved = {book.sheets.index(s): position for position, s in enumerate(others, start=1)}
    workbook = _renumber_local_names(book.xml, moved)
    workbook = re.sub(r"<sheets\b([^>]*)>.*?</sheets>",
                      lambda m: f"<sheets{m.group(1)}>{element}{''.join(s.element for s in others)}</sheets>",
                      workbook, count=1, flags=re.S)
    workbook = re.sub(r"<workbookView\b[^>]*>", _first_tab, workbook)
    return _Placement(part, workbook, rels, types, dropped)


def _insert_before(xml: str, closing: str, element: str) -> str:
    at = xml.rfind(closing)
    if at < 0:
        raise _Unsupported(f"no {closing}")
    return xml[:at] + element + xml[at:]


def _first_tab(match: re.Match[str]) -> str:
    tag = match.group()
    for name in ("activeTab", "firstSheet"):
        if re.search(rf"\s{name}\s*=", tag):
            tag = _set_attribute(tag, name, "0")
    return tag


def _renumber_local_names(xml: str, moved: Mapping[int, int]) -> str:
    """Defined names local to a sheet name it by position, which the summary sheet shifts; the names of
    a replaced summary sheet go with it."""
    def renumber(match: re.Match[str]) -> str:
        local = re.search(r'\slocalSheetId\s*=\s*"(\d+)"', match.group(1))
        if local is None:
            return match.group()
        position = moved.get(int(local.group(1)))
        if position is None:
            return ""
        start = match.group().split(">", 1)[0] + ">"
        return _set_attribute(start, "localSheetId", str(position)) + match.group()[len(start):]

    return re.sub(r"<definedName\b([^>]*)(?:/>|>.*?</definedName>)", renumber, xml, flags=re.S)


# --- styles --------------------------------------------------------------------------------------------


class _Styles:
    """xl/styles.xml with the fonts, fills and cell formats the notes need appended (each made once)."""

    def __init__(self, xml: str) -> None:
        self.xml = xml
        self.blocks = {name: _style_block(xml, name, child) for name, child in
                       (("fonts", "font"), ("fills", "fill"), ("cellXfs", "xf"))}
        self.added: dict[str, list[str]] = {name: [] for name in self.blocks}
        self.made: dict[tuple[str, Any], int] = {}

    def _add(self, block: str, key: Any, element: Callable[[], str]) -> int:
        made = self.made.get((block, key))
        if made is None:
            made = len(self.blocks[block].children) + len(self.added[block])
            self.added[block].append(element())
            self.made[(block, key)] = made
        return made

    def _xf_attributes(self, index: int) -> dict[str, str]:
        children = self.blocks["cellXfs"].children
        return _attributes(children[index if index < len(children) else 0].split(">", 1)[0])

    def xf(self, base: int, look: Look | None = None, number_format: int | None = None) -> int:
        """The cell format `base` with the look's font and fill and the number format applied."""
        if (look is None or (look.fill is None and not look.has_font)) and number_format is None:
            return base
        return self._add("cellXfs", (base, look, number_format), lambda: self._derived_xf(base, look, number_format))

    def _derived_xf(self, base: int, look: Look | None, number_format: int | None) -> str:
        children = self.blocks["cellXfs"].children
        element = children[base if base < len(children) else 0]
        start, rest = element.split(">", 1) if not element.endswith("/>") else (element[:-2], "")
        start = start + (">" if rest else "/>")
        if look is not None and look.has_font:
            font = int(self._xf_attributes(base).get("fontId", 0))
            start = _set_attribute(_set_attribute(start, "fontId", str(self._font(font, look))), "applyFont", "1")
        if look is not None and look.fill is not None:
            start = _set_attribute(_set_attribute(start, "fillId", str(self._fill(look.fill))), "applyFill", "1")
        if number_format is not None:
            start = _set_attribute(_set_attribute(start, "numFmtId", str(number_format)), "applyNumberFormat", "1")
        return start + rest

    def _font(self, base: int, look: Look) -> int:
        def element() -> str:
            fonts = self.blocks["fonts"].children
            inner = _inner(fonts[base if base < len(fonts) else 0])
            for name, wanted, new in (("b", look.bold, "<b/>"), ("u", look.underline, "<u/>"),
                                      ("sz", look.size is not None, f'<sz val="{look.size:g}"/>' if look.size else ""),
                                      ("color", look.color is not None, f'<color rgb="{look.color}"/>')):
                if wanted:
                    inner = re.sub(rf"<{name}\b[^>]*?(?:/>|>.*?</{name}>)", "", inner, flags=re.S) + new
            return f"<font>{inner}</font>"

        return self._add("fonts", (base, look.bold, look.underline, look.size, look.color), element)

    def _fill(self, argb: str) -> int:
        return self._add("fills", argb, lambda: f'<fill><patternFill patternType="solid"><fgColor rgb="{argb}"/>'
                                                f'<bgColor rgb="{argb}"/></patternFill></fill>')

    def to_xml(self) -> bytes:
        xml = self.xml
        for name in sorted(self.blocks, key=lambda n: -self.blocks[n].start):
            block = self.blocks[name]
            count = len(block.children) + len(self.added[name])
            start = _set_attribute(block.start_tag, "count", str(count))
            xml = xml[:block.start] + start + block.body + "".join(self.added[name]) + f"</{name}>" + xml[block.end:]
        return xml.encode()


@dataclass
class _StyleBlock:
    start: int
    end: int
    start_tag: str
    body: str
    children: list[str]


def _style_block(xml: str, name: str, child: str) -> _StyleBlock:
    match = re.search(rf"(<{name}\b[^>]*>)(.*?)</{name}>", xml, re.S)
    if match is None:
        raise _Unsupported(f"styles.xml has no <{name}>")
    children = re.findall(rf"<{child}\b[^>]*?(?:/>|>.*?</{child}>)", match.group(2), re.S)
    return _StyleBlock(match.start(), match.end(), match.group(1), match.group(2), children)


def _inner(element: str) -> str:
    if element.endswith("/>"):
        return ""
    return element.split(">", 1)[1].rsplit("<", 1)[0]


# --- shared strings ------------------------------------------------------------------------------------

_SI_STARTS: Final = (b"<si>", b"<si ", b"<si/>")
_SI: Final = re.compile(rb"<si\b[^>]*?(?:/>|>(.*?)</si>)", re.S)
_EMPTY_SI: Final = re.compile(rb"<si\s*/>|<si>(?:<t\b[^>]*/>|<t\b[^>]*></t>)?</si>")
_TEXT_RUN: Final = re.compile(rb"<t\b[^>]*>(.*?)</t>", re.S)
_PHONETIC: Final = re.compile(rb"<rPh\b.*?</rPh>", re.S)


@dataclass
class _SharedStrings:
    """The texts of the few shared strings needed (header cells) and the indexes of the empty ones."""

    texts: dict[int, str] = field(default_factory=dict)
    empties: frozenset[int] = frozenset()

    @classmethod
    def read(cls, archive: zipfile.ZipFile, part: str | None, wanted: set[int]) -> _SharedStrings:
        strings = cls()
        if part is None:
            return strings
        empties: set[int] = set()
        base, carry = 0, b""
        with archive.open(part) as stream:
            while True:
                more = stream.read(CHUNK)
                data = carry + more
                cut = data.rfind(b"</si>") + len(b"</si>") if more else len(data)
                if more and cut < len(b"</si>"):
                    carry = data
                    continue
                block, carry = data[:cut], data[cut:]
                base = strings._take(block, base, wanted, empties)
                if not more:
                    break
        strings.empties = frozenset(empties)
        return strings

    def _take(self, block: bytes, base: int, wanted: set[int], empties: set[int]) -> int:
        """Note the wanted texts and the empty entries among the strings in `block`; returns the next index."""
        counted, at = base, 0
        for match in _EMPTY_SI.finditer(block):
            counted += _count_si(block, at, match.start())
            empties.add(counted)
            at = match.start()
        size = _count_si(block, 0, len(block))
        if any(base <= index < base + size for index in wanted):
            for index, match in enumerate(_SI.finditer(block), start=base):
                if index in wanted:
                    self.texts[index] = _texts(match.group(1) or b"")
        return base + size


def _count_si(block: bytes, start: int, end: int) -> int:
    return sum(block.count(token, start, end) for token in _SI_STARTS)


def _texts(xml: bytes) -> str:
    """The text of a string item or inline string: its runs, without phonetic guides."""
    return html.unescape(b"".join(_TEXT_RUN.findall(_PHONETIC.sub(b"", xml))).decode())


# --- worksheet XML, read in sections ---------------------------------------------------------------------

_HEAD, _ROWS, _TAIL = "head", "rows", "tail"
_SHEET_DATA: Final = re.compile(rb"<sheetData\s*(/?)>")
_WORKSHEET_ROOT: Final = re.compile(rb"<worksheet\b[^>]*>")
_ROW: Final = re.compile(rb'\s*<row r="(\d+)"([^>]*?)(/?)>')
_CELL_START: Final = re.compile(rb'<c r="')
_CELL_REF: Final = re.compile(rb'<c r="([A-Z]{1,3})(\d+)"')
_CELL_COLUMN: Final = re.compile(rb'<c r="([A-Z]{1,3})\d')
_ODD_TAG: Final = re.compile(rb"<(?:c|row)(?:[\t\r\n]|/?>)")
_MERGE: Final = re.compile(rb'<mergeCell ref="([A-Z]{1,3})(\d+)(?::([A-Z]{1,3})(\d+))?"')


def _sections(stream: IO[bytes]) -> Iterator[tuple[str, bytes]]:
    """The worksheet as (HEAD, everything before <sheetData>), (ROWS, complete rows)..., (TAIL, the rest);
    only the rows are read a chunk at a time, and the head and tail are small."""
    buffer = b""
    while (match := _SHEET_DATA.search(buffer)) is None:
        more = stream.read(CHUNK)
        if not more:
            raise _Unsupported("a worksheet without <sheetData>")
        buffer += more
    root = _WORKSHEET_ROOT.search(buffer, 0, match.start())
    if root is None or f'xmlns="{_MAIN_NS}"'.encode() not in root.group():
        raise _Unsupported("a worksheet that is not SpreadsheetML in the default namespace")
    yield _HEAD, buffer[:match.start()]
    buffer = buffer[match.end():]
    if match.group(1):  # <sheetData/>
        yield _TAIL, buffer + stream.read()
        return
    while (end := buffer.find(b"</sheetData>")) < 0:
        cut = buffer.rfind(b"</row>")
        if cut >= 0:
            yield _ROWS, buffer[:cut + len(b"</row>")]
            buffer = buffer[cut + len(b"</row>"):]
        more = stream.read(CHUNK)
        if not more:
            raise _Unsupported("<sheetData> is not closed")
        buffer += more
    yield _ROWS, buffer[:end]
    yield _TAIL, buffer[end + len(b"</sheetData>"):] + stream.read()


def _rows(chunk: bytes) -> Iterator[tuple[int, bytes, bytes, bytes]]:
    """(number, other attributes, cells, the row's own XML) of each row in a run of complete rows."""
    pieces = chunk.split(b"</row>")
    for index, piece in enumerate(pieces):
        at = 0
        while (match := _ROW.match(piece, at)) is not None and match.group(3):  # <row .../>
            yield int(match.group(1)), match.group(2), b"", match.group()
            at = match.end()
        if match is None:
            if piece[at:].strip():
                raise _Unsupported("unexpected content in <sheetData>")
            continue
        if index == len(pieces) - 1:
            raise _Unsupported("a row is not closed")
        yield int(match.group(1)), match.group(2), piece[match.end():], piece[at:] + b"</row>"


def _check_rows(chunk: bytes) -> list[bytes]:
    """The column letters of every cell, after checking that every row and cell leads with its reference
    (the streaming edits rely on it)."""
    columns = _CELL_COLUMN.findall(chunk)
    if len(columns) != chunk.count(b"<c ") or chunk.count(b"<row ") != chunk.count(b'<row r="') \
            or _ODD_TAG.search(chunk):
        raise _Unsupported("a row or cell without its reference first")
    return columns


@dataclass
class _Extent:
    """The used range of a sheet, 1-based (empty when first_row is 0)."""

    first_row: int = 0
    last_row: int = 0
    first_column: int = 0
    last_column: int = 0

    def add(self, rows: Iterable[int], columns: Iterable[int]) -> None:
        rows, columns = list(rows), list(columns)
        if not rows or not columns:
            return
        if not self.first_row:
            self.first_row, self.last_row = min(rows), max(rows)
            self.first_column, self.last_column = min(columns), max(columns)
            return
        self.first_row, self.last_row = min(self.first_row, *rows), max(self.last_row, *rows)
        self.first_column, self.last_column = min(self.first_column, *columns), max(self.last_column, *columns)

    @property
    def ref(self) -> str:
        first = f"{get_column_letter(self.first_column)}{self.first_row}"
        last = f"{get_column_letter(self.last_column)}{self.last_row}"
        return first if first == last else f"{first}:{last}"


@dataclass
class _Scan:
    """What the first pass over a worksheet learns: its used range and the cells of row 1."""

    extent: _Extent
    header_cells: dict[int, bytes]


def _scan(archive: zipfile.ZipFile, part: str) -> _Scan:
    scan = _Scan(_Extent(), {})
    first = True
    with archive.open(part) as stream:
        for kind, data in _sections(stream):
            if kind == _ROWS:
                columns = {_column(letters) for letters in set(_check_rows(data))}
                numbers = [int(n) for n in re.findall(rb'<row r="(\d+)"[^>]*?(?<!/)>\s*<c ', data)]
                scan.extent.add(numbers[:1] + numbers[-1:], columns)
                if first and data.strip():
                    number, _, cells, _ = next(_rows(data))
                    scan.header_cells = _split_cells(number, cells) if number == 1 else {}
                first = False
            elif kind == _TAIL:
                for left, top, right, bottom in _MERGE.findall(data):
                    scan.extent.add((int(top), int(bottom or top)), (_column(left), _column(right or left)))
    return scan


def _first_row_cells(archive: zipfile.ZipFile, part: str) -> dict[int, bytes]:
    """The cells of row 1 of a sheet that is not annotated (a link may point at one of its columns)."""
    with archive.open(part) as stream:
        for kind, data in _sections(stream):
            if kind == _ROWS and data.strip():
                number, _, cells, _ = next(_rows(data))
                return _split_cells(number, cells) if number == 1 else {}
    return {}


_COLUMNS: dict[bytes, int] = {}


def _column(letters: bytes) -> int:
    number = _COLUMNS.get(letters)
    if number is None:
        number = _COLUMNS[letters] = column_index_from_string(letters.decode())
    return number


def _split_cells(number: int, cells: bytes) -> dict[int, bytes]:
    """Column -> the cell's XML, checking the references match the row and come in column order."""
    if b"<extLst" in cells:
        raise _Unsupported("a row with an extension list")
    starts = [m.start() for m in _CELL_START.finditer(cells)]
    if cells[:starts[0] if starts else len(cells)].strip():
        raise _Unsupported("unexpected content in a row")
    out: dict[int, bytes] = {}
    previous = 0
    ends = [*starts[1:], len(cells)] if starts else []
    for start, end in zip(starts, ends, strict=True):
        cell = cells[start:end]
        ref = _CELL_REF.match(cell)
        if ref is None or int(ref.group(2)) != number:
            raise _Unsupported(f"a cell of row {number} with another row's reference")
        column = _column(ref.group(1))
        if column <= previous:
            raise _Unsupported(f"cells of row {number} out of order")
        out[column] = cell
        previous = column
    return out


_FORMULA: Final = re.compile(rb"<f[\s>/]")
_TYPE: Final = re.compile(rb'\st="(\w+)"')
_STYLE: Final = re.compile(rb'\ss="(\d+)"')
_VALUE: Final = re.compile(rb"<v>([^<]*)</v>")
_INLINE_TEXT: Final = re.compile(rb"<t(?:\s[^>]*)?>[^<]")
_DATA: Final = re.compile(rb"<v>[^<]|<f[\s>/]|<t(?:\s[^>]*)?>[^<]")
_SPANS: Final = re.compile(rb'\sspans="[^"]*"')


def _cell_type(cell: bytes) -> bytes | None:
    kind = _TYPE.search(cell, 0, cell.find(b">"))
    return kind.group(1) if kind else None


def _cell_style(cell: bytes) -> int:
    style = _STYLE.search(cell, 0, cell.find(b">"))
    return int(style.group(1)) if style else 0


def _cell_text(cell: bytes, strings: _SharedStrings) -> str | None:
    """The text of a header cell (None for numbers, formulas and blanks)."""
    kind = _cell_type(cell)
    if _FORMULA.search(cell):
        return None
    if kind == b"inlineStr":
        return _texts(cell)
    value = _VALUE.search(cell)
    if value is None or kind not in (b"s", b"str"):
        return None
    return strings.texts.get(int(value.group(1))) if kind == b"s" else html.unescape(value.group(1).decode())


def _header_columns(cells: Mapping[int, bytes], strings: _SharedStrings) -> dict[str, int]:
    out: dict[str, int] = {}
    for column, cell in cells.items():
        text = _cell_text(cell, strings)
        if text and text.strip():
            out.setdefault(_key(text), column)
    return out


def _string_indexes(cells: Iterable[bytes]) -> set[int]:
    wanted = set()
    for cell in cells:
        value = _VALUE.search(cell)
        if _cell_type(cell) == b"s" and value is not None and value.group(1):
            wanted.add(int(value.group(1)))
    return wanted


# --- annotating one worksheet -----------------------------------------------------------------------------


class _SheetWriter:
    """Pass two over an annotated worksheet: each row comes out with its note cell written, an earlier
    note replaced or removed, cells filled and blank id cells given their number. Rows that need
    nothing pass through as they are; rows that need a note but are not in the sheet are added."""

    def __init__(self, notes: SheetNotes, scan: _Scan, headers: Mapping[str, int], styles: _Styles,
                 strings: _SharedStrings) -> None:
        self.column = headers.get(_key(notes.header)) or scan.extent.last_column + 1
        self.letters = get_column_letter(self.column).encode()
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
        self.note_tails: dict[Note, bytes] = {}
        self.extent = copy(scan.extent)
        edit_columns = {c for cells in (*self.fills.values(), *self.numbers.values()) for c in cells}
        self.extent.add(self.todo, [self.column, *edit_columns])

    def write(self, archive: zipfile.ZipFile, part: str, out: IO[bytes]) -> None:
        with archive.open(part) as stream:
            for kind, data in _sections(stream):
                if kind == _HEAD:
                    out.write(self.head(data) + b"<sheetData>")
                elif kind == _ROWS:
                    out.write(self.rows(data))
                else:
                    out.write(self.rest() + b"</sheetData>" + data)

    def head(self, head: bytes) -> bytes:
        """Everything before <sheetData>: the used range, no selected tab, the note column's width."""
        text = _TAB_SELECTED.sub(b"", head).decode()
        dimension = f'<dimension ref="{self.extent.ref}"/>'
        if re.search(r"<dimension\b[^>]*/>", text):
            text = re.sub(r"<dimension\b[^>]*/>", dimension, text, count=1)
        else:
            text = re.sub(r"(<worksheet\b[^>]*>\s*(?:<sheetPr\b[^>]*/>|<sheetPr\b[^>]*>.*?</sheetPr>)?)",
                          lambda m: m.group(1) + dimension, text, count=1, flags=re.S)
        return _with_width(text, self.column, self.width).encode()

    def rows(self, chunk: bytes) -> bytes:
        out = []
        for number, attributes, cells, raw in _rows(chunk):
            if number <= self.last:
                raise _Unsupported("rows out of order")
            out.append(self._added_before(number))
            changed = self._row(number, attributes, cells)
            out.append(raw if changed is None else changed)
            self.last = number
        return b"".join(out)

    def rest(self) -> bytes:
        return self._added_before(None)

    def _added_before(self, number: int | None) -> bytes:
        """The rows that need a note but are not in the sheet, up to `number` (which is in it)."""
        added = []
        while self.next < len(self.todo) and (number is None or self.todo[self.next] <= number):
            if self.todo[self.next] != number:
                added.append(self._new_row(self.todo[self.next]))
            self.next += 1
        return b"".join(added)

    def _row(self, number: int, attributes: bytes, cells: bytes) -> bytes | None:
        """The row rewritten, or None when it stays as it is. The usual row ends before the note column
        (or with an earlier note), which needs no parsing of its cells."""
        note = self.header if number == 1 else self.notes.get(number)
        last = cells.rfind(b'<c r="')
        last_column = _column_at(cells, last + len(b'<c r="')) if last >= 0 else 0
        if number in self.edited or last_column > self.column:
            return self._rebuilt(number, attributes, cells, note)
        old = b""
        if last_column == self.column:
            cells, old = cells[:last], cells[last:]
            if _FORMULA.search(old):
                raise _Unsupported("a formula in the note column")
        if note is None and number > 1 and self.default is not None and self._holds_data(cells):
            note = self.default
        if note is None and not old:
            return None
        return b"".join((self._row_start(number, attributes), cells,
                         self._note_cell(number, note) if note else b"", b"</row>"))

    def _rebuilt(self, number: int, attributes: bytes, row: bytes, note: Note | None) -> bytes:
        cells = _split_cells(number, row)
        old = cells.pop(self.column, b"")
        if _FORMULA.search(old):
            raise _Unsupported("a formula in the note column")
        if note is None and number > 1 and self.default is not None and \
                any(self._cell_holds_data(cell) for column, cell in cells.items() if column < self.column):
            note = self.default
        for column, argb in self.fills.get(number, {}).items():
            cells[column] = self._filled(number, column, cells.get(column), argb)
        for column, value in self.numbers.get(number, {}).items():
            cell = cells.get(column)
            if cell is None or not self._cell_holds_data(cell):
                cells[column] = self._number(number, column, cell, value)
        if note is not None:
            cells[self.column] = self._note_cell(number, note)
        return self._row_start(number, attributes) + b"".join(cells[c] for c in sorted(cells)) + b"</row>"

    def _new_row(self, number: int) -> bytes:
        return self._rebuilt(number, b"", b"", self.header if number == 1 else self.notes.get(number))

    @staticmethod
    def _row_start(number: int, attributes: bytes) -> bytes:
        # a row's spans are an optional hint; dropped rather than recomputed
        return b'<row r="%d"%s>' % (number, _SPANS.sub(b"", attributes))

    def _holds_data(self, cells: bytes) -> bool:
        if not self.empties:
            return _DATA.search(cells) is not None
        return any(self._cell_holds_data(cell) for cell in cells.split(b'<c r="')[1:])

    def _cell_holds_data(self, cell: bytes) -> bool:
        if _FORMULA.search(cell):
            return True
        kind = _cell_type(cell)
        if kind == b"inlineStr":
            return _INLINE_TEXT.search(cell) is not None
        value = _VALUE.search(cell)
        if value is None or not value.group(1):
            return False
        return not (kind == b"s" and int(value.group(1)) in self.empties)

    def _note_cell(self, number: int, note: Note) -> bytes:
        tail = self.note_tails.get(note)
        if tail is None:
            xf = self.styles.xf(0, note.look)
            style = f' s="{xf}"' if xf else ""
            text = xml_text(_clean(note.text))
            tail = f'"{style} t="inlineStr"><is><t xml:space="preserve">{text}</t></is></c>'.encode()
            self.note_tails[note] = tail
        return b'<c r="' + self.letters + b"%d" % number + tail

    def _filled(self, number: int, column: int, cell: bytes | None, argb: str) -> bytes:
        xf = self.styles.xf(_cell_style(cell) if cell else 0, Look(fill=argb))
        if cell is None:
            return b'<c r="%s%d" s="%d"/>' % (get_column_letter(column).encode(), number, xf)
        return _with_style(cell, xf)

    def _number(self, number: int, column: int, cell: bytes | None, value: int) -> bytes:
        xf = self.styles.xf(_cell_style(cell) if cell else 0, number_format=NUMBER_FORMAT_INTEGER)
        return b'<c r="%s%d" s="%d"><v>%d</v></c>' % (get_column_letter(column).encode(), number, xf, int(value))


_LETTERS: Final = re.compile(rb"[A-Z]{1,3}")


def _column_at(xml: bytes, at: int) -> int:
    letters = _LETTERS.match(xml, at)
    if letters is None:
        raise _Unsupported("a cell reference without a column")
    return _column(letters.group())


_TAB_SELECTED: Final = re.compile(rb"""\stabSelected\s*=\s*(?:"(?:1|true)"|'(?:1|true)')""")


def _by_row(cells: Mapping[tuple[int, str], Any], headers: Mapping[str, int], note_column: int
            ) -> dict[int, dict[int, Any]]:
    """(row, header) -> value as row -> column -> value, leaving out unknown headers and the note column."""
    out: dict[int, dict[int, Any]] = {}
    for (row, header), value in cells.items():
        column = headers.get(_key(header))
        if column is not None and column != note_column:
            out.setdefault(row, {})[column] = value
    return out


def _with_style(cell: bytes, xf: int) -> bytes:
    end = cell.find(b">")
    style = _STYLE.search(cell, 0, end)
    if style is not None:
        return cell[:style.start()] + b' s="%d"' % xf + cell[style.end():]
    ref = _CELL_REF.match(cell)
    assert ref is not None  # _split_cells checked it
    return cell[:ref.end()] + b' s="%d"' % xf + cell[ref.end():]


_COL: Final = re.compile(r"<col\b[^>]*?(?:/>|>\s*</col>)")


def _with_width(head: str, column: int, width: float) -> str:
    """The head with `column` `width` wide: a <col> of its own, split out of a range that covers it."""
    own = f'<col min="{column}" max="{column}" width="{width:g}" customWidth="1"/>'
    cols = re.search(r"<cols\b[^>]*>(.*?)</cols>", head, re.S)
    if cols is None:
        return head + f"<cols>{own}</cols>"
    elements, placed = [], False
    for match in _COL.finditer(cols.group(1)):
        element = match.group()
        attributes = _attributes(element.split(">", 1)[0])
        low, high = int(attributes.get("min", 0)), int(attributes.get("max", 0))
        if not placed and low > column:
            elements.append(own)
            placed = True
        if low <= column <= high:
            start = element.split(">", 1)[0].rstrip("/") + "/>"
            if low < column:
                elements.append(_set_attribute(start, "max", str(column - 1)))
            mine = start
            for name, value in (("min", str(column)), ("max", str(column)), ("width", f"{width:g}"),
                                ("customWidth", "1")):
                mine = _set_attribute(mine, name, value)
            elements.append(mine)
            if column < high:
                elements.append(_set_attribute(start, "min", str(column + 1)))
            placed = True
        else:
            elements.append(element)
    if not placed:
        elements.append(own)
    return head[:cols.start(1)] + "".join(elements) + head[cols.end(1):]


# --- the summary sheet ----------------------------------------------------------------------------------

_SUMMARY_HEAD: Final = ('<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
                        f'<worksheet xmlns="{_MAIN_NS}" xmlns:r="{_RELS_NS}">')
_ROWS_PER_WRITE: Final = 2000


def _summary_xml(summary: SummarySheet, styles: _Styles, locate: Callable[[Link], str | None]) -> Iterator[bytes]:
    width = max((len(row) for row in summary.rows), default=1) or 1
    extent = f"A1:{get_column_letter(width)}{max(len(summary.rows), 1)}"
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
            ref = f"{get_column_letter(column)}{number}"
            look = summary.looks.get(number)
            link = summary.links.get((number, column))
            location = locate(link) if link is not None else None
            if location is not None:
                look = LINK_LOOK
                links.append(f'<hyperlink ref="{ref}" location="{_attribute_text(location)}" '
                             f'display="{_attribute_text(str(value))}"/>')
            cells.append(_value_cell(ref, value, styles.xf(0, look)))
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
    match = re.fullmatch(r"([A-Z]{1,3})(\d+)", freeze)
    if match is None:
        raise ValueError(f"not a cell: {freeze!r}")
    columns, rows = column_index_from_string(match.group(1)) - 1, int(match.group(2)) - 1
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


# --- the streaming path --------------------------------------------------------------------------------


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


def _stream(source: Path, target: Path, sheets: Mapping[str, SheetNotes], summary: SummarySheet) -> None:
    with zipfile.ZipFile(source) as archive:
        edit = _Edit.prepare(archive, sheets, summary)
        with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as out:
            edit.write(archive, out)


@dataclass
class _Edit:
    """Everything the copy changes, worked out in a first pass over the package (one scan of each
    annotated sheet, one of the shared strings) so that the second pass writes each part once."""

    book: _Book
    styles: _Styles
    writers: dict[str, _SheetWriter]  # annotated worksheet part -> its writer
    headers: dict[str, dict[str, int]]  # sheet title -> header -> column, of the sheets it read
    placement: _Placement
    summary: SummarySheet

    @classmethod
    def prepare(cls, archive: zipfile.ZipFile, sheets: Mapping[str, SheetNotes], summary: SummarySheet) -> _Edit:
        book = _Book.read(archive)
        styles = _Styles(archive.read(book.targets["styles"]).decode())
        specs = _with_continuations(sheets, [s.title for s in book.sheets if s.kind == "worksheet"])
        annotated = {s.part: (s, specs[s.title.casefold()]) for s in book.sheets
                     if s.kind == "worksheet" and s.title.casefold() in specs}
        scans = {part: _scan(archive, part) for part in annotated}
        header_cells = {annotated[part][0].title: scan.header_cells for part, scan in scans.items()}
        header_cells.update(_linked_header_cells(archive, book, summary, scans))
        wanted = _string_indexes(cell for cells in header_cells.values() for cell in cells.values())
        strings = _SharedStrings.read(archive, book.targets.get("sharedStrings"), wanted)
        headers = {title: _header_columns(cells, strings) for title, cells in header_cells.items()}
        writers = {part: _SheetWriter(notes, scans[part], headers[sheet.title], styles, strings)
                   for part, (sheet, notes) in annotated.items()}
        members = {info.filename for info in archive.infolist()}
        return cls(book, styles, writers, headers, _place_summary(book, summary.title, members), summary)

    def write(self, archive: zipfile.ZipFile, out: zipfile.ZipFile) -> None:
        """Every part in the source's order, then the summary sheet and the styles it needed."""
        book, placement = self.book, self.placement
        macros = _macro_parts(archive)
        replaced = {book.part: placement.workbook, book.rels_part: _without_macro_rels(placement.rels, macros),
                    "[Content_Types].xml": _without_macro_types(placement.content_types, macros)}
        other_sheets = {s.part: s.kind for s in book.sheets if s.part not in self.writers and s.part != placement.part}
        left_out = {placement.part, book.targets["styles"], *placement.dropped, *macros}
        for info in archive.infolist():
            name = info.filename
            if name in replaced:
                out.writestr(_member(info), replaced[name].encode())
            elif name in self.writers:
                with out.open(_member(info), "w", force_zip64=True) as stream:
                    self.writers[name].write(archive, name, stream)
            elif name in other_sheets:
                _copy_unselected(archive, info, out, worksheet=other_sheets[name] == "worksheet")
            elif name not in left_out:
                _copy(archive, info, out)
        with out.open(_member(placement.part), "w", force_zip64=True) as stream:
            for data in _summary_xml(self.summary, self.styles, _locator(book, self.headers)):
                stream.write(data)
        out.writestr(_member(book.targets["styles"]), self.styles.to_xml())


# --- macros: a copy is an .xlsx, so an .xlsm renamed .xlsx loses its VBA project -------------------------------

_MACRO_PART = re.compile(r"(?:^|/)vbaProject[^/]*\.bin$", re.I)  # the project and its signatures
_MACRO_TYPES: Final = {
    "application/vnd.ms-excel.sheet.macroEnabled.main+xml":
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml",
    "application/vnd.ms-excel.template.macroEnabled.main+xml":
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml",
}


def _macro_parts(archive: zipfile.ZipFile) -> set[str]:
    """The VBA project, its signatures and their relationship parts: never copied."""
    parts = {info.filename for info in archive.infolist() if _MACRO_PART.search(info.filename)}
    return parts | {_rels_path(part) for part in parts if _rels_path(part) in archive.NameToInfo}


def _without_macro_rels(xml: str, macros: set[str]) -> str:
    """The workbook's relationships without the ones to the VBA project."""
    if not macros:
        return xml
    return _RELATIONSHIP.sub(
        lambda m: "" if _MACRO_PART.search(_attributes(m.group(0)).get("Target", "")) else m.group(0), xml)


def _without_macro_types(xml: str, macros: set[str]) -> str:
    """Content types without the VBA project's, and the workbook's as a plain (macro-free) workbook's."""
    for macro_type, plain in _MACRO_TYPES.items():
        xml = xml.replace(f'"{macro_type}"', f'"{plain}"')
    if not macros:
        return xml

    def keep(match: re.Match[str]) -> str:
        attributes = _attributes(match.group(0))
        macro = _MACRO_PART.search(attributes.get("PartName", "")) or "vbaProject" in attributes.get("ContentType", "")
        return "" if macro else match.group(0)

    return re.sub(r"<(Override|Default)\s[^>]*?(?:/>|>\s*</\1>)", keep, xml)


def _linked_header_cells(archive: zipfile.ZipFile, book: _Book, summary: SummarySheet,
                         scans: Mapping[str, _Scan]) -> dict[str, dict[int, bytes]]:
    """Row 1 of the sheets a summary link points into by column that are not annotated (so not scanned)."""
    out = {}
    for link in summary.links.values():
        sheet = book.sheet(link.sheet)
        if link.column and sheet is not None and sheet.kind == "worksheet" and sheet.part not in scans \
                and sheet.title not in out:
            out[sheet.title] = _first_row_cells(archive, sheet.part)
    return out


def _locator(book: _Book, headers: Mapping[str, Mapping[str, int]]) -> Callable[[Link], str | None]:
    def locate(link: Link) -> str | None:
        sheet = book.sheet(link.sheet)
        if sheet is None:
            return None
        column = headers.get(sheet.title, {}).get(_key(link.column)) if link.column else None
        return _location(sheet.title, f"{get_column_letter(column or 1)}{link.row}")

    return locate


def _member(info: zipfile.ZipInfo | str) -> zipfile.ZipInfo:
    """A fresh entry for the copy (deflated), keeping the original's name, time and attributes."""
    if isinstance(info, str):
        member = zipfile.ZipInfo(info, date_time=(1980, 1, 1, 0, 0, 0))
    else:
        member = zipfile.ZipInfo(info.filename, date_time=info.date_time)
        member.external_attr = info.external_attr
        member.file_size = info.file_size  # lets zipfile decide on zip64 for a copy
    member.compress_type = zipfile.ZIP_DEFLATED
    return member


def _copy(archive: zipfile.ZipFile, info: zipfile.ZipInfo, out: zipfile.ZipFile) -> None:
    with archive.open(info) as source, out.open(_member(info), "w") as target:
        shutil.copyfileobj(source, target, CHUNK)


def _copy_unselected(archive: zipfile.ZipFile, info: zipfile.ZipInfo, out: zipfile.ZipFile, *, worksheet: bool
                     ) -> None:
    """Copy a sheet that is not annotated, unselecting its tab: the summary sheet is the selected one
    now, and two selected tabs are a group that Excel edits together."""
    with archive.open(info) as source, out.open(_member(info), "w") as target:
        head = source.read(CHUNK)
        while worksheet and b"<sheetData" not in head and (more := source.read(CHUNK)):
            head += more
        if not worksheet:
            head += source.read()
        end = head.find(b"<sheetData") if worksheet else len(head)
        end = len(head) if end < 0 else end
        target.write(_TAB_SELECTED.sub(b"", head[:end]) + head[end:])
        shutil.copyfileobj(source, target, CHUNK)


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
    ws.column_dimensions[get_column_letter(column)].width = notes.width


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
        ws.column_dimensions[get_column_letter(column)].width = width
    ws.freeze_panes = summary.freeze
    for sheet in book.worksheets:
        sheet.sheet_view.tabSelected = sheet is ws
    book.active = 0


def _openpyxl_location(book: Any, link: Link) -> str | None:
    ws = next((ws for ws in book.worksheets if ws.title.casefold() == link.sheet.casefold()), None)
    if ws is None:
        return None
    column = _openpyxl_headers(ws).get(_key(link.column)) if link.column else None
    return _location(ws.title, f"{get_column_letter(column or 1)}{link.row}")
