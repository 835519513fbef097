"""Read an edited export for validation: tolerant of what spreadsheets do, strict about what is ambiguous.

`read_for_validation` never raises for bad input. Every problem becomes an `Issue` naming the
file, sheet, Excel row and column, and whatever could be read is still returned, so the schemas
and cross-row checks can report their own problems in the same pass.

Tolerated (read as meant): ids as 123.0, text "123", with spaces or a leading apostrophe;
booleans as TRUE/FALSE/yes/no/1/0/x (x = TRUE); numbers stored as text; reordered columns and
headers differing only in case; trailing blank rows; CSV with or without a byte-order mark; real
date cells in date columns.
Refused (an issue for the precise cell): ids in scientific notation or with decimals; formulas;
error cells; merged cells; blank rows between data rows; duplicated, missing, renamed or unknown
columns and sheets; dates as Excel serial numbers or in a locale format; files that are not an
export, damaged or suspiciously compressed archives; CSV not in UTF-8 or not comma separated;
a workbook from another store; image paths that leave the workbook's folder, do not exist, are
too big or are not images.

Hostile and huge files fail fast and small: every part is checked by what it really unpacks to and
each sheet's cells are scanned before python-calamine parses it (`pipeline.workbook.guard`: a zip
whose sizes lie, a bomb, a stray cell at XFD100000 or row 1,048,577 are refused with the cell
named); a data sheet may hold the export's own row count (its `_bcmod` sheet's) plus as many again
(at least 100,000); and reading stops after `MAX_ISSUES` problems, with no sheet returned, so a
file of junk sends no request to the store.
"""

from __future__ import annotations

import bisect
import csv
import datetime as dt
import difflib
import io
import itertools
import math
import re
import zipfile
import zlib
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import ExitStack
from dataclasses import dataclass, field, replace
from pathlib import Path, PurePosixPath
from typing import Any, Final, Literal, NamedTuple, TypeVar

import pandas as pd

from pipeline.gc_pause import gc_paused
from pipeline.image_fetch import url_scheme
from pipeline.image_kinds import image_kind, image_problem
from pipeline.modifier_types import IMAGE_MAX_BYTES
from pipeline.validate.issues import Issue, shown_value
from pipeline.workbook.cell_refs import column_letters, column_number
from pipeline.workbook.cells import BOOL_HINT, MAX_WHOLE, as_text, number_text
from pipeline.workbook.csv_files import csv_files, csv_name, parse_csv
from pipeline.workbook.guard import (
    ADDED_ROWS_FLOOR,
    PackageDamaged,
    PackageRefused,
    SheetLimits,
    SheetScan,
    check_package,
    check_parts,
    check_sheet,
    sheet_limits,
)
from pipeline.workbook.layout import (
    ANNOTATION_COLUMNS,
    ANNOTATION_FILES,
    ANNOTATION_SHEETS,
    META_SHEET,
    README_SHEET,
    SHEETS,
    ColumnKind,
    family_row,
    part_name,
    split_part_name,
)
from pipeline.workbook.meta import ExportMeta, meta_from_frame
from pipeline.workbook.package import xml_unescape
from pipeline.workbook.reader import Merged, XlsxSheets
from pipeline.workbook.tables import EXPORT_TABLES, RawTable, TableRead, TableSpec, header_text, read_table

# Reading stops after this many problems: a person fixes the first ones and validates again, and a
# file of junk costs no more than this (its sheets are not returned, so no product id is looked up).
MAX_ISSUES: Final = 1000
# A sheet whose XML unpacks to more than this is parsed and typed with no other sheet parsed beside
# it (python-calamine holds a parsed sheet's every cell: about twice its XML); smaller ones overlap.
ALONE_BYTES: Final = 16_000_000
# Read those sheets streamed from their XML (`stream_reader`) instead of parsed whole. Off for now: at
# 30k products it lowers the reading's own peak from 584 to 418 MiB, but the whole validate's peak is
# then set later (metadata parsing and the checks: 575 against 583 MiB), and the sheets streamed in
# this thread cost time the parse in calamine's worker did not (30k: 29.6 s against 17.6 s).
STREAM_ALONE = False

# Error values as Excel and LibreOffice show them (and write them into CSV files).
ERROR_VALUES: Final = frozenset({
    "#NULL!", "#DIV/0!", "#VALUE!", "#REF!", "#NAME?", "#NUM!", "#N/A", "#GETTING_DATA", "#SPILL!", "#CALC!",
    "#FIELD!", "#BLOCKED!", "#CONNECT!", "#BUSY!", "#UNKNOWN!", "#NAME!", "#NA",
    *(f"Err:{code}" for code in range(500, 540)),
})
_URL = re.compile(r"^[a-zA-Z][a-zA-Z0-9+.\-]*:(//|[^\\/])")
_WINDOWS_PATH = re.compile(r"^(?:[a-zA-Z]:[\\/]|\\\\)")
_WEB_ADDRESS = re.compile(r"^https?://[^/\s]+", re.I)
_SPACE = re.compile(r"\s")
_LOCALE_DATE = re.compile(r"^\d{1,4}[./\-]\d{1,2}[./\-]\d{1,4}(?:[ T].*)?$")
_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}(?:T\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:?\d{2})?)?$")
_EXCEL_EPOCH: Final = dt.date(1899, 12, 30)
SHOWN_NAMES: Final = 8

Format = Literal["xlsx", "csv"]
_T = TypeVar("_T")


@dataclass
class ReadResult:
    """What could be read, and every problem found while reading.

    `sheets`: every data sheet of the layout (an empty frame when it could not be read), typed and
    indexed by Excel row as `read_sheets` gives them. `meta`: the export's metadata, None when it is
    missing or unreadable. `files`: the file name issues about each sheet carry (the workbook, or
    that sheet's CSV file). `folder`: where image paths are looked up.
    """

    sheets: dict[str, pd.DataFrame]
    meta: ExportMeta | None
    issues: list[Issue]
    file: str  # the name of what was read, as issues about the whole file carry it
    format: Format | None = None
    files: dict[str, str] = field(default_factory=dict)
    folder: Path | None = None


