"""extract_frames: pages normalised as they arrive give exactly the frames of the whole payload list,
with the same requests, warnings and unknown-key extras."""

from __future__ import annotations

import pandas as pd
import pytest

from pipeline.client import BigCommerceClient
from pipeline.extract import LITERAL_INCLUDE_FIELDS_WARNING, ExtractFilters, ExtractSession, extract_products, summarise
from pipeline.extract_frames import extract_frames
from pipeline.frames_builder import FramesBuilder
from pipeline.normalise import products_to_frames
from tests.pipeline.rewriting import RewritingTransport, each_product
from tests.stores import sandbox_store


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def _assert_same(left, right) -> None:
    pd.testing.assert_frame_equal(left.modifiers, right.modifiers)
    pd.testing.assert_frame_equal(left.values, right.values)
    assert left.extras == right.extras
    assert list(left.extras) == list(right.extras)


def _with_unknown_keys(product: dict) -> None:
    for modifier in product.get("modifiers") or ():
        modifier["future_flag"] = True
        for value in modifier.get("option_values") or ():
            value.setdefault("adjusters", {})["shipping"] = {"x": 1}


@pytest.mark.anyio
async def test_same_frames_requests_and_extras_as_the_payload_list(tmp_path, monkeypatch):
    store = sandbox_store(tmp_path, products=120)
    monkeypatch.setattr(FramesBuilder, "BATCH_ROWS", 50)  # many batches
    filters = ExtractFilters(product_ids=(105, 101, 130, 150), skus=("SKU-000101", "SKU-000140", "SKU-000150"))
    for chosen in (ExtractFilters(), filters):
        transport = RewritingTransport(store.transport(), edit_body=each_product(_with_unknown_keys))
        async with BigCommerceClient(store.settings, transport=transport) as client:
            products = await extract_products(client, chosen)
            sent = client.metrics.requests_sent
            extracted = await extract_frames(client, chosen)
            assert client.metrics.requests_sent == 2 * sent
        _assert_same(extracted.frames, products_to_frames(products))
        assert extracted.product_ids == [p["id"] for p in products]
        assert extracted.summary() == summarise(products)
        assert extracted.frames.extras  # the unknown keys were found while streaming


@pytest.mark.anyio
async def test_a_literal_include_fields_store_gives_whole_frames_and_the_warning(tmp_path):
    normal = sandbox_store(tmp_path / "normal", products=60)
    literal = sandbox_store(tmp_path / "literal", products=60, literal_include_fields=True)
    async with BigCommerceClient(normal.settings, transport=normal.transport()) as client:
        expected = products_to_frames(await extract_products(client))
    session = ExtractSession()
    async with BigCommerceClient(literal.settings, transport=literal.transport()) as client:
        extracted = await extract_frames(client, session=session)
    assert session.warnings == [LITERAL_INCLUDE_FIELDS_WARNING]
    ignore = ["name"]  # the store generates a modifier's name from the clock when it seeds it
    pd.testing.assert_frame_equal(extracted.frames.modifiers.drop(columns=ignore), expected.modifiers.drop(columns=ignore))
    pd.testing.assert_frame_equal(extracted.frames.values, expected.values)


def test_a_product_read_twice_keeps_its_latest_reading_in_id_order():
    def product(pid: int, label: str) -> dict:
        return {"id": pid, "sku": f"S{pid}", "name": f"P{pid}", "modifiers": [
            {"id": pid * 10, "product_id": pid, "display_name": "Size", "type": "dropdown", "required": True,
             "sort_order": 0, "config": {}, "option_values": [
                 {"id": pid * 100, "option_id": pid * 10, "label": label, "sort_order": 0, "is_default": False,
                  "value_data": None, "adjusters": {}, "extra": label}]}]}

    builder = FramesBuilder()
    builder.add([product(3, "old"), product(1, "a")])
    builder.add([product(2, "b"), product(3, "new"), {"id": 4, "sku": "S4", "name": "P4", "modifiers": []}])
    frames = builder.frames()
    expected = products_to_frames([product(1, "a"), product(2, "b"), product(3, "new")])
    _assert_same(frames, expected)
    assert frames.extras[("value", 300)] == {"value": {"extra": "new"}}
    assert builder.product_ids() == [1, 2, 3, 4]
