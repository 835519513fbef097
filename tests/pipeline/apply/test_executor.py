"""The executor against an in-process sandbox: every operation kind on every modifier type.

Plans here are made by hand (`support.make_op`), so each test says exactly which requests it
expects; the planner's own plans are applied end to end in test_end_to_end.py.
"""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from pipeline.apply import FAILED, OK, apply_plan
from pipeline.apply.executor import order_after
from pipeline.modifier_types import MODIFIER_TYPES, TYPE_NAMES
from pipeline.plan.operations import Change, OpKind, RowRef
from pipeline.sandbox.faults import FaultPlan
from sample_data.generator import FIRST_PRODUCT_ID
from tests.pipeline.apply.support import (
    client_for,
    duplicates,
    first_of_type,
    make_op,
    modifier_update,
    modifier_named,
    new_modifier_ops,
    plan_of,
    products_of,
    value_body,
)
from tests.stores import sandbox_store

pytestmark = pytest.mark.anyio
VALUE_TYPES = [t for t, spec in MODIFIER_TYPES.items() if spec.has_values and not spec.generated_values]


@pytest.fixture
def store(tmp_path: Path):
    return sandbox_store(tmp_path / "store", products=30)


async def run(store, plan, folder: Path, **kwargs):
    kwargs.setdefault("backup", False)
    kwargs.setdefault("journal", None)
    async with client_for(store) as client:
        return await apply_plan(plan, client, workbook_dir=folder, **kwargs)


def writes_logged(store) -> list[tuple[str, str]]:
    return [(e["method"], e["path"]) for e in store.app.state.sandbox.stats.recent(100_000)
            if e["method"] in ("POST", "PUT", "DELETE")]


