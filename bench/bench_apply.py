"""Applying plans to a sandbox store over real HTTP (BRIEF §8): requests, quota use, latency scaling.

Every part exports a seeded 400-product sandbox (its own process, `bcmod sandbox serve`), edits the
workbook with openpyxl as a person would in Excel, plans it, and applies the plan with the apply's
own journal, as `bcmod apply` does. After each apply the same workbook is planned again and must
plan 0 operations: every change landed.

1. Requests = changed entities. 190 edited rows of every kind that is one request each (value and
   modifier updates, value and modifier creates, value and modifier deletes) on an unlimited
   store. The apply runs with backup=False; the backup's reads are measured on their own, just
   before. Targets: writes == edited rows == plan operations, each operation from one edited row,
   and the store saw exactly that many requests, all writes, no reads.
2. Quota use. 2,000 value updates (a price adjuster each) under a 30 req / 1000 ms quota at
   concurrency 8. The sandbox's window opens with the first request after the previous one ended,
   so a window's requests go out in a burst and completions form a staircase; the steady rate is
   the slope of a least-squares line through (time, writes done) from the second window on (the
   first window is excluded because it starts with one probe request while the governor learns
   the quota). writes / wall time is shown too; it reads a little high, as the last window's
   burst lands just after a reset without waiting out its window. Targets: steady rate >= 0.90 of quota/window,
   no 429 left unretried (every change landed), 429s with headers ~0.
3. Latency scaling. 200 ms added to every request, no quota: value updates at concurrency 1, 4, 8
   and 16 (50 changes at 1, so the bench stays short; 400 at the others), each a slice of one plan.
   Target: writes/s >= 0.8 x concurrency / 0.2 s at each concurrency.
"""

from __future__ import annotations

import asyncio
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from openpyxl import load_workbook

from bench.edits import bump_price
from bench.sandbox_process import SandboxProcess, sandbox
from bench.summary import record
from pipeline.apply import ApplyResult, Journal, apply_plan, backup_products
from pipeline.client import BigCommerceClient
from pipeline.export import export_store
from pipeline.plan.build import plan_workbook
from pipeline.plan.operations import Plan, RowRef
from pipeline.workbook.editing import SheetEditor as Sheet

N_PRODUCTS = 400
CONCURRENCY = 8
QUOTA, WINDOW_MS = 30, 1000
QUOTA_CHANGES = 2000
LATENCY_MS = 200
LATENCY_RUNS = ((1, 50), (4, 400), (8, 400), (16, 400))  # (concurrency, changes)
QUOTA_TARGET = 0.90
LATENCY_TARGET = 0.8

# part 1: how many rows of each kind are edited (each is one request)
MIXED = {"update_value": 60, "update_modifier": 40, "create_value": 30, "delete_value": 20,
         "delete_modifier": 20, "create_modifier": 20}


# -- editing the workbook -----------------------------------------------------------------------------


