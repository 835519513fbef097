"""Rules across rows and sheets: each edit of a clean catalog gives exactly the expected issues."""

from __future__ import annotations

import pandas as pd

from pipeline.modifier_types import MAX_VALUES_PER_MODIFIER
from pipeline.validate.cross_rows import NO_LINK, Tables, cross_row_issues
from pipeline.validate.run import validate_sheets
from tests.pipeline.validate.support import (
    FILE,
    append_rows,
    clean_sheets,
    places,
    product_ids,
    row_where,
    rows_where,
)

CHOICE_MODS, CHOICE_VALUES = "Choice modifiers", "Choice values"
CHECKBOX_MODS, CHECKBOX_VALUES = "Checkbox modifiers", "Checkbox values"


def _dropdown(sheets: dict[str, pd.DataFrame]) -> tuple[int, int, list[int]]:
    """(Excel row, modifier_id, value rows) of the first dropdown modifier with values."""
    mods = sheets[CHOICE_MODS]
    for row in rows_where(mods, type="dropdown"):
        modifier_id = int(mods.at[row, "modifier_id"])
        values = rows_where(sheets[CHOICE_VALUES], modifier_id=modifier_id)
        if len(values) >= 3:
            return row, modifier_id, values
    raise AssertionError("no dropdown with values")


def _checkbox(sheets: dict[str, pd.DataFrame]) -> tuple[int, int, list[int]]:
    row = int(sheets[CHECKBOX_MODS].index[0])
    modifier_id = int(sheets[CHECKBOX_MODS].at[row, "modifier_id"])
    return row, modifier_id, rows_where(sheets[CHECKBOX_VALUES], modifier_id=modifier_id)


def _issues(sheets, **kwargs):
    return validate_sheets(sheets, file=FILE, **kwargs)


def test_a_clean_catalog_links_every_value_by_id():
    tables = Tables(clean_sheets())
    assert (tables.link != NO_LINK).all() and tables.linked_by_id.all()
    assert cross_row_issues(clean_sheets(), file=FILE, known_product_ids=product_ids()) == []


def test_a_modifier_id_on_two_rows():
    sheets = clean_sheets()
    date_id = sheets["Date modifiers"]["modifier_id"].iloc[0]
    text_row = int(sheets["Text modifiers"].index[0])
    sheets["Text modifiers"].loc[text_row, "modifier_id"] = date_id
    issues = _issues(sheets)
    assert places(issues) == [("Text modifiers", text_row, "modifier_id")]
    assert issues[0].message == (f"modifier_id {date_id} is also on 'Date modifiers' row 2: each modifier must "
                                 "have exactly one row")


def test_a_value_id_on_two_rows():
    sheets = clean_sheets()
    _, _, values = _dropdown(sheets)
    choice = sheets[CHOICE_VALUES]
    choice.loc[values[1], "value_id"] = choice.at[values[0], "value_id"]
    issues = _issues(sheets)
    assert places(issues) == [(CHOICE_VALUES, values[1], "value_id")]
    assert f"is also on 'Choice values' row {values[0]}" in issues[0].message


def test_values_whose_modifier_row_is_gone_belong_to_no_modifier():
    sheets = clean_sheets()
    row, modifier_id, values = _dropdown(sheets)
    sheets[CHOICE_MODS] = sheets[CHOICE_MODS].drop(index=row)
    issues = _issues(sheets)
    assert places(issues) == [(CHOICE_VALUES, r, "modifier_id") for r in values]
    assert issues[0].message.startswith(f"this value belongs to no modifier: no modifier row has modifier_id "
                                        f"{modifier_id}, and product")


def test_a_new_value_whose_display_name_matches_no_modifier():
    sheets = clean_sheets()
    _, _, values = _dropdown(sheets)
    choice = sheets[CHOICE_VALUES]
    choice.loc[values[0], ["modifier_id", "value_id", "display_name"]] = [None, None, "Materail"]
    issues = _issues(sheets)
    assert places(issues) == [(CHOICE_VALUES, values[0], "display_name")]
    assert "has no modifier row named 'Materail'" in issues[0].message