async def test_every_operation_kind_on_every_modifier_type(store, folder: Path) -> None:
    before = products_of(store)
    ops = []
    expected: dict[str, tuple] = {}
    for n, type_name in enumerate(TYPE_NAMES):
        ops += new_modifier_ops(FIRST_PRODUCT_ID, type_name, f"New {type_name}", 10 + n)
        pid, keep = first_of_type(before, type_name)
        ops.append(make_op(OpKind.UPDATE_MODIFIER, pid, keep["display_name"], type_name, modifier_id=keep["id"],
                           payload=modifier_update(keep, required=not keep["required"], sort_order=42)))
        gone_pid, gone = first_of_type(before, type_name, skip=1)
        ops.append(make_op(OpKind.DELETE_MODIFIER, gone_pid, gone["display_name"], type_name, modifier_id=gone["id"]))
        expected[type_name] = (pid, keep, gone_pid, gone)
        values = keep["option_values"]
        if type_name == "checkbox":
            yes = next(v for v in values if v["label"] == "Yes")
            ops.append(make_op(OpKind.UPDATE_VALUE, pid, keep["display_name"], type_name, modifier_id=keep["id"],
                               value_id=yes["id"], label="Yes",
                               payload={"label": "Yes", "sort_order": yes["sort_order"],
                                        "adjusters": {"price": {"adjuster": "relative", "adjuster_value": 2.5}}}))
        elif type_name in VALUE_TYPES:
            first, last = values[0], values[-1]
            ops.append(make_op(OpKind.CREATE_VALUE, pid, keep["display_name"], type_name, modifier_id=keep["id"],
                               label="Fresh", payload=value_body(type_name, "Fresh", 77)))
            ops.append(make_op(OpKind.UPDATE_VALUE, pid, keep["display_name"], type_name, modifier_id=keep["id"],
                               value_id=first["id"], label=first["label"],
                               payload={"label": f"{first['label']} (renamed)", "sort_order": 99},
                               changes=[Change("label", first["label"], f"{first['label']} (renamed)")]))
            ops.append(make_op(OpKind.DELETE_VALUE, pid, keep["display_name"], type_name, modifier_id=keep["id"],
                               value_id=last["id"], label=last["label"]))
            ops.append(make_op(OpKind.UPLOAD_IMAGE, pid, keep["display_name"], type_name, modifier_id=keep["id"],
                               value_id=values[1]["id"], label=values[1]["label"], image="images/swatch.png"))
    plan = plan_of(ops)

    result = await run(store, plan, folder)

    assert [o.message for o in result.failed] == []
    assert result.counts() == {"ok": len(ops), "failed": 0, "skipped": 0}
    assert result.requests == len(ops) == result.writes  # one request per changed entity, nothing else
    assert set(result.counts_by_kind()) == {k.value for k in OpKind}
    after = products_of(store)
    assert duplicates(after) == []
    for type_name, (pid, keep, gone_pid, gone) in expected.items():
        created = modifier_named(after, FIRST_PRODUCT_ID, f"New {type_name}")
        assert created["type"] == type_name
        updated = modifier_named(after, pid, keep["display_name"])
        assert (updated["sort_order"], updated["required"]) == (42, not keep["required"])
        assert all(m["id"] != gone["id"] for p in after for m in p["modifiers"])
        labels = [v["label"] for v in updated["option_values"]]
        if type_name == "checkbox":
            assert sorted(labels) == ["No", "Yes"]
            yes = next(v for v in updated["option_values"] if v["label"] == "Yes")
            assert yes["adjusters"]["price"] == {"adjuster": "relative", "adjuster_value": 2.5}
            assert [v["label"] for v in created["option_values"]] == ["Yes", "No"]
        elif type_name in VALUE_TYPES:
            values = keep["option_values"]
            assert "Fresh" in labels and f"{values[0]['label']} (renamed)" in labels
            assert values[-1]["label"] not in labels
            imaged = next(v for v in updated["option_values"] if v["id"] == values[1]["id"])
            assert imaged["adjusters"]["image_url"].startswith("/_sandbox/images/uploads/")
            assert [v["label"] for v in created["option_values"]] == ["Alpha", "Beta"]
            outcome = result.outcome(next(o.op_id for o in ops if o.kind is OpKind.CREATE_MODIFIER
                                          and o.display_name == f"New {type_name}"))
            assert outcome.value_ids == {v["label"]: v["id"] for v in created["option_values"]}
        else:
            assert labels == [] and created["option_values"] == []


async def test_checkbox_is_created_then_its_values_updated(store, folder: Path) -> None:
    ops = new_modifier_ops(FIRST_PRODUCT_ID + 3, "checkbox", "Insurance", 5)
    ticks: list[tuple[int, int]] = []
    result = await run(store, plan_of(ops), folder, progress=lambda done, total: ticks.append((done, total)))
    assert result.ok and result.requests == 3
    assert ticks == [(1, 3), (2, 3), (3, 3)]
    created = modifier_named(products_of(store), FIRST_PRODUCT_ID + 3, "Insurance")
    prices = {v["label"]: v["adjusters"]["price"] for v in created["option_values"]}
    assert prices == {"Yes": {"adjuster": "relative", "adjuster_value": 4.0},
                      "No": {"adjuster": "relative", "adjuster_value": 0.0}}
    assert writes_logged(store)[0] == ("POST", f"/stores/sandbox/v3/catalog/products/{FIRST_PRODUCT_ID + 3}/modifiers")
    yes_outcome = next(o for o in result.outcomes if o.label == "Yes")
    assert yes_outcome.value_id == next(v["id"] for v in created["option_values"] if v["label"] == "Yes")
    assert yes_outcome.modifier_id == created["id"]


