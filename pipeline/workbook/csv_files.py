"""The export as CSV files: one per sheet plus `_bcmod.csv`, in a folder or a zip.

UTF-8 with a byte-order mark so Excel opens accented text correctly, comma separated, CRLF line
ends. Text that a spreadsheet would evaluate (starting with =, +, -, @, a tab or a carriage return:
OWASP's list) gets a leading apostrophe, which the reader removes again, so `=SUM(A1)`, `-10%` and
a label starting with a tab round-trip exactly (`cells.neutralise`/`unneutralise`). Cells follow
the same conventions as the workbook: TRUE/FALSE, whole-number ids, blank = missing, except that
dates keep their exported ATOM text (see `date_text`).
"""

from __future__ import annotations

import csv
import io
import re
import zipfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import partial
from pathlib import Path, PurePosixPath

import pandas as pd

from pipeline.normalise import ModifierFrames
from pipeline.workbook.cells import csv_cells
from pipeline.workbook.layout import Column
from pipeline.workbook.meta import ExportMeta, meta_to_frame
from pipeline.workbook.split import frames_to_sheets
from pipeline.workbook.tables import EXPORT_TABLES, RawTable

BOM = "\ufeff"


def csv_name(sheet_name: str) -> str:
    """`Multi-line text modifiers` -> `multi_line_text_modifiers.csv`; `_bcmod` -> `_bcmod.csv`."""
    stem = re.sub(r"[^a-z0-9]+", "_", sheet_name.lower())
    return (stem if sheet_name.startswith("_") else stem.strip("_")) + ".csv"


def write_csv(frames: ModifierFrames, out: Path, meta: ExportMeta, *, zip_: bool = False) -> Path:
    """Write the export as CSV files into the folder `out`, or into the zip `out` (`.zip` added
    when missing) when `zip_`; returns the folder or zip written."""
    out = Path(out)
    sheets = frames_to_sheets(frames)
    meta = meta.with_fingerprints(sheets)
    frames_by_table = {**sheets, EXPORT_TABLES[-1].name: meta_to_frame(meta)}
    files = [(csv_name(t.name), frames_by_table[t.name], t.columns) for t in EXPORT_TABLES]
    if zip_:
        if out.suffix.lower() != ".zip":
            out = out.with_name(out.name + ".zip")
        out.parent.mkdir(parents=True, exist_ok=True)
        tmp = out.with_name(out.name + ".partial")
        with zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as archive:
            for name, frame, columns in files:
                archive.writestr(name, csv_bytes(frame, columns))
        tmp.replace(out)
        return out
    out.mkdir(parents=True, exist_ok=True)
    for name, frame, columns in files:
        tmp = out / (name + ".partial")
        tmp.write_bytes(csv_bytes(frame, columns))
        tmp.replace(out / name)
    return out


def csv_bytes(frame: pd.DataFrame, columns: Sequence[Column]) -> bytes:
    """One table as CSV (with BOM and header row)."""
    buffer = io.StringIO()
    buffer.write(BOM)
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow([c.name for c in columns])
    writer.writerows(zip(*(csv_cells(frame[c.name], c.kind) for c in columns)))
    return buffer.getvalue().encode("utf-8")


def read_csv_tables(path: Path) -> dict[str, RawTable]:
    """Table name -> its raw cells, from a folder of CSV files or a zip of them.

    Tables whose file is absent are left out; in a zip, files may sit in a sub-folder. A file
    that is not UTF-8, is empty or is not comma separated raises ValueError naming it.
    """
    wanted = {csv_name(t.name): t.name for t in EXPORT_TABLES}
    found: dict[str, RawTable] = {}
    for file in csv_files(path):
        if file.name in wanted and wanted[file.name] not in found:
            table, problems = parse_csv(file.read(), file.where)
            if problems:
                raise ValueError(f"{file.where}: {problems[0].message}")
            assert table is not None
            found[wanted[file.name]] = table
    return found


@dataclass(frozen=True)
class CsvFile:
    """One CSV file of an export: its file name, where it is (for messages) and its bytes."""

    name: str
    where: str
    read: Callable[[], bytes]
    size: int


