"""`bcmod doctor`: does this store behave the way bcmod relies on? Read-only, a page or so each.

Before a catalog manager exports and edits a real store, a few facts about it decide whether the
round trip is safe: the token works, the rate-limit headers the governor steers by are there,
`include=modifiers` embeds modifiers 10 products a page, `include_fields` keeps them (or, applied
literally, drops them: the export then asks again without it), dates and `value_data` have the
shapes the spec documents, and the host serving value images answers. Each check reads what the
export itself reads, so a pass means the export's own requests work.

Cost: two `GET /catalog/products` pages (the export's page without and with `include_fields`) and
one HEAD of an image URL the store returned (a GET only if HEAD is refused). Never a write: the
only methods sent are GET and HEAD. The image request goes through its own client without the
store's token, since the image host is not the API.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final, Literal

import httpx

from pipeline.client import AuthError, BigCommerceClient, BigCommerceError, RateLimitHeaders
from pipeline.extract import PAGE_SIZE, PRODUCT_FIELDS, PRODUCTS_PATH, ExtractSession, lacks_modifiers
from pipeline.modifier_types import MODIFIER_TYPES, FieldKind
from pipeline.settings import Settings

Status = Literal["pass", "fail", "skip"]
# PHP's DATE_ATOM (2027-04-01T00:00:00+00:00), as the spec's examples show dates
ATOM: Final = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}[+-]\d{2}:\d{2}")
DATE_FIELDS: Final = tuple(f.name for f in MODIFIER_TYPES["date"].config_fields if f.kind is FieldKind.DATE)
IMAGE_TIMEOUT: Final = httpx.Timeout(15.0, connect=10.0)
IMAGE_MAX_REDIRECTS: Final = 3
TOKEN_REFUSED: Final = ("the store refused the access token (HTTP {status}): check BIGCOMMERCE_ACCESS_TOKEN "
                        "and that it has the Products scope")

CHECK_NAMES: Final = ("token", "rate limit", "include=modifiers", "include_fields", "date config", "value_data",
                      "image host")


@dataclass(frozen=True)
class Check:
    """One line of the report: what was checked, pass/fail/skip, a sentence, and figures for --json."""

    name: str
    status: Status
    detail: str
    data: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {"name": self.name, "status": self.status, "detail": self.detail, "data": self.data}


@dataclass(frozen=True)
class DoctorReport:
    """Every check in `CHECK_NAMES` order, and the requests they cost (API pages and image requests)."""

    store: str
    sandbox: bool
    checks: list[Check]
    api_requests: int
    image_requests: int

    @property
    def ok(self) -> bool:
        """True when nothing failed (a skipped check had nothing to look at)."""
        return all(check.status != "fail" for check in self.checks)

    @property
    def token_refused(self) -> bool:
        return bool(self.checks) and self.checks[0].data.get("refused") is True

    def as_dict(self) -> dict[str, Any]:
        return {"store": self.store, "sandbox": self.sandbox, "ok": self.ok,
                "requests": {"api": self.api_requests, "image": self.image_requests},
                "checks": [check.as_dict() for check in self.checks]}


def _items(body: Any) -> list[dict[str, Any]] | None:
    """The products of a listing body, or None when it is not one."""
    data = body.get("data") if isinstance(body, Mapping) else None
    return [p for p in data if isinstance(p, dict)] if isinstance(data, list) else None


def _modifiers(products: Iterable[Mapping[str, Any]]) -> Iterable[Mapping[str, Any]]:
    for product in products:
        for modifier in product.get("modifiers") or ():
            if isinstance(modifier, Mapping):
                yield modifier


def _values(products: Iterable[Mapping[str, Any]]) -> Iterable[Mapping[str, Any]]:
    for modifier in _modifiers(products):
        for value in modifier.get("option_values") or ():
            if isinstance(value, Mapping):
                yield value


def _plural(n: int, word: str) -> str:
    return f"{n:,} {word}{'' if n == 1 else 's'}"


# -- the checks, on what one response showed ---------------------------------------------------------

def check_rate_limit(headers: Mapping[str, str]) -> Check:
    """The four `X-Rate-Limit-*` headers the governor paces by, and the quota they state."""
    parsed = RateLimitHeaders.parse(headers)
    if parsed is None:
        return Check("rate limit", "fail", "no X-Rate-Limit-Requests-Left / -Time-Reset-Ms headers: bcmod cannot "
                     "pace itself and will meet 429s (a proxy in between may strip them)")
    data = {"quota": parsed.quota, "window_s": parsed.window_s, "left": parsed.left, "reset_s": parsed.reset_s}
    if parsed.quota is None or parsed.window_s is None:
        return Check("rate limit", "fail", f"{parsed.left:,} requests left, but no -Requests-Quota or "
                     "-Time-Window-Ms header states the quota", data)
    return Check("rate limit", "pass", f"quota {parsed.quota:,} requests per {parsed.window_s:g} s window "
                 f"({parsed.left:,} left, window resets in {parsed.reset_s:.1f} s)", data)


def check_embedded(body: Any) -> Check:
    """`include=modifiers&limit=10`: every product carries its modifiers, 10 products a page."""
    products = _items(body)
    if products is None:
        return Check("include=modifiers", "fail", "the products listing has no `data` list")
    pagination = (body.get("meta") or {}).get("pagination") or {}
    data = {"products": len(products), "per_page": pagination.get("per_page"),
            "total_pages": pagination.get("total_pages"), "modifiers": sum(1 for _ in _modifiers(products)),
            "values": sum(1 for _ in _values(products))}
    if not products:
        return Check("include=modifiers", "skip", "the store has no products to look at", data)
    if lacks_modifiers(products):
        return Check("include=modifiers", "fail", "products came back without `modifiers`: the store does not "
                     "embed them, so the export cannot read them", data)
    if len(products) > PAGE_SIZE or data["per_page"] not in (None, PAGE_SIZE):
        return Check("include=modifiers", "fail", f"asked {PAGE_SIZE} a page, got {len(products)} products and "
                     f"per_page {data['per_page']}: the pagination the export relies on differs", data)
    return Check("include=modifiers", "pass", f"{PAGE_SIZE} a page, modifiers embedded ("
                 f"{_plural(data['modifiers'], 'modifier')}, {_plural(data['values'], 'value')} on page 1 of "
                 f"{data['total_pages'] or '?'})", data)


def _modifier_ids(products: Sequence[Mapping[str, Any]]) -> dict[Any, list[Any]]:
    return {p.get("id"): sorted(m.get("id") for m in p.get("modifiers") or () if isinstance(m, Mapping))
            for p in products}


def check_include_fields(whole: Sequence[Mapping[str, Any]] | None, body: Any,
                         error: BigCommerceError | None) -> Check:
    """The export's own `include_fields` page against the same page without it (`whole`)."""
    fields = ",".join(PRODUCT_FIELDS)
    if error is not None:
        return Check("include_fields", "fail", f"the store refused include_fields={fields}: {error}")
    trimmed = _items(body)
    if trimmed is None:
        return Check("include_fields", "fail", "the products listing has no `data` list")
    if not trimmed or not whole:
        return Check("include_fields", "skip", "the store has no products to look at")
    if lacks_modifiers(whole):
        return Check("include_fields", "skip", "not checked: the store does not embed modifiers at all")
    if lacks_modifiers(trimmed):
        return Check("include_fields", "pass", f"literal: only id and {fields} come back, the embedded modifiers "
                     "are dropped; bcmod export notices and asks again without include_fields (one extra "
                     "request a run)", {"mode": "literal"})
    got = _modifier_ids(trimmed)
    lost = {pid: ids for pid, ids in _modifier_ids(whole).items() if pid in got and got[pid] != ids}
    if lost:
        return Check("include_fields", "fail", f"with include_fields the store returns other modifiers for "
                     f"{_plural(len(lost), 'product')} (e.g. product {next(iter(lost))}) than without: an export "
                     "would lose them", {"mode": "changed", "products": sorted(lost, key=str)})
    allowed = {"id", "modifiers", *PRODUCT_FIELDS}
    extra = sorted({key for product in trimmed for key in product} - allowed)
    if extra:
        return Check("include_fields", "pass", f"ignored: whole products come back with their modifiers "
                     f"(e.g. {', '.join(extra[:3])}); the export works, with larger pages",
                     {"mode": "ignored"})
    return Check("include_fields", "pass", f"trims products to id,{fields} and keeps their modifiers "
                 "(one request a page, as the export expects)", {"mode": "trims"})