def mixed_edit(path: Path) -> tuple[set[RowRef], Counter[str]]:
    """Edit rows of every one-request kind; returns the edited rows and the kinds expected in the plan.

    Value edits go to distinct modifiers (an update, a create and a delete never share one), deletes
    only to modifiers without values (text, date) or values of modifiers keeping at least two.
    """
    book = load_workbook(path)
    mods, values = Sheet.of(book["Choice modifiers"]), Sheet.of(book["Choice values"])
    swatches, texts, dates = Sheet.of(book["Swatch values"]), Sheet.of(book["Text modifiers"]), \
        Sheet.of(book["Date modifiers"])
    edited: set[RowRef] = set()
    expected: Counter[str] = Counter()

    def mark(sheet: Sheet, row: int, kind: str) -> None:
        edited.add(RowRef(sheet.name, row))
        expected[kind] += 1

    by_modifier: dict[Any, list[int]] = {}
    for row in values.rows():
        by_modifier.setdefault(values.get(row, "modifier_id"), []).append(row)
    groups = iter(rows for rows in by_modifier.values() if len(rows) >= 3)

    for rows in take(groups, 40):  # price adjuster on one value of each of 40 modifiers
        bump_price(values, rows[0])
        mark(values, rows[0], "update_value")
    seen_swatch: set[Any] = set()
    for row in swatches.rows():  # a renamed value on each of 20 swatch modifiers
        if len(seen_swatch) == 20:
            break
        if swatches.get(row, "modifier_id") not in seen_swatch:
            seen_swatch.add(swatches.get(row, "modifier_id"))
            swatches.set(row, "label", f"{swatches.get(row, 'label')} (renamed)")
            mark(swatches, row, "update_value")
    for rows in take(groups, MIXED["create_value"]):  # a new value under 30 modifiers
        template = rows[0]
        row = values.append(**{name: values.get(template, name)
                               for name in ("product_id", "modifier_id", "display_name", "type")},
                            label=f"Bench extra {values.get(template, 'modifier_id')}", sort_order=99,
                            is_default=False, price_adjuster="relative", price_adjuster_value=2.5)
        mark(values, row, "create_value")
    for rows in take(groups, MIXED["delete_value"]):  # delete a non-default value of 20 modifiers
        row = next(r for r in reversed(rows) if not values.get(r, "is_default"))
        values.set(row, "action", "delete")
        mark(values, row, "delete_value")
    for row in mods.rows()[:20]:  # re-sort 20 choice modifiers
        mods.set(row, "sort_order", int(mods.get(row, "sort_order") or 0) + 1)
        mark(mods, row, "update_modifier")
    for row in texts.rows()[:20]:  # flip `required` on 20 text modifiers
        texts.set(row, "required", not texts.get(row, "required"))
        mark(texts, row, "update_modifier")
    for row in dates.rows()[:MIXED["delete_modifier"]]:  # delete 20 date modifiers (no values)
        dates.set(row, "action", "delete")
        mark(dates, row, "delete_modifier")
    products = sorted({mods.get(r, "product_id") for r in mods.rows()})
    for product_id in products[-MIXED["create_modifier"]:]:  # a new text modifier on 20 products
        row = texts.append(product_id=product_id, display_name="Bench engraving", type="text", required=False,
                           sort_order=9, text_characters_limited=True, text_min_length=1, text_max_length=12)
        mark(texts, row, "create_modifier")
    book.save(path)
    return edited, expected


def take(items: Iterator[Any], n: int) -> list[Any]:
    out = [item for _, item in zip(range(n), items)]
    if len(out) < n:
        raise RuntimeError(f"the catalog has too few rows to edit ({len(out)} < {n})")
    return out


def price_edit(path: Path, n: int) -> list[RowRef]:
    """A price adjuster change on the first `n` value rows (choice, swatch, then product list values)."""
    book = load_workbook(path)
    edited: list[RowRef] = []
    for name in ("Choice values", "Swatch values", "Product list values"):
        sheet = Sheet.of(book[name])
        for row in sheet.rows()[:n - len(edited)]:
            bump_price(sheet, row)
            edited.append(RowRef(name, row))
    book.save(path)
    if len(edited) < n:
        raise RuntimeError(f"the catalog has only {len(edited)} value rows, {n} wanted")
    return edited


# -- running ------------------------------------------------------------------------------------------


@dataclass
class Applied:
    result: ApplyResult
    stats: dict[str, Any]  # the sandbox's counters for the apply alone
    settled_at: list[float] = field(default_factory=list)  # seconds from the start, per settled op

    @property
    def rate(self) -> float:
        return self.result.writes / self.result.seconds


async def export_to(store: SandboxProcess, folder: Path) -> Path:
    return (await export_store(store.settings, folder / "edits.xlsx")).path


async def plan_of(store: SandboxProcess, path: Path) -> Plan:
    async with BigCommerceClient(store.settings) as client:
        plan, _ = await plan_workbook(path, client)
    return plan


async def apply(store: SandboxProcess, plan: Plan, path: Path, concurrency: int, journal_name: str) -> Applied:
    """Apply with a fresh client on a fresh rate window and counters, as `bcmod apply` would (journal on)."""
    store.reset()
    settled: list[float] = []
    start = time.perf_counter()

    def progress(done: int, total: int) -> None:
        settled.append(time.perf_counter() - start)

    async with BigCommerceClient(store.settings) as client:
        result = await apply_plan(plan, client, workbook_dir=path.parent, concurrency=concurrency, backup=False,
                                  journal=Journal(path.parent / journal_name), progress=progress)
    return Applied(result, store.stats(), settled)


def steady_rate(settled: list[float], window_s: float) -> float:
    """Least-squares slope of writes done against time, from the end of the first window on."""
    points = [(t, i + 1) for i, t in enumerate(settled) if t >= window_s]
    n = len(points)
    mean_t = sum(t for t, _ in points) / n
    mean_k = sum(k for _, k in points) / n
    return sum((t - mean_t) * (k - mean_k) for t, k in points) / sum((t - mean_t) ** 2 for t, _ in points)


def failures(result: ApplyResult) -> str:
    failed = result.failed
    return "" if not failed else f"; {len(failed)} failed, e.g. {failed[0].describe()}: {failed[0].message}"


