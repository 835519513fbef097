"""build_plan on hand-built sheets and store states: one test per rule."""

from __future__ import annotations

import json

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline.normalise import products_to_frames
from pipeline.plan.diff import (
    ALREADY_DELETED,
    CHANGED_CONFLICT,
    DELETE_CONFLICT,
    GONE_CONFLICT,
    GONE_KEPT_REASON,
    KEPT_IMAGE_REASON,
    KEPT_REASON,
    build_plan,
    is_local_image,
    same,
)
from pipeline.plan.operations import Change, OpKind, Plan, RowRef
from pipeline.workbook.meta import ExportMeta
from pipeline.workbook.split import frames_to_sheets
from sample_data.generator import as_api_products, generate_catalog
from tests.pipeline.plan.support import Scenario, kinds, only, total_rows

CHOICE_MODS, CHOICE_VALUES = "Choice modifiers", "Choice values"
CHECKBOX_MODS, CHECKBOX_VALUES = "Checkbox modifiers", "Checkbox values"
SWATCH_VALUES, LIST_VALUES = "Swatch values", "Product list values"


# --- nothing to do -------------------------------------------------------------------------------------


@pytest.mark.parametrize("prune", [False, True])
def test_untouched_export_plans_nothing(prune: bool) -> None:
    scenario = Scenario()
    plan = scenario.plan(prune=prune)
    assert plan.operations == [] and plan.conflicts == [] and plan.skipped == [] and plan.blanked == []
    assert plan.unchanged == total_rows(scenario.sheets)
    assert plan.product_ids == [1, 2, 3]
    assert (plan.store_hash, plan.workbook, plan.pruned, plan.forced) == ("store", "edited.xlsx", prune, False)


@settings(max_examples=8, deadline=None)
@given(n_products=st.integers(1, 30), seed=st.integers(0, 10_000))
def test_untouched_generated_catalog_plans_nothing(n_products: int, seed: int) -> None:
    scenario = Scenario(as_api_products(generate_catalog(n_products, seed=seed)))
    plan = scenario.plan(prune=True)
    assert plan.operations == [] and plan.conflicts == [] and plan.skipped == []
    assert plan.unchanged == total_rows(scenario.sheets)


def test_numbers_within_spreadsheet_precision_are_unchanged() -> None:
    scenario = Scenario()
    scenario.edit(CHOICE_VALUES, {"value_id": 102}, price_adjuster_value=2.5000000000000004)
    scenario.edit("Number modifiers", {"modifier_id": 21}, number_highest_value=99.25 * (1 + 1e-12))
    assert scenario.plan().operations == []
    assert same(1.0, 1.0 + 1e-12) and not same(1.0, 1.0 + 1e-6) and same(None, None) and not same(None, "")
    assert not same(True, 1.0) and not same("a", "b")


def test_blank_in_a_field_the_store_always_has_keeps_the_store_value() -> None:
    scenario = Scenario()
    scenario.edit(CHOICE_MODS, {"modifier_id": 10}, required=None, sort_order=None)
    scenario.edit(CHOICE_VALUES, {"value_id": 100}, is_default=None, sort_order=None, purchasing_disabled=None)
    plan = scenario.plan()
    assert plan.operations == [] and plan.blanked == []


# --- updates ---------------------------------------------------------------------------------------------


def test_modifier_update_sends_the_complete_body_the_spec_requires() -> None:
    scenario = Scenario()
    row = scenario.edit(CHOICE_MODS, {"modifier_id": 10}, required=False, display_name="Size (EU)")
    op = only(scenario.plan())
    assert op.kind is OpKind.UPDATE_MODIFIER
    assert (op.product_id, op.modifier_id, op.value_id, op.display_name, op.modifier_type) == \
        (1, 10, None, "Size (EU)", "dropdown")
    # the spec requires `type` and `required` in a modifier PUT; the rest of the row goes too, so the
    # store gets the whole modifier as the row says it should be
    assert op.payload == {"type": "dropdown", "required": False, "display_name": "Size (EU)", "sort_order": 0}
    assert op.changes == [Change("display_name", "Size", "Size (EU)"), Change("required", True, False)]
    assert op.source == RowRef(CHOICE_MODS, row)