def csv_files(path: Path) -> list[CsvFile]:
    """Every `.csv` file of a folder (not its sub-folders) or of a zip (any folder inside it)."""
    path = Path(path)
    if path.is_dir():
        return [CsvFile(file.name, str(file), file.read_bytes, file.stat().st_size)
                for file in sorted(path.iterdir()) if file.suffix.lower() == ".csv" and file.is_file()]
    out: list[CsvFile] = []
    with zipfile.ZipFile(path) as archive:
        for info in archive.infolist():
            name = PurePosixPath(info.filename).name
            if name.lower().endswith(".csv") and not info.is_dir() and not name.startswith("._"):
                out.append(CsvFile(name, f"{path}!{info.filename}", partial(_read_member, path, info.filename),
                                   info.file_size))
    return out


def _read_member(path: Path, member: str) -> bytes:
    with zipfile.ZipFile(path) as archive:
        return archive.read(member)


@dataclass(frozen=True)
class CsvProblem:
    """Something wrong with a CSV file as a whole, or with one of its lines (1-based)."""

    message: str
    line: int | None = None
    row: int | None = None  # the spreadsheet row of that line (the header is row 1)
    value: str | None = None


# Delimiters a spreadsheet may have used instead of the comma, depending on the computer's locale.
_OTHER_DELIMITERS = {";": "semicolons", "\t": "tabs", "|": "vertical bars"}


def parse_csv(data: bytes, where: str) -> tuple[RawTable | None, list[CsvProblem]]:
    """One CSV file -> its raw table, and what is wrong with it; never raises.

    Text that is not UTF-8 is reported and read as Windows-1252 so that the rest can still be
    checked; a file separated by semicolons or tabs is reported and read with that separator.
    Rows are spreadsheet rows: quoted line breaks stay inside their cell.
    """
    problems: list[CsvProblem] = []
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        text = data.decode("cp1252", errors="replace").removeprefix(BOM)
        shown = text.splitlines()[line - 1] if line <= len(text.splitlines()) else None
        problems.append(CsvProblem(
            f"the file is not saved as UTF-8 text (line {line} has byte {data[exc.start]:#04x}, probably an accented "
            "letter saved as Latin-1/Windows-1252); save it again choosing 'CSV UTF-8 (Comma delimited)'",
            line=line, value=shown))
    if not text.strip():
        problems.append(CsvProblem("the file is empty: the header row is missing"))
        return None, problems
    first_line = text.split("\n", 1)[0]
    delimiter = ","
    if "," not in first_line:
        for other, name in _OTHER_DELIMITERS.items():
            if other in first_line:
                delimiter = other
                problems.append(CsvProblem(
                    f"the columns are separated by {name} ({other!r}), not commas: save it again choosing "
                    "'CSV UTF-8 (Comma delimited)'", line=1, row=1, value=first_line.strip()[:80]))
                break
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    rows: list[list[str]] = []
    ends: list[int] = []  # the last physical line of each row
    try:
        for cells in reader:
            rows.append(cells)
            ends.append(reader.line_num)
    except csv.Error as exc:
        problems.append(CsvProblem(f"the file cannot be read as CSV after line {reader.line_num}: {exc}",
                                   line=reader.line_num + 1, row=len(rows) + 1))
    for problem in list(problems):
        if problem.line is not None and problem.row is None:
            row = next((n for n, end in enumerate(ends, start=1) if end >= problem.line), len(rows))
            problems[problems.index(problem)] = CsvProblem(problem.message, problem.line, row, problem.value)
    if not rows:
        problems.append(CsvProblem("the file is empty: the header row is missing"))
        return None, problems
    header, body = rows[0], rows[1:]
    width = max(len(header), max((len(r) for r in body), default=0))
    if width > len(header):
        header = [*header, *([""] * (width - len(header)))]
    if any(len(r) != width for r in body):
        body = [r if len(r) == width else [*r, *([""] * (width - len(r)))] for r in body]
    columns = [list(c) for c in zip(*body)] if body else [[] for _ in header]
    return RawTable(where, header, columns, from_csv=True), problems
