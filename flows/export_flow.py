"""`export_modifiers`: the Prefect flow behind scheduled (nightly) exports.

A thin layer over `pipeline.export`: tasks get the store's URL and hash, never its token; the
token is read inside the task from the environment (.env, or the variable `token_env` names) or
from a Prefect Secret block, so no task input, result or log line can hold it.

The body holds the store's slot (`store:<hash>`, see `flows.store.store_slot`), so two runs of one
store never share its API quota, whichever workers they land on. The summary (counts and the
path) is also published as a table artifact, which is how `flows.agency` reads a child run's
outcome without shared result storage.
"""

from __future__ import annotations

import re
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from prefect import flow, get_run_logger, task
from prefect.artifacts import acreate_table_artifact
from pipeline.client import BigCommerceClient
from pipeline.export import export_meta, summarise_export, write_export
from pipeline.extract import ExtractFilters, extract_products, parse_since, summarise
from pipeline.normalise import products_to_frames
from pipeline.settings import Settings

from flows.store import resolve_settings, store_key, store_slot

SUMMARY_ARTIFACT_PREFIX = "bcmod-export-"


@task(retries=3, retry_delay_seconds=[5, 30, 120], log_prints=False)
async def extract_task(api_url: str | None, store_hash: str | None, token_secret_block: str | None,
                       filters: ExtractFilters, concurrency: int = 8,
                       token_env: str | None = None) -> tuple[list[dict[str, Any]], int]:
    """Fetch the products with their modifiers; returns them with the request count."""
    settings = resolve_settings(api_url, store_hash, token_secret_block, token_env=token_env)
    async with BigCommerceClient(settings) as client:
        products = await extract_products(client, filters, concurrency=concurrency)
        get_run_logger().info("extracted %s in %s requests", summarise(products), client.metrics.requests_sent)
        return products, client.metrics.requests_sent


@task
def write_task(products: list[dict[str, Any]], requests: int, out: str, api_url: str | None,
               store_hash: str | None, filters: ExtractFilters, csv: bool, started: float) -> dict[str, Any]:
    """Normalise and write the dated workbook or CSV files; returns counts and the path."""
    settings = Settings(**{k: v for k, v in {"api_url": api_url, "store_hash": store_hash}.items() if v})
    exported_at = datetime.now(timezone.utc).replace(microsecond=0)
    frames = products_to_frames(products)
    meta = export_meta(settings, filters, exported_at)
    path = write_export(frames, Path(out), meta, exported_at=exported_at, csv=csv, zip_=csv)
    return summarise_export(path, meta.store_hash, len(products), frames, requests, started).as_dict()


@flow(name="export_modifiers")
async def export_modifiers(
    out: str = "exports",
    csv: bool = False,
    product_ids: list[int] | None = None,
    skus: list[str] | None = None,
    since: str | None = None,
    since_hours: float | None = None,
    api_url: str | None = None,
    store_hash: str | None = None,
    token_secret_block: str | None = None,
    concurrency: int = 8,
    token_env: str | None = None,
) -> dict[str, Any]:
    """Export modifiers to a dated file in `out`. `since_hours=24` makes a nightly run incremental.

    `token_env` names the environment variable holding this store's token on the worker.
    """
    started = time.perf_counter()
    # fail fast, before any retried task
    settings = resolve_settings(api_url, store_hash, token_secret_block, token_env=token_env)
    since_at = parse_since(since) if since else None
    if since_hours is not None:
        since_at = datetime.now(timezone.utc) - timedelta(hours=since_hours)
    filters = ExtractFilters(product_ids=tuple(product_ids or ()), skus=tuple(skus or ()), since=since_at)
    async with store_slot(store_key(settings)):
        products, requests = await extract_task(api_url, store_hash, token_secret_block, filters, concurrency,
                                                token_env)
        summary = write_task(products, requests, out, api_url, store_hash, filters, csv, started)
    await publish_summary(summary)
    return summary


async def publish_summary(summary: dict[str, Any]) -> None:
    """The export's counts and path as a table artifact keyed by store (`bcmod-export-<hash>`)."""
    row = {k: v for k, v in summary.items() if k != "counts_by_type"}
    key = SUMMARY_ARTIFACT_PREFIX + (re.sub(r"[^a-z0-9-]+", "-", str(summary.get("store_hash", "")).lower()).strip("-")
                                     or "store")
    await acreate_table_artifact([row], key=key, description="bcmod export: counts and file")
