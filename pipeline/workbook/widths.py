"""Column widths that fit the header and the values a column typically holds.

Widths are in spreadsheet units (about one digit of the default font). A header must show whole,
bold and beside its filter button, since headers are the API names the reader matches; a value
column is as wide as most of its values (the 90th percentile of a sample, so one 10,000-character
label does not make a column a screen wide), within a cap per kind. Only a sample of the first
rows is measured: the cost does not grow with the workbook. A drop-down column fits its longest
choice, and an editable text column keeps at least its layout width, room to type a longer value.
"""

from __future__ import annotations

from typing import Final

import pandas as pd

from pipeline.workbook.layout import Column

SAMPLE_ROWS: Final = 500
BOLD: Final = 0.95  # a bold lower-case header letter, in digit widths (Calibri 11: about 6.5 px to 7)
FILTER_BUTTON: Final = 2.5  # the autofilter's drop-down button (about 17 px) covers the header's right end
PADDING: Final = 1.5
_CAPS: Final = {"text": 40.0, "list": 28.0, "date": 26.0, "enum": 26.0}
_DEFAULT_CAP: Final = 18.0
_BOOL_WIDTH: Final = 5  # FALSE


def header_width(column: Column) -> float:
    return len(column.name) * BOLD + FILTER_BUTTON


def fitted_width(column: Column, values: pd.Series | None) -> float:
    """The width of `column` holding `values` (as the sheet shows them); its layout width when
    there are none."""
    typical = _typical_length(column, values)
    if column.kind == "enum" and column.choices:
        typical = max(typical, max(map(len, column.choices)))
    elif column.kind == "text" and column.editable:
        typical = max(typical, column.width)
    cap = _CAPS.get(column.kind, _DEFAULT_CAP)
    return round(max(header_width(column), min(typical + PADDING, cap)), 1)


def _typical_length(column: Column, values: pd.Series | None) -> float:
    """The 90th percentile of the lengths of the first values (plain Python: the sample is small,
    and pandas' own overhead per column would cost more than the measuring)."""
    sample = [v for v in values.iloc[:SAMPLE_ROWS].tolist() if v is not None and v is not pd.NA] \
        if values is not None else []
    if not sample:
        return float(column.width)
    if column.kind == "bool":
        return float(_BOOL_WIDTH)
    if column.kind in ("id", "int"):
        lengths = [len(str(int(v))) + 1 for v in sample]  # + 1: the gap to the text beside it
    elif column.kind == "number":
        lengths = [len(repr(float(v))) + 1 for v in sample]
    else:
        lengths = [len(str(v)) for v in sample]
    lengths.sort()
    return float(lengths[min(len(lengths) - 1, int(len(lengths) * 0.9))])
