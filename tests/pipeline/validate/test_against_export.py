"""Edits the plan would refuse or ignore, and cells a spreadsheet program rewrote, found offline
against the export's record; on the workbook and on the CSV files."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import openpyxl
import pytest

from pipeline.validate.command import accepting_excel_changes, validate_file
from pipeline.workbook.csv_files import write_csv
from pipeline.workbook.layout import META_SHEET
from pipeline.workbook.meta import ExportMeta
from pipeline.workbook.writer import write_workbook
from tests.pipeline.validate.exports import (
    column_of,
    csv_column,
    edit_csv,
    edit_xlsx,
    find_issue,
    first_row,
    set_cell,
    valid_frames,
)

META = ExportMeta("abc123", "https://api.bigcommerce.com/stores/abc123/v3")
# Labels a spreadsheet program rewrites, and what Excel or LibreOffice leaves of them: in a
# workbook (a number, a date or a boolean cell) and in a CSV file saved again.
FRAGILE = {
    "0017": (17, "17", "leading zeros"),
    "1/2": (dt.datetime(2026, 1, 2), "01/02/2026", "fraction '1/2' into a date"),
    "2-8": (dt.datetime(2026, 2, 8), "8-Feb", "range '2-8' into a date"),
    "22E1": (220, "220", "scientific notation"),
    "12345678901234567890": (1.23456789012346e19, "1.23457E+19", "long number"),  # Excel keeps 15 digits
    "true": (True, "TRUE", "truth value"),
}
VALUES = "Choice values"
MODIFIERS = "Choice modifiers"


@pytest.fixture(scope="module")
def frames():
    frames = valid_frames(14)
    values = frames.values
    first = values.index[values["modifier_id"].eq(1013).fillna(False)][:len(FRAGILE)]
    values.loc[first, "label"] = list(FRAGILE)
    return frames


@pytest.fixture
def xlsx(frames, tmp_path) -> Path:
    return write_workbook(frames, tmp_path / "export.xlsx", META)


@pytest.fixture
def folder(frames, tmp_path) -> Path:
    return write_csv(frames, tmp_path / "csv", META)


def _ws_row(ws, **equal) -> int:
    return first_row(ws, **equal)


def _csv_row(rows: list[list[str]], **equal: str) -> int:
    """The spreadsheet row (header = 1) of the first CSV row with those cells."""
    columns = {name: csv_column(rows, name) for name in equal}
    return next(n for n, r in enumerate(rows[1:], start=2) if all(r[columns[k]] == v for k, v in equal.items()))


def test_an_untouched_export_is_clean_on_both_formats(xlsx, folder):
    assert validate_file(xlsx).issues == []
    assert validate_file(folder).issues == []


# --- item 4: edits the plan would refuse or ignore --------------------------------------------------------


def test_a_changed_modifier_type_is_one_issue_on_its_type_cell_with_the_way_to_do_it(xlsx):
    def edit(wb):
        ws = wb[MODIFIERS]
        row = _ws_row(ws, modifier_id=1013)
        set_cell(ws, row, "type", "radio_buttons")
        return row

    row = edit_xlsx(xlsx, edit)
    issues = validate_file(xlsx).issues
    find_issue(issues, sheet=MODIFIERS, row=row, column="type", words=["cannot change", "dropdown", "delete",
                                                                        "new row"])
    assert [(i.sheet, i.row, i.column) for i in issues] == [(MODIFIERS, row, "type")]  # its values are not blamed


def test_a_changed_type_on_the_modifier_and_its_values_is_still_reported_on_the_modifier(folder):
    def edit(rows):
        type_column, modifier = csv_column(rows, "type"), csv_column(rows, "modifier_id")
        for r in rows[1:]:
            if r[modifier] == "1013":
                r[type_column] = "radio_buttons"

    edit_csv(folder, MODIFIERS, edit)
    edit_csv(folder, VALUES, edit)
    issues = validate_file(folder).issues
    assert {(i.sheet, i.column) for i in issues} == {(MODIFIERS, "type")}
    assert "cannot change" in issues[0].message


def test_a_value_moved_under_another_modifier_is_an_issue_on_its_modifier_id(xlsx, frames):
    other = int(frames.values.loc[frames.values["type"].eq("dropdown") & frames.values["modifier_id"].ne(1013),
                                  "modifier_id"].iloc[0])

    def edit(wb):
        ws = wb[VALUES]
        row = _ws_row(ws, value_id=1015)
        set_cell(ws, row, "modifier_id", other)
        return row

    row = edit_xlsx(xlsx, edit)
    issue = find_issue(validate_file(xlsx).issues, sheet=VALUES, row=row, column="modifier_id",
                       words=["belongs to modifier 1013", "cannot move", "delete"])
    assert issue.value == str(other)


@pytest.mark.parametrize(("sheet", "key", "column", "words"), [
    (MODIFIERS, {"modifier_id": 1013}, "product_sku", ["read-only", "product"]),
    (MODIFIERS, {"modifier_id": 1013}, "product_name", ["read-only"]),
    (VALUES, {"value_id": 1015}, "product_sku", ["read-only"]),
    (VALUES, {"value_id": 1015}, "display_name", ["only names its modifier"]),
    (VALUES, {"value_id": 1015}, "type", ["read-only", "modifier's"]),
])
def test_an_edit_in_a_read_only_column_is_an_issue_on_its_cell(xlsx, folder, sheet, key, column, words):
    new = "radio_buttons" if column == "type" else "Edited by hand"

    def edit_book(wb):
        ws = wb[sheet]
        row = _ws_row(ws, **key)
        set_cell(ws, row, column, new)
        return row

    row = edit_xlsx(xlsx, edit_book)
    find_issue(validate_file(xlsx).issues, sheet=sheet, row=row, column=column, words=words)

    def edit_rows(rows):
        row = _csv_row(rows, **{k: str(v) for k, v in key.items()})
        rows[row - 1][csv_column(rows, column)] = new
        return row

    row = edit_csv(folder, sheet, edit_rows)
    find_issue(validate_file(folder).issues, sheet=sheet, row=row, column=column, words=words)


def test_a_value_row_following_its_renamed_modifier_is_fine(xlsx):
    def edit(wb):
        ws = wb[MODIFIERS]
        set_cell(ws, _ws_row(ws, modifier_id=1013), "display_name", "Fabric")
        values = wb[VALUES]
        set_cell(values, _ws_row(values, value_id=1015), "display_name", "Fabric")

    edit_xlsx(xlsx, edit)
    assert validate_file(xlsx).issues == []


def test_a_duplicate_label_is_reported_on_the_row_that_was_edited(xlsx):
    def edit(wb):
        ws = wb[VALUES]
        later = _ws_row(ws, value_id=1016)
        label = ws.cell(later, column_of(ws, "label")).value
        earlier = _ws_row(ws, value_id=1015)
        set_cell(ws, earlier, "label", label)  # the earlier row now repeats the later, untouched one
        return earlier, later

    earlier, later = edit_xlsx(xlsx, edit)
    issues = validate_file(xlsx).issues
    assert [(i.row, i.column) for i in issues] == [(earlier, "label")]
    assert f"row {later}" in issues[0].message


def test_a_new_value_row_takes_its_type_from_its_modifier(xlsx):
    def edit(wb):
        ws = wb[VALUES]
        row = ws.max_row + 1
        for name, item in {"product_id": ws.cell(_ws_row(ws, value_id=1015), column_of(ws, "product_id")).value,
                           "modifier_id": 1013, "display_name": "Material", "label": "Brand new",
                           "sort_order": 99}.items():
            set_cell(ws, row, name, item)

    edit_xlsx(xlsx, edit)
    outcome = validate_file(xlsx)
    assert outcome.issues == []
    sheet = outcome.sheets[VALUES]
    assert sheet.loc[sheet["label"].eq("Brand new").fillna(False), "type"].tolist() == ["dropdown"]


def test_a_workbook_exported_before_the_record_still_validates(xlsx):
    def edit(wb):
        meta = wb[META_SHEET]
        column = column_of(meta, "fingerprint")
        for row in range(2, meta.max_row + 1):
            cell = meta.cell(row, column)
            if isinstance(cell.value, str):
                cell.value = cell.value.split("|", 1)[0]
        ws = wb[MODIFIERS]
        set_cell(ws, _ws_row(ws, modifier_id=1013), "product_sku", "Edited")  # not known to be read-only edits
        values = wb[VALUES]
        set_cell(values, _ws_row(values, value_id=1014), "label", 17)

    edit_xlsx(xlsx, edit)
    assert validate_file(xlsx).issues == []


# --- item 5: spreadsheet damage ---------------------------------------------------------------------------


@pytest.mark.parametrize("label", list(FRAGILE))
def test_a_label_a_spreadsheet_rewrote_in_the_workbook_is_refused_with_the_exported_text(xlsx, label):
    cell, _, cause = FRAGILE[label]

    def edit(wb):
        ws = wb[VALUES]
        row = _ws_row(ws, label=label)
        set_cell(ws, row, "label", cell)  # a number, date or boolean cell, as Excel leaves it
        return row

    row = edit_xlsx(xlsx, edit)
    issues = validate_file(xlsx).issues
    issue = find_issue(issues, sheet=VALUES, row=row, column="label", words=[cause, repr(label),
                                                                              "--accept-excel-changes"])
    assert len(issues) == 1, issues
    assert issue.value not in (None, label)
    assert validate_file(xlsx, accept_excel_changes=True).issues == []
    with accepting_excel_changes():
        assert validate_file(xlsx).issues == []


@pytest.mark.parametrize("label", list(FRAGILE))
def test_a_label_a_spreadsheet_rewrote_in_a_csv_file_is_refused(folder, label):
    _, text, cause = FRAGILE[label]

    def edit(rows):
        row = _csv_row(rows, label=label)
        rows[row - 1][csv_column(rows, "label")] = text
        return row

    row = edit_csv(folder, VALUES, edit)
    issues = validate_file(folder).issues
    find_issue(issues, sheet=VALUES, row=row, column="label", words=[cause, repr(label)])
    assert len(issues) == 1, issues
    assert validate_file(folder, accept_excel_changes=True).issues == []


def test_a_person_typing_another_label_over_fragile_text_is_an_edit(folder):
    edit_csv(folder, VALUES, lambda rows: rows[_csv_row(rows, label="0017") - 1].__setitem__(
        csv_column(rows, "label"), "18"))
    assert validate_file(folder).issues == []


def test_a_product_sku_a_spreadsheet_rewrote_is_harmless_not_an_issue(tmp_path, frames):
    frames = type(frames)(frames.modifiers.copy(), frames.values.copy(), frames.extras)
    frames.modifiers["product_sku"] = frames.modifiers["product_sku"].mask(
        frames.modifiers["product_id"].eq(frames.modifiers["product_id"].iloc[0]), "000123")
    frames.values["product_sku"] = frames.values["product_sku"].mask(
        frames.values["product_id"].eq(frames.modifiers["product_id"].iloc[0]), "000123")
    folder = write_csv(frames, tmp_path / "csv", META)
    for sheet in ("Date modifiers", "Product list values"):
        edit_csv(folder, sheet, lambda rows: [r.__setitem__(csv_column(rows, "product_sku"), "123")
                                              for r in rows[1:] if r[csv_column(rows, "product_sku")] == "000123"])
    assert validate_file(folder).issues == []


def test_the_record_is_small(xlsx):
    book = openpyxl.load_workbook(xlsx, read_only=True)
    cells = [row[0] for row in book[META_SHEET].iter_rows(min_row=2, min_col=7, max_col=7, values_only=True)
             if row[0]]
    book.close()
    plain = [c for c in cells if "{" not in c]
    assert max(len(c) for c in plain) <= 16 + 1 + 24 + 1 + 10 + 1 + 20 + 1


def test_bcmod_validate_refuses_the_damage_and_accepts_it_with_the_flag(folder):
    from typer.testing import CliRunner

    from pipeline.cli.main import app

    edit_csv(folder, VALUES, lambda rows: rows[_csv_row(rows, label="0017") - 1].__setitem__(
        csv_column(rows, "label"), "17"))
    refused = CliRunner().invoke(app, ["validate", "--offline", "--json", str(folder)])
    assert refused.exit_code == 1, refused.output
    assert "leading zeros" in refused.output
    accepted = CliRunner().invoke(app, ["validate", "--offline", "--accept-excel-changes", str(folder)])
    assert accepted.exit_code == 0, accepted.output


def test_plan_and_apply_offer_the_flag():
    from typer.testing import CliRunner

    from pipeline.cli.main import app

    for command in ("plan", "apply"):
        shown = CliRunner().invoke(app, [command, "--help"], env={"COLUMNS": "200"})
        assert "--accept-excel-changes" in shown.output
