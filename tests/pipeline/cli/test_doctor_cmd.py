"""`bcmod doctor` against sandboxes served over HTTP on 127.0.0.1 (normal and literal include_fields)
and the embedded one: the table, --json, exit codes, one line for a wrong token, and never a write."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass

import httpx
import pytest
from typer.testing import CliRunner

from pipeline.cli.main import app
from pipeline.doctor import CHECK_NAMES
from pipeline.sandbox.config import SandboxConfig
from pipeline.sandbox.server import serve_in_thread

TOKEN = "cli-doctor-token-3b9e"
WRONG = "cli-doctor-wrong-8d2a"
NO_STORE = {"BIGCOMMERCE_API_URL": None, "BIGCOMMERCE_STORE_HASH": None, "BIGCOMMERCE_ACCESS_TOKEN": None}


@dataclass
class Served:
    base_url: str
    api_url: str

    def env(self, token: str = TOKEN) -> dict[str, str | None]:
        return {"BIGCOMMERCE_API_URL": self.api_url, "BIGCOMMERCE_ACCESS_TOKEN": token,
                "BIGCOMMERCE_STORE_HASH": None, "COLUMNS": "300"}

    def requests(self) -> dict[str, int]:
        return httpx.get(f"{self.base_url}/_sandbox/stats", timeout=10).json()["requests"]


def invoke(env: dict[str, str | None], *args: str):
    result = CliRunner().invoke(app, ["doctor", *args], env=env)
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    assert "Traceback" not in result.output
    return result


@pytest.fixture(params=[False, True], ids=["normal", "literal-include-fields"])
def served(request, tmp_path) -> Iterator[Served]:
    config = SandboxConfig(data_dir=tmp_path / "store", products=30, token=TOKEN, quota=150,
                           literal_include_fields=request.param)
    with serve_in_thread(config) as base_url:
        yield Served(base_url, f"{base_url}/stores/{config.store_hash}/v3")


def test_all_checks_pass_in_a_table_and_as_json_without_a_write(served, request):
    literal = "literal" in request.node.callspec.id
    shown = invoke(served.env())
    assert shown.exit_code == 0, shown.output
    for name in CHECK_NAMES:
        assert name in shown.stdout
    assert "FAIL" not in shown.stdout and "No check failed" in shown.stdout
    assert "quota 150 requests per 30 s window" in shown.stdout
    assert ("literal: only id and sku,name,date_modified come back" in shown.stdout) is literal
    assert "No store is configured" not in shown.stdout
    report = json.loads(invoke(served.env(), "--json").stdout)
    assert report["ok"] is True and report["sandbox"] is False
    assert [c["name"] for c in report["checks"]] == list(CHECK_NAMES)
    assert all(c["status"] == "pass" for c in report["checks"])
    assert report["checks"][3]["data"]["mode"] == ("literal" if literal else "trims")
    assert report["requests"] == {"api": 2, "image": 1}
    requests = served.requests()
    assert requests["GET"] == 4 and requests["POST"] == requests["PUT"] == requests["DELETE"] == 0
    assert TOKEN not in shown.output


def test_a_wrong_token_is_one_line_and_exit_1_never_the_token(served):
    result = invoke(served.env(WRONG))
    assert result.exit_code == 1
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "refused the access token (HTTP 401)" in lines[0], result.stderr
    as_json = invoke(served.env(WRONG), "--json")
    assert as_json.exit_code == 1 and json.loads(as_json.stdout)["checks"][0]["status"] == "fail"
    for output in (result.stdout, result.stderr, as_json.stdout, as_json.stderr):
        assert WRONG not in output and TOKEN not in output
    requests = served.requests()
    assert requests["POST"] == requests["PUT"] == requests["DELETE"] == 0


def test_a_failed_check_exits_1(tmp_path):
    """A wrong store hash: the products listing answers 404, so the first check fails and the rest do not run."""
    config = SandboxConfig(data_dir=tmp_path / "store", products=5, token=TOKEN, quota=None)
    with serve_in_thread(config) as base_url:
        env = Served(base_url, f"{base_url}/stores/no-such-store/v3").env()
        result = invoke(env)
    assert result.exit_code == 1
    assert "FAIL" in result.stdout and "could not read the products listing" in result.stdout


def test_with_no_store_configured_it_checks_the_embedded_sandbox_and_says_so(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # no .env of the developer's
    result = invoke({**NO_STORE, "COLUMNS": "300"}, "--sandbox-dir", str(tmp_path / "sandbox"))
    assert result.exit_code == 0, result.output
    assert "No store is configured" in result.stdout and "sandbox store" in result.stdout
    report = json.loads(invoke(NO_STORE, "--json", "--sandbox-dir", str(tmp_path / "sandbox")).stdout)
    assert report["sandbox"] is True and report["ok"] is True
