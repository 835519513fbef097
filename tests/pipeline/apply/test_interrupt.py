"""Stopping an apply cleanly, and what its journal lets the next run do.

In process, against the sandbox: a stop requested after k operations (as Ctrl-C does) lets the
writes in flight finish and attempts nothing else; the journal then holds the plan, so the same
request continues it, and the two runs together report what one uninterrupted run reports. The
journal's other duties: the images it uploaded (a re-plan keeps them), a finished run never
replayed for a plan just made, a run a restore undid never resumed.
"""

from __future__ import annotations

import asyncio
import os
import signal
from pathlib import Path

import pytest

from pipeline.apply import Journal, apply_plan
from pipeline.apply.interrupt import INTERRUPTED_MESSAGE, StopRequest, stop_on_signals
from pipeline.apply.journal import run_request
from pipeline.apply.results import row_results, verdict
from pipeline.exit_codes import ExitCode
from pipeline.plan.diff import OwnUpload
from pipeline.plan.operations import OpKind
from sample_data.generator import FIRST_PRODUCT_ID
from tests.pipeline.apply.support import (
    PNG,
    client_for,
    first_of_type,
    make_op,
    modifier_update,
    new_modifier_ops,
    plan_of,
    products_of,
)
from tests.stores import sandbox_store

pytestmark = pytest.mark.anyio


@pytest.fixture
def store(tmp_path: Path):
    return sandbox_store(tmp_path / "store", products=12)


def sample_plan(store, workbook: Path):
    products = products_of(store)
    ops = []
    for skip in range(4):
        pid, modifier = first_of_type(products, "dropdown", skip=skip)
        ops.append(make_op(OpKind.UPDATE_MODIFIER, pid, modifier["display_name"], "dropdown",
                           modifier_id=modifier["id"], payload=modifier_update(modifier, sort_order=40 + skip)))
    ops += new_modifier_ops(FIRST_PRODUCT_ID, "checkbox", "Boxed", 3)
    ops += new_modifier_ops(FIRST_PRODUCT_ID + 1, "swatch", "Swatched", 4, image_label="Alpha")
    return plan_of(ops, workbook=str(workbook))


def stop_after(k: int, stop: StopRequest):
    def progress(done: int, total: int) -> None:
        if done >= k:
            stop.request("test")
    return progress


async def test_a_stop_ends_the_run_after_the_writes_in_flight_and_the_same_request_resumes_it(
        store, folder: Path, tmp_path: Path) -> None:
    workbook = folder / "edits.xlsx"
    plan = sample_plan(store, workbook)
    request = run_request("apply", folder, "sandbox", prune=False, force=False)
    stop = StopRequest()
    async with client_for(store) as client:
        first = await apply_plan(plan, client, workbook_dir=folder, journal=Journal.for_workbook(workbook),
                                 concurrency=1, progress=stop_after(3, stop), stop=stop, request=request)
    assert first.interrupted and first.attempted == 3 < len(plan.operations)
    left = [o for o in first.outcomes if o.interrupted]
    assert left and all(o.status == "skipped" and o.message == INTERRUPTED_MESSAGE for o in left)
    judged = verdict(first)
    assert judged.code is ExitCode.INTERRUPTED == 130
    assert judged.title == f"Interrupted after 3 of {len(plan.operations)} operations; run the same command to resume"
    writes_then = store.stats()["writes"]
    assert writes_then == 3 and first.backup_path is not None

    journal = Journal.for_workbook(workbook)
    assert journal.peek().complete is False
    assert journal.interrupted_plan({**request, "force": True}) is None  # another request plans again
    resumed_plan = journal.interrupted_plan(request)
    assert resumed_plan is not None and resumed_plan.plan_id == plan.plan_id
    async with client_for(store) as client:
        second = await apply_plan(resumed_plan, client, workbook_dir=folder, journal=journal, request=request)
    assert second.ok and not second.interrupted and second.resumed
    assert second.backup_path == first.backup_path  # the backup of record
    assert sum(o.from_journal for o in second.outcomes) == 3 and second.writes == len(plan.operations) - 3
    assert Journal.for_workbook(workbook).interrupted_plan(request) is None  # complete now

    reference = sandbox_store(tmp_path / "reference", products=12)
    async with client_for(reference) as client:
        clean = await apply_plan(plan, client, workbook_dir=folder, journal=None, backup=False)
    texts = {ref: row.text for ref, row in row_results(second).items()}
    assert texts == {ref: row.text for ref, row in row_results(clean).items()}


async def test_a_stop_before_the_first_write_sends_nothing_and_takes_no_backup(store, folder: Path) -> None:
    plan = sample_plan(store, folder / "edits.xlsx")
    stop = StopRequest()
    stop.request()
    async with client_for(store) as client:
        result = await apply_plan(plan, client, workbook_dir=folder, journal=Journal.for_workbook(folder / "edits.xlsx"),
                                  stop=stop)
    assert result.interrupted and result.attempted == 0 and result.backup_path is None
    assert store.stats()["writes"] == 0 and not (folder / "backups").exists()


