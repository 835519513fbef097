"""`migrate_store`: copy modifiers from one store to another as a Prefect flow; a dry run by default.

A thin layer over `pipeline.migrate`. The run takes a `source` and a `target` store (`StoreParams`:
a URL or hash and the *name* of where the token is, an environment variable or a Prefect Secret
block), never a token. The plan is saved in `workdir` before anything is written, so a retried
apply task applies the very same plan and its journal skips what already landed. Results are
counts and paths; the lists of unmatched products and rows left out are in the report file the
result points to.
"""

from __future__ import annotations

from contextlib import AsyncExitStack
from pathlib import Path
from typing import Any

from prefect import flow, get_run_logger, task
from pydantic import SecretStr

from flows import tally
from flows.naming import migrate_run_name, migration_apply_task_name, migration_plan_task_name
from flows.retry import retry_transient
from flows.slot import store_slot
from flows.store import StoreParams, aread_secret, aresolve_settings, store_key
from pipeline.client import BigCommerceClient
from pipeline.migrate import (
    SOURCE_TOKEN_ENV,
    TARGET_TOKEN_ENV,
    StoreConfigError,
    apply_migration,
    plan_migration,
    source_settings,
    target_settings,
)
from pipeline.plan.operations import Plan
from pipeline.plan.render import summary_line
from pipeline.settings import Settings

PLAN, APPLY = "migration plan", "migration apply"


async def source_store(store: StoreParams) -> Settings:
    """The source store; its token from the Secret block when one is named, else from `token_env`
    (BCMOD_SOURCE_TOKEN when none is named)."""
    if store.token_secret_block:
        if not (store.api_url or store.store_hash):
            raise StoreConfigError("name the source store: its api_url or store_hash")
        token = SecretStr(await aread_secret(store.token_secret_block))
        return Settings(_env_file=None, api_url=store.api_url, store_hash=store.store_hash, access_token=token)
    return source_settings(store.api_url, store.store_hash, store.token_env or SOURCE_TOKEN_ENV)


async def target_store(store: StoreParams) -> Settings:
    """The target store, as the other flows find theirs (or BCMOD_TARGET_TOKEN when set)."""
    if store.token_secret_block:
        return await aresolve_settings(store)
    return target_settings(store.api_url, store.store_hash, store.token_env or TARGET_TOKEN_ENV)


@task(name="plan the migration", task_run_name=migration_plan_task_name, retries=2, retry_delay_seconds=[5, 30],
      retry_condition_fn=retry_transient)
async def plan_migration_task(source: StoreParams, target: StoreParams, workdir: str, skus: list[str] | None,
                              prune: bool, replace_images: bool, concurrency: int) -> dict[str, Any]:
    """Read both stores and plan (reads only); the saved plan's path and the migration's counts."""
    async with BigCommerceClient(await source_store(source)) as source_client, \
            BigCommerceClient(await target_store(target)) as target_client:
        try:
            migration = await plan_migration(source_client, target_client, workdir=Path(workdir), product_skus=skus,
                                             prune=prune, replace_images=replace_images, concurrency=concurrency)
        finally:
            tally.record_attempt(PLAN, source_client.metrics.requests_sent + target_client.metrics.requests_sent)
    logger = get_run_logger()
    logger.info("%s matched, %s not migrated; %s", len(migration.matched), len(migration.unmatched),
                summary_line(migration.plan))
    if migration.unmatched:
        logger.warning("%s products not migrated (no single target product with the same SKU); see %s",
                       len(migration.unmatched), migration.report_path)
    return {
        "plan": str(migration.plan_path), "workbook": str(migration.workbook), "report": str(migration.report_path),
        "operations": len(migration.plan.operations), "counts": migration.plan.counts(),
        "matched": len(migration.matched), "unmatched": len(migration.unmatched),
        "left_out": len(migration.left_out), "remapped_product_links": migration.remapped,
        "images_to_upload": migration.images, "images_kept": migration.images_kept,
        "pattern_image_links": migration.pattern_links, "planning_requests": dict(migration.requests),
    }


@task(name="apply the migration", task_run_name=migration_apply_task_name, retries=3,
      retry_delay_seconds=[10, 60, 300], retry_condition_fn=retry_transient)
async def apply_migration_task(plan_path: str, target: StoreParams, concurrency: int) -> dict[str, Any]:
    """Apply the saved plan to the target with its journal; a retry resumes where the last attempt stopped."""
    plan = Plan.load(Path(plan_path))
    async with BigCommerceClient(await target_store(target)) as client:
        try:
            result, results = await apply_migration(plan, client, concurrency=concurrency)
        finally:
            tally.record_attempt(APPLY, client.metrics.requests_sent)
    if result.failed:
        get_run_logger().warning("%s operations failed; see %s", len(result.failed), results)
    return {"counts": result.counts(), "requests": result.requests, "writes": result.writes,
            "backup_requests": result.backup_requests, "failed": len(result.failed), "seconds": result.seconds,
            "backup": str(result.backup_path) if result.backup_path else None,
            "results": str(results) if results else None, "journal": str(result.journal_path)}


@flow(name="migrate_store", flow_run_name=migrate_run_name)
async def migrate_store(
    source: StoreParams = StoreParams(token_env=SOURCE_TOKEN_ENV),
    target: StoreParams = StoreParams(),
    workdir: str = "out/migration",
    skus: list[str] | None = None,
    apply: bool = False,
    prune: bool = False,
    replace_images: bool = False,
    concurrency: int = 8,
) -> dict[str, Any]:
    """Plan the migration of modifiers from `source` to `target`; with `apply`, carry it out.

    `source` needs its api_url or store_hash; its token is in `token_env` (default BCMOD_SOURCE_TOKEN)
    or a Secret block. An empty `target` is the worker's own store (.env / BIGCOMMERCE_*).
    """
    source, target = StoreParams.of(source), StoreParams.of(target)
    source_settings_, target_settings_ = await source_store(source), await target_store(target)  # fail fast
    async with AsyncExitStack() as slots:
        # both stores' slots, always in the same order, so two migrations cannot deadlock
        for key in sorted({store_key(source_settings_), store_key(target_settings_)}):
            await slots.enter_async_context(store_slot(key))
        planned = await plan_migration_task(source, target, workdir, skus, prune, replace_images, concurrency)
        applied = None
        if apply and planned["operations"]:
            applied = await apply_migration_task(planned["plan"], target, concurrency)
    return {**planned, "applied": applied, "requests_all_attempts": tally.total(PLAN, APPLY)}
