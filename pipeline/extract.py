"""Read every product's modifiers from a store in as few requests as the API allows.

`GET /catalog/products?include=modifiers` embeds the modifiers but caps pages at 10 products; that is
still about ten times fewer requests than one `/modifiers` call per product. Filters (ids, SKUs,
`date_modified:min`) narrow the set for targeted and incremental nightly runs. Long id/SKU lists
are sent in chunks whose size is a multiple of the page size, so chunking never costs a page.

`include_fields` trims each product to the fields the workbook shows. It takes only names from the
products spec's enum (`id` is not one: it always comes back). The docs say only the listed fields
return; BigCommerce still embeds the included modifiers, but a store that applied the list literally
would drop them, and `modifiers` cannot be listed. So every page is checked: the first page without
them switches the run to whole products (no `include_fields`), which costs that one page again,
and the run says so. A store that drops them even then is an error, never an empty workbook.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping, Sequence
from contextlib import aclosing
from dataclasses import dataclass, field
from datetime import date, datetime, timezone
from typing import Any

from pipeline.client import BigCommerceClient, FatalError

logger = logging.getLogger("bcmod.extract")

PRODUCTS_PATH = "/catalog/products"
PAGE_SIZE = 10  # BigCommerce's cap when modifiers are included
CHUNK = 200  # ids or SKUs per request: short URLs, and a multiple of PAGE_SIZE
# `include_fields` names, all from the products spec's enum; `id` always comes back and is not one.
PRODUCT_FIELDS = ("sku", "name", "date_modified")
LITERAL_INCLUDE_FIELDS_WARNING = (
    "the store applied include_fields literally and returned products without their modifiers; "
    "bcmod asked again without include_fields (whole products, one extra request), so no modifier is missing")

ProgressCallback = Callable[[int, int], None]
PageCallback = Callable[[list[dict[str, Any]]], None]


@dataclass(frozen=True)
class ExtractFilters:
    """Which products to read. Empty means the whole catalog."""

    product_ids: tuple[int, ...] = ()
    skus: tuple[str, ...] = ()
    since: datetime | None = None

    def describe(self) -> dict[str, Any]:
        """JSON-able form, recorded in the workbook's metadata."""
        return {
            "product_ids": list(self.product_ids),
            "skus": list(self.skus),
            "since": self.since.isoformat() if self.since else None,
        }

    def query_chunks(self) -> list[dict[str, str]]:
        """The filter query parameters, one dict per request chain."""
        base: dict[str, str] = {}
        if self.since is not None:
            since = self.since if self.since.tzinfo else self.since.replace(tzinfo=timezone.utc)
            base["date_modified:min"] = since.isoformat(timespec="seconds")
        chunks: list[dict[str, str]] = []
        if self.product_ids:
            ids = sorted(set(self.product_ids))
            chunks += [{**base, "id:in": ",".join(map(str, ids[i:i + CHUNK]))} for i in range(0, len(ids), CHUNK)]
        if self.skus:
            skus = sorted(set(self.skus))
            chunks += [{**base, "sku:in": ",".join(skus[i:i + CHUNK])} for i in range(0, len(skus), CHUNK)]
        return chunks or [base]


def parse_since(text: str) -> datetime:
    """Accept a date (2026-11-01) or an ISO datetime; naive values are taken as UTC."""
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        parsed = datetime.combine(date.fromisoformat(text), datetime.min.time())
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)


@dataclass
class ExtractProgress:
    """Pages fetched so far out of the pages known; the CLI draws it as a bar."""

    done: int = 0
    total: int = 0
    listeners: list[ProgressCallback] = field(default_factory=list)

    def update(self, done_delta: int = 0, total_delta: int = 0) -> None:
        self.done += done_delta
        self.total += total_delta
        for listener in self.listeners:
            listener(self.done, self.total)


class ModifiersMissingError(FatalError):
    """The store returned products without their `modifiers` even to a plain `include=modifiers`."""

    default_title = ("the store returned products without their modifiers although include=modifiers was asked; "
                     "nothing was written")


@dataclass
class ExtractSession:
    """What one run learns about the store across its requests, and what it must tell the user.

    Pass the same session to every read of a run (an export, a migration's reads of one store) so
    that a store found to apply `include_fields` literally costs one extra page once, not once per
    call. `warnings` are sentences for the user; a caller that passes a session shows them itself.
    """

    trim_fields: bool = True  # send include_fields; False once the store dropped the modifiers for it
    warnings: list[str] = field(default_factory=list)

    def params(self) -> dict[str, str | int]:
        """Query parameters of a products page with embedded modifiers (filters not included)."""
        params: dict[str, str | int] = {"include": "modifiers", "limit": PAGE_SIZE}
        if self.trim_fields:
            params["include_fields"] = ",".join(PRODUCT_FIELDS)
        return params

    def stop_trimming(self) -> None:
        self.trim_fields = False
        self.warnings.append(LITERAL_INCLUDE_FIELDS_WARNING)


