"""One problem found in an edited sheet, pinned to the cell a person has to fix.

Every stage that can refuse a sheet (reading, schemas, cross-row checks, the store's own data)
reports `Issue`s rather than raising, so a person sees every problem in one pass.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from pipeline.workbook.layout import PART_STRIDE, sheet_row


@dataclass(frozen=True, order=True)
class Issue:
    """`row` is the Excel row number (the header is row 1) or None for a whole-sheet problem;
    `column` is the header text or None for a whole-row problem."""

    file: str
    sheet: str | None
    row: int | None
    column: str | None
    value: str | None
    message: str

    def __post_init__(self) -> None:
        # a row of a continuation sheet arrives as its family row (see `layout.sheet_row`): name the
        # real sheet and row, as the person sees them
        if self.sheet is not None and self.row is not None and self.row >= PART_STRIDE:
            sheet, row = sheet_row(self.sheet, self.row)
            object.__setattr__(self, "sheet", sheet)
            object.__setattr__(self, "row", row)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    def location(self) -> str:
        parts = [self.file]
        if self.sheet:
            parts.append(f"sheet {self.sheet!r}")
        if self.row is not None:
            parts.append(f"row {self.row}")
        if self.column:
            parts.append(f"column {self.column!r}")
        return ", ".join(parts)

    def __str__(self) -> str:
        shown = f" (value {self.value!r})" if self.value not in (None, "") else ""
        return f"{self.location()}: {self.message}{shown}"


def shown_value(value: Any) -> str | None:
    """A cell value as a person would recognise it in the report."""
    if value is None:
        return None
    try:
        import pandas as pd

        if value is pd.NA or (isinstance(value, float) and value != value):
            return None
    except ImportError:  # pragma: no cover
        pass
    return str(value)