@gc_paused()
def read_for_validation(path: Path, *, expected_store_hash: str | None) -> ReadResult:
    """Read a workbook, a folder of CSV files or a zip of them, without raising for bad input.

    `expected_store_hash`: the store the file is meant for; a file exported from another store is
    an issue. None skips that check.
    """
    path = Path(path)
    reader = _Reader(path)
    try:
        reader.read()
    except _Refused:
        pass
    result = reader.result()
    if result.meta is not None and expected_store_hash is not None and result.meta.store_hash != expected_store_hash:
        meta_file = result.files.get(META_SHEET, result.file)
        result.issues.append(Issue(
            meta_file, META_SHEET, None, "store_hash", result.meta.store_hash,
            f"this file was exported from store {result.meta.store_hash!r}, but bcmod is connected to store "
            f"{expected_store_hash!r}: export from {expected_store_hash!r} and make the changes in that file"))
    if reader.folder is not None:
        for spec in SHEETS:
            if spec.kind == "values":
                result.issues += image_issues(result.sheets[spec.name], spec.name, result.files.get(spec.name, ""),
                                              reader.folder)
    return result


_DAMAGED: Final = ("the workbook is damaged and cannot be read ({reason}); export again, or open it in Excel and "
                   "save a new copy")


class _Refused(Exception):
    """The file cannot be read at all; the issue saying why is already recorded."""


@dataclass
class _Typed:
    """One table typed (its raw cells are gone): its rows, the issues found while typing it, and
    those of its formula and error cells (counted against `MAX_ISSUES` only at the end)."""

    read: TableRead
    issues: list[Issue]
    flag_issues: list[Issue] = field(default_factory=list)


_TABLE_SPECS: Final = {spec.name: spec for spec in EXPORT_TABLES}


def _table_spec(name: str) -> TableSpec:
    """The spec of a table, or of a continuation sheet ("Choice values (2)": its family's columns, its own name)."""
    if name in _TABLE_SPECS:
        return _TABLE_SPECS[name]
    family, _ = split_part_name(name) or (name, 1)
    return replace(_TABLE_SPECS[family], name=name)


def _continues(name: str, found: dict[str, str]) -> bool:
    """`name` is a continuation sheet ("Choice values (2)") of a table found under its own name."""
    split = split_part_name(name)
    return split is not None and split[1] > 1 and found.get(split[0]) == split[0]