def test_config_changes_send_the_whole_config_and_a_blank_uses_the_specs_empty_form() -> None:
    scenario = Scenario()
    text_row = scenario.edit("Text modifiers", {"modifier_id": 12}, text_max_length=30, default_value=None)
    file_row = scenario.edit("File modifiers", {"modifier_id": 23}, file_types_supported=None, file_max_size=2048)
    date_row = scenario.edit("Date modifiers", {"modifier_id": 22}, default_value="2026-03-15T00:00:00+00:00")
    plan = scenario.plan()
    by_id = {op.modifier_id: op for op in plan.operations}
    assert kinds(plan) == [OpKind.UPDATE_MODIFIER] * 3
    assert by_id[12].payload == {"type": "text", "required": False, "display_name": "Engraving", "sort_order": 2,
                                 "config": {"default_value": "", "text_characters_limited": True,
                                            "text_min_length": 1, "text_max_length": 30}}
    assert by_id[23].payload == {"type": "file", "required": False, "display_name": "Artwork", "sort_order": 3,
                                 "config": {"file_types_mode": "specific", "file_types_supported": [],
                                            "file_types_other": [], "file_max_size": 2048}}
    assert by_id[22].payload == {"type": "date", "required": False, "display_name": "Delivery", "sort_order": 2,
                                 "config": {"default_value": "2026-03-15T00:00:00+00:00", "date_limited": False}}
    assert plan.blanked == [(RowRef("File modifiers", file_row), "file_types_supported"),  # workbook order
                            (RowRef("Text modifiers", text_row), "default_value")]
    assert date_row not in [ref.row for ref, _ in plan.blanked if ref.sheet == "Date modifiers"]


def test_value_updates_send_label_sort_order_and_every_field_of_the_row() -> None:
    scenario = Scenario()
    scenario.edit(CHOICE_VALUES, {"value_id": 101}, label="Mid", price_adjuster="percentage",
                  price_adjuster_value=5.0)
    scenario.edit(SWATCH_VALUES, {"value_id": 131}, colors="#0000ff")
    scenario.edit(LIST_VALUES, {"value_id": 200}, linked_product_id=3, purchasing_disabled=True,
                  purchasing_disabled_message="Sold out")
    plan = scenario.plan()
    by_id = {op.value_id: op for op in plan.operations}
    assert kinds(plan) == [OpKind.UPDATE_VALUE] * 3
    not_disabled = {"purchasing_disabled": {"status": False, "message": ""}}
    assert by_id[101].payload == {"label": "Mid", "sort_order": 1, "is_default": False, "adjusters": {
        "price": {"adjuster": "percentage", "adjuster_value": 5.0}, **not_disabled}}
    assert (by_id[101].label, by_id[101].modifier_id, by_id[101].display_name) == ("Mid", 10, "Size")
    # a swatch value has no is_default (the spec: not supported for swatches)
    assert by_id[131].payload == {"label": "Blue", "sort_order": 1, "value_data": {"colors": ["#0000ff"]},
                                  "adjusters": not_disabled}
    assert by_id[200].payload == {"label": "Alpha", "sort_order": 0, "is_default": False,
                                  "value_data": {"product_id": 3},
                                  "adjusters": {"purchasing_disabled": {"status": True, "message": "Sold out"}}}
    assert not any("image_url" in op.payload.get("adjusters", {}) for op in plan.operations)


def test_clearing_an_adjuster_sends_the_nullable_form_and_is_listed_as_blanked() -> None:
    scenario = Scenario()
    large = scenario.edit(CHOICE_VALUES, {"value_id": 102}, price_adjuster=None, price_adjuster_value=None)
    plan = scenario.plan()
    (op,) = plan.operations
    assert op.payload == {"label": "Large", "sort_order": 2, "is_default": False, "adjusters": {
        "price": {"adjuster": None}, "purchasing_disabled": {"status": False, "message": ""}}}
    assert plan.blanked == [(RowRef(CHOICE_VALUES, large), "price_adjuster"),
                            (RowRef(CHOICE_VALUES, large), "price_adjuster_value")]


def test_fields_the_api_cannot_empty_are_refused_not_sent_in_an_invented_form() -> None:
    scenario = Scenario()
    red = scenario.edit(SWATCH_VALUES, {"value_id": 130}, image_url=None)
    number = scenario.edit("Number modifiers", {"modifier_id": 21}, number_highest_value=None)
    plan = scenario.plan()
    assert plan.operations == [] and plan.blanked == []
    reasons = {skip.source: skip.reason for skip in plan.skipped}
    assert "no way to remove a value's image" in reasons[RowRef(SWATCH_VALUES, red)]
    assert "no way to empty number_highest_value" in reasons[RowRef("Number modifiers", number)]


def test_a_changed_web_image_link_is_uploaded_through_the_image_endpoint() -> None:
    scenario = Scenario()
    scenario.edit(SWATCH_VALUES, {"value_id": 130}, image_url="https://cdn.test/crimson.png")
    op = only(scenario.plan())
    assert op.kind is OpKind.UPLOAD_IMAGE and op.payload == {}
    assert (op.value_id, op.image) == (130, "https://cdn.test/crimson.png")


