"""`run_doctor` against the sandbox (normal, literal include_fields, and stores edited in transit),
and its checks on hand-made responses: what passes, what fails, what it costs, and never a write."""

from __future__ import annotations

import pytest

from pipeline.client import BigCommerceClient, ValidationError
from pipeline.doctor import (
    CHECK_NAMES,
    check_dates,
    check_embedded,
    check_image_host,
    check_include_fields,
    check_rate_limit,
    check_value_data,
    image_urls,
    run_doctor,
)
from pipeline.settings import Settings
from tests.pipeline.rewriting import RewritingTransport, each_product
from tests.stores import TEST_TOKEN, SandboxStore, sandbox_store

WRITES = ("POST", "PUT", "DELETE")


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def _by_name(report) -> dict:
    return {check.name: check for check in report.checks}


def _no_writes(store: SandboxStore) -> None:
    requests = store.stats()["requests"]
    assert all(requests[method] == 0 for method in WRITES), requests


@pytest.mark.anyio
async def test_a_normal_sandbox_passes_every_check_with_two_pages_and_one_image(tmp_path):
    store = sandbox_store(tmp_path, products=30, quota=150)
    report = await run_doctor(store.settings, store="sandbox", transport=store.transport(),
                              image_transport=store.transport())
    checks = _by_name(report)
    assert [c.name for c in report.checks] == list(CHECK_NAMES)
    assert report.ok and all(c.status == "pass" for c in report.checks), report.as_dict()
    assert checks["rate limit"].data["quota"] == 150 and checks["rate limit"].data["window_s"] == 30
    assert "quota 150 requests per 30 s window" in checks["rate limit"].detail
    assert checks["include=modifiers"].data["per_page"] == 10 and checks["include=modifiers"].data["modifiers"] > 0
    assert checks["include_fields"].data["mode"] == "trims"
    assert checks["date config"].data["dates"] > 0
    assert checks["image host"].data["status"] == 200 and checks["image host"].data["host"] == "sandbox.test"
    assert (report.api_requests, report.image_requests) == (2, 1)
    assert store.stats()["requests"]["GET"] == 2
    _no_writes(store)
    assert report.as_dict()["requests"] == {"api": 2, "image": 1}


@pytest.mark.anyio
async def test_a_literal_include_fields_store_is_named_and_still_passes(tmp_path):
    store = sandbox_store(tmp_path, products=30, literal_include_fields=True)
    report = await run_doctor(store.settings, transport=store.transport(), image_transport=store.transport())
    check = _by_name(report)["include_fields"]
    assert report.ok and check.status == "pass" and check.data["mode"] == "literal"
    assert "literal" in check.detail and "asks again without include_fields" in check.detail
    assert store.stats()["requests"]["GET"] == 2
    _no_writes(store)


@pytest.mark.anyio
async def test_a_wrong_token_fails_first_and_runs_nothing_else(tmp_path):
    store = sandbox_store(tmp_path, products=10)
    wrong = "wrong-token-77c1d0"
    settings = Settings.for_sandbox(str(store.settings.base_url), wrong)
    report = await run_doctor(settings, transport=store.transport(), image_transport=store.transport())
    assert not report.ok and report.token_refused
    assert report.checks[0].status == "fail" and "refused the access token (HTTP 401)" in report.checks[0].detail
    assert all(c.status == "skip" and c.detail.startswith("not run") for c in report.checks[1:])
    assert report.api_requests == 1 and report.image_requests == 0
    assert wrong not in str(report.as_dict()) and TEST_TOKEN not in str(report.as_dict())
    _no_writes(store)


@pytest.mark.anyio
async def test_a_proxy_stripping_rate_limit_headers_fails_that_check(tmp_path):
    store = sandbox_store(tmp_path, products=10)
    stripped = RewritingTransport(store.transport(), drop_headers=[
        "X-Rate-Limit-Requests-Left", "X-Rate-Limit-Requests-Quota", "X-Rate-Limit-Time-Reset-Ms",
        "X-Rate-Limit-Time-Window-Ms"])
    report = await run_doctor(store.settings, transport=stripped, image_transport=store.transport())
    checks = _by_name(report)
    assert not report.ok and checks["rate limit"].status == "fail"
    assert [c.name for c in report.checks if c.status == "fail"] == ["rate limit"]


@pytest.mark.anyio
async def test_dates_that_are_not_atom_and_modifiers_lost_to_include_fields_fail(tmp_path):
    store = sandbox_store(tmp_path, products=20)

    def date_only(product: dict) -> None:
        for modifier in product.get("modifiers") or ():
            if modifier["type"] == "date" and modifier["config"].get("date_earliest_value"):
                modifier["config"]["date_earliest_value"] = modifier["config"]["date_earliest_value"][:10]

    def empty_when_trimmed(request, body):
        if "include_fields" in request.url.params:
            for product in body.get("data") or ():
                product["modifiers"] = []
        return body

    edited = RewritingTransport(store.transport(), edit_body=each_product(date_only))
    report = await run_doctor(store.settings, transport=edited, image_transport=store.transport())
    dates = _by_name(report)["date config"]
    assert dates.status == "fail" and dates.data["not_atom"] > 0 and "not ISO-8601 ATOM" in dates.detail
    emptied = RewritingTransport(store.transport(), edit_body=empty_when_trimmed)
    report = await run_doctor(store.settings, transport=emptied, image_transport=store.transport())
    lost = _by_name(report)["include_fields"]
    assert lost.status == "fail" and lost.data["mode"] == "changed" and "would lose them" in lost.detail


