"""Hostile and huge files fail fast and small (BRIEF §7, issue 13): `bcmod validate` in a subprocess
against a sandbox served on 127.0.0.1 exits 1 naming the cell, prints no traceback, sends the store
nothing, and peaks (its own ru_maxrss, from wait4) under 500 MB. Before the guard, XFD100000 made
python-calamine abort asking for 52 GB, XFD5000 took 4 GB, the lying zip 2.2 GB and the junk rows
1.7 GB with 416 product-id reads."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from pipeline.export import export_store
from pipeline.sandbox.config import SandboxConfig
from pipeline.sandbox.server import serve_in_thread
from pipeline.settings import Settings
from pipeline.validate.reading import MAX_ISSUES, read_for_validation
from tests.pipeline.validate import hostile
from tests.pipeline.validate.exports import edit_csv

TOKEN = "hostile-validate-token"
PEAK_LIMIT = 500 * 2**20


@dataclass
class Served:
    base_url: str
    env: dict[str, str]
    xlsx: Path
    folder: Path

    def requests(self) -> int:
        return sum(httpx.get(f"{self.base_url}/_sandbox/stats", timeout=10).json()["requests"].values())


@pytest.fixture(scope="module")
def served(tmp_path_factory) -> Iterator[Served]:
    folder = tmp_path_factory.mktemp("hostile")
    config = SandboxConfig(data_dir=folder / "store", products=30, token=TOKEN, quota=None)
    with serve_in_thread(config) as base_url:
        api_url = f"{base_url}/stores/{config.store_hash}/v3"
        xlsx = asyncio.run(export_store(Settings.for_sandbox(api_url, TOKEN), folder / "export.xlsx")).path
        env = {key: value for key, value in os.environ.items() if not key.startswith(("BIGCOMMERCE_", "BCMOD_"))}
        env |= {"BIGCOMMERCE_API_URL": api_url, "BIGCOMMERCE_ACCESS_TOKEN": TOKEN, "COLUMNS": "200"}
        yield Served(base_url, env, xlsx, folder)


@dataclass
class Run:
    code: int
    out: str
    err: str
    peak: int  # bytes


# A small Python process starts the command and reports its children's peak RSS: measured from pytest
# itself, a child's peak would start from pytest's own (Linux carries it over fork and exec).
_LAUNCHER = ("import resource, subprocess, sys; code = subprocess.call(sys.argv[2:]); "
             "open(sys.argv[1], 'w').write(str(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)); "
             "sys.exit(code)")


def validate_in_subprocess(served: Served, path: Path) -> Run:
    """`bcmod validate PATH --json` in a child process, and that child's peak RSS."""
    peak = served.folder / "peak.txt"
    command = [sys.executable, "-c", _LAUNCHER, str(peak),
               sys.executable, "-m", "pipeline.cli.main", "validate", str(path), "--json"]
    done = subprocess.run(command, capture_output=True, env=served.env, cwd=served.folder, timeout=600)
    return Run(done.returncode, done.stdout.decode(), done.stderr.decode(), int(peak.read_text()) * 1024)


def build(served: Served, name: str) -> tuple[Path, dict]:
    """A hostile file, and the issue it must give (sheet, row, column, value)."""
    xlsx, folder = served.xlsx, served.folder
    if name == "XFD100000":
        return (hostile.with_stray_cell(xlsx, folder / "xfd100000.xlsx", "XFD100000"),
                {"sheet": "Choice values", "row": 100000, "column": "column XFD", "value": "XFD100000"})
    if name == "XFD5000":
        return (hostile.with_stray_cell(xlsx, folder / "xfd5000.xlsx", "XFD5000"),
                {"sheet": "Choice values", "row": 5000, "column": "column XFD", "value": "XFD5000"})
    if name == "A1048576":
        return (hostile.with_stray_cell(xlsx, folder / "a1048576.xlsx", "A1048576", sheet="Checkbox modifiers"),
                {"sheet": "Checkbox modifiers", "row": 1048576, "column": "column A", "value": "A1048576"})
    if name == "false sizes":
        path = hostile.with_false_sizes(xlsx, folder / "lies.xlsx", inflated_mb=4096)
        assert 3 * 2**20 < path.stat().st_size < 6 * 2**20  # a 3-6 MB zip that unpacks to 4 GB
        return path, {"sheet": None, "row": None, "column": None, "value": None}
    if name == "500k junk rows":
        first = hostile.first_row_past(xlsx, "Choice values")
        return (hostile.with_junk_rows(xlsx, folder / "junk.xlsx", 500_000),
                {"sheet": "Choice values", "row": first, "column": "column B", "value": f"B{first}"})
    raise AssertionError(name)


