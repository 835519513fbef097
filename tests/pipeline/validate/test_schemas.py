"""Row-level rules: one edited cell of a clean catalog gives exactly the expected issue."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pandas as pd
import pytest

from pipeline.modifier_types import MODIFIER_TYPES
from pipeline.validate.issues import shown_value
from pipeline.validate import schemas
from pipeline.validate.run import validate_sheets
from pipeline.validate.schemas import (
    MODIFIER_MODELS,
    RULES,
    VALUE_MODELS,
    ModifierRowBase,
    TextModifierRow,
    ValueRowBase,
    check_rows,
    parse_dates,
)
from pipeline.workbook.layout import SHEETS, sheet_for
from tests.pipeline.validate.support import FILE, clean_sheets, product_ids, row_where


@dataclass(frozen=True)
class Case:
    sheet: str
    edits: dict[str, Any]
    expected: list[tuple[str, str]]  # (column, words the message must contain)
    select: dict[str, Any] = field(default_factory=dict)


CASES = {
    "modifier_id must be positive": Case(
        "Text modifiers", {"modifier_id": 0}, [("modifier_id", "positive whole number")]),
    "value_id must be positive": Case(
        "Choice values", {"value_id": -5}, [("value_id", "positive whole number")]),
    "product_id is required": Case(
        "Date modifiers", {"product_id": None}, [("product_id", "product_id is required")]),
    "display_name must not be blank": Case(
        "Text modifiers", {"display_name": "   "}, [("display_name", "display_name is required")]),
    "label is required": Case(
        "Swatch values", {"label": None}, [("label", "label is required")]),
    "label must not be only spaces": Case(
        "Choice values", {"label": "  "}, [("label", "label is required")]),
    "required is needed on a new modifier": Case(
        "Text modifiers", {"modifier_id": None, "required": None}, [("required", "on a new modifier")]),
    "action other than delete": Case(
        "File modifiers", {"action": "remove"}, [("action", "blank (keep or update the row) or delete")]),
    "delete needs a modifier id": Case(
        "Text modifiers", {"modifier_id": None, "action": "delete"}, [("action", "nothing in the store to delete")]),
    "delete needs a value id": Case(
        "Choice values", {"value_id": None, "action": "delete"}, [("action", "nothing in the store to delete")]),
    "sort_order is a 32-bit whole number": Case(
        "Number modifiers", {"sort_order": 2**31}, [("sort_order", "from -2147483648 to 2147483647")]),
    "sort_order is required on a new value": Case(
        "Choice values", {"value_id": None, "sort_order": None}, [("sort_order", "required on a new value")]),
    "date limit mode is one of its choices": Case(
        "Date modifiers", {"date_limit_mode": "sometimes"}, [("date_limit_mode", "one of: earliest, range, latest")]),
    "shipping calc is one of its choices": Case(
        "Product list modifiers", {"product_list_shipping_calc": "fast"},
        [("product_list_shipping_calc", "one of: none, weight, package")]),
    "file_max_size above the cap": Case(
        "File modifiers", {"file_max_size": 524289}, [("file_max_size", "from 0 to 524288 (KB)")]),
    "file_max_size negative": Case(
        "File modifiers", {"file_max_size": -1}, [("file_max_size", "from 0 to 524288 (KB)")]),
    "text length negative": Case(
        "Text modifiers", {"text_min_length": -1}, [("text_min_length", "0 or more")]),
    "min length above max length": Case(
        "Multi-line text modifiers", {"text_min_length": 50, "text_max_length": 10},
        [("text_min_length", "min length 50 is greater than max length 10")]),
    "max lines negative": Case(
        "Multi-line text modifiers", {"text_max_lines": -2}, [("text_max_lines", "0 or more")]),
    "lowest number above highest": Case(
        "Number modifiers", {"number_lowest_value": 20.0, "number_highest_value": 7.5},
        [("number_lowest_value", "lowest value 20 is greater than highest value 7.5")]),
    "number default must be a number": Case(
        "Number modifiers", {"default_value": "five"}, [("default_value", "must be a number")]),
    "date in a locale format": Case(
        "Date modifiers", {"date_latest_value": "31/12/2026"}, [("date_latest_value", "YYYY-MM-DD")]),
    "date as an Excel serial number": Case(
        "Date modifiers", {"default_value": "46096"}, [("default_value", "ISO-8601 date")]),
    "date that does not exist": Case(
        "Date modifiers", {"date_earliest_value": "2026-02-30"}, [("date_earliest_value", "ISO-8601 date")]),
    "date default is required": Case(
        "Date modifiers", {"default_value": None}, [("default_value", "required on a date modifier")]),
    "earliest date after latest": Case(
        "Date modifiers", {"date_earliest_value": "2030-01-01", "date_latest_value": "2029-12-31T00:00:00+00:00"},
        [("date_earliest_value", "is after date_latest_value")]),
    "a date range needs both ends": Case(
        "Date modifiers", {"date_limited": True, "date_limit_mode": "range", "date_latest_value": None},
        [("date_limit_mode", "range needs date_latest_value")]),
    "a number limit needs its mode": Case(
        "Number modifiers", {"number_limited": True, "number_limit_mode": None},
        [("number_limit_mode", "number_limit_mode is blank")]),
    "file type groups": Case(
        "File modifiers", {"file_types_supported": "images,pdf"}, [("file_types_supported", "images, documents, other")]),
    "file extensions without spaces": Case(
        "File modifiers", {"file_types_other": "stl, svg"}, [("file_types_other", "without spaces")]),
    "swatch colour by name": Case(
        "Swatch values", {"colors": "red"}, [("colors", "'red' is not one")]),
    "swatch colour with three digits": Case(
        "Swatch values", {"colors": "#fff"}, [("colors", "#fff with six digits: #ffffff")]),
    "swatch colours with a space": Case(
        "Swatch values", {"colors": "#ff0000, #00ff00"}, [("colors", "' #00ff00' has spaces around it")]),
    "four swatch colours": Case(
        "Swatch values", {"colors": "#000000,#111111,#222222,#333333"}, [("colors", "at most 3 colours; this one has 4")]),
    "price adjuster without amount": Case(
        "Choice values", {"price_adjuster": "relative", "price_adjuster_value": None},
        [("price_adjuster_value", "price_adjuster is relative but price_adjuster_value is blank")]),
    "weight amount without adjuster": Case(
        "Product list values", {"weight_adjuster": None, "weight_adjuster_value": 1.5},
        [("weight_adjuster", "weight_adjuster_value is 1.5 but weight_adjuster is blank")]),
    "price adjuster kind": Case(
        "Checkbox values", {"price_adjuster": "absolute", "price_adjuster_value": 2.0},
        [("price_adjuster", "one of: relative, percentage")]),
    "product list offering itself": Case(
        "Product list values", {"linked_product_id": "product_id"}, [("linked_product_id", "is the product itself")]),
    "product list target is required": Case(
        "Product list values", {"linked_product_id": None}, [("linked_product_id", "linked_product_id is required")]),
}


@pytest.mark.parametrize("case", CASES.values(), ids=CASES.keys())
def test_one_bad_cell_gives_exactly_its_issue(case: Case):
    sheets = clean_sheets()
    sheet = sheets[case.sheet]
    row = row_where(sheet, **case.select) if case.select else int(sheet.index[0])
    for column, value in case.edits.items():
        sheet.loc[row, column] = sheet.at[row, value] if value in sheet.columns else value
    issues = validate_sheets(sheets, file=FILE, known_product_ids=product_ids())
    assert [(i.sheet, i.row, i.column) for i in issues] == [(case.sheet, row, c) for c, _ in case.expected]
    for issue, (column, words) in zip(issues, case.expected, strict=True):
        assert words in issue.message, issue.message
        assert issue.file == FILE
        assert issue.value == shown_value(sheet.at[row, column])


@pytest.mark.parametrize("case", CASES.values(), ids=CASES.keys())
def test_frames_of_the_models_dtypes_skip_coercion_and_get_the_same_issues(case: Case, monkeypatch):
    sheets = clean_sheets()
    sheet = sheets[case.sheet]
    row = row_where(sheet, **case.select) if case.select else int(sheet.index[0])
    for column, value in case.edits.items():
        sheet.loc[row, column] = sheet.at[row, value] if value in sheet.columns else value
    spec = next(s for s in SHEETS if s.name == case.sheet)
    models = MODIFIER_MODELS if spec.kind == "modifiers" else VALUE_MODELS
    assert all(schemas._has_dtypes(sheet, models[t].to_schema()) for t in spec.types)
    without_coercion = validate_sheets(sheets, file=FILE, known_product_ids=product_ids())
    monkeypatch.setattr(schemas, "_has_dtypes", lambda frame, schema: False)
    assert validate_sheets(sheets, file=FILE, known_product_ids=product_ids()) == without_coercion


def test_a_config_field_of_another_type_must_be_blank():
    sheets = clean_sheets()
    text = sheets["Text modifiers"]
    text["text_max_lines"] = pd.array([None] * len(text), dtype="Int64")
    row = int(text.index[1])
    text.loc[row, "text_max_lines"] = 4
    issues = validate_sheets(sheets, file=FILE)
    assert [(i.sheet, i.row, i.column, i.value) for i in issues] == [("Text modifiers", row, "text_max_lines", "4")]
    assert issues[0].message == "text_max_lines does not apply to type text: leave it blank"


def test_swatch_values_cannot_be_the_default():
    sheets = clean_sheets()
    swatch = sheets["Swatch values"]
    swatch["is_default"] = pd.array([None] * len(swatch), dtype="boolean")
    row = int(swatch.index[0])
    swatch.loc[row, "is_default"] = True
    issues = validate_sheets(sheets, file=FILE)
    assert [(i.row, i.column, i.message) for i in issues] == [
        (row, "is_default", "is_default does not apply to type swatch: leave it blank")]


def test_a_blank_action_with_spaces_and_delete_in_any_case_are_accepted():
    sheets = clean_sheets()
    choice = sheets["Choice values"]
    choice.loc[choice.index[0], "action"] = "  "
    choice.loc[choice.index[1], "action"] = " DeLeTe "
    assert validate_sheets(sheets, file=FILE) == []


def test_a_row_marked_delete_is_only_checked_for_what_deleting_needs():
    sheets = clean_sheets()
    values = sheets["Swatch values"]
    row = int(values.index[0])
    values.loc[row, ["action", "label", "colors", "sort_order"]] = ["delete", None, "red", 2**40]
    assert validate_sheets(sheets, file=FILE) == []
    values.loc[row, "value_id"] = -1
    assert [(i.row, i.column) for i in validate_sheets(sheets, file=FILE)] == [(row, "value_id")]


def test_every_problem_of_a_row_is_reported_at_once():
    sheets = clean_sheets()
    files = sheets["File modifiers"]
    row = int(files.index[0])
    files.loc[row, ["file_max_size", "file_types_mode", "file_types_supported", "display_name", "sort_order"]] = [
        10**9, "some", "videos", None, -(2**31) - 1]
    issues = validate_sheets(sheets, file=FILE)
    assert {i.column for i in issues} == {"file_max_size", "file_types_mode", "file_types_supported",
                                          "display_name", "sort_order"}
    assert {i.row for i in issues} == {row}


def test_a_new_modifier_may_leave_ids_blank():
    sheets = clean_sheets()
    text = sheets["Text modifiers"]
    row = int(text.index[0])
    text.loc[row, ["modifier_id", "required", "sort_order"]] = [None, False, None]
    assert validate_sheets(sheets, file=FILE) == []


def test_dates_accept_the_two_documented_forms_and_nothing_else():
    texts = pd.Series(["2026-03-15", "2026-03-15T00:00:00+00:00", "2026-03-15T10:30:00-05:00",
                       "2026-03-15T10:30:00Z", "2026-3-15", "15/03/2026", "46096", "2026-03-15 00:00:00",
                       "2026-13-01", "2026-03-15T00:00:00"], dtype="string")
    assert parse_dates(texts).notna().tolist() == [True] * 4 + [False] * 6


def test_each_type_model_declares_exactly_its_config_fields():
    for type_name, spec in MODIFIER_TYPES.items():
        model = MODIFIER_MODELS[type_name]
        base = set(ModifierRowBase.own_columns())
        assert set(model.own_columns()) - base == set(spec.config_field_names), type_name
        assert set(model.own_columns()) <= set(sheet_for("modifiers", type_name).column_names)
        assert model.type_name() == type_name


def test_each_type_with_values_has_a_value_model_matching_its_sheet():
    assert set(VALUE_MODELS) == {t for t, spec in MODIFIER_TYPES.items() if spec.has_values}
    for type_name, model in VALUE_MODELS.items():
        assert issubclass(model, ValueRowBase)
        columns = set(sheet_for("values", type_name).column_names)
        assert set(model.own_columns()) == columns - {"product_sku", "product_name"}, type_name


def test_models_share_their_base_by_inheritance():
    assert issubclass(MODIFIER_MODELS["multi_line_text"], TextModifierRow)
    assert MODIFIER_MODELS["product_list_with_images"].__mro__[1] is MODIFIER_MODELS["product_list"]
    assert all(issubclass(m, ModifierRowBase) for m in MODIFIER_MODELS.values())


def test_every_named_rule_has_a_sentence_not_a_check_name():
    for name, rule in RULES.items():
        if name != "not_applicable":
            assert callable(rule.message) or " " in rule.message, name


def test_check_rows_reports_cells_that_are_not_of_their_column_kind():
    sheets = clean_sheets()
    rows = sheets["File modifiers"].astype({"file_max_size": object})
    first = int(rows.index[0])
    rows.loc[first, "file_max_size"] = "big"
    issues = check_rows(rows, MODIFIER_MODELS["file"], file=FILE, sheet="File modifiers")
    assert [(i.row, i.column, i.value) for i in issues] == [(first, "file_max_size", "big")]
    assert issues[0].message == "file_max_size must be a whole number from 0 to 524288 (KB)"


def test_check_rows_reports_a_missing_column_once_for_the_sheet():
    rows = clean_sheets()["Text modifiers"].drop(columns=["text_max_length"])
    issues = check_rows(rows, MODIFIER_MODELS["text"], file=FILE, sheet="Text modifiers")
    assert [(i.row, i.column, i.message) for i in issues] == [
        (None, "text_max_length", "column 'text_max_length' is missing")]


def test_a_model_used_alone_checks_the_type_of_its_rows():
    rows = clean_sheets()["Choice modifiers"]
    issues = check_rows(rows, MODIFIER_MODELS["dropdown"], file=FILE, sheet="Choice modifiers")
    others = rows.index[rows["type"] != "dropdown"].tolist()
    assert others and [(i.row, i.column) for i in issues] == [(r, "type") for r in others]
    assert issues[0].message == "this row's type must be dropdown"


def test_the_layout_sheets_are_all_covered_by_models():
    for spec in SHEETS:
        models = MODIFIER_MODELS if spec.kind == "modifiers" else VALUE_MODELS
        assert set(spec.types) <= set(models), spec.name