class _Reader:
    """One read: collects issues and types the tables. An xlsx sheet is typed chunk by chunk as it is
    read, its raw cells dropped as soon as they are typed; CSV files are typed at the end."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.label = path.name or str(path)
        self.issues: list[Issue] = []
        self.raw: dict[str, RawTable] = {}
        self.files: dict[str, str] = {}
        self.format: Format | None = None
        self.folder: Path | None = None
        self.typed: dict[str, _Typed] = {}
        self.stopped = False  # reading stopped at MAX_ISSUES

    # -- whole-file problems ------------------------------------------------------------------------

    def refuse(self, message: str) -> _Refused:
        self.issues.append(Issue(self.label, None, None, None, None, message))
        return _Refused()

    def read(self) -> None:
        path = self.path
        if path.is_dir():
            self.format, self.folder = "csv", path
            self.read_csv()
            return
        if not path.exists():
            raise self.refuse("no such file or folder")
        if not path.is_file():
            raise self.refuse("this is not a file or a folder bcmod can read")
        try:
            with path.open("rb") as handle:
                head = handle.read(8)
        except OSError as exc:
            raise self.refuse(f"the file cannot be opened: {exc.strerror or exc}") from None
        if not head:
            raise self.refuse("the file is empty (0 bytes): it is not a workbook")
        if not head.startswith((b"PK\x03\x04", b"PK\x05\x06")):
            raise self.refuse(_not_a_workbook(head, path.suffix.lower()))
        try:
            archive = zipfile.ZipFile(path)
        except (zipfile.BadZipFile, OSError, ValueError):
            raise self.refuse("the file is damaged: it looks like a workbook (a zip archive) but cannot be "
                              "opened; export again, or open it in Excel and save a new copy") from None
        with archive:
            infos = archive.infolist()
        names = {info.filename for info in infos}
        self.folder = path.parent
        if "xl/workbook.xml" in names:
            self.format = "xlsx"
            self.read_xlsx()
        elif any(name.lower().endswith(".csv") for name in names):
            self.format = "csv"
            # a damaged CSV file is reported on its own when it is read; the others are still read
            self.check(lambda: check_parts(path, skip_damaged=True))
            self.read_csv()
        elif "content.xml" in names and "mimetype" in names:
            raise self.refuse("this is an OpenDocument file (.ods), not an xlsx workbook: in LibreOffice choose "
                              "File > Save As and the 'Excel 2007-365 (.xlsx)' format")
        else:
            raise self.refuse("this zip file holds neither an xlsx workbook nor the CSV files of a bcmod export")

    def check(self, step: Callable[[], _T]) -> _T:
        """Run one step of the guard; a refusal becomes the file's issue (naming the cell, if one)."""
        try:
            return step()
        except PackageRefused as exc:
            raise self.refused(exc) from None
        except (zipfile.BadZipFile, OSError, EOFError, zlib.error) as exc:
            raise self.refuse(_DAMAGED.format(reason=_reason(exc))) from None

    def refused(self, exc: PackageRefused, table: str | None = None) -> _Refused:
        """The file is not read: the guard's reason, at the cell it names; nothing read is kept."""
        self.raw.clear()
        self.files.clear()
        self.typed.clear()
        column = f"column {column_letters(exc.column)}" if exc.column and exc.column <= 16_384 else None
        message = _DAMAGED.format(reason=exc.message) if isinstance(exc, PackageDamaged) else exc.message
        self.issues.append(Issue(self.label, table or exc.sheet, exc.row, column, exc.cell, message))
        return _Refused()

    # -- xlsx ---------------------------------------------------------------------------------------

    def read_xlsx(self) -> None:
        actual: dict[str, str] = {}

        def wanted(names: list[str]) -> list[str]:
            actual.update(self.match_names(names, "sheet"))
            actual.update({name: name for name in names if _continues(name, actual)})
            return list(actual.values())

        parts = self.check(lambda: check_package(self.path, wanted))
        sizes = self.check(lambda: _part_sizes(self.path, parts))
        table_of = {found: expected for expected, found in actual.items()}
        # the metadata first (it gives the data sheets their row limit; it is the biggest sheet of an
        # export anyway), then biggest first, so that the sheet typed last, when nothing is left to
        # parse, is a small one
        order = sorted(table_of, key=lambda found: (table_of[found] != META_SHEET, -sizes.get(found, 0)))
        # The guard's scan of each sheet (which also finds formulas and error cells) runs ahead of
        # python-calamine in its own thread, and each sheet is typed as soon as it is read, while the
        # next one is parsed (see `XlsxSheets`).
        flags = {found: _Flags() for found in order}
        with ThreadPoolExecutor(1, "sheet-scan") as pool, ExitStack() as stack:
            scans: dict[str, Future[SheetScan]] = {}
            meta: Future[SheetScan] | None = None
            for found in order:
                scans[found] = pool.submit(self.scan, found, parts[found], flags[found], meta)
                meta = meta or (scans[found] if table_of[found] == META_SHEET else None)
            stack.callback(lambda: [scan.cancel() for scan in scans.values()])
            try:
                # the metadata (a row per data row) and big sheets are typed with no sheet parsed beside
                # them: two big parsed sheets and a chunk's Python objects at once set the peak
                alone = [found for found in order if table_of[found] == META_SHEET or sizes.get(found, 0) > ALONE_BYTES]
                # or read row by row from their XML (STREAM_ALONE), never parsed whole (see `XlsxSheets`)
                sheets = stack.enter_context(XlsxSheets(
                    self.path, order, guard=lambda found: scans[found].result(),
                    **({"stream": alone} if STREAM_ALONE else {"alone": alone}))).chunked()
            except PackageRefused as exc:
                raise self.refused(exc, table_of.get(exc.sheet or "")) from None
            except Exception as exc:  # noqa: BLE001 - python-calamine raises its own errors for damaged files
                raise self.damaged(exc) from None
            while (item := self.next_sheet(sheets, table_of)) is not None:
                found, chunks, merged = item
                expected = table_of[found]
                self.files[expected] = self.label
                # the sheet's scan (and so its formula and error cells) finished before it was parsed
                self.typed[expected] = self.type_table(_table_spec(expected), self.undamaged(chunks), merged,
                                                       flags[found].sorted())
                if self.issue_count() > MAX_ISSUES:
                    raise self.too_many()
            unread = [found for expected, found in actual.items() if expected not in self.typed]
            if unread:
                raise self.damaged(ValueError(f"sheet {unread[0]!r} cannot be found"))

    def scan(self, found: str, part: str, flags: _Flags, meta: Future[SheetScan] | None) -> SheetScan:
        """Check one sheet before it is parsed. A data sheet's row limit comes from the scan of the
        metadata (`meta`, None for the metadata itself or when it is missing: 0 rows exported)."""
        is_meta = found.casefold() == META_SHEET.casefold()
        exported = None if is_meta else max(meta.result().last_row - 1, 0) if meta is not None else 0
        return check_sheet(self.path, part, sheet_limits(found, exported), sheet=found, on_block=flags)

    def next_sheet(self, sheets: Iterator[tuple[str, Iterator[RawTable], Merged]],
                   table_of: dict[str, str]) -> tuple[str, Iterator[RawTable], Merged] | None:
        try:
            return next(sheets, None)
        except PackageRefused as exc:
            raise self.refused(exc, table_of.get(exc.sheet or "")) from None
        except Exception as exc:  # noqa: BLE001 - python-calamine raises its own errors for damaged files
            raise self.damaged(exc) from None

    def undamaged(self, chunks: Iterator[RawTable]) -> Iterator[RawTable]:
        """A sheet's chunks; python-calamine failing to give one refuses the workbook as damaged."""
        try:
            yield from chunks
        except Exception as exc:  # noqa: BLE001 - python-calamine raises its own errors for damaged files
            raise self.damaged(exc) from None

    def issue_count(self) -> int:
        return len(self.issues) + sum(len(typed.issues) for typed in self.typed.values())

    def too_many(self) -> _Refused:
        """Stop reading: the first `MAX_ISSUES` problems and a last one saying so; no sheet is kept,
        so nothing more is checked and no product id is looked up in the store."""
        found = self.issues + [issue for typed in self.typed.values() for issue in typed.issues]
        self.issues = found[:MAX_ISSUES]
        self.stopped = True
        self.raw.clear()
        self.files.clear()
        self.typed.clear()
        self.issues.append(Issue(self.label, None, None, None, None,
                                 f"bcmod stopped after {MAX_ISSUES:,} problems, so the rest of the file was not "
                                 "checked: fix these (or start again from a fresh export) and validate again"))
        return _Refused()

    def damaged(self, exc: BaseException) -> _Refused:
        """Refuse a workbook python-calamine or the scan cannot read; nothing of it is kept."""
        self.raw.clear()
        self.files.clear()
        self.typed.clear()
        return self.refuse(_DAMAGED.format(reason=_reason(exc)))

    def match_names(self, names: Sequence[str], what: Literal["sheet", "file"]) -> dict[str, str]:
        """Expected table -> the sheet or file name that holds it; issues for missing and unknown ones."""
        expected = {(spec.name if what == "sheet" else csv_name(spec.name)): spec.name for spec in EXPORT_TABLES}
        ours = {README_SHEET, *ANNOTATION_SHEETS} if what == "sheet" else set(ANNOTATION_FILES)
        found: dict[str, str] = {}
        by_folded = {name.casefold(): name for name in names}
        for shown, table in expected.items():
            if shown in names:
                found[table] = shown
            elif shown.casefold() in by_folded:
                found[table] = by_folded[shown.casefold()]
        unknown = [n for n in names if n not in found.values() and n not in ours
                   and n.casefold() not in {o.casefold() for o in ours}
                   and not (what == "sheet" and _continues(n, found))]
        for shown, table in expected.items():
            if table in found:
                continue
            guess = _closest(shown, unknown)
            if table == META_SHEET:
                kind = "hidden sheet" if what == "sheet" else "file"
                reason = ("it records which store and rows the file came from, so bcmod cannot check your changes "
                          "without it; export again and copy your changes into the new file")
            else:
                kind, reason = what, (f"every {what} of the export must be there, even when it has no rows "
                                      "(restore it from the original export)")
            message = f"the {kind} {shown!r} is missing" + (
                f"; {what} {guess!r} looks like it was renamed: rename it back to {shown!r}" if guess else f": {reason}")
            if guess:
                unknown.remove(guess)
            self.issues.append(Issue(self.label if what == "sheet" else self.csv_label(shown), table, None, None,
                                     guess, message))
        for name in unknown:
            self.issues.append(Issue(self.label if what == "sheet" else self.csv_label(name),
                                     name if what == "sheet" else None,
                                     None, None, None,
                                     f"{what} {name!r} is not part of a bcmod export: bcmod cannot load it; "
                                     f"delete it or keep your notes in another file"))
        return found

    # -- CSV ----------------------------------------------------------------------------------------

    def csv_label(self, name: str) -> str:
        """How issues name one CSV file: its name in a folder, `export.zip/name` in a zip."""
        return name if self.path.is_dir() else f"{self.label}/{name}"

    def read_csv(self) -> None:
        try:
            files = csv_files(self.path)
        except (zipfile.BadZipFile, OSError, ValueError) as exc:
            raise self.refuse(f"the CSV files cannot be listed ({_reason(exc)})") from None
        by_name = {file.name: file for file in reversed(files)}
        if not by_name:
            raise self.refuse("this folder holds no CSV files: give the .xlsx workbook, or the folder or zip "
                              "that holds the CSV files of the export")
        actual = self.match_names(list(dict.fromkeys(file.name for file in files)), "file")
        exported = 0  # the metadata's rows, read first: the data files' row limit comes from it
        for table, name in sorted(actual.items(), key=lambda item: item[0] != META_SHEET):
            file = by_name[name]
            label = self.csv_label(name)
            self.files[table] = label
            try:
                data = file.read()
            except (zipfile.BadZipFile, OSError, ValueError, EOFError, zlib.error) as exc:
                self.issues.append(Issue(label, table, None, None, None,
                                         f"the file is damaged and cannot be read ({_reason(exc)})"))
                continue
            limits = sheet_limits(table, None if table == META_SHEET else exported)
            if (past := _csv_past_limits(data, limits)) is not None:
                row, column, message = past
                self.raw.clear()
                self.files.clear()
                self.issues.append(Issue(label, table, row, f"column {column_letters(column)}" if column else None,
                                         f"{column_letters(column)}{row}" if column else None, message))
                raise _Refused()
            raw, problems = parse_csv(data, label)
            del data
            for problem in problems:
                self.issues.append(Issue(label, table, problem.row, None, problem.value, problem.message))
            if raw is not None:
                self.raw[table] = raw
                if table == META_SHEET:
                    exported = len(raw.columns[0]) if raw.columns else 0

    # -- typing the tables --------------------------------------------------------------------------

    def type_table(self, spec: TableSpec, chunks: Iterable[RawTable], merged: Merged = (),
                   flags: Sequence[_XmlFlag] = ()) -> _Typed:
        """One table typed chunk by chunk: each chunk's raw cells are dropped once typed, keeping
        only what issues need (the cells of headerless columns' first data, of formula cells).
        The issues come in the order one read of the whole table gives them."""
        file = self.files.get(spec.name, self.label)
        reads: list[TableRead] = []
        date_issues: list[Issue] = []
        raw_issues: list[tuple[int, int, Issue]] = []
        filled: dict[int, _Filled] = {}
        flag_values: dict[tuple[int, int], Any] = {}
        header: Sequence[Any] = ()
        for raw in chunks:
            header = raw.header
            raw, dates = _dates_as_text(raw, spec, file)
            read = read_table(raw, spec)
            date_issues += dates
            raw_issues += _raw_cell_issues(raw, read, spec, file)
            _note_filled(raw, read, filled)
            flag_values.update(_flag_values(flags, raw))
            reads.append(read)
            del raw, read  # before the next chunk is made
        read = _joined(reads, spec)
        del reads
        head = RawTable(spec.name, header, ())
        issues = _table_issues(head, read, spec, file, filled)
        issues += date_issues
        issues += _bad_cell_issues(read, spec, file)
        issues += [issue for *_, issue in sorted(raw_issues, key=lambda item: item[:2])]
        issues += _merged_issues(merged, head, read, spec, file)
        return _Typed(read, issues, _flag_issues(flags, head, read, spec, file, flag_values))

    def result(self) -> ReadResult:
        sheets: dict[str, pd.DataFrame] = {}
        meta: ExportMeta | None = None
        for spec in EXPORT_TABLES:
            if spec.name not in self.typed and spec.name not in self.raw:
                sheets[spec.name] = read_table(RawTable(spec.name, spec.column_names, ()), spec).frame
                continue
            file = self.files.get(spec.name, self.label)
            frames = []
            for part in itertools.count(1):  # the sheet, then its continuation sheets (xlsx only)
                name = part_name(spec.name, part)
                if part > 1 and name not in self.typed and name not in self.raw:
                    break
                typed = self.typed.pop(name, None) or self.type_table(_table_spec(name), [self.raw.pop(name)])
                read = typed.read
                self.issues += typed.issues
                self.issues += typed.flag_issues
                frames.append(read.frame if part == 1 else read.frame.set_axis(read.frame.index + family_row(part, 0)))
            sheets[spec.name] = frames[0] if len(frames) == 1 else pd.concat(frames)
            if spec.name == META_SHEET:
                meta = self.meta(replace(read, frame=sheets[spec.name]), file)
        sheets.pop(META_SHEET)
        if len(self.issues) > MAX_ISSUES and not self.stopped:  # formulas and error cells come last
            self.too_many()  # every typed table's issues are in self.issues now
            sheets = {name: frame.iloc[:0] for name, frame in sheets.items()}
            meta = None
        return ReadResult(sheets, meta, self.issues, self.label, self.format, self.files, self.folder)

    def meta(self, read: TableRead, file: str) -> ExportMeta | None:
        """The export's metadata; an issue when it was edited beyond reading."""
        where = f"hidden sheet {META_SHEET!r}" if self.format == "xlsx" else f"file {csv_name(META_SHEET)!r}"
        reason = "its columns were changed"
        if not read.missing and not read.duplicated:
            try:
                return meta_from_frame(read.frame, file)
            except ValueError as exc:
                reason = str(exc).removeprefix(f"{file}: ")
        self.issues.append(Issue(file, META_SHEET, None, None, None, f"the {where} is damaged ({reason}): it must not "
                                 "be edited; export again and copy your changes into the new file"))
        return None


