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

from pipeline.workbook.cell_refs import cell_ref, column_number, split_ref
from pipeline.workbook.package import SharedStrings, iterparse, local, namespace, string_item_text

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


def children_bytes(holder: etree._Element) -> bytes:
    """The serialised children of a holder element (declaring the namespaces they share), for an editor."""
    return _inner(holder)


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


def peek(stream: IO[bytes]) -> tuple[Extent | None, dict[int, etree._Element]]:
    """The used range a worksheet's <dimension> states (None without a readable one) and the cells of row 1,
    read from the start of the part only: what a pass that trusts the dimension needs before it writes."""
    dimension: Extent | None = None
    for _, element in iterparse(stream, ("end",), tag=("{*}dimension", "{*}row")):
        if local(element.tag) == "dimension":
            first, _, last = element.get("ref", "").partition(":")
            try:
                (top, left), (bottom, right) = split_ref(first), split_ref(last or first)
            except ValueError:
                continue
            if top <= bottom and left <= right:
                dimension = Extent(top, bottom, left, right)
            continue
        if row_number(element) != 1:
            return dimension, {}
        return dimension, {column: deepcopy(cell) for column, cell in zip(ordered_columns(element, 1), cells(element))}
    return dimension, {}


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


# --- the fast path: rows copied as bytes, only the rows an editor must change parsed ---------------------------


class Redo(Exception):
    """Something the byte-level pass does not handle (a comment, a prefix it did not expect, a dimension
    that turned out wrong, ...): the caller does the sheet the general way instead."""


class RawEditor(Editor, Protocol):
    """An editor that can also edit a row as bytes (`RawRows` gives the helpers)."""

    def raw_row(self, number: int, row: RawRow) -> tuple[list[etree._Element], bytes] | None:
        """The rows added before this one and this row's bytes; None to have the row parsed and given to
        `row` instead (it then adds the rows before it itself)."""

    def finish(self, seen: Extent, merges: Extent) -> None:
        """Called once the sheet is read (before its end is written): the used range of its rows (by their
        first and last cells) and of its merged cells; raises `Redo` when these undo an assumption."""


@dataclass
class RawRow:
    markup: RawMarkup
    attributes: bytes  # of the start tag, with their leading space
    content: bytes  # between the tags (b"" for <row/>)
    raw: bytes  # the row as it is in the source
    last: int = 0  # the column of its last cell (0 without cells), set by `rewrite_raw`

    def last_column(self, number: int) -> int | None:
        """The column of the last cell (0 without cells); None when its reference is not the usual one."""
        return self.markup.cell_column_at(self.content, self.content.rfind(self.markup.cell_start), number)

    def first_column(self, number: int) -> int | None:
        return self.markup.cell_column_at(self.content, self.content.find(self.markup.cell_start), number)

    def with_cells_after(self, cells: bytes, *, cut: int | None = None) -> bytes:
        """The row with `cells` appended (after its cells up to `cut`), without its `spans` hint."""
        markup = self.markup
        content = self.content if cut is None else self.content[:cut]
        return b"".join((markup.row_open, _SPANS.sub(b"", self.attributes), b">", content, cells, markup.row_close))


_SPANS: Final = re.compile(rb"""\sspans\s*=\s*(?:"[^"]*"|'[^']*')""")
_ATTRIBUTES: Final = rb"""((?:\s+[\w.:-]+\s*=\s*(?:"[^"]*"|'[^']*'))*)\s*"""
_PROLOG: Final = re.compile(rb"""\A(?:\xef\xbb\xbf)?(?:<\?xml\s[^?>]*\?>)?\s*<([\w.-]+(?::[\w.-]+)?)""" + _ATTRIBUTES
                            + rb">")
_ENCODING: Final = re.compile(rb"""encoding\s*=\s*["']([^"']*)["']""")
_ROW_NUMBER: Final = re.compile(rb"""\sr\s*=\s*"(\d+)\"""")
_REF: Final = re.compile(rb'([A-Z]{1,3})(\d+)"')
_COLUMNS: dict[bytes, int] = {}  # column letters -> number, as met


