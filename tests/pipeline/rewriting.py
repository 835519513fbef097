"""A transport that wraps the sandbox's to imitate stores that answer differently from it.

Real stores may carry fields this release does not know, strip headers behind a proxy, or shape
a value differently; the sandbox does not, so a test stacks this on the sandbox's transport (the
way httpx transports wrap transports) and edits what comes back. It also records each request.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from typing import Any

import httpx

BodyEdit = Callable[[httpx.Request, Any], Any]


class RewritingTransport(httpx.AsyncBaseTransport):
    """Passes every request to `inner`; rewrites JSON bodies with `edit_body` and drops `drop_headers`."""

    def __init__(self, inner: httpx.AsyncBaseTransport, *, edit_body: BodyEdit | None = None,
                 drop_headers: Iterable[str] = ()) -> None:
        self.inner = inner
        self.edit_body = edit_body
        self.drop_headers = {name.lower() for name in drop_headers}
        self.requests: list[httpx.Request] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        response = await self.inner.handle_async_request(request)
        content = await response.aread()
        headers = [(k, v) for k, v in response.headers.items()
                   if k.lower() not in self.drop_headers and k.lower() != "content-length"]
        if self.edit_body is not None and response.headers.get("content-type", "").startswith("application/json"):
            content = json.dumps(self.edit_body(request, json.loads(content))).encode()
        return httpx.Response(response.status_code, headers=headers, content=content, request=request)


def each_product(edit: Callable[[dict[str, Any]], None]) -> BodyEdit:
    """A body edit applying `edit` to every product of a products listing (other bodies untouched)."""

    def apply(request: httpx.Request, body: Any) -> Any:
        if request.url.path.endswith("/catalog/products") and isinstance(body, dict):
            for product in body.get("data") or ():
                edit(product)
        return body

    return apply