# -- the checks on hand-made responses --------------------------------------------------------------

HEADERS = {"X-Rate-Limit-Requests-Left": "149", "X-Rate-Limit-Requests-Quota": "150",
           "X-Rate-Limit-Time-Reset-Ms": "29000", "X-Rate-Limit-Time-Window-Ms": "30000"}


def test_rate_limit_needs_the_headers_and_their_quota():
    assert check_rate_limit(HEADERS).status == "pass"
    assert check_rate_limit({}).status == "fail"
    partial = {k: v for k, v in HEADERS.items() if "Quota" not in k}
    assert check_rate_limit(partial).status == "fail" and "quota" in check_rate_limit(partial).detail


def _page(products: list[dict], per_page: int = 10) -> dict:
    return {"data": products, "meta": {"pagination": {"per_page": per_page, "total_pages": 1}}}


def test_embedding_wants_modifiers_on_every_product_at_ten_a_page():
    assert check_embedded(_page([{"id": 1, "modifiers": []}])).status == "pass"
    assert check_embedded(_page([])).status == "skip"
    assert check_embedded(_page([{"id": 1}])).status == "fail"
    assert check_embedded(_page([{"id": i, "modifiers": []} for i in range(50)], per_page=50)).status == "fail"
    assert check_embedded({"title": "oops"}).status == "fail"


def test_include_fields_modes():
    whole = [{"id": 1, "sku": "A", "price": 3, "modifiers": [{"id": 9}]}]
    assert check_include_fields(whole, _page([{"id": 1, "sku": "A", "modifiers": [{"id": 9}]}]), None
                                ).data["mode"] == "trims"
    assert check_include_fields(whole, _page(whole), None).data["mode"] == "ignored"
    literal = check_include_fields(whole, _page([{"id": 1, "sku": "A"}]), None)
    assert literal.status == "pass" and literal.data["mode"] == "literal"
    refused = check_include_fields(whole, None, ValidationError("bad", status=422, errors={"include_fields": "x"}))
    assert refused.status == "fail" and "include_fields=sku,name,date_modified" in refused.detail
    assert check_include_fields([], _page([]), None).status == "skip"


def test_date_and_value_data_shapes():
    def date(value):
        return {"modifiers": [{"id": 5, "type": "date", "config": {"date_earliest_value": value}}]}

    assert check_dates([date("2027-04-01T00:00:00+00:00")]).status == "pass"
    assert check_dates([date("2027-04-01")]).status == "fail"
    assert check_dates([date("2027-04-01T00:00:00Z")]).status == "fail"
    assert check_dates([date(None), {"modifiers": []}]).status == "skip"

    def values(*shapes):
        items = [{"id": i, "label": "x", **({} if s == "absent" else {"value_data": s})} for i, s in enumerate(shapes)]
        return [{"modifiers": [{"type": "dropdown", "option_values": items}]}]

    ok = check_value_data(values({"colors": []}, None, "absent"))
    assert ok.status == "pass" and ok.data == {"object": 1, "null": 1, "absent": 1, "other": 0}
    assert check_value_data(values({}, [])).status == "fail"
    assert check_value_data(values()).status == "skip"


def test_image_urls_come_from_adjusters_then_swatch_patterns():
    products = [{"modifiers": [{"option_values": [
        {"adjusters": {"image_url": ""}, "value_data": {"image_url": "https://cdn.example/p.png"}},
        {"adjusters": {"image_url": "https://cdn.example/v.jpg"}, "value_data": None},
    ]}]}]
    assert image_urls(products) == ["https://cdn.example/p.png", "https://cdn.example/v.jpg"]


@pytest.mark.anyio
async def test_image_host_answers_or_fails(tmp_path):
    store = sandbox_store(tmp_path, products=10)
    async with BigCommerceClient(store.settings, transport=store.transport()) as client:
        page = await client.get_json("/catalog/products", {"include": "modifiers", "limit": 10})
    [url, *_] = image_urls(page["data"])
    check, sent = await check_image_host([url], store.transport())
    assert check.status == "pass" and sent == 1
    missing, sent = await check_image_host(["http://sandbox.test/_sandbox/images/uploads/none.png"], store.transport())
    assert missing.status == "fail" and "404" in missing.detail and sent == 1
    assert (await check_image_host(["ftp://example.test/x.png"]))[0].status == "fail"
    assert (await check_image_host([]))[0].status == "skip"
