"""render_plan and plan_summary (what matters next to the summary, counts by reason, long values cut, --verbose);
the kinds of rows left alone and the exit code they give; the vectorised unchanged-row check agrees with the
row-by-row one."""

from __future__ import annotations

import json
from dataclasses import replace

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from rich.console import Console

import pipeline.plan.diff as diff
from pipeline.exit_codes import ExitCode
from pipeline.plan.attention import nothing_edited, plan_exit_code, plan_not_applied
from pipeline.plan.operations import PLAN_FORMAT, Conflict, Plan, RowRef, SkipKind, Skipped
from pipeline.plan.render import SHOWN_REASONS, SHOWN_ROWS, plan_summary, render_plan, shown, summary_line
from sample_data.generator import as_api_products, generate_catalog
from tests.pipeline.plan.support import Scenario
from tests.pipeline.plan.test_diff import CHOICE_MODS, CHOICE_VALUES, everything


def rendered(plan: Plan, *, verbose: bool = False) -> str:
    console = Console(record=True, width=160, color_system=None)
    render_plan(plan, console, verbose=verbose)
    return console.export_text()


def test_no_changes() -> None:
    out = rendered(Scenario().plan())
    assert out.splitlines()[0].startswith("No changes: the store already matches edited.xlsx")
    assert out.rstrip().splitlines()[-1] == \
        "Plan: 0 to create, 0 to update, 0 to delete, 0 images to upload (0 requests)."


def test_every_section() -> None:
    scenario = Scenario()
    everything(scenario)
    scenario.store_value(102)["label"] = "Big"
    scenario.edit(CHOICE_VALUES, {"value_id": 102}, label="Grand")
    scenario.store_modifier(12)["sort_order"] = 8
    scenario.edit("Text modifiers", {"modifier_id": 22 - 10}, default_value=None)  # conflict on both
    scenario.store_value(300)["label"] = "Satin"  # its row is marked delete: a conflict
    plan = scenario.plan()
    out = rendered(plan)
    lines = out.splitlines()
    assert lines[0] == "bcmod will make these changes to store store (from edited.xlsx):"
    assert "product 1" in lines and "product 2" in lines and "product 3" in lines
    assert any(line.startswith("  - delete modifier 'Colour' #13 (swatch)   Choice modifiers row 3") for line in lines)
    assert "      and its 2 value row(s): 'Red', 'Blue'" in lines
    assert any(line.startswith("  ~ update value 'Mid' #101 of 'Size' (dropdown)") for line in lines)
    assert "      label: 'Medium' → 'Mid'" in lines
    assert "      text_max_lines: 3 → 5" in lines
    assert any(line.startswith("  + create modifier 'Handle' (dropdown)") for line in lines)
    assert "      with 2 value(s): 'Short', 'Long'" in lines
    assert any(line.startswith("  ↑ upload image for value 'Mid' #101") for line in lines)
    assert "      image: images/mid.png" in lines
    # the conflicts come last, right above the summary, with the command that applies them anyway
    assert lines[-7:-1] == [
        "Not applied: 3 rows in conflict (the store changed them since the export, and so did you):",
        "  Text modifiers row 2, modifier 12: changed in the store since the export, and you changed it too "
        "(sort_order, default_value)",
        "  Choice values row 4, value 102: changed in the store since the export, and you changed it too (label)",
        "  Choice values row 5, value 300: changed in the store since the export, and you marked it delete",
        "  To apply your rows over the store's changes: bcmod apply --force edited.xlsx",
        ""]
    assert "plan --force" not in out
    assert lines[-1] == summary_line(plan)
    assert summary_line(plan) == ("Plan: 3 to create, 3 to update, 1 to delete, 2 images to upload (9 requests); "
                                  "not applied: 3 rows in conflict.")
    assert plan_exit_code(plan) is ExitCode.NOT_APPLIED
    assert "Fields that would become empty" not in out  # the blanked field is in a skipped conflict


def test_summary_is_json_and_counts_match() -> None:
    scenario = Scenario()
    everything(scenario)
    scenario.edit("Text modifiers", {"modifier_id": 12}, default_value=None)
    plan = scenario.plan(prune=True)
    summary = json.loads(json.dumps(plan_summary(plan)))
    assert summary["requests"] == len(plan.operations) == sum(summary["operations"].values())
    assert (summary["to_create"], summary["to_update"], summary["to_delete"], summary["to_upload"]) == (3, 4, 2, 2)
    assert summary["blanked"] == [{"sheet": "Text modifiers", "row": 2, "field": "default_value"}]
    assert summary["pruned"] is True and summary["plan_id"] == plan.plan_id and summary["products"] == 3
    assert summary["summary"] == summary_line(plan)


def test_singular_words() -> None:
    scenario = Scenario()
    scenario.edit("Swatch values", {"value_id": 131}, image_url="x.png")
    assert summary_line(scenario.plan()) == "Plan: 0 to create, 0 to update, 0 to delete, 1 image to upload (1 request)."


# --- the vectorised check of unchanged rows decides exactly as the row-by-row comparison --------------------


