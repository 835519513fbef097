"""The export as CSV files: one per sheet plus `_bcmod.csv`, in a folder or a zip.

UTF-8 with a byte-order mark so Excel opens accented text correctly, comma separated, CRLF line
ends. Text that a spreadsheet would evaluate (starting with =, +, - or @) gets a leading
apostrophe, which the reader removes again, so `=SUM(A1)` and `-10%` round-trip exactly. Cells
follow the same conventions as the workbook: TRUE/FALSE, whole-number ids, blank = missing.
"""

from __future__ import annotations

import csv
import io
import re
import zipfile
from collections.abc import Sequence
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

    Tables whose file is absent are left out; in a zip, files may sit in a sub-folder.
    """
    path = Path(path)
    wanted = {csv_name(t.name): t.name for t in EXPORT_TABLES}
    found: dict[str, RawTable] = {}
    if path.is_dir():
        for file_name, table in wanted.items():
            file = path / file_name
            if file.is_file():
                found[table] = _raw(file.read_bytes(), str(file))
        return found
    with zipfile.ZipFile(path) as archive:
        for member in archive.namelist():
            file_name = PurePosixPath(member).name
            if file_name in wanted and wanted[file_name] not in found:
                found[wanted[file_name]] = _raw(archive.read(member), f"{path}!{member}")
    return found


def _raw(data: bytes, where: str) -> RawTable:
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ValueError(f"{where}: not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    if not text.strip():
        raise ValueError(f"{where}: the file is empty (no header row)")
    frame = pd.read_csv(io.StringIO(text), header=None, dtype=str, keep_default_na=False, na_filter=False)
    header = frame.iloc[0].tolist()
    body = frame.iloc[1:]
    return RawTable(where, header, [body[c].tolist() for c in body.columns], from_csv=True)
