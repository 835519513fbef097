"""`BigCommerceClient`: one pooled httpx client, a shared rate governor, retries, paginated reads.

Every request passes through the governor (`X-Rate-Limit-*` pacing), is retried according to
`retry.decide`, and comes back as a 2xx response or a mapped `BigCommerceError`. The token lives in
the httpx client's default headers and nowhere else: it is never logged, never put in an error, and
transport error messages are scrubbed of it before they are kept.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import time
from collections import deque
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import aclosing
from dataclasses import asdict, dataclass
from pathlib import PurePath
from typing import Any
from urllib.parse import urlencode

import httpx

from pipeline.client.errors import (
    AmbiguousWriteError,
    BigCommerceError,
    NetworkError,
    NotFoundError,
    RetriesExhaustedError,
    error_from_response,
)
from pipeline.client.governor import RateGovernor, RateLimitHeaders, retry_after_s
from pipeline.client.pagination import PageNumberPaginator
from pipeline.client.retry import NOT_SENT_ERRORS, Decision, RetryPolicy, decide
from pipeline.settings import Settings

logger = logging.getLogger("bcmod.client")

DEFAULT_PAGE_LIMIT = 250  # BigCommerce's maximum; `include=modifiers` is capped at 10 by the server
DEFAULT_LIMITS = httpx.Limits(max_connections=16, max_keepalive_connections=16, keepalive_expiry=30.0)
DEFAULT_TIMEOUT = httpx.Timeout(30.0, connect=10.0, pool=60.0)
REDACTED = "[redacted]"

JSON = dict[str, Any]


@dataclass
class ClientMetrics:
    """What one client did on the wire; `as_dict()` for reports and benchmarks."""

    requests_sent: int = 0  # attempts, retries included
    retries: int = 0
    throttled: int = 0  # 429 with rate-limit headers
    throttled_bare: int = 0  # 429 without: platform load
    server_errors: int = 0  # 5xx responses
    connection_drops: int = 0  # the connection failed after the request may have been sent
    connect_errors: int = 0  # the connection never opened: nothing was sent
    governor_wait_s: float = 0.0  # summed over requests, so it can exceed wall time

    def as_dict(self) -> dict[str, float]:
        return asdict(self)


def unwrap_data(payload: Any) -> Any:
    """The object inside a BigCommerce envelope.

    BigCommerce's docs show a create's `data` three ways: an object, `{"items": [obj]}` and a
    list `[obj]`; a one-item list in either form is the object, a longer list stays a list.
    """
    if not isinstance(payload, Mapping) or "data" not in payload:
        return payload
    data = payload["data"]
    if isinstance(data, Mapping) and "items" in data:
        data = data["items"]
    if isinstance(data, list) and len(data) == 1:
        return data[0]
    return data


def _json_body(response: httpx.Response) -> Any:
    return response.json() if response.content else {}


def _readable_files(files: Any) -> list[tuple[str, Any]] | None:
    """Read file objects into bytes once, so that a retried upload sends the same content again."""
    if files is None:
        return None

    def read(value: Any) -> Any:
        if isinstance(value, tuple):
            return (value[0], read(value[1]), *value[2:])
        if hasattr(value, "read"):
            return value.read()
        return value

    pairs = files.items() if isinstance(files, Mapping) else files
    out = []
    for field, value in pairs:
        if hasattr(value, "read"):  # a bare file object: keep its name as the filename
            value = (PurePath(getattr(value, "name", "upload")).name, value)
        out.append((field, read(value)))
    return out


def _under_base_url(path: str) -> None:
    """Refuse a full URL: the client speaks to its store's API only (`path` is relative to base_url)."""
    if "://" in path.split("?", 1)[0] or path.startswith("//"):  # "HTTP://..." too
        raise ValueError(f"the client requests paths under its store's API URL, not other URLs: {path!r}")