# --- the file as a whole --------------------------------------------------------------------------------


def _not_a_workbook(head: bytes, suffix: str) -> str:
    if head.startswith(b"%PDF"):
        kind = "a PDF document"
    elif head.startswith(b"\xd0\xcf\x11\xe0"):
        return ("this is an old Excel 97-2003 (.xls) file, a password-protected workbook or another Office "
                "document, not an .xlsx workbook: open it in Excel, remove any password and save it as "
                "'Excel Workbook (.xlsx)'")
    elif head.startswith((b"Rar!", b"7z\xbc\xaf", b"\x1f\x8b")):
        kind = "a compressed archive other than zip"
    elif head.startswith((b"\x89PNG", b"\xff\xd8\xff", b"GIF8")):
        kind = "an image"
    elif suffix == ".csv":
        return ("this is a single CSV file: give the folder (or the zip) that holds all the CSV files of the "
                "export, so every sheet and the export's metadata are read together")
    elif _looks_like_text(head):
        kind = "a text file"
    else:
        kind = "a file whose content bcmod does not recognise"
    return (f"this is {kind}, not an xlsx workbook: give the .xlsx file bcmod exported (or the folder or zip of "
            "its CSV files)")


def _looks_like_text(head: bytes) -> bool:
    try:
        head.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return all(b >= 0x20 or b in b"\t\r\n" for b in head)