def test_a_date_typed_equal_to_the_stores_plans_nothing_and_dates_are_sent_as_atom() -> None:
    scenario = Scenario()
    stored = scenario.store_modifier(22)["config"]["default_value"]
    scenario.edit("Date modifiers", {"modifier_id": 22}, default_value=stored[:10])
    assert scenario.plan().operations == []
    scenario.edit("Date modifiers", {"modifier_id": 22}, default_value="2027-04-01", display_name="When")
    op = only(scenario.plan())
    assert op.payload["config"]["default_value"] == "2027-04-01T00:00:00+00:00"
    assert op.payload["display_name"] == "When" and op.payload["type"] == "date"


def test_type_change_is_refused_and_its_values_left_alone() -> None:
    scenario = Scenario()
    row = scenario.edit(CHOICE_MODS, {"modifier_id": 10}, type="rectangles")
    scenario.edit(CHOICE_VALUES, {"value_id": 101}, label="Mid")
    plan = scenario.plan(force=True)
    assert plan.operations == [] and plan.conflicts == []
    assert plan.skipped[0].source == RowRef(CHOICE_MODS, row)
    assert "type of a modifier cannot change" in plan.skipped[0].reason
    assert len(plan.skipped) == 4  # the modifier and its three values


# --- who changed what since the export -------------------------------------------------------------------


def test_row_changed_only_in_the_store_is_kept_as_the_store_has_it() -> None:
    scenario = Scenario()
    scenario.store_modifier(12)["config"]["text_max_length"] = 50
    scenario.store_value(101)["label"] = "Regular"
    plan = scenario.plan(force=True)
    assert plan.operations == [] and plan.conflicts == []
    assert [(s.source.sheet, s.reason) for s in plan.skipped] == [("Text modifiers", KEPT_REASON),
                                                                 (CHOICE_VALUES, KEPT_REASON)]


def test_row_changed_by_both_is_a_conflict_unless_forced() -> None:
    scenario = Scenario()
    scenario.store_value(101)["label"] = "Regular"
    row = scenario.edit(CHOICE_VALUES, {"value_id": 101}, label="Mid")
    plan = scenario.plan()
    assert plan.operations == [] and plan.skipped == []
    (conflict,) = plan.conflicts
    assert (conflict.source, conflict.kind, conflict.entity_id, conflict.message, conflict.fields) == \
        (RowRef(CHOICE_VALUES, row), "value", 101, CHANGED_CONFLICT, ["label"])
    forced = scenario.plan(force=True)
    assert forced.forced and len(forced.conflicts) == 1
    op = only(forced)
    assert (op.kind, op.payload["label"], op.changes) == (OpKind.UPDATE_VALUE, "Mid",
                                                          [Change("label", "Regular", "Mid")])


def test_a_store_change_to_another_field_of_an_edited_row_is_a_conflict() -> None:
    scenario = Scenario()
    scenario.store_modifier(10)["sort_order"] = 9
    scenario.edit(CHOICE_MODS, {"modifier_id": 10}, required=False)
    plan = scenario.plan()
    assert plan.operations == [] and plan.conflicts[0].fields == ["required", "sort_order"]
    op = only(scenario.plan(force=True))
    # forced: the row wins on every field
    assert op.payload == {"type": "dropdown", "required": False, "display_name": "Size", "sort_order": 0}


def test_row_edited_to_what_the_store_already_has_costs_nothing() -> None:
    scenario = Scenario()
    scenario.store_value(101)["label"] = "Mid"
    scenario.edit(CHOICE_VALUES, {"value_id": 101}, label="Mid")
    plan = scenario.plan()
    assert plan.operations == [] and plan.conflicts == [] and plan.unchanged == total_rows(scenario.sheets)


def test_rows_of_entities_deleted_in_the_store() -> None:
    scenario = Scenario()
    scenario.remove_modifier(12)
    scenario.remove_value(101)
    scenario.remove_value(131)
    untouched = scenario.row("Text modifiers", modifier_id=12)
    edited = scenario.edit(CHOICE_VALUES, {"value_id": 101}, label="Mid")
    deleted = scenario.edit(SWATCH_VALUES, {"value_id": 131}, action="delete")
    plan = scenario.plan()
    assert plan.operations == []
    assert [(s.source, s.reason) for s in plan.skipped] == [
        (RowRef("Text modifiers", untouched), GONE_KEPT_REASON), (RowRef(SWATCH_VALUES, deleted), ALREADY_DELETED)]
    assert [(c.source, c.entity_id, c.message) for c in plan.conflicts] == [
        (RowRef(CHOICE_VALUES, edited), 101, GONE_CONFLICT)]
    op = only(scenario.plan(force=True))  # forced: the edited value is created again
    assert (op.kind, op.modifier_id, op.label, op.payload["label"]) == (OpKind.CREATE_VALUE, 10, "Mid", "Mid")