class BigCommerceClient:
    """Async client for one store. Use as `async with BigCommerceClient(settings) as client:`."""

    def __init__(
        self,
        settings: Settings,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
        governor: RateGovernor | None = None,
        retry: RetryPolicy | None = None,
        limits: httpx.Limits = DEFAULT_LIMITS,
        timeout: httpx.Timeout = DEFAULT_TIMEOUT,
    ) -> None:
        if not settings.is_configured or settings.access_token is None:
            raise ValueError("BigCommerce is not configured: set BIGCOMMERCE_STORE_HASH (or "
                             "BIGCOMMERCE_API_URL) and BIGCOMMERCE_ACCESS_TOKEN")
        self.base_url = settings.base_url
        self._token = settings.access_token.get_secret_value()
        self.governor = governor or RateGovernor()
        self.retry = retry or RetryPolicy()
        self.metrics = ClientMetrics()
        self._transport = transport
        self._limits = limits
        self._timeout = timeout
        self._http: httpx.AsyncClient | None = None

    def __repr__(self) -> str:
        return f"{type(self).__name__}(base_url={self.base_url!r})"

    async def __aenter__(self) -> BigCommerceClient:
        self._http = httpx.AsyncClient(
            base_url=self.base_url,
            headers={"X-Auth-Token": self._token, "Accept": "application/json"},
            transport=self._transport,
            limits=self._limits,
            timeout=self._timeout,
            follow_redirects=False,
            # A plain-http base URL (the sandbox, a proxy on this machine) has no certificate to check:
            # loading certifi's bundle for it was 60 ms of every client, a twentieth of a small export.
            # Every request is a path under base_url (`_under_base_url`) and no redirect is followed, so
            # this client can never reach an https URL; an https store is verified as always.
            verify=not self.base_url.startswith("http://"),
        )
        await self._http.__aenter__()
        return self

    async def __aexit__(self, *exc_info: Any) -> None:
        http, self._http = self._http, None
        if http is not None:
            await http.__aexit__(*exc_info)

    # -- one request, with retries -------------------------------------------------------------------

    async def request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        json: Any = None,
        files: Any = None,
        idempotent: bool | None = None,
    ) -> httpx.Response:
        """Send one logical request; return its 2xx response or raise a mapped `BigCommerceError`.

        `idempotent=True` lets a POST be retried after a 5xx or a dropped connection (the caller
        guards creates by natural key); without it such a POST raises `AmbiguousWriteError`.
        """
        if self._http is None:
            raise RuntimeError("use the client inside `async with`")
        _under_base_url(path)
        method = method.upper()
        files = _readable_files(files)
        target = f"{path}?{urlencode(params, doseq=True)}" if params else path  # for log lines
        failures = throttled = 0
        maybe_applied = False  # an earlier attempt may have reached the server
        while True:
            response, error, transport_exc = await self._attempt(method, path, target, params, json, files)
            if error is None:
                assert response is not None
                return response
            status = response.status_code if response is not None else None
            decision = decide(method, status=status, exc=transport_exc, idempotent=idempotent)
            if decision is Decision.RETRY_AFTER_GOVERNOR:
                throttled += 1
                if throttled > self.retry.max_throttled:
                    raise RetriesExhaustedError(error, attempts=failures + throttled)
                self.metrics.retries += 1
                logger.info("%s %s: %s, retrying when the rate governor admits it", method, target, error.title)
                continue
            if decision is Decision.RETRY_AFTER_BACKOFF:
                failures += 1
                maybe_applied = maybe_applied or not isinstance(transport_exc, NOT_SENT_ERRORS)
                if failures >= self.retry.max_attempts:
                    raise RetriesExhaustedError(error, attempts=failures + throttled)
                self.metrics.retries += 1
                delay = self.retry.backoff(failures)
                logger.info("%s %s: %s, retry %d in %.2f s", method, target, error.title, failures, delay)
                await self.retry.sleep(delay)
                continue
            if decision is Decision.AMBIGUOUS:
                raise AmbiguousWriteError(error)
            if maybe_applied and isinstance(error, NotFoundError):
                error.earlier_attempt_may_have_applied = True
            raise error

    async def _attempt(
        self, method: str, path: str, target: str, params: Any, json: Any, files: Any
    ) -> tuple[httpx.Response | None, BigCommerceError | None, httpx.TransportError | None]:
        """One attempt through the governor: the response or transport failure, and its mapped error."""
        assert self._http is not None
        failure: httpx.TransportError | None = None
        async with self.governor.slot() as waited:
            self.metrics.governor_wait_s += waited
            self.metrics.requests_sent += 1
            started = time.perf_counter()
            try:
                response = await self._http.request(method, path, params=params, json=json, files=files)
            except httpx.TransportError as exc:
                failure = exc
                if not isinstance(exc, NOT_SENT_ERRORS):
                    self.governor.note_unreported()
            else:
                self.governor.observe(response.headers, response.status_code)
        elapsed_ms = (time.perf_counter() - started) * 1000
        if failure is not None:  # handled outside `except`, so the httpx error (and its request) is not chained
            logger.debug("%s %s -> %s after %.0f ms", method, target, type(failure).__name__, elapsed_ms)
            return None, self._network_error(method, path, failure), failure
        logger.debug("%s %s -> %d in %.0f ms", method, target, response.status_code, elapsed_ms)
        if response.is_success:
            return response, None, None
        if response.status_code == 429:
            bare = RateLimitHeaders.parse(response.headers) is None and retry_after_s(response.headers) is None
            if bare:
                self.metrics.throttled_bare += 1
            else:
                self.metrics.throttled += 1
        elif response.status_code >= 500:
            self.metrics.server_errors += 1
        return response, error_from_response(response), None

    def _network_error(self, method: str, path: str, exc: httpx.TransportError) -> NetworkError:
        if isinstance(exc, NOT_SENT_ERRORS):
            self.metrics.connect_errors += 1
        else:
            self.metrics.connection_drops += 1
        cause = f"{type(exc).__name__}: {exc}".replace(self._token, REDACTED)
        try:
            url = str(exc.request.url)
        except RuntimeError:  # raised without a request
            url = path
        return NetworkError(cause=cause, method=method, url=url)

    # -- conveniences ---------------------------------------------------------------------------------

    async def get_json(self, path: str, params: Mapping[str, Any] | None = None) -> JSON:
        """GET and decode the JSON body (`{}` for an empty body), envelope included."""
        return _json_body(await self.request("GET", path, params=params))

    async def post_json(self, path: str, json: Any, *, idempotent: bool | None = None) -> Any:
        """POST a JSON body; returns the created object, unwrapped from `data`/`data.items`."""
        return unwrap_data(_json_body(await self.request("POST", path, json=json, idempotent=idempotent)))

    async def put_json(self, path: str, json: Any) -> Any:
        """PUT a JSON body; returns the updated object, unwrapped from `data`."""
        return unwrap_data(_json_body(await self.request("PUT", path, json=json)))

    async def delete(self, path: str, *, missing_ok: bool = False) -> None:
        """DELETE; a 404 is success when `missing_ok`, or when an earlier attempt may have deleted it."""
        try:
            await self.request("DELETE", path)
        except NotFoundError as exc:
            if not (missing_ok or exc.earlier_attempt_may_have_applied):
                raise

    async def get_pages(
        self,
        path: str,
        params: Mapping[str, Any] | None = None,
        *,
        concurrency: int = 8,
        on_total_pages: Callable[[int], None] | None = None,
    ) -> AsyncIterator[list[JSON]]:
        """Yield each page's items in order: page 1 first, then pages 2..N fetched concurrently.

        At most `concurrency` page requests are in flight (the governor may allow fewer) and at most
        twice that many pages are fetched ahead of the consumer. `limit` defaults to 250.
        `on_total_pages` hears the page count once page 1 is in (for progress bars).
        """
        query = {"limit": DEFAULT_PAGE_LIMIT, **(params or {})}
        paginator = PageNumberPaginator(path=path)
        first = paginator.update_state(await self.get_json(path, {**query, **paginator.next_params()}))
        if on_total_pages is not None:
            on_total_pages(paginator.total_pages or 1)
        upcoming = iter(paginator.remaining_pages())
        semaphore = asyncio.Semaphore(max(concurrency, 1))

        async def fetch(page: int) -> JSON:
            async with semaphore:
                return await self.get_json(path, {**query, paginator.page_param: page})

        ahead: deque[asyncio.Task[JSON]] = deque(
            asyncio.ensure_future(fetch(page)) for page in itertools.islice(upcoming, 2 * max(concurrency, 1)))
        try:
            yield first  # pages 2.. are already on their way
            while ahead:
                payload = await ahead.popleft()
                if (page := next(upcoming, None)) is not None:
                    ahead.append(asyncio.ensure_future(fetch(page)))
                yield paginator.update_state(payload)
        finally:
            for task in ahead:
                task.cancel()
            await asyncio.gather(*ahead, return_exceptions=True)

    async def get_all(self, path: str, params: Mapping[str, Any] | None = None, *, concurrency: int = 8) -> list[JSON]:
        """Every item of a paginated listing, in order."""
        items: list[JSON] = []
        async with aclosing(self.get_pages(path, params, concurrency=concurrency)) as pages:
            async for page in pages:
                items.extend(page)
        return items
