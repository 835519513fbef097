"""How a sandbox is told to be strict: config defaults, the CLI flags, the absent-spec fallback, the tally."""

from __future__ import annotations

import logging
import os
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
import typer
from starlette.applications import Starlette
from typer.testing import CliRunner

from pipeline.cli import sandbox_cmd
from pipeline.sandbox import contract
from pipeline.sandbox.config import SandboxConfig
from pipeline.sandbox.tally import ENV_FILE, read_reports, summary_line, write_report

from .support import API, TOKEN, assert_error, client_for, needs_specs

pytestmark = pytest.mark.anyio
REPO = Path(__file__).resolve().parents[3]
# `bcmod sandbox serve`, without importing the rest of the CLI (it has nothing to do with this test)
SERVE_CLI = "from pipeline.cli.sandbox_cmd import app; app(prog_name='bcmod sandbox')"


def test_strict_default_comes_from_the_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("BCMOD_SANDBOX_STRICT", raising=False)
    assert SandboxConfig(data_dir=tmp_path).strict is True, "strict unless told otherwise"
    monkeypatch.setenv("BCMOD_SANDBOX_STRICT", "0")
    assert SandboxConfig(data_dir=tmp_path).strict is False
    assert SandboxConfig(data_dir=tmp_path, strict=True).strict is True
    monkeypatch.setenv("BCMOD_SANDBOX_CHECK_RESPONSES", "off")
    assert SandboxConfig(data_dir=tmp_path).check_responses is False
    monkeypatch.setenv("BCMOD_SANDBOX_STRICT", "maybe")
    with pytest.raises(ValueError, match="BCMOD_SANDBOX_STRICT"):
        SandboxConfig(data_dir=tmp_path)


async def test_without_the_specs_the_sandbox_keeps_its_rules_and_says_so(
        make_app: Callable[..., Starlette], tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        caplog: pytest.LogCaptureFixture) -> None:
    monkeypatch.setattr(contract, "_said_no_specs", False)
    with caplog.at_level(logging.WARNING, logger="pipeline.sandbox.contract"):
        app = make_app(strict=True, spec_dir=tmp_path / "none")
        make_app(strict=True, spec_dir=tmp_path / "none")
    said = [r for r in caplog.records if "without the spec check" in r.getMessage()]
    assert len(said) == 1, "said once"
    async with client_for(app) as client:
        modifier = (await client.get(f"{API}/catalog/products/2/modifiers")).json()["data"][0]
        r = await client.put(f"{API}/catalog/products/2/modifiers/{modifier['id']}", json={"required": True})
        assert r.status_code == 200, "its own rules take a partial PUT"
        assert_error(await client.get(f"{API}/catalog/products", params={"limit": 251}), 422, "limit")
    assert app.state.sandbox.stats.snapshot()["contract"]["checked"] == 0


@pytest.mark.parametrize(("args", "strict", "literal"), [
    ([], None, False),
    (["--strict"], True, False),
    (["--no-strict", "--literal-include-fields"], False, True),
])
def test_cli_flags(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, args: list[str], strict: bool | None,
                   literal: bool) -> None:
    served: list[SandboxConfig] = []
    monkeypatch.setattr("pipeline.sandbox.server.serve_forever", lambda config, **_: served.append(config))
    monkeypatch.setenv("BCMOD_SANDBOX_STRICT", "0")
    cli = typer.Typer()  # mounted as bcmod mounts it, without importing the rest of the CLI
    cli.add_typer(sandbox_cmd.app, name="sandbox")
    result = CliRunner().invoke(cli, ["sandbox", "serve", "--data", str(tmp_path), *args])
    assert result.exit_code == 0, result.output
    (config,) = served
    assert config.strict is bool(strict) and config.literal_include_fields is literal
    assert ("not strict" in result.output) is not bool(strict)


def test_tally_report_lines(tmp_path: Path) -> None:
    target = tmp_path / "tally.jsonl"
    assert write_report(target) and write_report(target)
    reports = read_reports(target)
    assert len(reports) == 2 and reports[0]["pid"] == os.getpid()
    assert set(reports[0]) >= {"checked", "refused", "responses_checked", "response_violations", "violations"}
    assert read_reports(tmp_path / "missing.jsonl") == []
    line = summary_line({"checked": 10, "refused": 2, "response_violations": 0, "request_violations": 0})
    assert line == "strict sandbox: 10 requests checked, 2 refused for violations, 0 response violations"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@needs_specs
@pytest.mark.e2e
def test_a_served_sandbox_reports_its_tally_when_it_stops(tmp_path: Path) -> None:
    """`bcmod sandbox serve --strict` in its own process appends its counts for the test session."""
    port, tally_file = _free_port(), tmp_path / "tally.jsonl"
    env = {**os.environ, ENV_FILE: str(tally_file), "SANDBOX_TOKEN": TOKEN, "PYTHONPATH": str(REPO)}
    command = [sys.executable, "-c", SERVE_CLI, "--strict", "--port", str(port), "--data", str(tmp_path / "store"),
               "--products", "3"]
    process = subprocess.Popen(command, cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                httpx.get(f"{base}/_sandbox/stats", timeout=1)
                break
            except httpx.HTTPError:
                assert process.poll() is None and time.monotonic() < deadline, "the sandbox did not start"
                time.sleep(0.05)
        with httpx.Client(base_url=base, headers={"X-Auth-Token": TOKEN}, timeout=10) as client:
            assert client.get(f"{API}/catalog/products").status_code == 200
            assert client.get(f"{API}/catalog/products", params={"limit": 251}).status_code == 422
    finally:
        process.terminate()
        process.wait(timeout=20)
    (report,) = read_reports(tally_file)
    assert report["pid"] == process.pid and report["checked"] == 2 and report["refused"] == 1
