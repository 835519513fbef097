"""Read both stores for a migration and match their products by SKU.

Reads only. The source's products come with their modifiers (`include=modifiers`, ten a page, the
export's own extract); the target's are read for exactly the SKUs the migration needs (the
migrated products and the products their product-list values link to), with their modifiers, so
one pass gives both the id map and the target's current state. A SKU with a comma cannot go in
`sku:in`, so such a SKU is asked for on its own (`sku=`). Every read with modifiers goes through
the extract, so a store that applies `include_fields` literally is caught the same way.

Matching is exact and never guessed: a product without SKU, a SKU the target lacks, and a SKU
that two products of the same store share are each reported with the reason, not matched. A
target SKU that differs only in case or surrounding spaces is named in the reason, still unmatched.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from pipeline.client import BigCommerceClient
from pipeline.extract import PRODUCTS_PATH, ExtractFilters, ExtractSession, extract_products, extract_query

LOOKUP_CHUNK = 200  # ids per `id:in` lookup: short URLs, one page of 250
LOOKUP_FIELDS = "sku,name"  # include_fields enum names; the id always comes back


@dataclass(frozen=True)
class ProductRef:
    """A product as matching sees it."""

    id: int
    sku: str | None
    name: str | None = None

    @classmethod
    def of(cls, product: Mapping[str, Any]) -> ProductRef:
        sku = product.get("sku")
        return cls(int(product["id"]), sku if isinstance(sku, str) and sku != "" else None, product.get("name"))


@dataclass(frozen=True)
class Unmatched:
    """A source product that has no single target product with the same SKU (`product_id` None: a
    SKU asked for that the source does not have)."""

    product_id: int | None
    sku: str | None
    name: str | None
    reason: str

    def as_dict(self) -> dict[str, Any]:
        return {"product_id": self.product_id, "sku": self.sku, "name": self.name, "reason": self.reason}


@dataclass
class SkuMap:
    """Source product id -> target product id, and why the others have none."""

    matched: dict[int, int]
    problems: dict[int, Unmatched]

    def unmatched(self, product_ids: Iterable[int]) -> list[Unmatched]:
        return [self.problems[i] for i in sorted(set(product_ids)) if i in self.problems]


def _counted(ids: Sequence[int], side: str) -> str:
    return f"shared by {len(ids)} {side} products ({', '.join(map(str, sorted(ids)))})"


def match_by_sku(source: Iterable[ProductRef], target: Iterable[ProductRef]) -> SkuMap:
    """Pair every source product with the one target product of exactly the same SKU."""
    source = list(source)
    by_sku: dict[str, list[int]] = defaultdict(list)
    near: dict[str, set[str]] = defaultdict(set)
    for product in target:
        if product.sku is not None:
            by_sku[product.sku].append(product.id)
            near[product.sku.strip().casefold()].add(product.sku)
    source_by_sku: dict[str, list[int]] = defaultdict(list)
    for product in source:
        if product.sku is not None:
            source_by_sku[product.sku].append(product.id)
    matched: dict[int, int] = {}
    problems: dict[int, Unmatched] = {}
    for product in source:
        sku = product.sku
        if sku is None:
            reason = "has no SKU, so it cannot be matched"
        elif len(source_by_sku[sku]) > 1:
            reason = f"its SKU {sku!r} is {_counted(source_by_sku[sku], 'source')}: ambiguous"
        elif len(by_sku.get(sku, ())) > 1:
            reason = f"its SKU {sku!r} is {_counted(by_sku[sku], 'target')}: ambiguous"
        elif sku in by_sku:
            matched[product.id] = by_sku[sku][0]
            continue
        else:
            reason = f"no product with SKU {sku!r} in the target store"
            similar = sorted(near.get(sku.strip().casefold(), set()) - {sku})
            if similar:
                reason += f" (it has {', '.join(map(repr, similar))}, which differs in case or spaces; not matched)"
        problems[product.id] = Unmatched(product.id, sku, product.name, reason)
    return SkuMap(matched, problems)


async def read_source(client: BigCommerceClient, skus: Sequence[str] | None, *, concurrency: int = 8,
                      session: ExtractSession | None = None) -> list[dict[str, Any]]:
    """The source's products with modifiers: every product, or those with the given SKUs."""
    if skus is None:
        return await extract_products(client, concurrency=concurrency, session=session)
    return await products_by_sku(client, skus, concurrency=concurrency, session=session)


async def products_by_sku(client: BigCommerceClient, skus: Iterable[str], *, concurrency: int = 8,
                          session: ExtractSession | None = None) -> list[dict[str, Any]]:
    """Products with modifiers for these SKUs (every product that has one), ordered by id."""
    wanted = sorted({s for s in skus if s})
    plain = tuple(s for s in wanted if "," not in s)
    chunks = ExtractFilters(skus=plain).query_chunks() if plain else []  # no SKU filter would mean every product
    chunks += [{"sku": sku} for sku in wanted if "," in sku]
    if not chunks:
        return []
    return await extract_query(client, chunks, concurrency=concurrency, session=session)


async def products_by_id(client: BigCommerceClient, ids: Iterable[int], *, concurrency: int = 8) -> list[ProductRef]:
    """Id, SKU and name of these products (those that exist), 200 ids a request."""
    wanted = sorted(set(ids))
    out: list[ProductRef] = []
    for start in range(0, len(wanted), LOOKUP_CHUNK):
        part = wanted[start:start + LOOKUP_CHUNK]
        params = {"id:in": ",".join(map(str, part)), "include_fields": LOOKUP_FIELDS, "limit": 250}
        out += [ProductRef.of(p) for p in await client.get_all(PRODUCTS_PATH, params, concurrency=concurrency)]
    return out
