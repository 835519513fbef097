"""Cell values in and out of the sheets: the one place that knows how each column kind is stored.

Readers hand over raw cell values (python-calamine gives str, float, bool, datetime and "" for an
empty cell; CSV gives str) and get back a typed pandas array in the layout's dtype. CSV writing
turns a typed column into strings here too, so the CSV reader and writer agree on every detail,
including the formula-injection guard.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from collections.abc import Sequence
from typing import Any, Final, NamedTuple

import numpy as np
import pandas as pd

from pipeline.workbook.date_text import dates_from_sheet
from pipeline.workbook.layout import ColumnKind

TEXT_KINDS: Final[frozenset[ColumnKind]] = frozenset({"text", "list", "date", "enum", "action"})
BOOL_TEXT: Final = {True: "TRUE", False: "FALSE"}

# A spreadsheet evaluates CSV text that starts with one of these (OWASP's list: = + - @, and tab and
# carriage return, which some programs skip before evaluating what follows); the CSV writer prefixes
# such text with an apostrophe. Text that already starts with apostrophes before such a character
# gets one more, so the reader removing exactly one apostrophe always gives back what was written.
FORMULA_TRIGGERS: Final = "=+-@\t\r"
_NEUTRALISED = re.compile(r"'*[=+\-@\t\r]")


def neutralise(text: str) -> str:
    return "'" + text if _NEUTRALISED.match(text) else text


def unneutralise(text: str) -> str:
    return text[1:] if text[:1] == "'" and _NEUTRALISED.match(text, 1) else text


def as_text(item: Any) -> str:
    """A non-text cell value as the text a person would see (1.0 -> "1", True -> "TRUE")."""
    if isinstance(item, bool):
        return BOOL_TEXT[item]
    if isinstance(item, float):
        return str(int(item)) if item.is_integer() else repr(item)
    if isinstance(item, (dt.datetime, dt.date, dt.time)):
        return item.isoformat()
    return str(item)


class CellError(ValueError):
    """A column whose cells cannot be read as its kind; the message names the first bad cell."""


# Spellings of a boolean that spreadsheets and people produce; "x" is a tick mark in a column.
_BOOL_BY_TEXT: Final = {"TRUE": True, "FALSE": False, "YES": True, "NO": False, "Y": True, "N": False,
                        "1": True, "0": False, "X": True}
BOOL_HINT: Final = "use TRUE or FALSE (yes/no, 1/0 and x for TRUE are accepted too)"


# The largest whole number a float cell holds exactly. Past it a spreadsheet has already rounded the
# number, and past 2**63 numpy's cast to int64 wraps around (1e20 became -9223372036854775808), so a
# larger cell is refused rather than read as some other number.
MAX_WHOLE: Final = 2**53


def coerce_column(cells: Sequence[Any], kind: ColumnKind, dtype: str, *,
                  from_csv: bool = False) -> pd.api.extensions.ExtensionArray:
    """Raw cells of one column -> a pandas array of `dtype`; "" and None are missing.

    Raises CellError naming the first cell that cannot be read as the column's kind.
    """
    array, _, bad = coerce_cells(cells, kind, dtype, from_csv=from_csv)
    if bad:
        position, message = bad[0]
        raise CellError(f"row {position + 2}: {message}")
    return array


class Coerced(NamedTuple):
    array: pd.api.extensions.ExtensionArray
    missing: np.ndarray  # bool, per cell: blank, or not readable as the column's kind
    bad: list[tuple[int, str]]  # (position, message) of each cell not readable as the column's kind


def coerce_cells(cells: Sequence[Any], kind: ColumnKind, dtype: str, *, from_csv: bool = False) -> Coerced:
    """Like `coerce_column`, but never raises: a cell that cannot be read becomes missing and is
    listed as (position, message), so a reader can report every bad cell at once.

    A column holding only what its kind expects (text, or booleans, or numbers, and blanks) is
    converted with numpy in a few passes; any other column cell by cell.
    """
    bad: list[tuple[int, str]] = []
    kinds = set(map(type, cells))
    if dtype == "string":
        array, missing = _text_array(cells, kinds, from_csv and kind in TEXT_KINDS)
        if kind == "date":  # the workbook shows a day alone for midnight UTC
            array = dates_from_sheet(array)
        return Coerced(array, missing, bad)
    if dtype == "boolean":
        array = _boolean_array(cells, kinds, bad)
        return Coerced(array, array.isna(), bad)
    numbers = _numbers(cells, kinds, bad)
    missing = np.isnan(numbers)
    if dtype == "Int64":
        fractional = ~missing & (numbers != np.round(numbers))
        huge = ~missing & ~fractional & ~(np.abs(numbers) <= MAX_WHOLE)
        if fractional.any() or huge.any():
            for position in np.flatnonzero(fractional).tolist():
                bad.append((position, f"{cells[position]!r} is not a whole number"))
            for position in np.flatnonzero(huge).tolist():
                bad.append((position, f"{cells[position]!r} is too large for a whole number"))
            missing |= fractional | huge
            bad.sort()
        return Coerced(pd.arrays.IntegerArray(np.where(missing, 0.0, numbers).astype(np.int64), missing), missing,
                       bad)
    return Coerced(pd.arrays.FloatingArray(np.where(missing, 0.0, numbers), missing), missing, bad)


def _objects(cells: Sequence[Any]) -> np.ndarray:
    return np.fromiter(cells, dtype=object, count=len(cells))


def _blanks(values: np.ndarray, kinds: set[type]) -> np.ndarray:
    """Where an object array holds "" or None (`kinds`: the types it holds)."""
    blank = values == ""
    return blank | np.equal(values, None) if type(None) in kinds else blank


_TEXT_ONLY: Final = frozenset({str, type(None)})


def _text_array(cells: Sequence[Any], kinds: set[type],
                unguard: bool) -> tuple[pd.api.extensions.ExtensionArray, np.ndarray]:
    if kinds <= _TEXT_ONLY and not unguard:
        values = _objects(cells)
        blank = _blanks(values, kinds)
        values[blank] = None
        return pd.array(values, dtype="string", copy=False), blank
    array = pd.array(_texts(cells, unguard), dtype="string")
    return array, array.isna()


def _texts(cells: Sequence[Any], unguard: bool) -> list[str | None]:
    out = [None if c is None or c == "" else (c if c.__class__ is str else as_text(c)) for c in cells]
    if unguard:
        out = [unneutralise(c) if c is not None and c[:1] == "'" else c for c in out]
    return out


_BOOL_OR_BLANK: Final = frozenset({bool, str, type(None)})


def _boolean_array(cells: Sequence[Any], kinds: set[type], bad: list[tuple[int, str]]) -> pd.api.extensions.ExtensionArray:
    if kinds <= _BOOL_OR_BLANK:
        values = _objects(cells)
        true = values == True  # noqa: E712 - elementwise; only a bool equals True among bool, str and None
        missing = ~true & ~(values == False)  # noqa: E712
        if not missing.any() or _blanks(values[missing], kinds).all():
            return pd.arrays.BooleanArray(true, missing)
    return pd.array(_booleans(cells, bad), dtype="boolean")


def _booleans(cells: Sequence[Any], bad: list[tuple[int, str]]) -> list[bool | None]:
    out: list[bool | None] = []
    for position, cell in enumerate(cells):
        if cell is None or cell == "":
            out.append(None)
        elif cell.__class__ is bool:
            out.append(cell)
        else:
            text = as_text(cell).strip().lstrip("'").strip().upper()
            if text in _BOOL_BY_TEXT:
                out.append(_BOOL_BY_TEXT[text])
            elif not text:
                out.append(None)
            else:
                out.append(None)
                bad.append((position, f"{cell!r} is not TRUE or FALSE"))
    return out


def number_text(cell: str) -> str:
    """Text typed into a number cell, without what spreadsheets and people add around it: spaces
    (also non-breaking) and the apostrophe that forces a cell to text."""
    return cell.strip().lstrip("'").strip()


_NUMBER_OR_BLANK: Final = frozenset({float, int, str, type(None)})


def _numbers(cells: Sequence[Any], kinds: set[type], bad: list[tuple[int, str]]) -> np.ndarray:
    """Cells as floats, NaN for blank and for what cannot be read (listed in `bad`)."""
    if kinds <= _NUMBER_OR_BLANK:  # the common case: numbers and blanks
        values = _objects(cells)
        blank = _blanks(values, kinds) if str in kinds or type(None) in kinds else None
        if blank is not None:
            values[blank] = math.nan
        try:
            numbers = values.astype(np.float64)
        except (TypeError, ValueError):
            pass
        else:  # numpy reads the texts "inf" and "nan" as numbers; we do not
            if not (str in kinds and (np.isinf(numbers).any() or
                                      np.isnan(numbers).sum() > (blank.sum() if blank is not None else 0))):
                return numbers
    out = np.empty(len(cells), dtype=np.float64)
    for position, cell in enumerate(cells):
        if cell is None or cell == "":
            out[position] = math.nan
            continue
        if cell.__class__ is bool:  # a TRUE typed into a number column is not 1
            out[position] = math.nan
            bad.append((position, f"{as_text(cell)} is not a number"))
            continue
        try:
            out[position] = float(number_text(cell) or "nan") if isinstance(cell, str) else float(cell)
        except (TypeError, ValueError):
            out[position] = math.nan
            bad.append((position, f"{cell!r} is not a number"))
            continue
        if isinstance(cell, str) and not math.isfinite(out[position]) and number_text(cell):
            out[position] = math.nan
            bad.append((position, f"{cell!r} is not a number"))
    return out


def csv_cells(column: pd.Series, kind: ColumnKind) -> list[str]:
    """One typed column as CSV text: text guarded against formulas, numbers exact, blanks empty."""
    present = column.notna().to_numpy()
    if kind in TEXT_KINDS:
        values = column.to_numpy(dtype=object, na_value="")
        return [neutralise(v) if v[:1] in FORMULA_TRIGGERS or v[:1] == "'" else v for v in values.tolist()] \
            if len(values) else []
    if str(column.dtype) == "boolean":
        texts = [BOOL_TEXT[v] for v in column.fillna(False).to_numpy(dtype=bool).tolist()]
    elif str(column.dtype) == "Int64":
        texts = [str(v) for v in column.to_numpy(dtype=np.int64, na_value=0).tolist()]
    else:
        texts = [repr(v) for v in column.to_numpy(dtype=np.float64, na_value=0.0).tolist()]
    if present.all():
        return texts
    return [t if p else "" for t, p in zip(texts, present.tolist(), strict=True)]
