"""An operator's day on a real Prefect server, with the commands of the README and docs/scale-out.md
(tests/flows/operator_commands.py), each run as a subprocess.

`prefect server start` runs with its scheduler (tests/flows/conftest.py); the work pool and
`prefect deploy --all` come from prefect.yaml; `prefect worker start` runs in an empty folder with no
BCMOD_HOME; the store `abc123` is a sandbox served by uvicorn on 127.0.0.1 in this process, its token
in the Secret block `bcmod-token-acme`. Runs are started with `prefect deployment run ... --watch`.
The figures the issue asks for (time to the first scheduled runs, time a wrong-token run takes to
fail, time a killed run's slot takes to come back) are printed; no assertion depends on them.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest

from flows.naming import utc_day
from pipeline.cli.demo_edit import scripted_edit
from pipeline.sandbox.config import SandboxConfig
from pipeline.sandbox.server import serve_in_thread
from pipeline.workbook.reader import read_export
from tests.flows.conftest import PrefectServer, argv, stop
from tests.flows.operator_commands import COMMANDS, POOL, SECRET_BLOCK, STORE_HASH
from tests.flows.support import edit_product, sandbox_requests, seed_long_ago
from tests.stores import TEST_TOKEN

pytestmark = pytest.mark.prefect_server

DAY = utc_day()
HOST = socket.gethostname()
RUN_NAME = f"export-{STORE_HASH}-{DAY}"
UUID = re.compile(r"UUID: ([0-9a-f-]{36})")
PRODUCTS = 20
WRONG_TOKEN = "not-the-token-7d1e"
EXPECTED_DEPLOYMENTS = {("export_modifiers", "nightly-export"), ("export_modifiers", "export-store"),
                        ("import_modifiers", "import-store"), ("export_all_stores", "agency-nightly")}
CRON_DEPLOYMENTS = {"nightly-export", "agency-nightly"}
BOUND_S = 120


def wait_until(what: str, check, timeout: float = BOUND_S, every: float = 0.5) -> Any:
    """Poll `check()` until it returns something truthy; fail naming `what` after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        assert time.monotonic() < deadline, f"{what}: not within {timeout:.0f} s"
        time.sleep(every)


def output(result: subprocess.CompletedProcess) -> str:
    return f"exit {result.returncode}\n{result.stdout[-4000:]}\n{result.stderr[-4000:]}"


def cli_all(server: PrefectServer, commands: dict[str, str]) -> dict[str, subprocess.CompletedProcess]:
    """Several read-only commands at once (each one is mostly Python start-up)."""
    with ThreadPoolExecutor(max_workers=4) as pool:
        futures = {name: pool.submit(server.cli, command) for name, command in commands.items()}
        return {name: future.result() for name, future in futures.items()}


def decoded(data: Any) -> Any:
    return json.loads(data) if isinstance(data, str) else data


def seconds_between(start: str, end: str) -> float:
    return (datetime.fromisoformat(end) - datetime.fromisoformat(start)).total_seconds()


@pytest.fixture(scope="module")
def deployed(prefect_server: PrefectServer) -> dict[str, Any]:
    """`prefect work-pool create` and `prefect deploy --all`, as make prefect-deploy runs them."""
    pool = prefect_server.cli(COMMANDS["pool"])
    deploy = prefect_server.cli(COMMANDS["deploy"])
    return {"pool": pool, "deploy": deploy, "done_at": time.monotonic()}


def at_url(command: str, api_url: str) -> list[str]:
    """`-p store=...`: the command's documented store, sent to `api_url` (the later `-p` wins)."""
    documented = next((json.loads(arg.partition("=")[2]) for arg in argv(command) if arg.startswith("store=")), {})
    return ["-p", "store=" + json.dumps({**documented, "api_url": api_url})]


