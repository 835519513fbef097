"""Undo an apply: export -> apply edits of every kind -> restore the apply's backup -> the store is as exported.

Against a sandbox that enforces BigCommerce's published contract (strict: every request checked
against the official OpenAPI specs and refused with 422 when it does not conform). Stores are
compared by natural key (`pipeline.catalog_state`) as an export shows them: each image by its
bytes (an image uploaded again gets a new URL, on BigCommerce as in the sandbox, and what must
come back is the picture), and an empty text in a config as a blank (a cell cannot tell "" from
an absent key, so a modifier created again from its row has none).
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import httpx
import pytest
from openpyxl import Workbook, load_workbook

from pipeline.apply import Journal, apply_plan
from pipeline.catalog_state import differences, state_by_natural_key
from pipeline.export import export_store
from pipeline.plan.build import PlanRefused, plan_workbook
from pipeline.plan.operations import OpKind
from pipeline.restore import apply_restore, plan_restore
from pipeline.sandbox.specs import default_spec_dir, specs_present
from tests.pipeline.apply.support import (
    PNG,
    client_for,
    duplicates,
    make_op,
    modifier_body,
    plan_of,
    products_of,
)
from tests.pipeline.apply.test_strict_round_trip import contract, edit_every_kind
from tests.pipeline.plan.workbooks import append, get, put, rows_where
from tests.stores import SandboxStore, sandbox_store

pytestmark = [
    pytest.mark.anyio,
    pytest.mark.skipif(not specs_present(default_spec_dir()), reason=f"BigCommerce OpenAPI specs not found in "
                       f"{default_spec_dir()}: set BIGCOMMERCE_OPENAPI_DIR"),
]


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


async def pictures(store: SandboxStore, products: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The products as an export shows them: every image URL replaced by the sha256 of the image the store
    serves there, config texts that are "" left out."""
    seen: dict[str, str] = {}
    async with httpx.AsyncClient(transport=store.transport(), base_url="http://sandbox.test") as http:
        async def digest(url: Any) -> Any:
            if not isinstance(url, str) or not url:
                return url
            if url not in seen:
                answer = await http.get(url)
                seen[url] = hashlib.sha256(answer.content).hexdigest() if answer.status_code == 200 else "gone"
            return seen[url]

        out = []
        for product in products:
            modifiers = []
            for modifier in product["modifiers"]:
                values = []
                for value in modifier.get("option_values") or []:
                    adjusters = {**value["adjusters"], "image_url": await digest(value["adjusters"].get("image_url"))}
                    values.append({**value, "adjusters": adjusters})
                config = {k: v for k, v in (modifier.get("config") or {}).items() if v != ""}
                modifiers.append({**modifier, "config": config, "option_values": values})
            out.append({**product, "modifiers": modifiers})
        return out


def edit_values(path: Path, deleted: list[int]) -> None:
    """Edits `edit_every_kind` leaves out: a value deleted and one created under a modifier that stays,
    a checkbox value's adjusters, a default moved, a value renamed (not in the modifiers it deletes)."""
    book = load_workbook(path)
    choice = book["Choice values"]
    radio = next(get(choice, r, "modifier_id") for r in rows_where(choice, type="radio_buttons")
                 if get(choice, r, "modifier_id") not in deleted
                 and len(rows_where(choice, modifier_id=get(choice, r, "modifier_id"))) >= 3)
    rows = rows_where(choice, modifier_id=radio)
    put(choice, rows[-1], action="delete")
    cells = {c.value: choice.cell(rows[0], c.column).value for c in choice[1]}
    append(choice, **cells | {"value_id": None, "label": "Added by the apply", "image_url": None, "is_default": False})
    put(choice, rows[0], label=f"{cells['label']} (renamed)")
    put(choice, rows[1], is_default=not get(choice, rows[1], "is_default"))
    boxes = book["Checkbox values"]
    box = next(r for r in range(2, boxes.max_row + 1) if get(boxes, r, "modifier_id") not in deleted)
    put(boxes, box, price_adjuster="relative", price_adjuster_value=3.25, weight_adjuster="relative",
        weight_adjuster_value=0.5)
    book.save(path)


async def catalog(store: SandboxStore) -> dict[int, Any]:
    return state_by_natural_key(await pictures(store, products_of(store)))


async def restore(store: SandboxStore, backup: Path):
    async with client_for(store) as client:
        plan = await plan_restore(backup, client)
        result = await apply_restore(plan, client, backup=backup, image_transport=store.transport())
    return plan, result


