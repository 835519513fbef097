"""Column widths: the header whole beside its filter button, typical values, caps."""

from __future__ import annotations

import pandas as pd

from pipeline.workbook.layout import SHEET_BY_NAME
from pipeline.workbook.widths import fitted_width, header_width

VALUES = SHEET_BY_NAME["Choice values"]
MODIFIERS = SHEET_BY_NAME["Product list modifiers"]


def test_a_long_header_is_shown_whole_even_over_short_values():
    column = VALUES.column("purchasing_disabled_message")
    assert fitted_width(column, pd.Series(["Sold out"], dtype="string")) == round(header_width(column), 1)
    assert header_width(column) > len("purchasing_disabled_message")


def test_typical_values_not_the_longest_decide_within_a_cap():
    column = VALUES.column("product_name")
    names = pd.Series(["A product called something long"] * 95 + ["x" * 10_000] * 5, dtype="string")
    assert len("A product called something long") < fitted_width(column, names) < 40
    assert fitted_width(column, pd.Series(["x" * 10_000] * 100, dtype="string")) == 40


def test_a_drop_down_fits_its_longest_choice_and_an_editable_text_keeps_room_to_type():
    assert fitted_width(MODIFIERS.column("type"), pd.Series(["product_list"], dtype="string")) >= \
        len("product_list_with_images")
    label = VALUES.column("label")
    assert fitted_width(label, pd.Series(["S", "M"], dtype="string")) >= label.width


def test_numbers_and_blank_columns():
    assert fitted_width(VALUES.column("value_id"), pd.Series([12345678901], dtype="Int64")) >= 12
    sort_order = VALUES.column("sort_order")
    assert fitted_width(sort_order, pd.Series([pd.NA, pd.NA], dtype="Int64")) == round(header_width(sort_order), 1)
    assert fitted_width(sort_order, None) == round(header_width(sort_order), 1)
