"""Export a store's modifiers: extract -> normalise -> workbook or CSV files.

This is the one function the CLI and the Prefect flow both call, so a scheduled export and a
person's export produce the same file. Its result holds counts and paths, never the token.

Nothing the store returned is dropped without a word: the result's `warnings` say when the store
applied `include_fields` literally (the modifiers were fetched again, whole) and name every key the
workbook has no column for, with how many rows carry it.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx

from pipeline.client import BigCommerceClient
from pipeline.connection import store_hash_of
from pipeline.extract import ExtractFilters, ExtractSession, ProgressCallback, extract_products
from pipeline.extract_frames import extract_frames
from pipeline.extras import count_unknown, describe_unknown
from pipeline.import_ahead import import_ahead
from pipeline.settings import Settings

if TYPE_CHECKING:
    from pipeline.normalise import ModifierFrames
    from pipeline.workbook.meta import ExportMeta

# What turns the pages into a workbook. Not imported with this module: `export_store` imports them
# in a thread while its requests are in flight (pandas alone is a third of a second).
WRITER_MODULES = ("pandas", "pipeline.normalise", "pipeline.workbook.meta", "pipeline.workbook.writer")


@dataclass(frozen=True)
class ExportResult:
    """What an export produced; safe to log and to persist as a Prefect result."""

    path: Path
    store_hash: str
    products: int
    modifiers: int
    values: int
    requests: int
    seconds: float
    counts_by_type: dict[str, dict[str, int]] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)  # what the user must hear: see `export_warnings`

    def as_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["path"] = str(self.path)
        return out


def output_path(out: Path, store_hash: str, exported_at: datetime, *, csv: bool, zip_: bool) -> Path:
    """A file path for the export: `out` itself, or a dated name inside the folder `out`.

    Dated names let a nightly job keep every night's file side by side.
    """
    is_folder = out.is_dir() or not out.suffix
    if not is_folder:
        return out
    stamp = exported_at.strftime("%Y%m%dT%H%M%SZ")
    suffix = ".zip" if csv and zip_ else ("" if csv else ".xlsx")
    return out / f"modifiers-{store_hash}-{stamp}{suffix}"


async def fetch_frames(
    client: BigCommerceClient,
    filters: ExtractFilters = ExtractFilters(),
    *,
    concurrency: int = 8,
    progress: ProgressCallback | None = None,
    session: ExtractSession | None = None,
) -> tuple[list[dict[str, Any]], ModifierFrames]:
    """The raw products and their frames; `session` collects what the reads learned (see `ExtractSession`).

    For callers that need the payloads too; `extract_frames` gives the frames without holding them."""
    from pipeline.normalise import products_to_frames

    products = await extract_products(client, filters, concurrency=concurrency, progress=progress, session=session)
    return products, products_to_frames(products)


def export_warnings(frames: ModifierFrames, session: ExtractSession) -> list[str]:
    """The reads' warnings, then one naming the keys no column holds (if any), found by normalising."""
    unknown = describe_unknown(count_unknown(frames.extras.values()))
    return [*session.warnings, *([unknown] if unknown else [])]


def write_export(
    frames: ModifierFrames,
    out: Path,
    meta: ExportMeta,
    *,
    exported_at: datetime,
    csv: bool = False,
    zip_: bool = False,
) -> Path:
    """Write frames as a workbook or CSV files at `out` (a file, or a folder for a dated name)."""
    path = output_path(out, meta.store_hash, exported_at, csv=csv, zip_=zip_)
    path.parent.mkdir(parents=True, exist_ok=True)
    if not csv:
        from pipeline.workbook.writer import write_workbook

        return Path(write_workbook(frames, path, meta))
    from pipeline.workbook.csv_files import write_csv  # only a CSV export pays for its import

    return Path(write_csv(frames, path, meta, zip_=zip_))


def export_meta(settings: Settings, filters: ExtractFilters, exported_at: datetime) -> ExportMeta:
    """What the workbook records about its origin: the store and URL, never the token."""
    from pipeline.workbook.meta import ExportMeta

    return ExportMeta(store_hash=store_hash_of(settings), api_url=settings.base_url,
                      exported_at=exported_at.isoformat(), filters=filters.describe())


def summarise_export(path: Path, store_hash: str, products: int, frames: ModifierFrames, requests: int,
                     started: float, warnings: list[str] | None = None) -> ExportResult:
    counts = frames.counts_by_type()
    return ExportResult(
        path=path,
        store_hash=store_hash,
        products=products,
        modifiers=len(frames.modifiers),
        values=len(frames.values),
        requests=requests,
        seconds=round(time.perf_counter() - started, 3),
        counts_by_type={str(t): {"modifiers": int(r["modifiers"]), "values": int(r["values"])}
                        for t, r in counts.iterrows()},
        warnings=list(warnings or ()),
    )


async def export_store(
    settings: Settings,
    out: Path,
    *,
    csv: bool = False,
    zip_: bool = False,
    filters: ExtractFilters = ExtractFilters(),
    concurrency: int = 8,
    transport: httpx.AsyncBaseTransport | None = None,
    progress: ProgressCallback | None = None,
) -> ExportResult:
    """Read the store's modifiers and write them to `out` (a file, or a folder for a dated file).

    The result's `warnings` are for the user; the caller shows them (the CLI prints each one).
    """
    started = time.perf_counter()
    exported_at = datetime.now(timezone.utc).replace(microsecond=0)
    session = ExtractSession()
    writer_imports = import_ahead(WRITER_MODULES)
    async with BigCommerceClient(settings, transport=transport) as client:
        extracted = await extract_frames(client, filters, concurrency=concurrency, progress=progress,
                                         session=session)
        requests = client.metrics.requests_sent
    writer_imports.join()
    frames = extracted.frames
    meta = export_meta(settings, filters, exported_at)
    path = write_export(frames, out, meta, exported_at=exported_at, csv=csv, zip_=zip_)
    return summarise_export(path, meta.store_hash, len(extracted.product_ids), frames, requests, started,
                            export_warnings(frames, session))