def test_the_first_signal_asks_to_stop_and_the_second_stops_at_once() -> None:
    heard: list[str] = []
    stop = StopRequest()

    async def main() -> None:
        with stop_on_signals(stop, on_first=heard.append, signals=(signal.SIGUSR1,)):
            os.kill(os.getpid(), signal.SIGUSR1)
            for _ in range(1000):  # the loop hears a signal on its next turns
                if stop.requested:
                    break
                await asyncio.sleep(0)
            assert stop.requested and heard == ["SIGUSR1"]
            os.kill(os.getpid(), signal.SIGUSR1)
            for _ in range(1000):
                await asyncio.sleep(0)

    with pytest.raises(KeyboardInterrupt):  # out of the event loop, as Ctrl-C is
        asyncio.run(main())
    assert heard == ["SIGUSR1"]


async def test_a_re_plan_keeps_the_image_its_own_apply_uploaded_unless_the_file_changed(store, folder: Path) -> None:
    products = products_of(store)
    pid, modifier = first_of_type(products, "rectangles")
    value = modifier["option_values"][0]
    workbook = folder / "edits.xlsx"
    upload = make_op(OpKind.UPLOAD_IMAGE, pid, modifier["display_name"], "rectangles", modifier_id=modifier["id"],
                     value_id=value["id"], label=value["label"], image="images/swatch.png")
    async with client_for(store) as client:
        result = await apply_plan(plan_of([upload], workbook=str(workbook)), client, workbook_dir=folder,
                                  journal=Journal.for_workbook(workbook), backup=False)
    assert result.ok
    stored = next(v for p in products_of(store) for m in p["modifiers"] for v in m["option_values"]
                  if v["id"] == value["id"])["adjusters"]["image_url"]
    stored = f"http://sandbox.test{stored}" if stored.startswith("/") else stored  # as the API answers it
    own = Journal.for_workbook(workbook).own_uploads(folder)
    assert own == {value["id"]: OwnUpload("images/swatch.png", own[value["id"]].digest, stored)}

    # a later plan of the workbook is another plan: the journal is set aside, the upload carried over
    other = plan_of([make_op(OpKind.UPDATE_MODIFIER, pid, modifier["display_name"], "rectangles",
                             modifier_id=modifier["id"], payload=modifier_update(modifier, sort_order=77))],
                    workbook=str(workbook))
    async with client_for(store) as client:
        assert (await apply_plan(other, client, workbook_dir=folder, journal=Journal.for_workbook(workbook),
                                 backup=False)).ok
    assert Journal.for_workbook(workbook).own_uploads(folder) == own

    (folder / "images" / "swatch.png").write_bytes(PNG + b"changed")  # another picture under the same name
    assert Journal.for_workbook(workbook).own_uploads(folder) == {}


async def test_a_finished_run_is_replayed_for_its_saved_plan_but_not_for_a_plan_just_made(store, folder: Path) -> None:
    workbook = folder / "edits.xlsx"
    plan = sample_plan(store, workbook)
    async with client_for(store) as client:
        assert (await apply_plan(plan, client, workbook_dir=folder, journal=Journal.for_workbook(workbook),
                                 backup=False)).ok
        writes = store.stats()["writes"]
        replayed = await apply_plan(plan, client, workbook_dir=folder, journal=Journal.for_workbook(workbook),
                                    backup=False)
        assert replayed.ok and all(o.from_journal for o in replayed.outcomes)
        assert store.stats()["writes"] == writes
        again = await apply_plan(plan, client, workbook_dir=folder, journal=Journal.for_workbook(workbook),
                                 backup=False, replay_complete=False)
    assert not any(o.from_journal for o in again.outcomes) and store.stats()["writes"] > writes
    assert list(folder.glob("edits.xlsx.journal.jsonl.*.old"))


async def test_a_run_whose_backup_was_restored_is_neither_resumed_nor_replayed(store, folder: Path) -> None:
    workbook = folder / "edits.xlsx"
    plan = sample_plan(store, workbook)
    request = run_request("apply", folder, "sandbox")
    stop = StopRequest()
    async with client_for(store) as client:
        first = await apply_plan(plan, client, workbook_dir=folder, journal=Journal.for_workbook(workbook),
                                 concurrency=1, progress=stop_after(2, stop), stop=stop, request=request)
    assert first.interrupted and first.backup_path is not None
    journal = Journal.for_workbook(workbook)
    assert journal.interrupted_plan(request) is not None
    from pipeline.restore import undo_journals

    assert undo_journals(first.backup_path) == [journal.path]
    assert journal.interrupted_plan(request) is None
    async with client_for(store) as client:
        fresh = await apply_plan(plan, client, workbook_dir=folder, journal=Journal.for_workbook(workbook))
    assert not fresh.resumed and not any(o.from_journal for o in fresh.outcomes)
    assert fresh.backup_path != first.backup_path