class RawMarkup:
    """The tags of a sheet's rows and cells under the prefix its <sheetData> uses, and the checks that
    a stretch of rows holds nothing the byte-level edits could misread."""

    def __init__(self, prefix: bytes) -> None:
        p = prefix + b":" if prefix else b""
        self.prefix = p
        self.row_open, self.row_close = b"<" + p + b"row", b"</" + p + b"row>"
        self.cell_start = b"<" + p + b'c r="'
        self.sheet_data_close = b"</" + p + b"sheetData>"
        self.row = re.compile(rb"\s*<" + re.escape(p) + rb"row" + _ATTRIBUTES + rb"(/?)>")
        # each starts with a literal, so `re` skips to it (one alternation of them all is ~5x slower)
        self.odd = re.compile(rb"<(?:[!?]|" + re.escape(p) + rb"(?:c|row)(?:[\t\r\n]|/?>))")
        self.foreign = re.compile(rb"<(?!/?" + re.escape(p) + rb")" if p else rb":(?:c|row|v|f|is|t|r)[\s/>]")
        self.declaration = re.compile(rb"\sxmlns(?::[\w.-]+)?\s*=")
        self.value = re.compile(rb"<" + re.escape(p) + rb"v>([^<]*)</" + re.escape(p) + rb"v>")
        self.data = re.compile(rb"<" + re.escape(p) + rb"v>[^<]|<" + re.escape(p) + rb"f[\s>/]|<" + re.escape(p)
                               + rb"t(?:\s[^>]*)?>[^<]")
        self.value_open = b"<" + p + b"v>"
        self.formula = re.compile(rb"<" + re.escape(p) + rb"f[\s>/]")
        self.inline_text = re.compile(rb"<" + re.escape(p) + rb"t(?:\s[^>]*)?>[^<]")
        self.cell_type = re.compile(rb'^[^>]*?\st="(\w+)"')

    def check(self, rows: bytes) -> None:
        """`Redo` unless every row and cell leads with its reference and nothing else is odd (a comment, a
        processing instruction, a namespace declaration, an element in another prefix)."""
        if self.odd.search(rows) or self.foreign.search(rows) \
                or (b"xmlns" in rows and self.declaration.search(rows)) or rows.count(self.row_open + b" ") != rows.count(self.row_open + b' r="') \
                or rows.count(self.cell_start[:-4] + b" ") != rows.count(self.cell_start):
            raise Redo("rows or cells the byte-level pass does not read")

    def cell_column_at(self, content: bytes, at: int, number: int) -> int | None:
        if at < 0:
            return 0
        ref = _REF.match(content, at + len(self.cell_start))
        if ref is None or int(ref.group(2)) != number:
            return None
        letters = ref.group(1)
        column = _COLUMNS.get(letters)
        if column is None:
            column = _COLUMNS[letters] = column_number(letters.decode())
        return column

    def holds_data(self, content: bytes, empties: frozenset[int]) -> bool:
        """A cell with a formula, inline text, or a value that is not an empty shared string."""
        if not empties:
            at = content.find(self.value_open)
            while at >= 0:  # the usual cell: a value (a find is cheaper than the regex below)
                if content[at + len(self.value_open):at + len(self.value_open) + 1] not in (b"<", b""):
                    return True
                at = content.find(self.value_open, at + 1)
            return self.data.search(content) is not None
        return any(self._cell_holds_data(cell, empties) for cell in content.split(self.cell_start)[1:])

    def _cell_holds_data(self, cell: bytes, empties: frozenset[int]) -> bool:
        if self.formula.search(cell):
            return True
        kind = self.cell_type.search(cell)
        kind = kind.group(1) if kind else None
        if kind == b"inlineStr":
            return self.inline_text.search(cell) is not None
        value = self.value.search(cell)
        if value is None or not value.group(1):
            return False
        return not (kind == b"s" and value.group(1).isdigit() and int(value.group(1)) in empties)


_READ: Final = 1 << 20