async def test_dependents_of_a_failed_create_are_not_attempted(store, folder: Path) -> None:
    ops = new_modifier_ops(FIRST_PRODUCT_ID, "checkbox", "Broken", 7)
    ops[0].payload["config"] = {"checkbox_label": 5}  # not a string: 422
    good = new_modifier_ops(FIRST_PRODUCT_ID, "text", "Still lands", 8)
    result = await run(store, plan_of(ops + good), folder)
    assert not result.ok and result.exit_code == 1
    create = result.outcome(ops[0].op_id)
    assert create.status == FAILED and "checkbox_label" in create.message and "422" in create.message
    for dependent in ops[1:]:
        outcome = result.outcome(dependent.op_id)
        assert outcome.status == FAILED
        assert outcome.message.startswith("not attempted: depends on failed create modifier 'Broken'")
        assert "New row 7" in outcome.message
    assert result.outcome(good[0].op_id).status == OK
    assert result.requests == 2  # the refused create and the good one; the dependents cost nothing
    names = [m["display_name"] for m in products_of(store)[0]["modifiers"]]
    assert "Still lands" in names and "Broken" not in names


async def test_a_refused_operation_is_reported_and_the_others_land(store, folder: Path) -> None:
    before = products_of(store)
    pid, swatch = first_of_type(before, "swatch")
    cpid, checkbox = first_of_type(before, "checkbox")
    bad_colours = make_op(OpKind.UPDATE_VALUE, pid, swatch["display_name"], "swatch", modifier_id=swatch["id"],
                          value_id=swatch["option_values"][0]["id"], label=swatch["option_values"][0]["label"],
                          payload={"label": swatch["option_values"][0]["label"], "sort_order": 0,
                                   "value_data": {"colors": ["#000000"] * 4}}, source=RowRef("Swatch values", 4))
    checkbox_value = make_op(OpKind.CREATE_VALUE, cpid, checkbox["display_name"], "checkbox",
                             modifier_id=checkbox["id"], label="Maybe", payload={"label": "Maybe", "sort_order": 3})
    gone = make_op(OpKind.UPDATE_MODIFIER, pid, "Vanished", "text", modifier_id=999_999,
                   payload={"type": "text", "required": False, "sort_order": 1})
    fine = make_op(OpKind.UPDATE_MODIFIER, pid, swatch["display_name"], "swatch", modifier_id=swatch["id"],
                   payload=modifier_update(swatch, sort_order=31))
    result = await run(store, plan_of([bad_colours, checkbox_value, gone, fine]), folder)
    assert result.counts() == {"ok": 1, "failed": 3, "skipped": 0}
    assert "at most 3 colours" in result.outcome(bad_colours.op_id).message
    assert "generated" in result.outcome(checkbox_value.op_id).message
    assert "no longer exists" in result.outcome(gone.op_id).message
    assert modifier_named(products_of(store), pid, swatch["display_name"])["sort_order"] == 31


async def test_legacy_option_set_product_is_named_plainly(store, folder: Path) -> None:
    db = store.app.state.sandbox.store
    db._db.execute("UPDATE products SET option_set_id = 7 WHERE id = ?", (FIRST_PRODUCT_ID,))
    result = await run(store, plan_of(new_modifier_ops(FIRST_PRODUCT_ID, "text", "Legacy", 3)), folder)
    assert "legacy" in result.failed[0].message.lower()


class DropNextPost(httpx.AsyncBaseTransport):
    """Drops the connection after the store processed the next `times` POSTs (the write happened)."""

    def __init__(self, store, times: int = 1) -> None:
        self.inner = store.transport()
        self.faults = store.app.state.sandbox.faults
        self.times = times

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if request.method == "POST" and self.times > 0:
            self.times -= 1
            self.faults.plan = FaultPlan(rate_drop=1.0)
            try:
                return await self.inner.handle_async_request(request)
            finally:
                self.faults.plan = FaultPlan()
        return await self.inner.handle_async_request(request)


