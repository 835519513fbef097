"""Plan one edited workbook: validate it, read the touched products from the store, diff.

Only read requests: the current state of the products the sheets mention costs ceil(touched/10)
requests (`GET /catalog/products?include=modifiers`, ten products a page). When the caller does
not already know the store's product ids, the extract doubles as the existence check of those
products, and the product-list targets that are not among them are looked up by id (200 a
request); a missing product then refuses the plan like any other validation issue.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path

from pipeline.client import BigCommerceClient
from pipeline.extract import ExtractFilters, ProgressCallback
from pipeline.extract_frames import ExtractedFrames, extract_frames
from pipeline.normalise import empty_frames
from pipeline.plan.diff import OwnUpload, build_plan, touched_product_ids
from pipeline.plan.operations import Plan
from pipeline.settings import store_hash_of_url
from pipeline.validate.command import (
    ID_CHUNK,
    ID_LOOKUP_FIELDS,
    PRODUCTS_PATH,
    ValidationOutcome,
    missing_product_issues,
    referenced_product_ids,
    validate_file_async,
)
from pipeline.validate.cross_rows import linked_product_issues
from pipeline.validate.report import sort_issues


class PlanRefused(Exception):
    """The workbook has validation issues: nothing was planned (and nothing written)."""

    def __init__(self, outcome: ValidationOutcome) -> None:
        self.outcome = outcome
        super().__init__(f"{len(outcome.issues)} validation issue(s) in {outcome.read.file or 'the workbook'}: "
                         "fix them, then plan again")


async def plan_workbook(
    path: Path,
    client: BigCommerceClient,
    *,
    prune: bool = False,
    force: bool = False,
    known_product_ids: set[int] | None = None,
    expected_store_hash: str | None = None,
    progress: ProgressCallback | None = None,
    uploaded: Mapping[int, OwnUpload] | None = None,
) -> tuple[Plan, ValidationOutcome]:
    """Validate `path`, fetch the current state of its products through `client` (reads only), and
    plan. Raises `PlanRefused` with the validation outcome when the workbook has issues.

    `known_product_ids`: the store's product ids when already known (then only the extract is
    sent). `expected_store_hash`: the store the workbook must come from; by default the one in
    the client's API URL. `progress` hears (pages read, pages) of the products' current state.
    `uploaded`: the images earlier applies of this workbook uploaded, from its journal
    (`Journal.own_uploads`), so that the plan keeps them rather than taking them for someone else's.
    """
    path = Path(path)
    expected = expected_store_hash or store_hash_of_url(client.base_url)
    outcome = await validate_file_async(path, expected_store_hash=expected, known_product_ids=known_product_ids)
    if not outcome.ok:
        raise PlanRefused(outcome)
    before = client.metrics.requests_sent
    touched = touched_product_ids(outcome.sheets)
    current = await extract_frames(client, ExtractFilters(product_ids=tuple(touched)),
                                   progress=progress) if touched else ExtractedFrames(empty_frames(), [])
    if known_product_ids is None:
        outcome = await _check_products(outcome, client, set(current.product_ids))
    outcome.requests += client.metrics.requests_sent - before
    if not outcome.ok:
        raise PlanRefused(outcome)
    plan = build_plan(outcome.sheets, outcome.meta, current.frames, workbook=str(path),
                      prune=prune, force=force, uploaded=uploaded)
    return plan, outcome


async def _check_products(outcome: ValidationOutcome, client: BigCommerceClient, found: set[int]) -> ValidationOutcome:
    """The outcome with an issue for every product id (row or product-list target) the store lacks."""
    others = sorted(referenced_product_ids(outcome.sheets) - found)
    for start in range(0, len(others), ID_CHUNK):
        part = others[start:start + ID_CHUNK]
        params = {"id:in": ",".join(map(str, part)), "include_fields": ID_LOOKUP_FIELDS, "limit": 250}
        found |= {int(product["id"]) for product in await client.get_all(PRODUCTS_PATH, params)}
    read = outcome.read
    issues = missing_product_issues(outcome.sheets, read.files, found)
    # the other cross-row rules passed already, so this only adds product-list targets that do not exist
    issues += linked_product_issues(outcome.sheets, file=read.file, known_product_ids=found)
    issues = [i if not i.sheet or i.sheet not in read.files else replace(i, file=read.files[i.sheet]) for i in issues]
    return replace(outcome, issues=sort_issues(issues), checked_product_ids=len(found))
