"""Read an export back: an xlsx workbook, a folder of CSV files or a zip of them.

This is the plain round-trip reader: it checks that every sheet and column is there and that each
cell can be read as its column's kind, and returns typed frames. Row-level validation of the
content is a separate, later step. Workbooks are read with python-calamine (Rust), which is
several times faster than openpyxl, and which trusts the file: every part it reads, and every sheet
before it parses it, passes `pipeline.workbook.guard` first (a lying zip, a bomb, a stray cell at
XFD100000 are refused with `PackageRefused`, a ValueError, instead of unpacking or allocating them).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import html
import itertools
import re
import zipfile
from collections.abc import Callable, Collection, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import pandas as pd
from python_calamine import CalamineSheet, CalamineWorkbook

from pipeline.gc_pause import gc_paused
from pipeline.normalise import ModifierFrames
from pipeline.workbook.csv_files import csv_name, read_csv_tables
from pipeline.workbook.guard import check_package, check_sheet, sheet_limits
from pipeline.workbook.layout import META_SHEET, family_row, part_name, split_part_name
from pipeline.workbook.meta import ExportMeta, meta_from_frame
from pipeline.workbook.split import sheets_to_frames
from pipeline.workbook.package import Workbook
from pipeline.workbook.stream_reader import NotPlain, WorkbookText, sheet_rows
from pipeline.workbook.tables import EXPORT_TABLES, RawTable, TableSpec, typed_table


def read_export(path: Path) -> tuple[ModifierFrames, ExportMeta]:
    """The frames and metadata of an export written by `write_workbook` or `write_csv`."""
    sheets, meta = read_sheets(path)
    return sheets_to_frames(sheets), meta


@gc_paused()
def read_sheets(path: Path) -> tuple[dict[str, pd.DataFrame], ExportMeta]:
    """Sheet name -> typed rows (indexed by spreadsheet row number, `action` included), and the metadata."""
    path = Path(path)
    if path.is_dir():
        raw, is_xlsx = read_csv_tables(path), False
    elif not path.is_file():
        raise FileNotFoundError(f"{path}: no such file or folder")
    elif not zipfile.is_zipfile(path):
        raise ValueError(f"{path}: not an xlsx workbook, a folder of CSV files or a zip of them")
    else:
        with zipfile.ZipFile(path) as archive:
            is_xlsx = "xl/workbook.xml" in archive.namelist()
        if not is_xlsx:
            check_package(path, lambda names: ())
        raw = _xlsx_tables(path) if is_xlsx else read_csv_tables(path)
    missing = [f"sheet {s.name!r}" if is_xlsx else csv_name(s.name) for s in EXPORT_TABLES if s.name not in raw]
    if missing:
        raise ValueError(f"{path}: {', '.join(missing)} {'is' if len(missing) == 1 else 'are'} missing")
    tables = {spec.name: _family_frame(raw, spec) for spec in EXPORT_TABLES}
    meta = meta_from_frame(tables.pop(META_SHEET), raw[META_SHEET].where)
    return tables, meta


def _family_frame(raw: dict[str, RawTable], spec: TableSpec) -> pd.DataFrame:
    """The typed rows of `spec`'s sheet and its continuation sheets, as one frame indexed by family row."""
    frame = typed_table(raw[spec.name], spec)
    parts = [frame]
    for part in itertools.count(2):
        table = raw.get(part_name(spec.name, part))
        if table is None:
            break
        typed = typed_table(table, spec)
        parts.append(typed.set_axis(typed.index + family_row(part, 0), axis=0))
    return frame if len(parts) == 1 else pd.concat(parts)


def _xlsx_tables(path: Path) -> dict[str, RawTable]:
    with zipfile.ZipFile(path) as archive:
        names = _sheet_names(archive)
    wanted = {spec.name for spec in EXPORT_TABLES} | {n for n in names if (split_part_name(n) or ("", 1))[1] > 1}
    tables = read_xlsx(path, wanted).tables
    for table in tables.values():
        if not table.header:
            raise ValueError(f"{table.where}: the header row is missing")
    return tables


def _sheet_names(archive: zipfile.ZipFile) -> list[str]:
    """The sheet names `xl/workbook.xml` lists (read before the guard: it is a small part, read capped)."""
    with archive.open("xl/workbook.xml") as handle:
        text = handle.read(4_000_000).decode("utf-8", "replace")
    return [html.unescape(name) for name in re.findall(r'<(?:\w+:)?sheet\b[^>]*?\bname="([^"]*)"', text)]


Merged = list[tuple[tuple[int, int], tuple[int, int]]]


def _malloc_trim() -> Callable[[int], int] | None:
    try:
        return ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6").malloc_trim  # type: ignore[no-any-return]
    except (OSError, AttributeError):
        return None  # not glibc (macOS, Windows, musl): nothing to hand back this way


_TRIM: Final = _malloc_trim()


