"""Download a value image from a web address without letting the address reach where it should not.

An `image_url` cell (or a migration's source image) is an address anyone could have typed, and
bcmod fetches it from the machine it runs on, which may see an office network or a cloud
metadata service. So a download:

- speaks http or https only, on every hop; redirects are followed by hand, at most 3, each new
  address checked like the first;
- resolves the host itself (getaddrinfo), refuses it if *any* address is loopback, private,
  link-local, multicast, reserved or unspecified, and connects to an address it checked (the URL
  is pinned to that IP, the Host header and TLS server name stay the host's), so a DNS answer
  that changes between the check and the connect cannot swap in an inner address;
- reads at most 8 MB + 1 byte, counted as the bytes arrive (a Content-Length over the limit is
  refused early, one under it is not believed), uncompressed, within a total time limit;
- keeps only a real GIF, JPEG or PNG (`pipeline.image_kinds`).

The one exception is a local sandbox: a store whose API is on a loopback address serves its own
images there, so `ImagePolicy.for_stores` allows loopback hosts (never the other kinds) when a
store involved is loopback. The sandbox renders its image URLs on a fixed origin whatever port it
serves on (stable like a CDN's), so a sandbox image (`/_sandbox/images/...`) on a loopback host
is downloaded from that store's own address. No proxy from the environment is used (it would resolve the host
itself, out of reach of the checks), and the store's token is never sent (the download has its
own client).
"""

from __future__ import annotations

import ipaddress
import re
import socket
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import Final
from urllib.parse import urljoin, urlsplit

import anyio
import httpx

from pipeline.image_kinds import ImageKind, image_kind, image_problem
from pipeline.modifier_types import IMAGE_MAX_BYTES

MAX_REDIRECTS: Final = 3
REDIRECT_STATUSES: Final = frozenset({301, 302, 303, 307, 308})
TIMEOUT: Final = httpx.Timeout(20.0, connect=10.0)  # per connect / read / write
DEADLINE_S: Final = 120.0  # the whole download, all hops: a server trickling bytes cannot hold an apply
HEADERS: Final = {"Accept": "image/gif, image/jpeg, image/png", "Accept-Encoding": "identity",
                  "User-Agent": "bcmod-image-fetch"}

Resolver = Callable[[str, int], Awaitable[list[str]]]
IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
_NAT64: Final = ipaddress.IPv6Network("64:ff9b::/96")
SANDBOX_IMAGE_PATH: Final = "/_sandbox/images/"  # pipeline.sandbox.images.URL_PREFIX, not imported here
_SCHEME: Final = re.compile(r"([a-zA-Z][a-zA-Z0-9+.\-]*):")


class FetchRefused(Exception):
    """A download refused or failed; the message is a clause naming the address and the reason."""


class AddressRefused(FetchRefused):
    """The host cannot be reached under the policy (or at all); raised before any connection."""


@dataclass(frozen=True)
class ImagePolicy:
    """Which hosts an image may come from: public ones always, loopback only for a local sandbox.

    `sandbox_origin` (`http://127.0.0.1:PORT`) is where a local sandbox store actually serves: its
    image URLs name a fixed origin instead of its port, and are fetched from here."""

    allow_loopback: bool = False
    sandbox_origin: str | None = None

    @classmethod
    def for_stores(cls, *api_urls: str | None) -> ImagePolicy:
        """The policy for a run against these stores: loopback hosts are allowed when one of the
        stores is itself on a loopback address (the embedded sandbox serves its images there), and
        sandbox images go to the first such store."""
        local = [url for url in api_urls if url and is_loopback_url(url)]
        if not local:
            return cls()
        parts = urlsplit(local[0].strip())
        return cls(allow_loopback=True, sandbox_origin=f"{parts.scheme}://{parts.netloc}")

    def served_url(self, url: httpx.URL) -> httpx.URL:
        """Where to fetch `url`: a sandbox image on a loopback host goes to `sandbox_origin`."""
        if (self.sandbox_origin is None or not url.path.startswith(SANDBOX_IMAGE_PATH)
                or not is_loopback_url(str(url))):
            return url
        served = httpx.URL(self.sandbox_origin)
        return url.copy_with(scheme=served.scheme, host=served.host, port=served.port)


def is_loopback_url(url: str) -> bool:
    """Whether `url`'s host is `localhost` or a loopback IP (by its text; nothing is resolved)."""
    host = (urlsplit(url.strip()).hostname or "").rstrip(".").lower()
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return _unwrapped(ipaddress.ip_address(host)).is_loopback
    except ValueError:
        return False


