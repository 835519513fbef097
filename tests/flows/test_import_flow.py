"""The Prefect import flow: validate -> plan -> apply against a sandbox over real HTTP."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import httpx
import pytest

from pipeline.cli.demo_edit import scripted_edit
from pipeline.sandbox.config import SandboxConfig
from pipeline.sandbox.server import serve_in_thread
from tests.stores import TEST_TOKEN


@pytest.fixture
def sandbox_url(tmp_path):
    config = SandboxConfig(data_dir=tmp_path / "store", products=25, token=TEST_TOKEN, quota=None)
    with serve_in_thread(config) as base_url:
        yield f"{base_url}/stores/sandbox/v3"


def run(flow, **kwargs):
    return asyncio.run(flow(return_state=True, **kwargs))


def result_of(state):
    result = state.result()
    return asyncio.run(result) if asyncio.iscoroutine(result) else result


def test_import_flow_applies_edits_then_replans_to_nothing(prefect_harness, sandbox_url, tmp_path, monkeypatch):
    from flows.export_flow import export_modifiers
    from flows.import_flow import import_modifiers

    monkeypatch.setenv("BIGCOMMERCE_ACCESS_TOKEN", TEST_TOKEN)
    exported = result_of(run(export_modifiers, out=str(tmp_path / "x"), store={"api_url": sandbox_url}))
    workbook = Path(exported["path"])
    edits = scripted_edit(workbook)
    state = run(import_modifiers, workbook=str(workbook), store={"api_url": sandbox_url})
    assert state.is_completed(), state.message
    summary = result_of(state)
    assert summary["failed"] == 0 and summary["writes"] >= len(edits) - 1
    assert Path(summary["results"]).exists() and Path(summary["backup"]).exists()
    assert TEST_TOKEN not in json.dumps(summary)
    # a fresh export of the result, imported again, plans nothing and sends nothing
    again = Path(result_of(run(export_modifiers, out=str(tmp_path / "y"), store={"api_url": sandbox_url}))["path"])
    second = result_of(run(import_modifiers, workbook=str(again), store={"api_url": sandbox_url}))
    assert second["writes"] == 0 and second["counts"]["ok"] == 0 and second["failed"] == 0


def test_import_flow_refuses_a_bad_workbook_without_writing(prefect_harness, sandbox_url, tmp_path, monkeypatch):
    from flows.export_flow import export_modifiers
    from openpyxl import load_workbook

    from flows.import_flow import WorkbookRejected, import_modifiers

    monkeypatch.setenv("BIGCOMMERCE_ACCESS_TOKEN", TEST_TOKEN)
    workbook = Path(result_of(run(export_modifiers, out=str(tmp_path), store={"api_url": sandbox_url}))["path"])
    book = load_workbook(workbook)
    book["File modifiers"]["A2"].value = "explode"  # not a valid action
    book.save(workbook)
    state = run(import_modifiers, workbook=str(workbook), store={"api_url": sandbox_url})
    assert state.is_failed()
    with pytest.raises(WorkbookRejected, match=r"problems in .*nothing sent.*row 2, column 'action'"):
        result_of(state)
    stats = httpx.get(sandbox_url.split("/stores/")[0] + "/_sandbox/stats").json()
    assert stats["requests"]["POST"] == stats["requests"]["PUT"] == stats["requests"]["DELETE"] == 0


def test_import_flow_reads_its_token_from_a_secret_block(prefect_harness, sandbox_url, tmp_path, monkeypatch):
    """Plan and apply run as async tasks: the block is read with `Secret.aload` there."""
    from prefect.blocks.system import Secret

    from flows.export_flow import export_modifiers
    from flows.import_flow import import_modifiers

    for name in ("BIGCOMMERCE_ACCESS_TOKEN", "BIGCOMMERCE_STORE_HASH", "BIGCOMMERCE_API_URL"):
        monkeypatch.delenv(name, raising=False)
    Secret(value=TEST_TOKEN).save("bcmod-test-import", overwrite=True)
    block = {"store": {"api_url": sandbox_url, "token_secret_block": "bcmod-test-import"}}
    workbook = Path(result_of(run(export_modifiers, out=str(tmp_path), **block))["path"])
    scripted_edit(workbook)
    state = run(import_modifiers, workbook=str(workbook), **block)
    assert state.is_completed(), state.message
    summary = result_of(state)
    assert summary["failed"] == 0 and summary["writes"] > 0
    assert summary["requests_all_attempts"] >= summary["requests"] and TEST_TOKEN not in json.dumps(summary)


def _store_state(sandbox_url: str) -> dict:
    """The store by natural key, image URLs left out (a re-uploaded image gets a URL of its own)."""
    from pipeline.catalog_state import state_by_natural_key

    products, page = [], 1
    while True:
        body = httpx.get(f"{sandbox_url}/catalog/products", headers={"X-Auth-Token": TEST_TOKEN},
                         params={"include": "modifiers", "page": page, "limit": 10}).json()
        products += body["data"]
        if page >= body["meta"]["pagination"]["total_pages"]:
            break
        page += 1
    state = state_by_natural_key(products)
    for modifiers in state.values():
        for modifier in modifiers.values():
            for value in modifier["values"].values():
                value["adjusters"].pop("image_url", None)
    return state


def test_restore_flow_undoes_an_import(prefect_harness, sandbox_url, tmp_path, monkeypatch):
    from flows.export_flow import export_modifiers
    from flows.import_flow import import_modifiers
    from flows.restore_flow import restore_modifiers

    monkeypatch.setenv("BIGCOMMERCE_ACCESS_TOKEN", TEST_TOKEN)
    original = _store_state(sandbox_url)
    workbook = Path(result_of(run(export_modifiers, out=str(tmp_path / "x"), store={"api_url": sandbox_url}))["path"])
    scripted_edit(workbook)
    imported = result_of(run(import_modifiers, workbook=str(workbook), store={"api_url": sandbox_url}))
    assert imported["writes"] > 0 and _store_state(sandbox_url) != original
    state = run(restore_modifiers, backup=imported["backup"], store={"api_url": sandbox_url})
    assert state.is_completed(), state.message
    restored = result_of(state)
    assert restored["failed"] == 0 and restored["writes"] > 0 and Path(restored["backup"]).exists()
    assert TEST_TOKEN not in json.dumps(restored)
    assert _store_state(sandbox_url) == original
