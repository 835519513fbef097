"""BigCommerceClient against hand-made server responses (httpx.MockTransport fakes the server)."""

import asyncio
import io
import json
import logging
import pickle
from contextlib import aclosing

import httpx
import pytest

from pipeline.client import (
    AmbiguousWriteError,
    AuthError,
    BigCommerceClient,
    ConflictError,
    FatalError,
    LegacyOptionSetError,
    NetworkError,
    NotFoundError,
    PaginationError,
    RateGovernor,
    RetriesExhaustedError,
    RetryPolicy,
    ServerError,
    ValidationError,
    unwrap_data,
)
from pipeline.settings import Settings

TOKEN = "tok-LEAKCHECK-d41d8cd98f00"
BASE = "https://store.test/stores/abc/v3"
RATE = {"X-Rate-Limit-Requests-Left": "100", "X-Rate-Limit-Requests-Quota": "150",
        "X-Rate-Limit-Time-Reset-Ms": "20000", "X-Rate-Limit-Time-Window-Ms": "30000"}


class Server:
    """Answers requests from a script of responses (or exceptions), recording what it saw."""

    def __init__(self, *script):
        self.script = list(script)
        self.requests: list[httpx.Request] = []

    async def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        step = self.script.pop(0) if len(self.script) > 1 else self.script[0]
        if isinstance(step, type) and issubclass(step, Exception):
            raise step("boom", request=request)
        status, body, *extra = step if isinstance(step, tuple) else (step, {})
        return httpx.Response(status, json=body, headers={**RATE, **(extra[0] if extra else {})})

    def methods(self) -> list[str]:
        return [r.method for r in self.requests]


def make_client(handler, **kwargs) -> BigCommerceClient:
    kwargs.setdefault("retry", RetryPolicy(sleep=_no_sleep))
    settings = Settings(_env_file=None, api_url=BASE, access_token=TOKEN)
    return BigCommerceClient(settings, transport=httpx.MockTransport(handler), **kwargs)


async def _no_sleep(seconds: float) -> None:
    await asyncio.sleep(0)


@pytest.mark.anyio
@pytest.mark.parametrize("target", ["https://elsewhere.example/x", "//elsewhere.example/x", "HTTP://x.example/"])
async def test_a_full_url_is_refused_before_anything_is_sent(target):
    """The client speaks to its store's API only: that is what lets a plain-http client skip TLS set-up."""
    server = Server((200, {"data": {}}))
    async with make_client(server) as client:
        with pytest.raises(ValueError, match="paths under its store's API URL"):
            await client.request("GET", target)
        await client.get_json("/catalog/products", {"next": "https://x.example/"})  # a URL as a value is fine
    assert len(server.requests) == 1


@pytest.mark.anyio
async def test_an_https_store_is_verified_and_a_plain_http_one_loads_no_certificates():
    import ssl

    contexts = {}
    for url in (BASE, "http://127.0.0.1:9/stores/abc/v3"):
        async with BigCommerceClient(Settings(_env_file=None, api_url=url, access_token=TOKEN)) as client:
            context = client._http._transport._pool._ssl_context  # httpx's own default transport
            contexts[url.split(":")[0]] = (context.verify_mode, context.check_hostname,
                                           context.cert_store_stats()["x509_ca"] > 0)
    assert contexts == {"https": (ssl.CERT_REQUIRED, True, True), "http": (ssl.CERT_NONE, False, False)}


UNPROCESSABLE = {"status": 422, "title": "JSON data is missing or invalid", "type": "https://x",
                 "errors": {"display_name": "must not be empty", "config.text_max_length": "must be >= 0"}}


@pytest.mark.anyio
async def test_sends_the_token_and_accept_header_to_the_store_path():
    server = Server((200, {"data": {"id": 5}}))
    async with make_client(server) as client:
        payload = await client.get_json("/catalog/products/5", {"include": "modifiers"})
    request = server.requests[0]
    assert payload == {"data": {"id": 5}}
    assert str(request.url) == f"{BASE}/catalog/products/5?include=modifiers"
    assert request.headers["X-Auth-Token"] == TOKEN and request.headers["Accept"] == "application/json"


@pytest.mark.anyio
async def test_must_be_configured_and_opened():
    with pytest.raises(ValueError, match="BIGCOMMERCE_ACCESS_TOKEN"):
        BigCommerceClient(Settings(_env_file=None, store_hash="abc"))
    client = make_client(Server(200))
    with pytest.raises(RuntimeError, match="async with"):
        await client.get_json("/x")
    assert TOKEN not in repr(client)