def _unwrapped(ip: IPAddress) -> IPAddress:
    """The IPv4 address an IPv6 address carries (mapped, 6to4, NAT64), else the address itself."""
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return ip.ipv4_mapped
        if ip.sixtofour is not None:
            return ip.sixtofour
        if ip in _NAT64:
            return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    return ip


def address_problem(address: str, policy: ImagePolicy) -> str | None:
    """Why an image may not be fetched from `address` (e.g. "a private network address"), or None."""
    try:
        ip = _unwrapped(ipaddress.ip_address(address.split("%", 1)[0]))  # no IPv6 zone
    except ValueError:
        return "not an IP address"
    if ip.is_loopback:
        return None if policy.allow_loopback else "a loopback address (this computer)"
    for problem, found in (("an unspecified address", ip.is_unspecified),
                           ("a link-local address (such as a cloud metadata service)", ip.is_link_local),
                           ("a multicast address", ip.is_multicast),
                           ("a reserved address", ip.is_reserved),
                           ("a private network address", ip.is_private or not ip.is_global)):
        if found:
            return problem
    return None


async def resolve_host(host: str, port: int) -> list[str]:
    """Every address `host` resolves to (getaddrinfo, TCP), in the resolver's order."""
    try:
        infos = await anyio.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise AddressRefused(f"the host {host!r} cannot be found ({getattr(exc, 'strerror', None) or exc})") from None
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


class GuardedTransport(httpx.AsyncBaseTransport):
    """An httpx transport that checks every address of a request's host against `policy` and
    connects to a checked one (the URL pinned to the IP; Host header and TLS server name kept).

    `inner` (the real network by default) and `resolve` (getaddrinfo by default) can be replaced
    in tests, e.g. a MockTransport and a table of names, to run the checks without a network.
    """

    def __init__(self, policy: ImagePolicy | None = None, *, inner: httpx.AsyncBaseTransport | None = None,
                 resolve: Resolver | None = None) -> None:
        self.policy = policy or ImagePolicy()
        # no connection is kept for reuse: the pool knows a connection by IP and port only, so a kept
        # TLS connection made for one host name could otherwise carry a request for another name
        self._inner = inner or httpx.AsyncHTTPTransport(retries=0, limits=httpx.Limits(max_keepalive_connections=0))
        self._resolve = resolve or resolve_host

    async def checked_addresses(self, host: str, port: int) -> list[str]:
        """The addresses of `host`, all allowed, or `FetchRefused` naming the first that is not."""
        try:
            addresses = [str(ipaddress.ip_address(host))]
        except ValueError:
            addresses = await self._resolve(host, port)
        if not addresses:
            raise AddressRefused(f"the host {host!r} has no address")
        for address in addresses:
            if problem := address_problem(address, self.policy):
                shown = host if address == host else f"{host} ({address})"
                raise AddressRefused(f"its host {shown} is {problem}; bcmod downloads images only from public "
                                   "web hosts")
        return addresses

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        url = self.policy.served_url(request.url)
        host = url.raw_host.decode("ascii")  # IDNA form, as resolved and as the TLS name
        port = url.port or (443 if url.scheme == "https" else 80)
        extensions = dict(request.extensions)
        if url.scheme == "https":
            extensions["sni_hostname"] = host  # the certificate is checked against the name, not the IP
        failure: httpx.TransportError | None = None
        for address in await self.checked_addresses(host, port):
            pinned = httpx.Request(request.method, url.copy_with(host=address), headers=request.headers,
                                   stream=request.stream, extensions=extensions)
            try:
                return await self._inner.handle_async_request(pinned)
            except (httpx.ConnectError, httpx.ConnectTimeout) as exc:
                failure = exc  # the next checked address, as a browser would
        assert failure is not None
        raise failure

    async def aclose(self) -> None:
        await self._inner.aclose()


@dataclass(frozen=True)
class FetchedImage:
    """A downloaded, checked image; `name` is the file name its address gives (may be empty)."""

    data: bytes
    kind: ImageKind
    url: str  # after redirects
    name: str


def url_scheme(text: str) -> str | None:
    """The scheme `text` starts with (`https`, `file`, `data`...), lower-cased, or None for a path.

    A single letter before the colon is a Windows drive (`C:\\pics\\red.png`), not a scheme."""
    match = _SCHEME.match(text.strip())
    return match.group(1).lower() if match and len(match.group(1)) > 1 else None


