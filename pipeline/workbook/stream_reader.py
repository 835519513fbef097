"""Read a big worksheet row by row, with the values python-calamine gives, never the whole sheet.

python-calamine parses a whole sheet into memory (every cell, in Rust) before the first row can be
read: for an export's biggest sheets (the hidden `_bcmod`, a row per data row, and "Choice values")
that copy is the peak of a validation. This reader walks the worksheet part with lxml's `iterparse`,
clearing each row behind it, so only the rows a caller keeps exist.

It types cells exactly as python-calamine does for what an export holds: numbers as float, shared and
inline strings (with Excel's `_xHHHH_` escapes undone), booleans, formula text results, error cells as
"" and empty cells as "". A cell it cannot type the same way (a number under a date or time format, an
ISO date cell, a number that does not parse) raises `NotPlain` so the caller reads the sheet with
python-calamine from there on.
"""

from __future__ import annotations

import re
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, Final

from lxml import etree

from pipeline.workbook.cell_refs import column_number, split_ref
from pipeline.workbook.package import (
    MAIN_NS,
    STRICT_MAIN_NS,
    Workbook,
    iterparse,
    local,
    string_item_text,
    xml_parser,
    xml_unescape,
)

Row = list[Any]
_C_TAGS: Final = frozenset({f"{{{MAIN_NS}}}c", f"{{{STRICT_MAIN_NS}}}c"})
_V_TAGS: Final = frozenset({f"{{{MAIN_NS}}}v", f"{{{STRICT_MAIN_NS}}}v"})
_T_TAGS: Final = frozenset({f"{{{MAIN_NS}}}t", f"{{{STRICT_MAIN_NS}}}t"})
_DIGITS: Final = "0123456789"
Merged = list[tuple[tuple[int, int], tuple[int, int]]]


class NotPlain(Exception):
    """A cell python-calamine types in a way this reader does not (a date, say): read the sheet with it."""


# Built-in number formats that are not dates or times (ECMA-376 18.8.30): calamine gives their numbers as float.
_PLAIN_BUILTIN: Final = frozenset({*range(0, 14), *range(37, 45), 48, 49})
_QUOTED_OR_BRACKETED: Final = re.compile(r'"[^"]*"|\[[^\]]*\]|\\.|_.|\*.')
_DATE_LETTERS: Final = re.compile(r"[dmyhsDMYHS]")
_EXCEL_ESCAPE: Final = re.compile(r"_x([0-9A-Fa-f]{4})_")


def _unescape(text: str) -> str:
    """Excel's `_xHHHH_` escapes (a carriage return is `_x000D_`) undone, as python-calamine does."""
    return _EXCEL_ESCAPE.sub(lambda m: chr(int(m[1], 16)), text) if "_x" in text else text


def _plain_format(code: str) -> bool:
    """A custom number format that shows no date or time part (calamine then gives a float)."""
    return not _DATE_LETTERS.search(_QUOTED_OR_BRACKETED.sub("", code))


@dataclass
class WorkbookText:
    """What typing a sheet's cells needs from the rest of the package: the shared strings and which
    cell styles show numbers as plain numbers."""

    shared: list[str] = field(default_factory=list)
    plain_styles: frozenset[int] = frozenset({0})

    @classmethod
    def read(cls, archive: zipfile.ZipFile, workbook: Workbook) -> WorkbookText:
        shared: list[str] = []
        part = workbook.target("sharedStrings")
        if part is not None and part in archive.NameToInfo:
            with archive.open(part) as stream:
                for item in _cleared(stream, "si"):
                    # most items are one plain <t>; rich text and phonetic guides take the long way
                    only = item[0] if len(item) == 1 else None
                    text = (only.text or "") if only is not None and only.tag in _T_TAGS else string_item_text(item)
                    shared.append(_unescape(text))
        return cls(shared, _plain_styles(archive, workbook.target("styles")))


def _plain_styles(archive: zipfile.ZipFile, part: str | None) -> frozenset[int]:
    """Indexes of the `cellXfs` whose number format is not a date or time."""
    if part is None or part not in archive.NameToInfo:
        return frozenset({0})
    formats: dict[int, str] = {}
    styles: list[int] = []
    with archive.open(part) as stream:
        for _, element in iterparse(stream, ("end",)):
            name = local(element.tag)
            if name == "numFmt":
                formats[int(element.get("numFmtId", "0"))] = element.get("formatCode", "")
            elif name == "xf" and local(element.getparent().tag) == "cellXfs":
                styles.append(int(element.get("numFmtId", "0")))
    return frozenset(index for index, number in enumerate(styles)
                     if (number in formats and _plain_format(formats[number]))
                     or (number not in formats and number in _PLAIN_BUILTIN))


