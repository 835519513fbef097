"""Cells a spreadsheet program changed on its own: the export's text of a fragile cell, rewritten.

The export records the exact text of every cell Excel or LibreOffice would read as a number, a
date or a truth value (`pipeline.workbook.fragile`). A cell whose value now differs from that text
and is what such a program makes of it (`0017` -> 17, `1/2` -> a date, `22E1` -> 220) was not
typed by the person: sending it would quietly rewrite the store. Validation refuses it, naming
the exported text and the likely cause, unless the person accepts such changes.
"""

from __future__ import annotations

import json
from collections.abc import Mapping

import pandas as pd

from pipeline.workbook.fragile import damage_cause
from pipeline.workbook.layout import SheetSpec


def fragile_texts(records: pd.Series) -> dict[int, dict[str, str]]:
    """Excel row -> {column: exported text}, from the rows' `fragile` records (JSON or blank)."""
    out: dict[int, dict[str, str]] = {}
    for row, text in records.dropna().items():
        try:
            cells = json.loads(str(text))
        except json.JSONDecodeError:
            continue  # a damaged record: nothing to compare with
        if isinstance(cells, dict):
            out[int(row)] = {str(k): str(v) for k, v in cells.items()}
    return out


def damaged_cells(rows: pd.DataFrame, fragile: Mapping[int, Mapping[str, str]],
                  spec: SheetSpec) -> dict[tuple[int, str], tuple[str, str, str]]:
    """(row, column) -> (value now, exported text, cause) of each cell a spreadsheet rewrote."""
    out: dict[tuple[int, str], tuple[str, str, str]] = {}
    names = set(spec.column_names)
    for row, cells in fragile.items():
        if row not in rows.index:
            continue
        for column, exported in cells.items():
            if column not in names or column not in rows.columns:
                continue
            now = rows.at[row, column]
            if now is None or now is pd.NA:
                continue
            cause = damage_cause(exported, str(now))
            if cause is not None:
                out[(row, column)] = (str(now), exported, cause)
    return out