def test_a_modifier_deleted_in_the_store_and_edited_is_created_again_when_forced() -> None:
    scenario = Scenario()
    scenario.remove_modifier(10)
    scenario.edit(CHOICE_MODS, {"modifier_id": 10}, required=False)
    plan = scenario.plan()
    assert plan.operations == [] and len(plan.conflicts) == 1 and len(plan.skipped) == 3  # its values
    assert all("not in the store any more" in s.reason for s in plan.skipped)
    op = only(scenario.plan(force=True))
    assert op.kind is OpKind.CREATE_MODIFIER and op.modifier_id is None
    assert [v["label"] for v in op.payload["option_values"]] == ["Small", "Medium", "Large"]


def test_deleting_a_row_the_store_changed_is_a_conflict() -> None:
    scenario = Scenario()
    scenario.store_value(300)["sort_order"] = 5
    row = scenario.edit(CHOICE_VALUES, {"value_id": 300}, action="delete")
    plan = scenario.plan()
    assert plan.operations == [] and [(c.source, c.message) for c in plan.conflicts] == \
        [(RowRef(CHOICE_VALUES, row), DELETE_CONFLICT)]
    assert only(scenario.plan(force=True)).kind is OpKind.DELETE_VALUE


def test_rows_without_export_fingerprints_are_the_persons_changes() -> None:
    scenario = Scenario()
    scenario.meta = ExportMeta("store", "https://api.test/stores/store/v3")
    scenario.store_value(101)["label"] = "Regular"
    scenario.edit(CHOICE_VALUES, {"value_id": 101}, label="Mid")
    plan = scenario.plan()
    assert only(plan).payload["label"] == "Mid" and plan.conflicts == []
    assert build_plan(scenario.sheets, None, scenario.current, workbook="x").operations[0].payload["label"] == "Mid"


# --- deletes ---------------------------------------------------------------------------------------------


def test_deleting_a_modifier_deletes_its_values_with_it() -> None:
    scenario = Scenario()
    scenario.edit(CHOICE_MODS, {"modifier_id": 10}, action="delete")
    rows = [scenario.edit(CHOICE_VALUES, {"value_id": v}, action=" Delete ") for v in (100, 101, 102)]
    op = only(scenario.plan())
    assert (op.kind, op.modifier_id, op.display_name, op.payload) == (OpKind.DELETE_MODIFIER, 10, "Size", {})
    assert op.value_rows == {"Small": RowRef(CHOICE_VALUES, rows[0]), "Medium": RowRef(CHOICE_VALUES, rows[1]),
                             "Large": RowRef(CHOICE_VALUES, rows[2])}


def test_delete_value() -> None:
    scenario = Scenario()
    row = scenario.edit(SWATCH_VALUES, {"value_id": 131}, action="delete")
    op = only(scenario.plan())
    assert (op.kind, op.modifier_id, op.value_id, op.label, op.source) == \
        (OpKind.DELETE_VALUE, 13, 131, "Blue", RowRef(SWATCH_VALUES, row))


def test_absent_rows_are_deleted_only_with_prune() -> None:
    scenario = Scenario()
    scenario.drop("Text modifiers", modifier_id=12)
    scenario.drop(CHOICE_VALUES, value_id=101)
    for sheet, column in ((CHOICE_MODS, "modifier_id"), (CHOICE_VALUES, "modifier_id")):
        scenario.sheets[sheet] = scenario.sheets[sheet][scenario.sheets[sheet]["product_id"] != 3]
    assert scenario.plan().operations == []
    plan = scenario.plan(prune=True)
    assert [(op.kind, op.modifier_id, op.value_id, op.source) for op in plan.operations] == [
        (OpKind.DELETE_VALUE, 10, 101, None), (OpKind.DELETE_MODIFIER, 12, None, None)]
    # product 3 has no row left: it is not touched, so nothing of it is pruned


def test_prune_spares_values_claimed_by_natural_key_and_checkbox_values() -> None:
    scenario = Scenario()
    scenario.edit(CHOICE_VALUES, {"value_id": 100}, value_id=None)  # matched by label instead
    scenario.drop(CHECKBOX_VALUES, value_id=110)
    scenario.drop(CHECKBOX_VALUES, value_id=111)
    plan = scenario.plan(prune=True)
    assert plan.operations == []


# --- creates ---------------------------------------------------------------------------------------------