def test_a_new_value_with_neither_modifier_id_nor_display_name():
    sheets = clean_sheets()
    _, _, values = _dropdown(sheets)
    sheets[CHOICE_VALUES].loc[values[0], ["modifier_id", "value_id", "display_name"]] = None
    issues = _issues(sheets)
    assert places(issues) == [(CHOICE_VALUES, values[0], "display_name")]
    assert "it has neither modifier_id nor display_name" in issues[0].message


def test_a_new_modifier_and_its_new_values_link_by_display_name():
    sheets = clean_sheets()
    product = int(sheets[CHOICE_MODS]["product_id"].iloc[0])
    sheets[CHOICE_MODS] = append_rows(sheets[CHOICE_MODS], [
        {"product_id": product, "display_name": "Engraving font", "type": "rectangles", "required": True}])
    sheets[CHOICE_VALUES] = append_rows(sheets[CHOICE_VALUES], [
        {"product_id": product, "display_name": " Engraving font ", "type": "rectangles", "label": label,
         "sort_order": n, "is_default": n == 0} for n, label in enumerate(("Serif", "Sans", "Script"))])
    assert _issues(sheets) == []
    tables = Tables(sheets)
    new_modifier = tables.modifiers.index[(tables.modifiers["sheet"] == CHOICE_MODS)
                                          & (tables.modifiers["row"] == sheets[CHOICE_MODS].index[-1])]
    new_values = ((tables.values["sheet"] == CHOICE_VALUES)
                  & tables.values["row"].isin(sheets[CHOICE_VALUES].index[-3:])).to_numpy()
    assert (tables.link[new_values] == new_modifier[0]).all() and not tables.linked_by_id[new_values].any()


def test_a_modifier_id_that_contradicts_the_display_name():
    sheets = clean_sheets()
    _, modifier_id, values = _dropdown(sheets)
    sheets[CHOICE_VALUES].loc[values[0], "modifier_id"] = 999_999
    issues = _issues(sheets)
    assert places(issues) == [(CHOICE_VALUES, values[0], "modifier_id")]
    assert issues[0].message.startswith("no modifier row has modifier_id 999999, but the modifier named")
    assert f"has modifier_id {modifier_id}" in issues[0].message


def test_the_values_of_a_new_modifier_are_new():
    sheets = clean_sheets()
    row, _, values = _dropdown(sheets)
    sheets[CHOICE_MODS].loc[row, "modifier_id"] = None
    sheets[CHOICE_VALUES].loc[values, "modifier_id"] = None
    issues = _issues(sheets)
    assert places(issues) == [(CHOICE_VALUES, r, "value_id") for r in values]
    assert "so this value is new too: clear value_id" in issues[0].message


def test_a_value_on_another_product_than_its_modifier():
    sheets = clean_sheets()
    _, _, values = _dropdown(sheets)
    choice = sheets[CHOICE_VALUES]
    product = int(choice.at[values[0], "product_id"])
    choice.loc[values[0], "product_id"] = product + 1
    issues = _issues(sheets)
    assert places(issues) == [(CHOICE_VALUES, values[0], "product_id")]
    assert issues[0].message.endswith(f"is on product {product}")


def test_a_value_of_another_type_than_its_modifier():
    sheets = clean_sheets()
    _, _, values = _dropdown(sheets)
    sheets[CHOICE_VALUES].loc[values[0], "type"] = "radio_buttons"
    issues = _issues(sheets)
    assert places(issues) == [(CHOICE_VALUES, values[0], "type")]
    assert issues[0].message.startswith("type radio_buttons differs from its modifier's type dropdown")


def test_a_value_row_for_a_type_without_values():
    sheets = clean_sheets()
    _, _, values = _dropdown(sheets)
    text = sheets["Text modifiers"]
    text_id = int(text["modifier_id"].iloc[0])
    choice = sheets[CHOICE_VALUES]
    choice.loc[values[0], ["product_id", "modifier_id"]] = [int(text["product_id"].iloc[0]), text_id]
    issues = _issues(sheets)
    assert places(issues) == [(CHOICE_VALUES, values[0], "type")]
    assert "is a text modifier, which has no values: remove this row" in issues[0].message