def check_dates(products: Sequence[Mapping[str, Any]]) -> Check:
    """Date modifiers' config dates are ISO-8601 ATOM (`2027-04-01T00:00:00+00:00`)."""
    dates = [(m.get("id"), name, (m.get("config") or {}).get(name))
             for m in _modifiers(products) if m.get("type") == "date" and isinstance(m.get("config"), Mapping)
             for name in DATE_FIELDS]
    seen = [(mid, name, value) for mid, name, value in dates if value not in (None, "")]
    modifiers = len({mid for mid, _, _ in dates})
    data = {"date_modifiers": modifiers, "dates": len(seen)}
    if not seen:
        return Check("date config", "skip", "no date modifier with dates on page 1", data)
    wrong = [(mid, name, value) for mid, name, value in seen
             if not (isinstance(value, str) and ATOM.fullmatch(value))]
    if wrong:
        mid, name, value = wrong[0]
        return Check("date config", "fail", f"{_plural(len(wrong), 'date')} not ISO-8601 ATOM, e.g. modifier {mid} "
                     f"{name} = {value!r}", {**data, "not_atom": len(wrong)})
    return Check("date config", "pass", f"{_plural(len(seen), 'date')} of {_plural(modifiers, 'date modifier')}, "
                 f"all ATOM (e.g. {seen[0][2]})", data)