def new_dropdown(scenario: Scenario, with_image: str | None = None) -> tuple[int, list[int]]:
    mod = scenario.append(CHOICE_MODS, product_id=3, display_name="Handle", type="dropdown", required=True,
                          sort_order=1)
    values = [scenario.append(CHOICE_VALUES, product_id=3, display_name="Handle", type="dropdown", label=label,
                              sort_order=n, is_default=n == 0, price_adjuster="relative" if n else None,
                              price_adjuster_value=1.25 if n else None, image_url=with_image if n else None)
              for n, label in enumerate(("Short", "Long"))]
    return mod, values


def test_new_modifier_carries_its_values_inline() -> None:
    scenario = Scenario()
    mod, values = new_dropdown(scenario)
    op = only(scenario.plan())
    assert (op.kind, op.product_id, op.display_name, op.modifier_type, op.source) == \
        (OpKind.CREATE_MODIFIER, 3, "Handle", "dropdown", RowRef(CHOICE_MODS, mod))
    assert op.payload == {"type": "dropdown", "required": True, "display_name": "Handle", "sort_order": 1,
                          "option_values": [
                              {"label": "Short", "sort_order": 0, "is_default": True},
                              {"label": "Long", "sort_order": 1, "is_default": False,
                               "adjusters": {"price": {"adjuster": "relative", "adjuster_value": 1.25}}}]}
    assert op.value_rows == {"Short": RowRef(CHOICE_VALUES, values[0]), "Long": RowRef(CHOICE_VALUES, values[1])}
    assert Change("display_name", None, "Handle") in op.changes


def test_new_value_under_an_existing_modifier() -> None:
    scenario = Scenario()
    row = scenario.append(LIST_VALUES, product_id=2, modifier_id=20, display_name="Add-on", type="product_list",
                          label="Gamma", sort_order=1, linked_product_id=3)
    op = only(scenario.plan())
    assert (op.kind, op.modifier_id, op.value_id, op.label, op.source) == \
        (OpKind.CREATE_VALUE, 20, None, "Gamma", RowRef(LIST_VALUES, row))
    assert op.payload["value_data"] == {"product_id": 3} and op.payload["label"] == "Gamma"


def test_new_checkbox_is_created_bare_and_its_values_updated_after() -> None:
    scenario = Scenario()
    mod = scenario.append(CHECKBOX_MODS, product_id=3, display_name="Insurance", type="checkbox", required=False,
                          checked_by_default=False, checkbox_label="Insure it")
    yes = scenario.append(CHECKBOX_VALUES, product_id=3, display_name="Insurance", type="checkbox", label="Yes",
                          sort_order=0, is_default=False, checked_value=True, price_adjuster="relative",
                          price_adjuster_value=4.0)
    no = scenario.append(CHECKBOX_VALUES, product_id=3, display_name="Insurance", type="checkbox", label="No",
                         sort_order=1, is_default=True, checked_value=False)
    plan = scenario.plan()
    create, update = plan.operations
    assert create.kind is OpKind.CREATE_MODIFIER and "option_values" not in create.payload
    assert create.payload["config"] == {"checked_by_default": False, "checkbox_label": "Insure it"}
    assert create.value_rows == {"Yes": RowRef(CHECKBOX_VALUES, yes), "No": RowRef(CHECKBOX_VALUES, no)}
    assert create.source == RowRef(CHECKBOX_MODS, mod)
    assert (update.kind, update.depends_on, update.value_id, update.label, update.payload) == (
        OpKind.UPDATE_VALUE, create.op_id, None, "Yes",
        {"label": "Yes", "sort_order": 0, "is_default": False, "adjusters": {  # no value_data: generated
            "price": {"adjuster": "relative", "adjuster_value": 4.0},
            "purchasing_disabled": {"status": False, "message": ""}}})


def test_new_checkbox_without_value_rows_is_one_create() -> None:
    scenario = Scenario()
    scenario.append(CHECKBOX_MODS, product_id=3, display_name="Insurance", type="checkbox", required=True)
    op = only(scenario.plan())
    assert op.kind is OpKind.CREATE_MODIFIER and op.payload["required"] is True


def test_rows_without_ids_match_the_store_by_natural_key() -> None:
    """A re-run after a partial apply: what was created is found and not created twice."""
    scenario = Scenario()
    scenario.edit(CHOICE_MODS, {"modifier_id": 10}, modifier_id=None, required=False)
    for value_id in (100, 101, 102):
        scenario.edit(CHOICE_VALUES, {"value_id": value_id}, modifier_id=None, value_id=None)
    scenario.edit(CHOICE_VALUES, {"label": "Large"}, sort_order=7)
    scenario.edit(CHECKBOX_MODS, {"modifier_id": 11}, modifier_id=None)
    scenario.edit(CHECKBOX_VALUES, {"value_id": 110}, modifier_id=None, value_id=None, price_adjuster="relative",
                  price_adjuster_value=1.0)
    scenario.edit(CHECKBOX_VALUES, {"value_id": 111}, modifier_id=None, value_id=None)
    plan = scenario.plan(prune=True)
    assert [(op.kind, op.modifier_id, op.value_id, [c.field for c in op.changes]) for op in plan.operations] == [
        (OpKind.UPDATE_MODIFIER, 10, None, ["required"]),
        (OpKind.UPDATE_VALUE, 10, 102, ["sort_order"]),
        (OpKind.UPDATE_VALUE, 11, 110, ["price_adjuster", "price_adjuster_value"]),
    ]
    assert plan.operations[1].payload["sort_order"] == 7 and plan.operations[0].payload["required"] is False
    assert plan.conflicts == [] and plan.skipped == []