def test_two_defaults_in_one_modifier():
    sheets = clean_sheets()
    _, _, values = _dropdown(sheets)
    choice = sheets[CHOICE_VALUES]
    choice.loc[values, "is_default"] = False
    choice.loc[[values[0], values[2]], "is_default"] = True
    issues = _issues(sheets)
    assert places(issues) == [(CHOICE_VALUES, values[2], "is_default")]
    assert f"already has its default on 'Choice values' row {values[0]}" in issues[0].message


def test_a_deleted_default_does_not_count():
    sheets = clean_sheets()
    _, _, values = _dropdown(sheets)
    choice = sheets[CHOICE_VALUES]
    choice.loc[values[:2], "is_default"] = True
    choice.loc[values[0], "action"] = "delete"
    assert _issues(sheets) == []


def test_labels_repeat_within_a_modifier_even_with_spaces_around():
    sheets = clean_sheets()
    _, _, values = _dropdown(sheets)
    choice = sheets[CHOICE_VALUES]
    choice.loc[values[2], "label"] = f"  {choice.at[values[0], 'label']} "
    issues = _issues(sheets)
    assert places(issues) == [(CHOICE_VALUES, values[2], "label")]
    assert f"is already used by 'Choice values' row {values[0]}" in issues[0].message


def test_labels_differing_in_case_are_distinct():
    sheets = clean_sheets()
    _, _, values = _dropdown(sheets)
    choice = sheets[CHOICE_VALUES]
    choice.loc[values[0], "label"] = "Zebrano"
    choice.loc[values[1], "label"] = "zebrano"
    assert _issues(sheets) == []


def test_display_names_repeat_within_a_product():
    sheets = clean_sheets()
    mods = sheets[CHOICE_MODS]
    product = next(p for p, n in mods["product_id"].value_counts().items() if n >= 2)
    first, second = rows_where(mods, product_id=product)[:2]
    mods.loc[second, "display_name"] = mods.at[first, "display_name"]
    issues = _issues(sheets)
    assert places(issues) == [(CHOICE_MODS, second, "display_name")]
    assert f"product {product} already has a modifier named" in issues[0].message


def test_at_most_250_values_per_modifier():
    sheets = clean_sheets()
    row, modifier_id, values = _dropdown(sheets)
    choice = sheets[CHOICE_VALUES]
    template = choice.loc[values[0]].to_dict()
    extra = MAX_VALUES_PER_MODIFIER + 1 - len(values)
    sheets[CHOICE_VALUES] = append_rows(choice, [
        template | {"value_id": None, "label": f"Extra {n}", "sort_order": 100 + n, "is_default": False}
        for n in range(extra)])
    issues = _issues(sheets)
    assert places(issues) == [(CHOICE_MODS, row, None)]
    assert issues[0].message == "this modifier has 251 values; at most 250 are allowed per modifier"


def test_checkbox_values_cannot_be_deleted():
    sheets = clean_sheets()
    _, _, values = _checkbox(sheets)
    sheets[CHECKBOX_VALUES].loc[values[0], "action"] = "delete"
    issues = _issues(sheets)
    assert places(issues) == [(CHECKBOX_VALUES, values[0], "action")]
    assert "cannot be deleted: delete the checkbox modifier" in issues[0].message


def test_checkbox_values_cannot_be_added():
    sheets = clean_sheets()
    _, _, values = _checkbox(sheets)
    template = sheets[CHECKBOX_VALUES].loc[values[0]].to_dict()
    sheets[CHECKBOX_VALUES] = append_rows(sheets[CHECKBOX_VALUES], [
        template | {"value_id": None, "label": "Maybe", "is_default": False}])
    new_row = int(sheets[CHECKBOX_VALUES].index[-1])
    issues = _issues(sheets)
    assert places(issues) == [(CHECKBOX_VALUES, new_row, "value_id")]
    assert "a new one cannot be added" in issues[0].message


