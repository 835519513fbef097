"""Migrate modifiers from one store to another: read both, match by SKU, plan, then (if asked) apply.

Planning only reads: the source's products with modifiers, the target's products for the SKUs
involved (with their modifiers), and the source products that product lists link to when they
were not read already. The plan is an ordinary bcmod plan against the target, saved with the
migration workbook (the desired rows, target ids) in `workdir`, so the apply has every guarantee
of `bcmod apply`: a backup of the touched target products first, a journal that makes an
interrupted run resumable, creates matched by natural key (never duplicated), one request per
changed entity. A migration run again after success plans zero operations.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from pipeline.apply import ApplyResult, Journal, apply_plan, write_results
from pipeline.client import BigCommerceClient
from pipeline.image_fetch import GuardedTransport, ImagePolicy
from pipeline.migrate.catalog import (
    ProductRef,
    SkuMap,
    Unmatched,
    match_by_sku,
    products_by_id,
    products_by_sku,
    read_source,
)
from pipeline.migrate.translate import LeftOut, carry_images, desired_state, origin_of, upload_operations
from pipeline.normalise import products_to_frames
from pipeline.plan.diff import build_plan
from pipeline.plan.operations import Plan
from pipeline.plan.render import plan_summary
from pipeline.settings import store_hash_of_url
from pipeline.workbook.layout import META_SHEET
from pipeline.workbook.meta import ExportMeta, meta_from_frame, utc_now_iso
from pipeline.workbook.reader import read_xlsx
from pipeline.workbook.tables import EXPORT_TABLES, typed_table
from pipeline.workbook.writer import write_workbook

ProgressCallback = Callable[[int, int], None]


class MigrationError(ValueError):
    """The migration cannot be planned as asked (e.g. source and target are the same store)."""


@dataclass
class MigrationPlan:
    """The plan against the target and everything the person should know before applying it."""

    plan: Plan
    source_store: str
    target_store: str
    workbook: Path  # the desired rows, as a bcmod workbook (target ids)
    plan_path: Path
    matched: dict[int, int]  # source product id -> target product id, products with modifiers
    unmatched: list[Unmatched]  # products with modifiers that have no single target by SKU
    left_out: list[LeftOut]  # rows not carried (product-list links without a match, repeated keys)
    remapped: int  # product-list values whose linked product id was translated
    images: int  # value images to upload (downloaded from the source during the apply)
    images_kept: int  # source value images whose target value already has an image (kept)
    pattern_links: int  # swatch pattern images carried as the source's URLs (no upload endpoint)
    requests: dict[str, int] = field(default_factory=dict)  # reads sent while planning, per store
    seconds: float = 0.0

    @property
    def report_path(self) -> Path:
        """The JSON report beside the workbook: everything `as_dict` says, for the agency's records."""
        return self.workbook.with_suffix(".report.json")

    def save_report(self) -> Path:
        self.report_path.write_text(json.dumps(self.as_dict(), indent=1, default=str, ensure_ascii=False),
                                    encoding="utf-8")
        return self.report_path

    @property
    def operations(self) -> int:
        return len(self.plan.operations)

    def as_dict(self) -> dict[str, Any]:
        """JSON-able, safe to persist (no token, no payloads)."""
        return {
            "source_store": self.source_store, "target_store": self.target_store,
            "workbook": str(self.workbook), "plan_path": str(self.plan_path), "report": str(self.report_path),
            "matched": len(self.matched), "matched_products": {str(k): v for k, v in sorted(self.matched.items())},
            "unmatched": [u.as_dict() for u in self.unmatched], "left_out": [r.as_dict() for r in self.left_out],
            "remapped_product_links": self.remapped, "images_to_upload": self.images,
            "images_kept": self.images_kept, "pattern_image_links": self.pattern_links,
            "requests": dict(self.requests), "seconds": self.seconds, "plan": plan_summary(self.plan),
        }


