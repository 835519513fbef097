"""`import_modifiers`: validate -> plan -> apply an edited workbook, as a Prefect flow.

The plan is saved next to the workbook before anything is written, so a retried apply task
applies the very same plan and its journal skips what already landed; creates are matched on
natural keys, so a retry never duplicates. Results are counts and paths: no token, no payloads.
The body holds the store's slot (`store:<hash>`, see `flows.store.store_slot`): no export or other
import of the same store runs meanwhile, on any worker.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from prefect import flow, get_run_logger, task

from flows.store import resolve_settings, store_key, store_slot
from pipeline.apply import Journal, apply_plan, write_results
from pipeline.client import BigCommerceClient
from pipeline.connection import store_hash_of
from pipeline.plan.build import PlanRefused, plan_workbook
from pipeline.plan.operations import Plan
from pipeline.plan.render import plan_summary


class WorkbookRejected(Exception):
    """The workbook has validation problems; nothing was sent."""


@task(retries=2, retry_delay_seconds=[5, 30])
async def plan_task(workbook: str, api_url: str | None, store_hash: str | None, token_secret_block: str | None,
                    prune: bool, force: bool, token_env: str | None = None) -> dict[str, str]:
    """Validate and plan (reads only): the saved plan's path, or why the workbook was rejected.

    A rejection is returned, not raised, so the task's retries never re-read a bad workbook.
    """
    settings = resolve_settings(api_url, store_hash, token_secret_block, token_env=token_env)
    async with BigCommerceClient(settings) as client:
        try:
            plan, _ = await plan_workbook(Path(workbook), client, prune=prune, force=force,
                                          expected_store_hash=store_hash_of(settings))
        except PlanRefused as refused:
            issues = refused.outcome.issues
            shown = "; ".join(str(i) for i in issues[:20])
            return {"rejected": f"{len(issues)} problems in {workbook}, nothing sent: {shown}"}
    path = Path(workbook).with_suffix(".plan.json")
    plan.save(path)
    get_run_logger().info("%s", plan_summary(plan)["summary"])
    return {"plan": str(path)}


@task(retries=3, retry_delay_seconds=[10, 60, 300])
async def apply_task(plan_path: str, api_url: str | None, store_hash: str | None, token_secret_block: str | None,
                     concurrency: int, token_env: str | None = None) -> dict[str, Any]:
    """Apply the saved plan with its journal; a retry resumes where the last attempt stopped."""
    settings = resolve_settings(api_url, store_hash, token_secret_block, token_env=token_env)
    plan = Plan.load(Path(plan_path))
    workbook = Path(plan.workbook)
    async with BigCommerceClient(settings) as client:
        result = await apply_plan(plan, client, workbook_dir=workbook.parent, journal=Journal.for_workbook(workbook),
                                  concurrency=concurrency)
    results = write_results(result, workbook) if workbook.exists() else None
    summary = {"counts": result.counts(), "requests": result.requests, "writes": result.writes,
               "failed": len(result.failed), "seconds": result.seconds,
               "backup": str(result.backup_path) if result.backup_path else None,
               "results": str(results) if results else None, "plan": plan_path}
    if result.failed:
        get_run_logger().warning("%s operations failed; see %s", len(result.failed), results)
    return summary


@flow(name="import_modifiers")
async def import_modifiers(
    workbook: str,
    prune: bool = False,
    force: bool = False,
    api_url: str | None = None,
    store_hash: str | None = None,
    token_secret_block: str | None = None,
    concurrency: int = 8,
    token_env: str | None = None,
) -> dict[str, Any]:
    """Validate, plan and apply `workbook`; fails without writing anything if the file has problems.

    `token_env` names the environment variable holding this store's token on the worker.
    """
    # fail fast, before any retried task
    settings = resolve_settings(api_url, store_hash, token_secret_block, token_env=token_env)
    async with store_slot(store_key(settings)):
        planned = await plan_task(workbook, api_url, store_hash, token_secret_block, prune, force, token_env)
        if "rejected" in planned:
            raise WorkbookRejected(planned["rejected"])
        return await apply_task(planned["plan"], api_url, store_hash, token_secret_block, concurrency, token_env)