def check_value_data(products: Sequence[Mapping[str, Any]]) -> Check:
    """Every option value's `value_data` is an object, null or absent (the spec shows all three)."""
    shapes = {"object": 0, "null": 0, "absent": 0, "other": 0}
    example = None
    for value in _values(products):
        if "value_data" not in value:
            shapes["absent"] += 1
        elif value["value_data"] is None:
            shapes["null"] += 1
        elif isinstance(value["value_data"], Mapping):
            shapes["object"] += 1
        else:
            shapes["other"] += 1
            example = example or (value.get("id"), value["value_data"])
    total = sum(shapes.values())
    if not total:
        return Check("value_data", "skip", "no option value on page 1", shapes)
    seen = ", ".join(f"{n} {shape}" for shape, n in shapes.items() if n and shape != "other")
    if example is not None:
        return Check("value_data", "fail", f"{_plural(shapes['other'], 'value')} with a value_data that is neither "
                     f"an object nor null, e.g. value {example[0]}: {example[1]!r}", shapes)
    return Check("value_data", "pass", f"{_plural(total, 'value')}: {seen}", shapes)


def image_urls(products: Sequence[Mapping[str, Any]]) -> list[str]:
    """Value image URLs the store returned (adjusters.image_url, then swatch patterns), in page order."""
    urls: list[str] = []
    for value in _values(products):
        adjusters, value_data = value.get("adjusters"), value.get("value_data")
        for url in ((adjusters or {}).get("image_url") if isinstance(adjusters, Mapping) else None,
                    (value_data or {}).get("image_url") if isinstance(value_data, Mapping) else None):
            if isinstance(url, str) and url:
                urls.append(url)
    return urls


