"""`bcmod plan` and `bcmod apply` against a sandbox served over HTTP on 127.0.0.1."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

from pipeline.cli.demo_edit import scripted_edit
from pipeline.cli.main import app
from pipeline.export import export_store
from pipeline.sandbox.config import SandboxConfig
from pipeline.sandbox.server import serve_in_thread
from pipeline.settings import Settings

TOKEN = "cli-apply-token"


class Store:
    def __init__(self, base_url: str, api_url: str) -> None:
        self.base_url, self.api_url = base_url, api_url
        self.env = {"BIGCOMMERCE_API_URL": api_url, "BIGCOMMERCE_ACCESS_TOKEN": TOKEN,
                    "BIGCOMMERCE_STORE_HASH": None, "COLUMNS": "300"}

    def writes(self) -> int:
        requests = httpx.get(f"{self.base_url}/_sandbox/stats", timeout=10).json()["requests"]
        return requests["POST"] + requests["PUT"] + requests["DELETE"]

    def export(self, out: Path) -> Path:
        return asyncio.run(export_store(Settings.for_sandbox(self.api_url, TOKEN), out)).path

    def invoke(self, *args: str, stdin: str | None = None):
        result = CliRunner().invoke(app, list(args), env=self.env, input=stdin)
        assert "Traceback" not in result.output
        return result


@pytest.fixture
def store(tmp_path) -> Iterator[Store]:
    config = SandboxConfig(data_dir=tmp_path / "store", products=20, token=TOKEN, quota=None)
    with serve_in_thread(config) as base_url:
        yield Store(base_url, f"{base_url}/stores/sandbox/v3")


def test_plan_shows_and_saves_without_writing_then_apply_of_the_plan_lands(store, tmp_path):
    workbook = store.export(tmp_path / "mods.xlsx")
    edits = scripted_edit(workbook)
    result = store.invoke("plan", str(workbook), "--out", str(tmp_path / "plan.json"))
    assert result.exit_code == 0, result.output
    assert "+ create modifier 'Gift box'" in result.output and "Plan: " in result.output
    assert store.writes() == 0
    summary = json.loads(store.invoke("plan", str(workbook), "--json").output)
    assert summary["operations"]["create_modifier"] == 1 and summary["operations"]["delete_modifier"] == 1
    applied = store.invoke("apply", str(tmp_path / "plan.json"), "--yes")
    assert applied.exit_code == 0, applied.output
    assert store.writes() == sum(summary["operations"].values()) >= len(edits) - 1
    assert (tmp_path / "mods.results.xlsx").exists() and list((tmp_path / "backups").glob("*.xlsx"))
    # re-applying the same workbook plans nothing and sends nothing; the image the first apply uploaded is
    # now the store's, and its journal says so: that row is kept (exit 0), not taken for someone else's image
    writes = store.writes()
    again = store.invoke("apply", str(workbook), "--yes")
    assert again.exit_code == 0, again.output
    assert "Nothing to apply" in again.output and "an earlier apply of this workbook uploaded it" in again.output
    assert store.writes() == writes


def test_apply_asks_first_and_a_no_sends_nothing(store, tmp_path):
    workbook = store.export(tmp_path / "mods.xlsx")
    scripted_edit(workbook)
    result = store.invoke("apply", str(workbook), stdin="n\n")
    assert result.exit_code == 4 and "Cancelled" in result.output
    assert store.writes() == 0


def test_apply_refuses_a_file_with_problems(store, tmp_path):
    from openpyxl import load_workbook

    workbook = store.export(tmp_path / "mods.xlsx")
    book = load_workbook(workbook)
    book["File modifiers"]["A2"].value = "explode"
    book.save(workbook)
    result = store.invoke("apply", str(workbook), "--yes")
    assert result.exit_code == 1 and "Not applied" in result.output
    assert "explode" in result.output and "File modifiers" in result.output
    assert store.writes() == 0


def test_a_plan_for_another_store_is_refused(store, tmp_path):
    workbook = store.export(tmp_path / "mods.xlsx")
    scripted_edit(workbook)
    assert store.invoke("plan", str(workbook), "--out", str(tmp_path / "plan.json")).exit_code == 0
    data = json.loads((tmp_path / "plan.json").read_text())
    data["store_hash"] = "elsewhere"
    (tmp_path / "plan.json").write_text(json.dumps(data))
    result = store.invoke("apply", str(tmp_path / "plan.json"), "--yes")
    assert result.exit_code == 1 and "not 'sandbox'" in result.output
    assert store.writes() == 0
