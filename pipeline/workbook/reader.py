"""Read an export back: an xlsx workbook, a folder of CSV files or a zip of them.

This is the plain round-trip reader: it checks that every sheet and column is there and that each
cell can be read as its column's kind, and returns typed frames. Row-level validation of the
content is a separate, later step. Workbooks are read with python-calamine (Rust), which is
several times faster than openpyxl.
"""

from __future__ import annotations

import zipfile
from pathlib import Path

import pandas as pd
from python_calamine import CalamineWorkbook

from pipeline.normalise import ModifierFrames
from pipeline.workbook.csv_files import csv_name, read_csv_tables
from pipeline.workbook.layout import META_SHEET
from pipeline.workbook.meta import ExportMeta, meta_from_frame
from pipeline.workbook.split import sheets_to_frames
from pipeline.workbook.tables import EXPORT_TABLES, RawTable, typed_table


def read_export(path: Path) -> tuple[ModifierFrames, ExportMeta]:
    """The frames and metadata of an export written by `write_workbook` or `write_csv`."""
    sheets, meta = read_sheets(path)
    return sheets_to_frames(sheets), meta


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
        raw = _xlsx_tables(path) if is_xlsx else read_csv_tables(path)
    missing = [f"sheet {s.name!r}" if is_xlsx else csv_name(s.name) for s in EXPORT_TABLES if s.name not in raw]
    if missing:
        raise ValueError(f"{path}: {', '.join(missing)} {'is' if len(missing) == 1 else 'are'} missing")
    tables = {spec.name: typed_table(raw[spec.name], spec) for spec in EXPORT_TABLES}
    meta = meta_from_frame(tables.pop(META_SHEET), raw[META_SHEET].where)
    return tables, meta


def _xlsx_tables(path: Path) -> dict[str, RawTable]:
    wanted = {spec.name for spec in EXPORT_TABLES}
    found: dict[str, RawTable] = {}
    with CalamineWorkbook.from_path(path) as workbook:
        for name in workbook.sheet_names:
            if name not in wanted:
                continue
            where = f"{path.name}, sheet {name!r}"
            rows = workbook.get_sheet_by_name(name).to_python(skip_empty_area=False)
            if not rows:
                raise ValueError(f"{where}: the header row is missing")
            header = rows[0]
            columns = list(zip(*rows[1:], strict=True)) if len(rows) > 1 else [() for _ in header]
            found[name] = RawTable(where, header, columns)
    return found
