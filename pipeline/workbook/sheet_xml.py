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

from pipeline.workbook.package import (
    SharedStrings,
    cell_ref,
    column_number,
    iterparse,
    local,
    split_ref,
    string_item_text,
)

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
    letters = ref.rstrip("0123456789")
    digits = ref[len(letters):]
    if letters.isalpha() and len(letters) <= 3 and digits.isdigit():  # the usual "AB12", without a regex
        number, column = int(digits), column_number(letters)
    else:
        number, column = split_ref(ref)
    if number != row:
        raise SheetError(f"a cell of row {row} with another row's reference ({ref})")
    return column


def cells(row: etree._Element) -> Iterator[etree._Element]:
    """The `<c>` children of a row (not its extension list, comments or anything else)."""
    return row.iterchildren("{*}c")


def is_cell(element: etree._Element) -> bool:
    tag = element.tag
    return isinstance(tag, str) and (tag == "c" or tag.endswith("}c"))


def end_cells(row: etree._Element) -> tuple[etree._Element, etree._Element] | None:
    """The first and last cell of a row (None for a row without cells), without walking the ones between
    when the row holds nothing but cells, as every writer's rows do."""
    try:
        first, last = row[0], row[-1]
    except IndexError:
        return None
    if is_cell(first) and is_cell(last):
        return first, last
    found = list(cells(row))
    return (found[0], found[-1]) if found else None


def rows(stream: IO[bytes], *, also: str | None = None) -> Iterator[etree._Element]:
    """Each `<row>` of the worksheet (and each element of local name `also`, say "mergeCell"), complete,
    as it ends; valid until the next one is asked for. Handled elements are cleared, and dropped from
    the tree a few hundred at a time (one slice deletion; lxml counts children by walking them)."""
    tags = ["{*}row"] + ([f"{{*}}{also}"] if also else [])
    handled = 0
    for _, element in iterparse(stream, ("end",), tag=tags):
        yield element
        element.clear(keep_tail=False)
        handled += 1
        if handled >= _BATCH_ROWS:
            parent = element.getparent()
            if parent is not None:
                del parent[:parent.index(element)]
            handled = 0


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


def _strip(data: bytes, declared: dict[str | None, str]) -> bytes:
    """A start tag without the namespace declarations an enclosing element already made."""
    found = _DECLARATIONS.match(data)
    if found is None:
        return data
    made = {((prefix or "").encode(), uri.encode()) for prefix, uri in declared.items()}
    kept = b"".join(m.group(0) for m in _DECLARATION.finditer(found.group(1))
                    if ((m.group(1) or b""), m.group(2)) not in made)
    return data[:found.start(1)] + kept + data[found.end(1):]


def _bytes(element: etree._Element) -> bytes:
    return etree.tostring(element, encoding="utf-8", with_tail=False, xml_declaration=False)


def _start_tag(element: etree._Element, declared: dict[str | None, str] | None = None) -> bytes:
    """The start tag of an element with the namespace declarations in scope (less those of `declared`,
    already made by an enclosing element)."""
    shell = etree.Element(element.tag, dict(element.attrib), nsmap=element.nsmap)
    data = _bytes(shell)
    data = data[:-2] + b">" if data.endswith(b"/>") else data[:data.rindex(b"</")]
    return _strip(data, declared) if declared else data


def _end_tag(element: etree._Element) -> bytes:
    qname = etree.QName(element)
    prefix = element.prefix
    return b"</" + ((prefix + ":") if prefix else "").encode() + qname.localname.encode() + b">"


def rewrite(stream: IO[bytes], out: IO[bytes], editor: Editor) -> None:
    """Copy the worksheet in `stream` to `out` through `editor`. Raises `SheetError` for a worksheet
    without <sheetData> (and lxml's `XMLSyntaxError` for one that is not XML).

    Rows are moved, as each ends, into a detached batch element that declares the worksheet's
    namespaces, and a batch is serialised at once: one `tostring` per few hundred rows, and the
    parsed tree never holds more than a batch."""
    tags = ("{*}sheetData", "{*}row", "{*}worksheet")
    root: etree._Element | None = None
    sheet_data: etree._Element | None = None
    batch: etree._Element | None = None
    batched = 0
    out.write(b'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n')

    def begin(data: etree._Element) -> etree._Element:
        nonlocal root, sheet_data
        root, sheet_data = data.getparent(), data
        if root is None or local(root.tag) != "worksheet":
            raise SheetError("not a worksheet")
        out.write(_start_tag(root))
        head = etree.Element(data.tag, nsmap=root.nsmap)
        for child in editor.head(root, list(itertools.takewhile(lambda c: c is not data, root))):
            head.append(child)
        out.write(_inner(head))
        out.write(_start_tag(data, root.nsmap))
        return etree.Element(data.tag, nsmap=root.nsmap)

    def flush() -> None:
        nonlocal batch
        if batch is not None:
            out.write(_inner(batch))
            batch = etree.Element(batch.tag, nsmap=batch.nsmap)

    for _, element in iterparse(stream, ("end",), tag=tags):
        name = local(element.tag)
        if name == "row":
            parent = element.getparent()
            if parent is None or local(parent.tag) != "sheetData":
                continue
            if batch is None:
                batch = begin(parent)
            for written in editor.row(element):
                batch.append(written)  # moves it out of the parsed tree
                batched += 1
            if batched >= _BATCH_ROWS:
                flush()
                batched = 0
        elif name == "sheetData" and element.getparent() is not None and (sheet_data is None or element is sheet_data):
            if batch is None:
                batch = begin(element)
            for written in editor.end(element):
                batch.append(written)
            flush()
            out.write(_end_tag(element))
        elif name == "worksheet" and element.getparent() is None:
            if sheet_data is None:
                raise SheetError("a worksheet without <sheetData>")
            tail = etree.Element(element.tag, nsmap=element.nsmap)
            for child in list(itertools.dropwhile(lambda c: c is not sheet_data, element))[1:]:
                tail.append(child)
            out.write(_inner(tail))
            out.write(_end_tag(element))


_BATCH_ROWS: Final = 500


def _inner(holder: etree._Element) -> bytes:
    """The serialised children of a holder element (its own tags and namespace declarations left out)."""
    data = etree.tostring(holder, encoding="utf-8", xml_declaration=False, with_tail=False)
    if data.endswith(b"/>"):
        return b""
    return data[data.index(b">") + 1:data.rindex(b"</")]


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
    """The used range (cells and merged ranges) and row 1 of a worksheet, checking that rows carry their
    numbers in order and that each row's first and last cells carry their references (a row-by-row
    edit relies on it; a row it rebuilds has every cell checked); `SheetError` when they do not."""
    found = Scan(Extent(), {})
    previous = 0
    for element in rows(stream, also="mergeCell"):
        if element.tag.endswith("mergeCell"):
            first, _, last = element.get("ref", "").partition(":")
            (top, left), (bottom, right) = split_ref(first), split_ref(last or first)
            found.extent.add((top, bottom), (left, right))
            continue
        number = row_number(element)
        if number <= previous:
            raise SheetError("rows out of order")
        previous = number
        ends = end_cells(element)
        if ends is not None:
            found.extent.add((number,), (cell_column(ends[0], number), cell_column(ends[1], number)))
        if number == 1:
            columns = ordered_columns(element, number)
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