def release_freed_memory() -> None:
    """Hand the heap pages freed since the last call back to the system (glibc only).

    glibc keeps freed memory for reuse, and a worker thread's malloc arena (python-calamine parses
    there) is never trimmed on its own: without this the resident size of a big read only grows,
    sheet after sheet, by the cells already freed (about a sixth of a 30k-product validate's peak).
    """
    if _TRIM is not None:
        _TRIM(0)


@dataclass
class XlsxContent:
    """What a workbook holds: every sheet name, the raw cells of the wanted sheets, and their
    merged cell ranges as ((first row, first column), (last row, last column)), 0-based."""

    sheet_names: list[str]
    tables: dict[str, RawTable]
    merged: dict[str, Merged]


def read_xlsx(path: Path, wanted: Collection[str]) -> XlsxContent:
    """The raw cells of the sheets in `wanted` (a sheet with no rows has an empty header).

    Raises python-calamine's errors for a file it cannot read, and `PackageRefused` for one the
    guard refuses.
    """
    with XlsxSheets(path, wanted) as sheets:
        content = XlsxContent(sheets.names, {}, {})
        for name, table, merged in sheets:
            content.tables[name] = table
            content.merged[name] = merged
    return content


SheetGuard = Callable[[str], object]
# Rows per chunk of `XlsxSheets.chunked`: a chunk of a wide sheet is about a million cells.
CHUNK_ROWS: Final = 20_000


