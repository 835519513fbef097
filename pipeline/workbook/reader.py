"""Read an export back: an xlsx workbook, a folder of CSV files or a zip of them.

This is the plain round-trip reader: it checks that every sheet and column is there and that each
cell can be read as its column's kind, and returns typed frames. Row-level validation of the
content is a separate, later step. Workbooks are read with python-calamine (Rust), which is
several times faster than openpyxl.
"""

from __future__ import annotations

import zipfile
from collections.abc import Collection
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
from python_calamine import CalamineWorkbook

from pipeline.gc_pause import gc_paused
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
        raw = _xlsx_tables(path) if is_xlsx else read_csv_tables(path)
    missing = [f"sheet {s.name!r}" if is_xlsx else csv_name(s.name) for s in EXPORT_TABLES if s.name not in raw]
    if missing:
        raise ValueError(f"{path}: {', '.join(missing)} {'is' if len(missing) == 1 else 'are'} missing")
    tables = {spec.name: typed_table(raw[spec.name], spec) for spec in EXPORT_TABLES}
    meta = meta_from_frame(tables.pop(META_SHEET), raw[META_SHEET].where)
    return tables, meta


def _xlsx_tables(path: Path) -> dict[str, RawTable]:
    tables = read_xlsx(path, {spec.name for spec in EXPORT_TABLES}).tables
    for table in tables.values():
        if not table.header:
            raise ValueError(f"{table.where}: the header row is missing")
    return tables


@dataclass
class XlsxContent:
    """What a workbook holds: every sheet name, the raw cells of the wanted sheets, and their
    merged cell ranges as ((first row, first column), (last row, last column)), 0-based."""

    sheet_names: list[str]
    tables: dict[str, RawTable]
    merged: dict[str, list[tuple[tuple[int, int], tuple[int, int]]]]


def read_xlsx(path: Path, wanted: Collection[str]) -> XlsxContent:
    """The raw cells of the sheets in `wanted` (a sheet with no rows has an empty header).

    Raises python-calamine's errors for a file it cannot read.
    """
    content = XlsxContent([], {}, {})
    with CalamineWorkbook.from_path(path) as workbook:
        content.sheet_names = list(workbook.sheet_names)
        for name in content.sheet_names:
            if name not in wanted:
                continue
            sheet = workbook.get_sheet_by_name(name)
            rows = sheet.to_python(skip_empty_area=False)
            header = rows[0] if rows else []
            columns = list(zip(*rows[1:], strict=True)) if len(rows) > 1 else [() for _ in header]
            content.tables[name] = RawTable(f"{path.name}, sheet {name!r}", header, columns)
            content.merged[name] = list(sheet.merged_cell_ranges or ())
    return content