@dataclass
class Day:
    """The operator's setup: the server, a worker, the store (fast) and the same store slowed down."""

    server: PrefectServer
    worker: subprocess.Popen
    worker_log: Path
    base: str
    api_url: str
    slow_url: str
    out: Path
    root: Path
    last_full_export: Path | None = None

    def run(self, name: str, *extra: str, api_url: str | None = None, out: Path | None = None,
            cwd: Path | None = None) -> tuple[subprocess.CompletedProcess, dict[str, Any]]:
        """Start a documented `prefect deployment run ... --watch`; its result and its flow run."""
        pointers = at_url(COMMANDS[name], api_url) if api_url else []
        pointers += ["-p", f"out={out}"] if out else []
        result = self.server.cli(COMMANDS[name], *pointers, *extra, "--watch-interval", "1", timeout=240,
                                 cwd=cwd or self.root)
        found = UUID.search(result.stdout)
        assert found, output(result)
        return result, self.flow_run(found.group(1))

    def export(self, api_url: str | None = None) -> tuple[subprocess.CompletedProcess, dict[str, Any]]:
        return self.run("run_export", api_url=api_url or self.api_url, out=self.out)

    def flow_run(self, flow_run_id: str) -> dict[str, Any]:
        return self.server.api("GET", f"/flow_runs/{flow_run_id}")

    def logs(self, flow_run_id: str, until: str | None = None) -> list[str]:
        """The run's log messages; with `until`, waits (bounded) for a line containing it to arrive."""
        def read() -> list[str]:
            records = self.server.api("POST", "/logs/filter", {"logs": {"flow_run_id": {"any_": [flow_run_id]}},
                                                               "sort": "TIMESTAMP_ASC", "limit": 200})
            return [r["message"] for r in records]

        if until is None:
            return read()
        return wait_until(f"log line {until!r}", lambda: (lines := read()) and any(until in x for x in lines) and lines,
                          timeout=30)

    def log_time(self, flow_run_id: str, starts: str) -> datetime:
        records = self.server.api("POST", "/logs/filter", {"logs": {"flow_run_id": {"any_": [flow_run_id]}},
                                                           "sort": "TIMESTAMP_ASC", "limit": 200})
        return next(datetime.fromisoformat(r["timestamp"]) for r in records if r["message"].startswith(starts))

    def task_runs(self, flow_run_id: str) -> list[dict[str, Any]]:
        return self.server.api("POST", "/task_runs/filter", {"flow_runs": {"id": {"any_": [flow_run_id]}}})

    def artifacts(self, flow_run_id: str) -> dict[str, dict[str, Any]]:
        found = self.server.api("POST", "/artifacts/filter", {"artifacts": {"flow_run_id": {"any_": [flow_run_id]}}})
        return {a["key"]: a for a in found}

    def summary(self, flow_run_id: str) -> dict[str, Any]:
        return decoded(self.artifacts(flow_run_id)[f"bcmod-export-{STORE_HASH}"]["data"])[0]

    def slot(self) -> dict[str, Any]:
        return self.server.api("GET", f"/v2/concurrency_limits/store:{STORE_HASH}")

    def last_export(self) -> dict[str, Any]:
        return self.server.api("GET", f"/variables/name/bcmod_last_export_{STORE_HASH}")["value"]

    def save_token(self, token: str) -> None:
        """`python -m flows.secret bcmod-token-acme`, the token piped in."""
        saved = self.server.cli(COMMANDS["secret"], stdin=token + "\n")
        assert saved.returncode == 0 and token not in saved.stdout + saved.stderr, output(saved)

    def save_token_quickly(self, token: str) -> None:
        """The same block saved from this process (no CLI start-up), for tests that change it twice."""
        from prefect.blocks.system import Secret
        from prefect.settings import PREFECT_API_URL, temporary_settings

        with temporary_settings(updates={PREFECT_API_URL: self.server.api_url}):
            Secret(value=token).save(SECRET_BLOCK, overwrite=True)

    def cli_all(self, commands: dict[str, str]) -> dict[str, subprocess.CompletedProcess]:
        return cli_all(self.server, commands)


