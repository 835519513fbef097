"""A worksheet part read and rewritten row by row on lxml, in bounded memory.

`rows` gives each `<row>` of a worksheet as it is parsed; `rewrite` copies a worksheet to a stream,
letting an editor change the elements before `<sheetData>` (the head: dimension, views, column
widths), each row, and add rows at the end. Each row is dropped from the tree once it is handled,
so a 50k-row sheet costs the memory of one row and the head and tail.

Elements are matched by local name, and cells an editor adds take the namespace of the row they go
in, so a worksheet in a prefixed namespace (`<x:worksheet>`) is edited like any other.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterable, Iterator
from copy import deepcopy
from dataclasses import dataclass
from typing import IO, Final, Protocol

from lxml import etree

from pipeline.workbook.package import SharedStrings, cell_ref, iterparse, local, split_ref, string_item_text

# the order of a worksheet's first children (CT_Worksheet): what may come before <dimension> and <cols>
BEFORE_DIMENSION: Final = frozenset({"sheetPr"})
BEFORE_COLS: Final = frozenset({"sheetPr", "dimension", "sheetViews", "sheetFormatPr"})


class SheetError(ValueError):
    """The worksheet is not one these functions can stream (no sheetData, a row without its number, ...)."""


def row_number(row: etree._Element) -> int:
    value = row.get("r")
    if not value or not value.isdigit():
        raise SheetError("a row without its number")
    return int(value)


def cell_column(cell: etree._Element, row: int) -> int:
    """The 1-based column of a cell, checking its reference names its own row."""
    ref = cell.get("r")
    if not ref:
        raise SheetError(f"a cell of row {row} without its reference")
    number, column = split_ref(ref)
    if number != row:
        raise SheetError(f"a cell of row {row} with another row's reference ({ref})")
    return column


def cells(row: etree._Element) -> Iterator[etree._Element]:
    """The `<c>` children of a row (not its extension list, comments or anything else)."""
    return (child for child in row if local(child.tag) == "c")


def _forget(element: etree._Element) -> None:
    """Drop a handled element and its handled siblings from the tree (iterparse builds it as it goes)."""
    element.clear(keep_tail=False)
    parent = element.getparent()
    if parent is not None:
        while element.getprevious() is not None:
            del parent[0]


def rows(stream: IO[bytes], *, also: str | None = None) -> Iterator[etree._Element]:
    """Each `<row>` of the worksheet (and each element of local name `also`, say "mergeCell"), complete,
    as it ends; valid until the next one is asked for."""
    tags = ["{*}row"] + ([f"{{*}}{also}"] if also else [])
    for _, element in iterparse(stream, ("end",), tag=tags):
        yield element
        _forget(element)


class Editor(Protocol):
    """What `rewrite` asks of the one who edits a worksheet."""

    def head(self, root: etree._Element, elements: list[etree._Element]) -> list[etree._Element]:
        """The children of <worksheet> (`root`) before <sheetData>, edited (they may be changed, added or
        left out). Called once, before any row."""

    def row(self, row: etree._Element) -> Iterable[etree._Element]:
        """The rows to write for this row of the source (itself, changed or not, and any added before it)."""

    def end(self, sheet_data: etree._Element) -> Iterable[etree._Element]:
        """Rows to add after the last one."""


_DECLARATIONS: Final = re.compile(rb"^<[^\s>/]+((?:\s+xmlns(?::[\w.-]+)?=\"[^\"]*\")+)")
_DECLARATION: Final = re.compile(rb"\s+xmlns(?::([\w.-]+))?=\"([^\"]*)\"")


class _Out:
    """Serialises elements under a root whose namespace declarations are already written, without
    repeating them on each element (lxml's `tostring` of a subtree declares every namespace in scope)."""

    def __init__(self, stream: IO[bytes], nsmap: dict[str | None, str]) -> None:
        self.stream = stream
        self.declared = {((prefix or "").encode(), uri.encode()) for prefix, uri in nsmap.items()}

    def write(self, element: etree._Element) -> None:
        self.stream.write(self.strip(_bytes(element)))

    def strip(self, data: bytes) -> bytes:
        found = _DECLARATIONS.match(data)
        if found is None:
            return data
        kept = b"".join(m.group(0) for m in _DECLARATION.finditer(found.group(1))
                        if ((m.group(1) or b""), m.group(2)) not in self.declared)
        return data[:found.start(1)] + kept + data[found.end(1):]


def _bytes(element: etree._Element) -> bytes:
    return etree.tostring(element, encoding="utf-8", with_tail=False, xml_declaration=False)


def _start_tag(element: etree._Element) -> bytes:
    """The start tag of an element with the namespace declarations in scope, as a copy without children gives it."""
    shell = etree.Element(element.tag, dict(element.attrib), nsmap=element.nsmap)
    data = _bytes(shell)
    return data[:-2] + b">" if data.endswith(b"/>") else data[:data.rindex(b"</")]


def _end_tag(element: etree._Element) -> bytes:
    qname = etree.QName(element)
    prefix = element.prefix
    return b"</" + ((prefix + ":") if prefix else "").encode() + qname.localname.encode() + b">"


def rewrite(stream: IO[bytes], out: IO[bytes], editor: Editor) -> None:
    """Copy the worksheet in `stream` to `out` through `editor`. Raises `SheetError` for a worksheet
    without <sheetData> (and lxml's `XMLSyntaxError` for one that is not XML)."""
    tags = ("{*}worksheet", "{*}sheetData", "{*}row")
    root: etree._Element | None = None
    writer: _Out | None = None
    sheet_data: etree._Element | None = None
    out.write(b'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n')
    for event, element in iterparse(stream, ("start", "end"), tag=tags):
        name = local(element.tag)
        if event == "start":
            if root is None:
                if name != "worksheet":
                    raise SheetError("not a worksheet")
                root = element
                out.write(_start_tag(root))
                writer = _Out(out, dict(root.nsmap))
            elif name == "sheetData" and element.getparent() is root:
                sheet_data = element
                before = list(itertools.takewhile(lambda c: c is not element, root))  # the parser may be ahead
                for child in editor.head(root, before):
                    writer.write(child)
                out.write(writer.strip(_start_tag(element)))
            continue
        if name == "row" and element.getparent() is sheet_data and sheet_data is not None:
            for written in editor.row(element):
                writer.write(written)
            _forget(element)
        elif element is sheet_data:
            for written in editor.end(element):
                writer.write(written)
            out.write(_end_tag(element))
            _forget(element)
        elif element is root:
            if sheet_data is None:
                raise SheetError("a worksheet without <sheetData>")
            for child in root:
                if child is not sheet_data:
                    writer.write(child)
            out.write(_end_tag(root))


def set_width(cols: etree._Element, column: int, width: float) -> None:
    """Make `column` `width` wide in a `<cols>`: a `<col>` of its own, split out of a range that covers it
    (the range's other settings kept on all three pieces)."""
    tag = cols.tag[:-4] + "col" if cols.tag.endswith("cols") else "col"
    own = None
    for col in [c for c in cols if local(c.tag) == "col"]:
        low, high = int(col.get("min", "0")), int(col.get("max", "0"))
        if not low <= column <= high:
            continue
        if low < column:
            before = deepcopy(col)
            before.set("max", str(column - 1))
            col.addprevious(before)
        if column < high:
            after = deepcopy(col)
            after.set("min", str(column + 1))
            col.addnext(after)
        own = col
        break
    if own is None:
        own = etree.SubElement(cols, tag)
        following = next((c for c in cols if local(c.tag) == "col" and int(c.get("min", "0")) > column), None)
        if following is not None:
            following.addprevious(own)
    own.set("min", str(column))
    own.set("max", str(column))
    own.set("width", f"{width:g}")
    own.set("customWidth", "1")


# --- the first pass: used range and header row -------------------------------------------------------------


@dataclass
class Extent:
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
        first = cell_ref(self.first_row, self.first_column)
        last = cell_ref(self.last_row, self.last_column)
        return first if first == last else f"{first}:{last}"


@dataclass
class Scan:
    extent: Extent
    header_cells: dict[int, etree._Element]  # column -> a copy of the cell, of row 1


def scan(stream: IO[bytes]) -> Scan:
    """The used range (cells and merged ranges) and row 1 of a worksheet, checking that rows and cells
    carry their references in order (a row-by-row edit relies on it); `SheetError` when they do not."""
    found = Scan(Extent(), {})
    previous = 0
    for element in rows(stream, also="mergeCell"):
        if local(element.tag) == "mergeCell":
            first, _, last = element.get("ref", "").partition(":")
            (top, left), (bottom, right) = split_ref(first), split_ref(last or first)
            found.extent.add((top, bottom), (left, right))
            continue
        number = row_number(element)
        if number <= previous:
            raise SheetError("rows out of order")
        previous = number
        columns = ordered_columns(element, number)
        found.extent.add((number,), columns[:1] + columns[-1:])
        if number == 1:
            found.header_cells = {column: deepcopy(cell) for column, cell in zip(columns, cells(element))}
    return found


def ordered_columns(row: etree._Element, number: int) -> list[int]:
    """The columns of a row's cells, checked to be in order."""
    columns = [cell_column(cell, number) for cell in cells(row)]
    if any(b <= a for a, b in zip(columns, columns[1:])):
        raise SheetError(f"cells of row {number} out of order")
    return columns


def first_row_cells(stream: IO[bytes]) -> dict[int, etree._Element]:
    """Column -> a copy of the cell, of row 1 (empty when the sheet has no row 1)."""
    for row in rows(stream):
        if row_number(row) != 1:
            return {}
        return {cell_column(cell, 1): deepcopy(cell) for cell in cells(row)}
    return {}


# --- cells -----------------------------------------------------------------------------------------------------


def part(cell: etree._Element, name: str) -> etree._Element | None:
    """The child of that local name (`v`, `f`, `is`) of a cell."""
    return next((child for child in cell if local(child.tag) == name), None)


def string_index(cell: etree._Element) -> int | None:
    """The shared-string index of a `t="s"` cell."""
    value = part(cell, "v")
    if cell.get("t") == "s" and value is not None and value.text and value.text.strip().isdigit():
        return int(value.text)
    return None


def cell_text(cell: etree._Element, strings: SharedStrings) -> str | None:
    """The text of a cell (None for numbers, formulas and blanks); shared strings from `strings.texts`."""
    kind = cell.get("t")
    if part(cell, "f") is not None:
        return None
    if kind == "inlineStr":
        inline = part(cell, "is")
        return string_item_text(inline) if inline is not None else None
    if kind == "s":
        index = string_index(cell)
        return strings.texts.get(index) if index is not None else None
    value = part(cell, "v")
    return value.text if kind == "str" and value is not None else None
