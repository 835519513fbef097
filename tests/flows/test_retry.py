"""Prefect retries only what can heal: a wrong token fails the run at once (one attempt, slot freed);
a store that was down is retried and every attempt's requests are counted."""

from __future__ import annotations

import asyncio
import socket
import threading
import time
import uuid

import httpx
import pytest

from flows.retry import is_transient, retry_transient
from pipeline.client.errors import (
    AmbiguousWriteError,
    AuthError,
    ConflictError,
    NetworkError,
    NotFoundError,
    PaginationError,
    RateLimitError,
    RetriesExhaustedError,
    ServerError,
    ValidationError,
)
from pipeline.sandbox.config import SandboxConfig
from pipeline.sandbox.server import serve_in_thread
from tests.flows.support import sandbox_requests
from tests.stores import TEST_TOKEN


@pytest.mark.parametrize(("error", "transient"), [
    (AuthError(status=401), False),
    (AuthError(status=403), False),
    (NotFoundError(status=404), False),
    (ValidationError(status=422, errors={"type": "invalid"}), False),
    (ConflictError(status=409), False),
    (PaginationError(), False),
    (ValueError("no store configured"), False),
    (RateLimitError(status=429), True),
    (ServerError(status=503), True),
    (NetworkError(cause="ConnectError"), True),
    (RetriesExhaustedError(ServerError(status=502), attempts=6), True),
    (RetriesExhaustedError(NetworkError(cause="ReadError"), attempts=6), True),
    (AmbiguousWriteError(ServerError(status=500)), True),
    (httpx.ConnectError("refused"), True),
])
def test_only_errors_that_can_heal_are_retried(error, transient):
    from prefect.states import Failed

    assert is_transient(error) is transient
    assert retry_transient(None, None, Failed(data=error)) is transient


def test_an_error_raised_from_a_transient_one_is_judged_by_its_cause():
    try:
        try:
            raise ServerError(status=503)
        except ServerError as cause:
            raise RuntimeError("while reading page 3") from cause
    except RuntimeError as wrapped:
        assert is_transient(wrapped)
    assert not is_transient(None)


def _task_runs(flow_run_id) -> list:
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId

    async def read():
        async with get_client() as client:
            return await client.read_task_runs(flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[flow_run_id])))

    return asyncio.run(read())


def _limit(name: str):
    from prefect.client.orchestration import get_client

    async def read():
        async with get_client() as client:
            return await client.read_global_concurrency_limit_by_name(name)

    return asyncio.run(read())


def test_a_wrong_token_fails_at_once_with_one_attempt_and_frees_the_slot(prefect_harness, no_store_env, tmp_path,
                                                                         monkeypatch, prefect_logs):
    logs = prefect_logs
    from flows.export_flow import export_modifiers

    store = f"wrongtoken{uuid.uuid4().hex[:6]}"
    monkeypatch.setenv("BIGCOMMERCE_ACCESS_TOKEN", "not-the-token")
    with serve_in_thread(SandboxConfig(data_dir=tmp_path / "s", store_hash=store, token=TEST_TOKEN, products=5,
                                       quota=None)) as base:
        state = asyncio.run(export_modifiers(out=str(tmp_path / "out"), store={"api_url": f"{base}/stores/{store}/v3"},
                                             return_state=True))
        requests = sandbox_requests(base)
    assert state.is_failed()
    assert "-> 401" in state.message and "not-the-token" not in state.message
    runs = _task_runs(state.state_details.flow_run_id)
    assert [(r.name, r.run_count, r.state.type.value) for r in runs] == [(f"read {store}: whole catalog", 1, "FAILED")]
    assert requests == 1  # one request, never repeated by the client or by Prefect
    assert any(line == f"reading {store} failed after 1 requests in 1 attempt(s)" for line in logs.lines), logs.lines
    limit = _limit(f"store:{store}")
    assert (limit.limit, limit.active_slots) == (1, 0)
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())


def test_a_store_that_was_down_is_retried_and_every_attempt_is_counted(prefect_harness, no_store_env, tmp_path,
                                                                        monkeypatch):
    """The first attempt finds nothing listening (the client tries 6 times, then gives up); the store
    comes up while Prefect waits to retry; the second attempt exports; the report counts both."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import TaskRunFilter, TaskRunFilterName

    from flows.export_flow import export_modifiers

    store = f"flaky{uuid.uuid4().hex[:6]}"
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    monkeypatch.setenv("BIGCOMMERCE_ACCESS_TOKEN", TEST_TOKEN)
    outcome: dict = {}
    runner = threading.Thread(target=lambda: outcome.update(state=asyncio.run(export_modifiers(
        out=str(tmp_path / "out"), store={"api_url": f"http://127.0.0.1:{port}/stores/{store}/v3"},
        return_state=True))))
    runner.start()

    async def awaiting_retry() -> bool:
        async with get_client() as client:
            runs = await client.read_task_runs(task_run_filter=TaskRunFilter(
                name=TaskRunFilterName(any_=[f"read {store}: whole catalog"])))
        return any(r.state and r.state.name == "AwaitingRetry" for r in runs)

    deadline = time.monotonic() + 60
    while not asyncio.run(awaiting_retry()):
        assert runner.is_alive() and time.monotonic() < deadline, outcome
        time.sleep(0.2)
    with serve_in_thread(SandboxConfig(data_dir=tmp_path / "s", store_hash=store, token=TEST_TOKEN, products=12,
                                       quota=None), port=port) as base:
        runner.join(timeout=60)
        served = sandbox_requests(base)
    state = outcome["state"]
    assert state.is_completed(), state.message
    summary = asyncio.run(state.aresult())
    assert summary["products"] == 12 and summary["attempts"] == 2
    assert summary["requests"] == served + 6  # six refused connections in the first attempt, then the export
    runs = _task_runs(state.state_details.flow_run_id)
    assert {r.name: r.run_count for r in runs}[f"read {store}: whole catalog"] == 2