def verdict(ok: bool) -> str:
    return "PASS" if ok else "MISS"


# -- the three parts ----------------------------------------------------------------------------------


async def part_requests(folder: Path) -> bool:
    print(f"-- 1. requests = changed entities ({N_PRODUCTS} products, no quota, concurrency {CONCURRENCY})")
    with sandbox(products=N_PRODUCTS) as store:
        path = await export_to(store, folder)
        edited, expected = mixed_edit(path)
        plan = await plan_of(store, path)
        sources = [op.source for op in plan.operations]

        store.reset()
        async with BigCommerceClient(store.settings) as client:
            await backup_products(plan, client, workbook_dir=path.parent, concurrency=CONCURRENCY)
        backup_stats = store.stats()
        applied = await apply(store, plan, path, CONCURRENCY, "edits.journal.jsonl")
        again = await plan_of(store, path)

    result, stats = applied.result, applied.stats
    kinds = {kind: n for kind, n in plan.counts().items() if n}
    done = {kind: row["ok"] for kind, row in result.counts_by_kind().items()}
    width = max(len(k) for k in MIXED)
    print(f"{'kind':{width}} {'edited':>6} {'planned':>7} {'done':>5}")
    for kind in MIXED:
        print(f"{kind:{width}} {expected[kind]:>6} {kinds.get(kind, 0):>7} {done.get(kind, 0):>5}")
    methods = {m: stats["requests"][m] for m in ("GET", "POST", "PUT", "DELETE")}
    print(f"{'total':{width}} {len(edited):>6} {len(plan.operations):>7} {result.counts()['ok']:>5}")
    print(f"apply: {result.writes} writes, {result.requests} requests, {result.seconds:.2f} s{failures(result)}; "
          f"store saw {stats['requests']['total']} requests {methods}, {stats['writes']} writes")
    print(f"backup (measured apart, backup=False in the apply): {backup_stats['requests']['total']} reads for "
          f"the {len(plan.product_ids)} products the workbook names; "
          f"re-plan after apply: {len(again.operations)} operations")
    ok = (result.ok and dict(expected) == kinds and set(sources) == edited and len(sources) == len(set(sources))
          and result.writes == len(edited) == len(plan.operations) == result.requests
          and stats["requests"]["total"] == stats["writes"] == len(edited) and stats["requests"]["GET"] == 0
          and not again.operations)
    print(f"writes == changed rows == operations == store requests, nothing else sent, re-plan empty: {verdict(ok)}")
    record("apply", f"apply: {len(edited)} edited rows of a {N_PRODUCTS}-product export (value and modifier updates, "
           "creates and deletes), no quota", f"{len(plan.operations)} operations, {result.writes} writes; the store saw "
           f"{stats['requests']['total']} requests, {stats['requests']['GET']} reads, {result.seconds:.2f} s; re-plan: "
           f"{len(again.operations)} operations (the backup, measured apart: {backup_stats['requests']['total']} reads)",
           "one request per changed entity", ok)
    return ok


async def part_quota(folder: Path) -> bool:
    quota_rate = QUOTA / (WINDOW_MS / 1000)
    print(f"-- 2. quota use ({QUOTA_CHANGES} value updates, quota {QUOTA}/{WINDOW_MS} ms, concurrency {CONCURRENCY})")
    with sandbox(products=N_PRODUCTS, quota=QUOTA, window_ms=WINDOW_MS) as store:
        path = await export_to(store, folder)
        edited = price_edit(path, QUOTA_CHANGES)
        plan = await plan_of(store, path)
        applied = await apply(store, plan, path, CONCURRENCY, "quota.journal.jsonl")
        again = await plan_of(store, path)

    result, stats = applied.result, applied.stats
    steady = steady_rate(applied.settled_at, WINDOW_MS / 1000)
    metrics = result.metrics
    print(f"{'changes':>7} {'writes':>6} {'requests':>8} {'seconds':>7} {'writes/s':>8} {'steady/s':>8} "
          f"{'of quota':>8} {'429 hdr':>7} {'429 bare':>8} {'retries':>7}")
    print(f"{len(edited):>7} {result.writes:>6} {result.requests:>8} {result.seconds:>7.2f} {applied.rate:>8.2f} "
          f"{steady:>8.2f} {steady / quota_rate:>8.3f} {int(metrics['throttled']):>7} "
          f"{int(metrics['throttled_bare']):>8} {int(metrics['retries']):>7}")
    print(f"store saw {stats['requests']['total']} requests, {stats['writes']} writes, {stats['throttled']} refused "
          f"with 429{failures(result)}; wall-time rate {applied.rate / quota_rate:.3f} of quota; "
          f"re-plan after apply: {len(again.operations)} operations")
    ok = (result.ok and result.writes == len(plan.operations) == len(edited) == stats["writes"]
          and steady / quota_rate >= QUOTA_TARGET and not again.operations)
    print(f"steady rate >= {QUOTA_TARGET} of quota, every change landed: {verdict(ok)}")
    record("apply", f"apply: {QUOTA_CHANGES:,} value updates under a {QUOTA} req/s quota, concurrency {CONCURRENCY}",
           f"{result.writes:,} writes in {result.seconds:.1f} s; steady {steady:.1f} req/s = **{steady / quota_rate:.2f}** "
           f"of quota ({applied.rate:.1f} req/s = {applied.rate / quota_rate:.2f} over the wall time); "
           f"{int(metrics['throttled']) + int(metrics['throttled_bare'])} 429s, {int(metrics['retries'])} retries; "
           f"re-plan: {len(again.operations)} operations", f"≥ {QUOTA_TARGET} of quota, no request lost", ok)
    return ok


