"""Faults and kill -9 on a 2,000-change apply (BRIEF §8): the cost changes, never the result.

Three sandbox stores run in their own processes, seeded alike (1,000 products): *calm* has no
faults; *stormy* and *killed* answer 10% of requests with a 5xx, 5% with a bare 429 (no rate-limit
headers) and drop 2% of connections after processing the request, so the client cannot know
whether a write landed. One workbook is exported from calm and edited (2,000 rows: value updates,
value and modifier creates and deletes, modifier updates, image uploads), planned once against
calm, and the same plan is applied:

1. to calm, in this process: the reference (one request per operation);
2. to stormy, in this process, as `bcmod apply` does (journal on);
3. to killed, by `python -m pipeline.apply plan.json` in a child process that is killed with
   SIGKILL once the store has taken a third of the writes, run again and killed at two thirds,
   then run a third time to the end; each run resumes from the journal.

Targets, for each faulty run: every operation reported ok and every edited row reported; the
store equals calm's by natural key (`pipeline.catalog_state`: ids of created rows may differ),
holds no duplicate modifier or value, and the workbook re-plans to 0 operations against it. The
figures: what the faults cost (requests as a ratio of the calm run, time, and the faults met). The
time is mostly waiting by design: a bare 429 means the platform is under load, so the client's
governor pauses every request of the store (0.5 s, doubling while they keep coming).
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.edits import EditMix, edit_workbook
from bench.sandbox_process import TOKEN, SandboxProcess, sandbox
from bench.summary import record
from pipeline.apply import ApplyResult, Journal, apply_plan, row_results
from pipeline.catalog_state import differences, duplicate_keys, state_by_natural_key
from pipeline.client import BigCommerceClient
from pipeline.export import export_store
from pipeline.plan.build import plan_workbook
from pipeline.plan.operations import Plan, RowRef

N_PRODUCTS = 1000
SEED = 7
CONCURRENCY = 8
MIX = EditMix(update_value=1400, update_modifier=200, create_value=150, delete_value=100, create_modifier=50,
              delete_modifier=50, upload_image=50)
FAULTS = {"--fault-5xx-rate": "0.1", "--fault-429-rate": "0.05", "--fault-drop-rate": "0.02"}
KILL_AT = (1 / 3, 2 / 3)  # of the plan's operations, counted as writes the store has taken
RUN_TIMEOUT_S = 300
ROOT = Path(__file__).resolve().parent.parent


@dataclass
class Ending:
    """How a store ended after the apply, and what the run reported."""

    name: str
    state: dict[int, Any]
    duplicates: list[tuple[Any, ...]]
    replan: int
    reported_rows: set[RowRef]
    counts: dict[str, int]
    requests: int
    writes: int
    seconds: float
    metrics: dict[str, float]
    note: str = ""


async def read_state(store: SandboxProcess) -> tuple[dict[int, Any], list[tuple[Any, ...]]]:
    async with BigCommerceClient(store.settings) as client:
        products = await client.get_all("/catalog/products", {"include": "modifiers"})
    return state_by_natural_key(products), duplicate_keys(products)


async def replan(store: SandboxProcess, workbook: Path) -> int:
    async with BigCommerceClient(store.settings) as client:
        plan, _ = await plan_workbook(workbook, client)
    return len(plan.operations)


async def apply_here(store: SandboxProcess, plan: Plan, workbook: Path, name: str) -> ApplyResult:
    store.reset()
    async with BigCommerceClient(store.settings) as client:
        return await apply_plan(plan, client, workbook_dir=workbook.parent, concurrency=CONCURRENCY, backup=False,
                                journal=Journal(workbook.with_name(f"{name}.journal.jsonl")))


async def ending(name: str, store: SandboxProcess, workbook: Path, reported: set[RowRef], counts: dict[str, int],
                 requests: int, writes: int, seconds: float, metrics: dict[str, float], note: str = "") -> Ending:
    state, dupes = await read_state(store)
    return Ending(name, state, dupes, await replan(store, workbook), reported, counts, requests, writes, seconds,
                  metrics, note)


def reported_rows(result: ApplyResult) -> set[RowRef]:
    return {ref for ref, row in row_results(result).items() if row.status == "ok"}


# -- the killed run: `python -m pipeline.apply` in a child process ------------------------------------


def apply_command(plan_file: Path, store: SandboxProcess, journal: Path) -> list[str]:
    return [sys.executable, "-m", "pipeline.apply", str(plan_file), "--api-url", store.settings.base_url,
            "--concurrency", str(CONCURRENCY), "--no-backup", "--journal", str(journal), "--json"]


def child_env() -> dict[str, str]:
    return {**os.environ, "BIGCOMMERCE_ACCESS_TOKEN": TOKEN, "BIGCOMMERCE_STORE_HASH": "", "BIGCOMMERCE_API_URL": ""}


def wait_for(check: Callable[[], bool], timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.02)
    return False


def kill_and_resume(store: SandboxProcess, plan: Plan, plan_file: Path) -> tuple[dict[str, Any], list[int], float]:
    """Kill the apply at each of `KILL_AT`, then let a last run finish; returns its JSON report, the
    store's write count at each kill, and the seconds of all three runs together."""
    journal = plan_file.with_name("killed.journal.jsonl")
    store.reset()
    total = len(plan.operations)
    killed_at: list[int] = []
    started = time.perf_counter()
    for share in KILL_AT:
        victim = subprocess.Popen(apply_command(plan_file, store, journal), cwd=ROOT, env=child_env(),
                                  stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        reached = wait_for(lambda: store.stats()["writes"] >= share * total or victim.poll() is not None,
                           RUN_TIMEOUT_S)
        victim.send_signal(signal.SIGKILL)
        victim.wait(timeout=10)
        if not reached or victim.returncode != -signal.SIGKILL:
            stderr = victim.stderr.read().decode()[-2000:] if victim.stderr else ""
            raise RuntimeError(f"the apply ended before it was killed at {share:.2f}: {stderr}")
        killed_at.append(int(store.stats()["writes"]))
    last = subprocess.run(apply_command(plan_file, store, journal), cwd=ROOT, env=child_env(), capture_output=True,
                          timeout=RUN_TIMEOUT_S, check=False)
    seconds = time.perf_counter() - started
    if last.returncode not in (0, 1):
        raise RuntimeError(f"the last run failed ({last.returncode}): {last.stderr.decode()[-2000:]}")
    return json.loads(last.stdout), killed_at, seconds


def killed_ending_fields(report: dict[str, Any], store: SandboxProcess, killed_at: list[int]) -> dict[str, Any]:
    outcomes = report["outcomes"]
    rows = {RowRef(o["source"]["sheet"], int(o["source"]["row"])) for o in outcomes
            if o["status"] == "ok" and o.get("source")}
    rows |= {RowRef(ref["sheet"], int(ref["row"])) for o in outcomes if o["status"] == "ok"
             for ref in (o.get("value_rows") or {}).values()}
    resumed = sum(bool(o["from_journal"]) for o in outcomes)
    stats = store.stats()
    return {"reported": rows, "counts": report["counts"], "requests": int(stats["requests"]["total"]),
            "writes": int(stats["writes"]), "metrics": report["metrics"],
            "note": f"killed at {' and '.join(f'{n:,}' for n in killed_at)} writes; the last run took "
                    f"{resumed:,} operations from the journal and sent {report['writes']:,} writes"}


# -- the bench -----------------------------------------------------------------------------------------


async def run(calm: SandboxProcess, stormy: SandboxProcess, killed: SandboxProcess, folder: Path
              ) -> tuple[Plan, dict[str, Any], list[Ending], bool]:
    before = [await read_state(store) for store in (calm, stormy, killed)]
    alike = all(state == before[0][0] for state, _ in before)
    export = await export_store(calm.settings, folder / "edits.xlsx")
    edit = edit_workbook(export.path, MIX)
    async with BigCommerceClient(calm.settings) as client:
        plan, _ = await plan_workbook(export.path, client)
    plan_file = plan.save(folder / "plan.json")
    print(f"  plan: {len(plan.operations):,} operations " + str({k: n for k, n in plan.counts().items() if n}),
          flush=True)

    endings = []
    for name, store in (("calm", calm), ("stormy", stormy)):
        result = await apply_here(store, plan, export.path, name)
        stats = store.stats()
        endings.append(await ending(name, store, export.path, reported_rows(result), result.counts(),
                                    int(stats["requests"]["total"]), int(stats["writes"]), result.seconds,
                                    result.metrics, f"{result.reconcile_reads} natural-key lookups, "
                                    f"{sum(o.reconciled for o in result.outcomes)} creates matched"))
        print(f"  {name}: {result.counts()} in {result.seconds:.1f} s; the store saw {stats['requests']['total']:,} "
              f"requests, {stats['writes']:,} writes", flush=True)
    report, killed_at, seconds = kill_and_resume(killed, plan, plan_file)
    fields = killed_ending_fields(report, killed, killed_at)
    endings.append(await ending("killed", killed, export.path, fields["reported"], fields["counts"],
                                fields["requests"], fields["writes"], seconds, fields["metrics"], fields["note"]))
    print(f"  killed: {report['counts']}; {fields['note']}", flush=True)
    return plan, edit, endings, alike


def check(plan: Plan, reference: Ending, end: Ending) -> tuple[bool, str]:
    edited = {op.source for op in plan.operations if op.source is not None}
    total = len(plan.operations)
    diff = differences(reference.state, end.state)
    ok = (end.counts == {"ok": total, "failed": 0, "skipped": 0} and edited <= end.reported_rows
          and not diff and not end.duplicates and end.replan == 0)
    because = "" if ok else (f"; counts {end.counts}, rows not reported {len(edited - end.reported_rows)}, "
                             f"differs at {diff}, duplicates {end.duplicates[:3]}, re-plan {end.replan}")
    return ok, because


def main() -> int:
    print(f"three sandboxes of {N_PRODUCTS:,} products (seed {SEED}), calm / stormy / killed; faults: {FAULTS}",
          flush=True)
    with tempfile.TemporaryDirectory() as tmp, \
            sandbox(products=N_PRODUCTS, seed=SEED) as calm, \
            sandbox(products=N_PRODUCTS, seed=SEED, options=FAULTS) as stormy, \
            sandbox(products=N_PRODUCTS, seed=SEED, options=FAULTS) as killed:
        plan, edit, endings, alike = asyncio.run(run(calm, stormy, killed, Path(tmp)))
    reference = endings[0]
    total = len(plan.operations)
    plan_ok = alike and total == MIX.total == len(edit["edited"]) and \
        {k: n for k, n in plan.counts().items() if n} == edit["expected"]
    calm_ok, calm_because = check(plan, reference, reference)
    calm_ok &= reference.requests == reference.writes == total
    print(f"{'store':8} {'ok':>6} {'requests':>9} {'writes':>7} {'seconds':>8} {'5xx':>5} {'429':>5} {'drops':>6} "
          f"{'re-plan':>7} {'dupes':>6}")
    for end in endings:
        m = end.metrics
        print(f"{end.name:8} {end.counts['ok']:>6} {end.requests:>9,} {end.writes:>7,} {end.seconds:>8.1f} "
              f"{int(m.get('server_errors', 0)):>5} {int(m.get('throttled_bare', 0)):>5} "
              f"{int(m.get('connection_drops', 0)):>6} {end.replan:>7} {len(end.duplicates):>6}")
    print(f"stores alike before; plan == the 2,000 edited rows: {'PASS' if plan_ok else 'MISS'}")
    print(f"calm: one request per operation, re-plan 0: {'PASS' if calm_ok else 'MISS'}{calm_because}")
    ok = plan_ok and calm_ok
    kinds = ", ".join(f"{n:,} {k.replace('_', ' ')}s" for k, n in plan.counts().items() if n)
    for end, what, seen in (
            (endings[1], f"{total:,}-change apply ({kinds}) with 10% 5xx, 5% bare 429 and 2% dropped "
                         f"connections, concurrency {CONCURRENCY}", "the client met"),
            (endings[2], "the same plan and faults; `python -m pipeline.apply` killed with SIGKILL at 1/3 and 2/3 "
                         "of the writes, then run again", "the last run met")):
        end_ok, because = check(plan, reference, end)
        ok &= end_ok
        m = end.metrics
        print(f"{end.name}: store = calm's by natural key, 0 duplicates, every row reported, re-plan 0: "
              f"{'PASS' if end_ok else 'MISS'}{because}")
        record("faults", what,
               f"{end.counts['ok']:,} / {total:,} ok, every edited row reported; the store took {end.requests:,} "
               f"requests = **{end.requests / reference.requests:.2f}x** the fault-free run, {end.writes:,} of "
               f"them writes; {end.seconds:.1f} s against {reference.seconds:.1f} s ({seen} "
               f"{int(m.get('server_errors', 0))} 5xx, {int(m.get('throttled_bare', 0))} bare 429s, "
               f"{int(m.get('connection_drops', 0))} drops); {end.note}; equal to the fault-free store by natural "
               f"key, {len(end.duplicates)} duplicates, re-plan {end.replan}",
               "store = intended state, no duplicates, every row reported", end_ok)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
