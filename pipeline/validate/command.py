"""Validate one edited export: read it, check every row, and check the product ids against the store.

The library entry point the CLI (and later the import flow) calls. It never writes to the store:
the only requests are `GET /catalog/products?id:in=...&include_fields=id`, to learn which of the
product ids the file mentions exist. Issues found while reading take precedence: a cell or column
the reader already reported is not reported again by the schemas.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Final

import httpx
import pandas as pd

from pipeline.client import BigCommerceClient, BigCommerceError
from pipeline.settings import Settings
from pipeline.validate.issues import Issue, shown_value
from pipeline.validate.reading import ReadResult, read_for_validation
from pipeline.validate.against_export import fill_value_types
from pipeline.validate.report import sort_issues
from pipeline.validate.run import validate_sheets
from pipeline.workbook.layout import ACTION_DELETE, SHEETS
from pipeline.workbook.meta import ExportMeta

PRODUCTS_PATH: Final = "/catalog/products"
ID_CHUNK: Final = 200  # ids per request: a short URL, and one page at limit 250
# `id` always comes back but is not in the spec's include_fields enum: ask for one small field
ID_LOOKUP_FIELDS = "sku"
PRODUCT_ID_COLUMNS: Final = ("product_id", "linked_product_id")
# `--accept-excel-changes`: cells a spreadsheet program rewrote are sent as they are now. A context
# variable, so the plan and apply (which validate through `validate_file_async`) follow the flag too.
ACCEPT_EXCEL_CHANGES: ContextVar[bool] = ContextVar("bcmod_accept_excel_changes", default=False)


@contextmanager
def accepting_excel_changes(accept: bool = True) -> Iterator[None]:
    """Validate (and so plan and apply) with the cells a spreadsheet program rewrote accepted."""
    token = ACCEPT_EXCEL_CHANGES.set(accept)
    try:
        yield
    finally:
        ACCEPT_EXCEL_CHANGES.reset(token)


@dataclass
class ValidationOutcome:
    """Every issue of one file (sorted by file, sheet, row and column), and what was read."""

    issues: list[Issue]
    sheets: dict[str, pd.DataFrame]
    meta: ExportMeta | None
    read: ReadResult
    requests: int = 0  # read requests sent to the store
    checked_product_ids: int | None = None  # how many product ids exist; None when not checked

    @property
    def ok(self) -> bool:
        return not self.issues

    @property
    def rows(self) -> int:
        return sum(len(sheet) for sheet in self.sheets.values())


def validate_file(
    path: Path,
    *,
    settings: Settings | None = None,
    expected_store_hash: str | None = None,
    known_product_ids: set[int] | None = None,
    transport: httpx.AsyncBaseTransport | None = None,
    accept_excel_changes: bool | None = None,
) -> ValidationOutcome:
    """Validate `path` (an .xlsx, a folder of CSV files or a zip of them); see `validate_file_async`."""
    return asyncio.run(validate_file_async(path, settings=settings, expected_store_hash=expected_store_hash,
                                           known_product_ids=known_product_ids, transport=transport,
                                           accept_excel_changes=accept_excel_changes))


async def validate_file_async(
    path: Path,
    *,
    settings: Settings | None = None,
    expected_store_hash: str | None = None,
    known_product_ids: set[int] | None = None,
    transport: httpx.AsyncBaseTransport | None = None,
    accept_excel_changes: bool | None = None,
) -> ValidationOutcome:
    """Read, check and (with `settings`) look the product ids up in the store; never raises for bad input.

    `settings`: the store the file is meant for. Its hash is the expected store (unless
    `expected_store_hash` is given) and the product ids the file mentions are looked up there.
    `known_product_ids`: the store's product ids when already known (no request is sent).
    Without either, product ids are not checked for existence. `accept_excel_changes`: cells a
    spreadsheet program rewrote are not issues (None: as `accepting_excel_changes` says).
    """
    if accept_excel_changes is None:
        accept_excel_changes = ACCEPT_EXCEL_CHANGES.get()
    if settings is not None and expected_store_hash is None:
        from pipeline.connection import store_hash_of

        expected_store_hash = store_hash_of(settings)
    read = read_for_validation(Path(path), expected_store_hash=expected_store_hash)
    read.sheets = fill_value_types(read.sheets)  # the plan builds new values with their modifier's type
    issues = list(read.issues)
    requests = 0
    if read.format is not None:
        wanted = referenced_product_ids(read.sheets)
        if known_product_ids is None and settings is not None and wanted:
            try:
                known_product_ids, requests = await fetch_existing_product_ids(settings, wanted, transport=transport)
            except BigCommerceError as exc:
                issues.append(Issue(read.file, None, None, None, None,
                                    f"the product ids could not be checked against the store ({exc}); try again, "
                                    "or validate with --offline to skip that check"))
        issues += _schema_issues(read, known_product_ids, accept_excel_changes=accept_excel_changes)
        if known_product_ids is not None:
            issues += missing_product_issues(read.sheets, read.files, known_product_ids)
    issues = sort_issues(_unique(issues))
    return ValidationOutcome(issues, read.sheets, read.meta, read, requests,
                             len(known_product_ids) if known_product_ids is not None else None)


def _schema_issues(read: ReadResult, known_product_ids: set[int] | None, *,
                   accept_excel_changes: bool = False) -> list[Issue]:
    """The schemas' and cross-row checks' issues, minus cells and columns the reader reported."""
    found = validate_sheets(read.sheets, file=read.file, known_product_ids=known_product_ids, meta=read.meta,
                            accept_excel_changes=accept_excel_changes)
    cells = {(i.sheet, i.row, i.column) for i in read.issues if i.row is not None and i.column is not None}
    columns = {(i.sheet, i.column) for i in read.issues if i.row in (None, 1) and i.column is not None}
    kept: list[Issue] = []
    for issue in found:
        if (issue.sheet, issue.row, issue.column) in cells or (issue.sheet, issue.column) in columns:
            continue
        file = read.files.get(issue.sheet or "", issue.file)
        kept.append(replace(issue, file=file) if file != issue.file else issue)
    return kept


def _unique(issues: Iterable[Issue]) -> list[Issue]:
    return list(dict.fromkeys(issues))


def referenced_product_ids(sheets: Mapping[str, pd.DataFrame]) -> set[int]:
    """Every product id a row of the sheets names, as a product or as a product-list entry."""
    ids: set[int] = set()
    for sheet in sheets.values():
        for column in PRODUCT_ID_COLUMNS:
            if column in sheet.columns:
                ids.update(int(v) for v in sheet[column].dropna().unique().tolist() if 0 < int(v) < 2**31)
    return ids


async def fetch_existing_product_ids(
    settings: Settings,
    product_ids: Iterable[int],
    *,
    transport: httpx.AsyncBaseTransport | None = None,
    chunk: int = ID_CHUNK,
) -> tuple[set[int], int]:
    """Which of `product_ids` exist in the store, and the number of (GET) requests it took."""
    ids = sorted(set(product_ids))
    found: set[int] = set()
    async with BigCommerceClient(settings, transport=transport) as client:
        for start in range(0, len(ids), chunk):
            part = ids[start:start + chunk]
            params = {"id:in": ",".join(map(str, part)), "include_fields": ID_LOOKUP_FIELDS, "limit": 250}
            for product in await client.get_all(PRODUCTS_PATH, params):
                found.add(int(product["id"]))
        requests = client.metrics.requests_sent
    return found, requests


def missing_product_issues(sheets: Mapping[str, pd.DataFrame], files: Mapping[str, str],
                           known_product_ids: set[int]) -> list[Issue]:
    """Rows (other than deletions) whose `product_id` is not a product of the store."""
    issues: list[Issue] = []
    for spec in SHEETS:
        sheet = sheets.get(spec.name)
        if sheet is None or not len(sheet):
            continue
        ids = sheet["product_id"]
        unknown = [v for v in ids.dropna().unique().tolist() if v not in known_product_ids]  # the distinct ids
        if not unknown:
            continue
        deleting = sheet["action"].str.strip().str.lower().eq(ACTION_DELETE).fillna(False)
        missing = ids.notna() & ids.isin(unknown).fillna(False) & ~deleting
        for row, value in ids[missing.to_numpy(bool)].items():
            issues.append(Issue(files.get(spec.name, ""), spec.name, int(row), "product_id", shown_value(value),
                                f"product {value} does not exist in the store: check the id (products are "
                                "matched by product_id; product_sku and product_name are for reference only)"))
    return issues