def lacks_modifiers(page: Iterable[Mapping[str, Any]]) -> bool:
    """True when a product of the page came back without a `modifiers` key (an empty list is fine)."""
    return any("modifiers" not in product for product in page)


async def extract_products(
    client: BigCommerceClient,
    filters: ExtractFilters = ExtractFilters(),
    *,
    concurrency: int = 8,
    progress: ProgressCallback | None = None,
    session: ExtractSession | None = None,
    on_page: PageCallback | None = None,
) -> list[dict[str, Any]]:
    """Products (id, sku, name, date_modified) with their modifiers, ordered by id, each once.

    A product that matches both an id and a SKU filter is kept once. With `on_page`, see `extract_query`.
    """
    return await extract_query(client, filters.query_chunks(), concurrency=concurrency, progress=progress,
                               session=session, on_page=on_page)


async def extract_query(
    client: BigCommerceClient,
    chunks: Iterable[Mapping[str, str]],
    *,
    concurrency: int = 8,
    progress: ProgressCallback | None = None,
    session: ExtractSession | None = None,
    on_page: PageCallback | None = None,
) -> list[dict[str, Any]]:
    """Products with their modifiers for each filter dict in `chunks` (one chain of pages each), by id.

    Without a `session` the run keeps its own and logs its warnings, so they are never lost.
    With `on_page`, each page (its products, modifiers embedded) goes to `on_page` as it arrives and
    nothing is kept (the result is empty), so a big catalog is never held whole as payloads; a
    product may then come twice (in an id and a SKU chunk, or read again after the include_fields
    switch): the later reading is the one to keep (`pipeline.extract_frames` does).
    """
    own_session = session is None
    session = session if session is not None else ExtractSession()
    tracker = ExtractProgress(listeners=[progress] if progress else [])
    products: dict[int, dict[str, Any]] = {}

    def keep(page: list[dict[str, Any]]) -> None:
        for product in page:
            products[int(product["id"])] = product

    sink = on_page if on_page is not None else keep
    for chunk in chunks:
        if not await _read_chain(client, chunk, session, tracker, sink, concurrency):
            session.stop_trimming()
            if own_session:
                logger.warning("%s", LITERAL_INCLUDE_FIELDS_WARNING)
            await _read_chain(client, chunk, session, tracker, sink, concurrency)
    return [products[key] for key in sorted(products)]


async def _read_chain(
    client: BigCommerceClient,
    chunk: Mapping[str, str],
    session: ExtractSession,
    tracker: ExtractProgress,
    sink: PageCallback,
    concurrency: int,
) -> bool:
    """Read one chain of pages into `sink`; False (its pages uncounted) when the store dropped the
    modifiers because of include_fields.

    That shows on the first page with products, which is page 1 (a chain whose page 1 is empty has
    no other): `get_pages` has queued pages 2.. but they have not run yet when it hands page 1
    over, and closing it cancels them unsent, so the switch costs exactly that page.
    """
    announced = done = 0

    def on_total(pages: int) -> None:
        nonlocal announced
        announced = pages
        tracker.update(total_delta=pages)

    trimmed = session.trim_fields
    pages = client.get_pages(PRODUCTS_PATH, {**session.params(), **chunk}, concurrency=concurrency,
                             on_total_pages=on_total)
    async with aclosing(pages):
        async for page in pages:
            if lacks_modifiers(page):
                if not trimmed:
                    raise ModifiersMissingError()
                tracker.update(done_delta=-done, total_delta=-announced)
                return False
            done += 1
            tracker.update(done_delta=1)
            sink(page)
    return True


def count_requests_bound(n_products: int) -> int:
    """The most requests an unfiltered export of `n_products` may cost: ceil(N/10) + 2."""
    return -(-n_products // PAGE_SIZE) + 2


def summarise(products: Sequence[dict[str, Any]]) -> dict[str, int]:
    """Counts for logs and flow results (nothing store-secret)."""
    modifiers = sum(len(p.get("modifiers") or ()) for p in products)
    values = sum(len(m.get("option_values") or ()) for p in products for m in p.get("modifiers") or ())
    return {"products": len(products), "modifiers": modifiers, "values": values}
