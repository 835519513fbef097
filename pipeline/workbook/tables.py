"""The tables an export holds (the data sheets and `_bcmod`), and turning raw cells into typed frames.

Both formats come through here: the xlsx reader and the CSV reader only find each table's header
and raw cells (a `RawTable`); which columns must be there and how cells become typed values is
decided once, for both.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

import numpy as np
import pandas as pd

from pipeline.workbook.cells import as_text, coerce_cells
from pipeline.workbook.layout import META_SHEET, SHEETS, Column
from pipeline.workbook.meta import META_COLUMNS, META_DTYPES
from pipeline.workbook.split import sheet_dtypes


@dataclass(frozen=True)
class TableSpec:
    name: str
    columns: tuple[Column, ...]
    dtypes: Mapping[str, str]

    @property
    def column_names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns)


EXPORT_TABLES: Final[tuple[TableSpec, ...]] = (
    *(TableSpec(spec.name, spec.columns, sheet_dtypes(spec)) for spec in SHEETS),
    TableSpec(META_SHEET, META_COLUMNS, META_DTYPES),
)


@dataclass(frozen=True)
class RawTable:
    """A table as found in a file: header cells and, per header cell, that column's raw cells.

    A big sheet is read in chunks of rows (so its cells never all exist as Python objects at once):
    each chunk is a `RawTable` with the same header, whose first cells are on row `first_row`.
    """

    where: str  # for messages: "export.xlsx, sheet 'Choice values'" or "export/choice_values.csv"
    header: Sequence[Any]
    columns: Sequence[Sequence[Any]]
    from_csv: bool = False
    first_row: int = 2  # the spreadsheet row of the columns' first cells (the header is row 1)


@dataclass(frozen=True)
class BadCell:
    """A cell that cannot be read as its column's kind; it reads as missing."""

    row: int  # spreadsheet row (the header is row 1)
    column: str
    value: Any
    message: str


@dataclass
class TableRead:
    """A table read without raising: the typed frame and everything that did not fit the layout.

    `frame` has every layout column (a missing one is all blank), indexed by spreadsheet row, with
    blank rows left out. `positions` maps each layout column found to its position in the header.
    """

    frame: pd.DataFrame
    positions: dict[str, int]
    missing: list[str]
    duplicated: dict[str, list[int]]  # layout column -> every position it appears at
    unknown: list[tuple[int, str]]  # (position, header text) of columns the layout does not have
    bad_cells: list[BadCell]
    blank_rows: list[int]  # spreadsheet rows with every cell blank, left out of `frame`


def header_text(cell: Any) -> str:
    return cell.strip() if isinstance(cell, str) else as_text(cell).strip() if cell is not None else ""


def read_table(raw: RawTable, spec: TableSpec) -> TableRead:
    """The table's columns in layout order and dtypes, and what did not fit; never raises.

    Headers match the layout ignoring surrounding spaces, then ignoring case. The first of
    duplicated columns is read. A cell that cannot be read as its kind becomes missing.
    """
    header = [header_text(h) for h in raw.header]
    positions: dict[str, int] = {}
    duplicated: dict[str, list[int]] = {}
    by_folded = {name.casefold(): name for name in spec.dtypes}
    matched: list[str | None] = []
    for index, text in enumerate(header):
        name = text if text in spec.dtypes else by_folded.get(text.casefold())
        matched.append(name)
        if name is None:
            continue
        if name in positions:
            duplicated.setdefault(name, [positions[name]]).append(index)
        else:
            positions[name] = index
    unknown = [(index, header[index]) for index, name in enumerate(matched) if name is None]
    n_rows = max((len(c) for c in raw.columns), default=0)
    first = raw.first_row
    index = pd.RangeIndex(first, n_rows + first, name="row")
    data: dict[str, Any] = {}
    bad_cells: list[BadCell] = []
    missing: list[str] = []
    blank = np.ones(n_rows, dtype=bool)  # every layout cell of the row is missing
    for column in spec.columns:
        dtype = spec.dtypes[column.name]
        if column.name not in positions:
            missing.append(column.name)
            data[column.name] = pd.array([None] * n_rows, dtype=dtype)
            continue
        cells = raw.columns[position] if (position := positions[column.name]) < len(raw.columns) else ()
        if len(cells) < n_rows:
            cells = [*cells, *([None] * (n_rows - len(cells)))]
        coerced = coerce_cells(cells, column.kind, dtype, from_csv=raw.from_csv)
        data[column.name] = coerced.array
        blank &= coerced.missing
        bad_cells += [BadCell(p + first, column.name, cells[p], message) for p, message in coerced.bad]
    frame = pd.DataFrame(data, index=index)
    if bad_cells:  # a cell that could not be read is not blank
        blank[[c.row - first for c in bad_cells]] = False
    if unknown and blank.any():  # nor is a cell under a column the layout does not have
        for position, _ in unknown:
            cells = raw.columns[position] if position < len(raw.columns) else ()
            blank[[r for r, c in enumerate(cells) if blank[r] and c is not None and c != ""]] = False
    blank_rows = (np.flatnonzero(blank) + first).tolist()
    if blank_rows:
        frame = frame.loc[~blank]
    return TableRead(frame, positions, missing, duplicated, unknown, bad_cells, blank_rows)


def typed_table(raw: RawTable, spec: TableSpec) -> pd.DataFrame:
    """The table's columns in layout order and dtypes, indexed by spreadsheet row (header = 1).

    Rows with every cell blank are dropped; extra columns are ignored. A missing or duplicated
    column, or a cell that cannot be read as its column's kind, raises ValueError naming where.
    """
    read = read_table(raw, spec)
    if read.duplicated:
        raise ValueError(f"{raw.where}: column {next(iter(read.duplicated))!r} appears twice")
    if read.missing:
        raise ValueError(f"{raw.where}: column {read.missing[0]!r} is missing")
    if read.bad_cells:
        first = min(read.bad_cells, key=lambda c: (spec.column_names.index(c.column), c.row))
        raise ValueError(f"{raw.where}, column {first.column!r}, row {first.row}: {first.message}")
    return read.frame
