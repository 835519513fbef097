"""Faults change the cost of an apply, never its result.

The same plan (about 200 changes of every kind) goes to two sandboxes seeded identically: one
answers 10% of requests with a 5xx, 5% with a bare 429 and drops 2% of connections after
processing them; the other behaves. Both must end in the same catalog (compared by natural key:
created ids may differ), with no duplicate, and every operation reported ok.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from pipeline.apply import Journal, apply_plan
from tests.pipeline.apply.support import PNG, client_for, duplicates, mixed_plan, products_of, state_of
from tests.stores import sandbox_store

pytestmark = pytest.mark.anyio
PRODUCTS = 24
FAULTS = {"fault_5xx_rate": 0.10, "fault_429_rate": 0.05, "fault_drop_rate": 0.02}
HEAVY_DROPS = {"fault_5xx_rate": 0.10, "fault_429_rate": 0.05, "fault_drop_rate": 0.25}  # many ambiguous creates


def workbook_folder(root: Path) -> Path:
    (root / "images").mkdir(parents=True)
    (root / "images" / "swatch.png").write_bytes(PNG)
    return root


async def apply_to(store, plan, folder: Path):
    async with client_for(store) as client:
        return await apply_plan(plan, client, workbook_dir=folder, journal=Journal(folder / "edits.journal.jsonl"),
                                concurrency=8, backup=False)


@pytest.mark.parametrize("seed, faults", [(11, FAULTS), (12, FAULTS), (13, HEAVY_DROPS)], ids=["a", "b", "heavy-drops"])
async def test_faults_change_the_cost_not_the_result(tmp_path: Path, seed: int, faults: dict) -> None:
    calm = sandbox_store(tmp_path / "calm", products=PRODUCTS, seed=seed)  # the seed makes the catalog too
    stormy = sandbox_store(tmp_path / "stormy", products=PRODUCTS, seed=seed, **faults)
    assert state_of(products_of(calm)) == state_of(products_of(stormy))
    plan = mixed_plan(products_of(calm), n_products=PRODUCTS)
    assert 180 <= len(plan.operations) <= 320
    assert all(plan.counts().values())  # every kind of operation is in it

    clean = await apply_to(calm, plan, workbook_folder(tmp_path / "wb-calm"))
    faulty = await apply_to(stormy, plan, workbook_folder(tmp_path / "wb-stormy"))

    assert clean.ok and clean.requests == len(plan.operations)  # one request per change, none wasted
    assert [o.message for o in faulty.failed] == []
    assert faulty.counts() == {"ok": len(plan.operations), "failed": 0, "skipped": 0}
    after_calm, after_stormy = products_of(calm), products_of(stormy)
    assert duplicates(after_calm) == [] and duplicates(after_stormy) == []
    assert state_of(after_stormy) == state_of(after_calm)
    # the faults did happen, and cost requests
    metrics = faulty.metrics
    assert metrics["server_errors"] > 0 and metrics["throttled_bare"] > 0 and metrics["connection_drops"] > 0
    assert faulty.requests > clean.requests
    if faults is HEAVY_DROPS:
        assert sum(o.reconciled for o in faulty.outcomes) > 0  # creates that landed unheard were matched
    print(f"\n{len(plan.operations)} operations; clean: {clean.requests} requests; with faults: "
          f"{faulty.requests} requests ({int(metrics['server_errors'])} 5xx, {int(metrics['throttled_bare'])} "
          f"bare 429, {int(metrics['connection_drops'])} drops, {faulty.reconcile_reads} natural-key lookups, "
          f"{sum(o.reconciled for o in faulty.outcomes)} creates matched), {faulty.seconds:.2f} s")


async def test_a_faulty_run_then_a_rerun_sends_nothing_more(tmp_path: Path) -> None:
    stormy = sandbox_store(tmp_path / "stormy", products=12, seed=5, **FAULTS)
    plan = mixed_plan(products_of(stormy), n_products=12)
    folder = workbook_folder(tmp_path / "wb")
    first = await apply_to(stormy, plan, folder)
    assert first.ok
    again = await apply_to(stormy, plan, folder)
    assert again.ok and again.requests == 0 and again.resumed