@pytest.fixture(scope="module")
def day(prefect_server: PrefectServer, deployed, tmp_path_factory) -> Iterator[Day]:
    root = tmp_path_factory.mktemp("operator-day")
    seed_long_ago(root / "store", PRODUCTS)
    with ExitStack() as stack:
        base = stack.enter_context(serve_in_thread(SandboxConfig(
            data_dir=root / "store", store_hash=STORE_HASH, token=TEST_TOKEN, products=0, quota=None)))
        slow = stack.enter_context(serve_in_thread(SandboxConfig(
            data_dir=root / "slow", store_hash=STORE_HASH, token=TEST_TOKEN, products=5, quota=None,
            latency_ms=20_000)))
        api_url = f"{base}/stores/{STORE_HASH}/v3"
        (root / "worker-cwd").mkdir()
        worker_log = root / "worker.log"
        # a worker as on any machine: its checkout's prefect, PREFECT_API_URL, no BCMOD_HOME; the store of
        # the single-store nightly deployment in its environment (.env would do the same)
        env = prefect_server.env(PREFECT_WORKER_QUERY_SECONDS="1", BIGCOMMERCE_API_URL=api_url,
                                 BIGCOMMERCE_ACCESS_TOKEN=TEST_TOKEN)
        with worker_log.open("wb") as log:
            worker = subprocess.Popen(argv(COMMANDS["worker_limit"]), cwd=root / "worker-cwd", env=env, stdout=log,
                                      stderr=subprocess.STDOUT, start_new_session=True, preexec_fn=as_in_a_terminal)
        stack.callback(stop, worker, signal.SIGINT, 30)
        operator = Day(prefect_server, worker, worker_log, base, api_url, f"{slow}/stores/{STORE_HASH}/v3",
                       root / "exports", root)
        operator.save_token(TEST_TOKEN)
        limit = prefect_server.cli(COMMANDS["gcl_create"])  # up front; a run would create it too
        assert limit.returncode == 0, output(limit)
        wait_until("the worker started", lambda: "started!" in worker_log.read_text(errors="replace"), timeout=90)
        yield operator


def test_deploy_all_creates_every_deployment_and_the_scheduler_fires(prefect_server: PrefectServer, deployed):
    assert deployed["pool"].returncode == 0, output(deployed["pool"])
    assert deployed["deploy"].returncode == 0, output(deployed["deploy"])
    flows = {f["id"]: f["name"] for f in prefect_server.api("POST", "/flows/filter", {})}
    deployments = prefect_server.api("POST", "/deployments/filter", {})
    assert {(flows[d["flow_id"]], d["name"]) for d in deployments} >= EXPECTED_DEPLOYMENTS
    for deployment in deployments:
        if deployment["name"] in {name for _, name in EXPECTED_DEPLOYMENTS}:
            assert deployment["pull_steps"] == [{"flows.home.enter_home": {}}]
            assert ":" not in deployment["entrypoint"] and deployment["work_pool_name"] == POOL
    cron_ids = {d["id"]: d["name"] for d in deployments if d["name"] in CRON_DEPLOYMENTS}

    def scheduled() -> dict[str, list[str]] | None:
        runs = prefect_server.api("POST", "/flow_runs/filter", {
            "flow_runs": {"deployment_id": {"any_": list(cron_ids)}, "state": {"type": {"any_": ["SCHEDULED"]}}}})
        by_name: dict[str, list[str]] = {}
        for run in runs:
            by_name.setdefault(cron_ids[run["deployment_id"]], []).append(run["expected_start_time"])
        return by_name if set(by_name) == CRON_DEPLOYMENTS else None

    runs = wait_until("scheduled runs of nightly-export and agency-nightly", scheduled)
    waited = time.monotonic() - deployed["done_at"]
    for starts in runs.values():  # the cron is 0 2 * * * UTC
        assert all(datetime.fromisoformat(s).astimezone(timezone.utc).strftime("%H:%M") == "02:00" for s in starts)
    print(f"\nscheduler: {sum(map(len, runs.values()))} scheduled runs of {sorted(runs)} "
          f"{waited:.1f} s after `prefect deploy --all` returned")
    shown = cli_all(prefect_server, {name: COMMANDS[name] for name in ("scheduled", "deployments", "pools")})
    for result in shown.values():
        assert result.returncode == 0, output(result)
    assert "export_all_stores" in shown["scheduled"].stdout and "agency-nightly" in shown["deployments"].stdout
    assert POOL in shown["pools"].stdout
    assert "InvalidRequestError" not in prefect_server.server_log()
    assert "Traceback" not in prefect_server.server_log(), prefect_server.server_log()[-3000:]


