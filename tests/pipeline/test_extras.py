"""Unknown keys of raw modifier payloads: found per part, counted per row, merged back into bodies."""

from __future__ import annotations

import asyncio
import copy

from pipeline.client import BigCommerceClient
from pipeline.extract import extract_products
from pipeline.extras import (
    ADJUSTER_KEYS,
    MODIFIER_KEYS,
    VALUE_KEYS,
    describe_unknown,
    merge_extras,
    modifier_extras,
    unknown_keys,
    value_extras,
)
from pipeline.modifier_types import MODIFIER_TYPES
from pipeline.normalise import frames_to_payloads, products_to_frames
from tests.stores import sandbox_store


def _swatch_product() -> dict:
    return {
        "id": 7, "sku": "S-7", "name": "Mug",
        "modifiers": [{
            "id": 70, "product_id": 7, "name": "Colour-1-7", "display_name": "Colour", "type": "swatch",
            "required": True, "sort_order": 0, "config": {"checkbox_label": "not a swatch field", "future": 1},
            "shared": False,
            "option_values": [
                {"id": 700, "option_id": 70, "label": "Red", "sort_order": 0, "is_default": False,
                 "value_data": {"colors": ["#ff0000"], "image_url": "", "finish": "matte"},
                 "adjusters": {"price": {"adjuster": "relative", "adjuster_value": 1, "currency": "EUR"},
                               "weight": None, "image_url": "", "stock": {"level": 3},
                               "purchasing_disabled": {"status": False, "message": ""}},
                 "swatch_name": "Crimson"},
                {"id": 701, "option_id": 70, "label": "Blue", "sort_order": 1, "is_default": False,
                 "value_data": {"colors": ["#0000ff"], "finish": "gloss"}, "adjusters": {}},
            ],
        }, {
            "id": 71, "product_id": 7, "display_name": "Note", "type": "text", "required": False,
            "sort_order": 1, "config": [], "option_values": [],
        }],
    }


def test_helpers_return_only_the_unknown_parts_of_one_modifier_or_value():
    product = _swatch_product()
    swatch, text = product["modifiers"]
    # a config key of another type is unknown for this one: the swatch sheets have no column for it
    assert modifier_extras(swatch) == {"modifier": {"shared": False},
                                       "config": {"checkbox_label": "not a swatch field", "future": 1}}
    assert modifier_extras(text) == {}  # `config: []`, as the spec's example shows, carries nothing
    assert value_extras(swatch["option_values"][0], "swatch") == {
        "value": {"swatch_name": "Crimson"},
        "value_data": {"finish": "matte"},
        "adjusters": {"stock": {"level": 3}, "price": {"currency": "EUR"}},
    }
    assert value_extras(swatch["option_values"][1], "swatch") == {"value_data": {"finish": "gloss"}}
    # the same value_data key is unknown on a dropdown (its sheet has no colours column)
    assert value_extras({"label": "x", "value_data": {"colors": ["#fff"]}}, "dropdown") == {
        "value_data": {"colors": ["#fff"]}}
    assert value_extras({"label": "x", "value_data": None, "adjusters": None}, "dropdown") == {}


def test_unknown_keys_counts_rows_per_part_and_key():
    products = [_swatch_product(), _swatch_product()]
    assert unknown_keys(products) == {
        "modifier": {"shared": 2},
        "config": {"checkbox_label": 2, "future": 2},
        "value": {"swatch_name": 2},
        "value_data": {"finish": 4},
        "adjusters": {"price.currency": 2, "stock": 2},
    }
    text = describe_unknown(unknown_keys(products))
    assert text is not None
    for name in ("modifier.shared (2 modifiers)", "config.future (2 modifiers)", "value.swatch_name (2 values)",
                 "value_data.finish (4 values)", "adjusters.price.currency (2 values)", "adjusters.stock (2 values)"):
        assert name in text
    assert unknown_keys([{"id": 1}, {"id": 2, "modifiers": []}]) == {}
    assert describe_unknown({}) is None


def test_merge_puts_the_unknown_parts_back_without_overriding_the_body():
    value = _swatch_product()["modifiers"][0]["option_values"][0]
    body = {"label": "Red", "sort_order": 0, "value_data": {"colors": ["#00ff00"]},
            "adjusters": {"price": {"adjuster": None}, "image_url": ""}}
    merged = merge_extras(body, value_extras(value, "swatch"))
    assert merged == {
        "label": "Red", "sort_order": 0, "swatch_name": "Crimson",
        "value_data": {"colors": ["#00ff00"], "finish": "matte"},
        "adjusters": {"price": {"adjuster": None, "currency": "EUR"}, "image_url": "", "stock": {"level": 3}},
    }
    assert body["value_data"] == {"colors": ["#00ff00"]}  # the body itself is not changed
    assert merge_extras({"value_data": None}, {"value_data": {"finish": "matte"}}) == {
        "value_data": {"finish": "matte"}}
    assert merge_extras({"display_name": "A"}, {"modifier": {"display_name": "B", "x": 1}}) == {
        "display_name": "A", "x": 1}


def test_the_known_keys_are_exactly_what_normalise_round_trips():
    """Every key the extras call known comes back from normalise's payloads; nothing more is known."""
    product = _swatch_product()
    for modifier in product["modifiers"]:
        modifier["config"] = {}
    rebuilt = frames_to_payloads(products_to_frames([product]))[7]
    built_modifier_keys = set(rebuilt[0])
    built_value_keys = set(rebuilt[0]["option_values"][0])
    assert built_modifier_keys <= MODIFIER_KEYS and built_value_keys <= VALUE_KEYS
    assert set(rebuilt[0]["option_values"][0]["adjusters"]) <= set(ADJUSTER_KEYS)
    for spec in MODIFIER_TYPES.values():
        # every config field of a type is known for that type, so a full config has no extras
        full = {"type": spec.name, "config": dict.fromkeys(spec.config_field_names, 1)}
        assert modifier_extras(full) == {}
        data = {"label": "x", "value_data": dict.fromkeys(spec.value_data_fields, 1)}
        assert value_extras(data, spec.name) == {}


def test_the_sandbox_returns_nothing_the_columns_do_not_hold(tmp_path):
    store = sandbox_store(tmp_path, products=60)

    async def read() -> list[dict]:
        async with BigCommerceClient(store.settings, transport=store.transport()) as client:
            return await extract_products(client)

    products = asyncio.run(read())
    assert unknown_keys(products) == {}
    with_one = copy.deepcopy(products)
    with_one[0]["modifiers"][0]["config"]["new_field"] = True
    assert unknown_keys(with_one) == {"config": {"new_field": 1}}
