"""`export_modifiers`: the Prefect flow behind scheduled (nightly) and ad-hoc exports.

A thin layer over `pipeline.export`. Tasks get the run's `store` (its URL or hash and where its token
lives), never the token (see `flows.store`). The body holds the store's slot (`flows.slot.store_slot`), so
two runs of one store never share its API quota, whichever workers they land on. Only transient
failures are retried (`flows.retry`): a wrong token fails the run in seconds and frees the slot.

`incremental=True` (the nightly deployments) exports what changed since the start of the store's
last successful export (`flows.window`); the first run is a full export. The run's name, its task
names, the log and the artifacts (`flows.report`) say which store, which window, which file on
which host, and how many requests every attempt together sent.
"""

from __future__ import annotations

import asyncio
import os
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from prefect import flow, get_run_logger, task
from prefect.cache_policies import NO_CACHE
from prefect.runtime import flow_run

from flows import tally
from flows.naming import export_run_name, read_task_name, window_text, write_task_name
from flows.report import host, publish_export
from flows.retry import retry_transient
from flows.slot import store_slot
from flows.store import StoreParams, aresolve_settings, run_store, store_settings
from flows.window import LastExport, incremental_since, record_success
from pipeline.client import BigCommerceClient
from pipeline.export import export_meta, summarise_export, write_export
from pipeline.extract import ExtractFilters, parse_since
from pipeline.extract_frames import ExtractedFrames, extract_frames

EXTRACT = "extract"


@task(name="read the store", task_run_name=read_task_name, retries=3, retry_delay_seconds=[5, 30, 120],
      retry_condition_fn=retry_transient)
async def extract_task(store: StoreParams, filters: ExtractFilters, concurrency: int = 8) -> ExtractedFrames:
    """Read the products' modifiers into frames, page by page (no payload is kept: a big catalog's
    raw JSON would be held whole otherwise); every attempt's requests go to `flows.tally`."""
    settings = await aresolve_settings(store)
    async with BigCommerceClient(settings) as client:
        try:
            extracted = await extract_frames(client, filters, concurrency=concurrency)
        finally:
            tally.record_attempt(EXTRACT, client.metrics.requests_sent)
        get_run_logger().info("read %s in %s requests", extracted.summary(), client.metrics.requests_sent)
        return extracted


@task(name="write the export", task_run_name=write_task_name, cache_policy=NO_CACHE)
async def write_task(extracted: ExtractedFrames, out: str, store: StoreParams, filters: ExtractFilters,
                     csv: bool) -> dict[str, Any]:
    """Normalise and write the dated workbook (or zipped CSV) in `out`; returns counts and the path."""
    settings = store_settings(store)
    exported_at = datetime.now(timezone.utc).replace(microsecond=0)

    def write() -> dict[str, Any]:  # in a thread: a large workbook must not stall the run's event loop
        frames = extracted.frames
        meta = export_meta(settings, filters, exported_at)
        path = write_export(frames, Path(out), meta, exported_at=exported_at, csv=csv, zip_=csv)
        summary = summarise_export(path.resolve(), meta.store_hash, len(extracted.product_ids), frames, 0, time.perf_counter())
        return summary.as_dict()  # requests and seconds are the run's, filled in by the flow

    return await asyncio.to_thread(write)


@flow(name="export_modifiers", flow_run_name=export_run_name)
async def export_modifiers(
    out: str = "exports",
    csv: bool = False,
    product_ids: list[int] | None = None,
    skus: list[str] | None = None,
    since: str | None = None,
    since_hours: float | None = None,
    incremental: bool = False,
    store: StoreParams = StoreParams(),
    concurrency: int = 8,
) -> dict[str, Any]:
    """Export modifiers to a dated file in `out` (relative to the worker's bcmod home).

    `incremental` reads what changed since the store's last successful export (full on the first
    run); `since` (a date or ISO time) or `since_hours` set the window by hand instead.
    `store` names the store and where its token lives (empty: the worker's .env / BIGCOMMERCE_*).
    """
    logger = get_run_logger()
    started = time.perf_counter()
    store, key = await run_store(store)  # fails fast on a wrong store
    out_dir = Path(out).expanduser().resolve()
    logger.info("export of store %s to %s on host %s (pid %s)", key, out_dir, host(), os.getpid())
    async with store_slot(key):
        read_from = datetime.now(timezone.utc)
        since_at, previous, from_record = await _window(key, since, since_hours, incremental)
        if previous:
            logger.info("last successful export of %s started %s (%s, run %s)", key, previous.started,
                        previous.path, previous.flow_run)
        elif incremental:
            logger.info("no earlier successful export of %s recorded: full export", key)
        filters = ExtractFilters(product_ids=tuple(product_ids or ()), skus=tuple(skus or ()), since=since_at)
        logger.info("window: %s", window_text(since_at))
        try:
            extracted = await extract_task(store, filters, concurrency)
        except Exception:
            logger.error("reading %s failed after %s requests in %s attempt(s)", key, tally.total(EXTRACT),
                         len(tally.attempts(EXTRACT)))
            raise
        summary = await write_task(extracted, str(out_dir), store, filters, csv)
        summary.update(_report(started, since_at))
        if not (product_ids or skus) and (since_at is None or from_record):  # it read every change since
            await record_success(key, read_from, summary, flow_run.name)
    logger.info("wrote %s on host %s: %s products, %s modifiers, %s values; %s requests in %s attempt(s)",
                summary["path"], summary["host"], summary["products"], summary["modifiers"], summary["values"],
                summary["requests"], summary["attempts"])
    await publish_export(summary, key)
    return summary


async def _window(key: str, since: str | None, since_hours: float | None,
                  incremental: bool) -> tuple[datetime | None, LastExport | None, bool]:
    """The window's start (None: everything), the record it came from, and whether it came from the
    store's last success: by hand (`since_hours`, `since`) wins over `incremental`."""
    if since_hours is not None:
        return datetime.now(timezone.utc) - timedelta(hours=since_hours), None, False
    if since:
        return parse_since(since), None, False
    if incremental:
        since_at, previous = await incremental_since(key)
        return since_at, previous, True
    return None, None, False


def _report(started: float, since_at: datetime | None) -> dict[str, Any]:
    """What the summary adds for the operator: host, window, requests over all attempts, wall time."""
    per_attempt = tally.attempts(EXTRACT)
    return {"host": host(), "window": window_text(since_at),
            "since": since_at.isoformat(timespec="seconds") if since_at else None,
            "requests": sum(per_attempt), "attempts": len(per_attempt),
            "seconds": round(time.perf_counter() - started, 3)}