def _cleared(stream: Any, name: str) -> Iterator[etree._Element]:
    for _, element in iterparse(stream, ("end",), tag=f"{{*}}{name}"):
        yield element
        element.clear(keep_tail=False)
        parent = element.getparent()
        if parent is not None:
            while element.getprevious() is not None:
                del parent[0]


def sheet_rows(archive: zipfile.ZipFile, part: str, text: WorkbookText, merged: Merged) -> Iterator[Row]:
    """The sheet's rows from row 1 to its last row holding a value, each as long as its last value
    (a row with none is []); `merged` gets the sheet's merged ranges, 0-based, once the rows are read.
    Raises `NotPlain` at a cell python-calamine would type otherwise."""
    pending = 0  # rows with no value, not yielded until a row with one follows (calamine ends at the last value)
    next_row = 1
    for number, values in _numbered_rows(archive, part, text, merged):
        number = number or next_row
        if number < next_row:
            raise NotPlain(f"row {number} comes after row {next_row - 1}")
        if values:
            pending += number - next_row
            for _ in range(pending):
                yield []
            pending = 0
            yield values
        else:
            pending += number - next_row + 1
        next_row = number + 1


def _numbered_rows(archive: zipfile.ZipFile, part: str, text: WorkbookText,
                   merged: Merged) -> Iterator[tuple[int | None, Row]]:
    """(row number or None when the row has none, its values) of each `<row>`.

    The XML is scanned as bytes: a row whose cells all have the plain shape writers give them
    (`<c r="B7" s="3" t="s"><v>12</v></c>`, an inline string, an empty cell) costs a regular expression
    per cell; any other row is parsed with lxml. A worksheet with prefixed elements is parsed with lxml.
    """
    with archive.open(part) as stream:
        head = stream.read(_BLOCK)
        root = _ROOT.search(head)
        if root is None or root[1]:
            with archive.open(part) as again:
                yield from _element_rows(again, text, merged)
            return
        declarations = b" ".join(_XMLNS.findall(root[2]))
        begin = head.find(b"<sheetData", root.end())
        while begin < 0 and len(head) < 64 * _BLOCK:  # a long head (many column widths)
            more = stream.read(_BLOCK)
            if not more:
                break
            head += more
            begin = head.find(b"<sheetData", root.end())
        if begin < 0:
            return
        buffer = head[begin:]
        while True:
            more = stream.read(_BLOCK)
            # the last whole row of what is read; at the end, up to </sheetData> (merged ranges follow it)
            cut = buffer.rfind(b"</row>") + 6 if more else \
                (found if (found := buffer.find(b"</sheetData>")) >= 0 else len(buffer))
            if cut > 5:
                yield from _block_rows(buffer, cut, text, declarations)
                buffer = buffer[cut:]
            if not more:
                break
            buffer += more
    for match in _MERGE.finditer(buffer):
        (r0, c0), (r1, c1) = split_ref(match[1].decode()), split_ref(match[2].decode())
        merged.append(((r0 - 1, c0 - 1), (r1 - 1, c1 - 1)))


_BLOCK: Final = 1 << 20
_ROOT: Final = re.compile(rb"<(\w+:)?worksheet\b([^>]*)>")
_XMLNS: Final = re.compile(rb"xmlns(?::\w+)?=\"[^\"]*\"")
_ROW: Final = re.compile(rb"<row\b([^>]*?)(?:/>|>(.*?)</row>)", re.S)
_ROW_NUMBER: Final = re.compile(rb"\br=\"(\d+)\"")
_CELL: Final = re.compile(
    rb'<c r="([A-Z]{1,3})\d+"(?: s="(\d+)")?(?: t="(\w+)")?'
    rb'(?:/>|>(?:<v>([^<]*)</v>)?</c>|><is><t(?: xml:space="preserve")?>([^<]*)</t></is></c>)')
_MERGE: Final = re.compile(rb'<mergeCell\b[^>]*?\bref="\$?([A-Za-z]+\$?\d+):\$?([A-Za-z]+\$?\d+)"')