def test_serve_has_a_deployment_name_of_its_own(prefect_server: PrefectServer, deployed, tmp_path):
    """`python -m flows.nightly` serves nightly-export-served; prefect.yaml's nightly-export keeps its pool."""
    def deployments() -> dict[str, dict[str, Any]]:
        return {d["name"]: d for d in prefect_server.api("POST", "/deployments/filter", {})}

    log = tmp_path / "serve.log"
    with log.open("wb") as out:
        serving = subprocess.Popen(argv(COMMANDS["serve"]), cwd=tmp_path, env=prefect_server.env(), stdout=out,
                                   stderr=subprocess.STDOUT, start_new_session=True)
    try:
        served = wait_until("the served deployment", lambda: deployments().get("nightly-export-served"))
    finally:
        assert stop(serving, signal.SIGINT, 30) is not None
    pooled = deployments()["nightly-export"]
    assert served["id"] != pooled["id"] and pooled["work_pool_name"] == POOL and served["work_pool_name"] is None
    assert served["schedules"][0]["schedule"]["cron"] == pooled["schedules"][0]["schedule"]["cron"] == "0 2 * * *"


def test_an_export_through_a_worker_started_without_bcmod_home(day: Day):
    before = sandbox_requests(day.base)
    result, run = day.export()
    assert result.returncode == 0 and run["state_type"] == "COMPLETED", output(result)
    assert run["name"] == RUN_NAME
    summary = day.summary(run["id"])
    path = Path(summary["path"])
    assert path.is_absolute() and path.parent == day.out and path.exists()
    frames, meta = read_export(path)
    assert meta.store_hash == STORE_HASH and frames.modifiers["product_id"].nunique() == PRODUCTS
    assert summary["host"] == HOST and summary["window"] == "whole catalog"
    assert summary["attempts"] == 1 and summary["requests"] == sandbox_requests(day.base) - before
    logs = day.logs(run["id"], until="wrote ")
    assert f"export of store {STORE_HASH} to {day.out} on host {HOST} (pid " in "\n".join(logs)
    assert "window: whole catalog" in logs
    assert any(line.startswith(f"wrote {path} on host {HOST}: {PRODUCTS} products") for line in logs), logs
    assert {t["name"] for t in day.task_runs(run["id"])} == {f"read {STORE_HASH}: whole catalog",
                                                            f"write workbook to {day.out}"}
    link = day.artifacts(run["id"])[f"bcmod-export-file-{STORE_HASH}"]
    assert f"(file://{HOST}{path})" in link["data"]
    assert day.last_export()["path"] == str(path) and day.slot()["active_slots"] == 0
    day.last_full_export = path
    worker_log = day.worker_log.read_text(errors="replace")
    assert "Executing deployment step: enter_home" in worker_log and "FileNotFoundError" not in worker_log

    # what the operator reads afterwards, with the documented commands
    shown = day.cli_all({**{name: COMMANDS[name] for name in ("runs", "artifacts", "artifact", "link", "variables",
                                                              "last_export", "slots", "slot", "blocks")},
                         "logs": COMMANDS["logs"].replace("<flow-run-id>", run["id"])})
    for name, shown_result in shown.items():
        assert shown_result.returncode == 0, (name, output(shown_result))
        assert TEST_TOKEN not in shown_result.stdout + shown_result.stderr
    assert str(path) in shown["logs"].stdout and str(path) in shown["last_export"].stdout
    assert RUN_NAME in shown["runs"].stdout and SECRET_BLOCK in shown["blocks"].stdout
    assert TEST_TOKEN not in worker_log


