"""Refuse a hostile package before python-calamine unpacks or allocates it: judged by what is read.

python-calamine trusts a workbook. It inflates a part as far as its deflate stream goes, whatever
size the zip declares; it keeps every shared string; and it gives a sheet as one dense grid from
A1 to its farthest cell, so a single stray value at XFD100000 asks for 1.6 billion cells (52 GB,
then an abort). A size cap on the declared sizes catches none of that and refuses big honest
exports (30,000 products unpack to about 300 MB). So this module reads each part as a stream, the
way calamine would, and refuses by what it actually finds:

- bytes: a part that inflates past the size the zip declares for it (a zip whose sizes lie), or
  more than `MAX_RATIO` times its compressed bytes (a zip bomb), or whose CRC does not match;
- cells: in a sheet, a cell past the sheet's last column (its layout's columns, the annotation
  columns and `EXTRA_COLUMNS` of slack), past Excel's last row or the row limit the caller gives
  (derived from the export's own row count), or a grid that the cells read so far cannot justify
  (more than `GRID_FREE_CELLS` plus `GRID_PER_CELL` per cell actually present).

Nothing is held but one block of whole rows at a time, so the memory is the same for a 3 MB and a
3 GB part, and a refusal comes at the first offending block. Sheets whose cells all carry their
reference (as Excel, LibreOffice, Google Sheets and openpyxl write them) are checked by a few
regular-expression searches per block; cells without one are followed one by one, as calamine
places them.
"""

from __future__ import annotations

import re
import struct
import zipfile
import zlib
from collections.abc import Callable, Collection, Iterator
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import BinaryIO, Final

from pipeline.workbook.cell_refs import column_letters
from pipeline.workbook.layout import ANNOTATION_COLUMNS
from pipeline.workbook.package import PackageError, sheet_parts, workbook_part
from pipeline.workbook.tables import EXPORT_TABLES

MAX_RATIO: Final = 100  # an export packs about 9 to 1
RATIO_FREE_BYTES: Final = 1024 * 1024  # tiny parts compress well without being bombs
EXCEL_MAX_ROWS: Final = 1_048_576
EXCEL_MAX_COLUMNS: Final = 16_384
EXTRA_COLUMNS: Final = 8  # a few stray columns are the reader's to report one by one, not refused here
GRID_FREE_CELLS: Final = 2_000_000  # about 80 MB in python-calamine and Python
GRID_PER_CELL: Final = 8  # an export's rows fill half their columns or more
ADDED_ROWS_FLOOR: Final = 100_000  # rows a person may add to a sheet of a small export
MAX_ROW_BYTES: Final = 32 * 1024 * 1024  # one row of an export is a few kB
OUT_CHUNK: Final = 4 * 1024 * 1024
IN_CHUNK: Final = 1024 * 1024
WORKSHEETS: Final = "xl/worksheets/"


