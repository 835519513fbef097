"""Editing an exported workbook from code, the way a person would in Excel.

The demo's scripted edit and the benchmarks change cells by column name through openpyxl; text
is always stored as text, so a label such as `=SUM(A1)` can never become a formula.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from openpyxl.worksheet.worksheet import Worksheet


@dataclass
class SheetEditor:
    """One sheet, addressed by header text and Excel row number."""

    ws: Worksheet
    columns: dict[str, int]

    @classmethod
    def of(cls, ws: Worksheet) -> SheetEditor:
        return cls(ws, {str(c.value): c.column for c in ws[1] if c.value is not None})

    @property
    def name(self) -> str:
        return self.ws.title

    def get(self, row: int, name: str) -> Any:
        return self.ws.cell(row=row, column=self.columns[name]).value

    def set(self, row: int, name: str, value: Any) -> None:
        cell = self.ws.cell(row=row, column=self.columns[name])
        cell.value = value
        if isinstance(value, str):
            cell.data_type = "s"  # never a formula, whatever the text starts with

    def rows(self) -> list[int]:
        """Rows that hold data (a product id), in order."""
        return [r for r in range(2, self.ws.max_row + 1) if self.get(r, "product_id") not in (None, "")]

    def last_row(self) -> int:
        return max(self.rows(), default=1)

    def rows_where(self, **wanted: Any) -> list[int]:
        return [r for r in self.rows() if all(self.get(r, k) == v for k, v in wanted.items())]

    def append(self, **cells: Any) -> int:
        """Write a new row below the data; returns its row number."""
        row = self.last_row() + 1
        for name, value in cells.items():
            self.set(row, name, value)
        return row