@pytest.mark.anyio
@pytest.mark.parametrize("method", ["GET", "PUT", "DELETE"])
async def test_idempotent_requests_are_retried_through_5xx_and_drops(method):
    slept = []

    async def sleep(seconds):
        slept.append(seconds)

    server = Server(503, httpx.RemoteProtocolError, 500, httpx.ReadTimeout, (200, {"data": {}}))
    async with make_client(server, retry=RetryPolicy(sleep=sleep, random=lambda: 1.0)) as client:
        response = await client.request(method, "/catalog/products/1")
    assert response.status_code == 200
    assert server.methods() == [method] * 5
    assert slept == [0.5, 1.0, 2.0, 4.0]
    m = client.metrics
    assert (m.requests_sent, m.retries, m.server_errors, m.connection_drops) == (5, 4, 2, 2)


@pytest.mark.anyio
@pytest.mark.parametrize("failure", [500, 502, 503, 504, httpx.RemoteProtocolError, httpx.ReadError])
async def test_a_post_that_may_have_been_applied_is_ambiguous_and_sent_once(failure):
    server = Server(failure, (200, {"data": {"id": 9}}))
    async with make_client(server) as client:
        with pytest.raises(AmbiguousWriteError, match="natural key") as caught:
            await client.post_json("/catalog/products/1/modifiers", {"display_name": "Size"})
    assert server.methods() == ["POST"]
    assert caught.value.method == "POST" and "/catalog/products/1/modifiers" in str(caught.value)
    assert caught.value.last_error.retriable


@pytest.mark.anyio
async def test_a_post_the_caller_guards_is_retried():
    server = Server(httpx.RemoteProtocolError, 502, (200, {"data": {"id": 9}}))
    async with make_client(server) as client:
        created = await client.post_json("/catalog/products/1/modifiers", {"x": 1}, idempotent=True)
    assert created == {"id": 9} and server.methods() == ["POST"] * 3


@pytest.mark.anyio
@pytest.mark.parametrize("failure", [httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout])
async def test_a_post_that_never_left_is_retried(failure):
    server = Server(failure, (200, {"data": {"id": 9}}))
    async with make_client(server) as client:
        assert await client.post_json("/catalog/products/1/modifiers", {"x": 1}) == {"id": 9}
    assert client.metrics.connect_errors == 1 and client.metrics.retries == 1


@pytest.mark.anyio
async def test_429s_are_retried_after_the_governor_wait():
    throttled = (429, {"status": 429, "title": "Too many requests"},
                 {"X-Rate-Limit-Requests-Left": "0", "X-Rate-Limit-Time-Reset-Ms": "30"})
    bare = httpx.Response(429)
    responses = iter([throttled, "bare", (200, {"data": {"id": 1}})])

    async def handler(request):
        step = next(responses)
        if step == "bare":
            return bare
        return await Server(step)(request)

    governor = RateGovernor(margin_s=0, backoff_base_s=0.02)
    loop = asyncio.get_running_loop()
    start = loop.time()
    async with make_client(handler, governor=governor) as client:
        assert await client.post_json("/catalog/products/1/modifiers", {}) == {"id": 1}
    assert loop.time() - start >= 0.045  # 30 ms reset, then a 20 ms shared pause
    m = client.metrics
    assert (m.requests_sent, m.throttled, m.throttled_bare, m.retries) == (3, 1, 1, 2)
    assert m.governor_wait_s >= 0.045


@pytest.mark.anyio
async def test_gives_up_after_max_attempts_keeping_the_last_error():
    server = Server(503)
    async with make_client(server, retry=RetryPolicy(max_attempts=3, sleep=_no_sleep)) as client:
        with pytest.raises(RetriesExhaustedError) as caught:
            await client.get_json("/catalog/products")
    assert len(server.requests) == 3
    assert isinstance(caught.value.last_error, ServerError) and caught.value.attempts == 3
    assert caught.value.status == 503 and "gave up after 3 attempts" in str(caught.value)


