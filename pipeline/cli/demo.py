"""The demo: the main job end to end against a fresh sandbox store.

export -> a scripted edit of the workbook (a stand-in for a person in Excel) -> plan -> apply ->
export again, then it shows what changed in the store and proves a re-plan finds nothing to do.
It never touches a configured real store.
"""

from __future__ import annotations

import asyncio
import shutil
from pathlib import Path

from rich.console import Console
from rich.table import Table

from pipeline.apply import Journal, apply_plan, render_summary, write_results
from pipeline.cli.demo_edit import scripted_edit
from pipeline.cli.render import counts_table, export_progress
from pipeline.client import BigCommerceClient
from pipeline.connection import StoreConnection, open_store
from pipeline.export import ExportResult, export_store
from pipeline.extract import count_requests_bound
from pipeline.normalise import ModifierFrames
from pipeline.plan.build import plan_workbook
from pipeline.plan.render import render_plan
from pipeline.workbook.reader import read_export


async def _plan_and_apply(store: StoreConnection, workbook: Path, console: Console) -> tuple[int, int]:
    async with BigCommerceClient(store.settings) as client:
        plan, _ = await plan_workbook(workbook, client, expected_store_hash=store.store_hash)
        render_plan(plan, console)
        console.rule("4. apply")
        result = await apply_plan(plan, client, workbook_dir=workbook.parent, journal=Journal.for_workbook(workbook))
        render_summary(result, console)
        console.print(f"Results workbook: {write_results(result, workbook)}", highlight=False)
        return len(plan.operations), result.writes


async def _replan(store: StoreConnection, workbook: Path) -> int:
    async with BigCommerceClient(store.settings) as client:
        plan, _ = await plan_workbook(workbook, client, expected_store_hash=store.store_hash)
        return len(plan.operations)


def _export(store: StoreConnection, folder: Path, console: Console) -> ExportResult:
    with export_progress(console) as progress:
        return asyncio.run(export_store(store.settings, folder, progress=progress))


def _differences(before: ModifierFrames, after: ModifierFrames) -> Table:
    """Modifiers and values added, removed and changed between two exports, by natural key."""
    table = Table(title="What changed in the store")
    for column in ("", "added", "removed", "changed"):
        table.add_column(column, justify="right" if column else "left")
    for name, key, old, new in (
        ("modifiers", ["product_id", "display_name"], before.modifiers, after.modifiers),
        ("values", ["product_id", "display_name", "label"], before.values, after.values),
    ):
        old_i, new_i = old.drop(columns="name", errors="ignore").set_index(key), \
            new.drop(columns="name", errors="ignore").set_index(key)
        added = new_i.index.difference(old_i.index)
        removed = old_i.index.difference(new_i.index)
        common = old_i.index.intersection(new_i.index)
        ids = [c for c in ("modifier_id", "value_id") if c in old_i.columns]
        left, right = old_i.loc[common].drop(columns=ids), new_i.loc[common].drop(columns=ids)
        changed = (left.astype("string").fillna("") != right.loc[left.index].astype("string").fillna("")).any(axis=1)
        table.add_row(name, str(len(added)), str(len(removed)), str(int(changed.sum())))
    return table


def run_demo(console: Console, workdir: Path, products: int) -> int:
    """Seed a sandbox, export, edit, plan, apply, export again; returns the exit code."""
    if workdir.exists():
        shutil.rmtree(workdir)
    with open_store(sandbox_only=True, sandbox_dir=workdir / "sandbox", sandbox_products=products) as store:
        console.rule("[bold]bcmod demo")
        console.print(f"Sandbox store with {products} generated products at {store.settings.base_url}",
                      highlight=False)
        console.rule("1. export")
        exported = _export(store, workdir / "export", console)
        console.print(counts_table(exported.counts_by_type))
        bound = count_requests_bound(exported.products)
        console.print(f"{exported.products} products, {exported.modifiers} modifiers, {exported.values} values; "
                      f"{exported.requests} requests (bound ceil(N/10)+2 = {bound}) in {exported.seconds:.1f} s")
        console.print(f"Workbook: [bold]{exported.path}[/bold]", highlight=False)

        before, _ = read_export(exported.path)

        console.rule("2. edit (scripted, as a person would in Excel)")
        for line in scripted_edit(exported.path):
            console.print(f"  • {line}", highlight=False)

        console.rule("3. plan")
        operations, writes = asyncio.run(_plan_and_apply(store, exported.path, console))

        console.rule("5. export again")
        after = _export(store, workdir / "after", console)
        console.print(f"Workbook: [bold]{after.path}[/bold]", highlight=False)
        console.print(_differences(before, read_export(after.path)[0]))
        again = asyncio.run(_replan(store, after.path))
    console.print(f"{operations} operations applied with {writes} write requests; re-planning the new export finds "
                  f"{again} operations.", highlight=False)
    ok = exported.requests <= bound and again == 0 and writes == operations
    console.print("[green]demo passed[/green]" if ok else "[red]demo found a problem[/red]")
    return 0 if ok else 1

