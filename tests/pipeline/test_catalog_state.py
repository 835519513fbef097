"""Comparing stores by natural key: ids and image origins do not count, anything a shopper sees does."""

from __future__ import annotations

import copy

from pipeline.catalog_state import differences, duplicate_keys, state_by_natural_key

PRODUCT = {"id": 7, "modifiers": [
    {"id": 1, "display_name": "Colour", "type": "swatch", "required": True, "sort_order": 0, "config": {},
     "option_values": [
         {"id": 10, "label": "Red", "sort_order": 0, "is_default": True, "value_data": {"colors": ["#FF0000"]},
          "adjusters": {"price": None, "image_url": "http://127.0.0.1:8001/img/10.png"}},
         {"id": 11, "label": "Blue", "sort_order": 1, "is_default": False, "value_data": {"colors": ["#0000FF"]},
          "adjusters": {"price": {"adjuster": "relative", "adjuster_value": 2}, "image_url": None}}]},
    {"id": 2, "display_name": "Engraving", "type": "text", "required": False, "sort_order": 1, "config": {},
     "option_values": []}]}


def other_store_copy() -> dict:
    """The same catalog in another store: other ids, images served from another origin."""
    product = copy.deepcopy(PRODUCT)
    for modifier in product["modifiers"]:
        modifier["id"] += 100
        for value in modifier["option_values"]:
            value["id"] += 100
    product["modifiers"][0]["option_values"][0]["adjusters"]["image_url"] = "https://cdn.example/img/10.png"
    return product


def test_ids_and_image_origins_do_not_count() -> None:
    assert state_by_natural_key([PRODUCT]) == state_by_natural_key([other_store_copy()])
    assert differences(state_by_natural_key([PRODUCT]), state_by_natural_key([other_store_copy()])) == []


def test_a_changed_adjuster_a_missing_modifier_and_a_changed_setting_are_named() -> None:
    changed = other_store_copy()
    changed["modifiers"][0]["option_values"][1]["adjusters"]["price"]["adjuster_value"] = 3
    changed["modifiers"][0]["required"] = False
    del changed["modifiers"][1]
    found = differences(state_by_natural_key([PRODUCT]), state_by_natural_key([changed]))
    assert found == ["product 7 / 'Colour' / values ['Blue']", "product 7 / 'Engraving': missing"]
    changed["modifiers"][0]["option_values"][1]["adjusters"]["price"]["adjuster_value"] = 2
    assert differences(state_by_natural_key([PRODUCT]), state_by_natural_key([changed]))[0] == \
        "product 7 / 'Colour' (modifier settings)"


def test_duplicates_are_found_by_display_name_and_by_label() -> None:
    assert duplicate_keys([PRODUCT]) == []
    twice = copy.deepcopy(PRODUCT)
    twice["modifiers"].append(copy.deepcopy(twice["modifiers"][1]))
    twice["modifiers"][0]["option_values"].append(copy.deepcopy(twice["modifiers"][0]["option_values"][0]))
    assert duplicate_keys([twice]) == [(7, "Engraving"), (7, "Colour", "Red")]