def test_the_nightly_deployment_exports_what_changed_since_the_last_success(day: Day):
    previous = day.last_export()
    edit_product(day.api_url, TEST_TOKEN, 103)
    result, run = day.run("run_nightly", out=day.out)  # its store is in the worker's environment
    assert result.returncode == 0 and run["state_type"] == "COMPLETED", output(result)
    summary = day.summary(run["id"])
    started = datetime.fromisoformat(previous["started"])
    assert summary["since"] is not None and datetime.fromisoformat(summary["since"]) < started
    assert summary["products"] == 1 and summary["window"] == f"changed since {summary['since']}"
    assert day.last_export()["started"] > previous["started"]
    forgotten = day.server.cli(COMMANDS["forget_window"])  # the next nightly run is a full export again
    assert forgotten.returncode == 0, output(forgotten)
    assert f"bcmod_last_export_{STORE_HASH}" not in {
        v["name"] for v in day.server.api("POST", "/variables/filter", {})}


def test_an_import_through_the_worker(day: Day):
    exported = day.last_full_export
    workbook = day.root / "edited.xlsx"
    shutil.copy(exported, workbook)
    edits = scripted_edit(workbook)
    result, run = day.run("run_import", "-p", f"workbook={workbook}", api_url=day.api_url)
    assert result.returncode == 0 and run["state_type"] == "COMPLETED", output(result)
    assert run["name"] == f"import-{STORE_HASH}-{DAY}"
    names = {t["name"] for t in day.task_runs(run["id"])}
    assert names == {f"validate and plan edited.xlsx against {STORE_HASH}", f"apply edited.plan.json to {STORE_HASH}"}
    logs = day.logs(run["id"], until="applied ")
    assert any(line.startswith("applied edited.xlsx") and f"on host {HOST}" in line for line in logs), logs
    assert len(edits) > 0 and (day.root / "edited.results.xlsx").exists() and day.slot()["active_slots"] == 0


def test_a_wrong_token_fails_in_seconds_without_retries(day: Day):
    day.save_token_quickly(WRONG_TOKEN)  # the operator pasted the wrong token into the store's block
    try:
        result, run = day.export()
    finally:
        day.save_token_quickly(TEST_TOKEN)
    assert result.returncode != 0 and run["state_type"] == "FAILED", output(result)
    assert "-> 401" in run["state"]["message"]
    reads = [t for t in day.task_runs(run["id"]) if t["name"].startswith("read ")]
    assert [(t["run_count"], t["state_type"]) for t in reads] == [(1, "FAILED")]  # no Prefect retry
    assert day.slot()["active_slots"] == 0  # freed at once
    logs = day.logs(run["id"], until="Finished in state Failed")
    assert WRONG_TOKEN not in "\n".join(logs) and WRONG_TOKEN not in day.worker_log.read_text(errors="replace")
    print(f"\nwrong token: the run failed {seconds_between(run['start_time'], run['end_time']):.1f} s after it "
          f"started ({seconds_between(run['created'], run['end_time']):.1f} s after `prefect deployment run`)")


def test_agency_nightly_fails_without_stores_then_exports_the_listed_ones(day: Day):
    result, run = day.run("run_agency")
    assert result.returncode != 0 and run["state_type"] == "FAILED", output(result)
    assert "no stores listed: give agency-nightly its stores" in run["state"]["message"]

    agency = day.root / "agency"
    agency.mkdir()
    (agency / "stores.json").write_text(json.dumps([{"name": "acme", "store_hash": STORE_HASH, "api_url": day.api_url,
                                                     "token_secret_block": SECRET_BLOCK}]))
    registered = day.server.cli(COMMANDS["deploy_py"], "--out", str(agency / "exports"), cwd=agency)
    assert registered.returncode == 0, output(registered)
    result, run = day.run("run_agency")
    assert result.returncode == 0 and run["state_type"] == "COMPLETED", output(result)
    children = day.server.api("POST", "/flow_runs/filter",
                              {"flow_runs": {"parent_flow_run_id": {"any_": [run["id"]]}}})
    assert [(c["name"], c["state_type"]) for c in children] == [(RUN_NAME, "COMPLETED")]
    row = decoded(day.artifacts(run["id"])["bcmod-agency-export"]["data"])[0]
    assert row["name"] == "acme" and Path(row["path"]).parent == agency / "exports" / "acme" and row["host"] == HOST

    # back to prefect.yaml's agency-nightly, as the docs' "add a store" step does after editing it
    again = day.server.cli(COMMANDS["deploy_agency"])
    assert again.returncode == 0, output(again)
    agency_nightly = next(d for d in day.server.api("POST", "/deployments/filter", {}) if d["name"] == "agency-nightly")
    assert agency_nightly["parameters"]["stores"] == []


