"""True resume: `bcmod apply` killed (kill -9) or interrupted (Ctrl-C) at a third of its writes, then run again.

Real processes: two sandbox stores served by uvicorn (seeded alike, with latency so that writes are
in flight when the blow lands) and the `bcmod` command line. The same edited workbook is applied
to one store without interruption (the reference), and to the other with a kill -9 or a SIGINT at
about a third of the writes, then the same command again. The second run must continue the first
run's plan from its journal (not plan again), keep the first backup as the backup of record, and
write a results workbook that says for every row what the uninterrupted run said; restoring the
backup of record then gives back the store as exported.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from openpyxl import load_workbook

from pipeline.apply.journal import journal_path
from pipeline.catalog_state import differences, duplicate_keys, state_by_natural_key
from pipeline.export import export_store
from pipeline.settings import Settings
from pipeline.workbook.editing import SheetEditor
from pipeline.workbook.layout import RESULT_COLUMN, SHEETS
from sample_data.generator import png_bytes
from tests.pipeline.apply.test_kill import REPO, SERVE, env, free_port, wait_until, writes
from tests.stores import TEST_TOKEN

pytestmark = [pytest.mark.e2e]
PRODUCTS, SEED, LATENCY_MS = 20, 5, "25"


@contextlib.contextmanager
def served(data_dir: Path) -> Iterator[str]:
    """A sandbox store in its own process; yields its base URL."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    process = subprocess.Popen([sys.executable, "-c", SERVE, str(data_dir), str(PRODUCTS), str(SEED), TEST_TOKEN,
                                LATENCY_MS, str(port)], cwd=REPO, env=env(), stdout=subprocess.DEVNULL,
                               stderr=subprocess.PIPE)
    try:
        wait_until(lambda: writes(url) >= 0 or process.poll() is not None, 30, "the sandbox to start")
        assert process.poll() is None, process.stderr.read().decode() if process.stderr else ""
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def api(url: str) -> str:
    return Settings.for_sandbox(url, TEST_TOKEN).base_url


def bcmod(*args: str, url: str) -> list[str]:
    return [sys.executable, "-m", "pipeline.cli.main", *args]


def cli_env(url: str) -> dict[str, str]:
    return {**env(), "BIGCOMMERCE_API_URL": api(url), "COLUMNS": "200"}


