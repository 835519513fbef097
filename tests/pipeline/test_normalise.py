"""Normalisation must be lossless: payloads -> frames -> payloads gives the same objects."""

from __future__ import annotations

import copy

import itertools

from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline.modifier_types import (
    ADJUSTER_KINDS,
    DATE_LIMIT_MODES,
    FILE_TYPE_GROUPS,
    FILE_TYPES_MODES,
    MODIFIER_TYPES,
    NUMBER_LIMIT_MODES,
    SHIPPING_CALC,
    FieldKind,
)
from pipeline.normalise import (
    fingerprint,
    frames_to_payloads,
    modifier_fingerprints,
    products_to_frames,
    value_fingerprints,
)
from sample_data.generator import generate_catalog
from tests.helpers import as_api_products


def strip_to_comparable(products):
    """The canonical form: a blank text config field ("") is the same as an absent one."""
    out = {p["id"]: copy.deepcopy(p["modifiers"]) for p in products if p["modifiers"]}
    for modifiers in out.values():
        for modifier in modifiers:
            modifier["config"] = {k: v for k, v in modifier["config"].items() if v != ""}
    return out


def test_generated_catalog_round_trips_exactly():
    products = as_api_products(generate_catalog(60, seed=3))
    frames = products_to_frames(products)
    assert len(frames.modifiers) == sum(len(p["modifiers"]) for p in products)
    assert len(frames.values) == sum(len(m["option_values"]) for p in products for m in p["modifiers"])
    rebuilt = frames_to_payloads(frames)
    expected = strip_to_comparable(products)
    # The generator writes keys in its own order; compare as data, not text.
    assert rebuilt == expected


def test_frames_are_typed_with_nullable_dtypes():
    frames = products_to_frames(as_api_products(generate_catalog(12)))
    assert str(frames.modifiers["modifier_id"].dtype) == "Int64"
    assert str(frames.modifiers["required"].dtype) == "boolean"
    assert str(frames.modifiers["file_max_size"].dtype) == "Int64"
    assert str(frames.modifiers["number_lowest_value"].dtype) == "Float64"
    assert str(frames.values["price_adjuster_value"].dtype) == "Float64"
    # a text modifier has no file_max_size: missing, not 0
    text = frames.modifiers[frames.modifiers["type"] == "text"]
    assert text["file_max_size"].isna().all()
    counts = frames.counts_by_type()
    assert set(counts.index) == set(MODIFIER_TYPES)


def test_fingerprints_change_only_with_content():
    frames = products_to_frames(as_api_products(generate_catalog(12)))
    before = value_fingerprints(frames.values)
    edited = frames.values.copy()
    edited.loc[edited.index[0], "label"] = "Something else"
    after = value_fingerprints(edited)
    assert before.iloc[0] != after.iloc[0]
    assert (before.iloc[1:] == after.iloc[1:]).all()
    assert fingerprint({"a": 1, "b": 2}) == fingerprint({"b": 2, "a": 1})
    assert len(modifier_fingerprints(frames.modifiers)) == len(frames.modifiers)


def test_fingerprints_are_those_older_exports_carry():
    """Workbooks exported by earlier versions must still match: the digest of the same sorted,
    compact, non-ASCII-keeping JSON text (pinned: a change here would flag every row as edited)."""
    payload = {"label": "Grün ✓", "sort_order": 2, "value_data": {"colors": ["#fff"]}, "is_default": False,
               "adjusters": {"price": {"adjuster": "relative", "adjuster_value": 1.5}, "image_url": ""}}
    assert fingerprint(payload) == "7a2ec652b8ee8bbe"  # computed with the json.dumps form


# -- property test over every type --------------------------------------------------------------

text = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters=","), max_size=20)
iso_date = st.dates().map(lambda d: f"{d.isoformat()}T00:00:00+00:00")
money = st.floats(min_value=-1e6, max_value=1e6, allow_nan=False).map(lambda f: round(f, 4))