def without_fast_path(scenario: Scenario, monkeypatch: pytest.MonkeyPatch, **options) -> Plan:
    with monkeypatch.context() as patch:
        patch.setattr(diff, "unchanged_rows", lambda sheet, store, id_column: np.zeros(len(sheet), dtype=bool))
        return scenario.plan(**options)


def same_plan(left: Plan, right: Plan) -> None:
    assert replace(left, created_at="") == replace(right, created_at="")


def test_fast_path_agrees_on_every_kind_of_edit(monkeypatch: pytest.MonkeyPatch) -> None:
    scenario = Scenario()
    everything(scenario)
    scenario.store_value(102)["label"] = "Big"
    scenario.store_modifier(24)["sort_order"] = 8
    scenario.edit(CHOICE_VALUES, {"value_id": 100}, price_adjuster_value=None, sort_order=None)
    for options in ({}, {"prune": True}, {"force": True}):
        same_plan(scenario.plan(**options), without_fast_path(scenario, monkeypatch, **options))


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(seed=st.integers(0, 1000), picks=st.lists(st.tuples(st.integers(0, 10_000), st.sampled_from(
    ["label", "sort_order", "price_adjuster_value", "display_name", "required", "image_url", "action"])),
    max_size=12))
def test_fast_path_agrees_on_random_edits(monkeypatch: pytest.MonkeyPatch, seed: int,
                                          picks: list[tuple[int, str]]) -> None:
    scenario = Scenario(as_api_products(generate_catalog(13, seed=seed)))
    names = sorted(scenario.sheets)
    for n, column in picks:
        sheet = scenario.sheets[names[n % len(names)]]
        if column not in sheet.columns or not len(sheet):
            continue
        row = sheet.index[n % len(sheet)]
        edits = {"label": "edited", "sort_order": 77, "price_adjuster_value": 1.0 + 1e-13, "display_name": "X",
                 "required": True, "image_url": "pics/a.png", "action": "delete"}
        sheet.loc[row, column] = edits[column]
    same_plan(scenario.plan(prune=True), without_fast_path(scenario, monkeypatch, prune=True))


# --- what matters next to the summary; the rest counted ---------------------------------------------------


def kept_by_the_store(scenario: Scenario) -> None:
    """Rows the store changed after the export and the person did not: kept, nothing of theirs lost."""
    scenario.store_modifier(12)["config"]["text_max_length"] = 50
    scenario.store_value(101)["label"] = "Regular"
    scenario.store_value(102)["label"] = "Huge"
    scenario.remove_value(300)  # deleted in the store; the person marks it delete too
    scenario.edit(CHOICE_VALUES, {"value_id": 300}, action="delete")


def test_rows_the_store_changed_alone_are_counted_by_reason_and_listed_only_with_verbose() -> None:
    scenario = Scenario()
    kept_by_the_store(scenario)
    plan = scenario.plan()
    assert [s.kind for s in plan.skipped] == [SkipKind.KEPT] * 4
    out = rendered(plan)
    lines = out.splitlines()
    assert lines[0] == ("No changes: the store already matches edited.xlsx (16 rows unchanged; 4 rows left alone, "
                        "see below).")
    assert "Rows left alone (4), by reason:" in lines
    assert f"  3  {diff.KEPT_REASON}" in lines and f"  1  {diff.ALREADY_DELETED}" in lines
    assert not any("Choice values row" in line or "Text modifiers row" in line for line in lines)
    assert lines[-1] == summary_line(plan) == \
        "Plan: 0 to create, 0 to update, 0 to delete, 0 images to upload (0 requests); 4 rows left alone."
    assert nothing_edited(plan) and plan_exit_code(plan) is ExitCode.OK
    verbose = rendered(plan, verbose=True).splitlines()
    assert f"  Text modifiers row 2: {diff.KEPT_REASON}" in verbose
    assert sum(line.startswith("  Choice values row ") for line in verbose) == 3
    summary = json.loads(json.dumps(plan_summary(plan)))
    assert summary["skipped_by_reason"] == [{"kind": "kept", "reason": diff.KEPT_REASON, "rows": 3},
                                            {"kind": "kept", "reason": diff.ALREADY_DELETED, "rows": 1}]
    assert len(summary["skipped"]) == 4 and {s["kind"] for s in summary["skipped"]} == {"kept"}
    assert summary["exit_code"] == 0 and summary["not_applied"]["total"] == 0


