"""The scale-out path for real on this machine: a process work pool, a worker in its own process,
`export_all_stores` starting one `export-store` run per store, per-store concurrency slots.

Everything goes over HTTP on 127.0.0.1: the temporary Prefect server of `prefect_test_harness`,
the worker (`prefect worker start`, a subprocess that spawns one process per flow run) and two
sandbox stores, each with its own token, handed to the worker through its environment only.

The test holds beta's slot (`store:beta`) itself while the runs start: alpha exports, beta's run
waits without sending a single request, and exports as soon as the slot is released.
"""

from __future__ import annotations

import asyncio
import importlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

import httpx
import pytest

from flows.naming import utc_day
from pipeline.sandbox.config import SandboxConfig
from pipeline.sandbox.server import serve_in_thread
from pipeline.workbook.reader import read_export

REPO = Path(__file__).resolve().parents[2]
POOL = "bcmod-process"
TOKENS = {"alpha": "tok-alpha-8c1f0e57d2", "beta": "tok-beta-41b9aa06e3"}
PRODUCTS = {"alpha": 12, "beta": 7}
BUDGET_S = 90


@pytest.fixture
def stores(tmp_path):
    """Two sandbox stores on 127.0.0.1 with their own hash, token and catalog size."""
    with serve_in_thread(SandboxConfig(data_dir=tmp_path / "alpha", store_hash="alpha", token=TOKENS["alpha"],
                                       products=PRODUCTS["alpha"], quota=None)) as alpha, \
         serve_in_thread(SandboxConfig(data_dir=tmp_path / "beta", store_hash="beta", token=TOKENS["beta"],
                                       products=PRODUCTS["beta"], quota=None)) as beta:
        yield {"alpha": alpha, "beta": beta}


def sandbox_requests(base_url: str) -> int:
    return sum(httpx.get(f"{base_url}/_sandbox/stats").json()["requests"].values())


