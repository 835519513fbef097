"""The Prefect export flow runs under prefect_test_harness against a sandbox over real HTTP."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

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
    state = asyncio.run(export_modifiers(out=str(tmp_path), store={"api_url": sandbox_url}, return_state=True))
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


def _artifacts(flow_run_id) -> dict:
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterFlowRunId

    async def read():
        async with get_client() as client:
            return await client.read_artifacts(artifact_filter=ArtifactFilter(
                flow_run_id=ArtifactFilterFlowRunId(any_=[flow_run_id])))

    return {a.key: a for a in asyncio.run(read())}


def _task_run_names(flow_run_id) -> set[str]:
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId

    async def read():
        async with get_client() as client:
            return await client.read_task_runs(flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[flow_run_id])))

    return {r.name for r in asyncio.run(read())}


def test_an_export_run_says_which_store_which_file_on_which_host(prefect_harness, no_store_env, sandbox_url, tmp_path,
                                                                  monkeypatch):
    """Run and task names an operator can read; the absolute path, host, window and request count in
    the result and the artifacts; a link artifact to the file (mapped to a URL when configured)."""
    import socket

    from flows.export_flow import export_modifiers
    from flows.naming import utc_day

    monkeypatch.setenv("BIGCOMMERCE_ACCESS_TOKEN", TEST_TOKEN)
    monkeypatch.setenv("BCMOD_EXPORT_URL_MAP", f"{tmp_path / 'shared'}=https://files.example/bcmod")
    state = asyncio.run(export_modifiers(out="shared/exports", store={"api_url": sandbox_url}, return_state=True))
    assert state.is_completed(), state.message
    summary = asyncio.run(state.aresult())
    host, path = socket.gethostname(), Path(summary["path"])
    assert path.is_absolute() and path.parent == tmp_path / "shared" / "exports" and path.exists()
    assert summary["host"] == host and summary["window"] == "whole catalog" and summary["since"] is None
    assert summary["attempts"] == 1 and 0 < summary["requests"] <= 5
    run_id = state.state_details.flow_run_id
    from prefect.client.orchestration import get_client

    async def name():
        async with get_client() as client:
            return (await client.read_flow_run(run_id)).name

    assert asyncio.run(name()) == f"export-sandbox-{utc_day()}"
    assert _task_run_names(run_id) == {"read sandbox: whole catalog", f"write workbook to {path.parent}"}
    artifacts = _artifacts(run_id)
    data = artifacts["bcmod-export-sandbox"].data
    table = (json.loads(data) if isinstance(data, str) else data)[0]
    assert table["path"] == str(path) and table["host"] == host and table["requests"] == summary["requests"]
    link = artifacts["bcmod-export-file-sandbox"]
    assert f"(https://files.example/bcmod/exports/{path.name})" in link.data and f"{path.name} on {host}" in link.data
    assert TEST_TOKEN not in json.dumps([a.model_dump(mode="json") for a in artifacts.values()], default=str)


def test_export_flow_reads_its_token_from_a_secret_block(prefect_harness, no_store_env, sandbox_url, tmp_path):
    from prefect.blocks.system import Secret

    from flows.export_flow import export_modifiers

    Secret(value=TEST_TOKEN).save("bcmod-test-export", overwrite=True)
    in_block = {"api_url": sandbox_url, "token_secret_block": "bcmod-test-export"}
    state = asyncio.run(export_modifiers(out=str(tmp_path), store=in_block, return_state=True))
    assert state.is_completed(), state.message
    assert asyncio.run(state.aresult())["products"] == 25
    no_block = {"api_url": sandbox_url, "token_secret_block": "bcmod-nope"}
    missing = asyncio.run(export_modifiers(out=str(tmp_path), store=no_block, return_state=True))
    assert missing.is_failed()
    assert "no Prefect Secret block named 'bcmod-nope': create it with `python -m flows.secret bcmod-nope`" \
        in missing.message
