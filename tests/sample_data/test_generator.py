"""The sample catalog must cover every type and config field, deterministically."""

from collections import Counter

from pipeline.modifier_types import MODIFIER_TYPES, TYPE_NAMES
from sample_data.generator import TRICKY_LABELS, generate_catalog, png_bytes, seed_image_bytes


def test_same_seed_same_catalog_and_different_seed_differs():
    assert generate_catalog(30, seed=1) == generate_catalog(30, seed=1)
    assert generate_catalog(30, seed=1) != generate_catalog(30, seed=2)


def test_twelve_products_cover_every_type_and_every_config_field():
    catalog = generate_catalog(12, seed=0)
    seen_types = {m["type"] for p in catalog for m in p["modifiers"]}
    assert seen_types == set(TYPE_NAMES)
    for product in catalog:
        for modifier in product["modifiers"]:
            spec = MODIFIER_TYPES[modifier["type"]]
            assert set(modifier["config"]) == set(spec.config_field_names), modifier["type"]
            assert bool(modifier["option_values"]) == spec.has_values or not product["modifiers"]


def test_values_respect_store_rules():
    catalog = generate_catalog(300, seed=0)
    ids = {p["id"] for p in catalog}
    total_values = 0
    for product in catalog:
        names = [m["display_name"] for m in product["modifiers"]]
        assert len(names) == len(set(names)), "display names are the natural key per product"
        for modifier in product["modifiers"]:
            values = modifier["option_values"]
            total_values += len(values)
            labels = [v["label"] for v in values]
            assert len(labels) == len(set(labels)), "labels are the natural key per modifier"
            assert sum(v["is_default"] for v in values) <= 1
            if modifier["type"] == "swatch":
                assert not any(v["is_default"] for v in values)
                for v in values:
                    assert len(v["value_data"].get("colors", [])) <= 3
            if modifier["type"].startswith("product_list"):
                for v in values:
                    assert v["value_data"]["product_id"] in ids
                    assert v["value_data"]["product_id"] != product["id"]
            if modifier["type"] == "checkbox":
                assert [v["value_data"]["checked_value"] for v in values] == [True, False]
    assert 8 * len(catalog) <= total_values <= 13 * len(catalog)
    labels = Counter(v["label"] for p in catalog for m in p["modifiers"] for v in m["option_values"])
    assert all(labels[t] > 0 for t in TRICKY_LABELS)


def test_seed_images_are_valid_pngs():
    data = seed_image_bytes("value-11.png")
    assert data.startswith(b"\x89PNG\r\n\x1a\n") and data.endswith(b"IEND\xaeB`\x82")
    assert seed_image_bytes("a.png") != seed_image_bytes("b.png")
    assert png_bytes(b"\x00\x00\x00", 2, 2) != png_bytes(b"\xff\xff\xff", 2, 2)
