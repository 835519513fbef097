"""Cell coercion: the numpy path for plain columns decides every cell as the cell-by-cell path does."""

from __future__ import annotations

import datetime as dt
import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline.workbook import cells
from pipeline.workbook.cells import coerce_cells

SAMPLES = ("", None, "x", "12", " 12 ", "'12", "1e5", "nan", "inf", "1,5", "12\xa0", 0.0, 1.0, 2.5, -3.0, 12, 0, 1,
           True, False, "TRUE", "yes", "0", "1", dt.datetime(2024, 1, 2), dt.date(2024, 1, 2), 2.0**60, "=A1", "'=A1")
COLUMNS = st.lists(st.sampled_from(SAMPLES), max_size=12)
ANYTHING = {object}  # a `kinds` no fast path accepts: the cell-by-cell path


def _same(array: pd.api.extensions.ExtensionArray, expected: list) -> None:
    assert array.astype(object).tolist() == [pd.NA if v is None or (isinstance(v, float) and math.isnan(v)) else v
                                             for v in expected]


@settings(max_examples=300, deadline=None)
@given(COLUMNS)
def test_text_columns_read_as_cell_by_cell(column: list) -> None:
    coerced = coerce_cells(column, "text", "string")
    _same(coerced.array, cells._texts(column, False))
    assert coerced.missing.tolist() == coerced.array.isna().tolist()
    assert coerced.bad == []


@settings(max_examples=300, deadline=None)
@given(COLUMNS)
def test_boolean_columns_read_as_cell_by_cell(column: list) -> None:
    bad: list = []
    expected = cells._booleans(column, bad)
    coerced = coerce_cells(column, "bool", "boolean")
    _same(coerced.array, expected)
    assert coerced.bad == bad
    assert coerced.missing.tolist() == coerced.array.isna().tolist()


@settings(max_examples=300, deadline=None)
@given(COLUMNS, st.sampled_from([("number", "Float64"), ("int", "Int64"), ("id", "Int64")]))
def test_number_columns_read_as_cell_by_cell(column: list, kind_dtype: tuple[str, str]) -> None:
    kind, dtype = kind_dtype
    bad: list = []
    expected = cells._numbers(column, ANYTHING, bad)
    coerced = coerce_cells(column, kind, dtype)
    if dtype == "Int64":
        whole = [v if math.isnan(v) or (v == round(v) and abs(v) <= cells.MAX_WHOLE) else math.nan
                 for v in expected.tolist()]
        _same(coerced.array, [None if math.isnan(v) else int(v) for v in whole])
    else:
        _same(coerced.array, expected.tolist())
    assert [b for b in coerced.bad if "whole number" not in b[1] and "too large" not in b[1]] == bad
    assert coerced.missing.tolist() == coerced.array.isna().tolist()


@pytest.mark.parametrize("others", [[1.0, 2.0], [1.0, ""], ["", ""], [" 3 ", 4.0]])
@pytest.mark.parametrize("text", ["nan", "NaN", "inf", "-inf"])
def test_text_that_numpy_reads_as_a_number_is_not_one(text: str, others: list) -> None:
    coerced = coerce_cells([text, *others], "number", "Float64")
    assert coerced.bad[:1] == [(0, f"{text!r} is not a number")]
    assert coerced.missing[0]


def test_blank_cells_and_padding_are_missing() -> None:
    coerced = coerce_cells(("a", "", None), "text", "string")
    assert coerced.missing.tolist() == [False, True, True]
    numbers = coerce_cells((1.0, "", None), "int", "Int64")
    assert numbers.array.astype(object).tolist() == [1, pd.NA, pd.NA]
    assert numbers.missing.dtype == np.bool_


@pytest.mark.parametrize("cell", [1e20, "1e20", 2.0**63, -(2.0**60), "99999999999999999999", 2.0**53 + 2])
def test_whole_numbers_too_large_to_hold_are_refused_not_wrapped(cell) -> None:
    coerced = coerce_cells([cell, 7.0], "id", "Int64")
    assert coerced.bad == [(0, f"{cell!r} is too large for a whole number")]
    assert coerced.array.astype(object).tolist() == [pd.NA, 7]


def test_the_largest_exact_whole_number_is_read() -> None:
    coerced = coerce_cells([float(cells.MAX_WHOLE), -float(cells.MAX_WHOLE)], "int", "Int64")
    assert coerced.bad == []
    assert coerced.array.astype(object).tolist() == [2**53, -(2**53)]
