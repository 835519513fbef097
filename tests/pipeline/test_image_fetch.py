"""The guarded image download, as logic: addresses, pinning, redirects and byte counting, run through
`GuardedTransport` over an httpx MockTransport with a table of host names (no network). The same
rules against a real server on 127.0.0.1 are in tests/pipeline/apply/test_images.py."""

from __future__ import annotations

import gzip
from collections.abc import AsyncIterator

import httpx
import pytest

from pipeline.image_fetch import (
    MAX_REDIRECTS,
    AddressRefused,
    FetchRefused,
    GuardedTransport,
    ImagePolicy,
    address_problem,
    fetch_image,
    is_loopback_url,
    url_scheme,
)
from pipeline.modifier_types import IMAGE_MAX_BYTES
from tests.pipeline.image_server import CHUNK, PNG

pytestmark = pytest.mark.anyio
PUBLIC = "93.184.216.34"
NAMES = {
    "images.example": [PUBLIC],
    "cdn.example": ["2606:4700::6810:84e5", "104.16.132.229"],
    "mixed.example": [PUBLIC, "10.1.2.3"],  # one inner address is enough to refuse
    "inside.example": ["10.0.0.7"],
    "metadata.example": ["169.254.169.254"],
    "loop.example": ["127.0.0.1"],
}


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


async def names(host: str, port: int) -> list[str]:
    try:
        return NAMES[host]
    except KeyError:
        raise AddressRefused(f"the host {host!r} cannot be found") from None


