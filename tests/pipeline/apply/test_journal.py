"""The journal: resume skips what was done, reconciles what may have been done, ignores other plans."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pipeline.apply import Journal, apply_plan, journal_path
from pipeline.plan.operations import OpKind
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
)
from tests.stores import sandbox_store

pytestmark = pytest.mark.anyio


@pytest.fixture
def store(tmp_path: Path):
    return sandbox_store(tmp_path / "store", products=12)


@pytest.fixture
def workbook(tmp_path: Path) -> Path:
    folder = tmp_path / "wb"
    folder.mkdir()
    return folder / "edits.xlsx"


async def run(store, plan, workbook: Path, **kwargs):
    async with client_for(store) as client:
        return await apply_plan(plan, client, workbook_dir=workbook.parent, journal=Journal.for_workbook(workbook),
                                backup=False, **kwargs)


def records(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def posts(store) -> list[str]:
    return [e["path"] for e in store.app.state.sandbox.stats.recent(100_000) if e["method"] == "POST"]


def sample_plan(store):
    products = products_of(store)
    pid, modifier = first_of_type(products, "dropdown")
    ops = new_modifier_ops(FIRST_PRODUCT_ID, "checkbox", "Journaled box", 3)
    ops += new_modifier_ops(FIRST_PRODUCT_ID + 1, "swatch", "Journaled swatch", 4)
    ops.append(make_op(OpKind.UPDATE_MODIFIER, pid, modifier["display_name"], "dropdown", modifier_id=modifier["id"],
                       payload=modifier_update(modifier, sort_order=55)))
    return plan_of(ops)


async def test_the_journal_sits_beside_the_workbook_and_records_every_op(store, workbook: Path) -> None:
    plan = sample_plan(store)
    result = await run(store, plan, workbook)
    assert result.ok and result.journal_path == journal_path(workbook) == workbook.with_name("edits.xlsx.journal.jsonl")
    lines = records(result.journal_path)
    assert lines[0]["type"] == "run" and lines[0]["plan_id"] == plan.plan_id
    assert lines[-1]["type"] == "complete"
    for op in plan.operations:
        kinds = [r["type"] for r in lines if r.get("op_id") == op.op_id]
        assert kinds == ["started", "done"]
    created = next(r for r in lines if r["type"] == "done" and r["op_id"] == plan.operations[0].op_id)
    assert set(created["values"]) == {"Yes", "No"} and created["modifier_id"]


async def test_a_second_run_of_a_finished_plan_sends_nothing(store, workbook: Path) -> None:
    plan = sample_plan(store)
    first = await run(store, plan, workbook)
    assert first.ok and first.requests == len(plan.operations)
    again = await run(store, plan, workbook)
    assert again.ok and again.resumed and again.requests == 0 and again.writes == 0
    assert all(o.from_journal for o in again.outcomes)
    assert [o.modifier_id for o in again.outcomes] == [o.modifier_id for o in first.outcomes]
    assert [o.value_id for o in again.outcomes] == [o.value_id for o in first.outcomes]
    assert duplicates(products_of(store)) == []


async def test_resume_skips_done_ops_and_restores_their_ids_for_dependents(store, workbook: Path) -> None:
    plan = sample_plan(store)
    box = plan.operations[0]
    async with client_for(store) as client:  # an earlier run that got as far as the checkbox create
        journal = Journal.for_workbook(workbook).open(plan.plan_id)
        await journal.mark_started(box.op_id)
        created = await client.post_json(f"/catalog/products/{FIRST_PRODUCT_ID}/modifiers", box.payload)
        await journal.mark_done(box.op_id, modifier_id=created["id"],
                                values={v["label"]: v["id"] for v in created["option_values"]})
    result = await run(store, plan, workbook)
    assert result.ok and result.resumed
    assert result.outcome(box.op_id).from_journal
    assert result.reconcile_reads == 0  # the Yes/No ids came from the journal
    assert result.requests == len(plan.operations) - 1
    assert posts(store).count(f"/stores/sandbox/v3/catalog/products/{FIRST_PRODUCT_ID}/modifiers") == 1
    yes = next(v for v in modifier_named(products_of(store), FIRST_PRODUCT_ID, "Journaled box")["option_values"]
               if v["label"] == "Yes")
    assert yes["adjusters"]["price"]["adjuster_value"] == 4.0


async def test_a_started_create_that_reached_the_store_is_matched_not_repeated(store, workbook: Path) -> None:
    plan = sample_plan(store)
    swatch = next(op for op in plan.operations if op.display_name == "Journaled swatch")
    async with client_for(store) as client:  # killed after the POST landed, before `done` was written
        journal = Journal.for_workbook(workbook).open(plan.plan_id)
        await journal.mark_started(swatch.op_id)
        await client.post_json(f"/catalog/products/{swatch.product_id}/modifiers", swatch.payload)
    result = await run(store, plan, workbook)
    assert result.ok
    outcome = result.outcome(swatch.op_id)
    assert outcome.reconciled and outcome.value_ids.keys() == {"Alpha", "Beta"}
    assert result.reconcile_reads == 1
    after = products_of(store)
    assert duplicates(after) == []
    assert [m["display_name"] for p in after for m in p["modifiers"]].count("Journaled swatch") == 1


async def test_a_started_create_that_never_reached_the_store_is_sent(store, workbook: Path) -> None:
    plan = sample_plan(store)
    swatch = next(op for op in plan.operations if op.display_name == "Journaled swatch")
    journal = Journal.for_workbook(workbook).open(plan.plan_id)
    await journal.mark_started(swatch.op_id)
    result = await run(store, plan, workbook)
    assert result.ok and not result.outcome(swatch.op_id).reconciled
    assert result.reconcile_reads == 1 and result.writes == len(plan.operations)
    assert duplicates(products_of(store)) == []


async def test_a_started_value_create_is_matched_by_label(store, workbook: Path) -> None:
    pid, modifier = first_of_type(products_of(store), "rectangles")
    op = make_op(OpKind.CREATE_VALUE, pid, modifier["display_name"], "rectangles", modifier_id=modifier["id"],
                 label="XL", payload={"label": "XL", "sort_order": 9})
    plan = plan_of([op])
    async with client_for(store) as client:
        journal = Journal.for_workbook(workbook).open(plan.plan_id)
        await journal.mark_started(op.op_id)
        landed = await client.post_json(f"/catalog/products/{pid}/modifiers/{modifier['id']}/values", op.payload)
    result = await run(store, plan, workbook)
    assert result.ok and result.outcome(op.op_id).reconciled and result.outcome(op.op_id).value_id == landed["id"]
    assert result.writes == 0


async def test_a_journal_of_another_plan_is_moved_aside(store, workbook: Path) -> None:
    other = plan_of(new_modifier_ops(FIRST_PRODUCT_ID, "text", "Other plan", 2))
    journal = Journal.for_workbook(workbook).open(other.plan_id)
    await journal.mark_done(other.operations[0].op_id, modifier_id=1)
    plan = sample_plan(store)
    result = await run(store, plan, workbook)
    assert result.ok and not result.resumed and result.writes == len(plan.operations)
    moved = list(workbook.parent.glob("edits.xlsx.journal.jsonl.*.old"))
    assert len(moved) == 1 and other.plan_id in moved[0].name
    assert records(moved[0])[0]["plan_id"] == other.plan_id
    assert records(journal_path(workbook))[0]["plan_id"] == plan.plan_id


async def test_a_torn_last_line_is_ignored(store, workbook: Path) -> None:
    plan = sample_plan(store)
    await run(store, plan, workbook)
    path = journal_path(workbook)
    with path.open("a") as handle:
        handle.write('{"type": "done", "op_id": "trunc')  # a kill in the middle of a write
    again = Journal(path).open(plan.plan_id)
    assert again.resuming and len(again.done) == len(plan.operations)


async def test_failed_ops_are_retried_on_the_next_run(store, workbook: Path) -> None:
    ops = new_modifier_ops(FIRST_PRODUCT_ID, "date", "Needs a default", 2)
    del ops[0].payload["config"]["default_value"]  # the store refuses a date modifier without one
    plan = plan_of(ops)
    first = await run(store, plan, workbook)
    assert not first.ok
    journal = Journal.for_workbook(workbook).open(plan.plan_id)
    assert journal.ambiguous(ops[0].op_id) and ops[0].op_id in journal.failed
    second = await run(store, plan, workbook)
    assert not second.ok and second.reconcile_reads == 1 and second.writes == 1  # looked up, then tried again