HOSTILE = ["XFD100000", "XFD5000", "A1048576", "false sizes", "500k junk rows"]


@pytest.mark.parametrize("name", HOSTILE)
def test_a_hostile_file_exits_1_naming_the_cell_in_bounded_memory_and_sends_nothing(served, name):
    path, expected = build(served, name)
    before = served.requests()
    run = validate_in_subprocess(served, path)
    assert run.code == 1, (run.out, run.err)
    assert "Traceback" not in run.out + run.err and "panicked" not in run.out + run.err
    issues = json.loads(run.out)["issues"]
    assert len(issues) == 1, issues
    assert {key: issues[0][key] for key in expected} == expected, issues[0]
    if name == "false sizes":
        assert "sizes are false" in issues[0]["message"]
    assert served.requests() == before  # not even the product ids were looked up
    assert run.peak < PEAK_LIMIT, f"{name}: peak {run.peak / 2**20:.0f} MiB"
    print(f"{name}: {path.stat().st_size / 2**20:.1f} MB file, peak {run.peak / 2**20:.0f} MiB")


def test_the_untouched_export_validates_clean_through_the_same_path(served):
    before = served.requests()
    run = validate_in_subprocess(served, served.xlsx)
    assert run.code == 0, (run.out, run.err)
    assert json.loads(run.out)["issues"] == []
    assert served.requests() > before  # the product ids are looked up when the file is sound
    assert run.peak < PEAK_LIMIT


def test_reading_stops_after_max_issues_and_keeps_no_sheet(served, tmp_path):
    # every row of a sheet of the export copied many times over, with its ids made unreadable:
    # thousands of bad cells, but within the row limit
    folder = asyncio.run(export_store(Settings.for_sandbox(served.env["BIGCOMMERCE_API_URL"], TOKEN),
                                      tmp_path / "csv", csv=True)).path

    def spoil(rows):
        header, body = rows[0], rows[1:]
        column = header.index("value_id")
        rows[1:] = [[*row[:column], f"x{n}", *row[column + 1:]] for n, row in enumerate(body * 40)]
    edit_csv(folder, "Choice values", spoil)
    result = read_for_validation(folder, expected_store_hash=None)
    assert len(result.issues) == MAX_ISSUES + 1
    assert "stopped after 1,000 problems" in result.issues[-1].message
    assert all(len(sheet) == 0 for sheet in result.sheets.values()) and result.meta is None


def test_a_csv_file_past_the_row_limit_is_refused_before_it_is_parsed(served, tmp_path):
    folder = asyncio.run(export_store(Settings.for_sandbox(served.env["BIGCOMMERCE_API_URL"], TOKEN),
                                      tmp_path / "csv", csv=True)).path

    def pad(rows):
        rows.extend([rows[-1]] * 120_000)
    edit_csv(folder, "Swatch values", pad)
    result = read_for_validation(folder, expected_store_hash=None)
    [issue] = result.issues
    assert (issue.file, issue.sheet, issue.column) == ("swatch_values.csv", "Swatch values", None)
    assert "past row" in issue.message and "the export had" in issue.message