class Web:
    """A fake web behind GuardedTransport: `routes` maps (address, path) to a response builder."""

    def __init__(self, policy: ImagePolicy = ImagePolicy()) -> None:
        self.requests: list[httpx.Request] = []
        self.routes: dict[tuple[str, str], httpx.Response] = {}
        self.transport = GuardedTransport(policy, inner=httpx.MockTransport(self.handle), resolve=names)

    def handle(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        route = self.routes.get((request.url.host, request.url.path))
        return route if route is not None else httpx.Response(404)

    def png(self, address: str, path: str = "/red.png") -> None:
        self.routes[(address, path)] = httpx.Response(200, content=PNG)

    def redirect(self, address: str, path: str, location: str, status: int = 302) -> None:
        self.routes[(address, path)] = httpx.Response(status, headers={"location": location})

    async def fetch(self, url: str):
        return await fetch_image(url, transport=self.transport)

    async def refused(self, url: str, *words: str) -> str:
        with pytest.raises(FetchRefused) as caught:
            await self.fetch(url)
        message = str(caught.value)
        assert all(w in message for w in words), message
        return message


# -- addresses and the policy -------------------------------------------------------------------------


@pytest.mark.parametrize("address, strict, sandbox", [
    (PUBLIC, None, None),
    ("2606:4700::1111", None, None),
    ("127.0.0.1", "loopback", None),
    ("127.8.9.10", "loopback", None),
    ("::1", "loopback", None),
    ("::ffff:127.0.0.1", "loopback", None),  # IPv4-mapped
    ("10.0.0.1", "private", "private"),
    ("172.16.5.4", "private", "private"),
    ("192.168.1.1", "private", "private"),
    ("100.64.0.1", "private", "private"),  # carrier-grade NAT
    ("fc00::1", "private", "private"),
    ("::ffff:10.0.0.1", "private", "private"),
    ("64:ff9b::a00:1", "private", "private"),  # NAT64 of 10.0.0.1
    ("2002:a00:1::", "private", "private"),  # 6to4 of 10.0.0.1
    ("169.254.169.254", "link-local", "link-local"),
    ("fe80::1%eth0", "link-local", "link-local"),
    ("224.0.0.251", "multicast", "multicast"),
    ("ff02::1", "multicast", "multicast"),
    ("240.0.0.1", "reserved", "reserved"),
    ("0.0.0.0", "unspecified", "unspecified"),
    ("::", "unspecified", "unspecified"),
])
def test_only_public_addresses_and_for_a_local_sandbox_loopback(address: str, strict: str | None,
                                                                 sandbox: str | None) -> None:
    for policy, expected in ((ImagePolicy(), strict), (ImagePolicy(allow_loopback=True), sandbox)):
        problem = address_problem(address, policy)
        assert (problem is None) if expected is None else (problem is not None and expected in problem), problem


def test_the_policy_follows_the_stores_url() -> None:
    assert ImagePolicy.for_stores("http://127.0.0.1:8765/stores/sandbox/v3").allow_loopback
    assert ImagePolicy.for_stores("http://localhost:8765").allow_loopback
    assert ImagePolicy.for_stores("http://[::1]:8765/stores/x/v3").allow_loopback
    assert ImagePolicy.for_stores("https://api.bigcommerce.com/stores/abc/v3", "http://127.0.0.1:9").allow_loopback
    assert not ImagePolicy.for_stores("https://api.bigcommerce.com/stores/abc/v3").allow_loopback
    assert not ImagePolicy.for_stores("http://10.0.0.5:8765/stores/x/v3", None).allow_loopback
    assert not ImagePolicy.for_stores().allow_loopback
    assert not is_loopback_url("http://127.0.0.1.example.com/")


@pytest.mark.parametrize("text, scheme", [
    ("https://a.example/x.png", "https"), ("HTTP://a.example", "http"), ("file:///etc/passwd", "file"),
    ("ftp://a.example/x.png", "ftp"), ("javascript:alert(1)", "javascript"), ("data:image/png;base64,AAAA", "data"),
    ("images/red.png", None), (r"C:\pictures\red.png", None), ("c:/pictures/red.png", None), ("red.png", None),
])
def test_url_scheme_tells_addresses_from_paths(text: str, scheme: str | None) -> None:
    assert url_scheme(text) == scheme


# -- the transport: resolve, check every address, connect to a checked one ---------------------------


async def test_the_request_goes_to_the_checked_address_under_the_hosts_name() -> None:
    web = Web()
    web.png(PUBLIC)
    image = await web.fetch("http://images.example/red.png")
    assert image.data == PNG and image.kind.extension == "png" and image.name == "red.png"
    [sent] = web.requests
    assert sent.url.host == PUBLIC and sent.headers["host"] == "images.example"
    assert "sni_hostname" not in sent.extensions
    assert "authorization" not in sent.headers and sent.headers["accept-encoding"] == "identity"


async def test_https_keeps_the_name_for_tls_and_ipv6_addresses_are_bracketed() -> None:
    web = Web()
    web.png("2606:4700::6810:84e5")
    await web.fetch("https://cdn.example/red.png")
    [sent] = web.requests
    assert str(sent.url) == "https://[2606:4700::6810:84e5]/red.png"
    assert sent.headers["host"] == "cdn.example" and sent.extensions["sni_hostname"] == "cdn.example"


async def test_when_the_first_address_does_not_answer_the_next_checked_one_is_tried() -> None:
    tried: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        tried.append(request.url.host)
        if request.url.host != PUBLIC:
            raise httpx.ConnectError("unreachable", request=request)
        return httpx.Response(200, content=PNG)

    async def two(host: str, port: int) -> list[str]:
        return ["8.8.4.4", PUBLIC]

    transport = GuardedTransport(ImagePolicy(), inner=httpx.MockTransport(handler), resolve=two)
    assert (await fetch_image("http://two.example/x.png", transport=transport)).data == PNG
    assert tried == ["8.8.4.4", PUBLIC]


@pytest.mark.parametrize("host, words", [
    ("inside.example", ("its host inside.example (10.0.0.7) is a private network address",)),
    ("metadata.example", ("169.254.169.254", "link-local")),
    ("mixed.example", ("10.1.2.3", "private")),
    ("loop.example", ("127.0.0.1", "loopback")),
    ("10.0.0.1", ("its host 10.0.0.1 is a private network address",)),
    ("[::1]", ("loopback",)),
    ("nowhere.example", ("cannot be found",)),
])
async def test_hosts_with_an_inner_address_are_refused_before_connecting(host: str, words: tuple[str, ...]) -> None:
    web = Web()
    await web.refused(f"http://{host}/red.png", *words)
    assert web.requests == []  # nothing was sent anywhere


async def test_a_local_sandbox_policy_allows_loopback_but_nothing_else_inner() -> None:
    web = Web(ImagePolicy(allow_loopback=True))
    web.png("127.0.0.1")
    assert (await web.fetch("http://loop.example/red.png")).data == PNG
    await web.refused("http://inside.example/red.png", "private")
    await web.refused("http://metadata.example/red.png", "link-local")


# -- redirects ---------------------------------------------------------------------------------------


async def test_up_to_three_redirects_are_followed_each_hop_checked() -> None:
    web = Web()
    web.redirect(PUBLIC, "/a", "/b", 301)
    web.redirect(PUBLIC, "/b", "https://cdn.example/c", 307)
    web.redirect("2606:4700::6810:84e5", "/c", "http://images.example/red.png", 308)
    web.png(PUBLIC)
    image = await web.fetch("http://images.example/a")
    assert image.url == "http://images.example/red.png" and image.name == "a"
    assert [(r.url.host, r.url.path) for r in web.requests] == [
        (PUBLIC, "/a"), (PUBLIC, "/b"), ("2606:4700::6810:84e5", "/c"), (PUBLIC, "/red.png")]
    assert MAX_REDIRECTS == 3


async def test_a_fourth_redirect_is_refused_without_following_it() -> None:
    web = Web()
    for hop in range(4):
        web.redirect(PUBLIC, f"/{hop}", f"/{hop + 1}")
    web.png(PUBLIC, "/4")
    await web.refused("http://images.example/0", "redirects more than 3 times", "'http://images.example/4'")
    assert [r.url.path for r in web.requests] == ["/0", "/1", "/2", "/3"]


@pytest.mark.parametrize("location, words", [
    ("http://127.0.0.1/red.png", ("redirected from", "127.0.0.1 is a loopback address")),
    ("http://169.254.169.254/latest/meta-data/", ("169.254.169.254 is a link-local address",)),
    ("http://10.0.0.1/red.png", ("10.0.0.1 is a private network address",)),
    ("http://[::ffff:10.0.0.1]/red.png", ("private network address",)),
    ("http://inside.example/red.png", ("inside.example (10.0.0.7)",)),
    ("ftp://images.example/red.png", ("is not an http(s) web address (ftp:)",)),
    ("file:///etc/passwd", ("is not an http(s) web address (file:)",)),
])
async def test_a_redirect_from_a_public_host_to_an_inner_one_is_refused(location: str,
                                                                        words: tuple[str, ...]) -> None:
    web = Web()
    web.redirect(PUBLIC, "/go", location)
    await web.refused("http://images.example/go", *words)
    assert [r.url.host for r in web.requests] == [PUBLIC]  # the inner address was never contacted


# -- the body ----------------------------------------------------------------------------------------


def streamed(sizes: list[int], counter: list[int]) -> AsyncIterator[bytes]:
    async def body() -> AsyncIterator[bytes]:
        yield PNG
        for size in sizes:
            counter[0] += size
            yield b"\0" * size
    return body()


async def test_a_body_without_length_is_counted_and_cut_off_at_the_cap() -> None:
    web = Web()
    pulled = [0]
    web.routes[(PUBLIC, "/endless")] = httpx.Response(200, content=streamed([CHUNK] * 10_000, pulled))
    await web.refused("http://images.example/endless", "larger than 8 MB", "stopped reading")
    assert IMAGE_MAX_BYTES - CHUNK <= pulled[0] <= IMAGE_MAX_BYTES + CHUNK  # stopped right after the cap


async def test_a_content_length_under_the_cap_is_not_believed() -> None:
    web = Web()
    pulled = [0]
    web.routes[(PUBLIC, "/liar")] = httpx.Response(200, headers={"content-length": "1000"},
                                                   content=streamed([CHUNK] * 200, pulled))
    await web.refused("http://images.example/liar", "larger than 8 MB")
    assert pulled[0] <= IMAGE_MAX_BYTES + CHUNK


async def test_a_content_length_over_the_cap_is_refused_before_reading() -> None:
    web = Web()
    pulled = [0]
    web.routes[(PUBLIC, "/big")] = httpx.Response(200, headers={"content-length": str(IMAGE_MAX_BYTES + 1)},
                                                  content=streamed([CHUNK] * 200, pulled))
    await web.refused("http://images.example/big", "is 8,388,609 bytes; BigCommerce takes at most 8 MB")
    assert pulled[0] == 0


@pytest.mark.parametrize("response, words", [
    (httpx.Response(200, content=b"<html>Sorry</html>", headers={"content-type": "image/png"}),
     ("is not a GIF, JPEG or PNG image",)),
    (httpx.Response(200, content=PNG[:-12]), ("incomplete PNG",)),
    (httpx.Response(200, content=b""), ("is empty",)),
    (httpx.Response(404), ("answered HTTP 404",)),
    (httpx.Response(302), ("answered HTTP 302",)),  # a redirect with nowhere to go
    (httpx.Response(200, content=gzip.compress(PNG), headers={"content-encoding": "gzip"}),
     ("came compressed (gzip)",)),
])
async def test_what_comes_back_must_be_a_whole_image(response: httpx.Response, words: tuple[str, ...]) -> None:
    web = Web()
    web.routes[(PUBLIC, "/x")] = response
    await web.refused("http://images.example/x", *words)


@pytest.mark.parametrize("url, words", [
    ("ftp://images.example/red.png", ("is not an http(s) web address (ftp:)",)),
    ("file:///etc/passwd", ("(file:)",)),
    ("javascript:alert(1)", ("(javascript:)",)),
    ("data:image/png;base64,iVBORw0KGgo=", ("(data:)",)),
    ("http:///red.png", ("no host",)),
])
async def test_only_http_and_https_addresses_are_fetched(url: str, words: tuple[str, ...]) -> None:
    web = Web()
    await web.refused(url, *words)
    assert web.requests == []
