"""Query-string parsing shared by every collection, and BigCommerce's `meta.pagination`.

Clients must survive pagination quirks, so the sandbox's own metadata is exact: total, count,
per_page, current_page, total_pages and `links` as query strings that keep the request's other
parameters (so following `next` repeats the same filters).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from pipeline.sandbox.errors import invalid

DEFAULT_LIMIT = 50
MAX_LIMIT = 250


@dataclass(frozen=True)
class Page:
    number: int
    per_page: int

    @property
    def offset(self) -> int:
        return (self.number - 1) * self.per_page


def _positive_int(raw: str | None, name: str, default: int, maximum: int | None = None) -> int:
    if raw is None:
        return default
    try:
        value = int(raw.strip())
    except ValueError:
        raise invalid({name: f"{name} must be an integer, got {raw!r}"}, f"Invalid {name} parameter") from None
    if value < 1 or (maximum is not None and value > maximum):
        bounds = f"between 1 and {maximum}" if maximum else "at least 1"
        raise invalid({name: f"{name} must be {bounds}, got {value}"}, f"Invalid {name} parameter")
    return value


def parse_page(query: Any, cap: int | None = None) -> Page:
    """`page` (default 1) and `limit` (default 50, 1..250); `cap` lowers per_page (include=modifiers)."""
    number = _positive_int(query.get("page"), "page", 1)
    limit = _positive_int(query.get("limit"), "limit", DEFAULT_LIMIT, MAX_LIMIT)
    return Page(number, min(limit, cap) if cap else limit)


def comma_list(raw: str | None) -> list[str] | None:
    """`a,b , c` -> ['a', 'b', 'c']; None when the parameter is absent."""
    if raw is None:
        return None
    return [part.strip() for part in raw.split(",") if part.strip()]


def _link(items: Sequence[tuple[str, str]], page: int, per_page: int) -> str:
    rest = [(k, v) for k, v in items if k not in ("page", "limit")]
    return "?" + urlencode([("page", str(page)), ("limit", str(per_page)), *rest], safe=",:")


def collection_meta(query_items: Sequence[tuple[str, str]], page: Page, count: int, total: int) -> dict[str, Any]:
    """`{"pagination": {...}}` for a page holding `count` of `total` items."""
    total_pages = math.ceil(total / page.per_page) if total else 0
    links: dict[str, str] = {}
    if page.number > 1:
        links["previous"] = _link(query_items, page.number - 1, page.per_page)
    links["current"] = _link(query_items, page.number, page.per_page)
    if page.number < total_pages:
        links["next"] = _link(query_items, page.number + 1, page.per_page)
    return {"pagination": {
        "total": total, "count": count, "per_page": page.per_page, "current_page": page.number,
        "total_pages": total_pages, "links": links,
    }}