@pytest.mark.anyio
async def test_a_store_that_keeps_throttling_is_bounded_too():
    async def server(request):
        return httpx.Response(429)  # platform load, no rate-limit headers

    governor = RateGovernor(backoff_base_s=0.001, backoff_cap_s=0.001)
    async with make_client(server, governor=governor, retry=RetryPolicy(max_throttled=4, sleep=_no_sleep)) as client:
        with pytest.raises(RetriesExhaustedError, match="gave up after 5 attempts"):
            await client.get_json("/catalog/products")


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("status", "body", "error_type"),
    [
        (400, {"title": "Bad request"}, FatalError),
        (401, {"title": "Unauthorized"}, AuthError),
        (403, {"title": "Forbidden"}, AuthError),
        (404, {"status": 404, "title": "The requested resource was not found."}, NotFoundError),
        (409, {"status": 409, "title": "Modifier name conflicts", "errors": {"display_name": "duplicate"}},
         ConflictError),
        (422, UNPROCESSABLE, ValidationError),
        (501, {"title": "Not implemented"}, FatalError),
        (505, {}, FatalError),
    ],
)
async def test_final_errors_are_raised_at_once_and_mapped(status, body, error_type):
    server = Server((status, body))
    async with make_client(server) as client:
        with pytest.raises(error_type) as caught:
            await client.put_json("/catalog/products/1/modifiers/2", {"display_name": ""})
    error = caught.value
    assert len(server.requests) == 1 and not error.retriable
    assert type(error) is error_type and error.status == status and error.method == "PUT"
    assert error.url == f"{BASE}/catalog/products/1/modifiers/2"


def test_error_messages_are_one_readable_line():
    request = httpx.Request("PUT", f"{BASE}/catalog/products/1/modifiers/2?x=1")
    from pipeline.client import error_from_response

    error = error_from_response(httpx.Response(422, json=UNPROCESSABLE, request=request))
    assert str(error) == (
        "PUT /stores/abc/v3/catalog/products/1/modifiers/2?x=1 -> 422: JSON data is missing or invalid "
        "(display_name: must not be empty; config.text_max_length: must be >= 0)")
    assert error.errors == UNPROCESSABLE["errors"]
    html = error_from_response(httpx.Response(502, text="<html>\nbad gateway</html>", request=request))
    assert isinstance(html, ServerError) and str(html).endswith("-> 502: Bad Gateway")
    restored = pickle.loads(pickle.dumps(error))
    assert type(restored) is ValidationError and str(restored) == str(error) and restored.errors == error.errors


@pytest.mark.anyio
async def test_a_legacy_option_set_is_named_plainly():
    body = {"status": 422, "title": "The product has an option set assigned; its options cannot be modified.",
            "type": "https://x"}
    async with make_client(Server((422, body))) as client:
        with pytest.raises(LegacyOptionSetError, match="legacy \\(V2\\) option set.*control panel"):
            await client.post_json("/catalog/products/1/modifiers", {})


@pytest.mark.anyio
async def test_the_token_never_leaks_into_errors_or_logs(caplog):
    caplog.set_level(logging.DEBUG)  # every logger, httpx's included

    async def handler(request):
        if request.method == "POST":  # a transport error whose message echoes the token
            raise httpx.RemoteProtocolError(f"illegal header value {TOKEN}", request=request)
        return httpx.Response(422, json={**UNPROCESSABLE, "title": "bad"}, request=request)

    errors = []
    async with make_client(handler) as client:
        for call in (client.get_json("/catalog/products"), client.post_json("/catalog/products/1/modifiers", {})):
            with pytest.raises(FatalError) as caught:
                await call
            errors.append(caught.value)
    assert caplog.records, "the client logs its requests"
    for error in errors:
        for text in (str(error), repr(error), repr(error.args), repr(vars(error)), pickle.dumps(error).hex()):
            assert TOKEN not in text and TOKEN.encode().hex() not in text
        assert error.__cause__ is None and error.__context__ is None
    assert isinstance(errors[1].last_error, NetworkError) and "[redacted]" in str(errors[1])
    for record in caplog.records:
        assert TOKEN not in record.getMessage()


def test_unwrap_data_handles_every_envelope():
    assert unwrap_data({"data": {"id": 1}, "meta": {}}) == {"id": 1}
    assert unwrap_data({"data": {"items": [{"id": 2}]}}) == {"id": 2}
    assert unwrap_data({"data": {"items": [{"id": 2}, {"id": 3}]}}) == [{"id": 2}, {"id": 3}]
    assert unwrap_data({"data": [{"id": 4}]}) == {"id": 4}  # the list form of the docs' create examples
    assert unwrap_data({"data": [{"id": 4}, {"id": 5}]}) == [{"id": 4}, {"id": 5}]
    assert unwrap_data({"id": 4}) == {"id": 4}
    assert unwrap_data([1]) == [1]


@pytest.mark.anyio
async def test_writes_unwrap_and_delete_accepts_204():
    server = Server((200, {"data": {"items": [{"id": 7}]}}), (200, {"data": {"id": 7, "x": 2}}), 204)
    async with make_client(server) as client:
        assert await client.post_json("/m", {"x": 1}) == {"id": 7}
        assert await client.put_json("/m/7", {"x": 2}) == {"id": 7, "x": 2}
        assert await client.delete("/m/7") is None
    assert [json.loads(r.content or b"null") for r in server.requests] == [{"x": 1}, {"x": 2}, None]