@dataclass
class MigrationResult:
    """A migration's plan and, when it was applied, the apply's outcome."""

    migration: MigrationPlan
    applied: ApplyResult | None = None
    results: Path | None = None  # the results copy of the migration workbook

    @property
    def ok(self) -> bool:
        return self.applied is None or self.applied.ok

    def as_dict(self) -> dict[str, Any]:
        applied = None
        if self.applied is not None:
            applied = {key: value for key, value in self.applied.as_dict().items() if key != "outcomes"}
            applied["failed"] = [{"operation": o.describe(), "message": o.message} for o in self.applied.failed]
        return {**self.migration.as_dict(), "applied": applied,
                "results": str(self.results) if self.results else None}


def workbook_path(workdir: Path, source_store: str, target_store: str) -> Path:
    """`<workdir>/migration-<source>-to-<target>.xlsx`: a fixed name, so a re-run finds its journal."""
    def safe(text: str) -> str:
        return "".join(c if c.isalnum() or c in "-_" else "_" for c in text) or "store"

    return Path(workdir) / f"migration-{safe(source_store)}-to-{safe(target_store)}.xlsx"


def _requests(client: BigCommerceClient) -> int:
    return client.metrics.requests_sent


async def plan_migration(
    source_client: BigCommerceClient,
    target_client: BigCommerceClient,
    *,
    workdir: Path,
    product_skus: Sequence[str] | None = None,
    prune: bool = False,
    replace_images: bool = False,
    concurrency: int = 8,
) -> MigrationPlan:
    """Plan the migration of the source's modifiers to the target (reads only; see the module doc).

    `product_skus`: only the source products with these SKUs (default: every product).
    `prune`: also delete the target's modifiers and values, on matched products, that the source
    does not have (a source product without modifiers is not migrated, so its target is left alone). `replace_images`: upload a source image even where the target value has one.
    """
    if source_client.base_url.rstrip("/") == target_client.base_url.rstrip("/"):
        raise MigrationError("the source and the target are the same store")
    started = time.perf_counter()
    source_store = store_hash_of_url(source_client.base_url) or "source"
    target_store = store_hash_of_url(target_client.base_url) or "target"
    source_before, target_before = _requests(source_client), _requests(target_client)

    products = await read_source(source_client, product_skus, concurrency=concurrency)
    refs = {p.id: p for p in map(ProductRef.of, products)}
    with_modifiers = [int(p["id"]) for p in products if p.get("modifiers")]
    frames = products_to_frames(products)
    linked = {int(i) for i in frames.values["linked_product_id"].dropna().tolist()}
    refs.update({p.id: p for p in await products_by_id(source_client, linked - set(refs), concurrency=concurrency)})

    needed = {refs[i].sku for i in with_modifiers} | {refs[i].sku for i in linked if i in refs}
    target_products = await products_by_sku(target_client, [s for s in needed if s], concurrency=concurrency)
    skus: SkuMap = match_by_sku(refs.values(), map(ProductRef.of, target_products))
    missing = sorted(set(product_skus or ()) - {p.sku for p in refs.values()})
    unmatched = [Unmatched(None, sku, None, "no product with this SKU in the source store") for sku in missing]
    unmatched += skus.unmatched(with_modifiers)
    matched = {i: skus.matched[i] for i in with_modifiers if i in skus.matched}

    target_names = {int(p["id"]): p.get("name") for p in target_products}
    desired = desired_state(frames, matched, skus, target_names, origin_of(source_client.base_url))
    current = products_to_frames(p for p in target_products if int(p["id"]) in set(matched.values()))
    carries, kept = carry_images(desired.sheets, current, replace=replace_images)

    workbook = workbook_path(workdir, source_store, target_store)
    # the rows as planned, each image as the source URL it comes from. Provenance: the source, so
    # `bcmod plan/apply` refuses the file against the target (only a migration uploads those images)
    meta = ExportMeta(store_hash=source_store, api_url=source_client.base_url, exported_at=utc_now_iso(),
                      filters={"migration_to": target_store, "skus": list(product_skus or [])})
    write_workbook(desired.frames, workbook, meta)  # frames_to_sheets(frames) == desired.sheets
    plan = build_plan(desired.sheets, None, current, workbook=str(workbook), prune=prune)
    uploads = upload_operations(plan, carries)
    plan.operations += uploads
    plan.store_hash, plan.api_url = target_store, target_client.base_url
    plan_path = plan.save(workbook.with_suffix(".plan.json"))
    migration = MigrationPlan(
        plan=plan, source_store=source_store, target_store=target_store, workbook=workbook, plan_path=plan_path,
        matched=matched, unmatched=unmatched, left_out=desired.left_out, remapped=desired.remapped,
        images=len(uploads), images_kept=kept, pattern_links=desired.pattern_links,
        requests={"source": _requests(source_client) - source_before,
                  "target": _requests(target_client) - target_before},
        seconds=round(time.perf_counter() - started, 3))
    migration.save_report()
    return migration