@pytest.mark.parametrize("kind", ["modifier", "value"])
async def test_an_ambiguous_create_is_matched_by_natural_key_not_repeated(store, folder: Path, kind: str) -> None:
    before = products_of(store)
    if kind == "modifier":
        ops = new_modifier_ops(FIRST_PRODUCT_ID, "checkbox", "Dropped once", 3)
    else:
        pid, modifier = first_of_type(before, "dropdown")
        ops = [make_op(OpKind.CREATE_VALUE, pid, modifier["display_name"], "dropdown", modifier_id=modifier["id"],
                       label="Dropped once", payload=value_body("dropdown", "Dropped once"))]
    from pipeline.client import BigCommerceClient

    async with BigCommerceClient(store.settings, transport=DropNextPost(store)) as client:
        result = await apply_plan(plan_of(ops), client, workbook_dir=folder, journal=None, backup=False)
    assert result.ok, result.failed
    create = result.outcome(ops[0].op_id)
    assert create.reconciled and result.reconcile_reads == 1
    assert result.metrics["connection_drops"] == 1
    after = products_of(store)
    assert duplicates(after) == []
    posts = [p for m, p in writes_logged(store) if m == "POST"]
    assert len(posts) == 1  # sent once; the lookup found it, so it was not sent again
    if kind == "modifier":  # the Yes/No updates found the generated values of the matched modifier
        created = modifier_named(after, FIRST_PRODUCT_ID, "Dropped once")
        assert {v["label"]: v["adjusters"]["price"]["adjuster_value"] for v in created["option_values"]} == \
            {"Yes": 4.0, "No": 0.0}


async def test_a_create_answered_5xx_is_looked_up_then_sent_again(store, folder: Path) -> None:
    class FailFirstPost(httpx.AsyncBaseTransport):
        def __init__(self) -> None:
            self.inner = store.transport()
            self.failed = False

        async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
            if request.method == "POST" and not self.failed:
                self.failed = True
                return httpx.Response(503, json={"status": 503, "title": "Service Unavailable"}, request=request)
            return await self.inner.handle_async_request(request)

    from pipeline.client import BigCommerceClient

    ops = new_modifier_ops(FIRST_PRODUCT_ID, "dropdown", "Retried", 3)
    async with BigCommerceClient(store.settings, transport=FailFirstPost()) as client:
        result = await apply_plan(plan_of(ops), client, workbook_dir=folder, journal=None, backup=False)
    assert result.ok and not result.outcome(ops[0].op_id).reconciled
    assert result.writes == 2 and result.reconcile_reads == 1
    assert [m["display_name"] for m in products_of(store)[0]["modifiers"]].count("Retried") == 1


async def test_concurrency_is_bounded_and_dependencies_respected(store, folder: Path) -> None:
    in_flight = peak = 0

    class Counting(httpx.AsyncBaseTransport):
        def __init__(self) -> None:
            self.inner = store.transport()

        async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
            nonlocal in_flight, peak
            in_flight += 1
            peak = max(peak, in_flight)
            try:
                import asyncio

                await asyncio.sleep(0.01)
                return await self.inner.handle_async_request(request)
            finally:
                in_flight -= 1

    from pipeline.client import BigCommerceClient

    ops = []
    for n, type_name in enumerate(TYPE_NAMES * 2):
        ops += new_modifier_ops(FIRST_PRODUCT_ID + n, type_name, f"C{n}", n)
    async with BigCommerceClient(store.settings, transport=Counting()) as client:
        result = await apply_plan(plan_of(ops), client, workbook_dir=folder, journal=None, backup=False,
                                  concurrency=3)
    assert result.ok and 1 < peak <= 3


async def test_a_create_waits_for_the_delete_that_frees_its_name(store, folder: Path) -> None:
    before = products_of(store)
    pid, old = first_of_type(before, "dropdown")
    recreate = new_modifier_ops(pid, "text", old["display_name"], 3)  # same name, another type
    delete = make_op(OpKind.DELETE_MODIFIER, pid, old["display_name"], "dropdown", modifier_id=old["id"])
    plan = plan_of(recreate + [delete])  # the create comes first in the plan
    assert order_after(plan.operations) == {recreate[0].op_id: [delete.op_id]}
    result = await run(store, plan, folder, concurrency=8)
    assert result.ok
    assert modifier_named(products_of(store), pid, old["display_name"])["type"] == "text"
    assert [m for m, _ in writes_logged(store)] == ["DELETE", "POST"]


