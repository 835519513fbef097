"""`import_modifiers`: validate -> plan -> apply an edited workbook, as a Prefect flow.

The plan is saved next to the workbook before anything is written, so a retried apply task
applies the very same plan and its journal skips what already landed; creates are matched on
natural keys, so a retry never duplicates. Only transient failures are retried (`flows.retry`);
a workbook with problems, a wrong token or a refused payload fail the run at once. Results are
counts and paths: no token, no payloads. The body holds the store's slot (`flows.slot`): no
export or other import of the same store runs meanwhile, on any worker.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from prefect import flow, get_run_logger, task

from flows import tally
from flows.naming import apply_task_name, import_run_name, plan_task_name
from flows.report import host
from flows.retry import retry_transient
from flows.slot import store_slot
from flows.store import StoreParams, aresolve_settings, run_store
from pipeline.apply import Journal, apply_plan, write_results
from pipeline.apply.lock import workbook_lock
from pipeline.client import BigCommerceClient
from pipeline.connection import store_hash_of
from pipeline.plan.build import PlanRefused, plan_workbook
from pipeline.plan.operations import Plan
from pipeline.plan.render import plan_summary

PLAN, APPLY = "plan", "apply"


class WorkbookRejected(Exception):
    """The workbook has validation problems; nothing was sent."""


@task(name="validate and plan", task_run_name=plan_task_name, retries=2, retry_delay_seconds=[5, 30],
      retry_condition_fn=retry_transient)
async def plan_task(workbook: str, store: StoreParams, prune: bool, force: bool) -> dict[str, str]:
    """Validate and plan (reads only): the saved plan's path, or why the workbook was rejected.

    A rejection is returned, not raised: it is an answer about the file, not a failure to retry.
    """
    settings = await aresolve_settings(store)
    async with BigCommerceClient(settings) as client:
        try:
            path = Path(workbook)  # the images earlier imports of this file uploaded count as its own
            plan, _ = await plan_workbook(path, client, prune=prune, force=force,
                                          expected_store_hash=store_hash_of(settings),
                                          uploaded=Journal.for_workbook(path).own_uploads(path.parent))
        except PlanRefused as refused:
            return rejection(refused, workbook)
        finally:
            tally.record_attempt(PLAN, client.metrics.requests_sent)
    return saved(plan, Path(workbook).with_suffix(".plan.json"))


def rejection(refused: PlanRefused, file: str) -> dict[str, str]:
    """A plan task's answer about a file with problems: returned, not raised (nothing to retry)."""
    issues = refused.outcome.issues
    shown = "; ".join(str(i) for i in issues[:20])
    return {"rejected": f"{len(issues)} problems in {file}, nothing sent: {shown}"}


def saved(plan: Plan, path: Path) -> dict[str, str]:
    """Save `plan` before anything is written (a retried apply task applies this very plan)."""
    path = path.resolve()
    plan.save(path)
    get_run_logger().info("%s", plan_summary(plan)["summary"])
    return {"plan": str(path)}


@task(name="apply the plan", task_run_name=apply_task_name, retries=3, retry_delay_seconds=[10, 60, 300],
      retry_condition_fn=retry_transient)
async def apply_task(plan_path: str, store: StoreParams, concurrency: int) -> dict[str, Any]:
    """Apply the saved plan with its journal; a retry resumes where the last attempt stopped."""
    settings = await aresolve_settings(store)
    plan = Plan.load(Path(plan_path))
    workbook = Path(plan.workbook)
    # one writer at a time, as `bcmod apply`: a CLI apply of the same workbook refuses meanwhile
    with workbook_lock(workbook, "prefect import_modifiers"):
        async with BigCommerceClient(settings) as client:
            try:
                result = await apply_plan(plan, client, workbook_dir=workbook.parent,
                                          journal=Journal.for_workbook(workbook), concurrency=concurrency)
            finally:
                tally.record_attempt(APPLY, client.metrics.requests_sent)
        results = write_results(result, workbook) if workbook.exists() else None
    summary = {"counts": result.counts(), "requests": result.requests, "writes": result.writes,
               "failed": len(result.failed), "seconds": result.seconds,
               "backup": str(result.backup_path) if result.backup_path else None,
               "results": str(results) if results else None, "plan": plan_path}
    if result.failed:
        get_run_logger().warning("%s operations failed; see %s", len(result.failed), results)
    return summary


@flow(name="import_modifiers", flow_run_name=import_run_name)
async def import_modifiers(
    workbook: str,
    prune: bool = False,
    force: bool = False,
    store: StoreParams = StoreParams(),
    concurrency: int = 8,
) -> dict[str, Any]:
    """Validate, plan and apply `workbook` (relative to the worker's bcmod home); fails without
    writing anything if the file has problems.

    `store` names the store and where its token lives (empty: the worker's .env / BIGCOMMERCE_*).
    """
    logger = get_run_logger()
    store, key = await run_store(store)  # fails fast on a wrong store
    workbook = str(Path(workbook).expanduser().resolve())
    logger.info("import of %s into store %s on host %s", workbook, key, host())
    async with store_slot(key):
        planned = await plan_task(workbook, store, prune, force)
        if "rejected" in planned:
            raise WorkbookRejected(planned["rejected"])
        summary = await apply_task(planned["plan"], store, concurrency)
    summary.update({"host": host(), "requests_all_attempts": tally.total(PLAN, APPLY),
                    "attempts": {PLAN: len(tally.attempts(PLAN)), APPLY: len(tally.attempts(APPLY))}})
    logger.info("applied %s: %s; %s writes, %s failed; results %s on host %s; %s requests over all attempts",
                Path(workbook).name, summary["counts"], summary["writes"], summary["failed"], summary["results"],
                summary["host"], summary["requests_all_attempts"])
    return summary
