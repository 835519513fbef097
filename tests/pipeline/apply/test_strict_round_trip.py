"""Every kind of edit applies through a sandbox that enforces BigCommerce's published contract.

The sandbox here is strict whatever the suite's default: each request is checked against the
official OpenAPI specs (`../shared/bigcommerce-openapi/`) and refused with 422 when it does not
conform. A workbook that renames a date modifier, changes a text config, clears an adjuster,
recolours a swatch, gives values images from a URL and from a file, and creates and deletes
modifiers of every type must go through with no request refused, and plan nothing afterwards.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from openpyxl import load_workbook

from pipeline.apply import Journal, apply_plan
from pipeline.export import export_store
from pipeline.modifier_types import MODIFIER_TYPES, TYPE_NAMES
from pipeline.plan.build import plan_workbook
from pipeline.plan.operations import OpKind
from pipeline.sandbox.specs import default_spec_dir, specs_present
from pipeline.workbook.layout import sheet_for
from tests.pipeline.apply.support import PNG, client_for, duplicates, products_of
from tests.pipeline.plan.workbooks import append, get, put, row_where, rows_where
from tests.stores import sandbox_store

pytestmark = [
    pytest.mark.anyio,
    pytest.mark.skipif(not specs_present(default_spec_dir()), reason=f"BigCommerce OpenAPI specs not found in "
                       f"{default_spec_dir()}: set BIGCOMMERCE_OPENAPI_DIR"),
]


def row_of(ws: Any, **equal: Any) -> dict[str, Any]:
    row = row_where(ws, **equal)
    return {c.value: ws.cell(row, c.column).value for c in ws[1]} | {"_row": row}


def contract(store: Any) -> dict[str, int]:
    """The strict sandbox's spec-check counters."""
    return store.app.state.sandbox.stats.snapshot()["contract"]


def edit_every_kind(path: Path, image_url: str) -> dict[str, Any]:
    book = load_workbook(path)
    done: dict[str, Any] = {}
    dates = book["Date modifiers"]
    date_row = row_of(dates, type="date")
    put(dates, date_row["_row"], display_name=f"{date_row['display_name']} (renamed)")
    done["date"] = date_row["modifier_id"]
    texts = book["Text modifiers"]
    text = row_of(texts, type="text")
    put(texts, text["_row"], text_max_length=(text["text_max_length"] or 10) + 5)
    choice = book["Choice values"]
    priced = next(r for r in rows_where(choice, type="dropdown") if get(choice, r, "price_adjuster"))
    put(choice, priced, price_adjuster=None, price_adjuster_value=None)
    done["cleared"] = get(choice, priced, "value_id")
    swatches = book["Swatch values"]
    swatch = row_of(swatches, type="swatch")
    put(swatches, swatch["_row"], colors="#112233,#445566")
    done["recoloured"] = swatch["value_id"]
    rects = rows_where(choice, type="rectangles")
    put(choice, rects[0], image_url=image_url)
    put(choice, rects[1], image_url="images/new.png")
    done["imaged"] = [get(choice, rects[0], "value_id"), get(choice, rects[1], "value_id")]
    deleted = []
    for type_name in TYPE_NAMES:  # a delete of one modifier of each type (the last), its values with it
        mods = book[sheet_for("modifiers", type_name).name]
        candidates = [r for r in rows_where(mods, type=type_name) if get(mods, r, "modifier_id") not in
                      (done["date"], text["modifier_id"])]
        if len(candidates) > 1:
            put(mods, candidates[-1], action="delete")
            deleted.append(get(mods, candidates[-1], "modifier_id"))
            if MODIFIER_TYPES[type_name].has_values:
                values = book[sheet_for("values", type_name).name]
                for row in rows_where(values, modifier_id=deleted[-1]):
                    put(values, row, action="delete")
    for type_name in TYPE_NAMES:  # a copy of another modifier of each type, values included: creates
        mods = book[sheet_for("modifiers", type_name).name]
        source = row_of(mods, type=type_name)
        copy = f"{source['display_name']} copy"
        append(mods, **{k: v for k, v in source.items() if k != "_row"} | {"modifier_id": None, "display_name": copy})
        if MODIFIER_TYPES[type_name].has_values:
            values = book[sheet_for("values", type_name).name]
            for row in rows_where(values, modifier_id=source["modifier_id"]):
                cells = {c.value: values.cell(row, c.column).value for c in values[1]}
                append(values, **cells | {"modifier_id": None, "value_id": None, "display_name": copy,
                                          "image_url": None})
    done["deleted"] = deleted
    book.save(path)
    (path.parent / "images").mkdir(exist_ok=True)
    (path.parent / "images" / "new.png").write_bytes(PNG)
    return done


async def test_every_kind_of_edit_applies_with_no_request_refused(tmp_path: Path) -> None:
    store = sandbox_store(tmp_path / "store", products=30, strict=True)
    path = (await export_store(store.settings, tmp_path / "wb" / "catalog.xlsx", transport=store.transport())).path
    served = next(v["adjusters"]["image_url"] for p in products_of(store) for m in p["modifiers"]
                  for v in m["option_values"] if v["adjusters"]["image_url"])
    image_url = f"http://sandbox.test{served}" if served.startswith("/") else served
    done = edit_every_kind(path, image_url)
    async with client_for(store) as client:
        plan, outcome = await plan_workbook(path, client)
        assert outcome.ok and plan.conflicts == [] and plan.skipped == [], plan.skipped
        kinds = plan.counts()
        assert kinds["create_modifier"] == len(TYPE_NAMES) and kinds["upload_image"] == 2
        assert kinds["delete_modifier"] == len(done["deleted"]) >= 6 and kinds["update_modifier"] == 2
        result = await apply_plan(plan, client, workbook_dir=path.parent, journal=Journal.for_workbook(path),
                                  image_transport=store.transport())
        assert [o.message for o in result.failed] == []
        again, _ = await plan_workbook(path, client)
    counters = contract(store)
    assert counters["refused"] == 0 and counters["checked"] > len(plan.operations), counters
    assert again.operations == [] and again.conflicts == [], [(o.kind, o.display_name, o.label)
                                                               for o in again.operations]
    after = products_of(store)
    assert duplicates(after) == []
    by_value = {v["id"]: v for p in after for m in p["modifiers"] for v in m["option_values"]}
    assert by_value[done["cleared"]]["adjusters"]["price"] in ({}, {"adjuster": None, "adjuster_value": None})
    assert by_value[done["recoloured"]]["value_data"]["colors"] == ["#112233", "#445566"]
    assert all(by_value[v]["adjusters"]["image_url"] for v in done["imaged"])
    modifiers = {m["id"]: m for p in after for m in p["modifiers"]}
    assert modifiers[done["date"]]["display_name"].endswith("(renamed)")
    assert modifiers[done["date"]]["config"]["default_value"]  # a renamed date modifier keeps its dates
    assert not set(done["deleted"]) & set(modifiers)
    assert OpKind.UPLOAD_IMAGE in {o.kind for o in result.outcomes}
