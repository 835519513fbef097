"""Column widths that fit the header and the values a column typically holds.

Widths are in spreadsheet units (about one digit of the default font). A header must show whole,
bold and beside its filter button, since headers are the API names the reader matches; a value
column is as wide as most of its values (the 90th percentile of a sample, so one 10,000-character
label does not make a column a screen wide), within a cap per kind. Only a sample of the first
rows is measured: the cost does not grow with the workbook.
"""

from __future__ import annotations

import math
from typing import Final

import pandas as pd

from pipeline.workbook.layout import Column

SAMPLE_ROWS: Final = 2000
BOLD: Final = 1.1  # bold header text is about a tenth wider
FILTER_BUTTON: Final = 3.0  # the autofilter's drop-down button covers the header's right end
PADDING: Final = 1.5
_CAPS: Final = {"text": 40.0, "list": 28.0, "date": 26.0}
_DEFAULT_CAP: Final = 18.0
_BOOL_WIDTH: Final = 5  # FALSE


def header_width(column: Column) -> float:
    return len(column.name) * BOLD + FILTER_BUTTON


def fitted_width(column: Column, values: pd.Series | None) -> float:
    """The width of `column` holding `values` (as the sheet shows them); its layout width when
    there are none."""
    typical = _typical_length(column, values)
    cap = _CAPS.get(column.kind, _DEFAULT_CAP)
    return round(max(header_width(column), min(typical + PADDING, cap)), 1)


def _typical_length(column: Column, values: pd.Series | None) -> float:
    sample = values.iloc[:SAMPLE_ROWS].dropna() if values is not None else None
    if sample is None or not len(sample):
        return float(column.width)
    if column.kind == "bool":
        return float(_BOOL_WIDTH)
    if column.kind in ("id", "int"):
        return float(len(str(int(sample.abs().quantile(0.9, interpolation="higher")))) + 1)
    if column.kind == "number":
        texts = pd.Series([repr(float(v)) for v in sample.tolist()], dtype="string")
    else:
        texts = sample.astype("string")
    lengths = texts.str.len()
    return float(math.ceil(lengths.quantile(0.9, interpolation="higher")))