async def test_restore_puts_back_an_apply_of_every_kind_and_a_restore_can_be_undone(tmp_path: Path) -> None:
    store = sandbox_store(tmp_path / "store", products=30, strict=True)
    path = (await export_store(store.settings, tmp_path / "wb" / "catalog.xlsx", transport=store.transport())).path
    original = await catalog(store)
    served = next(v["adjusters"]["image_url"] for p in products_of(store) for m in p["modifiers"]
                  for v in m["option_values"] if v["adjusters"]["image_url"])
    done = edit_every_kind(path, f"http://sandbox.test{served}" if served.startswith("/") else served)
    edit_values(path, done["deleted"])
    async with client_for(store) as client:
        plan, _ = await plan_workbook(path, client)
        applied = await apply_plan(plan, client, workbook_dir=path.parent, journal=Journal.for_workbook(path),
                                   image_transport=store.transport())
    assert applied.ok and applied.backup_path is not None
    kinds = plan.counts()
    assert all(kinds[k.value] for k in OpKind), kinds  # an edit of every kind, images included
    changed = await catalog(store)
    assert differences(original, changed)

    undo, result = await restore(store, applied.backup_path)
    assert [o.message for o in result.failed] == [] and result.ok
    assert undo.conflicts == [] and [s for s in undo.skipped if s.kind == "refused"] == []
    counted = undo.counts()
    assert counted["create_modifier"] and counted["delete_modifier"] and counted["update_modifier"]
    assert counted["create_value"] and counted["delete_value"] and counted["upload_image"]
    assert duplicates(products_of(store)) == []
    assert await catalog(store) == original, differences(original, await catalog(store))
    async with client_for(store) as client:  # nothing left to restore
        assert (await plan_restore(applied.backup_path, client)).operations == []

    # the restore took its own backup (of the applied state) beside the first: restoring it undoes the restore
    assert result.backup_path is not None and result.backup_path.parent == applied.backup_path.parent
    _, again = await restore(store, result.backup_path)
    assert again.ok, [o.message for o in again.failed]
    assert await catalog(store) == changed, differences(changed, await catalog(store))
    _, back = await restore(store, applied.backup_path)
    assert back.ok and await catalog(store) == original
    counters = contract(store)
    assert counters["refused"] == 0 and counters["checked"] > 0, counters
    print(f"\napply: {applied.writes} writes; restore: {len(undo.operations)} operations, {result.writes} writes, "
          f"{result.requests} requests (backup {result.backup_requests}) in {result.seconds:.2f} s; "
          f"restore of the restore: {again.writes} writes")


async def test_what_an_apply_added_to_a_product_without_modifiers_is_removed(tmp_path: Path) -> None:
    store = sandbox_store(tmp_path / "store", products=6, strict=True)
    folder = tmp_path / "wb"
    bare = products_of(store)[0]
    async with client_for(store) as client:
        for modifier in bare["modifiers"]:  # a product without modifiers: the backup has no row of it
            await client.delete(f"/catalog/products/{bare['id']}/modifiers/{modifier['id']}")
        original = await catalog(store)
        create = make_op(OpKind.CREATE_MODIFIER, bare["id"], "Added later", "dropdown",
                         payload=modifier_body("dropdown", "Added later", ("A", "B")))
        applied = await apply_plan(plan_of([create]), client, workbook_dir=folder, journal=None)
        assert applied.ok and applied.backup_path is not None
        plan = await plan_restore(applied.backup_path, client)
        assert [(op.kind, op.product_id, op.display_name) for op in plan.operations] == \
            [(OpKind.DELETE_MODIFIER, bare["id"], "Added later")]
        result = await apply_restore(plan, client, backup=applied.backup_path)
    assert result.ok and await catalog(store) == original


async def test_an_image_the_store_no_longer_serves_fails_its_row_and_says_so(tmp_path: Path) -> None:
    store = sandbox_store(tmp_path / "store", products=12, strict=True)
    folder = tmp_path / "wb"
    (folder / "images").mkdir(parents=True)
    (folder / "images" / "mine.png").write_bytes(PNG)
    product, modifier, value = next((p, m, v) for p in products_of(store) for m in p["modifiers"]
                                    for v in m["option_values"] if m["type"] == "rectangles")
    key = dict(modifier_id=modifier["id"], value_id=value["id"], label=value["label"])
    async with client_for(store) as client:
        uploaded = make_op(OpKind.UPLOAD_IMAGE, product["id"], modifier["display_name"], "rectangles",
                           image="images/mine.png", **key)
        assert (await apply_plan(plan_of([uploaded]), client, workbook_dir=folder, journal=None, backup=False)).ok
        doomed = make_op(OpKind.DELETE_VALUE, product["id"], modifier["display_name"], "rectangles", **key)
        applied = await apply_plan(plan_of([doomed]), client, workbook_dir=folder, journal=None)
    assert applied.ok and applied.backup_path is not None
    for image in (tmp_path / "store").rglob("uploads/*"):
        image.unlink()  # the store no longer has the picture the backup names
    _, result = await restore(store, applied.backup_path)
    failed = result.failed
    assert [o.kind for o in failed] == [OpKind.UPLOAD_IMAGE], [o.message for o in failed]
    assert failed[0].source is not None and "404" in failed[0].message, failed[0].message
    print(f"\n{failed[0].source}: {failed[0].message}")
    assert value["label"] in values_of(products_of(store), product["id"], modifier["display_name"])  # the value is back


def values_of(products: list[dict[str, Any]], product_id: int, name: str) -> dict[str, Any]:
    product = next(p for p in products if p["id"] == product_id)
    modifier = next(m for m in product["modifiers"] if m["display_name"] == name)
    return {v["label"]: v for v in modifier["option_values"]}


async def test_a_file_that_is_not_an_export_is_refused_and_nothing_is_sent(tmp_path: Path) -> None:
    store = sandbox_store(tmp_path / "store", products=4)
    path = tmp_path / "not-a-backup.xlsx"
    Workbook().save(path)
    async with client_for(store) as client:
        with pytest.raises(PlanRefused) as refused:
            await plan_restore(path, client)
    assert refused.value.outcome.issues and store.stats()["writes"] == 0
