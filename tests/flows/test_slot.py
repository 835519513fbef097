"""A store's slot under the harness: a waiting run says every interval what it waits for, and
frees the slot of a holder whose run crashed; a live holder is waited for, never robbed."""

from __future__ import annotations

import asyncio
import re
import socket
import time
import uuid
from dataclasses import asdict
from datetime import datetime, timezone

import pytest

from pipeline.sandbox.config import SandboxConfig
from pipeline.sandbox.server import serve_in_thread
from tests.flows.conftest import RunLogLines
from tests.flows.support import sandbox_requests
from tests.stores import TEST_TOKEN


@pytest.fixture
def store(tmp_path, no_store_env, monkeypatch):
    """A sandbox store with its own hash, and the token in the environment."""
    name = f"slot{uuid.uuid4().hex[:6]}"
    monkeypatch.setenv("BIGCOMMERCE_ACCESS_TOKEN", TEST_TOKEN)
    with serve_in_thread(SandboxConfig(data_dir=tmp_path / "store", store_hash=name, token=TEST_TOKEN, products=4,
                                       quota=None)) as base:
        yield name, base


def _waiting_lines(logs: RunLogLines) -> list[str]:
    return [line for line in logs.lines if line.startswith("waiting for the store slot")]


def test_a_waiting_run_logs_what_it_waits_for_every_interval(prefect_harness, store, tmp_path, monkeypatch,
                                                             prefect_logs):
    logs = prefect_logs
    from flows.export_flow import export_modifiers
    from flows.slot import store_slot

    name, base = store
    monkeypatch.setenv("BCMOD_SLOT_LOG_SECONDS", "1")  # 30 s in production

    async def scenario():
        async with store_slot(name):  # this test holds the slot, outside any run
            run = asyncio.create_task(export_modifiers(out=str(tmp_path / "out"),
                                                       store={"api_url": f"{base}/stores/{name}/v3"},
                                                       return_state=True))
            deadline = time.monotonic() + 60
            while len(_waiting_lines(logs)) < 3:
                assert not run.done() and time.monotonic() < deadline, (run, logs.lines)
                await asyncio.sleep(0.1)
            requests_while_held = sandbox_requests(base)
        return await run, requests_while_held

    state, requests_while_held = asyncio.run(scenario())
    assert state.is_completed(), state.message
    assert requests_while_held == 0
    lines = _waiting_lines(logs)
    expected = (f"waiting for the store slot store:{name} (N s so far): held by a process outside any run on "
                f"host {socket.gethostname()}")
    assert all(re.sub(r"\(\d+ s so far\)", "(N s so far)", line).startswith(expected) for line in lines), lines
    seconds = [int(re.search(r"\((\d+) s so far\)", line).group(1)) for line in lines]
    assert seconds == sorted(seconds) and len(set(seconds)) == len(seconds)  # one line per interval, not per poll


def test_a_crashed_holder_loses_the_slot_and_a_live_one_keeps_it(prefect_harness, store, tmp_path, monkeypatch,
                                                                 prefect_logs):
    """A run on another machine took the slot and then its process died: the waiting run sees the
    holder's run CRASHED and releases that lease itself, instead of waiting for it to expire."""
    logs = prefect_logs
    from prefect import flow
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.objects import ConcurrencyLeaseHolder
    from prefect.states import Crashed, Running
    from prefect.variables import Variable

    from flows.export_flow import export_modifiers
    from flows.slot import Holder, holder_variable
    from flows.store import ensure_store_limit

    name, base = store

    @flow(name="elsewhere")
    def elsewhere() -> None:
        """Stands for the run that took the slot on another worker."""

    async def take_slot_as_another_run():
        await ensure_store_limit(name)
        async with get_client() as client:
            run = await client.create_flow_run(elsewhere, name="export-elsewhere", state=Running())
            response = await client.increment_concurrency_slots_with_lease(
                names=[f"store:{name}"], slots=1, mode="concurrency", lease_duration=300,
                holder=ConcurrencyLeaseHolder(type="flow_run", id=run.id))
        holder = Holder(lease_id=response.json()["lease_id"], since=datetime.now(timezone.utc).isoformat(),
                        host="worker-b", pid=4242, flow_run_id=str(run.id), flow_run_name=run.name)
        await Variable.aset(holder_variable(name), asdict(holder), overwrite=True)
        return run

    async def crash(run) -> None:
        async with get_client() as client:
            await client.set_flow_run_state(run.id, Crashed(message="process killed"), force=True)

    async def active_slots() -> int:
        async with get_client() as client:
            return (await client.read_global_concurrency_limit_by_name(f"store:{name}")).active_slots

    def export(timeout: str):
        monkeypatch.setenv("BCMOD_STORE_SLOT_TIMEOUT", timeout)
        return asyncio.run(export_modifiers(out=str(tmp_path / "out"), store={"api_url": f"{base}/stores/{name}/v3"},
                                            return_state=True))

    other = asyncio.run(take_slot_as_another_run())
    alive = export("3")  # the holder is RUNNING: wait, then give up having sent nothing
    assert alive.is_failed()
    assert f"the store slot store:{name} was still busy after 3 s; nothing was sent" in alive.message
    assert sandbox_requests(base) == 0 and asyncio.run(active_slots()) == 1
    assert any(f"held by run export-elsewhere ({other.id}) on host worker-b, pid 4242" in line
               for line in _waiting_lines(logs))

    asyncio.run(crash(other))
    after = export("60")
    assert after.is_completed(), after.message
    assert any(line.startswith(f"the store slot store:{name} was held by run export-elsewhere")
               and line.endswith("which is CRASHED: released its lease") for line in logs.lines), logs.lines
    assert asyncio.run(active_slots()) == 0
    assert asyncio.run(Variable.aget(holder_variable(name), default=None)) is None  # the last holder cleaned up
