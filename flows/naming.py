"""Names an operator can read in `prefect flow-run ls` and the UI, instead of `humble-gorilla` and
`extract_task-444`: flow runs say what and which store on which UTC day, tasks say what they do."""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from flows.store import key_of, slug


def utc_day() -> str:
    return datetime.now(timezone.utc).date().isoformat()


def store_label(api_url: str | None, store_hash: str | None) -> str:
    """The store's key as it may appear in a name (`unconfigured` when there is none)."""
    key = key_of(api_url, store_hash)
    return slug(key) if key else "unconfigured"


def export_name(api_url: str | None, store_hash: str | None) -> str:
    """`export-<hash>-<UTC date>`."""
    return f"export-{store_label(api_url, store_hash)}-{utc_day()}"


def _parameters() -> dict[str, Any]:
    from prefect.runtime import flow_run

    return dict(flow_run.parameters or {})


def export_run_name() -> str:
    p = _parameters()
    return export_name(p.get("api_url"), p.get("store_hash"))


def import_run_name() -> str:
    p = _parameters()
    return f"import-{store_label(p.get('api_url'), p.get('store_hash'))}-{utc_day()}"


def restore_run_name() -> str:
    p = _parameters()
    return f"restore-{store_label(p.get('api_url'), p.get('store_hash'))}-{utc_day()}"


def restore_plan_task_name(parameters: dict[str, Any]) -> str:
    store = store_label(parameters.get("api_url"), parameters.get("store_hash"))
    return f"plan the restore of {Path(str(parameters.get('backup'))).name} on {store}"


def restore_apply_task_name(parameters: dict[str, Any]) -> str:
    store = store_label(parameters.get("api_url"), parameters.get("store_hash"))
    return f"restore {Path(str(parameters.get('backup'))).name} to {store}"


def migrate_run_name() -> str:
    p = _parameters()
    source = store_label(p.get("source_api_url"), p.get("source_store_hash"))
    target = store_label(p.get("target_api_url"), p.get("target_store_hash"))
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
    return f"read {store_label(parameters.get('api_url'), parameters.get('store_hash'))}: {scope}"


def write_task_name(parameters: dict[str, Any]) -> str:
    kind = "CSV zip" if parameters.get("csv") else "workbook"
    return f"write {kind} to {parameters.get('out')}"


def plan_task_name(parameters: dict[str, Any]) -> str:
    store = store_label(parameters.get("api_url"), parameters.get("store_hash"))
    return f"validate and plan {Path(str(parameters.get('workbook'))).name} against {store}"


def apply_task_name(parameters: dict[str, Any]) -> str:
    store = store_label(parameters.get("api_url"), parameters.get("store_hash"))
    return f"apply {Path(str(parameters.get('plan_path'))).name} to {store}"


def migration_plan_task_name(parameters: dict[str, Any]) -> str:
    source, target = parameters.get("source") or {}, parameters.get("target") or {}
    return (f"plan migration {store_label(source.get('api_url'), source.get('store_hash'))} -> "
            f"{store_label(target.get('api_url'), target.get('store_hash'))}")


def migration_apply_task_name(parameters: dict[str, Any]) -> str:
    target = parameters.get("target") or {}
    return f"apply migration to {store_label(target.get('api_url'), target.get('store_hash'))}"