def test_natural_key_match_of_another_type_is_refused() -> None:
    scenario = Scenario()
    scenario.drop("Number modifiers", modifier_id=21)  # a row naming it by id would keep it from matching
    row = scenario.append(CHOICE_MODS, product_id=2, display_name="Pack", type="dropdown", required=True)
    plan = scenario.plan()
    assert plan.operations == [] and plan.skipped[0].source == RowRef(CHOICE_MODS, row)
    assert "type of a modifier cannot change" in plan.skipped[0].reason


def test_natural_key_never_matches_a_modifier_another_row_names_by_id() -> None:
    scenario = Scenario()
    scenario.edit(CHOICE_MODS, {"modifier_id": 10}, display_name="Old size")
    scenario.append(CHOICE_MODS, product_id=1, display_name="Size", type="dropdown", required=True, sort_order=5)
    plan = scenario.plan()
    assert kinds(plan) == [OpKind.UPDATE_MODIFIER, OpKind.CREATE_MODIFIER]


# --- images ----------------------------------------------------------------------------------------------


def test_local_image_on_an_existing_value_is_an_upload_only() -> None:
    scenario = Scenario()
    row = scenario.edit(SWATCH_VALUES, {"value_id": 131}, image_url="images/blue.png")
    op = only(scenario.plan())
    assert (op.kind, op.value_id, op.modifier_id, op.label, op.image, op.depends_on, op.payload) == \
        (OpKind.UPLOAD_IMAGE, 131, 13, "Blue", "images/blue.png", None, {})
    assert op.source == RowRef(SWATCH_VALUES, row)
    assert is_local_image("images/x.png") and is_local_image("C:\\x.png") and not is_local_image("HTTPS://a/b.png")


def test_local_image_with_other_edits_updates_without_the_path() -> None:
    scenario = Scenario()
    scenario.edit(SWATCH_VALUES, {"value_id": 130}, image_url="images/red.png", label="Crimson")
    update, upload = scenario.plan().operations
    assert (update.kind, update.payload) == (OpKind.UPDATE_VALUE, {
        "label": "Crimson", "sort_order": 0, "value_data": {"colors": ["#ff0000"]},
        "adjusters": {"purchasing_disabled": {"status": False, "message": ""}}})
    assert (upload.kind, upload.value_id, upload.image) == (OpKind.UPLOAD_IMAGE, 130, "images/red.png")


def test_local_images_of_new_values_upload_after_their_create() -> None:
    scenario = Scenario()
    new_dropdown(scenario, with_image="pics/long.png")
    value_row = scenario.append(CHOICE_VALUES, product_id=1, modifier_id=10, display_name="Size", type="dropdown",
                                label="Huge", sort_order=3, image_url="pics/huge.png")
    plan = scenario.plan()
    assert kinds(plan) == [OpKind.CREATE_MODIFIER, OpKind.CREATE_VALUE, OpKind.UPLOAD_IMAGE, OpKind.UPLOAD_IMAGE]
    create_modifier, create_value, upload_huge, upload_long = (only(plan, OpKind.CREATE_MODIFIER),
                                                               only(plan, OpKind.CREATE_VALUE),
                                                               *plan.operations[2:])
    # adjusters.image_url is read-only: images only go through the image endpoint
    assert all("image_url" not in v.get("adjusters", {}) for v in create_modifier.payload["option_values"])
    assert "image_url" not in create_value.payload.get("adjusters", {}) and create_value.source.row == value_row
    assert (upload_huge.depends_on, upload_huge.label, upload_huge.value_id) == (create_value.op_id, "Huge", None)
    assert (upload_long.depends_on, upload_long.label) == (create_modifier.op_id, "Long")


def test_local_image_over_a_store_image_set_since_the_export_needs_force() -> None:
    scenario = Scenario()
    scenario.store_value(131)["adjusters"]["image_url"] = "https://cdn.test/uploaded.png"
    row = scenario.edit(SWATCH_VALUES, {"value_id": 131}, image_url="images/blue.png")
    plan = scenario.plan()
    assert plan.operations == [] and plan.skipped[0].source == RowRef(SWATCH_VALUES, row)
    assert "not uploaded" in plan.skipped[0].reason
    assert only(scenario.plan(force=True)).kind is OpKind.UPLOAD_IMAGE