async def test_a_relabel_and_a_create_of_the_old_label_do_not_clash(store, folder: Path) -> None:
    pid, modifier = first_of_type(products_of(store), "radio_buttons")
    first = modifier["option_values"][0]
    relabel = make_op(OpKind.UPDATE_VALUE, pid, modifier["display_name"], "radio_buttons", modifier_id=modifier["id"],
                      value_id=first["id"], label=first["label"], payload={"label": "Moved",
                                                                            "sort_order": first["sort_order"]},
                      changes=[Change("label", first["label"], "Moved")])
    create = make_op(OpKind.CREATE_VALUE, pid, modifier["display_name"], "radio_buttons", modifier_id=modifier["id"],
                     label=first["label"], payload=value_body("radio_buttons", first["label"]))
    result = await run(store, plan_of([relabel, create]), folder)
    assert result.ok, result.failed


async def test_images_for_new_values_find_their_ids_and_bad_images_fail_alone(store, folder: Path) -> None:
    ops = new_modifier_ops(FIRST_PRODUCT_ID, "rectangles", "With pictures", 3, image_label="Beta")
    bad = new_modifier_ops(FIRST_PRODUCT_ID + 1, "rectangles", "Bad picture", 4, image_label="Alpha",
                           image="../outside.png")
    result = await run(store, plan_of(ops + bad), folder)
    assert result.outcome(ops[-1].op_id).status == OK
    failure = result.outcome(bad[-1].op_id)
    assert failure.status == FAILED and "sheet 'New values', row 40," in failure.message and "outside" in failure.message
    assert result.outcome(bad[0].op_id).status == OK  # the modifier itself landed
    beta = next(v for v in modifier_named(products_of(store), FIRST_PRODUCT_ID, "With pictures")["option_values"]
                if v["label"] == "Beta")
    assert beta["adjusters"]["image_url"].startswith("/_sandbox/images/uploads/")
    assert result.writes == 3


async def test_backup_is_taken_before_the_first_write(store, folder: Path) -> None:
    from pipeline.workbook.reader import read_export

    pid, modifier = first_of_type(products_of(store), "text")
    plan = plan_of([make_op(OpKind.DELETE_MODIFIER, pid, modifier["display_name"], "text",
                            modifier_id=modifier["id"])])
    backup_pages: list[tuple[int, int]] = []
    operations: list[tuple[int, int]] = []
    result = await run(store, plan, folder, backup=True, backup_progress=lambda *p: backup_pages.append(p),
                       progress=lambda *p: operations.append(p))
    assert result.ok and result.backup_path is not None and result.backup_path.parent == folder / "backups"
    assert result.backup_path.name.startswith("backup-sandbox-")
    assert result.requests == 1 and result.backup_requests >= 1
    assert backup_pages[-1] == (result.backup_requests, result.backup_requests)  # one product: one page
    assert operations == [(1, 1)]
    frames, meta = read_export(result.backup_path)
    assert meta.filters["product_ids"] == [pid]
    assert modifier["id"] in set(frames.modifiers["modifier_id"].astype(int))  # the state before the delete
    assert set(frames.modifiers["product_id"].astype(int)) == {pid}
    log = store.app.state.sandbox.stats.recent(100)
    assert [e["method"] for e in log][-1] == "DELETE" and all(e["method"] == "GET" for e in log[:-1])


async def test_an_empty_plan_sends_nothing(store, folder: Path) -> None:
    result = await run(store, plan_of([]), folder, backup=True)
    assert result.ok and result.requests == 0 and result.backup_path is None
    assert store.stats()["requests"]["total"] == 0