def worker_env(api_url: str, home: Path) -> dict[str, str]:
    """The worker's environment: the harness server and both tokens; no other store, no BCMOD_HOME
    (the pull step finds the checkout, the entrypoints are module paths)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("BIGCOMMERCE_", "PREFECT_", "BCMOD_"))}
    env.update({
        "PREFECT_API_URL": api_url,
        "PREFECT_HOME": str(home),
        "PREFECT_WORKER_QUERY_SECONDS": "1",
        "PREFECT_LOGGING_TO_API_BATCH_INTERVAL": "0.5",
        "BCMOD_TOKEN_ALPHA": TOKENS["alpha"],
        "BCMOD_TOKEN_BETA": TOKENS["beta"],
    })
    return env


def stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=5)


def test_one_run_per_store_through_a_process_work_pool(prefect_harness, stores, tmp_path):
    from prefect.settings import PREFECT_API_URL

    prefect_cli = Path(sys.executable).with_name("prefect")
    if not prefect_cli.exists():
        prefect_cli = shutil.which("prefect")
    if not prefect_cli:
        pytest.skip(f"no `prefect` command next to {sys.executable} or on PATH to start a worker with")
    started = time.monotonic()
    api_url = PREFECT_API_URL.value()
    asyncio.run(_register())
    worker_log = tmp_path / "worker.log"
    with worker_log.open("wb") as log:
        worker = subprocess.Popen(
            [str(prefect_cli), "worker", "start", "--pool", POOL, "--type", "process", "--limit", "2",
             "--name", "test-worker"],
            cwd=tmp_path, env=worker_env(api_url, tmp_path / "prefect-home"), stdout=log, stderr=subprocess.STDOUT,
            start_new_session=True)
        try:
            outcome = asyncio.run(_scenario(stores, tmp_path / "exports", started))
        finally:
            stop(worker)
    elapsed = time.monotonic() - started
    log_text = worker_log.read_text(errors="replace")
    rows, beta_waited, checks = outcome["rows"], outcome["beta_waited"], outcome["checks"]
    print(f"\nscale-out: {elapsed:.1f}s in all; alpha done at {outcome['alpha_done_at']:.1f}s; the test held "
          f"store:beta {beta_waited:.1f}s, beta's run waited "
          f"{checks['slot_wait'][f'export-beta-{utc_day()}']:.1f}s for it "
          f"and was done at {outcome['beta_done_at']:.1f}s")

    # both child runs completed, each on its own store, with the right counts and files
    assert outcome["parent_state"] == "COMPLETED", (outcome, log_text[-3000:])
    assert [r["name"] for r in rows] == ["alpha", "beta"]
    for row in rows:
        assert row["state"] == "COMPLETED" and row["store_hash"] == row["name"]
        assert row["products"] == PRODUCTS[row["name"]]
        path = Path(row["path"])
        assert path.exists() and path.parent == tmp_path / "exports" / row["name"]
        frames, meta = read_export(path)
        assert meta.store_hash == row["name"]
        assert frames.modifiers["product_id"].nunique() == PRODUCTS[row["name"]]
        assert len(frames.modifiers) == row["modifiers"] and len(frames.values) == row["values"]
    assert checks["children"] == {f"export-alpha-{utc_day()}", f"export-beta-{utc_day()}"}
    assert checks["child_deployments"] == {"export-store"} and checks["pools"] == {POOL}
    # the child runs were separate processes spawned by the worker (the worker logs each submission)
    for name in checks["children"]:
        assert f"Flow run '{name}' submitted to infrastructure" in log_text, log_text[-3000:]

    # the per-store limits exist with one slot, nothing left held; beta's run waited for the test's slot
    assert checks["limits"] == {"store:alpha": (1, 0), "store:beta": (1, 0)}
    assert outcome["beta_requests_while_held"] == 0 and beta_waited >= 2
    # from beta's own log lines: it was waiting, and took the slot only once the test let it go (how long
    # it waited depends on how soon after starting it asked: the test holds the slot 2.5 s from then)
    assert checks["slot_wait"][f"export-beta-{utc_day()}"] > 0, checks["slot_wait"]
    assert checks["slot_taken"][f"export-beta-{utc_day()}"] >= outcome["released_at"], (checks, outcome)
    assert checks["slot_wait"][f"export-alpha-{utc_day()}"] == 0, checks["slot_wait"]  # took it without waiting

    # no token anywhere: parameters, states, results, artifacts, worker output
    for token in TOKENS.values():
        assert token not in checks["dump"] and token not in log_text
    assert elapsed < BUDGET_S, f"took {elapsed:.1f}s"


async def _register() -> None:
    from flows.deploy import register

    ids = await register(pool=POOL)
    assert {"export_modifiers/export-store", "import_modifiers/import-store"} <= set(ids)


async def _scenario(stores: dict[str, str], out: Path, started: float) -> dict:
    from prefect.client.orchestration import get_client
    from prefect.concurrency.asyncio import concurrency

    from flows.agency import export_all_stores
    from flows.store import ensure_store_limit

    refs = [{"name": name, "api_url": f"{url}/stores/{name}/v3", "store_hash": name,
             "token_env": f"BCMOD_TOKEN_{name.upper()}"} for name, url in stores.items()]
    await ensure_store_limit("beta")
    async with get_client() as client:
        async with concurrency("store:beta", occupy=1, strict=True):  # a run elsewhere holds beta's slot
            parent = asyncio.create_task(export_all_stores(
                stores=refs, out=str(out), timeout=BUDGET_S - 20, poll_interval=0.5, return_state=True))
            alpha = await _wait_for(client, parent, f"export-alpha-{utc_day()}", lambda s: s.is_final(), started)
            alpha_done_at = time.monotonic() - started
            beta = await _wait_for(client, parent, f"export-beta-{utc_day()}", lambda s: s.is_running(), started)
            held_from = time.monotonic()
            await asyncio.sleep(2.5)  # beta's run is up and asking for its slot
            beta_requests_while_held = sandbox_requests(stores["beta"])
            beta = await client.read_flow_run(beta.id)
            assert alpha.state.is_completed(), alpha.state
            assert beta.state.is_running(), beta.state
            released_at = datetime.now(timezone.utc)  # the slot is still the test's until the block ends
        beta_waited = time.monotonic() - held_from
        state = await parent
        beta_done_at = time.monotonic() - started
        rows = await state.aresult(raise_on_failure=False) if state.is_completed() else None
        checks = await _checks(client, state.state_details.flow_run_id)
    return {"parent_state": state.type.value, "rows": rows, "alpha_done_at": alpha_done_at,
            "beta_done_at": beta_done_at, "beta_waited": beta_waited, "released_at": released_at,
            "beta_requests_while_held": beta_requests_while_held, "checks": checks}


async def _wait_for(client, parent: asyncio.Task, name: str, condition, started: float):
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterName
    from prefect.client.schemas.sorting import FlowRunSort

    while time.monotonic() - started < BUDGET_S - 15:
        if parent.done():
            raise AssertionError(f"the parent ended before {name} was seen: {parent.result()}")
        runs = await client.read_flow_runs(flow_run_filter=FlowRunFilter(name=FlowRunFilterName(any_=[name])),
                                           sort=FlowRunSort.ID_DESC, limit=10)
        if runs and runs[0].state and condition(runs[0].state):
            return runs[0]
        await asyncio.sleep(0.25)
    raise AssertionError(f"{name} never reached the expected state; last: {runs[0].state if runs else None}")


async def _checks(client, parent_id) -> dict:
    """What the server recorded: child runs, their deployment and worker, limits, logs, one dump."""
    from prefect.client.schemas.filters import (
        FlowRunFilter,
        FlowRunFilterParentFlowRunId,
        LogFilter,
        LogFilterFlowRunId,
    )
    from prefect.client.schemas.sorting import ArtifactSort, FlowRunSort, LogSort

    children = await client.read_flow_runs(flow_run_filter=FlowRunFilter(
        parent_flow_run_id=FlowRunFilterParentFlowRunId(any_=[parent_id])), sort=FlowRunSort.ID_DESC, limit=50)
    deployments = {(await client.read_deployment(c.deployment_id)).name for c in children if c.deployment_id}
    limits = {}
    for name in ("store:alpha", "store:beta"):
        limit = await client.read_global_concurrency_limit_by_name(name)
        limits[name] = (limit.limit, limit.active_slots)
    slot_wait = {}  # seconds between the first "waiting for the store slot" and "holding the store slot"
    slot_taken = {}  # when the run logged "holding the store slot"
    for child in children:
        records = await client.read_logs(log_filter=LogFilter(flow_run_id=LogFilterFlowRunId(any_=[child.id])),
                                         sort=LogSort.TIMESTAMP_ASC, limit=200, offset=0)
        waiting = [r.timestamp for r in records if r.message.startswith("waiting for the store slot store:")]
        holding = [r.timestamp for r in records if r.message.startswith("holding the store slot store:")]
        slot_wait[child.name] = (holding[0] - waiting[0]).total_seconds() if waiting else 0
        slot_taken[child.name] = holding[0] if holding else None
    every_run = await client.read_flow_runs(sort=FlowRunSort.ID_DESC, limit=200)
    artifacts = await client.read_artifacts(sort=ArtifactSort.CREATED_DESC, limit=200)
    dump = json.dumps([r.model_dump(mode="json") for r in every_run] + [a.model_dump(mode="json") for a in artifacts],
                      default=str)
    return {"children": {c.name for c in children}, "child_deployments": deployments,
            "pools": {c.work_pool_name for c in children}, "labels": [dict(c.labels) for c in children],
            "limits": limits, "slot_wait": slot_wait, "slot_taken": slot_taken,
            "dump": dump}


def test_a_store_names_where_its_token_lives_and_never_holds_it():
    from pydantic import ValidationError

    from flows.agency import StoreRef

    ref = StoreRef(name="acme", store_hash="abc123", token_secret_block="bcmod-token-acme")
    assert ref.export_parameters() == {"store": {"store_hash": "abc123", "token_secret_block": "bcmod-token-acme"}}
    with pytest.raises(ValidationError) as refused:
        StoreRef.model_validate({"name": "acme", "store_hash": "abc123", "token": TOKENS["alpha"]})
    assert "token" in str(refused.value) and TOKENS["alpha"] not in str(refused.value)
    for bad in ({"name": "acme", "token_env": "X"}, {"name": "acme", "store_hash": "h"},
                {"name": "acme", "store_hash": "h", "token_env": "X", "token_secret_block": "b"},
                {"name": "../etc", "store_hash": "h", "token_env": "X"}):
        with pytest.raises(ValidationError):
            StoreRef.model_validate(bad)


def test_a_missing_token_variable_is_named_not_guessed(monkeypatch, tmp_path):
    from flows.store import StoreParams, resolve_settings, store_key, store_limit_name

    for name in ("BIGCOMMERCE_STORE_HASH", "BIGCOMMERCE_API_URL", "BIGCOMMERCE_ACCESS_TOKEN", "BCMOD_TOKEN_NOPE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)  # no .env
    with pytest.raises(ValueError, match="BCMOD_TOKEN_NOPE"):
        resolve_settings(StoreParams(store_hash="abc123", token_env="BCMOD_TOKEN_NOPE"))
    monkeypatch.setenv("BCMOD_TOKEN_YES", TOKENS["beta"])
    settings = resolve_settings(StoreParams(api_url="http://127.0.0.1:9/stores/beta/v3", token_env="BCMOD_TOKEN_YES"))
    assert settings.access_token.get_secret_value() == TOKENS["beta"]
    assert store_key(settings) == "beta"
    monkeypatch.setenv("BIGCOMMERCE_STORE_HASH", "alpha")  # the worker's own store does not relabel the run's
    assert store_key(resolve_settings(StoreParams(api_url="http://127.0.0.1:9/stores/beta/v3",
                                                  token_env="BCMOD_TOKEN_YES"))) == "beta"
    assert store_limit_name("proxy.example/bc") == "store:proxy.example_bc"


def test_store_slot_modes_under_the_harness(prefect_harness, monkeypatch):
    """auto creates a missing limit with one slot; existing runs unguarded (a warning) when there is none;
    off takes nothing."""
    from prefect.client.orchestration import get_client
    from prefect.exceptions import ObjectNotFound

    from flows.slot import store_slot

    async def scenario() -> dict:
        seen = {}
        for mode, key in (("off", "slot-off"), ("existing", "slot-existing"), ("auto", "slot-auto")):
            monkeypatch.setenv("BCMOD_STORE_SLOTS", mode)
            async with store_slot(key, timeout_seconds=10) as name:
                seen[mode] = name
        async with get_client() as client:
            for mode, key in (("existing", "slot-existing"), ("auto", "slot-auto")):
                try:
                    limit = await client.read_global_concurrency_limit_by_name(f"store:{key}")
                    seen[f"{mode}-limit"] = (limit.limit, limit.active_slots)
                except ObjectNotFound:
                    seen[f"{mode}-limit"] = None
        return seen

    seen = asyncio.run(scenario())
    assert seen == {"off": None, "existing": "store:slot-existing", "auto": "store:slot-auto",
                    "existing-limit": None, "auto-limit": (1, 0)}


def test_prefect_yaml_and_flows_deploy_describe_the_same_deployments():
    import yaml

    from flows.deploy import ENTRYPOINTS, WORK_POOL, pull_step
    from flows.nightly import SERVED_DEPLOYMENT

    config = yaml.safe_load((REPO / "prefect.yaml").read_text())
    assert config["pull"] == [pull_step()]
    assert pull_step("/srv/bcmod") == {"flows.home.enter_home": {"directory": "/srv/bcmod"}}  # deploy --home
    by_name = {d["name"]: d for d in config["deployments"]}
    for name, entrypoint in ENTRYPOINTS.items():
        assert by_name[name]["entrypoint"] == entrypoint and by_name[name]["work_pool"]["name"] == WORK_POOL
    assert by_name["nightly-export"]["work_pool"]["name"] == WORK_POOL
    assert by_name["agency-nightly"]["schedules"][0]["cron"] == by_name["nightly-export"]["schedules"][0]["cron"]
    # one deployment per route: prefect.yaml's names are unique and `serve` uses a name of its own
    routes = [(d["entrypoint"].rsplit(".", 1)[1], d["name"]) for d in config["deployments"]]
    assert len(routes) == len(set(routes)) and SERVED_DEPLOYMENT not in by_name
    for deployment in config["deployments"]:  # every entrypoint imports as a module path from anywhere
        module, _, attribute = deployment["entrypoint"].rpartition(".")
        assert ":" not in deployment["entrypoint"] and hasattr(importlib.import_module(module), attribute)


def test_agency_without_stores_fails_and_says_where_to_list_them(prefect_harness):
    from flows.agency import export_all_stores

    state = asyncio.run(export_all_stores(stores=[], return_state=True))
    assert state.is_failed()
    assert "no stores listed: give agency-nightly its stores" in state.message
