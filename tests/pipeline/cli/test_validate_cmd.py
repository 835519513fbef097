"""`bcmod validate` against a sandbox served over HTTP on 127.0.0.1:
exit codes, the report, JSON, the annotated copy, and never a write request or a traceback."""

from __future__ import annotations

import asyncio
import json
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

from pipeline.cli.main import app
from pipeline.export import export_store
from pipeline.sandbox.config import SandboxConfig
from pipeline.sandbox.server import serve_in_thread
from pipeline.settings import Settings
from tests.pipeline.validate.exports import edit_xlsx, set_cell

TOKEN = "cli-validate-token"
WRITES = ("POST", "PUT", "DELETE")


@dataclass
class Served:
    base_url: str
    env: dict[str, str | None]
    xlsx: Path
    csv: Path

    def requests(self) -> dict[str, int]:
        return httpx.get(f"{self.base_url}/_sandbox/stats", timeout=10).json()["requests"]


@pytest.fixture(scope="module")
def served(tmp_path_factory) -> Iterator[Served]:
    folder = tmp_path_factory.mktemp("cli")
    config = SandboxConfig(data_dir=folder / "store", products=30, token=TOKEN, quota=None)
    with serve_in_thread(config) as base_url:
        api_url = f"{base_url}/stores/{config.store_hash}/v3"
        settings = Settings.for_sandbox(api_url, TOKEN)
        xlsx = asyncio.run(export_store(settings, folder / "export.xlsx")).path
        csv = asyncio.run(export_store(settings, folder / "csv" / "export", csv=True)).path
        env = {"BIGCOMMERCE_API_URL": api_url, "BIGCOMMERCE_ACCESS_TOKEN": TOKEN, "BIGCOMMERCE_STORE_HASH": None,
               "COLUMNS": "400"}  # rich wraps at the terminal width
        yield Served(base_url, env, xlsx, csv)


def invoke(served: Served, *args: str):
    result = CliRunner().invoke(app, list(args), env=served.env)
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    assert "Traceback" not in result.output
    requests = served.requests()
    assert all(requests[method] == 0 for method in WRITES), requests
    return result


@pytest.fixture
def broken(served, tmp_path) -> Path:
    """The export with a formula, a negative file size and an unknown type."""
    path = tmp_path / "edited.xlsx"
    shutil.copyfile(served.xlsx, path)

    def edit(wb):
        set_cell(wb["Choice values"], 3, "sort_order", "=2*3")
        set_cell(wb["File modifiers"], 2, "file_max_size", -4)
        set_cell(wb["Choice modifiers"], 2, "type", "slider")
    edit_xlsx(path, edit)
    return path


def test_a_clean_export_exits_0_and_only_reads_from_the_store(served):
    before = served.requests()["GET"]
    for path in (served.xlsx, served.csv):
        result = invoke(served, "validate", str(path))
        assert result.exit_code == 0, result.output
        assert "no problems found" in result.output
    assert served.requests()["GET"] == before + 2  # one product id lookup per validation


def test_problems_exit_1_with_every_problem_in_the_table(served, broken):
    result = invoke(served, "validate", str(broken))
    assert result.exit_code == 1
    for words in ("Choice values", "sort_order", "formula", "File modifiers", "file_max_size", "-4", "slider",
                  "3 problems on 3 rows in 3 sheets", "Nothing was sent"):
        assert words in result.output, words


def test_json_output_lists_every_issue(served, broken):
    result = invoke(served, "validate", str(broken), "--json")
    assert result.exit_code == 1
    payload = json.loads(result.output)
    assert payload["ok"] is False and payload["counts"]["issues"] == 3 and payload["requests"] == 1
    assert {(i["sheet"], i["row"], i["column"]) for i in payload["issues"]} == {
        ("Choice modifiers", 2, "type"), ("Choice values", 3, "sort_order"), ("File modifiers", 2, "file_max_size")}
    assert set(payload["issues"][0]) == {"file", "sheet", "row", "column", "value", "message"}


def test_annotated_copy(served, broken, tmp_path):
    out = tmp_path / "checked.xlsx"
    result = invoke(served, "validate", str(broken), "--annotated", str(out))
    assert result.exit_code == 1 and out.is_file() and "checked.xlsx" in result.output
    result = invoke(served, "validate", str(served.csv), "--annotated", str(tmp_path / "csv" / "checked.xlsx"))
    assert result.exit_code == 0 and (tmp_path / "csv" / "errors.csv").is_file()


@pytest.mark.parametrize(("content", "words"), [
    (b"%PDF-1.4\n", "PDF document"),
    (b"\x00\x01\x02\x03garbage", "does not recognise"),
    (b"name,label\nx,y\n", "text file"),
    (b"PK\x03\x04broken zip", "damaged"),
])
def test_files_that_are_not_an_export_exit_1_without_a_traceback(served, tmp_path, content, words):
    path = tmp_path / "export.xlsx"
    path.write_bytes(content)
    result = invoke(served, "validate", str(path))
    assert result.exit_code == 1 and words in result.output


def test_a_missing_file_is_reported(served, tmp_path):
    result = invoke(served, "validate", str(tmp_path / "nope.xlsx"), "--json")
    assert result.exit_code == 1
    assert json.loads(result.output)["issues"][0]["message"] == "no such file or folder"


@pytest.mark.parametrize("args", [["validate"], ["validate", "x.xlsx", "--bogus"], ["apply"]])
def test_usage_errors_exit_2(served, args):
    assert invoke(served, *args).exit_code == 2


def test_a_file_from_another_store_fails_unless_offline(served, tmp_path):
    path = tmp_path / "other.xlsx"
    shutil.copyfile(served.xlsx, path)

    def edit(wb):
        ws = wb["_bcmod"]
        row = next(r for r in range(2, ws.max_row + 1) if ws.cell(r, 1).value == "store_hash")
        ws.cell(row, 2).value = "otherstore"
    edit_xlsx(path, edit)
    result = invoke(served, "validate", str(path))
    assert result.exit_code == 1 and "exported from store 'otherstore'" in result.output
    before = served.requests()["total"]
    assert invoke(served, "validate", str(path), "--offline").exit_code == 0
    assert served.requests()["total"] == before  # offline: not a single request


def test_without_a_configured_store_the_embedded_sandbox_is_used(served, tmp_path):
    env = {"BIGCOMMERCE_API_URL": None, "BIGCOMMERCE_ACCESS_TOKEN": None, "BIGCOMMERCE_STORE_HASH": None}
    result = CliRunner().invoke(app, ["validate", str(served.xlsx), "--sandbox-dir", str(tmp_path / "sb")], env=env)
    assert result.exit_code == 0, result.output
    assert "sandbox store" in result.output and "no problems found" in result.output
