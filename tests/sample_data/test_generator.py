"""The sample catalog must cover every type and config field, deterministically."""

import re
from collections import Counter

import httpx
import pytest

from pipeline.modifier_types import MODIFIER_TYPES, TYPE_NAMES
from pipeline.sandbox import SandboxConfig, SandboxTransport, create_app
from pipeline.sandbox.specs import default_spec_dir, specs_present
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


ATOM = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}[+-]\d{2}:\d{2}$")


def test_dates_are_iso_8601_atom():
    """BigCommerce stores and answers date configs as ATOM (`2027-04-01T00:00:00+00:00`); so does the seed."""
    dates = [modifier["config"][key] for product in generate_catalog(60, seed=3) for modifier in product["modifiers"]
             if modifier["type"] == "date" for key in ("default_value", "date_earliest_value", "date_latest_value")]
    assert dates and all(ATOM.match(d) for d in dates), dates[:5]


@pytest.mark.anyio
@pytest.mark.parametrize("anyio_backend", ["asyncio"])
async def test_a_generated_store_answers_by_the_spec(tmp_path, anyio_backend):
    """Every page of a generated catalog, modifiers embedded, passes the strict sandbox's response check."""
    app = create_app(SandboxConfig(data_dir=tmp_path, products=60, seed=3, quota=None, token="t", strict=True,
                                   check_responses=True))
    async with httpx.AsyncClient(transport=SandboxTransport(app=app), base_url="http://sandbox.test",
                                 headers={"X-Auth-Token": "t"}) as client:
        url = "/stores/sandbox/v3/catalog/products?include=modifiers"
        while url:
            body = (await client.get(url)).json()
            nxt = body["meta"]["pagination"]["links"].get("next")
            url = f"/stores/sandbox/v3/catalog/products{nxt}" if nxt else None
    contract = app.state.sandbox.stats.snapshot()["contract"]
    if specs_present(default_spec_dir()):
        assert contract["responses_checked"] == 6 and contract["response_violations"] == 0