async def apply_migration(
    plan: Plan,
    target_client: BigCommerceClient,
    *,
    concurrency: int = 8,
    backup: bool = True,
    progress: ProgressCallback | None = None,
    image_transport: httpx.AsyncBaseTransport | None = None,
    source_api_url: str | None = None,
) -> tuple[ApplyResult, Path | None]:
    """Apply a migration plan to the target with its journal (beside the migration workbook) and
    write the results copy of the workbook; the apply downloads each image from the source.

    The downloads go through `pipeline.image_fetch` (http(s), public hosts, checked redirects,
    8 MB, real GIF/JPEG/PNG) under the policy of both stores: loopback image hosts only when the
    source (`source_api_url`, else the one the migration workbook records) or the target is a
    local sandbox. `image_transport` replaces the network as given (tests)."""
    workbook = Path(plan.workbook)
    guarded = None
    if image_transport is None:
        source = source_api_url or _recorded_source(workbook)
        image_transport = guarded = GuardedTransport(ImagePolicy.for_stores(target_client.base_url, source))
    try:
        result = await apply_plan(plan, target_client, workbook_dir=workbook.parent,
                                  journal=Journal.for_workbook(workbook), concurrency=concurrency, backup=backup,
                                  progress=progress, image_transport=image_transport)
    finally:
        if guarded is not None:
            await guarded.aclose()
    results = write_results(result, workbook) if workbook.exists() else None
    return result, results


def _recorded_source(workbook: Path) -> str | None:
    """The source store's API URL as the migration workbook's metadata records it (None if unreadable)."""
    spec = next(spec for spec in EXPORT_TABLES if spec.name == META_SHEET)
    try:
        raw = read_xlsx(workbook, {META_SHEET}).tables[META_SHEET]
        return meta_from_frame(typed_table(raw, spec), raw.where).api_url or None
    except Exception:  # noqa: BLE001 - a workbook we cannot read only means the stricter policy
        return None


async def migrate(
    source_client: BigCommerceClient,
    target_client: BigCommerceClient,
    *,
    workdir: Path,
    product_skus: Sequence[str] | None = None,
    apply: bool = False,
    prune: bool = False,
    replace_images: bool = False,
    concurrency: int = 8,
    backup: bool = True,
    progress: ProgressCallback | None = None,
    image_transport: httpx.AsyncBaseTransport | None = None,
) -> MigrationResult:
    """Plan the migration; with `apply`, carry it out (a dry run by default: nothing is written)."""
    migration = await plan_migration(source_client, target_client, workdir=workdir, product_skus=product_skus,
                                     prune=prune, replace_images=replace_images, concurrency=concurrency)
    if not apply or not migration.plan.operations:
        return MigrationResult(migration)
    result, results = await apply_migration(migration.plan, target_client, concurrency=concurrency, backup=backup,
                                            progress=progress, image_transport=image_transport,
                                            source_api_url=source_client.base_url)
    return MigrationResult(migration, result, results)
