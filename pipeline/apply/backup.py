"""Before the first write: export every product the plan touches, so a bad apply can be undone.

The backup is an ordinary bcmod export (the same workbook `bcmod export` writes, filtered to the
plan's product ids, which its metadata records) in `<workbook folder>/backups/backup-<store>-<UTC
time>.xlsx`; `bcmod restore <backup>` (`pipeline.restore`) puts those products back as it shows
them. It is read with the apply's own client, so its requests go through the same rate governor
as the writes that follow.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from pipeline.client import BigCommerceClient
from pipeline.export import write_export
from pipeline.extract import ExtractFilters, ProgressCallback
from pipeline.extract_frames import extract_frames
from pipeline.plan.operations import Plan
from pipeline.workbook.meta import ExportMeta

BACKUP_FOLDER = "backups"


class BackupError(RuntimeError):
    """The backup could not be taken; nothing was written to the store."""


def touched_products(plan: Plan) -> list[int]:
    """Every product id the plan names (its `product_ids`, and every operation's product)."""
    return sorted({int(p) for p in plan.product_ids} | {int(op.product_id) for op in plan.operations})


def backup_path(workbook_dir: Path, store_hash: str, at: datetime, *, subfolder: bool = True) -> Path:
    """`<workbook_dir>/backups/backup-<store>-<UTC time>.xlsx` (without `subfolder`: in `workbook_dir` itself)."""
    safe_store = "".join(c if c.isalnum() or c in "-_" else "_" for c in store_hash) or "store"
    folder = Path(workbook_dir) / BACKUP_FOLDER if subfolder else Path(workbook_dir)
    return folder / f"backup-{safe_store}-{at.strftime('%Y%m%dT%H%M%S%fZ')}.xlsx"


async def backup_products(plan: Plan, client: BigCommerceClient, *, workbook_dir: Path, folder: Path | None = None,
                          concurrency: int = 8, progress: ProgressCallback | None = None) -> Path:
    """Export the plan's products to the backups folder (`folder`, by default `<workbook_dir>/backups`;
    reads only) and return the file's path; `progress` hears (pages read, pages)."""
    product_ids = touched_products(plan)
    filters = ExtractFilters(product_ids=tuple(product_ids))
    at = datetime.now(UTC)
    store = plan.store_hash or "store"
    try:
        frames = (await extract_frames(client, filters, concurrency=concurrency, progress=progress)).frames
        meta = ExportMeta(store_hash=store, api_url=plan.api_url or client.base_url,
                          exported_at=at.isoformat(timespec="seconds"), filters=filters.describe())
        target = backup_path(workbook_dir, store, at) if folder is None else \
            backup_path(folder, store, at, subfolder=False)
        return write_export(frames, target, meta, exported_at=at)
    except Exception as exc:  # noqa: BLE001 - any failure means: do not write
        raise BackupError(f"could not back up the {len(product_ids)} product(s) the plan touches, so nothing "
                          f"was written: {exc}") from exc