def _reason(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    return text if len(text) <= 160 else text[:157] + "..."


def _closest(name: str, candidates: Iterable[str]) -> str | None:
    candidates = list(candidates)
    folded = {re.sub(r"[\W_]+", "", c).casefold(): c for c in candidates}
    key = re.sub(r"[\W_]+", "", name).casefold()
    if key in folded:
        return folded[key]
    matches = difflib.get_close_matches(name.casefold(), [c.casefold() for c in candidates], n=1, cutoff=0.6)
    if not matches:
        return None
    return next(c for c in candidates if c.casefold() == matches[0])


# --- workbook parts: sizes, formulas and error cells ------------------------------------------------------

def _part_sizes(path: Path, parts: dict[str, str]) -> dict[str, int]:
    """Sheet name -> the declared unpacked size of its part (0 when the part is missing): for the
    order sheets are read in, never to judge the file by."""
    with zipfile.ZipFile(path) as archive:
        return {name: info.file_size if (info := archive.NameToInfo.get(part)) else 0 for name, part in parts.items()}


@dataclass(frozen=True)
class _XmlFlag:
    row: int  # 1-based
    column: int  # 0-based
    ref: str
    formula: str | None  # the formula text; "" for a shared formula that only refers to another cell
    error: str | None


# `<f>A1*2</f>`, `<f t="shared" ref="A2:A9" si="0">A1*2</f>`, `<f t="shared" si="0"/>` (prefixed or not);
# formula text is XML-escaped, so it holds no "<".
_FORMULA = re.compile(rb"<(?:\w+:)?f(?:\s[^>]*?)?(?:/>|>([^<]*)</(?:\w+:)?f>)")
_CONSTANT_FORMULA = re.compile(rb"^\s*(?:TRUE|FALSE)(?:\(\))?\s*$", re.I)
_ERROR_CELL = re.compile(rb"<(?:\w+:)?c\s[^>]*?\bt=\"e\"[^>]*>")
_CELL_START = re.compile(rb"<(?:\w+:)?c\s[^>]*>")
_REF = re.compile(rb"\br=\"([A-Z]+)(\d+)\"")
_VALUE = re.compile(rb"<(?:\w+:)?v>(.*?)</(?:\w+:)?v>", re.S)


class _Flags:
    """Cells holding a formula or an error in one sheet, found block by block as the guard streams
    the sheet's XML (`BlockCallback`).

    python-calamine gives a formula's last result and an error cell as blank, so neither would be
    noticed otherwise. A clean block costs two searches.
    """

    def __init__(self) -> None:
        self.found: dict[tuple[int, int], _XmlFlag] = {}

    def __call__(self, data: bytes, start: int, end: int, prefix: bytes) -> None:
        flags = self.found
        if data.find(b"<" + prefix + b"f", start, end) >= 0:
            for match in _FORMULA.finditer(data, start, end):
                if match.group(1) is not None and _CONSTANT_FORMULA.match(match.group(1)):
                    continue  # how LibreOffice stores every TRUE and FALSE
                cell = _enclosing_cell(data, match.start())
                if cell is not None:
                    formula = match.group(1).decode("utf-8", "replace") if match.group(1) is not None else ""
                    flags[cell[:2]] = _XmlFlag(*cell, formula=xml_unescape(formula), error=None)
        if data.find(b't="e"', start, end) >= 0:
            for match in _ERROR_CELL.finditer(data, start, end):
                ref = _REF.search(match.group(0))
                if ref is None:
                    continue
                cell = _cell_at(ref)
                value = _VALUE.search(data, match.end(), match.end() + 400)
                error = value.group(1).decode("utf-8", "replace") if value else "#N/A"
                previous = flags.get(cell[:2])
                flags[cell[:2]] = _XmlFlag(*cell, formula=previous.formula if previous else None, error=error)

    def sorted(self) -> list[_XmlFlag]:
        return sorted(self.found.values(), key=lambda f: (f.row, f.column))


def _xml_flags(path: Path, names: Sequence[str], wanted: set[str]) -> dict[str, list[_XmlFlag]]:
    """Formula and error cells per wanted sheet of the workbook at `path` (the guard checks it too)."""
    parts = check_package(path, lambda found: [name for name in names if name in wanted])
    out: dict[str, list[_XmlFlag]] = {}
    for name in names:
        if name in wanted and name in parts:
            flags = _Flags()
            check_sheet(path, parts[name], sheet_limits(name), sheet=name, on_block=flags)
            out[name] = flags.sorted()
    return out


def _csv_past_limits(data: bytes, limits: SheetLimits) -> tuple[int, int | None, str] | None:
    """(row, column or None, message) for the first row of a CSV file past `limits.rows`, or the first
    with more cells than `limits.columns`; None when it fits. Costs one pass of the csv module,
    keeping nothing: the file is parsed for real only once it fits."""
    text = data.decode("utf-8-sig", errors="replace")
    first_line = text[:text.find("\n")] if "\n" in text else text
    delimiter = "," if "," in first_line else next((d for d in ";\t|" if d in first_line), ",")
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    try:
        for row, cells in enumerate(itertools.islice(reader, limits.rows + 1), start=1):
            if len(cells) > limits.columns:
                column = limits.columns + 1
                return row, column, (f"row {row:,} has {len(cells):,} cells, far more than this file's columns: "
                                     "delete the cells right of your data (a stray value far from the data makes "
                                     "the file enormous), save, and validate again")
            if row > limits.rows:
                exported = f"the export had {limits.exported_rows:,} rows" if limits.exported_rows is not None \
                    else "the export's own row count is unknown"
                return row, None, (f"row {row:,} is past row {limits.rows:,}, the last bcmod reads in this file "
                                   f"({exported}; as many again, and at least {ADDED_ROWS_FLOOR:,}, may be added): "
                                   "delete the rows below your data, or export the products you are adding rows "
                                   "for and edit that export")
    except csv.Error:
        return None  # parse_csv reports it
    return None


def _enclosing_cell(data: bytes, position: int) -> tuple[int, int, str] | None:
    """The cell whose element holds `position`: the last `<c ` (or `<x:c `) tag before it."""
    plain, prefixed = data.rfind(b"<c ", 0, position), data.rfind(b":c ", 0, position)
    start = plain if plain >= prefixed else data.rfind(b"<", 0, prefixed)
    if start < 0:
        return None
    tag = _CELL_START.match(data, start)
    if tag is None:
        return None
    ref = _REF.search(tag.group(0))
    return _cell_at(ref) if ref else None


def _cell_at(ref: re.Match[bytes]) -> tuple[int, int, str]:
    letters, digits = ref.group(1).decode(), ref.group(2).decode()
    return int(digits), column_number(letters) - 1, letters + digits


# --- one table ---------------------------------------------------------------------------------------


def _column_name(raw: RawTable, read: TableRead, position: int) -> str:
    """The layout name of the column at `position`, or its header text."""
    for name, found in read.positions.items():
        if found == position:
            return name
    header = header_text(raw.header[position]) if position < len(raw.header) else ""
    return header or f"column {column_letters(position + 1)}"


class _Filled(NamedTuple):
    """The data cells of one column without a header: the first one's row and cell, and how many."""

    row: int
    cell: Any
    count: int


def _note_filled(raw: RawTable, read: TableRead, filled: dict[int, _Filled]) -> None:
    """Add one chunk's data cells of the columns without a header to `filled` (by position)."""
    for position, text in read.unknown:
        if text or position >= len(raw.columns):
            continue
        cells = raw.columns[position]
        rows = [r for r, cell in enumerate(cells) if cell is not None and cell != ""]
        if rows:
            before = filled.get(position)
            filled[position] = _Filled(before.row, before.cell, before.count + len(rows)) if before else \
                _Filled(rows[0] + raw.first_row, cells[rows[0]], len(rows))


def _joined(reads: Sequence[TableRead], spec: TableSpec) -> TableRead:
    """The chunks of one table read as one: as `read_table` of the whole table gives it."""
    if len(reads) == 1:
        return reads[0]
    first = reads[0]
    frames = [read.frame for read in reads if len(read.frame)] or [first.frame]
    order = {name: position for position, name in enumerate(spec.column_names)}
    # column by column, then by row (a stable sort of chunks in row order), as one read lists them
    bad = sorted((cell for read in reads for cell in read.bad_cells), key=lambda cell: order.get(cell.column, 0))
    # a streamed sheet's chunks are each as wide as their own rows: the columns without a header of any
    unknown = sorted({item for read in reads for item in read.unknown})
    return TableRead(pd.concat(frames) if len(frames) > 1 else frames[0], first.positions, first.missing,
                     first.duplicated, unknown, bad, [row for read in reads for row in read.blank_rows])


def _table_issues(raw: RawTable, read: TableRead, spec: TableSpec, file: str,
                  filled: Mapping[int, _Filled]) -> list[Issue]:
    """Missing, renamed, duplicated and unknown columns, and blank rows between data rows
    (`raw`: the header; `filled`: the data of columns without a header, see `_note_filled`)."""
    issues: list[Issue] = []
    sheet = spec.name
    if not any(header_text(h) for h in raw.header):
        return [Issue(file, sheet, 1, None, None, "the header row is missing: row 1 must hold the column names "
                      "of the export")]
    unknown = [(p, text) for p, text in read.unknown if text.casefold() not in ANNOTATION_COLUMNS]
    headerless = [(p, text) for p, text in unknown if not text]
    named = [(p, text) for p, text in unknown if text]
    for name in read.missing:
        guess = _closest(name, [text for _, text in named])
        if guess is not None:
            named = [(p, t) for p, t in named if t != guess]
            issues.append(Issue(file, sheet, 1, name, guess, f"column {name!r} is missing; the column headed "
                                f"{guess!r} looks like it was renamed: rename it back to {name!r}"))
        else:
            issues.append(Issue(file, sheet, 1, name, None, f"column {name!r} is missing: restore it from the "
                                "original export (columns may be in any order, but each must be there once)"))
    for name, positions in read.duplicated.items():
        letters = ", ".join(column_letters(p + 1) for p in positions)
        issues.append(Issue(file, sheet, 1, name, None, f"column {name!r} appears {len(positions)} times "
                            f"(columns {letters}): keep one and delete the others"))
    for position, text in named:
        letter = column_letters(position + 1)
        home = _home_of(text, spec)
        because = (f"it belongs to {home[1]} on sheet {home[0]!r}, not to this sheet's types ({', '.join(home[2])})"
                   if home else "it is not part of this sheet")
        issues.append(Issue(file, sheet, 1, text, text, f"column {text!r} (column {letter}): {because}, so bcmod "
                            "cannot load it; delete the column"))
    for position, _ in headerless:
        if (data := filled.get(position)) is not None:
            letter = column_letters(position + 1)
            issues.append(Issue(file, sheet, data.row, f"column {letter}", shown_value(as_text(data.cell)),
                                f"column {letter} has no header but holds data ({data.count} cells): delete it, "
                                "or move the data into the column it belongs to"))
    if read.blank_rows and len(read.frame):
        last = int(read.frame.index.max())
        inside = [r for r in read.blank_rows if r < last]
        for first, end in _runs(inside):
            rows = f"row {first} is" if first == end else f"rows {first}-{end} are"
            issues.append(Issue(file, sheet, first, None, None, f"{rows} blank, with data rows below: delete the "
                                "blank rows (a blank row in the middle often means rows were cut or moved)"))
    return issues


def _home_of(column: str, spec: TableSpec) -> tuple[str, str, tuple[str, ...]] | None:
    """(sheet, types, this sheet's types) when `column` is a column of another data sheet."""
    here = next((s for s in SHEETS if s.name == spec.name), None)
    if here is None:
        return None
    for other in SHEETS:
        if other.kind == here.kind and column in other.column_names and other.name != here.name:
            return other.name, ", ".join(other.types), here.types
    return None


def _runs(rows: Sequence[int]) -> list[tuple[int, int]]:
    runs: list[tuple[int, int]] = []
    for row in rows:
        if runs and row == runs[-1][1] + 1:
            runs[-1] = (runs[-1][0], row)
        else:
            runs.append((row, row))
    return runs


_KIND_HINTS: Final[dict[str, str]] = {
    "id": "is not an id: ids are whole numbers such as 123 (leave it blank on a new row)",
    "int": "is not a whole number",
    "number": "is not a number: use a dot for decimals and no thousands separators, such as 1234.5",
    "bool": f"is not TRUE or FALSE: {BOOL_HINT}",
}


def _bad_cell_issues(read: TableRead, spec: TableSpec, file: str) -> list[Issue]:
    """Cells that cannot be read as their kind."""
    issues: list[Issue] = []
    kinds = {c.name: c.kind for c in spec.columns}
    for bad in read.bad_cells:
        kind = kinds[bad.column]
        text = _shown(bad.value)
        if kind in ("id", "int") and _is_fraction(bad.value):
            message = f"{text} is not a whole number" + (": ids have no decimals" if kind == "id" else "")
        elif kind in ("id", "int") and _is_too_large(bad.value):
            message = (f"{text} is too large to be {'an id' if kind == 'id' else 'a whole number here'}: "
                       "type the number in full (a spreadsheet keeps only 15 digits)")
        else:
            message = f"{text} {_KIND_HINTS.get(kind, 'cannot be read')}"
        issues.append(Issue(file, spec.name, bad.row, bad.column, shown_value(as_text(bad.value)), message))
    return issues


def _raw_cell_issues(raw: RawTable, read: TableRead, spec: TableSpec, file: str) -> list[tuple[int, int, Issue]]:
    """Ids in scientific notation and (CSV) error values of one chunk, each as (the column's place
    among those found, 0 for an id or 1 for an error, issue): sorted, the chunks' issues come in
    the order of one pass over the whole table."""
    issues: list[tuple[int, int, Issue]] = []
    kinds = {c.name: c.kind for c in spec.columns}
    first = raw.first_row
    for place, (name, position) in enumerate(read.positions.items()):
        cells = raw.columns[position] if position < len(raw.columns) else ()
        if kinds[name] == "id":
            for row, cell in enumerate(cells):
                if cell.__class__ is str and ("E" in cell or "e" in cell) and _is_number(cell):
                    issues.append((place, 0, Issue(
                        file, spec.name, row + first, name, cell.strip(),
                        f"the id {cell.strip()} is in scientific notation, so its last digits may have been lost: "
                        "type the full id (format the column as Text or Number with no decimals first)")))
        # a workbook marks error cells itself (found in its XML); a CSV file only has their text
        if raw.from_csv and ERROR_VALUES.intersection(cells):
            for row, cell in enumerate(cells):
                if cell.__class__ is str and cell in ERROR_VALUES:
                    issues.append((place, 1, Issue(file, spec.name, row + first, name, cell,
                                                   _error_message(cell, None))))
    return issues


def _shown(value: Any) -> str:
    return repr(value) if isinstance(value, str) else as_text(value)


def _is_number(text: str) -> bool:
    try:
        return math.isfinite(float(number_text(text)))
    except ValueError:
        return False


def _number(value: Any) -> float | None:
    """A cell as the number it reads as (text as typed, spaces and a leading apostrophe aside), or None."""
    if isinstance(value, bool):
        return None
    try:
        return float(number_text(value)) if isinstance(value, str) else float(value)
    except (TypeError, ValueError):
        return None


def _is_too_large(value: Any) -> bool:
    number = _number(value)
    return number is not None and math.isfinite(number) and abs(number) > MAX_WHOLE


def _is_fraction(value: Any) -> bool:
    number = _number(value)
    return number is not None and math.isfinite(number) and not number.is_integer()


def _error_message(error: str, formula: str | None) -> str:
    where = f"the formula ={formula} gives" if formula else "the cell shows"
    return (f"{where} the spreadsheet error {error} instead of a value: type the value itself "
            "(an error usually means a referenced cell or row was deleted)")


def _merged_issues(ranges: Iterable[tuple[tuple[int, int], tuple[int, int]]], raw: RawTable, read: TableRead,
                   spec: TableSpec, file: str) -> list[Issue]:
    issues: list[Issue] = []
    for (top, left), (bottom, right) in ranges:
        ref = f"{column_letters(left + 1)}{top + 1}:{column_letters(right + 1)}{bottom + 1}"
        issues.append(Issue(file, spec.name, top + 1, _column_name(raw, read, left), ref,
                            f"cells {ref} are merged: unmerge them and fill in every cell (a merged cell keeps only "
                            "its first value, so the others would read as blank)"))
    return issues


def _flag_values(flags: Sequence[_XmlFlag], raw: RawTable) -> dict[tuple[int, int], Any]:
    """The cells of one chunk that `flags` (sorted by row) name: what a formula cell shows."""
    if not flags or not raw.columns:
        return {}
    first, end = raw.first_row, raw.first_row + max(len(cells) for cells in raw.columns)
    start = bisect.bisect_left(flags, first, key=lambda flag: flag.row)
    values: dict[tuple[int, int], Any] = {}
    for flag in itertools.takewhile(lambda flag: flag.row < end, flags[start:]):
        if flag.column < len(raw.columns) and flag.row - first < len(raw.columns[flag.column]):
            values[flag.row, flag.column] = raw.columns[flag.column][flag.row - first]
    return values


def _flag_issues(flags: Iterable[_XmlFlag], raw: RawTable, read: TableRead, spec: TableSpec,
                 file: str, values: Mapping[tuple[int, int], Any]) -> list[Issue]:
    """Formula and error cells (`raw`: the header; `values`: what the formula cells show)."""
    issues: list[Issue] = []
    for flag in flags:
        column = _column_name(raw, read, flag.column)
        if flag.error is not None:
            issues.append(Issue(file, spec.name, flag.row, column, flag.error,
                                _error_message(flag.error, flag.formula)))
            continue
        value = values.get((flag.row, flag.column))
        shown = f"the formula ={flag.formula}" if flag.formula else "a formula"
        showing = f" (showing {_shown(value)})" if value not in (None, "") else ""
        issues.append(Issue(file, spec.name, flag.row, column, f"={flag.formula}" if flag.formula else None,
                            f"cell {flag.ref} holds {shown}{showing}: bcmod does not evaluate formulas; type the "
                            "value itself (copy the cell, then Paste Special > Values)"))
    return issues


# --- dates -----------------------------------------------------------------------------------------------

DATE_FORMAT_HINT: Final = "write dates as YYYY-MM-DD, such as 2026-03-15 (or 2026-03-15T00:00:00+00:00)"


def _dates_as_text(raw: RawTable, spec: TableSpec, file: str) -> tuple[RawTable, list[Issue]]:
    """Date columns as ISO text: a real date cell is read as its date; a serial number, a locale
    format (03/15/2026) or a date-time without an offset is ambiguous and reported."""
    issues: list[Issue] = []
    positions = {c.name: p for p, c in _header_positions(raw, spec) if c.kind == "date"}
    if not positions:
        return raw, issues
    columns = list(raw.columns)
    for name, position in positions.items():
        if position >= len(columns):
            continue
        cells = list(columns[position])
        for row, cell in enumerate(cells):
            if cell is None or cell == "":
                continue
            text, message = _date_cell(cell)
            cells[row] = text if text is not None else cell
            if message:
                issues.append(Issue(file, spec.name, row + raw.first_row, name, shown_value(as_text(cell)), message))
        columns[position] = cells
    return replace(raw, columns=columns), issues


def _header_positions(raw: RawTable, spec: TableSpec) -> list[tuple[int, Any]]:
    by_name = {c.name.casefold(): c for c in spec.columns}
    out = []
    seen: set[str] = set()
    for position, cell in enumerate(raw.header):
        column = by_name.get(header_text(cell).casefold())
        if column is not None and column.name not in seen:
            seen.add(column.name)
            out.append((position, column))
    return out


def _date_cell(cell: Any) -> tuple[str | None, str | None]:
    """(text to read, problem) for one cell of a date column."""
    if isinstance(cell, dt.datetime):
        if cell.time() == dt.time(0) and cell.tzinfo is None:
            return cell.date().isoformat(), None
        return None, f"the date-time {cell.isoformat()} has no time zone: {DATE_FORMAT_HINT}"
    if isinstance(cell, dt.date):
        return cell.isoformat(), None
    if isinstance(cell, bool):
        return None, f"{as_text(cell)} is not a date: {DATE_FORMAT_HINT}"
    if isinstance(cell, (int, float)):
        return None, _serial_message(float(cell))
    text = str(cell).strip()
    if _ISO_DATE.match(text):
        return None, None
    if re.fullmatch(r"\d+(?:\.\d+)?", text):
        return None, _serial_message(float(text))
    if re.match(r"^\d{4}-\d{2}-\d{2}", text):
        return None, None  # ISO-like: the schema says what is wrong with it
    if _LOCALE_DATE.match(text):
        return None, (f"the date {text!r} is ambiguous (day and month order depend on the computer's settings): "
                      f"{DATE_FORMAT_HINT}")
    return None, None  # other text is the schema's to judge


def _serial_message(serial: float) -> str:
    meant = ""
    if 1 <= serial < 2_958_466:
        meant = f" (if you meant {(_EXCEL_EPOCH + dt.timedelta(days=int(serial))).isoformat()}, type that)"
    return (f"{as_text(serial)} looks like an Excel date serial number, which does not say which date it is "
            f"outside Excel{meant}: {DATE_FORMAT_HINT}, in a cell formatted as Text")


# --- image paths --------------------------------------------------------------------------------------


def image_issues(sheet: pd.DataFrame, sheet_name: str, file: str, folder: Path) -> list[Issue]:
    """`image_url` must be an http(s) URL or an image file inside `folder`; `pattern_image_url` a URL."""
    issues: list[Issue] = []
    root = folder.resolve()
    for column, files_allowed in (("image_url", True), ("pattern_image_url", False)):
        if column not in sheet.columns:
            continue
        problems: dict[str, str | None] = {}  # many rows share an image: each one is looked at once
        for row, value in sheet[column].dropna().items():
            text = str(value).strip()
            if text not in problems:
                problems[text] = _image_problem(text, root, files_allowed)
            if message := problems[text]:
                issues.append(Issue(file, sheet_name, int(row), column, str(value), message))
    return issues


def _image_problem(text: str, root: Path, files_allowed: bool) -> str | None:
    lowered = text.lower()
    if lowered.startswith(("http://", "https://")):
        return None if _WEB_ADDRESS.match(text) and not _SPACE.search(text) else \
            "the image link is not a complete web address: write it as https://example.com/image.png"
    if not files_allowed:
        return "the pattern image must be a web address starting with https:// (or http://)"
    if message := _other_scheme(text):
        return message
    if _WINDOWS_PATH.match(text):
        return ("the image path is a path on your computer: copy the image into the folder that holds this file "
                f"({root}) and write its name relative to that folder, such as images/red.png")
    if _URL.match(text) and not re.match(r"^[a-zA-Z]:", text):
        return ("the image must be a web address starting with https:// (or http://), or an image file in the "
                "folder that holds this file")
    relative = PurePosixPath(text.replace("\\", "/"))
    candidate = Path(relative) if relative.is_absolute() else root / relative
    try:
        resolved = candidate.resolve()
    except (OSError, RuntimeError):
        return "cannot be followed to a file"
    if not resolved.is_relative_to(root):
        return (f"the image path points outside the folder that holds this file ({root}): images must be inside "
                "that folder; copy the image there and write its name, such as images/red.png")
    try:
        if not resolved.is_file():
            return f"no such image file: looked for {resolved}"
        size = resolved.stat().st_size
        if size > IMAGE_MAX_BYTES:
            return (f"the image is {size:,} bytes ({size / 2**20:.1f} MB); BigCommerce takes images of at most "
                    f"8 MB ({IMAGE_MAX_BYTES:,} bytes): make it smaller")
        with resolved.open("rb") as handle:
            data = handle.read(IMAGE_MAX_BYTES + 1)
    except OSError as exc:
        return f"the image cannot be read ({exc.strerror or exc})"
    if image_kind(data) is None and data:
        return "the file is not an image BigCommerce takes: use a GIF, JPEG or PNG file"
    problem = image_problem(data)  # the same check as the apply's
    return f"the image file {problem}" if problem else None


def _other_scheme(text: str) -> str | None:
    """An address of another kind than http(s) (`file:`, `ftp:`, `data:`, `javascript:`), which
    bcmod neither downloads nor reads as a file name."""
    scheme = url_scheme(text)
    if scheme is None:
        return None
    if scheme in ("http", "https"):  # `https:/x`, `http:x`: the cell above took the complete ones
        return "the image link is not a complete web address: write it as https://example.com/image.png"
    return (f"{scheme}: addresses are not used for images: write a web address starting with https:// "
            "(or http://), or the name of an image file in the folder that holds this file, such as images/red.png")
