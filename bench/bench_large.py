"""A large catalog end to end: 10,000 products / ~104k values, export -> validate -> plan -> apply of 5%.

One process runs the whole `bcmod` round trip against a sandbox store seeded with 10,000 products
(`bcmod sandbox serve`, its own process, no quota), with the rich progress bars the CLI shows:

1. export: `export_store` to a workbook (pages of 10 with `include=modifiers`, 8 in flight);
2. edit: about 5% of the value rows and 5% of the modifier rows are changed with `SheetEditor`
   (openpyxl), as a person would in Excel: price adjusters, value labels, modifier sort orders and
   `required`, plus a few value and modifier creates and deletes. Editing runs in a child
   process: it stands in for Excel on the user's desk and is not part of bcmod's memory (its own
   peak is reported apart);
3. validate: `validate_file` with the store (the product ids are looked up);
4. plan: `plan_workbook` (validates again, as `bcmod plan` does, and reads the current state of
   the workbook's products);
5. apply: `apply_plan` at concurrency 8 with the journal and the backup, as `bcmod apply` does;
6. results: `write_results`, the annotated copy of the workbook `bcmod apply` writes (the package
   edited as it streams), in this process as `bcmod apply` does, so the peak RSS covers it;
7. re-plan: the same workbook must now plan 0 operations.

Reported per stage: seconds, requests, operations, the process's resident set after the stage
(VmRSS) and its peak so far (VmHWM; `ru_maxrss` at the end). Targets: the plan holds exactly the
edited rows, every operation lands with one write each, the re-plan is empty, the results
workbook is written within its budget, and the process's peak RSS stays under `RSS_BUDGET_MIB`
(2 GiB: a laptop's share for a 10k-product catalog).
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from rich.console import Console

from bench.edits import EditMix, edit_workbook
from bench.sandbox_process import SandboxProcess, sandbox
from bench.summary import peak_rss_mib, proc_status_mib, record
from pipeline.apply import ApplyResult, Journal, apply_plan, write_results
from pipeline.cli.render import export_progress, stage_bars
from pipeline.client import BigCommerceClient
from pipeline.export import export_store
from pipeline.plan.build import plan_workbook
from pipeline.plan.operations import Plan, RowRef
from pipeline.validate.command import validate_file_async

N_PRODUCTS = 10_000
CONCURRENCY = 8
SHARE = 0.05  # of value rows and of modifier rows
RSS_BUDGET_MIB = 2048
RESULTS_BUDGET_S = 30.0  # the results copy of a 10k-product workbook (it took 60-120 s when loaded in openpyxl)
ROOT = Path(__file__).resolve().parent.parent

# a few rows of each kind that is not an update (each is one request)
CREATES_DELETES = {"create_value": 50, "delete_value": 30, "create_modifier": 20, "delete_modifier": 20}


def edit_in_child(path: Path, mix: EditMix) -> dict[str, Any]:
    """Run `edit_workbook` in its own process (Excel's stand-in) and return what it reports."""
    done = subprocess.run([sys.executable, "-m", "bench.bench_large", "--edit", str(path), json.dumps(asdict(mix))],
                          cwd=ROOT,
                          capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"the edit failed: {done.stderr[-2000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def results_here(result: ApplyResult, workbook: Path) -> dict[str, Any]:
    """`write_results`, as `bcmod apply` runs it after the apply."""
    started = time.perf_counter()
    path = write_results(result, workbook)
    seconds = time.perf_counter() - started
    return {"seconds": seconds, "note": f"{path.name}, {path.stat().st_size / 1e6:.1f} MB"}


# -- stages ---------------------------------------------------------------------------------------------


@dataclass
class Stage:
    name: str
    seconds: float
    requests: int | None = None
    operations: int | None = None
    note: str = ""
    rss_mib: float | None = None
    peak_mib: float | None = None


class Stages:
    def __init__(self) -> None:
        self.rows: list[Stage] = []

    @contextmanager
    def timed(self, name: str) -> Iterator[Stage]:
        stage = Stage(name, 0.0)
        started = time.perf_counter()
        yield stage
        stage.seconds = time.perf_counter() - started
        stage.rss_mib = proc_status_mib("VmRSS")
        stage.peak_mib = proc_status_mib("VmHWM") or peak_rss_mib()
        self.rows.append(stage)
        print(f"  {name}: {stage.seconds:.1f} s" + (f", {stage.requests:,} requests" if stage.requests is not None
                                                    else "") + (f"; {stage.note}" if stage.note else ""), flush=True)


async def plan_with_bars(store: SandboxProcess, path: Path, console: Console) -> tuple[Plan, int]:
    """`plan_workbook` with the bars `bcmod plan` shows; returns the plan and the requests it sent."""
    with stage_bars(console) as bars:
        bars.begin(f"checking {path.name}")
        async with BigCommerceClient(store.settings) as client:
            plan, _ = await plan_workbook(path, client, progress=bars.bar("reading the store"))
            return plan, client.metrics.requests_sent


async def run(store: SandboxProcess, folder: Path, console: Console, stages: Stages) -> dict[str, Any]:
    out: dict[str, Any] = {}
    with stages.timed("export") as stage:
        with export_progress(console) as progress:
            export = await export_store(store.settings, folder / "catalog.xlsx", concurrency=CONCURRENCY,
                                        progress=progress)
        stage.requests = export.requests
        stage.note = f"{export.products:,} products, {export.modifiers:,} modifiers, {export.values:,} values"
    out["export"] = export
    path = export.path

    with stages.timed("edit (openpyxl, child process)") as stage:
        edit = edit_in_child(path, EditMix.share(SHARE, export.values, export.modifiers, **CREATES_DELETES))
        stage.operations = len(edit["edited"])
        stage.note = (f"{len(edit['edited']):,} rows edited ({edit['expected']}) of {edit['value_rows']:,} value and "
                      f"{edit['modifier_rows']:,} modifier rows; load {edit['load_seconds']:.1f} s, save "
                      f"{edit['save_seconds']:.1f} s; its peak RSS {edit['peak_rss_mib']:.0f} MiB")
    out["edit"] = edit

    with stages.timed("validate") as stage:
        with stage_bars(console) as bars:
            bars.begin(f"checking {path.name}")
            outcome = await validate_file_async(path, settings=store.settings)
        stage.requests = outcome.requests
        stage.note = f"{outcome.rows:,} rows, {len(outcome.issues)} issues"
    out["validate_issues"] = [str(i) for i in outcome.issues[:5]]
    out["validate_ok"] = outcome.ok
    del outcome

    with stages.timed("plan") as stage:
        plan, stage.requests = await plan_with_bars(store, path, console)
        stage.operations = len(plan.operations)
        stage.note = ", ".join(f"{kind} {n}" for kind, n in plan.counts().items() if n)
    out["plan"] = plan

    store.reset()
    with stages.timed("apply") as stage:
        with stage_bars(console) as bars:
            async with BigCommerceClient(store.settings) as client:
                result = await apply_plan(plan, client, workbook_dir=path.parent, journal=Journal.for_workbook(path),
                                          concurrency=CONCURRENCY, backup_progress=bars.bar("backup"),
                                          progress=bars.bar("operations"))
        stage.requests = result.requests + result.backup_requests
        stage.operations = len(result.outcomes)
        stats = store.stats()
        stage.note = (f"{result.writes:,} writes + {result.backup_requests:,} backup reads; {result.counts()}; "
                      f"store saw {stats['requests']['total']:,} requests, {stats['writes']:,} writes")
    out["apply"], out["apply_stats"] = result, stats

    with stages.timed("results workbook") as stage:
        with stage_bars(console) as bars:
            bars.begin("writing the results workbook")
            out["results"] = results_here(result, path)
        stage.note = out["results"]["note"]

    with stages.timed("re-plan") as stage:
        again, stage.requests = await plan_with_bars(store, path, console)
        stage.operations = len(again.operations)
    out["again"] = again
    return out


def verdict(ok: bool) -> str:
    return "PASS" if ok else "MISS"


def main() -> int:
    console = Console()
    stages = Stages()
    started = time.perf_counter()
    print(f"sandbox: {N_PRODUCTS:,} products, own process, no quota; concurrency {CONCURRENCY}", flush=True)
    with tempfile.TemporaryDirectory() as tmp, sandbox(products=N_PRODUCTS) as store:
        seeded_s = time.perf_counter() - started
        print(f"  seeded and serving in {seeded_s:.1f} s", flush=True)
        out = asyncio.run(run(store, Path(tmp), console, stages))
        sandbox_peak = proc_status_mib("VmHWM", store.process.pid)
    total_s = sum(s.seconds for s in stages.rows)
    peak = peak_rss_mib()

    print(f"{'stage':32} {'seconds':>8} {'requests':>9} {'operations':>10} {'RSS MiB':>8} {'peak MiB':>8}")
    for s in stages.rows:
        print(f"{s.name:32} {s.seconds:>8.1f} {'' if s.requests is None else f'{s.requests:,}':>9} "
              f"{'' if s.operations is None else f'{s.operations:,}':>10} {s.rss_mib or 0:>8.0f} {s.peak_mib or 0:>8.0f}")
    print(f"{'total (seeding apart)':32} {total_s:>8.1f}")

    plan: Plan = out["plan"]
    result, stats, edit = out["apply"], out["apply_stats"], out["edit"]
    edited = {RowRef(sheet, row) for sheet, row in edit["edited"]}
    sources = [op.source for op in plan.operations]
    kinds = {kind: n for kind, n in plan.counts().items() if n}
    plan_ok = out["validate_ok"] and set(sources) == edited and len(sources) == len(edited) \
        and kinds == edit["expected"]
    apply_ok = result.ok and result.writes == len(plan.operations) == stats["writes"]
    replan_ok = not out["again"].operations
    rss_ok = peak < RSS_BUDGET_MIB
    print(f"validate: {'no issues' if out['validate_ok'] else out['validate_issues']}; plan == edited rows "
          f"({len(plan.operations):,} operations, {len(edited):,} rows): {verdict(plan_ok)}")
    print(f"apply: {result.writes:,} writes for {len(plan.operations):,} operations, all ok: {verdict(apply_ok)}; "
          f"re-plan: {len(out['again'].operations)} operations: {verdict(replan_ok)}")
    print(f"peak RSS of this process (ru_maxrss): {peak:.0f} MiB (budget {RSS_BUDGET_MIB} MiB): {verdict(rss_ok)}; "
          f"the editing child's: {edit['peak_rss_mib']:.0f} MiB; the sandbox process's: "
          f"{sandbox_peak or 0:.0f} MiB")
    results = out["results"]
    results_ok = results["seconds"] <= RESULTS_BUDGET_S
    print(f"results workbook (write_results): {results['seconds']:.1f} s, {results['note']}: {verdict(results_ok)}")
    ok = plan_ok and apply_ok and replan_ok and rss_ok and results_ok

    by_name = {s.name: s for s in stages.rows}
    export = out["export"]
    record("large", f"large catalog end to end: {export.products:,} products / {export.values:,} values, a 5% edit "
           f"({len(edited):,} rows), one process, no quota, concurrency {CONCURRENCY}",
           f"{total_s:.0f} s in all; " + ", ".join(
               f"{s.name.split(' (')[0]} {s.seconds:.1f} s" for s in stages.rows)
           + f"; {len(plan.operations):,} operations, {result.writes:,} writes, re-plan {len(out['again'].operations)}",
           "completes; writes = operations; re-plan 0", plan_ok and apply_ok and replan_ok)
    record("large", "large catalog: requests per stage",
           f"export {by_name['export'].requests:,}, validate {by_name['validate'].requests:,}, plan "
           f"{by_name['plan'].requests:,}, apply {by_name['apply'].requests:,} ({result.writes:,} writes + "
           f"{result.backup_requests:,} backup reads), re-plan {by_name['re-plan'].requests:,}")
    record("large", "large catalog: peak RSS of the bcmod process (`ru_maxrss`)",
           f"**{peak:.0f} MiB**; after each stage (VmRSS): " + ", ".join(
               f"{s.name.split(' (')[0]} {s.rss_mib or 0:.0f}" for s in stages.rows)
           + f" MiB; openpyxl editing child {edit['peak_rss_mib']:.0f} MiB, sandbox {sandbox_peak or 0:.0f} MiB",
           f"< {RSS_BUDGET_MIB} MiB", rss_ok)
    record("large", "large catalog: the results workbook `bcmod apply` writes (`write_results`, in the same process)",
           f"{results['seconds']:.1f} s; {results['note']}", f"finishes within {RESULTS_BUDGET_S:.0f} s", results_ok)
    return 0 if ok else 1


if __name__ == "__main__":
    if sys.argv[1:2] == ["--edit"]:
        print(json.dumps(edit_workbook(Path(sys.argv[2]), EditMix(**json.loads(sys.argv[3])))))
        sys.exit(0)
    sys.exit(main())
