"""`validate_file`: product id lookups (GET only, chunked), store failures as issues, no double reports."""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx
import pytest

from pipeline.settings import Settings
from pipeline.validate.command import fetch_existing_product_ids, validate_file
from pipeline.workbook.meta import ExportMeta
from pipeline.workbook.writer import write_workbook
from tests.pipeline.validate.exports import column_of, edit_xlsx, valid_frames

SETTINGS = Settings.for_sandbox("http://store.test/stores/abc123/v3", "token", store_hash="abc123")
META = ExportMeta("abc123", "https://api.bigcommerce.com/stores/abc123/v3")


@pytest.fixture
def xlsx(tmp_path) -> Path:
    return write_workbook(valid_frames(14), tmp_path / "export.xlsx", META)


def _products(request: httpx.Request, existing: set[int]) -> httpx.Response:
    asked = [int(i) for i in request.url.params["id:in"].split(",")]
    data = [{"id": i} for i in asked if i in existing]
    return httpx.Response(200, json={"data": data, "meta": {"pagination": {
        "total": len(data), "count": len(data), "per_page": 250, "current_page": 1, "total_pages": 1}}})


def test_product_ids_are_looked_up_in_chunks_with_reads_only():
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return _products(request, set(range(0, 1000, 2)))

    found, requests = asyncio.run(fetch_existing_product_ids(SETTINGS, range(1, 451),
                                                             transport=httpx.MockTransport(handler)))
    assert found == set(range(2, 451, 2)) and requests == 3
    assert {r.method for r in seen} == {"GET"} and {r.url.path for r in seen} == {"/stores/abc123/v3/catalog/products"}
    assert [len(r.url.params["id:in"].split(",")) for r in seen] == [200, 200, 50]
    assert all(r.url.params["include_fields"] == "sku" for r in seen)  # `id` is not in the spec's enum


def test_ids_missing_from_the_store_are_issues_on_their_rows(xlsx):
    def handler(request: httpx.Request) -> httpx.Response:
        return _products(request, set(range(101, 115)) - {103})

    outcome = validate_file(xlsx, settings=SETTINGS, transport=httpx.MockTransport(handler))
    assert outcome.requests == 1 and outcome.issues
    assert all("product 103 does not exist" in i.message for i in outcome.issues)
    assert {i.column for i in outcome.issues} <= {"product_id", "linked_product_id"}


def test_a_store_that_refuses_the_lookup_is_one_issue_not_a_crash(xlsx):
    transport = httpx.MockTransport(lambda request: httpx.Response(401, json={"status": 401, "title": "no"}))
    outcome = validate_file(xlsx, settings=SETTINGS, transport=transport)
    assert len(outcome.issues) == 1
    assert outcome.issues[0].sheet is None and "could not be checked against the store" in outcome.issues[0].message


def test_known_ids_need_no_request_and_no_ids_means_no_existence_check(xlsx):
    assert validate_file(xlsx, known_product_ids=set(range(101, 115))).ok
    assert validate_file(xlsx).ok
    assert not validate_file(xlsx, known_product_ids={101}).ok


def test_a_missing_column_is_one_issue_not_one_per_row(xlsx):
    edit_xlsx(xlsx, lambda wb: wb["Choice values"].delete_cols(column_of(wb["Choice values"], "label")))
    issues = validate_file(xlsx).issues
    assert [(i.sheet, i.row, i.column) for i in issues] == [("Choice values", 1, "label")]


def test_issues_about_csv_sheets_name_the_csv_file(tmp_path):
    from pipeline.workbook.csv_files import write_csv

    folder = write_csv(valid_frames(14), tmp_path / "export", META)
    text = (folder / "swatch_values.csv").read_text("utf-8-sig").replace("#", "no-hash-", 1)
    (folder / "swatch_values.csv").write_text(text, "utf-8-sig")
    issues = validate_file(folder).issues
    assert issues and {i.file for i in issues} == {"swatch_values.csv"}