def test_a_killed_run_gives_its_store_slot_back(day: Day):
    """A run holding the store's slot is killed with SIGKILL; the next run of the store finds it
    CRASHED, releases its lease and exports."""
    stuck = subprocess.Popen([*argv(COMMANDS["run_export"]), *at_url(COMMANDS["run_export"], day.slow_url),
                              "-p", f"out={day.out}",
                              "--watch-interval", "1"], cwd=day.root, env=day.server.env(), stdout=subprocess.PIPE,
                             stderr=subprocess.STDOUT, text=True, start_new_session=True)
    try:
        def holding() -> dict[str, Any] | None:
            running = day.server.api("POST", "/flow_runs/filter", {"flow_runs": {
                "name": {"any_": [RUN_NAME]}, "state": {"type": {"any_": ["RUNNING"]}}}})
            if running and any(line.startswith("holding the store slot") for line in day.logs(running[0]["id"])):
                return running[0]
            return None

        victim = wait_until("the slow run holding the slot", holding)
        pid = int(re.search(r"\(pid (\d+)\)", "\n".join(day.logs(victim["id"]))).group(1))
        os.kill(pid, signal.SIGKILL)
        killed_at = datetime.now(timezone.utc)
        stuck.communicate(timeout=BOUND_S)
    finally:
        stop(stuck)
    assert wait_until("the killed run marked crashed",
                      lambda: day.flow_run(victim["id"])["state_type"] == "CRASHED", timeout=60)
    result, run = day.export()
    assert result.returncode == 0 and run["state_type"] == "COMPLETED", output(result)
    logs = day.logs(run["id"], until="wrote ")
    assert any(f"held by run {RUN_NAME} ({victim['id']})" in line
               and line.endswith("which is CRASHED: released its lease") for line in logs), logs
    back = (day.log_time(run["id"], "holding the store slot") - killed_at).total_seconds()
    print(f"\nkilled run: its store slot was taken by the next run {back:.1f} s after the kill "
          "(that run's own start included)")
    assert day.slot()["active_slots"] == 0


STOP_WAIT_S = 90


def as_in_a_terminal() -> None:
    """A worker's Ctrl-C as typed in a terminal: SIGINT handled, whatever this suite inherited (a suite
    started in the background of a script, e.g. `make test &`, ignores SIGINT, and so would the worker)."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def test_ctrl_c_or_sigterm_stops_a_worker(day: Day, tmp_path):
    # what Ctrl-C in the worker's terminal sends; the worker has 90 s to wind down before it counts as stuck
    returncode = stop(day.worker, signal.SIGINT, STOP_WAIT_S)
    log = day.worker_log.read_text(errors="replace")
    assert returncode == 0 and "stopped!" in log, log[-2000:]
    # `systemctl stop` sends SIGTERM; Prefect turns it into the same interrupt
    second_log = tmp_path / "worker.log"
    with second_log.open("wb") as out:
        second = subprocess.Popen(argv(COMMANDS["worker"]), cwd=tmp_path, env=day.server.env(), stdout=out,
                                  stderr=subprocess.STDOUT, start_new_session=True, preexec_fn=as_in_a_terminal)
    try:
        wait_until("the second worker started", lambda: "started!" in second_log.read_text(errors="replace"))
    finally:
        returncode = stop(second, signal.SIGTERM, STOP_WAIT_S)
    assert returncode == 0 and "stopped!" in second_log.read_text(errors="replace")
    assert "bulk DML" not in day.server.server_log() and "InvalidRequestError" not in day.server.server_log()
