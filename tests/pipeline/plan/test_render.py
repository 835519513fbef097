"""render_plan and plan_summary; the vectorised unchanged-row check agrees with the row-by-row one."""

from __future__ import annotations

import json
from dataclasses import replace

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from rich.console import Console

import pipeline.plan.diff as diff
from pipeline.plan.operations import Plan
from pipeline.plan.render import plan_summary, render_plan, summary_line
from sample_data.generator import as_api_products, generate_catalog
from tests.pipeline.plan.support import Scenario
from tests.pipeline.plan.test_diff import CHOICE_VALUES, everything


def rendered(plan: Plan) -> str:
    console = Console(record=True, width=160, color_system=None)
    render_plan(plan, console)
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
    assert "Conflicts (skipped: plan with --force to apply your rows anyway):" in lines
    assert any("Choice values row 4, value 102: changed in the store since the export, and you changed it too "
               "(label)" in line for line in lines)
    assert lines[-1] == summary_line(plan)
    assert summary_line(plan) == ("Plan: 3 to create, 3 to update, 1 to delete, 2 images to upload (9 requests); "
                                  "3 conflicts skipped.")
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