def rewrite_raw(stream: IO[bytes], out: IO[bytes], editor: RawEditor) -> None:
    """`rewrite`, with the rows between <sheetData> tags copied as bytes unless `editor.raw_row` wants one
    parsed. The head (before <sheetData>) and the tail are parsed with lxml (so their namespaces are read
    properly, and they are well-formed); the rows must use <sheetData>'s own prefix, lead with their
    references and hold no comment, processing instruction or namespace declaration, else `Redo`.
    Anything else unusual raises `Redo` too, before or while writing: the caller starts the copy over."""
    buffer = stream.read(_READ)
    while (opened := re.search(rb"<(?:([\w.-]+):)?sheetData" + _ATTRIBUTES + rb"(/?)>", buffer)) is None:
        more = stream.read(_READ)
        if not more or len(buffer) > 64 * _READ:
            raise Redo("no <sheetData> near the start")
        buffer += more
    prolog = _PROLOG.match(buffer)
    if prolog is None or opened.group(3) or re.search(rb"<!|<\?(?!xml\s)", buffer[:opened.start()]):
        raise Redo("an unusual worksheet head")
    declared = _ENCODING.search(buffer[:prolog.start(1)])
    if declared is not None and declared.group(1).lower() not in (b"utf-8", b"utf8"):
        raise Redo("a worksheet not in UTF-8")
    root_open = buffer[prolog.start(1) - 1:prolog.end()]
    root_name = prolog.group(1)
    head_doc = buffer[prolog.start(1) - 1:opened.end()] + b"</" + opened.group(0)[1:].split(None, 1)[0].rstrip(b">") \
        + b"></" + root_name + b">"
    root = etree.fromstring(head_doc, etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False))
    sheet_data = root[-1] if len(root) else None
    if local(root.tag) != "worksheet" or sheet_data is None or local(sheet_data.tag) != "sheetData" \
            or namespace(sheet_data.tag) != namespace(root.tag):
        raise Redo("not a worksheet")
    markup = RawMarkup(opened.group(1) or b"")

    out.write(b'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n' + root_open)
    head = etree.Element(sheet_data.tag, nsmap=root.nsmap)
    for child in editor.head(root, list(root)[:-1]):
        head.append(child)
    out.write(_inner(head))
    out.write(opened.group(0))

    holder_open = _start_tag(sheet_data)
    holder_close = _end_tag(sheet_data)
    parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, huge_tree=True)

    def parsed(row: RawRow) -> bytes:
        element = etree.fromstring(holder_open + row.raw + holder_close, parser)[0]
        batch = etree.Element(sheet_data.tag, nsmap=sheet_data.nsmap)
        for written in editor.row(element):
            batch.append(written)
        return _inner(batch)

    top = bottom = left = right = 0
    buffer = buffer[opened.end():]
    at, eof, previous = 0, False, 0
    pieces: list[bytes] = []
    close, row_close = markup.sheet_data_close, markup.row_close
    end = -1
    while True:
        end = buffer.find(close)
        limit = len(buffer) if end < 0 else end
        cut = buffer.rfind(row_close, 0, limit)
        stop = limit if end >= 0 else (cut + len(row_close) if cut >= 0 else 0)
        rows_part = buffer[:stop]
        if rows_part:
            markup.check(rows_part)
            at = 0
            for row in _raw_rows(rows_part, markup):
                match = _ROW_NUMBER.match(row.attributes) or _ROW_NUMBER.search(row.attributes)
                if match is None:
                    raise Redo("a row without its number")
                number = int(match.group(1))
                if number <= previous:
                    raise Redo("rows out of order")
                previous = number
                first, last = row.first_column(number), row.last_column(number)
                if first is None or last is None:
                    raise Redo("a cell reference the byte-level pass does not read")
                if last:
                    top = top or number
                    bottom = number
                    left = min(left, first) if left else first
                    right = max(right, last)
                row.last = last
                edited = editor.raw_row(number, row)
                if edited is None:
                    pieces.append(parsed(row))
                else:
                    added, data = edited
                    if added:
                        batch = etree.Element(sheet_data.tag, nsmap=sheet_data.nsmap)
                        for element in added:
                            batch.append(element)
                        pieces.append(_inner(batch))
                    pieces.append(data)
            out.write(b"".join(pieces))
            pieces.clear()
        buffer = buffer[stop:]
        if end >= 0:
            break
        more = stream.read(_READ)
        if not more:
            raise Redo("<sheetData> is not closed")
        buffer += more
    tail = buffer[len(close):] + stream.read()
    tail_root = etree.fromstring(root_open + tail, parser)
    merges = Extent()
    for merge in tail_root.iter("{*}mergeCell"):
        first, _, last = merge.get("ref", "").partition(":")
        (top, left), (bottom, right) = split_ref(first), split_ref(last or first)
        merges.add((top, bottom), (left, right))
    editor.finish(Extent(top, bottom, left, right), merges)
    batch = etree.Element(sheet_data.tag, nsmap=sheet_data.nsmap)
    for element in editor.end(sheet_data):
        batch.append(element)
    out.write(_inner(batch) + close + tail)


def _raw_rows(rows: bytes, markup: RawMarkup) -> Iterator[RawRow]:
    """Each row of a run of complete rows (checked by `RawMarkup.check`)."""
    pieces = rows.split(markup.row_close)
    last = len(pieces) - 1
    for index, piece in enumerate(pieces):
        at = 0
        while (match := markup.row.match(piece, at)) is not None and match.group(2):  # <row .../>
            yield RawRow(markup, match.group(1), b"", match.group(0).lstrip())
            at = match.end()
        if match is None:
            if piece[at:].strip():
                raise Redo("something other than rows in <sheetData>")
            continue
        if index == last:
            raise Redo("a row is not closed")
        yield RawRow(markup, match.group(1), piece[match.end():], piece[at:].lstrip() + markup.row_close)