async def check_image_host(urls: Sequence[str], transport: httpx.AsyncBaseTransport | None = None
                           ) -> tuple[Check, int]:
    """HEAD the first image URL (GET if HEAD is refused), without the store's token; (check, requests sent)."""
    if not urls:
        return Check("image host", "skip", "no value image on page 1 to fetch"), 0
    url = httpx.URL(urls[0])
    data: dict[str, Any] = {"host": url.host, "url": str(url)}
    if url.scheme not in ("http", "https"):
        return Check("image host", "fail", f"image URL is not http(s): {url.scheme}:", data), 0
    sent = 0
    async with httpx.AsyncClient(transport=transport, follow_redirects=True, max_redirects=IMAGE_MAX_REDIRECTS,
                                 timeout=IMAGE_TIMEOUT) as http:
        try:
            response = await http.head(url)
            sent += 1 + len(response.history)
            if response.status_code in (405, 501):  # some hosts refuse HEAD: read the headers of a GET
                async with http.stream("GET", url) as response:
                    sent += 1 + len(response.history)
        except httpx.HTTPError as exc:
            sent += 1
            return Check("image host", "fail", f"{url.host} did not answer: {type(exc).__name__}", data), sent
    data |= {"status": response.status_code, "content_type": response.headers.get("content-type")}
    if response.status_code >= 400:
        return Check("image host", "fail", f"{url.host} answered {response.status_code} for an image URL the "
                     "store returned", data), sent
    kind = f", {data['content_type']}" if data["content_type"] else ""
    return Check("image host", "pass", f"{url.host} answered {response.status_code}{kind}", data), sent


# -- the run -----------------------------------------------------------------------------------------

def _not_run(after: str, reason: str) -> list[Check]:
    return [Check(name, "skip", f"not run: {reason}") for name in CHECK_NAMES[CHECK_NAMES.index(after) + 1:]]


async def run_doctor(
    settings: Settings,
    *,
    store: str = "store",
    sandbox: bool = False,
    transport: httpx.AsyncBaseTransport | None = None,
    image_transport: httpx.AsyncBaseTransport | None = None,
) -> DoctorReport:
    """Run every check against the store of `settings`; sends only GET and HEAD requests.

    A refused token or an unreachable store stops the run after the first check (the rest are
    listed as not run); every other check runs whatever the ones before found.
    """
    checks: list[Check] = []
    async with BigCommerceClient(settings, transport=transport) as client:
        try:
            response = await client.request("GET", PRODUCTS_PATH, params=ExtractSession(trim_fields=False).params())
            body = response.json()
        except AuthError as exc:
            checks.append(Check("token", "fail", TOKEN_REFUSED.format(status=exc.status),
                                {"refused": True, "status": exc.status}))
            checks += _not_run("token", "the token was refused")
            return DoctorReport(store, sandbox, checks, client.metrics.requests_sent, 0)
        except (BigCommerceError, ValueError) as exc:
            checks.append(Check("token", "fail", f"could not read the products listing: {exc}"))
            checks += _not_run("token", "the store did not answer the first request")
            return DoctorReport(store, sandbox, checks, client.metrics.requests_sent, 0)
        checks.append(Check("token", "pass", f"accepted (GET {PRODUCTS_PATH} answered {response.status_code})"))
        checks.append(check_rate_limit(response.headers))
        checks.append(check_embedded(body))
        whole = _items(body) or []
        trimmed_body, error = None, None
        try:
            trimmed_body = await client.get_json(PRODUCTS_PATH, ExtractSession().params())
        except BigCommerceError as exc:
            error = exc
        checks.append(check_include_fields(whole, trimmed_body, error))
        checks += [check_dates(whole), check_value_data(whole)]
        api_requests = client.metrics.requests_sent
    image_check, image_requests = await check_image_host(image_urls(whole), image_transport)
    checks.append(image_check)
    return DoctorReport(store, sandbox, checks, api_requests, image_requests)