def config_value(field):
    if field.kind is FieldKind.BOOLEAN:
        return st.booleans()
    if field.kind is FieldKind.INTEGER:
        return st.integers(0, 524288)
    if field.kind is FieldKind.NUMBER:
        return money
    if field.kind is FieldKind.DATE:
        return iso_date
    if field.kind is FieldKind.ENUM:
        return st.sampled_from(field.choices)
    if field.kind is FieldKind.STRING_LIST:
        choices = FILE_TYPE_GROUPS if field.choices else ("stl", "dxf", "svg", "obj")
        return st.lists(st.sampled_from(choices), unique=True, max_size=3)
    return text


@st.composite
def adjuster(draw):
    return draw(st.one_of(
        st.just({}),
        st.fixed_dictionaries({"adjuster": st.sampled_from(ADJUSTER_KINDS), "adjuster_value": money}),
    ))


@st.composite
def modifier(draw, type_name, ids):
    spec = MODIFIER_TYPES[type_name]
    config = {}
    for field in spec.config_fields:
        if draw(st.booleans()) or field.kind is not FieldKind.STRING:
            config[field.name] = draw(config_value(field))
        if config.get(field.name) == "":  # blank means not set: the canonical form omits it
            del config[field.name]
    values = []
    n_values = 2 if spec.generated_values else (draw(st.integers(0, 4)) if spec.has_values else 0)
    labels = draw(st.lists(text.filter(bool), min_size=n_values, max_size=n_values, unique=True))
    for i, label in enumerate(labels):
        value_data = None
        if spec.generated_values:
            value_data = {"checked_value": i == 0}
        elif type_name == "swatch":
            value_data = draw(st.one_of(
                st.fixed_dictionaries({"colors": st.lists(st.from_regex(r"#[0-9a-f]{6}", fullmatch=True),
                                                          min_size=1, max_size=3)}),
                st.fixed_dictionaries({"image_url": st.just("https://example.invalid/p.png")}),
            ))
        elif type_name.startswith("product_list"):
            value_data = {"product_id": draw(st.integers(1, 10**9))}
        values.append({
            "id": next(ids), "option_id": 0, "label": label, "sort_order": draw(st.integers(-2**31, 2**31 - 1)),
            "is_default": draw(st.booleans()) and spec.supports_default_value, "value_data": value_data,
            "adjusters": {
                "price": draw(adjuster()), "weight": draw(adjuster()),
                "image_url": draw(st.sampled_from(["", "https://example.invalid/v.png"])),
                "purchasing_disabled": {"status": draw(st.booleans()), "message": draw(text)},
            },
        })
    return {"display_name": draw(text.filter(bool)), "type": type_name, "required": draw(st.booleans()),
            "sort_order": draw(st.integers(0, 100)), "config": config, "option_values": values}


@settings(max_examples=60, deadline=None)
@given(st.data())
def test_any_payload_round_trips(data):
    ids = itertools.count(1)
    product_id = data.draw(st.integers(1, 10**9))
    types = data.draw(st.lists(st.sampled_from(sorted(MODIFIER_TYPES)), min_size=1, max_size=4))
    modifiers = []
    for type_name in types:
        m = data.draw(modifier(type_name, ids))
        m["id"] = next(ids)
        m["product_id"] = product_id
        m["name"] = f"n{m['id']}"
        for v in m["option_values"]:
            v["option_id"] = m["id"]
        modifiers.append(m)
    product = {"id": product_id, "sku": "S", "name": "P", "modifiers": modifiers}
    assert frames_to_payloads(products_to_frames([product])) == {product_id: modifiers}


def test_enums_used_by_strategies_are_the_spec_ones():
    assert DATE_LIMIT_MODES == ("earliest", "range", "latest")
    assert NUMBER_LIMIT_MODES == ("lowest", "range", "highest")
    assert FILE_TYPES_MODES == ("specific", "all") and SHIPPING_CALC == ("none", "weight", "package")