def test_a_checkbox_keeps_both_of_its_values():
    sheets = clean_sheets()
    row, _, values = _checkbox(sheets)
    sheets[CHECKBOX_VALUES] = sheets[CHECKBOX_VALUES].drop(index=values[1])
    issues = _issues(sheets)
    assert places(issues) == [(CHECKBOX_MODS, row, None)]
    assert issues[0].message.endswith("found 1: 1 TRUE, 0 FALSE")


def test_a_checkbox_has_one_ticked_and_one_unticked_value():
    sheets = clean_sheets()
    row, _, values = _checkbox(sheets)
    sheets[CHECKBOX_VALUES].loc[values, "checked_value"] = True
    issues = _issues(sheets)
    assert places(issues) == [(CHECKBOX_MODS, row, None)]
    assert "found 2: 2 TRUE, 0 FALSE" in issues[0].message


def test_a_blank_checked_value_is_reported_on_the_cell_and_the_modifier():
    sheets = clean_sheets()
    row, _, values = _checkbox(sheets)
    sheets[CHECKBOX_VALUES].loc[values[0], "checked_value"] = None
    issues = _issues(sheets)
    assert places(issues) == [(CHECKBOX_MODS, row, None), (CHECKBOX_VALUES, values[0], "checked_value")]


def test_a_new_checkbox_may_leave_out_its_values_or_give_both():
    sheets = clean_sheets()
    row, _, values = _checkbox(sheets)
    sheets[CHECKBOX_MODS].loc[row, "modifier_id"] = None
    sheets[CHECKBOX_VALUES] = sheets[CHECKBOX_VALUES].drop(index=values)
    assert _issues(sheets) == []

    sheets = clean_sheets()
    sheets[CHECKBOX_MODS].loc[row, "modifier_id"] = None
    sheets[CHECKBOX_VALUES].loc[values, ["modifier_id", "value_id"]] = None
    assert _issues(sheets) == []

    sheets[CHECKBOX_VALUES] = sheets[CHECKBOX_VALUES].drop(index=values[0])
    issues = _issues(sheets)
    assert places(issues) == [(CHECKBOX_MODS, row, None)]
    assert issues[0].message.startswith("a new checkbox gets its two values from the store")


def test_deleting_a_modifier_whose_values_are_kept():
    sheets = clean_sheets()
    row, _, values = _dropdown(sheets)
    sheets[CHOICE_MODS].loc[row, "action"] = "delete"
    issues = _issues(sheets)
    assert places(issues) == [(CHOICE_MODS, row, "action")]
    assert issues[0].message.startswith(f"deleting this modifier also deletes its values, but {len(values)} of "
                                        "them are not marked delete")
    sheets[CHOICE_VALUES].loc[values, "action"] = "delete"
    assert _issues(sheets) == []


def test_deleting_a_checkbox_with_its_values():
    sheets = clean_sheets()
    row, _, values = _checkbox(sheets)
    sheets[CHECKBOX_MODS].loc[row, "action"] = "delete"
    sheets[CHECKBOX_VALUES].loc[values, "action"] = "delete"
    assert _issues(sheets) == []


def test_a_product_list_value_offers_a_product_of_the_store():
    sheets = clean_sheets()
    values = sheets["Product list values"]
    row = int(values.index[0])
    values.loc[row, "linked_product_id"] = 99_999
    issues = _issues(sheets, known_product_ids=product_ids())
    assert places(issues) == [("Product list values", row, "linked_product_id")]
    assert issues[0].message.startswith("product 99999 does not exist in the store")
    assert _issues(sheets) == []  # without the store's ids the check is skipped


def test_row_where_finds_rows_by_content():
    sheets = clean_sheets()
    row, modifier_id, _ = _dropdown(sheets)
    assert row_where(sheets[CHOICE_MODS], modifier_id=modifier_id) == row
