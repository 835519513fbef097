"""`restore_modifiers`: undo an import by putting a backup's products back, as a Prefect flow.

The same library calls as `bcmod restore BACKUP --yes`: the backup is the desired state (updates
reverted, deleted modifiers and values created again, what the import created deleted), planned
with reads only and saved beside the backup before anything is written; the apply is journaled
beside the backup, so a retried task resumes instead of starting over, takes its own backup first
(restoring that one undoes the restore) and holds the backup's journal lock. Only transient
failures are retried. Results are counts and paths: no token, no payloads.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from prefect import flow, get_run_logger, task

from flows import tally
from flows.import_flow import WorkbookRejected, rejection, saved
from flows.naming import restore_apply_task_name, restore_plan_task_name, restore_run_name
from flows.report import host
from flows.retry import retry_transient
from flows.slot import store_slot
from flows.store import StoreParams, aresolve_settings, run_store
from pipeline.apply import write_results
from pipeline.apply.journal import journal_path
from pipeline.apply.lock import journal_lock
from pipeline.client import BigCommerceClient
from pipeline.connection import store_hash_of
from pipeline.plan.build import PlanRefused
from pipeline.plan.operations import Plan
from pipeline.restore import apply_restore, plan_restore

PLAN, APPLY = "restore plan", "restore apply"


@task(name="plan the restore", task_run_name=restore_plan_task_name, retries=2, retry_delay_seconds=[5, 30],
      retry_condition_fn=retry_transient)
async def restore_plan_task(backup: str, store: StoreParams) -> dict[str, str]:
    """Plan the restore (reads only): the saved plan's path, or why the backup was refused."""
    settings = await aresolve_settings(store)
    async with BigCommerceClient(settings) as client:
        try:
            plan = await plan_restore(Path(backup), client, expected_store_hash=store_hash_of(settings))
        except PlanRefused as refused:
            return rejection(refused, backup)
        finally:
            tally.record_attempt(PLAN, client.metrics.requests_sent)
    return saved(plan, Path(backup).with_suffix(".restore-plan.json"))


@task(name="apply the restore", task_run_name=restore_apply_task_name, retries=3, retry_delay_seconds=[10, 60, 300],
      retry_condition_fn=retry_transient)
async def restore_apply_task(backup: str, plan_path: str, store: StoreParams, concurrency: int) -> dict[str, Any]:
    """Apply the saved restore plan with its journal beside the backup; a retry resumes."""
    settings = await aresolve_settings(store)
    path = Path(backup)
    with journal_lock(journal_path(path), "prefect restore_modifiers"):
        async with BigCommerceClient(settings) as client:
            try:
                result = await apply_restore(Plan.load(Path(plan_path)), client, backup=path,
                                             concurrency=concurrency)
            finally:
                tally.record_attempt(APPLY, client.metrics.requests_sent)
        results = write_results(result, path)
    return {"counts": result.counts(), "requests": result.requests, "writes": result.writes,
            "failed": len(result.failed), "seconds": result.seconds, "results": str(results),
            "backup": str(result.backup_path) if result.backup_path else None, "plan": plan_path}


@flow(name="restore_modifiers", flow_run_name=restore_run_name)
async def restore_modifiers(
    backup: str,
    store: StoreParams = StoreParams(),
    concurrency: int = 8,
) -> dict[str, Any]:
    """Put every product of `backup` (a backup an import or `bcmod apply` took) back as it shows them;
    `backup` in the result is the restore's own backup, whose restore undoes this one."""
    logger = get_run_logger()
    store, key = await run_store(store)  # fails fast on a wrong store
    backup = str(Path(backup).expanduser().resolve())
    logger.info("restore of %s into store %s on host %s", backup, key, host())
    async with store_slot(key):
        planned = await restore_plan_task(backup, store)
        if "rejected" in planned:
            raise WorkbookRejected(planned["rejected"])
        summary = await restore_apply_task(backup, planned["plan"], store, concurrency)
    summary.update({"host": host(), "requests_all_attempts": tally.total(PLAN, APPLY)})
    logger.info("restored %s: %s; %s writes, %s failed; undo with a restore of %s", Path(backup).name,
                summary["counts"], summary["writes"], summary["failed"], summary["backup"])
    return summary
