"""A real Prefect server for the flows tests that need one (marked `prefect_server`).

`prefect server start` runs as a subprocess on a free port of 127.0.0.1 with its own PREFECT_HOME,
once per session, and is always torn down. Unlike `prefect_test_harness`, it runs the server's
services (the scheduler, the lease repossessor) and is reached only through the CLI and HTTP, as an
operator would.
"""

from __future__ import annotations

import logging
import os
import shlex
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

REPO = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
SERVER_STARTUP_S = 120
SCRUBBED_PREFIXES = ("PREFECT_", "BIGCOMMERCE_", "BCMOD_")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def clean_env(**extra: str) -> dict[str, str]:
    """This process's environment without any Prefect, store or bcmod setting, plus `extra`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(SCRUBBED_PREFIXES)}
    env.update(extra)
    return env


def argv(command: str) -> list[str]:
    """A documented command line as arguments, run with this virtualenv's `prefect` and `python`."""
    args = shlex.split(command)
    if args[0] == "prefect":
        args[0] = str(BIN / "prefect")
    elif args[0] == "python":
        args[0] = sys.executable
    return args


def stop(process: subprocess.Popen, sig: int = signal.SIGTERM, timeout: float = 20) -> int | None:
    """Signal a process started with `start_new_session` (its whole group), then kill it if it lingers."""
    if process.poll() is None:
        try:
            os.killpg(process.pid, sig)
            process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=10)
        except ProcessLookupError:
            pass
    return process.returncode


@dataclass
class PrefectServer:
    """A running `prefect server start` and how to talk to it."""

    api_url: str
    root: Path
    process: subprocess.Popen
    log: Path
    commands: list[str] = field(default_factory=list)  # every CLI command run against it, for reports

    def env(self, **extra: str) -> dict[str, str]:
        """The environment of a CLI command or worker pointed at this server (its own PREFECT_HOME)."""
        return clean_env(PREFECT_API_URL=self.api_url, PREFECT_HOME=str(self.root / "client-home"),
                         PREFECT_SERVER_ANALYTICS_ENABLED="false", COLUMNS="200", **extra)

    def cli(self, command: str, *extra: str, cwd: Path = REPO, stdin: str | None = None, timeout: float = 120,
            env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
        """Run a documented command (plus `extra` arguments) to completion; output is text."""
        self.commands.append(command)
        return subprocess.run([*argv(command), *extra], cwd=cwd, input=stdin, capture_output=True, text=True,
                              timeout=timeout, env=env or self.env())

    def api(self, method: str, path: str, json: Any = None) -> Any:
        response = httpx.request(method, f"{self.api_url}{path}", json=json, timeout=30)
        response.raise_for_status()
        return response.json() if response.content else None

    def server_log(self) -> str:
        return self.log.read_text(errors="replace")


@pytest.fixture(scope="session")
def prefect_server(tmp_path_factory) -> Iterator[PrefectServer]:
    root = tmp_path_factory.mktemp("prefect-server")
    port = free_port()
    log = root / "server.log"
    env = clean_env(PREFECT_HOME=str(root / "server-home"), PREFECT_SERVER_ANALYTICS_ENABLED="false")
    with log.open("wb") as out:
        process = subprocess.Popen(
            [*argv(f"prefect server start --host 127.0.0.1 --port {port}"), "--no-ui"],
            cwd=root, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    server = PrefectServer(f"http://127.0.0.1:{port}/api", root, process, log)
    try:
        deadline = time.monotonic() + SERVER_STARTUP_S
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"prefect server start exited with {process.returncode}:\n"
                                   f"{server.server_log()[-3000:]}")
            try:
                if httpx.get(f"{server.api_url}/health", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"prefect server did not answer within {SERVER_STARTUP_S} s:\n"
                                   f"{server.server_log()[-3000:]}")
            time.sleep(0.5)
        yield server
    finally:
        stop(process)


@pytest.fixture
def no_store_env(monkeypatch, tmp_path):
    """No store from the developer's shell or .env: the test names every store itself."""
    for name in ("BIGCOMMERCE_ACCESS_TOKEN", "BIGCOMMERCE_STORE_HASH", "BIGCOMMERCE_API_URL", "BCMOD_STORE_SLOTS",
                 "BCMOD_STORE_SLOT_TIMEOUT", "BCMOD_SLOT_LOG_SECONDS", "BCMOD_EXPORT_URL_MAP"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)  # no .env here


class RunLogLines(logging.Handler):
    """Collects the messages of Prefect's run loggers (they do not propagate to the root logger)."""

    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(record.getMessage())


@pytest.fixture
def prefect_logs():
    import prefect.main  # noqa: F401 - configures Prefect's logging (replacing handlers) on first import

    handler = RunLogLines()
    loggers = [logging.getLogger(name) for name in ("prefect.flow_runs", "prefect.task_runs", "prefect.bcmod")]
    for logger in loggers:
        logger.addHandler(handler)
    try:
        yield handler
    finally:
        for logger in loggers:
            logger.removeHandler(handler)