def _block_rows(data: bytes, end: int, text: WorkbookText, declarations: bytes) -> Iterator[tuple[int | None, Row]]:
    shared, plain = text.shared, text.plain_styles
    cell_pattern = _CELL
    for row in _ROW.finditer(data, 0, end):
        number_match = _ROW_NUMBER.search(row[1])
        number = int(number_match[1]) if number_match else None
        content = row[2]
        if not content:
            yield number, []
            continue
        values: Row = []
        position = 0
        for cell in cell_pattern.finditer(content):
            if cell.start() != position:
                break
            position = cell.end()
            kind, raw, inline = cell[3], cell[4], cell[5]
            if inline is not None:
                value: Any = _unescape(xml_unescape(inline.decode()))
            elif raw is None or kind == b"inlineStr":
                continue
            elif kind is None or kind == b"n":
                if not raw.strip():
                    continue
                if int(cell[2] or 0) not in plain:
                    raise NotPlain("a number under a date or time format")
                try:
                    value = float(raw)
                except ValueError:
                    raise NotPlain(f"number {raw!r}") from None
            elif kind == b"s":
                try:
                    value = shared[int(raw)]
                except (ValueError, IndexError):
                    raise NotPlain(f"shared string {raw!r}") from None
            elif kind == b"str":
                if not raw:
                    continue
                value = _unescape(xml_unescape(raw.decode()))
            elif kind == b"b":
                value = raw != b"0"
            elif kind == b"e":
                value = ""
            else:
                raise NotPlain(f"cell type {kind!r}")
            _put(values, column_number(cell[1].decode()) - 1, value)
        else:
            if position == len(content):
                yield number, values
                continue
        # a cell of another shape (a formula, rich text, attributes in another order): lxml reads the row
        element = etree.fromstring(b"<row " + declarations + b">" + content + b"</row>", xml_parser())
        yield number, _element_values(element, shared, plain)


def _element_rows(stream: Any, text: WorkbookText, merged: Merged) -> Iterator[tuple[int | None, Row]]:
    """The rows of a worksheet parsed with lxml, each cleared behind the reader."""
    shared, plain = text.shared, text.plain_styles
    for _, element in iterparse(stream, ("end",), tag=(f"{{{MAIN_NS}}}row", f"{{{STRICT_MAIN_NS}}}row",
                                                       f"{{{MAIN_NS}}}mergeCell", f"{{{STRICT_MAIN_NS}}}mergeCell")):
        if local(element.tag) == "mergeCell":
            ref = element.get("ref", "")
            if ":" in ref:
                (r0, c0), (r1, c1) = (split_ref(end) for end in ref.split(":", 1))
                merged.append(((r0 - 1, c0 - 1), (r1 - 1, c1 - 1)))
            continue
        number = element.get("r")
        values = _element_values(element, shared, plain)
        element.clear(keep_tail=False)
        parent = element.getparent()
        if parent is not None:
            while element.getprevious() is not None:
                del parent[0]
        yield int(number) if number else None, values


def _element_values(element: etree._Element, shared: list[str], plain: frozenset[int]) -> Row:
    values: Row = []
    column = 0
    for cell in element:
        if cell.tag not in _C_TAGS:
            continue
        ref = cell.get("r")
        column = column_number(ref.rstrip(_DIGITS)) - 1 if ref else column
        value = _value(cell, shared, plain)
        if value is not None:
            _put(values, column, value)
        column += 1
    return values


def _put(values: Row, column: int, value: Any) -> None:
    """Set a row's cell at `column` (0-based), blanks before it as calamine gives them ("")."""
    if column > len(values):
        values.extend([""] * (column - len(values)))
    if column == len(values):
        values.append(value)
    else:
        values[column] = value


def _value(cell: etree._Element, shared: list[str], plain: frozenset[int]) -> Any:
    """The cell's value as python-calamine gives it; None for an empty cell."""
    kind = cell.get("t", "n")
    if kind == "inlineStr":
        item = next((child for child in cell if local(child.tag) == "is"), None)
        return _unescape(string_item_text(item)) if item is not None else None
    first = cell[0] if len(cell) else None
    v = first if first is not None and first.tag in _V_TAGS else \
        next((child for child in cell if local(child.tag) == "v"), None)
    raw = v.text if v is not None else None
    if kind == "s":
        if raw is None:
            return None
        try:
            return shared[int(raw)]
        except (ValueError, IndexError):
            raise NotPlain(f"shared string {raw!r}") from None
    if kind == "n":
        if raw is None or not raw.strip():
            return None
        if int(cell.get("s") or 0) not in plain:
            raise NotPlain("a number under a date or time format")
        try:
            return float(raw)
        except ValueError:
            raise NotPlain(f"number {raw!r}") from None
    if kind == "str":
        return _unescape(raw) if raw else None
    if kind == "b":
        return raw != "0" if raw is not None else None
    if kind == "e":
        return ""
    raise NotPlain(f"cell type {kind!r}")
