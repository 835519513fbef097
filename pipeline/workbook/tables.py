"""The tables an export holds (the data sheets and `_bcmod`), and turning raw cells into typed frames.

Both formats come through here: the xlsx reader and the CSV reader only find each table's header
and raw cells (a `RawTable`); which columns must be there and how cells become typed values is
decided once, for both.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

import pandas as pd

from pipeline.workbook.cells import CellError, as_text, coerce_column
from pipeline.workbook.layout import META_SHEET, SHEETS, Column
from pipeline.workbook.meta import META_COLUMNS, META_DTYPES
from pipeline.workbook.split import sheet_dtypes


@dataclass(frozen=True)
class TableSpec:
    name: str
    columns: tuple[Column, ...]
    dtypes: Mapping[str, str]


EXPORT_TABLES: Final[tuple[TableSpec, ...]] = (
    *(TableSpec(spec.name, spec.columns, sheet_dtypes(spec)) for spec in SHEETS),
    TableSpec(META_SHEET, META_COLUMNS, META_DTYPES),
)


@dataclass(frozen=True)
class RawTable:
    """A table as found in a file: header cells and, per header cell, that column's raw cells."""

    where: str  # for messages: "export.xlsx, sheet 'Choice values'" or "export/choice_values.csv"
    header: Sequence[Any]
    columns: Sequence[Sequence[Any]]
    from_csv: bool = False


def typed_table(raw: RawTable, spec: TableSpec) -> pd.DataFrame:
    """The table's columns in layout order and dtypes, indexed by spreadsheet row (header = 1).

    Rows with every cell blank are dropped; extra columns are ignored. A missing or duplicated
    column, or a cell that cannot be read as its column's kind, raises ValueError naming where.
    """
    header = [h.strip() if isinstance(h, str) else as_text(h) for h in raw.header]
    position: dict[str, int] = {}
    for index, name in enumerate(header):
        if name in position and name in spec.dtypes:
            raise ValueError(f"{raw.where}: column {name!r} appears twice")
        position.setdefault(name, index)
    n_rows = len(raw.columns[0]) if raw.columns else 0
    data: dict[str, Any] = {}
    for column in spec.columns:
        if column.name not in position:
            raise ValueError(f"{raw.where}: column {column.name!r} is missing")
        cells = raw.columns[position[column.name]]
        try:
            data[column.name] = coerce_column(cells, column.kind, spec.dtypes[column.name], from_csv=raw.from_csv)
        except CellError as exc:
            raise ValueError(f"{raw.where}, column {column.name!r}, {exc}") from None
    frame = pd.DataFrame(data, index=pd.RangeIndex(2, n_rows + 2, name="row"))
    blank = frame.isna().all(axis=1)
    return frame.loc[~blank] if blank.any() else frame
