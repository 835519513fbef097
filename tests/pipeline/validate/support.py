"""Sheets of a generated catalog, shaped as `read_sheets` returns them, and ways to edit them."""

from __future__ import annotations

from typing import Any

import pandas as pd

from pipeline.normalise import products_to_frames
from pipeline.validate.issues import Issue
from pipeline.workbook.split import frames_to_sheets
from sample_data.generator import FIRST_PRODUCT_ID, as_api_products, generate_catalog

FILE = "edited.xlsx"


def clean_sheets(n_products: int = 24, seed: int = 5) -> dict[str, pd.DataFrame]:
    """Every sheet of a generated catalog, indexed by Excel row (header on row 1, data from row 2)."""
    frames = products_to_frames(as_api_products(generate_catalog(n_products, seed=seed)))
    return {name: sheet.set_axis(pd.RangeIndex(2, len(sheet) + 2, name="row"))
            for name, sheet in frames_to_sheets(frames).items()}


def product_ids(n_products: int = 24) -> set[int]:
    return set(range(FIRST_PRODUCT_ID, FIRST_PRODUCT_ID + n_products))


def rows_where(sheet: pd.DataFrame, **equal: Any) -> list[int]:
    """Excel rows whose cells equal the given values."""
    mask = pd.Series(True, index=sheet.index)
    for column, value in equal.items():
        mask &= sheet[column].eq(value).fillna(False).astype(bool)
    return sheet.index[mask].tolist()


def row_where(sheet: pd.DataFrame, **equal: Any) -> int:
    rows = rows_where(sheet, **equal)
    assert rows, f"no row with {equal}"
    return rows[0]


def values_of(sheets: dict[str, pd.DataFrame], sheet: str, modifier_id: int) -> list[int]:
    """Excel rows of one modifier's values."""
    return rows_where(sheets[sheet], modifier_id=modifier_id)


def append_rows(sheet: pd.DataFrame, rows: list[dict[str, Any]]) -> pd.DataFrame:
    """`sheet` with new rows after the last one (missing cells blank), keeping dtypes and Excel rows."""
    start = int(sheet.index.max()) + 1 if len(sheet) else 2
    extra = pd.DataFrame(rows, columns=sheet.columns, index=pd.RangeIndex(start, start + len(rows), name="row"))
    return pd.concat([sheet, extra.astype(sheet.dtypes.to_dict())])


def places(issues: list[Issue]) -> list[tuple[str | None, int | None, str | None]]:
    return [(i.sheet, i.row, i.column) for i in issues]