async def part_latency(folder: Path) -> bool:
    print(f"-- 3. latency scaling ({LATENCY_MS} ms per request, no quota)")
    total = sum(n for _, n in LATENCY_RUNS)
    with sandbox(products=N_PRODUCTS, latency_ms=LATENCY_MS) as store:
        path = await export_to(store, folder)
        edited = price_edit(path, total)
        plan = await plan_of(store, path)
        slice_of: dict[RowRef | None, int] = {}
        first = 0
        for index, (_, n) in enumerate(LATENCY_RUNS):
            slice_of.update((ref, index) for ref in edited[first:first + n])
            first += n
        runs = []
        for index, (concurrency, _) in enumerate(LATENCY_RUNS):
            part = replace(plan, operations=[op for op in plan.operations if slice_of.get(op.source) == index])
            journal = f"latency-{concurrency}.journal.jsonl"
            runs.append((concurrency, await apply(store, part, path, concurrency, journal)))
        again = await plan_of(store, path)

    print(f"{'concurrency':>11} {'changes':>7} {'writes':>6} {'seconds':>7} {'writes/s':>8} {'ideal/s':>7} "
          f"{'ratio':>6}")
    ok = len(plan.operations) == total and not again.operations
    for concurrency, applied in runs:
        ideal = concurrency / (LATENCY_MS / 1000)
        ratio = applied.rate / ideal
        result = applied.result
        print(f"{concurrency:>11} {len(result.outcomes):>7} {result.writes:>6} {result.seconds:>7.2f} "
              f"{applied.rate:>8.2f} {ideal:>7.1f} {ratio:>6.3f}{failures(result)}")
        ok &= result.ok and result.writes == applied.stats["writes"] == len(result.outcomes) and ratio >= LATENCY_TARGET
    print(f"re-plan after the four applies: {len(again.operations)} operations")
    rates = [applied.rate for _, applied in runs]
    ratios = [applied.rate / (concurrency / (LATENCY_MS / 1000)) for concurrency, applied in runs]
    record("apply", f"apply with {LATENCY_MS} ms latency, no quota, concurrency "
           + " / ".join(str(c) for c, _ in LATENCY_RUNS) + " (" + " / ".join(str(n) for _, n in LATENCY_RUNS)
           + " value updates)", " / ".join(f"{r:.1f}" for r in rates) + " writes/s = **"
           + " / ".join(f"{r:.2f}" for r in ratios) + f"** × concurrency / {LATENCY_MS / 1000:g} s",
           f"≥ {LATENCY_TARGET} × concurrency / latency", ok)
    print(f"throughput >= {LATENCY_TARGET} x concurrency / latency at every concurrency: {verdict(ok)}")
    return ok


async def run_all() -> dict[str, bool]:
    results: dict[str, bool] = {}
    parts: tuple[tuple[str, Callable[[Path], Any]], ...] = (
        ("requests", part_requests), ("quota", part_quota), ("latency", part_latency))
    for name, part in parts:
        with tempfile.TemporaryDirectory() as tmp:
            started = time.perf_counter()
            results[name] = await part(Path(tmp))
            print(f"({time.perf_counter() - started:.1f} s)\n")
    return results


def main() -> int:
    results = asyncio.run(run_all())
    print("apply: " + ", ".join(f"{name} {verdict(ok)}" for name, ok in results.items())
          + f" -> {verdict(all(results.values()))}")
    return 0 if all(results.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
