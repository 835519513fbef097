"""Every exit code of `bcmod plan`, `bcmod apply` and `bcmod migrate`, through the real CLI against sandboxes
served over HTTP on 127.0.0.1: 0 only when every edited row is in the store, 1 file problems or failed rows,
2 usage, 3 finished with edited rows not applied (conflicts, refusals), 4 cancelled at the prompt. The results
workbook's title and the printed summary say the same."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
from openpyxl import load_workbook
from typer.testing import CliRunner

from pipeline.cli.main import app
from pipeline.exit_codes import ExitCode
from pipeline.plan.diff import KEPT_REASON
from pipeline.sandbox.config import SandboxConfig
from pipeline.sandbox.server import serve_in_thread
from pipeline.workbook.editing import SheetEditor
from pipeline.workbook.layout import RESULT_COLUMN, RESULTS_SUMMARY_SHEET
from sample_data.generator import generate_catalog, png_bytes
from tests.pipeline.cli.test_plan_apply_cmd import TOKEN, Store, store  # noqa: F401 - the fixture
from tests.pipeline.migrate_support import N, SHIFT, SOURCE_TOKEN, TARGET_TOKEN, seeded, target_catalog

VALUES = "Choice values"


def edit(workbook: Path, sheet: str, row: int, **cells: Any) -> dict[str, Any]:
    """Set cells of one row (as a spreadsheet program would) and return the row as it was exported."""
    book = load_workbook(workbook)
    rows = SheetEditor.of(book[sheet])
    before = {name: rows.get(row, name) for name in rows.columns}
    for name, item in cells.items():
        rows.set(row, name, item)
    book.save(workbook)
    return before


def value_path(store: Store, row: dict[str, Any]) -> str:
    return (f"{store.api_url}/catalog/products/{row['product_id']}/modifiers/{row['modifier_id']}/values/"
            f"{row['value_id']}")


def store_value(store: Store, row: dict[str, Any]) -> dict[str, Any]:
    answer = httpx.get(value_path(store, row), headers={"X-Auth-Token": TOKEN}, timeout=10)
    answer.raise_for_status()
    return answer.json()["data"]


def change_in_store(store: Store, row: dict[str, Any], **fields: Any) -> None:
    """Another app changes a value after the export (with what a PUT requires: label and sort_order)."""
    current = store_value(store, row)
    answer = httpx.put(value_path(store, row), headers={"X-Auth-Token": TOKEN}, timeout=10,
                       json={"label": current["label"], "sort_order": current["sort_order"], **fields})
    answer.raise_for_status()


def results_title(workbook: Path) -> str:
    return load_workbook(workbook.with_name(f"{workbook.stem}.results.xlsx"))[RESULTS_SUMMARY_SHEET]["A1"].value


def result_cell(workbook: Path, sheet: str, row: int) -> str:
    ws = load_workbook(workbook.with_name(f"{workbook.stem}.results.xlsx"))[sheet]
    column = next(c.column for c in ws[1] if c.value == RESULT_COLUMN)
    return ws.cell(row, column).value


def last_lines(output: str, n: int) -> list[str]:
    return [line for line in output.splitlines() if line.strip()][-n:]


def test_0_when_every_edited_row_is_in_the_store(store, tmp_path) -> None:
    workbook = store.export(tmp_path / "mods.xlsx")
    row = edit(workbook, VALUES, 2, label="Renamed")
    planned = store.invoke("plan", str(workbook))
    assert planned.exit_code == ExitCode.OK, planned.output
    applied = store.invoke("apply", str(workbook), "--yes")
    assert applied.exit_code == ExitCode.OK, applied.output
    assert "Apply succeeded: every edited row is in the store" in applied.output
    assert results_title(workbook) == "Apply succeeded: every edited row is in the store"
    assert store_value(store, row)["label"] == "Renamed"


def test_rows_only_the_store_changed_are_kept_counted_and_exit_0(store, tmp_path) -> None:
    workbook = store.export(tmp_path / "mods.xlsx")
    row = edit(workbook, VALUES, 2)  # not edited by the person
    change_in_store(store, row, label="Changed by another app")
    planned = store.invoke("plan", str(workbook))
    assert planned.exit_code == ExitCode.OK, planned.output
    assert planned.stdout.lstrip().startswith("No changes: the store already matches")  # the store line is on stderr
    assert f"  1  {KEPT_REASON}" in planned.output and f"{VALUES} row 2:" not in planned.output
    verbose = store.invoke("plan", str(workbook), "--verbose")
    assert f"  {VALUES} row 2: {KEPT_REASON}" in verbose.output
    summary = json.loads(store.invoke("plan", str(workbook), "--json").output)
    assert summary["exit_code"] == 0 and summary["skipped"] == [
        {"sheet": VALUES, "row": 2, "kind": "kept", "reason": KEPT_REASON}]
    applied = store.invoke("apply", str(workbook), "--yes")
    assert applied.exit_code == ExitCode.OK and "Nothing to apply" in applied.output
    assert store.writes() == 1  # the other app's PUT only


def test_3_for_a_conflict_with_the_other_rows_applied_then_0_with_force(store, tmp_path) -> None:
    workbook = store.export(tmp_path / "mods.xlsx")
    mine = edit(workbook, VALUES, 2, label="Mine")
    other = edit(workbook, VALUES, 3, sort_order=77)
    change_in_store(store, mine, label="Theirs")
    planned = store.invoke("plan", str(workbook))
    assert planned.exit_code == ExitCode.NOT_APPLIED, planned.output
    conflict, hint, summary = last_lines(planned.output, 4)[1:]
    assert conflict.startswith(f"  {VALUES} row 2, value {mine['value_id']}: changed in the store since the export")
    assert hint == f"  To apply your rows over the store's changes: bcmod apply --force {workbook}"
    assert summary.endswith("(1 request); not applied: 1 row in conflict.")
    assert "plan --force" not in planned.output
    as_json = json.loads(store.invoke("plan", str(workbook), "--json").output)
    assert as_json["exit_code"] == 3 and as_json["not_applied"] == {"total": 1, "failed": 0, "conflicts": 1,
                                                                    "refused": 0}

    applied = store.invoke("apply", str(workbook), "--yes")
    assert applied.exit_code == ExitCode.NOT_APPLIED, applied.output
    title = "1 row not applied (1 in conflict with the store's changes); every other edited row is in the store"
    assert title in applied.output and "Apply succeeded" not in applied.output
    assert results_title(workbook) == title
    assert result_cell(workbook, VALUES, 2).startswith("conflict: changed in the store since the export")
    assert result_cell(workbook, VALUES, 3) == "ok"
    assert store_value(store, mine)["label"] == "Theirs" and store_value(store, other)["sort_order"] == 77

    forced = store.invoke("apply", str(workbook), "--yes", "--force")
    assert forced.exit_code == ExitCode.OK, forced.output
    assert "Conflicts overridden by --force (1 row)" in forced.output
    assert results_title(workbook) == "Apply succeeded: every edited row is in the store"
    assert result_cell(workbook, VALUES, 2) == "ok (conflict overridden with --force)"
    assert store_value(store, mine)["label"] == "Mine"


def test_3_for_a_refusal_which_is_not_no_changes(store, tmp_path) -> None:
    workbook = store.export(tmp_path / "mods.xlsx")
    book = load_workbook(workbook)
    rows = SheetEditor.of(book[VALUES])
    row = next(r for r in rows.rows() if rows.get(r, "image_url"))
    edit(workbook, VALUES, row, image_url=None)  # the API cannot take a value's image away
    planned = store.invoke("plan", str(workbook))
    assert planned.exit_code == ExitCode.NOT_APPLIED, planned.output
    assert "No changes" not in planned.output
    assert planned.stdout.lstrip().startswith("Nothing can be changed in the store: 1 row you edited in")
    refusal, reason, summary = last_lines(planned.output, 3)
    assert refusal.startswith("Not applied: 1 row refused")
    assert reason.startswith(f"  {VALUES} row {row}: BigCommerce's API has no way to remove a value's image")
    assert summary.endswith("(0 requests); not applied: 1 row refused.")

    applied = store.invoke("apply", str(workbook), "--yes")
    assert applied.exit_code == ExitCode.NOT_APPLIED, applied.output
    assert "1 row not applied (1 refused); nothing was sent." in applied.output
    assert "Nothing to apply" not in applied.output
    assert store.writes() == 0
    assert results_title(workbook) == "1 row not applied (1 refused); nothing was sent"
    assert result_cell(workbook, VALUES, row).startswith("not applied: BigCommerce's API has no way to remove")
    as_json = json.loads(store.invoke("apply", str(workbook), "--yes", "--json").output)
    assert as_json["exit_code"] == 3 and as_json["applied"] is False and as_json["results"]


def test_1_for_failed_rows_and_for_an_unreadable_plan(store, tmp_path) -> None:
    workbook = store.export(tmp_path / "mods.xlsx")
    image = tmp_path / "images" / "new.png"
    image.parent.mkdir()
    image.write_bytes(png_bytes(b"\x10\x20\x30"))
    edit(workbook, VALUES, 2, label="Renamed")
    edit(workbook, VALUES, 3, image_url="images/new.png")
    plan = tmp_path / "plan.json"
    assert store.invoke("plan", str(workbook), "--out", str(plan)).exit_code == ExitCode.OK
    image.write_text("not an image after all")  # broken after planning: its upload fails
    applied = store.invoke("apply", str(plan), "--yes")
    assert applied.exit_code == ExitCode.PROBLEMS, applied.output
    assert "Apply failed for 1 row" in applied.output and "Apply succeeded" not in applied.output
    assert results_title(workbook) == "Apply failed for 1 row"
    assert result_cell(workbook, VALUES, 2) == "ok" and result_cell(workbook, VALUES, 3).startswith("failed: ")

    old = json.loads(plan.read_text())
    old["format"] = 1
    plan.write_text(json.dumps(old))
    unreadable = store.invoke("apply", str(plan), "--yes")
    assert unreadable.exit_code == ExitCode.PROBLEMS
    assert "cannot read the plan" in unreadable.output and "plan format 1" in unreadable.output
    plan.write_text("{not json")
    assert store.invoke("apply", str(plan), "--yes").exit_code == ExitCode.PROBLEMS


def test_2_for_usage(store, tmp_path) -> None:
    assert store.invoke("apply").exit_code == ExitCode.USAGE
    assert store.invoke("plan", str(tmp_path / "x.xlsx"), "--no-such-option").exit_code == ExitCode.USAGE
    assert store.writes() == 0


def test_4_when_cancelled_and_the_prompt_says_what_will_not_be_applied(store, tmp_path) -> None:
    workbook = store.export(tmp_path / "mods.xlsx")
    mine = edit(workbook, VALUES, 2, label="Mine")
    edit(workbook, VALUES, 3, sort_order=77)
    change_in_store(store, mine, label="Theirs")
    writes = store.writes()
    cancelled = store.invoke("apply", str(workbook), stdin="n\n")
    assert cancelled.exit_code == ExitCode.CANCELLED
    assert "(1 edited row(s) will not be applied, see above)?" in cancelled.output
    assert store.writes() == writes


# --- migrate ------------------------------------------------------------------------------------------------


@contextmanager
def clashing_pair(tmp_path: Path) -> Iterator[tuple[str, str, str]]:
    """A source and a target (same SKUs) where one target product already has a modifier of the source's
    display name but another type: the migration refuses that row and applies the others."""
    source_catalog = generate_catalog(N)
    catalog = target_catalog()
    first = next(p for p in catalog if p["id"] == source_catalog[0]["id"] + SHIFT)
    clash = source_catalog[0]["modifiers"][0]
    first["modifiers"] = [{"display_name": clash["display_name"], "type": "text" if clash["type"] != "text" else
                           "date", "required": False, "sort_order": 0, "config": {}, "option_values": []}]
    source = SandboxConfig(data_dir=seeded(tmp_path / "source", source_catalog), store_hash="src",
                           token=SOURCE_TOKEN, quota=None)
    target = SandboxConfig(data_dir=seeded(tmp_path / "target", catalog), store_hash="tgt", token=TARGET_TOKEN,
                           quota=None)
    with serve_in_thread(source) as source_url, serve_in_thread(target) as target_url:
        yield f"{source_url}/stores/src/v3", f"{target_url}/stores/tgt/v3", clash["display_name"]


def test_migrate_exits_3_when_the_target_refuses_a_row(tmp_path) -> None:
    env = {"BCMOD_SOURCE_TOKEN": SOURCE_TOKEN, "BCMOD_TARGET_TOKEN": TARGET_TOKEN, "BIGCOMMERCE_ACCESS_TOKEN": None,
           "BIGCOMMERCE_API_URL": None, "BIGCOMMERCE_STORE_HASH": None, "COLUMNS": "300"}
    with clashing_pair(tmp_path) as (source, target, name):
        args = ["migrate", "--from-url", source, "--to-url", target, "--workdir", str(tmp_path / "work")]
        dry = CliRunner().invoke(app, args, env=env)
        assert dry.exit_code == ExitCode.NOT_APPLIED, dry.output
        assert "Not applied: 1 row refused" in dry.output and "type of a modifier cannot change" in dry.output
        applied = CliRunner().invoke(app, [*args, "--apply", "--yes", "--json"], env=env)
        assert applied.exit_code == ExitCode.NOT_APPLIED, applied.output
        summary = json.loads(applied.output)
        assert summary["exit_code"] == 3 and summary["not_applied"]["refused"] == 1
        assert summary["verdict"].startswith("1 row not applied (1 refused); every other edited row is in the store")
        assert summary["applied"]["counts"]["failed"] == 0 and name
