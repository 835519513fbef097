"""Page-number pagination over BigCommerce's `meta.pagination`, distrustful by design.

A small stateful strategy in dlt's style (`update_state`, `next_params`, `has_next_page`), fresh
for every listing. BigCommerce's pagination metadata has been wrong in the wild, so the paginator
stops on the first page's `total_pages` (a hard cap: it never asks for more) and raises
`PaginationError` rather than loop or skip: a page that is not the one requested, an empty or short
page before the last, an id already seen (a repeated page, or items shifting under us), and a final
count that differs from the first page's `total`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pipeline.client.errors import PaginationError


def _as_int(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


class PageNumberPaginator:
    """Checks each page of one listing, in order, against what the first page promised."""

    def __init__(self, *, path: str | None = None, page_param: str = "page", id_key: str = "id") -> None:
        self.path = path
        self.page_param = page_param
        self.id_key = id_key
        self.next_page = 1
        self.total: int | None = None  # items, as the first page said
        self.total_pages: int | None = None  # pages, as the first page said: the hard cap
        self.per_page: int | None = None
        self.count = 0  # items received so far
        self._seen: dict[Any, int] = {}  # id -> page it came in
        self._previous_ids: list[Any] = []
        self._done = False

    @property
    def has_next_page(self) -> bool:
        return not self._done

    def next_params(self) -> dict[str, int]:
        """The query parameters of the page to request next."""
        return {self.page_param: self.next_page}

    def remaining_pages(self) -> range:
        """Every page still to fetch (known once the first page is in), for concurrent fetching."""
        if self._done or self.total_pages is None:
            return range(0)
        return range(self.next_page, self.total_pages + 1)

    def _fail(self, problem: str, page: int) -> PaginationError:
        self._done = True
        return PaginationError(f"page {page}: {problem}", method="GET", url=self.path)

    def update_state(self, payload: Mapping[str, Any]) -> list[dict[str, Any]]:
        """Check the next page's payload and return its items; raises `PaginationError`."""
        page = self.next_page
        if self._done:
            raise self._fail("requested after the last page", page)
        items = payload.get("data")
        if not isinstance(items, list):
            raise self._fail(f"`data` is {type(items).__name__}, not a list", page)
        meta = payload.get("meta") or {}
        pagination = meta.get("pagination") if isinstance(meta, Mapping) else None
        if not isinstance(pagination, Mapping):
            if page != 1:
                raise self._fail("no meta.pagination", page)
            pagination = {"current_page": 1, "total_pages": 1, "total": len(items)}

        current = _as_int(pagination.get("current_page"))
        if current is not None and current != page:
            raise self._fail(f"server answered with page {current}", page)
        if page == 1:
            self.total = _as_int(pagination.get("total"))
            self.total_pages = max(_as_int(pagination.get("total_pages")) or 0, 1)
            self.per_page = _as_int(pagination.get("per_page"))
        assert self.total_pages is not None
        last = page >= self.total_pages

        if not items and not last:
            raise self._fail(f"empty, but total_pages is {self.total_pages}", page)
        if not last and self.per_page and len(items) < self.per_page:
            raise self._fail(f"{len(items)} items, short of per_page {self.per_page} before the last page", page)
        ids = [item.get(self.id_key) if isinstance(item, Mapping) else None for item in items]
        if ids and ids == self._previous_ids:
            raise self._fail(f"repeats page {page - 1} (ids {ids[0]}..{ids[-1]})", page)
        for item_id in filter(lambda i: i is not None, ids):
            if item_id in self._seen:
                raise self._fail(f"{self.id_key} {item_id} already came in page {self._seen[item_id]}", page)
            self._seen[item_id] = page

        self._previous_ids = ids
        self.count += len(items)
        self.next_page = page + 1
        if last:
            self._done = True
            if self.total is not None and self.count != self.total:
                raise PaginationError(
                    f"received {self.count} items in {self.total_pages} pages, but the first page said total {self.total}",
                    method="GET", url=self.path)
        return items