class XlsxSheets:
    """An open workbook: `names` has every sheet name, and iterating gives (name, raw cells,
    merged ranges) of each sheet in `wanted`: in the order given when `wanted` is a sequence,
    else in workbook order.

    python-calamine parses a sheet's XML with the GIL released, so a worker thread parses the
    next wanted sheet while the caller converts and uses the one before: on two cores the parsing
    costs little time of its own. Only one sheet is parsed ahead, and none is kept once the
    caller moves on, so at most two parsed sheets are held at a time. A sheet in `alone` (an
    export's `_bcmod` sheet: a row per data row, the biggest sheet) is used with nothing parsed
    ahead: the next sheet's parse starts once the caller is done with it, so the two biggest parsed
    sheets are never held together. A sheet in `stream` is not parsed by python-calamine at all:
    `chunked` reads it row by row from its XML (`stream_reader`), so no whole copy of it exists.

    `guard`: called in the worker with each sheet's name before that sheet is parsed; it raises
    to refuse the sheet. A caller that gives one has checked the package's other parts (see
    `guard.check_package`) before opening. None: the package is checked on opening and each sheet
    is scanned with its layout's limits before it is parsed. Opening and iterating raise
    python-calamine's errors for a file it cannot read, and `PackageRefused` for one refused.
    """

    def __init__(self, path: Path, wanted: Collection[str], *, guard: SheetGuard | None = None,
                 alone: Collection[str] = (), stream: Collection[str] = ()) -> None:
        self.path = Path(path)
        self.wanted = wanted
        self.guard = guard
        self.alone = frozenset(alone)
        self.stream = frozenset(stream)
        self.names: list[str] = []
        self._stack = ExitStack()

    def __enter__(self) -> XlsxSheets:
        if self.guard is None:
            parts = check_package(self.path, lambda names: [n for n in names if n in set(self.wanted)], unchosen=False)
            self.guard = lambda name: check_sheet(self.path, parts.get(name, ""), sheet_limits(name), sheet=name)
        with ExitStack() as stack:
            self._workbook = stack.enter_context(CalamineWorkbook.from_path(self.path))
            self._pool = stack.enter_context(ThreadPoolExecutor(1, "calamine"))
            stack.callback(self._cancel)
            self.names = list(self._workbook.sheet_names)
            self._parsed: list[Future[CalamineSheet | None]] = []
            self._text: tuple[zipfile.ZipFile, dict[str, str], WorkbookText] | None = None
            self._stack = stack.pop_all()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stack.close()  # drops the parses not started, waits for the one running, closes the workbook

    def _cancel(self) -> None:
        for future in self._parsed:
            future.cancel()

    def _parse(self, name: str) -> CalamineSheet | None:
        """The sheet parsed by python-calamine once its guard passed; None for a sheet read streamed."""
        assert self.guard is not None
        self.guard(name)
        return None if name in self.stream else self._workbook.get_sheet_by_name(name)

    def _sheets(self) -> Iterator[tuple[str, CalamineSheet | None]]:
        present = set(self.names)
        chosen = [name for name in self.wanted if name in present] if isinstance(self.wanted, Sequence) \
            else [name for name in self.names if name in self.wanted]
        # one worker, one sheet ahead: the next sheet is parsed (after its guard) while the caller
        # uses this one, and a parsed sheet is let go once used, so at most two are held at a time
        if chosen:
            self._parsed = [self._pool.submit(self._parse, chosen[0])]
        for position, name in enumerate(chosen):
            sheet = self._parsed[-1].result()
            following = chosen[position + 1] if position + 1 < len(chosen) else None
            self._parsed = [self._pool.submit(self._parse, following)] \
                if following is not None and name not in self.alone else []
            yield name, sheet
            del sheet
            release_freed_memory()
            if following is not None and not self._parsed:
                self._parsed = [self._pool.submit(self._parse, following)]

    def __iter__(self) -> Iterator[tuple[str, RawTable, Merged]]:
        for name, sheet in self._sheets():
            if sheet is None:  # a streamed sheet, read whole here
                merged: Merged = []
                chunks = list(self._streamed(name, 2**62, merged))
                yield name, chunks[0], merged
                continue
            rows = sheet.to_python(skip_empty_area=False)
            header = rows[0] if rows else []
            columns = list(zip(*rows[1:], strict=True)) if len(rows) > 1 else [() for _ in header]
            del rows
            yield name, RawTable(self._where(name), header, columns), list(sheet.merged_cell_ranges or ())

    def chunked(self, rows: int | None = None) -> Iterator[tuple[str, Iterator[RawTable], Merged]]:
        """Like iterating, but each sheet's cells come as chunks of at most `rows` rows (default
        `CHUNK_ROWS`; each a `RawTable` with the sheet's header and its own `first_row`; always at
        least one), so a caller that types each chunk and drops it never holds a whole big sheet as
        Python objects. A sheet's chunks must be used up before the next sheet is asked for."""
        for name, sheet in self._sheets():
            if sheet is None:
                merged: Merged = []  # filled once the sheet's chunks are read out
                yield name, self._streamed(name, rows or CHUNK_ROWS, merged), merged
            else:
                yield name, self._chunks(name, sheet, rows or CHUNK_ROWS), list(sheet.merged_cell_ranges or ())

    def _chunks(self, name: str, sheet: CalamineSheet, size: int) -> Iterator[RawTable]:
        where = self._where(name)
        # `iter_rows` starts at the first row but at the range's first column: from A1 only when the
        # sheet's cells start there (an export's always do); otherwise take the whole sheet at once
        cells = iter(sheet.iter_rows() if sheet.start in (None, (0, 0)) else sheet.to_python(skip_empty_area=False))
        header = next(cells, [])
        first_row = 2
        while True:
            chunk = list(itertools.islice(cells, size))
            count = len(chunk)
            columns = list(zip(*chunk, strict=True)) if chunk else [() for _ in header]
            del chunk
            yield RawTable(where, header, columns, first_row=first_row)
            if count < size:
                return
            first_row += count

    def _streamed(self, name: str, size: int, merged: Merged) -> Iterator[RawTable]:
        """A sheet in `stream`, read row by row from its XML (see `stream_reader`), in chunks as
        `_chunks` gives them. Each chunk is as wide as its widest row and the header (a whole-sheet
        read is as wide as the sheet's widest row: the extra columns of the other chunks are blank).
        A cell python-calamine types otherwise (a date) hands the rest of the sheet to it."""
        where = self._where(name)
        if self._text is None:
            archive = self._stack.enter_context(zipfile.ZipFile(self.path))
            workbook = Workbook.read(archive)
            self._text = archive, {s.name: s.part for s in workbook.sheets}, WorkbookText.read(archive, workbook)
        archive, parts, text = self._text
        rows: Iterator[list[Any]] = sheet_rows(archive, parts[name], text, merged)
        read = 0  # rows taken from `rows`, the header included, in the chunks given so far
        header: list[Any] | None = None
        first_row = 2
        while True:
            try:
                if header is None:
                    header = next(rows, [])
                    read = 1
                chunk = list(itertools.islice(rows, size))
            except NotPlain:
                # its guard passed before streaming; parsed in the worker, which may be parsing the next
                # sheet (the workbook takes one call at a time)
                sheet = self._pool.submit(self._workbook.get_sheet_by_name, name).result()
                merged[:] = list(sheet.merged_cell_ranges or ())
                whole = sheet.iter_rows() if sheet.start in (None, (0, 0)) else sheet.to_python(skip_empty_area=False)
                rows = itertools.islice(whole, read, None)
                if header is None:
                    header = next(rows, [])
                    read = 1
                continue
            count = len(chunk)
            read += count
            width = max(len(header), *(len(row) for row in chunk)) if chunk else len(header)
            head = header + [""] * (width - len(header))
            if chunk:
                columns = list(zip(*(row if len(row) == width else row + [""] * (width - len(row)) for row in chunk),
                                   strict=True))
            else:
                columns = [() for _ in head]
            del chunk
            yield RawTable(where, head, columns, first_row=first_row)
            if count < size:
                return
            first_row += count

    def _where(self, name: str) -> str:
        return f"{self.path.name}, sheet {name!r}"