def test_local_image_on_a_row_the_store_changed_elsewhere_is_uploaded() -> None:
    scenario = Scenario()
    scenario.store_value(130)["label"] = "Scarlet"
    row = scenario.edit(SWATCH_VALUES, {"value_id": 130}, image_url="images/red.png")
    plan = scenario.plan()
    op = only(plan)
    assert (op.kind, op.value_id, op.label) == (OpKind.UPLOAD_IMAGE, 130, "Red")
    assert [(s.source, s.reason) for s in plan.skipped] == [(RowRef(SWATCH_VALUES, row), KEPT_IMAGE_REASON)]


def test_local_image_replacing_an_image_the_store_kept_since_the_export_is_uploaded() -> None:
    scenario = Scenario()
    scenario.edit(SWATCH_VALUES, {"value_id": 130}, image_url="images/red.png")  # store has red.png since export
    assert only(scenario.plan()).kind is OpKind.UPLOAD_IMAGE


# --- order, ids and the plan file ------------------------------------------------------------------------


def everything(scenario: Scenario) -> None:
    """One edit of every kind."""
    scenario.edit(CHOICE_MODS, {"modifier_id": 13}, action="delete")
    for value_id in (130, 131):
        scenario.edit(SWATCH_VALUES, {"value_id": value_id}, action="delete")
    scenario.edit(CHOICE_VALUES, {"value_id": 300}, action="delete")
    scenario.edit("Multi-line text modifiers", {"modifier_id": 24}, text_max_lines=5)
    scenario.edit(CHOICE_VALUES, {"value_id": 101}, label="Mid", image_url="images/mid.png")
    new_dropdown(scenario, with_image="images/long.png")
    scenario.append(CHOICE_VALUES, product_id=1, modifier_id=10, display_name="Size", type="dropdown", label="XL",
                    sort_order=3)
    scenario.append(CHECKBOX_MODS, product_id=2, display_name="Insurance", type="checkbox", required=False)
    scenario.append(CHECKBOX_VALUES, product_id=2, display_name="Insurance", type="checkbox", label="Yes",
                    sort_order=0, is_default=False, checked_value=True, weight_adjuster="relative",
                    weight_adjuster_value=0.5)
    scenario.append(CHECKBOX_VALUES, product_id=2, display_name="Insurance", type="checkbox", label="No",
                    sort_order=1, is_default=True, checked_value=False)


def test_operations_are_ordered_and_depend_only_on_earlier_ones() -> None:
    scenario = Scenario()
    everything(scenario)
    plan = scenario.plan()
    assert [(op.kind, op.product_id) for op in plan.operations] == [
        (OpKind.DELETE_VALUE, 3), (OpKind.DELETE_MODIFIER, 1), (OpKind.UPDATE_MODIFIER, 2),
        (OpKind.UPDATE_VALUE, 1), (OpKind.CREATE_MODIFIER, 2), (OpKind.CREATE_MODIFIER, 3),
        (OpKind.CREATE_VALUE, 1), (OpKind.UPDATE_VALUE, 2), (OpKind.UPLOAD_IMAGE, 1), (OpKind.UPLOAD_IMAGE, 3)]
    seen: set[str] = set()
    for op in plan.operations:
        assert op.depends_on is None or op.depends_on in seen
        seen.add(op.op_id)
    assert len(seen) == len(plan.operations)
    assert plan.counts() == {"create_modifier": 2, "update_modifier": 1, "delete_modifier": 1, "create_value": 1,
                             "update_value": 2, "delete_value": 1, "upload_image": 2}


def test_operation_ids_are_stable_and_unique() -> None:
    first, second = Scenario(), Scenario()
    everything(first)
    everything(second)
    assert [op.op_id for op in first.plan().operations] == [op.op_id for op in second.plan().operations]
    scenario = Scenario()  # two store modifiers with the same display name, both pruned
    scenario.products[2]["modifiers"].append(dict(scenario.store_modifier(30), id=31, option_values=[]))
    scenario.products[2]["modifiers"].append(dict(scenario.store_modifier(30), id=32, option_values=[]))
    ids = [op.op_id for op in scenario.plan(prune=True).operations]
    assert len(ids) == 2 and len(set(ids)) == 2


def test_plan_survives_a_json_round_trip() -> None:
    scenario = Scenario()
    everything(scenario)
    scenario.store_value(102)["label"] = "Big"
    scenario.edit(CHOICE_VALUES, {"value_id": 102}, label="Grand")
    scenario.edit("Text modifiers", {"modifier_id": 12}, default_value=None)
    plan = scenario.plan(prune=True)
    assert plan.conflicts and plan.blanked
    again = Plan.from_json(plan.to_json())
    assert again == plan and again.plan_id == plan.plan_id
    json.loads(plan.to_json())