class PackageRefused(ValueError):
    """The package is not read: `message` says why for a person; `part`, and `sheet`, `cell`,
    `row` and `column` (1-based) when one cell is the reason."""

    def __init__(self, message: str, *, part: str | None = None, sheet: str | None = None, cell: str | None = None,
                 row: int | None = None, column: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.part = part
        self.sheet = sheet
        self.cell = cell
        self.row = row
        self.column = column


class PackageDamaged(PackageRefused):
    """The package is broken rather than hostile (a bad CRC, a truncated part, an unknown method)."""


@dataclass(frozen=True)
class SheetLimits:
    """How far a sheet's cells may reach: `columns` and `rows` are the last column and row (1-based)."""

    columns: int = EXCEL_MAX_COLUMNS
    rows: int = EXCEL_MAX_ROWS
    exported_rows: int | None = None  # the export's row count the row limit comes from, for the message


@dataclass
class SheetScan:
    """What a sheet's scan saw: the cells, the last row element and the declared dimension."""

    cells: int = 0
    last_row: int = 0
    dimension: str | None = None


# A block of whole rows, and where sheetData starts and ends in it, and the namespace prefix of the
# sheet's elements (b"" or b"x:"): for callers that look for more in the same pass (formulas, errors).
BlockCallback = Callable[[bytes, int, int, bytes], None]


def sheet_limits(name: str, exported_rows: int | None = None) -> SheetLimits:
    """The limits of the export sheet `name` (matched ignoring case and a numbered continuation's
    " (2)"; Excel's for another sheet).

    `exported_rows`: how many data rows the export recorded (its `_bcmod` sheet's); a data sheet
    may hold that many plus as many again (at least `ADDED_ROWS_FLOOR`) added rows. None: Excel's.
    """
    base = re.sub(r"\s*\(\d+\)$", "", name).casefold()  # "Choice values (2)" continues "Choice values"
    spec = next((s for s in EXPORT_TABLES if s.name.casefold() == base), None)
    if spec is None:
        return SheetLimits()
    columns = len(spec.columns) + len(ANNOTATION_COLUMNS) + EXTRA_COLUMNS
    if exported_rows is None:
        return SheetLimits(columns)
    rows = min(EXCEL_MAX_ROWS, 1 + exported_rows + max(exported_rows, ADDED_ROWS_FLOOR))
    return SheetLimits(columns, rows, exported_rows)


# --- bytes --------------------------------------------------------------------------------------------


def inflate(handle: BinaryIO, info: zipfile.ZipInfo) -> Iterator[bytes]:
    """The part `info` of the open archive `handle`, inflated in chunks of at most `OUT_CHUNK`.

    Raises `PackageRefused` as soon as it inflates past its declared size or packs tighter than
    `MAX_RATIO`, and `PackageDamaged` when its stream is cut short or its CRC is wrong.
    """
    name = info.filename
    if info.flag_bits & 0x1:
        raise PackageDamaged(f"part {name!r} is encrypted: this is not a workbook bcmod can read", part=name)
    handle.seek(info.header_offset)
    header = handle.read(30)
    if len(header) < 30 or header[:4] != b"PK\x03\x04":
        raise PackageDamaged(f"part {name!r} cannot be found where the archive says it is", part=name)
    name_length, extra_length = struct.unpack("<HH", header[26:30])
    handle.seek(info.header_offset + 30 + name_length + extra_length)
    if info.compress_type == zipfile.ZIP_STORED:
        decompressor = None
    elif info.compress_type == zipfile.ZIP_DEFLATED:
        decompressor = zlib.decompressobj(-15)
    else:
        raise PackageDamaged(f"part {name!r} is packed with a method spreadsheet programs do not use "
                             f"(zip method {info.compress_type})", part=name)
    left, read, out, crc = info.compress_size, 0, 0, 0
    pending = b""
    while True:
        if not pending:
            if left <= 0 or (decompressor is not None and decompressor.eof):
                break
            pending = handle.read(min(IN_CHUNK if decompressor is not None else OUT_CHUNK, left))
            if not pending:
                raise PackageDamaged(f"part {name!r} is cut short", part=name)
            left -= len(pending)
            read += len(pending)
        if decompressor is None:
            piece, pending = pending, b""
        else:
            try:
                piece = decompressor.decompress(pending, OUT_CHUNK)
            except zlib.error as exc:
                raise PackageDamaged(f"part {name!r} cannot be unpacked ({exc})", part=name) from None
            pending = b"" if decompressor.eof else decompressor.unconsumed_tail
        if not piece:
            continue
        out += len(piece)
        if out > info.file_size:
            raise PackageRefused(f"part {name!r} unpacks to more than the {info.file_size:,} bytes the archive "
                                 "declares for it: its sizes are false, as in a zip bomb, so it is not read",
                                 part=name)
        if out >= RATIO_FREE_BYTES and out > MAX_RATIO * (read - len(pending)):
            raise PackageRefused(f"part {name!r} is compressed more than {MAX_RATIO} times: the file looks like a "
                                 "zip bomb and is not read", part=name)
        crc = zlib.crc32(piece, crc)
        yield piece
    if decompressor is not None and not decompressor.eof:
        raise PackageDamaged(f"part {name!r} is cut short", part=name)
    if crc != info.CRC:
        raise PackageDamaged(f"part {name!r} is damaged (its checksum does not match)", part=name)


def check_parts(path: Path, select: Callable[[str], bool] = lambda part: True, *, skip_damaged: bool = False) -> None:
    """Inflate every part of the zip at `path` that `select` picks, keeping nothing; raise
    `PackageRefused` for the first one that lies about its size, is a bomb or (unless
    `skip_damaged`, for a reader that reports damaged parts itself) is damaged."""
    with zipfile.ZipFile(path) as archive, Path(path).open("rb") as handle:
        for info in archive.infolist():
            if info.is_dir() or not select(info.filename):
                continue
            try:
                for _ in inflate(handle, info):
                    pass
            except PackageDamaged:
                if not skip_damaged:
                    raise


def check_package(path: Path, choose: Callable[[list[str]], Collection[str]], *, unchosen: bool = True
                  ) -> dict[str, str]:
    """Check every part of a workbook or zip but the sheets `choose` picks from the sheet names;
    return sheet name -> part (empty for a zip without a workbook).

    The chosen sheets are for `scan_sheet` to check as they are read. `unchosen`: check the other
    sheets too (a copy of the package carries them; a reader that only parses the chosen ones
    needs not). Raises `PackageRefused`.
    """
    check_parts(path, lambda part: not part.startswith(WORKSHEETS))
    with zipfile.ZipFile(path) as archive:
        if workbook_part(archive) is None:
            check_parts(path, lambda part: part.startswith(WORKSHEETS))
            return {}
        try:
            parts = sheet_parts(archive)
        except (KeyError, PackageError) as exc:
            check_parts(path, lambda part: part.startswith(WORKSHEETS))  # a bomb is the worse news
            raise PackageDamaged(f"the workbook's list of sheets cannot be read ({exc})") from None
    chosen = {parts[name] for name in choose(list(parts)) if name in parts}
    if unchosen:
        check_parts(path, lambda part: part.startswith(WORKSHEETS) and part not in chosen)
    return parts


# --- cells --------------------------------------------------------------------------------------------

_ROOT = re.compile(rb"<(\w+:)?worksheet[\s>]")
_DIMENSION = re.compile(rb"<(?:\w+:)?dimension\s[^>]*?\bref=\"([^\"]*)\"")
# a row or cell start tag; attribute values may hold ">" (quoted), so they are skipped whole
_TAG = re.compile(rb"<(?:\w+:)?(row|c)(?=[\s/>])((?:[^>\"']|\"[^\"]*\"|'[^']*')*)>")
_REF_ATTRIBUTE = re.compile(rb"(?:^|\s)r\s*=\s*(?:\"([^\"]*)\"|'([^']*)')")
_CELL_REF = re.compile(rb"([A-Za-z]+)([0-9]+)")
_LAST_ROW = re.compile(rb"<(?:\w+:)?row r=\"([0-9]{1,12})\"")


def scan_sheet(handle: BinaryIO, info: zipfile.ZipInfo, limits: SheetLimits, *, sheet: str | None = None,
               on_block: BlockCallback | None = None) -> SheetScan:
    """Stream the worksheet part `info` and refuse it (`PackageRefused` naming the cell) when a
    cell reaches past `limits` or further than its cells justify; `on_block` sees every block."""
    walk = _Walk(limits, info.filename, sheet, on_block)
    carry = b""
    for chunk in inflate(handle, info):
        data = carry + chunk if carry else chunk
        if walk.prefix is None and not walk.start(data):
            carry = data
            continue
        # cut after the last whole row: at the end of a row, or at the start of one
        closed = data.rfind(walk.row_close)
        cut = max(closed + len(walk.row_close) if closed >= 0 else -1, data.rfind(walk.row_open))
        if cut <= 0:
            if len(data) > MAX_ROW_BYTES:
                raise PackageRefused(f"row {walk.row + 1:,} holds more than {MAX_ROW_BYTES // 2**20} MB: that is not "
                                     "a row of an export; delete it, save, and validate again", part=info.filename,
                                     sheet=sheet, row=walk.row + 1)
            carry = data
            continue
        walk.block(data[:cut])
        carry = data[cut:]
    if walk.prefix is None:
        walk.start(carry)
    walk.block(carry)
    return walk.scan


class _Walk:
    """One sheet's scan, block by block: where calamine would put the next cell, and the checks."""

    def __init__(self, limits: SheetLimits, part: str, sheet: str | None, on_block: BlockCallback | None) -> None:
        self.limits = limits
        self.part = part
        self.sheet = sheet
        self.on_block = on_block
        self.scan = SheetScan()
        self.prefix: bytes | None = None
        self.in_data = False  # between <sheetData> and </sheetData>
        self.row = 0  # the current row (1-based; 0 before the first)
        self.column = 0  # the last cell's column in that row (1-based; 0 before the first)

    def start(self, head: bytes) -> bool:
        """Learn the namespace prefix and the dimension from the part's start; False: read more first."""
        root = _ROOT.search(head, 0, 65536)
        if root is None and len(head) < 65536:
            return False
        self.prefix = (root.group(1) or b"") if root else b""
        self.row_open = b"<" + self.prefix + b"row"
        self.row_close = b"</" + self.prefix + b"row>"
        dimension = _DIMENSION.search(head, 0, 65536)
        self.scan.dimension = dimension.group(1).decode("ascii", "replace") if dimension else None
        return True

    def rows_allowed(self, cells: int) -> int:
        """The last row a cell may be in once `cells` cells are read: the grid, as wide as the
        sheet's columns may reach, stays within `GRID_FREE_CELLS` plus `GRID_PER_CELL` per cell,
        and within the limits. (A sheet of no known layout gets Excel's limits only.)"""
        if self.limits.columns >= EXCEL_MAX_COLUMNS:
            return self.limits.rows
        grid = (GRID_FREE_CELLS + GRID_PER_CELL * cells) // max(self.limits.columns, 1)
        return min(self.limits.rows, max(grid, 1))

    def block(self, block: bytes) -> None:
        """Check one block of whole rows (the first also holds the part's start, the last its end)."""
        prefix = self.prefix or b""
        start, end = 0, len(block)
        if not self.in_data:
            opened = block.find(b"<" + prefix + b"sheetData")
            if opened < 0:
                return
            empty = block.startswith(b"/>", block.find(b"sheetData", opened) + 9)
            start, self.in_data = opened, not empty
        if self.in_data:
            closed = block.find(b"</" + prefix + b"sheetData", start)
            if closed >= 0:
                end, self.in_data = closed, False
        else:
            end = start
        if block.find(b"<!", start, end) >= 0:
            # a comment or CDATA section could hide a row or cell tag from the scan, or show a false one
            raise PackageRefused("the sheet holds XML comments or CDATA sections among its rows, which spreadsheet "
                                 "programs do not write: open it in Excel and save a new copy", part=self.part,
                                 sheet=self.sheet)
        cells = block.count(b"<" + prefix + b"c ", start, end)
        rows = self.rows_allowed(self.scan.cells + cells)
        odd_row = _odd_row_pattern(prefix).search(block, start, end)
        far_cell = _cell_pattern(prefix, self.limits.columns, rows).search(block, start, end)
        # a row or cell tag with another prefix than the sheet's (calamine goes by the local name)
        foreign = (bool(prefix) or block.find(b":", start, end) >= 0) and \
            _foreign_tag_pattern(prefix).search(block, start, end) is not None
        # a cell with no value takes no room in calamine's grid (Excel writes them for formatting)
        while far_cell is not None and far_cell.group("ref") is not None and _empty_cell(block, far_cell.end(), prefix):
            far_cell = _cell_pattern(prefix, self.limits.columns, rows).search(block, far_cell.end(), end)
        if foreign or odd_row is not None or (far_cell is not None and far_cell.group("ref") is None):
            self.walk(block, start, end)  # a cell or a row whose reference is missing or not first
        else:
            self.scan.cells += cells
            if far_cell is not None:
                self.refuse_ref(far_cell.group("ref")[:-1])
            last = block.rfind(b"<" + prefix + b"row r=\"", start, end)
            number = _LAST_ROW.match(block, last) if last >= 0 else None
            if number is not None:
                self.row, self.column = int(number.group(1)), 0
        self.scan.last_row = max(self.scan.last_row, self.row)
        if self.on_block is not None:
            self.on_block(block, start, end, prefix)

    def walk(self, block: bytes, start: int, end: int) -> None:
        """Follow every row and cell of the block, placing each as calamine does, and check each one."""
        for tag in _TAG.finditer(block, start, end):
            attribute = _REF_ATTRIBUTE.search(tag.group(2))
            ref = (attribute.group(1) if attribute.group(1) is not None else attribute.group(2)) if attribute else None
            if tag.group(1) == b"row":
                self.row = _number(ref) if ref is not None else self.row + 1
                self.column = 0
                continue
            self.scan.cells += 1
            if ref is None:
                self.column += 1
                row = max(self.row, 1)
            else:
                parsed = _CELL_REF.fullmatch(ref)
                if parsed is None:
                    raise PackageDamaged("the sheet has a cell reference that is not a cell "
                                         f"({ref[:40].decode('ascii', 'replace')!r}): the file is damaged",
                                         part=self.part, sheet=self.sheet)
                self.column, row = _column_number(parsed.group(1)), _number(parsed.group(2))
            if (self.column > self.limits.columns or row > self.rows_allowed(self.scan.cells)) and \
                    not _empty_cell(block, tag.end(), b"", closed=tag.group(2).endswith(b"/")):
                self.refuse(_cell_name(self.column, row), row, self.column)

    def refuse_ref(self, ref: bytes) -> None:
        """Refuse the cell reference the search found past the limits."""
        parsed = _CELL_REF.fullmatch(ref)
        assert parsed is not None, ref  # the search matched letters then digits
        column, row = _column_number(parsed.group(1)), _number(parsed.group(2))
        self.refuse(_cell_name(column, row), row, column)

    def refuse(self, cell: str, row: int, column: int) -> None:
        """Raise the refusal for `cell` past the limits."""
        limits = self.limits
        where = f"cell {cell}"
        if column > limits.columns:
            message = (f"{where} is far to the right of the data (this sheet's columns end well before column "
                       f"{column_letters(limits.columns)}), and a value so far out makes the sheet enormous: "
                       "delete that cell, or the columns right of your data, save, and validate again")
        elif row > EXCEL_MAX_ROWS:
            message = (f"{where} is past row {EXCEL_MAX_ROWS:,}, the last row a spreadsheet has: the file is damaged "
                       "or was not saved by a spreadsheet program; export again")
        elif row > limits.rows:
            exported = f"the export had {limits.exported_rows:,} rows" if limits.exported_rows is not None else \
                "the export's own row count is unknown"
            message = (f"{where} is past row {limits.rows:,}, the last bcmod reads on this sheet ({exported}; as many "
                       f"again, and at least {ADDED_ROWS_FLOOR:,}, may be added): delete the rows below your data, or "
                       "export the products you are adding rows for and edit that export")
        else:
            grid = row * (column or limits.columns)
            message = (f"{where} is far below the data: the sheet holds {self.scan.cells:,} cells, but reaching row "
                       f"{row:,} would make a grid of {grid:,}: delete the stray cells below your data, save, and "
                       "validate again")
        raise PackageRefused(message, part=self.part, sheet=self.sheet, cell=cell, row=row, column=column)


@lru_cache(maxsize=256)
def _cell_pattern(prefix: bytes, columns: int, rows: int) -> re.Pattern[bytes]:
    """A cell reference past `columns` or `rows` (group `ref`), or a cell start tag whose first
    attribute is not its reference (then the block is walked cell by cell)."""
    far = rb"(?:" + _above_column(columns) + rb"[0-9]+|[A-Za-z]{1,3}0*" + _above_number(rows) + rb")\""
    return re.compile(rb"<" + re.escape(prefix) + rb"c(?: r=\"(?P<ref>" + far + rb")|(?! r=\")[\s/>])")


@lru_cache(maxsize=16)
def _odd_row_pattern(prefix: bytes) -> re.Pattern[bytes]:
    """A row start tag whose first attribute is not its number (then the block is walked cell by
    cell: a cell without a reference takes its row from the rows before it)."""
    return re.compile(rb"<" + re.escape(prefix) + rb"row(?! r=\")[\s/>]")


@lru_cache(maxsize=16)
def _foreign_tag_pattern(prefix: bytes) -> re.Pattern[bytes]:
    """A row or cell start tag without the sheet's prefix `prefix`."""
    if prefix:
        return re.compile(rb"<(?!" + re.escape(prefix) + rb")(?:\w+:)?(?:c|row)[\s/>]")
    return re.compile(rb"<\w+:(?:c|row)[\s/>]")


def _above_number(limit: int) -> bytes:
    """A regular expression for the decimal numbers (without leading zeros) greater than `limit`,
    nested digit by digit, so that a number far below it fails at its first digit or two."""
    digits = str(limit).encode()
    return rb"(?:[1-9][0-9]{%d,}|" % len(digits) + _greater(digits, b"[%c-9]", b"[0-9]") + rb")"


def _above_column(limit: int) -> bytes:
    """A regular expression for the column letters (either case) of the columns after `limit`."""
    letters = column_letters(min(max(limit, 1), EXCEL_MAX_COLUMNS)).encode()
    return (rb"(?:[A-Za-z]{%d,}|" % (len(letters) + 1)
            + _greater(letters, b"[%c-Z" + b"%c-z]", b"[A-Za-z]", fold=True) + rb")")


def _greater(text: bytes, above: bytes, any_: bytes, *, fold: bool = False) -> bytes:
    """Strings as long as `text` and greater than it, as nested alternatives: `above` % (next
    symbol[, its lower case]) is the class of the symbols above one, `any_` the class of all."""
    first, rest = text[0], text[1:]
    options = []
    top = ord("Z") if fold else ord("9")
    if first < top:
        symbols = (first + 1, first + 33) if fold else (first + 1,)
        options.append(above % symbols + (any_ + b"{%d}" % len(rest) if rest else b""))
    if rest:
        same = b"[" + bytes((first, first + 32)) + b"]" if fold else bytes((first,))
        options.append(same + _greater(rest, above, any_, fold=fold))
    if not options:
        return b"(?!)"
    return b"(?:" + b"|".join(options) + b")"


_TAG_REST = re.compile(rb"(?:[^>\"']|\"[^\"]*\"|'[^']*')*>")
_CELL_END = re.compile(rb"\s*</(?:\w+:)?c>")


def _empty_cell(block: bytes, position: int, prefix: bytes, *, closed: bool | None = None) -> bool:
    """Whether the cell whose start tag is open at `position` (or ended there, `closed` telling
    whether it closed itself) has no content: `<c r="Z9"/>` or `<c r="Z9" s="1"></c>`."""
    if closed is None:
        rest = _TAG_REST.match(block, position)
        if rest is None:
            return False
        closed, position = rest.group(0).endswith(b"/>"), rest.end()
    return closed or _CELL_END.match(block, position) is not None


def _number(digits: bytes) -> int:
    """A row number as calamine reads it, capped (a reference of a hundred digits is just far)."""
    digits = digits.lstrip(b"0") or b"0"
    return int(digits) if len(digits) <= 12 else 10**12


def _column_number(letters: bytes) -> int:
    number = 0
    for letter in letters[:8].upper():
        number = number * 26 + letter - 64
    return number


def _cell_name(column: int, row: int) -> str:
    if column <= EXCEL_MAX_COLUMNS:
        return f"{column_letters(max(column, 1))}{row}"
    return f"R{row}C{column}"


def check_sheet(path: Path, part: str, limits: SheetLimits, *, sheet: str | None = None,
                on_block: BlockCallback | None = None) -> SheetScan:
    """`scan_sheet` of the part `part` of the workbook at `path` (nothing when it has no such part:
    the parser reports that)."""
    with zipfile.ZipFile(path) as archive, Path(path).open("rb") as handle:
        info = archive.NameToInfo.get(part)
        return scan_sheet(handle, info, limits, sheet=sheet, on_block=on_block) if info is not None else SheetScan()