def run(*args: str, url: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(bcmod(*args, url=url), cwd=REPO, env=cli_env(url), capture_output=True, text=True,
                          timeout=timeout)


def edit(workbook: Path) -> None:
    """Many small edits (every choice value re-sorted), a rename, a new modifier with values, a delete, and
    an image from a file: enough writes for a blow at a third to land mid-run."""
    book = load_workbook(workbook)
    values = SheetEditor.of(book["Choice values"])
    rows = values.rows()
    for row in rows:
        values.set(row, "sort_order", (values.get(row, "sort_order") or 0) + 100)
    values.set(rows[0], "label", f"{values.get(rows[0], 'label')} (renamed)")
    values.set(rows[1], "image_url", "images/new.png")
    values.set(rows[2], "action", "delete")
    mods = SheetEditor.of(book["Choice modifiers"])
    template = {name: mods.get(mods.rows()[0], name) for name in mods.columns}
    new = mods.last_row() + 1
    for name, item in template.items():
        mods.set(new, name, item)
    mods.set(new, "modifier_id", None)
    mods.set(new, "display_name", "Added by the test")
    for n, label in enumerate(("One", "Two", "Three")):
        row = values.last_row() + 1
        for name in values.columns:
            values.set(row, name, values.get(rows[3], name))
        for name, item in {"modifier_id": None, "value_id": None, "display_name": "Added by the test",
                           "label": label, "sort_order": n, "is_default": False, "image_url": None,
                           "product_id": template["product_id"], "type": template["type"]}.items():
            values.set(row, name, item)
    book.save(workbook)
    (workbook.parent / "images").mkdir(exist_ok=True)
    (workbook.parent / "images" / "new.png").write_bytes(png_bytes(b"\x20\x90\x40", 6, 6))


def result_cells(results: Path) -> dict[tuple[str, int], tuple[Any, bool, bool]]:
    """(sheet, row) -> (result cell, modifier_id filled, value_id filled) of every data sheet."""
    book = load_workbook(results, read_only=True)
    out: dict[tuple[str, int], tuple[Any, bool, bool]] = {}
    for spec in SHEETS:
        if spec.name not in book.sheetnames:
            continue
        rows = list(book[spec.name].iter_rows(values_only=True))
        header = list(rows[0])
        column = header.index(RESULT_COLUMN)
        ids = [header.index(name) if name in header else None for name in ("modifier_id", "value_id")]
        for number, row in enumerate(rows[1:], start=2):
            if any(cell is not None for cell in row):
                out[(spec.name, number)] = (row[column], *(i is not None and row[i] is not None for i in ids))
    return out


async def catalog(url: str, token: str = TEST_TOKEN) -> dict[int, Any]:
    """The store by natural key, each image by the sha256 of the bytes served (a restored image is
    uploaded again, under a new URL) and config texts that are "" as blanks (as an export shows them)."""
    async with httpx.AsyncClient(base_url=url, timeout=30) as http:
        answer = await http.get("/stores/sandbox/v3/catalog/products", headers={"X-Auth-Token": token},
                                params={"include": "modifiers", "limit": 250})
        products = answer.json()["data"]
        for product in products:
            for modifier in product["modifiers"]:
                modifier["config"] = {k: v for k, v in (modifier.get("config") or {}).items() if v != ""}
                for value in modifier["option_values"]:
                    image = value["adjusters"].get("image_url")
                    if image:
                        value["adjusters"]["image_url"] = hashlib.sha256((await http.get(image)).content).hexdigest()
        assert duplicate_keys(products) == []
        return state_by_natural_key(products)


@pytest.fixture
def stores(tmp_path: Path) -> Iterator[tuple[str, str]]:
    with served(tmp_path / "reference") as reference, served(tmp_path / "victim") as victim:
        yield reference, victim


@pytest.mark.parametrize("blow", ["kill -9", "SIGINT"])
def test_a_run_stopped_at_a_third_resumes_its_plan_and_reports_like_an_uninterrupted_one(
        stores: tuple[str, str], tmp_path: Path, blow: str) -> None:
    reference, victim = stores
    original = asyncio.run(catalog(victim))
    workbook, twin = (asyncio.run(export_store(Settings.for_sandbox(api(url), TEST_TOKEN), tmp_path / name / "mods.xlsx")).path
                      for url, name in ((victim, "wb"), (reference, "twin")))
    edit(workbook)
    edit(twin)  # the same edits of the same export (the stores are seeded alike; only image hosts differ)

    clean = run("apply", str(twin), "--yes", "--json", "--concurrency", "2", url=reference)
    assert clean.returncode == 0, clean.stderr[-3000:]
    expected = json.loads(clean.stdout)
    total = expected["writes"]
    assert total >= 60 and expected["counts"]["failed"] == 0

    first = subprocess.Popen(bcmod("apply", str(workbook), "--yes", "--concurrency", "2", url=victim), cwd=REPO,
                             env=cli_env(victim), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    wait_until(lambda: writes(victim) >= total // 3 or first.poll() is not None, 60, "a third of the writes")
    first.send_signal(signal.SIGKILL if blow == "kill -9" else signal.SIGINT)
    out, err = first.communicate(timeout=60)
    landed = writes(victim)
    assert 0 < landed < total, f"the run was not stopped mid-way ({landed} of {total} writes)"
    backups = sorted((workbook.parent / "backups").glob("backup-*.xlsx"))
    assert len(backups) == 1
    if blow == "kill -9":
        assert first.returncode == -signal.SIGKILL
    else:  # stopped cleanly after the writes in flight: says so, writes the results so far, exit 130
        assert first.returncode == 130, err[-3000:]
        assert "stopping after the writes in flight" in err
        said = " ".join(out.split())
        assert "Interrupted after" in said and "run the same command to resume" in said, said[-2000:]
        assert f"bcmod restore {backups[0]}" in said
        interrupted = result_cells(workbook.with_name("mods.results.xlsx"))
        assert any(str(text).startswith("skipped: not attempted: the run was interrupted")
                   for text, *_ in interrupted.values())
    journal = [json.loads(line) for line in journal_path(workbook).read_text().splitlines() if line.strip()]
    assert not any(r["type"] == "complete" for r in journal)
    done_before = sum(r["type"] == "done" for r in journal)

    second = run("apply", str(workbook), "--yes", "--json", "--concurrency", "2", url=victim)
    assert second.returncode == 0, second.stderr[-3000:]
    report = json.loads(second.stdout)
    assert report["resumed"] and report["plan_id"] == journal[0]["plan_id"]  # the same plan, continued
    assert report["counts"] == expected["counts"]
    assert sum(o["from_journal"] for o in report["outcomes"]) == done_before
    assert report["writes"] <= total - done_before + 2 * 2  # at most the ones in flight are looked at again
    assert Path(report["backup_path"]) == backups[0] and report["undo"] == f"bcmod restore {backups[0]}"
    assert sorted((workbook.parent / "backups").glob("backup-*.xlsx")) == backups  # the backup of record
    assert [r for r in journal if r["type"] == "backup"][0]["path"] == str(backups[0])

    mine, theirs = result_cells(workbook.with_name("mods.results.xlsx")), result_cells(twin.with_name("mods.results.xlsx"))
    assert mine == theirs, [(key, mine.get(key), theirs.get(key)) for key in set(mine) | set(theirs)
                            if mine.get(key) != theirs.get(key)][:10]
    assert asyncio.run(catalog(victim)) == asyncio.run(catalog(reference))

    undo = run("restore", str(backups[0]), "--yes", "--json", url=victim)  # the pre-apply state, as exported
    assert undo.returncode == 0, undo.stderr[-3000:] + undo.stdout[-3000:]
    restored = asyncio.run(catalog(victim))
    assert restored == original, differences(original, restored)
    print(f"\n{blow}: {total} writes uninterrupted; stopped after {landed}; the re-run took {done_before} from the "
          f"journal and sent {report['writes']} writes, {report['reconcile_reads']} natural-key lookups in "
          f"{report['seconds']} s; the restore sent {json.loads(undo.stdout)['writes']} writes")
