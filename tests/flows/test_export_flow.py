"""The Prefect export flow runs under prefect_test_harness against a sandbox over real HTTP."""

from __future__ import annotations

import asyncio
import json

import pytest

from pipeline.sandbox.config import SandboxConfig
from pipeline.sandbox.server import serve_in_thread
from tests.stores import TEST_TOKEN


@pytest.fixture(scope="module")
def sandbox_url(tmp_path_factory):
    config = SandboxConfig(data_dir=tmp_path_factory.mktemp("flowstore"), products=25, token=TEST_TOKEN,
                           quota=None)
    with serve_in_thread(config) as base_url:
        yield f"{base_url}/stores/sandbox/v3"


def test_export_flow_writes_dated_file_and_keeps_token_out_of_results(prefect_harness, sandbox_url, tmp_path,
                                                                       monkeypatch):
    from flows.export_flow import export_modifiers

    monkeypatch.setenv("BIGCOMMERCE_ACCESS_TOKEN", TEST_TOKEN)
    monkeypatch.delenv("BIGCOMMERCE_STORE_HASH", raising=False)
    state = asyncio.run(export_modifiers(out=str(tmp_path), api_url=sandbox_url, return_state=True))
    assert state.is_completed()
    result = asyncio.run(state.result()) if asyncio.iscoroutine(state.result()) else state.result()
    assert result["products"] == 25 and result["requests"] <= 5
    assert result["path"].startswith(str(tmp_path)) and result["path"].endswith(".xlsx")
    assert TEST_TOKEN not in json.dumps(result)
    assert TEST_TOKEN not in json.dumps(state.model_dump(mode="json"), default=str)


def test_export_flow_refuses_without_a_store(prefect_harness, tmp_path, monkeypatch):
    from flows.export_flow import export_modifiers

    for name in ("BIGCOMMERCE_ACCESS_TOKEN", "BIGCOMMERCE_STORE_HASH", "BIGCOMMERCE_API_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)  # no .env here
    state = asyncio.run(export_modifiers(out=str(tmp_path), return_state=True))
    assert state.is_failed()
    assert "no store configured" in str(state.message) or "no store configured" in repr(state)