def test_plan_of_generated_catalog_with_every_row_edited_is_one_update_per_row() -> None:
    frames = products_to_frames(as_api_products(generate_catalog(14, seed=3)))
    scenario = Scenario(as_api_products(generate_catalog(14, seed=3)))
    for sheet in scenario.sheets.values():
        if "label" in sheet.columns:
            sheet["label"] = sheet["label"] + " (new)"
        else:
            sheet["display_name"] = sheet["display_name"] + " (new)"
    plan = scenario.plan()
    assert len(plan.operations) == len(frames.modifiers) + len(frames.values)
    assert {op.kind for op in plan.operations} == {OpKind.UPDATE_MODIFIER, OpKind.UPDATE_VALUE}
    for op in plan.operations:  # one field changed, the complete body sent
        assert [c.field for c in op.changes] == ["label" if op.kind is OpKind.UPDATE_VALUE else "display_name"]
        assert {"label", "sort_order"} <= set(op.payload) if op.kind is OpKind.UPDATE_VALUE else \
            {"type", "required", "display_name"} <= set(op.payload)


def test_value_row_without_a_modifier_row_is_skipped() -> None:
    scenario = Scenario()
    row = scenario.append(CHOICE_VALUES, product_id=3, display_name="Nope", type="dropdown", label="X", sort_order=0)
    plan = scenario.plan()
    assert plan.operations == [] and plan.skipped[0].source == RowRef(CHOICE_VALUES, row)


def test_sheets_as_exported_plan_nothing_with_frames_to_sheets_index() -> None:
    """`build_plan` accepts sheets straight from frames_to_sheets too (any index)."""
    scenario = Scenario()
    raw = frames_to_sheets(scenario.current)
    assert build_plan(raw, scenario.meta, scenario.current, workbook="x").operations == []
    assert isinstance(next(iter(raw.values())), pd.DataFrame)


def test_keys_no_column_holds_are_sent_back_in_writes_never_erased() -> None:
    scenario = Scenario()
    scenario.store_modifier(12)["config"]["text_pattern"] = "[A-Z]+"  # a field newer than this code
    scenario.store_value(101)["adjusters"]["price"]["rounding"] = "up"
    scenario.store_value(101)["adjusters"]["gift_wrap"] = {"status": True}
    scenario.edit("Text modifiers", {"modifier_id": 12}, text_max_length=30)
    scenario.edit(CHOICE_VALUES, {"value_id": 101}, label="Mid", price_adjuster="relative", price_adjuster_value=2.0)
    by_id = {op.modifier_id if op.kind is OpKind.UPDATE_MODIFIER else op.value_id: op
             for op in scenario.plan().operations}
    assert by_id[12].payload["config"]["text_pattern"] == "[A-Z]+"
    assert by_id[12].payload["config"]["text_max_length"] == 30
    adjusters = by_id[101].payload["adjusters"]
    assert adjusters["price"] == {"adjuster": "relative", "adjuster_value": 2.0, "rounding": "up"}
    assert adjusters["gift_wrap"] == {"status": True}


def test_a_big_export_with_a_few_late_edits_plans_just_those() -> None:
    """Rows are read a block of rows at a time, only when they differ from the store: edits and
    store changes far down long sheets are found, conflicts detected, and the rest counted unchanged."""
    scenario = Scenario(as_api_products(generate_catalog(900, seed=3)))
    sheet = max((name for name in scenario.sheets if name.endswith("values")), key=lambda n: len(scenario.sheets[n]))
    frame = scenario.sheets[sheet]
    assert len(frame) > 2 * 2048
    late, later, last = (int(frame["value_id"].iloc[n]) for n in (len(frame) - 300, len(frame) - 200, len(frame) - 1))
    scenario.edit(sheet, {"value_id": late}, label="Edited late")
    scenario.store_value(later)["label"] = "Store changed"
    scenario.edit(sheet, {"value_id": last}, label="Both changed")
    scenario.store_value(last)["label"] = "Store too"
    plan = scenario.plan()
    assert [(op.kind, op.value_id, op.label) for op in plan.operations] == [(OpKind.UPDATE_VALUE, late, "Edited late")]
    assert [(c.source.sheet, c.entity_id, c.message) for c in plan.conflicts] == [(sheet, last, CHANGED_CONFLICT)]
    assert [(s.source.sheet, s.reason) for s in plan.skipped] == [(sheet, KEPT_REASON)]
    assert plan.unchanged == total_rows(scenario.sheets) - 3
