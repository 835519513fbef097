"""The notebook API (`pipeline.api`) from inside a running event loop, as in a Jupyter kernel.

A sandbox store is served by uvicorn on 127.0.0.1, so the calls go over real HTTP from whichever
loop and thread they run on: the coroutines are awaited on the test's loop, and their `*_sync`
twins are called from that same running loop (where `asyncio.run` would raise).
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from openpyxl import load_workbook

import pipeline
from pipeline import api
from pipeline.export import export_store
from pipeline.plan.build import PlanRefused
from pipeline.sandbox.config import SandboxConfig
from pipeline.sandbox.server import serve_in_thread
from pipeline.settings import Settings
from pipeline.workbook.editing import SheetEditor

pytestmark = pytest.mark.anyio
PRODUCTS = 12
TOKEN = "tok-api-3f9a6c21"


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"  # Jupyter's kernel runs an asyncio loop


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Settings]:
    config = SandboxConfig(data_dir=tmp_path / "store", products=PRODUCTS, token=TOKEN, quota=None)
    with serve_in_thread(config) as base_url:
        yield Settings.for_sandbox(base_url, TOKEN)


async def test_a_notebook_round_trip_awaiting_each_call(store: Settings, tmp_path: Path) -> None:
    frames = await api.export_frames(store)
    assert frames.modifiers["product_id"].nunique() == PRODUCTS and len(frames.values) > 0
    some = await api.export_frames(store, products=[int(frames.modifiers["product_id"].iloc[0])])
    assert some.modifiers["product_id"].nunique() == 1

    workbook = (await export_store(store, tmp_path / "mods.xlsx")).path
    read, meta = await api.read_workbook(workbook)
    assert meta.store_hash == "sandbox" and len(read.values) == len(frames.values)

    label = _rename_first_choice_value(workbook)
    outcome = await api.validate(workbook, store)
    assert outcome.ok, outcome.issues
    planned = await api.plan(workbook, store)
    assert [op.kind.value for op in planned.operations] == ["update_value"]
    result = await api.apply(planned, store)
    assert result.ok and result.writes == 1 and result.backup_path is not None
    assert label in set((await api.export_frames(store)).values["label"])
    assert (await api.plan(workbook, store)).operations == []


async def test_apply_refuses_while_another_run_holds_the_workbook(store: Settings, tmp_path: Path) -> None:
    from pipeline.apply.lock import LockHeld, workbook_lock

    workbook = (await export_store(store, tmp_path / "mods.xlsx")).path
    _rename_first_choice_value(workbook)
    planned = await api.plan(workbook, store)
    with workbook_lock(workbook, "bcmod apply"):  # as a CLI apply of the same file would hold it
        with pytest.raises(LockHeld, match="bcmod apply"):
            await api.apply(planned, store)
        with pytest.raises(LockHeld):
            await api.apply(workbook, store)
    assert (await api.apply(planned, store)).writes == 1  # free again: it goes through


async def test_sync_twins_work_inside_the_running_loop(store: Settings, tmp_path: Path) -> None:
    asyncio.get_running_loop()  # a loop is running here, as in a notebook cell
    frames = api.export_frames_sync(store)
    assert frames.modifiers["product_id"].nunique() == PRODUCTS
    workbook = (await export_store(store, tmp_path / "mods.xlsx")).path
    read, _ = api.read_workbook_sync(workbook)
    assert len(read.modifiers) == len(frames.modifiers)

    label = _rename_first_choice_value(workbook)
    assert api.validate_sync(workbook).ok  # offline: no store given
    result = api.apply_sync(workbook, store)  # a path: planned first, as `bcmod apply` does
    assert result.ok and result.writes == 1
    assert label in set(pipeline.export_frames_sync(store).values["label"])
    assert api.plan_sync(workbook, store).operations == []


async def test_a_file_with_problems_is_refused_with_its_issues(store: Settings, tmp_path: Path) -> None:
    workbook = (await export_store(store, tmp_path / "mods.xlsx")).path
    book = load_workbook(workbook)
    SheetEditor.of(book["Choice values"]).set(2, "sort_order", "first")
    book.save(workbook)
    outcome = api.validate_sync(workbook, store)
    assert not outcome.ok and {(i.sheet, i.row, i.column) for i in outcome.issues} == {("Choice values", 2,
                                                                                        "sort_order")}
    with pytest.raises(PlanRefused) as refused:
        await api.plan(workbook, store)
    assert refused.value.outcome.issues == outcome.issues


async def test_run_sync_uses_a_worker_thread_only_when_a_loop_is_running() -> None:
    async def where() -> str:
        return threading.current_thread().name

    assert api.run_sync(where()).startswith("bcmod-sync")
    assert await asyncio.to_thread(lambda: api.run_sync(where())) != threading.current_thread().name


def test_run_sync_without_a_loop_runs_here() -> None:
    async def where() -> str:
        return threading.current_thread().name

    assert api.run_sync(where()) == threading.current_thread().name


def test_a_store_must_be_named(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in ("BIGCOMMERCE_API_URL", "BIGCOMMERCE_STORE_HASH", "BIGCOMMERCE_ACCESS_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)  # no .env
    with pytest.raises(ValueError, match="no store configured"):
        api.export_frames_sync()


def _rename_first_choice_value(workbook: Path) -> str:
    """Edit the workbook as a person would in Excel: rename the first choice value; returns the new label."""
    book = load_workbook(workbook)
    values = SheetEditor.of(book["Choice values"])
    label = f"{values.get(2, 'label')} (renamed)"
    values.set(2, "label", label)
    book.save(workbook)
    return label
