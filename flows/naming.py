"""Names an operator can read in `prefect flow-run ls` and the UI, instead of `humble-gorilla` and
`extract_task-444`: flow runs say what and which store on which UTC day, tasks say what they do."""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from flows.store import StoreParams, key_of, slug


def utc_day() -> str:
    return datetime.now(timezone.utc).date().isoformat()


def store_label(store: StoreParams | dict[str, Any] | None) -> str:
    """The store's key as it may appear in a name (`unconfigured` when there is none)."""
    key = key_of(store)
    return slug(key) if key else "unconfigured"


def export_name(store: StoreParams | dict[str, Any] | None) -> str:
    """`export-<hash>-<UTC date>`."""
    return f"export-{store_label(store)}-{utc_day()}"


def _parameters() -> dict[str, Any]:
    from prefect.runtime import flow_run

    return dict(flow_run.parameters or {})


def export_run_name() -> str:
    p = _parameters()
    return export_name(p.get("store"))


def import_run_name() -> str:
    p = _parameters()
    return f"import-{store_label(p.get('store'))}-{utc_day()}"


def restore_run_name() -> str:
    p = _parameters()
    return f"restore-{store_label(p.get('store'))}-{utc_day()}"


def restore_plan_task_name(parameters: dict[str, Any]) -> str:
    store = store_label(parameters.get("store"))
    return f"plan the restore of {Path(str(parameters.get('backup'))).name} on {store}"


def restore_apply_task_name(parameters: dict[str, Any]) -> str:
    store = store_label(parameters.get("store"))
    return f"restore {Path(str(parameters.get('backup'))).name} to {store}"


def migrate_run_name() -> str:
    p = _parameters()
    source, target = store_label(p.get("source")), store_label(p.get("target"))
    return f"migrate-{source}-to-{target}-{utc_day()}"


def agency_run_name() -> str:
    return f"export-all-stores-{utc_day()}"


def window_text(since: datetime | None) -> str:
    return f"changed since {since.isoformat(timespec='seconds')}" if since else "whole catalog"


def read_task_name(parameters: dict[str, Any]) -> str:
    filters = parameters.get("filters")
    scope = window_text(getattr(filters, "since", None))
    if getattr(filters, "product_ids", None) or getattr(filters, "skus", None):
        scope += ", listed products only"
    return f"read {store_label(parameters.get('store'))}: {scope}"


def write_task_name(parameters: dict[str, Any]) -> str:
    kind = "CSV zip" if parameters.get("csv") else "workbook"
    return f"write {kind} to {parameters.get('out')}"


def plan_task_name(parameters: dict[str, Any]) -> str:
    store = store_label(parameters.get("store"))
    return f"validate and plan {Path(str(parameters.get('workbook'))).name} against {store}"


def apply_task_name(parameters: dict[str, Any]) -> str:
    store = store_label(parameters.get("store"))
    return f"apply {Path(str(parameters.get('plan_path'))).name} to {store}"


def migration_plan_task_name(parameters: dict[str, Any]) -> str:
    return f"plan migration {store_label(parameters.get('source'))} -> {store_label(parameters.get('target'))}"


def migration_apply_task_name(parameters: dict[str, Any]) -> str:
    return f"apply migration to {store_label(parameters.get('target'))}"