def web_address_problem(url: str) -> str | None:
    """Why `url` is not an address bcmod downloads from (scheme other than http/https, no host)."""
    parts = urlsplit(url)
    if parts.scheme.lower() not in ("http", "https"):
        scheme = f"{parts.scheme}:" if parts.scheme else "no scheme"
        return f"is not an http(s) web address ({scheme}); bcmod downloads images over http and https only"
    if not parts.hostname:
        return "is not a complete web address (no host)"
    return None


async def fetch_image(url: str, *, policy: ImagePolicy | None = None,
                      transport: httpx.AsyncBaseTransport | None = None) -> FetchedImage:
    """Download the image at `url` under `policy` (public hosts only by default); `FetchRefused`
    with the reason otherwise.

    `transport` replaces the network as given (tests, an in-process sandbox: its addresses are its
    own, so the policy does not apply to them; wrap it in `GuardedTransport` to keep the address
    checks); by default a `GuardedTransport(policy)` is opened and closed here.
    """
    original = url.strip()
    owned = transport is None
    client = httpx.AsyncClient(transport=transport or GuardedTransport(policy), timeout=TIMEOUT,
                               follow_redirects=False, trust_env=False, headers=HEADERS)
    try:
        with anyio.fail_after(DEADLINE_S):
            data, final = await _follow(client, original)
    except TimeoutError:
        raise FetchRefused(f"the image at {original!r} took longer than {DEADLINE_S:.0f} s to download") from None
    except httpx.TimeoutException as exc:
        raise FetchRefused(f"the image at {original!r} timed out ({type(exc).__name__})") from None
    except httpx.HTTPError as exc:
        raise FetchRefused(f"the image {original!r} could not be downloaded ({type(exc).__name__}: {exc})") from None
    finally:
        if owned:
            await client.aclose()
    if problem := image_problem(data):
        raise FetchRefused(f"the image at {original!r} {problem}")
    kind = image_kind(data)
    assert kind is not None  # image_problem said it is one
    name = PurePosixPath(urlsplit(original).path).name or PurePosixPath(urlsplit(final).path).name
    return FetchedImage(data, kind, final, name)


async def _follow(client: httpx.AsyncClient, original: str) -> tuple[bytes, str]:
    """The body at `original` after at most MAX_REDIRECTS redirects, each checked, and its URL."""
    url = original
    for hop in range(MAX_REDIRECTS + 1):
        reached = f"{url!r} (redirected from {original!r})" if hop else repr(url)
        if problem := web_address_problem(url):
            raise FetchRefused(f"the image at {reached} {problem}" if hop else f"{url!r} {problem}")
        try:
            async with client.stream("GET", url) as response:
                if response.status_code in REDIRECT_STATUSES and "location" in response.headers:
                    url = urljoin(url, response.headers["location"].strip())
                    continue
                return await _body(response, reached), url
        except AddressRefused as exc:  # from the transport, before connecting
            raise FetchRefused(f"the image at {reached}: {exc}") from None
    raise FetchRefused(f"the image at {original!r} redirects more than {MAX_REDIRECTS} times "
                       f"(the last hop asked for {url!r}); link the image itself")


async def _body(response: httpx.Response, reached: str) -> bytes:
    if response.status_code != 200:
        raise FetchRefused(f"downloading the image at {reached} answered HTTP {response.status_code}")
    encoding = response.headers.get("content-encoding", "identity").strip().lower()
    if encoding not in ("", "identity"):
        raise FetchRefused(f"the image at {reached} came compressed ({encoding}) although bcmod asked for it "
                           "as is")
    declared = response.headers.get("content-length", "").strip()
    if declared.isdigit() and int(declared) > IMAGE_MAX_BYTES:
        raise FetchRefused(f"the image at {reached} is {int(declared):,} bytes; BigCommerce takes at most 8 MB "
                           f"({IMAGE_MAX_BYTES:,} bytes)")
    body = bytearray()
    async for chunk in response.aiter_bytes():  # counted as read (identity: as sent); a Content-Length is a claim
        body += chunk
        if len(body) > IMAGE_MAX_BYTES:
            raise FetchRefused(f"the image at {reached} is larger than 8 MB ({IMAGE_MAX_BYTES:,} bytes), "
                               "BigCommerce's limit (stopped reading there)")
    return bytes(body)