@pytest.mark.anyio
async def test_delete_treats_404_as_done_only_when_it_may_have_deleted_already():
    async with make_client(Server(httpx.RemoteProtocolError, (404, {"title": "gone"}))) as client:
        await client.delete("/m/7")  # the dropped first attempt did the delete
    async with make_client(Server((404, {"title": "gone"}))) as client:
        with pytest.raises(NotFoundError):
            await client.delete("/m/7")
        await client.delete("/m/7", missing_ok=True)


@pytest.mark.anyio
async def test_a_retried_upload_sends_the_same_file_again():
    server = Server(httpx.ConnectError, (200, {"data": {"image_url": "u"}}))
    async with make_client(server) as client:
        png = io.BytesIO(b"\x89PNG-bytes")
        png.name = "/tmp/swatch.png"
        await client.request("POST", "/values/3/image", files={"image_file": png})
    bodies = [r.content for r in server.requests]
    assert len(bodies) == 2 and b"\x89PNG-bytes" in bodies[1] and b'filename="swatch.png"' in bodies[1]


class PagedStore:
    """A listing of `total` items paged like BigCommerce, with optional lies and latency."""

    def __init__(self, total, *, cap=None, lie=None, latency=0.0):
        self.items = [{"id": 100 + i} for i in range(total)]
        self.cap, self.lie, self.latency = cap, lie, latency
        self.pages_served: list[int] = []
        self.in_flight = self.max_in_flight = 0

    async def __call__(self, request: httpx.Request) -> httpx.Response:
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            await asyncio.sleep(self.latency)
            page = int(request.url.params.get("page", 1))
            limit = int(request.url.params.get("limit", 50))
            per_page = min(limit, self.cap or limit)
            self.pages_served.append(page)
            served = 2 if self.lie == "repeat" and page == 3 else page  # page 3 answers with page 2's items
            data = self.items[(served - 1) * per_page: served * per_page]
            meta = {"pagination": {"total": len(self.items), "count": len(data), "per_page": per_page,
                                   "current_page": page, "total_pages": -(-len(self.items) // per_page)}}
            return httpx.Response(200, json={"data": data, "meta": meta}, headers=RATE)
        finally:
            self.in_flight -= 1


@pytest.mark.anyio
async def test_get_pages_fetches_concurrently_and_yields_in_order():
    store = PagedStore(95, cap=10, latency=0.005)
    heard = []
    async with make_client(store) as client:
        pages = [page async for page in client.get_pages("/catalog/products", {"include": "modifiers"},
                                                         concurrency=4, on_total_pages=heard.append)]
    assert heard == [10]
    assert [len(p) for p in pages] == [10] * 9 + [5]
    assert [item["id"] for p in pages for item in p] == list(range(100, 195))
    assert sorted(store.pages_served) == list(range(1, 11)) and store.pages_served[0] == 1
    assert store.max_in_flight == 4


@pytest.mark.anyio
async def test_get_all_defaults_to_the_largest_page():
    store = PagedStore(600)
    async with make_client(store) as client:
        items = await client.get_all("/catalog/products")
    assert len(items) == 600 and sorted(store.pages_served) == [1, 2, 3]


@pytest.mark.anyio
async def test_a_repeated_page_stops_the_listing_and_cancels_the_fetches_ahead():
    store = PagedStore(200, cap=10, lie="repeat")
    async with make_client(store) as client:
        with pytest.raises(PaginationError, match="page 3: repeats page 2"):
            await client.get_all("/catalog/products", concurrency=2)
        await asyncio.sleep(0.01)
    assert store.in_flight == 0 and len(store.pages_served) < 20


@pytest.mark.anyio
async def test_leaving_after_the_first_page_cancels_the_fetches_ahead():
    store = PagedStore(200, cap=10, latency=0.01)
    async with make_client(store) as client:
        async with aclosing(client.get_pages("/catalog/products", concurrency=4)) as pages:
            async for _ in pages:
                break
        await asyncio.sleep(0.02)
    assert store.in_flight == 0 and len(store.pages_served) <= 1 + 4


@pytest.mark.anyio
async def test_a_failing_page_surfaces_its_error():
    async def handler(request):
        if request.url.params["page"] == "2":
            return httpx.Response(404, json={"title": "not found"}, headers=RATE)
        return await PagedStore(30, cap=10)(request)

    async with make_client(handler) as client:
        with pytest.raises(NotFoundError, match="page=2"):
            await client.get_all("/catalog/products")