def test_a_refused_edit_is_not_no_changes_and_is_printed_next_to_the_summary() -> None:
    scenario = Scenario()
    kept_by_the_store(scenario)
    row = scenario.edit(CHOICE_MODS, {"modifier_id": 10}, type="rectangles")
    plan = scenario.plan(force=True)
    kinds = [(s.source, s.kind) for s in plan.skipped]
    assert (RowRef(CHOICE_MODS, row), SkipKind.REFUSED) in kinds
    assert sum(kind is SkipKind.WITH_MODIFIER for _, kind in kinds) == 3  # its values follow it
    assert plan.operations == [] and not nothing_edited(plan)
    assert plan_not_applied(plan).as_dict() == {"total": 1, "failed": 0, "conflicts": 0, "refused": 1}
    assert plan_exit_code(plan) is ExitCode.NOT_APPLIED
    out = rendered(plan)
    lines = out.splitlines()
    assert "No changes" not in out
    assert lines[0].startswith("Nothing can be changed in the store: 1 row you edited in edited.xlsx will not be "
                               "applied")
    refusal = next(n for n, line in enumerate(lines) if line.startswith("Not applied: 1 row refused"))
    assert lines[refusal + 1].startswith(f"  Choice modifiers row {row}: the type of a modifier cannot change")
    assert lines[-2:] == ["", summary_line(plan)]
    assert "".join(lines[refusal + 1:-2]).endswith("delete it and add a new row instead")  # nothing in between
    # its three values follow it (two of them the store changed too); the value deleted on both sides is kept
    assert lines.index("Rows left alone (5), by reason:") < refusal
    assert summary_line(plan).endswith("; not applied: 1 row refused; 5 rows left alone.")


def test_forced_conflicts_are_applied_and_exit_0() -> None:
    scenario = Scenario()
    scenario.store_value(102)["label"] = "Big"
    scenario.edit(CHOICE_VALUES, {"value_id": 102}, label="Grand")
    plain, forced = scenario.plan(), scenario.plan(force=True)
    assert plan_exit_code(plain) is ExitCode.NOT_APPLIED and plan_exit_code(forced) is ExitCode.OK
    out = rendered(forced)
    assert "Conflicts overridden by --force (1 row): your rows are applied over the store's changes:" in out
    assert "bcmod apply --force" not in out
    assert summary_line(forced).endswith("(1 request); 1 conflict overridden (--force).")


def test_long_values_are_cut_with_their_length() -> None:
    scenario = Scenario()
    scenario.edit(CHOICE_VALUES, {"value_id": 101}, label="x" * 10_000)
    out = rendered(scenario.plan())
    cut = f"{'x' * 60 + '…'!r} (10,000 characters)"
    assert f"      label: 'Medium' → {cut}" in out.splitlines()
    assert f"~ update value {cut} #101 of 'Size'" in out
    assert max(map(len, out.splitlines())) < 200
    assert shown("x" * 60) == repr("x" * 60) and shown(None) == "(blank)" and shown(True) == "TRUE"
    summary = plan_summary(scenario.plan())  # --json and the saved plan keep the whole value
    assert summary["requests"] == 1
    assert Plan.from_json(scenario.plan().to_json()).operations[0].payload["label"] == "x" * 10_000


def bare_plan(**fields) -> Plan:
    return Plan("store", "https://api.test/stores/store/v3", "edited.xlsx", "2026-12-01T00:00:00Z", **fields)


def test_many_rows_stay_short_without_verbose() -> None:
    kept = [Skipped(RowRef("Choice values", n), diff.KEPT_REASON, SkipKind.KEPT) for n in range(2, 380)]
    odd = [Skipped(RowRef("Text modifiers", n), f"reason number {n}", SkipKind.WITH_MODIFIER) for n in range(2, 22)]
    refusals = [Skipped(RowRef("Choice modifiers", n), "cannot", SkipKind.REFUSED) for n in range(2, 32)]
    conflicts = [Conflict(RowRef("Choice values", n), "value", n, "changed in both", ["label"])
                 for n in range(400, 430)]
    plan = bare_plan(skipped=kept + odd + refusals, conflicts=conflicts)
    lines = rendered(plan).splitlines()
    assert len(lines) < 100
    assert "Rows left alone (398), by reason:" in lines and f"  378  {diff.KEPT_REASON}" in lines
    assert f"   {20 - (SHOWN_REASONS - 1)}  for {20 - (SHOWN_REASONS - 1)} other reasons" in lines
    assert sum(line.startswith("  Choice modifiers row ") for line in lines) == SHOWN_ROWS
    assert sum(line.startswith("  Choice values row ") for line in lines) == SHOWN_ROWS
    assert lines.count("  ... and 10 more: add --verbose, or --json") == 2
    assert lines[-1].endswith("; not applied: 30 rows in conflict, 30 rows refused; 398 rows left alone.")
    everything_listed = rendered(plan, verbose=True).splitlines()
    assert sum(line.startswith("  Choice values row ") for line in everything_listed) == 378 + 30
    assert plan_not_applied(plan).total == 60


def test_saved_plans_keep_the_kinds_and_older_plans_are_refused_clearly() -> None:
    scenario = Scenario()
    kept_by_the_store(scenario)
    scenario.edit(CHOICE_MODS, {"modifier_id": 10}, type="rectangles")
    plan = scenario.plan()
    again = Plan.from_json(plan.to_json())
    assert again.skipped == plan.skipped and again.plan_id == plan.plan_id
    old = json.loads(plan.to_json())
    old["format"] = 1
    for item in old["skipped"]:
        del item["kind"]
    with pytest.raises(ValueError, match=rf"plan format 1; this version reads format {PLAN_FORMAT}.*plan the "
                                         "workbook again"):
        Plan.from_json(json.dumps(old))
    with pytest.raises(ValueError, match="not a bcmod plan file"):
        Plan.from_json('{"some": "json"}')
